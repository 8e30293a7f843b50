"""CLI commands for the workflow (``etl watch``, ``etl executions``)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import datetime

from etl.storage.lake import Lake


def register(commands: argparse._SubParsersAction, lake_parent: argparse.ArgumentParser) -> None:
    """Add the workflow's subcommands to the ``etl`` parser."""
    watch = commands.add_parser(
        "watch",
        parents=[lake_parent],
        help="start one workflow execution per new object in raw/incoming/",
    )
    watch.add_argument(
        "--interval", type=float, default=2.0, help="seconds between scans (default 2)"
    )
    watch.add_argument("--once", action="store_true", help="scan once, run what is new, exit")
    watch.add_argument(
        "--time-scale",
        type=float,
        default=0.0,
        help="multiply Wait states and retry intervals by this (default 0: no waiting)",
    )
    watch.set_defaults(handler=cmd_watch)

    executions = commands.add_parser(
        "executions", parents=[lake_parent], help="workflow executions and their history"
    )
    actions = executions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[lake_parent], help="like list-executions")
    listing.add_argument("--json", action="store_true", help="print the AWS CLI's JSON shape")
    listing.set_defaults(handler=cmd_executions_list)
    show = actions.add_parser(
        "show", parents=[lake_parent], help="one execution's path and history"
    )
    show.add_argument("id", help="execution name or ARN")
    show.add_argument("--json", action="store_true", help="describe-execution + history JSON")
    show.set_defaults(handler=cmd_executions_show)


def cmd_watch(args: argparse.Namespace) -> int:
    from etl.local.runner import LocalWorkflow

    lake = Lake.local(args.lake)
    print(f"watching {lake.landing_path('')} (Ctrl-C to stop)", file=sys.stderr)
    stop = threading.Event()
    # SIGTERM (a service manager, `kill`) stops the watch as Ctrl-C does: an execution it
    # interrupts is recorded ABORTED with its stop time, as in `etl run`.
    signal.signal(signal.SIGTERM, _interrupted)
    with LocalWorkflow(lake, time_scale=args.time_scale) as workflow:
        try:
            while True:
                for record in workflow.run_new_landings():
                    print(render_execution(record), flush=True)
                if args.once or stop.wait(args.interval):
                    return 0
        except KeyboardInterrupt:
            if workflow.interrupted is None:  # between executions: a normal stop
                return 0
            print(
                f"ABORTED: interrupted; execution {workflow.interrupted} is recorded as ABORTED",
                file=sys.stderr,
                flush=True,
            )
            os._exit(130)  # not at interpreter exit: the workflow's thread would go on


def _interrupted(_signum, _frame) -> None:
    raise KeyboardInterrupt


def cmd_executions_list(args: argparse.Namespace) -> int:
    from etl.cli import tables
    from etl.local import history

    listing = history.list_executions(Lake.local(args.lake))
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    executions = listing["executions"]
    rows = [
        (e["name"], e["status"], _when(e["startDate"]), _when(e.get("stopDate")))
        for e in executions
    ]
    footer = f"({tables.plural(len(rows), 'execution')})"
    print(tables.render(("name", "status", "started", "stopped"), rows, null="", footer=footer))
    return 0


def cmd_executions_show(args: argparse.Namespace) -> int:
    from etl.local import history

    try:
        record = history.load(Lake.local(args.lake), args.id)
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(render_execution(record))
    return 0


def render_execution(record: dict) -> str:
    """An execution's name and status, then the states it went through, in order."""
    from etl.cli import tables
    from etl.local import history

    execution = record["execution"]
    steps = history.path_taken(record["events"])
    rows = [(n, s["state"], s["type"], s["seconds"]) for n, s in enumerate(steps, start=1)]
    lines = [
        f"{execution['name']}  {execution['status']}",
        tables.render(("step", "state", "type", "seconds"), rows, null=""),
    ]
    if execution.get("error"):
        lines.append(f"error: {execution['error']}: {execution.get('cause', '')}")
    return "\n".join(lines)


def _when(timestamp: str | None) -> datetime | None:
    """A history timestamp, to the second: the table shows when, not the microseconds."""
    return datetime.fromisoformat(timestamp).replace(microsecond=0) if timestamp else None
