"""Identification speed and recall: numpy exact vs SQL exact vs HNSW, in one run.

Galleries clustered like real face galleries (10 references scattered around
each identity; random vectors have no neighbourhood structure and would
flatter or ruin an index), probes drawn near known identities. For each
gallery size:

- numpy exact (the recognizer's in-memory path): one probe, and batches of 64;
- SQL exact: match_faces() with no index, a sequential scan;
- HNSW: match_faces() through the partial index, over an ef_search sweep,
  with recall@1 against numpy exact (same top identity), and beside it its
  physical limit: match_faces()'s own statement prepared once, with a
  generic plan kept (bench/search_limit.py), probe by probe in turn;
- ingest: vectors/s through ingest_embeddings() into the gallery with and
  without the live HNSW index.

    .venv/bin/python bench/recognition_bench.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import bench_database
from report import write_section
from search_limit import SearchLimit

from app import gallery_index
from app.db import Database
from app.person_recognizer import PersonRecognizer

MODEL = "bench"
PER_IDENTITY = 10
PROBES = 200
EF_SWEEP = (20, 40, 100, 200)
PATHS = ("match", "limit", "scan")  # match_faces(), its statement alone, the index alone
# The model's HNSW index read alone, for k = 5: what match_faces()'s scan
# costs before the join with identities and the grouping.
NEAREST = (
    "SELECT embedding_id FROM embeddings "
    f"WHERE is_reference AND embedding_type = 'face' AND model = '{MODEL}' "
    "ORDER BY vector <=> %s::vector(512) LIMIT 50"
)


def clustered(identities: int, rng: np.random.Generator, per: int) -> np.ndarray:
    centres = rng.standard_normal((identities, 512)).astype(np.float32)
    # Noise 1.0: two photos of one person score about 0.5, as real faces do.
    samples = centres[:, None, :] + 1.0 * rng.standard_normal((identities, per, 512)).astype(
        np.float32
    )
    return samples.reshape(-1, 512)


def load(conn: psycopg.Connection, size: int, rng: np.random.Generator) -> np.ndarray:
    """COPY a clustered gallery of `size` references; return the identity centres' probes."""
    conn.execute("TRUNCATE identities CASCADE")
    identities = size // PER_IDENTITY
    ids = [uuid.uuid4() for _ in range(identities)]
    with conn.cursor().copy(
        "COPY identities (identity_id, name, external_id, source_system) FROM STDIN"
    ) as copy:
        for i, identity in enumerate(ids):
            copy.write_row((identity, f"Person {i}", str(i), "bench"))
    vectors = clustered(identities, rng, PER_IDENTITY + 1)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors.reshape(identities, PER_IDENTITY + 1, 512)
    with conn.cursor().copy(
        "COPY embeddings (identity_id, vector, model, is_reference) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["uuid", "vector", "varchar", "bool"])
        for i, identity in enumerate(ids):
            for vector in vectors[i, :PER_IDENTITY]:
                copy.write_row((identity, vector, MODEL, True))
    # Both tables' statistics, as autovacuum gives them after a load: without
    # those of identities, the search plan starts from identities and reads
    # every reference (13 ms at 10k, slower than the exact scan).
    conn.execute("VACUUM ANALYZE identities, embeddings")
    # The held-out 11th sample of random identities: a new photo of a known person.
    chosen = rng.choice(identities, PROBES, replace=False)
    return vectors[chosen, PER_IDENTITY]


def per_probe_ms(seconds: float, probes: int) -> float:
    return seconds / probes * 1000


def median_ms(seconds: list[float]) -> float:
    """The median of per-probe times: on a shared machine a few probes that
    waited for the CPU would move a mean, not the median."""
    return float(np.median(seconds) * 1000)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def ingest_rate(url: str, rng: np.random.Generator, count: int) -> float:
    vectors = clustered(count // 10, rng, 10) * 24
    payload = json.dumps(
        {
            "source_system": "bench_ingest",
            "model": MODEL,
            "results": [
                {
                    "external_id": f"n{i}-{uuid.uuid4().hex[:6]}",
                    "name": f"New {i}",
                    "faces": [{"embedding": v.tolist()} for v in vectors[i * 10 : i * 10 + 10]],
                }
                for i in range(count // 10)
            ],
        }
    )
    with psycopg.connect(url, autocommit=True) as conn:
        seconds, _ = timed(conn.execute, "SELECT ingest_embeddings(%s::jsonb)", (payload,))
    return count / seconds


def bench_size(url: str, size: int, rng: np.random.Generator) -> dict:
    database = Database(url)
    # The previous size's index goes before the load: COPY into a live HNSW
    # index pays for the graph row by row (minutes at 100k).
    gallery_index.drop(database, MODEL)
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        probes = load(conn, size, rng)
    recognizer = PersonRecognizer(database, MODEL, listen=False)
    recognizer.gallery()
    row: dict = {"size": size}

    exact = recognizer.match(probes, k=5, search="exact")
    truth = [m.best.identity_id for m in exact]
    seconds, _ = timed(
        lambda: [recognizer.match(p[None, :], k=5, search="exact") for p in probes[:50]]
    )
    row["numpy_single_ms"] = per_probe_ms(seconds, 50)
    seconds, _ = timed(
        lambda: [
            recognizer.match(probes[i : i + 64], k=5, search="exact") for i in range(0, 192, 64)
        ]
    )
    row["numpy_batch64_ms"] = per_probe_ms(seconds, 192)

    sql_probes = 20
    recognizer.match(probes[:1], k=5, search="ann")  # the table into shared_buffers
    timings = [timed(recognizer.match, p[None, :], k=5, search="ann") for p in probes[:sql_probes]]
    sql_exact = [m for _, [m] in timings]
    row["sql_exact_ms"] = median_ms([t for t, _ in timings])
    row["sql_exact_recall"] = np.mean(
        [m.best.identity_id == t for m, t in zip(sql_exact, truth, strict=False)]
    )
    row["ingest_no_index"] = ingest_rate(url, rng, 2000)

    seconds, _ = timed(gallery_index.build, database, MODEL)
    row["index_build_per_s"] = size / seconds
    row["hnsw"] = []
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        limit = SearchLimit(conn, MODEL)

        def nearest(probe):
            """The index scan alone: the k x 10 nearest references, nothing joined."""
            return conn.execute(NEAREST, (probe,), prepare=True).fetchall()

        # The new index into shared_buffers, and a first pass of both paths
        # for what pg_prewarm leaves out (heap rows, identities, plans).
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        conn.execute("SELECT pg_prewarm(gallery_index_name(%s))", (MODEL,))
        for probe in probes[:20]:
            recognizer.match(probe[None, :], k=5, search="ann", ef_search=EF_SWEEP[-1])
            limit(probe, 5)
        for ef in EF_SWEEP:
            conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(ef),))
            ann, spent, bare, scan = [], [], [], []
            for i, probe in enumerate(probes):
                # Each probe through the three, in turns: a later one finds
                # the pages an earlier one read in the caches, so none goes
                # first always.
                for path in PATHS[i % 3 :] + PATHS[: i % 3]:
                    if path == "match":
                        seconds, [match] = timed(
                            recognizer.match, probe[None, :], k=5, search="ann", ef_search=ef
                        )
                        ann.append(match)
                        spent.append(seconds)
                    elif path == "limit":
                        bare.append(timed(limit, probe, 5)[0])
                    else:
                        scan.append(timed(nearest, probe)[0])
            recall = float(
                np.mean([m.best.identity_id == t for m, t in zip(ann, truth, strict=True)])
            )
            row["hnsw"].append((ef, median_ms(spent), recall, median_ms(bare), median_ms(scan)))
    row["ingest_live_index"] = ingest_rate(url, rng, 1000)
    recognizer.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    # The heap and the index of the largest gallery in shared_buffers, as on
    # a server sized for its gallery (about 5.6 KB a reference, with room).
    url = bench_database(shared_buffers_mb=max(512, max(args.sizes) * 8_000 // 2**20))
    with psycopg.connect(url) as conn:
        shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    rng = np.random.default_rng(11)
    rows = []
    for size in args.sizes:
        row = bench_size(url, size, rng)
        rows.append(row)
        print(json.dumps(row, default=float), flush=True)
    if args.no_write:
        return
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores; "
        f"galleries of {PER_IDENTITY} references per identity scattered around a centre; "
        f"{PROBES} probes, each a held-out sample of a known identity; k = 5; "
        f"shared_buffers {shared_buffers}. "
        "Latencies are per probe (SQL: the median of the probes, one a query; numpy: "
        "the mean of a run).",
        "",
        "| references | numpy exact, 1 probe | numpy exact, batches of 64 | SQL exact "
        "| HNSW ef_search → ms (recall@1) | HNSW speed-up over SQL exact at ef 100 "
        "| the same statement prepared (limit) at ef 100, speed-up | match_faces() ÷ limit "
        "| the index scan alone at ef 100 (share of match_faces()) "
        "| index build /s | ingest /s without → with live index |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        sweep = ", ".join(f"{ef} → {ms:.1f} ms ({recall:.3f})" for ef, ms, recall, *_ in r["hnsw"])
        at100, limit100, scan100 = next(
            (ms, bare, scan) for ef, ms, _, bare, scan in r["hnsw"] if ef == 100
        )
        lines.append(
            f"| {r['size']:,} | {r['numpy_single_ms']:.1f} ms | {r['numpy_batch64_ms']:.2f} ms "
            f"| {r['sql_exact_ms']:.1f} ms | {sweep} | {r['sql_exact_ms'] / at100:.1f}× "
            f"| {limit100:.1f} ms, {r['sql_exact_ms'] / limit100:.1f}× | {at100 / limit100:.2f} "
            f"| {scan100:.1f} ms ({scan100 / at100:.0%}) "
            f"| {r['index_build_per_s']:,.0f} | {r['ingest_no_index']:,.0f} → "
            f"{r['ingest_live_index']:,.0f} |"
        )
    lines += [
        "",
        "Targets: HNSW recall@1 ≥ 0.99 against exact and ≥ 10× faster than exact SQL at",
        "100k; numpy exact ≤ 4 ms a probe in batches of 64 at 100k. The limit is",
        "match_faces()'s statement prepared once with its plan kept, nothing around it",
        "(bench/search_limit.py); match_faces() keeps its plan too, in the model's",
        "search function, so the ratio beside it is what the call adds. The index scan",
        "alone is the nearest 50 references through the model's HNSW index, nothing",
        "joined: most of a match_faces() call is pgvector's graph search itself. The last",
        "column is",
        "why no migration builds the index and why backfills drop it first",
        "(app/gallery_index.py): every insert into a live HNSW index pays for the graph.",
        "",
        "The search function's kept plan reads the index whatever its session's first",
        "call looked like (gallery_search_settings()). Before it did, a session that",
        "first planned at a high ef_search kept a sequential scan at 10k: 11 ms a call",
        "where the index takes 2.3 ms. The server has shared_buffers for the largest",
        "gallery's heap and index, as a production server would; on a smaller one the",
        "index is read from the OS cache and both SQL paths slow down.",
    ]
    write_section(
        "recognition",
        "Recognition: numpy exact, SQL exact and HNSW",
        "make bench  # bench/recognition_bench.py",
        lines,
    )


if __name__ == "__main__":
    main()
