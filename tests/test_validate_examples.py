"""End to end on real workbooks: the shipped examples, `acv-xl valider`, the fingerprint round trip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from acv_xl.contract import layout
from acv_xl.outputs.examples import FAUTES_ATTENDUES, example_conventions
from acv_xl.checks.findings import Gravite
from acv_xl.checks.fingerprint import fingerprint
from acv_xl.reading.read import read_file
from acv_xl.checks.validate import validate_convention, validate_file

ROOT = Path(__file__).resolve().parents[1]
EXEMPLES = ROOT / "workbooks" / "exemples"
NAMES = sorted(example_conventions())


def errors_of(report):
    return sorted((f.code, f.feuille, f.cellule) for f in report.findings if f.gravite is Gravite.ERREUR)


def test_the_examples_are_shipped():
    assert sorted(p.name for p in EXEMPLES.glob("*.xlsx")) == NAMES
    assert set(FAUTES_ATTENDUES) <= set(NAMES) and len(NAMES) > len(FAUTES_ATTENDUES)


@pytest.mark.parametrize("name", NAMES)
def test_each_example_file_has_exactly_its_deliberate_mistakes(name):
    report = validate_file(EXEMPLES / name)
    assert report.convention is not None
    assert errors_of(report) == sorted(FAUTES_ATTENDUES.get(name, []))
    assert [f for f in report.findings if f.gravite is Gravite.AVERTISSEMENT] == []
    assert report.exit_code == (1 if name in FAUTES_ATTENDUES else 0)


@pytest.mark.parametrize("name", NAMES)
def test_in_memory_example_gives_the_same_findings_and_fingerprint_as_its_file(name):
    conv = example_conventions()[name]
    from_file = read_file(EXEMPLES / name)
    assert fingerprint(from_file) == fingerprint(read_file(EXEMPLES / name))  # a second read agrees
    assert fingerprint(from_file) == fingerprint(conv)  # what was written is what was read
    mem, disk = validate_convention(conv), validate_convention(from_file)
    assert [(f.code, f.feuille, f.cellule, f.message) for f in mem.findings] == \
           [(f.code, f.feuille, f.cellule, f.message) for f in disk.findings]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "acv_xl", "valider", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_exit_status_and_json(tmp_path):
    clean, faulty = EXEMPLES / "arras.xlsx", EXEMPLES / "calais.xlsx"
    r = _cli(str(clean), "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["fichier"] == str(clean) and data["valide"] is True and data["resume"]["erreurs"] == 0
    assert len(data["empreinte"]) == 64 and data["totaux"]["cout_total"] > 0

    r = _cli(str(faulty), "--format", "json")
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert sorted((c["code"], c["feuille"], c["cellule"]) for c in data["constats"] if c["gravite"] == "erreur") == \
           sorted(FAUTES_ATTENDUES["calais.xlsx"])

    bad = tmp_path / "vide.xlsx"
    bad.write_bytes(b"")
    r = _cli(str(bad), "--format", "json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    data = json.loads(r.stdout)
    assert data["valide"] is False and data["constats"][0]["code"] == "STR-01"

    r = _cli(str(clean), str(faulty), str(bad), "--format", "json")
    assert r.returncode == 2
    assert [d["fichier"] for d in json.loads(r.stdout)] == [str(clean), str(faulty), str(bad)]
    assert _cli(str(clean), str(faulty)).returncode == 1


def test_cli_text_report(tmp_path):
    r = _cli(str(EXEMPLES / "calais.xlsx"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "FIN-05 M7" in r.stdout and "Verdict : à corriger, 2 erreurs bloquent la validation." in r.stdout and "\x1b[" not in r.stdout


def _stamp(src: Path, out: Path, statut: str, empreinte: str, change: tuple[str, str, object] | None = None) -> Path:
    """What the Valider button does to the status cells, done with openpyxl on a copy."""
    import openpyxl

    shutil.copy(src, out)
    wb = openpyxl.load_workbook(out)
    for name, value in (("acv_statut", statut), ("acv_empreinte", empreinte)):
        nc = layout.NAMED_BY_NAME[name]
        wb[nc.sheet][nc.cell] = value
    if change:
        sheet, cell, value = change
        wb[sheet][cell] = value
    wb.save(out)
    return out


def test_fingerprint_round_trip_through_the_file(tmp_path):
    src = EXEMPLES / "arras.xlsx"
    fp = validate_file(src).empreinte
    stamped = _stamp(src, tmp_path / "valide.xlsx", "Validé", fp)
    r = validate_file(stamped)
    assert r.empreinte == fp and r.etat == "validé"  # writing the status cells does not change the data

    conv = read_file(src)
    cell = conv.financements[0].cell("commentaire")
    changed = _stamp(src, tmp_path / "modifie.xlsx", "Validé", fp, (layout.Sheet.FINANCEMENT, cell, "note ajoutée"))
    r = validate_file(changed)
    assert r.etat == "modifié depuis la validation" and r.empreinte_stockee == fp and r.empreinte != fp
