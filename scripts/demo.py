"""trailwatch demo: CloudTrail records through the three Lambda functions
(EventBridge, CloudWatch Logs, S3), on local stand-ins for AWS, with
nothing but this machine.

The records: the real ones of ../shared/data/cloudtrail when that folder is
there (CI, the project's machines), else the attack scenario the project
ships (data/scenario/, written by scripts/scenario.py). `--data` chooses.

1. starts a moto server on 127.0.0.1 (SNS, SQS, S3, DynamoDB), with the
   alert topic and an SQS queue subscribed to it;
2. serves each built function (target/debug, `make build-debug`) under
   cargo-lambda's runtime emulator, pointed at moto through
   AWS_ENDPOINT_URL;
3. sends every record to the EventBridge function (one EventBridge event per
   invocation, as AWS delivers them) and to the logs function (gzip'd
   CloudWatch Logs subscription payloads); writes them as an organization
   trail's gzip'd log files (with digest files) into a moto bucket,
   publishes CloudTrail's delivery notification for each file to an SNS
   topic whose SQS queue feeds the S3 function, and invokes the S3
   function with what reached the queue (batches of 10 messages, as the
   event source mapping would);
4. reads the alerts back from the queue and shows them, which of the pack's
   alert rules fired, and the metrics the functions wrote (CloudWatch
   Embedded Metric Format);
5. stops what it started.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trailwatch_local import create_state_table  # noqa: E402
from trailwatch_local import (ROOT, bodies, create, demo_records, eventbridge_event, invoke,  # noqa: E402
                              logs_payload, start_function, start_moto, stop, trail_delivery, trail_files,
                              trailwatch_bin)

OUT = os.path.join(ROOT, ".demo")
LOGS_BATCH = 500
PATHS = ("eventbridge", "logs", "s3")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=["auto", "shared", "scenario"], default="auto",
                    help="the real records of ../shared (auto: when present) or the project's scenario")
    a = ap.parse_args()
    records, description = demo_records(a.data)
    print(f"data: {len(records):,} records: {description}")
    os.makedirs(OUT, exist_ok=True)

    procs = []
    logs = {}
    try:
        moto, endpoint = start_moto()
        procs.append(moto)
        sqs, topic, queue = create(endpoint)
        print(f"moto (SNS, SQS, S3, DynamoDB) on {endpoint}: topic {topic}")
        ports = {}
        for path in PATHS:
            logs[path] = os.path.join(OUT, f"{path}.log")
            # Each function its own state table (DynamoDB in moto): dedup,
            # thresholds, exactly-once alerts; lateness judged on the
            # records' own time, as for a backfill of history.
            table = create_state_table(endpoint, f"trailwatch-demo-{path}")
            ports[path] = start_function(f"trailwatch-{path}", endpoint, topic, procs, log=open(logs[path], "w"),
                                         TRAILWATCH_STATE_TABLE=table, TRAILWATCH_CLOCK="records")
        print("the three functions under cargo lambda's emulator, state in DynamoDB (moto): "
              + ", ".join(f"{p} on 127.0.0.1:{port}" for p, port in ports.items()))

        by_path = {}
        start = time.time()
        failed = sum(not invoke(ports["eventbridge"], eventbridge_event(r))[0] for r in records)
        by_path["eventbridge"] = list(bodies(sqs, queue))
        print(f"EventBridge function: {len(records)} invocations in {time.time() - start:.0f} s"
              + (f", {failed} failed" if failed else ""))
        start = time.time()
        batches = [records[i:i + LOGS_BATCH] for i in range(0, len(records), LOGS_BATCH)]
        failed = sum(not invoke(ports["logs"], logs_payload(b, "/aws/cloudtrail/demo", "demo"))[0] for b in batches)
        by_path["logs"] = list(bodies(sqs, queue))
        print(f"logs function: {len(batches)} subscription payloads ({len(records)} records) in "
              f"{time.time() - start:.0f} s" + (f", {failed} failed" if failed else ""))
        start = time.time()
        files = trail_files(records)
        events = trail_delivery(endpoint, "trailwatch-demo-trail", files)
        retried, failed = 0, 0
        for event in events:
            ok, response = invoke(ports["s3"], event)
            failed += not ok
            retried += len(response.get("batchItemFailures", [])) if isinstance(response, dict) else 0
        by_path["s3"] = list(bodies(sqs, queue))
        digests = sum("/CloudTrail-Digest/" in k for k in files)
        print(f"S3 function: {len(files) - digests} gzip'd log files and {digests} digest files in a moto bucket "
              f"(org layout), {sum(len(e['Records']) for e in events)} delivery notifications through SNS to SQS, "
              f"{len(events)} SQS invocations in {time.time() - start:.0f} s"
              + (f", {failed} failed" if failed else "") + (f", {retried} messages to retry" if retried else ""))
        time.sleep(0.5)
    finally:
        stop(procs)
        print("stopped moto and the emulators")
    report(by_path, logs)
    without_dedup(records)


def without_dedup(records):
    """The alert volume without dedup: every match, as `trailwatch replay
    --no-dedup` prints it on the same records."""
    path = os.path.join(OUT, "records.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"Records": records}, f)
    every = subprocess.run([trailwatch_bin(), "replay", "--no-dedup", path], capture_output=True, text=True, check=True)
    deduped = subprocess.run([trailwatch_bin(), "replay", path], capture_output=True, text=True, check=True)
    print(f"\nAlert volume: {len(deduped.stdout.splitlines())} with dedup (what the functions sent above, per path), "
          f"{len(every.stdout.splitlines())} without (one per match: `trailwatch replay --no-dedup`)")


def pack_alert_rules():
    """The ids of the built-in pack's alert rules (`trailwatch rules list --json`)."""
    out = subprocess.run([trailwatch_bin(), "rules", "list", "--json"], capture_output=True, text=True, check=True)
    return {r["id"] for r in map(json.loads, out.stdout.splitlines()) if r["action"] == "alert"}


