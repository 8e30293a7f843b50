"""Progress on long Spark work: a background thread that reports task completion.

Spark's own console progress bar is disabled (it garbles logs and notebooks); this prints
one line every few seconds, only while a stage is actually running.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

QUIET_SECONDS = 15.0


@contextmanager
def spark_progress(
    spark: SparkSession, label: str, every: float = 3.0, enabled: bool = True
) -> Iterator[None]:
    """While the block runs, print ``label: N/M tasks`` for active Spark stages."""
    if not enabled:
        yield
        return
    stop = threading.Event()
    tracker = spark.sparkContext.statusTracker()

    def report() -> None:
        last, waited = None, 0.0
        while not stop.wait(every):
            waited += every
            stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
            stages = [s for s in stages if s is not None]
            if not stages:
                continue
            done = sum(s.numCompletedTasks for s in stages)
            total = sum(s.numTasks for s in stages)
            if (done, total) != last or waited >= QUIET_SECONDS:  # no repeats, but a heartbeat
                print(f"    {label}: {done}/{total} tasks done", file=sys.stderr, flush=True)
                last, waited = (done, total), 0.0

    thread = threading.Thread(target=report, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
