"""The database stops while a worker is in the middle of a job, then comes back."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from helpers import DATA_FACES, make_token, migrate
from worker_support import FAST, catalog_client, catalog_of

from app import embedded_db
from app.processes import spawn_studio
from worker.alfred_side import submit_photos, sync_people
from worker.face_embed_worker import FaceEmbedWorker
from worker.studio_client import StudioClient


@pytest.mark.slow
def test_worker_job_completes_across_a_database_restart(fast_engine, tmp_path):
    data_dir = Path(tempfile.mkdtemp(prefix="studio-worker-outage-")) / "data"
    url = embedded_db.start(data_dir)
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        token = make_token(
            conn, ["identities:write", "embeddings:write", "jobs:submit", "jobs:work"]
        )
    log = (tmp_path / "serve.log").open("wb")
    server, base = spawn_studio({**os.environ, "STUDIO_DATABASE_URL": url}, log=log)
    photos = {p.name: sorted(p.iterdir()) * 30 for p in (DATA_FACES / "people").iterdir()}
    try:
        studio = StudioClient(base, token, max_retry_after=1.0, unavailable_retries=60)
        with catalog_of(tmp_path / "people", photos) as catalog_url:
            catalog = catalog_client(catalog_url)
            sync_people(catalog, studio, "alfred_catalog")
            job = submit_photos(studio, "alfred_catalog", batch_id="all")
            worker = FaceEmbedWorker(studio, catalog, fast_engine, FAST, worker_id="through-outage")
            thread = threading.Thread(target=worker.run, kwargs={"exit_when_idle": True})
            thread.start()
            deadline = time.monotonic() + 60
            while studio.job(job["job_id"])["progress"].get("done", 0) == 0:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            embedded_db.stop(data_dir)
            time.sleep(3)
            embedded_db.start(data_dir)
            thread.join(timeout=180)
            assert not thread.is_alive()
        status = studio.job(job["job_id"])
        assert status["state"] == "completed", status
        with psycopg.connect(url) as conn:
            assert conn.execute(
                "SELECT count(*), count(DISTINCT (identity_id, vector_hash)) FROM embeddings"
            ).fetchone() == (11, 11)
            assert conn.execute("SELECT count(*) FROM identities").fetchone()[0] == 6
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        embedded_db.stop(data_dir)
