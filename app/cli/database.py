"""The database's own commands: migrate, db-url, db-stop, psql."""

from __future__ import annotations

import argparse
import subprocess
import sys

from app import embedded_db, migrations
from app.cli.backend import open_database
from app.cli.parsing import DATABASE, environment
from app.config import Settings
from app.db import Database


def add_commands(sub: argparse._SubParsersAction) -> None:
    where = environment(*DATABASE)
    migrate = sub.add_parser(
        "migrate",
        help="apply migrations and functions",
        description="Apply the migrations the database lacks, then re-apply every SQL "
        "function. The embedded database is migrated by every command that uses it; "
        "a database at STUDIO_DATABASE_URL only by this one.",
        epilog=where,
    )
    migrate.set_defaults(func=cmd_migrate)
    sub.add_parser(
        "db-url",
        help="print the database URL",
        description="Print the database URL; the embedded server is started and left running.",
        epilog=where,
    ).set_defaults(func=cmd_db_url)
    sub.add_parser("db-stop", help="stop the embedded server", epilog=where).set_defaults(
        func=cmd_db_stop
    )
    psql = sub.add_parser(
        "psql",
        help="psql on Studio's database (psql options pass through)",
        description="psql on Studio's database; every option after `psql` is psql's own.",
        epilog=where,
    )
    psql.add_argument("psql_args", nargs=argparse.REMAINDER, help="psql's options")
    psql.set_defaults(func=cmd_psql)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    url = embedded_db.database_url(settings)
    with Database(url, application_name="studio-cli") as database:
        applied = migrations.migrate(database)
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
    with open_database(settings) as database:
        url = database.conninfo
    return subprocess.call([str(embedded_db.bin_path("psql")), url, *args.psql_args])
