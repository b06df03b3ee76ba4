"""When the reference gallery gets an HNSW index, and how a backfill avoids paying for it.

An insert into a live HNSW index costs about 6 ms here (docs/benchmarks.md),
which would make the index, not the GPU, the bottleneck of a backfill; an
index built after the load costs a fraction of that per vector. So no
migration creates it. The policy:

- below BUILD_AT references of a model, no index: the recognizer searches
  exactly in memory, and an exact SQL scan is fast enough too;
- from BUILD_AT on, `studio index build` (or `studio index ensure`, for cron)
  makes one partial HNSW index per model with CREATE INDEX CONCURRENTLY, so
  ingest and recognition go on while it builds;
- before a backfill that adds more than BACKFILL_SHARE of the gallery, drop
  it (`studio index drop`), load, and build again: load-then-index beats
  inserting into a live index by an order of magnitude.

Parameters: m = 16, ef_construction = 64 (pgvector's defaults, which reach
recall@1 of 0.99 at ef_search 100 on face-like galleries); queries choose
ef_search per call (match_faces()).
"""

from __future__ import annotations

from dataclasses import dataclass

from app import queries
from app.db import Database

BUILD_AT = 50_000
BACKFILL_SHARE = 0.10
M, EF_CONSTRUCTION = 16, 64


def index_name(database: Database, model: str) -> str:
    """The model's index name, as the database makes it (gallery_index_name())."""
    return database.value(queries.GALLERY_INDEX_NAME, model)


@dataclass(frozen=True)
class IndexStatus:
    model: str
    references: int
    index: str | None
    valid: bool
    size_bytes: int | None

    @property
    def advice(self) -> str:
        if self.index is None:
            if self.references >= BUILD_AT:
                return f"build it: studio index build --model {self.model}"
            return f"not needed below {BUILD_AT:,} references; exact search is fast"
        if not self.valid:
            return (
                f"invalid (a build was interrupted): studio index drop --model {self.model}, "
                "then build"
            )
        return (
            f"in use; before a backfill of more than {BACKFILL_SHARE:.0%} of the gallery, "
            "drop it and build it after"
        )


def status(database: Database) -> list[IndexStatus]:
    """Every model with references, with its index (if any) and advice."""
    return [
        IndexStatus(model, refs, name, bool(valid), size)
        for model, refs, name, valid, size in database.fetch_all(queries.GALLERY_INDEX_STATUS)
    ]


def build(
    database: Database, model: str, *, m: int = M, ef_construction: int = EF_CONSTRUCTION
) -> str:
    """CREATE INDEX CONCURRENTLY the model's partial HNSW index; return its name."""
    name = index_name(database, model)
    with database.session() as session:
        session.execute(queries.INDEX_BUILD_MEMORY)
        try:
            session.execute_composed(
                queries.CREATE_GALLERY_INDEX,
                names={"index": name},
                values={"m": m, "ef_construction": ef_construction, "model": model},
            )
        finally:
            session.execute(queries.INDEX_BUILD_MEMORY_RESET)
    return name


def drop(database: Database, model: str) -> str:
    name = index_name(database, model)
    with database.session() as session:
        session.execute_composed(queries.DROP_GALLERY_INDEX, names={"index": name})
    return name


def ensure(database: Database) -> list[str]:
    """Build the indexes the policy calls for; return their names."""
    wanted = [s.model for s in status(database) if s.index is None and s.references >= BUILD_AT]
    return [build(database, model) for model in wanted]
