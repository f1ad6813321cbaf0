"""Shared helpers for Cleave's end-to-end tests.

Everything here drives a real `cleave dev` process over real sockets (or,
with CLEAVE_E2E_NODES=3, node 1 of a real 3-node `cleave local` cluster: see
new_server()). The pieces:

- CleaveServer: start `cleave dev` on a free port with fixed credentials, wait
  for its `ready:` line with a bounded deadline, stop it with SIGTERM (and
  check it exits 0) or kill it with SIGKILL.
- A small, independent SigV4 signer (header auth, presigned URLs and the
  STREAMING-AWS4-HMAC-SHA256-PAYLOAD chunk signatures), used by the bad-input
  tests to build requests that no SDK would send. test_badinput.py checks it
  against botocore's signer, so a bug here cannot hide a bug in the server.
- Client set-up for awscli, boto3, rclone and s3cmd with isolated
  configuration (nothing from the host's ~/.aws, ~/.s3cfg or rclone.conf leaks
  in).

Run by Debian's /usr/bin/python3 (which has python3-boto3 and python3-pytest).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import http.client
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "CLEAVEE2EACCESSKEY01"
SECRET_KEY = "cleave-e2e-secret-key-0123456789abcdefXYZ"
REGION = "us-east-1"
HOST = "127.0.0.1"

# Debian's clients, never the pyenv shims that come first on PATH.
AWS_BIN = "/usr/bin/aws"
RCLONE_BIN = "/usr/bin/rclone"
S3CMD_BIN = "/usr/bin/s3cmd"

READY_TIMEOUT_S = float(os.environ.get("CLEAVE_E2E_READY_TIMEOUT", "60"))
STOP_TIMEOUT_S = float(os.environ.get("CLEAVE_E2E_STOP_TIMEOUT", "30"))

REPO_ROOT = Path(__file__).resolve().parents[2]


def cleave_bin() -> str:
    """Path of the binary under test: $CLEAVE_BIN, else <repo>/build/cleave."""
    return os.environ.get("CLEAVE_BIN") or str(REPO_ROOT / "build" / "cleave")


def extra_server_args() -> list[str]:
    """Extra `cleave dev` (or, in cluster mode, `cleave local`) arguments from
    $CLEAVE_DEV_ARGS (e.g. the Redis engine)."""
    return shlex.split(os.environ.get("CLEAVE_DEV_ARGS", ""))


def e2e_nodes() -> int:
    """$CLEAVE_E2E_NODES: 1 (default) runs the suites against `cleave dev`;
    N > 1 against node 1 of an N-node `cleave local` cluster."""
    n = int(os.environ.get("CLEAVE_E2E_NODES", "1") or "1")
    if n < 1:
        raise ValueError(f"CLEAVE_E2E_NODES={n}: want 1 or more")
    return n


def e2e_entry_node() -> int:
    """$CLEAVE_E2E_ENTRY_NODE: the cluster node whose endpoint the suites use
    (default 1). With 4 nodes and the default 3 replicas, node 4 holds no
    replica: the suites then run through a gateway."""
    return int(os.environ.get("CLEAVE_E2E_ENTRY_NODE", "1") or "1")


def reset_external_engine() -> None:
    """Runs $CLEAVE_E2E_RESET_CMD, if set, so that a new server starts empty.

    With an external engine (Redis) the state is not in the fresh data
    directory, so the runner says how to empty it, e.g.
    "redis-cli -p 6390 flushall".
    """
    if os.environ.get("CLEAVE_E2E_RESET_CMD"):
        subprocess.run(os.environ["CLEAVE_E2E_RESET_CMD"], shell=True, check=True,
                       timeout=60, stdout=subprocess.DEVNULL)


def new_server(data_dir: Path, log_dir: Path):
    """The server a suite's fixture starts: a `cleave dev` (CleaveServer), or
    with CLEAVE_E2E_NODES=N > 1 a `cleave local` cluster of N nodes
    (tests/cluster/cluster_harness.py's LocalCluster), whose endpoint, port
    and process handling are node 1's and `cleave local`'s, so the suites
    run unchanged. Its kill() kills every node, and start() after it brings
    the whole cluster back on the same data directories."""
    n = e2e_nodes()
    if n == 1:
        return CleaveServer(data_dir, log_dir)
    cluster_dir = str(REPO_ROOT / "tests" / "cluster")
    if cluster_dir not in sys.path:
        sys.path.insert(0, cluster_dir)
    import cluster_harness

    reset_external_engine()
    return cluster_harness.LocalCluster(data_dir, nodes=n, log_dir=log_dir,
                                        extra_args=extra_server_args(),
                                        entry_node=e2e_entry_node())


def start_stdout_reader(owner, proc: subprocess.Popen, log, ready: threading.Event,
                        close_log: bool) -> threading.Thread:
    """Starts a thread that drains `proc`'s stdout for the life of the process
    (a full pipe would block it), copies it to `log`, appends each line to
    owner.stdout_lines and, at the first `ready:` line, sets owner.ready_line
    and `ready`. Closes `log` at the end when asked."""
    lines = owner.stdout_lines

    def read_stdout():
        for line in proc.stdout:  # type: ignore[union-attr]
            log.write("[stdout] " + line)
            lines.append(line.rstrip("\n"))
            if line.startswith("ready:") and not ready.is_set():
                owner.ready_line = line.rstrip("\n")
                ready.set()
        if close_log:
            log.close()
        else:
            log.flush()

    t = threading.Thread(target=read_stdout, daemon=True)
    t.start()
    return t


def free_port() -> int:
    """A TCP port that was free a moment ago (the server start retries on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts: list[bytes] | list[str]) -> str:
    """The S3 multipart ETag: md5 of the concatenated binary part md5s, '-N'.

    Accepts the parts' bytes or their hex md5s.
    """
    digests = b""
    for p in parts:
        digests += bytes.fromhex(p) if isinstance(p, str) else hashlib.md5(p).digest()
    return '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(parts))


def det_bytes(seed: int | str, n: int) -> bytes:
    """n deterministic pseudo-random bytes from a seed."""
    return random.Random(str(seed)).randbytes(n)


# --------------------------------------------------------------------------
# The server process.


class ServerStartError(RuntimeError):
    pass


class CleaveServer:
    """One `cleave dev` process on a data directory.

    start() may be called again after stop()/kill() to restart on the same
    data directory (and, by default, the same port).
    """

    def __init__(self, data_dir: Path, log_dir: Path, port: int | None = None,
                 access_key: str | None = ACCESS_KEY, secret_key: str | None = SECRET_KEY,
                 extra_args: list[str] | None = None):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.extra_args = extra_server_args() if extra_args is None else extra_args
        self.proc: subprocess.Popen | None = None
        self.ready_line: str | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None
        self._starts = 0
        self.log_path: Path | None = None
        self.stdout_lines: list[str] = []   # stdout of the current process

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def localhost_endpoint(self) -> str:
        """Endpoint named by 'localhost', so virtual-host style is BUCKET.localhost:PORT."""
        return f"http://localhost:{self.port}"

    def command(self) -> list[str]:
        return [cleave_bin(), "dev", "--data", str(self.data_dir),
                "--listen", f"{HOST}:{self.port}", *self.extra_args]

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        binary = cleave_bin()
        if not os.access(binary, os.X_OK):
            raise ServerStartError(
                f"cleave binary not found or not executable: {binary} (set CLEAVE_BIN)")
        if self._starts == 0:
            reset_external_engine()   # a new server must start empty
        fixed_port = self.port is not None
        attempts = 1 if fixed_port else 3
        last_error = None
        for _ in range(attempts):
            if not fixed_port:
                self.port = free_port()
            try:
                self._start_once(timeout_s)
                return
            except ServerStartError as e:
                last_error = e
                # A port taken between free_port() and bind() makes the server
                # exit early; anything else is a real failure, but retrying a
                # couple of times costs little and the final error is kept.
                if fixed_port:
                    break
        raise last_error  # type: ignore[misc]

    def _start_once(self, timeout_s: float) -> None:
        self._starts += 1
        self.log_path = self.log_dir / f"cleave-{self._starts}.log"
        env = dict(os.environ)
        env.pop("CLEAVE_ACCESS_KEY", None)
        env.pop("CLEAVE_SECRET_KEY", None)
        if self.access_key is not None:  # None: let `cleave dev` generate a pair
            env["CLEAVE_ACCESS_KEY"] = self.access_key
            env["CLEAVE_SECRET_KEY"] = self.secret_key
        self._ready = threading.Event()
        self.ready_line = None
        self.stdout_lines = []
        log = open(self.log_path, "w", buffering=1)
        log.write("$ " + shlex.join(self.command()) + "\n")
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
            env=env, text=True, bufsize=1)
        proc, ready = self.proc, self._ready

        self._reader = start_stdout_reader(self, proc, log, ready, close_log=False)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready.wait(0.05):
                return
            if proc.poll() is not None:
                self._reader.join(5)
                raise ServerStartError(
                    f"cleave exited with code {proc.returncode} before it was ready; "
                    f"log {self.log_path}:\n{self.log_tail()}")
        proc.kill()
        proc.wait()
        raise ServerStartError(
            f"cleave printed no 'ready:' line on stdout within {timeout_s}s; "
            f"log {self.log_path}:\n{self.log_tail()}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait; returns the exit code (raises if it hangs)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"cleave did not exit within {timeout_s}s of SIGTERM; log {self.log_path}")
        if self._reader:
            self._reader.join(5)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self._reader:
            self._reader.join(5)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


# --------------------------------------------------------------------------
# An independent SigV4 signer.

UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def amz_now(offset_s: float = 0) -> str:
    t = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=offset_s)
    return t.strftime("%Y%m%dT%H%M%SZ")


