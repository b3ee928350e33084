"""A program of the server's tests run in a fresh Python: `XLWINGS_ON_SERVER` must be set before the first
import of xlwings, and each program needs its own environment (no `XLWINGS_*` or `ACV_XL_*` of the caller's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clean_env(**env: str) -> dict[str, str]:
    """The caller's environment without its xlwings and acv-xl settings, with the licence key, the project
    and the tests' helpers importable, then `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("XLWINGS_", "ACV_XL_"))}
    base.update(XLWINGS_LICENSE_KEY="noncommercial", PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    base.update(env)
    return base


def run_program(program: str, *args: str, **env: str) -> tuple[dict, str]:
    """(the JSON the program printed last, its standard error); a failing program fails the test with its error."""
    done = subprocess.run([sys.executable, "-c", program, *args], env=clean_env(**env), capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr
