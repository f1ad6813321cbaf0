"""`cleave dev --chunk-cache redis://…` (issue 6): repeated reads of a
multi-chunk object are served from the Redis chunk cache without touching the
node's chunk store, and a damaged cache entry is detected, bypassed and never
served. Counted through GET /_cleave/metrics (Prometheus text).
"""

from __future__ import annotations

import hashlib
import time

import cleave_e2e as e2e

MIB = 1024 * 1024
PREFIX = "cleave:chunk:"


def metrics(port: int) -> dict[str, float]:
    # Signed, so the test holds whether or not the endpoint admits anonymous
    # scrapes.
    r = e2e.signed_request(port, "GET", "/_cleave/metrics")
    assert r.status == 200, f"GET /_cleave/metrics: {r}"
    out = {}
    for line in r.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name.strip()] = float(value)
    return out


def counter(m: dict[str, float], name: str) -> float:
    return m.get(name, 0.0)


def wait_for(cond, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)  # poll interval, not synchronisation
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def test_chunk_cache_serves_repeated_reads_and_bypasses_damage(tmp_path, redis_factory):
    cache = redis_factory(durable=False)
    srv = e2e.CleaveServer(tmp_path / "data", tmp_path / "logs",
                           extra_args=["--chunk-cache", cache.url,
                                       "--chunk-cache-bytes", str(64 * MIB)])
    srv.start()
    try:
        with cache.client() as rc:
            # The cache bounded its server and chose LRU eviction.
            assert rc.command("CONFIG", "GET", "maxmemory") == [b"maxmemory", str(64 * MIB).encode()]
            assert rc.command("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy",
                                                                       b"allkeys-lru"]
        s3 = e2e.boto3_client(srv.endpoint)
        bucket = e2e.unique_bucket("cache")
        s3.create_bucket(Bucket=bucket)
        data = e2e.det_bytes("cached-object", 10 * MIB + 12345)  # three 4 MiB chunks
        s3.put_object(Bucket=bucket, Key="big", Body=data)
        digest = hashlib.sha256(data).hexdigest()

        def get() -> bytes:
            return s3.get_object(Bucket=bucket, Key="big")["Body"].read()

        m0 = metrics(srv.port)
        assert hashlib.sha256(get()).hexdigest() == digest  # fills the cache
        m1 = metrics(srv.port)
        first_reads = (counter(m1, "cleave_chunk_store_reads_total")
                       - counter(m0, "cleave_chunk_store_reads_total"))
        assert first_reads >= 3, f"the first read read {first_reads} chunks from the store"
        with cache.client() as rc:
            keys = sorted(rc.command("KEYS", PREFIX + "*"))
        assert len(keys) == 3, f"cache keys after one read: {keys}"

        for _ in range(4):
            assert hashlib.sha256(get()).hexdigest() == digest
        m2 = metrics(srv.port)
        assert (counter(m2, "cleave_chunk_store_reads_total")
                == counter(m1, "cleave_chunk_store_reads_total")), (
            "repeated reads touched the chunk store")
        hits = counter(m2, "cleave_chunk_cache_hits_total") - counter(m1, "cleave_chunk_cache_hits_total")
        assert hits >= 12, f"only {hits} cache hits for 4 reads of 3 chunks"
        print(f"first read: {first_reads} store reads; 4 more reads: {hits} cache hits, "
              f"0 store reads")

        # Damage one cached chunk behind the node's back.
        with cache.client() as rc:
            victim = keys[1]
            good = rc.command("GET", victim)
            bad = bytearray(good)
            bad[len(bad) // 2] ^= 0xFF
            assert rc.command("SET", victim, bytes(bad)) == b"OK"
        body = get()
        assert hashlib.sha256(body).hexdigest() == digest, "a damaged cache entry was served"
        m3 = metrics(srv.port)
        assert (counter(m3, "cleave_chunk_cache_corrupt_total")
                == counter(m2, "cleave_chunk_cache_corrupt_total") + 1)
        assert (counter(m3, "cleave_chunk_store_reads_total")
                == counter(m2, "cleave_chunk_store_reads_total") + 1), (
            "the damaged chunk should have been read from the store, and only it")
        with cache.client() as rc:
            assert rc.command("GET", victim) == good, "the damaged entry was not replaced"

        # The cache server dies: reads still succeed (from the store) …
        cache.kill()
        assert hashlib.sha256(get()).hexdigest() == digest
        m4 = metrics(srv.port)
        assert (counter(m4, "cleave_chunk_store_reads_total")
                >= counter(m3, "cleave_chunk_store_reads_total") + 3)
        # … and after it returns (empty: no persistence) the cache fills and
        # serves again.
        cache.restart()

        def served_from_cache() -> bool:
            before = metrics(srv.port)
            if hashlib.sha256(get()).hexdigest() != digest:
                raise AssertionError("wrong bytes after the cache restarted")
            after = metrics(srv.port)
            return (counter(after, "cleave_chunk_store_reads_total")
                    == counter(before, "cleave_chunk_store_reads_total"))

        wait_for(served_from_cache, 30, "reads to be served from the restarted cache")
        assert srv.running()
    finally:
        code = srv.stop()
    assert code == 0, f"cleave exited with {code}; log:\n{srv.log_tail()}"


def test_chunk_cache_must_not_share_the_engines_redis(tmp_path, redis_factory):
    redis = redis_factory(durable=True)
    import subprocess
    proc = subprocess.run(
        [e2e.cleave_bin(), "dev", "--data", str(tmp_path / "data"),
         "--listen", f"127.0.0.1:{e2e.free_port()}", "--engine", "redis", "--redis-url", redis.url,
         "--chunk-cache", redis.url.replace("/0", "/1")],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "--chunk-cache must name another Redis server" in proc.stderr, proc.stderr
    with redis.client() as rc:
        # Refused before touching the server's eviction settings.
        assert rc.command("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy",
                                                                   b"noeviction"]
