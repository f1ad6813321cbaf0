"""The `cleave dev` process itself: what scripts rely on (ready line,
generated credentials kept in the data directory, clean SIGTERM, refusing a
busy port or a data directory in use) and what the chunk store promises
across restarts (a corrupted chunk is never served and the log names it;
unreferenced chunks are collected)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

import cleave_e2e as e2e

MIB = 1024 * 1024
CHUNK = 4 * MIB


def wait_for(pred, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)  # polling a condition with a deadline, not synchronising
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def new_server(tmp_path: Path, name: str, **kw) -> e2e.CleaveServer:
    return e2e.CleaveServer(tmp_path / name / "data", tmp_path / name / "logs", **kw)


def printed_credentials(srv: e2e.CleaveServer) -> tuple[str, str]:
    def find():
        text = "\n".join(srv.stdout_lines)
        a = re.search(r"access key:\s*(\S+)", text)
        s = re.search(r"secret key:\s*(\S+)", text)
        return (a.group(1), s.group(1)) if a and s else None
    return wait_for(find, 10, "the printed access and secret key")


def chunk_files(data_dir: Path) -> dict[str, Path]:
    """Files under the data directory named by a 64-hex-digit id."""
    out = {}
    for root, _, files in os.walk(data_dir):
        for f in files:
            if re.fullmatch(r"[0-9a-f]{64}", f):
                out[f] = Path(root) / f
    return out


def test_ready_line_and_clean_sigterm(tmp_path):
    srv = new_server(tmp_path, "ready")
    srv.start()
    try:
        assert srv.ready_line.startswith("ready:")
        assert f"http://127.0.0.1:{srv.port}" in srv.ready_line, srv.ready_line
        e2e.alive(srv.port)
    finally:
        assert srv.stop() == 0, srv.log_tail()


def test_generated_credentials_are_kept_in_the_data_dir(tmp_path):
    srv = new_server(tmp_path, "gen", access_key=None, secret_key=None)
    srv.start()
    access, secret = printed_credentials(srv)
    assert access != e2e.ACCESS_KEY and len(secret) >= 20
    c = e2e.boto3_client(srv.endpoint, access=access, secret=secret)
    c.create_bucket(Bucket="persisted")
    c.put_object(Bucket="persisted", Key="k", Body=b"kept across restarts")
    # Our fixed test key is not accepted by this server.
    with pytest.raises(ClientError) as ei:
        e2e.boto3_client(srv.endpoint).list_buckets()
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert srv.stop() == 0, srv.log_tail()

    srv.start()
    try:
        assert printed_credentials(srv) == (access, secret)
        c = e2e.boto3_client(srv.endpoint, access=access, secret=secret)
        assert c.get_object(Bucket="persisted", Key="k")["Body"].read() == b"kept across restarts"
    finally:
        assert srv.stop() == 0, srv.log_tail()


def test_busy_port_and_busy_data_dir_are_refused(tmp_path):
    first = new_server(tmp_path, "first")
    first.start()
    try:
        env = dict(os.environ, CLEAVE_ACCESS_KEY=e2e.ACCESS_KEY, CLEAVE_SECRET_KEY=e2e.SECRET_KEY)
        # Same port, another data directory.
        p = subprocess.run([e2e.cleave_bin(), "dev", "--data", str(tmp_path / "other"),
                            "--listen", f"127.0.0.1:{first.port}", *e2e.extra_server_args()],
                           env=env, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and "ready:" not in p.stdout, (p.stdout, p.stderr)
        # Same data directory, another port.
        p = subprocess.run([e2e.cleave_bin(), "dev", "--data", str(first.data_dir),
                            "--listen", f"127.0.0.1:{e2e.free_port()}", *e2e.extra_server_args()],
                           env=env, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and "ready:" not in p.stdout, (p.stdout, p.stderr)
        e2e.alive(first.port)
    finally:
        assert first.stop() == 0, first.log_tail()


def test_corrupted_chunk_is_never_served(tmp_path):
    srv = new_server(tmp_path, "corrupt")
    srv.start()
    data = e2e.det_bytes("corrupt-me", 2 * CHUNK + 1000)
    other = e2e.det_bytes("leave-me", 2 * CHUNK + 7)
    c = e2e.boto3_client(srv.endpoint)
    c.create_bucket(Bucket="corrupt")
    c.put_object(Bucket="corrupt", Key="victim", Body=data)
    c.put_object(Bucket="corrupt", Key="bystander", Body=other)
    assert srv.stop() == 0

    chunk_id = hashlib.sha256(data[:CHUNK]).hexdigest()
    files = chunk_files(srv.data_dir)
    assert chunk_id in files, f"no chunk file named {chunk_id} under {srv.data_dir}"
    path = files[chunk_id]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))

    srv.start()
    try:
        c = e2e.boto3_client(srv.endpoint)
        got = None
        try:
            got = c.get_object(Bucket="corrupt", Key="victim")["Body"].read()
        except (ClientError, BotoCoreError, OSError):
            pass  # an error answer, or the body cut short: both refuse the bad data
        # Nothing but an error or a cut-short prefix of the true bytes may
        # reach the client (the flipped byte sits inside the first chunk).
        assert got is None or (len(got) < len(data) and data.startswith(got)), \
            f"served {len(got)} bytes of a corrupted object"
        assert c.get_object(Bucket="corrupt", Key="bystander")["Body"].read() == other
        log = srv.log_path.read_text(errors="replace")
        assert chunk_id[:16] in log, "the log does not name the corrupted chunk"
        e2e.alive(srv.port)
    finally:
        assert srv.stop() == 0, srv.log_tail()


def test_unreferenced_chunks_are_collected(tmp_path):
    srv = new_server(tmp_path, "gc", extra_args=e2e.extra_server_args() + [
        "--gc-grace-seconds", "0", "--gc-interval-seconds", "1"])
    srv.start()
    try:
        c = e2e.boto3_client(srv.endpoint)
        c.create_bucket(Bucket="gc-test")
        doomed = e2e.det_bytes("gc-doomed", CHUNK + 10)
        kept = e2e.det_bytes("gc-kept", CHUNK + 20)
        replaced = e2e.det_bytes("gc-replaced", CHUNK + 30)
        c.put_object(Bucket="gc-test", Key="doomed", Body=doomed)
        c.put_object(Bucket="gc-test", Key="kept", Body=kept)
        c.put_object(Bucket="gc-test", Key="over", Body=replaced)
        ids = {n: hashlib.sha256(d[:CHUNK]).hexdigest()
               for n, d in (("doomed", doomed), ("kept", kept), ("replaced", replaced))}
        files = chunk_files(srv.data_dir)
        assert all(i in files for i in ids.values()), (ids, sorted(files))
        c.delete_object(Bucket="gc-test", Key="doomed")
        c.put_object(Bucket="gc-test", Key="over", Body=b"small now")
        wait_for(lambda: ids["doomed"] not in chunk_files(srv.data_dir)
                 and ids["replaced"] not in chunk_files(srv.data_dir), 30,
                 "the unreferenced chunks to be collected")
        assert ids["kept"] in chunk_files(srv.data_dir)
        assert c.get_object(Bucket="gc-test", Key="kept")["Body"].read() == kept
        assert c.get_object(Bucket="gc-test", Key="over")["Body"].read() == b"small now"
    finally:
        assert srv.stop() == 0, srv.log_tail()
