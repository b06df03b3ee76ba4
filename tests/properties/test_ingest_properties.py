"""No silent loss: every face of an accepted ingest is accounted for, and a
number that a 32-bit float cannot hold as given is refused, naming it.

Payloads are written as JSON text so that numbers Python's json cannot
write (1e-400) reach the database as a client may send them."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext

import psycopg
import pytest
from helpers import table_digest, vector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SOURCE = "alfred_catalog"
KEYS = ["1", "2", "3", "4"]

# JSON number literals around and beyond float4's range, and ordinary ones.
extreme_numbers = st.sampled_from(
    ["1e-46", "-1e-46", "5e-46", "1e-400", "1e-45", "1e-40", "-1e-39", "3.4e38", "-3.4e38",
     "3.5e38", "1e39", "-1e39", "1e100", "0", "0.0", "-0"]
)  # fmt: skip
confidences = st.one_of(
    st.none(),
    st.floats(0, 1).map(repr),
    st.sampled_from(["0", "1", "1e-46", "1e-400", "1e-40", "1e-45", "0.5e-45"]),
)


def fits_float4(literal: str) -> bool:
    """What PostgreSQL's float4 input accepts: no overflow, no underflow to 0."""
    with localcontext() as context:
        context.prec = 200
        value = abs(Decimal(literal))
        return value == 0 or (Decimal(2) ** -150 < value < Decimal(2) ** 128 - Decimal(2) ** 103)


@st.composite
def faces(draw):
    seed = draw(st.integers(0, 5))  # few seeds: duplicates within and across calls
    numbers = [repr(x) for x in vector(seed)]
    for _ in range(draw(st.integers(0, 2))):
        numbers[draw(st.integers(0, 511))] = draw(extreme_numbers)
    confidence = draw(confidences)
    text = '{"embedding": [' + ", ".join(numbers) + "]"
    if confidence is not None:
        text += f', "confidence": {confidence}'
    return text + "}", all(map(fits_float4, [*numbers, confidence or "0"]))


results = st.lists(
    st.tuples(st.sampled_from(KEYS), st.lists(faces(), max_size=3)), min_size=1, max_size=4
)


def ingest_text(items) -> str:
    rendered = [
        f'{{"external_id": "{key}", "name": "P{key}", "faces": [{", ".join(f for f, _ in fs)}]}}'
        for key, fs in items
    ]
    return f'{{"source_system": "{SOURCE}", "results": [{", ".join(rendered)}]}}'


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=st.lists(results, min_size=1, max_size=3), tombstoned=st.sets(st.sampled_from(KEYS)))
def test_every_face_sent_is_stored_skipped_or_refused_with_a_reason(conn, calls, tombstoned):
    conn.execute("TRUNCATE identities, identity_tombstones, audit_journal CASCADE")
    if tombstoned:
        conn.execute(
            "SELECT sync_identities(%s::jsonb)",
            (
                json.dumps(
                    {
                        "source_system": SOURCE,
                        "identities": [{"external_id": k, "action": "delete"} for k in tombstoned],
                    }
                ),
            ),
        )
    for items in calls:
        sent = sum(len(fs) for _, fs in items)
        all_fit = all(fits for _, fs in items for _, fits in fs)
        before = table_digest(conn)
        stored_before = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        try:
            result = conn.execute(
                "SELECT ingest_embeddings(%s::jsonb)", (ingest_text(items),)
            ).fetchone()[0]
        except psycopg.errors.InvalidParameterValue as exc:
            errors = json.loads(exc.diag.message_detail)
            assert not all_fit, errors
            assert table_digest(conn) == before
            for error in errors:
                key, face_list = items[error["index"]]
                assert error["external_id"] == key
                assert error["code"] == "out_of_range", error
                face = int(error["field"].split("[")[1].split("]")[0])
                assert not face_list[face][1], (error, face_list[face][0][:80])
            continue
        assert all_fit, "a number a 32-bit float cannot hold was accepted"
        skipped_faces = sum(s["faces"] for s in result["skipped"])
        assert result["embeddings_stored"] + result["duplicates_skipped"] + skipped_faces == sent
        stored_now = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        assert stored_now - stored_before == result["embeddings_stored"]
        assert {s["external_id"] for s in result["skipped"]} == {
            key for key, _ in items if key in tombstoned
        }
