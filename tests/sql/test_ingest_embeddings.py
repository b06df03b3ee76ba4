"""ingest_embeddings(): find-or-create, normalise, dedup, model, tombstones, validation."""

from __future__ import annotations

import json
import math

import psycopg
import pytest
from helpers import call, rejected, table_digest, vector
from pgvector.psycopg import register_vector

SOURCE = "alfred_catalog"


def payload(*results, **extra):
    return {"source_system": SOURCE, "results": list(results), **extra}


def person(external_id, name, *faces):
    return {"external_id": external_id, "name": name, "faces": list(faces)}


def face(seed, confidence=0.9):
    return {"embedding": vector(seed), "confidence": confidence}


def test_creates_identities_and_stores_normalised_reference_vectors(conn):
    register_vector(conn)
    result = call(
        conn,
        "ingest_embeddings",
        payload(person("15", "Ada", face(1), face(2)), person(16, "Bob", face(3))),
    )
    assert result["success"] is True
    assert (result["identities_resolved"], result["identities_created"]) == (2, 2)
    assert (result["embeddings_stored"], result["duplicates_skipped"]) == (3, 0)
    rows = conn.execute(
        "SELECT i.external_id, e.vector, e.model, e.is_reference, e.embedding_type, e.confidence, "
        "e.source_image_path FROM embeddings e JOIN identities i USING (identity_id)"
    ).fetchall()
    assert len(rows) == 3
    for _ext, vec, model, is_reference, kind, confidence, path in rows:
        assert math.isclose(sum(x * x for x in vec.to_list()), 1.0, rel_tol=1e-5)
        assert (model, is_reference, kind, path) == ("buffalo_l", True, "face", None)
        assert math.isclose(confidence, 0.9, rel_tol=1e-6)
    assert {r[0] for r in rows} == {"15", "16"}


def test_duplicates_are_skipped_within_a_call_and_across_calls(conn):
    first = call(conn, "ingest_embeddings", payload(person("15", "Ada", face(1), face(1), face(2))))
    assert (first["embeddings_stored"], first["duplicates_skipped"]) == (2, 1)
    again = call(conn, "ingest_embeddings", payload(person("15", "Ada", face(1), face(2), face(3))))
    assert (again["embeddings_stored"], again["duplicates_skipped"]) == (1, 2)
    # The same vector for another identity is not a duplicate.
    other = call(conn, "ingest_embeddings", payload(person("16", "Bob", face(1))))
    assert other["embeddings_stored"] == 1


def test_existing_identity_whose_name_changed_is_renamed_as_the_seed_says(conn):
    call(
        conn,
        "sync_identities",
        {"source_system": SOURCE, "identities": [{"external_id": "15", "name": "Ada Lovelace"}]},
    )
    result = call(conn, "ingest_embeddings", payload(person("15", "Ada King", face(1))))
    counts = (result["identities_resolved"], result["identities_created"])
    assert (*counts, result["identities_renamed"]) == (1, 0, 1)
    assert conn.execute("SELECT name FROM identities").fetchone() == ("Ada King",)
    # The same name again changes nothing: no rename counted, updated_at kept.
    before = conn.execute("SELECT updated_at FROM identities").fetchone()
    again = call(conn, "ingest_embeddings", payload(person("15", "Ada King", face(2))))
    assert (again["identities_created"], again["identities_renamed"]) == (0, 0)
    assert conn.execute("SELECT updated_at FROM identities").fetchone() == before


def test_model_is_stamped_on_every_row(conn):
    call(
        conn, "ingest_embeddings", payload(person("15", "Ada", face(1), face(2)), model="buffalo_s")
    )
    models = conn.execute("SELECT DISTINCT model FROM embeddings").fetchall()
    assert models == [("buffalo_s",)]


def test_empty_faces_still_resolve_the_identity(conn):
    result = call(conn, "ingest_embeddings", payload(person("15", "Ada")))
    assert (result["identities_resolved"], result["embeddings_stored"]) == (1, 0)


