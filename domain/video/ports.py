"""The ports only the video kind needs: the media processor (ffmpeg in production) and, for
long videos in parts, the parts queue, the parts board and the source's access."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from domain.video.model import MediaInfo, Rendition, VideoPart

#: A source to read: a local file, or a presigned URL of the object (read by range requests).
Source = Path | str
#: What an encode of a part or of the audio wrote, as plain JSON (the media processor's own shape).
Manifest = dict[str, Any]


class MediaProcessor(Protocol):
    """ffmpeg, or anything that can probe, transcode to HLS and take a thumbnail."""

    def sniff(self, head: bytes) -> None:
        """Raise UnsupportedMedia when a source's first bytes show it is no media file
        (for a source read by URL, whose bytes the processor never sees otherwise)."""
        ...

    def probe(self, source: Source) -> MediaInfo: ...

    def reads_by_range(self, info: MediaInfo) -> bool:
        """Whether parts of a source of this container can be read by range requests, or the
        whole file should be on the machine first."""
        ...

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
        """Write ``out_dir/master.m3u8`` and one folder per rendition; return the master path.

        With ``storyboard_dir``, also ``storyboard_dir/storyboard.vtt`` and its sprites (CONTRACT 4a).
        With ``slides_dir``, also the candidate slide changes found in the same pass:
        ``slides_dir/candidates.json`` (``domain.video.chapters.dump_candidates``) and their images beside it.
        """
        ...

    def encode_part(self, source: Source, out_dir: Path, info: MediaInfo, ladder: Sequence[Rendition],
                    part: VideoPart, on_progress: Callable[[float], None], tiles_dir: Path | None = None,
                    slides_dir: Path | None = None) -> Manifest:
        """Encode one part for every rendition (``out_dir/<rendition>/<attempt>/seg_NNNNN.ts``), its
        storyboard tiles (into ``tiles_dir``) and its candidate slide changes (into ``slides_dir``, as
        ``transcode_hls`` does, on the whole video's timeline); return its manifest."""
        ...

    def encode_audio(self, source: Source, out_dir: Path, info: MediaInfo, ladder: Sequence[Rendition],
                     attempt: str, on_progress: Callable[[float], None]) -> Manifest | None:
        """Encode the shared audio group over the whole source (``out_dir/audio/<attempt>/...``);
        return its manifest, None for a silent source."""
        ...

    def stitch_hls(self, hls_dir: Path, ladder: Sequence[Rendition], parts: Sequence[Manifest],
                   audio: Manifest | None) -> Path:
        """Write every playlist and the master of a video in parts from the manifests; return the master."""
        ...

    def stitch_storyboard(self, parts: Sequence[Manifest], tiles_dir: Path, storyboard_dir: Path,
                          info: MediaInfo) -> Path:
        """Lay out every part's tiles (in ``tiles_dir``) as one pass would; return the storyboard's WebVTT."""
        ...

    def thumbnail(self, source: Source, dest: Path, at_seconds: float) -> None: ...

    def start_seconds(self, segment: Path) -> float:
        """When a media segment's first frame is presented (its first timestamp), in seconds."""
        ...


class PartsQueue(Protocol):
    """Where a fan-out's messages go (the worker's own parts queue)."""

    def send_pieces(self, video_id: int, tenant_id: int | None, attempt: str, pieces: Sequence[str]) -> None: ...

    def check(self, video_id: int, tenant_id: int | None, attempt: str, *, delay_seconds: float = 0,
              watch: dict[str, Any] | None = None) -> None:
        """Look at the fan-out (now, or after ``delay_seconds``); ``watch`` makes it the delayed check
        that sends itself again until the video is finished or failed."""
        ...


class PartsBoard(Protocol):
    """What people (and the progress percent) see of a fan-out: each piece's state, worker, seconds."""

    def start(self, key: str, attempt: str, pieces: Mapping[str, str]) -> None:
        """A new fan-out: every piece (its name -> how people name it) queued."""
        ...

    def record(self, key: str, attempt: str, piece: str, state: str, *, worker: str = "", seconds: float = 0.0,
               reason: str = "") -> dict[str, float]:
        """Write one piece's entry; return the source seconds each piece of ``attempt`` has encoded."""
        ...


class SourceAccess(Protocol):
    """How a piece reads the source: by URL, or from a copy kept on the machine for the attempt."""

    def open(self, key: str, attempt: str, *, by_range: bool) -> Source: ...

    def forget(self, attempt: str) -> None:
        """Remove this machine's copy for ``attempt``, if any."""
        ...
