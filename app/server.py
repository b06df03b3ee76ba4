"""Serve the API with gunicorn (a production WSGI server), not Flask's dev server."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from app import create_app
from app.config import Settings


class StudioServer(BaseApplication):
    """gunicorn running create_app() in each worker (each with its own pool)."""

    def __init__(self, settings: Settings, *, workers: int = 2, threads: int = 4):
        self.settings = settings
        self.options = {
            "bind": f"{settings.host}:{settings.port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            # An ingest call of ~1,000 faces takes well under a second; a
            # 100k-identity sync can take several.
            "timeout": 120,
            "graceful_timeout": 20,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            # One shared control socket per user would make two Studios on
            # one machine (a dev server and the tests) fight over it.
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(self.settings)
