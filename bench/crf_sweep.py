"""Choosing the rate factors: one rung of the ladder at several CRFs, its bytes and VMAF (scaled back to 1080p).

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

import adapters.media.encoding as encoding_module  # noqa: E402
from adapters.media import find_ffmpeg  # noqa: E402
from adapters.media.encoding import VideoEncoding  # noqa: E402
from adapters.media.ladder import ladder_command  # noqa: E402
from bench.measure import folder_bytes, vmaf  # noqa: E402
from bench.sources import SOURCES  # noqa: E402
from settings import Settings, parse_ladder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", default="lecture,screen,motion")
    parser.add_argument("--rungs", default="360p,720p,1080p")
    parser.add_argument("--crfs", default="17,19,21,23")
    parser.add_argument("--vmaf-subsample", type=int, default=5)
    options = parser.parse_args()
    # The CRF given is the rung's own: no step per halving here.
    encoding_module.CRF_STEP_PER_HALVING = 0
    rungs = {rung.name: rung for rung in parse_ladder(Settings(_env_file=None).hls_ladder)}
    ffmpeg = find_ffmpeg(None)
    work = Path(tempfile.mkdtemp(prefix="bench-crf-"))
    print(f"| source | rung | CRF | MB | VMAF (n_subsample={options.vmaf_subsample}) |\n|---|---|---|---|---|")
    for name in options.sources.split(","):
        source = SOURCES[name]()
        for rung_name in options.rungs.split(","):
            for crf in map(int, options.crfs.split(",")):
                out = work / f"{name}-{rung_name}-{crf}"
                out.mkdir()
                args = ladder_command(ffmpeg, source, [rungs[rung_name]], video=VideoEncoding(crf=crf), audio=None)
                subprocess.run(args, cwd=out, check=True, stdout=subprocess.DEVNULL)
                score = vmaf(out / rung_name / "index.m3u8", source, size=(1920, 1080),
                             subsample=options.vmaf_subsample)
                print(f"| {name} | {rung_name} | {crf} | {folder_bytes(out) / 1e6:.2f} | {score:.2f} |", flush=True)
                shutil.rmtree(out)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
