"""STR-09: a value typed right outside a user table — in the rows below it (within its columns, down
to the first blank row) or in the column to its right — is an error at its cell, and is counted in
no total. Found the same way from the file, from the Excel « Valider » payload, after a LibreOffice
round-trip, and highlighted by `valider --annoter`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acceptance_support import acv, edited_copy, table_of
from acv_xl.checks.validate import validate_file
from acv_xl.contract import layout
from acv_xl.outputs import libreoffice
from acv_xl.outputs.examples import FAUTES_ATTENDUES, write_examples
from acv_xl.outputs.formats import FILL_ERREUR
from acv_xl.outputs.template import build_workbook
from acv_xl.reading.read import read_file
from acv_xl.reading.source import a1
from conventions import clean

USER_TABLES = [t for t in layout.TABLES if t.user_filled]
FIN = layout.T_FINANCEMENTS


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("base") / "propre.xlsx"
    build_workbook(path, clean())
    return path


def _box(wb, table: layout.Table) -> tuple[object, int, int, int, int]:
    ws, t = table_of(wb, table.name)
    c1, r1, c2, r2 = range_boundaries(t.ref)
    return ws, r1, c1, r2, c2


def _stray_value(table: layout.Table, j: int):
    """A plausible value for column j of the table (an amount where the table holds amounts)."""
    kind = table.columns[j].kind
    return 125000 if kind is layout.Kind.AMOUNT else 2025 if kind is layout.Kind.YEAR else f"ajout {j + 1}"


def _line_below(table: layout.Table, gap: int = 0):
    """Edit: a full line typed `gap` rows below the table's last row (0: the row right below)."""
    def edit(wb):
        ws, _r1, c1, r2, _c2 = _box(wb, table)
        for j in range(len(table.columns)):
            ws.cell(r2 + 1 + gap, c1 + j, _stray_value(table, j))
    return edit


def _stray_findings(report) -> set[tuple[str, str]]:
    return {(f.feuille, f.cellule) for f in report.findings if f.code == "STR-09"}


@pytest.mark.parametrize("table", USER_TABLES, ids=lambda t: t.name)
def test_a_line_below_each_user_table_is_an_error_at_its_cell(table, base, tmp_path):
    wb = openpyxl.load_workbook(base)
    _ws, _r1, c1, r2, _c2 = _box(wb, table)
    path = edited_copy(base, tmp_path / "ligne.xlsx", _line_below(table))
    conv = read_file(path)
    cells = [(s.table, s.sheet, s.cell, s.right) for s in conv.stray_cells]
    assert cells == [(table.name, table.sheet, a1(r2 + 1, c1 + j), False) for j in range(len(table.columns))]
    # the line is not read into the table: the model has the same rows as before
    assert len(conv.rows(table.name)) == len(read_file(base).rows(table.name))
    report = validate_file(path)
    assert _stray_findings(report) == {(table.sheet, a1(r2 + 1, c1))}
    (f,) = [f for f in report.findings if f.code == "STR-09"]
    assert f.gravite.value == "erreur" and table.name in f.message
    assert "Redimensionner le tableau" in f.suggestion and "Définir la plage" in f.suggestion
    assert report.exit_code == 1


