"""Progress of the long CLI commands on a terminal (rich), silent when stderr is a pipe or a file.

A day of FWJRs takes minutes to generate, read or publish; on a terminal the operator sees that
the command is alive and how fast it goes. In scripts and logs (stderr not a terminal) nothing is
drawn, so their output stays what it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")


def _console() -> Console:
    return Console(stderr=True)


def counted(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """The items, passed through unchanged, counted on a progress bar (a bare count when the
    total is unknown)."""
    console = _console()
    if not console.is_terminal:
        yield from items
        return
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed:,}")]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def waiting(description: str) -> Iterator[Callable[[int], None]]:
    """A spinner while something settles; the callback shows how much is left (e.g. messages)."""
    console = _console()
    if not console.is_terminal:
        yield lambda left: None
        return
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[left]:,} left"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=None, left=0)
        yield lambda left: bar.update(task, left=left)
