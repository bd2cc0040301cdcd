"""faster-whisper over a source's audio, one window at a time.

Imported only inside the engine sandbox: CTranslate2 and ONNX Runtime never
load in the worker itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from pathlib import Path

# ONNX Runtime (faster-whisper's voice-activity detection) otherwise starts its telemetry
# when imported and leaves a device id and an event database under the user's cache
# folder (~/.cache/Microsoft/DeveloperTools/.onnxruntime); it reads this variable then.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

import numpy as np  # noqa: E402 (after the variable above)
from faster_whisper import WhisperModel  # noqa: E402
from faster_whisper.vad import VadOptions, get_speech_timestamps  # noqa: E402

from adapters.ai.audio import SAMPLE_RATE, audio_windows
from adapters.ai.spec import Report
from adapters.ai.whisper_manifest import verified
from adapters.ai.whisper_weights import PinnedModel, verified_copy
from domain.ai.captions import TimedSegment, TimedWord
from domain.errors import InvalidMessage

BEAM_SIZE = 5
# When a decode looks like a loop (or is unsure), Whisper decodes the chunk again
# at the next temperature. faster-whisper's default tries six; on unintelligible
# speech that took 2.4 s per second of audio, three took 1.1 s (under the same load).
TEMPERATURES = (0.0, 0.4, 0.8)
# For choosing where a window ends: short pauses count, no padding around speech.
_CUT_VAD = VadOptions(min_silence_duration_ms=100, speech_pad_ms=0)


class Transcriber:
    """A verified Whisper model, loaded once per job.

    Parameters:
      model: a pinned model (its files' sha256 in whisper_weights), or the folder of an
        operator's model with its manifest (whisper_manifest); refused on any mismatch.
      cpu_threads: CTranslate2's threads (setting TRANSCRIBE_CPU_THREADS).
      scratch: a folder private to the job, for the checked copy of a pinned
        model's files (removed once loaded).
    """

    def __init__(self, model: PinnedModel | Path, *, cpu_threads: int, scratch: Path) -> None:
        if isinstance(model, PinnedModel):
            self.model_name = model.name
            folder = verified_copy(model, scratch / f"whisper-{model.name}")
        else:
            self.model_name = verified(model).name  # every file hashed against the manifest first
            folder = model
        try:
            # A local folder, never a hub name: faster-whisper downloads only for a name.
            self.model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=cpu_threads,
                                      local_files_only=True)
        finally:
            if folder != model:
                shutil.rmtree(folder, ignore_errors=True)
        self.language: str | None = None
        self.decoded_seconds = 0.0

    def transcribe(
        self, ffmpeg: str, source: Path, lang: str | None, *, duration: float, report: Report,
        window_seconds: float, cut_search_seconds: float, max_seconds: float | None = None,
    ) -> list[TimedSegment]:
        """The source's speech as timed segments with words (none with empty text).

        Parameters:
          ffmpeg: the ffmpeg executable.
          source: the local source file (measured first).
          lang: the spoken language (ISO 639-1) or None to detect it on the
            first window with speech. ``self.language`` holds the language
            of the segments found, None when none was (whatever ``lang`` says).
          duration: the source's length as measured, for progress; the audio
            may decode longer (``self.decoded_seconds`` holds how long).
          report: progress by seconds of audio done, and the seconds decoded
            (the sandbox's time limit follows them).
          window_seconds: audio per window; cut_search_seconds: where at its
            end a window may be cut (at the longest pause there).
          max_seconds: LimitExceeded once more audio than this is decoded.
        """
        if lang is not None and lang not in self.model.supported_languages:
            raise InvalidMessage(f"payload.lang: {lang!r} is not a language the Whisper model knows")
        self.language = None
        self.decoded_seconds = 0.0
        language = lang
        search = int(cut_search_seconds * SAMPLE_RATE)
        segments: list[TimedSegment] = []
        for offset, samples in audio_windows(
            ffmpeg, source, window_seconds=window_seconds, cut_at=lambda window: quiet_cut(window, search),
            max_seconds=max_seconds,
        ):
            self.decoded_seconds = offset + len(samples) / SAMPLE_RATE
            length = max(duration, self.decoded_seconds)
            _progress(report, offset, length, source_seconds=self.decoded_seconds)
            pieces, info = self.model.transcribe(
                samples, language=language, beam_size=BEAM_SIZE, temperature=TEMPERATURES,
                vad_filter=True, word_timestamps=True,
            )
            found = 0
            for piece in pieces:
                segment = _shifted(piece, offset)
                if segment.text:
                    segments.append(segment)
                    found += 1
                _progress(report, segment.end, length)
            if found:
                language = language or info.language
                self.language = language
            _progress(report, self.decoded_seconds, length)
            del samples
            _give_back_freed_memory()
        return segments


def quiet_cut(window: np.ndarray, search: int) -> int:
    """Where to end ``window``: the middle of the longest pause in its last
    ``search`` samples; its very end when there is no pause (or no speech)."""
    base = max(len(window) - search, 0)
    speech = get_speech_timestamps(window[base:], _CUT_VAD)
    if not speech:
        return len(window)
    edges = [0, *[bound for chunk in speech for bound in (chunk["start"], chunk["end"])], len(window) - base]
    gaps = [(edges[i + 1] - edges[i], (edges[i] + edges[i + 1]) // 2) for i in range(0, len(edges), 2)]
    length, middle = max(gaps)
    return base + middle if length > 0 else len(window)


def _give_back_freed_memory() -> None:
    """Return the heap's free pages to the system between windows. Each window
    allocates and frees tens of MB (VAD batches, features); without this the
    process's resident peak crept up by about 300 MB over a 30-minute lecture."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _load_libc()


def _shifted(piece, offset: float) -> TimedSegment:
    words = tuple(
        TimedWord(round(offset + w.start, 3), round(offset + w.end, 3), w.word, round(float(w.probability), 4))
        for w in piece.words or ()
    )
    return TimedSegment(round(offset + piece.start, 3), round(offset + piece.end, 3), piece.text.strip(), words)


def _progress(report: Report, done: float, duration: float, *, source_seconds: float | None = None) -> None:
    fraction = min(done / duration, 1.0) if duration > 0 else 0.0
    report(fraction, f"{done:.0f} s of {duration:.0f} s of audio", source_seconds=source_seconds)
