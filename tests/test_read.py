"""The reader: tables by name wherever they are, columns by header text, values with their cells."""

from __future__ import annotations

import os
import re
import sys
import time
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from _read_workbooks import Err, Formula, TableSpec, build, default_names, rewrite_part, sheet_part, table_from_layout

from acv_xl.outputs import examples
from acv_xl.contract import layout
from acv_xl.outputs import template
from acv_xl.reading.errors import UnreadableWorkbook
from acv_xl.contract.model import ROW_MODELS, Convention, build_named, build_row
from acv_xl.reading.read import read_file
from acv_xl.reading.source import a1, col_letter, parse_a1
from acv_xl.reading.source_file import FileSource
from acv_xl.contract.values import ExcelError, NoCachedValue

FIN = layout.T_FINANCEMENTS
ACT = layout.T_ACTIONS


def _all_tables(overrides: dict[str, TableSpec] | None = None, skip: tuple[str, ...] = ()) -> list[TableSpec]:
    overrides = overrides or {}
    return [overrides.get(t.name) or table_from_layout(t) for t in layout.TABLES if t.name not in skip]


FIN_ROWS = [
    {"numero": "1.1", "financeur": "ETAT", "dispositif": "DSIL", "nature": "Subvention", "annee": 2024,
     "montant": 150000.5, "statut": "Acquis", "date_demande": date(2024, 2, 29)},
    {"numero": "1.1", "financeur": "COMMUNE", "nature": "Autofinancement", "annee": 2025,
     "montant": "12 000 €", "statut": "Prévisionnel"},
    {"numero": "1.2", "financeur": "CDC", "nature": "Prêt", "annee": 2026, "montant": 80000,
     "statut": "Sollicité", "commentaire": "=1+1 reste du texte"},
]


def _fin_workbook(tmp_path: Path, spec: TableSpec, **kw) -> Path:
    return build(tmp_path / "classeur.xlsx", _all_tables({FIN.name: spec}), default_names(), **kw)


# --------------------------------------------------------------------------- position
def test_table_moved_within_and_across_sheets_is_found_with_real_cells(tmp_path):
    fin = table_from_layout(FIN, FIN_ROWS, anchor="D12")
    # T_Dispositifs moved to another sheet altogether
    disp = table_from_layout(layout.T_DISPOSITIFS, [{"financeur": "ETAT", "dispositif": "DSIL",
                                                    "nature": "Subvention", "dotation_r2334_27": "Oui"}],
                             anchor="B40", sheet=layout.Sheet.GOUVERNANCE)
    path = build(tmp_path / "c.xlsx", _all_tables({FIN.name: fin, layout.T_DISPOSITIFS.name: disp}), default_names())
    conv = read_file(path)

    assert conv.fichier == str(path)
    assert conv.structure.missing_tables == []
    assert conv.structure.table_refs[FIN.name] == (FIN.sheet, "D12:M15")
    assert conv.structure.table_refs[layout.T_DISPOSITIFS.name] == (layout.Sheet.GOUVERNANCE, "B40:E41")
    first = conv.financements[0]
    assert (first.sheet, first.row) == (FIN.sheet, 13)
    assert first.cell("numero") == "D13" and first.cell("montant") == "I13" and first.cell("commentaire") == "M13"
    assert conv.financements[2].cell("montant") == "I15"
    assert first.montant == Decimal("150000.50") and first.date_demande == date(2024, 2, 29)
    (d,) = conv.dispositifs
    assert (d.sheet, d.row, d.cell("dotation_r2334_27")) == (layout.Sheet.GOUVERNANCE, 41, "E41")
    assert d.dotation_r2334_27 == "Oui"


def test_columns_found_by_header_after_insertion_and_reordering(tmp_path):
    headers = list(reversed(FIN.headers))
    headers.insert(3, "Ma colonne à moi")  # a user column, ignored
    headers.insert(0, "Autre note")
    spec = table_from_layout(FIN, FIN_ROWS, headers=headers)
    spec.rows[0][0] = "texte libre"  # user columns hold anything
    conv = read_file(_fin_workbook(tmp_path, spec))

    assert conv.structure.missing_headers == []
    assert len(conv.financements) == 3
    for line, raw in zip(conv.financements, FIN_ROWS):
        for attr, value in raw.items():
            j = headers.index(FIN.header(attr))
            assert line.cell(attr) == a1(line.row, 1 + j)
            assert line.raw[attr] == value
    assert conv.financements[0].statut == "Acquis"
    assert "Autre note" not in conv.financements[0].raw.values()


def test_a_header_row_holding_a_pasted_text_is_read_but_not_kept_between_workbooks(tmp_path):
    """The mappings of complete header rows are kept for the next workbooks (`acv-xl serveur` runs for
    months): not a row whose own column is headed by a pasted text of 28,805 characters."""
    from acv_xl.reading import read

    pasted = "Note " + "très longue " * 2_400  # 28,805 characters (a cell holds 32,767 at most)
    for name, extra in (("ordinaire", "Ma colonne à moi"), ("collee", pasted)):
        spec = table_from_layout(FIN, FIN_ROWS, headers=[*FIN.headers, extra])
        read._PLACES.clear()
        read._COMPLETE_HEADERS.clear()
        (tmp_path / name).mkdir()
        conv = read_file(_fin_workbook(tmp_path / name, spec))
        assert conv.structure.missing_headers == [] and len(conv.financements) == 3
        kept = [key[1] for key in read._COMPLETE_HEADERS] + [key[2] for key in read._PLACES]
        assert any(extra in header for header in kept) == (extra != pasted)


def test_header_match_is_exact_after_trimming_spaces(tmp_path):
    spec = table_from_layout(FIN, FIN_ROWS)
    spec.headers = [f"  {h} " if h == FIN.header("montant") else h for h in FIN.headers]
    conv = read_file(_fin_workbook(tmp_path, spec))
    assert conv.structure.missing_headers == []
    assert conv.financements[0].montant == Decimal("150000.50")


def test_table_lookup_is_case_insensitive(tmp_path):
    spec = table_from_layout(FIN, FIN_ROWS)
    spec.name = "t_FINANCEMENTS"
    conv = read_file(_fin_workbook(tmp_path, spec))
    assert FIN.name not in conv.structure.missing_tables
    assert len(conv.financements) == 3


def test_empty_rows_inside_a_table_are_skipped_keeping_row_numbers(tmp_path):
    rows = [FIN_ROWS[0], {}, {}, FIN_ROWS[2]]
    spec = table_from_layout(FIN, rows)
    spec.n_rows = 6  # two more empty rows at the end, as the template ships
    conv = read_file(_fin_workbook(tmp_path, spec))
    assert [f.row for f in conv.financements] == [4, 7]
    assert conv.financements[1].cell("montant") == "F7"
    assert conv.structure.table_refs[FIN.name] == (FIN.sheet, "A3:J9")


