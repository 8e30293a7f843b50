"""The Glue job's quality gate results, kept in the lake for the run report and Data Docs.

One JSON file per job run, ``<lake>/_system/quality/<job run id>.json``: the gate's report
(score, per-column null and distinct counts, failed expectations) and great-expectations'
own validation result, kept whether the gate passed or stopped the run. A deployed lake has
no ``_system`` folder; there the record is not kept (the report is a local tool).
"""

from __future__ import annotations

import json
from pathlib import Path

from etl.storage.lake import Lake


def _file(lake: Lake, job_run_id: str) -> Path | None:
    if not lake.system or lake.system.startswith("s3://"):
        return None
    return Path(lake.system_path("quality", f"{job_run_id}.json"))


def keep(lake: Lake, job_run_id: str, record: dict) -> Path | None:
    """Write one job run's quality record (atomically); None when the lake keeps none."""
    path = _file(lake, job_run_id)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load(lake: Lake, job_run_id: str) -> dict | None:
    """The quality record of a job run, or None when it was not kept."""
    path = _file(lake, job_run_id) if job_run_id else None
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
