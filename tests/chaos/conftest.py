"""Chaos fixtures: rounds per scenario in CI mode and in soak mode (--soak)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def soak(request) -> bool:
    return bool(request.config.getoption("--soak"))
