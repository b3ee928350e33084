"""The register of a département (`consolider --registre`), `acv-xl historique`, the per-financeur
extracts, readiness and the consolidation's numbers.

Expected values are computed independently of the code under test: the consolidated workbooks'
`Lignes` read back with pandas, SQLite's own integrity check, openpyxl cell by cell.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from acv_xl import __version__
from acv_xl.checks.rules.consolidation import LINE_FIELDS, FileSummary, judge
from acv_xl.checks.totals import Totaux
from acv_xl.checks.validate import validate_file
from acv_xl.cli import main
from acv_xl.contract import layout
from acv_xl.contract.model import FicheAction, LigneFinancement, build_row
from acv_xl.history import register as R
from acv_xl.outputs import consolidation as C
from acv_xl.outputs.consolidation_result import AVANCEE, EN_COURS, MOINS_PRETE, preparation
from acv_xl.outputs.consolidation_workbook import Feuille, H
from _register_copies import utf16_copy
from cpu_time import growth

ROOT = Path(__file__).resolve().parents[1]
ACV_XL = [sys.executable, "-m", "acv_xl"]
INCONNU = "code inconnu"


def _groupe(code) -> str:
    return code if code in layout.FINANCEURS_BY_CODE else INCONNU


def _write(conv, path: Path) -> None:
    from acv_xl.outputs.template import build_workbook

    build_workbook(path, conv)


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    from acv_xl.outputs.examples import example_conventions, write_examples

    root = tmp_path_factory.mktemp("exemples")
    paths = write_examples(root)
    return {"paths": sorted(paths), "convs": example_conventions()}


def _folder(tmp_path: Path, examples, name: str = "62") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for p in examples["paths"]:
        shutil.copy2(p, folder / p.name)
    return folder


def _region(tmp_path: Path, examples) -> tuple[Path, Path, Path]:
    """(a folder « région », its folder of the 62's examples, its « 59 » of two Nord conventions)."""
    region = tmp_path / "région"
    region.mkdir()
    return region, _folder(region, examples), _nord(region, examples)


def _region_with_62_extracts(tmp_path: Path, examples) -> tuple[Path, Path, Path, Path]:
    """`_region`, the 62 consolidated with its extracts in « région/extraits » (the 4th path)."""
    region, pas_de_calais, nord = _region(tmp_path, examples)
    dossier = region / "extraits"
    assert _run("consolider", pas_de_calais, "-o", region / "c62.xlsx", "--departement", "62",
                "--par-financeur", dossier, "--jobs", "1") in (0, 1)
    return region, pas_de_calais, nord, dossier


def _nord(parent: Path, examples) -> Path:
    """A folder « 59 » in `parent` holding two conventions of the Nord (the first two examples, their
    identifiers and département changed)."""
    folder = parent / "59"
    folder.mkdir()
    for k, p in enumerate(examples["paths"][:2]):
        conv = examples["convs"][p.name].model_copy(deep=True)
        conv.set_value("acv_id", f"ACV99{k}")
        conv.set_value("acv_departement", "59")
        _write(conv, folder / f"nord{k}.xlsx")
    return folder


def _edited_by_hand(tmp_path: Path, examples, sql: str) -> tuple[Path, Path]:
    """(folder, register) of one consolidation of the examples, then `sql` run on the register as an
    SQLite tool would."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1")
    con = sqlite3.connect(reg)
    con.executescript(sql)
    con.commit()
    con.close()
    return folder, reg


def _refused_by_historique(tmp_path: Path, examples, capsys, sql: str) -> str:
    """What `historique` says (stderr) of a register edited by `sql`: refused (status 2), no workbook
    written, the register as it was."""
    _, reg = _edited_by_hand(tmp_path, examples, sql)
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 2
    assert not (tmp_path / "e.xlsx").exists() and reg.read_bytes() == before
    return capsys.readouterr().err


def _run(*args: str) -> int:
    return main([str(a) for a in args])


def _table(out: Path, sheet: str) -> pd.DataFrame:
    """A sheet's first table (header on row 3), down to its total row or first empty row."""
    df = pd.read_excel(out, sheet_name=sheet, header=2, engine="openpyxl", dtype=object)
    first = df.columns[0]
    end = df.index[df[first].isna() | (df[first] == "Total")]
    return (df.iloc[:end[0]] if len(end) else df).reset_index(drop=True)


def _lignes(out: Path) -> pd.DataFrame:
    df = pd.read_excel(out, sheet_name=Feuille.LIGNES, header=2, engine="openpyxl", dtype=object)
    df = df[df[H.ACV_ID] != "Total"]
    return df[df[H.COMPTE] == "Oui"]


def _cells(path: Path) -> dict:
    """Every cell of every sheet (the subtitle with the generation time left out)."""
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None and not (c.row == 2 and c.column == 1):
                    out[(ws.title, c.coordinate)] = c.value
        out[(ws.title, "tables")] = sorted((t.name, t.ref) for t in ws.tables.values())
    return out


def _interruptible(script: str) -> subprocess.CompletedProcess:
    """`python -c script` whose Ctrl-C (a SIGINT it sends itself) stops it as at a terminal. A program
    started in the background by a non-interactive shell (`cmd &`, a CI runner's) inherits SIGINT
    ignored, and Python keeps it so: the Ctrl-C, never delivered, let the run wait its 30 s out."""
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _dump(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def _integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


# ------------------------------------------------------------------ the register as a cache
def test_warm_run_equals_cold_run_cell_by_cell_and_reads_only_what_changed(tmp_path, examples, monkeypatch):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "froid.xlsx", "--jobs", "1") in (0, 1)
    assert _run("consolider", folder, "-o", tmp_path / "premier.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    # a warm run reads no workbook at all: the validator would fail if it were called
    calls = []
    real = C._validate
    monkeypatch.setattr(C, "_validate", lambda p, data=None: calls.append(p) or real(p, data))
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "chaud.xlsx", jobs=1, cache=r, record=r)
    assert calls == [] and result.reused == {p.name for p in folder.iterdir()}
    cold, warm = _cells(tmp_path / "froid.xlsx"), _cells(tmp_path / "chaud.xlsx")
    assert warm == cold
    # one workbook changes: only it is read again, and the result is still the cold one's
    conv = examples["convs"][examples["paths"][0].name].model_copy(deep=True)
    conv.set_value("acv_libelle", "Arras (nouvelle version)")
    _write(conv, folder / examples["paths"][0].name)
    calls.clear()
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "chaud2.xlsx", jobs=1, cache=r, record=r)
    assert [Path(p).name for p in calls] == [examples["paths"][0].name]
    assert examples["paths"][0].name not in result.reused
    monkeypatch.undo()
    assert _run("consolider", folder, "-o", tmp_path / "froid2.xlsx", "--jobs", "1") in (0, 1)
    assert _cells(tmp_path / "chaud2.xlsx") == _cells(tmp_path / "froid2.xlsx")
    con = sqlite3.connect(reg)
    relus = con.execute("SELECT consolidation_id, SUM(relu) FROM fichiers GROUP BY 1 ORDER BY 1").fetchall()
    assert relus == [(1, len(examples["paths"])), (2, 0), (3, 1)]
    assert con.execute("SELECT COUNT(*) FROM analyses").fetchone()[0] == len(examples["paths"]) + 1
    con.close()


def test_a_summary_judged_with_another_list_of_communes_is_never_reused(tmp_path, examples, capsys):
    """`--reference` (or `ACV_XL_REFERENCE`) changes the verdicts (PRJ-06 for a convention absent from
    the list, the list's name in the messages): a warm run with another list than the summaries'
    read every file again, and gives the cold run's workbook with that list."""
    from acv_xl.contract.reference import SHIPPED

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    rows = SHIPPED.read_text(encoding="utf-8").splitlines(keepends=True)
    liste = tmp_path / "liste.csv"
    liste.write_text("".join(r for r in rows if not r.startswith("ACV014,")), encoding="utf-8")
    copie = tmp_path / "copie.csv"
    copie.write_text("".join(rows), encoding="utf-8")
    n = len(examples["paths"])

    def run(out, *more):
        assert _run("consolider", folder, "-o", tmp_path / out, "--jobs", "1", *more) in (0, 1)
        return capsys.readouterr().err

    run("froid.xlsx", "--reference", liste)
    assert f"{n} fichiers lus" in run("a.xlsx", "--registre", reg)
    assert f"{n} fichiers lus" in run("b.xlsx", "--registre", reg, "--reference", liste)
    assert _cells(tmp_path / "b.xlsx") == _cells(tmp_path / "froid.xlsx")
    assert "PRJ-06" in [c for (sheet, _), c in _cells(tmp_path / "b.xlsx").items() if sheet == Feuille.ANOMALIES]
    assert f"{n} fichiers inchangés repris du registre" in run("c.xlsx", "--registre", reg, "--reference", liste)
    assert _cells(tmp_path / "c.xlsx") == _cells(tmp_path / "froid.xlsx")
    # back to the shipped list: its own summaries again, never those judged with the other list
    assert f"{n} fichiers inchangés repris du registre" in run("d.xlsx", "--registre", reg)
    assert _cells(tmp_path / "d.xlsx") == _cells(tmp_path / "a.xlsx")
    # a copy of the shipped list under another name is cited by that name: its own summaries too
    assert f"{n} fichiers lus" in run("e.xlsx", "--registre", reg, "--reference", copie)


def test_the_line_says_how_many_files_were_read_and_how_many_came_from_the_register(tmp_path, examples, capsys):
    """« 6 fichiers lus » then « 5 fichiers inchangés repris du registre » said both that every
    file was read and that five were not: the line now counts each once, and says the run was
    recorded. The workbook's own summary (its properties) stays the cold run's."""
    folder = _folder(tmp_path, examples)
    reg, n = tmp_path / "r.sqlite", len(examples["paths"])
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    err = capsys.readouterr().err
    assert f"Consolidation : {n} fichiers lus, {n} conventions comptées" in err
    assert "repris du registre" not in err and "; enregistrée dans le registre (" in err
    conv = examples["convs"][examples["paths"][0].name].model_copy(deep=True)
    conv.set_value("acv_libelle", "Arras (nouvelle version)")
    _write(conv, folder / examples["paths"][0].name)
    assert _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    err = capsys.readouterr().err
    assert f"Consolidation : {n} fichiers (1 lu, {n - 1} inchangés repris du registre), {n} conventions" in err
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--jobs", "1") in (0, 1)
    assert "enregistrée" not in capsys.readouterr().err
    comments = {openpyxl.load_workbook(tmp_path / f"{x}.xlsx").properties.description for x in "bc"}
    assert len(comments) == 1 and f"{n} fichiers lus" in comments.pop()
    # nor does the workbook's Fichiers sheet claim they were all read (it is the same, warm or cold)
    assert openpyxl.load_workbook(tmp_path / "b.xlsx")[Feuille.FICHIERS]["A1"].value == "Fichiers trouvés"


def test_the_same_content_in_two_places_keeps_each_its_own_path_when_warm(tmp_path, examples):
    """Two files of one content share one analysis in the register; a warm run gives each file its
    own summary (its path, size and time), as a cold run does."""
    folder = _folder(tmp_path, examples)
    (folder / "copie").mkdir()
    shutil.copy2(examples["paths"][0], folder / "copie" / examples["paths"][0].name)
    reg = tmp_path / "registre.sqlite"
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "premier.xlsx", jobs=1, cache=r, record=r)
    with R.Register.open(reg, __version__) as r:
        warm = C.consolidate([folder], tmp_path / "chaud.xlsx", jobs=1, cache=r, record=r)
    cold = C.consolidate([folder], tmp_path / "froid.xlsx", jobs=1)
    assert len(warm.reused) == len(cold.files) == len(examples["paths"]) + 1
    where = lambda r: [(f.path, f.rel, f.size, f.mtime) for f in r.files]  # noqa: E731
    assert where(warm) == where(cold)
    twins = [f for f in warm.files if Path(f.path).name == examples["paths"][0].name]
    assert len(twins) == 2 and twins[0] is not twins[1] and twins[0].sha256 == twins[1].sha256
    assert _cells(tmp_path / "chaud.xlsx") == _cells(tmp_path / "froid.xlsx")


def test_a_summary_comes_back_exactly_from_its_json(examples):
    s = max((C.summarize(str(p), "b.xlsx") for p in examples["paths"]), key=lambda x: len(x.findings))
    assert s.lines and s.findings and s.actions and s.totaux is not None
    back = R.load_summary(R.dump_summary(s), path=s.path, rel=s.rel)
    back.size, back.mtime = s.size, s.mtime
    assert back == s
    # the types survive, not only the values
    assert [type(v) for ln in back.lines for v in ln] == [type(v) for ln in s.lines for v in ln]
    assert type(back.totaux.cout_total) is Decimal and type(back.date_convention) is type(s.date_convention)


def test_a_summary_that_depends_on_the_day_is_reused_while_it_holds(tmp_path, examples):
    from datetime import timedelta

    reg = tmp_path / "r.sqlite"
    today = date.today()
    s = C.summarize(str(examples["paths"][0]), "a.xlsx")
    granted = s.lines
    statut = LINE_FIELDS.index("statut")
    s.lines = tuple(ln for ln in s.lines if ln[statut] not in layout.STATUTS_ACQUIS)  # no lapse to judge (FIN-24)
    fin = today + timedelta(days=10)
    s.date_comite, s.date_fin_initialisation = None, fin  # DIA-04 judged at today's date
    other = C.summarize(str(examples["paths"][1]), "b.xlsx")
    other.date_comite, other.date_fin_initialisation = None, today - timedelta(days=1)  # already past: for ever
    other.lines = tuple(ln for ln in other.lines if ln[statut] not in layout.STATUTS_ACQUIS)
    with R.Register.open(reg, __version__) as r:
        r.record(C.ConsolidationResult([s, other], judge([s, other])))
        assert r.lookup(s.sha256) is not None and r.known([s.sha256, other.sha256]) == {s.sha256, other.sha256}
        r.today = fin.isoformat()
        assert r.lookup(s.sha256) is not None  # up to the end of initialisation, the same result
        r.today = (fin + timedelta(days=1)).isoformat()
        assert r.lookup(s.sha256) is None and r.known([s.sha256]) == set()  # DIA-04 may now say otherwise
        assert r.lookup(other.sha256) is not None
        r.version_regles = "autre"
        assert r.lookup(other.sha256) is None  # other rules: read again
    assert R.valid_until(s, today) == fin.isoformat()
    s.lines = granted  # a granted État subsidy: FIN-24 judges its lapse at today's date
    assert any(ln[statut] in layout.STATUTS_ACQUIS for ln in granted)
    assert R.valid_until(s, today) == today.isoformat()
    s.date_comite = today
    assert R.valid_until(s, today) is None  # judged at the comité's date: for ever


# ------------------------------------------------------------------ two comités, then historique
def _line(lf, **changes):
    return build_row(LigneFinancement, {**lf.raw, **changes})


def test_lookup_all_is_lookup_for_many_contents_past_sqlites_parameter_limit(tmp_path, examples):
    """1 200 contents (three queries of at most 500, under SQLite's 999 bound parameters), asked
    with duplicates and unknown ones: the same summaries as `lookup` one by one — the latest of a
    content recorded twice, none for a summary edited by hand — and the same ids kept for `record`."""
    import dataclasses

    base = dataclasses.replace(C.summarize(str(examples["paths"][0]), "a.xlsx"), lines=(), findings=(), actions=())
    shas = [f"{k:064x}" for k in range(1200)]
    with R.Register.open(tmp_path / "r.sqlite", __version__) as r:
        with r.con:
            for k, sha in enumerate(shas):
                r._insert_analysis(dataclasses.replace(base, sha256=sha, libelle=f"n° {k}"), R.block_key())
            r._insert_analysis(dataclasses.replace(base, sha256=shas[700], libelle="recorded again"), R.block_key())
            r.con.execute("UPDATE analyses SET resume = '{' WHERE sha256 = ?", (shas[3],))
        asked = shas + shas[:50] + ["f" * 64]
        found = r.lookup_all(asked)
        ids = dict(r._known)
        r._known.clear()
        one_by_one = {sha: x for sha in set(asked) if (x := r.lookup(sha)) is not None}
        assert found.keys() == one_by_one.keys() == set(shas) - {shas[3]}
        assert all(found[sha].libelle == one_by_one[sha].libelle for sha in found)
        assert found[shas[700]].libelle == "recorded again" and found[shas[1199]].libelle == "n° 1199"
        assert ids == r._known


def test_two_comites_then_historique(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    out1, out2 = tmp_path / "c1.xlsx", tmp_path / "c2.xlsx"
    _run("consolider", folder, "-o", out1, "--registre", reg, "--comite", "Comité du 12/03/2026", "--jobs", "1")
    # between the comités: a line passes from Sollicité to Acquis, an amount changes, a convention
    # leaves the folder, a new one arrives
    names = [p.name for p in examples["paths"]]
    first = next(n for n in names if any(lf.statut == "Sollicité" and lf.montant
                                         for lf in examples["convs"][n].financements))
    names.remove(first)
    names.insert(0, first)
    conv = examples["convs"][names[0]].model_copy(deep=True)
    i = next(k for k, lf in enumerate(conv.financements) if lf.statut == "Sollicité" and lf.montant)
    passe = conv.financements[i]
    conv.financements[i] = _line(passe, statut="Acquis", montant=float(passe.montant) - 500)  # granted, a little less
    j = next(k for k, lf in enumerate(conv.financements) if k != i and lf.montant and lf.statut != "Refusé")
    conv.financements[j] = _line(conv.financements[j], montant=float(conv.financements[j].montant) + 1000)
    _write(conv, folder / names[0])
    (folder / names[1]).unlink()
    nouveau = examples["convs"][names[2]].model_copy(deep=True)
    nouveau.set_value("acv_id", "ACV950")
    nouveau.set_value("acv_libelle", "Nouvelle convention")
    _write(nouveau, folder / "nouvelle.xlsx")
    _run("consolider", folder, "-o", out2, "--registre", reg, "--comite", "Comité du 18/06/2026", "--jobs", "1")
    evo, js = tmp_path / "evolution.xlsx", tmp_path / "evolution.json"
    assert _run("historique", reg, "-o", evo, "--json", js) == 0
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [c["comite"] for c in data["consolidations"]] == ["Comité du 12/03/2026", "Comité du 18/06/2026"]
    assert set(data) == {"acv_xl", "consolidations", "par_financeur", "par_convention"}  # the report's mark first
    assert next(iter(data)) == "acv_xl" and data["acv_xl"] == "acv-xl historique"
    # every financeur's series, against the workbooks' own Lignes
    for k, out in enumerate((out1, out2)):
        lignes = _lignes(out)
        expected: Counter = Counter()
        by_statut: dict = defaultdict(Counter)
        for code, statut, m in zip(lignes["Financeur"], lignes["Statut"], lignes["Montant (€)"]):
            expected[_groupe(code)] += round(float(m) * 100)
            by_statut[_groupe(code)][statut] += round(float(m) * 100)
        got = {f: round(series[k]["total"] * 100) for f, series in data["par_financeur"].items()}
        assert {f: v for f, v in got.items() if v} == dict(expected)
        for f, series in data["par_financeur"].items():
            assert {s: round(v * 100) for s, v in series[k]["par_statut"].items()} == dict(by_statut[f]), f
        synth = _table(out, Feuille.SYNTHESE)
        cid = data["consolidations"][k]["id"]
        for acv, fin in zip(synth[H.ACV_ID], synth[H.FINANCEMENT]):
            entry = next(e for e in data["par_convention"][acv] if e["consolidation"] == cid)
            assert round(entry["financement_total"] * 100) == round(float(fin) * 100)
    removed = examples["convs"][names[1]].value("acv_id")
    assert [e["consolidation"] for e in data["par_convention"][removed]] == [1]
    assert [e["consolidation"] for e in data["par_convention"]["ACV950"]] == [2]
    # what moved, in the workbook
    mv = pd.read_excel(evo, sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    kinds = Counter(mv["Mouvement"])
    assert kinds["Convention ajoutée"] == 1 and kinds["Convention retirée"] == 1
    statut = mv[mv["Mouvement"] == "Statut modifié"]
    assert len(statut) == 1 and statut.iloc[0]["Statut avant"] == "Sollicité" \
        and statut.iloc[0]["Statut après"] == "Acquis" and statut.iloc[0]["Engagement obtenu"] == "Oui"
    assert statut.iloc[0]["Financeur"] == passe.financeur
    assert pd.isna(statut.iloc[0]["Écart (€)"])  # the amount's change is its own row, never counted twice
    assert round(float(statut.iloc[0]["Montant après (€)"])) == round(float(passe.montant)) - 500
    montant = mv[mv["Mouvement"] == "Montant modifié"]
    assert sorted(round(float(e)) for e in montant["Écart (€)"]) == [-500, 1000]
    assert round(mv["Écart (€)"][mv["Mouvement"].isin(["Statut modifié", "Montant modifié"])].astype(float).sum()) == 500
    wb = openpyxl.load_workbook(evo)
    assert wb.sheetnames == ["Consolidations", "Par financeur", "Mouvements par financeur", "Par statut",
                             "Par convention", "Mouvements"]
    # the intitulés and dispositifs of the movements wrap (they were cut at their column's edge on paper)
    ws = wb["Mouvements"]
    heads = [c.value for c in ws[3]]
    for header in (H.INTITULE, layout.T_FINANCEMENTS.header("dispositif"), H.LIBELLE):
        col = heads.index(header) + 1
        cells = [ws.cell(r, col) for r in range(4, ws.max_row + 1) if ws.cell(r, col).value]
        assert cells and all(c.alignment.wrap_text for c in cells), header
    # per financeur: the change is the difference of its totals; the commitments obtained, the
    # lines of `Mouvements` that reached an acquired statut
    pf = pd.read_excel(evo, sheet_name="Mouvements par financeur", header=2, engine="openpyxl", dtype=object)
    pf = pf[pf["Financeur"].notna()].set_index("Financeur")
    for f, series in data["par_financeur"].items():
        assert round(float(pf.loc[f, "Écart (€)"]) * 100) == round((series[1]["total"] - series[0]["total"]) * 100)
    obtenus = mv[mv["Engagement obtenu"] == "Oui"]
    for f in pf.index:
        expected = sum(round(float(v) * 100) for c, v in zip(obtenus["Financeur"], obtenus["Montant après (€)"])
                       if _groupe(c) == f)
        assert round(float(pf.loc[f, "Engagements obtenus (€)"]) * 100) == expected, f
    assert round(float(pf.loc[passe.financeur, "Engagements obtenus (€)"]) * 100) >= round((float(passe.montant) - 500) * 100)
    # a convention added or removed moves its financeurs' écarts by its lines: a funder read a change of
    # 2 921 000 € with neither commitment obtained nor new line, and nothing beside it to explain it (the
    # note alone said so); its column says how much, the added one's lines less the removed one's
    retiree = examples["convs"][names[1]].value("acv_id")
    l1, l2 = _lignes(out1), _lignes(out2)
    entrees: Counter = Counter()
    for lignes, acv, sign in ((l2, "ACV950", 1), (l1, retiree, -1)):
        for code, m in zip(lignes["Financeur"][lignes[H.ACV_ID] == acv], lignes["Montant (€)"][lignes[H.ACV_ID] == acv]):
            entrees[_groupe(code)] += sign * round(float(m) * 100)
    assert entrees and {f: round(float(v) * 100) for f, v in pf["Conventions ajoutées ou retirées (€)"].items()
                        if round(float(v) * 100)} == {f: v for f, v in entrees.items() if v}
    notes = [c.value for row in wb["Mouvements par financeur"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("Conventions ajoutées ou retirées (€) : le financement de ce financeur dans les conventions ajoutées "
               "(ou désormais comptées), moins celui des conventions retirées (ou non comptées), compris dans "
               "l'écart." in n for n in notes), notes
    assert wb["Par financeur"]._charts and wb["Par financeur"].page_setup.orientation == "landscape"
    # the header row is repeated on each printed page only past the first: these few movements fit on it
    assert wb["Mouvements"].print_title_rows is None


def _movements(reg: Path, evo: Path) -> pd.DataFrame:
    """historique of `reg` into `evo`: the rows of its Mouvements sheet."""
    assert _run("historique", reg, "-o", evo) == 0
    mv = pd.read_excel(evo, sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    return mv[mv["Mouvement"].notna()]


@pytest.mark.parametrize("utf16", [False, True])
def test_an_action_abandoned_between_two_comites_is_a_movement(tmp_path, examples, utf16):
    """An action set « Abandonnée » in its fiche-action between two comités, its financing lines left
    as they were (still counted until refused, ACT-13): historique showed no movement at all — the
    référent saw it only in the avenant's annex. A row of its own now, without amount (its lines move
    nothing), and « reprise » when it no longer is; an action that has other fiches of its number still
    live is not abandoned. In a register keeping its text as UTF-16 too: its summaries, read as the
    bytes SQLite keeps, were UTF-16 to msgspec, unreadable, and no action moved without a word."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    name = examples["paths"][0].name
    conv = examples["convs"][name].model_copy(deep=True)
    numeros = [a.numero for a in conv.actions]
    k = next(i for i, a in enumerate(conv.actions) if a.maturite != "Abandonnée" and numeros.count(a.numero) == 1)
    numero, intitule = conv.actions[k].numero, conv.actions[k].intitule
    for n, maturite in enumerate(("Abandonnée", conv.actions[k].maturite), 1):
        _run("consolider", folder, "-o", tmp_path / f"c{n}.xlsx", "--registre", reg, "--jobs", "1")
        conv.actions[k] = build_row(FicheAction, {**conv.actions[k].raw, "maturite": maturite})
        _write(conv, folder / name)
    _run("consolider", folder, "-o", tmp_path / "c3.xlsx", "--registre", reg, "--jobs", "1")
    mv = _movements(utf16_copy(reg, tmp_path / "r16.sqlite") if utf16 else reg, tmp_path / "e.xlsx")
    rows = mv[mv["Mouvement"].str.startswith("Action ")]
    acv_id = conv.value("acv_id")
    assert rows[["Identifiant ACV", "N° action", "Mouvement", "Intitulé de l'action"]].values.tolist() == [
        [acv_id, numero, "Action abandonnée", intitule], [acv_id, numero, "Action reprise (n'est plus abandonnée)", intitule]]
    assert rows["Écart (€)"].isna().all() and rows["Montant avant (€)"].isna().all()
    assert len(mv) == 2  # nothing else moved: the lines are the same


def test_a_financeur_code_corrected_is_one_line_changed_never_a_commitment_obtained(tmp_path, examples):
    """The commune corrects « FEDER » typed as a financeur into « UE » (what CON-05 asks): the line
    read as « Ligne retirée » + « Nouvelle ligne » already acquired, i.e. 780 000 € of UE
    « engagements obtenus » at the next comité that no one obtained. It is now two « Financeur
    modifié » rows (the old code's amount out, the new one's in), no commitment obtained, no new
    line; a line really added at the same time is still one."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    name = next(n for n, c in examples["convs"].items()
                if any(lf.financeur and lf.financeur not in layout.FINANCEURS_BY_CODE for lf in c.financements))
    conv = examples["convs"][name].model_copy(deep=True)
    i = next(k for k, lf in enumerate(conv.financements)
             if lf.financeur and lf.financeur not in layout.FINANCEURS_BY_CODE)
    old = conv.financements[i]
    conv.financements[i] = _line(old, financeur="UE")
    conv.financements.append(_line(conv.financements[0], financeur="REGION", dispositif="Aide nouvelle",
                                   statut="Acquis"))
    # one reference funder replaced by another: a line removed, a line added (not a code corrected)
    j = next(k for k, lf in enumerate(conv.financements) if k != i and lf.financeur == "EPCI")
    conv.financements[j] = _line(conv.financements[j], financeur="COMMUNE")
    _write(conv, folder / name)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    evo = tmp_path / "e.xlsx"
    mv = _movements(reg, evo)
    change = mv[mv["Mouvement"] == "Financeur modifié"]
    assert list(change["Financeur"]) == [old.financeur, "UE"]
    assert [round(float(e)) for e in change["Écart (€)"]] == [-round(float(old.montant)), round(float(old.montant))]
    assert set(change["Engagement obtenu"]) == {"Non"}
    nouvelles = mv[mv["Mouvement"] == "Nouvelle ligne"]
    assert sorted(nouvelles["Financeur"]) == ["COMMUNE", "REGION"]
    assert list(mv[mv["Mouvement"] == "Ligne retirée"]["Financeur"]) == ["EPCI"]
    pf = pd.read_excel(evo, sheet_name="Mouvements par financeur", header=2, engine="openpyxl", dtype=object)
    ue = pf[pf["Financeur"] == "UE"].iloc[0]
    assert round(float(ue["Écart (€)"])) == round(float(old.montant))  # its total did grow…
    assert float(ue["Engagements obtenus (€)"]) == 0 and int(ue["Nouvelles lignes"]) == 0  # …by no new commitment


def test_a_financeur_code_mistyped_is_one_line_changed_never_a_commitment_obtained(tmp_path, examples):
    """The other way round: an acquired « UE » line retyped « UEE » (a code outside the list) read
    « Ligne retirée » + « Nouvelle ligne » already acquired, i.e. « engagements obtenus » of
    « code inconnu » that no one obtained; it is two « Financeur modifié » rows as well."""
    from acv_xl.checks.rules.consolidation import CODE_INCONNU

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    name, i = next((n, k) for n, c in examples["convs"].items() for k, lf in enumerate(c.financements)
                   if lf.financeur == "UE" and lf.statut in layout.STATUTS_ACQUIS and lf.montant)
    conv = examples["convs"][name].model_copy(deep=True)
    old = conv.financements[i]
    conv.financements[i] = _line(old, financeur="UEE")
    _write(conv, folder / name)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    evo = tmp_path / "e.xlsx"
    mv = _movements(reg, evo)
    assert list(mv["Mouvement"]) == ["Financeur modifié"] * 2, list(mv["Mouvement"])
    assert list(mv["Financeur"]) == ["UE", "UEE"] and set(mv["Engagement obtenu"]) == {"Non"}
    pf = pd.read_excel(evo, sheet_name="Mouvements par financeur", header=2, engine="openpyxl", dtype=object)
    inconnu = pf[pf["Financeur"] == CODE_INCONNU].iloc[0]
    assert float(inconnu["Engagements obtenus (€)"]) == 0 and int(inconnu["Nouvelles lignes"]) == 0


def test_among_several_codes_corrected_the_lines_of_equal_amount_are_paired():
    """Two codes outside the list on one action (« FEDER » 100, « FSE » 200), both corrected into
    « UE » in another order: paired in order, each read as a change of amount as well (FEDER
    100 → UE 200). A removed and an added line of equal amounts are paired first; the others
    still are, in order (a code corrected and its amount changed)."""
    from acv_xl.history.historique import FINANCEUR_MODIFIE, _compare

    def line(financeur, montant, numero="1.1"):
        return (numero, financeur, "Fonds européens", "Investissement", 2026, montant, "Sollicité", "Halle", 1)

    old = [line("FEDER", 100.0), line("FSE", 200.0), line("FEDER", 300.0, "2.1")]
    new = [line("UE", 200.0), line("UE", 100.0), line("UE", 350.0, "2.1")]
    moves = _compare(1, 2, "ACV001", "Arras", old, new)
    assert {m.type for m in moves} == {FINANCEUR_MODIFIE}
    pairs = [(a.financeur, a.montant_avant, b.financeur, b.montant_apres) for a, b in zip(moves[::2], moves[1::2])]
    assert pairs == [("FSE", 200.0, "UE", 200.0), ("FEDER", 100.0, "UE", 100.0), ("FEDER", 300.0, "UE", 350.0)]
    assert sum(m.ecart or 0 for m in moves) == 50.0


def test_a_line_re_dated_is_one_line_changed_never_a_new_commitment(tmp_path, examples):
    """An « Engagé » line of the État moved from 2024 to 2026 (a payment postponed): the État's total
    is unchanged, yet « Engagements obtenus » gave its whole amount and « Nouvelles lignes » 1 — a
    line removed, a line added. It is now one line whose année changed (« Année modifiée »)."""
    from acv_xl.history.historique import ANNEE_MODIFIEE, LIGNE_AJOUTEE, _compare

    def line(annee, montant, statut="Engagé", numero="2.1"):
        return (numero, "ETAT", "DSIL", "Subvention", annee, montant, statut, "Grande Rue", 1)

    moves = _compare(1, 2, "ACV034", "Boulogne", [line(2024, 462000.0), line(2025, 100.0, "Sollicité")],
                     [line(2026, 462000.0), line(2027, 100.0, "Acquis"), line(2028, 50.0, numero="3.1")])
    kinds = [(m.type, m.annee, m.engagement) for m in moves]
    assert kinds == [(ANNEE_MODIFIEE, 2024, False), (ANNEE_MODIFIEE, 2026, False),
                     (ANNEE_MODIFIEE, 2025, False), (ANNEE_MODIFIEE, 2027, True), (LIGNE_AJOUTEE, 2028, True)]
    assert sum(m.ecart or 0 for m in moves) == 50.0
    # end to end: the État's movement row of the évolution
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    def redate(cell, _numeros) -> None:
        cell("annee").value = 2031

    financeur = _change_acquired_line(folder / examples["paths"][0].name, redate)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    mf = _table(tmp_path / "e.xlsx", "Mouvements par financeur")
    etat = mf[mf["Financeur"] == _groupe(financeur)].iloc[0]
    assert float(etat["Écart (€)"]) == 0.0
    assert float(etat["Engagements obtenus (€)"]) == 0.0 and int(etat["Nouvelles lignes"]) == 0


def _convention_movements(tmp_path: Path, reg: Path) -> dict[str, str]:
    """historique of `reg`: each convention's movement (« Convention … »), by identifier."""
    mv = _movements(reg, tmp_path / "e.xlsx")
    return {acv: kind for acv, kind in zip(mv[H.ACV_ID], mv["Mouvement"]) if kind.startswith("Convention")}


def test_a_convention_whose_new_version_is_not_counted_is_not_said_retiree(tmp_path, examples):
    """Calais sends a new version that cannot be read: historique said « Convention retirée », as if
    Calais had left the programme; it now says « Convention non comptée (illisible) », found by the
    file's path (an unreadable workbook has no identifier), and « (autre département) » likewise by
    identifier. A file gone from the folder is still « Convention retirée »."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    names = sorted(p.name for p in examples["paths"])
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    (folder / names[0]).write_bytes((folder / names[0]).read_bytes()[:5000])  # a truncated copy, same name
    (folder / names[1]).unlink()
    autre = examples["convs"][names[2]].model_copy(deep=True)
    autre.set_value("acv_departement", "59")
    _write(autre, folder / names[2])
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--departement", "62", "--jobs", "1")
    kinds = _convention_movements(tmp_path, reg)
    ids = [examples["convs"][n].value("acv_id") for n in names[:3]]
    assert kinds == {ids[0]: "Convention non comptée (illisible)", ids[1]: "Convention retirée",
                     ids[2]: "Convention non comptée (autre département)"}, kinds


def test_a_convention_counted_again_is_not_said_ajoutee(tmp_path, examples):
    """The other way round: Calais's workbook unreadable at one comité (or of another département),
    readable at the next, read « Convention ajoutée », as if Calais had joined the programme; it is
    « Convention désormais comptée (auparavant : illisible) ». A new file is still « ajoutée »."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    names = sorted(p.name for p in examples["paths"])
    keep = {n: (folder / n).read_bytes() for n in names[:3]}
    (folder / names[0]).write_bytes(keep[names[0]][:5000])  # a truncated copy
    autre = examples["convs"][names[1]].model_copy(deep=True)
    autre.set_value("acv_departement", "59")
    _write(autre, folder / names[1])
    (folder / names[2]).unlink()
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--departement", "62", "--jobs", "1")
    for n in names[:3]:
        (folder / n).write_bytes(keep[n])
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--departement", "62", "--jobs", "1")
    kinds = _convention_movements(tmp_path, reg)
    ids = [examples["convs"][n].value("acv_id") for n in names[:3]]
    assert kinds == {ids[0]: "Convention désormais comptée (auparavant : illisible)",
                     ids[1]: "Convention désormais comptée (auparavant : autre département)",
                     ids[2]: "Convention ajoutée"}, kinds


def test_a_convention_whose_file_now_holds_another_one_not_counted_is_retiree(tmp_path, examples):
    """The path finds the previous convention only for an unreadable new version (no identifier
    left): a file that now holds another convention, of another département, said the one it held
    before « Convention non comptée (autre département) », though that convention's workbook is no
    longer in the folder."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    names = sorted(p.name for p in examples["paths"])
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--departement", "62", "--jobs", "1")
    autre = examples["convs"][names[1]].model_copy(deep=True)  # the neighbour's convention, in the 59
    autre.set_value("acv_id", "ACV999")
    autre.set_value("acv_departement", "59")
    _write(autre, folder / names[0])  # over the first one's file
    (folder / names[1]).unlink()
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--departement", "62", "--jobs", "1")
    kinds = _convention_movements(tmp_path, reg)
    ids = [examples["convs"][n].value("acv_id") for n in names[:2]]
    assert kinds == {ids[0]: "Convention retirée", ids[1]: "Convention retirée"}, kinds


def test_historique_movements_read_comite_after_comite(tmp_path, examples):
    """Three comités: a line changed between the first two, a convention gone between the last two.
    The sheet `Mouvements` listed the conventions added or removed of every pair first, then the
    lines of every pair: the third comité's departure printed among the second's changes. Each pair's
    movements now come together, in the order of the comités."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    names = [p.name for p in examples["paths"]]
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--comite", "Comité du 12/03/2026",
         "--jobs", "1")
    conv = examples["convs"][names[0]].model_copy(deep=True)
    j = next(k for k, lf in enumerate(conv.financements) if lf.montant and lf.statut != "Refusé")
    conv.financements[j] = _line(conv.financements[j], montant=float(conv.financements[j].montant) + 1000)
    _write(conv, folder / names[0])
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--comite", "Comité du 18/06/2026",
         "--jobs", "1")
    (folder / names[1]).unlink()
    _run("consolider", folder, "-o", tmp_path / "c3.xlsx", "--registre", reg, "--comite", "Comité du 24/09/2026",
         "--jobs", "1")
    evo = tmp_path / "evolution.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    mv = pd.read_excel(evo, sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    mv = mv[mv["Mouvement"].notna()]
    pairs = list(zip(mv["Avant"], mv["Après"], mv["Mouvement"]))
    assert pairs == [("Comité du 12/03/2026", "Comité du 18/06/2026", "Montant modifié"),
                     ("Comité du 18/06/2026", "Comité du 24/09/2026", "Convention retirée")], pairs


def test_historique_says_an_amount_made_unreadable_or_readable_again(tmp_path, examples):
    """A commune types « six cent mille » over an amount of 672 000 €, then a figure again: the line
    leaves the totals, then comes back. `Mouvements` said « Montant modifié », 672 000 € → nothing, as if
    the amount had been deleted or set to zero, where the consolidated workbook says « montant
    illisible ». It now says so on either side; the écarts are what the totals moved."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    name = examples["paths"][0].name
    conv = examples["convs"][name].model_copy(deep=True)
    j = next(k for k, lf in enumerate(conv.financements)
             if lf.montant and not isinstance(lf.montant, str) and lf.statut != "Refusé")
    montant = float(conv.financements[j].montant)
    for k, value in enumerate((montant, "six cent mille", montant + 1000)):
        conv.financements[j] = _line(conv.financements[j], montant=value)
        _write(conv, folder / name)
        _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--remplacer", "--jobs", "1",
             "--comite", f"Comité du 1{k}/06/2026")
    evo = tmp_path / "evolution.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    mv = pd.read_excel(evo, sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    mv = mv[mv["Mouvement"].notna()]
    rows = list(zip(mv["Mouvement"], mv["Montant avant (€)"].fillna(""), mv["Montant après (€)"].fillna(""),
                    mv["Écart (€)"]))
    assert rows == [("Montant modifié (illisible)", montant, "", -montant),
                    ("Montant modifié (auparavant : illisible)", "", montant + 1000, montant + 1000)], rows
    # printed whole: the longer kinds wrap, where « Montant modifié (auparav » was cut at the intitulé beside
    ws = openpyxl.load_workbook(evo)["Mouvements"]
    col = [c.value for c in ws[3]].index("Mouvement") + 1
    assert all(ws.cell(r, col).alignment.wrap_text for r in range(4, 6)), col


def test_historique_says_a_line_added_or_removed_with_an_unreadable_amount():
    """A line added with « à définir » as its amount, or removed as it was: « Nouvelle ligne » with no
    amount and no écart read as a line of nothing. It now says its amount was unreadable; it is still
    a new line in the per-financeur count, and moves no total."""
    from acv_xl.history.historique import Evolution, _compare, mouvements_par_financeur

    def line(financeur, dispositif, montant):
        return ("2.1", financeur, dispositif, "Subvention", 2025, montant, "Sollicité", "Grande Rue",
                int(montant is not None))

    moves = _compare(1, 2, "ACV034", "Boulogne", [line("REGION", "Aménagement", None), line("ETAT", "FNADT", 5.0)],
                     [line("ETAT", "DSIL", None), line("ETAT", "Fonds vert", 7.0)])
    assert [(m.type, m.dispositif, m.ecart) for m in moves] == [
        ("Nouvelle ligne (montant illisible)", "DSIL", None), ("Nouvelle ligne", "Fonds vert", 7.0),
        ("Ligne retirée (montant illisible)", "Aménagement", None), ("Ligne retirée", "FNADT", -5.0)]

    class _Two(Evolution):  # two consolidations, whose ETAT totals are the counted lines'
        ids = [1, 2]

        def __init__(self):
            self.mouvements = moves

        def totaux_financeurs(self):
            return {"ETAT": {1: 5.0, 2: 7.0}}

        def financeurs(self):
            return ["ETAT"]

    assert mouvements_par_financeur(_Two()) == [[1, 2, "ETAT", 5.0, 7.0, 2.0, 0.0, 0.0, 2]]


def test_historique_says_a_line_moved_with_an_unreadable_amount():
    """A line re-dated (2024 → 2025) while « à revoir » was typed over its 5 €, and a code corrected
    (« FEDER » → « UE ») while its amount was typed again: « Année modifiée », 5 € → nothing, écart −5 €,
    read as an amount lost in the move, where « Montant modifié (illisible) » says it for a line that
    kept its key. The row whose amount does not parse now says so; the écarts are unchanged."""
    from acv_xl.history.historique import _compare

    def line(financeur, annee, montant):
        return ("2.1", financeur, "DSIL", "Subvention", annee, montant, "Sollicité", "Grande Rue",
                int(montant is not None))

    moves = _compare(1, 2, "ACV034", "Boulogne", [line("ETAT", 2024, 5.0), line("FEDER", 2026, None)],
                     [line("ETAT", 2025, None), line("UE", 2026, 7.0)])
    assert [(m.type, m.financeur, m.annee, m.ecart) for m in moves] == [
        ("Année modifiée", "ETAT", 2024, -5.0), ("Année modifiée (montant illisible)", "ETAT", 2025, None),
        ("Financeur modifié (montant illisible)", "FEDER", 2026, None), ("Financeur modifié", "UE", 2026, 7.0)]


def test_historique_says_a_comite_recorded_after_a_later_one(tmp_path, examples, capsys):
    """The comité of 12/06 recorded after that of 19/06 (forgotten, then run): the movements went from
    19/06 to 12/06 without a word, a référent reading them as the département's course between the two
    comités. The series stays in recording order (each run read the workbooks as they were that day),
    and historique says which comité came late — command, Consolidations sheet, JSON; two runs for one
    comité, or a comité without date, are no disorder."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for comite in ("Comité du 19/06/2026", "Comité du 12 juin 2026", "Comité du 12 juin 2026", "Bilan",
                   "Comité du 25/09/2026", "Comité du 25/09/2026"):
        _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, "--comite", comite,
             "--jobs", "1")
    evo, js = tmp_path / "e.xlsx", tmp_path / "e.json"
    capsys.readouterr()
    assert _run("historique", reg, "-o", evo, "--json", js) == 0
    said = ("comités enregistrés après un comité d'une date postérieure : « Comité du 12 juin 2026 (n° 2) » après "
            "« Comité du 19/06/2026 » (n° 1) ; « Comité du 12 juin 2026 (n° 3) » après « Comité du 19/06/2026 » "
            "(n° 1). Les consolidations sont comparées dans l'ordre où elles ont été enregistrées (chacune a lu les "
            "classeurs tels qu'ils étaient ce jour-là), non dans l'ordre des dates des comités")
    assert f"Attention : {said} (feuille Consolidations)." in capsys.readouterr().err
    values = [c.value for row in openpyxl.load_workbook(evo)["Consolidations"].iter_rows() for c in row]
    assert f"Attention : {said}." in values
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [c["comite_hors_ordre"] for c in data["consolidations"]] == [False, True, True, False, False, False]


