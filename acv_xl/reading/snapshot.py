"""The validated data kept in the workbook (hidden sheet `layout.SNAPSHOT_SHEET`), to list what
changed since « Valider ».

When a workbook is marked validated (button « Valider » or `valider --annoter`), every value the
fingerprint covers — each table row and named cell, as read (raw), with its cell — is written
into a hidden sheet: column A, a title in A1 then the data, compressed (zlib, base64) in cells of
at most `CHUNK` characters (Excel holds 32,767 in a cell), each starting with `PREFIX`. A hidden
sheet (`state="hidden"`), not a « very hidden » one nor a custom XML part: Excel and LibreOffice
both keep it on save. `decode` gives back a `Convention` whose fingerprint is the one validated.

The reader never reads that sheet for the rules (it is not in `layout.SHEETS`): it changes
neither the findings nor the fingerprint.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from acv_xl.contract import layout
from acv_xl.contract.model import ROW_MODELS, Convention, build_named, build_row, empty
from acv_xl.contract.values import EXCEL_ROWS, ExcelError, NoCachedValue
from acv_xl.reading.source import parse_a1

FORMAT = 1
PREFIX = "acv-xl:1:"
CHUNK = 8_000  # well under 32,767: older Excel versions refuse longer strings written as an array (COM)
TITLE = ("Données du classeur au moment de la dernière validation, conservées par « Valider » pour lister "
         "ce qui a changé depuis. Feuille écrite par acv-xl : ne pas modifier.")


# ------------------------------------------------------------------------------ values
def _enc(v: Any) -> Any:
    """A raw cell value as JSON, its type kept (an error, a date, a formula without value…)."""
    if v is None or v.__class__ in (str, int, bool):
        return v
    if v.__class__ is float:
        return v if v - v == 0 else {"x": repr(v)}
    if isinstance(v, ExcelError):
        return {"e": str(v)}
    if isinstance(v, NoCachedValue):
        return {"f": str(v)}
    if isinstance(v, str):
        return str(v)
    if isinstance(v, datetime):
        return {"t": v.isoformat()}
    if isinstance(v, date):
        return {"d": v.isoformat()}
    if isinstance(v, time):
        return {"h": v.isoformat()}
    if isinstance(v, Decimal):
        return {"n": str(v)}
    if isinstance(v, (int, float)):
        return v
    return str(v)


def _dec(v: Any) -> Any:
    """A value of the kept data back, refused (`SnapshotError`) when no cell the reader reads could hold
    it: kept data a reader never gives are damage, or forgery with the fingerprint rewritten to match —
    a montant « [1, 2] » or a date « 01/01/1 » was listed as validated by `valider`, its JSON and the
    annex. One look at its class or its tag, no pass more over the data."""
    if v.__class__ is not dict:
        if v.__class__ is list:
            raise SnapshotError("liste")
        return v  # a text, a boolean, None, or a JSON number `decode` already held to a cell's range (`_finite`)
    (tag, text), = v.items()
    if text.__class__ is not str:
        raise SnapshotError(f"valeur {tag} qui n'est pas un texte")
    if tag == "e" and text:  # the file reader gives a nameless error as #N/A
        return ExcelError(text)
    if tag == "f" and text.startswith("="):  # the formula, as the file reader gives it
        return NoCachedValue(text)
    if tag == "t":
        return _day(datetime.fromisoformat(text), _FIRST_DATETIME)
    if tag == "d":
        return _day(date.fromisoformat(text), _FIRST_DATE)
    if tag == "h":
        return _day(time.fromisoformat(text), None)
    if tag == "n":
        return _finite(Decimal(text))
    if tag == "x":
        return _finite(float(text))
    raise SnapshotError(f"valeur {tag}")


# Excel's serial number 0, as COM and Office.js date it: no reader gives an earlier day (a serial below 1
# is a time alone, `values.time_alone`); 31/12/9999, Excel's last day, is Python's too
_FIRST_DATE = date(1899, 12, 30)
_FIRST_DATETIME = datetime(1899, 12, 30)


def _day(value: Any, first: Any) -> Any:
    """A date, date-time or time a cell holds: none of a time zone (Excel has none), none before Excel's
    first day (`fromisoformat` reads « 0001-01-01 » as well)."""
    if getattr(value, "tzinfo", None) is not None:  # a date has none
        raise SnapshotError("fuseau horaire")
    if first is not None and value < first:
        raise SnapshotError("date antérieure au calendrier d'Excel")
    return value


def _finite(n: Any) -> Any:
    """A number the reader can give: a finite float (it reads any other as #NUM!, `source_file`), so a NaN,
    an infinity or a number past a float's range (a Decimal 1E+400, an integer of 400 digits) in the kept
    data is damage, or forgery — never a validated value, which every output of the changes since (the
    report's text, its JSON, Contrôles, the avenant's annex) would fail to write or write absurd."""
    try:
        finite = math.isfinite(float(n))
    except (OverflowError, ValueError):  # an integer past a float's range; a Decimal sNaN
        finite = False
    if not finite:
        raise SnapshotError("nombre hors de portée d'une cellule")
    return n


def _finite_only(constant: str) -> Any:
    """`json.loads` reads NaN, Infinity and -Infinity unless told otherwise: refused, as `_finite`."""
    raise SnapshotError(f"nombre non fini ({constant})")


def _json_float(text: str) -> float:
    """A bare JSON number with a fraction or an exponent: « 1e999 » would read as an infinity."""
    return _finite(float(text))


def _json_int(text: str) -> int:
    return _finite(int(text))


# ------------------------------------------------------------------------------ encode
def data(conv: Convention, empreinte: str | None) -> dict:
    """The snapshot as JSON-able data: named cells and table rows, raw, with their cells."""
    names = {}
    for nc in layout.NAMED_CELLS:
        nv = conv.names.get(nc.name)
        if nv is not None and nc.user_filled:
            names[nc.name] = [nv.sheet, nv.cell, _enc(nv.raw)]
    tables = {}
    for table in layout.TABLES:
        if table.name not in ROW_MODELS or not table.user_filled:
            continue
        rows = [r for r in conv.rows(table.name) if not r.is_empty()]
        attrs = [c.attr for c in table.columns if any(c.attr in r.raw for r in rows)]
        letters: dict[str, str] = {}
        for r in rows:
            for attr in attrs:
                if attr not in letters:  # the first row that has its cell
                    cell = r.cells.get(attr)
                    if cell:
                        letters[attr] = cell.rstrip("0123456789")
            if len(letters) == len(attrs):
                break
        tables[table.name] = {
            "feuille": rows[0].sheet if rows else table.sheet,
            "colonnes": attrs,
            "lettres": [letters.get(a) for a in attrs],
            "lignes": [[r.row] + [_enc(r.raw.get(a)) for a in attrs] for r in rows],
        }
    return {"format": FORMAT, "empreinte": empreinte, "noms": names, "tableaux": tables}


def encode(conv: Convention, empreinte: str | None) -> list[str]:
    """The cells of column A of the snapshot sheet, A1 (the title) first."""
    text = json.dumps(data(conv, empreinte), ensure_ascii=False, separators=(",", ":"))
    packed = base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")
    size = CHUNK - len(PREFIX)
    return [TITLE] + [PREFIX + packed[i:i + size] for i in range(0, len(packed), size)]


# ------------------------------------------------------------------------------ decode
MAX_INFLATED = 64 << 20  # the validated data of a 5,000-line plan takes ≈ 2 MB once inflated


class SnapshotError(ValueError):
    """The snapshot sheet is there but cannot be read back (edited, truncated)."""


def decode(cells: list[Any]) -> tuple[Convention, str | None] | None:
    """(the validated convention, the fingerprint it was validated with) from the cells of
    column A, or None when the sheet holds no snapshot; `SnapshotError` when it is damaged."""
    parts = [c[len(PREFIX):] for c in cells if isinstance(c, str) and c.startswith(PREFIX)]
    if not parts:
        return None
    try:
        inflater = zlib.decompressobj()
        # bounded like every part the reader inflates: a crafted sheet must not inflate gigabytes
        raw = inflater.decompress(base64.b64decode("".join(parts), validate=True), MAX_INFLATED)
        if inflater.unconsumed_tail or not inflater.eof:
            raise SnapshotError("trop volumineux ou tronqué")
        d = json.loads(raw.decode("utf-8"), parse_constant=_finite_only, parse_float=_json_float,
                       parse_int=_json_int)
        if d.get("format") != FORMAT:
            raise SnapshotError(f"format {d.get('format')}")
        return _convention(d), d.get("empreinte")
    except SnapshotError:
        raise
    except Exception as exc:  # noqa: BLE001 — any damage of the hidden sheet reads as « damaged »
        raise SnapshotError(type(exc).__name__) from exc


def _convention(d: dict) -> Convention:
    conv = empty(Convention)
    conv.fichier = None
    for name, (sheet, cell, raw) in d["noms"].items():
        if name in layout.NAMED_BY_NAME:
            conv.names[name] = build_named(name, _dec(raw), _sheet(sheet), _cell(cell))
    for name, t in d["tableaux"].items():
        if name not in ROW_MODELS:
            continue
        cls, attr_name = ROW_MODELS[name]
        attrs, letters, sheet = t["colonnes"], [_column(x) for x in t["lettres"]], _sheet(t["feuille"])
        rows = []
        for line in t["lignes"]:
            n = line[0]
            if n.__class__ is not int or not 0 <= n <= EXCEL_ROWS:  # 0: a row built in code, of no cell
                raise SnapshotError("numéro de ligne")
            raw = {a: _dec(v) for a, v in zip(attrs, line[1:])}
            cells = {a: f"{letter}{n}" for a, letter in zip(attrs, letters) if letter and n}
            rows.append(build_row(cls, raw, cells, sheet, n))
        setattr(conv, attr_name, rows)
    return conv


def _sheet(name: Any) -> str:
    """A sheet's name as the reader gives it, a text: the kept data say where each value was, and a cell
    listed as « F[7] » or « ['Z']4 » (a row number or a letter forged) is none a workbook has."""
    if name.__class__ is not str:
        raise SnapshotError("nom de feuille")
    return name


def _cell(ref: Any) -> str:
    """An A1 address on Excel's grid (`source.parse_a1`), or none (a named cell built in code), as `_sheet`."""
    if ref.__class__ is not str:
        raise SnapshotError("cellule")
    if ref:
        parse_a1(ref)  # its ValueError: damaged, as any other (`decode`)
    return ref


def _column(letters: Any) -> str | None:
    """A column's letters on Excel's grid, or None (no row had its cell), as `_sheet`."""
    if letters is not None and not (letters.__class__ is str and letters.isascii() and letters.isalpha()
                                    and _cell(f"{letters}1")):
        raise SnapshotError("colonne")
    return letters


def read_cells(source) -> list[Any] | None:
    """Column A of the snapshot sheet of a `Source` that can give it (None: no such sheet)."""
    if layout.SNAPSHOT_SHEET not in source.sheet_names():
        return None
    column = getattr(source, "column_values", None)
    return column(layout.SNAPSHOT_SHEET, 1) if column is not None else None

