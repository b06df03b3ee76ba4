"""Helpers for the worker tests: a folder catalog served from a thread, fast settings."""

from __future__ import annotations

import shutil
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
