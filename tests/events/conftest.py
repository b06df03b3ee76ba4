"""A real MQTT broker (amqtt, from the test dependencies) and a subscriber that
records every message, retained ones included."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from app.processes import free_port


@pytest.fixture
def broker(tmp_path) -> Iterator[int]:
    """An amqtt broker on a free port of 127.0.0.1; its port."""
    port = free_port()
    config = tmp_path / "amqtt.yaml"
    config.write_text(
        "listeners:\n  default:\n    type: tcp\n"
        f"    bind: 127.0.0.1:{port}\n"
        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
        "    allow_anonymous: true\n"
    )
    executable = Path(sys.executable).with_name("amqtt")
    log = (tmp_path / "broker.log").open("wb")
    process = subprocess.Popen([str(executable), "-c", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError((tmp_path / "broker.log").read_text()[-2000:]) from None
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)
    log.close()


@dataclass
class Subscriber:
    """Every message on `topics`, in arrival order: (topic, payload, retained)."""

    client: mqtt.Client
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def last(self, topic: str) -> bytes | None:
        found = self.on(topic)
        return found[-1] if found else None

    def topics(self) -> set[str]:
        with self.lock:
            return {t for t, _, _ in self.messages}

    def wait_for(self, check, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"not seen within {timeout} s; topics: {sorted(self.topics())}")


def subscribe(port: int, *topics: str) -> Subscriber:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
    subscriber = Subscriber(client)

    def on_message(_client, _userdata, message):
        with subscriber.lock:
            subscriber.messages.append((message.topic, message.payload, bool(message.retain)))

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    for topic in topics:
        client.subscribe(topic, qos=1)
    client.loop_start()
    return subscriber


@pytest.fixture
def listen(broker):
    """listen(*topics) -> a Subscriber on the broker; all closed after the test."""
    made: list[Subscriber] = []

    def make(*topics: str) -> Subscriber:
        made.append(subscribe(broker, *topics))
        time.sleep(0.3)  # let the subscriptions reach the broker
        return made[-1]

    yield make
    for subscriber in made:
        subscriber.client.disconnect()
        subscriber.client.loop_stop()
