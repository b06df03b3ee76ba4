"""Where the client commands send their calls: the API when STUDIO_URL is set,
else straight to the SQL functions."""

from __future__ import annotations

import getpass
import json
from typing import Any

from app import embedded_db, migrations, queries
from app.cli.output import CommandError
from app.config import Settings
from app.db import Database, DatabaseError
from app.errors import from_database_error
from worker.studio_client import StudioClient, StudioError


class DatabaseBackend:
    """The client commands, straight to the SQL functions (no server needed), called
    the way the API calls them; a refusal is the API's answer (StudioError)."""

    def __init__(self, database: Database):
        self.database = database
        self.caller = f"cli:{getpass.getuser()}"

    def _call(self, query: str, *args: Any) -> Any:
        try:
            return self.database.value(query, *args)
        except DatabaseError as exc:
            raise refusal(exc) from exc

    def sync(self, payload: str | dict) -> dict:
        return self._call(queries.SYNC_IDENTITIES, _text(payload), self.caller, None)

    def ingest(self, payload: str | dict) -> dict:
        return self._call(queries.INGEST_EMBEDDINGS, _text(payload), self.caller, None)

    def identities(
        self, source_system: str | None = None, limit: int = 1000, cursor: str | None = None
    ) -> dict:
        return self._call(queries.EXTERNAL_IDENTITIES, source_system, limit, cursor, None)

    def sightings(self, **filters: Any) -> dict:
        """One page of sightings (sightings_page), filters as GET /api/sightings names them."""
        return self._call(
            queries.SIGHTINGS_PAGE,
            filters.get("identity_id"),
            filters.get("source_system"),
            filters.get("external_id"),
            filters.get("camera"),
            filters.get("decision"),
            filters.get("since"),
            filters.get("until"),
            filters.get("limit", 100),
            filters.get("cursor"),
            None,
        )


class ApiBackend(StudioClient):
    """The client commands through the API (STUDIO_URL, STUDIO_TOKEN)."""

    def sightings(self, **filters: Any) -> dict:
        """One page of GET /api/sightings."""
        return self._request("GET", "/api/sightings", **filters)


def _text(payload: str | dict) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload)


def refusal(exc: DatabaseError) -> StudioError:
    """A database error as the API would answer it, for main() to report."""
    error = from_database_error(exc)
    return StudioError(error.status, error.body())


def backend(settings: Settings) -> ApiBackend | DatabaseBackend:
    """The API at STUDIO_URL when set (with STUDIO_TOKEN), else the database directly."""
    if settings.studio_url:
        return ApiBackend(settings.studio_url, settings.studio_token)
    return DatabaseBackend(open_database(settings))


def open_database(settings: Settings, *, limited: bool = True) -> Database:
    """Studio's database, on one connection (statements retried like the API's),
    each statement under STUDIO_STATEMENT_TIMEOUT unless `limited` is false
    (index builds, which are meant to run long); the embedded one migrated
    first, without the limit: it is ours to keep current."""
    url = embedded_db.database_url(settings)
    if not settings.database_url:
        with Database(url, application_name="studio-migrate") as unlimited:
            migrations.migrate(unlimited)
    return Database(
        url,
        application_name="studio-cli",
        statement_timeout=settings.statement_timeout if limited else None,
    )


def studio_client(settings: Settings) -> StudioClient:
    """The API at STUDIO_URL, for the commands that need a server. Raises CommandError."""
    if not settings.studio_url:
        raise CommandError("set STUDIO_URL (and STUDIO_TOKEN) to the Studio API")
    return StudioClient(settings.studio_url, settings.studio_token)
