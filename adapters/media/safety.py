"""Rules for opening untrusted sources, shared by the PyAV probe and the ffmpeg CLI.

A source is an upload from a stranger. ffmpeg can do far more than decode a
file: playlist and concat demuxers open other files or URLs named inside the
source (the classic "HLS playlist reads /etc/passwd" attack, also hidden in an
AVI's GAB2 subtitle). So every open of a source:

* sniffs the first bytes and rejects text sources (playlists, concat lists)
  with a reason a person understands (``sniff`` on a local file,
  ``sniff_head`` on the first ``HEAD_BYTES`` of a remote one);
* allows only self-contained, single-file container demuxers
  (``format_whitelist``) and only the protocols the source itself needs
  (``protocol_whitelist``): ``file`` for a local file; ``https,tls,tcp`` for a
  presigned HTTPS URL, its certificate checked against a CA bundle; ``http,tcp``
  for a plain HTTP URL, only where ``RemoteAccess.allow_plain_http`` says so (a
  local S3 such as moto's server). ffmpeg copies both lists into every nested
  demuxer and every protocol it opens (a redirect included), so neither a
  container nor a server can smuggle in a playlist or a local file.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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
HTTPS_PROTOCOLS = "https,tls,tcp"
HTTP_PROTOCOLS = "http,tcp"

# A local file, or a presigned http(s) URL of the source in the bucket.
Source = Path | str

# How many first bytes ``sniff_head`` judges (a ranged GET of the object's
# first HEAD_BYTES is enough for a remote source).
HEAD_BYTES = 4096
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_CONCAT_LINE = re.compile(r"^\s*file\s+\S", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class RemoteAccess:
    """How a source given by URL may be read.

    Parameters:
      allow_plain_http: accept ``http://`` URLs too; only for a local S3
        endpoint such as moto's server (the composition root says so when
        S3_ENDPOINT_URL is set). Production URLs are ``https://``.
      ca_file: the CA bundle an HTTPS server's certificate is checked
        against; None for the system's (``default_ca_file``). ffmpeg checks
        the certificate and the host name with it.
      io_timeout_seconds: how long one connect or read may stall before
        ffmpeg gives up, so a dead connection fails the run at once rather
        than at the run's time limit.
    """

    allow_plain_http: bool = False
    ca_file: str | None = None
    io_timeout_seconds: float = 30.0


def is_url(source: Source) -> bool:
    """Whether ``source`` is given by URL (a str) rather than as a local file (a Path).

    Parameters:
      source: a local file or a URL.
    """
    return isinstance(source, str)


def check_url(url: str, *, allow_plain_http: bool) -> str:
    """Return ``url`` if ffmpeg may open it as a source; ValueError otherwise.

    Parameters:
      url: a presigned URL of the source.
      allow_plain_http: whether ``http://`` is accepted besides ``https://``.

    Only ``https://`` (and ``http://`` when allowed), lower case as ffmpeg
    spells its protocols, with a host, without credentials, spaces or control
    characters (which would end up in an HTTP request line).
    """
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValueError("a source URL must not contain spaces or control characters")
    schemes = ("https://", "http://") if allow_plain_http else ("https://",)
    if not url.startswith(schemes):
        allowed = " or ".join(scheme.rstrip("/:") for scheme in schemes)
        raise ValueError(f"a source URL must be {allowed}; got {url.split(':', 1)[0][:16]!r}")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError("a source URL must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a source URL must not carry credentials")
    return url


def protocols(source: Source) -> str:
    """The ``protocol_whitelist`` an open of ``source`` needs, and nothing more.

    Parameters:
      source: a local file, or a URL already accepted by ``check_url``.
    """
    if not is_url(source):
        return PROTOCOL_WHITELIST
    return HTTPS_PROTOCOLS if str(source).startswith("https://") else HTTP_PROTOCOLS


def default_ca_file() -> str | None:
    """The system's CA bundle (Debian's ``/etc/ssl/certs/ca-certificates.crt``), None if there is none."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def input_url(source: Source, access: RemoteAccess | None = None) -> str:
    """The URL ffmpeg opens for ``source``.

    Parameters:
      source: a local file, or a presigned URL.
      access: how URLs may be read (None: no plain http).

    For a file, the explicit ``file:`` prefix keeps a name with a colon or a
    leading dash from being read as another protocol or as a command-line
    option. A URL is checked by ``check_url``.
    """
    if is_url(source):
        return check_url(str(source), allow_plain_http=(access or RemoteAccess()).allow_plain_http)
    return "file:" + str(Path(source).absolute())


