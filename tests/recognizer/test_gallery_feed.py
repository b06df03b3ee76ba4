"""The gallery follows the change feed: changes applied, never a reload.

Generated histories of writes in several transactions at once, committed or
rolled back in any order, with the recognizer catching up in between: after
every look its gallery is exactly the database's gallery view, its matches
are those of a search over that view, and it never loaded the gallery
again. Plus the cases the feed was built for: entries that become visible
out of change_id order, pruning, and a recognize call while the follower is
busy.
"""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import psycopg
import pytest
from helpers import wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgvector.psycopg import register_vector

from app import person_recognizer
from app.db import Database
from app.person_recognizer import PersonRecognizer

MODEL, OTHER_MODEL = "m1", "m2"
SOURCES = ("alfred_catalog", "other_catalog")
PEOPLE = 6
CONNECTIONS = 3
_seeds = itertools.count(1000)


def _vector(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _person(conn, i: int, faces: int = 2) -> str:
    identity = conn.execute(
        "INSERT INTO identities (name, external_id, source_system) VALUES (%s, %s, %s) "
        "RETURNING identity_id::text",
        (f"Person {i}", f"p{i}", SOURCES[i % 2]),
    ).fetchone()[0]
    for _ in range(faces):
        _face(conn, identity, MODEL)
    _face(conn, identity, OTHER_MODEL)
    return identity


def _face(conn, identity: str, model: str) -> None:
    conn.execute(
        "INSERT INTO embeddings (identity_id, vector, model, is_reference) VALUES (%s, %s, %s, true)",
        (identity, _vector(next(_seeds)), model),
    )


# What each generated step does to one person, in the open transaction of
# one connection. Plain SQL, as a DBA or any function would write.
WRITES = {
    "add_face": lambda conn, p: _face(conn, p, MODEL),
    "other_model_face": lambda conn, p: _face(conn, p, OTHER_MODEL),
    "drop_face": lambda conn, p: conn.execute(
        "DELETE FROM embeddings WHERE embedding_id = (SELECT embedding_id FROM embeddings "
        "WHERE identity_id = %s AND model = %s ORDER BY created_at, embedding_id LIMIT 1)",
        (p, MODEL),
    ),
    "not_a_reference": lambda conn, p: conn.execute(
        "UPDATE embeddings SET is_reference = NOT is_reference WHERE embedding_id = ("
        "SELECT embedding_id FROM embeddings WHERE identity_id = %s AND model = %s "
        "ORDER BY embedding_id LIMIT 1)",
        (p, MODEL),
    ),
    "new_vector": lambda conn, p: conn.execute(
        "UPDATE embeddings SET vector = %s WHERE embedding_id = (SELECT embedding_id "
        "FROM embeddings WHERE identity_id = %s AND model = %s ORDER BY embedding_id DESC LIMIT 1)",
        (_vector(next(_seeds)), p, MODEL),
    ),
    "rename": lambda conn, p: conn.execute(
        "UPDATE identities SET name = %s WHERE identity_id = %s",
        # Names LIKE 'Unknown%' and no name leave the gallery.
        ([None, "Ann", "Unknown 7", "Bob"][next(_seeds) % 4], p),
    ),
    "move_source": lambda conn, p: conn.execute(
        "UPDATE identities SET source_system = CASE source_system WHEN %s THEN %s ELSE %s END "
        "WHERE identity_id = %s",
        (SOURCES[0], SOURCES[1], SOURCES[0], p),
    ),
    "sighting": lambda conn, p: conn.execute(
        "UPDATE identities SET last_seen = now() WHERE identity_id = %s", (p,)
    ),
    "delete": lambda conn, p: conn.execute("DELETE FROM identities WHERE identity_id = %s", (p,)),
}

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("write"),
            st.integers(0, CONNECTIONS - 1),
            st.sampled_from(sorted(WRITES)),
            st.integers(0, PEOPLE - 1),
        ),
        st.tuples(st.sampled_from(["commit", "rollback"]), st.integers(0, CONNECTIONS - 1)),
        st.tuples(st.just("look")),
    ),
    max_size=30,
)


