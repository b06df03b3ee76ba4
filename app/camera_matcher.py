"""The recognizer as a camera's matcher (worker/camera_recognition.py's
Matcher), for a camera box that runs beside the database: `studio recognize`
without STUDIO_URL, and the demo."""

from __future__ import annotations

import numpy as np

from app import queries
from app.db import Database
from app.person_recognizer import PersonRecognizer, identified_ids, record_sightings


class DatabaseMatcher:
    def __init__(self, recognizer: PersonRecognizer, writer: Database | None = None):
        """`writer` is where sightings are stamped: the primary, when the
        recognizer reads a replica (default: the recognizer's database)."""
        self.recognizer = recognizer
        self.writer = writer or recognizer.database
        self.model = recognizer.model

    def match(self, probes: np.ndarray, k: int, record_sighting: bool) -> list[dict]:
        matches = self.recognizer.match(probes, k=k)
        if record_sighting:
            record_sightings(self.writer, identified_ids(matches))
        return [m.to_json() for m in matches]

    def gallery(self) -> list[dict]:
        """Identities and references per model, as GET /api/gallery lists them."""
        rows = self.recognizer.database.fetch_all(queries.GALLERY_SUMMARY, sources=None)
        return [{"model": m, "identities": i, "references": r} for m, i, r in rows]
