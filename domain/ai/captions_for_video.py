"""Captions added to their video's player (CONTRACT 4a, "Captions in the player").

A follow-up of the ``transcribe`` engine, run by the AI handler around it:
before the engine, it decides whether the captions will go to a video (the
payload's ``video_id``, of the job's own tenant) and waits for that video to
be READY; after the engine, under the video's lock, it writes the subtitles
playlist into the video's ``hls/subs/{lang}/`` and rewrites its master in one
put. A video that failed, belongs to another tenant, or was not READY within
6 hours is left alone, and ``video_note`` says why; so is a video whose
playlists or first segment cannot be read, and every video when the
captions hold no cue (an empty track never replaces captions).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from domain.ai.model import AIJobRequest, EngineOutput
from domain.errors import LockBusy, SourceNotFound, UnsupportedMedia, Waiting
from domain.jobs import JobState
from domain.ports import JobLock, JobRepository, ObjectStorage
from domain.video import subtitles
from domain.video.model import VIDEO
from domain.video.playlists import MASTER_PLAYLIST
from domain.video.ports import MediaProcessor

MAX_WAIT = timedelta(hours=6)
WAIT_RETRY_SECONDS = 60  # how often a job waiting for its video looks again
CUES_FILE = "captions.vtt"


@dataclass(frozen=True)
class Plan:
    """Where the captions go: ``video_id``, and ``note`` saying why not when they do not."""

    video_id: int
    note: str | None = None


class CaptionsForVideo:
    """Adds a transcribe job's captions to the video its payload names.

    Parameters:
      videos: the repository of video rows (read only: status, tenant).
      jobs: the repository of the transcribe jobs' rows (read only: when a job was created).
      lock: the job locks; the video's is held while its playlists change.
      storage: the bucket holding the video's HLS outputs.
      media: reads the first timestamp of the video's first segment.
      workdir: parent of the temporary folder the segment is read in (None: the system's).
      wait_retry_seconds: how often a job waiting for its video looks again.
      clock: the time now, timezone-aware (tests pass their own).
    """

    def __init__(self, *, videos: JobRepository, jobs: JobRepository, lock: JobLock, storage: ObjectStorage,
                 media: MediaProcessor, workdir: Path | None = None, wait_retry_seconds: float = WAIT_RETRY_SECONDS,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.wait_retry_seconds = wait_retry_seconds
        self.videos = videos
        self.jobs = jobs
        self.lock = lock
        self.storage = storage
        self.media = media
        self.workdir = workdir
        self.clock = clock

    def prepare(self, request: AIJobRequest) -> Plan | None:
        """Before the engine: the plan, or Waiting while the video is still on its way to READY
        (for at most 6 hours from the transcribe job's creation).

        Parameters:
          request: the transcribe job, its payload prepared.
        """
        video_id = request.payload.get("video_id")
        if video_id is None:
            return None
        state = self.videos.state_of(video_id)
        note = _refusal(video_id, state, request.tenant_id)
        if note is not None or state.status is VIDEO.completed:
            return Plan(video_id, note)
        job = self.jobs.state_of(request.job_id)
        created = job.created_at if job is not None else None
        if created is not None and self.clock() - created > MAX_WAIT:
            return Plan(video_id, f"video {video_id} was not READY within {MAX_WAIT.total_seconds() / 3600:g} hours")
        raise Waiting(f"waiting for video {video_id} to be READY (it is {state.status.value})", self.wait_retry_seconds)

    def finish(self, request: AIJobRequest, plan: Plan | None, output: EngineOutput) -> dict[str, Any]:
        """After the engine (its files uploaded): the result, with ``video_attached`` and ``video_note`` said."""
        result = dict(output.result)
        if plan is None:
            return result
        note = plan.note
        if note is None:
            note = self._attach(request, plan.video_id, output, result)
        result.update(video_attached=note is None, video_note=note)
        return result

    def _attach(self, request: AIJobRequest, video_id: int, output: EngineOutput, result: dict[str, Any]) -> str | None:
        cues = next((path for path in output.files if path.name == CUES_FILE), None)
        text = cues.read_text(encoding="utf-8") if cues is not None else ""
        lang = result.get("lang")
        # A track without a cue would replace the captions the video has in that language with nothing.
        if not lang or not subtitles.has_cues(text):
            return "no speech was found: there are no captions to add"
        key = VIDEO.key(video_id)
        if not self.lock.acquire(key):
            # Not waited for: an encode holds the lock for minutes (hours, in parts). The retry takes back
            # the files this attempt saved (Engine.earlier_output), so the transcription is not redone.
            raise LockBusy(f"video {video_id} is being processed; its captions are added later")
        try:
            state = self.videos.state_of(video_id)
            note = _refusal(video_id, state, request.tenant_id)
            if note is not None:
                return note
            if state.status is not VIDEO.completed:
                # Sent again to be re-encoded while the captions were made: they go to the new master.
                raise Waiting(f"waiting for video {video_id} to be READY again (it is {state.status.value})",
                              self.wait_retry_seconds)
            hls = f"{VIDEO.output_prefix(request.tenant_id, video_id)}/hls"
            try:
                master = self.storage.read_text(f"{hls}/{MASTER_PLAYLIST}")
                start = self._first_timestamp(hls, master)
            except SourceNotFound:
                return f"video {video_id} has no HLS playlist to add captions to"
            except UnsupportedMedia as error:  # a damaged segment: the captions cannot be aligned with it
                return f"video {video_id} cannot take captions: {error.reason}"
            self.storage.write_text(f"{hls}/{subtitles.folder(lang)}/{subtitles.CUES}",
                                    subtitles.timed_cues(text, start))
            self.storage.write_text(f"{hls}/{subtitles.playlist_uri(lang)}",
                                    subtitles.playlist(float(result.get("duration_seconds") or 0)))
            self.storage.write_text(f"{hls}/{MASTER_PLAYLIST}",
                                    subtitles.with_subtitles(master, [subtitles.entry(lang)]))
            return None
        finally:
            self.lock.release(key)

    def _first_timestamp(self, hls: str, master: str) -> float:
        """The first timestamp of the video's segments, read from its first rendition's first segment."""
        variant = subtitles.first_variant(master)
        playlist = self.storage.read_text(f"{hls}/{variant}") if variant else ""
        segment = subtitles.first_segment(playlist)
        if not variant or not segment:
            raise SourceNotFound("the video's master lists no segment")
        with tempfile.TemporaryDirectory(prefix="captions-", dir=self.workdir) as tmp:
            path = Path(tmp) / "segment.ts"
            folder = variant.rsplit("/", 1)[0] + "/" if "/" in variant else ""
            self.storage.download(f"{hls}/{folder}{segment}", path)
            return self.media.start_seconds(path)


def _refusal(video_id: int, state: JobState | None, tenant_id: int | None) -> str | None:
    """Why captions must not go to this video, or None (a null tenant matches a null tenant)."""
    if state is None:
        return f"video {video_id} does not exist"
    if state.tenant_id != tenant_id:
        return f"video {video_id} belongs to another tenant"
    if state.status is VIDEO.failed:
        return f"video {video_id} failed to encode"
    return None
