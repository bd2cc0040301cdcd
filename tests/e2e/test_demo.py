"""The README's first command: the embedded demo runs to a READY video row with captions and a DONE OCR row."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.services import ROOT, free_port

pytestmark = pytest.mark.e2e


def test_embedded_demo_ends_with_the_ready_row_and_hls_files():
    result = subprocess.run(
        [sys.executable, "scripts/demo.py", "--seconds", "4", "--height", "360", "--timeout", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, env={**os.environ, "COLUMNS": "200", "TERM": "dumb"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "READY" in result.stdout and "videos/7/42/hls/master.m3u8" in result.stdout
    assert "videos/7/42/hls/360p/seg_00000.ts" in result.stdout
    assert "100%" in result.stdout
    assert "the DONE AI row" in result.stdout and "Please read chapter 3 aloud" in result.stdout
    # The video speaks (espeak-ng), and its captions went to its player: the master lists them.
    assert "captions added to the video's player (hls/subs/en/)" in result.stdout, result.stdout[-3000:]
    assert "videos/7/42/hls/subs/en/captions.vtt" in result.stdout
    assert 'SUBTITLES="subs"' in result.stdout and "welcome to the media worker" in result.stdout.lower()


def test_demo_with_dashboard_serves_it_until_stopped(tmp_path):
    port = free_port()
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        demo = subprocess.Popen(
            [sys.executable, "scripts/demo.py", "--seconds", "2", "--height", "360", "--timeout", "120",
             "--dashboard", str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={**os.environ, "COLUMNS": "200", "TERM": "dumb"},
        )
    try:
        deadline = time.monotonic() + 200
        while "Ctrl-C stops the demo" not in log.read_text() and time.monotonic() < deadline:
            assert demo.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        password = re.search(r"user admin, password (\S+)\)", text).group(1)
        url = f"http://127.0.0.1:{port}/"
        assert requests.get(url, timeout=10).status_code == 401
        overview = requests.get(url, auth=("admin", password), timeout=10)
        assert overview.status_code == 200 and "video-jobs-dlq" in overview.text and "READY" in overview.text
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)


def test_without_tesseract_and_espeak_the_demo_says_what_to_install_at_once_and_runs_the_video_job():
    from tests.services import BIN

    env = {**os.environ, "PATH": str(BIN), "COLUMNS": "200", "TERM": "dumb"}  # no /usr/bin: no tesseract, no espeak-ng
    result = subprocess.run(
        [sys.executable, "scripts/demo.py", "--seconds", "2", "--height", "360", "--timeout", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    (said,) = [index for index, line in enumerate(lines) if "the OCR job is left out" in line]
    assert "Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-kor" in lines[said]
    assert said < next(index for index, line in enumerate(lines) if "starting the worker" in line)  # at once
    (speech,) = [line for line in lines if "the transcribe job is left out" in line]
    assert "espeak-ng is not installed (apt-get install espeak-ng)" in speech
    assert "READY" in result.stdout and "did not finish" not in result.stdout


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
