"""Reading a video's own outputs for the dashboard's preview player: only under its prefix, only player files.

The bucket is private; the dashboard streams a READY video's playlists,
segments and storyboard to the operator's browser itself. A name is taken
only if every part of it is a plain file or folder name (no ``..``, no
leading dot, no slash tricks, no control characters) and it ends like a
file a player asks for, so no request can leave the video's prefix or read
a source upload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

PLAYER_FILES = (".m3u8", ".ts", ".vtt", ".jpg", ".json")  # .json: the chapters (CONTRACT 4c)
MAX_DEPTH = 4
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_MISSING = {"404", "NoSuchKey", "NotFound"}
# Where `npm ci` (package-lock.json) puts hls.js: beside the code in a checkout
# (Heroku, local runs), or in the working directory (the Docker image copies it there).
HLS_JS = Path("node_modules") / "hls.js" / "dist" / "hls.min.js"
_CHECKOUT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class OutputFile:
    """An object being streamed: its body (botocore's StreamingBody), type and length."""

    body: Any
    content_type: str
    length: int


def output_key(prefix: str, name: str) -> str | None:
    """The object key of ``name`` under a job's ``prefix``, or None when ``name`` is not a player file there.

    Parameters:
      prefix: the job's output prefix, ending with "/" (``Ops.output_prefix``).
      name: the path the browser asked for, relative to the prefix, already URL-decoded.
    """
    parts = name.split("/")
    if not 1 <= len(parts) <= MAX_DEPTH or not all(_PART.match(part) for part in parts):
        return None
    if not name.endswith(PLAYER_FILES):
        return None
    return prefix + name


def open_output(s3, bucket: str, key: str) -> OutputFile | None:
    """Open one object for streaming; None when it does not exist.

    Parameters:
      s3: a boto3 S3 client.
      bucket: the bucket of CONTRACT section 4.
      key: the object key (from ``output_key``).
    """
    try:
        found = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise
    return OutputFile(found["Body"], found.get("ContentType") or "application/octet-stream", found["ContentLength"])


def hls_js_path() -> Path | None:
    """Where the installed hls.js is, or None when ``npm ci`` was not run for this deployment."""
    for root in (Path.cwd(), _CHECKOUT):
        if (root / HLS_JS).is_file():
            return root / HLS_JS
    return None
