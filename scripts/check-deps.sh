#!/usr/bin/env bash
# Fails when a module includes something its layer must not see
# (docs/architecture.md, "Layers"). Run by `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0

# check DIR REGEX WHY: no non-test file under DIR may include a match of REGEX.
check() {
  local dir=$1 regex=$2 why=$3
  [ -d "$dir" ] || return 0
  local hits
  hits=$(grep -rnE "#include *[<\"]($regex)" "$dir" --include='*.h' --include='*.cc' 2>/dev/null | grep -v '_test\.cc:' || true)
  if [ -n "$hits" ]; then
    echo "check-deps: $why"
    echo "$hits"
    fail=1
  fi
}

# The Raft core is pure: src/common and the standard library's pure headers only.
check src/raft 'boost/|asio|rocksdb/|hiredis|spdlog|thread>|mutex>|future>|random>|chrono>|filesystem>|fstream>|iostream>|atomic>|condition_variable>|storage/|rpc/|multiraft/|s3/|blob/|meta/|shard/|service/|sim/|cli/' \
  "src/raft may include only src/common and pure standard headers"
bad_common=$(grep -rhnE '#include *"[a-z_]+/' src/raft 2>/dev/null | grep -v '"raft/' | grep -v '"common/' || true)
if [ -n "$bad_common" ]; then echo "check-deps: src/raft includes outside raft/ and common/:"; echo "$bad_common"; fail=1; fi

check src/common 'raft/|sim/|storage/|blob/|meta/|shard/|service/|s3/|cli/|rocksdb/|hiredis|boost/' "src/common depends on nothing of Cleave's"
check src/storage 'raft/|sim/|blob/|meta/|shard/|service/|s3/|cli/' "src/storage sits below everything but common"
check src/blob 'raft/|sim/|meta/|shard/|service/|s3/|cli/|rocksdb/|hiredis' "src/blob must not see shards, services or engines' libraries"
check src/meta 'sim/|shard/|service/|s3/|cli/|rocksdb/|hiredis|boost/' "src/meta is pure encodings and decisions"
check src/shard 'sim/|service/|s3/|cli/|rocksdb/|hiredis|boost/' "src/shard must not see services, S3 or engine libraries"
check src/service 'sim/|s3/|cli/|rocksdb/|hiredis' "src/service must not see S3 or engine libraries"
check src/s3 'raft/|sim/|storage/|blob/|meta/|shard/|rocksdb/|hiredis|service/local|node/|multiraft/|rpc/' "src/s3 talks to service/object_service.h only"

check src/rpc 'raft/|sim/|storage/|blob/|meta/|shard/|service/|s3/|cli/|rocksdb/|hiredis' "src/rpc is transport only"

check src/multiraft 'sim/|s3/|cli/|service/|node/|shard/|rocksdb/|hiredis' "src/multiraft hosts Raft groups; it does not see shards, services or S3"
check src/node 'sim/|s3/|cli/|rocksdb/|hiredis' "src/node wires a cluster member below the S3 layer and the CLI"

# Only storage/rocksdb includes RocksDB, only storage/redis includes hiredis.
rocks=$(grep -rlE '#include *[<"]rocksdb/' src | grep -v '^src/storage/rocksdb/' || true)
[ -n "$rocks" ] && { echo "check-deps: RocksDB included outside src/storage/rocksdb: $rocks"; fail=1; }
redis=$(grep -rlE '#include *[<"]hiredis' src | grep -v '^src/storage/redis/' | grep -v '^src/cache/' || true)
[ -n "$redis" ] && { echo "check-deps: hiredis included outside src/storage/redis: $redis"; fail=1; }

if [ $fail -ne 0 ]; then
  echo "check-deps: FAILED"
  exit 1
fi
echo "check-deps: layering OK"
