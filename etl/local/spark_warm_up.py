"""The run a new Spark server warms its JVM with (``etl spark start --warm-up-rows N``).

A server's first runs are as slow as cold ones: its JVM has yet to load Spark's classes,
have them compiled, and compile the job's query code. Measured on 2 cores
(docs/performance-history.md, sixth round), a server's first 2 M-row run took 33-35 s
against 26-28 s once warm, and its first 1,000-row run 10.8 s against 6.7-7.3 s. So a new
server runs the pipeline itself, in the background: the whole pipeline (``run_pipeline``,
what ``etl run`` runs) on generated orders (JSON lines, the bundled feed) into scratch
lakes, in the server like any run, ``WARM_UP_RUNS`` times. That exercises what every run
uses (the JSON and Parquet readers and writers, the grouping, the checks,
great-expectations' metrics); a feed in another format or with other rules still has its own
parts compiled by its first run. The server's process starts this one and removes its folder
after it; this one records its PID once it holds the lease.

A run that needs the server while this one has it stops it (``spark_server.stop_warm_up``):
warming up never makes anyone wait.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from etl.jobs import session, spark_server
from etl.storage.locks import step_hook

# Runs of the pipeline, on an equal share of the rows each. Two runs of 150,000 rows left the
# next 2 M-row run in the server ~1 s faster than one run of 300,000 (its Glue-job stage 18.1
# against 19.1 s, medians of six interleaved pairs, 2 cores), for ~1 s more of warming up.
WARM_UP_RUNS = 2


def warm_up(rows: int, folder: Path) -> str:
    """Run the pipeline on ``rows`` generated orders in ``folder``, in the server, shared
    between ``WARM_UP_RUNS`` runs; what happened, in a line for the server's log."""
    started = time.perf_counter()
    # The lease first, before the CPU the rows and the pipeline's imports take: a run that
    # took the server as it started (one that waited for it) then has both cores at once.
    if not session.reserve_server():
        return "not needed: a run has the server"
    spark_server.record_warm_up(os.getpid())  # a run that finds the server busy may stop it
    step_hook("warm-up-reserved")
    from etl.core.datasets import get_dataset
    from etl.local.pipeline import run_pipeline
    from etl.local.samples.orders import generate_orders, write_json_lines
    from etl.storage.lake import Lake

    today = datetime.now(UTC).date()
    folder.mkdir(parents=True, exist_ok=True)
    runs = min(WARM_UP_RUNS, rows)
    each = rows // runs
    source = write_json_lines(generate_orders(each, today), folder / "orders.json")
    for run in range(runs):
        lake = Lake.local(folder / f"lake-{run + 1}")
        result = run_pipeline(str(source), lake, today, get_dataset("orders"))
    seconds = time.perf_counter() - started
    return f"{result.status} on {runs} x {each:,} rows in {seconds:.1f} s, in {result.spark}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Warm up the Spark server (etl spark).")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    arguments = parser.parse_args()
    print(f"warm-up: {warm_up(arguments.rows, arguments.folder)}", flush=True)
    sys.stdout.flush()
    session.remove_scratch()
    os._exit(0)  # as `etl run` ends: no interpreter teardown of pyspark, GX and moto
