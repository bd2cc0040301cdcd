"""ObjectStorage on one S3 bucket: streamed downloads, streamed multipart uploads."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import SourceNotFound, TransientError

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".json": "application/json",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
}
MISSING = {"404", "NoSuchKey", "NotFound"}
_DELETE_BATCH = 1000  # S3's limit for one DeleteObjects request


def content_type_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class S3Storage:
    """ObjectStorage on the bucket of CONTRACT section 4.

    boto3's managed transfers stream to and from disk in parts, so memory stays
    flat whatever the size of the source.

    Parameters:
      client: a boto3 S3 client (endpoint and region from settings).
      bucket: the bucket name (setting S3_BUCKET).
      part_size: multipart chunk size in bytes for uploads and downloads.
      concurrency: parallel parts per transfer.
    """

    def __init__(self, client, bucket: str, *, part_size: int = 8 * 1024**2, concurrency: int = 4) -> None:
        self.client = client
        self.bucket = bucket
        self.transfer = TransferConfig(
            multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=concurrency
        )

    def size_of(self, key: str) -> int:
        with _s3_errors("read", key):
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def download(self, key: str, dest: Path) -> None:
        with _s3_errors("download", key):
            self.client.download_file(self.bucket, key, str(dest), Config=self.transfer)

    def upload(self, path: Path, key: str) -> None:
        with _s3_errors("upload", key):
            self.client.upload_file(
                str(path), self.bucket, key, ExtraArgs={"ContentType": content_type_of(path)}, Config=self.transfer
            )

    def read_text(self, key: str) -> str:
        with _s3_errors("read", key):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")

    def write_text(self, key: str, text: str) -> None:
        with _s3_errors("upload", key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                                   ContentType=content_type_of(Path(key)))

    def read_head(self, key: str, size: int) -> bytes:
        """The first ``size`` bytes of an object (one ranged GET); b"" for an empty one."""
        try:
            with _s3_errors("read", key):
                return self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{size - 1}")["Body"].read()
        except TransientError as error:
            if isinstance(error.__cause__, ClientError) and _code(error.__cause__) == "InvalidRange":
                return b""  # S3 refuses any range of an empty object
            raise

    def exists(self, key: str) -> bool:
        try:
            self.size_of(key)
        except SourceNotFound:
            return False
        return True

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, in key order."""
        keys: list[str] = []
        with _s3_errors("list", prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete objects (1,000 per request, S3's limit); a key that is not there is no error."""
        for start in range(0, len(keys), 1000):
            batch = keys[start:start + 1000]
            with _s3_errors("delete", batch[0]):
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
            if answer.get("Errors"):
                raise TransientError(f"S3 delete failed ({answer['Errors'][0].get('Code', 'error')})")

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        """A URL that reads ``key`` (with range requests) without credentials, for ``expires_seconds``."""
        with _s3_errors("sign", key):
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds)


    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects, up to 1000 a request; a key with no object is no error (S3 says so too)."""
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            with _s3_errors("delete", batch[0]):
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
            failed = answer.get("Errors") or []
            if failed:
                raise TransientError(f"S3 delete failed ({failed[0].get('Code', 'unknown')} for {len(failed)} key(s))")


@contextmanager
def _s3_errors(action: str, key: str) -> Iterator[None]:
    """A missing object is the source's fault (permanent); anything else S3 says is transient."""
    try:
        yield
    except ClientError as error:
        if action in ("read", "download") and _code(error) in MISSING:
            raise SourceNotFound(f"the source object {key!r} does not exist in the bucket") from error
        raise _transient(action, error) from error
    except (BotoCoreError, S3UploadFailedError) as error:
        raise _transient(action, error) from error


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _transient(action: str, error: Exception) -> TransientError:
    detail = _code(error) if isinstance(error, ClientError) else type(error).__name__
    return TransientError(f"S3 {action} failed ({detail})")
