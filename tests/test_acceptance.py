"""Acceptance tests written from the contract text (docs/classeur.md, docs/interfaces.md, docs/regles.md) and the user's side.

The product is driven as a user drives it — `python -m acv_xl …` in a subprocess — and its outputs
are inspected with openpyxl, zipfile and pypdf. The spec is parsed by the tests themselves, so a
name that drifts from the contract fails here even if layout.py and its own tests agree.
The only product imports are the ones the brief allows: the list of deliberately faulty examples
and the Excel functions module the spec names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from acceptance_support import (
    EXEMPLES,
    GRAVITE_LETTRE,
    ROOT,
    acv,
    allowed_severities,
    catalogue,
    edited_copy,
    header_cells,
    named_cell,
    section,
    spec,
    spec_funders,
    spec_tables,
    table_of,
    table_records,
    valider_json,
)

from acv_xl.outputs.examples import FAUTES_ATTENDUES

SHIPPED = sorted(EXEMPLES.glob("*.xlsx"))
CLEAN = [p for p in SHIPPED if p.name not in FAUTES_ATTENDUES]
FAULTY = [p for p in SHIPPED if p.name in FAUTES_ATTENDUES]
A1 = re.compile(r"^\$?[A-Z]{1,3}\$?[1-9]\d*$")


def test_the_shipped_examples_are_the_mix_the_spec_promises():
    # « some clean, some with typical mistakes »
    assert len(CLEAN) >= 2 and len(FAULTY) >= 2
    assert {p.name for p in FAULTY} == set(FAUTES_ATTENDUES)


# =========================================================================== command line
def _commands_of_spec() -> dict[str, str]:
    body = section(spec("interfaces.md"), "Ligne de commande : `acv-xl`")
    return {m.group(1): m.group(0) for m in re.finditer(r"`acv-xl (\w+) [^`]*`", body)}


def test_every_command_of_the_spec_has_a_french_help_with_its_options():
    commands = _commands_of_spec()
    assert set(commands) >= {"modele", "exemples", "valider", "annexe", "consolider"}
    for name, usage in commands.items():
        out = acv(name, "--help")
        assert out.returncode == 0, (name, out.stderr)
        text = out.stdout
        assert "usage : acv-xl" in text and "affiche cette aide et quitte" in text, name
        assert not re.search(r"\b(usage:|show this help|positional arguments|optional arguments)", text), name
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", usage):
            assert option in text, (name, option)
        for choice in re.findall(r"--format (\w+(?:\|\w+)+)", usage):
            for value in choice.split("|"):
                assert value in text, (name, value)


def test_a_help_that_states_the_exit_statuses_gives_2_its_whole_meaning(tmp_path):
    """`valider --help` said « 2 fichier inutilisable », `comparer` and `migrer` likewise; each also gives 2
    for a misuse, an output refused for one (here an existing workbook, not replaced without
    --remplacer) — as the README's « Statut de sortie » says."""
    stated = {}
    for name in _commands_of_spec():
        text = " ".join(acv(name, "--help").stdout.split())
        if "Statut de sortie" in text:
            stated[name] = text.split("Statut de sortie", 1)[1].split(" 2 ", 1)[1].split(".")[0]
    assert set(stated) >= {"valider", "comparer", "migrer"}
    for name, meaning in stated.items():
        assert "mauvais usage" in meaning and "sortie refusée" in meaning, (name, meaning)
    existing = tmp_path / "copie.xlsx"
    existing.write_bytes(CLEAN[0].read_bytes())
    assert acv("valider", CLEAN[0], "--annoter", existing).returncode == 2
    assert acv("migrer", CLEAN[0], "-o", existing).returncode == 2
    assert acv("comparer", CLEAN[0], CLEAN[0]).returncode == 2  # the same file named twice


def test_the_top_level_help_lists_every_command_in_french():
    out = acv("--help")
    assert out.returncode == 0
    for name in _commands_of_spec():
        assert name in out.stdout
    assert "affiche cette aide et quitte" in out.stdout


def test_python_m_and_the_installed_script_both_work(tmp_path):
    r = acv("modele", tmp_path / "a.xlsx")
    assert r.returncode == 0 and (tmp_path / "a.xlsx").exists(), r.stderr
    script = Path(sys.executable).with_name("acv-xl.exe" if os.name == "nt" else "acv-xl")
    if not script.exists():
        pytest.fail(f"[project.scripts] acv-xl n'est pas installé à côté de {sys.executable}")
    r2 = subprocess.run([str(script), "modele", str(tmp_path / "b.xlsx")], capture_output=True, text=True,
                        env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=120)
    assert r2.returncode == 0 and (tmp_path / "b.xlsx").exists(), r2.stderr


@pytest.fixture(scope="module")
def garbage(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("mauvais")
    files = {
        "vide": d / "vide.xlsx",
        "texte": d / "texte.xlsx",
        "tronque": d / "tronque.xlsx",
        "ods": d / "classeur.ods",
        "chiffre": d / "protege.xlsx",
    }
    files["vide"].write_bytes(b"")
    files["texte"].write_text("Commune;Montant\nArras;12 000 €\n", encoding="utf-8")
    files["tronque"].write_bytes(CLEAN[0].read_bytes()[:5000])
    with zipfile.ZipFile(files["ods"], "w") as z:  # the smallest OpenDocument spreadsheet
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", '<office:document-content '
                   'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>')
    # « Chiffrer avec mot de passe », as Excel does it (msoffcrypto-tool is in the [test] extra)
    from msoffcrypto.format.ooxml import OOXMLFile

    with open(CLEAN[0], "rb") as f, open(files["chiffre"], "wb") as out:
        OOXMLFile(f).encrypt("secret", out)
    return files


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_exit_status_on_each_shipped_example(path):
    out = acv("valider", path)
    assert "Traceback" not in out.stderr
    assert out.returncode == (1 if path.name in FAUTES_ATTENDUES else 0), out.stdout


