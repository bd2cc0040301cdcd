#!/usr/bin/env bash
# All checks: import-linter contracts, then unit, integration and end-to-end
# tests against PostgreSQL (127.0.0.1:5432, database test), Redis
# (127.0.0.1:6379) and moto's server (started by the tests); hls.js comes from
# npm for the player test.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e '.[dev]'
# hls.js for the player test, pinned by package-lock.json, from the npm registry.
if command -v npm >/dev/null 2>&1; then
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
else
    echo "npm not found: the hls.js player test will be skipped (it fails under CI=true)" >&2
fi
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
