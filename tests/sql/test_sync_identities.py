"""sync_identities(): upsert, rename, delete, full mode, dry run, atomicity."""

from __future__ import annotations

import psycopg
import pytest
from helpers import call, rejected, table_digest, vector

SOURCE = "alfred_catalog"


def sync(conn, identities, **options):
    return call(
        conn, "sync_identities", {"source_system": SOURCE, "identities": identities, **options}
    )


def names(conn, source=SOURCE) -> dict[str, str]:
    rows = conn.execute(
        "SELECT external_id, name FROM identities WHERE source_system = %s", (source,)
    ).fetchall()
    return dict(rows)


def ingest(conn, external_id, name, *seeds):
    faces = [{"embedding": vector(seed), "confidence": 0.9} for seed in seeds]
    return call(
        conn,
        "ingest_embeddings",
        {
            "source_system": SOURCE,
            "results": [{"external_id": external_id, "name": name, "faces": faces}],
        },
    )


def test_upsert_creates_then_renames_then_is_unchanged(conn):
    result = sync(conn, [{"external_id": "1", "name": "Ada"}, {"external_id": 2, "name": "Bob"}])
    assert (result["created"], result["updated"], result["deleted"], result["unchanged"]) == (
        2,
        0,
        0,
        0,
    )
    assert result["success"] is True and result["errors"] == []
    assert names(conn) == {"1": "Ada", "2": "Bob"}

    result = sync(conn, [{"external_id": "1", "name": "Ada Lovelace", "action": "upsert"}])
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 0)
    result = sync(conn, [{"external_id": "1", "name": "Ada Lovelace"}])
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 1)
    assert names(conn) == {"1": "Ada Lovelace", "2": "Bob"}


def test_items_apply_in_array_order(conn):
    result = sync(
        conn,
        [
            {"external_id": "7", "name": "First"},
            {"external_id": "7", "name": "Second"},
            {"external_id": "8", "name": "Gone"},
            {"external_id": "8", "action": "delete"},
        ],
    )
    assert (result["created"], result["updated"], result["deleted"]) == (2, 1, 1)
    assert names(conn) == {"7": "Second"}


def test_delete_cascades_and_tombstones_then_upsert_clears_it(conn):
    sync(conn, [{"external_id": "1", "name": "Ada"}])
    ingest(conn, "1", "Ada", 1, 2, 3)
    result = sync(conn, [{"external_id": "1", "action": "delete"}])
    assert (result["deleted"], result["embeddings_deleted"]) == (1, 3)
    assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0
    tombstone = conn.execute(
        "SELECT embeddings_deleted FROM identity_tombstones WHERE source_system = %s AND external_id = '1'",
        (SOURCE,),
    ).fetchone()
    assert tombstone == (3,)

    # A late ingest for the deleted person stores nothing and creates nothing.
    late = ingest(conn, "1", "Ada", 4)
    assert late["embeddings_stored"] == 0
    assert late["skipped"] == [
        {"index": 0, "external_id": "1", "reason": "deleted_at_source", "faces": 1}
    ]
    assert names(conn) == {}

    # The source brings the person back: the tombstone goes, ingest works again.
    assert sync(conn, [{"external_id": "1", "name": "Ada"}])["created"] == 1
    assert conn.execute("SELECT count(*) FROM identity_tombstones").fetchone()[0] == 0
    assert ingest(conn, "1", "Ada", 4)["embeddings_stored"] == 1


def test_deleting_an_unknown_person_is_unchanged_but_still_tombstoned(conn):
    result = sync(conn, [{"external_id": "404", "action": "delete"}])
    assert (result["deleted"], result["unchanged"]) == (0, 1)
    assert ingest(conn, "404", "Late", 1)["skipped"][0]["reason"] == "deleted_at_source"


def test_full_mode_deletes_the_absent(conn):
    sync(conn, [{"external_id": str(i), "name": f"P{i}"} for i in range(10)])
    result = sync(conn, [{"external_id": str(i), "name": f"P{i}"} for i in range(6)], mode="full")
    assert (result["deleted"], result["unchanged"]) == (4, 6)
    assert sorted(names(conn)) == [str(i) for i in range(6)]
    assert conn.execute("SELECT count(*) FROM identity_tombstones").fetchone()[0] == 4


