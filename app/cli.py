"""The `studio` command."""

from __future__ import annotations

import argparse
import atexit
import csv
import getpass
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from tqdm import tqdm

from app import embedded_db, migrations, queries
from app.config import Settings
from app.errors import from_database_error
from worker.studio_client import StudioClient, StudioError


class DatabaseBackend:
    """The client commands, straight to the SQL functions (no server needed)."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self.caller = f"cli:{getpass.getuser()}"

    def _call(self, query: str, *args: Any) -> Any:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                return conn.execute(query, args).fetchone()[0]
        except psycopg.Error as exc:
            error = from_database_error(exc)
            raise StudioError(error.status, error.body()) from exc

    def sync(self, payload: str | dict) -> dict:
        return self._call(queries.SYNC_IDENTITIES, _text(payload), self.caller, None)

    def ingest(self, payload: str | dict) -> dict:
        return self._call(queries.INGEST_EMBEDDINGS, _text(payload), self.caller, None)

    def identities(
        self, source_system: str | None = None, limit: int = 1000, cursor: str | None = None
    ) -> dict:
        return self._call(queries.EXTERNAL_IDENTITIES, source_system, limit, cursor, None)


def _text(payload: str | dict) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload)


def _backend(settings: Settings) -> StudioClient | DatabaseBackend:
    """The API at STUDIO_URL when set (with STUDIO_TOKEN), else the database directly."""
    if settings.studio_url:
        return StudioClient(settings.studio_url, settings.studio_token)
    return DatabaseBackend(_migrated_url(settings))


def _migrated_url(settings: Settings) -> str:
    url = embedded_db.database_url(settings)
    if not settings.database_url:
        migrations.migrate(url)  # the embedded database is ours to keep current
    return url


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


# ---------------------------------------------------------------- serve, db


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import logging

    from app import create_app
    from app.server import GunicornServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings.from_env(**{**settings.__dict__, **overrides})
    url = embedded_db.database_url(settings)
    if settings.database_url:
        with psycopg.connect(url) as conn:
            if migrations.current_version(conn) < migrations.load_migrations()[-1].version:
                print("the database is behind this code: run `studio migrate`", file=sys.stderr)
                return 2
    else:
        applied = migrations.migrate(url)
        if applied:
            print(f"migrated the embedded database: {', '.join(applied)}", file=sys.stderr)
    first_token = _first_admin_token(url) if not settings.database_url else None
    _banner(settings, first_token)
    if not settings.database_url:
        # The embedded server is ours: if it dies, start it again rather than
        # answer 503 until someone notices. Registered after the server's own
        # exit handler, so it stops watching before that handler stops it.
        supervisor = embedded_db.Supervisor(settings.data_dir).start()
        atexit.register(supervisor.stop)
        os.environ[embedded_db.SUPERVISOR_STATE_ENV] = str(supervisor.state_file)
    serving = Settings.from_env(**{**settings.__dict__, "database_url": url})
    # Counters shared by gunicorn's worker processes (app/metrics.py).
    metrics_dir = tempfile.mkdtemp(prefix="studio-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
    from prometheus_client import values

    # Chosen when prometheus_client was imported, before the directory was
    # set; labelled series are created in the workers, after this.
    values.ValueClass = values.get_value_class()
    GunicornServer(
        lambda: create_app(serving), settings.host, settings.port, workers=args.workers
    ).run()
    return 0


def _first_admin_token(url: str) -> str | None:
    """On a fresh embedded database, make one admin token so the API is usable at once."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM api_tokens").fetchone()[0]:
            return None
        return conn.execute(
            queries.CREATE_TOKEN, ("local-admin", ["admin"], None, None)
        ).fetchone()[1]


