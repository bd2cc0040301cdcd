"""The engine sandbox with the real OCR engine (Tesseract) and misbehaving test engines."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.ai.engines.ocr import SPEC as OCR
from adapters.ai.registry import build_registry
from adapters.ai.sandbox import EngineCrashed, EngineUnavailable, SandboxedEngine
from domain.errors import (
    InvalidMessage,
    LimitExceeded,
    ProcessingTimeout,
    SourceNotFound,
    TransientError,
    UnsupportedMedia,
)
from tests.engine_runs import JOB, run_engine
from tests.ocr_samples import PAGES, character_error_rate, expected, write_image, write_multipage
from tests.unit.fakes import FakeStorage

TEST_ENGINES = build_registry(["tests.ai_engines"])


def run(spec, objects, payload):
    """One job of ``spec``'s engine, sandboxed, through the AI handler (its input downloaded from ``objects``)."""
    result, _, reports, _ = run_engine(SandboxedEngine(spec), spec.job_type, payload, storage=FakeStorage(objects))
    return result, reports


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_ocr_reads_korean_and_english_images(tmp_path, fmt):
    path = write_image(tmp_path / f"page.{fmt.lower()}", PAGES[0], fmt)
    result, reports = run(OCR, {"uploads/page": path.read_bytes()}, {"file_key": "uploads/page"})
    assert character_error_rate(expected(PAGES[0]), result["text"]) <= 0.02, result["text"]
    (page,) = result["pages"]
    assert page["page"] == 1 and page["confidence"] > 60 and result["lang"] == "kor+eng"
    assert [r[1] for r in reports] == ["downloading", "running", "running", "saving", "done"]


@pytest.mark.parametrize("fmt", ["PDF", "TIFF"])
def test_ocr_reads_a_page_range_of_a_multipage_document(tmp_path, fmt):
    path = write_multipage(tmp_path / f"doc.{fmt.lower()}", PAGES, fmt)
    result, reports = run(OCR, {"doc": path.read_bytes()}, {"file_key": "doc", "first_page": 2, "last_page": 3})
    assert [p["page"] for p in result["pages"]] == [2, 3]
    for page, lines in zip(result["pages"], PAGES[1:]):
        assert character_error_rate(expected(lines), page["text"]) <= 0.02, page["text"]
    assert result["text"] == "\n\n".join(p["text"] for p in result["pages"])
    assert [r[3] for r in reports if r[3].startswith("page")] == ["page 1 of 2", "page 2 of 2"]


@pytest.mark.parametrize(
    "payload,reason",
    [
        ({}, "invalid payload for job_type 'ocr': required key 'payload.file_key' is missing"),
        ({"file_key": "../x.png"}, "payload.file_key: must not contain a '..' segment"),
        ({"file_key": "a.png", "lang": "kor; rm -rf /"}, "payload.lang"),
        ({"file_key": "a.png", "first_page": 3, "last_page": 1}, "last_page must not be before first_page"),
    ],
)
def test_invalid_payload_names_the_field(payload, reason):
    with pytest.raises(InvalidMessage) as caught:
        run(OCR, {}, payload)
    assert reason in caught.value.reason


