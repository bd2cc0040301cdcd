"""Chaos: hostile sources and bodies through the real worker. Each ends FAILED with a
reason a person understands, quickly; a canary file on the machine never leaks into
any output; the worker's temp dir is empty afterwards."""

from __future__ import annotations

import random
import shutil
import time
import uuid

import pytest

from adapters.sqs.publisher import video_body
from tests.conftest import insert_video
from tests.media_samples import make_video, write_gab2_avi, write_hls_playlist

pytestmark = pytest.mark.chaos


def hostile_sources(tmp, canary):
    """(name, bytes or None for no upload, file_key, expected words of the reason)."""
    real = make_video(tmp / "real.mp4", seconds=2, width=320, height=180)
    data = real.read_bytes()
    playlist = write_hls_playlist(tmp / "list.m3u8", canary).read_bytes()
    concat = f"ffconcat version 1.0\nfile '{canary}'\n".encode()
    avi = write_gab2_avi(tmp / "evil.avi", playlist).read_bytes()
    long = make_video(tmp / "long.mp4", seconds=7200, width=16, height=16, audio=False, fps=1).read_bytes()
    return [
        ("dot-dot key", None, "uploads/../../etc/passwd", "'..' segment"),
        ("absolute key", None, "/etc/passwd", "must not start with '/'"),
        ("outside the prefixes", data, "private/7/secret.mp4", "outside the allowed prefixes (uploads/)"),
        ("oversize key", None, "uploads/" + "k" * 200_000, "200008 characters long"),
        ("HLS playlist", playlist, "uploads/7/playlist.mp4", "HLS playlist"),
        ("concat list", concat, "uploads/7/concat.mp4", "concat"),
        ("AVI carrying a playlist", avi, "uploads/7/evil.avi", "no video stream"),
        ("truncated MP4", data[: len(data) // 3], "uploads/7/truncated.mp4", "not"),
        ("zero-length", b"", "uploads/7/empty.mp4", "the source file is empty"),
        ("two hours of frames", long, "uploads/7/long.mp4", "the limit is 600 s"),
    ]


def test_hostile_inputs_fail_with_reasons_and_leak_nothing(private_stack, start_worker, tmp_path, figures):
    stack = private_stack
    secret = f"CANARY-{uuid.uuid4().hex}"
    canary = tmp_path / "canary.txt"
    canary.write_text(secret + "\n")
    work = tmp_path / "work"
    work.mkdir()
    cases = hostile_sources(tmp_path, canary)
    first = random.randrange(10**6, 10**9)
    sent = []
    for offset, (name, data, key, words) in enumerate(cases):
        video_id = first + offset
        insert_video(stack.database, stack.tables["video"], video_id, key[:1024])
        if data is not None:
            stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
        stack.send(stack.video_queue, video_body(video_id, key, 7))
        sent.append((video_id, name, words))
    began = time.monotonic()
    start_worker(WORK_DIR=str(work), MAX_DURATION_SECONDS="600", ALLOWED_SOURCE_PREFIXES="uploads/")
    results = {}
    for video_id, name, words in sent:
        row = stack.wait_status(video_id, "READY", "FAILED", timeout=120)
        results[name] = (row["status"], row["error_reason"])
    seconds = time.monotonic() - began
    stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 60, "every message to be settled")

    leaked = []
    for item in stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="videos/").get("Contents", []):
        if secret.encode() in stack.s3.get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read():
            leaked.append(item["Key"])
    leftovers = list(work.iterdir())
    figures.update(cases=len(sent), failed=sum(s == "FAILED" for s, _ in results.values()), leaked=len(leaked),
                   temp_leftovers=len(leftovers), seconds=round(seconds))
    for _video_id, name, words in sent:
        status, reason = results[name]
        assert status == "FAILED", name
        assert words in reason, (name, reason)
        assert "Traceback" not in reason and str(tmp_path) not in reason and len(reason) < 400, (name, reason)
    assert leaked == [] and leftovers == []
    assert stack.depth(stack.video_dlq) == len(sent)
    shutil.rmtree(work)
