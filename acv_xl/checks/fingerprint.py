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
from itertools import chain, compress, cycle, repeat
from operator import attrgetter, is_, itemgetter
from typing import Any, Callable

from acv_xl.contract import layout
from acv_xl.contract.layout import Kind, Table
from acv_xl.contract.model import ROW_MODELS, Convention, Ligne
from acv_xl.contract.values import ExcelError, NoCachedValue, parse_iso_date

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
    data = {"format": FORMAT_VERSION, "noms": _names(conv), "tableaux": tables}
    if conv.stray_cells:
        data["hors_tableaux"] = _strays(conv)
    return data


def _strays(conv: Convention) -> list:
    """What was typed just outside a table (STR-09), in order: a line typed below the plan after
    « Valider » makes the workbook « modifié depuis la validation ». By table, side and header, not
    by address (as the tables). Only when there is some: every other fingerprint stays as it was."""
    return [[sc.table, "droite" if sc.right else "dessous", sc.header, canonical(sc.value)] for sc in conv.stray_cells]


def _user_tables(conv: Convention, rows: Callable[[Table], list[Ligne]] | None = None):
    for table in layout.TABLES:
        if not table.user_filled or table.name not in ROW_MODELS:
            continue
        lignes = rows(table) if rows is not None else [r for r in conv.rows(table.name) if not r.is_empty()]
        yield table, _COLUMNS[table.name], list(map(_RAW, lignes))


_COLUMNS = {t.name: tuple((c.attr, c.kind) for c in t.columns) for t in layout.TABLES}
_RAW = attrgetter("raw")


def _names(conv: Convention) -> dict:
    names = {}
    for nc in layout.NAMED_CELLS:
        if nc.user_filled:
            nv = conv.names.get(nc.name)
            names[nc.name] = canonical(nv.raw if nv is not None else None, nc.kind)
    return names


_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), check_circular=False).encode
_string = json.encoder.encode_basestring  # what `_dumps` writes for a str (ensure_ascii=False)


def _value_json(v: Any, kind: Kind) -> str:
    """`_dumps(canonical(v, kind))`, the common exact types written inline (no list per value)."""
    if v is None:
        return "null"
    t = v.__class__
    if t is date:  # in any column (ISO digits and dashes: nothing to escape)
        return '["date","' + v.isoformat() + '"]'
    if kind is Kind.DATE:
        pass  # a string or a number may be a date there: `canonical` decides
    elif t is str:
        return '["str",' + _string(v) + "]" if v else "null"
    elif t is int:
        return '["num","' + str(v) + '"]'
    elif t is float:
        if v.is_integer():
            if abs(v) < 1e15:
                return '["num","' + str(int(v)) + '"]'
        else:
            text = repr(v)  # shortest round-trip digits: `_number`'s result when positional
            if "e" not in text and "n" not in text:  # not 1e-05, inf or nan
                return '["num","' + text + '"]'
    return _dumps(canonical(v, kind))


# exact type → {value → `_value_json`}, one family for date columns and one for the others: the
# same financeurs, statuts, years and dates come back row after row and workbook after workbook, so
# most values are looked up rather than encoded. By exact type, as equal values of different types
# encode differently (1 and True, "#REF!" and the error #REF!); only types whose equal values always
# encode alike are stored (not a time-zone-aware datetime: equal instants in two zones are different
# cell values). Every table holds None (→ null), so that a column of one type and blanks is looked
# up in one table, in C, without a (type, value) key per cell.
_TEXTS: dict[type, dict[Any, str]] = {}
_DATE_TEXTS: dict[type, dict[Any, str]] = {}
_STORED = frozenset((type(None), str, int, float, date, datetime))
_MAX_TEXTS = 20_000  # then start again (checked per convention): a bound on memory over a long consolidation
_MAX_LENGTH = 200  # longer texts (descriptions, comments) are not kept: seldom seen twice
_NONE = type(None)
_NO_TEXTS: dict[Any, str] = {}  # a type not remembered (never written)


