"""Privacy, as an attacker would test it: generated photo URLs, paths, file
names and image data in disguise are refused by both payload functions, and
after any accepted call every stored text value passes the privacy check
again, in the normalised form it was checked in."""

from __future__ import annotations

import base64
import json
import string
import unicodedata

import psycopg
import pytest
from helpers import table_digest, vector
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

SOURCE = "alfred_catalog"
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

words = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
hosts = st.sampled_from(["alfred", "alfred.local", "10.0.0.7", "photos.example.com", "cdn"])
paths = st.lists(words, min_size=1, max_size=3).map("/".join)
image_ext = st.sampled_from(
    ["jpg", "jpeg", "jfif", "png", "gif", "webp", "heic", "avif", "tif", "dng", "cr3", "nef", "arw"]
)
image_magic = st.sampled_from(
    [
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0\x00\x10JFIF",
        b"GIF89a",
        b"RIFF\x24\x00\x00\x00WEBPVP8 ",
        b"II*\x00",
        b"MM\x00*",
        b"\x00\x00\x00\x18ftypheic",
        b"BM\x36\x10\x0e\x00\x00\x00\x00\x00",
    ]
)

# One generator per class of forbidden value, each in its plain form.
urls = st.one_of(
    st.tuples(st.sampled_from(["http", "https", "s3", "ftp", "HTTP"]), hosts, paths).map(
        lambda t: f"{t[0]}://{t[1]}/{t[2]}"
    ),
    st.tuples(hosts, paths).map(lambda t: f"https:/{t[0]}/{t[1]}"),
    st.tuples(hosts, paths).map(lambda t: f"http:\\\\{t[0]}\\{t[1]}"),
    st.tuples(hosts, st.integers(1, 65535), paths).map(lambda t: f"{t[0]}:{t[1]}/{t[2]}"),
    st.tuples(words, paths).map(lambda t: f"www.{t[0]}.com/{t[1]}"),
    st.tuples(hosts, paths).map(lambda t: f"//{t[0]}/{t[1]}"),
    st.tuples(st.sampled_from(["image/png", "image/jpeg", "text/plain", ""]), words).map(
        lambda t: f"data:{t[0]};base64,{t[1]}"
    ),
    st.tuples(words, hosts).map(lambda t: f"mailto:{t[0]}@{t[1]}"),
)
file_paths = st.one_of(
    paths.map(lambda p: f"/home/{p}"),
    paths.map(lambda p: f"/Users/{p}"),
    paths.map(lambda p: f"~/{p}"),
    paths.map(lambda p: f"../{p}"),
    paths.map(lambda p: "C:\\" + p.replace("/", "\\")),
    paths.map(lambda p: f"D:/{p}"),
    paths.map(lambda p: "\\\\fileserver\\" + p.replace("/", "\\")),
)
# A relative path is refused when it is the whole value; inside a sentence
# it is allowed (a worker's error message may quote a catalog path).
photo_folder_paths = st.tuples(
    st.sampled_from(["photos", "images", "thumbnails", "api/photos", "/api/assets"]), paths
).map(lambda t: f"{t[0]}/{t[1]}")
file_names = st.one_of(
    st.tuples(words, image_ext, st.sampled_from(["", ".", "?x=1", ":large", " "])).map(
        lambda t: f"{t[0]}.{t[1]}{t[2]}"
    ),
    st.tuples(words, image_ext).map(lambda t: f"{t[0]}.{t[1].upper()}"),
    st.tuples(paths, image_ext).map(lambda t: f"{t[0]}/x.{t[1].title()}"),
)
image_data = st.tuples(
    image_magic, st.binary(min_size=0, max_size=60), st.booleans(), st.booleans()
).map(
    lambda t: (
        (base64.urlsafe_b64encode if t[2] else base64.b64encode)(t[0] + t[1])
        .decode()
        .rstrip("=" if t[3] else "")
    )
)
forbidden = st.one_of(urls, file_paths, file_names, image_data)

SPACES = ["\u0020", "\u00a0", "\u2003", "\u3000", "\u202f", "\u2028", "\u0085"]
INVISIBLE = ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e"]


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def percent(text: str) -> str:
    return text.replace(":", "%3A").replace("/", "%2F").replace(".", "%2e")


@st.composite
def disguised(draw, values=forbidden, inside_name=True):
    """A forbidden value, then any of: inside a name, spaced, full-width,
    invisible characters inside, percent-escaped."""
    value = draw(values)
    if inside_name and draw(st.booleans()):
        value = f"Ada {value} Lovelace"
    if draw(st.booleans()):
        value = draw(st.sampled_from(SPACES)) + value + draw(st.sampled_from(SPACES))
    transform = draw(st.sampled_from(["none", "full_width", "invisible", "percent"]))
    if transform == "full_width":
        value = full_width(value)
    elif transform == "invisible":
        at = draw(st.integers(0, len(value)))
        value = value[:at] + draw(st.sampled_from(INVISIBLE)) + value[at:]
    elif transform == "percent":
        value = percent(value)
    assume(len(value) <= 240)
    return value


def sync_payload(external_id, name):
    return {
        "source_system": SOURCE,
        "identities": [{"external_id": external_id, "name": name, "action": "upsert"}],
    }


def ingest_payload(external_id, name, seed=1):
    return {
        "source_system": SOURCE,
        "results": [
            {"external_id": external_id, "name": name, "faces": [{"embedding": vector(seed)}]}
        ],
    }


