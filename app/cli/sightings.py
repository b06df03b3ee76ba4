"""`studio sightings`: who was seen where and when; `studio sightings purge`:
retention."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from app import queries
from app.cli.backend import backend, open_database, refusal
from app.cli.output import CommandError, print_json, print_table, when
from app.cli.parsing import CLIENT, DATABASE, environment
from app.config import Settings
from app.db import DatabaseError
from app.limits import DECISIONS, SIGHTING_PAGE_MAX

_AGO = re.compile(r"([0-9]+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def add_commands(sub: argparse._SubParsersAction) -> None:
    sightings = sub.add_parser(
        "sightings",
        help="who was seen where and when (the sightings history)",
        description="The sightings history, newest first: one row per camera track, with "
        "the person it identified (or none). Through the API when STUDIO_URL is set "
        "(a token with sightings:read), else straight to the database. "
        "`sightings purge` applies the retention.",
        epilog=environment(*CLIENT),
    )
    sightings.add_argument("--camera", help="only this camera's")
    sightings.add_argument("--person", metavar="EXTERNAL_ID", help="only this person's")
    sightings.add_argument("--source-system", help="only people of this source system")
    sightings.add_argument("--decision", choices=DECISIONS, help="only this decision")
    sightings.add_argument(
        "--since", help="ended at or after: an RFC 3339 time, or an age such as 30m, 24h, 7d"
    )
    sightings.add_argument("--until", help="started before: the same forms as --since")
    sightings.add_argument("--limit", type=int, default=50, help="rows shown at most")
    sightings.add_argument("--json", action="store_true", help="JSON instead of a table")
    sightings.set_defaults(func=cmd_sightings)
    sightings_sub = sightings.add_subparsers(dest="sightings_command", metavar="ACTION")
    purge = sightings_sub.add_parser(
        "purge",
        help="delete sightings older than the retention (for cron)",
        description="Delete the sightings (and their events) that ended more than N days "
        "ago; first_seen and last_seen stay. Run it daily from cron.",
        epilog=environment(*DATABASE, "sighting_retention_days"),
    )
    purge.add_argument(
        "--days",
        type=int,
        help="keep this many days (default: STUDIO_SIGHTING_RETENTION_DAYS, 30)",
    )
    purge.set_defaults(func=cmd_purge)


def moment(text: str | None, now: datetime | None = None) -> str | None:
    """An RFC 3339 time as given, or an age ("30m", "24h", "7d", "2w") as the
    RFC 3339 time that long before now."""
    if text is None:
        return None
    match = _AGO.fullmatch(text.strip())
    if not match:
        return text.strip()
    try:
        ago = timedelta(**{_UNITS[match[2]]: int(match[1])})
        return ((now or datetime.now(UTC)) - ago).isoformat()
    except OverflowError:  # an age before year 1
        raise CommandError(f"{text!r}: an age that reaches before the year 1", 2) from None


def cmd_sightings(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise CommandError("--limit must be at least 1", 2)
    client = backend(settings)
    filters = {
        "camera": args.camera,
        "external_id": args.person,
        "source_system": args.source_system,
        "decision": args.decision,
        "since": moment(args.since),
        "until": moment(args.until),
    }
    rows: list[dict] = []
    cursor = None
    while len(rows) < args.limit:
        page = client.sightings(
            **filters, limit=min(SIGHTING_PAGE_MAX, args.limit - len(rows)), cursor=cursor
        )
        rows += page["sightings"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ["started", "ended", "camera", "decision", "person", "external_id", "source", "best"],
        [
            [
                when(r["started_at"]),
                when(r["ended_at"]),
                r["camera"],
                r["decision"],
                (r["identity"] or {}).get("name") or "-",
                (r["identity"] or {}).get("external_id") or "-",
                (r["identity"] or {}).get("source_system") or "-",
                "-" if r["best_similarity"] is None else f"{r['best_similarity']:.2f}",
            ]
            for r in rows
        ],
    )
    print(f"{len(rows)} sightings" + (" (more: raise --limit)" if cursor else ""))
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    days = settings.sighting_retention_days if args.days is None else args.days
    if days < 1:
        raise CommandError("--days must be at least 1", 2)
    if settings.studio_url and not settings.database_url:
        # A purge is the database's work, not the API's: run on the Studio host
        # it would otherwise start (and purge) an empty embedded database.
        raise CommandError(
            "studio sightings purge runs against the database, not the API: set "
            "STUDIO_DATABASE_URL (or run it on the Studio host without STUDIO_URL)",
            2,
        )
    with open_database(settings) as database:
        try:
            purged = database.value(queries.PURGE_SIGHTINGS, days)
        except DatabaseError as exc:
            raise refusal(exc) from exc
    print(f"purged {purged} sightings older than {days} days")
    return 0
