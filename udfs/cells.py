"""Cell values of an xlwings Server request, converted in one pass, exactly as xlwings converts them.

xlwings converts a request's values cell by cell through its conversion pipeline: a function call
per cell, and for custom-function arguments a retried `import pyodide` per cell (≈ 35 µs each
outside Pyodide: two seconds for a 5 000-line plan). The same rules are applied here in one list
comprehension per row; `tests/test_cells.py` compares both, engine by engine, on dates, errors and
empty cells — but a text typed like a date-time, not as the add-in writes a date (`values.officejs_date`),
stays a text, as in the file (xlwings converts it, or raises without its « Z »), and a time alone
(dated 30/12/1899) is a time, as the file reader reads it (`time_alone`). No xlwings import: the regular expression is xlwings' own pattern (checked by the
tests), so this module also serves the desktop and the tests.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from acv_xl.contract.values import EXCEL_ERRORS, ExcelError, officejs_date, time_alone

# xlwings.pro._xlremote.datetime_pattern: what the remote engine (scripts) reads as a date
DATETIME_PATTERN = (
    r"^(-?(?:[1-9][0-9]*)?[0-9]{4})-(1[0-2]|0[1-9])-(3[01]|0[1-9]|[12][0-9])T(2[0-3]|[01][0-9]):"
    r"([0-5][0-9]):([0-5][0-9])(\.[0-9]+)?(Z|[+-](?:2[0-3]|[01][0-9]):[0-5][0-9])?$"
)
_ERRORS = frozenset(EXCEL_ERRORS)

try:  # Pyodide ≥ 0.28 (xlwings Lite) hands empty cells of function arguments over as JsNull;
    # by name: Pyodide is the browser's runtime, never a package to install
    _JsNull = importlib.import_module("pyodide.ffi").JsNull
    JSNULL_ARRIVES = True
except ImportError:  # CPython (xlwings Server, tests): no such value can arrive
    class _JsNull:  # noqa: N801 — a class no value is ever an instance of
        pass
    JSNULL_ARRIVES = False
JsNull = _JsNull


# ISO date-time text → its datetime (immutable: shared), for the texts seen before: a plan repeats
# the same few dates over thousands of lines, and the pattern and the parse cost a microsecond a cell
_DATES: dict[str, dt.datetime] = {}
_MAX_DATES = 10_000  # then start again: a bound on memory for a server running for months


# how the add-in writes every date (JavaScript's `toISOString`: milliseconds and « Z »); a text typed
# like a date-time otherwise (« 2023-11-01T00:00:00Z », pasted from an export) is a text in the file
# too, which the command line does not take for a date (FIN-17): nor does the button. A text typed in
# exactly the add-in's form cannot be told from a date here: every reader takes it for that date
# (`values.officejs_date`), the file reader too


def _new_date(text: str) -> Any:
    """The date-time of a text in the add-in's date form (kept in `_DATES`), else the text — also a
    text that only looks like one (« 2024-03-01T10:00:00 »: xlwings cut its last digit for a « Z » and
    stopped the whole Valider there)."""
    value = officejs_date(text)
    if value is None:
        return text
    if len(_DATES) >= _MAX_DATES:
        _DATES.clear()
    _DATES[text] = value
    return value


# A time alone (« 12:30 », a serial number below 1) comes dated 30/12/1899 from the add-in and from
# COM; the file reader reads it as a time: so does the button (`values.time_alone`), else its findings
# said « 30/12/1899 » (« saisissez l'année 1899 ») and its fingerprint differed from the command line's
# for a time in a comment — a workbook validated by the button « modifié depuis la validation »


# COM gives an error cell as its code (CVErr: 0x800A0000 + xlErr…, a signed int; a cell's number is a
# float): xlwings names only the seven oldest with err_to_str, and the others came as an int — #SPILL!
# in « Montant (€) » read as an amount of -2 146 826 243 €, counted in every total
_COM_ERROR_BASE = -2146828288
_COM_ERRORS = {2000: "#NULL!", 2007: "#DIV/0!", 2015: "#VALUE!", 2023: "#REF!", 2029: "#NAME?", 2036: "#NUM!",
               2042: "#N/A", 2043: "#GETTING_DATA", 2045: "#SPILL!", 2046: "#CONNECT!", 2047: "#BLOCKED!",
               2048: "#UNKNOWN!", 2049: "#FIELD!", 2050: "#CALC!"}


def com_error(code: int) -> Any:
    """The `ExcelError` of a COM error code, or the int when it is none (no cell holds an int else)."""
    if 0 <= code - _COM_ERROR_BASE < 0x10000:
        # an error Excel added later than this list: an error still, as the saved file holds it (#VALUE!)
        return ExcelError(_COM_ERRORS.get(code - _COM_ERROR_BASE, "#VALUE!"))
    return code


def remote_rows(rows: list[list[Any]], height: int | None = None, width: int | None = None) -> list[list[Any]]:
    """A sheet's values as `range.options(ndim=2, err_to_str=True).value` gives them on the remote
    engine (« » → None, ISO date-time text → datetime), error texts then typed `ExcelError` as the
    file reader types them (what `XwSource` used to do in a second pass). `height`, `width`: only
    the first rows and columns (the used range), cut in the same pass."""
    simple, known = _SIMPLE, _DATES
    # ":" first: the pattern needs it (hh:mm:ss), and a `in` test costs less than a regex; a date
    # already met is found in `_DATES` (a datetime is never false); no error text holds a ":"
    return [[((known.get(v) or _new_date(v)) if ":" in v else simple.get(v, v)) if v.__class__ is str else v
             for v in row[:width]] for row in rows[:height]]


def com_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """A sheet's values as COM gives them on the desktop (`range.options(ndim=2, err_to_str=True)`),
    typed as the file reader types them: an error text (or the code of one xlwings does not name) its
    `ExcelError`, a text in the add-in's date form its date, a time alone its time — as `remote_rows`
    types the add-in's values."""
    errors, known, when = _ERROR_OF, _DATES, dt.datetime
    # only a text of 24 characters may be in the add-in's date form
    return [[((known.get(v) or _new_date(v)) if len(v) == 24 else errors.get(v, v)) if v.__class__ is str
             else time_alone(v) if v.__class__ is when else com_error(v) if v.__class__ is int else v
             for v in row] for row in rows]


