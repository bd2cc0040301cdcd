"""Shared helpers of the bench scripts: options with a smoke mode, cached sources, a whole video job, timing.

Every script of ``bench/`` parses its command line with ``parse_options``, which
adds ``--smoke``: the script's real code path on a tiny input (a few seconds of
240p, one run), so that ``tests/integration/test_bench_smoke.py`` runs it in
seconds and a rename breaks a test rather than a benchmark.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update

from adapters.media import find_ffmpeg
from bootstrap import Container
from domain.flow import JobHandler
from domain.video.model import VideoJob
from settings import Settings
from tests.services import AWS_ENV, MotoServer

# The Redis database the benches write locks and progress to (the tests use database 1); never flushed.
REDIS_URL = "redis://127.0.0.1:6379/2"
SMOKE_HELP = "a tiny input and one run, to check that the script still works (the figures mean nothing)"


def parse_options(parser: argparse.ArgumentParser, smoke: Mapping[str, Any],
                  argv: list[str] | None = None) -> argparse.Namespace:
    """The script's options; with ``--smoke``, ``smoke`` replaces their defaults (options given still win).

    Parameters:
      parser: the script's parser, without ``--smoke``.
      smoke: option name (as in the namespace) -> its value in a smoke run; every name must be an option.
      argv: the arguments (default: the command line).
    """
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    options = parser.parse_args(argv)
    unknown = set(smoke) - set(vars(options))
    if unknown:  # checked on every run, so that renaming an option breaks the smoke test at once
        raise ValueError(f"smoke values for options the script does not have: {', '.join(sorted(unknown))}")
    if options.smoke:
        parser.set_defaults(**smoke)
        options = parser.parse_args(argv)
    return options


def cached(path: Path, write: Callable[[Path], object]) -> Path:
    """``path``, written by ``write(temporary path)`` unless it exists; two runs at once never see half a file.

    Parameters:
      path: where the file is kept between runs.
      write: writes the file at the path it is given (in the same folder, renamed into place).
    """
    if path.exists():
        return path
    partial = path.with_name(f".{path.stem}-{os.getpid()}-{time.monotonic_ns()}{path.suffix}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def make_source(path: Path, *, seconds: float = 60, height: int = 1080) -> Path:
    """A synthetic source with motion and audio (testsrc2 + sine), encoded once, cached on disk.

    Parameters:
      path: where it is cached.
      seconds: its length.
      height: its height (16:9).
    """
    width = height * 16 // 9 // 2 * 2

    def write(target: Path) -> None:
        subprocess.run(
            [find_ffmpeg(None), "-nostdin", "-y", "-hide_banner", "-loglevel", "error",
             "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
             "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-shortest", "-f", "mp4", str(target)],
            check=True,
        )

    return cached(path, write)


def source_path(seconds: float, height: int) -> Path:
    """Where ``make_source`` keeps a source of ``seconds`` and ``height`` (the system temp dir)."""
    return Path(tempfile.gettempdir()) / f"bench-source-{seconds:g}s-{height}p.mp4"


def wait_until_done(done: Callable[[], int], total: int, what: str, *, stall_seconds: float = 60,
                    poll_seconds: float = 0.01) -> None:
    """Return once ``done()`` reaches ``total``; RuntimeError when it has not grown for ``stall_seconds``.

    A bench whose jobs stop finishing is broken, not slow: it fails rather than waits forever.

    Parameters:
      done: how many jobs are done so far.
      total: how many there are.
      what: the jobs, as the error names them.
      stall_seconds: how long without a job done is a stall.
      poll_seconds: how often ``done`` is asked.
    """
    last, progressed = 0, time.perf_counter()
    while (finished := done()) < total:
        if finished > last:
            last, progressed = finished, time.perf_counter()
        elif time.perf_counter() - progressed > stall_seconds:
            raise RuntimeError(f"{finished} of {total} {what} done, none in the last {stall_seconds:g} s")
        time.sleep(poll_seconds)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def timed(function: Callable[[], object]) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def summary(samples: list[float]) -> str:
    return (f"median {statistics.median(samples):.2f} s (min {min(samples):.2f}, max {max(samples):.2f}, "
            f"n={len(samples)})")


def interleaved(runs: int, **variants: Callable[[], object]) -> dict[str, list[float]]:
    """Run the variants in turn, ``runs`` times each, so that drift on a shared machine hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, function in variants.items():
            samples[name].append(timed(function))
    return samples


@dataclass
class VideoJobBench:
    """One uploaded video whose whole job runs again and again on the real adapters.

    Parameters:
      container: the worker's adapters (S3 on moto's server over HTTP, the row in SQLite, lock and progress in Redis).
      job: the job's message (a random id, so that two runs at once take different locks).
    """

    container: Container
    job: VideoJob

    def run(self, handler: JobHandler | None = None) -> None:
        """The whole job from a fresh upload, as the API leaves it, by ``handler`` (default: the worker's own)."""
        videos = self.container.tables["video"]
        with self.container.database.begin() as connection:
            connection.execute(update(videos).where(videos.c.id == self.job.video_id).values(status="UPLOADED"))
        (handler or self.container.handler("video")).handle(self.job)


def bench_settings(work: Path, s3_endpoint: str, **overrides: Any) -> Settings:
    """The worker's settings for a bench job: stub broker, S3 at ``s3_endpoint``, SQLite in ``work``, the bench's Redis.

    Videos take one pass, downloaded, as the recorded figures were measured (parts: ``bench/parts.py``).

    Parameters:
      work: a private folder (the database and the jobs' temporary folders).
      s3_endpoint: moto's server.
      **overrides: other settings (``hls_ladder``, ``video_crf``...).
    """
    return Settings(
        _env_file=None, broker="stub", s3_endpoint_url=s3_endpoint, sqs_endpoint_url=s3_endpoint, s3_bucket="bench",
        database_url=f"sqlite:///{work / 'bench.db'}", redis_url=REDIS_URL, create_tables=True, work_dir=str(work),
        **{"video_parts_min_seconds": None, **overrides},
    )


def add_uploaded_video(container: Container, file_key: str) -> VideoJob:
    """Insert an UPLOADED row for ``file_key`` under a random id (the source is in the bucket); its job's message.

    Parameters:
      container: the worker's adapters.
      file_key: the source's key in the bucket.
    """
    video_id = random.randrange(10**6, 10**9)
    now = datetime.now(timezone.utc)
    with container.database.begin() as connection:
        connection.execute(insert(container.tables["video"]).values(
            id=video_id, file_key=file_key, status="UPLOADED", created_at=now, updated_at=now))
    return VideoJob(video_id=video_id, file_key=file_key, tenant_id=1)


@contextmanager
def video_job_bench(source: Path, **settings: Any) -> Iterator[VideoJobBench]:
    """``source`` uploaded to a bucket on a moto server of its own, with its row, ready to run; all removed afterwards.

    Parameters:
      source: the local source file.
      **settings: settings other than ``bench_settings``' (``hls_ladder``, ``video_crf``...).
    """
    os.environ.update(AWS_ENV)
    work = Path(tempfile.mkdtemp(prefix="bench-video-job-"))
    moto = MotoServer().start()
    try:
        container = Container(bench_settings(work, moto.url, **settings))
        container.s3.create_bucket(Bucket="bench")
        key = f"uploads/1/{uuid.uuid4().hex}/source.mp4"
        container.s3.upload_file(str(source), "bench", key)
        yield VideoJobBench(container, add_uploaded_video(container, key))
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
