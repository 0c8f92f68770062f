#!/usr/bin/env bash
# Creates .venv in the repository root with the readers that
# tests/python/check_outputs.py checks a run directory with (pyarrow, pandas,
# DuckDB, polars) and SciPy for tests/python/check_fit.py, pinned in
# requirements.txt. Idempotent: does nothing when
# the pinned versions are already installed.
#
#   bash tests/python/setup.sh && .venv/bin/python tests/python/check_outputs.py RUN_DIR
#
# An argument names another pinned requirements file to install the same
# way into the same venv (tests/exports/setup.sh passes its validators').
#
# PYTHON picks the interpreter that creates the venv (default python3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
requirements="${1:-$root/tests/python/requirements.txt}"

if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi

# Exit 0 when every pinned requirement is installed at its pinned version.
satisfied() {
    "$venv/bin/python" - "$requirements" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for line in open(sys.argv[1]):
    requirement = line.split("#")[0].strip()
    if not requirement:
        continue
    name, _, pinned = requirement.partition("==")
    try:
        if version(name.strip()) != pinned.strip():
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}

if satisfied; then
    echo "python packages of $(basename "$(dirname "$requirements")")/$(basename "$requirements"): up to date in $venv"
else
    echo "python packages of $(basename "$(dirname "$requirements")")/$(basename "$requirements"): installing into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    satisfied || { echo "setup.sh: requirements still not satisfied in $venv" >&2; exit 1; }
fi
