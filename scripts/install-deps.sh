#!/usr/bin/env bash
# Installs whatever Cleave needs from Debian 12's packages, and nothing that is
# already there. Idempotent; runs as root or through sudo.
set -euo pipefail

packages=(
  # toolchain
  cmake ninja-build g++ clang clang-format pkg-config make git
  # libraries
  libboost1.81-dev libboost-system1.81-dev librocksdb-dev libssl-dev
  libprotobuf-dev protobuf-compiler libpugixml-dev libfmt-dev libspdlog-dev
  libcli11-dev libxxhash-dev libisal-dev libhiredis-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # real clients and servers the tests drive
  awscli python3 python3-boto3 python3-pytest rclone s3cmd redis-server
  procps curl
  # benchmarks: the disk's single-writer fsync rate (bench/run-cluster.sh)
  fio
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
