"""The photo catalog's API, as the worker reads it. Photo bytes stay in memory.

    GET /api/photos/{id}            photo metadata: file_url and the labelled people
    GET /api/batches/{id}/photos    the photos of a batch
    GET <file_url>                  the photo's bytes (relative or absolute URL)

Person IDs may be numbers or strings; they become strings (Studio's
external_id). A labelled person may come with `face_box: [x1, y1, x2, y2]`.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)


class CatalogError(RuntimeError):
    """The catalog could not give what was asked. `retryable` says whether the
    job may succeed later (the catalog was down) or not (the photo is gone)."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    face_box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class PhotoRef:
    id: str
    file_url: str
    people: tuple[Person, ...]


def _person(data: dict) -> Person:
    person_id = data.get("id", data.get("person_id"))
    name = data.get("name", data.get("person_name"))
    box = data.get("face_box")
    return Person(str(person_id), str(name), tuple(float(v) for v in box) if box else None)


def parse_photo(data: dict) -> PhotoRef:
    """Photo metadata in the catalog's shape: a `people` list, or one person's
    fields (person_id, person_name, face_box) on the photo itself."""
    people = data.get("people")
    if people is None and data.get("person_id") is not None:
        people = [data]
    return PhotoRef(
        id=str(data["id"]),
        file_url=str(data.get("file_url") or f"/api/photos/{data['id']}/file"),
        people=tuple(_person(p) for p in people or []),
    )


class CatalogClient:
    """requests against the catalog, with timeouts and retries with backoff on
    connection errors and 5xx. Thread-safe for the worker's bounded pool of
    concurrent downloads (`max_concurrent` connections)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 4,
        backoff_seconds: float = 0.5,
        max_concurrent: int = 8,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_concurrent = max_concurrent
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max_concurrent)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(self, url: str, what: str) -> requests.Response:
        url = urljoin(self.base_url, url.lstrip("/") if not url.startswith("http") else url)
        for attempt in range(self.retries + 1):
            try:
                response = self.session.get(url, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                cause = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500:
                    if response.status_code == 404:
                        raise CatalogError(f"{what}: not in the catalog (404)", retryable=False)
                    if response.status_code >= 400:
                        raise CatalogError(
                            f"{what}: the catalog answered {response.status_code}", retryable=False
                        )
                    return response
                cause = f"the catalog answered {response.status_code}"
            if attempt < self.retries:
                delay = self.backoff_seconds * 2**attempt * (1 + random.random() / 2)
                log.warning("%s: %s; retrying in %.1f s", what, cause, delay)
                time.sleep(delay)
        raise CatalogError(f"{what}: {cause} (after {self.retries + 1} tries)", retryable=True)

    def photo(self, photo_id: str | int) -> PhotoRef:
        """Metadata of one photo. Raises CatalogError."""
        return parse_photo(self._get(f"api/photos/{photo_id}", f"photo {photo_id}").json())

    def batch(self, batch_id: str | int) -> list[PhotoRef]:
        """The photos of a batch. Raises CatalogError."""
        data = self._get(f"api/batches/{batch_id}/photos", f"batch {batch_id}").json()
        photos = data["photos"] if isinstance(data, dict) else data
        return [parse_photo(p) for p in photos]

    def fetch(self, photo: PhotoRef) -> bytes:
        """The photo's bytes, in memory. Raises CatalogError."""
        return self._get(photo.file_url, f"photo {photo.id}").content