def _view(conn) -> dict[str, tuple[tuple, np.ndarray]]:
    """The gallery view of MODEL: identity -> (its keys and name, its vectors)."""
    view: dict[str, tuple[tuple, list]] = {}
    for identity, external_id, source, name, vector in conn.execute(
        "SELECT identity_id::text, external_id, source_system, name, vector FROM gallery "
        "WHERE model = %s",
        (MODEL,),
    ):
        view.setdefault(identity, ((external_id, source, name), []))[1].append(vector.to_numpy())
    return {k: (keys, _sorted(vectors)) for k, (keys, vectors) in view.items()}


def _held(gallery) -> dict[str, tuple[tuple, np.ndarray]]:
    """The same, as the recognizer's gallery holds it (live rows only)."""
    held: dict[str, tuple[tuple, list]] = {}
    for row in np.flatnonzero(gallery.alive):
        c = gallery.identities[gallery.owners[row]]
        keys = (c.external_id, c.source_system, c.name)
        entry = held.setdefault(c.identity_id, (keys, []))
        assert entry[0] == keys, "one identity under two names in one gallery"
        entry[1].append(gallery.vectors[row])
    return {k: (keys, _sorted(vectors)) for k, (keys, vectors) in held.items()}


def _sorted(vectors: list[np.ndarray]) -> np.ndarray:
    # Random unit vectors: their first components differ by far more than
    # the rounding between the database and the recognizer.
    return np.array(sorted(vectors, key=lambda v: float(v[0])))


def _same(held: dict, view: dict) -> bool:
    return held.keys() == view.keys() and all(
        held[k][0] == view[k][0]
        and held[k][1].shape == view[k][1].shape
        and np.allclose(held[k][1], view[k][1], atol=1e-6)
        for k in view
    )


def _brute_force(view, probe: np.ndarray, k: int, sources) -> list[tuple[str, float]]:
    best = []
    for identity, ((_, source, _), vectors) in view.items():
        if sources is not None and source not in sources:
            continue
        best.append((identity, float((vectors @ probe).max())))
    return sorted(best, key=lambda item: -item[1])[:k]


def _check(recognizer: PersonRecognizer, conn, seed: int, baseline: int | None = None) -> None:
    gallery = recognizer.gallery()
    view = _view(conn)
    if baseline is not None:
        # Exactly once: every committed entry since the load applied, none twice.
        entries = conn.execute(
            "SELECT count(*) FROM gallery_changes WHERE change_id > %s "
            "AND (model IS NULL OR model = %s)",
            (baseline, MODEL),
        ).fetchone()[0]
        assert recognizer.changes_applied == entries
    assert _same(_held(gallery), view)
    assert gallery.size == sum(len(vectors) for _, vectors in view.values())
    probe = _vector(seed)
    for sources in (None, [SOURCES[0]], [SOURCES[1]], ["nobody"]):
        [match] = recognizer.match(probe[None, :], k=3, search="exact", sources=sources)
        expected = _brute_force(view, probe, 3, sources)
        assert [c.identity_id for c in match.candidates] == [i for i, _ in expected]
        for candidate, (_, score) in zip(match.candidates, expected, strict=True):
            assert abs(candidate.similarity - score) < 1e-5
            assert candidate.name == view[candidate.identity_id][0][2]


@pytest.fixture
def writers(db_url):
    connections = [psycopg.connect(db_url) for _ in range(CONNECTIONS)]
    for connection in connections:
        register_vector(connection)
    yield connections
    for connection in connections:
        connection.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=steps)
