"""A follower that was down while the log moved on catches up by snapshot.

The cluster snapshots often and keeps a short log behind each snapshot
(--snapshot-entries 64 --log-window 16). One
follower is SIGKILLed; the survivors then take a few hundred writes (small
inline objects, objects above 64 KiB that are stored as chunks, a few
multi-MiB ones), overwrites and deletes, and compact their logs, so the
entries the follower is missing no longer exist anywhere: its status shows
snapshot_index past the follower's applied index. The follower is restarted
and must:

- catch up: its applied index and log end reach the leader's, and its
  snapshot index moves past where it stopped (it installed a snapshot);
- serve, through its own S3 endpoint, every object with exactly the right
  bytes (the chunks it never received are fetched from its peers), list the
  bucket exactly, and answer 404 for the deleted keys.

The seed (printed) fixes sizes and bytes; replay with CLEAVE_CLUSTER_SEED.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import cleave_e2e as e2e
import cluster_harness as ch
import workload as wl

KIB = 1024
MIB = 1024 * KIB
SNAPSHOT_ENTRIES = 64
LOG_WINDOW = 16
SMALL_OBJECTS = 240
CHUNKED_OBJECTS = 24
BIG_SIZES = [4 * MIB + 1, 9 * MIB + 17, 13 * MIB + 4099]
OVERWRITES = 20
DELETES = 20


def test_restarted_follower_installs_snapshot_and_serves_everything(cluster_factory):
    seed = ch.seed_from_env()
    rng = random.Random(seed)
    cl = cluster_factory(extra_args=["--snapshot-entries", str(SNAPSHOT_ENTRIES),
                                     "--log-window", str(LOG_WINDOW)])
    bucket = "snap"
    wl.create_bucket(wl.client(cl.node_endpoint(1)), bucket)
    leader = cl.wait_for_leader(30)
    follower = rng.choice([k for k in cl.node_ids() if k != leader])
    live = [k for k in cl.node_ids() if k != follower]
    clients = {k: wl.client(cl.node_endpoint(k), read_timeout_s=120, pool=8) for k in cl.node_ids()}
    expected: dict[str, bytes] = {}

    def put_all(objects: dict[str, bytes], via: list[int]) -> None:
        items = sorted(objects.items())

        def one(i_item):
            i, (key, data) = i_item
            out = wl.put(clients[via[i % len(via)]], bucket, key, data)
            assert out.ok, f"PUT {key} ({len(data)} B) via node {via[i % len(via)]}: {out}"

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, enumerate(items)))
        expected.update(objects)

    # Some state the follower does receive.
    put_all({f"before/{i:03d}": e2e.det_bytes(f"{seed}/before/{i}", rng.randrange(0, 4 * KIB))
             for i in range(10)}, cl.node_ids())
    mine, _ = cl.wait_caught_up(follower, 30)
    stopped_at = mine["applied"]
    cl.kill(follower)
    print(f"leader {leader}; SIGKILL follower {follower} at applied index {stopped_at}")

    # Enough log to leave the follower behind the window several times over.
    objs = {}
    for i in range(SMALL_OBJECTS):
        objs[f"small/{i:04d}"] = e2e.det_bytes(f"{seed}/small/{i}", rng.randrange(0, 16 * KIB))
    for i in range(CHUNKED_OBJECTS):
        objs[f"chunked/{i:03d}"] = e2e.det_bytes(f"{seed}/chunked/{i}",
                                                   rng.randrange(64 * KIB + 1, 2 * MIB))
    for i, size in enumerate(BIG_SIZES):
        objs[f"big/{i}"] = e2e.det_bytes(f"{seed}/big/{i}", size)
    put_all(objs, live)
    rewrites = {k: e2e.det_bytes(f"{seed}/rewrite/{k}", rng.randrange(0, 200 * KIB))
                for k in rng.sample(sorted(expected), OVERWRITES)}
    put_all(rewrites, live)
    doomed = rng.sample(sorted(k for k in expected if k not in rewrites), DELETES)
    for i, key in enumerate(doomed):
        out = wl.delete(clients[live[i % 2]], bucket, key)
        assert out.ok, f"DELETE {key}: {out}"
        del expected[key]

    for k in live:
        cl.compact(k)

    # The log kept behind a snapshot is LOG_WINDOW entries long: past this
    # point the entries after stopped_at exist on no node any more.
    def compacted():
        snaps = {k: cl.replica(k)["snapshot_index"] for k in live}
        return snaps if all(s > stopped_at + LOG_WINDOW for s in snaps.values()) else None

    snaps = cl.wait_for(compacted, 60, f"the live nodes' snapshot_index to pass "
                        f"{stopped_at} + the log window {LOG_WINDOW}")
    lead_now = cl.wait_for_leader(10, among=live)
    print(f"snapshot_index after compaction {snaps} (follower stopped at {stopped_at}); "
          f"leader {lead_now}: {cl.replica(lead_now)}")

    cl.restart(follower)
    mine, lead = cl.wait_caught_up(follower, 120)
    print(f"follower {follower} caught up: {mine}; leader: {lead}")
    assert mine["snapshot_index"] > stopped_at, (
        f"the follower's snapshot_index {mine['snapshot_index']} did not move past where it "
        f"stopped ({stopped_at}), although the entries it missed were compacted away")

    # Everything through the restarted follower's own endpoint.
    fc = clients[follower]
    listed = wl.list_keys(fc, bucket)
    want_sizes = {k: len(v) for k, v in expected.items()}
    missing = sorted(set(want_sizes) - set(listed))
    extra = sorted(set(listed) - set(want_sizes))
    wrong_size = sorted(k for k in want_sizes if k in listed and listed[k] != want_sizes[k])
    assert not (missing or extra or wrong_size), (
        f"listing through node {follower}: missing {missing[:10]}, extra {extra[:10]}, "
        f"wrong sizes {wrong_size[:10]}")

    def check(key):
        out = wl.get(fc, bucket, key)
        if key in expected:
            if not out.ok:
                return f"{key}: {out}"
            if wl.sha(out.body or b"") != wl.sha(expected[key]):
                return f"{key}: wrong bytes ({len(out.body or b'')} B, want {len(expected[key])})"
        elif not (out.kind == "http" and out.status == 404):
            return f"deleted {key}: {out} (want 404)"
        return None

    with ThreadPoolExecutor(6) as pool:
        problems = [p for p in pool.map(check, sorted(expected) + doomed) if p]
    big = sum(1 for k in expected if len(expected[k]) > 64 * KIB)
    print(f"read {len(expected)} objects ({big} stored as chunks, largest "
          f"{max(len(v) for v in expected.values())} B) and {len(doomed)} deleted keys "
          f"through node {follower}: {len(problems)} problems")
    assert not problems, "\n".join(problems[:30])

    # The reads changed nothing: the follower still matches the leader.
    mine, lead = cl.wait_caught_up(follower, 30)
    assert mine["applied"] == lead["applied"] and mine["last_index"] == lead["last_index"]