def _known(family: dict[type, dict[Any, str]], t: type) -> dict[Any, str]:
    known = family.get(t)
    if known is None:
        known = family[t] = {None: "null"}
    return known


def _forget(family: dict[type, dict[Any, str]]) -> None:
    """Empty a family of its values, all but the blank's entry: the server's other requests, in the
    middle of a convention, look blanks up there — had it gone, a blank would be an unseen value
    (a blank of a number column was written « ["num","None"] »: a fingerprint wrong at random)."""
    for t in list(family):  # the keys at once (in C), never a dict iterated while others add to it
        if t is not _NONE:
            family.pop(t, None)


def _full() -> bool:
    """More than `_MAX_TEXTS` values remembered in a family. The server's other requests add types
    while this one counts (a thread switch can happen inside the count, a collection running Python
    code): the count is then given up and the memory treated as full — emptying it is always right."""
    try:
        return sum(map(len, _TEXTS.values())) > _MAX_TEXTS or sum(map(len, _DATE_TEXTS.values())) > _MAX_TEXTS
    except RuntimeError:  # « dictionary changed size during iteration »
        return True


# id(column list) → (that list, its plan): by identity, as hashing the list would hash each `Kind`
# in Python (the same few lists come back, `_COLUMNS`'); the list kept, so its id stays its own
_PLANS: dict[int, tuple[tuple, tuple]] = {}


def _plan(cols: tuple[tuple[str, Kind], ...]) -> tuple[tuple[str, ...], tuple[int, ...], tuple[dict, ...],
                                                        Callable[[dict], tuple] | None, list[Kind]]:
    """(attributes, positions of the date columns, each column's family, the getter of a row's values
    (None for one column), the kinds) of a column list, worked out once."""
    got = _PLANS.get(id(cols))
    if got is not None and got[0] is cols:
        return got[1]
    date_columns = tuple(j for j, (_, kind) in enumerate(cols) if kind is Kind.DATE)
    attrs = tuple(attr for attr, _ in cols)
    plan = (attrs, date_columns, tuple(_DATE_TEXTS if j in date_columns else _TEXTS for j in range(len(cols))),
            itemgetter(*attrs) if len(attrs) > 1 else None, [kind for _, kind in cols])
    if len(_PLANS) >= 256:
        _PLANS.clear()
    _PLANS[id(cols)] = (cols, plan)
    return plan


_UNSEEN: dict[Any, str] = {}  # the texts of a type not met yet: none (never written to)
_FEW_ROWS = 48  # up to this many rows, a table's values are looked up in one pass (`_rows_json`)


# `_value_json`'s texts of a str (not empty), an int and a date (ISO), as format strings run in C
_STR_TEXT, _INT_TEXT, _DATE_TEXT = '["str",{}]'.format, '["num","{}"]'.format, '["date","{}"]'.format
_WRITTEN_IN_C = frozenset((str, int, date))


