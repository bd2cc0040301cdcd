"""Running the encodes of a video in parts: one part's renditions and tiles, or the audio group.

The commands are ``parts``'s; this module runs them, reads what ffmpeg
wrote into a manifest (``manifest``) and removes ffmpeg's own playlists,
so the output folder holds only the files the manifest lists.
"""

from __future__ import annotations

import functools
import re
import logging
import shutil
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

from adapters.child_process import run_child
from adapters.media.audio import output_sample_rate
from adapters.media.commands import COMMON_ARGS
from adapters.media.encoding import AudioEncoding, TileOutput, VideoEncoding
from adapters.media.grid import frame_rate, mux_shift, part_window
from adapters.media.manifest import AudioManifest, PartManifest, Tile, Track, read_track
from adapters.media.parts import (
    audio_command,
    audio_master,
    audio_playlist,
    image_pattern,
    part_command,
    part_master,
    part_playlist,
)
from adapters.media.runner import ProgressFraction, run_ffmpeg
from adapters.media.safety import RemoteAccess, Source, scrub
from adapters.media.slides import SlideWatcher
from adapters.media.storyboard import TILE_WIDTH, interval_ms
from domain.errors import ProcessingTimeout, UnsupportedMedia
from domain.video.model import MediaInfo, Rendition, VideoPart
from domain.video.playlists import AUDIO_FOLDER

log = logging.getLogger(__name__)
# More reading errors than this in one part's run: its stretch of the source is damaged (see check_damage).
DAMAGE_ERRORS = 20
_REPEATED = re.compile(r"Last message repeated (\d+) times")
TILE_NAME = "tile_%05d.png"
# What ffmpeg says when an output got no frame at all.
_NO_FRAME = "received no packets"
_PROBE_SECONDS = 30


@functools.cache
def encoder_delays(ffmpeg: str, preset: str) -> tuple[int, int]:
    """How early the encoders start: x264's reordering delay in frames (at ``preset``), the AAC priming in samples.

    Parameters:
      ffmpeg: the executable (its libx264 and AAC encoder are measured).
      preset: the libx264 preset.

    Measured once per process by encoding half a second of a test picture
    and of silence (``framecrc`` lists each packet's dts and pts).
    """
    video = _first_packet(ffmpeg, ["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25:duration=0.5",
                                   "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p"])
    audio = _first_packet(ffmpeg, ["-f", "lavfi", "-i", "anullsrc=r=48000", "-t", "0.2", "-c:a", "aac"])
    return video[1] - video[0], max(-audio[0], 0)


def _first_packet(ffmpeg: str, args: list[str]) -> tuple[int, int]:
    lines: list[str] = []
    returncode, stderr = run_child(
        [ffmpeg, *COMMON_ARGS, *args, "-f", "framecrc", "-"], timeout_seconds=_PROBE_SECONDS,
        timed_out=ProcessingTimeout("ffmpeg took too long to measure its encoders' delays"), on_line=lines.append,
    )  # fmt: skip
    packets = [line.split(",") for line in lines if line.strip() and not line.startswith("#")]
    if returncode != 0 or not packets:
        raise RuntimeError(f"ffmpeg could not measure its encoders' delays: {stderr.strip()[-200:]}")
    return int(packets[0][1]), int(packets[0][2])


def shift_of(ffmpeg: str, info: MediaInfo, video: VideoEncoding) -> Fraction:
    """The ``parts.mux_shift`` of a source: the same for every part and for its audio.

    Parameters:
      ffmpeg: the executable.
      info: the source's probe.
      video: the encoding settings (the preset decides x264's delay).
    """
    delay_frames, priming_samples = encoder_delays(ffmpeg, video.preset)
    priming = Fraction(priming_samples, output_sample_rate(info.audio_sample_rate)) if info.has_audio else None
    return mux_shift(frame_rate(info), delay_frames, priming)


