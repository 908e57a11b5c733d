"""trailwatch demo: the real CloudTrail records of data/ through both Lambda
functions, on local stand-ins for AWS, with nothing but this machine.

1. starts a moto server on 127.0.0.1 as the SNS endpoint, with the alert
   topic and an SQS queue subscribed to it;
2. runs both functions in cargo-lambda's emulator (`cargo lambda watch`),
   pointed at moto through AWS_ENDPOINT_URL;
3. sends every record to the EventBridge function (one EventBridge event per
   invocation, as AWS delivers them) and to the logs function (gzip'd
   CloudWatch Logs subscription payloads);
4. reads the alerts back from the queue and shows them, with the metrics
   the functions wrote (CloudWatch Embedded Metric Format);
5. stops what it started.
"""
import base64
import collections
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "bin")
OUT = os.path.join(ROOT, ".demo")
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from moto_ctl import bodies, create, free_port, start_server, wait_port  # noqa: E402


def invoke(port, function, payload):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(payload).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read() or b"null")


def logs_payload(records, log_group):
    data = {"messageType": "DATA_MESSAGE", "owner": records[0].get("recipientAccountId", "000000000000"),
            "logGroup": log_group, "logStream": "demo", "subscriptionFilters": ["trailwatch"],
            "logEvents": [{"id": str(i), "timestamp": 0, "message": json.dumps(r, separators=(",", ":"))}
                          for i, r in enumerate(records)]}
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}}


def main():
    os.makedirs(OUT, exist_ok=True)
    events_file = os.path.join(OUT, "events.jsonl")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_patterns.py"), "--data",
                    os.path.join(ROOT, "data", "cloudtrail"), "--events", events_file], check=True)
    events = [json.loads(line) for line in open(events_file, encoding="utf-8")]
    records = [e["detail"] for e in events]

    procs = []
    try:
        moto, endpoint = start_server(VENV)
        procs.append(moto)
        sqs, topic, queue = create(endpoint)
        print(f"moto (SNS + SQS) on {endpoint}: topic {topic}")

        port = free_port()
        env_vars = ",".join([f"TRAILWATCH_TOPIC_ARN={topic}", f"AWS_ENDPOINT_URL={endpoint}",
                             "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"])
        watch_log = open(os.path.join(OUT, "functions.log"), "w")
        procs.append(subprocess.Popen(
            [os.path.join(VENV, "cargo-lambda"), "lambda", "watch", "--ignore-changes",
             "--invoke-address", "127.0.0.1", "--invoke-port", str(port), "--env-var", env_vars],
            cwd=ROOT, stdout=watch_log, stderr=subprocess.STDOUT, start_new_session=True))
        wait_port(port, "cargo lambda watch")
        print(f"cargo lambda watch (both functions) on 127.0.0.1:{port}")

        by_path = {}
        start = time.time()
        for e in events:
            invoke(port, "trailwatch-eventbridge", e)
        by_path["eventbridge"] = list(bodies(sqs, queue))
        print(f"EventBridge function: {len(events)} invocations in {time.time() - start:.0f} s")
        start = time.time()
        n = 0
        for i in range(0, len(records), 500):
            invoke(port, "trailwatch-logs", logs_payload(records[i:i + 500], "/aws/cloudtrail/demo"))
            n += 1
        by_path["logs"] = list(bodies(sqs, queue))
        print(f"logs function: {n} subscription payloads ({len(records)} records) in {time.time() - start:.0f} s")
        time.sleep(0.5)
        watch_log.flush()
        report(by_path, os.path.join(OUT, "functions.log"))
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM) if p.args[0].endswith("cargo-lambda") else p.terminate()
            except (ProcessLookupError, PermissionError):
                p.terminate()
            p.wait(timeout=30)
        print("stopped moto and the emulator")


def report(by_path, log_file):
    print("\nAlerts received from SNS (through the SQS subscriber), per rule and path:")
    rules = collections.defaultdict(lambda: collections.Counter())
    severity = {}
    for path, messages in by_path.items():
        for m in messages:
            alert = json.loads(m["Message"])
            rules[alert["rule_id"]][path] += 1
            severity[alert["rule_id"]] = alert["severity"]
    print(f"  {'rule':<46} {'severity':<9} {'eventbridge':>11} {'logs':>6}")
    for rule in sorted(rules, key=lambda r: (-sum(rules[r].values()), r)):
        print(f"  {rule:<46} {severity[rule]:<9} {rules[rule]['eventbridge']:>11} {rules[rule]['logs']:>6}")
    totals = {p: len(ms) for p, ms in by_path.items()}
    print(f"  {'total':<46} {'':<9} {totals.get('eventbridge', 0):>11} {totals.get('logs', 0):>6}")
    print("\nThree of them as they arrive (subject; the e-mail variant carries the readable body):")
    seen = set()
    for m in by_path.get("eventbridge", []):
        alert = json.loads(m["Message"])
        if alert["severity"] in ("critical", "high") and alert["rule_id"] not in seen and len(seen) < 3:
            seen.add(alert["rule_id"])
            print(f"  Subject: {m['Subject']}")
            print(f"    attributes: " + ", ".join(f"{k}={v['Value']}" for k, v in sorted(m["MessageAttributes"].items())))
            print(f"    who: {alert['actor']}  did: {alert['event_name']}  from: {alert['source_ip']}  at: {alert['event_time']}")
    matches = collections.Counter()
    records = collections.Counter()
    for line in open(log_file, encoding="utf-8", errors="replace"):
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
    print("  Matches by rule (alert and metric rules, both functions):")
    for rule, n in matches.most_common():
        print(f"    {rule:<46} {n}")
    print(f"\nFull function logs: {log_file}")


if __name__ == "__main__":
    main()
