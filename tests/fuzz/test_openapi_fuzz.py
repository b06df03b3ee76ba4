"""schemathesis against /api/openapi.json, both ways: every request the document
allows is accepted (positive_data_acceptance) and every one it forbids is
refused (negative_data_rejection); no 5xx, every response as documented,
every rejection a 4xx with the error envelope; with a valid token and
without.

Two mechanisms, both documented in docs/api.md, keep out what JSON Schema
cannot say:

- Generated bodies hold only text in its normal form (NFKC, nothing the
  server trims at either end, no NUL): the server judges a value after
  normalising it, so "\u00a0" is blank and "\ufdfa" is 18 characters long.
- A schema-valid request refused only for the rules in INEXPRESSIBLE
  (privacy, byte-size caps, what is stored) still counts as accepted.

schemathesis drives hypothesis over each operation's strategy directly (its
pytest plugin does not load under this pytest).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
import schemathesis
from helpers import make_token
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from app.openapi import QUERY_PARAMETERS

FUZZ = settings(
    max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
# Bodies of 512-number embeddings are slow to generate: fewer of them, so
# that the whole test stays within a minute.
FEWER = {"POST /api/identities/ingest-embeddings": 4, "POST /api/recognize": 4}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"

# Error codes (and field, code pairs) of rules JSON Schema cannot express,
# each with its reason; docs/api.md lists the same.
INEXPRESSIBLE = {
    "forbidden_value": "privacy: a URL, path or image data, read as a person or browser would",
    "forbidden_field": "privacy: a photo-like field name inside a free-form object",
    "too_large": "byte caps on a job's progress, result and error, as PostgreSQL prints them",
    "mass_delete": "a full sync's guard depends on how many identities are stored",
    "before_start": "a sighting's end before its start: JSON Schema compares no two fields",
    "in_the_future": "a sighting ending ahead of the server's clock depends on when it arrives",
    "track_too_long": "a sighting lasting over a day: JSON Schema compares no two fields",
}
INEXPRESSIBLE_FIELDS = {
    ("cursor", "invalid_value"): "a cursor is valid only when this server handed it out",
}
# What studio_normalized_text trims at both ends after NFKC.
TRIMMED = " \u0085\u1680\u2028\u2029"


def _texts(value, keys: list[str], values: list[str]) -> None:
    """Collect every object key and every string value of a JSON value."""
    if isinstance(value, str):
        values.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            keys.append(str(key))
            _texts(item, keys, values)
    elif isinstance(value, list):
        for item in value:
            _texts(item, keys, values)


def in_normal_form(case) -> bool:
    """Whether every text of the body is as the server would store it, and no
    key or text holds a NUL (which PostgreSQL cannot hold in any string)."""
    keys: list[str] = []
    values: list[str] = []
    _texts(case.body if isinstance(case.body, dict | list | str) else None, keys, values)
    return all("\x00" not in key for key in keys) and all(
        "\x00" not in text and unicodedata.normalize("NFKC", text).strip(TRIMMED) == text
        for text in values
    )


def sent_as_generated(case) -> bool:
    """Whether the request on the wire is the one generated: a query parameter
    whose value is an empty list is not sent at all, so a "negative" case that
    adds one is a valid request."""
    return not any(value == [] for value in (case.query or {}).values())


def generated(case) -> bool:
    return in_normal_form(case) and sent_as_generated(case)


def _inexpressible(error: dict) -> bool:
    return error.get("code") in INEXPRESSIBLE or (
        (error.get("field"), error.get("code")) in INEXPRESSIBLE_FIELDS
    )


def positive_data_acceptance_beyond_json_schema(ctx, response, case):
    """positive_data_acceptance, except for a 400 every error of which is a rule
    JSON Schema cannot express."""
    if response.status_code == 400:
        errors = response.json().get("errors") or [{}]
        if all(_inexpressible(error) for error in errors):
            return None
    return positive_data_acceptance(ctx, response, case)


def _check_envelope(response):
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        body = response.json()
        assert body["success"] is False and body["error"] and body["errors"], body


def _operations(app, *, with_token: bool = True):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # With a token, requests carry it as they are: a mangled Authorization
    # header is the tokenless test's subject. No NUL is generated (see above).
    schema.config.generation.update(with_security_parameters=not with_token, allow_x00=False)
    return [result.ok() for result in schema.get_all_operations()]


def _modes(operation) -> list[GenerationMode]:
    # An operation with nothing to send has no request that breaks its schema.
    takes_input = bool(operation.body) or any(True for _ in operation.iter_parameters())
    return [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])


@pytest.mark.slow
def test_every_operation_both_ways_with_a_token(app, conn):
    headers = {"Authorization": f"Bearer {make_token(conn, ['admin'])}"}
    operations = _operations(app)
    assert len(operations) >= 12
    for operation in operations:
        for mode in _modes(operation):

            @settings(FUZZ, max_examples=FEWER.get(operation.label, FUZZ.max_examples))
            @given(case=operation.as_strategy(generation_mode=mode).filter(generated))
            def run(case):
                response = case.call(headers=headers)
                _check_envelope(response)
                # Auth refusal is the other test's subject (ignored_auth replays
                # the request with mangled credentials the header here overrides).
                case.validate_response(
                    response,
                    excluded_checks=[ignored_auth, positive_data_acceptance],
                    additional_checks=[positive_data_acceptance_beyond_json_schema],
                )

            run()


@pytest.mark.slow
def test_every_operation_without_a_token(app):
    for operation in _operations(app, with_token=False):
        # Every call is refused at the door: a few each are enough.
        @settings(FUZZ, max_examples=4)
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call()
            _check_envelope(response)
            if case.path.startswith("/api/") and case.path != "/api/openapi.json":
                # 404 when the generated path matches no route (a negative job id).
                assert response.status_code in (401, 404)

        run()


def test_the_exceptions_are_documented_with_their_reasons():
    text = DOCS.read_text()
    for code in INEXPRESSIBLE:
        assert re.search(rf"`{code}`", text), f"docs/api.md does not explain {code}"
    for field, code in INEXPRESSIBLE_FIELDS:
        assert f"`{field}`" in text and f"`{code}`" in text


# A valid request for each operation, to set one field at a time to the edge
# of what the document allows and just past it.
UUID = "00000000-0000-4000-8000-000000000000"
BASES = {
    ("post", "/api/identities/sync"): {
        "source_system": "s",
        "identities": [{"external_id": "1", "name": "A"}],
    },
    ("post", "/api/identities/ingest-embeddings"): {
        "source_system": "s",
        "model": "buffalo_l",
        "results": [
            {
                "external_id": "1",
                "name": "A",
                "faces": [{"embedding": [0.25] * 512, "confidence": 0.5}],
            }
        ],
    },
    ("post", "/api/training/submit"): {
        "job_type": "face_detect_embed",
        "config": {"source_system": "s", "photo_ids": [1]},
    },
    ("post", "/api/training/jobs/claim"): {"worker_id": "w"},
    ("post", "/api/training/jobs/1/heartbeat"): {"lease_token": UUID},
    ("post", "/api/recognize"): {"probes": [[0.25] * 512]},
    ("post", "/api/sightings"): {
        "sighting_id": UUID,
        "camera": "door",
        "model": "buffalo_l",
        "started_at": "2025-01-01T00:00:00Z",
        "ended_at": "2025-01-01T00:00:07Z",
        "frames": 3,
        "decision": "unknown",
        "best_similarity": 0.5,
        "mean_similarity": 0.5,
        "track": 1,
    },
}
EDGES = {
    ("post", "/api/identities/sync"): [
        ["source_system"],
        ["identities", 0, "external_id"],
        ["identities", 0, "name"],
    ],
    ("post", "/api/identities/ingest-embeddings"): [
        ["source_system"],
        ["model"],
        ["results", 0, "name"],
        ["results", 0, "faces", 0, "embedding"],
        ["results", 0, "faces", 0, "confidence"],
    ],
    ("post", "/api/training/submit"): [
        ["config", "source_system"],
        ["config", "photo_ids"],
        ["config", "photo_ids", 0],
        ["max_attempts"],
        ["priority"],
    ],
    ("post", "/api/training/jobs/claim"): [["worker_id"], ["lease_seconds"]],
    ("post", "/api/training/jobs/1/heartbeat"): [["lease_seconds"]],
    ("post", "/api/recognize"): [["probes"], ["k"]],
    ("post", "/api/sightings"): [
        ["camera"],
        ["model"],
        ["frames"],
        ["best_similarity"],
        ["mean_similarity"],
        ["track"],
    ],
}


def _schema_at(document: dict, schema: dict, path: list) -> dict:
    """The schema of the value at `path` (object keys, array indexes)."""
    for step in path:
        while "$ref" in schema or "anyOf" in schema:
            if "$ref" in schema:
                schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            else:  # a string or an integer: the string's bounds
                schema = schema["anyOf"][0]
        schema = schema["items"] if isinstance(step, int) else schema["properties"][step]
    while "anyOf" in schema:
        schema = schema["anyOf"][0]
    return schema


def _edges(schema: dict, inside_value) -> list[tuple[str, object, object]]:
    """(keyword, a value at the edge, a value just past it) for each bound."""
    edges = []
    if "maxLength" in schema:
        n = schema["maxLength"]
        edges.append(("maxLength", "a" * n, "a" * (n + 1)))
    if "maxItems" in schema:
        n = schema["maxItems"]
        edges.append(("maxItems", [inside_value[0]] * n, [inside_value[0]] * (n + 1)))
    if "minItems" in schema:
        n = schema["minItems"]
        edges.append(("minItems", [inside_value[0]] * n, [inside_value[0]] * (n - 1)))
    if "minimum" in schema:
        edges.append(("minimum", schema["minimum"], schema["minimum"] - 1))
    if "maximum" in schema:
        edges.append(("maximum", schema["maximum"], schema["maximum"] + 1))
    return edges


def _with(body, path: list, value):
    body = json.loads(json.dumps(body))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


def test_every_documented_bound_is_the_servers_at_both_edges(app, client, conn):
    """Each number the document states for a request (lengths, item counts,
    ranges) is where the server's rule turns: the edge is accepted, one past
    it refused naming the field. Random generation rarely lands on an edge."""
    headers = {"Authorization": f"Bearer {make_token(conn, ['admin'])}"}
    document = client.get("/api/openapi.json").get_json()
    checked = 0
    for (method, url), paths in EDGES.items():
        spec_path = re.sub(r"/jobs/1/", "/jobs/{job_id}/", url)
        body_schema = document["paths"][spec_path][method]["requestBody"]["content"]
        root = body_schema["application/json"]["schema"]
        for path in paths:
            inside = _schema_at(document, root, path)
            current = BASES[(method, url)]
            for step in path:  # the base's value there (absent for optional fields)
                current = current.get(step) if isinstance(current, dict) else current[step]
            for keyword, edge, past in _edges(inside, current):
                at_edge = client.post(
                    url, json=_with(BASES[(method, url)], path, edge), headers=headers
                )
                beyond = client.post(
                    url, json=_with(BASES[(method, url)], path, past), headers=headers
                )
                where = f"{url} {path} {keyword}"
                assert at_edge.status_code < 400 or at_edge.status_code in (404, 409), (
                    where,
                    at_edge.get_json(),
                )
                assert beyond.status_code == 400, (where, beyond.get_json())
                checked += 1
    for path, parameters in QUERY_PARAMETERS.items():
        for parameter in parameters:
            if "format" in parameter["schema"]:
                continue  # a UUID's or a time's length is no edge: "a" * 36 is no UUID
            for keyword, edge, past in _edges(parameter["schema"], None):
                at_edge = client.get(f"{path}?{parameter['name']}={edge}", headers=headers)
                beyond = client.get(f"{path}?{parameter['name']}={past}", headers=headers)
                assert at_edge.status_code == 200, (path, keyword, at_edge.get_json())
                assert beyond.status_code == 400, (path, keyword, beyond.get_json())
                checked += 1
    assert checked >= 25


def test_the_recognize_schema_has_exactly_the_fields_the_route_reads(client):
    from app.routes.recognize import FIELDS

    schema = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert set(schema["RecognizeRequest"]["properties"]) == set(FIELDS)


def test_the_documented_job_states_are_the_database_type(conn):
    from app.openapi import JOB_STATES

    values = conn.execute("SELECT enum_range(NULL::job_state)::text[]").fetchone()[0]
    assert tuple(values) == JOB_STATES