# the texts that are not themselves, in one lookup: « » (an empty cell) and the error texts (their
# `ExcelError`, immutable text, shared)
_ERROR_OF: dict[str, ExcelError] = {e: ExcelError(e) for e in _ERRORS}
_SIMPLE: dict[str, Any] = {"": None, **_ERROR_OF}


OFFICEJS_SPECIAL = (dict, _JsNull)  # the values officejs_cell changes besides « »


def officejs_cell(value: Any) -> Any:
    """One cell of a custom function's argument as xlwings' officejs engine cleans it with the
    default options: JsNull or « » → None, an error → None (err_to_str is off), an Office data
    type → its basic value (its text without one), anything else unchanged."""
    if value.__class__ is _JsNull:
        return None
    if value.__class__ is dict:
        if value.get("type") == "Error":
            return None
        if "basicValue" in value:
            return value["basicValue"]
        # none (an entity may come with its text alone, which is what the cell shows, COM and the file give;
        # xlwings' KeyError was « #ACV: erreur inattendue »)
        text = value.get("text")
        return text if text.__class__ is str else None
    return None if value == "" else value


def officejs_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """A whole 2-D argument cleaned as xlwings does (the reference `officejs_cell` is tested on)."""
    special = OFFICEJS_SPECIAL
    return [[officejs_cell(v) if v.__class__ in special else None if v == "" else v for v in row]
            for row in rows]


def ensure_2d(value: Any) -> list[list[Any]]:
    """As xlwings' Ensure2DStage: a scalar → [[value]], a flat list → one row."""
    if not isinstance(value, (list, tuple)):
        return [[value]]
    if value and not isinstance(value[0], (list, tuple)):
        return [list(value)]
    return value if value.__class__ is list else [list(r) for r in value]


class OfficeJsTable:
    """xlwings converter (`@xw.arg(..., convert=OfficeJsTable)`) for the table arguments on xlwings
    Server and Lite: the argument kept as sent, 2-D (as `ndim=2`), no pass over its cells. A table
    function reads a few columns of it: `udfs.tables` cleans each cell it reads with
    `officejs_cell`, as xlwings would have cleaned all of them (a 5 000-line plan: 30 000 cells
    xlwings converted for the 5 000 a total reads)."""

    @staticmethod
    def reader(options):
        from xlwings.conversion import Pipeline

        def stage(ctx):
            ctx.value = ensure_2d(ctx.value)

        return Pipeline().append_stage(stage)


def count_cells(value: Any) -> int:
    """Cells in a request's (nested) list: a scalar is one cell, a list of rows the sum of their
    lengths (a list inside a cell counts as one: the body's size cap bounds it)."""
    if value.__class__ is not list:
        return 1
    n = 0
    for v in value:
        if v.__class__ is not list:
            n += 1
        elif v and v[0].__class__ is list:
            n += sum(map(len, v)) if all(r.__class__ is list for r in v) else count_cells(v)
        else:
            n += len(v)
    return n
