"""S3Storage against moto's server over real HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.storage import S3Storage, content_type_of
from domain.errors import SourceNotFound, TransientError


@pytest.fixture
def storage(moto, bucket):
    return S3Storage(moto.client("s3"), bucket, part_size=5 * 1024**2)


def test_missing_object_is_source_not_found(storage):
    with pytest.raises(SourceNotFound, match="'uploads/none.mp4' does not exist"):
        storage.size_of("uploads/none.mp4")
    with pytest.raises(SourceNotFound):
        storage.download("uploads/none.mp4", Path("/tmp/never-written"))


def test_multipart_round_trip_with_content_types(storage, moto, bucket, tmp_path):
    big = tmp_path / "seg_00000.ts"
    big.write_bytes(os.urandom(12 * 1024**2 + 3))  # three parts
    storage.upload(big, "videos/7/1/hls/360p/seg_00000.ts")
    head = moto.client("s3").head_object(Bucket=bucket, Key="videos/7/1/hls/360p/seg_00000.ts")
    assert head["ContentType"] == "video/mp2t" and head["ContentLength"] == big.stat().st_size
    assert head["ETag"].strip('"').endswith("-3")  # uploaded in parts, never read whole
    assert storage.size_of("videos/7/1/hls/360p/seg_00000.ts") == big.stat().st_size
    back = tmp_path / "back.ts"
    storage.download("videos/7/1/hls/360p/seg_00000.ts", back)
    assert back.read_bytes() == big.read_bytes()


@pytest.mark.parametrize("name,expected", [("master.m3u8", "application/vnd.apple.mpegurl"),
                                           ("thumbnail.jpg", "image/jpeg"), ("x.m4s", "video/iso.segment"),
                                           ("unknown.zzz", "application/octet-stream")])
def test_content_types(name, expected):
    assert content_type_of(Path(name)) == expected


def test_unreachable_s3_is_transient(tmp_path):
    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    storage = S3Storage(client, "bucket")
    with pytest.raises(TransientError, match="S3 read failed"):
        storage.size_of("k")
    path = tmp_path / "f.jpg"
    path.write_bytes(b"x")
    with pytest.raises(TransientError, match="S3 upload failed"):
        storage.upload(path, "k")
    with pytest.raises(TransientError, match="S3 delete failed"):
        storage.delete_keys(["k"])


def test_delete_removes_the_objects_in_batches_and_a_missing_one_is_no_error(storage, moto, bucket):
    keys = [f"videos/7/1/hls/chapters/chapter_{n:04d}.jpg" for n in range(1, 1203)]  # two requests
    client = moto.client("s3")
    for key in keys[:3] + keys[-2:]:
        client.put_object(Bucket=bucket, Key=key, Body=b"\xff\xd8")
    client.put_object(Bucket=bucket, Key="videos/7/1/hls/master.m3u8", Body=b"#EXTM3U")
    storage.delete_keys(keys)
    left = [item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix="videos/7/1/").get("Contents", [])]
    assert left == ["videos/7/1/hls/master.m3u8"]
    storage.delete_keys([])


def test_a_delete_s3_refuses_is_transient(moto, bucket):
    client = moto.client("s3")
    client.put_object(Bucket=bucket, Key="videos/7/1/chapters.vtt", Body=b"WEBVTT")
    with pytest.raises(TransientError, match="S3 delete failed"):
        S3Storage(client, "no-such-bucket").delete_keys(["videos/7/1/chapters.vtt"])
