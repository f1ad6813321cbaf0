"""awscli (Debian's /usr/bin/aws) against `cleave dev`: the high-level `aws s3`
commands and an s3api call for every operation of the S3 API."""

from __future__ import annotations

import base64
import filecmp
import hashlib
import json
import urllib.error
import urllib.request
from email.utils import formatdate

import pytest

import cleave_e2e as e2e

MIB = 1024 * 1024


def mkbucket(aws) -> str:
    name = e2e.unique_bucket("cli")
    aws.run("s3api", "create-bucket", "--bucket", name)
    return name


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def assert_error(p, code: str):
    assert f"({code})" in p.stderr, f"expected error {code}, got rc={p.returncode} stderr={p.stderr!r}"


# ---------------------------------------------------------------- aws s3 ...


def test_s3_mb_cp_ls_rm_rb(aws, tmp_path):
    name = e2e.unique_bucket("cli")
    aws.run("s3", "mb", f"s3://{name}")
    assert name in aws.run("s3", "ls").stdout
    src = write(tmp_path / "hello.txt", b"hello, cleave\n")
    aws.run("s3", "cp", str(src), f"s3://{name}/dir/hello.txt")
    listing = aws.run("s3", "ls", f"s3://{name}/dir/").stdout
    assert "hello.txt" in listing and " 14 " in listing, listing
    top = aws.run("s3", "ls", f"s3://{name}").stdout
    assert "PRE dir/" in top, top
    out = tmp_path / "back.txt"
    aws.run("s3", "cp", f"s3://{name}/dir/hello.txt", str(out))
    assert out.read_bytes() == b"hello, cleave\n"
    aws.run("s3", "rm", f"s3://{name}/dir/hello.txt")
    assert aws.run("s3", "ls", f"s3://{name}", "--recursive", check=False).stdout.strip() == ""
    aws.run("s3", "rb", f"s3://{name}")
    assert name not in aws.run("s3", "ls").stdout


def test_s3_sync_up_down_and_delete(aws, tmp_path):
    name = mkbucket(aws)
    src = tmp_path / "src"
    write(src / "a.txt", b"a" * 100)
    write(src / "sub" / "b.bin", e2e.det_bytes("sync-b", 70_000))
    write(src / "sub" / "deep" / "c.txt", b"c\n")
    aws.run("s3", "sync", str(src), f"s3://{name}/tree")
    keys = sorted(o["Key"] for o in aws.json("s3api", "list-objects-v2", "--bucket", name)["Contents"])
    assert keys == ["tree/a.txt", "tree/sub/b.bin", "tree/sub/deep/c.txt"]

    # Change one file, add one, remove one; sync --delete mirrors it.
    write(src / "a.txt", b"changed")
    write(src / "new.txt", b"new")
    (src / "sub" / "deep" / "c.txt").unlink()
    aws.run("s3", "sync", "--delete", str(src), f"s3://{name}/tree")
    objs = {o["Key"]: o["Size"] for o in aws.json("s3api", "list-objects-v2", "--bucket", name)["Contents"]}
    assert objs == {"tree/a.txt": 7, "tree/new.txt": 3, "tree/sub/b.bin": 70_000}

    dst = tmp_path / "dst"
    aws.run("s3", "sync", f"s3://{name}/tree", str(dst))
    cmp = filecmp.dircmp(src, dst)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files, cmp.report()
    assert filecmp.cmp(src / "sub" / "b.bin", dst / "sub" / "b.bin", shallow=False)

    aws.run("s3", "rm", "--recursive", f"s3://{name}/tree")
    assert "Contents" not in aws.json("s3api", "list-objects-v2", "--bucket", name)