def _banner(settings: Settings, first_token: str | None) -> None:
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        f"GroundTruth Studio identity sync listening on {base}",
        f"  health:  curl {base}/healthz",
        f"  API doc: {base}/api/openapi.json",
        "  Every /api route needs a token: Authorization: Bearer <token>",
    ]
    if first_token:
        lines += [
            "  A first admin token was created (shown once, keep it):",
            f"    {first_token}",
        ]
    lines += [
        "  Make a token:  .venv/bin/studio token create --name alfred \\",
        "                   --scope identities:write --scope embeddings:write \\",
        "                   --scope identities:read --source alfred_catalog",
        f"  Try it:        curl -H 'Authorization: Bearer <token>' {base}/api/identities/external",
        "",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    url = embedded_db.database_url(settings)
    applied = migrations.migrate(url)
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


def cmd_db_url(args: argparse.Namespace, settings: Settings) -> int:
    print(embedded_db.database_url(settings, keep_running=True))
    if not settings.database_url:
        print("(the embedded server keeps running; `studio db-stop` stops it)", file=sys.stderr)
    return 0


def cmd_db_stop(args: argparse.Namespace, settings: Settings) -> int:
    stopped = not settings.database_url and embedded_db.stop(settings.data_dir)
    print("stopped" if stopped else "no embedded server was running")
    return 0


def cmd_psql(args: argparse.Namespace, settings: Settings) -> int:
    url = _migrated_url(settings)
    return subprocess.call([str(embedded_db.bin_path("psql")), url, *args.psql_args])


# ---------------------------------------------------------------- tokens


MAX_TOKEN_DAYS = 36_500


def _token_days(text: str) -> float:
    """--expires-in-days: more than 0 days (0 must never read as "never expires")."""
    try:
        days = float(text)
    except ValueError:
        days = float("nan")
    if not math.isfinite(days) or not 0 < days <= MAX_TOKEN_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of days above 0 and at most {MAX_TOKEN_DAYS} "
            "(leave the option out for a token that never expires)"
        )
    return days


def _parse_expiry(days: float | None) -> datetime | None:
    return datetime.now(UTC) + timedelta(days=days) if days is not None else None


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    url = _migrated_url(settings)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            token_id, token = conn.execute(
                queries.CREATE_TOKEN,
                (args.name, args.scope, args.source or None, _parse_expiry(args.expires_in_days)),
            ).fetchone()
    except psycopg.Error as exc:
        error = from_database_error(exc)
        return _report(StudioError(error.status, error.body()))
    print(token)
    print(
        f"token {args.name} ({token_id}) created; it is shown only this once",
        file=sys.stderr,
    )
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    url = _migrated_url(settings)
    with psycopg.connect(url) as conn:
        rows = conn.execute(queries.LIST_TOKENS).fetchall()
    table = [
        [
            name,
            str(token_id),
            ",".join(scopes),
            ",".join(sources) if sources else "any",
            _when(expires),
            state,
            _when(last_used),
        ]
        for name, token_id, scopes, sources, _created, expires, state, last_used in rows
    ]
    _print_table(["name", "token_id", "scopes", "sources", "expires", "state", "last used"], table)
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    url = _migrated_url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        count = conn.execute(queries.REVOKE_TOKEN, (args.name_or_id,)).fetchone()[0]
    print(f"revoked {count} token(s)")
    return 0 if count else 1


# ---------------------------------------------------------------- sync, ingest