def test_the_gallery_follows_any_history_of_concurrent_writes_without_a_reload(
    db_url, conn, writers, monkeypatch, history
):
    # Compact and grow at once, so that every history goes through both.
    monkeypatch.setattr(person_recognizer, "COMPACT_AT_DEAD", 0)
    monkeypatch.setattr(person_recognizer, "MIN_HEADROOM", 1)
    register_vector(conn)
    for writer in writers:
        writer.rollback()
    conn.execute("TRUNCATE identities CASCADE")
    people = [_person(conn, i) for i in range(PEOPLE)]
    with Database(db_url) as database:
        # No follower: the test says when the recognizer looks (each gallery()
        # call applies the feed, the TTL being 0).
        recognizer = PersonRecognizer(database, MODEL, listen=False, ttl_seconds=0)
        # Nothing is open now: every entry so far is in the first load.
        baseline = conn.execute("SELECT coalesce(max(change_id), 0) FROM gallery_changes")
        baseline = baseline.fetchone()[0]
        _check(recognizer, conn, 1, baseline)
        # A person is held by the transaction that wrote it until that one
        # ends (a second writer would wait on its row locks); a person deleted
        # by a transaction takes no more writes from it.
        holder: dict[int, int] = {}
        deleted: set[int] = set()
        deleting: dict[int, set[int]] = {c: set() for c in range(CONNECTIONS)}
        for number, step in enumerate(history):
            if step[0] == "write":
                _, c, write, p = step
                if holder.get(p, c) != c or p in deleted or p in deleting[c]:
                    continue
                WRITES[write](writers[c], people[p])
                holder[p] = c
                if write == "delete":
                    deleting[c].add(p)
            elif step[0] in ("commit", "rollback"):
                _, c = step
                getattr(writers[c], step[0])()
                if step[0] == "commit":
                    deleted |= deleting[c]
                deleting[c] = set()
                holder = {p: h for p, h in holder.items() if h != c}
            else:
                _check(recognizer, conn, number, baseline)
        for c, writer in enumerate(writers):
            writer.commit()
            deleted |= deleting[c]
        _check(recognizer, conn, len(history) + 1, baseline)
        assert recognizer.reloads == 1  # the first load, and only changes since
        recognizer.close()


def test_entries_committed_out_of_change_id_order_are_each_applied(db_url, conn, writers):
    """A transaction that wrote first but commits last: its entry has the lower
    change_id, and becomes visible after a higher one was read. A reader that
    kept the highest change_id it saw would skip it for good."""
    register_vector(conn)
    ada, grace = _person(conn, 0), _person(conn, 1)
    first, second = writers[0], writers[1]
    with Database(db_url) as database:
        recognizer = PersonRecognizer(database, MODEL, listen=False, ttl_seconds=0)
        assert set(_held(recognizer.gallery())) == {ada, grace}
        first.execute("DELETE FROM identities WHERE identity_id = %s", (ada,))
        second.execute(
            "UPDATE identities SET name = 'Grace Hopper' WHERE identity_id = %s", (grace,)
        )
        own = "SELECT min(change_id) FROM gallery_changes WHERE xid = pg_current_xact_id()"
        [low] = first.execute(own).fetchone()
        [high] = second.execute(own).fetchone()
        assert low < high
        second.commit()
        held = _held(recognizer.gallery())
        assert held[grace][0][2] == "Grace Hopper" and ada in held  # the delete is not committed
        assert conn.execute("SELECT max(change_id) FROM gallery_changes").fetchone()[0] == high
        first.commit()
        assert set(_held(recognizer.gallery())) == {grace}
        assert _same(_held(recognizer.gallery()), _view(conn))
        assert recognizer.reloads == 1 and recognizer.changes_applied >= 3
        recognizer.close()


def _feed(conn, position: str) -> dict:
    return conn.execute("SELECT gallery_changes_since(%s::xid8, %s)", (position, MODEL)).fetchone()[
        0
    ]


def test_the_feed_returns_each_visible_entry_from_its_position_and_never_an_open_ones(
    db_url, conn, writers
):
    register_vector(conn)
    ada = _person(conn, 0)
    start = _feed(conn, "0")["position"]
    writers[0].execute("UPDATE identities SET name = 'Ada' WHERE identity_id = %s", (ada,))
    [xid] = writers[0].execute("SELECT pg_current_xact_id()::text").fetchone()
    open_feed = _feed(conn, start)
    # The open transaction holds the position at or below its own ID, and
    # none of its entries shows.
    assert int(open_feed["position"]) <= int(xid)
    assert [c for c in open_feed["changes"] if c[2] == ada and c[1] == xid] == []
    writers[0].commit()
    after = _feed(conn, open_feed["position"])
    assert [c[1] for c in after["changes"] if c[2] == ada] == [xid]
    assert int(after["position"]) > int(xid) and not after["behind"]
    # A position ahead of the database's own (a restore, a failover that lost
    # commits): load everything again.
    assert _feed(conn, str(int(after["position"]) + 1000))["behind"]


