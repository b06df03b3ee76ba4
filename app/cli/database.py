"""The database's own commands: migrate, db-url, db-stop, psql."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from urllib.parse import unquote

from app import embedded_db, migrations
from app.cli.backend import open_database
from app.cli.output import print_table, when
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
    migrate.add_argument(
        "--status",
        action="store_true",
        help="apply nothing: show the database (without its password) and each "
        "migration, applied or pending",
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
        if args.status:
            return _print_status(without_password(url), migrations.status(database))
        applied = migrations.migrate(database)
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


def _print_status(where: str, states: list[migrations.MigrationState]) -> int:
    print(f"database: {where}")
    print_table(
        ["migration", "state", "applied at"],
        [[s.label, s.state, when(s.applied_at)] for s in states],
    )
    advice = {
        "changed": "its file changed after it was applied: revert the file, add a new migration",
        "unknown": "the database is newer than this code: deploy the newer code",
    }
    for state in states:
        if state.state in advice:
            print(f"{state.label}: {advice[state.state]} (`studio migrate` refuses until then)")
    pending = sum(s.state == "pending" for s in states)
    if pending:
        print(f"{pending} pending: `studio migrate` applies them")
    elif not any(s.state in advice for s in states):
        print("up to date")
    return 0


# One key=value pair of a libpq keyword/value string: the value bare (a
# backslash escapes the next character) or in single quotes.
_PAIR = re.compile(r"\s*([^\s=]+)\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)*)", re.DOTALL)


def without_password(conninfo: str) -> str:
    """A libpq URL or keyword/value string to show a user: all but the password.
    What reads as neither is not shown at all."""
    if re.match(r"postgres(ql)?://", conninfo):
        scheme, _, rest = conninfo.partition("://")
        # libpq reads user[:password]@ up to the first @ before the first /.
        head = re.match(r"[^@/]*", rest)[0]
        if rest[len(head) : len(head) + 1] == "@":
            user = head.split(":", 1)[0]
            rest = (f"{user}@" if user else "") + rest[len(head) + 1 :]
        base, question, query = rest.partition("?")
        kept = [p for p in query.split("&") if unquote(p.partition("=")[0]) != "password"]
        return f"{scheme}://{base}" + (f"?{'&'.join(kept)}" if question and any(kept) else "")
    pairs, position = [], 0
    while position < len(conninfo.rstrip()):
        match = _PAIR.match(conninfo, position)
        if not match or match.end() == position:
            return "(a connection string that cannot be shown)"
        if match[1] != "password":
            pairs.append(f"{match[1]}={match[2]}")
        position = match.end()
    return " ".join(pairs)


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
    """psql under the API's statement limit (STUDIO_STATEMENT_TIMEOUT), so a
    DBA's call of sync_identities() runs as the API's would; `SET
    statement_timeout = 0` lifts it for maintenance."""
    with open_database(settings) as database:
        url = database.conninfo
    env = dict(os.environ)
    if settings.statement_timeout:
        env["PGOPTIONS"] = " ".join(
            [env.get("PGOPTIONS", ""), f"-c statement_timeout={settings.statement_timeout}s"]
        ).strip()
    return subprocess.call([str(embedded_db.bin_path("psql")), url, *args.psql_args], env=env)
