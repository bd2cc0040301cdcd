"""HTTP basic auth with two roles: the admin may redrive and delete, the viewer only reads.

Every request needs credentials, static files included, with one exception:
``/healthz`` answers the bare word "ok" to anyone, because the platforms'
health checks (Render, Heroku) cannot send credentials; it reads no data and
names nothing. While no password is configured at all, every other request is
refused with 503: the dashboard is never served open.

Failed sign-ins are throttled (429 with Retry-After) per client address and
user name together, and per client address: guesses from one address lock
that address out (for that user, or for every user once it has tried many),
never the same user signing in from another address - so no one can lock the
admin out by guessing its password. While an address is throttled it gets
429 whatever it sends, so the answer never says whether a password was right.
IPv6 clients are counted per /64, the block one host usually holds. Counts
live in this process's memory: each dashboard process keeps its own, which
bounds guessing to a few attempts a minute per address and process. Behind
the platform's router the client address is only known when
OPS_TRUSTED_PROXIES says to trust its X-Forwarded-For (otherwise every client
shares the router's address, and its throttle). User names typed at a failed
sign-in are never logged (people type passwords into that box).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
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
FAILURES_PER_ADDRESS = parse("20/5 minutes")  # one address trying many user names
FAILURES_PER_ADDRESS_AND_USER = parse("10/5 minutes")  # one address guessing one user's password


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
        address = client_block(request.remote_addr)
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
    """Failed sign-ins per client address and user name, and per client address, in a moving window, in this process."""

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def wait(self, address: str, user: str) -> int:
        """Seconds until ``user`` may try again from ``address``; 0 when it may now.

        Parameters:
          address: the client's address (its block, see ``client_block``).
          user: the user name the client offered.
        """
        waits = [
            self.limiter.get_window_stats(limit, *key).reset_time - time.time()
            for limit, key in self._keys(address, user)
            if not self.limiter.test(limit, *key)
        ]
        return max(1, math.ceil(max(waits))) if waits else 0

    def failed(self, address: str, user: str) -> None:
        """Count one failed sign-in of ``user`` from ``address``."""
        for limit, key in self._keys(address, user):
            self.limiter.hit(limit, *key)

    @staticmethod
    def _keys(address: str, user: str):
        # The user name as a digest: fixed length, no "/" (limits joins key parts with it), and no
        # text someone typed into the user box (a password, often) kept in memory.
        digest = hashlib.sha256(user.encode("utf-8", "replace")).hexdigest()
        return ((FAILURES_PER_ADDRESS, ("address", address)),
                (FAILURES_PER_ADDRESS_AND_USER, ("address-and-user", digest, address)))


def client_block(address: str | None) -> str:
    """What the throttle counts a client by: its IPv4 address, or the /64 of its IPv6 address.

    One IPv6 host usually holds a whole /64; counted per address it could try
    billions of addresses of its own. Something that is not an address (a test
    client, a socket path) is counted as it is.
    """
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "?"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:198.51.100.1 is that IPv4 client
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
