"""The OpenAPI 3 document served at /api/openapi.json.

The rules live in SQL (and, for recognition, in app/routes/recognize.py).
This document says the same wherever JSON Schema can, taking every number
the Python code declares from it; what JSON Schema cannot say (privacy,
Unicode normalisation, byte-size caps, what is stored) is listed with its
reason in docs/api.md. tests/fuzz/test_openapi_fuzz.py holds the two
together both ways (schema-valid requests accepted, schema-violating ones
refused), and a test checks that its paths and methods are the app's routes.
"""

from __future__ import annotations

from typing import Any

from app.person_recognizer import THRESHOLDS
from app.routes.recognize import DIMENSIONS, FLOAT32_MAX, MAX_K, MAX_PROBES, SEARCH_PATHS

# What sql/functions enforce, each number once here; the fuzz test fails
# when the document and the SQL disagree.
SOURCE_SYSTEM_MAX = 50  # identities.source_system
KEY_MAX = 255  # external_id, photo and batch IDs
NAME_MAX = 255
MODEL_MAX = 50
WORKER_ID_MAX = 100
LEASE_SECONDS = (10, 3600)
PHOTO_IDS_MAX = 10_000
MAX_ATTEMPTS = (1, 10)
PRIORITY = (-100, 100)
IDENTITY_PAGE_MAX = 1000
JOB_PAGE_MAX = 500
JOB_FIELD_BYTES = {"progress": 4096, "result": 524_288, "error": 4096}  # studio_job_field_sizes
BIGINT_MAX = 2**63 - 1  # job IDs
# PostgreSQL's float4 input rounds a decimal to the nearest 32-bit float.
# The largest magnitude it rounds to a finite one: the midpoint above the
# largest float rounds to infinity, and the float64 at that midpoint prints
# (as JSON writers print it) a shade below it. The largest it rounds to zero,
# refused for any number but 0: half the smallest subnormal float.
FLOAT4_ROUNDS_FINITE = 2**128 - 2**103
FLOAT4_ROUNDS_TO_ZERO = 2.0**-150
JOB_STATES = ("queued", "running", "retrying", "completed", "failed")

_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}
# C0 and C1 control characters, refused in every text field (NUL:
# PostgreSQL text cannot hold it at all).
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
# What studio_normalized_text trims besides the spaces NFKC makes.
_TRIMMED = " \\u0085\\u1680\\u2028\\u2029"