def test_consolider_and_historique_name_the_same_later_comite(tmp_path, examples, capsys):
    """The comité of 19/06 run twice (a correction), then that of 12/06: consolider said it came after
    « Comité du 19/06/2026 » (n° 2), the run just before it, and historique after n° 1 — two numbers for
    one fact, the référent looking for which was meant. Both name the latest recorded of the latest date."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for comite in ("Comité du 19/06/2026", "Comité du 19/06/2026", "Comité du 12/06/2026"):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, "--comite",
                    comite, "--jobs", "1") in (0, 1)
    assert "antérieur au comité « Comité du 19/06/2026 » (n° 2)" in capsys.readouterr().err
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    assert "« Comité du 12/06/2026 » (n° 3) après « Comité du 19/06/2026 (n° 2) »." in capsys.readouterr().err


def test_consolider_says_a_comite_already_recorded(tmp_path, examples, capsys):
    """The same `--comite` run again (a correction, or the command recalled from the history of the
    terminal for the next comité): recorded in silence, historique then showed two columns « Comité
    du 19/06/2026 (n° 1) » and « (n° 2) ». Recorded all the same (a correction is allowed), and said
    while the label can still be checked; another label, or none, says nothing."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    said = []
    for comite in (("--comite", "Comité du 19/06/2026"), ("--comite", "Comité du 25/09/2026"), (),
                   ("--comite", " Comité du 19/06/2026 ")):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, *comite,
                    "--jobs", "1") in (0, 1)
        said.append(capsys.readouterr().err)
    assert [("est déjà enregistré" in s) for s in said] == [False, False, False, True], said
    assert ("acv-xl : attention, le comité « Comité du 19/06/2026 » est déjà enregistré dans le registre "
            f"« {reg} » (n° 1) : cette consolidation y est enregistrée à sa suite (n° 4), et « acv-xl historique » "
            "montrera l'une et l'autre, numérotées. S'il s'agit d'une correction, rien à faire ; sinon, vérifiez "
            "le libellé --comite.") in said[3]
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 4  # recorded all the same
    con.close()


def test_a_comite_consolidated_day_after_day_is_said_in_a_message_of_bounded_length(tmp_path, examples, capsys):
    """The référent consolidates the coming comité every day as its workbooks come in (or a scheduled
    task does), always with `--comite "Comité du 19/06/2026"`: the warning listed every number already
    recorded, « (n° 1, n° 2, …, n° 40) », one more at each run. It says how many, and the latest three."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for _ in range(5):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, "--comite",
                    "Comité du 19/06/2026", "--jobs", "1") in (0, 1)
    err = capsys.readouterr().err
    assert ("le comité « Comité du 19/06/2026 » est déjà enregistré dans le registre "
            f"« {reg} » (4 consolidations, dont les dernières : n° 2, n° 3, n° 4) : cette consolidation y est "
            "enregistrée à sa suite (n° 5)") in err, err
    assert "n° 1" not in err, err


def test_a_region_s_register_says_nothing_of_each_departement_s_run_of_one_comite(tmp_path, examples, capsys):
    """A register kept for the région, each département consolidated from its own folder for the comité
    of 19/06 (`--departement 62`, then `--departement 59`, the same `--comite`): the 59's run was told
    its comité was already recorded and to check its label — at every comité, for every département but
    the first. A label is already recorded when a run of the same scope bears it: the 62's run again
    still is."""
    region = tmp_path / "region"
    region.mkdir()
    ours = _folder(region, examples)
    theirs = _nord(region, examples)
    reg = tmp_path / "registre.sqlite"
    said = []
    for folder, departement in ((region, None), (ours, "62"), (theirs, "59"), (ours, "62")):
        capsys.readouterr()
        scope = ("--departement", departement) if departement else ()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1",
                    "--comite", "Comité du 19/06/2026", "--remplacer", *scope) in (0, 1)
        said.append(capsys.readouterr().err)
    assert [("est déjà enregistré" in s) for s in said] == [False, False, False, True], said
    assert "(n° 2) : cette consolidation y est enregistrée à sa suite (n° 4)" in said[3], said[3]


def test_historique_of_one_departement_of_a_region_s_register(tmp_path, examples, capsys):
    """A région's register, each département consolidated from its own folder at each comité: its
    historique mixed them — at every turn every convention of the 62 « retirée » and every one of the 59
    « ajoutée ». `historique --departement 59` (the code as `consolider` takes it: « 059 ») shows the
    runs recorded with that département only, and says how many of the register's it shows; a code of
    no département, or of none of the register's runs, is refused in French, nothing written. The
    library function says the same (`load`)."""
    from acv_xl.history.historique import load
    from acv_xl.outputs.consolidation_files import UsageError

    region = tmp_path / "region"
    region.mkdir()
    ours = _folder(region, examples)
    theirs = _nord(region, examples)
    reg = tmp_path / "registre.sqlite"
    for n, (folder, departement) in enumerate(((ours, "62"), (theirs, "59"), (ours, "62"), (theirs, "59")), 1):
        assert _run("consolider", folder, "-o", tmp_path / f"c{n}.xlsx", "--registre", reg, "--jobs", "1",
                    "--comite", f"Comité du 1{n}/06/2026", "--departement", departement) in (0, 1)
    capsys.readouterr()
    js = tmp_path / "e59.json"
    assert _run("historique", reg, "-o", tmp_path / "e59.xlsx", "--json", js, "--departement", "059") == 0
    err = capsys.readouterr().err
    assert "Historique : 2 consolidations du département 59 (sur 4 du registre)" in err, err
    assert "périmètre" not in err, err  # no pair of two départements left
    data = json.loads(js.read_text(encoding="utf-8"))
    # the file says it is one département's series, and of how many runs: read alone, it passed for the register's
    assert list(data)[:3] == ["acv_xl", "departement", "consolidations_du_registre"]
    assert data["departement"] == "59" and data["consolidations_du_registre"] == 4
    assert [(c["id"], c["departement"]) for c in data["consolidations"]] == [(2, "59"), (4, "59")]
    assert sorted(data["par_convention"]) == ["ACV990", "ACV991"]
    assert all(x["consolidation"] in (2, 4) for xs in data["par_financeur"].values() for x in xs)
    assert _table(tmp_path / "e59.xlsx", "Consolidations")["N°"].tolist() == [2, 4]
    # the printed workbook says it too, on every sheet (its subtitle is each page's header): read alone, a
    # page passed for the whole register's
    for ws in openpyxl.load_workbook(tmp_path / "e59.xlsx"):
        assert " — département 59 — 2 consolidations sur les 4 du registre « registre.sqlite » — " in ws["A2"].value, (
            ws.title, ws["A2"].value)
    # without it, the whole register as before: the 62's conventions come and go — and the option is said
    assert "Convention retirée" in set(_movements(reg, tmp_path / "e.xlsx")["Mouvement"])
    assert ("(colonne « Changement de périmètre » des feuilles Mouvements et Mouvements par financeur) ; le registre "
            "a des consolidations de plusieurs départements (59, 62) : « acv-xl historique --departement 59 » montre "
            "celles d'un seul.") in capsys.readouterr().err
    for typed, why in (("60", "n'a aucune consolidation du département 60 (ses consolidations : département 59, "
                              "département 62) : rien n'est écrit."),
                       ("6x", "code de département invalide : « 6x » (attendu : 62, 2A, 974…).")):
        capsys.readouterr()
        assert _run("historique", reg, "-o", tmp_path / "x.xlsx", "--departement", typed) == 2
        assert why in capsys.readouterr().err
        assert not (tmp_path / "x.xlsx").exists()
    # one run of the 59 among three: never « une seule consolidation dans le registre »
    assert _run("consolider", theirs, "-o", tmp_path / "c5.xlsx", "--registre", reg, "--jobs", "1", "--comite",
                "Comité du 20/06/2026") in (0, 1)
    con = sqlite3.connect(reg)
    con.execute("DELETE FROM consolidations WHERE id = 4")  # (a trial run removed with an SQLite tool)
    con.commit()
    con.close()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e59.xlsx", "--remplacer", "--departement", "59") == 0
    assert ("Historique : 1 consolidation du département 59 (sur 4 du registre), 11 financeurs, 0 mouvement → "
            in (err := capsys.readouterr().err)), err
    assert ("Une seule consolidation du département 59 dans le registre : les évolutions apparaîtront après la "
            "prochaine consolidation enregistrée de ce département (« acv-xl consolider … --departement 59 "
            "--registre »).") in err, err
    with R.Register.open(reg, __version__, create=False) as r:
        assert load(r, "62").ids == [1, 3]
        with pytest.raises(UsageError, match="aucune consolidation du département 2A"):
            load(r, "2a")


def test_a_comite_recorded_late_is_one_of_its_own_departement(tmp_path, examples, capsys):
    """A région's register: the 62's comité of 18/06 consolidated after the 59's of 19/06 was said
    « antérieur au comité du 19/06/2026 » (and historique noted it) — a comité of another département,
    no comité forgotten. Only the runs whose scope (`--departement`) meets its own are compared: the
    59's own comité of 15/06 after its 19/06 still is said, and the 62's of 19/06 after the région's of
    20/06 (every département, the 62 too)."""
    region = tmp_path / "region"
    region.mkdir()
    ours = _folder(region, examples)
    theirs = _nord(region, examples)
    reg = tmp_path / "registre.sqlite"
    said = []
    for folder, departement, jour in ((ours, "62", 12), (theirs, "59", 19), (ours, "62", 18), (theirs, "59", 15),
                                      (region, None, 20), (ours, "62", 19)):
        capsys.readouterr()
        scope = ("--departement", departement) if departement else ()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1", "--remplacer",
                    "--comite", f"Comité du {jour}/06/2026", *scope) in (0, 1)
        said.append(capsys.readouterr().err)
    assert [("est antérieur au comité" in x) for x in said] == [False, False, False, True, False, True], said
    assert "antérieur au comité « Comité du 19/06/2026 » (n° 2)" in said[3], said[3]
    assert "antérieur au comité « Comité du 20/06/2026 » (n° 5)" in said[5], said[5]
    js = tmp_path / "e.json"
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", js) == 0
    # (the 59's and the 62's comités of 19/06, one label in the whole register, numbered)
    assert ("« Comité du 15/06/2026 » (n° 4) après « Comité du 19/06/2026 (n° 2) » ; « Comité du 19/06/2026 (n° 6) » "
            "après « Comité du 20/06/2026 » (n° 5).") in capsys.readouterr().err
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [c["comite_hors_ordre"] for c in data["consolidations"]] == [False, False, False, True, False, True]


def test_two_labels_of_one_date_are_said_and_numbered_never_merged(tmp_path, examples, capsys):
    """« Comité du 15 mars 2027 » then « Comité du 15/03/2027 »: one comité typed two ways. The run was
    recorded without a word (its label was not « already recorded ») and historique showed two comités,
    unnumbered, as if two dates. Now said at the run (naming the label recorded), and historique numbers
    both as two runs of one date, each under its own label; a label without date, and a run of another
    scope on that date, say nothing."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    said = []
    for comite, scope in (("Comité du 15 mars 2027", ()), ("Bilan", ()), ("Comité du 15/03/2027", ("--departement", "62")),
                          ("comité du 15/03/2027", ()), ("Point d'étape", ())):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, "--comite",
                    comite, "--jobs", "1", *scope) in (0, 1)
        said.append(capsys.readouterr().err)
    assert [("porte la date du comité" in x) for x in said] == [False, False, False, True, False], said
    assert (f"acv-xl : attention, le comité « comité du 15/03/2027 » porte la date du comité « Comité du 15 mars 2027 » "
            f"(n° 1), déjà enregistré dans le registre « {reg} » sous ce libellé : cette consolidation y est enregistrée "
            "à sa suite, et « acv-xl historique » numérotera l'une et l'autre, chacune sous son libellé, comme deux "
            "consolidations d'un même jour. S'il s'agit d'une correction de ce comité, ou d'un autre comité ce "
            "jour-là, rien à faire ; sinon, vérifiez la date du libellé --comite.") in said[3], said[3]
    assert "est déjà enregistré" not in said[3]
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    assert _table(tmp_path / "e.xlsx", "Consolidations")["Comité"].tolist() == [
        "Comité du 15 mars 2027 (n° 1)", "Bilan", "Comité du 15/03/2027 (n° 3)", "comité du 15/03/2027 (n° 4)",
        "Point d'étape"]


def test_a_third_label_of_one_date_says_every_run_of_that_date_is_numbered(tmp_path, examples, capsys):
    """« Comité du 15 mars 2027 », « Comité du 15/03/2027 », then « comité du 15/03/2027 »: the third run was
    told that historique would number « l'une et l'autre », « comme deux consolidations d'un même jour »,
    naming the second alone — historique numbers all three. The numbers of that date's runs are said, and
    « toutes »."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    said = []
    for comite in ("Comité du 15 mars 2027", "Comité du 15/03/2027", "comité du 15/03/2027"):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, "--comite",
                    comite, "--jobs", "1") in (0, 1)
        said.append(capsys.readouterr().err)
    assert "« acv-xl historique » numérotera l'une et l'autre, chacune sous son libellé, comme deux consolidations " \
           "d'un même jour." in said[1], said[1]
    assert (f"le comité « comité du 15/03/2027 » porte la date du comité « Comité du 15/03/2027 » (n° 2), déjà "
            f"enregistré dans le registre « {reg} » sous ce libellé (consolidations de cette date déjà enregistrées : "
            "n° 1, n° 2) : cette consolidation y est enregistrée à sa suite, et « acv-xl historique » les numérotera "
            "toutes, chacune sous son libellé, comme des consolidations d'un même jour.") in said[2], said[2]
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    assert _table(tmp_path / "e.xlsx", "Consolidations")["Comité"].tolist() == [
        "Comité du 15 mars 2027 (n° 1)", "Comité du 15/03/2027 (n° 2)", "comité du 15/03/2027 (n° 3)"]


def test_the_labels_of_thousands_of_runs_are_numbered_once_each():
    """A register fed by a scheduled task (every hour for two years: 16 408 runs): each label was
    counted among all (`list.count`), ≈ 3 s of CPU before historique wrote anything. Counted once; the
    numbers are those of runs sharing a comité (a label, or the date it names), the others plain."""
    from acv_xl.history.historique import _numbered

    def runs(n: int) -> tuple[list, list, list]:
        comites = [f"Comité du {k % 28 + 1:02d}/{k % 12 + 1:02d}/2026" if k % 3 else None for k in range(n)]
        dates = [f"2026-06-{k % 28 + 1:02d}T{k % 24:02d}:{k % 60:02d}:00" for k in range(n)]
        return comites, dates, list(range(1, n + 1))

    n, done = 16_408, []
    small, big = runs(n // 8), runs(n)
    # eight times the runs: ≈ 8 × the CPU, where counting each label among all gives ≈ 60 × — a ratio, which
    # neither a fast machine (the count under any bound of seconds) nor a loaded one changes
    ratio = growth(lambda: _numbered(*small), lambda: done.append(_numbered(*big)))
    assert ratio < 24, f"8 fois les consolidations : {ratio:.1f} fois le temps"
    labels = done[0]
    assert _numbered(["Comité du 15 mars 2026", None, "Comité du 15/03/2026", "Bilan"],
                     ["2026-03-15T10:00:00", "2026-03-16T11:30:00", "2026-03-16T12:00:00", "2026-03-17T09:00:00"],
                     [1, 2, 3, 4]) == ["Comité du 15 mars 2026 (n° 1)", "Consolidation du 16/03/2026 à 11:30",
                                       "Comité du 15/03/2026 (n° 3)", "Bilan"]
    assert len(labels) == n and labels[1] == "Comité du 02/02/2026 (n° 2)"


def test_consolider_says_a_comite_dated_before_one_recorded(tmp_path, examples, capsys):
    """`--comite "Comité du 12 juin 2026"` run after the comité of 19/06 was recorded (forgotten, or a
    mistyped date): recorded in silence, historique then compared 19/06 to 12/06. The run says it while
    the référent can still check the label; recorded all the same."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    said = []
    for comite in ("Comité du 19/06/2026", "Comité du 12 juin 2026", "Bilan", "Comité du 25/09/2026"):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, "--comite",
                    comite, "--jobs", "1") in (0, 1)
        said.append(capsys.readouterr().err)
    assert [("est antérieur au comité" in s) for s in said] == [False, True, False, False], said
    assert f"acv-xl : attention, le comité « Comité du 12 juin 2026 » est antérieur au comité « Comité du 19/06/2026 » " \
           f"(n° 1), déjà enregistré dans le registre « {reg} » : la consolidation y est enregistrée après lui, et " \
           "« acv-xl historique » les comparera dans cet ordre, celui des consolidations (chacune a lu les classeurs " \
           "tels qu'ils étaient ce jour-là). Vérifiez la date du libellé --comite." in said[1], said[1]
    with sqlite3.connect(reg) as con:
        assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 4


def test_historique_of_consolidations_without_comite(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for k in range(2):
        _run("consolider", folder, "-o", tmp_path / f"c{k}.xlsx", "--registre", reg, "--jobs", "1")
    js = tmp_path / "e.json"
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", js) == 0
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [c["comite"] for c in data["consolidations"]] == [None, None]
    assert [c["perimetre_modifie"] for c in data["consolidations"]] == [False, False]  # the same scope twice
    wb = openpyxl.load_workbook(tmp_path / "e.xlsx")
    labels = [c.value for c in wb["Consolidations"]["C"][3:5]]
    assert all(lab.startswith("Consolidation du ") for lab in labels) and labels[0] != labels[1]
    mv = pd.read_excel(tmp_path / "e.xlsx", sheet_name="Mouvements", header=2, engine="openpyxl")
    assert mv["Mouvement"].dropna().empty  # the same files twice: nothing moved (a note under the table says so)


def _change_acquired_line(path: Path, change) -> str:
    """`change(cell, numeros)` on the plan's first « Acquis »/« Engagé »/« Versé » line of `path`
    (`cell(column)`: that line's cell; `numeros`: the plan's action numbers), saved; its financeur."""
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.T_FINANCEMENTS.sheet]
    rows = ws[ws.tables[layout.T_FINANCEMENTS.name].ref]
    headers = [c.value for c in rows[0]]
    at = {name: headers.index(layout.T_FINANCEMENTS.header(name)) for name in ("numero", "statut", "financeur", "annee")}
    row = next(r for r in rows[1:] if r[at["statut"]].value in layout.STATUTS_ACQUIS)
    financeur = row[at["financeur"]].value
    change(lambda name: row[at[name]], [r[at["numero"]].value for r in rows[1:]])
    wb.save(path)
    return financeur


def _financement_cell(path: Path, column: str, row: int = 0, value=None) -> None:
    """One cell of the plan de financement's table set (openpyxl keeps the table)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.T_FINANCEMENTS.sheet]
    rows = ws[ws.tables[layout.T_FINANCEMENTS.name].ref]
    rows[1 + row][[c.value for c in rows[0]].index(layout.T_FINANCEMENTS.header(column))].value = value
    wb.save(path)


def test_historique_financeurs_add_up_to_each_consolidations_total(tmp_path, examples):
    """A line without a financeur code counts in the financement total (under « Non ventilé » in the
    consolidated workbook) but was in no financeur's row of the évolution: its financeurs fell short
    of the « Financement total » of its own Consolidations sheet."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    _financement_cell(folder / examples["paths"][0].name, "financeur", 0, None)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    js = tmp_path / "e.json"
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", js) == 0
    data = json.loads(js.read_text(encoding="utf-8"))
    totals = [round(sum(v[i]["total"] for v in data["par_financeur"].values()), 2) for i in range(2)]
    cons = _table(tmp_path / "e.xlsx", "Consolidations")
    assert totals == [round(float(t), 2) for t in cons["Financement total (€)"]]
    moved = _lignes(tmp_path / "c2.xlsx")
    sans = moved[moved[layout.T_FINANCEMENTS.header("financeur")].isna()]
    assert len(sans) == 1
    montant = float(sans[layout.T_FINANCEMENTS.header("montant")].iloc[0])
    assert [e["total"] for e in data["par_financeur"]["non ventilé"]] == [0.0, montant]
    fin = _table(tmp_path / "e.xlsx", "Par financeur")
    assert list(fin[fin["Financeur"] == "non ventilé"]["Nom du financeur"]) == ["Lignes sans code de financeur"]


