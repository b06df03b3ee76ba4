"""Erasure: deleting a person leaves a tombstone and an audit entry, no name, no vector."""

from __future__ import annotations

import json

from helpers import vector
from test_cli import studio


def test_deleted_person_leaves_no_trace_of_name_or_vectors(db_url, conn):
    name = "Zelda Quartermain-Unique"
    faces = [vector(71), vector(72)]
    conn.execute(
        "SELECT sync_identities(%s::jsonb)",
        (
            json.dumps(
                {
                    "source_system": "alfred_catalog",
                    "identities": [
                        {"external_id": "77", "name": name},
                        {"external_id": "78", "name": "Someone Else"},
                    ],
                }
            ),
        ),
    )
    conn.execute(
        "SELECT ingest_embeddings(%s::jsonb)",
        (
            json.dumps(
                {
                    "source_system": "alfred_catalog",
                    "results": [
                        {
                            "external_id": "77",
                            "name": name,
                            "faces": [{"embedding": f} for f in faces],
                        }
                    ],
                }
            ),
        ),
    )
    stored = [r[0] for r in conn.execute("SELECT vector::text FROM embeddings")]
    assert len(stored) == 2

    result = json.loads(
        studio(
            "identities", "delete", "77", "--source-system", "alfred_catalog", db_url=db_url
        ).stdout
    )
    assert (result["deleted"], result["embeddings_deleted"]) == (1, 2)

    tables = [
        r[0]
        for r in conn.execute(
            "SELECT quote_ident(table_name) FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    ]
    for table in tables:
        dump = conn.execute(
            f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t"
        ).fetchone()[0]
        assert name not in dump, f"the name survives in {table}"
        for vector_text in stored:
            assert vector_text[1:40] not in dump, f"a vector survives in {table}"
    assert conn.execute(
        "SELECT embeddings_deleted FROM identity_tombstones WHERE external_id = '77'"
    ).fetchone() == (2,)

    audit = studio("audit", "--source-system", "alfred_catalog", db_url=db_url).stdout
    assert '"deleted": 1' in audit and '"embeddings_deleted": 2' in audit
    assert name not in audit
