"""CLI commands for the workflow (``etl watch``, ``etl executions``)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction, lake_parent: argparse.ArgumentParser) -> None:
    """Add the workflow's subcommands to the ``etl`` parser."""
