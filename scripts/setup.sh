#!/usr/bin/env bash
# Set-up shared by the README's two commands: a venv in .venv with acv-xl installed.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# A fresh Debian/Ubuntu trips here first: say it in French, with the fix, rather than venv's English.
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
  echo "acv-xl demande Python 3.11 ou plus récent (« $PY » est absent ou plus ancien) : installez-le, ou" \
       "désignez-en un autre, par exemple PYTHON=python3.12 bash scripts/demo.sh" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv  # a half-made venv would be taken for a good one next time
    echo "impossible de créer l'environnement .venv avec « $PY -m venv » : sur Debian ou Ubuntu," \
         "installez le paquet python3-venv (sudo apt-get install python3-venv), puis relancez." >&2
    exit 2
  fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
# byte-code for our modules, as a regular install has it (an editable one leaves it to the first
# run, and where PYTHONDONTWRITEBYTECODE is set every run would compile them again)
.venv/bin/python -m compileall -q acv_xl udfs >/dev/null
