"""Fixtures for the workflow tests: a lake, small sample files, a local state machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_support import RUN_DATE, local_workflow


@pytest.fixture(scope="session")
def small_samples(tmp_path_factory) -> Path:
    """The orders feed, 200 records, in every format."""
    from etl.local.samples.orders import write_samples

    out = tmp_path_factory.mktemp("workflow-samples")
    write_samples(out, rows=200, as_of=RUN_DATE)
    return out


@pytest.fixture
def run_workflow(spark, lake):
    """``run_workflow(file, **services)`` lands ``file`` and runs one execution on it."""
    from etl.storage.lake import land_file

    def run(file: Path, **services) -> dict:
        with local_workflow(spark, lake, **services) as workflow:
            return workflow.run_landed(land_file(str(file), lake), RUN_DATE)

    return run
