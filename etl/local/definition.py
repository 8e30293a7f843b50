"""The workflow definition file and its substitution variables.

``infra/statemachine/etl_workflow.asl.json`` is the only copy of the workflow. It names
deployed resources through ``${Variable}`` placeholders that CloudFormation fills from
``DefinitionSubstitutions``; the local runner fills the same placeholders with local ARNs.
"""

from __future__ import annotations

import re
from pathlib import Path

from etl.core.paths import STATE_MACHINE_PATH

DEFINITION_PATH = STATE_MACHINE_PATH
SUBSTITUTIONS = (
    "ValidationFunctionArn",
    "QualityCheckFunctionArn",
    "RawCrawlerName",
    "CuratedCrawlerName",
    "GlueDatabaseName",
    "TransformJobName",
    "NotificationTopicArn",
    "RawBucketName",
    "CuratedBucketName",
)
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def render(text: str, values: dict[str, str]) -> str:
    """Fill every ``${Name}`` in ``text``; raise ``ValueError`` naming any left unfilled."""
    missing = sorted(placeholders(text) - values.keys())
    if missing:
        raise ValueError(f"no value for substitution variable(s) {missing} in the definition")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def load_definition(path: Path = DEFINITION_PATH) -> str:
    return path.read_text(encoding="utf-8")


def all_states(definition: dict) -> dict[str, dict]:
    """Every state by name, the states of Parallel branches included (names are unique
    across a state machine), in the definition's order."""
    states: dict[str, dict] = {}
    for name, state in definition["States"].items():
        states[name] = state
        for branch in state.get("Branches", []):
            states.update(all_states(branch))
    return states


def branch_of(definition: dict) -> dict[str, tuple[str, int]]:
    """For each state in a Parallel branch: ``(the Parallel state, branch index)``."""
    owners: dict[str, tuple[str, int]] = {}
    for name, state in all_states(definition).items():
        for index, branch in enumerate(state.get("Branches", [])):
            owners.update(dict.fromkeys(branch["States"], (name, index)))
    return owners
