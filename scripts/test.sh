#!/usr/bin/env bash
# All checks: import-linter contracts, then unit, integration and end-to-end
# tests against PostgreSQL (127.0.0.1:5432, database test), Redis
# (127.0.0.1:6379) and moto's server (started by the tests); hls.js comes from
# npm for the player test.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tesseract with Korean and English data and the Hangul font for the OCR tests,
# Chromium and its driver for the browser tests: installed when run as root
# with apt-get, else named at once (a first run fails in seconds, not minutes).
scripts/debian-packages.sh "the tests" \
    tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng fonts-nanum chromium chromium-driver espeak-ng
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e '.[dev]'
# hls.js for the player tests, pinned by package-lock.json, from the npm registry (any Node >= 18).
command -v npm >/dev/null 2>&1 || scripts/debian-packages.sh "the player tests (npm)" nodejs npm
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
