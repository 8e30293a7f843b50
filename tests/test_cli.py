"""The ``etl`` CLI end to end on a local lake: every format, reruns, and bad input."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from datetime import date
from pathlib import Path
from unittest import mock

import pytest
from pyspark.testing import assertDataFrameEqual

import etl
from etl.cli.main import date_in_name, main
from etl.core import progress
from etl.jobs import progress as spark_progress
from etl.local import history
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake

RUN_DATE = date(2026, 11, 26)  # the sample fixture's as-of date
CURATED = "curated/processed/orders"


def run(file: Path, lake_root: Path, *extra: str) -> int:
    return main(
        ["run", str(file), "--lake", str(lake_root), "--run-date", RUN_DATE.isoformat(), *extra]
    )


def curated_rows(spark, lake_root: Path):
    return spark.read.parquet(str(lake_root / CURATED))


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def json_run(sample_dir, tmp_path_factory):
    """One successful run of the JSON-lines sample: its lake, --json summary and progress
    (every line of it: no work is too short to report, and Spark's stages looked at every
    5 ms, so that stages this short are seen running, not only counted at the end)."""
    root = tmp_path_factory.mktemp("json-lake")
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        mock.patch.object(progress, "QUIET_SECONDS", 0.0),
        mock.patch.object(spark_progress, "POLL_SECONDS", 0.005),
    ):
        assert run(sample_dir / "orders.json", root, "--json") == 0
    return root, json.loads(out.getvalue()), err.getvalue()


@pytest.fixture(scope="module")
def json_lake(json_run):
    return json_run[0]


def test_the_summary_reports_rows_score_and_outputs_of_each_task(spark, sample_dir, json_run):
    root, summary, _ = json_run
    stages = {s["stage"]: s for s in summary["stages"]}
    records = len((sample_dir / "orders.json").read_text().splitlines())
    assert summary["status"] == "SUCCEEDED"
    assert stages["RunDataQualityCheck"]["rows_in"] == records
    assert stages["DiscoverAndCheckQuality"]["detail"] == "branches at the same time"
    assert summary["quality"]["qualityScore"] >= 70
    job = stages["RunETLJob"]
    assert job["rows_in"] == records
    assert job["rows_out"] == curated_rows(spark, root).count() < records
    assert all(Path(o).is_dir() for o in job["outputs"])
    assert {Path(o).parts[-4] for o in job["outputs"]} == {"orders", "daily_sales"}


def test_the_summary_counts_the_rows_the_regions_table_did_not_know(spark, json_run):
    root, summary, progress_lines = json_run
    curated = curated_rows(spark, root)
    unknown = curated.where("region_code IS NOT NULL AND region_name IS NULL").count()
    assert unknown > 0  # the sample has region codes the regions table lacks, on purpose
    assert summary["unmatched"] == {"regions": unknown}
    assert f"warning: {unknown:,} of {curated.count():,} orders rows have a region_code" in (
        progress_lines
    )


def test_progress_names_each_task_state_as_it_is_entered(json_run):
    lines = [line for line in json_run[2].splitlines() if line.startswith("-> ")]
    entered = [line.split()[1] for line in lines]
    expected = ["land:", "ValidateInput", "DiscoverAndCheckQuality", "RunETLJob"]
    assert [name for name in entered if name in expected] == expected
    # the crawler and the quality check start together, in either order, inside the Parallel
    fork, job = entered.index("DiscoverAndCheckQuality"), entered.index("RunETLJob")
    assert {"RunDataDiscovery", "RunDataQualityCheck"} <= set(entered[fork:job])
    assert entered[-2:] == ["NotifySuccess", "Succeeded"]


def test_progress_off_a_terminal_is_plain_lines_of_bytes_and_spark_tasks(json_run):
    err = json_run[2]
    assert "\x1b" not in err and "\r" not in err
    assert re.search(r"^land orders\.json: [\d.]+ kB in [\d.]+ s$", err, re.M)
    assert re.search(r"^data-quality-check reads incoming/orders\.json: [\d.]+ kB in ", err, re.M)
    for work in ("discovery", "quality gate \\+ transform\\+load", "summary daily_sales"):
        assert re.search(rf"^{work}: \d+ Spark stages?, \d+ tasks? in [\d.]+ s$", err, re.M), work
    finished_stages = re.findall(r"^[\w +]+: stage \d+ \(\w+\) (\d+)/(\d+) tasks in ", err, re.M)
    assert finished_stages and all(done == total for done, total in finished_stages)


def test_a_run_leaves_partitioned_parquet_in_curated_and_analytics(json_lake):
    day = "process_year=2026/process_month=11/process_day=26"
    assert list((json_lake / CURATED / day).glob("*.snappy.parquet"))
    assert list((json_lake / "analytics/daily_sales" / day).glob("*.snappy.parquet"))


@pytest.mark.parametrize("name", ["orders_array.json", "orders.csv", "orders.parquet"])
def test_every_format_gives_the_same_curated_rows(spark, sample_dir, json_lake, tmp_path, name):
    assert run(sample_dir / name, tmp_path) == 0
    assertDataFrameEqual(curated_rows(spark, tmp_path), curated_rows(spark, json_lake))


def test_running_the_same_file_twice_leaves_the_row_count_unchanged(
    spark, sample_dir, json_lake, tmp_path
):
    shutil.copytree(json_lake, tmp_path / "lake")
    before = curated_rows(spark, tmp_path / "lake").count()
    assert run(sample_dir / "orders.json", tmp_path / "lake") == 0
    assert curated_rows(spark, tmp_path / "lake").count() == before


def test_the_catalog_knows_the_tables_and_their_partitions(json_lake):
    catalog = LocalCatalog(Lake.local(json_lake))
    orders = catalog.get_table("etl_pipeline", "orders")
    assert [k["Name"] for k in orders["PartitionKeys"]] == [
        "process_year",
        "process_month",
        "process_day",
    ]
    assert [p["Values"] for p in orders["Partitions"]] == [["2026", "11", "26"]]
    assert "email" not in {c["Name"] for c in orders["StorageDescriptor"]["Columns"]}
    raw = catalog.get_table("etl_pipeline", "raw_orders")
    assert raw["Parameters"]["classification"] == "json"
    assert {"Name": "region_code", "Type": "string"} in raw["StorageDescriptor"]["Columns"]
    daily = catalog.get_table("etl_pipeline", "daily_sales")  # the deployment's one database
    assert daily["Partitions"]
    assert daily["StorageDescriptor"]["Location"] == str(json_lake / "analytics/daily_sales")


def last_metrics(lake_root: Path, records: int = 2) -> dict[str, float]:
    """The metrics of the last run: the quality Lambda's record, then the job's."""
    lines = (lake_root / "_system/metrics/metrics.jsonl").read_text().splitlines()
    found = [json.loads(line) for line in lines[-records:]]
    assert {r["Namespace"] for r in found} == {"ETL/Pipeline"}
    return {m["MetricName"]: m["Value"] for r in found for m in r["MetricData"]}


def test_success_is_notified_and_the_job_reports_its_metrics(spark, json_run):
    root, summary, _ = json_run
    notes = (root / "_system/notifications/notifications.jsonl").read_text().splitlines()
    message = json.loads(notes[-1])["Message"]
    assert message["status"] == "SUCCESS" and message["recordsProcessed"] > 0
    assert last_metrics(root) == {
        "JobFailures": 0,
        "RecordsProcessed": curated_rows(spark, root).count(),
        "DataQualityScore": summary["quality"]["qualityScore"],
    }


def test_query_prints_a_table_with_its_row_count(json_lake, capsys):
    sql = "SELECT count(*) AS n, 0.5 AS half FROM etl_pipeline.orders"
    assert main(["query", "--lake", str(json_lake), sql]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["n", "half"]
    assert re.fullmatch(r"\s*\d+\s+0\.5", lines[2])
    assert lines[-1] == "(1 row)"


def test_query_reads_the_analytics_zone(json_lake, capsys):
    sql = "SELECT sum(orders) AS n FROM etl_pipeline.daily_sales"
    assert main(["query", "--lake", str(json_lake), "--json", sql]) == 0
    total = json.loads(capsys.readouterr().out)[0]["n"]
    assert (
        main(
            [
                "query",
                "--lake",
                str(json_lake),
                "--json",
                "SELECT count(*) AS n FROM etl_pipeline.orders",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)[0]["n"] == total


def bad_files(folder: Path) -> dict[str, Path]:
    files = {
        "bad name": folder / "bad\x01name.json",
        "unsupported extension": folder / "orders.xlsx",
        "empty": folder / "empty.json",
        "unparseable": folder / "broken.json",
    }
    files["bad name"].write_text('{"id": 1}\n')
    files["unsupported extension"].write_text("x")
    files["empty"].write_text("")
    files["unparseable"].write_text('{"id": 1, "status": "ACTIVE"}\n{"id": 2, "status": \n')
    return files


@pytest.mark.parametrize("problem", ["bad name", "unsupported extension", "empty", "unparseable"])
def test_invalid_files_exit_non_zero_with_one_line_and_change_nothing(
    json_lake, tmp_path, capsys, problem
):
    lake_root = tmp_path / "lake"
    shutil.copytree(json_lake, lake_root)
    curated_before = tree(lake_root / "curated")
    file = bad_files(tmp_path)[problem]
    capsys.readouterr()
    assert run(file, lake_root) == 3
    err_lines = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("VALIDATION_FAILED")
    ]
    assert len(err_lines) == 1 and "Traceback" not in err_lines[0]
    assert tree(lake_root / "curated") == curated_before
    assert (lake_root / "raw/incoming" / file.name).read_bytes() == file.read_bytes()


def test_a_file_that_fails_the_quality_gate_exits_4_and_writes_nothing(json_lake, tmp_path, capsys):
    lake_root = tmp_path / "lake"
    shutil.copytree(json_lake, lake_root)
    curated_before = tree(lake_root / "curated")
    rows = [
        {"id": None, "name": "x", "status": "ACTIVE", "created_date": None, "region_code": "01"}
    ] * 8
    rows += [
        {
            "id": 1,
            "name": "y",
            "status": "ACTIVE",
            "created_date": "2026-11-01 00:00:00",
            "region_code": "01",
        }
    ]
    low = tmp_path / "low_quality.json"
    low.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run(low, lake_root) == 4
    err = capsys.readouterr().err
    assert "QUALITY_CHECK_FAILED: quality gate failed: quality score" in err
    assert tree(lake_root / "curated") == curated_before
    assert (lake_root / "raw/incoming/low_quality.json").exists()
    last = json.loads(
        (lake_root / "_system/notifications/notifications.jsonl").read_text().splitlines()[-1]
    )
    assert last["Message"]["status"] == "QUALITY_CHECK_FAILED"


def test_a_missing_input_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.json"), "--lake", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_several_files_run_one_after_the_other_past_a_failure(sample_dir, tmp_path, capsys):
    """A backfill: each file its own execution; a bad one is recorded and the rest still run."""
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"id": 1, "name": "Jos\xe9"}\n')  # Latin-1, not UTF-8
    files = [sample_dir / "orders.json", bad, sample_dir / "orders.csv"]
    lake_root = tmp_path / "lake"

    options = ["--lake", str(lake_root), "--run-date", RUN_DATE.isoformat(), "--json"]
    code = main(["run", *map(str, files), *options])

    out, err = capsys.readouterr()
    assert code == 3  # the validation failure's, though the run after it succeeded
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert [Path(r["source"]).name for r in results] == ["orders.json", "orders.csv"]
    assert err.splitlines()[-1] == f"3 files: 2 succeeded; {bad} failed (exit 3)"
    executions = history.list_executions(Lake.local(str(lake_root)))["executions"]
    assert sorted(e["status"] for e in executions) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]


def test_a_backfill_with_a_missing_file_runs_none(sample_dir, tmp_path, capsys):
    lake_root = tmp_path / "lake"
    args = ["run", str(sample_dir / "orders.json"), str(tmp_path / "typo.json")]
    assert main([*args, "--lake", str(lake_root)]) == 2
    assert "typo.json: no such file" in capsys.readouterr().err
    assert not (lake_root / "raw").exists()


def test_a_backfill_takes_each_files_run_date_from_its_name(sample_dir, tmp_path, capsys):
    files = [tmp_path / "orders_2026-11-25.json", tmp_path / "orders20261126.json"]
    for file in files:
        shutil.copy(sample_dir / "orders.json", file)
    lake_root = tmp_path / "lake"
    args = ["run", *map(str, files), "--lake", str(lake_root), "--run-date", "from-name"]

    assert main([*args, "--json"]) == 0

    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["run_date"] for r in results] == ["2026-11-25", "2026-11-26"]
    days = sorted(p.name for p in (lake_root / CURATED).glob("process_year=2026/*/*"))
    assert days == ["process_day=25", "process_day=26"]


def test_from_name_refuses_a_file_without_a_date_before_running_any(sample_dir, tmp_path, capsys):
    lake_root = tmp_path / "lake"
    dated = tmp_path / "orders_2026-11-25.json"
    shutil.copy(sample_dir / "orders.json", dated)
    args = ["run", str(dated), str(sample_dir / "orders.json"), "--run-date", "from-name"]
    assert main([*args, "--lake", str(lake_root)]) == 2
    assert "orders.json: no date in its name" in capsys.readouterr().err
    assert not (lake_root / "raw").exists()


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("orders_2026-11-01.csv", date(2026, 11, 1)),
        ("export20261102.csv.gz", date(2026, 11, 2)),
        ("v2-2026-13-01_2026-11-03.json", date(2026, 11, 3)),  # month 13 is no date
        ("orders_120261101.csv", None),  # nine digits: no date
        ("orders.csv", None),
    ],
)
def test_the_date_in_a_file_name(name, found):
    assert date_in_name(f"/data/{name}") == found


def test_a_bad_run_date_is_rejected_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["run", "x.json", "--run-date", "26/11/2026"])
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_a_file_that_fails_an_expectation_exits_4_and_writes_nothing(json_lake, tmp_path, capsys):
    lake_root = tmp_path / "lake"
    shutil.copytree(json_lake, lake_root)
    curated_before = tree(lake_root / "curated")
    rows = [
        {
            "id": i,
            "name": "x",
            "status": "ACTIVE",
            "created_date": "2026-11-01 00:00:00",
            "region_code": "99",
        }
        for i in range(20)
    ]  # a perfect score, but every region code is unknown: the GX suite fails
    unknown = tmp_path / "unknown_regions.json"
    unknown.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run(unknown, lake_root) == 4
    assert "region_code" in capsys.readouterr().err
    assert tree(lake_root / "curated") == curated_before
    notes = (lake_root / "_system/notifications/notifications.jsonl").read_text().splitlines()
    message = json.loads(notes[-1])["Message"]
    assert message["status"] == "QUALITY_CHECK_FAILED"
    assert last_metrics(lake_root) == {"DataQualityScore": 100.0, "JobFailures": 1}
    assert message["reason"].startswith("QualityCheckFailed: quality gate failed: expectation ")
    assert "expect_column_values_to_be_in_set on region_code" in message["reason"]


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"etl {etl.__version__}\n"


def test_a_bare_etl_prints_the_help_and_exits_0(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: etl")
    assert all(command in out for command in ("run", "query", "executions", "Exit codes"))
