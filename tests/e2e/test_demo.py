"""The README's first command: the embedded demo runs to a READY video row and a DONE OCR row."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.services import ROOT

pytestmark = pytest.mark.e2e


def test_embedded_demo_ends_with_the_ready_row_and_hls_files():
    result = subprocess.run(
        [sys.executable, "scripts/demo.py", "--seconds", "4", "--height", "360", "--timeout", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "READY" in result.stdout and "videos/7/42/hls/master.m3u8" in result.stdout
    assert "videos/7/42/hls/360p/seg_00000.ts" in result.stdout
    assert "100%" in result.stdout
    assert "the DONE AI row" in result.stdout and "Please read chapter 3 aloud" in result.stdout
