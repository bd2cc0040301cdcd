"""Dramatiq's Prometheus middleware and exposition server, on our settings.

``dramatiq.middleware.prometheus`` reads dramatiq_prom_host, dramatiq_prom_port
and dramatiq_prom_db from the environment when it is imported, and the
``dramatiq`` command starts its exposition server in a process forked from
the main process, which never imports our modules. So both the worker
processes (through ``prometheus_middleware``) and that forked process
(through ``serve``) set those variables from the settings before importing it.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import dramatiq

log = logging.getLogger(__name__)

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


def serve(host: str, port: int, collectors: Sequence[Any] = ()) -> int:
    """Serve /metrics on host:port (blocks; the fork's body): what Dramatiq's own exposition server
    serves (every worker process's multiprocess files, summed), plus ``collectors``, read per scrape."""
    point_dramatiq_at(host, port)
    from dramatiq.middleware import prometheus

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = prometheus.DB_PATH
            import prometheus_client as prom
            from prometheus_client import multiprocess

            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            for collector in collectors:
                registry.register(collector)
            output = prom.generate_latest(registry)
            self.send_response(200)
            self.send_header("content-type", prom.CONTENT_TYPE_LATEST)
            self.end_headers()
            self.wfile.write(output)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug(fmt, *args)

    server = HTTPServer((host, port), Metrics)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()
    return 0
