"""Export and import a source system's gallery: identities and vectors, never photos.

For backups and for moving between Studio installations. The file is JSON:

    {"format": "groundtruth-studio-gallery/1", "source_system": "alfred_catalog",
     "exported_at": "...", "identities": [{"external_id", "name"}],
     "embeddings": {"buffalo_l": [{"external_id", "embedding", "confidence"}]}}

Import goes through sync_identities (upsert) and ingest_embeddings (`studio
import` sends the payloads import_payloads() makes), so it is validated like
any payload and idempotent: importing a file twice stores nothing the second
time (vectors are exported at unit length, which ingest keeps bit for bit).
"""

from __future__ import annotations

from datetime import UTC, datetime

from app import queries
from app.db import Database

FORMAT = "groundtruth-studio-gallery/1"


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


def import_payloads(gallery: dict) -> tuple[dict, list[dict]]:
    """What importing an export sends: one sync payload (upserts), then one ingest
    payload a model, its faces grouped by person in the file's order. Raises
    ValueError for a file of another format."""
    if gallery.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    source = gallery["source_system"]
    names = {i["external_id"]: i["name"] for i in gallery["identities"]}
    ingests = []
    for model, faces in gallery["embeddings"].items():
        by_person: dict[str, list[dict]] = {}
        for face in faces:
            by_person.setdefault(face["external_id"], []).append(
                {"embedding": face["embedding"], "confidence": face["confidence"]}
            )
        ingests.append(
            {
                "source_system": source,
                "model": model,
                "results": [
                    {"external_id": e, "name": names[e], "faces": f} for e, f in by_person.items()
                ],
            }
        )
    return {"source_system": source, "identities": gallery["identities"]}, ingests
