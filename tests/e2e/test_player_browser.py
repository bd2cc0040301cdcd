"""A learner's player: the real worker's output, from S3 (moto), played by hls.js in headless Chromium.

hls.js comes from the npm registry (package.json / package-lock.json, installed
by scripts/test.sh with ``npm ci``), never from a CDN. A local HTTP server
gives the page, hls.js and the bucket's objects one origin. Everything waits in
real time: a browser's virtual time budget does not let media play.

Screenshots of the playing video go to the test's tmp_path, and also to the
folder named by PLAYER_SCREENSHOTS (e.g. ``PLAYER_SCREENSHOTS=docs/img``).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from adapters.sqs.publisher import video_body
from tests.conftest import insert_video
from tests.media_samples import make_media, speech_like
from tests.services import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HLS_JS = ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"
PAGE = Path(__file__).parent / "player" / "index.html"
MISSING = [str(path) for path in (CHROMIUM, CHROMEDRIVER, HLS_JS) if not path.exists()]

pytestmark = [
    pytest.mark.e2e,
    # In CI (.ci/run installs chromium, chromedriver and Node; scripts/test.sh runs npm ci) a missing piece fails.
    pytest.mark.skipif(bool(MISSING) and os.environ.get("CI") != "true", reason=f"needs {', '.join(MISSING)}"),
]

SECONDS = 10
VIDEO_ID = 8_000_000 + int(time.time()) % 1_000_000


class Site:
    """One origin for the page, hls.js and the bucket's objects (``/media/<key>``), on 127.0.0.1."""

    def __init__(self, s3, bucket: str) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                if path == "/":
                    site.send(self, PAGE.read_bytes(), "text/html; charset=utf-8")
                elif path == "/hls.min.js":
                    site.send(self, HLS_JS.read_bytes(), "text/javascript")
                elif path.startswith("/media/"):
                    try:
                        stored = s3.get_object(Bucket=bucket, Key=path.removeprefix("/media/"))
                    except ClientError:
                        self.send_error(HTTPStatus.NOT_FOUND)
                        return
                    site.requests.append(path)
                    site.send(self, stored["Body"].read(), stored["ContentType"])
                else:
                    self.send_error(HTTPStatus.NOT_FOUND)

            def log_message(self, *args) -> None:
                pass

        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, body: bytes, content_type: str) -> None:
        handler.send_response(HTTPStatus.OK)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def browser(monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium-manager must never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--autoplay-policy=no-user-gesture-required",
                     "--mute-audio", "--window-size=1000,760"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1000, "height": 760, "deviceScaleFactor": 1, "mobile": False})
    yield driver
    driver.quit()


def wait(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def screenshot(driver, folder: Path, name: str) -> Path:
    path = folder / f"player-{name}.png"
    assert driver.save_screenshot(str(path))
    target = os.environ.get("PLAYER_SCREENSHOTS")
    if target:
        copy_to = Path(target) if Path(target).is_absolute() else ROOT / target
        copy_to.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy_to / path.name)
    return path


def stream_infs(master: str) -> list[tuple[dict[str, str], str]]:
    lines = [line for line in master.splitlines() if line.strip()]
    entries = []
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            entries.append((attributes, lines[index + 1]))
    return entries


