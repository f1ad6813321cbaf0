"""Crash test: SIGKILL `cleave dev` in the middle of a stream of uploads (small
inline objects, multi-chunk objects and two-part multipart uploads),
restart it on the same data directory, and check the durability promise:

- every acknowledged object (a 200 was received) is present with exactly the
  bytes of its last acknowledged write, or of a later write still in doubt;
- every listed object is one that was attempted, with exactly the bytes of
  one attempt (no half-written object is ever visible);
- nothing else is visible.

The oracle follows RocksDB's db_stress: per key, the last acknowledged value
plus the set of "pending" values whose writes may or may not have landed. Each
key is written by one thread only, so its writes are sequential.

The seed (printed) fixes the data, sizes, keys and the kill points; replay with
CLEAVE_E2E_CRASH_SEED=<seed>. Thread interleaving is not replayable, which is
why each run also does several rounds. CLEAVE_E2E_CRASH_ROUNDS sets their
number (default 5).
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

import cleave_e2e as e2e

KIB = 1024
MIB = 1024 * KIB
THREADS = 4
KEYS_PER_THREAD = 6
ACK_WAIT_S = 120


class Oracle:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked: dict[str, str | None] = {}      # key -> sha of last acked value
        self.pending: dict[str, set[str]] = {}      # key -> shas possibly applied since
        self.attempted_shas: dict[str, set[str]] = {}
        self.acks_this_round = 0
        self.attempts_this_round = 0
        self.cv = threading.Condition(self.lock)

    def attempt(self, key: str, sha: str):
        with self.lock:
            self.acked.setdefault(key, None)
            self.pending.setdefault(key, set()).add(sha)
            self.attempted_shas.setdefault(key, set()).add(sha)
            self.attempts_this_round += 1

    def ack(self, key: str, sha: str):
        with self.cv:
            self.acked[key] = sha
            # The key's earlier writes all got answers before this one was
            # sent, so only this value (or later ones) can be current.
            self.pending[key] = set()
            self.acks_this_round += 1
            self.cv.notify_all()

    def allowed(self, key: str) -> set[str | None]:
        return {self.acked.get(key)} | self.pending.get(key, set())


def uploader(client, bucket, oracle: Oracle, seed: int, round_no: int, tid: int,
             stop: threading.Event, errors: list):
    rng = random.Random(f"{seed}/{round_no}/{tid}")
    seq = 0
    while not stop.is_set():
        seq += 1
        key = f"t{tid}/k{rng.randrange(KEYS_PER_THREAD)}"
        dice = rng.random()
        if dice < 0.45:
            size = rng.randrange(0, 64 * KIB)                  # inline in the metadata
        elif dice < 0.9:
            size = rng.randrange(4 * MIB + 1, 9 * MIB)         # two or three chunks
        else:
            size = 5 * MIB + rng.randrange(1, MIB)             # multipart, two parts
        data = e2e.det_bytes(f"{seed}/{round_no}/{tid}/{seq}", size)
        sha = hashlib.sha256(data).hexdigest()
        oracle.attempt(key, sha)
        try:
            if dice < 0.9:
                r = client.put_object(Bucket=bucket, Key=key, Body=data)
                want_etag = '"%s"' % hashlib.md5(data).hexdigest()
            else:
                parts = [data[:5 * MIB], data[5 * MIB:]]
                uid = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
                done = []
                for n, p in enumerate(parts, 1):
                    pr = client.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=p)
                    done.append({"PartNumber": n, "ETag": pr["ETag"]})
                r = client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                                     MultipartUpload={"Parts": done})
                want_etag = e2e.multipart_etag(parts)
        except ClientError as e:
            # An error answer: the write stays in doubt; the server is alive.
            errors.append((key, e.response["ResponseMetadata"]["HTTPStatusCode"],
                           e.response["Error"]["Code"]))
            continue
        except (BotoCoreError, OSError):
            # Connection refused/reset: the server is gone.
            return
        assert r["ETag"] == want_etag, (key, r["ETag"], want_etag)
        oracle.ack(key, sha)


def list_all(client, bucket) -> dict[str, dict]:
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            out[o["Key"]] = o
    return out


def verify(client, bucket, oracle: Oracle, round_no: int) -> dict:
    listed = list_all(client, bucket)
    problems = []
    counts = {"acknowledged": oracle.acks_this_round,
              "attempted": oracle.attempts_this_round,
              "in_doubt": oracle.attempts_this_round - oracle.acks_this_round,
              "verified_keys": 0, "in_doubt_visible": 0}
    for key in listed:
        if key not in oracle.acked:
            problems.append(f"{key!r} is listed but was never written")
    for key in sorted(oracle.acked):
        allowed = oracle.allowed(key)
        if key in listed:
            try:
                body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as e:
                problems.append(f"{key!r} is listed but GET fails: {e}")
                continue
            sha = hashlib.sha256(body).hexdigest()
            if sha not in allowed:
                kind = "a value that was never written (half-written?)" \
                    if sha not in oracle.attempted_shas[key] else "an older, superseded value"
                problems.append(f"{key!r} has {kind}: {len(body)} bytes sha {sha[:16]}; "
                                f"allowed {[a and a[:16] for a in allowed]}")
                continue
            if listed[key]["Size"] != len(body):
                problems.append(f"{key!r}: listed size {listed[key]['Size']} != {len(body)}")
            etag = listed[key]["ETag"]
            if "-" not in etag and etag != '"%s"' % hashlib.md5(body).hexdigest():
                problems.append(f"{key!r}: listed ETag {etag} is not the body's MD5")
            if "-" in etag and etag != e2e.multipart_etag([body[:5 * MIB], body[5 * MIB:]]):
                problems.append(f"{key!r}: listed multipart ETag {etag} does not match its body")
            if sha == oracle.acked[key]:
                counts["verified_keys"] += 1
            else:
                counts["in_doubt_visible"] += 1
            oracle.acked[key] = sha
        else:
            if oracle.acked[key] is not None:
                problems.append(f"acknowledged {key!r} (sha {oracle.acked[key][:16]}) is LOST")
                continue
            try:
                client.head_object(Bucket=bucket, Key=key)
                problems.append(f"{key!r} is not listed but HEAD finds it")
            except ClientError as e:
                if e.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                    problems.append(f"{key!r}: HEAD gives {e.response['Error']}")
        oracle.pending[key] = set()
    oracle.acks_this_round = 0
    oracle.attempts_this_round = 0
    assert not problems, f"round {round_no}:\n" + "\n".join(problems)
    return counts


def test_kill9_during_uploads(fresh_server):
    srv = fresh_server
    seed = int(os.environ.get("CLEAVE_E2E_CRASH_SEED", random.randrange(1 << 32)))
    rounds = int(os.environ.get("CLEAVE_E2E_CRASH_ROUNDS", "5"))
    print(f"crash test seed {seed} (replay with CLEAVE_E2E_CRASH_SEED={seed}), {rounds} rounds")
    rng = random.Random(seed)
    bucket = "crash"
    e2e.boto3_client(srv.endpoint).create_bucket(Bucket=bucket)
    oracle = Oracle()
    totals = {"acknowledged": 0, "verified_keys": 0, "in_doubt": 0, "in_doubt_visible": 0}

    for round_no in range(rounds):
        kill_after_acks = rng.randrange(2, 25)
        client = e2e.boto3_client(srv.endpoint, pool=THREADS + 2)
        stop = threading.Event()
        errors: list = []
        threads = [threading.Thread(target=uploader, daemon=True,
                                    args=(client, bucket, oracle, seed, round_no, t, stop, errors))
                   for t in range(THREADS)]
        for t in threads:
            t.start()
        with oracle.cv:
            reached = oracle.cv.wait_for(lambda: oracle.acks_this_round >= kill_after_acks,
                                         timeout=ACK_WAIT_S)
        # A seeded random moment a little after the target: the kill then
        # lands anywhere in the uploads in flight (body, fsync, commit).
        time.sleep(rng.uniform(0, 0.05))
        t_kill = time.monotonic()
        srv.kill()
        stop.set()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "an uploader did not notice the server died"
        print(f"round {round_no}: SIGKILL after {oracle.acks_this_round} acks "
              f"(target {kill_after_acks}, reached={reached}); error answers: {errors[:5]}")
        assert not any(status < 500 for _, status, _ in errors), \
            f"4xx answers to plain PUTs: {errors}"

        srv.start()
        print(f"round {round_no}: restarted in {time.monotonic() - t_kill:.1f}s")
        counts = verify(e2e.boto3_client(srv.endpoint), bucket, oracle, round_no)
        print(f"round {round_no}: {counts}")
        for k in totals:
            totals[k] += counts.get(k, 0)
    print(f"totals over {rounds} rounds: acknowledged {totals['acknowledged']}, "
          f"verified keys {totals['verified_keys']}, in doubt {totals['in_doubt']} "
          f"(of which visible {totals['in_doubt_visible']})")
    assert totals["acknowledged"] > 0