def test_a_bad_file_gives_status_2_a_finding_and_no_traceback(garbage):
    for kind, path in garbage.items():
        out = acv("valider", path, "--format", "json")
        assert out.returncode == 2, (kind, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr + out.stdout, kind
        report = json.loads(out.stdout)
        codes = {c["code"] for c in report["constats"]}
        assert codes & {"STR-01", "STR-02"}, (kind, codes)
        expected = "STR-02" if kind in ("ods", "chiffre") else "STR-01"
        assert expected in codes, (kind, codes)
        for c in report["constats"]:
            assert c["message"] and not re.search(r"\b(the|file|error|Errno|Exception)\b", c["message"]), c


def test_a_missing_file_and_a_wrong_argument_give_status_2_in_french(tmp_path):
    out = acv("valider", tmp_path / "absent.xlsx")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "No such file" not in out.stdout + out.stderr
    out = acv("valider", CLEAN[0], "--format", "yaml")
    assert out.returncode == 2 and "choix invalide" in out.stderr
    out = acv("nimporte")
    assert out.returncode == 2 and "choix invalide" in out.stderr
    out = acv("annexe", tmp_path / "absent.xlsx")
    assert out.returncode == 2 and "Traceback" not in out.stderr and "introuvable" in out.stdout + out.stderr
    out = acv("consolider", tmp_path / "absent", "-o", tmp_path / "c.xlsx")
    assert out.returncode == 2 and "Traceback" not in out.stderr and not (tmp_path / "c.xlsx").exists()


def test_with_several_files_the_worst_status_wins(garbage):
    clean, faulty, bad = CLEAN[0], FAULTY[0], garbage["texte"]
    assert acv("valider", clean, CLEAN[1]).returncode == 0
    assert acv("valider", clean, faulty).returncode == 1
    assert acv("valider", faulty, clean).returncode == 1
    assert acv("valider", clean, faulty, bad).returncode == 2
    assert acv("valider", bad, clean).returncode == 2


def test_exemples_writes_the_shipped_demonstration_workbooks_clearly_marked(tmp_path, reports):
    out = acv("exemples", tmp_path / "ex")
    assert out.returncode == 0, out.stderr
    written = sorted((tmp_path / "ex").glob("*.xlsx"))
    assert [p.name for p in written] == [p.name for p in SHIPPED]
    again = {Path(r["fichier"]).name: r for r in valider_json(*written)}
    for name, report in reports.items():
        assert again[name]["empreinte"] == report["empreinte"], name  # the same data as the shipped files
    for path in written:
        accueil = openpyxl.load_workbook(path, read_only=True)["Accueil"]
        text = " ".join(str(v) for row in accueil.iter_rows(values_only=True) for v in row if v)
        assert "fictifs" in text, path.name


# =========================================================================== JSON report
def _spec_json_example() -> dict:
    body = section(spec("interfaces.md"), "Rapport JSON (`acv-xl valider --format json`)")
    block = re.search(r"```json\n(.*?)```", body, flags=re.S).group(1)
    return json.loads(block.replace("…", ""))  # « 9f2c… » → « 9f2c », « … » → « »


def _same_shape(model, ours, where="racine"):
    """Every key of the spec's example is in ours, with the same JSON type (int and float are one)."""
    number = (int, float)
    if isinstance(model, dict):
        assert isinstance(ours, dict), where
        if not model:
            return
        for k, v in model.items():
            # keys of the totals' sub-objects are data (funder codes, years…), not names: check the values
            if where.startswith("totaux.par_"):
                for kk, vv in ours.items():
                    assert isinstance(kk, str) and isinstance(vv, number) and not isinstance(vv, bool), (where, kk)
                return
            assert k in ours, f"{where}: clé « {k} » absente"
            _same_shape(v, ours[k], f"{where}.{k}" if where != "racine" else k)
    elif isinstance(model, list):
        assert isinstance(ours, list), where
        for item in ours:
            _same_shape(model[0], item, where + "[]")
    elif isinstance(model, bool):
        assert isinstance(ours, bool), where
    elif isinstance(model, number):
        assert isinstance(ours, number) and not isinstance(ours, bool), where
    else:
        assert isinstance(ours, type(model)), (where, ours)


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    return {Path(r["fichier"]).name: r for r in valider_json(*SHIPPED)}


def test_several_files_give_a_list_one_file_an_object():
    out = acv("valider", CLEAN[0], "--format", "json")
    assert isinstance(json.loads(out.stdout), dict)
    out = acv("valider", CLEAN[0], FAULTY[0], "--format", "json")
    data = json.loads(out.stdout)
    assert isinstance(data, list) and len(data) == 2


def test_json_report_has_every_key_of_the_spec_with_its_type(reports):
    model = _spec_json_example()
    assert len(reports) == len(SHIPPED)
    for name, report in reports.items():
        assert report["constats"] or name not in FAUTES_ATTENDUES
        _same_shape(model, report, "racine")
        assert report["valide"] is (name not in FAUTES_ATTENDUES), name
        assert re.fullmatch(r"[0-9a-f]{64}", report["empreinte"]), name
        r = report["resume"]
        by_sev = [GRAVITE_LETTRE[c["gravite"]] for c in report["constats"]]
        assert (r["erreurs"], r["avertissements"], r["informations"]) == (
            by_sev.count("E"), by_sev.count("A"), by_sev.count("I")), name


def test_the_spec_s_json_example_is_what_its_command_gives(reports):
    """The example of interfaces.md is the report of the shipped example it names, abridged (« … »
    ends a text cut short; a total's sub-object lists some of its keys): it once named arras.xlsx,
    an example without errors, with two errors and another convention's cell."""
    model = _spec_json_example()
    real = reports[Path(model["fichier"]).name]

    def same(m, r, where):
        if isinstance(m, dict):
            for k, v in m.items():
                same(v, r[k], f"{where}.{k}")
        elif isinstance(m, list):
            for i, v in enumerate(m):
                same(v, r[i], f"{where}[{i}]")
        elif isinstance(m, str) and isinstance(r, str):
            assert r.startswith(m), (where, m, r)  # « 569d0235… », « …l'action 3.1 : … » read up to the cut
        else:
            assert m == r, (where, m, r)

    same({k: v for k, v in model.items() if k != "fichier"}, real, "racine")
    text = section(spec("interfaces.md"), "Rapport JSON (`acv-xl valider --format json`)")
    assert f"`acv-xl valider {model['fichier']} --format json`" in text


def test_findings_name_a_cell_of_their_sheet(reports):
    sheets_cache = {}
    for name, report in reports.items():
        if name not in sheets_cache:
            sheets_cache[name] = openpyxl.load_workbook(EXEMPLES / name, read_only=True).sheetnames
        for c in report["constats"]:
            assert c["gravite"] in ("erreur", "avertissement", "information"), c
            assert c["feuille"] in sheets_cache[name], c
            assert A1.match(c["cellule"]), c


def test_the_deliberate_mistakes_are_reported_at_their_cell(reports):
    for name, expected in FAUTES_ATTENDUES.items():
        found = {(c["code"], c["feuille"], c["cellule"]) for c in reports[name]["constats"]}
        for code, sheet, cell in expected:
            assert (code, str(sheet), cell) in found, (name, code)
        errors = {c["code"] for c in reports[name]["constats"] if c["gravite"] == "erreur"}
        assert errors == {code for code, _, _ in expected}, name


def _financing_lines(path: Path) -> list[dict]:
    wb = openpyxl.load_workbook(path, data_only=True)
    ws, t = table_of(wb, "T_Financements")
    acts_ws, acts = table_of(wb, "T_Actions")
    axe_of = {}
    for rec in table_records(acts_ws, acts):
        if rec["N° action"].value is not None:
            axe_of[str(rec["N° action"].value)] = str(rec["Axe"].value).replace("Axe ", "")
    out = []
    for rec in table_records(ws, t):
        v = {h: c.value for h, c in rec.items()}
        if v["N° action"] is None and v["Montant (€)"] is None:
            continue
        v["axe"] = axe_of.get(str(v["N° action"]))
        out.append(v)
    return out


def _cents(x) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"))


def _sum_by(lines, key) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for v in lines:
        k = str(key(v))
        out[k] = out.get(k, Decimal(0)) + Decimal(str(v["Montant (€)"]))
    return {k: _cents(s) for k, s in out.items()}


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_totals_equal_an_independent_sum_of_the_plan_without_refused_lines(path, reports):
    lines = [v for v in _financing_lines(path) if v["Statut"] != "Refusé"]
    assert all(isinstance(v["Montant (€)"], (int, float)) for v in lines)
    t = reports[path.name]["totaux"]
    ours = lambda d: {k: _cents(v) for k, v in d.items()}
    assert ours(t["par_financeur"]) == _sum_by(lines, lambda v: v["Financeur"])
    assert ours(t["par_annee"]) == _sum_by(lines, lambda v: int(v["Année"]))
    assert ours(t["par_statut"]) == _sum_by(lines, lambda v: v["Statut"])
    assert ours(t["par_axe"]) == _sum_by(lines, lambda v: v["axe"])


def test_totals_are_rounded_to_the_cent(reports):
    for name, report in reports.items():
        t = report["totaux"]
        values = [t["cout_total"]] + [v for k in ("par_financeur", "par_axe", "par_annee", "par_statut")
                                      for v in t[k].values()]
        for v in values:
            assert Decimal(str(v)) == _cents(v), (name, v)


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """A clean example where one funded line becomes `Refusé`, as a user would type it."""
    src = CLEAN[0]
    lines = _financing_lines(src)
    target = next(v for v in lines if v["Financeur"] not in ("COMMUNE", "EPCI"))
    dst = tmp_path_factory.mktemp("refuse") / src.name

    def edit(wb):
        ws, t = table_of(wb, "T_Financements")
        for rec in table_records(ws, t):
            if rec["Montant (€)"].value == target["Montant (€)"] and rec["Financeur"].value == target["Financeur"]:
                rec["Statut"].value = "Refusé"
                return
        raise AssertionError("ligne introuvable")

    edited_copy(src, dst, edit)
    return target, valider_json(src)[0], valider_json(dst)[0]


def test_a_refused_line_counts_in_no_total(refused):
    line, before, after = refused
    amount = _cents(line["Montant (€)"])
    b, a = before["totaux"], after["totaux"]
    assert "Refusé" not in a["par_statut"]
    assert _cents(sum(map(Decimal, map(str, a["par_statut"].values())))) == \
        _cents(sum(map(Decimal, map(str, b["par_statut"].values())))) - amount
    f = line["Financeur"]
    assert _cents(a["par_financeur"].get(f, 0)) == _cents(b["par_financeur"][f]) - amount
    year = str(int(line["Année"]))
    assert _cents(a["par_annee"].get(year, 0)) == _cents(b["par_annee"][year]) - amount
    assert a["cout_total"] == b["cout_total"]  # the cost of the action does not change
    # the plan of that action is now short of the refused amount: FIN-05, an error
    fin05 = [c for c in after["constats"] if c["code"] == "FIN-05"]
    assert fin05 and fin05[0]["action"] == str(line["N° action"]) and fin05[0]["gravite"] == "erreur"


def _recalculated(paths: list[Path], outdir: Path) -> list[Path]:
    """The workbooks opened, recalculated and saved by LibreOffice — one process for all of them."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        pytest.fail("LibreOffice (soffice) est nécessaire : voir scripts/tests.sh")
    profile = outdir / "profil"
    out = subprocess.run([exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                          "--convert-to", "xlsx", "--outdir", str(outdir / "lo"), *map(str, paths)],
                         capture_output=True, text=True, timeout=240)
    done = [outdir / "lo" / p.name for p in paths]
    assert all(p.exists() for p in done), out.stdout + out.stderr
    return done


def _synthese_values(path: Path) -> dict[str, float]:
    """Label → value of the template's Synthèse sheet as a spreadsheet computed it."""
    ws = openpyxl.load_workbook(path, data_only=True)["Synthèse"]
    return {str(r[0]): r[1] for r in ws.iter_rows(values_only=True) if r[0] is not None and len(r) > 1}


def test_the_native_formulas_leave_refused_lines_out_to_the_cent(refused, mutated, tmp_path):
    """Synthèse « works without Python »: recalculated by a real spreadsheet, its totals are the CLI's,
    after a line becomes `Refusé` and after a one-cent change."""
    _, _, after = refused
    cent = mutated["FIN-05"]
    files = [Path(after["fichier"]), Path(cent["fichier"])]
    for report, path in zip((after, cent), _recalculated(files, tmp_path)):
        values = _synthese_values(path)
        t = report["totaux"]
        financement = next(v for k, v in values.items() if k.startswith("Financement total"))
        assert _cents(financement) == _cents(sum(Decimal(str(v)) for v in t["par_statut"].values())), path.name
        for code, total in t["par_financeur"].items():
            assert _cents(values[code]) == _cents(total), (path.name, code)
        for statut, total in t["par_statut"].items():
            assert _cents(values[statut]) == _cents(total), (path.name, statut)
        assert _cents(values.get("Refusé", 0) or 0) == 0


# =========================================================================== the rules catalogue
def test_the_catalogue_is_in_the_docs_with_a_severity_for_every_code():
    codes = catalogue(spec("regles.md"))
    assert len(codes) >= 50
    families = {c[:3] for c in codes}
    assert {"STR", "PRJ", "DIA", "PER", "ACT", "FIN", "IND", "GOU", "CON"} <= families
    allowed = allowed_severities(spec("regles.md"))
    assert allowed["STR-05"] == {"E", "A"} and allowed["STR-01"] == {"E"}  # « Gravités variables » read


MUTATION_SOURCE = next((p for p in CLEAN if p.name == "lens-lievin.xlsx"), CLEAN[0])


def _mutations() -> dict[str, tuple]:
    """code → (user-like edit of the clean example, (sheet, cell) the finding must point at, or None)."""
    def set_named(name, value):
        return lambda wb: setattr(named_cell(wb, name), "value", value)

    def record(table, i, header, value):
        def edit(wb):
            ws, t = table_of(wb, table)
            rows = table_records(ws, t)
            rows[i][header].value = value(rows) if callable(value) else value
        return edit

    def rename_header(table, old, new):
        def edit(wb):
            ws, t = table_of(wb, table)
            r, c = header_cells(ws, t)[old]
            ws.cell(r, c).value = new
            for col in t.tableColumns:
                if col.name == old:
                    col.name = new
        return edit

    def where(table, axe_from, axe_to):
        def edit(wb):
            ws, t = table_of(wb, table)
            for r in table_records(ws, t):
                if r["Axe"].value == axe_from:
                    r["Axe"].value = axe_to
        return edit

    from datetime import datetime
    return {
        "STR-03": (lambda wb: wb.remove(wb["Gouvernance"]), None),
        "STR-04": (rename_header("T_Actions", "Intitulé", "Intitule"), ("Fiches-actions", "B3")),
        "STR-05": (set_named("acv_version_modele", "2099.1"), None),
        "STR-06": (record("T_Actions", 0, "Coût total (€)", "#REF!"), ("Fiches-actions", "M4")),
        "PRJ-01": (set_named("acv_epci", None), ("Projet", "B7")),
        "PRJ-03": (set_named("acv_id", "ACV12"), ("Projet", "B4")),
        "DIA-01": (where("T_Diagnostic", "Axe 5", "Axe 1"), None),
        "PER-01": (record("T_Perimetres", 1, "Type", "Secteur prioritaire"), None),
        "PER-06": (record("T_Perimetres", 1, "Code", "ETU"), None),
        "ACT-01": (record("T_Actions", 1, "N° action", "1.1"), None),
        "ACT-05": (record("T_Actions", 0, "Coût total (€)", "12 000 €"), ("Fiches-actions", "M4")),
        "ACT-06": (record("T_Actions", 0, "Date de début", datetime(2023, 1, 2)), None),
        "FIN-02": (record("T_Financements", 0, "Financeur", "INCONNU"), ("Plan de financement", "B4")),
        "FIN-04": (record("T_Financements", 0, "Statut", "Obtenu"), ("Plan de financement", "G4")),
        # one cent too much on a line: the plan no longer balances (comparisons are made in cents)
        "FIN-05": (record("T_Financements", 0, "Montant (€)", lambda rows: rows[0]["Montant (€)"].value + 0.01),
                   ("Fiches-actions", "M4")),
        "FIN-10": (record("T_Financements", 0, "Dispositif", "FCTVA"), None),
        "FIN-12": (record("T_Financements", 1, "Année", lambda rows: rows[0]["Année"].value), None),
        "FIN-13": (record("T_Financements", 0, "Référence de la décision", None), ("Plan de financement", "I4")),
        "IND-01": (record("T_Indicateurs", 0, "N° action", "9.9"), ("Indicateurs", "A4")),
        # a date or a year typed as text is an input error, never coerced silently
        "ACT-06-texte": (record("T_Actions", 0, "Date de début", "07/01/2019"), ("Fiches-actions", "J4")),
        "FIN-04-texte": (record("T_Financements", 0, "Année", "2019"), ("Plan de financement", "E4")),
        "FIN-03-negatif": (record("T_Financements", 0, "Montant (€)", -5), ("Plan de financement", "F4")),
        "PRJ-02-insee": (record("T_Communes", 0, "Code INSEE", "59350"), ("Projet", "A21")),
        "GOU-01": (lambda wb: [r["Collège"].__setattr__("value", "Autre")
                               for r in table_records(*table_of(wb, "T_Gouvernance"))
                               if r["Collège"].value == "État"], None),
    }


@pytest.fixture(scope="module")
def mutated(tmp_path_factory) -> dict[str, dict]:
    """User-like slips on copies of a clean example, each expected to give one catalogue code."""
    d = tmp_path_factory.mktemp("fautes")
    paths = [edited_copy(MUTATION_SOURCE, d / f"{code}.xlsx", edit) for code, (edit, _) in _mutations().items()]
    return {Path(r["fichier"]).stem: r for r in valider_json(*paths)}


def test_user_slips_give_their_catalogue_code_at_the_cell_to_fix(mutated):
    for key, (_, cell) in _mutations().items():
        report, code = mutated[key], key[:6]
        found = [c for c in report["constats"] if c["code"] == code]
        assert found, (code, [c["code"] for c in report["constats"]])
        if cell:
            assert (found[0]["feuille"], found[0]["cellule"]) == cell, (code, found[0])


def test_a_one_cent_gap_is_an_unbalanced_plan_with_the_difference(mutated):
    fin05 = next(c for c in mutated["FIN-05"]["constats"] if c["code"] == "FIN-05")
    assert fin05["action"] == "1.1" and "0,01 €" in fin05["message"], fin05


def test_an_unreadable_version_is_an_error_and_nothing_is_silently_accepted(mutated):
    # STR-05: a version newer than the tool is an error (E), not a warning
    str05 = [c for c in mutated["STR-05"]["constats"] if c["code"] == "STR-05"]
    assert str05 and str05[0]["gravite"] == "erreur"
    assert mutated["STR-05"]["valide"] is False


def test_every_produced_finding_has_the_catalogue_severity(reports, mutated):
    allowed = allowed_severities(spec("regles.md"))
    for report in list(reports.values()) + list(mutated.values()):
        for c in report["constats"]:
            assert c["code"] in allowed, f"{c['code']} absent de docs/regles.md"
            assert GRAVITE_LETTRE[c["gravite"]] in allowed[c["code"]], c
            assert c["message"].strip(), c


def test_an_edit_changes_the_fingerprint_and_nothing_else_does(reports, mutated):
    # « any change of a value in a table or named cell changes it »
    src_print = {r["empreinte"] for r in reports.values()}
    for code in ("PRJ-03", "ACT-05", "FIN-04"):
        assert mutated[code]["empreinte"] not in src_print, code
    again = {Path(r["fichier"]).name: r["empreinte"] for r in valider_json(*CLEAN)}
    assert all(again[p.name] == reports[p.name]["empreinte"] for p in CLEAN)


def test_validation_never_touches_the_input(tmp_path):
    path = tmp_path / CLEAN[0].name
    shutil.copy(CLEAN[0], path)
    before = path.read_bytes(), path.stat().st_mtime_ns
    out = acv("valider", path, "--annoter", tmp_path / "annote.xlsx")
    assert out.returncode == 0, out.stderr
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    wb = openpyxl.load_workbook(tmp_path / "annote.xlsx")
    assert named_cell(wb, "acv_statut").value == "Validé"


def test_valider_then_edit_gives_validated_then_modified(tmp_path):
    """« Valider » writes status, date and fingerprint; any later edit of the data shows."""
    validated = tmp_path / "valide.xlsx"
    assert acv("valider", MUTATION_SOURCE, "--annoter", validated).returncode == 0
    wb = openpyxl.load_workbook(validated)
    assert named_cell(wb, "acv_statut").value == "Validé"
    assert named_cell(wb, "acv_date_validation").value is not None
    report = valider_json(validated)[0]
    assert report["etat"] == "validé" and report["valide"] is True
    assert named_cell(wb, "acv_empreinte").value == report["empreinte"]
    ws, t = table_of(wb, "T_Financements")
    table_records(ws, t)[0]["Commentaire"].value = "montant à confirmer"
    wb.save(tmp_path / "modifie.xlsx")
    assert valider_json(tmp_path / "modifie.xlsx")[0]["etat"] == "modifié depuis la validation"


def test_faulty_workbook_validated_lists_its_findings_in_controles(tmp_path):
    src = next(p for p in FAULTY if p.name == "calais.xlsx") if "calais.xlsx" in FAUTES_ATTENDUES else FAULTY[0]
    out = tmp_path / "annote.xlsx"
    assert acv("valider", src, "--annoter", out).returncode == 1
    wb = openpyxl.load_workbook(out)
    assert named_cell(wb, "acv_statut").value == "Erreurs à corriger"
    assert not named_cell(wb, "acv_empreinte").value  # no fingerprint for a workbook with errors
    ws, t = table_of(wb, "T_Controles")
    rows = {(r["Code"].value, r["Feuille"].value, r["Cellule"].value) for r in table_records(ws, t)}
    for code, sheet, cell in FAUTES_ATTENDUES[src.name]:
        assert (code, str(sheet), cell) in rows
        faulty = wb[str(sheet)][cell]
        assert faulty.comment is not None and code in faulty.comment.text, (code, cell)


def _swap_columns(wb, table, h1, h2):
    from openpyxl.utils.cell import range_boundaries

    ws, t = table_of(wb, table)
    c1, r1, _, r2 = range_boundaries(t.ref)
    heads = header_cells(ws, t)
    a, b = heads[h1][1], heads[h2][1]
    for r in range(r1, r2 + 1):
        x, y = ws.cell(r, a), ws.cell(r, b)
        x.value, y.value = y.value, x.value
        x.number_format, y.number_format = y.number_format, x.number_format
    cols = t.tableColumns
    cols[a - c1].name, cols[b - c1].name = cols[b - c1].name, cols[a - c1].name


def _add_column(wb, table, header, value):
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.cell import range_boundaries
    from openpyxl.worksheet.table import TableColumn

    ws, t = table_of(wb, table)
    c1, r1, c2, r2 = range_boundaries(t.ref)
    ws.cell(r1, c2 + 1).value = header
    for r in range(r1 + 1, r2 + 1):
        ws.cell(r, c2 + 1).value = value
    t.tableColumns.append(TableColumn(id=max(c.id for c in t.tableColumns) + 1, name=header))
    t.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2 + 1)}{r2}"
    t.autoFilter.ref = t.ref


