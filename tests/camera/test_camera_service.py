"""The camera service: its cameras file, cameras that fail without stopping the
others, sightings kept while Studio is away, a clean stop."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import DATA_FACES
from hypothesis import given, settings
from hypothesis import strategies as st

from app.camera_matcher import DatabaseMatcher
from app.db import Database
from app.person_recognizer import PersonRecognizer
from worker.camera_service import CameraConfigError, CameraService, read_cameras
from worker.studio_client import StudioError

CLIP = DATA_FACES / "probes" / "short_hamilton_clip.mp4"


def test_a_cameras_file_is_read_and_disabled_cameras_left_out(tmp_path):
    path = tmp_path / "cameras.toml"
    path.write_text(
        '[[camera]]\nname = "door"\nurl = "rtsp://cam/1"\nfps = 4\n\n'
        '[[camera]]\nname = "yard"\nurl = "yard.mp4"\nenabled = false\n'
    )
    [door] = read_cameras(path)
    assert (door.name, door.url, door.fps) == ("door", "rtsp://cam/1", 4.0)


def test_a_file_camera_without_its_file_is_refused_at_start(tmp_path):
    path = tmp_path / "cameras.toml"
    path.write_text(
        f'[[camera]]\nname = "clip"\nurl = "{CLIP}"\n\n'
        f'[[camera]]\nname = "gone"\nurl = "{tmp_path / "gone.mp4"}"\n'
    )
    with pytest.raises(CameraConfigError, match=r"camera 2 \(gone\): .*gone.mp4: no such file"):
        read_cameras(path)


@settings(max_examples=60, deadline=None)
@given(
    field=st.sampled_from(["name", "url", "fps", "enabled", "colour"]),
    value=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 100),
        st.floats(-1, 50),
        st.text(st.characters(exclude_categories=("Cs",)), max_size=5),
    ),
)
def test_a_wrong_camera_field_is_named(tmp_path_factory, field, value):
    camera = {"name": "door", "url": "rtsp://cam/1", "fps": 2, "enabled": True}
    if value is None:
        camera.pop(field, None)
    else:
        camera[field] = value
    toml = "[[camera]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in camera.items())
    path = tmp_path_factory.mktemp("c") / "cameras.toml"
    path.write_text(toml)
    try:
        cameras = read_cameras(path)
    except CameraConfigError as exc:
        assert "camera 1" in str(exc) or "disabled" in str(exc)
        return
    [only] = cameras
    assert only.name.strip() and only.url and 0 < only.fps <= 30 and only.enabled
    assert field != "colour" or value is None


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # A TOML basic string: anything but plain printable ASCII escaped.
        return (
            '"'
            + "".join(
                c if " " <= c <= "~" and c not in '"\\' else f"\\U{ord(c):08X}" for c in value
            )
            + '"'
        )
    return repr(value)


class Studio:
    """Studio as the camera sees it over HTTP: recognize through the real
    recognizer; sightings recorded here, refused while `away` says so."""

    def __init__(self, matcher: DatabaseMatcher, away: int = 0):
        self.matcher = matcher
        self.away = away
        self.sightings: list[dict] = []
        self.attempts = 0

    def recognize(self, probes, *, model, k, record_sighting=False):
        import numpy as np

        return {"results": self.matcher.match(np.asarray(probes), k, record_sighting)}

    def gallery(self):
        return {"models": self.matcher.gallery()}

    def record_sighting(self, sighting):
        self.attempts += 1
        if self.away > 0:
            self.away -= 1
            raise StudioError(0, {"error": "unreachable", "message": "Studio is away"})
        self.sightings.append(sighting)
        return {"success": True}


@pytest.fixture
def matcher(db_url, enrolled):
    with Database(db_url) as database:
        yield DatabaseMatcher(PersonRecognizer(database, "buffalo_s", listen=False))


def test_a_broken_camera_never_stops_the_others_and_sightings_wait_for_studio(
    engine, matcher, tmp_path
):
    from worker.camera_service import Camera

    studio = Studio(matcher, away=3)
    cameras = [Camera("stage", str(CLIP), 2.0), Camera("gate", "rtsp://127.0.0.1:9/none", 2.0)]
    service = CameraService(cameras, engine, studio, status_seconds=0.5)
    done = threading.Event()
    runner = threading.Thread(target=lambda: (service.run(), done.set()), daemon=True)
    runner.start()
    deadline = time.monotonic() + 120
    while service.status["stage"].state != "ended" and time.monotonic() < deadline:
        time.sleep(0.2)
    stage, gate = service.status["stage"], service.status["gate"]
    assert stage.state == "ended" and stage.frames >= 15 and stage.tracks >= 3
    assert gate.state == "retrying" and "stream unavailable" in (gate.last_error or "")
    # Studio refused the first three tries: nothing was lost, the order kept.
    assert len(studio.sightings) == stage.tracks == stage.sightings_sent
    assert stage.sightings_waiting == 0
    named = {s["identity_id"] for s in studio.sightings if s["decision"] == "identified"}
    assert len(named) >= 1
    for sighting in studio.sightings:
        assert set(sighting) == {
            "sighting_id",
            "camera",
            "model",
            "track",
            "started_at",
            "ended_at",
            "frames",
            "decision",
            "identity_id",
            "best_similarity",
            "mean_similarity",
        }
        assert sighting["started_at"] <= sighting["ended_at"]
    service.stop.set()  # the stream camera is still retrying: stop ends it
    assert done.wait(10)
    assert gate.state == "stopped"
    assert service.health()["status"] == "degraded"


def test_stop_finishes_the_open_tracks(engine, matcher):
    from worker.camera_service import Camera

    studio = Studio(matcher)
    service = CameraService([Camera("stage", str(CLIP), 2.0)], engine, studio)
    original = studio.recognize
    calls = 0

    def recognize(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 12:  # mid-clip, while Lin-Manuel Miranda's track is open
            service.stop.set()
        return original(*args, **kwargs)

    studio.recognize = recognize
    assert service.run() == 0
    status = service.status["stage"]
    assert status.state == "stopped" and status.frames < 18
    assert status.tracks == len(studio.sightings) >= 1
