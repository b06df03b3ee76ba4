"""A token bound to one source system sees and changes nothing of another's.

Every operation of the OpenAPI document is exercised (so a route added later
is covered without editing this file): schemathesis generates each request,
and hypothesis then aims it at source B — B's source_system, job IDs, lease
token and external IDs, B's own face vectors as probes with k up to 100 and
record_sighting, B's identity_ids and camera in sightings, a cursor pointing
into B's keys — before sending it with a
token bound to A that holds every scope. After every call:

- B's rows, and the Studio-native ones, are byte for byte what they were;
- no name, identity_id or lease token of B (or of a native identity)
  appears in the answer unless the request itself carried it, and every
  object in the answer that names a source system names A;
- an answer about one of B's job IDs is exactly the answer about a job ID
  that never existed, so other sources' jobs cannot be probed;
- job counts are A's alone.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

import pytest
import schemathesis
from helpers import auth, make_token, vector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sightings_support import sighting

from app.openapi import document

A, B = "sys_a", "sys_b"
MODEL = "buffalo_s"
MISSING_JOB = 987_654
# admin implies every scope, metrics included (which a bound token is refused).
EVERY_SCOPE = ["admin"]
ISOLATION = settings(
    max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


@dataclass
class World:
    """What the test planted: A's and B's people and jobs, and one native identity."""

    b_external_ids: list[str]
    b_markers: list[str]  # names, identity_ids, lease token, batch id of B and natives
    b_vectors: list[list[float]]
    a_vectors: list[list[float]]
    b_identity_ids: list[str]
    a_identity_ids: list[str]
    b_jobs: list[int]
    a_jobs: list[int]
    b_lease: str
    a_lease: str
    bound: str  # the token under test: every scope, bound to A


def _ingest(conn, source: str, people: dict[str, tuple[str, list[list[float]]]]) -> None:
    payload = {
        "source_system": source,
        "model": MODEL,
        "results": [
            {"external_id": key, "name": name, "faces": [{"embedding": v} for v in vectors]}
            for key, (name, vectors) in people.items()
        ],
    }
    conn.execute("SELECT ingest_embeddings(%s::jsonb)", (json.dumps(payload),))


def _submit(conn, source: str, batch: str) -> int:
    payload = {
        "job_type": "face_detect_embed",
        "config": {"source_system": source, "batch_id": batch},
    }
    return conn.execute(
        "SELECT submit_job(%s::jsonb, 'planted')", (json.dumps(payload),)
    ).fetchone()[0]["job_id"]


def _claim(conn, source: str) -> dict:
    request = json.dumps({"worker_id": f"worker-{source}"})
    return conn.execute(
        "SELECT claim_job(%s::jsonb, 'planted', %s)", (request, [source])
    ).fetchone()[0]["job"]


@pytest.fixture
def world(conn) -> World:
    b_people = {f"bext{i}zq": (f"Bname{i}zq", [vector(100 + i), vector(200 + i)]) for i in range(3)}
    a_people = {f"aext{i}": (f"A person {i}", [vector(300 + i)]) for i in range(3)}
    _ingest(conn, B, b_people)
    _ingest(conn, A, a_people)
    # A person B deleted: a tombstone of B's.
    _ingest(conn, B, {"bgonezq": ("Bgonezq", [vector(400)])})
    conn.execute(
        "SELECT sync_identities(%s::jsonb)",
        (
            json.dumps(
                {"source_system": B, "identities": [{"external_id": "bgonezq", "action": "delete"}]}
            ),
        ),
    )
    native_id = conn.execute(
        "INSERT INTO identities (name) VALUES ('Nativezq') RETURNING identity_id::text"
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO embeddings (identity_id, vector, is_reference, model) "
        "VALUES (%s, l2_normalize(%s::vector), true, %s)",
        (native_id, str(vector(500)), MODEL),
    )
    b_ids = [
        r[0]
        for r in conn.execute(
            "SELECT identity_id::text FROM identities WHERE source_system = %s", (B,)
        )
    ]

    a_ids = [
        r[0]
        for r in conn.execute(
            "SELECT identity_id::text FROM identities WHERE source_system = %s", (A,)
        )
    ]
    # Sightings of B's people, and unknown ones from a camera bound to B: a
    # token bound to A must neither see nor change them.
    record_sighting_of = "SELECT record_sighting(%s::jsonb, 'planted', %s)"
    b_sightings = [sighting(b_ids[0], camera="bcamzq"), sighting(None, camera="bcamzq")]
    for body in b_sightings:
        conn.execute(record_sighting_of, (json.dumps(body), [B]))
    conn.execute(record_sighting_of, (json.dumps(sighting(a_ids[0], camera="acam")), [A]))

    b_jobs = [_submit(conn, B, "bbatchzq") for _ in range(3)]
    b_running = _claim(conn, B)
    b_done = _claim(conn, B)
    conn.execute(
        "SELECT complete_job(%s, %s::jsonb)",
        (
            b_done["job_id"],
            json.dumps({"lease_token": b_done["lease_token"], "result": {"bdonezq": 1}}),
        ),
    )
    a_jobs = [_submit(conn, A, "abatch") for _ in range(2)]
    a_running = _claim(conn, A)
    conn.execute(
        "SELECT submit_job(%s::jsonb, 'planted')",
        (
            json.dumps(
                {
                    "job_type": "face_detect_embed",
                    "config": {"source_system": B, "photo_ids": ["bphotozq"]},
                }
            ),
        ),
    )

    markers = (
        [name for name, _ in b_people.values()]
        + b_ids
        + [
            native_id,
            "Nativezq",
            b_running["lease_token"],
            "bbatchzq",
            "bdonezq",
            "bphotozq",
            "bcamzq",
            *(body["sighting_id"] for body in b_sightings),
        ]
    )
    return World(
        b_external_ids=list(b_people),
        b_markers=markers,
        b_vectors=[v for _, vectors in b_people.values() for v in vectors] + [vector(500)],
        a_vectors=[v for _, vectors in a_people.values() for v in vectors],
        b_identity_ids=b_ids,
        a_identity_ids=a_ids,
        b_jobs=b_jobs,
        a_jobs=a_jobs,
        b_lease=b_running["lease_token"],
        a_lease=a_running["lease_token"],
        bound=make_token(conn, EVERY_SCOPE, [A]),
    )


def b_digest(conn) -> str:
    """Every row of B's, and of Studio-native identities, as one digest."""
    return conn.execute(
        """
        WITH theirs AS (
            SELECT identity_id FROM identities WHERE source_system = %(b)s OR source_system IS NULL
        )
        SELECT md5(concat_ws('|',
            (SELECT string_agg(i::text, ',' ORDER BY i.identity_id) FROM identities AS i
             WHERE i.identity_id IN (SELECT identity_id FROM theirs)),
            (SELECT string_agg(e::text, ',' ORDER BY e.embedding_id) FROM embeddings AS e
             WHERE e.identity_id IN (SELECT identity_id FROM theirs)),
            (SELECT string_agg(t::text, ',' ORDER BY t.external_id) FROM identity_tombstones AS t
             WHERE t.source_system = %(b)s),
            (SELECT string_agg(a::text, ',' ORDER BY a.audit_id) FROM audit_journal AS a
             WHERE a.source_system = %(b)s),
            (SELECT string_agg(j::text, ',' ORDER BY j.job_id) FROM jobs AS j
             WHERE j.source_system = %(b)s),
            (SELECT string_agg(s::text, ',' ORDER BY s.sighting_id) FROM sightings AS s
             WHERE s.identity_id IN (SELECT identity_id FROM theirs)
                OR s.recorded_for = ARRAY[%(b)s]::text[]),
            (SELECT string_agg(e::text, ',' ORDER BY e.event_id) FROM events AS e
             JOIN sightings AS s USING (sighting_id)
             WHERE s.identity_id IN (SELECT identity_id FROM theirs)
                OR s.recorded_for = ARRAY[%(b)s]::text[])))
        """,
        {"b": B},
    ).fetchone()[0]


