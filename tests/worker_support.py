"""Helpers for the worker tests: a folder catalog served from a thread, fast
settings, and a record of every file opened for writing."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from helpers import serve_in_thread

from worker.catalog_client import CatalogClient
from worker.face_embed_worker import WorkerSettings
from worker.folder_catalog import create_catalog_app

FAST = WorkerSettings(poll_seconds=0.1, heartbeat_seconds=0.5, lease_seconds=30)


def catalog_of(root: Path, photos: dict[str, list[Path]]):
    """Serve a catalog of `photos` ({person: [photo files]}) laid out under root."""
    for person, files in photos.items():
        (root / person).mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(files):
            shutil.copyfile(path, root / person / f"{i}{path.suffix}")
    return serve_in_thread(create_catalog_app(root))


def catalog_client(url: str, **kwargs) -> CatalogClient:
    return CatalogClient(url, backoff_seconds=0.05, **kwargs)


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_recording = threading.Event()
_writes: list[str] = []


def _audit(event, args):
    # Process-wide and permanent (audit hooks cannot be removed), so it only
    # records while a test says so.
    if not _recording.is_set() or event != "open":
        return
    path, mode, flags = args
    if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & _WRITE_FLAGS
    ):
        _writes.append(str(path))


sys.addaudithook(_audit)


@contextmanager
def files_opened_for_writing():
    _writes.clear()
    _recording.set()
    try:
        yield _writes
    finally:
        _recording.clear()