def test_historique_flags_a_pair_of_consolidations_of_different_scope(tmp_path, examples, capsys):
    """A run with `--sans-erreurs` after one without leaves the conventions with errors out: they read
    « Convention non comptée (classeur avec erreurs) », and the pair is flagged (column, note, JSON,
    message), so that a référent does not take a filter for conventions leaving the programme. The
    next run of the same scope is not."""
    from acv_xl.history.historique import PERIMETRE_MODIFIE

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--departement", "62", "--jobs", "1")
    for k in (2, 3):
        _run("consolider", folder, "-o", tmp_path / f"c{k}.xlsx", "--registre", reg, "--departement", "62",
             "--sans-erreurs", "--jobs", "1")
    js, evo = tmp_path / "e.json", tmp_path / "e.xlsx"
    capsys.readouterr()
    assert _run("historique", reg, "-o", evo, "--json", js) == 0
    err = capsys.readouterr().err
    assert "1 paire de consolidations successives ne porte pas sur le même périmètre" in err
    assert "des feuilles Mouvements et Mouvements par financeur" in err  # the column is in both
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [(c["departement"], c["sans_erreurs"], c["perimetre_modifie"]) for c in data["consolidations"]] == [
        ("62", False, False), ("62", True, True), ("62", True, False)]
    mv = pd.read_excel(evo, sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    mv = mv[mv["Mouvement"].notna()]
    retirees = mv[mv["Mouvement"] == "Convention non comptée (classeur avec erreurs)"]
    with_errors = {examples["convs"][p.name].value("acv_id") for p in examples["paths"]
                   if any(f.gravite.value == "erreur" for f in validate_file(p).findings)}
    assert with_errors and set(retirees[H.ACV_ID]) == with_errors
    assert set(retirees[PERIMETRE_MODIFIE]) == {"sans erreurs seulement : Non → Oui"}
    assert mv[PERIMETRE_MODIFIE].notna().all()  # every movement here is of the first pair
    values = [c.value for row in openpyxl.load_workbook(evo)["Mouvements"].iter_rows() for c in row]
    assert any(isinstance(v, str) and v.startswith(f"{PERIMETRE_MODIFIE} : les deux consolidations") for v in values)
    pf = pd.read_excel(evo, sheet_name="Mouvements par financeur", header=2, engine="openpyxl", dtype=object)
    pf = pf[pf[H.FINANCEUR].notna()]
    flagged = pf[pf[PERIMETRE_MODIFIE].notna()]
    assert len(flagged) and set(flagged["Avant"]) == {data_label(evo, 1)} and pf[PERIMETRE_MODIFIE].isna().any()


def test_historique_subtitle_says_when_a_run_had_no_departement_filter(tmp_path, examples):
    """The sheets' subtitle names the départements of the series: a run without `--departement` among
    runs filtered on 62 is said, never « département 62 » alone over a run of every département."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--departement", "62", "--jobs", "1")
    evo = tmp_path / "e.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    subtitle = openpyxl.load_workbook(evo)["Mouvements"]["A2"].value
    assert "— département 62 et consolidations sans filtre de département —" in subtitle, subtitle


def test_historique_of_runs_without_departement_names_the_departements_of_their_conventions(tmp_path, examples):
    """A 62's register consolidated without `--departement` (its own folder: the option is not needed)
    read « tous départements » in every subtitle of its évolution, as a national report, and named DEPT
    « Département » — where each consolidated workbook said « département 62 » and « Département du
    Pas-de-Calais ». The register keeps each run's filter only: the départements are those of the
    conventions the runs counted, read in their summaries, as `consolider` titled them. A région's runs
    name each of its départements; a summary naming no département's code adds none."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for k in (1, 2):
        assert _run("consolider", folder, "-o", tmp_path / f"c{k}.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    assert "— département 62 —" in openpyxl.load_workbook(tmp_path / "c2.xlsx")[Feuille.PAR_FINANCEUR]["A2"].value
    evo = tmp_path / "e.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    wb = openpyxl.load_workbook(evo)
    assert "Évolution Action Cœur de Ville — département 62 — registre" in wb["Mouvements"]["A2"].value
    assert "Département du Pas-de-Calais" in [c.value for row in wb[Feuille.PAR_FINANCEUR].iter_rows() for c in row]
    assert [c.value for c in wb["Consolidations"]["D"] if c.value in ("tous", "62")] == ["tous", "tous"]  # the filter
    with sqlite3.connect(reg) as con:  # a summary naming something else than a code (edited): none added
        con.execute("""UPDATE analyses SET resume = replace(resume, '"departement":"62"', '"departement":"Pas-de-C"')
                       WHERE id = (SELECT MIN(id) FROM analyses)""")
    assert _run("historique", reg, "-o", evo, "--remplacer") in (0, 1)
    assert "— département 62 —" in openpyxl.load_workbook(evo)["Mouvements"]["A2"].value

    (tmp_path / "r").mkdir()
    region, _, _ = _region(tmp_path / "r", examples)
    reg2 = tmp_path / "r2.sqlite"
    assert _run("consolider", region, "-o", tmp_path / "c3.xlsx", "--registre", reg2, "--jobs", "1") in (0, 1)
    assert _run("historique", reg2, "-o", tmp_path / "e2.xlsx") == 0
    assert "— départements 59, 62 —" in openpyxl.load_workbook(tmp_path / "e2.xlsx")["Mouvements"]["A2"].value


def test_departement_062_is_the_departement_62_in_the_workbook_and_the_register(tmp_path, examples):
    """`--departement 062` counted the 62's conventions but titled the sheets « département 062 »,
    named DEPT « Département » instead of « Département du Pas-de-Calais » and recorded « 062 »: the
    historique then saw two départements and a change of scope between two runs of the same one.
    A register already holding both spellings is read as one département."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--departement", "62", "--jobs", "1")
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--departement", "062", "--jobs", "1")
    ws = openpyxl.load_workbook(tmp_path / "c2.xlsx")[Feuille.PAR_FINANCEUR]
    assert "— département 62 —" in ws["A2"].value, ws["A2"].value
    assert "Département du Pas-de-Calais" in [c.value for row in ws.iter_rows() for c in row]
    with sqlite3.connect(reg) as con:
        assert [d for d, in con.execute("SELECT departement FROM consolidations ORDER BY id")] == ["62", "62"]
        con.execute("UPDATE consolidations SET departement = '062' WHERE id = 2")  # as an older acv-xl wrote it
    evo, js = tmp_path / "e.xlsx", tmp_path / "e.json"
    assert _run("historique", reg, "-o", evo, "--json", js) == 0
    assert "— département 62 —" in openpyxl.load_workbook(evo)["Mouvements"]["A2"].value
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [(c["departement"], c["perimetre_modifie"]) for c in data["consolidations"]] == [("62", False), ("62", False)]


def test_a_departement_without_convention_is_refused_without_saying_the_files_were_read(tmp_path, examples, capsys):
    """`--departement 59` over a folder of the 62 after a run recorded in the register: « parmi les
    6 fichiers trouvés », not « lus » (none was read again), and nothing is recorded."""
    folder = _folder(tmp_path, examples)
    reg, n = tmp_path / "r.sqlite", len(examples["paths"])
    _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1")
    before = _dump(reg)
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--departement", "59",
                "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert f"aucune convention du département 59 parmi les {n} fichiers trouvés (départements trouvés : 62)" in err, err
    assert _dump(reg) == before and not (tmp_path / "b.xlsx").exists()


def test_users_read_french_headers_and_the_template_status_words(tmp_path, examples):
    """What a référent opens: no technical key as a column header (the identifier is « Identifiant
    ACV », JSON keeps `acv_id`), and the validation status in the template's own words (« Non
    validé »), a register written before (« jamais validé ») included."""
    import re

    folder = _folder(tmp_path, examples)
    reg, dossier = tmp_path / "r.sqlite", tmp_path / "financeurs"
    for k in (1, 2):
        _run("consolider", folder, "-o", tmp_path / f"c{k}.xlsx", "--registre", reg, "--par-financeur", dossier,
             "--json", tmp_path / f"c{k}.json", "--jobs", "1")
    con = sqlite3.connect(reg)
    with con:  # the first run as an older acv-xl recorded it
        con.execute("UPDATE conventions SET etat = 'jamais validé' WHERE consolidation_id = 1 AND etat = 'non validé'")
    con.close()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", tmp_path / "e.json") == 0
    books = [tmp_path / "c2.xlsx", tmp_path / "e.xlsx", *sorted(dossier.glob("*.xlsx"))]
    seen_id = 0
    for book in books:
        wb = openpyxl.load_workbook(book)
        for ws in wb.worksheets:
            for t in ws.tables.values():
                top = ws[t.ref.split(":")[0]].row
                heads = [c.value for c in ws[top] if c.value is not None]
                assert not [h for h in heads if re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", str(h))], (book.name, ws.title)
                seen_id += H.ACV_ID in heads
    assert H.ACV_ID == "Identifiant ACV" and seen_id >= 8
    assert "acv_id" in json.loads((tmp_path / "c2.json").read_text(encoding="utf-8"))["conventions"][0]
    non_valide = layout.L.STATUT_VALIDATION[0]
    synth = _table(tmp_path / "c2.xlsx", Feuille.SYNTHESE)
    assert set(synth[H.STATUT]) == {non_valide}  # the examples were never validated
    anomalies = pd.read_excel(tmp_path / "c2.xlsx", sheet_name=Feuille.ANOMALIES, header=2, engine="openpyxl", dtype=object)
    con02 = set(anomalies[anomalies[H.CODE] == "CON-02"][H.MESSAGE])
    assert len(con02) == 1 and f"« {non_valide} »" in con02.pop() and not anomalies[H.MESSAGE].str.contains("jamais").any()
    par_conv = pd.read_excel(tmp_path / "e.xlsx", sheet_name="Par convention", header=2, engine="openpyxl", dtype=object)
    assert set(par_conv[H.STATUT].dropna()) == {non_valide}
    etats = {e["etat"] for s in json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))["par_convention"].values()
             for e in s}
    assert etats == {"non validé"}


def data_label(evo: Path, n: int) -> str:
    """The label of the n-th consolidation in the Consolidations sheet."""
    return openpyxl.load_workbook(evo)["Consolidations"].cell(3 + n, 3).value


def test_historique_says_why_its_movements_are_empty(tmp_path, examples, capsys):
    """After the first comité, or when nothing changed, the movement sheets were empty tables with
    no word: they now say why, and so does the command's line."""
    folder = _folder(tmp_path, examples)
    reg, evo = tmp_path / "r.sqlite", tmp_path / "e.xlsx"

    def notes(sheet: str) -> list[str]:
        ws = openpyxl.load_workbook(evo)[sheet]
        return [c.value for row in ws.iter_rows(min_row=4) for c in row if isinstance(c.value, str)]

    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    capsys.readouterr()
    assert _run("historique", reg, "-o", evo) == 0
    seule = "Une seule consolidation dans le registre : les évolutions apparaîtront après la prochaine consolidation"
    assert seule in capsys.readouterr().err
    for sheet in ("Mouvements", "Mouvements par financeur"):
        assert any(n.startswith(seule) for n in notes(sheet)), sheet
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    capsys.readouterr()
    assert _run("historique", reg, "-o", evo) == 0
    aucun = "Aucun mouvement : d'une consolidation à la suivante, les conventions comptées sont les mêmes"
    assert aucun in capsys.readouterr().err and any(n.startswith(aucun) for n in notes("Mouvements"))
    assert not any(n.startswith((aucun, seule)) for n in notes("Mouvements par financeur"))  # its rows say 0


def test_historique_bad_inputs(tmp_path, capsys):
    assert _run("historique", tmp_path / "absent.sqlite", "-o", tmp_path / "e.xlsx") == 2
    assert "« acv-xl consolider DOSSIER -o SORTIE.xlsx --registre " in capsys.readouterr().err  # how to get one
    reg = tmp_path / "vide.sqlite"
    R.Register.open(reg, __version__).close()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 2  # no consolidation yet
    assert _run("historique", reg, "-o", reg) == 2


def test_a_register_and_outputs_named_in_latin1_work_in_both_commands(tmp_path, examples):
    """A register copied from a USB stick (« registre_caf\\xe9.sqlite », Latin-1 bytes on Linux),
    and a consolidated workbook so named: `consolider --registre` records (cold, then warm) and
    `historique` reads it back, the undecodable bytes shown « \\xe9 » in the register and the
    workbook; a missing or damaged one so named is refused in French — never « erreur interne »."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / os.fsdecode(b"registre_caf\xe9.sqlite")
    out = tmp_path / os.fsdecode(b"consolid\xe9.xlsx")

    def acv(*args) -> subprocess.CompletedProcess:
        proc = subprocess.run([*ACV_XL, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=300,
                              env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
        assert "interne" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        return proc

    for run in ("froid", "chaud"):
        proc = acv("consolider", folder, "-o", out, "--registre", reg, "--jobs", "1", "--remplacer")
        assert proc.returncode in (0, 1), proc.stderr
    n = len(examples["paths"])
    assert f"Consolidation : {n} fichiers inchangés repris du registre, {n} conventions comptées" in proc.stderr
    with sqlite3.connect(reg) as con:
        assert [s for s, in con.execute("SELECT sortie FROM consolidations")] == [str(tmp_path / "consolid\\xe9.xlsx")] * 2
    evo, js = tmp_path / "evo.xlsx", tmp_path / "evo.json"
    assert acv("historique", reg, "-o", evo, "--json", js).returncode == 0
    assert "registre « registre_caf\\xe9.sqlite »" in openpyxl.load_workbook(evo).worksheets[0]["A2"].value
    assert len(json.loads(js.read_text(encoding="utf-8"))["consolidations"]) == 2
    absent = tmp_path / os.fsdecode(b"absent_\xe9.sqlite")
    proc = acv("historique", absent, "-o", tmp_path / "e.xlsx")
    assert proc.returncode == 2 and "registre introuvable" in proc.stderr
    abime = tmp_path / os.fsdecode(b"ab\xeeme.sqlite")
    abime.write_bytes(b"pas une base")
    for args in (("historique", abime, "-o", tmp_path / "e.xlsx"),
                 ("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", abime, "--jobs", "1")):
        proc = acv(*args)
        assert proc.returncode == 2 and "ce n'est pas un fichier SQLite" in proc.stderr, proc.stderr
    assert abime.read_bytes() == b"pas une base" and not (tmp_path / "e.xlsx").exists()


def _strings(o) -> list[str]:
    """Every string of a JSON document."""
    if isinstance(o, str):
        return [o]
    items = o.values() if isinstance(o, dict) else o if isinstance(o, list) else ()
    return [t for x in items for t in _strings(x)]


def test_an_unreadable_workbook_named_in_latin1_is_reported_never_an_internal_error(tmp_path, examples, capsys):
    """A damaged workbook named in Latin-1 (« illisibl\\xe9.xlsx », from a zip made on Windows):
    its STR-01 message named it with its undecodable byte, which no workbook, JSON or SQLite can
    hold — `consolider` stopped with « erreur interne » instead of listing it as unreadable. Its
    name is now escaped as in the Fichiers sheet, cold and warm, and historique reads the run."""
    folder = _folder(tmp_path, examples)
    (folder / os.fsdecode(b"illisibl\xe9.xlsx")).write_bytes(b"PK\x03\x04 pas un classeur")
    (folder / os.fsdecode(b"texte_\xe9.xlsm")).write_text("pas un classeur", encoding="utf-8")
    reg, out, js = tmp_path / "r.sqlite", tmp_path / "c.xlsx", tmp_path / "c.json"
    for run in ("froid", "chaud"):
        assert _run("consolider", folder, "-o", out, "--json", js, "--registre", reg, "--jobs", "1") == 1, run
        assert "interne" not in capsys.readouterr().err
        texts = _strings(json.loads(js.read_text(encoding="utf-8")))
        assert any("« illisibl\\xe9.xlsx »" in t for t in texts), run  # STR-01, with the byte escaped
        assert any("« texte_\\xe9.xlsm »" in t for t in texts), run
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0


def test_a_crash_on_a_workbook_named_in_latin1_is_reported_never_an_internal_error(tmp_path, examples, capsys,
                                                                                   monkeypatch):
    """An unexpected failure while reading a file named in Latin-1 is reported as the file's
    (CON-03, « illisible »): its text, which may quote the path, is escaped like the path itself."""
    folder = _folder(tmp_path, examples)
    victim = folder / os.fsdecode(b"r\xe9gion.xlsx")
    shutil.copy2(examples["paths"][0], victim)
    real = C._validate

    def validate(path, data=None):
        if path.name == victim.name:
            raise ValueError(f"lecture impossible de {path}")
        return real(path, data)

    monkeypatch.setattr(C, "_validate", validate)
    reg, out, js = tmp_path / "r.sqlite", tmp_path / "c.xlsx", tmp_path / "c.json"
    assert _run("consolider", folder, "-o", out, "--json", js, "--registre", reg, "--jobs", "1") == 1
    assert "interne" not in capsys.readouterr().err
    assert any("r\\xe9gion.xlsx" in t and "ValueError" in t for t in _strings(json.loads(js.read_text(encoding="utf-8"))))


# ------------------------------------------------------------------ safety of the register
def test_a_register_from_a_newer_acv_xl_is_refused(tmp_path, examples, capsys):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    R.Register.open(reg, __version__).close()
    con = sqlite3.connect(reg)
    con.execute(f"PRAGMA user_version = {R.SCHEMA_VERSION + 1}")
    con.close()
    before = reg.read_bytes()
    assert _run("consolider", folder, "-o", tmp_path / "o.xlsx", "--registre", reg) == 2
    assert "version plus récente d'acv-xl" in capsys.readouterr().err
    assert reg.read_bytes() == before and not (tmp_path / "o.xlsx").exists()


@pytest.mark.parametrize("kind", ["pas_sqlite", "autre_base", "table_absente", "tronque"])
def test_a_damaged_register_is_reported_never_recreated(tmp_path, examples, capsys, kind):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    if kind == "pas_sqlite":
        reg.write_bytes(b"%PDF-1.4 un document renomme")
    elif kind == "autre_base":
        con = sqlite3.connect(reg)
        con.execute("CREATE TABLE clients (nom TEXT)")
        con.commit()
        con.close()
    else:
        _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1")
        if kind == "table_absente":
            con = sqlite3.connect(reg)
            con.execute("DROP TABLE constats")
            con.commit()
            con.close()
        else:
            data = reg.read_bytes()
            reg.write_bytes(data[: len(data) // 3])
    before = reg.read_bytes()
    status = _run("consolider", folder, "-o", tmp_path / "o.xlsx", "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 2, err
    assert "inutilisable" in err and "ni recréé" in err and "Traceback" not in err
    assert ") : il n'a été ni modifié" in err and "  " not in err  # one space before the colon, as French wants
    assert not any(w in err for w in ("database", "malformed", "file is not")), err  # SQLite's words, in French
    assert reg.read_bytes() == before


@pytest.mark.parametrize("version, said", [
    (-1, "numéro de version du schéma invalide : -1"),
    (2, "structure inattendue"),  # its migration to 3 finds the column it adds: SQLite's English
])
def test_a_register_whose_schema_number_was_changed_by_hand_is_refused_in_french(tmp_path, examples, capsys,
                                                                                   version, said):
    """`PRAGMA user_version` set by hand (or in a register made to harm): -1 stopped `consolider` with
    « erreur interne inattendue (KeyError : 0) », 2 on a register of schema 3 with « erreur SQLite :
    duplicate column name: controle ». The register is refused in French, untouched."""
    _, reg = _edited_by_hand(tmp_path, examples, f"PRAGMA user_version = {version}")
    folder = tmp_path / "62"
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert f"le registre « {reg} » est inutilisable ({said}) : il n'a été ni modifié ni recréé." in err, err
    assert reg.read_bytes() == before


@pytest.mark.parametrize("table", ["consolidations", "analyses", "fichiers"])
def test_a_table_made_again_without_its_key_is_refused_never_numbered_none(tmp_path, examples, capsys, table):
    """A table made again by another tool (CREATE TABLE … AS SELECT) keeps its rows but not its key,
    `id INTEGER PRIMARY KEY`: the next consolidation was recorded without a number, and historique
    refused it « consolidation n° None » (or `consolider` stopped, « erreur interne »). Refused at
    once, by both commands, untouched."""
    _, reg = _edited_by_hand(tmp_path, examples, "DROP VIEW lignes_comptees")
    con = sqlite3.connect(reg)
    con.executescript(f"CREATE TABLE copie AS SELECT * FROM {table}; DROP TABLE {table}; "
                      f"ALTER TABLE copie RENAME TO {table};")
    con.close()
    before = reg.read_bytes()
    said = f"est inutilisable (structure inattendue : la table « {table} » a été recréée avec un autre outil, sa " \
           "colonne « id » n'en est plus la clé) : il n'a été ni modifié ni recréé."
    capsys.readouterr()
    assert _run("consolider", tmp_path / "62", "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1") == 2
    assert said in capsys.readouterr().err
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 2
    assert said in capsys.readouterr().err
    assert reg.read_bytes() == before and not (tmp_path / "e.xlsx").exists()


def test_a_register_whose_files_are_numbered_up_to_the_largest_id_is_said_edited(tmp_path, examples, capsys):
    """A register whose `fichiers` were renumbered with another tool up to SQLite's largest integer: the
    next files' numbers, given by acv-xl, did not fit, and `consolider` stopped on « erreur interne
    inattendue (OverflowError) » once its workbook was written. Said as an edited register, nothing
    recorded, the register as it was."""
    big = 2**63 - 1
    folder, reg = _edited_by_hand(tmp_path, examples, f"UPDATE fichiers SET id = {big} WHERE id = 6")
    con = sqlite3.connect(reg)
    for table in ("conventions", "constats_consolidation"):
        con.execute(f"UPDATE {table} SET fichier_id = {big} WHERE fichier_id = 6")
    con.commit()
    con.close()
    before = _dump(reg)
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert f"acv-xl : le registre « {reg} » est inutilisable (la table « fichiers » numérote déjà ses lignes jusqu'au " \
           "plus grand numéro possible : elle a été modifiée avec un autre outil) : il n'a été ni modifié ni recréé. " \
           "Vérifiez le chemin, ou restaurez une sauvegarde du registre. Le classeur consolidé est écrit, mais cette " \
           "consolidation n'est pas enregistrée." in err, err
    assert _dump(reg) == before and (tmp_path / "c2.xlsx").is_file()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_a_named_pipe_given_for_the_register_is_refused_never_waited_on(tmp_path, examples):
    """`--registre` naming a named pipe (or a device): reading its first bytes to tell a register waited
    for ever, `historique` and `consolider` hung. Refused at once, nothing written. Run as processes: without
    the check the test stops on its timeout instead of hanging the suite."""
    folder = _folder(tmp_path, examples)
    os.mkfifo(tube := tmp_path / "r.sqlite")
    for args in (["historique", str(tube), "-o", str(tmp_path / "e.xlsx")],
                 ["consolider", str(folder), "-o", str(tmp_path / "c.xlsx"), "--registre", str(tube), "--jobs", "1"]):
        run = subprocess.run([sys.executable, "-m", "acv_xl", *args], capture_output=True, timeout=60,
                             env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        assert run.returncode == 2
        assert run.stderr.decode("utf-8") == f"acv-xl : le registre « {tube} » n'est pas un fichier ordinaire " \
                                             "(périphérique ou tube nommé) : indiquez le fichier .sqlite du registre.\n"
    assert not (tmp_path / "e.xlsx").exists() and not (tmp_path / "c.xlsx").exists()


def test_a_workbook_given_for_the_register_is_named_for_what_it_is(tmp_path, examples, capsys):
    """`historique comite1.xlsx -o …` (the consolidated workbook given for the register): « un
    classeur Excel, pas un registre », the way to the right file, never « inutilisable… restaurez
    une sauvegarde du registre » about a workbook that is fine."""
    folder = _folder(tmp_path, examples)
    conso = tmp_path / "comite1.xlsx"
    assert _run("consolider", folder, "-o", conso, "--jobs", "1") in (0, 1)
    before = conso.read_bytes()
    for args in (("historique", conso, "-o", tmp_path / "e.xlsx"),
                 ("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", conso, "--jobs", "1")):
        assert _run(*args) == 2
        err = capsys.readouterr().err
        assert f"le fichier « {conso} » est un classeur Excel (.xlsx), pas un registre : indiquez le registre (fichier " \
               ".sqlite) donné à « acv-xl consolider … --registre REGISTRE.sqlite »" in err, err
        assert "sauvegarde" not in err and "inutilisable" not in err
    assert conso.read_bytes() == before and not (tmp_path / "e.xlsx").exists() and not (tmp_path / "c.xlsx").exists()
    # a list saved from LibreOffice, an old .xls: named for what they are (`contract.file_kinds`), never « Excel »
    import test_bad_files as bad

    for make, what in ((bad.make_ods, "un classeur OpenDocument (.ods, LibreOffice)"),
                       (bad.make_xls, "un classeur au format .xls (Excel 97-2003)")):
        other = make(tmp_path)
        assert _run("historique", other, "-o", tmp_path / "e.xlsx") == 2
        err = capsys.readouterr().err
        assert f"le fichier « {other} » est {what}, pas un registre" in err and "sauvegarde" not in err, err


def test_a_new_register_named_like_a_workbook_is_refused_before_anything_is_written(tmp_path, examples, capsys):
    """`--registre evolution.xlsx` (the historique's name typed for the register) created an SQLite
    file named .xlsx that Excel then refuses to open: refused, with the name to give instead."""
    folder = _folder(tmp_path, examples)
    for name in ("evolution.xlsx", "registre.JSON"):
        reg = tmp_path / name
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1") == 2
        err = capsys.readouterr().err
        assert f"donnez-lui l'extension .sqlite (par exemple « {reg.stem}.sqlite »)" in err, err
        assert not reg.exists() and not (tmp_path / "c.xlsx").exists()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", tmp_path / "registre_62",
                "--jobs", "1") in (0, 1)  # no extension at all: a name of the user's own


def test_a_register_in_a_missing_folder_is_said_as_a_missing_output_folder(tmp_path, examples, capsys):
    """« le dossier du registre n'existe pas : manque » — the folder bare, unquoted, and no way out —
    where `-o` and `--json` say « n'existe pas : « manque » (pour « c.xlsx »). Créez-le d'abord… »."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "manque" / "registre.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert (f"le dossier du registre n'existe pas : « {reg.parent} » (pour « registre.sqlite »). Créez-le d'abord, "
            "ou choisissez un autre dossier.") in err, err
    assert not reg.parent.exists() and not (tmp_path / "c.xlsx").exists()


def _consolider_script(folder: Path, out: Path, reg: Path, kill_after: int | None) -> str:
    """A run in a subprocess; `kill_after`: SIGKILL itself at that SQL statement of the recording."""
    return textwrap.dedent(f"""
        import os, signal, sys
        from acv_xl.history import register as R
        kill_after = {kill_after!r}
        if kill_after is not None:
            real = R.Register._insert
            def _insert(self, *args):
                con = self.con
                class Killing:
                    n = 0
                    def __getattr__(self, name):
                        return getattr(con, name)
                    def execute(self, *a):
                        Killing.n += 1
                        if Killing.n >= kill_after:
                            os.kill(os.getpid(), signal.SIGKILL)
                        return con.execute(*a)
                    def executemany(self, *a):
                        Killing.n += 1
                        if Killing.n >= kill_after:
                            os.kill(os.getpid(), signal.SIGKILL)
                        return con.executemany(*a)
                self.con = Killing()
                try:
                    return real(self, *args)
                finally:
                    self.con = con
            R.Register._insert = _insert
        from acv_xl.cli import main
        sys.exit(main(["consolider", {str(folder)!r}, "-o", {str(out)!r}, "--registre", {str(reg)!r}, "--jobs", "1"]))
    """)


def test_kill_9_at_random_moments_leaves_the_register_as_it_was(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1")
    # a changed file, so that the killed runs also insert a new analysis with its lines
    conv = examples["convs"][examples["paths"][0].name].model_copy(deep=True)
    conv.set_value("acv_libelle", "Arras modifiée")
    _write(conv, folder / examples["paths"][0].name)
    before = _dump(reg)
    rng = random.Random(20260612)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # inside the transaction, at random statements (a run with one new analysis makes 8: the
    # consolidation, the files' first id, the analysis, its lines and findings, then the files,
    # conventions and CON findings, one executemany each)
    for k in sorted(rng.sample(range(1, 9), 4)):
        proc = subprocess.run([sys.executable, "-c", _consolider_script(folder, tmp_path / "o.xlsx", reg, k)],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
        assert proc.returncode == -9, proc.stderr
        assert _integrity(reg) == "ok"
        assert _dump(reg) == before, k
    # from outside, at random times of a whole run
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", _consolider_script(folder, tmp_path / "o.xlsx", reg, None)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert _integrity(reg) == "ok"
        after = _dump(reg)
        if after != before:  # the run finished before the kill: exactly one more, complete consolidation
            con = sqlite3.connect(reg)
            n = con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0]
            files = con.execute("SELECT COUNT(*) FROM fichiers WHERE consolidation_id = ?", (n,)).fetchone()[0]
            con.close()
            assert files == len(examples["paths"])
            before = after
    with R.Register.open(reg, __version__) as r:  # still a register acv-xl opens
        assert r.lookup("0" * 64) is None


def test_two_concurrent_runs_both_recorded(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([*ACV_XL, "consolider", str(folder), "-o", str(tmp_path / f"o{i}.xlsx"), "--registre",
                               str(reg), "--jobs", "1"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [1, 1], errs  # the examples hold errors: status 1, both recorded
    assert _integrity(reg) == "ok"
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 2
    assert con.execute("SELECT consolidation_id, COUNT(*) FROM fichiers GROUP BY 1").fetchall() == \
        [(1, len(examples["paths"])), (2, len(examples["paths"]))]
    con.close()


def test_a_register_created_by_another_run_while_this_one_looks_at_it_is_not_said_damaged(tmp_path, monkeypatch):
    """Two runs start on a new register: the second read its version, its id and its tables one
    statement at a time, and the first one's creation, committed in between, showed it tables
    without their id: « pas un registre acv-xl » (status 2). It now reads them in one snapshot."""
    import threading

    reg = tmp_path / "r.sqlite"
    real = sqlite3.connect
    other: list[threading.Thread] = []

    def create():  # the other run, which creates the register
        R.Register.open(reg, __version__).close()

    def connect(*a, **k):
        con = real(*a, **k)

        def trace(sql):
            if not other and "sqlite_master" in sql:
                other.append(threading.Thread(target=create))
                other[0].start()
                other[0].join(0.5)  # done by then, unless this run's snapshot makes it wait

        con.set_trace_callback(trace)
        return con

    monkeypatch.setattr(R.sqlite3, "connect", connect)
    with R.Register.open(reg, __version__) as r:
        assert r.con.execute("PRAGMA user_version").fetchone()[0] == R.SCHEMA_VERSION
    other[0].join(60)
    assert not other[0].is_alive() and _integrity(reg) == "ok"


def test_a_register_busy_too_long_stops_with_a_clear_message(tmp_path, examples, monkeypatch, capsys):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    R.Register.open(reg, __version__).close()
    before = _dump(reg)
    monkeypatch.setattr(R, "ATTENTE", 0.3)
    holder = sqlite3.connect(reg, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another run, recording
    try:
        status = _run("consolider", folder, "-o", tmp_path / "o.xlsx", "--registre", reg, "--jobs", "1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert status == 2 and "occupé par une autre consolidation" in err and "n'est pas enregistrée" in err
    assert _dump(reg) == before


def _consolidated_while_read(folder, out, reg, monkeypatch, capsys) -> tuple[int, str]:
    """`consolider folder -o out --registre reg` while another program holds a read snapshot of the
    register (historique's), the wait cut to 0,3 s: its status and what it said on stderr."""
    monkeypatch.setattr(R, "ATTENTE", 0.3)
    reader = sqlite3.connect(reg, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM consolidations").fetchone()  # historique's snapshot
    capsys.readouterr()
    try:
        status = _run("consolider", folder, "-o", out, "--registre", reg, "--jobs", "1")
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    return status, capsys.readouterr().err


def test_a_register_read_too_long_while_recording_says_it_is_read_not_busy_with_another_run(tmp_path, examples,
                                                                                           monkeypatch, capsys):
    """historique on a large register (or an SQLite tool left on a query) reading while this run
    commits: « occupé par une autre consolidation » sent the référent looking for a colleague's run.
    The lock refused says it is a reader: said so, with what to close."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    before = _dump(reg)
    status, err = _consolidated_while_read(folder, tmp_path / "b.xlsx", reg, monkeypatch, capsys)
    assert status == 2 and f"le registre « {reg} » est lu par un autre programme depuis plus de 0 s (« acv-xl " \
        "historique » sur un grand registre, ou un outil SQLite qui le garde ouvert sur une requête) : la consolidation " \
        "ne peut pas y être enregistrée pendant cette lecture. Le classeur consolidé est écrit, mais cette " \
        "consolidation n'est pas enregistrée : relancez-la quand cette lecture sera terminée (fermez l'outil " \
        "SQLite)." in err, err
    assert "autre consolidation" not in err and _dump(reg) == before


@pytest.mark.parametrize("where", ["commit", "open", "historique", "migration"])
def test_ctrl_c_stops_the_wait_for_another_run_at_once(tmp_path, examples, where):
    """Another run holding the register — historique's snapshot while this run commits or migrates a
    register of an earlier schema, a run committing while this one opens it or historique reads it:
    SQLite's own wait sleeps in C, and a Ctrl-C meanwhile was raised only once it ended, up to 30 s
    later. It now stops the wait at once: « interrompu. », status 130, the register as it was."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    if where == "migration":  # as acv-xl wrote it before the seals (schema 2)
        con = sqlite3.connect(reg)
        con.execute("ALTER TABLE analyses DROP COLUMN controle")
        con.execute("PRAGMA user_version = 2")
        con.close()
    before = _dump(reg)
    command = ["historique", str(reg), "-o", str(tmp_path / "e.xlsx")] if where == "historique" else \
        ["consolider", str(folder), "-o", str(tmp_path / "b.xlsx"), "--registre", str(reg), "--jobs", "1"]
    script = textwrap.dedent(f"""
        import os, signal, sqlite3, sys, threading, time
        from acv_xl.history import register as R
        holder = sqlite3.connect({str(reg)!r}, isolation_level=None)

        def ctrl_c():
            with open({str(tmp_path / "ctrl-c")!r}, "w") as fh:
                fh.write(repr(time.time()))
            os.kill(os.getpid(), signal.SIGINT)

        def hold(sql):  # another run's lock, then the référent's Ctrl-C a second later
            holder.execute(sql)
            holder.execute("SELECT COUNT(*) FROM consolidations").fetchone()
            threading.Timer(1.0, ctrl_c).start()

        if {where!r} == "migration":  # historique reading while this run brings the register to schema 3
            hold("BEGIN")
        elif {where!r} == "commit":  # historique reading while this run commits
            real = R.PendingRecord.finish

            def finish(self):
                hold("BEGIN")
                return real(self)

            R.PendingRecord.finish = finish
        else:  # a run committing (its exclusive lock) as this one opens the register
            hold("BEGIN EXCLUSIVE")
        from acv_xl.cli import main
        sys.exit(main({command!r}, program=True))
    """)
    proc = _interruptible(script)
    after = time.time() - float((tmp_path / "ctrl-c").read_text())
    assert proc.returncode == 130 and "acv-xl : interrompu." in proc.stderr, (proc.returncode, proc.stderr)
    assert after < 10, proc.stderr  # (SQLite's wait: 30 s)
    assert _dump(reg) == before
    assert (tmp_path / "b.xlsx").exists() == (where == "commit")  # stopped before anything was read otherwise


def test_a_register_busy_while_the_run_writes_its_outputs_is_waited_for_from_their_end(tmp_path, examples,
                                                                                      monkeypatch, capsys):
    """Another run holding the register while this one writes its workbook (and extracts, waiting for
    the other's: a minute for a large département): the wait of `ATTENTE` began with the writing, and
    this run gave up unrecorded (« occupé … depuis plus de 30 s », status 2) though the register was
    free by the time its outputs were written. It is counted from their end."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    R.Register.open(reg, __version__).close()
    monkeypatch.setattr(R, "ATTENTE", 0.5)
    holder = sqlite3.connect(reg, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another run, recording
    real_write = C.write_workbook

    def write(result, out):  # this run's writing outlasts ATTENTE; the other run commits meanwhile
        time.sleep(1.5)
        holder.execute("ROLLBACK")
        return real_write(result, out)

    monkeypatch.setattr(C, "write_workbook", write)
    try:
        status = _run("consolider", folder, "-o", tmp_path / "o.xlsx", "--registre", reg, "--jobs", "1")
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert status in (0, 1) and "enregistrée dans le registre" in err, err
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 1
    con.close()


def test_a_register_without_room_left_is_said_full_never_damaged(tmp_path, examples, monkeypatch, capsys):
    """No room left to record (the disk, a share's quota): SQLite's « database or disk is full » was
    reported as a damaged register with « restaurez une sauvegarde » — which would lose the comités
    recorded since the backup. It is said as it is, and the register is left as it was."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") == 1
    before = _dump(reg)
    conv = examples["convs"][examples["paths"][0].name].model_copy(deep=True)
    conv.set_value("acv_libelle", "Arras (nouvelle version)")
    _write(conv, folder / examples["paths"][0].name)  # a content to record
    real = R.Register.open

    def full(*a, **k):  # the file may not grow any more: SQLite's own « disk is full »
        r = real(*a, **k)
        pages = r.con.execute("PRAGMA page_count").fetchone()[0]
        r.con.execute(f"PRAGMA max_page_count = {pages}")
        return r

    monkeypatch.setattr(R.Register, "open", full)
    capsys.readouterr()
    status = _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 2 and "plus de place sur le disque du registre" in err, err
    assert "inutilisable" not in err and "sauvegarde" not in err and "Le classeur consolidé est écrit." in err
    assert (tmp_path / "b.xlsx").is_file()
    assert _dump(reg) == before and not Path(f"{reg}-journal").exists()


def test_a_full_disk_after_the_workbook_says_what_is_written_and_what_is_not(tmp_path, examples, monkeypatch,
                                                                             capsys):
    """The disk full while writing the extracts: the message said only « impossible d'écrire
    financeur_ANAH.xlsx », though the consolidated workbook and its JSON were written (replacing the
    previous ones) and the run was not recorded in the register."""
    import errno

    from acv_xl.outputs import consolidation_extracts as X
    from acv_xl.outputs.atomic import OutputError

    folder = _folder(tmp_path, examples)
    reg, fin = tmp_path / "r.sqlite", tmp_path / "fin"

    def full(result, where, groups=None):
        raise OutputError(where / "financeur_ANAH.xlsx", OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(X, "write_extracts", full)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", tmp_path / "c.json", "--par-financeur",
                  fin, "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 2 and "financeur_ANAH.xlsx : le disque est plein." in err, err
    assert "Le classeur consolidé et son résumé JSON sont écrits ; les extraits par financeur sont incomplets et la " \
        "consolidation n'est pas enregistrée dans le registre" in err
    assert (tmp_path / "c.xlsx").is_file() and (tmp_path / "c.json").is_file()
    assert not reg.exists()  # the new register this run made, recording nothing, is not left behind


def test_a_full_disk_at_the_json_says_the_extracts_are_not_written(tmp_path, examples, monkeypatch, capsys):
    """The JSON failing, the extracts are never begun: the folder keeps the previous run's, whole
    and out of date — « incomplets » told the user some of them were this run's."""
    import errno

    from acv_xl.outputs import consolidation as C
    from acv_xl.outputs.atomic import OutputError

    folder = _folder(tmp_path, examples)
    real = C._atomic

    def full(path, write):
        if Path(path).suffix == ".json":
            raise OutputError(Path(path), OSError(errno.ENOSPC, "No space left on device"))
        return real(path, write)

    monkeypatch.setattr(C, "_atomic", full)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", tmp_path / "c.json", "--par-financeur",
                  tmp_path / "fin", "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 2 and "c.json : le disque est plein." in err, err
    assert "Le classeur consolidé est écrit ; les extraits par financeur ne sont pas écrits" in err, err
    assert "incomplets" not in err


def test_a_read_only_register_is_said_read_only_never_damaged(tmp_path, examples, monkeypatch, capsys):
    """A register copied from a CD or a colleague's share, or marked read-only: `consolider` says so
    before reading the folder (never « inutilisable… restaurez une sauvegarde », never a silent
    loss of the run), or, when SQLite alone finds out while recording, says that the consolidated
    workbook is written but the run not recorded. `historique` only reads it: it works."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    capsys.readouterr()
    before = _dump(reg)
    # the permission seen by the system (root, who runs these tests, may write anyway)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: (mode != os.W_OK or Path(p) != reg) and real_access(p, mode, **k))
    assert _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "est en lecture seule : la consolidation ne peut pas y être enregistrée" in err, err
    assert "restaurez une sauvegarde" not in err and "n'est pas enregistrée" not in err
    assert not (tmp_path / "b.xlsx").exists()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    monkeypatch.undo()
    # SQLite opening it read-only (what a read-only medium gives), found while recording
    real_connect = sqlite3.connect
    monkeypatch.setattr(R.sqlite3, "connect", lambda p, *a, **k: real_connect(f"file:{p}?mode=ro", *a, uri=True, **k))
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1") == 2
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "est en lecture seule" in err and "Le classeur consolidé est écrit, mais cette consolidation n'est pas " \
        "enregistrée." in err and "restaurez une sauvegarde" not in err, err
    assert (tmp_path / "c.xlsx").exists() and _dump(reg) == before


def test_a_register_that_cannot_be_created_or_opened_is_said_in_french(tmp_path, examples, monkeypatch, capsys):
    """A new register in a folder the user cannot write to, SQLite refusing to open a file, a
    read-only medium while the register is being created: French, the way out, status 2 — never
    SQLite's English (« unable to open database file »), never « restaurez une sauvegarde »."""
    folder = _folder(tmp_path, examples)
    (tmp_path / "partage").mkdir()
    reg = tmp_path / "partage" / "r.sqlite"
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: (not (mode & os.W_OK) or Path(p) != reg.parent)
                        and real_access(p, mode, **k))
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert f"impossible de créer le registre « {reg} » : vous ne pouvez pas écrire dans le dossier {reg.parent}." \
        in err, err
    monkeypatch.undo()
    real_connect = sqlite3.connect

    def refused(p, *a, **k):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(R.sqlite3, "connect", refused)
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert f"impossible de créer le registre « {reg} » (impossible d'ouvrir le fichier) : vérifiez que vous pouvez " \
        "écrire dans le dossier" in err and "unable" not in err, err
    reg.write_bytes(b"")  # an empty file (a run killed as it created it), on a medium that refuses writes
    monkeypatch.setattr(R.sqlite3, "connect", lambda p, *a, **k: real_connect(f"file:{p}?mode=ro", *a, uri=True, **k))
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "est en lecture seule" in err and "sauvegarde" not in err, err
    assert not (tmp_path / "a.xlsx").exists() and reg.read_bytes() == b""


@pytest.mark.parametrize("why", ["database or disk is full", "attempt to write a readonly database"])
def test_a_new_register_that_cannot_be_created_leaves_no_empty_file(tmp_path, examples, monkeypatch, capsys, why):
    """A new register on a full disk (or a medium refusing writes) as it is created: « le registre n'a
    pas été modifié » was said, and the empty file SQLite makes at its connection stayed at the path —
    the next run took it for a register. Nothing is left; an empty file that was there stays."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"

    def full(self, where):
        raise sqlite3.OperationalError(why)

    monkeypatch.setattr(R.Register, "_migrate", full)
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") == 2
    assert ("plus de place" if "full" in why else "lecture seule") in capsys.readouterr().err
    assert not reg.exists()
    reg.write_bytes(b"")  # an empty file given: the user's
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") == 2
    assert reg.is_file()


def _left_in_wal(tmp_path: Path, examples) -> tuple[Path, Path]:
    """(folder, register) of one consolidation of the examples, the register then switched to WAL by an
    SQLite tool (kept in the file)."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    con = sqlite3.connect(reg)
    assert con.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    con.close()
    return folder, reg


def _switch_back_refused(monkeypatch, why: str) -> None:
    """The register's switch back to the rollback journal refused by SQLite with `why`."""
    real_execute, real_connect = sqlite3.Connection.execute, sqlite3.connect

    class Con(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql == "PRAGMA journal_mode = DELETE":
                raise sqlite3.OperationalError(why)
            return real_execute(self, sql, *args)

    monkeypatch.setattr(R.sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=Con, **k))


def test_a_register_left_in_wal_mode_by_another_tool_is_put_back_in_the_rollback_journal(tmp_path, examples):
    """A register switched to WAL by an SQLite tool (kept in the file): acv-xl went on in WAL — not safe on
    a network share, the last consolidations in a « -wal » file a copy can miss, and on a read-only
    medium historique said it « inutilisable ». The next consolidation puts it back in the journal the
    documentation promises."""
    folder, reg = _left_in_wal(tmp_path, examples)
    assert _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    con = sqlite3.connect(reg)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 2
    con.close()
    assert not Path(f"{reg}-wal").exists()


def test_a_register_in_wal_mode_that_cannot_be_switched_back_is_used_as_it_is(tmp_path, examples, monkeypatch,
                                                                               capsys):
    """The switch back to the rollback journal refused for another cause than a program holding the
    register (a disk I/O error on the share): the run stopped at once, the register said « inutilisable »,
    « restaurez une sauvegarde » — which loses the comités recorded since, for a register that was fine.
    It stays in WAL for this run, which is recorded; the next one switches it."""
    folder, reg = _left_in_wal(tmp_path, examples)
    with monkeypatch.context() as m:
        _switch_back_refused(m, "disk I/O error")
        capsys.readouterr()
        status = _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status in (0, 1) and "inutilisable" not in err, err
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 2
    con.close()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    con = sqlite3.connect(reg)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()


@pytest.mark.parametrize("why, said", [
    ("database or disk is full", "plus de place sur le disque du registre"),
    ("attempt to write a readonly database", "est en lecture seule : la consolidation ne peut pas y être enregistrée"),
])
def test_a_register_in_wal_mode_on_a_full_or_read_only_disk_is_said_at_once(tmp_path, examples, monkeypatch, capsys,
                                                                             why, said):
    """The switch back to the rollback journal refused for want of room, or by a medium refusing writes:
    said at once, as before the switch's other refusals were let go — not after the whole folder was
    read, to find then that the consolidation cannot be recorded."""
    folder, reg = _left_in_wal(tmp_path, examples)
    _switch_back_refused(monkeypatch, why)
    capsys.readouterr()
    status = _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 2 and said in err and "inutilisable" not in err, err
    assert not (tmp_path / "b.xlsx").exists()
    monkeypatch.undo()
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 1
    con.close()


def test_the_register_is_documented(tmp_path):
    doc = (ROOT / "docs" / "registre.md").read_text(encoding="utf-8")
    reg = tmp_path / "r.sqlite"
    R.Register.open(reg, __version__).close()
    con = sqlite3.connect(reg)
    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"):
        assert f"`{table}`" in doc, table
        for col in con.execute(f"PRAGMA table_info({table})"):
            assert f"`{col[1]}`" in doc, (table, col[1])
    con.close()
    assert f"`PRAGMA user_version` = {R.SCHEMA_VERSION}" in doc


# ------------------------------------------------------------------ extracts, readiness, numbers
def test_each_extract_totals_equal_the_lignes_of_that_financeur(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    out, dossier = tmp_path / "c.xlsx", tmp_path / "extraits"
    _run("consolider", folder, "-o", out, "--par-financeur", dossier, "--jobs", "1")
    lignes = _lignes(out)
    expected: dict = defaultdict(Counter)
    for acv, code, m in zip(lignes[H.ACV_ID], lignes["Financeur"], lignes["Montant (€)"]):
        expected[_groupe(code)][acv] += round(float(m) * 100)
    files = {p.name for p in dossier.iterdir()}
    assert files == {"financeur_" + g.replace(" ", "_") + ".xlsx" for g in expected}
    for g, per_conv in expected.items():
        path = dossier / ("financeur_" + g.replace(" ", "_") + ".xlsx")
        ext = pd.read_excel(path, sheet_name="Lignes", header=2, engine="openpyxl", dtype=object)
        total = ext[ext[H.ACV_ID] == "Total"]
        ext = ext[ext[H.ACV_ID] != "Total"]
        assert sum(round(float(m) * 100) for m in ext["Montant (€)"]) == sum(per_conv.values())
        assert round(float(total.iloc[0]["Montant (€)"]) * 100) == sum(per_conv.values())
        assert {_groupe(c) for c in ext["Financeur"]} == {g}
        # each line carries its action's context
        assert ext[layout.T_ACTIONS.header("maturite")].notna().any()
        conv = pd.read_excel(path, sheet_name="Totaux", header=2, engine="openpyxl", dtype=object)
        conv = conv[conv[H.ACV_ID].notna() & (conv[H.ACV_ID] != "Total")].iloc[: len(per_conv)]
        assert {a: round(float(v) * 100) for a, v in zip(conv[H.ACV_ID], conv[H.TOTAL])} == dict(per_conv)
        # printed whole: the names wrap (they were cut at their column's edge), and the libellés'
        # column keeps its width under the next tables of Totaux (it took their totals' 18)
        wb = openpyxl.load_workbook(path)
        ws = wb["Lignes"]
        heads = [c.value for c in ws[3]]
        col = heads.index(H.INTITULE) + 1
        assert all(ws.cell(r, col).alignment.wrap_text for r in range(4, ws.max_row) if ws.cell(r, col).value)
        wt = wb["Totaux"]
        assert wt.column_dimensions["B"].width >= 30 and wt.cell(4, 2).alignment.wrap_text
    # an extract is never read as a convention by a later consolidation
    res = C.consolidate([folder, dossier], tmp_path / "c2.xlsx", jobs=1)
    assert all(v.motif == C.MOTIF_CONSOLIDATION for f, v in zip(res.files, res.verdicts) if "extraits" in f.path)


def test_a_report_of_another_kind_is_not_replaced_without_remplacer(tmp_path, examples, capsys):
    """`historique … -o comite_juin.xlsx`, the name of the June comité's consolidation: it silently
    replaced that consolidation (any acv-xl report could be replaced). A report of another kind is
    now kept unless `--remplacer`; re-running a command over its own previous report still replaces
    it, as before."""
    folder = _folder(tmp_path, examples)
    reg, conso, evo = tmp_path / "r.sqlite", tmp_path / "comite_juin.xlsx", tmp_path / "evolution.xlsx"
    assert _run("consolider", folder, "-o", conso, "--registre", reg, "--jobs", "1") in (0, 1)
    assert _run("historique", reg, "-o", evo) == 0
    kept = conso.read_bytes(), evo.read_bytes()
    capsys.readouterr()
    assert _run("historique", reg, "-o", conso) == 2
    err = capsys.readouterr().err
    assert f"« {conso} » existe déjà et c'est un classeur consolidé (acv-xl consolider) : il n'est pas remplacé" in err
    assert _run("consolider", folder, "-o", evo, "--jobs", "1") == 2
    assert "c'est l'évolution d'un département (acv-xl historique) : il n'est pas remplacé" in capsys.readouterr().err
    assert (conso.read_bytes(), evo.read_bytes()) == kept
    assert _run("historique", reg, "-o", evo) == 0  # its own previous report: replaced
    assert _run("consolider", folder, "-o", conso, "--jobs", "1") in (0, 1)
    assert _run("historique", reg, "-o", conso, "--remplacer") == 0
    from acv_xl.outputs.output_guard import derived_kind

    assert derived_kind(conso) == "historique"


def test_annexe_and_comparer_do_not_replace_a_report_of_another_kind(tmp_path, examples, capsys):
    """`annexe … -o comite_juin.xlsx` or `comparer … -o comite_juin.xlsx` silently replaced the
    consolidation of the June comité, as `historique` did: each keeps a report of another kind
    unless `--remplacer`, and still replaces its own previous report."""
    folder = _folder(tmp_path, examples)
    conso = tmp_path / "comite_juin.xlsx"
    assert _run("consolider", folder, "-o", conso, "--jobs", "1") in (0, 1)
    kept = conso.read_bytes()
    a, b = examples["paths"][0], tmp_path / "apres.xlsx"
    shutil.copy2(a, b)  # the same convention, after
    capsys.readouterr()
    assert _run("annexe", a, "-o", conso, "--brouillon") == 2
    assert "c'est un classeur consolidé (acv-xl consolider) : il n'est pas remplacé" in capsys.readouterr().err
    assert _run("comparer", a, b, "-o", conso) == 2
    assert "c'est un classeur consolidé (acv-xl consolider) : il n'est pas remplacé" in capsys.readouterr().err
    assert conso.read_bytes() == kept
    annexe, ecarts = tmp_path / "annexe.xlsx", tmp_path / "ecarts.xlsx"
    for _ in range(2):  # the second time over its own previous report: replaced
        assert _run("annexe", a, "-o", annexe, "--brouillon") == 0
        assert _run("comparer", a, b, "-o", ecarts) in (0, 1)
    assert _run("annexe", a, "-o", conso, "--brouillon", "--remplacer") == 0


def test_an_extract_never_overwrites_an_input(tmp_path, examples, capsys):
    folder = _folder(tmp_path, examples)
    victim = folder / "financeur_ETAT.xlsx"
    shutil.copy2(examples["paths"][0], victim)
    before = victim.read_bytes()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", folder, "--jobs", "1") == 2
    assert "aussi un fichier lu" in capsys.readouterr().err and victim.read_bytes() == before
    assert not (tmp_path / "c.xlsx").exists()  # refused before anything is written


def test_extracts_kept_inside_the_departement_s_folder_are_replaced_at_the_next_comite(tmp_path, examples, capsys):
    """`--par-financeur DOSSIER/extraits` (or the folder itself), as a référent keeps one folder per
    département: the next consolidation found the previous extracts among the workbooks and refused
    them as « un fichier lu par cette commande » (status 2, « choisissez un autre nom de fichier »,
    which `--par-financeur` cannot): every comité after the first stopped. They are now this run's
    own outputs, as the previous `-o` is: replaced, neither read nor listed."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for dossier in (folder / "extraits", folder):
        for _comite in range(2):
            capsys.readouterr()
            assert _run("consolider", folder, "-o", folder / "consolidation.xlsx", "--par-financeur", dossier,
                        "--registre", reg, "--jobs", "1") in (0, 1), capsys.readouterr().err
            line = capsys.readouterr().err
            assert (dossier / "financeur_ETAT.xlsx").exists()
            # the extracts this run replaces are not among the files seen (those of the other folder are)
            n = len(examples["paths"]) + (12 if dossier == folder else 0)
            assert f"Consolidation : {n} fichiers" in line, line
    # a user's workbook of a like name, without acv-xl's mark, is still never replaced
    user = folder / "financeur_CDC.xlsx"
    shutil.copy2(examples["paths"][0], user)
    before = user.read_bytes()
    assert _run("consolider", folder, "-o", folder / "consolidation.xlsx", "--par-financeur", folder,
                "--jobs", "1") == 2
    assert "aussi un fichier lu" in capsys.readouterr().err and user.read_bytes() == before


def _extract_comites(dossier: Path) -> set[str]:
    """The comité each extract of `dossier` says it was written for (its subtitle)."""
    return {re.search(r"Comité \S+ \S+", openpyxl.load_workbook(p, read_only=True)["Lignes"]["A2"].value).group(0)
            for p in dossier.glob("financeur_*.xlsx")}


def test_two_runs_writing_extracts_in_one_folder_never_mix_them(tmp_path, examples, capsys):
    """Two consolidations at once (two colleagues, a scheduled task) with one `--par-financeur`
    folder: each replaced the extracts one file after the other, and the folder was left with some
    of one comité's extracts and some of the other's. The second waits for the first to finish."""
    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    slow = textwrap.dedent(f"""
        import sys, time
        from acv_xl.outputs import consolidation_extracts as E
        real = E.atomic_write
        def slow(target, write):
            real(target, write)
            time.sleep(0.5)  # one extract after the other, as on a slow share
        E.atomic_write = slow
        from acv_xl.cli import main
        sys.exit(main(["consolider", {str(folder)!r}, "-o", {str(tmp_path / "a.xlsx")!r}, "--par-financeur",
                       {str(dossier)!r}, "--jobs", "1", "--comite", "Comité du 12/06/2026"]))
    """)
    first = subprocess.Popen([sys.executable, "-c", slow], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(dossier.glob("financeur_*.xlsx")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(dossier.glob("financeur_*.xlsx")), first.communicate()[1]
    status = _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--par-financeur", dossier, "--jobs", "1",
                  "--comite", "Comité du 19/06/2026")
    assert status in (0, 1), capsys.readouterr().err
    assert first.wait(120) in (0, 1), first.communicate()[1]
    assert _extract_comites(dossier) == {"Comité du 19/06/2026"}
    assert len(list(dossier.glob("financeur_*.xlsx"))) == 12 and not list(dossier.glob(".*"))


def test_a_run_that_cannot_write_its_extracts_for_another_says_so(tmp_path, examples, capsys, monkeypatch):
    """Past the wait, the run stops with what is written and what is not; the extracts already in
    the folder are the other run's, whole."""
    from acv_xl.outputs import consolidation_extracts as E

    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--par-financeur", dossier, "--jobs", "1",
                "--comite", "Comité du 12/06/2026") in (0, 1)
    monkeypatch.setattr(E, "ATTENTE", 1.0)
    capsys.readouterr()
    with E.extracts_lock(dossier):  # another run, writing
        status = _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--par-financeur", dossier, "--jobs", "1",
                      "--comite", "Comité du 19/06/2026")
    err = capsys.readouterr().err
    # the way out is to wait for the other run: there is no « cause » to correct
    assert status == 2 and f"un autre « acv-xl consolider » écrit ses extraits par financeur dans « {dossier} » " \
        "depuis plus de 1 s : cette consolidation n'y écrit pas les siens, pour que le dossier ne mêle pas les " \
        "extraits de deux consolidations. Le classeur consolidé est écrit ; les extraits par financeur ne sont pas " \
        "écrits : attendez la fin de l'autre consolidation, puis relancez celle-ci." in err, err
    assert _extract_comites(dossier) == {"Comité du 12/06/2026"} and (tmp_path / "b.xlsx").exists()
    assert not list(dossier.glob(".*"))


def test_an_extracts_folder_that_cannot_be_written_is_named_never_its_lock_file(tmp_path, examples, capsys,
                                                                               monkeypatch):
    """A folder of extracts where the run may not write (a new folder under a parent the user cannot
    write to): the message named acv-xl's internal lock file, « …/.acv-xl-extraits.verrou », which the
    user never asked for; it names the folder given to --par-financeur."""
    from acv_xl.outputs import consolidation_extracts as E

    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    real_open = os.open

    def refused(path, *args, **kwargs):
        if str(path).endswith(E.VERROU):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(E.os, "open", refused)
    status = _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--par-financeur", dossier, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 2 and f"permission refusée : impossible d'écrire {dossier} " in err, err
    assert E.VERROU not in err


@pytest.mark.parametrize("held", [False, True])
def test_a_lock_file_left_by_another_users_run_is_waited_for_or_taken_never_said_unwritable(
        tmp_path, examples, capsys, monkeypatch, held):
    """A colleague's run on a shared folder left its lock file (killed before it could remove it, or
    still writing): readable by others, not writable (its owner's, 0644). This run said « permission
    refusée : impossible d'écrire » the folder, where it may write; it opens the file to read — a lock
    needs no more — and takes the lock that run left, or waits for it while that run holds it."""
    import fcntl
    import threading

    from acv_xl.outputs import consolidation_extracts as E

    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    dossier.mkdir()
    lock = dossier / E.VERROU
    lock.write_bytes(b"")
    real_open = os.open

    def owners_only(path, flags, *args, **kwargs):  # as for a user who is not its owner (the tests run as root)
        if str(path) == str(lock) and flags & (os.O_RDWR | os.O_WRONLY):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(E.os, "open", owners_only)
    if held:  # the colleague's run, still writing: it ends a moment later
        other = real_open(lock, os.O_RDONLY)
        fcntl.flock(other, fcntl.LOCK_EX)
        threading.Timer(1.0, os.close, (other,)).start()
    status = _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--par-financeur", dossier, "--jobs", "1")
    err = capsys.readouterr().err
    assert status in (0, 1) and "extraits par financeur dans" in err, err
    assert (dossier / "financeur_ETAT.xlsx").is_file() and not lock.exists()


class _Msvcrt:
    """Windows' `msvcrt.locking` as its documentation says it behaves: a byte locked by one open file
    is refused to any other (EACCES), and a lock left at `close` is freed « in a time that depends on
    the system » — here, never: only LK_UNLCK frees it at once."""

    LK_UNLCK, LK_NBLCK = 0, 2

    def __init__(self):
        self.held: dict[tuple[int, int], int] = {}  # (device, inode) → the descriptor holding it

    def locking(self, fd, mode, nbytes):
        import errno

        assert nbytes == 1 and os.lseek(fd, 0, os.SEEK_CUR) == 0  # the first byte: the one every run locks
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        if mode == self.LK_NBLCK:
            if key in self.held:
                raise OSError(errno.EACCES, "Permission denied")
            self.held[key] = fd
        elif mode == self.LK_UNLCK:
            if self.held.get(key) != fd:
                raise OSError(errno.EACCES, "Permission denied")
            del self.held[key]


def test_the_extracts_lock_on_windows_is_taken_refused_and_freed_as_msvcrt_says(tmp_path, monkeypatch):
    """The Windows branch of the extracts' lock (`msvcrt`), run on Linux with `msvcrt` as documented:
    a second run waits, then gives up (ExtractsBusy); the lock is freed for the next run as soon as the
    first one is done — it was left to `close`, which Windows frees « in a time that depends on the
    system », and the next run could wait for it or give up."""
    import types

    from acv_xl.outputs import consolidation_extracts as E

    fake = _Msvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setattr(E, "os", types.SimpleNamespace(**{**vars(os), "name": "nt"}))
    dossier = tmp_path / "extraits"
    with E.extracts_lock(dossier):
        assert len(fake.held) == 1
        with pytest.raises(E.ExtractsBusy):  # another run, while this one writes
            with E.extracts_lock(dossier, wait=0.5):
                pass
    assert fake.held == {} and not (dossier / E.VERROU).exists()
    with E.extracts_lock(dossier, wait=0):  # the next run: at once
        pass
    assert fake.held == {} and not list(dossier.iterdir())


def test_extracts_on_a_share_without_locks_are_written_unguarded(tmp_path, examples, capsys, monkeypatch):
    """A network share whose file system has no locks (flock: « No locks available »): the extracts were
    refused after 30 s as if another run held the folder — never written there. They are written as
    before the lock, unguarded."""
    import errno
    import fcntl

    from acv_xl.outputs import consolidation_extracts as E

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setattr(E, "ATTENTE", 1.0)
    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", dossier, "--jobs", "1") in (0, 1), \
        capsys.readouterr().err
    assert len(list(dossier.glob("financeur_*.xlsx"))) == 12 and not list(dossier.glob(".*"))


def test_an_extract_never_replaces_a_users_file_without_remplacer(tmp_path, examples, capsys):
    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    dossier.mkdir()
    user = dossier / "financeur_CDC.xlsx"  # the user's own workbook, by chance of the same name
    shutil.copy2(examples["paths"][0], user)
    before = user.read_bytes()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", dossier, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "financeur_CDC.xlsx" in err and "--remplacer" in err and user.read_bytes() == before
    assert not (tmp_path / "c.xlsx").exists()
    # its own previous extracts are replaced without a word; the user's file only with --remplacer
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", dossier, "--jobs", "1",
                "--remplacer") in (0, 1)
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", dossier, "--jobs", "1") in (0, 1)


def test_an_extract_of_a_financeur_gone_since_is_removed_never_a_users_file(tmp_path, examples, capsys):
    """Boulogne's « FEDER » makes `financeur_code_inconnu.xlsx`; once the code is corrected (here
    the workbook is gone), the next comité's run removes that stale extract, which would pass for
    this comité's, and says so — a user's file of a like name stays."""
    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", dossier, "--jobs", "1") in (0, 1)
    stale = dossier / "financeur_code_inconnu.xlsx"
    assert stale.exists()
    user = dossier / "financeur_notes.xlsx"
    shutil.copy2(examples["paths"][0], user)
    (folder / "boulogne-sur-mer.xlsx").unlink()
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", dossier, "--jobs", "1") in (0, 1)
    out = capsys.readouterr().err  # the summary line, on stderr like every line of consolider
    assert not stale.exists() and user.exists() and (dossier / "financeur_ETAT.xlsx").exists()
    assert "1 extrait d'une consolidation précédente supprimé (financeur absent de celle-ci) : " \
           "financeur_code_inconnu.xlsx" in out


def _bytes_of(dossier: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(dossier.iterdir()) if p.is_file()}


def test_extracts_of_another_departement_are_neither_replaced_nor_removed(tmp_path, examples, capsys):
    """The région's référent runs the 62, then the 59, with one folder of extracts: the 59's replaced
    every financeur the two share and removed the 62's others (`financeur_code_inconnu.xlsx`) as « d'une
    consolidation précédente » — the 62's extracts lost, one line said. Refused now, nothing written,
    the 62's named and the way out given; a folder per département works, and --remplacer replaces
    them on purpose (the 62's stale ones removed with them)."""
    region, pas_de_calais, nord, dossier = _region_with_62_extracts(tmp_path, examples)
    before = _bytes_of(dossier)
    assert "financeur_code_inconnu.xlsx" in before
    capsys.readouterr()
    args = ("consolider", nord, "-o", region / "c59.xlsx", "--departement", "59", "--par-financeur", dossier,
            "--jobs", "1")
    assert _run(*args) == 2
    err = capsys.readouterr().err
    assert f"le dossier --par-financeur « {dossier} » contient {len(before)} extraits par financeur du " \
           "département 62 (financeur_" in err
    assert "cette consolidation du département 59 ne les remplace ni ne les supprime, et rien n'est écrit. " \
           "Écrivez les extraits de chaque département dans son propre dossier (par exemple --par-financeur " \
           f"« {dossier / '59'} »), ou ajoutez --remplacer pour remplacer ces extraits par ceux de cette " \
           "consolidation." in err
    assert "Traceback" not in err and _bytes_of(dossier) == before and not (region / "c59.xlsx").exists()
    # a folder per département: both kept
    assert _run("consolider", nord, "-o", region / "c59.xlsx", "--departement", "59", "--par-financeur",
                dossier / "59", "--jobs", "1") in (0, 1)
    assert _bytes_of(dossier) == before
    # the 62's next comité: its own extracts replaced, as before (each file written anew: the same bytes
    # when both runs fall in one second, the generation time being to the second)
    def stamps() -> dict[str, tuple[int, int]]:
        return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in dossier.glob("financeur_*.xlsx")}

    old = stamps()
    assert _run("consolider", pas_de_calais, "-o", region / "c62.xlsx", "--departement", "062",
                "--par-financeur", dossier, "--jobs", "1") in (0, 1)
    new = stamps()
    assert set(new) == set(before) and all(new[name] != old[name] for name in new)
    # --remplacer: the 59's replace them, the 62's financeurs absent from the 59 removed
    assert _run(*args, "--remplacer") in (0, 1)
    now = {p.name for p in dossier.glob("financeur_*.xlsx")}
    assert "financeur_code_inconnu.xlsx" not in now and now < set(before)


def test_a_region_wide_run_and_a_departements_never_replace_each_others_extracts(tmp_path, examples, capsys):
    """Without --departement, a consolidation is the région's: over the 62's extracts it is refused,
    as the 62's run over the région's — each names the other's (« tous les départements »)."""
    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--departement", "62", "--par-financeur", dossier,
                "--jobs", "1") in (0, 1)
    before = _bytes_of(dossier)
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "r.xlsx", "--par-financeur", dossier, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "extraits par financeur du département 62 (" in err and "cette consolidation de tous les départements " \
        "(sans --departement) ne les remplace ni ne les supprime" in err and "un autre pour cette consolidation" in err
    assert _bytes_of(dossier) == before and not (tmp_path / "r.xlsx").exists()
    other = tmp_path / "région"
    assert _run("consolider", folder, "-o", tmp_path / "r.xlsx", "--par-financeur", other, "--jobs", "1") in (0, 1)
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--departement", "62", "--par-financeur", other,
                "--jobs", "1") == 2
    assert "extraits par financeur d'une consolidation de tous les départements (sans --departement) (" \
        in capsys.readouterr().err


def test_another_departements_extracts_written_while_a_run_waits_are_not_replaced(tmp_path, examples, capsys,
                                                                                  monkeypatch):
    """The 62's run and the 59's at once, one folder: the 59's found it empty, waited for the 62's to
    write its extracts (`extracts_lock`), then replaced them — the check before the wait let it. Asked
    again once the folder is held: the 62's extracts kept, the 59's workbook said written and its
    extracts not, with the way out; the register as it was."""
    import contextlib

    from acv_xl.outputs import consolidation_extracts as E

    region, pas_de_calais, nord = _region(tmp_path, examples)
    made = tmp_path / "faits"
    assert _run("consolider", pas_de_calais, "-o", tmp_path / "c62.xlsx", "--departement", "62", "--par-financeur",
                made, "--jobs", "1") in (0, 1)
    dossier, reg = region / "extraits", tmp_path / "r.sqlite"
    real = E.extracts_lock

    @contextlib.contextmanager
    def meanwhile(folder, wait=None):  # the 62's run writes its extracts while the 59's waits
        folder.mkdir(exist_ok=True)
        for p in made.glob("financeur_*.xlsx"):
            shutil.copy2(p, folder / p.name)
        with real(folder, wait):
            yield

    monkeypatch.setattr(E, "extracts_lock", meanwhile)
    capsys.readouterr()
    assert _run("consolider", nord, "-o", region / "c59.xlsx", "--departement", "59", "--par-financeur", dossier,
                "--jobs", "1", "--registre", reg) == 2
    err = capsys.readouterr().err
    assert f"une autre consolidation a écrit dans le dossier --par-financeur « {dossier} », depuis le début de " \
           "celle-ci, 12 extraits par financeur du département 62 (" in err
    assert "cette consolidation du département 59 ne les remplace ni ne les supprime. Le classeur consolidé est " \
           "écrit ; les extraits par financeur ne sont pas écrits et la consolidation n'est pas enregistrée dans le " \
           "registre : relancez-la avec un dossier d'extraits à elle (par exemple --par-financeur " \
           f"« {dossier / '59'} »), ou avec --remplacer pour remplacer ces extraits." in err
    assert _bytes_of(dossier) == _bytes_of(made) and (region / "c59.xlsx").exists()
    if reg.exists():  # created, nothing recorded
        con = sqlite3.connect(reg)
        assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 0
        con.close()


def _as_written_before_the_mark(path: Path) -> None:
    """`path` as the previous version wrote it: no département property, only its subject."""
    import zipfile

    parts = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            parts[info] = z.read(info)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():
            if info.filename == "docProps/custom.xml":
                data = re.sub(rb'<property [^>]*name="acv_xl_departement".*?</property>', b"", data)
                assert b"acv_xl_departement" not in data and b"acv-xl extrait" in data
            z.writestr(info, data)


def test_extracts_of_the_previous_version_are_judged_by_their_subject(tmp_path, examples, capsys):
    """An extract written before the département property says its département in its subject
    (« département 62 », « consolidation »): the 59's run is refused over it, the 62's replaces it."""
    region, pas_de_calais, nord, dossier = _region_with_62_extracts(tmp_path, examples)
    for p in dossier.glob("financeur_*.xlsx"):
        _as_written_before_the_mark(p)
    before = _bytes_of(dossier)
    capsys.readouterr()
    assert _run("consolider", nord, "-o", region / "c59.xlsx", "--departement", "59", "--par-financeur", dossier,
                "--jobs", "1") == 2
    assert "extraits par financeur du département 62 (" in capsys.readouterr().err and _bytes_of(dossier) == before
    assert _run("consolider", pas_de_calais, "-o", region / "c62.xlsx", "--departement", "62",
                "--par-financeur", dossier, "--jobs", "1") in (0, 1)
    assert set(_bytes_of(dossier)) == set(before)
    # a région's run of the previous version (« consolidation ») is no département's either
    other = region / "r"
    assert _run("consolider", pas_de_calais, "-o", region / "r.xlsx", "--par-financeur", other, "--jobs", "1") in (0, 1)
    for p in other.glob("financeur_*.xlsx"):
        _as_written_before_the_mark(p)
    assert _run("consolider", pas_de_calais, "-o", region / "r.xlsx", "--par-financeur", other, "--jobs", "1") in (0, 1)
    capsys.readouterr()
    assert _run("consolider", pas_de_calais, "-o", region / "c62.xlsx", "--departement", "62",
                "--par-financeur", other, "--jobs", "1") == 2
    assert "d'une consolidation de tous les départements (sans --departement) (" in capsys.readouterr().err


def test_a_stale_extract_that_cannot_be_removed_is_named_and_the_run_still_recorded(tmp_path, examples, capsys,
                                                                                      monkeypatch):
    """The stale extract open in Excel (Windows refuses its removal): the consolidation, its
    extracts and the register entry are already this run's — the run is recorded, the status is the
    findings', and the file is named for the user to remove, instead of « permission refusée », status 2."""
    folder = _folder(tmp_path, examples)
    dossier, reg = tmp_path / "extraits", tmp_path / "r.sqlite"
    args = ("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", dossier, "--jobs", "1",
            "--registre", reg)
    first = _run(*args)
    stale = dossier / "financeur_code_inconnu.xlsx"
    assert first in (0, 1) and stale.exists()
    (folder / "boulogne-sur-mer.xlsx").unlink()
    real = Path.unlink

    def locked(self, *a, **k):
        if self.name == stale.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "unlink", locked)
    capsys.readouterr()
    assert _run(*args) in (0, 1)
    err = capsys.readouterr().err
    assert "un extrait d'une consolidation précédente (financeur absent de celle-ci) n'a pas pu être supprimé " \
           "(ouvert dans Excel ?) : financeur_code_inconnu.xlsx ; supprimez-le" in err, err
    with sqlite3.connect(reg) as con:
        assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 2


def _summary(maturites, acquis, total, **dates) -> FileSummary:
    return FileSummary(path="x", rel="x", etat="validé", totaux=Totaux(financement_total=Decimal(total)),
                       acquis=Decimal(acquis), actions=tuple((str(k), "", 1, "", m, None) for k, m in enumerate(maturites)),
                       **dates)


def test_readiness_phase_and_class_at_their_boundaries():
    d = {"date_fin_initialisation": date(2024, 6, 30), "date_fin_deploiement": date(2026, 12, 31)}
    s = _summary(["Engagée", "Terminée", "Mature", "Abandonnée", "En préparation"], "50", "100", **d)
    assert preparation(s, date(2024, 6, 30)).phase == "initialisation"
    assert preparation(s, date(2024, 7, 1)).phase == "déploiement"
    assert preparation(s, date(2027, 1, 1)).phase == "terminée"
    assert preparation(_summary([], "0", "0"), date(2025, 1, 1)).phase == "dates manquantes"
    p = preparation(s, date(2025, 1, 1))  # 2 of 4 actions (the abandoned one left out), 50 % acquired
    assert p.part_actions == Decimal("0.5") and p.part_acquise == Decimal("0.5") and p.classe == AVANCEE
    assert preparation(_summary(["Engagée", "Mature", "Mature"], "50", "100"), date.today()).classe == EN_COURS
    assert preparation(_summary(["Engagée", "Mature", "Mature", "Mature"], "24.99", "100"),
                       date.today()).classe == EN_COURS  # 25 % of the actions: not « moins prête »
    assert preparation(_summary(["Engagée", "Mature", "Mature", "Mature", "Mature"], "24.99", "100"),
                       date.today()).classe == MOINS_PRETE


def test_synthese_shares_never_shown_against_their_class(tmp_path):
    """Acquired 49,996 % is « en cours » (under 50 %): its cell (two decimals at most) must not read
    « 50,0 % » beside it; 24,999 % of the actions, « moins prête », must not read « 25,0 % »."""
    from acv_xl.checks.rules.consolidation import judge
    from acv_xl.outputs.formats import FMT_PERCENT

    cases = [("ACV001", ["Engagée"] + ["Mature"] * 3, "4999600", "10000000"),  # 25 % of actions, 49,996 % acquired
             ("ACV002", ["Engagée"] * 4 + ["Mature"] * 1, "5000400", "10000000"),  # 80 %, 50,004 %
             ("ACV003", ["Mature"] * 4, "2499900", "10000000")]  # 0 %, 24,999 %
    files = []
    for acv, maturites, acquis, total in cases:
        f = _summary(maturites, acquis, total)
        f.rel, f.path, f.acv_id = f"{acv}.xlsx", f"/d/{acv}.xlsx", acv
        files.append(f)
    out = tmp_path / "c.xlsx"
    C.write_workbook(C.ConsolidationResult(files, judge(files)), out)
    ws = openpyxl.load_workbook(out)[Feuille.SYNTHESE]
    heads = [c.value for c in ws[3]]
    rows = {ws.cell(r, 1).value: {h: ws.cell(r, j + 1) for j, h in enumerate(heads)} for r in range(4, 7)}

    def shown(cell) -> Decimal:  # what `0.0# %` prints: the percentage to two decimals
        assert cell.number_format == FMT_PERCENT
        return (Decimal(str(cell.value)) * 100).quantize(Decimal("0.01"))

    a, b, c = rows["ACV001"], rows["ACV002"], rows["ACV003"]
    assert a[H.PREPARATION].value == EN_COURS and shown(a[H.PART_ACQUISE]) == Decimal("49.99")
    assert b[H.PREPARATION].value == AVANCEE and shown(b[H.PART_ACQUISE]) >= 50
    assert c[H.PREPARATION].value == MOINS_PRETE and shown(c[H.PART_ACQUISE]) == Decimal("24.99")
    assert shown(a[H.PART_ACTIONS]) == 25 and shown(c[H.PART_ACTIONS]) == 0
    # the JSON's four places likewise (0,49996 is not « 0.5 » beside « en cours »)
    prep = {c["acv_id"]: c["preparation"] for c in C.to_json(C.ConsolidationResult(files, judge(files)))["conventions"]}
    assert prep["ACV001"]["part_acquise"] == 0.4999 and prep["ACV001"]["classe"] == EN_COURS
    assert prep["ACV002"]["part_acquise"] == 0.5001 and prep["ACV003"]["part_acquise"] == 0.2499
    assert prep["ACV002"]["part_actions_engagees"] == 0.8


def test_synthese_shows_readiness_its_thresholds_and_the_gap_split(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    out = tmp_path / "c.xlsx"
    result = C.consolidate([folder], out, jobs=1, comite="Comité du 12/06/2026")
    df = pd.read_excel(out, sheet_name=Feuille.SYNTHESE, header=2, engine="openpyxl", dtype=object)
    total = df[df[H.ACV_ID] == "Total"].iloc[0]
    rows = df.iloc[: len(result.counted)]
    ecarts = [Decimal(str(v)) for v in rows[H.ECART]]
    assert round(float(total[H.MANQUE]), 2) == float(sum(e for e in ecarts if e > 0))
    assert round(float(total[H.EXCEDENT]), 2) == float(sum(-e for e in ecarts if e < 0))
    assert pd.isna(total[H.ECART])  # never the net of a shortfall and an excess
    assert set(rows[H.PREPARATION]) <= {AVANCEE, EN_COURS, MOINS_PRETE}
    assert set(rows[H.PHASE]) <= {"initialisation", "déploiement", "terminée", "dates manquantes"}
    texts = " ".join(str(c.value) for row in openpyxl.load_workbook(out)[Feuille.SYNTHESE].iter_rows() for c in row
                     if isinstance(c.value, str))
    assert "au moins 50 % des actions engagées ou terminées" in texts and "au 12/06/2026" in texts
    ws = openpyxl.load_workbook(out)[Feuille.SYNTHESE]
    assert ws.auto_filter.ref or ws.tables["T_Synthese"].autoFilter is not None  # sortable
    for sheet in (Feuille.SYNTHESE, Feuille.PAR_AXE, Feuille.PAR_ANNEE, Feuille.PAR_FINANCEUR):
        assert openpyxl.load_workbook(out)[sheet]._charts, sheet


def test_con05_groups_an_unknown_financeur_code():
    t = Totaux(financement_total=Decimal("300"), par_financeur={"ETAT": Decimal("100"), "XYZ": Decimal("200")})
    s = FileSummary(path="a", rel="a", etat="validé", acv_id="ACV001", totaux=t,
                    lines=(("1.1", "", 1, "XYZ", "", "Subvention", 2025, Decimal("200"), "Acquis", True, "",
                            "Plan de financement", "F9"),))
    v = judge([s])[0]
    con05 = [f for f in v.findings if f.code == "CON-05"]
    assert v.compte and len(con05) == 1 and "« XYZ »" in con05[0].message and "code inconnu" in con05[0].message
    # its cell is the code's own: the Financeur column (the template's here) on the amount's row
    assert con05[0].suggestion.startswith("Employez le code de référence du financeur")
    assert con05[0].cellule == "B9" and con05[0].action == "1.1"
    t2 = Totaux(financement_total=Decimal("100"), par_financeur={"ETAT": Decimal("100")})
    assert not [f for f in judge([FileSummary(path="b", rel="b", etat="validé", totaux=t2)])[0].findings
                if f.code == "CON-05"]


def test_con05_adds_up_the_unknown_codes_to_the_cent_past_10_18():
    """Two unknown codes of 10^26 € and 0,01 €: the default 28 digits said « …000,00 € »."""
    big, cent = Decimal(10) ** 26, Decimal("0.01")
    t = Totaux(financement_total=big + cent, par_financeur={"XYZ": big, "ZZZ": cent})
    (con05,) = [f for f in judge([FileSummary(path="a", rel="a", etat="validé", acv_id="ACV001", totaux=t)])[0].findings
                if f.code == "CON-05"]
    assert "(100 000 000 000 000 000 000 000 000,01 €)" in con05.message


def _con05_cells(out_json: Path) -> list[tuple[str, str, str]]:
    data = json.loads(out_json.read_text(encoding="utf-8"))
    return [(c["fichier"], k["feuille"], k["cellule"])
            for c in data["conventions"] for k in c["constats_consolidation"] if k["code"] == "CON-05"]


def test_con05_points_at_the_financeur_cell_even_with_the_columns_moved(tmp_path, examples):
    """A référent clicking CON-05's address lands on the unknown code, not on the line's amount, in
    a workbook whose Financements columns are not in the template's order; a warm run (the summary
    from the register) says the same, and a summary stored before the column was kept gives the
    template's column."""
    from tests.acceptance_support import edited_copy, header_cells, table_of

    folder = tmp_path / "62"
    folder.mkdir()
    src = examples["paths"][0]
    where: dict[str, str] = {}

    def edit(wb):
        ws, t = table_of(wb, layout.T_FINANCEMENTS.name)
        heads = header_cells(ws, t)
        (hr, a), (_, b) = heads["Financeur"], heads["Commentaire"]
        for r in range(hr, ws.max_row + 1):
            x, y = ws.cell(r, a), ws.cell(r, b)
            x.value, y.value = y.value, x.value
        cols = t.tableColumns
        c1 = min(c for _, c in heads.values())
        cols[a - c1].name, cols[b - c1].name = cols[b - c1].name, cols[a - c1].name
        ws.cell(hr + 1, b).value = "XYZ"  # the first line's financeur, now in the Commentaire's old place
        where["sheet"], where["cell"] = ws.title, ws.cell(hr + 1, b).coordinate

    edited_copy(src, folder / "deplace.xlsx", edit)
    assert where["cell"][0] != "B"  # away from the template's column
    reg = tmp_path / "r.sqlite"
    for run in ("froid", "chaud"):
        out, js = tmp_path / f"{run}.xlsx", tmp_path / f"{run}.json"
        assert _run("consolider", folder, "-o", out, "--json", js, "--registre", reg, "--jobs", "1") in (0, 1)
        got = _con05_cells(js)
        assert [(s, c) for _, s, c in got] == [(where["sheet"], where["cell"])], (run, got)
        assert openpyxl.load_workbook(folder / "deplace.xlsx")[got[0][1]][got[0][2]].value == "XYZ"
    # a summary whose `financeur_col` is empty (the Financeur column where the template puts it)
    s = C.summarize(str(folder / "deplace.xlsx"), "deplace.xlsx")
    assert s.financeur_col == where["cell"].rstrip("0123456789")
    old = dataclasses.replace(s, financeur_col="")
    row = where["cell"].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert [f.cellule for f in judge([old])[0].findings if f.code == "CON-05"] == [f"B{row}"]


def test_sans_erreurs_counts_only_the_workbooks_without_error(tmp_path, examples, capsys):
    folder = _folder(tmp_path, examples)
    out = tmp_path / "c.xlsx"
    assert _run("consolider", folder, "-o", out, "--sans-erreurs", "--jobs", "1") == 0
    # status 0 beside « N erreurs »: the line says they are in the workbooks set aside
    said = re.search(r"; (\d+) erreurs \(dont (\d+) dans les fichiers non comptés\)", capsys.readouterr().err)
    assert said and said.group(1) == said.group(2) != "0", said
    fichiers = pd.read_excel(out, sheet_name=Feuille.FICHIERS, header=2, engine="openpyxl", dtype=object)
    fichiers = fichiers[fichiers[H.CHEMIN].notna()]
    for _, row in fichiers.iterrows():
        if int(row[H.ERREURS]) > 0:
            assert row[H.COMPTE] == "Non" and row[H.MOTIF] == "classeur avec erreurs"
        else:
            assert row[H.COMPTE] == "Oui"
    assert (fichiers[H.COMPTE] == "Non").any() and (fichiers[H.COMPTE] == "Oui").any()
    # an unreadable file is still an error of the batch (CON-03), as docs/interfaces.md says
    (folder / "illisible.xlsx").write_bytes(b"PK\x03\x04 pas un classeur")
    assert _run("consolider", folder, "-o", out, "--sans-erreurs", "--jobs", "1") == 1


def test_sans_erreurs_with_the_departement_of_workbooks_all_with_errors_consolidates_them(tmp_path, examples, capsys):
    """`--departement 62 --sans-erreurs` over workbooks of the 62 each with an error was refused « aucune
    convention du département 62 (départements trouvés : 62) », a mistyped code said where none is —
    `consolider calais.xlsx --departement 62 --sans-erreurs` « …est une convention du département 62, pas
    du 62 ». Consolidated as without --departement: none counted, each « classeur avec erreurs »; a code
    matching none of them is still refused."""
    folder = tmp_path / "erreurs"
    folder.mkdir()
    for p in examples["paths"]:
        if not validate_file(p).valide:
            shutil.copy(p, folder / p.name)
    assert len(list(folder.iterdir())) >= 2
    js = tmp_path / "c.json"
    for names in ([folder], sorted(folder.iterdir())[:1]):
        assert _run("consolider", *names, "-o", tmp_path / "c.xlsx", "--json", js, "--departement", "62",
                    "--sans-erreurs", "--remplacer") == 0, capsys.readouterr().err
        data = json.loads(js.read_text(encoding="utf-8"))
        assert data["conventions_comptees"] == 0 and data["departement"] == "62"
        assert {c["motif"] for c in data["conventions"]} == {"classeur avec erreurs"}
    assert _run("consolider", folder, "-o", tmp_path / "d.xlsx", "--departement", "59", "--sans-erreurs") == 2
    assert "aucune convention du département 59" in capsys.readouterr().err and not (tmp_path / "d.xlsx").exists()


def test_json_summary_carries_readiness_and_the_gap_split(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    js = tmp_path / "r.json"
    result = C.consolidate([folder], tmp_path / "c.xlsx", json_path=js, jobs=1, comite="Comité du 12/06/2026",
                           sans_erreurs=True)
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["comite"] == "Comité du 12/06/2026" and data["sans_erreurs"] is True
    ecarts = [f.totaux.ecart for f in result.counted]
    assert round(data["totaux"]["manque"] * 100) == round(sum(e for e in ecarts if e > 0) * 100)
    assert round(data["totaux"]["excedent"] * 100) == round(sum(-e for e in ecarts if e < 0) * 100)
    for c in data["conventions"]:
        assert c["preparation"]["date_reference"] == "2026-06-12"
        assert c["preparation"]["classe"] in (AVANCEE, EN_COURS, MOINS_PRETE)


def test_historique_reports_a_damaged_table_in_french(tmp_path, examples, capsys):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1")
    con = sqlite3.connect(reg)
    size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'lignes'").fetchone()[0]
    con.close()
    data = bytearray(reg.read_bytes())
    data[(root - 1) * size: root * size] = b"\xff" * size  # the lines' first page overwritten
    reg.write_bytes(bytes(data))
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 2
    err = capsys.readouterr().err
    assert "inutilisable (fichier endommagé ou tronqué)" in err and "Traceback" not in err
    assert not (tmp_path / "e.xlsx").exists()


def test_historique_of_a_register_whose_consolidation_was_deleted_by_hand(tmp_path, examples, capsys):
    """A trial run deleted with an SQLite tool (DB Browser deletes the row of `consolidations`, not
    its files and conventions): historique stopped with « erreur interne inattendue (KeyError : 2) ».
    The consolidations left are shown, their movements from one to the next."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for k in range(3):
        if k == 2:
            (folder / examples["paths"][0].name).unlink()
        _run("consolider", folder, "-o", tmp_path / f"c{k}.xlsx", "--registre", reg, "--jobs", "1",
             "--comite", f"Comité du 1{k}/06/2026")
    con = sqlite3.connect(reg)
    con.execute("DELETE FROM consolidations WHERE id = 2")
    con.commit()
    con.close()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", tmp_path / "e.json") == 0, \
        capsys.readouterr().err
    data = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in data["consolidations"]] == [1, 3]
    assert all(e["consolidation"] in (1, 3) for series in data["par_convention"].values() for e in series)
    gone = examples["convs"][examples["paths"][0].name].value("acv_id")
    mv = pd.read_excel(tmp_path / "e.xlsx", sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    mv = mv[mv["Mouvement"].notna()]
    assert list(zip(mv["Avant"], mv["Après"], mv["Identifiant ACV"], mv["Mouvement"])) == [
        ("Comité du 10/06/2026", "Comité du 12/06/2026", gone, "Convention retirée")]


def test_historique_reads_one_snapshot_while_another_run_commits(tmp_path, examples, monkeypatch, capsys):
    """A consolidation committed by another run (a colleague's, a scheduled task's) while historique read
    the register came into some of its reads and not others: « erreur interne inattendue (KeyError : 2) ».
    historique reads one snapshot; the other run's commit waits for its end."""
    import threading

    _, reg = _edited_by_hand(tmp_path, examples, "SELECT 1")

    def another_run() -> None:  # a second consolidation of the same files, committed in one transaction
        con = sqlite3.connect(reg, timeout=30)
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO consolidations SELECT 2, date, 'Comité du 01/12/2026', departement, version_acv_xl, "
                    "version_regles, sans_erreurs, sortie, fichiers, conventions_comptees, financement_total "
                    "FROM consolidations WHERE id = 1")
        con.execute("INSERT INTO fichiers SELECT id + 1000, 2, chemin, taille, modifie_le, sha256, analyse_id, relu, "
                    "etat, acv_id, compte, motif FROM fichiers WHERE consolidation_id = 1")
        con.execute("INSERT INTO conventions SELECT 2, fichier_id + 1000, acv_id, libelle, communes, etat, compte, "
                    "cout_total, financement_total, ecart, acquis, erreurs, avertissements, informations "
                    "FROM conventions WHERE consolidation_id = 1")
        con.commit()
        con.close()

    real_read = pd.read_sql_query
    threads = []

    def read(*args, **kwargs):  # the other run commits right after historique's first table
        out = real_read(*args, **kwargs)
        if not threads:
            threads.append(threading.Thread(target=another_run))
            threads[0].start()
            threads[0].join(2)
        return out

    monkeypatch.setattr(pd, "read_sql_query", read)
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", tmp_path / "e.json") == 0, \
        capsys.readouterr().err
    threads[0].join(30)
    data = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in data["consolidations"]] == [1]  # as the register was when historique began
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 2  # then committed
    con.close()


def test_historique_reports_a_consolidation_date_typed_by_hand(tmp_path, examples, capsys):
    """A date typed by hand in `consolidations.date` (« 12/06/2026 »): « erreur interne inattendue
    (ValueError : Invalid isoformat string…) », in English; now the register's French refusal naming
    the column, nothing written."""
    _, reg = _edited_by_hand(tmp_path, examples, "UPDATE consolidations SET date = '12/06/2026'")
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 2
    err = capsys.readouterr().err
    assert "la colonne « date » de la table « consolidations » contient autre chose qu'une date" in err, err
    assert "interne" not in err and not (tmp_path / "e.xlsx").exists()


def test_historique_refuses_a_consolidation_date_before_1900_typed_by_hand(tmp_path, examples, capsys):
    """A consolidation's date corrected by hand with a year mistyped (1026): written as a negative date,
    a cell Excel shows « ##### ». Refused in French, naming the consolidation and the date."""
    _, reg = _edited_by_hand(tmp_path, examples, "UPDATE consolidations SET date = '1026-06-12T10:00:00'")
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 2
    err = capsys.readouterr().err
    assert "(la colonne « date » de la table « consolidations » date la consolidation n° 1 du 12/06/1026, avant " \
           "1900, qu'un tableur ne sait pas représenter)" in err, err
    assert not (tmp_path / "e.xlsx").exists()


def test_historique_of_a_comite_label_with_a_control_character_opens(tmp_path, examples):
    """A comité label pasted with a control character (`--comite` from a script, a register written by
    another tool): it headed a column of the tables `Par financeur` and `Par statut`, whose column
    names XlsxWriter writes unescaped — historique's workbook was no XML (Excel repairs it, openpyxl
    refuses it). The header keeps the label, the control character as a space. (`--comite` now refuses
    such a label: the register edited as another tool would.)"""
    _, reg = _edited_by_hand(tmp_path, examples, "UPDATE consolidations SET comite = 'Comité du 12/06/2026' "
                                                 "|| char(1) || char(27) || '(relu)'")
    evo = tmp_path / "e.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    wb = openpyxl.load_workbook(evo)
    for sheet in ("Par financeur", "Par statut"):
        assert wb[sheet].cell(3, 3).value == "Comité du 12/06/2026 (relu)", sheet


def test_a_new_register_is_said_created_so_that_a_mistyped_or_moved_one_is_noticed(tmp_path, examples, capsys):
    """A register path that does not exist makes a new register: the référent who mistyped it at the
    third comité, or copied the register elsewhere and gave its old path, read « enregistrée dans le
    registre » as for any comité and found the comité missing from the history months later. The
    first run of a register says it made it; the next ones say nothing of it. A folder mistyped makes
    none; a run that fails after making it (a département without convention, « rien n'est écrit ») left
    an empty register behind: it is removed, and the next run says it made it. An empty file there
    before is left as it was."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "registre-62.sqlite"
    said = f"acv-xl : registre « {reg} » créé : cette consolidation est la première qu'il enregistre. Si le " \
           "registre du département existe déjà ailleurs (renommé, déplacé, copié d'un autre poste), relancez la " \
           "consolidation en indiquant son chemin : « acv-xl historique » ne montre que les comités d'un même registre."
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    assert said in capsys.readouterr().err
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    assert "première" not in capsys.readouterr().err
    # a folder mistyped: no register made for nothing
    other = tmp_path / "autre.sqlite"
    assert _run("consolider", tmp_path / "63", "-o", tmp_path / "d1.xlsx", "--registre", other, "--jobs", "1") == 2
    assert not other.exists()
    # a run that then fails (a département without convention): nothing written, no register either
    assert _run("consolider", folder, "-o", tmp_path / "d1.xlsx", "--registre", other, "--departement", "59",
                "--jobs", "1") == 2
    assert "aucune convention du département 59" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("autre")) == []
    _run("consolider", folder, "-o", tmp_path / "d2.xlsx", "--registre", other, "--jobs", "1")
    assert said.replace(str(reg), str(other)) in capsys.readouterr().err
    # an empty file given (a run killed as it created the register): not removed, its first consolidation said
    empty = tmp_path / "vide.sqlite"
    empty.write_bytes(b"")
    assert _run("consolider", folder, "-o", tmp_path / "d3.xlsx", "--registre", empty, "--departement", "59",
                "--jobs", "1") == 2
    assert empty.is_file()
    capsys.readouterr()
    _run("consolider", folder, "-o", tmp_path / "d4.xlsx", "--registre", empty, "--jobs", "1")
    assert said.replace(f"« {reg} » créé", f"« {empty} »") in capsys.readouterr().err


def test_a_register_of_another_departement_given_by_mistake_is_said(tmp_path, examples, capsys):
    """Two référents keep « registre.sqlite » on one share; one gives the other's: the consolidation was
    recorded there without a word, and historique then showed every convention of the one « retirée »
    and every one of the other « ajoutée ». It is still recorded (a scope may renew every convention),
    and said, naming both sets; a run sharing a convention with the previous one says nothing."""
    paths = examples["paths"]
    ours, theirs = tmp_path / "62", tmp_path / "autre"
    for folder, part in ((ours, paths[:3]), (theirs, paths[3:])):
        folder.mkdir()
        for p in part:
            shutil.copy2(p, folder / p.name)
    reg = tmp_path / "registre.sqlite"
    # (a --sans-erreurs run, counting fewer, reads the same conventions: no sign of another register)
    for folder, warned, extra in ((ours, False, ()), (ours, False, ("--sans-erreurs",)), (theirs, True, ())):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1",
                    "--comite", "Comité du 12/06/2026", "--remplacer", *extra) in (0, 1)
        err = capsys.readouterr().err
        assert ("qu'il s'agit du registre de ce département" in err) == warned, err
    theirs_ids = sorted(examples["convs"][p.name].value("acv_id") for p in paths[3:])
    assert f"aucune des conventions lues ({', '.join(theirs_ids)}) ne figurait" in err
    assert "(n° 2, « Comité du 12/06/2026 » : " in err
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 3  # recorded all the same
    con.close()


def test_a_register_of_another_departement_given_with_its_departement_is_said(tmp_path, examples, capsys):
    """The same mistake by référents who consolidate with `--departement`, as the README shows: the 59's
    run given the 62's register had no previous consolidation « of the same scope » to compare with, and
    was recorded without a word — historique then showed all of the 62 « retirée », all of the 59
    « ajoutée ». With none of its scope, the latest consolidation recorded is the one compared with; a
    run of the same département under a new scope (`--departement` given for the first time) shares its
    conventions with it and says nothing."""
    ours = _folder(tmp_path, examples)
    theirs = _nord(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    runs = ((ours, (), False), (ours, ("--departement", "62"), False), (theirs, ("--departement", "59"), True))
    for n, (folder, scope, warned) in enumerate(runs, 1):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1",
                    "--comite", f"Comité du 1{n}/06/2026", "--remplacer", *scope) in (0, 1)
        err = capsys.readouterr().err
        assert ("qu'il s'agit du registre de ce département" in err) == warned, err
    # its first run of the 59: the other run's département named, and what a région's référent need not do
    assert "aucune des conventions lues (ACV990, ACV991) ne figurait dans la dernière consolidation" in err
    assert "(n° 2, département 62, « Comité du 12/06/2026 » : " in err
    assert "qui n'en a encore aucune du département 59. S'il s'agit du registre d'une région, rien à faire " \
           "(« acv-xl historique --departement 59 » montrera cette série) ; sinon, vérifiez" in err, err
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 3  # recorded all the same
    con.close()


def test_a_first_run_without_departement_points_to_no_series_of_its_own(tmp_path, examples, capsys):
    """The 59's folder consolidated without --departement in a register of the 62's runs (`--departement
    62`): the warning told a région's référent that « acv-xl historique » would show « cette série » — a run
    of every département has none of its own, historique shows it among the others. Said without it."""
    ours = _folder(tmp_path, examples)
    theirs = _nord(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    for folder, scope in ((ours, ("--departement", "62")), (theirs, ())):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1", "--remplacer",
                    *scope) in (0, 1)
    err = capsys.readouterr().err
    assert ("(n° 1, département 62 : ACV014, ACV031, ACV034, …), qui n'en a encore aucune sans --departement. S'il "
            "s'agit du registre d'une région, rien à faire ; sinon, vérifiez qu'il s'agit du registre de ce "
            "département") in err, err


def test_a_register_of_the_region_then_of_each_departement_says_nothing(tmp_path, examples, capsys):
    """A register kept for the région: every département consolidated at once (no `--departement`),
    then each from its own folder (`région/62 --departement 62`, then `région/59 --departement 59`). With
    no consolidation of scope 59, the 59's run was compared with the latest of any scope, the 62's, and
    told to check that the register was the 59's — when its first consolidation counted the 59's very
    conventions. Consolidations of every département are of the 59 as well: they come before another's."""
    region = tmp_path / "region"
    region.mkdir()
    ours = _folder(region, examples)
    theirs = _nord(region, examples)
    reg = tmp_path / "registre.sqlite"
    for n, (folder, scope) in enumerate(((region, ()), (ours, ("--departement", "62")),
                                         (theirs, ("--departement", "59"))), 1):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1",
                    "--comite", f"Comité du 1{n}/06/2026", "--remplacer", *scope) in (0, 1)
        err = capsys.readouterr().err
        assert "qu'il s'agit du registre de ce département" not in err, (n, err)


def test_historique_past_the_columns_of_a_sheet_shows_the_latest_comites_and_says_so(tmp_path, examples,
                                                                                     monkeypatch):
    """A register fed by a scheduled task (every hour for two years): 16 408 consolidations. `Par
    financeur` and `Par statut` have a column per consolidation; past Excel's 16 384 columns XlsxWriter
    wrote no table at all — two empty sheets, status 0. They now show the latest consolidations and
    their title says how many of how many (all of them are in the other sheets and the JSON)."""
    from acv_xl.history import historique_workbook as HW

    class _Many:  # an evolution of 16 408 consolidations, as far as the choice of columns goes
        ids = list(range(1, 16_409))

    writer = HW._EvolutionWriter.__new__(HW._EvolutionWriter)
    writer.ev = _Many()
    ids, titre = writer.wide("Engagements")
    assert ids == list(range(16_409 - 16_382, 16_409)) and len(ids) + 2 == 16_384
    assert titre.startswith("Engagements — les 16 382 dernières consolidations sur 16 408 (une feuille n'a que "
                            "16 384 colonnes ; ")
    _Many.ids = list(range(1, 16_383))
    assert writer.wide("Engagements") == (_Many.ids, "Engagements")
    # the same, end to end, with a sheet of 4 columns: the two latest comités
    monkeypatch.setattr(HW, "_WIDE_MAX", 2)
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for k in range(3):
        _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1", "--remplacer",
             "--comite", f"Comité du 1{k}/06/2026")
    evo = tmp_path / "e.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    wb = openpyxl.load_workbook(evo)
    for sheet in ("Par financeur", "Par statut"):
        ws = wb[sheet]
        assert [c.value for c in ws[3]][2:] == ["Comité du 11/06/2026", "Comité du 12/06/2026"], sheet
        assert "les 2 dernières consolidations sur 3" in ws["A1"].value
        assert ws.max_row > 4  # the table and its rows are there


def test_historique_past_the_rows_of_a_sheet_shows_the_latest_comites_and_says_so(tmp_path, examples,
                                                                                  monkeypatch, capsys):
    """A sheet has 1 048 576 rows: past them (a département's movements over years of comités, or its
    conventions × a scheduled task's consolidations in Par convention) the rows were written beyond
    the grid — a workbook Excel cannot open, status 0. Each sheet now keeps the rows of the latest
    consolidations that fit (or the first rows of the latest alone), its title and the command saying
    how many of how many. Here with sheets of a few rows."""
    from acv_xl.history import historique_workbook as HW

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    names = sorted(p.name for p in examples["paths"])
    for k, changed in enumerate(([], names[:2], names[2:5])):
        for name in changed:
            wb = openpyxl.load_workbook(folder / name)
            ws = wb[layout.T_FINANCEMENTS.sheet]
            rows = ws[ws.tables[layout.T_FINANCEMENTS.name].ref]
            at = [c.value for c in rows[0]].index(layout.T_FINANCEMENTS.header("montant"))
            rows[1][at].value += 1000
            wb.save(folder / name)
        _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, "--jobs", "1",
             "--comite", f"Comité du 1{k}/06/2026")
    evo = tmp_path / "e.xlsx"

    def sheet(name):
        ws = openpyxl.load_workbook(evo)[name]
        return ws["A1"].value, pd.read_excel(evo, sheet_name=name, header=2, engine="openpyxl", dtype=object)

    monkeypatch.setattr(HW, "_TALL_MAX", 13)
    capsys.readouterr()
    assert _run("historique", reg, "-o", evo) == 0
    err = capsys.readouterr().err
    titre, conv = sheet("Par convention")
    assert titre == ("Chaque convention d'un comité à l'autre (à trier ou filtrer) — les conventions des 2 dernières "
                     "consolidations : 12 lignes sur 18 (une feuille n'a que 1 048 576 lignes ; toutes figurent dans "
                     "le registre)")
    assert sorted(set(conv["N°"].dropna())) == [2, 3] and len(conv["N°"].dropna()) == 12
    assert ("Attention : la feuille Par convention ne montre que les conventions des 2 dernières consolidations : 12 "
            "lignes sur 18 (une feuille n'a que 1 048 576 lignes ; toutes figurent dans le registre).") in err, err
    titre, pf = sheet("Mouvements par financeur")
    assert set(pf["Après"].dropna()) == {"Comité du 12/06/2026"}
    assert "les mouvements par financeur de la dernière consolidation : 12 lignes sur 24" in titre, titre
    titre, mv = sheet("Mouvements")
    assert titre == "Évolutions d'une consolidation à la suivante" and len(mv["Mouvement"].dropna()) == 5
    monkeypatch.setattr(HW, "_TALL_MAX", 4)
    assert _run("historique", reg, "-o", evo, "--remplacer") == 0
    titre, mv = sheet("Mouvements")
    assert list(mv["Après"].dropna()) == ["Comité du 12/06/2026"] * 3
    assert "les mouvements de la dernière consolidation : 3 lignes sur 5" in titre, titre
    titre, conv = sheet("Par convention")
    assert list(conv["N°"].dropna()) == [3] * 4
    assert "les conventions de la dernière consolidation seulement, en partie : 4 lignes sur 18" in titre, titre


