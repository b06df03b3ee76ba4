"""The database stops during a stream of API calls, then comes back."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from helpers import auth, make_token, migrate

from app import create_app, embedded_db


@pytest.mark.slow
def test_api_answers_503_while_the_database_is_down_and_recovers_by_itself():
    data_dir = Path(tempfile.mkdtemp(prefix="studio-outage-")) / "data"
    url = embedded_db.start(data_dir)
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        token = make_token(conn, ["admin"])
    app = create_app({"database_url": url, "pool_size": 2})
    app.extensions["studio_db"].checkout_timeout = 1.0
    client = app.test_client()

    def sync(i):
        return client.post(
            "/api/identities/sync",
            data=json.dumps(
                {"source_system": "s", "identities": [{"external_id": str(i), "name": f"P{i}"}]}
            ),
            headers=auth(token),
            content_type="application/json",
        )

    acknowledged = []
    try:
        for i in range(5):
            assert sync(i).status_code == 200
            acknowledged.append(str(i))
        embedded_db.stop(data_dir)
        for i in range(5, 8):
            response = sync(i)
            assert response.status_code == 503, response.get_json()
            assert response.headers["Retry-After"].isdigit()
            assert response.get_json()["error"] == "database_unavailable"
        assert client.get("/readyz").status_code == 503
        embedded_db.start(data_dir)
        deadline = time.monotonic() + 30
        while (response := sync(8)).status_code != 200:
            assert response.status_code == 503 and time.monotonic() < deadline
            time.sleep(0.2)
        acknowledged.append("8")
        with psycopg.connect(url) as conn:
            stored = sorted(r[0] for r in conn.execute("SELECT external_id FROM identities"))
        assert stored == sorted(acknowledged), "everything acknowledged before the stop is there"
    finally:
        app.extensions["studio_db"].close()
        embedded_db.stop(data_dir)


def test_client_rides_out_a_short_outage():
    """StudioClient repeats a call answered 503 (with Retry-After) until Studio is back."""
    from flask import Flask
    from helpers import serve_in_thread

    from worker.studio_client import StudioClient

    answers = iter([503, 503, 200])
    fake = Flask("fake")

    @fake.post("/api/identities/ingest-embeddings")
    def ingest():
        status = next(answers)
        if status == 503:
            return {"success": False, "error": "database_unavailable"}, 503, {"Retry-After": "0"}
        return {"success": True, "embeddings_stored": 1}

    with serve_in_thread(fake) as url:
        assert StudioClient(url, "t").ingest({"x": 1})["embeddings_stored"] == 1
