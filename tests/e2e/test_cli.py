"""The `cleave` binary as an S3 client: mb, ls, cp, rm, cat, stat against a
real `cleave dev`, with errors that name the problem."""

from __future__ import annotations

import hashlib
import os
import pty
import subprocess
from pathlib import Path

import cleave_e2e as e2e

MIB = 1024 * 1024


def run(server, *args: str, check: bool = True, stdin: bytes | None = None):
    env = dict(os.environ)
    env["CLEAVE_ENDPOINT"] = server.endpoint
    env["CLEAVE_ACCESS_KEY"] = e2e.ACCESS_KEY
    env["CLEAVE_SECRET_KEY"] = e2e.SECRET_KEY
    r = subprocess.run([e2e.cleave_bin(), *args], env=env, input=stdin, capture_output=True,
                       timeout=120)
    if check:
        assert r.returncode == 0, f"cleave {' '.join(args)}: {r.returncode}\n{r.stderr.decode()}"
    return r


def test_client_round_trip(server, tmp_path: Path, s3):
    bucket = e2e.unique_bucket()
    out = run(server, "mb", f"s3://{bucket}").stdout.decode()
    assert f"s3://{bucket}" in out
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello cleave\n")
    big = tmp_path / "big.bin"
    big.write_bytes(e2e.det_bytes("cli-big", 20 * MIB + 17))  # multipart (> 8 MiB)
    run(server, "cp", str(small), f"s3://{bucket}/docs/small.txt")
    run(server, "cp", str(big), f"s3://{bucket}/data/")
    # The big file went up in parts: its ETag has the multipart form.
    head = s3.head_object(Bucket=bucket, Key="data/big.bin")
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    assert head["ContentLength"] == big.stat().st_size

    buckets = run(server, "ls").stdout.decode()
    assert f"s3://{bucket}" in buckets
    top = run(server, "ls", f"s3://{bucket}").stdout.decode()
    assert "docs/" in top and "data/" in top and "small.txt" not in top
    rec = run(server, "ls", "-r", f"s3://{bucket}").stdout.decode()
    assert "docs/small.txt" in rec and "data/big.bin" in rec

    assert run(server, "cat", f"s3://{bucket}/docs/small.txt").stdout == b"hello cleave\n"
    back = tmp_path / "back.bin"
    run(server, "cp", f"s3://{bucket}/data/big.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).hexdigest() == \
        hashlib.sha256(big.read_bytes()).hexdigest()

    stat = run(server, "stat", f"s3://{bucket}/docs/small.txt").stdout.decode()
    assert "Content-Length: 13" in stat and "ETag" in stat

    run(server, "cp", f"s3://{bucket}/docs/small.txt", f"s3://{bucket}/docs/copy.txt")
    assert run(server, "cat", f"s3://{bucket}/docs/copy.txt").stdout == b"hello cleave\n"

    # A bucket with objects can't be removed; emptied, it can.
    r = run(server, "rm", f"s3://{bucket}", check=False)
    assert r.returncode != 0 and b"BucketNotEmpty" in r.stderr, r.stderr
    run(server, "rm", "-r", f"s3://{bucket}")
    run(server, "rm", f"s3://{bucket}")
    assert f"s3://{bucket}" not in run(server, "ls").stdout.decode()


def test_client_errors_name_the_problem(server, tmp_path: Path):
    r = run(server, "ls", "s3://no-such-bucket-cli", check=False)
    assert r.returncode == 1 and b"NoSuchBucket" in r.stderr, r.stderr
    r = run(server, "cp", str(tmp_path / "missing"), "s3://x/y", check=False)
    assert r.returncode == 1 and b"cannot open" in r.stderr, r.stderr
    r = run(server, "cat", "not-a-uri", check=False)
    assert r.returncode == 1 and b"s3://" in r.stderr, r.stderr
    env = dict(os.environ, CLEAVE_ENDPOINT=server.endpoint, CLEAVE_ACCESS_KEY=e2e.ACCESS_KEY,
               CLEAVE_SECRET_KEY="wrong-secret-wrong")
    r = subprocess.run([e2e.cleave_bin(), "ls"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 1 and b"SignatureDoesNotMatch" in r.stderr, r.stderr
    env = dict(os.environ, CLEAVE_ENDPOINT="http://127.0.0.1:1", CLEAVE_ACCESS_KEY="a",
               CLEAVE_SECRET_KEY="b")
    r = subprocess.run([e2e.cleave_bin(), "ls"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 1 and b"cannot connect" in r.stderr, r.stderr


def test_progress_bar_on_a_terminal(server, tmp_path: Path):
    """Transfers over a few MiB draw a progress bar when stderr is a terminal."""
    bucket = e2e.unique_bucket()
    run(server, "mb", f"s3://{bucket}")
    f = tmp_path / "p.bin"
    f.write_bytes(e2e.det_bytes("progress", 6 * MIB))
    env = dict(os.environ, CLEAVE_ENDPOINT=server.endpoint, CLEAVE_ACCESS_KEY=e2e.ACCESS_KEY,
               CLEAVE_SECRET_KEY=e2e.SECRET_KEY)
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr are the pty
        os.execve(e2e.cleave_bin(), [e2e.cleave_bin(), "cp", str(f), f"s3://{bucket}/p.bin"], env)
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"100%" in seen and b"MiB/s" in seen, seen
