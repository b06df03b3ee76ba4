"""Erasure: deleting a person leaves a tombstone and an audit entry, no name, no
vector, and nothing of their sightings or events but a nameless identity_erased
event for the outputs that had them."""

from __future__ import annotations

import json

from helpers import vector
from sightings_support import record, sighting
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

    # Seen on camera, with events delivered, pending and dead to two outputs.
    outputs = [
        {"output": "ha", "kind": "mqtt", "decisions": ["identified"]},
        {"output": "hook", "kind": "webhook", "decisions": ["identified"]},
    ]
    conn.execute("SELECT register_event_outputs(%s::jsonb)", (json.dumps(outputs),))
    zelda = conn.execute("SELECT identity_id::text FROM identities WHERE external_id = '77'")
    zelda_id = zelda.fetchone()[0]
    for camera in ("door", "yard", "garage"):
        record(conn, sighting(zelda_id, camera=camera))
    conn.execute(
        "UPDATE deliveries SET state = 'delivered', delivered_at = now() WHERE output = 'ha'"
    )
    conn.execute("UPDATE deliveries SET state = 'dead', attempts = 8 WHERE output = 'hook'")
    assert name in conn.execute("SELECT string_agg(payload::text, ' ') FROM events").fetchone()[0]

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
    # Their sightings, events and deliveries (dead letters included) are gone;
    # what is left is one identity_erased event per output that had theirs,
    # with the id and the cameras only.
    assert conn.execute(
        "SELECT count(*) FROM sightings WHERE identity_id = %s", (zelda_id,)
    ).fetchone() == (0,)
    erased = conn.execute("SELECT kind, payload FROM events").fetchall()
    assert [kind for kind, _ in erased] == ["identity_erased"]
    assert set(erased[0][1]) == {"event_id", "kind", "version", "created_at", "person", "cameras"}
    assert sorted(erased[0][1]["cameras"]) == ["door", "garage", "yard"]
    assert conn.execute(
        "SELECT array_agg(output ORDER BY output), bool_and(state = 'pending') FROM deliveries"
    ).fetchone() == (["ha", "hook"], True)

    audit = studio("audit", "--source-system", "alfred_catalog", db_url=db_url).stdout
    assert '"deleted": 1' in audit and '"embeddings_deleted": 2' in audit
    assert name not in audit
