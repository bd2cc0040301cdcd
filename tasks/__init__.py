"""Thin Dramatiq actors: validate the body, call the handler the container built.

Importing this package reads the settings (exiting with one clear line if
they are wrong), sets up the process's logging, builds the container and sets
the broker named by BROKER, before any actor is declared. (The ``dramatiq``
command imports it in each worker process after installing its own log
handler, whose format and filters ``configure_logging`` then replaces.)
"""

from __future__ import annotations

import logging

import dramatiq

from adapters.logs.redact import secret_values
from adapters.logs.setup import configure_logging
from bootstrap import Container, build_broker
from settings import load_settings

settings = load_settings()
configure_logging(settings.log_format, settings.log_level, secret_values(settings))
logging.getLogger(__name__).info(
    "worker process starting: broker %s, database %s, metrics port %s",
    settings.broker, settings.database_url, settings.metrics_port,  # the log filter masks the URL's password
)
container = Container(settings)
container.report_unavailable_engines()
broker = build_broker(settings, container)
dramatiq.set_broker(broker)
