"""Chaos fixtures: rounds per scenario in CI mode and in soak mode (--soak)."""

from __future__ import annotations

import pytest



@pytest.fixture(scope="session")
def soak(request) -> bool:
    return bool(request.config.getoption("--soak"))


@pytest.fixture
def figures(request):
    """Each scenario records its measured figures; printed in the summary for docs/RELIABILITY.md."""
    record: dict[str, object] = {"scenario": request.node.name}
    yield record
    request.config._chaos_figures = getattr(request.config, "_chaos_figures", []) + [record]


def pytest_terminal_summary(terminalreporter, config):
    for record in getattr(config, "_chaos_figures", []):
        terminalreporter.write_line("chaos figures: " + ", ".join(f"{k}={v}" for k, v in record.items()))
