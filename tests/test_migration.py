"""`acv-xl migrer`: the current template filled with every value of an older or damaged workbook.

Round trip: every example migrated gives the same findings and totals; the migrated workbook has the
template's buttons (shapes in the drawing part) and drop-downs. A damaged workbook (line below a
table, renamed sheet, renamed table, table turned into a range, lost drop-downs) is repaired; what
cannot be carried is reported with its old sheet and cell (exit 1); an unusable input is exit 2;
the input and an existing file are never overwritten.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

from acceptance_support import acv, edited_copy, table_of
from acv_xl.checks.validate import validate_file
from acv_xl.contract import layout
from acv_xl.history import migration
from acv_xl.outputs.examples import write_examples
from acv_xl.outputs.template import build_workbook
from acv_xl.reading.read import read_file
from acv_xl.reading.source import a1
from conventions import clean
from cpu_time import growth

FIN, ACT = layout.T_FINANCEMENTS, layout.T_ACTIONS


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> list[Path]:
    return write_examples(tmp_path_factory.mktemp("exemples"))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("base") / "propre.xlsx"
    build_workbook(path, clean())
    return path


def _findings(path: Path) -> list[tuple]:
    return sorted((f.code, f.gravite.value, f.feuille, f.cellule, f.action, f.message)
                  for f in validate_file(path).findings)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _buttons(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n))
    return set(re.findall(r'<xdr:cNvPr id="\d+" name="([^"]+)"', xml))


def _list_validations(path: Path) -> int:
    wb = openpyxl.load_workbook(path)
    return sum(dv.type == "list" for ws in wb.worksheets for dv in ws.data_validations.dataValidation)


def test_every_example_migrates_with_the_same_findings_and_totals(examples, tmp_path):
    for path in examples:
        out = tmp_path / path.name
        proc = acv("migrer", path, "-o", out)
        assert proc.returncode == 0, (path.name, proc.stdout, proc.stderr)
        assert "Toutes les valeurs ont été reprises." in proc.stdout
        assert _findings(out) == _findings(path), path.name
        assert validate_file(out).totaux == validate_file(path).totaux, path.name
        assert _buttons(out) == {b.shape for b in layout.BUTTONS}, path.name


def _damage(wb) -> dict:
    """A workbook as the field returns them: a financing line typed below the table, the plan's
    and the project's sheets renamed, the actions table renamed, the indicators table turned into a plain range and
    every drop-down lost. Returns what the test expects to find."""
    ws, t = table_of(wb, FIN.name)
    c1, r1, c2, r2 = range_boundaries(t.ref)
    line = {"numero": "1.1", "financeur": "ETAT", "dispositif": "DSIL", "nature": "Subvention", "annee": 2025,
            "montant": 50000, "statut": "Sollicité"}
    for j, col in enumerate(FIN.columns):
        if col.attr in line:
            ws.cell(r2 + 1, c1 + j, line[col.attr])
    ws.title = "Financements"
    wb[layout.Sheet.PROJET].title = "Identité"  # its defined names now point at a missing sheet
    _ws, t = table_of(wb, ACT.name)
    t.name = t.displayName = "Tableau7"
    ws_ind, t_ind = table_of(wb, layout.T_INDICATEURS.name)
    del ws_ind.tables[layout.T_INDICATEURS.name]
    for sheet in wb.worksheets:
        sheet.data_validations.dataValidation = []
    return {"line": line, "row": r2 + 1}


def test_a_damaged_workbook_is_repaired(base, tmp_path):
    expected = {}
    damaged = edited_copy(base, tmp_path / "abime.xlsx", lambda wb: expected.update(_damage(wb)))
    assert _list_validations(damaged) == 0
    before = validate_file(damaged)
    assert {"STR-03", "STR-04", "STR-09"} <= {f.code for f in before.findings}
    assert "acv_id" in before.convention.structure.missing_names
    out = tmp_path / "repare.xlsx"
    proc = acv("migrer", damaged, "-o", out)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert f"ligne {expected['row']} de la feuille « Financements »" in proc.stdout
    assert "« Tableau7 »" in proc.stdout and layout.T_INDICATEURS.name in proc.stdout

    after = validate_file(out)
    structural = {f.code for f in after.findings if f.code.startswith("STR-")}
    assert structural == set(), structural
    # every row is there: the original ones, plus the line typed below the table, now counted
    original = read_file(base)
    repaired = after.convention
    for name in (ACT.name, layout.T_INDICATEURS.name, layout.T_COMMUNES.name):
        assert len(repaired.rows(name)) == len(original.rows(name)), name
    assert len(repaired.financements) == len(original.financements) + 1
    assert {n: v.value for n, v in repaired.names.items()} == {n: v.value for n, v in original.names.items()}
    added = repaired.financements[-1]
    assert (added.numero, added.financeur, added.montant) == ("1.1", "ETAT", 50000)
    assert after.totaux.financement_total == validate_file(base).totaux.financement_total + 50000
    # the template's drop-downs and buttons are back
    assert _list_validations(out) == _list_validations(base) > 0
    assert _buttons(out) == {b.shape for b in layout.BUTTONS}


def test_a_value_that_cannot_be_carried_is_reported_at_its_old_cell(base, tmp_path):
    def edit(wb):
        ws, t = table_of(wb, ACT.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        ws.cell(r1 + 1, c2 + 1, "voir le maire")  # right of the table: in no column of the template
        notes = wb.create_sheet("Notes")
        notes["B2"] = "Réunion du 3 mars"
        notes["C3"] = "_x001B_[2Jeffacé"  # ESC as OOXML escapes it: shown, never sent to the terminal
    path = edited_copy(base, tmp_path / "notes.xlsx", edit)
    sha = _sha(path)
    ws, t = table_of(openpyxl.load_workbook(base), ACT.name)
    c1, r1, c2, r2 = range_boundaries(t.ref)
    out = tmp_path / "migre.xlsx"
    proc = acv("migrer", path, "-o", out)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert f"Feuille « {ACT.sheet} », {a1(r1 + 1, c2 + 1)} : « voir le maire »" in proc.stdout
    assert "Feuille « Notes », B2 : « Réunion du 3 mars »" in proc.stdout
    assert "Feuille « Notes », C3 : « \\x1b[2Jeffacé »" in proc.stdout and "\x1b" not in proc.stdout
    assert "Valeurs non reprises : 3" in proc.stdout
    assert out.exists() and _sha(path) == sha
    assert _findings(out) == _findings(base)  # everything else carried


def _visa_column(rows):
    """An edit adding a « Visa » column to the right of the plan's table, « ok DDTM » typed in it:
    `rows(first, last)` of the table gives (its new last row, the row of the visa)."""
    def edit(wb):
        from openpyxl.worksheet.table import TableColumn

        ws, t = table_of(wb, FIN.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        last, visa = rows(r1, r2)
        t.ref = f"{a1(r1, c1)}:{a1(last, c2 + 1)}"
        t.tableColumns.append(TableColumn(id=c2 - c1 + 2, name="Visa"))
        ws.cell(r1, c2 + 1, "Visa")
        ws.cell(visa, c2 + 1, "ok DDTM")
    return edit


def test_an_extra_column_of_a_table_is_reported_cell_by_cell(base, tmp_path):
    path = edited_copy(base, tmp_path / "visa.xlsx", _visa_column(lambda r1, r2: (r2, r1 + 1)))
    ws, t = table_of(openpyxl.load_workbook(base), FIN.name)
    c1, r1, c2, r2 = range_boundaries(t.ref)
    mig = migration.migrate(path)
    got = {(u.sheet, u.cell, u.value) for u in mig.uncarried}
    assert got == {(FIN.sheet, a1(r1, c2 + 1), "Visa"), (FIN.sheet, a1(r1 + 1, c2 + 1), "ok DDTM")}
    assert all("« Visa »" in u.reason for u in mig.uncarried)


def test_unusable_input_is_exit_2(tmp_path):
    text = tmp_path / "notes.xlsx"
    text.write_text("pas un classeur", encoding="utf-8")
    proc = acv("migrer", text, "-o", tmp_path / "a.xlsx")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("acv-xl : le fichier « notes.xlsx »"), proc.stderr  # lower case after the colon
    other = tmp_path / "autre.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Budget 2025"
    wb.active["B1"] = 12
    wb.save(other)
    proc = acv("migrer", other, "-o", tmp_path / "b.xlsx")
    assert proc.returncode == 2 and "aucun tableau" in proc.stderr
    assert not (tmp_path / "a.xlsx").exists() and not (tmp_path / "b.xlsx").exists()


def test_never_onto_its_input_nor_over_an_existing_file(base, tmp_path):
    src = tmp_path / "arras.xlsx"
    src.write_bytes(base.read_bytes())
    sha = _sha(src)
    for args in (("-o", src), ("-o", src, "--remplacer"), ("-o", tmp_path / "." / "arras.xlsx", "--remplacer")):
        proc = acv("migrer", src, *args)
        assert proc.returncode == 2 and "aussi un fichier lu par cette commande" in proc.stderr, proc.stderr
        assert _sha(src) == sha
    other = tmp_path / "calais.xlsx"
    other.write_bytes(base.read_bytes())
    sha_other = _sha(other)
    proc = acv("migrer", src, "-o", other)
    assert proc.returncode == 2 and "--remplacer" in proc.stderr
    assert _sha(other) == sha_other
    assert acv("migrer", src, "-o", other, "--remplacer").returncode == 0
    assert _findings(other) == _findings(src)
    proc = acv("migrer", src, "-o", tmp_path / "migre.json")
    assert proc.returncode == 2 and ".xlsx" in proc.stderr


def test_every_template_version_comes_with_its_migration():
    versions = [v for v, _ in layout.TEMPLATE_VERSIONS]
    assert versions[-1] == layout.TEMPLATE_VERSION
    assert set(layout.KNOWN_VERSIONS) == set(versions)
    assert all(text.strip() for _, text in layout.TEMPLATE_VERSIONS)
    # each version but the current one has the step that brings it to the next
    assert set(migration.STEPS) == set(versions[:-1])


def test_an_older_version_is_stepped_to_the_current_one(base, tmp_path, monkeypatch):
    """The mechanism a future version uses: a workbook of the version before gets its step."""
    monkeypatch.setattr(layout, "TEMPLATE_VERSIONS", (("2025.1", "Ancienne version fictive."),
                                                      *layout.TEMPLATE_VERSIONS))

    def step(conv):  # say 2025.1 spelled the status « Obtenu » where 2026.1 says « Acquis »
        for lf in conv.financements:
            if lf.raw.get("statut") == "Obtenu":
                lf.raw["statut"] = "Acquis"
                lf.statut = "Acquis"
                lf.problems.pop("statut", None)
    monkeypatch.setitem(migration.STEPS, "2025.1", step)

    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        j = FIN.headers.index(FIN.header("statut"))
        for r in range(r1 + 1, r2 + 1):
            if ws.cell(r, c1 + j).value == "Acquis":
                ws.cell(r, c1 + j, "Obtenu")
        name = wb.defined_names["acv_version_modele"]
        (sheet, ref), = list(name.destinations)
        wb[sheet][ref.replace("$", "")] = "2025.1"
    old = edited_copy(base, tmp_path / "ancien.xlsx", edit)
    mig = migration.migrate(old)
    assert mig.steps == [v for v, _ in layout.TEMPLATE_VERSIONS][:-1] and mig.steps[0] == "2025.1"
    assert mig.version == "2025.1"
    out = migration.write(mig, tmp_path / "nouveau.xlsx")
    assert read_file(out).value("acv_version_modele") == layout.TEMPLATE_VERSION
    assert _findings(out) == _findings(base)


def test_a_report_of_acv_xl_is_not_migrated(tmp_path, base):
    conso = tmp_path / "c.xlsx"
    assert acv("consolider", base, "-o", conso).returncode in (0, 1)
    proc = acv("migrer", conso, "-o", tmp_path / "m.xlsx")
    assert proc.returncode == 2 and "classeur consolidé" in proc.stderr and "rien à migrer" in proc.stderr
    assert not (tmp_path / "m.xlsx").exists()


def test_a_2026_1_workbook_is_told_to_migrate_and_migrates_to_the_current_template(base, tmp_path):
    def edit(wb):
        (sheet, ref), = list(wb.defined_names["acv_version_modele"].destinations)
        wb[sheet][ref.replace("$", "")] = "2026.1"
    old = edited_copy(base, tmp_path / "v2026_1.xlsx", edit)
    before = validate_file(old)
    str05 = [f for f in before.findings if f.code == "STR-05"]
    assert [f.gravite.value for f in str05] == ["avertissement"] and "migrer" in str05[0].suggestion
    out = tmp_path / "v2026_2.xlsx"
    assert acv("migrer", old, "-o", out).returncode == 0
    assert read_file(out).value("acv_version_modele") == layout.TEMPLATE_VERSION == "2026.2"
    assert _findings(out) == _findings(base)  # STR-05 gone, nothing else moved


def test_excel_errors_and_uncomputed_formulas_are_carried_as_such(tmp_path):
    from acv_xl.contract.values import ExcelError, NoCachedValue

    conv = clean()
    conv.financements[0].raw["montant"] = ExcelError("#REF!")
    conv.actions[0].raw["cout_total"] = NoCachedValue("=1000+1000")
    path = tmp_path / "erreurs.xlsx"
    build_workbook(path, conv)
    codes = {f.code for f in validate_file(path).findings}
    assert {"STR-06", "STR-07"} <= codes
    out = migration.write(migration.migrate(path), tmp_path / "migre.xlsx")
    assert _findings(out) == _findings(path)


def test_a_validated_workbook_stays_validated(base, tmp_path):
    validated = tmp_path / "valide.xlsx"
    assert acv("valider", base, "--annoter", validated).returncode == 0
    assert validate_file(validated).etat == "validé"
    out = tmp_path / "migre.xlsx"
    proc = acv("migrer", validated, "-o", out)
    assert proc.returncode == 0, proc.stdout
    report = validate_file(out)
    assert report.etat == "validé" and report.empreinte == validate_file(validated).empreinte
    # the validated data comes along (hidden sheet): a later edit is still explained
    wb = openpyxl.load_workbook(out)
    assert wb[layout.SNAPSHOT_SHEET].sheet_state == "hidden"
    edited = tmp_path / "modifie.xlsx"

    def edit(book):
        ws = book["Plan de financement"]
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, (int, float)) and c.value > 10_000:  # an amount, not a year
                    c.value = c.value + 1000
                    return

    book = openpyxl.load_workbook(out)
    edit(book)
    book.save(edited)
    again = validate_file(edited, depuis_validation=True)
    assert again.etat == "modifié depuis la validation", again.etat
    assert again.depuis_validation is not None and len(again.depuis_validation.changes) == 1, again.depuis_validation_motif


@pytest.mark.libreoffice
def test_examples_saved_by_libreoffice_migrate_with_the_same_findings(examples, tmp_path):
    from acv_xl.outputs import libreoffice

    if libreoffice.soffice() is None:
        pytest.fail(libreoffice.INSTALL_HINT)
    saved = libreoffice.convert(examples, "xlsx", tmp_path / "lo")
    for path in saved:
        out = tmp_path / f"migre-{path.name}"
        mig = migration.migrate(path)
        migration.write(mig, out)
        assert mig.uncarried == [], (path.name, mig.uncarried[:3])
        assert _findings(out) == _findings(path), path.name
        assert validate_file(out).totaux == validate_file(path).totaux, path.name
        assert _buttons(out) == {b.shape for b in layout.BUTTONS}


def test_a_sheet_stretched_to_the_last_cell_is_refused_without_reading_it(base, tmp_path):
    path = edited_copy(base, tmp_path / "etire.xlsx", lambda wb: wb[layout.Sheet.GOUVERNANCE].cell(1_048_576, 16_384, "x"))
    proc = acv("migrer", path, "-o", tmp_path / "migre.xlsx", timeout=60)
    assert proc.returncode == 2 and "XFD1048576" in proc.stderr, proc.stderr
    assert not (tmp_path / "migre.xlsx").exists()


def test_a_renamed_header_is_carried_under_the_template_header(base, tmp_path):
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        j = FIN.headers.index(FIN.header("montant"))
        ws.cell(r1, c1 + j, "Montant (EUR)")  # as an older template could have spelled it
        t.tableColumns[j].name = "Montant (EUR)"
    path = edited_copy(base, tmp_path / "entete.xlsx", edit)
    assert any(f.code == "STR-04" for f in validate_file(path).findings)
    out = tmp_path / "migre.xlsx"
    assert acv("migrer", path, "-o", out).returncode == 0
    assert _findings(out) == _findings(base)
    assert validate_file(out).totaux == validate_file(base).totaux


def test_a_table_stretched_to_the_last_row_is_migrated_without_visiting_each_position(base, tmp_path):
    """Whole columns formatted as a table: T_Financements down to row 1 048 576, its real lines at the
    top. Every position of the table was visited to account for its cells — 10 million, 9 s and 1,5 GB
    for 36 lines; only the cells holding something are now. A visa typed in an extra column far down
    is still reported at its cell."""
    path = edited_copy(base, tmp_path / "etire.xlsx", _visa_column(lambda r1, r2: (1_048_576, 5_000)))
    # the same cells, the table ending at the visa: what the migration costs without the stretch
    short = edited_copy(base, tmp_path / "court.xlsx", _visa_column(lambda r1, r2: (5_000, 5_000)))
    ws, t = table_of(openpyxl.load_workbook(base), FIN.name)
    c1, r1, c2, _r2 = range_boundaries(t.ref)
    migrated = []
    ratio = growth(lambda: migration.migrate(short), lambda: migrated.append(migration.migrate(path)), rounds=2)
    assert ratio < 3, f"{ratio:.1f} fois le temps du tableau non étiré (9 s avant)"
    mig = migrated[0]
    assert [(u.sheet, u.cell, u.value) for u in mig.uncarried] == [
        (FIN.sheet, a1(r1, c2 + 1), "Visa"), (FIN.sheet, a1(5_000, c2 + 1), "ok DDTM")]
    assert [(lf.numero, lf.montant) for lf in mig.conv.financements] == \
        [(lf.numero, lf.montant) for lf in read_file(base).financements]
