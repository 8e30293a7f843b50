"""Runs into one lake at the same time, and runs killed with kill -9, through `etl run`.

Each run is its own `etl run` process (its own Spark). They are synchronised with FIFOs and
their output lines (``ETL_TEST_PAUSE_AT`` holds a run inside the lake lock until the test
lets it go), never with sleeps; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
from pathlib import Path

import pytest
from process_support import lines_of

from etl.local.samples.orders import generate_orders, write_csv, write_json_lines
from etl.storage.lake import Lake, land_file, raw_versions

ROOT = Path(__file__).resolve().parents[1]
RUN_DATE = "2026-11-26"
TIMEOUT = 420  # seconds for one `etl run` on a busy 2-core machine


@pytest.fixture(scope="module")
def feeds(tmp_path_factory) -> dict[str, Path]:
    """Two files of the orders dataset: one JSON lines, one CSV (different records)."""
    from datetime import date

    out = tmp_path_factory.mktemp("feeds")
    records = generate_orders(200, date.fromisoformat(RUN_DATE))
    return {
        "a": write_json_lines(records[:100], out / "orders_a.json"),
        "b": write_csv(records[100:], out / "orders_b.csv"),
    }


def etl(lake: Path, *argv: str, env: dict | None = None, **popen) -> subprocess.Popen:
    environment = os.environ | {"PYTHONPATH": str(ROOT)} | (env or {})
    command = [sys.executable, "-m", "etl.cli.main", *argv, "--lake", str(lake)]
    return subprocess.Popen(command, env=environment, text=True, **popen)


def etl_json(lake: Path, *argv: str):
    done = subprocess.run(
        [sys.executable, "-m", "etl.cli.main", *argv, "--lake", str(lake), "--json"],
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_for(lines: queue.Queue, text: str, seen: list[str]) -> str:
    while True:
        line = lines.get(timeout=TIMEOUT)
        if line is None:
            raise AssertionError(f"ended before {text!r}:\n{''.join(seen)}")
        seen.append(line)
        if text in line:
            return line


def drain(lines: queue.Queue) -> str:
    """The rest of a finished process's stream."""
    return "".join(iter(lambda: lines.get(timeout=TIMEOUT) or "", ""))


def hidden_or_staged(lake: Path) -> list[str]:
    """Swap leftovers in any table, and staging folders, anywhere in the data zones."""
    found = []
    for zone in ("curated", "analytics"):
        for path in (lake / zone).rglob("*"):
            relative = path.relative_to(lake)
            if path.name.startswith(".") or (
                "_staging" in relative.parts and relative.parts[-1] != "_staging"
            ):
                found.append(str(relative))
    return sorted(found)


