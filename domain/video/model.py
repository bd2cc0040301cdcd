"""The video kind (CONTRACT sections 1-4): its statuses and transitions, its
progress steps, its ``JobKind`` and the values its handler works with."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from domain.jobs import JobKind


class VideoStatus(str, Enum):
    PENDING = "PENDING"
    UPLOADED = "UPLOADED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"


# PROCESSING -> PROCESSING is a redelivery after a crash; FAILED -> PROCESSING
# is a deliberate retry (a message redriven from the dead-letter queue or
# re-sent by the API).
MARK_PROCESSING_FROM = frozenset({VideoStatus.PENDING, VideoStatus.UPLOADED, VideoStatus.PROCESSING,
                                  VideoStatus.FAILED})
COMPLETE_FROM = frozenset({VideoStatus.PROCESSING})
FAIL_FROM = frozenset({VideoStatus.PENDING, VideoStatus.UPLOADED, VideoStatus.PROCESSING})
FINAL = frozenset({VideoStatus.READY})

# Each step owns a band of the overall percent; progress within a step
# (e.g. ffmpeg's out_time) is mapped into that band.
STEPS: dict[str, tuple[int, int]] = {
    "queued": (0, 0),
    "downloading": (1, 10),
    "probing": (10, 12),
    "transcoding": (12, 85),
    "thumbnail": (85, 88),
    "uploading": (88, 98),
    "finalizing": (98, 99),
    "done": (100, 100),
}

VIDEO = JobKind(
    name="video",
    noun="video",
    id_type=int,
    statuses=VideoStatus,
    start_from=MARK_PROCESSING_FROM,
    complete_from=COMPLETE_FROM,
    fail_from=FAIL_FROM,
    final=FINAL,
    processing=VideoStatus.PROCESSING,
    completed=VideoStatus.READY,
    failed=VideoStatus.FAILED,
    steps=STEPS,
    last_step="finalizing",
    output_root="videos",
)


@dataclass(frozen=True)
class VideoJob:
    """One request to turn an uploaded source into HLS (a video-queue message)."""

    video_id: int
    file_key: str
    tenant_id: int | None = None

    @property
    def job_id(self) -> int:
        return self.video_id


@dataclass(frozen=True)
class MediaInfo:
    """What probing a source told us."""

    duration_seconds: float
    width: int
    height: int
    has_audio: bool
    format_name: str = ""
    audio_sample_rate: int = 0  # Hz of the first audio stream; 0 when unknown or silent
    # Frames per second of the renditions, which ffmpeg makes constant: the
    # source's (guessed) rate as "num/den", e.g. "30000/1001"; "" when unknown.
    frame_rate: str = ""
    # The source timestamp the outputs show at 0 (ffmpeg's start of the
    # streams the ladder reads), in seconds: parts and the audio keep to it.
    start_seconds: float = 0.0


@dataclass(frozen=True)
class Rendition:
    """One rung of the HLS ladder: output folder name and frame height."""

    name: str
    height: int
    video_kbps: int
    audio_kbps: int = 128


@dataclass(frozen=True)
class VideoPart:
    """One range of a video's source time, encoded on its own and stitched afterwards (CONTRACT 4b).

    Parameters:
      index: the part's position, from 0.
      start_seconds: where the part starts, in seconds of the source from its
        start; a multiple of the segment length.
      duration_seconds: how much source time the part covers (a multiple of
        the segment length); None for the last part, which runs to the end.
      first_segment: the number of the part's first segment
        (``start_seconds`` / segment length), so numbers continue across parts.
      attempt: the folder scoping the part's files to one encode of the video
        (1-64 letters, digits, '-' or '_'), so a newer encode never lists an
        older one's segments.
    """

    index: int
    start_seconds: int
    duration_seconds: int | None
    first_segment: int
    attempt: str


@dataclass(frozen=True)
class VideoOutput:
    """What a READY row records."""

    hls_path: str
    thumbnail_key: str
    duration_seconds: float
