"""Export a gallery, import it elsewhere, import it again: same gallery, nothing doubled."""

from __future__ import annotations

import json

from helpers import vector
from test_cli import studio


def test_export_import_round_trip_is_idempotent(db_url, conn, other_db_url, tmp_path):

    conn.execute(
        "SELECT ingest_embeddings(%s::jsonb)",
        (
            json.dumps(
                {
                    "source_system": "alfred_catalog",
                    "model": "buffalo_s",
                    "results": [
                        {
                            "external_id": str(p),
                            "name": f"P{p}",
                            "faces": [
                                {"embedding": vector(p * 10 + f), "confidence": 0.9}
                                for f in range(3)
                            ],
                        }
                        for p in range(4)
                    ],
                }
            ),
        ),
    )
    conn.execute(
        """SELECT sync_identities('{"source_system": "other", "identities": [{"external_id": "9", "name": "Other"}]}')"""
    )
    export = tmp_path / "gallery.json"
    assert (
        "4 identities, 12 embeddings"
        in studio("export", export, "--source-system", "alfred_catalog", db_url=db_url).stdout
    )
    text = export.read_text()
    assert "Other" not in text and "photo" not in text

    target = other_db_url
    first = json.loads(studio("import", export, db_url=target).stdout)
    assert (first["created"], first["embeddings_stored"]) == (4, 12)
    again = json.loads(studio("import", export, db_url=target).stdout)
    assert (again["created"], again["embeddings_stored"], again["duplicates_skipped"]) == (
        0,
        0,
        12,
    )
    studio("export", tmp_path / "again.json", "--source-system", "alfred_catalog", db_url=target)
    assert _vectors(export) == _vectors(tmp_path / "again.json"), "vectors survive bit for bit"


def _vectors(path):
    gallery = json.loads(path.read_text())
    return sorted(
        (model, face["external_id"], tuple(face["embedding"]))
        for model, faces in gallery["embeddings"].items()
        for face in faces
    )