def test_totals_row_is_not_data(tmp_path):
    # a totals row added by the user (Création de tableau > Ligne des totaux)
    import xlsxwriter

    path = tmp_path / "c.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    for s in layout.SHEETS:
        ws = wb.add_worksheet(s)
        if s == FIN.sheet:
            cols = [{"header": h} for h in FIN.headers]
            cols[5]["total_function"] = "sum"
            ws.add_table("A3:J7", {"name": FIN.name, "columns": cols, "total_row": True,
                                   "data": [["1.1", "ETAT", None, "Subvention", 2024, 10.0, "Acquis"],
                                            ["1.2", "CDC", None, "Prêt", 2024, 20.0, "Acquis"],
                                            ["1.3", "CDC", None, "Prêt", 2024, 30.0, "Acquis"]]})
    wb.close()
    conv = read_file(path)
    assert [f.numero for f in conv.financements] == ["1.1", "1.2", "1.3"]


# --------------------------------------------------------------------------- values
def test_text_number_is_kept_raw_with_its_problem(tmp_path):
    conv = read_file(_fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS)))
    line = conv.financements[1]
    assert line.montant is None
    assert line.raw["montant"] == "12 000 €"
    p = line.problems["montant"]
    assert (p.kind, p.raw, p.suggestion) == ("texte_nombre", "12 000 €", Decimal("12000.00"))
    assert line.cell("montant") == "F5"
    # a text cell that looks like a formula stays text
    assert conv.financements[2].commentaire == "=1+1 reste du texte"


def test_excel_error_cells_are_reported_at_their_cell_and_error_texts_are_the_errors(tmp_path):
    rows = [dict(FIN_ROWS[0], montant=Err("#REF!")), dict(FIN_ROWS[2], montant="#REF!", annee=Err("#DIV/0!")),
            dict(FIN_ROWS[1], montant="#REF! à revoir")]
    conv = read_file(_fin_workbook(tmp_path, table_from_layout(FIN, rows, anchor="B6")))
    err = conv.financements[0]
    assert isinstance(err.raw["montant"], ExcelError) and err.raw["montant"] == "#REF!"
    assert err.cell("montant") == "G7"
    assert err.problems["montant"].kind == "erreur_excel"
    # the user typed the text « #REF! »: the add-in sends an error cell as that very text, and the
    # button takes it for the error — so does the file reader (test_scripts_tables)
    typed_text = conv.financements[1]
    assert isinstance(typed_text.raw["montant"], ExcelError) and typed_text.problems["montant"].kind == "erreur_excel"
    assert typed_text.raw["annee"] == ExcelError("#DIV/0!") and typed_text.cell("annee") == "F8"
    other_text = conv.financements[2]  # only the error's exact text
    assert not isinstance(other_text.raw["montant"], ExcelError) and other_text.problems["montant"].kind == "pas_nombre"


def test_cells_without_addresses_are_placed_like_excel_does(tmp_path):
    """Some writers omit `r` on cells (allowed by the standard): positions follow the order."""
    import re

    full = {"dispositif": "DSIL", "date_demande": date(2024, 1, 5), "reference_decision": "AR-1", "commentaire": "c"}
    rows = [dict(FIN_ROWS[0], **full, montant=Err("#REF!")), dict(FIN_ROWS[2], **full, annee=Formula("=2000+26", ""))]
    path = _fin_workbook(tmp_path, table_from_layout(FIN, rows))
    part = sheet_part(FIN.sheet)

    def strip_cell_refs(xml: bytes) -> bytes:
        # rows written from column A without gaps, so that the implied positions are the same
        out = re.sub(rb'(<c) r="[A-Z]+\d+"', rb"\1", xml)
        return re.sub(rb"<dimension[^>]*/>", b"", out)

    rewrite_part(path, part, strip_cell_refs)
    assert b'<c r="' not in zipfile.ZipFile(path).read(part)
    a, b = read_file(path).financements
    assert a.raw["montant"] == ExcelError("#REF!") and a.cell("montant") == "F4"
    assert a.raw["numero"] == "1.1" and a.montant is None
    assert b.raw["annee"] == NoCachedValue("=2000+26") and b.cell("annee") == "E5"
    assert b.raw["montant"] == 80000


def test_prefixed_sheet_xml_is_scanned_too(tmp_path):
    """Writers built on the Open XML SDK prefix every element (`<x:c>`): errors are still found."""
    import re

    rows = [dict(FIN_ROWS[0], montant=Err("#N/A"), annee=Formula("=2020+4", ""))]
    path = _fin_workbook(tmp_path, table_from_layout(FIN, rows))
    part = sheet_part(FIN.sheet)

    def prefix(xml: bytes) -> bytes:
        return re.sub(rb"<(/?)(?![?!])([A-Za-z])", rb"<\1x:\2", xml).replace(b'xmlns="', b'xmlns:x="', 1)

    rewrite_part(path, part, prefix)
    assert b"<x:c " in zipfile.ZipFile(path).read(part)
    (line,) = read_file(path).financements
    assert line.raw["montant"] == ExcelError("#N/A") and line.cell("montant") == "F4"
    assert line.raw["annee"] == NoCachedValue("=2020+4") and line.raw["statut"] == "Acquis"


def test_formula_without_cached_value(tmp_path):
    rows = [dict(FIN_ROWS[0], annee=Formula("=2020+4", ""), montant=Formula("=100*3", 0)),
            dict(FIN_ROWS[2], montant=Formula("=SUM(1,2)", 300))]
    path = _fin_workbook(tmp_path, table_from_layout(FIN, rows))

    # As written by a library (fullCalcOnLoad): every cached result is a placeholder.
    conv = read_file(path)
    a, b = conv.financements
    assert isinstance(a.raw["annee"], NoCachedValue) and a.raw["annee"] == "=2020+4"
    assert isinstance(a.raw["montant"], NoCachedValue) and a.raw["montant"] == "=100*3"
    assert a.problems["montant"].kind == "formule_sans_valeur" and a.cell("montant") == "F4"
    assert isinstance(b.raw["montant"], NoCachedValue)

    # As saved by a spreadsheet (no fullCalcOnLoad): a cached value is trusted, an empty one is not.
    rewrite_part(path, "xl/workbook.xml", lambda x: x.replace(b' fullCalcOnLoad="1"', b""))
    with FileSource(path) as src:
        assert not src.full_calc_on_load
    a, b = read_file(path).financements
    assert isinstance(a.raw["annee"], NoCachedValue) and a.problems["annee"].kind == "formule_sans_valeur"
    assert a.raw["montant"] == 0 and not isinstance(a.raw["montant"], str)
    assert b.montant == Decimal("300.00")


def test_formula_saved_by_openpyxl_has_no_cached_value(tmp_path):
    path = tmp_path / "o.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = layout.Sheet.ACCUEIL
    ws = wb.create_sheet(FIN.sheet)
    ws.append([])
    ws.append([])
    ws.append(list(FIN.headers))
    ws.append(["1.1", "ETAT", "DSIL", "Subvention", "=2000+24", "=10*10", "Acquis"])
    from openpyxl.worksheet.table import Table as XTable

    ws.add_table(XTable(displayName=FIN.name, ref="A3:J4"))
    wb.save(path)
    (line,) = read_file(path).financements
    assert line.raw["annee"] == NoCachedValue("=2000+24") and line.cell("annee") == "E4"
    assert isinstance(line.raw["montant"], NoCachedValue)


