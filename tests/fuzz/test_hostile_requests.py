"""Hostile query strings, paths and bodies for every operation of the OpenAPI
document: never a 5xx, every refusal the envelope, and a refused request
changes nothing. schemathesis explores what the document describes; this
aims at what it does not (NUL and Unicode digits in query parameters, JSON
nested thousands deep, values of every wrong type, bytes that are no JSON)."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from helpers import auth, make_token, table_digest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.openapi import QUERY_PARAMETERS, document

HOSTILE_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values that have broken APIs like this one: NUL, control and format
# characters, Unicode digits ("²".isdigit() is true), numbers past every
# integer type, the spellings of other JSON types.
WEIRD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\x1b[2J",
        "\u0085",
        "\u202e",
        "\ufeff",
        "²",
        "٣",
        "１２",
        "-1",
        "0",
        "1e3",
        "1.5",
        "9" * 30,
        "NaN",
        "null",
        "[]",
        "{}",
        "%00",
        "../../etc/passwd",
        "queued\x00",
    ]
)
TEXT = st.one_of(WEIRD_TEXT, st.text(max_size=40))
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _nested(depth: int, opener: str) -> str:
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


RAW_BODIES = st.one_of(
    st.builds(_nested, st.integers(min_value=900, max_value=20_000), st.sampled_from("[{")),
    st.sampled_from(
        [
            "",
            "NaN",
            "[Infinity]",
            '{"k": NaN}',
            "1" * 5000,
            "[1e400]",
            '{"a": 1e100000}',
            "\ufeff{}",
            '{"a": "\\ud800"}',
            '{"a": "\\u0000"}',
            '{"a": 1, "a": 2}',
            "{" * 3,
        ]
    ),
    # Bytes that may not even be UTF-8.
    st.binary(max_size=64),
)


def _operations() -> list[tuple[str, str, dict]]:
    return [
        (path, method, spec)
        for path, item in document()["paths"].items()
        for method, spec in item.items()
    ]


def _body_fields(spec: dict) -> list[str]:
    """The top-level field names of an operation's request body (resolved)."""
    body = spec.get("requestBody")
    if not body:
        return []
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return list(document()["components"]["schemas"][ref].get("properties", {}))


@st.composite
def hostile_requests(draw, path: str, method: str, spec: dict):
    """(url, body bytes or None, content type) aimed at one operation."""
    job_id = draw(
        st.one_of(
            st.integers(min_value=0, max_value=2**70).map(str),
            TEXT.filter(lambda t: "/" not in t and t not in (".", "..")),
        )
    )
    url = path.replace("{job_id}", quote(job_id, safe=""))
    declared = [p["name"] for p in QUERY_PARAMETERS.get(path, [])]
    names = st.sampled_from([*declared, "limt", "x"]) if declared else st.just("x")
    query = draw(
        st.lists(st.tuples(names, TEXT), max_size=4)
        | st.builds(lambda name, text: [(name, text)], names, WEIRD_TEXT)
    )
    if query:
        url += "?" + urlencode(query)
    if method == "get":
        return url, None, None
    fields = _body_fields(spec) or ["x"]
    body = draw(
        st.one_of(
            RAW_BODIES,
            JSON_VALUES.map(json.dumps),
            # A plausible object with one field of a hostile value.
            st.dictionaries(st.sampled_from(fields), JSON_VALUES, min_size=1).map(json.dumps),
        )
    )
    content_type = draw(
        st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"])
    )
    return url, body if isinstance(body, bytes) else body.encode(), content_type


def assert_envelope(response) -> None:
    assert response.status_code < 500, (response.status_code, response.get_data()[:300])
    if response.status_code >= 400:
        body = response.get_json(silent=True)
        assert body is not None, response.get_data()[:300]
        assert body["success"] is False and body["error"] and body["errors"], body


@pytest.mark.parametrize(
    ("path", "method", "spec"), _operations(), ids=[f"{m} {p}" for p, m, _ in _operations()]
)
def test_hostile_requests_are_4xx_envelopes_and_change_nothing(client, conn, path, method, spec):
    headers = auth(make_token(conn, ["admin"]))

    @HOSTILE_SETTINGS
    @given(request=hostile_requests(path, method, spec))
    def run(request):
        url, body, content_type = request
        before = table_digest(conn)
        if body is None:
            response = client.open(url, method=method.upper(), headers=headers)
        else:
            response = client.open(
                url,
                method=method.upper(),
                headers=headers,
                data=body,
                content_type=content_type,
            )
        assert_envelope(response)
        if response.status_code >= 400:
            assert table_digest(conn) == before, "a refused request changed something"

    run()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/recognize", {"probes": [[1.0] * 512], "model": {}}, "model"),
        ("/api/recognize", {"probes": [[1.0] * 512], "model": []}, "model"),
        ("/api/recognize", {"probes": [[1.0] * 512], "search": {}}, "search"),
        ("/api/recognize", {"probes": [[1.0] * 512], "record_sighting": "yes"}, "record_sighting"),
        ("/api/recognize", {"probes": [[1.0] * 512], "record_sightings": True}, "record_sightings"),
        ("/api/recognize", {"probes": [[1.0] * 512], "embedding": [1.0] * 512}, "embedding"),
    ],
)
def test_recognize_refuses_values_of_the_wrong_kind(client, admin_token, path, body, field):
    response = client.post(path, json=body, headers=auth(admin_token))
    assert_envelope(response)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == field


@pytest.mark.parametrize("depth", [1000, 5000, 100_000])
@pytest.mark.parametrize("opener", ["[", "{"])
def test_json_nested_deeper_than_any_parser_is_400_on_every_route(
    client, admin_token, depth, opener
):
    for path, method, _spec in _operations():
        if method != "post":
            continue
        url = path.replace("{job_id}", "1")
        response = client.post(
            url,
            data=_nested(depth, opener),
            headers=auth(admin_token),
            content_type="application/json",
        )
        assert_envelope(response)
        assert response.status_code == 400, (url, response.get_json())


@pytest.mark.parametrize(
    ("url", "field", "code"),
    [
        ("/api/identities/external?source_system=a%00b", "source_system", "invalid_characters"),
        ("/api/identities/external?cursor=%00", "cursor", "invalid_characters"),
        ("/api/training/jobs?state=queued%00", "state", "invalid_characters"),
        ("/api/identities/external?limit=%C2%B2", "limit", "invalid_type"),
        ("/api/training/jobs?limit=%D9%A3", "limit", "invalid_type"),
        ("/api/identities/external?limit=99999999999999999999", "limit", "out_of_range"),
        ("/api/identities/external?limt=5", "limt", "unknown_field"),
        ("/api/training/jobs?limit=5&limit=6", "limit", "invalid_value"),
    ],
)
def test_hostile_query_parameters_are_named_400s(client, admin_token, url, field, code):
    response = client.get(url, headers=auth(admin_token))
    assert_envelope(response)
    assert response.status_code == 400
    error = response.get_json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)
