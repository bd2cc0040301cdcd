"""Goal 2: the one-process HLS ladder against one ffmpeg per rendition.

Both encode the same 360p/720p/1080p ladder (libx264 veryfast capped CRF,
AAC, 6 s HLS segments) from the same local 60 s 1080p source; the loop
decodes and scales the source once per rendition (and encodes its audio
each time), the single pass once in all.

    .venv/bin/python bench/single_pass.py [--runs 3] [--seconds 60] [--height 1080]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.media import find_ffmpeg  # noqa: E402
from adapters.media.encoding import AudioEncoding, VideoEncoding  # noqa: E402
from adapters.media.ladder import ladder_command  # noqa: E402
from bench.common import interleaved, make_source, parse_options, source_path, summary  # noqa: E402
from settings import parse_ladder  # noqa: E402

LADDER = "360p:360:800:96,720p:720:2800:128,1080p:1080:5000:128"
SMOKE = {"runs": 1, "seconds": 2, "height": 240, "ladder": "144p:144:200:64,240p:240:400:64"}


def run(args: list[str], cwd: Path) -> None:
    shutil.rmtree(cwd, ignore_errors=True)
    cwd.mkdir(parents=True)
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--ladder", default=LADDER, help="as HLS_LADDER")
    options = parse_options(parser, SMOKE)
    ladder = parse_ladder(options.ladder)
    ffmpeg = find_ffmpeg(None)
    source = make_source(source_path(options.seconds, options.height), seconds=options.seconds, height=options.height)
    video, audio = VideoEncoding(preset="veryfast", segment_seconds=6), AudioEncoding(kbps=128, sample_rate=48000)
    single = ladder_command(ffmpeg, source, ladder, video=video, audio=audio)
    per_rendition = [ladder_command(ffmpeg, source, [rung], video=video, audio=audio) for rung in ladder]

    with tempfile.TemporaryDirectory(prefix="bench-single-pass-") as tmp:
        work = Path(tmp)

        def loop() -> None:
            for index, args in enumerate(per_rendition):
                run(args, work / f"loop-{index}")

        samples = interleaved(options.runs, single_pass=lambda: run(single, work / "single"), per_rendition_loop=loop)
    ratio = statistics.median(samples["per_rendition_loop"]) / statistics.median(samples["single_pass"])
    print(f"source: {options.seconds:g} s {options.height}p, ladder {'/'.join(rung.name for rung in ladder)}, "
          "libx264 veryfast capped CRF")
    print(f"single pass        {summary(samples['single_pass'])}")
    print(f"one per rendition  {summary(samples['per_rendition_loop'])}")
    print(f"speed-up (loop / single pass, medians): {ratio:.3f} x   goal >= 1.15")


if __name__ == "__main__":
    main()
