#!/usr/bin/env bash
# The embedded demo: installs into .venv if needed, then runs a video job, a
# transcribe job captioning it and an OCR job through the real worker with
# moto (SQS, S3), fakeredis and SQLite. espeak-ng (the video's speech),
# Tesseract and the Hangul font of the OCR page are installed when this runs
# as root with apt-get; otherwise the demo says what to install and runs the
# jobs it can.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/debian-packages.sh "the demo's OCR and transcribe jobs" \
    tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng fonts-nanum espeak-ng || true
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e '.[demo]'
exec .venv/bin/python scripts/demo.py "$@"