def test_s3_presign_get(aws, tmp_path):
    name = mkbucket(aws)
    body = e2e.det_bytes("presign", 3000)
    aws.run("s3", "cp", str(write(tmp_path / "f", body)), f"s3://{name}/p/f.bin")
    url = aws.run("s3", "presign", f"s3://{name}/p/f.bin", "--expires-in", "300").stdout.strip()
    assert "X-Amz-Signature=" in url, url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        assert r.read() == body
    # The signature covers the path: the same query on another key is refused.
    other = url.replace("/p/f.bin?", "/p/g.bin?")
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(other, timeout=30)
    assert ei.value.code == 403
    assert e2e.error_code(ei.value.read()) == "SignatureDoesNotMatch"


def test_s3_cp_over_8mib_uses_multipart(aws, tmp_path):
    name = mkbucket(aws)
    data = e2e.det_bytes("cp-9mib", 9 * MIB + 123)
    src = write(tmp_path / "big.bin", data)
    aws.run("s3", "cp", str(src), f"s3://{name}/big.bin")
    head = aws.json("s3api", "head-object", "--bucket", name, "--key", "big.bin")
    # awscli's default part size is 8 MiB.
    assert head["ETag"] == e2e.multipart_etag([data[:8 * MIB], data[8 * MIB:]]), head
    assert head["ContentLength"] == len(data)
    out = tmp_path / "big.out"
    aws.run("s3", "cp", f"s3://{name}/big.bin", str(out))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- buckets


def test_bucket_create_head_list_delete(aws, tmp_path):
    name = e2e.unique_bucket("cli")
    aws.run("s3api", "create-bucket", "--bucket", name)
    aws.run("s3api", "head-bucket", "--bucket", name)
    names = [b["Name"] for b in aws.json("s3api", "list-buckets")["Buckets"]]
    assert name in names
    missing = aws.fail("s3api", "head-bucket", "--bucket", name + "-missing")
    assert "404" in missing.stderr, missing.stderr

    aws.run("s3api", "put-object", "--bucket", name, "--key", "x", "--body",
            str(write(tmp_path / "x", b"x")))
    p = aws.fail("s3api", "delete-bucket", "--bucket", name)
    assert_error(p, "BucketNotEmpty")
    aws.run("s3api", "head-bucket", "--bucket", name)
    aws.run("s3api", "delete-object", "--bucket", name, "--key", "x")
    aws.run("s3api", "delete-bucket", "--bucket", name)
    assert "404" in aws.fail("s3api", "head-bucket", "--bucket", name).stderr
    assert_error(aws.fail("s3api", "delete-bucket", "--bucket", name), "NoSuchBucket")


# ---------------------------------------------------------------- objects


def test_put_object_content_md5(aws, tmp_path):
    name = mkbucket(aws)
    body = write(tmp_path / "b", b"checked body")
    good = base64.b64encode(hashlib.md5(b"checked body").digest()).decode()
    bad = base64.b64encode(hashlib.md5(b"another body").digest()).decode()
    r = aws.json("s3api", "put-object", "--bucket", name, "--key", "ok", "--body", str(body),
                 "--content-md5", good)
    assert r["ETag"] == '"%s"' % hashlib.md5(b"checked body").hexdigest()
    p = aws.fail("s3api", "put-object", "--bucket", name, "--key", "bad", "--body", str(body),
                 "--content-md5", bad)
    assert_error(p, "BadDigest")
    # Nothing was stored under the refused key.
    assert_error(aws.fail("s3api", "get-object", "--bucket", name, "--key", "bad",
                          str(tmp_path / "o")), "NoSuchKey")


