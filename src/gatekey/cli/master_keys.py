"""``gatekey keys``: the master keys that wrap every data key (list, rotate, retire)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gatekey.cli.app import JsonOpt, emit, err, group, opened, out, table
from gatekey.models import RotationProgress

commands = group(
    "Master keys: list, rotate, retire.",
    "gatekey keys rotate  (then back up the key file)",
)


@commands.command("list")
def master_list(as_json: JsonOpt = False) -> None:
    """List master keys and how many data keys each wraps."""
    with opened() as rt:
        found = rt.service.system.master_keys()
        emit(
            found,
            as_json,
            lambda: table(
                "Master keys",
                ["ID", "Primary", "Available", "Data keys"],
                [
                    (
                        k.id,
                        "yes" if k.primary else "",
                        "yes" if k.available else "MISSING",
                        k.data_keys,
                    )
                    for k in found
                ],
            ),
        )


@commands.command("rotate")
def master_rotate(batch_size: Annotated[int, typer.Option(min=1, max=10000)] = 500) -> None:
    """Add a master key and rewrap every data key to it; run again to resume after a crash."""
    with (
        opened() as rt,
        Progress(
            TextColumn("rewrapping"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        ) as bar,
    ):
        task = bar.add_task("rewrap", total=None)

        def report(p: RotationProgress) -> None:
            bar.update(task, completed=p.done, total=p.done + p.remaining)

        result = rt.service.system.rotate_master_key(batch_size=batch_size, progress=report)
        bar.update(task, completed=result.done, total=max(result.done, 1))
    out.print(f"primary master key is {result.key_id}; rewrapped {result.done} data key(s)")


@commands.command("retire")
def master_retire(key_id: str) -> None:
    """Remove a master key; refused while any data key still uses it."""
    with opened() as rt:
        rt.service.system.retire_master_key(key_id)
        out.print(f"retired master key {key_id}")
