"""Identity sync, embedding ingest and the external identity listing."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from app import queries
from app.auth import require
from app.db import call_json
from app.errors import ApiError

bp = Blueprint("identities", __name__)


def json_body_text() -> str:
    """The request body as text, unparsed: PostgreSQL parses and validates it.

    Raises ApiError 415 for another content type and 400 for bytes that are
    not UTF-8 or hold NUL bytes (which PostgreSQL text cannot carry).
    """
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = request.get_data(cache=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not UTF-8: {exc.reason}") from exc
    if "\x00" in text:
        raise ApiError(400, "invalid_json", "the body holds a NUL byte")
    return text


def _pool():
    return current_app.extensions["studio_pool"]


def _call(query: str) -> dict:
    return call_json(_pool(), query, json_body_text(), g.caller.label, g.caller.allowed_sources)


@bp.post("/api/identities/sync")
@require("identities:write")
def sync_identities():
    """Create, rename and delete the identities of one source system."""
    return _call(queries.SYNC_IDENTITIES)


@bp.post("/api/identities/ingest-embeddings")
@require("embeddings:write")
def ingest_embeddings():
    """Store reference face embeddings, creating identities as needed."""
    return _call(queries.INGEST_EMBEDDINGS)


@bp.get("/api/identities/external")
@require("identities:read")
def external_identities():
    """One page of external identities with embedding counts."""
    limit = request.args.get("limit", "100")
    if not limit.isdigit():
        message = "limit must be a whole number from 1 to 1000"
        raise ApiError(
            400,
            "validation_failed",
            message,
            [
                {
                    "index": None,
                    "external_id": None,
                    "field": "limit",
                    "code": "invalid_type",
                    "message": message,
                }
            ],
        )
    return call_json(
        _pool(),
        queries.EXTERNAL_IDENTITIES,
        request.args.get("source_system") or None,
        int(limit),
        request.args.get("cursor") or None,
        g.caller.allowed_sources,
    )
