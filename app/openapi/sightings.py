"""Sightings in the document: what a camera posts for each finished track, and
the history a reader pages through (sql/functions/record_sighting.sql and
sightings_page.sql hold the rules)."""

from __future__ import annotations

from typing import Any

from app.limits import (
    BIGINT_MAX,
    CAMERA_MAX,
    DECISIONS,
    FRAMES_MAX,
    MODEL_MAX,
    SIGHTING_PAGE_MAX,
)
from app.openapi.fields import (
    _CONTROL,
    _COUNT,
    _UUID,
    BODY_ERRORS,
    ERROR_RESPONSES,
    _text,
    json_content,
    ref,
)

# RFC 3339 with an offset, as record_sighting reads it (studio_rfc3339).
_DATE_TIME = {"type": "string", "format": "date-time"}
_SIMILARITY = {
    "type": ["number", "null"],
    "minimum": -1,
    "maximum": 1,
    "description": "Cosine similarity of the leading candidate; kept to 6 decimals",
}

SIGHTING_SCHEMAS: dict[str, Any] = {
    "SightingRequest": {
        "type": "object",
        "required": [
            "sighting_id",
            "camera",
            "model",
            "started_at",
            "ended_at",
            "frames",
            "decision",
        ],
        "additionalProperties": False,
        "properties": {
            "sighting_id": {
                **_UUID,
                "description": "Made once per track by the camera; a retry sends the same",
            },
            "camera": _text(CAMERA_MAX, description="The camera's name; never a URL or path"),
            "model": _text(MODEL_MAX, only="A-Za-z0-9_.-"),
            "started_at": {**_DATE_TIME, "description": "Wall-clock time of the first frame"},
            "ended_at": {
                **_DATE_TIME,
                "description": "Of the last frame: not before started_at, not in the future",
            },
            "frames": {"type": "integer", "minimum": 1, "maximum": FRAMES_MAX},
            "decision": {"enum": list(DECISIONS)},
            "identity_id": {
                "anyOf": [_UUID, {"type": "null"}],
                "description": "Whom the track identified: required when identified, else null",
            },
            "best_similarity": _SIMILARITY,
            "mean_similarity": _SIMILARITY,
            "track": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": BIGINT_MAX,
                "description": "The camera process's own track number",
            },
        },
        # Only an identified track names a person, and it always does.
        "if": {"properties": {"decision": {"const": "identified"}}},
        "then": {"required": ["identity_id"], "properties": {"identity_id": _UUID}},
        "else": {"properties": {"identity_id": {"type": "null"}}},
    },
    "Sighting": {
        "type": "object",
        "required": [
            "sighting_id",
            "camera",
            "model",
            "started_at",
            "ended_at",
            "frames",
            "decision",
            "identity",
        ],
        "properties": {
            "sighting_id": {"type": "string", "format": "uuid"},
            "camera": {"type": "string"},
            "model": {"type": "string"},
            "started_at": _DATE_TIME,
            "ended_at": _DATE_TIME,
            "frames": {"type": "integer"},
            "decision": {"enum": list(DECISIONS)},
            "best_similarity": {"type": ["number", "null"]},
            "mean_similarity": {"type": ["number", "null"]},
            "track": {"type": ["integer", "null"]},
            "identity": {
                "type": ["object", "null"],
                "description": "The person, for an identified sighting; null otherwise",
                "properties": {
                    "identity_id": {"type": "string", "format": "uuid"},
                    "external_id": {"type": ["string", "null"]},
                    "source_system": {"type": ["string", "null"]},
                    "name": {"type": ["string", "null"]},
                },
            },
            "recorded_by": {"type": "string"},
            "created_at": _DATE_TIME,
        },
    },
    "SightingResponse": {
        "type": "object",
        "required": ["success", "created", "sighting", "events"],
        "properties": {
            "success": {"const": True},
            "created": {
                "type": "boolean",
                "description": "false: this sighting_id was recorded before, with the same content",
            },
            "sighting": ref("Sighting"),
            "events": {**_COUNT, "description": "Events this call wrote to the outbox"},
        },
    },
    "SightingsPage": {
        "type": "object",
        "required": ["success", "sightings", "next_cursor"],
        "properties": {
            "success": {"const": True},
            "sightings": {"type": "array", "items": ref("Sighting")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
}

_QUERY_TEXT = {"type": "string", "not": {"pattern": f"[{_CONTROL}]"}}

SIGHTING_QUERY: list[dict[str, Any]] = [
    {
        "name": "identity_id",
        "in": "query",
        "schema": _UUID,
        "description": "Only this person's sightings",
    },
    {
        "name": "source_system",
        "in": "query",
        "schema": _QUERY_TEXT,
        "description": "Only sightings of this source system's people; empty: no filter",
    },
    {
        "name": "external_id",
        "in": "query",
        "schema": {**_QUERY_TEXT, "minLength": 1, "maxLength": 255},
        "description": "Only sightings of people with this key (with source_system: of that one)",
    },
    {
        "name": "camera",
        "in": "query",
        "schema": {**_QUERY_TEXT, "minLength": 1, "maxLength": CAMERA_MAX},
    },
    {"name": "decision", "in": "query", "schema": {"enum": list(DECISIONS)}},
    {
        "name": "since",
        "in": "query",
        "schema": _DATE_TIME,
        "description": "Sightings that ended at or after this time",
    },
    {
        "name": "until",
        "in": "query",
        "schema": _DATE_TIME,
        "description": "Sightings that started before this time",
    },
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": SIGHTING_PAGE_MAX, "default": 100},
    },
    {
        "name": "cursor",
        "in": "query",
        "schema": {**_QUERY_TEXT, "not": {"pattern": "[^A-Za-z0-9_-]"}},
        "description": "The next_cursor of the page before; opaque",
    },
]

SIGHTING_PATHS: dict[str, Any] = {
    "/api/sightings": {
        "post": {
            "summary": "Record one finished camera track as a sighting, with its events",
            "description": (
                "Scope sightings:write. Idempotent on sighting_id: a repeat with the same "
                "content answers created false; other content under the same id is 409. "
                "An identity that does not exist or is of a source system the token is not "
                "bound to is 404, the same answer."
            ),
            "requestBody": {"required": True, **json_content(ref("SightingRequest"), "A track")},
            "responses": {
                "200": json_content(ref("SightingResponse"), "Recorded (or recorded before)"),
                "404": json_content(ref("Error"), "No such identity"),
                "409": json_content(ref("Error"), "This sighting_id holds another sighting"),
                **ERROR_RESPONSES,
                **BODY_ERRORS,
            },
        },
        "get": {
            "summary": "Sightings, newest first, one page at a time",
            "description": (
                "Scope sightings:read. A token bound to source systems sees their people's "
                "sightings, and unknown or uncertain ones recorded by tokens bound within "
                "its own sources; never another source's. Pass next_cursor as cursor."
            ),
            "parameters": SIGHTING_QUERY,
            "responses": {
                "200": json_content(ref("SightingsPage"), "One page"),
                **ERROR_RESPONSES,
            },
        },
    }
}
