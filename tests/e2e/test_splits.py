"""Shards of a one-node store split while clients work (issue 5's listing
guarantees, on `cleave dev`).

100,000 keys over 300 root directories (and the bucket root) are written by
4 writer processes into a store that splits any shard past 1 MB of object data
(`--split-bytes`), while a lister pages through the whole bucket after every 10,000 more
acknowledged keys (ListObjectsV2, 1,000 keys a page, with and without a
delimiter) and splits a shard by hand (`cleave admin split`) between two pages of every listing, so
continuation tokens cross splits. The test asserts:

- no client request fails (no retries: the first answer counts);
- every listing is in key order, without duplicates, and holds every key
  acknowledged before the listing began (and only keys that were written);
- the store ends with at least 16 shards, each range contiguous with the next;
- `aws s3 ls --recursive` and paginated ListObjectsV2 with a delimiter list
  all 100,000 keys in order, and a sample of objects reads back byte for byte;
- after a restart the shards, the listing and the bytes are the same.

The seed (printed) fixes keys and bytes; replay with CLEAVE_E2E_SEED=<seed>.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import subprocess
import threading
import time
import zlib

import pytest

import cleave_e2e as e2e

KEYS = 100_000
DIRS = 300
WRITERS = 4       # processes
BATCH = 500       # keys per task of a writer
LIST_EVERY = 10_000
SPLIT_BYTES = 1_000_000
MIN_SHARDS = 16
SAMPLE_READS = 3000


def key_of(i: int) -> str:
    d = i % (DIRS + 1)
    if d == DIRS:
        return f"top-{i:06d}"
    return f"dir{d:03d}/sub{(i // 7) % 3}/obj-{i:06d}"


def body_of(seed: int, key: str) -> bytes:
    return e2e.det_bytes(f"{seed}/{key}", 40 + zlib.crc32(f"{seed}/{key}".encode()) % 160)


class Admin:
    def __init__(self, srv: e2e.CleaveServer):
        self.base = [e2e.cleave_bin(), "admin", "--endpoint", srv.endpoint,
                     "--access-key", srv.access_key, "--secret-key", srv.secret_key]

    def run(self, *args: str) -> str:
        p = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"cleave admin {' '.join(args)}: {p.stderr}"
        return p.stdout

    def shards(self) -> list[dict]:
        return json.loads(self.run("shards", "--json"))["shards"]


def list_all(s3, bucket: str, delimiter: str = "", between_pages=None) -> list[str]:
    """Every key and common prefix of a paginated ListObjectsV2, in the order
    the pages returned them; `between_pages` runs after the first page."""
    out: list[str] = []
    token = None
    first = True
    while True:
        kw = {"Bucket": bucket, "MaxKeys": 1000}
        if delimiter:
            kw["Delimiter"] = delimiter
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        page = [o["Key"] for o in r.get("Contents", [])]
        page += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        out += sorted(page)
        if first and between_pages:
            between_pages()
        first = False
        if not r["IsTruncated"]:
            return out
        token = r["NextContinuationToken"]


def check_listing(keys: list[str], must: set[str], may: set[str], what: str) -> None:
    assert keys == sorted(keys), f"{what}: not in key order"
    assert len(keys) == len(set(keys)), f"{what}: duplicated keys"
    missing = must - set(keys)
    assert not missing, f"{what}: {len(missing)} acknowledged keys missing, e.g. {sorted(missing)[:5]}"
    unknown = set(keys) - may
    assert not unknown, f"{what}: keys never written: {sorted(unknown)[:5]}"


def check_shards(shards: list[dict]) -> None:
    ordered = sorted(shards, key=lambda d: d["start"])
    assert ordered[0]["start"] == "" and ordered[-1]["end"] == "", ordered
    for a, b in zip(ordered, ordered[1:]):
        assert a["end"] == b["start"], f"ranges not contiguous: {a} then {b}"


def test_listings_stay_complete_while_shards_split(tmp_path):
    seed = int(os.environ.get("CLEAVE_E2E_SEED") or random.randrange(2**32))
    print(f"seed {seed} (replay with CLEAVE_E2E_SEED={seed})")
    srv = e2e.CleaveServer(tmp_path / "data", tmp_path / "logs",
                           extra_args=["--split-bytes", str(SPLIT_BYTES)])
    srv.start()
    try:
        run_splits(srv, seed)
    finally:
        if srv.running():
            assert srv.stop() == 0, srv.log_tail()


def put_batch(args) -> tuple[list[str], list[str]]:
    """One worker process's share of the writes: signed PUTs over plain HTTP
    (boto3 costs more CPU per request than the server does)."""
    port, bucket, seed, keys = args
    acked, failed = [], []
    for key in keys:
        try:
            r = e2e.signed_request(port, "PUT", f"/{bucket}/{key}", body=body_of(seed, key))
        except OSError as err:
            failed.append(f"PUT {key}: {err}")
            continue
        if r.status == 200:
            acked.append(key)
        else:
            failed.append(f"PUT {key}: HTTP {r.status} {r.body[:300]!r}")
    return acked, failed


def run_splits(srv: e2e.CleaveServer, seed: int) -> None:
    admin = Admin(srv)
    s3 = e2e.boto3_client(srv.endpoint)
    bucket = "splits"
    s3.create_bucket(Bucket=bucket)
    order = [key_of(i) for i in range(KEYS)]
    random.Random(seed).shuffle(order)
    batches = [(srv.port, bucket, seed, order[i:i + BATCH]) for i in range(0, KEYS, BATCH)]

    acked: set[str] = set()
    attempted: set[str] = set()
    failures: list[str] = []
    progress = threading.Condition()
    writes_done = [False]
    listings = {"plain": 0, "delimited": 0, "manual splits": 0}

    def split_some_shard():
        shards = admin.shards()
        target = random.Random(seed + listings["manual splits"]).choice(shards)["id"]
        p = subprocess.run([*admin.base, "split", str(target)], capture_output=True, text=True,
                           timeout=120)
        # A shard too small to halve says so; anything else is a failure.
        if p.returncode == 0:
            listings["manual splits"] += 1
        elif "too few objects" not in p.stderr:
            failures.append(f"split {target}: {p.stderr}")

    def roots(keys):
        return {k.split("/")[0] + "/" if "/" in k else k for k in keys}

    def lister():
        # Lists again each time another LIST_EVERY keys were acknowledged:
        # listings interleave with the writes all along, at a bounded cost.
        c = e2e.boto3_client(srv.endpoint)
        seen = 0
        while not failures:
            with progress:
                progress.wait_for(lambda: writes_done[0] or len(acked) >= seen + LIST_EVERY)
                if writes_done[0]:
                    return
                seen = len(acked)
                before = set(acked)
                written = set(attempted)
            try:
                keys = list_all(c, bucket, between_pages=split_some_shard)
                check_listing(keys, before, written, f"listing {listings['plain']}")
                listings["plain"] += 1
                top = list_all(c, bucket, delimiter="/")
                check_listing(top, roots(before), roots(written), "delimited listing")
                listings["delimited"] += 1
            except AssertionError as err:
                failures.append(str(err))
            except Exception as err:
                failures.append(f"listing request: {err}")

    t0 = time.monotonic()
    lt = threading.Thread(target=lister)
    lt.start()
    try:
        with multiprocessing.get_context("fork").Pool(WRITERS) as pool:
            for batch in batches:
                attempted.update(batch[3])  # before any of it can be acknowledged
            for ok, failed in pool.imap_unordered(put_batch, batches):
                with progress:
                    acked.update(ok)
                    failures.extend(failed)
                    progress.notify_all()
    finally:
        with progress:
            writes_done[0] = True
            progress.notify_all()
        lt.join()
    elapsed = time.monotonic() - t0
    assert not failures, "\n".join(failures[:10])
    assert acked == attempted and len(acked) == KEYS
    shards = admin.shards()
    print(f"{KEYS} PUTs in {elapsed:.0f}s by {WRITERS} writers; {listings['plain']} full and "
          f"{listings['delimited']} delimited listings checked, {listings['manual splits']} "
          f"splits by hand between pages; {len(shards)} shards")
    assert listings["plain"] >= 2, "the lister should have completed listings during the writes"
    check_shards(shards)
    assert len(shards) >= MIN_SHARDS, f"only {len(shards)} shards after {KEYS} keys"

    verify(srv, s3, bucket, acked, seed, "after the writes")
    srv.stop()
    srv.start()
    after = admin.shards()
    assert sorted(d["id"] for d in after) == sorted(d["id"] for d in shards), after
    check_shards(after)
    verify(srv, e2e.boto3_client(srv.endpoint), bucket, acked, seed, "after a restart")


def verify(srv, s3, bucket: str, acked: set[str], seed: int, when: str) -> None:
    want = sorted(acked)
    keys = list_all(s3, bucket)
    assert keys == want, f"{when}: paginated listing differs ({len(keys)} keys, want {len(want)})"
    # With a delimiter, per root directory: common prefixes at the top,
    # then each directory's own paginated listing.
    top = list_all(s3, bucket, delimiter="/")
    roots = sorted({k.split("/")[0] + "/" for k in want if "/" in k} |
                   {k for k in want if "/" not in k})
    assert top == roots, f"{when}: delimited listing differs"
    aws = e2e.AwsCli(srv.endpoint, srv.data_dir.parent / "aws-home")
    out = aws.run("s3", "ls", "--recursive", f"s3://{bucket}", timeout_s=600).stdout
    listed = [line.split(maxsplit=3)[3] for line in out.splitlines() if line.strip()]
    assert listed == want, f"{when}: aws s3 ls --recursive listed {len(listed)} keys"
    rng = random.Random(seed)
    for key in rng.sample(want, SAMPLE_READS):
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert got == body_of(seed, key), f"{when}: GET {key}: wrong bytes"
    print(f"{when}: {len(want)} keys listed in order (ListObjectsV2 pages, with a delimiter, "
          f"aws s3 ls --recursive); {SAMPLE_READS} sampled GETs byte for byte")