def test_a_register_given_for_a_workbook_is_named_a_register_never_a_damaged_file(tmp_path, examples, capsys):
    """`comparer registre.sqlite …`, `valider registre.sqlite`, `--depuis registre.sqlite`: « n'est pas un
    classeur Excel : son contenu n'est pas reconnu (fichier endommagé ?) » — a référent reading that of
    the département's register restores a backup and loses the comités recorded since."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1")
    before = reg.read_bytes()
    workbook = str(examples["paths"][0])
    for args in (["comparer", reg, workbook], ["valider", reg], ["annexe", workbook, "--depuis", reg, "--brouillon",
                                                                  "-o", tmp_path / "a.xlsx"]):
        capsys.readouterr()
        assert _run(*args) == 2
        said = "".join(capsys.readouterr())
        assert "est une base de données SQLite (le registre d'un département" in said, said
        assert "endommagé" not in said
    assert reg.read_bytes() == before


def _without_identifier_recorded(tmp_path: Path, examples) -> tuple[Path, Path, Path]:
    """(folder, workbook, register): the examples with one workbook's identifier erased, consolidated
    once into a new register."""
    folder = _folder(tmp_path, examples)
    target = folder / examples["paths"][0].name
    wb = openpyxl.load_workbook(target)
    ident = next(n for n in layout.NAMED_CELLS if n.name == "acv_id")
    wb[ident.sheet][ident.cell] = None
    wb.save(target)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    return folder, target, reg


def test_historique_of_a_convention_without_identifier_or_libelle_opens(tmp_path, examples):
    """A convention counted without identifier (and another without libellé), each with its error:
    the register holds NULL, which pandas reads as NaN — historique wrote « nan » in Par convention's
    cells (a workbook Excel must repair, openpyxl refuses) and « NaN » as the JSON's key."""
    folder, _target, reg = _without_identifier_recorded(tmp_path, examples)
    other = folder / examples["paths"][1].name
    wb = openpyxl.load_workbook(other)
    spec = next(n for n in layout.NAMED_CELLS if n.name == "acv_libelle")
    wb[spec.sheet][spec.cell] = None
    wb.save(other)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    evo, js = tmp_path / "e.xlsx", tmp_path / "e.json"
    assert _run("historique", reg, "-o", evo, "--json", js) == 0
    conv = _table(evo, "Par convention")
    assert list(conv[H.ACV_ID]).count("(sans identifiant)") == 2  # at each of the two comités
    assert conv[H.LIBELLE].isna().sum() == 1  # erased before the second
    assert "(sans identifiant)" in json.loads(js.read_text(encoding="utf-8"))["par_convention"]
    assert "NaN" not in js.read_text(encoding="utf-8")