def test_put_object_metadata_and_standard_headers(aws, tmp_path):
    name = mkbucket(aws)
    body = write(tmp_path / "b", b"<html></html>")
    aws.run("s3api", "put-object", "--bucket", name, "--key", "page.html", "--body", str(body),
            "--content-type", "text/html; charset=utf-8",
            "--cache-control", "max-age=60",
            "--content-disposition", 'attachment; filename="p.html"',
            "--content-encoding", "identity",
            "--content-language", "en-GB",
            "--expires", "Wed, 21 Oct 2037 07:28:00 GMT",
            "--metadata", "colour=blue,Owner-Name=Ada")
    h = aws.json("s3api", "head-object", "--bucket", name, "--key", "page.html")
    assert h["ContentType"] == "text/html; charset=utf-8"
    assert h["CacheControl"] == "max-age=60"
    assert h["ContentDisposition"] == 'attachment; filename="p.html"'
    assert h["ContentEncoding"] == "identity"
    assert h["ContentLanguage"] == "en-GB"
    assert "2037" in h["Expires"]
    assert h["Metadata"] == {"colour": "blue", "owner-name": "Ada"}
    assert h["ContentLength"] == 13
    assert h["ETag"] == '"%s"' % hashlib.md5(b"<html></html>").hexdigest()
    assert "LastModified" in h
    out = tmp_path / "o"
    g = aws.json("s3api", "get-object", "--bucket", name, "--key", "page.html", str(out))
    assert out.read_bytes() == b"<html></html>"
    assert g["Metadata"] == {"colour": "blue", "owner-name": "Ada"}
    assert g["ContentType"] == "text/html; charset=utf-8"


def test_get_object_ranges(aws, tmp_path):
    name = mkbucket(aws)
    data = bytes(range(256)) * 4  # 1024 bytes
    aws.run("s3api", "put-object", "--bucket", name, "--key", "r", "--body",
            str(write(tmp_path / "r", data)))
    out = tmp_path / "o"
    cases = [("bytes=10-19", data[10:20], "bytes 10-19/1024"),
             ("bytes=1000-", data[1000:], "bytes 1000-1023/1024"),
             ("bytes=-5", data[-5:], "bytes 1019-1023/1024"),
             ("bytes=1020-5000", data[1020:], "bytes 1020-1023/1024")]
    for rng, want, content_range in cases:
        g = aws.json("s3api", "get-object", "--bucket", name, "--key", "r", "--range", rng, str(out))
        assert out.read_bytes() == want, rng
        assert g["ContentRange"] == content_range, (rng, g)
        assert g["ContentLength"] == len(want)
    p = aws.fail("s3api", "get-object", "--bucket", name, "--key", "r", "--range",
                 "bytes=2000-2010", str(out))
    assert_error(p, "InvalidRange")


def test_delete_object_and_delete_objects(aws, tmp_path):
    name = mkbucket(aws)
    f = write(tmp_path / "f", b"1")
    aws.run_many([["s3api", "put-object", "--bucket", name, "--key", k, "--body", str(f)]
                  for k in ("a", "b", "c", "d/e")])
    aws.run("s3api", "delete-object", "--bucket", name, "--key", "a")
    assert_error(aws.fail("s3api", "get-object", "--bucket", name, "--key", "a",
                          str(tmp_path / "o")), "NoSuchKey")
    # Deleting a missing key succeeds (S3 semantics).
    aws.run("s3api", "delete-object", "--bucket", name, "--key", "never-was")
    req = {"Objects": [{"Key": "b"}, {"Key": "c"}, {"Key": "d/e"}, {"Key": "missing"}]}
    r = aws.json("s3api", "delete-objects", "--bucket", name, "--delete", json.dumps(req))
    assert sorted(d["Key"] for d in r["Deleted"]) == ["b", "c", "d/e", "missing"]
    assert not r.get("Errors")
    assert "Contents" not in aws.json("s3api", "list-objects-v2", "--bucket", name)
    # Quiet mode reports only errors.
    aws.run("s3api", "put-object", "--bucket", name, "--key", "q", "--body", str(f))
    r = aws.json("s3api", "delete-objects", "--bucket", name, "--delete",
                 json.dumps({"Objects": [{"Key": "q"}], "Quiet": True}))
    assert not r.get("Deleted") and not r.get("Errors"), r
    assert "Contents" not in aws.json("s3api", "list-objects-v2", "--bucket", name)


