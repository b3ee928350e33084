"""Odd but legal tables, read by the Excel button « Valider » and by `acv-xl valider`: the same findings,
on the same cells, and the same totals, whichever reads them (the command line's reading is the
reference). Each workbook is a clean convention edited as a user would in Excel (through openpyxl,
which writes the same table parts); the button's payload is built as the Office.js add-in builds it
(`xlwings_payload.payload_from_xlsx`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acceptance_support import edited_copy, table_of
from acv_xl.checks.validate import validate_file
from acv_xl.contract import layout
from acv_xl.outputs.template import build_workbook
from conventions import clean
from udfs import scripts
from xlwings_payload import payload_from_xlsx, remote_book

FIN = layout.T_FINANCEMENTS
TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("base") / "propre.xlsx"
    build_workbook(path, clean())
    return path


def _key(f):
    return (f.code, f.gravite, f.feuille, f.cellule, f.action, f.message)


def _both(path: Path):
    """(the command line's report, the button's report) on one workbook."""
    cli = validate_file(path)
    button = scripts.run_valider(remote_book(payload_from_xlsx(path, exclude=scripts.EXCLUDE)), today=TODAY)
    return cli, button


def _same(cli, button) -> None:
    assert [_key(f) for f in button.findings] == [_key(f) for f in cli.findings]
    assert button.empreinte == cli.empreinte
    assert button.totaux.as_json() == cli.totaux.as_json()


# --------------------------------------------------------------------------- header row turned off
def _header_off(title: str | None = None):
    """Création de tableau › Ligne d'en-tête unticked: the table's range starts at its first line
    (headerRowCount="0"), the row of its headers becomes a plain row (empty, or a title typed there)."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        for c in range(c1, c2 + 1):
            ws.cell(r1, c).value = None
        if title is not None:
            ws.cell(r1, c1).value = title
        t.ref = f"{ws.cell(r1 + 1, c1).coordinate}:{ws.cell(r2, c2).coordinate}"
        t.headerRowCount = 0
    return edit


@pytest.mark.parametrize("title", [None, "Plan 2024"], ids=["ligne-vide", "titre-au-dessus"])
def test_a_table_with_its_header_row_turned_off_is_read_by_its_column_names(base, tmp_path, title):
    """The button took the first line for the header row: ten false STR-04 and the line lost (its
    500 000 € and more counted nowhere), while the command line read the columns' names."""
    path = edited_copy(base, tmp_path / "sans-en-tete.xlsx", _header_off(title))
    cli, button = _both(path)
    assert cli.valide and not [f for f in cli.findings if f.code == "STR-04"]
    _same(cli, button)
    full = validate_file(base)
    assert button.totaux.as_json() == full.totaux.as_json()  # every line counted, the first one too


def test_a_table_on_the_first_row_with_its_header_row_turned_off(base, tmp_path):
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        ws.delete_rows(1, r1)  # the title, the hint and the header row
        t.ref = f"{ws.cell(1, c1).coordinate}:{ws.cell(r2 - r1, c2).coordinate}"
        t.headerRowCount = 0

    path = edited_copy(base, tmp_path / "ligne-1.xlsx", edit)
    cli, button = _both(path)
    _same(cli, button)
    assert button.totaux.as_json() == validate_file(base).totaux.as_json()


def test_a_blank_header_cell_is_read_as_its_columns_name(base, tmp_path):
    """A header cell left blank by another program (Excel never leaves one): the command line takes the
    column's name from the table's definition, the button reported its column missing (STR-04)."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        ws.cell(r1, c1 + list(FIN.headers).index(FIN.header("montant"))).value = None

    path = edited_copy(base, tmp_path / "en-tete-vide.xlsx", edit)
    cli, button = _both(path)
    assert cli.valide
    _same(cli, button)


# --------------------------------------------------------------------------- the totals row
def _totals_row(values: dict[str, object]):
    """Création de tableau › Ligne de total ticked (totalsRowCount="1", the table one row longer),
    the row holding `values` by header."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        t.ref = f"{ws.cell(r1, c1).coordinate}:{ws.cell(r2 + 1, c2).coordinate}"
        t.totalsRowCount = 1
        for header, v in values.items():
            ws.cell(r2 + 1, c1 + list(FIN.headers).index(header)).value = v
    return edit


LINE = {"N° action": "3.1", "Financeur": "ETAT", "Dispositif": "DSIL", "Nature": "Subvention", "Année": 2025,
        "Montant (€)": 750000, "Statut": "Acquis"}


def test_a_financing_line_typed_into_the_totals_row_is_an_error_in_both(base, tmp_path):
    """A line typed over the totals row was read by nobody: 750 000 € counted in no total and the
    verdict « aucune erreur », from the command line and from the button alike."""
    path = edited_copy(base, tmp_path / "ligne-de-total.xlsx", _totals_row(LINE))
    cli, button = _both(path)
    _same(cli, button)
    ws, t = table_of(openpyxl.load_workbook(path), FIN.name)
    row = range_boundaries(t.ref)[3]
    found = [f for f in cli.findings if f.code == "STR-09"]
    assert [(f.feuille, f.cellule, f.action) for f in found] == [(FIN.sheet, f"A{row}", "3.1")]
    assert "saisie dans la ligne de total du tableau « T_Financements »" in found[0].message
    assert "750 000,00 €" in found[0].message and "aucun total" in found[0].message
    assert not cli.valide and not button.valide


