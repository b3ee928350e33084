"""udfs/cells.py: the one-pass conversion of a request's values gives exactly what xlwings' own
per-cell conversion gives, engine by engine — remote (the scripts' workbook) and officejs (the
custom functions' arguments) — on dates, errors, empty cells and the payloads of real workbooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acv_xl.contract.values import EXCEL_ERRORS, ExcelError
from udfs import cells, scripts
from udfs.xw_source import XwSource
from xlwings_payload import payload_from_xlsx, remote_book, table_values

ROOT = Path(__file__).resolve().parents[1]
EXEMPLES = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))
CASES = EXEMPLES or [ROOT / "workbooks" / "exemples" / "aucun-exemple.xlsx"]

# what a sheet's values hold in a payload (tests/xlwings_payload.py, Office.js getBookData)
REMOTE_VALUES = [
    ["", "texte", "1.2", "ETAT", "12:30", "a:b", "T", "2024-03-01T00:00:00.000Z"],
    ["2024-03-01T10:20:30.000Z", "2024-03-01T10:20:30.5Z", "0001-01-01T00:00:00Z", "2024-13-01T00:00:00Z",
     "#DIV/0!", "#N/A", "#REF!", "#GETTING_DATA"],
    [0, 1, 2.5, -3, True, False, None, "  "],
    ["#SPILL!", "#CALC!", "#NAME?", "#NULL!", "#NUM!", "#VALUE!", "#DATA!", "=A1"],
    ["le 2024-03-01T10:20:30Z", "", [1, 2], {"a": 1}, 1.5, "#N/A", "x", "2024-03-01T00:00:00Z"],
    ["", "", "", "", "", "", "", ""],
    [float("nan"), True, 1, 1.0, "1", "#n/a", " #N/A", "Z"],
]


def _xlwings_remote(rows):
    """The old path: the remote engine's conversion with err_to_str, then errors typed."""
    from xlwings.pro import _xlremote

    got = _xlremote.Engine.clean_value_data(rows, dt.datetime, None, None, True)
    return [[ExcelError(v) if isinstance(v, str) and v in EXCEL_ERRORS else v for v in row] for row in got]


def _typed(rows):
    return [[(type(v).__name__, v) for v in row] for row in rows]


def test_the_date_pattern_is_xlwings_own():
    from xlwings.pro import _xlremote

    assert cells.DATETIME_PATTERN == _xlremote.datetime_pattern


