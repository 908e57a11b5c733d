"""Load and faults, nothing lost (issue 8).

Runs at least 10,000 invocations of each function with CloudTrail records
(the real ones of ../shared/data/cloudtrail, or, where that folder is
absent, the project's scenario; it says which) through cargo-lambda's runtime emulator, publishing to a moto SNS
through a fault-injecting proxy that fails (HTTP 500) or throttles (HTTP 400
Throttling) a share of Publish calls. Each record gets a unique eventID per
invocation, so every alert can be traced to its invocation. Expected alerts
come from `trailwatch replay` (the library, not the functions) on the same
records. At the end, for every expected alert: it was delivered (it reached
the SQS queue subscribed to the topic), or its invocation failed (so that
AWS would retry it). Prints and asserts the counts.

With --state the functions keep state in a DynamoDB table (moto's, served
one request at a time, see trailwatch_local.SERIAL_MOTO), and every failed
invocation is retried, as AWS retries it, until it succeeds. The records'
times are moved into the last hour (keeping their order), so that the
functions' wall clock and replay's record clock agree. Expected: what
`trailwatch replay` publishes (one alert per rule and dedup key, thresholds),
per rule; delivered: what reached the queue. Asserted: nothing lost, nothing
sent twice, though retries repeat the invocations whose alerts went out
before their failure.
"""
import argparse
import collections
import concurrent.futures
import http.client
import http.server
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trailwatch_local import (bodies, create, create_state_table, demo_records, eventbridge_event,  # noqa: E402
                              invoke, logs_payload, start_function, start_moto, stop, trailwatch_bin)


class Faults:
    """Counts and decides the fate of Publish calls."""

    def __init__(self, fail, throttle, seed):
        self.fail, self.throttle = fail, throttle
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = collections.Counter()

    def decide(self):
        with self.lock:
            r = self.rng.random()
            fate = "fail" if r < self.fail else "throttle" if r < self.fail + self.throttle else "pass"
            self.counts[fate] += 1
            return fate


def proxy(upstream_port, faults):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if b"Action=Publish" in body:
                fate = faults.decide()
                if fate != "pass":
                    code, err = (500, "InternalFailure") if fate == "fail" else (400, "Throttling")
                    payload = (f'<ErrorResponse><Error><Type>Sender</Type><Code>{err}</Code>'
                               f'<Message>injected by the load test</Message></Error>'
                               f'<RequestId>load</RequestId></ErrorResponse>').encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--invocations", type=int, default=10_000)
    ap.add_argument("--fail", type=float, default=0.25, help="share of Publish calls answered 500")
    ap.add_argument("--throttle", type=float, default=0.10, help="share answered 400 Throttling")
    ap.add_argument("--workers", type=int, default=4, help="function instances per function")
    ap.add_argument("--state", action="store_true", help="state in DynamoDB, failed invocations retried: exactly once")
    a = ap.parse_args()
    if a.state:
        return main_state(a)

    tmp = tempfile.mkdtemp(prefix="trailwatch-load-")
    events_file = os.path.join(tmp, "events.jsonl")
    records, description = demo_records()
    print(f"load: {len(records):,} records: {description}", flush=True)
    base = [eventbridge_event(r) for r in records]
    # Invocation i carries record i mod len(records) with a unique eventID.
    events = []
    for i in range(a.invocations):
        e = json.loads(json.dumps(base[i % len(base)]))
        e["detail"]["eventID"] = f"{e['detail'].get('eventID', 'x')}-{i}"
        events.append(e)
    with open(events_file, "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    replay = subprocess.run([trailwatch_bin(), "replay", "--no-state", events_file],
                            capture_output=True, text=True, check=True)
    expected = collections.Counter()
    for line in replay.stdout.splitlines():
        alert = json.loads(line)
        expected[(alert["rule_id"], alert["event_id"])] += 1
    by_event = collections.defaultdict(list)
    for key in expected:
        by_event[key[1]].append(key)

    procs = []
    log = open(os.path.join(tmp, "functions.log"), "w")
    results = {}
    try:
        moto, moto_endpoint = start_moto()
        procs.append(moto)
        sqs, topic, queue = create(moto_endpoint)
        ids = {"topic": topic, "queue": queue}
        faults = Faults(a.fail, a.throttle, seed=20261124)
        px = proxy(int(moto_endpoint.rsplit(":", 1)[1]), faults)
        endpoint = f"http://127.0.0.1:{px.server_address[1]}"

        for function, binary, wrap in [
            ("eventbridge", "trailwatch-eventbridge", lambda e: e),
            ("logs", "trailwatch-logs", lambda e: logs_payload([e["detail"]], "/aws/cloudtrail/load", "load")),
        ]:
            # Two attempts per Publish (the SDK's default is three): more injected
            # faults reach the function, and the run stays short.
            ports = [start_function(binary, endpoint, ids["topic"], procs, log, TRAILWATCH_LOG="warn",
                                    AWS_MAX_ATTEMPTS="2") for _ in range(a.workers)]
            start = time.time()
            with concurrent.futures.ThreadPoolExecutor(max_workers=a.workers) as pool:
                oks = list(pool.map(lambda ie: invoke(ports[ie[0] % len(ports)], wrap(ie[1]))[0], enumerate(events)))
            elapsed = time.time() - start
            delivered = collections.Counter()
            for body in bodies(sqs, ids["queue"]):
                alert = json.loads(body["Message"])
                delivered[(alert["rule_id"], alert["event_id"])] += 1
            failed_events = {events[i]["detail"]["eventID"] for i, ok in enumerate(oks) if not ok}
            in_failed = sum(len(by_event[ev]) for ev in failed_events)
            lost = [k for k in expected if k not in delivered and k[1] not in failed_events]
            unexpected = [k for k in delivered if k not in expected]
            dup_ok = [k for k, n in delivered.items() if n > 1 and k[1] not in failed_events]
            results[function] = dict(invocations=len(events), seconds=round(elapsed, 1),
                                     failed_invocations=len(failed_events), alerts_expected=sum(expected.values()),
                                     alerts_delivered=sum(delivered.values()),
                                     alerts_in_failed_invocations=in_failed, lost=len(lost),
                                     unexpected=len(unexpected), duplicated=len(dup_ok),
                                     publish_calls=dict(faults.counts))
            print(f"{function}: {json.dumps(results[function])}", flush=True)
            faults.counts.clear()
            assert not lost, f"{function}: alerts lost: {lost[:5]}"
            assert not unexpected, f"{function}: alerts nobody expected: {unexpected[:5]}"
            assert not dup_ok, f"{function}: duplicates from successful invocations: {dup_ok[:5]}"
            assert len(failed_events) > 0, f"{function}: no invocation failed: inject more faults"
            assert sum(delivered.values()) + in_failed >= sum(expected.values())
    finally:
        stop(procs)
    print("load: every expected alert was delivered or its invocation failed (AWS would retry it)")
    print(json.dumps(results, indent=2))


