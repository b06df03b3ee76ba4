"""Hostile input: each a clear 4xx or a correct result, never a 5xx or a partial write."""

from __future__ import annotations

import json
import time

import pytest
from helpers import auth, table_digest, vector

SOURCE = "alfred_catalog"


def post(client, path, body, token):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, headers=auth(token), content_type="application/json")


@pytest.mark.parametrize(
    "name",
    [
        "Zoë 🎸 Saldaña",
        "محمد عبد الله",
        "עִבְרִית",
        "李小龍",
        "O'Brien; DROP TABLE identities;--",
        "Robert'); DELETE FROM embeddings; --",
        "\u202eevil\u202c",
        "a" * 255,
    ],
)
def test_awkward_names_are_stored_verbatim(client, conn, admin_token, name):
    response = post(
        client,
        "/api/identities/sync",
        {"source_system": SOURCE, "identities": [{"external_id": "x-1", "name": name}]},
        admin_token,
    )
    assert response.status_code == 200, response.get_json()
    assert conn.execute("SELECT name FROM identities").fetchone() == (name,)


@pytest.mark.parametrize(
    "external_id", ["1 OR 1=1", "'; DROP TABLE jobs; --", "%_\\", "élève-7", "🙂"]
)
def test_external_ids_that_look_like_sql_are_keys_like_any_other(
    client, conn, admin_token, external_id
):
    response = post(
        client,
        "/api/identities/sync",
        {"source_system": SOURCE, "identities": [{"external_id": external_id, "name": "A"}]},
        admin_token,
    )
    assert response.status_code == 200
    assert conn.execute("SELECT external_id FROM identities").fetchone() == (external_id,)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (
            '{"source_system": "s", "results": [{"external_id": "1", "name": "A", "faces": [{"embedding": [NaN]}]}]}',
            400,
        ),
        (
            '{"source_system": "s", "results": [{"external_id": "1", "name": "A", "faces": [{"embedding": [Infinity]}]}]}',
            400,
        ),
        ('{"source_system": "s", "identities": [{"external_id": "1", "name": "A\\u0000"}]}', 400),
        ('{"source_system": "s", "identities": [{"external_id": "1", "name": "A\\u0001"}]}', 400),
        ('{"source_system": "s", "identities": [], "identities": 5}', 400),
        ("\ufeff{}", 400),
        ("null", 400),
        ("[]", 400),
        ('"just a string"', 400),
    ],
)
def test_malformed_payloads_are_4xx_and_change_nothing(client, conn, admin_token, body, status):
    before = table_digest(conn)
    path = "/api/identities/ingest-embeddings" if "results" in body else "/api/identities/sync"
    response = post(client, path, body, admin_token)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["success"] is False
    assert table_digest(conn) == before


@pytest.mark.slow
def test_a_hundred_thousand_identities_in_one_sync(client, conn, admin_token):
    identities = [{"external_id": str(i), "name": f"Person {i}"} for i in range(100_000)]
    start = time.monotonic()
    response = post(
        client,
        "/api/identities/sync",
        {"source_system": SOURCE, "identities": identities},
        admin_token,
    )
    elapsed = time.monotonic() - start
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 100_000
    assert conn.execute("SELECT count(*) FROM identities").fetchone()[0] == 100_000
    assert elapsed < 120, f"took {elapsed:.0f} s"
    # The same list as a full sync: nothing to do, and fast enough for cron.
    response = post(
        client,
        "/api/identities/sync",
        {"source_system": SOURCE, "mode": "full", "identities": identities},
        admin_token,
    )
    assert response.get_json()["unchanged"] == 100_000


def test_a_hundred_thousand_bad_items_report_a_capped_error_list(client, conn, admin_token):
    identities = [{"external_id": str(i)} for i in range(100_000)]
    response = post(
        client,
        "/api/identities/sync",
        {"source_system": SOURCE, "identities": identities},
        admin_token,
    )
    body = response.get_json()
    assert response.status_code == 400
    assert len(body["errors"]) == 1001 and body["errors"][-1]["code"] == "too_many_errors"
    assert "99000 more" in body["errors"][-1]["message"]


def test_embedding_values_of_every_wrong_kind(client, conn, admin_token):
    faces = [
        {"embedding": [*vector(1, 511), "0.1"]},
        {"embedding": [*vector(2, 511), True]},
        {"embedding": vector(3, 513)},
        {"embedding": [*vector(4, 511), 1e39]},
        {"embedding": {"0": 1}},
    ]
    response = post(
        client,
        "/api/identities/ingest-embeddings",
        {"source_system": SOURCE, "results": [{"external_id": "1", "name": "A", "faces": faces}]},
        admin_token,
    )
    assert response.status_code == 400
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert [f"faces[{i}].embedding" for i in range(5)] == sorted(set(fields))
