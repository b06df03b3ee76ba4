"""Serve WSGI apps with gunicorn (a production server), not Flask's dev server."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):
    """gunicorn running `factory()` in each worker (so each has its own pool)."""

    def __init__(
        self,
        factory: Callable[[], Flask],
        host: str,
        port: int,
        *,
        workers: int = 2,
        threads: int = 4,
    ):
        self.factory = factory
        self.options = {
            "bind": f"{host}:{port}",
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
            # One shared control socket per user would make two servers on
            # one machine (a dev server and the tests) fight over it.
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.factory()
