"""Bounded cost: refusing a payload costs time in proportion to it, and the
refusal itself is small, whatever the payload holds."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from helpers import table_digest, vector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SOURCE = "alfred_catalog"

# Bad faces of every kind the face check reports, small so that many fit;
# and a few of 512 numbers that fail only when read as floats.
BAD_FACES = [
    {"embedding": []},
    {},
    "not a face",
    {"embedding": "x"},
    {"embedding": [1, "2"]},
    {"embedding": [], "confidence": 2},
    {"embedding": [], "confidence": "high"},
    {"embedding": [], "extra": 1},
    {"embedding": [], "photo_url": "http://alfred/p/1"},
]
HEAVY_BAD_FACES = [
    {"embedding": [0] * 512},
    {"embedding": [*vector(1, 511), 1e39]},
    {"embedding": vector(2), "confidence": 1.5},
]


def rejected_in(conn: psycopg.Connection, function: str, payload: dict) -> tuple[float, list]:
    body = json.dumps(payload)
    start = time.monotonic()
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        conn.execute(f"SELECT {function}(%s::jsonb)", (body,))
    return time.monotonic() - start, json.loads(info.value.diag.message_detail)


@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kinds=st.lists(st.sampled_from(range(len(BAD_FACES))), min_size=1, max_size=4, unique=True))
def test_rejecting_twenty_thousand_bad_faces_is_linear(conn, kinds):
    # Quadratic validation took 8 s for 2,000 bad faces and 234 s for
    # 12,000; linear takes about a second for 20,000 on a loaded 2-core box.
    count = 20_000
    faces = [BAD_FACES[kinds[i % len(kinds)]] for i in range(count)]
    for i, heavy in enumerate(HEAVY_BAD_FACES * 10):
        faces[(i * 997) % count] = heavy
    payload = {
        "source_system": SOURCE,
        "results": [
            {"external_id": str(i), "name": f"P{i}", "faces": faces[i * 10 : i * 10 + 10]}
            for i in range(count // 10)
        ],
    }
    before = table_digest(conn)
    seconds, errors = rejected_in(conn, "ingest_embeddings", payload)
    assert seconds < 30, f"{count} bad faces took {seconds:.0f} s to refuse"
    assert len(errors) == 1001 and errors[-1]["code"] == "too_many_errors"
    assert errors[0]["index"] == 0 and errors[0]["field"].startswith("faces[0]")
    assert table_digest(conn) == before
