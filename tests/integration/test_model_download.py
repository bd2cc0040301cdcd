"""An operator's Whisper model under an S3 prefix (TRANSCRIBE_MODEL_S3_PREFIX), downloaded into the
local folder at start: real S3Storage against moto's server over HTTP, the second base conversion
as the model."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adapters.ai.engines.transcribe import SPEC
from adapters.ai.sandbox import EngineUnavailable, SandboxedEngine
from adapters.ai.whisper_fetch import DownloadedModelEngine, ModelDownload
from adapters.ai.whisper_manifest import MANIFEST_NAME, verified
from adapters.storage import S3Storage
from tests.speech_models import MODEL_BIN_SHA256, operator_model

PREFIX = "models/whisper-base-second/"


class CountingStorage(S3Storage):
    """S3Storage that remembers which objects it downloaded."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.downloaded: list[str] = []

    def download(self, key: str, dest: Path) -> None:
        self.downloaded.append(key.removeprefix(PREFIX))
        super().download(key, dest)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    return operator_model(tmp_path_factory.mktemp("models") / "whisper-base-second")


@pytest.fixture
def storage(moto, bucket, shipped):
    storage = CountingStorage(moto.client("s3"), bucket)
    for path in shipped.iterdir():
        storage.upload(path, PREFIX + path.name)
    storage.downloaded.clear()
    return storage


def test_the_model_is_downloaded_checked_and_kept(storage, tmp_path):
    folder = tmp_path / "cache" / "whisper"
    download = ModelDownload(storage, PREFIX, folder)
    assert download.ensure() is None
    assert sorted(storage.downloaded) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    assert verified(folder).files["model.bin"].sha256 == MODEL_BIN_SHA256
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "config.json", MANIFEST_NAME, "model.bin", "tokenizer.json", "vocabulary.json"]
    assert download.ensure() is None and len(storage.downloaded) == 4  # once per process

    # A restart on a disk that kept the folder: only what is missing or different is fetched,
    # and what the manifest does not name is removed.
    (folder / "tokenizer.json").write_bytes(b"{}")
    (folder / "stale.bin").write_bytes(b"an older model's file")
    storage.downloaded.clear()
    assert ModelDownload(storage, PREFIX, folder).ensure() is None
    assert storage.downloaded == ["tokenizer.json"] and not (folder / "stale.bin").exists()
    assert SandboxedEngine(SPEC, options={"model": str(folder)}).unavailable() is None


def test_a_tampered_object_is_refused_and_never_takes_a_files_place(storage, shipped, tmp_path):
    tampered = tmp_path / "tokenizer.json"
    tampered.write_bytes(shipped.joinpath("tokenizer.json").read_bytes().replace(b"<|en|>", b"<|xx|>", 1))
    storage.upload(tampered, PREFIX + "tokenizer.json")
    folder = tmp_path / "cache"
    download = ModelDownload(storage, PREFIX, folder, retry_seconds=3600)
    engine = DownloadedModelEngine(SandboxedEngine(SPEC, options={"model": str(folder)}), download, "transcribe")
    reason = engine.unavailable()
    assert reason.startswith(f"the transcribe engine cannot run on this worker: no Whisper model from the S3 prefix "
                             f"{PREFIX}: {PREFIX}tokenizer.json has sha256 ")
    assert not (folder / "tokenizer.json").exists() and not list(folder.glob(".*.partial"))
    assert not (folder / MANIFEST_NAME).exists()  # written last, only for a complete folder
    with pytest.raises(EngineUnavailable) as caught:
        engine.prepare({"file_key": "uploads/7/a.wav"})
    assert caught.value.reason == reason
    tries = len(storage.downloaded)
    storage.upload(shipped / "tokenizer.json", PREFIX + "tokenizer.json")  # fixed in the bucket
    assert engine.unavailable() == reason and len(storage.downloaded) == tries  # not before retry_seconds
    download.retry_seconds = 0
    assert engine.unavailable() is None
    assert engine.prepare({"file_key": "uploads/7/a.wav"})["file_key"] == "uploads/7/a.wav"


def test_a_prefix_without_a_manifest_says_so(storage, tmp_path):
    reason = ModelDownload(storage, "models/none/", tmp_path / "cache").ensure()
    assert reason == ("no Whisper model from the S3 prefix models/none/: the bucket has no "
                      "models/none/model-manifest.json (upload the model folder with its manifest there)")


def test_two_processes_filling_one_folder_at_once_both_end_with_the_model(storage, tmp_path):
    folder = tmp_path / "shared"
    reasons: list = []
    threads = [threading.Thread(target=lambda: reasons.append(ModelDownload(storage, PREFIX, folder).ensure()))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert reasons == [None, None]
    assert storage.downloaded.count("model.bin") == 1  # the second waited for the first, then kept its files
    assert verified(folder).name == "base-second-opinion"


def test_a_folder_holding_other_files_is_never_emptied(storage, tmp_path):
    folder = tmp_path / "shared-tmp"  # TRANSCRIBE_MODEL=/tmp by mistake
    folder.mkdir()
    (folder / "someone-elses.txt").write_text("keep me")
    reason = ModelDownload(storage, PREFIX, folder).ensure()
    assert reason == (f"no Whisper model from the S3 prefix {PREFIX}: {folder} holds other files (someone-elses.txt, "
                      f"...) and no {MANIFEST_NAME}: give the model a folder of its own")
    assert (folder / "someone-elses.txt").read_text() == "keep me" and not (folder / "model.bin").exists()
