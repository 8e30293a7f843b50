"""Progress of Spark work: each stage's completed and total tasks, as the stage runs.

Spark's own console progress bar is disabled (it writes carriage returns into logs and
notebooks). Instead a thread reads ``SparkContext.statusTracker()`` every ``every`` seconds
while a block runs and hands each running stage's counts to the current reporter
(``etl.core.progress``): plain lines by default, a live display under the CLI. A stage that
leaves the tracker's active list is reported once more, finished, with its final counts.

The block's jobs also get a job group of their own (and the label as their description, as
the Spark UI shows it), so a block that took a while ends with one exact line: how many
stages and tasks ran, however short each was.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from pyspark.sql import SparkSession

from etl.core import progress
from etl.core.progress import Reporter, StageTasks, plural

JOB_GROUP, JOB_DESCRIPTION = "spark.jobGroup.id", "spark.job.description"
POLL_SECONDS = 0.25
SETTLE_SECONDS = 5.0  # at most this long waiting for Spark to deliver a block's last events


class StageWatcher:
    """Reports the Spark stages that run while it polls (one ``poll`` per look)."""

    def __init__(self, spark: SparkSession, label: str, reporter: Reporter) -> None:
        self.context = spark.sparkContext
        self.tracker = self.context.statusTracker()
        self.label, self.reporter = label, reporter
        self.running: set[int] = set()
        self.first_seen: dict[int, float] = {}  # the Python tracker has no submission time

    def poll(self) -> None:
        """Report every active stage, and as finished those that stopped since the last poll."""
        active = set(self.tracker.getActiveStageIds())
        now = time.monotonic()
        for stage_id in sorted(active | self.running):
            self.first_seen.setdefault(stage_id, now)
            info = self.tracker.getStageInfo(stage_id)
            if info is not None:
                seconds = now - self.first_seen[stage_id]
                self.reporter.stage(self._update(info, seconds, finished=stage_id not in active))
        self.running = active

    def settle(self, timeout: float = SETTLE_SECONDS) -> None:
        """After the block: let the tracker hear the end of its work, then look once more."""
        _drain_listener_bus(self.context, timeout)
        self.poll()

    def summary(self, job_group: str, seconds: float) -> str | None:
        """``label: 3 Spark stages, 8 tasks in 1.2 s`` for the group's jobs (None if none ran)."""
        jobs = [self.tracker.getJobInfo(j) for j in self.tracker.getJobIdsForGroup(job_group)]
        stage_ids = {s for job in jobs if job is not None for s in job.stageIds}
        stages = [self.tracker.getStageInfo(s) for s in sorted(stage_ids)]
        ran = [s for s in stages if s is not None and s.numCompletedTasks + s.numFailedTasks]
        if not ran:  # skipped stages (shuffle output reused) ran no task
            return None
        tasks = plural(sum(s.numCompletedTasks for s in ran), "task")
        failed = sum(s.numFailedTasks for s in ran)
        failed_text = f" ({failed} failed)" if failed else ""
        ran_text = f"{plural(len(ran), 'Spark stage')}, {tasks}{failed_text}"
        return f"{self.label}: {ran_text} in {seconds:.1f} s"

    def _update(self, info, seconds: float, finished: bool) -> StageTasks:
        return StageTasks(
            label=self.label,
            stage_id=info.stageId,
            action=action_name(info.name),
            done=info.numCompletedTasks,
            total=info.numTasks,
            failed=info.numFailedTasks,
            seconds=seconds,
            finished=finished,
        )


def _drain_listener_bus(context, timeout: float) -> None:
    """Wait (bounded) until Spark's listener bus has delivered its events.

    The status tracker learns of task, stage and job ends from that bus, asynchronously: when
    an action returns, its last events may still be queued, and counts read then would be
    short. ``waitUntilEmpty`` is the JVM call Spark's own tests use for this; it is not in the
    Python API, hence the best effort (a timeout, or no JVM to reach, only costs exactness).
    """
    with suppress(Exception):
        context._jsc.sc().listenerBus().waitUntilEmpty(int(timeout * 1000))


def action_name(stage_name: str) -> str:
    """``save`` from ``save at NativeMethodAccessorImpl.java:0``: the call that made the stage."""
    call = stage_name.split(" at ", 1)[0].strip()
    return "broadcast" if call.startswith("$anonfun") else call or "stage"


@contextmanager
def spark_progress(
    spark: SparkSession, label: str, every: float | None = None, enabled: bool = True
) -> Iterator[None]:
    """While the block runs, report the task counts of each Spark stage, labelled ``label``,
    looking every ``every`` s (``POLL_SECONDS``)."""
    if not enabled:
        yield
        return
    every = POLL_SECONDS if every is None else every
    reporter, started = progress.current(), time.monotonic()
    watcher = StageWatcher(spark, label, reporter)
    context = spark.sparkContext
    saved = {key: context.getLocalProperty(key) for key in (JOB_GROUP, JOB_DESCRIPTION)}
    job_group = f"etl-progress-{uuid.uuid4().hex}"
    context.setLocalProperty(JOB_GROUP, job_group)  # this thread's jobs, and theirs only
    context.setLocalProperty(JOB_DESCRIPTION, label)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every):
            watcher.poll()

    thread = threading.Thread(target=watch, name=f"spark-progress-{label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        for key, value in saved.items():
            context.setLocalProperty(key, value)
        stop.set()
        thread.join()
        watcher.settle()
        seconds = time.monotonic() - started
        summary = watcher.summary(job_group, seconds)
        if summary and seconds >= progress.QUIET_SECONDS:
            reporter.line(summary)
