"""Dead letters of a job queue: browse, look at one, redrive or delete after confirming.

Every action is two steps: a GET page that shows what will happen, and a
POST from its form (CSRF token included) that does it and redirects back
with a flash message. Browsing SQS receives the messages and hands them back
at once (see adapters/sqs/admin.py), so looking never loses a letter.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from domain.operations import DeadLetterNotFound
from ops.web.auth import admin_only
from ops.web.common import get_ops, job_queue
from ops.web.problems import attempt

log = logging.getLogger(__name__)
bp = Blueprint("dead_letters", __name__, url_prefix="/queues/<queue>/dead-letters")

ACTIONS = {"redrive", "delete"}
BROWSE_LIMIT = 1000


@bp.get("/")
def index(queue: str):
    queue = job_queue(queue)
    ops = get_ops()
    limit = min(max(request.args.get("limit", 100, type=int), 1), BROWSE_LIMIT)
    letters, problem = attempt("SQS", lambda: ops.queues.dead_letters(queue, limit=limit))
    return render_template(
        "dead_letters.html", queue=queue, dlq=_dlq(queue), letters=letters or [], problem=problem, limit=limit
    )


@bp.get("/<letter_id>")
def show(queue: str, letter_id: str):
    queue = job_queue(queue)
    letter, problem = _find(queue, letter_id)
    if letter is None and problem is None:
        flash(f"No dead letter {letter_id} in {_dlq(queue)} (redriven or deleted meanwhile?).", "error")
        return redirect(url_for(".index", queue=queue), 303)
    return render_template("dead_letter.html", queue=queue, dlq=_dlq(queue), letter=letter, problem=problem)


@bp.get("/<action>/confirm")
@admin_only
def confirm(queue: str, action: str):
    """Confirmation page: ``?id=<id>`` (repeatable) for chosen letters, ``?all=1`` for all of them."""
    queue = job_queue(queue)
    _check(action)
    ids = request.args.getlist("id")
    everything = request.args.get("all") == "1"
    if not ids and not everything:
        flash("Choose the dead letters to act on.", "error")
        return redirect(url_for(".index", queue=queue), 303)
    ops = get_ops()
    letters, problem = attempt("SQS", lambda: ops.queues.dead_letters(queue, limit=BROWSE_LIMIT))
    if letters is not None and not everything:
        letters = [letter for letter in letters if letter.id in ids]
        missing = sorted(set(ids) - {letter.id for letter in letters})
    else:
        missing = []
    return render_template(
        "confirm.html", queue=queue, dlq=_dlq(queue), action=action, ids=ids, everything=everything,
        letters=letters or [], missing=missing, problem=problem,
    )


@bp.post("/<action>")
@admin_only
def act(queue: str, action: str):
    queue = job_queue(queue)
    _check(action)
    everything = request.form.get("all") == "1"
    ids = None if everything else request.form.getlist("id")
    if not ids and not everything:
        flash("Choose the dead letters to act on.", "error")
        return redirect(url_for(".index", queue=queue), 303)
    ops = get_ops()
    call = ops.queues.redrive if action == "redrive" else ops.queues.delete
    try:
        count, problem = attempt("SQS", call, queue, ids)
    except DeadLetterNotFound as error:
        flash(f"Nothing done for the missing ones: {error}.", "error")
        return redirect(url_for(".index", queue=queue), 303)
    who = request.authorization.username if request.authorization else "?"
    log.warning("%s by %s: %s dead letter(s) of %s", action, who, "?" if problem else count, queue)  # audit trail
    if problem is not None:
        flash(f"{problem.text} Nothing was confirmed done; look at the queue again.", "error")
    elif action == "redrive":
        flash(f"Redrove {_letters(count)} from {_dlq(queue)} back to {queue}, bodies unchanged.", "ok")
    else:
        flash(f"Deleted {_letters(count)} from {_dlq(queue)}.", "ok")
    return redirect(url_for(".index", queue=queue), 303)


def _find(queue: str, letter_id: str):
    ops = get_ops()
    return attempt("SQS", lambda: ops.dead_letter(queue, letter_id, limit=BROWSE_LIMIT))


def _dlq(queue: str) -> str:
    settings = get_ops().settings
    if settings.broker != "sqs":
        return f"{queue} (dead letters)"
    return settings.video_dead_letter_queue if queue == settings.video_queue else settings.ai_dead_letter_queue


def _check(action: str) -> None:
    if action not in ACTIONS:
        abort(404)


def _letters(count: int) -> str:
    return f"{count} dead letter" + ("" if count == 1 else "s")
