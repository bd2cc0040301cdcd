"""A pytest plugin that runs dramatiq-sqs 0.4.4's own test suite against RoutedSQSBroker and moto's server.

Loaded with ``-p routed_broker_plugin`` (tests/integration/test_dramatiq_sqs_suite.py copies it next to an
unchanged copy of the suite). Upstream runs the suite against ElasticMQ in Docker through pytest-docker;
here ``docker_ip``/``docker_services`` point at a moto server this plugin starts, and the suite's
``from dramatiq_sqs import SQSBroker`` gets RoutedSQSBroker.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import types
from contextlib import closing
from pathlib import Path

import dramatiq_sqs
import pytest

from adapters.sqs.broker import RoutedSQSBroker

dramatiq_sqs.SQSBroker = RoutedSQSBroker

# The suite's conftest imports these only for type hints and for Docker.
for name, attributes in (("pytest_docker", {"Services": object}), ("mypy_boto3_sqs", {"SQSServiceResource": object})):
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module


class MotoServices:
    """Stands in for pytest-docker's Services: every service is the one moto server."""

    def __init__(self, port: int) -> None:
        self.port = port

    def port_for(self, service: str, container_port: int) -> int:
        return self.port


@pytest.fixture(scope="session")
def docker_ip() -> str:
    return "127.0.0.1"


@pytest.fixture(scope="session")
def docker_services():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    yield MotoServices(port)
    server.terminate()
    server.wait(timeout=10)
