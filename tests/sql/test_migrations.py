"""Migrations: from empty, from Studio's baseline with data, repeated, concurrent."""

from __future__ import annotations

import math
import multiprocessing
import uuid

import psycopg
import pytest
from helpers import migrate, vector
from pgvector.psycopg import register_vector

from app import migrations

LATEST = migrations.load_migrations()[-1].version


def schema_shape(url: str) -> dict:
    """Columns, constraints, indexes, triggers and functions of the public schema."""
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            """
            SELECT table_name, column_name, data_type, udt_name, is_nullable,
                   column_default, is_generated, character_maximum_length
            FROM information_schema.columns WHERE table_schema = 'public'
            ORDER BY table_name, column_name
            """
        ).fetchall()
        constraints = conn.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace
            ORDER BY 1, 2
            """
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        triggers = conn.execute(
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal "
            "ORDER BY 1"
        ).fetchall()
        storage = conn.execute(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'embeddings'::regclass AND attname = 'vector'"
        ).fetchone()
        views = conn.execute(
            "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        enums = conn.execute(
            "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) "
            "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
            "WHERE t.typnamespace = 'public'::regnamespace GROUP BY t.typname ORDER BY 1"
        ).fetchall()
        functions = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "WHERE p.pronamespace = 'public'::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') "
            "ORDER BY 1"
        ).fetchall()
    return {
        "columns": columns,
        "constraints": constraints,
        "indexes": indexes,
        "triggers": triggers,
        "storage": storage,
        "views": views,
        "enums": enums,
        "functions": functions,
    }


def test_empty_database_migrates_to_the_current_schema(empty_db_url):
    applied = migrate(empty_db_url)
    assert applied == [f"{m.version:04d}_{m.name}" for m in migrations.load_migrations()]
    shape = schema_shape(empty_db_url)
    columns = {(t, c): (dt, udt) for t, c, dt, udt, *_ in shape["columns"]}
    assert columns[("embeddings", "vector")][1] == "vector"
    assert ("embeddings", "vector_hash") in columns
    assert ("embeddings", "model") in columns
    assert columns[("identities", "external_id")][0] == "character varying"
    assert shape["storage"] == ("p",), "vectors must be stored inline (SET STORAGE PLAIN)"
    index_names = {name for name, _ in shape["indexes"]}
    assert "idx_identities_external" in index_names
    assert "embeddings_identity_id_vector_hash_key" in index_names
    assert not any("hnsw" in definition for _, definition in shape["indexes"])
    constraint_names = {name for _, name, _ in shape["constraints"]}
    assert {
        "identities_external_id_source_system_check",
        "embeddings_identity_id_fkey",
        "embeddings_confidence_check",
        "identity_tombstones_pkey",
        "api_tokens_scopes_check",
    } <= constraint_names
    for function in ("sync_identities", "ingest_embeddings", "external_identities"):
        assert any(f[0].startswith(function + "(") for f in shape["functions"])
    assert {name for name, _ in shape["views"]} == {"reference_faces", "gallery"}
    assert sorted(shape["enums"]) == [
        ("delivery_state", ["pending", "delivered", "dead"]),
        ("job_state", ["queued", "running", "retrying", "completed", "failed"]),
        ("sighting_decision", ["identified", "uncertain", "unknown"]),
    ]
    assert columns[("jobs", "state")] == ("USER-DEFINED", "job_state")


def test_migrating_twice_changes_nothing(empty_db_url):
    migrate(empty_db_url)
    before = schema_shape(empty_db_url)
    assert migrate(empty_db_url) == []
    assert schema_shape(empty_db_url) == before


def _insert_baseline_rows(url: str) -> dict:
    """Studio data as it was before identity sync, with every awkward case."""
    native, other = uuid.uuid4(), uuid.uuid4()
    v1, v2 = vector(1), vector(2)
    rows = {
        "kept": 0,
        "duplicates": 0,
        "quarantined": {},
        "native": native,
        "other": other,
    }
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO identities (identity_id, name) VALUES (%s, 'Guard Smith'), (%s, 'Visitor')",
            (native, other),
        )

        def add(identity, vec, *, path=None, reference=True, confidence=0.9, eid=None):
            eid = eid or uuid.uuid4()
            conn.execute(
                "INSERT INTO embeddings (embedding_id, identity_id, vector, is_reference, "
                "source_image_path, confidence) VALUES (%s, %s, %s::float[], %s, %s, %s)",
                (eid, identity, vec, reference, path, confidence),
            )
            return eid

        add(native, v1, path="/srv/studio/faces/guard-1.jpg")
        add(native, v2, path="/srv/studio/faces/guard-2.jpg", confidence=1.7)
        add(native, v1, reference=False)  # duplicates: the reference row is the one kept
        add(native, v1)
        add(other, v1)  # same vector, other identity: not a duplicate
        rows["kept"] = 3
        rows["duplicates"] = 2
        rows["quarantined"][add(other, v1[:128])] = "128 values"
        rows["quarantined"][add(other, None)] = "NULL"
        rows["quarantined"][add(other, [0.0] * 512)] = "all zeros"
        rows["quarantined"][add(other, [*v2[:511], float("nan")])] = "NaN"
        conn.commit()
    return rows


def test_baseline_with_data_migrates_with_every_row_accounted_for(empty_db_url):
    migrate(empty_db_url, target=1)
    rows = _insert_baseline_rows(empty_db_url)
    migrate(empty_db_url)

    with psycopg.connect(empty_db_url) as conn:
        register_vector(conn)
        kept = conn.execute(
            "SELECT identity_id, vector, source_image_path, confidence, model FROM embeddings"
        ).fetchall()
        quarantined = dict(
            conn.execute("SELECT embedding_id, reason FROM embedding_quarantine").fetchall()
        )
        toasted = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid "
            "WHERE c.relname = 'embeddings' AND t.relpages > 0"
        ).fetchone()[0]
    assert len(kept) == rows["kept"]
    assert set(quarantined) == set(rows["quarantined"])
    assert len(kept) + len(quarantined) + rows["duplicates"] == 9
    for _identity, vec, _path, confidence, model in kept:
        assert math.isclose(sum(x * x for x in vec.to_list()), 1.0, rel_tol=1e-5)
        assert model == "buffalo_l"
        assert confidence is None or 0 <= confidence <= 1
    # The Studio-native identity keeps its photo references: only external
    # identities are refused them.
    native_paths = {p for i, _, p, _, _ in kept if i == rows["native"]}
    assert "/srv/studio/faces/guard-1.jpg" in native_paths
    assert toasted == 0, "vectors converted in place must be stored inline"


def test_baseline_and_empty_end_in_the_same_schema(empty_db_url, db_url):
    migrate(empty_db_url, target=1)
    _insert_baseline_rows(empty_db_url)
    migrate(empty_db_url)
    assert schema_shape(empty_db_url) == schema_shape(db_url)


def test_changed_migration_is_refused(empty_db_url, monkeypatch):
    migrate(empty_db_url)
    original = migrations.load_migrations

    def edited():
        found = original()
        first = found[0]
        return [
            migrations.Migration(first.version, first.name, first.sql + "\n-- edit"),
            *found[1:],
        ]

    monkeypatch.setattr(migrations, "load_migrations", edited)
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        migrate(empty_db_url)


def test_database_newer_than_code_is_refused(empty_db_url):
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, 'future', 'x')",
            (LATEST + 1,),
        )
    with pytest.raises(migrations.MigrationError, match="newer than the code"):
        migrate(empty_db_url)


def _migrate_in_process(url: str) -> list[str]:
    return migrate(url)


def test_five_concurrent_migrators_all_succeed(empty_db_url):
    context = multiprocessing.get_context("spawn")
    with context.Pool(5) as pool:
        results = pool.map(_migrate_in_process, [empty_db_url] * 5)
    applied = [name for result in results for name in result]
    # Every migration ran exactly once, whichever process ran it.
    assert sorted(applied) == sorted(
        f"{m.version:04d}_{m.name}" for m in migrations.load_migrations()
    )
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == LATEST
