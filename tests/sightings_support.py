"""Sightings for the tests: a valid payload to vary, people to see, and the
checks every stored sighting and event must pass."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

NOW = datetime.now(UTC).replace(microsecond=0)


def sighting(identity_id: str | None = None, **fields) -> dict:
    """A valid sighting: identified when an identity is given, unknown otherwise."""
    start = fields.pop("start", NOW - timedelta(minutes=10))
    payload = {
        "sighting_id": str(uuid.uuid4()),
        "camera": "front_door",
        "model": "buffalo_s",
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=7)).isoformat(),
        "frames": 14,
        "decision": "identified" if identity_id else "unknown",
        "identity_id": identity_id,
        "best_similarity": 0.71 if identity_id else None,
        "mean_similarity": 0.64 if identity_id else None,
        "track": 3,
    }
    payload.update(fields)
    return payload


def record(conn: psycopg.Connection, payload, caller: str = "test", allowed=None) -> dict:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return conn.execute(
        "SELECT record_sighting(%s::jsonb, %s, %s)", (text, caller, allowed)
    ).fetchone()[0]


def people(conn: psycopg.Connection, source: str, names: dict[str, str]) -> dict[str, str]:
    """Sync people of one source; their identity_ids by external_id."""
    conn.execute(
        "SELECT sync_identities(%s::jsonb)",
        (
            json.dumps(
                {
                    "source_system": source,
                    "identities": [{"external_id": k, "name": v} for k, v in names.items()],
                }
            ),
        ),
    )
    rows = conn.execute(
        "SELECT external_id, identity_id::text FROM identities WHERE source_system = %s",
        (source,),
    ).fetchall()
    return dict(rows)


def outbox_invariants(conn: psycopg.Connection) -> None:
    """What the outbox promises after any call: one `sighting` event per
    sighting and none without one, each delivery to an output that publishes
    its decision, first_seen and last_seen covering every identified sighting."""
    orphans = conn.execute(
        """
        SELECT count(*) FROM sightings s
        WHERE (SELECT count(*) FROM events e WHERE e.sighting_id = s.sighting_id) <> 1
        """
    ).fetchone()[0]
    assert orphans == 0, "a sighting without exactly one event"
    assert conn.execute(
        "SELECT count(*) FROM events WHERE kind = 'sighting' AND sighting_id IS NULL"
    ).fetchone() == (0,)
    wrong = conn.execute(
        """
        SELECT count(*) FROM deliveries d
        JOIN events e USING (event_id) JOIN sightings s USING (sighting_id)
        JOIN event_outputs o USING (output)
        WHERE NOT s.decision = ANY (o.decisions)
        """
    ).fetchone()[0]
    assert wrong == 0, "a delivery to an output that does not publish the decision"
    uncovered = conn.execute(
        """
        SELECT count(*) FROM sightings s JOIN identities i USING (identity_id)
        WHERE i.first_seen > s.started_at OR i.last_seen < s.ended_at
        """
    ).fetchone()[0]
    assert uncovered == 0, "first_seen/last_seen do not cover a sighting"
    mismatched = conn.execute(
        """
        SELECT count(*) FROM events e JOIN sightings s USING (sighting_id)
        WHERE e.payload -> 'sighting' ->> 'sighting_id' <> s.sighting_id::text
           OR e.payload ->> 'event_id' <> e.event_id::text
           OR (e.payload -> 'person' ->> 'identity_id') IS DISTINCT FROM s.identity_id::text
        """
    ).fetchone()[0]
    assert mismatched == 0
