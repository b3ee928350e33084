"""Benchmark of `acv-xl consolider` and `acv-xl historique` (not a test): N distinct workbooks.

    .venv/bin/python benchmarks/bench_consolider.py [--n 1000] [--jobs 2] [--rounds 5] [--pandas-rounds 5]
                                                    [--changed 10] [--history 20] [--profile]

1. Generation (fast, at the zip/XML level): the shipped examples are copied N times; in each copy
   the `acv_id` (shared string) is made unique and every amount of `Coût total (€)`,
   `Dépense subventionnable (€ HT)` and `Montant (€)` is multiplied by a small integer — integer
   factors keep every plan balanced to the cent, so each copy gets the same findings as its model.
   A register of every file is recorded, then `--changed` files are rewritten (the warm case); a
   second register holds `--history` consolidations of the N conventions (the historique case).
2. Rounds, interleaved (each one runs every case once, so that a load on this shared machine
   weighs on all of them alike); medians of wall and CPU time (CPU: this process and its waited
   children, i.e. the pools' workers and the subprocesses):
   - (a) the floor: python-calamine reading every sheet of every file, J processes;
   - (b) the peer: pandas `read_excel(sheet_name=None, engine="openpyxl")` of every file, J
     processes (the same number as `consolider`, every file: no extrapolation);
   - `acv-xl consolider DOSSIER -o … --jobs J` as a user runs it (a subprocess: start-up included),
     without register, with a new register, and with the register of every file but `--changed`;
   - `acv-xl historique` over the register of `--history` consolidations.
   Goals: cold ≤ 3.0 × (a) and ≤ 0.15 × (b); warm ≤ 0.6 × (a); the register adds ≤ 10 % to a
   cold run; historique < 2 s.
3. `--profile`: pyinstrument over the per-file work (`summarize`) of a sample, in one process.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
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


# ------------------------------------------------------------------ timings
@dataclass
class Timing:
    wall: float
    cpu: float  # user + system, this process and its (waited) children


def timed(fn, *args) -> tuple[Timing, Any]:
    """Wall and CPU time of `fn(*args)`: the CPU of this process plus that of every child process
    it waited for (the pools' workers, the subprocesses)."""
    def cpu() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    c0, t0 = cpu(), time.perf_counter()
    out = fn(*args)
    return Timing(time.perf_counter() - t0, cpu() - c0), out


def _calamine_chunk(paths: list[str]) -> int:
    from python_calamine import CalamineWorkbook

    cells = 0
    for p in paths:
        wb = CalamineWorkbook.from_path(p)
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python()
            cells += sum(len(r) for r in rows)
    return cells


def _pandas_chunk(paths: list[str]) -> int:
    import pandas as pd

    return sum(len(pd.read_excel(p, sheet_name=None, engine="openpyxl")) for p in paths)


def _pool(fn, paths: list[Path], jobs: int) -> None:
    chunks = [[str(p) for p in paths[i::jobs * 8]] for i in range(jobs * 8)]
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(fn, chunks))


def calamine_floor(paths: list[Path], jobs: int) -> None:
    """(a) python-calamine reading every sheet of every file, with `jobs` processes."""
    _pool(_calamine_chunk, paths, jobs)


def pandas_openpyxl(paths: list[Path], jobs: int) -> None:
    """(b) pandas `read_excel(sheet_name=None, engine="openpyxl")` of every file, `jobs` processes."""
    _pool(_pandas_chunk, paths, jobs)


def acv_xl(*args: str) -> tuple[int, str]:
    """`acv-xl ARGS…` in a subprocess, as a user runs it (start-up included): status, last line."""
    exe = ROOT / ".venv" / "bin" / "acv-xl"
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "acv_xl"]), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stderr.strip().splitlines()[-1] if proc.stderr else ""


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


