"""MQTT against a real broker: sighting events, retained state per person and
camera, Home Assistant discovery as its documentation asks, presence that
turns off after the quiet time, erasure that removes the entities, and the
last will when the dispatcher dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sightings_support import people, record, sighting

from app.db import Database
from app.dispatcher import Dispatcher
from app.event_config import parse
from app.event_outputs import camera_slug


def _config(port: int, **mqtt) -> dict:
    table = {
        "name": "ha",
        "host": "127.0.0.1",
        "port": port,
        "presence_quiet_seconds": 2,
        "backoff_seconds": 0.2,
        **mqtt,
    }
    return {"mqtt": [table], "dispatcher": {"poll_seconds": 0.1}}


class Running:
    """A dispatcher in a thread of the test, on its own database connection."""

    def __init__(self, db_url: str, config: dict):
        self.stop = threading.Event()
        self.database = Database(db_url)
        self.dispatcher = Dispatcher(self.database, parse(config), self.stop)
        self.dispatcher.start()
        self.thread = threading.Thread(target=self.dispatcher.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self.dispatcher.close()
        self.database.close()


@pytest.fixture
def dispatch(db_url):
    running: list[Running] = []

    def start(config: dict) -> Running:
        running.append(Running(db_url, config))
        return running[-1]

    yield start
    for item in running:
        item.close()


def test_sightings_reach_home_assistant_and_erasure_removes_them(conn, broker, listen, dispatch):
    ids = people(conn, "alfred_catalog", {"15": "Ada Lovelace"})
    ada = ids["15"]
    key = ada.replace("-", "")
    everything = listen("studio/#", "homeassistant/#")
    dispatch(_config(broker))
    assert everything.wait_for(lambda: everything.last("studio/status") == b"online")

    now = datetime.now(UTC)
    seen = sighting(ada, camera="Front door", start=now - timedelta(seconds=7))
    record(conn, seen)
    record(conn, sighting(None, camera="Front door", start=now - timedelta(seconds=5)))
    slug = camera_slug("Front door")
    assert slug.startswith("front_door_")

    event_topic = f"studio/sighting/{slug}"
    events = everything.wait_for(lambda: everything.on(event_topic))
    event = json.loads(events[0])
    assert event["kind"] == "sighting" and event["person"]["name"] == "Ada Lovelace"
    assert event["sighting"]["sighting_id"] == seen["sighting_id"]
    stored = conn.execute(
        "SELECT payload FROM events WHERE sighting_id = %s", (seen["sighting_id"],)
    )
    assert event == stored.fetchone()[0]  # the stored event, with its stable id

    person_topic = f"studio/person/{ada}/state"
    state = json.loads(everything.wait_for(lambda: everything.last(person_topic)))
    assert state["name"] == "Ada Lovelace" and state["camera"] == "Front door"
    assert datetime.fromisoformat(state["last_seen"]) == datetime.fromisoformat(seen["ended_at"])

    presence_topic = f"studio/person/{ada}/presence/{slug}"
    assert everything.wait_for(lambda: everything.last(presence_topic)) == b"ON"
    # Unseen for the quiet time (2 s): OFF, retained.
    assert everything.wait_for(lambda: everything.last(presence_topic) == b"OFF", timeout=15)

    camera_state = json.loads(
        everything.wait_for(lambda: everything.last(f"studio/camera/{slug}/state"))
    )
    assert camera_state["name"] == "Ada Lovelace"  # unknown faces are not this output's

    configs = {
        "last_seen": f"homeassistant/sensor/studio_{key}_last_seen/config",
        "last_camera": f"homeassistant/sensor/studio_{key}_last_camera/config",
        "presence": f"homeassistant/binary_sensor/studio_{key}_{slug}_presence/config",
    }
    for name, topic in configs.items():
        config = json.loads(everything.wait_for(lambda t=topic: everything.last(t)))
        # What Home Assistant's MQTT discovery asks of each entity.
        assert config["unique_id"] == topic.split("/")[2], name
        assert config["availability_topic"] == "studio/status"
        assert config["device"]["identifiers"] == [f"groundtruth_studio_person_{key}"]
        assert config["device"]["name"] == "Ada Lovelace"
        assert config["origin"]["name"] == "GroundTruth Studio"
        assert config["state_topic"] in (person_topic, presence_topic)
    last_seen = json.loads(everything.last(configs["last_seen"]))
    assert last_seen["device_class"] == "timestamp"
    assert last_seen["json_attributes_topic"] == person_topic
    assert last_seen["value_template"] == "{{ value_json.last_seen }}"
    presence = json.loads(everything.last(configs["presence"]))
    assert presence["device_class"] == "presence" and presence["state_topic"] == presence_topic
    assert (presence["payload_on"], presence["payload_off"]) == ("ON", "OFF")

    # Someone subscribing later (Home Assistant after a restart) gets it all retained.
    late = listen("studio/#", "homeassistant/#")
    late.wait_for(lambda: late.last(configs["presence"]) and late.last(person_topic))
    assert all(retained for t, _, retained in late.messages if t != event_topic)
    assert not late.on(event_topic), "sighting events are not retained"
    assert conn.execute(
        "SELECT array_agg(DISTINCT state::text) FROM deliveries WHERE output = 'ha'"
    ).fetchone() == (["delivered"],)

    # Erasure: an identity_erased event, and Home Assistant loses the entities.
    conn.execute(
        "SELECT sync_identities(%s::jsonb)",
        (
            json.dumps(
                {
                    "source_system": "alfred_catalog",
                    "identities": [{"external_id": "15", "action": "delete"}],
                }
            ),
        ),
    )
    everything.wait_for(lambda: everything.on("studio/identity_erased"))
    for topic in [*configs.values(), person_topic, presence_topic]:
        assert everything.wait_for(lambda t=topic: everything.last(t) == b""), topic
    camera_after = everything.wait_for(
        lambda: everything.last(f"studio/camera/{slug}/state") == b""
    )
    assert camera_after
    after = listen("studio/#", "homeassistant/#")
    time.sleep(1)
    leftover = [(t, p) for t, p, _ in after.messages if p and (ada in t or key in t or b"Ada" in p)]
    assert leftover == [], "a retained message still names the erased person"


def test_unknown_faces_go_out_only_where_asked(conn, broker, listen, dispatch):
    everything = listen("studio/#")
    dispatch(_config(broker, decisions=["identified", "unknown"]))
    record(conn, sighting(None, camera="yard"))
    events = everything.wait_for(lambda: everything.on("studio/sighting/yard"))
    assert json.loads(events[0])["person"] is None
    state = json.loads(everything.wait_for(lambda: everything.last("studio/camera/yard/state")))
    assert state["decision"] == "unknown" and state["name"] is None


def test_a_killed_dispatcher_is_marked_offline_by_its_last_will(db_url, broker, listen, tmp_path):
    config = tmp_path / "events.toml"
    config.write_text(
        f'[[mqtt]]\nname = "ha"\nhost = "127.0.0.1"\nport = {broker}\n'
        "[dispatcher]\npoll_seconds = 0.2\n"
    )
    status = listen("studio/status")
    env = {**os.environ, "STUDIO_DATABASE_URL": db_url}
    with (tmp_path / "events.log").open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("studio")),
                "events",
                "run",
                "--config",
                str(config),
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        status.wait_for(lambda: status.last("studio/status") == b"online", timeout=60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        # The broker notices the dead connection (keepalive 30 s at most,
        # at once here: the socket is closed) and publishes the will.
        assert status.wait_for(lambda: status.last("studio/status") == b"offline", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
