"""The whole flow on one machine, from nothing: `make demo`.

embedded PostgreSQL -> Studio API (gunicorn) -> folder catalog of demo/people
-> identity sync -> face_detect_embed job -> face_embed_worker on CPU ->
a table of identities with their embedding counts and the job summary, then
the probe photos recognised against the people enrolled, and the demo
video watched as a camera, with the sightings it leaves.

Everything runs in .demo-data/ (removed first), so the demo never touches
the database `make run` uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from app import embedded_db, queries
from app.camera_matcher import DatabaseMatcher
from app.config import PROJECT_ROOT, Settings
from app.db import Database
from app.person_recognizer import PersonRecognizer
from app.processes import spawn_catalog, spawn_studio
from worker.alfred_side import submit_photos, sync_people
from worker.camera_recognition import recognize_source
from worker.camera_service import Camera, CameraService
from worker.catalog_client import CatalogClient
from worker.face_embed_worker import FaceEmbedWorker
from worker.face_engine import load_engine
from worker.studio_client import StudioClient

DEMO_DATA = PROJECT_ROOT / ".demo-data"
PEOPLE = PROJECT_ROOT / "demo" / "people"


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main() -> None:
    shutil.rmtree(DEMO_DATA, ignore_errors=True)
    DEMO_DATA.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "ALFRED_"))}
    env |= {"STUDIO_DATA_DIR": str(DEMO_DATA / "db")}
    logs = (DEMO_DATA / "studio.log").open("wb"), (DEMO_DATA / "catalog.log").open("wb")
    processes = []
    try:
        step(f"Studio (embedded PostgreSQL in {DEMO_DATA / 'db'})")
        studio_process, studio_url = spawn_studio(env, log=logs[0], workers=2)
        processes.append(studio_process)
        print(f"listening on {studio_url}")

        step(f"Folder catalog of {PEOPLE.relative_to(PROJECT_ROOT)}")
        catalog_process, catalog_url = spawn_catalog(PEOPLE, env=env, log=logs[1])
        processes.append(catalog_process)
        print(f"listening on {catalog_url}")

        database = Database(embedded_db.start(DEMO_DATA / "db"))
        _, token = database.fetch_one(
            queries.CREATE_TOKEN,
            "demo",
            [
                "identities:write",
                "identities:read",
                "embeddings:write",
                "jobs:submit",
                "jobs:work",
                "recognize",
                "sightings:write",
                "sightings:read",
            ],
            ["alfred_catalog"],
            None,
        )
        studio = StudioClient(studio_url, token)
        catalog = CatalogClient(catalog_url)

        step("Sync the catalog's people into Studio (names and IDs only)")
        print(json.dumps(sync_people(catalog, studio, "alfred_catalog"), indent=2))

        step("Submit a face_detect_embed job for every photo")
        job = submit_photos(studio, "alfred_catalog", batch_id="all")
        print(f"job {job['job_id']} {job['state']}")

        step("Run face_embed_worker on CPU until the queue is empty")
        settings = Settings.from_env(
            model="buffalo_s", model_root=DEMO_DATA / "models", studio_url=studio.base_url
        )
        engine = load_engine(settings.model, settings.model_root)
        print(f"models: {engine.model_name}, providers: {engine.providers}")
        FaceEmbedWorker(studio, catalog, engine, worker_id="demo-worker").run(exit_when_idle=True)

        step("Job summary")
        status = studio.job(job["job_id"])
        print(
            json.dumps({k: status[k] for k in ("state", "attempt", "progress", "result")}, indent=2)
        )

        step("Identities in Studio")
        rows = studio.identities("alfred_catalog")["identities"]
        width = max(len(r["name"]) for r in rows)
        print(f"{'external_id':20}  {'name':{width}}  embeddings")
        for r in rows:
            print(f"{r['external_id']:20}  {r['name']:{width}}  {r['embedding_count']}")
        if status["state"] != "completed":
            raise SystemExit("the job did not complete")

        step("Recognise the probe photos (people the catalog knows, and strangers)")
        matcher = DatabaseMatcher(PersonRecognizer(database, engine.model_name, listen=False))
        for probe in sorted((PROJECT_ROOT / "demo" / "probes").glob("*.jpg")):
            for sighting in recognize_source(str(probe), engine, matcher):
                who = sighting["name"] or "-"
                print(
                    f"{probe.name:24} box {sighting['box']!s:24} {sighting['decision']:10} "
                    f"{who:20} similarity {sighting['similarity']:.2f}"
                )

        step("Watch the demo video as a camera (studio watch): one sighting a track")
        clip = PROJECT_ROOT / "demo" / "probes" / "short_hamilton_clip.mp4"
        CameraService([Camera("stage", str(clip), 2.0)], engine, studio, status_seconds=3600).run()
        subprocess.run(
            [str(Path(sys.executable).parent / "studio"), "sightings", "--camera", "stage"],
            env=env | {"STUDIO_URL": studio_url, "STUDIO_TOKEN": token},
            check=True,
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        for log in logs:
            log.close()


if __name__ == "__main__":
    main()
