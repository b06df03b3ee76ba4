"""What the commands print: JSON, tables and times; and what they raise when
they cannot go on, which main() prints as one line and an exit status."""

from __future__ import annotations

import json
import sys
from typing import Any

from worker.studio_client import StudioError


class CommandError(Exception):
    """The command cannot go on for a reason the user can mend (a file that is
    not what it should be, a setting missing): main() prints "error: <message>"
    and exits with `status` (1: the input; 2: the command line or the setup)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def when(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)[:19].replace("T", " ")


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def report(exc: StudioError) -> int:
    """Print the API's error envelope: its message, then each error with its item."""
    print(f"error: {exc.body.get('message', exc)}", file=sys.stderr)
    for error in exc.errors:
        where = []
        if error.get("index") is not None:
            where.append(f"item {error['index']}")
        if error.get("external_id") is not None:
            where.append(f"external_id {error['external_id']}")
        if error.get("field"):
            where.append(error["field"])
        prefix = f"  [{', '.join(where)}] " if where else "  "
        print(f"{prefix}{error.get('code')}: {error.get('message')}", file=sys.stderr)
    return 1
