#!/usr/bin/env bash
# The embedded demo: installs into .venv if needed, then runs a video job, a
# transcribe job captioning it and an OCR job through the real worker with
# moto (SQS, S3), fakeredis and SQLite, and keeps the results in a folder it
# names at the end, with a player page. espeak-ng (the video's speech),
# Tesseract and the Hangul font of the OCR page are installed when this runs
# as root with apt-get; otherwise the demo says what to install and runs the
# jobs it can. hls.js for the player page comes from npm, pinned by
# package-lock.json, as the tests get it; without npm the demo says what to
# install. Exit status: 0 every job ended as expected, 1 one did not, 3 some
# were left out (the table at the top of README).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"  # no cd: a relative --output DIR is the caller's
"$root/scripts/debian-packages.sh" "the demo's OCR and transcribe jobs" \
    tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng fonts-nanum espeak-ng || true
[ -x "$root/.venv/bin/python" ] || python3 -m venv "$root/.venv"
"$root/.venv/bin/python" -m pip install -q -e "$root[demo]"
if command -v npm >/dev/null 2>&1; then
    npm ci --prefix "$root" --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null ||
        echo "npm ci failed: the demo's player page will lack hls.js" >&2
fi
exec "$root/.venv/bin/python" "$root/scripts/demo.py" "$@"
