"""On the project kernel each cell's Spark work shows as plain progress lines under the cell."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from etl.core import progress
from etl.notebooks.session import watch_cells


@pytest.fixture
def shell(spark):
    """An IPython shell with the cell watcher registered (and unregistered after)."""
    ipython = InteractiveShell.instance()
    before = {name: list(ipython.events.callbacks[name]) for name in ipython.events.callbacks}
    watch_cells(ipython)
    ipython.user_ns["spark"] = spark
    yield ipython
    for name, callbacks in before.items():
        ipython.events.callbacks[name] = callbacks


def test_a_cells_spark_stages_are_reported_in_plain_lines(shell, capsys, monkeypatch):
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    result = shell.run_cell("spark.sparkContext.parallelize(range(8), 4).count()")
    assert result.result == 8
    err = capsys.readouterr().err
    assert "cell: 1 Spark stage, 4 tasks in " in err
    assert "\x1b" not in err and "\r" not in err


def test_cells_without_spark_work_or_over_within_the_quiet_time_print_nothing(
    shell, capsys, monkeypatch
):
    shell.run_cell("1 + 1")
    monkeypatch.setattr(progress, "QUIET_SECONDS", 3600.0)
    shell.run_cell("spark.sparkContext.parallelize(range(8), 4).count()")
    assert "cell:" not in capsys.readouterr().err
