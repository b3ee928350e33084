"""Check (not a benchmark): a warm run's summaries equal a cold run's, every field, type for type.

Usage: `.venv/bin/python benchmarks/check_chaud_froid.py DOSSIER [REGISTRE.sqlite…] [--jobs 2]`

The folder is consolidated without a register (cold); then into a new register, and again from it
(every file taken from the register); then, for each register given (copied first: it is never
modified, e.g. the benchmark's register recorded before some files changed), from that register. Every `FileSummary` of each warm run must equal the
cold run's, field by field, with its values' types (`repr`). The same check on the shipped
examples is a test (`tests/test_register_reading.py`); this one runs on a département's 1,000
files, too slow for the suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acv_xl import __version__  # noqa: E402
from acv_xl.history.register import Register  # noqa: E402
from acv_xl.outputs.consolidation import consolidate  # noqa: E402


def _exactly(s) -> list:
    return [(f.name, repr(getattr(s, f.name))) for f in dataclasses.fields(s)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dossier", type=Path)
    ap.add_argument("registres", type=Path, nargs="*")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="acv-chaud-froid-"))
    try:
        cold = consolidate([args.dossier], work / "froid.xlsx", jobs=args.jobs)
        expected = [_exactly(f) for f in cold.files]
        fresh = work / "neuf.sqlite"
        with Register.open(fresh, __version__) as r:
            consolidate([args.dossier], work / "premier.xlsx", jobs=args.jobs, cache=r, record=r)
        failures = 0
        for reg in [fresh, *args.registres]:
            copy = work / "chaud.sqlite"
            shutil.copyfile(reg, copy)
            with Register.open(copy, __version__) as r:
                warm = consolidate([args.dossier], work / "chaud.xlsx", jobs=args.jobs, cache=r)
            same = [_exactly(f) for f in warm.files] == expected
            failures += not same
            print(f"{'identiques' if same else 'DIFFÉRENTS'} : {len(warm.files)} résumés, dont "
                  f"{len(warm.reused)} repris du registre {reg.name if reg != fresh else '(neuf)'}")
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
