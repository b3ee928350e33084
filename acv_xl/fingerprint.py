"""The fingerprint of the data read (`acv_empreinte`): SHA-256 of a canonical serialisation.

What goes in: the user-filled tables (`Table.user_filled`) and named cells
(`NamedCell.user_filled`: not the status cells written by Valider, not `Contrôles`), keyed by
attribute name (the column list once per table), rows in order, blank rows left out (a reader may or may not return the template's
empty rows). What stays out: cell addresses, formatting, sheet layout — so moving a table,
recolouring a cell or re-saving in Excel keeps the fingerprint, and the file reader
(calamine, openpyxl, xlwings) does not matter.

Each value is canonicalised from the **raw** value, tagged by type so that distinct things never
collide: numbers as normalised Decimal strings (12, 12.0 and 12.00 agree), dates as ISO (a date
cell read as a serial number, as a datetime at midnight or as an Office.js ISO string agree — they
are the same cell value), strings as they are, Excel errors and uncomputed formulas apart, blank
(None or "") as null.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from . import layout
from .layout import Kind
from .model import ROW_MODELS, Convention
from .values import ExcelError, NoCachedValue, parse_iso_date

FORMAT_VERSION = 2  # change when the serialisation changes (stored fingerprints then differ)
_EPOCH = datetime(1899, 12, 30)  # Excel's 1900 date system, as values.excel_serial_to_date


def _number(x: int | float | Decimal) -> str:
    try:
        d = Decimal(str(x)) if not isinstance(x, Decimal) else x
    except InvalidOperation:
        return str(x)
    if not d.is_finite():
        return str(d)
    d = d.normalize()
    return format(d, "f") if d != 0 else "0"


def canonical(raw: Any, kind: Kind = Kind.TEXT) -> Any:
    """A JSON-able, reader-independent form of one raw cell value."""
    if raw is None:
        return None
    t = type(raw)  # fast paths for the common exact types (subclasses take the general path)
    if kind is Kind.DATE:
        pass  # an ISO string or a serial number may be a date: the general path decides
    elif t is str:
        return ["str", raw] if raw else None
    elif t is float or t is int:
        if t is int or (raw.is_integer() and abs(raw) < 1e15):
            return ["num", str(int(raw))]
        return ["num", _number(raw)]
    if isinstance(raw, ExcelError):
        return ["err", str(raw)]
    if isinstance(raw, NoCachedValue):
        return ["formula", str(raw)]
    if kind is Kind.DATE:
        raw = parse_iso_date(raw)
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and 1 <= raw < 2958466:
            # the serial number of a date cell (Office.js, an unformatted cell) is the same value
            raw = _EPOCH + timedelta(days=float(raw))
    if isinstance(raw, bool):
        return ["bool", raw]
    if isinstance(raw, datetime):
        # to the second: readers convert the same stored float with different sub-second rounding
        raw = raw.replace(tzinfo=None)
        raw = (raw + timedelta(microseconds=500_000)).replace(microsecond=0)
        if raw.hour == raw.minute == raw.second == 0:
            return ["date", raw.date().isoformat()]
        return ["datetime", raw.isoformat()]
    if isinstance(raw, date):
        return ["date", raw.isoformat()]
    if isinstance(raw, (int, float, Decimal)):
        return ["num", _number(raw)]
    if isinstance(raw, str):
        return None if raw == "" else ["str", raw]
    return ["str", str(raw)]


def canonical_data(conv: Convention) -> dict:
    tables: dict[str, dict[str, list]] = {}
    for table in layout.TABLES:
        if not table.user_filled or table.name not in ROW_MODELS:
            continue
        cols = [(c.attr, c.kind) for c in table.columns]
        # the columns once, then each row as a list in that order (no per-row keys to sort)
        tables[table.name] = {
            "colonnes": [attr for attr, _ in cols],
            "lignes": [[canonical(r.raw.get(attr), kind) for attr, kind in cols]
                       for r in conv.rows(table.name) if not r.is_empty()],
        }
    names = {}
    for nc in layout.NAMED_CELLS:
        if nc.user_filled:
            nv = conv.names.get(nc.name)
            names[nc.name] = canonical(nv.raw if nv is not None else None, nc.kind)
    return {"format": FORMAT_VERSION, "noms": names, "tableaux": tables}


def fingerprint(conv: Convention) -> str:
    """SHA-256 hex digest of the canonical data (same data → same fingerprint, whichever reader)."""
    text = json.dumps(canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
