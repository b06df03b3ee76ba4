"""Property tests: any JSON either applies or is rejected with a validation
SQLSTATE, and a rejected call leaves the database byte-for-byte unchanged."""

from __future__ import annotations

import json

import psycopg
import pytest
from helpers import table_digest, vector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VALIDATION_SQLSTATES = {"22023", "22P02", "22P05", "54001", "42501"}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
any_json = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(["external_id", "name", "action", "faces", "photo_url", "x"])
identity_items = st.dictionaries(
    keys, any_json | st.sampled_from(["upsert", "delete", "1", "Ada"]), max_size=4
)
sync_payloads = (
    st.fixed_dictionaries(
        {
            "source_system": st.sampled_from(["alfred_catalog", "", 7, "x" * 60]),
            "identities": st.lists(identity_items, max_size=5) | any_json,
        },
        optional={"mode": st.sampled_from(["full", "incremental", "other"]), "dry_run": any_json},
    )
    | any_json
)
faces = st.fixed_dictionaries(
    {"embedding": st.sampled_from([vector(1), vector(2, 511), [0] * 512]) | any_json},
    optional={"confidence": any_json | st.floats(0, 1)},
)
ingest_payloads = (
    st.fixed_dictionaries(
        {
            "source_system": st.sampled_from(["alfred_catalog", ""]),
            "results": st.lists(
                st.fixed_dictionaries(
                    {
                        "external_id": st.sampled_from(["1", "2", 3]) | any_json,
                        "name": st.sampled_from(["Ada", ""]) | any_json,
                        "faces": st.lists(faces, max_size=3) | any_json,
                    }
                ),
                max_size=3,
            )
            | any_json,
        },
    )
    | any_json
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check(conn: psycopg.Connection, function: str, payload) -> None:
    before = table_digest(conn)
    try:
        result = conn.execute(f"SELECT {function}(%s::jsonb)", (json.dumps(payload),)).fetchone()[0]
    except psycopg.Error as exc:
        assert exc.sqlstate in VALIDATION_SQLSTATES, (exc.sqlstate, str(exc))
        assert table_digest(conn) == before, "a rejected call changed the database"
        return
    assert result["success"] is True


@pytest.mark.slow
@SETTINGS
@given(payload=sync_payloads)
def test_sync_identities_any_json(conn, payload):
    _check(conn, "sync_identities", payload)


@pytest.mark.slow
@SETTINGS
@given(payload=ingest_payloads)
def test_ingest_embeddings_any_json(conn, payload):
    _check(conn, "ingest_embeddings", payload)
