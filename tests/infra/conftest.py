"""Fixtures for the infrastructure tests: fake credentials, a moto server, placeholder artifacts."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from infra_support import ARTIFACT_KEYS, ASL_FILE, AWS_TEST_ENVIRONMENT


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def aws_environment():
    """Fake credentials for the whole session, so nothing can reach a real account."""
    saved = {k: os.environ.get(k) for k in AWS_TEST_ENVIRONMENT}
    os.environ.update(AWS_TEST_ENVIRONMENT)
    yield dict(AWS_TEST_ENVIRONMENT)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def moto_endpoint(aws_environment):
    """A plain moto server on a free 127.0.0.1 port (the deploy fills its gaps itself)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def placeholder_artifacts(tmp_path_factory) -> Path:
    """Small stand-ins for `etl export`'s output, under the contract's file names.

    The infra tests check wiring, not the artifacts' contents (the export has its own
    tests), so each zip holds one stub module; the ASL file is the real one.
    """
    folder = tmp_path_factory.mktemp("deploy")
    for key in ARTIFACT_KEYS:
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        if key.endswith(".zip"):
            with zipfile.ZipFile(path, "w") as bundle:
                bundle.writestr("etl/__init__.py", "")
        elif key.endswith(".asl.json"):
            path.write_bytes(ASL_FILE.read_bytes())
        else:
            path.write_text("# placeholder Glue job script\n")
    return folder
