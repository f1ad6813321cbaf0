"""A private redis-server for Cleave's Redis tests, and a tiny RESP client.

RedisServer starts Debian's /usr/bin/redis-server on a free loopback port
with its own directory, waits (bounded) until it answers PING, and can kill
it (SIGKILL: a crash) and restart it on the same port and directory, which
reloads the append-only file. The client speaks just enough RESP for tests
(no dependency beyond the standard library).

Run by Debian's /usr/bin/python3.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REDIS_SERVER = "/usr/bin/redis-server"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class RedisError(Exception):
    """An error reply from the server."""


def _encode(args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RedisClient:
    """One connection; command() returns bytes, int, list, None, or raises RedisError."""

    def __init__(self, port: int, timeout_s: float = 10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout_s)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("redis closed the connection")
        self.buf += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ConnectionError(f"unexpected RESP line {line!r}")

    def command(self, *args):
        self.sock.sendall(_encode(args))
        return self._reply()


class RedisServer:
    """A private redis-server process.

    durable=True: appendonly yes, appendfsync always (what `cleave dev
    --engine redis` requires). extra_args are appended (later settings win).
    """

    def __init__(self, durable: bool = True, extra_args: list[str] | None = None,
                 base_dir: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="cleave-redis-", dir=base_dir))
        self.durable = durable
        self.extra_args = list(extra_args or [])
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    def command_line(self) -> list[str]:
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", HOST, "--dir", str(self.dir),
                "--logfile", str(self.log_path), "--daemonize", "no", "--save", ""]
        if self.durable:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        return args + self.extra_args

    def client(self) -> RedisClient:
        assert self.port is not None
        return RedisClient(self.port)

    def _answers_ping(self) -> bool:
        try:
            with RedisClient(self.port, timeout_s=1.0) as c:
                return c.command("PING") == b"PONG"
        except (OSError, ConnectionError, RedisError):
            # LOADING (an AOF being replayed) is an error reply: not ready yet.
            return False

    def _launch(self, timeout_s: float) -> None:
        self.proc = subprocess.Popen(self.command_line(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._answers_ping():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)  # poll interval
        self.kill()
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING within "
                           f"{timeout_s}s; log {self.log_path}:\n{self.log_tail()}")

    def start(self, timeout_s: float = 30.0) -> None:
        """On a free port (retried: another process may take it first)."""
        last = None
        for _ in range(3):
            self.port = free_port()
            try:
                self._launch(timeout_s)
                return
            except RuntimeError as e:
                last = e
        raise last  # type: ignore[misc]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash; only what was fsynced to the AOF survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self, timeout_s: float = 30.0) -> None:
        """kill() then start again on the same port and directory (AOF reload)."""
        self.kill()
        self._launch(timeout_s)

    def stop(self) -> None:
        self.kill()

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no redis log)"


def available() -> bool:
    return os.access(REDIS_SERVER, os.X_OK)


if __name__ == "__main__":
    # python3 redis_util.py PORT COMMAND [ARG...]: one command (used as the
    # e2e suite's CLEAVE_E2E_RESET_CMD, e.g. "... PORT FLUSHALL").
    import sys
    with RedisClient(int(sys.argv[1])) as c:
        print(c.command(*sys.argv[2:]))
