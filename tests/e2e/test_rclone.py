"""rclone (Debian's) against `cleave dev`: copy a directory tree up and back,
ls, check, delete and purge."""

from __future__ import annotations

import filecmp

import pytest

import cleave_e2e as e2e

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def rclone(server, tmp_path_factory):
    env = e2e.rclone_env(server.endpoint, tmp_path_factory.mktemp("rclonehome"))

    def run(*args, check=True):
        return e2e.run([e2e.RCLONE_BIN, "--retries", "1", "--low-level-retries", "1", *args],
                       env, check=check)
    return run


def make_tree(root):
    files = {
        "a.txt": b"alpha\n",
        "empty": b"",
        "sub/b.bin": e2e.det_bytes("rclone-b", 200_000),
        "sub/deeper/c.txt": b"c" * 5000,
        "sub/deeper/spaced name.txt": b"spaces\n",
        "ünï/ç.txt": "unicode ✓\n".encode(),
        "big/six-mib.bin": e2e.det_bytes("rclone-6mib", 6 * MIB + 5),
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def parse_ls(out: str) -> dict[str, int]:
    res = {}
    for line in out.splitlines():
        size, path = line.strip().split(" ", 1)
        res[path] = int(size)
    return res


def assert_same_tree(a, b):
    cmp = filecmp.dircmp(a, b)

    def walk(c):
        assert not c.left_only and not c.right_only and not c.diff_files and not c.funny_files, \
            (c.left, c.left_only, c.right_only, c.diff_files)
        for sub in c.subdirs.values():
            walk(sub)
    walk(cmp)
    for p in a.rglob("*"):
        if p.is_file():
            assert filecmp.cmp(p, b / p.relative_to(a), shallow=False), p


def test_rclone_copy_ls_check_and_back(rclone, tmp_path):
    bucket = e2e.unique_bucket("rc")
    src = tmp_path / "src"
    files = make_tree(src)
    rclone("mkdir", f"cleave:{bucket}")
    rclone("copy", str(src), f"cleave:{bucket}/tree")
    listed = parse_ls(rclone("ls", f"cleave:{bucket}/tree").stdout)
    assert listed == {k: len(v) for k, v in files.items()}
    # `check` compares sizes and MD5 hashes (the ETags of single-part objects).
    rclone("check", str(src), f"cleave:{bucket}/tree")
    dst = tmp_path / "dst"
    rclone("copy", f"cleave:{bucket}/tree", str(dst))
    assert_same_tree(src, dst)
    # A changed file is detected by check, and a second copy fixes it.
    (src / "a.txt").write_bytes(b"ALPHA\n")
    assert rclone("check", str(src), f"cleave:{bucket}/tree", check=False).returncode != 0
    rclone("copy", str(src), f"cleave:{bucket}/tree")
    rclone("check", str(src), f"cleave:{bucket}/tree")


def test_rclone_multipart_upload(rclone, tmp_path):
    bucket = e2e.unique_bucket("rc")
    src = tmp_path / "mp"
    src.mkdir()
    data = e2e.det_bytes("rclone-mp", 12 * MIB + 1)
    (src / "mp.bin").write_bytes(data)
    rclone("mkdir", f"cleave:{bucket}")
    rclone("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(src), f"cleave:{bucket}")
    assert parse_ls(rclone("ls", f"cleave:{bucket}").stdout) == {"mp.bin": len(data)}
    rclone("check", str(src), f"cleave:{bucket}")
    back = tmp_path / "back"
    rclone("copy", f"cleave:{bucket}", str(back))
    assert (back / "mp.bin").read_bytes() == data


def test_rclone_delete_and_purge(rclone, tmp_path):
    bucket = e2e.unique_bucket("rc")
    src = tmp_path / "src"
    make_tree(src)
    rclone("copy", str(src), f"cleave:{bucket}")
    rclone("delete", f"cleave:{bucket}/sub")
    left = parse_ls(rclone("ls", f"cleave:{bucket}").stdout)
    assert not any(k.startswith("sub/") for k in left) and "a.txt" in left and "ünï/ç.txt" in left
    rclone("delete", "--include", "*.txt", f"cleave:{bucket}")
    assert sorted(parse_ls(rclone("ls", f"cleave:{bucket}").stdout)) == ["big/six-mib.bin", "empty"]
    rclone("purge", f"cleave:{bucket}")
    buckets = rclone("lsd", "cleave:").stdout
    assert bucket not in buckets, buckets
