#!/usr/bin/env bash
# The cluster benchmark (issue 4): the one-node store (`cleave dev`), the
# disk's single-writer fsync rate (fio, on the filesystem of the data dirs) and
# a 3-node cluster (`cleave local --nodes 3`), one after the other in one run:
#   4 KiB PUT ops/s with 32 concurrent clients, 64 MiB PUT and GET MiB/s.
# Group commit must make the cluster's 4 KiB PUT ops/s at least 3x the fsync
# rate: a store that fsyncs each PUT on its own stays near 1x.
# Writes bench/results/cluster-<timestamp>.txt and prints it. Exits 0 on PASS,
# 1 on FAIL, 2 when the benchmark itself could not run.
#
#   bench/run-cluster.sh
# Environment (all optional):
#   CLEAVE_BIN          the cleave binary (default build/cleave, built by `make build`)
#   BENCH_DURATION      length of each load phase, Go syntax (default 20s)
#   BENCH_CONCURRENCY   concurrent clients for 4 KiB PUTs (default 32)
#   BENCH_FIO_SECONDS   length of the fio fsync run (default 15)
#   BENCH_WORK          parent directory of the data dirs (default /tmp); the
#                       fio file goes there too, so both see the same disk
#   BENCH_FSYNC_DELAY   if set (Go syntax, e.g. 2ms), the data dirs and the fio
#                       file sit on bench/slowsync, a FUSE passthrough of
#                       BENCH_WORK whose fsyncs take at least that long, one at
#                       a time: a disk whose flushes cost what a real device's
#                       do, for a VM whose virtual disk acknowledges them from
#                       the host's cache
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-20s}
concurrency=${BENCH_CONCURRENCY:-32}
fio_seconds=${BENCH_FIO_SECONDS:-15}
nodes=3
min_ratio=3

cleave=${CLEAVE_BIN:-build/cleave}
if [ -z "${CLEAVE_BIN:-}" ] && [ ! -x "$cleave" ]; then make build; fi
[ -x "$cleave" ] || { echo "bench: no cleave binary at $cleave" >&2; exit 2; }
command -v go >/dev/null || { echo "bench: go is needed to build bench/s3load" >&2; exit 2; }
command -v fio >/dev/null || { echo "bench: fio is missing: run scripts/install-deps.sh" >&2; exit 2; }

