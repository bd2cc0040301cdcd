"""The master playlist learners' players read, rewritten from what ffmpeg's hls muxer wrote.

ffmpeg writes the right CODECS and RESOLUTION, but with a shared audio group
its BANDWIDTH of a video variant counts the video segments only (RFC 8216
wants every rendition the variant plays), the audio-only variant points at
its own group as well, and the group is named ``group_audio``/``audio_N``.
This module keeps ffmpeg's CODECS and RESOLUTION and writes the rest from
the media playlists and segment files on disk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from domain.video.model import Rendition
from domain.video.playlists import AUDIO_FOLDER, MASTER_PLAYLIST, VARIANT_PLAYLIST, master_variants

AUDIO_GROUP = "audio"
AAC_LC = "mp4a.40.2"
# ffmpeg leaves segments shorter than this out of the peak too: a last
# sliver of a segment holding a keyframe would look like a huge rate.
_MIN_PEAK_SEGMENT_SECONDS = 0.5


@dataclass(frozen=True)
class Rate:
    """Bits per second a media playlist needs: the peak segment's and the whole playlist's average."""

    peak: int
    average: int

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.peak + other.peak, self.average + other.average)


def playlist_rate(playlist: Path) -> Rate:
    """The peak and average bit rate of a media playlist's segments, from their sizes on disk.

    Parameters:
      playlist: a VOD media playlist whose segment URIs are files beside it.
    """
    segments: list[tuple[float, int]] = []
    duration = None
    for line in playlist.read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, (playlist.parent / line).stat().st_size))
            duration = None
    total_seconds = sum(seconds for seconds, _ in segments)
    total_bits = 8 * sum(size for _, size in segments)
    if not segments or total_seconds <= 0:
        raise ValueError(f"{playlist.parent.name}/{playlist.name} lists no segment")
    average = total_bits / total_seconds
    rates = [8 * size / seconds for seconds, size in segments if seconds >= _MIN_PEAK_SEGMENT_SECONDS]
    return Rate(peak=math.ceil(max(rates, default=average)), average=math.ceil(average))


def rewrite_master(hls_dir: Path, ladder: Sequence[Rendition], *, has_audio: bool) -> Path:
    """Rewrite ``hls_dir/master.m3u8`` for players; return its path.

    Parameters:
      hls_dir: where ffmpeg wrote the master, one folder per rendition and
        (with audio) the ``audio`` folder.
      ladder: the renditions, in the order to list them (lowest first).
      has_audio: whether the ladder has the shared audio group.

    Every video variant's BANDWIDTH and AVERAGE-BANDWIDTH add the audio's;
    with audio, an audio-only variant comes last.
    """
    master = hls_dir / MASTER_PLAYLIST
    written = master_variants(master.read_text())
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    audio_uri = f"{AUDIO_FOLDER}/{VARIANT_PLAYLIST}"
    audio = playlist_rate(hls_dir / audio_uri) if has_audio else Rate(0, 0)
    if has_audio:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,'
            f'CHANNELS="2",URI="{audio_uri}"'
        )
    for rendition in ladder:
        uri = f"{rendition.name}/{VARIANT_PLAYLIST}"
        if uri not in written:
            raise ValueError(f"ffmpeg's master playlist does not list {uri}")
        ffmpeg = written[uri]
        rate = playlist_rate(hls_dir / uri) + audio
        attributes = [f"BANDWIDTH={rate.peak}", f"AVERAGE-BANDWIDTH={rate.average}"]
        attributes += [f"{key}={ffmpeg[key]}" for key in ("RESOLUTION", "CODECS") if key in ffmpeg]
        if has_audio:
            attributes.append(f'AUDIO="{AUDIO_GROUP}"')
        lines += [f"#EXT-X-STREAM-INF:{','.join(attributes)}", uri]
    if has_audio:
        codecs = written.get(audio_uri, {}).get("CODECS", f'"{AAC_LC}"')
        # No AUDIO attribute: the variant is the audio itself, not video plus a group.
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={audio.peak},AVERAGE-BANDWIDTH={audio.average},CODECS={codecs}",
                  audio_uri]
    master.write_text("\n".join(lines) + "\n")
    return master
