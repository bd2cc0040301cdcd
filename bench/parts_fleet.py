"""Parts across workers: the lecture READY sooner with two pinned workers, a 2-hour lecture's critical path
predicted from measured parts, and what a killed worker costs - in one run.

Every run is the real ``dramatiq tasks.video tasks.ai`` command on moto's SQS/S3, PostgreSQL and Redis,
each worker process pinned to its own core with ``taskset`` (one core: a small dyno), one thread:

- scale-out: time from the API's message to READY of the lecture (``bench/sources.py``, ``--seconds``
  long, 1080p) with one pinned worker and with two, parts on and parts off. Goal: >= 1.8x sooner with
  two workers with parts, and about 1.0x without them (one video is one worker's job);
- the critical path: each piece's time on one core (from the parts board: its first report to done),
  the fan-out and the stitching, scaled to a 2-hour lecture (120 parts of ``--part`` s and the audio of
  the whole source), then the pieces dealt to 1, 10 and 50 one-core workers as the queue hands them
  out. Goal: 10 workers <= 0.15x of one. A prediction from measured parts, not a 2-hour run;
- interrupted: one worker killed (SIGKILL to its whole process group) when half the parts are done,
  then a new one: CPU seconds to READY (every worker process and its ffmpeg children, sampled from
  /proc) against the undisturbed run of parts on one worker. Goal <= 1.2x.

    .venv/bin/python bench/parts_fleet.py [--seconds 600] [--part 60] [--predict-hours 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis as redis_lib  # noqa: E402
from sqlalchemy import select  # noqa: E402

from adapters.db import connect_database  # noqa: E402
from adapters.sqs.publisher import video_body  # noqa: E402
from bench.common import load_average, parse_options, wait_until_done  # noqa: E402
from bench.sources import lecture  # noqa: E402
from domain.video.parts import AUDIO_PIECE, sending_order  # noqa: E402
from tests.conftest import insert_video  # noqa: E402
from tests.e2e.stack import Stack, WorkerProcess  # noqa: E402
from tests.services import AWS_ENV, POSTGRES_URL, REDIS_URL, MotoServer, fresh_tables  # noqa: E402

SMOKE = {"seconds": 24.0, "part": 6, "height": 240, "segment": 2}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class GroupCpu:
    """CPU seconds of every process in some process groups (a worker, its processes, their ffmpeg),
    sampled from /proc every ``interval`` seconds: a killed process counts up to its last sample."""

    def __init__(self, interval: float = 0.2) -> None:
        self.groups: set[int] = set()
        self.seen: dict[int, float] = {}
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch(self, worker: WorkerProcess) -> None:
        self.groups.add(worker.process.pid)  # started with start_new_session: its pid is its group

    def seconds(self) -> float:
        self._sample()
        return sum(self.seen.values())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.seconds()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[2]) in self.groups:  # pgrp
                self.seen[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Fleet:
    """The stack (moto, PostgreSQL, Redis) and one lecture uploaded per run.

    Parameters:
      source: the lecture.
      work: a private folder (the workers' logs).
      env: the workers' settings beside the stack's own.
    """

    def __init__(self, source: Path, work: Path, env: dict[str, str]) -> None:
        self.source, self.work, self.env = source, work, env
        self.moto = MotoServer().start()
        self.database = connect_database(POSTGRES_URL)
        self.tables = fresh_tables()
        self.tables.create(self.database)
        self.redis = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
        self.logs = 0

    def close(self) -> None:
        self.tables.metadata.drop_all(self.database)
        self.database.dispose()
        self.moto.stop()

    def start(self, stack: Stack, cpu: int, **overrides: str) -> WorkerProcess:
        self.logs += 1
        return WorkerProcess(stack.env(**{**self.env, **overrides}), self.work / f"worker-{self.logs}.log",
                             processes=1, threads=1, cpus=str(cpu))

    def video(self, stack: Stack) -> int:
        video_id = random.randrange(10**6, 10**9)
        key = f"uploads/7/{video_id}/lecture.mp4"
        stack.upload(self.source, key)
        insert_video(self.database, self.tables["video"], video_id, key)
        return video_id

    def status(self, video_id: int) -> str:
        videos = self.tables["video"]
        with self.database.connect() as connection:
            return connection.execute(select(videos.c.status).where(videos.c.id == video_id)).scalar()

    def board(self, video_id: int) -> dict[str, dict]:
        return {piece: json.loads(entry) for piece, entry in self.redis.hgetall(f"parts:video:{video_id}").items()}

    def done(self, video_id: int) -> int:
        return sum(entry["state"] == "done" for entry in self.board(video_id).values())

    def ready(self, video_id: int, workers: list[WorkerProcess]) -> None:
        def finished() -> int:
            for worker in workers:
                if worker.process.poll() is not None:
                    raise RuntimeError(f"a worker exited; its log ends with:\n{worker.output()[-3000:]}")
            status = self.status(video_id)
            if status == "FAILED":
                raise RuntimeError(f"video {video_id} FAILED")
            return int(status == "READY")

        wait_until_done(finished, 1, "lecture", stall_seconds=1800, poll_seconds=0.2)

    def run(self, *, workers: int, parts: bool) -> tuple[float, int]:
        """Seconds from the API's message to READY with ``workers`` pinned workers; the video's id."""
        stack = Stack(self.moto, self.database, self.tables)
        overrides = {} if parts else {"VIDEO_PARTS_MIN_SECONDS": ""}
        started = [self.start(stack, cpu % (os.cpu_count() or 1), **overrides) for cpu in range(workers)]
        try:
            time.sleep(3)  # the workers are up before the message is sent
            video_id = self.video(stack)
            began = time.perf_counter()
            stack.send(stack.video_queue, video_body(video_id, f"uploads/7/{video_id}/lecture.mp4", 7))
            self.ready(video_id, started)
            return time.perf_counter() - began, video_id
        finally:
            for worker in started:
                worker.terminate()

    def interrupted(self) -> tuple[float, float]:
        """CPU seconds to READY when the only worker is killed with half the parts done, then replaced;
        and of the same run undisturbed."""
        results = []
        for kill in (False, True):
            stack = Stack(self.moto, self.database, self.tables)
            cpu = GroupCpu()
            worker = self.start(stack, 0)
            cpu.watch(worker)
            time.sleep(3)
            video_id = self.video(stack)
            stack.send(stack.video_queue, video_body(video_id, f"uploads/7/{video_id}/lecture.mp4", 7))
            workers = [worker]
            if kill:
                def half_done() -> int:
                    board = self.board(video_id)
                    return int(bool(board) and self.done(video_id) >= len(board) // 2)

                wait_until_done(half_done, 1, "half the pieces", stall_seconds=1800, poll_seconds=0.2)
                worker.kill()
                worker = self.start(stack, 0)
                cpu.watch(worker)
                workers = [worker]
            self.ready(video_id, workers)
            worker.terminate()
            results.append(cpu.stop())
        return results[0], results[1]


def critical_path(fleet: Fleet, video_id: int, source_seconds: float, part_seconds: int, hours: float,
                  workers: int) -> float:
    """Seconds to READY of a ``hours`` lecture on ``workers`` one-core workers, from the pieces measured
    in the run of ``video_id`` (one core): pieces dealt in the order the queue hands them out."""
    board = fleet.board(video_id)
    seconds = {piece: (datetime.fromisoformat(e["updated_at"]) - datetime.fromisoformat(e["started_at"]))
               .total_seconds() for piece, e in board.items() if e.get("started_at")}
    part = statistics.median(v for k, v in seconds.items() if k != AUDIO_PIECE)
    scale = hours * 3600 / source_seconds
    audio = seconds.get(AUDIO_PIECE, 0.0) * scale
    parts = math.ceil(hours * 3600 / part_seconds)
    busy = [0.0] * workers
    for piece in sending_order(["a part"] * parts):  # as the fan-out sends them; only audio or not matters
        length = audio if piece == AUDIO_PIECE else part
        slot = busy.index(min(busy))
        busy[slot] += length
    fixed = fan_out_and_stitch(fleet, video_id, parts / max(len(board) - 1, 1))
    return fixed + max(busy)


def fan_out_and_stitch(fleet: Fleet, video_id: int, stitch_scale: float) -> float:
    """The fan-out's seconds (the row's mark_processing to the first piece's start) and the stitching's
    (the last piece done to READY), the latter scaled with the number of parts."""
    board = fleet.board(video_id).values()
    videos = fleet.tables["video"]
    with fleet.database.connect() as connection:
        row = connection.execute(select(videos.c.processing_started_at, videos.c.updated_at)
                                 .where(videos.c.id == video_id)).one()
    first = min(datetime.fromisoformat(e["started_at"]) for e in board if e.get("started_at"))
    last = max(datetime.fromisoformat(e["updated_at"]) for e in board)
    return (first - row.processing_started_at).total_seconds() + (row.updated_at - last).total_seconds() * stitch_scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="the lecture's length")
    parser.add_argument("--part", type=int, default=60, help="VIDEO_PART_SECONDS")
    parser.add_argument("--segment", type=int, default=6, help="HLS_SEGMENT_SECONDS")
    parser.add_argument("--height", type=int, default=1080, help="the lecture's height")
    parser.add_argument("--predict-hours", type=float, default=2.0, help="the lecture whose critical path is predicted")
    options = parse_options(parser, SMOKE)
    os.environ.update(AWS_ENV)
    source = lecture(options.seconds, height=options.height)
    env = {"VIDEO_PART_SECONDS": str(options.part), "HLS_SEGMENT_SECONDS": str(options.segment),
           "VIDEO_PARTS_MIN_SECONDS": str(min(300, options.seconds / 2)), "VISIBILITY_TIMEOUT_SECONDS": "30",
           "LOCK_TTL_SECONDS": "20", "HEARTBEAT_SECONDS": "5", "VIDEO_PARTS_CHECK_SECONDS": "30"}
    print(f"a {options.seconds:g} s {options.height}p lecture, parts of {options.part} s; one thread a worker, "
          f"each pinned to a core; {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-parts-fleet-") as work:
        fleet = Fleet(source, Path(work), env)
        try:
            one_whole, _ = fleet.run(workers=1, parts=False)
            two_whole, _ = fleet.run(workers=2, parts=False)
            one_parts, measured = fleet.run(workers=1, parts=True)
            two_parts, _ = fleet.run(workers=2, parts=True)
            print(f"one pass: 1 worker {one_whole:.1f} s, 2 workers {two_whole:.1f} s -> "
                  f"{one_whole / two_whole:.2f}x sooner (about 1.0x expected: one video is one worker's)")
            print(f"parts:    1 worker {one_parts:.1f} s, 2 workers {two_parts:.1f} s -> "
                  f"{one_parts / two_parts:.2f}x sooner (goal >= 1.8x); parts on 1 worker vs one pass: "
                  f"{one_parts / one_whole:.2f}x")
            predicted = {n: critical_path(fleet, measured, options.seconds, options.part, options.predict_hours, n)
                         for n in (1, 10, 50)}
            print(f"predicted from the measured parts, a {options.predict_hours:g}-hour lecture to READY: " + ", ".join(
                f"{n} worker{'s' if n > 1 else ''} {seconds / 60:.1f} min" for n, seconds in predicted.items())
                + f"; 10 workers {predicted[10] / predicted[1]:.3f}x of one (goal <= 0.15x)")
            calm, killed = fleet.interrupted()
            print(f"CPU seconds to READY: undisturbed {calm:.1f}, killed at half the parts and replaced {killed:.1f} "
                  f"-> {killed / calm:.2f}x (goal <= 1.2x)")
        finally:
            fleet.close()


if __name__ == "__main__":
    main()