def _partial_in_totals_row(table: layout.Table):
    """Edit: the totals row turned on (Création de tableau › Ligne de total) and, in it, two of the table's
    required columns typed, or its first number column alone (« Coût total (€) », « Population »…)."""
    numbers = [j for j, c in enumerate(table.columns) if c.kind in (layout.Kind.AMOUNT, layout.Kind.NUMBER)]
    typed = numbers[:1] or [j for j, c in enumerate(table.columns) if c.required][:2]

    def edit(wb):
        ws, t = table_of(wb, table.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        t.ref = f"{a1(r1, c1)}:{a1(r2 + 1, c2)}"
        t.totalsRowCount = 1
        for j in typed:
            ws.cell(r2 + 1, c1 + j, 987_654.32 if j in numbers else _stray_value(table, j))
    return edit, typed


@pytest.mark.parametrize("table", USER_TABLES, ids=lambda t: t.name)
def test_a_partial_line_in_the_totals_row_of_each_user_table_is_an_error_at_its_cell(table, base, tmp_path):
    """A cost, a population, an amount alone — or two required cells — typed into a table's totals row
    was counted nowhere beside « aucune erreur »: no totals function of its lines gives it."""
    edit, typed = _partial_in_totals_row(table)
    path = edited_copy(base, tmp_path / "total.xlsx", edit)
    _ws, _r1, c1, r2, _c2 = _box(openpyxl.load_workbook(base), table)
    report = validate_file(path)
    (f,) = [f for f in report.findings if f.code == "STR-09"]
    assert (f.feuille, f.cellule) == (table.sheet, a1(r2 + 1, c1 + typed[0]))
    assert f"saisie dans la ligne de total du tableau « {table.name} »" in f.message
    kind = table.columns[typed[0]].kind
    assert ("987 654,32 €" if kind is layout.Kind.AMOUNT else "987 654,32" if kind is layout.Kind.NUMBER
            else _stray_value(table, typed[0])) in f.message
    assert report.exit_code == 1
    from udfs.scripts import EXCLUDE, run_valider
    from xlwings_payload import payload_from_xlsx, remote_book

    excel = run_valider(remote_book(payload_from_xlsx(path, exclude=EXCLUDE)), today=date(2026, 11, 26))
    assert [(g.code, g.cellule, g.message) for g in excel.findings if g.code == "STR-09"] == \
        [(f.code, f.cellule, f.message)]


def test_a_financing_line_below_the_table_is_counted_in_no_total(base, tmp_path):
    path = edited_copy(base, tmp_path / "ligne.xlsx", _line_below(FIN))
    before, after = validate_file(base), validate_file(path)
    assert before.totaux == after.totaux
    assert not _stray_findings(before)
    (f,) = [f for f in after.findings if f.code == "STR-09"]
    assert f.action == "ajout 1"  # the line's N° action, as for any other financing line
    assert "Montant (€) : 125 000,00 €" in f.message  # an amount read as the user reads amounts


def test_a_huge_number_outside_a_table_is_quoted_as_excel_shows_it(base, tmp_path):
    """1E+300 typed as a montant below the plan, or right of the actions, was quoted in its 301 digits (grouped:
    « 1 000 000 … 000,00 € »; as a code, the float's digits « 10000000000000000525047… »): as Excel shows it."""
    def edit(wb):
        ws, _r1, c1, r2, _c2 = _box(wb, FIN)
        ws.cell(r2 + 1, c1, "1.1")
        ws.cell(r2 + 1, c1 + FIN.columns.index(next(c for c in FIN.columns if c.attr == "montant")), 1e300)
        ws, r1, _c1, _r2, c2 = _box(wb, layout.T_ACTIONS)
        ws.cell(r1 + 1, c2 + 1, -1e20)
    path = edited_copy(base, tmp_path / "enorme.xlsx", edit)
    messages = [f.message for f in validate_file(path).findings if f.code == "STR-09"]
    assert any(f"{FIN.header('montant')} : 1E+300" in m for m in messages), messages
    assert any("Une valeur (« -1E+20 ») est saisie" in m for m in messages), messages
    assert not any("000 000" in m or "00000" in m for m in messages), messages


def test_a_code_typed_as_a_number_below_a_table_reads_as_typed(base, tmp_path):
    table = layout.T_COMMUNES
    def edit(wb):
        ws, _r1, c1, r2, _c2 = _box(wb, table)
        ws.cell(r2 + 1, c1, 62041)  # Code INSEE, typed as a number
    path = edited_copy(base, tmp_path / "ligne.xlsx", edit)
    (f,) = [f for f in validate_file(path).findings if f.code == "STR-09"]
    assert "Code INSEE : 62041" in f.message, f.message


def test_a_value_in_the_column_right_of_a_table(base, tmp_path):
    def edit(wb):
        ws, r1, _c1, r2, c2 = _box(wb, layout.T_ACTIONS)
        ws.cell(r1 + 1, c2 + 1, "à revoir")
        ws.cell(r2, c2 + 1, 42)
        ws.cell(r2, c2 + 2, "deux colonnes plus loin : pas à la suite du tableau")
    path = edited_copy(base, tmp_path / "droite.xlsx", edit)
    wb = openpyxl.load_workbook(base)
    _ws, r1, _c1, r2, c2 = _box(wb, layout.T_ACTIONS)
    conv = read_file(path)
    assert [(s.cell, s.right) for s in conv.stray_cells] == [(a1(r1 + 1, c2 + 1), True), (a1(r2, c2 + 1), True)]
    report = validate_file(path)
    assert _stray_findings(report) == {(layout.T_ACTIONS.sheet, a1(r1 + 1, c2 + 1))}
    (f,) = [f for f in report.findings if f.code == "STR-09"]
    assert "2 valeurs" in f.message and a1(r2, c2 + 1) in f.message


def test_a_blank_row_ends_the_search(base, tmp_path):
    def edit(wb):
        ws, _r1, c1, r2, _c2 = _box(wb, FIN)
        ws.cell(r2 + 1, c1 + 5, 1000)  # right below: stray
        ws.cell(r2 + 2, c1, "1.1")  # the row after it: stray too (same block)
        ws.cell(r2 + 4, c1, "Total")  # after a blank row: the user's own note, not stray
        ws.cell(r2 + 4, c1 + 5, 99999)
    path = edited_copy(base, tmp_path / "bloc.xlsx", edit)
    _ws, _r1, c1, r2, _c2 = _box(openpyxl.load_workbook(base), FIN)
    assert [s.cell for s in read_file(path).stray_cells] == [a1(r2 + 1, c1 + 5), a1(r2 + 2, c1)]
    assert _stray_findings(validate_file(path)) == {(FIN.sheet, a1(r2 + 1, c1 + 5)), (FIN.sheet, a1(r2 + 2, c1))}

    note = edited_copy(base, tmp_path / "note.xlsx", lambda wb: _note_after_gap(wb, required_but_one=True))
    assert read_file(note).stray_cells == []
    assert validate_file(note).exit_code == 0


def _note_after_gap(wb, required_but_one: bool):
    """After a blank row: a line filling every required column of the plan but one (a note, however
    long), or every one of them (a line of data)."""
    ws, _r1, c1, r2, _c2 = _box(wb, FIN)
    required = [j for j, col in enumerate(FIN.columns) if col.required]
    for j in required[1:] if required_but_one else required:
        ws.cell(r2 + 3, c1 + j, _stray_value(FIN, j))


@pytest.mark.parametrize("table", USER_TABLES, ids=lambda t: t.name)
def test_a_line_of_data_after_a_blank_row_is_an_error_too(table, base, tmp_path):
    """A blank row keeps a note or a total apart, not a line filling every required column: typed
    apart, it was counted nowhere while the verdict said « aucune erreur »."""
    path = edited_copy(base, tmp_path / "apart.xlsx", _line_below(table, gap=2))
    _ws, _r1, c1, r2, _c2 = _box(openpyxl.load_workbook(base), table)
    conv = read_file(path)
    assert [(s.cell, s.detached) for s in conv.stray_cells] == \
        [(a1(r2 + 3, c1 + j), True) for j in range(len(table.columns))]
    assert len(conv.rows(table.name)) == len(read_file(base).rows(table.name))
    report = validate_file(path)
    (f,) = [f for f in report.findings if f.code == "STR-09"]
    assert (f.feuille, f.cellule) == (table.sheet, a1(r2 + 3, c1)) and report.exit_code == 1
    assert "après une ligne vide" in f.message and "toutes les colonnes obligatoires" in f.message
    # the same from the Excel « Valider » payload
    from udfs.scripts import INCLUDE, run_valider
    from xlwings_payload import payload_from_xlsx, remote_book

    excel = run_valider(remote_book(payload_from_xlsx(path, include=INCLUDE)))
    assert [(g.code, g.cellule) for g in excel.findings if g.code == "STR-09"] == [("STR-09", f.cellule)]


def test_a_line_of_data_after_a_blank_row_of_the_plan_is_said_not_counted(base, tmp_path):
    path = edited_copy(base, tmp_path / "apart.xlsx", lambda wb: _note_after_gap(wb, required_but_one=False))
    assert {s.detached for s in read_file(path).stray_cells} == {True}
    before = validate_file(path)
    assert before.totaux.financement_total == validate_file(base).totaux.financement_total  # counted nowhere
    assert before.exit_code == 1


def test_a_note_after_a_blank_row_under_a_table_of_two_required_columns_stays_allowed(base, tmp_path):
    """T_Indicateurs requires only « N° action » and « Indicateur », its first two columns: a note
    typed there after a blank row (« Source : » | « INSEE, recensement 2020 ») fills both, yet is the
    note the blank row keeps apart — it made the verdict « erreurs à corriger » (status 1)."""
    table = layout.T_INDICATEURS

    def edit(wb):
        ws, _r1, c1, r2, _c2 = _box(wb, table)
        ws.cell(r2 + 3, c1, "Source :")
        ws.cell(r2 + 3, c1 + 1, "INSEE, recensement 2020")
    path = edited_copy(base, tmp_path / "note.xlsx", edit)
    assert read_file(path).stray_cells == []
    assert validate_file(path).exit_code == validate_file(base).exit_code == 0


@pytest.mark.parametrize("gap", [0, 1], ids=["juste-dessous", "apres-une-ligne-vide"])
def test_a_second_table_typed_by_hand_below_reports_its_lines_not_its_headers(base, tmp_path, gap):
    """A small plan typed by hand under T_Financements, with the same headers but no table object: its
    header row was reported as a line of data (« N° action : N° action ; Financeur : Financeur… ») and
    `migrer` carried it into the table as a financing line. Its lines are reported, each at its cell."""
    def edit(wb):
        ws, _r1, c1, r2, _c2 = _box(wb, FIN)
        for j, h in enumerate(FIN.headers):
            ws.cell(r2 + 1 + gap, c1 + j, h)
        for i, (fin, amount) in enumerate([("ETAT", 750000), ("REGION", 250000)], start=2 + gap):
            for j, v in enumerate(["3.1", fin, None, "Subvention", 2025, amount, "Acquis"]):
                ws.cell(r2 + i, c1 + j, v)

    path = edited_copy(base, tmp_path / "a-la-main.xlsx", edit)
    _ws, _r1, c1, r2, _c2 = _box(openpyxl.load_workbook(base), FIN)
    report = validate_file(path)
    found = [f for f in report.findings if f.code == "STR-09"]
    assert [f.cellule for f in found] == [a1(r2 + 2 + gap, c1), a1(r2 + 3 + gap, c1)]
    assert "N° action : N° action" not in " ".join(f.message for f in found)
    assert "750 000,00 €" in found[0].message and "250 000,00 €" in found[1].message
    from udfs.scripts import EXCLUDE, run_valider
    from xlwings_payload import payload_from_xlsx, remote_book

    excel = run_valider(remote_book(payload_from_xlsx(path, exclude=EXCLUDE)), today=date(2026, 11, 26))
    assert [(g.code, g.cellule, g.message) for g in excel.findings] == \
        [(g.code, g.cellule, g.message) for g in report.findings]
    out = tmp_path / "migre.xlsx"
    proc = acv("migrer", path, "-o", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    migrated = validate_file(out)
    assert not [f for f in migrated.findings if f.code in ("STR-09", "FIN-02", "FIN-04")]  # no header line
    assert len(migrated.convention.financements) == len(validate_file(base).convention.financements) + 2
    assert migrated.totaux.financement_total == validate_file(base).totaux.financement_total + 1_000_000


@pytest.mark.parametrize("n", [2, 17, 18, 40])  # across the reads: 1 row, then 16 at a time
def test_a_long_pasted_block_is_found_whole(base, tmp_path, n):
    def edit(wb):
        ws, _r1, c1, r2, _c2 = _box(wb, FIN)
        for i in range(n):  # longer than the rows read at a time
            ws.cell(r2 + 1 + i, c1, f"{i}")
    path = edited_copy(base, tmp_path / "bloc.xlsx", edit)
    assert len(read_file(path).stray_cells) == n


def _every_table_with_a_line_below(base: Path, dst: Path) -> tuple[Path, set[tuple[str, str]]]:
    expected = set()
    wb = openpyxl.load_workbook(base)
    for table in USER_TABLES:
        _ws, _r1, c1, r2, _c2 = _box(wb, table)
        expected.add((table.sheet, a1(r2 + 1, c1)))

    def edit(wb):
        for table in USER_TABLES:
            _line_below(table)(wb)
    return edited_copy(base, dst, edit), expected


def test_the_excel_button_finds_the_same_cells(base, tmp_path):
    from udfs import scripts
    from xlwings_payload import payload_from_xlsx, remote_book

    path, expected = _every_table_with_a_line_below(base, tmp_path / "partout.xlsx")
    assert _stray_findings(validate_file(path)) == expected
    book = remote_book(payload_from_xlsx(path, include=scripts.INCLUDE))
    report = scripts.run_valider(book, today=date(2026, 11, 26))
    assert _stray_findings(report) == expected
    cli = {(f.feuille, f.cellule, f.message) for f in validate_file(path).findings if f.code == "STR-09"}
    assert {(f.feuille, f.cellule, f.message) for f in report.findings if f.code == "STR-09"} == cli


def test_annoter_highlights_the_stray_line(base, tmp_path):
    path = edited_copy(base, tmp_path / "ligne.xlsx", _line_below(FIN))
    out = tmp_path / "annote.xlsx"
    proc = acv("valider", str(path), "--annoter", str(out))
    assert proc.returncode == 1, proc.stderr
    _ws, _r1, c1, r2, _c2 = _box(openpyxl.load_workbook(base), FIN)
    cell = openpyxl.load_workbook(out)[FIN.sheet][a1(r2 + 1, c1)]
    assert cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb.upper().endswith(FILL_ERREUR.lstrip("#").upper())


def test_the_examples_have_nothing_outside_their_tables(tmp_path):
    for path in write_examples(tmp_path):
        report = validate_file(path)
        assert report.convention.stray_cells == [], path.name
        assert path.name in FAUTES_ATTENDUES or report.exit_code == 0, path.name


@pytest.mark.libreoffice
def test_found_after_a_libreoffice_round_trip(base, tmp_path):
    if libreoffice.soffice() is None:
        pytest.fail(libreoffice.INSTALL_HINT)
    path, expected = _every_table_with_a_line_below(base, tmp_path / "partout.xlsx")
    (saved,) = libreoffice.convert(path, "xlsx", tmp_path / "lo")
    report = validate_file(saved)
    assert _stray_findings(report) == expected
    assert report.totaux.financement_total == validate_file(base).totaux.financement_total
    assert report.totaux.financement_total != Decimal(0)


def test_the_consolidation_lists_it_in_its_anomalies(base, tmp_path):
    folder = tmp_path / "dossier"
    folder.mkdir()
    path = edited_copy(base, folder / "ligne.xlsx", _line_below(FIN))
    out = tmp_path / "conso.xlsx"
    proc = acv("consolider", str(folder), "-o", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    ws = openpyxl.load_workbook(out)["Anomalies"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    head = next(i for i, r in enumerate(rows) if "Code" in r)
    idx = {h: j for j, h in enumerate(rows[head])}
    found = {(r[idx["Feuille"]], r[idx["Cellule"]]) for r in rows[head + 1:] if r[idx["Code"]] == "STR-09"}
    assert found == _stray_findings(validate_file(path)) and len(found) == 1


def _validated(tmp_path):
    """(convention, workbook) of the clean plan, validated: its status, date and fingerprint set."""
    from acv_xl.checks.fingerprint import fingerprint

    conv = clean()
    conv.set_value("acv_statut", layout.L.STATUT_VALIDATION[1])
    conv.set_value("acv_date_validation", date(2026, 3, 2))
    conv.set_value("acv_empreinte", fingerprint(conv))
    validated = tmp_path / "valide.xlsx"
    build_workbook(validated, conv)
    return conv, validated


def test_a_line_typed_below_the_plan_after_validation_makes_it_modified(tmp_path):
    """The fingerprint covers what was typed outside a table, only when there is some: a validated
    workbook stays « validé » (its fingerprint unchanged), and turns « modifié depuis la validation »
    as soon as a line is typed below the plan or a value to the right of a table."""
    from acv_xl.checks.fingerprint import fingerprint
    from acv_xl.checks.validate import ETAT_MODIFIE, ETAT_VALIDE

    conv, validated = _validated(tmp_path)
    assert validate_file(validated).etat == ETAT_VALIDE
    below = validate_file(edited_copy(validated, tmp_path / "dessous.xlsx", _line_below(FIN)))
    assert below.etat == ETAT_MODIFIE and _stray_findings(below)

    def right(wb):
        ws, r1, _c1, _r2, c2 = _box(wb, layout.T_ACTIONS)
        ws.cell(r1 + 1, c2 + 1, "à revoir")
    beside = validate_file(edited_copy(validated, tmp_path / "droite.xlsx", right))
    assert beside.etat == ETAT_MODIFIE
    # another stray value is another fingerprint; the fast serialisation still is the reference one
    assert len({below.empreinte, beside.empreinte, fingerprint(conv)}) == 3
    import json

    from acv_xl.checks.fingerprint import canonical_data, canonical_json

    read = read_file(tmp_path / "dessous.xlsx")
    assert canonical_json(read) == json.dumps(canonical_data(read), ensure_ascii=False, sort_keys=True,
                                              separators=(",", ":"))
    import hashlib

    assert read.stray_cells and fingerprint(read) == hashlib.sha256(canonical_json(read).encode("utf-8")).hexdigest()


def test_a_montant_typed_into_the_totals_row_after_validation_makes_it_modified(tmp_path):
    """A validated plan, its totals row then shown (« Total », the Somme): still « validé ». A montant then
    typed into that row stayed « validé » too — neither counted nor in the fingerprint."""
    from acv_xl.checks.validate import ETAT_MODIFIE, ETAT_VALIDE

    conv, validated = _validated(tmp_path)
    total = float(sum(lf.montant for lf in conv.financements))
    montant = list(FIN.headers).index(FIN.header("montant"))

    def totals_row(typed: dict[int, object]):
        def edit(wb):
            ws, t = table_of(wb, FIN.name)
            c1, r1, c2, r2 = range_boundaries(t.ref)
            t.ref = f"{a1(r1, c1)}:{a1(r2 + 1, c2)}"
            t.totalsRowCount = 1
            for j, v in {0: "Total", montant: total, **typed}.items():
                ws.cell(r2 + 1, c1 + j, v)
        return edit

    shown = validate_file(edited_copy(validated, tmp_path / "total.xlsx", totals_row({})))
    assert shown.etat == ETAT_VALIDE and not shown.findings
    typed = validate_file(edited_copy(validated, tmp_path / "saisi.xlsx",
                                      totals_row({1: "ETAT", montant: 750_000})))
    assert typed.etat == ETAT_MODIFIE and _stray_findings(typed)
