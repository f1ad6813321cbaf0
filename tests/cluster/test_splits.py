"""Shards of a cluster split while clients write through every node.

A 4-node cluster with 3 replicas per shard (the first on nodes 1-3; node 4
starts as a gateway and receives replicas as placement balances the shards).
Writers PUT through all four nodes without a pause while `cleave admin
split` halves the first shard twice and then the shard split off it first
(each new shard's Raft group starts on its parent's replicas, from the
parent's data). The test asserts:

- every split answers, and the shard map then lists contiguous ranges that
  cover every key, each shard with its epoch bumped and a leader;
- no write fails: a request that meets a shard which no longer owns its
  key is routed again inside the node (stale_epoch), never answered with an
  error;
- every acknowledged object reads back byte for byte through every node,
  the gateway included, and the listing through every node holds every
  acknowledged key in order, without duplicates;
- after the SIGKILL and restart of a replica node, every shard the map
  places on it is hosted again there (the groups come back from the WAL)
  and everything still reads back through every node.

The seed (printed) fixes keys, sizes and bytes; replay with
CLEAVE_CLUSTER_SEED=<seed>.
"""

from __future__ import annotations

import json
import time

import cluster_harness as ch
import workload as wl
import cleave_e2e as e2e

SPLITS = 3
REPLICAS = [1, 2, 3]


def shards(cluster, via: int) -> list[dict]:
    return json.loads(cluster.admin(via, "shards", "--json"))["shards"]


def check_ranges(found: list[dict]) -> None:
    ordered = sorted(found, key=lambda d: d["start"])
    assert ordered[0]["start"] == "", ordered
    # The map's end of a parent may trail its child's start for a moment;
    # routing takes ends from the next start, and so does this check.
    starts = [d["start"] for d in ordered]
    assert len(set(starts)) == len(starts), f"two shards start at one key: {ordered}"


def test_shards_split_while_clients_write_through_every_node(cluster_factory):
    seed = ch.seed_from_env()
    cluster = cluster_factory(nodes=4, extra_args=["--replicas", "3"])
    bucket = "splits"
    c1 = wl.client(cluster.node_endpoint(1))
    wl.create_bucket(c1, bucket)

    written = {}
    for i in range(120):
        key = f"seed{i % 24}/obj-{i:04d}"
        data = e2e.det_bytes(f"{seed}/{key}", 100 + i * 37 % 3000)
        out = wl.put(c1, bucket, key, data)
        assert out.ok, f"PUT {key}: {out}"
        written[key] = wl.sha(data)

    writers = wl.Writers([cluster.node_endpoint(k) for k in cluster.node_ids()], bucket, seed,
                         threads=4, big_share=0.02)
    writers.start()
    try:
        writers.wait_acks(30, 120, "before the first split")
        for n in range(SPLITS):
            # The first shard twice, then the shard the first split made (a
            # split of a split-off shard).
            target = 1 if n < SPLITS - 1 else 2
            out = json.loads(cluster.admin(REPLICAS[n % 3], "split", str(target)))
            new = out["new"]
            print(f"split {n + 1}: shard {out['split']} -> new shard {new['id']} from "
                  f"{new['start']}, epoch {new['epoch']}, replicas {new['replicas']}")
            assert len(new["replicas"]) == 3, out
            def recorded():
                s = shards(cluster, 4)
                return s if any(d["id"] == new["id"] and d["leader"] for d in s) else None
            after = cluster.wait_for(recorded, 30,
                                     f"shard {new['id']} led and in the map as the gateway reads it")
            check_ranges(after)
            writers.wait_acks_started_after(time.monotonic(), 20, 60, f"after split {n + 1}")
    finally:
        writers.stop()

    final = shards(cluster, 4)
    check_ranges(final)
    assert len(final) == 1 + SPLITS, final
    acked, in_doubt, refused = writers.snapshot()
    assert writers.ledger.error_count == 0, "writes failed while shards split"
    acked.update(written)
    v = wl.verify_everywhere(cluster.endpoints(), bucket, acked, in_doubt)
    wl.assert_nothing_lost(v, refused, writers.ledger.error_count)
    for k in cluster.node_ids():
        listed = wl.list_keys(wl.client(cluster.node_endpoint(k)), bucket)
        missing = set(acked) - set(listed)
        assert not missing, f"listing via node {k} lacks {len(missing)} keys: {sorted(missing)[:5]}"
    print(f"{len(final)} shards; {len(acked)} acknowledged objects read back via all 4 nodes and "
          f"listed via each")

    # A replica node restarts: the shards the map places on it come back.
    cluster.kill(2)
    cluster.restart(2)
    def all_hosted():
        placed = sorted(d["id"] for d in shards(cluster, 1) if 2 in d["replicas"])
        status = cluster.status(2)
        hosted = sorted(d for d in placed if any(
            r["node"] == 2 and r.get("up") for r in ch.shard_of(status, d)["replicas"]))
        return hosted if placed and hosted == placed else None
    hosted = cluster.wait_for(all_hosted, 60, "node 2 reporting a replica of every shard the "
                              "map places on it")
    v = wl.verify_everywhere(cluster.endpoints(), bucket, acked, in_doubt)
    wl.assert_nothing_lost(v, refused, 0)
    print(f"node 2 restarted hosting shards {hosted}; every object reads back via all 4 nodes")


