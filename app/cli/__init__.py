"""The `studio` command: one module a command group, each with its parser setup
and its commands; main() parses, runs the command and is the one place that
turns what a command raises into a line on stderr and an exit status."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import fields

from app import migrations
from app.cli import (
    calibrate,
    database,
    events,
    identities,
    index,
    pipeline,
    recognize,
    serve,
    sightings,
    sync,
    tokens,
)
from app.cli.output import CommandError, report
from app.cli.parsing import Parser, environment, package_version
from app.config import ConfigError, Settings
from app.db import DatabaseUnavailable
from worker import logs
from worker.studio_client import StudioError

# In the order `studio --help` lists them.
GROUPS = (
    serve,
    database,
    tokens,
    sync,
    pipeline,
    recognize,
    calibrate,
    index,
    identities,
    sightings,
    events,
)


def build_parser() -> Parser:
    parser = Parser(
        prog="studio",
        description="GroundTruth Studio identity sync: names, keys and vectors. "
        "`studio COMMAND --help` shows a command's options, their defaults and "
        "the environment variables it reads.",
        epilog=environment(*(item.name for item in fields(Settings))),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "psql":
        args.psql_args = extra + args.psql_args  # psql's own options pass through
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        settings = Settings.from_env()
        if settings.database_url or settings.database_read_url:
            from app.db import check_urls  # psycopg: not on a catalog-side install

            check_urls(settings)
        logs.configure(settings.log_level, settings.log_format)
        return args.func(args, settings)
    except StudioError as exc:  # the API's (or the SQL functions') refusal, item by item
        return report(exc)
    except CommandError as exc:
        return _fail(exc, exc.status)
    except (ConfigError, migrations.MigrationError, DatabaseUnavailable, OSError) as exc:
        return _fail(exc, 2)  # the setup, not the input: the command could not start


def _fail(exc: Exception, status: int) -> int:
    # libpq's messages run over several lines (a hint on the next); one line
    # keeps a cron's log and a test's assertion simple.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    print(f"error: {'; '.join(lines) or type(exc).__name__}", file=sys.stderr)
    return status
