"""An HTTP camera for the camera tests: the demo clip's frames as an MJPEG
stream, served the way many IP cameras serve theirs."""

from __future__ import annotations

import functools
import http.server
import threading

import cv2
import pytest
from helpers import DATA_FACES

CLIP = DATA_FACES / "probes" / "short_hamilton_clip.mp4"


@pytest.fixture
def mjpeg_camera(tmp_path):
    """start(frames=None) -> (server, url): the clip's first `frames` frames
    (all of them by default) as one MJPEG stream; each GET plays it once."""
    servers = []

    def start(frames: int | None = None):
        capture = cv2.VideoCapture(str(CLIP))
        data = b""
        while frames is None or frames > 0:
            ok, frame = capture.read()
            if not ok:
                break
            data += cv2.imencode(".jpg", frame)[1].tobytes()
            frames = None if frames is None else frames - 1
        capture.release()
        (tmp_path / "camera.mjpeg").write_bytes(data)
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
        handler.log_message = lambda *a: None  # type: ignore[method-assign]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.handle_error = lambda *a: None  # a reader hanging up mid-frame is normal
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}/camera.mjpeg"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
