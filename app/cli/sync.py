"""`studio sync` and `studio ingest`: people and face vectors from files."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from app.cli.backend import DatabaseBackend, backend
from app.cli.output import CommandError, print_json
from app.cli.parsing import CLIENT, environment
from app.config import Settings
from worker.studio_client import FACES_PER_CALL, StudioClient, StudioError, ingest_chunks

CALLS = environment(*CLIENT)


def add_commands(sub: argparse._SubParsersAction) -> None:
    sync = sub.add_parser(
        "sync",
        help="sync identities from a JSON or CSV file, or standard input",
        description="Examples: studio sync people.csv --source-system alfred_catalog; "
        "alfred-export-people | studio sync - --source-system alfred_catalog --full. "
        "JSON is the API's sync payload or a list of identities; CSV is "
        "external_id,name[,action] rows, with or without that header.",
        epilog=CALLS,
    )
    sync.add_argument("file", help='a .json or .csv file, or "-" for standard input')
    sync.add_argument("--source-system", help="required for CSV; overrides the JSON's")
    sync.add_argument(
        "--format", choices=("json", "csv"), help="default: from the suffix, or sniffed on stdin"
    )
    sync.add_argument(
        "--full",
        action="store_true",
        help="the input is the whole list: people missing from it are deleted",
    )
    sync.add_argument("--dry-run", action="store_true", help="report what would change, store none")
    sync.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="let a full sync delete more than half of the source's people",
    )
    sync.set_defaults(func=cmd_sync)

    ingest = sub.add_parser(
        "ingest",
        help="ingest embeddings from a JSON file",
        description="Ingest face vectors from a JSON file in the API's ingest shape, "
        "sent in calls of at most --faces-per-call faces; totals are summed.",
        epilog=CALLS,
    )
    ingest.add_argument("file", help="a JSON file: the ingest payload (results with faces)")
    ingest.add_argument(
        "--faces-per-call",
        type=_positive,
        default=FACES_PER_CALL,
        help="faces sent in one call, at most",
    )
    ingest.set_defaults(func=cmd_ingest)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def read_sync_file(file: str, source_system: str | None, fmt: str | None = None) -> dict:
    """A sync payload from a file, or standard input when `file` is "-".

    JSON: the API's payload, or a bare list of identities. CSV:
    external_id,name[,action] rows, an optional header. The format is `fmt`,
    else the file's suffix, else (standard input) JSON when the text starts
    with { or [. Raises CommandError with a one-line reason."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {file}: {exc}") from exc
    if fmt is None:
        if file != "-":
            fmt = "csv" if Path(file).suffix.lower() == ".csv" else "json"
        else:
            fmt = "json" if text.lstrip()[:1] in ("{", "[") else "csv"
    if fmt == "json":
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"{file} is not JSON: {exc}") from exc
        if isinstance(payload, list):
            payload = {"identities": payload}
        if not isinstance(payload, dict):
            raise CommandError(f"{file}: JSON must be a sync payload or a list of identities")
        if source_system:
            payload["source_system"] = source_system
        if "source_system" not in payload:
            raise CommandError("no source_system in the JSON; pass --source-system")
        return payload
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["external_id", "name"]:
        rows = rows[1:]
    identities = []
    for row in rows:
        if not row:
            continue
        item = {"external_id": row[0], "name": row[1] if len(row) > 1 else None}
        if len(row) > 2 and row[2].strip():
            item["action"] = row[2].strip()
        identities.append(item)
    if not source_system:
        raise CommandError("CSV needs --source-system")
    return {"source_system": source_system, "identities": identities}


def sync_and_print(settings: Settings, payload: dict) -> int:
    print_json(backend(settings).sync(payload))
    return 0


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    payload = read_sync_file(args.file, args.source_system, args.format)
    for flag in ("dry_run", "allow_mass_delete"):
        if getattr(args, flag):
            payload[flag] = True
    if args.full:
        payload["mode"] = "full"
    return sync_and_print(settings, payload)


def send_ingest(
    client: StudioClient | DatabaseBackend,
    payload: Any,
    faces_per_call: int = FACES_PER_CALL,
    progress: Callable[[int], object] = lambda faces: None,
) -> dict:
    """Send an ingest payload in calls of at most `faces_per_call` faces; return the
    calls' counts summed and every skipped entry. A payload not of the ingest
    shape goes as it is, for Studio to say what is wrong with it. Raises
    StudioError at the first refused call (the calls before it stay stored)."""
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        calls: Iterable[tuple[Any, int]] = ingest_chunks(payload, faces_per_call)
    else:
        calls = [(payload, 0)]
    totals: dict[str, int] = {}
    skipped: list = []
    for call, faces in calls:
        result = client.ingest(call)
        for key, value in result.items():
            if isinstance(value, int) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
        skipped += result.get("skipped", [])
        progress(faces)
    return {**totals, "skipped": skipped}


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    try:
        payload = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"{args.file} is not JSON: {exc}") from exc
    total = 0
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        total = sum(
            len(r["faces"])
            for r in payload["results"]
            if isinstance(r, dict) and isinstance(r.get("faces"), list)
        )
    client = backend(settings)
    with tqdm(total=total, unit="face", disable=total < 2000 or not sys.stderr.isatty()) as bar:
        try:
            result = send_ingest(client, payload, args.faces_per_call, bar.update)
        except StudioError:
            print(f"stopped after {bar.n} of {total} faces", file=sys.stderr)
            raise
    print_json({"success": True, **result})
    return 0
