"""`python -m ops`: the operators' command line.

Human-readable output by default, ``--json`` for scripts. Exit codes: 0 done,
1 the operation failed (the message says why), 2 bad usage or configuration.
Destructive commands ask for confirmation on a terminal and need ``--yes``
otherwise. Whatever goes wrong, the operator gets one line, never a traceback;
every line has the deployment's secrets masked and, in text mode, control
characters escaped (a dead letter's body cannot retitle or clear the terminal).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from adapters.db.job_queries import BadFilter
from adapters.logs.redact import secret_values
from adapters.logs.setup import configure_logging
from adapters.sqs.admin import MAX_BROWSE, QueueMissing
from domain.numbers import whole_number
from domain.operations import DeadLetterNotFound, DeadLetterRefused, UnknownQueue
from kinds import KindDeclaration
from ops import model, queues, render
from ops.all_actions import ActionRunning
from ops.service import Ops, OpsError, operator

log = logging.getLogger(__name__)

FINAL_STEPS = ("done", "failed")


def positive_int(maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return whole_number(text, low=1, high=maximum)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {maximum}") from None

    return parse


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not 0 < value <= 86400:  # also refuses nan and inf
        raise argparse.ArgumentTypeError("must be more than 0 and at most 86400 seconds")
    return value


def build_parser(job_kinds: dict[str, KindDeclaration]) -> argparse.ArgumentParser:
    """The commands, their kinds of job and their enqueue fields taken from the deployment's kinds."""
    names = list(job_kinds)
    parser = argparse.ArgumentParser(prog="python -m ops", description="Operate the media worker's queues and jobs.")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    # --json is accepted after the command too; SUPPRESS keeps a subcommand from resetting it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    commands = _Subparsers(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"), common)

    commands.add_parser("status", help="queues, dead-letter depths, job counts by status, workers")
    commands.add_parser("workers", help="worker processes and what they run")

    jobs = commands.add_parser("jobs", help="find jobs of one kind: recent first, by status, id and the kind's fields")
    job_commands = _Subparsers(jobs.add_subparsers(dest="kind", required=True, metavar="KIND"), common)
    for name, declaration in job_kinds.items():
        command = job_commands.add_parser(name, help=f"jobs of {declaration.table_name.variable}")
        command.add_argument("--status", help="only rows with this status (e.g. FAILED)")
        command.add_argument("--id", help="the job's id")
        for field in declaration.table.search:
            command.add_argument(f"--{field.option}", dest=f"search:{field.option}",
                                 help=f"{field.column} {'starts with this' if field.prefix else 'is this'}")
        command.add_argument("--limit", type=positive_int(1000), default=20, help="at most this many rows (1-1000)")

    dlq = commands.add_parser("dlq", help="dead letters: list, show, redrive, delete, purge")
    dlq_commands = _Subparsers(dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION"), common)
    listing = dlq_commands.add_parser("list", help="dead letters of a queue, oldest first")
    listing.add_argument("queue", help=f"{', '.join(names)}, or a full queue name")
    listing.add_argument("--limit", type=positive_int(MAX_BROWSE), default=100)
    show = dlq_commands.add_parser("show", help="one dead letter with its whole body")
    show.add_argument("queue")
    show.add_argument("id", help="the dead letter's id (from `dlq list`)")
    for name, text in (("redrive", "send dead letters back to their queue, body unchanged"),
                       ("delete", "delete dead letters")):
        action = dlq_commands.add_parser(name, help=text)
        action.add_argument("queue")
        action.add_argument("ids", nargs="*", metavar="ID")
        action.add_argument("--all", action="store_true",
                            help="every dead letter that is in the queue when the command starts")
        action.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge = dlq_commands.add_parser("purge", help="delete every dead letter of a queue")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    enqueue = commands.add_parser("enqueue", help="publish a job as the API does (a plain-JSON body)")
    kind_commands = _Subparsers(enqueue.add_subparsers(dest="kind", required=True, metavar="KIND"), common)
    for name, declaration in job_kinds.items():
        command = kind_commands.add_parser(name, help=f"a job of the {declaration.queue.variable} queue")
        for field in declaration.enqueue:
            if field.option:
                command.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, required=True,
                                     type=_argument(field.parse), help=field.help)
            else:
                command.add_argument(field.name, type=_argument(field.parse), help=field.help)
        command.add_argument("--tenant", type=_argument(whole_number), default=None, help="the tenant id")

    actions = commands.add_parser("model", help=model.HELP).add_subparsers(dest="model_command", required=True,
                                                                           metavar="ACTION")
    model.add_actions(_Subparsers(actions, common))
    own = commands.add_parser("queues", help=queues.HELP).add_subparsers(dest="queues_command", required=True,
                                                                        metavar="ACTION")
    queues.add_actions(_Subparsers(own, common))

    progress = commands.add_parser("progress", help="a job's live progress from Redis")
    progress.add_argument("kind", choices=names)
    progress.add_argument("id")
    progress.add_argument("--follow", action="store_true", help="print every change until the job is done or failed")
    progress.add_argument("--interval", type=positive_seconds, default=0.5, help=argparse.SUPPRESS)
    progress.add_argument("--timeout", type=positive_seconds, default=None,
                          help="give up following after this many seconds")
    return parser