def encode_part(
    ffmpeg: str,
    source: Source,
    out_dir: Path,
    info: MediaInfo,
    ladder: Sequence[Rendition],
    part: VideoPart,
    *,
    video: VideoEncoding,
    timeout_seconds: float,
    access: RemoteAccess | None,
    on_progress: Callable[[float], None],
    tiles_dir: Path | None,
    watcher: SlideWatcher | None = None,
) -> PartManifest:
    """Encode ``part`` for every rendition (video only) and write its storyboard tiles; return its manifest.

    Parameters:
      ffmpeg: the executable.
      source: the local source file, or a presigned URL of it.
      out_dir: where ``<rendition>/<attempt>/seg_NNNNN.ts`` go (created if missing).
      info: the whole source's probe.
      ladder: the renditions.
      part: the range and the names of its files.
      video: the encoding settings.
      timeout_seconds: the limit on the ffmpeg run.
      access: how a URL source may be read.
      on_progress: called with the share of the part encoded, never
        decreasing, ending with 1.0.
      tiles_dir: where ``tile_NNNNN.png`` go (numbered on the whole video's
        storyboard); None for no storyboard.
      watcher: finds the candidate slide changes of the part's range in the same run (its
        ``offset_seconds`` the part's start; its ``candidates.json`` written when the run ends);
        None for none. Its failure costs the chapters, never the part.
    """
    interval = interval_ms(info.duration_seconds) if tiles_dir is not None else None
    tiles = None
    if tiles_dir is not None and interval is not None:
        tiles_dir.mkdir(parents=True, exist_ok=True)
        tiles = TileOutput(interval, TILE_WIDTH, image_pattern(tiles_dir, TILE_NAME))
    rate = frame_rate(info)
    window = part_window(part, rate, interval, info.duration_seconds)
    slides = None
    if watcher is not None:
        try:
            slides = watcher.output(out_dir)
        except ValueError as error:  # no chapters from this part, but the part all the same
            log.warning("no slide watch for this part: %s", error)
            watcher.stop()
            watcher = None
    args = part_command(ffmpeg, source, ladder, part, info, video=video, tiles=tiles,
                        shift=shift_of(ffmpeg, info, video), access=access, slides=slides)
    for rendition in ladder:
        (out_dir / rendition.name / part.attempt).mkdir(parents=True, exist_ok=True)
    seconds = (window.frames / rate) if window.frames is not None else info.duration_seconds - window.start
    progress = ProgressFraction(float(seconds), on_progress)

    def on_out_time(at: float) -> None:
        progress.at(at)
        if watcher is not None:
            watcher.poll()

    try:
        log_tail = run_ffmpeg(args, action=f"encode the part from {part.start_seconds} s",
                              timeout_seconds=timeout_seconds, cwd=out_dir, on_out_time=on_out_time)
        check_damage(log_tail)
    except BaseException as error:
        if watcher is not None:
            watcher.stop()
            watcher = None
        if not isinstance(error, UnsupportedMedia) or _NO_FRAME not in error.reason:
            raise
        # The video stream ended before this part (audio that runs on):
        # the part has nothing, as the single pass's last segments would.
        log.warning("the video of the source has no frame from %s s on; that part is empty", part.start_seconds)
        progress.done()
        empty = tuple(Track(rendition.name, "", "", (), None, None, 0) for rendition in ladder)
        return _manifest(part, rate, empty, (), interval)
    master = out_dir / part_master(part)
    try:
        tracks = tuple(
            read_track(out_dir / rendition.name, part.attempt,
                       out_dir / part_playlist(part).replace("%v", rendition.name),
                       master if master.is_file() else None, name=rendition.name, timeout_seconds=timeout_seconds)
            for rendition in ladder
        )  # fmt: skip
    except (OSError, ValueError) as error:
        raise UnsupportedMedia(f"ffmpeg's output of the part from {part.start_seconds} s is incomplete") from error
    finally:
        for rendition in ladder:
            (out_dir / part_playlist(part).replace("%v", rendition.name)).unlink(missing_ok=True)
        master.unlink(missing_ok=True)
    progress.done()
    if watcher is not None:
        watcher.finish()
    # The last part, or one in which the video stream ended, may have fewer tiles.
    ended = part.duration_seconds is None or (window.frames is not None and tracks[0].frames < window.frames)
    tiles_written = _tiles(tiles_dir, window.first_tile, window.tiles, interval, last=ended)
    return _manifest(part, rate, tracks, tiles_written, interval)


