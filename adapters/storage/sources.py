"""SourceAccess: how a piece of a long video reads its source.

By URL when its container seeks by range requests (a presigned GET: ffmpeg
reads only the ranges the part needs). Otherwise the whole object is
downloaded once per machine and attempt, into a folder every worker process
of the machine shares (an exclusive file lock makes the others wait for the
first download instead of starting their own), kept for the attempt's other
parts and removed when this machine's last part of it finds every piece done;
copies of attempts older than a day are swept away at the next open.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import time
from pathlib import Path

from adapters.storage.s3 import S3Storage

log = logging.getLogger(__name__)
STALE_SECONDS = 24 * 3600


class SourceAccess:
    """The SourceAccess port on S3.

    Parameters:
      storage: the bucket.
      root: the folder of this machine's copies (under WORK_DIR or the system's temp folder).
      url_seconds: how long a presigned URL is valid (longer than the slowest part's encode).
    """

    def __init__(self, storage: S3Storage, root: Path, *, url_seconds: int = 6 * 3600) -> None:
        self.storage = storage
        self.root = root
        self.url_seconds = url_seconds

    def open(self, key: str, attempt: str, *, by_range: bool) -> Path | str:
        """A presigned URL of ``key``, or the path of this machine's copy of it for ``attempt``."""
        if by_range:
            return self.storage.presigned_url(key, self.url_seconds)
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep()
        folder = self.root / f"{attempt}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        folder.mkdir(exist_ok=True)
        copy = folder / "source"
        with open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the machine's other processes wait for this download
            if not copy.is_file():
                partial = folder / "source.partial"
                self.storage.download(key, partial)
                partial.rename(copy)
                log.info("downloaded the source %s once for this machine's parts of attempt %s", key, attempt)
        return copy

    def forget(self, attempt: str) -> None:
        for folder in self.root.glob(f"{attempt}-*"):
            shutil.rmtree(folder, ignore_errors=True)

    def _sweep(self) -> None:
        cutoff = time.time() - STALE_SECONDS
        for folder in self.root.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                continue  # another process swept it first
