"""Who is this face? The reference gallery, nearest-neighbour search, open-set decisions.

The gallery is the seed's, the database's gallery view: reference face
embeddings of named identities (names LIKE 'Unknown%' excluded), of one
model. It is held in memory for exact search with numpy, loaded whole once
and then kept current by applying changes, never by loading it again: the
database writes every change to the gallery into a change feed
(gallery_changes, read with gallery_changes_since()), and a background
thread reads only the entries it has not applied yet, re-reads the gallery
rows of the identities they name, and swaps in the new gallery at once. A
recognize call takes whichever gallery is current and never waits for one.
The thread wakes on NOTIFY (channel studio_gallery) where the database sends
it, so a delete stops recognition within a second on a primary, and polls
every STUDIO_GALLERY_POLL_MS on a hot standby, which sends none: a
recognizer may read from a read replica (STUDIO_DATABASE_READ_URL). Large
galleries are searched in SQL instead, through match_faces() and the
model's HNSW index.

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
DBA may change them), re-read each time the thread wakes (a change sends
the same NOTIFY), so a change reaches a running recognizer within a second.
The constants in THRESHOLDS are only the defaults before a model's first
calibration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from app import queries
from app.db import Database, DatabaseError
from app.limits import DIMENSIONS

log = logging.getLogger(__name__)

GALLERY_CHANNEL = "studio_gallery"
# Without a background thread (listen=False), how stale the gallery and the
# thresholds may get before a call catches up.
CACHE_TTL_SECONDS = 300.0
# How often the thread reads the change feed when no NOTIFY wakes it: the
# lag a read replica adds to a change, beyond replication's own.
POLL_INTERVAL_SECONDS = 0.5
MIN_POLL_SECONDS = 0.01
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


@dataclass(frozen=True, eq=False)
class Gallery:
    """One model's references as a recognizer sees them at one moment.

    Never changed once made: the follower makes a new one for each batch of
    changes and swaps it in, so a match that took one sees one state from
    start to end. Rows of references that left (their person deleted or
    renamed, the vector deleted) stay in `vectors` until the next compaction,
    hidden by `alive`; rows are in no particular order.
    """

    vectors: np.ndarray  # (rows, 512), unit length
    owners: np.ndarray  # (rows,) each row's identity, an index into `identities`
    alive: np.ndarray  # (rows,) bool: the row is in the gallery
    identities: list[Candidate]  # similarity unused; may hold identities that left
    sources: np.ndarray  # (identities,) each identity's source system, a code of source_codes
    source_codes: dict[str | None, int]
    size: int  # references in the gallery (alive rows)
    # Per binding, the rows a caller may not see, computed once per gallery.
    _hidden: dict[frozenset[str] | None, np.ndarray] = field(default_factory=dict)

    def hidden(self, sources: Sequence[str] | None) -> np.ndarray:
        """Rows a caller bound to `sources` (None: every source) must not see:
        those that left the gallery, and those of other sources' identities."""
        key = frozenset(sources) if sources is not None else None
        hidden = self._hidden.get(key)
        if hidden is None:
            shown = self.alive
            if key is not None:
                codes = [self.source_codes[s] for s in key if s in self.source_codes]
                shown = shown & np.isin(self.sources, codes)[self.owners]
            hidden = self._hidden[key] = np.flatnonzero(~shown)
        return hidden


# Room to append before the next copy of the gallery's buffers: a quarter
# more, at least this many rows. And the copy that drops the rows of
# references that left comes once a quarter of the rows are such, and at
# least this many.
MIN_HEADROOM = 1024
COMPACT_AT_DEAD = 1024