def test_a_reader_behind_the_pruned_horizon_loads_all_again_one_ahead_does_not(db_url, conn):
    register_vector(conn)
    people = [_person(conn, i) for i in range(3)]
    with Database(db_url) as database:
        behind = PersonRecognizer(database, MODEL, listen=False, ttl_seconds=3600)
        ahead = PersonRecognizer(database, MODEL, listen=False, ttl_seconds=3600)
        behind.gallery(), ahead.gallery()
        for person in people[:2]:
            conn.execute("DELETE FROM identities WHERE identity_id = %s", (person,))
        ahead.refresh()
        before = conn.execute("SELECT count(*) FROM gallery_changes").fetchone()[0]
        # Two hours pass (logged_at is when an entry was written).
        conn.execute("UPDATE gallery_changes SET logged_at = logged_at - interval '2 hours'")
        pruned = conn.execute("SELECT prune_gallery_changes()").fetchone()[0]
        assert 0 < pruned <= before
        horizon = conn.execute("SELECT pruned_below::text FROM gallery_change_horizon").fetchone()
        assert int(horizon[0]) > behind.position
        assert int(horizon[0]) <= ahead.position
        behind.refresh()
        ahead.refresh()
        assert (behind.reloads, ahead.reloads) == (2, 1)
        for recognizer in (behind, ahead):
            assert _same(_held(recognizer.gallery()), _view(conn))
            assert set(_held(recognizer.gallery())) == {people[2]}
            recognizer.close()


def test_writers_prune_the_feed_once_a_minute_without_waiting_for_each_other(db_url, conn, writers):
    register_vector(conn)
    ada, grace = _person(conn, 0), _person(conn, 1)
    conn.execute("UPDATE gallery_changes SET logged_at = logged_at - interval '2 hours'")
    conn.execute("UPDATE gallery_change_horizon SET checked_at = '-infinity'")
    old = conn.execute("SELECT count(*) FROM gallery_changes").fetchone()[0]
    # A writer prunes (its write was the first in a minute) and has not
    # committed: another writer goes on without pruning, and without waiting.
    writers[0].execute("UPDATE identities SET name = 'Ada' WHERE identity_id = %s", (ada,))
    started = time.monotonic()
    conn.execute("UPDATE identities SET name = 'Grace' WHERE identity_id = %s", (grace,))
    assert time.monotonic() - started < 2
    writers[0].commit()
    horizon, checked = conn.execute(
        "SELECT pruned_below::text, checked_at FROM gallery_change_horizon"
    ).fetchone()
    assert int(horizon) > 0
    below = "SELECT count(*) FROM gallery_changes WHERE xid < %s::xid8"
    assert conn.execute(below, (horizon,)).fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM gallery_changes").fetchone()[0] < old + 2
    # Looked at just now: the next writes leave the feed alone for a minute.
    conn.execute("UPDATE identities SET name = 'Ada Lovelace' WHERE identity_id = %s", (ada,))
    assert conn.execute("SELECT checked_at FROM gallery_change_horizon").fetchone()[0] == checked


def test_a_recognize_call_never_waits_for_the_follower(db_url, conn, monkeypatch):
    register_vector(conn)
    ada, grace = _person(conn, 0, faces=1), _person(conn, 1, faces=1)
    probe = (
        conn.execute(
            "SELECT vector FROM embeddings WHERE identity_id = %s AND model = %s", (ada, MODEL)
        )
        .fetchone()[0]
        .to_numpy()
    )
    inside, release = threading.Event(), threading.Event()
    apply = person_recognizer._GalleryBuilder.apply

    def slow_apply(self, identity_ids, rows):
        inside.set()
        release.wait(10)
        apply(self, identity_ids, rows)

    monkeypatch.setattr(person_recognizer._GalleryBuilder, "apply", slow_apply)
    with Database(db_url, pool_size=2) as database:
        recognizer = PersonRecognizer(database, MODEL, poll_interval=0.1)
        try:
            assert recognizer.match(probe)[0].best.identity_id == ada
            conn.execute("DELETE FROM identities WHERE identity_id = %s", (ada,))
            assert inside.wait(5)  # the follower is applying the delete, slowly
            started = time.monotonic()
            [match] = recognizer.match(probe)
            assert time.monotonic() - started < 0.5
            assert match.best.identity_id == ada  # the gallery as it was, whole
            release.set()
            wait_for(lambda: recognizer.match(probe)[0].best.identity_id == grace, timeout=5)
            assert recognizer.reloads == 1
        finally:
            release.set()
            recognizer.close()