def uri_encode(s: str, keep_slash: bool) -> str:
    """S3's UriEncode: everything but unreserved characters (and '/') is %XX."""
    return urllib.parse.quote(s, safe="/~" if keep_slash else "~")


def canonical_query(params: list[tuple[str, str]]) -> str:
    enc = sorted((uri_encode(k, False), uri_encode(v, False)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in enc)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str = REGION, service: str = "s3") -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def scope_of(amz_date: str, region: str = REGION) -> str:
    return f"{amz_date[:8]}/{region}/s3/aws4_request"


@dataclass
class SignedRequest:
    method: str
    path: str               # already URI-encoded, e.g. /bucket/a%20b
    query: str              # canonical query string (also used on the wire)
    headers: dict[str, str]
    signature: str
    amz_date: str

    @property
    def target(self) -> str:
        return self.path + ("?" + self.query if self.query else "")


def sign(method: str, path: str, params: list[tuple[str, str]], headers: dict[str, str],
         payload_hash: str, access: str = ACCESS_KEY, secret: str = SECRET_KEY,
         amz_date: str | None = None, region: str = REGION,
         encoded_path: str | None = None) -> SignedRequest:
    """Sign a request with an Authorization header.

    `path` is the raw (decoded) path, e.g. '/bucket/some key'; it is encoded
    once, as S3 does. `encoded_path`, when given, is used as it is instead
    (to send bytes no encoder would produce, e.g. invalid UTF-8). `headers`
    must include 'host'. Adds x-amz-date and x-amz-content-sha256 and
    Authorization to the returned headers.
    """
    amz_date = amz_date or amz_now()
    hdrs = {k.lower(): str(v) for k, v in headers.items()}
    hdrs["x-amz-date"] = amz_date
    hdrs["x-amz-content-sha256"] = payload_hash
    signed = sorted(h for h in hdrs if h in ("host", "content-type", "content-md5")
                    or h.startswith("x-amz-") or h in ("if-none-match", "if-match",
                                                       "range", "content-encoding"))
    canon_headers = "".join(f"{h}:{' '.join(hdrs[h].split())}\n" for h in signed)
    enc_path = encoded_path if encoded_path is not None else uri_encode(path, True)
    query = canonical_query(params)
    creq = "\n".join([method, enc_path, query, canon_headers, ";".join(signed), payload_hash])
    scope = scope_of(amz_date, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, sha256_hex(creq.encode())])
    sig = hmac.new(signing_key(secret, amz_date[:8], region), sts.encode(),
                   hashlib.sha256).hexdigest()
    hdrs["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, "
                             f"SignedHeaders={';'.join(signed)}, Signature={sig}")
    return SignedRequest(method, enc_path, query, hdrs, sig, amz_date)


