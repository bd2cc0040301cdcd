"""Thin Dramatiq actors: validate the body, call the handler the container built.

Importing this package reads the settings (exiting with one clear line if
they are wrong), builds the container and sets the broker named by BROKER,
before any actor is declared.
"""

from __future__ import annotations

import dramatiq

from bootstrap import Container, build_broker
from settings import load_settings

settings = load_settings()
container = Container(settings)
broker = build_broker(settings, container)
dramatiq.set_broker(broker)
