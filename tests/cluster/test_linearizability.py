"""Record a client history under failures and check it is linearizable.

history.Recorder runs clients that read, write and compare-and-set a handful
of keys through all three nodes and records every call and answer (an
operation whose outcome was never learnt is recorded as unknown). While it
runs, the nemesis:

1. SIGKILLs the shard leader, and waits for the survivors to elect another;
2. restarts the killed node;
3. partitions a follower (admin failpoint), then heals it.

Between steps it waits until the clients have completed more operations, so
every phase is exercised. Afterwards every key is read once more through
every node; those reads go into the history too (a lost acknowledged write
would make them contradict it), and are also checked directly: the final
value of a key must be one written by an operation that could be the last
one (lost writes must be 0). tools/lincheck (porcupine) then checks the
whole history and must find it linearizable (exit 0).

The seed (printed) fixes the clients' operations and the nemesis' choices;
replay with CLEAVE_LIN_SEED=<seed> (thread timing is not replayable).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

import cleave_e2e as e2e
import cluster_harness as ch
import workload as wl
import history
from history import Recorder

KEYS = [f"lin/k{i}" for i in range(5)]
CLIENTS = 6
OP_TIMEOUT_S = 5.0
LEADER_DEADLINE_S = 15
PHASE_OPS = 60            # operations completed per phase, at least
PHASE_DEADLINE_S = 120
LINCHECK_TIMEOUT = "300s"
FINAL_READ_DEADLINE_S = 30


def completed_ops(rec: Recorder) -> int:
    """Operations the recorder's clients have completed with a known outcome."""
    return int(rec.counts()["ok"])


def wait_progress(rec: Recorder, n: int, what: str) -> None:
    start = completed_ops(rec)
    ch.wait_for(lambda: completed_ops(rec) >= start + n, PHASE_DEADLINE_S,
                f"{n} more completed operations {what} (counts {rec.counts()})")


def read_history(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def final_reads(cluster: ch.LocalCluster, bucket: str, first_client: int) -> list[dict]:
    """Reads every key once through every node, as history records."""
    recs = []
    for n, k in enumerate(cluster.node_ids()):
        c = wl.client(cluster.node_endpoint(k), read_timeout_s=30)
        for key in KEYS:
            # A failed read says nothing (and is left out); a node that has
            # just been healed may answer 503 until it hears from the leader.
            deadline = time.monotonic() + FINAL_READ_DEADLINE_S
            while True:
                call = time.monotonic_ns()
                out = wl.get(c, bucket, key)
                ret = time.monotonic_ns()
                if out.ok or (out.kind == "http" and out.status == 404):
                    break
                assert time.monotonic() < deadline, \
                    f"final read of {key} through node {k} still fails: {out}"
                time.sleep(0.1)  # retrying with a deadline
            value = (out.body or b"").decode() if out.ok else ""
            recs.append({"client": first_client + n, "op": "read", "key": key,
                         "output": value, "ok": True, "unknown": False,
                         "call_ns": call, "return_ns": ret})
    return recs


def lost_writes(records: list[dict], finals: list[dict]) -> list[str]:
    """Keys whose final value no write could have left there last.

    A write W can be the last one only if it did not finish before some
    acknowledged write started (else that write follows it). An absent key
    is right only if no write was acknowledged.
    """
    problems = []
    for key in KEYS:
        writes = [r for r in records if r["key"] == key and r["op"] in ("write", "cas")
                  and (r.get("unknown") or r.get("ok"))]
        acked = [w for w in writes if not w.get("unknown")]
        latest_call = max((w["call_ns"] for w in acked), default=None)
        seen = {r["output"] for r in finals if r["key"] == key}
        if len(seen) != 1:
            problems.append(f"{key}: nodes disagree on the final value: {sorted(seen)}")
            continue
        (v,) = seen
        if v == "":
            if acked:
                problems.append(f"{key}: absent, but {len(acked)} writes were acknowledged")
            continue
        could_be_last = [w for w in writes if w["value"] == v and (
            w.get("unknown") or latest_call is None or w["return_ns"] >= latest_call)]
        if not could_be_last:
            problems.append(f"{key}: final value {v!r} was overwritten by a later "
                            f"acknowledged write (lost write)")
    return problems


def test_history_is_linearizable_under_kill_and_partition(cluster, tmp_path):
    seed = ch.seed_from_env("CLEAVE_LIN_SEED")
    rng = random.Random(seed)
    try:
        lincheck = history.build_lincheck(tmp_path)
    except FileNotFoundError as e:
        pytest.fail(str(e), pytrace=False)
    bucket = "lin"
    wl.create_bucket(wl.client(cluster.node_endpoint(1)), bucket)
    rec = Recorder(cluster.endpoints(), bucket, KEYS, e2e.ACCESS_KEY, e2e.SECRET_KEY, seed,
                   clients=CLIENTS, timeout_s=OP_TIMEOUT_S)
    rec.start()
    try:
        wait_progress(rec, PHASE_OPS, "before the nemesis")
        old = cluster.wait_for_leader(10)
        t_kill = time.monotonic()
        cluster.kill(old)
        new = cluster.wait_for_leader(LEADER_DEADLINE_S, not_in=[old])
        print(f"killed leader {old}; node {new} leads after {time.monotonic() - t_kill:.2f}s")
        wait_progress(rec, PHASE_OPS, "with the old leader dead")

        cluster.restart(old)
        print(f"restarted node {old}")
        wait_progress(rec, PHASE_OPS, "after the restart")

        lead = cluster.wait_for_leader(LEADER_DEADLINE_S)
        follower = rng.choice([k for k in cluster.node_ids() if k != lead])
        cluster.partition(follower, True)
        print(f"partitioned follower {follower} (leader {lead})")
        wait_progress(rec, PHASE_OPS, "with a follower partitioned")
        cluster.partition(follower, False)
        print(f"healed follower {follower}")
        wait_progress(rec, PHASE_OPS, "after healing")
    finally:
        rec.stop()

    path = tmp_path / "history.jsonl"
    rec.write_history(path)
    records = read_history(path)
    cluster.wait_for_leader(LEADER_DEADLINE_S)
    finals = final_reads(cluster, bucket, 1 + max(r["client"] for r in records))
    with open(path, "a") as f:
        for r in finals:
            f.write(json.dumps(r) + "\n")
    lost = lost_writes(records, finals)

    acked_writes = sum(1 for r in records if r["op"] in ("write", "cas")
                       and not r.get("unknown") and r.get("ok"))
    unknown = sum(1 for r in records if r.get("unknown"))
    p = subprocess.run([lincheck, "--history", str(path), "--timeout", LINCHECK_TIMEOUT,
                        "--visualize", str(tmp_path / "violation.html")],
                       capture_output=True, text=True, timeout=900)
    print(f"recorder counts {rec.counts()}")
    print(f"acknowledged writes {acked_writes}, lost writes {len(lost)}, unknown outcomes "
          f"{unknown}, checked operations {len(records) + len(finals)} "
          f"(history {path})")
    print(f"lincheck exit {p.returncode}: {p.stdout.strip()} {p.stderr.strip()}")
    assert not lost, "\n".join(lost)
    assert p.returncode == 0, (f"lincheck: {p.stdout}{p.stderr} (history {path}, seed {seed}, "
                               f"replay with CLEAVE_LIN_SEED={seed})")
    assert acked_writes > 0
