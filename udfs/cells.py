"""Cell values of an xlwings Server request, converted in one pass, exactly as xlwings converts them.

xlwings converts a request's values cell by cell through its conversion pipeline: a function call
per cell, and for custom-function arguments a retried `import pyodide` per cell (≈ 35 µs each
outside Pyodide: two seconds for a 5 000-line plan). The same rules are applied here in one list
comprehension per row; `tests/test_cells.py` compares both, engine by engine, on dates, errors and
empty cells. No xlwings import: the regular expression is xlwings' own pattern (checked by the
tests), so this module also serves the desktop and the tests.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from typing import Any

from acv_xl.contract.values import EXCEL_ERRORS, ExcelError

# xlwings.pro._xlremote.datetime_pattern: what the remote engine (scripts) reads as a date
DATETIME_PATTERN = (
    r"^(-?(?:[1-9][0-9]*)?[0-9]{4})-(1[0-2]|0[1-9])-(3[01]|0[1-9]|[12][0-9])T(2[0-3]|[01][0-9]):"
    r"([0-5][0-9]):([0-5][0-9])(\.[0-9]+)?(Z|[+-](?:2[0-3]|[01][0-9]):[0-5][0-9])?$"
)
_DATETIME = re.compile(DATETIME_PATTERN)
_ERRORS = frozenset(EXCEL_ERRORS)

try:  # Pyodide ≥ 0.28 (xlwings Lite) hands empty cells of function arguments over as JsNull;
    # by name: Pyodide is the browser's runtime, never a package to install
    _JsNull = importlib.import_module("pyodide.ffi").JsNull
except ImportError:  # CPython (xlwings Server, tests): no such value can arrive
    class _JsNull:  # noqa: N801 — a class no value is ever an instance of
        pass


def _iso(text: str) -> dt.datetime:
    # as xlwings: the last character (the « Z ») is cut off, Excel has no time zones
    return dt.datetime.fromisoformat(text[:-1])


def remote_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """A sheet's values as `range.options(ndim=2, err_to_str=True).value` gives them on the remote
    engine (« » → None, ISO date-time text → datetime), error texts then typed `ExcelError` as the
    file reader types them (what `XwSource` used to do in a second pass)."""
    match, errors, Err = _DATETIME.match, _ERRORS, ExcelError
    # ":" first: the pattern needs it (hh:mm:ss), and a `in` test costs less than a regex
    return [[(None if v == "" else Err(v) if v in errors else _iso(v) if ":" in v and match(v) else v)
             if v.__class__ is str else v for v in row] for row in rows]


def _officejs_special(value: Any) -> Any:
    if value.__class__ is _JsNull:
        return None
    if value["type"] == "Error":  # a formula error in the range: None (err_to_str is off)
        return None
    return value["basicValue"]  # an Office data type (a formatted date, a number…)


def officejs_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """A custom function's 2-D argument as xlwings' officejs engine cleans it with the default
    options (empty → None, error → None, data type → its basic value, the rest unchanged)."""
    special = (dict, _JsNull)
    return [[_officejs_special(v) if v.__class__ in special else None if v == "" else v for v in row]
            for row in rows]


def ensure_2d(value: Any) -> list[list[Any]]:
    """As xlwings' Ensure2DStage: a scalar → [[value]], a flat list → one row."""
    if not isinstance(value, (list, tuple)):
        return [[value]]
    if value and not isinstance(value[0], (list, tuple)):
        return [list(value)]
    return [r if isinstance(r, list) else list(r) for r in value] if value.__class__ is not list else value


class OfficeJsTable:
    """xlwings converter (`@xw.arg(..., convert=OfficeJsTable)`) for the table arguments on xlwings
    Server and Lite: the whole argument in one pass, always 2-D (as `ndim=2`)."""

    @staticmethod
    def reader(options):
        from xlwings.conversion import Pipeline

        def stage(ctx):
            ctx.value = officejs_rows(ensure_2d(ctx.value))

        return Pipeline().append_stage(stage)


def count_cells(value: Any) -> int:
    """Cells in a (nested) list argument; a scalar is one cell."""
    if not isinstance(value, list):
        return 1
    n = 0
    for v in value:
        n += len(v) if isinstance(v, list) and (not v or not isinstance(v[0], list)) else count_cells(v)
    return n