def test_two_runs_into_one_partition_at_once_both_land_and_the_second_says_it_waits(
    feeds, tmp_path
):
    lake = tmp_path / "lake"
    channel = tmp_path / "first"
    os.mkfifo(f"{channel}.out")
    os.mkfifo(f"{channel}.in")
    common = ("run", "--run-date", RUN_DATE, "--json")
    first = etl(
        lake,
        *common,
        str(feeds["a"]),
        env={"ETL_TEST_PAUSE_AT": f"publish-begin#1={channel}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first_out: queue.Queue = queue.Queue()
    lines_of(first.stdout, first_out)
    first_err: queue.Queue = queue.Queue()
    lines_of(first.stderr, first_err)
    paused: queue.Queue = queue.Queue()
    lines_of(f"{channel}.out", paused)
    second = None
    try:
        held = paused.get(timeout=TIMEOUT)  # the first run is publishing, inside the lock
        assert held and held.startswith("publish-begin")
        second = etl(
            lake,
            *common,
            str(feeds["b"]),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        second_out: queue.Queue = queue.Queue()
        lines_of(second.stdout, second_out)
        second_err: queue.Queue = queue.Queue()
        lines_of(second.stderr, second_err)
        seen: list[str] = []
        waiting = wait_for(second_err, "waiting for lake.lock", seen)
        assert f"pid {first.pid}" in waiting  # it names who holds the lock
        with open(f"{channel}.in", "w", encoding="utf-8") as go_on:
            go_on.write("go\n")
        assert second.wait(timeout=TIMEOUT) == 0, "".join(seen)
        assert first.wait(timeout=TIMEOUT) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
    first_stdout, second_stdout = (drain(out) for out in (first_out, second_out))
    errors = drain(first_err) + "".join(seen) + drain(second_err)
    assert "Traceback" not in errors
    written = [json.loads(out)["rows"]["written"] for out in (first_stdout, second_stdout)]
    assert all(written)
    curated = etl_json(lake, "query", "SELECT count(*) AS n FROM etl_pipeline.orders")
    summary = etl_json(lake, "query", "SELECT sum(orders) AS n FROM etl_pipeline.daily_sales")
    assert curated[0]["n"] == sum(written)  # both runs' rows, once each
    assert summary[0]["n"] == sum(written)  # the last summary saw both
    assert hidden_or_staged(lake) == []


def test_a_run_killed_while_publishing_is_aborted_and_the_next_run_repairs_it(feeds, tmp_path):
    lake = tmp_path / "lake"
    killed = etl(
        lake,
        "run",
        str(feeds["a"]),
        "--run-date",
        RUN_DATE,
        env={"ETL_TEST_KILL_AT": "swapped"},  # mid-publish: curated swapped, staging kept
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert killed.wait(timeout=TIMEOUT) == -9
    assert hidden_or_staged(lake)  # what the kill left behind
    listing = etl_json(lake, "executions", "list")["executions"]
    assert [e["status"] for e in listing] == ["ABORTED"]
    assert listing[0]["startDate"]

    again = etl(lake, "run", str(feeds["a"]), "--run-date", RUN_DATE, "--json", stdout=-1)
    out, _ = again.communicate(timeout=TIMEOUT)
    assert again.returncode == 0
    written = json.loads(out)["rows"]["written"]
    assert hidden_or_staged(lake) == []
    curated = etl_json(lake, "query", "SELECT count(*) AS n FROM etl_pipeline.orders")
    assert curated[0]["n"] == written  # the killed run's rows were replaced, not doubled
    statuses = sorted(e["status"] for e in etl_json(lake, "executions", "list")["executions"])
    assert statuses == ["ABORTED", "SUCCEEDED"]


def test_the_same_file_landed_twice_at_once_lands_once(tmp_path):
    """The second lander finds the first's copy in place: same bytes, same result."""
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    source.write_bytes(b'{"id": 1}\n' * 1000)
    landed = []

    def meanwhile(done: int, total: int) -> None:
        if not landed:  # another run lands the same file while this one copies it
            landed.append(land_file(str(source), lake))

    assert land_file(str(source), lake, on_bytes=meanwhile, chunk_bytes=1024) == landed[0]
    folder = Path(landed[0]).parent
    assert [p.name for p in folder.iterdir()] == ["orders.json"]  # no scratch left


def test_different_bytes_landed_meanwhile_under_the_name_are_two_versions(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source, other = tmp_path / "orders.json", tmp_path / "other" / "orders.json"
    source.write_bytes(b'{"id": 1}\n' * 1000)
    other.parent.mkdir()
    other.write_bytes(b'{"id": 2}\n')
    landed = []

    def meanwhile(done: int, total: int) -> None:
        if not landed:
            landed.append(land_file(str(other), lake))

    mine = land_file(str(source), lake, on_bytes=meanwhile, chunk_bytes=1024)
    assert Path(landed[0]).read_bytes() == other.read_bytes()  # neither overwrote the other
    assert Path(mine).read_bytes() == source.read_bytes()
    kept = raw_versions(lake, "incoming/orders.json")
    assert sorted(kept) == sorted([landed[0], mine])


def test_sigterm_while_publishing_exits_130_with_one_line_and_records_aborted(feeds, tmp_path):
    lake = tmp_path / "lake"
    channel = tmp_path / "run"
    os.mkfifo(f"{channel}.out")
    os.mkfifo(f"{channel}.in")
    run = etl(
        lake,
        "run",
        str(feeds["a"]),
        "--run-date",
        RUN_DATE,
        env={"ETL_TEST_PAUSE_AT": f"publish-begin#1={channel}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    errors: queue.Queue = queue.Queue()
    lines_of(run.stderr, errors)
    paused: queue.Queue = queue.Queue()
    lines_of(f"{channel}.out", paused)
    try:
        assert (paused.get(timeout=TIMEOUT) or "").startswith("publish-begin")
        run.terminate()  # SIGTERM, as a scheduler stopping the job would
        assert run.wait(timeout=TIMEOUT) == 130
    finally:
        if run.poll() is None:
            run.kill()
    stderr = drain(errors)
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith("ABORTED: interrupted")
    [execution] = etl_json(lake, "executions", "list")["executions"]
    assert execution["status"] == "ABORTED" and execution["stopDate"]


def test_the_same_file_run_twice_at_once_succeeds_twice_with_its_rows_once(feeds, tmp_path):
    """However the two runs interleave (landing, crawling, publishing), neither fails and
    the second publish replaces the first's rows with the same rows."""
    lake = tmp_path / "lake"
    argv = ("run", str(feeds["a"]), "--run-date", RUN_DATE, "--json")
    runs = [etl(lake, *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    streams = [(queue.Queue(), queue.Queue()) for _ in runs]
    for run, (out, err) in zip(runs, streams, strict=True):  # drained, so neither blocks
        lines_of(run.stdout, out)
        lines_of(run.stderr, err)
    try:
        for run in runs:
            run.wait(timeout=TIMEOUT)
        results = [(drain(out), drain(err)) for out, err in streams]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
    for run, (_, stderr) in zip(runs, results, strict=True):
        assert run.returncode == 0 and "Traceback" not in stderr, stderr
    written = {json.loads(stdout)["rows"]["written"] for stdout, _ in results}
    assert len(written) == 1
    curated = etl_json(lake, "query", "SELECT count(*) AS n FROM etl_pipeline.orders")
    assert curated[0]["n"] == written.pop()
    assert [p.name for p in (lake / "raw" / "incoming").iterdir()] == [feeds["a"].name]
