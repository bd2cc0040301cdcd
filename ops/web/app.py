"""The dashboard's app factory: settings, Ops, auth, CSRF, pages, error pages."""

from __future__ import annotations

import logging
import secrets

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

from adapters.logs.redact import secret_values
from adapters.logs.setup import configure_logging
from ops.service import Ops
from ops.web import auth, dead_letters, jobs, overview, preview, workers
from ops.web.common import register_filters
from ops.web.problems import UNREACHABLE, describe
from settings import Settings

log = logging.getLogger(__name__)


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
    app = Flask(__name__)
    app.extensions["ops"] = ops if ops is not None else Ops(settings)
    app.extensions["ops_settings"] = settings
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # The CSRF token is only needed while the operator looks at a confirmation page.
        WTF_CSRF_TIME_LIMIT=3600,
        TEMPLATES_AUTO_RELOAD=False,
    )
    # Authentication runs before the CSRF check: strangers get 401, viewers 403, never 400.
    auth.init_app(app, settings)
    CSRFProtect(app)
    for module in (overview, dead_letters, jobs, workers, preview):
        app.register_blueprint(module.bp)
    register_filters(app)
    _error_pages(app)
    app.after_request(_headers)
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

    @app.errorhandler(404)
    def not_found(error):
        return render_template("message.html", title="Not found", text="There is nothing at this address."), 404

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
    return response
