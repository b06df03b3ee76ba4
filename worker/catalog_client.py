"""The photo catalog's API, as the worker reads it. Photo bytes stay in memory.

The seed's shapes (what Alfred answers):

    GET /api/photos/{photo_id}
        {"photo_id": "photo_001", "person_id": 42, "person_name": "John Smith",
         "file_url": "/api/photos/photo_001/file"}
    GET /api/batches/{batch_id}/photos
        {"photos": [{"photo_id": "photo_001", "person_id": 42, "person_name": "John Smith"}, ...]}
    GET <file_url>   the photo's bytes

A batch entry without `file_url` is fetched from `/api/photos/{photo_id}/file`,
the path the seed's example shows, without asking for its metadata again (one
request per photo, not two). `person_id` may be a number or a string; it
becomes a string (Studio's external_id). A photo whose `person_id` is null is
unlabelled and skipped.

Extensions (the folder catalog serves them; Alfred may):

    "face_box": [x1, y1, x2, y2]       on the photo: where the person's face is
    "people": [{"person_id", "person_name", "face_box"?}, ...]
                                       several labelled people on one photo

Nothing from a job or the catalog is trusted: IDs are checked and quoted
before they go into a URL, a `file_url` must stay on the catalog's own origin
(the worker sends its catalog token there), and an answer that fits neither
shape is a `CatalogAnswerError` naming the photo and what is wrong with it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests

from worker.http import RETRY_STATUSES, retrying_session, unreachable

# Photo and batch IDs go into URL paths. Studio refuses others at submit
# (submit_job); the worker checks again because a catalog answer or an old
# job may still hold one. No leading dot, so "." and ".." never form a path
# segment; no "/", "?", "#", "%" or "\", so an ID is always one segment.
CATALOG_ID = re.compile(r"[A-Za-z0-9_~=+:@-][A-Za-z0-9_.~=+:@-]{0,254}")


class CatalogError(RuntimeError):
    """The catalog could not give what was asked. `retryable` says whether the
    job may succeed later (the catalog was down) or not (the photo is gone)."""

    def __init__(self, message: str, *, retryable: bool, reason: str = "catalog_unavailable"):
        super().__init__(message)
        self.retryable = retryable
        self.reason = reason  # the job summary's name for it


class CatalogAnswerError(CatalogError):
    """The catalog answered, but not in a shape the worker reads."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False, reason="bad_catalog_answer")


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    face_box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class PhotoRef:
    id: str
    file_url: str  # absolute, on the catalog's origin
    people: tuple[Person, ...]


@dataclass(frozen=True)
class SkippedPhoto:
    """A photo the worker could not use, and why (never its bytes)."""

    id: str
    reason: str
    detail: str = ""


def check_id(value: Any, what: str) -> str:
    """A photo or batch ID as a string. Raises CatalogAnswerError."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CatalogAnswerError(f"{what} must be a string or an integer")
    text = str(value)
    if not CATALOG_ID.fullmatch(text):
        raise CatalogAnswerError(
            f"{what} {text[:40]!r} is not a catalog ID (1-255 of A-Z a-z 0-9 _ . ~ = + : @ -, "
            "not starting with a dot)"
        )
    return text


def _person_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CatalogAnswerError(f"{where}: person_id must be a string or an integer")
    text = str(value).strip()
    if not text or len(text) > 255:
        raise CatalogAnswerError(f"{where}: person_id must have 1 to 255 characters")
    return text


def _face_box(value: Any, where: str) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
        or not (value[0] < value[2] and value[1] < value[3])
    ):
        raise CatalogAnswerError(f"{where}: face_box must be [x1, y1, x2, y2] with x1<x2, y1<y2")
    return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))


def _person(data: Any, where: str) -> Person | None:
    """One labelled person from the seed's fields; None when person_id is null."""
    if not isinstance(data, dict):
        raise CatalogAnswerError(f"{where}: a person must be a JSON object")
    if data.get("person_id") is None:
        if "person_id" not in data:
            raise CatalogAnswerError(f"{where}: person_id is missing")
        return None
    person_id = _person_id(data["person_id"], where)
    name = data.get("person_name")
    if not isinstance(name, str) or not name.strip():
        raise CatalogAnswerError(f"{where}: person_name must be a non-empty string")
    return Person(person_id, name, _face_box(data.get("face_box"), where))