def test_confidence_is_optional(conn):
    result = call(
        conn,
        "ingest_embeddings",
        payload(
            person(
                "15", "Ada", {"embedding": vector(1)}, {"embedding": vector(2), "confidence": None}
            )
        ),
    )
    assert result["embeddings_stored"] == 2


def _face_with(embedding):
    return payload(person("15", "Ada", {"embedding": embedding}))


@pytest.mark.parametrize(
    ("bad_payload", "field", "code"),
    [
        (_face_with(vector(1, 511)), "faces[0].embedding", "invalid_length"),
        (_face_with(vector(1, 513)), "faces[0].embedding", "invalid_length"),
        (_face_with([]), "faces[0].embedding", "invalid_length"),
        (_face_with([*vector(1, 511), "NaN"]), "faces[0].embedding", "invalid_type"),
        (_face_with([*vector(1, 511), "0.5"]), "faces[0].embedding", "invalid_type"),
        (_face_with([*vector(1, 511), None]), "faces[0].embedding", "invalid_type"),
        (_face_with([*vector(1, 511), [1]]), "faces[0].embedding", "invalid_type"),
        (_face_with([*vector(1, 511), 1e39]), "faces[0].embedding", "out_of_range"),
        (_face_with([*vector(1, 511), -1e300]), "faces[0].embedding", "out_of_range"),
        (_face_with([0] * 512), "faces[0].embedding", "zero_vector"),
        (_face_with("0.1,0.2"), "faces[0].embedding", "invalid_type"),
        (payload(person("15", "Ada", {"confidence": 0.5})), "faces[0].embedding", "required"),
        (
            payload(person("15", "Ada", {"embedding": vector(1), "confidence": 1.5})),
            "faces[0].confidence",
            "out_of_range",
        ),
        (
            payload(person("15", "Ada", {"embedding": vector(1), "confidence": -0.1})),
            "faces[0].confidence",
            "out_of_range",
        ),
        (
            payload(person("15", "Ada", {"embedding": vector(1), "confidence": "high"})),
            "faces[0].confidence",
            "invalid_type",
        ),
        (payload(person("15", "Ada", [0.1] * 512)), "faces[0]", "invalid_type"),
        (
            payload(person("15", "Ada", {"embedding": vector(1), "bbox": [1, 2, 3, 4]})),
            "faces[0].bbox",
            "unknown_field",
        ),
        (payload({"external_id": "15", "name": "Ada"}), "faces", "required"),
        (payload({"external_id": "15", "name": "Ada", "faces": {}}), "faces", "invalid_type"),
        (payload({"external_id": "15", "faces": []}), "name", "required"),
        (payload({"name": "Ada", "faces": []}), "external_id", "required"),
        (payload(person("15", "Ada"), model="buffalo l"), "model", "invalid_value"),
        (payload(person("15", "Ada"), model=5), "model", "invalid_type"),
        ({"source_system": SOURCE}, "results", "required"),
        ({"source_system": SOURCE, "results": {}}, "results", "invalid_type"),
        ({"results": []}, "source_system", "required"),
        ({"source_system": SOURCE, "results": [], "extra": 1}, "extra", "unknown_field"),
    ],
)
def test_validation_table(conn, bad_payload, field, code):
    errors = rejected(conn, "ingest_embeddings", bad_payload)
    assert (field, code) in {(e["field"], e["code"]) for e in errors}, errors


def test_rejection_reports_every_bad_face_and_changes_nothing(conn):
    call(conn, "ingest_embeddings", payload(person("15", "Ada", face(1))))
    before = table_digest(conn)
    bad = payload(
        person("15", "Ada", face(2), {"embedding": vector(3, 500)}),
        person("16", "Bob", face(4), {"embedding": [*vector(5, 511), "x"]}),
        person("17", "Cy", {"embedding": [*vector(6, 511), 1e39]}),
    )
    errors = rejected(conn, "ingest_embeddings", bad)
    found = {(e["index"], e["field"], e["code"]) for e in errors}
    assert found == {
        (0, "faces[1].embedding", "invalid_length"),
        (1, "faces[1].embedding", "invalid_type"),
        (2, "faces[0].embedding", "out_of_range"),
    }
    assert table_digest(conn) == before


