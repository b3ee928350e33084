"""Benchmark: `acv-xl valider` on one example, whole process, against the peer baseline
`python -c "pandas.read_excel(f, sheet_name=None, engine='openpyxl')"` on the same file,
measured in the same run (the machine is shared and noisy: compare the ratio). Goal ≤ 0.5.

    .venv/bin/python benchmarks/bench_valider.py [FICHIER.xlsx] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("fichier", nargs="?")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    from _bytecode import ensure

    ensure()  # timed processes start as an installed package does (see _bytecode)
    if args.fichier:
        f = Path(args.fichier)
    else:
        tmp = Path(tempfile.mkdtemp())
        from acv_xl.outputs.examples import write_examples

        f = next(p for p in write_examples(tmp) if p.name == "arras.xlsx")
    ours = [sys.executable, "-m", "acv_xl", "valider", str(f), "--format", "json"]
    peer = [sys.executable, "-c", f"import pandas; pandas.read_excel({str(f)!r}, sheet_name=None, engine='openpyxl')"]
    wall(ours, 1), wall(peer, 1)  # warm the OS caches
    a, b = wall(ours, args.runs), wall(peer, args.runs)
    print(f"fichier : {f.name}")
    print(f"acv-xl valider (processus entier)        : {a * 1000:7.1f} ms")
    print(f"pandas.read_excel openpyxl (processus)   : {b * 1000:7.1f} ms")
    print(f"ratio acv-xl / pandas+openpyxl           : {a / b:7.2f}  (objectif ≤ 0,50)")


if __name__ == "__main__":
    main()
