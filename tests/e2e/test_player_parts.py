"""A video encoded in parts plays across every seam in hls.js (headless Chromium), no stall and no error.

The real workers encode a 24 s source as four 6 s parts (2 s segments); the player seeks 2 s before
each boundary, plays past it, and the page's events must show neither an error nor a stall.
"""

from __future__ import annotations

import pytest

from tests.browser import wait
from tests.e2e.test_player_browser import MISSING, Page, Site, browser  # noqa: F401 - the browser fixture
from tests.e2e.test_video_parts import PARTS
from tests.media_samples import make_media, speech_like

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(bool(MISSING) and __import__("os").environ.get("CI") != "true",
                                                 reason=f"needs {', '.join(MISSING)}")]
SECONDS, PART = 24, 6


def test_hls_js_plays_across_every_part_boundary_without_a_stall(private_stack, start_worker, browser, tmp_path):
    stack = private_stack
    start_worker(**PARTS)
    source = make_media(tmp_path / "lecture.mp4", seconds=SECONDS, width=640, height=360,
                        audio=speech_like(0.3, seconds=SECONDS))
    video_id, _ = stack.send_video(source)
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=240)
    assert row["status"] == "READY", row["error_reason"]
    assert stack.redis.hlen(f"parts:video:{video_id}") == SECONDS // PART + 1  # it was encoded in parts

    site = Site(stack.s3, stack.bucket)
    try:
        page = Page(browser, site, f"/media/{row['hls_path']}", f"/media/videos/7/{video_id}/storyboard.vtt")

        def now() -> float:
            return browser.execute_script("return document.getElementById('video').currentTime")

        for boundary in range(PART, SECONDS, PART):
            before = len(page.events("error"))
            browser.execute_script("const v = document.getElementById('video'); v.currentTime = arguments[0];"
                                   "v.play();", boundary - 2)
            wait(lambda: page.fatal() or now() > boundary + 1, 60, f"playing past the seam at {boundary} s")
            errors = page.events("error")[before:]
            assert errors == [], f"at the seam of {boundary} s: {errors}"
        assert not page.fatal()
    finally:
        site.close()
