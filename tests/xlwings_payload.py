"""Build the JSON that the xlwings Office.js add-in sends, from a real .xlsx (read with openpyxl).

Mirrors `xlwings_server/static/js/custom-scripts/index.js::getBookData`: every sheet's values as
one rectangle from A1 to the last non-empty cell (empty cells as ""), date cells as
`YYYY-MM-DDTHH:MM:SS.000Z`, error cells as their text, the tables of each sheet (name, range,
header/data-body addresses without the sheet), and the defined names (`refers_to`, sheet index,
unqualified address, scope). Sheets not in `include`, or in `exclude`, keep their name but send no
values nor tables, as the add-in does for `@script(include=...)` and `@script(exclude=...)`.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter, range_boundaries

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")


def _js_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, date) and not isinstance(v, datetime):
        v = datetime.combine(v, time())
    if isinstance(v, datetime):
        if datetime(1900, 1, 1) <= v < datetime(1900, 3, 1):
            # the add-in counts serial numbers from 30/12/1899, without Excel's 29/02/1900 (serial 60):
            # 01/01/1900 (serial 1) comes as 1899-12-31, up to 28/02/1900 (serial 59) as 1900-02-27
            # (xlwings' `new Date(Math.round((value - 25569) * 86400 * 1000)).toISOString()`); openpyxl
            # reads serial 60 as 28/02/1900 too, which this cannot tell from 59
            v -= timedelta(days=1)
        return v.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(v, time):  # a serial number below 1 in a time format: dated as Office.js dates it
        return datetime.combine(date(1899, 12, 30), v).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)  # JSON numbers: Office.js sends 2024, not 2024.0 (and 1e+21 from 10^21 on)
    return v


# Office.js `Worksheet.visibility` of each sheet state of the file
_VISIBILITY = {"visible": "Visible", "hidden": "Hidden", "veryHidden": "VeryHidden"}


def _used_box(ws, formulas=None) -> tuple[int, int, int, int] | None:
    """(min_row, min_col, max_row, max_col) of the non-empty cells (the values-only used range); with
    `formulas` (the same sheet read with its formulas), a formula cell is used even where it shows
    nothing (its cached value "", which openpyxl does not keep), as Excel's values-only used range
    counts it."""
    rows, cols = [], []
    for row in ws.iter_rows():
        for c in row:
            if c.value is not None and c.value != "":
                rows.append(c.row)
                cols.append(c.column)
    for row in formulas.iter_rows() if formulas is not None else ():
        for c in row:
            if c.data_type == "f":
                rows.append(c.row)
                cols.append(c.column)
    if not rows:
        return None
    return min(rows), min(cols), max(rows), max(cols)


def _addr(r1: int, c1: int, r2: int, c2: int) -> str:
    a = f"{get_column_letter(c1)}{r1}"
    b = f"{get_column_letter(c2)}{r2}"
    return a if a == b else f"{a}:{b}"


def _quote(sheet: str) -> str:
    return f"'{sheet}'" if any(ch in sheet for ch in " -'!éèàçôÉÈ") else sheet


def payload_from_xlsx(path: str | Path, include: list[str] | None = None, active: int = 0,
                      exclude: list[str] | None = None, formula_cells: bool = False) -> dict:
    """`formula_cells`: a formula cell with no cached value (openpyxl writes none) sent as a formula
    showing nothing, "" within the used range (else taken for an empty cell, outside it)."""
    import xlwings as xw

    wb = openpyxl.load_workbook(path, data_only=True)
    with_formulas = openpyxl.load_workbook(path) if formula_cells else None
    sheets = []
    for ws in wb.worksheets:
        sent = (include is None or ws.title in include) and ws.title not in (exclude or ())
        box = _used_box(ws, with_formulas[ws.title] if with_formulas is not None else None)
        if sent:
            last_r, last_c = (box[2], box[3]) if box else (1, 1)
            values = [[_js_value(ws.cell(r, c).value) for c in range(1, last_c + 1)]
                      for r in range(1, last_r + 1)]
        else:
            values = [[]]
        tables = []
        if sent:
            for t in ws.tables.values():
                c1, r1, c2, r2 = range_boundaries(t.ref)
                totals = bool(t.totalsRowCount)
                # a header row turned off (headerRowCount="0"): the table's range starts at its first
                # line, and the add-in sends no header row range (Office.js `showHeaders` false)
                headers = t.headerRowCount is None or bool(int(t.headerRowCount))
                body_start = r1 + 1 if headers else r1
                body_end = r2 - 1 if totals else r2
                tables.append({
                    "name": t.name,
                    "range_address": _addr(r1, c1, r2, c2),
                    "row_count": r2 - r1 + 1,
                    "column_count": c2 - c1 + 1,
                    "columns": [c.name for c in t.tableColumns],
                    "header_row_range_address": _addr(r1, c1, r1, c2) if headers else None,
                    "data_body_range_address": _addr(body_start, c1, max(body_end, body_start), c2),
                    "total_row_range_address": _addr(r2, c1, r2, c2) if totals else None,
                    "show_headers": headers,
                    "show_totals": totals,
                    "table_style": t.tableStyleInfo.name if t.tableStyleInfo else None,
                    "show_autofilter": True,
                    "show_table_style_first_column": False,
                    "show_table_style_last_column": False,
                    "show_table_style_row_stripes": True,
                    "show_table_style_column_stripes": False,
                })
        sheets.append({
            "name": ws.title,
            "visibility": _VISIBILITY.get(ws.sheet_state, "Visible"),
            "show_gridlines": True,
            "used_range_address": _addr(*box) if box else None,
            "values": values,
            "pictures": [],
            "shapes": [],
            "charts": [],
            "notes": [],
            "tables": tables,
            "pivot_tables": [],
            "print_area": None,
        })
    titles = [ws.title for ws in wb.worksheets]
    names = []
    # the workbook's names, then each sheet's own (Office.js `sheet.names`: its plain name and its sheet)
    scoped = [(name, dn, None) for name, dn in wb.defined_names.items()]
    scoped += [(name, dn, i) for i, ws in enumerate(wb.worksheets) if (exclude is None or ws.title not in exclude)
               for name, dn in ws.defined_names.items()]
    for name, dn, scope in scoped:
        where = {"scope_sheet_name": None if scope is None else titles[scope], "scope_sheet_index": scope,
                 "book_scope": scope is None}
        dests = list(dn.destinations)
        if len(dests) != 1 or dests[0][0] not in titles:
            names.append({"name": name, "refers_to": "=" + (dn.attr_text or ""), "type": "Error",
                          "sheet_index": None, "address": None, **where})
            continue
        sheet, ref = dests[0]
        names.append({
            "name": name,
            "refers_to": f"={_quote(sheet)}!{ref}",
            "type": "Range",
            "sheet_index": titles.index(sheet),
            "address": ref,
            **where,
        })
    return {
        "client": "Office.js",
        "version": xw.__version__,
        "book": {"name": Path(path).name, "active_sheet_index": active, "selection": "A1",
                 "calculation": "Automatic"},
        "names": names,
        "sheets": sheets,
    }


def table_values(path: str | Path, table_name: str) -> list[list[Any]]:
    """A table, header row included, as Office.js passes `T_X[#Tout]` to a custom function
    (dates as ISO strings, empty cells as "")."""
    wb = openpyxl.load_workbook(path, data_only=True)
    for ws in wb.worksheets:
        for t in ws.tables.values():
            if t.name == table_name:
                c1, r1, c2, r2 = range_boundaries(t.ref)
                return [[_js_value(ws.cell(r, c).value) for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]
    raise KeyError(table_name)


def remote_book(payload: dict):
    """An xlwings remote book (the engine xlwings Server runs scripts on) over the payload, which
    the server's boundary accepts (`udfs.server_payload`: every payload of the tests is the add-in's)."""
    import xlwings as xw

    from udfs.server_payload import check_book

    refused = check_book(payload)
    assert refused is None, refused

    return xw.Book(json=payload)
