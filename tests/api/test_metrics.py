"""Prometheus metrics: requests and latency per endpoint, decisions, gallery, jobs."""

from __future__ import annotations

import json

import requests
from helpers import auth, make_token, vector


def test_metrics_in_process(client, conn, admin_token):
    client.get("/api/identities/external", headers=auth(admin_token))
    conn.execute(
        "SELECT ingest_embeddings(%s::jsonb)",
        (
            json.dumps(
                {
                    "source_system": "s",
                    "model": "buffalo_s",
                    "results": [
                        {"external_id": "1", "name": "A", "faces": [{"embedding": vector(1)}]}
                    ],
                }
            ),
        ),
    )
    conn.execute(
        """SELECT submit_job('{"job_type": "face_detect_embed", "config": {"source_system": "s", "batch_id": 1}}')"""
    )
    client.post(
        "/api/recognize",
        data=json.dumps({"probes": [vector(1)], "model": "buffalo_s"}),
        headers=auth(admin_token),
        content_type="application/json",
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'studio_http_requests_total{endpoint="/api/identities/external",method="GET",status="200"}'
        in text
    )
    assert "studio_http_request_seconds_bucket" in text
    assert 'studio_gallery_references{model="buffalo_s"} 1.0' in text
    assert 'studio_jobs{state="queued"} 1.0' in text
    assert 'studio_recognition_decisions_total{decision="identified"}' in text
    for recognizer in client.application.extensions.get("studio_recognizers", {}).values():
        recognizer.close()


def test_metrics_across_gunicorn_workers(live_server, conn):
    token = make_token(conn, ["identities:read"])
    for _ in range(3):
        requests.get(f"{live_server}/api/identities/external", headers=auth(token), timeout=10)
    text = requests.get(f"{live_server}/metrics", timeout=10).text
    line = next(
        row
        for row in text.splitlines()
        if row.startswith('studio_http_requests_total{endpoint="/api/identities/external"')
    )
    assert float(line.rsplit(" ", 1)[1]) == 3.0
