"""Kill the shard leader in the middle of a stream of writes.

Six writer threads PUT fresh keys round-robin to all three nodes and
remember every acknowledged key with the SHA-256 of its bytes. Mid-stream
the shard leader gets SIGKILL. The test then asserts:

- the two survivors elect a new leader (as their status reports it) within
  LEADER_DEADLINE_S, and writes sent after the kill are acknowledged within
  RESUME_DEADLINE_S of it;
- the killed node, restarted from its own data directory, takes writes
  again and catches up: its applied index and log end reach the leader's;
- every acknowledged object reads back with exactly its bytes from every
  node, the restarted one included (lost must be 0); a write in doubt
  (error or broken connection) is absent everywhere or present everywhere
  with its bytes.

The seed (printed) fixes keys, sizes and bytes; replay with
CLEAVE_CLUSTER_SEED=<seed>.
"""

from __future__ import annotations

import time

import cluster_harness as ch
import workload as wl

LEADER_DEADLINE_S = 15
RESUME_DEADLINE_S = 20
CATCH_UP_DEADLINE_S = 90


def test_kill_leader_mid_stream(cluster):
    seed = ch.seed_from_env()
    bucket = "leader-kill"
    wl.create_bucket(wl.client(cluster.node_endpoint(1)), bucket)
    writers = wl.Writers(cluster.endpoints(), bucket, seed, threads=6)
    writers.start()
    try:
        writers.wait_acks(60, 120, "before the kill")
        old = cluster.wait_for_leader(10)
        t_kill = time.monotonic()
        cluster.kill(old)
        print(f"SIGKILL leader node {old} after {len(writers.ledger.acked)} acknowledged writes")

        new = cluster.wait_for_leader(LEADER_DEADLINE_S, not_in=[old])
        t_elected = time.monotonic()
        t_resumed = writers.wait_acks_started_after(t_kill, 10, RESUME_DEADLINE_S,
                                                    "after the leader was killed")
        print(f"node {new} leads {t_elected - t_kill:.2f}s after the kill; writes sent after "
              f"the kill acknowledged {t_resumed - t_kill:.2f}s after it")
        assert t_elected - t_kill <= LEADER_DEADLINE_S
        # Every survivor takes writes, not only the new leader.
        for k in cluster.live_nodes():
            writers.wait_acks_started_after(t_elected, 5, RESUME_DEADLINE_S,
                                            "through a survivor", node=k)

        cluster.restart(old)
        t_restart = time.monotonic()
        print(f"node {old} restarted and healthy")
        writers.wait_acks_started_after(t_restart, 5, RESUME_DEADLINE_S,
                                        "through the restarted node", node=old)
        writers.wait_acks_started_after(t_restart, 30, 60, "after the restart")
    finally:
        writers.stop()

    mine, lead = cluster.wait_caught_up(old, CATCH_UP_DEADLINE_S)
    print(f"node {old} caught up: applied {mine['applied']} log end {mine['last_index']}; "
          f"leader applied {lead['applied']} log end {lead['last_index']}")

    acked, in_doubt, refused = writers.snapshot()
    v = wl.verify_everywhere(cluster.endpoints(), bucket, acked, in_doubt)
    wl.assert_nothing_lost(v, refused, writers.ledger.error_count)
