"""sql/queries.sql: every statement the Python sends, named, loaded once; each is
valid against the current schema, each is used, and no code names one that is
not there."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from app import queries

PROJECT = Path(queries.__file__).resolve().parent.parent
# Where statements are sent from: the server, the CLI, the tools around them.
SENDERS = ("app", "bench", "demo", "tests")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("-- the header\n\n-- one --\nSELECT 1\n", {"one": "SELECT 1"}),
        (
            "-- one --\n-- what it does\n-- on two lines\nSELECT 1\n\n-- two --\nSELECT\n  2;\n",
            {"one": "SELECT 1", "two": "SELECT\n  2;"},
        ),
        # A comment inside a statement stays with it.
        ("-- one --\nSELECT 1\n-- why\nFROM t\n", {"one": "SELECT 1\n-- why\nFROM t"}),
        ("no section at all\n", {}),
    ],
)
def test_parse(text, parsed):
    assert queries.parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- one --\nSELECT 1\n-- one --\nSELECT 2\n", "named twice"),
        ("-- one --\n-- only a comment\n\n-- two --\nSELECT 2\n", "has no statement"),
    ],
)
def test_parse_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        queries.parse(text)


def test_a_statement_is_read_by_its_upper_case_name():
    statement = queries.SYNC_IDENTITIES
    assert statement.startswith("SELECT sync_identities(")
    assert statement is queries.STATEMENTS["sync_identities"]
    with pytest.raises(AttributeError, match="-- no_such_statement --"):
        queries.NO_SUCH_STATEMENT  # noqa: B018
    with pytest.raises(AttributeError):
        queries.sync_identities  # noqa: B018


def _named_in(*folders: str) -> set[str]:
    """The statements code reads as queries.NAME (the loader and this file aside)."""
    names = set()
    for folder in folders:
        for path in (PROJECT / folder).glob("**/*.py"):
            if path.resolve() in (Path(queries.__file__).resolve(), Path(__file__).resolve()):
                continue
            found = re.findall(r"queries\.([A-Z][A-Z0-9_]*)\b", path.read_text("utf-8"))
            names |= {name.lower() for name in found}
    return names - {"statements", "queries_file"}


def test_every_statement_is_used_and_every_name_used_exists():
    assert sorted(_named_in(*SENDERS) - set(queries.STATEMENTS)) == []
    assert sorted(set(queries.STATEMENTS) - _named_in("app")) == []


def _as_prepared(statement: str) -> str:
    """psycopg's placeholders as PostgreSQL's: %s in order, %(name)s once a name."""
    numbers: dict[str, int] = {}
    counter = iter(range(1, 1000))

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return f"${next(counter)}"
        if name not in numbers:
            numbers[name] = next(counter)
        return f"${numbers[name]}"

    return re.sub(r"%(?:\((\w+)\))?s", number, statement).replace("%%", "%")


PREPARABLE = sorted(
    name
    for name, statement in queries.STATEMENTS.items()
    if re.match(r"(SELECT|INSERT|UPDATE|DELETE|WITH)\b", statement)
)


def test_the_statements_that_can_be_prepared_are_most_of_them():
    # The rest are DDL, SET or LISTEN, which PostgreSQL does not prepare: the
    # commands that send them run them in their own tests.
    assert len(PREPARABLE) >= len(queries.STATEMENTS) - 8


@pytest.mark.parametrize("name", PREPARABLE)
def test_every_statement_is_valid_against_the_current_schema(conn, name):
    """PREPARE parses, resolves every table, column and function, and types every
    parameter, without running anything."""
    try:
        conn.execute(f"PREPARE checked AS {_as_prepared(queries.STATEMENTS[name])}")
    except psycopg.Error as exc:
        pytest.fail(f"-- {name} --: {exc}")
    conn.execute("DEALLOCATE checked")
