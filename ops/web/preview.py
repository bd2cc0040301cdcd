"""The job page's preview player: a video's own outputs streamed from the private bucket, and hls.js."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_file, stream_with_context

from ops.preview import hls_js_path, open_output, output_key
from ops.web.common import get_ops
from ops.web.problems import attempt

bp = Blueprint("preview", __name__)
CHUNK_BYTES = 256 * 1024


@bp.get("/jobs/video/<int:video_id>/files/<path:name>")
def file(video_id: int, name: str):
    """One file under the video's own prefix (playlist, segment, storyboard), as the player asks for it."""
    ops = get_ops()
    row, problem = attempt("The database", ops.jobs.one, "video", str(video_id))
    if problem is not None:
        abort(503)
    if row is None:
        abort(404)
    key = output_key(ops.output_prefix("video", row), name)
    if key is None:
        abort(404)
    found, problem = attempt("S3", open_output, ops.s3, ops.settings.s3_bucket, key)
    if problem is not None:
        abort(503)
    if found is None:
        abort(404)

    def chunks():
        try:
            yield from found.body.iter_chunks(CHUNK_BYTES)
        finally:
            found.body.close()

    response = Response(stream_with_context(chunks()), content_type=found.content_type)
    response.headers["Content-Length"] = str(found.length)
    return response


@bp.get("/player/hls.min.js")
def hls_js():
    """hls.js as `npm ci` installed it (package-lock.json); 404 when this deployment has none."""
    path = hls_js_path()
    if path is None:
        abort(404)
    return send_file(path, mimetype="text/javascript", max_age=3600)
