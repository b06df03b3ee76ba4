"""`studio watch`: one long-running service watching several cameras.

Each camera runs in its own thread: frames are sampled, faces detected,
assessed and embedded here, matched by Studio over HTTP (scope `recognize`),
followed as tracks, and each finished track is sent to Studio as a sighting
(scope `sightings:write`). The camera box holds a token, never database
credentials, and no frame leaves it.

A camera that fails (a stream down, Studio away) is retried with growing
pauses and says so in the logs; it never stops the others. Sightings that
could not be sent wait in memory (at most MAX_UNSENT per camera) and go with
the next one. Stopping (SIGTERM) finishes every open track, sends what is
left, and returns. The models are shared: inference on one camera at a time,
which on a CPU is what the cores allow anyway.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import tomllib
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from worker.camera_feed import SourceError, check_source
from worker.camera_recognition import ApiMatcher, recognize_source
from worker.studio_client import StudioClient, StudioError

log = logging.getLogger("camera")

MAX_UNSENT = 1000  # sightings a camera keeps while Studio is away
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0


class CameraConfigError(ValueError):
    """The cameras file is wrong; the message names the camera and the field."""


@dataclass(frozen=True)
class Camera:
    name: str
    url: str
    fps: float = 2.0
    enabled: bool = True


def read_cameras(path: Path) -> list[Camera]:
    """The enabled cameras of a TOML file of [[camera]] tables (name, url, fps,
    enabled). Raises CameraConfigError naming the camera and field."""
    try:
        document = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise CameraConfigError(f"{path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CameraConfigError(f"{path}: not TOML: {exc}") from exc
    tables = document.get("camera")
    if not isinstance(tables, list) or not tables:
        raise CameraConfigError(f"{path}: no [[camera]] table")
    cameras, names = [], set()
    for index, table in enumerate(tables):
        where = f"{path}: camera {index + 1}"
        unknown = sorted(set(table) - {"name", "url", "fps", "enabled"})
        if unknown:
            raise CameraConfigError(f"{where}: unknown field {unknown[0]!r}")
        name, url = table.get("name"), table.get("url")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise CameraConfigError(f"{where}: name must be a text of 1 to 100 characters")
        if name in names:
            raise CameraConfigError(f"{where}: name {name!r} is used twice")
        if not isinstance(url, str) or not url:
            raise CameraConfigError(f"{where} ({name}): url is required")
        fps = table.get("fps", 2.0)
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps <= 30:
            raise CameraConfigError(f"{where} ({name}): fps must be above 0 and at most 30")
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise CameraConfigError(f"{where} ({name}): enabled must be true or false")
        names.add(name)
        if enabled:
            try:  # a file camera's file is there from the start, or never
                check_source(url)
            except SourceError as exc:
                raise CameraConfigError(f"{where} ({name}): {exc}") from exc
            cameras.append(Camera(name, url, float(fps), enabled))
    if not cameras:
        raise CameraConfigError(f"{path}: every camera is disabled")
    return cameras


@dataclass
class CameraStatus:
    """What a camera has done, for the status lines and /healthz."""

    name: str
    state: str = "starting"  # running, retrying, ended, stopped
    frames: int = 0
    faces: int = 0
    tracks: int = 0
    sightings_sent: int = 0
    sightings_waiting: int = 0
    sightings_refused: int = 0
    frames_per_second: float = 0.0
    last_error: str | None = None
    last_frame_at: float | None = None
    _window: deque = field(default_factory=lambda: deque(maxlen=20), repr=False)

    def frame_seen(self, faces: int) -> None:
        now = time.monotonic()
        self.frames += 1
        self.faces += faces
        self.last_frame_at = time.time()
        self._window.append(now)
        if len(self._window) > 1:
            span = self._window[-1] - self._window[0]
            self.frames_per_second = (len(self._window) - 1) / span if span > 0 else 0.0

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")} | {
            "frames_per_second": round(self.frames_per_second, 2)
        }

    def line(self) -> str:
        return (
            f"camera {self.name}: {self.state}, {self.frames_per_second:.1f} frames/s, "
            f"{self.frames} frames, {self.faces} faces, {self.tracks} tracks, "
            f"{self.sightings_sent} sightings sent ({self.sightings_waiting} waiting, "
            f"{self.sightings_refused} refused), "
            f"last error: {self.last_error or '-'}"
        )


class LockedEngine:
    """The face models shared by the cameras, used by one at a time."""

    def __init__(self, engine):
        self.engine = engine
        self.model_name = engine.model_name
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray):
        with self._lock:
            return self.engine.detect(image)

    def embed(self, faces):
        with self._lock:
            return self.engine.embed(faces)


class CameraService:
    def __init__(
        self,
        cameras: list[Camera],
        engine,
        client: StudioClient,
        *,
        status_seconds: float = 60.0,
        stop: threading.Event | None = None,
    ):
        self.cameras = cameras
        self.engine = LockedEngine(engine)
        self.client = client
        self.matcher = ApiMatcher(client, engine.model_name)
        self.status_seconds = status_seconds
        self.stop = stop or threading.Event()
        self.status = {c.name: CameraStatus(c.name) for c in cameras}
        self._unsent: dict[str, deque] = {c.name: deque(maxlen=MAX_UNSENT) for c in cameras}

    def run(self, on_started: Callable[[], None] | None = None) -> int:
        """Watch every camera until each has ended (files) or stop is set; 0."""
        threads = [
            threading.Thread(target=self._watch, args=(c,), name=f"camera-{c.name}", daemon=True)
            for c in self.cameras
        ]
        for thread in threads:
            thread.start()
        if on_started:
            on_started()
        next_status = time.monotonic() + self.status_seconds
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.2)
            if time.monotonic() >= next_status:
                for status in self.status.values():
                    log.info(status.line())
                next_status = time.monotonic() + self.status_seconds
        for status in self.status.values():
            log.info(status.line())
        return 0

    def health(self) -> dict:
        cameras = [s.to_json() for s in self.status.values()]
        working = any(s["state"] in ("starting", "running") for s in cameras)
        return {"status": "ok" if working else "degraded", "cameras": cameras}

    # ------------------------------------------------------------ one camera

    def _watch(self, camera: Camera) -> None:
        status = self.status[camera.name]
        pause = FIRST_RETRY_SECONDS
        while not self.stop.is_set():
            try:
                status.state = "running"
                for track in recognize_source(
                    camera.url,
                    self.engine,
                    self.matcher,
                    fps=camera.fps,
                    max_retries=0,  # reopening is done here, where the status is kept
                    stop=self.stop,
                    on_frame=lambda _frame, lines: status.frame_seen(len(lines)),
                ):
                    pause = FIRST_RETRY_SECONDS
                    status.tracks += 1
                    self._unsent[camera.name].append(self._sighting(camera, track))
                    self._send(camera, status)
                self._send(camera, status)
                if self.stop.is_set():
                    break
                if not _is_stream(camera.url):
                    status.state = "ended"  # a file camera plays once
                    return
            except (SourceError, StudioError, OSError) as exc:
                status.state, status.last_error = "retrying", str(exc)[:300]
                log.warning("camera %s: %s; retrying in %.0f s", camera.name, exc, pause)
                self.stop.wait(pause)
                pause = min(MAX_RETRY_SECONDS, pause * 2)
        self._send(camera, status)
        status.state = "stopped"

    def _sighting(self, camera: Camera, track: dict) -> dict:
        """The sighting of one finished track: keys, name, times and scores only."""
        identity = track.get("identity") or {}
        return {
            # Made once, so that a resend after a timeout is the same sighting.
            "sighting_id": str(uuid.uuid4()),
            "camera": camera.name,
            "model": self.matcher.model,
            "track": track["track"],
            "started_at": track["started_at"],
            "ended_at": track["ended_at"],
            "frames": track["frames"],
            "decision": track["decision"],
            "identity_id": identity.get("identity_id"),
            "best_similarity": track["best_similarity"],
            "mean_similarity": track["mean_similarity"],
        }

    def _send(self, camera: Camera, status: CameraStatus) -> None:
        """Send the camera's waiting sightings, oldest first; keep them if Studio is away."""
        unsent = self._unsent[camera.name]
        while unsent:
            try:
                self.client.record_sighting(unsent[0])
            except StudioError as exc:
                if exc.status in (0, 429) or exc.status >= 500:
                    status.last_error = f"sighting not sent yet: {exc}"[:300]
                    break
                # Refused for good (a person deleted meanwhile, a bad field):
                # resending cannot help.
                log.warning("camera %s: sighting refused: %s", camera.name, exc)
                status.sightings_refused += 1
                status.last_error = f"sighting refused: {exc}"[:300]
            else:
                status.sightings_sent += 1
            unsent.popleft()
        status.sightings_waiting = len(unsent)


