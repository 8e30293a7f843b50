"""CLI commands for notebooks and deployment artifacts (``etl notebook run``, ``etl export``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction, lake_parent: argparse.ArgumentParser) -> None:
    """Add the notebook and export subcommands to the ``etl`` parser."""
    notebook = commands.add_parser("notebook", help="list, run and check the stage notebooks")
    actions = notebook.add_subparsers(dest="notebook_command", required=True, metavar="ACTION")

    run = actions.add_parser("run", help="execute a notebook with papermill into build/notebooks/")
    run.add_argument("name", help="e.g. 04_transform (or 04, or a path)")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="set a parameter of the notebook's 'parameters' cell (repeatable)",
    )
    run.add_argument(
        "--out", default=None, help="folder for the executed copy (default build/notebooks)"
    )
    run.set_defaults(handler=cmd_notebook_run)

    listing = actions.add_parser("list", help="the notebooks and their parameters")
    listing.set_defaults(handler=cmd_notebook_list)

    check = actions.add_parser(
        "check", help="committed notebooks: no outputs, Glue session cell, parameters cell"
    )
    check.set_defaults(handler=cmd_notebook_check)

    kernel = actions.add_parser("kernel", help="register the project kernel into .venv")
    kernel.set_defaults(handler=cmd_notebook_kernel)

    export = commands.add_parser(
        "export", help="build the Glue job, package zip, Lambda bundles into build/deploy/"
    )
    mode = export.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="fail if the notebooks' export cells and etl/jobs/glue_scripts/ have drifted",
    )
    mode.add_argument(
        "--update",
        action="store_true",
        help="rewrite etl/jobs/glue_scripts/ from the notebooks' export cells",
    )
    export.add_argument("--root", default=None, help=argparse.SUPPRESS)
    export.set_defaults(handler=cmd_export)


def cmd_notebook_run(args: argparse.Namespace) -> int:
    from etl.notebooks.runner import OUTPUT_DIR, NotebookFailed, parameter_value, run_notebook

    parameters = {key: _from_here(key, parameter_value(value)) for key, value in args.parameter}
    try:
        target = run_notebook(
            args.name, parameters, output_dir=Path(args.out).absolute() if args.out else OUTPUT_DIR
        )
    except NotebookFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(target)
    return 0


PATH_PARAMETERS = ("_path", "_dir", "_root", "_out")  # source_path, sample_dir, lake_root, ...


def _from_here(key: str, value: object) -> object:
    """A relative path given for a path parameter, made absolute from where the command
    runs: the notebook's kernel runs in notebooks/, where it would mean something else."""
    if key.endswith(PATH_PARAMETERS) and isinstance(value, str) and value:
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else Path.cwd() / path)
    return value


def cmd_notebook_list(args: argparse.Namespace) -> int:
    import nbformat

    from etl.cli import tables
    from etl.notebooks.runner import declared_parameters, list_notebooks

    rows = []
    for path in list_notebooks():
        declared = declared_parameters(nbformat.read(path, as_version=4))
        rows.append((path.stem, " ".join(f"{k}={v}" for k, v in declared.items())))
    print(tables.render(("notebook", "parameters"), rows))
    return 0


def cmd_notebook_check(args: argparse.Namespace) -> int:
    from etl.notebooks.runner import check_notebooks

    problems = check_notebooks()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def cmd_notebook_kernel(args: argparse.Namespace) -> int:
    from etl.notebooks.runner import install_kernel, prepare_environment

    prepare_environment()
    print(install_kernel())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from etl.deploy import export

    root = Path(args.root).resolve() if args.root else export.REPO_ROOT
    try:
        if args.check:
            problems = export.drift(root)
            if problems:
                print(f"error: {problems[0]}", file=sys.stderr)
                return 1
            print("export cells and committed job scripts match; every dataset spec is valid")
            return 0
        if args.update:
            for path in export.update_committed(root):
                print(path)
            return 0
        written, notes = export.build(root)
    except export.ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    drifted = export.drift(root)
    if drifted:
        print(f"warning: {drifted[0]}", file=sys.stderr)
    return 0