def test_columns_are_found_by_header_text_not_by_letter(tmp_path, reports):
    """« users add columns, move tables »: the same data in another column order gives the same
    totals, findings and fingerprint, each finding pointing at the cell where the value now is."""
    src = EXEMPLES / "calais.xlsx"
    assert ("FIN-05", "Fiches-actions", "M7") in {(c, str(s_), x) for c, s_, x in FAUTES_ATTENDUES[src.name]}

    def moved(wb):
        _swap_columns(wb, "T_Actions", "Intitulé", "Coût total (€)")  # B ↔ M
        _swap_columns(wb, "T_Financements", "N° action", "Montant (€)")

    def extra(wb):
        moved(wb)
        _add_column(wb, "T_Financements", "Notes du service", "à revoir")
        _add_column(wb, "T_Actions", "Priorité municipale", 1)

    a = valider_json(edited_copy(src, tmp_path / "deplace.xlsx", moved))[0]
    b = valider_json(edited_copy(src, tmp_path / "colonnes.xlsx", extra))[0]
    ref = reports[src.name]
    relocated = {(c["code"], c["feuille"], c["cellule"].replace("B", "M") if c["code"] == "FIN-05" else c["cellule"])
                 for c in ref["constats"]}
    for got in (a, b):
        assert got["totaux"] == ref["totaux"]
        fin05 = next(c for c in got["constats"] if c["code"] == "FIN-05")
        assert fin05["cellule"] == "B7", fin05
        assert {(c["code"], c["feuille"], c["cellule"].replace("B", "M") if c["code"] == "FIN-05" else c["cellule"])
                for c in got["constats"]} == relocated
    assert a["empreinte"] == ref["empreinte"]


