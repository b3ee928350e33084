"""What a table's totals row holds that no totals function gives: values typed there (STR-09).

Excel's totals row (Création de tableau › Ligne de total) holds a label (« Total ») and, under each
column, the result of a function of the lines above it: Somme, Moyenne, Nombre, Chiffres, Max, Min,
Écartype, Var — of every line, or of the lines a filter leaves visible. No reader takes that row as a
line, so a montant typed there is counted nowhere. Both readers (the file, the button's payload) give
values only, not formulas: a value is the row's own when it is such a result, computed here from the
lines (all of them, or those sharing one column's value: a filter on one criterion, the usual one).
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, time
from decimal import Decimal
from math import isfinite
from typing import Any

from acv_xl.contract import layout
from acv_xl.contract.values import ExcelError, NoCachedValue, fold, is_blank
from acv_xl.reading.source import TableBlock

# How a totals row's label starts (« Total », « Sous-total ETAT », « Somme »): the row's own text.
_LABELS = ("total", "totaux", "sous-total", "sous total", "somme")
# Kinds whose cell never holds a label: a text there (« 750 000 ») is a value typed
_NUMERIC = (layout.Kind.AMOUNT, layout.Kind.NUMBER, layout.Kind.YEAR, layout.Kind.DATE)
_EPOCH = datetime(1899, 12, 30)


def _number(v: Any) -> float | None:
    """A cell's value as a totals function sees it: a number, a date as its serial; else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, Decimal)):
        try:
            return float(v)
        except (OverflowError, ValueError):
            return None
    if isinstance(v, datetime):
        return (v - _EPOCH).total_seconds() / 86400
    if isinstance(v, date):
        return float((v - _EPOCH.date()).days)
    if isinstance(v, time):
        return (v.hour * 3600 + v.minute * 60 + v.second) / 86400
    return None


_LEAP_DAY_1900 = date(1900, 3, 1)


def _shown_a_day_later(v: Any) -> bool:
    """Whether `v` is a date before 01/03/1900, which Excel shows a day later than its serial counts from
    30/12/1899 (its 29/02/1900 that never was): a Nombre of 16 lines under the date column shows
    16/01/1900, which the file gives (calamine, as Excel shows it), where the add-in and COM give
    15/01/1900 — the serial is either, else STR-09 in the command line and « Validé » in the button."""
    if not isinstance(v, date):
        return False
    return (v.date() if isinstance(v, datetime) else v) < _LEAP_DAY_1900


def _results(values: list[Any], extremes: bool = True) -> list[float]:
    """Every result a totals function gives on these values (those of one column, one line each) but
    Écartype and Var (`_spread`); without Max and Min unless `extremes` (a line's own value is the Max
    of some group)."""
    nums = _numbers(values)
    filled = len(values) - values.count(None) - sum(v.__class__ is str and not v.strip() for v in values)
    out = [0.0, float(filled), float(len(nums))]
    if nums:
        out += [sum(nums), sum(nums) / len(nums)]
    if nums and extremes:
        out += [min(nums), max(nums)]
    return out


def _numbers(values: list[Any]) -> list[float]:
    # nearly all floats, or texts (a column of codes under a Nombre): neither needs `_number`
    nums = [v if v.__class__ is float else _number(v) for v in values if v is not None and v.__class__ is not str]
    return [n for n in nums if n is not None]


def _spread(values: list[Any]) -> list[float]:
    """Écartype and Var of the column: asked only for a number no other function gives — the Somme of
    the montants is the usual one, and `statistics` (exact fractions) costs 1 ms a 5 000-line column."""
    nums = _numbers(values)
    if len(nums) > 1:
        try:
            return [statistics.stdev(nums), statistics.variance(nums)]
        except (OverflowError, ValueError):
            pass
    return []


def _is_result(n: float, results: list[float]) -> bool:
    """Whether `n` is one of `results`, to the cent or to a billionth (a sum of floats, a Moyenne); an
    overflowed result (a sum past 1E+308) equals nothing."""
    return any(abs(n - r) <= max(0.005, abs(r) * 1e-9) for r in results if isfinite(r))


