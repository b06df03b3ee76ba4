"""`studio index`: one index name a model, builds that give the index asked for
or change nothing, and no invalid index left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest
from helpers import migrate, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import gallery_index
from app.db import Database

STUDIO = str(Path(sys.executable).parent / "studio")
# Models whose names fold alike, or are cut alike by PostgreSQL's 63
# characters: each must have an index of its own.
ALIKE = ("m_a", "m-a", "m.a", "M_A", "m a", "bu'ffalo", "bu_ffalo", "a" * 49 + "1", "a" * 49 + "2")


@pytest.fixture
def database(db_url):
    with Database(db_url) as opened:
        yield opened


def _references(conn, model: str, count: int = 3) -> None:
    rng = np.random.default_rng(abs(hash(model)) % 2**32)
    identity = conn.execute(
        "INSERT INTO identities (name) VALUES ('Ann') RETURNING identity_id"
    ).fetchone()[0]
    for vector in rng.normal(size=(count, 512)):
        conn.execute(
            "INSERT INTO embeddings (identity_id, vector, model, is_reference) "
            "VALUES (%s, %s, %s, true)",
            (identity, str((vector / np.linalg.norm(vector)).tolist()), model),
        )


def _indexes(conn) -> dict[str, tuple[bool, str]]:
    """Every HNSW index on embeddings: name -> (valid, definition)."""
    return {
        name: (valid, definition)
        for name, valid, definition in conn.execute(
            "SELECT c.relname, i.indisvalid, pg_get_indexdef(c.oid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
            "WHERE i.indrelid = 'embeddings'::regclass AND a.amname = 'hnsw'"
        ).fetchall()
    }


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(models=st.lists(st.text(min_size=1, max_size=50), min_size=2, max_size=6, unique=True))
def test_no_two_models_share_an_index_name(conn, models):
    models = [*models, *ALIKE]
    names = [
        conn.execute("SELECT gallery_index_name(%s)", (m.replace("\x00", ""),)).fetchone()[0]
        for m in models
    ]
    distinct = {m.replace("\x00", "") for m in models}
    assert len(set(names)) == len(distinct)
    for name in names:
        assert len(name) <= 63 and name == name.lower()
        assert all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def test_plain_model_names_keep_their_index_name(conn):
    for model in ("buffalo_l", "buffalo_s", "antelopev2", "w600k_r50"):
        name = conn.execute("SELECT gallery_index_name(%s)", (model,)).fetchone()[0]
        assert name == f"embeddings_vector_hnsw_{model}"


def test_models_that_fold_alike_get_an_index_each_and_drop_only_their_own(conn, database):
    for model in ALIKE:
        _references(conn, model)
    for model in ALIKE:
        gallery_index.build(database, model)
    assert len(_indexes(conn)) == len(ALIKE)
    by_model = {s.model: s.index for s in gallery_index.status(database)}
    assert len(set(by_model.values())) == len(ALIKE)
    for model, name in by_model.items():
        literal = conn.execute("SELECT quote_literal(%s)", (model,)).fetchone()[0]
        assert f"(model)::text = {literal}::text" in _indexes(conn)[name][1]
    gallery_index.drop(database, "m.a")
    assert by_model["m.a"] not in _indexes(conn)
    assert len(_indexes(conn)) == len(ALIKE) - 1


@pytest.mark.parametrize(
    ("m", "ef_construction", "memory_mb", "named"),
    [
        (0, 64, None, "m must be from 2 to 100"),
        (101, 200, None, "m must be from 2 to 100"),
        (16, 3, None, "ef_construction must be from 4 to 1000"),
        (16, 1001, None, "ef_construction must be from 4 to 1000"),
        (16, 20, None, "ef_construction must be at least 2 × m = 32"),
        (16, 64, 0, "memory must be from 64"),
        (16, 64, -5, "memory must be from 64"),
        (16, 64, 10**12, "memory must be from 64"),
    ],
)
def test_a_build_out_of_bounds_is_refused_and_changes_nothing(
    conn, database, m, ef_construction, memory_mb, named
):
    _references(conn, "buffalo_s")
    with pytest.raises(gallery_index.BuildRefused, match=named):
        gallery_index.build(
            database, "buffalo_s", m=m, ef_construction=ef_construction, memory_mb=memory_mb
        )
    assert _indexes(conn) == {}


def test_a_model_without_references_is_refused(conn, database):
    _references(conn, "buffalo_s")
    for model in ("", "nosuchmodel", "Buffalo_S"):
        with pytest.raises(gallery_index.BuildRefused, match=r"no reference faces.*buffalo_s"):
            gallery_index.build(database, model)
    assert _indexes(conn) == {}


def test_a_rebuild_with_other_parameters_is_refused_and_the_same_one_is_kept(conn, database):
    _references(conn, "buffalo_s")
    name = gallery_index.build(database, "buffalo_s")
    before = _indexes(conn)
    with pytest.raises(gallery_index.BuildRefused, match="exists with m 16, ef_construction 64"):
        gallery_index.build(database, "buffalo_s", m=32, ef_construction=128)
    assert gallery_index.build(database, "buffalo_s") == name
    assert _indexes(conn) == before
    gallery_index.drop(database, "buffalo_s")
    gallery_index.build(database, "buffalo_s", m=32, ef_construction=128)
    assert "m='32', ef_construction='128'" in _indexes(conn)[name][1]


def test_an_invalid_index_is_built_again_by_build_and_by_ensure(conn, database, monkeypatch):
    _references(conn, "buffalo_s")
    name = gallery_index.build(database, "buffalo_s")
    for repair in ("build", "ensure"):
        # What an interrupted CREATE INDEX CONCURRENTLY leaves.
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", (name,)
        )
        assert gallery_index.state(database, "buffalo_s") == "invalid"
        if repair == "build":
            gallery_index.build(database, "buffalo_s")
        else:
            monkeypatch.setattr(gallery_index, "BUILD_AT", 3)
            assert gallery_index.ensure(database) == [name]
        assert gallery_index.state(database, "buffalo_s") == "valid"
    # Below the policy's size an invalid index is only dropped.
    conn.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", (name,))
    monkeypatch.setattr(gallery_index, "BUILD_AT", 1000)
    assert gallery_index.ensure(database) == []
    assert _indexes(conn) == {}


def test_a_build_that_fails_leaves_no_index(conn, database, db_url):
    """A concurrent build waits for the writers of the table; cancelled while
    it waits, it has already made an invalid index, which it drops."""
    _references(conn, "buffalo_s")
    conn.commit()
    with psycopg.connect(db_url) as blocker:
        blocker.execute("LOCK TABLE embeddings IN ROW EXCLUSIVE MODE")  # a writer, mid-transaction
        failed: list[BaseException] = []

        def build() -> None:
            try:
                gallery_index.build(database, "buffalo_s")
            except BaseException as exc:
                failed.append(exc)

        thread = threading.Thread(target=build)
        thread.start()
        pid = wait_for(
            lambda: conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%%' "
                "AND wait_event_type = 'Lock'"
            ).fetchone(),
            timeout=30,
        )[0]
        assert _indexes(conn) != {}  # it exists, invalid, while the build waits
        conn.execute("SELECT pg_cancel_backend(%s)", (pid,))
        conn.commit()
        blocker.rollback()  # the clean-up's DROP CONCURRENTLY waits for it too
        thread.join(timeout=60)
    assert isinstance(failed[0], psycopg.errors.QueryCanceled)
    assert _indexes(conn) == {}
    assert gallery_index.state(database, "buffalo_s") is None


def test_indexes_of_models_with_names_that_are_not_plain_are_renamed_by_the_migration(
    empty_db_url,
):
    migrate(empty_db_url, target=12)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for old, model in (("buffalo_l", "Buffalo-L"), ("buffalo_s", "buffalo_s")):
            conn.execute(
                f"CREATE INDEX embeddings_vector_hnsw_{old} ON embeddings "
                "USING hnsw (vector vector_cosine_ops) "
                f"WHERE is_reference AND embedding_type = 'face' AND model = '{model}'"
            )
        # A DBA's own halfvec index of a model: not one `studio index` built.
        conn.execute(
            "CREATE INDEX dba_halfvec ON embeddings "
            "USING hnsw ((vector::halfvec(512)) halfvec_cosine_ops) "
            "WHERE is_reference AND embedding_type = 'face' AND model = 'Other-Model'"
        )
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        names = set(_indexes(conn))
        expected = {
            conn.execute("SELECT gallery_index_name(%s)", (m,)).fetchone()[0]
            for m in ("Buffalo-L", "buffalo_s")
        }
    assert names == expected | {"dba_halfvec"} and "embeddings_vector_hnsw_buffalo_s" in names


def _studio(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    return subprocess.run(
        [STUDIO, "index", *args],
        env=env | {"STUDIO_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_says_what_it_did_and_refuses_in_one_line(conn, db_url):
    _references(conn, "buffalo_s")
    conn.commit()
    for args, message in [
        (("--m", "0"), "error: m must be from 2 to 100 (got 0)"),
        (("--memory-mb", "-5"), "error: memory must be from 64"),
        (("--model", "nosuchmodel"), "error: model 'nosuchmodel' has no reference faces"),
    ]:
        result = _studio("build", "--model", "buffalo_s", *args, url=db_url)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    assert _indexes(conn) == {}
    built = _studio("build", "--model", "buffalo_s", url=db_url)
    assert built.returncode == 0 and "built embeddings_vector_hnsw_buffalo_s" in built.stdout
    again = _studio("build", "--model", "buffalo_s", url=db_url)
    assert "was already built" in again.stdout
    other = _studio(
        "build", "--model", "buffalo_s", "--m", "32", "--ef-construction", "128", url=db_url
    )
    assert other.returncode == 2 and "drop it first" in other.stderr
    assert _studio("drop", "--model", "buffalo_s", url=db_url).stdout.startswith("dropped")
    assert _studio("drop", "--model", "buffalo_s", url=db_url).stdout.startswith("no index")