def _raise_first_amount(wb, by: int) -> None:
    """The first line of the plan of `wb` (openpyxl) `by` euros higher."""
    ws = wb[layout.T_FINANCEMENTS.sheet]
    ref = ws.tables[layout.T_FINANCEMENTS.name].ref
    header = [c.value for c in ws[ref.split(":")[0][1:]]]
    cell = ws.cell(int(ref.split(":")[0][1:]) + 1, header.index(layout.T_FINANCEMENTS.header("montant")) + 1)
    cell.value += by


def test_historique_follows_a_workbook_without_identifier_by_its_path(tmp_path, examples):
    """A convention whose identifier was erased (counted, with its error): one amount changed between
    two comités read « Convention ajoutée » (its whole financing) and « Convention retirée » — it was
    followed by its content. It is followed by its path, as a file not counted is: « Montant modifié »."""
    folder, target, reg = _without_identifier_recorded(tmp_path, examples)
    wb = openpyxl.load_workbook(target)
    _raise_first_amount(wb, 1000)
    wb.save(target)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    mv = _movements(reg, tmp_path / "e.xlsx")
    assert list(zip(mv["Mouvement"], mv["Écart (€)"])) == [("Montant modifié", 1000)], mv


def test_historique_follows_a_workbook_without_identifier_moved_unchanged(tmp_path, examples):
    """Followed by its path, a workbook without identifier renamed between two comités (« v2 … »,
    a commune's new name for the same file), its content unchanged, read « Convention retirée » and
    « Convention ajoutée » for its whole financing: the same content is the same convention."""
    folder, target, reg = _without_identifier_recorded(tmp_path, examples)
    target.rename(folder / f"v2 {target.name}")
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    evo = tmp_path / "e.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    mv = pd.read_excel(evo, sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    assert list(mv["Mouvement"].dropna()) == [], mv


@pytest.mark.parametrize("renamed", [False, True])
@pytest.mark.parametrize("filled_in", [True, False])
def test_historique_follows_a_workbook_whose_identifier_is_filled_in(tmp_path, examples, filled_in, renamed):
    """A commune types its missing identifier between two comités (or erases it), the file where it
    was, one amount changed: followed by its path at one comité and by its identifier at the next, it
    read « Convention retirée » and « Convention ajoutée » for its whole financing. The same path is the
    same convention: only the amount moves. Renamed as well (« v2 … »), nothing but its libellé and
    communes, found on one workbook only on each side, link the two: the same convention too."""
    folder, target, reg = _without_identifier_recorded(tmp_path, examples)
    spec = next(n for n in layout.NAMED_CELLS if n.name == "acv_id")
    original = openpyxl.load_workbook(examples["paths"][0])[spec.sheet][spec.cell].value
    if not filled_in:  # the other way: recorded with its identifier first, then erased
        shutil.copy2(examples["paths"][0], target)
        reg.unlink()
        _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    wb = openpyxl.load_workbook(target)
    wb[spec.sheet][spec.cell] = original if filled_in else None
    _raise_first_amount(wb, 1000)
    wb.save(target)
    if renamed:
        target.rename(folder / f"v2 {target.name}")
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    mv = _movements(reg, tmp_path / "e.xlsx")
    assert list(zip(mv["Mouvement"], mv["Écart (€)"])) == [("Montant modifié", 1000)], mv


def test_historique_never_links_by_libelle_and_communes_among_several(tmp_path, examples):
    """Two workbooks without identifier of one libellé and communes (a copy kept beside the original),
    both gone, and one with an identifier added: nothing says which one it was — « retirée » and
    « ajoutée », never a guess."""
    folder, target, reg = _without_identifier_recorded(tmp_path, examples)
    copy = folder / f"copie {target.name}"
    shutil.copy2(target, copy)
    reg.unlink()
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    copy.unlink()
    target.unlink()
    shutil.copy2(examples["paths"][0], folder / f"v2 {target.name}")
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    evo = tmp_path / "e.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    mv = pd.read_excel(evo, sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    kinds = Counter(mv["Mouvement"].dropna())
    assert kinds["Convention retirée"] == 2 and kinds["Convention ajoutée"] == 1, mv


def test_a_register_made_inconsistent_by_hand_is_said_in_french(tmp_path, examples, capsys):
    """Its analyses deleted with an SQLite tool, their lines left: the next consolidation gave « erreur
    SQLite : UNIQUE constraint failed: lignes.analyse_id, lignes.rang », SQLite's English."""
    folder, reg = _edited_by_hand(tmp_path, examples, "DELETE FROM analyses")
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "inutilisable (données incohérentes : contrainte UNIQUE non respectée sur lignes.analyse_id, lignes.rang, " \
           "le registre a-t-il été modifié avec un autre outil ?)" in err, err
    assert "constraint" not in err and reg.read_bytes() == before


def test_a_table_made_strict_by_hand_is_said_in_french(tmp_path, examples, capsys):
    """A table recreated STRICT by an SQLite tool, a column typed otherwise: the next consolidation
    gave « erreur SQLite : cannot store REAL value in INTEGER column consolidations.financement_total »,
    SQLite's English in the middle of a French sentence."""
    from acv_xl.history.register import MIGRATIONS

    table = MIGRATIONS[1][0].replace("consolidations", "strict_", 1).replace("financement_total REAL",
                                                                             "financement_total INTEGER")
    folder, reg = _edited_by_hand(tmp_path, examples, f"""{table} STRICT;
        INSERT INTO strict_ SELECT id, date, comite, departement, version_acv_xl, version_regles, sans_erreurs,
            sortie, fichiers, conventions_comptees, CAST(financement_total AS INTEGER) FROM consolidations;
        DROP TABLE consolidations;
        ALTER TABLE strict_ RENAME TO consolidations;""")
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "inutilisable (structure inattendue : la colonne consolidations.financement_total refuse le type de ce " \
           "qu'acv-xl y enregistre, la table a-t-elle été recréée avec un autre outil ?)" in err, err
    assert "cannot store" not in err and reg.read_bytes() == before


@pytest.mark.parametrize("sql", [
    "UPDATE lignes SET montant = montant + 5000000 WHERE analyse_id = 1 AND rang = 0",
    "UPDATE lignes SET statut = CASE statut WHEN 'Versé' THEN 'Acquis' ELSE 'Versé' END WHERE analyse_id = 1 AND rang = 0",
    "UPDATE lignes SET financeur = 'UE' WHERE analyse_id = 1 AND rang = 0",
    "DELETE FROM lignes WHERE analyse_id = 1 AND rang = 0",
    "INSERT INTO lignes SELECT analyse_id, 999, numero, intitule, axe, financeur, dispositif, nature, annee, montant, "
    "statut, compte, motif, feuille, cellule FROM lignes WHERE analyse_id = 1 AND rang = 0",
])
def test_historique_takes_lines_edited_by_hand_from_the_sealed_summary_and_says_so(tmp_path, examples, capsys, sql):
    """A financing line edited with an SQLite tool (5 000 000 € added to an amount): historique added it
    up without a word, then refused the whole register until a backup was restored, while
    `consolider` went on from the sealed summaries. The lines are checked against the summary the
    consolidation read; sealed with this user's key, its lines are taken for the évolution — the
    same as an untouched register's — and the command says which file's were edited; the register
    stays as it is."""
    folder, reg = _edited_by_hand(tmp_path, examples, sql)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")  # a warm run
    clean = tmp_path / "propre.sqlite"
    _run("consolider", folder, "-o", tmp_path / "p1.xlsx", "--registre", clean, "--jobs", "1")
    _run("consolider", folder, "-o", tmp_path / "p2.xlsx", "--registre", clean, "--jobs", "1")
    assert _run("historique", clean, "-o", tmp_path / "p.xlsx", "--json", tmp_path / "p.json") == 0
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", tmp_path / "e.json") == 0
    err = capsys.readouterr().err
    name = sorted(p.name for p in examples["paths"])[0]
    assert "Attention : la table « lignes » ne contient plus les lignes de financement que la consolidation n° 1 a " \
           f"lues dans « {name} », analyse n° 1 : elle a été modifiée avec un autre outil ; l'historique reprend les " \
           "lignes lues dans le classeur, gardées scellées dans le registre (comme « acv-xl consolider »), sans " \
           "modifier le registre. Pour changer un montant, corrigez le classeur puis consolidez de nouveau." in err, err
    edited, untouched = (json.loads((tmp_path / n).read_text(encoding="utf-8")) for n in ("e.json", "p.json"))
    assert edited["par_financeur"] == untouched["par_financeur"] and edited["par_convention"] == untouched["par_convention"]
    assert _table(tmp_path / "e.xlsx", "Mouvements").equals(_table(tmp_path / "p.xlsx", "Mouvements"))
    assert reg.read_bytes() == before


@pytest.mark.parametrize("sql", [
    "UPDATE analyses SET resume = 'x' WHERE id = 1",
    "UPDATE analyses SET resume = '{\"format\":2,' || substr(resume, 13, 200) WHERE id = 1",
])
@pytest.mark.parametrize("lines_too", [False, True])
def test_historique_says_a_summary_edited_by_hand_whose_lines_it_cannot_check(tmp_path, examples, capsys, sql,
                                                                              lines_too):
    """A summary made unreadable with an SQLite tool: historique took the table `lignes` as it was,
    without a word — an amount edited there too then passed unchecked into the évolution. It still
    shows the lines (the summary is gone: nothing else to take), and says which analysis it could
    not check and why; the register stays as it is."""
    # (the totals beside edited alike: the lines are then all that could tell)
    edit = sql + (";\nUPDATE lignes SET montant = montant + 5000000 WHERE analyse_id = 1 AND rang = 0;\n"
                  "UPDATE conventions SET financement_total = financement_total + 5000000 WHERE fichier_id IN "
                  "(SELECT id FROM fichiers WHERE analyse_id = 1);\n"
                  "UPDATE consolidations SET financement_total = financement_total + 5000000" if lines_too else "")
    _, reg = _edited_by_hand(tmp_path, examples, edit)
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    err = capsys.readouterr().err
    name = sorted(p.name for p in examples["paths"])[0]
    assert "Attention : la table « analyses » ne contient plus le résumé que la consolidation n° 1 a lu dans " \
           f"« {name} », analyse n° 1 : elle a été modifiée avec un autre outil ; l'historique reprend les lignes de " \
           "financement de la table « lignes » sans pouvoir les vérifier. Restaurez une sauvegarde du registre si " \
           "elles ont pu être modifiées aussi." in err, err
    assert reg.read_bytes() == before


@pytest.mark.parametrize("column", ["statut", "financeur"])
def test_historique_refuses_lines_holding_bytes_where_text_belongs(tmp_path, examples, capsys, column):
    """Lines taken as the table holds them (their summary made unreadable, so nothing to compare them
    with) whose statut or financeur a tool wrote as bytes (a BLOB): historique stopped on « erreur
    interne (TypeError) » writing its JSON, or showed « b'ANAH' » in Mouvements. Said as the numbers
    are, the register untouched, nothing written."""
    _, reg = _edited_by_hand(tmp_path, examples, "UPDATE analyses SET resume = 'x'")
    con = sqlite3.connect(reg)
    con.execute(f"UPDATE lignes SET {column} = CAST({column} AS BLOB) WHERE analyse_id = 1 AND rang = 0")
    con.commit()
    con.close()
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", tmp_path / "e.json") == 2
    err = capsys.readouterr().err
    assert f"est inutilisable (la colonne « {column} » de la table « lignes » contient autre chose qu'un texte) : il " \
           "n'a été ni modifié ni recréé." in err, err
    assert not (tmp_path / "e.xlsx").exists() and not (tmp_path / "e.json").exists() and reg.read_bytes() == before


