"""Choosing the rate factors: one rung of the ladder at several CRFs, its bytes and VMAF (against the source).

How VIDEO_CRF and the step per halving of the height were chosen
(docs/BENCHMARKS.md): each rung is encoded alone, capped at its rung's rate
as the worker does, at the CRFs asked for, from the generated sources of
``bench/sources.py``; compare with the fixed ladder's VMAF in the
``bench/quality.py`` table.

    .venv/bin/python bench/crf_sweep.py --sources lecture,screen --rungs 360p,720p --crfs 14,16,18
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.media import FfmpegMediaProcessor, find_ffmpeg  # noqa: E402
from adapters.media.encoding import VideoEncoding, rendition_crf  # noqa: E402
from adapters.media.ladder import ladder_command  # noqa: E402
from bench.common import parse_options  # noqa: E402
from bench.measure import folder_bytes, vmaf  # noqa: E402
from bench.sources import SOURCES, add_source_options  # noqa: E402
from settings import parse_ladder  # noqa: E402

SMOKE = {"sources": "screen", "seconds": 2, "height": 240, "ladder": "144p:144:200:64", "rungs": "144p", "crfs": "20"}


def encoding_for(crf: int, height: int) -> VideoEncoding:
    """The encoding whose rendition ``height`` pixels high gets exactly ``crf`` (VIDEO_CRF is the 1080p one's).

    Parameters:
      crf: the rung's own rate factor.
      height: the rung's height.
    """
    # A base outside VIDEO_CRF's 0-51 is fine: only the rung's own rate factor reaches ffmpeg.
    for base in range(-12, 64):
        if rendition_crf(base, height) == crf:
            return VideoEncoding(crf=base)
    raise ValueError(f"no VIDEO_CRF gives a {height}p rendition CRF {crf}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_options(parser, sources="lecture,screen,motion", seconds=60, vmaf_subsample=5)
    parser.add_argument("--rungs", default="360p,720p,1080p", help="some of the ladder's")
    parser.add_argument("--crfs", default="17,19,21,23")
    options = parse_options(parser, SMOKE)
    rungs = {rung.name: rung for rung in parse_ladder(options.ladder)}
    ffmpeg = find_ffmpeg(None)
    media = FfmpegMediaProcessor(ffmpeg, timeout_seconds=7200)
    print(f"| source | rung | CRF | MB | VMAF (n_subsample={options.vmaf_subsample}) |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-crf-") as tmp:
        for name in options.sources.split(","):
            source = SOURCES[name](options.seconds, height=options.height)
            info = media.probe(source)
            for rung_name in options.rungs.split(","):
                rung = rungs[rung_name]
                for crf in map(int, options.crfs.split(",")):
                    out = Path(tmp) / f"{name}-{rung_name}-{crf}"
                    out.mkdir()
                    args = ladder_command(ffmpeg, source, [rung], video=encoding_for(crf, rung.height), audio=None)
                    subprocess.run(args, cwd=out, check=True, stdout=subprocess.DEVNULL)
                    score = vmaf(out / rung_name / "index.m3u8", source, size=(info.width, info.height),
                                 subsample=options.vmaf_subsample)
                    print(f"| {name} | {rung_name} | {crf} | {folder_bytes(out) / 1e6:.2f} | {score:.2f} |", flush=True)
                    shutil.rmtree(out)


if __name__ == "__main__":
    main()