def _raw_payload(confidence: str = "0.9", component: str = "0.5") -> str:
    """Two good people and one face holding a JSON number as written (Python's
    json cannot write 1e-400)."""
    good = json.dumps(payload(person("1", "Ada", face(1)), person("2", "Bob", face(2))))
    embedding = ", ".join([*map(repr, vector(3, 511)), component])
    bad = (
        f'{{"external_id": "3", "name": "Cy", "faces": [{json.dumps(face(4))}, '
        f'{{"embedding": [{embedding}], "confidence": {confidence}}}]}}'
    )
    return good[: good.rindex("]")] + ", " + bad + "]}"


@pytest.mark.parametrize(
    ("confidence", "component", "field"),
    [
        ("1e-46", "0.5", "faces[1].confidence"),
        ("1e-400", "0.5", "faces[1].confidence"),
        ("-1e-46", "0.5", "faces[1].confidence"),
        ("1e100000", "0.5", "faces[1].confidence"),
        ("0.9", "1e39", "faces[1].embedding"),
        ("0.9", "-1e39", "faces[1].embedding"),
        ("0.9", "1e-46", "faces[1].embedding"),
        ("0.9", "-5e-46", "faces[1].embedding"),
        ("0.9", "1e-400", "faces[1].embedding"),
    ],
)
def test_a_number_a_float_cannot_hold_is_refused_naming_item_face_and_field(
    conn, confidence, component, field
):
    """One such number used to make the call store nothing and answer success."""
    before = table_digest(conn)
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        conn.execute("SELECT ingest_embeddings(%s::jsonb)", (_raw_payload(confidence, component),))
    errors = json.loads(info.value.diag.message_detail)
    assert [(e["index"], e["external_id"], e["field"]) for e in errors] == [(2, "3", field)]
    assert errors[0]["code"] == "out_of_range"
    if field.endswith("embedding"):
        assert "embedding[511]" in errors[0]["message"]
    assert table_digest(conn) == before


@pytest.mark.parametrize(
    ("confidence", "component"),
    [("1e-40", "0.5"), ("0.9", "1e-40"), ("0.9", "-3.4e38"), ("0", "0")],
)
def test_a_number_a_float_holds_is_stored(conn, confidence, component):
    result = conn.execute(
        "SELECT ingest_embeddings(%s::jsonb)", (_raw_payload(confidence, component),)
    ).fetchone()[0]
    assert result["embeddings_stored"] == 4
    assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 4


def test_external_identity_refuses_a_source_image_path(conn):
    call(conn, "ingest_embeddings", payload(person("15", "Ada", face(1))))
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE embeddings SET source_image_path = '/photos/ada.jpg'")
    identity = conn.execute("SELECT identity_id FROM identities").fetchone()[0]
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO embeddings (identity_id, vector, source_image_path) VALUES (%s, %s::vector, 'x.jpg')",
            (identity, json.dumps(vector(9))),
        )


def test_native_identity_with_photos_cannot_become_external(conn):
    native = conn.execute(
        "INSERT INTO identities (name) VALUES ('Guard') RETURNING identity_id"
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO embeddings (identity_id, vector, source_image_path) VALUES (%s, %s::vector, '/faces/g.jpg')",
        (native, json.dumps(vector(1))),
    )
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "UPDATE identities SET external_id = '9', source_system = 'alfred_catalog' WHERE identity_id = %s",
            (native,),
        )


def test_source_binding_is_enforced(conn):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "SELECT ingest_embeddings(%s::jsonb, 'token:t', %s)",
            (json.dumps(payload(person("1", "A", face(1)))), ["other_system"]),
        )
    assert conn.execute("SELECT count(*) FROM identities").fetchone()[0] == 0


def test_audit_journal_records_ingest_counts(conn):
    call(conn, "ingest_embeddings", payload(person("15", "Ada", face(1), face(1))))
    counts = conn.execute("SELECT counts FROM audit_journal WHERE operation = 'ingest'").fetchone()[
        0
    ]
    assert counts["embeddings_stored"] == 1 and counts["duplicates_skipped"] == 1
    assert "Ada" not in json.dumps(counts)
