"""What a job keeps is bounded: progress, result and error have size caps, and
listing jobs never reads results or configs, however big old rows are."""

from __future__ import annotations

import json

import psycopg
import pytest
from helpers import auth, make_token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CAPS = {"progress": 4096, "result": 524_288, "error": 4096}
SUBMIT = json.dumps(
    {"job_type": "face_detect_embed", "config": {"source_system": "s", "batch_id": "b"}}
)
FIELD_OF = {"heartbeat_job": "progress", "complete_job": "result", "fail_job": "error"}


def _running_job(conn) -> dict:
    conn.execute("SELECT submit_job(%s::jsonb)", (SUBMIT,))
    return conn.execute('SELECT claim_job(\'{"worker_id": "w"}\')').fetchone()[0]["job"]


def _jobs(conn) -> list[tuple]:
    return conn.execute("SELECT * FROM jobs ORDER BY job_id").fetchall()


def _value(field: str, char: str, count: int):
    """A value of the field's shape: an object for progress and result, text for error."""
    return char * count if field == "error" else {"n": char * count}


def _size(value) -> int:
    """Bytes as the cap counts them: text as is, JSON as PostgreSQL prints jsonb."""
    if isinstance(value, str):
        return len(value.encode())
    return len(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")).encode())


@st.composite
def worker_calls(draw):
    function = draw(st.sampled_from(sorted(FIELD_OF)))
    field = FIELD_OF[function]
    char = draw(st.sampled_from(["x", "é", "字"]))  # 1, 2 and 3 bytes
    width = len(char.encode())
    # Around the cap, where an off-by-one would show, or anywhere below it.
    near = CAPS[field] // width
    count = draw(st.one_of(st.integers(near - 12, near + 12), st.integers(1, near)))
    return function, field, _value(field, char, max(count, 1))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(call=worker_calls())
def test_progress_result_and_error_are_capped(conn, call):
    function, field, value = call
    job = _running_job(conn)
    request = {"lease_token": job["lease_token"], field: value}
    before = _jobs(conn)
    fits = _size(value) <= CAPS[field]
    try:
        conn.execute(f"SELECT {function}(%s, %s::jsonb)", (job["job_id"], json.dumps(request)))
    except psycopg.errors.InvalidParameterValue as exc:
        errors = json.loads(exc.diag.message_detail)
        assert not fits, errors
        assert [(e["field"], e["code"]) for e in errors] == [(field, "too_large")]
        assert str(CAPS[field]) in errors[0]["message"]
        assert _jobs(conn) == before, "a refused call changed nothing"
    else:
        assert fits, f"{field} of {_size(value)} bytes was accepted"
    # Whatever was accepted, every job keeps at most the caps.
    over = conn.execute(
        """SELECT count(*) FROM jobs
           WHERE octet_length(progress::text) > %s OR octet_length(result::text) > %s
              OR octet_length(last_error) > %s""",
        (CAPS["progress"], CAPS["result"], CAPS["error"]),
    ).fetchone()[0]
    assert over == 0


def test_an_oversized_result_is_a_400_naming_the_field(client, conn):
    job = _running_job(conn)
    worker = make_token(conn, ["jobs:work"])
    body = {"lease_token": job["lease_token"], "result": {"blob": "x" * 5_000_000}}
    response = client.post(
        f"/api/training/jobs/{job['job_id']}/complete",
        data=json.dumps(body),
        headers=auth(worker),
        content_type="application/json",
    )
    assert response.status_code == 400
    answer = response.get_json()
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [("result", "too_large")]
    assert len(response.data) < 2000, "the refusal does not echo the value"
    state = conn.execute("SELECT state FROM jobs WHERE job_id = %s", (job["job_id"],)).fetchone()
    assert state == ("running",)


def _toast_blocks(conn) -> int:
    """TOAST blocks of table jobs read so far (flushed statistics)."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute(
        "SELECT coalesce(toast_blks_read, 0) + coalesce(toast_blks_hit, 0) "
        "FROM pg_statio_user_tables WHERE relname = 'jobs'"
    ).fetchone()[0]


@pytest.mark.parametrize("state", [None, "completed"])
def test_listing_jobs_never_reads_results(conn, state):
    # Rows written before the caps existed: 5 MB results, as found.
    for _ in range(4):
        job = _running_job(conn)
        conn.execute(
            "SELECT complete_job(%s, %s::jsonb)",
            (job["job_id"], json.dumps({"lease_token": job["lease_token"]})),
        )
    conn.execute(
        "UPDATE jobs SET result = (SELECT jsonb_build_object('ids', jsonb_agg(md5(i::text))) "
        "FROM generate_series(1, 150000) AS i)"
    )
    before = _toast_blocks(conn)
    listing = conn.execute("SELECT list_jobs(%s, 500)", (state,)).fetchone()[0]
    assert _toast_blocks(conn) == before, "the listing read results"
    assert len(listing["jobs"]) == 4 and len(json.dumps(listing)) < 20_000
    assert not {"result", "config", "errors"} & set(listing["jobs"][0])
    # The check can tell: one job's status does read its result.
    status = conn.execute("SELECT job_status(%s)", (listing["jobs"][0]["job_id"],)).fetchone()[0]
    assert len(status["result"]["ids"]) == 150_000
    assert _toast_blocks(conn) > before
