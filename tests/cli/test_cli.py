"""The `studio` command, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import make_token, vector

from app.processes import free_port

STUDIO = str(Path(sys.executable).parent / "studio")


def studio(*args, db_url=None, extra_env=None, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env |= {"STUDIO_DATABASE_URL": db_url} if db_url else {}
    env |= extra_env or {}
    result = subprocess.run(
        [STUDIO, *map(str, args)], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_token_create_list_revoke(db_url):
    created = studio(
        "token",
        "create",
        "--name",
        "alfred",
        "--scope",
        "identities:write",
        "--scope",
        "identities:read",
        "--source",
        "alfred_catalog",
        db_url=db_url,
    )
    token = created.stdout.strip()
    assert token.startswith("gts_") and "shown only this once" in created.stderr
    listing = studio("token", "list", db_url=db_url).stdout
    assert "alfred" in listing and "identities:read,identities:write" in listing
    assert "alfred_catalog" in listing and token not in listing
    assert "revoked 1" in studio("token", "revoke", "alfred", db_url=db_url).stdout
    assert "revoked" in studio("token", "list", db_url=db_url).stdout


def test_token_create_rejects_unknown_scope(db_url):
    result = studio(
        "token", "create", "--name", "x", "--scope", "everything", db_url=db_url, check=False
    )
    assert result.returncode == 1
    assert 'unknown scope "everything"' in result.stderr


def test_sync_csv_then_json_then_identities_table(db_url, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("external_id,name\n15,Ada Lovelace\n16,Grace Hopper\n")
    result = json.loads(
        studio("sync", csv_file, "--source-system", "alfred_catalog", db_url=db_url).stdout
    )
    assert result["created"] == 2

    json_file = tmp_path / "sync.json"
    json_file.write_text(
        json.dumps(
            {
                "source_system": "alfred_catalog",
                "identities": [{"external_id": "15", "name": "Ada King"}],
            }
        )
    )
    dry = json.loads(
        studio(
            "sync", json_file, "--full", "--dry-run", "--allow-mass-delete", db_url=db_url
        ).stdout
    )
    assert (dry["updated"], dry["deleted"], dry["dry_run"]) == (1, 1, True)

    table = studio("identities", db_url=db_url).stdout
    assert "Ada Lovelace" in table and "Grace Hopper" in table and "2 identities" in table


def test_sync_reports_every_error_with_its_item(db_url, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"source_system": "s", "identities": [{"external_id": "1"}, {"name": "x"}]})
    )
    result = studio("sync", bad, db_url=db_url, check=False)
    assert result.returncode == 1
    assert "[item 0, external_id 1, name] required" in result.stderr
    assert "[item 1, external_id] required" in result.stderr


def test_ingest_in_chunks_with_totals(db_url, tmp_path):
    payload = {
        "source_system": "alfred_catalog",
        "model": "buffalo_s",
        "results": [
            {
                "external_id": str(p),
                "name": f"P{p}",
                "faces": [{"embedding": vector(p * 100 + f)} for f in range(7)],
            }
            for p in range(5)
        ],
    }
    payload["results"][0]["faces"].append(payload["results"][0]["faces"][0])  # one duplicate
    path = tmp_path / "faces.json"
    path.write_text(json.dumps(payload))
    result = json.loads(studio("ingest", path, "--faces-per-call", "4", db_url=db_url).stdout)
    assert (result["embeddings_stored"], result["duplicates_skipped"]) == (35, 1)
    table = studio("identities", "--source-system", "alfred_catalog", db_url=db_url).stdout
    assert "P0" in table and " 7 " in table


def test_client_commands_use_the_api_when_studio_url_is_set(live_server, conn, tmp_path):
    token = make_token(conn, ["identities:write", "identities:read"], ["alfred_catalog"])
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("15,Ada\n")
    env = {"STUDIO_URL": live_server, "STUDIO_TOKEN": token}
    studio("sync", csv_file, "--source-system", "alfred_catalog", extra_env=env)
    denied = studio("sync", csv_file, "--source-system", "other_system", extra_env=env, check=False)
    assert denied.returncode == 1 and "may not touch" in denied.stderr
    journal = conn.execute("SELECT caller FROM audit_journal").fetchall()
    assert journal == [(conn.execute("SELECT 'token:' || name FROM api_tokens").fetchone()[0],)]


def test_db_url_and_migrate(db_url):
    assert studio("db-url", db_url=db_url).stdout.strip() == db_url
    assert "up to date" in studio("migrate", db_url=db_url).stdout


def test_serve_on_the_embedded_database_from_nothing(tmp_path):
    """What `make run` does on a fresh machine, then what a DBA does with `make psql`."""
    import time

    import requests

    port = free_port()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env |= {"STUDIO_DATA_DIR": str(data_dir), "STUDIO_PORT": str(port)}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([STUDIO, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while "Listening at" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        banner = log.read_text()
        assert f"listening on {base}" in banner
        token = next(
            line.strip() for line in banner.splitlines() if line.strip().startswith("gts_")
        )
        response = requests.post(
            f"{base}/api/identities/sync",
            json={
                "source_system": "alfred_catalog",
                "identities": [{"external_id": "1", "name": "Ada"}],
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.json()["created"] == 1

        # psql on the same database: the same function, the same validation.
        psql = subprocess.run(
            [
                STUDIO,
                "psql",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                """SELECT sync_identities('{"source_system": "alfred_catalog", "identities": [{"external_id": "2"}]}')""",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert psql.returncode != 0
        assert "payload rejected" in psql.stderr and '"code": "required"' in psql.stderr
        listing = subprocess.run(
            [STUDIO, "psql", "-At", "-c", "SELECT name FROM identities"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listing.stdout.split() == ["Ada"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not (data_dir / "postmaster.pid").exists(), "the embedded server must stop with Studio"


def test_serve_refuses_a_read_database_it_cannot_use_in_one_line(db_url, empty_db_url, tmp_path):
    """Unreachable, not a URL, or without the schema (not a standby of the
    primary): refused before serving, so no server comes up ready while every
    recognition would fail."""
    port = str(free_port())
    for read_url, said in [
        (f"host={tmp_path} port=1 dbname=x user=nobody", "STUDIO_DATABASE_READ_URL: "),
        ("not a url at all", "STUDIO_DATABASE_READ_URL: not a PostgreSQL URL"),
        (empty_db_url, "the read database is at schema version 0"),
    ]:
        result = studio(
            "serve",
            db_url=db_url,
            extra_env={"STUDIO_DATABASE_READ_URL": read_url, "STUDIO_PORT": port},
            check=False,
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and said in lines[0] and "Traceback" not in result.stderr


def test_a_malformed_database_url_is_one_line_that_hides_the_value(tmp_path):
    result = studio(
        "identities",
        extra_env={"STUDIO_DATABASE_URL": "host=db password=s3cret sslmode"},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: STUDIO_DATABASE_URL: not a PostgreSQL URL")
    assert "s3cret" not in result.stderr and result.stderr.count("\n") == 1