def presign_url(endpoint: str, method: str, path: str, expires_s: int,
                access: str = ACCESS_KEY, secret: str = SECRET_KEY,
                amz_date: str | None = None, region: str = REGION) -> str:
    """A presigned URL (query-string auth) for `path` (raw, decoded)."""
    amz_date = amz_date or amz_now()
    host = urllib.parse.urlsplit(endpoint).netloc
    scope = scope_of(amz_date, region)
    params = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
              ("X-Amz-Credential", f"{access}/{scope}"),
              ("X-Amz-Date", amz_date),
              ("X-Amz-Expires", str(expires_s)),
              ("X-Amz-SignedHeaders", "host")]
    enc_path = uri_encode(path, True)
    query = canonical_query(params)
    creq = "\n".join([method, enc_path, query, f"host:{host}\n", "host", UNSIGNED])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, sha256_hex(creq.encode())])
    sig = hmac.new(signing_key(secret, amz_date[:8], region), sts.encode(),
                   hashlib.sha256).hexdigest()
    return f"{endpoint}{enc_path}?{query}&X-Amz-Signature={sig}"


def chunk_signature(secret: str, amz_date: str, prev_sig: str, data: bytes,
                    region: str = REGION) -> str:
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope_of(amz_date, region),
                     prev_sig, EMPTY_SHA256, sha256_hex(data)])
    return hmac.new(signing_key(secret, amz_date[:8], region), sts.encode(),
                    hashlib.sha256).hexdigest()


