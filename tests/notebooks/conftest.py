"""A second dataset, as unlike orders as a few lines allow, for notebooks that take any dataset.

``readings``: a CSV of sensor readings with ``NA`` nulls, codes with leading zeros, a
composite key de-duplicated by key (one of its columns named ``sensor.id``, as a flattened
export names things, and ``sensor_id`` in curated), a timestamp split over
year/month/day/hour, a reference table, a hashed PII column, its own summary - and no sample
generator, so notebooks need its ``source_path``. It lives in a temporary folder found
through ``ETL_DATASETS_DIR``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

READINGS_SPEC = """\
name: readings
description: Hourly sensor readings (test dataset).
format: {null_markers: [NA]}
columns:
  station: {}
  "sensor.id": {curated_name: sensor_id}
  year: {type: int}
  month: {type: int}
  day: {type: int}
  hour: {type: int}
  temperature: {type: double}
  status:
    normalize: {trim: true, case: upper}
    accepted_values: [OK, SUSPECT]
  operator: {}
key: [station, sensor.id, year, month, day, hour]
deduplicate: key
timestamps:
  observed_at: {year: year, month: month, day: day, hour: hour}
time_column: observed_at
retention: {days: 30}
derived:
  temperature_f: temperature * 9 / 5 + 32
references:
  - table: stations
    file: reference/stations.csv
    key: station
    columns: [station_name]
pii:
  operator: hash
column_order: [station, station_name, sensor_id, observed_at, temperature, temperature_f, status,
               operator_hash]
quality:
  threshold: 50
  suite: expectations/readings_raw.json
summaries:
  station_status:
    columns:
      station_name: coalesce(station_name, 'UNKNOWN')
    group_by: [station_name, status]
    aggregates:
      readings: count(1)
      mean_temperature: avg(temperature)
"""

SUITE = {
    "name": "readings_raw",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_column_to_exist", "kwargs": {"column": "station"}},
        {"type": "expect_column_to_exist", "kwargs": {"column": "sensor.id"}},
    ],
}
STATIONS = {"001": "Harbour", "002": "Airport", "007": "Hill"}
FIELDS = (
    "station",
    "sensor.id",
    "year",
    "month",
    "day",
    "hour",
    "temperature",
    "status",
    "operator",
)


@dataclass(frozen=True)
class Readings:
    datasets_dir: Path  # for ETL_DATASETS_DIR
    feed: Path  # a feed file for the run date
    rows: int  # records in the feed
    expected_curated: int  # rows the transform keeps


def readings_rows(run_date: date) -> tuple[list[dict], int]:
    """The feed's records and how many survive the rules (counted as the rules are written)."""
    rows, kept = [], 0
    for index in range(36):
        when = run_date - timedelta(
            days=index // 3
        )  # 3 records a day, hours apart: keys never repeat
        row = {
            "station": ("001", "002", "007", "099")[index % 4],  # 099: not in the stations table
            "sensor.id": f"t{index % 3}",
            "year": when.year,
            "month": when.month,
            "day": when.day,
            "hour": index % 24,
            "temperature": "NA" if index % 7 == 0 else f"{10 + index * 0.5:.1f}",
            "status": ("ok ", "OK", " suspect", "BROKEN")[(index // 2) % 4],
            "operator": f"op{index % 5}@example.com",
        }
        rows.append(row)
        kept += row["status"].strip().upper() in ("OK", "SUSPECT")
    stale = run_date - timedelta(days=90)  # outside the 30-day retention window
    rows.append({**rows[1], "year": stale.year, "month": stale.month, "day": stale.day})
    rows.append({**rows[1], "temperature": "99.0"})  # same key as rows[1]: de-duplicated
    rows.append({**rows[2], "station": "NA"})  # no station: no key
    return rows, kept


def write_readings(folder: Path, run_date: date) -> Readings:
    dataset = folder / "datasets" / "readings"
    (dataset / "reference").mkdir(parents=True)
    (dataset / "expectations").mkdir()
    (dataset / "dataset.yaml").write_text(READINGS_SPEC, encoding="utf-8")
    (dataset / "expectations" / "readings_raw.json").write_text(json.dumps(SUITE), "utf-8")
    with (dataset / "reference" / "stations.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["station", "station_name"])
        writer.writerows(sorted(STATIONS.items()))
    rows, kept = readings_rows(run_date)
    feed = folder / "feeds" / f"readings_{run_date:%Y%m%d}.csv"
    feed.parent.mkdir(parents=True)
    with feed.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return Readings(folder / "datasets", feed, len(rows), kept)


@pytest.fixture
def readings(tmp_path, monkeypatch) -> Readings:
    """The readings dataset on the dataset search path (notebook kernels inherit it)."""
    found = write_readings(tmp_path / "readings", date(2026, 1, 31))
    monkeypatch.setenv("ETL_DATASETS_DIR", str(found.datasets_dir))
    return found


@pytest.fixture(scope="module")
def warm_spark_server(tmp_path_factory):
    """A Spark server (``etl spark start``) the module's notebook runs attach to, as an
    ``etl notebook run`` does when one is free: one JVM, warmed by each notebook for the
    next, instead of a JVM per notebook (17 s a notebook on its own, 8.5 s in the server on
    this project's machine). Its state is in a folder of its own, so a server the developer
    runs is never touched."""
    folder = tmp_path_factory.mktemp("spark-server")
    env = os.environ | {"ETL_SPARK_SERVER": str(folder)}

    def etl_spark(action: str, *argv: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "etl.cli", "spark", action, *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr

    etl_spark("start", "--warm-up-rows", "0")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("ETL_SPARK_SERVER", str(folder))  # the kernels inherit it
            yield folder
    finally:
        etl_spark("stop")
