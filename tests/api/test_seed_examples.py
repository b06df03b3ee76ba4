"""SEED.md's integration guide, run as written against `studio serve`.

Each block below is the seed's snippet with only two changes: the URL points
at the test's server and `headers=HEADERS` carries a token. Option B's worker
side runs against a catalog written from the seed in
`tests/worker/test_seed_catalog.py`.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import requests
from helpers import make_token, vector

Person = namedtuple("Person", "id name")


def get_all_labeled_people():  # stands in for Alfred's database query
    return [Person(42, "John Smith"), Person(87, "Jane Doe"), Person(15, "Ada Lovelace")]


def test_option_a_sync_all_rename_delete(live_server, conn, capsys):
    STUDIO_URL = live_server
    HEADERS = {
        "Authorization": f"Bearer {make_token(conn, ['identities:write', 'identities:read'])}"
    }

    # --- Example: sync all labeled identities
    # Fetch all labeled people from Alfred's database
    people = get_all_labeled_people()  # your Alfred DB query

    payload = {
        "source_system": "alfred_catalog",
        "identities": [
            {"external_id": str(p.id), "name": p.name, "action": "upsert"} for p in people
        ],
    }

    resp = requests.post(
        f"{STUDIO_URL}/api/identities/sync", json=payload, timeout=30, headers=HEADERS
    )
    print(resp.json())
    # {"success": true, "created": 12, "updated": 3, "deleted": 0}
    assert resp.json() == resp.json() | {
        "success": True,
        "created": 3,
        "updated": 0,
        "deleted": 0,
        "errors": [],
    }
    assert "'success': True" in capsys.readouterr().out

    # --- Example: handle a rename
    # When someone renames a person in Alfred's UI:
    payload = {
        "source_system": "alfred_catalog",
        "identities": [{"external_id": "42", "name": "Jonathan Smith", "action": "upsert"}],
    }
    resp = requests.post(f"{STUDIO_URL}/api/identities/sync", json=payload, headers=HEADERS)
    assert resp.json()["updated"] == 1

    # --- Example: handle a deletion
    # When someone deletes a person from Alfred:
    payload = {
        "source_system": "alfred_catalog",
        "identities": [{"external_id": "42", "action": "delete"}],
    }
    resp = requests.post(f"{STUDIO_URL}/api/identities/sync", json=payload, headers=HEADERS)
    assert resp.json()["deleted"] == 1

    # --- GET /api/identities/external, with the seed's fields
    listing = requests.get(f"{STUDIO_URL}/api/identities/external", headers=HEADERS).json()
    assert listing["success"] is True
    assert sorted((i["external_id"], i["name"]) for i in listing["identities"]) == [
        ("15", "Ada Lovelace"),
        ("87", "Jane Doe"),
    ]
    seed_fields = {
        "identity_id",
        "external_id",
        "source_system",
        "name",
        "embedding_count",
        "first_seen",
        "last_seen",
    }
    assert all(seed_fields <= set(i) for i in listing["identities"])


def test_option_b_submit_a_job(live_server, conn):
    STUDIO_URL = live_server
    HEADERS = {"Authorization": f"Bearer {make_token(conn, ['jobs:submit'])}"}

    for config in (
        {"source_system": "alfred_catalog", "photo_ids": ["photo_001", "photo_002"]},
        {"source_system": "alfred_catalog", "batch_id": "batch_2026_02_25"},
    ):
        payload = {"job_type": "face_detect_embed", "config": config}
        resp = requests.post(f"{STUDIO_URL}/api/training/submit", json=payload, headers=HEADERS)
        assert resp.status_code == 202, resp.text
        assert resp.json()["state"] == "queued" and resp.json()["config"] == config


def test_option_c_direct_push(live_server, conn):
    STUDIO_URL = live_server
    HEADERS = {"Authorization": f"Bearer {make_token(conn, ['embeddings:write'])}"}
    embedding_vector = np.array(vector(1), dtype=np.float32)

    # Alfred already extracted embeddings from its photos
    payload = {
        "source_system": "alfred_catalog",
        "results": [
            {
                "external_id": "42",
                "name": "John Smith",
                "faces": [
                    {"embedding": embedding_vector.tolist(), "confidence": 0.98},
                ],
            }
        ],
    }
    resp = requests.post(
        f"{STUDIO_URL}/api/identities/ingest-embeddings", json=payload, headers=HEADERS
    )
    assert resp.status_code == 200
    assert resp.json() == resp.json() | {
        "success": True,
        "identities_resolved": 1,
        "embeddings_stored": 1,
    }


def test_served_by_gunicorn(live_server):
    assert requests.get(f"{live_server}/healthz").headers["Server"].startswith("gunicorn")
