"""The audio of an untrusted source: its length, and its samples a window at a time.

Sources are opened under the rules of ``adapters.media.safety`` (text files
refused, the ``file`` protocol only, a white-list of self-contained
demuxers), with the single-file audio demuxers added, since a lecture may be
uploaded as an MP3 or FLAC. ffmpeg decodes to 16 kHz mono PCM on a pipe, so
memory holds one window whatever the length of the source.
"""

from __future__ import annotations

import math
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from adapters.media.safety import ALLOWED_FORMATS, PROTOCOL_WHITELIST, input_url, scrub, sniff
from domain.errors import LimitExceeded, TransientError, UnsupportedMedia

SAMPLE_RATE = 16_000
AUDIO_FORMATS = ",".join((*ALLOWED_FORMATS, "mp3", "flac", "aac"))
_BLOCK_BYTES = 2 * SAMPLE_RATE * 10  # ten seconds of 16-bit samples per read
_STDERR_TAIL = 4096


@dataclass(frozen=True)
class AudioInfo:
    duration_seconds: float


def measure_audio(source: Path, *, max_seconds: float) -> AudioInfo:
    """How long the source's first audio stream plays.

    Parameters:
      source: the local source file (untrusted).
      max_seconds: longer sources are refused with LimitExceeded.

    Raises UnsupportedMedia when the file is not a media file in an accepted
    container, has no audio stream, or its length cannot be told.
    """
    sniff(source)
    try:
        container = av.open(
            input_url(source), mode="r", timeout=30,
            container_options={"format_whitelist": AUDIO_FORMATS, "protocol_whitelist": PROTOCOL_WHITELIST},
        )
    except av.error.ArgumentError as error:
        raise UnsupportedMedia("the source is not in an accepted audio or video container") from error
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise UnsupportedMedia("the source is not an audio or video file ffmpeg can decode") from error
    with container:
        streams = [stream for stream in container.streams.audio if stream.codec_context is not None]
        if not streams:
            raise UnsupportedMedia("the source has no audio stream to transcribe")
        seconds = None
        if container.duration and container.duration > 0:
            seconds = container.duration / av.time_base
        elif streams[0].duration and streams[0].time_base:
            seconds = float(streams[0].duration * streams[0].time_base)
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise UnsupportedMedia("the length of the source's audio could not be determined")
    if seconds > max_seconds:
        raise LimitExceeded(f"the source plays {seconds / 60:.0f} minutes; at most {max_seconds / 60:.0f} are transcribed")
    return AudioInfo(duration_seconds=seconds)


def audio_windows(
    ffmpeg: str, source: Path, *, window_seconds: float, cut_at: Callable[[np.ndarray], int],
    max_seconds: float | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """The source's audio as (start in seconds, float32 samples) windows, in order.

    Parameters:
      ffmpeg: the ffmpeg executable.
      source: the local source file (untrusted; measured first).
      window_seconds: the most audio one window holds.
      cut_at: given a full window, the sample index to end it at (a pause,
        so no word is cut in two); the rest starts the next window.
      max_seconds: LimitExceeded once more audio than this is decoded (a
        header may claim a shorter length than the file decodes to).

    The samples start at the start of the source's timeline, so cue times
    line up with the video. Raises UnsupportedMedia when ffmpeg cannot decode
    the audio, TransientError when it is killed.
    """
    args = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-format_whitelist", AUDIO_FORMATS, "-protocol_whitelist", PROTOCOL_WHITELIST, "-i", input_url(source),
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE),
        "-af", "aresample=async=1:first_pts=0", "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tail = _StderrTail(proc)
    try:
        window = int(window_seconds * SAMPLE_RATE)
        most = math.inf if max_seconds is None else max_seconds * SAMPLE_RATE
        blocks: list[np.ndarray] = []
        held = offset = 0
        for raw in iter(lambda: proc.stdout.read(_BLOCK_BYTES), b""):
            blocks.append(np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0)
            held += len(blocks[-1])
            if offset + held > most:
                raise LimitExceeded(f"the source's audio plays longer than {max_seconds / 60:.0f} minutes "
                                    f"(more than its header says); at most {max_seconds / 60:.0f} are transcribed")
            while held >= window:
                pending = np.concatenate(blocks)
                cut = min(max(cut_at(pending[:window]), 1), window)
                yield offset / SAMPLE_RATE, pending[:cut]
                blocks, held, offset = [pending[cut:]], len(pending) - cut, offset + cut
        returncode = proc.wait()
        if returncode != 0:
            raise _failure(returncode, tail.text())
        if held:
            yield offset / SAMPLE_RATE, np.concatenate(blocks)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        tail.join()


class _StderrTail:
    """Drains ffmpeg's stderr on a thread (so a chatty decoder never blocks) and keeps its end."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc, self._tail = proc, b""
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        for chunk in iter(lambda: self._proc.stderr.read(1024), b""):
            self._tail = (self._tail + chunk)[-_STDERR_TAIL:]
        self._proc.stderr.close()

    def text(self) -> str:
        self._thread.join(timeout=5)
        return self._tail.decode("utf-8", errors="replace")

    def join(self) -> None:
        self._thread.join(timeout=5)


def _failure(returncode: int, stderr: str) -> Exception:
    if returncode < 0:
        return TransientError(f"ffmpeg was killed by signal {-returncode} while decoding the audio")
    lines = [line for line in map(scrub, stderr.splitlines()) if line]
    detail = f": {lines[-1]}" if lines else f" (exit status {returncode})"
    return UnsupportedMedia(f"ffmpeg could not decode the source's audio{detail}")
