"""Test media made on the spot with the real ffmpeg: clean clips and hostile files."""

from __future__ import annotations

import re
import struct
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from adapters.media.binary import find_ffmpeg


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg the tests run (FFMPEG_BINARY is not consulted: the default lookup)."""
    return find_ffmpeg(None)


def make_video(path: Path, *, seconds: float, width: int, height: int, audio: bool = True, fps: int = 25) -> Path:
    """Write a test clip (testsrc2 picture, optional 440 Hz tone) and return its path.

    Parameters:
      path: the file to write; its extension picks the container (.mp4, .ts, .mkv...).
      seconds: the clip's length.
      width: frame width in pixels.
      height: frame height in pixels.
      audio: whether to add an AAC sine tone.
      fps: frames per second.

    Encoded with ``-preset ultrafast``: these clips only need to exist, fast.
    The MP4 muxer's default keeps the moov atom at the end, which makes a
    truncated copy undecodable, as a cut-off upload is.
    """
    args = [ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-loglevel", "error"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    subprocess.run([*args, str(path)], check=True, capture_output=True, timeout=120)
    return path


X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
AAC = ("-c:a", "aac", "-b:a", "64k")


def make_media(
    path: Path,
    *,
    seconds: float,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    video: Sequence[str] = X264,
    audio: str | None = "sine=frequency=440:sample_rate=48000",
    audio_codec: Sequence[str] = AAC,
    extra: Sequence[str] = (),
) -> Path:
    """Write a test clip with any codecs and return its path.

    Parameters:
      path: the file to write; its extension picks the container.
      seconds: the clip's length.
      width: frame width in pixels.
      height: frame height in pixels.
      fps: frames per second.
      video: the video encoder's arguments (codec, pixel format...).
      audio: a lavfi audio source (``sine=...``, ``aevalsrc=...``, see
        ``speech_like``), None for no audio.
      audio_codec: the audio encoder's arguments (codec, channels, rate...).
      extra: more output arguments, before the file name.
    """
    args = [ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-loglevel", "error"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-t", str(seconds), "-i", audio]
    args += [*video]
    if audio:
        args += [*audio_codec, "-shortest"]
    subprocess.run([*args, *extra, str(path)], check=True, capture_output=True, timeout=120)
    return path


def speech_like(gain: float, *, clip: bool = False, seconds: float = 60, sample_rate: int = 48000) -> str:
    """A lavfi ``aevalsrc`` that sounds like a voice: a gliding harmonic tone in syllables and pauses.

    Parameters:
      gain: linear amplitude; 0.3 gives about -25 LUFS, 0.05 about -40, 8 with ``clip`` about -5.
      clip: hard-clip at full scale (an over-driven microphone).
      seconds: the length.
      sample_rate: samples per second.
    """
    pitch = "(1+0.2*sin(2*PI*0.37*t))"
    harmonics = "+".join(f"{weight}*sin({2 * k}*PI*140*t*{pitch})" for k, weight in
                         ((1, 1), (2, 0.6), (3, 0.4), (5, 0.25)))
    # Syllables at 3.7 Hz, words grouped by pauses about every 4 s.
    envelope = "pow(max(0,sin(2*PI*3.7*t)),2)*gt(sin(2*PI*0.23*t)+0.4,0)"
    expression = f"{gain}*{envelope}*({harmonics})/2.25"
    if clip:
        expression = f"clip({expression},-1,1)"
    return f"aevalsrc=exprs='{expression}':s={sample_rate}:d={seconds}"


def measure_loudness(media: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of the first audio track, by ffmpeg's ``ebur128``.

    Parameters:
      media: a file, or an HLS playlist (read with ffmpeg's hls demuxer).
    """
    result = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-i", str(media), "-map", "0:a:0",
         "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=300,
    )
    summary = result.stderr[result.stderr.rindex("Summary:"):]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf)", summary).group(1)
    return integrated, float(peak)


def write_hls_playlist(path: Path, *segments: Path) -> Path:
    """Write an HLS VOD playlist whose segments are the given local files.

    Parameters:
      path: the playlist to write.
      segments: files the playlist names by absolute ``file:`` URL, the way
        an attacker points a playlist at files of the machine.
    """
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10", "#EXT-X-MEDIA-SEQUENCE:0"]
    for segment in segments:
        lines += ["#EXTINF:1.0,", f"file://{segment.absolute()}"]
    lines.append("#EXT-X-ENDLIST")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_gab2_avi(path: Path, embedded: bytes, *, title: str = "evil") -> Path:
    """Write an AVI whose only stream is a GAB2 subtitle carrying ``embedded``.

    Parameters:
      path: the file to write.
      embedded: the "subtitle file" inside the GAB2 chunk; an HLS playlist
        for the known attack, an SRT file for a harmless control.
      title: the subtitle's title; ffmpeg copies it into the stream's
        metadata when it parses the GAB2 chunk, which shows the chunk was
        reached.

    The attack: ffmpeg's AVI demuxer probes the embedded file and opens a
    nested demuxer on it; were that an HLS demuxer, the playlist would read
    local files into what looks like the AVI's video stream. Current ffmpeg
    only accepts SRT/ASS there, and our white-list (copied into nested
    demuxers) refuses any nested demuxer not on it.
    """
    description = (title + "\0").encode("utf-16-le")
    chunk_data = (
        b"GAB2\0"
        + struct.pack("<H", 2)  # the GAB2 version ffmpeg checks for
        + struct.pack("<I", len(description))
        + description
        + struct.pack("<HI", 4, len(embedded))  # flags, then the data size
        + embedded
    )
    # avih: usec/frame, max bytes/s, padding, flags (has index), frames,
    # initial frames, streams, buffer size, width, height, 4 reserved.
    avih = struct.pack("<14I", 1_000_000, 0, 0, 0x10, 1, 0, 1, len(chunk_data), 0, 0, 0, 0, 0, 0)
    # strh for a text stream: type, handler, flags, priority, language,
    # initial frames, scale, rate, start, length, buffer, quality, sample
    # size, frame rectangle.
    strh = b"txts" + b"\0" * 4
    strh += struct.pack("<IHHIIIIIIII", 0, 0, 0, 0, 1, 1, 0, 1, len(chunk_data), 0xFFFFFFFF, 0)
    strh += struct.pack("<4h", 0, 0, 0, 0)
    header_list = _list(b"hdrl", _chunk(b"avih", avih) + _list(b"strl", _chunk(b"strh", strh) + _chunk(b"strf", b"")))
    movi = _list(b"movi", _chunk(b"00tx", chunk_data))
    # One index entry: the chunk at offset 4 of the movi list, a keyframe.
    index = _chunk(b"idx1", b"00tx" + struct.pack("<III", 0x10, 4, len(chunk_data)))
    body = b"AVI " + header_list + movi + index
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    # RIFF chunks are word-aligned: odd sizes get a pad byte not counted in the size.
    return fourcc + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(kind: bytes, body: bytes) -> bytes:
    return _chunk(b"LIST", kind + body)
