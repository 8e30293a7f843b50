"""``make lab`` starts as root and on a machine without a display (read with ``make -n``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def lab_command(*variables: str, **environment: str) -> list[str]:
    """The ``jupyter lab`` command line ``make lab`` would run, as words."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(environment)
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "lab", *variables],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return next(line.split() for line in dry_run.splitlines() if "jupyter lab" in line)


def test_as_root_jupyter_is_allowed_to_run_as_root():
    assert "--allow-root" in lab_command("USER_ID=0")


def test_as_another_user_nothing_about_root_is_passed():
    assert "--allow-root" not in lab_command("USER_ID=1000")


def test_the_current_user_is_detected():
    assert ("--allow-root" in lab_command()) == (os.getuid() == 0)


def test_without_a_display_no_browser_is_opened_and_the_notebooks_are_served():
    words = lab_command()
    assert "--no-browser" in words or os.uname().sysname == "Darwin"
    assert "--notebook-dir=notebooks" in words


def test_with_a_display_the_browser_opens():
    assert "--no-browser" not in lab_command(DISPLAY=":0")