def streaming_body(seed_sig: str, amz_date: str, chunks: list[bytes],
                   secret: str = SECRET_KEY, corrupt_sig_index: int | None = None,
                   tamper_data_index: int | None = None) -> bytes:
    """aws-chunked body: each chunk signed over the previous signature.

    corrupt_sig_index flips one hex digit of that chunk's signature;
    tamper_data_index flips one byte of that chunk's data after signing.
    The final zero-length chunk is appended (its index is len(chunks)).
    """
    out = b""
    prev = seed_sig
    for i, data in enumerate(list(chunks) + [b""]):
        sig = chunk_signature(secret, amz_date, prev, data)
        prev = sig
        wire_sig = sig
        if i == corrupt_sig_index:
            wire_sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        wire_data = data
        if i == tamper_data_index and data:
            wire_data = bytes([data[0] ^ 0xFF]) + data[1:]
        out += f"{len(data):x};chunk-signature={wire_sig}\r\n".encode() + wire_data + b"\r\n"
    return out


# --------------------------------------------------------------------------
# Raw HTTP.


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    reason: str = ""

    @property
    def code(self) -> str | None:
        """The S3 error code of an XML error body, if any."""
        return error_code(self.body)

    def __repr__(self) -> str:
        return (f"Response({self.status} {self.reason}, code={self.code}, "
                f"body={self.body[:400]!r})")


def error_code(body: bytes) -> str | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    el = root.find("Code")
    if el is None:
        el = root.find("{*}Code")
    return el.text if el is not None else None


def http_request(port: int, method: str, target: str, headers: dict[str, str] | None = None,
                 body: bytes | None = None, timeout_s: float = 30) -> Response:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if body is not None and not any(k.lower() == "content-length" for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.reason)
    finally:
        conn.close()


def signed_request(port: int, method: str, path: str, params: list[tuple[str, str]] | None = None,
                   headers: dict[str, str] | None = None, body: bytes = b"",
                   payload_hash: str | None = None, host: str | None = None,
                   access: str = ACCESS_KEY, secret: str = SECRET_KEY,
                   amz_date: str | None = None, encoded_path: str | None = None) -> Response:
    """Sign (header auth) and send one request; `path` is raw (decoded)."""
    hdrs = dict(headers or {})
    hdrs["host"] = host or f"{HOST}:{port}"
    ph = payload_hash if payload_hash is not None else sha256_hex(body)
    req = sign(method, path, params or [], hdrs, ph, access=access, secret=secret,
               amz_date=amz_date, encoded_path=encoded_path)
    wire = dict(req.headers)
    wire["content-length"] = str(len(body))
    return http_request(port, method, req.target, wire, body)


def alive(port: int) -> Response:
    """A normal signed ListBuckets; asserts the server answers it with 200."""
    r = signed_request(port, "GET", "/")
    assert r.status == 200, f"server no longer serves a normal request: {r}"
    return r


# --------------------------------------------------------------------------
# Clients.


