"""The job endpoints, as the catalog side and a worker call them."""

from __future__ import annotations

import json

from helpers import auth, make_token

SUBMIT = {
    "job_type": "face_detect_embed",
    "config": {"source_system": "alfred_catalog", "photo_ids": [1, 2]},
}


def post(client, path, body, token):
    return client.post(
        path, data=json.dumps(body), headers=auth(token), content_type="application/json"
    )


def test_submit_claim_heartbeat_complete_status(client, conn):
    submitter = make_token(conn, ["jobs:submit"], ["alfred_catalog"])
    worker = make_token(conn, ["jobs:work"])
    submitted = post(client, "/api/training/submit", SUBMIT, submitter)
    assert submitted.status_code == 202
    job_id = submitted.get_json()["job_id"]

    claimed = post(client, "/api/training/jobs/claim", {"worker_id": "gpu-1"}, worker)
    assert claimed.status_code == 200
    lease = claimed.get_json()["job"]["lease_token"]
    assert (
        post(client, "/api/training/jobs/claim", {"worker_id": "gpu-2"}, worker).status_code == 204
    )

    beat = post(
        client,
        f"/api/training/jobs/{job_id}/heartbeat",
        {"lease_token": lease, "progress": {"done": 1, "total": 2}},
        worker,
    )
    assert beat.status_code == 200
    status = client.get(f"/api/training/jobs/{job_id}", headers=auth(submitter)).get_json()
    assert (status["state"], status["progress"]) == ("running", {"done": 1, "total": 2})
    assert "lease_token" not in status

    done = post(
        client,
        f"/api/training/jobs/{job_id}/complete",
        {"lease_token": lease, "result": {"embeddings_stored": 2}},
        worker,
    )
    assert done.get_json()["state"] == "completed"
    again = post(client, f"/api/training/jobs/{job_id}/complete", {"lease_token": lease}, worker)
    assert (again.status_code, again.get_json()["error"]) == (409, "stale_lease")
    listing = client.get("/api/training/jobs", headers=auth(submitter)).get_json()
    assert listing["counts"]["completed"] == 1


def test_unknown_job_is_404(client, admin_token):
    response = client.get("/api/training/jobs/12345", headers=auth(admin_token))
    assert (response.status_code, response.get_json()["error"]) == (404, "job_not_found")


def test_scopes_and_source_binding(client, conn):
    worker = make_token(conn, ["jobs:work"])
    assert post(client, "/api/training/submit", SUBMIT, worker).status_code == 403
    other = make_token(conn, ["jobs:submit"], ["other_system"])
    assert post(client, "/api/training/submit", SUBMIT, other).status_code == 403


def test_submit_validation_is_400_with_every_error(client, admin_token):
    response = post(
        client, "/api/training/submit", {"job_type": "x", "config": {"photo_ids": []}}, admin_token
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert {"job_type", "config.source_system", "config.photo_ids"} <= fields
