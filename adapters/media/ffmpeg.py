"""FfmpegMediaProcessor: the MediaProcessor port on PyAV (probe) and the ffmpeg CLI."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.media.audio import output_sample_rate, shared_audio_kbps
from adapters.media.commands import thumbnail_command
from adapters.media.ladder import (
    MASTER_PLAYLIST,
    AudioEncoding,
    TileOutput,
    VideoEncoding,
    check_names,
    ladder_command,
)
from adapters.media.loudness import Loudness, analysis_command, normalisation_filter, parse_summary
from adapters.media.master import rewrite_master
from adapters.media.probe import probe_media, start_seconds
from adapters.media.runner import run_ffmpeg
from adapters.media.headings import HeadingReader
from adapters.media.safety import sniff
from adapters.media.slides import SlideWatcher
from adapters.media.storyboard import TILE_WIDTH, interval_ms, write_storyboard
from domain.entities import MediaInfo, Rendition
from domain.errors import UnsupportedMedia

log = logging.getLogger(__name__)
# The storyboard's tiles, written by ffmpeg beside the renditions and removed
# once laid out on sprite sheets.
_TILES = ".storyboard-tiles"

# How far before the end a thumbnail may be taken: the last frame starts a
# frame duration before the container's end, so seeking to the very end
# finds nothing.
_END_MARGIN_SECONDS = 0.5


class FfmpegMediaProcessor:
    """Probes with PyAV; transcodes to an HLS ladder and takes thumbnails with ffmpeg.

    Every open of a source is restricted to self-contained container formats
    and to the ``file`` protocol (see ``adapters.media.safety``). Errors are
    the domain's: UnsupportedMedia or LimitExceeded for a bad source,
    ProcessingTimeout past the time limit, TransientError when ffmpeg was
    killed or ran out of disk.

    Parameters:
      ffmpeg: path of the ffmpeg executable (see ``find_ffmpeg``).
      timeout_seconds: the limit on each ffmpeg run (the loudness analysis,
        the transcode, one thumbnail) and on PyAV's waits while probing.
      segment_seconds: the HLS segment length; keyframes are forced on this
        grid so segments really are this long.
      preset: the libx264 preset (speed against size).
      threads: encoder threads per ffmpeg run, 0 for ffmpeg's automatic choice.
      crf: libx264's constant rate factor of a 1080p rendition (smaller ones
        get a lower one, see ``ladder.rendition_crf``), each rendition capped
        at its rung's rate.
      loudness_target_lufs: the integrated loudness the audio is brought to;
        None leaves the audio's level as it is.
      headings: reads slide headings for the chapters (Tesseract, Korean and English by default).
    """

    def __init__(
        self,
        ffmpeg: str,
        *,
        timeout_seconds: float,
        segment_seconds: int = 6,
        preset: str = "veryfast",
        threads: int = 0,
        crf: int = 19,
        loudness_target_lufs: float | None = -16.0,
        headings: HeadingReader | None = None,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if segment_seconds < 1:
            raise ValueError("segment_seconds must be at least 1")
        if threads < 0:
            raise ValueError("threads must be 0 (automatic) or more")
        if not 0 <= crf <= 51:
            raise ValueError("crf must be between 0 and 51")
        self.ffmpeg = ffmpeg
        self.timeout_seconds = timeout_seconds
        self.video = VideoEncoding(crf=crf, preset=preset, segment_seconds=segment_seconds, threads=threads)
        self.loudness_target_lufs = loudness_target_lufs
        self.headings = headings or HeadingReader(timeout_seconds=min(timeout_seconds, 60))

    def probe(self, source: Path) -> MediaInfo:
        """Duration, displayed frame size, audio presence and sample rate of ``source``.

        Parameters:
          source: the local source file (untrusted).
        """
        return probe_media(source, timeout_seconds=self.timeout_seconds)

    def transcode_hls(
        self,
        source: Path,
        out_dir: Path,
        info: MediaInfo,
        ladder: Sequence[Rendition],
        on_progress: Callable[[float], None],
        storyboard_dir: Path | None = None,
        slides_dir: Path | None = None,
    ) -> Path:
        """Encode every rendition of ``ladder`` in one ffmpeg run; return ``out_dir/master.m3u8``.

        Parameters:
          source: the local source file, already probed.
          out_dir: where ``master.m3u8``, one folder per rendition
            (``<name>/index.m3u8``, ``<name>/seg_00000.ts``...) and, when the
            source has audio, the shared ``audio/`` folder are written;
            created if missing.
          info: the probe's result; its duration turns ffmpeg's output time
            into a fraction and places the storyboard's tiles, its audio
            facts decide whether and how audio is encoded.
          ladder: the renditions to encode (already planned; not re-decided).
          on_progress: called with a fraction in [0, 1] that never decreases,
            ending with 1.0 on success.
          storyboard_dir: where ``storyboard.vtt`` and ``storyboard/`` go
            (made from the same ffmpeg run); None for no storyboard.
          slides_dir: where the candidate slide changes found in the same run
            go (``candidates.json`` and their images, see
            ``adapters.media.slides``; outside ``out_dir``); None for none.
        """
        sniff(source)
        out_dir.mkdir(parents=True, exist_ok=True)
        check_names(ladder)
        audio = self._audio(source, info, ladder) if info.has_audio else None
        tiles = None
        if storyboard_dir is not None:
            tiles = TileOutput(interval_ms(info.duration_seconds), TILE_WIDTH, f"{_TILES}/tile_%05d.png")
            shutil.rmtree(out_dir / _TILES, ignore_errors=True)
            (out_dir / _TILES).mkdir()
        watcher = SlideWatcher(slides_dir, self.headings) if slides_dir is not None else None
        slides = None
        if watcher is not None:
            try:
                slides = watcher.output(out_dir)
            except ValueError as error:  # no chapters, but the video all the same
                log.warning("no slide watch for this encode: %s", error)
                watcher.stop()
                watcher = None
        args = ladder_command(self.ffmpeg, source, ladder, video=self.video, audio=audio, tiles=tiles, slides=slides)
        progress = _Fraction(info.duration_seconds, on_progress)

        def on_out_time(seconds: float) -> None:
            progress.at(seconds)
            if watcher is not None:
                watcher.poll()

        try:
            run_ffmpeg(
                args,
                action="transcode the source",
                timeout_seconds=self.timeout_seconds,
                cwd=out_dir,
                on_out_time=on_out_time,
            )
        except BaseException:
            if watcher is not None:
                watcher.stop()
            raise
        if watcher is not None:
            watcher.finish()
        master = out_dir / MASTER_PLAYLIST
        if not master.is_file():
            raise UnsupportedMedia("ffmpeg finished without writing an HLS playlist for the source")
        try:
            rewrite_master(out_dir, ladder, has_audio=audio is not None)
        except ValueError as error:
            raise UnsupportedMedia(f"ffmpeg's HLS output of the source is incomplete: {error}") from error
        if tiles is not None and storyboard_dir is not None:
            self._storyboard(out_dir / _TILES, storyboard_dir, info, tiles.interval_ms)
        progress.done()
        return master

    def _audio(self, source: Path, info: MediaInfo, ladder: Sequence[Rendition]) -> AudioEncoding:
        sample_rate = output_sample_rate(info.audio_sample_rate)
        filters = ""
        if self.loudness_target_lufs is not None:
            try:
                measured = self._loudness(source)
                filters = normalisation_filter(
                    measured, self.loudness_target_lufs, sample_rate=sample_rate,
                    measure=lambda tried: self._loudness(source, tried),
                )  # fmt: skip
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

    def _loudness(self, source: Path, filters: str = "") -> Loudness:
        """Measure the source's audio through ``filters``; ValueError when ffmpeg measured nothing."""
        log_tail = run_ffmpeg(
            analysis_command(self.ffmpeg, source, filters),
            action="measure the loudness of the source",
            timeout_seconds=self.timeout_seconds,
        )
        return parse_summary(log_tail)

    def _storyboard(self, tiles_dir: Path, storyboard_dir: Path, info: MediaInfo, interval: int) -> None:
        tiles = sorted(tiles_dir.glob("tile_*.png"))
        if not tiles:
            raise UnsupportedMedia("ffmpeg decoded no frame of the source for its storyboard")
        write_storyboard(tiles, storyboard_dir, duration_seconds=info.duration_seconds, interval=interval)
        shutil.rmtree(tiles_dir)

    def start_seconds(self, segment: Path) -> float:
        """When ``segment``'s first frame is presented, in seconds (an HLS segment's MPEG-TS timestamp).

        Parameters:
          segment: a media segment, e.g. the first one of a rendition.
        """
        return start_seconds(segment, timeout_seconds=self.timeout_seconds)

    def thumbnail(self, source: Path, dest: Path, at_seconds: float) -> None:
        """Write one JPEG frame of ``source``, at most 1280 px wide, to ``dest``.

        Parameters:
          source: the local source file (untrusted).
          dest: the JPEG to write; its folder must exist.
          at_seconds: where to take the frame; clamped into the video.
        """
        info = self.probe(source)
        at = min(max(at_seconds, 0.0), max(info.duration_seconds - _END_MARGIN_SECONDS, 0.0))
        dest.unlink(missing_ok=True)
        self._grab(source, dest, at)
        if at > 0 and not _non_empty(dest):
            # Seeking past the last frame of an oddly timed file yields no
            # frame and no error: the first frame is better than none.
            self._grab(source, dest, 0.0)
        if not _non_empty(dest):
            raise UnsupportedMedia("ffmpeg could not take a thumbnail of the source: no frame was decoded")

    def _grab(self, source: Path, dest: Path, at: float) -> None:
        args = thumbnail_command(self.ffmpeg, source, dest, at_seconds=at, threads=self.video.threads)
        run_ffmpeg(args, action="take a thumbnail of the source", timeout_seconds=self.timeout_seconds)


def _non_empty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


class _Fraction:
    """Turns output times into a clamped, never-decreasing progress fraction."""

    def __init__(self, duration_seconds: float, on_progress: Callable[[float], None]) -> None:
        self.duration = duration_seconds
        self.on_progress = on_progress
        self.last = 0.0

    def at(self, seconds: float) -> None:
        if self.duration <= 0:
            return
        fraction = min(max(seconds / self.duration, 0.0), 1.0)
        if fraction > self.last:
            self.last = fraction
            self.on_progress(fraction)

    def done(self) -> None:
        if self.last < 1.0:
            self.last = 1.0
            self.on_progress(1.0)
