"""Rules for opening untrusted sources, shared by the PyAV probe and the ffmpeg CLI.

A source is an upload from a stranger. ffmpeg can do far more than decode a
file: playlist and concat demuxers open other files or URLs named inside the
source (the classic "HLS playlist reads /etc/passwd" attack, also hidden in an
AVI's GAB2 subtitle). So every open of a source:

* sniffs the first bytes and rejects text sources (playlists, concat lists)
  with a reason a person understands;
* allows only self-contained, single-file container demuxers
  (``format_whitelist``) and only the ``file`` protocol
  (``protocol_whitelist``). ffmpeg copies both lists into every nested
  demuxer it opens, so a container cannot smuggle in a playlist either.
"""

from __future__ import annotations

import re
from pathlib import Path

from domain.errors import UnsupportedMedia

# Demuxer names as ffmpeg spells them; a list entry matches one component of
# a comma-separated demuxer name ("mov" matches "mov,mp4,m4a,3gp,3g2,mj2").
# Deliberately absent: hls, dash, concat, image2, tee, sdp/rtp, data,
# subtitles and anything else that opens files named inside the source.
ALLOWED_FORMATS = (
    "mov", "mp4", "m4a", "3gp", "3g2", "mj2",
    "matroska", "webm",
    "avi",
    "flv",
    "mpegts",
    "mpeg",
    "ogg",
    "asf",
    "wav",
)  # fmt: skip
FORMAT_WHITELIST = ",".join(ALLOWED_FORMATS)
PROTOCOL_WHITELIST = "file"

_HEAD_BYTES = 4096
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_CONCAT_LINE = re.compile(r"^\s*file\s+\S", re.IGNORECASE | re.MULTILINE)


def input_url(source: Path) -> str:
    """The URL ffmpeg opens for ``source``.

    Parameters:
      source: the local source file.

    The explicit ``file:`` prefix keeps a name with a colon or a leading dash
    from being read as another protocol or as a command-line option.
    """
    return "file:" + str(source.absolute())


def open_options() -> dict[str, str]:
    """AVFormatContext options that restrict a PyAV open of a source."""
    return {"format_whitelist": FORMAT_WHITELIST, "protocol_whitelist": PROTOCOL_WHITELIST}


def input_args(source: Path) -> list[str]:
    """ffmpeg CLI arguments that open ``source`` under the same restrictions.

    Parameters:
      source: the local source file.
    """
    return [
        "-format_whitelist", FORMAT_WHITELIST,
        "-protocol_whitelist", PROTOCOL_WHITELIST,
        "-i", input_url(source),
    ]  # fmt: skip


def sniff(source: Path) -> None:
    """Reject sources whose first bytes show they are not a media file.

    Parameters:
      source: the local source file.

    Raises UnsupportedMedia for an empty file, an HLS playlist, an ffmpeg
    concat list, a DASH manifest or any other text file. Binary files pass;
    the demuxer white-list and the probe judge them.
    """
    with open(source, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if not head:
        raise UnsupportedMedia("the source file is empty")
    text = _as_text(_skip_id3(head))
    if text is None:
        return
    stripped = text.lstrip().lower()
    if stripped.startswith("#extm3u") or "#ext-x-" in stripped or "#extinf" in stripped:
        raise UnsupportedMedia("the source is an HLS playlist, not a video file")
    if stripped.startswith("ffconcat") or _CONCAT_LINE.search(text):
        raise UnsupportedMedia("the source is an ffmpeg concat list, not a video file")
    if "<mpd" in stripped:
        raise UnsupportedMedia("the source is a DASH manifest, not a video file")
    raise UnsupportedMedia("the source is a text file, not a video file")


def _skip_id3(head: bytes) -> bytes:
    # ffmpeg's format probe skips a leading ID3v2 tag, so a playlist behind
    # one would still be detected as a playlist: look behind it too.
    if len(head) < 10 or not head.startswith(b"ID3"):
        return head
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if head[5] & 0x10 else 0
    return head[10 + size + footer :] or head


def _as_text(head: bytes) -> str | None:
    # Every container we accept has NUL bytes (box sizes, chunk sizes,
    # packet headers) within its first few bytes; text never does (UTF-16
    # aside, which announces itself with a byte-order mark).
    encoding, data = "utf-8", head
    for bom, bom_encoding in _BOMS:
        if head.startswith(bom):
            encoding, data = bom_encoding, head[len(bom) :]
            break
    if encoding == "utf-8" and b"\0" in data:
        return None
    text = data.decode(encoding, errors="replace")
    if not text:
        return None
    # U+FFFD stands for bytes that are not UTF-8 at all: binary, not text.
    printable = sum(ch != "\ufffd" and (ch.isprintable() or ch in "\r\n\t") for ch in text)
    return text if printable >= 0.95 * len(text) else None


_LOG_PREFIX = re.compile(r"\[[^\]]*@ ?(?:0x)?[0-9a-fA-F]+\]\s*")
_PATH = re.compile(r"(?<![\w.])(?:file:)?(?:/[^\s'\"/:,]+)+/?")
_MAX_DETAIL = 160


def scrub(line: str) -> str:
    """One ffmpeg log line made fit for a stored reason.

    Parameters:
      line: a line ffmpeg wrote to stderr.

    Drops the ``[demuxer @ 0x...]`` prefix and every absolute path (the
    machine's temp layout is nobody's business), trims the length.
    """
    line = _LOG_PREFIX.sub("", line)
    line = _PATH.sub("<file>", line).strip().rstrip(".")
    if len(line) > _MAX_DETAIL:
        line = line[: _MAX_DETAIL - 3].rstrip() + "..."
    return line
