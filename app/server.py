"""Serve WSGI apps with gunicorn (a production server), not Flask's dev server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from flask import Flask
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import (
    InvalidResponseHeader,
    InvalidResponseHeaderName,
    ParseException,
)
from gunicorn.workers.gthread import ThreadWorker

from app.errors import HTTP_STATUS_CODES, envelope

# What gunicorn answers itself, before the app sees a request (a malformed
# request line, headers over its limits, a broken chunked body), is in the
# envelope too. gunicorn has no hook for the body of those answers, only the
# module function that writes them, so EnvelopeWorker swaps that function
# in its own process and records which error it is answering.
_answering = threading.local()
MAX_ERROR_MESSAGE = 300


def _write_envelope(sock, status: int, reason: str, message: str) -> None:
    """gunicorn's util.write_error, with the API's JSON envelope for a body."""
    error = getattr(_answering, "error", None)
    if (
        status >= 500
        and isinstance(error, ParseException)
        and not isinstance(error, InvalidResponseHeader | InvalidResponseHeaderName)
    ):
        # A malformed request (an unknown transfer coding, a SCRIPT_NAME header
        # that does not fit) is the client's fault: 400, never a 5xx.
        status, reason = 400, "Bad Request"
    code = HTTP_STATUS_CODES.get(status, "http_error")
    text = (message or reason)[:MAX_ERROR_MESSAGE]
    body = json.dumps(envelope(code, text)).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class EnvelopeWorker(ThreadWorker):
    """gunicorn's threaded worker, answering its own errors with the JSON envelope."""

    def init_process(self):
        util.write_error = _write_envelope
        super().init_process()

    def handle_error(self, req, client, addr, exc):
        _answering.error = exc
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            _answering.error = None


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
        on_ready: Callable[[], None] | None = None,
        logconfig: dict | None = None,
    ):
        """`on_ready` runs once the socket is bound, before the workers start
        (so a banner never says "listening" for a port that is taken);
        `logconfig` is gunicorn's logconfig_dict, for one log format."""
        self.factory = factory
        self.options = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": f"{__name__}.EnvelopeWorker",
            "threads": threads,
            # An ingest call of ~1,000 faces takes well under a second; a
            # 100k-identity sync can take several.
            "timeout": 120,
            "graceful_timeout": 20,
            # Longer than any client of ours waits between calls (workers
            # poll every 2 s, gunicorn's own keep-alive): a connection the
            # server closes as the client reuses it loses that request.
            "keepalive": 30,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            # One shared control socket per user would make two servers on
            # one machine (a dev server and the tests) fight over it.
            "control_socket_disable": True,
        }
        if on_ready is not None:
            self.options["when_ready"] = lambda _arbiter: on_ready()
        if logconfig is not None:
            self.options["logconfig_dict"] = logconfig
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.factory()
