"""The physical limit of match_faces(): its own statement with nothing around it.

gallery_search_query(model) as the database gives it, prepared once on one
connection with a generic plan kept (under gallery_search_settings()):
no PL/pgSQL, no planning per call. match_faces() at this cost has no
overhead left to remove; what remains is the index scan and the join.
"""

from __future__ import annotations

import re

import psycopg

PLACEHOLDERS = {
    "$1": "%(probe)s::vector(512)",
    "$2": "%(candidates)s::integer",
    "$3": "%(k)s::integer",
    "$4": "%(sources)s::text[]",
}


class SearchLimit:
    """Run the model's search statement prepared, on `conn` (autocommit)."""

    def __init__(self, conn: psycopg.Connection, model: str):
        text = conn.execute("SELECT gallery_search_query(%s)", (model,)).fetchone()[0]
        # psycopg's placeholders in place of PostgreSQL's; a literal % doubled.
        text = text.replace("%", "%%")
        self.statement = re.sub(r"\$[1-4]\b", lambda m: PLACEHOLDERS[m.group(0)], text)
        self.conn = conn
        # The settings the model's search function runs under (a kept generic
        # plan through the index), set on this connection.
        settings = conn.execute("SELECT gallery_search_settings()").fetchone()[0]
        for name, value in re.findall(r"SET (\w+) = (\w+)", settings):
            conn.execute(f"SET {name} = {value}")

    def __call__(self, probe, k: int = 5, sources: list[str] | None = None) -> list[tuple]:
        return self.conn.execute(
            self.statement,
            {"probe": probe, "candidates": k * 10, "k": k, "sources": sources},
            prepare=True,
        ).fetchall()
