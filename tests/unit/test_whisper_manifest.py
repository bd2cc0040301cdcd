"""An operator's model folder: the manifest's rules, model.bin's header, the size classes and the
limits they give the engine. model.bin here is a synthetic CTranslate2 header (weights left out:
the header's shapes are what decides a model's size), so a "medium" folder costs a few bytes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from adapters.ai.engines.transcribe import MAX_RUN_SECONDS, SPEC, time_limit
from adapters.ai.whisper_limits import BASE, limits_for
from adapters.ai.whisper_manifest import (MANIFEST_NAME, ModelRefused, model_shape, parse_manifest, verified,
                                          write_manifest)
from domain.errors import LimitExceeded

MEDIUM = 763_857_920  # Whisper medium's weights as CTranslate2 counts them (about)


def header(spec: str = "WhisperSpec", *, mel_bins: int = 80, parameters: int = 72_603_147, version: int = 6) -> bytes:
    """A model.bin header: the conv1 weight (d_model x mel bins x 3) and one variable with the rest."""

    def string(text: str) -> bytes:
        data = text.encode() + b"\0"
        return struct.pack("<H", len(data)) + data

    def variable(name: str, shape: list[int]) -> bytes:
        return string(name) + struct.pack("<B", len(shape)) + b"".join(struct.pack("<I", d) for d in shape) + \
            struct.pack("<BI", 4, 0)

    conv = [512, mel_bins, 3]
    rest = parameters - 512 * mel_bins * 3
    return (struct.pack("<I", version) + string(spec) + struct.pack("<II", 3, 2)
            + variable("encoder/conv1/weight", conv) + variable("decoder/rest", [rest]) + struct.pack("<I", 0))


def folder_with(tmp_path: Path, model_bin: bytes, *extra: str) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.bin").write_bytes(model_bin)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt", *extra):
        (folder / name).write_text("{}")
    return folder


def test_a_manifest_pins_every_file_and_the_weights_count(tmp_path):
    folder = folder_with(tmp_path, header())
    manifest = write_manifest(folder)
    assert manifest.name == "model" and manifest.parameters == 72_603_147
    assert sorted(manifest.files) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert verified(folder) == manifest
    written = json.loads((folder / MANIFEST_NAME).read_text())
    assert written["format"] == 1 and written["files"]["config.json"]["bytes"] == 2


@pytest.mark.parametrize("model_bin,extra,reason", [
    (header("TransformerSpec"), (), "model.bin is a CTranslate2 TransformerSpec, not a Whisper model"),
    (header(mel_bins=128), (), "model.bin takes 128 mel bins and preprocessor_config.json is missing "
                               "(convert with --copy_files tokenizer.json preprocessor_config.json)"),
    (header()[:30], (), "model.bin is not a CTranslate2 model (its header is cut short or garbled)"),
    (b"PK\x03\x04" + bytes(60), (), "model.bin is not a CTranslate2 model of a known version"),
])
def test_what_faster_whisper_could_not_load_offline_gets_no_manifest(tmp_path, model_bin, extra, reason):
    folder = folder_with(tmp_path, model_bin, *extra)
    with pytest.raises(ModelRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        write_manifest(folder)
    assert not (folder / MANIFEST_NAME).exists()


def test_large_v3_with_its_preprocessor_config_is_accepted(tmp_path):
    folder = folder_with(tmp_path, header(mel_bins=128, parameters=1_543_490_560), "preprocessor_config.json")
    assert write_manifest(folder, "large-v3").parameters == 1_543_490_560
    assert model_shape(folder / "model.bin").mel_bins == 128


def test_a_folder_with_a_subfolder_or_without_model_bin_is_refused(tmp_path):
    folder = folder_with(tmp_path, header())
    (folder / "nested").mkdir()
    with pytest.raises(ModelRefused, match="nested is not a file: a model folder holds its files only"):
        write_manifest(folder)
    (folder / "nested").rmdir()
    (folder / "model.bin").unlink()
    with pytest.raises(ModelRefused, match="has no model.bin"):
        write_manifest(folder)


GOOD = {"sha256": "0" * 64, "bytes": 1}
FILES = {"model.bin": GOOD, "config.json": GOOD, "tokenizer.json": GOOD, "vocabulary.json": GOOD}


@pytest.mark.parametrize("data,reason", [
    ("not json", "is not JSON"),
    ({"format": 2, "name": "m", "parameters": 1, "files": FILES}, "is not a model manifest of format 1"),
    ({"format": 1, "name": "a b", "parameters": 1, "files": FILES}, "name must be 1-64 letters"),
    ({"format": 1, "name": "m", "parameters": True, "files": FILES}, "parameters must be a positive whole number"),
    ({"format": 1, "name": "m", "parameters": 1, "files": {**FILES, "../../etc/passwd": GOOD}},
     "'../../etc/passwd' is not a plain file name"),
    ({"format": 1, "name": "m", "parameters": 1, "files": {**FILES, ".download.lock": GOOD}}, "is not a plain file"),
    ({"format": 1, "name": "m", "parameters": 1, "files": {**FILES, MANIFEST_NAME: GOOD}}, "is not a plain file"),
    ({"format": 1, "name": "m", "parameters": 1, "files": {**FILES, "model.bin": {"sha256": "ABC", "bytes": 1}}},
     "model.bin needs a sha256"),
    ({"format": 1, "name": "m", "parameters": 1, "files": {**FILES, "model.bin": {"sha256": "0" * 64, "bytes": -1}}},
     "model.bin needs a sha256"),
    ({"format": 1, "name": "m", "parameters": 1, "files": {k: v for k, v in FILES.items() if k != "tokenizer.json"}},
     "names no tokenizer.json"),
    ({"format": 1, "name": "m", "parameters": 1, "files": {k: v for k, v in FILES.items() if k != "vocabulary.json"}},
     "names no vocabulary.json or vocabulary.txt"),
])
def test_a_malformed_or_hostile_manifest_is_refused(data, reason):
    with pytest.raises(ModelRefused, match=reason.replace(".", r"\.")):
        parse_manifest(data if isinstance(data, str) else json.dumps(data), where="m.json")


def test_a_refused_folder_is_remembered_until_it_changes(tmp_path, monkeypatch):
    import adapters.ai.whisper_manifest as manifests

    folder = folder_with(tmp_path, header())
    write_manifest(folder)
    (folder / "config.json").write_text("{ }")
    hashed = []
    real = manifests.sha256_of
    monkeypatch.setattr(manifests, "sha256_of", lambda path: hashed.append(path.name) or real(path))
    for _ in range(3):  # a job each: the folder is hashed once, not before every job
        with pytest.raises(ModelRefused, match="config.json has 3 bytes, its manifest pins 2"):
            verified(folder)
    (folder / "config.json").write_text("{}")
    assert verified(folder).parameters == 72_603_147
    assert verified(folder).parameters == 72_603_147
    assert hashed.count("model.bin") == 1


@pytest.mark.parametrize("parameters,size", [
    (None, "base"), (37_760_640, "base"), (72_603_147, "base"), (241_734_912, "small"), (MEDIUM, "medium"),
    (808_878_080, "medium"), (1_543_490_560, "large"),
])
def test_each_model_gets_the_limits_of_its_size(parameters, size):
    limits = limits_for(parameters)
    assert limits.size == size
    sizes = [limits_for(p) for p in (72_603_147, 241_734_912, MEDIUM, 1_543_490_560)]
    for smaller, bigger in zip(sizes, sizes[1:]):
        assert smaller.memory_mb < bigger.memory_mb and smaller.seconds_per_audio_second < bigger.seconds_per_audio_second
    overridden = limits_for(parameters, memory_mb=5000, seconds_per_audio_second=1.5)
    assert (overridden.size, overridden.memory_mb, overridden.seconds_per_audio_second) == (size, 5000, 1.5)


def test_a_medium_model_folder_raises_the_engines_limits(tmp_path):
    folder = folder_with(tmp_path, header(parameters=MEDIUM))
    write_manifest(folder, "medium")
    spec = SPEC.configured({"model": str(folder)})
    assert spec.unavailable() is None
    assert spec.memory_mb == 6144 > SPEC.memory_mb == BASE.memory_mb
    assert spec.timeout_for(3600) == 300 + 4.0 * 3600 > SPEC.timeout_for(3600)
    with pytest.raises(LimitExceeded, match="a 4.0-hour source may take up to 16.1 hours with the medium Whisper "
                                            "model this worker runs, more than the 11 hours a job may run"):
        spec.timeout_for(4 * 3600)
    assert spec.timeout_seconds == MAX_RUN_SECONDS
    tuned = SPEC.configured({"model": str(folder), "memory_mb": 8192, "seconds_per_audio_second": 2.0})
    assert (tuned.memory_mb, tuned.timeout_for(4 * 3600)) == (8192, 300 + 2.0 * 4 * 3600)


def test_a_folder_not_there_yet_leaves_room_for_any_size(tmp_path):
    """The worker sizes its actors' time limit at start, maybe before the model's download succeeds."""
    spec = SPEC.configured({"model": str(tmp_path / "not-downloaded-yet")})
    assert spec.unavailable() == (f"the transcribe engine cannot run on this worker: there is no Whisper model folder "
                                  f"{tmp_path / 'not-downloaded-yet'}")
    assert spec.timeout_seconds == MAX_RUN_SECONDS


def test_the_pinned_base_keeps_its_limits():
    spec = SPEC.configured({"model": "base"})
    assert (spec.memory_mb, spec.timeout_seconds, spec.timeout_for(600)) == (3072, 10920, time_limit(600))
    assert spec.unavailable() is None
