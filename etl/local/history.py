"""Execution history kept in the lake, in the shapes the AWS CLI prints.

One JSON file per execution under ``<lake>/_system/executions/``: ``execution`` is the
``describe-execution`` record and ``events`` the ``get-execution-history`` events. Local
moto state vanishes with the process; these files are what ``etl executions`` reads.

An execution is recorded when it starts (RUNNING, with the pid of the process running it)
and again when it stops. A RUNNING record whose process is gone (killed, machine restarted)
reads as ABORTED: that execution will never finish.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from etl.storage.lake import Lake
from etl.storage.locks import pid_alive, process_start

LIST_FIELDS = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate")


def _folder(lake: Lake) -> Path:
    return Path(lake.system_path("executions"))


def _file(lake: Lake, name: str) -> Path:
    return _folder(lake) / f"{name}.json"


def exists(lake: Lake, name: str) -> bool:
    return _file(lake, name).is_file()


def save(lake: Lake, execution: dict, events: list[dict], owner: dict | None = None) -> Path:
    """Write one execution's record (atomically: a half-written record is never read)."""
    path = _file(lake, execution["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    record = {"execution": execution, "events": events}
    if owner:
        record["owner"] = owner
    tmp.write_text(json.dumps(record, indent=2, default=_iso) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def save_running(lake: Lake, execution: dict) -> Path:
    """Record an execution that has just started, as run by this process."""
    owner = {"pid": os.getpid(), "started": process_start(os.getpid())}
    return save(lake, execution, [], owner=owner)


def aborted(execution: dict, cause: str, stopped: datetime | None = None) -> dict:
    """``execution`` as ABORTED, with why (and when, if known)."""
    record = execution | {"status": "ABORTED", "error": "Aborted", "cause": cause}
    if stopped is not None:
        record["stopDate"] = stopped
    return record


def _settled(record: dict) -> dict:
    """A RUNNING record whose process has died is ABORTED (it will never finish)."""
    owner = record.get("owner")
    execution = record["execution"]
    if execution.get("status") != "RUNNING" or not owner:
        return record
    if pid_alive(owner.get("pid"), owner.get("started")):
        return record
    cause = f"the process running it (pid {owner.get('pid')}) ended before it finished (killed?)"
    return record | {"execution": aborted(execution, cause)}


def load(lake: Lake, execution_id: str) -> dict:
    """The record for an execution name or ARN; ``KeyError`` naming it if unknown."""
    name = execution_id.rsplit(":", 1)[-1]
    path = _file(lake, name)
    if not path.is_file():
        raise KeyError(f"no execution {execution_id!r} in {_folder(lake)}")
    return _settled(json.loads(path.read_text(encoding="utf-8")))


def list_executions(lake: Lake) -> dict:
    """``list-executions`` output: newest first."""
    records = [
        _settled(json.loads(p.read_text(encoding="utf-8")))["execution"]
        for p in _folder(lake).glob("*.json")
    ]
    items = [{k: r[k] for k in LIST_FIELDS if k in r} for r in records]
    return {"executions": sorted(items, key=lambda r: r["startDate"], reverse=True)}


def path_taken(events: list[dict]) -> list[dict]:
    """The states visited, in the order entered: name, type, entered/exited time and seconds
    spent. The branches of a Parallel state run at the same time, so their events interleave:
    an exit closes the latest open visit of the state it names."""
    steps: list[dict] = []
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            steps.append(
                {
                    "state": details["name"],
                    "type": kind.removesuffix("StateEntered"),
                    "entered": event["timestamp"],
                    "exited": None,
                    "seconds": None,
                }
            )
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            step = next((s for s in reversed(steps) if s["state"] == name), None)
            if step is None or step["exited"] is not None:
                continue
            step["exited"] = event["timestamp"]
            step["seconds"] = round(
                (_time(event["timestamp"]) - _time(step["entered"])).total_seconds(), 2
            )
    return steps


def _time(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in execution history")


def state_value(events: list[dict], name: str) -> dict | None:
    """``name`` in the last state output that has it, from an execution's history."""
    for event in reversed(events):
        details = event.get("stateExitedEventDetails")
        if details:
            value = json.loads(details.get("output") or "{}").get(name)
            if value is not None:
                return value
    return None
