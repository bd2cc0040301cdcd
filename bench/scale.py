"""Goal 6: throughput with 1, 2 and 4 worker processes on the same queue.

Each run: a fresh queue with N short video jobs already waiting (2 s 640x360
sources, the 360p rung), then ``dramatiq tasks.video tasks.ai --processes P
--threads 1`` drains it; throughput is N / (time until every row is READY).

    .venv/bin/python bench/scale.py [--jobs 24] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from adapters.db import connect_database  # noqa: E402
from adapters.sqs.publisher import video_body  # noqa: E402
from bench.common import parse_options, wait_until_done  # noqa: E402
from tests.conftest import insert_video  # noqa: E402
from tests.e2e.stack import Stack, WorkerProcess  # noqa: E402
from tests.media_samples import make_video  # noqa: E402
from tests.services import AWS_ENV, POSTGRES_URL, MotoServer, fresh_tables  # noqa: E402

SMOKE = {"jobs": 2, "processes": "1"}


def run(moto, engine, tables, source: Path, jobs: int, processes: int, log: Path) -> float:
    stack = Stack(moto, engine, tables)
    first = random.randrange(10**6, 10**9)
    for video_id in range(first, first + jobs):
        key = f"uploads/7/{video_id}/source.mp4"
        stack.upload(source, key)
        insert_video(engine, tables["video"], video_id, key)
        stack.send(stack.video_queue, video_body(video_id, key, 7))
    ids = list(range(first, first + jobs))
    began = time.perf_counter()
    worker = WorkerProcess(stack.env(HLS_LADDER="360p:360:800:96"), log, processes=processes, threads=1)
    videos = tables["video"]

    def ready() -> int:
        if worker.process.poll() is not None:
            raise RuntimeError(f"the worker exited with status {worker.process.returncode}")
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(videos).where(
                videos.c.id.in_(ids), videos.c.status == "READY")).scalar()

    try:
        wait_until_done(ready, jobs, f"video jobs on {processes} process(es)", poll_seconds=0.1)
        return time.perf_counter() - began
    except RuntimeError as error:
        raise RuntimeError(f"{error}; the worker's log ends with:\n{worker.output()[-3000:]}") from None
    finally:
        worker.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--processes", default="1,2,4")
    options = parse_options(parser, SMOKE)
    os.environ.update(AWS_ENV)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        measure(options.jobs, [int(n) for n in options.processes.split(",")], Path(work))


def measure(jobs: int, process_counts: list[int], work: Path) -> None:
    """Print the throughput of each number of worker processes.

    Parameters:
      jobs: video jobs per run.
      process_counts: the numbers of processes, one run each.
      work: a private folder (the source, the workers' logs).
    """
    source = make_video(work / "source.mp4", seconds=2, width=640, height=360)
    moto = MotoServer().start()
    engine = connect_database(POSTGRES_URL)
    tables = fresh_tables()
    tables.create(engine)
    try:
        print(f"{jobs} jobs of a 2 s 640x360 source (360p rung), 1 thread per process, {os.cpu_count()} cores")
        for processes in process_counts:
            seconds = run(moto, engine, tables, source, jobs, processes, work / f"worker-{processes}.log")
            total = jobs / seconds
            print(f"{processes} process(es): {seconds:6.1f} s, {total:5.2f} jobs/s in total, "
                  f"{total / processes:5.2f} jobs/s per process")
    finally:
        tables.metadata.drop_all(engine)
        engine.dispose()
        moto.stop()

if __name__ == "__main__":
    main()
