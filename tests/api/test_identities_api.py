"""The HTTP API: seed shapes, auth, error envelope, limits, pagination."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import auth, make_token, table_digest, vector

from app import create_app
from app.errors import SQLSTATE_CLASS_TO_HTTP, SQLSTATE_TO_HTTP
from app.openapi import document

SOURCE = "alfred_catalog"
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def post(client, path, body, token, content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, headers=auth(token), content_type=content_type)


def assert_envelope(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["success"] is False
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list) and body["errors"]
    return body


def test_sync_returns_the_seed_shape(client, admin_token):
    response = post(
        client,
        "/api/identities/sync",
        {
            "source_system": SOURCE,
            "identities": [{"external_id": "15", "name": "Ada", "action": "upsert"}],
        },
        admin_token,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert {"success", "created", "updated", "deleted", "errors"} <= set(body)
    assert (body["success"], body["created"], body["errors"]) == (True, 1, [])


def test_ingest_returns_the_seed_shape(client, admin_token):
    response = post(
        client,
        "/api/identities/ingest-embeddings",
        {
            "source_system": SOURCE,
            "results": [
                {
                    "external_id": "15",
                    "name": "Ada",
                    "faces": [{"embedding": vector(1), "confidence": 0.97}],
                }
            ],
        },
        admin_token,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert {"success", "identities_resolved", "embeddings_stored"} <= set(body)
    assert (body["identities_resolved"], body["embeddings_stored"]) == (1, 1)


def test_external_listing_has_the_seed_fields_and_pages(client, admin_token):
    post(
        client,
        "/api/identities/sync",
        {
            "source_system": SOURCE,
            "identities": [{"external_id": f"{i:03d}", "name": f"P{i}"} for i in range(25)],
        },
        admin_token,
    )
    post(
        client,
        "/api/identities/sync",
        {"source_system": "other", "identities": [{"external_id": "1", "name": "O"}]},
        admin_token,
    )
    seen, cursor = [], None
    while True:
        query = {"source_system": SOURCE, "limit": 10, **({"cursor": cursor} if cursor else {})}
        body = client.get(
            "/api/identities/external", query_string=query, headers=auth(admin_token)
        ).get_json()
        seen += body["identities"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [i["external_id"] for i in seen] == [f"{i:03d}" for i in range(25)]
    expected = {
        "identity_id",
        "external_id",
        "source_system",
        "name",
        "embedding_count",
        "first_seen",
        "last_seen",
    }
    assert expected <= set(seen[0])
    everything = client.get("/api/identities/external", headers=auth(admin_token)).get_json()
    assert len(everything["identities"]) == 26


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "5000"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "!!"}, "cursor"),
    ],
)
def test_external_listing_rejects_bad_parameters(client, admin_token, query, field):
    response = client.get("/api/identities/external", query_string=query, headers=auth(admin_token))
    body = assert_envelope(response, 400, "validation_failed")
    assert body["errors"][0]["field"] == field


def test_validation_failure_is_400_with_every_error(client, admin_token, conn):
    before = table_digest(conn)
    response = post(
        client,
        "/api/identities/sync",
        {
            "source_system": SOURCE,
            "identities": [
                {"external_id": "1"},
                {"name": "x"},
                {"external_id": "2", "name": "A", "photo_url": "x"},
            ],
        },
        admin_token,
    )
    body = assert_envelope(response, 400, "validation_failed")
    assert {(e["index"], e["field"], e["code"]) for e in body["errors"]} == {
        (0, "name", "required"),
        (1, "external_id", "required"),
        (2, "photo_url", "forbidden_field"),
    }
    assert table_digest(conn) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"source_system": ', "invalid_json"),
        ("not json", "invalid_json"),
        ('{"source_system": "a\\u0000b", "identities": []}', "invalid_json"),
        ("[" * 100_000 + "]" * 100_000, "payload_too_complex"),
        (b'{"source_system": "\xff"}', "invalid_json"),
        (b'{"source_system": "a\x00"}', "invalid_json"),
    ],
)
def test_malformed_bodies_are_400(client, admin_token, body, code):
    assert_envelope(post(client, "/api/identities/sync", body, admin_token), 400, code)


def test_wrong_content_type_is_415(client, admin_token):
    response = post(
        client,
        "/api/identities/sync",
        "source_system=x",
        admin_token,
        "application/x-www-form-urlencoded",
    )
    assert_envelope(response, 415, "unsupported_media_type")


def test_body_over_the_limit_is_413(db_url, conn):
    app = create_app({"database_url": db_url, "max_body_bytes": 1000, "pool_size": 2})
    try:
        token = make_token(conn, ["admin"])
        body = json.dumps(
            {"source_system": SOURCE, "identities": [{"external_id": "1", "name": "x" * 2000}]}
        )
        assert_envelope(
            post(app.test_client(), "/api/identities/sync", body, token), 413, "payload_too_large"
        )
    finally:
        app.extensions["studio_db"].close()


@pytest.mark.parametrize(
    "path",
    ["/api/identities/sync", "/api/identities/ingest-embeddings", "/api/identities/external"],
)
@pytest.mark.parametrize("header", [None, "Bearer", "Bearer gts_not-a-token", "Basic dXNlcjpwYXNz"])
def test_every_api_route_needs_a_valid_token(client, path, header):
    headers = {"Authorization": header} if header else {}
    method = client.get if path.endswith("external") else client.post
    response = method(path, data="{}", headers=headers, content_type="application/json")
    assert_envelope(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_scopes_are_enforced(client, conn):
    reader = make_token(conn, ["identities:read"])
    response = post(
        client, "/api/identities/sync", {"source_system": SOURCE, "identities": []}, reader
    )
    assert_envelope(response, 403, "forbidden")
    assert client.get("/api/identities/external", headers=auth(reader)).status_code == 200


def test_source_bound_token_cannot_touch_another_system(client, conn):
    token = make_token(conn, ["identities:write", "embeddings:write", "identities:read"], [SOURCE])
    post(
        client,
        "/api/identities/sync",
        {"source_system": "other_system", "identities": []},
        make_token(conn, ["admin"]),
    )
    before = table_digest(conn)
    for path, body in [
        (
            "/api/identities/sync",
            {"source_system": "other_system", "identities": [{"external_id": "1", "name": "X"}]},
        ),
        ("/api/identities/ingest-embeddings", {"source_system": "other_system", "results": []}),
    ]:
        assert_envelope(post(client, path, body, token), 403, "forbidden")
    listing = client.get(
        "/api/identities/external",
        query_string={"source_system": "other_system"},
        headers=auth(token),
    )
    assert_envelope(listing, 403, "forbidden")
    assert table_digest(conn) == before
    ok = post(
        client,
        "/api/identities/sync",
        {"source_system": SOURCE, "identities": [{"external_id": "1", "name": "A"}]},
        token,
    )
    assert ok.status_code == 200


def test_revoked_and_expired_tokens_are_refused(client, conn):
    token = make_token(conn, ["identities:read"])
    assert client.get("/api/identities/external", headers=auth(token)).status_code == 200
    name = conn.execute("SELECT name FROM api_tokens ORDER BY created_at DESC LIMIT 1").fetchone()[
        0
    ]
    conn.execute("SELECT revoke_api_token(%s)", (name,))
    assert_envelope(
        client.get("/api/identities/external", headers=auth(token)), 401, "unauthorized"
    )
    expired = conn.execute(
        "SELECT token FROM create_api_token('old', '{identities:read}', NULL, "
        "now() - interval '1 second', now() - interval '1 minute')"
    ).fetchone()[0]
    assert_envelope(
        client.get("/api/identities/external", headers=auth(expired)), 401, "unauthorized"
    )


def test_tokens_are_stored_hashed(conn):
    token = make_token(conn, ["admin"])
    dump = conn.execute("SELECT string_agg(t::text, '') FROM api_tokens t").fetchone()[0]
    assert token not in dump and token[4:] not in dump


def test_unknown_route_and_method_use_the_envelope(client, admin_token):
    assert_envelope(client.get("/api/nope", headers=auth(admin_token)), 404, "not_found")
    assert_envelope(
        client.get("/api/identities/sync", headers=auth(admin_token)), 405, "method_not_allowed"
    )


def test_database_unreachable_is_503_with_retry_after(tmp_path):
    missing = f"host={tmp_path} port=1 dbname=nothing user=nobody connect_timeout=1"
    app = create_app({"database_url": missing, "pool_size": 1})
    try:
        import app.db as db

        db_timeout = db.CHECKOUT_TIMEOUT_SECONDS
        app.extensions["studio_db"].checkout_timeout = 0.5
        client = app.test_client()
        response = client.get("/api/identities/external", headers=auth("gts_x"))
        body = assert_envelope(response, 503, "database_unavailable")
        assert response.headers["Retry-After"].isdigit()
        assert "Traceback" not in json.dumps(body)
        health = client.get("/healthz")
        assert (health.status_code, health.get_json()["database"]) == (200, "unreachable")
        assert client.get("/readyz").status_code == 503
        assert db_timeout > 0
    finally:
        app.extensions["studio_db"].close()


def test_readyz_is_503_while_the_read_replica_is_away(db_url, tmp_path):
    away = f"host={tmp_path} port=1 dbname=nothing user=nobody connect_timeout=1"
    app = create_app({"database_url": db_url, "database_read_url": away, "pool_size": 1})
    try:
        client = app.test_client()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["Retry-After"].isdigit()
        assert ready.get_json() | {"database": "reachable", "read_database": "unreachable"} == (
            ready.get_json()
        )
    finally:
        app.extensions["studio_db"].close()
        if "studio_read_db" in app.extensions:
            app.extensions["studio_read_db"].close()


def test_health_needs_no_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "reachable"}


def test_openapi_document_matches_the_routes(app, client):
    served = client.get("/api/openapi.json").get_json()
    assert served == json.loads(json.dumps(document(app.extensions["studio_settings"].model)))
    assert served["openapi"].startswith("3.")
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in served["paths"].items() for method in item}
    assert routes == documented


def test_every_sqlstate_raised_in_sql_has_an_http_mapping():
    raised = set()
    for path in SQL_DIR.rglob("*.sql"):
        raised |= set(re.findall(r"ERRCODE\s*=\s*'([0-9A-Z]{5})'", path.read_text()))
    assert raised, "found no RAISE with an ERRCODE"
    unmapped = {
        code
        for code in raised
        if code not in SQLSTATE_TO_HTTP and code[:2] not in SQLSTATE_CLASS_TO_HTTP
    }
    assert not unmapped