def test_full_mode_refuses_mass_delete_unless_allowed(conn):
    sync(conn, [{"external_id": str(i), "name": f"P{i}"} for i in range(10)])
    before = table_digest(conn)
    errors = rejected(
        conn,
        "sync_identities",
        {
            "source_system": SOURCE,
            "mode": "full",
            "identities": [{"external_id": "1", "name": "P1"}],
        },
    )
    assert [e["code"] for e in errors] == ["mass_delete"]
    assert "9 of the 10" in errors[0]["message"]
    assert table_digest(conn) == before

    result = sync(conn, [{"external_id": "1", "name": "P1"}], mode="full", allow_mass_delete=True)
    assert result["deleted"] == 9


def test_full_mode_counts_explicit_deletes_toward_the_guard(conn):
    sync(conn, [{"external_id": str(i), "name": f"P{i}"} for i in range(4)])
    payload = [{"external_id": "0", "name": "P0"}, {"external_id": "1", "name": "P1"}]
    payload += [{"external_id": "2", "action": "delete"}, {"external_id": "3", "action": "delete"}]
    # Exactly half: allowed.
    assert sync(conn, payload, mode="full")["deleted"] == 2


@pytest.mark.parametrize(
    "items",
    [
        # Every key upserted, then deleted: the final state has none of them.
        [{"external_id": str(i), "name": f"P{i}"} for i in range(10)]
        + [{"external_id": str(i), "action": "delete"} for i in range(10)],
        # Each key upserted and deleted in turn.
        [
            item
            for i in range(10)
            for item in (
                {"external_id": str(i), "name": f"P{i}"},
                {"external_id": str(i), "action": "delete"},
            )
        ],
        # Deleted then upserted: new rows, every embedding gone.
        [{"external_id": str(i), "action": "delete"} for i in range(10)]
        + [{"external_id": str(i), "name": f"P{i}"} for i in range(10)],
    ],
    ids=["upsert-all-then-delete-all", "upsert-delete-each", "delete-all-then-upsert-all"],
)
def test_full_mode_guard_judges_the_state_the_call_leaves(conn, items):
    sync(conn, [{"external_id": str(i), "name": f"P{i}"} for i in range(10)])
    for i in range(10):
        ingest(conn, str(i), f"P{i}", i)
    before = table_digest(conn)
    for dry_run in (False, True):
        errors = rejected(
            conn,
            "sync_identities",
            {"source_system": SOURCE, "mode": "full", "identities": items, "dry_run": dry_run},
        )
        assert [e["code"] for e in errors] == ["mass_delete"]
        assert "10 of the 10" in errors[0]["message"]
        assert table_digest(conn) == before
    assert sync(conn, items, mode="full", allow_mass_delete=True)["success"] is True


def test_full_mode_guard_allows_half_deleted_however_listed(conn):
    sync(conn, [{"external_id": str(i), "name": f"P{i}"} for i in range(10)])
    items = [{"external_id": str(i), "name": f"P{i}"} for i in range(10)]
    items += [{"external_id": str(i), "action": "delete"} for i in range(5)]
    result = sync(conn, items, mode="full")
    assert result["deleted"] == 5
    assert sorted(names(conn)) == [str(i) for i in range(5, 10)]


def test_dry_run_reports_and_changes_nothing(conn):
    sync(conn, [{"external_id": str(i), "name": f"P{i}"} for i in range(4)])
    ingest(conn, "3", "P3", 1)
    before = {k: v for k, v in table_digest(conn).items() if k != "audit_journal"}
    result = sync(
        conn,
        [
            {"external_id": "0", "name": "Renamed"},
            {"external_id": "9", "name": "New"},
            {"external_id": "1", "name": "P1"},
            {"external_id": "2", "name": "P2"},
        ],
        mode="full",
        dry_run=True,
    )
    assert result["dry_run"] is True
    assert (result["created"], result["updated"], result["deleted"], result["unchanged"]) == (
        1,
        1,
        1,
        2,
    )
    assert result["embeddings_deleted"] == 1
    after = {k: v for k, v in table_digest(conn).items() if k != "audit_journal"}
    assert after == before
    journal = conn.execute(
        "SELECT dry_run FROM audit_journal ORDER BY audit_id DESC LIMIT 1"
    ).fetchone()
    assert journal == (True,)


def test_other_sources_and_native_identities_are_never_touched(conn):
    conn.execute("INSERT INTO identities (name) VALUES ('Studio native')")
    call(
        conn,
        "sync_identities",
        {"source_system": "other_system", "identities": [{"external_id": "1", "name": "Other"}]},
    )
    sync(conn, [{"external_id": "1", "name": "Ada"}])
    sync(conn, [], mode="full", allow_mass_delete=True)
    assert names(conn) == {}
    assert names(conn, "other_system") == {"1": "Other"}
    assert (
        conn.execute("SELECT count(*) FROM identities WHERE external_id IS NULL").fetchone()[0] == 1
    )


