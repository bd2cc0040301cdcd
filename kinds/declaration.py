"""KindDeclaration: everything that makes one kind of job, said once.

The worker's actors (``tasks``), its broker's routes and dead-letter queues
(``bootstrap``), its metrics labels and every view and command of the ops
tools are derived from the declarations by iteration; nothing else names a
kind. The kinds of the contract are declared in ``kinds/video.py`` and
``kinds/ai.py``; modules named by JOB_KIND_MODULES add theirs (``KINDS``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from adapters.db.tables import JobTableSpec
from adapters.messages import validate_body
from domain.ai.ports import Engine
from domain.flow import JobHandler
from domain.jobs import JobKind
from domain.ports import JobLock, JobRepository, ObjectStorage, ProgressSink
from domain.video.ports import MediaProcessor


@dataclass(frozen=True)
class NameRule:
    """What a name from the configuration must look like.

    Parameters:
      pattern: the whole name must match it.
      says: the rule in words, for the line that refuses a name.
    """

    pattern: re.Pattern
    says: str

    def check(self, name: str) -> str:
        """Return ``name`` if it follows the rule; ValueError saying the rule otherwise."""
        if not self.pattern.fullmatch(name):
            raise ValueError(f"must be {self.says}")
        return name


#: SQS's rule for standard queue names, the strictest of the brokers the worker runs on.
QUEUE_NAME = NameRule(re.compile(r"[A-Za-z0-9_-]{1,80}"),
                      "1 to 80 letters, digits, '-' or '_' (SQS's rule for queue names)")
#: A plain SQL identifier PostgreSQL keeps whole (no quoting, at most 63 characters).
TABLE_NAME = NameRule(re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}"),
                      "a letter or '_' followed by at most 62 letters, digits or '_'")


class Configuration(Protocol):
    """The settings, as far as declarations read them (``settings.Settings``)."""

    def value(self, variable: str, default: str | None) -> str | None: ...


class Services(Protocol):
    """What a declaration's factories may use: the worker's ``bootstrap.Container`` has all of it,
    the ops tools' ``Ops`` what ``publishable`` and ``types`` read (settings, engine_specs)."""

    settings: Any
    lock: JobLock
    progress: ProgressSink
    storage: ObjectStorage
    media: MediaProcessor
    engines: Mapping[str, Engine]
    engine_specs: Mapping[str, Any]
    workdir: Path | None

    def repository(self, kind: str) -> JobRepository: ...


@dataclass(frozen=True)
class Setting:
    """An environment variable naming something of the deployment, and its default."""

    variable: str
    default: str | None

    def read(self, settings: Configuration, rule: NameRule) -> str | None:
        """The configured value (or the default), checked against ``rule``; ValueError naming the variable."""
        value = settings.value(self.variable, self.default)
        if value is None:
            return None
        try:
            return rule.check(value)
        except ValueError as error:
            raise ValueError(f"invalid configuration: {self.variable}: {error}") from None


@dataclass(frozen=True)
class EnqueueField:
    """One body field ``python -m ops enqueue <kind>`` takes.

    Parameters:
      name: the body field.
      parse: turns the typed text into the field's value (the body model then validates it).
      help: what the field is.
      option: taken as ``--<name> VALUE`` (required) rather than as a positional argument.
    """

    name: str
    parse: Callable[[str], Any]
    help: str
    option: bool = False


def json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("not a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    return value


@dataclass(frozen=True)
class KindDeclaration:
    """One kind of job.

    Parameters:
      kind: the domain's rules of the kind (id, statuses, steps, keys).
      actor: the Dramatiq actor that runs its jobs.
      title: how the ops pages name its jobs ("Videos").
      body: the pydantic model of its queue's plain-JSON body (CONTRACT section 1).
      id_field: the body field holding the job's id ("video_id").
      request: turns a validated body into the handler's request.
      handler: builds the kind's handler from the worker's services.
      table: its table (CONTRACT section 2) and the columns the worker writes.
      queue, dead_letter_queue, table_name: the settings naming its queue, its
        dead-letter queue (default ``<queue>-dlq``) and its table.
      enqueue: the body fields ``python -m ops enqueue`` takes (tenant_id always).
      type_field: a body field naming a finer job type for metrics and logs ("job_type").
      types: the finer types allowed as labels (the registered engines).
      publishable: raises a PermanentError when the worker would fail a
        request at once for more than its body's schema (an unregistered
        engine); ``python -m ops enqueue`` checks it before publishing.
    """

    kind: JobKind
    actor: str
    title: str
    body: type[BaseModel]
    id_field: str
    request: Callable[[Any], Any]
    handler: Callable[[Services], JobHandler]
    table: JobTableSpec
    queue: Setting
    dead_letter_queue: Setting
    table_name: Setting
    enqueue: tuple[EnqueueField, ...] = ()
    type_field: str | None = None
    types: Callable[[Services], Collection[str]] = field(default=lambda services: ())
    publishable: Callable[[Any, Services], None] = field(default=lambda request, services: None)

    @property
    def name(self) -> str:
        return self.kind.name

    def queue_name(self, settings: Configuration) -> str:
        return self.queue.read(settings, QUEUE_NAME)

    def dead_letter_queue_name(self, settings: Configuration) -> str:
        return self.dead_letter_queue.read(settings, QUEUE_NAME) or f"{self.queue_name(settings)}-dlq"

    def table_named(self, settings: Configuration) -> str:
        return self.table_name.read(settings, TABLE_NAME)

    def parse(self, body: dict[str, Any]) -> Any:
        """The handler's request for a message's body; InvalidMessage naming the field when it does not fit."""
        return self.request(validate_body(self.body, body))