def _encode_unseen(column: list, found: list, family: dict[type, dict[Any, str]], kind: Kind,
                   t: type | None) -> list:
    """`found` (a column's texts, None where nothing was remembered) completed: each distinct unseen
    value encoded once (`_value_json`) and remembered as `_rows_json` remembers values, the distinct
    ones found in C (a 5,000-line plan met for the first time: its amounts, dates, references…),
    rather than a Python step per cell. `t`: the column's one type (with blanks), else None: then by
    (exact type, value), so that equal values of two types never share a text. A type outside
    `_STORED`, or a time-zone-aware datetime, is left None (for the per-cell pass)."""
    new: dict[Any, str] = {}
    # (type, value) pairs streamed, never kept but the distinct unseen ones (zip reuses its tuple)
    keys = column if t is not None else zip(map(type, column), column)
    if any(found):  # some were seen (a text is never empty: true, None false): only the others
        keys = compress(keys, map(is_, found, repeat(None)))
    blank = False  # a blank among the unseen values (its entry in the memory is normally found first)
    if t is not None and t is not _NONE:  # one type and blanks: a blank is "null", never of type `t`
        keys = dict.fromkeys(keys)
        blank = keys.pop(None, 0) is None
    if t in _WRITTEN_IN_C and (t is date or kind is not Kind.DATE):
        # texts, numbers and dates written as `_value_json` writes them, the distinct values at once
        distinct = list(dict.fromkeys(keys))
        if t is str:
            new = dict(zip(distinct, map(_STR_TEXT, map(_string, distinct))))
            if "" in new:
                new[""] = "null"
            known = _known(family, str)
            if max(map(len, distinct), default=0) <= _MAX_LENGTH:
                known.update(new)
            else:
                known.update({v: text for v, text in new.items() if len(v) <= _MAX_LENGTH})
            if blank:
                new[None] = "null"
        else:
            new = dict(zip(distinct, map(_INT_TEXT, distinct) if t is int else
                           map(_DATE_TEXT, map(date.isoformat, distinct))))
            if blank:
                new[None] = "null"
            _known(family, t).update(new)
        return list(map(new.get, column, found))
    if blank:
        new[None] = "null"
    if t is float and kind is not Kind.DATE:
        # amounts (distinct in each workbook): `_value_json`'s text of a float written inline from its
        # repr — « 1234.5 », « 100000.0 » for 100000 (its `int` below 1e15) — the others (-0.0, an
        # exponent, inf, nan, 1e15 and more) by `_value_json` itself
        for v, r in zip(distinct := list(dict.fromkeys(keys)), map(repr, distinct)):
            if "e" in r or "n" in r or r == "-0.0":
                new[v] = _value_json(v, kind)
            elif r[-2:] == ".0":
                new[v] = _INT_TEXT(r[:-2]) if -1e15 < v < 1e15 else _value_json(v, kind)
            else:
                new[v] = '["num","' + r + '"]'
        _known(family, float).update(new)
        return list(map(new.get, column, found))
    for key in dict.fromkeys(keys):
        if t is None:
            vt, v = key
        else:
            vt, v = t, key
        if vt not in _STORED or (vt is datetime and v.tzinfo is not None):
            continue
        text = new[key] = _value_json(v, kind)
        if vt is not str or len(v) <= _MAX_LENGTH:
            _known(family, vt)[v] = text
    keys = column if t is not None else zip(map(type, column), column)
    return list(map(new.get, keys, found)) if new else found


# The lists a workbook copies from the template (financeurs, dispositifs): the same rows in most
# workbooks of a département, so their text is kept whole, by their exact values and types (equal
# values of a stored type encode alike, as for `_TEXTS`; a time-zone-aware datetime is left out).
# Bounded: a few lists of at most `_LIST_MAX_VALUES` values.
_LISTS = frozenset((layout.T_FINANCEURS.name, layout.T_DISPOSITIFS.name))
_LIST_TEXTS: dict[tuple, tuple[list, str]] = {}  # (columns, dates, types) → (values, text)
_LIST_MAX_VALUES = 4_000
_LIST_MAX = 32
_LIST_MAX_CHARS = 64 * 1024  # the template's lists: ≈ 3,400 characters
_IS_STR = str.__instancecheck__  # `isinstance(v, str)`, called from C


def _list_key(attrs: tuple[str, ...], date_columns: tuple[int, ...], values: list) -> tuple | None:
    """`_LIST_TEXTS`'s key of a table's values, or None when they are not kept."""
    if len(values) > _LIST_MAX_VALUES:
        return None
    types = tuple(map(type, values))
    kinds = set(types)
    if not kinds <= _STORED or (datetime in kinds and any(
            v.tzinfo is not None for v in values if v.__class__ is datetime)):
        return None
    # only exact types here (`_STORED`): every `str` instance is a text
    if str in kinds and sum(map(len, filter(_IS_STR, values))) > _LIST_MAX_CHARS:
        return None  # a pasted text: not kept for months by `acv-xl serveur`
    return (attrs, date_columns, types)  # the columns (which are dates), the values' types (their values beside)


