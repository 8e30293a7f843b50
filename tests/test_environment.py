"""The environment is pinned to the AWS Glue 5.1 runtime, the same way for pip and conda."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def conda_pins() -> tuple[list[str], dict[str, str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {}
    for line in pip:
        if "==" in line:
            name, version = line.split("==")
            pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return conda, pins


def test_environment_yml_pins_the_same_packages_as_requirements():
    _, pins = conda_pins()
    assert pins == requirement_pins()


def test_environment_yml_pins_glue_python_and_java():
    conda, _ = conda_pins()
    assert "python=3.11" in conda
    assert "openjdk=17" in conda


def test_pins_match_glue_5_1_runtime():
    pins = requirement_pins()
    assert pins["pyspark"] == "3.5.6"
    assert int(pins["pandas"].split(".")[0]) < 3, "pyspark 3.5 does not support pandas 3"


def test_the_venv_has_exactly_the_pinned_versions():
    assert sys.version_info[:2] == (3, 11)
    wrong = {
        name: (version, metadata.version(name))
        for name, version in requirement_pins().items()
        if metadata.version(name) != version
    }
    assert not wrong, f"installed versions differ from requirements.txt: {wrong}"
