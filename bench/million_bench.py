"""Up to a million references: load, HNSW build, recall and latency against exact search,
vector(512) against a halfvec(512) expression index, in one run.

The gallery is face-like (bench/face_like.py: real buffalo_s embeddings of
the demo photos, augmented, moved into new identities by orthogonal maps),
PER_IDENTITY references a person, and PROBES probes, each a held-out view of a
known person. For one size:

- load: COPY of identities and references (setup, not a measurement);
- exact: numpy over every reference in memory (the ground truth, and the
  in-memory recognizer's cost at this size) and match_faces() without an
  index (a sequential scan in SQL);
- build: the model's HNSW index through app/gallery_index.build (what
  `studio index build` runs: CREATE INDEX CONCURRENTLY, m 16 and
  ef_construction 64 unless --m / --ef-construction say otherwise,
  maintenance_work_mem sized to the graph), its time and size, and whether
  the graph fitted in memory; then the same index over
  `vector::halfvec(512)`, built the same way;
- search, at each ef_search: match_faces() (recall@1: the same top identity
  as exact search) and, probe by probe in turn with it, its own statement
  prepared once with its plan kept (bench/search_limit.py: the physical
  limit of the SQL path, no PL/pgSQL around it); then the bare nearest-10
  scan of each index (the halfvec one with the cast), recall@1 and
  recall@10 over references.

Every step is written to .bench-cache/million-N[-mM-efcE].json as it ends;
--reuse
measures the search again on the gallery and indexes a finished run left
(the load and the builds are the long part). The database server is the
embedded one in .bench-cache/million-pg (its shared_buffers sized to hold
both indexes, as a production server should be) or STUDIO_BENCH_DATABASE_URL.

    .venv/bin/python bench/million_bench.py                        # 100,000: a few minutes
    .venv/bin/python bench/million_bench.py --references 1000000   # tens of minutes on 2 cores
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
from face_like import Synthesizer, real_cloud
from ingest_bench import sized_server
from report import write_section
from search_limit import SearchLimit

from app import gallery_index, migrations
from app.config import PROJECT_ROOT
from app.db import Database

CACHE = PROJECT_ROOT / ".bench-cache"
FITTED = {True: "yes", False: "no", None: "not built"}
MODEL = "faces"
SOURCE = "bench"
PER_IDENTITY = 10
PROBES = 200
EF_SWEEP = (20, 40, 100, 200, 400)
K = 5
CHUNK = 5_000  # identities generated and copied at a time

# The references nearest a probe through each index (recall@10 over references).
NEAREST = {
    "vector": """
        SELECT embedding_id FROM embeddings
        WHERE is_reference AND embedding_type = 'face' AND model = 'faces'
        ORDER BY vector <=> %(probe)s::vector(512) LIMIT 10""",
    "halfvec": """
        SELECT embedding_id FROM embeddings
        WHERE is_reference AND embedding_type = 'face' AND model = 'faces'
        ORDER BY vector::halfvec(512) <=> %(probe)s::vector(512)::halfvec(512) LIMIT 10""",
}
HALFVEC_INDEX = "embeddings_halfvec_hnsw_faces"
CREATE_HALFVEC = f"""
CREATE INDEX CONCURRENTLY {HALFVEC_INDEX} ON embeddings
USING hnsw ((vector::halfvec(512)) halfvec_cosine_ops) WITH (m = %s, ef_construction = %s)
WHERE is_reference AND embedding_type = 'face' AND model = 'faces'
"""


def log(message: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {message}", flush=True)


class Run:
    """The results of one size, saved after every step."""

    def __init__(self, references: int, m: int, ef_construction: int, fresh: bool):
        self.key = f"{references}" + (
            f"-m{m}-efc{ef_construction}"
            if (m, ef_construction) != (gallery_index.M, gallery_index.EF_CONSTRUCTION)
            else ""
        )
        self.path = CACHE / f"million-{self.key}.json"
        self.data: dict = (
            {} if fresh or not self.path.exists() else json.loads(self.path.read_text())
        )
        self.data.setdefault("references", references)
        self.data.update(m=m, ef_construction=ef_construction)

    def __getitem__(self, key: str):
        return self.data[key]

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def save(self, **values) -> None:
        self.data.update(values)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1, default=float))


def database(server_url: str, key: str, fresh: bool) -> str:
    """The URL of this run's database (made anew unless reused), migrated."""
    name = "studio_scale_" + key.replace("-", "_")
    with psycopg.connect(server_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        elif not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            raise SystemExit(f"--reuse: no database {name} on this server; run without it")
    url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
    with Database(url) as db:
        migrations.migrate(db)
    return url


def load(url: str, references: int, run: Run) -> None:
    """COPY the gallery; keep the probes and the exact answers (numpy, in memory)."""
    from worker.face_engine import load_engine

    started = time.perf_counter()
    engine = load_engine("buffalo_s", CACHE / "models")
    cloud = real_cloud(engine, CACHE / "face_cloud.npz")
    synth = Synthesizer(cloud)
    log(f"real cloud: {len(cloud.vectors)} views of {len(cloud.people)} people")
    identities = references // PER_IDENTITY
    rng = np.random.default_rng(23)
    chosen = np.sort(rng.choice(identities, PROBES, replace=False))
    gallery = np.empty((identities * PER_IDENTITY, 512), dtype=np.float32)
    probes = np.empty((PROBES, 512), dtype=np.float32)
    copy_s = 0.0
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        # Bulk setup, not a measurement: no per-row triggers (the gallery
        # notifications) for rows nobody listens to yet.
        conn.execute("SET session_replication_role = replica")
        for first in range(0, identities, CHUNK):
            count = min(CHUNK, identities - first)
            refs, held_out = synth.identities(first, count, PER_IDENTITY, rng)
            gallery[first * PER_IDENTITY : (first + count) * PER_IDENTITY] = refs.reshape(-1, 512)
            inside = (chosen >= first) & (chosen < first + count)
            probes[inside] = held_out[chosen[inside] - first]
            t = time.perf_counter()
            with conn.transaction():
                with conn.cursor().copy(
                    "COPY identities (identity_id, name, external_id, source_system) FROM STDIN"
                ) as copy:
                    for j in range(first, first + count):
                        copy.write_row((uuid.UUID(int=j + 1), f"Person {j}", str(j), SOURCE))
                with conn.cursor().copy(
                    "COPY embeddings (embedding_id, identity_id, vector, model, is_reference) "
                    "FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["uuid", "uuid", "vector", "varchar", "bool"])
                    for j in range(count):
                        for r in range(PER_IDENTITY):
                            row = (first + j) * PER_IDENTITY + r
                            copy.write_row(
                                (
                                    uuid.UUID(int=row + 1),
                                    uuid.UUID(int=first + j + 1),
                                    refs[j, r],
                                    MODEL,
                                    True,
                                )
                            )
            copy_s += time.perf_counter() - t
            if (first // CHUNK) % 20 == 0:
                log(f"loaded {(first + count) * PER_IDENTITY:,} references")
        conn.execute("VACUUM ANALYZE identities")
        conn.execute("VACUUM ANALYZE embeddings")
        table = conn.execute("SELECT pg_table_size('embeddings')").fetchone()[0]
    log("exact answers (numpy)")
    exact = exact_top(gallery, probes)
    single = timed_each(lambda p: np.argmax(gallery @ p), probes[:20])
    batch_t = time.perf_counter()
    for i in range(0, 192, 64):
        np.argmax(probes[i : i + 64] @ gallery.T, axis=1)
    batch = (time.perf_counter() - batch_t) / 192 * 1000
    np.savez(CACHE / f"million-{references}.npz", probes=probes, exact=exact, chosen=chosen)
    same_person = float(np.mean(exact[:, 0] // PER_IDENTITY == chosen))
    run.save(
        real_views=len(cloud.vectors),
        real_people=len(synth.people),
        loaded=True,
        load_s=time.perf_counter() - started,
        copy_s=copy_s,
        table_bytes=table,
        numpy_single_ms=single,
        numpy_batch64_ms=batch,
        exact_same_person=same_person,
    )


def exact_top(gallery: np.ndarray, probes: np.ndarray, top: int = 10) -> np.ndarray:
    """The `top` nearest references of each probe (row numbers), best first."""
    best_i = np.zeros((len(probes), 0), dtype=np.int64)
    best_s = np.zeros((len(probes), 0), dtype=np.float32)
    for start in range(0, len(gallery), 200_000):
        scores = probes @ gallery[start : start + 200_000].T
        part = np.argpartition(-scores, top, axis=1)[:, :top]
        best_i = np.concatenate([best_i, part + start], axis=1)
        best_s = np.concatenate([best_s, np.take_along_axis(scores, part, axis=1)], axis=1)
        keep = np.argsort(-best_s, axis=1)[:, :top]
        best_i = np.take_along_axis(best_i, keep, axis=1)
        best_s = np.take_along_axis(best_s, keep, axis=1)
    return best_i


def timed_each(fn, items) -> float:
    """Milliseconds per item, the median of single calls."""
    times = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def identity_row(identity_id) -> int:
    """The identity number an identity_id was made from (uuid int - 1)."""
    return uuid.UUID(str(identity_id)).int - 1


def exact_sql(url: str, run: Run, probes: np.ndarray, exact: np.ndarray, count: int) -> None:
    db = Database(url)
    gallery_index.drop(db, MODEL)
    db.close()
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        # The first call warms the caches; the rest are timed.
        rows = []

        def one(p):
            rows.append(
                conn.execute(
                    "SELECT * FROM match_faces(%s::vector, %s, %s)", (p, MODEL, K)
                ).fetchall()
            )

        one(probes[0])
        rows.clear()
        ms = timed_each(one, probes[:count])
    right = np.mean(
        [
            identity_row(r[0][0]) == e // PER_IDENTITY
            for r, e in zip(rows, exact[:count, 0], strict=True)
        ]
    )
    run.save(sql_exact_ms=ms, sql_exact_probes=count, sql_exact_recall=float(right))


def build_vector(url: str, run: Run) -> None:
    db = Database(url)
    references = run["references"]
    m, ef_construction = run["m"], run["ef_construction"]
    memory_mb = gallery_index.build_memory_mb(references, m=m)
    with db.session() as session:
        # pgvector says when the graph outgrows maintenance_work_mem (the
        # build goes on, much slower): listen on the connection the build uses.
        notices: list[str] = []
        session._conn.add_notice_handler(lambda n: notices.append(n.message_primary or ""))
        workers = session.value("SHOW max_parallel_maintenance_workers")
    started = time.perf_counter()
    gallery_index.build(db, MODEL, m=m, ef_construction=ef_construction)
    seconds = time.perf_counter() - started
    size = db.value("SELECT pg_relation_size(gallery_index_name(%s))", MODEL)
    db.close()
    run.save(
        vector_build_s=seconds,
        vector_index_bytes=size,
        vector_memory_mb=memory_mb,
        vector_fitted=not any("no longer fits" in n for n in notices),
        vector_load=os.getloadavg()[1],
        parallel_workers=int(workers),
    )


def build_halfvec(url: str, run: Run) -> None:
    memory_mb = gallery_index.build_memory_mb(run["references"], bytes_per_dimension=2, m=run["m"])
    notices: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.add_notice_handler(lambda n: notices.append(n.message_primary or ""))
        conn.execute(f"DROP INDEX IF EXISTS {HALFVEC_INDEX}")
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (f"{memory_mb}MB",))
        started = time.perf_counter()
        conn.execute(CREATE_HALFVEC % (run["m"], run["ef_construction"]))
        seconds = time.perf_counter() - started
        size = conn.execute(f"SELECT pg_relation_size('{HALFVEC_INDEX}')").fetchone()[0]
    run.save(
        halfvec_build_s=seconds,
        halfvec_index_bytes=size,
        halfvec_memory_mb=memory_mb,
        halfvec_fitted=not any("no longer fits" in n for n in notices),
        halfvec_load=os.getloadavg()[1],
    )


def search(url: str, run: Run, probes: np.ndarray, exact: np.ndarray) -> None:
    """The ef_search sweep, after a warm-up pass over a few probes."""
    kinds = ["vector"] + (["halfvec"] if "halfvec_build_s" in run else [])
    truth = exact[:, 0] // PER_IDENTITY
    top10 = [set(row) for row in exact]
    with Database(url) as db:
        gallery_index.ensure(db)  # the search function, if the index predates it
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        # Both indexes in shared_buffers, as on a server sized for them.
        conn.execute("SELECT pg_prewarm(gallery_index_name(%s))", (MODEL,))
        if "halfvec" in kinds:
            conn.execute("SELECT pg_prewarm(%s)", (HALFVEC_INDEX,))
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        # A first pass over some probes warms what pg_prewarm does not (the
        # heap rows, the identities); the sweep after it is the measurement.
        for ef in EF_SWEEP:
            sweep_one(conn, ef, probes[:20], truth[:20], top10[:20], kinds, quiet=True)
        sweep = [sweep_one(conn, ef, probes, truth, top10, kinds) for ef in EF_SWEEP]
    run.save(sweep=sweep, searched_at=f"{datetime.now(UTC):%Y-%m-%d}")


def sweep_one(conn, ef: int, probes, truth, top10, kinds, quiet: bool = False) -> dict:
    """One ef_search: each probe through match_faces() and its limit in turn
    (load on a shared machine then weighs on both alike), then through the
    bare nearest-10 scan of each index."""
    conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(ef),))
    limit = SearchLimit(conn, MODEL)
    row: dict = {"ef_search": ef}
    answers, match_ms, limit_ms = [], [], []
    for p in probes:
        t = time.perf_counter()
        answers.append(
            conn.execute(
                "SELECT * FROM match_faces(%s::vector, %s, %s, %s)", (p, MODEL, K, ef)
            ).fetchall()
        )
        match_ms.append(time.perf_counter() - t)
        t = time.perf_counter()
        limit(p, K)
        limit_ms.append(time.perf_counter() - t)
    row["match_faces_ms"] = float(np.median(match_ms) * 1000)
    row["prepared_ms"] = float(np.median(limit_ms) * 1000)
    row["recall1"] = float(
        np.mean([identity_row(a[0][0]) == t for a, t in zip(answers, truth, strict=True)])
    )
    found: dict[str, list] = {kind: [] for kind in kinds}
    spent: dict[str, list] = {kind: [] for kind in kinds}
    for p in probes:
        for kind in kinds:
            query = NEAREST[kind]
            t = time.perf_counter()
            found[kind].append(conn.execute(query, {"probe": p}, prepare=True).fetchall())
            spent[kind].append(time.perf_counter() - t)
    for kind in kinds:
        rows = [[uuid.UUID(str(r[0])).int - 1 for r in f] for f in found[kind]]
        row[f"{kind}_nearest_ms"] = float(np.median(spent[kind]) * 1000)
        row[f"{kind}_recall1"] = float(
            np.mean(
                [bool(r) and r[0] // PER_IDENTITY == t for r, t in zip(rows, truth, strict=True)]
            )
        )
        row[f"{kind}_recall10"] = float(
            np.mean([len(set(r) & t) / 10 for r, t in zip(rows, top10, strict=True)])
        )
    if not quiet:
        log(json.dumps(row))
    return row


def shared_buffers_mb(references: int) -> int:
    """Enough to hold both indexes and the identities, with room to spare."""
    both = gallery_index.graph_bytes(references) + gallery_index.graph_bytes(
        references, bytes_per_dimension=2
    )
    return max(512, int(both * 1.3 / 2**20))


def report(run: Run) -> list[str]:
    n = run["references"]
    if "halfvec_build_s" not in run:  # --no-halfvec
        run.data.update(
            {f"halfvec_{k}": float("nan") for k in ("index_bytes", "build_s", "memory_mb", "load")}
            | {"halfvec_fitted": None}
        )
        for r in run["sweep"]:
            r.update({f"halfvec_{k}": float("nan") for k in ("nearest_ms", "recall1", "recall10")})
    sweep = run["sweep"]
    at100 = next(r for r in sweep if r["ef_search"] == 100)
    lines = [
        f"Measured {run['searched_at']} on {platform.machine()}, {os.cpu_count()} cores, "
        f"PostgreSQL {run['server_version']}, pgvector {run['pgvector']}; "
        f"{n:,} references of {n // PER_IDENTITY:,} face-like identities "
        f"(bench/face_like.py: {run['real_views']} augmented views of {run['real_people']} "
        "real people, moved to new identities by orthogonal maps), "
        f"{PROBES} probes (a held-out view of a known person), k = {K}; "
        f"shared_buffers {run['shared_buffers']} (both indexes held), "
        f"m {run['m']}, ef_construction {run['ef_construction']}, "
        f"max_parallel_maintenance_workers {run['parallel_workers']}"
        + (
            f" (load average as each build ended: {run['vector_load']:.1f}, "
            f"{run['halfvec_load']:.1f}, on {os.cpu_count()} cores shared with other work)"
            if "vector_load" in run
            else ""
        )
        + ". "
        "Latencies are the median per probe, one probe a query.",
        "",
        "| | vector(512) | halfvec(512) expression index |",
        "|---|---:|---:|",
        f"| table (heap) | {run['table_bytes'] / 2**30:.2f} GiB | same table |",
        f"| index size | {run['vector_index_bytes'] / 2**30:.2f} GiB "
        f"| {run['halfvec_index_bytes'] / 2**30:.2f} GiB |",
        f"| build (CONCURRENTLY) | {run['vector_build_s'] / 60:.1f} min "
        f"({n / run['vector_build_s']:,.0f} vectors/s) "
        f"| {run['halfvec_build_s'] / 60:.1f} min ({n / run['halfvec_build_s']:,.0f} vectors/s) |",
        f"| maintenance_work_mem (graph fitted) | {run['vector_memory_mb']:,} MB "
        f"({'yes' if run['vector_fitted'] else 'no'}) "
        f"| {run['halfvec_memory_mb']:,} MB ({FITTED[run['halfvec_fitted']]}) |",
        "",
        f"Exact search at this size: numpy over every reference in memory "
        f"{run['numpy_single_ms']:.1f} ms a probe ({run['numpy_batch64_ms']:.2f} ms in batches "
        f"of 64); match_faces() without an index (a sequential scan) "
        f"{run['sql_exact_ms']:.0f} ms a probe (median of {run['sql_exact_probes']}). "
        f"The exact top identity is the probe's own person for "
        f"{run['exact_same_person']:.1%} of the probes.",
        "",
        "| ef_search | match_faces() | prepared statement (limit) | match_faces() ÷ limit "
        "| recall@1 | vector: ms, recall@1, recall@10 | halfvec: ms, recall@1, recall@10 "
        "| exact SQL ÷ match_faces() |",
        "|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in sweep:
        lines.append(
            f"| {r['ef_search']} | {r['match_faces_ms']:.2f} ms | {r['prepared_ms']:.2f} ms "
            f"| {r['match_faces_ms'] / r['prepared_ms']:.2f} | {r['recall1']:.3f} "
            f"| {r['vector_nearest_ms']:.2f} ms, {r['vector_recall1']:.3f}, "
            f"{r['vector_recall10']:.3f} "
            f"| {r['halfvec_nearest_ms']:.2f} ms, {r['halfvec_recall1']:.3f}, "
            f"{r['halfvec_recall10']:.3f} "
            f"| {run['sql_exact_ms'] / r['match_faces_ms']:.0f}× |"
        )
    lines += [
        "",
        "At ef_search 100 match_faces() answers "
        f"{run['sql_exact_ms'] / at100['match_faces_ms']:.0f}× "
        "faster than the exact scan, at "
        f"{at100['match_faces_ms'] / at100['prepared_ms']:.2f}× the cost of its own statement "
        "prepared with the model written in. recall@1: the same top identity as exact "
        "search; recall@10: the share of the exact 10 nearest references found. The vector and "
        "halfvec columns are the bare nearest-10 scan of each index.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=gallery_index.M, help="HNSW links a node")
    parser.add_argument(
        "--ef-construction",
        type=int,
        default=gallery_index.EF_CONSTRUCTION,
        help="HNSW candidate list while building",
    )
    parser.add_argument("--exact-probes", type=int, default=None, help="default: 20, 5 from 1M")
    parser.add_argument(
        "--reuse", action="store_true", help="measure again on what the last run of this size left"
    )
    parser.add_argument(
        "--no-halfvec", action="store_true", help="build and search no halfvec index"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    n = args.references - args.references % PER_IDENTITY
    run = Run(n, args.m, args.ef_construction, fresh=not args.reuse)
    server_url = sized_server(CACHE / "million-pg", shared_buffers_mb(n), keep_running=True)
    url = database(server_url, run.key, fresh=not (args.reuse and run.data.get("loaded")))
    with psycopg.connect(url, autocommit=True) as conn:
        run.save(
            server_version=conn.execute("SHOW server_version").fetchone()[0].split()[0],
            pgvector=conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()[0],
            shared_buffers=conn.execute("SHOW shared_buffers").fetchone()[0],
        )
    if not run.data.get("loaded"):
        log(f"loading {n:,} references")
        load(url, n, run)
    saved = np.load(CACHE / f"million-{n}.npz")
    probes, exact = saved["probes"], saved["exact"]
    if "sql_exact_ms" not in run:
        log("exact SQL")
        exact_sql(url, run, probes, exact, args.exact_probes or (5 if n >= 1_000_000 else 20))
    if "vector_build_s" not in run:
        log(f"building the vector index ({gallery_index.build_memory_mb(n, m=args.m):,} MB)")
        build_vector(url, run)
        log(f"built in {run['vector_build_s']:.0f} s")
    if "halfvec_build_s" not in run and not args.no_halfvec:
        log("building the halfvec index")
        build_halfvec(url, run)
        log(f"built in {run['halfvec_build_s']:.0f} s")
    log("searching")
    search(url, run, probes, exact)
    lines = report(run)
    print("\n".join(lines))
    if not args.no_write:
        params = (
            "" if run.key == str(n) else f" --m {args.m} --ef-construction {args.ef_construction}"
        )
        write_section(
            f"scale-{run.key}",
            f"{n:,} references, m {args.m}, ef_construction {args.ef_construction}: "
            "HNSW build, recall and latency, vector against halfvec",
            f"python bench/million_bench.py --references {n}{params}",
            lines,
        )


if __name__ == "__main__":
    main()
