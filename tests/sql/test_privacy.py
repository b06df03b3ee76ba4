"""Privacy by construction: image data, URLs, paths and photo fields never get in.

Each row is one payload fragment. Refused rows must be rejected by both
sync_identities and ingest_embeddings with a privacy error code; passing rows
must be accepted by both.
"""

from __future__ import annotations

import base64

import pytest
from helpers import call, rejected, table_digest, vector

PRIVACY_CODES = {"forbidden_field", "forbidden_value"}
PNG_BASE64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(64))).decode()
JPEG_BASE64 = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(range(64))).decode()
BLOB_BASE64 = base64.b64encode(bytes(range(256)) * 2).decode()

# (where, key, value): where is "item" (the identity/result object), "name"
# (the name's value) or "external_id" (the key's value).
REFUSED = [
    ("item", "photo_url", "x"),
    ("item", "imagePath", "x"),
    ("item", "ThumbnailBytes", "x"),
    ("item", "file", "x"),
    ("item", "PHOTO", "x"),
    ("item", "image", "x"),
    ("item", "images", ["x"]),
    ("item", "photos", []),
    ("item", "thumbnail", None),
    ("item", "url", "x"),
    ("item", "avatarURL", "x"),
    ("item", "filename", "a"),
    ("item", "file_path", "a"),
    ("item", "photo-id", 3),
    ("item", "imageData", "x"),
    ("item", "meta", {"nested": {"photoUrl": "x"}}),
    ("item", "meta", [{"thumbnail_b64": "x"}]),
    ("item", "note", "https://alfred:8082/api/photos/7/file"),
    ("name", None, "http://example.com/a"),
    ("name", None, "HTTPS://EXAMPLE.COM"),
    ("name", None, "s3://bucket/people/ada.jpg"),
    ("name", None, "ftp://host/x"),
    ("name", None, "data:image/png;base64,iVBORw0KGgo="),
    ("name", None, "file:///etc/passwd"),
    ("name", None, "/home/alfred/photos/ada.jpg"),
    ("name", None, "~/Pictures/ada.png"),
    ("name", None, "../photos/ada"),
    ("name", None, "C:\\Users\\ada\\Pictures\\me.jpg"),
    ("name", None, "D:/photos/me"),
    ("name", None, "\\\\fileserver\\share\\ada.jpg"),
    ("name", None, "ada.JPEG"),
    ("name", None, "portrait.heic"),
    ("name", None, PNG_BASE64),
    ("name", None, JPEG_BASE64),
    ("name", None, "R0lGODlhAQABAIAAAP"),
    ("external_id", None, "/photos/15"),
    ("external_id", None, "http://alfred/people/15"),
    ("external_id", None, BLOB_BASE64[:130]),
    ("item", "face", {"crop": BLOB_BASE64}),
]

PASSING = [
    ("item", None, None),
    ("name", None, "Ada Lovelace"),
    ("name", None, "José Ñúñez-O'Brien"),
    ("name", None, "李小龍"),
    ("name", None, "محمد عبد الله"),
    ("name", None, "Re:Zero fan"),
    ("name", None, "AC/DC tribute"),
    ("name", None, "Dr. Who 🎸"),
    ("name", None, "Ada (profile)"),
    ("name", None, "photographer Jane"),
    ("external_id", None, "person-15"),
    ("external_id", None, "a1b2c3d4e5f60718293a4b5c6d7e8f90" * 4),
    ("external_id", None, "urn:uuid:2c4a"),
]


def _sync_payload(where, key, value):
    item = {"external_id": "15", "name": "Ada", "action": "upsert"}
    return {"source_system": "alfred_catalog", "identities": [_apply(item, where, key, value)]}


def _ingest_payload(where, key, value):
    item = {"external_id": "15", "name": "Ada", "faces": [{"embedding": vector(1)}]}
    return {"source_system": "alfred_catalog", "results": [_apply(item, where, key, value)]}


def _apply(item, where, key, value):
    if where == "item" and key is not None:
        item[key] = value
    elif where in ("name", "external_id"):
        item[where] = value
    return item


def test_the_table_is_big_enough():
    assert len(REFUSED) + len(PASSING) >= 30
    assert len(REFUSED) >= 30


@pytest.mark.parametrize("build", [_sync_payload, _ingest_payload], ids=["sync", "ingest"])
@pytest.mark.parametrize(("where", "key", "value"), REFUSED)
def test_refused(conn, build, where, key, value):
    function = "sync_identities" if build is _sync_payload else "ingest_embeddings"
    before = table_digest(conn)
    errors = rejected(conn, function, build(where, key, value))
    assert PRIVACY_CODES & {e["code"] for e in errors}, errors
    assert all(e["index"] == 0 for e in errors)
    assert table_digest(conn) == before


@pytest.mark.parametrize("build", [_sync_payload, _ingest_payload], ids=["sync", "ingest"])
@pytest.mark.parametrize(("where", "key", "value"), PASSING)
def test_passing(conn, build, where, key, value):
    function = "sync_identities" if build is _sync_payload else "ingest_embeddings"
    result = call(conn, function, build(where, key, value))
    assert result["success"] is True


def test_privacy_error_names_the_field_path(conn):
    errors = rejected(
        conn, "sync_identities", _sync_payload("item", "meta", {"a": [{"photoUrl": 1}]})
    )
    assert "meta.a[0].photoUrl" in {e["field"] for e in errors}


def test_top_level_photo_field_is_refused(conn):
    errors = rejected(
        conn,
        "ingest_embeddings",
        {"source_system": "alfred_catalog", "results": [], "thumbnail": "x"},
    )
    assert [(e["index"], e["field"], e["code"]) for e in errors] == [
        (None, "thumbnail", "forbidden_field")
    ]


def test_photo_hidden_in_an_embedding_is_refused(conn):
    embedding = [*vector(1, 511), "data:image/jpeg;base64,/9j/4AAQ"]
    errors = rejected(
        conn,
        "ingest_embeddings",
        {
            "source_system": "alfred_catalog",
            "results": [{"external_id": "1", "name": "A", "faces": [{"embedding": embedding}]}],
        },
    )
    assert "forbidden_value" in {e["code"] for e in errors}


def test_no_table_has_a_column_that_could_hold_a_photo(conn):
    """Only Studio-native rows may carry a path, and nothing anywhere holds bytes."""
    rows = conn.execute(
        """
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND (data_type = 'bytea'
              OR column_name ~* '(image|photo|thumbnail|url|path|file)')
        """
    ).fetchall()
    allowed = {
        ("embeddings", "source_image_path"),  # trigger-guarded: NULL for external identities
        ("embedding_quarantine", "source_image_path"),  # pre-sync native rows only
        ("embeddings", "vector_hash"),  # a SHA-256, 32 bytes
        ("api_tokens", "token_hash"),  # a SHA-256, 32 bytes
    }
    assert set(rows) <= allowed
