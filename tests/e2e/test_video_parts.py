"""Long videos in parts (CONTRACT 4b) through the real `dramatiq tasks.video tasks.ai` workers on moto's SQS/S3.

The settings are scaled down (2 s segments, 6 s parts, parted from 10 s) so a 24 s source makes four
parts and the audio piece; everything else is the production path.
"""

from __future__ import annotations

import io
import itertools
import random
import re
import time

import av
import pytest

from adapters.sqs.publisher import video_body
from tests.conftest import insert_video
from tests.e2e.stack import TransitionLog
from tests.media_samples import make_video

pytestmark = pytest.mark.e2e
ids = itertools.count(random.randrange(10**6, 10**9))
PARTS = {"HLS_SEGMENT_SECONDS": "2", "VIDEO_PART_SECONDS": "6", "VIDEO_PARTS_MIN_SECONDS": "10",
         "VIDEO_PARTS_CHECK_SECONDS": "2", "VIDEO_PARTS_STALL_SECONDS": "20"}
SECONDS, FPS = 24, 25


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    """24 s, 640x360 at 25 fps with audio: four parts of 6 s and the audio piece."""
    return make_video(tmp_path_factory.mktemp("parts") / "lecture.mp4", seconds=SECONDS, width=640, height=360)


def new_video(stack, path, *, tenant_id=7):
    video_id = next(ids)
    key = f"uploads/{tenant_id}/{video_id}/lecture.mp4"
    stack.upload(path, key)
    insert_video(stack.database, stack.tables["video"], video_id, key, tenant_id=tenant_id)
    return video_id, key


def keys(stack, prefix):
    pages = stack.s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def text(stack, key):
    return stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode()


def segments_of(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def decoded(stack, prefix: str, rendition: str) -> list[float]:
    """The presentation times of every frame of a rendition, its segments read in playlist order."""
    times: list[float] = []
    for uri in segments_of(text(stack, f"{prefix}/hls/{rendition}/index.m3u8")):
        data = stack.s3.get_object(Bucket=stack.bucket, Key=f"{prefix}/hls/{rendition}/{uri}")["Body"].read()
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            times += [float(frame.pts * stream.time_base) for frame in container.decode(stream)]
    return times


def test_a_long_video_is_encoded_in_parts_by_two_workers_and_plays_seamlessly(private_stack, start_worker, lecture):
    stack = private_stack
    workers = [start_worker(**PARTS), start_worker(**PARTS)]
    video_id, key = new_video(stack, lecture)
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        stack.send(stack.video_queue, video_body(video_id, key, 7))
        row = stack.wait_status(video_id, "READY", "FAILED", timeout=240)
        transitions = log.read(video_id)
    assert row["status"] == "READY", row["error_reason"]
    assert transitions == [("UPLOADED", "PROCESSING"), ("PROCESSING", "READY")]
    prefix = f"videos/7/{video_id}"
    master = text(stack, row["hls_path"])
    assert segments_of(master) == ["240p/index.m3u8", "360p/index.m3u8", "audio/index.m3u8"]
    for rendition in ("240p", "360p", "audio"):
        listed = segments_of(text(stack, f"{prefix}/hls/{rendition}/index.m3u8"))
        attempts = {uri.split("/")[0] for uri in listed}
        assert len(attempts) == 1 and re.fullmatch(r"\d{8}T\d{12}", attempts.pop()), listed
        numbers = [int(re.search(r"seg_(\d+)\.ts", uri).group(1)) for uri in listed]
        assert numbers == list(range(len(numbers))), rendition  # numbered without holes
        # 2 s segments; the AAC track may end in a sliver past the last video frame (its priming)
        assert len(numbers) == SECONDS // 2 or (rendition == "audio" and len(numbers) == SECONDS // 2 + 1)
    frame = 1 / FPS
    times = decoded(stack, prefix, "360p")
    assert abs(len(times) - SECONDS * FPS) <= 4  # within one frame per part
    steps = [b - a for a, b in zip(times, times[1:])]
    assert min(steps) > 0 and max(steps) < 2 * frame - 1e-6, "a gap or an overlap at a seam"
    with av.open(io.BytesIO(stack.s3.get_object(
            Bucket=stack.bucket, Key=f"{prefix}/hls/audio/{segments_of(text(stack, f'{prefix}/hls/audio/index.m3u8'))[0]}"
    )["Body"].read())) as container:
        first_audio = float(next(container.demux(container.streams.audio[0])).pts * container.streams.audio[0].time_base)
    assert abs(first_audio - times[0]) <= frame, "audio and video start together"
    vtt = text(stack, f"{prefix}/storyboard.vtt")
    assert vtt.startswith("WEBVTT") and f"00:00:20.000 --> 00:00:{SECONDS}" in vtt
    assert keys(stack, f"{prefix}/parts/") == []  # the attempt's plan and records are gone
    progress = stack.redis.hgetall(f"progress:video:{video_id}")
    assert (progress["step"], progress["percent"]) == ("done", "100")
    board = stack.redis.hgetall(f"parts:video:{video_id}")
    assert sorted(board) == ["audio", "part_00000", "part_00001", "part_00002", "part_00003"]
    assert all('"state": "done"' in entry for entry in board.values())
    done_by = {re.search(r'"worker": "([^"]+)"', entry).group(1) for entry in board.values()}
    assert len(done_by) >= 1
    stack.wait_for(lambda: stack.depth(stack.parts_queue) == 0 and stack.depth(stack.video_queue) == 0, 60, "empty")
    assert stack.depth(stack.parts_dlq) == 0 and stack.depth(stack.video_dlq) == 0
    for worker in workers:
        assert "Traceback" not in worker.output()


def test_a_duplicate_api_message_during_the_fan_out_starts_no_second_one(private_stack, start_worker, lecture):
    stack = private_stack
    start_worker(**PARTS)
    video_id, key = new_video(stack, lecture)
    body = video_body(video_id, key, 7)
    stack.send(stack.video_queue, body)
    stack.wait_for(lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 120, "fan-out")
    stack.send(stack.video_queue, body)
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=240)
    assert row["status"] == "READY", row["error_reason"]
    prefix = f"videos/7/{video_id}"
    attempts = {k.split("/")[5] for k in keys(stack, f"{prefix}/hls/360p/") if k.endswith(".ts")}
    assert len(attempts) == 1  # one fan-out, one attempt's segments
    stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 60, "the duplicate acknowledged")


