"""An operator's Whisper model (TRANSCRIBE_MODEL=<folder>): the second base conversion the dev
extras carry, joined into a folder with its manifest, run through the real sandbox, faster-whisper
and ffmpeg on espeak-ng speech; and every way a folder is refused before anything is loaded."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import jiwer
import pytest

from adapters.ai.engines.transcribe import SPEC
from adapters.ai.sandbox import EngineUnavailable, SandboxedEngine
from adapters.ai.whisper_manifest import MANIFEST_NAME
from domain.errors import TransientError
from settings import Settings
from tests.engine_runs import run_engine
from tests.services import ROOT
from tests.speech_models import MODEL_BIN_SHA256, flip_byte, operator_model
from tests.speech_samples import ENGLISH, have_espeak, speak
from tests.unit.fakes import FakeStorage

pytestmark = pytest.mark.skipif(not have_espeak() and os.environ.get("CI") != "true",  # in CI a missing espeak-ng fails
                                reason="espeak-ng is not installed (apt-get install espeak-ng)")

PAYLOAD = {"file_key": "uploads/7/lecture.wav", "lang": "en"}


def words_of(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return speak(tmp_path_factory.mktemp("speech") / "english.wav", ENGLISH)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The operator's folder as shipped; tests that damage it work on a copy."""
    return operator_model(tmp_path_factory.mktemp("models") / "whisper-base-second")


@pytest.fixture
def model(shipped, tmp_path):
    return shutil.copytree(shipped, tmp_path / "model")


def engine(folder) -> SandboxedEngine:
    return SandboxedEngine(SPEC, options={"model": str(folder), "cpu_threads": 2})


def transcribe(engine: SandboxedEngine, speech):
    return run_engine(engine, "transcribe", PAYLOAD, storage=FakeStorage({PAYLOAD["file_key"]: speech.read_bytes()}))


def test_an_operators_model_loads_and_transcribes(shipped, speech):
    sandboxed = engine(shipped)
    assert sandboxed.unavailable() is None
    result, objects, _, _ = transcribe(sandboxed, speech)
    assert result["lang"] == "en"
    assert jiwer.wer(words_of(ENGLISH), words_of(result["text"])) <= 0.3, result["text"]
    transcript = json.loads(next(data for key, data in objects.items() if key.endswith("/transcript.json")))
    assert transcript["model"] == "whisper-base-second-opinion"  # the manifest's name: this model ran


def test_one_changed_byte_is_refused_at_start_and_on_jobs(model, speech):
    flip_byte(model / "model.bin", 50_000_000)
    sandboxed = engine(model)
    reason = sandboxed.unavailable()
    assert reason == (f"the transcribe engine cannot run on this worker: refusing the Whisper model in {model}: "
                      f"model.bin has sha256 {_sha_prefix(model / 'model.bin')}..., its manifest pins "
                      f"{MODEL_BIN_SHA256[:12]}...")
    with pytest.raises(EngineUnavailable) as caught:  # retried: another worker may hold a good copy
        transcribe(sandboxed, speech)
    assert caught.value.reason == reason and isinstance(caught.value, TransientError)


def test_the_engines_child_checks_the_files_itself_before_loading(model, speech):
    """The worker checked the folder when it started; a file damaged since is still refused,
    by the process that would load it."""
    sandboxed = engine(model)
    assert sandboxed.unavailable() is None
    sandboxed.prepare(PAYLOAD)
    flip_byte(model / "tokenizer.json", 100)
    with pytest.raises(TransientError) as caught:
        sandboxed.run(_request(), speech, model.parent, _NoProgress())
    assert caught.value.reason.startswith(f"refusing the Whisper model in {model}: tokenizer.json has sha256 ")
    assert type(caught.value).__name__ == "TransientError"  # the domain's class: retried, then FAILED


def test_a_missing_manifest_is_refused(model):
    (model / MANIFEST_NAME).unlink()
    assert engine(model).unavailable() == (
        f"the transcribe engine cannot run on this worker: the Whisper model folder {model} has no "
        f"{MANIFEST_NAME} (write it with `python -m ops model manifest {model}`)")


def test_a_manifest_naming_a_missing_file_is_refused(model):
    (model / "vocabulary.json").unlink()
    assert engine(model).unavailable().endswith(
        f"refusing the Whisper model in {model}: vocabulary.json is missing (its manifest names it)")


def test_a_file_the_manifest_does_not_name_is_refused(model):
    # e.g. a preprocessor_config.json that would change the features faster-whisper computes
    (model / "preprocessor_config.json").write_text('{"feature_size": 128}')
    assert engine(model).unavailable().endswith(
        "preprocessor_config.json is not in its manifest (remove it, or write the manifest again)")


def test_a_manifest_that_lies_about_the_parameters_is_refused(model):
    manifest = json.loads((model / MANIFEST_NAME).read_text())
    manifest["parameters"] = 763_857_920  # says medium, to get medium's limits
    (model / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert engine(model).unavailable().endswith(
        "model.bin holds 72603147 parameters, its manifest says 763857920")


def test_the_pinned_base_is_still_the_default():
    settings = Settings(_env_file=None)
    assert settings.transcribe_model == "base" and settings.engine_options["transcribe"]["model"] == "base"
    default = SandboxedEngine(SPEC, options=settings.engine_options["transcribe"])
    assert default.unavailable() is None
    spec = default.configured_spec
    assert (spec.memory_mb, spec.timeout_seconds) == (SPEC.memory_mb, SPEC.timeout_seconds) == (3072, 10920)


def test_the_manifest_command_writes_and_checks_a_folder(shipped, tmp_path):
    folder = shutil.copytree(shipped, tmp_path / "medium-int8")
    (folder / MANIFEST_NAME).unlink()

    def ops(*args):
        return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "LOG_FORMAT": "text"})

    written = ops("model", "manifest", str(folder))
    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith(f"wrote {folder}/{MANIFEST_NAME}: whisper-medium-int8, 73 M parameters "
                                     "(base size class)")
    pinned = json.loads((folder / MANIFEST_NAME).read_text())
    assert pinned["files"]["model.bin"] == {"sha256": MODEL_BIN_SHA256, "bytes": 145_217_607}
    checked = ops("model", "check", str(folder), "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["limits"]["memory_mb"] == 3072
    flip_byte(folder / "config.json", 10)
    refused = ops("model", "check", str(folder))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip().startswith(f"error: refusing the Whisper model in {folder}: config.json has sha256")


def _sha_prefix(path) -> str:
    from adapters.ai.whisper_manifest import sha256_of

    return sha256_of(path)[:12]


def _request():
    from domain.ai.model import AIJobRequest

    return AIJobRequest("0d9c6a56-2f4e-4f8e-9c55-6f1b2a0c7e11", "transcribe", PAYLOAD, 7)


class _NoProgress:
    def step(self, *args) -> None:
        pass
