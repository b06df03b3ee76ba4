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

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

BUILD_AT = 50_000
BACKFILL_SHARE = 0.10
M, EF_CONSTRUCTION = 16, 64


def index_name(model: str) -> str:
    return "embeddings_vector_hnsw_" + re.sub(r"[^a-z0-9]+", "_", model.lower())


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


def status(conn: psycopg.Connection) -> list[IndexStatus]:
    """Every model with references, with its index (if any) and advice."""
    rows = conn.execute(
        """
        SELECT m.model, m.references,
               c.relname, i.indisvalid, pg_relation_size(c.oid)
        FROM (SELECT model, count(*) AS references FROM embeddings
              WHERE is_reference AND embedding_type = 'face' GROUP BY model) AS m
        LEFT JOIN pg_class AS c ON c.relname = 'embeddings_vector_hnsw_'
                                   || regexp_replace(lower(m.model), '[^a-z0-9]+', '_', 'g')
        LEFT JOIN pg_index AS i ON i.indexrelid = c.oid
        ORDER BY m.model
        """
    ).fetchall()
    return [
        IndexStatus(model, refs, name, bool(valid), size) for model, refs, name, valid, size in rows
    ]


def build(conninfo: str, model: str, *, m: int = M, ef_construction: int = EF_CONSTRUCTION) -> str:
    """CREATE INDEX CONCURRENTLY the model's partial HNSW index; return its name."""
    name = index_name(model)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            sql.SQL(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON embeddings "
                "USING hnsw (vector vector_cosine_ops) WITH (m = {}, ef_construction = {}) "
                "WHERE is_reference AND embedding_type = 'face' AND model = {}"
            ).format(
                sql.Identifier(name),
                sql.Literal(m),
                sql.Literal(ef_construction),
                sql.Literal(model),
            )
        )
    return name


def drop(conninfo: str, model: str) -> str:
    name = index_name(model)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name)))
    return name


def ensure(conninfo: str) -> list[str]:
    """Build the indexes the policy calls for; return their names."""
    with psycopg.connect(conninfo) as conn:
        wanted = [s.model for s in status(conn) if s.index is None and s.references >= BUILD_AT]
    return [build(conninfo, model) for model in wanted]
