"""Benchmark `etl run` end to end, per workflow state, against DuckDB and a bare PySpark.

    .venv/bin/python benchmarks/bench_pipeline.py --rows 2000000 --repeat 3 --work /tmp/bench
    .venv/bin/python benchmarks/bench_pipeline.py --cold-small --repeat 3

``--rows N`` runs ``etl run`` (a fresh process and a fresh lake each time, exactly what a
person types) on N generated orders as JSON lines, reads each state's time from the
execution history the run saved, and runs DuckDB's transform+load of the same file in the
same benchmark run as the yardstick. It prints the medians over ``--repeat`` runs, their
spread, and the ratios the performance targets are stated in:

* whole ``etl run`` / DuckDB <= 16
* quality stage (RunDataQualityCheck) / DuckDB <= 4
* Glue-job stage (RunETLJob) / DuckDB <= 9

The crawler and the quality check run in one Parallel state (DiscoverAndCheckQuality): its row
is the time the execution waited for both; the crawler row spans its branch (start, polls,
version read) and the quality row the Lambda, so crawler + quality > DiscoverAndCheckQuality
shows how much the two overlapped. A ``--before`` checkout without the Parallel state has no
such row.

``--cold-small`` times ``etl run`` of the 1,000-row sample from a cold process against a bare
PySpark start + one tiny job + stop in the same interpreter (target ratio <= 1.6), the two
interleaved so that load from other processes hits both alike.

``--spark-server`` adds a third subject to both: this checkout's ``etl run`` using a warm
Spark server (``etl spark start``, state in the scratch folder), once the server has
finished its own warm-up run (``--server-warm-up-rows`` generated orders; 0: none) and
after ``--server-warm-up`` unmeasured runs of the benchmark's (default none), interleaved
with the others. Its CPU and memory include the server's JVM
(CPU: what it used during the run; memory: its whole PSS, heap kept from earlier runs
included). Every other subject runs with ``ETL_SPARK_SERVER=off``: a server the user keeps
running must not serve the cold runs.

``--server-started-by-run`` starts that server as a person's first ``etl run`` at a
terminal does (an unmeasured run of the 1,000-row sample that leaves one starting as it ends,
with its default warm-up) instead of with ``etl spark start``.

``--spark-stages`` adds the in-process breakdown of the Spark work (discover, quality
profile, GX suite, transform+load) with the number of Spark jobs each runs.

Each run's lake (1-2 GB at 2 M rows) and DuckDB's output are deleted once measured, and a
scratch folder the benchmark made itself at the end; ``--keep-lakes`` keeps them (to look at
a run with ``etl executions show --lake``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from etl.jobs.spark_server_process import DEFAULT_WARM_UP_ROWS

ROOT = Path(__file__).resolve().parents[1]
# Today (UTC), the run date `etl run` takes by default and the Spark server's warm-up runs on.
# Spark writes the run date's values (the partition numbers, the retention window's bounds)
# into the query code it generates, so a warm server's first run on another date compiles its
# own (8 classes of the 2 M-row job, ~3 s of JIT): 23.6 s for RunETLJob after the warm-up on a
# fixed date against 20.4 s on today's (docs/performance-history.md, eighth round).
RUN_DATE = datetime.now(UTC).date()
TARGETS = {"whole": 16.0, "RunDataQualityCheck": 4.0, "RunETLJob": 9.0}
COLD_TARGET = 1.6
BARE_PYSPARK = (
    "from pyspark.sql import SparkSession\n"
    "spark = SparkSession.builder.master('local[*]').appName('bare').getOrCreate()\n"
    "assert spark.range(1000).selectExpr('sum(id)').first()[0] == 499500\n"
    "spark.stop()\n"
)


@dataclass(frozen=True)
class Subject:
    """What is timed: a checkout's ``etl run``, in a JVM of its own or in a Spark server's."""

    checkout: Path = ROOT
    server: Path | None = None  # the Spark server's state folder (``ETL_SPARK_SERVER``)


def child_env(subject: Subject = Subject()) -> dict[str, str]:
    """The environment of the processes we time: the checkout first on the path, and the
    Spark server only for the subject that uses it."""
    env = dict(os.environ)
    path = (str(subject.checkout), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env["ETL_SPARK_SERVER"] = str(subject.server) if subject.server else "off"
    env["ETL_SPARK_SERVER_AUTOSTART"] = "off"  # no run leaves a server for the next ones
    return env


class TreeMonitor:
    """Samples a process tree (Python + JVM): CPU seconds every 50 ms, peak memory every
    ``MEMORY_EVERY`` samples.

    Memory is the tree's proportional set size (PSS): the JVM forks short-lived helpers
    (Hadoop's local file system runs ``chmod``), and a fork shares its parent's pages until
    it execs, so summing RSS counted the JVM twice whenever a sample caught one (a 1.1 GB JVM
    then showed as 2.6 GB).

    PSS is read from ``/proc/<pid>/smaps``, which makes the kernel walk every mapping of the
    JVM's 2 GB: sampled 20 times a second that slowed the measured 2 M-row run itself (its
    Glue-job stage 33 s against 28 s unsampled), so memory is sampled once a second.

    CPU seconds are the last value seen per process (so a process's final 50 ms may be
    missed); they move far less than wall time when other work loads the machine.
    """

    def __init__(self, pid: int, also: tuple[int, ...] = ()) -> None:
        self.pid = pid
        self.peak = 0
        self._cpu: dict[int, float] = {}
        # Processes outside the tree that work for it (a Spark server's JVM): their CPU
        # seconds count from now.
        self._also = [psutil.Process(p) for p in also]
        self._before = {p.pid: sum(p.cpu_times()[:2]) for p in self._also}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values()) - sum(self._before.values())

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        for tick in itertools.count():
            if self._stop.wait(0.05):
                return
            try:
                procs = [root, *root.children(recursive=True), *self._also]
            except psutil.Error:
                continue
            memory = tick % MEMORY_EVERY == 0
            pss = 0
            for proc in procs:
                try:
                    with proc.oneshot():
                        pss += _pss(proc) if memory else 0
                        times = proc.cpu_times()
                except psutil.Error:
                    continue
                self._cpu[proc.pid] = times.user + times.system
            self.peak = max(self.peak, pss)

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


MEMORY_EVERY = 20  # samples: once a second


def _pss(proc: psutil.Process) -> int:
    try:
        return proc.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):  # no smaps: RSS, which may double-count
        return proc.memory_info().rss


def timed_process(argv: list[str], subject: Subject = Subject(), timeout: float = 1800.0) -> dict:
    """Run ``argv`` in the subject's checkout: wall and CPU seconds and peak memory (MB) of
    its process tree (and of the Spark server's JVM, for a subject using one), and its stdout.
    """
    also = (server_state(subject.server)["jvm_pid"],) if subject.server else ()
    started = time.perf_counter()
    with subprocess.Popen(
        argv,
        cwd=subject.checkout,
        env=child_env(subject),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        with TreeMonitor(process.pid, also) as monitor:
            out, err = process.communicate(timeout=timeout)
        seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}… exited {process.returncode}: {err[-2000:]}")
    return {
        "seconds": seconds,
        "cpu_s": monitor.cpu_seconds,
        "peak_rss_mb": monitor.peak // 2**20,
        "stdout": out,
    }


# --- the yardstick -------------------------------------------------------------------------

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
    {year} AS process_year, {month} AS process_month, {day} AS process_day
  FROM typed t LEFT JOIN (VALUES ('01','North'),('02','South'),('03','East'),('04','West')) r(region_code, region_name)
    USING (region_code)
  WHERE status IN ('ACTIVE','PENDING')
    AND created_date >= TIMESTAMP '{start}' AND created_date < TIMESTAMP '{end}'
) TO '{out}' (FORMAT PARQUET, COMPRESSION SNAPPY, PARTITION_BY (process_year, process_month, process_day))
"""


def duckdb_dates() -> dict:
    """The run date's values in DuckDB's query: the processing date and the orders
    dataset's retention window, as the job computes it."""
    from etl.core.datasets import get_dataset
    from etl.stages.transform import retention_window

    start, end = retention_window(RUN_DATE, get_dataset("orders").retention_days)
    return {"year": RUN_DATE.year, "month": RUN_DATE.month, "day": RUN_DATE.day} | {
        "start": start,
        "end": end,
    }


def duckdb_transform(source: Path, out: Path) -> dict:
    """DuckDB's orders transform+load of ``source`` (JSON lines): wall and CPU seconds."""
    import duckdb

    started, cpu = time.perf_counter(), time.process_time()
    with duckdb.connect() as connection:
        connection.sql(DUCKDB_TRANSFORM.format(src=source, out=out, **duckdb_dates()))
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    done_with(out)
    return {"seconds": seconds, "cpu_s": cpu_s}


# --- one `etl run` -------------------------------------------------------------------------


def etl_run(source: Path, lake: Path, subject: Subject = Subject()) -> dict:
    """One `etl run` of the subject in a fresh process: wall/CPU seconds, peak memory, and
    seconds per state from the execution history it saved (then the lake is ``done_with``)."""
    argv = [sys.executable, "-m", "etl.cli", "run", str(source), "--lake", str(lake)]
    argv += ["--run-date", RUN_DATE.isoformat(), "--json"]
    run = timed_process(argv, subject)
    result = json.loads(run.pop("stdout"))
    if result["status"] != "SUCCEEDED":
        raise RuntimeError(f"etl run ended {result['status']}: {result.get('error')}")
    if subject.server and "Spark server" not in result.get("spark", ""):
        raise RuntimeError(f"etl run did not use the Spark server: {result.get('spark')}")
    record = json.loads((lake / "_system/executions" / f"{result['run_id']}.json").read_text())
    return {**run, "states": state_seconds(record), "lake": done_with(lake)}


KEEP_LAKES = False  # --keep-lakes
WARM_UP_RUNS = 0  # --server-warm-up


def done_with(folder: Path) -> str | None:
    """Delete a measured run's ``folder`` unless ``--keep-lakes``; its path if kept."""
    if KEEP_LAKES:
        return str(folder)
    shutil.rmtree(folder, ignore_errors=True)
    return None


def crawler_states() -> set[str]:
    """The states of the definition's crawler branch (its Task, Wait/poll loop and version
    read), timed as one stage: from the start of the first to the end of the last."""
    from etl.local.definition import branch_of, load_definition

    owners = branch_of(json.loads(load_definition()))
    return {state for state, owner in owners.items() if owner == owners["RunDataDiscovery"]}


def state_seconds(record: dict) -> dict[str, float]:
    """Seconds per stage from an execution history: Task and Parallel states (repeated
    visits summed), the crawler's states as one stage (its span), and the whole execution."""
    from etl.local.history import path_taken

    stages: dict[str, float] = {}
    crawl: list[datetime] = []
    crawler = crawler_states()
    for step in path_taken(record["events"]):
        if step["state"] in crawler:
            crawl += [_moment(step["entered"]), _moment(step["exited"] or step["entered"])]
        elif step["type"] in ("Task", "Parallel"):
            stages[step["state"]] = stages.get(step["state"], 0.0) + (step["seconds"] or 0.0)
    if crawl:
        stages["crawler"] = round((max(crawl) - min(crawl)).total_seconds(), 2)
    execution = record["execution"]
    start, stop = (datetime.fromisoformat(execution[k]) for k in ("startDate", "stopDate"))
    stages["execution"] = (stop - start).total_seconds()
    return stages


def _moment(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def spread(values: list[float]) -> list[float]:
    """Median, min and max."""
    return [round(statistics.median(values), 2), round(min(values), 2), round(max(values), 2)]


def per_state(runs: list[dict]) -> dict[str, list[float]]:
    names = dict.fromkeys(n for r in runs for n in r["states"])
    return {n: spread([r["states"].get(n, 0.0) for r in runs]) for n in names}


LINE = "{:<30}{:>9}{:>8}{:>8}{:>10}{:>9}"


def print_row(label: str, values: list[float], ratio: str = "", target: str = "") -> None:
    print(LINE.format(label, *(f"{v:.2f}" for v in values), ratio, target))


def subjects(before: Path | None, server: Path | None) -> dict[str, Subject]:
    """What to time: this checkout, the ``--before`` one if given, and this one in a Spark
    server if one was started."""
    found = (
        {"after": Subject(), "before": Subject(before)} if before else {"this checkout": Subject()}
    )
    if server:
        found["this checkout, warm Spark server"] = Subject(ROOT, server)
    return found


def server_state(folder: Path) -> dict:
    """The state a Spark server recorded in ``folder`` (one server per folder here)."""
    (state,) = folder.glob("server-*.json")
    return json.loads(state.read_text())


@contextmanager
def spark_server(
    work: Path, enabled: bool, warm_up_rows: int, by_run: bool = False
) -> Iterator[Path | None]:
    """A Spark server of the benchmark's own, with its state under ``work`` (None if not
    ``enabled``), once it has warmed up on ``warm_up_rows``; stopped at the end. ``by_run``:
    started as a person's first ``etl run`` at a terminal starts it (with its default
    warm-up), not with ``etl spark start``."""
    if not enabled:
        yield None
        return
    folder = work / "spark-server"
    command = [sys.executable, "-m", "etl.cli", "spark"]
    env = child_env(Subject(ROOT, folder))
    started = time.perf_counter()
    logged = sum(log.stat().st_size for log in folder.glob("server-*.log"))  # earlier servers'
    if by_run:
        run_that_starts_a_server(work, env)
    else:
        options = ["--idle-minutes", "60", "--warm-up-rows", str(warm_up_rows)]
        subprocess.run([*command, "start", *options], env=env, check=True)
    try:
        if warm_up_rows or by_run:  # a server a run left warms up on the default rows
            said = wait_for_warm_up(folder, logged)
            took = time.perf_counter() - started
            print(f"server up and warmed in {took:.1f}s: {said}", file=sys.stderr)
        yield folder
    finally:
        subprocess.run([*command, "stop"], env=env, check=True)


def run_that_starts_a_server(work: Path, env: dict[str, str]) -> None:
    """An unmeasured ``etl run`` of the 1,000-row sample that, as at a terminal, leaves a
    server starting as it ends (``ETL_SPARK_SERVER_AUTOSTART=on``)."""
    from etl.local.samples.orders import write_samples

    sample = work / "sample-1000"
    if not (sample / "orders.json").exists():
        write_samples(sample, rows=1000, as_of=RUN_DATE)
    argv = [sys.executable, "-m", "etl.cli", "run", str(sample / "orders.json")]
    argv += ["--lake", str(work / f"lake-{time.time_ns()}"), "--run-date", RUN_DATE.isoformat()]
    env = env | {"ETL_SPARK_SERVER_AUTOSTART": "on"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    if "a Spark server is starting" not in done.stderr:
        raise RuntimeError(f"the first run did not start a Spark server:\n{done.stderr}")
    print("first run done; it left a Spark server starting", file=sys.stderr)


def wait_for_warm_up(folder: Path, logged: int, timeout: float = 600.0) -> str:
    """The server's line on how its warm-up ended, once it has (measured runs must not
    stop it); its log's first ``logged`` bytes are earlier servers'."""
    (log,) = folder.glob("server-*.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with log.open("rb") as text:
            text.seek(logged)
            lines = text.read().decode("utf-8", "replace").splitlines()
        ended = [line for line in lines if "warm-up" in line]
        if ended:
            return ended[-1]
        time.sleep(0.5)  # another process's progress, polled with a bound
    raise RuntimeError(f"the Spark server did not finish warming up in {timeout:.0f} s")


def warm_up(subject: Subject, source: Path, work: Path, runs: int) -> None:
    """Unmeasured runs of the subject on ``source``, for a Spark server's JVM to warm up."""
    for attempt in range(1, runs + 1):
        run = etl_run(source, work / f"lake-{time.time_ns()}", subject)
        print(f"warm-up {attempt}/{runs}: {run['seconds']:.1f}s", file=sys.stderr)


def summarise_runs(runs: list[dict]) -> dict:
    return {
        "etl_run_s": spread([r["seconds"] for r in runs]),
        "etl_run_cpu_s": spread([r["cpu_s"] for r in runs]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "stages_s": per_state(runs),
        "lakes": [r["lake"] for r in runs if r["lake"]],
    }


def bench_rows(rows: int, repeat: int, work: Path, choice: dict[str, Subject], out: dict) -> None:
    source = work / f"orders_{rows}.json"
    if not source.exists():
        print(f"generating {rows:,} rows -> {source}", file=sys.stderr)
        from etl.local.samples.orders import generate_orders, write_json_lines

        write_json_lines(generate_orders(rows, RUN_DATE), source)
    size_mb = source.stat().st_size / 2**20
    checkouts = choice
    runs: dict[str, list[dict]] = {name: [] for name in checkouts}
    for subject in (s for s in checkouts.values() if s.server):
        warm_up(subject, source, work, WARM_UP_RUNS)
    duck = []
    for attempt in range(1, repeat + 1):
        duck.append(duckdb_transform(source, work / f"duck-{time.time_ns()}"))
        for name, subject in checkouts.items():
            runs[name].append(etl_run(source, work / f"lake-{time.time_ns()}", subject))
        print(
            f"run {attempt}/{repeat}: DuckDB {duck[-1]['seconds']:.2f}s, etl run "
            + ", ".join(f"{n} {r[-1]['seconds']:.1f}s" for n, r in runs.items()),
            file=sys.stderr,
        )
    duck_wall, duck_cpu = spread([d["seconds"] for d in duck]), spread([d["cpu_s"] for d in duck])
    out.update(rows=rows, file_mb=round(size_mb, 1), repeat=repeat)
    out.update(duckdb_s=duck_wall, duckdb_cpu_s=duck_cpu, runs={})
    print(f"\n{rows:,} rows, {size_mb:.0f} MB JSON lines, {os.cpu_count()} cores, {repeat} runs")
    print_row("DuckDB transform+load (s)", duck_wall, "1.0x")
    print_row("DuckDB CPU s", duck_cpu, "1.0x")
    for name, subject_runs in runs.items():
        summary = summarise_runs(subject_runs)
        stages = summary["stages_s"]
        ratios = {"whole": summary["etl_run_s"][0] / duck_wall[0]}
        ratios |= {n: stages[n][0] / duck_wall[0] for n in TARGETS if n in stages}
        summary["ratios"] = {n: round(v, 1) for n, v in ratios.items()}
        summary["cpu_ratio"] = round(summary["etl_run_cpu_s"][0] / duck_cpu[0], 1)
        out["runs"][name] = summary

        def ratio(stage: str, ratios=ratios) -> tuple[str, str]:
            if stage not in ratios:
                return "", ""
            return f"{ratios[stage]:.1f}x", f"<={TARGETS[stage]:g}x"

        print(f"\n{name}: {checkouts[name].checkout}")
        print(LINE.format("seconds", "median", "min", "max", "/ DuckDB", "target"))
        print_row("etl run (whole process)", summary["etl_run_s"], *ratio("whole"))
        for stage, values in stages.items():
            print_row(f"  {stage}", values, *ratio(stage))
        print_row("CPU s, etl run", summary["etl_run_cpu_s"], f"{summary['cpu_ratio']:.1f}x")
        print(f"peak memory (PSS) of etl run (Python + JVM): {summary['peak_rss_mb']:,} MB")


def bench_cold_small(repeat: int, work: Path, choice: dict[str, Subject], out: dict) -> None:
    from etl.local.samples.orders import write_samples

    sample = work / "sample-1000"
    if not (sample / "orders.json").exists():
        write_samples(sample, rows=1000, as_of=RUN_DATE)
    checkouts = choice
    runs: dict[str, list[dict]] = {name: [] for name in checkouts}
    for subject in (s for s in checkouts.values() if s.server):
        warm_up(subject, sample / "orders.json", work, WARM_UP_RUNS)
    bare = []
    for attempt in range(1, repeat + 1):
        bare.append(timed_process([sys.executable, "-c", BARE_PYSPARK]))
        for name, subject in checkouts.items():
            lake = work / f"lake-{time.time_ns()}"
            runs[name].append(etl_run(sample / "orders.json", lake, subject))
        print(
            f"run {attempt}/{repeat}: bare PySpark {bare[-1]['seconds']:.1f}s, etl run "
            + ", ".join(f"{n} {r[-1]['seconds']:.1f}s" for n, r in runs.items()),
            file=sys.stderr,
        )
    bare_wall, bare_cpu = spread([b["seconds"] for b in bare]), spread([b["cpu_s"] for b in bare])
    out["cold_small"] = {"bare_pyspark_s": bare_wall, "bare_pyspark_cpu_s": bare_cpu, "runs": {}}
    print(f"\n1,000-row sample from a cold process, {repeat} runs")
    print(LINE.format("seconds", "median", "min", "max", "", ""))
    print_row("bare PySpark start+job+stop", bare_wall)
    print_row("CPU s, bare PySpark", bare_cpu)
    for name, subject_runs in runs.items():
        summary = summarise_runs(subject_runs)
        # Per-attempt ratios too: each pair ran back to back, under about the same load.
        pairs = zip(subject_runs, bare, strict=True)
        summary["paired_ratios"] = spread([r["seconds"] / b["seconds"] for r, b in pairs])
        summary["ratio"] = round(summary["etl_run_s"][0] / bare_wall[0], 2)
        summary["cpu_ratio"] = round(summary["etl_run_cpu_s"][0] / bare_cpu[0], 2)
        out["cold_small"]["runs"][name] = summary
        print(f"\n{name}: {checkouts[name].checkout}")
        print_row("etl run", summary["etl_run_s"])
        for stage, values in summary["stages_s"].items():
            print_row(f"  {stage}", values)
        print_row("CPU s, etl run", summary["etl_run_cpu_s"])
        paired = summary["paired_ratios"]
        print(
            f"etl run / bare PySpark: {summary['ratio']:.2f}x wall (per pair: median "
            f"{paired[0]:.2f}x, {paired[1]:.2f}-{paired[2]:.2f}), {summary['cpu_ratio']:.2f}x CPU;"
            f" target <= {COLD_TARGET}x"
        )


# --- the Spark stages in one process -------------------------------------------------------


def bench_spark_stages(rows: int, work: Path, out: dict) -> None:
    """The Spark work of a run in one warm process, with its number of Spark jobs: the
    crawler's discovery, then the Glue job (gate, transform, load, catalog, summary) twice,
    the second time with the JIT warm (start-up excluded)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from etl.core.datasets import get_dataset
    from etl.jobs.session import get_spark
    from etl.jobs.transform import run_transform_job
    from etl.stages.discover import discover
    from etl.storage.catalog import LocalCatalog
    from etl.storage.lake import Lake, land_file

    orders = get_dataset("orders")
    source = work / f"orders_{rows}.json"
    spark = get_spark("etl-bench", input_bytes=source.stat().st_size)
    tracker = spark.sparkContext.statusTracker()
    results = []

    @contextmanager
    def stage(name: str):
        spark.sparkContext.setJobGroup(name, name)
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        spark.sparkContext.setJobGroup("", "")
        results.append((name, seconds, len(tracker.getJobIdsForGroup(name))))

    for run in ("first", "second"):
        lake = Lake.local(work / f"lake-{time.time_ns()}").ensure()
        catalog = LocalCatalog(lake)
        landed = land_file(str(source), lake)
        with stage(f"discover ({run})"):
            discover(spark, catalog, orders, landed, "json")
        with stage(f"Glue job ({run})"):
            run_transform_job(spark, lake, catalog, orders, landed, RUN_DATE, f"bench-{run}")
        done_with(Path(lake.system).parent)
    out["spark_stages"] = [{"stage": n, "seconds": round(s, 2), "jobs": j} for n, s, j in results]
    print(f"\nSpark stages in one process ({rows:,} rows; start-up excluded)")
    for name, seconds, jobs in results:
        print(f"  {name:<22}{seconds:>8.2f}s{jobs:>4} Spark jobs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="orders rows for `etl run`")
    parser.add_argument("--cold-small", action="store_true", help="1,000 rows from a cold process")
    parser.add_argument("--spark-stages", action="store_true", help="in-process Spark breakdown")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--work", default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--keep-lakes", action="store_true", help="keep each run's lake")
    parser.add_argument(
        "--spark-server", action="store_true", help="also time runs in a warm Spark server"
    )
    parser.add_argument(
        "--server-warm-up", type=int, default=0, help="unmeasured runs in the server first"
    )
    parser.add_argument(
        "--server-warm-up-rows",
        type=int,
        default=DEFAULT_WARM_UP_ROWS,
        help="the server's own warm-up run (etl spark start --warm-up-rows; 0: none)",
    )
    parser.add_argument(
        "--server-started-by-run",
        action="store_true",
        help="with --spark-server: the server an `etl run` at a terminal leaves (its default "
        "warm-up), not `etl spark start`",
    )
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout (e.g. a `git worktree` of the old commit) timed in the same runs",
    )
    args = parser.parse_args()
    if args.rows is None and not args.cold_small:
        parser.error("give --rows N and/or --cold-small")
    global KEEP_LAKES, WARM_UP_RUNS
    KEEP_LAKES, WARM_UP_RUNS = args.keep_lakes, args.server_warm_up
    work = Path(args.work or tempfile.mkdtemp(prefix="etl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"cores": os.cpu_count(), "load_average": os.getloadavg()}
    print(f"load average before: {out['load_average']}", file=sys.stderr)
    by_run = args.server_started_by_run
    if by_run and not args.spark_server:
        parser.error("--server-started-by-run needs --spark-server")
    with spark_server(work, args.spark_server, args.server_warm_up_rows, by_run) as server:
        choice = subjects(args.before, server)
        if args.rows:
            bench_rows(args.rows, args.repeat, work, choice, out)
        if args.cold_small:
            bench_cold_small(args.repeat, work, choice, out)
    if args.spark_stages and args.rows:
        bench_spark_stages(args.rows, work, out)
    out["load_average_after"] = os.getloadavg()
    print(f"load average before/after: {out['load_average']} / {out['load_average_after']}")
    if args.json:
        print(json.dumps(out, indent=2))
    if args.work is None:  # a scratch folder of its own: generated files too
        done_with(work)


if __name__ == "__main__":
    main()
