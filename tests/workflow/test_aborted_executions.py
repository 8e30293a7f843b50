"""An execution whose process dies, or is interrupted, is listed as ABORTED, not lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from workflow_support import RUN_DATE

from etl.cli.main import main
from etl.local import history
from etl.local.runner import LocalWorkflow
from etl.storage.lake import land_file
from etl.storage.locks import process_start


def execution(name: str) -> dict:
    return {
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:etl:{name}",
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:etl",
        "name": name,
        "status": "RUNNING",
        "startDate": datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    }


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout)


def listed(lake, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["executions", "list", "--json", "--lake", lake.root]) == 0
    return json.loads(capsys.readouterr().out)["executions"]


def test_a_running_execution_whose_process_died_is_listed_as_aborted(lake, capsys):
    history.save(lake, execution("killed"), [], owner={"pid": dead_pid(), "started": None})
    history.save_running(lake, execution("alive"))  # this process: still running
    statuses = {e["name"]: (e["status"], e["startDate"]) for e in listed(lake, capsys)}
    assert statuses == {
        "killed": ("ABORTED", "2026-11-26T09:30:00+00:00"),
        "alive": ("RUNNING", "2026-11-26T09:30:00+00:00"),
    }
    assert main(["executions", "show", "killed", "--lake", lake.root]) == 0
    assert "ABORTED" in capsys.readouterr().out
    assert main(["executions", "list", "--lake", lake.root]) == 0
    assert "ABORTED" in capsys.readouterr().out


def test_a_reused_pid_does_not_keep_a_dead_execution_running(lake, capsys):
    """The record keeps the process's start time: another process with that pid is not it."""
    owner = {"pid": os.getpid(), "started": str(int(process_start(os.getpid()) or 0) + 1)}
    history.save(lake, execution("before-reboot"), [], owner=owner)
    assert [e["status"] for e in listed(lake, capsys)] == ["ABORTED"]


def test_an_interrupted_wait_records_the_execution_as_aborted(spark, lake, tmp_path, capsys):
    bad = tmp_path / "orders.xlsx"  # fails validation: no Spark work left running behind
    bad.write_text("not a spreadsheet")

    def interrupt(event: dict) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the execution runs

    with (
        LocalWorkflow(lake, spark=spark, echo=False) as workflow,
        pytest.raises(KeyboardInterrupt),
    ):
        workflow.run_landed(land_file(str(bad), lake), RUN_DATE, on_event=interrupt)
    [record] = listed(lake, capsys)
    assert record["status"] == "ABORTED" and record["stopDate"]
    name = record["name"]
    assert history.load(lake, name)["execution"]["cause"] == "interrupted"
