"""Job rows from the database, one job with its live progress and its S3 outputs."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for

from adapters.db.job_queries import BadFilter
from kinds import KindDeclaration
from ops.web.common import get_ops
from ops.web.problems import attempt

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

PAGE_SIZE = 25
MAX_PAGE = 10_000  # 250,000 rows back; past that a search narrows better than paging


@bp.before_request
def _possible_job_id():
    """404 for an id no job of the kind can have (not a number, too long, a NUL character), on every page
    of one job, before the database or Redis is asked. After authentication: the app's checks run first."""
    values = request.view_args or {}
    declaration = get_ops().kinds.get(values.get("kind", ""))
    if "job_id" in values and declaration is not None and declaration.kind.parse_id(values["job_id"]) is None:
        abort(404, f"No {declaration.kind.noun} can have the id {values['job_id'][:80]!r}.")


@bp.get("/")
def root():
    return redirect(url_for(".index", kind=next(iter(get_ops().kinds))))


@bp.get("/<kind>/")
def index(kind: str):
    declaration = _declaration(kind)
    ops = get_ops()
    statuses = ops.jobs.statuses(kind)
    status = (request.args.get("status") or "").upper() or None
    unknown_status = status is not None and status not in statuses
    page = request.args.get("page", 1, type=int)
    if not 1 <= page <= MAX_PAGE:
        abort(400, f"The page number must be from 1 to {MAX_PAGE}.")
    options = ["id", *(field.option for field in declaration.table.search)]
    filters = {option: text.strip() for option in options if (text := request.args.get(option, "")).strip()}
    rows, problem, bad_filter = None, None, None
    if not unknown_status:
        try:
            rows, problem = attempt("The database", ops.jobs.recent, kind, status, limit=PAGE_SIZE + 1,
                                    offset=(page - 1) * PAGE_SIZE, filters=filters)
        except BadFilter as error:
            bad_filter = str(error)
    rows = rows or []
    return render_template(
        "jobs.html", kind=kind, title=declaration.title, statuses=statuses, status=status,
        unknown_status=unknown_status, page=page, rows=rows[:PAGE_SIZE], has_next=len(rows) > PAGE_SIZE,
        problem=problem, reason=declaration.table.error, listed=declaration.table.listed,
        search=declaration.table.search, filters=filters, bad_filter=bad_filter,
    ), 400 if bad_filter else 200


# path: AI job ids are the API's strings, and may hold a slash.
@bp.get("/<kind>/<path:job_id>")
def show(kind: str, job_id: str):
    declaration = _declaration(kind)
    ops = get_ops()
    row, row_problem = attempt("The database", ops.jobs.one, kind, job_id)
    if row is None and row_problem is None:
        abort(404)
    progress, progress_problem = attempt("Redis", ops.progress, kind, job_id)
    parts, parts_problem = attempt("Redis", ops.parts, kind, job_id)
    outputs, prefix, outputs_problem = [], None, None
    if row is not None:
        prefix = ops.output_prefix(kind, row)
        outputs, outputs_problem = attempt("S3", ops.outputs, kind, row)
    return render_template(
        "job.html", kind=kind, heading=declaration.kind.noun[:1].upper() + declaration.kind.noun[1:],
        job_id=job_id, row=row, row_problem=row_problem, progress=progress or {}, progress_problem=progress_problem,
        outputs=outputs or [], prefix=prefix, bucket=ops.settings.s3_bucket, outputs_problem=outputs_problem,
        reason=declaration.table.error, parts=parts or [], parts_problem=parts_problem,
    )


@bp.get("/<kind>/<path:job_id>/progress.json")
def progress(kind: str, job_id: str):
    """What the job page polls: the progress hash of CONTRACT section 3 and the row's status.

    Answers 200 even when a system is down, with ``error`` saying which, so the page can show it.
    """
    _declaration(kind)
    ops = get_ops()
    fields, problem = attempt("Redis", ops.progress, kind, job_id)
    row, row_problem = attempt("The database", ops.jobs.one, kind, job_id)
    errors = [p.text for p in (problem, row_problem) if p is not None]
    return jsonify(
        progress=fields or {},
        status=row["status"] if row else None,
        error=" ".join(errors) or None,
    )


def _declaration(kind: str) -> KindDeclaration:
    declaration = get_ops().kinds.get(kind)
    if declaration is None:
        abort(404)
    return declaration
