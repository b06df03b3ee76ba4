"""Many worker hosts: workers in network namespaces of their own (each a host,
as separate GPU machines are), all claiming jobs from one Studio over HTTP.
Every job is done once, nothing is lost when a worker is killed mid-job, and
ingests of one source run side by side."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import psycopg
import pytest
from helpers import DATA_FACES, make_token, wait_for
from network_hosts import hosts

from app.processes import spawn_catalog, spawn_studio
from worker.alfred_side import submit_photos, sync_people
from worker.catalog_client import CatalogClient
from worker.studio_client import StudioClient

BIN = Path(sys.executable).parent
COPIES = 3  # variants of each demo photo: 6 people, 11 photos, 33 photos


def catalog_of_variants(folder: Path) -> int:
    """The demo people, each photo in COPIES slightly different sizes (so no two
    embeddings are equal and none is deduplicated away); how many photos."""
    count = 0
    for person in sorted(p for p in (DATA_FACES / "people").iterdir() if p.is_dir()):
        (folder / person.name).mkdir(parents=True)
        for photo in sorted(person.iterdir()):
            image = cv2.imread(str(photo))
            for copy in range(COPIES):
                scale = 1.0 - 0.07 * copy
                variant = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(folder / person.name / f"{copy}-{photo.stem}.png"), variant)
                count += 1
    return count


def test_workers_on_separate_hosts_do_every_job_once_and_survive_a_kill(
    db_url, conn, tmp_path, tmp_path_factory
):
    from worker.face_engine import offline_pack

    model_root = offline_pack(tmp_path_factory.mktemp("models"))
    photos = catalog_of_variants(tmp_path / "catalog")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "ALFRED_"))}
    # Both servers listen on every interface: the hosts reach them over their cables.
    studio_process, studio_local = spawn_studio(
        env | {"STUDIO_DATABASE_URL": db_url, "STUDIO_HOST": "0.0.0.0"}, workers=2
    )
    catalog_process, catalog_local = spawn_catalog(tmp_path / "catalog", env=env, host="0.0.0.0")
    catalog_port = catalog_local.rsplit(":", 1)[1]
    studio_port = studio_local.rsplit(":", 1)[1]
    workers: list[subprocess.Popen] = []
    logs = []
    try:
        token = make_token(
            conn,
            ["identities:write", "embeddings:write", "jobs:submit", "jobs:work", "identities:read"],
        )
        studio = StudioClient(studio_local, token)
        sync_people(CatalogClient(catalog_local), studio, "alfred_catalog")
        people = sorted(p.name for p in (tmp_path / "catalog").iterdir())
        jobs = [submit_photos(studio, "alfred_catalog", batch_id=p)["job_id"] for p in people]

        with hosts(3) as machines:
            for index, host in enumerate(machines):
                logs.append((tmp_path / f"worker-{index}.log").open("wb"))
                workers.append(
                    subprocess.Popen(
                        host.command(
                            "env",
                            f"STUDIO_URL=http://{host.server}:{studio_port}",
                            f"STUDIO_TOKEN={token}",
                            f"ALFRED_URL=http://{host.server}:{catalog_port}",
                            "STUDIO_MODEL=buffalo_s",
                            f"STUDIO_MODEL_ROOT={model_root}",
                            "STUDIO_DET_SIZE=640",
                            str(BIN / "studio-worker"),
                            "--worker-id",
                            f"host-{index}",
                            "--lease-seconds",
                            "10",
                        ),
                        stdout=logs[-1],
                        stderr=subprocess.STDOUT,
                    )
                )
            # Kill the first host's worker as soon as it holds a job.
            victim = wait_for(
                lambda: conn.execute(
                    "SELECT job_id FROM jobs WHERE worker_id = 'host-0' AND state = 'running'"
                ).fetchone(),
                timeout=120,
            )[0]
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(timeout=10)
            wait_for(
                lambda: conn.execute(
                    "SELECT bool_and(state = 'completed') FROM jobs WHERE job_id = ANY(%s)", (jobs,)
                ).fetchone()[0],
                timeout=240,
            )
            for worker in workers[1:]:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)

        rows = conn.execute(
            "SELECT job_id, attempt, worker_id, result FROM jobs ORDER BY job_id"
        ).fetchall()
        by_id = {job_id: (attempt, worker, result) for job_id, attempt, worker, result in rows}
        # The killed worker's job was taken over after its lease; no other job ran twice.
        assert by_id[victim][0] == 2 and by_id[victim][1] != "host-0"
        assert all(attempt == 1 for job_id, (attempt, _, _) in by_id.items() if job_id != victim)
        assert {worker for _, worker, _ in by_id.values()} == {"host-1", "host-2"}
        # Every photo's face stored once: what the jobs report is what is stored.
        stored = sum(result["embeddings_stored"] for _, _, result in by_id.values())
        assert stored == conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        assert stored == photos - sum(
            sum(result["skipped"].values()) for _, _, result in by_id.values()
        )
        assert stored >= photos * 0.8
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=30)
        for log in logs:
            log.close()
        for process in (catalog_process, studio_process):
            process.terminate()
            process.wait(timeout=30)


def _ingest(url: str, external_id: str, seed: int) -> None:
    vector = [((seed * 7919 + i * 104729) % 1000) / 1000 - 0.5 for i in range(512)]
    payload = {
        "source_system": "alfred_catalog",
        "model": "buffalo_s",
        "results": [
            {"external_id": external_id, "name": external_id, "faces": [{"embedding": vector}]}
        ],
    }
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET lock_timeout = '2s'")
        connection.execute("SELECT ingest_embeddings(%s::jsonb)", (json.dumps(payload),))


def test_ingests_of_one_source_run_side_by_side_while_a_sync_waits(db_url):
    """The per-source lock is shared by ingests (one never waits for another of
    the same source) and exclusive for a sync, which deletes."""
    with psycopg.connect(db_url) as holder:  # a transaction left open, mid-ingest
        holder.execute(
            "SELECT ingest_embeddings(%s::jsonb)",
            (
                json.dumps(
                    {
                        "source_system": "alfred_catalog",
                        "model": "buffalo_s",
                        "results": [
                            {"external_id": "a", "name": "A", "faces": [{"embedding": [0.1] * 512}]}
                        ],
                    }
                ),
            ),
        )
        started = time.monotonic()
        done = []
        others = [
            threading.Thread(target=lambda i=i: (_ingest(db_url, f"p{i}", i), done.append(i)))
            for i in range(4)
        ]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join(timeout=10)
        assert sorted(done) == [0, 1, 2, 3] and time.monotonic() - started < 2
        with psycopg.connect(db_url, autocommit=True) as syncer:
            syncer.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                syncer.execute(
                    """SELECT sync_identities('{"source_system": "alfred_catalog",
                       "identities": [{"external_id": "p0", "action": "delete"}]}')"""
                )
        holder.rollback()