def test_copy_object_copy_and_replace(aws, tmp_path):
    src_b, dst_b = mkbucket(aws), mkbucket(aws)
    body = e2e.det_bytes("copy", 5000)
    aws.run("s3api", "put-object", "--bucket", src_b, "--key", "src obj", "--body",
            str(write(tmp_path / "s", body)), "--content-type", "application/x-src",
            "--metadata", "a=1")
    etag = '"%s"' % hashlib.md5(body).hexdigest()

    r = aws.json("s3api", "copy-object", "--bucket", dst_b, "--key", "copied",
                 "--copy-source", f"{src_b}/src obj")
    assert r["CopyObjectResult"]["ETag"] == etag
    h = aws.json("s3api", "head-object", "--bucket", dst_b, "--key", "copied")
    assert h["Metadata"] == {"a": "1"} and h["ContentType"] == "application/x-src"
    out = tmp_path / "o"
    aws.run("s3api", "get-object", "--bucket", dst_b, "--key", "copied", str(out))
    assert out.read_bytes() == body

    aws.run("s3api", "copy-object", "--bucket", dst_b, "--key", "replaced",
            "--copy-source", f"{src_b}/src obj", "--metadata-directive", "REPLACE",
            "--metadata", "b=2", "--content-type", "text/plain")
    h = aws.json("s3api", "head-object", "--bucket", dst_b, "--key", "replaced")
    assert h["Metadata"] == {"b": "2"} and h["ContentType"] == "text/plain"
    assert h["ETag"] == etag

    # Copy of a missing source.
    p = aws.fail("s3api", "copy-object", "--bucket", dst_b, "--key", "x",
                 "--copy-source", f"{src_b}/nope")
    assert_error(p, "NoSuchKey")
    # The source is unchanged.
    h = aws.json("s3api", "head-object", "--bucket", src_b, "--key", "src obj")
    assert h["Metadata"] == {"a": "1"}


# ---------------------------------------------------------------- listings

LIST_KEYS = ["a/1", "a/2", "a/b/3", "b/1", "c", "d e", "d+f", "e%2Fg", "z/"]


@pytest.fixture(scope="module")
def listed(aws, tmp_path_factory):
    name = mkbucket(aws)
    f = tmp_path_factory.mktemp("list") / "f"
    f.write_bytes(b"x")
    aws.run_many([["s3api", "put-object", "--bucket", name, "--key", k, "--body", str(f)]
                  for k in LIST_KEYS])
    return name


def keys_of(r):
    return [o["Key"] for o in r.get("Contents", [])]


def prefixes_of(r):
    return [p["Prefix"] for p in r.get("CommonPrefixes", [])]


@pytest.mark.parametrize("api", ["list-objects", "list-objects-v2"])
def test_list_all_prefix_delimiter(aws, listed, api):
    r = aws.json("s3api", api, "--bucket", listed, "--no-paginate")
    assert keys_of(r) == sorted(LIST_KEYS)
    r = aws.json("s3api", api, "--bucket", listed, "--prefix", "a/", "--no-paginate")
    assert keys_of(r) == ["a/1", "a/2", "a/b/3"]
    r = aws.json("s3api", api, "--bucket", listed, "--delimiter", "/", "--no-paginate")
    assert keys_of(r) == ["c", "d e", "d+f", "e%2Fg"]
    assert prefixes_of(r) == ["a/", "b/", "z/"]
    r = aws.json("s3api", api, "--bucket", listed, "--prefix", "a/", "--delimiter", "/",
                 "--no-paginate")
    assert keys_of(r) == ["a/1", "a/2"] and prefixes_of(r) == ["a/b/"]
    r = aws.json("s3api", api, "--bucket", listed, "--prefix", "nothing", "--no-paginate")
    assert keys_of(r) == [] and prefixes_of(r) == []


