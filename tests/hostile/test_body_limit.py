"""The body limit holds however the body is framed, against a real `studio
serve` (gunicorn) over raw sockets: over the limit is 413 and nothing applied,
with a Content-Length or chunked without one."""

from __future__ import annotations

import itertools
import json
import os
import string

import pytest
from helpers import assert_envelope, make_token, raw_exchange, table_digest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.processes import spawn_studio

LIMIT = 4096  # bytes: small, so bodies over it stay cheap to send
SOURCE = "framing_test"


@pytest.fixture
def server(db_url, tmp_path):
    """`studio serve` with a 4 KiB body limit, against the test's database."""
    log = tmp_path / "serve.log"
    env = {**os.environ, "STUDIO_DATABASE_URL": db_url, "STUDIO_MAX_BODY_BYTES": str(LIMIT)}
    with log.open("wb") as out:
        process, base = spawn_studio(env, log=out)
    yield base
    process.terminate()
    process.wait(timeout=30)


def chunked(body: bytes, cuts: list[int]) -> bytes:
    """`body` in chunks cut at `cuts`, with the terminating empty chunk."""
    edges = [0, *sorted({c for c in cuts if 0 < c < len(body)}), len(body)]
    parts = [body[a:b] for a, b in itertools.pairwise(edges)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"


def sync_body(names: list[str], size: int) -> bytes:
    """A valid sync payload padded with whitespace to exactly `size` bytes."""
    payload = {
        "source_system": SOURCE,
        "identities": [{"external_id": str(i), "name": n} for i, n in enumerate(names)],
    }
    text = json.dumps(payload).encode()
    assert len(text) <= size
    return text[:-1] + b" " * (size - len(text)) + b"}"


NAMES = st.lists(
    st.text(string.ascii_letters + " ", min_size=1, max_size=30).filter(str.strip),
    min_size=1,
    max_size=20,
)
# What follows the valid prefix of an oversized body: the attack is a tail
# that would change the meaning of the call had it been read.
TAILS = st.one_of(
    st.just(b',"dry_run": true}'),
    st.just(b',"mode": "full", "allow_mass_delete": true}'),
    st.binary(min_size=1, max_size=3 * LIMIT),
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    names=NAMES,
    prefix_size=st.one_of(st.just(LIMIT), st.integers(min_value=LIMIT - 600, max_value=LIMIT)),
    over=st.booleans(),
    tail=TAILS,
    framing=st.sampled_from(["chunked", "content-length", "chunked+content-length"]),
    cuts=st.lists(st.integers(min_value=1, max_value=4 * LIMIT), max_size=12),
)
def test_the_body_limit_holds_for_every_framing(
    server, conn, names, prefix_size, over, tail, framing, cuts
):
    """A valid payload up to the limit, then a tail: over the limit is 413 and
    nothing applied, however the body is framed (a chunked body used to be cut
    at the limit and applied); within it, the body is taken whole."""
    token = make_token(conn, ["admin"])
    body = sync_body(names, prefix_size)
    if over:
        body += tail + b" " * max(0, LIMIT + 1 - len(body) - len(tail))
    elif tail[: LIMIT - prefix_size].strip(b" \t\r\n"):
        body += tail[: LIMIT - prefix_size]  # within the limit, but no JSON any more
    before = table_digest(conn)
    head = (
        f"POST /api/identities/sync HTTP/1.1\r\nHost: studio\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Connection: close\r\n"
    ).encode()
    if framing == "content-length":
        request = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    else:
        length = b"Content-Length: %d\r\n" % len(body) if "content-length" in framing else b""
        request = head + length + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, cuts)

    answer = raw_exchange(server, request)
    assert answer is not None, "no answer"
    status, headers, raw = answer

    if framing == "chunked+content-length":
        # Two framings at once is how requests are smuggled past a proxy:
        # refused whatever the size.
        expected = 400
    elif len(body) > LIMIT:
        expected = 413
    elif len(body) > prefix_size:
        expected = 400
    else:
        expected = 200
    assert status == expected, (status, raw[:300])
    if status == 200:
        assert json.loads(raw)["created"] == len(names)
        stored = conn.execute(
            "SELECT count(*) FROM identities WHERE source_system = %s", (SOURCE,)
        ).fetchone()[0]
        assert stored == len(names)
        conn.execute("DELETE FROM identities WHERE source_system = %s", (SOURCE,))
        conn.execute("DELETE FROM audit_journal")
    else:
        document = assert_envelope(status, headers, raw)
        if status == 413:
            assert document["error"] == "payload_too_large"
            assert str(LIMIT) in document["message"]
        assert table_digest(conn) == before, "a refused request changed something"
