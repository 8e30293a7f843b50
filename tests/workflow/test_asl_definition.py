"""The definition file: valid ASL, and exactly the substitution variables we document."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from etl.local.definition import (
    DEFINITION_PATH,
    SUBSTITUTIONS,
    load_definition,
    placeholders,
    render,
)
from etl.local.services import LocalNames

VALIDATOR = Path(__file__).resolve().parents[2] / "node_modules/.bin/asl-validator"


@pytest.mark.skipif(
    not VALIDATOR.exists() or not shutil.which("node"),
    reason="asl-validator not installed: run `npm ci` (package.json pins asl-validator 4)",
)
def test_the_definition_passes_the_asl_validator():
    result = subprocess.run(
        [str(VALIDATOR), "--json-path", str(DEFINITION_PATH)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_definition_uses_exactly_the_documented_substitutions():
    assert placeholders(load_definition()) == set(SUBSTITUTIONS)


def test_local_names_fill_every_substitution_and_leave_valid_json():
    rendered = render(load_definition(), LocalNames().substitutions())
    assert "${" not in rendered
    assert json.loads(rendered)["StartAt"] == "ValidateInput"


def test_a_missing_substitution_is_named():
    with pytest.raises(ValueError, match="RawBucketName"):
        render("s3://${RawBucketName}", {})
