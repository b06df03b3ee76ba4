"""The gallery is defined once (the gallery and reference_faces views), and every
reader sees the same one: the recognizer in memory and in SQL, its size for the
search path, the metrics and the index policy; an export takes every reference
face, unnamed people's too."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgvector.psycopg import register_vector

from app import gallery_index, queries
from app.db import Database
from app.gallery_export import export_gallery
from app.person_recognizer import PersonRecognizer, load_gallery

MODELS = ("buffalo_l", "buffalo_s")
# 'Unknown…' names are Studio's placeholders; LIKE is case-sensitive, so
# 'unknown x' is a name like any other.
NAMES = (None, "Ann", "Unknown", "Unknown 3", "unknown x", "Un known", "Unknownish")
SOURCES = (None, "alfred_catalog", "other_catalog")

FACE = st.tuples(
    st.booleans(),  # is_reference
    st.sampled_from(("face", "face", "body")),
    st.sampled_from(MODELS),
)
PERSON = st.tuples(st.sampled_from(NAMES), st.sampled_from(SOURCES), st.lists(FACE, max_size=4))


def _in_gallery(name: str | None) -> bool:
    return name is not None and not name.startswith("Unknown")


@pytest.fixture
def database(db_url):
    with Database(db_url) as opened:
        yield opened


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=st.lists(PERSON, max_size=8), seed=st.integers(0, 2**32 - 1))
def test_every_reader_sees_the_one_gallery(conn, database, people, seed):
    register_vector(conn)
    conn.execute("TRUNCATE identities CASCADE")
    rng = np.random.default_rng(seed)
    reference: dict[str, tuple] = {}  # embedding_id -> (identity, name, source, model)
    identities: dict[str, tuple] = {}
    for number, (name, source, faces) in enumerate(people):
        external_id = f"p{number}" if source else None
        identity = str(
            conn.execute(
                "INSERT INTO identities (name, external_id, source_system) VALUES (%s, %s, %s) "
                "RETURNING identity_id",
                (name, external_id, source),
            ).fetchone()[0]
        )
        identities[identity] = (name, source, external_id)
        for is_reference, kind, model in faces:
            vector = rng.normal(size=512).astype(np.float32)
            embedding = str(
                conn.execute(
                    "INSERT INTO embeddings (identity_id, vector, is_reference, embedding_type, "
                    "model, confidence) VALUES (%s, %s, %s, %s, %s, 0.9) RETURNING embedding_id",
                    (identity, vector / np.linalg.norm(vector), is_reference, kind, model),
                ).fetchone()[0]
            )
            if is_reference and kind == "face":
                reference[embedding] = (identity, name, source, model)
    gallery = {e: r for e, r in reference.items() if _in_gallery(r[1])}

    def of_model(faces: dict, model: str) -> dict:
        return {e: r for e, r in faces.items() if r[3] == model}

    sizes = dict(database.fetch_all(queries.GALLERY_SIZES))
    assert sizes == {m: len(of_model(gallery, m)) for m in MODELS if of_model(gallery, m)}
    status = {s.model: s.references for s in gallery_index.status(database)}
    assert status == {m: len(of_model(reference, m)) for m in MODELS if of_model(reference, m)}

    for model in MODELS:
        expected = of_model(gallery, model)
        loaded = load_gallery(database, model)
        assert loaded.size == len(expected)
        assert {c.identity_id for c in loaded.identities} == {r[0] for r in expected.values()}
        recognizer = PersonRecognizer(database, model, listen=False)
        assert recognizer.reference_count() == len(expected)
        # In SQL: every probe finds only gallery identities, and with k = 100
        # every one of them (the galleries here are small).
        probe = rng.normal(size=512).astype(np.float32)
        found = database.fetch_all(queries.MATCH_FACES, probe, model, 100, 1000, None)
        assert {str(row[0]) for row in found} == {r[0] for r in expected.values()}
        for identity_id, external_id, source, name, _ in found:
            assert (name, source, external_id) == identities[str(identity_id)]

    for source in SOURCES[1:]:
        exported = export_gallery(database, source)
        faces = sum(len(f) for f in exported["embeddings"].values())
        assert faces == sum(1 for r in reference.values() if r[2] == source)
        assert {i["external_id"] for i in exported["identities"]} == {
            external_id for _, s, external_id in identities.values() if s == source
        }
