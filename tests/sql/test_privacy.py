"""Privacy by construction: image data, URLs, paths and photo fields never get in.

Each row is one payload fragment. Refused rows must be rejected by both
sync_identities and ingest_embeddings with a privacy error code; passing rows
must be accepted by both. tests/properties/test_privacy_properties.py
generates the disguises (spaces, full-width forms, invisible characters,
escapes, a URL inside a name) of each class.
"""

from __future__ import annotations

import base64
import secrets

import pytest
from helpers import call, rejected, table_digest, vector

PRIVACY_CODES = {"forbidden_field", "forbidden_value"}
PNG_BASE64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(64))).decode()
JPEG_BASE64 = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(range(64))).decode()
BLOB_BASE64 = base64.b64encode(bytes(range(256)) * 2).decode()
WEBP_BASE64 = base64.b64encode(b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(range(40))).decode()
HEIC_BASE64 = base64.b64encode(b"\x00\x00\x00\x18ftypheic" + bytes(range(40))).decode()
TIFF_BASE64 = base64.b64encode(b"II*\x00" + bytes(range(40))).decode()
# An opaque catalog ID: URL-safe base64 of 96 random bytes, 128 characters.
OPAQUE_ID = base64.urlsafe_b64encode(secrets.token_bytes(96)).decode()

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
    # What is checked is what is stored: spaces around a value hide nothing.
    ("name", None, " http://alfred:8082/api/photos/1/file"),
    ("name", None, "\u3000data:image/jpeg;base64,/9j/4AAQ"),
    ("name", None, " " + PNG_BASE64),
    ("name", None, "\u00a0/home/alfred/photos/ada"),
    ("external_id", None, " http://alfred/people/15"),
    # Scheme-less and malformed URLs, and a URL inside a name.
    ("name", None, "alfred:8082/api/photos/1"),
    ("name", None, "www.example.com"),
    ("name", None, "//alfred/api/photos/1"),
    ("name", None, "https:/alfred/x"),
    ("name", None, "http:\\\\alfred\\x"),
    ("name", None, "Ada http://alfred/p/1 Lovelace"),
    ("name", None, "Ada (alfred.local/api/people/15)"),
    ("name", None, "192.168.1.20/photos"),
    # Encodings and look-alikes of the same.
    ("name", None, "http%3A%2F%2Falfred%2Fx"),
    ("name", None, "http%253A%252F%252Falfred"),
    ("name", None, "http&#58;//alfred/x"),
    ("name", None, "ｈｔｔｐｓ：／／ａｌｆｒｅｄ／ｘ"),
    ("name", None, "ht\u200btps://alfred/x"),
    ("name", None, "\u200bhttps://alfred/x"),
    ("name", None, "https:\u2215\u2215alfred"),
    ("name", None, "mailto:ada@example.com"),
    ("name", None, "cid:image001.png@01D9"),
    ("name", None, "data:,Ada"),
    # More image names: JFIF, camera raw, a trailing dot, a query.
    ("name", None, "ada.jfif"),
    ("name", None, "IMG_0001.CR3"),
    ("name", None, "ada.dng"),
    ("name", None, "ada.nef"),
    ("name", None, "ada.jpg."),
    ("name", None, "photos/1.jpeg?x=1"),
    ("name", None, "people/ada.Jpg"),
    ("name", None, "ada\u3002jpg"),
    # Image data in other formats, anywhere in a value.
    ("name", None, WEBP_BASE64),
    ("name", None, HEIC_BASE64),
    ("name", None, TIFF_BASE64),
    ("name", None, "Ada " + PNG_BASE64[:40]),
    ("name", None, "iVBOR w0KG go"),
    ("name", None, "<svg onload=1>"),
    ("external_id", None, "photos/15"),
    ("external_id", None, "/api/photos/15"),
    ("external_id", None, "/srv/catalog/people/15"),
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
    # Refusing these would hurt real users; each is allowed on purpose
    # (README, Privacy): a leading slash alone is no path, a capitalised
    # word after a dot is no file extension, "Data:" or "mailto:" followed
    # by words is no URI.
    ("name", None, "/Ann"),
    ("name", None, "Mr.Png"),
    ("name", None, "Data: Lieutenant Commander"),
    ("name", None, "mailto: Jo"),
    ("name", None, "Meeting 10:30"),
    ("name", None, "J.R.R. Tolkien"),
    ("name", None, "Сергей Петров"),
    ("name", None, "50% Ada & Bob"),
    ("external_id", None, "/people/15"),
    ("external_id", None, "people/c1234"),
    ("external_id", None, OPAQUE_ID),
    ("external_id", None, base64.urlsafe_b64encode(secrets.token_bytes(180)).decode()),
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


# (sent, stored): each text value is normalised once (NFKC, trimmed), checked
# in that form and stored in that same form.
NORMALISED = [
    ("  Ada Lovelace  ", "Ada Lovelace"),
    ("\u3000Ada\u00a0", "Ada"),
    ("Ａｄａ", "Ada"),
    ("ﬁona", "fiona"),
    ("José", "José"),
    ("Jose\u0301", "José"),
    ("\u202eevil\u202c", "\u202eevil\u202c"),
]


@pytest.mark.parametrize("build", [_sync_payload, _ingest_payload], ids=["sync", "ingest"])
@pytest.mark.parametrize(("sent", "stored"), NORMALISED)
def test_the_value_checked_is_the_value_stored(conn, build, sent, stored):
    function = "sync_identities" if build is _sync_payload else "ingest_embeddings"
    payload = build("name", None, sent)
    payload["source_system"] = " alfred_catalog "
    payload[("identities" if build is _sync_payload else "results")][0]["external_id"] = sent
    call(conn, function, payload)
    assert conn.execute("SELECT source_system, external_id, name FROM identities").fetchall() == [
        ("alfred_catalog", stored, stored)
    ]
