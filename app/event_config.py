"""The event dispatcher's config file (STUDIO_EVENTS_CONFIG, TOML): its MQTT
brokers and webhooks, each an output of the outbox (docs/events.md).

    [[mqtt]]
    name = "home_assistant"          # the output's name, in the database too
    host = "127.0.0.1"
    port = 1883
    username = "studio"              # optional, with password
    password = "..."
    topic_prefix = "studio"
    discovery_prefix = "homeassistant"   # "" turns Home Assistant discovery off
    presence_quiet_seconds = 300     # presence turns off after this long unseen
    decisions = ["identified"]       # the default; add "unknown", "uncertain"

    [[webhook]]
    name = "alerts"
    url = "https://alerts.example/hook"
    secret = "..."                   # HMAC-SHA256 key of the signature header
    decisions = ["identified", "unknown"]
    max_attempts = 8                 # then the delivery is dead (studio events)
    backoff_seconds = 5              # doubled after each failure ...
    max_backoff_seconds = 3600       # ... up to this
    timeout_seconds = 10
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.limits import DECISIONS

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# An MQTT topic level we build on: no wildcard, no level separator, no NUL.
_TOPIC = re.compile(r"[^#+\x00]+")


class EventConfigError(ValueError):
    """The config file cannot be used; the message names the file, the table and the key."""


@dataclass(frozen=True)
class Retry:
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float


# A broker away is retried for long: events wait rather than die. A webhook
# receiver that keeps failing gives up sooner, into the dead-letter list.
MQTT_RETRY = Retry(50, 5.0, 300.0)
WEBHOOK_RETRY = Retry(8, 5.0, 3600.0)


@dataclass(frozen=True)
class MqttOutput:
    name: str
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    topic_prefix: str = "studio"
    discovery_prefix: str = "homeassistant"
    presence_quiet_seconds: float = 300.0
    client_id: str | None = None
    decisions: tuple[str, ...] = ("identified",)
    retry: Retry = MQTT_RETRY
    kind: str = "mqtt"


@dataclass(frozen=True)
class WebhookOutput:
    name: str
    url: str
    secret: str
    decisions: tuple[str, ...] = ("identified",)
    timeout_seconds: float = 10.0
    retry: Retry = WEBHOOK_RETRY
    kind: str = "webhook"


@dataclass(frozen=True)
class EventConfig:
    outputs: tuple[MqttOutput | WebhookOutput, ...]
    poll_seconds: float = 1.0
    lease_seconds: int = 60
    batch: int = 100

    def registration(self) -> list[dict[str, Any]]:
        """The outputs as register_event_outputs() takes them."""
        return [
            {"output": o.name, "kind": o.kind, "decisions": list(o.decisions)} for o in self.outputs
        ]


_MQTT_KEYS = {
    "name",
    "host",
    "port",
    "username",
    "password",
    "topic_prefix",
    "discovery_prefix",
    "presence_quiet_seconds",
    "client_id",
    "decisions",
    "max_attempts",
    "backoff_seconds",
    "max_backoff_seconds",
}
_WEBHOOK_KEYS = {
    "name",
    "url",
    "secret",
    "decisions",
    "timeout_seconds",
    "max_attempts",
    "backoff_seconds",
    "max_backoff_seconds",
}
_DISPATCHER_KEYS = {"poll_seconds", "lease_seconds", "batch"}


def load(path: Path) -> EventConfig:
    """Read and check a config file. Raises EventConfigError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EventConfigError(f"{path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EventConfigError(f"{path}: not TOML: {exc}") from exc
    return parse(data, str(path))


def parse(data: dict[str, Any], where: str = "config") -> EventConfig:
    """The config of a TOML document already read. Raises EventConfigError."""
    unknown = sorted(set(data) - {"mqtt", "webhook", "dispatcher"})
    if unknown:
        raise EventConfigError(f"{where}: unknown table {unknown[0]!r}; expected mqtt, webhook")
    outputs: list[MqttOutput | WebhookOutput] = []
    for kind, keys in (("mqtt", _MQTT_KEYS), ("webhook", _WEBHOOK_KEYS)):
        tables = data.get(kind, [])
        if not isinstance(tables, list):
            raise EventConfigError(f"{where}: write [[{kind}]] (a list of tables)")
        for i, table in enumerate(tables):
            outputs.append(_output(kind, table, keys, f"{where}: [[{kind}]] #{i + 1}"))
    names = [o.name for o in outputs]
    for name in names:
        if names.count(name) > 1:
            raise EventConfigError(f"{where}: output name {name!r} is used twice")
    if not outputs:
        raise EventConfigError(f"{where}: no [[mqtt]] or [[webhook]] output")
    dispatcher = data.get("dispatcher", {})
    _keys(dispatcher, _DISPATCHER_KEYS, f"{where}: [dispatcher]")
    return EventConfig(
        tuple(outputs),
        poll_seconds=_number(dispatcher, "poll_seconds", 1.0, 0.05, 60, f"{where}: [dispatcher]"),
        lease_seconds=int(
            _number(dispatcher, "lease_seconds", 60, 5, 3600, f"{where}: [dispatcher]")
        ),
        batch=int(_number(dispatcher, "batch", 100, 1, 1000, f"{where}: [dispatcher]")),
    )


def _keys(table: Any, allowed: set[str], where: str) -> None:
    if not isinstance(table, dict):
        raise EventConfigError(f"{where}: must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise EventConfigError(
            f"{where}: unknown key {unknown[0]!r}; expected one of {', '.join(sorted(allowed))}"
        )


def _text(table: dict, key: str, where: str, default: str | None = None) -> str | None:
    value = table.get(key, default)
    if value is not None and (not isinstance(value, str) or "\x00" in value):
        raise EventConfigError(f"{where}: {key} must be a text")
    return value


def _number(table: dict, key: str, default: float, low: float, high: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise EventConfigError(f"{where}: {key} must be a number from {low:g} to {high:g}")
    return float(value)


def _output(kind: str, table: Any, keys: set[str], where: str) -> MqttOutput | WebhookOutput:
    _keys(table, keys, where)
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise EventConfigError(f"{where}: name must be 1 to 100 of A-Z a-z 0-9 _ . -")
    where = f"{where} ({name})"
    decisions = table.get("decisions", ["identified"])
    if (
        not isinstance(decisions, list)
        or not decisions
        or any(d not in DECISIONS for d in decisions)
        or len(set(decisions)) != len(decisions)
    ):
        raise EventConfigError(f"{where}: decisions must list some of {', '.join(DECISIONS)}")
    default = WEBHOOK_RETRY if kind == "webhook" else MQTT_RETRY
    retry = Retry(
        int(_number(table, "max_attempts", default.max_attempts, 1, 1000, where)),
        _number(table, "backoff_seconds", default.backoff_seconds, 0.01, 86400, where),
        _number(table, "max_backoff_seconds", default.max_backoff_seconds, 0.01, 604800, where),
    )
    if kind == "webhook":
        url, secret = _text(table, "url", where), _text(table, "secret", where)
        if not url or not re.match(r"https?://[^/\s]+", url):
            raise EventConfigError(f"{where}: url must be an http:// or https:// address")
        if not secret or len(secret) < 16:
            raise EventConfigError(f"{where}: secret must be at least 16 characters")
        return WebhookOutput(
            name,
            url,
            secret,
            tuple(decisions),
            _number(table, "timeout_seconds", 10, 0.1, 300, where),
            retry,
        )
    host = _text(table, "host", where)
    if not host:
        raise EventConfigError(f"{where}: host is required")
    prefixes = {}
    for key, fallback in (("topic_prefix", "studio"), ("discovery_prefix", "homeassistant")):
        value = _text(table, key, where, fallback) or ""
        if value and not all(_TOPIC.fullmatch(level) for level in value.split("/")):
            raise EventConfigError(f"{where}: {key} must be topic levels without + or #")
        prefixes[key] = value
    if not prefixes["topic_prefix"]:
        raise EventConfigError(f"{where}: topic_prefix must not be empty")
    return MqttOutput(
        name,
        host,
        int(_number(table, "port", 1883, 1, 65535, where)),
        _text(table, "username", where),
        _text(table, "password", where),
        prefixes["topic_prefix"],
        prefixes["discovery_prefix"],
        _number(table, "presence_quiet_seconds", 300, 1, 86400, where),
        _text(table, "client_id", where),
        tuple(decisions),
        retry,
    )
