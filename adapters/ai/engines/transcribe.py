"""The ``transcribe`` engine: captions for a lecture, offline, with Whisper.

Input: a video or audio file. Output (CONTRACT section 4a): ``captions.vtt``,
``captions.srt`` and ``transcript.json`` (segments with word timings) for the
worker to upload, and a result with the text, the language, the duration and
the segments. faster-whisper (CTranslate2, int8 on the CPU) runs the pinned
model of ``adapters.ai.whisper_weights``; Silero voice-activity detection skips
silence; the audio is decoded and transcribed a window at a time, so memory
stays flat for a lecture of any length, and the time limit follows the audio
decoded (a header may claim less). Runs inside the engine sandbox. A retry
of a job whose files were saved (its video was locked) rebuilds the result
from them (``earlier_result``, in the worker) instead of transcribing again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from adapters.ai.spec import EngineSpec, Report
from adapters.ai.whisper_limits import BASE, ModelLimits, limits_for
from adapters.ai.whisper_manifest import ModelRefused, verified
from adapters.ai.whisper_weights import MODELS
from adapters.messages import SafeKey
from domain.ai.captions import Cue, TimedSegment, build_cues, line_limit, to_srt, to_webvtt
from domain.errors import InvalidMessage, LimitExceeded
from domain.numbers import BIGINT_MAX

MAX_SOURCE_SECONDS = 4 * 3600
# A run must end well within SQS's 12 hours of visibility for one received message.
MAX_RUN_SECONDS = 11 * 3600
# The result column holds at most this much JSON; the files hold everything.
MAX_RESULT_BYTES = 1_000_000
# Audio per window: the VAD runs on a whole window at once, so this bounds memory
# (measured: 5-minute windows peaked at 0.9 GB resident, 2-minute ones with the heap trimmed at 0.5 GB).
WINDOW_SECONDS = 120.0
# A window ends at the longest pause within its last CUT_SEARCH_SECONDS.
CUT_SEARCH_SECONDS = 30.0
OUTPUT_FILES = ("captions.vtt", "captions.srt", "transcript.json")
# With a video_id, the worker's captions step (domain/ai/captions_for_video.py) says what became of it.
NOT_ATTACHED = "the captions were not added to the video's player"
NO_VIDEO = "the payload names no video_id"


class TranscribePayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_key: SafeKey
    lang: str | None = Field(None, pattern=r"^[a-z]{2,3}$", description="e.g. ko, en; absent: detected")
    video_id: StrictInt | None = Field(None, gt=0, le=BIGINT_MAX, description="the videos table's id")

    @field_validator("lang", mode="before")
    @classmethod
    def _primary_subtag(cls, value: Any) -> Any:
        # "ko-KR", "en_US", "EN" all name the language Whisper knows as "ko" / "en".
        if isinstance(value, str):
            return value.strip().lower().replace("_", "-").split("-")[0] or None
        return value


class Segment(BaseModel):
    start: float
    end: float
    text: str


class SavedTranscript(BaseModel):
    """What a retry reads back from ``transcript.json`` (its words are left out)."""

    lang: str | None
    duration_seconds: float
    segments: list[Segment]


class TranscribeResult(BaseModel):
    text: str
    lang: str | None
    duration_seconds: float
    segments: list[Segment]
    segments_truncated: bool
    video_attached: bool
    video_note: str | None


def time_limit(seconds: float, limits: ModelLimits = BASE) -> float:
    """The run's wall-clock limit for a source of ``seconds``: model loading plus time per second
    of audio, by the model's size (base: 120 s + 0.75 s per second, 4.5 times the speed measured
    on a busy 2-core machine). LimitExceeded when that is past MAX_RUN_SECONDS."""
    limit = limits.run_seconds(seconds)
    if limit > MAX_RUN_SECONDS:
        raise LimitExceeded(
            f"a {seconds / 3600:.1f}-hour source may take up to {limit / 3600:.1f} hours with the {limits.size} "
            f"Whisper model this worker runs, more than the {MAX_RUN_SECONDS // 3600} hours a job may run: "
            "split the recording, or transcribe it with a smaller model")
    return limit


def model_folder(model: str) -> Path | None:
    """The operator's model folder ``model`` (TRANSCRIBE_MODEL) names; None for a pinned model."""
    return None if model in MODELS else Path(model)


def configured(options: dict[str, Any]) -> EngineSpec:
    """The engine under the deployment's options: limits by the size of the model it runs
    (TRANSCRIBE_MEMORY_MB and TRANSCRIBE_SECONDS_PER_AUDIO_SECOND override them), and an
    operator's model folder that does not match its manifest as the reason it cannot run."""
    folder = model_folder(str(options.get("model") or "base"))
    parameters, problems = None, []
    if folder is not None:
        try:
            parameters = verified(folder).parameters  # hashed once per process, then on change
        except ModelRefused as refused:
            problems.append(refused.reason)
    limits = limits_for(parameters, memory_mb=options.get("memory_mb"),
                        seconds_per_audio_second=options.get("seconds_per_audio_second"))
    # The longest a run may get; for a folder not checked yet (its download may still come), any size's.
    longest = MAX_RUN_SECONDS if problems else min(limits.run_seconds(MAX_SOURCE_SECONDS), MAX_RUN_SECONDS)
    return replace(SPEC, memory_mb=limits.memory_mb, timeout_for=partial(time_limit, limits=limits),
                   timeout_seconds=longest, prerequisites=lambda: list(problems))


