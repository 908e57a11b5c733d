"""Lambda figures (issue 8): cold-start init duration of each function
under cargo-lambda's runtime emulator, and the function's peak memory on a
6 MB CloudWatch Logs subscription payload (Lambda's request limit).

Init duration: from starting the bootstrap binary to its first request for
work (the "ready" log line, written just before it polls the runtime API),
which is the phase Lambda reports as Init Duration; median of 7 starts.
Peak memory: VmHWM of the logs function after one invocation with the
largest payload under 6 MB built from the real records.
"""
import base64
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "bin")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from moto_ctl import create, function_env, start_emulator, start_server  # noqa: E402

LIMIT = 6 * 1000 * 1000


def records():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_patterns.py"), "--data",
                          os.path.join(ROOT, "data", "cloudtrail"), "--events", "/dev/stdout"],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(l)["detail"] for l in out.splitlines()]


def payload(recs, n):
    events = [{"id": str(i), "timestamp": 0, "message": json.dumps(recs[i % len(recs)], separators=(",", ":"))}
              for i in range(n)]
    data = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "g", "logStream": "s",
            "subscriptionFilters": ["f"], "logEvents": events}
    raw = json.dumps(data).encode()
    body = json.dumps({"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}).encode()
    return body, len(raw)


def main():
    profile = sys.argv[1] if len(sys.argv) > 1 else "release"
    procs = []
    try:
        moto, endpoint = start_server(VENV)
        procs.append(moto)
        _, topic, _ = create(endpoint)
        emulator, port = start_emulator(VENV, ROOT)
        procs.append(emulator)
        env = function_env(port, endpoint, topic, TRAILWATCH_METRICS="off")
        result = {"profile": profile}
        for fn in ("trailwatch-eventbridge", "trailwatch-logs"):
            times = []
            for _ in range(7):
                start = time.perf_counter()
                p = subprocess.Popen([os.path.join(TARGET, profile, fn)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for line in p.stderr:
                    if '"ready"' in line:
                        times.append((time.perf_counter() - start) * 1000)
                        break
                p.terminate()
                p.wait()
            result[f"{fn}_init_ms_median"] = round(statistics.median(times), 1)
        recs = records()
        lo, hi = 1, 200_000
        while lo < hi:  # the most records whose payload stays under 6 MB
            mid = (lo + hi + 1) // 2
            if len(payload(recs, mid)[0]) <= LIMIT:
                lo = mid
            else:
                hi = mid - 1
        body, inflated = payload(recs, lo)
        p = subprocess.Popen([os.path.join(TARGET, profile, "trailwatch-logs")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        before = vm_hwm(p.pid)
        start = time.perf_counter()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/_/invocations", data=body,
                                     method="POST")
        with urllib.request.urlopen(req, timeout=600) as r:
            response = json.loads(r.read())
        result.update({"payload_bytes": len(body), "payload_records": lo, "inflated_json_bytes": inflated,
                       "invocation_seconds": round(time.perf_counter() - start, 2), "response": response,
                       "peak_rss_mib_before": round(before / 1024, 1),
                       "peak_rss_mib_after": round(vm_hwm(p.pid) / 1024, 1)})
        p.terminate()
        p.wait()
        print(json.dumps(result, indent=2))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)


def vm_hwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
