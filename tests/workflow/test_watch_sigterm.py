"""`etl watch` stopped with SIGTERM while an execution runs: the execution is recorded
ABORTED with its stop time, one line says so, the exit code is 130 (as `etl run` does).

The watch is its own process, held inside its execution by ``ETL_TEST_PAUSE_AT`` (a FIFO
it writes to when it gets there); every wait is bounded, none is a sleep.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
from pathlib import Path

from process_support import lines_of

from etl.local.samples.orders import generate_orders, write_json_lines
from etl.storage.lake import Lake, land_file

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds: the execution may start Spark on a busy 2-core machine


def test_sigterm_during_an_execution_of_etl_watch_records_it_aborted(tmp_path):
    from datetime import date

    lake = Lake.local(tmp_path / "lake").ensure()
    feed = write_json_lines(generate_orders(20, date(2026, 11, 26)), tmp_path / "orders.json")
    land_file(str(feed), lake)
    channel = tmp_path / "watch"
    os.mkfifo(f"{channel}.out")
    os.mkfifo(f"{channel}.in")
    environment = os.environ | {
        "PYTHONPATH": str(ROOT),
        "ETL_TEST_PAUSE_AT": f"locked#1={channel}",  # the first lock the execution takes
    }
    watch = subprocess.Popen(
        [sys.executable, "-m", "etl.cli.main", "watch", "--once", "--lake", lake.root],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: queue.Queue = queue.Queue()
    lines_of(watch.stderr, errors)
    paused: queue.Queue = queue.Queue()
    lines_of(f"{channel}.out", paused)
    try:
        assert (paused.get(timeout=TIMEOUT) or "").startswith("locked")
        watch.terminate()  # SIGTERM, as a service manager stopping the watch would
        assert watch.wait(timeout=TIMEOUT) == 130
    finally:
        if watch.poll() is None:
            watch.kill()
    stderr = "".join(iter(lambda: errors.get(timeout=TIMEOUT), None))
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith("ABORTED: interrupted; execution ")
    command = [sys.executable, "-m", "etl.cli.main", "executions", "list", "--json"]
    listed = subprocess.run(
        [*command, "--lake", lake.root],
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    [execution] = json.loads(listed.stdout)["executions"]
    assert execution["status"] == "ABORTED" and execution["stopDate"]
