#!/usr/bin/env bash
# The whole test suite on a fresh machine: system packages (LibreOffice for the recalculation
# and PDF tests, with the fonts metric-compatible with Calibri and Arial; poppler-utils for
# pdftotext), the venv, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v soffice >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libreoffice-calc fonts-crosextra-carlito fonts-liberation2 poppler-utils >/dev/null
fi
bash scripts/setup.sh
export XLWINGS_LICENSE_KEY=${XLWINGS_LICENSE_KEY:-noncommercial}
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
