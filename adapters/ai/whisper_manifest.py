"""An operator's Whisper model: a folder of CTranslate2 files and the manifest that pins them.

An operator converts a bigger Whisper model (small, medium, large-v3-turbo)
where there is internet, writes its manifest (``python -m ops model manifest
FOLDER``: the sha256 and size of every file, and the model's parameter count)
and ships the folder with it. The worker loads nothing from such a folder
unless every file matches the manifest, no file the manifest does not name
lies beside them, and model.bin really is the Whisper model the manifest
describes. Nothing here imports CTranslate2: the worker process checks a
folder at start without loading the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from adapters.ai.ctranslate2_header import ModelShape, read_header
from domain.errors import TransientError

MANIFEST_NAME = "model-manifest.json"
FORMAT = 1
# What CTranslate2 and faster-whisper read from the folder. Without tokenizer.json
# faster-whisper would fetch one from a hub; without a vocabulary CTranslate2 cannot load.
REQUIRED = ("model.bin", "config.json", "tokenizer.json")
VOCABULARIES = ("vocabulary.json", "vocabulary.txt")
PREPROCESSOR = "preprocessor_config.json"
# faster-whisper's feature extractor assumes 80 mel bins unless preprocessor_config.json says otherwise.
DEFAULT_MEL_BINS = 80
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


class ModelRefused(TransientError):
    """The folder's files do not make the model its manifest pins: it is never loaded.

    Transient on purpose: the job is fine, the deployment is not; another worker (or
    this one once the folder is fixed) runs it."""


@dataclass(frozen=True)
class PinnedEntry:
    """One file of the folder: its sha256 (hex) and its size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What a model folder must hold.

    Parameters:
      name: how transcripts name the model (``whisper-<name>``), e.g. ``medium``.
      parameters: the number of weights in model.bin (it decides the default limits).
      files: file name -> its pinned sha256 and size.
    """

    name: str
    parameters: int
    files: dict[str, PinnedEntry]

    def as_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "name": self.name, "parameters": self.parameters,
            "files": {name: {"sha256": entry.sha256, "bytes": entry.size} for name, entry in sorted(self.files.items())},
        }, indent=2) + "\n"


def read_manifest(folder: Path) -> Manifest:
    """The manifest of ``folder``; ModelRefused saying what is wrong with it."""
    path = folder / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelRefused(f"the Whisper model folder {folder} has no {MANIFEST_NAME} "
                           f"(write it with `python -m ops model manifest {folder}`)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelRefused(f"cannot read {path}: {error}") from None
    return parse_manifest(text, where=str(path))


def parse_manifest(text: str, *, where: str) -> Manifest:
    """A manifest from its JSON text; ModelRefused naming ``where`` and the first fault."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ModelRefused(f"{where} is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelRefused(f"{where} is not a model manifest of format {FORMAT}")
    name, parameters, files = data.get("name"), data.get("parameters"), data.get("files")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name):
        raise ModelRefused(f"{where}: name must be 1-64 letters, digits, '.', '_' or '-'")
    if not isinstance(parameters, int) or isinstance(parameters, bool) or parameters <= 0:
        raise ModelRefused(f"{where}: parameters must be a positive whole number")
    if not isinstance(files, dict) or not files:
        raise ModelRefused(f"{where}: files must name the model's files")
    entries: dict[str, PinnedEntry] = {}
    for file_name, entry in files.items():
        if not _plain_name(file_name):
            raise ModelRefused(f"{where}: {file_name!r} is not a plain file name in the folder")
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or not _SHA256.match(entry["sha256"]) or not isinstance(entry.get("bytes"), int)
                or isinstance(entry.get("bytes"), bool) or entry["bytes"] < 0):
            raise ModelRefused(f"{where}: {file_name} needs a sha256 (64 lower-case hex digits) and its bytes")
        entries[file_name] = PinnedEntry(entry["sha256"], entry["bytes"])
    missing = [required for required in REQUIRED if required not in entries]
    if not any(vocabulary in entries for vocabulary in VOCABULARIES):
        missing.append(" or ".join(VOCABULARIES))
    if missing:
        raise ModelRefused(f"{where} names no {', '.join(missing)}: a faster-whisper model needs "
                           f"{', '.join(REQUIRED)} and a vocabulary")
    return Manifest(name, parameters, entries)


def check_folder(folder: Path, manifest: Manifest) -> None:
    """Every file of ``manifest`` in ``folder`` with its pinned size and sha256, no other file beside
    them, and model.bin the Whisper model it claims to be; ModelRefused naming the first fault."""
    refused = f"refusing the Whisper model in {folder}"
    listed = set(manifest.files) | {MANIFEST_NAME}
    extra = sorted(name for name in _entries(folder) if name not in listed)
    if extra:
        raise ModelRefused(f"{refused}: {extra[0]} is not in its manifest (remove it, or write the manifest again)")
    for name, pinned in sorted(manifest.files.items()):
        path = folder / name
        if not path.is_file():
            raise ModelRefused(f"{refused}: {name} is missing (its manifest names it)")
        size = path.stat().st_size
        if size != pinned.size:
            raise ModelRefused(f"{refused}: {name} has {size} bytes, its manifest pins {pinned.size}")
        digest = sha256_of(path)
        if digest != pinned.sha256:
            raise ModelRefused(f"{refused}: {name} has sha256 {digest[:12]}..., "
                               f"its manifest pins {pinned.sha256[:12]}...")
    shape = model_shape(folder / "model.bin")
    problem = shape_problem(shape, manifest.files)
    if problem is None and shape.parameters != manifest.parameters:
        problem = f"model.bin holds {shape.parameters} parameters, its manifest says {manifest.parameters}"
    if problem:
        raise ModelRefused(f"{refused}: {problem}")


