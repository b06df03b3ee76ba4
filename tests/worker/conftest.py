"""Fixtures for the worker: the real offline models, a folder catalog, a Studio."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DATA_FACES, make_token
from worker_support import serve_in_thread

from worker.folder_catalog import create_catalog_app
from worker.studio_client import StudioClient


@pytest.fixture(scope="session")
def people_dir(tmp_path_factory) -> Path:
    """The shared labelled photos, copied: one folder per person."""
    target = tmp_path_factory.mktemp("catalog") / "people"
    shutil.copytree(DATA_FACES / "people", target)
    return target


@pytest.fixture
def catalog_url(people_dir) -> Iterator[str]:
    with serve_in_thread(create_catalog_app(people_dir)) as url:
        yield url


@pytest.fixture
def studio(live_server, conn) -> StudioClient:
    """A client with every scope the catalog side and the worker need."""
    token = make_token(
        conn,
        ["identities:write", "identities:read", "embeddings:write", "jobs:submit", "jobs:work"],
        ["alfred_catalog"],
    )
    return StudioClient(live_server, token)
