#!/usr/bin/env bash
# The server's CPU time per request (user and system, from /proc/PID/stat) under wrk: a
# figure that moves far less than requests/s when other processes share the machine.
#
#   bench/cpu_per_request.sh PORT -- SERVER COMMAND...
#   bench/cpu_per_request.sh 11299 -- target/release/examples/bare_hyper 127.0.0.1:11299
#   INLET_LOG=warn bench/cpu_per_request.sh 11298 -- target/release/inlet serve --config bench/inlet-bench.toml
#
# Server pinned to CPU 0, `wrk -t1 -c64` to CPU 1, 2 s of warm-up, then 5 s measured with the
# benchmark's signed Jira body at /bench. Also prints minor page faults and context switches
# per request. Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -ge 3 ] && [ "$2" = "--" ] || { sed -n 2,11p "$0" >&2; exit 2; }
port="$1"; shift 2
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
body='{"webhookEvent":"jira:issue_created","issue":{"key":"PROJ-123","fields":{"summary":"Benchmark issue","priority":{"name":"High"}}}}'
signature="sha256=$(printf '%s' "$body" | python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"bench-secret", sys.stdin.buffer.read(), hashlib.sha256).hexdigest())')"
export BENCH_BODY="$body" BENCH_SIGNATURE="$signature"

INLET_LOG="${INLET_LOG:-info}" taskset -c 0 "$@" 2>/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
taskset -c 1 wrk -t1 -c64 -d2s -s bench/post.lua "http://127.0.0.1:$port/bench" >/dev/null

snapshot() {
  awk '{print $10, $14, $15}' "/proc/$server/stat"
  grep -h ctxt_switches "/proc/$server"/task/*/status \
    | awk '{sum[$1] += $2} END {print sum["voluntary_ctxt_switches:"], sum["nonvoluntary_ctxt_switches:"]}'
}
before=$(snapshot | tr '\n' ' ')
out=$(taskset -c 1 wrk -t1 -c64 -d5s -s bench/post.lua "http://127.0.0.1:$port/bench")
after=$(snapshot | tr '\n' ' ')
requests=$(echo "$out" | awk '/requests in/{print $1}')
ticks=$(getconf CLK_TCK)
python3 - "$before" "$after" "$requests" "$ticks" <<'PY'
import sys
before, after = (list(map(int, s.split())) for s in sys.argv[1:3])
n, ticks = int(sys.argv[3]), int(sys.argv[4])
d = [a - b for a, b in zip(after, before)]
us = 1e6 / ticks / n
print(f"{n} requests: user {d[1] * us:.1f} us, system {d[2] * us:.1f} us, total {(d[1] + d[2]) * us:.1f} us per request; "
      f"{d[0] / n:.3f} minor faults, {d[3] / n:.3f} voluntary and {d[4] / n:.3f} involuntary context switches per request")
PY
