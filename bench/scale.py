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
from tests.conftest import insert_video  # noqa: E402
from tests.e2e.stack import Stack, WorkerProcess  # noqa: E402
from tests.media_samples import make_video  # noqa: E402
from tests.services import AWS_ENV, POSTGRES_URL, MotoServer, fresh_tables  # noqa: E402


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
    try:
        while True:
            with engine.connect() as connection:
                ready = connection.execute(select(func.count()).select_from(tables["video"]).where(
                    tables["video"].c.id.in_(ids), tables["video"].c.status == "READY")).scalar()
            if ready == jobs:
                return time.perf_counter() - began
            time.sleep(0.1)
    finally:
        worker.terminate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--processes", default="1,2,4")
    options = parser.parse_args()
    os.environ.update(AWS_ENV)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    source = make_video(work / "source.mp4", seconds=2, width=640, height=360)
    moto = MotoServer().start()
    engine = connect_database(POSTGRES_URL)
    tables = fresh_tables()
    tables.create(engine)
    try:
        print(f"{options.jobs} jobs of a 2 s 640x360 source (360p rung), 1 thread per process, {os.cpu_count()} cores")
        for processes in map(int, options.processes.split(",")):
            seconds = run(moto, engine, tables, source, options.jobs, processes, work / f"worker-{processes}.log")
            total = options.jobs / seconds
            print(f"{processes} process(es): {seconds:6.1f} s, {total:5.2f} jobs/s in total, "
                  f"{total / processes:5.2f} jobs/s per process")
    finally:
        tables.metadata.drop_all(engine)
        moto.stop()


if __name__ == "__main__":
    main()
