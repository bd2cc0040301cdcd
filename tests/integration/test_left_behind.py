"""What a test run or a job leaves on the machine: nothing that outlives its use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from adapters.ai.engines.transcribe import SPEC
from adapters.ai.sandbox import SandboxedEngine
from tests.engine_runs import run_engine
from tests.services import ROOT
from tests.speech_samples import silence
from tests.unit.fakes import FakeStorage


def test_a_transcription_writes_nothing_under_the_users_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)
    storage = FakeStorage()
    storage.objects["uploads/7/quiet.ogg"] = silence(tmp_path / "quiet.ogg", seconds=3).read_bytes()
    result, _, _, _ = run_engine(SandboxedEngine(SPEC), "transcribe", {"file_key": "uploads/7/quiet.ogg"},
                                 storage=storage)
    assert result is not None and result["segments"] == []  # the engine ran, its voice detection too
    assert sorted(str(path.relative_to(home)) for path in home.rglob("*")) == []


PASSING_AND_FAILING = '''
def test_passes(tmp_path, tmp_path_factory):
    (tmp_path / "big").write_bytes(b"x" * 1000)
    (tmp_path_factory.mktemp("shared") / "big").write_bytes(b"x" * 1000)

def test_fails(tmp_path):
    (tmp_path / "evidence").write_text("kept to look at")
    assert False
'''


def files_left(temproot: Path) -> list[str]:
    return sorted(path.name for path in temproot.rglob("*") if path.is_file())


def run_pytest_with_the_project_options(tests: str, folder: Path) -> Path:
    """Run ``tests`` (a module's source) under pyproject.toml's pytest options; return pytest's temporary root."""
    folder.mkdir()
    (folder / "test_sample.py").write_text(textwrap.dedent(tests))
    temproot = folder / "temproot"
    temproot.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "PYTEST_DEBUG_TEMPROOT": str(temproot)}
    subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(folder),
                    "-p", "no:cacheprovider", "-q", str(folder / "test_sample.py")],
                   cwd=folder, env=env, stdout=subprocess.DEVNULL, timeout=120)
    return temproot


def test_the_test_suite_keeps_only_the_temporary_folders_of_failed_tests(tmp_path):
    assert files_left(run_pytest_with_the_project_options(PASSING_AND_FAILING, tmp_path / "mixed")) == [
        "big", "evidence"]  # the failed test's folder, and the session's (a test failed)
    passing = PASSING_AND_FAILING.split("def test_fails")[0]
    assert files_left(run_pytest_with_the_project_options(passing, tmp_path / "passing")) == []
