"""Thresholds measured on the gallery: the scores and rates against brute force,
and a calibration reaching running recognizers (and the API) through the
database."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import time

import numpy as np
import pytest
from calibration_support import clustered, enrol
from helpers import auth, make_token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import calibration
from app.cli import main
from app.db import Database
from app.person_recognizer import THRESHOLDS, Candidate, PersonRecognizer, Thresholds, decide

# ------------------------------------------------ exact galleries
#
# Each vector has 64 components of +-1/8 and the rest 0: unit length exactly,
# and every dot product a multiple of 1/64, exact in float32 and float64 in
# any order of summation. So brute force and the vectorised code see the
# same scores bit for bit, ties included, and a threshold's edge is tested
# exactly rather than within a tolerance.

SUPPORT = 64


def exact_gallery(sizes: list[int], change: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = []
    for size in sizes:
        positions = rng.choice(512, SUPPORT, replace=False)
        signs = rng.choice([-1.0, 1.0], SUPPORT)
        for _ in range(size):
            p, s = positions.copy(), signs.copy()
            # Some of a person's photos differ more: move part of the support.
            moved = rng.random(SUPPORT) < change
            free = np.setdiff1d(np.arange(512), p)
            p[moved] = rng.choice(free, int(moved.sum()), replace=False)
            s[moved] = rng.choice([-1.0, 1.0], int(moved.sum()))
            v = np.zeros(512, dtype=np.float32)
            v[p] = s / 8
            vectors.append(v)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return np.asarray(vectors, dtype=np.float32), starts


def brute_force(vectors: np.ndarray, sizes: list[int]):
    """Per reference: its own identity's best other reference (None if alone),
    and every other identity's best reference, by plain loops."""
    owner = [i for i, size in enumerate(sizes) for _ in range(size)]
    rows = []
    for r, v in enumerate(vectors):
        best: dict[int, float] = {}
        for o, w in enumerate(vectors):
            if o != r:
                score = float(np.dot(v.astype(np.float64), w.astype(np.float64)))
                best[owner[o]] = max(best.get(owner[o], -math.inf), score)
        rows.append((owner[r], best))
    return rows


GALLERY = st.tuples(
    st.lists(st.integers(1, 4), min_size=1, max_size=7),
    st.sampled_from([0.2, 0.5, 0.8, 1.0]),
    st.integers(0, 2**32 - 1),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    gallery=GALLERY,
    target=st.floats(0.001, 0.5),
    looser=st.floats(1, 20),
    default_margin=st.sampled_from([0.0, 0.05, 0.1, 0.3]),
)
def test_scores_rates_and_decisions_match_brute_force(gallery, target, looser, default_margin):
    sizes, change, seed = gallery
    vectors, starts = exact_gallery(sizes, change, seed)
    scores = calibration.measure(vectors, starts)
    truth = brute_force(vectors, sizes)

    genuine = sorted(best[owner] for owner, best in truth if owner in best)
    impostor = sorted(s for owner, best in truth for o, s in best.items() if o != owner)
    assert sorted(scores.genuine.tolist()) == genuine
    assert scores.impostor.tolist() == impostor  # kept sorted
    assert scores.identities == len(sizes) and scores.references == sum(sizes)
    assert scores.genuine_identities == sum(size >= 2 for size in sizes)

    if not impostor or not genuine:
        return
    # identify: at most the target share of impostor scores reach it, and
    # one grid step lower would let more through (or it is already 0).
    uncertain_far = min(1.0, target * looser)
    for far in (target, uncertain_far):
        t = calibration.threshold_at(scores.impostor, far)
        allowed = math.floor(far * len(impostor) + 1e-9)
        assert 0 <= t <= 1 and round(t, 4) == t
        assert sum(s >= t for s in impostor) <= allowed or t == 1
        assert t == 0 or sum(s >= t - 1e-4 for s in impostor) > allowed

    identify = calibration.threshold_at(scores.impostor, target)
    margin = calibration.choose_margin(scores, identify, default_margin)
    thresholds = Thresholds(
        identify, min(calibration.threshold_at(scores.impostor, uncertain_far), identify), margin
    )
    # The margin: never above the default, and demoting at most 1% of the
    # genuine matches at identify that it could demote.
    leads = [
        best[owner] - max((s for o, s in best.items() if o != owner), default=-math.inf)
        for owner, best in truth
        if owner in best
        and best[owner] >= identify
        and best[owner] >= max((s for o, s in best.items() if o != owner), default=-math.inf)
    ]
    assert 0 <= margin <= default_margin
    assert sum(lead < margin for lead in leads) <= math.floor(0.01 * len(leads))

    # What the thresholds do, decided one reference at a time by the
    # recognizer's own decide(), the reference's identity first on a tie.
    expected = {"right": 0, "wrong": 0, "named": 0, "flagged": 0, "uncertain_genuine": 0}
    for owner, best in truth:
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0] != owner))
        candidates = [Candidate(str(o), None, None, str(o), s) for o, s in ranked]
        if owner in best:
            top = int(candidates[0].identity_id)
            if decide(candidates, thresholds) == "identified":
                expected["right" if top == owner else "wrong"] += 1
            expected["uncertain_genuine"] += best[owner] >= thresholds.uncertain
        strangers = [c for c in candidates if c.identity_id != str(owner)]
        decision = decide(strangers, thresholds)
        expected["named"] += decision == "identified"
        expected["flagged"] += decision == "uncertain"
    measured = calibration.outcome(scores, thresholds)
    assert round(measured.gar_at_identify * len(genuine)) == expected["right"]
    assert measured.misidentified == expected["wrong"]
    assert round(measured.gar_at_uncertain * len(genuine)) == expected["uncertain_genuine"]
    assert measured.strangers_identified == expected["named"]
    assert measured.strangers_uncertain == expected["flagged"]
    assert measured.far_at_identify == sum(s >= identify for s in impostor) / len(impostor)


