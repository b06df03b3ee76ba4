"""`studio calibrate` as a user runs it: the summary, the PNG, what is stored,
the refusal on too little data, --show, and the demo gallery with the real
buffalo_s model."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys

import numpy as np
import pytest
from calibration_support import clustered, enrol

from app.cli import main
from app.person_recognizer import THRESHOLDS

COLUMNS = "model, identify, uncertain, margin, target_far, impostor_scores, genuine_scores"


def run(db_url, monkeypatch, *argv: str) -> tuple[int, str, str]:
    for variable in ("STUDIO_URL", "STUDIO_TOKEN", "STUDIO_MODEL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("STUDIO_DATABASE_URL", db_url)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(["calibrate", *argv])
        except SystemExit as exc:  # argparse refusing an option
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def stored(conn) -> list[tuple]:
    return conn.execute(f"SELECT {COLUMNS} FROM recognition_thresholds").fetchall()


def test_calibrate_prints_draws_and_stores(db_url, conn, monkeypatch, tmp_path):
    enrol(conn, clustered(40, 4, seed=21))
    png = tmp_path / "scores.png"
    status, out, err = run(
        db_url,
        monkeypatch,
        "--model",
        "buffalo_s",
        "--target-far",
        "0.001",
        "--histogram",
        str(png),
    )
    assert status == 0, err
    assert "gallery of buffalo_s: 160 references of 40 identities (40 with two" in out
    assert re.search(r"genuine scores\s+160\b", out)
    assert re.search(r"impostor scores\s+6,240\b", out)
    # Quantiles of both, the thresholds with what they do, and a histogram.
    assert re.search(r"^  genuine\s+(-?\d\.\d{3}\s+){8}-?\d\.\d{3}$", out, re.MULTILINE)
    assert re.search(r"^  impostor\s+(-?\d\.\d{3}\s+){8}-?\d\.\d{3}$", out, re.MULTILINE)
    identify = float(re.search(r"^  identify\s+(\d\.\d{4})", out, re.MULTILINE)[1])
    uncertain = float(re.search(r"^  uncertain\s+(\d\.\d{4})", out, re.MULTILINE)[1])
    margin = float(re.search(r"^  margin\s+(\d\.\d{4})", out, re.MULTILINE)[1])
    false_accepts = re.search(r"identify.*false accepts \S+ \((\d+) of 6,240\)", out)
    assert int(false_accepts[1]) <= 6  # 0.001 of 6,240
    assert "<- identify" in out and "<- uncertain" in out and "#" in out
    assert "stored for buffalo_s" in out
    assert stored(conn) == [("buffalo_s", identify, uncertain, margin, 0.001, 6240, 160)]

    import cv2

    image = cv2.imread(str(png))
    assert image is not None and image.shape == (540, 960, 3)
    # Both distributions are drawn, in their colours (blended on white).
    greenish = (image[:, :, 1] > image[:, :, 2] + 40) & (image[:, :, 1] > image[:, :, 0] + 40)
    reddish = (image[:, :, 2] > image[:, :, 1] + 40) & (image[:, :, 2] > image[:, :, 0] + 40)
    assert greenish.sum() > 500 and reddish.sum() > 500


def test_a_dry_run_prints_and_stores_nothing(db_url, conn, monkeypatch):
    enrol(conn, clustered(40, 4, seed=22))
    status, out, _ = run(db_url, monkeypatch, "--model", "buffalo_s", "--dry-run")
    assert status == 0 and "dry run: nothing stored" in out and "identify" in out
    assert stored(conn) == []


def test_too_little_data_is_refused_with_what_there_is_and_what_is_needed(
    db_url, conn, monkeypatch, tmp_path
):
    enrol(conn, clustered(6, 2, seed=23))
    png = tmp_path / "scores.png"
    status, out, err = run(db_url, monkeypatch, "--model", "buffalo_s", "--histogram", str(png))
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == (
        "error: cannot calibrate buffalo_s at a false-accept rate of 0.001: its gallery has "
        "12 references of 6 identities (6 with two references or more); nothing stored"
    )
    assert any("60 impostor scores" in line and "3 / 0.001 = 3000" in line for line in lines)
    assert any("0.05 at best" in line for line in lines)
    assert any("12 genuine scores" in line and "20 or more" in line for line in lines)
    assert stored(conn) == [] and not png.exists()
    # An empty gallery says the same, with zeros.
    status, _, err = run(db_url, monkeypatch, "--model", "nobody_enrolled")
    assert status == 2 and "0 references of 0 identities" in err
    assert "no impostor scores" in err


def test_show_lists_calibrated_hand_set_and_default_models(db_url, conn, monkeypatch):
    enrol(conn, clustered(40, 4, seed=24), model="house_model")
    assert run(db_url, monkeypatch, "--model", "house_model")[0] == 0
    conn.execute(
        "SELECT set_recognition_thresholds(%s::jsonb)",
        (json.dumps({"model": "other", "identify": 0.6, "uncertain": 0.4, "margin": 0.1}),),
    )
    conn.execute("UPDATE recognition_thresholds SET margin = 0.2 WHERE model = 'house_model'")
    before = stored(conn)
    status, out, _ = run(db_url, monkeypatch, "--show")
    assert status == 0 and stored(conn) == before
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert set(rows) == {"buffalo_l", "buffalo_s", "house_model", "other"}
    assert "calibrated" in rows["house_model"] and "0.2000" in rows["house_model"]
    assert "160 / 6,240" in rows["house_model"]
    # Changed by hand after its calibration: the listing says when.
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s*$", rows["house_model"])
    assert "set by hand" in rows["other"] and "0.6000" in rows["other"]
    assert "default" in rows["buffalo_s"]
    assert f"{THRESHOLDS['buffalo_s'].identify:.4f}" in rows["buffalo_s"]


def test_a_missing_opencv_is_one_line_before_any_work(db_url, conn, monkeypatch, tmp_path):
    enrol(conn, clustered(40, 4, seed=25))
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError
    status, out, err = run(db_url, monkeypatch, "--histogram", str(tmp_path / "x.png"))
    assert status == 2 and out == ""
    assert (
        err
        == "error: --histogram needs OpenCV (cv2): install the worker extra or run make install\n"
    )
    assert stored(conn) == []


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--target-far", "0"], "a rate above 0 and below 1"),
        (["--target-far", "1.5"], "a rate above 0 and below 1"),
        (["--target-far", "often"], "is not a number"),
        (["--target-far", "0.01", "--uncertain-far", "0.001"], "must not be below --target-far"),
    ],
)
def test_wrong_rates_are_refused_before_anything_runs(db_url, conn, monkeypatch, argv, says):
    enrol(conn, clustered(40, 4, seed=26))
    status, out, err = run(db_url, monkeypatch, *argv)
    assert status == 2 and says in err and out == ""
    assert stored(conn) == []


def test_the_demo_gallery_with_the_real_model_is_too_small_and_says_what_it_allows(
    engine, db_url, conn, monkeypatch
):
    """The demo's 11 photos of 6 people, embedded by buffalo_s: too few for any
    calibration; the refusal names the least rate its impostor scores show."""
    import cv2
    from helpers import DATA_FACES

    faces = {}
    for photo in sorted((DATA_FACES / "people").glob("*/*")):
        image = cv2.imread(str(photo))
        faces.setdefault(photo.parent.name, []).append(
            engine.embed([(image, engine.detect(image)[0])])[0]
        )
    payload = {
        "source_system": "alfred_catalog",
        "model": "buffalo_s",
        "results": [
            {"external_id": p, "name": p, "faces": [{"embedding": v.tolist()} for v in vs]}
            for p, vs in faces.items()
        ],
    }
    conn.execute("SELECT ingest_embeddings(%s::jsonb)", (json.dumps(payload),))
    status, _, err = run(db_url, monkeypatch, "--model", "buffalo_s")
    assert status == 2
    assert "11 references of 6 identities (5 with two references or more)" in err
    assert "55 impostor scores" in err and "0.055 at best" in err
    assert "10 genuine scores" in err
    assert stored(conn) == []
    # What the real model's scores look like, for the docs: impostors far below genuine.
    from app import calibration
    from app.db import Database

    with Database(db_url) as database:
        vectors, starts = calibration.load_references(database, "buffalo_s")
    scores = calibration.measure(vectors, starts)
    assert scores.impostor.max() < scores.genuine.min()
    assert np.all(scores.genuine > 0.4)
