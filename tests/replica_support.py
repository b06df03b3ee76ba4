"""A primary and a streaming hot standby, built from the embedded server's own binaries.

The session's server is not used as the primary: a base backup of it would
copy every test database beside it, and STUDIO_TEST_DATABASE_URL may name a
server this machine cannot back up. So the primary here is a fresh cluster
(initdb, then migrated), the standby a `pg_basebackup -R` of it, both on Unix
sockets in their own folders. Running as root, PostgreSQL runs as the
wheel's own system user, as the embedded server does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from helpers import migrate
from psycopg.conninfo import make_conninfo

from app import embedded_db

SERVER_USER = "embedded_postgres"


def _as_server_user() -> dict:
    """subprocess arguments that run a program as the user PostgreSQL runs as."""
    if os.geteuid() != 0:
        return {}
    return {"user": SERVER_USER, "group": pwd.getpwnam(SERVER_USER).pw_gid}


def _run(program: str, *args: str, timeout: float = 60) -> None:
    result = subprocess.run(
        [str(embedded_db.bin_path(program)), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **_as_server_user(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"{program} {' '.join(args)}: {result.stdout}{result.stderr}")


def _start(data: Path, socket_dir: Path) -> None:
    # No TCP at all: each server listens on a socket in its own folder, so
    # two sessions side by side never fight over a port.
    _run(
        "pg_ctl",
        "-D",
        str(data),
        "-w",
        "-t",
        "30",
        "-l",
        str(data.parent / f"{data.name}.log"),
        "-o",
        f"-h '' -k {socket_dir}",
        "start",
    )


def _stop(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        _run("pg_ctl", "-D", str(data), "-w", "-m", "immediate", "stop")


def _url(socket_dir: Path) -> str:
    return make_conninfo(host=str(socket_dir), user="postgres", dbname="postgres")


@dataclass(frozen=True)
class Pair:
    primary_url: str
    standby_url: str


@contextmanager
def primary_and_standby() -> Iterator[Pair]:
    """A migrated primary and its streaming standby, stopped and removed on exit."""
    # Short: a Unix socket's path must fit in about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix="gts-rep-"))
    primary, standby = root / "p", root / "s"
    sockets = root / "ps", root / "ss"
    for folder in sockets:
        folder.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        for folder in (root, *sockets):
            os.chown(folder, user.pw_uid, user.pw_gid)
    try:
        # initdb's pg_hba.conf trusts local connections, replication included;
        # wal_level is replica by default.
        # --no-sync (here and for the backup): nothing of these must survive a crash.
        _run(
            "initdb",
            "-D",
            str(primary),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "utf8",
            "--no-sync",
        )
        with (primary / "postgresql.conf").open("a") as conf:
            # Throwaway data: no flush buys anything here.
            conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        _start(primary, sockets[0])
        primary_url = _url(sockets[0])
        migrate(primary_url)
        # -R writes standby.signal and primary_conninfo (the primary's socket).
        _run(
            "pg_basebackup",
            "-D",
            str(standby),
            "-d",
            primary_url,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        _start(standby, sockets[1])
        yield Pair(primary_url, _url(sockets[1]))
    finally:
        for data in (standby, primary):
            with suppress(RuntimeError, subprocess.TimeoutExpired, OSError):
                _stop(data)
        shutil.rmtree(root, ignore_errors=True)
