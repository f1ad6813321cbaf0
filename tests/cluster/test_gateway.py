"""Five nodes, three replicas per shard: nodes 4 and 5 are gateways.

`cleave local --nodes 5 --replicas 3 --meta-replicas 3` places the meta
shard's and the data shard's voters on nodes 1-3; nodes 4 and 5 hold no
replica and serve S3 by reading through the replicas (ReadIndex on the
replica that answers) and proposing to the leader. The test asserts:

- placement: every node's status lists exactly nodes 1, 2, 3 as the
  replicas of shard 0 (meta) and shard 1 (data);
- objects written through the gateways, inline and chunked (9 MiB, three
  chunks), read back byte for byte through every node, and objects written
  through a replica read back through the gateways;
- reads through one gateway are spread over the replicas: after GETs sent
  only to node 5, every replica's `reads_served` counter grew;
- writers running through the gateways while the data shard's leader is
  SIGKILLed: writes sent after the kill are acknowledged within
  RESUME_DEADLINE_S, and every acknowledged object reads back with its bytes
  from every live node (lost must be 0);
- `cleave admin shards` through a gateway shows the one data shard on nodes
  1-3 with its leader; `cleave admin plan` is empty while all is well;
- re-replication: once the killed node is past the liveness timeout
  (--down-after-ms), the meta shard's leader moves its replica to a gateway
  node (learner, catch-up, chunk repair, promotion, removal of the dead
  node) and the shard map records the new replicas with a higher epoch;
- the meta shard's replica on the dead node is re-created the same way;
- the new replicas really hold the data: a second original replica is
  SIGKILLed, a bucket can still be created (the meta shard has a majority),
  and every acknowledged object (the 9 MiB ones included) still reads back
  byte for byte from every live node;
- the first killed node, restarted, finds its replicas replaced and serves
  S3 as a gateway (a read, a bucket creation) and registers as live.

The seed (printed) fixes keys, sizes and bytes; replay with
CLEAVE_CLUSTER_SEED=<seed>.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import cleave_e2e as e2e
import cluster_harness as ch
import workload as wl

REPLICAS = [1, 2, 3]
GATEWAYS = [4, 5]
RESUME_DEADLINE_S = 20
REPAIR_DEADLINE_S = 90
SPREAD_READS = 60
DOWN_AFTER_MS = 3000


def replicas_per_shard(status: dict) -> dict[int, list[int]]:
    return {s["id"]: sorted(r["node"] for r in s["replicas"]) for s in status["shards"]}


def reads_served(cluster: ch.LocalCluster, asked: int) -> dict[int, int]:
    return {n["id"]: n["reads_served"] for n in cluster.status(asked)["nodes"] if n["up"]}


def test_gateways_route_to_three_replicas(cluster_factory):
    seed = ch.seed_from_env()
    cluster = cluster_factory(nodes=5, extra_args=["--replicas", "3", "--meta-replicas", "3",
                                                   "--down-after-ms", str(DOWN_AFTER_MS)])

    for k in cluster.node_ids():
        placed = replicas_per_shard(cluster.status(k))
        assert placed == {0: REPLICAS, 1: REPLICAS}, f"node {k} sees placement {placed}"
    print("placement: shards 0 and 1 on nodes 1-3 as every node sees it")
    # The shard map as a gateway serves it (`cleave admin shards`), and the
    # placement driver's view: 3 replicas over 5 nodes is balanced.
    shards = json.loads(cluster.admin(5, "shards", "--json"))["shards"]
    assert [(d["id"], d["replicas"], d["epoch"]) for d in shards] == [(1, REPLICAS, 1)], shards
    assert shards[0]["leader"] in REPLICAS, shards
    plan = cluster.wait_for(
        lambda: (p := json.loads(cluster.admin(4, "plan", "--json")))["live"] == [1, 2, 3, 4, 5]
        and p, 30, "every node registered in the meta shard")
    assert plan["steps"] == [], f"a balanced healthy cluster needs no step: {plan}"

    bucket = "gateway"
    gw = {k: wl.client(cluster.node_endpoint(k)) for k in cluster.node_ids()}
    wl.create_bucket(gw[4], bucket)

    # Inline and chunked objects, written through each gateway and a replica.
    written = {}
    for k, size in ((4, 3000), (5, 9 * wl.MIB + 17), (4, 5 * wl.MIB), (2, 700 * wl.KIB)):
        key = f"dir{k}/obj-{size}"
        data = e2e.det_bytes(f"{seed}/{key}", size)
        out = wl.put(gw[k], bucket, key, data)
        assert out.ok, f"PUT {key} via node {k}: {out}"
        written[key] = wl.sha(data)
    for key, want in written.items():
        for k, c in gw.items():
            out = wl.get(c, bucket, key)
            assert out.ok, f"GET {key} via node {k}: {out}"
            assert wl.sha(out.body or b"") == want, f"GET {key} via node {k}: wrong bytes"
    listed = wl.list_keys(gw[5], bucket)
    assert sorted(listed) == sorted(written), f"listing via gateway 5: {sorted(listed)}"
    print(f"{len(written)} objects (up to 9 MiB) written via gateways and a replica, "
          f"read back byte for byte via all 5 nodes, listed via a gateway")

    # Spreading: GETs sent only to gateway 5 are answered by every replica.
    before = reads_served(cluster, 1)
    small = next(k for k in written if k.endswith("-3000"))
    for _ in range(SPREAD_READS):
        out = wl.get(gw[5], bucket, small)
        assert out.ok, f"GET via node 5: {out}"
    after = reads_served(cluster, 1)
    grew = {k: after.get(k, 0) - before.get(k, 0) for k in REPLICAS}
    print(f"{SPREAD_READS} GETs via gateway 5: reads answered per replica {grew}")
    assert all(v > 0 for v in grew.values()), f"reads not spread over the replicas: {grew}"
    for k in GATEWAYS:
        assert after.get(k, 0) == 0, f"gateway {k} answered replica reads: {after}"

    # Writers through the gateways while the data shard's leader dies.
    writers = wl.Writers([cluster.node_endpoint(k) for k in GATEWAYS], bucket, seed, threads=4)
    writers.start()
    try:
        writers.wait_acks(40, 120, "before the kill")
        old = cluster.wait_for_leader(10, among=REPLICAS)
        t_kill = time.monotonic()
        cluster.kill(old)
        print(f"SIGKILL data shard leader node {old} after {len(writers.ledger.acked)} acks")
        t_resumed = writers.wait_acks_started_after(t_kill, 10, RESUME_DEADLINE_S,
                                                    "through the gateways after the kill")
        print(f"writes via the gateways sent after the kill acknowledged "
              f"{t_resumed - t_kill:.2f}s after it")
        writers.wait_acks_started_after(t_resumed, 20, 60, "after the resumption")
    finally:
        writers.stop()

    # Past the liveness timeout the meta shard's leader re-replicates: a
    # gateway node joins as a learner, catches up, fetches every chunk, is
    # promoted, and the dead node is dropped; the shard map records it.
    def repaired():
        d = json.loads(cluster.admin(4, "shards", "--json"))["shards"][0]
        return d if old not in d["replicas"] and len(d["replicas"]) == 3 else None
    shard = cluster.wait_for(repaired, REPAIR_DEADLINE_S, f"node {old}'s replica re-created")
    t_repaired = time.monotonic()
    new = [k for k in shard["replicas"] if k not in REPLICAS]
    print(f"shard 1 re-replicated {t_repaired - t_kill:.1f}s after the kill: replicas "
          f"{shard['replicas']} (new: {new}), epoch {shard['epoch']}")
    assert len(new) == 1 and new[0] in GATEWAYS, shard
    assert shard["epoch"] > 1, shard
    plan = cluster.wait_for(lambda: (p := json.loads(cluster.admin(4, "plan", "--json")))
                            ["steps"] == [] and p, 30, "an empty plan after the repair")
    # The meta shard (on nodes 1-3 too) is repaired the same way.
    def meta_repaired():
        meta = ch.shard_of(cluster.status(4), 0)
        nodes = sorted(r["node"] for r in meta["replicas"])
        voters = all(r.get("voter") for r in meta["replicas"])
        return nodes if old not in nodes and len(nodes) == 3 and voters else None
    meta_nodes = cluster.wait_for(meta_repaired, REPAIR_DEADLINE_S, "the meta shard repaired")
    print(f"meta shard re-replicated {time.monotonic() - t_kill:.1f}s after the kill: {meta_nodes}")

    # The proof that the new replica holds the data, chunks included: kill
    # a second original replica; the survivors are one original and the new
    # one, a majority of the three, and every object must still read back.
    second = next(k for k in shard["replicas"] if k in REPLICAS)
    cluster.kill(second)
    print(f"SIGKILL node {second}: replicas left {[k for k in shard['replicas'] if k != second]}")

    # The meta shard still has a majority: bucket operations work (the
    # first attempt may meet the election after the kill: retried as a
    # client would, an in-doubt attempt that did apply answers "owned").
    def bucket_created():
        out = wl._call(lambda: gw[5].create_bucket(Bucket="after-two-kills"))
        return out.ok or out.code == "BucketAlreadyOwnedByYou"
    cluster.wait_for(bucket_created, RESUME_DEADLINE_S, "CreateBucket after the second kill")

    acked, in_doubt, refused = writers.snapshot()
    acked.update(written)  # the objects of up to 9 MiB written first
    live = [cluster.node_endpoint(k) for k in cluster.live_nodes()]
    v = wl.verify_everywhere(live, bucket, acked, in_doubt)
    wl.assert_nothing_lost(v, refused, writers.ledger.error_count)

    # The first killed node comes back: its replicas of both shards were
    # replaced while it was down, so it must find that out and serve S3 as
    # a gateway (reads, writes, bucket operations), and register as live.
    cluster.restart(old)
    c_old = wl.client(cluster.node_endpoint(old))
    key, want = next(iter(written.items()))
    # Healthy means it serves; an answer of 503 in the first moments (while it
    # finds out its replicas were replaced) is retried as a client would, and
    # printed; wrong bytes never are.
    refusals = []

    def read_via_old():
        out = wl.get(c_old, bucket, key)
        if not out.ok:
            refusals.append(f"{out.kind} {out.status} {out.code}")
            return None
        return out
    out = cluster.wait_for(read_via_old, RESUME_DEADLINE_S, f"GET {key} via restarted node {old}")
    assert wl.sha(out.body or b"") == want, f"GET {key} via restarted node {old}: wrong bytes"
    print(f"restarted node {old} read back {key} (refused first: {refusals})")

    def bucket_via_old():
        out = wl._call(lambda: c_old.create_bucket(Bucket="from-the-restarted-node"))
        return out.ok or out.code == "BucketAlreadyOwnedByYou"
    cluster.wait_for(bucket_via_old, RESUME_DEADLINE_S, f"CreateBucket via restarted node {old}")
    cluster.wait_for(lambda: old in json.loads(cluster.admin(4, "plan", "--json"))["live"],
                     REPAIR_DEADLINE_S,
                     f"node {old} registered as live again")
    print(f"node {old} restarted: serves reads and bucket operations as a gateway, live again")


def test_drain_moves_the_replica_to_the_spare_node(cluster_factory):
    """`cleave admin drain 1` on 4 nodes (3 replicas): node 1's replica of the
    data shard moves to node 4 (learner, catch-up, chunks, promotion), node 1
    leaves the group, and every object written before reads back from every
    node; `--undo` clears the mark and the plan stays empty (no move back:
    the counts are even)."""
    seed = ch.seed_from_env()
    cluster = cluster_factory(nodes=4, extra_args=["--down-after-ms", str(DOWN_AFTER_MS)])
    c = wl.client(cluster.node_endpoint(2))
    bucket = "drain"
    wl.create_bucket(c, bucket)
    written = {}
    for i, size in enumerate((100, 70 * wl.KIB, 6 * wl.MIB)):
        key = f"d{i}/obj"
        data = e2e.det_bytes(f"{seed}/{key}", size)
        out = wl.put(c, bucket, key, data)
        assert out.ok, f"PUT {key}: {out}"
        written[key] = wl.sha(data)

    print(cluster.admin(3, "drain", "1").strip())
    t0 = time.monotonic()

    def moved():
        d = json.loads(cluster.admin(3, "shards", "--json"))["shards"][0]
        return d if d["replicas"] == [2, 3, 4] else None
    shard = cluster.wait_for(moved, REPAIR_DEADLINE_S, "node 1's replica moved to node 4")
    print(f"drained in {time.monotonic() - t0:.1f}s: replicas {shard['replicas']}, "
          f"epoch {shard['epoch']}")
    plan = json.loads(cluster.admin(2, "plan", "--json"))
    assert plan["draining"] == [1] and plan["steps"] == [], plan
    # Node 1 left the group: it notices within a heartbeat period and goes
    # on serving as a gateway.
    c1 = wl.client(cluster.node_endpoint(1))
    first = next(iter(written))
    cluster.wait_for(lambda: wl.get(c1, bucket, first).ok, 30,
                     "node 1 serving reads again, as a gateway")

    v = wl.verify_everywhere(cluster.endpoints(), bucket, written, {})
    print(f"acknowledged {v.acknowledged}, lost {len(v.lost)}, reads checked {v.checked_reads}")
    assert not v.lost and not v.problems, "\n".join(v.problems[:30])

    print(cluster.admin(3, "drain", "1", "--undo").strip())
    plan = json.loads(cluster.admin(2, "plan", "--json"))
    assert plan["draining"] == [] and plan["steps"] == [], plan


def _start_gateway(cluster: ch.LocalCluster, data_dir, host: str, port: int):
    """`cleave gateway` for the cluster: the members' --join list and the
    cluster secret come from node 1's cmdline and env.json."""
    argv = json.loads((cluster.node_dir(1) / "cmdline").read_text())
    join = argv[argv.index("--join") + 1]
    env = dict(os.environ, **json.loads((cluster.node_dir(1) / "env.json").read_text()))
    cmd = [e2e.cleave_bin(), "gateway", "--data", str(data_dir), "--listen", f"{host}:{port}",
           "--join", join, "--log-level", "info"]
    log = open(f"{data_dir}.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    cluster.wait_for(lambda: ch.health(host, port) == 200 or proc.poll() is not None, 60,
                     f"the gateway at {host}:{port} to serve")
    assert proc.poll() is None, f"cleave gateway exited {proc.returncode}"
    return proc


