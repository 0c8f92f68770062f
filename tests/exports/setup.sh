#!/usr/bin/env bash
# Installs the validators that tests/exports/validate.py checks the output of
# `preflight export` with: the Python ones (botocore, cfn-lint, jsonschema,
# Chaos Toolkit and the extensions its experiments use), pinned in
# requirements.txt, into the same .venv in the repository root as
# tests/python/setup.sh; and promtool, from the Debian package `prometheus`
# when it is not on PATH (needs root: CI runs as root). Idempotent: does
# nothing when the pinned versions and promtool are already there. Prints the
# version of every validator at the end.
#
#   bash tests/exports/setup.sh && .venv/bin/python tests/exports/validate.py EXPORT_ROOT
#
# PYTHON picks the interpreter that creates the venv (default python3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"

bash "$root/tests/python/setup.sh" "$root/tests/exports/requirements.txt"

if command -v promtool >/dev/null 2>&1; then
    echo "export validators: promtool found at $(command -v promtool)"
elif [ "$(id -u)" -eq 0 ]; then
    echo "export validators: installing promtool (Debian package prometheus)"
    export DEBIAN_FRONTEND=noninteractive
    # Only promtool is wanted: keep the package's service from starting.
    # A policy-rc.d of our own is removed again; one already there is kept.
    policy=/usr/sbin/policy-rc.d
    own_policy=no
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=yes
    fi
    log="$(mktemp)"
    trap '[ "$own_policy" = yes ] && rm -f "$policy"; rm -f "$log"' EXIT
    # The package lists may be missing or stale on a fresh machine: update
    # them and try again once.
    if ! apt-get install -y -qq --no-install-recommends prometheus >"$log" 2>&1; then
        if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; } >"$log" 2>&1; then
            cat "$log" >&2
            echo "setup.sh: apt-get install prometheus failed" >&2
            exit 1
        fi
    fi
    command -v promtool >/dev/null 2>&1 \
        || { echo "setup.sh: package prometheus installed but promtool is not on PATH" >&2; exit 1; }
else
    echo "setup.sh: promtool is not on PATH and installing it needs root:" >&2
    echo "          run 'apt-get install prometheus' as root (or put promtool on PATH) and run this again" >&2
    exit 1
fi

echo "export validators:"
"$venv/bin/python" - <<'PY'
from importlib.metadata import version

for name in ("botocore", "cfn-lint", "jsonschema", "PyYAML", "chaostoolkit",
             "chaostoolkit-lib", "chaostoolkit-addons", "chaostoolkit-kubernetes",
             "chaostoolkit-aws", "chaostoolkit-prometheus"):
    print(f"  {name:<24} {version(name)}")
PY
printf '  %-24s %s\n' "cfn-lint (command)" "$("$venv/bin/cfn-lint" --version 2>&1 | head -n1)"
printf '  %-24s %s\n' "chaos (command)" "$("$venv/bin/chaos" --version 2>&1 | head -n1)"
printf '  %-24s %s\n' "promtool" "$(promtool --version 2>&1 | head -n1)"