#: folder -> (what its files looked like when checked, the manifest or the refusal)
_CHECKED: dict[Path, tuple[tuple, Manifest | ModelRefused]] = {}


def verified(folder: Path) -> Manifest:
    """``folder``'s manifest once check_folder has passed, hashing the files once per process:
    again only when a file's size, times or inode changed since (a copy, a fresh download).
    The verdict is remembered either way, so a refused folder is not hashed before every job."""
    try:
        seen = _looks(folder)
        cached = _CHECKED.get(folder)
        if cached is not None and cached[0] == seen:
            outcome = cached[1]
        else:
            try:
                outcome = read_manifest(folder)
                check_folder(folder, outcome)
            except ModelRefused as refused:
                outcome = refused
            _CHECKED[folder] = (seen, outcome)
    except ModelRefused as refused:
        outcome = refused
    if isinstance(outcome, ModelRefused):
        raise ModelRefused(outcome.reason)
    return outcome


def _looks(folder: Path) -> tuple:
    """What the folder's entries look like on disk (cheap: one stat each)."""
    looks = []
    for name in sorted(_entries(folder)):
        try:
            info = (folder / name).stat()
        except OSError:
            continue
        looks.append((name, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
    return tuple(looks)


def shape_problem(shape: ModelShape, files) -> str | None:
    """Why a folder with model.bin of ``shape`` and these ``files`` would not transcribe, or None."""
    if shape.spec != "WhisperSpec":
        return f"model.bin is a CTranslate2 {shape.spec}, not a Whisper model"
    if shape.mel_bins not in (None, DEFAULT_MEL_BINS) and PREPROCESSOR not in files:
        return (f"model.bin takes {shape.mel_bins} mel bins and {PREPROCESSOR} is missing "
                f"(convert with --copy_files tokenizer.json {PREPROCESSOR})")
    return None


def write_manifest(folder: Path, name: str | None = None) -> Manifest:
    """Hash every file of ``folder`` and write its manifest there (replacing an older one).

    Parameters:
      folder: a converted model (ct2-transformers-converter's output folder).
      name: how transcripts will name the model; default: the folder's name.

    Raises ModelRefused when the folder is not a Whisper model faster-whisper can load offline.
    """
    if not folder.is_dir():
        raise ModelRefused(f"{folder} is not a folder")
    names = sorted(name for name in _entries(folder) if name != MANIFEST_NAME)
    for entry in names:
        if not (folder / entry).is_file():
            raise ModelRefused(f"{folder / entry} is not a file: a model folder holds its files only")
    if "model.bin" not in names:
        raise ModelRefused(f"{folder} has no model.bin: is it a CTranslate2 conversion's output folder?")
    shape = model_shape(folder / "model.bin")
    files = {entry: PinnedEntry(sha256_of(folder / entry), (folder / entry).stat().st_size) for entry in names}
    problem = shape_problem(shape, files)
    if problem:
        raise ModelRefused(f"{folder}: {problem}")
    label = name if name is not None else re.sub(r"[^A-Za-z0-9._-]", "-", folder.resolve().name)[:64] or "model"
    manifest = Manifest(label, shape.parameters, files)
    parse_manifest(manifest.as_json(), where=str(folder / MANIFEST_NAME))  # the worker's own rules
    replace_text(folder / MANIFEST_NAME, manifest.as_json())
    return manifest


def model_shape(path: Path) -> ModelShape:
    """model.bin's spec, weight count and mel bins; ModelRefused when it is not a CTranslate2 model."""
    try:
        return read_header(path)
    except ValueError as error:
        raise ModelRefused(str(error)) from None
    except OSError as error:
        raise ModelRefused(f"cannot read {path}: {error.strerror or error}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def replace_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a reader never sees half a manifest)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _entries(folder: Path) -> list[str]:
    """The folder's entries, leaving out hidden ones (a download's partial files and lock)."""
    try:
        return [name for name in os.listdir(folder) if not name.startswith(".")]
    except FileNotFoundError:
        raise ModelRefused(f"there is no Whisper model folder {folder}") from None
    except NotADirectoryError:
        raise ModelRefused(f"the Whisper model {folder} is not a folder") from None
    except OSError as error:
        raise ModelRefused(f"cannot read the Whisper model folder {folder}: {error.strerror}") from None


def _plain_name(name: object) -> bool:
    return (isinstance(name, str) and 0 < len(name) <= 255 and not name.startswith(".")
            and "/" not in name and "\\" not in name and "\0" not in name and name != MANIFEST_NAME)
