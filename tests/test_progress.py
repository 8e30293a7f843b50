"""Progress while Spark works: each stage's task counts move to the total, in plain lines."""

from __future__ import annotations

import itertools
import time

import pytest

from etl.core import progress
from etl.core.progress import PlainLines, StageTasks, Transfer
from etl.jobs.progress import JOB_GROUP, spark_progress


class Recorder:
    """A reporter that keeps every update, for assertions."""

    def __init__(self) -> None:
        self.updates: list = []
        self.lines: list[str] = []

    def state(self, text: str) -> None:
        self.lines.append(text)

    line = state

    def transfer(self, update: Transfer) -> None:
        self.updates.append(update)

    def stage(self, update: StageTasks) -> None:
        self.updates.append(update)


def _staggered_stage(spark) -> int:
    """One 4-task Spark stage whose tasks finish one after another (work, not waiting)."""

    def slow(index, rows):  # a closure, so Spark's workers get it by value
        time.sleep(0.4 * index)
        return rows

    return spark.sparkContext.parallelize(range(4), 4).mapPartitionsWithIndex(slow).count()


def test_a_stage_reports_task_counts_that_move_up_to_the_total(spark):
    recorder = Recorder()
    with progress.reporting(recorder), spark_progress(spark, "demo", every=0.02):
        _staggered_stage(spark)
    updates = [u for u in recorder.updates if isinstance(u, StageTasks)]
    assert {(u.label, u.total, u.action) for u in updates} == {("demo", 4, "count")}
    done = [u.done for u in updates]
    assert done == sorted(done), "task counts went backwards"
    assert any(0 < n < 4 for n in done), f"the counts never moved between 0 and 4: {done}"
    assert updates[-1].finished and updates[-1].done == 4
    assert [u.finished for u in updates].count(True) == 1


def test_plain_lines_name_the_stage_move_and_never_repeat(spark, capsys):
    with (
        progress.reporting(PlainLines(min_seconds=0, every=0)),
        spark_progress(spark, "demo", every=0.02),
    ):
        _staggered_stage(spark)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("demo: stage")]
    assert all(a != b for a, b in itertools.pairwise(lines))
    assert len(lines) >= 3, lines  # at least 0 or 1 of 4, something in between, 4 of 4
    assert lines[-1].split(") ", 1)[1].startswith("4/4 tasks in ")
    assert all("\x1b" not in line and "\r" not in line for line in lines)


def test_the_block_ends_with_every_stage_and_task_it_ran_however_short(spark, capsys, monkeypatch):
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    with progress.reporting(PlainLines()), spark_progress(spark, "demo", every=60):
        spark.sparkContext.parallelize(range(8), 4).count()  # over before the first poll
        spark.sparkContext.parallelize(range(8), 2).count()
    summary = capsys.readouterr().err.splitlines()[-1]
    assert summary.startswith("demo: 2 Spark stages, 6 tasks in ")


def test_the_callers_job_group_is_back_after_the_block(spark):
    context = spark.sparkContext
    context.setLocalProperty(JOB_GROUP, "callers-group")
    try:
        with spark_progress(spark, "demo", every=60):
            assert context.getLocalProperty(JOB_GROUP).startswith("etl-progress-")
        assert context.getLocalProperty(JOB_GROUP) == "callers-group"
    finally:
        context.setLocalProperty(JOB_GROUP, None)


def test_progress_is_silent_when_disabled(spark, capsys):
    recorder = Recorder()
    with progress.reporting(recorder), spark_progress(spark, "demo", every=0.02, enabled=False):
        spark.sparkContext.parallelize(range(4), 4).count()
    assert recorder.updates == [] and recorder.lines == []


# --- plain lines, from updates alone (no Spark, no clock) ---------------------------------
def stage(done: int, seconds: float, finished: bool = False) -> StageTasks:
    return StageTasks("load", 7, "save", done, 8, 0, seconds, finished)


def test_work_over_within_the_quiet_time_prints_nothing(capsys):
    plain = PlainLines(min_seconds=2.0)
    plain.stage(stage(3, 0.5))
    plain.stage(stage(8, 1.5, finished=True))
    plain.transfer(Transfer("land a.json", 10, 10, 0.1, finished=True))
    assert capsys.readouterr().err == ""


def test_long_work_prints_moving_counts_at_most_every_few_seconds_and_its_end(capsys):
    plain = PlainLines(min_seconds=2.0, every=5.0)
    for done, seconds in [(1, 2.5), (2, 3.0), (2, 8.0), (2, 9.0), (2, 25.0)]:
        plain.stage(stage(done, seconds))
    plain.stage(stage(8, 26.0, finished=True))
    assert capsys.readouterr().err.splitlines() == [
        "load: stage 7 (save) 1/8 tasks",
        "load: stage 7 (save) 2/8 tasks",  # 3.0 s was too soon after the last line
        "load: stage 7 (save) 2/8 tasks",  # no news for 15 s: a heartbeat
        "load: stage 7 (save) 8/8 tasks in 26.0 s",
    ]


def test_transfers_print_bytes_in_decimal_units_and_a_share(capsys):
    plain = PlainLines(min_seconds=0, every=0)
    plain.transfer(Transfer("land big.json", 12_300_000, 45_000_000, 1.0))
    plain.transfer(Transfer("land big.json", 45_000_000, 45_000_000, 3.2, finished=True))
    assert capsys.readouterr().err.splitlines() == [
        "land big.json: 12.3 MB of 45.0 MB (27%)",
        "land big.json: 45.0 MB in 3.2 s",
    ]


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 rows"), (1, "1 row"), (2, "2 rows"), (12345, "12,345 rows")]
)
def test_counts_are_singular_or_plural(count, text):
    assert progress.plural(count, "row") == text
