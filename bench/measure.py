"""Measuring outputs for the quality benchmark: bytes and VMAF against the source (loudness: tests.media_samples)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from adapters.media import find_ffmpeg


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder``.

    Parameters:
      folder: the folder.
    """
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def vmaf(rendition_playlist: Path, source: Path, *, size: tuple[int, int], subsample: int, threads: int = 2) -> float:
    """Mean VMAF of an HLS rendition scaled back to the source's size (bicubic), against the source.

    Parameters:
      rendition_playlist: the rendition's media playlist.
      source: the reference.
      size: the source's width and height.
      subsample: score every n-th frame (1: every frame).
      threads: libvmaf's threads.
    """
    width, height = size
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "vmaf.json"
        graph = (
            f"[0:v]scale={width}:{height}:flags=bicubic,setpts=PTS-STARTPTS[distorted];"
            "[1:v]setpts=PTS-STARTPTS[reference];"
            f"[distorted][reference]libvmaf=log_fmt=json:log_path={log}:n_threads={threads}:n_subsample={subsample}"
        )
        subprocess.run(
            [find_ffmpeg(None), "-nostdin", "-hide_banner", "-loglevel", "error",
             "-i", str(rendition_playlist), "-i", str(source), "-lavfi", graph, "-f", "null", "-"],
            check=True,
        )
        return float(json.loads(log.read_text())["pooled_metrics"]["vmaf"]["mean"])
