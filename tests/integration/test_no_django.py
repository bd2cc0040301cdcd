"""The worker's import graph holds no Django: checked in a fresh interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

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


# A planted import per contract, in a copy of the tree: each must break that contract (a planted import
# in the domain also breaks the contracts of every layer that imports the domain).
PLANTS = [
    ("domain/errors.py", "import settings", "The domain is plain Python"),
    ("domain/jobs.py", "import bootstrap", "The domain is plain Python"),
    ("domain/video/model.py", "import pydantic", "The domain is plain Python"),
    ("domain/flow.py", "import domain.video.model", "The shared domain knows no kind"),
    ("domain/ports.py", "import domain.ai.ports", "The shared domain knows no kind"),
    ("domain/video/handler.py", "import domain.ai.model", "The video kind does not depend on the AI kind"),
    ("adapters/sqs/codec.py", "import tasks.video", "Adapters are given what they need"),
    ("adapters/db/tables.py", "import kinds", "Adapters are given what they need"),
    ("adapters/storage/s3.py", "import settings", "Adapters are given what they need"),
    ("adapters/worker/give_up.py", "import adapters.redis.lock", "imports no concrete adapter"),
    ("adapters/worker/presence.py", "import adapters.sqs.broker", "imports no concrete adapter"),
    ("kinds/video.py", "import settings", "Kind declarations are data"),
    ("kinds/ai.py", "import ops.service", "Kind declarations are data"),
    ("ops/render.py", "import tasks", "Operator tools never import the actors"),
    ("tasks/video.py", "import django", "Nothing imports Django"),
]


@pytest.mark.parametrize(("module", "line", "contract"), PLANTS, ids=[f"{m}: {l}" for m, l, _ in PLANTS])
def test_every_contract_fails_on_a_planted_import(tmp_path, module, line, contract):
    for name in ("domain", "adapters", "kinds", "tasks", "ops", "bootstrap"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("settings.py", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    with open(tmp_path / module, "a") as source:
        source.write(f"\n{line}  # planted\n")
    lint = ROOT / ".venv/bin/lint-imports"
    result = subprocess.run(  # PYTHONPATH first: the copy, not the installed project, is analysed
        [str(lint) if lint.exists() else "lint-imports"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode != 0, result.stdout
    broken = [text for text in result.stdout.replace("\n", " ").split(" KEPT") if "BROKEN" in text]
    assert any(contract in text for text in broken), result.stdout


def test_no_module_imports_itself_through_others_not_even_for_type_checking():
    """No import cycle between the project's modules (``if TYPE_CHECKING:`` imports count too); a
    package and its own modules aside."""
    import grimp

    graph = grimp.build_graph("domain", "adapters", "kinds", "tasks", "ops", "bootstrap")
    cycles = {
        tuple(sorted((module, imported)))
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported in graph.modules and not (imported.startswith(module + ".") or module.startswith(imported + "."))
        and graph.chain_exists(importer=imported, imported=module)
    }
    assert cycles == set()
