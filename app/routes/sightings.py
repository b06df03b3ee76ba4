"""Sightings: a camera records each finished track; readers page through them."""

from __future__ import annotations

from flask import Blueprint, g

from app import queries
from app.auth import require
from app.routes.common import database, json_body_text, query_args, whole_number_arg

bp = Blueprint("sightings", __name__)


@bp.post("/api/sightings")
@require("sightings:write")
def record_sighting():
    """One finished camera track as a sighting, with its events; idempotent on
    sighting_id."""
    return database().value(
        queries.RECORD_SIGHTING, json_body_text(), g.caller.label, g.caller.allowed_sources
    )


@bp.get("/api/sightings")
@require("sightings:read")
def sightings():
    """One page of sightings, newest first, of the people the token may see."""
    args = query_args()
    return database().value(
        queries.SIGHTINGS_PAGE,
        args.get("identity_id"),
        args.get("source_system") or None,
        args.get("external_id"),
        args.get("camera"),
        args.get("decision"),
        args.get("since"),
        args.get("until"),
        whole_number_arg(args, "limit", 100),
        args.get("cursor") or None,
        g.caller.allowed_sources,
    )
