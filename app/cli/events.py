"""`studio events`: the outbox. `events run` delivers it (MQTT, webhooks),
`events` lists recent events and the dead-letter list, `events replay`
queues deliveries again. Server side: they read the database, never the API."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import uuid
from pathlib import Path

from app import queries
from app.cli.backend import open_database, refusal
from app.cli.output import CommandError, print_table, when
from app.cli.parsing import DATABASE, environment
from app.config import Settings
from app.db import DatabaseError
from app.event_config import EventConfigError, load

log = logging.getLogger(__name__)


def add_commands(sub: argparse._SubParsersAction) -> None:
    events = sub.add_parser(
        "events",
        help="the event outbox: recent events, dead letters; run, replay",
        description="Recent events with what became of each delivery, then the "
        "dead-letter list (deliveries out of attempts). `events run` delivers events "
        "to MQTT and webhooks; `events replay` queues deliveries again.",
        epilog=environment(*DATABASE),
    )
    events.add_argument("--limit", type=int, default=20, help="events and dead letters shown")
    events.set_defaults(func=cmd_events)
    events_sub = events.add_subparsers(dest="events_command", metavar="ACTION")
    run = events_sub.add_parser(
        "run",
        help="deliver events to the outputs of a config file (until stopped)",
        description="Register the outputs of the config file (TOML: [[mqtt]] and "
        "[[webhook]] tables, docs/events.md) and deliver their events, at least once, "
        "until SIGTERM or SIGINT. Outputs no longer in the file are disabled.",
        epilog=environment(*DATABASE, "events_config"),
    )
    run.add_argument("--config", help="the config file (default: STUDIO_EVENTS_CONFIG)")
    run.add_argument(
        "--once", action="store_true", help="deliver what is due now, then stop (cron, tests)"
    )
    run.set_defaults(func=cmd_run)
    replay = events_sub.add_parser(
        "replay",
        help="queue deliveries again (one event's, or every dead one)",
        description="Queue deliveries again with their attempts reset: every delivery of "
        "one event, or with --dead every dead one; --output limits either to one output. "
        "A replayed event keeps its event id, so receivers can de-duplicate.",
        epilog=environment(*DATABASE),
    )
    replay.add_argument("event_id", nargs="?", help="the event to send again")
    replay.add_argument("--dead", action="store_true", help="every dead delivery")
    replay.add_argument("--output", help="only deliveries to this output")
    replay.set_defaults(func=cmd_replay)


def _summary(kind: str, payload: dict) -> str:
    """What an event says, in a few words: camera, decision, whom."""
    if kind == "sighting":
        sighting, person = payload.get("sighting", {}), payload.get("person") or {}
        who = person.get("name") or person.get("external_id") or ""
        return f"{sighting.get('camera')}: {sighting.get('decision')} {who}".strip()
    if kind == "identity_erased":
        return f"erased {payload.get('person', {}).get('identity_id')}"
    return ""


def cmd_events(args: argparse.Namespace, settings: Settings) -> int:
    with open_database(settings) as database:
        recent = database.fetch_all(queries.RECENT_EVENTS, args.limit)
        dead = database.fetch_all(queries.DEAD_DELIVERIES, args.limit)
    print_table(
        ["created", "event_id", "kind", "what", "deliveries"],
        [
            [
                when(created_at),
                event_id,
                kind,
                _summary(kind, payload),
                ", ".join(f"{o}: {s}" for o, s in sorted(states.items())) or "-",
            ]
            for event_id, kind, created_at, payload, states in recent
        ],
    )
    print()
    print(f"dead letters: {len(dead)}" + (" (`studio events replay --dead`)" if dead else ""))
    if dead:
        print_table(
            ["created", "event_id", "output", "kind", "attempts", "last error"],
            [
                [when(created_at), event_id, output, kind, str(attempts), error or "-"]
                for event_id, output, kind, created_at, attempts, error in dead
            ],
        )
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    if (args.event_id is None) == (not args.dead):
        raise CommandError("name an EVENT_ID or --dead (one of them)", 2)
    if args.event_id is not None:
        try:
            uuid.UUID(args.event_id)
        except ValueError:
            raise CommandError(f"{args.event_id!r} is not an event id (a UUID)", 2) from None
    with open_database(settings) as database:
        if args.output is not None:
            outputs = [name for (name,) in database.fetch_all(queries.EVENT_OUTPUT_NAMES)]
            if args.output not in outputs:
                raise CommandError(
                    f"no output named {args.output!r} (outputs: {', '.join(outputs) or 'none'})",
                    2,
                )
        try:
            count = database.value(queries.REPLAY_DELIVERIES, args.event_id, args.output, args.dead)
        except DatabaseError as exc:
            raise refusal(exc) from exc
    if not count and not args.dead:
        where = f" to {args.output}" if args.output else ""
        raise CommandError(f"event {args.event_id} has no delivery{where} to queue again", 1)
    print(f"queued {count} deliveries again")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from app.dispatcher import Dispatcher

    path = args.config or settings.events_config
    if not path:
        raise CommandError("name the outputs: --config FILE or STUDIO_EVENTS_CONFIG", 2)
    try:
        config = load(Path(path))
    except EventConfigError as exc:
        raise CommandError(str(exc), 2) from exc
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with open_database(settings) as database:
        dispatcher = Dispatcher(database, config, stop)
        try:
            try:
                registered = dispatcher.start()
            except DatabaseError as exc:
                raise refusal(exc) from exc
            names = ", ".join(o["output"] for o in registered["outputs"] if o["enabled"])
            log.info("events: delivering to %s", names)
            if args.once:
                return _once(dispatcher, stop)
            dispatcher.run()
        finally:
            dispatcher.close()
    return 0


def _once(dispatcher, stop: threading.Event) -> int:
    """Every output's due deliveries, then stop: MQTT outputs get a few seconds
    to connect first. A failed delivery waits for its backoff, for a later run."""
    for sender in dispatcher.senders.values():
        if hasattr(sender, "connected"):
            sender.connected.wait(10)
    total = 0
    while not stop.is_set():
        done = dispatcher.run_once()
        total += done
        if not done:
            break
    print(f"{total} deliveries attempted")
    return 0
