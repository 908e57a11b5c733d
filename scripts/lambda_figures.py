"""Lambda figures (issue 8): cold-start init duration of each function
under cargo-lambda's runtime emulator, and the function's peak memory on a
6 MB CloudWatch Logs subscription payload (Lambda's request limit).

Init duration: from starting the bootstrap binary to its first request for
work (the "ready" log line, written just before it polls the runtime API),
which is the phase Lambda reports as Init Duration; median of 7 starts.
Peak memory: VmHWM of the logs function after one invocation with the
largest payload under 6 MB built from the real records of
../shared/data/cloudtrail (TRAILWATCH_SHARED: the shared folder).
"""
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trailwatch_local import (TARGET, awslogs, cloudtrail_dir, create, function_env, invoke,  # noqa: E402
                              load_records, logs_data, start_emulator, start_moto, stop)

LIMIT = 6 * 1000 * 1000


def payload(recs, n):
    """The logs payload of n records (recs repeated), and its inflated JSON size."""
    data = logs_data([recs[i % len(recs)] for i in range(n)], "g", "s")
    return json.dumps(awslogs(data)).encode(), len(json.dumps(data, separators=(",", ":")).encode())


def main():
    profile = sys.argv[1] if len(sys.argv) > 1 else "release"
    recs = load_records(cloudtrail_dir("the 6 MB payload of the Lambda figures"))
    procs = []
    try:
        moto, endpoint = start_moto()
        procs.append(moto)
        _, topic, _ = create(endpoint)
        emulator, port = start_emulator()
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
        _, response = invoke(port, body, timeout=600)
        result.update({"payload_bytes": len(body), "payload_records": lo, "inflated_json_bytes": inflated,
                       "invocation_seconds": round(time.perf_counter() - start, 2), "response": response,
                       "peak_rss_mib_before": round(before / 1024, 1),
                       "peak_rss_mib_after": round(vm_hwm(p.pid) / 1024, 1)})
        p.terminate()
        p.wait()
        print(json.dumps(result, indent=2))
    finally:
        stop(procs)


def vm_hwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
