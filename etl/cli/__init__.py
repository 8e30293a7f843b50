"""The ``etl`` command line (``etl.cli.main``)."""

from etl.cli.main import main

__all__ = ["main"]