class _Subparsers:
    """Adds the common options to every subcommand."""

    def __init__(self, action, common: argparse.ArgumentParser) -> None:
        self.action, self.common = action, common

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self.action.add_parser(name, parents=[self.common], **kwargs)


def main(argv: Sequence[str] | None = None, *, ops: Ops | None = None) -> int:
    if ops is None:
        from settings import load_settings

        settings = load_settings()
        # Logs (the adapters' warnings, the audit line) go to stderr, secrets masked.
        configure_logging(settings.log_format, settings.log_level, secret_values(settings))
        ops = Ops(settings)
    parser = build_parser(ops.kinds)
    args = parser.parse_args(argv)
    if getattr(args, "all", False) and getattr(args, "ids", None):
        parser.error(f"give dead-letter ids or --all, not both (ids: {' '.join(args.ids[:3])}...)")
    out = Output(args.json, ops.redact)
    try:
        return COMMANDS[args.command](ops, args, out)
    except (OpsError, DeadLetterNotFound, DeadLetterRefused, UnknownQueue, QueueMissing) as error:
        return out.fail(str(error))
    except ActionRunning as running:
        return out.fail(f"{running} The dashboard follows it at {running.page}." if running.action_id else str(running))
    except (BotoCoreError, ClientError) as error:
        return out.fail(f"AWS call failed: {error}")
    except redis.RedisError as error:
        return out.fail(f"Redis is unreachable: {error}")
    except SQLAlchemyError as error:
        origin = getattr(error, "orig", None) or error  # the driver's text, without the SQL and its parameters
        return out.fail(f"the database is unreachable: {str(origin).strip().splitlines()[0] if str(origin).strip() else type(origin).__name__}")
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a defect of ours: still one line, the traceback at DEBUG
        log.debug("unexpected error", exc_info=True)
        return out.fail(f"unexpected {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                        "(LOG_LEVEL=DEBUG shows the traceback)")


class Output:
    """Prints results as text or JSON, and errors to stderr, secrets masked.

    Parameters:
      as_json: print JSON (exact, for scripts) instead of text.
      redact: masks secrets in a text.
    """

    def __init__(self, as_json: bool, redact: Callable[[str], str] = lambda text: text) -> None:
        self.as_json = as_json
        self.redact = redact

    def emit(self, data: Any, text: Callable[[Any], str]) -> None:
        if self.as_json:
            print(json.dumps(render.masked(data, self.redact), indent=2, default=str))
        else:
            print(render.printable(self.redact(text(data))))

    def fail(self, message: str) -> int:
        message = self.redact(message)
        if self.as_json:
            print(json.dumps({"error": message}))
        print(f"error: {render.printable(message)}", file=sys.stderr)
        return 1


def status(ops: Ops, args, out: Output) -> int:
    out.emit(ops.status(), render.status)
    return 0


def workers(ops: Ops, args, out: Output) -> int:
    out.emit([record.as_dict() for record in ops.workers()], render.workers)
    return 0


def jobs(ops: Ops, args, out: Output) -> int:
    if args.status and args.status.upper() not in ops.jobs.statuses(args.kind):
        raise OpsError(f"unknown status {args.status!r} for {args.kind}: use {', '.join(ops.jobs.statuses(args.kind))}")
    filters = {name.removeprefix("search:"): value for name, value in vars(args).items()
               if name.startswith("search:") and value is not None}
    if args.id is not None:
        filters["id"] = args.id
    try:
        rows = ops.jobs.recent(args.kind, args.status.upper() if args.status else None, limit=args.limit,
                               filters=filters)
    except BadFilter as error:
        raise OpsError(str(error)) from None
    spec = ops.kind(args.kind).table
    if args.id is not None and rows:
        parts = ops.parts(args.kind, str(rows[0]["id"]))
        if parts:  # a long video's pieces: the row, then its parts
            out.emit({"job": rows[0], "parts": parts},
                     lambda data: render.jobs(spec.listed, spec.error, [data["job"]]) + "\n\n" + render.parts(data["parts"]))
            return 0
    out.emit(rows, lambda data: render.jobs(spec.listed, spec.error, data))
    return 0


def dlq(ops: Ops, args, out: Output) -> int:
    queue = ops.queue_of(args.queue)
    action = args.dlq_command
    if action == "list":
        letters = ops.queues.dead_letters(queue, limit=args.limit)
        out.emit([letter.as_dict() for letter in letters], render.dead_letters)
        return 0
    if action == "show":
        letter = ops.dead_letter(queue, args.id)
        if letter is None:
            raise DeadLetterNotFound(f"no dead letter {args.id} in the dead-letter queue of {queue}")
        out.emit(letter.as_dict(), render.dead_letter)
        return 0
    ids = None if action == "purge" or args.all else list(args.ids)
    if ids == []:
        raise OpsError(f"name the dead letters to {action} (ids from `dlq list`) or pass --all")
    what = "every dead letter there now" if ids is None else f"{len(ids)} dead letter(s)"
    verb = "send back to" if action == "redrive" else "delete from the dead-letter queue of"
    if not _confirmed(args.yes, render.printable(f"{verb.capitalize()} {queue}: {what}?")):
        return out.fail("not confirmed: pass --yes, or answer y on a terminal")
    verb = "redrive" if action == "redrive" else "delete"
    tally = ops.act_on_dead_letters(verb, queue, ids, user=operator(), via="cli")
    out.emit({"action": action, "queue": queue, "count": tally.done, "total": tally.total}, render.action_done)
    return 0


def enqueue(ops: Ops, args, out: Output) -> int:
    declaration = ops.kind(args.kind)
    fields = {field.name: getattr(args, field.name) for field in declaration.enqueue}
    message_id = ops.enqueue(args.kind, {**fields, "tenant_id": args.tenant})
    out.emit({"message_id": message_id, "kind": args.kind}, lambda d: f"published {args.kind} job: message {message_id}")
    return 0


def progress(ops: Ops, args, out: Output) -> int:
    kind = ops.kind(args.kind).kind
    if kind.parse_id(args.id) is None:  # nothing to show or follow, ever
        raise OpsError(f"no {kind.noun} can have the id {args.id[:80]!r}")
    current = ops.progress(args.kind, args.id)
    if not args.follow:
        if not current:
            raise OpsError(f"no progress recorded for {args.kind} {args.id} (not started, or older than its TTL)")
        out.emit(current, render.progress)
        return 0
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    shown: dict | None = None
    while True:
        if current and current != shown:
            out.emit(current, render.progress)
            sys.stdout.flush()
            shown = current
        if current.get("step") in FINAL_STEPS:
            return 0 if current["step"] == "done" else 1
        if deadline is not None and time.monotonic() > deadline:
            return out.fail(f"{args.kind} {args.id} did not finish within {args.timeout:g} s")
        time.sleep(args.interval)
        current = ops.progress(args.kind, args.id)


COMMANDS = {"status": status, "workers": workers, "jobs": jobs, "dlq": dlq, "enqueue": enqueue, "progress": progress,
            "model": model.command, "queues": queues.command}


def _confirmed(yes: bool, question: str) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a declaration's parser: its ValueError becomes a usage error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert
