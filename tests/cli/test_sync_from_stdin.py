"""A catalog's cron pipes its people into `studio sync -`, as the seed's Alfred would.

The seed's Alfred lists its people from its own database
(`get_all_labeled_people()`), not over HTTP; its cron turns that list into
CSV or JSON on standard output and `studio sync - --full` makes Studio match.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

STUDIO = str(Path(sys.executable).parent / "studio")


def sync_stdin(text: str, *args: str, db_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    return subprocess.run(
        [STUDIO, "sync", "-", *args],
        input=text,
        env=env | {"STUDIO_DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _people(conn) -> dict[str, str]:
    return dict(
        conn.execute(
            "SELECT external_id, name FROM identities WHERE source_system = 'alfred_catalog'"
        ).fetchall()
    )


def test_cron_pipes_csv_then_json_into_a_full_sync(db_url, conn):
    # What a cron script would print from get_all_labeled_people().
    csv_text = "external_id,name\n42,John Smith\n87,Jane Doe\n15,Ada Lovelace\n"
    first = sync_stdin(csv_text, "--source-system", "alfred_catalog", "--full", db_url=db_url)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["created"] == 3
    assert _people(conn) == {"42": "John Smith", "87": "Jane Doe", "15": "Ada Lovelace"}

    # A day later: 42 renamed, 15 gone, 99 new. JSON this time, a bare list.
    people = [
        {"external_id": 42, "name": "Jonathan Smith"},
        {"external_id": "87", "name": "Jane Doe"},
        {"external_id": 99, "name": "Grace Hopper"},
    ]
    second = sync_stdin(
        json.dumps(people), "--source-system", "alfred_catalog", "--full", db_url=db_url
    )
    assert second.returncode == 0, second.stderr
    counts = json.loads(second.stdout)
    assert (counts["created"], counts["updated"], counts["deleted"]) == (1, 1, 1)
    assert _people(conn) == {"42": "Jonathan Smith", "87": "Jane Doe", "99": "Grace Hopper"}


def test_an_empty_or_broken_list_changes_nothing(db_url, conn):
    sync_stdin("1,A\n2,B\n3,C\n", "--source-system", "alfred_catalog", db_url=db_url)
    # A cron whose database query failed prints nothing: the mass-delete
    # guard refuses to empty the source.
    empty = sync_stdin("", "--source-system", "alfred_catalog", "--full", db_url=db_url)
    assert empty.returncode == 1 and "allow_mass_delete" in empty.stderr
    broken = sync_stdin("{not json", "--source-system", "alfred_catalog", db_url=db_url)
    assert broken.returncode == 1 and "is not JSON" in broken.stderr
    assert "Traceback" not in broken.stderr
    nameless = sync_stdin("4\n", "--source-system", "alfred_catalog", db_url=db_url)
    assert nameless.returncode == 1 and "item 0" in nameless.stderr
    assert _people(conn) == {"1": "A", "2": "B", "3": "C"}
