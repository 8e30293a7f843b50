"""Real runs shared by the report and lineage tests (each costs a Spark job: run them once)."""

from __future__ import annotations

from datetime import date

import pytest
from run_support import RUN_DATE, CliRun, recording_server, run_cli


@pytest.fixture(scope="session")
def reported_run(spark, tmp_path_factory) -> CliRun:
    """``etl run --report`` on 200 sample orders, with lineage POSTed to a local server."""
    from etl.local.samples.orders import write_samples

    samples = tmp_path_factory.mktemp("report-samples")
    write_samples(samples, rows=200, as_of=date.fromisoformat(RUN_DATE))
    lake = tmp_path_factory.mktemp("report-lake") / "lake"
    with recording_server() as server:
        code, out, err = run_cli(
            lake,
            "run",
            str(samples / "orders.json"),
            "--run-date",
            RUN_DATE,
            "--report",
            url=server.url,
        )
    return CliRun(lake, code, out, err, list(server.posts))


@pytest.fixture(scope="session")
def invalid_run(tmp_path_factory) -> CliRun:
    """``etl run --report`` on a file the validation Lambda refuses (no Spark work)."""
    folder = tmp_path_factory.mktemp("invalid")
    bad = folder / "orders.xlsx"
    bad.write_text("not a spreadsheet", encoding="utf-8")
    lake = folder / "lake"
    code, out, err = run_cli(lake, "run", str(bad), "--run-date", RUN_DATE, "--report")
    return CliRun(lake, code, out, err, [])
