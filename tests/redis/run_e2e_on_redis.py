#!/usr/bin/python3
"""Runs (part of) the one-node end-to-end suite on the Redis engine.

    run_e2e_on_redis.py [pytest arguments...]

Starts a private, durable redis-server (appendonly yes, appendfsync always) on
a free loopback port in a temporary directory, runs Debian's
`/usr/bin/python3 -m pytest` with the given arguments and

    CLEAVE_DEV_ARGS="--engine redis --redis-url redis://127.0.0.1:PORT/0"
    CLEAVE_E2E_RESET_CMD="<python> redis_util.py PORT FLUSHALL"

(the suite empties the engine before each new server: its state lives in
Redis, not in the fresh data directory), then kills the server. Exits with
pytest's code.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import redis_util  # noqa: E402

PYTHON = "/usr/bin/python3"


def main(argv: list[str]) -> int:
    if not redis_util.available():
        print(f"{redis_util.REDIS_SERVER} is missing (apt-get install redis-server)",
              file=sys.stderr)
        return 1
    server = redis_util.RedisServer(durable=True)
    try:
        server.start()
        print(f"redis-server on port {server.port}, dir {server.dir}", flush=True)
        env = dict(os.environ)
        extra = os.environ.get("CLEAVE_DEV_ARGS", "")
        env["CLEAVE_DEV_ARGS"] = (f"{extra} --engine redis --redis-url {server.url}").strip()
        env["CLEAVE_E2E_RESET_CMD"] = shlex.join(
            [PYTHON, str(HERE / "redis_util.py"), str(server.port), "FLUSHALL"])
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        code = subprocess.call([PYTHON, "-m", "pytest", *argv], env=env)
        if not server.running():
            print(f"redis-server died during the run; log {server.log_path}:\n"
                  f"{server.log_tail()}", file=sys.stderr)
            code = code or 1
        return code
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