# =========================================================================== the template
@pytest.fixture(scope="module")
def modele(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("modele") / "modele.xlsx"
    out = acv("modele", path)
    assert out.returncode == 0, out.stderr
    return path


def test_template_sheets_in_the_order_of_the_spec(modele):
    body = section(spec("classeur.md"), "Feuilles, dans l'ordre")
    sheets = re.findall(r"^\| `([^`]+)` \|", body, flags=re.M)
    assert len(sheets) == 11
    assert openpyxl.load_workbook(modele).sheetnames == sheets


def test_template_tables_on_their_sheet_with_the_headers_of_the_spec(modele):
    classeur = spec("classeur.md")
    tables = spec_tables(classeur)
    body = section(classeur, "Feuilles, dans l'ordre")
    where = {t: m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|(.*)$", body, flags=re.M)
             for t in re.findall(r"`(T_\w+)`", m.group(2))}
    assert set(where) == set(tables)
    wb = openpyxl.load_workbook(modele)
    for name, cols in tables.items():
        ws, t = table_of(wb, name)
        assert ws.title == where[name], name
        assert [c.name for c in t.tableColumns] == [h for h, _ in cols], name
        assert list(header_cells(ws, t)) == [h for h, _ in cols], name


def _list_values(ws, cell: str) -> list[str] | None:
    """The in-cell drop-down offered at `cell`, as values (inline list or a range of the workbook)."""
    for dv in ws.data_validations.dataValidation:
        if dv.type == "list" and cell in dv.sqref:
            f = dv.formula1
            if f.startswith('"'):
                return f.strip('"').split(",")
            return ["<plage>", f]
    return None


def test_every_list_value_of_the_spec_is_an_in_cell_drop_down(modele):
    wb = openpyxl.load_workbook(modele)
    tables = spec_tables(spec("classeur.md"))
    assert sum(len(choices) for cols in tables.values() for _, choices in cols) >= 60  # the parse found them
    for name, cols in tables.items():
        ws, t = table_of(wb, name)
        heads = header_cells(ws, t)
        for header, choices in cols:
            if not choices:
                continue
            r, c = heads[header]
            for row in (r + 1, r + 50):  # the first data row and further down the table
                cell = f"{openpyxl.utils.get_column_letter(c)}{row}"
                assert _list_values(ws, cell) == choices, (name, header, cell)


def test_named_cells_of_the_spec_exist_and_the_version_is_filled(modele):
    body = section(spec("classeur.md"), "Cellules nommées")
    names = re.findall(r"^\| `(acv_\w+)` \|", body, flags=re.M)
    assert len(names) >= 16
    wb = openpyxl.load_workbook(modele)
    for name in names:
        assert name in wb.defined_names, name
        named_cell(wb, name)  # a single cell of the workbook
    version = named_cell(wb, "acv_version_modele").value
    assert re.fullmatch(r"\d{4}\.\d+", str(version)), version
    programme = named_cell(wb, "acv_programme")
    assert _list_values(programme.parent, programme.coordinate) == ["ACV 1", "ACV 2"]
    statut = named_cell(wb, "acv_statut")
    listed = re.search(r"`acv_statut` \|[^|]*\|", body).group(0)
    assert _list_values(statut.parent, statut.coordinate) in (None, re.findall(r"`([^`]+)`", listed)[1:])


def test_the_two_buttons_are_shapes_with_an_internal_link(modele):
    with zipfile.ZipFile(modele) as z:
        names = z.namelist()
        wb_rels = z.read("xl/_rels/workbook.xml.rels").decode()
        wbxml = z.read("xl/workbook.xml").decode()
        first = re.search(r'<sheet name="Accueil"[^>]*r:id="(rId\d+)"', wbxml).group(1)
        target = re.search(rf'Id="{first}"[^>]*Target="([^"]+)"', wb_rels) or \
            re.search(rf'Target="([^"]+)"[^>]*Id="{first}"', wb_rels)
        sheet_path = "xl/" + target.group(1).lstrip("/").removeprefix("xl/")
        sheet_rels = z.read(sheet_path.replace("worksheets/", "worksheets/_rels/") + ".rels").decode()
        drawing = re.search(r'Target="\.\./drawings/(drawing\d+\.xml)"', sheet_rels).group(1)
        xml = z.read(f"xl/drawings/{drawing}").decode()
        rels = z.read(f"xl/drawings/_rels/{drawing}.rels").decode()
    assert any(n.startswith("xl/drawings/") for n in names)
    texts = re.findall(r"<xdr:sp\b.*?</xdr:sp>", xml, flags=re.S)
    captions = {}
    for sp in texts:
        caption = "".join(re.findall(r"<a:t>([^<]*)</a:t>", sp)).replace("&apos;", "'")
        link = re.search(r'<a:hlinkClick [^>]*r:id="(rId\d+)"', sp)
        captions[caption] = link.group(1) if link else None
    assert {"Valider", "Générer l'annexe"} <= set(captions), captions
    for caption in ("Valider", "Générer l'annexe"):
        rid = captions[caption]
        assert rid, caption
        target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"', rels).group(1)
        assert target.startswith("#"), (caption, target)  # internal: a place in the workbook, not a URL


def test_the_reference_funders_of_the_spec_with_category_and_dispositifs(modele):
    expected = spec_funders(spec("classeur.md"))
    assert len(expected) >= 13 and sum(r for _, _, r in expected["ETAT"]["dispositifs"]) == 4
    wb = openpyxl.load_workbook(modele)
    ws, t = table_of(wb, "T_Financeurs")
    funders = {r["Code"].value: r for r in table_records(ws, t) if r["Code"].value}
    ws2, t2 = table_of(wb, "T_Dispositifs")
    disp: dict[str, dict[str, tuple[str, str]]] = {}
    for r in table_records(ws2, t2):
        if r["Financeur"].value:
            disp.setdefault(r["Financeur"].value, {})[str(r["Dispositif"].value).casefold()] = (
                r["Nature"].value, r["Dotation R2334-27"].value)
    for code, e in expected.items():
        assert code in funders, code
        if e["categorie"]:
            assert funders[code]["Catégorie"].value == e["categorie"], code
        if e["name"]:
            name = str(funders[code]["Nom du financeur"].value).casefold()
            assert e["name"].casefold() in name or e["name"].casefold() in disp.get(code, {}), (code, e["name"])
        for dispositif, nature, r2334 in e["dispositifs"]:
            got = disp.get(code, {}).get(dispositif.casefold())
            assert got, (code, dispositif)
            if nature:
                assert got[0].casefold() == nature.casefold(), (code, dispositif, got)
            if code == "ETAT":
                assert got[1] == ("Oui" if r2334 else "Non"), (code, dispositif, got)
    # only the R2334-27 dotations are marked
    marked = {(f, d) for f, ds in disp.items() for d, (_, m) in ds.items() if m == "Oui"}
    assert marked == {("ETAT", d.casefold()) for d, _, r in expected["ETAT"]["dispositifs"] if r}


# =========================================================================== the annex
@pytest.fixture(scope="module")
def annex(tmp_path_factory):
    d = tmp_path_factory.mktemp("annexe")
    src = CLEAN[0]
    out = acv("annexe", src, "-o", d / "annexe.xlsx", "--pdf", timeout=240)
    return src, d, out


def test_annex_pdf_is_a4_landscape_with_page_numbers_headers_and_the_total(annex, reports):
    pypdf = pytest.importorskip("pypdf", reason="pypdf est dans l'extra [test]")
    src, d, out = annex
    assert out.returncode == 0, out.stdout + out.stderr
    pdf = d / "annexe.pdf"
    assert pdf.exists() and (d / "annexe.xlsx").exists(), out.stdout
    reader = pypdf.PdfReader(pdf)
    n = len(reader.pages)
    assert n >= 3
    texts = []
    for i, page in enumerate(reader.pages, start=1):
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        if (page.get("/Rotate") or 0) % 180:
            w, h = h, w
        assert abs(w - 841.89) < 2 and abs(h - 595.28) < 2, (i, w, h)  # A4 landscape, in points
        text = " ".join(page.extract_text().split())
        texts.append(text)
        assert re.search(rf"\b{i} (/|sur) {n}\b", text), (i, text[-200:])
    # a header line on every page
    first_lines = {t[:40] for t in texts}
    assert all("Annexe" in t for t in texts) or len(first_lines) == 1
    total = reports[src.name]["totaux"]["financement_total"]
    whole, cents = f"{total:.2f}".split(".")
    french = re.sub(r"\B(?=(\d{3})+$)", " ", whole) + "," + cents + " €"
    alltext = re.sub(r"[\u00a0\u202f]", " ", " ".join(texts))
    assert french in alltext, french


def test_annex_workbook_prints_a4_landscape_with_repeated_headers(annex):
    _, d, out = annex
    assert out.returncode == 0
    wb = openpyxl.load_workbook(d / "annexe.xlsx")
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert str(ws.page_setup.paperSize) == "9", ws.title
        assert "&P" in (ws.oddFooter.center.text or "") + (ws.oddFooter.right.text or "") + \
            (ws.oddFooter.left.text or "") + (ws.oddHeader.right.text or ""), ws.title
        # values, not formulas
        for row in ws.iter_rows():
            for c in row:
                assert not (isinstance(c.value, str) and c.value.startswith("=")), (ws.title, c.coordinate)
    titled = [ws.title for ws in wb.worksheets if ws.print_title_rows]
    assert len(titled) >= len(wb.worksheets) - 1, titled  # all but (at most) the cover page


def test_annex_holds_one_page_per_action_with_a_signature_per_cosignatory(annex, reports):
    src, d, out = annex
    assert out.returncode == 0
    source = openpyxl.load_workbook(src)
    funders = {r["Code"].value: r["Nom du financeur"].value
               for r in table_records(*table_of(source, "T_Financeurs")) if r["Code"].value}
    actions = {str(r["N° action"].value): r["Cosignataires"].value
               for r in table_records(*table_of(source, "T_Actions")) if r["N° action"].value}
    wb = openpyxl.load_workbook(d / "annexe.xlsx")
    texts = {ws.title: " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
             for ws in wb.worksheets}
    for numero, cosignataires in actions.items():
        pages = [t for t in texts.values() if f"n° {numero} " in t or f"n° {numero}\u00a0" in t]
        assert len(pages) == 1, numero
        # the signature block comes last on the page and names every cosignatory (by its funder name)
        start = pages[0].find("Signatures")
        assert start >= 0, numero
        block = pages[0][start:]
        for code in filter(None, (c.strip() for c in str(cosignataires or "").split(";"))):
            assert funders[code] in block, (numero, code)
    cover = next(iter(texts.values()))
    assert reports[src.name]["empreinte"] in cover  # 5. the fingerprint of the source workbook
    # amounts in the French euro format, the totals in bold
    plan = next(ws for ws in wb.worksheets if "Total" in texts[ws.title] and "financeur" in texts[ws.title].lower())
    amounts = [c for row in plan.iter_rows() for c in row if isinstance(c.value, (int, float)) and c.value >= 1000]
    assert amounts and all("€" in c.number_format and "#,##0.00" in c.number_format for c in amounts)
    total_row = next(row for row in plan.iter_rows() if row[0].value == "Total")
    assert all(c.font.b for c in total_row if isinstance(c.value, (int, float)))


def test_annex_is_refused_on_a_faulty_example_unless_draft(tmp_path):
    src = FAULTY[0]
    target = tmp_path / "annexe.xlsx"
    out = acv("annexe", src, "-o", target)
    assert out.returncode != 0 and not target.exists()
    assert "Traceback" not in out.stderr and "erreur" in (out.stdout + out.stderr)
    out = acv("annexe", src, "-o", target, "--brouillon")
    assert out.returncode == 0 and target.exists(), out.stdout + out.stderr
    wb = openpyxl.load_workbook(target)
    for ws in wb.worksheets:
        marks = " ".join(filter(None, [ws.oddHeader.center.text, ws.oddHeader.left.text, ws.oddHeader.right.text,
                                       ws.oddFooter.center.text, ws.oddFooter.left.text, ws.oddFooter.right.text]))
        cells = " ".join(str(c.value) for row in ws.iter_rows(max_row=5) for c in row if c.value)
        assert "PROJET — non validé" in marks + cells, ws.title


# =========================================================================== consolidation
INJECTIONS = ["=1+1", "+33 6 12 34 56 78", "-Saint-Martin", "@SOMME(A1)"]


@pytest.fixture(scope="module")
def consolidated(tmp_path_factory):
    d = tmp_path_factory.mktemp("depot")
    (d / "sous-dossier").mkdir()
    for p in SHIPPED:
        shutil.copy(p, d / p.name)
    src = CLEAN[0]
    for i, text in enumerate(INJECTIONS):
        def edit(wb, text=text, i=i):
            named_cell(wb, "acv_id").value = f"ACV98{i}"
            ws, t = table_of(wb, "T_Communes")
            cell = table_records(ws, t)[0]["Commune"]
            cell.value = text
            cell.data_type = "s"  # typed as text (openpyxl would otherwise write « =1+1 » as a formula)
        edited_copy(src, d / "sous-dossier" / f"injection-{i}.xlsx", edit)
    (d / "sous-dossier" / "illisible.xlsx").write_bytes(b"PK\x03\x04 pas un classeur")
    shutil.copy(CLEAN[1], d / "sous-dossier" / "doublon.xlsx")  # the same convention sent twice
    # the same convention again, validated by the commune (« Valider » → --annoter): this one is counted
    out = acv("valider", CLEAN[2], "--annoter", d / "sous-dossier" / "valide.xlsx")
    assert out.returncode == 0, out.stdout

    def foreign(wb):
        named_cell(wb, "acv_id").value = "ACV970"
        named_cell(wb, "acv_departement").value = "59"
    edited_copy(CLEAN[0], d / "sous-dossier" / "nord.xlsx", foreign)
    out_dir = tmp_path_factory.mktemp("conso")
    out = acv("consolider", d, "-o", out_dir / "conso.xlsx", "--departement", "62", "--json",
              out_dir / "resume.json", "--jobs", "1")
    files = sorted(str(p.relative_to(d)) for p in d.rglob("*.xlsx"))
    return d, out_dir, out, files


def test_consolidation_writes_the_seven_sheets_of_the_spec(consolidated):
    _, out_dir, out, _ = consolidated
    assert out.returncode in (1, 2) and "Traceback" not in out.stderr, out.stderr  # faulty files inside
    body = section(spec("interfaces.md"), "Consolidation d'un département")
    sheets = re.findall(r"^\| `([^`]+)` \|", body, flags=re.M)
    assert len(sheets) == 7
    assert openpyxl.load_workbook(out_dir / "conso.xlsx").sheetnames == sheets


ID_HEADER = "Identifiant ACV"  # the convention's identifier column, in French (docs/interfaces.md)


def test_consolidation_has_one_row_per_convention_and_every_file(consolidated, reports):
    _, out_dir, _, files = consolidated
    wb = openpyxl.load_workbook(out_dir / "conso.xlsx")
    ws = wb["Synthèse"]
    (name,) = ws.tables.keys()
    rows = table_records(ws, ws.tables[name])
    ids = [r[ID_HEADER].value for r in rows if r[ID_HEADER].value not in (None, "Total")]
    assert len(ids) == len(set(ids))  # the duplicate is counted once (CON-01)
    # every convention of the département once; the file of the Nord (59) is listed, not counted
    assert set(ids) == {r["acv_id"] for r in reports.values()} | {f"ACV98{i}" for i in range(len(INJECTIONS))}
    listed = []
    ws = wb["Fichiers"]
    (name,) = ws.tables.keys()
    for r in table_records(ws, ws.tables[name]):
        first = next(iter(r.values())).value
        if first:
            listed.append(str(first).replace("\\", "/"))
    assert sorted(Path(p).as_posix() for p in listed) == files
    anomalies = wb["Anomalies"]
    text = " ".join(str(c.value) for row in anomalies.iter_rows() for c in row if c.value)
    assert "illisible.xlsx" in text and "CON-03" in text
    assert "doublon.xlsx" in text and "CON-01" in text
    assert "nord.xlsx" in text and "CON-04" in text


def test_consolidation_counts_the_validated_copy_of_a_duplicate(consolidated, reports):
    _, out_dir, _, _ = consolidated
    wb = openpyxl.load_workbook(out_dir / "conso.xlsx")
    ws = wb["Synthèse"]
    (name,) = ws.tables.keys()
    acv_id = reports[CLEAN[2].name]["acv_id"]
    row = next(r for r in table_records(ws, ws.tables[name]) if r[ID_HEADER].value == acv_id)
    cells = [str(c.value) for c in row.values()]
    assert any(v.replace("\\", "/").endswith("sous-dossier/valide.xlsx") for v in cells), cells
    assert any(v.casefold() == "validé" for v in cells), cells


def test_consolidation_totals_per_convention_equal_the_validation_report(consolidated, reports):
    _, out_dir, _, _ = consolidated
    wb = openpyxl.load_workbook(out_dir / "conso.xlsx")
    ws = wb["Synthèse"]
    (name,) = ws.tables.keys()
    rows = {r[ID_HEADER].value: r for r in table_records(ws, ws.tables[name])}
    for report in reports.values():
        row = rows[report["acv_id"]]
        t = report["totaux"]
        cout = next(c for h, c in row.items() if h.startswith("Coût total"))
        financement = next(c for h, c in row.items() if h.startswith("Financement total"))
        assert _cents(cout.value) == _cents(t["cout_total"]), report["fichier"]
        expected = sum(Decimal(str(v)) for v in t["par_statut"].values())
        assert _cents(financement.value) == _cents(expected), report["fichier"]


def test_consolidation_keeps_text_that_looks_like_a_formula_as_text(consolidated):
    _, out_dir, _, _ = consolidated
    path = out_dir / "conso.xlsx"
    with zipfile.ZipFile(path) as z:
        formulas = " ".join(f for n in z.namelist() if n.startswith("xl/worksheets/sheet")
                            for f in re.findall(r"<f>([^<]*)</f>", z.read(n).decode()))
    for text in INJECTIONS:
        assert text.lstrip("=+-@") not in formulas, text
    wb = openpyxl.load_workbook(path)
    found = {c.value for ws in (wb["Synthèse"], wb["Lignes"]) for row in ws.iter_rows() for c in row
             if c.data_type == "s" and c.value in INJECTIONS}
    assert found == set(INJECTIONS)


def test_consolidation_tables_have_distinct_contract_style_names(consolidated):
    _, out_dir, _, _ = consolidated
    wb = openpyxl.load_workbook(out_dir / "conso.xlsx")
    names = [n for ws in wb.worksheets for n in ws.tables]
    assert len(names) == len(set(names))
    bad = [n for n in names if not n.startswith("T_")]
    assert not bad, f"tableaux mal nommés : {bad}"


@pytest.mark.skipif(os.name != "posix", reason="droits de fichier POSIX")
def test_outputs_are_created_with_the_users_usual_permissions(consolidated, annex, modele):
    """A file the tool writes is readable like any other file the user creates (umask), so that
    colleagues on a shared folder of the préfecture can open the consolidation and the annex."""
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    _, out_dir, _, _ = consolidated
    _, annex_dir, _ = annex
    for path in (modele, out_dir / "conso.xlsx", out_dir / "resume.json", annex_dir / "annexe.xlsx"):
        assert stat.S_IMODE(path.stat().st_mode) == expected, (path.name, oct(path.stat().st_mode))


# =========================================================================== Excel functions
def _spec_functions() -> dict[str, list[str]]:
    body = section(spec("interfaces.md"), "Fonctions Excel (UDF, via xlwings)")
    out = {}
    for m in re.finditer(r"^\| `(ACV_\w+)\(([^)]*)\)` \|", body, flags=re.M):
        out[m.group(1)] = [p.strip(" []") for p in m.group(2).split(";")]
    return out


def test_the_functions_of_the_spec_are_exported_with_their_parameters():
    expected = _spec_functions()
    assert len(expected) == 6
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    import inspect

    from udfs import functions
    for name, params in expected.items():
        assert name in functions.__all__, name
        sig = list(inspect.signature(getattr(functions, name)).parameters)
        assert sig[:len(params)] == params, (name, sig)


def test_the_server_metadata_names_the_functions_of_the_spec():
    """The metadata xlwings Server sends to Excel, built in a separate process (server mode must be
    set before xlwings is imported) without starting the server."""
    code = ("import json, xlwings.server, importlib\n"
            "m = importlib.import_module('udfs.server_project.custom_functions')\n"
            "meta = xlwings.server.custom_functions_meta(m)\n"
            "print(json.dumps({f['name']: [p['name'] for p in f['parameters']] for f in meta['functions']}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XLWINGS_")}
    env.update(XLWINGS_ON_SERVER="true", XLWINGS_LICENSE_KEY="noncommercial")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    meta = json.loads(out.stdout.strip().splitlines()[-1])
    for name, params in _spec_functions().items():
        assert name in meta, name
        assert meta[name][:len(params)] == params, (name, meta[name])


