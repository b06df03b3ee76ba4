"""Who is this face? The reference gallery, nearest-neighbour search, open-set decisions.

The gallery is the seed's, the database's gallery view: reference face
embeddings of named identities (names LIKE 'Unknown%' excluded), of one
model. It is held in memory for
exact search with numpy, cached with a 5-minute TTL and reloaded within a
second of any change, which PostgreSQL announces on LISTEN channel
studio_gallery. Large galleries are searched in SQL instead, through
match_faces() and the model's HNSW index.

A caller bound to source systems searches only the identities of those
systems (never Studio-native ones): the others are left out before the top-k
and the decision, so they cannot show up as candidates or tip a decision
through the margin.

Every probe gets the top-k identities with scores (best reference of each)
and a decision:

- identified: the best score reaches `identify`, and beats the second-best
  identity by at least `margin` (look-alikes are the commonest complaint);
- uncertain: the best score reaches `uncertain`, or the margin is too small;
- unknown: nobody in the gallery is close.

The thresholds are data, per model: the model's row in the database's
recognition_thresholds (`studio calibrate` measures them on the gallery, a
DBA may change them), re-read on the same NOTIFY as the gallery, so a change
reaches a running recognizer within a second. The constants in THRESHOLDS
are only the defaults before a model's first calibration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from app import queries
from app.db import Database, DatabaseError

log = logging.getLogger(__name__)

GALLERY_CHANNEL = "studio_gallery"
CACHE_TTL_SECONDS = 300.0
# Above this many references, search goes to SQL and the HNSW index rather
# than holding the gallery in each API process (docs/recognition.md).
ANN_MIN_REFERENCES = 200_000


@dataclass(frozen=True)
class Thresholds:
    identify: float
    uncertain: float
    margin: float
    # "calibrated": read from the recognition_thresholds table (studio
    # calibrate, or a DBA); "default": the constants below.
    source: str = "default"

    def to_json(self) -> dict:
        return asdict(self)


# Cosine similarities, the defaults of a model until `studio calibrate`
# stores measured ones in the database (recognition_thresholds), which every
# recognizer then reads instead. buffalo_s: measured on the demo people in
# camera-like frames (bench/recognition_quality.py) and on InsightFace's own
# sample faces as strangers: 24-px faces of enrolled people score 0.41 and
# up, strangers that pass the quality gates 0.21 at most; the turned faces
# that score higher are held at uncertain by the gates, not by these.
# buffalo_l: stated for its w600k_r50 recogniser, whose same-person scores
# run higher and strangers' lower (docs/recognition.md).
THRESHOLDS = {
    "buffalo_s": Thresholds(identify=0.40, uncertain=0.30, margin=0.10),
    "buffalo_l": Thresholds(identify=0.45, uncertain=0.30, margin=0.10),
}


def default_thresholds(model: str) -> Thresholds:
    """The thresholds in code for `model`: buffalo_l's for a model the code does not know."""
    return THRESHOLDS.get(model, THRESHOLDS["buffalo_l"])


def load_thresholds(database: Database, model: str) -> Thresholds:
    """The model's thresholds as stored in the database, else its defaults."""
    row = database.fetch_one(queries.RECOGNITION_THRESHOLDS, model)
    if row is None:
        return default_thresholds(model)
    identify, uncertain, margin = row
    return Thresholds(identify, uncertain, margin, source="calibrated")


@dataclass(frozen=True)
class Candidate:
    identity_id: str
    external_id: str | None
    source_system: str | None
    name: str
    similarity: float


@dataclass(frozen=True)
class Match:
    decision: str
    candidates: list[Candidate]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def to_json(self) -> dict:
        best = self.best
        identified = self.decision == "identified"
        return {
            "decision": self.decision,
            "identity": asdict(best) if identified and best else None,
            "name": best.name if identified and best else None,
            "external_id": best.external_id if identified and best else None,
            "similarity": round(best.similarity, 4) if best else None,
            "candidates": [
                asdict(c) | {"similarity": round(c.similarity, 4)} for c in self.candidates
            ],
        }


def decide(candidates: list[Candidate], thresholds: Thresholds) -> str:
    if not candidates:
        return "unknown"
    best = candidates[0].similarity
    second = candidates[1].similarity if len(candidates) > 1 else -1.0
    if best >= thresholds.identify and best - second >= thresholds.margin:
        return "identified"
    if best >= thresholds.uncertain:
        return "uncertain"
    return "unknown"


