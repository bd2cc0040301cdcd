"""What the page modules share: the Ops of the app, queue names from URLs, template filters."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from flask import Flask, abort, current_app

from ops.render import shorten
from ops.service import Ops, OpsError


def get_ops() -> Ops:
    return current_app.extensions["ops"]


def job_queue(name: str) -> str:
    """The job queue a URL names (full name, "video" or "ai"); 404 for anything else."""
    try:
        return get_ops().queue_of(name)
    except OpsError:
        abort(404)


def kind_of_queue(queue: str) -> str:
    return "video" if queue == get_ops().settings.video_queue else "ai"


def when(value: Any) -> str:
    """A timestamp to the second, UTC."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("T", " ")[:19]


def ago(epoch_seconds: float) -> str:
    seconds = max(0, int(time.time() - epoch_seconds))
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
    app.jinja_env.filters.update(shorten=shorten, when=when, ago=ago, pretty=pretty, size=size)
