"""Thresholds per model in the database: set_recognition_thresholds() validates
and names every bad field, the table's CHECKs hold any writer (a DBA in psql
too), and every change is announced on the gallery's channel."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import psycopg
import pytest
from helpers import rejected
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

CALIBRATION = {
    "model": "buffalo_s",
    "identify": 0.42,
    "uncertain": 0.33,
    "margin": 0.1,
    "target_far": 0.001,
    "uncertain_far": 0.01,
    "identities": 60,
    "reference_count": 300,
    "genuine_identities": 55,
    "genuine_scores": 290,
    "impostor_scores": 17_700,
    "far_at_identify": 0.0009,
    "gar_at_identify": 0.97,
    "far_at_uncertain": 0.0099,
    "gar_at_uncertain": 0.99,
}
COLUMNS = [*CALIBRATION]


def set_thresholds(conn, request, *args):
    text = request if isinstance(request, str) else json.dumps(request)
    placeholders = "".join(", %s" for _ in args)
    return conn.execute(
        f"SELECT set_recognition_thresholds(%s::jsonb{placeholders})", (text, *args)
    ).fetchone()[0]


def stored(conn) -> list[tuple]:
    return conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM recognition_thresholds ORDER BY model"
    ).fetchall()


def test_a_calibration_is_stored_whole_and_replaced_whole(conn):
    answer = set_thresholds(conn, CALIBRATION, "cli:test")
    assert answer == {
        "success": True,
        "model": "buffalo_s",
        "identify": 0.42,
        "uncertain": 0.33,
        "margin": 0.1,
        "target_far": 0.001,
        "created": True,
        "dry_run": False,
    }
    assert stored(conn) == [tuple(CALIBRATION.values())]
    assert conn.execute("SELECT calibrated_by FROM recognition_thresholds").fetchone() == (
        "cli:test",
    )
    # By hand: the thresholds alone; the old measurements go with the old thresholds.
    by_hand = {"model": " buffalo_s ", "identify": 0.55, "uncertain": 0.4, "margin": 0.05}
    assert set_thresholds(conn, by_hand)["created"] is False
    assert stored(conn) == [("buffalo_s", 0.55, 0.4, 0.05, *[None] * 11)]


def test_a_dry_run_checks_everything_and_stores_nothing(conn):
    answer = set_thresholds(conn, {**CALIBRATION, "dry_run": True})
    assert answer["dry_run"] is True and answer["created"] is True
    assert stored(conn) == []
    errors = rejected(
        conn, "set_recognition_thresholds", {**CALIBRATION, "dry_run": True, "identify": 2}
    )
    assert [(e["field"], e["code"]) for e in errors] == [("identify", "out_of_range")]


# One row per bad request: the fields and codes it must be refused with.
REFUSED = [
    (
        {},
        [
            ("model", "required"),
            ("identify", "required"),
            ("uncertain", "required"),
            ("margin", "required"),
        ],
    ),
    (
        {"model": "m", "identify": "0.5", "uncertain": 0.3, "margin": 0.1},
        [("identify", "invalid_type")],
    ),
    (
        {"model": "m", "identify": 1.5, "uncertain": -0.1, "margin": 1.01},
        [("identify", "out_of_range"), ("uncertain", "out_of_range"), ("margin", "out_of_range")],
    ),
    (
        {"model": "m", "identify": 0.4, "uncertain": 0.5, "margin": 0.1},
        [("uncertain", "out_of_range")],
    ),
    (
        {"model": "x" * 51, "identify": 0.5, "uncertain": 0.3, "margin": 0.1},
        [("model", "too_long")],
    ),
    (
        {"model": "http://evil.example/m", "identify": 0.5, "uncertain": 0.3, "margin": 0.1},
        [("model", "forbidden_value")],
    ),
    (
        {"model": "m", "identify": 0.5, "uncertain": 0.3, "margin": 0.1, "photo": "x"},
        [("photo", "forbidden_field")],
    ),
    (
        {"model": "m", "identify": 0.5, "uncertain": 0.3, "margin": 0.1, "idnetify": 0.5},
        [("idnetify", "unknown_field")],
    ),
    (
        {"model": "m", "identify": 0.5, "uncertain": 0.3, "margin": 0.1, "dry_run": "yes"},
        [("dry_run", "invalid_type")],
    ),
    (
        {"model": "m", "identify": 0.5, "uncertain": 0.3, "margin": 0.1, "uncertain_far": 0.1},
        [("uncertain_far", "required")],
    ),
    ({**CALIBRATION, "target_far": 0}, [("target_far", "out_of_range")]),
    ({**CALIBRATION, "target_far": 1}, [("target_far", "out_of_range")]),
    ({**CALIBRATION, "target_far": 1e-12}, [("target_far", "out_of_range")]),
    ({**CALIBRATION, "uncertain_far": 0.0001}, [("uncertain_far", "out_of_range")]),
    ({**CALIBRATION, "genuine_scores": 2.5}, [("genuine_scores", "invalid_type")]),
    ({**CALIBRATION, "impostor_scores": -1}, [("impostor_scores", "out_of_range")]),
    ({**CALIBRATION, "genuine_identities": 61}, [("genuine_identities", "out_of_range")]),
    ({**CALIBRATION, "genuine_scores": 301}, [("genuine_scores", "out_of_range")]),
    ({**CALIBRATION, "gar_at_identify": 1.2}, [("gar_at_identify", "out_of_range")]),
    (
        {k: v for k, v in CALIBRATION.items() if k != "impostor_scores"},
        [("impostor_scores", "required")],
    ),
    ({**CALIBRATION, "impostor_scores": 2999}, [("impostor_scores", "too_few")]),
    (
        {**CALIBRATION, "genuine_scores": 19, "genuine_identities": 4},
        [("genuine_scores", "too_few"), ("genuine_identities", "too_few")],
    ),
]


@pytest.mark.parametrize(("request_", "expected"), REFUSED)
def test_refused_requests_name_every_bad_field_and_store_nothing(conn, request_, expected):
    set_thresholds(conn, {**CALIBRATION, "model": "kept"})
    before = stored(conn)
    errors = rejected(conn, "set_recognition_thresholds", request_)
    assert sorted((e["field"], e["code"]) for e in errors) == sorted(expected)
    assert all(e["message"] for e in errors)
    assert stored(conn) == before


@pytest.mark.parametrize(
    ("impostors", "target", "says"),
    [
        (55, 0.001, ["55 impostor scores", "3 / 0.001 = 3000", "these show 0.055 at best"]),
        (2999, 0.001, ["2999 impostor scores", "3 / 0.001 = 3000", "0.0011 at best"]),
        (2, 0.01, ["2 impostor scores", "= 300 of them", "no rate below 1"]),
        (0, 0.01, ["no impostor scores", "needs 300"]),
    ],
)
def test_too_little_data_is_refused_naming_what_there_is_and_what_is_needed(
    conn, impostors, target, says
):
    request_ = {
        **CALIBRATION,
        "impostor_scores": impostors,
        "target_far": target,
        "uncertain_far": target,
    }
    (error,) = rejected(conn, "set_recognition_thresholds", request_)
    assert error["field"] == "impostor_scores" and error["code"] == "too_few"
    for text in says:
        assert text in error["message"]
    assert stored(conn) == []


def test_the_least_rate_a_refusal_names_is_one_that_passes(conn):
    for impostors in (7, 55, 299, 1234, 2999, 40_001):
        request_ = {
            **CALIBRATION,
            "impostor_scores": impostors,
            "target_far": 1e-6,
            "uncertain_far": 1e-5,
        }
        (error,) = rejected(conn, "set_recognition_thresholds", request_)
        least = float(error["message"].rsplit("these show ", 1)[1].split(" ")[0])
        assert 3 / impostors <= least < 1.1 * 3 / impostors + 1e-9
        set_thresholds(
            conn, {**request_, "target_far": least, "uncertain_far": least, "dry_run": True}
        )


# What psql may not do either: the table's CHECKs.
UPDATES = [
    "identify = 1.5",
    "identify = 'NaN'",
    "uncertain = identify + 0.01",
    "uncertain = -0.01",
    "margin = 1.01",
    "margin = -0.1",
    "target_far = 0",
    "uncertain_far = target_far / 2",
    "impostor_scores = 2999",
    "genuine_scores = 19",
    "genuine_identities = 4",
    "genuine_identities = identities + 1",
    "gar_at_identify = 1.01",
    "model = ''",
]


@pytest.mark.parametrize("change", UPDATES)
def test_the_table_refuses_insane_thresholds_from_any_writer(conn, change):
    set_thresholds(conn, CALIBRATION)
    before = stored(conn)
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(f"UPDATE recognition_thresholds SET {change}")
    assert stored(conn) == before


def test_a_change_is_announced_and_dated(conn, db_url):
    set_thresholds(conn, CALIBRATION, None, "2024-01-01T00:00:00Z")
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN studio_gallery")
        conn.execute("UPDATE recognition_thresholds SET identify = 0.55 WHERE model = 'buffalo_s'")
        notices = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.payload for n in notices] == ["recognition_thresholds"]
    calibrated, updated = conn.execute(
        "SELECT calibrated_at, updated_at FROM recognition_thresholds"
    ).fetchone()
    assert calibrated.year == 2024 and updated > calibrated


# ------------------------------------------------ generated requests

NUMBER = st.one_of(
    st.floats(-0.5, 1.5, allow_nan=False),
    st.sampled_from([0, 1, 0.0, 1.0, 1e-10, 0.999999999, 1.0000000001]),
    st.integers(-5, 100_000),
    st.just("0.5"),
    st.none(),
)
UNIT = st.floats(0, 1, allow_nan=False)


@st.composite
def sound_request(draw) -> dict:
    """A request the rules allow: a calibration, or thresholds set by hand."""
    identify = draw(UNIT)
    request_ = {
        "model": draw(st.sampled_from(["buffalo_s", "buffalo_l", "custom"])),
        "identify": identify,
        "uncertain": draw(st.floats(0, identify)),
        "margin": draw(UNIT),
    }
    if draw(st.booleans()):
        target = draw(st.sampled_from([0.001, 0.01, 0.05, 0.3]))
        identities = draw(st.integers(5, 500))
        references = draw(st.integers(max(identities, 20), 5000))
        request_ |= {
            "target_far": target,
            "uncertain_far": draw(st.sampled_from([target, min(1, 10 * target), 1])),
            "identities": identities,
            "reference_count": references,
            "genuine_identities": draw(st.integers(5, identities)),
            "genuine_scores": draw(st.integers(20, references)),
            "impostor_scores": draw(st.integers(math.ceil(3 / target), 10**7)),
        }
        rates = ["far_at_identify", "gar_at_identify", "far_at_uncertain", "gar_at_uncertain"]
        request_ |= {k: draw(UNIT) for k in rates if draw(st.booleans())}
    return request_


# Sound requests with up to three fields changed to anything or dropped.
REQUEST = st.builds(
    lambda sound, changed, dropped: {
        k: v for k, v in (sound | changed).items() if k not in dropped
    },
    sound_request(),
    st.dictionaries(st.sampled_from(COLUMNS[1:]), NUMBER, max_size=3),
    st.sets(st.sampled_from(COLUMNS[1:]), max_size=2),
)


def _fits(value, lo, hi, lo_open=False, hi_open=False, whole=False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if whole and value != int(value):
        return False
    value = Decimal(repr(value)) if whole else round(Decimal(repr(value)), 9)
    return (value > lo or (not lo_open and value == lo)) and (
        value < hi or (not hi_open and value == hi)
    )


def expected_to_pass(request_: dict) -> bool:
    """The rules of set_recognition_thresholds(), written from its header."""
    given = {k: v for k, v in request_.items() if v is not None}
    if not all(k in given for k in ("identify", "uncertain", "margin")):
        return False
    reals = [
        "identify",
        "uncertain",
        "margin",
        "far_at_identify",
        "gar_at_identify",
        "far_at_uncertain",
        "gar_at_uncertain",
    ]
    counts = [
        "identities",
        "reference_count",
        "genuine_identities",
        "genuine_scores",
        "impostor_scores",
    ]
    if not all(_fits(given[k], 0, 1) for k in reals if k in given):
        return False
    if not all(_fits(given[k], 0, 2**31 - 1, whole=True) for k in counts if k in given):
        return False
    if "target_far" in given and not _fits(given["target_far"], 0, 1, True, True):
        return False
    if "uncertain_far" in given and not _fits(given["uncertain_far"], 0, 1, lo_open=True):
        return False
    r = {k: round(Decimal(repr(v)), 9) for k, v in given.items() if k != "model"}
    if r["uncertain"] > r["identify"]:
        return False
    if "uncertain_far" in r and ("target_far" not in r or r["uncertain_far"] < r["target_far"]):
        return False
    if "uncertain_far" in given and "target_far" not in given:
        return False
    if r.get("genuine_identities", 0) > r.get("identities", math.inf):
        return False
    if r.get("genuine_scores", 0) > r.get("reference_count", math.inf):
        return False
    if "target_far" in r:
        if not all(k in r for k in counts):
            return False
        needed = math.ceil(Decimal(3) / r["target_far"])
        if r["impostor_scores"] < needed or r["genuine_scores"] < 20:
            return False
        if r["genuine_identities"] < 5:
            return False
    return True


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=st.lists(REQUEST, min_size=1, max_size=6))
def test_any_request_is_stored_exactly_when_the_rules_allow_and_rows_stay_sane(conn, requests):
    conn.execute("TRUNCATE recognition_thresholds")
    for request_ in requests:
        before = stored(conn)
        try:
            set_thresholds(conn, request_)
            accepted = True
        except psycopg.errors.InvalidParameterValue:
            accepted = False
            assert stored(conn) == before
        assert accepted == expected_to_pass(request_), request_
        event("stored" if accepted else "refused")
        if accepted:
            row = dict(
                zip(
                    COLUMNS, next(r for r in stored(conn) if r[0] == request_["model"]), strict=True
                )
            )
            for field in COLUMNS[1:]:
                sent = request_.get(field)
                assert row[field] == (
                    None if sent is None else float(round(Decimal(repr(sent)), 9))
                )
        # Whoever wrote them, the rows are sane.
        for row in stored(conn):
            r = dict(zip(COLUMNS, row, strict=True))
            assert 0 <= r["uncertain"] <= r["identify"] <= 1 and 0 <= r["margin"] <= 1
            if r["target_far"] is not None:
                assert r["impostor_scores"] >= 3 / r["target_far"] - 1e-6