def test_the_worker_output_plays_in_hls_js_switches_levels_and_scrubs(stack, worker, browser, tmp_path):
    source = make_media(tmp_path / "lecture.mp4", seconds=SECONDS, width=640, height=360,
                        audio=speech_like(0.3, seconds=SECONDS))
    key = f"uploads/7/{VIDEO_ID}/source.mp4"
    stack.upload(source, key)
    insert_video(stack.engine, stack.tables["video"], VIDEO_ID, key)
    stack.send(stack.video_queue, video_body(VIDEO_ID, key, 7))
    row = stack.wait_status(VIDEO_ID, "READY", "FAILED", timeout=180)
    assert row["status"] == "READY", row["error_reason"]
    prefix = f"videos/7/{VIDEO_ID}"

    # The master, as any player reads it: two video variants sharing one audio group, and audio-only last.
    master = stack.s3.get_object(Bucket=stack.bucket, Key=row["hls_path"])["Body"].read().decode()
    entries = stream_infs(master)
    assert [uri for _, uri in entries] == ["240p/index.m3u8", "360p/index.m3u8", "audio/index.m3u8"]
    audio_only, _ = entries[-1]
    assert audio_only["CODECS"] == '"mp4a.40.2"' and "RESOLUTION" not in audio_only and "AUDIO" not in audio_only
    assert all(attributes["AUDIO"] == '"audio"' for attributes, _ in entries[:2])
    assert all(int(attributes["BANDWIDTH"]) > int(audio_only["BANDWIDTH"]) for attributes, _ in entries[:2])

    site = Site(stack.s3, stack.bucket)
    try:
        driver = browser
        driver.get(site.url + "/")
        driver.execute_script("startVideo(arguments[0], arguments[1])",
                              f"/media/{row['hls_path']}", f"/media/{prefix}/storyboard.vtt")

        def events(kind: str, player: str | None = None) -> list[dict]:
            return [event for event in driver.execute_script("return window.events")
                    if event["event"] == kind and (player is None or event.get("player") == player)]

        def fatal() -> list[dict]:
            return [event for event in events("error") if event["fatal"]]

        wait(lambda: fatal() or events("playing", "video"), 90, "the video to play")
        assert not fatal(), fatal()
        (manifest,) = events("manifest")
        # hls.js keeps the video variants (it drops audio-only ones when there is video) and the group's track.
        assert [level["height"] for level in manifest["levels"]] == [240, 360]
        assert all(level["audioCodec"] == "mp4a.40.2" for level in manifest["levels"])
        tracks = driver.execute_script("return hls.audioTracks.map(t => [t.name, t.groupId, t.url])")
        assert [track[:2] for track in tracks] == [["Audio", "audio"]]
        assert tracks[0][2].endswith(f"/media/{prefix}/hls/audio/index.m3u8")

        def playing_at(height: int) -> bool:
            state = driver.execute_script(
                "const v = document.getElementById('video');"
                "return [v.videoHeight, v.currentTime, v.paused, v.readyState];")
            return state[0] == height and not state[2] and state[3] >= 3

        for index, level in enumerate(manifest["levels"]):
            driver.execute_script(
                "const v = document.getElementById('video'); hls.currentLevel = arguments[0];"
                "v.currentTime = 0.5; v.play();", index)
            wait(lambda: fatal() or playing_at(level["height"]), 60, f"level {index} ({level['height']}p) to play")
            assert not fatal(), fatal()
            began = driver.execute_script("return document.getElementById('video').currentTime")
            wait(lambda: driver.execute_script("return document.getElementById('video').currentTime") > began + 0.5,
                 30, f"time to advance at {level['height']}p")
        assert {event["level"] for event in events("switched")} == {0, 1}
        # The sound came from the shared group: its segments were fetched beside the video's.
        assert any(re.search(r"/hls/audio/seg_\d+\.ts$", path) for path in site.requests)

        # Scrubbing previews: the browser's own WebVTT parser reads the cues, every sprite loads.
        wait(lambda: events("storyboard-loaded") or events("storyboard-error"), 30, "the storyboard track")
        assert events("storyboard-loaded"), events("storyboard-error")
        board = driver.execute_async_script(
            "readStoryboard().then(arguments[0], e => arguments[0]({error: String(e)}))")
        assert "error" not in board, board
        cues = board["cues"]
        assert cues[0]["start"] == 0 and cues[-1]["end"] == pytest.approx(row["duration_seconds"], abs=0.002)
        assert all(previous["end"] == following["start"] for previous, following in zip(cues, cues[1:]))
        assert len(cues) == 2  # 10 s: one tile every 5 s
        for cue in cues:
            file, fragment = cue["text"].split("#xywh=")
            x, y, w, h = map(int, fragment.split(","))
            sheet = board["sheets"][f"{site.url}/media/{prefix}/{file}"]
            assert w == 160 and h == 90 and x + w <= sheet["width"] and y + h <= sheet["height"]
        driver.execute_script("const v = document.getElementById('video'); v.currentTime = 3; v.play();")
        wait(lambda: playing_at(manifest["levels"][-1]["height"]), 30, "the top level to play on")
        time.sleep(1)  # a frame well into the segment, for the picture
        shot = screenshot(driver, tmp_path, "playing")
        assert shot.stat().st_size > 10_000

        # The audio-only variant on its own, as a phone with the screen off would play it.
        driver.execute_script("startAudioOnly(arguments[0])", f"/media/{prefix}/hls/audio/index.m3u8")
        wait(lambda: fatal() or events("playing", "audio-only"), 60, "the audio-only playlist to play")
        assert not fatal(), fatal()
        wait(lambda: driver.execute_script("return document.getElementById('audio').currentTime") > 0.5, 30,
             "audio-only time to advance")
    finally:
        site.close()
