"""When Studio refuses the worker itself (its token, its model, its own claim),
no job is failed for it: the job goes back to the queue and the worker stops,
saying why. Settings are checked before any model loads."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_token
from worker_support import FAST, catalog_client

from worker.alfred_side import submit_photos, sync_people
from worker.catalog_client import CatalogClient
from worker.face_embed_worker import FaceEmbedWorker, StudioUnavailable, WorkerRefused
from worker.studio_client import StudioClient

STUDIO_WORKER = str(Path(sys.executable).parent / "studio-worker")


def _queued(studio: StudioClient, catalog_url: str) -> int:
    sync_people(catalog_client(catalog_url), studio, "alfred_catalog")
    return submit_photos(studio, "alfred_catalog", batch_id="obama")["job_id"]


def _untouched(studio: StudioClient, job_id: int) -> None:
    job = studio.job(job_id)
    assert (job["state"], job["attempt"], job["errors"]) == ("queued", 0, [])


def test_a_token_without_embeddings_write_gives_the_job_back_and_stops(
    studio, live_server, conn, catalog_url, fast_engine
):
    job_id = _queued(studio, catalog_url)
    token = make_token(conn, ["jobs:work"], ["alfred_catalog"])
    worker = FaceEmbedWorker(
        StudioClient(live_server, token), catalog_client(catalog_url), fast_engine, FAST
    )
    with pytest.raises(WorkerRefused, match="embeddings:write"):
        worker.run(exit_when_idle=True)
    _untouched(studio, job_id)
    assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0


def test_a_model_studio_refuses_gives_the_job_back_and_stops(
    studio, live_server, catalog_url, fast_engine, monkeypatch
):
    job_id = _queued(studio, catalog_url)
    monkeypatch.setattr(fast_engine, "model_name", "../models/buffalo_s")
    worker = FaceEmbedWorker(studio, catalog_client(catalog_url), fast_engine, FAST)
    with pytest.raises(WorkerRefused, match=r"\[model: "):
        worker.run(exit_when_idle=True)
    _untouched(studio, job_id)


@pytest.mark.parametrize(
    ("scopes", "settings", "worker_id", "named"),
    [
        (["identities:read"], {}, "w", "jobs:work"),
        (["jobs:work"], {}, "w" * 101, "worker_id"),
        (["jobs:work"], {"lease_seconds": 5}, "w", "lease_seconds"),
    ],
)
def test_a_claim_studio_refuses_stops_the_worker_naming_why(
    studio, live_server, conn, catalog_url, fast_engine, scopes, settings, worker_id, named
):
    job_id = _queued(studio, catalog_url)
    token = make_token(conn, scopes, ["alfred_catalog"])
    worker = FaceEmbedWorker(
        StudioClient(live_server, token),
        catalog_client(catalog_url),
        fast_engine,
        dataclasses.replace(FAST, **settings),
        worker_id=worker_id,
    )
    with pytest.raises(WorkerRefused, match=named):
        worker.run()  # not only when idle: waiting would not mend it
    _untouched(studio, job_id)


def test_told_to_exit_when_idle_a_worker_that_cannot_ask_is_not_idle(catalog_url, fast_engine):
    away = StudioClient("http://127.0.0.1:9", "gts_x", unavailable_retries=0)
    worker = FaceEmbedWorker(away, catalog_client(catalog_url), fast_engine, FAST)
    with pytest.raises(StudioUnavailable, match="cannot connect to Studio"):
        worker.run(exit_when_idle=True)


def _studio_worker(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "ALFRED_"))}
    return subprocess.run(
        [STUDIO_WORKER, *args],
        env=clean | {"STUDIO_MODEL": "buffalo_s"} | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"STUDIO_URL": "not a url"}, (), "STUDIO_URL='not a url': expected an http"),
        ({"ALFRED_URL": "alfred:8082"}, (), "ALFRED_URL='alfred:8082': expected an http"),
        ({"STUDIO_INFERENCE_THREADS": ""}, (), "STUDIO_INFERENCE_THREADS='': use 0"),
        ({"STUDIO_INFERENCE_THREADS": "٦"}, (), "STUDIO_INFERENCE_THREADS='٦': use 0"),
        ({"STUDIO_DET_SIZE": "②"}, (), "STUDIO_DET_SIZE='②': use auto"),
        ({"STUDIO_MODEL_ROOT": "/etc/passwd"}, (), "the face model root /etc/passwd cannot"),
        ({}, ("--lease-seconds", "5"), "argument --lease-seconds: '5': a whole number"),
    ],
)
def test_a_wrong_setting_is_one_line_and_exit_2(tmp_path, env, args, message):
    result = _studio_worker(
        "--exit-when-idle", *args, env={"STUDIO_URL": "http://127.0.0.1:9"} | env, cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_blank_model_root_is_unset_and_an_unreachable_studio_is_exit_1(tmp_path):
    """The default root under HOME, no folder named " " here; then Studio
    cannot be asked for a job, which --exit-when-idle must not take for idle."""
    result = _studio_worker(
        "--exit-when-idle",
        env={
            "STUDIO_URL": "http://127.0.0.1:9",
            "STUDIO_MODEL_ROOT": " ",
            "HOME": str(tmp_path / "home"),
        },
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: could not claim a job: ") and "cannot connect to Studio" in last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    assert (tmp_path / "home" / ".insightface" / "models" / "buffalo_s").is_dir()


def test_a_token_revoked_mid_job_stops_the_worker_at_its_next_heartbeat(
    studio, live_server, conn, tmp_path, fast_engine
):
    """Nothing a revoked token sends is taken, its release neither: the
    worker stops at once rather than working on for nothing, and the job
    waits for its lease (docs/jobs.md says so)."""
    import threading
    import time

    from helpers import DATA_FACES
    from worker_support import catalog_of

    photos = {p.name: sorted(p.iterdir()) * 20 for p in (DATA_FACES / "people").iterdir()}
    with catalog_of(tmp_path / "people", photos) as url:
        sync_people(catalog_client(url), studio, "alfred_catalog")
        job_id = submit_photos(studio, "alfred_catalog", batch_id="all")["job_id"]
        token = make_token(conn, ["jobs:work", "embeddings:write"], ["alfred_catalog"])
        name = conn.execute(
            "SELECT name FROM api_tokens ORDER BY created_at DESC LIMIT 1"
        ).fetchone()[0]
        worker = FaceEmbedWorker(
            StudioClient(live_server, token), catalog_client(url), fast_engine, FAST
        )
        raised: list[BaseException] = []

        def run() -> None:
            try:
                worker.run(exit_when_idle=True)
            except BaseException as exc:
                raised.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        while studio.job(job_id)["progress"].get("done", 0) == 0:
            time.sleep(0.05)
        conn.execute("SELECT revoke_api_token(%s)", (name,))
        revoked_at = time.monotonic()
        thread.join(timeout=60)
        stopped_after = time.monotonic() - revoked_at
    assert isinstance(raised[0], WorkerRefused) and "401" in str(raised[0])
    assert stopped_after < 5 * FAST.heartbeat_seconds + 2
    job = studio.job(job_id)
    assert job["state"] == "running" and job["progress"]["done"] < job["progress"]["total"]


def test_stopped_during_a_catalog_outage_the_job_is_released_not_failed(
    studio, tmp_path, fast_engine
):
    """SIGTERM while the worker waits out a catalog that went away: the outage
    is not the job's failure, and stopping gives it back (claim not counted)."""
    import threading
    import time

    from helpers import DATA_FACES
    from werkzeug.serving import make_server

    from app.processes import free_port
    from worker.folder_catalog import create_catalog_app

    root = tmp_path / "people"
    for person in (DATA_FACES / "people").iterdir():
        (root / person.name).mkdir(parents=True)
        for i, photo in enumerate(sorted(person.iterdir()) * 10):
            (root / person.name / f"{i}{photo.suffix}").write_bytes(photo.read_bytes())
    port = free_port()
    server = make_server("127.0.0.1", port, create_catalog_app(root), threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    catalog = CatalogClient(f"http://127.0.0.1:{port}", backoff_seconds=0.4)
    sync_people(catalog, studio, "alfred_catalog")
    job_id = submit_photos(studio, "alfred_catalog", batch_id="all")["job_id"]
    worker = FaceEmbedWorker(studio, catalog, fast_engine, FAST)
    thread = threading.Thread(target=worker.run, kwargs={"exit_when_idle": True})
    thread.start()
    while studio.job(job_id)["progress"].get("done", 0) == 0:
        time.sleep(0.05)
    server.shutdown()  # the catalog goes away mid-job ...
    server.server_close()
    time.sleep(1.5)  # ... the photos fetched ahead are done, a download is being retried
    worker.stopping.set()  # ... and then SIGTERM
    thread.join(timeout=60)
    job = studio.job(job_id)
    assert (job["state"], job["attempt"], job["errors"]) == ("queued", 0, []), job