def test_historique_reads_a_file_identifier_written_as_bytes_as_none(tmp_path, examples, capsys):
    """A file's identifier in `fichiers` written as bytes by a tool (a BLOB): historique stopped on
    « erreur interne inattendue (TypeError) ». Read as no identifier, as `Par convention` reads the
    convention's: the file followed by its path, the same movements as the untouched register's."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for n in (1, 2):
        _run("consolider", folder, "-o", tmp_path / f"c{n}.xlsx", "--registre", reg, "--jobs", "1")
    clean = tmp_path / "propre.sqlite"
    shutil.copy(reg, clean)
    con = sqlite3.connect(reg)
    con.execute("UPDATE fichiers SET acv_id = CAST(acv_id AS BLOB) WHERE consolidation_id = 2")
    con.commit()
    con.close()
    assert _run("historique", clean, "-o", tmp_path / "p.xlsx") == 0
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0, capsys.readouterr().err
    assert _table(tmp_path / "e.xlsx", "Mouvements").equals(_table(tmp_path / "p.xlsx", "Mouvements"))


_SIX = ("6 analyses (« arras.xlsx », consolidation n° 1, analyse n° 1 ; « bethune-bruay.xlsx », consolidation n° 1, "
        "analyse n° 2 ; « boulogne-sur-mer.xlsx », consolidation n° 1, analyse n° 3 ; et 3 autres)")


@pytest.mark.parametrize("sql, said", [
    ("UPDATE lignes SET montant = montant + 1",
     f"la table « lignes » ne contient plus les lignes de financement que les consolidations ont lues pour {_SIX} : "
     "elle a été modifiée avec un autre outil ; l'historique reprend les lignes lues dans les classeurs, gardées "
     "scellées dans le registre (comme « acv-xl consolider »), sans modifier le registre."),
    ("UPDATE analyses SET resume = 'x'",
     f"la table « analyses » ne contient plus les résumés que les consolidations ont lus pour {_SIX} : elle a été "
     "modifiée avec un autre outil ; l'historique reprend les lignes de financement de la table « lignes » sans "
     "pouvoir les vérifier."),
    # the paths rewritten as bytes by the same tool: named as they were, not « b'arras.xlsx' »
    ("UPDATE lignes SET montant = montant + 1; UPDATE fichiers SET chemin = CAST(chemin AS BLOB)",
     f"la table « lignes » ne contient plus les lignes de financement que les consolidations ont lues pour {_SIX} : "
     "elle a été modifiée avec un autre outil ; l'historique reprend les lignes lues dans les classeurs, gardées "
     "scellées dans le registre (comme « acv-xl consolider »), sans modifier le registre."),
])
def test_historique_says_a_table_edited_for_many_analyses_once(tmp_path, examples, capsys, sql, said):
    """A whole table edited by one UPDATE (every amount « rounded », every summary cleared): historique
    printed one paragraph per analysis edited — hundreds for a département, the same words each time.
    One notice, naming the first files and counting the others."""
    _, reg = _edited_by_hand(tmp_path, examples, sql)
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("Attention : la table")] == \
           [line for line in err.splitlines() if said in line], err
    assert err.count("Attention : la table") == 1, err


def test_historique_refuses_lines_edited_by_hand_in_another_users_register(tmp_path, examples, capsys, monkeypatch):
    """Under another user's key (a predecessor's register) the summary cannot be told authentic: the
    register is refused, untouched, as before."""
    from acv_xl.history import register_key as K

    _, reg = _edited_by_hand(tmp_path, examples, "UPDATE lignes SET montant = montant + 5000000 "
                                                 "WHERE analyse_id = 1 AND rang = 0")
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle-autre"))
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", tmp_path / "e.json") == 2
    err = capsys.readouterr().err
    name = sorted(p.name for p in examples["paths"])[0]
    assert f"est inutilisable (la table « lignes » ne contient plus les lignes de financement que la consolidation " \
           f"n° 1 a lues dans « {name} », analyse n° 1 : elle a été modifiée avec un autre outil, l'historique ne " \
           "peut plus s'y fier) : il n'a été ni modifié ni recréé." in err, err
    assert not (tmp_path / "e.xlsx").exists() and not (tmp_path / "e.json").exists() and reg.read_bytes() == before


@pytest.mark.parametrize("sql, said", [
    ("UPDATE conventions SET financement_total = financement_total + 1000000 WHERE acv_id = 'ACV014'",
     "la table « conventions » donne à « arras.xlsx », consolidation n° 1, un financement total de 21 865 500,50 € "
     "quand ses lignes comptées en font 20 865 500,50 €"),
    # emptied: the consolidation's total, which adds up its conventions', was said edited
    ("UPDATE conventions SET financement_total = NULL WHERE acv_id = 'ACV014'",
     "la table « conventions » ne donne plus de financement total à « arras.xlsx », consolidation n° 1, quand ses "
     "lignes comptées en font 20 865 500,50 €"),
    # the counts shown beside the total in Consolidations
    ("UPDATE consolidations SET conventions_comptees = 3",
     "la table « consolidations » dit 3 conventions comptées pour la consolidation n° 1 quand la table « conventions » "
     "en compte 6"),
    ("UPDATE consolidations SET conventions_comptees = 1",  # one: « 1 conventions comptées » was said
     "la table « consolidations » dit 1 convention comptée pour la consolidation n° 1 quand la table « conventions » "
     "en compte 6"),
    ("UPDATE consolidations SET fichiers = 7.5",
     "la table « consolidations » dit 7,50 fichiers vus pour la consolidation n° 1 quand la table « fichiers » en "
     "compte 6"),
    ("UPDATE consolidations SET financement_total = financement_total + 7",
     "la table « consolidations » donne à la consolidation n° 1 un financement total de 80 313 507,50 € quand ses "
     "conventions comptées en font 80 313 500,50 €"),
])
def test_historique_refuses_totals_edited_by_hand(tmp_path, examples, capsys, sql, said):
    """A convention's or a consolidation's financing total « corrected » with an SQLite tool: historique
    showed it in Par convention or Consolidations without a word, the financeurs' totals beside it
    adding up to another amount. Checked against the counted lines (conventions) and the counted
    conventions (consolidations); an edited register is refused, untouched."""
    err = _refused_by_historique(tmp_path, examples, capsys, sql)
    assert f"est inutilisable ({said} : elle a été modifiée avec un autre outil, l'historique ne peut plus s'y " \
           "fier) : il n'a été ni modifié ni recréé." in err, err


@pytest.mark.parametrize("sql, said", [
    ("UPDATE conventions SET erreurs = 0 WHERE acv_id = 'ACV034'", "0 erreur quand les tables « constats » et "
     "« constats_consolidation » lui en comptent 2"),
    ("UPDATE conventions SET avertissements = 7 WHERE acv_id = 'ACV034'", "7 avertissements quand les tables "
     "« constats » et « constats_consolidation » lui en comptent 2"),
    ("UPDATE conventions SET informations = 1.5 WHERE acv_id = 'ACV034'", "1,50 information quand les tables "
     "« constats » et « constats_consolidation » lui en comptent 1"),
    # the other side: a finding of the workbook deleted, the count left as it was
    ("DELETE FROM constats WHERE gravite = 'erreur' AND analyse_id = (SELECT analyse_id FROM fichiers "
     "WHERE acv_id = 'ACV034') AND rang = (SELECT MIN(rang) FROM constats k WHERE k.gravite = 'erreur' AND "
     "k.analyse_id = constats.analyse_id)",
     "2 erreurs quand les tables « constats » et « constats_consolidation » lui en comptent 1"),
])
def test_historique_refuses_finding_counts_edited_by_hand(tmp_path, examples, capsys, sql, said):
    """A convention's count of errors « corrected » with an SQLite tool (2 errors made 0): historique
    showed it in Par convention without a word, a workbook the comité must not pass shown clean. Checked
    against its findings, the workbook's and the consolidation's; an edited register is refused, untouched."""
    err = _refused_by_historique(tmp_path, examples, capsys, sql)
    assert f"est inutilisable (la table « conventions » donne à « boulogne-sur-mer.xlsx », consolidation n° 1, " \
           f"{said} : l'une d'elles a été modifiée avec un autre outil, l'historique ne peut plus s'y fier) : il n'a " \
           "été ni modifié ni recréé." in err, err


@pytest.mark.parametrize("sql, said", [
    # a table made again by a tool (CREATE TABLE … AS keeps no NOT NULL), a count emptied there
    ("CREATE TABLE c2 AS SELECT * FROM conventions; DROP TABLE conventions; ALTER TABLE c2 RENAME TO conventions; "
     "UPDATE conventions SET erreurs = NULL WHERE acv_id = 'ACV034';",
     "ne donne plus de nombre d'erreurs à « boulogne-sur-mer.xlsx », consolidation n° 1, quand"),
    ("UPDATE conventions SET avertissements = 9e999 WHERE acv_id = 'ACV034';",
     "donne à « boulogne-sur-mer.xlsx », consolidation n° 1, un nombre d'avertissements infini quand"),
])
def test_historique_refuses_a_finding_count_emptied_or_infinite(tmp_path, examples, capsys, sql, said):
    """A convention's count of findings emptied (in a table made again by a tool) or made infinite: the
    check of the counts stopped historique on « erreur interne inattendue » (TypeError, ValueError)
    where it meant to refuse the register in French."""
    err = _refused_by_historique(tmp_path, examples, capsys, sql)
    assert f"est inutilisable (la table « conventions » {said} les tables « constats » et « constats_consolidation » " \
           "lui en comptent 2 : l'une d'elles a été modifiée avec un autre outil, l'historique ne peut plus s'y " \
           "fier) : il n'a été ni modifié ni recréé." in err, err


_TOUCHED = "a été modifiée avec un autre outil, l'historique ne peut plus s'y fier"
_ONE_OR_OTHER = "l'une ou l'autre a été modifiée avec un autre outil, l'historique ne peut plus s'y fier"


@pytest.mark.parametrize("sql, said", [
    ("DELETE FROM analyses WHERE id = (SELECT analyse_id FROM fichiers WHERE acv_id = 'ACV014')",
     f"la table « analyses » ne contient plus l'analyse n° 1 du fichier « arras.xlsx », compté par la consolidation "
     f"n° 1 : elle {_TOUCHED}"),
    ("DELETE FROM fichiers WHERE acv_id = 'ACV014'",
     f"la table « fichiers » ne contient plus le fichier de la convention ACV014 (« Arras ») que la consolidation n° 1 "
     f"a comptée : elle {_TOUCHED}"),
    ("UPDATE fichiers SET analyse_id = NULL WHERE acv_id = 'ACV014'",
     f"la table « fichiers » ne relie plus le fichier « arras.xlsx », compté par la consolidation n° 1, à l'analyse de "
     f"son contenu : elle {_TOUCHED}"),
    ("UPDATE fichiers SET compte = 0 WHERE acv_id = 'ACV014'",
     f"la table « conventions » compte « arras.xlsx » dans la consolidation n° 1, la table « fichiers » non : "
     f"{_ONE_OR_OTHER}"),
    ("DELETE FROM conventions WHERE acv_id = 'ACV014'",
     f"la table « fichiers » compte « arras.xlsx » dans la consolidation n° 1, la table « conventions » non : "
     f"{_ONE_OR_OTHER}"),
    ("UPDATE conventions SET compte = 0 WHERE acv_id = 'ACV014'",
     f"la table « fichiers » compte « arras.xlsx » dans la consolidation n° 1, la table « conventions » non : "
     f"{_ONE_OR_OTHER}"),
    # linked to another workbook's analysis: the convention's total, which nobody had touched, was said edited
    ("UPDATE fichiers SET analyse_id = analyse_id + 1 WHERE acv_id = 'ACV014'",
     "la table « fichiers » relie le fichier « arras.xlsx », compté par la consolidation n° 1, à l'analyse n° 2, "
     "d'un autre contenu : l'une ou l'autre table a été modifiée avec un autre outil, l'historique ne peut plus s'y "
     "fier"),
])
def test_historique_refuses_files_conventions_or_analyses_deleted_or_uncounted_by_hand(tmp_path, examples, capsys,
                                                                                         sql, said):
    """A row of `analyses`, `fichiers` or `conventions` deleted with an SQLite tool, or a file or a
    convention no longer counted: historique went on in silence — the financeurs' totals short of the
    consolidation's, or an analysis's lines with no summary to check them against — or blamed the table
    `consolidations`, which nobody had touched. Refused, untouched, naming the table and the file."""
    _, reg = _edited_by_hand(tmp_path, examples, sql)
    before = reg.read_bytes()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 2
    err = capsys.readouterr().err
    assert f"est inutilisable ({said}) : il n'a été ni modifié ni recréé." in err, err
    assert not (tmp_path / "e.xlsx").exists() and reg.read_bytes() == before


def test_historique_refuses_amounts_no_spreadsheet_holds(tmp_path, examples, capsys):
    """An infinite amount in a register (edited by hand, or received): historique wrote « inf » in its
    workbook's cells (Excel then « repairs » the file) and « Infinity » in a JSON no parser accepts."""
    _, reg = _edited_by_hand(tmp_path, examples, "UPDATE conventions SET financement_total = 9e999 "
                                                 "WHERE rowid = (SELECT MIN(rowid) FROM conventions WHERE compte = 1)")
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx", "--json", tmp_path / "e.json") == 2
    err = capsys.readouterr().err
    assert "des montants qu'un tableur ne peut pas représenter" in err and "rien n'est écrit" in err
    assert not (tmp_path / "e.xlsx").exists() and not (tmp_path / "e.json").exists()


def test_a_summary_edited_by_hand_is_not_trusted_the_file_is_read_again(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "froid.xlsx", "--registre", reg, "--jobs", "1")
    con = sqlite3.connect(reg)
    con.execute("UPDATE analyses SET resume = '{\"lines\": 3' WHERE id = 1")
    con.commit()
    con.close()
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "chaud.xlsx", jobs=2, cache=r, record=r)
    assert len(result.reused) == len(examples["paths"]) - 1
    assert _cells(tmp_path / "chaud.xlsx") == _cells(tmp_path / "froid.xlsx")


def test_the_comite_and_sans_erreurs_are_said_under_each_title(tmp_path, examples):
    folder = _folder(tmp_path, examples)
    out = tmp_path / "c.xlsx"
    C.consolidate([folder], out, jobs=1, comite="Comité du 12/06/2026", sans_erreurs=True)
    for ws in openpyxl.load_workbook(out).worksheets:
        sub = ws["A2"].value
        assert "Comité du 12/06/2026" in sub and "conventions sans erreur seulement" in sub, ws.title


def test_only_dia04_looks_at_the_day_as_the_register_assumes():
    # `register.valid_until` knows one rule that depends on the day: a new one must be told there
    src = ROOT / "acv_xl"
    uses = []
    for p in sorted([*src.glob("contract/*.py"), *src.glob("reading/*.py"), *src.rglob("checks/**/*.py")]):
        text = p.read_text(encoding="utf-8")
        for needle in ("date.today", "datetime.now", "datetime.today", "reference_date(", "today()"):
            uses += [(p.name, needle)] * text.count(needle)
    assert sorted(set(uses)) == [("__init__.py", "date.today"), ("__init__.py", "reference_date("),
                                 ("__init__.py", "today()"), ("diagnostic.py", "reference_date("),
                                 ("financement.py", "reference_date(")], uses


def test_the_comite_date_is_read_in_figures_or_in_words_and_an_unreadable_one_is_said(tmp_path, examples, capsys):
    from acv_xl.outputs.consolidation_result import date_of_label

    assert date_of_label("Comité du 12/06/2026") == date(2026, 6, 12)
    assert date_of_label("Comité du 12 juin 2026") == date(2026, 6, 12)
    assert date_of_label("comité du 1er décembre 2026") == date(2026, 12, 1)
    assert date_of_label("Comité du 31/02/2026") is None and date_of_label("Comité de juin") is None
    folder = _folder(tmp_path, examples)
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--comite", "Comité de juin", "--jobs", "1") in (0, 1)
    assert "aucune date reconnue" in capsys.readouterr().err


def test_the_comite_date_is_read_in_the_forms_a_prefecture_writes_never_guessed(tmp_path, examples, capsys):
    """« CE 2027-06-12 », « Comité du 12.06.2027 », « 12-06-2027 », « 12/06/27 »: no date was read, so no
    comité recorded late was said, historique did not number two labels of one date, and the Synthèse's
    phase was measured at each convention's next comité, not at the comité's. Read now; a part of a date
    (« juin 2027 », « 12 juin », « 06/12 ») or an impossible one (« 2027-13-01 », an American « 06/13/2027 »)
    still none."""
    from acv_xl.history.historique import _numbered
    from acv_xl.outputs.consolidation_result import date_of_label, impossible_date_in_label

    for label in ("CE 2027-06-12", "Comité du 12.06.2027", "12-06-2027", "Comité du 12/06/27", "12 JUIN 2027",
                  "comite_2027.06.12", "Comité du mardi 12 juin 2027", "CE du 12 juin 2027 (ordre du jour du 01/06/2027)"):
        assert date_of_label(label) == date(2027, 6, 12), label
    assert date_of_label("1er juin 2027") == date(2027, 6, 1) and date_of_label("12 juil. 2027") == date(2027, 7, 12)
    assert date_of_label("06/12/2027") == date(2027, 12, 6)  # day first, as in French
    for label in ("Comité de juin 2027", "12 juin", "06/12", "2027-13-01", "06/13/2027", "112/06/2027",
                  "12/06/2027/3", "CE 12/06/202", "Comité n° 2027"):
        assert date_of_label(label) is None, label
    assert impossible_date_in_label("CE 2027-13-01") == "2027-13-01"
    assert impossible_date_in_label("Comité du 06/13/2027") == "06/13/2027"
    assert _numbered(["CE 2027-06-12", "Comité du 12/06/27", "CE 2027-06-19"], ["2027-06-12T10:00:00"] * 3,
                     [1, 2, 3]) == ["CE 2027-06-12 (n° 1)", "Comité du 12/06/27 (n° 2)", "CE 2027-06-19"]
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    said = []
    for comite in ("CE 2027-06-19", "Comité du 12.06.2027"):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--registre", reg, "--comite",
                    comite, "--jobs", "1") in (0, 1)
        said.append(capsys.readouterr().err)
    assert "aucune date reconnue" not in said[0] + said[1], said
    assert "le comité « Comité du 12.06.2027 » est antérieur au comité « CE 2027-06-19 » (n° 1)" in said[1], said[1]
    texts = " ".join(str(c.value) for row in openpyxl.load_workbook(tmp_path / "c.xlsx")[Feuille.SYNTHESE].iter_rows()
                     for c in row if isinstance(c.value, str))
    assert "au 12/06/2027 (date du comité « Comité du 12.06.2027 »)" in texts, texts


def test_a_label_without_a_date_says_the_forms_read_and_a_part_of_a_date_what_it_lacks(tmp_path, examples, capsys):
    """« Comité de juin 2027 » was told « aucune date reconnue … (attendu par exemple « Comité du 12/06/2026 »
    ou « Comité du 12 juin 2026 ») », as if the label held nothing of a date, and naming two forms of the
    seven read. Now: the part typed and what it lacks (never completed), and every form read."""
    from acv_xl.outputs.consolidation_result import FORMES_LUES, partial_date_in_label

    assert partial_date_in_label("Comité de JUIN 2027") == ("JUIN 2027", "un mois sans jour")
    assert partial_date_in_label("Comité du 1er Décembre") == ("1er Décembre", "un jour sans année")
    assert partial_date_in_label("CE 06/12") == ("06/12", "un jour sans année")
    for label in ("Comité du 12 juin 2027", "Comité du 31/02/2026", "Comité n° 3", "Réunion 2027", "CE 13/13"):
        assert partial_date_in_label(label) is None, label
    folder = _folder(tmp_path, examples)
    said = []
    for comite in ("Comité de juin 2027", "Comité n° 3", "Comité du 06/13/2027"):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--remplacer", "--comite", comite,
                    "--jobs", "1") in (0, 1)
        said.append(capsys.readouterr().err)
    ailleurs = "la phase de chaque convention est mesurée à la date de son prochain comité, sinon à la date du jour"
    assert ("acv-xl : le libellé du comité « Comité de juin 2027 » ne donne pas de date entière (« juin 2027 » : un "
            f"mois sans jour, jamais complété) : {ailleurs}. Écrivez la date entière dans le libellé (--comite) pour "
            f"la mesurer à la date du comité ; dates lues : {FORMES_LUES}.") in said[0], said[0]
    assert (f"acv-xl : aucune date reconnue dans le libellé du comité « Comité n° 3 » : {ailleurs}. Dates lues : "
            f"{FORMES_LUES}.") in said[1], said[1]
    assert f"« 06/13/2027 » du libellé du comité « Comité du 06/13/2027 » n'existe pas" in said[2], said[2]
    assert f"dates lues : {FORMES_LUES}." in said[2], said[2]
    assert "« 2027-06-12 » (année, mois, jour)" in FORMES_LUES and "« 12/06/27 »" in FORMES_LUES


def test_a_month_in_figures_without_a_day_is_said_as_such():
    """« Comité 06/2027 », « CE 2027-06 »: a month and its year in figures, told « aucune date reconnue »
    as if nothing of a date were there, where « Comité de juin 2027 » is told its day is missing."""
    from acv_xl.outputs.consolidation_result import partial_date_in_label

    assert partial_date_in_label("Comité 06/2027") == ("06/2027", "un mois sans jour")
    assert partial_date_in_label("CE 2027-06") == ("2027-06", "un mois sans jour")
    assert partial_date_in_label("Comité 6.2027") == ("6.2027", "un mois sans jour")
    for label in ("CE 2027-13", "Comité 13/2027", "Programme 2026-2027", "CE 2027-06-12"):
        assert partial_date_in_label(label) is None, label


def test_an_impossible_comite_date_is_said_as_such(tmp_path, examples, capsys):
    """« Comité du 31/02/2026 » was told « aucune date reconnue … (attendu par exemple « Comité du
    12/06/2026 ») », the very form the user had typed: now the date typed and that it does not exist."""
    from acv_xl.outputs.consolidation_result import impossible_date_in_label

    assert impossible_date_in_label("Comité du 31/02/2026") == "31/02/2026"
    assert impossible_date_in_label("Comité du 31 juin 2026") == "31 juin 2026"
    assert impossible_date_in_label("Comité du 12/06/2026") is None
    assert impossible_date_in_label("Comité du 1er décembre 2026") is None
    assert impossible_date_in_label("Comité de juin") is None
    folder = _folder(tmp_path, examples)
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--comite", "Comité du 31/02/2026",
                "--jobs", "1") in (0, 1)
    err = capsys.readouterr().err
    assert "la date « 31/02/2026 » du libellé du comité « Comité du 31/02/2026 » n'existe pas" in err, err
    assert "aucune date reconnue" not in err


def test_a_comite_date_before_the_programme_or_years_ahead_is_said(tmp_path, examples, capsys):
    """« Comité du 12/06/2062 » (2026 typed with its figures swapped) was taken without a word: each phase
    measured in 2062 (every convention « terminée »), and in the register every later comité said earlier
    than it. A date before the programme's first year, or more than two years ahead, is said (status
    unchanged: the comité recorded all the same); a date of the programme, none."""
    from acv_xl.outputs.consolidation_result import far_comite_date

    folder = _folder(tmp_path, examples)
    ahead = f"Comité du 12/06/{date.today().year + 5}"  # (whatever the year the test runs in)
    for label, said in ((ahead, "à plus de deux ans de la date du jour"),
                        ("Comité du 12/06/2006", "antérieure au début du programme Action Cœur de Ville (2018)")):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--comite", label, "--jobs", "1",
                    "--remplacer") in (0, 1)
        err = capsys.readouterr().err
        day = label[-10:]
        assert (f"acv-xl : attention, la date du libellé du comité « {label} », le {day}, est {said} : la phase de "
                "chaque convention est mesurée à cette date. Vérifiez l'année du libellé (--comite).") in err, err
    # (judged against a fixed day: a test never depends on the day it runs)
    today = date(2026, 12, 7)
    assert far_comite_date(date(2028, 12, 7), today) is None and far_comite_date(date(2018, 1, 1), today) is None
    assert far_comite_date(date(2028, 12, 9), today) is not None and far_comite_date(date(2017, 12, 31), today)
    # two years are two calendar years, with or without a 29 February between: 731 days let the day after pass
    assert far_comite_date(date(2031, 1, 10), date(2029, 1, 10)) is None
    assert far_comite_date(date(2031, 1, 11), date(2029, 1, 10)) is not None
    assert far_comite_date(date(2030, 2, 28), date(2028, 2, 29)) is None
    assert far_comite_date(date(2030, 3, 1), date(2028, 2, 29)) is not None


def test_a_comite_label_not_in_utf8_is_refused_in_french(tmp_path, examples, capsys):
    """A label from a script saved in Latin-1 reaches Python with its « é » as a surrogate, which no
    writer takes: the consolidation stopped with « erreur interne inattendue (UnicodeEncodeError…) »
    as it wrote its workbook, and nothing was recorded."""
    folder = _folder(tmp_path, examples)
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--comite", "Comit\udce9 du 12/06/2026",
                "--registre", tmp_path / "r.sqlite", "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "le libellé du comité (--comite) « Comit\\xe9 du 12/06/2026 » n'est pas du texte UTF-8" in err, err
    assert "erreur interne" not in err and not (tmp_path / "c.xlsx").exists()


def test_a_comite_label_longer_than_a_name_is_refused_before_any_work(tmp_path, examples, capsys):
    """A label of 10 000 characters (a paste gone wrong) was taken: printed whole in every warning naming
    it, recorded, and over 29 pages of historique's `Consolidations` sheet. Refused in French (status 2),
    nothing written, no register created; a label of the longest length taken is recorded as typed."""
    from acv_xl.outputs.consolidation_result import COMITE_MAX_CHARS

    folder = _folder(tmp_path, examples)
    capsys.readouterr()
    label = "Comité du 12/06/2027 " + "x" * 10_000
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--comite", label,
                "--registre", tmp_path / "r.sqlite", "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert ("acv-xl : le libellé du comité (--comite) compte 10 021 caractères, 150 au plus (« Comité du "
            "12/06/2027 xxxxxxxxxxxxxxxxxxx… ») : donnez le nom du comité et sa date (« Comité d'engagement du "
            "12/06/2027 ») ; rien n'est lu ni écrit.") in err, err
    assert len(err) < 400 and not (tmp_path / "c.xlsx").exists() and not (tmp_path / "r.sqlite").exists()
    longest = ("Comité d'engagement du 12/06/2027 " + "é" * COMITE_MAX_CHARS)[:COMITE_MAX_CHARS]
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--comite", longest,
                "--registre", tmp_path / "r.sqlite", "--jobs", "1") in (0, 1)
    con = sqlite3.connect(tmp_path / "r.sqlite")
    try:
        assert con.execute("SELECT comite FROM consolidations").fetchall() == [(longest,)]
    finally:
        con.close()


