"""FfmpegMediaProcessor: the MediaProcessor port on PyAV (probe) and the ffmpeg CLI.

A source is a local file (``Path``) or a presigned URL of it (``str``,
``adapters.media.safety``). A video is encoded in one pass
(``transcode_hls``), or in parts: ``encode_part`` per range of source time,
``encode_audio`` once, then ``stitch_hls`` and ``stitch_storyboard`` from the
manifests they returned (``adapters.media.parts`` says how parts line up).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from adapters.media.audio import shared_audio
from adapters.media.commands import thumbnail_command
from adapters.media.encoding import AudioEncoding, TileOutput, VideoEncoding
from adapters.media.headings import HeadingReader
from adapters.media.ladder import check_names, ladder_command
from adapters.media.manifest import AudioManifest, ManifestJson, PartManifest
from adapters.media.master import rewrite_master
from adapters.media.parted import encode_audio, encode_part
from adapters.media.probe import probe_media, start_seconds
from adapters.media.reading import reads_by_range
from adapters.media.runner import ProgressFraction, run_ffmpeg
from adapters.media.safety import RemoteAccess, Source, is_url, sniff, sniff_head
from adapters.media.slides import SlideWatcher
from adapters.media.stitch import stitch_hls, stitch_storyboard
from adapters.media.storyboard import TILE_WIDTH, interval_ms, write_storyboard
from domain.errors import UnsupportedMedia
from domain.video.model import MediaInfo, Rendition, VideoPart
from domain.video.playlists import MASTER_PLAYLIST

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
    and to the protocols the source needs: ``file`` for a local file,
    ``https,tls,tcp`` (or ``http,tcp`` where ``remote`` allows plain http)
    for a URL (see ``adapters.media.safety``). Errors are the domain's:
    UnsupportedMedia or LimitExceeded for a bad source, ProcessingTimeout
    past the time limit, TransientError when ffmpeg was killed, ran out of
    disk or could not read a URL, SourceNotFound when a URL's object is gone.

    Parameters:
      ffmpeg: path of the ffmpeg executable (see ``find_ffmpeg``).
      timeout_seconds: the limit on each ffmpeg run (the loudness analysis,
        the transcode, one thumbnail) and on PyAV's waits while probing.
      segment_seconds: the HLS segment length; keyframes are forced on this
        grid so segments really are this long.
      preset: the libx264 preset (speed against size).
      threads: encoder threads per ffmpeg run, 0 for ffmpeg's automatic choice.
      crf: libx264's constant rate factor of a 1080p rendition (smaller ones
        get a lower one, see ``encoding.rendition_crf``), each rendition capped
        at its rung's rate.
      loudness_target_lufs: the integrated loudness the audio is brought to;
        None leaves the audio's level as it is.
      remote: how sources given by URL may be read (plain http, CA bundle,
        I/O timeout).
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
        remote: RemoteAccess | None = None,
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
        self.remote = remote or RemoteAccess()
        self.headings = headings or HeadingReader(timeout_seconds=min(timeout_seconds, 60))

    def sniff(self, head: bytes) -> None:
        """Refuse a source whose first bytes show it is not a media file (UnsupportedMedia with the reason).

        Parameters:
          head: the source's first ``safety.HEAD_BYTES`` bytes (a ranged GET
            of the object); call this before reading a source by URL, whose
            bytes this processor never sees otherwise.
        """
        sniff_head(head)

    def probe(self, source: Source) -> MediaInfo:
        """Duration, displayed frame size, audio, sample rate, frame rate and start of ``source``.

        Parameters:
          source: the local source file, or a presigned URL of it (untrusted).
        """
        return probe_media(source, timeout_seconds=self.timeout_seconds, access=self.remote)

    def reads_by_range(self, info: MediaInfo) -> bool:
        """Whether parts should read this source by URL (True) or from a copy downloaded once per machine.

        Parameters:
          info: the source's probe (see ``adapters.media.reading`` for the measurements).
        """
        return reads_by_range(info)

    def transcode_hls(
        self,
        source: Source,
        out_dir: Path,
        info: MediaInfo,
        ladder: Sequence[Rendition],
        on_progress: Callable[[float], None],
        storyboard_dir: Path | None = None,
        slides_dir: Path | None = None,
    ) -> Path:
        """Encode every rendition of ``ladder`` in one ffmpeg run; return ``out_dir/master.m3u8``.

        Parameters:
          source: the local source file or a presigned URL of it, already probed.
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
        if not is_url(source):
            sniff(Path(source))
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
        args = ladder_command(self.ffmpeg, source, ladder, video=self.video, audio=audio, tiles=tiles,
                              access=self.remote, slides=slides)
        progress = ProgressFraction(info.duration_seconds, on_progress)

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

    def encode_part(
        self,
        source: Source,
        out_dir: Path,
        info: MediaInfo,
        ladder: Sequence[Rendition],
        part: VideoPart,
        on_progress: Callable[[float], None],
        tiles_dir: Path | None = None,
        slides_dir: Path | None = None,
    ) -> ManifestJson:
        """Encode one part of a long video for every rendition (video only); return its manifest as JSON.

        Parameters:
          source: the local source file, or a presigned URL of it.
          out_dir: where ``<rendition>/<attempt>/seg_NNNNN.ts`` go, numbered
            from ``part.first_segment``; nothing else is left there.
          info: the whole source's probe (``probe``).
          ladder: the renditions, as planned for the whole video.
          part: the range of source time (its start on the segment grid)
            and the attempt folder.
          on_progress: called with the share of the part encoded, never
            decreasing, ending with 1.0.
          tiles_dir: where the part's storyboard tiles ``tile_NNNNN.png`` go
            (numbered on the whole video's storyboard); None for none.
          slides_dir: where the candidate slide changes of the part's range go (``candidates.json`` and
            their images, times on the whole video's timeline); None for none.

        The manifest (``manifest.PartManifest``'s JSON) lists each
        rendition's segments with durations and sizes, CODECS and
        RESOLUTION, the tiles and the first and last timestamps;
        ``stitch_hls`` and ``stitch_storyboard`` need nothing else.
        """
        check_names(ladder)
        watcher = None
        if slides_dir is not None:
            watcher = SlideWatcher(slides_dir, self.headings, offset_seconds=part.start_seconds)
        return encode_part(self.ffmpeg, source, out_dir, info, ladder, part, video=self.video,
                           timeout_seconds=self.timeout_seconds, access=self.remote, on_progress=on_progress,
                           tiles_dir=tiles_dir, watcher=watcher).to_json()  # fmt: skip

    def encode_audio(
        self,
        source: Source,
        out_dir: Path,
        info: MediaInfo,
        ladder: Sequence[Rendition],
        attempt: str,
        on_progress: Callable[[float], None],
    ) -> ManifestJson | None:
        """Encode the shared audio group of a video in parts, once over the whole source; its manifest as JSON, None when silent.

        Parameters:
          source: the local source file, or a presigned URL of it.
          out_dir: where ``audio/<attempt>/seg_NNNNN.ts`` go.
          info: the source's probe.
          ladder: the renditions (the highest audio rate among them is the group's).
          attempt: the folder scoping the segments, the parts' attempt.
          on_progress: called with the share encoded (after the loudness
            measurement), never decreasing, ending with 1.0.

        The loudness is measured and normalised as in ``transcode_hls``;
        only the audio stream is decoded.
        """
        if not info.has_audio:
            on_progress(1.0)
            return None
        audio = self._audio(source, info, ladder)
        return encode_audio(self.ffmpeg, source, out_dir, info, audio, attempt,
                            video=self.video, timeout_seconds=self.timeout_seconds,
                            access=self.remote, on_progress=on_progress).to_json()  # fmt: skip

    def stitch_hls(
        self,
        hls_dir: Path,
        ladder: Sequence[Rendition],
        parts: Sequence[Mapping[str, Any]],
        audio: Mapping[str, Any] | None,
    ) -> Path:
        """Write the playlists and the master of a video encoded in parts; return ``hls_dir/master.m3u8``.

        Parameters:
          hls_dir: the local folder mirroring the video's ``hls/``; only
            playlists are written (the segments are already in storage).
          ladder: the renditions, in the order the master lists them.
          parts: every part's manifest, as ``encode_part`` returned it.
          audio: the audio group's manifest as ``encode_audio`` returned it,
            None for a silent video.

        Raises ValueError when the manifests are not one attempt's complete set.
        """
        return stitch_hls(hls_dir, ladder, [PartManifest.from_json(part) for part in parts],
                          AudioManifest.from_json(audio) if audio is not None else None)

    def stitch_storyboard(self, parts: Sequence[Mapping[str, Any]], tiles_dir: Path, storyboard_dir: Path,
                          info: MediaInfo) -> Path:
        """Lay out every part's tiles as the single pass would; return ``storyboard_dir/storyboard.vtt``.

        Parameters:
          parts: every part's manifest, as ``encode_part`` returned it.
          tiles_dir: the local folder holding every part's tiles, by their manifest names.
          storyboard_dir: where ``storyboard.vtt`` and ``storyboard/`` go.
          info: the source's probe (the cues cover its duration).
        """
        return stitch_storyboard([PartManifest.from_json(part) for part in parts], tiles_dir, storyboard_dir,
                                 duration_seconds=info.duration_seconds)

    def _audio(self, source: Source, info: MediaInfo, ladder: Sequence[Rendition]) -> AudioEncoding:
        return shared_audio(self.ffmpeg, source, info, ladder, target_lufs=self.loudness_target_lufs,
                            timeout_seconds=self.timeout_seconds, access=self.remote)

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

    def thumbnail(self, source: Source, dest: Path, at_seconds: float) -> None:
        """Write one JPEG frame of ``source``, at most 1280 px wide, to ``dest``.

        Parameters:
          source: the local source file, or a presigned URL of it (untrusted).
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

    def _grab(self, source: Source, dest: Path, at: float) -> None:
        args = thumbnail_command(self.ffmpeg, source, dest, at_seconds=at, threads=self.video.threads,
                                 access=self.remote)
        run_ffmpeg(args, action="take a thumbnail of the source", timeout_seconds=self.timeout_seconds)


def _non_empty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0
