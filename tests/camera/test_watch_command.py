"""`studio watch` as a camera box runs it: cameras from a file, matched and
recorded by a live Studio over HTTP, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import DATA_FACES, make_token

from app.processes import free_port

STUDIO = str(Path(sys.executable).parent / "studio")
CLIP = DATA_FACES / "probes" / "short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    from worker.face_engine import offline_pack

    return offline_pack(tmp_path_factory.mktemp("models"))


def watch_env(live_server, token, model_root, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    return env | {
        "STUDIO_URL": live_server,
        "STUDIO_TOKEN": token,
        "STUDIO_MODEL": "buffalo_s",
        "STUDIO_MODEL_ROOT": str(model_root),
        "STUDIO_DATA_DIR": str(tmp_path / "no-database-here"),
    }


def sightings(conn) -> list[tuple]:
    return conn.execute(
        """SELECT s.camera, s.decision, i.external_id, s.frames, s.started_at <= s.ended_at
           FROM sightings s LEFT JOIN identities i USING (identity_id)
           ORDER BY s.started_at"""
    ).fetchall()


def test_a_file_camera_records_a_sighting_per_track(
    live_server, conn, enrolled, model_root, tmp_path
):
    cameras = tmp_path / "cameras.toml"
    cameras.write_text(
        f'[[camera]]\nname = "stage"\nurl = "{CLIP}"\nfps = 2\n\n'
        '[[camera]]\nname = "attic"\nurl = "attic.mp4"\nenabled = false\n'
    )
    token = make_token(conn, ["recognize", "sightings:write"])
    result = subprocess.run(
        [STUDIO, "watch", str(cameras), "--status-seconds", "5"],
        env=watch_env(live_server, token, model_root, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "watching 1 camera(s): stage" in result.stderr
    assert "camera stage: ended" in result.stderr
    rows = sightings(conn)
    assert len(rows) >= 5 and all(r[0] == "stage" and r[4] for r in rows)
    named = [r for r in rows if r[1] == "identified"]
    assert {r[2] for r in named} <= {"lin_manuel_miranda", "alex_lacamoire"}
    assert sum(r[2] == "lin_manuel_miranda" for r in named) in (1, 2)
    assert not (tmp_path / "no-database-here").exists()
    # last_seen follows the sightings.
    assert conn.execute(
        "SELECT last_seen IS NOT NULL FROM identities WHERE external_id = 'lin_manuel_miranda'"
    ).fetchone()[0]


def test_sigterm_finishes_the_open_tracks_and_exits_cleanly(
    live_server, conn, enrolled, model_root, tmp_path, mjpeg_camera
):
    _, mjpeg_stream = mjpeg_camera()
    cameras = tmp_path / "cameras.toml"
    # The stream's frames come as fast as they are read: at 25 a second
    # sampled down to 1, Miranda's close-up is reached within seconds.
    cameras.write_text(
        f'[[camera]]\nname = "stage"\nurl = "{mjpeg_stream}"\nfps = 1\n\n'
        '[[camera]]\nname = "gate"\nurl = "rtsp://127.0.0.1:9/none"\n'
    )
    port = free_port()
    token = make_token(conn, ["recognize", "sightings:write"])
    process = subprocess.Popen(
        [STUDIO, "watch", str(cameras), "--health-port", str(port)],
        env=watch_env(live_server, token, model_root, tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    health = json.load(r)
                stage = next(c for c in health["cameras"] if c["name"] == "stage")
                if stage["faces"] >= 3:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert health is not None and stage["faces"] >= 3, health
        gate = next(c for c in health["cameras"] if c["name"] == "gate")
        assert gate["state"] == "retrying" and gate["last_error"]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "camera gate: stopped" in stderr and "camera stage: stopped" in stderr
    # The tracks open at the signal were finished and recorded.
    rows = sightings(conn)
    assert rows and all(r[0] == "stage" for r in rows)


def test_a_token_or_camera_studio_would_refuse_stops_the_service_before_it_starts(
    live_server, conn, tmp_path
):
    """Every sighting would be refused: said at once, exit 2, no model loaded
    (STUDIO_MODEL_ROOT points nowhere)."""
    cameras = tmp_path / "cameras.toml"
    cameras.write_text(f'[[camera]]\nname = "stage"\nurl = "{CLIP}"\n')
    env = watch_env(live_server, make_token(conn, ["recognize"]), tmp_path / "none", tmp_path)
    result = subprocess.run(
        [STUDIO, "watch", str(cameras)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Studio refuses this token's sightings" in result.stderr
    assert "sightings:write" in result.stderr
    cameras.write_text(f'[[camera]]\nname = "/home/me/cam.jpg"\nurl = "{CLIP}"\n')
    token = make_token(conn, ["recognize", "sightings:write"])
    env = watch_env(live_server, token, tmp_path / "none", tmp_path)
    result = subprocess.run(
        [STUDIO, "watch", str(cameras)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "camera '/home/me/cam.jpg': Studio refuses the name" in result.stderr
    assert conn.execute("SELECT count(*) FROM sightings").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("scopes", "model", "said"),
    [
        (["sightings:write"], "buffalo_s", "Studio refuses this token's recognition"),
        (["recognize", "sightings:write"], "mypack", "STUDIO_MODEL=mypack: Studio does not"),
    ],
)
def test_recognition_studio_would_refuse_stops_the_service_before_it_starts(
    live_server, conn, tmp_path, scopes, model, said
):
    cameras = tmp_path / "cameras.toml"
    cameras.write_text(f'[[camera]]\nname = "stage"\nurl = "{CLIP}"\n')
    env = watch_env(live_server, make_token(conn, scopes), tmp_path / "none", tmp_path)
    result = subprocess.run(
        [STUDIO, "watch", str(cameras)],
        env=env | {"STUDIO_MODEL": model},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and result.stderr.count("\n") == 1