def _table_values(wb, name) -> list[list]:
    """A table as Excel passes `T_…[#Tout]` to a function: header row included."""
    from openpyxl.utils.cell import range_boundaries

    ws, t = table_of(wb, name)
    c1, r1, c2, r2 = range_boundaries(t.ref)
    return [list(r) for r in ws.iter_rows(min_row=r1, max_row=r2, min_col=c1, max_col=c2, values_only=True)]


@pytest.mark.parametrize("path", [EXEMPLES / "arras.xlsx", EXEMPLES / "calais.xlsx"], ids=lambda p: p.name)
def test_the_functions_give_the_cli_totals_to_the_cent(path, reports):
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    from udfs import functions as F

    wb = openpyxl.load_workbook(path)
    plan, actions, financeurs = (_table_values(wb, n) for n in ("T_Financements", "T_Actions", "T_Financeurs"))
    report = reports[path.name]
    t = report["totaux"]
    for code, total in t["par_financeur"].items():
        assert _cents(F.ACV_TOTAL_FINANCEUR(plan, code)) == _cents(total), code
    for numero, total in t["par_action"].items():
        assert _cents(F.ACV_TOTAL_ACTION(plan, numero)) == _cents(total), numero
    synthese = F.ACV_SYNTHESE(plan, "financeur")
    assert {r[0]: _cents(r[1]) for r in synthese[1:] if r[0] in t["par_financeur"]} == \
        {k: _cents(v) for k, v in t["par_financeur"].items()}
    first_error = {}
    for c in report["constats"]:
        if c["gravite"] == "erreur" and c["action"]:
            first_error.setdefault(c["action"], c["message"])
    for numero in t["par_action"]:
        controle = F.ACV_CONTROLE(actions, plan, financeurs, numero)
        assert controle == first_error.get(numero, "OK"), numero
        ecart = F.ACV_ECART(actions, plan, numero)
        assert (_cents(ecart) != 0) == any(c["code"] == "FIN-05" and c["action"] == numero
                                          for c in report["constats"]), numero
        assert 0 <= F.ACV_PART_MO(actions, plan, financeurs, numero) <= 1


def test_consolidation_gives_the_same_result_with_one_or_two_processes(consolidated, tmp_path):
    d, out_dir, _, _ = consolidated
    acv("consolider", d, "-o", tmp_path / "c2.xlsx", "--departement", "62", "--json", tmp_path / "r2.json",
        "--jobs", "2")
    one, two = (json.loads(p.read_text(encoding="utf-8")) for p in (out_dir / "resume.json", tmp_path / "r2.json"))
    for summary in (one, two):
        summary.pop("genere_le", None)
    assert one == two
