"""The `studio` command: one module a command group, each with its parser setup
and its commands; main() parses, runs the command and handles its errors."""

from __future__ import annotations

import argparse
import sys

import psycopg

from app import migrations
from app.cli import database, identities, index, pipeline, recognize, serve, sync, tokens
from app.config import Settings

# In the order `studio --help` lists them.
GROUPS = (serve, database, tokens, sync, pipeline, recognize, index, identities)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio", description="GroundTruth Studio identity sync: names, keys and vectors."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
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
