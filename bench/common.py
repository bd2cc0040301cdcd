"""Shared helpers of the bench scripts: sources, timing, medians and spread."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from adapters.media import find_ffmpeg


def make_source(path: Path, *, seconds: int = 60, height: int = 1080) -> Path:
    """A synthetic source with motion and audio (testsrc2 + sine), encoded once, cached on disk."""
    if path.exists():
        return path
    width = height * 16 // 9 // 2 * 2
    subprocess.run(
        [find_ffmpeg(None), "-nostdin", "-y", "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )
    return path


def timed(function: Callable[[], object]) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def summary(samples: list[float]) -> str:
    return f"median {statistics.median(samples):.2f} s (min {min(samples):.2f}, max {max(samples):.2f}, n={len(samples)})"


def interleaved(runs: int, **variants: Callable[[], object]) -> dict[str, list[float]]:
    """Run the variants in turn, ``runs`` times each, so that drift on a shared machine hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, function in variants.items():
            samples[name].append(timed(function))
    return samples
