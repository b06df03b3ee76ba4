"""Health and the OpenAPI document: the routes that need no token."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from app import embedded_db, queries
from app.db import DatabaseError
from app.openapi import document
from app.routes.common import database

bp = Blueprint("meta", __name__)


def _database_reachable() -> bool:
    try:
        database().fetch_one(queries.DATABASE_PING)
    except Exception:  # any failure to answer means "not reachable" here
        return False
    return True


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers; says whether the database does too."""
    reachable = _database_reachable()
    return jsonify({"status": "ok", "database": "reachable" if reachable else "unreachable"})


@bp.get("/readyz")
def readyz():
    """Readiness: 200 only while the database answers, else 503 with Retry-After.
    Under `studio serve` with the embedded database, also what its supervisor
    reports: running or restarting, restarts so far, the last error."""
    supervised = embedded_db.supervisor_state()
    extra = {"embedded_database": supervised} if supervised is not None else {}
    restarting = supervised is not None and supervised.get("state") == "restarting"
    # While the supervisor restarts the server, say so at once rather than wait
    # out a connection attempt.
    if not restarting and _database_reachable():
        return jsonify({"status": "ready", "database": "reachable", **extra})
    response = jsonify({"status": "unavailable", "database": "unreachable", **extra})
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


@bp.get("/api/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API: the models a recognize call may name
    include those calibrated in the database (without it, those in code)."""
    try:
        calibrated = [m for (m,) in database().fetch_all(queries.CALIBRATED_MODELS)]
    except DatabaseError:
        calibrated = []  # the document is served while the database is away
    return jsonify(document(current_app.extensions["studio_settings"].model, calibrated))