def open_options(source: Source | None = None, access: RemoteAccess | None = None) -> dict[str, str]:
    """AVFormatContext options that restrict a PyAV open of ``source``.

    Parameters:
      source: the source to open (None: a local file).
      access: how URLs may be read.
    """
    options = {"format_whitelist": FORMAT_WHITELIST, "protocol_whitelist": protocols(source or Path())}
    if source is not None and is_url(source):
        options.update(_remote_options(str(source), access or RemoteAccess()))
    return options


def input_args(source: Source, access: RemoteAccess | None = None, options: Sequence[str] = ()) -> list[str]:
    """ffmpeg CLI arguments that open ``source`` under the same restrictions.

    Parameters:
      source: a local file, or a presigned URL.
      access: how URLs may be read.
      options: more input options (seeking, timestamp offsets), placed
        before ``-i``.
    """
    url = input_url(source, access)
    args = ["-format_whitelist", FORMAT_WHITELIST, "-protocol_whitelist", protocols(source)]
    if is_url(source):
        for name, value in _remote_options(url, access or RemoteAccess()).items():
            args += [f"-{name}", value]
    return [*args, *options, "-i", url]


def _remote_options(url: str, access: RemoteAccess) -> dict[str, str]:
    # A stalled connection fails the read; a dropped one is reopened at the
    # offset it reached (a presigned URL stays valid for the run), and so is
    # a 5xx from the storage. An expired URL (403) is not retried here: the
    # caller signs a new one when it runs again.
    options = {
        "rw_timeout": str(round(access.io_timeout_seconds * 1_000_000)),
        "reconnect": "1",
        "reconnect_on_network_error": "1",
        "reconnect_on_http_error": "5xx",
        "reconnect_delay_max": "4",
    }
    if url.startswith("https://"):
        ca_file = access.ca_file or default_ca_file()
        if not ca_file:
            raise ValueError("no CA bundle to check the storage's certificate with: install ca-certificates")
        options.update({"tls_verify": "1", "ca_file": ca_file})
    return options


def sniff(source: Path) -> None:
    """Reject a local source whose first bytes show it is not a media file.

    Parameters:
      source: the local source file.

    Raises UnsupportedMedia as ``sniff_head`` does.
    """
    with open(source, "rb") as handle:
        sniff_head(handle.read(HEAD_BYTES))


def sniff_head(head: bytes) -> None:
    """Reject a source whose first bytes show it is not a media file.

    Parameters:
      head: the source's first ``HEAD_BYTES`` (all of it when shorter), e.g.
        from a ranged GET of the object.

    Raises UnsupportedMedia for an empty file, an HLS playlist, an ffmpeg
    concat list, a DASH manifest or any other text file. Binary files pass;
    the demuxer white-list and the probe judge them.
    """
    head = head[:HEAD_BYTES]
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


# A URL in a log line may be presigned: its query is a credential.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]+")
_LOG_PREFIX = re.compile(r"\[[^\]]*@ ?(?:0x)?[0-9a-fA-F]+\]\s*")
_PATH = re.compile(r"(?<![\w.])(?:file:)?(?:/[^\s'\"/:,]+)+/?")
_MAX_DETAIL = 160


def scrub(line: str) -> str:
    """One ffmpeg log line made fit for a stored reason.

    Parameters:
      line: a line ffmpeg wrote to stderr.

    Drops the ``[demuxer @ 0x...]`` prefix, every URL (a presigned one
    carries a signature) and every absolute path (the machine's temp layout
    is nobody's business), trims the length.
    """
    line = _LOG_PREFIX.sub("", line)
    line = _URL.sub("<source URL>", line)
    line = _PATH.sub("<file>", line).strip().rstrip(".")
    if len(line) > _MAX_DETAIL:
        line = line[: _MAX_DETAIL - 3].rstrip() + "..."
    return line