def test_list_v2_max_keys_and_continuation(aws, listed):
    seen = []
    token = None
    pages = 0
    while True:
        args = ["s3api", "list-objects-v2", "--bucket", listed, "--max-keys", "2", "--no-paginate"]
        if token:
            args += ["--continuation-token", token]
        r = aws.json(*args)
        pages += 1
        assert len(keys_of(r)) <= 2
        assert r["MaxKeys"] == 2
        assert r["KeyCount"] == len(keys_of(r))
        seen += keys_of(r)
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        token = r["NextContinuationToken"]
        assert pages < 20
    assert seen == sorted(LIST_KEYS)
    assert pages == 5

    r = aws.json("s3api", "list-objects-v2", "--bucket", listed, "--start-after", "b/1",
                 "--no-paginate")
    assert keys_of(r) == sorted(k for k in LIST_KEYS if k > "b/1")
    # Delimiter + max-keys: common prefixes count towards max-keys.
    r = aws.json("s3api", "list-objects-v2", "--bucket", listed, "--delimiter", "/",
                 "--max-keys", "2", "--no-paginate")
    assert prefixes_of(r) + keys_of(r) and len(prefixes_of(r) + keys_of(r)) == 2
    assert prefixes_of(r) == ["a/", "b/"] and r["IsTruncated"] and r["KeyCount"] == 2
    r2 = aws.json("s3api", "list-objects-v2", "--bucket", listed, "--delimiter", "/",
                  "--max-keys", "2", "--continuation-token", r["NextContinuationToken"],
                  "--no-paginate")
    assert keys_of(r2) == ["c", "d e"] and prefixes_of(r2) == []


def test_list_v1_marker_pagination(aws, listed):
    seen = []
    marker = None
    for _ in range(20):
        args = ["s3api", "list-objects", "--bucket", listed, "--max-keys", "3", "--no-paginate"]
        if marker:
            args += ["--marker", marker]
        r = aws.json(*args)
        page = keys_of(r)
        seen += page
        if not r["IsTruncated"]:
            break
        # Without a delimiter, S3 may omit NextMarker; the last key is the marker.
        marker = r.get("NextMarker", page[-1])
    assert seen == sorted(LIST_KEYS)
    # With a delimiter, a truncated v1 page names its NextMarker, which may
    # be a common prefix.
    r = aws.json("s3api", "list-objects", "--bucket", listed, "--delimiter", "/",
                 "--max-keys", "2", "--no-paginate")
    assert prefixes_of(r) == ["a/", "b/"] and r["IsTruncated"] and r["NextMarker"] == "b/", r
    r = aws.json("s3api", "list-objects", "--bucket", listed, "--delimiter", "/",
                 "--max-keys", "2", "--marker", "b/", "--no-paginate")
    assert keys_of(r) == ["c", "d e"] and prefixes_of(r) == [], r


@pytest.mark.parametrize("api", ["list-objects", "list-objects-v2"])
def test_list_encoding_type_url(aws, listed, api):
    import urllib.parse

    # An explicit --encoding-type is passed through without botocore decoding.
    r = aws.json("s3api", api, "--bucket", listed, "--encoding-type", "url", "--no-paginate")
    assert r.get("EncodingType") == "url"
    raw = keys_of(r)
    assert [urllib.parse.unquote_plus(k) for k in raw] == sorted(LIST_KEYS)
    enc = dict(zip(sorted(LIST_KEYS), raw))
    assert " " not in enc["d e"]
    assert enc["d+f"] in ("d%2Bf",), enc
    assert enc["e%2Fg"] == "e%252Fg"


# ---------------------------------------------------------------- multipart


