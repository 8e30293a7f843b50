"""Helpers shared by the workflow tests."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date
from pathlib import Path

RUN_DATE = date(2026, 11, 26)


@contextmanager
def local_workflow(spark, lake, **services):
    from etl.local.runner import LocalWorkflow

    with LocalWorkflow(lake, spark=spark, echo=False) as workflow:
        for name, value in services.items():
            setattr(workflow.services, name, value)
        yield workflow


def states_visited(record: dict) -> list[str]:
    from etl.local.history import path_taken

    return [step["state"] for step in path_taken(record["events"])]


def write_json_lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