# texts typed like a date-time, not as the add-in writes a date (milliseconds and « Z »): xlwings
# converts them, the file reader keeps them as texts, and so does `remote_rows`
TYPED_AS_TEXT = {"2024-03-01T10:20:30.5Z", "0001-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "2024-03-01T00:00:00Z"}


def test_remote_values_convert_exactly_as_xlwings():
    ours, theirs = _typed(cells.remote_rows(REMOTE_VALUES)), _typed(_xlwings_remote(REMOTE_VALUES))
    for row, mine, xl in zip(REMOTE_VALUES, ours, theirs):
        for v, a, b in zip(row, mine, xl):
            assert a == (("str", v) if isinstance(v, str) and v in TYPED_AS_TEXT else b), v
    got = cells.remote_rows([["2024-03-01T10:20:30.000Z", "#N/A", ""]])[0]
    assert got[0] == dt.datetime(2024, 3, 1, 10, 20, 30) and type(got[1]) is ExcelError and got[2] is None


@pytest.mark.parametrize("text", ["2024-03-01T10:20:30", "2024-03-01T00:00:00+01:00"])
def test_a_date_without_z_stays_the_text_typed(text):
    """xlwings cuts the last character of every date-time text: without « Z » it raises. Such a text is
    typed by a user (Office.js writes every date with its « Z »): it stays a text, as the file reader
    reads it — raising stopped the whole Valider (« erreur inattendue ») for one comment."""
    with pytest.raises(ValueError):
        _xlwings_remote([[text]])
    assert cells.remote_rows([[text, "2024-03-01T10:20:30.000Z"]]) == [[text, dt.datetime(2024, 3, 1, 10, 20, 30)]]


def test_a_text_typed_like_a_date_time_with_its_z_stays_a_text():
    """« 2023-11-01T00:00:00Z » pasted as text in « Date de la demande »: the command line says it is no date
    (FIN-17), the button took it for one. The add-in writes every date with its milliseconds."""
    assert cells.remote_rows([["2023-11-01T00:00:00Z", "2023-11-01T00:00:00.000Z", "2023-02-30T00:00:00.000Z"]]) == [
        ["2023-11-01T00:00:00Z", dt.datetime(2023, 11, 1), "2023-02-30T00:00:00.000Z"]]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_every_sheet_of_the_examples_reads_as_through_xlwings(path):
    """XwSource now reads the payload itself: same values, same types, as `range.value` gave."""
    book = remote_book(payload_from_xlsx(path, include=scripts.INCLUDE))
    src = XwSource(book)
    for sh in book.sheets:
        last = sh.used_range.last_cell
        old = sh.range((1, 1), (last.row, last.column)).options(ndim=2, err_to_str=True).value or []
        old = [[ExcelError(v) if isinstance(v, str) and v in EXCEL_ERRORS else v for v in row] for row in old]
        new = src.values(sh.name)
        if sh.name in scripts.INCLUDE:
            assert _typed(new) == _typed(old), sh.name
        else:  # not sent by the add-in: no values either way
            assert not any(v is not None for row in new for v in row)


OFFICEJS_ARG = [
    ["N° action", "", None, {"type": "Error", "basicValue": "#DIV/0!", "errorType": "Div0"}],
    [1, 2.5, True, {"type": "FormattedNumber", "basicValue": 45352, "numberFormat": "jj/mm/aaaa"}],
    ["2024-03-01T00:00:00.000Z", "#N/A", 0, False],
]


def test_officejs_arguments_convert_exactly_as_xlwings():
    from xlwings.pro import _xlofficejs

    expected = _xlofficejs.Engine.clean_value_data(OFFICEJS_ARG, dt.datetime, None, None, False)
    assert _typed(cells.officejs_rows(OFFICEJS_ARG)) == _typed(expected)
    assert _typed([[cells.officejs_cell(v) for v in row] for row in OFFICEJS_ARG]) == _typed(expected)


def test_each_cell_a_function_reads_is_what_xlwings_conversion_then_ours_gives():
    """On the server a table argument skips xlwings' per-cell pass (OfficeJsTable): each cell the
    function reads is cleaned on the way (tables._clean). Same value, cell by cell."""
    from xlwings import conversion
    from udfs.tables import _clean

    default = conversion.read(None, OFFICEJS_ARG, {"ndim": 2}, engine_name="officejs")
    ours = conversion.read(None, OFFICEJS_ARG, {"ndim": 2, "convert": cells.OfficeJsTable}, engine_name="officejs")
    assert ours == OFFICEJS_ARG  # kept as sent: no pass over the cells
    assert _typed([[_clean(v) for v in row] for row in ours]) == _typed([[_clean(v) for v in row] for row in default])
    for arg in (["a", "", 3], "x", [[None]]):  # shapes: always 2-D, as ndim=2
        got = conversion.read(None, arg, {"ndim": 2, "convert": cells.OfficeJsTable}, engine_name="officejs")
        assert cells.officejs_rows(got) == conversion.read(None, arg, {"ndim": 2}, engine_name="officejs")


@pytest.mark.parametrize("path", CASES[:2], ids=lambda p: p.name)
def test_a_real_plan_gives_the_same_lines_either_way(path):
    from xlwings import conversion
    from acv_xl.contract.model import LigneFinancement
    from udfs import tables

    plan = table_values(path, "T_Financements")
    plan[3][5] = {"type": "Error", "basicValue": "#DIV/0!", "errorType": "Div0"}  # an error in the range
    plan[4][4] = {"type": "FormattedNumber", "basicValue": 2025, "numberFormat": "0"}
    default = conversion.read(None, plan, {"ndim": 2}, engine_name="officejs")
    ours = conversion.read(None, plan, {"ndim": 2, "convert": cells.OfficeJsTable}, engine_name="officejs")
    tables._CACHE.clear()
    a = tables.rows(default, LigneFinancement)
    tables._CACHE.clear()
    b = tables.rows(ours, LigneFinancement)
    assert [r.model_dump() for r in a] == [r.model_dump() for r in b] and len(a) > 3


def test_count_cells_of_request_arguments():
    assert cells.count_cells([[["a", "b"], [1, 2]], [["ETAT"]], "x"]) == 6
    assert cells.count_cells([]) == 0
    assert cells.count_cells([["a", "b", "c"]]) == 3


def test_a_time_alone_is_read_as_a_time_as_the_file_reader_reads_it():
    """The add-in (and COM) date a time alone 30/12/1899: the file reader reads a time, and so does the
    button — from the request's text, or from the desktop's datetime."""
    # (serial 1, the add-in's « 1899-12-31 », is 01/01/1900, as Excel shows it and the file reader reads it)
    assert cells.remote_rows([["1899-12-30T12:30:00.000Z", "1899-12-31T00:00:00.000Z"]]) == [
        [dt.time(12, 30), dt.datetime(1900, 1, 1)]]
    assert cells.time_alone(dt.datetime(1899, 12, 30, 12, 30)) == dt.time(12, 30)
    assert cells.time_alone(dt.datetime(2024, 3, 1, 12, 30)) == dt.datetime(2024, 3, 1, 12, 30)


def test_the_desktop_reader_reads_a_time_alone_as_a_time():
    """On the desktop (COM), xlwings gives « 12:30 » as 30/12/1899 12:30: `XwSource` reads a time, as the
    file reader does, and leaves dates and errors as they were read."""
    from types import SimpleNamespace

    from acv_xl.contract.values import ExcelError
    from udfs.xw_source import XwSource

    got = [[dt.datetime(1899, 12, 30, 12, 30), dt.datetime(2024, 3, 1), "#N/A", "texte"]]
    rng = SimpleNamespace(options=lambda **_: SimpleNamespace(value=got))
    sheet = SimpleNamespace(name="Feuille", impl=SimpleNamespace(api=object()),  # COM: no payload
                            used_range=SimpleNamespace(last_cell=SimpleNamespace(row=1, column=4)),
                            range=lambda *_: rng)
    values = XwSource(SimpleNamespace(sheets=[sheet])).values("Feuille")
    assert values == [[dt.time(12, 30), dt.datetime(2024, 3, 1), ExcelError("#N/A"), "texte"]]
    assert type(values[0][2]) is ExcelError


def test_the_desktop_reader_reads_a_text_in_the_add_ins_date_form_as_that_date():
    """Excel desktop gives a text « 2024-03-01T00:00:00.000Z » as a text; the add-in gives a date cell in
    that form: every reader reads it as the date (`values.officejs_date`), else the desktop button and
    the web button disagreed on the same workbook. Only that exact form."""
    from types import SimpleNamespace

    from udfs.xw_source import XwSource

    got = [["2024-03-01T00:00:00.000Z", "1899-12-30T12:30:00.000Z", "2024-03-01T00:00:00.000Z\n",
            "2024-02-30T00:00:00.000Z", "2024-03-01T00:00:00Z"]]
    rng = SimpleNamespace(options=lambda **_: SimpleNamespace(value=got))
    sheet = SimpleNamespace(name="Feuille", impl=SimpleNamespace(api=object()),  # COM: no payload
                            used_range=SimpleNamespace(last_cell=SimpleNamespace(row=1, column=5)),
                            range=lambda *_: rng)
    values = XwSource(SimpleNamespace(sheets=[sheet])).values("Feuille")
    assert values == [[dt.datetime(2024, 3, 1), dt.time(12, 30)] + got[0][2:]]
    # the add-in's payload: the same values
    assert cells.remote_rows(got) == values


def test_excel_365s_newer_errors_are_errors_for_the_button_on_the_web_and_the_desktop():
    """#BLOCKED!, #BUSY!, #CONNECT!… (linked data types, IMAGE, Python in Excel): the add-in sends them as
    their text, which the button took for text typed by the user (« Validé » with one in a comment, where
    the command line reads the saved file's #VALUE!: STR-06); COM gives the newer ones as their code, an
    int xlwings leaves as it is (#SPILL! in « Montant (€) » was an amount of -2 146 826 243 €)."""
    from types import SimpleNamespace

    from udfs.xw_source import XwSource

    for text in ("#BLOCKED!", "#BUSY!", "#CONNECT!", "#EXTERNAL!", "#FIELD!", "#PYTHON!", "#TIMEOUT!", "#UNKNOWN!"):
        (value,) = cells.remote_rows([[text]])[0]
        assert type(value) is ExcelError and value == text
    base = -2146828288  # CVErr(0): 0x800A0000
    got = [[base + 2045, base + 2047, base + 2050, base + 2099, 1234.5, "#DIV/0!"]]
    rng = SimpleNamespace(options=lambda **_: SimpleNamespace(value=got))
    sheet = SimpleNamespace(name="Feuille", impl=SimpleNamespace(api=object()),  # COM: no payload
                            used_range=SimpleNamespace(last_cell=SimpleNamespace(row=1, column=6)),
                            range=lambda *_: rng)
    values = XwSource(SimpleNamespace(sheets=[sheet])).values("Feuille")
    assert values == [["#SPILL!", "#BLOCKED!", "#CALC!", "#VALUE!", 1234.5, "#DIV/0!"]]
    assert [type(v) for v in values[0]] == [ExcelError] * 4 + [float, ExcelError]
