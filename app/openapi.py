"""The OpenAPI 3 document served at /api/openapi.json.

A test checks that its paths and methods are exactly the app's routes.
"""

from __future__ import annotations

from typing import Any

_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}
# A photo or batch ID travels as one catalog URL segment (studio_catalog_id_error).
_CATALOG_ID = {
    "anyOf": [
        {"type": "string", "pattern": "^[A-Za-z0-9_~=+:@-][A-Za-z0-9_.~=+:@-]{0,254}$"},
        {"type": "integer"},
    ]
}


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
            "source_system": {"type": "string", "minLength": 1, "maxLength": 50},
            "identities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["external_id"],
                    "additionalProperties": False,
                    "properties": {
                        "external_id": {"type": ["string", "integer"], "maxLength": 255},
                        "name": {"type": "string", "maxLength": 255},
                        "action": {"enum": ["upsert", "delete"], "default": "upsert"},
                    },
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
            "source_system": {"type": "string", "minLength": 1, "maxLength": 50},
            "model": {"type": "string", "maxLength": 50, "default": "buffalo_l"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["external_id", "name", "faces"],
                    "additionalProperties": False,
                    "properties": {
                        "external_id": {"type": ["string", "integer"], "maxLength": 255},
                        "name": {"type": "string", "minLength": 1, "maxLength": 255},
                        "faces": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["embedding"],
                                "additionalProperties": False,
                                "properties": {
                                    "embedding": {
                                        "type": "array",
                                        "items": {"type": "number"},
                                        "minItems": 512,
                                        "maxItems": 512,
                                    },
                                    "confidence": {
                                        "type": ["number", "null"],
                                        "minimum": 0,
                                        "maximum": 1,
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
                    "source_system": {"type": "string", "minLength": 1, "maxLength": 50},
                    "photo_ids": {
                        "type": "array",
                        "items": _CATALOG_ID,
                        "minItems": 1,
                        "maxItems": 10000,
                    },
                    "batch_id": _CATALOG_ID,
                },
            },
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": 10},
            "priority": {"type": "integer", "minimum": -100, "maximum": 100},
        },
    },
    "Job": {
        "type": "object",
        "required": ["job_id", "job_type", "state", "attempt", "max_attempts", "progress"],
        "properties": {
            "success": {"type": "boolean"},
            "job_id": {"type": "integer"},
            "job_type": {"type": "string"},
            "state": {"enum": ["queued", "running", "retrying", "completed", "failed"]},
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
    "ClaimRequest": {
        "type": "object",
        "required": ["worker_id"],
        "additionalProperties": False,
        "properties": {
            "worker_id": {"type": "string", "minLength": 1, "maxLength": 100},
            "lease_seconds": {"type": "integer", "minimum": 10, "maximum": 3600},
        },
    },
    "LeaseRequest": {
        "type": "object",
        "required": ["lease_token"],
        "properties": {
            "lease_token": {"type": "string", "format": "uuid"},
            "progress": {"type": "object", "description": "At most 4,096 bytes of JSON"},
            "result": {"type": "object", "description": "At most 524,288 bytes of JSON"},
            "error": {"type": "string", "description": "At most 4,096 bytes"},
            "retryable": {"type": "boolean"},
            "lease_seconds": {"type": "integer", "minimum": 10, "maximum": 3600},
        },
    },
    "RecognizeRequest": {
        "type": "object",
        "properties": {
            "probes": {
                "type": "array",
                "minItems": 1,
                "maxItems": 256,
                "items": {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 512,
                    "maxItems": 512,
                },
            },
            "embedding": {"type": "array", "items": {"type": "number"}},
            "k": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
            "model": {"type": "string"},
            "search": {"enum": ["auto", "exact", "ann"]},
            "record_sighting": {"type": "boolean", "default": False},
        },
    },
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


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
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
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {
                                "enum": ["queued", "running", "retrying", "completed", "failed"]
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                    ],
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
                        "requestBody": {"required": True, **_json(_ref("LeaseRequest"), "Lease")},
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
                    "parameters": [
                        {"name": "source_system", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _json(_ref("ExternalIdentitiesResponse"), "One page"),
                        **_ERROR_RESPONSES,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _SCHEMAS,
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