def test_migrer_takes_the_line_of_the_totals_row_into_the_table(base, tmp_path):
    from acceptance_support import acv

    path = edited_copy(base, tmp_path / "ligne-de-total.xlsx", _totals_row(LINE))
    row = range_boundaries(table_of(openpyxl.load_workbook(path), FIN.name)[1].ref)[3]
    out = tmp_path / "migre.xlsx"
    proc = acv("migrer", path, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "Lignes saisies hors d'un tableau, intégrées au tableau : 1" in proc.stdout
    assert f"« {FIN.name} » : ligne {row} de la feuille « {FIN.sheet} » (sa ligne de total)" in proc.stdout
    migrated = validate_file(out)
    assert migrated.totaux.financement_total == validate_file(base).totaux.financement_total + 750000
    assert not [f for f in migrated.findings if f.code == "STR-09"]


def test_a_line_of_the_totals_row_keeps_the_values_a_totals_function_could_give(base, tmp_path):
    """Its year 2024 is also the Max (and the Moyenne) of the plan's years: taken for a total, it was left
    out of the line, and `migrer` carried the line without its year (FIN-04)."""
    from acceptance_support import acv

    path = edited_copy(base, tmp_path / "annee.xlsx", _totals_row({**LINE, "Année": 2024}))
    from acv_xl.reading.read import read_file

    assert 2024 in [s.value for s in read_file(path).stray_cells if s.header == "Année"]
    out = tmp_path / "migre.xlsx"
    proc = acv("migrer", path, "-o", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    migrated = validate_file(out)
    assert not [f for f in migrated.findings if f.code in ("STR-09", "FIN-04")]
    (line,) = [lf for lf in migrated.convention.financements if lf.numero == "3.1"]
    assert (line.annee, line.montant) == (2024, 750000)


def test_a_line_typed_right_below_a_totals_row_is_not_told_to_extend_the_table_over_it(base, tmp_path):
    """Below a table with a totals row, « étendez le tableau à cette ligne » would make the line its totals
    row (still counted nowhere): the suggestion says to add a line above the totals row instead."""
    def edit(wb):
        _totals_row({"N° action": "Total", "Montant (€)": 1_500_000})(wb)  # the lines' Somme
        ws, t = table_of(wb, FIN.name)
        below = range_boundaries(t.ref)[3] + 1
        for header, v in LINE.items():
            ws.cell(below, 1 + list(FIN.headers).index(header)).value = v

    path = edited_copy(base, tmp_path / "sous-la-ligne-de-total.xlsx", edit)
    cli, button = _both(path)
    _same(cli, button)
    (found,) = [f for f in cli.findings if f.code == "STR-09"]
    assert "saisie juste sous le tableau" in found.message
    assert "Si le tableau a une ligne de total, ajoutez-lui plutôt une ligne au-dessus d'elle" in found.suggestion


def test_comparer_names_the_totals_row_where_the_line_was_typed(base, tmp_path):
    from acceptance_support import acv

    path = edited_copy(base, tmp_path / "apres.xlsx", _totals_row(LINE))
    row = range_boundaries(table_of(openpyxl.load_workbook(path), FIN.name)[1].ref)[3]
    proc = acv("comparer", base, path)
    assert proc.returncode == 1, proc.stderr
    assert f"feuille « {FIN.sheet} », ligne de total {row}) : elles ne sont dans aucun tableau comparé" in proc.stdout


def test_the_totals_rows_own_label_and_totals_stay_allowed(base, tmp_path):
    """« Total », a sum, and counts (Nombre) under every text column: a totals row as Excel fills it."""
    total = sum(lf.montant for lf in validate_file(base).convention.financements)
    counts = {FIN.header(a): 7 for a in ("financeur", "dispositif", "nature", "statut")}
    path = edited_copy(base, tmp_path / "total.xlsx",
                       _totals_row({"N° action": "Total", "Année": 2024, "Montant (€)": float(total), **counts}))
    cli, button = _both(path)
    _same(cli, button)
    assert cli.valide and not cli.findings


@pytest.mark.parametrize("values, cell", [
    ({"Financeur": "ETAT", "Montant (€)": 750000}, "B"),
    ({"N° action": "Total", "Financeur": "ETAT", "Montant (€)": 750000}, "B"),
    ({"Montant (€)": 750000}, "F"),
    ({"N° action": "Total", "Montant (€)": "750 000"}, "F"),
], ids=["financeur-et-montant", "sous-le-libelle", "montant-seul", "montant-en-texte"])
def test_a_partial_line_typed_into_the_totals_row_is_an_error_in_both(base, tmp_path, values, cell):
    """Only a montant (and its financeur) typed into the totals row: it filled too few required columns
    to be taken for a line, and the 750 000 € was counted nowhere beside « aucune erreur ». No totals
    function of the lines gives 750 000 (their sum is 1 500 000): a value typed, at its own cell, the
    row's label left out."""
    path = edited_copy(base, tmp_path / "partielle.xlsx", _totals_row(values))
    cli, button = _both(path)
    _same(cli, button)
    row = range_boundaries(table_of(openpyxl.load_workbook(path), FIN.name)[1].ref)[3]
    (found,) = [f for f in cli.findings if f.code == "STR-09"]
    assert (found.feuille, found.cellule) == (FIN.sheet, f"{cell}{row}")
    assert found.message.startswith(f"La ligne {row} de la feuille « {FIN.sheet} », saisie dans la ligne de total "
                                    "du tableau « T_Financements », n'est pas une ligne du tableau, et ses valeurs ne "
                                    "sont ni le libellé de la ligne de total ni des totaux de ses colonnes (")
    assert ("750 000,00 €" if values.get("Montant (€)") == 750000 else "Montant (€) : 750 000)") in found.message
    assert "Total" not in found.message.split("(")[1]  # the row's own label is not part of the line
    if isinstance(values["Montant (€)"], str):  # a text: no total of Excel's
        assert found.suggestion.startswith("Ajoutez une ligne au tableau au-dessus de sa ligne de total")
    else:  # a total Excel computed on a filter of two criteria is told from a typed number only by its formula
        assert found.suggestion.startswith("S'il s'agit d'un total calculé par Excel (tableau filtré sur plusieurs "
                                           "critères, ou « Autres fonctions… » de la ligne de total), effacez les "
                                           "filtres avant d'enregistrer")
        assert "Sinon, ajoutez une ligne au tableau au-dessus de sa ligne de total" in found.suggestion
    assert not cli.valide and not button.valide


def test_a_line_whose_action_number_was_typed_as_a_number_in_the_totals_row(base, tmp_path):
    """« 3,1 » typed in N° action is a number for Excel: the reader took every number under a text column
    for a count (Nombre), so the line lacked its action number and was counted nowhere."""
    path = edited_copy(base, tmp_path / "numero-nombre.xlsx", _totals_row({**LINE, "N° action": 3.1}))
    cli, button = _both(path)
    _same(cli, button)
    (found,) = [f for f in cli.findings if f.code == "STR-09"]
    assert found.action == "3.1" and "(N° action : 3,1 ; Financeur : ETAT ;" in found.message
    assert "en remplit toutes les colonnes obligatoires" in found.message
    assert not cli.valide


def test_a_two_cell_line_typed_into_the_totals_row_of_a_table_of_two_required_columns(base, tmp_path):
    """T_Indicateurs has two required columns: an indicator typed into its totals row fills both with
    two cells, which was taken for the row's label and a note."""
    table = layout.T_INDICATEURS

    def edit(wb):
        ws, t = table_of(wb, table.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        t.ref = f"{ws.cell(r1, c1).coordinate}:{ws.cell(r2 + 1, c2).coordinate}"
        t.totalsRowCount = 1
        ws.cell(r2 + 1, c1).value = "2.1"
        ws.cell(r2 + 1, c1 + 1).value = "Fréquentation du marché"

    path = edited_copy(base, tmp_path / "indicateur.xlsx", edit)
    cli, button = _both(path)
    _same(cli, button)
    (found,) = [f for f in cli.findings if f.code == "STR-09"]
    assert found.feuille == table.sheet and found.action == "2.1"
    assert found.suggestion.startswith("Ajoutez une ligne au tableau")  # texts: no total of Excel's
    assert "« Fréquentation du marché »" in found.message or "Fréquentation du marché" in found.message


@pytest.mark.parametrize("values", [
    {"N° action": "Total", "Montant (€)": 1_500_000.0, "Année": 2024},  # Somme, Max
    {"Financeur": "ETAT", "Montant (€)": 900_000},  # a filter on ETAT: its label and its Somme
    {"N° action": "Sous-total 2.1", "Montant (€)": 125_000, "Financeur": 4},  # Moyenne, Nombre of 2.1
    {"N° action": "Total", "Montant (€)": 214_285.714285714},  # Moyenne of every line
    {"Montant (€)": 20_000, "Date de la demande": 0},  # Min, and Somme of a column without numbers
], ids=["somme", "filtre-etat", "filtre-action", "moyenne", "min"])
def test_the_totals_functions_results_stay_allowed(base, tmp_path, values):
    """What Excel's totals row shows, over every line or over the lines a filter on one value leaves."""
    path = edited_copy(base, tmp_path / "totaux.xlsx", _totals_row(values))
    cli, button = _both(path)
    _same(cli, button)
    assert cli.valide and not cli.findings


def test_a_line_typed_again_with_an_existing_lines_amount_in_the_totals_row(base, tmp_path):
    """80 000 € is one line's amount (EPCI): a filter leaving that line alone would show it as its
    Somme, but a second tranche of the same amount typed there is the likelier — it is reported."""
    path = edited_copy(base, tmp_path / "meme-montant.xlsx",
                       _totals_row({"Financeur": "EPCI", "Montant (€)": 80_000}))
    cli, button = _both(path)
    _same(cli, button)
    assert [f.code for f in cli.findings] == ["STR-09"]


@pytest.mark.parametrize("values, cell", [
    ({"Financeur": "ETAT", "Montant (€)": 750000}, "B"),
    ({"Montant (€)": 750000}, "F"),
    ({"N° action": 3.1, "Année": "2025", "Montant (€)": "750 000 €"}, "A"),
], ids=["financeur-et-montant", "montant-seul", "nombres-et-textes-echanges"])
def test_a_partial_line_typed_right_below_the_table_is_the_same_error_in_both(base, tmp_path, values, cell):
    """Right below the plan (no blank row): however few its cells, and whatever their types, the line
    is reported at its first cell, its amount as the user reads it — by the button as by the command line."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, _r1, _c2, r2 = range_boundaries(t.ref)
        for header, v in values.items():
            ws.cell(r2 + 1, c1 + list(FIN.headers).index(header)).value = v

    path = edited_copy(base, tmp_path / "sous-le-plan.xlsx", edit)
    cli, button = _both(path)
    _same(cli, button)
    row = range_boundaries(table_of(openpyxl.load_workbook(path), FIN.name)[1].ref)[3] + 1
    (found,) = [f for f in cli.findings if f.code == "STR-09"]
    assert (found.feuille, found.cellule) == (FIN.sheet, f"{cell}{row}")
    assert f"La ligne {row} de la feuille « {FIN.sheet} », saisie juste sous le tableau « T_Financements »" \
        in found.message
    assert ("Montant (€) : 750 000,00 €" if values["Montant (€)"] == 750000 else "Montant (€) : 750 000 €") \
        in found.message
    assert not cli.valide and cli.totaux.financement_total == validate_file(base).totaux.financement_total


# --------------------------------------------------------------------------- a renamed sheet
def test_a_renamed_sheet_is_read_by_the_button_as_by_the_command_line(base, tmp_path):
    """« Plan de financement » renamed « Plan 2024 »: the command line finds T_Financements there
    (STR-03 for the name, the lines read and summed); the add-in sent only the template's sheets,
    so the button read no plan at all (totals of 0 €, its annex empty). It now sends every sheet
    but its own annex (`scripts.EXCLUDE`, the script's `exclude`: test_server)."""
    def edit(wb):
        table_of(wb, FIN.name)[0].title = "Plan 2024"

    path = edited_copy(base, tmp_path / "renommee.xlsx", edit)
    cli, button = _both(path)
    assert [f.code for f in cli.findings] == ["STR-03"]
    _same(cli, button)
    assert button.totaux.financement_total == validate_file(base).totaux.financement_total > 0


@pytest.mark.parametrize("name", [layout.T_FINANCEURS.name, FIN.name])
def test_a_table_moved_onto_synthese_is_read_by_the_button_as_by_the_command_line(base, tmp_path, name):
    """A table cut and pasted onto Synthèse, below its totals: the command line reads it there (by its
    name, « Validé »); the add-in did not send Synthèse, and the button said the table « introuvable …
    (supprimé, renommé ou converti en plage ordinaire) » — STR-04, « Erreurs à corriger »."""
    from openpyxl.utils import get_column_letter

    def edit(wb):
        ws, t = table_of(wb, name)
        syn = wb[layout.Sheet.SYNTHESE]
        c1, r1, c2, r2 = range_boundaries(t.ref)
        top = syn.max_row + 3
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                syn.cell(top + r - r1, c).value, ws.cell(r, c).value = ws.cell(r, c).value, None
        del ws.tables[name]
        t.ref = f"{get_column_letter(c1)}{top}:{get_column_letter(c2)}{top + r2 - r1}"
        syn.add_table(t)

    path = edited_copy(base, tmp_path / "sur-la-synthese.xlsx", edit)
    cli, button = _both(path)
    assert cli.valide
    _same(cli, button)
    assert button.valide and button.totaux.as_json() == validate_file(base).totaux.as_json()


def test_controles_with_its_header_row_turned_off_is_filled_from_its_first_line(base, tmp_path):
    """The findings go to the table's own lines, and the table is resized from its own top: Excel
    refuses a new range that moves it (the row above, its former header row)."""
    def edit(wb):
        ws, t = table_of(wb, layout.T_CONTROLES.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        for c in range(c1, c2 + 1):
            ws.cell(r1, c).value = None
        t.ref = f"{ws.cell(r1 + 1, c1).coordinate}:{ws.cell(r2, c2).coordinate}"
        t.headerRowCount = 0
        ws = table_of(wb, FIN.name)[0]
        ws["F4"], ws["F5"] = "abc", "abd"  # two FIN-03

    path = edited_copy(base, tmp_path / "controles-sans-en-tete.xlsx", edit)
    payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
    book = remote_book(payload)
    report = scripts.run_valider(book, today=TODAY)
    assert [f.code for f in report.findings] == [f.code for f in validate_file(path).findings]
    n = len(report.findings)
    assert n >= 2
    sheet = [s["name"] for s in payload["sheets"]].index(layout.Sheet.CONTROLES)
    ref = next(t["range_address"] for t in payload["sheets"][sheet]["tables"] if t["name"] == layout.T_CONTROLES.name)
    top = int(ref.split(":")[0][1:])
    actions = [a for a in book.json()["actions"] if a.get("sheet_position") == sheet]
    written = [a for a in actions if a["func"] == "setValues" and a["values"] and a["values"][0][1] == report.findings[0].code]
    assert [(a["start_row"], len(a["values"])) for a in written] == [(top - 1, n)]  # (0-based rows)
    assert [a["args"][1] for a in actions if a["func"] == "resizeTable"] == [f"$A${top}:$G${top + n - 1}"]


# --------------------------------------------------------------------------- merged cells (desktop)
class _ComRange:
    """A range as xlwings gives it on the desktop, over a sheet whose merged areas are `areas`
    ((r1, c1, r2, c2)): `merge_cells` True, False, or None for a mix (COM's MergeCells)."""

    def __init__(self, areas, r1, c1, r2, c2, calls):
        self.areas, self.box, self.calls = areas, (r1, c1, r2, c2), calls

    def _area(self, r, c):
        return next((a for a in self.areas if a[0] <= r <= a[2] and a[1] <= c <= a[3]), None)

    @property
    def merge_cells(self):
        self.calls.append(self.box)
        r1, c1, r2, c2 = self.box
        # the cells of merged areas within the range (areas never overlap), counted without a pass over them
        inside = sum(max(0, min(r2, a[2]) - max(r1, a[0]) + 1) * max(0, min(c2, a[3]) - max(c1, a[1]) + 1)
                     for a in self.areas)
        return True if inside == (r2 - r1 + 1) * (c2 - c1 + 1) else False if not inside else None

    @property
    def sheet(self):
        return _ComSheet(self.areas, self.calls)

    @property
    def columns(self):
        r1, c1, r2, c2 = self.box
        return [_ComRange(self.areas, r1, c, r2, c, self.calls) for c in range(c1, c2 + 1)]

    def __iter__(self):
        r1, c1, r2, c2 = self.box
        return iter([_ComRange(self.areas, r, c, r, c, self.calls) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)])

    @property
    def merge_area(self):
        self.calls.append(self.box)
        return _ComRange(self.areas, *self._area(*self.box[:2]), self.calls)

    @property
    def address(self):
        from openpyxl.utils import get_column_letter as col

        r1, c1, r2, c2 = self.box
        return f"${col(c1)}${r1}:${col(c2)}${r2}"


class _ComSheet:
    """The sheet of `_ComRange`s: `range((r1, c1), (r2, c2))` as xlwings' `Sheet.range`."""

    def __init__(self, areas, calls):
        self.areas, self.calls = areas, calls

    def range(self, first, last=None):
        return _ComRange(self.areas, *first, *(last or first), self.calls)


def test_merged_cells_of_a_table_are_found_on_the_desktop_as_from_the_file():
    """STR-08 came only from the command line: the button's reader listed no merge. On the desktop
    (COM) it now asks Excel — one call for a table without any; the add-in's payload has none."""
    from udfs.xw_source import _merged_areas

    calls: list = []
    assert _merged_areas(_ComRange([], 3, 1, 5000, 10, calls)) == [] and len(calls) == 1
    table = _ComRange([(8, 2, 8, 3), (4, 1, 6, 1)], 3, 1, 40, 10, calls)
    assert _merged_areas(table) == ["A4:A6", "B8:C8"]  # (the findings are sorted by cell, whichever reader)




def test_merged_cells_of_a_long_column_are_found_in_a_few_calls_to_excel():
    """A merge in a column below T_Controles (or in a table) had every cell of that column asked over COM,
    twice, down to the sheet's last used row: 200 000 calls for one merge on a sheet of 100 000 rows, at
    each Valider. The column is now asked by halves, a merged cell giving its whole range."""
    from udfs.xw_source import _merged_areas

    calls: list = []
    areas = [(50_000, 2, 50_002, 3), (99_999, 2, 100_000, 2), (7, 5, 7, 7)]
    assert _merged_areas(_ComRange(areas, 3, 1, 100_000, 7, calls)) == ["E7:G7", "B50000:C50002", "B99999:B100000"]
    assert len(calls) <= 1_000  # (283: some 34 a merge and column it meets; 200 000 and more before)

@pytest.mark.parametrize("names_follow", [True, False], ids=["noms-suivis", "noms-orphelins"])
def test_a_renamed_projet_sheet_and_its_named_cells(base, tmp_path, names_follow):
    """Excel renames the sheet in the defined names too (« 'Projet ACV'!$B$4 »): the button then read the
    sheet as not sent, its named cells empty (eight false PRJ-01). A program that leaves the names on
    « Projet », a sheet the workbook has not, gave the same false PRJ-01: the file reader finds no such cell."""
    def edit(wb):
        wb[layout.Sheet.PROJET].title = "Projet ACV"
        if names_follow:
            for dn in wb.defined_names.values():
                dn.attr_text = dn.attr_text.replace(f"'{layout.Sheet.PROJET}'!", "'Projet ACV'!")

    path = edited_copy(base, tmp_path / "projet-renomme.xlsx", edit)
    cli, button = _both(path)
    assert [f.code for f in cli.findings] == ["STR-03"]
    _same(cli, button)


@pytest.mark.parametrize("name", ["acv_libelle", "acv_statut"])
def test_a_named_cell_scoped_to_its_sheet_is_read_by_the_button_as_by_the_command_line(base, tmp_path, name):
    """A name whose scope was set to its sheet (Gestionnaire de noms): the command line reads it, as Excel
    resolves it on that sheet; the button skipped every name « Feuille!nom » and said the cell
    « introuvable » (STR-04, an error), its value missing from the fingerprint (« modifié depuis la
    validation »)."""
    from openpyxl.workbook.defined_name import DefinedName

    def edit(wb):
        dn = wb.defined_names[name]
        sheet, _ = next(iter(dn.destinations))
        del wb.defined_names[name]
        wb[sheet].defined_names[name] = DefinedName(name, attr_text=dn.attr_text)

    path = edited_copy(base, tmp_path / "nom-de-feuille.xlsx", edit)
    cli, button = _both(path)
    assert cli.valide and not [f for f in cli.findings if f.code == "STR-04"]
    _same(cli, button)


@pytest.mark.parametrize("copy_first", [True, False], ids=["copie-avant", "copie-apres"])
def test_a_named_cell_scoped_to_projet_and_to_its_copy_is_read_on_projet_by_both(base, tmp_path, copy_first):
    """« Projet » copied (Déplacer ou copier > Créer une copie) and acv_id then scoped to each sheet, the
    workbook-level name gone: Excel has no single value for it. Both readers took the first in the file's
    order — the copy's « ACV999 » when the copy stands before « Projet » — and the button wrote « Validé »
    and its fingerprint to the copy the same way. The sheet the template puts the cell on is the
    convention's: read there by both, wherever the copy stands."""
    from openpyxl.workbook.defined_name import DefinedName

    def edit(wb):
        projet = wb[layout.Sheet.PROJET]
        copy = wb.copy_worksheet(projet)
        copy.title = "Projet (2)"
        copy["B4"].value = "ACV999"
        if copy_first:
            wb.move_sheet(copy, wb.index(projet) - wb.index(copy))
        dn = wb.defined_names["acv_id"]
        del wb.defined_names["acv_id"]
        for ws in (wb[copy.title], projet) if copy_first else (projet, wb[copy.title]):
            ws.defined_names["acv_id"] = DefinedName("acv_id", attr_text=dn.attr_text.replace(
                f"'{layout.Sheet.PROJET}'!", f"'{ws.title}'!").replace(f"{layout.Sheet.PROJET}!", f"'{ws.title}'!"))

    path = edited_copy(base, tmp_path / "projet-copie.xlsx", edit)
    cli, button = _both(path)
    nv = cli.convention.names["acv_id"]
    assert (nv.sheet, nv.value) == (layout.Sheet.PROJET, validate_file(base).convention.names["acv_id"].value)
    _same(cli, button)


# --------------------------------------------------------------------------- a table too large
def _stretched(last: str, lines: int = 0):
    """T_Financements resized to end at `last` (« XFD400 ») with a line of two filled cells on that row;
    or to `lines` more lines of two filled cells typed below the plan, `last` its last column (« J »)."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, r2 = range_boundaries(t.ref)
        end = f"{last}{r2 + lines}" if lines else last
        for r in range(r2 + 1, r2 + 1 + lines) if lines else [range_boundaries(last)[1]]:
            ws.cell(r, c1).value, ws.cell(r, c1 + 1).value = "9.9", "ETAT"
        t.ref = f"{ws.cell(r1, c1).coordinate}:{end}"
        t.autoFilter.ref = t.ref
    return edit


def _verdicts(path: Path):
    """(the command line's STR-01 message or None, the button's message box or None, both reports)."""
    cli = validate_file(path)
    book = remote_book(payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    button = scripts._guarded(book, lambda b: scripts.run_valider(b, today=TODAY), "Validation")
    alerts = [a["args"][0] for a in book.json()["actions"] if a["func"] == "alert"]
    refused = cli.findings[0].message + " " + cli.findings[0].suggestion if cli.etat == "illisible" else None
    return refused, alerts[0] if alerts else None, cli, button


def test_a_table_wide_to_column_xfd_is_read_by_the_button_as_by_the_command_line(base, tmp_path):
    """T_Financements resized to XFD over its 400 rows, a few of them filled: the command line reads it
    (its lines that hold something, up to the sheet's last column); the button counted every cell of its
    range, 6,5 million past its own limit of 3 million, and refused it — « Validation impossible »."""
    path = edited_copy(base, tmp_path / "large.xlsx", _stretched("XFD400"))
    refused, alert, cli, button = _verdicts(path)
    assert refused is None and alert is None
    assert [f.row for f in cli.convention.financements][-1] == 400  # the line on its last row read
    _same(cli, button)


def test_a_table_stretched_over_the_whole_sheet_is_read_by_both(base, tmp_path):
    """T_Financements resized to XFD1048576 and 400 lines of two cells typed below it: the button reads them;
    the command line counted each line as wide as the bound of its sheet's extent (702 columns, ZZ) and
    refused the file, « 435 lignes remplies de 702 colonnes, 305 370 cellules » — its lines hold 10."""
    def edit(wb):
        _stretched("J", lines=400)(wb)
        ws, t = table_of(wb, FIN.name)
        t.ref = t.autoFilter.ref = t.ref.split(":")[0] + ":XFD1048576"
    path = edited_copy(base, tmp_path / "feuille-entiere.xlsx", edit)
    refused, alert, cli, button = _verdicts(path)
    assert refused is None and alert is None
    assert len(cli.convention.financements) > 400
    _same(cli, button)


def test_a_table_excel_resized_to_xfd_naming_its_columns_is_read_by_both(base, tmp_path):
    """Excel resizing T_Financements to XFD writes a header for each new column (« Colonne11 »… up to
    XFD): each line was counted 16 384 cells wide, and a plan of 30 lines more was refused by both
    (STR-01, « 48 lignes remplies de 16 384 colonnes »). Its lines are judged as wide as their data."""
    def edit(wb):
        _stretched("J", lines=30)(wb)
        ws, t = table_of(wb, FIN.name)
        c1, r1, c2, r2 = range_boundaries(t.ref)
        for c in range(c2 + 1, 16_385):
            ws.cell(r1, c).value = f"Colonne{c}"
        t.ref = t.autoFilter.ref = f"{ws.cell(r1, c1).coordinate}:XFD{r2}"
    path = edited_copy(base, tmp_path / "colonnes.xlsx", edit)
    refused, alert, cli, button = _verdicts(path)
    assert refused is None and alert is None, refused
    assert [(lf.numero, lf.financeur) for lf in cli.convention.financements][-30:] == [("9.9", "ETAT")] * 30
    _same(cli, button)


def test_a_table_stretched_to_xfd_with_a_value_typed_far_in_column_xfd_is_refused_by_both(base, tmp_path):
    """T_Financements resized to XFD1048576 and « oups » typed in XFD, 400 rows below the plan: the command
    line, which cannot tell that sheet's filled lines apart (read region by region), refused it — « 400
    lignes de 16 384 colonnes » —, the button counted its 9 filled lines, read it and said nothing of the
    value. Both refuse it now in the same words: resizing the table, as told, leaves « oups » outside it."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        ws.cell(r1 + 400, 16_384).value = "oups"
        t.ref = t.autoFilter.ref = f"{ws.cell(r1, c1).coordinate}:XFD1048576"
    path = edited_copy(base, tmp_path / "xfd.xlsx", edit)
    refused, alert, _cli, button = _verdicts(path)
    assert refused is not None and "400 lignes de 16 384 colonnes" in refused, refused
    assert button is None and alert == "Validation impossible : " + refused[:1].lower() + refused[1:]


def test_a_table_stretched_down_past_a_formatted_cell_far_below_is_read_by_both(base, tmp_path, monkeypatch):
    """T_Financements resized to J1048576 and a number format left on J400000, empty. The command line reads
    the plan (the sheet's cells holding something end with it); Excel's used range, which the button reads,
    reaches the formatted cell: 4 million cells past the grid limit, and the button judged the table by its
    400 000 lines, « Validation impossible », where it read its filled lines before. The sheet's extent is
    its values', for both readers."""
    from udfs import xw_source

    far = 400_000

    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, c2, _r2 = range_boundaries(t.ref)
        t.ref = t.autoFilter.ref = f"{ws.cell(r1, c1).coordinate}:{ws.cell(1_048_576, c2).coordinate}"

    path = edited_copy(base, tmp_path / "format-loin.xlsx", edit)
    values = xw_source.XwSource.values

    # the formatted cell, a closed `<c r="J400000" s="…"/>`, is skipped by the file reader (a test of its
    # own); Excel's used range — the add-in's and COM's — reaches it
    def used_range(self, sheet_name):
        data = values(self, sheet_name)
        if sheet_name == FIN.sheet and len(data) < far:
            width = max(map(len, data))
            data += [[None] * width for _ in range(far - len(data))]
        return data

    monkeypatch.setattr(xw_source.XwSource, "values", used_range)
    refused, alert, cli, button = _verdicts(path)
    assert refused is None and alert is None, alert
    _same(cli, button)


def test_a_table_of_too_many_filled_cells_is_refused_by_both_in_the_same_words(base, tmp_path):
    """20 001 lines of 10 columns typed into the plan: the command line refuses it (STR-01, more than
    200 000 cells); the button, whose limit was 3 million cells, read and validated it."""
    path = edited_copy(base, tmp_path / "long.xlsx", _stretched("J", lines=20_001))
    refused, alert, _cli, button = _verdicts(path)
    assert refused is not None and "200 000 par tableau" in refused
    assert button is None and alert == "Validation impossible : " + refused[:1].lower() + refused[1:]


# --------------------------------------------------------------------------- « validé » and an error
def _validated(base: Path, tmp_path: Path) -> Path:
    """`base` as « Valider » leaves it without error: « Validé » and the fingerprint of its data."""
    empreinte = validate_file(base).empreinte

    def edit(wb):
        for name, value in (("acv_statut", "Validé"), ("acv_empreinte", empreinte)):
            sheet, cell = next(iter(wb.defined_names[name].destinations))
            wb[sheet][cell.replace("$", "")].value = value
    return edited_copy(base, tmp_path / "valide.xlsx", edit)


@pytest.mark.parametrize("sheet", [layout.Sheet.SYNTHESE, layout.Sheet.CONTROLES])
def test_a_validated_workbook_with_an_error_now_is_not_said_validated(base, tmp_path, sheet):
    """Synthèse (or Contrôles) deleted after « Valider »: the fingerprint covers the data, not them, so the
    command line said « État : validé » above « 1 erreur bloque la validation » (and the consolidation
    counted it validated, the annex printed « Validé »), while the button, on the same workbook, writes
    « Erreurs à corriger » and empties the fingerprint. A workbook with an error is « non validé » for both."""
    validated = _validated(base, tmp_path)
    assert validate_file(validated).etat == "validé"

    def edit(wb):
        del wb[sheet]
    path = edited_copy(validated, tmp_path / "sans-feuille.xlsx", edit)
    cli, button = _both(path)
    assert [f.code for f in cli.findings] == ["STR-03"]
    assert cli.etat == button.etat == "non validé"


# --------------------------------------------------------------------------- more findings than listed
def test_the_button_lists_the_findings_the_annotated_copy_lists(base, tmp_path):
    """4 000 faulty lines typed into the plan: the button wrote every one of their findings into Contrôles,
    and as many colours, in one request (past what Excel on the web takes), where `acv-xl valider
    --annoter` lists the 9 999 worst and says how many more. The button now writes the same rows, the
    last one saying the rest « ni listés ni surlignés dans ce classeur », and colours only the listed."""
    from acv_xl.outputs.annotate import MAX_ANNOTATED, within_cap

    path = edited_copy(base, tmp_path / "fautes.xlsx", _stretched("J", lines=4_000))
    payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
    book = remote_book(payload)
    report = scripts.run_valider(book, today=TODAY)
    assert len(report.findings) > MAX_ANNOTATED
    actions = book.json()["actions"]
    i = [s["name"] for s in payload["sheets"]].index(layout.Sheet.CONTROLES)
    written = [a["values"] for a in actions if a["func"] == "setValues" and a["sheet_position"] == i
               and len(a["values"]) > 1]
    expected = within_cap(report.findings)
    assert len(written) == 1 and len(written[0]) == len(expected) == MAX_ANNOTATED
    assert [r[1].lstrip("'") for r in written[0][:-1]] == [f.code for f in expected[:-1]]
    assert written[0][-1][5].startswith("… et ") and "ni listés ni surlignés dans ce classeur" in written[0][-1][5]
    listed = {(f.feuille, f.cellule) for f in expected if f.gravite.value != "information" and f.cellule}
    coloured = [a for a in actions if a["func"] == "setRangeColor"]
    assert 0 < len(coloured) <= len(listed)


# --------------------------------------------------------------------------- a time in a date column
def test_a_time_alone_in_a_date_column_is_no_date_for_either(base, tmp_path):
    """« 12:30 » typed in « Date de la demande »: the file reader reads a time (FIN-17, « n'est pas une
    date »); Office.js sends it dated 30/12/1899, and the button took that for a date (« aucune erreur »)."""
    from datetime import time

    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        cell = ws.cell(r1 + 1, c1 + list(FIN.headers).index(FIN.header("date_demande")))
        cell.value, cell.number_format = time(12, 30), "hh:mm"

    path = edited_copy(base, tmp_path / "heure.xlsx", edit)
    cli, button = _both(path)
    assert [(f.code, f.message.split(" : ", 1)[1]) for f in cli.findings] == [
        ("FIN-17", "« Date de la demande » n'est pas une date : une heure seule (« 12:30 ») ou un nombre négatif, "
                   "qu'Excel affiche « ### » au format date."),
    ]
    assert [_key(f) for f in button.findings] == [_key(f) for f in cli.findings]
    # and the function ACV_CONTROLE, given the plan as Office.js passes it, says the same
    import re

    from udfs import functions
    from xlwings_payload import table_values

    args = [table_values(path, t.name) for t in (layout.T_ACTIONS, FIN, layout.T_FINANCEURS, layout.T_DISPOSITIFS)]
    got = functions.ACV_CONTROLE(args[0], args[1], args[2], "1.1", args[3])
    assert re.sub(r"ligne \d+", "ligne N", got) == re.sub(r"ligne \d+", "ligne N", cli.findings[0].message)


def test_a_text_that_looks_like_an_iso_date_time_does_not_stop_the_button(base, tmp_path):
    """« 2024-03-01T10:00:00 » pasted as text in a comment: xlwings' date pattern took it for a date, cut its
    « Z » (here its last digit) and failed — « Validation impossible : erreur inattendue (ValueError…) »,
    for the whole workbook. It stays a text, as the file reader reads it."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        ws.cell(r1 + 1, c1 + list(FIN.headers).index(FIN.header("commentaire"))).value = "2024-03-01T10:00:00"

    path = edited_copy(base, tmp_path / "horodatage.xlsx", edit)
    book = remote_book(payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    scripts.valider(book)
    assert not [a for a in book.json()["actions"] if a["func"] == "alert"]
    cli, button = _both(path)
    assert cli.valide
    _same(cli, button)


def test_a_date_pasted_as_iso_text_is_no_date_for_either(base, tmp_path):
    """« 2023-11-01T00:00:00Z » pasted as text in « Date de la demande »: FIN-17 for the command line, a date
    for the button (« aucune erreur ») — the add-in writes its dates with milliseconds, a text is a text."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        ws.cell(r1 + 1, c1 + list(FIN.headers).index(FIN.header("date_demande"))).value = "2023-11-01T00:00:00Z"

    path = edited_copy(base, tmp_path / "date-texte.xlsx", edit)
    cli, button = _both(path)
    assert [f.code for f in cli.findings] == ["FIN-17"]
    _same(cli, button)


@pytest.mark.parametrize("header", [FIN.header("commentaire"), FIN.header("annee")])
def test_a_time_alone_outside_a_date_column_reads_alike_and_seals_alike(base, tmp_path, header):
    """« 12:30 » typed in a comment or in « Année »: the file reader reads a time; the button kept the
    add-in's 30/12/1899 12:30 — its fingerprint differed from the command line's (a workbook validated
    by the button was « modifié depuis la validation » for `acv-xl valider`), and the year cell was told
    « n'est pas une année : « 30/12/1899 » », « Saisissez l'année 1899 seule »."""
    from datetime import time

    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        cell = ws.cell(r1 + 1, c1 + list(FIN.headers).index(header))
        cell.value, cell.number_format = time(12, 30), "hh:mm"

    path = edited_copy(base, tmp_path / "heure-ailleurs.xlsx", edit)
    cli, button = _both(path)
    _same(cli, button)
    assert cli.valide == (header == FIN.header("commentaire"))
    assert "1899" not in " ".join(f.message + f.suggestion for f in button.findings)


@pytest.mark.parametrize("header", [FIN.header("date_demande"), FIN.header("commentaire")])
def test_a_text_typed_in_the_add_ins_date_form_reads_as_that_date_for_both(base, tmp_path, header):
    """« 2024-03-01T00:00:00.000Z » typed as text: the add-in sends a date cell in exactly that form
    (`toISOString`), so the button cannot tell them apart and reads the date. The command line said
    FIN-17 in « Date de la demande » (the button « Validé »), and in a comment their fingerprints
    differed: every reader now reads that text as the date it stands for — and a real date cell the
    same way as before."""
    from datetime import datetime

    def typed(value):
        def edit(wb):
            ws, t = table_of(wb, FIN.name)
            c1, r1, _c2, _r2 = range_boundaries(t.ref)
            ws.cell(r1 + 1, c1 + list(FIN.headers).index(header)).value = value
        return edit

    text = edited_copy(base, tmp_path / "texte.xlsx", typed("2024-03-01T00:00:00.000Z"))
    real = edited_copy(base, tmp_path / "date.xlsx", typed(datetime(2024, 3, 1)))
    cli, button = _both(text)
    assert cli.valide and not cli.findings
    _same(cli, button)
    cli_real, button_real = _both(real)
    _same(cli_real, button_real)
    assert cli.empreinte == cli_real.empreinte
    # a text only near that form stays a text, for both: FIN-17 in a date column
    other = edited_copy(base, tmp_path / "autre.xlsx", typed("2024-03-01T00:00:00.000Z "))
    cli, button = _both(other)
    assert [f.code for f in cli.findings] == (["FIN-17"] if header == FIN.header("date_demande") else [])
    _same(cli, button)


@pytest.mark.parametrize("serial", [1, 1.5, 31, 58, 61, 62])
def test_a_date_before_march_1900_reads_alike_for_both(base, tmp_path, serial):
    """Excel counts a 29/02/1900 that never was (serial 60): 01/01/1900 is serial 1, which the add-in sends
    as « 1899-12-31T00:00:00.000Z » (it counts from 30/12/1899). The button read every date up to
    28/02/1900 a day early, the file reader the date Excel shows: two fingerprints for one workbook (a
    workbook validated by the button « modifié depuis la validation » for `acv-xl valider`)."""
    from datetime import datetime, timedelta

    shown = datetime(1899, 12, 31 if serial < 60 else 30) + timedelta(days=serial)  # as Excel shows it

    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        cell = ws.cell(r1 + 1, c1 + list(FIN.headers).index(FIN.header("date_demande")))
        cell.value, cell.number_format = shown, "dd/mm/yyyy hh:mm"

    path = edited_copy(base, tmp_path / "1900.xlsx", edit)
    cli, button = _both(path)
    _same(cli, button)
    from acv_xl.reading.read import read_file

    assert read_file(path).financements[0].date_demande == shown.date()


@pytest.mark.parametrize("text", ["#BUSY!", "#N/A", "#REF!"])
@pytest.mark.parametrize("header", [FIN.header("commentaire"), FIN.header("montant")])
def test_an_error_typed_as_text_is_the_error_for_both(base, tmp_path, text, header):
    """« #BUSY! » typed in a comment (Excel takes the newer errors typed for a text), « '#N/A » with its
    apostrophe: the add-in sends an error cell as its text, so the button cannot tell them from the error
    and said STR-06, where the command line read a text — « Validé » for one, « à corriger » for the
    other, and two fingerprints. Every reader now takes that text for the error it shows."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        cell = ws.cell(r1 + 1, c1 + list(FIN.headers).index(header))
        cell.value = text
        cell.data_type = "s"  # a text (openpyxl writes « #N/A » as the error), as « '#N/A » typed in Excel

    path = edited_copy(base, tmp_path / "erreur-texte.xlsx", edit)
    cli, button = _both(path)
    assert [f.code for f in cli.findings] == ["STR-06"] and text in cli.findings[0].message
    _same(cli, button)


def test_the_file_reader_looks_for_the_add_ins_date_form_only_where_it_may_be():
    """The file reader converts a sheet's texts only when its part or the shared strings may hold one
    (a digit, « Z », then the end of a text or value): inline strings and formula results too, and a
    sheet full of the column Z's cells is searched to its end."""
    from acv_xl.reading.source_file import _may_hold_officejs_date as may

    column_z = b'<c r="Z1"><v>1</v></c>' * 100
    assert may(b"<t>2024-03-01T00:00:00.000Z</t>") and may(b'<c t="str"><f>A1</f><v>5Z</v></c>')
    assert not may(column_z) and may(column_z + b"<is><t>2024-03-01T00:00:00.000Z</t></is>")
    assert not may(b"<t>ZZ</t>") and not may(b"")
    # Excel's escape of a carriage return, in many texts typed on several lines: nothing to look at
    assert not may(b"<t>ligne 1_x000D_\nligne 2</t>") and may(b"<t>2024-03-01T00:00:00.000_x005A_</t>")


@pytest.mark.parametrize("written", [
    b"<t><![CDATA[2024-03-01T00:00:00.000Z]]></t>",  # CDATA
    b"<r><t>2024-03-01T00:00:00.000</t></r><r><rPr><b/></rPr><t>Z</t></r>",  # a rich text, its « Z » in bold
    b"<t>2024-03-01T00:00:00.000&#90;</t>",  # a character reference
    b"<t>2024-03-01T00:00:00.000_x005A_</t>",  # Excel's escape
    b"<t>2024-03-01T00:00:00.000Z<!-- note --></t>",  # a comment
])
def test_the_add_ins_date_form_written_otherwise_in_the_xml_reads_as_that_date(base, tmp_path, written):
    """The same text « 2024-03-01T00:00:00.000Z », as Excel shows it, written by another tool in CDATA, as
    a rich text, with an escape: the file reader looked for a digit then « Z </ » only, and read it as a
    text — FIN-17 for the command line, where the button (which receives the text) read the date."""
    import zipfile

    def typed(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        ws.cell(r1 + 1, c1 + list(FIN.headers).index(FIN.header("date_demande"))).value = "2024-03-01T00:00:00.000Z"

    plain = edited_copy(base, tmp_path / "texte.xlsx", typed)
    other = tmp_path / "autrement.xlsx"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(other, "w", zipfile.ZIP_DEFLATED) as zout:
        changed = 0
        for info in zin.infolist():
            data = zin.read(info.filename)
            if b"<t>2024-03-01T00:00:00.000Z</t>" in data:
                data = data.replace(b"<t>2024-03-01T00:00:00.000Z</t>", written)
                changed += 1
            zout.writestr(info, data)
    assert changed == 1
    cli = validate_file(other)
    assert cli.valide and not cli.findings
    assert cli.empreinte == validate_file(plain).empreinte


@pytest.mark.parametrize("text", ["2024-02-30T00:00:00Z", "2024-13-01T10:00:00.000Z"])
def test_an_iso_text_of_no_real_day_is_fin_17_not_an_internal_failure(base, tmp_path, text):
    """« 2024-02-30T00:00:00Z » pasted in « Date de la demande »: the fingerprint took every ISO text of a
    date column for its day and raised on a day that does not exist — STR-00 « Contrôle interne en
    échec : l'empreinte des données n'a pas pu être calculé » (sic) beside FIN-17, in the command line
    and in the button. Only FIN-17 now, a fingerprint for both, the same."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        ws.cell(r1 + 1, c1 + list(FIN.headers).index(FIN.header("date_demande"))).value = text

    path = edited_copy(base, tmp_path / "jour-impossible.xlsx", edit)
    cli, button = _both(path)
    assert [f.code for f in cli.findings] == ["FIN-17"] and f"« {text} »" in cli.findings[0].message
    assert cli.empreinte
    _same(cli, button)


def test_an_internal_failure_is_said_in_correct_french(monkeypatch, base):
    """STR-00 said « l'empreinte des données n'a pas pu être calculé » and « le calcul des totaux n'a pas
    pu être calculé »."""
    from acv_xl.checks import fingerprint

    def fail(*_a, **_k):
        raise ValueError("x")

    monkeypatch.setattr(fingerprint, "fingerprint", fail)
    monkeypatch.setattr("acv_xl.checks.totals.compute", fail)
    messages = [f.message for f in validate_file(base).findings if f.code == "STR-00"]
    assert messages == [
        "Contrôle interne en échec : l'empreinte des données n'a pas pu être calculée (détail technique pour "
        "l'assistance : ValueError).",
        "Contrôle interne en échec : les totaux n'ont pas pu être calculés (détail technique pour "
        "l'assistance : ValueError).",
    ]


def test_a_number_typed_as_text_past_excels_largest_is_no_number_to_type_instead(base, tmp_path):
    """32 000 digits typed as text in « Montant (€) »: FIN-03 suggested « tapez 1111… », 74 773 characters
    written into a cell of Contrôles, which holds 32 767 (Excel refuses the button's whole write, and
    the annotated copy is a file Excel repairs). Past Excel's largest number, it is no number."""
    def edit(wb):
        ws, t = table_of(wb, FIN.name)
        c1, r1, _c2, _r2 = range_boundaries(t.ref)
        ws.cell(r1 + 1, c1 + list(FIN.headers).index(FIN.header("montant"))).value = "1" * 32_000

    path = edited_copy(base, tmp_path / "chiffres.xlsx", edit)
    cli, button = _both(path)
    _same(cli, button)
    fin03 = [f for f in cli.findings if f.code == "FIN-03"]
    assert len(fin03) == 1 and "n'est pas un nombre" in fin03[0].message
    assert fin03[0].suggestion == "Saisissez un montant en euros."
    book = remote_book(payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    scripts.run_valider(book, today=TODAY)
    written = [v for a in book.json()["actions"] if a["func"] == "setValues" for r in a["values"] for v in r]
    assert max(len(v) for v in written if isinstance(v, str)) <= 32_767


def test_a_newer_excel_error_in_a_comment_blocks_the_button_as_the_saved_files_value_error(base, tmp_path):
    """#BLOCKED! (a linked data type, IMAGE…) in a comment: the add-in sends « #BLOCKED! », which the
    button took for a text (« Validé »); the saved file holds #VALUE!, an error for the command line
    (STR-06). Same verdict and same finding now (the error named as the cell shows it)."""
    import re as _re

    from _read_workbooks import rewrite_part, sheet_part

    path = tmp_path / "erreur.xlsx"
    path.write_bytes(base.read_bytes())
    col = openpyxl.utils.get_column_letter(1 + list(FIN.headers).index(FIN.header("commentaire")))
    part = sheet_part(FIN.sheet)
    cell = f"{col}4".encode()
    rewrite_part(path, part, lambda x: _re.sub(rb'<c r="' + cell + rb'"[^>]*?(?:/>|>.*?</c>)',
                                               b'<c r="' + cell + b'" t="e"><v>#VALUE!</v></c>', x, count=1))
    cli = validate_file(path)
    payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
    sheet = next(s for s in payload["sheets"] if s["name"] == FIN.sheet)
    assert sheet["values"][3][list(FIN.headers).index(FIN.header("commentaire"))] == "#VALUE!"
    sheet["values"][3][list(FIN.headers).index(FIN.header("commentaire"))] = "#BLOCKED!"  # as Office.js shows it
    button = scripts.run_valider(remote_book(payload), today=TODAY)
    assert [(f.code, f.cellule) for f in cli.findings] == [("STR-06", f"{col}4")]
    assert [(f.code, f.gravite, f.cellule) for f in button.findings] == [(f.code, f.gravite, f.cellule) for f in cli.findings]
    assert not button.valide and "#BLOCKED!" in button.findings[0].message


@pytest.mark.parametrize("error", ["#SPILL!", "#CALC!", "#BLOCKED!", "#GETTING_DATA"])
@pytest.mark.parametrize("header", [FIN.header("commentaire"), FIN.header("montant")])
def test_an_error_calamine_does_not_know_is_read_as_the_error_not_a_damaged_file(base, tmp_path, error, header):
    """A cell `t="e"` holding #SPILL!, #CALC!, #BLOCKED!… (written as such by another program): calamine
    refused the sheet, and the command line the whole file (STR-01 « endommagé : la feuille « Plan de
    financement » est illisible », status 2), where the button reads the error (STR-06). The sheet is read
    through openpyxl, the error where it is: the same findings, fingerprint and totals."""
    import re as _re

    from _read_workbooks import rewrite_part, sheet_part

    path = tmp_path / "erreur.xlsx"
    path.write_bytes(base.read_bytes())
    col = openpyxl.utils.get_column_letter(1 + list(FIN.headers).index(header))
    part = sheet_part(FIN.sheet)
    cell = f"{col}4".encode()
    rewrite_part(path, part, lambda x: _re.sub(rb'<c r="' + cell + rb'"[^>]*?(?:/>|>.*?</c>)',
                                               b'<c r="' + cell + b'" t="e"><v>' + error.encode() + b'</v></c>',
                                               x, count=1))
    cli, button = _both(path)
    assert [f.code for f in cli.findings if f.code.startswith("STR")] == ["STR-06"]
    assert f"contient l'erreur Excel {error}." in cli.findings[[f.code for f in cli.findings].index("STR-06")].message
    _same(cli, button)


def test_merged_cells_below_controles_are_found_on_the_desktop_none_from_the_add_in():
    """What the button must move down below T_Controles (`XwSource.merged_boxes`): on the desktop the merged
    ranges meeting its columns, read from Excel (one call when there is none), whole even where they reach
    past them; from the add-in, none (its payload says nothing of merges)."""
    from udfs.xw_source import XwSource

    calls: list = []

    def source(areas, sent=False):
        src = XwSource(None)
        src._values = {"Contrôles": [[None] * 12 for _ in range(40)]}
        src._sent = sent
        src.sheet = lambda _name: _ComSheet(areas, calls)
        return src

    assert source([]).merged_boxes("Contrôles", 6, 1, 7) == [] and len(calls) == 1
    areas = [(9, 6, 9, 10), (30, 1, 31, 1), (3, 1, 3, 7), (12, 9, 12, 11)]  # one above, one beside only
    assert source(areas).merged_boxes("Contrôles", 6, 1, 7) == [(9, 6, 9, 10), (30, 1, 31, 1)]
    assert source(areas, sent=True).merged_boxes("Contrôles", 6, 1, 7) == []
    assert source(areas).merged_boxes("Contrôles", 41, 1, 7) == []  # below the sheet's last used row
