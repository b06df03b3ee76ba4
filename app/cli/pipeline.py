"""The photo pipeline around Studio: the catalog side (alfred sync and submit, a
folder served as a catalog), the GPU worker and its model packs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.backend import studio_client
from app.cli.output import print_json, report
from app.config import Settings
from worker.studio_client import StudioError


def add_commands(sub: argparse._SubParsersAction) -> None:
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
            studio_client(settings),
            args.source_system,
            full=not args.incremental,
            dry_run=args.dry_run,
        )
    except StudioError as exc:
        return report(exc)
    print_json(result)
    return 0


def cmd_alfred_submit(args: argparse.Namespace, settings: Settings) -> int:
    from worker.alfred_side import submit_photos

    try:
        job = submit_photos(
            studio_client(settings), args.source_system, batch_id=args.batch, photo_ids=args.photo
        )
    except StudioError as exc:
        return report(exc)
    print_json(job)
    return 0
