"""The one ingest chunker (worker/studio_client.py), used by the worker, `studio
ingest` and `studio import`: calls of at most N faces that, put back together,
are the payload sent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.studio_client import ingest_chunks

FACE = st.builds(lambda n: {"embedding": [float(n)], "confidence": 0.9}, st.integers(0, 10**6))
PERSON = st.fixed_dictionaries(
    {"external_id": st.text("abc123", min_size=1, max_size=4), "name": st.text(max_size=5)},
    optional={"faces": st.lists(FACE, max_size=25)},
)
# What Studio refuses must still reach it, where it stood.
ODD = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.just({"faces": "many"}))
PAYLOAD = st.fixed_dictionaries(
    {
        "source_system": st.just("alfred_catalog"),
        "results": st.lists(st.one_of(PERSON, ODD), max_size=12),
    },
    optional={"model": st.sampled_from(["buffalo_l", "buffalo_s"]), "extra": st.integers()},
)


def _faces(result) -> list:
    faces = result.get("faces") if isinstance(result, dict) else None
    return faces if isinstance(faces, list) else []


@settings(max_examples=100, deadline=None)
@given(payload=PAYLOAD, per_call=st.integers(1, 30))
def test_calls_hold_at_most_n_faces_and_together_are_the_payload(payload, per_call):
    calls = list(ingest_chunks(payload, per_call))
    base = {k: v for k, v in payload.items() if k != "results"}
    for call, count in calls:
        assert {k: v for k, v in call.items() if k != "results"} == base
        assert count == sum(len(_faces(r)) for r in call["results"])
        assert 0 <= count <= per_call
        assert call["results"], "no call is sent empty"
    # Every call but the last is full: as few calls as the faces need.
    assert all(count == per_call for _, count in calls[:-1])
    total = sum(len(_faces(r)) for r in payload["results"])
    assert sum(count for _, count in calls) == total
    # (One more at most: results without faces after the last full call.)
    assert len(calls) <= -(-total // per_call) + 1
    assert bool(calls) == bool(payload["results"])

    # Put back together: the same results in the same order, a person's faces
    # in order even where they straddle two calls.
    sent = [result for call, _ in calls for result in call["results"]]
    assert _merge_runs(sent) == _merge_runs(payload["results"])


def _merge_runs(results: list) -> list:
    """Results with each run of consecutive entries of one person (the same fields
    but faces) made one entry: a person split across calls is whole again."""
    merged: list = []
    for result in results:
        previous = merged[-1] if merged else None
        if (
            _faces(result)
            and isinstance(previous, dict)
            and _faces(previous)
            and {k: v for k, v in previous.items() if k != "faces"}
            == {k: v for k, v in result.items() if k != "faces"}
        ):
            merged[-1] = {**previous, "faces": previous["faces"] + result["faces"]}
        else:
            merged.append(result)
    return merged


def test_a_payload_without_results_sends_nothing_and_n_below_one_is_refused():
    assert list(ingest_chunks({"source_system": "s", "results": []}, 10)) == []
    with pytest.raises(ValueError):
        list(ingest_chunks({"results": []}, 0))
