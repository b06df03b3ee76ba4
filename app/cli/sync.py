"""`studio sync` and `studio ingest`: people and face vectors from files."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from app.cli.backend import backend
from app.cli.output import CommandError, print_json
from app.cli.parsing import CLIENT, environment
from app.config import Settings
from worker.studio_client import StudioError

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
        "sent in calls of about --faces-per-call faces; totals are summed.",
        epilog=CALLS,
    )
    ingest.add_argument("file", help="a JSON file: the ingest payload (results with faces)")
    ingest.add_argument(
        "--faces-per-call", type=_positive, default=1000, help="faces sent in one call"
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


def ingest_chunks(payload: dict, faces_per_call: int) -> Iterator[tuple[dict, int]]:
    """Split an ingest payload into calls of about `faces_per_call` faces each."""
    base = {k: v for k, v in payload.items() if k != "results"}
    chunk: list[dict] = []
    count = 0
    for result in payload.get("results", []):
        faces = result.get("faces", [])
        if not faces:
            chunk.append(result)
            continue
        for start in range(0, len(faces), faces_per_call):
            part = faces[start : start + faces_per_call]
            chunk.append({**result, "faces": part})
            count += len(part)
            if count >= faces_per_call:
                yield {**base, "results": chunk}, count
                chunk, count = [], 0
    if chunk:
        yield {**base, "results": chunk}, count


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    try:
        payload = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"{args.file} is not JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        # Not our shape: let the server say exactly what is wrong with it.
        chunks: Any = [(payload, 0)]
        total = 0
    else:
        total = sum(len(r.get("faces", [])) for r in payload["results"] if isinstance(r, dict))
        chunks = ingest_chunks(payload, args.faces_per_call)
    client = backend(settings)
    totals: dict[str, int] = {}
    skipped: list = []
    with tqdm(total=total, unit="face", disable=total < 2000 or not sys.stderr.isatty()) as bar:
        for chunk, faces in chunks:
            try:
                result = client.ingest(chunk)
            except StudioError:
                print(f"stopped after {bar.n} of {total} faces", file=sys.stderr)
                raise
            for key, value in result.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[key] = totals.get(key, 0) + value
            skipped += result.get("skipped", [])
            bar.update(faces)
    print_json({"success": True, **totals, "skipped": skipped})
    return 0
