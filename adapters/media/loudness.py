"""Loudness: measuring the source's audio and the filter that brings it to the target.

Two passes, the first one cheap: ``analysis_command`` decodes only the audio
(the video packets are read and dropped, never decoded) through ffmpeg's
EBU R128 meter; ``normalisation_filter`` then gives the ladder's single
ffmpeg run a ``loudnorm`` in linear mode with those measurements - one
constant gain, exact to a tenth of a LU. Only when that gain would push the
true peak over the ceiling does ``loudnorm`` fall back to its dynamic mode,
which limits peaks (within about half a LU of the target on our sources).
A single dynamic pass, tried first, came out 1.0 to 1.2 LU too loud on
speech with pauses, outside the +/-1 LU goal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from adapters.media.safety import input_args

# Below the EBU R128 absolute gate (-70 LUFS) nothing was measured: silence.
ABSOLUTE_GATE_LUFS = -70.0
# A source this much quieter than the target is near-silence or room noise;
# raising it further would make hiss the loudest thing in the lecture.
MAX_GAIN_DB = 30.0
# The ceiling given to loudnorm: 1 dB under the -1 dBTP goal, because the
# AAC encode raises true peaks a little.
TRUE_PEAK_CEILING_DBTP = -2.0
# loudnorm keeps a constant gain only while the source's loudness range is
# within this; speech is far below it. 20 is the highest every supported
# ffmpeg accepts.
LOUDNESS_RANGE_LU = 20.0

_NUMBER = r"(-?(?:\d+(?:\.\d+)?|inf))"


@dataclass(frozen=True)
class Loudness:
    """What ffmpeg's EBU R128 meter measured on a whole track.

    Parameters:
      integrated_lufs: the integrated (programme) loudness.
      threshold_lufs: the relative gate of the integrated measurement.
      range_lu: the loudness range (LRA).
      true_peak_dbtp: the highest true peak over all channels (-inf for silence).
    """

    integrated_lufs: float
    threshold_lufs: float
    range_lu: float
    true_peak_dbtp: float


def analysis_command(ffmpeg: str, source: Path) -> list[str]:
    """The ffmpeg command that measures the loudness of the source's first audio track, as stereo.

    Parameters:
      ffmpeg: the executable.
      source: the local source file.

    The measurement is in the summary ffmpeg logs at the end (``parse_summary``).
    """
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
        *input_args(source),
        "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-af", "aformat=channel_layouts=stereo,ebur128=peak=true:framelog=quiet",
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
    integrated = re.search(r"Integrated loudness:\s+I:\s+" + _NUMBER + r" LUFS\s+Threshold:\s+" + _NUMBER, text)
    loudness_range = re.search(r"Loudness range:\s+LRA:\s+" + _NUMBER + " LU", text)
    peak = re.search(r"True peak:\s+Peak:\s+" + _NUMBER, text)
    if not (integrated and loudness_range and peak):
        raise ValueError("ffmpeg's loudness summary is incomplete")
    return Loudness(
        integrated_lufs=float(integrated.group(1)),
        threshold_lufs=float(integrated.group(2)),
        range_lu=float(loudness_range.group(1)),
        true_peak_dbtp=float(peak.group(1)),
    )


def normalisation_filter(measured: Loudness, target_lufs: float) -> str:
    """The audio filter that brings a track measured as ``measured`` to ``target_lufs``; "" to leave it.

    Parameters:
      measured: the analysis of the same track (as stereo).
      target_lufs: the integrated loudness wanted.

    Silence is left alone, and the gain is capped at MAX_GAIN_DB. loudnorm
    runs at 192 kHz when it falls back to its dynamic mode: the caller
    resamples after it.
    """
    if not math.isfinite(measured.integrated_lufs) or measured.integrated_lufs <= ABSOLUTE_GATE_LUFS:
        return ""
    target = min(target_lufs, measured.integrated_lufs + MAX_GAIN_DB)
    peak = measured.true_peak_dbtp if math.isfinite(measured.true_peak_dbtp) else -99.0
    options = {
        "I": target,
        "TP": TRUE_PEAK_CEILING_DBTP,
        "LRA": LOUDNESS_RANGE_LU,
        "measured_I": min(measured.integrated_lufs, 0.0),
        "measured_TP": min(max(peak, -99.0), 99.0),
        "measured_LRA": min(max(measured.range_lu, 0.0), 99.0),
        "measured_thresh": min(max(measured.threshold_lufs, -99.0), 0.0),
        "linear": "true",
    }
    return "loudnorm=" + ":".join(f"{key}={_format(value)}" for key, value in options.items())


def _format(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.2f}"
