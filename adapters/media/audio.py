"""The shared audio track's encoding: its sample rate, bit rate and loudness filter."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from adapters.media.encoding import AudioEncoding
from adapters.media.loudness import Loudness, analysis_command, normalisation_filter, parse_summary
from adapters.media.runner import run_ffmpeg
from adapters.media.safety import RemoteAccess, Source
from domain.video.model import MediaInfo, Rendition

log = logging.getLogger(__name__)

# AAC-LC rates every HLS player decodes; a source at one of them keeps it.
KEPT_SAMPLE_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
# Any other rate (96 kHz, 192 kHz, an odd one, unknown) is resampled to this.
RESAMPLED_RATE = 48000


def output_sample_rate(source_rate: int) -> int:
    """The sample rate the audio is encoded at.

    Parameters:
      source_rate: the source's audio sample rate in Hz, 0 when unknown.
    """
    return source_rate if source_rate in KEPT_SAMPLE_RATES else RESAMPLED_RATE


def shared_audio_kbps(ladder: Sequence[Rendition]) -> int:
    """The AAC bit rate of the one audio track: the highest any rung of ``ladder`` asks for.

    Parameters:
      ladder: the planned renditions (HLS_LADDER's fourth field is each rung's audio rate).
    """
    return max(rendition.audio_kbps for rendition in ladder)


def shared_audio(
    ffmpeg: str,
    source: Source,
    info: MediaInfo,
    ladder: Sequence[Rendition],
    *,
    target_lufs: float | None,
    timeout_seconds: float,
    access: RemoteAccess | None = None,
) -> AudioEncoding:
    """The shared audio's encoding, its loudness filter chosen from audio-only measurements of the source.

    Parameters:
      ffmpeg: the executable.
      source: the local source file, or a presigned URL of it (with audio).
      info: the probe's result (the source's sample rate).
      ladder: the renditions (the highest audio rate among them is the track's).
      target_lufs: the integrated loudness wanted; None leaves the level as it is.
      timeout_seconds: the limit on each measuring ffmpeg run.
      access: how a URL source may be read.
    """
    sample_rate = output_sample_rate(info.audio_sample_rate)
    filters = ""

    def measure(tried: str = "") -> Loudness:
        # ValueError when ffmpeg measured nothing.
        log_tail = run_ffmpeg(analysis_command(ffmpeg, source, tried, access=access),
                              action="measure the loudness of the source", timeout_seconds=timeout_seconds)
        return parse_summary(log_tail)

    if target_lufs is not None:
        try:
            measured = measure()
            filters = normalisation_filter(measured, target_lufs, sample_rate=sample_rate, measure=measure)
        except ValueError:
            # No audio frame was decoded: there is nothing to normalise,
            # and the encode will say what is wrong with the audio, if anything.
            log.warning("no loudness measurement of the source's audio; its level is left as it is")
        else:
            log.info(
                "audio measured at %.1f LUFS (range %.1f LU), true peak %.1f dBTP; filter: %s",
                measured.integrated_lufs, measured.range_lu, measured.true_peak_dbtp, filters or "none",
            )  # fmt: skip
    return AudioEncoding(kbps=shared_audio_kbps(ladder), sample_rate=sample_rate, filters=filters)
