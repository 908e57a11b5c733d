#!/usr/bin/env python3
"""Figures of `trailwatch backfill` (issue 16) against a local moto server.

Uploads N small log files (default 2,000: 2 accounts x 2 Regions x 10 days
x 50 files, each 5 records of the project's scenario, plus one digest per
account, Region and day) under an organization trail's key layout, then
times, best of --repeat runs each:

- `backfill` of an empty prefix (start-up, one list call, the queue's depth);
- `backfill --since 2100-01-01` of the whole prefix: every key listed, none
  kept (the listing alone);
- `backfill` of the whole prefix (listing and enqueuing every file);
- `backfill --since/--until` (3 of the 10 days) without and with
  `--account/--region`: keys listed and skipped, list calls;
- `replay s3://` of the whole prefix (every file read and matched).

moto's request log counts the calls (ListObjectsV2, SQS, GetObject); the
CPU seconds are the trailwatch process's own. On loopback against moto the
times bound the client's overhead and moto's, not AWS's: see
bench/RESULTS.md, "Backfill (issue 16)".

    cargo build --release -p trailwatch-cli
    .venv/bin/python scripts/backfill_figures.py [--files 2000] [--repeat 3]
"""

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no scripts/__pycache__ from the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trailwatch_local as local  # noqa: E402

BUCKET = "org-trail-logs"
ORG = "o-exampleorgid"
ACCOUNTS = ["111122223333", "444455556666"]
REGIONS = ["us-east-1", "eu-west-1"]
DAYS = [f"2026-11-{d:02d}" for d in range(21, 31)]


def log_files(n, records):
    """{key: gzip'd body}: n log files spread over the accounts, Regions and
    days, 5 records each, and one digest per account, Region and day."""
    groups = [(a, r, d) for a in ACCOUNTS for r in REGIONS for d in DAYS]
    files = {}
    for i in range(n):
        account, region, day = groups[i % len(groups)]
        j = i // len(groups)
        folder = f"AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day.replace('-', '/')}"
        stamp = f"{day.replace('-', '')}T{j // 12 % 24:02d}{j % 12 * 5:02d}Z"
        recs = []
        for k in range(5):
            r = dict(records[(i * 5 + k) % len(records)])
            r.update(recipientAccountId=account, awsRegion=region, eventID=f"bf-{i}-{k}",
                     eventTime=f"{day}T{j // 12 % 24:02d}:{j % 12 * 5:02d}:{k:02d}Z")
            recs.append(r)
        body = gzip.compress(json.dumps({"Records": recs}, separators=(",", ":")).encode(), mtime=0)
        files[f"{folder}/{account}_CloudTrail_{region}_{stamp}_{i:016x}.json.gz"] = body
    for account, region, day in groups:
        folder = f"AWSLogs/{ORG}/{account}/CloudTrail-Digest/{region}/{day.replace('-', '/')}"
        files[f"{folder}/{account}_CloudTrail-Digest_{region}_trail_{region}_{day.replace('-', '')}T2359Z.json.gz"] = \
            gzip.compress(b'{"awsAccountId": "%s", "logFiles": []}' % account.encode(), mtime=0)
    return files


def calls(lines):
    """Requests in moto's log lines, by kind."""
    out = {"ListObjectsV2": 0, "GetObject": 0, "SQS": 0}
    for line in lines:
        if "list-type=2" in line:
            out["ListObjectsV2"] += 1
        elif '"GET /' + BUCKET + "/" in line:
            out["GetObject"] += 1
        elif '"POST / ' in line:
            out["SQS"] += 1
    return out


def run(binary, args, env, log):
    """One trailwatch run: (wall seconds, CPU seconds, stderr, calls)."""
    with open(log) as f:
        f.seek(0, os.SEEK_END)
        start_offset = f.tell()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run([binary, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"trailwatch {' '.join(args)} failed ({p.returncode}): {p.stderr[-2000:]}")
    time.sleep(0.2)  # moto writes its log line after answering
    with open(log) as f:
        f.seek(start_offset)
        lines = f.readlines()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stderr, calls(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--log", default=os.path.join(local.TARGET, "backfill-moto.log"))
    opts = ap.parse_args()
    binary = local.trailwatch_bin("release")
    import boto3

    moto, endpoint = local.start_moto(log=opts.log)
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, **local.AWS_KW)
        sqs = boto3.client("sqs", endpoint_url=endpoint, **local.AWS_KW)
        s3.create_bucket(Bucket=BUCKET)
        files = log_files(opts.files, local.scenario_records())
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda kv: s3.put_object(Bucket=BUCKET, Key=kv[0], Body=kv[1]), files.items()))
        print(f"uploaded {len(files)} objects ({opts.files} log files, "
              f"{sum(map(len, files.values())):,} bytes) in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
                   AWS_REGION="us-east-1")
        base = f"s3://{BUCKET}/AWSLogs/{ORG}/"
        three_days = ["--since", DAYS[-3], "--until", DAYS[-1]]
        cases = [
            ("empty prefix", ["backfill", f"s3://{BUCKET}/nothing/"]),
            ("list only (--since 2100-01-01)", ["backfill", base, "--since", "2100-01-01"]),
            ("whole prefix", ["backfill", base]),
            ("3 days (--since/--until)", ["backfill", base, *three_days]),
            ("3 days, one account and Region",
             ["backfill", base, *three_days, "--account", ACCOUNTS[0], "--region", REGIONS[0]]),
            ("replay s3:// (--concurrency 8)", ["replay", base, "--concurrency", "8"]),
        ]
        results = []
        for name, args in cases:
            best = None
            for n in range(opts.repeat):
                extra = []
                if args[0] == "backfill":
                    queue = sqs.create_queue(QueueName=f"bf-{len(results)}-{n}")["QueueUrl"]
                    extra = ["--queue", queue]
                wall, cpu, err, counted = run(binary, args + extra, env, opts.log)
                if args[0] == "backfill":
                    depth = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
                    counted["enqueued"] = int(depth["Attributes"]["ApproximateNumberOfMessages"])
                if best is None or wall < best["wall"]:
                    best = {"case": name, "wall": round(wall, 3), "cpu": round(cpu, 3), **counted,
                            "args": " ".join(args)}
            results.append(best)
            print(json.dumps(best), flush=True)
        t = {r["case"]: r for r in results}
        empty, listed, full = t["empty prefix"], t["list only (--since 2100-01-01)"], t["whole prefix"]
        n = full["enqueued"]
        list_s = listed["wall"] - empty["wall"]
        send_s = full["wall"] - listed["wall"]
        summary = {
            "log_files": n,
            "keys_listed": len(files),
            "keys_listed_per_s": round(len(files) / list_s) if list_s > 0 else None,
            "messages_enqueued_per_s": round(n / send_s) if send_s > 0 else None,
            "whole_backfill_files_per_s": round(n / full["wall"]),
            "replay_files_per_s": round(n / t["replay s3:// (--concurrency 8)"]["wall"]),
            "cpu_ms_per_file_enqueued": round((full["cpu"] - listed["cpu"]) * 1000 / n, 3) if n else None,
        }
        print(json.dumps(summary))
    finally:
        local.stop([moto])


if __name__ == "__main__":
    main()
