"""``getResolvedOptions`` as AWS Glue defines it: required ``--name value`` options."""

from __future__ import annotations

import argparse

BOOKMARK_CHOICES = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")


class GlueArgumentError(Exception):
    """A required job argument is missing (Glue raises on the same condition)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise GlueArgumentError(f"Argument Error: {message}")


def getResolvedOptions(args: list[str], options: list[str]) -> dict:
    """Resolve ``options`` from ``args`` (``sys.argv``); keys use ``_`` for ``-`` like Glue's."""
    parser = _Parser(prog=args[0] if args else "glue-job")
    parser.add_argument("--job-bookmark-option", choices=BOOKMARK_CHOICES, required=False)
    for reserved in ("--JOB_ID", "--JOB_RUN_ID", "--TempDir"):
        parser.add_argument(reserved, required=False)
    parser.add_argument("--JOB_NAME", required="JOB_NAME" in options)
    for option in options:
        if option not in ("JOB_NAME", "TempDir"):
            parser.add_argument(f"--{option}", required=True)
    parsed, _unknown = parser.parse_known_args(args[1:])
    return vars(parsed)
