"""Thin Dramatiq actors, one per kind of job: parse the body, call the kind's handler.

Importing this package reads the settings and the kinds' names (exiting with
one clear line if they are wrong), sets up the process's logging, builds the
container and sets the broker named by BROKER, then declares the actor of
every kind (the contract's two and those of JOB_KIND_MODULES), so that
``dramatiq tasks.video tasks.ai`` runs them all. (The ``dramatiq`` command
imports it in each worker process after installing its own log handler, whose
format and filters ``configure_logging`` then replaces.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq

from adapters.logs.redact import secret_values
from adapters.logs.setup import configure_logging
from adapters.worker.context import report_outcome
from bootstrap import Container, build_broker, load_job_kinds
from domain.errors import PermanentError
from kinds import KindDeclaration
from settings import load_settings

settings = load_settings()
job_kinds = load_job_kinds(settings)
configure_logging(settings.log_format, settings.log_level, secret_values(settings))
logging.getLogger(__name__).info(
    "worker process starting: broker %s, database %s, metrics port %s",
    settings.broker, settings.database_url, settings.metrics_port,  # the log filter masks the URL's password
)
container = Container(settings, job_kinds=job_kinds)
container.report_unavailable_engines()
broker = build_broker(settings, container)
dramatiq.set_broker(broker)


def declare(kind: KindDeclaration) -> dramatiq.Actor:
    """The actor of one kind: the body parsed once into the kind's request (an invalid body is a
    permanent error naming the field), the handler's outcome reported."""

    def run(**body) -> None:
        report_outcome(container.handler(kind.name).handle(kind.parse(body)).value)

    run.__name__ = run.__qualname__ = kind.actor
    return dramatiq.actor(
        run,
        actor_name=kind.actor,
        queue_name=kind.queue_name(settings),
        broker=broker,
        throws=(PermanentError,),
        max_retries=settings.max_retries,
        **container.actor_options(kind),
    )


#: kind name -> its actor
actors: dict[str, Callable] = {name: declare(kind) for name, kind in container.kinds.items()}