def test_huge_amounts_and_long_digit_texts_never_crash(tmp_path):
    rows = [dict(FIN_ROWS[0], montant=1e26), dict(FIN_ROWS[2], montant="9" * 400),
            dict(FIN_ROWS[2], montant="9" * 300)]
    a, b, c = read_file(_fin_workbook(tmp_path, table_from_layout(FIN, rows))).financements
    assert a.montant == Decimal("1E+26") and a.montant.as_tuple().exponent == -2
    # past Excel's largest number (10^308): no number to type instead, only a text
    assert b.montant is None and b.problems["montant"].kind == "pas_nombre"
    assert c.montant is None and c.problems["montant"].suggestion == Decimal("9" * 300)


def test_number_out_of_excel_range_is_a_num_error(tmp_path):
    path = _fin_workbook(tmp_path, table_from_layout(FIN, [dict(FIN_ROWS[0], montant=123.0)]))
    part = sheet_part(FIN.sheet)
    rewrite_part(path, part, lambda x: x.replace(b"<v>123</v>", b"<v>1e999</v>"))
    (line,) = read_file(path).financements
    assert line.raw["montant"] == ExcelError("#NUM!") and isinstance(line.raw["montant"], ExcelError)
    assert line.problems["montant"].kind == "erreur_excel"


def test_dates_are_dates(tmp_path):
    rows = [dict(FIN_ROWS[0], date_demande=date(2024, 12, 31)),
            dict(FIN_ROWS[2], date_demande=datetime(2025, 1, 15, 10, 30)),
            dict(FIN_ROWS[1], date_demande="31/12/2024")]
    a, b, c = read_file(_fin_workbook(tmp_path, table_from_layout(FIN, rows))).financements
    assert type(a.raw["date_demande"]) is date and a.date_demande == date(2024, 12, 31)
    assert b.raw["date_demande"] == datetime(2025, 1, 15, 10, 30) and b.date_demande == date(2025, 1, 15)
    assert c.date_demande is None and c.problems["date_demande"].suggestion == date(2024, 12, 31)


# --------------------------------------------------------------------------- named cells
def test_named_cells_are_read_with_their_cells(tmp_path):
    names = default_names()
    names["acv_libelle"] = (layout.Sheet.PROJET, "D40", "Arras")  # the user moved it
    names["acv_date_convention"] = (layout.Sheet.PROJET, "B11", "15 juin 2023")
    conv = read_file(build(tmp_path / "c.xlsx", _all_tables(), names))
    assert conv.structure.missing_names == []
    assert conv.acv_id == "ACV123" and conv.programme == "ACV 2"
    assert conv.departement == "62"  # typed as a number, still the code "62"
    lib = conv.names["acv_libelle"]
    assert (lib.sheet, lib.cell, lib.value) == (layout.Sheet.PROJET, "D40", "Arras")
    assert conv.value("acv_date_fin_deploiement") == date(2026, 12, 31)
    assert conv.names["acv_version_modele"].sheet == layout.Sheet.ACCUEIL
    bad = conv.names["acv_date_convention"]
    assert bad.value is None and bad.problem.kind == "pas_date" and bad.cell == "B11"
    assert conv.value("acv_date_validation") is None and "acv_date_validation" in conv.names


@pytest.mark.parametrize("typed, read, formulas", [("-1E+308", -1e308, 0), ("-2E+11", -2e11, 0),
                                                  ("-1e400", ExcelError("#NUM!"), 0), ("-1E+308", -1e308, 70)])
def test_a_far_negative_number_in_a_date_cell_is_read_as_that_number(tmp_path, typed, read, formulas):
    """« -1E+308 » typed in a date cell (Excel shows ####): calamine, turning it into a date, panicked
    (« TimeDelta::milliseconds out of bounds »), a `PanicException` no `except Exception` caught — a
    traceback for `valider`, and `consolider` stopped on « erreur interne » for the whole département.
    The sheet is read through openpyxl, the cell given its number (#NUM! past Excel's), as the button
    reads it; the other cells as before — after a formula of many « - » too (`formulas`: the values
    are then searched, not each « - »)."""
    names = default_names()
    path = build(tmp_path / "c.xlsx", _all_tables(), names)
    minus = f'<c r="Z1" t="str"><f>{"-".join("1" * (formulas + 1))}</f><v>0</v></c></row>'.encode()
    rewrite_part(path, sheet_part(layout.Sheet.PROJET),
                 lambda x: re.sub(rb'(<c r="B11"[^>]*>)<v>[^<]*</v>', rb"\g<1><v>" + typed.encode() + rb"</v>",
                                  x.replace(b"</row>", minus, 1) if formulas else x))
    conv = read_file(path)
    assert conv.names["acv_date_convention"].raw == read
    assert conv.value("acv_date_fin_deploiement") == date(2026, 12, 31) and conv.acv_id == "ACV123"


def test_an_ordinary_negative_number_costs_no_search_of_the_values(tmp_path, monkeypatch):
    """A sheet holding one negative number (« -5 », a formula « =F4-G4 ») had all its values searched
    for a far negative one (`_NEGATIVE_VALUE`): more than `_scan_sheet` costs the sheet, for most of a
    département's workbooks. Only the text of a far negative number starts that search."""
    import acv_xl.reading.source_file as source_file

    searched = []
    values = source_file._NEGATIVE_VALUE

    class Counted:
        def finditer(self, *args):
            searched.append(1)
            return values.finditer(*args)

    monkeypatch.setattr(source_file, "_NEGATIVE_VALUE", Counted())
    path = build(tmp_path / "c.xlsx", _all_tables(), default_names())
    for typed, search in (("-5", False), ("-12345678901.5", False), ("-200000000000", True), ("-1E+11", True)):
        rewrite_part(path, sheet_part(layout.Sheet.PROJET),
                     lambda x: re.sub(rb'(<c r="B11"[^>]*>)<v>[^<]*</v>', rb"\g<1><v>" + typed.encode() + rb"</v>", x))
        searched.clear()
        assert read_file(path).names["acv_date_convention"].raw is not None
        assert bool(searched) == search, typed


def test_a_panic_of_calamine_not_foreseen_is_a_sheet_it_cannot_read(tmp_path, monkeypatch):
    """A panic of calamine's is a `PanicException`, a BaseException: one not foreseen reached the user as a
    traceback, or stopped a batch's worker. It is said as any sheet calamine cannot read (STR-01)."""
    import acv_xl.reading.source_file as source_file

    path = build(tmp_path / "c.xlsx", _all_tables(), default_names())
    rewrite_part(path, sheet_part(layout.Sheet.PROJET),
                 lambda x: re.sub(rb'(<c r="B11"[^>]*>)<v>[^<]*</v>', rb"\g<1><v>-1E+308</v>", x))
    monkeypatch.setattr(source_file, "_far_negatives", lambda xml, span=None: {})  # calamine then panics on it
    with pytest.raises(UnreadableWorkbook) as exc:
        read_file(path)
    assert exc.value.code == "STR-01" and "la feuille « Projet » est illisible" in exc.value.message



