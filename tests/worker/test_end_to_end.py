"""Catalog -> job -> worker -> identities with embeddings, on real photos and models."""

from __future__ import annotations

import logging
import re

from helpers import DATA_FACES
from worker_support import FAST, catalog_client, catalog_of, files_opened_for_writing

from worker.alfred_side import submit_photos, sync_people
from worker.face_embed_worker import FaceEmbedWorker

PHOTOS_PER_PERSON = {
    "alex_lacamoire": 2,
    "biden": 2,
    "kit_harington": 2,
    "lin_manuel_miranda": 1,
    "obama": 2,
    "rose_leslie": 2,
}


def test_catalog_to_identities_with_embeddings_and_no_photo_on_disk(
    studio, catalog_url, engine, conn, caplog
):
    catalog = catalog_client(catalog_url)
    synced = sync_people(catalog, studio, "alfred_catalog")
    assert synced["created"] == 6
    job = submit_photos(studio, "alfred_catalog", batch_id="all")

    worker = FaceEmbedWorker(studio, catalog, engine, FAST, worker_id="test-worker")
    caplog.set_level(logging.DEBUG)
    with files_opened_for_writing() as writes:
        assert worker.run(exit_when_idle=True) == 1
    assert writes == [], f"the worker opened files for writing: {writes}"

    status = studio.job(job["job_id"])
    assert status["state"] == "completed", status
    result = status["result"]
    assert (result["photos"], result["embeddings_stored"], result["identities"]) == (11, 11, 6)
    assert result["skipped"] == {}
    assert result["model"] == "buffalo_s" and result["provider"].endswith("ExecutionProvider")
    assert status["progress"] == {"done": 11, "total": 11}

    counts = dict(
        conn.execute(
            "SELECT i.external_id, count(*) FROM identities i JOIN embeddings e USING (identity_id) "
            "WHERE e.model = 'buffalo_s' AND e.is_reference GROUP BY 1"
        ).fetchall()
    )
    assert counts == PHOTOS_PER_PERSON
    assert (
        conn.execute(
            "SELECT count(*) FROM embeddings WHERE source_image_path IS NOT NULL"
        ).fetchone()[0]
        == 0
    )
    # Logs carry counts and IDs, never vectors or photo bytes.
    vector_like = re.compile(r"-?\d+\.\d+,\s*-?\d+\.\d+,\s*-?\d+\.\d+")
    for record in caplog.records:
        message = record.getMessage()
        assert len(message) < 2000 and not vector_like.search(message), message

    # Done again (another attempt, a replayed job): nothing is stored twice.
    submit_photos(studio, "alfred_catalog", batch_id="all")
    worker.run(exit_when_idle=True)
    again = studio.job(job["job_id"] + 1)["result"]
    assert (again["embeddings_stored"], again["duplicates_skipped"]) == (0, 11)


def test_group_photo_without_a_box_enrols_nobody(studio, engine, tmp_path, conn):
    group = {"obama": [DATA_FACES / "probes" / "obama_and_biden.jpg"]}
    with catalog_of(tmp_path, group) as url:
        catalog = catalog_client(url)
        sync_people(catalog, studio, "alfred_catalog")
        job = submit_photos(studio, "alfred_catalog", batch_id="all")
        FaceEmbedWorker(studio, catalog, engine, FAST).run(exit_when_idle=True)
    result = studio.job(job["job_id"])["result"]
    assert result["embeddings_stored"] == 0 and result["skipped"] == {"ambiguous": 1}
