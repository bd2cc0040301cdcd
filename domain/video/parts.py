"""Long videos in parts (CONTRACT 4b): the pieces of one attempt, their names and records.

A video at least ``PartsPolicy.min_seconds`` long is encoded as pieces, each
a message of the worker's own parts queue: one piece per ``part_seconds`` of
source time (its video rungs and storyboard tiles: a ``VideoPart``) and one
``audio`` piece (the shared audio group with its loudness pass, and the
thumbnail, over the whole source). Everything one attempt writes is named
by the attempt (the fence its ``mark_processing`` wrote), so an older
attempt's late pieces write nothing the newer playlists list.

Whether a piece is done is its completion record in storage
(``parts/{attempt}/done/{piece}.json`` beside ``hls/``), never a counter in
Redis: a Redis flush or a lost message cannot make the video finish early
or lose a finished piece. Pure rules here, no I/O; keys are relative to
nothing (callers prefix the video's output folder).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from domain.video.model import MediaInfo, Rendition, VideoPart

AUDIO_PIECE = "audio"
STAGING_FOLDER = "parts"  # beside hls/: plans, records and tiles; never listed by a playlist
PLAN_FILE = "plan.json"
DONE_FOLDER = "done"
TILES_FOLDER = "tiles"
SLIDES_FOLDER = "slides"  # each piece's candidate slide changes (CONTRACT 4c), decided at the fan-in
_ATTEMPT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PIECE = re.compile(r"audio|part_[0-9]{5}")


@dataclass(frozen=True)
class PartsPolicy:
    """When and how videos are parted.

    Parameters:
      min_seconds: the shortest source that is parted (VIDEO_PARTS_MIN_SECONDS); None: never.
      part_seconds: source seconds per part (VIDEO_PART_SECONDS), a multiple of ``segment_seconds``.
      segment_seconds: the HLS segment length (HLS_SEGMENT_SECONDS).
      queue_ready: whether the parts queue and its dead-letter queue exist (else: one pass).
      check_seconds: how long the delayed check of a fan-out waits between two looks (at most
        SQS's 15-minute delay).
      stall_seconds: after this long without a piece finishing, the check sends the missing
        pieces again (a duplicate of a piece still queued is harmless: it finds its record).
      deadline_seconds: a fan-out not finished this long after it started fails its video.
    """

    min_seconds: float | None = 300
    part_seconds: int = 60
    segment_seconds: int = 6
    queue_ready: bool = True
    check_seconds: float = 300
    stall_seconds: float = 1800
    deadline_seconds: float = 6 * 3600

    @property
    def may_part(self) -> bool:
        """Whether any video may be parted (the queue is there and parts are on)."""
        return self.queue_ready and self.min_seconds is not None

    def parts(self, duration_seconds: float) -> bool:
        """Whether a source this long is encoded in parts."""
        return self.may_part and duration_seconds >= self.min_seconds  # type: ignore[operator]


def check_attempt(attempt: str) -> str:
    """Return ``attempt`` if it is a safe folder name for a part's files (1-64 letters, digits, '-', '_')."""
    if not _ATTEMPT.fullmatch(attempt):
        raise ValueError(f"attempt {attempt[:80]!r} must be 1-64 letters, digits, '-' or '_'")
    return attempt


def check_piece(piece: str) -> str:
    """Return ``piece`` if it names a piece (``audio``, ``part_00007``); ValueError otherwise."""
    if not _PIECE.fullmatch(piece):
        raise ValueError(f"piece {piece[:80]!r} is neither 'audio' nor 'part_NNNNN'")
    return piece


def attempt_name(fence: datetime) -> str:
    """The folder name of one attempt: its fence in UTC, to the microsecond (``20261205T161121123456``)."""
    return fence.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%f")


def plan_parts(duration_seconds: float, *, part_seconds: int, segment_seconds: int, attempt: str) -> list[VideoPart]:
    """The parts a video is encoded in: ``part_seconds`` of source time each from 0, the last one to the end.

    Parameters:
      duration_seconds: the source's duration (the probe's).
      part_seconds: the length of a part (VIDEO_PART_SECONDS), a positive
        multiple of ``segment_seconds``.
      segment_seconds: the HLS segment length (HLS_SEGMENT_SECONDS).
      attempt: the folder scoping this encode's files (``check_attempt``).

    A remainder shorter than one segment joins the part before it rather
    than costing an encode of its own. Raises ValueError for a part length
    that is not a multiple of the segment length, or an unsafe attempt.
    """
    if segment_seconds < 1 or part_seconds < segment_seconds or part_seconds % segment_seconds:
        raise ValueError(
            f"the part length ({part_seconds} s) must be a positive multiple of the segment length ({segment_seconds} s)"
        )
    check_attempt(attempt)
    starts = [0]
    while duration_seconds - (starts[-1] + part_seconds) >= segment_seconds:
        starts.append(starts[-1] + part_seconds)
    return [
        VideoPart(
            index=index,
            start_seconds=start,
            duration_seconds=part_seconds if index < len(starts) - 1 else None,
            first_segment=start // segment_seconds,
            attempt=attempt,
        )
        for index, start in enumerate(starts)
    ]


def piece_name(part: VideoPart) -> str:
    return f"part_{part.index:05d}"


def sending_order(parts: Sequence[str]) -> list[str]:
    """The pieces of an attempt in the order they are sent: the audio piece first, then ``parts``.

    The audio covers the whole source (a loudness pass, then the encode), so on a long lecture it is
    the longest piece by far; sent first, it runs beside the parts instead of after them and stays
    off the critical path when there are many workers (longest first).
    """
    return [AUDIO_PIECE, *parts]


def clock(seconds: float) -> str:
    """``7:00``, ``1:02:03``: a time in the video as people read it."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class FanOut:
    """The plan of one attempt in parts, written before any piece is sent (``parts/{attempt}/plan.json``).

    Parameters:
      video_id, tenant_id, file_key: the video.
      attempt: the attempt's name (``attempt_name`` of its fence).
      fence: the attempt's fence, ISO-8601.
      info: what probing the source told.
      ladder: the renditions every part encodes.
      parts: the video parts, in order.
      started_at: when the fan-out began, ISO-8601 (its deadline counts from it).
    """

    video_id: int
    tenant_id: int | None
    file_key: str
    attempt: str
    fence: str
    info: MediaInfo
    ladder: tuple[Rendition, ...]
    parts: tuple[VideoPart, ...]
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    @property
    def pieces(self) -> list[str]:
        """Every piece's name in the order they are sent (``sending_order``)."""
        return sending_order([piece_name(part) for part in self.parts])

    @property
    def fence_time(self) -> datetime:
        return datetime.fromisoformat(self.fence)

    def part(self, piece: str) -> VideoPart:
        """The part a piece name names; ValueError for the audio piece or one this plan has not."""
        for part in self.parts:
            if piece_name(part) == piece:
                return part
        raise ValueError(f"the plan of video {self.video_id} has no piece {piece[:80]!r}")

    def end_of(self, part: VideoPart) -> float:
        return self.info.duration_seconds if part.duration_seconds is None else part.start_seconds + part.duration_seconds

    def describe(self, piece: str) -> str:
        """How reasons and people name a piece: ``part 8 of 120 (7:00-8:00)``, ``the audio``."""
        if piece == AUDIO_PIECE:
            return "the audio"
        part = self.part(piece)
        return f"part {part.index + 1} of {len(self.parts)} ({clock(part.start_seconds)}-{clock(self.end_of(part))})"

    def missing(self, done: Iterable[str]) -> list[str]:
        """The pieces without a completion record among ``done`` (the records' piece names)."""
        finished = set(done)
        return [piece for piece in self.pieces if piece not in finished]

    def transcoded_share(self, seconds_by_piece: dict[str, float]) -> float:
        """The share (0..1) of the source's seconds encoded over all video parts."""
        total = self.info.duration_seconds
        if total <= 0:
            return 1.0
        done = sum(min(seconds_by_piece.get(piece_name(part), 0.0), self.end_of(part) - part.start_seconds)
                   for part in self.parts)
        return min(done / total, 1.0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FanOut:
        return cls(
            video_id=int(data["video_id"]), tenant_id=data["tenant_id"], file_key=str(data["file_key"]),
            attempt=check_attempt(str(data["attempt"])), fence=str(data["fence"]), info=MediaInfo(**data["info"]),
            ladder=tuple(Rendition(**rung) for rung in data["ladder"]),
            parts=tuple(VideoPart(**part) for part in data["parts"]), started_at=str(data["started_at"]),
        )


@dataclass(frozen=True)
class Layout:
    """Where one attempt's own files are, under the video's output prefix (``videos/{tenant}/{id}``).

    Parameters:
      prefix: the video's output prefix.
      attempt: the attempt's name.
    """

    prefix: str
    attempt: str

    @property
    def staging(self) -> str:
        return f"{self.prefix}/{STAGING_FOLDER}/{self.attempt}/"

    @property
    def plan(self) -> str:
        return f"{self.staging}{PLAN_FILE}"

    @property
    def done(self) -> str:
        return f"{self.staging}{DONE_FOLDER}/"

    def record(self, piece: str) -> str:
        return f"{self.done}{piece}.json"

    @property
    def tiles(self) -> str:
        return f"{self.staging}{TILES_FOLDER}/"

    @property
    def slides(self) -> str:
        """Where each piece's candidate slide changes are: ``{slides}{piece}/candidates.json`` and images."""
        return f"{self.staging}{SLIDES_FOLDER}/"

    def piece_of(self, record_key: str) -> str | None:
        """The piece a completion record's key names (None for another key)."""
        name = record_key.removeprefix(self.done)
        if name == record_key or not name.endswith(".json"):
            return None
        return name.removesuffix(".json")


def piece_lock_key(video_key: str, piece: str) -> str:
    """The lock one piece is encoded under (``video:42:part_00007``): one encode of a piece at a time."""
    return f"{video_key}:{piece}"
