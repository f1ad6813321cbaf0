"""boto3 (Debian's python3-boto3) against `cleave dev`, in path style and in
virtual-host style (BUCKET.localhost:PORT): the core operations, conditional
creates under contention, awkward keys, limits and a 100 MiB multipart
round trip."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

import cleave_e2e as e2e

MIB = 1024 * 1024


def err(e: ClientError) -> tuple[int, str]:
    return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]


def expect_error(fn, status: int, code: str | None = None, **kwargs):
    with pytest.raises(ClientError) as ei:
        fn(**kwargs)
    got = err(ei.value)
    assert got[0] == status and (code is None or got[1] == code), \
        f"expected {status} {code}, got {got} ({ei.value})"
    return ei.value


def mkbucket(client) -> str:
    name = e2e.unique_bucket("b3")
    client.create_bucket(Bucket=name)
    return name


def list_all(client, bucket: str, **kw) -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, **kw):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


# ---------------------------------------------------------------- core


def test_list_buckets_and_bucket_lifecycle(s3any):
    name = mkbucket(s3any)
    s3any.head_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3any.list_buckets()["Buckets"]]
    expect_error(s3any.head_bucket, 404, Bucket=name + "-nope")
    s3any.put_object(Bucket=name, Key="k", Body=b"v")
    expect_error(s3any.delete_bucket, 409, "BucketNotEmpty", Bucket=name)
    s3any.delete_object(Bucket=name, Key="k")
    # Objects in directories: with several shards (the split suite), a
    # directory's marker and its objects may sit on different shards; a
    # refused delete changes nothing, and the last object's removal frees it.
    keys = sorted(f"d{i}/obj" for i in range(24))
    for k in keys:
        s3any.put_object(Bucket=name, Key=k, Body=b"x" * 200)
    while keys:
        expect_error(s3any.delete_bucket, 409, "BucketNotEmpty", Bucket=name)
        assert list_all(s3any, name) == keys
        s3any.delete_object(Bucket=name, Key=keys.pop(len(keys) // 2))
    s3any.delete_bucket(Bucket=name)
    expect_error(s3any.head_bucket, 404, Bucket=name)
    expect_error(s3any.put_object, 404, "NoSuchBucket", Bucket=name, Key="k", Body=b"v")


def test_object_put_get_head_range_copy_delete(s3any):
    name = mkbucket(s3any)
    body = e2e.det_bytes("core", 100_000)  # above the 64 KiB inline limit
    r = s3any.put_object(Bucket=name, Key="dir/obj", Body=body, ContentType="application/x-test",
                         Metadata={"origin": "boto3"}, CacheControl="no-cache")
    assert r["ETag"] == '"%s"' % e2e.md5_hex(body)
    g = s3any.get_object(Bucket=name, Key="dir/obj")
    assert g["Body"].read() == body
    assert g["ContentType"] == "application/x-test" and g["Metadata"] == {"origin": "boto3"}
    assert g["CacheControl"] == "no-cache" and g["ContentLength"] == len(body)
    h = s3any.head_object(Bucket=name, Key="dir/obj")
    assert h["ETag"] == r["ETag"] and h["ContentLength"] == len(body)
    g = s3any.get_object(Bucket=name, Key="dir/obj", Range="bytes=65530-65545")
    assert g["Body"].read() == body[65530:65546]
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["ContentRange"] == f"bytes 65530-65545/{len(body)}"

    s3any.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "dir/obj"})
    assert s3any.get_object(Bucket=name, Key="copy")["Body"].read() == body
    s3any.copy_object(Bucket=name, Key="copy2", CopySource=f"{name}/dir/obj",
                      MetadataDirective="REPLACE", Metadata={"x": "y"}, ContentType="text/x")
    h = s3any.head_object(Bucket=name, Key="copy2")
    assert h["Metadata"] == {"x": "y"} and h["ContentType"] == "text/x"

    r = s3any.list_objects_v2(Bucket=name, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["copy", "copy2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"]
    r = s3any.list_objects(Bucket=name, Prefix="dir/")
    assert [o["Key"] for o in r["Contents"]] == ["dir/obj"]
    assert r["Contents"][0]["Size"] == len(body)
    assert r["Contents"][0]["ETag"] == '"%s"' % e2e.md5_hex(body)

    d = s3any.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "copy"}, {"Key": "copy2"}]})
    assert sorted(x["Key"] for x in d["Deleted"]) == ["copy", "copy2"]
    s3any.delete_object(Bucket=name, Key="dir/obj")
    expect_error(s3any.get_object, 404, "NoSuchKey", Bucket=name, Key="dir/obj")
    expect_error(s3any.head_object, 404, Bucket=name, Key="dir/obj")
    assert list_all(s3any, name) == []


def test_empty_object(s3any):
    name = mkbucket(s3any)
    r = s3any.put_object(Bucket=name, Key="empty", Body=b"")
    assert r["ETag"] == '"%s"' % e2e.md5_hex(b"")
    g = s3any.get_object(Bucket=name, Key="empty")
    assert g["Body"].read() == b"" and g["ContentLength"] == 0


def test_multipart_core(s3any):
    name = mkbucket(s3any)
    parts = [e2e.det_bytes("b3mp1", 5 * MIB), e2e.det_bytes("b3mp2", 5 * MIB),
             e2e.det_bytes("b3mp3", 12345)]
    uid = s3any.create_multipart_upload(Bucket=name, Key="m")["UploadId"]
    etags = []
    # Upload out of order: part numbers, not arrival order, define the object.
    for n in (3, 1, 2):
        r = s3any.upload_part(Bucket=name, Key="m", UploadId=uid, PartNumber=n, Body=parts[n - 1])
        etags.append((n, r["ETag"]))
    etags.sort()
    lp = s3any.list_parts(Bucket=name, Key="m", UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp["Parts"]] == \
        [(n, e, len(parts[n - 1])) for n, e in etags]
    # Paging through the parts.
    lp = s3any.list_parts(Bucket=name, Key="m", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2] and lp["IsTruncated"]
    assert lp["NextPartNumberMarker"] == 2
    lp = s3any.list_parts(Bucket=name, Key="m", UploadId=uid, PartNumberMarker=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [3] and not lp["IsTruncated"]
    ups = s3any.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [u["UploadId"] for u in ups] == [uid]
    # Re-uploading a part replaces it.
    s3any.upload_part(Bucket=name, Key="m", UploadId=uid, PartNumber=3, Body=b"tail")
    parts[2] = b"tail"
    etags[2] = (3, '"%s"' % e2e.md5_hex(b"tail"))
    r = s3any.complete_multipart_upload(
        Bucket=name, Key="m", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in etags]})
    assert r["ETag"] == e2e.multipart_etag(parts)
    assert s3any.get_object(Bucket=name, Key="m")["Body"].read() == b"".join(parts)
    assert "Uploads" not in s3any.list_multipart_uploads(Bucket=name)
    # Parts listed out of order in the completion are refused.
    uid = s3any.create_multipart_upload(Bucket=name, Key="m2")["UploadId"]
    e1 = s3any.upload_part(Bucket=name, Key="m2", UploadId=uid, PartNumber=1, Body=parts[0])["ETag"]
    e2 = s3any.upload_part(Bucket=name, Key="m2", UploadId=uid, PartNumber=2, Body=parts[1])["ETag"]
    expect_error(s3any.complete_multipart_upload, 400, "InvalidPartOrder", Bucket=name, Key="m2",
                 UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2},
                                                          {"PartNumber": 1, "ETag": e1}]})
    s3any.abort_multipart_upload(Bucket=name, Key="m2", UploadId=uid)
    expect_error(s3any.list_parts, 404, "NoSuchUpload", Bucket=name, Key="m2", UploadId=uid)


@pytest.mark.parametrize("bad", ["ab", "a" * 64, "UPPER", "under_score", "-start", "end-",
                                 "a..b", "192.168.1.1", ".dot"])
def test_bucket_name_rules(s3, bad):
    expect_error(s3.create_bucket, 400, "InvalidBucketName", Bucket=bad)


def test_bucket_name_valid_edges(s3):
    for good in ("abc", "a" * 63, "a.b-c1"):
        s3.create_bucket(Bucket=good)
        s3.head_bucket(Bucket=good)
        s3.delete_bucket(Bucket=good)


# ---------------------------------------------------------------- conditional PUT


def conditional_client(server, style="path", pool=32):
    """A client whose every PutObject carries `If-None-Match: *`.

    Debian's botocore predates the IfNoneMatch parameter, so the header is
    added before signing (it is then covered by the signature).
    """
    endpoint = server.endpoint if style == "path" else server.localhost_endpoint
    c = e2e.boto3_client(endpoint, style, pool=pool)

    def add_header(request, **_):
        request.headers["If-None-Match"] = "*"

    c.meta.events.register("before-sign.s3.PutObject", add_header)
    return c


def test_conditional_put_if_none_match_sequential(server, s3):
    name = mkbucket(s3)
    cond = conditional_client(server)
    cond.put_object(Bucket=name, Key="once", Body=b"first")
    expect_error(cond.put_object, 412, "PreconditionFailed", Bucket=name, Key="once", Body=b"second")
    assert s3.get_object(Bucket=name, Key="once")["Body"].read() == b"first"
    # After a delete, the key is absent again and a conditional create works.
    s3.delete_object(Bucket=name, Key="once")
    cond.put_object(Bucket=name, Key="once", Body=b"third")
    assert s3.get_object(Bucket=name, Key="once")["Body"].read() == b"third"
    # Also through a multipart-sized body (above the inline limit).
    big = e2e.det_bytes("cond-big", 300_000)
    cond.put_object(Bucket=name, Key="big", Body=big)
    expect_error(cond.put_object, 412, "PreconditionFailed", Bucket=name, Key="big", Body=b"x")
    assert s3.get_object(Bucket=name, Key="big")["Body"].read() == big


@pytest.mark.parametrize("size", [100, 200_000])
def test_conditional_put_exactly_one_of_concurrent_creates_wins(server, s3, size):
    name = mkbucket(s3)
    writers = 16
    cond = conditional_client(server, pool=writers + 4)
    for round_no in range(4):
        key = f"race-{round_no}"
        barrier = threading.Barrier(writers)
        results: list = [None] * writers

        def writer(i):
            body = (b"%02d-" % i) * (size // 3)
            barrier.wait(30)
            try:
                cond.put_object(Bucket=name, Key=key, Body=body)
                results[i] = ("ok", body)
            except ClientError as e:
                results[i] = err(e)
            except Exception as e:  # noqa: BLE001 - recorded and asserted below
                results[i] = ("exception", repr(e))

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        winners = [r for r in results if r and r[0] == "ok"]
        losers = [r for r in results if not (r and r[0] == "ok")]
        assert len(winners) == 1, f"round {round_no}: {len(winners)} winners; results {results}"
        assert all(r == (412, "PreconditionFailed") for r in losers), f"losers: {losers}"
        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == winners[0][1]


# ---------------------------------------------------------------- awkward keys

WEIRD_KEYS = [
    "../other-bucket/x",
    "..",
    ".",
    "./x",
    "a/../../b",
    "a//b",
    "//double-lead",
    "trailing/",
    "%2F",
    "100%",
    "%41%42",
    "a%2Fb/c",
    "ключ/ü日本語.txt",
    "emoji 😀",
    "with space",
    "plus+sign",
    "tab\there",
    "ctrl\x01key",
    "ctrl\x1f\x7f",
    "?query=1&x#frag",
    "~!@$^&*()=[]{};:'\",<>|`",
    "back\\slash",
]


def test_weird_keys_round_trip(server, s3any):
    name = mkbucket(s3any)
    keys = list(WEIRD_KEYS)
    if s3any.meta.config.s3["addressing_style"] == "virtual":
        # botocore drops a key's leading '/' in virtual-host style (a client
        # bug, not the server's): such keys are covered in path style.
        keys = [k for k in keys if not k.startswith("/")]
    for i, k in enumerate(keys):
        s3any.put_object(Bucket=name, Key=k, Body=f"body-{i}".encode(), Metadata={"i": str(i)})
    for i, k in enumerate(keys):
        g = s3any.get_object(Bucket=name, Key=k)
        assert g["Body"].read() == f"body-{i}".encode(), repr(k)
        assert g["Metadata"] == {"i": str(i)}, repr(k)
    assert list_all(s3any, name) == sorted(keys, key=lambda k: k.encode())
    # v1 listing agrees.
    v1 = s3any.list_objects(Bucket=name)
    assert [o["Key"] for o in v1["Contents"]] == sorted(keys, key=lambda k: k.encode())
    # Copy and delete work on them too.
    s3any.copy_object(Bucket=name, Key="copied", CopySource={"Bucket": name, "Key": "../other-bucket/x"})
    assert s3any.get_object(Bucket=name, Key="copied")["Body"].read() == b"body-0"
    # XML 1.0 cannot carry most control characters, so DeleteObjects gets
    # only the others; the rest go one by one.
    def xml_ok(k):
        return all(c in "\t\n\r" or ord(c) >= 0x20 for c in k)
    s3any.delete_objects(Bucket=name, Delete={
        "Objects": [{"Key": k} for k in keys if xml_ok(k)] + [{"Key": "copied"}]})
    assert list_all(s3any, name) == sorted((k for k in keys if not xml_ok(k)), key=lambda k: k.encode())
    for k in keys:
        if not xml_ok(k):
            s3any.delete_object(Bucket=name, Key=k)
    assert list_all(s3any, name) == []


def test_keys_never_escape_their_bucket(s3any):
    attacker, victim = mkbucket(s3any), mkbucket(s3any)
    s3any.put_object(Bucket=victim, Key="x", Body=b"victim data")
    evil = [f"../{victim}/x", f"../{victim}/y", f"..//{victim}/x", f"a/../../{victim}/x",
            f"%2F..%2F{victim}%2Fx", f"./../{victim}/x"]
    for k in evil:
        s3any.put_object(Bucket=attacker, Key=k, Body=b"attacker data")
    assert list_all(s3any, victim) == ["x"]
    assert s3any.get_object(Bucket=victim, Key="x")["Body"].read() == b"victim data"
    expect_error(s3any.get_object, 404, "NoSuchKey", Bucket=victim, Key="y")
    assert list_all(s3any, attacker) == sorted(evil, key=lambda k: k.encode())
    for k in evil:
        assert s3any.get_object(Bucket=attacker, Key=k)["Body"].read() == b"attacker data"
    s3any.delete_object(Bucket=attacker, Key=f"../{victim}/x")
    assert s3any.get_object(Bucket=victim, Key="x")["Body"].read() == b"victim data"
    # Prefix listings do not reach across either.
    r = s3any.list_objects_v2(Bucket=attacker, Prefix="../")
    assert all(o["Key"].startswith("../") for o in r.get("Contents", []))
    s3any.delete_objects(Bucket=attacker, Delete={"Objects": [{"Key": k} for k in evil]})
    assert list_all(s3any, victim) == ["x"]


# ---------------------------------------------------------------- limits


def test_key_length_limit(s3):
    name = mkbucket(s3)
    k1024 = "k" * 1000 + "/" + "x" * 23
    assert len(k1024.encode()) == 1024
    s3.put_object(Bucket=name, Key=k1024, Body=b"ok")
    assert s3.get_object(Bucket=name, Key=k1024)["Body"].read() == b"ok"
    expect_error(s3.put_object, 400, "KeyTooLongError", Bucket=name, Key="k" * 1025, Body=b"no")
    # The limit counts UTF-8 bytes, not characters: 342 three-byte chars = 1026 bytes.
    expect_error(s3.put_object, 400, "KeyTooLongError", Bucket=name, Key="日" * 342, Body=b"no")
    uid_err = expect_error(s3.create_multipart_upload, 400, "KeyTooLongError", Bucket=name,
                           Key="k" * 1025)
    assert uid_err
    assert list_all(s3, name) == [k1024]


def test_user_metadata_limit(s3):
    name = mkbucket(s3)
    s3.put_object(Bucket=name, Key="ok", Body=b"", Metadata={"k": "v" * 1900})
    assert s3.head_object(Bucket=name, Key="ok")["Metadata"] == {"k": "v" * 1900}
    expect_error(s3.put_object, 400, "MetadataTooLarge", Bucket=name, Key="big", Body=b"",
                 Metadata={"k": "v" * 2100})
    many = {f"key{i:02d}": "v" * 80 for i in range(30)}  # > 2 KB in total
    expect_error(s3.put_object, 400, "MetadataTooLarge", Bucket=name, Key="many", Body=b"",
                 Metadata=many)
    expect_error(s3.copy_object, 400, "MetadataTooLarge", Bucket=name, Key="copy",
                 CopySource=f"{name}/ok", MetadataDirective="REPLACE", Metadata={"k": "v" * 2100})
    assert list_all(s3, name) == ["ok"]


def test_part_number_limits(s3):
    name = mkbucket(s3)
    uid = s3.create_multipart_upload(Bucket=name, Key="p")["UploadId"]
    for bad in (0, 10001):
        expect_error(s3.upload_part, 400, None, Bucket=name, Key="p", UploadId=uid,
                     PartNumber=bad, Body=b"x")
    s3.upload_part(Bucket=name, Key="p", UploadId=uid, PartNumber=10000, Body=b"x")
    s3.abort_multipart_upload(Bucket=name, Key="p", UploadId=uid)


# ---------------------------------------------------------------- 100 MiB


def test_100mib_multipart_round_trip(server, s3, tmp_path):
    seed = int(os.environ.get("CLEAVE_E2E_SEED", random.randrange(1 << 32)))
    print(f"100 MiB data seed: {seed} (replay with CLEAVE_E2E_SEED={seed})")
    size = 100 * MIB
    part = 16 * MIB
    block = MIB
    rng = random.Random(seed)
    path = tmp_path / "big.bin"
    sha = hashlib.sha256()
    part_md5s = []
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            b = rng.randbytes(block)
            f.write(b)
            sha.update(b)
            md5.update(b)
            written += block
            if written % part == 0 or written == size:
                part_md5s.append(md5.hexdigest())
                md5 = hashlib.md5()
    name = mkbucket(s3)
    cfg = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=part, max_concurrency=2,
                         use_threads=True)
    t0 = time.monotonic()
    s3.upload_file(str(path), name, "big/100mib.bin", Config=cfg)
    t1 = time.monotonic()
    h = s3.head_object(Bucket=name, Key="big/100mib.bin")
    assert h["ContentLength"] == size
    assert h["ETag"] == e2e.multipart_etag(part_md5s), h["ETag"]
    got = hashlib.sha256()
    n = 0
    body = s3.get_object(Bucket=name, Key="big/100mib.bin")["Body"]
    for chunk in body.iter_chunks(chunk_size=MIB):
        got.update(chunk)
        n += len(chunk)
    t2 = time.monotonic()
    print(f"upload {t1 - t0:.1f}s, download {t2 - t1:.1f}s")
    assert n == size
    assert got.hexdigest() == sha.hexdigest()
    path.unlink()


# ---------------------------------------------------------------- consistency and scale


def test_ranges_across_chunk_boundaries(s3any):
    name = mkbucket(s3any)
    chunk = 4 * MIB
    data = e2e.det_bytes("ranges", 2 * chunk + 333)
    s3any.put_object(Bucket=name, Key="r", Body=data)
    for first, last in ((chunk - 5, chunk + 5), (0, chunk - 1), (chunk, 2 * chunk - 1),
                        (chunk - 1, 2 * chunk), (2 * chunk + 300, 2 * chunk + 332), (7, 7)):
        g = s3any.get_object(Bucket=name, Key="r", Range=f"bytes={first}-{last}")
        assert g["Body"].read() == data[first:last + 1], (first, last)
        assert g["ContentRange"] == f"bytes {first}-{last}/{len(data)}"
    g = s3any.get_object(Bucket=name, Key="r", Range=f"bytes=-{chunk + 10}")
    assert g["Body"].read() == data[-(chunk + 10):]


def test_readers_never_see_a_torn_overwrite(server, s3):
    name = mkbucket(s3)
    versions = [e2e.det_bytes(f"torn-{i}", 5 * MIB + i) for i in range(3)]
    shas = {hashlib.sha256(v).hexdigest() for v in versions}
    s3.put_object(Bucket=name, Key="hot", Body=versions[0])
    client = e2e.boto3_client(server.endpoint, pool=8)
    stop = threading.Event()
    bad: list = []
    reads = [0]

    def reader():
        while not stop.is_set():
            body = client.get_object(Bucket=name, Key="hot")["Body"].read()
            reads[0] += 1
            if hashlib.sha256(body).hexdigest() not in shas:
                bad.append(len(body))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(12):
            client.put_object(Bucket=name, Key="hot", Body=versions[(i + 1) % 3])
            # Read-after-write: the acknowledged value is what the next GET sees.
            got = client.get_object(Bucket=name, Key="hot")["Body"].read()
            assert got == versions[(i + 1) % 3], f"write {i} not visible to the next read"
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not bad, f"{len(bad)} of {reads[0]} reads saw bytes of no single version: sizes {bad[:5]}"


def test_listing_past_1000_keys_and_bulk_delete(server, s3):
    name = mkbucket(s3)
    client = e2e.boto3_client(server.endpoint, pool=8)
    keys = [f"many/{i:05d}" for i in range(1100)]
    errors: list = []

    def put_range(part):
        try:
            for k in keys[part::8]:
                client.put_object(Bucket=name, Key=k, Body=k.encode())
        except Exception as e:  # noqa: BLE001 - asserted below
            errors.append(repr(e))

    threads = [threading.Thread(target=put_range, args=(p,)) for p in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:3]
    first = s3.list_objects_v2(Bucket=name)
    assert first["KeyCount"] == 1000 and first["IsTruncated"], (first["KeyCount"], first["IsTruncated"])
    second = s3.list_objects_v2(Bucket=name, ContinuationToken=first["NextContinuationToken"])
    assert [o["Key"] for o in first["Contents"] + second["Contents"]] == keys
    assert not second["IsTruncated"]
    v1 = s3.list_objects(Bucket=name)
    assert len(v1["Contents"]) == 1000 and v1["IsTruncated"]
    # DeleteObjects takes at most 1000 keys per request.
    for i in range(0, len(keys), 1000):
        r = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]],
                                                   "Quiet": True})
        assert not r.get("Errors"), r.get("Errors")[:3]
    assert list_all(s3, name) == []
    s3.delete_bucket(Bucket=name)


# ---------------------------------------------------------------- listings against a model

LIST_ROOTS = ["", "a/", "a-b/", "b/", "b/c/", "dir1/", "dir10/", "dir2/", "z/", "ü/", "sp ace/"]
LIST_NAMES = ["x", "x-y", "y/z", "1", "10", "2", "a-b/c", "q/c/d", "dir1"]


def model_entries(keys, prefix="", delimiter=None, after=None):
    """S3 listing semantics: keys in UTF-8 byte order, rolled up into common
    prefixes at the first delimiter after the prefix."""
    out = []
    for k in sorted(keys, key=lambda k: k.encode()):
        if not k.startswith(prefix) or (after is not None and k.encode() <= after.encode()):
            continue
        if delimiter:
            i = k.find(delimiter, len(prefix))
            if i >= 0:
                cp = k[:i + len(delimiter)]
                if not out or out[-1] != ("P", cp):
                    out.append(("P", cp))
                continue
        out.append(("K", k))
    return out


def page_entries(r):
    ents = [("K", o["Key"]) for o in r.get("Contents", [])]
    ents += [("P", p["Prefix"]) for p in r.get("CommonPrefixes", [])]
    return sorted(ents, key=lambda e: e[1].encode())


def test_listings_match_the_model(s3):
    seed = int(os.environ.get("CLEAVE_E2E_SEED", random.randrange(1 << 32)))
    print(f"listing model seed: {seed} (replay with CLEAVE_E2E_SEED={seed})")
    rng = random.Random(seed)
    name = mkbucket(s3)
    keys = sorted({r + n for r in LIST_ROOTS for n in LIST_NAMES if rng.random() < 0.6}
                  | {"dir1", "a", "b/c"})
    for k in keys:
        s3.put_object(Bucket=name, Key=k, Body=b"")
    prefixes = ["", "a", "a/", "a-", "b/", "b/c", "dir1", "dir1/", "dir", "z/x", "nope", "ü",
                "sp", "b/c/"]
    delimiters = [None, "/", "-", "/c", "x"]
    for q in range(60):
        prefix, delim = rng.choice(prefixes), rng.choice(delimiters)
        max_keys = rng.choice([1, 2, 3, 7, 1000])
        after = rng.choice([None, None, rng.choice(keys), "dir1/x0"]) if delim is None else None
        want = model_entries(keys, prefix, delim, after)
        what = f"query {q}: prefix={prefix!r} delimiter={delim!r} max_keys={max_keys} after={after!r}"
        # V2 with continuation tokens.
        got, token = [], None
        for _ in range(len(keys) + 2):
            kw = {"Bucket": name, "Prefix": prefix, "MaxKeys": max_keys}
            if delim:
                kw["Delimiter"] = delim
            if after:
                kw["StartAfter"] = after
            if token:
                kw["ContinuationToken"] = token
            r = s3.list_objects_v2(**kw)
            ents = page_entries(r)
            assert len(ents) <= max_keys and r["KeyCount"] == len(ents), what
            got += ents
            if not r["IsTruncated"]:
                break
            token = r["NextContinuationToken"]
        assert got == want, f"V2 {what}\n got  {got}\n want {want}"
        # V1 with markers.
        got, marker = [], after
        for _ in range(len(keys) + 2):
            kw = {"Bucket": name, "Prefix": prefix, "MaxKeys": max_keys}
            if delim:
                kw["Delimiter"] = delim
            if marker:
                kw["Marker"] = marker
            r = s3.list_objects(**kw)
            ents = page_entries(r)
            assert len(ents) <= max_keys, what
            got += ents
            if not r["IsTruncated"]:
                break
            marker = r.get("NextMarker") or ents[-1][1]
        assert got == want, f"V1 {what}\n got  {got}\n want {want}"