def test_a_comite_label_holding_a_line_break_or_a_control_is_refused_and_its_ends_trimmed(tmp_path, examples, capsys):
    """A label read from a file by a script kept its line's end: recorded so, and shown with a blank line under
    it; a line break or a tab inside, an escape sequence, a bidirectional control (the rest shown reversed)
    were recorded and written into every title (« CE_x001B_[31m » in the workbooks). Refused in French
    (status 2, nothing written, no register created); spaces and a line's end around it are trimmed."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for label, said in (("CE du\n12/06/2027", "un saut de ligne"), ("CE du\t12/06/2027", "une tabulation"),
                        ("CE \x1b[31mdu 12/06/2027", "un caractère de contrôle (U+001B)"),
                        ("CE du \u202e7202/60/21", "un caractère de contrôle (U+202E)")):
        capsys.readouterr()
        assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--comite", label,
                    "--registre", reg, "--jobs", "1") == 2, label
        err = capsys.readouterr().err
        assert (f"acv-xl : le libellé du comité (--comite) contient {said} : écrivez-le sur une ligne, en texte "
                "seul (« Comité d'engagement du 12/06/2027 ») ; rien n'est lu ni écrit.") in err, err
        assert not (tmp_path / "c.xlsx").exists() and not reg.exists()
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--comite", " Comité du 12/06/2027\r\n",
                "--registre", reg, "--jobs", "1") in (0, 1)
    assert "« Comité du 12/06/2027 »" in openpyxl.load_workbook(tmp_path / "c.xlsx")[Feuille.SYNTHESE]["C12"].value
    with sqlite3.connect(reg) as con:
        assert con.execute("SELECT comite FROM consolidations").fetchall() == [("Comité du 12/06/2027",)]


def test_a_recorded_comite_label_longer_than_comite_takes_is_cut_where_shown(tmp_path, examples, capsys):
    """A register written before `--comite` was bounded, or edited with an SQLite tool, holding a label of
    10 000 characters: historique printed it whole over pages of its sheets, and each consolidation after
    it quoted it whole in its warnings. Cut with « … » where shown, at what `--comite` takes; the JSON and
    the register keep it whole."""
    from acv_xl.outputs.consolidation_result import COMITE_MAX_CHARS

    long = "Comité du 12/06/2027 " + "x" * 10_000
    folder, reg = _edited_by_hand(tmp_path, examples, f"UPDATE consolidations SET comite = '{long}'")
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--comite",
                "CE du 12/06/2027", "--jobs", "1") in (0, 1)
    err = capsys.readouterr().err
    shown = long[:COMITE_MAX_CHARS - 1] + "…"
    assert f"le comité « CE du 12/06/2027 » porte la date du comité « {shown} » (n° 1)" in err, err
    assert "x" * COMITE_MAX_CHARS not in err
    evo, js = tmp_path / "e.xlsx", tmp_path / "e.json"
    assert _run("historique", reg, "-o", evo, "--json", js) == 0
    wb = openpyxl.load_workbook(evo)
    assert f"{shown} (n° 1)" in [c.value for row in wb["Consolidations"].iter_rows() for c in row]
    cells = [c.value for ws in wb for row in ws.iter_rows() for c in row]
    assert not any(isinstance(v, str) and "x" * COMITE_MAX_CHARS in v for v in cells)
    assert json.loads(js.read_text(encoding="utf-8"))["consolidations"][0]["comite"] == long


def test_two_recorded_comite_labels_cut_alike_are_numbered(tmp_path, examples):
    """Two labels longer than `--comite` takes (a register written before the limit), alike up to the cut
    and different after it (their dates, at the end): both were shown as the same « … » in the Consolidations
    sheet, the charts and every column of the tables, neither numbered (their dates differ) — two comités
    no longer told apart. Numbered as two runs of one comité are."""
    from acv_xl.outputs.consolidation_result import COMITE_MAX_CHARS

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    for k in (1, 2):
        assert _run("consolider", folder, "-o", tmp_path / f"c{k}.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    head = "Comité d'engagement " + "x" * 200
    with sqlite3.connect(reg) as con:
        con.execute("UPDATE consolidations SET comite = ? || CASE id WHEN 1 THEN ' du 12/06/2027' "
                    "ELSE ' du 12/09/2027' END", (head,))
    evo = tmp_path / "e.xlsx"
    assert _run("historique", reg, "-o", evo) == 0
    shown = head[:COMITE_MAX_CHARS - 1] + "…"
    cells = [c.value for row in openpyxl.load_workbook(evo)["Consolidations"].iter_rows() for c in row]
    assert f"{shown} (n° 1)" in cells and f"{shown} (n° 2)" in cells and shown not in cells


def test_historique_shows_a_path_with_an_escape_sequence_literally(tmp_path, capsys):
    """A register's name holding a terminal escape sequence is shown as it is, never acted on
    (as every other command does, `outputs.terminal.literal`)."""
    from acv_xl.history.historique import run_historique

    status = run_historique(tmp_path / "a\x1b[31m.sqlite", tmp_path / "e.xlsx")
    err = capsys.readouterr().err
    assert status == 2 and "registre introuvable" in err and "\x1b" not in err, err


def test_historique_of_a_missing_register_names_it_between_guillemets(tmp_path, capsys):
    """« registre introuvable : /chemin/mon registre.sqlite. Le registre est créé par « acv-xl consolider
    DOSSIER -o SORTIE.xlsx --registre /chemin/mon registre.sqlite » »: the only message naming a file
    without « », and a command that, pasted, passes « registre.sqlite » as a folder to consolidate."""
    from acv_xl.history.historique import run_historique

    reg = tmp_path / "mon registre.sqlite"
    status = run_historique(reg, tmp_path / "e.xlsx")
    err = capsys.readouterr().err
    assert status == 2 and f"registre introuvable : « {reg} »." in err, err
    assert "« acv-xl consolider DOSSIER -o SORTIE.xlsx --registre REGISTRE.sqlite »" in err, err


def test_the_rules_version_changes_with_what_fill_takes_outside_its_own_lines(monkeypatch):
    """`_fill` builds a summary with `_filled` and the fields named by `_ACTION_ATTRS`/`_LINE_ATTRS`,
    outside its own lines: a change to any of them (two fields swapped, empty rows kept) changes
    the summaries, so it must change the rules' version — else a warm run reuses summaries a cold
    run would no longer make."""
    from operator import attrgetter

    from acv_xl.history import register as R

    def version() -> str:
        R.rules_version.cache_clear()
        return R.rules_version("1.0")

    before = version()
    try:
        with monkeypatch.context() as m:
            m.setattr(C, "_ACTION_ATTRS", attrgetter("numero", "axe", "intitule", "maitre_ouvrage", "maturite",
                                                     "cout_total"))
            assert version() != before
        with monkeypatch.context() as m:
            m.setattr(C, "_LINE_ATTRS", attrgetter("numero"))
            assert version() != before
        with monkeypatch.context() as m:
            m.setattr(C, "_filled", lambda lignes, first: list(lignes))
            assert version() != before
        assert version() == before
    finally:
        R.rules_version.cache_clear()


def test_the_rules_version_covers_each_summary_function_from_def_to_its_last_statement():
    """`rules_version` takes the lines of the batch's summary functions from their code objects (no
    tokenizer at each run): exactly `inspect.getsource`'s text (so the version is the one it gave),
    but for blank and comment lines after the last statement, which change nothing."""
    import inspect

    from acv_xl.history import register as R

    for fn in (C.summarize, C._fill, C._identify, C._is_consolidation, C._text, C._date):
        lines = Path(fn.__code__.co_filename).read_text(encoding="utf-8").splitlines(keepends=True)
        first, last = R._line_span(fn.__code__)
        span, whole = "".join(lines[first - 1:last]), inspect.getsource(fn)
        assert whole.startswith(span) and span.rstrip().endswith(lines[last - 1].rstrip())
        assert all(not ln.strip() or ln.strip().startswith("#") for ln in whole[len(span):].splitlines())
    # a nested function's, a comprehension's last line counts (`_fill` ends inside a call)
    code = compile("def f(xs):\n    return [\n        x\n        for x in xs\n    ]\n", "m", "exec").co_consts[0]
    assert R._line_span(code) == (1, 4)


def test_historique_of_a_register_without_consolidation_names_it_between_guillemets(tmp_path, capsys):
    """Every message names a file between « » (« le registre « r.sqlite » est inutilisable… »);
    this one alone read « le registre r.sqlite ne contient encore aucune consolidation »."""
    from acv_xl.history.historique import run_historique
    from acv_xl.history.register import Register

    reg = tmp_path / "vide.sqlite"
    with Register.open(reg, __version__):
        pass
    status = run_historique(reg, tmp_path / "e.xlsx")
    err = capsys.readouterr().err
    assert status == 2 and f"le registre « {reg} » ne contient encore aucune consolidation" in err, err
    assert not (tmp_path / "e.xlsx").exists()


def test_historique_departement_of_a_register_without_consolidation_says_it_is_empty(tmp_path, capsys):
    """`historique --departement 62` on a register created but holding no run yet (its first consolidation
    stopped before it was recorded): « erreur interne inattendue (KeyError : 'comite') », where the same
    command without the option says the register is empty. Said the same with it; `load` gives no run."""
    from acv_xl.history.historique import load, run_historique
    from acv_xl.history.register import Register

    reg = tmp_path / "vide.sqlite"
    with Register.open(reg, __version__):
        pass
    status = run_historique(reg, tmp_path / "e.xlsx", departement="62")
    err = capsys.readouterr().err
    assert status == 2 and f"le registre « {reg} » ne contient encore aucune consolidation" in err, err
    assert not (tmp_path / "e.xlsx").exists()
    with Register.open(reg, __version__, create=False) as r:
        assert load(r, "62").ids == []


@pytest.mark.parametrize("content", ["empty file", "empty database"])
def test_historique_of_an_empty_file_leaves_it_as_it_was(tmp_path, capsys, content):
    """`historique` only reads: an empty file (a run killed as it created the register, or one made by
    hand) became a 69 kB register — the schema written into it — before « aucune consolidation »;
    an SQLite database with no table (not acv-xl's) was made into a register too. Both are said empty
    and left byte for byte."""
    from acv_xl.history.historique import run_historique

    reg = tmp_path / "vide.sqlite"
    reg.write_bytes(b"")
    if content == "empty database":
        sqlite3.connect(reg).execute("VACUUM").connection.close()
    before = reg.read_bytes()
    status = run_historique(reg, tmp_path / "e.xlsx")
    err = capsys.readouterr().err
    assert status == 2 and f"le registre « {reg} » ne contient encore aucune consolidation" in err, err
    assert reg.read_bytes() == before and not (tmp_path / "e.xlsx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vide.sqlite"]  # no journal left either


def test_a_line_without_action_nor_financeur_is_a_movement_of_non_ventile(tmp_path, examples):
    """A line typed without N° action nor financeur code counts in the consolidation, under « non
    ventilé »; its movement was in the Mouvements sheet but « Mouvements par financeur » skipped it
    (taken for a convention's movement): « non ventilé » grew by its amount with no commitment
    obtained and no new line. Every line's movement is now accounted for, and the movements' écarts
    add up to the change of the financement total."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    name = examples["paths"][0].name
    conv = examples["convs"][name].model_copy(deep=True)
    conv.financements.append(_line(conv.financements[0], numero=None, financeur=None, statut="Acquis",
                                   montant=12_345.67))
    _write(conv, folder / name)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    sans = _lignes(tmp_path / "c2.xlsx")
    sans = sans[sans[layout.T_FINANCEMENTS.header("financeur")].isna()]
    assert [float(m) for m in sans[layout.T_FINANCEMENTS.header("montant")]] == [12_345.67]  # counted
    evo = tmp_path / "e.xlsx"
    mv = _movements(reg, evo)
    assert list(mv["Mouvement"]) == ["Nouvelle ligne"] and float(mv["Écart (€)"].iloc[0]) == 12_345.67
    pf = pd.read_excel(evo, sheet_name="Mouvements par financeur", header=2, engine="openpyxl", dtype=object)
    nv = pf[pf["Financeur"] == "non ventilé"].iloc[0]
    assert float(nv["Écart (€)"]) == float(nv["Engagements obtenus (€)"]) == 12_345.67
    assert int(nv["Nouvelles lignes"]) == 1
    cons = _table(evo, "Consolidations")
    totals = [float(t) for t in cons["Financement total (€)"]]
    assert round(sum(float(e) for e in mv["Écart (€)"].dropna()), 2) == round(totals[1] - totals[0], 2) == 12_345.67


def test_a_line_given_to_another_action_is_one_line_changed_never_a_new_commitment(tmp_path, examples):
    """A commune splits action 2.2 in two (its CDC loan now 2.3's) and moves a line from 4.1 to 3.1:
    each read « Ligne retirée » + « Nouvelle ligne » already acquired, i.e. the CDC's whole loan in
    « Engagements obtenus » and « Nouvelles lignes » at the next comité, though nothing was obtained.
    Each is now one line whose action changed (« Action modifiée »); at another amount too when
    nothing else could be that line (see the next test)."""
    from acv_xl.history.historique import ACTION_MODIFIEE, LIGNE_AJOUTEE, LIGNE_RETIREE, _compare

    def line(numero, montant, statut="Acquis", financeur="CDC", annee=2024):
        return (numero, financeur, "PRU ACV", "Prêt", annee, montant, statut, f"Action {numero}", 1)

    moves = _compare(1, 2, "ACV034", "Boulogne",
                     [line("2.2", 780000.0), line("4.1", 318000.0, "Sollicité"), line("5.1", 10.0)],
                     [line("2.3", 780000.0), line("3.1", 318000.0, "Engagé"), line("5.2", 20.0, "Sollicité")])
    assert [(m.type, m.numero, m.engagement, m.ecart) for m in moves] == [
        (ACTION_MODIFIEE, "2.2", False, -780000.0), (ACTION_MODIFIEE, "2.3", False, 780000.0),
        (ACTION_MODIFIEE, "4.1", False, -318000.0), (ACTION_MODIFIEE, "3.1", True, 318000.0),  # obtained now
        # another amount and another statut: nothing says it is 5.1's line
        (LIGNE_AJOUTEE, "5.2", False, 20.0), (LIGNE_RETIREE, "5.1", False, -10.0)]
    # end to end: a workbook's acquired line given to another of its actions
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    def move(cell, numeros) -> None:
        cell("numero").value = next(n for n in numeros if n != cell("numero").value)

    financeur = _change_acquired_line(folder / examples["paths"][0].name, move)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    mv = _movements(reg, tmp_path / "e.xlsx")
    assert list(mv["Mouvement"]) == [ACTION_MODIFIEE, ACTION_MODIFIEE]
    mf = _table(tmp_path / "e.xlsx", "Mouvements par financeur")
    row = mf[mf["Financeur"] == _groupe(financeur)].iloc[0]
    assert float(row["Écart (€)"]) == 0.0
    assert float(row["Engagements obtenus (€)"]) == 0.0 and int(row["Nouvelles lignes"]) == 0


def test_a_line_given_to_another_action_at_another_amount_is_no_commitment_obtained():
    """A split action's CDC loan (2.2, « Acquis », 780 000 €) given to the new action 2.3 and revised
    to 700 000 € read « Ligne retirée » + « Nouvelle ligne » already « Acquis »: 700 000 € of
    « engagement obtenu » that no one obtained. When its financeur, dispositif, nature, année and
    statut single it out — one such line removed, one added — it is one line given to another
    action, its amounts on its two rows; when two removed lines could be it, or its statut changed
    too, it stays a line removed and a line added."""
    from acv_xl.history.historique import ACTION_MODIFIEE, LIGNE_AJOUTEE, LIGNE_RETIREE, _compare

    def line(numero, montant, statut="Acquis", annee=2024):
        return (numero, "CDC", "PRU ACV", "Prêt", annee, montant, statut, f"Action {numero}", 1)

    moves = _compare(1, 2, "ACV034", "Boulogne", [line("2.2", 780000.0)], [line("2.3", 700000.0)])
    assert [(m.type, m.numero, m.engagement, m.ecart, m.montant_avant, m.montant_apres) for m in moves] == [
        (ACTION_MODIFIEE, "2.2", False, -780000.0, 780000.0, None),
        (ACTION_MODIFIEE, "2.3", False, 700000.0, None, 700000.0)]
    assert sum(m.ecart for m in moves) == -80000.0
    # two removed loans of that kind could be it: nothing is guessed
    moves = _compare(1, 2, "ACV034", "Boulogne", [line("2.2", 780000.0), line("4.1", 50000.0)],
                     [line("2.3", 700000.0)])
    assert [(m.type, m.numero, m.engagement) for m in moves] == [
        (LIGNE_AJOUTEE, "2.3", True), (LIGNE_RETIREE, "2.2", False), (LIGNE_RETIREE, "4.1", False)]
    # its statut changed too: obtained now, as a new line (another year or action is no reason to doubt it)
    moves = _compare(1, 2, "ACV034", "Boulogne", [line("2.2", 780000.0, "Sollicité")], [line("2.3", 700000.0)])
    assert [(m.type, m.numero, m.engagement) for m in moves] == [(LIGNE_AJOUTEE, "2.3", True),
                                                                 (LIGNE_RETIREE, "2.2", False)]
    # the same action: a tranche removed and another year's added stays « Année modifiée »'s to judge
    moves = _compare(1, 2, "ACV034", "Boulogne", [line("2.2", 780000.0)], [line("2.2", 700000.0, annee=2025)])
    assert {m.type for m in moves} != {ACTION_MODIFIEE}


def test_two_tranches_of_one_year_re_sorted_are_no_movement():
    """Two lines of one key (two État DSIL tranches of 2025 for one action, one « Acquis », one
    « Sollicité ») swapped by a re-sort were paired in order: two « Statut modifié », two « Montant
    modifié » of opposite écarts, and 300 000 € of « engagement obtenu » no one obtained. Lines are
    paired as `comparer` pairs them: identical ones first, then the others in order."""
    from acv_xl.history.historique import LIGNE_AJOUTEE, MONTANT_MODIFIE, _compare

    def line(montant, statut):
        return ("2.1", "ETAT", "DSIL", "Subvention", 2025, montant, statut, "Grande Rue", 1)

    acquise, sollicitee = line(300000.0, "Acquis"), line(100000.0, "Sollicité")
    assert _compare(1, 2, "ACV034", "Boulogne", [acquise, sollicitee], [sollicitee, acquise]) == []
    moves = _compare(1, 2, "ACV034", "Boulogne", [acquise, sollicitee],
                     [sollicitee, line(310000.0, "Acquis"), line(50000.0, "Sollicité")])
    assert [(m.type, m.ecart, m.engagement) for m in moves] == [(MONTANT_MODIFIE, 10000.0, False),
                                                                (LIGNE_AJOUTEE, 50000.0, False)]


def test_a_dispositif_corrected_as_fin_21_asks_is_one_line_changed_never_a_new_commitment():
    """FIN-21 asks for a dispositif of the financeur's list (« Mobilités » → « Aménagement du
    territoire »): the line, already « Acquis », read « Ligne retirée » + « Nouvelle ligne » with its
    whole amount « engagement obtenu ». It is one line whose dispositif changed; a nature likewise."""
    from acv_xl.history.historique import DISPOSITIF_MODIFIE, NATURE_MODIFIEE, _compare

    def line(dispositif, nature="Subvention", montant=100000.0):
        return ("3.1", "REGION", dispositif, nature, 2026, montant, "Acquis", "Pôle gare", 1)

    moves = _compare(1, 2, "ACV031", "Béthune", [line("Mobilités"), line("Aménagement du territoire", "Prêt", 5.0)],
                     [line("Aménagement du territoire"), line("Aménagement du territoire", "Avance remboursable", 5.0)])
    assert [(m.type, m.dispositif, m.nature, m.engagement, m.ecart) for m in moves] == [
        (DISPOSITIF_MODIFIE, "Mobilités", "Subvention", False, -100000.0),
        (DISPOSITIF_MODIFIE, "Aménagement du territoire", "Subvention", False, 100000.0),
        (NATURE_MODIFIEE, "Aménagement du territoire", "Prêt", False, -5.0),
        (NATURE_MODIFIEE, "Aménagement du territoire", "Avance remboursable", False, 5.0)]


def test_a_line_refused_or_no_longer_refused_moves_the_totals_by_its_amount():
    """A refused line counts in no total: a « Sollicité » line refused lowered its financeur's total
    by its amount, yet its « Statut modifié » row had no écart; a refused line added (or removed)
    had its whole amount as écart though no total moved. The movements' écarts now add up to the
    change of the totals."""
    from acv_xl.history.historique import (LIGNE_AJOUTEE, LIGNE_RETIREE, MONTANT_MODIFIE, STATUT_MODIFIE,
                                           _compare)

    def line(dispositif, montant, statut, compte=None):  # `compte` as the register holds it, unless given
        if compte is None:
            compte = int(montant is not None and statut != "Refusé")
        return ("2.1", "ETAT", dispositif, "Subvention", 2025, montant, statut, "Grande Rue", compte)

    old = [line("DSIL", 100.0, "Sollicité"), line("DETR", 40.0, "Refusé"), line("FNADT", 7.0, "Refusé", 0),
           line("Fonds vert", 30.0, "Sollicité"), line("DRAC", None, "Sollicité", 0)]
    new = [line("DSIL", 80.0, "Refusé"), line("DETR", 45.0, "Acquis"), line("FSIL", 9.0, "Refusé", 0),
           line("Fonds vert", 35.0, "Sollicité"), line("DRAC", 12.0, "Sollicité", 1)]
    moves = _compare(1, 2, "ACV034", "Boulogne", old, new)
    assert [(m.type, m.dispositif, m.ecart, m.engagement) for m in moves] == [
        (STATUT_MODIFIE, "DSIL", -100.0, False), (MONTANT_MODIFIE, "DSIL", None, False),
        (STATUT_MODIFIE, "DETR", 45.0, True), (MONTANT_MODIFIE, "DETR", None, False),
        (LIGNE_AJOUTEE, "FSIL", None, False),
        (MONTANT_MODIFIE, "Fonds vert", 5.0, False),
        # an amount typed as text, now a number: it counts
        (MONTANT_MODIFIE + " (auparavant : illisible)", "DRAC", 12.0, False),
        (LIGNE_RETIREE, "FNADT", None, False)]
    counted = lambda lines: sum(ln[5] for ln in lines if ln[5] is not None and ln[6] != "Refusé")  # noqa: E731
    assert sum(m.ecart or 0 for m in moves) == counted(new) - counted(old)


def test_a_line_whose_amount_became_unreadable_leaves_the_totals_by_its_amount_s_row():
    """« Sollicité » → « Acquis » the day « six cent mille » was typed over its 5 €: the écart −5 € was
    on the « Statut modifié » row, as if being granted had taken the line out of the totals, and
    « Montant modifié (illisible) » beside it had none. The statut carries the change only when it is
    « Refusé »'s doing; otherwise the amount's row does, both ways."""
    from acv_xl.history.historique import _compare

    def line(montant, statut):
        return ("2.1", "ETAT", "DSIL", "Subvention", 2025, montant, statut, "Grande Rue",
                int(montant is not None and statut != "Refusé"))

    def moves(old, new):
        return [(m.type, m.ecart) for m in _compare(1, 2, "ACV034", "Boulogne", [line(*old)], [line(*new)])]

    assert moves((5.0, "Sollicité"), (None, "Acquis")) == [("Statut modifié", None),
                                                          ("Montant modifié (illisible)", -5.0)]
    assert moves((None, "Sollicité"), (5.0, "Acquis")) == [("Statut modifié", None),
                                                          ("Montant modifié (auparavant : illisible)", 5.0)]
    # refused: the statut's doing, whatever its amount became
    assert moves((5.0, "Sollicité"), (None, "Refusé")) == [("Statut modifié", -5.0),
                                                          ("Montant modifié (illisible)", None)]


def test_a_split_action_s_loan_is_never_taken_for_the_former_action_s_new_tranche():
    """2.2's CDC loan of 2024 given to the new action 2.3, and 2.2 given a new CDC tranche of 2025:
    the « Année modifiée » pairing, tried first and at any amount, took the loan for re-dated
    (780 000 → 100 000 €) and the loan under 2.3 for a new line already « Acquis » — 780 000 € of
    commitment obtained. Every pairing at an equal amount now comes first."""
    from acv_xl.history.historique import ACTION_MODIFIEE, LIGNE_AJOUTEE, _compare

    def line(numero, annee, montant, statut="Acquis"):
        return (numero, "CDC", "PRU ACV", "Prêt", annee, montant, statut, f"Action {numero}", 1)

    moves = _compare(1, 2, "ACV034", "Boulogne", [line("2.2", 2024, 780000.0)],
                     [line("2.2", 2025, 100000.0, "Sollicité"), line("2.3", 2024, 780000.0)])
    assert [(m.type, m.numero, m.annee, m.engagement, m.ecart) for m in moves] == [
        (LIGNE_AJOUTEE, "2.2", 2025, False, 100000.0),
        (ACTION_MODIFIEE, "2.2", 2024, False, -780000.0), (ACTION_MODIFIEE, "2.3", 2024, False, 780000.0)]


def test_thousands_of_tranches_of_one_key_are_paired_in_linear_time():
    """A crafted workbook with 6 000 lines of one key, every one changed, then corrected from an unknown
    code: the pairing looked for each line's partner among all the others (≈ 30 s for one convention
    in historique); now each line is found in a dict. The pairs are the ones in order."""
    from acv_xl.history.historique import FINANCEUR_MODIFIE, STATUT_MODIFIE, _compare

    def paired(n: int):
        old = [("1.1", "XXX", "DSIL", "Investissement", 2025, float(i), "Acquis", "Action 1.1", 1) for i in range(n)]
        new = [("1.1", "XXX", "DSIL", "Investissement", 2025, i + 0.5, "Sollicité", "Action 1.1", 1) for i in range(n)]
        return (_compare(1, 2, "ACV062", "Arras", old, new),
                _compare(1, 2, "ACV062", "Arras", old, [("1.1", "ETAT") + ln[2:] for ln in old]))

    n, done = 6000, []
    # ten times the tranches: ≈ 11 × the time, where a quadratic pairing gives ≈ 100 ×
    ratio = growth(lambda: paired(n // 10), lambda: done.append(paired(n)))
    assert ratio < 40, f"10 fois les tranches : {ratio:.1f} fois le temps"
    moves, fixed = done[0]
    assert [(m.montant_avant, m.montant_apres) for m in moves if m.type == STATUT_MODIFIE] == \
        [(float(i), i + 0.5) for i in range(n)]
    assert len(fixed) == 2 * n and {m.type for m in fixed} == {FINANCEUR_MODIFIE}


def test_a_tranche_given_to_another_action_is_never_paired_in_order_with_its_sister_tranche():
    """2.2's CDC loan in two tranches of one key (600 000 € « Acquis », 420 000 € « Sollicité »): the
    acquired tranche given to 2.1 and the other raised to 450 000 €. Paired in order within the key,
    the acquired tranche read « Acquis » → « Sollicité » at 450 000 €, the other « Ligne retirée », and
    the tranche under 2.1 a new line already « Acquis »: 600 000 € of commitment no one obtained. The
    pairings at an equal amount come before the pairing in order within a key (docs/evolution.md)."""
    from acv_xl.history.historique import ACTION_MODIFIEE, MONTANT_MODIFIE, STATUT_MODIFIE, _compare

    def line(numero, montant, statut):
        return (numero, "CDC", "PRU ACV", "Prêt", 2021, montant, statut, f"Action {numero}", 1)

    old = [line("2.2", 600000.0, "Acquis"), line("2.2", 420000.0, "Sollicité")]
    moves = _compare(1, 2, "ACV062", "Arras", old, [line("2.1", 600000.0, "Acquis"), line("2.2", 450000.0, "Sollicité")])
    assert [(m.type, m.numero, m.statut_avant, m.statut_apres, m.engagement, m.ecart) for m in moves] == [
        (ACTION_MODIFIEE, "2.2", "Acquis", "Acquis", False, -600000.0),
        (ACTION_MODIFIEE, "2.1", "Acquis", "Acquis", False, 600000.0),
        (MONTANT_MODIFIE, "2.2", "Sollicité", "Sollicité", False, 30000.0)]
    # the other tranche obtained as well: its statut changed, the only commitment obtained
    moves = _compare(1, 2, "ACV062", "Arras", old, [line("2.2", 450000.0, "Acquis"), line("2.1", 600000.0, "Acquis")])
    assert [(m.type, m.numero, m.engagement, m.ecart) for m in moves] == [
        (STATUT_MODIFIE, "2.2", True, None), (MONTANT_MODIFIE, "2.2", False, 30000.0),
        (ACTION_MODIFIEE, "2.2", False, -600000.0), (ACTION_MODIFIEE, "2.1", False, 600000.0)]


def test_the_run_is_recorded_while_its_workbook_is_written_and_committed_only_after(tmp_path, examples, monkeypatch):
    """The register's inserts (≈ 0,3 s for 1 000 files read) run in a thread while the consolidated
    workbook is written, on the other core; nothing is committed before the workbook is written.
    Here the writing waits for the inserts: were they made after it, it would wait in vain."""
    import threading

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    inserted = threading.Event()
    real_insert, real_write = R.Register._insert, C.write_workbook
    seen: list[int] = []

    def insert(self, *args):
        out = real_insert(self, *args)
        inserted.set()
        return out

    def write(result, out):
        assert inserted.wait(60), "les insertions du registre n'ont pas eu lieu pendant l'écriture du classeur"
        con = sqlite3.connect(reg)  # another connection sees nothing yet: the transaction is not committed
        seen.append(con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0])
        con.close()
        return real_write(result, out)

    monkeypatch.setattr(R.Register, "_insert", insert)
    monkeypatch.setattr(C, "write_workbook", write)
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "c.xlsx", jobs=1, cache=r, record=r)
    assert seen == [0]
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 1
    assert con.execute("SELECT COUNT(*) FROM fichiers").fetchone()[0] == len(examples["paths"])
    con.close()


def test_a_workbook_that_cannot_be_written_leaves_the_register_as_it_was_and_unlocked(tmp_path, examples,
                                                                                       monkeypatch, capsys):
    """The consolidated workbook refused by the disk while the register's inserts run beside it: the
    transaction is undone (nothing recorded) and the register is free for the next run."""
    import errno

    from acv_xl.outputs.atomic import OutputError

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    before = _dump(reg)
    real_write = C.write_workbook

    def full(result, out):
        raise OutputError(Path(out), OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(C, "write_workbook", full)
    capsys.readouterr()
    status = _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 2 and "le disque est plein" in err, err
    assert _integrity(reg) == "ok" and _dump(reg) == before and not (tmp_path / "b.xlsx").exists()
    monkeypatch.setattr(C, "write_workbook", real_write)
    assert _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 2
    con.close()


@pytest.mark.parametrize("when", ["pendant l'écriture du classeur", "après l'écriture du classeur"])
def test_ctrl_c_while_the_register_is_recorded_stops_its_inserts_and_leaves_it_as_it_was(tmp_path, examples, when):
    """Ctrl-C while the register's thread inserts: the command waited for nothing (after the writing:
    the interrupted `join` returned, the register's connection was closed under the thread still
    inserting — a segmentation fault rather than « interrompu. ») or for the inserts to end (during it).
    The inserts are stopped, undone, and the command says « interrompu. » (status 130), the register
    as it was. The thread's inserts are made long here by one long SQLite statement."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    before = _dump(reg)
    script = textwrap.dedent(f"""
        import json, os, signal, sqlite3, sys, threading
        from acv_xl.history import register as R
        from acv_xl.outputs import consolidation as C
        real_insert, real_write = R.Register._insert, C.write_workbook
        inserting, seen = threading.Event(), {{}}

        def insert(self, *args):
            out = real_insert(self, *args)
            inserting.set()
            try:  # ≈ 10 s of SQLite, unless stopped
                self.con.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2e7) "
                                 "SELECT COUNT(*) FROM c").fetchone()
            except sqlite3.OperationalError as exc:
                seen["arret"] = str(exc)
                raise
            return out

        def write(result, out):
            real_write(result, out)
            inserting.wait(60)
            if {when == "pendant l'écriture du classeur"!r}:
                os.kill(os.getpid(), signal.SIGINT)  # here: the workbook's writing interrupted
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()  # else while awaiting the inserts

        R.Register._insert, C.write_workbook = insert, write
        from acv_xl.cli import main
        status = main(["consolider", {str(folder)!r}, "-o", {str(tmp_path / "b.xlsx")!r}, "--registre", {str(reg)!r},
                       "--jobs", "1"])
        seen["vivant"] = [t.name for t in threading.enumerate() if t.name == "acv-xl-registre" and t.is_alive()]
        print(json.dumps({{"status": status, **seen}}))
    """)
    proc = _interruptible(script)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"status": 130, "arret": "interrupted", "vivant": []}, (out, proc.stderr)
    assert "acv-xl : interrompu." in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert _integrity(reg) == "ok" and _dump(reg) == before
    # free for the next run
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)


class _CommitThenCtrlC:
    """A register's connection on which a Ctrl-C lands as the record's COMMIT returns (between two
    Python steps; the lookups' read transactions commit nothing)."""

    def __init__(self, con):
        self._con = con

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, sql, *args):
        cursor = self._con.execute(sql, *args)
        if sql == "COMMIT" and self._con.total_changes:
            raise KeyboardInterrupt
        return cursor


@pytest.mark.parametrize("when", ["au retour du COMMIT", "en libérant le registre", "après l'enregistrement"])
def test_ctrl_c_once_the_run_is_recorded_says_it_is_recorded(tmp_path, examples, monkeypatch, capsys, when):
    """A Ctrl-C landing just as the register's COMMIT returns (or after, while the command ends): the
    run was recorded and its outputs written, and the command said « interrompu. » alone — the user
    ran it again, recorded twice. It says it is recorded, with its number, and not to run it again."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    if when == "au retour du COMMIT":
        real_open = R.Register.open.__func__

        def open_(cls, *args, **kwargs):
            register = real_open(cls, *args, **kwargs)
            register.con = _CommitThenCtrlC(register.con)
            return register

        monkeypatch.setattr(R.Register, "open", classmethod(open_))
    elif when == "en libérant le registre":  # the COMMIT gone through, before `finish` has returned
        real_release = R.PendingRecord._release

        def release(self):
            real_release(self)
            if self._done is not None and not self._register.con.in_transaction:
                raise KeyboardInterrupt

        monkeypatch.setattr(R.PendingRecord, "_release", release)
    else:
        real_consolidate = C.consolidate

        def consolidate(*args, **kwargs):
            real_consolidate(*args, **kwargs)
            raise KeyboardInterrupt

        monkeypatch.setattr(C, "consolidate", consolidate)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 130, err
    assert f"acv-xl : interrompu, mais après la fin de la consolidation : ses sorties sont écrites et elle est " \
           f"enregistrée dans le registre « {reg} » (consolidation n° 1) ; ne la relancez pas, elle y serait " \
           "enregistrée deux fois." in err, err
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 1
    con.close()
    assert (tmp_path / "c.xlsx").is_file()


def test_ctrl_c_before_the_commit_still_says_interrompu_and_records_nothing(tmp_path, examples, monkeypatch, capsys):
    """The other side of the line: a Ctrl-C before the COMMIT leaves nothing recorded, « interrompu. » —
    and says the outputs written: « interrompu. » alone, the new workbook was taken for the whole run,
    its extracts too (`finish` waits for the inserts' thread: the run's longest wait once they are)."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    real_blocs = R.Register._insert_blocs
    calls = []

    def blocs(self, *args):  # `finish` records the last blocks, then commits
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_blocs(self, *args)

    monkeypatch.setattr(R.Register, "_insert_blocs", blocs)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", tmp_path / "c.json", "--registre", reg,
                  "--par-financeur", tmp_path / "extraits", "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 130 and err.strip().endswith(
        "acv-xl : interrompu. Le classeur consolidé, son résumé JSON et les extraits par financeur sont écrits ; la "
        "consolidation n'est pas enregistrée dans le registre : relancez la consolidation."), err
    assert not reg.exists()  # the new register this run made, recording nothing, is not left behind
    assert (tmp_path / "c.json").is_file() and (tmp_path / "extraits" / "financeur_ETAT.xlsx").is_file()


def test_ctrl_c_while_the_extracts_are_written_says_what_is_written(tmp_path, examples, monkeypatch, capsys):
    """A Ctrl-C once the consolidated workbook and its JSON are written, as the extracts are: the
    command said « interrompu. » alone, the new workbook left there looking like the whole run, the
    extracts folder half this comité's and half the last one's, nothing recorded. It says what is
    written and what is missing, and to run it again (still status 130)."""
    from acv_xl.outputs import consolidation_extracts as E

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    real_write = E.atomic_write
    calls = []

    def atomic_write(out, write, *args):  # the first extract written, the Ctrl-C as the second is
        calls.append(out)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_write(out, write, *args)

    monkeypatch.setattr(E, "atomic_write", atomic_write)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", tmp_path / "c.json", "--registre", reg,
                  "--par-financeur", tmp_path / "extraits", "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 130, err
    assert err.strip().endswith(
        "acv-xl : interrompu. Le classeur consolidé et son résumé JSON sont écrits ; les extraits par financeur sont "
        "incomplets et la consolidation n'est pas enregistrée dans le registre : relancez la consolidation."), err
    assert (tmp_path / "c.xlsx").is_file() and not reg.exists()


def test_ctrl_c_as_the_last_runs_extracts_are_removed_says_this_runs_written(tmp_path, examples, monkeypatch, capsys):
    """A Ctrl-C once every extract is written, as those of a financeur absent from this run are removed:
    the command said « les extraits par financeur sont incomplets », though all were written. It says
    them written, and names the last run's still in the folder (they would pass for this comité's)."""
    from acv_xl.outputs import consolidation_extracts as E

    folder = _folder(tmp_path, examples)
    extracts = tmp_path / "extraits"
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", extracts, "--jobs", "1") in (0, 1)
    written = sorted(p.name for p in extracts.iterdir())
    absent = sorted(E._extract_names() - set(written))[0]  # a financeur of the last run, absent from this one
    shutil.copy2(extracts / written[0], extracts / absent)
    real_remove = E.remove_stale_extracts

    def remove_stale_extracts(where, this_run):
        if (where / absent).exists():
            raise KeyboardInterrupt
        return real_remove(where, this_run)

    monkeypatch.setattr(E, "remove_stale_extracts", remove_stale_extracts)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--par-financeur", extracts, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 130 and err.strip().endswith(
        "acv-xl : interrompu. Le classeur consolidé et les extraits par financeur sont écrits ; un extrait d'une "
        "consolidation précédente (financeur absent de celle-ci) reste dans le dossier des extraits "
        f"(« {absent} ») : relancez la consolidation."), err


@pytest.mark.parametrize("last", ["workbook", "json"])
def test_ctrl_c_once_an_output_is_in_place_says_it_written(tmp_path, examples, monkeypatch, capsys, last):
    """A Ctrl-C between the rename that puts an output in place and the line that notes it: the
    consolidated workbook there, the command said « interrompu. » alone (nothing written); the JSON
    there, « son résumé JSON n'est pas écrit ». What is in place is said written."""
    from acv_xl.outputs import consolidation as C

    folder = _folder(tmp_path, examples)
    (tmp_path / "c.json").write_text("{}", encoding="utf-8")  # the last comité's
    if last == "workbook":
        real = C.write_workbook

        def write_workbook(result, out):
            real(result, out)
            raise KeyboardInterrupt

        monkeypatch.setattr(C, "write_workbook", write_workbook)
        said = "Le classeur consolidé est écrit ; son résumé JSON n'est pas écrit"
    else:
        real_atomic = C._atomic

        def atomic(out, write):
            real_atomic(out, write)
            if Path(out).suffix == ".json":
                raise KeyboardInterrupt

        monkeypatch.setattr(C, "_atomic", atomic)
        said = "Le classeur consolidé et son résumé JSON sont écrits"
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", tmp_path / "c.json", "--remplacer",
                  "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 130 and err.strip().endswith(f"acv-xl : interrompu. {said} : relancez la consolidation."), err


def test_ctrl_c_while_the_json_is_written_says_it_is_not(tmp_path, examples, monkeypatch, capsys):
    """A Ctrl-C as the JSON summary is written, the consolidated workbook written: the JSON asked for
    was not said missing (« Le classeur consolidé est écrit : relancez la consolidation. »), while the
    last comité's summary, if any, stays under its name beside this comité's workbook."""
    from acv_xl.outputs import consolidation as C

    folder = _folder(tmp_path, examples)
    (tmp_path / "c.json").write_text("{}", encoding="utf-8")  # the last comité's
    real_atomic = C._atomic

    def atomic(out, write):
        if Path(out).suffix == ".json":
            raise KeyboardInterrupt
        return real_atomic(out, write)

    monkeypatch.setattr(C, "_atomic", atomic)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", tmp_path / "c.json", "--remplacer",
                  "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 130 and err.strip().endswith(
        "acv-xl : interrompu. Le classeur consolidé est écrit ; son résumé JSON n'est pas écrit : relancez la "
        "consolidation."), err


@pytest.mark.parametrize("when", ["en créant son schéma", "une fois son schéma créé", "une fois ouvert"])
def test_ctrl_c_as_a_new_register_is_made_leaves_none_behind(tmp_path, examples, monkeypatch, capsys, when):
    """A Ctrl-C while `consolider` made a new register (its schema being written, or committed and the
    command not yet consolidating) left a register with its tables and no consolidation — « rien n'est
    écrit » was not true, and the next run did not say it created it. Nothing is left at the path."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    if when == "en créant son schéma":  # the last statement of the schema, before its COMMIT
        monkeypatch.setitem(R.MIGRATIONS, R.SCHEMA_VERSION, (*R.MIGRATIONS[R.SCHEMA_VERSION], "interrompu"))
        real_execute = sqlite3.Connection.execute

        class Con(sqlite3.Connection):
            def execute(self, sql, *args):
                if sql == "interrompu":
                    raise KeyboardInterrupt
                return real_execute(self, sql, *args)

        real_connect = sqlite3.connect
        monkeypatch.setattr(R.sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=Con, **k))
    elif when == "une fois son schéma créé":
        real_check = R.Register._check_or_create

        def check(self, *args, **kwargs):
            real_check(self, *args, **kwargs)
            raise KeyboardInterrupt

        monkeypatch.setattr(R.Register, "_check_or_create", check)
    else:  # between its opening and the consolidation (the user's key looked for)
        from acv_xl.history import register_key

        def key_problem():
            raise KeyboardInterrupt

        monkeypatch.setattr(register_key, "key_problem", key_problem)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 130 and err.strip().endswith("acv-xl : interrompu."), err
    assert not reg.exists() and not (tmp_path / "c.xlsx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["62"]  # no journal either


def test_ctrl_c_as_a_register_made_meanwhile_by_another_run_is_checked_leaves_it(tmp_path, examples, monkeypatch,
                                                                                 capsys):
    """No register at the path when this run looked, another run's made there the instant after (it
    reads its workbooks, nothing recorded yet), then a Ctrl-C as this run checks it: the register was
    removed as if this run had made it — the other run's, its consolidation refused at the end. Only the
    register this run made is removed."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    real_connect, real_check = sqlite3.connect, R.Register._check_or_create
    other = []  # the other run, opening the register with SQLite's own functions

    def connect(*args, **kwargs):  # the other run makes its register between this one's look and its opening
        if not reg.exists() and not other:
            other.append(True)
            R.Register.open(reg, __version__).close()
        return real_connect(*args, **kwargs)

    def check(self, *args, **kwargs):
        real_check(self, *args, **kwargs)
        if not self.created:  # (this run's, not the other's, which made it)
            raise KeyboardInterrupt

    monkeypatch.setattr(R.sqlite3, "connect", connect)
    monkeypatch.setattr(R.Register, "_check_or_create", check)
    status = _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1")
    err = capsys.readouterr().err
    assert status == 130 and err.strip().endswith("acv-xl : interrompu."), err
    assert reg.is_file()
    con = real_connect(reg)
    try:
        assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 0  # the other run's, whole
    finally:
        con.close()


