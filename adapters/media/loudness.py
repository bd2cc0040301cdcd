"""Loudness: measuring the source's audio and choosing the filter that brings it to the target.

Every measurement is an audio-only ffmpeg pass (``analysis_command``): the
video packets are read and dropped, never decoded, and ffmpeg's EBU R128
meter runs at about 400x real time. The ladder's single ffmpeg run then
applies what ``normalisation_filter`` chose:

* a constant gain when the true peak stays under the ceiling with it - the
  usual case for speech, exact to a tenth of a LU;
* otherwise the gain followed by a lookahead limiter at 4x the sample rate
  (true peaks), with the gain corrected from a measurement of the limited
  audio - at most ``MAX_CORRECTIONS`` more audio-only passes.

Measured on speech-like sources before choosing this (docs/BENCHMARKS.md):
a single ``loudnorm`` pass in its dynamic mode came out 1.0 to 1.2 LU too
loud on speech with pauses, and ``loudnorm``'s two-pass linear mode falls
back to that dynamic mode when peaks block the gain, which left a quiet
voice with loud clicks 9 to 10 LU under the target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from adapters.media.safety import RemoteAccess, Source, input_args

# Below the EBU R128 absolute gate (-70 LUFS) nothing was measured: silence.
ABSOLUTE_GATE_LUFS = -70.0
# A source this much quieter than the target is near-silence or room noise;
# raising it further would make hiss the loudest thing in the lecture.
MAX_GAIN_DB = 30.0
# The true-peak ceiling before the encode: 1 dB under the -1 dBTP goal,
# because the AAC encode raises true peaks (by 0.1 to 0.8 dB on our sources).
TRUE_PEAK_CEILING_DBTP = -2.0
# Within this of the target, a limited result is taken as it is.
TOLERANCE_LU = 0.5
MAX_CORRECTIONS = 4
# Below this many LU per dB of gain, more gain is mostly limited away.
MIN_SLOPE = 0.2
OVERSAMPLING = 4

_NUMBER = r"(-?(?:\d+(?:\.\d+)?|inf))"


@dataclass(frozen=True)
class Loudness:
    """What ffmpeg's EBU R128 meter measured on a whole track.

    Parameters:
      integrated_lufs: the integrated (programme) loudness.
      range_lu: the loudness range (LRA).
      true_peak_dbtp: the highest true peak over all channels (-inf for silence).
    """

    integrated_lufs: float
    range_lu: float
    true_peak_dbtp: float


def analysis_command(
    ffmpeg: str, source: Source, filters: str = "", *, access: RemoteAccess | None = None
) -> list[str]:
    """The ffmpeg command that measures the loudness of the source's first audio track, as stereo.

    Parameters:
      ffmpeg: the executable.
      source: the local source file, or a presigned URL of it.
      filters: audio filters applied before measuring (a gain and limiter
        being tried), "" for none.
      access: how a URL source may be read.

    The measurement is in the summary ffmpeg logs at the end (``parse_summary``).
    """
    chain = ",".join(step for step in ("aformat=channel_layouts=stereo", filters,
                                       "ebur128=peak=true:framelog=quiet") if step)
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
        *input_args(source, access),
        "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-af", chain,
        "-f", "null", "-",
    ]  # fmt: skip


def parse_summary(log: str) -> Loudness:
    """The loudness in the last summary ffmpeg's ``ebur128`` filter logged.

    Parameters:
      log: ffmpeg's stderr (its tail is enough).

    Raises ValueError when there is no complete summary.
    """
    start = log.rfind("Summary:")
    if start < 0:
        raise ValueError("ffmpeg logged no loudness summary")
    text = log[start:]
    integrated = re.search(r"Integrated loudness:\s+I:\s+" + _NUMBER + " LUFS", text)
    loudness_range = re.search(r"Loudness range:\s+LRA:\s+" + _NUMBER + " LU", text)
    peak = re.search(r"True peak:\s+Peak:\s+" + _NUMBER, text)
    if not (integrated and loudness_range and peak):
        raise ValueError("ffmpeg's loudness summary is incomplete")
    return Loudness(
        integrated_lufs=float(integrated.group(1)),
        range_lu=float(loudness_range.group(1)),
        true_peak_dbtp=float(peak.group(1)),
    )


def normalisation_filter(
    measured: Loudness, target_lufs: float, *, sample_rate: int, measure: Callable[[str], Loudness]
) -> str:
    """The audio filter that brings a track measured as ``measured`` to ``target_lufs``; "" to leave it.

    Parameters:
      measured: the analysis of the track (as stereo), without filters.
      target_lufs: the integrated loudness wanted.
      sample_rate: the rate the filter works at (the limiter oversamples it).
      measure: measures the track through a filter (``analysis_command``
        with that filter); called only when peaks block a constant gain.

    Silence is left alone, and the gain is capped at MAX_GAIN_DB.
    """
    if not math.isfinite(measured.integrated_lufs) or measured.integrated_lufs <= ABSOLUTE_GATE_LUFS:
        return ""
    target = min(target_lufs, measured.integrated_lufs + MAX_GAIN_DB)
    gain = target - measured.integrated_lufs
    if measured.true_peak_dbtp + gain <= TRUE_PEAK_CEILING_DBTP:
        return _volume(gain)
    tried: list[tuple[float, float]] = []
    for _ in range(MAX_CORRECTIONS):
        reached = measure(_limited(gain, sample_rate)).integrated_lufs
        tried.append((gain, reached))
        if abs(reached - target) <= TOLERANCE_LU:
            break
        # The limiter eats part of each added dB: after two tries, step by
        # the loudness a dB actually bought (a secant step).
        slope = 1.0
        if len(tried) >= 2 and tried[-1][0] != tried[-2][0]:
            (gain_a, reached_a), (gain_b, reached_b) = tried[-2:]
            slope = min(max((reached_b - reached_a) / (gain_b - gain_a), MIN_SLOPE), 1.0)
        corrected = min(gain + (target - reached) / slope, MAX_GAIN_DB)
        if corrected == gain:
            break
        gain = corrected
    return _limited(gain, sample_rate)


def _volume(gain_db: float) -> str:
    return f"volume={gain_db:.2f}dB"


def _limited(gain_db: float, sample_rate: int) -> str:
    # alimiter limits sample peaks; at 4x the rate those are the true peaks.
    # level=false: no make-up gain of its own.
    ceiling = 10 ** (TRUE_PEAK_CEILING_DBTP / 20)
    return (
        f"{_volume(gain_db)},aresample={sample_rate * OVERSAMPLING},"
        f"alimiter=limit={ceiling:.4f}:level=false,aresample={sample_rate}"
    )
