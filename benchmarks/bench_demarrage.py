"""Benchmark of start-up and exit (not a test): whole `acv-xl` processes, as a user starts them.

    .venv/bin/python benchmarks/bench_demarrage.py [--rounds 7] [--contre AUTRE_ARBRE]

A département has a handful of conventions: for most runs, starting the interpreter, importing,
forking the workers and ending the process are most of the time. Cases, each a new process
(`python -m acv_xl …`, start-up and exit included):
- `acv-xl --help`;
- `valider EXEMPLE --format json`, one shipped example, then one holding findings (their schema
  built: pydantic's validators, and its plugin search unless `contract.pydantic_plugins` stands in);
- `consolider` of the 6 shipped examples, cold (no register);
- `consolider --registre` of the same folder where the register knows 5 of them (warm: 1 read).
Medians of wall and CPU time (the process and its workers) over interleaved rounds.
`--contre`: another copy of the code (a checkout of `main`, say), run in the same rounds, so that
a load on this shared machine weighs on both alike. The code is compiled to byte-code first
(`_bytecode`), as an installed package is.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu_children() -> float:
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return c.ru_utime + c.ru_stime


def run(tree: Path, args: list[str], before=None) -> tuple[float, float]:
    """Wall and CPU time of `python -m acv_xl ARGS…` with `tree` first on the path (run from a
    folder that holds no copy of the code: `-m` puts the current folder before PYTHONPATH)."""
    if before is not None:
        before(tree)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    c0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "acv_xl", *args], env=env, cwd=tempfile.gettempdir(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall, cpu = time.perf_counter() - t0, _cpu_children() - c0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{tree} : acv-xl {' '.join(args)} → {proc.returncode}\n{proc.stderr.decode()[-2000:]}")
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--contre", type=Path, help="autre copie du code, mesurée dans les mêmes tours")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _bytecode import ensure

    ensure()
    trees = [ROOT] + ([args.contre.resolve()] if args.contre else [])
    if args.contre:
        import compileall

        for package in ("acv_xl", "udfs"):
            compileall.compile_dir(args.contre / package, quiet=1)
    sys.path.insert(0, str(ROOT))
    from acv_xl.outputs.examples import write_examples

    work = Path(tempfile.mkdtemp(prefix="acv-demarrage-"))
    try:
        examples = sorted(write_examples(work / "exemples"))
        from acv_xl.checks.validate import validate_file

        with_findings = next(p for p in examples if validate_file(p).findings)
        # the register of the first 5, recorded once by each copy of the code (another copy's rules
        # version differs when its reading or checking code does: it would read all 6 again);
        # each warm run starts from a copy of its own
        first5 = work / "cinq"
        first5.mkdir()
        for p in examples[:5]:
            shutil.copy(p, first5 / p.name)
        recorded = {tree: work / f"registre_5_{i}.sqlite" for i, tree in enumerate(trees)}
        for tree, register in recorded.items():
            run(tree, ["consolider", str(first5), "-o", str(work / "r.xlsx"), "--registre", str(register)])
        cases = {
            "acv-xl --help": (["--help"], None),
            "valider (1 exemple, JSON)": (["valider", str(examples[0]), "--format", "json"], None),
            "valider (1 exemple avec constats, JSON)": (["valider", str(with_findings), "--format", "json"], None),
            "consolider 6 exemples, à froid": (["consolider", str(work / "exemples"), "-o", str(work / "c.xlsx"),
                                                "--remplacer"], None),
            "consolider --registre, 1 lu sur 6": (
                ["consolider", str(work / "exemples"), "-o", str(work / "c.xlsx"), "--remplacer",
                 "--registre", str(work / "w.sqlite")],
                lambda tree: shutil.copy(recorded[tree], work / "w.sqlite")),
        }
        results: dict[tuple[str, Path], list[tuple[float, float]]] = {(c, t): [] for c in cases for t in trees}
        for r in range(args.rounds):
            for name, (cmd, before) in cases.items():
                for tree in trees if r % 2 == 0 else trees[::-1]:
                    results[(name, tree)].append(run(tree, cmd, before))
        print(f"médianes de {args.rounds} tours entrelacés (temps écoulé / temps de calcul, processus et workers)")
        for name in cases:
            for tree in trees:
                rows = results[(name, tree)]
                wall = statistics.median(w for w, _ in rows) * 1000
                cpu = statistics.median(c for _, c in rows) * 1000
                label = "cet arbre" if tree == ROOT else str(tree)
                print(f"  {name:40s} {label:24s} {wall:7.0f} ms / {cpu:7.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
