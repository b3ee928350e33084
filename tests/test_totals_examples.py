"""The JSON report's totals on every shipped example equal an independent computation: pandas
reading the sheets itself (no acv_xl reader, no acv_xl totals), grouped by financeur, axe, année
and statut, in cents."""

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from acv_xl.contract import layout

ROOT = Path(__file__).resolve().parents[1]
EXEMPLES = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))
FIN, ACT = layout.T_FINANCEMENTS, layout.T_ACTIONS


def _sheet(path: Path, table: layout.Table) -> pd.DataFrame:
    header_row = int(table.anchor[1:]) - 1  # the template's anchor: the examples keep it
    df = pd.read_excel(path, sheet_name=table.sheet, header=header_row, engine="openpyxl")
    return df.dropna(how="all")


def _cents(v) -> int | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
        return int((Decimal(str(v)) * 100).to_integral_value())
    return None  # text typed in an amount cell counts nowhere (the validator reports it)


def _independent(path: Path) -> dict:
    fin, act = _sheet(path, FIN), _sheet(path, ACT)
    fin = fin[fin[FIN.header("statut")] != layout.STATUT_REFUSE].copy()
    fin["cents"] = fin[FIN.header("montant")].map(_cents)
    fin = fin[fin["cents"].notna()]
    axes = {str(n): str(a).split()[-1] for n, a in zip(act[ACT.header("numero")], act[ACT.header("axe")])}
    fin["axe"] = fin[FIN.header("numero")].astype(str).map(axes)
    fin["annee"] = fin[FIN.header("annee")].map(lambda y: str(int(y)))

    def group(col):
        return {str(k): v / 100 for k, v in fin.groupby(col)["cents"].sum().items()}

    live = act[act[ACT.header("maturite")] != layout.MATURITE_ABANDONNEE]
    return {
        "cout_total": sum(_cents(v) or 0 for v in live[ACT.header("cout_total")]) / 100,
        "par_financeur": group(FIN.header("financeur")),
        "par_axe": group("axe"),
        "par_annee": group("annee"),
        "par_statut": group(FIN.header("statut")),
    }


def test_examples_are_shipped():
    assert len(EXEMPLES) == 6  # the six conventions of the Pas-de-Calais (two binômes)


@pytest.mark.parametrize("path", EXEMPLES, ids=[p.name for p in EXEMPLES])
def test_json_totals_equal_pandas(path):
    out = subprocess.run([sys.executable, "-m", "acv_xl", "valider", str(path), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, 1), out.stderr
    totaux = json.loads(out.stdout)["totaux"]
    expected = _independent(path)
    for key, value in expected.items():
        assert totaux[key] == value, key
