"""Goal 1: the wall time of a whole video job against bare ffmpeg.

The job: ProcessVideoJobHandler with the real adapters - S3 on moto's server
over HTTP (download, upload with Content-Types), PyAV probe, the one-process
ladder, the thumbnail, the row in SQLite, lock and progress in Redis. The
baseline: the same ladder command run by hand on the same local file.

    .venv/bin/python bench/job_overhead.py [--runs 3] [--seconds 60] [--height 1080]
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

from adapters.media.encoding import AudioEncoding, TileOutput  # noqa: E402
from adapters.media.ladder import ladder_command  # noqa: E402
from adapters.media.loudness import analysis_command, normalisation_filter, parse_summary  # noqa: E402
from bench.common import interleaved, make_source, parse_options, source_path, summary, video_job_bench  # noqa: E402
from settings import Settings  # noqa: E402

SMOKE = {"runs": 1, "seconds": 2, "height": 240, "ladder": "240p:240:400:64"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--ladder", default=Settings.model_fields["hls_ladder"].default, help="as HLS_LADDER")
    options = parse_options(parser, SMOKE)
    source = make_source(source_path(options.seconds, options.height), seconds=options.seconds, height=options.height)
    with tempfile.TemporaryDirectory(prefix="bench-job-") as tmp, \
            video_job_bench(source, hls_ladder=options.ladder) as bench:
        work = Path(tmp)
        settings, media = bench.container.settings, bench.container.media

        # The ffmpeg work of the job, by hand: the loudness measurement, then
        # the ladder with its shared audio and the storyboard's tiles.
        def loudness(filters: str = ""):
            args = analysis_command(media.ffmpeg, source, filters)
            return parse_summary(subprocess.run(args, capture_output=True, text=True, check=True).stderr)

        measure = analysis_command(media.ffmpeg, source)
        gain = normalisation_filter(loudness(), settings.loudness_target_lufs, sample_rate=48000, measure=loudness)
        audio = AudioEncoding(kbps=128, sample_rate=48000, filters=gain)
        bare = ladder_command(media.ffmpeg, source, settings.ladder, video=media.video, audio=audio,
                              tiles=TileOutput(interval_ms=5000, width=160, pattern="tiles/tile_%05d.png"))

        def bare_ffmpeg() -> None:
            out = work / "bare"
            shutil.rmtree(out, ignore_errors=True)
            (out / "tiles").mkdir(parents=True)
            subprocess.run(measure, check=True, capture_output=True)
            subprocess.run(bare, cwd=out, check=True, stdout=subprocess.DEVNULL)

        samples = interleaved(options.runs, whole_job=bench.run, bare_ffmpeg=bare_ffmpeg)
    ratio = statistics.median(samples["whole_job"]) / statistics.median(samples["bare_ffmpeg"])
    print(f"source: {options.seconds:g} s {options.height}p ({source.stat().st_size / 1024**2:.0f} MB), ladder "
          f"{'/'.join(r.name for r in settings.ladder)}, libx264 {settings.x264_preset}")
    print(f"whole job    {summary(samples['whole_job'])}")
    print(f"bare ffmpeg  {summary(samples['bare_ffmpeg'])}")
    print(f"overhead (job / bare ffmpeg, medians): {ratio:.3f}   goal <= 1.10")


if __name__ == "__main__":
    main()
