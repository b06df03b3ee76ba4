"""What the commands print: JSON, tables, times and the API's error envelope."""

from __future__ import annotations

import json
import sys
from typing import Any

from worker.studio_client import StudioError


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
