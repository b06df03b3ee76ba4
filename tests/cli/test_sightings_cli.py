"""`studio sightings`: a readable table from the database or the API, the same
rows both ways; `studio sightings purge`: retention from cron."""

from __future__ import annotations

import json
from datetime import timedelta

from helpers import make_token
from sightings_support import NOW, people, record, sighting
from test_cli import studio

from app.cli.sightings import moment


def test_the_table_from_the_database_and_from_the_api(db_url, conn, live_server):
    ids = people(conn, "alfred_catalog", {"15": "Ada Lovelace", "16": "Grace Hopper"})
    record(conn, sighting(ids["15"], camera="door", start=NOW - timedelta(hours=1)))
    record(conn, sighting(ids["16"], camera="yard", start=NOW - timedelta(hours=3)))
    record(conn, sighting(None, camera="door", start=NOW - timedelta(days=3)))

    table = studio("sightings", db_url=db_url).stdout
    assert "Ada Lovelace" in table and "Grace Hopper" in table and "unknown" in table
    assert table.index("Ada Lovelace") < table.index("Grace Hopper")  # newest first
    assert table.strip().endswith("3 sightings")

    recent = studio("sightings", "--since", "2h", db_url=db_url).stdout
    assert "Ada Lovelace" in recent and "Grace Hopper" not in recent
    person = studio("sightings", "--person", "16", "--json", db_url=db_url).stdout
    assert [s["identity"]["name"] for s in json.loads(person)] == ["Grace Hopper"]

    token = make_token(conn, ["sightings:read"])
    api = {"STUDIO_URL": live_server, "STUDIO_TOKEN": token}
    through_api = studio("sightings", "--camera", "door", "--json", extra_env=api).stdout
    direct = studio("sightings", "--camera", "door", "--json", db_url=db_url).stdout
    assert json.loads(through_api) == json.loads(direct)
    assert len(json.loads(direct)) == 2

    refused = studio("sightings", "--since", "yesterday", db_url=db_url, check=False)
    assert refused.returncode == 1 and "since" in refused.stderr


def test_purge_keeps_the_retention(db_url, conn):
    ada = people(conn, "alfred_catalog", {"15": "Ada"})["15"]
    for days in (1, 10, 40):
        record(conn, sighting(ada, start=NOW - timedelta(days=days)))
    out = studio("sightings", "purge", db_url=db_url, extra_env={}).stdout
    assert "purged 1 sightings older than 30 days" in out
    env = {"STUDIO_SIGHTING_RETENTION_DAYS": "5"}
    assert "purged 1 " in studio("sightings", "purge", db_url=db_url, extra_env=env).stdout
    assert "purged 0 " in studio("sightings", "purge", "--days", "5", db_url=db_url).stdout
    assert studio("sightings", "purge", "--days", "0", db_url=db_url, check=False).returncode == 2
    assert conn.execute("SELECT count(*) FROM sightings").fetchone() == (1,)


def test_ages_are_times_before_now():
    assert moment("90m", NOW) == (NOW - timedelta(minutes=90)).isoformat()
    assert moment("2w", NOW) == (NOW - timedelta(weeks=2)).isoformat()
    assert moment("2026-05-01T00:00:00Z") == "2026-05-01T00:00:00Z"
    assert moment(None) is None
