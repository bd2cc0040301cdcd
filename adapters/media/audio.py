"""The shared audio track's format: sample rate and bit rate."""

from __future__ import annotations

from collections.abc import Sequence

from domain.video.model import Rendition

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
