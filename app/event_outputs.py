"""Where the dispatcher sends events: signed webhooks, and an MQTT broker with
Home Assistant discovery. Each sender's handle() sends one event and says
how it went (None, or a short error with no address in it); the dispatcher
records that with finish_delivery(). docs/events.md has the topic layout,
the entities and the signature."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import requests

from app import queries, webhook_signature
from app.db import Database
from app.event_config import MqttOutput, WebhookOutput

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 10.0


@dataclass(frozen=True)
class Event:
    event_id: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int


def event_body(payload: dict[str, Any]) -> bytes:
    """An event as it goes out: compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


class WebhookSender:
    """POSTs each event's JSON, signed (app/webhook_signature.py); any 2xx is delivered."""

    def __init__(self, output: WebhookOutput, version: str):
        self.output = output
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"groundtruth-studio/{version}"

    def ready(self) -> bool:
        return True

    def handle(self, event: Event) -> str | None:
        body = event_body(event.payload)
        headers = {
            "Content-Type": "application/json",
            "X-Studio-Event-Id": event.event_id,
            "X-Studio-Event-Kind": event.kind,
            webhook_signature.HEADER: webhook_signature.sign(self.output.secret, body),
        }
        try:
            response = self.session.post(
                self.output.url,
                data=body,
                headers=headers,
                timeout=self.output.timeout_seconds,
                allow_redirects=False,
            )
        # The exception's text names the receiver's address: only its kind is
        # kept, so that the history holds no URL.
        except requests.Timeout:
            return "timed out"
        except requests.ConnectionError:
            return "connection failed"
        except requests.RequestException as exc:
            return type(exc).__name__
        response.close()
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def tick(self) -> None:
        pass

    def close(self) -> None:
        self.session.close()