@dataclass
class Gallery:
    """References of one model, grouped by identity (rows sorted by identity)."""

    vectors: np.ndarray  # (references, 512), unit length
    starts: np.ndarray  # first row of each identity
    identities: list[Candidate]  # one per identity, similarity unused
    loaded_at: float
    # Per binding, computed once per loaded gallery (a reload makes a new one).
    _visible: dict[frozenset[str] | None, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.vectors)

    def visible(self, sources: Sequence[str] | None) -> np.ndarray:
        """Indexes of the identities a caller bound to `sources` may see (None: all)."""
        key = frozenset(sources) if sources is not None else None
        if key not in self._visible:
            self._visible[key] = (
                np.arange(len(self.identities))
                if key is None
                else np.flatnonzero([c.source_system in key for c in self.identities])
            )
        return self._visible[key]


def load_gallery(database: Database, model: str) -> Gallery:
    rows = database.fetch_all(queries.GALLERY, model)
    identities: list[Candidate] = []
    starts: list[int] = []
    vectors = np.zeros((len(rows), 512), dtype=np.float32)
    previous = None
    for i, (identity_id, external_id, source_system, name, vector) in enumerate(rows):
        vectors[i] = vector.to_numpy()
        if identity_id != previous:
            starts.append(i)
            identities.append(Candidate(identity_id, external_id, source_system, name, 0.0))
            previous = identity_id
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors /= np.where(norms == 0, 1, norms)
    return Gallery(vectors, np.asarray(starts, dtype=np.int64), identities, time.monotonic())


