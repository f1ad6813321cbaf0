#!/usr/bin/env bash
# Listing and splitting figures of a one-node store (issue 5's benchmark):
#   - the latency of listing one page of 1,000 keys from a bucket of
#     BENCH_OBJECTS (default 1,000,000) small objects over 1,000 root
#     directories, split into shards;
#   - the time a split takes under load: `cleave admin split` of the biggest
#     shard while 32 clients write, from the proposal until it answers (by
#     then both halves are in the routing table and serving).
# Writes bench/results/splits-<timestamp>.md and prints it.
#
#   BENCH_OBJECTS=1000000 BENCH_SPLITS=8 bench/run-splits.sh
set -euo pipefail
cd "$(dirname "$0")/.."

objects=${BENCH_OBJECTS:-1000000}
splits=${BENCH_SPLITS:-8}
concurrency=${BENCH_CONCURRENCY:-32}

. bench/lib.sh

export CLEAVE_ACCESS_KEY=BENCHACCESSKEY0000 CLEAVE_SECRET_KEY=bench-secret-key-0000
port=$(free_port)
build/cleave dev --data "$work/data" --listen "127.0.0.1:$port" --log-level warn \
  > "$work/dev.out" 2> "$work/dev.err" &
pids+=($!)
wait_for "$work/dev.out" "^ready:"
export CLEAVE_ENDPOINT="http://127.0.0.1:$port"

# Fill in the background; split the biggest shard at even intervals of it.
"$work/s3load" -endpoint "127.0.0.1:$port" -bucket list -mode fill -objects "$objects" \
  -concurrency "$concurrency" > "$work/fill.json" &
fill=$!
pids+=($fill)
biggest() {
  build/cleave admin shards --json | /usr/bin/python3 -c \
    'import json,sys; print(max(json.load(sys.stdin)["shards"], key=lambda d: d["size"])["id"])'
}
: > "$work/splits.txt"
for _ in $(seq 1 "$splits"); do
  # Paced by the bench, not synchronisation: spread the splits over the fill.
  sleep "$(( objects / 5000 / (splits + 1) + 1 ))"
  kill -0 "$fill" 2>/dev/null || break
  id=$(biggest)
  t0=$(date +%s%N)
  if build/cleave admin split "$id" > /dev/null 2>> "$work/split.err"; then
    echo "$id $(( ($(date +%s%N) - t0) / 1000000 ))" >> "$work/splits.txt"
  fi
done
wait "$fill"
"$work/s3load" -endpoint "127.0.0.1:$port" -bucket list -mode list -objects "$objects" \
  -rounds 200 > "$work/list.json"
build/cleave admin shards --json > "$work/shards.json"

mkdir -p bench/results
out=bench/results/splits-$(date -u +%Y%m%dT%H%M%SZ).md
/usr/bin/python3 - "$work" "$out" "$objects" "$concurrency" <<'PY'
import json, sys, platform, os, statistics
work, out, objects, conc = sys.argv[1:5]
fill = json.loads(open(f"{work}/fill.json").read())
page = json.loads(open(f"{work}/list.json").read())
shards = json.load(open(f"{work}/shards.json"))["shards"]
times = [int(l.split()[1]) for l in open(f"{work}/splits.txt") if l.strip()]
lines = ["# One-node store: listing a big bucket, splitting under load", "",
         f"One run on {platform.node()} ({os.cpu_count()} cores).", "",
         "| figure | value |", "| --- | ---: |",
         f"| objects PUT (16 B, {conc} clients), ops/s | {fill['ops_per_sec']:.0f} ({fill['errors']} errors) |",
         f"| shards at the end | {len(shards)} |",
         f"| one page of {page['page_keys']} keys from {int(objects):,} objects: median ms | {page['median_ms']:.1f} |",
         f"| same, p99 ms ({page['rounds']} pages, {page['errors']} errors) | {page['p99_ms']:.1f} |"]
if times:
    lines.append(f"| split under load, proposal to both halves serving: median ms ({len(times)} splits) | {statistics.median(times):.0f} |")
    lines.append(f"| same, max ms | {max(times):.0f} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
print(f"\nwritten to {out}")
PY