work=$(mktemp -d "${BENCH_WORK:-/tmp}/cleave-cluster-bench.XXXXXX")
data=$work  # where the stores and fio write
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Nodes of a `cleave local` that died before it could stop them (checked by
  # their command line, so a recycled pid is left alone).
  for f in "$work"/cluster/node*/pid; do
    [ -f "$f" ] || continue
    local p; p=$(cat "$f")
    if tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | grep -qF -- "$data/cluster/"; then
      kill "$p" 2>/dev/null || true
    fi
  done
  # The slow disk last, once nothing writes to it: unmounted from here
  # (lazily if still busy), which ends slowsync.
  if [ -n "${fuse_pid:-}" ]; then
    fusermount -u "$data" 2>/dev/null || fusermount -uz "$data" 2>/dev/null || true
    kill "$fuse_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd bench/s3load && go build -o "$work/s3load" .)
if [ -n "${BENCH_FSYNC_DELAY:-}" ]; then
  command -v fusermount >/dev/null || { echo "bench: fusermount is missing (package fuse3)" >&2; exit 2; }
  (cd bench/slowsync && go build -o "$work/slowsync" .)
  mkdir -p "$work/backing" "$work/disk"
  "$work/slowsync" -delay "$BENCH_FSYNC_DELAY" "$work/backing" "$work/disk" \
    > "$work/slowsync.out" 2>&1 &
  fuse_pid=$!
  for _ in $(seq 1 100); do grep -q "^mounted:" "$work/slowsync.out" && break; sleep 0.1; done
  grep -q "^mounted:" "$work/slowsync.out" || { echo "bench: slowsync did not mount:" >&2; cat "$work/slowsync.out" >&2; exit 2; }
  data=$work/disk
fi

wait_for() {  # wait_for FILE PATTERN SECONDS PID: poll (bounded) until PATTERN appears
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || { echo "bench: process $4 exited; its output:" >&2; cat "$1" "${1%.out}.err" >&2; exit 2; }
    sleep 0.2
  done
  echo "bench: timed out waiting for '$2' in $1" >&2; exit 2
}
# A port P such that P and P+1 are free on 127.0.0.1..127.0.0.N (S3 and
# cluster ports of every node of `cleave local`).
free_port_pair() {
  /usr/bin/python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
def free(host, port):
    s = socket.socket()
    try:
        s.bind((host, port)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p < 65000 and all(free(f"127.0.0.{k}", q) for k in range(1, n + 1) for q in (p, p + 1)):
        print(p); sys.exit(0)
sys.exit("bench: no free port pair")
PY
}
load() {  # load NAME ENDPOINTS [HOOK]: the three phases against ENDPOINTS (comma-separated);
  # HOOK (optional) runs right before and right after the small-PUT phase.
  local hook=${3:-true}
  $hook before
  "$work/s3load" -endpoint "$2" -concurrency "$concurrency" -duration "$duration" \
    -large-count 0 > "$work/$1.json" 2> "$work/$1.load.err" || {
    echo "bench: s3load against $1 failed:" >&2; cat "$work/$1.load.err" >&2; exit 2; }
  $hook after
  "$work/s3load" -endpoint "$2" -duration 0s -large-duration "$duration" 2>> "$work/$1.load.err" \
    | grep -v '"put-small"' >> "$work/$1.json" 2>> "$work/$1.load.err" || {
    echo "bench: s3load against $1 failed:" >&2; cat "$work/$1.load.err" >&2; exit 2; }
}
# The cluster's WAL fdatasyncs per node (cleave admin status), before and
# after the small-PUT phase: how many PUTs one fsync carries.
wal_syncs() {
  "$cleave" admin --endpoint "http://127.0.0.1:$port" status --json > "$work/status-$1.json"
}

export CLEAVE_ACCESS_KEY=BENCHACCESSKEY0000 CLEAVE_SECRET_KEY=bench-secret-key-0000
export CLEAVE_CLUSTER_SECRET=bench-cluster-secret-0000

# The machine's load, so a reader can tell a quiet run from one beside a build.
cut -d' ' -f1 /proc/loadavg > "$work/load"

# 1. The one-node store.
port=$(free_port_pair 1)
"$cleave" dev --data "$data/one" --listen "127.0.0.1:$port" --log-level warn \
  > "$work/one.out" 2> "$work/one.err" &
one_pid=$!
pids+=("$one_pid")
wait_for "$work/one.out" "^ready:" 60 "$one_pid"
load one "127.0.0.1:$port"
kill -TERM "$one_pid"; wait "$one_pid" || true
rm -rf "$data/one"

# 2. The disk: one writer, 4 KiB writes, fsync after each (write IOPS = fsyncs/s),
# measured right before the cluster run that it is compared with.
mkdir -p "$data/fio"
fio --name=fsync --rw=write --bs=4k --size=64m --fsync=1 --ioengine=sync --numjobs=1 \
  --directory="$data/fio" --runtime="$fio_seconds" --time_based --output-format=json \
  > "$work/fio.json"
rm -rf "$data/fio"

# 3. The 3-node cluster; clients spread over every node's S3 endpoint.
port=$(free_port_pair "$nodes")
"$cleave" local --nodes "$nodes" --data "$data/cluster" --s3-port "$port" --log-level warn \
  > "$work/cluster.out" 2> "$work/cluster.err" &
cluster_pid=$!
pids+=("$cluster_pid")
wait_for "$work/cluster.out" "^ready:" 120 "$cluster_pid"
endpoints=$(seq -s, -f "127.0.0.%g:$port" 1 "$nodes")
load cluster "$endpoints" wal_syncs
kill -TERM "$cluster_pid"; wait "$cluster_pid" || true
cut -d' ' -f1 /proc/loadavg >> "$work/load"

mkdir -p bench/results
out=bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ).txt
set +e
/usr/bin/python3 - "$work" "$out" "$concurrency" "$duration" "$fio_seconds" "$min_ratio" "$nodes" "${BENCH_FSYNC_DELAY:-}" <<'PY'
import json, os, platform, subprocess, sys, time
work, out, conc, dur, fio_s, min_ratio, nodes, fsync_delay = sys.argv[1:9]
min_ratio = float(min_ratio)

job = json.load(open(f"{work}/fio.json"))["jobs"][0]
fsync_rate = job["write"]["iops"]  # one fsync per 4 KiB write
fs = subprocess.run(["df", "--output=fstype,source", work], capture_output=True,
                    text=True).stdout.split()[-2:]

def phases(name):
    return {r["phase"]: r for r in (json.loads(l) for l in open(f"{work}/{name}.json"))}
one, cl = phases("one"), phases("cluster")

rows = [(f"4 KiB PUT ops/s ({conc} clients)", "put-small", "ops_per_sec"),
        ("64 MiB PUT MiB/s (1 client)", "put-large", "mib_per_sec"),
        ("64 MiB GET MiB/s (1 client)", "get-large", "mib_per_sec")]
lines = [
    f"Cleave cluster benchmark, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
    f"machine: {platform.node()}, {os.cpu_count()} cores; data dirs on {' '.join(fs)}; "
    f"1-min load average {' at start, '.join(open(f'{work}/load').read().split())} at end",
    "load generator: bench/s3load (minio-go); warp is not served by this machine's Go module proxy",
    f"each load phase {dur}; default (RocksDB) engine; cluster = `cleave local --nodes {nodes}`, "
    f"clients spread over its {nodes} S3 endpoints",
] + ([f"disk: bench/slowsync over that filesystem, every fsync >= {fsync_delay}, one at a time "
      "for the whole run (fio and all three nodes share its queue)"] if fsync_delay else []) + [
    "",
    f"fio single-writer fsync rate (4 KiB write + fsync, {fio_s} s): {fsync_rate:.1f} fsync/s",
    "",
    f"{'figure':<32} {'one-node':>10} {'cluster':>10} {'cluster/one-node':>17}",
]
for label, phase, field in rows:
    a, b = one[phase][field], cl[phase][field]
    errs = one[phase]["errors"] + cl[phase]["errors"]
    ratio = f"{b / a:.2f}" if a else "n/a"
    lines.append(f"{label:<32} {a:>10.1f} {b:>10.1f} {ratio:>17}"
                 + (f"  ({one[phase]['errors']} / {cl[phase]['errors']} errors)" if errs else ""))
lines.append("")
one_ratio = one["put-small"]["ops_per_sec"] / fsync_rate
ratio = cl["put-small"]["ops_per_sec"] / fsync_rate
verdict = "PASS" if ratio >= min_ratio else "FAIL"
lines.append(f"one-node 4 KiB PUT ops/s / fsync rate: {one_ratio:.2f}")
syncs = {}
for when in ("before", "after"):
    for n in json.load(open(f"{work}/status-{when}.json"))["nodes"]:
        syncs.setdefault(n["id"], {})[when] = n.get("wal_syncs", 0)
secs = cl["put-small"]["seconds"]
per_node = {k: (v["after"] - v["before"]) / secs for k, v in syncs.items()
            if "after" in v and "before" in v}
if per_node:
    busiest = max(per_node.values())
    lines.append("cluster WAL fdatasyncs/s per node during the 4 KiB PUTs: "
                 + ", ".join(f"node {k} {v:.0f}" for k, v in sorted(per_node.items()))
                 + f"; 4 KiB PUTs per fdatasync on the busiest node: "
                 + (f"{cl['put-small']['ops_per_sec'] / busiest:.1f}" if busiest else "n/a"))
lines.append(f"group commit: cluster 4 KiB PUT ops/s / fsync rate = {ratio:.2f} "
             f"(needs >= {min_ratio:g}): {verdict}")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if verdict == "PASS" else 1)
PY
status=$?
set -e
echo "bench: wrote $out"
exit $status
