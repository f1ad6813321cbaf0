"""S3 traffic for the cluster tests: one request with a classified outcome,
writer threads that remember every acknowledged object, and the check that
every acknowledged object reads back with the right bytes from every node.

Outcomes are classified because a failed request means different things:
- "ok": the server answered 2xx;
- "http": the server answered an error status (e.g. 503 while a node cannot
  reach a majority); a PUT answered so is in doubt;
- "refused": no connection (the node is dead): the request was never sent,
  so a PUT refused so is certainly not applied;
- "lost": the connection broke or timed out after the request was sent: a
  PUT is in doubt.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError,
                                 EndpointConnectionError)

import cleave_e2e as e2e

KIB = 1024
MIB = 1024 * KIB


def client(endpoint: str, read_timeout_s: float = 30, pool: int = 4, attempts: int = 1):
    """A boto3 client for one node: path style, no retries by default (a test
    sees every answer); `attempts` > 1 is an SDK's normal retry budget."""
    return e2e.boto3_client(endpoint, "path", max_attempts=attempts, pool=pool,
                            read_timeout_s=read_timeout_s)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Outcome:
    kind: str                   # ok | http | refused | lost
    status: int | None = None   # HTTP status when the server answered
    code: str | None = None     # S3 error code of an error answer
    body: bytes | None = None   # GET body when ok
    detail: str = ""
    t_start: float = 0.0        # time.monotonic() when sent
    t_end: float = 0.0          # time.monotonic() when answered

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def __str__(self) -> str:
        if self.kind == "ok":
            return f"ok {self.status}"
        if self.kind == "http":
            return f"HTTP {self.status} {self.code}"
        return f"{self.kind}: {self.detail[:200]}"


def _call(fn) -> Outcome:
    t0 = time.monotonic()
    try:
        r = fn()
    except ClientError as e:
        meta = e.response.get("ResponseMetadata", {})
        return Outcome("http", meta.get("HTTPStatusCode"), e.response.get("Error", {}).get("Code"),
                       detail=str(e), t_start=t0, t_end=time.monotonic())
    except (EndpointConnectionError, ConnectTimeoutError) as e:
        return Outcome("refused", detail=str(e), t_start=t0, t_end=time.monotonic())
    except (BotoCoreError, OSError) as e:
        return Outcome("lost", detail=f"{type(e).__name__}: {e}", t_start=t0,
                       t_end=time.monotonic())
    out = Outcome("ok", r["ResponseMetadata"]["HTTPStatusCode"], t_start=t0)
    if "Body" in r:
        try:
            out.body = r["Body"].read()
        except (BotoCoreError, OSError) as e:
            return Outcome("lost", detail=f"reading the body: {e}", t_start=t0,
                           t_end=time.monotonic())
    out.t_end = time.monotonic()
    return out


def put(c, bucket: str, key: str, data: bytes) -> Outcome:
    return _call(lambda: c.put_object(Bucket=bucket, Key=key, Body=data))


def get(c, bucket: str, key: str) -> Outcome:
    return _call(lambda: c.get_object(Bucket=bucket, Key=key))


def delete(c, bucket: str, key: str) -> Outcome:
    return _call(lambda: c.delete_object(Bucket=bucket, Key=key))


def create_bucket(c, bucket: str) -> None:
    out = _call(lambda: c.create_bucket(Bucket=bucket))
    assert out.ok, f"CreateBucket {bucket}: {out}"


def list_keys(c, bucket: str) -> dict[str, int]:
    """Every key of the bucket with its size (follows continuation tokens)."""
    keys = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            keys[o["Key"]] = o["Size"]
    return keys


def object_size(rng: random.Random, big_share: float = 0.1) -> int:
    """Mostly small objects (stored inline), some above 64 KiB (stored as chunks)."""
    if rng.random() < big_share:
        return rng.randrange(64 * KIB + 1, 512 * KIB)
    return rng.randrange(0, 8 * KIB)


