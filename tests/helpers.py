"""Helpers shared by the tests."""

from __future__ import annotations

import http.client
import itertools
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from werkzeug.serving import make_server

from app import migrations, queries
from app.db import Database
from app.processes import free_port

_counter = itertools.count()


def make_token(
    conn: psycopg.Connection, scopes: list[str], sources: list[str] | None = None
) -> str:
    """Create a token directly in the database; return its secret."""
    name = f"test-{next(_counter)}"
    return conn.execute(queries.CREATE_TOKEN, (name, scopes, sources, None)).fetchone()[1]


def migrate(url: str, **kwargs) -> list[str]:
    """Migrate the database at `url` the way the CLI does, through a Database of its own."""
    with Database(url) as database:
        return migrations.migrate(database, **kwargs)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(conn: psycopg.Connection, function: str, payload, *args):
    """Call sync_identities / ingest_embeddings with a dict or raw JSON text."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    placeholders = ", ".join(["%s"] * len(args))
    query = f"SELECT {function}(%s::jsonb{', ' if args else ''}{placeholders})"
    return conn.execute(query, (text, *args)).fetchone()[0]


def rejected(conn: psycopg.Connection, function: str, payload) -> list[dict]:
    """Call expecting SQLSTATE 22023; return the error list from DETAIL."""
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        call(conn, function, payload)
    return json.loads(info.value.diag.message_detail)


def vector(seed: int, dims: int = 512) -> list[float]:
    """A deterministic pseudo-random embedding (not normalised, like InsightFace's)."""
    rng = random.Random(seed)
    return [rng.gauss(0, 1) for _ in range(dims)]


def table_digest(conn: psycopg.Connection) -> dict[str, str]:
    """A digest of every row of every project table, to show a call changed nothing."""
    digests = {}
    # Authentication stamps api_tokens.last_used_at; that is not a change a
    # payload made, so the digest leaves it out.
    rows = {
        "identities": "t",
        "embeddings": "t",
        "identity_tombstones": "t",
        "audit_journal": "t",
        "api_tokens": "(t.token_id, t.name, t.scopes, t.source_systems, t.expires_at, t.revoked_at)",
        "embedding_quarantine": "t",
    }
    for table, row in rows.items():
        digests[table] = conn.execute(
            f"SELECT md5(coalesce(string_agg({row}::text, '|' ORDER BY {row}::text), '')) "
            f"FROM {table} t"
        ).fetchone()[0]
    return digests


# The project ships its own copy of the labelled photos and probes (demo/),
# so the tests need nothing outside the repository.
DATA_FACES = Path(__file__).resolve().parent.parent / "demo"


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join()


def raw_exchange(base: str, request: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """Send raw bytes to a server, half-close, read one answer: (status, headers,
    body), or None when the server closed without answering."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=20) as sock:
        try:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading all of it
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        return response.status, dict(response.getheaders()), response.read()


def assert_envelope(status: int, headers, body: bytes) -> dict:
    """Assert an error answer is the JSON envelope; return it."""
    content_type = headers.get("Content-Type", "")
    assert content_type.startswith("application/json"), (status, content_type, body[:300])
    document = json.loads(body)
    assert document["success"] is False and document["error"] and document["errors"], document
    assert all(e.get("code") and e.get("message") for e in document["errors"]), document
    return document


def wait_for(check, timeout: float = 20.0, interval: float = 0.05):
    """check()'s first truthy value within `timeout` seconds; AssertionError after."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(interval)
