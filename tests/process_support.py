"""Reading a child process's output (or a FIFO it writes) from a test, with bounded waits."""

from __future__ import annotations

import queue
import threading


def lines_of(stream, into: queue.Queue) -> threading.Thread:
    """Every line of ``stream`` (or of the FIFO at that path) into ``into``, then ``None``: a
    thread, so the test waits with a bound even while opening a FIFO blocks."""

    def pump() -> None:
        lines = open(stream, encoding="utf-8") if isinstance(stream, str) else stream  # noqa: SIM115
        for line in lines:
            into.put(line)
        into.put(None)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread
