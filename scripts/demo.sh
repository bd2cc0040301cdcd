#!/usr/bin/env bash
# The embedded demo: installs into .venv if needed, then runs one video job
# and one OCR job through the real worker with moto (SQS, S3), fakeredis and
# SQLite. Tesseract (and the Hangul font of the OCR page) are installed when
# this runs as root with apt-get; otherwise the demo says what to install and
# runs the video job alone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/debian-packages.sh "the demo's OCR job" tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng fonts-nanum || true
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e '.[demo]'
exec .venv/bin/python scripts/demo.py "$@"