def report(by_path, logs):
    print("\nAlerts received from SNS (through the SQS subscriber), per rule and path:")
    rules = collections.defaultdict(collections.Counter)
    severity = {}
    for path, messages in by_path.items():
        for m in messages:
            alert = json.loads(m["Message"])
            rules[alert["rule_id"]][path] += 1
            severity[alert["rule_id"]] = alert["severity"]
    print(f"  {'rule':<46} {'severity':<9} {'eventbridge':>11} {'logs':>6} {'s3':>6}")
    for rule in sorted(rules, key=lambda r: (-sum(rules[r].values()), r)):
        print(f"  {rule:<46} {severity[rule]:<9} {rules[rule]['eventbridge']:>11} {rules[rule]['logs']:>6}"
              f" {rules[rule]['s3']:>6}")
    totals = {p: len(ms) for p, ms in by_path.items()}
    print(f"  {'total':<46} {'':<9} {totals.get('eventbridge', 0):>11} {totals.get('logs', 0):>6}"
          f" {totals.get('s3', 0):>6}")
    pack = pack_alert_rules()
    fired = set(rules) & pack
    print(f"\nAlert rules that fired: {len(fired)} of the pack's {len(pack)}"
          + (f"; not fired: {', '.join(sorted(pack - fired))}" if pack - fired else ""))

    print("\nThree of them as they arrive (subject; the e-mail variant carries the readable body):")
    seen = set()
    for m in by_path.get("eventbridge", []):
        alert = json.loads(m["Message"])
        if alert["severity"] in ("critical", "high") and alert["rule_id"] not in seen and len(seen) < 3:
            seen.add(alert["rule_id"])
            print(f"  Subject: {m['Subject']}")
            print("    attributes: " + ", ".join(f"{k}={v['Value']}" for k, v in sorted(m["MessageAttributes"].items())))
            print(f"    who: {alert['actor']}  did: {alert['event_name']}  from: {alert['source_ip']}  at: {alert['event_time']}")

    matches = collections.Counter()
    records = collections.Counter()
    for path in logs.values():
        for line in open(path, encoding="utf-8", errors="replace"):
            line = line.strip()
            if not line.startswith('{"_aws"'):
                continue
            doc = json.loads(line)
            if "RuleId" in doc:
                matches[doc["RuleId"]] += doc["Matches"]
            else:
                records[doc["Function"]] += doc["Records"]
    print("\nMetrics the functions emitted (EMF on stdout; namespace trailwatch):")
    print("  Records: " + ", ".join(f"{f}={n}" for f, n in sorted(records.items())))
    print("  Matches by rule (alert and metric rules, the three functions):")
    for rule, n in matches.most_common():
        print(f"    {rule:<46} {n}")
    print(f"\nFull function logs: {', '.join(os.path.relpath(p, ROOT) for p in logs.values())}")


if __name__ == "__main__":
    main()
