#!/usr/bin/env bash
# Deploy the pipeline to an environment: build the artifacts (etl export), deploy the data
# lake stack, upload the artifacts to its scripts bucket, deploy the Glue, workflow and
# monitoring stacks, print the outputs. Details: infra/README.md.
#
# Usage: scripts/deploy.sh dev|staging|prod [--endpoint-url URL] [--region REGION]
#                          [--project-name NAME] [--artifacts DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
if [[ ! -x "$PYTHON" ]]; then
  echo "deploy.sh: $PYTHON not found; run 'make venv' first" >&2
  exit 2
fi
exec "$PYTHON" "$ROOT/scripts/deploy.py" deploy "$@"
