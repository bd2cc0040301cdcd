#!/usr/bin/env bash
# All checks: import-linter contracts, then unit, integration and end-to-end
# tests against PostgreSQL (127.0.0.1:5432, database test), Redis
# (127.0.0.1:6379) and moto's server (started by the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# Tesseract with Korean and English data and the Hangul font for the OCR tests,
# Chromium and its driver for the browser tests: installed when run as root
# with apt-get, else named at once (a first run fails in seconds, not minutes).
scripts/debian-packages.sh "the tests" \
    tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng fonts-nanum chromium chromium-driver espeak-ng
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e '.[dev]'
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