def _headroom(rows: int) -> int:
    return rows + max(MIN_HEADROOM, rows // 4, 1)


def _units(rows: list[tuple], into: np.ndarray) -> np.ndarray:
    """The vectors of gallery rows (the last column), unit length, written into
    `into`. One code path for a whole load and for a change, so that the same
    stored vector always gives the same bits (a change compares them)."""
    for i, row in enumerate(rows):
        into[i] = row[-1].to_numpy()
    norms = np.linalg.norm(into, axis=1, keepdims=True)
    into /= np.where(norms == 0, 1, norms)
    return into


class _GalleryBuilder:
    """The follower's side of a gallery: buffers it appends to, and where each
    identity's rows are. One thread at a time changes it (the recognizer's
    update lock); readers only ever see the Gallery objects it publishes.

    A change never touches what a published Gallery holds: new rows go past
    every published gallery's end, rows that leave are hidden in a copy of
    `alive`, and a compaction (when a quarter of the rows are dead, or the
    buffer is full) copies the live rows into new buffers.
    """

    def __init__(self, capacity: int):
        self.vectors = np.empty((capacity, DIMENSIONS), dtype=np.float32)
        self.owners = np.empty(capacity, dtype=np.int32)
        self.alive = np.zeros(0, dtype=bool)
        self.rows = 0
        self.dead = 0
        self.identities: list[Candidate] = []
        self.sources = np.empty(_headroom(0), dtype=np.int32)
        self.source_codes: dict[str | None, int] = {}
        # identity_id -> (index in identities, {embedding_id: row})
        self.held: dict[str, tuple[int, dict[str, int]]] = {}

    @classmethod
    def load(cls, rows: list[tuple]) -> _GalleryBuilder:
        """A gallery of `rows` (the gallery query's columns, grouped by identity)."""
        builder = cls(_headroom(len(rows)))
        count = len(rows)
        _units(rows, builder.vectors[:count])
        previous = None
        for i, (identity_id, embedding_id, external_id, source, name, _) in enumerate(rows):
            if identity_id != previous:
                code = builder._new_identity(Candidate(identity_id, external_id, source, name, 0.0))
                held: dict[str, int] = {}
                builder.held[identity_id] = (code, held)
                previous = identity_id
            builder.owners[i] = code
            held[embedding_id] = i
        builder.rows = count
        builder.alive = np.ones(count, dtype=bool)
        return builder

    def publish(self) -> Gallery:
        return Gallery(
            vectors=self.vectors[: self.rows],
            owners=self.owners[: self.rows],
            alive=self.alive,
            identities=self.identities,
            sources=self.sources[: len(self.identities)],
            source_codes=self.source_codes,
            size=self.rows - self.dead,
        )

    def apply(self, identity_ids: set[str], rows: list[tuple]) -> None:
        """The gallery rows of `identity_ids` are now `rows` (the gallery
        query's columns); an identity without rows has left the gallery."""
        units = _units(rows, np.empty((len(rows), DIMENSIONS), dtype=np.float32))
        fresh: dict[str, list[tuple]] = {}
        for row, unit in zip(rows, units, strict=True):
            fresh.setdefault(row[0], []).append((*row[:5], unit))
        # A copy: the published galleries keep theirs as it was.
        self.alive = self.alive.copy()
        pending: list[tuple[str, str, np.ndarray]] = []
        for identity_id in identity_ids:
            code, held = self.held.pop(identity_id, (None, {}))
            now = fresh.get(identity_id, [])
            if not now:
                self._kill(held.values())
                continue
            _, _, external_id, source, name, _ = now[0]
            candidate = Candidate(identity_id, external_id, source, name, 0.0)
            if code is None or self.identities[code] != candidate:
                # New, renamed, or moved to other keys: a new entry, so that a
                # published gallery keeps naming the person as it did.
                self._kill(held.values())
                held = {}
                code = self._new_identity(candidate)
            kept: dict[str, int] = {}
            for _, embedding_id, _, _, _, unit in now:
                row = held.pop(embedding_id, None)
                if row is not None and np.array_equal(self.vectors[row], unit):
                    kept[embedding_id] = row
                    continue
                if row is not None:
                    self._kill([row])
                pending.append((identity_id, embedding_id, unit))
            self._kill(held.values())
            self.held[identity_id] = (code, kept)
        if self.dead > max(COMPACT_AT_DEAD, self.rows // 4) or self.rows + len(pending) > len(
            self.vectors
        ):
            self._compact(len(pending))
        start = self.rows
        for offset, (identity_id, embedding_id, unit) in enumerate(pending):
            code, held = self.held[identity_id]
            self.vectors[start + offset] = unit
            self.owners[start + offset] = code
            held[embedding_id] = start + offset
        self.rows = start + len(pending)
        self.alive = np.concatenate([self.alive, np.ones(len(pending), dtype=bool)])

    def _kill(self, rows) -> None:
        for row in rows:
            self.alive[row] = False
            self.dead += 1

    def _new_identity(self, candidate: Candidate) -> int:
        code = len(self.identities)
        if code == len(self.sources):
            # A new buffer: the published galleries keep the old one.
            grown = np.empty(_headroom(code), dtype=np.int32)
            grown[:code] = self.sources
            self.sources = grown
        source = self.source_codes.setdefault(candidate.source_system, len(self.source_codes))
        self.sources[code] = source
        self.identities.append(candidate)
        return code

    def _compact(self, extra: int) -> None:
        """Copy the live rows, and the identities they belong to, into new
        buffers with room for `extra` more rows and headroom."""
        live = np.flatnonzero(self.alive)
        row_map = np.full(self.rows, -1, dtype=np.int64)
        row_map[live] = np.arange(len(live))
        codes = sorted(code for code, _ in self.held.values())
        code_map = np.full(len(self.identities), -1, dtype=np.int32)
        code_map[codes] = np.arange(len(codes), dtype=np.int32)
        vectors = np.empty((_headroom(len(live) + extra), DIMENSIONS), dtype=np.float32)
        np.take(self.vectors, live, axis=0, out=vectors[: len(live)])
        owners = np.empty(len(vectors), dtype=np.int32)
        owners[: len(live)] = code_map[self.owners[live]]
        sources = np.empty(_headroom(len(codes)), dtype=np.int32)
        sources[: len(codes)] = self.sources[codes]
        self.identities = [self.identities[code] for code in codes]
        self.held = {
            identity_id: (int(code_map[code]), {e: int(row_map[r]) for e, r in held.items()})
            for identity_id, (code, held) in self.held.items()
        }
        self.vectors, self.owners, self.sources = vectors, owners, sources
        self.alive = np.ones(len(live), dtype=bool)
        self.rows, self.dead = len(live), 0


@dataclass
class _Loaded:
    builder: _GalleryBuilder
    position: int  # the change feed's position of the snapshot it was read in
    seen: set[int]  # change_ids at or above the position it already holds


def _load(database: Database, model: str) -> _Loaded:
    """The whole gallery of `model`, with the change feed's position it is
    current to: both read in one snapshot."""
    with database.session() as session, session.snapshot():
        position = int(session.value(queries.GALLERY_POSITION))
        feed = session.value(queries.GALLERY_CHANGES_SINCE, str(position), model)
        rows = session.fetch_all(queries.GALLERY, model, binary=True)
    seen = {change_id for change_id, _, _ in feed["changes"]}
    return _Loaded(_GalleryBuilder.load(rows), position, seen)


def load_gallery(database: Database, model: str) -> Gallery:
    return _load(database, model).builder.publish()


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
        poll_interval: float = POLL_INTERVAL_SECONDS,
    ):
        """`database` is where recognition reads (a primary or a hot standby).
        With `listen`, a background thread follows the gallery's change feed,
        woken by NOTIFY where the database sends it and every `poll_interval`
        seconds in any case; without, the gallery catches up with the feed at
        the first use after `ttl_seconds`, in the caller's thread."""
        self.database = database
        self.model = model
        # Given thresholds hold for the recognizer's life; otherwise they are
        # the database's, re-read with each look at the feed.
        self._fixed_thresholds = thresholds
        self._thresholds: Thresholds | None = None
        self._thresholds_loaded_at = 0.0
        self.ttl_seconds = ttl_seconds
        self.ann_min_references = ann_min_references
        self.poll_interval = max(poll_interval, MIN_POLL_SECONDS)
        self._gallery: Gallery | None = None
        self._builder: _GalleryBuilder | None = None
        self._position = 0
        self._seen: set[int] = set()
        self._synced_at = 0.0
        # One writer of the gallery at a time: the follower, or the first
        # caller that finds none loaded. Readers never take it.
        self._update = threading.Lock()
        self._closed = threading.Event()
        # For tests and benchmarks: how the gallery was kept current.
        self.reloads = 0
        self.changes_applied = 0
        self._follower: threading.Thread | None = None
        if listen:
            self._follower = threading.Thread(
                target=self._follow, daemon=True, name=f"gallery-{model}"
            )
            self._follower.start()

    # ------------------------------------------------------------ the gallery

    def _follow(self) -> None:
        """Keep thresholds and gallery current until closed; reconnect when the
        database goes away."""
        while not self._closed.is_set():
            try:
                if self.database.value(queries.IN_RECOVERY):
                    # A hot standby delivers no NOTIFY (nor takes a LISTEN): poll.
                    self._follow_with(self._closed.wait)
                else:
                    with self.database.listening(GALLERY_CHANNEL) as notified:
                        self._follow_with(notified)
            except DatabaseError as exc:
                log.warning("gallery of %s: %s; reconnecting", self.model, exc)
                self._closed.wait(1.0)
            except Exception:  # a bug must not end the following for good
                log.exception("gallery of %s: following failed; retrying", self.model)
                self._closed.wait(1.0)

    def _follow_with(self, woken: Callable[[float], bool]) -> None:
        while not self._closed.is_set():
            self.refresh()
            woken(self.poll_interval)

    def refresh(self) -> None:
        """Read the thresholds again and apply what changed in the gallery (if
        one is loaded): what the follower does each time it wakes."""
        if self._fixed_thresholds is None:
            self._load_thresholds()
        if self._gallery is not None:
            with self._update:
                self._catch_up()

    def _catch_up(self) -> None:
        """Apply the change feed's entries not applied yet (under _update).

        The feed and the rows it names are read in one snapshot, on one
        connection: the gallery is then exactly the view as of the position
        it keeps, even where connections of one URL could reach servers at
        different points of replay."""
        with self.database.session() as session, session.snapshot():
            feed = session.value(queries.GALLERY_CHANGES_SINCE, str(self._position), self.model)
            position = int(feed["position"])
            changes = feed["changes"]
            fresh = [c for c in changes if c[0] not in self._seen]
            identities = {identity_id for _, _, identity_id in fresh}
            rows = None
            if identities and None not in identities and not feed["behind"]:
                rows = session.fetch_all(
                    queries.GALLERY_OF_IDENTITIES, self.model, sorted(identities), binary=True
                )
        if feed["behind"] or None in identities:
            log.info(
                "gallery of %s: loading it whole (%s)",
                self.model,
                "behind the pruned feed" if feed["behind"] else "a reload entry",
            )
            self._reload()
            return
        if rows is not None:
            assert self._builder is not None
            self._builder.apply(identities, rows)
            self._gallery = self._builder.publish()
            self.changes_applied += len(fresh)
        # Entries of transactions at or above the new position come back next
        # time too (see gallery_changes_since()): skipped then by change_id.
        self._seen = {change_id for change_id, xid, _ in changes if int(xid) >= position}
        self._position = position
        self._synced_at = time.monotonic()

    def _reload(self) -> None:
        """Load the whole gallery (under _update); the old one serves until then."""
        loaded = _load(self.database, self.model)
        self._builder = loaded.builder
        self._position, self._seen = loaded.position, loaded.seen
        self._gallery = loaded.builder.publish()
        self._synced_at = time.monotonic()
        self.reloads += 1
        log.info("gallery of %s: %d references", self.model, self._gallery.size)

    def _load_thresholds(self) -> Thresholds:
        self._thresholds = load_thresholds(self.database, self.model)
        self._thresholds_loaded_at = time.monotonic()
        return self._thresholds

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds decisions use now: the given ones, else the database's
        for this model (kept current by the follower, or re-read after the
        TTL without one), else the defaults."""
        if self._fixed_thresholds is not None:
            return self._fixed_thresholds
        current = self._thresholds
        if current is None or (
            self._follower is None
            and time.monotonic() - self._thresholds_loaded_at > self.ttl_seconds
        ):
            current = self._load_thresholds()
        return current

    def gallery(self) -> Gallery:
        """The in-memory gallery. The first call loads it; from then on the
        follower keeps it current in the background and a call never waits
        for it (without a follower, a call after the TTL applies what changed)."""
        if self._gallery is None:
            with self._update:
                if self._gallery is None:
                    self._reload()
        elif self._follower is None and time.monotonic() - self._synced_at > self.ttl_seconds:
            with self._update:
                self._catch_up()
        assert self._gallery is not None
        return self._gallery

    @property
    def position(self) -> int:
        """The change feed's position the gallery is current to (0: none loaded)."""
        return self._position

    def reference_count(self) -> int:
        """How many references the model has, without loading them."""
        return self.database.value(queries.GALLERY_SIZE, self.model)

    def close(self) -> None:
        self._closed.set()
        if self._follower is not None and self._follower is not threading.current_thread():
            self._follower.join(timeout=self.poll_interval + 5)

    # ------------------------------------------------------------ matching

    def search_path(self, search: str = "auto") -> str:
        """'exact' (numpy, in memory) or 'ann' (SQL, HNSW): by gallery size unless told."""
        if search in ("exact", "ann"):
            return search
        gallery = self._gallery
        size = gallery.size if gallery is not None else self.reference_count()
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
        # The decision weighs the best identity against the second best
        # (the margin), whatever k the caller wants to see: with k = 1 the
        # second would otherwise never be looked at.
        wanted = max(k, 2)
        if self.search_path(search) == "ann":
            lists = self._match_sql(probes, wanted, ef_search, sources)
        else:
            lists = self._match_exact(probes, wanted, sources)
        return [Match(decide(c, thresholds), c[:k]) for c in lists]

    def _match_exact(
        self, probes: np.ndarray, k: int, sources: Sequence[str] | None
    ) -> list[list[Candidate]]:
        gallery = self.gallery()  # one gallery for the whole call, whatever the follower does
        hidden = gallery.hidden(sources)
        if len(hidden) == len(gallery.vectors):
            return [[] for _ in probes]
        scores = probes @ gallery.vectors.T  # (probes, rows)
        # Only the caller's identities compete: the others (and rows that left
        # the gallery) are dropped before the top-k, so they never become
        # candidates nor narrow the margin.
        scores[:, hidden] = -np.inf
        return [
            [
                replace(gallery.identities[gallery.owners[r]], similarity=float(row[r]))
                for r in _best_rows(row, gallery.owners, k)
            ]
            for row in scores
        ]

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


def _best_rows(scores: np.ndarray, owners: np.ndarray, k: int) -> np.ndarray:
    """The best-scoring row of each of the k best identities, best first.

    Rows are sorted only as far as needed: the m best rows (m a few times k)
    hold the best rows of the k best identities unless fewer than k distinct
    identities are among them; then m grows, up to every row. Hidden rows
    score -inf and never count.
    """
    rows = len(scores)
    m = min(rows, 8 * k)
    while True:
        top = np.argpartition(-scores, m - 1)[:m] if m < rows else np.arange(rows)
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[np.isfinite(scores[top])]
        _, first = np.unique(owners[top], return_index=True)
        if len(first) >= k or m == rows:
            return top[np.sort(first)[:k]]
        m = min(rows, m * 4)


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
