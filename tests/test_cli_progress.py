"""The CLI's progress: live rows on a terminal, plain lines on anything else."""

from __future__ import annotations

import io

import pytest

from etl.cli.progress import LiveProgress, live_progress
from etl.core import progress
from etl.core.progress import PlainLines, StageTasks, Transfer

LONG_STAGE = StageTasks("transform+load", 4, "save", 2, 2, 0, 12.5, finished=True)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def ordinary_environment(monkeypatch):
    """No variables that force rich's hand either way."""
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def test_off_a_terminal_progress_is_plain_lines_without_ansi_or_carriage_returns():
    stream = io.StringIO()
    with live_progress(stream) as reporter:
        assert isinstance(reporter, PlainLines)
        assert progress.current() is reporter
        reporter.state("-> RunETLJob (Task)")
        reporter.transfer(Transfer("land big.json", 5_000_000, 9_000_000, 3.0))
        reporter.stage(LONG_STAGE)
    assert progress.current() is not reporter  # the default is back after the command
    assert stream.getvalue().splitlines() == [
        "-> RunETLJob (Task)",
        "land big.json: 5.0 MB of 9.0 MB (55%)",
        "transform+load: stage 4 (save) 2/2 tasks in 12.5 s",
    ]


def test_a_dumb_terminal_gets_plain_lines_too(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    with live_progress(Terminal()) as reporter:
        assert isinstance(reporter, PlainLines)


def test_on_a_terminal_progress_is_drawn_live_and_finished_work_leaves_its_line():
    stream = Terminal()
    with live_progress(stream) as reporter:
        assert isinstance(reporter, LiveProgress)
        reporter.state("-> RunETLJob (Task)")
        reporter.stage(StageTasks("transform+load", 4, "save", 1, 2, 0, 1.0))
        reporter.bars.refresh()
        reporter.stage(LONG_STAGE)
    out = stream.getvalue()
    assert "\x1b[" in out  # redrawn in place: cursor movement
    assert "-> RunETLJob (Task)" in out
    assert "transform+load: stage 4 (save) 2/2 tasks in 12.5 s" in out
    assert "1/2 tasks" in out  # the running stage's row


def test_stdout_is_left_alone_under_the_live_display(capsys):
    with live_progress(Terminal()):
        print('{"status": "SUCCEEDED"}')
    assert capsys.readouterr().out == '{"status": "SUCCEEDED"}\n'


def test_each_branch_of_a_parallel_state_keeps_its_own_live_row_until_the_next_state():
    with live_progress(Terminal()) as reporter:
        reporter.state("-> DiscoverAndCheckQuality (Parallel)")
        reporter.state("-> RunDataDiscovery (Task)", lane="DiscoverAndCheckQuality[0]")
        reporter.state("-> RunDataQualityCheck (Task)", lane="DiscoverAndCheckQuality[1]")
        reporter.state("-> CheckCrawlerStatus (Task)", lane="DiscoverAndCheckQuality[0]")
        rows = [task.description for task in reporter.bars.tasks]
        assert rows == [
            "-> DiscoverAndCheckQuality (Parallel)",
            "-> RunDataQualityCheck (Task)",
            "-> CheckCrawlerStatus (Task)",
        ]
        reporter.state("-> RunETLJob (Task)")
        assert [task.description for task in reporter.bars.tasks] == ["-> RunETLJob (Task)"]


def test_off_a_terminal_a_branch_state_is_one_plain_line():
    stream = io.StringIO()
    PlainLines(stream).state("-> RunDataQualityCheck (Task)", lane="DiscoverAndCheckQuality[1]")
    assert stream.getvalue() == "-> RunDataQualityCheck (Task)\n"