def test_missing_language_corrupt_and_foreign_files(tmp_path):
    png = write_image(tmp_path / "p.png", PAGES[0], "PNG").read_bytes()
    with pytest.raises(InvalidMessage, match="the OCR language 'jpn' is not installed"):
        run(OCR, {"a": png}, {"file_key": "a", "lang": "jpn"})
    with pytest.raises(UnsupportedMedia, match="could not be decoded"):
        run(OCR, {"a": png[: len(png) // 3]}, {"file_key": "a"})
    with pytest.raises(UnsupportedMedia, match="not a PNG, JPEG, TIFF or PDF"):
        run(OCR, {"a": b"hello, this is text"}, {"file_key": "a"})
    with pytest.raises(UnsupportedMedia, match="PDF could not be opened"):
        run(OCR, {"a": b"%PDF-1.7 garbage"}, {"file_key": "a"})
    with pytest.raises(SourceNotFound):
        run(OCR, {}, {"file_key": "missing.png"})


def test_missing_tesseract_is_one_clear_error(tmp_path, monkeypatch):
    png = write_image(tmp_path / "p.png", PAGES[0], "PNG").read_bytes()
    monkeypatch.setenv("PATH", str(tmp_path))  # the child finds no tesseract
    with pytest.raises(EngineUnavailable) as caught:
        run(OCR, {"a": png}, {"file_key": "a"})
    assert caught.value.reason == (
        "the ocr engine cannot run on this worker: Tesseract is not installed "
        "(apt-get install tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng)"
    )
    assert isinstance(caught.value, TransientError)  # another worker may have it


def test_a_segfaulting_engine_fails_only_its_job():
    with pytest.raises(EngineCrashed, match=r"the test_crash engine crashed \(SIGSEGV\)"):
        run(TEST_ENGINES["test_crash"], {}, {})


def test_a_hanging_engine_is_killed_at_its_limit():
    began = time.monotonic()
    with pytest.raises(ProcessingTimeout, match="ran longer than 2 s"):
        run(TEST_ENGINES["test_hang"], {}, {})
    assert time.monotonic() - began < 10
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _is_child(pid, "adapters.ai.child")]


def test_an_engine_allocating_without_end_hits_its_memory_limit():
    with pytest.raises(LimitExceeded, match="ran out of its 300 MB memory limit"):
        run(TEST_ENGINES["test_hog"], {}, {})


def test_an_engine_hands_back_only_its_declared_plain_files():
    result, objects, _, _ = run_engine(SandboxedEngine(TEST_ENGINES["test_files"]), "test_files", {}, tenant=None)
    assert result == {"written": 1}
    assert objects == {f"ai/shared/{JOB}/notes.txt": b"written by the engine"}


def test_the_time_limit_follows_the_measured_source():
    spec = TEST_ENGINES["test_measured"]
    with pytest.raises(ProcessingTimeout, match="ran longer than 1 s"):
        run(spec, {"a": b"x"}, {"file_key": "a", "seconds": 0, "sleep": 3})
    result, _ = run(spec, {"a": b"x"}, {"file_key": "a", "seconds": 5, "sleep": 1.5})
    assert result == {"slept": 1.5}


def test_the_time_limit_grows_with_the_source_the_engine_decodes():
    # Measured at 0 s (a header claiming less than the file plays): 3 s, and 2 s more per second decoded.
    spec = TEST_ENGINES["test_decoding"]
    result, _ = run(spec, {"a": b"x"}, {"file_key": "a", "seconds": 0, "decoded": 12})  # 6 s of work
    assert result == {"decoded": 12}
    with pytest.raises(ProcessingTimeout) as caught:  # decoding stopped at 2 s: the limit is 7 s
        run(spec, {"a": b"x"}, {"file_key": "a", "seconds": 0, "decoded": 2, "hang": True})
    assert caught.value.reason == ("the test_decoding engine ran longer than 7 s, its time limit for a source of 2 s "
                                   "(decoded so far; measured at 0 s before it ran); its last progress: 2 s decoded")
    with pytest.raises(ProcessingTimeout) as caught:  # never past the engine's own limit
        run(replace(spec, timeout_seconds=5), {"a": b"x"}, {"file_key": "a", "seconds": 0, "decoded": 30})
    assert caught.value.reason.startswith("the test_decoding engine ran longer than 5 s, its time limit for a source of ")


def test_registry_refuses_a_job_type_twice():
    with pytest.raises(ValueError, match="registered twice"):
        build_registry(["tests.ai_engines", "tests.ai_engines"])


def _is_child(pid: str, marker: str) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_text() and Path(f"/proc/{pid}/stat").read_text().split()[3] == str(os.getpid())
    except OSError:
        return False