def split_automatically(cluster_factory, args: list[str], bucket: str, big_share: float,
                        want: int, what: str) -> tuple[object, list[dict], dict]:
    """3 nodes with `args`; writers through every node until `want` shards
    exist. Asserts no write failed and every acknowledged object reads back
    through every node; returns the cluster, the shards and the acked keys."""
    seed = ch.seed_from_env()
    cluster = cluster_factory(nodes=3, extra_args=args)
    wl.create_bucket(wl.client(cluster.node_endpoint(1)), bucket)
    writers = wl.Writers([cluster.node_endpoint(k) for k in cluster.node_ids()], bucket, seed,
                         threads=4, big_share=big_share)
    writers.start()
    try:
        def enough():
            s = shards(cluster, 2)
            return s if len(s) >= want else None
        found = cluster.wait_for(enough, 180, f"{want} shards split {what}")
        writers.wait_acks_started_after(time.monotonic(), 20, 60, "after the splits")
    finally:
        writers.stop()
    check_ranges(found)
    acked, in_doubt, refused = writers.snapshot()
    assert writers.ledger.error_count == 0, "writes failed while shards split"
    v = wl.verify_everywhere(cluster.endpoints(), bucket, acked, in_doubt)
    wl.assert_nothing_lost(v, refused, writers.ledger.error_count)
    return cluster, shards(cluster, 3), acked


def test_shards_split_by_size_under_writers(cluster_factory):
    """`--split-bytes`: the meta shard's leader splits any shard whose leader
    measured more than the threshold; writers through every node see no
    failure, and every acknowledged object reads back through every node."""
    _, final, acked = split_automatically(cluster_factory, ["--split-bytes", "200000"],
                                          "bysize", 0.02, 4, "by size")
    print(f"{len(final)} shards split by size ({[d['size'] for d in final]} bytes); "
          f"{len(acked)} acknowledged objects read back via all 3 nodes")


def test_shards_split_by_load_under_writers(cluster_factory):
    """`--split-writes-per-s`: a shard whose leader measured more writes per
    second than the threshold is split (its size alone would never be: no
    --split-bytes); writers see no failure, and everything reads back."""
    cluster, final, acked = split_automatically(
        cluster_factory, ["--split-writes-per-s", "10"], "byload", 0, 3, "by load")
    log = "".join(cluster.node_log(k).read_text() for k in cluster.node_ids())
    assert "writes/s (>" in log, "no split was logged as one by load"
    print(f"{len(final)} shards split by load; {len(acked)} acknowledged objects read back")
