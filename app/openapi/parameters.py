"""Path and query parameters, and the shared error answers.

app/routes/common.py's query_args() reads QUERY_PARAMETERS, so a route
refuses any parameter not listed here."""

from __future__ import annotations

from typing import Any

from app.limits import BIGINT_MAX, IDENTITY_PAGE_MAX, JOB_PAGE_MAX, JOB_STATES
from app.openapi.fields import _CONTROL, json_content, ref
from app.openapi.sightings import SIGHTING_QUERY


def error_response(description: str) -> dict[str, Any]:
    return json_content(ref("Error"), description)


JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
}
# Query parameters of each GET route. app/routes/common.py's query_args()
# reads the same table, so a route refuses any parameter not listed here.
_QUERY_TEXT = {"type": "string", "not": {"pattern": f"[{_CONTROL}]"}}
QUERY_PARAMETERS: dict[str, list[dict[str, Any]]] = {
    "/api/identities/external": [
        {
            "name": "source_system",
            "in": "query",
            "schema": _QUERY_TEXT,
            "description": "One source system; absent or empty: every one the token may see",
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": IDENTITY_PAGE_MAX,
                "default": 100,
            },
        },
        {
            "name": "cursor",
            "in": "query",
            "schema": {**_QUERY_TEXT, "not": {"pattern": "[^A-Za-z0-9_-]"}},
            "description": "The next_cursor of the page before; opaque",
        },
    ],
    "/api/sightings": SIGHTING_QUERY,
    "/api/training/jobs": [
        {"name": "state", "in": "query", "schema": {"enum": ["", *JOB_STATES]}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": JOB_PAGE_MAX, "default": 50},
        },
    ],
}
