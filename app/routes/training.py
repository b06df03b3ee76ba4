"""Training jobs: submitted by the catalog side, worked by face_embed_worker."""

from __future__ import annotations

from flask import Blueprint, g

from app import queries
from app.auth import require
from app.routes.common import database, json_body_text, query_args, whole_number_arg

bp = Blueprint("training", __name__)


@bp.post("/api/training/submit")
@require("jobs:submit")
def submit():
    """Queue a face_detect_embed job for photos or a batch of the catalog."""
    result = database().value(
        queries.SUBMIT_JOB, json_body_text(), g.caller.label, g.caller.allowed_sources
    )
    return result, 202


@bp.post("/api/training/jobs/claim")
@require("jobs:work")
def claim():
    """Give the calling worker the next job (204 when none waits)."""
    result = database().value(
        queries.CLAIM_JOB, json_body_text(), g.caller.label, g.caller.allowed_sources
    )
    if result["job"] is None:
        return "", 204
    return result


@bp.post("/api/training/jobs/<int:job_id>/heartbeat")
@require("jobs:work")
def heartbeat(job_id: int):
    """Extend the lease of a held job and record its progress."""
    return database().value(
        queries.HEARTBEAT_JOB, job_id, json_body_text(), g.caller.allowed_sources
    )


@bp.post("/api/training/jobs/<int:job_id>/complete")
@require("jobs:work")
def complete(job_id: int):
    """Finish a held job with its result."""
    return database().value(
        queries.COMPLETE_JOB, job_id, json_body_text(), g.caller.allowed_sources
    )


@bp.post("/api/training/jobs/<int:job_id>/fail")
@require("jobs:work")
def fail(job_id: int):
    """Fail a held job: retried with backoff while attempts remain."""
    return database().value(queries.FAIL_JOB, job_id, json_body_text(), g.caller.allowed_sources)


@bp.post("/api/training/jobs/<int:job_id>/release")
@require("jobs:work")
def release(job_id: int):
    """Give a held job back unworked (a worker stopping): claimable at once,
    the claim not counted as an attempt."""
    return database().value(queries.RELEASE_JOB, job_id, json_body_text(), g.caller.allowed_sources)


@bp.get("/api/training/jobs/<int:job_id>")
@require("jobs:submit")
def status(job_id: int):
    """A job's state, attempts, progress, result and errors."""
    return database().value(queries.JOB_STATUS, job_id, g.caller.allowed_sources)


@bp.get("/api/training/jobs")
@require("jobs:submit")
def jobs():
    """The newest jobs (optionally of one state) and counts by state."""
    args = query_args()
    return database().value(
        queries.LIST_JOBS,
        args.get("state") or None,
        whole_number_arg(args, "limit", 50),
        g.caller.allowed_sources,
    )