def _rows_json(raws: list[dict], cols: tuple[tuple[str, Kind], ...], is_list: bool = False) -> str:
    """The rows of a table as `_dumps` writes `[[canonical(raw[attr], kind) for attr, kind in cols]
    for raw in raws]`, brackets excepted: a 5,000-line plan is 60,000 values, so the values are
    looked up column by column in C loops (map) over the flat row-major list, and only the unseen
    ones encoded. `is_list`: one of `_LISTS`, whose whole text is kept."""
    n = len(cols)
    attrs, date_columns, families, getter, kinds = _plan(cols)
    try:  # every column in every row (the reader's rows, when no header is missing): in C
        values = list(chain.from_iterable(map(getter, raws))) if n > 1 else [raw[attrs[0]] for raw in raws]
    except KeyError:
        values = [raw.get(attr) for raw in raws for attr in attrs]
    if is_list and len(values) <= _LIST_MAX_VALUES:
        # the list kept with the same types at each place, and equal values: the same text (equal values
        # of one stored type encode alike); its values compared in C, none hashed
        kept = _LIST_TEXTS.get((attrs, date_columns, tuple(map(type, values))))
        if kept is not None and kept[0] == values:
            return kept[1]
        key = _list_key(attrs, date_columns, values)
        if key is not None:
            text = _rows_json(raws, cols)
            if len(_LIST_TEXTS) >= _LIST_MAX:
                _LIST_TEXTS.clear()
            _LIST_TEXTS[key] = (values, text)
            return text
    single: list[type | None] = [None] * n  # each column's one type (with blanks), if it has one
    known_types = [False] * n  # whether `single[j]` was worked out
    try:
        if len(raws) <= _FEW_ROWS:
            # every value looked up at once, row by row in C: its column's family (a text or a number
            # may be a date in a date column), its exact type's table there, its text (None: unseen).
            # One pass rather than a few steps per column: a small convention's 9 tables hold ~90
            # columns of a few rows each (slower per value, so not for a long table).
            texts: list[str | None] = list(map(dict.get, map(dict.get, cycle(families), map(type, values),
                                                              repeat(_UNSEEN)), values))
        else:
            texts = [None] * len(values)
            for j in range(n):
                family = families[j]
                column = values[j::n]
                types = set(map(type, column))
                types.discard(_NONE)
                known_types[j] = True
                if len(types) <= 1:  # one type (and blanks): one table
                    t = single[j] = types.pop() if types else _NONE
                    texts[j::n] = map(_known(family, t).get, column)
                else:
                    # one lookup of the type's table: another request may empty the memory between two
                    texts[j::n] = [family.get(t, _NO_TEXTS).get(v) for t, v in zip(map(type, column), column)]
    except TypeError:  # an unhashable value (no reader gives one): every value encoded below
        texts = [None] * len(values)
    if not all(texts):  # values not seen yet (a workbook met for the first time): column by column
        try:
            for j in range(n):
                found = texts[j::n]
                if not all(found):  # a None among the texts (never empty), by truth: no comparison each
                    column = values[j::n]
                    if not known_types[j]:
                        types = set(map(type, column))
                        types.discard(_NONE)
                        single[j] = (types.pop() if types else _NONE) if len(types) <= 1 else None
                    texts[j::n] = _encode_unseen(column, found, families[j], kinds[j], single[j])
        except TypeError:  # an unhashable value: left to the pass below
            pass
    if not all(texts):  # still None, not a text (a type not remembered…): encoded cell by cell
        for k in list(compress(range(len(texts)), map(is_, texts, repeat(None)))):  # (found in C)
            v, kind = values[k], kinds[k % n]
            t = v.__class__
            if t in _STORED and (t is not datetime or v.tzinfo is None) and (t is not str or len(v) <= _MAX_LENGTH):
                known = _known(_DATE_TEXTS if kind is Kind.DATE else _TEXTS, t)
                text = known.get(v)  # seen earlier in this table
                if text is None:
                    text = known[v] = _value_json(v, kind)
            else:
                text = _value_json(v, kind)
            texts[k] = text
    # rows of n texts, each "[a,b,…]", joined by ","
    return "[" + "],[".join(map(",".join, zip(*[iter(texts)] * n))) + "]" if raws else ""


