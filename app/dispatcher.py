"""`studio events run`: deliver the outbox. Each output of the config file
(app/event_config.py) is registered in the database, then, in a loop, its
due deliveries are claimed (FOR UPDATE SKIP LOCKED, under a lease), sent,
and recorded as delivered or failed (retried with backoff, dead after the
output's attempts). At least once: a dispatcher that dies mid-send leaves
the delivery to be sent again when its lease runs out; receivers
de-duplicate on the event id."""

from __future__ import annotations

import json
import logging
import threading
from importlib.metadata import PackageNotFoundError, version

from app import queries
from app.db import Database, DatabaseError
from app.event_config import EventConfig, MqttOutput
from app.event_outputs import Event, MqttPublisher, WebhookSender

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("groundtruth-studio-sync")
    except PackageNotFoundError:
        return "unknown"


class Dispatcher:
    """Delivers the events of every output of `config` until `stop` is set."""

    def __init__(self, database: Database, config: EventConfig, stop: threading.Event):
        self.database = database
        self.config = config
        self.stop = stop
        self.senders: dict[str, MqttPublisher | WebhookSender] = {}

    def start(self) -> dict:
        """Register the outputs (disabling those no longer configured) and open them."""
        registered = self.database.value(
            queries.REGISTER_EVENT_OUTPUTS, json.dumps(self.config.registration())
        )
        for output in self.config.outputs:
            if isinstance(output, MqttOutput):
                self.senders[output.name] = MqttPublisher(output, self.database, _version())
            else:
                self.senders[output.name] = WebhookSender(output, _version())
        return registered

    def run_once(self) -> int:
        """One round: each ready output's due deliveries, sent in event order.
        Returns how many were sent (or failed)."""
        done = 0
        for output in self.config.outputs:
            sender = self.senders[output.name]
            if self.stop.is_set() or not sender.ready():
                continue
            rows = self.database.fetch_all(
                queries.CLAIM_DELIVERIES, output.name, self.config.batch, self.config.lease_seconds
            )
            for event_id, kind, payload, created_at, attempts in rows:
                event = Event(event_id, kind, payload, created_at, attempts)
                error = sender.handle(event)
                retry = output.retry
                state = self.database.value(
                    queries.FINISH_DELIVERY,
                    event_id,
                    output.name,
                    error,
                    retry.max_attempts,
                    retry.backoff_seconds,
                    retry.max_backoff_seconds,
                )
                done += 1
                if error is not None:
                    log.warning(
                        "%s: event %s (%s) not delivered, attempt %s: %s; now %s",
                        output.name,
                        event_id,
                        kind,
                        attempts,
                        error,
                        state,
                    )
                    if isinstance(sender, MqttPublisher):
                        # The broker is away: the rest of the batch waits out its
                        # lease rather than spend attempts, and keeps its order.
                        break
            sender.tick()
        return done

    def run(self) -> None:
        """Loop until `stop` is set; a database away is waited out."""
        while not self.stop.is_set():
            try:
                done = self.run_once()
            except DatabaseError as exc:
                log.warning("events: the database is unavailable (%s); retrying", exc)
                self.stop.wait(5 * self.config.poll_seconds)
                continue
            if not done:
                self.stop.wait(self.config.poll_seconds)

    def close(self) -> None:
        for sender in self.senders.values():
            sender.close()
