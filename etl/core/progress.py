"""Progress of long work, and who hears it: an interface with no terminal behind it.

Work reports its news to the current ``Reporter``: the state it is in (a workflow state
entered), a line (a summary), bytes moved (a file landed, an object scanned) and a Spark
stage's task counts.
The default reporter writes plain lines to stderr and stays quiet about work that is over
within ``min_seconds``; the CLI installs a live display instead (``etl.cli.progress``). So
the Glue job and the Lambdas report progress without depending on a terminal library.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, TextIO

QUIET_SECONDS = 2.0  # work shorter than this is not worth a progress line
LINE_SECONDS = 5.0  # at most one plain line per piece of work this often
HEARTBEAT_SECONDS = 15.0  # ...but one even without news, so a log shows the work is alive


@dataclass(frozen=True)
class Transfer:
    """Bytes of one object moved so far (``total`` None when the size is unknown)."""

    label: str
    done: int
    total: int | None
    seconds: float
    finished: bool = False

    @property
    def key(self) -> tuple:
        return ("transfer", self.label)


@dataclass(frozen=True)
class StageTasks:
    """One Spark stage's task counts, within the work labelled ``label``."""

    label: str
    stage_id: int
    action: str
    done: int
    total: int
    failed: int
    seconds: float
    finished: bool = False

    @property
    def key(self) -> tuple:
        return ("stage", self.label, self.stage_id)


class Reporter(Protocol):
    """Where progress goes. Called from worker threads too: implementations lock."""

    def state(self, text: str, lane: str = "") -> None:
        """What the work is doing from now on, e.g. a workflow state entered. Work in a
        ``lane`` (a branch of a Parallel state) runs beside the other lanes; a state without
        one ends them all."""

    def line(self, text: str) -> None:
        """A line to keep, e.g. a summary of finished work."""

    def transfer(self, update: Transfer) -> None:
        """Bytes moved so far; the last update of a transfer has ``finished``."""

    def stage(self, update: StageTasks) -> None:
        """A running Spark stage's counts; the last update of a stage has ``finished``."""


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``1,234 rows``."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def file_size(size: float) -> str:
    """``12.3 MB``: decimal units, as S3 and the AWS console count."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def describe(update: Transfer | StageTasks) -> str:
    """The one-line text of an update; the plain and the live display print the same words."""
    seconds = f"{update.seconds:.1f} s"
    if isinstance(update, Transfer):
        if update.finished:
            return f"{update.label}: {file_size(update.done)} in {seconds}"
        if update.total:
            share = f" ({100 * update.done // update.total}%)"
            return f"{update.label}: {file_size(update.done)} of {file_size(update.total)}{share}"
        return f"{update.label}: {file_size(update.done)}"
    failed = f", {update.failed} failed" if update.failed else ""
    tasks = f"{update.done}/{update.total} tasks{failed}"
    where = f"{update.label}: stage {update.stage_id} ({update.action})"
    return f"{where} {tasks} in {seconds}" if update.finished else f"{where} {tasks}"


class PlainLines:
    """Progress as plain lines: no colour, no carriage returns, safe for pipes, CI and notebooks.

    A piece of work over within ``min_seconds`` prints nothing; a longer one prints when its
    counts move (at most every ``every`` seconds), a heartbeat every ``HEARTBEAT_SECONDS``
    without news, and a last line when it finishes. Times come from the updates, not a clock.
    """

    def __init__(
        self, stream: TextIO | None = None, min_seconds: float | None = None, every=LINE_SECONDS
    ) -> None:
        self._stream, self.every, self._min_seconds = stream, every, min_seconds
        self._said: dict[tuple, tuple[float, str]] = {}  # key -> (seconds, text) last printed
        self._lock = threading.Lock()

    @property
    def min_seconds(self) -> float:
        return QUIET_SECONDS if self._min_seconds is None else self._min_seconds

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr  # looked up late: tests and notebooks swap it
        print(text, file=stream, flush=True)

    def line(self, text: str) -> None:
        with self._lock:
            self._write(text)

    def state(self, text: str, lane: str = "") -> None:
        self.line(text)  # one line each, lanes or not: their order is the order entered

    def transfer(self, update: Transfer) -> None:
        self._update(update)

    def stage(self, update: StageTasks) -> None:
        self._update(update)

    def _update(self, update: Transfer | StageTasks) -> None:
        text = describe(update)
        with self._lock:
            last = self._said.get(update.key)
            if update.finished:
                self._said.pop(update.key, None)
                if last or update.seconds >= self.min_seconds:
                    self._write(text)
                return
            if update.seconds < self.min_seconds:
                return
            if last is None:
                due = True
            else:
                since = update.seconds - last[0]
                due = since >= HEARTBEAT_SECONDS or (text != last[1] and since >= self.every)
            if due:
                self._said[update.key] = (update.seconds, text)
                self._write(text)


def bytes_reporter(label: str) -> Callable[[int, int], None]:
    """An ``on_bytes(done, total)`` callback reporting a transfer to the current reporter."""
    reporter, started = current(), time.monotonic()

    def on_bytes(done: int, total: int) -> None:
        seconds = time.monotonic() - started
        reporter.transfer(Transfer(label, done, total, seconds, finished=done >= total))

    return on_bytes


_reporter: Reporter = PlainLines()
_reporter_lock = threading.Lock()


def current() -> Reporter:
    """The reporter progress goes to now (plain lines on stderr unless one was installed)."""
    return _reporter


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Send progress to ``reporter`` while the block runs (process-wide: work runs in threads)."""
    global _reporter
    with _reporter_lock:
        previous, _reporter = _reporter, reporter
    try:
        yield reporter
    finally:
        with _reporter_lock:
            _reporter = previous
