"""Dramatiq's Prometheus middleware and exposition server, on our settings.

``dramatiq.middleware.prometheus`` reads dramatiq_prom_host, dramatiq_prom_port
and dramatiq_prom_db from the environment when it is imported, and the
``dramatiq`` command starts its exposition server in a process forked from
the main process, which never imports our modules. So both the worker
processes (through ``prometheus_middleware``) and that forked process
(through ``serve``) set those variables from the settings before importing it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable

import dramatiq

DRAMATIQ_MODULE = "dramatiq.middleware.prometheus"


def point_dramatiq_at(host: str, port: int) -> None:
    """Set Dramatiq's variables; the multiprocess directory defaults to one per port,
    so two deployments on one host never add up each other's files."""
    os.environ["dramatiq_prom_host"] = host
    os.environ["dramatiq_prom_port"] = str(port)
    os.environ.setdefault("dramatiq_prom_db", os.path.join(tempfile.gettempdir(), f"media-worker-metrics-{port}"))
    module = sys.modules.get(DRAMATIQ_MODULE)
    if module is not None:  # imported earlier in this process: its globals are read at call time
        module.HTTP_HOST, module.HTTP_PORT = host, port


def prometheus_middleware(host: str, port: int, *, fork: Callable[[], int]) -> tuple[dramatiq.Middleware, str]:
    """Dramatiq's Prometheus middleware whose exposition process is ``fork``,
    and the multiprocess directory its metrics are written to."""
    point_dramatiq_at(host, port)
    from dramatiq.middleware import prometheus

    from adapters.metrics.served import ServedPrometheus

    return ServedPrometheus(fork), prometheus.DB_PATH


def serve(host: str, port: int) -> int:
    """Run Dramatiq's exposition server on host:port (blocks; the fork's body)."""
    point_dramatiq_at(host, port)
    from dramatiq.middleware import prometheus

    # Dramatiq's own server (pinned: dramatiq<2.3), so /metrics is exactly what its docs describe.
    return prometheus._run_exposition_server()