def check_damage(log_tail: str, *, most: int = DAMAGE_ERRORS) -> None:
    """Raise UnsupportedMedia when a run that ended well met more than ``most`` reading errors.

    Parameters:
      log_tail: the run's stderr (ffmpeg at ``-loglevel error``: only errors).
      most: the errors tolerated: a seek into an open GOP costs a few
        ("co located POCs unavailable"), a damaged stretch of the source
        dozens (one per frame, or per lost sync byte run).

    ffmpeg conceals what it cannot decode and fills the frame grid, so a
    part over a damaged stretch would otherwise come out as a frozen picture.
    """
    lines = [line.strip() for line in log_tail.splitlines() if line.strip()]
    errors = sum(int(match.group(1)) if (match := _REPEATED.search(line)) else 1 for line in lines)
    if errors > most:
        first = next((scrub(line) for line in lines if not _REPEATED.search(line)), "")
        raise UnsupportedMedia(f"the source is damaged there: ffmpeg met {errors} errors reading it ({first})")


def _manifest(part: VideoPart, rate: Fraction, tracks: tuple[Track, ...], tiles: tuple[Tile, ...],
              interval: int | None) -> PartManifest:
    return PartManifest(
        index=part.index, start_seconds=part.start_seconds, duration_seconds=part.duration_seconds,
        first_segment=part.first_segment, attempt=part.attempt, frame_seconds=float(1 / rate),
        renditions=tracks, tiles=tiles, tile_interval_ms=interval,
    )  # fmt: skip


def _tiles(folder: Path | None, first: int, count: int, interval: int | None, *, last: bool) -> tuple[Tile, ...]:
    # A part has all its tiles; the last part may have fewer, when the video
    # stream ends before the container does (its last cues show the last tile).
    if folder is None or interval is None:
        return ()
    found = []
    for index in range(first, first + count):
        path = folder / (TILE_NAME % index)
        if not path.is_file():
            break
        found.append(Tile(index, path.name, index * interval / 1000))
    if len(found) != count and not last:
        raise UnsupportedMedia(f"ffmpeg wrote {len(found)} of the {count} storyboard tiles of a part")
    return tuple(found)


def encode_audio(
    ffmpeg: str,
    source: Source,
    out_dir: Path,
    info: MediaInfo,
    audio: AudioEncoding,
    attempt: str,
    *,
    video: VideoEncoding,
    timeout_seconds: float,
    access: RemoteAccess | None,
    on_progress: Callable[[float], None],
) -> AudioManifest:
    """Encode the shared audio group over the whole source; return its manifest.

    Parameters:
      ffmpeg: the executable.
      source: the local source file, or a presigned URL of it.
      out_dir: where ``audio/<attempt>/seg_NNNNN.ts`` go (created if missing).
      info: the source's probe.
      audio: the AAC encode and its loudness filters.
      attempt: the folder scoping the segments.
      video: the parts' encoding settings (segment length, and the preset
        whose delay the parts' timestamps make room for).
      timeout_seconds: the limit on the ffmpeg run.
      access: how a URL source may be read.
      on_progress: called with the share encoded, never decreasing, ending with 1.0.
    """
    folder = out_dir / AUDIO_FOLDER
    shutil.rmtree(folder / attempt, ignore_errors=True)
    (folder / attempt).mkdir(parents=True)
    args = audio_command(ffmpeg, source, info, audio, attempt, segment_seconds=video.segment_seconds,
                         shift=shift_of(ffmpeg, info, video), access=access)
    progress = ProgressFraction(info.duration_seconds, on_progress)
    run_ffmpeg(args, action="encode the audio", timeout_seconds=timeout_seconds, cwd=out_dir, on_out_time=progress.at)
    playlist, master = out_dir / audio_playlist(), out_dir / audio_master()
    try:
        track = read_track(folder, attempt, playlist, master if master.is_file() else None, name=AUDIO_FOLDER,
                           timeout_seconds=timeout_seconds)
    except (OSError, ValueError) as error:
        raise UnsupportedMedia("ffmpeg's output of the audio is incomplete") from error
    finally:
        playlist.unlink(missing_ok=True)
        master.unlink(missing_ok=True)
    if not track.segments:
        raise UnsupportedMedia("ffmpeg encoded no audio of the source")
    progress.done()
    return AudioManifest(attempt=attempt, track=track)
