"""The database's own commands: migrate, db-url, db-stop, psql."""

from __future__ import annotations

import argparse
import subprocess
import sys

from app import embedded_db, migrations
from app.cli.backend import migrated_url
from app.config import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("migrate", help="apply migrations and functions").set_defaults(func=cmd_migrate)
    sub.add_parser("db-url", help="print the database URL").set_defaults(func=cmd_db_url)
    sub.add_parser("db-stop", help="stop the embedded server").set_defaults(func=cmd_db_stop)
    psql = sub.add_parser("psql", help="psql on Studio's database (psql options pass through)")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER)
    psql.set_defaults(func=cmd_psql)


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
    url = migrated_url(settings)
    return subprocess.call([str(embedded_db.bin_path("psql")), url, *args.psql_args])
