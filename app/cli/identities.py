"""What Studio holds of a source system: list, delete, export, import, audit."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app import queries
from app.cli.backend import backend, open_database
from app.cli.output import CommandError, print_json, print_table, when
from app.cli.parsing import CLIENT, DATABASE, environment
from app.cli.sync import send_ingest, sync_and_print
from app.config import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    calls, database = environment(*CLIENT), environment(*DATABASE)
    identities = sub.add_parser(
        "identities",
        help="list (or delete) external identities",
        description="List the people Studio holds, with their embedding counts; "
        "`identities delete` erases some.",
        epilog=calls,
    )
    identities.add_argument("--source-system", help="only this source system's (default: all)")
    identities.add_argument("--json", action="store_true", help="JSON instead of a table")
    identities.set_defaults(func=cmd_identities)
    identities_sub = identities.add_subparsers(dest="identities_command", metavar="ACTION")
    delete = identities_sub.add_parser(
        "delete",
        help="erase people and all their vectors",
        description="Erase people: their identity and every embedding. A tombstone and "
        "an audit entry with counts stay, never the name or a vector.",
        epilog=calls,
    )
    delete.add_argument("external_ids", nargs="+", metavar="EXTERNAL_ID", help="whom to erase")
    delete.add_argument("--source-system", required=True, help="the source system they are in")
    delete.set_defaults(func=cmd_identities_delete)

    export = sub.add_parser(
        "export",
        help="a source system's identities and vectors, to a file",
        description="Write a source system's identities and vectors (never photos) "
        "to a JSON file that `studio import` applies elsewhere.",
        epilog=database,
    )
    export.add_argument("file", help="the JSON file to write")
    export.add_argument("--source-system", required=True, help="the source system to export")
    export.set_defaults(func=cmd_export)
    import_ = sub.add_parser(
        "import",
        help="import an export (idempotent)",
        description="Apply a `studio export` file through the validated sync and ingest "
        "functions; importing it twice stores nothing twice.",
        epilog=calls,
    )
    import_.add_argument("file", help="a file `studio export` wrote")
    import_.set_defaults(func=cmd_import)

    audit = sub.add_parser(
        "audit",
        help="the journal of sync and ingest calls",
        description="The journal of sync and ingest calls, newest first: when, which "
        "caller, which source, what counts.",
        epilog=database,
    )
    audit.add_argument("--source-system", help="only this source system's (default: all)")
    audit.add_argument("--limit", type=int, default=50, help="entries shown")
    audit.set_defaults(func=cmd_audit)


def cmd_identities(args: argparse.Namespace, settings: Settings) -> int:
    client = backend(settings)
    rows: list[dict] = []
    cursor = None
    while True:
        page = client.identities(args.source_system, 1000, cursor)
        rows += page["identities"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ["source_system", "external_id", "name", "embeddings", "last_seen"],
        [
            [
                r["source_system"],
                r["external_id"],
                r["name"],
                str(r["embedding_count"]),
                when(r["last_seen"]),
            ]
            for r in rows
        ],
    )
    print(f"{len(rows)} identities")
    return 0


def cmd_identities_delete(args: argparse.Namespace, settings: Settings) -> int:
    """Erase people: their identity and every embedding; a tombstone and an audit
    entry with counts stay, never the name or a vector."""
    payload = {
        "source_system": args.source_system,
        "identities": [{"external_id": e, "action": "delete"} for e in args.external_ids],
    }
    return sync_and_print(settings, payload)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from app.gallery_export import export_gallery

    with open_database(settings) as database:
        gallery = export_gallery(database, args.source_system)
    Path(args.file).write_text(json.dumps(gallery))
    faces = sum(len(f) for f in gallery["embeddings"].values())
    print(f"exported {len(gallery['identities'])} identities, {faces} embeddings to {args.file}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from app.gallery_export import import_payloads

    try:
        identities, ingests = import_payloads(json.loads(Path(args.file).read_text()))
    except ValueError as exc:  # not JSON, or not an export
        raise CommandError(str(exc)) from exc
    client = backend(settings)
    synced = client.sync(identities)
    totals = {"created": synced["created"], "updated": synced["updated"]}
    totals |= {"embeddings_stored": 0, "duplicates_skipped": 0}
    for payload in ingests:
        result = send_ingest(client, payload)
        for key in ("embeddings_stored", "duplicates_skipped"):
            totals[key] += result.get(key, 0)
    print_json(totals)
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    with open_database(settings) as database:
        rows = database.fetch_all(
            queries.AUDIT_JOURNAL, source=args.source_system, limit=args.limit
        )
    print_table(
        ["when", "operation", "source", "caller", "dry run", "counts"],
        [
            [
                when(at),
                op,
                source,
                caller,
                "yes" if dry else "",
                json.dumps(counts, sort_keys=True),
            ]
            for at, op, source, caller, dry, counts in rows
        ],
    )
    return 0
