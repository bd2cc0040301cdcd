"""Misbehaving engines, registered only in tests (AI_ENGINE_MODULES=tests.ai_engines)."""

from __future__ import annotations

import ctypes
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from adapters.ai.spec import EngineSpec


class AnyPayload(BaseModel):
    model_config = ConfigDict(extra="allow")


class Echoed(BaseModel):
    model_config = ConfigDict(extra="allow")


class FilePayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    file_key: str


def crash(source: Path | None, payload: dict[str, Any], report) -> dict[str, Any]:
    report(0.5, "about to crash")
    ctypes.string_at(0)  # SIGSEGV
    return {}


def hang(source: Path | None, payload: dict[str, Any], report) -> dict[str, Any]:
    report(0.1, "hanging")
    time.sleep(3600)
    return {}


def hog(source: Path | None, payload: dict[str, Any], report) -> dict[str, Any]:
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))


def echo(source: Path | None, payload: dict[str, Any], report) -> dict[str, Any]:
    report(1.0, "echoed")
    return {"payload": payload}


def write_files(source: Path | None, payload: dict[str, Any], report, *, outputs: Path) -> dict[str, Any]:
    (outputs / "notes.txt").write_text("written by the engine")
    (outputs / "secrets.txt").symlink_to("/etc/passwd")  # declared, but a link: never uploaded
    (outputs / "extra.txt").write_text("not declared")
    return {"written": 1}


def measured_seconds(source: Path, payload: dict[str, Any]) -> float:
    return float(payload["seconds"])


def sleep_a_while(source: Path | None, payload: dict[str, Any], report) -> dict[str, Any]:
    time.sleep(float(payload["sleep"]))
    return {"slept": payload["sleep"]}


def decode_slowly(source: Path | None, payload: dict[str, Any], report) -> dict[str, Any]:
    """Decodes ``payload["decoded"]`` seconds of its source, one a half second, then hangs if told to."""
    for second in range(1, int(payload["decoded"]) + 1):
        time.sleep(0.5)
        report(0.0, f"{second} s decoded", source_seconds=second)
    if payload.get("hang"):
        time.sleep(3600)
    return {"decoded": payload["decoded"]}


SPECS = [
    EngineSpec("test_crash", AnyPayload, Echoed, "tests.ai_engines:crash", timeout_seconds=30, memory_mb=512),
    EngineSpec("test_hang", AnyPayload, Echoed, "tests.ai_engines:hang", timeout_seconds=2, memory_mb=512),
    EngineSpec("test_hog", AnyPayload, Echoed, "tests.ai_engines:hog", timeout_seconds=30, memory_mb=300),
    EngineSpec("test_echo", AnyPayload, Echoed, "tests.ai_engines:echo", timeout_seconds=30, memory_mb=512),
    EngineSpec("test_files", AnyPayload, Echoed, "tests.ai_engines:write_files", timeout_seconds=30, memory_mb=512,
               output_files=("notes.txt", "secrets.txt")),
    EngineSpec("test_measured", FilePayload, Echoed, "tests.ai_engines:sleep_a_while", timeout_seconds=600,
               memory_mb=512, measure="tests.ai_engines:measured_seconds", timeout_for=lambda seconds: 1 + seconds),
    EngineSpec("test_decoding", FilePayload, Echoed, "tests.ai_engines:decode_slowly", timeout_seconds=60,
               memory_mb=512, measure="tests.ai_engines:measured_seconds", timeout_for=lambda seconds: 3 + 2 * seconds),
]
