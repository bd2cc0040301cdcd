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
from domain.video.model import Rendition
from tests.browser import chromium, serve_dashboard, wait
from tests.conftest import insert_video
from tests.e2e.test_player_browser import MISSING, screenshot
from tests.media_samples import ffmpeg_exe, make_media, speech_like

ADMIN = ("admin", "preview-admin-pw")
LADDER = [Rendition("240p", 240, 300, 64), Rendition("360p", 360, 500, 96)]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(MISSING) and os.environ.get("CI") != "true",
                       reason=f"needs {', '.join(MISSING)}"),
]


def publish_ready_video(stack, tmp_path) -> int:
    """Transcode a clip with the real adapter, upload its outputs as the worker would, mark the row READY."""
    video_id = 9_000_000 + int(time.time()) % 1_000_000
    source = make_media(tmp_path / "source.mp4", seconds=8, width=640, height=360, audio=speech_like(0.3, seconds=8))
    media = FfmpegMediaProcessor(ffmpeg_exe(), timeout_seconds=120, segment_seconds=2, preset="ultrafast")
    out = tmp_path / "out"
    media.transcode_hls(source, out / "hls", media.probe(source), LADDER, lambda _: None, storyboard_dir=out)
    prefix = f"videos/7/{video_id}"
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        stack.upload(path, f"{prefix}/{path.relative_to(out).as_posix()}")
    insert_video(stack.database, stack.tables["video"], video_id, f"uploads/7/{video_id}/source.mp4", status="READY")
    with stack.database.begin() as connection:
        connection.execute(update(stack.tables["video"]).where(stack.tables["video"].c.id == video_id)
                           .values(hls_path=f"{prefix}/hls/master.m3u8", duration_seconds=8.0))
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
