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

from collections.abc import Iterable
from typing import Any

from app.limits import JOB_STATES
from app.openapi.fields import BODY_ERRORS, ERROR_RESPONSES, json_content, recognize_request, ref
from app.openapi.parameters import JOB_ID, QUERY_PARAMETERS, error_response
from app.openapi.schemas import SCHEMAS
from app.openapi.sightings import SIGHTING_PATHS, SIGHTING_SCHEMAS
from app.person_recognizer import THRESHOLDS

__all__ = ["JOB_STATES", "QUERY_PARAMETERS", "document"]


def document(default_model: str = "buffalo_l", calibrated: Iterable[str] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a server whose STUDIO_MODEL is `default_model`
    and whose database holds thresholds of the `calibrated` models."""
    models = sorted({default_model, *THRESHOLDS, *calibrated})
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
                    "responses": {"200": json_content(ref("Health"), "The process answers")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: 503 while the database does not answer",
                    "security": [],
                    "responses": {
                        "200": json_content(ref("Health"), "Ready"),
                        "503": json_content(ref("Health"), "Database unreachable"),
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
                    "responses": {"200": json_content({"type": "object"}, "OpenAPI document")},
                }
            },
            "/api/identities/sync": {
                "post": {
                    "summary": "Create, rename and delete the identities of one source system",
                    "description": "Scope identities:write. All or nothing; every error reported.",
                    "requestBody": {
                        "required": True,
                        **json_content(ref("SyncRequest"), "Identities"),
                    },
                    "responses": {
                        "200": json_content(ref("SyncResponse"), "Applied (or dry run)"),
                        **ERROR_RESPONSES,
                        **BODY_ERRORS,
                    },
                }
            },
            "/api/identities/ingest-embeddings": {
                "post": {
                    "summary": "Store reference face embeddings, creating identities as needed",
                    "description": "Scope embeddings:write. Keep calls near 1,000 faces.",
                    "requestBody": {
                        "required": True,
                        **json_content(ref("IngestRequest"), "Faces"),
                    },
                    "responses": {
                        "200": json_content(ref("IngestResponse"), "Stored"),
                        **ERROR_RESPONSES,
                        **BODY_ERRORS,
                    },
                }
            },
            "/api/training/submit": {
                "post": {
                    "summary": "Queue a face_detect_embed job for catalog photos or a batch",
                    "description": "Scope jobs:submit.",
                    "requestBody": {"required": True, **json_content(ref("SubmitRequest"), "Job")},
                    "responses": {
                        "202": json_content(ref("Job"), "Queued"),
                        **ERROR_RESPONSES,
                        **BODY_ERRORS,
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
                        "200": json_content({"type": "object"}, "Jobs"),
                        **ERROR_RESPONSES,
                    },
                }
            },
            "/api/training/jobs/{job_id}": {
                "get": {
                    "summary": "A job's state, attempts, progress, result and errors",
                    "description": "Scope jobs:submit.",
                    "parameters": [JOB_ID],
                    "responses": {
                        "200": json_content(ref("Job"), "The job"),
                        "404": error_response("No such job"),
                        **ERROR_RESPONSES,
                    },
                }
            },
            "/api/training/jobs/claim": {
                "post": {
                    "summary": "Claim the next job (worker)",
                    "description": "Scope jobs:work. 204 when no job waits.",
                    "requestBody": {
                        "required": True,
                        **json_content(ref("ClaimRequest"), "Worker"),
                    },
                    "responses": {
                        "200": json_content({"type": "object"}, "The job, with its lease_token"),
                        "204": {"description": "No job waits"},
                        **ERROR_RESPONSES,
                        **BODY_ERRORS,
                    },
                }
            },
            **{
                f"/api/training/jobs/{{job_id}}/{action}": {
                    "post": {
                        "summary": summary,
                        "description": "Scope jobs:work. 409 when the lease is no longer held.",
                        "parameters": [JOB_ID],
                        "requestBody": {
                            "required": True,
                            **json_content(ref(f"{action.capitalize()}Request"), "Lease"),
                        },
                        "responses": {
                            "200": json_content({"type": "object"}, "Done"),
                            "404": error_response("No such job"),
                            "409": error_response("Stale lease: drop the job"),
                            **ERROR_RESPONSES,
                            **BODY_ERRORS,
                        },
                    }
                }
                for action, summary in [
                    ("heartbeat", "Extend the lease and record progress (worker)"),
                    ("complete", "Finish the job with its result (worker)"),
                    ("fail", "Fail the job; retried with backoff while attempts remain (worker)"),
                    (
                        "release",
                        "Give the job back unworked, claimable at once; the claim is not "
                        "counted as an attempt (a worker stopping)",
                    ),
                ]
            },
            "/api/recognize": {
                "post": {
                    "summary": "Identify probe faces: top-k candidates and a decision each",
                    "description": "Scope recognize. Optionally records sightings (last_seen).",
                    "requestBody": {
                        "required": True,
                        **json_content(ref("RecognizeRequest"), "Probe embeddings"),
                    },
                    "responses": {
                        "200": json_content(ref("RecognizeResponse"), "One result per probe"),
                        **ERROR_RESPONSES,
                        **BODY_ERRORS,
                    },
                }
            },
            "/api/gallery": {
                "get": {
                    "summary": "Identities and reference faces per model, of the caller's sources",
                    "description": (
                        "Scope recognize. A camera checks its model has anyone to match."
                    ),
                    "responses": {
                        "200": json_content(ref("GalleryResponse"), "One row per model"),
                        **ERROR_RESPONSES,
                    },
                }
            },
            "/api/identities/external": {
                "get": {
                    "summary": "External identities with embedding counts, one page at a time",
                    "description": "Scope identities:read. Pass next_cursor as cursor.",
                    "parameters": QUERY_PARAMETERS["/api/identities/external"],
                    "responses": {
                        "200": json_content(ref("ExternalIdentitiesResponse"), "One page"),
                        **ERROR_RESPONSES,
                    },
                }
            },
            **SIGHTING_PATHS,
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **SCHEMAS,
                **SIGHTING_SCHEMAS,
                "RecognizeRequest": recognize_request(models),
            },
            "responses": {
                "ValidationFailed": error_response("Rejected; nothing was changed"),
                "Unauthorized": error_response("No token, or unknown, revoked or expired"),
                "Forbidden": error_response("Scope or source system not allowed"),
                "PayloadTooLarge": error_response("Body over the size limit"),
                "UnsupportedMediaType": error_response("Body is not application/json"),
                "Unavailable": error_response("Database unreachable; see Retry-After"),
            },
        },
    }
