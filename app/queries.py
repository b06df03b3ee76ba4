"""Every statement the application sends, named in sql/queries.sql and loaded once.

The rules live in sql/functions/; sql/queries.sql holds the calls to them
and the few plain reads, each under a `-- name --` line with what it does.
A statement is read as queries.NAME: queries.SYNC_IDENTITIES is the section
`-- sync_identities --`.
"""

from __future__ import annotations

import re

from app.config import PROJECT_ROOT

QUERIES_FILE = PROJECT_ROOT / "sql" / "queries.sql"

# A section: its name line, then the comment lines that say what it does.
_SECTION = re.compile(r"(?:\n|^)-- ([a-z0-9_]+) --\n(?:--.*\n)*", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """The named statements of a queries file, by name; the text before the first
    section is the file's header. Raises ValueError for a name given twice or a
    section without a statement."""
    parts = _SECTION.split(text)
    statements: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in statements:
            raise ValueError(f"-- {name} -- is named twice")
        statement = body.strip()
        if not statement:
            raise ValueError(f"-- {name} -- has no statement")
        statements[name] = statement
    return statements


STATEMENTS = parse(QUERIES_FILE.read_text(encoding="utf-8"))


def __getattr__(name: str) -> str:
    if name.isupper() and name.lower() in STATEMENTS:
        return STATEMENTS[name.lower()]
    raise AttributeError(f"sql/queries.sql has no statement named -- {name.lower()} --")
