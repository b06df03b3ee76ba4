"""The integration guide's examples, run as written against `studio serve`.

Option A: sync all identities, handle a rename, handle a delete.
Option C: push embeddings computed elsewhere straight to Studio.
Only the Authorization header is added.
"""

from __future__ import annotations

import requests
from helpers import make_token, vector


def test_option_a_sync_all_rename_delete(live_server, conn):
    STUDIO_URL = live_server
    HEADERS = {
        "Authorization": f"Bearer {make_token(conn, ['identities:write', 'identities:read'])}"
    }

    # Sync all identities from the catalog.
    people = [{"id": 15, "name": "Ada Lovelace"}, {"id": 16, "name": "Grace Hopper"}]
    response = requests.post(
        f"{STUDIO_URL}/api/identities/sync",
        json={
            "source_system": "alfred_catalog",
            "identities": [
                {"external_id": str(p["id"]), "name": p["name"], "action": "upsert"} for p in people
            ],
        },
        headers=HEADERS,
    )
    result = response.json()
    assert response.status_code == 200
    assert result == result | {
        "success": True,
        "created": 2,
        "updated": 0,
        "deleted": 0,
        "errors": [],
    }

    # A person renamed in the catalog.
    response = requests.post(
        f"{STUDIO_URL}/api/identities/sync",
        json={
            "source_system": "alfred_catalog",
            "identities": [{"external_id": "15", "name": "Ada King", "action": "upsert"}],
        },
        headers=HEADERS,
    )
    assert response.json()["updated"] == 1

    # A person deleted in the catalog.
    response = requests.post(
        f"{STUDIO_URL}/api/identities/sync",
        json={
            "source_system": "alfred_catalog",
            "identities": [{"external_id": "16", "action": "delete"}],
        },
        headers=HEADERS,
    )
    assert response.json()["deleted"] == 1

    listing = requests.get(f"{STUDIO_URL}/api/identities/external", headers=HEADERS).json()
    assert listing["success"] is True
    assert [(i["external_id"], i["name"]) for i in listing["identities"]] == [("15", "Ada King")]


def test_option_c_direct_push(live_server, conn):
    STUDIO_URL = live_server
    HEADERS = {"Authorization": f"Bearer {make_token(conn, ['embeddings:write'])}"}
    embeddings_by_person = {
        "15": ("Ada Lovelace", [vector(1), vector(2)]),
        "16": ("Grace Hopper", [vector(3)]),
    }

    response = requests.post(
        f"{STUDIO_URL}/api/identities/ingest-embeddings",
        json={
            "source_system": "alfred_catalog",
            "results": [
                {
                    "external_id": person_id,
                    "name": name,
                    "faces": [{"embedding": e, "confidence": 0.99} for e in embeddings],
                }
                for person_id, (name, embeddings) in embeddings_by_person.items()
            ],
        },
        headers=HEADERS,
    )
    result = response.json()
    assert response.status_code == 200
    assert result == result | {"success": True, "identities_resolved": 2, "embeddings_stored": 3}


def test_served_by_gunicorn(live_server):
    assert requests.get(f"{live_server}/healthz").headers["Server"].startswith("gunicorn")
