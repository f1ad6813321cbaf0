"""pytest set-up for the Redis tests: the e2e harness (tests/e2e/cleave_e2e.py)
and the private redis-server helper (redis_util.py) on sys.path, and a
`redis_factory` fixture whose servers are always killed and removed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "e2e"))

import redis_util  # noqa: E402


@pytest.fixture()
def redis_factory(tmp_path):
    """redis_factory(durable=True, extra_args=None) -> a started RedisServer."""
    if not redis_util.available():
        pytest.fail(f"{redis_util.REDIS_SERVER} is missing (apt-get install redis-server)")
    servers = []

    def make(durable: bool = True, extra_args: list[str] | None = None) -> redis_util.RedisServer:
        srv = redis_util.RedisServer(durable=durable, extra_args=extra_args, base_dir=str(tmp_path))
        servers.append(srv)
        srv.start()
        return srv

    yield make
    for srv in servers:
        srv.cleanup()