def attempt(conn, function: str, payload) -> dict | list:
    """The summary of an accepted call, or the error list of a rejected one."""
    try:
        return conn.execute(f"SELECT {function}(%s::jsonb)", (json.dumps(payload),)).fetchone()[0]
    except psycopg.errors.InvalidParameterValue as exc:
        return json.loads(exc.diag.message_detail)


STORED_TEXT = """
    SELECT format('%%s.%%s = %%L', t, c), value FROM (
        SELECT 'identities' AS t, 'name' AS c, name AS value
          FROM identities WHERE external_id IS NOT NULL
        UNION ALL SELECT 'identities', 'external_id', external_id FROM identities
         WHERE external_id IS NOT NULL
        UNION ALL SELECT 'identities', 'source_system', source_system FROM identities
         WHERE external_id IS NOT NULL
        UNION ALL SELECT 'identity_tombstones', 'external_id', external_id FROM identity_tombstones
        UNION ALL SELECT 'identity_tombstones', 'source_system', source_system
          FROM identity_tombstones
        UNION ALL SELECT 'embeddings', 'model', e.model FROM embeddings AS e
          JOIN identities AS i USING (identity_id) WHERE i.external_id IS NOT NULL
    ) AS stored
    WHERE studio_text_error(to_jsonb(value), c, 0, NULL, true, 255) IS NOT NULL
       OR value IS DISTINCT FROM studio_normalized_text(to_jsonb(value))
"""


def assert_stored_text_passes_again(conn) -> None:
    """Every stored text value of external identities passes the checks again,
    and is already in its normalised form."""
    failing = conn.execute(STORED_TEXT).fetchall()
    assert failing == [], failing


@pytest.mark.slow
@SETTINGS
@given(
    value=disguised() | disguised(photo_folder_paths, inside_name=False),
    where=st.sampled_from(["name", "external_id"]),
)
def test_disguised_photo_references_are_refused_everywhere(conn, value, where):
    before = table_digest(conn)
    fields = {"external_id": "15", "name": "Ada", where: value}
    for function, payload in (
        ("sync_identities", sync_payload(**fields)),
        ("ingest_embeddings", ingest_payload(**fields)),
    ):
        errors = attempt(conn, function, payload)
        assert isinstance(errors, list), (function, value, errors)
        assert {(e["field"], e["code"]) for e in errors} == {(where, "forbidden_value")}, errors
    assert table_digest(conn) == before


# Any text at all, with forbidden values (disguised or not) mixed in.
any_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40),
    st.text(" ./:\\%&#@~_-" + string.ascii_letters[:6] + "3AF", max_size=30),
    forbidden,
    photo_folder_paths,
    disguised(),
)


@pytest.mark.slow
@SETTINGS
@given(
    calls=st.lists(
        st.tuples(st.sampled_from(["sync", "ingest", "delete"]), any_text, any_text),
        min_size=1,
        max_size=4,
    )
)
def test_every_stored_text_value_passes_the_privacy_check_again(conn, calls):
    for seed, (kind, external_id, name) in enumerate(calls):
        before = table_digest(conn)
        if kind == "sync":
            result = attempt(conn, "sync_identities", sync_payload(external_id, name))
        elif kind == "ingest":
            result = attempt(conn, "ingest_embeddings", ingest_payload(external_id, name, seed))
        else:
            payload = {
                "source_system": SOURCE,
                "identities": [{"external_id": external_id, "action": "delete"}],
            }
            result = attempt(conn, "sync_identities", payload)
        if isinstance(result, list):
            assert table_digest(conn) == before, "a rejected call changed the database"
        else:
            assert result["success"] is True
        assert_stored_text_passes_again(conn)


real_names = st.lists(
    st.text(
        st.characters(categories=("Lu", "Ll", "Lo", "Mn")) | st.sampled_from("'-"),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=4,
).map(" ".join)
opaque_ids = st.one_of(
    st.binary(min_size=1, max_size=189).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.uuids().map(str),
    st.integers(0, 10**12).map(lambda n: f"/people/{n}"),
    st.text(string.hexdigits.lower(), min_size=8, max_size=255),
)


@pytest.mark.slow
@SETTINGS
@given(name=real_names, external_id=opaque_ids)
def test_real_names_and_opaque_ids_are_accepted(conn, name, external_id):
    # NFKC may lengthen a letter (U+FDFA is 18 characters): stay within 255.
    assume(len(unicodedata.normalize("NFKC", name)) <= 200)
    for function, payload in (
        ("sync_identities", sync_payload(external_id, name)),
        ("ingest_embeddings", ingest_payload(external_id, name)),
    ):
        result = attempt(conn, function, payload)
        assert isinstance(result, dict), (function, name, external_id, result)
    assert_stored_text_passes_again(conn)


@SETTINGS
@given(value=any_text)
def test_the_verdict_is_the_same_before_and_after_normalising(conn, value):
    forbidden_before, normalised, forbidden_after, twice = conn.execute(
        """
        SELECT studio_forbidden_value(%(v)s), n, studio_forbidden_value(n),
               studio_normalized_text(to_jsonb(n))
        FROM studio_normalized_text(to_jsonb(%(v)s::text)) AS n
        """,
        {"v": value},
    ).fetchone()
    assert forbidden_before == forbidden_after
    assert twice == normalised
