"""CLI commands for the local AWS endpoint (``etl aws up | status | down``)."""

from __future__ import annotations

import argparse
import sys

from etl.cli.arguments import checked
from etl.storage.lake import Lake

EPILOG = """\
up      start a moto server on 127.0.0.1:PORT (default 5000) in the background, deploy the
        stacks into it (scripts/deploy.sh dev --endpoint-url URL) and print the variables
        that point the AWS CLI at it; while it runs, `etl run` and `etl watch` record each
        execution into it. Harmless when already up.
status  running or not: URL, PID, the stacks deployed.
down    stop the server `up` started (by its recorded PID). Harmless when not running.

State: <lake>/_system/aws/ (endpoint.json, server.log, deploy.log).
Exit codes: 0 done (also "already up" / "not running"), 1 failure, 2 usage.
"""


def register(commands: argparse._SubParsersAction, lake_parent: argparse.ArgumentParser) -> None:
    """Add ``etl aws`` and its actions to the ``etl`` parser."""
    aws = commands.add_parser(
        "aws",
        help="a local AWS endpoint with the deployed stacks (for the AWS CLI)",
        description="A local AWS endpoint (moto) holding the deployed stacks and the local runs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = aws.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", parents=[lake_parent], help="start and deploy the endpoint")
    up.add_argument("--port", type=_port, default=None, help="port on 127.0.0.1 (default 5000)")
    up.set_defaults(handler=cmd_up)
    status = actions.add_parser("status", parents=[lake_parent], help="is it running, and what")
    status.set_defaults(handler=cmd_status)
    down = actions.add_parser("down", parents=[lake_parent], help="stop the endpoint")
    down.set_defaults(handler=cmd_down)


_port = checked(int, lambda port: 1 <= port <= 65535, "a port number (1-65535)")


def cmd_up(args: argparse.Namespace) -> int:
    from etl.local import aws_endpoint

    lake = Lake.local(args.lake)
    port = args.port or aws_endpoint.DEFAULT_PORT
    if aws_endpoint.running(lake) is None:
        print(
            f"starting a local AWS endpoint on {aws_endpoint.DEFAULT_HOST}:{port} and deploying "
            f"the stacks (log: {aws_endpoint.folder(lake)})",
            file=sys.stderr,
            flush=True,
        )
    try:
        endpoint, started = aws_endpoint.up(lake, port)
    except aws_endpoint.EndpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if started:
        print(f"up: {endpoint.url} (PID {endpoint.pid}); stacks deployed")
    else:
        note = f"; --port {args.port} ignored" if args.port and args.port != endpoint.port else ""
        print(f"already up: {endpoint.url} (PID {endpoint.pid}); nothing deployed again{note}")
    print("\n".join(aws_endpoint.export_lines(endpoint)))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import botocore.exceptions

    from etl.local import aws_endpoint

    lake = Lake.local(args.lake)
    endpoint = aws_endpoint.running(lake)
    if endpoint is None:
        print(f"not running (lake {lake.root}); start it with `etl aws up`")
        return 0
    print(f"running: {endpoint.url} (PID {endpoint.pid}, since {endpoint.started})")
    try:
        stacks = aws_endpoint.stack_statuses(endpoint)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        print(f"error: the endpoint does not answer: {error}", file=sys.stderr)
        return 1
    for name, status in stacks.items() or [("stacks", "none deployed")]:
        print(f"  {name}  {status}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from etl.local import aws_endpoint

    stopped = aws_endpoint.stop(Lake.local(args.lake))
    if stopped is None:
        print("not running; nothing to stop")
    else:
        print(f"stopped {stopped.url} (PID {stopped.pid})")
    return 0
