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
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import update

from adapters.sqs.publisher import ai_body, video_body
from tests.browser import CHROMEDRIVER, CHROMIUM, chromium, wait
from tests.conftest import insert_ai_job, insert_video
from tests.media_samples import make_media, speech_like
from tests.services import ROOT
from tests.slide_samples import Slide, lecture
from tests.speech_samples import ENGLISH, as_lecture_video, have_espeak, speak

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
# A lecture of three slides (one builds a bullet), English and Korean headings (CONTRACT 4c).
CHAPTER_DECK = [
    Slide("Why message queues?", ("worker lease retry", "queue token commit", "delivery lock fence"), 21, builds=1),
    Slide("2. 작업 재시도와 잠금", ("메시지 재시도 잠금", "작업자 상태 갱신"), 21, style=1),
    Slide("Locks and leases", ("lease timeout row", "fence token update"), 21, style=2),
]


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
def browser():
    driver = chromium(1000, 760, media=True)
    yield driver
    driver.quit()


def screenshot(driver, folder: Path, name: str) -> Path:
    path = folder / f"player-{name}.png"
    assert driver.save_screenshot(str(path))
    target = os.environ.get("PLAYER_SCREENSHOTS")
    if target:
        copy_to = Path(target) if Path(target).is_absolute() else ROOT / target
        copy_to.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy_to / path.name)
    return path


class Page:
    """The player page of ``site`` in ``driver``, playing ``master`` with its ``storyboard`` track; it
    returns once the video plays (AssertionError on a fatal hls.js error)."""

    def __init__(self, driver, site: Site, master: str, storyboard: str) -> None:
        self.driver = driver
        driver.get(site.url + "/")
        driver.execute_script("startVideo(arguments[0], arguments[1])", master, storyboard)
        wait(lambda: self.fatal() or self.events("playing", "video"), 90, "the video to play")
        assert not self.fatal(), self.fatal()

    def events(self, kind: str, player: str | None = None) -> list[dict]:
        """The page's events of ``kind`` (of one player, "video" or "audio-only", if named)."""
        return [event for event in self.driver.execute_script("return window.events")
                if event["event"] == kind and (player is None or event.get("player") == player)]

    def fatal(self) -> list[dict]:
        return [event for event in self.events("error") if event["fatal"]]


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
    insert_video(stack.database, stack.tables["video"], VIDEO_ID, key)
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
        page = Page(driver, site, f"/media/{row['hls_path']}", f"/media/{prefix}/storyboard.vtt")
        events, fatal = page.events, page.fatal
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


def re_encode(stack, video_id: int, key: str) -> None:
    """Send the video again, as the API does after a new upload, and wait for it to be READY again."""
    with stack.database.begin() as connection:
        connection.execute(update(stack.tables["video"]).where(stack.tables["video"].c.id == video_id)
                           .values(status="UPLOADED"))
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    stack.wait_for(lambda: stack.video(video_id)["status"] != "UPLOADED", 60, "the re-encode to start")
    assert stack.wait_status(video_id, "READY", "FAILED", timeout=180)["status"] == "READY"


CUE_TIME = re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d{3}) -->", re.MULTILINE)


