"""Bounded cost: refusing a payload costs time in proportion to it, and the
refusal itself is small, whatever the payload holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from helpers import table_digest, vector
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SOURCE = "alfred_catalog"

# Bad faces of every kind the face check reports, small so that many fit;
# and a few of 512 numbers that fail only when read as floats.
BAD_FACES = [
    {"embedding": []},
    {},
    "not a face",
    {"embedding": "x"},
    {"embedding": [1, "2"]},
    {"embedding": [], "confidence": 2},
    {"embedding": [], "confidence": "high"},
    {"embedding": [], "extra": 1},
    {"embedding": [], "photo_url": "http://alfred/p/1"},
]
HEAVY_BAD_FACES = [
    {"embedding": [0] * 512},
    {"embedding": [*vector(1, 511), 1e39]},
    {"embedding": vector(2), "confidence": 1.5},
]


def rejected_in(conn: psycopg.Connection, function: str, payload: dict) -> tuple[float, list]:
    body = json.dumps(payload)
    start = time.monotonic()
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        conn.execute(f"SELECT {function}(%s::jsonb)", (body,))
    return time.monotonic() - start, json.loads(info.value.diag.message_detail)


@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kinds=st.lists(st.sampled_from(range(len(BAD_FACES))), min_size=1, max_size=4, unique=True))
def test_rejecting_twenty_thousand_bad_faces_is_linear(conn, kinds):
    # Quadratic validation took 8 s for 2,000 bad faces and 234 s for
    # 12,000; linear takes about a second for 20,000 on a loaded 2-core box.
    count = 20_000
    faces = [BAD_FACES[kinds[i % len(kinds)]] for i in range(count)]
    for i, heavy in enumerate(HEAVY_BAD_FACES * 10):
        faces[(i * 997) % count] = heavy
    payload = {
        "source_system": SOURCE,
        "results": [
            {"external_id": str(i), "name": f"P{i}", "faces": faces[i * 10 : i * 10 + 10]}
            for i in range(count // 10)
        ],
    }
    before = table_digest(conn)
    seconds, errors = rejected_in(conn, "ingest_embeddings", payload)
    assert seconds < 30, f"{count} bad faces took {seconds:.0f} s to refuse"
    assert len(errors) == 1001 and errors[-1]["code"] == "too_many_errors"
    assert errors[0]["index"] == 0 and errors[0]["field"].startswith("faces[0]")
    assert table_digest(conn) == before


MAX_DETAIL_CHARS = 262_144

# Each far longer than the 255 or 500 characters an error may echo.
huge_values = st.sampled_from(
    [
        "1e100000",
        '"' + "x" * 3_000 + '"',
        '"' + "\\u0001" * 1_000 + '"',
        '"' + "é" * 2_000 + '"',
        "[" + ",".join(["1e39"] * 512) + "]",
    ]
)


def hostile_payload(kind: str, count: int, value: str) -> tuple[str, str]:
    """A refused payload, as JSON text, whose `count` errors (up to 1,200,
    enough to pass both the count and the size cap) would echo huge values."""
    if kind == "confidence":
        # 1e100000 is 100,001 digits once parsed: a few hundred are plenty.
        face = f'{{"embedding": [], "confidence": {value}}}'
        results = [f'{{"external_id": "1", "name": "A", "faces": [{", ".join([face] * count)}]}}']
        return "ingest_embeddings", f'{{"source_system": "s", "results": [{", ".join(results)}]}}'
    if kind == "key":
        item = f'{{"external_id": "1", "name": "A", "{"k" * 1_000}": {value}}}'
    elif kind == "external_id":
        item = '{"external_id": "' + "x" * 3_000 + '", "name": "A", "extra": 1}'
    elif kind == "field":
        item = f'{{"external_id": "1", "name": {{"{"photo_url" * 200}": 1}}}}'
    else:
        item = f'{{"external_id": "1", "name": {value}}}'
    items = ", ".join([item] * count)
    return "sync_identities", f'{{"source_system": "s", "identities": [{items}]}}'


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=st.builds(
        hostile_payload,
        st.sampled_from(["confidence", "key", "external_id", "field", "name"]),
        st.integers(1, 600),
        huge_values,
    )
)
@example(case=hostile_payload("key", 600, '"x"'))  # ~900 characters an error: the size cap
@example(case=hostile_payload("confidence", 600, "1e100000"))  # 1,200 errors: the count cap
def test_a_refusal_is_small_whatever_the_payload_echoes(conn, case):
    function, body = case
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        conn.execute(f"SELECT {function}(%s::jsonb)", (body,))
    detail = info.value.diag.message_detail
    errors = json.loads(detail)
    assert len(detail) <= MAX_DETAIL_CHARS, (len(detail), len(errors))
    assert len(errors) <= 1001
    for error in errors:
        for key in ("external_id", "field"):
            assert len(error[key] or "") <= 255
        assert len(error["message"]) <= 500
    if len(errors) < json.loads(info.value.diag.message_primary.split()[2]):
        assert errors[-1]["code"] == "too_many_errors"


def test_a_huge_confidence_is_not_echoed_in_full(client, conn, admin_token):
    """A 7 KB request with 1e100000 confidences used to be answered with 30 MB."""
    face = '{"embedding": [], "confidence": 1e100000}'
    body = (
        '{"source_system": "alfred_catalog", "results": [{"external_id": "1", "name": "A", '
        f'"faces": [{", ".join([face] * 170)}]}}]}}'
    )
    assert len(body) < 8_000
    response = client.post(
        "/api/identities/ingest-embeddings",
        data=body,
        headers={"Authorization": f"Bearer {admin_token}"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert len(response.data) < 100_000, len(response.data)
    assert "1000000000" in response.get_json()["errors"][0]["message"]


# Requests that each read or write the identities table, which the test
# locks so that they wait past the statement timeout.
BLOCKED_REQUESTS = {
    "sync": (
        "POST",
        "/api/identities/sync",
        {"source_system": SOURCE, "identities": [{"external_id": "9", "name": "Ada"}]},
    ),
    "ingest": (
        "POST",
        "/api/identities/ingest-embeddings",
        {
            "source_system": SOURCE,
            "results": [{"external_id": "9", "name": "Ada", "faces": [{"embedding": vector(9)}]}],
        },
    ),
    "list": ("GET", "/api/identities/external?source_system=" + SOURCE, None),
    "recognize": ("POST", "/api/recognize", {"probes": [vector(9)], "k": 3}),
}


@pytest.fixture
def timed_app(db_url):
    from app import create_app

    application = create_app({"database_url": db_url, "pool_size": 2, "statement_timeout": 1})
    application.config["TESTING"] = True
    yield application
    for recognizer in application.extensions.get("studio_recognizers", {}).values():
        recognizer.close()
    application.extensions["studio_db"].close()


@pytest.mark.slow
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(BLOCKED_REQUESTS)))
def test_a_statement_past_the_timeout_is_a_clear_error_and_frees_the_worker(
    timed_app, db_url, conn, admin_token, name
):
    method, path, body = BLOCKED_REQUESTS[name]
    client = timed_app.test_client()
    headers = {"Authorization": f"Bearer {admin_token}"}
    before = table_digest(conn)
    with psycopg.connect(db_url) as locker:
        locker.execute("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE")
        start = time.monotonic()
        response = client.open(path, method=method, json=body, headers=headers)
        waited = time.monotonic() - start
        locker.rollback()
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"] == "timeout"
    assert "STUDIO_STATEMENT_TIMEOUT" in response.get_json()["message"]
    assert response.headers["Retry-After"]
    assert waited < 10, f"the worker was held {waited:.0f} s"
    assert table_digest(conn) == before
    # The connection and the worker are free again: the same request succeeds.
    assert client.get("/healthz").status_code == 200
    assert client.open(path, method=method, json=body, headers=headers).status_code == 200


def test_client_commands_run_under_the_statement_timeout(db_url):
    from app.cli.backend import open_database, refusal
    from app.config import Settings

    settings = Settings.from_env({}, database_url=db_url, statement_timeout=1)
    with open_database(settings) as database:
        assert database.value("SHOW statement_timeout") == "1s"
        with pytest.raises(psycopg.errors.QueryCanceled) as info:
            database.value("SELECT pg_sleep(5)")
    answer = refusal(info.value)
    assert (answer.status, answer.body["error"]) == (503, "timeout")
    with open_database(settings, limited=False) as database:
        assert database.value("SHOW statement_timeout") == "0"


def test_studio_psql_runs_under_the_statement_timeout(db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "PG"))}
    env |= {"STUDIO_DATABASE_URL": db_url, "STUDIO_STATEMENT_TIMEOUT": "7"}
    studio = str(Path(sys.executable).parent / "studio")
    shown = subprocess.run(
        [studio, "psql", "-At", "-c", "SHOW statement_timeout"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.strip() == "7s", shown.stderr


@pytest.mark.parametrize(
    "body",
    [
        '{"source_system": ' + "x" * 1_000_000 + "}",
        '{"source_system": "s", "identities": [' + "1" * 200_000 + "e9999999999]}",
        '{"source_system": "' + "\\q" * 300_000 + '"}',
    ],
    ids=["bad-token", "huge-number", "bad-escapes"],
)
def test_a_database_message_quoting_the_input_is_cut(client, admin_token, body):
    """PostgreSQL quotes a bad JSON token whole in DETAIL; the answer does not."""
    response = client.post(
        "/api/identities/sync",
        data=body,
        headers={"Authorization": f"Bearer {admin_token}"},
        content_type="application/json",
    )
    assert response.status_code == 400, response.get_json()
    assert len(response.data) < 3_000, len(response.data)
