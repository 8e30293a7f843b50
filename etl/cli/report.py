"""CLI commands to see what a run did: ``etl report`` (HTML) and ``etl lineage`` (provenance)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict

from etl.storage.lake import Lake


def register(commands: argparse._SubParsersAction, lake_parent: argparse.ArgumentParser) -> None:
    """Add ``report`` and ``lineage`` to the ``etl`` parser."""
    report = commands.add_parser(
        "report",
        parents=[lake_parent],
        help="write one self-contained HTML page about an execution",
        description="Write the run report of EXECUTION (default: the latest) as one HTML "
        "page with no external assets, plus great-expectations Data Docs beside it; print "
        "the page's path last.",
    )
    report.add_argument(
        "execution", nargs="?", help="execution name or ARN (default: the latest execution)"
    )
    report.add_argument(
        "--out", metavar="FILE", help="where to write it (default <lake>/_system/reports/)"
    )
    report.set_defaults(handler=cmd_report)

    trace = commands.add_parser(
        "lineage",
        parents=[lake_parent],
        help="which source files and executions produced a curated or analytics path",
    )
    trace.add_argument("path", help="a curated or analytics partition folder or file")
    trace.add_argument("--json", action="store_true", help="print the answer as JSON")
    trace.set_defaults(handler=cmd_lineage)


def cmd_report(args: argparse.Namespace) -> int:
    from etl.local.report import write_report

    try:
        path = write_report(Lake.local(args.lake), args.execution, args.out)
    except LookupError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    print(path)
    return 0


def run_then_report(args: argparse.Namespace, run: Callable[[], int]) -> int:
    """``etl run --report``: the run, then the report of the execution it made, path last.

    The run's exit code stands. A run that stopped before starting an execution (e.g. the
    file could not be landed) has no report; that is said on stderr.
    """
    from etl.local import history
    from etl.local.report import write_report

    lake = Lake.local(args.lake)
    before = {e["name"] for e in history.list_executions(lake)["executions"]}
    code = run()
    new = [e for e in history.list_executions(lake)["executions"] if e["name"] not in before]
    if new:
        print(write_report(lake, new[0]["name"]), flush=True)
    else:
        print("report: the run started no workflow execution", file=sys.stderr)
    return code


def cmd_lineage(args: argparse.Namespace) -> int:
    from etl.local.lineage import render_trace, trace

    try:
        found = trace(Lake.local(args.lake), args.path)
    except LookupError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(found), indent=2) if args.json else render_trace(found))
    return 0