def first_cue_start(vtt: str) -> float:
    hours, minutes, seconds, millis = map(int, CUE_TIME.search(vtt).groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def captions_named_by(master: str) -> list[tuple[str, str | None]]:
    """Each variant's URI and the captions group it names (the audio-only variant names none)."""
    return [(uri, attributes.get("SUBTITLES")) for attributes, uri in stream_infs(master)]


@pytest.mark.skipif(not have_espeak() and os.environ.get("CI") != "true", reason="needs espeak-ng")
def test_captions_wait_for_their_video_show_in_hls_js_on_time_and_outlive_a_re_encode(stack, worker, browser,
                                                                                      tmp_path):
    video_id = VIDEO_ID + 1
    lead = 1.5  # the lecturer starts speaking 1.5 s in: the cues must start there, not 1.4 s early
    source = as_lecture_video(speak(tmp_path / "lecture.wav", ENGLISH), tmp_path / "lecture.mp4", lead_seconds=lead)
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(source, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    job_id = str(uuid.uuid4())
    payload = {"file_key": key, "lang": "en", "video_id": video_id}
    insert_ai_job(stack.database, stack.tables["ai"], job_id, "transcribe", payload)

    # Captions sent before their video: the job waits, saying so, and spends no retry.
    stack.send(stack.ai_queue, ai_body(job_id, "transcribe", payload, 7))
    progress = stack.wait_for(lambda: (found := stack.redis.hgetall(f"progress:ai:{job_id}"))
                              and "waiting for video" in found.get("message", "") and found, 60, "the wait to show")
    assert progress["message"] == f"waiting for video {video_id} to be READY (it is UPLOADED)"
    time.sleep(5)  # two or three more looks at the video
    assert stack.ai_job(job_id)["status"] == "PROCESSING"

    stack.send(stack.video_queue, video_body(video_id, key, 7))
    assert stack.wait_status(video_id, "READY", "FAILED", timeout=180)["status"] == "READY"
    job = stack.wait_for(lambda: (row := stack.ai_job(job_id))["status"] in ("DONE", "FAILED") and row, 180,
                         "the transcribe job")
    assert job["status"] == "DONE", job["error_message"]
    assert job["result"]["video_attached"] is True and job["result"]["video_note"] is None

    # The video's HLS, as CONTRACT 4a fixes it: a SUBTITLES group named by every video variant.
    prefix = f"videos/7/{video_id}"
    read = lambda name: stack.s3.get_object(Bucket=stack.bucket, Key=f"{prefix}/hls/{name}")["Body"].read().decode()
    master = read("master.m3u8")
    assert ('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,'
            'URI="subs/en/index.m3u8"') in master.splitlines()
    assert captions_named_by(master) == [("180p/index.m3u8", '"subs"'), ("audio/index.m3u8", None)]
    assert "#EXT-X-ENDLIST" in read("subs/en/index.m3u8")
    cues = read("subs/en/captions.vtt")
    mapping = re.search(r"^X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:00:00:00\.000$", cues, re.MULTILINE)
    assert mapping and 90_000 <= int(mapping.group(1)) <= 2 * 90_000  # ffmpeg's TS segments start near 1.4 s
    spoken_at = first_cue_start(cues)
    assert abs(spoken_at - lead) < 0.8, cues[:300]

    site = Site(stack.s3, stack.bucket)
    try:
        driver = browser
        page = Page(driver, site, f"/media/{prefix}/hls/master.m3u8", f"/media/{prefix}/storyboard.vtt")
        events = page.events
        tracks = wait(lambda: events("subtitle-tracks"), 30, "hls.js to list the captions")[-1]["tracks"]
        assert [(track["name"], track["lang"], track["groupId"]) for track in tracks] == [("English", "en", "subs")]

        driver.execute_script("showCaptions()")
        shown = wait(lambda: [track for track in driver.execute_script("return readCaptions()")
                              if track["mode"] == "showing" and track["cues"]], 60, "the captions' cues")
        (track,) = shown
        assert track["language"] == "en" and track["label"] == "English"
        # The cue shows with the frame the source shows when the lecturer speaks: X-TIMESTAMP-MAP did its work.
        # hls.js starts its timeline at the segments' first decoding time, so with B-frames the source's
        # first frame (time 0) is presented a little after 0: where it is, the captions' 0 must be too.
        first_frame = driver.execute_script("return document.getElementById('video').buffered.start(0)")
        assert abs(track["cues"][0]["start"] - (first_frame + spoken_at)) < 0.05, (track["cues"][0], first_frame)
        assert "distributed systems" in " ".join(cue["text"] for cue in track["cues"]).lower()

        at = track["cues"][1]["start"] + 0.3
        driver.execute_script("const v = document.getElementById('video'); v.currentTime = arguments[0]; v.play();", at)
        wait(lambda: driver.execute_script(
            "const v = document.getElementById('video'); const t = Array.from(v.textTracks)"
            ".find(t => t.mode === 'showing'); return t && t.activeCues && t.activeCues.length > 0"), 30,
            "a cue to be on screen")
        driver.execute_script("document.getElementById('video').pause()")
        time.sleep(0.5)
        assert screenshot(driver, tmp_path, "captions").stat().st_size > 10_000
    finally:
        site.close()

    # A re-encode of the video keeps the captions its previous master listed.
    re_encode(stack, video_id, key)
    again = read("master.m3u8")
    assert 'URI="subs/en/index.m3u8"' in again
    assert captions_named_by(again) == captions_named_by(master)


def test_a_lectures_chapters_list_in_the_player_seek_and_go_when_a_re_encode_finds_none(stack, worker, browser,
                                                                                      tmp_path):
    video_id = VIDEO_ID + 2
    sample = lecture(tmp_path / "lecture.mp4", CHAPTER_DECK)
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(sample.path, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=300)
    assert row["status"] == "READY", row["error_reason"]
    prefix = f"videos/7/{video_id}"
    get = lambda name: stack.s3.get_object(Bucket=stack.bucket, Key=f"{prefix}/{name}")
    master = get("hls/master.m3u8")["Body"].read().decode()
    assert '#EXT-X-SESSION-DATA:DATA-ID="com.apple.hls.chapters",URI="chapters.json"' in master.splitlines()
    assert get("hls/chapters.json")["ContentType"] == "application/json"
    assert get("chapters.vtt")["ContentType"] == "text/vtt"

    site = Site(stack.s3, stack.bucket)
    try:
        driver = browser
        Page(driver, site, f"/media/{row['hls_path']}", f"/media/{prefix}/storyboard.vtt")
        found = driver.execute_async_script("loadChapters().then(arguments[0], e => arguments[0]({error: String(e)}))")
        assert "error" not in found, found
        assert found["url"] == f"{site.url}/media/{prefix}/hls/chapters.json"  # relative to the master
        chapters = found["chapters"]
        assert [chapter["titles"][0]["title"] for chapter in chapters] == sample.headings
        assert [chapter["titles"][0]["language"] for chapter in chapters] == ["en", "ko", "en"]
        assert all(abs(chapter["start-time"] - change) <= 1 for chapter, change in zip(chapters, sample.changes))
        assert all(not image.get("error") and image["width"] == 160 and image["height"] == 90
                   for image in found["images"]), found["images"]

        # Each chapter seeks the video to its start, and the slide there plays.
        video_time = "return document.getElementById('video').currentTime"
        for index, chapter in enumerate(chapters):
            driver.execute_script("document.querySelectorAll('#chapters button')[arguments[0]].click();"
                                  "document.getElementById('video').play()", index)
            start = chapter["start-time"]
            wait(lambda: start + 0.3 < driver.execute_script(video_time) < start + 5, 60,
                 f"chapter {index + 1} to play from {start} s")
        driver.execute_script("document.querySelectorAll('#chapters button')[1].click();"
                              "document.getElementById('video').play()")
        wait(lambda: driver.execute_script(video_time) > chapters[1]["start-time"] + 1.5, 30, "the second slide")
        driver.execute_script("document.getElementById('video').pause()")
        time.sleep(0.5)
        assert screenshot(driver, tmp_path, "chapters").stat().st_size > 10_000

        # The same chapters as a kind="chapters" track, through the browser's own WebVTT parser.
        cues = driver.execute_async_script("loadChapterTrack(arguments[0]).then(arguments[1])",
                                           f"/media/{prefix}/chapters.vtt")
        assert "error" not in cues, cues
        assert [cue["text"] for cue in cues] == sample.headings
        assert [cue["start"] for cue in cues] == pytest.approx([chapter["start-time"] for chapter in chapters],
                                                               abs=0.001)
        assert cues[-1]["end"] == pytest.approx(row["duration_seconds"], abs=0.01)
    finally:
        site.close()

    # A re-encode of a source without slides: no chapters listed, and none left to read.
    plain = make_media(tmp_path / "plain.mp4", seconds=6, width=640, height=360)
    stack.upload(plain, key)
    re_encode(stack, video_id, key)
    assert "SESSION-DATA" not in get("hls/master.m3u8")["Body"].read().decode()
    for name in ["hls/chapters.json", "chapters.vtt",
                 *(f"hls/{chapter['images'][0]['url']}" for chapter in chapters)]:
        with pytest.raises(ClientError):
            get(name)
