"""The ``etl`` command line (``etl.cli.main``)."""

from etl.cli.main import main, run_as_command

__all__ = ["main", "run_as_command"]
