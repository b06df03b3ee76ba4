"""Job states are one database type, job_state: the table, list_jobs(), the
metrics' counts and the API document all take them from it."""

from __future__ import annotations

import json

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import queries
from app.openapi import JOB_STATES

TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)


def _labels(conn) -> list[str]:
    return conn.execute("SELECT enum_range(NULL::job_state)::text[]").fetchone()[0]


def test_the_type_is_the_one_list(conn):
    labels = _labels(conn)
    assert labels == ["queued", "running", "retrying", "completed", "failed"]
    # The API document states what the type holds, in its order.
    assert list(JOB_STATES) == labels
    # Every state counted, those without jobs as 0, in the type's order.
    assert conn.execute(queries.JOBS_BY_STATE).fetchall() == [(label, 0) for label in labels]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        conn.execute(
            "INSERT INTO jobs (job_type, source_system, config, state, run_after, submitted_by, "
            "created_at, updated_at) VALUES ('face_detect_embed', 's', '{}', 'paused', now(), "
            "'t', now(), now())"
        )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(state=st.one_of(st.sampled_from(JOB_STATES), TEXT))
def test_list_jobs_takes_exactly_the_types_states(conn, state):
    labels = _labels(conn)
    if state in labels:
        listing = conn.execute("SELECT list_jobs(%s, 50)", (state,)).fetchone()[0]
        assert set(listing["counts"]) == set(labels)
        assert all(job["state"] == state for job in listing["jobs"])
        return
    with pytest.raises(psycopg.errors.InvalidParameterValue) as refused:
        conn.execute("SELECT list_jobs(%s, 50)", (state,))
    [error] = json.loads(refused.value.diag.message_detail)
    assert error["field"] == "state" and error["code"] == "invalid_value"
    assert all(label in error["message"] for label in labels)
