"""The mass-delete guard of a full sync judges the state the call leaves:
generated lists of upserts and deletes, in any order and with repeats, are
refused exactly when more than half of the source's identities would be gone
(a row deleted, or deleted and made anew without its embeddings), and a
refused call changes nothing."""

from __future__ import annotations

import json

import psycopg
import pytest
from helpers import table_digest, vector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SOURCE = "alfred_catalog"
KEYS = [str(i) for i in range(8)]

items = st.lists(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(["upsert", "delete"])), max_size=16
)


def surviving(existing: set[str], listed: list[tuple[str, str]]) -> int:
    """How many of the rows there before a full sync are still there after it."""
    alive = set(existing)  # keys whose original row still stands
    for key, action in listed:
        if action == "delete":
            alive.discard(key)
    named = {key for key, _ in listed}
    return len(alive & named)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(existing=st.sets(st.sampled_from(KEYS)), listed=items, dry_run=st.booleans())
def test_full_sync_is_refused_exactly_when_more_than_half_would_go(conn, existing, listed, dry_run):
    conn.execute("TRUNCATE identities, identity_tombstones, audit_journal CASCADE")
    conn.execute(
        "SELECT sync_identities(%s::jsonb)",
        (
            json.dumps(
                {
                    "source_system": SOURCE,
                    "identities": [{"external_id": k, "name": f"P{k}"} for k in existing],
                }
            ),
        ),
    )
    for seed, key in enumerate(sorted(existing)):
        conn.execute(
            "SELECT ingest_embeddings(%s::jsonb)",
            (
                json.dumps(
                    {
                        "source_system": SOURCE,
                        "results": [
                            {
                                "external_id": key,
                                "name": f"P{key}",
                                "faces": [{"embedding": vector(seed)}],
                            }
                        ],
                    }
                ),
            ),
        )
    before = table_digest(conn)
    payload = {
        "source_system": SOURCE,
        "mode": "full",
        "dry_run": dry_run,
        "identities": [
            {
                "external_id": key,
                "action": action,
                **({"name": f"N{key}"} if action == "upsert" else {}),
            }
            for key, action in listed
        ],
    }
    gone = len(existing) - surviving(existing, listed)
    try:
        result = conn.execute(
            "SELECT sync_identities(%s::jsonb)", (json.dumps(payload),)
        ).fetchone()[0]
    except psycopg.errors.InvalidParameterValue as exc:
        errors = json.loads(exc.diag.message_detail)
        assert [e["code"] for e in errors] == ["mass_delete"], errors
        assert gone * 2 > len(existing), (existing, listed)
        assert f"delete {gone} of the {len(existing)}" in errors[0]["message"]
        assert table_digest(conn) == before
        return
    assert gone * 2 <= len(existing), (existing, listed, result)
    if not dry_run:
        still_there = conn.execute(
            "SELECT count(*) FROM identities AS i JOIN embeddings AS e USING (identity_id)"
            " WHERE i.source_system = %s",
            (SOURCE,),
        ).fetchone()[0]
        # Each surviving row kept its one embedding; new rows have none.
        assert still_there == len(existing) - gone
