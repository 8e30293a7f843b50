"""Where a checkout keeps what the package reads beside it: one place for repo-relative paths.

Inside the exported package zip (Glue) or a Lambda bundle there is no checkout; code that
runs there reads package data (``importlib.resources``) instead of these paths.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"
STATE_MACHINE_PATH = REPO_ROOT / "infra" / "statemachine" / "etl_workflow.asl.json"