# ------------------------------------------------------------------ the register's cases
def change(models: list[Model], paths: list[Path], k: int, seed: int) -> list[Path]:
    """Rewrite `k` of the files with other amounts (new content, same convention)."""
    changed = paths[:: max(1, len(paths) // k)][:k]
    for p in changed:
        i = paths.index(p)
        models[i % len(models)].write_copy(p, f"ACV{i % 1000:03d}" if len(paths) <= 1000 else f"ACV{i}",
                                           5 + (i + seed) % 3)
    return changed


def build_history(folder: Path, base_register: Path, out: Path, consolidations: int, jobs: int) -> None:
    """A register of `consolidations` consolidations of the folder: the first one real, the next ones
    the same summaries with one file in 20 changed each time (a line passing to « Acquis », a new
    content), recorded as `consolider --registre` records them."""
    import dataclasses
    from datetime import datetime, timedelta

    from acv_xl import __version__
    from acv_xl.checks.rules.consolidation import judge
    from acv_xl.history.register import Register
    from acv_xl.outputs.consolidation import consolidate
    from acv_xl.outputs.consolidation_result import ConsolidationResult

    shutil.copyfile(base_register, out)
    with Register.open(out, __version__) as reg:
        res = consolidate([folder], out.with_suffix(".xlsx"), jobs=jobs, cache=reg, record=reg,
                          comite="Comité n° 1")
        files = res.files
        for k in range(2, consolidations + 1):
            files = list(files)
            for i in range(k % 20, len(files), 20):
                f = files[i]
                lines = tuple(ln[:8] + ("Acquis",) + ln[9:] if ln[8] == "Sollicité" else ln for ln in f.lines)
                files[i] = dataclasses.replace(f, lines=lines, sha256=f"{k:04d}" + f.sha256[4:])
            r = ConsolidationResult(files, judge(files), comite=f"Comité n° {k}",
                                    genere_le=datetime(2026, 1, 1) + timedelta(days=30 * k))
            reg.record(r)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1000])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are printed)")
    ap.add_argument("--pandas-rounds", type=int, default=None,
                    help="rounds including pandas+openpyxl (default: every round; it is the slowest)")
    ap.add_argument("--changed", type=int, default=10, help="files changed since the register (warm case)")
    ap.add_argument("--history", type=int, default=20, help="consolidations in the historique's register")
    ap.add_argument("--profile", action="store_true", help="pyinstrument over 50 files, one process")
    ap.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = ap.parse_args()
    from _bytecode import ensure

    ensure()  # timed processes start as an installed package does (see _bytecode)

    from acv_xl.outputs.examples import write_examples

    pandas_rounds = args.rounds if args.pandas_rounds is None else args.pandas_rounds
    work = Path(tempfile.mkdtemp(prefix="acv-bench-"))
    j = str(args.jobs)
    try:
        examples = [p for p in write_examples(work / "exemples") if p.suffix.lower() in (".xlsx", ".xlsm")]
        print(f"{len(examples)} classeurs d'exemple ; {args.jobs} processus partout ; {os.cpu_count()} cœurs "
              f"visibles ; {args.rounds} tours entrelacés, médianes (temps écoulé / temps CPU)")
        for n in args.n:
            folder = work / f"n{n}"
            paths = generate(examples, folder, n)
            models = [Model(p) for p in examples]
            out = work / f"consolidation_{n}.xlsx"
            # the register of the warm case: every file recorded, then `changed` files rewritten
            base = work / f"registre_{n}.sqlite"
            acv_xl("consolider", str(folder), "-o", str(out), "--jobs", j, "--registre", str(base))
            hist = work / f"historique_{n}.sqlite"
            t_build = time.perf_counter()
            build_history(folder, base, hist, args.history, args.jobs)
            t_build = time.perf_counter() - t_build
            changed = change(models, paths, args.changed, seed=1)
            times: dict[str, list[Timing]] = {k: [] for k in ("cal", "pd", "froid", "froid+registre", "chaud",
                                                               "historique")}
            last = {}
            for rnd in range(args.rounds):
                times["cal"].append(timed(calamine_floor, paths, args.jobs)[0])
                t, (rc, last["froid"]) = timed(acv_xl, "consolider", str(folder), "-o", str(out), "--jobs", j)
                times["froid"].append(t)
                fresh = work / "registre_neuf.sqlite"
                fresh.unlink(missing_ok=True)
                t, (_, last["froid+registre"]) = timed(acv_xl, "consolider", str(folder), "-o", str(out), "--jobs", j,
                                                       "--registre", str(fresh))
                times["froid+registre"].append(t)
                warm = work / "registre_chaud.sqlite"
                shutil.copyfile(base, warm)  # every round: `changed` files new to the register
                t, (_, last["chaud"]) = timed(acv_xl, "consolider", str(folder), "-o", str(out), "--jobs", j,
                                              "--registre", str(warm))
                times["chaud"].append(t)
                t, (_, last["historique"]) = timed(acv_xl, "historique", str(hist), "-o", str(work / "evolution.xlsx"))
                times["historique"].append(t)
                if rnd < pandas_rounds:
                    times["pd"].append(timed(pandas_openpyxl, paths, args.jobs)[0])
                print(f"  tour {rnd + 1} : " + " ; ".join(f"{k} {v[-1].wall:.2f} s" for k, v in times.items() if v),
                      flush=True)

            def med(k: str) -> Timing:
                v = times[k]
                return Timing(statistics.median(t.wall for t in v), statistics.median(t.cpu for t in v))

            per = lambda t: f"{t / n * 1000:6.2f} ms/fichier"  # noqa: E731
            cal, cold, reg, warm, hist_t = med("cal"), med("froid"), med("froid+registre"), med("chaud"), \
                med("historique")
            print(f"\nN = {n}  ({len(times['cal'])} tours ; pandas+openpyxl : {len(times['pd'])} tours)")
            line = lambda name, t, extra="": print(  # noqa: E731
                f"  {name:<34} {t.wall:7.2f} s  CPU {t.cpu:7.2f} s  {per(t.wall)}  {extra}")
            line(f"(a) calamine, {args.jobs} proc.", cal)
            if times["pd"]:
                line(f"(b) pandas+openpyxl, {args.jobs} proc.", med("pd"))
            line("consolider (sans registre)", cold, last["froid"][:120])
            line("consolider --registre (neuf)", reg)
            line(f"consolider --registre ({args.changed} modifiés)", warm, last["chaud"][-60:])
            print(f"  historique, {args.history} consolidations de {n} conventions : {hist_t.wall:.2f} s "
                  f"(CPU {hist_t.cpu:.2f} s ; registre construit en {t_build:.1f} s)")
            # wall-time ratios (the goals), and the same with CPU time (steadier on a shared machine)
            print(f"  froid / (a)                = {cold.wall / cal.wall:5.2f}  (objectif ≤ 3,0 ; en temps CPU "
                  f"{cold.cpu / cal.cpu:5.2f})")
            if times["pd"]:
                pd_t = med("pd")
                print(f"  froid / (b)                = {cold.wall / pd_t.wall:5.3f}  (objectif ≤ 0,15, même "
                      f"nombre de processus ; en temps CPU {cold.cpu / pd_t.cpu:5.3f})")
            print(f"  chaud / (a)                = {warm.wall / cal.wall:5.2f}  (objectif ≤ 0,6 ; en temps CPU "
                  f"{warm.cpu / cal.cpu:5.2f})")
            print(f"  surcoût du registre à froid = {(reg.wall / cold.wall - 1) * 100:+5.1f} %  (objectif ≤ 10 % ; "
                  f"en temps CPU {(reg.cpu / cold.cpu - 1) * 100:+5.1f} %)")
            print(f"  historique                 = {hist_t.wall:5.2f} s  (objectif < 2 s)")
            # in-process phases of one cold and one warm run (where the time goes)
            from acv_xl import __version__
            from acv_xl.history.register import Register
            from acv_xl.outputs.consolidation import consolidate

            r = consolidate([folder], work / "phases.xlsx", jobs=args.jobs)
            print("  étapes à froid (en processus) : " + " ; ".join(f"{k} {v:.2f} s" for k, v in r.phases.items()))
            shutil.copyfile(base, work / "registre_phases.sqlite")
            with Register.open(work / "registre_phases.sqlite", __version__) as rg:
                r = consolidate([folder], work / "phases.xlsx", jobs=args.jobs, cache=rg, record=rg)
            print("  étapes à chaud (en processus) : " + " ; ".join(f"{k} {v:.2f} s" for k, v in r.phases.items()))
            _ = changed
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