@dataclass
class Ledger:
    """What the writers know: per key, the one value written to it."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    cv: threading.Condition = None  # type: ignore[assignment]
    acked: dict[str, str] = field(default_factory=dict)       # key -> sha
    ack_times: dict[str, float] = field(default_factory=dict)  # key -> t_start of the PUT
    ack_nodes: dict[str, int] = field(default_factory=dict)    # key -> node it was sent to
    in_doubt: dict[str, str] = field(default_factory=dict)    # key -> sha
    refused: int = 0
    errors: deque = field(default_factory=lambda: deque(maxlen=20))  # last error answers
    error_count: int = 0

    def __post_init__(self):
        self.cv = threading.Condition(self.lock)

    def acks_started_after(self, t: float) -> int:
        with self.lock:
            return sum(1 for ts in self.ack_times.values() if ts > t)


class Writers:
    """Threads that PUT fresh keys round-robin over the given endpoints.

    Every key is written once, so an acknowledged key has exactly one right
    value. Thread i starts on endpoint i and moves to the next endpoint after
    every request, so every node receives writes (and forwards them to the
    leader when it is not the leader).
    """

    def __init__(self, endpoints: list[str], bucket: str, seed: int, threads: int = 6,
                 big_share: float = 0.1, prefix: str = "w", attempts: int = 1):
        self.endpoints = endpoints
        self.attempts = attempts  # each PUT's tries (the SDK retries; a key is written once)
        self.bucket = bucket
        self.seed = seed
        self.threads_n = threads
        self.big_share = big_share
        self.prefix = prefix
        self.ledger = Ledger()
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.failures: list[BaseException] = []

    def start(self) -> None:
        for i in range(self.threads_n):
            t = threading.Thread(target=self._run, args=(i,), daemon=True,
                                 name=f"writer-{i}")
            self.threads.append(t)
            t.start()

    def stop(self, timeout_s: float = 60) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout_s)
            assert not t.is_alive(), f"{t.name} did not stop within {timeout_s}s"
        assert not self.failures, f"writer crashed: {self.failures[0]!r}"

    def _run(self, i: int) -> None:
        try:
            self._loop(i)
        except BaseException as e:  # reported by stop()
            self.failures.append(e)

    def _loop(self, i: int) -> None:
        rng = random.Random(f"{self.seed}/writer/{i}")
        clients = [client(ep, read_timeout_s=20, attempts=self.attempts)
                   for ep in self.endpoints]
        led = self.ledger
        seq = 0
        while not self.stop_event.is_set():
            seq += 1
            node = (i + seq) % len(clients)
            key = f"{self.prefix}{i}/{seq:06d}"
            data = e2e.det_bytes(f"{self.seed}/{key}", object_size(rng, self.big_share))
            h = sha(data)
            with led.lock:
                led.in_doubt[key] = h
            out = put(clients[node], self.bucket, key, data)
            with led.cv:
                if out.ok:
                    del led.in_doubt[key]
                    led.acked[key] = h
                    led.ack_times[key] = out.t_start
                    led.ack_nodes[key] = node + 1
                    led.cv.notify_all()
                elif out.kind == "refused":
                    del led.in_doubt[key]   # never sent: certainly not written
                    led.refused += 1
                else:
                    led.error_count += 1
                    led.errors.append(f"{key} via node {node + 1}: {out}")
            if not out.ok:
                # A failed request (dead node, election) is answered fast;
                # pace the retries so a dead node does not spin the CPU.
                self.stop_event.wait(0.05)

    def wait_acks(self, n: int, timeout_s: float, what: str = "") -> None:
        """Waits until at least n writes in total are acknowledged."""
        with self.ledger.cv:
            ok = self.ledger.cv.wait_for(lambda: len(self.ledger.acked) >= n, timeout_s)
        assert ok, (f"only {len(self.ledger.acked)} of {n} writes acknowledged within "
                    f"{timeout_s}s {what}; last errors: {list(self.ledger.errors)[-5:]}")

    def wait_acks_started_after(self, t: float, n: int, timeout_s: float, what: str = "",
                                node: int | None = None) -> float:
        """Waits until n writes sent after time t (to `node`, or to any node)
        are acknowledged; returns when that happened (monotonic)."""
        led = self.ledger

        def done() -> int:
            return sum(1 for k, ts in led.ack_times.items()
                       if ts > t and (node is None or led.ack_nodes[k] == node))

        deadline = time.monotonic() + timeout_s
        with led.cv:
            while True:
                d = done()
                if d >= n:
                    return time.monotonic()
                left = deadline - time.monotonic()
                assert left > 0, (f"only {d} of {n} writes sent after the event"
                                  f"{'' if node is None else f' to node {node}'} were "
                                  f"acknowledged within {timeout_s}s {what}; "
                                  f"last errors: {list(led.errors)[-5:]}")
                led.cv.wait(left)

    def snapshot(self) -> tuple[dict[str, str], dict[str, str], int]:
        """(acknowledged, in doubt, refused) as of now."""
        with self.ledger.lock:
            return dict(self.ledger.acked), dict(self.ledger.in_doubt), self.ledger.refused


@dataclass
class Verdict:
    checked_reads: int = 0
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    in_doubt: int = 0
    in_doubt_present: int = 0
    problems: list[str] = field(default_factory=list)


def verify_everywhere(endpoints: list[str], bucket: str, acked: dict[str, str],
                      in_doubt: dict[str, str], workers: int = 8) -> Verdict:
    """Reads every acknowledged and in-doubt key from every endpoint.

    An acknowledged key must read back with its bytes from every node; an
    in-doubt key must be absent everywhere or present with its bytes
    everywhere (the nodes must agree: reads are linearizable).
    """
    v = Verdict(acknowledged=len(acked), in_doubt=len(in_doubt))
    lock = threading.Lock()
    local = threading.local()

    def clients():
        if not hasattr(local, "c"):
            local.c = [client(ep, read_timeout_s=60) for ep in endpoints]
        return local.c

    def check(item):
        key, want, acknowledged = item
        seen = []
        for n, c in enumerate(clients(), 1):
            out = get(c, bucket, key)
            if out.ok:
                seen.append("right" if sha(out.body or b"") == want else
                            f"wrong bytes ({len(out.body or b'')} B)")
            elif out.kind == "http" and out.status == 404:
                seen.append("absent")
            else:
                seen.append(f"error {out}")
        with lock:
            v.checked_reads += len(seen)
            if acknowledged:
                bad = [f"node {n}: {s}" for n, s in enumerate(seen, 1) if s != "right"]
                if bad:
                    # Absent or wrong bytes anywhere is a lost write; an
                    # error answer is a failure of its own (still reported).
                    if any(not s.startswith("error") for s in seen if s != "right"):
                        v.lost.append(key)
                    v.problems.append(f"acknowledged {key}: {', '.join(bad)}")
            else:
                if len(set(seen)) != 1 or seen[0] not in ("right", "absent"):
                    v.problems.append(f"in-doubt {key}: nodes disagree or wrong: {seen}")
                elif seen[0] == "right":
                    v.in_doubt_present += 1

    items = [(k, h, True) for k, h in sorted(acked.items())] + \
            [(k, h, False) for k, h in sorted(in_doubt.items())]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(check, items))
    return v


def assert_nothing_lost(v: Verdict, refused: int, error_answers: int) -> None:
    """Prints a verification's counts and fails on any lost write or problem."""
    print(f"acknowledged {v.acknowledged}, lost {len(v.lost)}, in doubt {v.in_doubt} "
          f"(of which present {v.in_doubt_present}), refused (never sent) {refused}, "
          f"error answers {error_answers}, reads checked {v.checked_reads}")
    assert v.acknowledged > 0
    assert not v.lost, f"{len(v.lost)} acknowledged writes lost:\n" + "\n".join(v.problems[:30])
    assert not v.problems, "\n".join(v.problems[:30])
