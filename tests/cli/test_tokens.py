"""Tokens: names are normalised once and checked as stored, expiry is never
"0 means never", and the list tells live, expired and revoked apart."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli import studio

from app import queries

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BLANKS = " \t\n\u00a0\u2003\u3000\u200b\ufeff\u1680"
NAMES = st.one_of(
    # NUL never reaches SQL: PostgreSQL text cannot hold it and psycopg refuses it.
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=120),
    st.builds(
        lambda pad1, core, pad2: pad1 + core + pad2,
        st.text(alphabet=BLANKS, max_size=3),
        st.sampled_from(
            ["alfred", "ａｌｆｒｅｄ", "gpu-1", "ｇｐｕ－１", "x" * 100, "x" * 101, ""]
        ),
        st.text(alphabet=BLANKS, max_size=3),
    ),
)
EXPIRY = st.one_of(st.none(), st.integers(-(10**6), 10**6).map(lambda s: T0 + timedelta(seconds=s)))


def _invisible(ch: str) -> bool:
    return ch.isspace() or ch in "\u200b\ufeff"


INVISIBLE = "".join(ch for ch in map(chr, range(0x110000)) if _invisible(ch))


def _authenticates(conn, token: str, at: datetime) -> bool:
    return bool(
        conn.execute("SELECT * FROM authenticate_api_token(%s, %s)", (token, at)).fetchall()
    )


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=NAMES, expires_at=EXPIRY)
def test_any_name_and_expiry_is_stored_normalised_or_refused_clearly(conn, name, expires_at):
    live_before = conn.execute(
        "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL"
    ).fetchone()
    try:
        token_id, token = conn.execute(
            "SELECT * FROM create_api_token(%s, '{identities:read}', NULL, %s, %s)",
            (name, expires_at, T0),
        ).fetchone()
    except psycopg.errors.InvalidParameterValue as exc:
        # A clear refusal naming the field, and nothing stored.
        fields = {e["field"] for e in json.loads(exc.diag.message_detail)}
        assert fields <= {"name", "expires_at"} and fields
        if expires_at is not None and expires_at <= T0:
            assert "expires_at" in fields
        after = conn.execute("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL").fetchone()
        assert after == live_before
        return
    except psycopg.Error as exc:  # anything else is a crash
        pytest.fail(f"{name!r}: {exc.sqlstate} {exc}")
    assert expires_at is None or expires_at > T0, "a token born expired was made"
    stored = conn.execute(
        "SELECT name FROM api_tokens WHERE token_id = %s", (token_id,)
    ).fetchone()[0]
    # What is stored passes the checks again: normalised, trimmed, printable, 1-100.
    assert stored == unicodedata.normalize("NFKC", stored)
    assert 1 <= len(stored) <= 100
    assert not _invisible(stored[0]) and not _invisible(stored[-1])
    assert not any(unicodedata.category(ch) == "Cc" for ch in stored)
    assert unicodedata.normalize("NFKC", name).strip(INVISIBLE) == stored
    # It works until it expires, and the name as typed revokes it.
    assert _authenticates(conn, token, T0)
    if expires_at is not None:
        assert not _authenticates(conn, token, expires_at)
    assert conn.execute("SELECT revoke_api_token(%s)", (name,)).fetchone()[0] == 1
    assert not _authenticates(conn, token, T0)


def test_a_name_with_a_leading_space_is_the_same_name(conn):
    conn.execute(queries.CREATE_TOKEN, (" alfred", ["admin"], None, None))
    assert conn.execute("SELECT name FROM api_tokens").fetchall() == [("alfred",)]
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        conn.execute(queries.CREATE_TOKEN, ("alfred\u3000", ["admin"], None, None))
    assert '"code": "duplicate"' in info.value.diag.message_detail


@pytest.mark.parametrize("days", ["0", "-1", "0.0", "nan", "inf", "1e9", "soon"])
def test_expires_in_days_must_be_above_zero(db_url, days):
    result = studio(
        "token",
        "create",
        "--name",
        "x",
        "--scope",
        "recognize",
        "--expires-in-days",
        days,
        db_url=db_url,
        check=False,
    )
    assert result.returncode == 2 and "--expires-in-days" in result.stderr
    assert "above 0" in result.stderr and "Traceback" not in result.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 0


def test_cli_names_and_list_states(db_url):
    studio("token", "create", "--name", " alfred", "--scope", "recognize", db_url=db_url)
    again = studio(
        "token", "create", "--name", "alfred", "--scope", "recognize", db_url=db_url, check=False
    )
    assert again.returncode == 1 and "exists" in again.stderr and "Traceback" not in again.stderr
    studio(
        "token",
        "create",
        "--name",
        "soon",
        "--scope",
        "recognize",
        "--expires-in-days",
        "0.5",
        db_url=db_url,
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "SELECT create_api_token('old', '{recognize}', NULL, now() - interval '1 day', "
            "now() - interval '2 days')"
        )
        conn.execute("SELECT create_api_token('gone', '{recognize}')")
        conn.execute("SELECT revoke_api_token('gone')")
    rows = studio("token", "list", db_url=db_url).stdout.splitlines()
    state = {row.split()[0]: row for row in rows[1:] if row.strip() and not row.startswith("-")}
    assert " live " in state["alfred"] and " live " in state["soon"]
    assert " expired " in state["old"] and " revoked " in state["gone"]
