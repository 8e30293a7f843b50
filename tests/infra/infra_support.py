"""Support for the infrastructure tests: paths, the artifact contract, fake credentials.

What moto's CloudFormation lacks is filled by the product (``etl.deploy.emulator``, used by
``scripts/deploy.py`` whenever ``--endpoint-url`` is given), so the tests deploy into a plain
moto server, as a user does. What even that cannot check is listed in
``test_infra_deploy.MOTO_CANNOT_CHECK`` and checked on the template instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from etl.deploy.export import DEPLOY_ARTIFACTS

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
TEMPLATES = sorted(INFRA.glob("*.yaml"))
ASL_FILE = INFRA / "statemachine" / "etl_workflow.asl.json"

# What `etl export` writes into build/deploy/ (the contract scripts/deploy.py uploads).
ARTIFACT_KEYS = DEPLOY_ARTIFACTS

AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
