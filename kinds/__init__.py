"""The kinds of job this deployment runs: the contract's two, and those of JOB_KIND_MODULES.

``load_kinds`` returns them by name, in a fixed order (video, ai, then the
extra modules' ``KINDS`` in the order named); names, actors and queues must
be unique.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from adapters.db.tables import Tables, build_tables
from kinds.ai import AI
from kinds.declaration import Configuration, EnqueueField, KindDeclaration, Services, Setting
from kinds.video import VIDEO

BUILTIN: tuple[KindDeclaration, ...] = (VIDEO, AI)


def load_kinds(extra_modules: Iterable[str] = ()) -> dict[str, KindDeclaration]:
    """The built-in kinds plus the ``KINDS`` of each module named; a name or actor may be declared once."""
    declarations = list(BUILTIN)
    for module in extra_modules:
        try:
            declarations += list(importlib.import_module(module).KINDS)
        except ImportError as error:
            raise ValueError(f"JOB_KIND_MODULES: cannot import {module!r} ({error})") from None
        except AttributeError:
            raise ValueError(f"JOB_KIND_MODULES: module {module!r} declares no KINDS") from None
    kinds: dict[str, KindDeclaration] = {}
    actors: set[str] = set()
    for declaration in declarations:
        if declaration.name in kinds or declaration.actor in actors:
            raise ValueError(f"job kind {declaration.name!r} (actor {declaration.actor!r}) is declared twice")
        kinds[declaration.name] = declaration
        actors.add(declaration.actor)
    return kinds


def check_queues(kinds: dict[str, KindDeclaration], settings: Configuration) -> None:
    """Every kind has a queue, a dead-letter queue and a table of its own."""
    seen: dict[str, str] = {}
    for declaration in kinds.values():
        for what, name in (("queue", declaration.queue_name(settings)),
                           ("dead-letter queue", declaration.dead_letter_queue_name(settings)),
                           ("table", "table:" + declaration.table_named(settings))):
            if name in seen:
                raise ValueError(f"the {declaration.name} kind's {what} {name.removeprefix('table:')!r} "
                                 f"is also {seen[name]}'s")
            seen[name] = declaration.name


def tables(kinds: dict[str, KindDeclaration], names: dict[str, str]) -> Tables:
    """The kinds' tables, ``names`` giving each kind's table name (settings, or tests' unique names)."""
    return build_tables({name: (declaration.kind, declaration.table, names[name]) for name, declaration in kinds.items()})


def configured_tables(kinds: dict[str, KindDeclaration], settings: Configuration) -> Tables:
    return tables(kinds, {name: declaration.table_named(settings) for name, declaration in kinds.items()})


__all__ = ["BUILTIN", "Configuration", "EnqueueField", "KindDeclaration", "Services", "Setting", "check_queues",
           "configured_tables", "load_kinds", "tables"]
