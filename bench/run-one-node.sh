#!/usr/bin/env bash
# One-node figures, RocksDB and Redis side by side, measured in one run on
# this machine (issue 6's benchmark; issue 4 adds the 3-node cluster):
#   4 KiB PUT ops/s with 32 concurrent clients, 64 MiB PUT and GET MiB/s.
# Writes bench/results/one-node-<timestamp>.md and prints it.
#
#   bench/run-one-node.sh [--duration 10s] [--concurrency 32]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10s
concurrency=32
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    *) echo "usage: $0 [--duration D] [--concurrency N]" >&2; exit 2 ;;
  esac
done

. bench/lib.sh

export CLEAVE_ACCESS_KEY=BENCHACCESSKEY0000 CLEAVE_SECRET_KEY=bench-secret-key-0000

# A private, durable Redis for the Redis engine.
redis_port=$(free_port)
mkdir -p "$work/redis"
/usr/bin/redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" \
  --appendonly yes --appendfsync always --save '' > "$work/redis.log" 2>&1 &
pids+=($!)
wait_for "$work/redis.log" "Ready to accept connections"

run_engine() {  # run_engine NAME ARGS...
  local name=$1; shift
  local port; port=$(free_port)
  build/cleave dev --data "$work/$name" --listen "127.0.0.1:$port" --log-level warn "$@" \
    > "$work/$name.out" 2> "$work/$name.err" &
  local pid=$!
  pids+=($pid)
  wait_for "$work/$name.out" "^ready:"
  "$work/s3load" -endpoint "127.0.0.1:$port" -concurrency "$concurrency" -duration "$duration" \
    > "$work/$name.json"
  kill -TERM "$pid"; wait "$pid" || true
}

run_engine rocksdb --engine rocksdb
run_engine redis --engine redis --redis-url "redis://127.0.0.1:$redis_port/0"

mkdir -p bench/results
out=bench/results/one-node-$(date -u +%Y%m%dT%H%M%SZ).md
/usr/bin/python3 - "$work" "$out" "$concurrency" "$duration" <<'PY'
import json, sys, platform, os
work, out, conc, dur = sys.argv[1:5]
def load(name):
    return {r["phase"]: r for r in (json.loads(l) for l in open(f"{work}/{name}.json"))}
rk, rd = load("rocksdb"), load("redis")
rows = [
    ("4 KiB PUT ops/s (%s clients, %s)" % (conc, dur), "put-small", "ops_per_sec"),
    ("64 MiB PUT MiB/s", "put-large", "mib_per_sec"),
    ("64 MiB GET MiB/s", "get-large", "mib_per_sec"),
]
lines = ["# One-node store: RocksDB vs Redis engine", "",
         f"Measured side by side in one run on {platform.node()} ({os.cpu_count()} cores).", "",
         "| figure | rocksdb | redis | redis / rocksdb |", "| --- | ---: | ---: | ---: |"]
for label, phase, field in rows:
    a, b = rk[phase][field], rd[phase][field]
    errs = rk[phase]["errors"] + rd[phase]["errors"]
    lines.append(f"| {label} | {a:.1f} | {b:.1f} | {b / a if a else float('nan'):.2f} |"
                 + (f" ({errs} errors)" if errs else ""))
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "bench: wrote $out"
