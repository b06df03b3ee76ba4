"""The one SQLSTATE -> HTTP table and the one error envelope.

Every error response, from any route, has the same shape:

    {"success": false, "error": "<code>", "message": "<text>", "errors": [...]}

`errors` holds every validation problem (index, external_id, field, code,
message) for a rejected payload, and a single entry otherwise.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg_pool
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Mapping:
    status: int
    code: str
    message: str | None = None  # None: pass the database's message through


# Every SQLSTATE that sql/ raises on purpose is listed here (a test checks),
# with the PostgreSQL errors a caller can provoke through a payload.
SQLSTATE_TO_HTTP: dict[str, Mapping] = {
    "22023": Mapping(400, "validation_failed"),
    "22P02": Mapping(400, "invalid_json"),
    "22P05": Mapping(400, "invalid_json"),  # \u0000 or another escape jsonb cannot hold
    "2202E": Mapping(400, "validation_failed"),  # array subscript error from a hostile payload
    "54001": Mapping(400, "payload_too_complex", "the JSON is nested too deeply"),
    "42501": Mapping(403, "forbidden"),
    "23514": Mapping(409, "constraint_violation"),
    "40001": Mapping(503, "busy", "the database is busy; retry"),
    "40P01": Mapping(503, "busy", "the database is busy; retry"),
    "55P03": Mapping(503, "busy", "the database is busy; retry"),
    # statement_timeout (STUDIO_STATEMENT_TIMEOUT, app/db.py) or an operator's
    # pg_cancel_backend(): the statement was rolled back.
    "57014": Mapping(
        503,
        "timeout",
        "the database cancelled the statement: it ran past the statement timeout "
        "(STUDIO_STATEMENT_TIMEOUT) or an operator cancelled it; nothing was changed",
    ),
    "GT001": Mapping(404, "job_not_found"),
    "GT002": Mapping(409, "stale_lease"),
    # record_sighting: the identity does not exist or is not the caller's
    # (one answer, so people cannot be probed); a sighting_id reused.
    "GT003": Mapping(404, "identity_not_found"),
    "GT004": Mapping(409, "sighting_conflict"),
    # Raised and caught inside sync_identities to roll back a dry run; it
    # never reaches a caller, so seeing it here is a bug.
    "GT900": Mapping(500, "internal_error", "internal error"),
}

# Whole classes: connection trouble, resources, operator intervention.
SQLSTATE_CLASS_TO_HTTP: dict[str, Mapping] = {
    "08": Mapping(503, "database_unavailable", "the database is unreachable; retry later"),
    "53": Mapping(503, "database_unavailable", "the database is out of resources; retry later"),
    "57": Mapping(503, "database_unavailable", "the database is restarting; retry later"),
    "22": Mapping(400, "invalid_value"),
}

# The `error` code of answers made from an HTTP status alone: werkzeug's
# exceptions, and what the WSGI server answers itself (app/server.py).
HTTP_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    417: "expectation_failed",
    431: "header_fields_too_large",
    500: "internal_error",
}


@dataclass
class ApiError(Exception):
    """An error that becomes an HTTP response with the envelope."""

    status: int
    code: str
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return envelope(self.code, self.message, self.errors)


def invalid_field(field: str, code: str, message: str) -> ApiError:
    """A 400 for one bad top-level field, shaped like the SQL functions' errors."""
    error = {"index": None, "external_id": None, "field": field, "code": code, "message": message}
    return ApiError(400, "validation_failed", message, [error])


def envelope(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> dict:
    """The error body every route returns."""
    return {
        "success": False,
        "error": code,
        "message": message,
        "errors": errors or [{"code": code, "message": message}],
    }


# The most of a database message or detail an answer echoes: PostgreSQL's
# own messages quote the offending input (a 1 MB bad JSON token comes back
# whole in DETAIL), and an error answer must stay small whatever was sent.
# The validation errors of 22023 are capped in SQL (studio_raise_invalid).
ECHO_LIMIT = 500


def _cut(text: str) -> str:
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 1] + "…"


def from_database_error(exc: psycopg.Error) -> ApiError:
    """Map a psycopg error to its HTTP form (unknown ones are a logged 500)."""
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg.OperationalError) and not exc.sqlstate:
        return unavailable()
    if isinstance(exc, psycopg.DataError) and not exc.sqlstate:
        # Refused by psycopg before it reached the server: a value PostgreSQL
        # cannot carry at all (a NUL in text), so it came from the caller.
        return ApiError(400, "invalid_value", f"a value cannot be stored: {exc}")
    sqlstate = exc.sqlstate or ""
    mapping = SQLSTATE_TO_HTTP.get(sqlstate) or SQLSTATE_CLASS_TO_HTTP.get(sqlstate[:2])
    if mapping is None:
        log.error("unexpected database error %s", sqlstate, exc_info=exc)
        return ApiError(500, "internal_error", "internal error")
    diag = exc.diag
    message = _cut(mapping.message or diag.message_primary or str(exc))
    errors: list[dict[str, Any]] = []
    if sqlstate == "22023" and diag.message_detail:
        try:
            errors = json.loads(diag.message_detail)
        except ValueError:
            errors = []
    if not errors:
        entry = {"code": mapping.code, "message": message}
        if diag.message_detail and mapping.message is None:
            entry["detail"] = _cut(diag.message_detail)
        errors = [entry]
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if mapping.status == 503 else {}
    return ApiError(mapping.status, mapping.code, message, errors, headers)


def unavailable() -> ApiError:
    return ApiError(
        503,
        "database_unavailable",
        "the database is unreachable; retry later",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _respond(error: ApiError):
    response = jsonify(error.body())
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def register(app: Flask) -> None:
    """Route every error, from Flask, werkzeug, psycopg or our code, to the envelope."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return _respond(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        code = HTTP_STATUS_CODES.get(error.code or 500, "http_error")
        message = error.description or error.name
        if error.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body is larger than the limit of {limit} bytes"
        response = _respond(ApiError(error.code or 500, code, message))
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(psycopg.Error)
    def _database_error(error: psycopg.Error):
        return _respond(from_database_error(error))

    @app.errorhandler(psycopg_pool.PoolTimeout)
    def _pool_timeout(error: psycopg_pool.PoolTimeout):
        return _respond(unavailable())

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.error("unhandled error", exc_info=error)
        return _respond(ApiError(500, "internal_error", "internal error"))
