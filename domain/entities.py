"""Entities and value objects of the video and AI jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from domain.statuses import AIJobStatus, VideoStatus


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
class AIJobRequest:
    """One request to run an AI engine (an AI-queue message)."""

    job_id: str
    job_type: str
    payload: dict[str, Any]
    tenant_id: int | None = None


@dataclass
class Video:
    """A row of the video table, as far as the worker cares."""

    id: int
    file_key: str
    status: VideoStatus
    tenant_id: int | None = None
    hls_path: str | None = None
    thumbnail_key: str | None = None
    duration_seconds: float | None = None
    error_reason: str | None = None
    processing_started_at: datetime | None = None


@dataclass
class AIJob:
    """A row of the AI job table, as far as the worker cares."""

    id: str
    job_type: str
    status: AIJobStatus
    payload: dict[str, Any] = field(default_factory=dict)
    tenant_id: int | None = None
    result: dict[str, Any] | None = None
    error_message: str | None = None
    started_at: datetime | None = None


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
class Rendition:
    """One rung of the HLS ladder: output folder name and frame height."""

    name: str
    height: int
    video_kbps: int
    audio_kbps: int = 128


@dataclass(frozen=True)
class JobState:
    """What another job's row says about it: its status, tenant and creation time."""

    status: Enum
    tenant_id: int | None
    created_at: datetime | None


@dataclass(frozen=True)
class EngineOutput:
    """What an AI engine hands back: its JSON result, and files for the job's output prefix."""

    result: dict[str, Any]
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class VideoOutput:
    """What a READY row records."""

    hls_path: str
    thumbnail_key: str
    duration_seconds: float
