# Shared by the bench scripts (sourced): a scratch directory removed at exit
# with every process started into $pids, s3load built into it, and two
# helpers. Run from the repository root.
[ -x build/cleave ] || make build
command -v go >/dev/null || { echo "bench: go is needed to build bench/s3load" >&2; exit 2; }
work=$(mktemp -d /tmp/cleave-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd bench/s3load && go build -o "$work/s3load" .)

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for FILE PATTERN: poll (bounded) until PATTERN appears
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "bench: timed out waiting for '$2' in $1" >&2; exit 1
}
