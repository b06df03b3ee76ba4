"""Identity sync, embedding ingest and the external identity listing."""

from __future__ import annotations

from flask import Blueprint, g

from app import queries
from app.auth import require
from app.routes.common import database, json_body_text, query_args, whole_number_arg

bp = Blueprint("identities", __name__)


def _call(query: str) -> dict:
    return database().value(query, json_body_text(), g.caller.label, g.caller.allowed_sources)


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
    args = query_args()
    return database().value(
        queries.EXTERNAL_IDENTITIES,
        args.get("source_system") or None,
        whole_number_arg(args, "limit", 100),
        args.get("cursor") or None,
        g.caller.allowed_sources,
    )
