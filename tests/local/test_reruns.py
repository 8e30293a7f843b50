"""Re-running a file on another day moves its rows, in curated and in the summaries."""

from __future__ import annotations

import contextlib
import io
import json

from etl.cli.main import main


def etl(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(list(argv)) == 0
    return out.getvalue()


def query(lake: str, sql: str) -> list[dict]:
    return json.loads(etl("query", sql, "--lake", lake, "--json"))


def test_a_file_rerun_on_another_day_is_counted_once_in_the_summary(sample_dir, tmp_path):
    lake, source = str(tmp_path / "lake"), str(sample_dir / "orders.json")
    etl("run", source, "--lake", lake, "--run-date", "2026-11-26")
    etl("run", source, "--lake", lake, "--run-date", "2026-11-27")
    curated = query(lake, "SELECT process_day, count(*) AS n FROM etl_pipeline.orders GROUP BY 1")
    summary = query(
        lake,
        "SELECT process_day, sum(orders) AS n FROM etl_pipeline.daily_sales GROUP BY 1",
    )
    assert curated == summary  # one processing day, the same count
    assert [row["process_day"] for row in curated] == [27]
