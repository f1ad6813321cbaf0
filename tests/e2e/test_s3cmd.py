"""s3cmd (Debian's) against `cleave dev`: mb, put, ls, get, del, rb."""

from __future__ import annotations

import hashlib

import pytest

import cleave_e2e as e2e

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3cmd(server, tmp_path_factory):
    home = tmp_path_factory.mktemp("s3cmdhome")
    conf = e2e.s3cmd_config(f"{e2e.HOST}:{server.port}", home / "s3cfg")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def run(*args, check=True):
        return e2e.run([e2e.S3CMD_BIN, "-c", str(conf), *args], env, check=check)
    return run


def test_s3cmd_mb_put_ls_get_del_rb(s3cmd, tmp_path):
    bucket = e2e.unique_bucket("sc")
    s3cmd("mb", f"s3://{bucket}")
    assert f"s3://{bucket}" in s3cmd("ls").stdout

    small = tmp_path / "small.txt"
    small.write_bytes(b"hello from s3cmd\n")
    s3cmd("put", str(small), f"s3://{bucket}/dir/small.txt")
    # Over s3cmd's 15 MiB multipart chunk size: a multipart upload.
    big = tmp_path / "big.bin"
    big_data = e2e.det_bytes("s3cmd-big", 16 * MIB + 3)
    big.write_bytes(big_data)
    s3cmd("put", str(big), f"s3://{bucket}/big.bin")

    top = s3cmd("ls", f"s3://{bucket}").stdout
    assert "DIR" in top and f"s3://{bucket}/dir/" in top, top
    assert f"s3://{bucket}/big.bin" in top, top
    rec = s3cmd("ls", "--recursive", f"s3://{bucket}").stdout
    assert f"s3://{bucket}/dir/small.txt" in rec and f"s3://{bucket}/big.bin" in rec, rec
    line = next(ln for ln in rec.splitlines() if ln.endswith("/big.bin"))
    assert str(len(big_data)) in line.split(), line

    out = tmp_path / "out"
    out.mkdir()
    s3cmd("get", f"s3://{bucket}/dir/small.txt", str(out / "small.txt"))
    assert (out / "small.txt").read_bytes() == small.read_bytes()
    s3cmd("get", f"s3://{bucket}/big.bin", str(out / "big.bin"))
    assert hashlib.sha256((out / "big.bin").read_bytes()).digest() == \
        hashlib.sha256(big_data).digest()

    # rb refuses a non-empty bucket.
    p = s3cmd("rb", f"s3://{bucket}", check=False)
    assert p.returncode != 0 and "BucketNotEmpty" in (p.stderr + p.stdout), p
    s3cmd("del", f"s3://{bucket}/dir/small.txt")
    s3cmd("del", f"s3://{bucket}/big.bin")
    assert s3cmd("ls", "--recursive", f"s3://{bucket}").stdout.strip() == ""
    s3cmd("rb", f"s3://{bucket}")
    assert f"s3://{bucket}" not in s3cmd("ls").stdout


def test_s3cmd_info_and_metadata(s3cmd, tmp_path):
    bucket = e2e.unique_bucket("sc")
    s3cmd("mb", f"s3://{bucket}")
    f = tmp_path / "page.html"
    f.write_bytes(b"<p>hi</p>")
    s3cmd("put", "--mime-type=text/html", "--add-header=x-amz-meta-colour:green",
          str(f), f"s3://{bucket}/page.html")
    info = s3cmd("info", f"s3://{bucket}/page.html").stdout
    assert "text/html" in info, info
    assert hashlib.md5(b"<p>hi</p>").hexdigest() in info, info
    assert "colour" in info and "green" in info, info
