"""`studio index`: the gallery's HNSW index, one per model."""

from __future__ import annotations

import argparse

from app.cli.backend import open_database
from app.cli.output import CommandError, print_table
from app.cli.parsing import DATABASE, environment
from app.config import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    where = environment(*DATABASE)
    index = sub.add_parser(
        "index",
        help="the gallery's HNSW index: status, build, drop, ensure",
        description="The gallery's HNSW index, one per model; each action ends with the "
        "status table (references, index, size, advice per model).",
        epilog=where,
    )
    index_sub = index.add_subparsers(dest="index", required=True, metavar="ACTION")
    index_sub.add_parser(
        "status", help="references, index and advice per model", epilog=where
    ).set_defaults(func=cmd_index)
    index_build = index_sub.add_parser(
        "build", help="CREATE INDEX CONCURRENTLY for a model", epilog=where
    )
    index_build.add_argument("--model", default="buffalo_l", help="the model's embeddings")
    index_build.add_argument("--m", type=int, default=16, help="HNSW links a node")
    index_build.add_argument(
        "--ef-construction", type=int, default=64, help="HNSW candidate list while building"
    )
    index_build.add_argument(
        "--memory-mb",
        type=int,
        default=None,
        help="maintenance_work_mem for the build (default: what the model's graph needs, "
        "at least 1024; a graph that does not fit builds several times slower)",
    )
    index_build.set_defaults(func=cmd_index)
    index_drop = index_sub.add_parser(
        "drop", help="drop a model's index (before a big backfill)", epilog=where
    )
    index_drop.add_argument("--model", default="buffalo_l", help="the model's embeddings")
    index_drop.set_defaults(func=cmd_index)
    index_sub.add_parser(
        "ensure", help="build what the policy calls for (cron)", epilog=where
    ).set_defaults(func=cmd_index)


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from app import gallery_index

    if args.index == "build":
        try:  # before connecting: a wrong number is the command line's fault
            gallery_index.check_build(args.m, args.ef_construction, args.memory_mb)
        except gallery_index.BuildRefused as exc:
            raise CommandError(str(exc), status=2) from exc
    # Building an index over a large gallery takes minutes: no statement limit.
    with open_database(settings, limited=False) as database:
        if args.index == "build":
            had = gallery_index.state(database, args.model)
            try:
                name = gallery_index.build(
                    database,
                    args.model,
                    m=args.m,
                    ef_construction=args.ef_construction,
                    memory_mb=args.memory_mb,
                )
            except gallery_index.BuildRefused as exc:
                raise CommandError(str(exc), status=2) from exc
            print(f"{name} was already built" if had == "valid" else f"built {name}")
        elif args.index == "drop":
            had = gallery_index.state(database, args.model)
            name = gallery_index.drop(database, args.model)
            print(f"dropped {name}" if had else f"no index {name} for model {args.model!r}")
        elif args.index == "ensure":
            built = gallery_index.ensure(database)
            print(f"built {', '.join(built)}" if built else "nothing to build")
        rows = gallery_index.status(database)
    print_table(
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
