"""POST /api/sightings and GET /api/sightings: scopes, the answer's shape,
idempotent retries, and what a token bound to source systems sees."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from helpers import auth, make_token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sightings_support import NOW, people, record, sighting

A, B = "sys_a", "sys_b"
CAMERAS = ["door", "yard"]


def _post(client, body, token):
    return client.post(
        "/api/sightings",
        data=json.dumps(body),
        headers=auth(token),
        content_type="application/json",
    )


def test_scopes(client, conn):
    ada = people(conn, A, {"1": "Ada"})["1"]
    body = sighting(ada)
    reader = make_token(conn, ["sightings:read", "recognize"])
    assert _post(client, body, reader).status_code == 403
    camera = make_token(conn, ["sightings:write", "recognize"])
    assert client.get("/api/sightings", headers=auth(camera)).status_code == 403
    first = _post(client, body, camera)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["created"] is True
    again = _post(client, body, camera)
    assert again.get_json()["created"] is False and again.get_json()["events"] == 0
    conflict = _post(client, {**body, "frames": 99}, camera)
    assert conflict.status_code == 409 and conflict.get_json()["error"] == "sighting_conflict"
    page = client.get("/api/sightings", headers=auth(reader)).get_json()
    assert [s["sighting_id"] for s in page["sightings"]] == [body["sighting_id"]]
    assert page["sightings"][0]["identity"]["name"] == "Ada"
    assert page["sightings"][0]["recorded_by"].startswith("token:")


def test_a_bound_camera_cannot_name_another_sources_person(client, conn):
    theirs = people(conn, B, {"9": "Bname"})["9"]
    camera = make_token(conn, ["sightings:write"], [A])
    other = _post(client, sighting(theirs), camera)
    missing = _post(client, sighting(str(uuid.uuid4())), camera)
    assert other.status_code == missing.status_code == 404
    strip = {**other.get_json(), "message": "", "errors": []}
    assert strip == {**missing.get_json(), "message": "", "errors": []}
    assert "Bname" not in other.get_data(as_text=True)
    assert conn.execute("SELECT count(*) FROM sightings").fetchone() == (0,)


@pytest.fixture
def history(conn):
    """Sightings of A's and B's people and a native one, and unknown ones recorded
    by cameras bound to A, to B, to both, and to none."""
    ids = {A: people(conn, A, {"a1": "Ann", "a2": "Abe"}), B: people(conn, B, {"b1": "Bob"})}
    native = conn.execute(
        "INSERT INTO identities (name) VALUES ('Native') RETURNING identity_id::text"
    ).fetchone()[0]
    expected = []  # (sighting_id, person source or None, recorder binding, camera, start)
    n = 0
    for source, keys in ids.items():
        for key, identity_id in keys.items():
            for camera in CAMERAS:
                n += 1
                start = NOW - timedelta(minutes=n)
                record(conn, body := sighting(identity_id, camera=camera, start=start))
                expected.append((body["sighting_id"], source, key, None, camera, start))
    record(conn, body := sighting(native, start=NOW - timedelta(minutes=50)))
    expected.append((body["sighting_id"], "native", None, None, "front_door", NOW))
    for binding in ([A], [B], [A, B], None):
        for camera in CAMERAS:
            n += 1
            start = NOW - timedelta(minutes=n)
            record(conn, body := sighting(None, camera=camera, start=start), allowed=binding)
            expected.append((body["sighting_id"], None, None, binding, camera, start))
    return expected


def _visible(row, bound: list[str] | None) -> bool:
    _, source, _, binding, _, _ = row
    if bound is None:
        return True
    if source is not None:
        return source in bound
    return binding is not None and set(binding) <= set(bound)


def _all_pages(client, token, **query) -> list[dict]:
    rows, cursor = [], None
    for _ in range(100):
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/sightings", query_string=params, headers=auth(token))
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        rows += page["sightings"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows
    raise AssertionError("the cursor never ended")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    bound=st.sampled_from([[A], [B], [A, B], None]),
    camera=st.sampled_from([None, *CAMERAS]),
    person=st.sampled_from([None, "a1", "b1"]),
    decision=st.sampled_from([None, "identified", "unknown"]),
    limit=st.integers(1, 7),
)
def test_a_bound_token_sees_its_sources_and_nothing_of_another(
    client, conn, history, bound, camera, person, decision, limit
):
    """Any filters, any page size: the pages together are exactly the sightings
    the token may see that match, newest first, each once; no object in any
    answer names another source's person."""
    token = make_token(conn, ["sightings:read"], bound)
    query = {"limit": limit}
    query |= {"camera": camera} if camera else {}
    query |= {"external_id": person} if person else {}
    query |= {"decision": decision} if decision else {}
    rows = _all_pages(client, token, **query)
    want = [
        row
        for row in history
        if _visible(row, bound)
        and (camera is None or row[4] == camera)
        and (person is None or row[2] == person)
        and (decision is None or (decision == "identified") == (row[1] is not None))
    ]
    assert sorted(r["sighting_id"] for r in rows) == sorted(w[0] for w in want)
    starts = [r["started_at"] for r in rows]
    assert starts == sorted(starts, reverse=True)
    for row in rows:
        identity = row["identity"]
        if bound is not None and identity is not None:
            assert identity["source_system"] in bound
        assert identity is None or identity["name"] != "Native" or bound is None


def test_a_bound_token_naming_another_source_is_refused(client, conn, history):
    token = make_token(conn, ["sightings:read"], [A])
    response = client.get(f"/api/sightings?source_system={B}", headers=auth(token))
    assert response.status_code == 403
    assert "Bob" not in response.get_data(as_text=True)
    theirs = conn.execute(
        "SELECT identity_id::text FROM identities WHERE source_system = %s", (B,)
    ).fetchone()[0]
    by_id = client.get(f"/api/sightings?identity_id={theirs}", headers=auth(token))
    assert by_id.status_code == 200 and by_id.get_json()["sightings"] == []


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-05-01",
        "identity_id=15",
        "decision=maybe",
        "limit=0",
        "limit=1001",
        "cursor=bm90LWEtY3Vyc29y",
        "camera=",
        "sinse=2026-05-01T00:00:00Z",
    ],
)
def test_bad_filters_are_refused_naming_them(client, conn, query):
    token = make_token(conn, ["sightings:read"])
    response = client.get(f"/api/sightings?{query}", headers=auth(token))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["errors"][0]["field"] == query.split("=")[0]


def test_time_filters(client, conn, history):
    token = make_token(conn, ["sightings:read"])
    since = NOW - timedelta(minutes=5, seconds=30)
    until = NOW - timedelta(minutes=2, seconds=30)
    rows = _all_pages(client, token, since=since.isoformat(), until=until.isoformat())
    assert rows
    for row in rows:
        assert datetime.fromisoformat(row["ended_at"]) >= since
        assert datetime.fromisoformat(row["started_at"]) < until
    everything = _all_pages(client, token)
    assert len(rows) < len(everything)
