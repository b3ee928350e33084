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
    """The data the fingerprint covers, as JSON-able Python (the reference form of `fingerprint`)."""
    tables: dict[str, dict[str, list]] = {}
    for table, cols, raws in _user_tables(conv):
        # the columns once, then each row as a list in that order (no per-row keys to sort)
        tables[table.name] = {
            "colonnes": [attr for attr, _ in cols],
            "lignes": [[canonical(raw.get(attr), kind) for attr, kind in cols] for raw in raws],
        }
    return {"format": FORMAT_VERSION, "noms": _names(conv), "tableaux": tables}


def _user_tables(conv: Convention):
    for table in layout.TABLES:
        if not table.user_filled or table.name not in ROW_MODELS:
            continue
        yield table, [(c.attr, c.kind) for c in table.columns], \
            [r.raw for r in conv.rows(table.name) if not r.is_empty()]


def _names(conv: Convention) -> dict:
    names = {}
    for nc in layout.NAMED_CELLS:
        if nc.user_filled:
            nv = conv.names.get(nc.name)
            names[nc.name] = canonical(nv.raw if nv is not None else None, nc.kind)
    return names


_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), check_circular=False).encode
_string = json.encoder.encode_basestring  # what `_dumps` writes for a str (ensure_ascii=False)


def _column_json(raws: list[dict], attr: str, kind: Kind) -> list[str]:
    """`_dumps(canonical(raw[attr], kind))` for every row, the common exact types written inline:
    a 5,000-line plan is 60,000 values, and a list per value (then its encoding) was most of the
    fingerprint's time. Anything else goes through `canonical` itself."""
    out: list[str] = []
    append = out.append
    by_value: dict[Any, str] = {}  # dates and datetimes: few distinct values, each encoded once
    for raw in raws:
        v = raw.get(attr)
        if v is None:
            append("null")
            continue
        t = v.__class__
        if t is date or (t is datetime and v.tzinfo is None):
            # naive only (aware ones equal across time zones); a date never equals a datetime
            text = by_value.get(v)
            if text is None:
                text = by_value[v] = _dumps(canonical(v, kind))
            append(text)
            continue
        if kind is Kind.DATE:
            pass  # a string or a number may be a date there: `canonical` decides
        elif t is str:
            append('["str",' + _string(v) + "]" if v else "null")
            continue
        elif t is int:
            append('["num","' + str(v) + '"]')
            continue
        elif t is float:
            if v.is_integer():
                if abs(v) < 1e15:
                    append('["num","' + str(int(v)) + '"]')
                    continue
            else:
                text = repr(v)  # shortest round-trip digits: `_number`'s result when positional
                if "e" not in text and "n" not in text:  # not 1e-05, inf or nan
                    append('["num","' + text + '"]')
                    continue
        append(_dumps(canonical(v, kind)))
    return out


def canonical_json(conv: Convention) -> str:
    """Exactly `json.dumps(canonical_data(conv), ensure_ascii=False, sort_keys=True,
    separators=(",", ":"))`, written without building the intermediate lists (one per value)."""
    tables = {}
    for table, cols, raws in _user_tables(conv):
        columns = [_column_json(raws, attr, kind) for attr, kind in cols]
        lines = ",".join(["[" + ",".join(line) + "]" for line in zip(*columns)] if columns else ["[]"] * len(raws))
        tables[table.name] = '{"colonnes":' + _dumps([attr for attr, _ in cols]) + ',"lignes":[' + lines + "]}"
    body = ",".join(_dumps(name) + ":" + tables[name] for name in sorted(tables))
    return ('{"format":' + _dumps(FORMAT_VERSION) + ',"noms":' + _dumps(_names(conv))
            + ',"tableaux":{' + body + "}}")


def fingerprint(conv: Convention) -> str:
    """SHA-256 hex digest of the canonical data (same data → same fingerprint, whichever reader)."""
    return hashlib.sha256(canonical_json(conv).encode("utf-8")).hexdigest()
