"""Tracks: faces linked across frames by overlap and likeness, and the vote
that decides a track, on generated scenes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.face_tracks import (
    MAX_GAP_SECONDS,
    VOTE_SHARE,
    Observation,
    Track,
    Tracker,
    decide_track,
)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def result(decision: str, identity: str | None, similarity: float = 0.6) -> dict:
    candidates = (
        [
            {
                "identity_id": identity,
                "name": identity.title(),
                "external_id": identity,
                "source_system": "s",
                "similarity": similarity,
            }
        ]
        if identity
        else []
    )
    return {"decision": decision, "candidates": candidates}


@settings(max_examples=40, deadline=None)
@given(
    people=st.integers(1, 4),
    frames=st.integers(2, 12),
    seed=st.integers(0, 2**32 - 1),
    shuffle=st.booleans(),
)
def test_each_person_becomes_one_track_whatever_the_order_of_detections(
    people, frames, seed, shuffle
):
    """People standing apart, each face a noisy copy of its person's embedding
    (frame-to-frame likeness as measured on video: 0.5 to 0.9), seen in every
    frame: one track each, holding exactly that person's faces."""
    rng = np.random.default_rng(seed)
    centres = [unit(rng.standard_normal(512)) for _ in range(people)]
    tracker = Tracker()
    owner: dict[int, set[int]] = {}
    for f in range(frames):
        order = rng.permutation(people) if shuffle else range(people)
        observations, who = [], []
        for p in order:
            x = 150.0 * p + rng.uniform(-20, 20)  # they move, a little or a lot
            box = (x, 50.0, x + 60.0, 130.0)
            face = unit(centres[p] + 0.6 * unit(rng.standard_normal(512)))
            observations.append(
                Observation(f, f * 0.5, box, face, rng.uniform(0, 1), result("unknown", None))
            )
            who.append(p)
        ids, closed = tracker.update(f * 0.5, observations)
        assert closed == []
        assert len(set(ids)) == len(ids)  # never two faces of a frame in one track
        for track_id, p in zip(ids, who, strict=True):
            owner.setdefault(track_id, set()).add(p)
    tracks = tracker.finish()
    assert len(tracks) == people
    assert all(len(members) == 1 for members in owner.values())
    assert all(len(t.observations) == frames for t in tracks)


def test_a_track_closes_after_the_gap_and_a_returning_face_starts_a_new_one():
    face = unit(np.ones(512))
    tracker = Tracker()
    obs = lambda s: Observation(0, s, (0, 0, 50, 50), face, 1.0, result("unknown", None))  # noqa: E731
    first, _ = tracker.update(0.0, [obs(0.0)])
    same, _ = tracker.update(MAX_GAP_SECONDS - 0.1, [obs(MAX_GAP_SECONDS - 0.1)])
    later, closed = tracker.update(2 * MAX_GAP_SECONDS + 1, [obs(2 * MAX_GAP_SECONDS + 1)])
    assert first == same != later
    assert [t.track_id for t in closed] == first


def test_a_different_face_in_the_same_place_is_a_new_track():
    rng = np.random.default_rng(1)
    tracker = Tracker()
    a, b = unit(rng.standard_normal(512)), unit(rng.standard_normal(512))
    box = (10.0, 10.0, 70.0, 90.0)
    ids_a, _ = tracker.update(0.0, [Observation(0, 0.0, box, a, 1.0, result("unknown", None))])
    ids_b, _ = tracker.update(0.5, [Observation(1, 0.5, box, b, 1.0, result("unknown", None))])
    assert ids_a != ids_b


decisions = st.sampled_from(["identified", "uncertain", "unknown"])
frame_votes = st.lists(
    st.tuples(
        decisions, st.sampled_from(["ann", "bob", "cy"]), st.floats(0, 1), st.floats(0.2, 0.9)
    ),
    min_size=1,
    max_size=20,
)


def track_of(votes) -> Track:
    track = Track(1)
    for i, (decision, who, weight, similarity) in enumerate(votes):
        identity = None if decision == "unknown" else who
        track.add(
            Observation(
                i,
                i * 0.5,
                (0, 0, 1, 1),
                unit(np.ones(512)),
                weight,
                result(decision, identity, similarity),
            )
        )
    return track


@settings(max_examples=200, deadline=None)
@given(frame_votes)
def test_the_vote_names_only_a_clear_weighted_majority(votes):
    track = track_of(votes)
    decided = decide_track(track)
    weights = [max(w, 0.05) for _, _, w, _ in votes]
    total = sum(weights)
    named = {}
    for (decision, who, _, _), w in zip(votes, weights, strict=True):
        if decision == "identified":
            named[who] = named.get(who, 0) + w
    assert decided["votes"]["identified"] == sum(d == "identified" for d, *_ in votes)
    assert sum(decided["votes"].values()) == len(votes)
    if decided["decision"] == "identified":
        who = decided["external_id"]
        assert named[who] >= VOTE_SHARE * total - 1e-9
        assert all(named[who] >= 2 * w - 1e-9 for k, w in named.items() if k != who)
        sims = [s for d, p, _, s in votes if d != "unknown" and p == who]
        assert decided["best_similarity"] == round(max(sims), 4)
    else:
        assert decided["identity"] is None and decided["name"] is None
        if named:  # nobody named with enough weight, or two named alike
            best = max(named.values())
            second = sorted(named.values())[-2] if len(named) > 1 else 0
            assert best < VOTE_SHARE * total or best < 2 * second
    if all(d == "unknown" for d, *_ in votes):
        assert decided["decision"] == "unknown" and decided["best_similarity"] is None


def test_one_bad_frame_does_not_name_a_stranger_and_a_steady_face_is_named():
    stranger = track_of([("identified", "ann", 0.9, 0.55)] + [("uncertain", "ann", 0.9, 0.45)] * 3)
    assert decide_track(stranger)["decision"] == "uncertain"
    assert decide_track(stranger)["candidate"] == "Ann"
    steady = track_of([("identified", "bob", 0.8, 0.6)] * 6 + [("uncertain", "bob", 0.5, 0.45)] * 4)
    decided = decide_track(steady)
    assert (decided["decision"], decided["name"]) == ("identified", "Bob")
    assert decided["mean_similarity"] == round(np.mean([0.6] * 6 + [0.45] * 4), 4)
