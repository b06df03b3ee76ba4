"""`studio migrate --status`: which migrations are applied and which pending,
on which database (never its password); it reads and changes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from helpers import migrate
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from app.cli.database import without_password
from app.migrations import load_migrations

STUDIO = str(Path(sys.executable).parent / "studio")
NO_VECTOR_TYPE = "pgvector type not found; run `studio migrate`"
LABELS = [f"{m.version:04d}_{m.name}" for m in load_migrations()]


def status(db_url: str) -> tuple[dict[str, str], list[str]]:
    """Run it as a user would: each migration's state, and the other lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    result = subprocess.run(
        [STUDIO, "migrate", "--status"],
        env=env | {"STUDIO_DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # A database never migrated has no vector type yet; app/db.py says so.
    assert set(result.stderr.splitlines()) <= {NO_VECTOR_TYPE}, result.stderr
    states, other = {}, []
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) >= 2 and re.fullmatch(r"\d{4}_\w+", words[0]):
            states[words[0]] = words[1]
        else:
            other.append(line)
    return states, other


def history(url: str) -> list[tuple] | None:
    """What the database records of its migrations (None: never migrated)."""
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
            return None
        return conn.execute("SELECT * FROM schema_migrations ORDER BY version").fetchall()


def test_a_current_database_is_up_to_date(db_url):
    before = history(db_url)
    states, other = status(db_url)
    assert states == dict.fromkeys(LABELS, "applied")
    assert other[-1] == "up to date"
    assert history(db_url) == before


@pytest.mark.parametrize("target", [0, 1, 4])
def test_a_database_behind_the_code_lists_what_is_pending(empty_db_url, target):
    if target:
        migrate(empty_db_url, target=target)
    before = history(empty_db_url)
    states, other = status(empty_db_url)
    applied = [m for m in LABELS if int(m[:4]) <= target]
    assert states == dict.fromkeys(applied, "applied") | {
        m: "pending" for m in LABELS if m not in applied
    }
    assert other[-1] == f"{len(LABELS) - len(applied)} pending: `studio migrate` applies them"
    assert history(empty_db_url) == before  # nothing applied, not even the record table
    migrate(empty_db_url)
    assert status(empty_db_url)[0] == dict.fromkeys(LABELS, "applied")


def test_a_changed_file_and_a_newer_database_are_named_not_raised(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'later', 'x')"
        )
    states, other = status(db_url)
    assert states[LABELS[0]] == "changed" and states["9999_later"] == "unknown"
    assert all(states[m] == "applied" for m in LABELS[1:])
    assert any(line.startswith(f"{LABELS[0]}: its file changed") for line in other)
    assert any(line.startswith("9999_later: the database is newer") for line in other)


def test_the_database_is_shown_without_its_password(db_url):
    # The test server trusts local connections, so a password is sent and ignored.
    states, other = status(f"{db_url} password=sesame§")
    assert set(states.values()) == {"applied"}
    shown = other[0]
    assert shown.startswith("database: ") and "sesame" not in shown
    expected = {k: v for k, v in conninfo_to_dict(db_url).items() if k != "password"}
    assert conninfo_to_dict(shown.removeprefix("database: ")) == expected


# ---------------------------------------------------------------- redaction

TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10
)
WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=8)
SECRET = TEXT.map(lambda t: f"§{t}")  # § is in nothing else generated


def assert_shown_without_password(conninfo: str) -> None:
    shown = without_password(conninfo)
    assert "§" not in shown and "%C2%A7" not in shown.upper()
    expected = {k: v for k, v in conninfo_to_dict(conninfo).items() if k != "password"}
    assert conninfo_to_dict(shown) == expected  # libpq reads everything else unchanged


@settings(max_examples=100, deadline=None)
@given(
    user=st.none() | WORD,
    password=SECRET,
    host=WORD,
    port=st.integers(1, 65535),
    dbname=WORD,
    application=st.none() | TEXT.filter(lambda t: "§" not in t),
)
def test_keyword_conninfo_loses_only_its_password(user, password, host, port, dbname, application):
    params = {"host": host, "port": port, "dbname": dbname, "password": password}
    params |= {"user": user} if user else {}
    params |= {"application_name": application} if application else {}
    assert_shown_without_password(make_conninfo(**params))


@settings(max_examples=100, deadline=None)
@given(
    scheme=st.sampled_from(["postgresql", "postgres"]),
    user=st.none() | WORD,
    password=st.none() | SECRET,
    host=WORD,
    port=st.integers(1, 65535),
    dbname=WORD,
    query_password=st.none() | SECRET,
    application=st.none() | TEXT.filter(lambda t: "§" not in t),
)
def test_url_loses_only_its_password(
    scheme, user, password, host, port, dbname, query_password, application
):
    userinfo = ""
    if user or password:
        userinfo = quote(user or "", safe="")
        userinfo += f":{quote(password, safe='')}" if password else ""
        userinfo += "@"
    query = [f"password={quote(query_password, safe='')}"] if query_password else []
    query += [f"application_name={quote(application, safe='')}"] if application else []
    url = f"{scheme}://{userinfo}{host}:{port}/{dbname}" + (f"?{'&'.join(query)}" if query else "")
    assert_shown_without_password(url)
