"""The ``etl`` command line.

Expected failures (bad file, failed quality gate) print one line and exit non-zero;
tracebacks are left for bugs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

# jsonschema imports rfc3987_syntax, when it is installed, for optional "iri" format checks,
# and that module builds a parser on import: about a second of every cold command. Nothing
# in etl checks formats, so the command line goes without it (jsonschema allows that).
sys.modules.setdefault("rfc3987_syntax", None)

import etl  # noqa: E402
from etl.core import progress  # noqa: E402
from etl.core.accounting import RowCounts  # noqa: E402
from etl.core.conventions import DEFAULT_DATASET  # noqa: E402
from etl.core.datasets import get_dataset  # noqa: E402
from etl.core.errors import EtlError, one_line  # noqa: E402
from etl.storage.lake import Lake  # noqa: E402

EXIT_CODES = {"INVALID_SPEC": 2, "VALIDATION_FAILED": 3, "QUALITY_CHECK_FAILED": 4, "FAILED": 1}

EPILOG = """\
commands:
  etl sample [--dataset NAME] [--out DIR]  write a bundled dataset's sample feed
  etl run FILE... [--dataset NAME]       land each FILE in raw/incoming/ and run every stage
  etl datasets list | show NAME | check | new NAME --from FILE
  etl spark start | status | stop        keep a warm Spark JVM for the runs that follow
  etl query "SQL"                        SQL (DuckDB) over the catalog's tables, e.g.
                                         etl query "SELECT * FROM etl_pipeline.daily_sales LIMIT 5"

The lake root is --lake DIR, else $ETL_LAKE_ROOT, else ./lake.
Exit codes: 0 success, 2 invalid input (arguments, dataset spec), 3 validation failed,
4 quality gate failed, 1 other failure (including giving up on a busy lake after
$ETL_LOCK_TIMEOUT seconds), 130 interrupted (Ctrl-C or SIGTERM: the execution is recorded
as ABORTED).
"""


RUN_DATE_FROM_NAME = "from-name"
DATE_IN_NAME = re.compile(r"(?<![0-9])([0-9]{4})-?([0-9]{2})-?([0-9]{2})(?![0-9])")


def run_date_arg(text: str) -> date | str:
    if text == RUN_DATE_FROM_NAME:
        return text
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date in YYYY-MM-DD form (or {RUN_DATE_FROM_NAME})"
        ) from None


def date_in_name(path: str) -> date | None:
    """The first date a file's name holds (``orders_2026-11-01.csv``, ``export20261101.csv``):
    a backfill's run date per file (``--run-date from-name``)."""
    for match in DATE_IN_NAME.finditer(Path(path).name):
        try:
            return date(*map(int, match.groups()))
        except ValueError:
            continue
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etl",
        description="Run the serverless ETL pipeline (S3 zones, Glue, Step Functions) locally.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"etl {etl.__version__}")
    lake_parent = argparse.ArgumentParser(add_help=False)
    lake_parent.add_argument(
        "--lake", metavar="DIR", help="lake root (default $ETL_LAKE_ROOT or ./lake)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", parents=[lake_parent], help="land a file and run every stage")
    run.add_argument(
        "file",
        nargs="+",
        help="a .json/.jsonl/.ndjson/.csv/.tsv/.txt file (or .gz of one) or .parquet to process; "
        "several run one after the other (a backfill), in one Spark JVM",
    )
    run.add_argument(
        "--run-date",
        type=run_date_arg,
        default=None,
        help="the run's logical date, YYYY-MM-DD (default: today, UTC); from-name: the date "
        "in each file's name (orders_2026-11-01.csv, export20261101.csv), for a backfill",
    )
    run.add_argument(
        "--dataset",
        default=DEFAULT_DATASET,
        help=f"the dataset whose rules apply (default {DEFAULT_DATASET}; see `etl datasets list`)",
    )
    run.add_argument("--json", action="store_true", help="print the run result as JSON")
    run.add_argument(
        "--report", action="store_true", help="also write its HTML report (path printed last)"
    )
    run.set_defaults(handler=cmd_run, live_progress=True)

    sample = commands.add_parser("sample", help="write a bundled dataset's sample feed")
    sample.add_argument(
        "--dataset", default=DEFAULT_DATASET, help=f"whose feed (default {DEFAULT_DATASET})"
    )
    sample.add_argument(
        "--out", default="build/sample", help="output folder (default build/sample)"
    )
    sample.add_argument("--rows", type=int, default=1000, help="number of records (default 1000)")
    sample.add_argument(
        "--as-of",
        type=run_date_arg,
        default=None,
        help="date the records are relative to (default: today, UTC)",
    )
    sample.set_defaults(handler=cmd_sample)

    query = commands.add_parser(
        "query", parents=[lake_parent], help="SQL over the catalog's tables"
    )
    query.add_argument("sql", help='e.g. "SELECT * FROM etl_pipeline.daily_sales"')
    query.add_argument("--json", action="store_true", help="print rows as JSON objects")
    query.set_defaults(handler=cmd_query)

    from etl.cli import aws as aws_commands
    from etl.cli import datasets as datasets_commands
    from etl.cli import notebooks as notebook_commands
    from etl.cli import report as report_commands
    from etl.cli import spark as spark_commands
    from etl.cli import workflow as workflow_commands

    datasets_commands.register(commands, lake_parent)
    workflow_commands.register(commands, lake_parent)
    notebook_commands.register(commands, lake_parent)
    aws_commands.register(commands, lake_parent)
    report_commands.register(commands, lake_parent)
    spark_commands.register(commands)
    return parser