def test_the_cells_of_a_sheet_are_delimited_once_a_sheet(monkeypatch):
    """`_far_negatives` searched again for the span of `<sheetData>` (an `rfind` over the parts after the
    cells) `_scan_sheet` had just found: two thirds of what the check costs each sheet of `consolider`."""
    import acv_xl.reading.source_file as source_file

    calls = []
    span = source_file._sheet_data_span
    monkeypatch.setattr(source_file, "_sheet_data_span", lambda xml: calls.append(1) or span(xml))
    with FileSource(Path(__file__).parents[1] / "workbooks" / "exemples" / "arras.xlsx") as src:
        loaded = 0
        for sheet in src._sheets:
            src._load(sheet)
            loaded += sheet.part is not None
    assert loaded > 5 and len(calls) == loaded


@pytest.mark.parametrize("fmt", ["[h]:mm", "[MM]:ss", "[h]:mm:ss"])  # the last one Excel's built-in 46
@pytest.mark.parametrize("sparse", [False, True])
def test_a_date_in_a_duration_formatted_cell_is_read_as_a_date(tmp_path, fmt, sparse):
    """A date typed in a cell formatted « [h]:mm » came as a timedelta (calamine, openpyxl): PRJ-04 « n'est
    pas une date : « 43263 days, 0:00:00 » », in English, where the button gets the date-time Excel gives
    a time-formatted cell. Read as a date-formatted cell reads; through openpyxl too (`sparse`: a sheet
    calamine is not asked, here for a far negative number in it)."""
    from datetime import time as time_of_day

    path = build(tmp_path / "c.xlsx", _all_tables(), default_names())
    typed = read_file(path).names["acv_date_convention"].raw
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.PROJET]
    ws["B11"].number_format = fmt
    ws["B12"].number_format, ws["B12"].value = fmt, 0.5  # a time alone, as a time cell reads
    if sparse:
        ws["Z1"].number_format, ws["Z1"].value = "dd/mm/yyyy", -1e300
    wb.save(path)
    if fmt == "[h]:mm:ss":
        with zipfile.ZipFile(path) as z:
            assert b'numFmtId="46"' in z.read("xl/styles.xml") and b"[h]" not in z.read("xl/styles.xml")
    conv = read_file(path)
    assert isinstance(typed, date) and conv.names["acv_date_convention"].raw == typed
    assert conv.names["acv_date_fin_initialisation"].raw == time_of_day(12, 0)


@pytest.mark.parametrize("fmt", ["[h]:mm", "dd/mm/yyyy"])
@pytest.mark.parametrize("far", [False, True])
def test_a_number_past_every_date_in_a_date_cell_is_read_as_that_number(tmp_path, fmt, far):
    """« 1E+10 » typed in a « [h]:mm » cell: python-calamine could not make it a timedelta (OverflowError),
    and the whole workbook was « endommagé : la feuille « Projet » est illisible » (STR-01, not counted by
    consolider). Read through openpyxl, which gave « #VALUE! » for it — as for any date cell past
    31/12/9999 on a sheet it reads (`far`: one with a far negative number) — where calamine and the button
    give the number: the number, as PRJ-04 shows it."""
    path = build(tmp_path / "c.xlsx", _all_tables(), default_names())
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.PROJET]
    ws["B11"].number_format, ws["B11"].value = fmt, 1e10
    ws["B13"].number_format, ws["B13"].value = fmt, 1e300
    if far:
        ws["Z1"].number_format, ws["Z1"].value = "dd/mm/yyyy", -1e300
    wb.save(path)
    conv = read_file(path)
    assert conv.names["acv_date_convention"].raw == 1e10 and conv.names["acv_date_fin_deploiement"].raw == 1e300
    assert conv.acv_id == "ACV123"


def test_the_styles_of_the_template_are_searched_for_durations_once(monkeypatch):
    """The search of the styles for a duration format cost 46 000 instructions a workbook, a tenth of a per
    cent of `consolider`: the template's styles, the same for most workbooks, are searched once."""
    import acv_xl.reading.source_file as source_file

    searched = []
    search = source_file._searched_durations
    monkeypatch.setattr(source_file, "_searched_durations", lambda styles: searched.append(1) or search(styles))
    monkeypatch.setattr(source_file, "_DURATION_VERDICTS", {})
    for name in ("arras.xlsx", "calais.xlsx", "arras.xlsx"):
        read_file(Path(__file__).parents[1] / "workbooks" / "exemples" / name)
    assert len(searched) == 1


def test_a_duration_is_read_as_a_date_formatted_cell_reads():
    from datetime import time as time_of_day, timedelta

    from acv_xl.reading.source_file import _duration_cell

    assert _duration_cell(timedelta(days=43263)) == date(2018, 6, 12)
    assert _duration_cell(timedelta(days=43263, hours=12)) == datetime(2018, 6, 12, 12)
    assert _duration_cell(timedelta(days=1)) == date(1900, 1, 1)  # Excel's serial 1, as a date cell reads
    assert _duration_cell(timedelta(hours=6)) == time_of_day(6, 0)
    assert _duration_cell(timedelta(days=-2)) == -2.0 and _duration_cell(timedelta(days=3e6)) == 3e6

# --------------------------------------------------------------------------- structure
def test_missing_sheet_table_header_and_name_are_reported(tmp_path):
    names = default_names()
    del names["acv_epci"]
    act = table_from_layout(ACT, [{"numero": "1.1", "intitule": "Halles"}],
                            headers=[h for h in ACT.headers if h != ACT.header("description")])
    sheets = [s for s in layout.SHEETS if s != layout.Sheet.GOUVERNANCE]
    conv = read_file(build(tmp_path / "c.xlsx", _all_tables({ACT.name: act}, skip=("T_Gouvernance",)), names,
                           sheets=sheets))
    s = conv.structure
    assert s.missing_sheets == [layout.Sheet.GOUVERNANCE]
    assert s.missing_tables == ["T_Gouvernance"]
    assert s.missing_names == ["acv_epci"]
    (mh,) = s.missing_headers
    assert (mh.table, mh.header, mh.sheet, mh.cell, mh.found_as) == (ACT.name, "Description", ACT.sheet, "A3", None)
    assert conv.actions[0].intitule == "Halles" and "description" not in conv.actions[0].raw
    assert conv.gouvernance == []


def test_renamed_header_is_reported_with_what_was_found(tmp_path):
    renames = {FIN.header("montant"): "montant (€)", FIN.header("date_demande"): "Date de demande"}
    spec = table_from_layout(FIN, FIN_ROWS, anchor="C5")
    spec.headers = [renames.get(h, h) for h in FIN.headers]
    conv = read_file(_fin_workbook(tmp_path, spec))
    got = {m.header: (m.found_as, m.cell) for m in conv.structure.missing_headers}
    assert got == {"Montant (€)": ("montant (€)", "H5"), "Date de la demande": ("Date de demande", "J5")}
    assert "montant" not in conv.financements[0].raw  # a renamed column is not guessed into the model


def test_merged_cells_in_a_table_are_reported(tmp_path):
    spec = table_from_layout(FIN, FIN_ROWS)
    path = _fin_workbook(tmp_path, spec, merges=[(FIN.sheet, "L20:M21")])
    # XlsxWriter (like Excel) refuses to merge inside a table; files from other tools have them
    part = sheet_part(FIN.sheet)
    rewrite_part(path, part, lambda x: x.replace(b'<mergeCells count="1"><mergeCell ref="L20:M21"/>',
                                                 b'<mergeCells count="2"><mergeCell ref="B5:C5"/><mergeCell ref="L20:M21"/>'))
    assert b"B5:C5" in zipfile.ZipFile(path).read(part)
    conv = read_file(path)
    assert conv.structure.merged_in_tables == [(FIN.name, FIN.sheet, "B5:C5")]


