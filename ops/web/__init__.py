"""The ops dashboard: a small Flask app over ops.service.Ops.

Served by gunicorn from the Procfile as ``ops.web:create_app()``.
"""

from ops.web.app import create_app

__all__ = ["create_app"]
