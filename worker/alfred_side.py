"""The catalog side of the integration: keep Studio's people in step, queue photos.

What Alfred (or its cron) runs; `studio alfred sync` and `studio alfred
submit` call these. Only IDs and names are sent, never photos.
"""

from __future__ import annotations

from worker.catalog_client import CatalogClient
from worker.studio_client import StudioClient


def sync_people(
    catalog: CatalogClient,
    studio: StudioClient,
    source_system: str,
    *,
    full: bool = True,
    dry_run: bool = False,
) -> dict:
    """Upsert every person of the catalog (renames included). With `full`, people
    gone from the catalog are deleted in Studio too (guarded against mass deletes).

    Reads `GET /api/people`, which the folder catalog serves but the seed's
    Alfred does not: there, pipe the people from Alfred's own database into
    `studio sync - --full` instead (README, "The catalog side")."""
    people = catalog.people()
    payload = {
        "source_system": source_system,
        "identities": [
            {"external_id": p["person_id"], "name": p["person_name"], "action": "upsert"}
            for p in people
        ],
        "mode": "full" if full else "incremental",
        "dry_run": dry_run,
    }
    return studio.sync(payload)


def submit_photos(
    studio: StudioClient,
    source_system: str,
    *,
    batch_id: str | None = None,
    photo_ids: list[str] | None = None,
) -> dict:
    """Queue one face_detect_embed job for a batch or a list of photo IDs."""
    config: dict = {"source_system": source_system}
    if batch_id is not None:
        config["batch_id"] = batch_id
    else:
        config["photo_ids"] = list(photo_ids or [])
    return studio.submit_job({"job_type": "face_detect_embed", "config": config})
