"""The master playlist learners' players read, rewritten from what ffmpeg's hls muxer wrote.

ffmpeg writes the right CODECS and RESOLUTION, but with a shared audio group
its BANDWIDTH of a video variant counts the video segments only (RFC 8216
wants every rendition the variant plays), the audio-only variant points at
its own group as well, and the group is named ``group_audio``/``audio_N``.
This module keeps ffmpeg's CODECS and RESOLUTION and writes the rest from
the media playlists and segment files on disk. The stitching of a video
encoded in parts writes the same master (``master_text``) from its parts'
manifests, whose segments are already elsewhere.
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


def playlist_entries(text: str) -> list[tuple[str, float]]:
    """The (URI, ``#EXTINF`` duration) of every segment a media playlist lists, in order.

    Parameters:
      text: the playlist.
    """
    entries: list[tuple[str, float]] = []
    duration = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            entries.append((line, duration))
            duration = None
    return entries


def segments_rate(segments: Sequence[tuple[float, int]], name: str) -> Rate:
    """The peak and average bit rate of a rendition's segments.

    Parameters:
      segments: each segment's (duration in seconds, size in bytes), in order.
      name: the rendition's playlist, for the error.

    Raises ValueError when there is no segment.
    """
    total_seconds = sum(seconds for seconds, _ in segments)
    total_bits = 8 * sum(size for _, size in segments)
    if not segments or total_seconds <= 0:
        raise ValueError(f"{name} lists no segment")
    average = total_bits / total_seconds
    rates = [8 * size / seconds for seconds, size in segments if seconds >= _MIN_PEAK_SEGMENT_SECONDS]
    return Rate(peak=math.ceil(max(rates, default=average)), average=math.ceil(average))


def playlist_rate(playlist: Path) -> Rate:
    """The peak and average bit rate of a media playlist's segments, from their sizes on disk.

    Parameters:
      playlist: a VOD media playlist whose segment URIs are files beside it.
    """
    entries = playlist_entries(playlist.read_text())
    segments = [(seconds, (playlist.parent / uri).stat().st_size) for uri, seconds in entries]
    return segments_rate(segments, f"{playlist.parent.name}/{playlist.name}")


@dataclass(frozen=True)
class Variant:
    """One entry of the master playlist.

    Parameters:
      uri: its media playlist, relative to the master.
      rate: the bits per second it needs (a video variant's includes the audio's).
      attributes: more attributes as written (``RESOLUTION=...``, ``CODECS="..."``), in order.
    """

    uri: str
    rate: Rate
    attributes: tuple[str, ...] = ()


def master_text(variants: Sequence[Variant], audio: Variant | None) -> str:
    """The master playlist players read: the video variants, then (with audio) the audio group and audio-only variant.

    Parameters:
      variants: the video variants, in the order to list them (lowest first).
      audio: the shared audio group's playlist, rate and CODECS; None for a
        silent video.
    """
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,'
            f'CHANNELS="2",URI="{audio.uri}"'
        )
    for variant in variants:
        attributes = [f"BANDWIDTH={variant.rate.peak}", f"AVERAGE-BANDWIDTH={variant.rate.average}",
                      *variant.attributes]
        if audio is not None:
            attributes.append(f'AUDIO="{AUDIO_GROUP}"')
        lines += [f"#EXT-X-STREAM-INF:{','.join(attributes)}", variant.uri]
    if audio is not None:
        # No AUDIO attribute: the variant is the audio itself, not video plus a group.
        attributes = [f"BANDWIDTH={audio.rate.peak}", f"AVERAGE-BANDWIDTH={audio.rate.average}", *audio.attributes]
        lines += [f"#EXT-X-STREAM-INF:{','.join(attributes)}", audio.uri]
    return "\n".join(lines) + "\n"


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
    audio_uri = f"{AUDIO_FOLDER}/{VARIANT_PLAYLIST}"
    audio = None
    if has_audio:
        codecs = written.get(audio_uri, {}).get("CODECS", f'"{AAC_LC}"')
        audio = Variant(audio_uri, playlist_rate(hls_dir / audio_uri), (f"CODECS={codecs}",))
    variants = []
    for rendition in ladder:
        uri = f"{rendition.name}/{VARIANT_PLAYLIST}"
        if uri not in written:
            raise ValueError(f"ffmpeg's master playlist does not list {uri}")
        ffmpeg = written[uri]
        rate = playlist_rate(hls_dir / uri) + (audio.rate if audio else Rate(0, 0))
        attributes = tuple(f"{key}={ffmpeg[key]}" for key in ("RESOLUTION", "CODECS") if key in ffmpeg)
        variants.append(Variant(uri, rate, attributes))
    master.write_text(master_text(variants, audio))
    return master
