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

With the index, a model gets its search function (create_gallery_search()
in SQL): match_faces() runs its statement there, planned once per session
instead of on every call.

A build gets maintenance_work_mem sized to hold the whole graph
(graph_bytes()): once the graph outgrows it, pgvector goes on inserting into
the index on disk, "significantly" slower in its own words.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from app import queries
from app.db import Database

BUILD_AT = 50_000
BACKFILL_SHARE = 0.10
M, EF_CONSTRUCTION = 16, 64
MIN_BUILD_MEMORY_MB = 1024
# Bytes pgvector 0.8 holds per element besides its vector while it builds:
# the element and its neighbour lists (2m entries of 16 bytes on level 0).
# Measured: with m = 16 the graph of 512-d vectors outgrew 32 MB after
# 12,136 vectors (2,765 bytes each: 2,056 of vector) and of halfvecs after
# 19,280 (1,740 bytes: 1,032 of halfvec), with or without parallel workers.
ELEMENT_BYTES_BASE, ELEMENT_BYTES_PER_M = 200, 32


def graph_bytes(
    references: int, *, dimensions: int = 512, bytes_per_dimension: int = 4, m: int = M
) -> int:
    """The memory pgvector needs to build the graph of `references` vectors in RAM
    (4 bytes a dimension for vector, 2 for halfvec)."""
    element = 8 + dimensions * bytes_per_dimension + ELEMENT_BYTES_BASE + ELEMENT_BYTES_PER_M * m
    return references * element


def build_memory_mb(
    references: int, *, dimensions: int = 512, bytes_per_dimension: int = 4, m: int = M
) -> int:
    """maintenance_work_mem for a build: the graph and a tenth more, at least 1 GB."""
    needed = graph_bytes(
        references, dimensions=dimensions, bytes_per_dimension=bytes_per_dimension, m=m
    )
    return max(MIN_BUILD_MEMORY_MB, math.ceil(needed * 1.1 / 2**20))


def index_name(database: Database, model: str) -> str:
    """The model's index name, as the database makes it (gallery_index_name())."""
    return database.value(queries.GALLERY_INDEX_NAME, model)


def search_name(database: Database, model: str) -> str:
    """The name of the model's search function (gallery_search_name())."""
    return database.value(queries.GALLERY_SEARCH_NAME, model)


@dataclass(frozen=True)
class IndexStatus:
    model: str
    references: int
    index: str | None
    valid: bool
    size_bytes: int | None
    search_function: bool = False

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
        if not self.search_function:
            return "in use, but planned on every search: studio index ensure"
        return (
            f"in use; before a backfill of more than {BACKFILL_SHARE:.0%} of the gallery, "
            "drop it and build it after"
        )


def status(database: Database) -> list[IndexStatus]:
    """Every model with references, with its index (if any) and advice."""
    return [
        IndexStatus(model, refs, name, bool(valid), size, bool(search))
        for model, refs, name, valid, size, search in database.fetch_all(
            queries.GALLERY_INDEX_STATUS
        )
    ]


class BuildRefused(ValueError):
    """A build that would not give the index asked for; the message says why
    and what to do. Nothing was changed."""


