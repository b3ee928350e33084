"""ACT-13 (an abandoned action whose financing lines still count) reaches the finance officer and the
référent with the same words: the command line's report, the « Valider » button's Contrôles sheet,
the consolidation's Anomalies."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acceptance_support import acv
from acv_xl.checks.validate import validate_file
from acv_xl.contract import layout
from acv_xl.outputs.template import build_workbook
from conventions import build, clean_raw
from udfs import scripts
from xlwings_payload import payload_from_xlsx, remote_book


@pytest.fixture(scope="module")
def abandoned(tmp_path_factory) -> Path:
    """Action 2.1 « Abandonnée », its four lines left as they were (« Acquis »), one of them « Versé »."""
    raw = clean_raw()
    raw["T_Actions"][1]["maturite"] = "Abandonnée"
    next(lf for lf in raw["T_Financements"] if lf["numero"] == "2.1" and lf["dispositif"] == "DETR")["statut"] = "Versé"
    path = tmp_path_factory.mktemp("abandon") / "dossier" / "arras.xlsx"
    path.parent.mkdir()
    build_workbook(path, build(raw))
    return path


def _finding(path: Path):
    (f,) = [f for f in validate_file(path).findings if f.code == "ACT-13"]
    return f


def test_the_report_says_it_with_the_ecart(abandoned):
    f = _finding(abandoned)
    assert f.message == (
        "Action 2.1 : l'action est « Abandonnée », mais les lignes 7, 9 et 10 de la feuille Plan de financement "
        "(« Acquis ») restent comptées dans les financements pour 400 000,00 €, alors que le coût de l'action n'est "
        "plus compté. La ligne 8 « Versé » (100 000,00 €) reste comptée : cet argent a déjà été payé ; demandez à "
        "son financeur (ETAT) s'il doit être reversé, l'opération n'étant pas réalisée.")
    proc = acv("valider", str(abandoned))
    assert proc.returncode == 1, proc.stderr
    assert f"[ERREUR] ACT-13 G7 — {f.message}" in proc.stdout and f.suggestion in proc.stdout
    assert "écart : -500 000,00 €" in proc.stdout and "aucune erreur" not in proc.stdout


def test_the_button_writes_it_in_controles(abandoned):
    f = _finding(abandoned)
    book = remote_book(payload_from_xlsx(abandoned, include=scripts.INCLUDE))
    scripts.run_valider(book)
    written = [row for a in book.json()["actions"] if a["func"] == "setValues" for row in a["values"]]
    assert ["Erreur", "ACT-13", layout.T_FINANCEMENTS.sheet, "G7", "2.1", f.message, f.suggestion] in [
        [v[1:] if isinstance(v, str) and v.startswith("'") else v for v in row] for row in written]


def test_the_consolidation_lists_it_in_its_anomalies(abandoned, tmp_path):
    f = _finding(abandoned)
    out = tmp_path / "conso.xlsx"
    proc = acv("consolider", str(abandoned.parent), "-o", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    rows = [[c.value for c in r] for r in openpyxl.load_workbook(out)["Anomalies"].iter_rows()]
    head = next(i for i, r in enumerate(rows) if "Code" in r)
    idx = {h: j for j, h in enumerate(rows[head])}
    found = [(r[idx["Cellule"]], r[idx["Message"]]) for r in rows[head + 1:] if r[idx["Code"]] == "ACT-13"]
    assert found == [("G7", f.message)]
