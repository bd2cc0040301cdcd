"""The dashboard's app factory: settings, Ops, auth, CSRF, pages, error pages, transport."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import RequestRedirect

from adapters.logs.redact import secret_values
from adapters.logs.setup import configure_logging
from ops.service import Ops
from ops.web import actions, auth, dead_letters, jobs, overview, preview, workers
from ops.web.common import register_filters
from ops.web.problems import UNREACHABLE, describe
from settings import Settings

log = logging.getLogger(__name__)

TEXT_TYPES = {"text/html", "text/plain", "application/json", "text/css", "text/javascript"}
HSTS = "max-age=31536000"


class Dashboard(Flask):
    """Flask, with the redirects routing makes (``/jobs`` -> ``/jobs/``) relative.

    Werkzeug builds them from the Host header, which a client chooses:
    ``Host: evil.example`` would send an operator to another site.
    """

    def raise_routing_exception(self, request):
        error = request.routing_exception
        if isinstance(error, RequestRedirect):
            parts = urlsplit(error.new_url)
            relative = RequestRedirect(urlunsplit(("", "", parts.path, parts.query, parts.fragment)))
            relative.code = error.code
            raise relative
        super().raise_routing_exception(request)


class _SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (as the trusted router says)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def create_app(settings: Settings | None = None, ops: Ops | None = None) -> Flask:
    """Build the dashboard.

    Parameters:
      settings: the worker's settings (default: ``ops.settings`` when ``ops``
        is given, else ``settings.load_settings()`` from the environment).
      ops: the Ops the pages read and act through (default: ``Ops(settings)``).
    """
    if settings is None:
        if ops is not None:
            settings = ops.settings
        else:
            from settings import load_settings

            settings = load_settings()
            # The production path (gunicorn): the worker's log format, secrets masked.
            configure_logging(settings.log_format, settings.log_level, secret_values(settings))
    app = Dashboard(__name__)
    app.extensions["ops"] = ops if ops is not None else Ops(settings)
    app.extensions["ops"].kinds  # a bad JOB_KIND_MODULES stops the dashboard at start, in one line
    app.extensions["ops_settings"] = settings
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # The CSRF token is only needed while the operator looks at a confirmation page.
        WTF_CSRF_TIME_LIMIT=3600,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = _SessionCookies()
    if settings.ops_trusted_proxies:
        # Only the platform's router may say which scheme and client a request had.
        hops = settings.ops_trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
    # Authentication runs before the CSRF check: strangers get 401, viewers 403, never 400.
    auth.init_app(app, settings)
    CSRFProtect(app)
    for module in (overview, dead_letters, actions, jobs, workers, preview):
        app.register_blueprint(module.bp)
    register_filters(app)
    _error_pages(app)
    app.after_request(_headers)
    redact = app.extensions["ops"].redact
    app.after_request(lambda response: _masked(response, redact))
    return app


def _secret_key(settings: Settings) -> str:
    if settings.ops_secret_key is not None and settings.ops_secret_key.get_secret_value():
        return settings.ops_secret_key.get_secret_value()
    log.warning(
        "OPS_SECRET_KEY is not set: using a random key for this process only; set it (one value for every "
        "process and dyno) or forms and flash messages break when requests reach another process"
    )
    return secrets.token_hex(32)


def _error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError):
        return render_template("message.html", title="Form expired or forged", text=error.description), 400

    @app.errorhandler(400)
    def bad_request(error: HTTPException):
        text = error.description if isinstance(error, HTTPException) else "The request could not be understood."
        return render_template("message.html", title="Bad request", text=text), 400

    @app.errorhandler(404)
    def not_found(error):
        # A page that says why (abort(404, "No video can have the id ...")) is shown its sentence.
        said = isinstance(error, NotFound) and error.description != NotFound.description
        text = error.description if said else "There is nothing at this address."
        return render_template("message.html", title="Not found", text=text), 404

    @app.errorhandler(500)
    def internal(error):
        return render_template("message.html", title="Internal error",
                               text="The dashboard failed; the log has the details."), 500

    # A page that did not catch an outage itself still says which system is down.
    def unreachable(error: Exception):
        problem = describe(error, "A backing service")
        log.warning("page failed: %s", problem.text)
        return render_template("message.html", title=problem.title, text=problem.text), 503

    for kind in UNREACHABLE:
        app.register_error_handler(kind, unreachable)


def _headers(response):
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: Flask-WTF checks the Referer of POSTs made over HTTPS.
    response.headers["Referrer-Policy"] = "same-origin"
    # blob: media and workers: hls.js feeds the preview's <video> through Media Source Extensions.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def _masked(response, redact):
    """Mask the deployment's secrets in every text the dashboard sends (pages, JSON, flash messages).

    A NUL character someone typed (a search form keeps what was typed) becomes U+FFFD, as a browser
    would show it: HTML may not carry one.
    """
    if response.direct_passthrough or response.is_streamed or response.mimetype not in TEXT_TYPES:
        return response
    text = response.get_data(as_text=True)
    cleaned = redact(text).replace("\x00", "\ufffd")
    if cleaned != text:
        response.set_data(cleaned)
    return response
