"""The worker against a catalog written from the seed document alone.

The catalog below answers exactly the shapes of SEED.md "Option B" and
nothing else: no `people` list, no face boxes, no `GET /api/people`, batch
entries without `file_url`, numeric and string person IDs. Jobs are submitted
with the seed's own payload.
"""

from __future__ import annotations

import requests
from flask import Flask, abort, jsonify, request
from helpers import DATA_FACES, auth, make_token, serve_in_thread
from worker_support import FAST, catalog_client, files_opened_for_writing

from worker.face_embed_worker import FaceEmbedWorker

# photo_id -> (person_id as Alfred's database has it, person_name, file)
PHOTOS = {
    "photo_001": (42, "John Smith", DATA_FACES / "people" / "obama" / "obama.jpg"),
    "photo_002": (42, "John Smith", DATA_FACES / "people" / "obama" / "obama2.jpg"),
    "photo_003": (87, "Jane Doe", DATA_FACES / "people" / "rose_leslie" / "img1.jpg"),
    "photo_004": ("u-7f3a", "Joe Example", DATA_FACES / "people" / "biden" / "biden.jpg"),
}
BATCHES = {"batch_2026_02_25": ["photo_001", "photo_002", "photo_003", "photo_004"]}


def seed_catalog(requested: list[str]) -> Flask:
    """Alfred's catalog API as SEED.md describes it; every path asked is recorded."""
    app = Flask(__name__)

    @app.before_request
    def _record():
        requested.append(request.path)

    @app.get("/api/photos/<photo_id>")
    def photo(photo_id):
        if photo_id not in PHOTOS:
            abort(404)
        person_id, person_name, _ = PHOTOS[photo_id]
        return jsonify(
            {
                "photo_id": photo_id,
                "person_id": person_id,
                "person_name": person_name,
                "file_url": f"/api/photos/{photo_id}/file",
            }
        )

    @app.get("/api/photos/<photo_id>/file")
    def photo_file(photo_id):
        if photo_id not in PHOTOS:
            abort(404)
        return PHOTOS[photo_id][2].read_bytes(), 200, {"Content-Type": "image/jpeg"}

    @app.get("/api/batches/<batch_id>/photos")
    def batch(batch_id):
        if batch_id not in BATCHES:
            abort(404)
        return jsonify(
            {
                "photos": [
                    {"photo_id": p, "person_id": PHOTOS[p][0], "person_name": PHOTOS[p][1]}
                    for p in BATCHES[batch_id]
                ]
            }
        )

    return app


def _references(conn) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        "SELECT i.external_id, i.name, count(e.*) FROM identities i "
        "LEFT JOIN embeddings e ON e.identity_id = i.identity_id AND e.is_reference "
        "WHERE i.source_system = 'alfred_catalog' GROUP BY 1, 2"
    ).fetchall()
    return {(external_id, name): count for external_id, name, count in rows}


def test_both_job_kinds_enrol_the_seed_catalogs_people(studio, live_server, engine, conn):
    STUDIO_URL = live_server
    HEADERS = auth(make_token(conn, ["jobs:submit"], ["alfred_catalog"]))
    requested: list[str] = []
    with serve_in_thread(seed_catalog(requested)) as alfred:
        worker = FaceEmbedWorker(studio, catalog_client(alfred), engine, FAST, worker_id="seed")

        # The seed's payload, photo_ids first.
        payload = {
            "job_type": "face_detect_embed",
            "config": {"source_system": "alfred_catalog", "photo_ids": ["photo_001", "photo_003"]},
        }
        by_ids = requests.post(f"{STUDIO_URL}/api/training/submit", json=payload, headers=HEADERS)
        assert by_ids.status_code == 202, by_ids.text
        with files_opened_for_writing() as writes:
            assert worker.run(exit_when_idle=True) == 1
        assert writes == [], f"the worker opened files for writing: {writes}"
        result = studio.job(by_ids.json()["job_id"])
        assert result["state"] == "completed", result
        assert result["result"]["embeddings_stored"] == 2
        assert _references(conn) == {("42", "John Smith"): 1, ("87", "Jane Doe"): 1}

        # Then the batch: the two new photos are added, the two known ones not twice.
        payload = {
            "job_type": "face_detect_embed",
            "config": {"source_system": "alfred_catalog", "batch_id": "batch_2026_02_25"},
        }
        by_batch = requests.post(f"{STUDIO_URL}/api/training/submit", json=payload, headers=HEADERS)
        assert by_batch.status_code == 202, by_batch.text
        with files_opened_for_writing() as writes:
            assert worker.run(exit_when_idle=True) == 1
        assert writes == []
        summary = studio.job(by_batch.json()["job_id"])["result"]
        assert (summary["embeddings_stored"], summary["duplicates_skipped"]) == (2, 2), summary
        assert summary["skipped"] == {} and summary["skipped_photos"] == []
        assert _references(conn) == {
            ("42", "John Smith"): 2,
            ("87", "Jane Doe"): 1,
            ("u-7f3a", "Joe Example"): 1,
        }

        # A second batch job adds nothing.
        requests.post(f"{STUDIO_URL}/api/training/submit", json=payload, headers=HEADERS)
        worker.run(exit_when_idle=True)
        assert _references(conn)[("42", "John Smith")] == 2

    # The bytes came from the catalog: each photo's file was asked for, and
    # the batch's (which carry no file_url) at the path the seed shows.
    for photo_id in PHOTOS:
        assert f"/api/photos/{photo_id}/file" in requested
    assert set(requested) <= {
        *(f"/api/photos/{p}" for p in PHOTOS),
        *(f"/api/photos/{p}/file" for p in PHOTOS),
        "/api/batches/batch_2026_02_25/photos",
    }


def test_a_missing_photo_is_named_in_the_summary(studio, live_server, engine, conn):
    token = make_token(conn, ["jobs:submit"], ["alfred_catalog"])
    with serve_in_thread(seed_catalog([])) as alfred:
        job = requests.post(
            f"{live_server}/api/training/submit",
            json={
                "job_type": "face_detect_embed",
                "config": {"source_system": "alfred_catalog", "photo_ids": ["photo_004", "gone"]},
            },
            headers=auth(token),
        ).json()
        FaceEmbedWorker(studio, catalog_client(alfred), engine, FAST).run(exit_when_idle=True)
    status = studio.job(job["job_id"])
    assert status["state"] == "completed"
    assert status["result"]["skipped"] == {"not_found": 1}
    assert status["result"]["skipped_photos"] == [{"photo_id": "gone", "reason": "not_found"}]
    assert _references(conn) == {("u-7f3a", "Joe Example"): 1}
