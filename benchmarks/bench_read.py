"""How fast is the reader? ms per file, in the same run, for:

- `read_file` (FileSource: zip + calamine → Convention, what `valider` and `consolider` use),
  and its reading part alone (FileSource: every table and named cell, no model rows);
- openpyxl full load (`openpyxl.load_workbook`, the values only, nothing converted to a model);
- pandas `read_excel(sheet_name=None, engine="openpyxl")` (every sheet as a DataFrame).

Usage: `.venv/bin/python benchmarks/bench_read.py [FICHIER.xlsx…] [--repetitions 5] [--actions 60]`
Without files it writes a filled workbook with the template (`--actions` actions, 4 financing lines
each) in a temporary folder. The département batch reads ~1,000 files: multiply accordingly.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acv_xl.contract import layout  # noqa: E402
from acv_xl.contract.model import ROW_MODELS, Convention, build_named, build_row  # noqa: E402
from acv_xl.reading.read import read_file  # noqa: E402


def sample_convention(n_actions: int) -> Convention:
    conv = Convention()
    financeurs = ["ETAT", "CDC", "REGION", "COMMUNE"]
    actions, lines, indicateurs = [], [], []
    for k in range(n_actions):
        axe = k % 5 + 1
        num = f"{axe}.{k // 5 + 1}"
        actions.append({"numero": num, "intitule": f"Action {num} : requalification de l'îlot {k}", "axe": axe,
                        "maitre_ouvrage": "Ville d'Arras", "type_mo": "Commune", "maturite": "Mature",
                        "date_debut": date(2024, 1, 1), "date_fin": date(2026, 6, 30), "base": "HT",
                        "cout_total": 400000.0, "cosignataires": ";".join(financeurs)})
        for j, f in enumerate(financeurs):
            lines.append({"numero": num, "financeur": f, "dispositif": "DSIL" if f == "ETAT" else "",
                          "nature": "Autofinancement" if f == "COMMUNE" else "Subvention",
                          "annee": 2024 + j % 3, "montant": 100000.0, "statut": "Acquis",
                          "date_demande": date(2024, 3, 1), "commentaire": "Ligne de démonstration"})
        indicateurs.append({"numero": num, "indicateur": "Logements remis sur le marché", "unite": "logements",
                            "valeur_initiale": 0, "valeur_cible": 12, "annee_cible": 2026})
    for table, raws in (("T_Actions", actions), ("T_Financements", lines), ("T_Indicateurs", indicateurs)):
        cls, attr = ROW_MODELS[table]
        setattr(conv, attr, [build_row(cls, r) for r in raws])
    for name, value in {"acv_programme": "ACV 2", "acv_id": "ACV042", "acv_libelle": "Arras",
                        "acv_departement": "62", "acv_epci": "CU d'Arras", "acv_directeur_projet": "C. Martin",
                        "acv_date_convention": date(2023, 6, 1), "acv_date_fin_deploiement": date(2026, 12, 31)}.items():
        conv.names[name] = build_named(name, value)
    return conv


def source_only(path: Path) -> None:
    """The reading part of read_file, without building the model's rows."""
    from acv_xl.reading.source_file import FileSource

    with FileSource(path) as src:
        for t in layout.TABLES:
            src.table(t.name)
        for n in layout.NAMED_CELLS:
            src.named(n.name)


def timed(fn, files: list[Path], repetitions: int) -> float:
    """Median over repetitions of the mean ms per file."""
    runs = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        for f in files:
            fn(f)
        runs.append((time.perf_counter() - t0) * 1000 / len(files))
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Vitesse de lecture d'un classeur ACV (ms par fichier).")
    ap.add_argument("fichiers", nargs="*", type=Path)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--actions", type=int, default=60)
    args = ap.parse_args(argv)

    import openpyxl
    import pandas as pd

    warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
    with tempfile.TemporaryDirectory() as d:
        files = list(args.fichiers)
        if not files:
            from acv_xl.outputs import template

            path = Path(d) / "arras.xlsx"
            template.build_workbook(path, sample_convention(args.actions))
            files = [path]
        conv = read_file(files[0])
        print(f"{len(files)} fichier(s), {files[0].stat().st_size // 1024} Ko, "
              f"{len(conv.actions)} actions, {len(conv.financements)} lignes de financement ; "
              f"médiane de {args.repetitions} passes")
        results = {
            "read_file (zip + calamine → Convention)": timed(read_file, files, args.repetitions),
            "  dont FileSource seul (tableaux + noms)": timed(source_only, files, args.repetitions),
            "openpyxl.load_workbook (valeurs brutes)": timed(
                lambda f: openpyxl.load_workbook(f, data_only=True).close(), files, args.repetitions),
            'pandas.read_excel(engine="openpyxl")': timed(
                lambda f: pd.read_excel(f, sheet_name=None, engine="openpyxl"), files, args.repetitions),
        }
    base = results["read_file (zip + calamine → Convention)"]
    for label, ms in results.items():
        print(f"  {label:<45} {ms:8.1f} ms/fichier   ×{ms / base:5.1f}")
    print(f"  → 1 000 fichiers : {base:.0f} s avec read_file, "
          f"{results['openpyxl.load_workbook (valeurs brutes)']:.0f} s avec openpyxl (un cœur)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