def test_a_reencode_during_the_parts_supersedes_them(private_stack, start_worker, lecture):
    stack = private_stack
    start_worker(**PARTS)
    video_id, key = new_video(stack, lecture)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    first = stack.wait_for(lambda: keys(stack, f"videos/7/{video_id}/parts/"), 120, "the first plan")[0].split("/")[4]
    from sqlalchemy import update
    table = stack.tables["video"]
    with stack.database.begin() as connection:  # what the API does for a re-encode
        connection.execute(update(table).where(table.c.id == video_id).values(status="UPLOADED"))
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    row = stack.wait_for(lambda: (r := stack.video(video_id))["status"] in ("READY", "FAILED")
                         and (f"/{first}/" not in text(stack, f"videos/7/{video_id}/hls/360p/index.m3u8"))
                         and r, 300, "the re-encode READY")
    assert row["status"] == "READY", row["error_reason"]
    playlist = text(stack, f"videos/7/{video_id}/hls/360p/index.m3u8")
    assert first not in playlist
    time.sleep(3)  # the first attempt's late pieces, if any, have had their chance to write
    stale = [k for k in keys(stack, f"videos/7/{video_id}/hls/") if f"/{first}/" in k]
    assert all(k.split("/")[-1] not in playlist for k in stale)
    assert stack.depth(stack.parts_dlq) == 0


def test_a_deleted_row_stops_its_parts_which_write_nothing_and_are_acknowledged(private_stack, start_worker, lecture):
    stack = private_stack
    worker = start_worker(**PARTS)
    video_id, key = new_video(stack, lecture)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    stack.wait_for(lambda: keys(stack, f"videos/7/{video_id}/parts/"), 120, "the plan")
    from sqlalchemy import delete
    table = stack.tables["video"]
    with stack.database.begin() as connection:
        connection.execute(delete(table).where(table.c.id == video_id))
    stack.wait_for(lambda: stack.depth(stack.parts_queue) == 0, 120, "every piece and check acknowledged")
    time.sleep(2)
    assert stack.depth(stack.parts_dlq) == 0
    assert keys(stack, f"videos/7/{video_id}/hls/360p/index.m3u8") == []  # never stitched
    assert "Traceback" not in worker.output()


def test_a_source_damaged_in_its_middle_fails_the_video_once_naming_the_range(private_stack, start_worker, tmp_path):
    stack = private_stack
    start_worker(**PARTS)
    source = make_video(tmp_path / "damaged.ts", seconds=SECONDS, width=640, height=360)
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle - len(data) // 5: middle + len(data) // 5] = b"\x00" * (2 * (len(data) // 5))
    source.write_bytes(bytes(data))
    video_id, key = new_video(stack, source)
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        stack.send(stack.video_queue, video_body(video_id, key, 7))
        row = stack.wait_status(video_id, "READY", "FAILED", timeout=240)
        time.sleep(3)
        transitions = log.read(video_id)
    assert row["status"] == "FAILED"
    assert re.search(r"part \d of 4 \(0:\d\d-0:\d\d\)", row["error_reason"]), row["error_reason"]
    assert transitions.count(("PROCESSING", "FAILED")) == 1


def test_a_missing_parts_queue_is_one_error_line_and_long_videos_take_one_pass(private_stack, start_worker, lecture):
    stack = private_stack
    worker = start_worker(**PARTS, VIDEO_PARTS_QUEUE="no-such-parts-queue")
    video_id, key = new_video(stack, lecture)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=240)
    assert row["status"] == "READY", row["error_reason"]
    lines = [line for line in worker.output().splitlines() if "no-such-parts-queue" in line]
    assert len(lines) == 1 and '"level": "ERROR"' in lines[0] and "encoded in one pass" in lines[0]
    assert all(not k.split("/")[-2].isdigit() for k in keys(stack, f"videos/7/{video_id}/hls/360p/"))
    assert "seg_00000.ts" in segments_of(text(stack, f"videos/7/{video_id}/hls/360p/index.m3u8"))
