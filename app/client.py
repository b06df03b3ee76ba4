"""A small HTTP client for Studio's API, used by the CLI, the worker and cron scripts."""

from __future__ import annotations

import json
import time
from typing import Any

import requests


class StudioError(RuntimeError):
    """Studio answered with the error envelope (or not at all)."""

    def __init__(self, status: int, body: dict[str, Any]):
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body.get('message', body)}")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors", [])


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
        # Studio answers 503 with Retry-After while its database is away; every
        # call here is safe to repeat (ingest dedups, job calls check the lease).
        self.unavailable_retries = unavailable_retries
        self.max_retry_after = max_retry_after
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def _request(self, method: str, path: str, body: str | dict | None = None, **params) -> Any:
        headers = {}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = body if isinstance(body, str | bytes) else json.dumps(body)
        for attempt in range(self.unavailable_retries + 1):
            response = self.session.request(
                method,
                self.base_url + path,
                data=data,
                headers=headers,
                params={k: v for k, v in params.items() if v is not None},
                timeout=self.timeout,
            )
            if response.status_code != 503 or attempt == self.unavailable_retries:
                break
            retry_after = response.headers.get("Retry-After", "1")
            time.sleep(
                min(self.max_retry_after, float(retry_after) if retry_after.isdigit() else 1)
            )
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

    def _job_call(self, job: dict, action: str, **body) -> dict:
        return self._request(
            "POST",
            f"/api/training/jobs/{job['job_id']}/{action}",
            {"lease_token": job["lease_token"], **body},
        )

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
