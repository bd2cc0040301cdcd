"""How a part reads its source: by ranged GETs of a presigned URL, or from a copy downloaded once per machine.

A part seeks to its start and reads its range. Whether that is cheap over
HTTP depends on how the container's demuxer seeks: with an index (MP4/MOV's
``moov``, Matroska's cues, AVI's ``idx1``, ASF's index) it asks for the index
and then for the range; MPEG-TS and MPEG-PS have no index, but ffmpeg finds
a time by bisection (about twenty small ranged GETs) and a part reads a
pre-roll before its start (``parts.PREROLL_SECONDS``); FLV (no keyframe index
as ffmpeg writes it) and Ogg read from the start or bisect through most of
the file, so a part near the end reads nearly all of it.

Measured with ``bench/range_reads.py`` (moto's S3 behind a counting proxy,
2-core machine, ffmpeg 9.0.2 for the CLI, PyAV 18.1 with FFmpeg 8.1 for the
probe; testsrc2 at 640x360, ~4 Mb/s, with AAC audio). "Share" is bytes sent
over the size of the file; a part's fair share is its length over the video's.

60 s sources, a 10 s part from 24 s (fair share 0.167):

| container | probe GETs / share | part GETs / share | part / fair | audio pass GETs / share |
|---|---|---|---|---|
| MP4, index at the front | 1 / 0.006 | 2 / 0.307 | 1.84 | 2 / 2.00 |
| MP4, index at the end | 3 / 0.014 | 4 / 0.264 | 1.59 | 6 / 2.01 |
| MOV | 3 / 0.014 | 4 / 0.239 | 1.43 | 6 / 2.01 |
| Matroska (cues) | 1 / 0.008 | 4 / 0.267 | 1.60 | 2 / 2.00 |
| WebM (VP9, cues) | 1 / 0.010 | 4 / 0.256 | 1.54 | 2 / 2.00 |
| AVI (idx1) | 5 / 0.072 | 6 / 0.292 | 1.75 | 10 / 2.04 |
| ASF (WMV2) | 1 / 0.028 | 4 / 0.262 | 1.57 | 2 / 2.00 |
| MPEG-TS | 3 / 0.040 | 22 / 0.547 | 3.28 | 6 / 2.19 |
| MPEG-PS (MPEG-2) | 3 / 0.107 | 6 / 0.468 | 2.81 | 6 / 2.20 |
| FLV | 1 / 0.029 | 3 / 0.699 | 4.19 | 2 / 2.00 |
| Ogg (Theora) | 5 / 0.138 | 20 / 0.801 | 4.81 | 10 / 2.13 |
| Matroska without cues (written to a pipe) | refused by the probe: no duration | | | |

600 s sources, a 60 s part from 240 s (fair share 0.100): MP4 with the index
at the end 4 GETs, 0.114 (1.14x fair); Matroska 4 GETs, 0.106 (1.06x); AVI
6 GETs, 0.112 (1.12x); MPEG-TS 22 GETs, 0.145 (1.45x: the 10 s pre-roll and
the bisection). The bytes counted include what was in flight when ffmpeg
closed a connection to seek (the proxy's send buffer is kept small).

The audio (loudness measurement, then the audio-only encode) reads the whole
file at least twice whatever the container: it is cheaper from a local copy
when the machine has one.
"""

from __future__ import annotations

from domain.video.model import MediaInfo

# Demuxer names (components of ffmpeg's comma-separated format name) whose
# parts read by range.
READ_BY_RANGE = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "asf", "mpegts", "mpeg"})


def reads_by_range(info: MediaInfo) -> bool:
    """Whether the parts of a source should read it by URL (True) or from a copy downloaded once per machine (False).

    Parameters:
      info: the source's probe (its ``format_name``, ffmpeg's demuxer name,
        e.g. ``mov,mp4,m4a,3gp,3g2,mj2``).

    True for the containers a part seeks in with a few ranged GETs (MP4,
    MOV, Matroska, WebM, AVI, ASF, MPEG-TS, MPEG-PS); False for FLV, Ogg and
    anything else, whose parts would read most of the file each.
    """
    return bool(READ_BY_RANGE & set(info.format_name.split(",")))
