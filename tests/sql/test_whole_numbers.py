"""An integer may be written 5, 5.0 or 5e0: the same number in JSON and to
JSON Schema (which the OpenAPI document speaks), so the same count and the
same key. Fractions, strings and nulls are still refused."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
import pytest
from helpers import call, rejected
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def spellings(n: int) -> st.SearchStrategy[str]:
    """JSON texts of the integer n."""
    return st.sampled_from([str(n), f"{n}.0", f"{n}.000", f"{n}e0", f"{n * 10}e-1"])


def _submit(conn, text: str) -> dict:
    return conn.execute("SELECT submit_job(%s::jsonb)", (text,)).fetchone()[0]


@SETTINGS
@given(data=st.data())
def test_whole_numbers_are_the_integers_they_spell(conn, data):
    attempts = data.draw(st.integers(min_value=1, max_value=10))
    priority = data.draw(st.integers(min_value=-100, max_value=100))
    photo = data.draw(st.integers(min_value=-(10**12), max_value=10**12))
    text = (
        '{"job_type": "face_detect_embed", '
        f'"config": {{"source_system": "s", "photo_ids": [{data.draw(spellings(photo))}]}}, '
        f'"max_attempts": {data.draw(spellings(attempts))}, '
        f'"priority": {data.draw(spellings(priority))}}}'
    )
    job = _submit(conn, text)
    assert (job["max_attempts"], job["priority"]) == (attempts, priority)
    # The worker puts the ID into a catalog URL: it must be the integer.
    assert job["config"]["photo_ids"] == [photo]

    key = data.draw(st.integers(min_value=-(10**15), max_value=10**15))
    payload = (
        '{"source_system": "s", "identities": '
        f'[{{"external_id": {data.draw(spellings(key))}, "name": "A"}}]}}'
    )
    call(conn, "sync_identities", payload)
    stored = conn.execute(
        "SELECT external_id FROM identities WHERE source_system = 's' AND external_id = %s",
        (str(key),),
    ).fetchone()
    assert stored == (str(key),)

    seconds = data.draw(st.integers(min_value=10, max_value=3600))
    claimed = conn.execute(
        "SELECT claim_job(%s::jsonb)",
        (f'{{"worker_id": "w", "lease_seconds": {data.draw(spellings(seconds))}}}',),
    ).fetchone()[0]["job"]
    if claimed is not None:
        lease = conn.execute(
            "SELECT extract(epoch FROM lease_expires_at - started_at) FROM jobs WHERE job_id = %s",
            (claimed["job_id"],),
        ).fetchone()[0]
        assert abs(lease - Decimal(seconds)) < 1
        conn.execute("DELETE FROM jobs")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", "2.5"),
        ("max_attempts", '"5"'),
        ("max_attempts", "null"),
        ("priority", "1e-1"),
        ("priority", "true"),
    ],
)
def test_fractions_strings_and_nulls_are_not_integers(conn, field, value):
    text = (
        '{"job_type": "face_detect_embed", "config": {"source_system": "s", "batch_id": "b"}, '
        f'"{field}": {value}}}'
    )
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        _submit(conn, text)
    assert [e["field"] for e in json.loads(info.value.diag.message_detail)] == [field]


@pytest.mark.parametrize("value", ["15.5", '"300"', "null", "9.99"])
def test_lease_seconds_must_be_a_whole_number(conn, value):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        conn.execute(
            "SELECT claim_job(%s::jsonb)", (f'{{"worker_id": "w", "lease_seconds": {value}}}',)
        )
    errors = json.loads(info.value.diag.message_detail)
    assert [(e["field"], e["code"]) for e in errors] == [("lease_seconds", "out_of_range")]


def test_a_fractional_external_id_is_still_refused(conn):
    errors = rejected(
        conn,
        "sync_identities",
        {"source_system": "s", "identities": [{"external_id": 1.5, "name": "A"}]},
    )
    assert [(e["field"], e["code"]) for e in errors] == [("external_id", "invalid_type")]
