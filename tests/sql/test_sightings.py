"""record_sighting: every field checked, the sighting and its outbox rows in one
transaction, idempotent on sighting_id; purge_sightings; studio_rfc3339."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from helpers import table_digest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sightings_support import NOW, outbox_invariants, people, record, sighting

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
OUTPUTS = [
    {"output": "ha", "kind": "mqtt", "decisions": ["identified"]},
    {"output": "hook", "kind": "webhook", "decisions": ["identified", "unknown"]},
]


@pytest.fixture
def world(conn) -> dict[str, str]:
    conn.execute("SELECT register_event_outputs(%s::jsonb)", (json.dumps(OUTPUTS),))
    return people(conn, "alfred_catalog", {"15": "Ada Lovelace", "16": "Grace Hopper"})


def _raises(sqlstate: str):
    """pytest.raises for a project SQLSTATE (psycopg has no class for them)."""
    return pytest.raises(psycopg.Error, check=lambda e: e.sqlstate == sqlstate)


def _digest(conn) -> dict[str, str]:
    digest = table_digest(conn)
    for table in ("sightings", "events", "deliveries"):
        digest[table] = conn.execute(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
        ).fetchone()[0]
    return digest


def test_a_sighting_is_recorded_with_its_event_and_deliveries(conn, world):
    ada = world["15"]
    answer = record(conn, sighting(ada, camera=" Front door "), "token:cam")
    assert answer["created"] is True and answer["events"] == 1
    stored = answer["sighting"]
    assert stored["camera"] == "Front door"  # normalised once, stored as checked
    assert stored["identity"] == {
        "identity_id": ada,
        "external_id": "15",
        "source_system": "alfred_catalog",
        "name": "Ada Lovelace",
    }
    event = conn.execute("SELECT kind, payload FROM events").fetchone()
    assert event[0] == "sighting"
    assert event[1]["person"]["name"] == "Ada Lovelace"
    assert event[1]["sighting"]["sighting_id"] == stored["sighting_id"]
    assert sorted(r[0] for r in conn.execute("SELECT output FROM deliveries")) == ["ha", "hook"]
    # An unknown face goes only to the output that publishes unknowns.
    record(conn, sighting(None))
    assert conn.execute("SELECT count(*) FROM deliveries WHERE output = 'hook'").fetchone() == (2,)
    assert conn.execute("SELECT count(*) FROM deliveries WHERE output = 'ha'").fetchone() == (1,)
    seen = conn.execute(
        "SELECT first_seen, last_seen FROM identities WHERE identity_id = %s", (ada,)
    )
    first, last = seen.fetchone()
    assert first.isoformat() == stored["started_at"] and last.isoformat() == stored["ended_at"]
    outbox_invariants(conn)


def test_a_failed_insert_leaves_neither_sighting_nor_event(conn, world):
    """The event insert fails (a trigger refuses it): the sighting is gone too."""
    conn.execute(
        """
        CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = 'P0001'; END $$;
        CREATE TRIGGER refuse_event BEFORE INSERT ON events
            FOR EACH ROW WHEN (NEW.payload -> 'sighting' ->> 'camera' = 'doomed')
            EXECUTE FUNCTION refuse_event();
        """
    )
    before = _digest(conn)
    with pytest.raises(psycopg.errors.RaiseException):
        record(conn, sighting(world["15"], camera="doomed"))
    assert _digest(conn) == before
    record(conn, sighting(world["15"], camera="fine"))
    assert _digest(conn) != before
    outbox_invariants(conn)


def test_a_retry_is_recorded_once_and_other_content_is_a_conflict(conn, world):
    payload = sighting(world["15"])
    first = record(conn, payload)
    after_first = _digest(conn)
    again = record(conn, payload)
    assert (again["created"], again["events"]) == (False, 0)
    assert again["sighting"] == first["sighting"]
    assert _digest(conn) == after_first
    for change in ({"frames": 15}, {"camera": "yard"}, {"identity_id": world["16"]}):
        with _raises("GT004"):
            record(conn, {**payload, **change})
        assert _digest(conn) == after_first
    # The same sighting from a token bound otherwise is not the same sighting.
    with _raises("GT004"):
        record(conn, payload, allowed=["alfred_catalog"])


def test_an_identity_outside_the_callers_sources_is_answered_like_none(conn, world):
    other = people(conn, "other_catalog", {"1": "Someone Else"})["1"]
    before = _digest(conn)
    answers = []
    for identity_id in (other, str(uuid.uuid4())):
        with _raises("GT003") as info:
            record(conn, sighting(identity_id), allowed=["alfred_catalog"])
        answers.append(info.value.diag.message_primary.replace(identity_id, "X"))
    assert answers[0] == answers[1]
    assert _digest(conn) == before


def _rejected(conn, payload) -> list[dict]:
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        record(conn, payload)
    return json.loads(info.value.diag.message_detail)


FUTURE = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
# (change, the field named, its code)
REFUSED = [
    ({"sighting_id": None}, "sighting_id", "required"),
    ({"sighting_id": "not-a-uuid"}, "sighting_id", "invalid_value"),
    ({"camera": ""}, "camera", "required"),
    ({"camera": "rtsp://10.0.0.5/stream"}, "camera", "forbidden_value"),
    ({"camera": "/home/pi/snapshots/door.jpg"}, "camera", "forbidden_value"),
    ({"camera": "c" * 101}, "camera", "too_long"),
    ({"camera": "door\x07"}, "camera", "invalid_characters"),
    ({"model": "buffalo l"}, "model", "invalid_value"),
    ({"started_at": "2026-05-01 08:15:02Z"}, "started_at", "invalid_value"),
    ({"started_at": "2026-02-30T08:15:02Z"}, "started_at", "invalid_value"),
    ({"started_at": "2026-05-01T08:15:02"}, "started_at", "invalid_value"),
    ({"started_at": "now"}, "started_at", "invalid_value"),
    ({"ended_at": None}, "ended_at", "required"),
    ({"ended_at": "2000-01-01T00:00:00Z"}, "ended_at", "before_start"),
    ({"ended_at": FUTURE}, "ended_at", "in_the_future"),
    ({"started_at": "1970-01-01T00:00:00Z"}, "started_at", "track_too_long"),
    ({"frames": 0}, "frames", "out_of_range"),
    ({"frames": 1.5}, "frames", "out_of_range"),
    ({"frames": "14"}, "frames", "out_of_range"),
    ({"decision": "maybe"}, "decision", "invalid_value"),
    ({"identity_id": None}, "identity_id", "required"),
    ({"decision": "unknown"}, "identity_id", "invalid_value"),
    ({"best_similarity": 1.5}, "best_similarity", "out_of_range"),
    ({"mean_similarity": "0.5"}, "mean_similarity", "invalid_type"),
    ({"track": -1}, "track", "out_of_range"),
    ({"snapshot_path": "x"}, "snapshot_path", "forbidden_field"),
    ({"thumbnail": "iVBORw0KGgo="}, "thumbnail", "forbidden_field"),
    ({"extra": 1}, "extra", "unknown_field"),
]


@pytest.mark.parametrize(("change", "field", "code"), REFUSED)
def test_every_field_is_checked_and_named(conn, world, change, field, code):
    before = _digest(conn)
    errors = _rejected(conn, {**sighting(world["15"]), **change})
    assert (field, code) in {(e["field"], e["code"]) for e in errors}, errors
    assert _digest(conn) == before


def test_every_problem_is_reported_at_once(conn, world):
    payload = {**sighting(world["15"]), "frames": 0, "camera": "", "track": -2, "photo": "x"}
    fields = {e["field"] for e in _rejected(conn, payload)}
    assert {"frames", "camera", "track", "photo"} <= fields


# Values a field may be sent with: valid ones and hostile ones of every type.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    # No NUL: jsonb cannot hold one, and the API refuses it before SQL.
    st.text(st.characters(exclude_characters="\x00"), max_size=40),
    st.sampled_from(["2026-05-01T08:15:02Z", "http://cam/1", "../x.jpg", str(uuid.uuid4())]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["a", "url"]), st.integers(), max_size=2),
)
FIELDS = list(sighting("x"))


@SETTINGS
@given(data=st.data())
def test_any_payload_is_recorded_whole_or_refused_naming_what_is_wrong(conn, world, data):
    """Generated payloads (a valid one with some fields replaced, dropped or
    added): accepted ones are stored as sent, refused ones name a field that
    was changed and change nothing; the outbox invariants hold after each."""
    identity = data.draw(st.sampled_from([world["15"], world["16"], None]))
    payload = sighting(identity, start=NOW - timedelta(hours=data.draw(st.integers(0, 500))))
    changed = data.draw(st.sets(st.sampled_from([*FIELDS, "photo", "note"]), max_size=3))
    for field in changed:
        if data.draw(st.booleans()) and field in payload:
            del payload[field]
        else:
            payload[field] = data.draw(ANY_VALUE)
    before = _digest(conn)
    try:
        answer = record(conn, payload)
    except psycopg.errors.InvalidParameterValue as exc:
        # A field inside a changed value ("camera.url" when camera became an
        # object) belongs to the field that was changed.
        named = {
            re.split(r"[.\[]", e["field"], maxsplit=1)[0]
            for e in json.loads(exc.diag.message_detail)
        }
        # A change to one field can make another wrong (a decision that no
        # longer fits the identity, an end before a changed start).
        related = {"decision": {"identity_id"}, "started_at": {"ended_at"}}
        allowed = changed | {f for c in changed for f in related.get(c, ())}
        assert named and named <= allowed, (named, changed)
        assert _digest(conn) == before
    except psycopg.Error as exc:
        assert exc.sqlstate in ("GT003", "GT004"), exc
        assert changed & {"identity_id", "decision", "sighting_id"}
        assert _digest(conn) == before
    else:
        stored = answer["sighting"]
        assert stored["sighting_id"] == payload["sighting_id"]
        assert stored["frames"] == payload["frames"] and stored["decision"] == payload["decision"]
        assert (stored["identity"] or {}).get("identity_id") == payload.get("identity_id")
    outbox_invariants(conn)


def test_retention_purges_old_sightings_with_their_events_and_keeps_last_seen(conn, world):
    ada = world["15"]
    ages = [1, 5, 29, 31, 45, 400]
    for days in ages:
        record(conn, sighting(ada, start=NOW - timedelta(days=days)))
        record(conn, sighting(None, start=NOW - timedelta(days=days)))
    seen = conn.execute(
        "SELECT first_seen, last_seen FROM identities WHERE identity_id = %s", (ada,)
    )
    before = seen.fetchone()
    assert conn.execute("SELECT purge_sightings(interval '30 days')").fetchone() == (6,)
    kept = conn.execute("SELECT min(ended_at) FROM sightings").fetchone()[0]
    assert kept > NOW - timedelta(days=30)
    assert conn.execute("SELECT count(*) FROM sightings").fetchone() == (6,)
    assert conn.execute("SELECT count(*) FROM events").fetchone() == (6,)
    assert conn.execute("SELECT purge_sightings(interval '30 days')").fetchone() == (0,)
    after = conn.execute(
        "SELECT first_seen, last_seen FROM identities WHERE identity_id = %s", (ada,)
    ).fetchone()
    assert after == before
    outbox_invariants(conn)
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute("SELECT purge_sightings(interval '0 days')")


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
    digits=st.integers(0, 9),
    lower=st.booleans(),
)
def test_rfc3339_reads_what_the_format_allows(conn, moment, offset_minutes, digits, lower):
    """Any RFC 3339 date-time (offsets up to ±23:59, any fraction, t and z in
    either case) is read as the instant it names."""
    local = moment + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    micro = f"{moment.microsecond:06d}000"
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
        + (f".{micro[:digits]}" if digits else "")
    )
    zone = "Z" if offset_minutes == 0 else f"{sign}{hours:02d}:{minutes:02d}"
    if lower:
        text, zone = text.replace("T", "t"), zone.lower()
    text += zone
    expected = moment.replace(microsecond=int(micro[: min(digits, 6)].ljust(6, "0")))
    got = conn.execute("SELECT studio_rfc3339(%s)", (text,)).fetchone()[0]
    assert got == expected, text


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-01",
        "2026-05-01T08:15Z",
        "2026-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2024-01-01T12:99:00Z",
        "0000-01-01T00:00:00Z",
        "2026-05-01T08:15:02+24:00",
        "2026-05-01T08:15:02+0200",
        " 2026-05-01T08:15:02Z",
        "today",
        "",
    ],
)
def test_rfc3339_refuses_what_the_format_does_not(conn, text):
    assert conn.execute("SELECT studio_rfc3339(%s)", (text,)).fetchone() == (None,)