def alert_rules(alert):
    """The rules an alert stands for: its own and those folded into it."""
    return [alert["rule_id"], *alert.get("folded", [])]


def main_state(a):
    tmp = tempfile.mkdtemp(prefix="trailwatch-load-state-")
    events_file = os.path.join(tmp, "events.jsonl")
    records, description = demo_records()
    print(f"load --state: {len(records):,} records: {description}", flush=True)
    base = [eventbridge_event(r) for r in records]
    now = time.time()
    events = []
    for i in range(a.invocations):
        e = json.loads(json.dumps(base[i % len(base)]))
        e["detail"]["eventID"] = f"{e['detail'].get('eventID', 'x')}-{i}"
        at = now - 72_000 + 70_000 * i / a.invocations
        e["detail"]["eventTime"] = e["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        events.append(e)
    with open(events_file, "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    replay = subprocess.run([trailwatch_bin(), "replay", events_file], capture_output=True, text=True, check=True)
    # A step alert folded into the sequence alert it completed is delivered
    # as part of it (its rule id in `folded`): which step alerts fold
    # depends on the arrival order, that each is delivered once does not.
    expected = collections.Counter(r for line in replay.stdout.splitlines() for r in alert_rules(json.loads(line)))

    procs = []
    log = open(os.path.join(tmp, "functions.log"), "w")
    results = {}
    try:
        moto, moto_endpoint = start_moto(serial=True)
        procs.append(moto)
        sqs, topic, queue = create(moto_endpoint)
        faults = Faults(a.fail, a.throttle, seed=20261201)
        px = proxy(int(moto_endpoint.rsplit(":", 1)[1]), faults)
        endpoint = f"http://127.0.0.1:{px.server_address[1]}"
        for function, binary, wrap in [
            ("eventbridge", "trailwatch-eventbridge", lambda e: e),
            ("logs", "trailwatch-logs", lambda e: logs_payload([e["detail"]], "/aws/cloudtrail/load", "load")),
        ]:
            table = create_state_table(moto_endpoint, f"trailwatch-state-{function}")
            ports = [start_function(binary, endpoint, topic, procs, log, TRAILWATCH_LOG="warn", AWS_MAX_ATTEMPTS="2",
                                    TRAILWATCH_STATE_TABLE=table) for _ in range(a.workers)]
            start = time.time()
            pending, rounds, retried = list(range(len(events))), 0, 0
            with concurrent.futures.ThreadPoolExecutor(max_workers=a.workers) as pool:
                while pending and rounds < 30:
                    oks = list(pool.map(lambda i: invoke(ports[i % len(ports)], wrap(events[i]))[0], pending))
                    pending = [i for i, ok in zip(pending, oks) if not ok]
                    retried += len(pending)
                    rounds += 1
            elapsed = time.time() - start
            delivered = collections.Counter()
            per_event = collections.Counter()
            for body in bodies(sqs, queue):
                alert = json.loads(body["Message"])
                for rule in alert_rules(alert):
                    delivered[rule] += 1
                per_event[(alert["rule_id"], alert["event_id"])] += 1
            lost = {r: n - delivered[r] for r, n in expected.items() if delivered[r] < n}
            extra = {r: n - expected[r] for r, n in delivered.items() if n > expected[r]}
            twice = [k for k, n in per_event.items() if n > 1]
            results[function] = dict(invocations=len(events), retried_invocations=retried, retry_rounds=rounds,
                                     never_succeeded=len(pending), seconds=round(elapsed, 1),
                                     alerts_expected=sum(expected.values()), alerts_delivered=sum(delivered.values()),
                                     lost=sum(lost.values()), duplicated=sum(extra.values()) + len(twice),
                                     publish_calls=dict(faults.counts))
            print(f"{function} --state: {json.dumps(results[function])}", flush=True)
            faults.counts.clear()
            assert not pending, f"{function}: {len(pending)} invocations never succeeded"
            assert retried > 0, f"{function}: no invocation failed: inject more faults"
            assert not lost, f"{function}: alerts lost: {lost}"
            assert not extra and not twice, f"{function}: alerts sent twice: {extra} {twice[:5]}"
    finally:
        stop(procs)
    print("load --state: every expected alert delivered exactly once, failed invocations retried")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