def check_recognition(client: StudioClient, model: str) -> None:
    """Before any model loads, whether Studio would match this box's faces: a
    token without the recognize scope, or a model Studio has no thresholds
    for. A call without probes asks it: Studio checks the model first, then
    refuses the empty list. Raises CameraConfigError; returns when Studio is
    away (the box starts, and asks again)."""
    try:
        client.recognize([], model=model, k=1)
    except StudioError as exc:
        if exc.status in (401, 403):
            raise CameraConfigError(f"Studio refuses this token's recognition: {exc}") from exc
        for error in exc.errors if exc.status == 400 else []:
            if error.get("field") == "model":
                raise CameraConfigError(
                    f"STUDIO_MODEL={model}: Studio does not recognise with it: "
                    f"{error.get('message')}"
                ) from exc


def check_with_studio(client: StudioClient, cameras: list[Camera], model: str) -> None:
    """Before any model loads, what Studio would refuse: recognition with this
    token and model (check_recognition()), and every camera's sightings: a
    token that may not record them, a camera name it does not take. An empty
    sighting of each camera asks it: 403 says the scope is missing, and a 400
    names the camera field when the name is refused. Nothing is stored either
    way. Raises CameraConfigError."""
    check_recognition(client, model)
    for camera in cameras:
        try:
            client.record_sighting({"camera": camera.name})
        except StudioError as exc:
            if exc.status in (401, 403):
                raise CameraConfigError(f"Studio refuses this token's sightings: {exc}") from exc
            if exc.status == 0 or exc.status >= 500:
                return  # Studio is away: the cameras start, and their sightings wait
            if exc.status != 400:
                raise
            for error in exc.errors:
                if error.get("field") == "camera":
                    raise CameraConfigError(
                        f"camera {camera.name!r}: Studio refuses the name: {error.get('message')}"
                    ) from exc


def _is_stream(url: str) -> bool:
    return "://" in url


def serve_health(service: CameraService, port: int) -> ThreadingHTTPServer:
    """GET /healthz on `port` (127.0.0.1 and every interface): the service's
    status and each camera's, for a supervisor; in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/healthz":
                self.send_error(404)
                return
            body = json.dumps(service.health()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # quiet: the status lines say enough
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="health").start()
    return server
