"""bench/chapters.py runs end to end on tiny sources (its smoke mode) and reports every figure it promises.

This is its smoke run: tests/integration/test_bench_smoke.py leaves it to this module, which checks the figures too."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from adapters.ai.engines.ocr import missing_prerequisites
from tests.services import AWS_ENV, ROOT
from tests.slide_samples import REGULAR

pytestmark = pytest.mark.skipif(bool(missing_prerequisites()) or not REGULAR.exists(),
                                reason="needs tesseract-ocr-kor/-eng and fonts-nanum")


@pytest.mark.timeout(900)
def test_the_chapters_bench_runs_on_tiny_sources(tmp_path):
    run = subprocess.run([sys.executable, "-m", "bench.chapters", "--smoke", "--folder", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=880,
                         env={**os.environ, **AWS_ENV, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "## Accuracy, heading zone signal" in out and "## Accuracy, whole frame signal" in out
    goals = re.search(r"goals: every slide change within 1 s \((\d+)/(\d+)\), no chapter at a build \((\d+)\), "
                      r"none without slides or elsewhere \((\d+)\), title CER <= 0.10 \(en ([\d.]+), ko ([\d.]+)\)", out)
    assert goals, out
    found, changes, at_builds, extra = map(int, goals.groups()[:4])
    assert (found, changes, at_builds, extra) == (2, 2, 0, 0)
    assert re.search(r"ratio \(with / without, medians\): wall [\d.]+, CPU [\d.]+", out), out
