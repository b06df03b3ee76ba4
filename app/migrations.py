"""Forward-only migrations, then the SQL functions, applied under one lock.

Each file in sql/migrations/ (NNNN_name.sql) runs once, in its own
transaction, and is recorded in schema_migrations with its SHA-256. A file
changed after it was applied, or a database that has a migration this code
does not know, stops the run. Every file in sql/functions/ is re-applied on
each run (CREATE OR REPLACE), so the current version of a function is always
the one file that defines it. A session-level advisory lock makes concurrent
runners wait for each other instead of racing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from app.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"
FUNCTIONS_DIR = PROJECT_ROOT / "sql" / "functions"

# Any constant works as long as nothing else uses it; this one spells 'MIGR'.
MIGRATION_LOCK_KEY = 0x4D494752

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The database and the migration files disagree; nothing more was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order. Raises MigrationError on a bad name."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return migrations


def current_version(conn: psycopg.Connection) -> int:
    """The highest applied migration, 0 for a database never migrated."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def migrate(conninfo: str, *, target: int | None = None) -> list[str]:
    """Bring the database to `target` (default: latest, with functions); return what ran."""
    migrations = load_migrations()
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     NOT NULL,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
                )
                """
            )
            recorded = {
                version: (name, checksum)
                for version, name, checksum in conn.execute(
                    "SELECT version, name, checksum FROM schema_migrations"
                )
            }
            _check_history(migrations, recorded)
            for migration in migrations:
                if migration.version in recorded:
                    continue
                if target is not None and migration.version > target:
                    break
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(f"{migration.version:04d}_{migration.name}")
            if target is None:
                apply_functions(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now


def apply_functions(conn: psycopg.Connection) -> None:
    """Re-apply every sql/functions/*.sql file in one transaction."""
    with conn.transaction():
        # Bodies may call functions defined in files that sort later.
        conn.execute("SET LOCAL check_function_bodies = off")
        for path in sorted(FUNCTIONS_DIR.glob("*.sql")):
            conn.execute(path.read_text())


def _check_history(migrations: list[Migration], recorded: dict[int, tuple[str, str]]) -> None:
    known = {m.version: m for m in migrations}
    unknown = sorted(set(recorded) - set(known))
    if unknown:
        newest = unknown[-1]
        raise MigrationError(
            f"the database has migration {newest:04d} ({recorded[newest][0]}), which this code "
            "does not know: the database is newer than the code; deploy the newer code"
        )
    for version, (name, checksum) in sorted(recorded.items()):
        if known[version].checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{name}.sql was changed after it was applied; "
                "applied migrations are never edited: revert the file and add a new migration"
            )
