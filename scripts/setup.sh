#!/usr/bin/env bash
# Set-up shared by the README's two commands: a venv in .venv with acv-xl installed.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
# byte-code for our modules, as a regular install has it (an editable one leaves it to the first
# run, and where PYTHONDONTWRITEBYTECODE is set every run would compile them again)
.venv/bin/python -m compileall -q acv_xl udfs >/dev/null
