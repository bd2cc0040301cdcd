"""What checking a Whisper model costs before it is loaded, per job and per worker start.

Baseline: the pinned base's checked copy (whisper_weights.verified_copy: join the package
parts into the job's folder, hashing on the way), what every job of the default model pays.
Against it, in the same run and interleaved: an operator's folder checked in place against
its manifest (whisper_manifest.check_folder: what the engine's child pays per job, and the
worker once at start), and the worker's check before each later job (verified(): one stat
per file while nothing changed). The operator's folder is the second base conversion of the
dev extras, the same size as the pinned one, so the ratio is the method's alone; a bigger
model costs in proportion to its bytes (printed per GB).

    .venv/bin/python bench/model_check.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.ai.whisper_manifest import check_folder, read_manifest, verified  # noqa: E402
from adapters.ai.whisper_weights import WHISPER_BASE, verified_copy  # noqa: E402
from bench.common import parse_options, timed  # noqa: E402
from tests.speech_models import operator_model  # noqa: E402

SMOKE = {"rounds": 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parse_options(parser, SMOKE)
    with tempfile.TemporaryDirectory() as tmp:
        folder = operator_model(Path(tmp) / "model")
        manifest = read_manifest(folder)
        size_gb = sum(entry.size for entry in manifest.files.values()) / 1e9
        copies, checks = [], []
        for round_ in range(args.rounds):
            target = Path(tmp) / f"copy-{round_}"
            copies.append(timed(lambda: verified_copy(WHISPER_BASE, target)))
            shutil.rmtree(target)
            checks.append(timed(lambda: check_folder(folder, manifest)))
        verified(folder)
        cached = [timed(lambda: verified(folder)) for _ in range(100)]
    copy, check, again = statistics.median(copies), statistics.median(checks), statistics.median(cached)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds, medians; model files {size_gb:.3f} GB")
    print(f"pinned base, checked copy per job (baseline): {copy:6.3f} s")
    print(f"operator's folder, checked in place per job:  {check:6.3f} s  ({check / copy:.2f} x the baseline; "
          f"{check / size_gb:.2f} s per GB)")
    print(f"worker's check before a job, nothing changed: {again * 1000:6.3f} ms ({again / copy:.5f} x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
