"""``etl watch`` and ``etl executions``: history that survives the process, in AWS shapes."""

from __future__ import annotations

import json
import re

import pytest

from etl.cli.main import main


@pytest.fixture
def watched_lake(spark, lake, monkeypatch):
    """A lake where ``etl watch --once`` has run on one bad file (no Spark work needed)."""
    import etl.jobs.session

    monkeypatch.setattr(etl.jobs.session, "get_spark", lambda *a: spark)
    with open(lake.landing_path("orders.xlsx"), "w") as out:
        out.write("not a spreadsheet")
    assert main(["watch", "--once", "--lake", lake.root]) == 0
    return lake


def test_watch_starts_one_execution_per_new_object_and_none_on_a_rescan(watched_lake, capsys):
    capsys.readouterr()
    assert main(["watch", "--once", "--lake", watched_lake.root]) == 0
    assert main(["executions", "list", "--json", "--lake", watched_lake.root]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [e["status"] for e in listing["executions"]] == ["FAILED"]
    assert set(listing["executions"][0]) == {
        "executionArn",
        "stateMachineArn",
        "name",
        "status",
        "startDate",
        "stopDate",
    }


def test_show_json_has_the_execution_and_every_state_entered_and_exited(watched_lake, capsys):
    main(["executions", "list", "--json", "--lake", watched_lake.root])
    name = json.loads(capsys.readouterr().out)["executions"][0]["name"]
    assert main(["executions", "show", name, "--json", "--lake", watched_lake.root]) == 0
    record = json.loads(capsys.readouterr().out)
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in record["events"]
        if "stateEnteredEventDetails" in e
    ]
    exited = [
        e["stateExitedEventDetails"]["name"]
        for e in record["events"]
        if "stateExitedEventDetails" in e
    ]
    assert entered == [
        "ValidateInput",
        "CheckValidation",
        "NotifyValidationFailure",
        "ValidationFailed",
    ]
    assert exited == entered[:-1]  # a Fail state ends the execution instead of exiting
    assert all("timestamp" in e for e in record["events"])
    assert record["execution"]["status"] == "FAILED"


def test_show_prints_the_path_taken(watched_lake, capsys):
    main(["executions", "list", "--json", "--lake", watched_lake.root])
    name = json.loads(capsys.readouterr().out)["executions"][0]["name"]
    main(["executions", "show", name, "--lake", watched_lake.root])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{name}  FAILED"
    assert lines[1].split() == ["step", "state", "type", "seconds"]
    steps = [line.split()[:3] for line in lines[3:] if not line.startswith("error: ")]
    assert steps[0] == ["1", "ValidateInput", "Task"]
    assert steps[-1] == ["4", "ValidationFailed", "Fail"]
    assert lines[-1].startswith("error: ValidationFailed: ")


def test_list_prints_one_row_per_execution_and_the_count(watched_lake, capsys):
    capsys.readouterr()
    assert main(["executions", "list", "--lake", watched_lake.root]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "status", "started", "stopped"]
    assert lines[2].split()[1] == "FAILED"
    started_and_stopped = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00", lines[2])
    assert len(started_and_stopped) == 2  # to the second, not the microsecond
    assert lines[-1] == "(1 execution)"


def test_showing_an_unknown_execution_is_a_one_line_error(lake, capsys):
    assert main(["executions", "show", "nope", "--lake", lake.root]) == 2
    assert capsys.readouterr().err.startswith("error: no execution 'nope'")
