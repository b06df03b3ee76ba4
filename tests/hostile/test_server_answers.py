"""What the WSGI server answers itself, against a real `studio serve` (gunicorn)
over raw sockets: a malformed or oversized request head, a broken chunked body.
Each answer is the JSON envelope, never HTML and never a 5xx."""

from __future__ import annotations

from helpers import assert_envelope, make_token, raw_exchange, table_digest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _request(head_lines: list[bytes], target: bytes = b"/healthz") -> bytes:
    return (
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: studio\r\n"
        + b"".join(line + b"\r\n" for line in head_lines)
        + b"\r\n"
    )


# What gunicorn refuses before the app sees the request, and how it answers.
SERVER_REFUSALS = [
    (_request([], b"/" + b"a" * 9000), 414, "uri_too_long"),
    (_request([b"X-Big: " + b"a" * 20000]), 431, "header_fields_too_large"),
    (_request([b"X-%d: 1" % i for i in range(200)]), 431, "header_fields_too_large"),
    (_request([b"Bad Name: 1"]), 400, "bad_request"),
    (_request([b"X-Nul: a\x00b"]), 400, "bad_request"),
    (_request([b"X-Folded: a", b" b"]), 400, "bad_request"),
    (_request([b"Content-Length: 1", b"Content-Length: 2"]), 400, "bad_request"),
    (_request([b"Content-Length: -1"]), 400, "bad_request"),
    (_request([b"Content-Length: 1e3"]), 400, "bad_request"),
    (_request([b"Transfer-Encoding: gzip"]), 400, "bad_request"),
    # gunicorn says 501 here (RFC 9112 allows it); the API keeps 5xx for its own faults.
    (_request([b"Transfer-Encoding: x-unknown"]), 400, "bad_request"),
    (_request([b"Transfer-Encoding: chunked, chunked"]), 400, "bad_request"),
    (b"GET /healthz HTTP/9.9\r\nHost: studio\r\n\r\n", 400, "bad_request"),
    (b"G\x01T /healthz HTTP/1.1\r\nHost: studio\r\n\r\n", 400, "bad_request"),
    (b"GET /healthz\r\n\r\n", 400, "bad_request"),
    # A path outside a SCRIPT_NAME the client sends: gunicorn's 500, made a 400.
    (_request([b"SCRIPT_NAME: /other"]), 400, "bad_request"),
]


def test_what_gunicorn_answers_itself_is_the_envelope(live_server):
    # One server for the whole table: each row is a fresh connection.
    for request_bytes, status, error in SERVER_REFUSALS:
        answer = raw_exchange(live_server, request_bytes)
        assert answer is not None, request_bytes[:80]
        got, headers, body = answer
        assert got == status, (request_bytes[:80], body[:300])
        assert assert_envelope(got, headers, body)["error"] == error, request_bytes[:80]


BROKEN_CHUNKS = [
    b"zz\r\n{}\r\n0\r\n\r\n",  # a size that is not hex
    b"2\r\n{}XX0\r\n\r\n",  # no CRLF after the data
    b"2;a=\x01\r\n{}\r\n0\r\n\r\n",  # a control character in an extension
]


def test_a_broken_chunked_body_is_the_envelope_and_changes_nothing(live_server, conn):
    token = make_token(conn, ["admin"]).encode()
    before = table_digest(conn)
    for chunks in BROKEN_CHUNKS:
        request = (
            b"POST /api/identities/sync HTTP/1.1\r\nHost: studio\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % token
        ) + chunks
        answer = raw_exchange(live_server, request)
        assert answer is not None, chunks
        assert answer[0] == 400, (chunks, answer)
        assert assert_envelope(*answer)["error"] == "bad_request"
    assert table_digest(conn) == before


HEADER_BYTES = st.binary(max_size=200)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from([b"GET", b"POST", b"PUT", b"G\x00T", b"", b"POST /x"]),
    target=st.one_of(st.sampled_from([b"/healthz", b"/api/identities/external"]), HEADER_BYTES),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x", b""]),
    headers=st.lists(st.tuples(HEADER_BYTES, HEADER_BYTES), max_size=8),
    body=st.binary(max_size=200),
)
def test_any_request_head_is_answered_with_the_envelope_or_not_at_all(
    live_server, method, target, version, headers, body
):
    """Whatever bytes arrive, an answer is never HTML and never a 5xx (the
    server may close without answering a request it cannot even frame)."""
    request = (
        method
        + b" "
        + target
        + b" "
        + version
        + b"\r\n"
        + b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        + b"\r\n"
        + body
    )
    answer = raw_exchange(live_server, request)
    if answer is None:
        return
    status, response_headers, raw = answer
    assert status < 500, raw[:300]
    if status >= 400:
        assert_envelope(status, response_headers, raw)
