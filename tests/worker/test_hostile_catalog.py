"""The worker trusts nothing from a job or the catalog.

Generated catalog answers either parse into a photo whose every field is
sound or are refused with a reason; IDs never steer a catalog URL; a
malformed answer fails that photo (or that job) with a clear reason, and the
worker goes on with the next job.
"""

from __future__ import annotations

import json

import requests
from flask import Flask, jsonify, request
from helpers import DATA_FACES, serve_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from worker_support import FAST, catalog_client, catalog_of

from worker.catalog_client import CATALOG_ID, CatalogAnswerError, CatalogClient, PhotoRef, check_id
from worker.face_embed_worker import FaceEmbedWorker

BASE = "http://catalog.test:8082/"
client = CatalogClient(BASE)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
seed_keys = st.sampled_from(["photo_id", "person_id", "person_name", "file_url", "face_box"])
ids = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.sampled_from(["..", ".", "a/b", "x/../../photos/1?", "1/../../admin", "%2e%2e", "a#b"]),
)
urls = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "/api/photos/1/file",
            "http://evil.test/x",
            "//evil.test/x",
            "https://catalog.test:8082/x",
            "http://catalog.test:8082/api/photos/1/file",
            "http://catalog.test:8083/x",
            "javascript:alert(1)",
            "file:///etc/passwd",
        ]
    ),
)
# Near-valid answers: the seed's keys with values of any kind, sometimes right.
near_valid = st.fixed_dictionaries(
    {},
    optional={
        "photo_id": ids,
        "person_id": st.one_of(ids, st.none(), json_values),
        "person_name": st.one_of(st.text(max_size=20), json_values),
        "file_url": st.one_of(urls, json_values),
        "face_box": st.one_of(
            st.lists(st.one_of(st.floats(), st.integers(), st.booleans()), max_size=5),
            json_values,
        ),
        "people": st.lists(
            st.dictionaries(seed_keys, st.one_of(ids, json_values), max_size=4), max_size=3
        )
        | json_values,
    },
)


def _sound(photo: PhotoRef) -> None:
    assert CATALOG_ID.fullmatch(photo.id)
    assert photo.file_url.startswith("http://catalog.test:8082/")
    for person in photo.people:
        assert person.id.strip() and len(person.id) <= 255
        assert isinstance(person.name, str) and person.name.strip()
        if person.face_box is not None:
            x1, y1, x2, y2 = person.face_box
            assert x1 < x2 and y1 < y2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, near_valid))
def test_any_catalog_answer_parses_soundly_or_is_refused_with_a_reason(answer):
    try:
        photo = client.parse_photo(answer)
    except CatalogAnswerError as exc:
        assert str(exc) and not exc.retryable and exc.reason == "bad_catalog_answer"
    else:
        _sound(photo)


@settings(max_examples=300, deadline=None)
@given(ids)
def test_an_accepted_id_is_always_exactly_one_url_segment(value):
    try:
        text = check_id(value, "photo_id")
    except CatalogAnswerError:
        return
    photo = client.parse_photo({"photo_id": value, "person_id": None})
    assert photo.id == text
    prepared = requests.Request("GET", photo.file_url).prepare()
    parts = requests.utils.urlparse(prepared.url)
    segments = parts.path.split("/")
    assert segments[:3] == ["", "api", "photos"] and segments[4:] == ["file"], prepared.url
    assert segments[3] not in (".", "..") and not parts.query and not parts.fragment


# ---------------------------------------------------------------- a live worker

GOOD = DATA_FACES / "people" / "obama" / "obama.jpg"
MALFORMED = {
    "p_list": [1, 2, 3],
    "p_no_person_field": {"photo_id": "p_no_person_field"},
    "p_other_photo": {"photo_id": "someone_else", "person_id": 1, "person_name": "A"},
    "p_bad_box": {"photo_id": "p_bad_box", "person_id": 1, "person_name": "A", "face_box": [1]},
    "p_off_origin": {
        "photo_id": "p_off_origin",
        "person_id": 1,
        "person_name": "A",
        "file_url": "http://127.0.0.2:9/steal",
    },
    "p_people_not_list": {"photo_id": "p_people_not_list", "people": "x"},
    "p_nameless": {"photo_id": "p_nameless", "person_id": 1, "person_name": ""},
}


