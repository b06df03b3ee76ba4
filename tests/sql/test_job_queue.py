"""The job queue: submit, claim, heartbeat, complete, fail, leases, backoff, races."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from helpers import call, rejected, table_digest

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def submit(conn, photo_ids=(1, 2, 3), **extra):
    payload = {
        "job_type": "face_detect_embed",
        "config": {"source_system": "alfred_catalog", "photo_ids": list(photo_ids)},
        **extra,
    }
    return conn.execute(
        "SELECT submit_job(%s::jsonb, 'test', NULL, %s)", (json.dumps(payload), T0)
    ).fetchone()[0]


def claim(conn, worker="w1", at=T0, lease_seconds=60, allowed=None):
    request = json.dumps({"worker_id": worker, "lease_seconds": lease_seconds})
    return conn.execute(
        "SELECT claim_job(%s::jsonb, 'test', %s, %s)", (request, allowed, at)
    ).fetchone()[0]["job"]


def worker_call(conn, function, job, at=T0, **body):
    request = json.dumps({"lease_token": job["lease_token"], **body})
    return conn.execute(
        f"SELECT {function}(%s, %s::jsonb, %s)", (job["job_id"], request, at)
    ).fetchone()[0]


def test_submit_claim_heartbeat_complete(conn):
    job = submit(conn)
    assert (job["state"], job["attempt"]) == ("queued", 0)
    claimed = claim(conn)
    assert (claimed["job_id"], claimed["state"], claimed["attempt"]) == (
        job["job_id"],
        "running",
        1,
    )
    assert claim(conn, "w2") is None  # nothing else waits
    beat = worker_call(
        conn, "heartbeat_job", claimed, T0 + timedelta(seconds=30), progress={"done": 2, "total": 3}
    )
    assert beat["progress"] == {"done": 2, "total": 3}
    done = worker_call(
        conn, "complete_job", claimed, T0 + timedelta(seconds=40), result={"embeddings_stored": 3}
    )
    assert (done["state"], done["result"]) == ("completed", {"embeddings_stored": 3})
    assert "lease_token" not in done


def test_batch_jobs_and_priority_order(conn):
    low = submit(conn)
    high = conn.execute(
        "SELECT submit_job(%s::jsonb, 'test', NULL, %s)",
        (
            json.dumps(
                {
                    "job_type": "face_detect_embed",
                    "priority": 10,
                    "config": {"source_system": "alfred_catalog", "batch_id": "2026-11"},
                }
            ),
            T0,
        ),
    ).fetchone()[0]
    assert claim(conn)["job_id"] == high["job_id"]
    assert claim(conn)["job_id"] == low["job_id"]


def test_failure_retries_with_exponential_backoff_then_fails(conn):
    submit(conn, max_attempts=3)
    at = T0
    for attempt, backoff in [(1, 10), (2, 20)]:
        job = claim(conn, at=at)
        assert job["attempt"] == attempt
        failed = worker_call(conn, "fail_job", job, at, error=f"catalog answered 503 ({attempt})")
        assert failed["state"] == "retrying"
        assert claim(conn, at=at + timedelta(seconds=backoff - 1)) is None  # still backing off
        at = at + timedelta(seconds=backoff)
    job = claim(conn, at=at)
    final = worker_call(conn, "fail_job", job, at, error="catalog answered 503 (3)")
    assert final["state"] == "failed" and final["finished_at"]
    assert [e["attempt"] for e in final["errors"]] == [1, 2, 3]
    assert final["error"] == "catalog answered 503 (3)"


def test_non_retryable_failure_is_final(conn):
    submit(conn)
    job = claim(conn)
    assert (
        worker_call(conn, "fail_job", job, error="photo 9 is not in the catalog", retryable=False)[
            "state"
        ]
        == "failed"
    )


def test_a_released_job_is_claimable_at_once_and_the_claim_is_not_counted(conn):
    submit(conn, max_attempts=2)
    at = T0
    for _ in range(5):  # more releases than attempts: none of them is a failure
        job = claim(conn, at=at)
        assert job["attempt"] == 1
        released = worker_call(conn, "release_job", job, at, progress={"done": 1, "total": 3})
        assert (released["state"], released["attempt"]) == ("queued", 0)
        assert released["progress"] == {"done": 1, "total": 3} and released["errors"] == []
        assert "lease_token" not in released and released["finished_at"] is None
    # A failure after them is the first attempt's.
    job = claim(conn, at=at)
    failed = worker_call(conn, "fail_job", job, at, error="catalog answered 503")
    assert (failed["state"], [e["attempt"] for e in failed["errors"]]) == ("retrying", [1])
    # A malformed lease token is not a missing one.
    for token, code in [
        (None, "required"),
        ("not-a-uuid", "invalid_value"),
        (123, "invalid_value"),
    ]:
        request = json.dumps({"lease_token": token})
        with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
            conn.execute("SELECT release_job(%s, %s::jsonb, %s)", (job["job_id"], request, at))
        assert [(e["field"], e["code"]) for e in json.loads(info.value.diag.message_detail)] == [
            ("lease_token", code)
        ]
    # Released twice, or after the lease moved on: stale, and nothing changes.
    job = claim(conn, at=at + timedelta(seconds=10))
    worker_call(conn, "release_job", job, at + timedelta(seconds=10))
    before = table_digest(conn)
    with pytest.raises(psycopg.Error) as info:
        worker_call(conn, "release_job", job, at + timedelta(seconds=11))
    assert info.value.sqlstate == "GT002"
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        worker_call(conn, "release_job", job, at, error="not a field of release")
    assert table_digest(conn) == before


def test_a_job_completed_after_a_failure_keeps_the_failure_in_its_history_only(conn):
    submit(conn)
    job = claim(conn)
    worker_call(conn, "fail_job", job, error="catalog answered 503")
    job = claim(conn, at=T0 + timedelta(seconds=10))
    done = worker_call(conn, "complete_job", job, T0 + timedelta(seconds=11))
    assert (done["state"], done["error"]) == ("completed", None)
    assert [e["error"] for e in done["errors"]] == ["catalog answered 503"]


def test_expired_lease_is_requeued_and_the_old_worker_is_refused(conn):
    submit(conn)
    first = claim(conn, "w1", T0, lease_seconds=60)
    second = claim(conn, "w2", T0 + timedelta(seconds=61))
    assert second["job_id"] == first["job_id"] and second["attempt"] == 2
    before = table_digest(conn)
    for function, body in [
        ("heartbeat_job", {"progress": {"done": 9}}),
        ("complete_job", {}),
        ("fail_job", {"error": "late"}),
        ("release_job", {}),
    ]:
        with pytest.raises(psycopg.Error) as info:
            worker_call(conn, function, first, T0 + timedelta(seconds=62), **body)
        assert info.value.sqlstate == "GT002"
    assert table_digest(conn) == before
    assert (
        worker_call(conn, "complete_job", second, T0 + timedelta(seconds=70))["state"]
        == "completed"
    )


def test_lease_expiry_on_the_last_attempt_fails_the_job(conn):
    submit(conn, max_attempts=1)
    claim(conn, lease_seconds=10)
    conn.execute("SELECT requeue_expired_jobs(%s)", (T0 + timedelta(seconds=11),))
    job = conn.execute("SELECT job_status(1)").fetchone()[0]
    assert job["state"] == "failed" and "lease expired" in job["error"]


def test_unknown_job_is_gt001(conn):
    with pytest.raises(psycopg.Error) as info:
        conn.execute(
            "SELECT complete_job(999, %s::jsonb)",
            ('{"lease_token": "00000000-0000-0000-0000-000000000000"}',),
        )
    assert info.value.sqlstate == "GT001"


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        (
            {"job_type": "train", "config": {"source_system": "a", "photo_ids": [1]}},
            "job_type",
            "invalid_value",
        ),
        ({"job_type": "face_detect_embed"}, "config", "required"),
        (
            {"job_type": "face_detect_embed", "config": {"photo_ids": [1]}},
            "config.source_system",
            "required",
        ),
        ({"job_type": "face_detect_embed", "config": {"source_system": "a"}}, "config", "required"),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": [1], "batch_id": 2},
            },
            "config",
            "required",
        ),
        (
            {"job_type": "face_detect_embed", "config": {"source_system": "a", "photo_ids": []}},
            "config.photo_ids",
            "invalid_type",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": ["http://x/1.jpg"]},
            },
            "config.photo_ids[0]",
            "forbidden_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": [1], "photo_urls": ["x"]},
            },
            "config.photo_urls",
            "forbidden_field",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "batch_id": 1},
                "max_attempts": 0,
            },
            "max_attempts",
            "out_of_range",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "batch_id": 1},
                "max_attempts": 11,
            },
            "max_attempts",
            "out_of_range",
        ),
        # IDs travel as one catalog URL segment: nothing that could steer the
        # worker to another catalog path.
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "batch_id": "x/../../photos/1?"},
            },
            "config.batch_id",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": ["1/../../admin"]},
            },
            "config.photo_ids[0]",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": ["ok", ".."]},
            },
            "config.photo_ids[1]",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": [".hidden"]},
            },
            "config.photo_ids[0]",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": ["a%2fb"]},
            },
            "config.photo_ids[0]",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": ["a#b"]},
            },
            "config.photo_ids[0]",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": ["a\\b"]},
            },
            "config.photo_ids[0]",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "photo_ids": ["a b"]},
            },
            "config.photo_ids[0]",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "batch_id": "b?x=1"},
            },
            "config.batch_id",
            "invalid_value",
        ),
        (
            {
                "job_type": "face_detect_embed",
                "config": {"source_system": "a", "batch_id": 1},
                "priority": 1.5,
            },
            "priority",
            "out_of_range",
        ),
    ],
)
def test_submit_validation(conn, payload, field, code):
    errors = rejected(conn, "submit_job", payload)
    assert (field, code) in {(e["field"], e["code"]) for e in errors}, errors
    assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


@pytest.mark.parametrize(
    "photo_id",
    [
        "photo_001",
        42,
        "batch_2026_02_25",
        "3f2b8c1e-0d4a-4c8e-9a57-2b1f0e6d9c11",
        "a" * 200,
        "AbC-_x~y=z+w:v@u",
        "-leading-dash",
        "x" * 255,
    ],
)
def test_catalog_ids_that_real_catalogs_use_are_accepted(conn, photo_id):
    call(
        conn,
        "submit_job",
        {
            "job_type": "face_detect_embed",
            "config": {"source_system": "a", "photo_ids": [photo_id]},
        },
    )


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({}, "worker_id"),
        ({"worker_id": "w", "lease_seconds": 5}, "lease_seconds"),
        ({"worker_id": "w", "x": 1}, "x"),
    ],
)
def test_claim_validation(conn, request_body, field):
    errors = rejected(conn, "claim_job", request_body)
    assert field in {e["field"] for e in errors}


def test_worker_results_may_count_photos_but_not_carry_them(conn):
    submit(conn)
    job = claim(conn)
    worker_call(conn, "heartbeat_job", job, progress={"photos_done": 1, "photos_total": 3})
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        worker_call(
            conn, "complete_job", job, result={"first_photo": "https://alfred/api/photos/1/file"}
        )


def test_source_bound_worker_only_gets_its_jobs(conn):
    submit(conn)
    assert claim(conn, allowed=["other_system"]) is None
    assert claim(conn, allowed=["alfred_catalog"]) is not None


def _work_until_empty(args) -> list[int]:
    """One worker process: claim and complete jobs until none is left."""
    url, name = args
    done = []
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            job = conn.execute(
                "SELECT claim_job(%s::jsonb)", (json.dumps({"worker_id": name}),)
            ).fetchone()[0]["job"]
            if job is None:
                return done
            conn.execute(
                "SELECT complete_job(%s, %s::jsonb)",
                (
                    job["job_id"],
                    json.dumps({"lease_token": job["lease_token"], "result": {"by": name}}),
                ),
            )
            done.append(job["job_id"])


@pytest.mark.slow
def test_eight_workers_five_hundred_jobs_each_done_exactly_once(db_url, conn):
    conn.execute(
        "SELECT submit_job(%s::jsonb) FROM generate_series(1, 500)",
        (
            json.dumps(
                {"job_type": "face_detect_embed", "config": {"source_system": "a", "batch_id": 1}}
            ),
        ),
    )
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        per_worker = pool.map(_work_until_empty, [(db_url, f"w{i}") for i in range(8)])
    done = [job_id for jobs in per_worker for job_id in jobs]
    assert len(done) == 500 and len(set(done)) == 500
    assert sum(1 for jobs in per_worker if jobs) >= 2, "the work should spread over workers"
    states = conn.execute(
        "SELECT state, count(*), max(attempt) FROM jobs GROUP BY state"
    ).fetchall()
    assert states == [("completed", 500, 1)]
