"""A transcribe job naming a video: the real engine (sandbox, ffmpeg, Whisper base) and the real
media adapter around the captions step, on fakes of the bucket, the rows and the locks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from adapters.ai.engines.transcribe import SPEC
from adapters.ai.sandbox import SandboxedEngine
from adapters.media.ffmpeg import FfmpegMediaProcessor
from domain.ai.captions_for_video import CaptionsForVideo
from domain.ai.handler import ProcessAIJobHandler
from domain.ai.model import AI, AIJobRequest, AIJobStatus
from domain.errors import LockBusy
from domain.flow import Outcome
from domain.video import subtitles
from domain.video.model import VIDEO, VideoStatus
from tests.media_samples import ffmpeg_exe, make_video
from tests.speech_samples import ENGLISH, as_lecture_video, have_espeak, silence, speak, words_of
from tests.unit.fakes import FakeJobRepository, FakeLock, FakeProgress, FakeRow, FakeStorage

pytestmark = pytest.mark.skipif(not have_espeak() and os.environ.get("CI") != "true",  # in CI a missing espeak-ng fails
                                reason="espeak-ng is not installed (apt-get install espeak-ng)")

JOB = "0d9c6a56-2f4e-4f8e-9c55-6f1b2a0c7e11"
PREFIX = f"ai/7/{JOB}"


def for_video(storage: FakeStorage, engine=None) -> tuple[ProcessAIJobHandler, FakeJobRepository, FakeLock]:
    """The AI handler with the captions step, the real media adapter, and video 42 of tenant 7 READY."""
    videos = FakeJobRepository(VIDEO, FakeRow(42, VideoStatus.READY, tenant_id=7))
    jobs = FakeJobRepository(AI, FakeRow(JOB, AIJobStatus.PENDING, tenant_id=7))
    lock = FakeLock()
    captions = CaptionsForVideo(videos=videos, jobs=jobs, lock=lock, storage=storage,
                                media=FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=30))
    handler = ProcessAIJobHandler(jobs=jobs, lock=lock, progress=FakeProgress(), storage=storage,
                                  engines={"transcribe": engine or SandboxedEngine(SPEC)},
                                  follow_ups={"transcribe": captions})
    return handler, jobs, lock


def hls_of_video_42(storage: FakeStorage, folder: Path, *, english: bool) -> dict[str, bytes]:
    """Video 42's HLS (one real MPEG-TS segment), with English captions when ``english``; returns its objects."""
    hls = "videos/7/42/hls"
    master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=160x90\n90p/index.m3u8\n"
    storage.objects.update({
        f"{hls}/90p/index.m3u8": b"#EXTM3U\n#EXTINF:1.000,\nseg_00000.ts\n#EXT-X-ENDLIST\n",
        f"{hls}/90p/seg_00000.ts": make_video(folder / "seg.ts", seconds=1, width=160, height=90).read_bytes(),
    })
    if english:
        master = subtitles.with_subtitles(master, [subtitles.entry("en")])
        storage.objects.update({f"{hls}/subs/en/index.m3u8": subtitles.playlist(20.0).encode(),
                                f"{hls}/subs/en/captions.vtt": b"WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nWelcome back\n"})
    storage.objects[f"{hls}/master.m3u8"] = master.encode()
    return {key: value for key, value in storage.objects.items() if key.startswith("videos/")}


def test_silence_asked_for_in_english_leaves_a_video_captioned_in_english_as_it_was(tmp_path):
    storage = FakeStorage({"uploads/7/lecture": silence(tmp_path / "quiet.ogg", seconds=20).read_bytes()})
    before = hls_of_video_42(storage, tmp_path, english=True)
    handler, jobs, lock = for_video(storage)
    assert handler.handle(AIJobRequest(JOB, "transcribe", {"file_key": "uploads/7/lecture", "lang": "en",
                                                            "video_id": 42}, 7)) is Outcome.COMPLETED
    result = jobs.rows[JOB].result
    assert result["lang"] is None and result["text"] == "" and result["segments"] == []  # no speech: no language
    assert (result["video_attached"], result["video_note"]) == (False, "no speech was found: there are no captions to add")
    assert {key: value for key, value in storage.objects.items() if key.startswith("videos/")} == before
    assert json.loads(storage.objects[f"{PREFIX}/transcript.json"])["lang"] is None
    assert ("acquire", "video:42") not in lock.log


class CountedEngine(SandboxedEngine):
    """The sandboxed engine, counting its runs."""

    runs = 0

    def run(self, request, source, workdir, progress):
        self.runs += 1
        return super().run(request, source, workdir, progress)


def test_a_retry_after_the_video_was_locked_takes_back_the_transcription_it_saved(tmp_path):
    wav = speak(tmp_path / "english.wav", ENGLISH)
    storage = FakeStorage({"uploads/7/lecture": as_lecture_video(wav, tmp_path / "lecture.mp4").read_bytes()})
    hls_of_video_42(storage, tmp_path, english=False)
    engine = CountedEngine(SPEC)
    handler, jobs, lock = for_video(storage, engine)
    request = AIJobRequest(JOB, "transcribe", {"file_key": "uploads/7/lecture", "video_id": 42}, 7)
    lock.taken_by_others.add("video:42")  # a re-encode of the video holds it while the transcription ends
    with pytest.raises(LockBusy):
        handler.handle(request)
    saved = {key: value for key, value in storage.objects.items() if key.startswith("ai/")}
    assert sorted(saved) == [f"{PREFIX}/{name}" for name in ("captions.srt", "captions.vtt", "transcript.json")]
    lock.taken_by_others.clear()
    assert handler.handle(request) is Outcome.COMPLETED
    assert engine.runs == 1
    result = jobs.rows[JOB].result
    transcript = json.loads(saved[f"{PREFIX}/transcript.json"])
    assert result["lang"] == transcript["lang"] == "en" and result["video_attached"] is True
    assert result["duration_seconds"] == transcript["duration_seconds"]
    assert result["segments"] == [{key: s[key] for key in ("start", "end", "text")} for s in transcript["segments"]]
    assert result["text"] == " ".join(s["text"] for s in transcript["segments"]) and "lecture" in words_of(result["text"])
    assert {key: value for key, value in storage.objects.items() if key.startswith("ai/")} == saved
    attached = storage.objects["videos/7/42/hls/subs/en/captions.vtt"].decode()
    assert attached.split("\n", 2)[2] == saved[f"{PREFIX}/captions.vtt"].decode().split("\n", 1)[1]
    assert subtitles.entries(storage.objects["videos/7/42/hls/master.m3u8"].decode()) == [subtitles.entry("en")]
