"""Record a concurrent S3 history for tools/lincheck.

Recorder runs `clients` threads; each loops random operations on random keys
through a random endpoint, and every call and answer becomes one line of the
history lincheck reads (tools/lincheck/README.md):

- write: PUT of a unique value f"c{client}-{n}". 200 is ok; any other answer,
  a timeout or a broken connection leaves the outcome unknown.
- read: GET. 200 gives the value, 404 NoSuchKey gives "" (absent); any other
  failure says nothing and is left out of the history (counted as failed).
- cas: PUT of a unique value with If-Match: "<md5 of expect>" (a simple PUT's
  ETag is the MD5 of its body), or If-None-Match: * when expect is "" (absent).
  `expect` is the value this client last saw for the key: the last value it
  read there, or wrote there and had acknowledged. 200 is ok, 412
  PreconditionFailed (and 404 NoSuchKey, If-Match on an absent key) is a
  failed precondition; anything else is unknown.

A request whose connection could not even be opened (the node is down) was
never sent, so it cannot have taken effect: it is left out of the history
and counted as refused.

Requests are signed here with tests/e2e's SigV4 signer and sent with
http.client, one connection per request and a per-request timeout: never
through an SDK, whose retries could apply one PUT twice. Times are
time.monotonic_ns() at the call and at the answer. The operations each client
chooses come from random.Random(seed + client); the seed is printed (thread
timing is not replayable).
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

_E2E_DIR = Path(__file__).resolve().parents[1] / "e2e"
if str(_E2E_DIR) not in sys.path:
    sys.path.insert(0, str(_E2E_DIR))

import cleave_e2e as e2e  # noqa: E402  (the SigV4 signer)

REPO_ROOT = Path(__file__).resolve().parents[2]

# Share of each operation in a client's loop.
OP_WEIGHTS = {"read": 4, "write": 3, "cas": 3}

# After a request that failed (refused, timed out, answered 5xx...), a client
# pauses this long before its next one, as a real client would back off:
# against a node that is down or cut off it would otherwise spin, burning the
# CPU the cluster needs and filling the history with unknown operations.
FAILURE_PAUSE_S = 0.02


@dataclass
class _Reply:
    call_ns: int
    return_ns: int
    status: int | None      # None: no HTTP answer
    code: str | None        # S3 error code of an error answer
    body: bytes
    sent: bool              # False: the connection was never opened
    failure: str = ""       # what went wrong when there is no answer


def _error_code(body: bytes) -> str | None:
    try:
        el = ET.fromstring(body).find("Code")
    except ET.ParseError:
        return None
    return el.text if el is not None else None


def _endpoint(url: str) -> tuple[str, int]:
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname or not u.port:
        raise ValueError(f"endpoint must be http://HOST:PORT, got {url!r}")
    return u.hostname, u.port


class Recorder:
    def __init__(self, endpoints: list[str], bucket: str, keys: list[str], access_key: str,
                 secret_key: str, seed: int, clients: int = 6, timeout_s: float = 5.0):
        if not endpoints or not keys or clients < 1:
            raise ValueError("need at least one endpoint, one key and one client")
        self.endpoints = [_endpoint(e) for e in endpoints]
        self.bucket = bucket
        self.keys = list(keys)
        self.access_key = access_key
        self.secret_key = secret_key
        self.seed = seed
        self.clients = clients
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._counts = {"write": {"ok": 0, "unknown": 0, "refused": 0},
                        "read": {"ok": 0, "failed": 0},
                        "cas": {"ok": 0, "precondition_failed": 0, "unknown": 0, "refused": 0}}
        self._errors: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._crashes: list[str] = []

    # ------------------------------------------------------------------
    # Control.

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("recorder already started")
        print(f"history recorder: seed {self.seed}, {self.clients} clients, keys {self.keys}, "
              f"endpoints {[f'{h}:{p}' for h, p in self.endpoints]}, timeout {self.timeout_s}s",
              flush=True)
        for c in range(self.clients):
            t = threading.Thread(target=self._run_client, args=(c,), name=f"history-client-{c}",
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self) -> None:
        """Stops the clients and waits for each one's current request to end."""
        self._stop.set()
        # A request ends within its timeout (a few of them in the worst case:
        # connect, send, each read), so this bound is generous, not a sleep.
        deadline = time.monotonic() + 4 * self.timeout_s + 10
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            raise RuntimeError(f"history clients did not stop: {stuck}")
        if self._crashes:
            raise RuntimeError("history clients crashed:\n" + "\n".join(self._crashes))

    def write_history(self, path) -> None:
        """The history so far as JSON lines, sorted by call time."""
        with self._lock:
            records = sorted(self._records, key=lambda r: r["call_ns"])
        with open(path, "w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")

    def counts(self) -> dict:
        """Per operation, how the answers were classified; also "ok" (all
        operations with a known outcome), "unknown" (all without) and
        "errors" (the failures behind "failed", "unknown" and "refused")."""
        with self._lock:
            c = {op: dict(v) for op, v in self._counts.items()}
            c["errors"] = dict(self._errors)
        c["ok"] = (c["write"]["ok"] + c["read"]["ok"] + c["cas"]["ok"]
                   + c["cas"]["precondition_failed"])
        c["unknown"] = c["write"]["unknown"] + c["cas"]["unknown"]
        return c

    # ------------------------------------------------------------------
    # One client.

    def _run_client(self, client: int) -> None:
        try:
            self._loop(client)
        except Exception as e:  # a bug here must fail the test, not vanish with the thread
            with self._lock:
                self._crashes.append(f"client {client}: {e!r}\n{traceback.format_exc()}")

    def _loop(self, client: int) -> None:
        rng = random.Random(self.seed + client)
        seen: dict[str, str] = {}   # key -> the value this client last saw there
        n = 0
        ops, weights = list(OP_WEIGHTS), list(OP_WEIGHTS.values())
        first = True
        while not self._stop.is_set():
            # Every client starts with a compare-and-swap, so the first write
            # of some key is an If-None-Match PUT that succeeds: without
            # deletes, that is the only chance one ever has (and the tests
            # assert that both outcomes of both kinds of CAS occurred).
            op = "cas" if first else rng.choices(ops, weights)[0]
            first = False
            key = rng.choice(self.keys)
            endpoint = rng.choice(self.endpoints)
            if op == "read":
                ok = self._read(client, endpoint, key, seen)
            else:
                n += 1
                ok = self._write(client, endpoint, key, f"c{client}-{n}", op == "cas", seen)
            if not ok:
                self._stop.wait(FAILURE_PAUSE_S)

    def _read(self, client: int, endpoint, key: str, seen: dict[str, str]) -> bool:
        """One GET; False if it failed."""
        r = self._send(endpoint, "GET", key, b"", {})
        if r.status == 200:
            value = r.body.decode()
        elif r.status == 404 and r.code == "NoSuchKey":
            value = ""
        else:
            self._count("read", "failed", r)
            return False
        seen[key] = value
        self._record(r, {"client": client, "op": "read", "key": key, "output": value, "ok": True,
                         "unknown": False}, "read", "ok")
        return True

    def _write(self, client: int, endpoint, key: str, value: str, cas: bool,
               seen: dict[str, str]) -> bool:
        """One PUT (conditional for a cas); False if its outcome is not known."""
        headers = {}
        rec = {"client": client, "op": "cas" if cas else "write", "key": key, "value": value}
        if cas:
            expect = seen.get(key, "")
            rec["expect"] = expect
            if expect == "":
                headers["if-none-match"] = "*"
            else:
                headers["if-match"] = '"%s"' % hashlib.md5(expect.encode()).hexdigest()
        r = self._send(endpoint, "PUT", key, value.encode(), headers)
        op = rec["op"]
        if not r.sent:
            self._count(op, "refused", r)
            return False
        if r.status == 200:
            seen[key] = value
            self._record(r, {**rec, "ok": True, "unknown": False}, op, "ok")
        elif cas and (r.status == 412 or (r.status == 404 and r.code == "NoSuchKey"
                                          and rec["expect"] != "")):
            self._record(r, {**rec, "ok": False, "unknown": False}, op, "precondition_failed")
        else:
            self._record(r, {**rec, "ok": False, "unknown": True}, op, "unknown")
            return False
        return True

    # ------------------------------------------------------------------
    # Plumbing.

    def _record(self, r: _Reply, rec: dict, op: str, outcome: str) -> None:
        rec["call_ns"], rec["return_ns"] = r.call_ns, r.return_ns
        with self._lock:
            self._records.append(rec)
        self._count(op, outcome, r)

    def _count(self, op: str, outcome: str, r: _Reply) -> None:
        with self._lock:
            self._counts[op][outcome] += 1
            if outcome in ("failed", "unknown", "refused"):
                what = f"HTTP {r.status} {r.code}" if r.status is not None else r.failure
                self._errors[f"{op}: {what}"] += 1

    def _send(self, endpoint, method: str, key: str, body: bytes,
              headers: dict[str, str]) -> _Reply:
        host, port = endpoint
        hdrs = {"host": f"{host}:{port}", **headers}
        req = e2e.sign(method, f"/{self.bucket}/{key}", [], hdrs, e2e.sha256_hex(body),
                       access=self.access_key, secret=self.secret_key)
        wire = dict(req.headers)
        wire["content-length"] = str(len(body))
        conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
        call = time.monotonic_ns()
        try:
            try:
                conn.connect()
            except OSError as e:
                # Refused or timed out before the connection existed: nothing
                # was sent.
                return _Reply(call, time.monotonic_ns(), None, None, b"", False,
                              f"connect: {type(e).__name__}")
            try:
                conn.putrequest(method, req.target, skip_host=True, skip_accept_encoding=True)
                for k, v in wire.items():
                    conn.putheader(k, v)
                conn.endheaders(body or None)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                return _Reply(call, time.monotonic_ns(), None, None, b"", True,
                              "timeout" if isinstance(e, TimeoutError) else type(e).__name__)
            ret = time.monotonic_ns()
            code = _error_code(data) if resp.status >= 300 else None
            return _Reply(call, ret, resp.status, code, data, True)
        finally:
            conn.close()


# ----------------------------------------------------------------------
# The checker.


def go_binary() -> str | None:
    """The Go toolchain, if there is one ($PATH, then /usr/local/go/bin/go)."""
    for cand in (shutil.which("go"), "/usr/local/go/bin/go"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def build_lincheck(out_dir: Path) -> str:
    """$CLEAVE_LINCHECK if set, else tools/lincheck built with `go build` into
    out_dir. Raises FileNotFoundError if there is no Go toolchain."""
    given = os.environ.get("CLEAVE_LINCHECK")
    if given:
        if not os.access(given, os.X_OK):
            raise FileNotFoundError(f"CLEAVE_LINCHECK={given} is not executable")
        return given
    go = go_binary()
    if go is None:
        raise FileNotFoundError("no Go toolchain (go on PATH or /usr/local/go/bin/go) to build "
                                "tools/lincheck; set CLEAVE_LINCHECK to a built lincheck")
    out = Path(out_dir) / "lincheck"
    env = dict(os.environ, GOFLAGS="-mod=mod -buildvcs=false")
    p = subprocess.run([go, "build", "-o", str(out), "."], cwd=REPO_ROOT / "tools" / "lincheck",
                       env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"go build tools/lincheck failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return str(out)
