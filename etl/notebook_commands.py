"""CLI commands for notebooks and deployment artifacts (``etl notebook run``, ``etl export``)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction, lake_parent: argparse.ArgumentParser) -> None:
    """Add the notebook and export subcommands to the ``etl`` parser."""