class _Results:
    """The results of the totals functions on one column: over every line, then — asked only for a
    number that is none of those — over each group of two lines or more sharing one column's value
    (Somme, Moyenne, Nombre: what a filter on that value shows). Each computed once."""

    def __init__(self, b: TableBlock):
        self.rows = [r for r in b.rows if not all(map(is_blank, r))]  # no generator: one call a line
        self.width = len(b.header)
        self.whole: dict[int, list[float]] = {}
        self.spread: dict[int, list[float]] = {}
        self.grouped: dict[int, list[float]] = {}
        self._groups: list[list[int]] | None = None

    def _column(self, j: int) -> list[Any]:
        return [r[j] if j < len(r) else None for r in self.rows]

    def groups(self) -> list[list[int]]:
        """The lines (their indexes) sharing one column's value, for each column: two lines at least,
        not all of them — a filter on a value showing a single line would make any montant equal to
        that line's a « total », and a line typed again there (a second tranche of the same amount) is
        the likelier."""
        if self._groups is None:
            self._groups = []
            for k in range(self.width):
                by_value: dict[Any, list[int]] = {}
                try:
                    for i, key in enumerate(self._column(k)):  # as typed: lists give one spelling
                        by_value.setdefault(key, []).append(i)
                except TypeError:  # a value no filter offers (an Office data type sent to a function)
                    continue
                self._groups += [g for g in by_value.values() if 1 < len(g) < len(self.rows)]
        return self._groups

    def gives(self, j: int, n: float) -> bool:
        if j not in self.whole:
            self.whole[j] = _results(self._column(j))
        if _is_result(n, self.whole[j]):
            return True
        if j not in self.spread:
            self.spread[j] = _spread(self._column(j))
        if _is_result(n, self.spread[j]):
            return True
        if j not in self.grouped:
            column = self._column(j)
            self.grouped[j] = [x for g in self.groups() for x in _results([column[i] for i in g], extremes=False)]
        return _is_result(n, self.grouped[j])


def typed_cells(b: TableBlock, cells: list[tuple[int, int, Any]]) -> list[tuple[int, int, Any]]:
    """The cells of the totals row (`cells`: its occupied ones, in order) typed as a line, or [] when the
    row is the table's own (its label, its totals functions' results, their errors).

    A line whose texts fill two required columns of the table (« 3.1 » | « ETAT », or « 3.1 » |
    « Fréquentation » under T_Indicateurs): every value of it, its year or amount included even when a
    function could give it — but a label left in its first cell (« Total »). Else a partial line: the
    values no function gives and the texts, when one of them is a number, a date or a text in a column
    of numbers or dates. A single text left (« ETAT », a filter's label) stays allowed."""
    table = layout.TABLES_BY_NAME.get(b.name)
    if table is None:
        return []
    columns = {fold(c.header): c for c in table.columns}
    header = [columns.get(fold(h)) if isinstance(h, str) else None for h in b.header]

    def column(c: int) -> layout.Column | None:
        j = c - b.first_col
        return header[j] if 0 <= j < len(header) else None

    # a function's error (#DIV/0! of a Moyenne) or a formula never computed: the row's own
    cells = [x for x in cells if not isinstance(x[2], (ExcelError, NoCachedValue))]
    label = [isinstance(v, str) and fold(v).startswith(_LABELS) for _r, _c, v in cells]
    required = {col.header for (_r, c, v), is_label in zip(cells, label)
                if isinstance(v, str) and not is_label and (col := column(c)) is not None and col.required}
    if len(required) >= 2:
        return cells[1:] if label[:1] == [True] else cells
    results = _Results(b)
    left, typed = [], False
    for (r, c, v), is_label in zip(cells, label):
        col = column(c)
        if isinstance(v, str):
            if is_label:
                continue
            typed |= col is not None and col.kind in _NUMERIC
        else:
            n = _number(v)
            if n is not None and (results.gives(c - b.first_col, n)
                                  or (_shown_a_day_later(v) and results.gives(c - b.first_col, n - 1))):
                continue
            typed = True  # a number no totals function gives, or a value none gives (TRUE, 10^400)
        left.append((r, c, v))
    return left if typed else []
