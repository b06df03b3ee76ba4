"""Helpers for the worker tests: a folder catalog served from a thread, fast settings."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

from worker.catalog_client import CatalogClient
from worker.face_embed_worker import WorkerSettings
from worker.folder_catalog import create_catalog_app

FAST = WorkerSettings(poll_seconds=0.1, heartbeat_seconds=0.5, lease_seconds=30)


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join()


def catalog_of(root: Path, photos: dict[str, list[Path]]):
    """Serve a catalog of `photos` ({person: [photo files]}) laid out under root."""
    for person, files in photos.items():
        (root / person).mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(files):
            shutil.copyfile(path, root / person / f"{i}{path.suffix}")
    return serve_in_thread(create_catalog_app(root))


def catalog_client(url: str, **kwargs) -> CatalogClient:
    return CatalogClient(url, backoff_seconds=0.05, **kwargs)