def test_multipart_complete_list_parts_list_uploads(aws, tmp_path):
    name = mkbucket(aws)
    p1 = e2e.det_bytes("mp1", 5 * MIB)
    p2 = e2e.det_bytes("mp2", MIB + 7)
    up = aws.json("s3api", "create-multipart-upload", "--bucket", name, "--key", "mp/obj",
                  "--content-type", "application/x-mp", "--metadata", "m=1")
    uid = up["UploadId"]
    assert up["Key"] == "mp/obj" and up["Bucket"] == name and uid

    uploads = aws.json("s3api", "list-multipart-uploads", "--bucket", name)
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == [("mp/obj", uid)]

    etags = []
    for n, data in ((1, p1), (2, p2)):
        r = aws.json("s3api", "upload-part", "--bucket", name, "--key", "mp/obj", "--upload-id",
                     uid, "--part-number", str(n), "--body", str(write(tmp_path / f"p{n}", data)))
        assert r["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
        etags.append(r["ETag"])
    lp = aws.json("s3api", "list-parts", "--bucket", name, "--key", "mp/obj", "--upload-id", uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp["Parts"]] == \
        [(1, etags[0], len(p1)), (2, etags[1], len(p2))]

    parts = {"Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]}]}
    done = aws.json("s3api", "complete-multipart-upload", "--bucket", name, "--key", "mp/obj",
                    "--upload-id", uid, "--multipart-upload", json.dumps(parts))
    want = e2e.multipart_etag([p1, p2])
    assert done["ETag"] == want
    h = aws.json("s3api", "head-object", "--bucket", name, "--key", "mp/obj")
    assert h["ETag"] == want and h["ContentLength"] == len(p1) + len(p2)
    assert h["ContentType"] == "application/x-mp" and h["Metadata"] == {"m": "1"}
    out = tmp_path / "o"
    aws.run("s3api", "get-object", "--bucket", name, "--key", "mp/obj", str(out))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(p1 + p2).digest()
    # Ranged read across the part boundary.
    aws.run("s3api", "get-object", "--bucket", name, "--key", "mp/obj", "--range",
            f"bytes={5 * MIB - 3}-{5 * MIB + 2}", str(out))
    assert out.read_bytes() == (p1 + p2)[5 * MIB - 3:5 * MIB + 3]
    assert "Uploads" not in aws.json("s3api", "list-multipart-uploads", "--bucket", name)
    p = aws.fail("s3api", "list-parts", "--bucket", name, "--key", "mp/obj", "--upload-id", uid)
    assert_error(p, "NoSuchUpload")


def test_multipart_abort(aws, tmp_path):
    name = mkbucket(aws)
    uid = aws.json("s3api", "create-multipart-upload", "--bucket", name, "--key", "ab")["UploadId"]
    aws.run("s3api", "upload-part", "--bucket", name, "--key", "ab", "--upload-id", uid,
            "--part-number", "1", "--body", str(write(tmp_path / "p", b"part")))
    aws.run("s3api", "abort-multipart-upload", "--bucket", name, "--key", "ab", "--upload-id", uid)
    assert_error(aws.fail("s3api", "list-parts", "--bucket", name, "--key", "ab",
                          "--upload-id", uid), "NoSuchUpload")
    assert "Uploads" not in aws.json("s3api", "list-multipart-uploads", "--bucket", name)
    assert_error(aws.fail("s3api", "get-object", "--bucket", name, "--key", "ab",
                          str(tmp_path / "o")), "NoSuchKey")
    # A bucket whose only upload was aborted is empty and can be deleted.
    aws.run("s3api", "delete-bucket", "--bucket", name)


def test_multipart_bad_completions(aws, tmp_path):
    name = mkbucket(aws)
    uid = aws.json("s3api", "create-multipart-upload", "--bucket", name, "--key", "k")["UploadId"]
    small = b"s" * 1000
    etags = []
    for n in (1, 2):
        r = aws.json("s3api", "upload-part", "--bucket", name, "--key", "k", "--upload-id", uid,
                     "--part-number", str(n), "--body", str(write(tmp_path / "p", small)))
        etags.append(r["ETag"])
    # A part that is not the last must be at least 5 MiB.
    p = aws.fail("s3api", "complete-multipart-upload", "--bucket", name, "--key", "k",
                 "--upload-id", uid, "--multipart-upload", json.dumps(
                     {"Parts": [{"PartNumber": 1, "ETag": etags[0]},
                                {"PartNumber": 2, "ETag": etags[1]}]}))
    assert_error(p, "EntityTooSmall")
    # An ETag that does not match the uploaded part.
    p = aws.fail("s3api", "complete-multipart-upload", "--bucket", name, "--key", "k",
                 "--upload-id", uid, "--multipart-upload", json.dumps(
                     {"Parts": [{"PartNumber": 1, "ETag": '"%s"' % ("0" * 32)}]}))
    assert_error(p, "InvalidPart")
    # Unknown upload id.
    p = aws.fail("s3api", "complete-multipart-upload", "--bucket", name, "--key", "k",
                 "--upload-id", "no-such-upload", "--multipart-upload", json.dumps(
                     {"Parts": [{"PartNumber": 1, "ETag": etags[0]}]}))
    assert_error(p, "NoSuchUpload")
    # The failed completions left the upload usable: a one-part completion works.
    done = aws.json("s3api", "complete-multipart-upload", "--bucket", name, "--key", "k",
                    "--upload-id", uid, "--multipart-upload", json.dumps(
                        {"Parts": [{"PartNumber": 1, "ETag": etags[0]}]}))
    assert done["ETag"] == e2e.multipart_etag([small])


# ---------------------------------------------------------------- conditionals


def test_conditional_get_and_head(aws, tmp_path):
    name = mkbucket(aws)
    aws.run("s3api", "put-object", "--bucket", name, "--key", "c", "--body",
            str(write(tmp_path / "c", b"conditional")))
    h = aws.json("s3api", "head-object", "--bucket", name, "--key", "c")
    etag = h["ETag"]
    last_modified = h["LastModified"]
    out = str(tmp_path / "o")
    past = formatdate(0, usegmt=True)                   # 1970
    future = formatdate(4102444800, usegmt=True)        # 2100

    ok, not_modified, failed = [], [], []
    for verb in ("head-object", "get-object"):
        # Each GET writes its own output file: the commands run concurrently.
        base = ["s3api", verb, "--bucket", name, "--key", "c"]

        def cmd(*args, base=base, verb=verb):
            n = len(ok) + len(not_modified) + len(failed)
            return [*base, *args] + ([f"{out}.{n}"] if verb == "get-object" else [])
        # Conditions that hold: served.
        ok.append(cmd("--if-match", etag))
        ok.append(cmd("--if-none-match", '"0123"'))
        ok.append(cmd("--if-modified-since", past))
        ok.append(cmd("--if-unmodified-since", future))
        ok.append(cmd("--if-unmodified-since", last_modified))
        # If-Match takes precedence over a failing If-Unmodified-Since (RFC 7232 6).
        ok.append(cmd("--if-match", etag, "--if-unmodified-since", past))
        # If-None-Match hit, or not modified since its own Last-Modified: 304.
        not_modified.append(cmd("--if-none-match", etag))
        not_modified.append(cmd("--if-modified-since", last_modified))
        # If-Match miss, or modified since 1970: 412.
        failed.append(cmd("--if-match", '"0123"'))
        failed.append(cmd("--if-unmodified-since", past))
    results = aws.run_many(ok + not_modified + failed, check=False)
    for c, p in zip(ok + not_modified + failed, results):
        if c in ok:
            assert p.returncode == 0, (c, p.stderr)
        elif c in not_modified:
            assert p.returncode != 0 and ("304" in p.stderr or "Not Modified" in p.stderr), \
                (c, p.stderr)
        else:
            assert p.returncode != 0 and ("412" in p.stderr or "PreconditionFailed" in p.stderr), \
                (c, p.stderr)
