"""Health and the OpenAPI document: the routes that need no token."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from app import embedded_db, queries
from app.db import DatabaseError
from app.openapi import document
from app.routes.common import database, read_database

bp = Blueprint("meta", __name__)


def _database_reachable(which=database) -> bool:
    try:
        which().fetch_one(queries.DATABASE_PING)
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
    """Readiness: 200 only while the database (and the read replica, when
    STUDIO_DATABASE_READ_URL names one) answers, else 503 with Retry-After.
    Under `studio serve` with the embedded database, also what its supervisor
    reports: running or restarting, restarts so far, the last error."""
    supervised = embedded_db.supervisor_state()
    extra = {"embedded_database": supervised} if supervised is not None else {}
    restarting = supervised is not None and supervised.get("state") == "restarting"
    # While the supervisor restarts the server, say so at once rather than wait
    # out a connection attempt.
    # With a read replica, recognition depends on it too: a server that
    # cannot reach it is not ready for recognition traffic.
    if current_app.extensions["studio_settings"].database_read_url:
        extra["read_database"] = (
            "reachable" if _database_reachable(read_database) else "unreachable"
        )
    primary = not restarting and _database_reachable()
    if primary and extra.get("read_database", "reachable") == "reachable":
        return jsonify({"status": "ready", "database": "reachable", **extra})
    status = "reachable" if primary else "unreachable"
    response = jsonify({"status": "unavailable", "database": status, **extra})
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
