"""The one way into PostgreSQL.

A Database is a connection pool (the API, whose requests run side by side)
or a single connection, opened at first use and again after it broke (the
command line and tools, which send one statement after another). Either way
every connection is in autocommit with pgvector's types registered.

A statement sent through the Database is its own transaction: one that fails
with a serialization failure or a deadlock applied nothing, and is tried
again with backoff, up to RETRIES times. A Session holds one connection for
work that needs it (a transaction, a session setting, an advisory lock,
several statements in a row) and retries nothing.

Errors are psycopg's, with their SQLSTATE (DatabaseError is the root of
them); what they mean to an HTTP client is app/errors.py's business.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, TypeVar

import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from app import queries
from app.config import ConfigError, Settings

log = logging.getLogger(__name__)

CHECKOUT_TIMEOUT_SECONDS = 5.0
RETRIES = 4
# Serialization failure and deadlock: PostgreSQL rolled the transaction back,
# and the same statement may simply run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

DatabaseError = psycopg.Error
# No connection could be had or it broke, or the server is stopping or out of
# resources: the database is away, whatever the statement.
DatabaseUnavailable = psycopg.OperationalError


def check_urls(settings: Settings) -> None:
    """Refuse a database URL libpq cannot read (without connecting), naming
    the variable but not the value: it may hold a password. Raises
    ConfigError."""
    for item in fields(settings):
        if item.name in ("database_url", "database_read_url") and getattr(settings, item.name):
            try:
                conninfo_to_dict(getattr(settings, item.name))
            except psycopg.ProgrammingError as exc:
                raise ConfigError(
                    f"{item.metadata['env']}: not a PostgreSQL URL "
                    "(postgresql://user:password@host:5432/dbname) or key=value connection string"
                ) from exc


T = TypeVar("T")


def _configure(conn: psycopg.Connection) -> None:
    conn.autocommit = True
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        # The vector type does not exist before the first migration.
        log.debug("pgvector type not found (not migrated yet)")


def _backoff(attempt: int) -> None:
    # Doubling, with jitter so that two callers that collided do not collide again.
    time.sleep(0.02 * 2**attempt * (1 + random.random()))


def _params(args: tuple, named: dict[str, Any]) -> tuple | dict[str, Any]:
    # Always a sequence or a mapping, even an empty one, so that every
    # statement of sql/queries.sql is read the same way (%% is a literal %).
    if args and named:
        raise TypeError("give parameters in order or by name, not both")
    return named or args


class Session:
    """One connection, held: statements in order, transactions, session settings."""

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn

    def execute(self, query: str, *args: Any, **named: Any) -> None:
        self._conn.execute(query, _params(args, named))

    def fetch_all(self, query: str, *args: Any, binary: bool = False, **named: Any) -> list[tuple]:
        """Every row; `binary` has PostgreSQL send them in binary form, which
        psycopg reads without parsing text (a vector in one copy, not 512
        numbers parsed one by one)."""
        return self._conn.execute(query, _params(args, named), binary=binary).fetchall()

    def fetch_one(self, query: str, *args: Any, **named: Any) -> tuple | None:
        return self._conn.execute(query, _params(args, named)).fetchone()

    def value(self, query: str, *args: Any, **named: Any) -> Any:
        """The first column of the first row (a SQL function's result); None for no row."""
        row = self.fetch_one(query, *args, **named)
        return row[0] if row is not None else None

    def execute_script(self, text: str) -> None:
        """Run a file of statements as it is (a migration, the functions): no parameters."""
        self._conn.execute(text)

    def execute_composed(
        self,
        template: str,
        *,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        """Run a statement whose {fields} are identifiers (`names`) or literals
        (`values`): what PostgreSQL takes no parameter for (DDL, LISTEN)."""
        fields = {k: sql.Identifier(v) for k, v in (names or {}).items()}
        fields |= {k: sql.Literal(v) for k, v in (values or {}).items()}
        self._conn.execute(sql.SQL(template).format(**fields))  # type: ignore[arg-type]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or rolls back on an exception."""
        with self._conn.transaction():
            yield

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read-only transaction whose statements all see the database as of
        its first one (REPEATABLE READ): reads that must agree with each
        other, on a primary or a hot standby."""
        conn = self._conn
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction():
                yield
        finally:
            # The connection goes back to its pool as it came.
            conn.isolation_level = None
            conn.read_only = None


class Database:
    """A pool or a single connection, and the statements sent through it."""

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int | None = None,
        application_name: str = "studio",
        checkout_timeout: float = CHECKOUT_TIMEOUT_SECONDS,
        statement_timeout: float | None = None,
    ):
        """A single connection, or with `pool_size` a pool of that many; opens
        nothing yet, so a server starts while the database is down. With
        `statement_timeout` (seconds; None or 0: no limit) PostgreSQL cancels
        any statement on these connections that runs longer, with SQLSTATE
        57014 (nothing it did stays): a request can hold a connection, and
        the process waiting on it, that long at most."""
        self.conninfo = conninfo
        self.application_name = application_name
        self.statement_timeout = statement_timeout or None
        # Set when each connection starts, so no statement runs before it.
        self._connect_kwargs: dict[str, str] = {"application_name": application_name}
        if self.statement_timeout:
            options = conninfo_to_dict(conninfo).get("options") or ""
            milliseconds = max(1, round(self.statement_timeout * 1000))
            options = f"{options} -c statement_timeout={milliseconds}"
            self._connect_kwargs["options"] = options.strip()
        # How long a pooled statement waits for a connection before it fails
        # (PoolTimeout): then the database is as good as unreachable.
        self.checkout_timeout = checkout_timeout
        self._pool: ConnectionPool | None = None
        self._conn: psycopg.Connection | None = None
        self._lock = threading.RLock()
        if pool_size is not None:
            self._pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=pool_size,
                open=False,
                configure=_configure,
                check=ConnectionPool.check_connection,
                timeout=checkout_timeout,
                reconnect_timeout=0,  # keep trying for as long as the database is away
                kwargs=self._connect_kwargs,
            )
            self._pool.open(wait=False)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ------------------------------------------------------------ connections

    def _open(self) -> psycopg.Connection:
        conn = psycopg.connect(self.conninfo, **self._connect_kwargs)
        _configure(conn)
        return conn

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Hold one connection: the pool's next free one, or the single one."""
        if self._pool is not None:
            with self._pool.connection(timeout=self.checkout_timeout) as conn:
                yield Session(conn)
            return
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = self._open()
            yield Session(self._conn)

    @contextmanager
    def listening(self, channel: str) -> Iterator[Callable[[float], bool]]:
        """LISTEN on `channel`, on a connection of its own (it waits as long as it
        lives, so never one of the pool's); yields wait(timeout), which says
        whether a notification came within `timeout` seconds."""
        with self._open() as conn:
            Session(conn).execute_composed(queries.LISTEN, names={"channel": channel})

            def wait(timeout: float) -> bool:
                return bool(list(conn.notifies(timeout=timeout, stop_after=1)))

            yield wait

    def refresh_types(self) -> None:
        """Register pgvector's types again: after a migration created them, on
        connections opened before."""
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                _configure(self._conn)
        if self._pool is not None:
            self._pool.drain()

    # ------------------------------------------------------------ statements

    def _retried(self, work: Callable[[Session], T]) -> T:
        for attempt in range(RETRIES + 1):
            try:
                with self.session() as session:
                    return work(session)
            except psycopg.Error as exc:
                if exc.sqlstate not in RETRYABLE_SQLSTATES or attempt == RETRIES:
                    raise
                _backoff(attempt)
        raise AssertionError("unreachable")

    def execute(self, query: str, *args: Any, **named: Any) -> None:
        self._retried(lambda s: s.execute(query, *args, **named))

    def fetch_all(self, query: str, *args: Any, **named: Any) -> list[tuple]:
        return self._retried(lambda s: s.fetch_all(query, *args, **named))

    def fetch_one(self, query: str, *args: Any, **named: Any) -> tuple | None:
        return self._retried(lambda s: s.fetch_one(query, *args, **named))

    def value(self, query: str, *args: Any, **named: Any) -> Any:
        """The first column of the first row: a SQL function's result (jsonb comes
        back as Python values)."""
        return self._retried(lambda s: s.value(query, *args, **named))
