"""Webhooks: signed POSTs to a local receiver, retried with backoff while it is
down, dead after the output's attempts, replayed from the dead-letter list;
and no photo, crop or path in any event, sighting or published payload."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import wait_for
from sightings_support import people, record, sighting
from test_mqtt import Running, _config
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app import webhook_signature
from app.processes import free_port

SECRET = "a-long-enough-shared-secret"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


class Receiver:
    """A webhook receiver: records each request; answers `status`."""

    def __init__(self):
        self.status = 200
        self.requests: list[tuple[dict, bytes]] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append((dict(request.headers), request.get_data()))
        return Response("ok", status=self.status)(environ, start_response)


@contextmanager
def receiving(receiver: Receiver, port: int):
    server = make_server("127.0.0.1", port, receiver, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join()


def _hook(port: int, **extra) -> dict:
    return {
        "webhook": [
            {
                "name": "alerts",
                "url": f"http://127.0.0.1:{port}/hook",
                "secret": SECRET,
                "decisions": ["identified", "unknown"],
                "backoff_seconds": 0.3,
                "max_backoff_seconds": 1,
                **extra,
            }
        ],
        "dispatcher": {"poll_seconds": 0.1},
    }


def _states(conn) -> list[tuple[str, int]]:
    return conn.execute("SELECT state::text, attempts FROM deliveries ORDER BY event_id").fetchall()


def test_signed_delivery_retried_after_the_receiver_was_down(db_url, conn):
    ada = people(conn, "alfred_catalog", {"15": "Ada Lovelace"})["15"]
    port = free_port()  # nothing listens there yet
    running = Running(db_url, _hook(port))
    try:
        seen = sighting(ada)
        record(conn, seen)
        # Down: the attempt fails and is kept pending with a backoff, no address kept.
        error = wait_for(lambda: conn.execute("SELECT last_error FROM deliveries").fetchone()[0])
        assert error == "connection failed"
        assert _states(conn)[0][0] == "pending"
        receiver = Receiver()
        with receiving(receiver, port):
            wait_for(lambda: _states(conn)[0][0] == "delivered")
        headers, body = receiver.requests[0]
        event = json.loads(body)
        stored_id = conn.execute("SELECT event_id::text FROM events").fetchone()[0]
        assert headers["X-Studio-Event-Id"] == event["event_id"] == stored_id
        assert headers["X-Studio-Event-Kind"] == "sighting"
        assert headers["Content-Type"] == "application/json"
        assert webhook_signature.verify(SECRET, headers[webhook_signature.HEADER], body)
        assert not webhook_signature.verify(
            "another-secret-key!", headers["X-Studio-Signature"], body
        )
        assert not webhook_signature.verify(SECRET, headers["X-Studio-Signature"], body + b" ")
        assert event["person"]["name"] == "Ada Lovelace"
        assert event["sighting"]["sighting_id"] == seen["sighting_id"]
    finally:
        running.close()


def test_dead_after_its_attempts_then_replayed(db_url, conn):
    port = free_port()
    receiver = Receiver()
    receiver.status = 500
    with receiving(receiver, port):
        running = Running(db_url, _hook(port, max_attempts=3))
        try:
            record(conn, sighting(None))
            wait_for(lambda: _states(conn) == [("dead", 3)])
            assert len(receiver.requests) == 3
            bodies = {body for _, body in receiver.requests}
            assert len(bodies) == 1, "every attempt sends the same event"
            listing = _studio(db_url, "events").stdout
            assert "dead letters: 1" in listing and "HTTP 500" in listing
            receiver.status = 204
            assert (
                "queued 1 deliveries again" in _studio(db_url, "events", "replay", "--dead").stdout
            )
            wait_for(lambda: _states(conn) == [("delivered", 1)])
            assert len(receiver.requests) == 4
            assert receiver.requests[-1][1] in bodies  # the same event id again
            event_id = conn.execute("SELECT event_id::text FROM events").fetchone()[0]
            assert "queued 1" in _studio(db_url, "events", "replay", event_id).stdout
            wait_for(lambda: len(receiver.requests) == 5)
        finally:
            running.close()


def _studio(db_url: str, *args: str) -> subprocess.CompletedProcess:
    import os

    done = subprocess.run(
        [str(Path(sys.executable).with_name("studio")), *args],
        env={**os.environ, "STUDIO_DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_documented_verification_snippet_verifies(tmp_path):
    """docs/events.md's receiver code, run as written, accepts our signature and
    refuses a changed body or an old timestamp."""
    snippet = re.search(r"```python\n(# verify.*?)```", DOCS.read_text(), re.DOTALL)
    assert snippet, "docs/events.md lost its verification snippet"
    scope: dict = {}
    exec(snippet[1], scope)
    body = b'{"event_id":"x","kind":"sighting"}'
    header = webhook_signature.sign(SECRET, body)
    assert scope["verify"](SECRET.encode(), header, body)
    assert not scope["verify"](SECRET.encode(), header, body + b"x")
    old = webhook_signature.sign(SECRET, body, int(time.time()) - 3600)
    assert not scope["verify"](SECRET.encode(), old, body)


# What a photo, a crop or a reference to one looks like in any text value.
_IMAGE = re.compile(
    r"(?i)(\.(jpe?g|png|gif|webp|bmp|tiff?|heic|avif)\b|data:image|iVBORw0KGgo|/9j/|R0lGOD"
    r"|[A-Za-z0-9+/]{128,}|^/|^[a-z]:\\|file:|https?://)"
)


def _texts(value, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v, key)]
    return [(key, value)] if isinstance(value, str) else []


def _clean(conn, value, *, topics_allowed: bool = False) -> None:
    """No image bytes, base64 blob, image file name, URL or path in any text of
    `value`, by the pattern above and by the privacy check SQL applies to
    payloads (studio_forbidden_value); MQTT topics named in discovery configs
    are topics, not paths, and must start with the configured prefixes."""
    for key, text in _texts(value):
        if topics_allowed and key.endswith("_topic"):
            assert text.startswith("studio/"), (key, text)
            continue
        assert not _IMAGE.search(text), (key, text)
        verdict = conn.execute("SELECT studio_forbidden_value(%s)", (text,)).fetchone()[0]
        assert verdict is None, (key, text, verdict)


@pytest.mark.usefixtures("broker")
def test_no_photo_in_any_event_record_or_payload(db_url, conn, broker, listen):
    """Every event kind, as stored and as published (MQTT and webhook), and every
    sighting column: names, keys, cameras, times and scores only."""
    ids = people(conn, "alfred_catalog", {"15": "Ada Lovelace", "16": "Grace Hopper"})
    port = free_port()
    receiver = Receiver()
    everything = listen("studio/#", "homeassistant/#")
    config = {
        **_hook(port),
        "mqtt": _config(broker, decisions=list(("identified", "uncertain", "unknown")))["mqtt"],
    }
    with receiving(receiver, port):
        running = Running(db_url, config)
        try:
            record(conn, sighting(ids["15"], camera="Front door"))
            record(conn, sighting(ids["16"], camera="yard"))
            record(conn, sighting(None, camera="yard", decision="uncertain"))
            record(conn, sighting(None, camera="garage"))
            wait_for(lambda: len(receiver.requests) >= 3)
            conn.execute(
                "SELECT sync_identities(%s::jsonb)",
                (
                    json.dumps(
                        {
                            "source_system": "alfred_catalog",
                            "identities": [{"external_id": "16", "action": "delete"}],
                        }
                    ),
                ),
            )
            wait_for(lambda: everything.on("studio/identity_erased"))
            wait_for(
                lambda: conn.execute(
                    "SELECT bool_and(state = 'delivered') FROM deliveries"
                ).fetchone()[0]
            )
        finally:
            running.close()
    kinds = {r[0] for r in conn.execute("SELECT DISTINCT kind FROM events")}
    assert kinds == {"sighting", "identity_erased"}, "every event kind is covered"
    for (payload,) in conn.execute("SELECT payload FROM events"):
        _clean(conn, payload)
    columns = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name IN ('sightings', 'events', 'deliveries', 'event_outputs')"
    ).fetchall()
    assert not [c for c, t in columns if t == "bytea"]
    for (row,) in conn.execute("SELECT to_jsonb(s) FROM sightings s"):
        _clean(conn, row)
    for _headers, body in receiver.requests:
        _clean(conn, json.loads(body))
    published = [(t, p) for t, p, _ in everything.messages if p]
    assert {t.split("/")[1] for t, _ in published if t.startswith("studio/")} >= {
        "sighting",
        "person",
        "camera",
        "identity_erased",
        "status",
    }
    for topic, payload in published:
        assert len(payload) < 16384, topic
        if payload in (b"ON", b"OFF", b"online", b"offline"):
            continue
        _clean(conn, json.loads(payload), topics_allowed=topic.startswith("homeassistant/"))


def test_a_replay_that_queues_nothing_says_why(db_url, conn):
    import os
    import uuid

    conn.execute(
        "SELECT register_event_outputs(%s::jsonb)",
        ('[{"output": "hook", "kind": "webhook", "decisions": ["identified"]}]',),
    )

    def replay(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(Path(sys.executable).with_name("studio")), "events", "replay", *args],
            env={**os.environ, "STUDIO_DATABASE_URL": db_url},
            capture_output=True,
            text=True,
            timeout=60,
        )

    nothing = replay(str(uuid.uuid4()))
    assert nothing.returncode == 1
    assert nothing.stderr.startswith("error: event ") and "has no delivery" in nothing.stderr
    unknown = replay("--dead", "--output", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: no output named 'nope' (outputs: hook)"
    assert replay("--dead", "--output", "hook").stdout.strip() == "queued 0 deliveries again"
