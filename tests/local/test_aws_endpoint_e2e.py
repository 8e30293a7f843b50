"""The tutorial's verification commands, answered by the local endpoint with a local run's facts.

One module-wide scenario, as a user runs it: ``etl aws up`` (subprocess, free port, throwaway
lake), ``etl sample --rows 50``, ``etl run orders.json``; then one AWS CLI command per test,
checked against what the run wrote into the lake; last, ``etl aws down`` leaves no process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ACCOUNT_REGION = "123456789012-us-east-1"
PREFIX = "etl-pipeline-dev"
RAW_BUCKET = f"{PREFIX}-raw-{ACCOUNT_REGION}"
CURATED_BUCKET = f"{PREFIX}-curated-{ACCOUNT_REGION}"
STATE_MACHINE_ARN = f"arn:aws:states:us-east-1:123456789012:stateMachine:{PREFIX}-etl-workflow"
DATABASE = "etl_pipeline_dev"


def run(*command: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Endpoint up, a 50-row sample run; down (also if a test failed) at the end."""
    root = tmp_path_factory.mktemp("aws-endpoint")
    lake = root / "lake"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(key, None)
    up = run(BIN / "etl", "aws", "up", "--lake", lake, "--port", str(port), env=env, timeout=600)
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in up.stdout.splitlines()
        if line.startswith("export ")
    )
    pid = json.loads((lake / "_system" / "aws" / "endpoint.json").read_text())["pid"]
    try:
        run(BIN / "etl", "sample", "--rows", "50", "--out", root / "sample", env=env, timeout=120)
        ran = run(
            BIN / "etl", "run", root / "sample" / "orders.json", "--lake", lake, "--json",
            env=env, timeout=900,
        )  # fmt: skip
        yield {
            "lake": lake,
            "env": env,
            "exports": exports,
            "url": f"http://127.0.0.1:{port}",
            "pid": pid,
            "run": json.loads(ran.stdout),
            "run_stderr": ran.stderr,
        }
    finally:
        subprocess.run(
            [str(BIN / "etl"), "aws", "down", "--lake", str(lake)],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="module")
def aws(scenario):
    """``aws(...)``: the AWS CLI in .venv against the endpoint, its JSON answer parsed.

    Credentials and region from the ``export`` lines ``etl aws up`` printed; the endpoint
    given as ``--endpoint-url``, as the README shows the tutorial's commands.
    """
    env = {**scenario["env"], **scenario["exports"]}
    env.pop("AWS_ENDPOINT_URL")

    def call(*args: str) -> dict:
        result = run(
            BIN / "aws", *args, "--endpoint-url", scenario["url"], "--output", "json",
            env=env, timeout=60,
        )  # fmt: skip
        return json.loads(result.stdout) if result.stdout.strip() else {}

    return call


def local_record(scenario) -> dict:
    name = scenario["run"]["run_id"]
    path = scenario["lake"] / "_system" / "executions" / f"{name}.json"
    return json.loads(path.read_text())


def test_up_prints_the_variables_for_the_aws_cli(scenario):
    assert scenario["exports"] == {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": scenario["url"],
    }
    assert "[aws] recorded in" in scenario["run_stderr"]


def test_s3_ls_shows_the_landed_object_in_the_raw_bucket(scenario):
    env = {**scenario["env"], **scenario["exports"]}
    listing = run(
        BIN / "aws", "s3", "ls", f"s3://{RAW_BUCKET}/incoming/", "--endpoint-url", scenario["url"],
        env=env, timeout=60,
    ).stdout.split()  # fmt: skip
    landed = scenario["lake"] / "raw" / "incoming" / "orders.json"
    assert listing[-2:] == [str(landed.stat().st_size), "orders.json"]


def test_list_executions_shows_the_local_run_with_its_status(scenario, aws):
    listed = aws("stepfunctions", "list-executions", "--state-machine-arn", STATE_MACHINE_ARN)
    (execution,) = listed["executions"]
    assert (execution["name"], execution["status"]) == (scenario["run"]["run_id"], "SUCCEEDED")


def test_describe_execution_is_the_local_run_under_the_deployed_names(scenario, aws):
    local = local_record(scenario)["execution"]
    arn = f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{local['name']}"
    described = aws("stepfunctions", "describe-execution", "--execution-arn", arn)
    assert described["status"] == "SUCCEEDED"
    execution_input = json.loads(described["input"])
    assert execution_input["inputData"]["bucket"] == RAW_BUCKET
    assert execution_input["inputData"]["etag"] == json.loads(local["input"])["inputData"]["etag"]
    assert json.loads(described["output"])["qualityResult"]["totalRecords"] == 50
    assert "etl-local" not in described["input"] + described["output"]


