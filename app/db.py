"""The connection pool and the one way routes call SQL functions."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

from app.errors import RETRYABLE_SQLSTATES

log = logging.getLogger(__name__)

CHECKOUT_TIMEOUT_SECONDS = 5.0
RETRIES = 4


def _configure(conn: psycopg.Connection) -> None:
    conn.autocommit = True
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        # The vector type does not exist before the first migration.
        log.warning("pgvector type not found; run `studio migrate`")


def create_pool(conninfo: str, *, max_size: int = 8) -> ConnectionPool:
    """A pool that opens without waiting, so the API starts while the database is down."""
    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        open=False,
        configure=_configure,
        check=ConnectionPool.check_connection,
        timeout=CHECKOUT_TIMEOUT_SECONDS,
        reconnect_timeout=0,  # keep trying for as long as the database is away
        kwargs={"application_name": "studio-api"},
    )
    pool.open(wait=False)
    return pool


def call_json(pool: ConnectionPool, query: str, *args: Any) -> Any:
    """Run a one-value query (a SQL function call) in one transaction; return the value.

    Serialization failures and deadlocks are retried with backoff, so a
    client sees them only as a 503 once the retries are spent. Other
    psycopg errors propagate for app.errors to map.
    """
    for attempt in range(RETRIES + 1):
        try:
            with pool.connection() as conn:
                return conn.execute(query, args).fetchone()[0]
        except psycopg.Error as exc:
            if exc.sqlstate not in RETRYABLE_SQLSTATES or attempt == RETRIES:
                raise
            time.sleep(0.02 * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")


def fetch_all(pool: ConnectionPool, query: str, *args: Any) -> list[tuple]:
    with pool.connection() as conn:
        return conn.execute(query, args).fetchall()
