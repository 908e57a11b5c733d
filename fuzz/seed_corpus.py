#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (fuzz/corpus/<target>/, gitignored),
from the project's own data: the conformance suites, the built-in rules and
the real CloudTrail records. Run from anywhere; idempotent."""
import base64
import glob
import gzip
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def put(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def records():
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "data/cloudtrail/**/*.json"), recursive=True)):
        with open(path) as f:
            doc = json.load(f)
        out.extend(doc["Records"] if isinstance(doc, dict) else doc)
    return out


def main():
    recs = records()
    # event_pattern: pattern NUL event
    with open(os.path.join(ROOT, "shared/tests/data/event-patterns.json")) as f:
        for case in json.load(f):
            p = case["pattern"] if isinstance(case["pattern"], str) else json.dumps(case["pattern"])
            e = case.get("event")
            e = e if isinstance(e, str) else json.dumps(e)
            put("event_pattern", p + "\0" + (e or "{}"))
    # filter_pattern: pattern NUL message NUL message ...
    with open(os.path.join(ROOT, "shared/tests/data/filter-patterns.json")) as f:
        for case in json.load(f):
            msgs = [m if isinstance(m, str) else json.dumps(m) for m in case.get("messages", [])]
            put("filter_pattern", "\0".join([case["pattern"]] + msgs[:4]))
    with open(os.path.join(ROOT, "shared/tests/data/filter/cis-cloudwatch.json")) as f:
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
        data = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "g", "logStream": "s",
                "subscriptionFilters": ["f"],
                "logEvents": [{"id": str(n), "timestamp": 0, "message": json.dumps(r, separators=(",", ":"))}
                              for n, r in enumerate(chunk)]}
        raw = json.dumps(data, separators=(",", ":")).encode()
        put("envelope", raw)
        put("envelope", gzip.compress(raw, mtime=0))
        b64 = base64.b64encode(gzip.compress(raw, mtime=0)).decode()
        put("envelope", json.dumps({"awslogs": {"data": b64}}))
        put("envelope", json.dumps({"Records": [{"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p",
            "sequenceNumber": "1", "data": b64, "approximateArrivalTimestamp": 1.0}, "eventSource": "aws:kinesis",
            "eventVersion": "1.0", "eventID": "x", "eventName": "aws:kinesis:record", "invokeIdentityArn": "a",
            "awsRegion": "us-east-1", "eventSourceARN": "a"}]}))
        put("envelope", json.dumps({"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.iam", "account": "1", "time": "t", "region": "us-east-1", "resources": [],
            "detail": chunk[0]}))
        put("envelope", json.dumps({"Records": chunk}))
        put("envelope", "\n".join(json.dumps(r) for r in chunk) + "\n{broken\n")


if __name__ == "__main__":
    main()
