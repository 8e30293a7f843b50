"""``etl datasets``: list, show, check and create dataset folders."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from etl.core.datasets import SPEC_FILE, SpecError, dataset_folders, get_dataset, load_folder

INVALID_SPEC_EXIT = 2


def register(commands: argparse._SubParsersAction, lake_parent: argparse.ArgumentParser) -> None:
    """Add ``etl datasets ...`` to the ``etl`` parser."""
    datasets = commands.add_parser(
        "datasets", help="the datasets the pipeline knows: list, show, check, new"
    )
    actions = datasets.add_subparsers(dest="datasets_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="every dataset on the search path")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="one dataset's spec, with its defaults filled in")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print the spec as JSON")
    show.set_defaults(handler=cmd_show)

    check = actions.add_parser("check", help="validate every dataset spec (exit 2 if any fails)")
    check.set_defaults(handler=cmd_check)

    new = actions.add_parser(
        "new", help="propose a dataset (spec + expectation suite) from a sample file"
    )
    new.add_argument("name", help="the new dataset's name (lower case, digits, _)")
    new.add_argument("--from", dest="source", required=True, metavar="FILE", help="sample file")
    new.add_argument(
        "--into",
        default=None,
        metavar="DIR",
        help="folder to create the dataset in (default: first of $ETL_DATASETS_DIR, else "
        "the checkout's datasets/)",
    )
    new.add_argument(
        "--force",
        action="store_true",
        help="rewrite the spec and suite of an existing dataset folder (other files are kept)",
    )
    new.set_defaults(handler=cmd_new)


def cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for name, folder in dataset_folders().items():
        try:
            spec = load_folder(folder)
        except SpecError as error:
            rows.append({"name": name, "folder": str(folder), "error": str(error)})
            continue
        rows.append(
            {
                "name": name,
                "folder": str(folder),
                "description": spec.description,
                "tables": [spec.curated_table, *(s.name for s in spec.summaries)],
                "threshold": spec.quality_threshold,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        detail = row.get("error") or f"tables {', '.join(row['tables'])}; {row['folder']}"
        print(f"{row['name']:<16} {detail}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    try:
        spec = get_dataset(args.name)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return INVALID_SPEC_EXIT
    if args.json:
        print(json.dumps(spec.to_dict(), indent=2, ensure_ascii=False))
        return 0
    import yaml

    print(f"# {spec.folder}")
    print(yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True, width=100), end="")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    folders = dataset_folders()
    failed = 0
    for name, folder in folders.items():
        try:
            load_folder(folder)
        except SpecError as error:
            failed += 1
            print(f"error: {error}", file=sys.stderr)
        else:
            print(f"ok     {name}  ({folder.joinpath(SPEC_FILE)})")
    if not folders:
        print("no datasets found", file=sys.stderr)
    return INVALID_SPEC_EXIT if failed else 0


def cmd_new(args: argparse.Namespace) -> int:
    from etl.local.onboarding import OnboardingError, new_dataset

    try:
        written = new_dataset(args.name, Path(args.source), args.into, force=args.force)
    except (OnboardingError, SpecError) as error:
        print(f"error: {error}", file=sys.stderr)
        return INVALID_SPEC_EXIT
    print(written.summary())
    return 0