class PersonRecognizer:
    """Matches probe embeddings against the gallery of one model."""

    def __init__(
        self,
        database: Database,
        model: str = "buffalo_l",
        *,
        thresholds: Thresholds | None = None,
        ttl_seconds: float = CACHE_TTL_SECONDS,
        ann_min_references: int = ANN_MIN_REFERENCES,
        listen: bool = True,
    ):
        self.database = database
        self.model = model
        # Given thresholds hold for the recognizer's life; otherwise they are
        # the database's, re-read with the gallery (a change notifies both).
        self._fixed_thresholds = thresholds
        self._thresholds: Thresholds | None = None
        self._thresholds_loaded_at = 0.0
        self.ttl_seconds = ttl_seconds
        self.ann_min_references = ann_min_references
        self._gallery: Gallery | None = None
        self._lock = threading.Lock()
        self._changed = threading.Event()
        # Apart from _changed: the SQL search path reads thresholds without
        # loading the gallery, and must not take the gallery's reload from it.
        self._thresholds_changed = threading.Event()
        self._closed = threading.Event()
        self._listener: threading.Thread | None = None
        self._reference_count: int | None = None
        if listen:
            self._listener = threading.Thread(
                target=self._listen, daemon=True, name="gallery-listen"
            )
            self._listener.start()

    # ------------------------------------------------------------ the gallery

    def _listen(self) -> None:
        """Mark the gallery stale on every NOTIFY; reconnect if the database goes away."""
        while not self._closed.is_set():
            try:
                with self.database.listening(GALLERY_CHANNEL) as changed_within:
                    self._mark_changed()  # anything may have changed while we were away
                    while not self._closed.is_set():
                        if changed_within(1.0):
                            self._mark_changed()
            except DatabaseError as exc:
                log.warning("gallery listener: %s; reconnecting", exc)
                self._closed.wait(1.0)

    def _mark_changed(self) -> None:
        self._changed.set()
        self._thresholds_changed.set()

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds decisions use now: the given ones, else the database's
        for this model (re-read on NOTIFY or after the TTL), else the defaults."""
        if self._fixed_thresholds is not None:
            return self._fixed_thresholds
        with self._lock:
            expired = (
                self._thresholds is None
                or time.monotonic() - self._thresholds_loaded_at > self.ttl_seconds
            )
            if expired or self._thresholds_changed.is_set():
                self._thresholds_changed.clear()
                self._thresholds = load_thresholds(self.database, self.model)
                self._thresholds_loaded_at = time.monotonic()
            return self._thresholds

    def gallery(self) -> Gallery:
        """The in-memory gallery, reloaded when stale (TTL) or changed (NOTIFY)."""
        with self._lock:
            expired = (
                self._gallery is None
                or time.monotonic() - self._gallery.loaded_at > self.ttl_seconds
            )
            if expired or self._changed.is_set():
                self._changed.clear()
                self._gallery = load_gallery(self.database, self.model)
                log.info("gallery of %s: %d references", self.model, self._gallery.size)
            return self._gallery

    def reference_count(self) -> int:
        """How many references the model has, without loading them."""
        return self.database.value(queries.GALLERY_SIZE, self.model)

    def close(self) -> None:
        self._closed.set()

    # ------------------------------------------------------------ matching

    def search_path(self, search: str = "auto") -> str:
        """'exact' (numpy, in memory) or 'ann' (SQL, HNSW): by gallery size unless told."""
        if search in ("exact", "ann"):
            return search
        if self._gallery is not None and not self._changed.is_set():
            size = self._gallery.size
        else:
            size = self.reference_count()
        return "ann" if size >= self.ann_min_references else "exact"

    def match(
        self,
        probes: np.ndarray,
        *,
        k: int = 5,
        search: str = "auto",
        ef_search: int = 100,
        sources: Sequence[str] | None = None,
        thresholds: Thresholds | None = None,
    ) -> list[Match]:
        """One Match per probe row (raw or unit embeddings, shape (n, 512)), among
        the identities of `sources` (None: every identity), decided with
        `thresholds` (None: the recognizer's current ones; a caller that
        reports which thresholds it used reads them first and passes them)."""
        thresholds = thresholds or self.thresholds
        probes = np.atleast_2d(np.asarray(probes, dtype=np.float32))
        norms = np.linalg.norm(probes, axis=1, keepdims=True)
        probes = probes / np.where(norms == 0, 1, norms)
        if self.search_path(search) == "ann":
            lists = self._match_sql(probes, k, ef_search, sources)
        else:
            lists = self._match_exact(probes, k, sources)
        return [Match(decide(c, thresholds), c) for c in lists]

    def _match_exact(
        self, probes: np.ndarray, k: int, sources: Sequence[str] | None
    ) -> list[list[Candidate]]:
        gallery = self.gallery()
        visible = gallery.visible(sources)
        if gallery.size == 0 or visible.size == 0:
            return [[] for _ in probes]
        scores = probes @ gallery.vectors.T  # (probes, references)
        per_identity = np.maximum.reduceat(scores, gallery.starts, axis=1)  # best reference each
        # Only the caller's identities compete: the others are dropped before
        # the top-k, so they never become candidates nor narrow the margin.
        per_identity = per_identity[:, visible]
        k = min(k, per_identity.shape[1])
        top = np.argpartition(-per_identity, k - 1, axis=1)[:, :k]
        results = []
        for row, columns in enumerate(top):
            ordered = columns[np.argsort(-per_identity[row, columns])]
            results.append(
                [
                    Candidate(
                        **{
                            **asdict(gallery.identities[visible[c]]),
                            "similarity": float(per_identity[row, c]),
                        }
                    )
                    for c in ordered
                ]
            )
        return results

    def _match_sql(
        self, probes: np.ndarray, k: int, ef_search: int, sources: Sequence[str] | None
    ) -> list[list[Candidate]]:
        allowed = list(sources) if sources is not None else None
        results = []
        with self.database.session() as session:
            for probe in probes:
                rows = session.fetch_all(
                    queries.MATCH_FACES, probe, self.model, k, ef_search, allowed
                )
                results.append([Candidate(str(r[0]), r[1], r[2], r[3], float(r[4])) for r in rows])
        return results


def identified_ids(matches: list[Match]) -> list[str]:
    return sorted({m.best.identity_id for m in matches if m.decision == "identified" and m.best})


def record_sightings(
    database: Database, identity_ids: list[str], sources: Sequence[str] | None = None
) -> int:
    """Stamp first_seen / last_seen of these identities (seen on camera now); with
    `sources`, only of identities of those source systems."""
    if not identity_ids:
        return 0
    allowed = list(sources) if sources is not None else None
    return database.value(queries.RECORD_SIGHTINGS, identity_ids, allowed)