def test_reading_never_changes_the_file(tmp_path):
    path = _fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS))
    before = path.read_bytes()
    read_file(path)
    assert path.read_bytes() == before


def test_error_cells_without_formula_are_found_with_any_spacing(tmp_path):
    """An error saved as a constant (`<c t="e"><v>#REF!</v></c>`, no formula), even written
    `t = "e"`: the quick pre-check that skips the cell scan must not skip those."""
    import re

    rows = [dict(FIN_ROWS[0], montant=Err("#REF!")), dict(FIN_ROWS[2], annee=Err("#DIV/0!"))]
    path = _fin_workbook(tmp_path, table_from_layout(FIN, rows))
    part = sheet_part(FIN.sheet)

    def constants(xml: bytes) -> bytes:
        out = re.sub(rb"<f>[^<]*</f>", b"", xml)
        return out.replace(b'r="E5" t="e"', b"r='E5' t = 'e'").replace(b't="e"', b't = "e"')

    rewrite_part(path, part, constants)
    xml = zipfile.ZipFile(path).read(part)
    assert b"<f" not in xml and b't = "e"' in xml and b"t = 'e'" in xml
    a, b = read_file(path).financements
    assert a.raw["montant"] == ExcelError("#REF!") and a.cell("montant") == "F4"
    assert b.raw["annee"] == ExcelError("#DIV/0!") and b.cell("annee") == "E5"
    assert b.raw["montant"] == 80000


# --------------------------------------------------------------------------- zip parts
def _edit_central_directory(path: Path, part: str, **fields: int) -> None:
    """Overwrite `crc` or `file_size` of a part in the zip's central directory only (what zipfile
    trusts), as a damaged or crafted file would."""
    data = bytearray(path.read_bytes())
    offsets = {"crc": 16, "file_size": 24}
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = int.from_bytes(data[pos + 28: pos + 30], "little")
        if data[pos + 46: pos + 46 + name_len].decode() == part:
            for name, value in fields.items():
                data[pos + offsets[name]: pos + offsets[name] + 4] = value.to_bytes(4, "little")
            path.write_bytes(bytes(data))
            return
        pos = data.find(b"PK\x01\x02", pos + 46)
    raise AssertionError(part)


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_parts_are_read_exactly_as_zipfile_reads_them(tmp_path, compression):
    path = _fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS))
    if compression == zipfile.ZIP_STORED:
        with zipfile.ZipFile(path) as z:
            parts = [(i.filename, z.read(i)) for i in z.infolist()]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for name, data in parts:
                z.writestr(name, data)
    with zipfile.ZipFile(path) as z, FileSource(path) as src:
        assert src._data is not None  # in memory: the fast path is the one tested
        for info in z.infolist():
            assert info.compress_type == compression
            assert src._inflate(src._zip.getinfo(info.filename)) == z.read(info)
    assert read_file(path).financements[0].montant == Decimal("150000.50")


def test_a_big_file_is_read_from_the_disk_with_the_same_result(tmp_path, monkeypatch):
    from acv_xl.checks import fingerprint
    from acv_xl.reading import source_file

    path = _fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS))
    in_memory = read_file(path)
    monkeypatch.setattr(source_file, "_IN_MEMORY_MAX", 0)
    with FileSource(path) as src:
        assert src._data is None
    from_disk = read_file(path)
    assert fingerprint.canonical_json(from_disk) == fingerprint.canonical_json(in_memory)
    assert from_disk.financements == in_memory.financements and from_disk.names == in_memory.names


def test_a_part_whose_crc_does_not_match_is_refused(tmp_path):
    path = _fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS))
    part = sheet_part(FIN.sheet)
    crc = zipfile.ZipFile(path).getinfo(part).CRC
    _edit_central_directory(path, part, crc=crc ^ 1)
    with pytest.raises(UnreadableWorkbook) as exc:
        read_file(path)
    assert exc.value.code == "STR-01" and "endommagé" in exc.value.message and FIN.sheet in exc.value.message


def test_a_part_longer_than_declared_is_cut_and_refused(tmp_path):
    """A deflate stream inflating past the size the directory declares (what a bomb aimed at
    the size checks does): never inflated beyond that size, and refused, never re-read by zipfile."""
    path = _fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS))
    part = sheet_part(FIN.sheet)
    size = zipfile.ZipFile(path).getinfo(part).file_size
    _edit_central_directory(path, part, file_size=size // 2)
    with FileSource(path) as src:
        info = src._zip.getinfo(part)
        with pytest.raises(UnreadableWorkbook, match="au-delà de la taille"):
            src._inflate(info)
    with pytest.raises(UnreadableWorkbook) as exc:
        read_file(path)
    assert exc.value.code == "STR-01" and "endommagé" in exc.value.message and FIN.sheet in exc.value.message


def test_prefixed_relationship_and_table_parts_are_read(tmp_path):
    """Table and relationship parts with a namespace prefix (`<x:table>`) are the same tables."""
    import re

    path = _fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS))
    k = [t.name for t in layout.TABLES].index(FIN.name) + 1

    def prefix(xml: bytes) -> bytes:
        return re.sub(rb"<(/?)(?![?!])([A-Za-z])", rb"<\1x:\2", xml).replace(b'xmlns="', b'xmlns:x="', 1)

    rels = f"xl/worksheets/_rels/sheet{layout.SHEETS.index(FIN.sheet) + 1}.xml.rels"
    for part in (f"xl/tables/table{k}.xml", rels):
        rewrite_part(path, part, prefix)
    assert zipfile.ZipFile(path).read(f"xl/tables/table{k}.xml").count(b"<x:tableColumn ") == len(FIN.columns)
    conv = read_file(path)
    assert FIN.name not in conv.structure.missing_tables
    assert [line.numero for line in conv.financements] == ["1.1", "1.1", "1.2"]