def test_standalone_gateways_serve_and_restart_losing_nothing(cluster_factory, tmp_path):
    """Two `cleave gateway` processes (no members: not in --join, no replica,
    not in the registry) in front of a 3-node cluster: objects written
    through one read back byte for byte through the other and through the
    members; one gateway is stopped and started again on an empty data dir
    and still serves everything; the registry and the plan never list them."""
    seed = ch.seed_from_env()
    cluster = cluster_factory(nodes=3)
    port = cluster.port
    gw_hosts = ["127.0.0.8", "127.0.0.9"]
    procs = [_start_gateway(cluster, tmp_path / f"gw{i}", h, port)
             for i, h in enumerate(gw_hosts)]
    try:
        gws = [wl.client(f"http://{h}:{port}") for h in gw_hosts]
        bucket = "standalone"
        wl.create_bucket(gws[0], bucket)
        written = {}
        for i, size in enumerate((10, 64 * wl.KIB + 1, 5 * wl.MIB)):
            key = f"g{i}/obj"
            data = e2e.det_bytes(f"{seed}/{key}", size)
            out = wl.put(gws[i % 2], bucket, key, data)
            assert out.ok, f"PUT {key} via gateway {i % 2}: {out}"
            written[key] = wl.sha(data)
        endpoints = [f"http://{h}:{port}" for h in gw_hosts] + cluster.endpoints()
        v = wl.verify_everywhere(endpoints, bucket, written, {})
        assert not v.lost and not v.problems, "\n".join(v.problems[:30])
        assert sorted(wl.list_keys(gws[1], bucket)) == sorted(written)

        # A restart on an empty data dir loses nothing: a gateway holds no state.
        procs[0].terminate()
        assert procs[0].wait(30) == 0, "gateway exit code on SIGTERM"
        procs[0] = _start_gateway(cluster, tmp_path / "gw0-again", gw_hosts[0], port)
        v = wl.verify_everywhere(endpoints[:1], bucket, written, {})
        assert not v.lost and not v.problems, "\n".join(v.problems[:30])
        print(f"2 standalone gateways: {len(written)} objects written through them read back "
              f"via {len(endpoints)} endpoints; gateway 1 restarted empty and served all "
              f"({v.checked_reads} reads)")

        plan = json.loads(cluster.admin(1, "plan", "--json"))
        assert plan["live"] == [1, 2, 3] and plan["down"] == [], plan
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
