"""Write one benchmark's section of docs/benchmarks.md, leaving the others alone."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Each section is written by the benchmark named under it (`make bench` runs
them all). Every benchmark measures against the physical limit in the same
run and reports ratios: absolute rates on shared 2-core machines vary from
run to run, the ratios much less.
"""


def write_section(key: str, title: str, command: str, lines: list[str]) -> None:
    """Replace (or append) the section marked `key` with `lines`."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    begin, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    body = "\n".join([begin, f"## {title}", "", f"Command: `{command}`", "", *lines, end])
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = (
        pattern.sub(lambda _: body, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + body + "\n"
    )
    BENCHMARKS_MD.write_text(text)
