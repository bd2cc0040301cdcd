"""The ops dashboard's job page plays a READY video's output with hls.js, in headless Chromium.

The outputs are made by the real media adapter and uploaded to moto's S3; the
dashboard streams them from the private bucket under the video's own prefix.
A screenshot goes to tmp_path and to PLAYER_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import update

from adapters.media import FfmpegMediaProcessor
from domain.video.chapter_outputs import ChapterOutputs
from domain.video.model import Rendition
from tests.browser import chromium, serve_dashboard, wait
from tests.conftest import insert_video
from tests.e2e.test_player_browser import MISSING, screenshot
from tests.media_samples import ffmpeg_exe, make_media, speech_like
from tests.slide_samples import Slide, lecture

ADMIN = ("admin", "preview-admin-pw")
LADDER = [Rendition("240p", 240, 300, 64), Rendition("360p", 360, 500, 96)]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(MISSING) and os.environ.get("CI") != "true",
                       reason=f"needs {', '.join(MISSING)}"),
]


def publish_ready_video(stack, tmp_path, source=None) -> int:
    """Transcode a clip (or ``source``) with the real adapter, its chapters too, upload its outputs as the
    worker would, mark the row READY."""
    video_id = 9_000_000 + int(time.time() * 10) % 1_000_000
    if source is None:
        source = make_media(tmp_path / "source.mp4", seconds=8, width=640, height=360,
                            audio=speech_like(0.3, seconds=8))
    media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=300, segment_seconds=2, preset="ultrafast")
    out = tmp_path / "out"
    info = media.probe(source)
    master = media.transcode_hls(source, out / "hls", info, LADDER, lambda _: None, storyboard_dir=out,
                                 slides_dir=tmp_path / "slides")
    ChapterOutputs(storage=None, min_seconds=20).write(tmp_path / "slides", out, master, info.duration_seconds)
    prefix = f"videos/7/{video_id}"
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        stack.upload(path, f"{prefix}/{path.relative_to(out).as_posix()}")
    insert_video(stack.database, stack.tables["video"], video_id, f"uploads/7/{video_id}/source.mp4", status="READY")
    with stack.database.begin() as connection:
        connection.execute(update(stack.tables["video"]).where(stack.tables["video"].c.id == video_id)
                           .values(hls_path=f"{prefix}/hls/master.m3u8", duration_seconds=info.duration_seconds))
    return video_id


def test_the_job_page_plays_a_ready_video_from_the_private_bucket(private_stack, tmp_path):
    video_id = publish_ready_video(private_stack, tmp_path)
    with serve_dashboard(private_stack, ADMIN[1]) as (url, _):
        driver = chromium(1280, 900, media=True, basic_auth=ADMIN)
        try:
            driver.get(f"{url}/jobs/video/{video_id}")

            def state() -> str:
                return driver.execute_script("return document.getElementById('preview-video').dataset.state")

            wait(lambda: state() in ("playing", "failed", "unsupported"), 90, "the preview to play")
            facts = driver.execute_script("return document.getElementById('preview-facts').textContent")
            assert state() == "playing", facts
            assert "240p" in facts and "360p" in facts and "shared audio track" in facts
            tiles = wait(lambda: driver.execute_script(
                "return document.getElementById('preview-storyboard').dataset.tiles"), 30, "the storyboard tiles")
            assert tiles == "2"  # 8 s: one tile every 5 s
            wait(lambda: driver.execute_script("return document.getElementById('preview-video').currentTime") > 1.5, 30,
                 "the preview to play on")
            driver.execute_script("document.getElementById('preview').scrollIntoView()")
            screenshot(driver, tmp_path, "dashboard-preview")
        finally:
            driver.quit()


def test_the_job_page_lists_a_lectures_chapters_and_seeks_to_them(private_stack, tmp_path):
    sample = lecture(tmp_path / "lecture.mp4", [
        Slide("Locks and leases", ("lease timeout row", "fence token update"), 21),
        Slide("2. 작업 재시도와 잠금", ("메시지 재시도 잠금", "작업자 상태 갱신"), 21, style=1),
    ])
    video_id = publish_ready_video(private_stack, tmp_path, sample.path)
    with serve_dashboard(private_stack, ADMIN[1]) as (url, _):
        driver = chromium(1280, 900, media=True, basic_auth=ADMIN)
        try:
            driver.get(f"{url}/jobs/video/{video_id}")
            count = wait(lambda: driver.execute_script(
                "return document.getElementById('preview-chapters').dataset.chapters"), 60, "the chapters")
            assert count == "2"
            listed = driver.execute_script(
                "return Array.from(document.querySelectorAll('#preview-chapters button')).map(b => "
                "[b.dataset.start, b.textContent, b.querySelector('img').naturalWidth])")
            assert [(text, width) for _, text, width in listed] == [("0:00 Locks and leases", 160),
                                                                   ("0:21 2. 작업 재시도와 잠금", 160)]
            assert abs(float(listed[1][0]) - sample.changes[1]) <= 1
            driver.execute_script("document.querySelectorAll('#preview-chapters button')[1].click()")
            wait(lambda: driver.execute_script("return document.getElementById('preview-video').currentTime")
                 >= float(listed[1][0]), 30, "the seek to the second chapter")
        finally:
            driver.quit()