def measure(source: Path, payload: dict[str, Any]) -> float:
    from adapters.ai.audio import measure_audio

    return measure_audio(source, max_seconds=MAX_SOURCE_SECONDS).duration_seconds


def run(source: Path | None, payload: dict[str, Any], report: Report, *, outputs: Path,
        options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Transcribe ``source``; write the three files into ``outputs``; return the result.

    ``options`` (from settings): ``model`` (a name of whisper_weights.MODELS, or the folder
    of an operator's model with its manifest), ``cpu_threads``, ``ffmpeg`` (FFMPEG_BINARY or None).
    """
    os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces: every file comes from a checked local folder
    from adapters.ai.audio import measure_audio
    from adapters.ai.whisper import Transcriber
    from adapters.media.binary import find_ffmpeg

    options = options or {}
    request = TranscribePayload.model_validate(payload)
    if source is None:
        raise InvalidMessage("the transcribe job has no input file")
    duration = measure_audio(source, max_seconds=MAX_SOURCE_SECONDS).duration_seconds
    model = str(options.get("model") or "base")
    # A pinned model's checked copy goes beside the outputs: the worker uploads only the
    # declared files and removes the whole job folder afterwards, whatever happens.
    # An operator's folder is checked against its manifest where it lies.
    transcriber = Transcriber(model_folder(model) or MODELS[model], cpu_threads=int(options.get("cpu_threads", 2)),
                              scratch=outputs)
    report(0.0, "model loaded")
    segments = transcriber.transcribe(
        find_ffmpeg(options.get("ffmpeg")), source, request.lang, duration=duration, report=report,
        window_seconds=WINDOW_SECONDS, cut_search_seconds=CUT_SEARCH_SECONDS, max_seconds=MAX_SOURCE_SECONDS,
    )
    duration = max(duration, transcriber.decoded_seconds)  # a header may claim less than the file plays
    lang = transcriber.language
    cues = build_cues(segments, line_limit(lang, "".join(s.text for s in segments[:20])))
    if not cues:
        lang = None  # null says nothing was said: never merely the language the payload asked for
    write_outputs(outputs, segments, cues, lang, duration, transcriber.model_name)
    return result_of(segments, lang, duration, _note(request))


def earlier_result(payload: dict[str, Any], fetch: Callable[[str], Path | None]) -> dict[str, Any] | None:
    """The result of an earlier attempt of this job, rebuilt from the files it saved (a ReuseFunction);
    None when they are not all there or the transcript is not one this engine writes."""
    request = TranscribePayload.model_validate(payload)
    transcript = fetch("transcript.json")  # first: a first attempt finds nothing at the first look
    if transcript is None or fetch("captions.vtt") is None or fetch("captions.srt") is None:
        return None
    try:
        saved = SavedTranscript.model_validate_json(transcript.read_bytes())
    except ValidationError:
        return None
    segments = [TimedSegment(s.start, s.end, s.text) for s in saved.segments]
    return result_of(segments, saved.lang, saved.duration_seconds, _note(request))


def _note(request: TranscribePayload) -> str:
    return NOT_ATTACHED if request.video_id is not None else NO_VIDEO


def write_outputs(outputs: Path, segments: list[TimedSegment], cues: list[Cue], lang: str | None, duration: float,
                  model: str) -> None:
    """captions.vtt and captions.srt of ``cues``, transcript.json of ``segments``, in ``outputs``."""
    (outputs / "captions.vtt").write_text(to_webvtt(cues), encoding="utf-8")
    (outputs / "captions.srt").write_text(to_srt(cues), encoding="utf-8")
    transcript = {
        "lang": lang,
        "duration_seconds": round(duration, 3),
        "model": f"whisper-{model}",
        "segments": [
            {"start": s.start, "end": s.end, "text": s.text,
             "words": [{"start": w.start, "end": w.end, "word": w.text, "probability": w.probability}
                       for w in s.words]}
            for s in segments
        ],
    }
    with open(outputs / "transcript.json", "w", encoding="utf-8") as handle:
        json.dump(transcript, handle, ensure_ascii=False)


def result_of(segments: list[TimedSegment], lang: str | None, duration: float, note: str) -> dict[str, Any]:
    """The result row: every segment while the whole stays under MAX_RESULT_BYTES."""
    result: dict[str, Any] = {
        "text": " ".join(s.text for s in segments).strip(),
        "lang": lang,
        "duration_seconds": round(duration, 3),
        "segments": [],
        "segments_truncated": False,
        "video_attached": False,
        "video_note": note,
    }
    size = len(json.dumps(result, ensure_ascii=False).encode())
    for segment in segments:
        item = {"start": segment.start, "end": segment.end, "text": segment.text}
        size += len(json.dumps(item, ensure_ascii=False).encode()) + 2  # ", " between items
        if size > MAX_RESULT_BYTES:
            result["segments_truncated"] = True
            break
        result["segments"].append(item)
    return result


SPEC = EngineSpec(
    job_type="transcribe",
    payload=TranscribePayload,
    result=TranscribeResult,
    entry="adapters.ai.engines.transcribe:run",
    timeout_seconds=time_limit(MAX_SOURCE_SECONDS),
    memory_mb=3072,
    output_files=OUTPUT_FILES,
    measure="adapters.ai.engines.transcribe:measure",
    timeout_for=time_limit,
    configure=configured,
    reuse="adapters.ai.engines.transcribe:earlier_result",
)
