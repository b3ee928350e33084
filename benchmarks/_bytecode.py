"""Byte-code for acv-xl's own modules before timing anything.

A regular install (`pip install .`) compiles the package; the editable install of the set-up does
not, and where PYTHONDONTWRITEBYTECODE is set (this machine, some CI images) every process would
then compile our modules from source again — ≈ 25–40 ms per process that no user pays. The peers
(pandas, openpyxl, calamine) are installed compiled: measured alike, our side compiled too."""

from __future__ import annotations

import compileall
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure() -> None:
    for package in ("acv_xl", "udfs"):
        compileall.compile_dir(ROOT / package, quiet=1)
