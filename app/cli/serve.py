"""`studio serve`: the API under gunicorn, on the embedded database or STUDIO_DATABASE_URL."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile

from app import embedded_db, migrations, queries
from app.cli.output import CommandError
from app.cli.parsing import DATABASE, environment
from app.config import Settings
from app.db import Database

SETTINGS = (
    *DATABASE,
    "database_read_url",
    "gallery_poll_ms",
    "statement_timeout",
    "host",
    "port",
    "max_body_bytes",
    "pool_size",
    "metrics_public",
    "log_level",
    "log_format",
)


def add_commands(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve the API with gunicorn",
        description="Serve the API with gunicorn. Without STUDIO_DATABASE_URL it starts, "
        "migrates and watches the embedded PostgreSQL, and a fresh database gets a first "
        "admin token; with it, the database must be migrated (`studio migrate`) first.",
        epilog=environment(*SETTINGS),
    )
    serve.add_argument("--host", help="address to listen on (default: STUDIO_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: STUDIO_PORT)")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from app import create_app
    from app.server import GunicornServer
    from worker import logs

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings.from_env(**{**settings.__dict__, **overrides})
    _check_port_free(settings.host, settings.port)
    url = embedded_db.database_url(settings)
    with Database(url, application_name="studio-serve") as database:
        if settings.database_url:
            if migrations.current_version(database) < migrations.load_migrations()[-1].version:
                print("the database is behind this code: run `studio migrate`", file=sys.stderr)
                return 2
            first_token = None
        else:
            applied = migrations.migrate(database)
            if applied:
                print(f"migrated the embedded database: {', '.join(applied)}", file=sys.stderr)
            first_token = _first_admin_token(database)
    if settings.database_read_url:
        _check_read_database(settings)
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
        lambda: create_app(serving),
        settings.host,
        settings.port,
        workers=args.workers,
        on_ready=lambda: _banner(settings, first_token),
        logconfig=logs.gunicorn_logconfig(settings.log_level, settings.log_format),
    ).run()
    return 0


def _check_read_database(settings: Settings) -> None:
    """The read replica answers and holds this code's schema, or serve does not
    start: a server that came up ready while recognition fails on every call
    would be sent recognition traffic. Raises CommandError."""
    from app.db import DatabaseUnavailable

    latest = migrations.load_migrations()[-1].version
    try:
        with Database(settings.database_read_url, application_name="studio-serve") as replica:
            version = migrations.current_version(replica)
    except DatabaseUnavailable as exc:
        raise CommandError(f"STUDIO_DATABASE_READ_URL: {exc}", status=2) from exc
    if version < latest:
        raise CommandError(
            f"STUDIO_DATABASE_READ_URL: the read database is at schema version {version}, "
            f"this code needs {latest}: is it a standby of STUDIO_DATABASE_URL, caught up?",
            status=2,
        )


def _check_port_free(host: str, port: int) -> None:
    """Refuse at once, in one line, a port something else listens on
    (gunicorn would try five times, a second apart, then fail)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): "
                "choose another with --port or STUDIO_PORT",
                status=2,
            ) from exc


def _first_admin_token(database: Database) -> str | None:
    """On a fresh embedded database, make one admin token so the API is usable at once."""
    if database.value(queries.COUNT_TOKENS):
        return None
    _, token = database.fetch_one(queries.CREATE_TOKEN, "local-admin", ["admin"], None, None)
    return token


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
