#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (fuzz/corpus/<target>/, gitignored),
from the conformance suites, the built-in rules, the project's scenario
(data/scenario/) and the real CloudTrail records of ../shared/data/cloudtrail
(TRAILWATCH_SHARED: the shared folder) when that folder is there; it says
which records it used. Run from anywhere; idempotent."""
import glob
import gzip
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TESTDATA = os.path.join(ROOT, "shared", "engine", "tests", "data")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from trailwatch_local import awslogs, cloudtrail_dir, eventbridge_event, load_records, logs_data, scenario_records  # noqa: E402


def put(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def records():
    """The real records (when the shared folder is there), then the scenario's."""
    real = cloudtrail_dir(optional=True)
    out = load_records(real) if real else []
    scenario = scenario_records()
    print(f"seed_corpus: records from {real + ' and ' if real else ''}data/scenario "
          f"({len(out) + len(scenario)} records)" + ("" if real else "; ../shared/data/cloudtrail not found"))
    return out + scenario


def main():
    recs = records()
    # event_pattern: pattern NUL event
    with open(os.path.join(TESTDATA, "event-patterns.json")) as f:
        for case in json.load(f):
            p = case["pattern"] if isinstance(case["pattern"], str) else json.dumps(case["pattern"])
            e = case.get("event")
            e = e if isinstance(e, str) else json.dumps(e)
            put("event_pattern", p + "\0" + (e or "{}"))
    # filter_pattern: pattern NUL message NUL message ...
    with open(os.path.join(TESTDATA, "filter-patterns.json")) as f:
        for case in json.load(f):
            msgs = [m if isinstance(m, str) else json.dumps(m) for m in case.get("messages", [])]
            put("filter_pattern", "\0".join([case["pattern"]] + msgs[:4]))
    with open(os.path.join(TESTDATA, "filter", "cis-cloudwatch.json")) as f:
        for i, case in enumerate(json.load(f)):
            put("filter_pattern", case["pattern"] + "\0" + json.dumps(recs[i * 97 % len(recs)], separators=(",", ":")))
    # rule_loader: the built-in rules
    for path in sorted(glob.glob(os.path.join(ROOT, "shared/rules/*.yaml"))):
        with open(path, "rb") as f:
            put("rule_loader", f.read())
    # envelope: logs payloads (gzip'd and inner JSON), EventBridge events,
    # S3 files, JSON lines, a Kinesis event
    for i in range(0, 40):
        chunk = recs[i * 7:i * 7 + 2]
        data = logs_data(chunk, "g", "s")
        raw = json.dumps(data, separators=(",", ":")).encode()
        put("envelope", raw)
        put("envelope", gzip.compress(raw, mtime=0))
        payload = awslogs(data)
        b64 = payload["awslogs"]["data"]
        put("envelope", json.dumps(payload))
        put("envelope", json.dumps({"Records": [{"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p",
            "sequenceNumber": "1", "data": b64, "approximateArrivalTimestamp": 1.0}, "eventSource": "aws:kinesis",
            "eventVersion": "1.0", "eventID": "x", "eventName": "aws:kinesis:record", "invokeIdentityArn": "a",
            "awsRegion": "us-east-1", "eventSourceARN": "a"}]}))
        put("envelope", json.dumps(eventbridge_event(chunk[0])))
        put("envelope", json.dumps({"Records": chunk}))
        put("envelope", "\n".join(json.dumps(r) for r in chunk) + "\n{broken\n")


if __name__ == "__main__":
    main()