def test_a_malformed_table_part_is_refused_with_a_french_message(tmp_path):
    path = _fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS))
    k = [t.name for t in layout.TABLES].index(FIN.name) + 1
    rewrite_part(path, f"xl/tables/table{k}.xml", lambda x: x[: len(x) // 2])
    with pytest.raises(UnreadableWorkbook) as exc:
        read_file(path)
    assert exc.value.code == "STR-01" and "description de ses tableaux est illisible" in exc.value.message


@pytest.mark.parametrize("ref", ["A0:J9", "A3:J0", "A3:XFE9", "A3:J1048577"])
def test_a_table_or_name_off_excel_grid_is_missing_not_read_from_row_1(tmp_path, ref):
    """A table whose range leaves Excel's grid (row 0, past row 1,048,576 or column XFD), which Excel
    drops when it repairs the file, was read: « A0:J9 » took the sheet's title rows as its header and
    lines. It is missing (STR-04), as a range that does not parse; so is a named cell at row 0."""
    path = _fin_workbook(tmp_path, table_from_layout(FIN, FIN_ROWS))
    k = [t.name for t in layout.TABLES].index(FIN.name) + 1
    rewrite_part(path, f"xl/tables/table{k}.xml", lambda x: re.sub(rb' ref="[^"]*"', f' ref="{ref}"'.encode(), x))
    rewrite_part(path, "xl/workbook.xml", lambda x: re.sub(rb"(>'?Projet'?!\$B\$)4<", rb"\g<1>0<", x))
    conv = read_file(path)
    assert FIN.name in conv.structure.missing_tables and conv.financements == []
    assert "acv_id" in conv.structure.missing_names


# --------------------------------------------------------------------------- round trip with the template
def _sample_convention() -> Convention:
    raws: dict[str, list[dict]] = {
        "T_Communes": [{"code_insee": "62498", "commune": "Lens", "role": "Ville centre"},
                       {"code_insee": 62510, "commune": "Liévin", "role": "Commune associée"}],
        "T_Diagnostic": [{"axe": "Axe 1", "element": "Étude habitat", "date_source": date(2023, 3, 1),
                          "type": "Étude complémentaire", "cout_estime": "45 000", "etat": "En cours"}],
        "T_Perimetres": [{"code": "E", "type": "Étude", "nom": "CALL", "echelle": "EPCI", "superficie": 24000,
                          "population": 242000},
                         {"code": "O", "type": "ORT", "nom": "Centre", "parent": "E", "superficie": 120.5}],
        "T_Actions": [{"numero": "1.1", "intitule": "Îlot « Bollaert »", "axe": 1, "maitre_ouvrage": "Ville de Lens",
                       "type_mo": "Commune", "maturite": "Mature", "date_debut": date(2024, 1, 1),
                       "date_fin": date(2026, 6, 30), "base": "HT", "cout_total": 250000.0,
                       "cosignataires": "ETAT;CDC"},
                      {"numero": "2.1", "intitule": "Commerces", "axe": "2", "type_mo": "commune",
                       "cout_total": "1 234,56", "date_debut": "2025-01-01"}],
        "T_Indicateurs": [{"numero": "1.1", "indicateur": "Logements vacants", "unite": "%", "valeur_initiale": 12.5,
                           "valeur_cible": 8, "annee_cible": 2026}],
        "T_Financements": [dict(r) for r in FIN_ROWS],
        "T_Gouvernance": [{"instance": "Comité de projet", "organisme": "Ville de Lens", "nom": "M. X",
                           "college": "Élus", "courriel": "x@lens.fr"}],
    }
    conv = Convention()
    for table in layout.TABLES:
        if table.name not in raws:
            continue
        cls, attr = ROW_MODELS[table.name]
        setattr(conv, attr, [build_row(cls, r) for r in raws[table.name]])
    for name, (_sheet, _cell, value) in default_names().items():
        if value is not None:
            conv.names[name] = build_named(name, value)
    return conv


def _filled(raw: dict) -> dict:
    return {k: v for k, v in raw.items() if v is not None and v != ""}


def _comparable(line) -> dict:
    return line.model_dump(exclude={"cells", "raw", "problems", "sheet", "row"})


def _assert_same(read: Convention, conv: Convention, positions: dict[str, tuple[str, str, dict[str, int]]]) -> None:
    """Same typed values, raw values and problems; cells where `positions` says
    (table → (sheet, header anchor, attr → column offset))."""
    for table in layout.TABLES:
        if table.name not in ROW_MODELS or not conv.rows(table.name):
            continue
        got, want = read.rows(table.name), conv.rows(table.name)
        assert [_comparable(x) for x in got] == [_comparable(x) for x in want], table.name
        sheet, anchor, offsets = positions[table.name]
        hr, hc = parse_a1(anchor)
        for i, (g, w) in enumerate(zip(got, want)):
            assert _filled(g.raw) == _filled(w.raw), table.name
            assert g.problems == w.problems, table.name
            assert (g.sheet, g.row) == (sheet, hr + 1 + i)
            assert g.cells == {attr: a1(hr + 1 + i, hc + offsets[attr]) for attr in g.raw}
    for name, nv in conv.names.items():
        assert read.names[name].value == nv.value, name


def test_round_trip_through_the_template(tmp_path):
    conv = _sample_convention()
    path = tmp_path / "modele_rempli.xlsx"
    template.build_workbook(path, conv)
    read = read_file(path)
    s = read.structure
    assert (s.missing_sheets, s.missing_tables, s.missing_headers, s.missing_names) == ([], [], [], [])
    positions = {t.name: (t.sheet, t.anchor, {c.attr: j for j, c in enumerate(t.columns)}) for t in layout.TABLES}
    _assert_same(read, conv, positions)
    assert read.actions[1].problems["cout_total"].suggestion == Decimal("1234.56")


def test_round_trip_after_moving_tables_and_inserting_columns(tmp_path):
    conv = _sample_convention()
    specs, positions = [], {}
    for k, t in enumerate(layout.TABLES):
        headers = list(t.headers)
        headers.insert(min(2, len(headers)), f"Notes {k}")  # a user column in the middle
        anchor = f"{col_letter(3 + k)}{7 + 2 * k}"
        rows = [{c.attr: line.raw.get(c.attr) for c in t.columns} for line in conv.rows(t.name)] \
            if t.name in ROW_MODELS else []
        specs.append(table_from_layout(t, rows, anchor=anchor, headers=headers))
        positions[t.name] = (t.sheet, anchor, {c.attr: headers.index(c.header) for c in t.columns})
    names = {n: v for n, v in default_names().items()}
    read = read_file(build(tmp_path / "deplace.xlsx", specs, names))
    assert read.structure.missing_headers == [] and read.structure.missing_tables == []
    _assert_same(read, conv, positions)


# --------------------------------------------------------------------------- the shipped examples
EXAMPLES = examples.example_conventions()
_TEMPLATE_POSITIONS = {t.name: (t.sheet, t.anchor, {c.attr: j for j, c in enumerate(t.columns)}) for t in layout.TABLES}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_round_trip_through_the_template(tmp_path, name):
    conv = EXAMPLES[name]
    path = tmp_path / name
    template.build_workbook(path, conv)
    read = read_file(path)
    _assert_same(read, conv, _TEMPLATE_POSITIONS)
    for table in layout.TABLES:
        if table.name in ROW_MODELS and conv.rows(table.name):
            # the cells the examples expect are where the template wrote them (the reader also
            # gives the cells of the empty columns, for the rules to point at)
            for g, w in zip(read.rows(table.name), conv.rows(table.name)):
                assert w.cells.items() <= g.cells.items() and (g.sheet, g.row) == (w.sheet, w.row)
    shipped = Path(__file__).resolve().parents[1] / "workbooks" / "exemples" / name
    _assert_same(read_file(shipped), conv, _TEMPLATE_POSITIONS)


@pytest.mark.parametrize("name", sorted(EXAMPLES)[:3])
def test_examples_round_trip_after_moving_tables_and_inserting_columns(tmp_path, name):
    conv = EXAMPLES[name]
    specs, positions, seen = [], {}, []
    for k, t in enumerate(layout.TABLES):
        headers = list(t.headers)
        headers.insert(1, "Remarque du service")
        nth_on_sheet = seen.count(t.sheet)  # side by side, never overlapping
        seen.append(t.sheet)
        anchor = f"{col_letter(4 + 20 * nth_on_sheet)}{30 + k}"  # clear of the named cells
        rows = []
        if t.name in ROW_MODELS:
            rows = [{c.attr: line.raw[c.attr] if c.attr in line.raw else getattr(line, c.attr) for c in t.columns}
                    for line in conv.rows(t.name)]
        specs.append(table_from_layout(t, rows, anchor=anchor, headers=headers))
        positions[t.name] = (t.sheet, anchor, {c.attr: headers.index(c.header) for c in t.columns})
    names = {n: (nc.sheet, nc.cell, conv.names[n].raw if n in conv.names else None)
             for n, nc in layout.NAMED_BY_NAME.items()}
    read = read_file(build(tmp_path / name, specs, names))
    assert read.structure.missing_headers == [] and read.structure.missing_tables == []
    _assert_same(read, conv, positions)


@pytest.mark.libreoffice
def test_example_saved_again_by_libreoffice_reads_the_same(tmp_path):
    """A workbook saved by an office suite (its own XML style, table parts, names) reads the same."""
    from acv_xl.outputs.libreoffice import convert

    name = sorted(EXAMPLES)[0]
    src = tmp_path / "src" / name
    src.parent.mkdir()
    template.build_workbook(src, EXAMPLES[name])
    (saved,) = convert([src], "xlsx", tmp_path / "lo")
    assert saved.read_bytes() != src.read_bytes()
    read = read_file(saved)
    s = read.structure
    assert (s.missing_sheets, s.missing_tables, s.missing_headers, s.missing_names) == ([], [], [], [])
    _assert_same(read, EXAMPLES[name], _TEMPLATE_POSITIONS)


def test_the_collector_comes_back_as_it_was_without_walking_what_was_read():
    """`collector_paused`: the collector back as it was; what was built meanwhile is not walked at
    once (the young generation starts again from zero) but a cycle built meanwhile is still
    collected; objects frozen by a caller (a consolidation's pool) stay frozen."""
    import gc
    import weakref

    from acv_xl.reading.read import collector_paused

    class Node:
        pass

    assert gc.isenabled()
    frozen = gc.get_freeze_count()  # Python 3.12 starts with objects of its own there
    with collector_paused():
        assert not gc.isenabled()
        kept = [{"a": [i]} for i in range(5000)]
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle, unreachable once the names go
        dead = weakref.ref(a)
        del a, b
        before = [g["collections"] for g in gc.get_stats()]
    after = [g["collections"] for g in gc.get_stats()]
    if frozen == 0:  # else objects frozen already are left as they are, and nothing is settled
        assert after == before  # no collection on the way out
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.collect()
    assert dead() is None and len(kept) == 5000

    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()  # left disabled, as the caller had it
    gc.enable()

    frozen = [[] for _ in range(10)]
    gc.freeze()
    try:
        count = gc.get_freeze_count()
        with collector_paused():
            more = [[] for _ in range(10)]
        assert gc.get_freeze_count() == count and gc.isenabled() and frozen and more
    finally:
        gc.unfreeze()



def test_overlapping_pauses_of_the_collector_leave_it_as_it_was():
    """The Excel server reads several workbooks at once, each read pausing the collector: two pauses
    overlapping in every order (a second one beginning while the first ends) leave it enabled —
    each pause restoring what it had found left it disabled for good, for the server's life."""
    import gc
    import threading

    from acv_xl.reading.read import collector_paused

    assert gc.isenabled()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()  # begins while the first holds it disabled
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second is still under way
    second.__exit__(None, None, None)
    assert gc.isenabled()

    # the same from threads, the switch between them as often as Python allows
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        def read_often() -> None:
            for _ in range(2000):
                with collector_paused():
                    pass

        threads = [threading.Thread(target=read_often) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert gc.isenabled()

@pytest.mark.skipif(not hasattr(os, "fork"), reason="a process forked (consolidation's workers): POSIX only")
def test_a_process_forked_while_a_pause_is_counted_can_pause_the_collector():
    """A consolidation forks its workers, each pausing the collector (`gc_paused`): forked while
    another thread of the caller held the pauses' lock (counting its own), the worker found it held
    for ever — no thread of its own to release it — and the consolidation waited for it for ever."""
    from acv_xl.reading import collector

    with collector._LOCK:  # another thread's pause beginning or ending at the moment of the fork
        pid = os.fork()
        if pid == 0:  # the worker
            import signal

            status = 1
            try:  # whatever happens, this process never goes back to the tests
                signal.alarm(5)  # a hang ends the process (status of SIGALRM), not the tests
                with collector.paused():
                    pass
                status = 0
            finally:
                os._exit(status)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 0


def test_a_complete_header_mapped_once_stays_each_table_s_own():
    """The column mapping of a complete header row is kept (`_COMPLETE_HEADERS`): read again, the
    same mapping, nothing recorded missing; another definition of a table of the same name (fewer
    columns: an older template's) maps by its own columns, and the current one, given a header
    lacking a column, still records it missing."""
    import dataclasses

    from acv_xl.contract.model import empty
    from acv_xl.reading import read as rd
    from acv_xl.reading.source import TableBlock

    t = layout.T_COMMUNES
    header = [c.header for c in t.columns]
    block = TableBlock(name=t.name, sheet=t.sheet, first_row=3, first_col=1, header=header, rows=[])
    for _ in range(2):
        conv = empty(Convention)
        assert rd._map_columns(t, block, conv) == {c.attr: j for j, c in enumerate(t.columns)}
        assert conv.structure.missing_headers == []
    older = dataclasses.replace(t, columns=t.columns[:1])
    conv = empty(Convention)
    assert rd._map_columns(older, block, conv) == {t.columns[0].attr: 0}
    short = TableBlock(name=t.name, sheet=t.sheet, first_row=3, first_col=1, header=header[:1], rows=[])
    assert rd._map_columns(older, short, empty(Convention)) == {t.columns[0].attr: 0}  # complete for it
    conv = empty(Convention)
    assert rd._map_columns(t, short, conv) == {t.columns[0].attr: 0}
    assert [m.header for m in conv.structure.missing_headers] == [c.header for c in t.columns[1:]]


def _dumped(conv: Convention) -> dict:
    return {name: [(type(r), vars(r).copy()) for r in conv.rows(name)]
            for name in ROW_MODELS} | {"names": conv.model_dump()["names"]}


def test_a_list_met_again_is_read_as_the_first_time_each_workbook_its_own_rows(monkeypatch):
    """The template's lists (financeurs, dispositifs) and the cell addresses are remembered from one
    workbook to the next (a consolidation reads hundreds): a workbook read after another gives the
    rows it gives read alone, and a change to one workbook's rows never reaches another's."""
    from acv_xl.reading import read

    shipped = sorted((Path(__file__).resolve().parents[1] / "workbooks" / "exemples").glob("*.xlsx"))
    monkeypatch.setattr(read, "_LIST_ROWS", {})
    monkeypatch.setattr(read, "_CELLS", {})
    alone = []
    for path in shipped:
        read._LIST_ROWS.clear()
        read._CELLS.clear()
        alone.append(_dumped(read_file(path)))
    read._LIST_ROWS.clear()
    first = read_file(shipped[0])
    again = [read_file(path) for path in shipped]
    assert read._LIST_ROWS  # the lists were remembered…
    assert [_dumped(c) for c in again] == alone  # …and give what each workbook gives alone
    for table in ("financeurs", "dispositifs"):
        mine, other = getattr(first, table), getattr(again[0], table)
        assert mine and all(a is not b and a.raw is not b.raw and a.problems is not b.problems
                            for a, b in zip(mine, other))
    first.financeurs[0].raw["code"] = "CHANGÉ"
    first.financeurs[0].problems["code"] = None
    assert _dumped(read_file(shipped[0])) == alone[0]


class _ListsOnly:
    """A `Source` holding only the template's list tables, with the rows given (`read_source` reads any Source)."""

    def __init__(self, rows: dict[str, list[list]]):
        self.rows = rows

    def sheet_names(self):
        return list(layout.SHEETS)

    def table(self, name):
        from acv_xl.reading.source import TableBlock

        t = next((t for t in layout.TABLES if t.name == name), None)
        if t is None or name not in self.rows:
            return None
        return TableBlock(name, t.sheet, 3, 1, list(t.headers), [list(r) for r in self.rows[name]])

    def named(self, name):
        return None

    def occupied(self, sheet, r1, r2, c1, c2):
        return []


def test_a_list_met_again_with_an_excel_error_where_the_first_had_its_text_is_read_as_such(monkeypatch):
    """A list is copied from the one met before only when its values are the same values: an Excel
    error (`#REF!`) equals its text, yet it is a value problem, not the text « #REF! »."""
    from acv_xl.reading import read
    from acv_xl.reading.read import read_source

    monkeypatch.setattr(read, "_LIST_ROWS", {})
    fin = layout.T_FINANCEURS
    texts = [["ETAT", "État", "Etat", None, None, None][:len(fin.columns)], ["#REF!"] * len(fin.columns)]
    first = read_source(_ListsOnly({fin.name: texts}))
    assert read._LIST_ROWS  # kept: texts and blanks only
    again = read_source(_ListsOnly({fin.name: texts}))
    assert [r.model_dump() for r in again.financeurs] == [r.model_dump() for r in first.financeurs]
    errors = [texts[0], [ExcelError("#REF!")] * len(fin.columns)]
    read_error = read_source(_ListsOnly({fin.name: errors}))
    assert read_error.financeurs[1].code is None and read_error.financeurs[1].problems["code"].kind == "erreur_excel"
    assert first.financeurs[1].code == "#REF!" and "code" not in first.financeurs[1].problems
    # and the list as first met is still copied as such afterwards
    assert [r.model_dump() for r in read_source(_ListsOnly({fin.name: texts})).financeurs] == \
        [r.model_dump() for r in first.financeurs]


def test_a_json_file_is_said_json_never_csv(tmp_path):
    """A JSON file (a consolidation's `--json` summary given to `valider` by mistake) has commas:
    it was « un fichier texte (CSV) » to open in Excel and copy into the template. It is said to be
    JSON — acv-xl's own summary by its name — and a CSV stays a CSV."""
    from acv_xl.reading.provenance import mark

    files = {"resume.json": ('{\n  "acv_xl": "%s",\n  "conventions": []\n}' % mark("consolidation"),
                             "est le résumé JSON d'une consolidation (acv-xl consolider --json), pas un classeur Excel."),
             "donnees.json": ('[{"commune": "Arras", "montant": 1}]', "est un fichier de données JSON, pas un classeur Excel."),
             "liste.csv": ("commune;montant\nArras;1\n", "est un fichier texte (CSV)")}
    for name, (text, said) in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(UnreadableWorkbook) as exc:
            read_file(tmp_path / name)
        assert exc.value.code == "STR-01" and said in exc.value.message, exc.value.message
        assert ("CSV" in exc.value.message) == name.endswith(".csv")


def test_a_listed_code_typed_in_another_case_is_the_listed_code(tmp_path):
    """« etat » typed for « ETAT » in the plan, « ort » for the périmètre « ORT »: Excel's drop-down lists
    (Financeurs!A, Périmètres!A) accept them without a word, where FIN-02 and ACT-04 refused the
    workbook and the line's money was a financeur of its own in the totals. Both read as the listed code."""
    from acceptance_support import edited_copy, table_of
    from conventions import clean
    from openpyxl.utils.cell import range_boundaries

    from acv_xl.checks.validate import validate_file

    base = tmp_path / "propre.xlsx"
    template.build_workbook(base, clean())

    def edit(wb):
        for table, header in ((layout.T_FINANCEMENTS, "financeur"), (layout.T_DISPOSITIFS, "financeur"),
                              (layout.T_ACTIONS, "perimetre")):
            ws, t = table_of(wb, table.name)
            c1, r1, _c2, _r2 = range_boundaries(t.ref)
            cell = ws.cell(r1 + 1, c1 + list(table.headers).index(table.header(header)))
            cell.value = cell.value.lower()
            assert cell.value != cell.value.upper()

    typed = edited_copy(base, tmp_path / "minuscules.xlsx", edit)
    conv = read_file(typed)
    assert conv.financements[0].raw["financeur"].islower() and conv.financements[0].financeur.isupper()
    assert conv.dispositifs[0].financeur.isupper() and conv.actions[0].perimetre.isupper()
    got, want = validate_file(typed), validate_file(base)
    assert [f.code for f in got.findings] == [f.code for f in want.findings]
    assert got.totaux.as_json() == want.totaux.as_json()


def test_the_search_for_the_add_ins_date_form_finds_what_a_plain_search_finds():
    """`_may_hold_officejs_date` looks for each mark by memchr on a rare byte (a search for « <! » or
    « ># » stopped at every tag: 0,45 ms a workbook); it answers as the plain definition does — a
    digit or a tag before a « Z » that ends a text, a « # » that starts one, a comment, CDATA, a
    character reference or Excel's escapes — parts full of « Z », « # », « _ », « & » included."""
    import random

    from acv_xl.reading.source_file import _may_hold_officejs_date

    def plain(d: bytes) -> bool:
        return any(d[k - 1:k].isdigit() or d[k - 1:k] == b">" for k in range(1, len(d)) if d.startswith(b"Z</", k)) \
            or b">#" in d \
            or any(m in d for m in (b"!--", b"![CDATA[", b"&#", b"_x005A_", b"_x005a_", b"_x0023_", b"_x003"))

    toks = [b"<", b">", b"Z", b"</", b"#", b"1", b"a", b"<!--", b"<![CDATA[", b"&#", b"&", b"_", b"_x005A_",
            b"_x0023_", b"_x003", b"_x000D_", b"!", b"-", b" ", b"t>", b"Z</", b"<t>", b"</t>", b"[#Totaux]"]
    rng = random.Random(20261207)
    for _ in range(20_000):
        d = b"".join(rng.choice(toks) for _ in range(rng.randint(0, 40)))
        for tok in (b"Z", b"[#T]", b"_", b"&", b"!"):
            if rng.random() < 0.05:
                d = tok * rng.randint(60, 80) + d
        assert _may_hold_officejs_date(d) == plain(d), d
