"""The whole video job with today's media output against the same job with the fixed ladder it replaced.

Both run ProcessVideoJobHandler with the real adapters (S3 on moto's server
over HTTP, PyAV probe, SQLite row, Redis lock and progress); the baseline's
media processor encodes the fixed-rate ladder (one AAC per rendition, no
loudness pass, no storyboard) instead. Used by ``bench/quality.py``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import insert, update

from adapters.media import FfmpegMediaProcessor
from adapters.media.ladder import MASTER_PLAYLIST, fixed_rate_ladder_command
from bench.common import interleaved, summary
from bootstrap import Container
from domain.entities import VideoJob
from settings import Settings
from tests.services import AWS_ENV, MotoServer


class FixedLadderProcessor(FfmpegMediaProcessor):
    """The media processor as it was: the fixed-rate ladder, no loudness pass, no storyboard."""

    def transcode_hls(self, source, out_dir, info, ladder, on_progress, storyboard_dir=None, slides_dir=None):
        out_dir.mkdir(parents=True, exist_ok=True)
        args = fixed_rate_ladder_command(self.ffmpeg, source, ladder, has_audio=info.has_audio,
                                         segment_seconds=self.video.segment_seconds, preset=self.video.preset,
                                         threads=self.video.threads)
        subprocess.run(args, cwd=out_dir, check=True, stdout=subprocess.DEVNULL)
        return out_dir / MASTER_PLAYLIST


@contextmanager
def job_runner(source: Path, work: Path, *, redis_url: str = "redis://127.0.0.1:6379/2", video_id: int = 1,
               **settings: object):
    """The real adapters around one uploaded video (S3 on moto's server, SQLite, Redis): yields the
    container and ``job(handler)``, which runs the whole job on a fresh upload of ``source``.

    Parameters:
      source: the local source uploaded once to the bucket.
      work: a folder for the database and the jobs' temp dirs (created, then removed).
      redis_url: a Redis database the bench may write to.
      video_id: the video's id (its lock and progress keys in Redis).
      settings: more Settings fields (``video_crf=...``).
    """
    os.environ.update(AWS_ENV)
    work.mkdir(parents=True, exist_ok=True)
    moto = MotoServer().start()
    try:
        container = Container(Settings(
            _env_file=None, broker="stub", s3_endpoint_url=moto.url, sqs_endpoint_url=moto.url, s3_bucket="bench",
            database_url=f"sqlite:///{work / 'bench.db'}", redis_url=redis_url, create_tables=True,
            work_dir=str(work), **settings,
        ))
        container.s3.create_bucket(Bucket="bench")
        key = f"uploads/1/{video_id}/source.mp4"
        container.s3.upload_file(str(source), "bench", key)
        videos = container.tables["video"]
        now = datetime.now(timezone.utc)
        with container.database.begin() as connection:
            connection.execute(insert(videos).values(id=video_id, file_key=key, status="UPLOADED",
                                                     created_at=now, updated_at=now))

        def job(handler) -> None:
            with container.database.begin() as connection:  # a fresh upload, as the API leaves it
                connection.execute(update(videos).values(status="UPLOADED"))
            handler.handle(VideoJob(video_id=video_id, file_key=key, tenant_id=1))

        yield container, job
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)


def compare_jobs(source: Path, *, runs: int, crf: int, redis_url: str = "redis://127.0.0.1:6379/2") -> None:
    """Print the median wall time of the whole job, today's output against the fixed ladder's.

    Parameters:
      source: the local source uploaded once to the bucket.
      runs: runs of each, interleaved.
      crf: today's rate factor.
      redis_url: a Redis database the bench may write to.
    """
    work = Path(tempfile.mkdtemp(prefix="bench-ladder-job-"))
    with job_runner(source, work, redis_url=redis_url, video_crf=crf) as (container, job):
        new_handler = container.handler("video")
        fixed = FixedLadderProcessor(container.media.ffmpeg, timeout_seconds=7200,
                                     preset=container.settings.x264_preset)
        old_handler = type(new_handler)(jobs=new_handler.jobs, lock=new_handler.lock,
                                        progress=new_handler.progress, storage=new_handler.storage, media=fixed,
                                        limits=new_handler.limits, workdir=new_handler.workdir)
        samples = interleaved(runs, fixed_ladder=lambda: job(old_handler), capped_crf=lambda: job(new_handler))
    ratio = statistics.median(samples["capped_crf"]) / statistics.median(samples["fixed_ladder"])
    print(f"\n## Whole job, lecture source ({source.stat().st_size / 1e6:.1f} MB, S3 on moto)\n")
    print(f"fixed ladder  {summary(samples['fixed_ladder'])}")
    print(f"capped CRF    {summary(samples['capped_crf'])}")
    print(f"ratio (capped CRF / fixed ladder, medians): {ratio:.3f}   goal <= 1.00")
