"""`studio token create | list | revoke`: the API's bearer tokens."""

from __future__ import annotations

import argparse
import math
import sys
from datetime import UTC, datetime, timedelta

from app import queries
from app.auth import SCOPES
from app.cli.backend import open_database, refusal
from app.cli.output import print_table, when
from app.cli.parsing import DATABASE, environment
from app.config import Settings
from app.db import DatabaseError

MAX_TOKEN_DAYS = 36_500


def add_commands(sub: argparse._SubParsersAction) -> None:
    where = environment(*DATABASE)
    token = sub.add_parser(
        "token",
        help="API tokens",
        description="API tokens, straight in the database (no server needed).",
        epilog=where,
    ).add_subparsers(dest="token", required=True, metavar="ACTION")
    create = token.add_parser(
        "create",
        help="create a token (printed once)",
        description="Create a token; it is printed once, on standard output, and only "
        "its hash is stored.",
        epilog=f"scopes: {', '.join(SCOPES)}\n\n{where}",
    )
    create.add_argument("--name", required=True, help="a name unique among live tokens")
    create.add_argument(
        "--scope", action="append", required=True, help="a scope it grants (repeat for several)"
    )
    create.add_argument("--source", action="append", help="bind to a source system (repeatable)")
    create.add_argument(
        "--expires-in-days",
        type=_token_days,
        help="the token stops working after this many days (default: never)",
    )
    create.set_defaults(func=cmd_token_create)
    token.add_parser(
        "list", help="list tokens", description="List tokens (never the token).", epilog=where
    ).set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by name or id", epilog=where)
    revoke.add_argument("name_or_id", help="the token's name or token_id")
    revoke.set_defaults(func=cmd_token_revoke)


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
    with open_database(settings) as database:
        try:
            token_id, token = database.fetch_one(
                queries.CREATE_TOKEN,
                args.name,
                args.scope,
                args.source or None,
                _parse_expiry(args.expires_in_days),
            )
        except DatabaseError as exc:
            raise refusal(exc) from exc
    print(token)
    print(
        f"token {args.name} ({token_id}) created; it is shown only this once",
        file=sys.stderr,
    )
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    with open_database(settings) as database:
        rows = database.fetch_all(queries.LIST_TOKENS)
    table = [
        [
            name,
            str(token_id),
            ",".join(scopes),
            ",".join(sources) if sources else "any",
            when(expires),
            state,
            when(last_used),
        ]
        for name, token_id, scopes, sources, _created, expires, state, last_used in rows
    ]
    print_table(["name", "token_id", "scopes", "sources", "expires", "state", "last used"], table)
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with open_database(settings) as database:
        count = database.value(queries.REVOKE_TOKEN, args.name_or_id)
    print(f"revoked {count} token(s)")
    return 0 if count else 1
