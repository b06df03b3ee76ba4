"""Recognizers on a read replica: a hot standby streaming from the primary,
built from the embedded server's own binaries (pg_basebackup -R)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from calibration_support import clustered, enrol
from helpers import auth, make_token, wait_for
from replica_support import primary_and_standby

from app import create_app
from app.db import Database
from app.person_recognizer import PersonRecognizer

MODEL = "buffalo_s"
POLL = 0.2


@pytest.fixture(scope="module")
def replica():
    with primary_and_standby() as pair:
        yield pair


@pytest.fixture
def people(replica):
    """Six people with four references each on the primary; a held-out fifth
    photo of each as its probe."""
    faces = clustered(6, 5, seed=21)
    with psycopg.connect(replica.primary_url, autocommit=True) as conn:
        conn.execute("TRUNCATE identities, identity_tombstones CASCADE")
        enrol(conn, faces[:, :4], model=MODEL)
    return faces[:, 4]


def _sync(url: str, items: list[dict]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT sync_identities(%s::jsonb)",
            (json.dumps({"source_system": "alfred_catalog", "identities": items}),),
        )


def test_a_delete_on_the_primary_stops_recognition_on_the_replica_within_two_seconds(
    replica, people
):
    with Database(replica.standby_url, pool_size=2) as standby:
        assert standby.value("SELECT pg_is_in_recovery()")
        recognizer = PersonRecognizer(standby, MODEL, poll_interval=POLL)
        try:
            # Replication first has to bring the people over.
            wait_for(
                lambda: (
                    recognizer.match(people[0])[0].best is not None
                    and recognizer.match(people[0])[0].best.external_id == "p0"
                ),
                timeout=10,
            )
            expected = [f"p{i}" for i in range(6)]
            assert [m.best.external_id for m in recognizer.match(people)] == expected
            # match_faces() is read-only: the SQL search path runs on the standby too.
            assert [m.best.external_id for m in recognizer.match(people, search="ann")] == expected
            started = time.monotonic()
            _sync(replica.primary_url, [{"external_id": "p0", "action": "delete"}])
            wait_for(
                lambda: all(
                    c.external_id != "p0" for c in recognizer.match(people[0])[0].candidates
                ),
                timeout=2.0,
                interval=0.02,
            )
            took = time.monotonic() - started
            _sync(replica.primary_url, [{"external_id": "p1", "name": "Ada Lovelace"}])
            wait_for(
                lambda: recognizer.match(people[1])[0].best.name == "Ada Lovelace", timeout=2.0
            )
            # Followed by polling (a standby takes no LISTEN), change by change.
            assert recognizer.reloads == 1 and recognizer.changes_applied >= 2
            print(f"delete on the primary to no match on the replica: {took:.2f} s")
        finally:
            recognizer.close()


def test_the_api_reads_the_replica_and_writes_sightings_to_the_primary(replica, people):
    app = create_app(
        {
            "database_url": replica.primary_url,
            "database_read_url": replica.standby_url,
            "gallery_poll_ms": int(POLL * 1000),
            "pool_size": 2,
        }
    )
    client = app.test_client()
    with psycopg.connect(replica.primary_url, autocommit=True) as conn:
        token = make_token(conn, ["recognize"])
    body = {"probes": [people[2].tolist()], "model": MODEL, "record_sighting": True}
    try:

        def recognized():
            response = client.post("/api/recognize", json=body, headers=auth(token))
            assert response.status_code == 200, response.get_json()
            return response.get_json()["results"][0]["external_id"] == "p2" and response

        answer = wait_for(recognized, timeout=10).get_json()
        # A sighting is a write: the standby would refuse it, the primary has it.
        assert answer["sightings_recorded"] == 1
        with psycopg.connect(replica.primary_url, autocommit=True) as conn:
            seen = conn.execute(
                "SELECT last_seen IS NOT NULL FROM identities WHERE external_id = 'p2'"
            ).fetchone()
        assert seen == (True,)
        [recognizer] = app.extensions["studio_recognizers"].values()
        assert recognizer.database is app.extensions["studio_read_db"]
        assert recognizer.database.value("SELECT pg_is_in_recovery()")
        # The replica's view of the deleted person ends within the poll, too.
        _sync(replica.primary_url, [{"external_id": "p2", "action": "delete"}])
        wait_for(
            lambda: (
                client.post("/api/recognize", json=body, headers=auth(token)).get_json()["results"][
                    0
                ]["external_id"]
                is None
            ),
            timeout=2.0,
        )
    finally:
        for recognizer in app.extensions.get("studio_recognizers", {}).values():
            recognizer.close()
        app.extensions["studio_db"].close()
        app.extensions["studio_read_db"].close()


def test_the_standby_is_a_replica_of_the_primary(replica, people):
    """The test's premise: the standby refuses writes and LISTEN, and has what
    the primary has."""
    with psycopg.connect(replica.standby_url, autocommit=True) as standby:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            standby.execute("LISTEN studio_gallery")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            standby.execute("DELETE FROM identities")

        def caught_up():
            return standby.execute("SELECT count(*) FROM gallery").fetchone()[0] == 6 * 4

        wait_for(caught_up, timeout=10)