def read_sync_file(file: str, source_system: str | None, fmt: str | None = None) -> dict:
    """A sync payload from a file, or standard input when `file` is "-".

    JSON: the API's payload, or a bare list of identities. CSV:
    external_id,name[,action] rows, an optional header. The format is `fmt`,
    else the file's suffix, else (standard input) JSON when the text starts
    with { or [. Raises SystemExit with a one-line reason."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"error: cannot read {file}: {exc}") from exc
    if fmt is None:
        if file != "-":
            fmt = "csv" if Path(file).suffix.lower() == ".csv" else "json"
        else:
            fmt = "json" if text.lstrip()[:1] in ("{", "[") else "csv"
    if fmt == "json":
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise SystemExit(f"error: {file} is not JSON: {exc}") from exc
        if isinstance(payload, list):
            payload = {"identities": payload}
        if not isinstance(payload, dict):
            raise SystemExit(f"error: {file}: JSON must be a sync payload or a list of identities")
        if source_system:
            payload["source_system"] = source_system
        if "source_system" not in payload:
            raise SystemExit("error: no source_system in the JSON; pass --source-system")
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
        raise SystemExit("error: CSV needs --source-system")
    return {"source_system": source_system, "identities": identities}


def _sync_and_print(settings: Settings, payload: dict) -> int:
    try:
        result = _backend(settings).sync(payload)
    except StudioError as exc:
        return _report(exc)
    _print_json(result)
    return 0


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    payload = read_sync_file(args.file, args.source_system, args.format)
    for flag in ("dry_run", "allow_mass_delete"):
        if getattr(args, flag):
            payload[flag] = True
    if args.full:
        payload["mode"] = "full"
    return _sync_and_print(settings, payload)


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
    payload = json.loads(Path(args.file).read_text(encoding="utf-8"))
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        # Not our shape: let the server say exactly what is wrong with it.
        chunks: Any = [(payload, 0)]
        total = 0
    else:
        total = sum(len(r.get("faces", [])) for r in payload["results"] if isinstance(r, dict))
        chunks = ingest_chunks(payload, args.faces_per_call)
    backend = _backend(settings)
    totals: dict[str, int] = {}
    skipped: list = []
    with tqdm(total=total, unit="face", disable=total < 2000 or not sys.stderr.isatty()) as bar:
        for chunk, faces in chunks:
            try:
                result = backend.ingest(chunk)
            except StudioError as exc:
                print(f"stopped after {bar.n} of {total} faces", file=sys.stderr)
                return _report(exc)
            for key, value in result.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[key] = totals.get(key, 0) + value
            skipped += result.get("skipped", [])
            bar.update(faces)
    _print_json({"success": True, **totals, "skipped": skipped})
    return 0


# ---------------------------------------------------------------- identities


def cmd_identities(args: argparse.Namespace, settings: Settings) -> int:
    backend = _backend(settings)
    rows: list[dict] = []
    cursor = None
    try:
        while True:
            page = backend.identities(args.source_system, 1000, cursor)
            rows += page["identities"]
            cursor = page["next_cursor"]
            if not cursor:
                break
    except StudioError as exc:
        return _report(exc)
    if args.json:
        _print_json(rows)
        return 0
    _print_table(
        ["source_system", "external_id", "name", "embeddings", "last_seen"],
        [
            [
                r["source_system"],
                r["external_id"],
                r["name"],
                str(r["embedding_count"]),
                _when(r["last_seen"]),
            ]
            for r in rows
        ],
    )
    print(f"{len(rows)} identities")
    return 0


# ---------------------------------------------------------------- worker, catalog


def cmd_models_offline(args: argparse.Namespace, settings: Settings) -> int:
    from worker.face_engine import DEFAULT_ROOT, OFFLINE_PACK, offline_pack

    root = offline_pack(Path(args.root) if args.root else settings.model_root or DEFAULT_ROOT)
    print(
        f"{root / 'models' / OFFLINE_PACK}  (STUDIO_MODEL_ROOT={root} STUDIO_MODEL={OFFLINE_PACK})"
    )
    return 0


def _studio_client(settings: Settings) -> StudioClient:
    if not settings.studio_url:
        raise SystemExit("set STUDIO_URL (and STUDIO_TOKEN) to the Studio API")
    return StudioClient(settings.studio_url, settings.studio_token)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from worker.main import run

    return run(args)


def cmd_catalog_serve(args: argparse.Namespace, settings: Settings) -> int:
    from app.server import GunicornServer
    from worker.folder_catalog import create_catalog_app

    root = Path(args.dir)
    if not root.is_dir():
        print(f"error: {root} is not a folder", file=sys.stderr)
        return 2
    print(f"catalog of {root} on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    GunicornServer(
        lambda: create_catalog_app(root, args.token), args.host, args.port, workers=1
    ).run()
    return 0


def cmd_alfred_sync(args: argparse.Namespace, settings: Settings) -> int:
    from worker.alfred_side import sync_people
    from worker.catalog_client import CatalogClient

    catalog = CatalogClient(settings.alfred_url, settings.alfred_token)
    try:
        result = sync_people(
            catalog,
            _studio_client(settings),
            args.source_system,
            full=not args.incremental,
            dry_run=args.dry_run,
        )
    except StudioError as exc:
        return _report(exc)
    _print_json(result)
    return 0


def cmd_alfred_submit(args: argparse.Namespace, settings: Settings) -> int:
    from worker.alfred_side import submit_photos

    try:
        job = submit_photos(
            _studio_client(settings), args.source_system, batch_id=args.batch, photo_ids=args.photo
        )
    except StudioError as exc:
        return _report(exc)
    _print_json(job)
    return 0


def cmd_recognize(args: argparse.Namespace, settings: Settings) -> int:
    from app.camera_feed import recognize_source
    from app.person_recognizer import PersonRecognizer, record_sightings
    from worker.face_engine import load_engine

    engine = load_engine(settings.model, settings.model_root)
    recognizer = PersonRecognizer(_migrated_url(settings), engine.model_name, listen=False)
    annotate = Path(args.save_annotated) if args.save_annotated else None
    try:
        for sighting in recognize_source(
            args.source, engine, recognizer, fps=args.fps, k=args.k, annotate_dir=annotate
        ):
            print(json.dumps(sighting), flush=True)
            if args.record_sightings and sighting["identity"]:
                record_sightings(recognizer.conninfo, [sighting["identity"]["identity_id"]])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from app import gallery_index

    url = _migrated_url(settings)
    if args.index == "build":
        name = gallery_index.build(url, args.model, m=args.m, ef_construction=args.ef_construction)
        print(f"built {name}")
    elif args.index == "drop":
        print(f"dropped {gallery_index.drop(url, args.model)}")
    elif args.index == "ensure":
        built = gallery_index.ensure(url)
        print(f"built {', '.join(built)}" if built else "nothing to build")
    with psycopg.connect(url) as conn:
        rows = gallery_index.status(conn)
    _print_table(
        ["model", "references", "index", "size", "advice"],
        [
            [
                s.model,
                f"{s.references:,}",
                s.index or "-",
                f"{s.size_bytes / 1e6:.1f} MB" if s.size_bytes else "-",
                s.advice,
            ]
            for s in rows
        ],
    )
    return 0


def cmd_identities_delete(args: argparse.Namespace, settings: Settings) -> int:
    """Erase people: their identity and every embedding; a tombstone and an audit
    entry with counts stay, never the name or a vector."""
    payload = {
        "source_system": args.source_system,
        "identities": [{"external_id": e, "action": "delete"} for e in args.external_ids],
    }
    return _sync_and_print(settings, payload)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from app.gallery_export import export_gallery

    gallery = export_gallery(_migrated_url(settings), args.source_system)
    Path(args.file).write_text(json.dumps(gallery))
    faces = sum(len(f) for f in gallery["embeddings"].values())
    print(f"exported {len(gallery['identities'])} identities, {faces} embeddings to {args.file}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from app.gallery_export import import_gallery

    try:
        totals = import_gallery(_backend(settings), json.loads(Path(args.file).read_text()))
    except StudioError as exc:
        return _report(exc)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _print_json(totals)
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    with psycopg.connect(_migrated_url(settings)) as conn:
        rows = conn.execute(
            queries.AUDIT_JOURNAL, {"source": args.source_system, "limit": args.limit}
        ).fetchall()
    _print_table(
        ["when", "operation", "source", "caller", "dry run", "counts"],
        [
            [
                _when(at),
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


# ---------------------------------------------------------------- output


def _when(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)[:19].replace("T", " ")


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _report(exc: StudioError) -> int:
    print(f"error: {exc.body.get('message', exc)}", file=sys.stderr)
    for error in exc.errors:
        where = []
        if error.get("index") is not None:
            where.append(f"item {error['index']}")
        if error.get("external_id") is not None:
            where.append(f"external_id {error['external_id']}")
        if error.get("field"):
            where.append(error["field"])
        prefix = f"  [{', '.join(where)}] " if where else "  "
        print(f"{prefix}{error.get('code')}: {error.get('message')}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio", description="GroundTruth Studio identity sync: names, keys and vectors."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API with gunicorn")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=2)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply migrations and functions").set_defaults(func=cmd_migrate)
    sub.add_parser("db-url", help="print the database URL").set_defaults(func=cmd_db_url)
    sub.add_parser("db-stop", help="stop the embedded server").set_defaults(func=cmd_db_stop)
    psql = sub.add_parser("psql", help="psql on Studio's database (psql options pass through)")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER)
    psql.set_defaults(func=cmd_psql)

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token", required=True)
    create = token.add_parser("create", help="create a token (printed once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, help="repeat for several")
    create.add_argument("--source", action="append", help="bind to a source system (repeatable)")
    create.add_argument(
        "--expires-in-days",
        type=_token_days,
        help="the token stops working after this many days (default: never)",
    )
    create.set_defaults(func=cmd_token_create)
    token.add_parser("list", help="list tokens").set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by name or id")
    revoke.add_argument("name_or_id")
    revoke.set_defaults(func=cmd_token_revoke)

    sync = sub.add_parser(
        "sync",
        help="sync identities from a JSON or CSV file, or standard input",
        description="Examples: studio sync people.csv --source-system alfred_catalog; "
        "alfred-export-people | studio sync - --source-system alfred_catalog --full",
    )
    sync.add_argument("file", help='a .json or .csv file, or "-" for standard input')
    sync.add_argument("--source-system", help="required for CSV; overrides the JSON's")
    sync.add_argument(
        "--format", choices=("json", "csv"), help="default: from the suffix, or sniffed on stdin"
    )
    sync.add_argument("--full", action="store_true", help="the input is the whole list")
    sync.add_argument("--dry-run", action="store_true")
    sync.add_argument("--allow-mass-delete", action="store_true")
    sync.set_defaults(func=cmd_sync)

    ingest = sub.add_parser("ingest", help="ingest embeddings from a JSON file")
    ingest.add_argument("file")
    ingest.add_argument("--faces-per-call", type=int, default=1000)
    ingest.set_defaults(func=cmd_ingest)

    models = sub.add_parser("models", help="face model packs").add_subparsers(
        dest="models", required=True
    )
    offline = models.add_parser("offline", help="lay out the offline buffalo_s pack")
    offline.add_argument("--root", help="model root (default STUDIO_MODEL_ROOT)")
    offline.set_defaults(func=cmd_models_offline)

    from worker.main import ENVIRONMENT, add_arguments

    worker = sub.add_parser(
        "worker",
        help="run face_embed_worker (the same as studio-worker)",
        epilog="environment:\n"
        + "\n".join(f"  {name:<18} {text}" for name, text in ENVIRONMENT.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(worker)
    worker.set_defaults(func=cmd_worker)

    catalog = sub.add_parser("catalog", help="a folder of labelled photos as a catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog", required=True)
    catalog_serve = catalog_sub.add_parser("serve", help="serve DIR/<person>/<photo> as a catalog")
    catalog_serve.add_argument("dir")
    catalog_serve.add_argument("--host", default="127.0.0.1")
    catalog_serve.add_argument("--port", type=int, default=8082)
    catalog_serve.add_argument("--token", help="require this bearer token")
    catalog_serve.set_defaults(func=cmd_catalog_serve)

    alfred = sub.add_parser("alfred", help="the catalog side: sync people, submit photos")
    alfred_sub = alfred.add_subparsers(dest="alfred", required=True)
    alfred_sync = alfred_sub.add_parser("sync", help="sync the catalog's people into Studio")
    alfred_sync.add_argument("--source-system", default="alfred_catalog")
    alfred_sync.add_argument(
        "--incremental",
        action="store_true",
        help="upsert only; do not delete people gone from the catalog",
    )
    alfred_sync.add_argument("--dry-run", action="store_true")
    alfred_sync.set_defaults(func=cmd_alfred_sync)
    alfred_submit = alfred_sub.add_parser("submit", help="queue a face_detect_embed job")
    alfred_submit.add_argument("--source-system", default="alfred_catalog")
    target = alfred_submit.add_mutually_exclusive_group(required=True)
    target.add_argument("--batch")
    target.add_argument("--photo", action="append", help="a photo ID (repeatable)")
    alfred_submit.set_defaults(func=cmd_alfred_submit)

    recognize = sub.add_parser("recognize", help="identify faces in an image, video or stream")
    recognize.add_argument("source", help="an image, a video file or a stream URL")
    recognize.add_argument("--fps", type=float, default=2.0, help="frames sampled per second")
    recognize.add_argument("--k", type=int, default=3, help="candidates per face")
    recognize.add_argument("--save-annotated", metavar="DIR", help="write annotated frames here")
    recognize.add_argument(
        "--record-sightings",
        action="store_true",
        help="update first_seen / last_seen of identified people",
    )
    recognize.set_defaults(func=cmd_recognize)

    index = sub.add_parser("index", help="the gallery's HNSW index: status, build, drop, ensure")
    index_sub = index.add_subparsers(dest="index", required=True)
    index_sub.add_parser("status", help="references, index and advice per model").set_defaults(
        func=cmd_index
    )
    index_build = index_sub.add_parser("build", help="CREATE INDEX CONCURRENTLY for a model")
    index_build.add_argument("--model", default="buffalo_l")
    index_build.add_argument("--m", type=int, default=16)
    index_build.add_argument("--ef-construction", type=int, default=64)
    index_build.set_defaults(func=cmd_index)
    index_drop = index_sub.add_parser("drop", help="drop a model's index (before a big backfill)")
    index_drop.add_argument("--model", default="buffalo_l")
    index_drop.set_defaults(func=cmd_index)
    index_sub.add_parser("ensure", help="build what the policy calls for (cron)").set_defaults(
        func=cmd_index
    )

    identities = sub.add_parser("identities", help="list (or delete) external identities")
    identities.add_argument("--source-system")
    identities.add_argument("--json", action="store_true")
    identities.set_defaults(func=cmd_identities)
    identities_sub = identities.add_subparsers(dest="identities_command")
    delete = identities_sub.add_parser("delete", help="erase people and all their vectors")
    delete.add_argument("external_ids", nargs="+", metavar="EXTERNAL_ID")
    delete.add_argument("--source-system", required=True)
    delete.set_defaults(func=cmd_identities_delete)

    export = sub.add_parser("export", help="a source system's identities and vectors, to a file")
    export.add_argument("file")
    export.add_argument("--source-system", required=True)
    export.set_defaults(func=cmd_export)
    import_ = sub.add_parser("import", help="import an export (idempotent)")
    import_.add_argument("file")
    import_.set_defaults(func=cmd_import)

    audit = sub.add_parser("audit", help="the journal of sync and ingest calls")
    audit.add_argument("--source-system")
    audit.add_argument("--limit", type=int, default=50)
    audit.set_defaults(func=cmd_audit)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "psql":
        args.psql_args = extra + args.psql_args  # psql's own options pass through
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    settings = Settings.from_env()
    try:
        return args.func(args, settings)
    except migrations.MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (psycopg.OperationalError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