def test_rejection_reports_every_error_and_changes_nothing(conn):
    sync(conn, [{"external_id": "1", "name": "Ada"}])
    before = table_digest(conn)
    errors = rejected(
        conn,
        "sync_identities",
        {
            "source_system": SOURCE,
            "identities": [
                {"external_id": "2", "name": "Fine"},
                {"external_id": "3"},
                {"name": "No key"},
                {"external_id": "4", "name": "X", "action": "rename"},
                "not an object",
                {"external_id": "x." * 128, "name": "Long"},
            ],
        },
    )
    found = {(e["index"], e["field"], e["code"]) for e in errors}
    assert found == {
        (1, "name", "required"),
        (2, "external_id", "required"),
        (3, "action", "invalid_value"),
        (4, "$", "invalid_type"),
        (5, "external_id", "too_long"),
    }
    assert all(e["message"] for e in errors)
    assert next(e for e in errors if e["index"] == 1)["external_id"] == "3"
    assert table_digest(conn) == before


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ([], "$", "invalid_type"),
        ({"identities": []}, "source_system", "required"),
        ({"source_system": "", "identities": []}, "source_system", "required"),
        ({"source_system": "s" * 51, "identities": []}, "source_system", "too_long"),
        ({"source_system": 5, "identities": []}, "source_system", "invalid_type"),
        ({"source_system": SOURCE}, "identities", "required"),
        ({"source_system": SOURCE, "identities": {}}, "identities", "invalid_type"),
        ({"source_system": SOURCE, "identities": [], "mode": "partial"}, "mode", "invalid_value"),
        ({"source_system": SOURCE, "identities": [], "dry_run": "yes"}, "dry_run", "invalid_type"),
        ({"source_system": SOURCE, "identities": [], "dry_rnu": True}, "dry_rnu", "unknown_field"),
        (
            {"source_system": SOURCE, "identities": [{"external_id": 1.5, "name": "A"}]},
            "external_id",
            "invalid_type",
        ),
        (
            {"source_system": SOURCE, "identities": [{"external_id": "", "name": "A"}]},
            "external_id",
            "required",
        ),
        (
            {"source_system": SOURCE, "identities": [{"external_id": "1", "name": "  "}]},
            "name",
            "required",
        ),
        (
            {"source_system": SOURCE, "identities": [{"external_id": "1", "name": "A\u0007"}]},
            "name",
            "invalid_characters",
        ),
        (
            {"source_system": SOURCE, "identities": [{"external_id": "1", "name": "n" * 256}]},
            "name",
            "too_long",
        ),
        (
            {"source_system": SOURCE, "identities": [{"external_id": "1", "name": ["A"]}]},
            "name",
            "invalid_type",
        ),
        (
            {
                "source_system": SOURCE,
                "identities": [{"external_id": "1", "name": "A", "email": "a@b"}],
            },
            "email",
            "unknown_field",
        ),
    ],
)
def test_validation_table(conn, payload, field, code):
    errors = rejected(conn, "sync_identities", payload)
    assert (field, code) in {(e["field"], e["code"]) for e in errors}


def test_invalid_json_is_postgres_own_error(conn):
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        call(conn, "sync_identities", '{"source_system": ')


def test_source_binding_is_enforced(conn):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "SELECT sync_identities(%s::jsonb, 'token:t', %s)",
            ('{"source_system": "other_system", "identities": []}', [SOURCE]),
        )
    assert conn.execute("SELECT count(*) FROM audit_journal").fetchone()[0] == 0


def test_audit_journal_keeps_counts_and_caller_never_names(conn):
    sync(conn, [{"external_id": "1", "name": "Ada Lovelace"}])
    conn.execute(
        "SELECT sync_identities(%s::jsonb, 'token:alfred')",
        (
            '{"source_system": "alfred_catalog", "identities": [{"external_id": "1", "action": "delete"}]}',
        ),
    )
    rows = conn.execute(
        "SELECT operation, source_system, caller, counts::text FROM audit_journal ORDER BY audit_id"
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("sync", SOURCE), ("sync", SOURCE)]
    assert rows[1][2] == "token:alfred"
    assert all("Ada" not in r[3] for r in rows)


def test_psql_caller_gets_the_same_validation(conn):
    """What a DBA types in psql: one argument, the payload literal."""
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        conn.execute(
            """SELECT sync_identities('{"source_system": "x", "identities": [{"external_id": "1"}]}')"""
        )
    assert '"code": "required"' in info.value.diag.message_detail
