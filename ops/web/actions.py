"""Background actions (redrive or delete of every dead letter): their progress and final count."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template

from ops.web.common import get_ops
from ops.web.problems import attempt

bp = Blueprint("actions", __name__, url_prefix="/actions")


@bp.get("/<action_id>")
def show(action_id: str):
    record, problem = _record(action_id)
    return render_template("action.html", action_id=action_id, record=record, problem=problem,
                           summary=summary(record) if record else "")


@bp.get("/<action_id>.json")
def state(action_id: str):
    """What the action page polls; 200 with ``error`` when Redis is down, so the page can say so."""
    record, problem = _record(action_id)
    return jsonify(record=record, summary=summary(record) if record else "",
                   error=problem.text if problem else None)


def summary(record: dict[str, str]) -> str:
    """One sentence on where the action stands."""
    verb = {"redrive": "Redrove", "delete": "Deleted"}.get(record.get("action", ""), "Handled")
    done, total = record.get("done", "0"), record.get("total", "")
    letters = f"{done} dead letter{'' if done == '1' else 's'}"
    of_total = f" of the {total} there when it began" if total else ""
    state = record.get("state")
    if state == "running":
        return f"Running: {letters} so far{of_total}."
    if state == "done":
        text = f"{verb} {letters}{of_total}."
        if total and done != total:
            text += " The others were gone when it reached them (redriven or deleted by someone else meanwhile?)."
        return text
    if state == "failed":
        return f"Stopped after {letters}{of_total}: {record.get('error') or 'an error'}."
    return (f"No news for a minute after {letters}{of_total}: the dashboard process running it stopped. "
            "Look at the queue again; what was done is done.")


def _record(action_id: str):
    if len(action_id) != 32 or not all(c in "0123456789abcdef" for c in action_id):
        abort(404)
    ops = get_ops()
    record, problem = attempt("Redis", ops.action_records.get, action_id)
    if record is None and problem is None:
        abort(404)
    return record, problem