def _cursor_into(source: str, external_id: str) -> str:
    """A keyset cursor as the server makes them, pointing into another source's keys."""
    raw = json.dumps([source, external_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _noisy(draw, vectors: list[list[float]]) -> list[float]:
    base = draw(st.sampled_from(vectors))
    scale = draw(st.sampled_from([0.0, 0.01, 0.3]))
    seed = draw(st.integers(0, 10_000))
    return [x + scale * n for x, n in zip(base, vector(seed), strict=True)]


def _aim(draw, value, world: World):
    """The generated body with every field that can point at B pointed at B (or A)."""
    if isinstance(value, list):
        return [_aim(draw, item, world) for item in value]
    if not isinstance(value, dict):
        return value
    aimed = {}
    for key, item in value.items():
        if key == "source_system":
            item = draw(st.sampled_from([B, A]))
        elif key == "lease_token":
            item = draw(st.sampled_from([world.b_lease, world.a_lease]))
        elif key == "identity_id":
            item = draw(st.sampled_from([*world.b_identity_ids, *world.a_identity_ids]))
        elif key == "external_id":
            item = draw(st.sampled_from([*world.b_external_ids, "bgonezq", "anew"]))
        elif key in ("probes", "embedding") and isinstance(item, list):
            pool = draw(st.sampled_from([world.b_vectors, world.a_vectors + world.b_vectors]))
            probes = [_noisy(draw, pool) for _ in range(draw(st.integers(1, 3)))]
            item = probes if key == "probes" else probes[0]
        elif key == "k":
            item = draw(st.sampled_from([1, 5, 100]))
        elif key == "record_sighting":
            item = draw(st.booleans())
        elif key == "search":
            item = draw(st.sampled_from(["auto", "exact", "ann"]))
        elif key == "model":
            item = MODEL
        else:
            item = _aim(draw, item, world)
        aimed[key] = item
    return aimed


def _aimed_case(operation, world: World):
    @st.composite
    def strategy(draw):
        case = draw(operation.as_strategy())
        if case.path_parameters and "job_id" in case.path_parameters:
            case.path_parameters["job_id"] = draw(
                st.sampled_from([*world.b_jobs, *world.a_jobs, MISSING_JOB])
            )
        if isinstance(case.query, dict):
            if "source_system" in case.query:
                case.query["source_system"] = draw(st.sampled_from([B, A]))
            if "identity_id" in case.query:
                case.query["identity_id"] = draw(st.sampled_from(world.b_identity_ids))
            if "camera" in case.query:
                case.query["camera"] = "bcamzq"
            if "cursor" in case.query:
                case.query["cursor"] = _cursor_into(
                    B, draw(st.sampled_from(["", *world.b_external_ids]))
                )
        if isinstance(case.body, dict | list):
            case.body = _aim(draw, case.body, world)
        if operation.method.lower() == "post" and operation.path == "/api/recognize":
            # A body may name its probes either way: aim every recognise call
            # with a list of B's (or A's and B's) faces.
            body = {k: v for k, v in (case.body or {}).items() if k != "embedding"}
            case.body = _aim(draw, {**body, "probes": [], "k": 1}, world)
        return case

    return strategy()


def _leaks(answer: str, request: str, world: World) -> list[str]:
    """What of B's (or native identities') the answer shows that the request did not carry."""
    found = [m for m in world.b_markers if m in answer and m not in request]
    try:
        body = json.loads(answer)
    except ValueError:
        return found

    def walk(value):
        if isinstance(value, dict):
            source = value.get("source_system", A)
            if (source is None or isinstance(source, str)) and source != A:
                found.append(f"an object of source {value['source_system']!r}: {value}")
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    return found


def _job_counts(conn, source: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT state, count(*) FROM jobs WHERE source_system = %s GROUP BY state", (source,)
    ).fetchall()
    return dict(rows)


def _normalised(response) -> tuple[int, str]:
    return response.status_code, re.sub(r"\bjob -?\d+\b", "job N", response.text)


def _request_text(case) -> str:
    return json.dumps([case.path_parameters, case.query, case.body], default=str)


def test_a_bound_token_sees_and_changes_nothing_of_another_source(app, conn, world):
    headers = auth(world.bound)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {(path, method) for path, item in document()["paths"].items() for method in item}
    before = b_digest(conn)
    # schemathesis leaves out the document's own route; call what it leaves out as is.
    for path, method in sorted(documented - {(op.path, op.method.lower()) for op in operations}):
        response = app.test_client().open(path, method=method.upper(), headers=headers)
        assert response.status_code < 500 and b_digest(conn) == before, path
        assert not _leaks(response.get_data(as_text=True), "", world), path

    try:
        for operation in operations:
            _fuzz_one(operation, world, conn, headers, before)
    finally:
        _close_recognizers(app)


def _close_recognizers(app) -> None:
    for recognizer in app.extensions.get("studio_recognizers", {}).values():
        recognizer.close()


def _fuzz_one(operation, world: World, conn, headers: dict, before: str) -> None:
    """Send hypothesis's aimed cases of one operation; check the invariants after each."""

    @ISOLATION
    @given(case=_aimed_case(operation, world))
    def run(case):
        response = case.call(headers=headers)
        label = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, (label, response.text[:500])
        assert b_digest(conn) == before, f"{label} changed B's rows"
        leaks = _leaks(response.text, _request_text(case), world)
        assert not leaks, (label, leaks)
        if response.status_code == 200 and "json" in response.headers.get("Content-Type", ""):
            counts = response.json().get("counts")
            if counts is not None:
                assert {s: n for s, n in counts.items() if n} == _job_counts(conn, A)
        job_id = (case.path_parameters or {}).get("job_id")
        if job_id in world.b_jobs:
            case.path_parameters["job_id"] = MISSING_JOB
            missing = case.call(headers=headers)
            assert _normalised(response) == _normalised(missing), label

    run()


def _post(client, path, body, token):
    return client.post(
        path, data=json.dumps(body), headers=auth(token), content_type="application/json"
    )


@pytest.mark.parametrize("search", ["exact", "ann"])
def test_recognize_searches_and_stamps_only_the_tokens_sources(client, conn, world, search):
    probe = {"probes": world.b_vectors, "k": 100, "model": MODEL, "search": search}
    before = b_digest(conn)
    bound = _post(client, "/api/recognize", {**probe, "record_sighting": True}, world.bound)
    assert bound.status_code == 200, bound.get_json()
    results = bound.get_json()["results"]
    candidates = [c for r in results for c in r["candidates"]]
    # Only A's three people, however many B has and whatever k asks for.
    assert {c["source_system"] for c in candidates} == {A}
    assert all(len(r["candidates"]) == 3 for r in results)
    assert not _leaks(bound.get_data(as_text=True), "", world)
    assert b_digest(conn) == before
    # The same call unbound does see B (the checks above can fail) and stamps it.
    admin = make_token(conn, ["admin"])
    unbound = _post(client, "/api/recognize", {**probe, "record_sighting": True}, admin)
    assert _leaks(unbound.get_data(as_text=True), "", world)
    assert unbound.get_json()["sightings_recorded"] > 0
    assert b_digest(conn) != before
    _close_recognizers(client.application)


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("heartbeat", {"progress": {"done": 1}}),
        ("complete", {"result": {"embeddings_stored": 0}}),
        ("fail", {"error": "stop", "retryable": False}),
    ],
)
def test_another_sources_job_answers_like_a_job_that_does_not_exist(
    client, conn, world, action, body
):
    before = b_digest(conn)
    running, completed = world.b_jobs[0], world.b_jobs[1]
    answers = [
        _post(
            client,
            f"/api/training/jobs/{job_id}/{action}",
            {"lease_token": world.b_lease, **body},
            world.bound,
        )
        for job_id in (running, completed, MISSING_JOB)
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({_normalised(a)[1] for a in answers}) == 1
    assert b_digest(conn) == before
    status = [
        client.get(f"/api/training/jobs/{job_id}", headers=auth(world.bound))
        for job_id in (running, MISSING_JOB)
    ]
    assert _normalised(status[0]) == _normalised(status[1])
    # The worker B's job belongs to can still finish it with the same request.
    worker_b = make_token(conn, ["jobs:work"], [B])
    own = _post(
        client,
        f"/api/training/jobs/{running}/{action}",
        {"lease_token": world.b_lease, **body},
        worker_b,
    )
    assert own.status_code == 200, own.get_json()


def test_record_sightings_in_sql_touches_only_allowed_sources(conn, world):
    ids = [r[0] for r in conn.execute("SELECT identity_id FROM identities WHERE name IS NOT NULL")]
    before = b_digest(conn)
    stamped = conn.execute(
        "SELECT record_sightings(%s::uuid[], p_allowed_sources => %s)", (ids, [A])
    ).fetchone()[0]
    assert stamped == 3
    assert b_digest(conn) == before


def test_no_overload_without_the_binding_is_left_behind(conn):
    counts = dict(
        conn.execute(
            "SELECT proname, count(*) FROM pg_proc WHERE proname = ANY (%s) GROUP BY proname",
            (
                [
                    "match_faces",
                    "record_sightings",
                    "studio_held_job",
                    "heartbeat_job",
                    "complete_job",
                    "fail_job",
                ],
            ),
        ).fetchall()
    )
    assert set(counts.values()) == {1}, counts
