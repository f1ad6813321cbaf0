"""tools/lincheck must be able to fail: run it on small hand-written
histories, linearizable and not, and check its exit codes (0 linearizable,
1 not, 2 unreadable input).

Builds tools/lincheck with `go build` into a temporary directory (or uses
$CLEAVE_LINCHECK); skipped only when there is no Go toolchain.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import history  # noqa: E402


@pytest.fixture(scope="module")
def lincheck(tmp_path_factory) -> str:
    try:
        return history.build_lincheck(tmp_path_factory.mktemp("lincheck"))
    except FileNotFoundError as e:
        pytest.skip(f"cannot test tools/lincheck: {e}")


def op(client, kind, key, call, ret, **fields):
    rec = {"client": client, "op": kind, "key": key, "call_ns": call, "return_ns": ret,
           "unknown": False}
    if kind in ("write", "cas"):
        rec.setdefault("ok", True)
    rec.update(fields)
    return rec


def check(lincheck: str, tmp_path: Path, records: list[dict] | str,
          *extra: str) -> subprocess.CompletedProcess:
    path = tmp_path / "history.jsonl"
    text = records if isinstance(records, str) else "".join(json.dumps(r) + "\n"
                                                            for r in records)
    path.write_text(text)
    p = subprocess.run([lincheck, "--history", str(path), *extra], capture_output=True,
                       text=True, timeout=120)
    print(f"exit {p.returncode}: {p.stdout}{p.stderr}")
    return p


# Two keys. k1: writes a and b overlap; one read sees b, then a later one a,
# so b took effect first. A cas a->c succeeds and a concurrent cas a->d loses.
# k2: a create-if-absent wins once, and the loser then reads the winner.
LINEARIZABLE = [
    op(0, "write", "k1", 0, 100, value="a"),
    op(1, "write", "k1", 10, 50, value="b"),
    op(2, "read", "k1", 20, 60, output="b"),
    op(2, "read", "k1", 110, 120, output="a"),
    op(0, "cas", "k1", 130, 140, expect="a", value="c"),
    op(1, "cas", "k1", 135, 150, expect="a", value="d", ok=False),
    op(1, "read", "k1", 160, 170, output="c"),
    op(3, "read", "k2", 0, 5, output=""),
    op(3, "cas", "k2", 10, 20, expect="", value="x"),
    op(4, "cas", "k2", 15, 30, expect="", value="y", ok=False),
    op(4, "read", "k2", 31, 32, output="x"),
]


def test_linearizable_history_passes(lincheck, tmp_path):
    p = check(lincheck, tmp_path, LINEARIZABLE)
    assert p.returncode == 0
    assert p.stdout.strip().endswith(
        "11 operations (2 writes, 5 reads, 4 cas, 0 unknown) on 2 keys: linearizable"), p.stdout


def test_stale_read_fails(lincheck, tmp_path):
    # "new" was acknowledged before the read began, yet the read sees "old".
    records = [op(0, "write", "k1", 0, 10, value="old"),
               op(0, "write", "k1", 20, 30, value="new"),
               op(1, "read", "k1", 40, 50, output="old"),
               op(2, "write", "k2", 0, 10, value="fine"),
               op(2, "read", "k2", 20, 30, output="fine")]
    html = tmp_path / "violation.html"
    p = check(lincheck, tmp_path, records, "--visualize", str(html))
    assert p.returncode == 1
    assert "NOT linearizable (key k1)" in p.stdout, p.stdout
    assert html.stat().st_size > 0


def test_lost_cas_fails(lincheck, tmp_path):
    # The cas v1 -> v2 was acknowledged, but a later read still sees v1.
    records = [op(0, "write", "k", 0, 10, value="v1"),
               op(1, "cas", "k", 20, 30, expect="v1", value="v2"),
               op(2, "read", "k", 40, 50, output="v1")]
    assert check(lincheck, tmp_path, records).returncode == 1


def test_two_creates_fail(lincheck, tmp_path):
    # If-None-Match: * granted twice in a row.
    records = [op(0, "cas", "k", 0, 10, expect="", value="a"),
               op(1, "cas", "k", 20, 30, expect="", value="b")]
    assert check(lincheck, tmp_path, records).returncode == 1


def test_unknown_write_may_land_late_or_never(lincheck, tmp_path):
    records = [op(0, "write", "k", 0, 5, value="v"),
               op(1, "write", "k", 10, 11, value="u", ok=False, unknown=True),
               op(0, "read", "k", 100, 110, output="v"),
               op(0, "read", "k", 200, 210, output="u"),
               op(2, "write", "j", 0, 1, value="never", ok=False, unknown=True),
               op(2, "read", "j", 100, 110, output="")]
    assert check(lincheck, tmp_path, records).returncode == 0


def test_unknown_write_cannot_land_before_its_call(lincheck, tmp_path):
    records = [op(0, "read", "k", 0, 10, output="u"),
               op(1, "write", "k", 20, 21, value="u", ok=False, unknown=True)]
    assert check(lincheck, tmp_path, records).returncode == 1


def test_unreadable_input_exits_2(lincheck, tmp_path):
    assert check(lincheck, tmp_path, "{not json\n").returncode == 2
    bad_op = [op(0, "delete", "k", 0, 1)]
    assert check(lincheck, tmp_path, bad_op).returncode == 2
