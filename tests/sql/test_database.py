"""app/db.py, the one way into PostgreSQL: which failures are retried, what one
connection and one session hold, LISTEN, and that nothing else opens a connection."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import db
from app.db import Database, DatabaseError, DatabaseUnavailable

PROJECT = Path(db.__file__).resolve().parent.parent
RETRYABLE = sorted(db.RETRYABLE_SQLSTATES)
# A check violation, a validation error, a project code: never retried.
OTHERS = ["23514", "22023", "GT001"]

# flaky() fails the tries its plan names, with the SQLSTATE named, and
# records every try it makes: the record of a failed try is rolled back with
# it, so `applied` shows what took effect.
FLAKY = """
CREATE TABLE plan (try bigint PRIMARY KEY, sqlstate text NOT NULL);
CREATE TABLE applied (try bigint NOT NULL);
CREATE SEQUENCE tries;
CREATE FUNCTION flaky() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_try   bigint := nextval('tries');
    v_state text;
BEGIN
    INSERT INTO applied VALUES (v_try);
    SELECT sqlstate INTO v_state FROM plan WHERE try = v_try;
    IF v_state IS NOT NULL THEN
        RAISE EXCEPTION 'planned failure of try %', v_try USING ERRCODE = v_state;
    END IF;
    RETURN jsonb_build_object('try', v_try);
END
$$;
"""


@pytest.fixture
def flaky(db_url, conn):
    conn.execute(FLAKY)
    return db_url


def _expected(plan: list[str]) -> tuple[tuple[str, object], int]:
    """What a caller sees and how many tries are made, by the rule in app/db.py."""
    for attempt in range(db.RETRIES + 1):
        state = plan[attempt] if attempt < len(plan) else None
        if state is None:
            return ("value", attempt + 1), attempt + 1
        if state not in db.RETRYABLE_SQLSTATES or attempt == db.RETRIES:
            return ("error", state), attempt + 1
    raise AssertionError("unreachable")


@pytest.mark.parametrize("pool_size", [None, 2], ids=["single", "pool"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=st.lists(st.sampled_from(RETRYABLE + OTHERS), max_size=db.RETRIES + 2))
def test_only_serialization_failures_and_deadlocks_are_retried(
    flaky, conn, monkeypatch, pool_size, plan
):
    backoffs: list[int] = []
    monkeypatch.setattr(db, "_backoff", backoffs.append)
    conn.execute("TRUNCATE plan, applied")
    conn.execute("ALTER SEQUENCE tries RESTART")
    for number, state in enumerate(plan, start=1):
        conn.execute("INSERT INTO plan VALUES (%s, %s)", (number, state))
    expected, tries = _expected(plan)

    with Database(flaky, pool_size=pool_size) as database:
        try:
            seen: tuple[str, object] = ("value", database.value("SELECT flaky()")["try"])
        except DatabaseError as exc:
            seen = ("error", exc.sqlstate)

    assert seen == expected
    assert conn.execute("SELECT last_value FROM tries").fetchone()[0] == tries
    assert backoffs == list(range(tries - 1))
    applied = [row[0] for row in conn.execute("SELECT try FROM applied ORDER BY try")]
    # What was acknowledged took effect once; what was refused changed nothing.
    assert applied == ([tries] if expected[0] == "value" else [])


def test_a_session_holds_one_connection_and_its_transaction(db_url, conn):
    conn.execute("CREATE TABLE t (n integer)")
    with Database(db_url) as database:
        with database.session() as session:
            pid = session.value("SELECT pg_backend_pid()")
            assert session.value("SELECT pg_backend_pid()") == pid
            with pytest.raises(ZeroDivisionError), session.transaction():
                session.execute("INSERT INTO t VALUES (%s)", 1)
                raise ZeroDivisionError
            with session.transaction():
                session.execute("INSERT INTO t VALUES (%(n)s)", n=2)
        assert database.fetch_all("SELECT n FROM t") == [(2,)]


def test_the_single_connection_is_opened_again_after_it_broke(db_url, conn):
    with Database(db_url) as database:
        pid = database.value("SELECT pg_backend_pid()")
        assert database.value("SELECT pg_backend_pid()") == pid
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(DatabaseUnavailable):
            database.value("SELECT 1")
        assert database.value("SELECT pg_backend_pid()") not in (None, pid)


def test_listening_says_whether_a_notification_came(db_url, conn):
    with Database(db_url, pool_size=1) as database, database.listening("studio_test") as wait:
        assert not wait(0.05)
        conn.execute("NOTIFY studio_test")
        assert wait(5.0)
        assert not wait(0.05)


def test_a_statement_gives_its_parameters_in_order_or_by_name_not_both(db_url):
    with Database(db_url) as database:
        assert database.value("SELECT %s::integer + %s", 1, 2) == 3
        assert database.value("SELECT %(a)s::integer * 10", a=4) == 40
        assert database.value("SELECT '100%%'") == "100%"
        with pytest.raises(TypeError):
            database.value("SELECT %s", 1, a=2)


def test_nothing_but_app_db_talks_to_psycopg():
    """app/errors.py may name psycopg's errors to map them to HTTP; nothing else in
    app/ or worker/ imports psycopg, and only app/db.py connects."""
    offenders = []
    for path in sorted([*PROJECT.glob("app/**/*.py"), *PROJECT.glob("worker/**/*.py")]):
        relative = path.relative_to(PROJECT).as_posix()
        text = path.read_text(encoding="utf-8")
        if relative == "app/db.py":
            continue
        imports = re.findall(r"^\s*(?:from|import) (psycopg\w*|pgvector)\b", text, re.M)
        allowed = {"psycopg", "psycopg_pool"} if relative == "app/errors.py" else set()
        offenders += [f"{relative} imports {name}" for name in imports if name not in allowed]
        if re.search(r"psycopg\.connect|ConnectionPool\(|register_vector\(", text):
            offenders.append(f"{relative} connects")
    assert offenders == []
