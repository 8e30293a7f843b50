"""The CLI's live progress: rich bars in a terminal, plain lines anywhere else.

In a terminal the workflow's current state (one per branch while a Parallel state's branches
run side by side), each transfer (bytes landed or scanned) and each
running Spark stage (tasks done of total) get a live row that is redrawn in place; finished
work leaves one line above the rows, and the rows vanish when the command ends. Anywhere
else - a pipe, CI, a notebook, a test - progress is ``etl.core.progress.PlainLines``: the
same words, one line each, no ANSI codes and no carriage returns.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from etl.core import progress
from etl.core.progress import PlainLines, Reporter, StageTasks, Transfer, describe


class LiveProgress:
    """A ``Reporter`` drawing rich progress rows on a terminal console."""

    def __init__(self, console: Console, min_seconds: float | None = None) -> None:
        self._min_seconds = min_seconds
        self.bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,  # stdout carries results (tables, --json): never redrawn
            redirect_stderr=True,  # other stderr lines print above the rows
        )
        self._rows: dict[tuple, TaskID] = {}
        self._states: dict[str, TaskID] = {}  # lane ("" outside Parallel branches) -> row
        self._lock = threading.Lock()

    @property
    def min_seconds(self) -> float:
        return progress.QUIET_SECONDS if self._min_seconds is None else self._min_seconds

    def __enter__(self) -> LiveProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()

    def line(self, text: str) -> None:
        """Print ``text`` above the rows."""
        with self._lock:
            self._print(text)

    def state(self, text: str, lane: str = "") -> None:
        """Print ``text`` above the rows and keep it on its lane's row, timed from now: one
        row per branch of a Parallel state, all of them replaced by the next state outside."""
        with self._lock:
            self._print(text)
            ended = [lane] if lane else list(self._states)
            for name in ended:
                if name in self._states:
                    self.bars.remove_task(self._states.pop(name))
            self._states[lane] = self.bars.add_task(escape(text), total=None, count="")

    def transfer(self, update: Transfer) -> None:
        from rich.filesize import decimal

        total = f" / {decimal(update.total)}" if update.total else ""
        self._update(update, update.done, update.total, f"{decimal(update.done)}{total}")

    def stage(self, update: StageTasks) -> None:
        where = f"{update.label}: stage {update.stage_id} ({update.action})"
        failed = f", {update.failed} failed" if update.failed else ""
        self._update(
            update, update.done, update.total, f"{update.done}/{update.total} tasks{failed}", where
        )

    def _update(self, update, done, total, count: str, description: str | None = None) -> None:
        with self._lock:
            row = self._rows.get(update.key)
            if update.finished:
                if row is not None:
                    self.bars.remove_task(row)
                    del self._rows[update.key]
                if update.seconds >= self.min_seconds:
                    self._print(describe(update))
                return
            if row is None:
                label = escape(description or update.label)
                self._rows[update.key] = self.bars.add_task(
                    label, total=total, completed=done, count=count
                )
            else:
                self.bars.update(row, total=total, completed=done, count=count)

    def _print(self, text: str) -> None:
        self.bars.console.print(text, markup=False, highlight=False, soft_wrap=True)


def is_live_terminal(console: Console) -> bool:
    """Rows redrawn in place only on a real terminal: not a pipe, a dumb terminal, Jupyter."""
    return console.is_terminal and not console.is_dumb_terminal and not console.is_jupyter


@contextmanager
def live_progress(stream: TextIO | None = None) -> Iterator[Reporter]:
    """Report progress to ``stream`` (default stderr) while the block runs, live if a terminal."""
    stream = stream or sys.stderr
    console = Console(file=stream, highlight=False)
    if not is_live_terminal(console):
        with progress.reporting(PlainLines(stream)) as reporter:
            yield reporter
        return
    with LiveProgress(console) as live, progress.reporting(live) as reporter:
        yield reporter
