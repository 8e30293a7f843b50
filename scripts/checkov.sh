#!/usr/bin/env bash
# Run checkov from its own virtualenv (build/tools/checkov), created on first use with the
# version pinned in requirements-infra.txt: its dependencies clash with the project's .venv.
# Usage: scripts/checkov.sh [checkov arguments...]   e.g. scripts/checkov.sh -d infra
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL_VENV="$ROOT/build/tools/checkov"
REQUIREMENTS="$ROOT/requirements-infra.txt"
STAMP="$TOOL_VENV/.installed"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if [[ ! -f "$STAMP" || "$REQUIREMENTS" -nt "$STAMP" ]]; then
  echo "checkov.sh: installing $(grep -E '^checkov==' "$REQUIREMENTS") into ${TOOL_VENV#"$ROOT"/}" >&2
  LOG="$ROOT/build/tools/checkov-install.log"
  mkdir -p "$(dirname "$LOG")"
  if ! { "$PYTHON" -m venv "$TOOL_VENV" &&
         "$TOOL_VENV/bin/python" -m pip install --disable-pip-version-check \
           -r "$REQUIREMENTS"; } >"$LOG" 2>&1; then
    tail -20 "$LOG" >&2
    echo "checkov.sh: could not create ${TOOL_VENV#"$ROOT"/} (full log: ${LOG#"$ROOT"/})" >&2
    exit 3
  fi
  touch "$STAMP"
fi

# Offline: no Bridgecrew/Prisma platform calls, no guideline mapping download.
export BC_SKIP_MAPPING=TRUE
export CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
exec "$TOOL_VENV/bin/checkov" --skip-download "$@"