def test_a_large_gallery_keeps_a_sample_of_impostor_scores():
    vectors, starts = exact_gallery([2] * 30, 0.5, 7)
    full = calibration.measure(vectors, starts)
    sampled = calibration.measure(vectors, starts, max_impostor_scores=600)
    assert len(full.impostor) == 60 * 29 and full.impostor_probes == 60
    assert sampled.impostor_probes == 600 // 29 and len(sampled.impostor) == 20 * 29
    assert set(sampled.impostor.tolist()) <= set(full.impostor.tolist())
    # Genuine scores and the stranger view still cover every reference.
    assert sampled.genuine.tolist() == full.genuine.tolist()
    assert np.array_equal(sampled.others, full.others)


# ------------------------------------------------ through the database

MODEL = "buffalo_s"


def calibrate_into(database: Database, model: str, target_far: float) -> calibration.Calibration:
    """What `studio calibrate` does, without the printing (tests/cli has that)."""
    from app import queries

    vectors, starts = calibration.load_references(database, model)
    result = calibration.calibrate(model, vectors, starts, target_far=target_far)
    database.value(
        queries.SET_RECOGNITION_THRESHOLDS, json.dumps(result.request(dry_run=False)), "test"
    )
    return result


def _within(seconds: float, predicate) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def gallery(conn):
    """40 people, 4 references each, and for each a fifth photo kept out as a probe."""
    faces = clustered(40, 5, seed=11)
    enrol(conn, faces[:, :4])
    return faces[:, 4]


