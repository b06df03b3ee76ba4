"""Settings, read once from the environment into a frozen dataclass."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """An environment variable holds a value that cannot be used; the message
    names the variable."""


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults DESIGN.md documents. Each
    setting names its environment variable and carries its help text (shown
    by `studio --help` and the README's configuration table)."""

    database_url: str | None = _setting(
        None, "STUDIO_DATABASE_URL", "libpq URL of PostgreSQL with pgvector (unset: embedded)"
    )
    # Recognition may read from a hot standby (streaming replica) while every
    # write goes to STUDIO_DATABASE_URL: reads scale with replicas, writes
    # stay on one primary.
    database_read_url: str | None = _setting(
        None,
        "STUDIO_DATABASE_READ_URL",
        "libpq URL of a read replica (hot standby) that recognition reads: the gallery, "
        "its change feed and match_faces() (unset: STUDIO_DATABASE_URL)",
    )
    gallery_poll_ms: int = _setting(
        500,
        "STUDIO_GALLERY_POLL_MS",
        "milliseconds between reads of the gallery's change feed when no NOTIFY comes "
        "(always on a read replica, which delivers none)",
    )
    data_dir: Path = _setting(
        PROJECT_ROOT / ".data", "STUDIO_DATA_DIR", "where the embedded server keeps its files"
    )
    host: str = _setting("127.0.0.1", "STUDIO_HOST", "where studio serve listens")
    port: int = _setting(5050, "STUDIO_PORT", "the port studio serve listens on")
    studio_url: str | None = _setting(None, "STUDIO_URL", "the API client commands call")
    studio_token: str | None = _setting(None, "STUDIO_TOKEN", "the token they call it with")
    alfred_url: str = _setting("http://alfred:8082", "ALFRED_URL", "the photo catalog")
    alfred_token: str | None = _setting(None, "ALFRED_TOKEN", "the catalog's bearer token")
    model_root: Path | None = _setting(
        None, "STUDIO_MODEL_ROOT", "face model packs: ROOT/models/NAME (unset: ~/.insightface)"
    )
    model: str = _setting("buffalo_l", "STUDIO_MODEL", "the face model pack")
    det_size: str = _setting(
        "auto",
        "STUDIO_DET_SIZE",
        "the face detector's input: auto (each frame's own size) or a long side in pixels",
    )
    inference_threads: int = _setting(
        0, "STUDIO_INFERENCE_THREADS", "CPU threads per face model (0: onnxruntime decides)"
    )
    max_body_bytes: int = _setting(
        32 * 1024 * 1024, "STUDIO_MAX_BODY_BYTES", "request body limit (413 past it)"
    )
    pool_size: int = _setting(8, "STUDIO_POOL_SIZE", "database connections per API process")
    # Bounds how long one request (or client command) can hold a connection
    # and the process waiting on it, whatever it sent.
    statement_timeout: int = _setting(
        60,
        "STUDIO_STATEMENT_TIMEOUT",
        "seconds one database statement of the API, a client command or studio psql may run "
        "before it is cancelled (0: no limit)",
    )
    # /metrics shows every source system's gallery and job counts, so it needs
    # a token with the metrics scope; STUDIO_METRICS_PUBLIC=1 opens it to a
    # scrape network that cannot send one.
    metrics_public: bool = _setting(
        False, "STUDIO_METRICS_PUBLIC", "1: /metrics without a token (a scrape network)"
    )
    # How long sightings (and their events) are kept: `studio sightings purge`
    # deletes older ones; cron runs it daily.
    sighting_retention_days: int = _setting(
        30, "STUDIO_SIGHTING_RETENTION_DAYS", "days of sightings studio sightings purge keeps"
    )
    events_config: Path | None = _setting(
        None,
        "STUDIO_EVENTS_CONFIG",
        "TOML file of the event outputs (MQTT, webhooks) for studio events run",
    )
    log_level: str = _setting("INFO", "STUDIO_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR")
    log_format: str = _setting("text", "STUDIO_LOG_FORMAT", "text, or json (one object a line)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from STUDIO_* / ALFRED_* variables, then apply
        overrides. Raises ConfigError naming a variable whose value is wrong."""
        env = os.environ if env is None else env
        values = {}
        for item in fields(cls):
            raw = env.get(item.metadata["env"])
            if raw is not None and (raw.strip() or item.type in ("str", "int", "bool")):
                values[item.name] = _parse(item, raw)
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(cls(**values), **overrides)


_CHOICES = {
    "log_level": ("DEBUG", "INFO", "WARNING", "ERROR"),
    "log_format": ("TEXT", "JSON"),
}


def _parse(item: Any, raw: str) -> Any:
    """One variable's value, as its setting's type wants it."""
    name, text = item.metadata["env"], raw.strip()
    if item.type == "int":
        if not text.isascii() or not text.isdigit():
            raise ConfigError(f"{name}={raw!r}: expected a whole number")
        return int(text)
    if item.type == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("", "0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={raw!r}: expected 1 or 0")
    if "Path" in item.type:
        return Path(text).resolve() if item.name == "data_dir" else Path(text)
    if item.name in _CHOICES:
        if text.upper() not in _CHOICES[item.name]:
            choices = ", ".join(c.lower() for c in _CHOICES[item.name])
            raise ConfigError(f"{name}={raw!r}: expected one of {choices}")
        return text.upper() if item.name == "log_level" else text.lower()
    return text if text or item.type == "str" else None
