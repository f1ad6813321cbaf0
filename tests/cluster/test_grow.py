"""A cluster that grows: shards split, nodes join, a node dies.

A 3-node cluster. While writers, listers and a history recorder run without
a pause (through nodes 1 and 3, which stay up):

1. the biggest shard is split (`cleave admin split`, the key halving it by
   size) until the map holds at least 16 shards (splits by size alone are
   cluster_splits' subject);
2. a fourth and then a fifth node join (`cleave server --node-id 4|5`), and
   the placement driver moves replicas to them until each holds its share;
3. node 2 is killed with SIGKILL; once it counts as down (`--down-after-ms`)
   its replicas are re-created on the other nodes, so every shard again has
   3 voters, all on live nodes.

Asserted throughout and at the end:
- no client request failed beyond the SDK's normal retries (boto3's
  standard mode, 5 attempts, against nodes that stay up);
- every listing (paginated ListObjectsV2 of 250 keys a page, so continuation
  tokens cross splits and moves) is in strictly increasing key order, holds
  no key twice and holds every key acknowledged before it began;
- every acknowledged object reads back with its bytes through every live
  node, the joined ones included;
- the history of reads, writes and compare-and-sets on a few keys is
  linearizable (tools/lincheck).

The seed (printed) fixes keys, sizes and bytes; replay with
CLEAVE_CLUSTER_SEED=<seed> (thread timing is not replayable).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

import cleave_e2e as e2e
import cluster_harness as ch
import history
import workload as wl
from history import Recorder

SHARDS_WANTED = 16
DOWN_AFTER_MS = 4000
ENTRY = [1, 3]        # the nodes clients use; node 2 is the one killed
KILLED = 2
KEYS = [f"lin/k{i}" for i in range(4)]
PAGE = 250


def shards(cluster, via: int) -> list[dict]:
    return json.loads(cluster.admin(via, "shards", "--json"))["shards"]


def replica_counts(found: list[dict], nodes: list[int]) -> dict[int, int]:
    counts = {k: 0 for k in nodes}
    for d in found:
        for r in d["replicas"]:
            counts[r] = counts.get(r, 0) + 1
    return counts


class Listers:
    """Threads that list the whole bucket page by page, over and over, and
    check each listing against the writers' acknowledgements."""

    def __init__(self, endpoints: list[str], bucket: str, writers: wl.Writers, threads: int = 2):
        self.endpoints = endpoints
        self.bucket = bucket
        self.writers = writers
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True,
                                         name=f"lister-{i}") for i in range(threads)]
        self.problems: list[str] = []
        self.listings = 0
        self.pages = 0
        self.errors: list[str] = []

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(120)
            assert not t.is_alive(), f"{t.name} did not stop"

    def _run(self, i: int) -> None:
        try:
            self._loop(i)
        except BaseException as e:  # reported by the test
            self.problems.append(f"lister {i} crashed: {e!r}")

    def _loop(self, i: int) -> None:
        clients = [wl.client(ep, read_timeout_s=30, attempts=5) for ep in self.endpoints]
        n = 0
        while not self.stop_event.is_set():
            c = clients[(i + n) % len(clients)]
            n += 1
            acked_before, _, _ = self.writers.snapshot()
            listed = self._list(c)
            if listed is None:
                continue
            self.listings += 1
            bad = [a for a, b in zip(listed, listed[1:]) if a >= b]
            if bad:
                self.problems.append(f"listing {self.listings} out of order or repeated at "
                                     f"{bad[:3]}")
            missing = set(acked_before) - set(listed)
            if missing:
                self.problems.append(f"listing {self.listings} lacks {len(missing)} "
                                     f"acknowledged keys, e.g. {sorted(missing)[:3]}")

    def _list(self, c) -> list[str] | None:
        """Every key, page by page; None (and an error noted) if a page failed."""
        listed: list[str] = []
        token = None
        while True:
            args = {"Bucket": self.bucket, "MaxKeys": PAGE}
            if token:
                args["ContinuationToken"] = token
            try:
                page = c.list_objects_v2(**args)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                self.errors.append(f"listing page {len(listed) // PAGE}: {e!r}")
                return None
            self.pages += 1
            listed.extend(o["Key"] for o in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return listed
            token = page["NextContinuationToken"]


def test_cluster_grows_splits_and_heals_under_load(cluster_factory, tmp_path):
    seed = ch.seed_from_env()
    try:
        lincheck = history.build_lincheck(tmp_path)
    except FileNotFoundError as e:
        pytest.fail(str(e), pytrace=False)
    cluster = cluster_factory(nodes=3, extra_args=["--down-after-ms", str(DOWN_AFTER_MS)])
    bucket = "grow"
    wl.create_bucket(wl.client(cluster.node_endpoint(1)), bucket)
    entry = [cluster.node_endpoint(k) for k in ENTRY]
    writers = wl.Writers(entry, bucket, seed, threads=3, big_share=0.01, attempts=5)
    listers = Listers(entry, bucket, writers)
    rec = Recorder(entry, bucket, KEYS, e2e.ACCESS_KEY, e2e.SECRET_KEY, seed, clients=3,
                   timeout_s=5.0)
    writers.start()
    listers.start()
    rec.start()
    t0 = time.monotonic()
    try:
        # 1. Splits, to at least 16 shards: `cleave admin split` of the
        # biggest shard, through the nodes in turn (the split key halves it).
        writers.wait_acks(100, 120, "before the first split")
        found = shards(cluster, 1)
        n = 0
        while len(found) < SHARDS_WANTED:
            n += 1
            assert n <= 4 * SHARDS_WANTED, f"splits keep failing: {found}"
            biggest = max(found, key=lambda d: d["size"])
            try:
                cluster.admin(ENTRY[n % 2], "split", str(biggest["id"]))
            except ch.ClusterError as e:
                print(f"split of shard {biggest['id']} refused: {e}", flush=True)
                writers.wait_acks_started_after(time.monotonic(), 20, 60, "before a retry")
            found = shards(cluster, 1)
        print(f"{len(found)} shards after {time.monotonic() - t0:.0f}s; "
              f"{len(writers.snapshot()[0])} objects acknowledged", flush=True)

        # 2. Two nodes join and receive their share of the replicas.
        for _ in range(2):
            k = cluster.join()
            print(f"node {k} joined after {time.monotonic() - t0:.0f}s", flush=True)
        nodes = cluster.node_ids()

        def balanced():
            s = shards(cluster, 1)
            counts = replica_counts(s, nodes)
            share = sum(counts.values()) // len(nodes)
            return (s, counts) if all(counts[k] >= share - 1 for k in (4, 5)) else None
        found, counts = cluster.wait_for(balanced, 600, "nodes 4 and 5 holding their share")
        print(f"replicas per node after the joins ({time.monotonic() - t0:.0f}s): {counts}",
              flush=True)

        # 3. A node dies; its replicas are re-created on the live ones.
        cluster.kill(KILLED)
        t_kill = time.monotonic()
        live = [k for k in nodes if k != KILLED]

        def healed():
            s = shards(cluster, 1)
            ok = all(len(d["replicas"]) == 3 and KILLED not in d["replicas"] for d in s)
            return s if ok else None
        found = cluster.wait_for(healed, 600, f"every shard re-replicated off node {KILLED}")
        print(f"node {KILLED} killed; every shard has 3 live voters after "
              f"{time.monotonic() - t_kill:.0f}s: {replica_counts(found, live)}", flush=True)
        writers.wait_acks_started_after(time.monotonic(), 20, 120, "after the re-replication")
    finally:
        rec.stop()
        listers.stop()
        writers.stop()

    acked, in_doubt, refused = writers.snapshot()
    print(f"{len(found)} shards; writes acknowledged {len(acked)}, failed "
          f"{writers.ledger.error_count}; listings {listers.listings} ({listers.pages} pages), "
          f"listing errors {len(listers.errors)}; history {rec.counts()}")
    assert writers.ledger.error_count == 0, \
        f"writes failed: {list(writers.ledger.errors)[:5]}"
    assert not listers.errors, f"listings failed: {listers.errors[:5]}"
    assert not listers.problems, "\n".join(listers.problems[:10])
    assert listers.listings > 0

    live = [k for k in cluster.node_ids() if k != KILLED]
    v = wl.verify_everywhere([cluster.node_endpoint(k) for k in live], bucket, acked, in_doubt)
    wl.assert_nothing_lost(v, refused, writers.ledger.error_count)

    path = tmp_path / "history.jsonl"
    rec.write_history(path)
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    check = subprocess.run([lincheck, "--history", str(path), "--timeout", "300s"],
                           capture_output=True, text=True, timeout=600)
    print(f"history: {len(records)} operations checked; lincheck exit {check.returncode}: "
          f"{check.stdout.strip()} {check.stderr.strip()}")
    assert check.returncode == 0, \
        f"history not linearizable (seed {seed}): {check.stdout}{check.stderr} ({path})"
