"""The README's first command: the embedded demo runs a video, its captions and an OCR page through the real worker,
keeps the results in a folder whose player page plays them, prints them verbatim at 80 columns, and says in its
exit status whether every job ran and ended as expected (0), one did not (1) or some were left out (3)."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.browser import CHROMEDRIVER, CHROMIUM, chromium, wait
from tests.services import ROOT, free_port, wait_for_port

pytestmark = pytest.mark.e2e

HLS_JS = ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"
# What the demo's video says first; Whisper may hear "media worker" as "mediaworker".
SPOKEN = "welcometothemediaworker"
PLAY = re.compile(r"^  python3 -m http\.server (\d+) --bind 127\.0\.0\.1 --directory (\S+)$", re.MULTILINE)


def unspaced(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def path_without(tmp_path: Path, *hidden: str) -> str:
    """A PATH of one folder holding every program of this PATH but ``hidden`` (as if they were not installed)."""
    folder = tmp_path / f"bin-without-{'-'.join(hidden)}"
    folder.mkdir()
    for directory in [str(Path(sys.executable).parent), *os.environ["PATH"].split(os.pathsep)]:
        for program in Path(directory).glob("*") if Path(directory).is_dir() else ():
            if program.name not in hidden and not (folder / program.name).exists() and os.access(program, os.X_OK):
                (folder / program.name).symlink_to(program.absolute())
    return str(folder)


def demo(*arguments: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/demo.py", "--height", "360", "--timeout", "150", *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def load_demo_results():
    """scripts/demo_results.py as a module (the scripts folder is no package)."""
    spec = importlib.util.spec_from_file_location("demo_results", ROOT / "scripts" / "demo_results.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_demo_keeps_its_results_prints_them_verbatim_at_80_columns_and_its_page_plays_them(tmp_path):
    results = tmp_path / "results"
    # A terminal 80 columns wide, colours on: wrapping, cut keys or highlighted fragments would show.
    result = demo("--seconds", "4", "--output", str(results),
                  env={"COLUMNS": "80", "FORCE_COLOR": "1", "TERM": "xterm-256color"})
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "exit status 0: every job ended as expected" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)

    # The folder holds the video's tree, its captions, storyboard, thumbnail, the AI jobs' files and the OCR text.
    video = results / "videos" / "7" / "42"
    master = (video / "hls" / "master.m3u8").read_text()
    assert 'SUBTITLES="subs"' in master and 'URI="subs/en/index.m3u8"' in master
    for playlist in [line for line in master.splitlines() if line.endswith(".m3u8")] + ["subs/en/index.m3u8"]:
        listed = (video / "hls" / playlist).read_text()
        for name in [line for line in listed.splitlines() if line and not line.startswith("#")]:
            assert (video / "hls" / playlist).parent.joinpath(name).stat().st_size > 0, (playlist, name)
    assert SPOKEN in unspaced((video / "hls" / "subs" / "en" / "captions.vtt").read_text())
    assert "sprite_000.jpg#xywh=" in (video / "storyboard.vtt").read_text()
    assert (video / "storyboard" / "sprite_000.jpg").stat().st_size > 0 and (video / "thumbnail.jpg").stat().st_size
    (job_folder,) = (results / "ai" / "7").iterdir()
    assert {path.name for path in job_folder.iterdir()} == {"captions.vtt", "captions.srt", "transcript.json"}
    assert "Please read chapter 3 aloud" in (results / "ocr.txt").read_text()
    assert '"status": "READY"' in (results / "rows.json").read_text()
    assert (results / "worker.log").stat().st_size > 0

    # 80 columns: the master printed line for line as it is (no colour codes), every key whole on its line, nothing
    # cut with "…".
    lines = out.splitlines()
    start = lines.index("#EXTM3U")
    assert lines[start:start + len(master.splitlines())] == master.splitlines()
    assert "…" not in out
    for path in sorted(p for p in video.rglob("*") if p.is_file()):
        key = path.relative_to(results).as_posix()
        assert any(re.fullmatch(rf"  {re.escape(key)} +{path.stat().st_size} +\S+", line) for line in lines), key

    # One printed command serves the folder; the page plays the video with its English captions in hls.js.
    assert "play the video with its captions:" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    (port, directory), = PLAY.findall(out)
    assert Path(directory) == results and int(port) > 0
    if [path for path in (CHROMIUM, CHROMEDRIVER, HLS_JS) if not path.exists()] and os.environ.get("CI") != "true":
        pytest.skip("the page's browser check needs chromium, chromedriver and hls.js (npm ci)")
    assert (results / "hls.min.js").read_bytes() == HLS_JS.read_bytes()
    port = free_port()  # the printed command, on a port free here
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = None
    try:
        wait_for_port(port)
        driver = chromium(900, 900, media=True)
        driver.get(f"http://127.0.0.1:{port}/")
        state = lambda: driver.execute_script("return document.getElementById('preview-video').dataset.state")
        wait(lambda: state() in ("playing", "failed", "unsupported"), 60, "the page's video to play")
        facts = driver.execute_script("return document.getElementById('preview-facts').textContent")
        assert state() == "playing", facts
        cues = wait(lambda: driver.execute_script(
            "return Array.from(document.getElementById('preview-video').textTracks)"
            ".filter(t => t.mode === 'showing' && t.cues && t.cues.length)"
            ".map(t => [t.language, Array.from(t.cues).map(c => c.text).join(' ')])"), 60, "the captions' cues")
        assert cues[0][0] == "en" and SPOKEN in unspaced(cues[0][1]), cues
        assert "captions: English (en)" in driver.execute_script(
            "return document.getElementById('preview-facts').textContent")
        wait(lambda: driver.execute_script(
            "return document.getElementById('preview-storyboard').dataset.tiles"), 30, "the storyboard's tiles")
        assert "Please read chapter 3 aloud" in driver.find_element("id", "ocr").text
    finally:
        if driver:
            driver.quit()
        server.terminate()
        server.wait(timeout=10)


def test_demo_with_dashboard_serves_it_until_stopped(tmp_path):
    port = free_port()
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        running = subprocess.Popen(
            [sys.executable, "scripts/demo.py", "--seconds", "2", "--height", "360", "--timeout", "120",
             "--dashboard", str(port), "--output", str(tmp_path / "results")],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={**os.environ, "COLUMNS": "200", "TERM": "dumb"},
        )
    try:
        deadline = time.monotonic() + 200
        while "Ctrl-C stops the demo" not in log.read_text() and time.monotonic() < deadline:
            assert running.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        password = re.search(r"user admin, password (\S+)\)", text).group(1)
        url = f"http://127.0.0.1:{port}/"
        assert requests.get(url, timeout=10).status_code == 401
        overview = requests.get(url, auth=("admin", password), timeout=10)
        assert overview.status_code == 200 and "video-jobs-dlq" in overview.text and "READY" in overview.text
        assert (tmp_path / "results" / "index.html").exists()  # kept before the wait, not only at the end
        running.send_signal(signal.SIGTERM)
        assert running.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)


def test_without_tesseract_and_espeak_the_demo_says_what_to_install_runs_the_video_and_exits_3(tmp_path):
    env = {"PATH": path_without(tmp_path, "tesseract", "espeak-ng"), "COLUMNS": "80", "TERM": "dumb"}
    result = demo("--seconds", "2", "--output", str(tmp_path / "results"), env=env)
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    (said,) = [index for index, line in enumerate(lines) if "the OCR job is left out" in line]
    assert "Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-kor" in lines[said]
    assert said < next(index for index, line in enumerate(lines) if "starting the worker" in line)  # at once
    (speech,) = [line for line in lines if "the transcribe job is left out" in line]
    assert "espeak-ng is not installed (apt-get install espeak-ng)" in speech
    assert "READY" in result.stdout and "did not finish" not in result.stdout
    assert lines[-1] == ("exit status 3: the transcribe and OCR jobs were left out (what to install is said "
                         "above)")
    assert (tmp_path / "results" / "videos" / "7" / "42" / "hls" / "master.m3u8").exists()
    assert "play the video: serve the folder" in result.stdout and len(PLAY.findall(result.stdout)) == 1
    assert "(the OCR job did not run)" in (tmp_path / "results" / "index.html").read_text()


def test_a_job_that_fails_makes_the_demo_exit_1_and_say_which(tmp_path):
    # Sources may come only from the video's folder: the OCR page's key is refused, its job ends FAILED.
    env = {"PATH": path_without(tmp_path, "espeak-ng"), "ALLOWED_SOURCE_PREFIXES": "uploads/7/42/",
           "COLUMNS": "80", "TERM": "dumb"}
    result = demo("--seconds", "2", "--output", str(tmp_path / "results"), env=env)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "the OCR job is FAILED:" in result.stdout
    assert result.stdout.splitlines()[-1] == "exit status 1: the OCR job ended FAILED"


def test_the_verdict_of_each_way_a_run_can_end():
    Run = load_demo_results().Run
    ready, done = {"status": "READY"}, {"status": "DONE", "result": {"video_attached": True}}
    jobs = {"video": ("video", 42), "captions": ("ai", "a"), "OCR": ("ai", "b")}
    assert Run(jobs, rows={"video": ready, "captions": done, "OCR": done}).verdict() == (
        0, "every job ended as expected")
    assert Run(jobs, rows={"video": ready, "OCR": done}).verdict() == (1, "the captions job did not finish in time")
    unattached = {"status": "DONE", "result": {"video_attached": False}}
    assert Run(jobs, rows={"video": ready, "captions": unattached, "OCR": done}).verdict() == (
        1, "the captions were not added to the video")
    left = Run({"video": ("video", 42)}, left_out={"OCR": "no Tesseract"}, rows={"video": ready})
    assert left.verdict() == (3, "the OCR job was left out (what to install is said above)")
    failed = Run({"video": ("video", 42)}, left_out={"OCR": "no Tesseract"}, rows={"video": {"status": "FAILED"}})
    assert failed.verdict() == (1, "the video job ended FAILED")  # a failure outranks what was left out


def test_without_npm_the_player_page_says_what_to_install(tmp_path, monkeypatch):
    module = load_demo_results()
    monkeypatch.setattr(module, "ROOT", tmp_path)  # a clone where `npm ci` never ran
    monkeypatch.setenv("PATH", path_without(tmp_path, "npm"))
    video = {"id": 42, "hls_path": "videos/7/42/hls/master.m3u8", "thumbnail_key": "videos/7/42/thumbnail.jpg"}
    missing = module.write_player(tmp_path, video, "videos/7/42/")
    assert missing.startswith("hls.js comes from npm, which is not installed: apt-get install npm")
    page = (tmp_path / "index.html").read_text()
    assert 'data-missing-hls="hls.js comes from npm' in page and not (tmp_path / "hls.min.js").exists()


def test_an_output_folder_that_is_not_empty_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "kept.txt").write_text("a previous run")
    result = demo("--output", str(tmp_path), timeout=60)
    assert result.returncode == 2
    assert "--output" in result.stderr and "the folder is not empty" in result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["kept.txt"]


def test_the_test_command_names_missing_debian_packages_at_once(tmp_path):
    fake_dpkg = tmp_path / "dpkg-query"
    fake_dpkg.write_text("#!/bin/sh\nexit 1\n")  # nothing is installed
    fake_dpkg.chmod(0o755)
    fake_id = tmp_path / "id"
    fake_id.write_text("#!/bin/sh\necho 1000\n")  # not root: cannot install
    fake_id.chmod(0o755)
    result = subprocess.run(
        ["bash", "scripts/test.sh", "--collect-only"], cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "missing Debian packages for the tests: sudo apt-get install tesseract-ocr tesseract-ocr-kor "
        "tesseract-ocr-eng fonts-nanum chromium chromium-driver espeak-ng"
    )
