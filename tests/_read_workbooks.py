"""Build small ACV-shaped workbooks with XlsxWriter for the reader tests (independent of template.py).

Values are written with the typed XlsxWriter call of their Python type, so a string stays a
string (never turned into a formula or a link), and two marker types write the cells a reader
must recognise: `Err("#REF!")` an Excel error cell, `Formula("=1+1", cached)` a formula with the
given cached value ("" writes an empty `<v></v>`, as a library does).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter

from acv_xl.contract import layout
from acv_xl.reading.source import col_letter, parse_a1


@dataclass(frozen=True)
class Err:
    code: str


@dataclass(frozen=True)
class Formula:
    formula: str
    cached: Any = ""


@dataclass
class TableSpec:
    name: str
    sheet: str
    anchor: str  # header row's first cell
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    n_rows: int | None = None  # table data rows (default: len(rows), at least 1)


def table_from_layout(table: layout.Table, rows: list[dict[str, Any]] | None = None, *, anchor: str | None = None,
                      sheet: str | None = None, headers: list[str] | None = None) -> TableSpec:
    """A TableSpec of a layout table; `rows` are attr → value; `headers` overrides the order/texts
    (a header that is not a layout header becomes an empty user column)."""
    by_header = {c.header: c.attr for c in table.columns}
    hs = list(headers) if headers is not None else list(table.headers)
    data = [[(r.get(by_header[h]) if h in by_header else None) for h in hs] for r in rows or []]
    return TableSpec(table.name, sheet or table.sheet, anchor or table.anchor, hs, data)


def write_value(ws, row0: int, col0: int, value: Any, fmt_date) -> None:
    if value is None:
        return
    if isinstance(value, Err):
        ws.write_formula(row0, col0, "=" + value.code, None, value.code)
    elif isinstance(value, Formula):
        ws.write_formula(row0, col0, value.formula, None, value.cached)
    elif isinstance(value, bool):
        ws.write_boolean(row0, col0, value)
    elif isinstance(value, (int, float, Decimal)):
        ws.write_number(row0, col0, float(value))
    elif isinstance(value, (date, datetime)):
        ws.write_datetime(row0, col0, value, fmt_date)
    else:
        ws.write_string(row0, col0, str(value))


def build(path: Path, tables: list[TableSpec], names: dict[str, tuple[str, str, Any]] | None = None,
          sheets: list[str] | tuple[str, ...] = layout.SHEETS, merges: list[tuple[str, str]] = (),
          extra_cells: list[tuple[str, str, Any]] = ()) -> Path:
    """Write the workbook: `names` name → (sheet, cell, value); `merges` (sheet, "B5:C5");
    `extra_cells` (sheet, cell, value) outside the tables."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                        "strings_to_numbers": False})
    fmt_date = wb.add_format({"num_format": "dd/mm/yyyy"})
    wss = {s: wb.add_worksheet(s) for s in sheets}
    for t in tables:
        ws = wss[t.sheet]
        r0, c0 = parse_a1(t.anchor)
        r0, c0 = r0 - 1, c0 - 1
        n = t.n_rows if t.n_rows is not None else max(len(t.rows), 1)
        ws.add_table(r0, c0, r0 + n, c0 + len(t.headers) - 1,
                     {"name": t.name, "columns": [{"header": h} for h in t.headers]})
        for i, row in enumerate(t.rows):
            for j, v in enumerate(row):
                write_value(ws, r0 + 1 + i, c0 + j, v, fmt_date)
    for sheet, rng in merges:
        wss[sheet].merge_range(rng, "", None)
    for sheet, cell, v in extra_cells:
        r, c = parse_a1(cell)
        write_value(wss[sheet], r - 1, c - 1, v, fmt_date)
    for name, (sheet, cell, v) in (names or {}).items():
        r, c = parse_a1(cell)
        write_value(wss[sheet], r - 1, c - 1, v, fmt_date)
        quoted = "'" + sheet.replace("'", "''") + "'"
        wb.define_name(name, f"={quoted}!${col_letter(c)}${r}")
    wb.close()
    return path


def sheet_part(sheet: str) -> str:
    """The zip part of a template sheet, as XlsxWriter numbers them (in `layout.SHEETS`' order)."""
    return f"xl/worksheets/sheet{layout.SHEETS.index(sheet) + 1}.xml"


def rewrite_part(path: Path, part: str, edit) -> None:
    """Rewrite one part of a zip in place (the test plays Excel, which drops `fullCalcOnLoad`)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == part:
                data = edit(data)
            zout.writestr(info, data)
    path.write_bytes(buf.getvalue())


def default_names() -> dict[str, tuple[str, str, Any]]:
    """Every named cell of the layout at its template place, with a plausible value."""
    values = {
        "acv_version_modele": "2026.2", "acv_statut": "Non validé", "acv_date_validation": None,
        "acv_empreinte": None, "acv_programme": "ACV 2", "acv_id": "ACV123", "acv_libelle": "Lens - Liévin",
        "acv_departement": 62, "acv_epci": "CA de Lens-Liévin", "acv_siren_epci": "200000000",
        "acv_directeur_projet": "Camille Martin", "acv_referent_etat": "Dominique Durand",
        "acv_date_convention": date(2023, 6, 15), "acv_date_fin_initialisation": date(2024, 6, 30),
        "acv_date_fin_deploiement": date(2026, 12, 31), "acv_date_comite": date(2025, 3, 3),
    }
    return {nc.name: (nc.sheet, nc.cell, values[nc.name]) for nc in layout.NAMED_CELLS}
