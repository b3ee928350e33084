"""Benchmark (not a test): `acv-xl comparer` of two 500-action / 5,000-line workbooks against
`acv-xl valider` of the same two files, whole processes, measured in the same run. Goal ≤ 1.3:
the comparison itself should cost little next to reading the two files.

    .venv/bin/python benchmarks/bench_comparer.py [--actions 500] [--lignes 10] [--rounds 7]

The two workbooks are built as in `bench_udfs.py` (a clean example scaled up); the second is an
avenant of the first: rows re-sorted, one amount in ten changed, 20 lines removed, 20 added. The
rounds interleave the two commands (the machine is shared and noisy) and the medians are compared.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_udfs import big_convention  # noqa: E402


def avenant(conv, seed: int = 1):
    """The same convention after an avenant: re-sorted, amounts changed, lines removed and added."""
    from acv_xl.contract.model import LigneFinancement, build_row

    rnd = random.Random(seed)
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in conv.financements]
    for k in range(0, len(lines), 10):
        lines[k] = build_row(LigneFinancement, {**lines[k].raw, "montant": float(lines[k].montant) + 1000})
    added = [build_row(LigneFinancement, {**lines[k].raw, "annee": 2030}) for k in range(20)]
    lines = lines[20:] + added
    rnd.shuffle(lines)
    return conv.model_copy(update={"financements": lines})


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=500)
    ap.add_argument("--lignes", type=int, default=10, help="lignes de financement par action")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    from _bytecode import ensure

    from acv_xl.outputs.template import build_workbook

    ensure()  # timed processes start as an installed package does (see _bytecode)
    with tempfile.TemporaryDirectory() as tmp:
        name, conv = big_convention(args.actions, args.lignes)
        a, b = Path(tmp) / "avant.xlsx", Path(tmp) / "apres.xlsx"
        build_workbook(a, conv)
        build_workbook(b, avenant(conv))
        run = [sys.executable, "-m", "acv_xl"]
        comparer = run + ["comparer", str(a), str(b), "--format", "json"]
        valider = run + ["valider", str(a), str(b), "--format", "json"]
        out = subprocess.run(comparer, capture_output=True, text=True)
        import json

        n = len(json.loads(out.stdout)["changements"])
        wall(comparer), wall(valider)  # warm the OS caches
        tc, tv = [], []
        for _ in range(args.rounds):  # interleaved: a noisy neighbour weighs on both alike
            tc.append(wall(comparer))
            tv.append(wall(valider))
        c, v = statistics.median(tc), statistics.median(tv)
    print(f"classeurs : {args.actions} actions, {args.actions * args.lignes} lignes de financement "
          f"(à partir de {name}) ; {n} changements")
    print(f"acv-xl comparer AVANT APRES (processus entier)   : {c * 1000:7.0f} ms")
    print(f"acv-xl valider AVANT APRES (processus entier)    : {v * 1000:7.0f} ms")
    print(f"ratio comparer / valider des deux fichiers       : {c / v:7.2f}  (objectif ≤ 1,30)")


if __name__ == "__main__":
    main()
