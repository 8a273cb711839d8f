#!/usr/bin/env bash
# Instructions per request, counted by callgrind: a figure that other load on the machine does
# not move, for comparing two builds or two code paths when requests/s are too noisy to.
#
#   bench/instructions.sh PORT PATH -- SERVER COMMAND...
#   bench/instructions.sh 11298 /bench -- target/release/inlet serve --config bench/inlet-bench.toml
#   bench/instructions.sh 11251 /webhooks/jira -- target/release/examples/seed serve \
#       --config examples/seed/inlet.toml --listen 127.0.0.1:11251
#
# (Binaries are under "$CARGO_TARGET_DIR/release" when CARGO_TARGET_DIR is set.)
# Runs the server under callgrind with instrumentation off, warms it up with wrk for 3 s,
# counts 8 s of `wrk -t1 -c16` with the benchmark's signed Jira body, and prints the user-space
# instructions per request (the kernel's share, the TCP stack, is not counted). Under valgrind
# SHA-256 runs in software (no SHA extensions), so HMAC channels count high: compare like with
# like, or subtract `sha2::…::compress` from `callgrind_annotate bench-callgrind.out`.
# Needs valgrind and wrk (apt-get install -y valgrind wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -ge 4 ] && [ "$3" = "--" ] || { sed -n 2,17p "$0" >&2; exit 2; }
port="$1"; path="$2"; shift 3
for tool in valgrind callgrind_control callgrind_annotate wrk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install -y valgrind wrk)" >&2; exit 2; }
done

body='{"webhookEvent":"jira:issue_created","issue":{"key":"PROJ-123","fields":{"summary":"Benchmark issue","priority":{"name":"High"}}}}'
signature="sha256=$(printf '%s' "$body" | python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"bench-secret", sys.stdin.buffer.read(), hashlib.sha256).hexdigest())')"
export BENCH_BODY="$body" BENCH_SIGNATURE="$signature"
out_file="bench-callgrind.out"
rm -f "$out_file"*

INLET_LOG="${INLET_LOG:-info}" valgrind --tool=callgrind --callgrind-out-file="$out_file" \
  --instr-atstart=no "$@" 2>/tmp/bench-callgrind.log &
server=$!
trap 'kill -9 "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
wrk -t1 -c16 -d3s -s bench/post.lua "http://127.0.0.1:$port$path" >/dev/null
callgrind_control -i on "$server" >/dev/null 2>&1
out=$(wrk -t1 -c16 -d8s -s bench/post.lua "http://127.0.0.1:$port$path")
callgrind_control -i off "$server" >/dev/null 2>&1
callgrind_control -d "$server" >/dev/null 2>&1
requests=$(echo "$out" | awk '/requests in/{print $1}')
dump=$(ls -S "$out_file"* | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
python3 -c "print(f'{$total/$requests:.0f} instructions per request ({$requests} requests); profile: $dump')"
