"""Locating the ffmpeg executable the worker runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def find_ffmpeg(configured: str | None) -> str:
    """The path of the ffmpeg executable to run.

    Parameters:
      configured: the FFMPEG_BINARY setting; when given it must name an
        existing executable file (no silent fallback, so a typo in the
        deployment is caught at start-up rather than hidden). When None or
        empty: ``ffmpeg`` on PATH, else the static build shipped with the
        ``imageio-ffmpeg`` package.

    Raises RuntimeError when no usable executable is found.
    """
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            raise RuntimeError(f"FFMPEG_BINARY={configured!r} is not an existing executable file")
        return str(path)
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        # Imported lazily: the package is only the last resort.
        import imageio_ffmpeg
    except ImportError as error:
        raise RuntimeError("no ffmpeg found: set FFMPEG_BINARY or put ffmpeg on PATH") from error
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as error:
        raise RuntimeError("no ffmpeg found: set FFMPEG_BINARY or put ffmpeg on PATH") from error