def _text(
    max_length: int | None = None,
    *,
    required: bool = True,
    only: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """A text field as studio_text_error judges it: not blank (when required),
    no control characters (or only the characters `only`, a regex class),
    at most `max_length` characters. Unanchored patterns, so that no regex
    dialect's "$ before a final newline" lets one slip through."""
    schema: dict[str, Any] = {"type": "string"}
    if required:
        schema["pattern"] = f"[^{_CONTROL}{_TRIMMED}]"
    schema["not"] = {"pattern": f"[^{only}]" if only else f"[{_CONTROL}]"}
    if max_length is not None:
        schema["maxLength"] = max_length
    if description:
        schema["description"] = description
    return schema


def _whole_number(most_digits: int) -> dict[str, Any]:
    """An integer whose decimal text has at most `most_digits` characters."""
    return {
        "type": "integer",
        "minimum": -(10 ** (most_digits - 1) - 1),
        "maximum": 10**most_digits - 1,
    }


# external_id: a string or an integer (numeric catalog IDs), as text at most 255.
_KEY = {"anyOf": [_text(KEY_MAX), _whole_number(KEY_MAX)]}
# A photo or batch ID travels as one catalog URL segment (studio_catalog_id_error).
_CATALOG_CHARACTERS = "A-Za-z0-9_.~=+:@-"
_CATALOG_ID = {
    "anyOf": [
        {
            **_text(KEY_MAX, only=_CATALOG_CHARACTERS),
            "pattern": "^[A-Za-z0-9_~=+:@-]",
            "description": "Not starting with a dot",
        },
        _whole_number(KEY_MAX),
    ]
}
_UUID = {
    "type": "string",
    "format": "uuid",
    "minLength": 36,
    "maxLength": 36,
    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
# A probe's numbers: what a 32-bit float holds (app/routes/recognize.py).
_PROBE_VALUE = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
# A stored number is read by PostgreSQL's float4 input (studio_float4_fits),
# which refuses what rounds to infinity or, unless it is 0, to zero.
_ROUNDS_TO_ZERO = {
    "type": "number",
    "minimum": -FLOAT4_ROUNDS_TO_ZERO,
    "maximum": FLOAT4_ROUNDS_TO_ZERO,
    "not": {"const": 0},
}
_STORED_VALUE = {
    "type": "number",
    "minimum": -FLOAT4_ROUNDS_FINITE,
    "maximum": FLOAT4_ROUNDS_FINITE,
    "not": _ROUNDS_TO_ZERO,
}


def _embedding(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "array",
        "items": value,
        "minItems": DIMENSIONS,
        "maxItems": DIMENSIONS,
        "contains": {"not": {"const": 0}},
        "description": f"{DIMENSIONS} numbers that 32-bit floats hold, not all zero",
    }


_PROBE = _embedding(_PROBE_VALUE)
_EMBEDDING = _embedding(_STORED_VALUE)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR_RESPONSES = {
    "400": {"$ref": "#/components/responses/ValidationFailed"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "503": {"$ref": "#/components/responses/Unavailable"},
}

_BODY_ERRORS = {
    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
}

_LEASE_SECONDS = {
    "type": "integer",
    "minimum": LEASE_SECONDS[0],
    "maximum": LEASE_SECONDS[1],
    "default": 300,
}
_JOB_FIELDS = {
    "progress": {
        "type": "object",
        "description": f"At most {JOB_FIELD_BYTES['progress']:,} bytes of JSON",
    },
    "result": {
        "type": "object",
        "description": f"At most {JOB_FIELD_BYTES['result']:,} bytes of JSON",
    },
    "error": {
        "type": "string",
        "pattern": "[^ ]",
        "not": {"pattern": "\\u0000"},
        "description": f"Why; not blank, at most {JOB_FIELD_BYTES['error']:,} bytes",
    },
}


def _worker_request(required: list[str], **properties: Any) -> dict[str, Any]:
    """A worker's request body: exactly these fields (studio_worker_request_errors)."""
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def _recognize_request(models: list[str]) -> dict[str, Any]:
    """Probes to identify (app/routes/recognize.py): a list, or one `embedding`."""
    properties = {
        "probes": {"type": "array", "minItems": 1, "maxItems": MAX_PROBES, "items": _PROBE},
        "embedding": {**_PROBE, "description": "One probe, instead of probes"},
        "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 5},
        "model": {"enum": models, "description": "Default: the server's STUDIO_MODEL"},
        "search": {"enum": list(SEARCH_PATHS), "default": "auto"},
        "record_sighting": {"type": "boolean", "default": False},
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "oneOf": [{"required": ["probes"]}, {"required": ["embedding"]}],
    }


_SCHEMAS: dict[str, Any] = {
    "ValidationError": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "index": {"type": ["integer", "null"], "description": "Item position, 0-based"},
            "external_id": {"type": ["string", "null"]},
            "field": {"type": ["string", "null"], "description": "Path within the item"},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["success", "error", "message", "errors"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string"},
            "message": {"type": "string"},
            "errors": {"type": "array", "items": _ref("ValidationError")},
        },
    },
    "SyncRequest": {
        "type": "object",
        "required": ["source_system", "identities"],
        "additionalProperties": False,
        "properties": {
            "source_system": _text(SOURCE_SYSTEM_MAX),
            "identities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["external_id"],
                    "additionalProperties": False,
                    "properties": {
                        "external_id": _KEY,
                        "name": {
                            "anyOf": [_text(NAME_MAX, required=False), {"type": "null"}],
                            "description": "Required for an upsert; a delete may omit it",
                        },
                        "action": {"enum": ["upsert", "delete"], "default": "upsert"},
                    },
                    # An upsert (the default action) names the person.
                    "if": {"required": ["action"], "properties": {"action": {"const": "delete"}}},
                    "then": {},
                    "else": {"required": ["name"], "properties": {"name": _text(NAME_MAX)}},
                },
            },
            "mode": {"enum": ["incremental", "full"], "default": "incremental"},
            "dry_run": {"type": "boolean", "default": False},
            "allow_mass_delete": {"type": "boolean", "default": False},
        },
    },
    "SyncResponse": {
        "type": "object",
        "required": ["success", "created", "updated", "deleted", "errors"],
        "properties": {
            "success": {"const": True},
            "source_system": {"type": "string"},
            "mode": {"enum": ["incremental", "full"]},
            "dry_run": {"type": "boolean"},
            "created": _COUNT,
            "updated": _COUNT,
            "deleted": _COUNT,
            "unchanged": _COUNT,
            "embeddings_deleted": _COUNT,
            "errors": {"type": "array", "maxItems": 0},
        },
    },
    "IngestRequest": {
        "type": "object",
        "required": ["source_system", "results"],
        "additionalProperties": False,
        "properties": {
            "source_system": _text(SOURCE_SYSTEM_MAX),
            "model": {
                "anyOf": [
                    _text(MODEL_MAX, required=False, only="A-Za-z0-9_.-"),
                    {"type": "null"},
                ],
                "default": "buffalo_l",
            },
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["external_id", "name", "faces"],
                    "additionalProperties": False,
                    "properties": {
                        "external_id": _KEY,
                        "name": _text(NAME_MAX),
                        "faces": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["embedding"],
                                "additionalProperties": False,
                                "properties": {
                                    "embedding": _EMBEDDING,
                                    "confidence": {
                                        "type": ["number", "null"],
                                        "minimum": 0,
                                        "maximum": 1,
                                        "not": _ROUNDS_TO_ZERO,
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "IngestResponse": {
        "type": "object",
        "required": ["success", "identities_resolved", "embeddings_stored"],
        "properties": {
            "success": {"const": True},
            "source_system": {"type": "string"},
            "model": {"type": "string"},
            "identities_resolved": _COUNT,
            "identities_created": _COUNT,
            "embeddings_stored": _COUNT,
            "duplicates_skipped": _COUNT,
            "skipped": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": _COUNT,
                        "external_id": {"type": "string"},
                        "reason": {"enum": ["deleted_at_source"]},
                        "faces": _COUNT,
                    },
                },
            },
        },
    },
    "ExternalIdentity": {
        "type": "object",
        "required": [
            "identity_id",
            "external_id",
            "source_system",
            "name",
            "embedding_count",
            "first_seen",
            "last_seen",
        ],
        "properties": {
            "identity_id": {"type": "string", "format": "uuid"},
            "external_id": {"type": "string"},
            "source_system": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "embedding_count": _COUNT,
            "first_seen": {**_TIMESTAMP, "description": "First camera sighting"},
            "last_seen": {**_TIMESTAMP, "description": "Latest camera sighting"},
            "created_at": _TIMESTAMP,
            "updated_at": _TIMESTAMP,
        },
    },
    "ExternalIdentitiesResponse": {
        "type": "object",
        "required": ["success", "identities", "next_cursor"],
        "properties": {
            "success": {"const": True},
            "identities": {"type": "array", "items": _ref("ExternalIdentity")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "SubmitRequest": {
        "type": "object",
        "required": ["job_type", "config"],
        "additionalProperties": False,
        "properties": {
            "job_type": {"const": "face_detect_embed"},
            "config": {
                "type": "object",
                "required": ["source_system"],
                "additionalProperties": False,
                "properties": {
                    "source_system": _text(SOURCE_SYSTEM_MAX),
                    "photo_ids": {
                        "type": "array",
                        "items": _CATALOG_ID,
                        "minItems": 1,
                        "maxItems": PHOTO_IDS_MAX,
                    },
                    "batch_id": _CATALOG_ID,
                },
                # The photos are named one way: a list or a batch.
                "oneOf": [{"required": ["photo_ids"]}, {"required": ["batch_id"]}],
            },
            "max_attempts": {
                "type": "integer",
                "minimum": MAX_ATTEMPTS[0],
                "maximum": MAX_ATTEMPTS[1],
                "default": 5,
            },
            "priority": {
                "type": "integer",
                "minimum": PRIORITY[0],
                "maximum": PRIORITY[1],
                "default": 0,
            },
        },
    },
    "Job": {
        "type": "object",
        "required": ["job_id", "job_type", "state", "attempt", "max_attempts", "progress"],
        "properties": {
            "success": {"type": "boolean"},
            "job_id": {"type": "integer"},
            "job_type": {"type": "string"},
            "state": {"enum": list(JOB_STATES)},
            "source_system": {"type": "string"},
            "config": {"type": "object"},
            "attempt": _COUNT,
            "max_attempts": {"type": "integer"},
            "priority": {"type": "integer"},
            "progress": {"type": "object"},
            "result": {"type": ["object", "null"]},
            "error": {"type": ["string", "null"]},
            "errors": {"type": "array"},
            "lease_token": {"type": "string", "format": "uuid"},
            "lease_expires_at": _TIMESTAMP,
            "run_after": _TIMESTAMP,
            "worker_id": {"type": ["string", "null"]},
            "submitted_by": {"type": "string"},
            "created_at": _TIMESTAMP,
            "started_at": _TIMESTAMP,
            "finished_at": _TIMESTAMP,
            "updated_at": _TIMESTAMP,
        },
    },
    "ClaimRequest": _worker_request(
        required=["worker_id"],
        worker_id=_text(WORKER_ID_MAX),
        lease_seconds=_LEASE_SECONDS,
    ),
    "HeartbeatRequest": _worker_request(
        required=["lease_token"],
        lease_token=_UUID,
        progress=_JOB_FIELDS["progress"],
        lease_seconds=_LEASE_SECONDS,
    ),
    "CompleteRequest": _worker_request(
        required=["lease_token"],
        lease_token=_UUID,
        result=_JOB_FIELDS["result"],
        progress=_JOB_FIELDS["progress"],
    ),
    "FailRequest": _worker_request(
        required=["lease_token", "error"],
        lease_token=_UUID,
        error=_JOB_FIELDS["error"],
        retryable={"type": "boolean", "default": True},
        progress=_JOB_FIELDS["progress"],
    ),
    "RecognizeResponse": {
        "type": "object",
        "required": ["success", "results"],
        "properties": {
            "success": {"const": True},
            "model": {"type": "string"},
            "search": {"enum": ["exact", "ann"]},
            "sightings_recorded": _COUNT,
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["decision", "candidates"],
                    "properties": {
                        "decision": {"enum": ["identified", "uncertain", "unknown"]},
                        "identity": {"type": ["object", "null"]},
                        "name": {"type": ["string", "null"]},
                        "external_id": {"type": ["string", "null"]},
                        "similarity": {"type": ["number", "null"]},
                        "candidates": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "database"],
        "properties": {
            "status": {"type": "string"},
            "database": {"enum": ["reachable", "unreachable"]},
            "embedded_database": {
                "type": "object",
                "description": (
                    "/readyz under studio serve with the embedded database: what its "
                    "supervisor reports"
                ),
                "properties": {
                    "state": {"enum": ["running", "restarting"]},
                    "restarts": {"type": "integer", "minimum": 0},
                    "last_restart_at": {"type": ["string", "null"], "format": "date-time"},
                    "last_error": {"type": ["string", "null"]},
                },
            },
        },
    },
}


def _error_response(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_JOB_ID = {
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
    "/api/training/jobs": [
        {"name": "state", "in": "query", "schema": {"enum": ["", *JOB_STATES]}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": JOB_PAGE_MAX, "default": 50},
        },
    ],
}


def document(default_model: str = "buffalo_l") -> dict[str, Any]:
    """The OpenAPI 3.1 document of a server whose STUDIO_MODEL is `default_model`."""
    models = sorted({default_model, *THRESHOLDS})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GroundTruth Studio identity sync",
            "version": "1.0.0",
            "description": "Identity keys, names and face vectors in; never photos.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness, and whether the database answers",
                    "security": [],
                    "responses": {"200": _json(_ref("Health"), "The process answers")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: 503 while the database does not answer",
                    "security": [],
                    "responses": {
                        "200": _json(_ref("Health"), "Ready"),
                        "503": _json(_ref("Health"), "Database unreachable"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics: requests, latency, decisions, gallery, jobs",
                    "description": (
                        "Scope metrics, on a token bound to no source system (the figures "
                        "cover every source). STUDIO_METRICS_PUBLIC=1 drops the token "
                        "requirement for a scrape network."
                    ),
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "403": {"$ref": "#/components/responses/Forbidden"},
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "OpenAPI document")},
                }
            },
            "/api/identities/sync": {
                "post": {
                    "summary": "Create, rename and delete the identities of one source system",
                    "description": "Scope identities:write. All or nothing; every error reported.",
                    "requestBody": {"required": True, **_json(_ref("SyncRequest"), "Identities")},
                    "responses": {
                        "200": _json(_ref("SyncResponse"), "Applied (or dry run)"),
                        **_ERROR_RESPONSES,
                        **_BODY_ERRORS,
                    },
                }
            },
            "/api/identities/ingest-embeddings": {
                "post": {
                    "summary": "Store reference face embeddings, creating identities as needed",
                    "description": "Scope embeddings:write. Keep calls near 1,000 faces.",
                    "requestBody": {"required": True, **_json(_ref("IngestRequest"), "Faces")},
                    "responses": {
                        "200": _json(_ref("IngestResponse"), "Stored"),
                        **_ERROR_RESPONSES,
                        **_BODY_ERRORS,
                    },
                }
            },
            "/api/training/submit": {
                "post": {
                    "summary": "Queue a face_detect_embed job for catalog photos or a batch",
                    "description": "Scope jobs:submit.",
                    "requestBody": {"required": True, **_json(_ref("SubmitRequest"), "Job")},
                    "responses": {
                        "202": _json(_ref("Job"), "Queued"),
                        **_ERROR_RESPONSES,
                        **_BODY_ERRORS,
                    },
                }
            },
            "/api/training/jobs": {
                "get": {
                    "summary": "The newest jobs and counts by state",
                    "description": (
                        "Scope jobs:submit. Each job without its config, result and errors "
                        "(the job's own route has them)."
                    ),
                    "parameters": QUERY_PARAMETERS["/api/training/jobs"],
                    "responses": {
                        "200": _json({"type": "object"}, "Jobs"),
                        **_ERROR_RESPONSES,
                    },
                }
            },
            "/api/training/jobs/{job_id}": {
                "get": {
                    "summary": "A job's state, attempts, progress, result and errors",
                    "description": "Scope jobs:submit.",
                    "parameters": [_JOB_ID],
                    "responses": {
                        "200": _json(_ref("Job"), "The job"),
                        "404": _error_response("No such job"),
                        **_ERROR_RESPONSES,
                    },
                }
            },
            "/api/training/jobs/claim": {
                "post": {
                    "summary": "Claim the next job (worker)",
                    "description": "Scope jobs:work. 204 when no job waits.",
                    "requestBody": {"required": True, **_json(_ref("ClaimRequest"), "Worker")},
                    "responses": {
                        "200": _json({"type": "object"}, "The job, with its lease_token"),
                        "204": {"description": "No job waits"},
                        **_ERROR_RESPONSES,
                        **_BODY_ERRORS,
                    },
                }
            },
            **{
                f"/api/training/jobs/{{job_id}}/{action}": {
                    "post": {
                        "summary": summary,
                        "description": "Scope jobs:work. 409 when the lease is no longer held.",
                        "parameters": [_JOB_ID],
                        "requestBody": {
                            "required": True,
                            **_json(_ref(f"{action.capitalize()}Request"), "Lease"),
                        },
                        "responses": {
                            "200": _json({"type": "object"}, "Done"),
                            "404": _error_response("No such job"),
                            "409": _error_response("Stale lease: drop the job"),
                            **_ERROR_RESPONSES,
                            **_BODY_ERRORS,
                        },
                    }
                }
                for action, summary in [
                    ("heartbeat", "Extend the lease and record progress (worker)"),
                    ("complete", "Finish the job with its result (worker)"),
                    ("fail", "Fail the job; retried with backoff while attempts remain (worker)"),
                ]
            },
            "/api/recognize": {
                "post": {
                    "summary": "Identify probe faces: top-k candidates and a decision each",
                    "description": "Scope recognize. Optionally records sightings (last_seen).",
                    "requestBody": {
                        "required": True,
                        **_json(_ref("RecognizeRequest"), "Probe embeddings"),
                    },
                    "responses": {
                        "200": _json(_ref("RecognizeResponse"), "One result per probe"),
                        **_ERROR_RESPONSES,
                        **_BODY_ERRORS,
                    },
                }
            },
            "/api/identities/external": {
                "get": {
                    "summary": "External identities with embedding counts, one page at a time",
                    "description": "Scope identities:read. Pass next_cursor as cursor.",
                    "parameters": QUERY_PARAMETERS["/api/identities/external"],
                    "responses": {
                        "200": _json(_ref("ExternalIdentitiesResponse"), "One page"),
                        **_ERROR_RESPONSES,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**_SCHEMAS, "RecognizeRequest": _recognize_request(models)},
            "responses": {
                "ValidationFailed": _error_response("Rejected; nothing was changed"),
                "Unauthorized": _error_response("No token, or unknown, revoked or expired"),
                "Forbidden": _error_response("Scope or source system not allowed"),
                "PayloadTooLarge": _error_response("Body over the size limit"),
                "UnsupportedMediaType": _error_response("Body is not application/json"),
                "Unavailable": _error_response("Database unreachable; see Retry-After"),
            },
        },
    }
