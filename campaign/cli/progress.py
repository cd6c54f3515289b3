"""Progress for long operator commands (issue 24, item 19).

On a terminal, click's progress bar (what Flask's CLI already carries): done of total,
the rate and the time left. Under cron (no terminal) nothing while it runs, then one
summary line, so a mailed cron log stays one line a run. Both on stderr: stdout may be
the export itself.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click


def rate_text(done: int, seconds: float, unit: str) -> str:
    return f"{done / seconds:,.0f} {unit}/s" if seconds > 0 else f"- {unit}/s"


def on_terminal(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def progress(
    label: str, total: int, unit: str = "rows", stream: TextIO | None = None
) -> Iterator[Callable[[int], None]]:
    """`with progress("export", n) as advance: … advance(k)`: k more done."""
    out = stream or sys.stderr
    started = time.monotonic()
    done = 0
    if on_terminal(out):
        with click.progressbar(
            length=max(total, 1),
            label=label,
            file=out,
            show_pos=True,
            show_eta=True,
            item_show_func=lambda _: rate_text(done, time.monotonic() - started, unit),
        ) as bar:

            def advance_bar(count: int) -> None:
                nonlocal done
                count = max(0, min(count, total - done))  # never past the total
                done += count
                bar.update(count, done)

            yield advance_bar
        return

    def advance(count: int) -> None:
        nonlocal done
        done += max(0, count)

    yield advance
    seconds = time.monotonic() - started
    click.echo(
        f"{label}: {min(done, total):,} of {total:,} {unit} in {seconds:.1f} s "
        f"({rate_text(min(done, total), seconds, unit)})",
        file=out,
    )
