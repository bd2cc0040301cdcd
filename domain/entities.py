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
