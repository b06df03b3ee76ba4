"""Several processes syncing, ingesting and deleting overlapping people through the API at once."""

from __future__ import annotations

import json
import multiprocessing

import pytest
import requests
from helpers import make_token, vector

SOURCE = "alfred_catalog"


def _client_process(args) -> list[int]:
    """One client: syncs and ingests people start..start+30, twice; returns any 5xx seen."""
    base, token, start = args
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    statuses = []
    people = list(range(start, start + 30))
    for _ in range(2):
        sync = {
            "source_system": SOURCE,
            "identities": [{"external_id": str(p), "name": f"P{p}"} for p in people],
        }
        statuses.append(
            requests.post(
                f"{base}/api/identities/sync", data=json.dumps(sync), headers=headers, timeout=60
            ).status_code
        )
        ingest = {
            "source_system": SOURCE,
            "results": [
                {
                    "external_id": str(p),
                    "name": f"P{p}",
                    "faces": [{"embedding": vector(p * 10 + f)} for f in range(3)],
                }
                for p in people
            ],
        }
        statuses.append(
            requests.post(
                f"{base}/api/identities/ingest-embeddings",
                data=json.dumps(ingest),
                headers=headers,
                timeout=60,
            ).status_code
        )
    return statuses


def _delete_process(args) -> list[int]:
    base, token, ids = args
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = {
        "source_system": SOURCE,
        "identities": [{"external_id": str(p), "action": "delete"} for p in ids],
    }
    return [
        requests.post(
            f"{base}/api/identities/sync", data=json.dumps(body), headers=headers, timeout=60
        ).status_code
    ]


@pytest.mark.slow
def test_overlapping_processes_leave_one_identity_and_each_vector_once(live_server, conn):
    token = make_token(conn, ["identities:write", "embeddings:write"])
    jobs = [(live_server, token, start) for start in (0, 10, 20, 0, 15)]
    with multiprocessing.get_context("spawn").Pool(5) as pool:
        statuses = [s for result in pool.map(_client_process, jobs) for s in result]
    assert set(statuses) == {200}, statuses
    assert conn.execute(
        "SELECT count(*), count(DISTINCT external_id) FROM identities"
    ).fetchone() == (50, 50)
    assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 50 * 3
    assert (
        conn.execute(
            "SELECT count(*) FROM (SELECT identity_id, vector_hash FROM embeddings GROUP BY 1, 2 HAVING count(*) > 1) d"
        ).fetchone()[0]
        == 0
    )


@pytest.mark.slow
def test_delete_racing_ingest_ends_deleted_without_orphans(live_server, conn):
    token = make_token(conn, ["identities:write", "embeddings:write"])
    ids = list(range(0, 30))
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        ingests = pool.map_async(_client_process, [(live_server, token, 0)])
        deletes = pool.map_async(_delete_process, [(live_server, token, ids)] * 2)
        statuses = [s for r in ingests.get(120) + deletes.get(120) for s in r]
    assert set(statuses) == {200}, statuses
    # Whatever the interleaving, a delete leaves no embedding without its identity.
    orphans = conn.execute(
        "SELECT count(*) FROM embeddings e LEFT JOIN identities i USING (identity_id) WHERE i.identity_id IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    # The last word: delete everyone once more after the dust settles; nothing of them remains.
    _delete_process((live_server, token, ids))
    assert conn.execute("SELECT count(*) FROM identities").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0