def test_a_ctrl_c_landing_in_a_finalizer_stops_the_run_never_a_traceback(tmp_path, examples):
    """A Ctrl-C landing while a weak reference's callback ran (memory freed during the writing): Python
    printed « Exception ignored in … Traceback … KeyboardInterrupt » and the run went on to its end, the
    référent's Ctrl-C lost under a traceback (seen once in 90 Ctrl-C at random moments). It stops the
    run as anywhere else: « interrompu. », status 130, nothing recorded."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    script = textwrap.dedent(f"""
        import sys, time
        from acv_xl.outputs import consolidation as C
        real_write = C.write_workbook

        class Freed:
            def __del__(self):
                raise KeyboardInterrupt  # as a Ctrl-C landing in a finalizer is

        def write(result, out):
            Freed()
            for _ in range(1000):  # the writing goes on (10 s at most: the interrupt comes long before)
                time.sleep(0.01)
            return real_write(result, out)

        C.write_workbook = write
        from acv_xl.cli import main
        sys.exit(main(["consolider", {str(folder)!r}, "-o", {str(tmp_path / "c.xlsx")!r}, "--registre",
                       {str(reg)!r}, "--jobs", "1"], program=True))
    """)
    proc = _interruptible(script)
    assert proc.returncode == 130 and "acv-xl : interrompu." in proc.stderr, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert not reg.exists()  # nothing recorded: the new register this run made is not left behind


def test_a_library_caller_closing_the_register_before_finish_abandons_the_run(tmp_path, examples):
    """`Register.begin` then `close` (or the end of its `with`) without `finish` nor `abandon`: the
    connection was closed under the thread still inserting — a segmentation fault. `close` abandons
    the run first (nothing recorded, the register free for the next); a second `begin` while one is
    pending is refused in French (two threads would insert on one connection)."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    script = textwrap.dedent(f"""
        import json, threading
        from pathlib import Path
        from acv_xl import __version__
        from acv_xl.history import register as R
        from acv_xl.outputs import consolidation as C
        real_insert = R.Register._insert

        def insert(self, *args):  # ≈ 10 s of SQLite, unless stopped
            out = real_insert(self, *args)
            self.con.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2e7) "
                             "SELECT COUNT(*) FROM c").fetchone()
            return out

        R.Register._insert = insert
        with R.Register.open(Path({str(reg)!r}), __version__) as r:
            result = C.consolidate([Path({str(folder)!r})], Path({str(tmp_path / "c.xlsx")!r}), jobs=1, cache=r)
            r.begin(result)
            try:
                r.begin(result)
            except R.RegisterError as exc:
                refused = str(exc)
        print(json.dumps({{"refus": refused, "vivant": [t.name for t in threading.enumerate()
                                                      if t.name == "acv-xl-registre" and t.is_alive()]}}))
    """)
    proc = _interruptible(script)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"refus": f"le registre « {reg} » enregistre déjà une consolidation : terminez-la (finish) ou "
                            "abandonnez-la (abandon) avant d'en commencer une autre.", "vivant": []}, out
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 0
    con.close()
    assert _integrity(reg) == "ok"
    with R.Register.open(reg, __version__) as r:  # free for the next run
        result = C.consolidate([folder], tmp_path / "d.xlsx", jobs=1, cache=r)
        assert r.begin(result).finish() == 1


def test_a_register_used_after_close_says_so_in_french_never_hangs(tmp_path, examples):
    """`record` after `close` (a library caller's `with` ended too soon): its thread died on SQLite's
    « Cannot operate on a closed database » before saying it had ended, and `record` waited for ever;
    a lookup said the register « inutilisable », to be restored from a backup. Both say it is closed."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "c.xlsx", jobs=1, cache=r)
    said = f"le registre « {reg} » est fermé (close) : ouvrez-le de nouveau (Register.open) pour le lire ou y " \
        "enregistrer une consolidation."
    outcome: list[str] = []

    def record():
        try:
            r.record(result)
        except R.RegisterError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=record, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive() and outcome == [said]
    with pytest.raises(R.RegisterError) as exc:
        r.known(["0" * 64])
    assert str(exc.value) == said
    r.close()  # closed twice: nothing to do
    assert _integrity(reg) == "ok"


def test_par_financeur_is_called_financement_since_it_adds_up_every_statut_but_refuse(tmp_path, examples):
    """`Par financeur`'s totals are every counted line of each financeur, « Prévisionnel » and
    « Sollicité » included: its title and chart called them « Engagements » (and `Par statut`, which
    lists those statuts), promising the référent money committed that was only asked for."""
    import zipfile

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1")
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    lignes = _lignes(tmp_path / "c.xlsx")
    statut, montant = layout.T_FINANCEMENTS.header("statut"), layout.T_FINANCEMENTS.header("montant")
    assert not lignes[~lignes[statut].isin(layout.STATUTS_ACQUIS)].empty  # lines only asked for, counted
    fin = _table(tmp_path / "e.xlsx", "Par financeur")
    assert round(sum(float(v) for v in fin.iloc[:, 2])) == round(sum(float(v) for v in lignes[montant]))
    wb = openpyxl.load_workbook(tmp_path / "e.xlsx")
    assert wb["Par financeur"]["A1"].value == "Financement de chaque financeur d'un comité à l'autre (hors refusés)"
    assert wb["Par statut"]["A1"].value == "Financement de chaque financeur par statut, d'un comité à l'autre " \
        "(hors refusés)"
    with zipfile.ZipFile(tmp_path / "e.xlsx") as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert any("Financement par financeur, d'un comité à l'autre (hors refusés)" in c for c in charts)
    assert not any("Engagements" in c for c in charts)


def test_historique_never_creates_the_users_key(tmp_path, examples, monkeypatch):
    """historique only reads: on a machine where the user has no key (a colleague's computer, the
    register on a share), it made one in the user's settings. Without one, a line edited by hand
    cannot be checked against a seal: the register is refused, as another user's."""
    from acv_xl.history import register_key as K

    clean = tmp_path / "propre.sqlite"
    _run("consolider", _folder(tmp_path, examples, "propre"), "-o", tmp_path / "p.xlsx", "--registre", clean,
         "--jobs", "1")
    _, edited = _edited_by_hand(tmp_path, examples, "UPDATE lignes SET montant = montant + 5000000 "
                                                    "WHERE analyse_id = 1 AND rang = 0")
    key = tmp_path / "aucune" / "cle-registre"
    monkeypatch.setenv(K.KEY_ENV, str(key))
    assert _run("historique", clean, "-o", tmp_path / "e1.xlsx") == 0 and not key.exists()
    assert _run("historique", edited, "-o", tmp_path / "e2.xlsx") == 2 and not key.exists()


class _RecordAsItCloses:
    """A register's connection on which another run records as this one, having found the register
    empty under its lock, lets it go (between its ROLLBACK and the removal of the file)."""

    def __init__(self, con, record):
        self._con, self._record = con, record

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, sql, *args):
        cursor = self._con.execute(sql, *args)
        if sql == "ROLLBACK" and self._record is not None:
            record, self._record = self._record, None
            record()
        return cursor


def test_a_new_register_another_run_records_into_is_never_removed_as_unused(tmp_path, examples):
    """Two consolidations on a new register: the one that made it records nothing (a Ctrl-C, an output
    unwritable) while the other records — between the check that it was empty and the removal, the
    other's commit went into the file then removed: « enregistrée » said, the comité lost. The file is
    removed under the lock that found it empty; the other run, holding it open, is refused, in words
    that say why (not « en lecture seule »), and nothing said recorded is lost."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    made = R.Register.open(reg, __version__)
    other = R.Register.open(reg, __version__)
    assert made.created and not other.created
    result = C.consolidate([folder], tmp_path / "c.xlsx", jobs=1, cache=other)
    outcome: list[str] = []

    def record():
        try:
            outcome.append(f"n° {other.record(result)}")
        except R.RegisterError as exc:
            outcome.append(str(exc))

    made.con = _RecordAsItCloses(made.con, record)
    made.close(remove_unused=True)
    other.close(remove_unused=True)
    assert outcome == [f"le registre « {reg} » a été supprimé ou déplacé pendant la consolidation (par la "
                       "consolidation qui l'avait créé, lancée en même temps et qui n'a rien enregistré, ou par un "
                       "autre programme). Le classeur consolidé est écrit, mais cette consolidation n'est pas "
                       "enregistrée : relancez-la."], outcome
    assert not reg.exists() and not Path(f"{reg}-journal").exists()


def test_a_register_path_that_is_a_link_keeps_its_link_when_nothing_is_recorded(tmp_path, examples, monkeypatch):
    """`--registre` naming a symbolic link to a register yet to be made (a folder on a share, linked):
    SQLite made the register where the link points, and a run recording nothing removed the link — the
    user's — leaving the register it made. The file it made goes; the link stays, as the user made it."""
    folder = _folder(tmp_path, examples)
    (tmp_path / "partage").mkdir()
    link = tmp_path / "registre.sqlite"
    link.symlink_to(tmp_path / "partage" / "registre-62.sqlite")
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", link, "--departement", "59",
                "--jobs", "1") == 2
    assert link.is_symlink() and list((tmp_path / "partage").iterdir()) == []

    def full(self, where):  # the register cannot be created: the empty file SQLite made goes too
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(R.Register, "_migrate", full)
    assert _run("consolider", folder, "-o", tmp_path / "d.xlsx", "--registre", link, "--jobs", "1") == 2
    assert link.is_symlink() and list((tmp_path / "partage").iterdir()) == []


def test_a_reader_holding_the_register_never_stalls_the_inserts_only_the_commit_waits(tmp_path, examples,
                                                                                     monkeypatch, capsys):
    """A run recording while historique (or an SQLite tool left on a query) reads: each time SQLite's
    page cache filled with the run's rows, it waited for the reader to write them out — up to 30 s,
    then again at the next page (a cold run of a département inserts thousands: hours before the
    message said the register read), a Ctrl-C meanwhile landing only at the end of each wait. The
    inserts now never wait (the pages kept in memory); the commit waits, by short tries, `ATTENTE` at
    most, and says the register read."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    before = _dump(reg)
    monkeypatch.setattr(R, "ATTENTE", 1.0)
    real_open = R.Register.open.__func__

    def small_cache(cls, *args, **kwargs):  # a département's inserts overflowing the cache, at the examples' size
        reg = real_open(cls, *args, **kwargs)
        reg.con.execute("PRAGMA cache_size = 2")
        return reg

    monkeypatch.setattr(R.Register, "open", classmethod(small_cache))
    monkeypatch.setattr(R, "block_key", lambda: None)  # every workbook read again: a cold run's inserts
    reader = sqlite3.connect(reg, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM consolidations").fetchone()  # historique's snapshot
    capsys.readouterr()
    t0 = time.monotonic()
    try:
        status = _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1")
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert status == 2 and f"le registre « {reg} » est lu par un autre programme depuis plus de 1 s" in err, err
    assert took < 30, took  # (a wait of 1 s at each page overflowing the cache: minutes)
    assert _dump(reg) == before


def test_a_record_finished_after_its_register_was_closed_says_it_closed_not_damaged(tmp_path, examples):
    """`begin`, then `close` (which abandons the run), then `finish`: the register was said
    « inutilisable (erreur SQLite : Cannot operate on a closed database.) », to be restored from a
    backup, though nothing in it had changed. It is said closed, as `record` after `close` is."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    r = R.Register.open(reg, __version__)
    result = C.consolidate([folder], tmp_path / "c.xlsx", jobs=1, cache=r)
    pending = r.begin(result)
    r.close()
    with pytest.raises(R.RegisterError) as exc:
        pending.finish()
    assert str(exc.value) == f"le registre « {reg} » est fermé (close) : ouvrez-le de nouveau (Register.open) pour " \
        "le lire ou y enregistrer une consolidation."
    assert _integrity(reg) == "ok"
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM consolidations").fetchone()[0] == 0
    con.close()


def test_a_register_read_too_long_while_it_is_migrated_says_it_is_read(tmp_path, examples, monkeypatch, capsys):
    """The first consolidation after an update of acv-xl brings the register to the new schema, and
    historique (or an SQLite tool on a query) reading it then refuses that commit: « occupé par une
    autre consolidation » sent the référent looking for a colleague's run. Said a reading, as the
    record's commit refused so is; nothing read yet, so nothing said written; the register as it was."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    con = sqlite3.connect(reg)  # as acv-xl wrote it before the seals (schema 2)
    con.execute("ALTER TABLE analyses DROP COLUMN controle")
    con.execute("PRAGMA user_version = 2")
    con.close()
    before = _dump(reg)
    status, err = _consolidated_while_read(folder, tmp_path / "b.xlsx", reg, monkeypatch, capsys)
    assert status == 2 and f"le registre « {reg} » est lu par un autre programme depuis plus de 0 s (« acv-xl " \
        "historique » sur un grand registre, ou un outil SQLite qui le garde ouvert sur une requête) : il ne peut pas " \
        "être mis à jour pour cette version d'acv-xl pendant cette lecture. Relancez la consolidation quand cette " \
        "lecture sera terminée (fermez l'outil SQLite)." in err, err
    assert "autre consolidation" not in err and not (tmp_path / "b.xlsx").exists() and _dump(reg) == before


def test_the_register_given_as_an_output_is_named_and_left_as_it_was(tmp_path, examples, capsys):
    """`-o R.sqlite --registre R.sqlite` (the register's name typed for the output): refused as it should,
    but with « le registre ne peut pas être aussi un fichier de sortie : R.sqlite », the name unquoted and
    nothing to do. It now names the option, quotes the file and says what to do; the register unchanged."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "R.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    before = reg.read_bytes()
    for option, extra in (("-o", ()), ("--json", ("-o", tmp_path / "c2.xlsx"))):
        capsys.readouterr()
        args = ("-o", reg) if option == "-o" else (*extra, "--json", reg)
        assert _run("consolider", folder, *args, "--registre", reg, "--jobs", "1") == 2
        err = capsys.readouterr().err
        assert (f"acv-xl : le registre « {reg} » est aussi donné comme fichier de sortie ({option}) : donnez à la "
                "sortie un autre nom ; rien n'est écrit, le registre est laissé tel quel.") in err, err
    assert reg.read_bytes() == before and not (tmp_path / "c2.xlsx").exists()


def test_a_comite_label_s_date_after_its_number_or_in_words_is_read_and_a_version_is_not():
    """« 1 er juin 2027 » (a space in « 1er »), « 12 juin 27 » and a comité's number joined to its date by a
    dash (« CE n°3-12/06/2027 », as a préfecture writes it) were read as no date, and the phase measured at
    each convention's next comité; « v1.2.2027 », a version, was read as the 1st of February. A run of
    figures joined by the date's own separator is still no date."""
    from acv_xl.outputs.consolidation_result import date_of_label, partial_date_in_label

    for label, day in (("Comité du 1 er juin 2027", date(2027, 6, 1)), ("CE du 1 er décembre 2027", date(2027, 12, 1)),
                       ("Comité du 12 juin 27", date(2027, 6, 12)), ("CE n°3-12/06/2027", date(2027, 6, 12)),
                       ("Comité n°3-12/06/2027", date(2027, 6, 12)), ("CE n°3 - 12/06/2027", date(2027, 6, 12)),
                       ("CE n°3-12.06.27", date(2027, 6, 12)), ("CE 12/06/2027-2", date(2027, 6, 12)),
                       ("CE du 1.2.2027", date(2027, 2, 1)), ("Comité n°3 v2 12/06/2027", date(2027, 6, 12)),
                       ("Comité v1.2.2027 du 12/06/2027", date(2027, 6, 12))):
        assert date_of_label(label) == day, label
    for label in ("v1.2.2027", "Comité V1.2.2027", "CE (v. 1.2.2027)", "version 1.2.2027", "CE v2027-06-12",
                  "1.12.06.2027", "CE 3-12-06-2027", "12/06/2027/3"):
        assert date_of_label(label) is None and partial_date_in_label(label) is None, label
    assert partial_date_in_label("Comité du 1 er juin") == ("1 er juin", "un jour sans année")


def test_a_comite_s_number_before_its_date_in_words_no_longer_hides_it():
    """« Comité de pilotage n°2 du 12 mars 2027 », as a préfecture writes it: once a year of two figures was
    read in words, « 2 du 12 » matched as a day, a word and a year — no month, so no date — and the search
    went on after it, past « 12 mars 2027 »: the date read before was lost (« mars 2027 », a month without
    a day, said instead), the comité ordered and the phase measured without it."""
    from acv_xl.outputs.consolidation_result import date_of_label, partial_date_in_label

    for label, day in (("Comité de pilotage n°2 du 12 mars 2027", date(2027, 3, 12)),
                       ("Comité de pilotage n°2 du 3 mars 2027", date(2027, 3, 3)),
                       ("Comité n°3 du 12 juin 2027", date(2027, 6, 12)), ("CE 3 du 1er juin 2027", date(2027, 6, 1)),
                       ("Comité 2 du 15 juin 27", date(2027, 6, 15)), ("CE n° 12 du 3 juil. 2027", date(2027, 7, 3))):
        assert date_of_label(label) == day and partial_date_in_label(label) is None, label


def test_an_hour_or_a_count_after_a_day_in_words_is_no_year():
    """« CE 12 juin 14h30 » (a préfecture's label with the hour): once a year of two figures was read in
    words, its hour became the year — the 12th of June 2014, a date invented, the comité ordered before
    every other and each phase measured at it, where « 12 juin » without a year was said. A year of two
    figures is read only where nothing follows it but punctuation."""
    from acv_xl.outputs.consolidation_result import date_of_label, partial_date_in_label

    for label in ("CE 12 juin 14h", "Comité du 12 juin 14h30", "Comité du 12 juin 14 h 30", "CE 12 juin 14:30",
                  "Comité du 12 juin 25 conventions"):
        assert date_of_label(label) is None, label
        assert partial_date_in_label(label) == ("12 juin", "un jour sans année"), label
    for label in ("Comité du 12 juin 27", "CE 12 juin 27 (reporté)", "CE 12 juin 27 - Arras", "CE 1er juil. 27."):
        assert date_of_label(label) is not None and date_of_label(label).year == 2027, label
    assert date_of_label("CE du 12 juin 2027 à 14h30") == date(2027, 6, 12)


def test_a_date_with_slashes_after_a_v_or_version_is_read_as_before():
    """« Comité version 12/06/2027 », « Comité révisé v 12/06/2027 »: read before, lost once a date in figures
    was never read after a version's « v » or « version » — a version is numbered with dots or dashes
    (« v1.2.2027 », « v2027-06-12 », still no dates), never with slashes."""
    from acv_xl.outputs.consolidation_result import date_of_label

    for label in ("CE version 12/06/2027", "Comité révisé v 12/06/2027", "Comité v. 12/06/27"):
        assert date_of_label(label) == date(2027, 6, 12), label
    for label in ("v1.2.2027", "CE v2027-06-12", "version 1-2-2027"):
        assert date_of_label(label) is None, label


def test_a_date_in_words_joined_without_spaces_is_read():
    """« CE_12juin2027 », « CE 12-juin-2027 » (a label written as a file's name): the first was said « 12juin : un
    jour sans année » though its year follows, the second « aucune date reconnue »; both read now. An hour or a
    count after the month is still no year."""
    from acv_xl.outputs.consolidation_result import date_of_label, impossible_date_in_label, partial_date_in_label

    for label, day in (("CE_12juin2027", date(2027, 6, 12)), ("CE du 12juin2027", date(2027, 6, 12)),
                       ("CE 12-juin-2027", date(2027, 6, 12)), ("CE 1erjuin2027", date(2027, 6, 1)),
                       ("CE 12juin27", date(2027, 6, 12)), ("Comité du 3 mars-2027", date(2027, 3, 3))):
        assert date_of_label(label) == day and partial_date_in_label(label) is None, label
    assert impossible_date_in_label("CE 31juin2027") == "31juin2027"
    for label in ("CE 12 juin-14h30", "CE 12juin 14h", "CE 3marseille 2027"):
        assert date_of_label(label) is None, label


def test_an_impossible_date_in_words_joined_without_spaces_is_quoted_as_typed():
    """« CE 30-Févr-2027 », « CE_31Juin2027 »: the warning quoted the date folded, « 30-fevr-2027 »,
    « 31juin2027 » — a text the référent never typed, to find in a label written as a file's name.
    Quoted as typed, as « 30 Févr. 2027 » is."""
    from acv_xl.outputs.consolidation_result import impossible_date_in_label

    for label, typed in (("CE 30-Févr-2027", "30-Févr-2027"), ("CE_31Juin2027", "31Juin2027"),
                         ("CE 31 JUIN-2027", "31 JUIN-2027"), ("CE 30 Févr. 2027", "30 Févr. 2027"),
                         ("Comité 31 juin 27", "31 juin 27")):
        assert impossible_date_in_label(label) == typed, label


def test_a_part_of_a_date_in_words_joined_without_spaces_is_said_as_such():
    """« CE_juin2027 », « CE juin-2027 », « CE 12-juin »: the parts of a date joined as a file's name joins them,
    which « CE_12juin2027 » and « 12-juin-2027 » are read in, were said « aucune date reconnue » where « juin
    2027 » and « 12 juin » say what they lack. Said the same."""
    from acv_xl.outputs.consolidation_result import partial_date_in_label

    for label, said in (("CE_juin2027", ("juin2027", "un mois sans jour")),
                        ("CE juin-2027", ("juin-2027", "un mois sans jour")),
                        ("CE 12-juin", ("12-juin", "un jour sans année")),
                        ("CE_1er-Juin", ("1er-Juin", "un jour sans année"))):
        assert partial_date_in_label(label) == said, label
    for label in ("CE2027", "CE v2027", "CE_3-conventions"):
        assert partial_date_in_label(label) is None, label


def test_a_date_written_whole_after_a_v_is_a_date_and_a_version_is_not():
    """« CE v 12.06.2027 » (a préfecture's « v » before the date of the comité, as its documents write « V
    12.06.2027 » for the version of that day) was taken for a version number: « aucune date reconnue », the
    comité neither ordered nor numbered by its date, each phase measured at the workbooks' next comités. A
    day and a month of two figures and a year of four is a date as written in full, which no version
    numbering imitates; a version stays one (« v1.2.2027 », « v 12.06.27 », CalVer « v2027.06.12 »)."""
    from acv_xl.outputs.consolidation_result import date_of_label, partial_date_in_label

    for label, day in (("CE v 12.06.2027", date(2027, 6, 12)), ("CE V12.06.2027", date(2027, 6, 12)),
                       ("Comité v. 01.02.2027", date(2027, 2, 1)), ("CE version 12-06-2027", date(2027, 6, 12)),
                       ("CE n°3 v 12.06.2027", date(2027, 6, 12))):
        assert date_of_label(label) == day, label
    for label in ("v1.2.2027", "CE v 1.2.2027", "CE v1.02.2027", "CE v 12.06.27", "v2027.06.12", "CE v 12.06.2027.1",
                  "CE v 12.06-2027", "CE v 112.06.2027"):
        assert date_of_label(label) is None and partial_date_in_label(label) is None, label


@pytest.mark.parametrize("col", ["departement", "comite"])
def test_historique_refuses_a_run_s_departement_or_comite_written_as_bytes(tmp_path, examples, capsys, col):
    """A consolidation's département rewritten as bytes (a BLOB) by another tool was left out of
    `historique --departement 62` without a word (and shown « tous » without the option); its comité so
    written was shown as an unnamed « Consolidation du … ». Refused as the other columns edited by hand,
    the register untouched."""
    err = _refused_by_historique(tmp_path, examples, capsys,
                                 f"UPDATE consolidations SET {col} = CAST('62' AS BLOB)")
    assert (f"est inutilisable (la colonne « {col} » de la table « consolidations » contient autre chose qu'un texte "
            "pour la consolidation n° 1 : elle a été modifiée avec un autre outil, l'historique ne peut plus s'y "
            "fier) : il n'a été ni modifié ni recréé.") in err, err


@pytest.mark.parametrize("end", ["", " "])
def test_historique_says_a_summary_its_seal_no_longer_covers_though_its_lines_match(tmp_path, examples, capsys,
                                                                                 monkeypatch, end):
    """An action's maturité set « Abandonnée » by hand in a summary (`analyses.resume`), or a summary edited
    together with its lines: the seals were checked only where the lines differed, so historique showed an
    « Action abandonnée » no workbook said, without a word. Every summary compared is now checked under this
    user's key: one it does not cover is said (edited, or recorded on another poste: no one can tell), the
    file and the consolidation named — as the consolidation named it, a trailing space said (`end`); without a
    key on this poste nothing can be checked, and none is made."""
    from acv_xl.history import register_key as K

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    name = examples["paths"][0].name
    (folder / name).rename(folder / (name + end))
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    conv = examples["convs"][name].model_copy(deep=True)
    conv.financements[0] = _line(conv.financements[0], montant=conv.financements[0].montant + 1)
    _write(conv, folder / (name + end))
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    con = sqlite3.connect(reg)
    aid, resume = con.execute("SELECT a.id, a.resume FROM analyses a JOIN fichiers f ON f.analyse_id = a.id "
                              "WHERE f.consolidation_id = 2 AND f.chemin = ?", (name + end,)).fetchone()
    data = json.loads(resume)
    k = next(i for i, a in enumerate(data["actions"]) if a[4] != "Abandonnée")
    numero, data["actions"][k][4] = data["actions"][k][0], "Abandonnée"
    con.execute("UPDATE analyses SET resume = ? WHERE id = ?", (json.dumps(data, ensure_ascii=False), aid))
    con.commit()
    con.close()
    capsys.readouterr()
    mv = _movements(reg, tmp_path / "e.xlsx")
    assert [numero] == list(mv.loc[mv["Mouvement"] == "Action abandonnée", "N° action"])  # (shown: it may be true)
    err = capsys.readouterr().err
    shown = name + " (espace finale)" * bool(end)
    assert (f"Attention : le résumé que la consolidation n° 2 a lu dans « {shown} », analyse n° {aid}, n'est plus celui "
            "que ce poste a scellé : la table « analyses » a été modifiée avec un autre outil. L'historique reprend ses "
            "lignes de financement et la maturité de ses actions (actions abandonnées ou reprises) sans pouvoir les "
            "vérifier. Restaurez une sauvegarde du registre ; « acv-xl consolider » relit ce classeur.") in err, err
    assert err.count("Attention") == 1, err
    # its seal cleared (« never sealed »), in a consolidation recorded here: said alike
    con = sqlite3.connect(reg)
    con.execute("UPDATE analyses SET resume = ?, controle = NULL WHERE id = ?", (resume, aid))
    con.commit()
    con.close()
    _movements(reg, tmp_path / "e1.xlsx")
    assert "n'est plus celui que ce poste a scellé" in (err := capsys.readouterr().err), err
    # another poste's key: none of the register's summaries is covered, none can be told edited (below)
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle-autre"))
    K._cached.clear()
    (tmp_path / "cle-autre").write_text("00" * 32 + "\n", encoding="ascii")
    _movements(reg, tmp_path / "e2.xlsx")
    assert "Attention" not in capsys.readouterr().err
    # a summary never sealed (recorded before the seals, or without a key: said then) has nothing to check
    con = sqlite3.connect(reg)
    con.execute("UPDATE analyses SET controle = NULL")
    con.commit()
    con.close()
    _movements(reg, tmp_path / "e4.xlsx")
    assert "Attention" not in capsys.readouterr().err
    # no key on this poste (the Cour des comptes reading a register sent to it): nothing to check with, none made
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "sans" / "cle"))
    K._cached.clear()
    _movements(reg, tmp_path / "e3.xlsx")
    assert "Attention" not in capsys.readouterr().err and not (tmp_path / "sans").exists()


def test_historique_of_a_register_shared_or_moved_says_no_summary_unsealed(tmp_path, examples, capsys, monkeypatch):
    """Two référents sharing a register (each records and reuses the summaries of their own key), or a
    register moved to a new poste: every historique said « Attention : les résumés de N analyses ne sont pas
    scellés… Restaurez une sauvegarde » of the other key's consolidations — at every run, for ever (consolider
    reads those workbooks again, but the past consolidations keep their seals). A consolidation seals all its
    summaries with one key: one recorded here whose summary no longer matches is said, the others' are not."""
    from acv_xl.history import register_key as K

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    name = examples["paths"][0].name

    def as_user(user: str) -> None:
        monkeypatch.setenv(K.KEY_ENV, str(tmp_path / f"cle-{user}"))
        K._cached.clear()

    for k, user in enumerate(("a", "b", "a", "b"), start=1):  # each in turn: the first run of b reads every workbook
        as_user(user)
        conv = examples["convs"][name].model_copy(deep=True)
        conv.financements[0] = _line(conv.financements[0], montant=conv.financements[0].montant + k)
        _write(conv, folder / name)
        _run("consolider", folder, "-o", tmp_path / f"c{k}.xlsx", "--registre", reg, "--jobs", "1")
    as_user("c")  # a new poste, the register copied there: nothing recorded with its key yet
    for user in ("a", "b", "c"):
        as_user(user)
        capsys.readouterr()
        _movements(reg, tmp_path / f"e-{user}.xlsx")
        assert "Attention" not in (err := capsys.readouterr().err), (user, err)
    # an action set « Abandonnée » by hand in a summary of b's last consolidation: b is told, a cannot be
    con = sqlite3.connect(reg)
    aid, resume = con.execute("SELECT a.id, a.resume FROM analyses a JOIN fichiers f ON f.analyse_id = a.id "
                              "WHERE f.consolidation_id = 4 AND f.chemin = ?", (name,)).fetchone()
    data = json.loads(resume)
    k = next(i for i, a in enumerate(data["actions"]) if a[4] != "Abandonnée")
    data["actions"][k][4] = "Abandonnée"
    con.execute("UPDATE analyses SET resume = ? WHERE id = ?", (json.dumps(data, ensure_ascii=False), aid))
    con.commit()
    con.close()
    as_user("b")
    _movements(reg, tmp_path / "e-b2.xlsx")
    assert (f"Attention : le résumé que la consolidation n° 4 a lu dans « {name} », analyse n° {aid}, n'est plus "
            "celui que ce poste a scellé") in (err := capsys.readouterr().err), err
    as_user("a")
    _movements(reg, tmp_path / "e-a2.xlsx")
    assert "Attention" not in capsys.readouterr().err


def test_historique_of_a_summary_s_last_day_rewritten_as_bytes_says_it_not_an_internal_error(tmp_path, examples,
                                                                                               capsys):
    """`valable_jusqu_au` rewritten as bytes (a BLOB) by another tool: once every summary's seal was checked,
    historique stopped with « erreur interne inattendue (TypeError…) » on any such register — the seal cannot
    be computed over bytes (consolider, `lookup_all`, leaves such a summary unused). Now that summary is not
    sealed as recorded: said, its lines matching; the register refused, its lines edited too."""
    _, reg = _edited_by_hand(tmp_path, examples, "UPDATE analyses SET valable_jusqu_au = X'00' WHERE id = 1")
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    err = capsys.readouterr().err
    assert "erreur interne" not in err and "analyse n° 1, n'est plus celui que ce poste a scellé" in err, err
    con = sqlite3.connect(reg)
    con.execute("UPDATE lignes SET montant = montant + 1 WHERE analyse_id = 1")
    con.commit()
    con.close()
    assert _run("historique", reg, "-o", tmp_path / "e2.xlsx") == 2
    err = capsys.readouterr().err
    assert "erreur interne" not in err and "l'historique ne peut plus s'y fier" in err, err


def test_a_register_held_by_an_sqlite_tool_s_unwritten_changes_says_so(tmp_path, examples, monkeypatch, capsys):
    """An SQLite tool with changes not yet written (DB Browser for SQLite holds the register's lock until
    « Write Changes »): consolider said « occupé par une autre consolidation », and the référent looked for a
    colleague's run. SQLite names neither writer: both are said, with what to do with the tool (historique,
    which only reads, is not held by such a lock)."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    assert _run("consolider", folder, "-o", tmp_path / "a.xlsx", "--registre", reg, "--jobs", "1") in (0, 1)
    before = _dump(reg)
    monkeypatch.setattr(R, "ATTENTE", 0.3)
    tool = sqlite3.connect(reg, isolation_level=None)
    tool.execute("BEGIN")
    tool.execute("UPDATE consolidations SET comite = 'Comité du 12/06/2026'")  # edited, not yet written
    capsys.readouterr()
    try:
        assert _run("consolider", folder, "-o", tmp_path / "b.xlsx", "--registre", reg, "--jobs", "1") == 2
        said = capsys.readouterr().err
        assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 0
    finally:
        tool.execute("ROLLBACK")
        tool.close()
    assert (f"le registre « {reg} » est occupé par une autre consolidation depuis plus de 0 s, ou par un outil "
            "SQLite qui le modifie : attendez la fin de cette consolidation, ou enregistrez ou annulez les "
            "modifications en cours dans l'outil SQLite et fermez-le. Le classeur consolidé est écrit, mais cette "
            "consolidation n'est pas enregistrée : relancez-la ensuite.") in said, said
    assert _dump(reg) == before


def test_a_commune_added_or_removed_by_an_avenant_is_a_movement(tmp_path, examples):
    """An avenant that adds a commune to a convention, then one that removes one: historique showed no
    movement at all (the financing unchanged), though the convention's perimeter is what the comité
    signs. A row of its own, naming the commune, without amount; the same commune retyped is none."""
    from acv_xl.contract.model import Commune

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    name = examples["paths"][0].name
    conv = examples["convs"][name].model_copy(deep=True)
    first = conv.communes[0]
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    conv.communes.append(build_row(Commune, {**first.raw, "code_insee": "62999", "commune": "Nouvelle-Commune"}))
    conv.communes[0] = build_row(Commune, {**first.raw, "commune": f"  {first.commune.upper()} "})  # retyped only
    _write(conv, folder / name)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    conv.communes.pop(0)
    _write(conv, folder / name)
    _run("consolider", folder, "-o", tmp_path / "c3.xlsx", "--registre", reg, "--jobs", "1")
    mv = _movements(reg, tmp_path / "e.xlsx")
    rows = mv[mv["Mouvement"].str.startswith("Commune ")]
    acv_id = conv.value("acv_id")
    assert rows[["Identifiant ACV", "Mouvement"]].values.tolist() == [
        [acv_id, "Commune ajoutée : Nouvelle-Commune"], [acv_id, f"Commune retirée : {first.commune.upper()}"]]
    assert rows["Écart (€)"].isna().all() and rows["Financeur"].isna().all()
    assert len(mv) == 2  # nothing else moved


def test_a_commune_retyped_without_its_accents_is_no_movement(tmp_path, examples):
    """« Béthune » typed « BETHUNE », « Bruay-la-Buissière » corrected from « Bruay-la-Buissiere » (a name put
    right between two comités, its code INSEE unchanged): historique showed « Commune ajoutée : BETHUNE » and
    « Commune retirée : Béthune », an avenant no one signed. A commune is matched as the rules match names,
    apart from case, spaces and accents."""
    from acv_xl.contract.model import Commune

    folder = _folder(tmp_path, examples)
    reg = tmp_path / "r.sqlite"
    name = "bethune-bruay.xlsx"
    conv = examples["convs"][name].model_copy(deep=True)
    assert [c.commune for c in conv.communes] == ["Béthune", "Bruay-la-Buissière"]
    conv.communes[1] = build_row(Commune, {**conv.communes[1].raw, "commune": "Bruay-la-Buissiere"})
    _write(conv, folder / name)
    _run("consolider", folder, "-o", tmp_path / "c1.xlsx", "--registre", reg, "--jobs", "1")
    conv.communes[0] = build_row(Commune, {**conv.communes[0].raw, "commune": "BETHUNE"})
    conv.communes[1] = build_row(Commune, {**conv.communes[1].raw, "commune": "Bruay-la-Buissière"})
    _write(conv, folder / name)
    _run("consolider", folder, "-o", tmp_path / "c2.xlsx", "--registre", reg, "--jobs", "1")
    mv = _movements(reg, tmp_path / "e.xlsx")
    assert not mv["Mouvement"].str.startswith("Commune ").any(), mv["Mouvement"].tolist()


def test_a_refused_output_says_the_extracts_of_another_departement_remplacer_would_replace_too(
        tmp_path, examples, capsys):
    """`-o` naming a file acv-xl did not write is refused « ajoutez --remplacer pour l'écraser », and
    that refusal alone was said: the référent added --remplacer for that file, and the run replaced
    and removed, unsaid, another département's extracts in the --par-financeur folder, which the same
    option lifts. The refusal says both; without such extracts, it says only its own."""
    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--departement", "62", "--par-financeur", dossier,
                "--jobs", "1") in (0, 1)
    before = _bytes_of(dossier)
    notes = tmp_path / "notes.xlsx"
    notes.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # a file of the user's
    capsys.readouterr()
    assert _run("consolider", folder, "-o", notes, "--par-financeur", dossier, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "ajoutez --remplacer pour l'écraser. Attention : --remplacer remplacerait ou supprimerait aussi, dans " \
           f"le dossier --par-financeur « {dossier} », {len(before)} extraits par financeur du département 62 " \
           "(financeur_" in err, err
    assert _bytes_of(dossier) == before and notes.read_bytes() == b"PK\x05\x06" + b"\x00" * 18
    # the 62's own run: its extracts are its own, nothing more to say
    assert _run("consolider", folder, "-o", notes, "--departement", "62", "--par-financeur", dossier, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "ajoutez --remplacer pour l'écraser." in err and "Attention" not in err


def test_historique_names_a_file_whose_name_ends_with_a_space_as_the_consolidation_showed_it(
        tmp_path, examples, capsys):
    """« arras.xlsx␣ » (unzipped on Linux), recorded under its own name, then its row edited with a tool:
    historique's refusal named it « arras.xlsx  », the space lost before the guillemet, where the
    consolidation's sheets and messages had said « arras.xlsx (espace finale) ». Said the same; the
    register keeps the name itself."""
    folder = _folder(tmp_path, examples)
    (folder / "arras.xlsx").rename(folder / "arras.xlsx ")
    reg = tmp_path / "r.sqlite"
    _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1")
    con = sqlite3.connect(reg)
    assert con.execute("SELECT chemin FROM fichiers WHERE acv_id = 'ACV014'").fetchall() == [("arras.xlsx ",)]
    con.execute("UPDATE fichiers SET analyse_id = NULL WHERE acv_id = 'ACV014'")
    con.commit()
    con.close()
    capsys.readouterr()
    assert _run("historique", reg, "-o", tmp_path / "e.xlsx") == 2
    err = capsys.readouterr().err
    assert "la table « fichiers » ne relie plus le fichier « arras.xlsx (espace finale) », compté par la " \
           "consolidation n° 1," in err, err


def test_a_refused_extract_says_the_extracts_of_another_departement_remplacer_would_replace_too(
        tmp_path, examples, capsys):
    """In the 62's folder of extracts, one of them saved again by hand (no longer marked as acv-xl's): a
    run of all départements was refused « ajoutez --remplacer pour l'écraser » for that one, and said
    nothing of the 62's others, which the same option replaced and removed too — the case the refusal
    of `-o` now says, left unsaid where the extract itself is refused. Said the same."""
    import openpyxl

    folder = _folder(tmp_path, examples)
    dossier = tmp_path / "extraits"
    assert _run("consolider", folder, "-o", tmp_path / "c.xlsx", "--departement", "62", "--par-financeur", dossier,
                "--jobs", "1") in (0, 1)
    first = sorted(dossier.glob("financeur_*.xlsx"))[0]
    notes = openpyxl.Workbook()
    notes.active["A1"] = "mes notes"
    notes.save(first)
    before = _bytes_of(dossier)
    capsys.readouterr()
    assert _run("consolider", folder, "-o", tmp_path / "tous.xlsx", "--par-financeur", dossier, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert f"« {first} » existe déjà" in err and "ajoutez --remplacer pour l'écraser. Attention : --remplacer " \
           f"remplacerait ou supprimerait aussi, dans le dossier --par-financeur « {dossier} », {len(before) - 1} " \
           "extraits par financeur du département 62 (financeur_" in err, err
    assert _bytes_of(dossier) == before and not (tmp_path / "tous.xlsx").exists()
