"""Benchmark the pipeline's Spark stages on N generated rows, with DuckDB as a yardstick.

    .venv/bin/python benchmarks/bench_pipeline.py --rows 2000000

Reports per stage: wall time, rows/s, Spark jobs, and the peak resident memory of the
driver (Python + JVM). Spark start-up is measured separately and excluded from the stages.
The yardstick runs the same transform in DuckDB SQL on the same JSON-lines file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psutil

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
from etl.core.datasets import get_dataset
from etl.jobs.session import get_spark
from etl.jobs.transform import load_records
from etl.local.samples.orders import generate_orders, write_json_lines
from etl.stages.discover import discover
from etl.stages.extract import read_raw
from etl.stages.quality import load_suite, profile, quality_score, run_suite
from etl.stages.reference import ensure_reference_tables, read_references
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, land_file

RUN_DATE = date(2026, 11, 26)
ORDERS = get_dataset("orders")


class PeakMemory:
    """Samples the RSS of this process and its children (the JVM) every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.05):
            try:
                procs = [me, *me.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                continue

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


results: list[dict] = []


@contextmanager
def stage(spark, name: str, rows: int):
    tracker = spark.sparkContext.statusTracker()
    spark.sparkContext.setJobGroup(name, name)
    with PeakMemory() as memory:
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
    spark.sparkContext.setJobGroup("", "")
    results.append(
        {
            "stage": name,
            "seconds": round(seconds, 2),
            "rows_per_s": int(rows / seconds) if seconds else 0,
            "spark_jobs": len(tracker.getJobIdsForGroup(name)),
            "peak_rss_mb": memory.peak // 2**20,
        }
    )


DUCKDB_TRANSFORM = """
COPY (
  WITH raw AS (
    SELECT DISTINCT * FROM read_json('{src}', format='newline_delimited', columns={{
      id: 'BIGINT', name: 'VARCHAR', email: 'VARCHAR', region_code: 'VARCHAR', status: 'VARCHAR',
      quantity: 'VARCHAR', price: 'VARCHAR', amount: 'DOUBLE', created_date: 'VARCHAR',
      channel: 'VARCHAR'}})
  ), typed AS (
    SELECT id, upper(trim(name)) AS name, regexp_replace(email, '(.{{2}}).*@', '\\1***@') AS email_masked,
      region_code, status, TRY_CAST(quantity AS DOUBLE) AS quantity, TRY_CAST(price AS DOUBLE) AS price,
      amount, try_strptime(created_date, '%Y-%m-%d %H:%M:%S') AS created_date, channel
    FROM raw WHERE id IS NOT NULL
  )
  SELECT t.*, quantity * price AS total_amount,
    CASE WHEN amount < 1000 THEN 'Small' WHEN amount < 10000 THEN 'Medium' ELSE 'Large' END AS amount_category,
    r.region_name, year(created_date) AS data_year, month(created_date) AS data_month,
    2026 AS process_year, 11 AS process_month, 26 AS process_day
  FROM typed t LEFT JOIN (VALUES ('01','North'),('02','South'),('03','East'),('04','West')) r(region_code, region_name)
    USING (region_code)
  WHERE status IN ('ACTIVE','PENDING')
    AND created_date >= TIMESTAMP '2025-11-26' AND created_date < TIMESTAMP '2026-11-27'
) TO '{out}' (FORMAT PARQUET, COMPRESSION SNAPPY, PARTITION_BY (process_year, process_month, process_day))
"""


def duckdb_transform(source: Path, out: Path) -> float:
    import duckdb

    started = time.perf_counter()
    duckdb.sql(DUCKDB_TRANSFORM.format(src=source, out=out))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--work", default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run transform+load this many times (the first run includes JIT warm-up)",
    )
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="etl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"orders_{args.rows}.json"
    if not source.exists():
        print(f"generating {args.rows:,} rows -> {source}", file=sys.stderr)
        write_json_lines(generate_orders(args.rows, RUN_DATE), source)
    size_mb = source.stat().st_size / 2**20

    started = time.perf_counter()
    spark = get_spark("etl-bench")
    startup = time.perf_counter() - started
    lake = Lake.local(work / f"lake-{time.time_ns()}").ensure()
    catalog = LocalCatalog(lake)
    landed = land_file(str(source), lake)
    ensure_reference_tables(lake, catalog, ORDERS)
    n = args.rows

    with stage(spark, "discover (schema inference)", n):
        schema = discover(spark, catalog, ORDERS, landed, "json")
    raw = read_raw(spark, landed, "json", schema, dataset=ORDERS)
    with stage(spark, "quality: one-pass profile", n):
        score = quality_score(profile(raw))
    with stage(spark, "quality: GX suite", n):
        suite_ok, _ = run_suite(raw, load_suite(ORDERS))
    for attempt in range(1, args.repeat + 1):
        label = "transform+load" if attempt == 1 else f"transform+load (run {attempt})"
        with stage(spark, label, n):
            # What the Glue job does: curated and quarantine from one checked frame.
            references = read_references(spark, lake, ORDERS)
            loaded = load_records(
                raw, lake, ORDERS, landed, RUN_DATE, f"bench-{attempt}", references, []
            )
            published = loaded.curated
    duck_seconds = duckdb_transform(source, work / f"duck-{time.time_ns()}")
    spark_seconds = min(r["seconds"] for r in results if r["stage"].startswith("transform+load"))
    summary = {
        "rows": n,
        "file_mb": round(size_mb, 1),
        "cores": os.cpu_count(),
        "spark_startup_s": round(startup, 2),
        "quality_score": score,
        "suite_success": suite_ok,
        "curated_files": sum(p.files for p in published),
        "stages": results,
        "duckdb_transform_s": round(duck_seconds, 2),
        "spark_to_duckdb_ratio": round(spark_seconds / duck_seconds, 1),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{n:,} rows, {size_mb:.0f} MB JSON lines, {os.cpu_count()} cores; Spark start-up {startup:.1f}s"
    )
    print(f"{'stage':<30}{'seconds':>9}{'rows/s':>12}{'jobs':>6}{'peak RSS MB':>13}")
    for r in results:
        print(
            f"{r['stage']:<30}{r['seconds']:>9.2f}{r['rows_per_s']:>12,}{r['spark_jobs']:>6}{r['peak_rss_mb']:>13,}"
        )
    print(
        f"DuckDB same transform: {duck_seconds:.2f}s -> best Spark transform+load / DuckDB"
        f" = {summary['spark_to_duckdb_ratio']}x"
    )


if __name__ == "__main__":
    main()
