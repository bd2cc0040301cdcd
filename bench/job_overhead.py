"""Goal 1: the wall time of a whole video job against bare ffmpeg.

The job: ProcessVideoJobHandler with the real adapters - S3 on moto's server
over HTTP (download, upload with Content-Types), PyAV probe, the one-process
ladder, the thumbnail, the row in SQLite, lock and progress in Redis. The
baseline: the same ladder command run by hand on the same local file.

    .venv/bin/python bench/job_overhead.py [--runs 3] [--seconds 60]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, update  # noqa: E402

from adapters.media.encoding import AudioEncoding, TileOutput  # noqa: E402
from adapters.media.ladder import ladder_command  # noqa: E402
from adapters.media.loudness import analysis_command, normalisation_filter, parse_summary  # noqa: E402
from bench.common import interleaved, make_source, summary  # noqa: E402
from bootstrap import Container  # noqa: E402
from domain.video.model import VideoJob  # noqa: E402
from settings import Settings  # noqa: E402
from tests.services import AWS_ENV, MotoServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    options = parser.parse_args()
    import os

    os.environ.update(AWS_ENV)
    work = Path(tempfile.mkdtemp(prefix="bench-job-"))
    source = make_source(Path(tempfile.gettempdir()) / f"bench-source-{options.seconds}s-1080p.mp4",
                         seconds=options.seconds)
    moto = MotoServer().start()
    try:
        settings = Settings(
            broker="stub", s3_endpoint_url=moto.url, sqs_endpoint_url=moto.url, s3_bucket="bench",
            database_url=f"sqlite:///{work / 'bench.db'}", redis_url=options.redis_url, create_tables=True,
            work_dir=str(work),
        )
        container = Container(settings)
        container.s3.create_bucket(Bucket="bench")
        container.s3.upload_file(str(source), "bench", "uploads/1/1/source.mp4")
        videos = container.tables["video"]
        now = datetime.now(timezone.utc)
        with container.database.begin() as connection:
            connection.execute(insert(videos).values(id=1, file_key="uploads/1/1/source.mp4", status="UPLOADED",
                                                     created_at=now, updated_at=now))
        handler = container.handler("video")
        media = container.media
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

        def whole_job() -> None:
            with container.database.begin() as connection:  # a fresh upload, as the API leaves it
                connection.execute(update(videos).values(status="UPLOADED"))
            handler.handle(VideoJob(video_id=1, file_key="uploads/1/1/source.mp4", tenant_id=1))

        def bare_ffmpeg() -> None:
            out = work / "bare"
            shutil.rmtree(out, ignore_errors=True)
            (out / "tiles").mkdir(parents=True)
            subprocess.run(measure, check=True, capture_output=True)
            subprocess.run(bare, cwd=out, check=True, stdout=subprocess.DEVNULL)

        samples = interleaved(options.runs, whole_job=whole_job, bare_ffmpeg=bare_ffmpeg)
        ratio = statistics.median(samples["whole_job"]) / statistics.median(samples["bare_ffmpeg"])
        print(f"source: {options.seconds} s 1080p ({source.stat().st_size / 1024**2:.0f} MB), ladder "
              f"{'/'.join(r.name for r in settings.ladder)}, libx264 {settings.x264_preset}")
        print(f"whole job    {summary(samples['whole_job'])}")
        print(f"bare ffmpeg  {summary(samples['bare_ffmpeg'])}")
        print(f"overhead (job / bare ffmpeg, medians): {ratio:.3f}   goal <= 1.10")
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
