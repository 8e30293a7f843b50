"""CLI commands for the local Spark server (``etl spark start | status | stop``)."""

from __future__ import annotations

import argparse
import sys

from etl.cli.arguments import checked

EPILOG = """\
start   start a Spark driver JVM in the background and keep it running: `etl run`,
        `etl watch`, notebook kernels and other `get_spark()` callers then create their
        Spark session in it, already warm, instead of starting a JVM of their own (a 2 M-row
        run took 24-32 s in a warm server against 36-46 s cold: docs/performance-history.md).
        One run uses it at a time; a run that finds it in use starts its own JVM. It stops by itself
        after --idle-minutes without a run (default 60). Harmless when already running.
        Once up, it warms itself in the background with two runs of its own on
        --warm-up-rows generated orders (default 300000 in all, ~24 s; 0: none), so even
        the first run finds it warm; a run started meanwhile stops the warm-up and takes
        the server at once.
status  running, starting or not: PIDs, since when, warming up, in use or free, the JVM's
        memory.
stop    stop the server and its JVM. Harmless when not running.

`etl run` typed at a terminal starts one by itself, in the background, once it has run in a
JVM of its own, so that the next runs start warm (it stops after 30 idle minutes).
ETL_SPARK_SERVER_AUTOSTART=auto (default: only when stderr is a terminal and CI is not set),
on (always) or off (never).

One server per Python environment (.venv); its state and log are in
~/.cache/etl-workbench/spark-server/ (ETL_SPARK_SERVER=DIR moves them;
ETL_SPARK_SERVER=off makes runs ignore a running server).
Exit codes: 0 done (also "already running" / "not running"), 1 failure, 2 usage.
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``etl spark`` and its actions to the ``etl`` parser."""
    spark = commands.add_parser(
        "spark",
        help="keep a warm Spark JVM running for the runs that follow",
        description="A local Spark driver JVM kept running between runs, like a Glue "
        "interactive session.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = spark.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="start the server (if it is not running)")
    start.add_argument(
        "--idle-minutes",
        type=_minutes,
        default=None,
        help="stop after this many minutes without a run (default 60)",
    )
    start.add_argument(
        "--warm-up-rows",
        type=_rows,
        default=None,
        help="generated orders the server runs to warm up in the background (default "
        "300000; 0: none)",
    )
    start.set_defaults(handler=cmd_start)
    status = actions.add_parser("status", help="is it running, and is a run using it")
    status.set_defaults(handler=cmd_status)
    stop = actions.add_parser("stop", help="stop the server and its JVM")
    stop.set_defaults(handler=cmd_stop)


_minutes = checked(float, lambda minutes: minutes > 0, "a number of minutes above 0")
_rows = checked(int, lambda rows: rows >= 0, "a number of rows (0 or more)")


def cmd_start(args: argparse.Namespace) -> int:
    from etl.jobs import spark_server, spark_server_process

    idle = args.idle_minutes or spark_server_process.DEFAULT_IDLE_MINUTES
    rows = args.warm_up_rows
    rows = spark_server_process.DEFAULT_WARM_UP_ROWS if rows is None else rows
    if spark_server.running() is None:
        print("starting a Spark server (the JVM takes a few seconds)", file=sys.stderr, flush=True)
    try:
        state, started = spark_server_process.start(idle, rows)
    except spark_server_process.ServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if started:
        print(f"started: {_describe(state)}")
        if rows:
            print(
                f"warming up in the background on {rows:,} generated orders (~25 s at the "
                "default size); a run started meanwhile stops it and takes the server"
            )
    else:
        given = [f"--{name} {value:g}" for name, value in _given(args)]
        ignored = f"; {', '.join(given)} ignored" if given else ""
        print(f"already running: {_describe(state)}{ignored}")
    if not spark_server.enabled():
        print("note: ETL_SPARK_SERVER=off here, so runs from this shell will not use it")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from etl.jobs import spark_server

    state = spark_server.running()
    if state is None and spark_server.starting():
        print("starting: its JVM is not up yet; runs started meanwhile wait for it")
        return 0
    if state is None:
        print("not running; start it with `etl spark start`")
        return 0
    lease = spark_server.take_lease()
    if lease is not None:
        spark_server.release_lease(lease)
    warming = spark_server.warming_up()
    if warming is not None:
        use = f"warming up (PID {warming}; a run stops it)"
    else:
        use = "free" if lease is not None else "in use by a run"
    print(f"running: {_describe(state)}; {use}; JVM memory {_resident(state.jvm_pid)}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from etl.jobs import spark_server_process

    try:
        stopped = spark_server_process.stop()
    except spark_server_process.ServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("not running; nothing to stop" if stopped is None else f"stopped: {_describe(stopped)}")
    return 0


def leave_server_for_next_runs() -> None:
    """After a command that ran Spark in a JVM of its own: start a server in the background
    for the runs that follow, if wanted (``spark_server.autostart_wanted``) and none runs,
    and say so. Never changes how the command ended."""
    from etl.jobs import spark_server, spark_server_process

    try:  # a person at a terminal: where the note below is seen
        if not spark_server.autostart_wanted(interactive=sys.stderr.isatty()):
            return
        if spark_server.running() is not None:  # one is busy with another run
            return
        if (short := _memory_short()) is not None:
            print(f"note: no Spark server started for the next runs: {short}", file=sys.stderr)
            return
        idle = spark_server.AUTOSTART_IDLE_MINUTES
        if not spark_server_process.start_in_background(idle):
            return
    except (ValueError, OSError) as error:
        print(f"warning: no Spark server started for the next runs: {error}", file=sys.stderr)
        return
    print(
        "note: a Spark server is starting in the background so that the next runs start warm "
        f"(`etl spark status`; it stops after {idle:g} idle minutes, `etl spark stop` now; "
        f"{spark_server.AUTOSTART}=off: never start one)",
        file=sys.stderr,
    )


# A server's JVM grows to 2-2.7 GB (2 GB heap); started unasked, it leaves at least as much
# again for everything else on the machine.
AUTOSTART_MIN_AVAILABLE_GB = 5.0


def _memory_short() -> str | None:
    """Why the machine has too little memory free for a server started unasked, or None."""
    import psutil

    available = psutil.virtual_memory().available / 2**30
    if available >= AUTOSTART_MIN_AVAILABLE_GB:
        return None
    return (
        f"{available:.1f} GB of memory available, under the {AUTOSTART_MIN_AVAILABLE_GB:g} GB "
        "it starts one with (`etl spark start` starts one anyway)"
    )


def _given(args: argparse.Namespace) -> list[tuple[str, float]]:
    """The start options given on the command line (a running server keeps its own)."""
    named = {"idle-minutes": args.idle_minutes, "warm-up-rows": args.warm_up_rows}
    return [(name, value) for name, value in named.items() if value is not None]


def _describe(state) -> str:
    return (
        f"PID {state.pid}, JVM PID {state.jvm_pid}, since {state.started}, "
        f"stops after {state.idle_minutes:g} idle minutes"
    )


def _resident(pid: int) -> str:
    """The process's resident memory, as Linux reports it (``?`` elsewhere)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return f"{int(line.split()[1]) / 1024**2:.1f} GB"
    except OSError:
        pass
    return "?"
