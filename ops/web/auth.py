"""HTTP basic auth with two roles: the admin may redrive and delete, the viewer only reads.

Every request needs credentials, static files included, with one exception:
``/healthz`` answers the bare word "ok" to anyone, because the platforms'
health checks (Render, Heroku) cannot send credentials; it reads no data and
names nothing. While no password is configured at all, every other request is
refused with 503: the dashboard is never served open.

Failed sign-ins are throttled per client address and per user name (429 with
Retry-After), counted in this process's memory: each dashboard process keeps
its own count, which bounds guessing to a few attempts a minute per process.
Behind the platform's router the client address is only known when
OPS_TRUSTED_PROXIES says to trust its X-Forwarded-For. User names typed at
a failed sign-in are never logged (people type passwords into that box).
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, current_app, g, render_template, request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from settings import Settings

log = logging.getLogger(__name__)

ADMIN, VIEWER = "admin", "viewer"
OPEN_ENDPOINTS = {"overview.healthz"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
REALM = 'Basic realm="media-worker ops", charset="UTF-8"'
FAILURES_PER_ADDRESS = parse("20/5 minutes")
FAILURES_PER_USER = parse("10/5 minutes")


def admin_only(view: Callable) -> Callable:
    """Mark a view as an action: only the admin may reach it (checked before CSRF, in ``_authenticate``)."""
    view.admin_only = True  # type: ignore[attr-defined]

    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("role") != ADMIN:
            abort(403)
        return view(*args, **kwargs)

    wrapper.admin_only = True  # type: ignore[attr-defined]
    return wrapper


def init_app(app: Flask, settings: Settings) -> None:
    """Check credentials before every request of ``app``.

    Parameters:
      app: the dashboard.
      settings: OPS_ADMIN_USER/OPS_ADMIN_PASSWORD and OPS_VIEWER_USER/OPS_VIEWER_PASSWORD.
    """
    accounts = _accounts(settings)
    throttle = Throttle()

    @app.before_request
    def _authenticate():
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        if not accounts:
            return render_template(
                "message.html", title="Not configured", anonymous=True,
                text="The ops dashboard has no password: set OPS_ADMIN_PASSWORD (and OPS_VIEWER_PASSWORD "
                     "for read-only access) to use it.",
            ), 503
        given = request.authorization
        offered = given is not None and given.type == "basic" and given.username is not None
        address = request.remote_addr or "?"
        if offered:
            wait = throttle.wait(address, given.username)
            if wait:
                response = current_app.make_response((
                    render_template("message.html", title="Too many failed sign-ins", anonymous=True,
                                    text=f"Try again in {wait} seconds."),
                    429,
                ))
                response.headers["Retry-After"] = str(wait)
                return response
        account = _account(accounts)
        if account is None:
            if offered:
                throttle.failed(address, given.username)
                log.warning("failed sign-in to the ops dashboard from %s", address)
            response = current_app.make_response((
                render_template("message.html", title="Sign in", anonymous=True,
                                text="This dashboard needs the operators' user name and password."),
                401,
            ))
            response.headers["WWW-Authenticate"] = REALM
            return response
        role, user = account
        g.role, g.user = role, user
        view = current_app.view_functions.get(request.endpoint or "")
        if role != ADMIN and (request.method not in SAFE_METHODS or getattr(view, "admin_only", False)):
            return render_template("message.html", title="Forbidden",
                                   text="Only the admin may redrive or delete dead letters."), 403
        return None

    @app.context_processor
    def _role_in_templates():
        return {"role": g.get("role"), "is_admin": g.get("role") == ADMIN}


def _accounts(settings: Settings) -> list[tuple[str, bytes, bytes]]:
    """(role, user, password) of every account that has a password."""
    found = []
    for role, user, secret in (
        (ADMIN, settings.ops_admin_user, settings.ops_admin_password),
        (VIEWER, settings.ops_viewer_user, settings.ops_viewer_password),
    ):
        password = secret.get_secret_value() if secret is not None else ""
        if password:
            found.append((role, user.encode(), password.encode()))
    return found


def _account(accounts: list[tuple[str, bytes, bytes]]) -> tuple[str, str] | None:
    """(role, user name) of the account whose credentials the request carries, or None."""
    given = request.authorization
    if given is None or given.type != "basic" or given.username is None or given.password is None:
        return None
    user, password = given.username.encode(), given.password.encode()
    found = None
    for name, expected_user, expected_password in accounts:
        # Both comparisons always run, for every account: the timing says nothing about which part was wrong.
        user_ok = hmac.compare_digest(user, expected_user)
        password_ok = hmac.compare_digest(password, expected_password)
        if user_ok and password_ok and found is None:
            found = (name, expected_user.decode())
    return found


class Throttle:
    """Failed sign-ins per client address and per user name, in a moving window, in this process."""

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def wait(self, address: str, user: str) -> int:
        """Seconds until this address and user may try again; 0 when they may now."""
        waits = [
            self.limiter.get_window_stats(limit, kind, key).reset_time - time.time()
            for limit, kind, key in self._keys(address, user)
            if not self.limiter.test(limit, kind, key)
        ]
        return max(1, math.ceil(max(waits))) if waits else 0

    def failed(self, address: str, user: str) -> None:
        for limit, kind, key in self._keys(address, user):
            self.limiter.hit(limit, kind, key)

    @staticmethod
    def _keys(address: str, user: str):
        return ((FAILURES_PER_ADDRESS, "address", address), (FAILURES_PER_USER, "user", user))
