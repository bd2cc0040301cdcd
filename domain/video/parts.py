"""Long videos in parts (CONTRACT 4b): the pieces of one attempt, their names and records.

A video at least ``PartsPolicy.min_seconds`` long is encoded as pieces, each
a message of the worker's own parts queue: one piece per ``part_seconds`` of
source time (its video rungs, its storyboard tiles) and one ``audio`` piece
(the shared audio group with its loudness pass, and the thumbnail, over the
whole source). Everything one attempt writes is named by the attempt (the
fence its ``mark_processing`` wrote), so an older attempt's late pieces
write nothing the newer playlists list.

Pure rules: no I/O here. The keys below are relative to the video's output
prefix (``videos/{tenant}/{id}``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from domain.errors import InvalidMessage
from domain.video.model import MediaInfo, Rendition

AUDIO_PIECE = "audio"
STAGING_FOLDER = "parts"  # beside hls/: plans and completion records, never read by players
PLAN_FILE = "plan.json"
DONE_FOLDER = "done"


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
      deadline_seconds: a fan-out that has not finished this long after it started fails its video.
    """

    min_seconds: float | None = 300
    part_seconds: int = 60
    segment_seconds: int = 6
    queue_ready: bool = True
    check_seconds: float = 300
    stall_seconds: float = 1800
    deadline_seconds: float = 6 * 3600

    def __post_init__(self) -> None:
        if self.part_seconds % self.segment_seconds:
            raise ValueError("the part length must be a multiple of the segment length")

    def parts(self, duration_seconds: float) -> bool:
        """Whether a source this long is encoded in parts."""
        return self.queue_ready and self.min_seconds is not None and duration_seconds >= self.min_seconds


@dataclass(frozen=True)
class Piece:
    """One piece of a fan-out: a range of source time (a video part) or the audio piece.

    Parameters:
      name: ``part_00007`` or ``audio``: its message's argument and its record's name.
      start_seconds, duration_seconds: the source range (the audio piece: the whole source).
      first_segment: the number of the part's first HLS segment (the audio piece: 0).
    """

    name: str
    start_seconds: float
    duration_seconds: float
    first_segment: int = 0

    @property
    def is_audio(self) -> bool:
        return self.name == AUDIO_PIECE

    @property
    def index(self) -> int:
        """The part's position (0, 1, ...); -1 for the audio piece."""
        return -1 if self.is_audio else int(self.name.removeprefix("part_"))

    def describe(self) -> str:
        """How reasons name it: ``part 8 (7:00-8:00)``, ``the audio``."""
        if self.is_audio:
            return "the audio"
        end = self.start_seconds + self.duration_seconds
        return f"part {self.index + 1} ({clock(self.start_seconds)}-{clock(end)})"


def clock(seconds: float) -> str:
    """``7:00``, ``1:02:03``: a time in the video as people read it."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def plan_pieces(duration_seconds: float, policy: PartsPolicy) -> list[Piece]:
    """The video parts of a source (each ``part_seconds`` long, the last one shorter) and the audio piece.

    A last part shorter than one segment is joined to the one before it, so no
    part is a sliver that costs a process for a fraction of a segment.
    """
    step = policy.part_seconds
    count = max(1, math.ceil(duration_seconds / step))
    if count > 1 and duration_seconds - (count - 1) * step < policy.segment_seconds:
        count -= 1
    pieces = []
    for index in range(count):
        start = index * step
        length = step if index < count - 1 else duration_seconds - start
        pieces.append(Piece(f"part_{index:05d}", float(start), float(length), start // policy.segment_seconds))
    return [*pieces, Piece(AUDIO_PIECE, 0.0, float(duration_seconds))]


def attempt_name(fence: datetime) -> str:
    """The folder name of one attempt: its fence in UTC, to the microsecond (``20261205T161121123456``)."""
    return fence.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%f")


def plan_key(prefix: str, attempt: str) -> str:
    return f"{prefix}/{STAGING_FOLDER}/{attempt}/{PLAN_FILE}"


def done_prefix(prefix: str, attempt: str) -> str:
    return f"{prefix}/{STAGING_FOLDER}/{attempt}/{DONE_FOLDER}/"


def done_key(prefix: str, attempt: str, piece: str) -> str:
    return f"{done_prefix(prefix, attempt)}{piece}.json"


def staging_prefix(prefix: str, attempt: str) -> str:
    """Everything one attempt keeps outside ``hls/`` (its plan, records and tiles)."""
    return f"{prefix}/{STAGING_FOLDER}/{attempt}/"


@dataclass(frozen=True)
class FanOut:
    """The plan of one attempt in parts, written before any piece is sent (``parts/{attempt}/plan.json``).

    Parameters:
      video_id, tenant_id, file_key: the video.
      attempt: the attempt's name (``attempt_name`` of its fence).
      fence: the attempt's fence, ISO-8601.
      info: what probing the source told.
      ladder: the renditions every part encodes.
      pieces: the parts, then the audio piece.
      started_at: when the fan-out began, ISO-8601 (the deadline counts from it).
    """

    video_id: int
    tenant_id: int | None
    file_key: str
    attempt: str
    fence: str
    info: MediaInfo
    ladder: tuple[Rendition, ...]
    pieces: tuple[Piece, ...]
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def piece(self, name: str) -> Piece:
        for piece in self.pieces:
            if piece.name == name:
                return piece
        raise InvalidMessage(f"invalid message: the plan of video {self.video_id} has no piece {name!r}")

    @property
    def video_parts(self) -> list[Piece]:
        return [piece for piece in self.pieces if not piece.is_audio]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FanOut:
        return cls(
            video_id=int(data["video_id"]), tenant_id=data["tenant_id"], file_key=str(data["file_key"]),
            attempt=str(data["attempt"]), fence=str(data["fence"]), info=MediaInfo(**data["info"]),
            ladder=tuple(Rendition(**rung) for rung in data["ladder"]),
            pieces=tuple(Piece(**piece) for piece in data["pieces"]), started_at=str(data["started_at"]),
        )


def missing(plan: FanOut, done: Sequence[str]) -> list[Piece]:
    """The pieces of ``plan`` without a completion record among ``done`` (the names of the records)."""
    finished = set(done)
    return [piece for piece in plan.pieces if piece.name not in finished]


def transcoded_share(plan: FanOut, seconds_by_piece: dict[str, float]) -> float:
    """The share (0..1) of the source's seconds encoded over all video parts (the audio piece aside)."""
    total = sum(piece.duration_seconds for piece in plan.video_parts)
    if total <= 0:
        return 1.0
    done = sum(min(seconds_by_piece.get(piece.name, 0.0), piece.duration_seconds) for piece in plan.video_parts)
    return min(done / total, 1.0)