def test_get_execution_history_is_the_local_runs_full_history(scenario, aws):
    local = local_record(scenario)
    arn = (
        f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{local['execution']['name']}"
    )
    events = aws("stepfunctions", "get-execution-history", "--execution-arn", arn)["events"]
    assert [(e["id"], e["type"]) for e in events] == [(e["id"], e["type"]) for e in local["events"]]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert entered[0] == "ValidateInput" and "RunETLJob" in entered


def test_glue_get_tables_lists_the_catalog_tables_at_s3_locations(scenario, aws):
    tables = aws("glue", "get-tables", "--database-name", DATABASE)["TableList"]
    local = json.loads((scenario["lake"] / "_system" / "catalog" / "etl_pipeline.json").read_text())
    assert {t["Name"] for t in tables} == set(local["Tables"])
    orders = next(t for t in tables if t["Name"] == "orders")
    assert orders["StorageDescriptor"]["Location"] == f"s3://{CURATED_BUCKET}/processed/orders"


def test_glue_get_partitions_lists_the_runs_partition(scenario, aws):
    partitions = aws(
        "glue", "get-partitions", "--database-name", DATABASE, "--table-name", "orders"
    )
    local = json.loads((scenario["lake"] / "_system" / "catalog" / "etl_pipeline.json").read_text())
    expected = [p["Values"] for p in local["Tables"]["orders"]["Partitions"]]
    assert [p["Values"] for p in partitions["Partitions"]] == expected
    (location,) = [p["StorageDescriptor"]["Location"] for p in partitions["Partitions"]]
    objects = aws("s3api", "list-objects-v2", "--bucket", CURATED_BUCKET, "--prefix", "processed/")
    assert any(
        f"s3://{CURATED_BUCKET}/{o['Key']}".startswith(location) for o in objects["Contents"]
    )


def test_glue_get_job_runs_shows_the_transform_run(scenario, aws):
    runs = aws("glue", "get-job-runs", "--job-name", f"{PREFIX}-transform")["JobRuns"]
    (job_run,) = runs
    assert job_run["JobRunState"] == "SUCCEEDED"
    assert job_run["Arguments"]["--source-path"] == f"s3://{RAW_BUCKET}/incoming/orders.json"


def test_cloudwatch_has_the_pipelines_metrics(scenario, aws):
    metrics = aws("cloudwatch", "list-metrics", "--namespace", "ETL/Pipeline")["Metrics"]
    assert {m["MetricName"] for m in metrics} >= {"DataQualityScore", "RecordsProcessed"}
    stats = aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "ETL/Pipeline",
        "--metric-name", "RecordsProcessed", "--dimensions", "Name=Dataset,Value=orders",
        "--start-time", "2000-01-01T00:00:00Z", "--end-time", "2100-01-01T00:00:00Z",
        "--period", "86400", "--statistics", "Sum",
    )  # fmt: skip
    written = next(s for s in scenario["run"]["stages"] if s["stage"] == "RunETLJob")["rows_out"]
    assert [d["Sum"] for d in stats["Datapoints"]] == [float(written)]


def test_the_success_notification_reaches_the_inbox_queue(scenario, aws):
    queue = aws("sqs", "get-queue-url", "--queue-name", f"{PREFIX}-notifications-inbox")["QueueUrl"]
    (message,) = aws("sqs", "receive-message", "--queue-url", queue)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == "ETL Pipeline Completed Successfully"
    body = json.loads(envelope["Message"])
    assert (body["status"], body["input"]["bucket"]) == ("SUCCESS", RAW_BUCKET)


def test_down_stops_the_server_and_leaves_no_process(scenario):
    down = run(
        BIN / "etl", "aws", "down", "--lake", scenario["lake"], env=scenario["env"], timeout=60
    )
    assert down.stdout.startswith(f"stopped {scenario['url']}")
    assert not psutil.pid_exists(scenario["pid"])
    again = run(
        BIN / "etl", "aws", "down", "--lake", scenario["lake"], env=scenario["env"], timeout=60
    )
    assert again.stdout.strip() == "not running; nothing to stop"
