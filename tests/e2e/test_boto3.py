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