class CatalogClient:
    """requests against the catalog, with timeouts and retries with backoff on
    connection errors, timeouts and 5xx (urllib3's Retry). Thread-safe for the
    worker's bounded pool of concurrent downloads (`max_concurrent`
    connections)."""

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
        self.origin = urlsplit(self.base_url)[:2]
        self.timeout = timeout
        self.tries = retries + 1
        self.max_concurrent = max_concurrent
        self.session = retrying_session(
            retries=retries,
            backoff_seconds=backoff_seconds,
            max_retry_after=30.0,
            retry_reads=True,  # every catalog call is a GET
            pool_size=max_concurrent,
            token=token,
        )

    # ------------------------------------------------------------ answers

    def _on_catalog(self, url: str, where: str) -> str:
        """`url` made absolute against the catalog; refused if it leaves the
        catalog's origin, where the catalog token must never be sent."""
        if not isinstance(url, str) or not url or any(ord(c) < 32 for c in url):
            raise CatalogAnswerError(f"{where}: file_url must be a non-empty URL")
        absolute = urljoin(self.base_url, url)
        if urlsplit(absolute)[:2] != self.origin:
            raise CatalogAnswerError(f"{where}: file_url is not on the catalog's origin")
        return absolute

    def _file_url(self, photo_id: str) -> str:
        return urljoin(self.base_url, f"api/photos/{quote(photo_id, safe='')}/file")

    def parse_photo(self, data: Any, expected_id: str | None = None) -> PhotoRef:
        """A photo in the seed's shape (or the `people` extension). Raises
        CatalogAnswerError naming what does not fit."""
        where = f"photo {expected_id}" if expected_id is not None else "photo"
        if not isinstance(data, dict):
            raise CatalogAnswerError(f"{where}: the catalog's answer is not a JSON object")
        if "photo_id" not in data:
            raise CatalogAnswerError(f"{where}: photo_id is missing")
        photo_id = check_id(data["photo_id"], f"{where}: photo_id")
        where = f"photo {photo_id}"
        if expected_id is not None and photo_id != expected_id:
            raise CatalogAnswerError(f"photo {expected_id}: the catalog answered for {photo_id}")
        if "people" in data:
            if not isinstance(data["people"], list):
                raise CatalogAnswerError(f"{where}: people must be a list")
            found = [_person(p, f"{where}: people[{i}]") for i, p in enumerate(data["people"])]
        else:
            found = [_person(data, where)]
        file_url = data.get("file_url")
        return PhotoRef(
            id=photo_id,
            file_url=self._on_catalog(file_url, where)
            if file_url is not None
            else self._file_url(photo_id),
            people=tuple(p for p in found if p is not None),
        )

    # ------------------------------------------------------------ requests

    def _get(self, url: str, what: str) -> requests.Response:
        try:
            response = self.session.get(urljoin(self.base_url, url), timeout=self.timeout)
        except requests.RequestException as exc:
            raise CatalogError(
                f"{what}: {unreachable('the catalog', exc, self.tries)}", retryable=True
            ) from exc
        status = response.status_code
        if status in RETRY_STATUSES:
            raise CatalogError(
                f"{what}: the catalog answered {status} (after {self.tries} tries)", retryable=True
            )
        if status == 404:
            raise CatalogError(
                f"{what}: not in the catalog (404)", retryable=False, reason="not_found"
            )
        if status >= 400:
            raise CatalogError(
                f"{what}: the catalog answered {status}", retryable=False, reason="catalog_refused"
            )
        return response

    def _json(self, url: str, what: str) -> Any:
        response = self._get(url, what)
        try:
            return response.json()
        except ValueError as exc:
            raise CatalogAnswerError(f"{what}: the catalog's answer is not JSON") from exc

    def photo(self, photo_id: str | int) -> PhotoRef:
        """Metadata of one photo. Raises CatalogError (CatalogAnswerError when
        the answer does not fit)."""
        photo_id = check_id(photo_id, "photo_id")
        return self.parse_photo(
            self._json(f"api/photos/{quote(photo_id, safe='')}", f"photo {photo_id}"), photo_id
        )

    def batch(self, batch_id: str | int) -> list[PhotoRef | SkippedPhoto]:
        """The photos of a batch; an entry that does not fit is a SkippedPhoto.
        Raises CatalogError when the batch itself cannot be read."""
        batch_id = check_id(batch_id, "batch_id")
        what = f"batch {batch_id}"
        data = self._json(f"api/batches/{quote(batch_id, safe='')}/photos", what)
        if not isinstance(data, dict) or not isinstance(data.get("photos"), list):
            raise CatalogAnswerError(f"{what}: the catalog's answer has no 'photos' list")
        photos: list[PhotoRef | SkippedPhoto] = []
        for index, entry in enumerate(data["photos"]):
            try:
                photos.append(self.parse_photo(entry))
            except CatalogAnswerError as exc:
                raw = entry.get("photo_id") if isinstance(entry, dict) else None
                usable = (
                    isinstance(raw, (str, int))
                    and not isinstance(raw, bool)
                    and CATALOG_ID.fullmatch(str(raw))
                )
                name = str(raw) if usable else f"{what}[{index}]"
                photos.append(SkippedPhoto(name, "bad_catalog_answer", str(exc)))
        return photos

    def fetch(self, photo: PhotoRef) -> bytes:
        """The photo's bytes, in memory. Raises CatalogError."""
        return self._get(photo.file_url, f"photo {photo.id}").content

    def people(self) -> list[dict]:
        """`GET /api/people` (an extension, not in the seed): every labelled
        person as {"person_id", "person_name"}. Raises CatalogError."""
        data = self._json("api/people", "people")
        listing = data.get("people") if isinstance(data, dict) else data
        if not isinstance(listing, list):
            raise CatalogAnswerError("people: the catalog's answer is not a list")
        people = []
        for index, entry in enumerate(listing):
            person = _person(entry, f"people[{index}]")
            if person is not None:
                people.append({"person_id": person.id, "person_name": person.name})
        return people