def hostile_catalog(requested: list[str]) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def _record():
        requested.append(request.full_path)

    @app.get("/api/photos/<photo_id>")
    def photo(photo_id):
        if photo_id == "p_not_json":
            return "<html>oops</html>", 200, {"Content-Type": "application/json"}
        if photo_id in MALFORMED:
            return json.dumps(MALFORMED[photo_id]), 200, {"Content-Type": "application/json"}
        return jsonify({"photo_id": photo_id, "person_id": 42, "person_name": "John Smith"})

    @app.get("/api/photos/<photo_id>/file")
    def photo_file(photo_id):
        return GOOD.read_bytes()

    @app.get("/api/batches/<batch_id>/photos")
    def batch(batch_id):
        if batch_id == "broken":
            return jsonify({"pictures": []})
        return jsonify(
            {"photos": [{"photo_id": "good_1", "person_id": 42, "person_name": "John Smith"}, 7]}
        )

    return app


def _submit(studio, config: dict) -> int:
    return studio.submit_job({"job_type": "face_detect_embed", "config": config})["job_id"]


def test_malformed_answers_fail_the_photo_or_the_job_and_the_worker_goes_on(studio, engine, conn):
    requested: list[str] = []
    with serve_in_thread(hostile_catalog(requested)) as url:
        photos = ["good_1", "p_not_json", *MALFORMED]
        per_photo = _submit(studio, {"source_system": "alfred_catalog", "photo_ids": photos})
        broken_batch = _submit(studio, {"source_system": "alfred_catalog", "batch_id": "broken"})
        bad_entry = _submit(studio, {"source_system": "alfred_catalog", "batch_id": "mixed"})
        # A job written before IDs were checked (or by hand in psql) holds a
        # path: the worker refuses it without calling the catalog.
        old_job = _submit(studio, {"source_system": "alfred_catalog", "batch_id": "placeholder"})
        conn.execute(
            "UPDATE jobs SET config = jsonb_set(config, '{batch_id}', '\"x/../../admin?\"') "
            "WHERE job_id = %s",
            (old_job,),
        )
        worker = FaceEmbedWorker(studio, catalog_client(url), engine, FAST)
        assert worker.run(exit_when_idle=True) == 4

    first = studio.job(per_photo)
    assert first["state"] == "completed", first
    result = first["result"]
    assert result["embeddings_stored"] == 1
    assert result["skipped"] == {"bad_catalog_answer": len(MALFORMED) + 1}
    assert {p["photo_id"] for p in result["skipped_photos"]} == {"p_not_json", *MALFORMED}

    broken = studio.job(broken_batch)
    assert broken["state"] == "failed" and "no 'photos' list" in broken["error"], broken
    assert broken["attempt"] == 1  # not retried: it will not get better

    mixed = studio.job(bad_entry)
    assert mixed["state"] == "completed"
    assert mixed["result"]["skipped_photos"] == [
        {"photo_id": "batch mixed[1]", "reason": "bad_catalog_answer"}
    ]

    old = studio.job(old_job)
    assert old["state"] == "failed" and "batch_id" in old["error"], old
    assert not any("admin" in path for path in requested), requested
    assert not any("127.0.0.2" in path or "steal" in path for path in requested)


def test_a_person_studio_refuses_costs_their_photos_not_the_job(studio, fast_engine, tmp_path):
    """A catalog person whose name Studio refuses (it holds a URL): that
    person's photos are skipped and named, everyone else in the job is
    enrolled."""
    people = DATA_FACES / "people"
    photos = {
        "ada_lovelace": [people / "biden" / "biden.jpg"],
        "www.evil.com": [people / "obama" / "obama.jpg"],
        "grace_hopper": [people / "rose_leslie" / "img2.jpg"],
    }
    with catalog_of(tmp_path / "people", photos) as url:
        job = _submit(studio, {"source_system": "alfred_catalog", "batch_id": "all"})
        worker = FaceEmbedWorker(studio, catalog_client(url), fast_engine, FAST)
        assert worker.run(exit_when_idle=True) == 1
    done = studio.job(job)
    assert done["state"] == "completed", done
    result = done["result"]
    assert result["embeddings_stored"] == 2 and result["identities"] == 2
    assert result["skipped"] == {"refused_by_studio": 1}
    [refused] = result["skipped_photos"]
    assert refused["reason"] == "refused_by_studio"
    names = {i["name"] for i in studio.identities("alfred_catalog")["identities"]}
    assert {"Ada Lovelace", "Grace Hopper"} <= names and not any("Evil" in n for n in names)
