"""Benchmark of `acv-xl consolider` (not a test): N distinct workbooks, three ways of reading them.

    .venv/bin/python benchmarks/bench_consolider.py [--n 400 1000] [--jobs 2] [--pandas-sample 60] [--profile]

1. Generation (fast, at the zip/XML level): the shipped examples are copied N times; in each copy
   the `acv_id` (shared string) is made unique and every amount of `Coût total (€)`,
   `Dépense subventionnable (€ HT)` and `Montant (€)` is multiplied by a small integer — integer
   factors keep every plan balanced to the cent, so each copy gets the same findings as its model.
2. Timings, wall clock, on the same files:
   - `acv-xl consolider DOSSIER -o … --jobs J` as a user runs it (a subprocess: start-up included);
   - (a) the floor: python-calamine reading every sheet of every file with J processes;
   - (b) pandas `read_excel(sheet_name=None, engine="openpyxl")` of every sheet, on a sample of
     files in one process, extrapolated per file to N (said in the output).
   Goals: consolidation / (a) ≤ 2.0 and consolidation / (b) ≤ 0.15.
3. `--profile`: pyinstrument over the per-file work (`summarize`) of a sample, in one process,
   to see where the time goes (the reader, the model, the rules, the summary).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from xml.etree import ElementTree as ET

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from acv_xl.contract import layout  # noqa: E402
from acv_xl.reading.source import col_letter, parse_range  # noqa: E402

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
SCALED = {  # table → attrs whose amounts are scaled
    layout.T_ACTIONS.name: ("cout_total", "depense_subventionnable"),
    layout.T_FINANCEMENTS.name: ("montant",),
}


# ------------------------------------------------------------------ generation
class Model:
    """One example workbook, its zip entries in memory, and where its scaled amounts are."""

    def __init__(self, path: Path):
        with zipfile.ZipFile(path) as z:
            self.entries = [(i, z.read(i.filename)) for i in z.infolist()]
        parts = {i.filename: data for i, data in self.entries}
        # sheet name → part, through workbook.xml and its rels
        wb = ET.fromstring(parts["xl/workbook.xml"])
        rels = ET.fromstring(parts["xl/_rels/workbook.xml.rels"])
        target = {r.get("Id"): r.get("Target") for r in rels.findall("rel:Relationship", NS)}
        sheet_part = {}
        for s in wb.find("m:sheets", NS):
            t = target[s.get(f"{{{NS['r']}}}id")]
            sheet_part[s.get("name")] = "xl/" + t.lstrip("/").removeprefix("xl/")
        # table parts: name, ref, header texts → the columns to scale, per sheet part
        self.cells: dict[str, set[str]] = {}
        for name, data in parts.items():
            if not name.startswith("xl/tables/table"):
                continue
            t = ET.fromstring(data)
            tname = t.get("name")
            if tname not in SCALED:
                continue
            table = layout.TABLES_BY_NAME[tname]
            headers = [c.get("name") for c in t.find("m:tableColumns", NS)]
            r1, c1, r2, _ = parse_range(t.get("ref"))
            part = sheet_part[table.sheet]
            for attr in SCALED[tname]:
                h = table.header(attr)
                if h in headers:
                    col = col_letter(c1 + headers.index(h))
                    self.cells.setdefault(part, set()).update(f"{col}{r}" for r in range(r1 + 1, r2 + 1))
        self.acv_id = self._shared_acv_id(parts, sheet_part)

    @staticmethod
    def _shared_acv_id(parts, sheet_part) -> str | None:
        nc = layout.NAMED_BY_NAME["acv_id"]
        xml = parts[sheet_part[nc.sheet]].decode("utf-8")
        m = re.search(rf'<c r="{nc.cell}"[^>]*t="s"[^>]*><v>(\d+)</v>', xml)
        if not m or "xl/sharedStrings.xml" not in parts:
            return None
        sst = ET.fromstring(parts["xl/sharedStrings.xml"])
        si = list(sst)[int(m.group(1))]
        return "".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t"))

    def write_copy(self, out: Path, acv_id: str, factor: int) -> None:
        cell_re = re.compile(r'(<c r="([A-Z]+\d+)"(?: [^>]*)?>)(?:<f>[^<]*</f>)?<v>([-0-9.Ee+]+)</v>')

        def scale(part: str, xml: bytes) -> bytes:
            wanted = self.cells.get(part)
            if not wanted or factor == 1:
                return xml
            text = xml.decode("utf-8")

            def sub(m):
                if m.group(2) not in wanted or ' t="' in m.group(1):
                    return m.group(0)
                v = round(float(m.group(3)) * 100) * factor / 100
                return m.group(0).replace(f"<v>{m.group(3)}</v>", f"<v>{v!r}</v>")

            return cell_re.sub(sub, text).encode("utf-8")

        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            for info, data in self.entries:
                if info.filename == "xl/sharedStrings.xml" and self.acv_id:
                    data = data.replace(f">{self.acv_id}<".encode(), f">{acv_id}<".encode(), 1)
                else:
                    data = scale(info.filename, data)
                z.writestr(info, data)


def generate(examples: list[Path], folder: Path, n: int) -> list[Path]:
    """N distinct workbooks in sub-folders of 50 (as on a shared drive)."""
    models = [Model(p) for p in examples]
    paths = []
    for i in range(n):
        m = models[i % len(models)]
        sub = folder / f"lot{i // 50:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        p = sub / f"convention_{i:04d}.xlsx"
        m.write_copy(p, f"ACV{i % 1000:03d}" if n <= 1000 else f"ACV{i}", 1 + i % 4)
        paths.append(p)
    return paths


# ------------------------------------------------------------------ baselines
def _calamine_chunk(paths: list[str]) -> int:
    from python_calamine import CalamineWorkbook

    cells = 0
    for p in paths:
        wb = CalamineWorkbook.from_path(p)
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python()
            cells += sum(len(r) for r in rows)
    return cells


def calamine_floor(paths: list[Path], jobs: int) -> float:
    t0 = time.perf_counter()
    chunks = [[str(p) for p in paths[i::jobs * 8]] for i in range(jobs * 8)]
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_calamine_chunk, chunks))
    return time.perf_counter() - t0


def pandas_openpyxl(paths: list[Path]) -> float:
    import pandas as pd

    t0 = time.perf_counter()
    for p in paths:
        pd.read_excel(p, sheet_name=None, engine="openpyxl")
    return time.perf_counter() - t0


def consolider(target: Path, out: Path, jobs: int) -> tuple[float, int, str]:
    """`acv-xl consolider TARGET` (a folder or one file) in a subprocess: wall time, status, last line."""
    exe = ROOT / ".venv" / "bin" / "acv-xl"
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "acv_xl"]),
           "consolider", str(target), "-o", str(out), "--jobs", str(jobs)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode, proc.stderr.strip().splitlines()[-1] if proc.stderr else ""


def profile(paths: list[Path]) -> None:
    from pyinstrument import Profiler

    from acv_xl.outputs.consolidation import summarize

    summarize(str(paths[0]), "warm-up")  # imports out of the picture
    prof = Profiler(interval=0.0005)
    prof.start()
    for p in paths:
        summarize(str(p), p.name)
    prof.stop()
    print(prof.output_text(unicode=True, color=False, show_all=False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[400, 1000])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--pandas-sample", type=int, default=60, help="files read by pandas+openpyxl (extrapolated)")
    ap.add_argument("--profile", action="store_true", help="pyinstrument over 50 files, one process")
    ap.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = ap.parse_args()
    from _bytecode import ensure

    ensure()  # timed processes start as an installed package does (see _bytecode)

    from acv_xl.outputs.examples import write_examples

    work = Path(tempfile.mkdtemp(prefix="acv-bench-"))
    try:
        examples = [p for p in write_examples(work / "exemples") if p.suffix.lower() in (".xlsx", ".xlsm")]
        print(f"{len(examples)} classeurs d'exemple ; {args.jobs} processus ; {os.cpu_count()} cœurs visibles")
        for n in args.n:
            folder = work / f"n{n}"
            t0 = time.perf_counter()
            paths = generate(examples, folder, n)
            gen = time.perf_counter() - t0
            t_cons, rc, last = consolider(folder, work / f"consolidation_{n}.xlsx", args.jobs)
            from acv_xl.outputs.consolidation import consolidate

            r = consolidate([folder], work / f"consolidation_{n}_b.xlsx", jobs=args.jobs)  # same, in-process: phases
            phases = " ; ".join(f"{k} {v:.2f} s" for k, v in r.phases.items())
            # start-up (interpreter, imports, pool): the command on one file, minus that file's own work
            t_one, _, _ = consolider(paths[0], work / "consolidation_1.xlsx", 1)
            r_one = consolidate([paths[0]], work / "consolidation_1_b.xlsx", jobs=1)
            startup = t_one - r_one.duree
            t_cal = calamine_floor(paths, args.jobs)
            sample = paths[: min(n, args.pandas_sample)]
            t_pd = pandas_openpyxl(sample) / len(sample) * n
            per = lambda t: f"{t / n * 1000:6.2f} ms/fichier"  # noqa: E731
            print(f"\nN = {n}  (génération {gen:.1f} s, {per(gen)})")
            print(f"  acv-xl consolider      {t_cons:7.2f} s  {per(t_cons)}  (statut {rc})  {last[:160]}")
            print(f"      étapes (en processus, hors démarrage) : {phases}")
            print(f"      démarrage (interpréteur et imports) ≈ {startup:.2f} s")
            print(f"  (a) calamine, {args.jobs} proc.   {t_cal:7.2f} s  {per(t_cal)}")
            print(f"  (b) pandas+openpyxl    {t_pd:7.2f} s  {per(t_pd)}  (extrapolé de {len(sample)} fichiers, 1 proc.)")
            print(f"  ratio / (a) = {t_cons / t_cal:5.2f}  (objectif ≤ 2,0)   ratio / (b) = {t_cons / t_pd:5.3f}  "
                  "(objectif ≤ 0,15)")
            # what the command costs before reading a single file: the bound below which the
            # ratio to (a) cannot go, whatever the reading and the rules cost
            fixed = startup + r.phases.get("écriture du classeur", 0.0)
            print(f"  démarrage + écriture du classeur = {fixed:.2f} s, soit {fixed / t_cal:4.2f} × (a) à eux seuls")
        if args.profile:
            paths = sorted((work / f"n{args.n[0]}").rglob("*.xlsx"))[:50]
            profile(paths)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"fichiers conservés : {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
