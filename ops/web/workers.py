"""The worker processes, as their presence in Redis says."""

from __future__ import annotations

from flask import Blueprint, render_template

from ops.web.common import get_ops
from ops.web.problems import attempt

bp = Blueprint("workers", __name__)


@bp.get("/workers")
def index():
    ops = get_ops()
    records, problem = attempt("Redis", ops.workers)
    return render_template(
        "workers.html", workers=records or [], problem=problem, gone_after=ops.settings.worker_gone_seconds
    )
