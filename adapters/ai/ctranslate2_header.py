"""The header of a CTranslate2 model.bin: what model it holds, without loading its weights.

CTranslate2's Python package reads a model only by loading it whole; the worker
process, which never loads CTranslate2, needs the spec's name, the weight count
(which decides the size class and so the engine's limits) and the number of mel
bins (a 128-bin model needs its preprocessor_config.json). The format is
CTranslate2's own (ctranslate2/specs/model_spec.py, ``_serialize``).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelShape:
    """What model.bin's header says: its CTranslate2 spec, weight count and mel bins."""

    spec: str
    parameters: int
    mel_bins: int | None


def read_header(path: Path) -> ModelShape:
    """The shape of the model in ``path`` (a model.bin), from its header: CTranslate2's binary format,
    version 4 and later (the spec's name, then each variable's name, shape, type and byte count),
    the weights themselves skipped. ValueError when it is no such file; OSError when unreadable."""
    try:
        with open(path, "rb") as model:
            version = _unpack(model, "I")
            if not 4 <= version <= 10:
                raise ValueError(f"{path.name} is not a CTranslate2 model of a known version ({version})")
            spec = _string(model)
            _unpack(model, "I")  # the spec's revision
            parameters, mel_bins = 0, None
            for _ in range(_unpack(model, "I")):
                variable = _string(model)
                shape = [_unpack(model, "I") for _ in range(_unpack(model, "B"))]
                _unpack(model, "B")  # the data type
                model.seek(_unpack(model, "I"), os.SEEK_CUR)
                parameters += math.prod(shape)
                if variable == "encoder/conv1/weight" and len(shape) == 3:
                    mel_bins = shape[1]
            return ModelShape(spec, parameters, mel_bins)
    except (struct.error, UnicodeDecodeError):
        raise ValueError(f"{path.name} is not a CTranslate2 model (its header is cut short or garbled)") from None


def _unpack(handle, code: str) -> int:
    size = struct.calcsize("<" + code)
    data = handle.read(size)
    return struct.unpack("<" + code, data)[0]


def _string(handle) -> str:
    length = _unpack(handle, "H")
    data = handle.read(length)
    if len(data) != length:
        raise struct.error("cut short")
    return data.rstrip(b"\0").decode("utf-8")
