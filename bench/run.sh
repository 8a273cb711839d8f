#!/usr/bin/env bash
# Channel benchmark, over loopback, in one run:
#   bare   a bare hyper server that reads the body and answers 200 (the baseline);
#   sync   an Inlet sync channel: JSON, HMAC-SHA256 security, a tiny service (inlet.ping);
#   async  an Inlet async channel: HMAC-SHA256, the event and its job committed to SQLite
#          (synchronous = FULL) before the 202, workers running the jobs meanwhile;
#   ingest the same channel on an instance that only accepts (`[workers] enabled = false`),
#          which shows what the durable accept costs apart from running the jobs.
#
#   bench/run.sh [DURATION_SECONDS] [ROUNDS]    (defaults: 10 s, 3 rounds)
#
# Builds into CARGO_TARGET_DIR when it is set (else target/). The servers listen on ports
# 11299 (bare), 11298 (sync), 11297 (async) and 11296 (ingest); BARE_PORT, SYNC_PORT,
# ASYNC_PORT and INGEST_PORT move them.
#
# Needs wrk (apt-get install wrk). The server is pinned to CPU 0 and wrk to CPU 1, so each
# gets one core; 64 connections. The servers run side by side and are measured in
# alternation, ROUNDS times each, so that noise from a shared machine hits both alike; the
# report gives each round's ratio and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-10}"
release="${CARGO_TARGET_DIR:-target}/release"
bare_port="${BARE_PORT:-11299}"
sync_port="${SYNC_PORT:-11298}"
async_port="${ASYNC_PORT:-11297}"
ingest_port="${INGEST_PORT:-11296}"
rounds="${2:-3}"
connections=64
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "bench: needs 2 CPUs to pin server and load generator apart" >&2; exit 2; }

cargo build --release --quiet --bin inlet --example bare_hyper

body='{"webhookEvent":"jira:issue_created","issue":{"key":"PROJ-123","fields":{"summary":"Benchmark issue","priority":{"name":"High"}}}}'
signature="sha256=$(printf '%s' "$body" | python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"bench-secret", sys.stdin.buffer.read(), hashlib.sha256).hexdigest())')"
export BENCH_BODY="$body" BENCH_SIGNATURE="$signature"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_for_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: nothing listens on port $1" >&2
  exit 1
}

# run NAME URL: prints "NAME rps p50_ms p99_ms non2xx"
run() {
  local name="$1" url="$2" out
  # A short warm-up, then the measured run.
  taskset -c 1 wrk -t1 -c"$connections" -d2s -s bench/post.lua "$url" >/dev/null
  out=$(taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --latency -s bench/post.lua "$url")
  python3 - "$name" <<PY "$out"
import re, sys
name, text = sys.argv[1], sys.argv[2]
def ms(value):
    match = re.match(r"([\d.]+)(us|ms|s|m)$", value)
    if not match:
        sys.exit(f"bench: cannot read the latency {value!r} in wrk's output:\n{text}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
# Anchored to the start of a line: "93.50%" in the Stdev column also ends in "50%".
p50 = ms(re.search(r"^\s*50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1))
non2xx = int(re.search(r"non2xx=(\d+)", text).group(1))
print(f"{name} {rps:.0f} {p50:.3f} {p99:.3f} {non2xx}")
PY
}

store_dir=$(mktemp -d)
trap 'cleanup; rm -rf "$store_dir"' EXIT
mkdir "$store_dir/ingest"

taskset -c 0 "$release/examples/bare_hyper" "127.0.0.1:$bare_port" 2>/dev/null &
pids+=($!)
INLET_LOG="${INLET_LOG:-info}" taskset -c 0 "$release/inlet" serve --config bench/inlet-bench.toml \
  --listen "127.0.0.1:$sync_port" 2>/tmp/inlet-bench.log &
pids+=($!)
INLET_BENCH_STORE="$store_dir/inlet.db" INLET_LOG="${INLET_LOG:-info}" \
  taskset -c 0 "$release/inlet" serve --config bench/inlet-async.toml \
  --listen "127.0.0.1:$async_port" 2>/tmp/inlet-bench-async.log &
pids+=($!)
INLET_BENCH_INGEST_STORE="$store_dir/ingest/inlet.db" INLET_LOG="${INLET_LOG:-info}" \
  taskset -c 0 "$release/inlet" serve --config bench/inlet-async-ingest.toml \
  --listen "127.0.0.1:$ingest_port" 2>/tmp/inlet-bench-ingest.log &
pids+=($!)
wait_for_port "$bare_port"
wait_for_port "$sync_port"
wait_for_port "$async_port"
wait_for_port "$ingest_port"

results=()
for round in $(seq 1 "$rounds"); do
  results+=("$(run bare "http://127.0.0.1:$bare_port/bench")")
  results+=("$(run sync "http://127.0.0.1:$sync_port/bench")")
  results+=("$(run async "http://127.0.0.1:$async_port/bench")")
  results+=("$(run ingest "http://127.0.0.1:$ingest_port/bench")")
done
events=$(INLET_BENCH_STORE="$store_dir/inlet.db" "$release/inlet" stats --config bench/inlet-async.toml --json 2>/dev/null <<<"" || true)

python3 - "$connections" "$duration" "$events" "${results[@]}" <<'PY'
import statistics, sys
connections, duration, events = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [r.split() for r in sys.argv[4:]]
names = ["bare", "sync", "async", "ingest"]
print(f"channel benchmark: {connections} connections, {duration} s per run, server on CPU 0, wrk on CPU 1")
print(f"{'round':<7}{'server':<8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
for index, row in enumerate(rows):
    print(f"{index // len(names) + 1:<7}{row[0]:<8}{float(row[1]):>10.0f}{float(row[2]):>10.3f}{float(row[3]):>10.3f}{int(row[4]):>10}")
def median(name, column):
    return statistics.median(float(r[column]) for r in rows if r[0] == name)
for name in names:
    print(f"median  {name:<8}{median(name, 1):>10.0f}{median(name, 2):>10.3f}{median(name, 3):>10.3f}")
for name, target in (("sync", 0.60), ("async", 0.50), ("ingest", 0.50)):
    ratios = [float(rows[i + names.index(name)][1]) / float(rows[i][1]) for i in range(0, len(rows), len(names))]
    print(f"{name} / bare requests/s per round: " + ", ".join(f"{r:.2f}" for r in ratios)
          + f"; median {statistics.median(ratios):.2f} (target >= {target:.2f})")
if events:
    print(f"async store after the runs: {events}")
if any(int(r[4]) for r in rows):
    print("warning: some answers were not 2xx; the figures are not valid", file=sys.stderr)
    sys.exit(1)
PY
