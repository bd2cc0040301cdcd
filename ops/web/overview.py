"""The front page (queues, dead letters, job counts, workers) and the health check."""

from __future__ import annotations

from flask import Blueprint, render_template

from ops.web.common import get_ops
from ops.web.problems import attempt

bp = Blueprint("overview", __name__)


@bp.get("/healthz")
def healthz():
    """Unauthenticated (see ops.web.auth): the bare word "ok", no data, so health checks work."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/")
def index():
    ops = get_ops()
    queues, queue_problem = attempt("SQS", lambda: ops.queues.stats())
    counts, counts_problem = attempt("The database", ops.jobs.counts)
    workers, workers_problem = attempt("Redis", ops.workers)
    waits = ops.queue_waits(workers or [])
    return render_template(
        "overview.html",
        broker=ops.settings.broker,
        queues=queues or [],
        queue_problem=queue_problem,
        counts=counts or {},
        counts_problem=counts_problem,
        workers=workers or [],
        workers_problem=workers_problem,
        waits=waits,
        kinds={kind.queue_name(ops.settings): name for name, kind in ops.kinds.items()},
        labels=ops.queue_labels(),
    )