def camera_slug(camera: str) -> str:
    """A camera's name as one MQTT topic level and a Home Assistant object id
    ([a-z0-9_-]); a name that is not one already gets a short hash of itself,
    so that "Front door" and "front_door" stay two cameras."""
    slug = re.sub(r"[^a-z0-9_-]+", "_", camera.lower()).strip("_") or "camera"
    if slug != camera:
        slug += "_" + hashlib.sha256(camera.encode()).hexdigest()[:6]
    return slug


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class MqttPublisher:
    """Publishes to one broker: each sighting event, retained state per person
    and per camera, presence per person and camera (ON, then OFF after the
    quiet time), Home Assistant discovery for them, and availability through
    the client's last will."""

    def __init__(self, output: MqttOutput, database: Database, version: str):
        self.output = output
        self.database = database
        self.version = version
        prefix = output.topic_prefix
        self.status_topic = f"{prefix}/status"
        self.connected = threading.Event()
        self.resync_needed = threading.Event()
        self.presence_until: dict[tuple[str, str], datetime] = {}
        client_id = output.client_id or f"groundtruth-studio-{output.name}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if output.username is not None:
            self.client.username_pw_set(output.username, output.password)
        # The broker says "offline" for us if we vanish: Home Assistant marks
        # every entity unavailable rather than showing a stale presence.
        self.client.will_set(self.status_topic, "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(output.host, output.port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("mqtt %s: broker refused the connection: %s", self.output.name, reason_code)
            return
        log.info("mqtt %s: connected", self.output.name)
        client.publish(self.status_topic, "online", qos=1, retain=True)
        self.connected.set()
        self.resync_needed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("mqtt %s: disconnected (%s); reconnecting", self.output.name, reason_code)
        self.connected.clear()

    def ready(self) -> bool:
        if self.connected.is_set() and self.resync_needed.is_set():
            self.resync_needed.clear()
            try:
                self.resync()
            except PublishError as exc:
                log.warning("mqtt %s: state not republished: %s", self.output.name, exc)
                self.resync_needed.set()
                return False
        return self.connected.is_set()

    # Topics --------------------------------------------------------------

    def person_topic(self, identity_id: str) -> str:
        return f"{self.output.topic_prefix}/person/{identity_id}/state"

    def presence_topic(self, identity_id: str, camera: str) -> str:
        return f"{self.output.topic_prefix}/person/{identity_id}/presence/{camera_slug(camera)}"

    def camera_topic(self, camera: str) -> str:
        return f"{self.output.topic_prefix}/camera/{camera_slug(camera)}/state"

    def _discovery_topic(self, component: str, unique_id: str) -> str:
        return f"{self.output.discovery_prefix}/{component}/{unique_id}/config"

    # Publishing ----------------------------------------------------------

    def _publish(self, topic: str, payload: str | bytes | dict, retain: bool = False) -> None:
        if isinstance(payload, dict):
            payload = event_body(payload)
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT)
        except (RuntimeError, ValueError) as exc:
            raise PublishError(f"not published: {exc}") from None
        if not info.is_published():
            raise PublishError("the broker did not acknowledge in time")

    def handle(self, event: Event) -> str | None:
        try:
            if event.kind == "sighting":
                self._sighting(event)
            elif event.kind == "identity_erased":
                self._erased(event)
        except PublishError as exc:
            if not self.client.is_connected():
                self.connected.clear()
            return str(exc)
        return None

    def _sighting(self, event: Event) -> None:
        sighting = event.payload["sighting"]
        self._publish(
            f"{self.output.topic_prefix}/sighting/{camera_slug(sighting['camera'])}",
            event.payload,
        )
        person = event.payload.get("person")
        if person:
            self._person(person["identity_id"])
        self._camera(sighting["camera"])

    def _person(self, identity_id: str) -> None:
        """The person's retained state, discovery and presence, read from the
        database now: whatever order events arrive in, the latest sighting wins."""
        row = self.database.fetch_one(queries.PERSON_STATE, identity_id)
        if row is None:  # erased meanwhile: their identity_erased event clears the topics
            return
        _, name, external_id, source_system, camera, started_at, ended_at, similarity = row
        state = {
            "identity_id": identity_id,
            "name": name,
            "external_id": external_id,
            "source_system": source_system,
            "camera": camera,
            "started_at": _iso(started_at),
            "last_seen": _iso(ended_at),
            "similarity": similarity,
        }
        cameras = self.database.fetch_all(queries.PRESENCE, identity_id)
        if self.output.discovery_prefix:
            for topic, config in self._discovery(identity_id, name or external_id, cameras):
                self._publish(topic, config, retain=True)
        self._publish(self.person_topic(identity_id), state, retain=True)
        now = datetime.now(UTC)
        quiet = timedelta(seconds=self.output.presence_quiet_seconds)
        for camera_name, last in cameras:
            present = last + quiet > now
            self._publish(
                self.presence_topic(identity_id, camera_name), "ON" if present else "OFF", True
            )
            if present:
                self.presence_until[(identity_id, camera_name)] = last + quiet
            else:
                self.presence_until.pop((identity_id, camera_name), None)

    def _camera(self, camera: str) -> None:
        row = self.database.fetch_one(queries.CAMERA_STATE, camera, list(self.output.decisions))
        if row is None:
            self._publish(self.camera_topic(camera), b"", retain=True)
            return
        _, decision, started_at, ended_at, identity_id, name, external_id, source_system = row
        state = {
            "camera": camera,
            "decision": decision,
            "started_at": _iso(started_at),
            "last_sighting": _iso(ended_at),
            "identity_id": identity_id,
            "name": name,
            "external_id": external_id,
            "source_system": source_system,
        }
        self._publish(self.camera_topic(camera), state, retain=True)

    def _erased(self, event: Event) -> None:
        """Forget a person: empty retained payloads remove their state and, in
        Home Assistant, their entities; cameras that last saw them show the
        sighting before, or nothing."""
        identity_id = event.payload["person"]["identity_id"]
        cameras = event.payload.get("cameras") or []
        self._publish(f"{self.output.topic_prefix}/identity_erased", event.payload)
        topics = [self.person_topic(identity_id)]
        topics += [self.presence_topic(identity_id, c) for c in cameras]
        if self.output.discovery_prefix:
            rows = [(c, None) for c in cameras]
            topics += [topic for topic, _ in self._discovery(identity_id, "", rows)]
        for topic in topics:
            self._publish(topic, b"", retain=True)
        for camera in cameras:
            self.presence_until.pop((identity_id, camera), None)
            self._camera(camera)

    def _discovery(
        self, identity_id: str, name: str, cameras: list[tuple[str, Any]]
    ) -> list[tuple[str, dict]]:
        """Home Assistant's MQTT discovery configs of one person: a device with
        a "Last seen" timestamp sensor, a "Last camera" sensor, and a presence
        binary sensor per camera that saw them."""
        key = identity_id.replace("-", "")
        state_topic = self.person_topic(identity_id)
        common = {
            "availability_topic": self.status_topic,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": {
                "identifiers": [f"groundtruth_studio_person_{key}"],
                "name": name,
                "manufacturer": "GroundTruth Studio",
                "model": "Person",
            },
            "origin": {"name": "GroundTruth Studio", "sw_version": self.version},
        }
        configs = [
            (
                self._discovery_topic("sensor", f"studio_{key}_last_seen"),
                {
                    **common,
                    "name": "Last seen",
                    "unique_id": f"studio_{key}_last_seen",
                    "state_topic": state_topic,
                    "value_template": "{{ value_json.last_seen }}",
                    "device_class": "timestamp",
                    "json_attributes_topic": state_topic,
                },
            ),
            (
                self._discovery_topic("sensor", f"studio_{key}_last_camera"),
                {
                    **common,
                    "name": "Last camera",
                    "unique_id": f"studio_{key}_last_camera",
                    "state_topic": state_topic,
                    "value_template": "{{ value_json.camera }}",
                    "icon": "mdi:cctv",
                },
            ),
        ]
        for camera, _ in cameras:
            unique_id = f"studio_{key}_{camera_slug(camera)}_presence"
            configs.append(
                (
                    self._discovery_topic("binary_sensor", unique_id),
                    {
                        **common,
                        "name": f"At {camera}",
                        "unique_id": unique_id,
                        "state_topic": self.presence_topic(identity_id, camera),
                        "payload_on": "ON",
                        "payload_off": "OFF",
                        "device_class": "presence",
                    },
                )
            )
        return configs

    def tick(self) -> None:
        """Presence of a person at a camera turns OFF once they have not been
        seen there for the quiet time (retained, so every subscriber agrees)."""
        if not self.connected.is_set():
            return
        now = datetime.now(UTC)
        for (identity_id, camera), until in list(self.presence_until.items()):
            if until <= now:
                try:
                    self._publish(self.presence_topic(identity_id, camera), "OFF", retain=True)
                except PublishError:
                    return
                del self.presence_until[(identity_id, camera)]

    def resync(self) -> None:
        """After (re)connecting: every kept person's state, discovery and
        presence, and every camera's state, published again."""
        pairs = self.database.fetch_all(queries.SEEN_PAIRS)
        for identity_id in sorted({identity_id for identity_id, _, _ in pairs}):
            self._person(identity_id)
        for camera in sorted({camera for _, camera, _ in pairs}):
            self._camera(camera)

    def close(self) -> None:
        """Say "offline" (retained) and leave; the last will says it for a crash."""
        if self.client.is_connected():
            with contextlib.suppress(PublishError):
                self._publish(self.status_topic, "offline", retain=True)
        self.client.disconnect()
        self.client.loop_stop()


class PublishError(RuntimeError):
    """A message was not acknowledged by the broker."""