def today_utc() -> date:
    return datetime.now(UTC).date()


def cmd_run(args: argparse.Namespace) -> int:
    missing = [f for f in args.file if not Path(f).is_file()]
    if missing:  # before any run: a backfill with a typo stops before it starts
        print(f"error: {missing[0]}: no such file", file=sys.stderr)
        return 2
    undated = [f for f in args.file if args.run_date == RUN_DATE_FROM_NAME and not date_in_name(f)]
    if undated:
        print(
            f"error: {undated[0]}: no date in its name (YYYY-MM-DD or YYYYMMDD) for "
            f"--run-date {RUN_DATE_FROM_NAME}",
            file=sys.stderr,
        )
        return 2
    if len(args.file) > 1:
        return _run_each(args)
    if args.report:  # the run as usual, then its report (etl/cli/report.py), path last
        from etl.cli.report import run_then_report

        return run_then_report(
            args, lambda: cmd_run(argparse.Namespace(**vars(args) | {"report": False}))
        )
    from etl.local.pipeline import run_pipeline

    source = Path(args.file[0])
    lake = Lake.local(args.lake)
    run_date = args.run_date or today_utc()
    if run_date == RUN_DATE_FROM_NAME:
        run_date = date_in_name(str(source))
    say = progress.current().state  # live rows in a terminal, plain lines elsewhere
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        dataset = get_dataset(args.dataset)
        say(f"etl run {source.name} ({dataset.name}) -> lake {lake.root} (run date {run_date})")
        result = run_pipeline(
            str(source),
            lake,
            run_date,
            dataset,
            progress=say,
            show_spark_progress=True,
        )
    except EtlError as error:
        print(one_line(f"{error.status}: {error}"), file=sys.stderr)
        return EXIT_CODES.get(error.status, 1)
    except KeyboardInterrupt:
        print(
            "ABORTED: interrupted; the execution is recorded as ABORTED (etl executions list), "
            "and the next run repairs anything it left half-published",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        # Now, not at interpreter exit: the workflow's thread would go on publishing.
        os._exit(INTERRUPTED)
    print(
        json.dumps(
            result.to_dict(), indent=None if getattr(args, "json_lines", False) else 2, default=str
        )
        if args.json
        else render_summary(result)
    )
    return 0


INTERRUPTED = 130


def _run_each(args: argparse.Namespace) -> int:
    """``etl run`` of several files: each its own execution, in order, all of them run
    whatever one ends in (each is recorded); the exit code is the first failure's. With
    ``--json`` each result is one line (JSON lines)."""
    codes: list[tuple[str, int]] = []
    for number, file in enumerate(args.file, start=1):
        if number > 1 and not args.json:
            print(flush=True)  # a blank line between one run's summary and the next
        print(f"[{number}/{len(args.file)}] {file}", file=sys.stderr, flush=True)
        one = argparse.Namespace(**vars(args) | {"file": [file], "json_lines": True})
        codes.append((file, cmd_run(one)))
    failed = [(file, code) for file, code in codes if code]
    print(
        f"{len(codes)} files: {len(codes) - len(failed)} succeeded"
        + "".join(f"; {file} failed (exit {code})" for file, code in failed),
        file=sys.stderr,
    )
    return failed[0][1] if failed else 0


def _interrupted(_signum, _frame) -> None:
    """SIGTERM ends a run the way Ctrl-C does (recorded as ABORTED), not silently."""
    raise KeyboardInterrupt


def render_summary(result) -> str:
    from etl.cli import tables

    columns = ("stage", "status", "rows in", "rows out", "seconds", "detail")
    rows = [(s.stage, s.status, s.rows_in, s.rows_out, s.seconds, s.detail) for s in result.stages]
    lines = [tables.render(columns, rows, null="")]  # no count: the stage did not count rows
    outputs = [o for s in result.stages if s.stage != "land" for o in s.outputs]
    lines += ["", f"run {result.run_id}: {result.status}", f"raw copy: {result.landed}"]
    if result.key:
        lines.append(f"source:   {result.key} version {result.version}")
    if result.quality:
        lines.append(f"quality:  {result.quality.get('qualityScore')} / 100")
    if result.rows:
        lines.append(f"rows:     {RowCounts(**result.rows).describe()}")
    for table, missed in (result.unmatched or {}).items():
        written = result.rows["written"] if result.rows else 0
        lines.append(f"lookup:   {table}: {missed:,} of {written:,} rows not found (nulls joined)")
    lines += [f"output:   {o}" for o in outputs]
    if result.spark:
        lines.append(f"spark:    {result.spark}")
    lines.append(f"history:  etl executions show {result.run_id}")
    return "\n".join(lines)


def cmd_sample(args: argparse.Namespace) -> int:
    from etl.local.samples import write_samples

    try:
        paths = write_samples(
            args.dataset, args.out, rows=args.rows, as_of=args.as_of or today_utc()
        )
    except EtlError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from etl.cli.tables import query_result
    from etl.local.query import run_query

    if not args.sql.strip():
        print('error: no SQL given; e.g. etl query "SHOW ALL TABLES"', file=sys.stderr)
        return 2
    try:
        columns, rows = run_query(Lake.local(args.lake), args.sql)
    except (duckdb.Error, ValueError) as error:
        print(one_line(f"error: {str(error).splitlines()[0]}"), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=2))
    else:
        print(query_result(columns, rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `etl` is a request for help, not a mistake
        parser.print_help()
        return 0
    with stdout_for_json_only() if getattr(args, "json", False) else nullcontext():
        if getattr(args, "live_progress", False):
            from etl.cli.progress import live_progress

            with live_progress():
                return args.handler(args)
        return args.handler(args)


@contextmanager
def stdout_for_json_only() -> Iterator[None]:
    """Keep the process's stdout for the command's JSON: a child process started meanwhile
    writes its stdout to stderr. The Spark JVM prints VM warnings there, and a profiler's
    notes (``JAVA_TOOL_OPTIONS=-XX:StartFlightRecording``), which would corrupt the JSON.
    ``sys.stdout`` keeps the real stdout; one without a file descriptor (a test's capture)
    is left alone, as no child process can write into it."""
    try:
        descriptor, errors = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    real = sys.stdout
    real.flush()
    kept = os.dup(descriptor)
    try:
        with open(kept, "w", encoding=real.encoding, errors=real.errors, closefd=False) as out:
            sys.stdout = out
            os.dup2(errors, descriptor)  # what child processes inherit as their stdout
            yield
    finally:
        os.dup2(kept, descriptor)
        os.close(kept)
        sys.stdout = real


def run_as_command(argv: list[str] | None = None) -> NoReturn:
    """The ``etl`` command: ``main``, then end the process at once with its exit code.

    Once a command is done, nothing of ours is left to run, but the interpreter's own
    teardown of the 3,000-odd modules pyspark, pandas, great-expectations and moto load
    takes one to two seconds (measured on the sample run): a noticeable part of a short
    run. So output is flushed, the Spark temp folder removed, and the process ends without
    it (``os._exit``). Its own JVM is ended too (``etl.jobs.session.end_own_jvm``). A
    command that started a Spark JVM of its own, typed at a terminal, leaves a Spark server
    starting for the commands that follow (``etl.cli.spark.leave_server_for_next_runs``).
    """
    code = main(argv)
    sys.stdout.flush()  # the command's output before any note on the server below
    session = sys.modules.get("etl.jobs.session")  # loaded only by commands that ran Spark
    if session is not None and session.started_own_jvm():
        from etl.cli.spark import leave_server_for_next_runs

        leave_server_for_next_runs()
    sys.stdout.flush()
    sys.stderr.flush()
    if session is not None:
        session.end_own_jvm()
        session.remove_scratch()
    os._exit(code or 0)


if __name__ == "__main__":
    run_as_command()
