"""Each benchmark writes its latest run as a table into BENCHMARKS.md, silently, at its end.

The table goes between ``<!-- latest:NAME -->`` and ``<!-- /latest:NAME -->`` under "Latest
runs" (the section and the block are added the first time); the curated history above it, with
before-and-after rows and the reasoning, is left alone. ``GATEKEY_BENCH_NO_WRITE=1`` leaves the
file untouched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
SECTION = (
    "## Latest runs\n\n"
    "Written by the scripts themselves at the end of each run (the sections above keep the "
    "history and the reasoning).\n"
)


def write_table(
    name: str, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Replace (or add) the latest-run table of ``bench/<name>.py`` in BENCHMARKS.md."""
    if os.environ.get("GATEKEY_BENCH_NO_WRITE"):
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- latest:{name} -->",
        f"**{title}**: `python bench/{name}.py`, {stamp}, {os.cpu_count()} cores",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
        f"<!-- /latest:{name} -->",
    ]
    block = "\n".join(lines)
    text = BENCHMARKS.read_text()
    pattern = re.compile(
        rf"<!-- latest:{re.escape(name)} -->.*?<!-- /latest:{re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        if SECTION.splitlines()[0] not in text.splitlines():
            text = text.rstrip("\n") + "\n\n" + SECTION
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text)
