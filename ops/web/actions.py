"""Background actions (redrive or delete of every dead letter): their progress and final count."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template

from ops.actions import summary
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


def _record(action_id: str):
    if len(action_id) != 32 or not all(c in "0123456789abcdef" for c in action_id):
        abort(404)
    ops = get_ops()
    record, problem = attempt("Redis", ops.action_records.get, action_id)
    if record is None and problem is None:
        abort(404)
    return record, problem