def _base_env(home: Path) -> dict[str, str]:
    """A clean environment: no PYTHONPATH/pyenv, no host AWS/rclone config."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": str(home),
    }
    return env


class AwsCli:
    """Runs Debian's awscli against one endpoint with a private configuration."""

    def __init__(self, endpoint: str, home: Path, access: str = ACCESS_KEY,
                 secret: str = SECRET_KEY):
        self.endpoint = endpoint
        home.mkdir(parents=True, exist_ok=True)
        cfg = home / "aws-config"
        creds = home / "aws-credentials"
        cfg.write_text(f"[default]\nregion = {REGION}\noutput = json\n"
                       "s3 =\n    addressing_style = path\n")
        creds.write_text(f"[default]\naws_access_key_id = {access}\n"
                         f"aws_secret_access_key = {secret}\n")
        self.env = _base_env(home)
        self.env.update({
            "AWS_ACCESS_KEY_ID": access,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(cfg),
            "AWS_SHARED_CREDENTIALS_FILE": str(creds),
            "AWS_PAGER": "",
            "AWS_EC2_METADATA_DISABLED": "true",
        })

    def run(self, *args: str, check: bool = True, timeout_s: float = 300,
            endpoint: bool = True) -> subprocess.CompletedProcess:
        cmd = [AWS_BIN, *args]
        if endpoint:
            cmd += ["--endpoint-url", self.endpoint]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                           timeout=timeout_s)
        if check and p.returncode != 0:
            raise AssertionError(
                f"aws failed ({p.returncode}): {shlex.join(cmd)}\n"
                f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def run_many(self, commands: list[list[str]], check: bool = True,
                 workers: int = 4) -> list[subprocess.CompletedProcess]:
        """Runs independent commands concurrently (awscli's start-up dominates)."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda c: self.run(*c, check=check), commands))

    def json(self, *args: str) -> dict:
        out = self.run(*args).stdout
        return json.loads(out) if out.strip() else {}

    def fail(self, *args: str) -> subprocess.CompletedProcess:
        """Runs a command that must fail; returns it for the error text."""
        p = self.run(*args, check=False)
        assert p.returncode != 0, f"expected failure: aws {' '.join(args)}\n{p.stdout}"
        return p


def boto3_client(endpoint: str, style: str = "path", access: str = ACCESS_KEY,
                 secret: str = SECRET_KEY, max_attempts: int = 1, pool: int = 10,
                 read_timeout_s: float = 120):
    """A boto3 S3 client: style 'path' or 'virtual' (BUCKET.localhost:PORT).

    No retries by default: a test must see the server's first answer.
    """
    import boto3
    from botocore.config import Config

    cfg = Config(
        region_name=REGION,
        signature_version="s3v4",
        s3={"addressing_style": style},
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=pool,
        read_timeout=read_timeout_s,
        connect_timeout=10,
    )
    session = boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                                    region_name=REGION)
    return session.client("s3", endpoint_url=endpoint, config=cfg)


_orig_getaddrinfo = socket.getaddrinfo


def install_localhost_resolver() -> None:
    """Make '*.localhost' resolve to 127.0.0.1 in this process.

    Virtual-host style needs BUCKET.localhost to reach the server; glibc here
    resolves only 'localhost' itself (no systemd-resolved), so the test
    process maps the subdomains the way RFC 6761 says they should be.
    """
    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        elif host == "localhost":
            host = "127.0.0.1"
        return _orig_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def rclone_env(endpoint: str, home: Path, remote: str = "cleave") -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "rclone.conf"
    conf.write_text("")
    env = _base_env(home)
    p = f"RCLONE_CONFIG_{remote.upper()}_"
    env.update({
        "RCLONE_CONFIG": str(conf),
        p + "TYPE": "s3",
        p + "PROVIDER": "Other",
        p + "ENV_AUTH": "false",
        p + "ACCESS_KEY_ID": ACCESS_KEY,
        p + "SECRET_ACCESS_KEY": SECRET_KEY,
        p + "ENDPOINT": endpoint,
        p + "REGION": REGION,
        p + "FORCE_PATH_STYLE": "true",
    })
    return env


def s3cmd_config(host_port: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[default]\n"
        f"access_key = {ACCESS_KEY}\n"
        f"secret_key = {SECRET_KEY}\n"
        f"host_base = {host_port}\n"
        f"host_bucket = {host_port}\n"
        f"bucket_location = {REGION}\n"
        "use_https = False\n"
        "signature_v2 = False\n"
        "check_ssl_certificate = False\n"
        "progress_meter = False\n")
    return path


def run(cmd: list[str], env: dict[str, str], check: bool = True, timeout_s: float = 300,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError(f"failed ({p.returncode}): {shlex.join(cmd)}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


_bucket_counter = [0]
_bucket_lock = threading.Lock()


def unique_bucket(prefix: str = "e2e") -> str:
    with _bucket_lock:
        _bucket_counter[0] += 1
        n = _bucket_counter[0]
    return f"{prefix}-{os.getpid()}-{n}"