# pgvector's own bounds for HNSW's storage parameters.
M_RANGE, EF_CONSTRUCTION_RANGE = (2, 100), (4, 1000)
MEMORY_MB_RANGE = (64, 2**31 // 1024)  # maintenance_work_mem's bounds, in MB


def check_build(m: int, ef_construction: int, memory_mb: int | None) -> None:
    """Raises BuildRefused naming every parameter out of pgvector's or
    PostgreSQL's bounds."""
    problems = []
    if not M_RANGE[0] <= m <= M_RANGE[1]:
        problems.append(f"m must be from {M_RANGE[0]} to {M_RANGE[1]} (got {m})")
    if not EF_CONSTRUCTION_RANGE[0] <= ef_construction <= EF_CONSTRUCTION_RANGE[1]:
        low, high = EF_CONSTRUCTION_RANGE
        problems.append(f"ef_construction must be from {low} to {high} (got {ef_construction})")
    elif ef_construction < 2 * m:
        problems.append(f"ef_construction must be at least 2 × m = {2 * m} (got {ef_construction})")
    if memory_mb is not None and not MEMORY_MB_RANGE[0] <= memory_mb <= MEMORY_MB_RANGE[1]:
        low, high = MEMORY_MB_RANGE
        problems.append(f"memory must be from {low} to {high:,} MB (got {memory_mb})")
    if problems:
        raise BuildRefused("; ".join(problems))


def build(
    database: Database,
    model: str,
    *,
    m: int = M,
    ef_construction: int = EF_CONSTRUCTION,
    memory_mb: int | None = None,
) -> str:
    """CREATE INDEX CONCURRENTLY the model's partial HNSW index and its search
    function; return the index's name. `memory_mb` (maintenance_work_mem)
    defaults to what the graph of the model's references needs
    (build_memory_mb()).

    A valid index with these parameters is kept as it is; an invalid one (an
    interrupted build) is dropped and built again; a build that fails drops
    what it left. Raises BuildRefused, changing nothing, for parameters out of
    bounds, a model without references, or a valid index built with other
    parameters (drop it first: a graph cannot be rebuilt in place)."""
    check_build(m, ef_construction, memory_mb)
    references = database.value(queries.MODEL_REFERENCES, model)
    if not references:
        known = ", ".join(s.model for s in status(database)) or "none yet"
        raise BuildRefused(
            f"model {model!r} has no reference faces to index (models with references: {known})"
        )
    name = index_name(database, model)
    state = database.fetch_one(queries.GALLERY_INDEX_STATE, model)
    if state is not None and state[0]:
        # pgvector's defaults where the index was built without them named.
        built = {"m": str(M), "ef_construction": str(EF_CONSTRUCTION)}
        built.update(option.split("=", 1) for option in state[1])
        if (built["m"], built["ef_construction"]) != (str(m), str(ef_construction)):
            raise BuildRefused(
                f"{name} exists with m {built['m']}, ef_construction "
                f"{built['ef_construction']}: to build it with m {m}, "
                f"ef_construction {ef_construction}, drop it first "
                f"(studio index drop --model {model}); recognition uses exact search meanwhile"
            )
    elif state is not None:
        drop(database, model)  # what an interrupted build left: never used, always paid for
    if memory_mb is None:
        memory_mb = build_memory_mb(references, m=m)
    with database.session() as session:
        session.execute(queries.INDEX_BUILD_MEMORY, f"{memory_mb}MB")
        try:
            session.execute_composed(
                queries.CREATE_GALLERY_INDEX,
                names={"index": name},
                values={"m": m, "ef_construction": ef_construction, "model": model},
            )
        except BaseException:
            # A failed CONCURRENTLY build leaves an invalid index behind,
            # which every write would go on maintaining. The build's own
            # error is the one to report, whatever the clean-up meets.
            with contextlib.suppress(Exception):
                session.execute_composed(queries.DROP_GALLERY_INDEX, names={"index": name})
            raise
        finally:
            session.execute(queries.INDEX_BUILD_MEMORY_RESET)
    database.value(queries.CREATE_GALLERY_SEARCH, model)
    return name


def state(database: Database, model: str) -> str | None:
    """ "valid", "invalid" (an interrupted build) or None: the model's index."""
    row = database.fetch_one(queries.GALLERY_INDEX_STATE, model)
    return None if row is None else "valid" if row[0] else "invalid"


def drop(database: Database, model: str) -> str:
    """Drop the model's index and its search function; return the index's name."""
    name = index_name(database, model)
    with database.session() as session:
        session.execute_composed(queries.DROP_GALLERY_INDEX, names={"index": name})
    database.value(queries.DROP_GALLERY_SEARCH, model)
    return name


def ensure(database: Database) -> list[str]:
    """Build the indexes the policy calls for; return their names. A valid
    index without its current search function (after an upgrade changed
    match_faces()'s statement) gets the function; an invalid one (an
    interrupted build) is built again, or dropped below the policy's size."""
    states = status(database)
    for s in states:
        if s.index is not None and s.valid and not s.search_function:
            database.value(queries.CREATE_GALLERY_SEARCH, s.model)
        if s.index is not None and not s.valid and s.references < BUILD_AT:
            drop(database, s.model)
    wanted = [
        s.model for s in states if (s.index is None or not s.valid) and s.references >= BUILD_AT
    ]
    return [build(database, model) for model in wanted]
