"""Writing a video's outputs to the bucket: one pass's and a fan-in's share these steps."""

from __future__ import annotations

import logging
from pathlib import Path

from domain.errors import JobError, SourceNotFound
from domain.ports import ObjectStorage
from domain.video import subtitles
from domain.video.playlists import VARIANT_PLAYLIST

log = logging.getLogger(__name__)
SEGMENT_SUFFIX = ".ts"


def upload_tree(storage: ObjectStorage, folder: Path, prefix: str, on_file=None) -> None:
    """Upload every file under ``folder`` to ``prefix/<its relative path>``, in name order.

    Parameters:
      storage: the bucket.
      folder: the local folder (missing: nothing to upload).
      prefix: the key prefix the folder stands for.
      on_file: called with (files done, files in all) after each upload, if given.
    """
    files = sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []
    for done, path in enumerate(files, start=1):
        storage.upload(path, f"{prefix}/{path.relative_to(folder).as_posix()}")
        if on_file is not None:
            on_file(done, len(files))


def keep_captions(storage: ObjectStorage, master: Path, key: str) -> None:
    """A re-encode keeps the captions its previous master listed (their playlists stay in hls/subs/).

    Parameters:
      storage: the bucket holding the previous master, if any.
      master: the new master playlist, on disk (rewritten in place).
      key: the master's key in the bucket.
    """
    try:
        previous = storage.read_text(key)
    except SourceNotFound:
        return  # the first encode of this video
    kept = subtitles.entries(previous)
    if kept:
        master.write_text(subtitles.with_subtitles(master.read_text(), kept))


def remove_unlisted_segments(storage: ObjectStorage, hls_dir: Path, hls_prefix: str) -> int:
    """Delete the media segments under ``hls_prefix`` that the new playlists (in ``hls_dir``) do not
    list - an earlier encode's, once the new master is written. Best effort: a failure is logged and
    the segments are left to the bucket's lifecycle rule; returns how many were deleted.

    Parameters:
      storage: the bucket.
      hls_dir: the local folder holding the playlists just uploaded (``<rendition>/index.m3u8``).
      hls_prefix: the video's ``.../hls`` prefix in the bucket.
    """
    listed = {
        f"{hls_prefix}/{playlist.parent.relative_to(hls_dir).as_posix()}/{line.strip()}"
        for playlist in hls_dir.glob(f"*/{VARIANT_PLAYLIST}")
        for line in playlist.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    try:
        stale = [key for key in storage.list_keys(f"{hls_prefix}/")
                 if key.endswith(SEGMENT_SUFFIX) and key not in listed]
        storage.delete_keys(stale)
    except JobError as error:
        log.warning("could not delete an earlier encode's segments under %s (%s)", hls_prefix, error.reason)
        return 0
    return len(stale)
