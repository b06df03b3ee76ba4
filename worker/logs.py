"""Logging for every process of the project: plain text for a terminal, or
one JSON object a line (STUDIO_LOG_FORMAT=json) for a log shipper.

It lives with the worker because the worker must stand alone; the `studio`
command configures the server's processes with the same function.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_RECORD_FIELDS = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...extra}`, one line a record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Fields passed with `extra=` (job_id, camera, ...) become keys.
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _RECORD_FIELDS and not key.startswith("_")
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt.lower() == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Send every logger's records to stderr at `level`, as text or JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def gunicorn_logconfig(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access logs in the same
    format and on the same stream as everything else."""
    formatter_spec = (
        {"()": f"{__name__}.JsonFormatter"} if fmt.lower() == "json" else {"format": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "studio",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"studio": formatter_spec},
        "handlers": {"studio": handler},
        "root": {"level": level.upper(), "handlers": ["studio"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["studio"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["studio"], "propagate": False},
        },
    }
