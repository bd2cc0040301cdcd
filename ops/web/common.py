"""What the page modules share: the Ops of the app, queue names from URLs, template filters."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, abort, current_app, render_template, request

from ops.render import shorten, waited
from ops.service import Ops, OpsError


def get_ops() -> Ops:
    return current_app.extensions["ops"]


def job_queue(name: str) -> str:
    """The job queue a URL names (full name, "video" or "ai"); 404 for anything else."""
    try:
        return get_ops().queue_of(name)
    except OpsError:
        abort(404)


def same_site_only(view: Callable) -> Callable:
    """Refuse a page to requests another site made the browser send.

    For pages whose GET is not free of effects: browsing a dead-letter queue
    receives its messages, hiding them from actions for a moment. Basic auth
    is remembered by browsers, so without this a link or an ``<img>`` on any
    site could make an operator's browser do it. A refused navigation gets a
    page with a link of our own, which the operator can follow.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        if from_another_site(request):
            return render_template(
                "message.html", title="Opened from another site",
                text="This page reads the dead-letter queue, so it only opens from the dashboard itself.",
                link=request.full_path if request.query_string else request.path, link_text="Open it here",
            ), 403
        return view(*args, **kwargs)

    return wrapper


def from_another_site(req: Request) -> bool:
    """Whether the browser says another site made this request (Fetch metadata, else Origin or Referer).

    Requests without any of these headers (curl, scripts) are not from a site.
    Hosts are compared without the scheme: behind a TLS-terminating router
    the dashboard may see http where the browser saw https.
    """
    fetch_site = req.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    for header in ("Origin", "Referer"):
        value = req.headers.get(header)
        if value:
            return value == "null" or urlsplit(value).netloc.lower() != req.host.lower()
    return False




def when(value: Any) -> str:
    """A timestamp to the second, UTC."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("T", " ")[:19]


def ago(epoch_seconds: Any) -> str:
    if isinstance(epoch_seconds, bool) or not isinstance(epoch_seconds, (int, float)) or epoch_seconds != epoch_seconds:
        return "?"  # a damaged record: a page must still render
    seconds = max(0, int(min(time.time() - epoch_seconds, 10**9)))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def pretty(value: Any) -> str:
    """JSON columns as indented JSON; anything else as text."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(shorten=shorten, when=when, ago=ago, pretty=pretty, size=size, waited=waited)
    # Every page's navigation lists the deployment's kinds of job.
    app.context_processor(lambda: {"job_kinds": get_ops().kinds})
