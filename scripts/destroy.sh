#!/usr/bin/env bash
# Remove the pipeline from an environment: delete the monitoring, workflow, Glue and data
# lake stacks in that order, emptying every bucket (all object versions) first.
# Deleting prod needs --yes.
#
# Usage: scripts/destroy.sh dev|staging|prod [--endpoint-url URL] [--region REGION]
#                           [--project-name NAME] [--yes]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
if [[ ! -x "$PYTHON" ]]; then
  echo "destroy.sh: $PYTHON not found; run 'make venv' first" >&2
  exit 2
fi
exec "$PYTHON" "$ROOT/scripts/deploy.py" destroy "$@"
