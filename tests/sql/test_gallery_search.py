"""match_faces() runs its statement in the model's search function, planned once
per session, with exactly the answers of the statement planned per call; and
an index build is given the memory its graph needs."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgvector.psycopg import register_vector

from app import gallery_index, queries
from app.db import Database

# Models whose names fold to one index name, and one that tries to break out
# of a quoted literal: each must get its own search function and see only
# its own vectors.
MODELS = ("buffalo_l", "Buffalo-L", "buffalo l", "x'); DROP TABLE identities; --")
NAMES = (None, "Ann", "Bo", "Unknown", "Unknown 3", "unknown x")
SOURCES = (None, "alfred_catalog", "other_catalog")
ALLOWED = (None, [], ["alfred_catalog"], ["other_catalog"], ["alfred_catalog", "other_catalog"])

PERSON = st.tuples(
    st.sampled_from(NAMES),
    st.sampled_from(SOURCES),
    st.lists(st.sampled_from(MODELS), max_size=5),  # one reference face per entry
)


@pytest.fixture
def database(db_url):
    with Database(db_url) as opened:
        yield opened


def _search_functions(conn) -> dict[str, str]:
    """Every search function there is: name -> its comment."""
    return dict(
        conn.execute(
            "SELECT proname, obj_description(oid, 'pg_proc') FROM pg_proc "
            "WHERE proname LIKE 'gallery\\_search\\_%' AND obj_description(oid, 'pg_proc') "
            "LIKE 'match\\_faces() search of model %'"
        ).fetchall()
    )


def _load(conn, people, rng) -> dict[str, list[tuple]]:
    """Insert the people; per model, the gallery's rows (identity, name,
    source, external_id, vector) a search may answer with."""
    conn.execute("TRUNCATE identities CASCADE")
    gallery: dict[str, list[tuple]] = {m: [] for m in MODELS}
    gallery |= {m: [] for _, _, models in people for m in models if m not in gallery}
    for number, (name, source, models) in enumerate(people):
        external_id = f"p{number}" if source else None
        identity = str(
            conn.execute(
                "INSERT INTO identities (name, external_id, source_system) VALUES (%s, %s, %s) "
                "RETURNING identity_id",
                (name, external_id, source),
            ).fetchone()[0]
        )
        for model in models:
            vector = rng.normal(size=512).astype(np.float32)
            vector /= np.linalg.norm(vector)
            conn.execute(
                "INSERT INTO embeddings (identity_id, vector, model, is_reference) "
                "VALUES (%s, %s, %s, true)",
                (identity, vector, model),
            )
            if name is not None and not name.startswith("Unknown"):
                gallery[model].append((identity, name, source, external_id, vector))
    return gallery


def _expected(rows: list[tuple], probe: np.ndarray, k: int, allowed) -> list[tuple]:
    """Exact search in numpy: the best reference per identity, top k."""
    best: dict[str, tuple] = {}
    for identity, name, source, external_id, vector in rows:
        if allowed is not None and source not in allowed:
            continue
        score = float(vector @ probe)
        if identity not in best or score > best[identity][4]:
            best[identity] = (identity, external_id, source, name, score)
    return sorted(best.values(), key=lambda r: -r[4])[:k]


def _search(conn, probe, model, k, ef_search, allowed) -> list[tuple]:
    rows = conn.execute(queries.MATCH_FACES, (probe, model, k, ef_search, allowed)).fetchall()
    return [(str(r[0]), r[1], r[2], r[3], float(r[4])) for r in rows]


def _same(found: list[tuple], expected: list[tuple]) -> bool:
    return [r[:4] for r in found] == [r[:4] for r in expected] and all(
        abs(f[4] - e[4]) < 1e-5 for f, e in zip(found, expected, strict=True)
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=st.lists(PERSON, max_size=10),
    searches=st.lists(
        st.tuples(st.sampled_from(MODELS), st.integers(1, 12), st.sampled_from(ALLOWED)),
        min_size=1,
        max_size=4,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_search_function_answers_exactly_as_the_statement_planned_per_call(
    conn, db_url, people, searches, seed
):
    register_vector(conn)
    for model in MODELS:
        conn.execute(queries.DROP_GALLERY_SEARCH, (model,))
    rng = np.random.default_rng(seed)
    gallery = _load(conn, people, rng)
    probes = [rng.normal(size=512).astype(np.float32) for _ in searches]
    expected = [
        _expected(gallery[model], probe / np.linalg.norm(probe), k, allowed)
        for (model, k, allowed), probe in zip(searches, probes, strict=True)
    ]

    def answers() -> list[list[tuple]]:
        return [
            _search(conn, probe, model, k, 100, allowed)
            for (model, k, allowed), probe in zip(searches, probes, strict=True)
        ]

    # Without an index both ways are exact: numpy's answers, to the identity
    # and the order, whatever the model's name holds.
    planned_per_call = answers()
    assert all(_same(f, e) for f, e in zip(planned_per_call, expected, strict=True))
    names = {
        model: conn.execute(queries.CREATE_GALLERY_SEARCH, (model,)).fetchone()[0]
        for model in MODELS
    }
    assert len(set(names.values())) == len(MODELS)  # names that fold alike stay apart
    assert _search_functions(conn) == {
        names[m]: f"match_faces() search of model {m}" for m in MODELS
    }
    for _ in range(2):  # the first call plans, the second runs the plan kept
        assert all(_same(f, e) for f, e in zip(answers(), expected, strict=True))
    assert conn.execute("SELECT to_regclass('identities')").fetchone()[0] == "identities"

    # With an HNSW index on one model: the plan kept and the plan made per
    # call walk the same graph and give the same answers, filters inside.
    indexed = searches[0][0]
    if not gallery[indexed] and not any(indexed in models for _, _, models in people):
        return  # no reference faces to index: `studio index build` refuses the model
    database = Database(db_url)
    try:
        gallery_index.build(database, indexed)
        assert {s.model: s.search_function for s in gallery_index.status(database)}.get(
            indexed, True
        )
        kept = answers()
        conn.execute(queries.DROP_GALLERY_SEARCH, (indexed,))
        assert [n for n in _search_functions(conn) if n == names[indexed]] == []
        assert answers() == kept
        gallery_index.drop(database, indexed)
    finally:
        database.close()
    for found, (model, k, allowed) in zip(kept, searches, strict=True):
        assert len(found) <= k
        assert [r[4] for r in found] == sorted((r[4] for r in found), reverse=True)
        assert len({r[0] for r in found}) == len(found)
        members = {r[0] for r in gallery[model]}
        for identity, _external_id, source, name, _ in found:
            assert identity in members and name is not None and not name.startswith("Unknown")
            assert allowed is None or source in allowed


def _nested_plans(conn, statement: str, params: tuple) -> str:
    """The plans of the statements a call runs inside, as auto_explain reports them."""
    notices: list[str] = []

    def keep(notice) -> None:
        notices.append(notice.message_primary or "")

    conn.add_notice_handler(keep)
    conn.execute("LOAD 'auto_explain'")
    conn.execute("SET auto_explain.log_min_duration = 0")
    conn.execute("SET auto_explain.log_nested_statements = on")
    conn.execute("SET auto_explain.log_level = notice")
    try:
        conn.execute(statement, params).fetchall()
    finally:
        conn.execute("RESET auto_explain.log_min_duration")
        conn.remove_notice_handler(keep)
    return "\n".join(notices)


def test_the_kept_plan_is_generic_and_uses_the_models_index(conn, db_url):
    register_vector(conn)
    rng = np.random.default_rng(3)
    _load(conn, [("Ann", "alfred_catalog", ["buffalo_s"] * 3), ("Bo", None, ["buffalo_s"])], rng)
    probe = rng.normal(size=512).astype(np.float32)
    call = "SELECT * FROM match_faces(%s, 'buffalo_s', 5, 40, %s)"
    with Database(db_url) as database:
        index = gallery_index.build(database, "buffalo_s")
        # 4 rows, and a first call at the highest ef_search: a sequential scan
        # costs far less to the planner, and the session keeps the plan it
        # makes first. The search function reads the index all the same.
        call = "SELECT * FROM match_faces(%s, 'buffalo_s', 5, 1000, %s)"
        plans = _nested_plans(conn, call, (probe, ["alfred_catalog"]))
        # A generic plan: the sources are still the parameter $4 in its
        # filter, not the literal of this call; the model's partial index
        # serves it.
        filters = [line for line in plans.splitlines() if "Filter:" in line]
        assert any("$4 IS NULL" in f for f in filters), plans
        assert not any("alfred_catalog" in f for f in filters), plans
        assert f"Index Scan using {index}" in plans
        assert gallery_index.status(database)[0].search_function

        # A function left by another version of the query is never run: its
        # name is not the current one. create replaces it, drop removes all.
        conn.execute(
            "ALTER FUNCTION "
            + gallery_index.search_name(database, "buffalo_s")
            + "(vector, integer, integer, text[]) RENAME TO gallery_search_buffalo_s_0000000000"
        )
        [status] = gallery_index.status(database)
        assert not status.search_function and "studio index ensure" in status.advice
        assert _search(conn, probe, "buffalo_s", 5, 40, None)  # planned per call meanwhile
        assert gallery_index.ensure(database) == []
        assert gallery_index.status(database)[0].search_function
        assert len(_search_functions(conn)) == 1  # the old version went
        gallery_index.drop(database, "buffalo_s")
        assert _search_functions(conn) == {}
        assert index not in _nested_plans(conn, call, (probe, None))


@pytest.mark.parametrize(("bytes_per_dimension", "opclass"), [(4, "vector"), (2, "halfvec")])
def test_graph_bytes_is_what_pgvector_holds_while_it_builds(conn, bytes_per_dimension, opclass):
    """With maintenance_work_mem at LIMIT, a graph that graph_bytes() puts at a
    tenth under it fits and one a tenth over it does not (pgvector says so).
    LIMIT is a power of two: PostgreSQL counts a build's memory in blocks whose
    sizes double, so the count jumps, and a power of two is where one ends."""
    limit = 4 * 2**20
    per_vector = gallery_index.graph_bytes(1, bytes_per_dimension=bytes_per_dimension)
    under, over = int(0.9 * limit / per_vector), int(1.1 * limit / per_vector) + 1
    # Stored inline, as embeddings.vector is: a TOASTed vector costs the
    # build more memory.
    conn.execute("CREATE TABLE sizing (id integer, v vector(512) STORAGE PLAIN)")
    conn.execute(
        "INSERT INTO sizing SELECT i / 512 + 1, l2_normalize(array_agg(random() - 0.5)::vector) "
        "FROM generate_series(0, %s * 512 - 1) AS i GROUP BY i / 512",
        (over,),
    )
    expression = "v" if opclass == "vector" else "(v::halfvec(512))"
    notices: list[str] = []
    conn.add_notice_handler(lambda n: notices.append(n.message_primary or ""))
    conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (f"{limit // 1024}kB",))
    outgrew = {}
    for count in (under, over):
        notices.clear()
        conn.execute(
            f"CREATE INDEX sizing_hnsw ON sizing USING hnsw ({expression} {opclass}_cosine_ops) "
            f"WHERE id <= {count}"
        )
        conn.execute("DROP INDEX sizing_hnsw")
        outgrew[count] = any("no longer fits" in n for n in notices)
    assert outgrew == {under: False, over: True}


def test_build_memory_holds_the_graph_and_never_less_than_a_gigabyte():
    for references in (0, 10, 50_000, 377_777, 1_000_000, 10_000_000):
        for bytes_per_dimension in (2, 4):
            memory = gallery_index.build_memory_mb(
                references, bytes_per_dimension=bytes_per_dimension
            )
            graph = gallery_index.graph_bytes(references, bytes_per_dimension=bytes_per_dimension)
            assert memory >= gallery_index.MIN_BUILD_MEMORY_MB
            assert memory * 2**20 >= 1.1 * graph
            assert (
                memory == gallery_index.MIN_BUILD_MEMORY_MB or memory * 2**20 < 1.1 * graph + 2**20
            )


ZERO, SHORT = "[" + ",".join(["0"] * 512) + "]", "[1,2,3]"


@pytest.mark.parametrize(
    ("probe", "model", "k", "ef_search", "refused"),
    [
        (None, "buffalo_s", 5, 100, {("probe", "required")}),
        (ZERO, "buffalo_s", 5, 100, {("probe", "zero_vector")}),
        (SHORT, "buffalo_s", 5, 100, {("probe", "invalid_value")}),
        ("ok", None, 5, 100, {("model", "required")}),
        ("ok", "buffalo_s", None, 100, {("k", "out_of_range")}),
        ("ok", "buffalo_s", 0, 100, {("k", "out_of_range")}),
        ("ok", "buffalo_s", 101, 100, {("k", "out_of_range")}),
        ("ok", "buffalo_s", 5, None, {("ef_search", "out_of_range")}),
        ("ok", "buffalo_s", 5, 1001, {("ef_search", "out_of_range")}),
        (
            ZERO,
            None,
            0,
            0,
            {
                ("probe", "zero_vector"),
                ("model", "required"),
                ("k", "out_of_range"),
                ("ef_search", "out_of_range"),
            },
        ),
    ],
)
def test_match_faces_refuses_what_the_api_refuses_naming_each_field(
    conn, probe, model, k, ef_search, refused
):
    import json

    import psycopg

    if probe == "ok":
        probe = "[" + ",".join(["0.1"] * 512) + "]"
    with pytest.raises(psycopg.errors.InvalidParameterValue) as caught:
        conn.execute(
            "SELECT * FROM match_faces(%s::vector, %s, %s, %s)", (probe, model, k, ef_search)
        )
    errors = json.loads(caught.value.diag.message_detail)
    assert {(e["field"], e["code"]) for e in errors} == refused


def test_match_faces_searches_at_unit_length_and_gives_the_settings_back(conn, db_url):
    register_vector(conn)
    rng = np.random.default_rng(5)
    _load(conn, [("Ann", None, ["buffalo_s"] * 2), ("Bo", None, ["buffalo_s"])], rng)
    probe = rng.normal(size=512).astype(np.float32)
    probe /= np.linalg.norm(probe)
    unit = _search(conn, probe, "buffalo_s", 5, 100, None)
    # 1e38 a number: its norm overflows float4 but not the search.
    huge = probe / np.abs(probe).max() * np.float32(3e38)
    assert _same(_search(conn, huge, "buffalo_s", 5, 100, None), unit)
    with Database(db_url) as database:
        gallery_index.build(database, "buffalo_s")
    conn.execute("BEGIN")
    conn.execute("SET LOCAL hnsw.ef_search = 7")
    assert _same(_search(conn, probe, "buffalo_s", 5, 300, None), unit)
    assert conn.execute("SHOW hnsw.ef_search").fetchone()[0] == "7"
    assert conn.execute("SHOW hnsw.iterative_scan").fetchone()[0] == "off"
    conn.execute("ROLLBACK")


def test_one_person_with_many_references_does_not_crowd_out_the_others(conn, db_url):
    """60 references of one person nearer the probe than anyone else's fill
    the first k x 10 of the scan; the others must still be found, exactly as
    numpy finds them, with and without the index."""
    register_vector(conn)
    rng = np.random.default_rng(8)
    centre = rng.normal(size=512).astype(np.float32)
    centre /= np.linalg.norm(centre)

    def near(spread: float) -> np.ndarray:
        v = centre + spread * rng.normal(size=512).astype(np.float32) / np.sqrt(512)
        return v / np.linalg.norm(v)

    conn.execute("TRUNCATE identities CASCADE")
    rows = []
    for name, references, spread in [("Many", 60, 0.3), ("Bo", 1, 0.9), ("Cy", 1, 1.0)]:
        identity = str(
            conn.execute(
                "INSERT INTO identities (name) VALUES (%s) RETURNING identity_id", (name,)
            ).fetchone()[0]
        )
        for _ in range(references):
            vector = near(spread)
            conn.execute(
                "INSERT INTO embeddings (identity_id, vector, model, is_reference) "
                "VALUES (%s, %s, 'buffalo_s', true)",
                (identity, vector),
            )
            rows.append((identity, name, None, None, vector))
    probe = near(0.35)
    expected = _expected(rows, probe, 5, None)
    assert expected[0][3] == "Many" and len(expected) == 3
    assert _same(_search(conn, probe, "buffalo_s", 5, 100, None), expected)
    with Database(db_url) as database:
        gallery_index.build(database, "buffalo_s")
        for _ in range(2):  # planned, then the plan kept
            assert _same(_search(conn, probe, "buffalo_s", 5, 100, None), expected)
        assert _same(_search(conn, probe, "buffalo_s", 2, 100, None), expected[:2])
        gallery_index.drop(database, "buffalo_s")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=st.lists(
        st.tuples(
            st.sampled_from(["Ann", "Bo", "Cy", None, "Unknown 2"]),
            st.sampled_from(SOURCES),
            st.integers(1, 80),  # references: some people crowd any k x 10 window
            st.floats(0.2, 1.5),  # how far their references lie from the probe
        ),
        min_size=1,
        max_size=8,
    ),
    k=st.integers(1, 8),
    allowed=st.sampled_from(ALLOWED),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_crowd_of_references_gives_numpys_people(conn, people, k, allowed, seed):
    """However many references each person has near the probe, match_faces()
    without an index answers the k people numpy finds, in its order."""
    register_vector(conn)
    rng = np.random.default_rng(seed)
    probe = rng.normal(size=512).astype(np.float32)
    probe /= np.linalg.norm(probe)
    conn.execute("TRUNCATE identities CASCADE")
    rows = []
    for number, (name, source, references, spread) in enumerate(people):
        external_id = f"p{number}" if source else None
        identity = str(
            conn.execute(
                "INSERT INTO identities (name, external_id, source_system) VALUES (%s, %s, %s) "
                "RETURNING identity_id",
                (name, external_id, source),
            ).fetchone()[0]
        )
        vectors = probe + spread * rng.normal(size=(references, 512)).astype(np.float32) / 22.6
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with conn.cursor().copy(
            "COPY embeddings (identity_id, vector, model, is_reference) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "vector", "varchar", "bool"])
            for vector in vectors:
                copy.write_row((uuid.UUID(identity), vector, "buffalo_s", True))
        if name is not None and not name.startswith("Unknown"):
            rows += [(identity, name, source, external_id, v) for v in vectors]
    found = _search(conn, probe, "buffalo_s", k, 100, allowed)
    assert _same(found, _expected(rows, probe, k, allowed)), (found, k, allowed)
