"""Concurrent callers on separate connections: no duplicate identity or embedding, no error."""

from __future__ import annotations

import json
import threading

import psycopg
from helpers import vector

SOURCE = "alfred_catalog"
INGEST = "SELECT ingest_embeddings(%s::jsonb)"
SYNC = "SELECT sync_identities(%s::jsonb)"


def _ingest_payload(people, seeds_per_person):
    return json.dumps(
        {
            "source_system": SOURCE,
            "results": [
                {
                    "external_id": str(p),
                    "name": f"P{p}",
                    "faces": [{"embedding": vector(p * 100 + s)} for s in range(seeds_per_person)],
                }
                for p in people
            ],
        }
    )


def _run_together(db_url, calls):
    """Run (query, body) pairs at once, one connection and thread each."""
    errors, results = [], []
    barrier = threading.Barrier(len(calls))

    def worker(query, body):
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                barrier.wait()
                results.append(conn.execute(query, (body,)).fetchone()[0])
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, results


def test_overlapping_ingests_store_each_vector_once(db_url, conn):
    # Four callers, each with an overlapping window of people, in different orders.
    bodies = [
        _ingest_payload(list(range(start, start + 20))[::direction], 3)
        for start, direction in [(0, 1), (5, -1), (10, 1), (0, -1)]
    ]
    errors, results = _run_together(db_url, [(INGEST, b) for b in bodies])
    assert errors == []
    identities = conn.execute(
        "SELECT count(*), count(DISTINCT external_id) FROM identities"
    ).fetchone()
    assert identities == (30, 30)
    embeddings = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    assert embeddings == 30 * 3
    assert sum(r["embeddings_stored"] for r in results) == 90
    assert sum(r["identities_created"] for r in results) == 30


def test_sync_and_ingest_of_one_source_serialise(db_url, conn):
    sync = json.dumps(
        {
            "source_system": SOURCE,
            "identities": [{"external_id": str(p), "action": "delete"} for p in range(10)],
        }
    )
    ingest = _ingest_payload(range(10), 2)
    errors, _ = _run_together(db_url, [(SYNC, sync), (INGEST, ingest)])
    assert errors == []
    # Whichever ran first, the end state is consistent: either the people were
    # deleted after their faces arrived (nothing left) or the delete came
    # first and the ingest was skipped (nothing stored).
    assert conn.execute("SELECT count(*) FROM identities").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM identity_tombstones").fetchone()[0] == 10
