"""The worker's import graph holds no Django: checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.services import ROOT

PROBE = """
import json, sys
import tasks.video, tasks.ai, ops.cli, ops.web
from tasks import container
container.engines  # builds the registry: every engine's spec module is imported
ops.web.create_app()
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework'))))
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & MODEL_RUNTIMES)))
"""
# Loaded only inside the engine sandbox's child: never in the worker itself.
MODEL_RUNTIMES = {"faster_whisper", "ctranslate2", "onnxruntime", "tokenizers", "pytesseract"}


def test_importing_the_actors_and_the_ops_tools_imports_no_django_and_no_model_runtime():
    for broker in ("stub", "sqs", "redis"):
        result = subprocess.run(
            [sys.executable, "-c", f"MODEL_RUNTIMES = {MODEL_RUNTIMES!r}" + PROBE], cwd=ROOT, capture_output=True,
            text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "BROKER": broker, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
        )
        assert result.returncode == 0, result.stderr
        *_, django, runtimes = result.stdout.strip().splitlines()
        assert json.loads(django) == [] and json.loads(runtimes) == []


def test_import_linter_contracts_hold():
    result = subprocess.run(
        [str(ROOT / ".venv/bin/lint-imports") if (ROOT / ".venv/bin/lint-imports").exists() else "lint-imports"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "Nothing imports Django KEPT" in result.stdout
    assert "Operator tools never import the actors (they must not start a worker) KEPT" in result.stdout
