"""Progress lines while Spark works: task counts, without repeating themselves."""

from __future__ import annotations

import itertools
import time

from etl.jobs.progress import spark_progress


def _slow_stage(spark) -> int:
    """A 4-task Spark stage whose tasks take a while (work, not synchronisation)."""

    def slow(rows):  # a closure, so Spark's workers get it by value
        time.sleep(0.4)
        return rows

    return spark.sparkContext.parallelize(range(4), 4).mapPartitions(slow).count()


def test_progress_reports_task_counts_of_the_running_stage_without_repeats(spark, capsys):
    with spark_progress(spark, "demo", every=0.05):
        _slow_stage(spark)
    lines = [line.strip() for line in capsys.readouterr().err.splitlines() if "demo:" in line]
    assert lines, "no progress line while a 4-task stage ran"
    assert all(line.startswith("demo: ") and line.endswith("/4 tasks done") for line in lines)
    assert all(a != b for a, b in itertools.pairwise(lines))


def test_progress_is_silent_when_disabled(spark, capsys):
    with spark_progress(spark, "demo", every=0.05, enabled=False):
        _slow_stage(spark)
    assert "demo:" not in capsys.readouterr().err
