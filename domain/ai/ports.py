"""The port only the AI kind needs: an engine (OCR, transcription)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from domain.ai.model import AIJobRequest, EngineOutput
from domain.progress import Progress


class Engine(Protocol):
    """An AI engine: turns one job's payload (and its input file) into a JSON result and files."""

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as the engine takes it. Raises InvalidMessage naming the field
        when it does not fit, a TransientError when this worker cannot run the engine."""
        ...

    def input_key(self, payload: dict[str, Any]) -> str | None:
        """The object the engine reads (the payload's ``file_key``), or None."""
        ...

    def run(self, request: AIJobRequest, source: Path | None, workdir: Path, progress: Progress) -> EngineOutput:
        """Run the engine on ``request`` (its payload prepared) and the downloaded ``source``.

        ``workdir`` is the job's private folder (removed after the job): the
        files the engine hands back lie in it, and are uploaded by the handler.
        """
        ...

    def earlier_output(
        self, request: AIJobRequest, fetch: Callable[[str, Path], bool], workdir: Path
    ) -> EngineOutput | None:
        """The output an earlier attempt of this job already saved, taken back without running the
        engine again; None when there is none, or when the engine always runs afresh.

        ``fetch(name, dest)`` downloads the file ``name`` of the job's output prefix to ``dest`` and
        tells whether there was one; ``workdir`` is the job's private folder.
        """
        ...
