"""The document's component schemas: every request and answer body."""

from __future__ import annotations

from typing import Any

from app.limits import (
    JOB_STATES,
    MAX_ATTEMPTS,
    MODEL_MAX,
    NAME_MAX,
    PHOTO_IDS_MAX,
    PRIORITY,
    SOURCE_SYSTEM_MAX,
    WORKER_ID_MAX,
)
from app.openapi.fields import (
    _CATALOG_ID,
    _COUNT,
    _EMBEDDING,
    _JOB_FIELDS,
    _KEY,
    _LEASE_SECONDS,
    _ROUNDS_TO_ZERO,
    _TIMESTAMP,
    _UUID,
    _text,
    _worker_request,
    ref,
)

SCHEMAS: dict[str, Any] = {
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
            "errors": {"type": "array", "items": ref("ValidationError")},
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
            "identities_renamed": _COUNT,
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
            "identities": {"type": "array", "items": ref("ExternalIdentity")},
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
    "ReleaseRequest": _worker_request(
        required=["lease_token"],
        lease_token=_UUID,
        progress=_JOB_FIELDS["progress"],
    ),
    "RecognizeResponse": {
        "type": "object",
        "required": ["success", "results"],
        "properties": {
            "success": {"const": True},
            "model": {"type": "string"},
            "search": {"enum": ["exact", "ann"]},
            "thresholds": {
                "type": "object",
                "description": (
                    "The thresholds these decisions used: the model's calibrated ones "
                    "from the database, or the defaults in code before a calibration"
                ),
                "required": ["identify", "uncertain", "margin", "source"],
                "properties": {
                    "identify": {"type": "number", "minimum": 0, "maximum": 1},
                    "uncertain": {"type": "number", "minimum": 0, "maximum": 1},
                    "margin": {"type": "number", "minimum": 0, "maximum": 1},
                    "source": {"enum": ["calibrated", "default"]},
                },
            },
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
    "GalleryResponse": {
        "type": "object",
        "required": ["success", "default_model", "models"],
        "properties": {
            "success": {"const": True},
            "default_model": {"type": "string"},
            "models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["model", "identities", "references"],
                    "properties": {
                        "model": {"type": "string"},
                        "identities": _COUNT,
                        "references": _COUNT,
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