# what precedes a table's rows in `canonical_json`: its column list, the same for every workbook
_TABLE_HEADS = {name: '{"colonnes":' + _dumps([attr for attr, _ in cols]) + ',"lignes":['
                for name, cols in _COLUMNS.items()}


def canonical_json(conv: Convention, rows: Callable[[Table], list[Ligne]] | None = None) -> str:
    """Exactly `json.dumps(canonical_data(conv), ensure_ascii=False, sort_keys=True,
    separators=(",", ":"))`, written without building the intermediate lists (one per value).
    `rows(table)`: the table's non-empty rows, when the caller has them already (the rules' index)."""
    return "".join(_canonical_parts(conv, rows))


# the user-filled named cells in key order, each with its JSON key: `_names_json`
_NAMES_SORTED = tuple((nc.name, _string(nc.name) + ":", nc.kind)
                      for nc in sorted((nc for nc in layout.NAMED_CELLS if nc.user_filled), key=lambda nc: nc.name))


def _names_json(conv: Convention) -> str:
    """`_dumps(_names(conv))`, each value written by `_value_json` (no list, no encoder pass per file)."""
    names = conv.names
    out = []
    for name, key, kind in _NAMES_SORTED:
        nv = names.get(name)
        out.append(key + _value_json(nv.raw if nv is not None else None, kind))
    return "{" + ",".join(out) + "}"


def _canonical_parts(conv: Convention, rows: Callable[[Table], list[Ligne]] | None = None) -> list[str]:
    """`canonical_json` in pieces, in order: the fingerprint hashes them one after the other rather
    than copying a 5,000-line plan's megabyte of text into one string, then into its UTF-8 bytes."""
    if _full():  # once per convention, before its tables
        _forget(_TEXTS)
        _forget(_DATE_TEXTS)
    _known(_TEXTS, _NONE)  # a blank is "null" in every column (looked up by its type: `_rows_json`)
    _known(_DATE_TEXTS, _NONE)
    tables = {}
    for table, cols, raws in _user_tables(conv, rows):
        tables[table.name] = _rows_json(raws, cols, table.name in _LISTS) if cols else ",".join(["[]"] * len(raws))
    strays = ',"hors_tableaux":' + _dumps(_strays(conv)) if conv.stray_cells else ""  # sorted: after « format »
    parts = [_FORMAT + strays + ',"noms":' + _names_json(conv) + ',"tableaux":{']
    for k, name in enumerate(sorted(tables)):
        parts += ("," if k else "") + _KEYED_HEADS[name], tables[name], "]}"
    parts.append("}}")
    return parts


_FORMAT = '{"format":' + _dumps(FORMAT_VERSION)
_KEYED_HEADS = {name: _dumps(name) + ":" + head for name, head in _TABLE_HEADS.items()}  # « "T_x":{"colonnes":… »
_ONE_PIECE = 1 << 20  # characters of canonical text hashed at once (a small convention's ≈ 25,000)


def fingerprint(conv: Convention, rows: Callable[[Table], list[Ligne]] | None = None) -> str:
    """SHA-256 hex digest of the canonical data (same data → same fingerprint, whichever reader):
    of `canonical_json`'s UTF-8 bytes, fed piece by piece."""
    parts = _canonical_parts(conv, rows)
    if sum(map(len, parts)) <= _ONE_PIECE:  # one text, one encoding, one update: fewer steps than per piece
        return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
    return h.hexdigest()
