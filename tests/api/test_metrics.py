"""Prometheus metrics: requests and latency per endpoint, decisions, gallery, jobs; who may
read them."""

from __future__ import annotations

import json

import psycopg
import pytest
import requests
from helpers import auth, make_token, vector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.auth import SCOPES


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
    text = client.get("/metrics", headers=auth(admin_token)).get_data(as_text=True)
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
    scraper = make_token(conn, ["metrics"])
    text = requests.get(f"{live_server}/metrics", headers=auth(scraper), timeout=10).text
    line = next(
        row
        for row in text.splitlines()
        if row.startswith('studio_http_requests_total{endpoint="/api/identities/external"')
    )
    assert float(line.rsplit(" ", 1)[1]) == 3.0


@pytest.fixture
def public_client(db_url):
    application = create_app({"database_url": db_url, "pool_size": 2, "metrics_public": True})
    yield application.test_client()
    application.extensions["studio_db"].close()


COUNTS = ("studio_jobs{", "studio_gallery_references{")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    scopes=st.sets(st.sampled_from(SCOPES), min_size=1),
    bound=st.booleans(),
    header=st.sampled_from(["valid", "none", "unknown", "basic"]),
    public=st.booleans(),
)
def test_only_an_unbound_metrics_token_reads_metrics_unless_opened(
    client, public_client, conn, scopes, bound, header, public
):
    conn.execute(
        "SELECT submit_job(%s::jsonb)",
        (
            json.dumps(
                {"job_type": "face_detect_embed", "config": {"source_system": "s", "batch_id": 1}}
            ),
        ),
    )
    try:
        token = make_token(conn, sorted(scopes), ["s"] if bound else None)
    except psycopg.errors.InvalidParameterValue as exc:
        # The metrics scope is refused on a bound token when it is created.
        assert bound and "metrics" in scopes, exc
        return
    headers = {
        "valid": auth(token),
        "none": {},
        "unknown": auth("gts_unknown"),
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[header]
    response = (public_client if public else client).get("/metrics", headers=headers)
    text = response.get_data(as_text=True)
    allowed = public or (header == "valid" and not bound and bool({"metrics", "admin"} & scopes))
    if allowed:
        assert response.status_code == 200 and 'studio_jobs{state="queued"}' in text
    else:
        expected = 401 if header != "valid" else 403
        assert response.status_code == expected, text
        assert response.get_json()["success"] is False
        assert not any(c in text for c in COUNTS)
