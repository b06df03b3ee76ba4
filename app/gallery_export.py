"""Export and import a source system's gallery: identities and vectors, never photos.

For backups and for moving between Studio installations. The file is JSON:

    {"format": "groundtruth-studio-gallery/1", "source_system": "alfred_catalog",
     "exported_at": "...", "identities": [{"external_id", "name"}],
     "embeddings": {"buffalo_l": [{"external_id", "embedding", "confidence"}]}}

Import goes through sync_identities (upsert) and ingest_embeddings, so it is
validated like any payload and idempotent: importing a file twice stores
nothing the second time (vectors are exported at unit length, which ingest
keeps bit for bit).
"""

from __future__ import annotations

from datetime import UTC, datetime

from app import queries
from app.db import Database

FORMAT = "groundtruth-studio-gallery/1"
FACES_PER_CALL = 1000


def export_gallery(database: Database, source_system: str) -> dict:
    """The source system's identities and reference faces, in the export format."""
    identities = [
        {"external_id": external_id, "name": name}
        for external_id, name in database.fetch_all(queries.EXPORT_IDENTITIES, source_system)
    ]
    embeddings: dict[str, list[dict]] = {}
    for model, external_id, vector, confidence in database.fetch_all(
        queries.EXPORT_REFERENCE_FACES, source_system
    ):
        embeddings.setdefault(model, []).append(
            {"external_id": external_id, "embedding": vector.to_list(), "confidence": confidence}
        )
    return {
        "format": FORMAT,
        "source_system": source_system,
        "exported_at": datetime.now(UTC).isoformat(),
        "identities": identities,
        "embeddings": embeddings,
    }


def import_gallery(backend, gallery: dict) -> dict:
    """Apply an export through `backend` (the API client or the database); return totals."""
    if gallery.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    source = gallery["source_system"]
    names = {i["external_id"]: i["name"] for i in gallery["identities"]}
    synced = backend.sync({"source_system": source, "identities": gallery["identities"]})
    totals = {
        "created": synced["created"],
        "updated": synced["updated"],
        "embeddings_stored": 0,
        "duplicates_skipped": 0,
    }
    for model, faces in gallery["embeddings"].items():
        for start in range(0, len(faces), FACES_PER_CALL):
            by_person: dict[str, list[dict]] = {}
            for face in faces[start : start + FACES_PER_CALL]:
                by_person.setdefault(face["external_id"], []).append(
                    {"embedding": face["embedding"], "confidence": face["confidence"]}
                )
            result = backend.ingest(
                {
                    "source_system": source,
                    "model": model,
                    "results": [
                        {"external_id": e, "name": names[e], "faces": f}
                        for e, f in by_person.items()
                    ],
                }
            )
            totals["embeddings_stored"] += result["embeddings_stored"]
            totals["duplicates_skipped"] += result["duplicates_skipped"]
    return totals
