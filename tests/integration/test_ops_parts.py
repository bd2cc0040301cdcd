"""What operators see of a long video in parts: its pieces on the job page and in `python -m ops jobs`,
and the parts queue on the overview (missing until an operator creates it)."""

from __future__ import annotations

import json
import subprocess
import sys

from adapters.redis.parts import RedisPartsBoard
from tests.conftest import insert_video
from tests.ops_site import make_site, video_ids
from tests.services import REDIS_URL, ROOT


def board_of(site, video_id: int) -> None:
    board = RedisPartsBoard(site.ops.redis)
    key = f"video:{video_id}"
    board.start(key, "20261205T100000000000", {"part_00000": "part 1 of 2 (0:00-1:00)",
                                                "part_00001": "part 2 of 2 (1:00-1:40)", "audio": "the audio"})
    board.record(key, "20261205T100000000000", "part_00000", "done", worker="worker.1:41", seconds=60)
    board.record(key, "20261205T100000000000", "part_00001", "running", worker="worker.2:7", seconds=12.5)
    board.record(key, "20261205T100000000000", "audio", "failed", worker="worker.1:41", reason="S3 upload failed")


def test_the_job_page_lists_the_pieces_with_their_state_and_worker(site, pg_database):
    video_id = next(video_ids)
    insert_video(pg_database, site.stack.tables["video"], video_id, "uploads/7/v.mp4", status="PROCESSING")
    board_of(site, video_id)
    page = site.get(f"/jobs/video/{video_id}")
    assert page.status_code == 200
    parts = page.text.split('<section id="parts">', 1)[1].split("</section>", 1)[0]
    assert "1 done" in parts and "1 running" in parts and "1 failed" in parts and "3 pieces" in parts
    assert "part 2 of 2 (1:00-1:40)" in parts and "worker.2:7" in parts and "12.5" in parts
    assert "S3 upload failed" in parts
    other = next(video_ids)
    insert_video(pg_database, site.stack.tables["video"], other, "uploads/7/w.mp4", status="READY")
    assert 'id="parts"' not in site.get(f"/jobs/video/{other}").text  # one pass: no parts section


def test_the_cli_shows_a_videos_parts_with_its_row(site, pg_database):
    video_id = next(video_ids)
    insert_video(pg_database, site.stack.tables["video"], video_id, "uploads/7/v.mp4", status="PROCESSING")
    board_of(site, video_id)
    env = {**site.stack.env(), "REDIS_URL": REDIS_URL}
    text = subprocess.run([sys.executable, "-m", "ops", "jobs", "video", "--id", str(video_id)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    assert "parts of attempt 20261205T100000000000: 1 done, 1 failed, 1 running" in text.stdout
    assert "part 2 of 2 (1:00-1:40)  running  worker.2:7" in text.stdout
    data = json.loads(subprocess.run([sys.executable, "-m", "ops", "--json", "jobs", "video", "--id", str(video_id)],
                                     cwd=ROOT, env=env, capture_output=True, text=True, timeout=60).stdout)
    assert data["job"]["id"] == video_id and [p["state"] for p in data["parts"]] == ["failed", "done", "running"]


def test_the_overview_lists_the_parts_queue_and_says_when_it_is_missing(site, private_stack, pg_database):
    overview = site.get("/").text
    assert f"<code>{private_stack.parts_queue}</code>" in overview and "(video parts)" in overview
    assert "missing: long videos" not in overview
    missing = make_site(private_stack, pg_database, video_parts_queue="no-such-parts-queue")
    page = missing.get("/").text
    assert "<code>no-such-parts-queue</code>" in page and "missing: long videos are encoded in one pass" in page
    status = missing.ops.status()
    assert next(q for q in status["queues"] if q["name"] == "no-such-parts-queue")["missing"] is True


def test_an_operator_creates_the_parts_queues_once(private_stack):
    env = {**private_stack.env(), "VIDEO_PARTS_QUEUE": "parts-" + private_stack.bucket,
           "VIDEO_PARTS_DLQ": "parts-dlq-" + private_stack.bucket}
    command = [sys.executable, "-m", "ops", "queues", "create-parts"]
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"parts-dlq-{private_stack.bucket}: created", f"parts-{private_stack.bucket}: created"]
    attributes = private_stack.sqs.get_queue_attributes(QueueUrl=private_stack.url(f"parts-dlq-{private_stack.bucket}"),
                                                        AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    assert attributes["MessageRetentionPeriod"] == "1209600"
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert again.stdout.splitlines() == [f"parts-dlq-{private_stack.bucket}: exists", f"parts-{private_stack.bucket}: exists"]
