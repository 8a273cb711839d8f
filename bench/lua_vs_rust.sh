#!/usr/bin/env bash
# The seed's Jira service in Lua against the same service compiled in Rust, in one run.
#
#   bench/lua_vs_rust.sh [DURATION] [ROUNDS]     (default: 5s per run, 5 rounds)
#   RUST_BIN=old/seed LUA_BIN=old/inlet bench/lua_vs_rust.sh    (saved binaries, no build)
#
# Honours CARGO_TARGET_DIR; RUST_PORT and LUA_PORT move the servers off 11251 and 11252.
# Builds release binaries, then runs ROUNDS rounds; each round serves the Rust example and
# then the Lua one, each started fresh, pinned to core 0, warmed up for 1 s, and loaded by
# wrk (64 connections, one thread) pinned to core 1, over loopback. Prints every run, then
# the median of each side's requests/s, p50, p99 and server CPU time per request, and the
# Lua/Rust ratios of the medians. CPU per request (user + system time of the server process,
# from /proc, over the measured run) moves far less than requests/s when other processes
# share the machine, and Rust's CPU per request over Lua's is the throughput ratio that a
# core of its own would give.
# Alternating short rounds keeps both sides exposed to the same background load, which on
# a shared machine moves single runs by a factor of two. Both servers log as they would in
# production (INFO, three lines per request) to /dev/null; set INLET_LOG to change that.
# Needs wrk (apt-get install -y wrk) and taskset.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION="${1:-5s}"
ROUNDS="${2:-5}"
CONNECTIONS=64
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# The two servers' ports; set RUST_PORT and LUA_PORT when these are taken.
RUST_PORT="${RUST_PORT:-11251}"
LUA_PORT="${LUA_PORT:-11252}"
BODY='{"webhookEvent": "jira:issue_created", "issue": {"key": "PROJ-123"}}'

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

# RUST_BIN and LUA_BIN name saved binaries to compare (the seed example and inlet of an
# older build, say); without them, the current tree is built and measured.
if [ -z "${RUST_BIN:-}" ] || [ -z "${LUA_BIN:-}" ]; then
    echo "building release binaries..." >&2
    cargo build --release --quiet --bin inlet --example seed
fi
RUST_BIN="${RUST_BIN:-$TARGET_DIR/release/examples/seed}"
LUA_BIN="${LUA_BIN:-$TARGET_DIR/release/inlet}"

# Server on core 0, load generator on core 1, when there are two cores to pin to.
if [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
else
    SERVER_PIN=()
    CLIENT_PIN=()
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA

# wait_until_up PORT: polls the Jira channel for up to 10 s.
wait_until_up() {
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null -X POST "http://127.0.0.1:$1/webhooks/jira" -d "$BODY"; then return 0; fi
        sleep 0.1
    done
    echo "the server on port $1 did not come up" >&2
    exit 1
}

# run NAME PORT COMMAND...: serves, warms up, measures; appends "rps p50_ms p99_ms" to $WORK/NAME.
run() {
    local name="$1" port="$2"
    shift 2
    "${SERVER_PIN[@]}" "$@" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
    SERVER_PID=$!
    wait_until_up "$port"
    "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d1s -s "$WORK/post.lua" "http://127.0.0.1:$port/webhooks/jira" >/dev/null
    local ticks_before ticks_after
    ticks_before=$(cpu_ticks "$SERVER_PID")
    "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/post.lua" \
        "http://127.0.0.1:$port/webhooks/jira" > "$WORK/$name.out"
    ticks_after=$(cpu_ticks "$SERVER_PID")
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    local rps p50 p99 errors requests cpu_us
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/$name.out")
    requests=$(awk '/requests in/ {print $1}' "$WORK/$name.out")
    cpu_us=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/$name.out")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/$name.out")
    errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$WORK/$name.out")
    if [ -n "$errors" ]; then
        echo "$name: $errors responses were not 2xx" >&2
        exit 1
    fi
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") $cpu_us" >> "$WORK/$name"
    printf '  %-5s %10s req/s  p50 %8s  p99 %8s  cpu %6s us/req\n' "$name" "$rps" "$p50" "$p99" "$cpu_us" >&2
}

# cpu_ticks PID: user + system time of a process so far, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# to_ms 850.00us|1.05ms|1.20s: wrk's latency in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n
    }'
}

# median FILE COLUMN
median() {
    sort -g -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}

for round in $(seq 1 "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    run rust "$RUST_PORT" "$RUST_BIN" serve --config examples/seed/inlet.toml
    run lua "$LUA_PORT" "$LUA_BIN" serve --config examples/seed-lua/inlet.toml
done

printf '\nJira webhook, %s connections, %s x %s rounds per server, server and wrk on separate cores\n' \
    "$CONNECTIONS" "$DURATION" "$ROUNDS"
printf '%-6s %12s %10s %10s %12s   (medians)\n' "" "requests/s" "p50 ms" "p99 ms" "cpu us/req"
for name in rust lua; do
    printf '%-6s %12s %10s %10s %12s\n' "$name" "$(median "$WORK/$name" 1)" "$(median "$WORK/$name" 2)" \
        "$(median "$WORK/$name" 3)" "$(median "$WORK/$name" 4)"
done
awk -v l="$(median "$WORK/lua" 1)" -v r="$(median "$WORK/rust" 1)" \
    'BEGIN { printf "lua/rust: %.1f%% (target: at least 70%%)\n", 100 * l / r }'
awk -v l="$(median "$WORK/lua" 4)" -v r="$(median "$WORK/rust" 4)" \
    'BEGIN { printf "lua/rust by cpu per request (rust us / lua us): %.1f%%\n", 100 * r / l }'
