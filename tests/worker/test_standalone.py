"""The worker stands alone: a GPU host needs none of the server's code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVER_MODULES = ("app", "flask", "psycopg", "psycopg_pool", "pgvector", "prometheus_client")


def test_the_worker_entry_point_imports_nothing_of_the_server():
    probe = (
        "import sys, worker.main, worker.face_embed_worker, worker.alfred_side, "
        "worker.studio_client, worker.catalog_client, worker.face_engine; "
        f"print(','.join(m for m in {SERVER_MODULES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "", f"the worker loaded {result.stdout.strip()}"


def test_studio_worker_help_names_its_environment():
    studio_worker = Path(sys.executable).parent / "studio-worker"
    result = subprocess.run(
        [str(studio_worker), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    for variable in ("STUDIO_URL", "STUDIO_TOKEN", "ALFRED_URL", "STUDIO_MODEL_ROOT"):
        assert variable in result.stdout


def test_without_studio_url_the_worker_says_what_to_set():
    studio_worker = Path(sys.executable).parent / "studio-worker"
    result = subprocess.run(
        [str(studio_worker), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: set STUDIO_URL (and STUDIO_TOKEN) to the Studio API"


def test_json_logs_are_one_object_a_line_with_extra_fields():
    import json
    import logging

    from worker.logs import JsonFormatter

    record = logging.makeLogRecord(
        {"name": "face_embed_worker", "levelname": "INFO", "msg": "job %s done", "args": (7,)}
    )
    record.job_id = 7
    entry = json.loads(JsonFormatter().format(record))
    assert entry | {"message": "job 7 done", "job_id": 7, "level": "INFO"} == entry
