"""Goal 4: peak RSS of the worker's Python process during a video job, by source size.

Each size runs in a fresh interpreter (peak RSS only grows), which does one
whole job with the real adapters (moto S3 over HTTP, SQLite, Redis) and
reports its own peak RSS and, separately, the largest of its children
(ffmpeg). Sources of about 10 MB, 100 MB and 1 GB are 1080p at a bitrate
chosen for the size.

    .venv/bin/python bench/memory.py [--sizes 10,100,1000] [--seconds 60] [--height 1080]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.media import find_ffmpeg  # noqa: E402
from bench.common import cached, parse_options  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMOKE = {"sizes": "1", "seconds": 2, "height": 240}


def make_sized_source(megabytes: int, seconds: float, height: int) -> Path:
    """A source of about ``megabytes`` (testsrc2 under temporal noise at the bitrate that makes the size), cached.

    Parameters:
      megabytes: the size.
      seconds: the length.
      height: the picture's height (16:9).
    """
    kbps = round(megabytes * 8 * 1024 / seconds)
    width = height * 16 // 9 // 2 * 2

    def write(path: Path) -> None:
        subprocess.run(
            [find_ffmpeg(None), "-nostdin", "-y", "-hide_banner", "-loglevel", "error",
             "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30", "-f", "lavfi", "-i", "anoisesrc=a=0.3",
             # Temporal noise: the encoder really spends the bitrate that makes the size.
             "-vf", "noise=alls=40:allf=t+u", "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
             "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps * 2}k", "-c:a", "aac", "-shortest",
             "-f", "mp4", str(path)],
            check=True,
        )

    # The 60 s 1080p sources keep the names they have always had.
    shape = "" if (seconds, height) == (60, 1080) else f"-{seconds:g}s-{height}p"
    return cached(Path(tempfile.gettempdir()) / f"bench-source-{megabytes}MB{shape}.mp4", write)


def one_job(key: str, endpoint: str) -> None:
    """Run in a child interpreter: one whole job, then print peak RSS figures as JSON.

    Its only children are the job's ffmpeg runs, so RUSAGE_CHILDREN is ffmpeg's peak.
    """
    from bench.common import add_uploaded_video, bench_settings
    from bootstrap import Container

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as work:
        container = Container(bench_settings(Path(work), endpoint))
        job = add_uploaded_video(container, key)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        container.handler("video").handle(job)
    print(json.dumps({
        "python_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "python_before_job_mb": before / 1024,
        "largest_child_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="source sizes in MB")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    options = parse_options(parser, SMOKE)
    from tests.services import AWS_ENV, MotoServer

    os.environ.update(AWS_ENV)
    if options.child:
        one_job(options.child, options.endpoint)
        return
    moto = MotoServer().start()
    moto.client("s3").create_bucket(Bucket="bench")
    rows = []
    try:
        results = []
        for megabytes in map(int, options.sizes.split(",")):
            source = make_sized_source(megabytes, options.seconds, options.height)
            key = f"uploads/1/{megabytes}/source.mp4"
            moto.client("s3").upload_file(str(source), "bench", key)  # as the API's upload did, not measured
            results.append((source, subprocess.run(
                [sys.executable, "-m", "bench.memory", "--child", key, "--endpoint", moto.url], cwd=ROOT, check=True,
                capture_output=True, text=True).stdout.strip().splitlines()[-1]))
    finally:
        moto.stop()
    for source, out in results:
        figures = json.loads(out)
        rows.append(figures["python_peak_mb"])
        print(f"source {source.stat().st_size / 1024**2:7.0f} MB: Python peak RSS {figures['python_peak_mb']:6.0f} MB "
              f"(before the job {figures['python_before_job_mb']:.0f} MB), "
              f"ffmpeg peak {figures['largest_child_peak_mb']:.0f} MB")
    print(f"spread of the Python peaks: {max(rows) / min(rows):.2f} x (goal: within 1.20 and under 200 MB)")


if __name__ == "__main__":
    main()
