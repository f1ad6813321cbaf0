"""history.Recorder against a one-node `cleave dev`: the history must check
linearizable with tools/lincheck.

A healthy single node answers every request, so besides the verdict the test
asserts that no request failed, and that the conditional PUTs behaved both
ways (some succeeded, some failed their precondition). Then, as a control, it
plants one stale read in the recorded history and lincheck must reject it.

CLEAVE_HISTORY_SEED replays the clients' choices (not the thread timing);
CLEAVE_HISTORY_LOAD_S sets the length of the load (default 10 s).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import history  # noqa: E402  (also puts tests/e2e on sys.path)
import cleave_e2e as e2e  # noqa: E402

LOAD_S = float(os.environ.get("CLEAVE_HISTORY_LOAD_S", "10"))
KEYS = ["h/k0", "h/k1", "h/k2"]
BUCKET = "history"


def run_lincheck(lincheck: str, path: Path, html: Path) -> subprocess.CompletedProcess:
    p = subprocess.run([lincheck, "--history", str(path), "--timeout", "120s",
                        "--visualize", str(html)], capture_output=True, text=True, timeout=300)
    print(f"lincheck exit {p.returncode}: {p.stdout.strip()} | {p.stderr.strip()}")
    return p


def plant_stale_read(records: list[dict]) -> bool:
    """Makes one read return the value of an acknowledged write that another
    acknowledged write, completed before the read began, replaced."""
    writes = [r for r in records if r["op"] in ("write", "cas") and r["ok"] and not r["unknown"]]
    for r in records:
        if r["op"] != "read":
            continue
        for w1 in writes:
            if w1["key"] != r["key"]:
                continue
            if any(w2["key"] == r["key"] and w2["call_ns"] > w1["return_ns"]
                   and w2["return_ns"] < r["call_ns"] for w2 in writes):
                r["output"] = w1["value"]
                return True
    return False


def test_one_node_history_is_linearizable(tmp_path):
    seed = (int(os.environ["CLEAVE_HISTORY_SEED"]) if os.environ.get("CLEAVE_HISTORY_SEED")
            else random.randrange(1 << 32))
    print(f"seed {seed} (replay with CLEAVE_HISTORY_SEED={seed})")
    try:
        lincheck = history.build_lincheck(tmp_path)
    except FileNotFoundError as e:
        pytest.skip(str(e))

    srv = e2e.CleaveServer(tmp_path / "data", tmp_path / "logs")
    srv.start()
    try:
        r = e2e.signed_request(srv.port, "PUT", f"/{BUCKET}")
        assert r.status == 200, f"create bucket: {r}"
        # A generous timeout: on one healthy node, no request should time out.
        rec = history.Recorder([srv.endpoint], BUCKET, KEYS, e2e.ACCESS_KEY, e2e.SECRET_KEY,
                               seed, clients=6, timeout_s=15.0)
        rec.start()
        try:
            # The load lasts LOAD_S; meanwhile, watch that the server lives.
            end = time.monotonic() + LOAD_S
            tick = threading.Event()
            while time.monotonic() < end and srv.running():
                tick.wait(min(0.2, max(0.0, end - time.monotonic())))
            assert srv.running(), f"cleave died under load:\n{srv.log_tail()}"
        finally:
            rec.stop()
    finally:
        code = srv.stop()
    assert code == 0, f"cleave exited {code} on SIGTERM"

    path = tmp_path / "history.jsonl"
    rec.write_history(path)
    counts = rec.counts()
    print(f"counts {counts} (history {path})")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert counts["errors"] == {}, f"requests failed on a healthy node: {counts['errors']}"
    cas_done = [r for r in records if r["op"] == "cas"]
    assert any(r["ok"] and r["expect"] for r in cas_done), "no If-Match PUT succeeded"
    assert any(not r["ok"] and r["expect"] for r in cas_done), "no If-Match PUT failed"
    assert any(r["ok"] and not r["expect"] for r in cas_done), "no If-None-Match PUT succeeded"
    assert any(not r["ok"] and not r["expect"] for r in cas_done), "no If-None-Match PUT failed"
    assert counts["write"]["ok"] > 0 and counts["read"]["ok"] > 0

    p = run_lincheck(lincheck, path, tmp_path / "violation.html")
    assert p.returncode == 0, f"one node's history is not linearizable: {p.stdout}{p.stderr}"
    assert p.stdout.rstrip().endswith(": linearizable"), p.stdout

    # The control: the same history with one stale read must fail.
    assert plant_stale_read(records), "no read to make stale in the recorded history"
    planted = tmp_path / "planted.jsonl"
    planted.write_text("".join(json.dumps(r) + "\n" for r in records))
    p = run_lincheck(lincheck, planted, tmp_path / "planted.html")
    assert p.returncode == 1, f"lincheck missed a planted stale read: {p.stdout}{p.stderr}"