@pytest.mark.parametrize("listen", [True, False])
def test_calibration_and_a_dba_change_reach_a_running_recognizer(
    db_url, conn, gallery, listen, monkeypatch
):
    database = Database(db_url)
    # Without a listener, the recognizer reads the database again after its
    # TTL (a read replica's case), here a short one.
    recognizer = PersonRecognizer(
        database, MODEL, listen=listen, ttl_seconds=0 if not listen else 300
    )
    try:
        before = recognizer.thresholds
        assert before == THRESHOLDS[MODEL] and before.source == "default"
        # A poor new photo of each enrolled person (noise added): about 0.25 to
        # its own references, below the defaults' identify, far above strangers.
        rng = np.random.default_rng(12)
        noise = rng.standard_normal(gallery.shape)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        probes = gallery + 1.8 * noise
        by_default = recognizer.match(probes)
        assert all(m.best.similarity < before.identify for m in by_default)
        assert not any(m.decision == "identified" for m in by_default)
        # `studio calibrate`, as an operator runs it beside the running recognizer.
        for variable in ("STUDIO_URL", "STUDIO_TOKEN"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("STUDIO_DATABASE_URL", db_url)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["calibrate", "--model", MODEL, "--target-far", "0.001"]) == 0
        identify, uncertain, margin = (
            float(re.search(rf"^  {name}\s+(\d\.\d{{4}})", out.getvalue(), re.MULTILINE)[1])
            for name in ("identify", "uncertain", "margin")
        )
        stored = Thresholds(identify, uncertain, margin, source="calibrated")
        assert stored.identify < before.identify  # strangers score near 0: the bar comes down
        assert _within(2.0, lambda: recognizer.thresholds == stored)
        assert recognizer.thresholds.source == "calibrated"
        calibrated = recognizer.match(probes)
        assert sum(m.decision == "identified" for m in calibrated) >= 0.9 * len(probes)
        assert all(m.best.external_id == f"p{i}" for i, m in enumerate(calibrated))
        assert [m.decision for m in recognizer.match(probes)] == [
            decide(m.candidates, stored) for m in recognizer.match(probes)
        ]

        conn.execute(f"UPDATE recognition_thresholds SET identify = 0.99 WHERE model = '{MODEL}'")
        assert _within(2.0, lambda: recognizer.thresholds.identify == 0.99)
        assert all(m.decision != "identified" for m in recognizer.match(probes))
        conn.execute(f"DELETE FROM recognition_thresholds WHERE model = '{MODEL}'")
        assert _within(2.0, lambda: recognizer.thresholds == THRESHOLDS[MODEL])
    finally:
        recognizer.close()
        database.close()


def test_a_calibrated_model_can_be_named_and_the_answer_says_which_thresholds(client, conn, db_url):
    token = make_token(conn, ["recognize"])
    faces = clustered(40, 5, seed=3)
    enrol(conn, faces[:, :4], model="house_model")
    body = {"probes": [faces[0, 4].tolist()], "model": "house_model"}

    def recognize(payload):
        return client.post(
            "/api/recognize",
            data=json.dumps(payload),
            headers=auth(token),
            content_type="application/json",
        )

    refused = recognize(body)
    assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "model"
    assert (
        "house_model"
        not in client.get("/api/openapi.json").get_json()["components"]["schemas"][
            "RecognizeRequest"
        ]["properties"]["model"]["enum"]
    )

    default = recognize({"probes": body["probes"], "model": MODEL}).get_json()
    assert default["thresholds"] == {**THRESHOLDS[MODEL].to_json(), "source": "default"}

    with Database(db_url) as database:
        result = calibrate_into(database, "house_model", 0.001)
    answer = recognize(body).get_json()
    assert answer["thresholds"] == result.thresholds.to_json()
    assert answer["thresholds"]["source"] == "calibrated"
    assert answer["results"][0]["decision"] == "identified"
    assert answer["results"][0]["external_id"] == "p0"
    assert (
        "house_model"
        in client.get("/api/openapi.json").get_json()["components"]["schemas"]["RecognizeRequest"][
            "properties"
        ]["model"]["enum"]
    )


def test_the_thresholds_chosen_hold_on_people_never_enrolled():
    """A calibration's false-accept rate is a measurement, not a promise: on a
    fresh sample of strangers from the same population it holds within the
    rule of three's uncertainty."""
    enrolled = clustered(60, 4, seed=5).reshape(-1, 512).astype(np.float32)
    starts = np.arange(0, 240, 4)
    result = calibration.calibrate(MODEL, enrolled, starts, target_far=0.01)
    strangers = clustered(200, 1, seed=6).reshape(-1, 512).astype(np.float32)
    per_identity = np.maximum.reduceat(strangers @ enrolled.T, starts, axis=1)
    fresh_far = float(np.mean(per_identity >= result.thresholds.identify))
    assert fresh_far <= 3 * 0.01
