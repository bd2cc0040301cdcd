"""The engine registry: job_type -> EngineSpec.

Adding an engine is one module under ``adapters/ai/engines/`` that defines a
``SPEC`` and one line in ``BUILTIN`` below. Deployments (and tests) can add
engines without touching this file through AI_ENGINE_MODULES: modules whose
``SPECS`` list is registered too.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from adapters.ai.engines import ocr, transcribe
from adapters.ai.spec import EngineSpec

BUILTIN: tuple[EngineSpec, ...] = (
    ocr.SPEC,
    transcribe.SPEC,
)


def build_registry(extra_modules: Iterable[str] = ()) -> dict[str, EngineSpec]:
    """The built-in engines plus those of ``extra_modules``; a job_type may be registered once."""
    specs = list(BUILTIN)
    for module in extra_modules:
        specs += list(importlib.import_module(module).SPECS)
    registry: dict[str, EngineSpec] = {}
    for spec in specs:
        if spec.job_type in registry:
            raise ValueError(f"job_type {spec.job_type!r} is registered twice")
        registry[spec.job_type] = spec
    return registry
