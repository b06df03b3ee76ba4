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
from datetime import datetime
from pathlib import Path

from app import queries
from app.config import PROJECT_ROOT
from app.db import Database, Session

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


def current_version(database: Database) -> int:
    """The highest applied migration, 0 for a database never migrated."""
    if not database.value(queries.SCHEMA_MIGRATIONS_EXIST):
        return 0
    return database.value(queries.CURRENT_VERSION)


@dataclass(frozen=True)
class MigrationState:
    """One migration as this code and the database see it. `state` is applied,
    pending, changed (the file differs from what was applied) or unknown (the
    database has it and this code does not: the database is newer)."""

    version: int
    name: str
    state: str
    applied_at: datetime | None

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def status(database: Database) -> list[MigrationState]:
    """Every migration that this code or the database knows, in version order.
    Reads only: nothing is created, applied or locked."""
    recorded = {}
    if database.value(queries.SCHEMA_MIGRATIONS_EXIST):
        recorded = {row[0]: row[1:] for row in database.fetch_all(queries.MIGRATION_HISTORY)}
    known = {m.version: m for m in load_migrations()}
    states = []
    for version in sorted(set(known) | set(recorded)):
        migration = known.get(version)
        if version not in recorded:
            states.append(MigrationState(version, migration.name, "pending", None))
            continue
        name, checksum, applied_at = recorded[version]
        if migration is None:
            state = "unknown"
        else:
            state = "applied" if migration.checksum == checksum else "changed"
        states.append(MigrationState(version, name, state, applied_at))
    return states


def migrate(database: Database, *, target: int | None = None) -> list[str]:
    """Bring the database to `target` (default: latest, with functions); return what ran."""
    migrations = load_migrations()
    applied_now: list[str] = []
    with database.session() as session:
        session.execute(queries.MIGRATION_LOCK, MIGRATION_LOCK_KEY)
        try:
            session.execute(queries.CREATE_SCHEMA_MIGRATIONS)
            recorded = {
                version: (name, checksum)
                for version, name, checksum in session.fetch_all(queries.APPLIED_MIGRATIONS)
            }
            _check_history(migrations, recorded)
            for migration in migrations:
                if migration.version in recorded:
                    continue
                if target is not None and migration.version > target:
                    break
                with session.transaction():
                    session.execute_script(migration.sql)
                    session.execute(
                        queries.RECORD_MIGRATION,
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                applied_now.append(f"{migration.version:04d}_{migration.name}")
            if target is None:
                apply_functions(session)
        finally:
            session.execute(queries.MIGRATION_UNLOCK, MIGRATION_LOCK_KEY)
    if applied_now:
        database.refresh_types()  # the first migration creates pgvector's types
    return applied_now


def apply_functions(session: Session) -> None:
    """Re-apply every sql/functions/*.sql file in one transaction."""
    with session.transaction():
        session.execute(queries.DEFER_FUNCTION_BODY_CHECKS)
        for path in sorted(FUNCTIONS_DIR.glob("*.sql")):
            session.execute_script(path.read_text())


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
