"""OpenLineage events for each execution, kept in the lake and POSTed; ``etl lineage PATH``."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pyarrow.parquet as pq
from run_support import recording_server, run_cli

from etl.local import lineage
from etl.storage.lake import Lake, raw_versions

EXECUTION = {
    "executionArn": "arn:aws:states:us-east-1:123456789012:execution:etl-local-etl-workflow:x-1",
    "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:etl-local-etl-workflow",
    "name": "x-1",
    "status": "SUCCEEDED",
    "startDate": "2026-11-26T10:00:00+00:00",
    "stopDate": "2026-11-26T10:03:00+00:00",
}
RAW = {"bucket": "etl-local-raw", "key": "incoming/orders.json", "etag": "abc123", "size": 42}


def facts(**changes) -> lineage.ExecutionFacts:
    partition = lineage.PartitionFacts(
        ["2026", "11", "26"],
        "/lake/curated/processed/orders/process_year=2026/process_month=11/process_day=26",
        "processed/orders/process_year=2026/process_month=11/process_day=26",
        files=1,
        rows=7,
        bytes=1000,
    )
    table = lineage.TableFacts(
        "curated", "etl-local-curated", "processed/orders", "etl_pipeline", "orders", [partition]
    )
    values = {
        "execution": EXECUTION,
        "state_machine": "etl-local-etl-workflow",
        "input": RAW,
        "dataset": "orders",
        "run_date": "2026-11-26",
        "source_path": "/lake/raw/incoming/orders.json",
        "job_run_id": "jr_1",
        "quality": {"qualityScore": 95.0, "threshold": 70.0, "totalRecords": 9},
        "tables": [table],
    } | changes
    return lineage.ExecutionFacts(**values)


def as_json(event) -> dict:
    from openlineage.client.serde import Serde

    return json.loads(Serde.to_json(event))


# --------------------------------------------------------------------------- event shape
def test_start_and_complete_share_a_run_id_and_name_the_job_after_the_workflow():
    start = as_json(lineage.build_event("START", facts()))
    complete = as_json(lineage.build_event("COMPLETE", facts()))
    assert start["eventType"] == "START" and complete["eventType"] == "COMPLETE"
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert start["eventTime"].startswith("2026-11-26T10:00:00")
    assert complete["eventTime"].startswith("2026-11-26T10:03:00")
    assert complete["job"] == complete["job"] | {
        "namespace": "etl-workbench",
        "name": "etl-local-etl-workflow.orders",
    }


def test_the_input_is_the_raw_object_with_its_etag_as_version():
    [raw] = as_json(lineage.build_event("START", facts()))["inputs"]
    assert (raw["namespace"], raw["name"]) == ("s3://etl-local-raw", "incoming/orders.json")
    assert raw["facets"]["version"]["datasetVersion"] == "abc123"


def test_complete_lists_the_tables_written_with_partitions_rows_and_catalog_name():
    [output] = as_json(lineage.build_event("COMPLETE", facts()))["outputs"]
    assert (output["namespace"], output["name"]) == ("s3://etl-local-curated", "processed/orders")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 7
    [identifier] = output["facets"]["symlinks"]["identifiers"]
    assert identifier["name"] == "table/etl_pipeline/orders"
    [partition] = output["facets"]["etl_partitions"]["partitions"]
    assert partition["values"] == ["2026", "11", "26"] and partition["rows"] == 7


def test_start_has_no_outputs_yet():
    assert as_json(lineage.build_event("START", facts()))["outputs"] == []


def test_fail_carries_the_error_and_no_outputs():
    failed = EXECUTION | {"status": "FAILED", "error": "QualityCheckFailed", "cause": "too many"}
    event = as_json(lineage.build_event("FAIL", facts(execution=failed)))
    assert event["eventType"] == "FAIL" and event["outputs"] == []
    assert event["run"]["facets"]["errorMessage"]["message"] == "QualityCheckFailed: too many"


def test_row_accounting_rides_on_the_run_when_the_job_reports_it():
    rows = {"read": 9, "written": 7, "duplicates": 1, "rejected": {"null key": 1}}
    event = as_json(lineage.build_event("COMPLETE", facts(rows=rows)))
    assert event["run"]["facets"]["etl_execution"]["rows"] == rows


# --------------------------------------------------------------------------- transports
def test_events_go_to_the_lake_file_and_are_posted_to_openlineage_url(tmp_path, monkeypatch):
    lake = Lake.local(tmp_path / "lake")
    event = lineage.build_event("START", facts())
    with recording_server() as server:
        monkeypatch.setenv("OPENLINEAGE_URL", server.url)
        path = lineage.emit(lake, "x-1", event)
    kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert path == tmp_path / "lake" / "_system" / "lineage" / "x-1.jsonl"
    assert [p for p, _ in server.posts] == ["/api/v1/lineage"]
    assert server.posts[0][1] == kept[0] == as_json(event)


def test_an_unreachable_endpoint_warns_in_one_line_and_keeps_the_file(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{port}")
    warnings: list[str] = []
    path = lineage.emit(
        Lake.local(tmp_path / "lake"), "x-1", lineage.build_event("START", facts()), warnings.append
    )
    assert len(path.read_text().splitlines()) == 1
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert warnings[0].startswith(f"warning: lineage START not sent to http://127.0.0.1:{port}")


# --------------------------------------------------------------------------- a real run
def test_a_run_emits_start_then_complete_to_the_lake_and_the_endpoint(reported_run):
    assert reported_run.code == 0, reported_run.stderr
    kept = lineage.read_events(Lake.local(reported_run.lake))
    assert [e["eventType"] for e in kept] == ["START", "COMPLETE"]
    assert [body for _, body in reported_run.posts] == kept
    assert len({e["run"]["runId"] for e in kept}) == 1


def test_the_run_input_version_is_the_landed_object_version(reported_run):
    lake = Lake.local(reported_run.lake)
    [landed] = raw_versions(lake, "incoming/orders.json")
    complete = lineage.read_events(lake)[-1]
    [raw] = complete["inputs"]
    assert raw["name"] == "incoming/orders.json"
    assert raw["facets"]["version"]["datasetVersion"] == lake.raw_version(landed)
    assert (
        raw["facets"]["etl_source"]["etag"]
        == hashlib.md5(Path(landed).read_bytes(), usedforsecurity=False).hexdigest()
    )


def test_the_run_outputs_are_the_curated_and_analytics_partitions_with_their_rows(reported_run):
    complete = lineage.read_events(Lake.local(reported_run.lake))[-1]
    written = {o["name"]: o["facets"]["etl_partitions"]["partitions"] for o in complete["outputs"]}
    # The sample has rows the rules reject: they are quarantined, per rule, beside curated.
    assert set(written) == {"processed/orders", "quarantine/orders", "daily_sales"}
    for partitions in written.values():
        for partition in partitions:
            assert partition["values"][:3] == ["2026", "11", "26"]  # the run date
            files = sorted(Path(partition["location"]).glob("*.parquet"))
            assert partition["rows"] == sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    rows = complete["run"]["facets"]["etl_execution"]["rows"]  # the job's own accounting
    assert rows["written"] == sum(p["rows"] for p in written["processed/orders"])
    assert sum(rows["rejected"].values()) == sum(p["rows"] for p in written["quarantine/orders"])


def curated_partition(lake: Path) -> Path:
    [partition] = (lake / "curated" / "processed" / "orders").glob("process_year=*/*/*")
    return partition


def execution_name(lake: Path) -> str:
    [record] = (lake / "_system" / "executions").glob("*.json")
    return record.stem


def test_etl_lineage_names_the_source_and_execution_of_a_curated_partition(reported_run):
    partition = curated_partition(reported_run.lake)
    code, out, _ = run_cli(reported_run.lake, "lineage", str(partition), "--json")
    found = json.loads(out)
    assert code == 0
    assert found["zone"] == "curated" and found["table"] == "orders"
    [source] = found["sources"]
    assert source["raw"] == "s3://etl-local-raw/incoming/orders.json"
    assert [e["execution"] for e in source["executions"]] == [execution_name(reported_run.lake)]
    assert [e["execution"] for e in found["written_by"]] == [execution_name(reported_run.lake)]


def test_etl_lineage_of_a_curated_file_names_its_source(reported_run):
    [file] = curated_partition(reported_run.lake).glob("*.parquet")
    code, out, _ = run_cli(reported_run.lake, "lineage", str(file))
    assert code == 0
    assert "source       s3://etl-local-raw/incoming/orders.json" in out
    assert execution_name(reported_run.lake) in out


def test_etl_lineage_of_an_analytics_partition_goes_through_the_curated_one(reported_run):
    [partition] = (reported_run.lake / "analytics" / "daily_sales").glob("process_year=*/*/*")
    code, out, _ = run_cli(reported_run.lake, "lineage", str(partition), "--json")
    found = json.loads(out)
    assert code == 0 and found["zone"] == "analytics"
    assert found["summarises"] == str(curated_partition(reported_run.lake))
    assert [s["raw"] for s in found["sources"]] == ["s3://etl-local-raw/incoming/orders.json"]


def test_etl_lineage_of_a_path_outside_the_tables_is_a_one_line_error(reported_run):
    code, _, err = run_cli(reported_run.lake, "lineage", str(reported_run.lake / "raw"))
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1


# --------------------------------------------------------------------------- two sources
def test_a_partition_fed_by_two_files_names_both_and_a_file_only_its_own(tmp_path):
    from etl.storage.staging import source_id

    lake = Lake.local(tmp_path / "lake").ensure()
    partition = (
        Path(lake.curated) / "processed/orders/process_year=2026/process_month=11/process_day=26"
    )
    partition.mkdir(parents=True)
    for number, name in enumerate(("a.json", "b.json"), start=1):
        local = str(Path(lake.raw) / "incoming" / name)
        (partition / f"{source_id(f'incoming/{name}')}-part-00000.snappy.parquet").write_bytes(b"")
        table = lineage.TableFacts(
            "curated",
            "etl-local-curated",
            "processed/orders",
            "etl_pipeline",
            "orders",
            [lineage.PartitionFacts(["2026", "11", "26"], str(partition), "k", 1, number, 1)],
        )
        execution = EXECUTION | {
            "name": f"run-{number}",
            "executionArn": EXECUTION["executionArn"][:-3] + f"run-{number}",
            "stopDate": f"2026-11-26T1{number}:00:00+00:00",
        }
        ran = facts(
            execution=execution,
            input=RAW | {"key": f"incoming/{name}"},
            source_path=local,
            tables=[table],
        )
        lineage.emit(lake, f"run-{number}", lineage.build_event("COMPLETE", ran))
    found = lineage.trace(lake, str(partition))
    assert [s.raw for s in found.sources] == [
        "s3://etl-local-raw/incoming/a.json",
        "s3://etl-local-raw/incoming/b.json",
    ]
    assert [[e["execution"] for e in s.executions] for s in found.sources] == [["run-1"], ["run-2"]]
    assert [e["execution"] for e in found.written_by] == ["run-2", "run-1"]  # newest first
    [file_b] = partition.glob("b.json-*")
    only_b = lineage.trace(lake, str(file_b))
    assert [s.raw for s in only_b.sources] == ["s3://etl-local-raw/incoming/b.json"]
    assert [e["execution"] for e in only_b.written_by] == ["run-2"]


CLIENT_IMPORTS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from etl.local import lineage
from test_lineage import EXECUTION, facts
lineage.import_client()
before = {m for m in sys.modules if m.startswith("openlineage")}
lineage.run_id_for(EXECUTION)
for kind in ("START", "COMPLETE", "FAIL"):
    lineage.build_event(kind, facts())
print(json.dumps(sorted({m for m in sys.modules if m.startswith("openlineage")} - before)))
"""


def test_import_client_imports_every_module_the_events_need():
    # A fresh interpreter: this test session has imported the client already.
    import subprocess
    import sys

    here = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_IMPORTS, here], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
