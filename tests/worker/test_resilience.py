"""Faults: the catalog away, a face box, SIGTERM, a worker killed mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import DATA_FACES
from worker_support import FAST, catalog_client, catalog_of

from worker.alfred_side import submit_photos, sync_people
from worker.catalog_client import Person
from worker.face_embed_worker import FaceEmbedWorker, WorkerSettings, choose_face
from worker.face_engine import Detection
from worker.face_quality import FaceQuality

STUDIO = str(Path(sys.executable).parent / "studio")


def _det(box, score=0.9, sharpness=0.5):
    detection = Detection(box, score, np.zeros((5, 2)))
    return detection, FaceQuality(detection.size, sharpness, 0.0, 0.0, score)


@pytest.mark.parametrize(
    ("faces", "person", "expected", "reason"),
    [
        ([_det((0, 0, 100, 100))], Person("1", "A"), 0, None),
        ([], Person("1", "A"), None, "no_face"),
        ([_det((0, 0, 100, 100), 0.2)], Person("1", "A"), None, "low_detection_score"),
        ([_det((0, 0, 10, 10))], Person("1", "A"), None, "small_face"),
        ([_det((0, 0, 100, 100), sharpness=0.0)], Person("1", "A"), None, "blurred"),
        ([_det((0, 0, 100, 100)), _det((200, 0, 300, 100))], Person("1", "A"), None, "ambiguous"),
        # A blurred face behind the subject is a bystander; one as big could be the person.
        (
            [_det((0, 0, 100, 100)), _det((200, 0, 240, 40), sharpness=0.0)],
            Person("1", "A"),
            0,
            None,
        ),
        (
            [_det((0, 0, 100, 100)), _det((200, 0, 300, 100), 0.3)],
            Person("1", "A"),
            None,
            "ambiguous",
        ),
        (
            [_det((0, 0, 100, 100)), _det((200, 0, 300, 100))],
            Person("1", "A", (190, 5, 310, 95)),
            1,
            None,
        ),
        ([_det((0, 0, 100, 100))], Person("1", "A", (500, 500, 600, 600)), None, "no_face_in_box"),
    ],
)
def test_face_choice(faces, person, expected, reason):
    face, why = choose_face(faces, person, WorkerSettings())
    assert why == reason
    assert face is (faces[expected][0] if expected is not None else None)


def test_face_box_picks_the_labelled_person_in_a_group_photo(studio, engine, tmp_path, conn):
    import cv2

    group = DATA_FACES / "probes" / "obama_and_biden.jpg"
    faces = sorted(engine.detect(cv2.imread(str(group))), key=lambda d: d.box[0])
    (tmp_path / "people" / "biden").mkdir(parents=True)
    (tmp_path / "people" / "biden" / "group.jpg").write_bytes(group.read_bytes())
    # Left to right: Biden, Obama, and a girl at the bottom right, turned away.
    box = [round(v) for v in faces[0].box]
    (tmp_path / "people" / "face_boxes.json").write_text(f'{{"biden/group.jpg": {box}}}')
    from worker_support import serve_in_thread

    from worker.folder_catalog import create_catalog_app

    with serve_in_thread(create_catalog_app(tmp_path / "people")) as url:
        catalog = catalog_client(url)
        sync_people(catalog, studio, "alfred_catalog")
        job = submit_photos(studio, "alfred_catalog", batch_id="all")
        FaceEmbedWorker(studio, catalog, engine, FAST).run(exit_when_idle=True)
    assert studio.job(job["job_id"])["result"]["embeddings_stored"] == 1


def test_catalog_unreachable_fails_the_job_naming_photo_and_cause(studio, engine):
    job = studio.submit_job(
        {
            "job_type": "face_detect_embed",
            "max_attempts": 1,
            "config": {"source_system": "alfred_catalog", "photo_ids": ["abc123"]},
        }
    )
    dead = catalog_client("http://127.0.0.1:9", retries=2)
    FaceEmbedWorker(studio, dead, engine, FAST).run(exit_when_idle=True)
    status = studio.job(job["job_id"])
    assert status["state"] == "failed"
    assert "photo abc123" in status["error"] and "Connection refused" in status["error"]
    assert "after 3 tries" in status["error"]


def test_catalog_5xx_is_retried_then_succeeds(studio, engine, tmp_path):
    from flask import Flask
    from worker_support import serve_in_thread

    from worker.folder_catalog import create_catalog_app

    (tmp_path / "obama").mkdir()
    (tmp_path / "obama" / "a.jpg").write_bytes(
        (DATA_FACES / "people" / "obama" / "obama.jpg").read_bytes()
    )
    inner = create_catalog_app(tmp_path)
    failures = {"left": 2}
    flaky = Flask("flaky")

    @flaky.route("/<path:path>")
    def proxy(path):
        if path.endswith("/file") and failures["left"]:
            failures["left"] -= 1
            return "busy", 503
        with inner.test_client().get("/" + path) as response:
            return response.get_data(), response.status_code

    with serve_in_thread(flaky) as url:
        catalog = catalog_client(url)
        sync_people(catalog, studio, "alfred_catalog")
        job = submit_photos(studio, "alfred_catalog", batch_id="all")
        FaceEmbedWorker(studio, catalog, engine, FAST).run(exit_when_idle=True)
    assert studio.job(job["job_id"])["result"]["embeddings_stored"] == 1
    assert failures["left"] == 0


def _slow_catalog(tmp_path, copies):
    """Many photos of the six people (copies dedupe to the same vectors)."""
    photos = {}
    for folder in (DATA_FACES / "people").iterdir():
        photos[folder.name] = sorted(folder.iterdir()) * copies
    return catalog_of(tmp_path / "people", photos)


def _start_worker(live_server, token, catalog_url, *extra):
    env = {
        **os.environ,
        "STUDIO_URL": live_server,
        "STUDIO_TOKEN": token,
        "ALFRED_URL": catalog_url,
        "STUDIO_MODEL": "buffalo_s",
        "STUDIO_MODEL_ROOT": str(Path(os.environ.get("TMPDIR", "/tmp")) / "studio-test-models"),
        "STUDIO_DET_SIZE": "640",  # the queue is under test here, not small faces
    }
    return subprocess.Popen(
        [STUDIO, "worker", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_progress(studio, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = studio.job(job_id)
        if status["state"] == "running" and status["progress"].get("done", 0) > 0:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} made no progress: {studio.job(job_id)}")


@pytest.mark.slow
def test_sigterm_releases_the_job_for_another_worker(studio, engine, tmp_path, live_server, conn):
    with _slow_catalog(tmp_path, 40) as url:
        catalog = catalog_client(url)
        sync_people(catalog, studio, "alfred_catalog")
        job = submit_photos(studio, "alfred_catalog", batch_id="all")
        token = studio.session.headers["Authorization"].split()[1]
        process = _start_worker(live_server, token, url, "--exit-when-idle")
        try:
            _wait_for_progress(studio, job["job_id"])
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, process.stderr.read()[-2000:]
        finally:
            process.kill()
            process.wait()
            process.stderr.close()
        released = studio.job(job["job_id"])
        # Back in the queue at once, the claim not counted: stopping a worker
        # is not the job's failure, however often it happens.
        assert released["state"] == "queued" and released["attempt"] == 0
        assert released["error"] is None and released["errors"] == []
        assert 0 < released["progress"]["done"] < released["progress"]["total"]
        taken = studio.claim_job("next", 60)
        assert taken is not None and taken["job_id"] == job["job_id"] and taken["attempt"] == 1


@pytest.mark.slow
def test_killed_worker_job_is_finished_by_another_without_duplicates(
    studio, fast_engine, tmp_path, live_server, conn
):
    # Enough photos that the worker is killed mid-job; the rescuer does them all again.
    with _slow_catalog(tmp_path, 15) as url:
        catalog = catalog_client(url)
        sync_people(catalog, studio, "alfred_catalog")
        job = submit_photos(studio, "alfred_catalog", batch_id="all")
        token = studio.session.headers["Authorization"].split()[1]
        process = _start_worker(live_server, token, url, "--lease-seconds", "10")
        try:
            _wait_for_progress(studio, job["job_id"])
        finally:
            process.kill()
            process.wait()
            process.stderr.close()
        time.sleep(10.5)  # the dead worker's lease runs out; nothing to poll until then
        rescuer = FaceEmbedWorker(studio, catalog, fast_engine, FAST, worker_id="rescuer")
        rescuer.run(exit_when_idle=True)
    status = studio.job(job["job_id"])
    assert status["state"] == "completed" and status["attempt"] == 2
    assert status["worker_id"] == "rescuer"
    counts = conn.execute(
        "SELECT count(*), count(DISTINCT (identity_id, vector_hash)) FROM embeddings"
    ).fetchone()
    assert counts == (11, 11)


def test_catalog_that_hangs_times_out_and_fails_the_job_cleanly(studio, engine):
    import threading

    from flask import Flask
    from helpers import serve_in_thread

    release = threading.Event()
    hanging = Flask("hanging")

    @hanging.route("/<path:path>")
    def hang(path):
        release.wait(5)
        return "late", 200

    job = studio.submit_job(
        {
            "job_type": "face_detect_embed",
            "max_attempts": 1,
            "config": {"source_system": "alfred_catalog", "photo_ids": ["p1"]},
        }
    )
    with serve_in_thread(hanging) as url:
        slow = catalog_client(url, retries=1, timeout=(1.0, 0.3))
        FaceEmbedWorker(studio, slow, engine, FAST).run(exit_when_idle=True)
        release.set()
    status = studio.job(job["job_id"])
    assert status["state"] == "failed"
    assert "photo p1" in status["error"] and "did not answer in time" in status["error"]
