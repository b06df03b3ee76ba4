"""A small HTTP client for Studio's API: the worker's, the catalog side's and
the command line's. It needs only requests: no Flask, psycopg or server code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import requests

from worker.http import retrying_session, unreachable

# PostgreSQL parses an ingest call's JSON at a few thousand faces a second,
# and calls of ten thousand faces degrade badly: calls stay near a thousand.
FACES_PER_CALL = 1000


class StudioError(RuntimeError):
    """Studio answered with the error envelope, or not at all (status 0)."""

    def __init__(self, status: int, body: dict[str, Any]):
        self.status = status
        self.body = body
        # The fields a refusal names, with why: a log line that says only
        # "payload rejected: 1 error(s)" leaves its reader guessing.
        named = "; ".join(
            f"{e.get('field')}: {e.get('message') or e.get('code')}"
            for e in self.errors[:3]
            if isinstance(e, dict) and e.get("field")
        )
        more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        message = f"HTTP {status}: {body.get('message', body)}"
        super().__init__(f"{message} [{named}{more}]" if named else message)

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.body.get("errors", []) if isinstance(self.body, dict) else []
        return errors if isinstance(errors, list) else []


class StudioClient:
    """Calls Studio with a bearer token. Payloads are sent as JSON text or dicts."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 120.0,
        unavailable_retries: int = 6,
        max_retry_after: float = 10.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.tries = unavailable_retries + 1
        # Studio answers 503 with Retry-After while its database is away; every
        # call here is safe to repeat (ingest dedups, job calls check the lease),
        # so every method is retried.
        self.session = retrying_session(
            retries=unavailable_retries,
            backoff_seconds=0.5,
            max_retry_after=max_retry_after,
            retry_reads=False,  # a slow ingest is not repeated on top of itself
            token=token,
        )
        self.timeout = timeout

    def _request(self, method: str, path: str, body: str | dict | None = None, **params) -> Any:
        headers = {}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = body if isinstance(body, str | bytes) else json.dumps(body)
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                data=data,
                headers=headers,
                params={k: v for k, v in params.items() if v is not None},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            message = unreachable("Studio", exc, self.tries)
            raise StudioError(0, {"error": "unreachable", "message": message}) from exc
        if response.status_code == 204:
            return None
        try:
            payload = response.json()
        except ValueError:
            payload = {"message": response.text[:500]}
        if response.status_code >= 400:
            raise StudioError(response.status_code, payload)
        return payload

    def sync(self, payload: str | dict) -> dict:
        return self._request("POST", "/api/identities/sync", payload)

    def ingest(self, payload: str | dict) -> dict:
        return self._request("POST", "/api/identities/ingest-embeddings", payload)

    def submit_job(self, payload: dict) -> dict:
        return self._request("POST", "/api/training/submit", payload)

    def job(self, job_id: int) -> dict:
        return self._request("GET", f"/api/training/jobs/{job_id}")

    def claim_job(self, worker_id: str, lease_seconds: int) -> dict | None:
        """The next job with its lease_token, or None when no job waits."""
        result = self._request(
            "POST",
            "/api/training/jobs/claim",
            {"worker_id": worker_id, "lease_seconds": lease_seconds},
        )
        return result["job"] if result else None

    def heartbeat(self, job: dict, progress: dict, lease_seconds: int) -> dict:
        return self._job_call(job, "heartbeat", progress=progress, lease_seconds=lease_seconds)

    def complete_job(self, job: dict, result: dict) -> dict:
        return self._job_call(job, "complete", result=result)

    def fail_job(self, job: dict, error: str, *, retryable: bool) -> dict:
        return self._job_call(job, "fail", error=error, retryable=retryable)

    def release_job(self, job: dict, progress: dict) -> dict:
        """Give the job back unworked: claimable at once, the claim not counted."""
        return self._job_call(job, "release", progress=progress)

    def _job_call(self, job: dict, action: str, **body) -> dict:
        return self._request(
            "POST",
            f"/api/training/jobs/{job['job_id']}/{action}",
            {"lease_token": job["lease_token"], **body},
        )

    def recognize(
        self, probes: list[list[float]], *, model: str, k: int, record_sighting: bool = False
    ) -> dict:
        return self._request(
            "POST",
            "/api/recognize",
            {"probes": probes, "model": model, "k": k, "record_sighting": record_sighting},
        )

    def record_sighting(self, sighting: dict) -> dict:
        """One finished track of a camera (POST /api/sightings); safe to repeat."""
        return self._request("POST", "/api/sightings", sighting)

    def gallery(self) -> dict:
        """Identities and references per model, of this token's source systems."""
        return self._request("GET", "/api/gallery")

    def identities(
        self, source_system: str | None = None, limit: int = 1000, cursor: str | None = None
    ) -> dict:
        return self._request(
            "GET",
            "/api/identities/external",
            source_system=source_system,
            limit=limit,
            cursor=cursor,
        )


def ingest_chunks(
    payload: dict, faces_per_call: int = FACES_PER_CALL
) -> Iterator[tuple[dict, int]]:
    """An ingest payload as calls of at most `faces_per_call` faces, each with its
    number of faces. Every call carries the payload's other fields; faces keep
    their order, and a person's may straddle two calls. A result that is no
    object or has no faces rides along where it stands, for Studio to judge.
    Raises ValueError for `faces_per_call` below 1."""
    if faces_per_call < 1:
        raise ValueError("faces_per_call must be at least 1")
    base = {k: v for k, v in payload.items() if k != "results"}
    chunk: list = []
    count = 0
    for result in payload.get("results", []):
        faces = result.get("faces") if isinstance(result, dict) else None
        if not isinstance(faces, list) or not faces:
            chunk.append(result)
            continue
        start = 0
        while start < len(faces):
            part = faces[start : start + faces_per_call - count]
            chunk.append({**result, "faces": part})
            count += len(part)
            start += len(part)
            if count == faces_per_call:
                yield {**base, "results": chunk}, count
                chunk, count = [], 0
    if chunk:
        yield {**base, "results": chunk}, count
