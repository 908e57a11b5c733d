#!/bin/bash
# Count a function's cold-start instructions under callgrind (bench/RESULTS.md):
# start the binary with a runtime API that accepts connections and never
# answers, wait for its "ready" log line (written just before its first poll
# for work), then stop it.
#   cargo build --profile profiling -p trailwatch-eventbridge
#   scripts/callgrind_init.sh target/profiling/trailwatch-eventbridge /tmp/init.callgrind
#   callgrind_annotate --inclusive=yes /tmp/init.callgrind | head -40
set -euo pipefail
BIN=${1:?usage: callgrind_init.sh BINARY OUT}
OUT=${2:?usage: callgrind_init.sh BINARY OUT}
PORT=${PORT:-9911}
LOG=$(mktemp)
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5); time.sleep(120)' "$PORT" &
API=$!
trap 'kill $API 2>/dev/null || true; rm -f "$LOG"' EXIT
sleep 0.3
env -i PATH="$PATH" AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 \
    AWS_LAMBDA_RUNTIME_API="127.0.0.1:$PORT" AWS_LAMBDA_FUNCTION_NAME=_ \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
    AWS_ENDPOINT_URL=http://127.0.0.1:1 TRAILWATCH_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:t \
    TRAILWATCH_METRICS=off \
    valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" >"$LOG" 2>&1 &
RUN=$!
for _ in $(seq 1 120); do grep -q '"ready"' "$LOG" && break; sleep 0.5; done
grep -q '"ready"' "$LOG" || { echo "no ready line: see the function's log" >&2; cat "$LOG" >&2; exit 2; }
sleep 1
kill -INT "$RUN"; sleep 2; kill "$RUN" 2>/dev/null || true
wait "$RUN" 2>/dev/null || true
callgrind_annotate "$OUT" 2>/dev/null | grep TOTALS
