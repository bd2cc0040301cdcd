#!/usr/bin/env bash
# The embedded demo: installs into .venv if needed, then runs one video job
# through the real worker with moto (SQS, S3), fakeredis and SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e '.[demo]'
exec .venv/bin/python scripts/demo.py "$@"
