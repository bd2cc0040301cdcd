"""Dead letters of a job queue: browse, look at one, redrive or delete after confirming.

Every action is two steps: a GET page that shows what will happen, and a
POST from its form (CSRF token included) that does it. Chosen letters are
handled in the request, then the page redirects back with a flash message;
"all" runs in the background (a large queue would outlast the platform
router's 30 s) and redirects to a page that follows it to its final count;
while one runs on the queue (from any dashboard process or the CLI) another
is refused with a 409 page linking to it.

Browsing SQS receives the messages with a short lease and hands them back at
once (see adapters/sqs/admin.py), so looking never loses a letter; pages that
receive are refused to requests from other sites (see ``same_site_only``),
so a link or an image elsewhere cannot make a signed-in browser hide letters.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from domain.operations import DeadLetterNotFound, DeadLetterRefused
from ops.all_actions import ActionRunning
from ops.web.auth import admin_only
from ops.web.common import get_ops, job_queue, same_site_only
from ops.web.problems import attempt

bp = Blueprint("dead_letters", __name__, url_prefix="/queues/<queue>/dead-letters")

ACTIONS = {"redrive", "delete"}
PAGE_LIMIT = 200  # the most letters a page receives; each is hidden from actions for a moment
MAX_CHOSEN = 100  # the most ids one request may act on


@bp.get("/")
@same_site_only
def index(queue: str):
    queue = job_queue(queue)
    ops = get_ops()
    limit = min(max(request.args.get("limit", 100, type=int), 1), PAGE_LIMIT)
    letters, problem = attempt("SQS", lambda: ops.queues.dead_letters(queue, limit=limit))
    return render_template(
        "dead_letters.html", queue=queue, dlq=_dlq(queue), letters=letters or [], problem=problem, limit=limit
    )


@bp.get("/<letter_id>")
@same_site_only
def show(queue: str, letter_id: str):
    queue = job_queue(queue)
    ops = get_ops()
    letter, problem = attempt("SQS", ops.dead_letter, queue, letter_id)
    if letter is None and problem is None:
        flash(f"No dead letter {letter_id} in {_dlq(queue)} (redriven or deleted meanwhile?).", "error")
        return redirect(url_for(".index", queue=queue), 303)
    return render_template("dead_letter.html", queue=queue, dlq=_dlq(queue), letter=letter, problem=problem)


@bp.get("/<action>/confirm")
@admin_only
@same_site_only
def confirm(queue: str, action: str):
    """Confirmation page: ``?id=<id>`` (repeatable) for chosen letters, ``?all=1`` for all of them."""
    queue = job_queue(queue)
    _check(action)
    ids = _chosen(request.args.getlist("id"))
    everything = request.args.get("all") == "1"
    if not ids and not everything:
        flash("Choose the dead letters to act on.", "error")
        return redirect(url_for(".index", queue=queue), 303)
    ops = get_ops()
    letters, problem = attempt("SQS", lambda: ops.queues.dead_letters(queue, limit=PAGE_LIMIT))
    if letters is not None and not everything:
        letters = [letter for letter in letters if letter.id in ids]
        missing = sorted(set(ids) - {letter.id for letter in letters})
    else:
        missing = []
    return render_template(
        "confirm.html", queue=queue, dlq=_dlq(queue), action=action, ids=ids, everything=everything,
        letters=letters or [], missing=missing, problem=problem, page_limit=PAGE_LIMIT,
    )


@bp.post("/<action>")
@admin_only
def act(queue: str, action: str):
    queue = job_queue(queue)
    _check(action)
    ops = get_ops()
    user = g.user
    if request.form.get("all") == "1":
        try:
            action_id, problem = attempt("Redis", ops.all_actions.start, action, queue, user=user)
        except ActionRunning as running:
            link = url_for("actions.show", action_id=running.action_id) if running.action_id else None
            return render_template("message.html", title="Already running", text=str(running), link=link,
                                   link_text="Follow it"), 409
        if problem is not None:
            flash(f"{problem.text} Nothing was started: the dashboard records the progress of an action on "
                  "every letter in Redis.", "error")
            return redirect(url_for(".index", queue=queue), 303)
        return redirect(url_for("actions.show", action_id=action_id), 303)
    ids = _chosen(request.form.getlist("id"))
    if not ids:
        flash("Choose the dead letters to act on.", "error")
        return redirect(url_for(".index", queue=queue), 303)
    try:
        tally, problem = attempt("SQS", ops.act_on_dead_letters, action, queue, ids, user=user, via="dashboard")
    except (DeadLetterNotFound, DeadLetterRefused) as error:
        flash(f"Nothing done for those: {error}.", "error")
        return redirect(url_for(".index", queue=queue), 303)
    if problem is not None:
        flash(f"{problem.text} The action stopped; look at the queue again (the log's audit line says what "
              "was done).", "error")
    elif action == "redrive":
        flash(f"Redrove {_letters(tally.done)} from {_dlq(queue)} back to {queue}, bodies unchanged.", "ok")
    else:
        flash(f"Deleted {_letters(tally.done)} from {_dlq(queue)}.", "ok")
    return redirect(url_for(".index", queue=queue), 303)


def _chosen(ids: list[str]) -> list[str]:
    if len(ids) > MAX_CHOSEN:
        abort(400, f"At most {MAX_CHOSEN} dead letters can be chosen at once; use 'all' for more.")
    return list(dict.fromkeys(ids))


def _dlq(queue: str) -> str:
    return get_ops().dead_letter_queue_of(queue)


def _check(action: str) -> None:
    if action not in ACTIONS:
        abort(404)


def _letters(count: int) -> str:
    return f"{count} dead letter" + ("" if count == 1 else "s")
