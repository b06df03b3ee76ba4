"""`studio recognize` as a person runs it on a camera box: through the API with
a token and no database credentials, and saying plainly what went wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import DATA_FACES, make_token

STUDIO = str(Path(sys.executable).parent / "studio")
PROBES = DATA_FACES / "probes"


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    from worker.face_engine import offline_pack

    return offline_pack(tmp_path_factory.mktemp("models"))


def recognize(*args, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    return subprocess.run(
        [STUDIO, "recognize", *map(str, args)],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def camera_env(live_server: str, token: str, model_root: Path, tmp_path: Path) -> dict[str, str]:
    """A camera box: the API and a token, the model pack; no database (an empty
    data directory, so an attempt to open one would start a new, empty one)."""
    return {
        "STUDIO_URL": live_server,
        "STUDIO_TOKEN": token,
        "STUDIO_MODEL": "buffalo_s",
        "STUDIO_MODEL_ROOT": str(model_root),
        "STUDIO_DATA_DIR": str(tmp_path / "no-database-here"),
    }


def lines(result: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_through_the_api_an_enrolled_face_is_identified_and_a_bound_token_sees_only_its_own(
    live_server, conn, enrolled, model_root, tmp_path
):
    token = make_token(conn, ["recognize"])
    env = camera_env(live_server, token, model_root, tmp_path)
    result = recognize(PROBES / "obama_and_biden.jpg", env=env)
    assert result.returncode == 0, result.stderr
    faces = lines(result)
    assert sorted(f["external_id"] for f in faces if f["decision"] == "identified") == [
        "biden",
        "obama",
    ]
    assert all(f["kind"] == "face" for f in faces)
    assert all(f["quality"]["reasons"] == [] for f in faces if f["decision"] == "identified")
    assert not (tmp_path / "no-database-here").exists()  # no database was opened
    # A token of another source system matches nobody of this one.
    other = make_token(conn, ["recognize"], ["another_catalog"])
    result = recognize(
        PROBES / "obama1.jpg", env=camera_env(live_server, other, model_root, tmp_path)
    )
    assert result.returncode == 0
    assert "no reference faces of model buffalo_s" in result.stderr
    assert all(f["decision"] == "unknown" and f["candidates"] == [] for f in lines(result))


def test_an_empty_gallery_is_said_not_answered_with_a_confident_unknown(
    live_server, conn, model_root, tmp_path
):
    token = make_token(conn, ["recognize"])
    result = recognize(
        PROBES / "obama1.jpg", env=camera_env(live_server, token, model_root, tmp_path)
    )
    assert result.returncode == 0
    assert "warning: the gallery has no reference faces of model buffalo_s (it is empty)" in (
        result.stderr
    )
    assert [f["decision"] for f in lines(result)] == ["unknown"]


def test_references_of_another_model_only_are_named(live_server, conn, model_root, tmp_path):
    conn.execute(
        "SELECT ingest_embeddings(%s::jsonb)",
        (
            json.dumps(
                {
                    "source_system": "alfred_catalog",
                    "model": "buffalo_l",
                    "results": [
                        {
                            "external_id": "p1",
                            "name": "P One",
                            "faces": [{"embedding": [0.1] * 512}],
                        }
                    ],
                }
            ),
        ),
    )
    token = make_token(conn, ["recognize"])
    result = recognize(
        PROBES / "obama1.jpg", env=camera_env(live_server, token, model_root, tmp_path)
    )
    assert "it holds references of buffalo_l (1 references) only" in result.stderr
    assert "set STUDIO_MODEL" in result.stderr


def test_saving_annotated_frames_warns_that_it_writes_images(
    live_server, conn, enrolled, model_root, tmp_path
):
    token = make_token(conn, ["recognize"])
    out = tmp_path / "annotated"
    result = recognize(
        PROBES / "obama1.jpg",
        "--save-annotated",
        out,
        env=camera_env(live_server, token, model_root, tmp_path),
    )
    assert result.returncode == 0
    assert f"warning: --save-annotated writes frames, images of people's faces, to {out}/" in (
        result.stderr
    )
    assert [p.suffix for p in out.iterdir()] == [".jpg"]


def test_an_image_without_a_face_says_so(live_server, conn, enrolled, model_root, tmp_path):
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 128, np.uint8))
    token = make_token(conn, ["recognize"])
    result = recognize(blank, env=camera_env(live_server, token, model_root, tmp_path))
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"{blank}: no face found in the image"


def test_a_missing_file_is_one_line_and_loads_no_model(tmp_path):
    # No model pack anywhere: the file is refused before one would be needed.
    env = {"STUDIO_MODEL_ROOT": str(tmp_path / "none"), "STUDIO_URL": "http://127.0.0.1:9"}
    result = recognize(tmp_path / "nope.jpg", env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.jpg'}: no such file"


@pytest.mark.parametrize("pack", ["missing", "junk", "no_detector"])
def test_a_missing_or_broken_model_pack_is_one_line(tmp_path, model_root, pack):
    folder = tmp_path / "models" / "buffalo_l"
    if pack != "missing":
        folder.mkdir(parents=True)
    if pack == "junk":
        (folder / "det_10g.onnx").write_bytes(b"half a download")
    if pack == "no_detector":
        (folder / "w600k_mbf.onnx").write_bytes(
            (model_root / "models" / "buffalo_s" / "w600k_mbf.onnx").read_bytes()
        )
    env = {
        "STUDIO_MODEL_ROOT": str(tmp_path),
        "STUDIO_MODEL": "buffalo_l",
        "STUDIO_URL": "http://127.0.0.1:9",
    }
    result = recognize(PROBES / "obama1.jpg", env=env, timeout=120)
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message and "Traceback" not in message
    assert "buffalo_l" in message


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--fps", "nan"), "--fps must be a number above 0"),
        (("--fps", "0"), "--fps must be a number above 0"),
        (("--k", "0"), "--k must be from 1 to 100"),
        (("--max-retries", "-1"), "--max-retries must be 0 or more"),
    ],
)
def test_a_wrong_option_is_one_line_before_any_model_loads(tmp_path, option, message):
    env = {"STUDIO_MODEL_ROOT": str(tmp_path / "none"), "STUDIO_URL": "http://127.0.0.1:9"}
    result = recognize(PROBES / "short_hamilton_clip.mp4", *option, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {message}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("STUDIO_DET_SIZE", "641", "STUDIO_DET_SIZE='641': use auto, or a multiple of 32"),
        ("STUDIO_DET_SIZE", "big", "STUDIO_DET_SIZE='big': use auto, or a multiple of 32"),
        ("STUDIO_INFERENCE_THREADS", "999", "STUDIO_INFERENCE_THREADS='999': use 0"),
        ("STUDIO_INFERENCE_THREADS", "two", "STUDIO_INFERENCE_THREADS='two': expected a whole"),
    ],
)
def test_a_wrong_engine_setting_is_one_line_before_any_model_loads(
    tmp_path, variable, value, message
):
    env = {
        "STUDIO_MODEL_ROOT": str(tmp_path / "none"),
        "STUDIO_URL": "http://127.0.0.1:9",
        variable: value,
    }
    result = recognize(PROBES / "obama1.jpg", env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1


def test_the_engine_settings_reach_the_camera_engine(model_root):
    from app.cli.recognize import camera_engine
    from app.config import Settings

    pack = {"STUDIO_MODEL": "buffalo_s", "STUDIO_MODEL_ROOT": str(model_root)}
    engine = camera_engine(
        Settings.from_env(pack | {"STUDIO_DET_SIZE": "1280", "STUDIO_INFERENCE_THREADS": "1"})
    )
    assert engine.det_size == 1280
    for session in (engine.detector.session, engine.recognizer.session):
        assert session.get_session_options().intra_op_num_threads == 1
    assert camera_engine(Settings.from_env(pack)).det_size is None  # auto: each frame's own size


def test_a_model_or_token_the_api_refuses_is_one_line_before_any_model_loads(
    live_server, conn, tmp_path
):
    for token, model, said in [
        (make_token(conn, ["recognize"]), "mypack", "STUDIO_MODEL=mypack: Studio does not"),
        (make_token(conn, ["identities:read"]), "buffalo_s", "refuses this token's recognition"),
    ]:
        env = camera_env(live_server, token, tmp_path / "none", tmp_path)
        result = recognize(PROBES / "obama1.jpg", env=env | {"STUDIO_MODEL": model}, timeout=60)
        assert result.returncode == 2, result.stderr
        assert said in result.stderr and result.stderr.count("\n") == 1
