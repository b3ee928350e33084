"""One workbook's rows of the consolidated `Lignes` sheet (and its own findings' rows of `Anomalies`)
as a block of sheet XML that does not depend on where it lands, deflated on its own: made by the
worker that read the workbook (or taken from the register), and only joined by the process that
writes the consolidation.

What makes a block position-free (ECMA-376 §18.3.1.73 and §18.3.1.4 make `r` optional: the next
row, the next column):
- no `r` on its rows and cells; XlsxWriter's rows around it (header, total row) keep theirs, so
  the rows after a block are anchored again. A blank cell before a filled one is `<c/>` (its
  column stays right), blanks at a row's end are left out;
- inline strings, escaped as XlsxWriter escapes a shared string: no index into the workbook's
  shared strings;
- the styles' xf indexes fixed at every consolidated workbook's creation (`XF`).
Each block is a raw deflate stream ended by `Z_SYNC_FLUSH` (`_deflate`): the blocks of the counted
workbooks, joined, are the sheet's rows (`_PackedZip` joins them, CRCs by `crc32_combine`). The
rows of `Anomalies` keep their height (`ht`, `customHeight`) in the block.
"""

from __future__ import annotations

import zlib
from datetime import date
from decimal import Decimal
from functools import cache
from itertools import repeat
from typing import Any, NamedTuple

from zlib_ng import zlib_ng
from zlib_ng.zlib_ng import crc32 as _crc32

from acv_xl.checks.rules.consolidation import LINE_FIELDS, FileSummary
from acv_xl.contract.values import EXCEL_CELL_HALF, MEMO_TEXT_MAX, excel_text
from acv_xl.reading.errors import shown_file
from acv_xl.outputs import page_layout
from acv_xl.outputs.consolidation_result import Anomalie, own_anomalies
from acv_xl.outputs.consolidation_workbook import (
    NON,
    OUI,
    SANS_ID,
    XF,
    Feuille,
    _compressor,
    _excel_serial,
    anomalies_columns,
    inline_text,
    lignes_columns,
)


class Bloc(NamedTuple):
    """A workbook's rows of `feuille` (`Lignes` or `Anomalies`): whose (`sha256`, `rel`: the file
    shown in its cells), how many, and their XML's length and CRC-32 with its deflate stream."""

    feuille: str
    sha256: str
    rel: str
    rows: int
    length: int
    crc: int
    data: bytes
    kept: bool = False  # taken from the register (which need not store it again)


def _cell(v: Any, start: str) -> str:
    """One cell's XML (`start`: `<c` and its style), as the consolidation writes each value: text
    inline, never a formula; numbers; dates as day numbers; booleans as « Oui »/« Non »; a blank `<c/>`."""
    t = type(v)
    if v is None or (t is str and not v):
        return "<c/>"  # no style: as an empty cell left out
    if t is bool:
        return start + inline_text(OUI if v else NON)
    if t is str or isinstance(v, str):  # a str subclass (an enum): its text
        return start + inline_text(str(v))
    if t is int:
        return f"{start}><v>{v}</v></c>"  # a year stays 2024
    if t is float or t is Decimal or isinstance(v, (int, float, Decimal)):
        # -0 as 0: equal, so one memo key (`_Cells`), whose cell must not depend on which came first
        return f"{start}><v>{float(v) or 0.0!r}</v></c>"
    if isinstance(v, date):
        return f"{start}><v>{_excel_serial(v)!r}</v></c>"
    return start + inline_text(str(v))  # not expected: shown as text rather than lost


class _Cells(dict):
    """(type, value) → its cell's XML in one column and style, made on first use: the same codes,
    statuses and years repeat over the lines of a département."""

    __slots__ = ("start",)

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def __missing__(self, key):
        x = _cell(key[1], self.start)
        if not (type(key[1]) is str and len(key[1]) > MEMO_TEXT_MAX):  # a pasted text is never kept
            self[key] = x
        return x


class _ValueCells(dict):
    """`_Cells` for the values of one type: value → its cell's XML."""

    __slots__ = ("start",)

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def __missing__(self, v):
        x = _cell(v, self.start)
        if not (type(v) is str and len(v) > MEMO_TEXT_MAX):  # a pasted text is never kept
            self[v] = x
        return x


_NONE = type(None)


def _starts(formats: list[str | None], row_format: str | None) -> list[str]:
    """Each column's `<c` and style for a row of `row_format` (as `_Writer.table` gives them: the
    row's format over the cells of text, the columns' own over numbers)."""
    names = [row_format if row_format and f in (None, "texte", "texte_long") else f for f in formats]
    xfs = [XF.get(n, 0) if n else 0 for n in names]
    return [f'<c s="{x}"' if x else "<c" for x in xfs]


LIGNES, ANOMALIES = Feuille.LIGNES, Feuille.ANOMALIES  # the sheets made of blocks
_COMPTE = LINE_FIELDS.index("compte")
_FIELDS = len(LINE_FIELDS)
_MEMO_LIMIT = 50_000  # cells remembered per column and style (a long-lived process stays small), none
# of a text longer than `MEMO_TEXT_MAX` (a pasted text of 32,767 characters, 50,000 times, would not be)


class _Table:
    """A table's rows as position-free XML, its cells remembered across workbooks (a process's own:
    `_builder`). `columns`: the table's (header, width, format); `row_format`: the format of the
    cells without one in a row that asks for it (`Lignes`' lines not counted: greyed)."""

    def __init__(self, columns: list[tuple[str, float, str | None]], row_format: str | None = None) -> None:
        formats = [f for _h, _w, f in columns]
        if "texte_long" in formats:  # beside a wrapped column, every cell top-aligned (`_Writer.table`)
            formats = [f or "texte" for f in formats]
        self.width = len(formats)
        self.plain = [_Cells(s) for s in _starts(formats, None)]
        self.other = [_Cells(s) for s in _starts(formats, row_format)] if row_format else self.plain
        self.by_value: dict[tuple[int, type], _ValueCells] = {}  # (column, type) → plain cells by value

    def xml(self, rows, others: list[bool] | None = None, heights: list[float | None] | None = None) -> str:
        """`rows` (tuples of values), each of `row_format` where `others` says so, each of its
        height if `heights` gives one (a row of wrapped text).

        Column by column: each column's cells looked up in C (`map`) when its values are of one type
        (then a value is its own key); rows of another format made again cell by cell (few)."""
        n = len(rows)
        if not n:
            return ""
        if len(set(map(len, rows))) != 1 or len(rows[0]) > self.width:
            return self._row_by_row(rows, others, heights)  # not expected: lines of unequal lengths
        return self.xml_of_columns(list(zip(*rows)), n, others, heights)

    def xml_of_columns(self, columns: list[tuple], n: int, others: list[bool] | None = None,
                       heights: list[float | None] | None = None) -> str:
        """`xml` of the `n` rows whose columns are `columns` (each a tuple of `n` values, at most `width`
        of them)."""
        pieces = [self._column(j, col) for j, col in enumerate(columns)]
        if others is not None and any(others):
            at = [i for i, o in enumerate(others) if o]
            for cells, memo, col in zip(pieces, self.other, columns):
                for i in at:
                    v = col[i]
                    cells[i] = memo[(type(v), v)]
        heads = [f'<row ht="{h}" customHeight="1">' if h else "<row>" for h in heights] if heights \
            else repeat("<row>", n)
        xml = "".join(map("".join, zip(heads, *pieces, repeat("</row>", n))))
        self._bounded()
        return _without_trailing_blanks(xml)

    def _column(self, j: int, col: tuple) -> list[str]:
        first = col[0]
        if type(first) is str and col.count(first) == len(col):  # the convention's columns: one text
            return [self._plain_value(j, str)[first]] * len(col)
        kinds = set(map(type, col))
        kinds.discard(_NONE)
        if len(kinds) <= 1:  # one type (and blanks): a value is its own key (1, 1.0 and True never meet)
            return list(map(self._plain_value(j, kinds.pop() if kinds else _NONE).__getitem__, col))
        memo = self.plain[j]
        return [memo[(type(v), v)] for v in col]

    def _plain_value(self, j: int, kind: type) -> _ValueCells:
        memo = self.by_value.get((j, kind))
        if memo is None:
            memo = self.by_value[j, kind] = _ValueCells(self.plain[j].start)
        return memo

    def _row_by_row(self, rows, others, heights) -> str:
        out = []
        for i, row in enumerate(rows):
            memo = self.other if others is not None and others[i] else self.plain
            cells = [m[(type(v), v)] for m, v in zip(memo, row)]
            if len(row) > self.width:  # cells past the table's columns, unstyled
                cells += [_cell(v, "<c") for v in row[self.width:]]
            h = heights[i] if heights else None
            out.append((f'<row ht="{h}" customHeight="1">' if h else "<row>") + "".join(cells) + "</row>")
        self._bounded()
        xml = "".join(out)
        return _without_trailing_blanks(xml)

    def _bounded(self) -> None:
        """Cells remembered up to `_MEMO_LIMIT` per column (a long-lived process stays small)."""
        memos = self.plain + self.other + list(self.by_value.values())
        if max(map(len, memos)) > _MEMO_LIMIT:
            for m in memos:
                m.clear()


def _without_trailing_blanks(xml: str) -> str:
    """The blank cells at the end of each row left out: one C pass per blank (a row rarely ends with
    more than one), where a regular expression walked the text at every `<`."""
    while "<c/></row>" in xml:
        xml = xml.replace("<c/></row>", "</row>")
    return xml


@cache
def _builder(feuille: str) -> _Table:
    if feuille == LIGNES:
        return _Table(lignes_columns(), "non")
    return _Table(anomalies_columns())


def lignes_xml(f: FileSummary) -> str:
    """The rows of `f`'s financing lines in `Lignes` (the convention's identifier and libellé, then
    `LINE_FIELDS`, then its communes and file: `lignes_columns`), each as tall as its wrapped texts."""
    front, back = (f.acv_id or SANS_ID, f.libelle), (" ; ".join(f.communes), shown_file(f.rel))
    lines = f.lines
    if any(len(line) != _FIELDS for line in lines):  # not expected: each line its fields, no more, no fewer
        lines = [(tuple(line) + (None,) * _FIELDS)[:_FIELDS] for line in lines]
    n = len(lines)
    if not n:
        return ""
    # column by column, the lines' columns transposed once for the heights and the cells (no row of
    # the sheet made as a tuple): the convention's cells, the same on every row, a column each
    cols = list(zip(*lines))
    return _builder(LIGNES).xml_of_columns(
        [(v,) * n for v in front] + cols + [(v,) * n for v in back], n, [not c for c in cols[_COMPTE]],
        _lignes_heights(front, back, cols, n))


class _Heights(dict):
    """A wrapped column of `Lignes`: value → the height of its row when taller than one line, else 0.0
    (numbers, blanks, short texts), made on first use and remembered for the process's life (bounded,
    never a pasted text): a hit is one C lookup (`map(m.__getitem__, …)`), where the values of each
    workbook were filtered again in Python."""

    __slots__ = ("width", "limit")

    def __init__(self, width: float, limit: int) -> None:
        super().__init__()
        self.width, self.limit = width, limit  # `limit`: a text this long fits on one line, whatever its characters

    def __missing__(self, v) -> float:
        h = 0.0
        if type(v) is str and (len(v) > self.limit or "\n" in v or "\r" in v):
            h = page_layout.row_height([(v, self.width)])
            h = h if h > page_layout.LINE_PT + 2 else 0.0
            if len(v) > MEMO_TEXT_MAX:
                return h
        if len(self) > _MEMO_LIMIT:
            self.clear()
        self[v] = h
        return h


@cache
def _lignes_long() -> tuple[tuple[int, _Heights], ...]:
    """`Lignes`' wrapped columns: (index, its heights by value), widths as `_Writer.table` fits them."""
    out = []
    for j, (h, w, fmt) in enumerate(lignes_columns()):
        if fmt == "texte_long":
            w = page_layout.fit_width(w, h)
            out.append((j, _Heights(w, page_layout.one_line_chars(w))))
    return tuple(out)


def _lignes_heights(front: tuple, back: tuple, cols: list[tuple], n: int) -> list[float | None] | None:
    """The heights of a workbook's rows of `Lignes` (None: one line), as `_Writer.table` measures
    them (`page_layout.row_height`: a row is as tall as its tallest cell), or None when every row
    is one line. `front` and `back`: the convention's cells before and after the line's; `cols`: the
    columns of its `n` lines (`LINE_FIELDS`). `Lignes` is on the consolidation's critical path: each
    distinct text is measured once per process (`_Heights`), each row's cells looked up in C."""
    if not n:
        return None
    width = len(front)
    base = 0.0  # the convention's cells, on every row: the row's least height
    heights = None
    for j, memo in _lignes_long():
        k = j - width
        if k < 0 or k >= _FIELDS:
            base = max(base, memo[front[j] if k < 0 else back[k - _FIELDS]])
            continue
        col = list(map(memo.__getitem__, cols[k]))
        if any(col):
            heights = col if heights is None else list(map(max, heights, col))
    if heights is None:
        return None if not base else [base] * n
    if base:
        heights = map(max, heights, repeat(base))
    return [h or None for h in heights]


def anomalies_rows(anomalies: list[Anomalie]) -> list[tuple]:
    """`Anomalies`' rows of these findings."""
    libelles: dict[Any, str] = {}  # per gravity, its word: asked once each, not per finding
    shown: dict[str, str] = {}  # per file, its name as shown: once each
    return [(shown.get(a.rel) or shown.setdefault(a.rel, shown_file(a.rel)), a.acv_id,
             libelles.get(a.gravite) or libelles.setdefault(a.gravite, a.gravite.libelle), a.code, a.feuille, a.cellule, a.action, a.message, a.suggestion) for a in anomalies]


def anomalies_xml(anomalies: list[Anomalie]) -> str:
    """The rows of these findings in `Anomalies`, each as tall as its wrapped message and suggestion."""
    rows = anomalies_rows(anomalies)
    return _builder(ANOMALIES).xml(rows, heights=[_height(row[7:]) for row in rows])


@cache
def _long_widths() -> tuple[float, ...]:
    """The widths of `Anomalies`' wrapped columns (message, suggestion), as `_Writer.table` fits them."""
    return tuple(page_layout.fit_width(w, h) for h, w, f in anomalies_columns() if f == "texte_long")


_HEIGHTS: dict[tuple, float | None] = {}  # (message, suggestion) → height: the same findings repeat


def _height(texts: tuple) -> float | None:
    """A row's height for its wrapped texts, None for one line (as `_Writer.table` decides it)."""
    h = _HEIGHTS.get(texts, 0)
    if h == 0:
        if len(_HEIGHTS) > _MEMO_LIMIT:
            _HEIGHTS.clear()
        h = page_layout.row_height(zip([str(v or "") for v in texts], _long_widths()))
        h = h if h > page_layout.LINE_PT + 2 else None
        if not any(type(v) is str and len(v) > MEMO_TEXT_MAX for v in texts):  # a quoted pasted text is never kept
            _HEIGHTS[texts] = h
    return h


def _deflated(feuille: str, f: FileSummary, rows: int, xml: str) -> Bloc:
    """A block deflated on its own (a stream ended on a byte boundary, without a final block: blocks
    so made join into one stream, as `_PackedZip` joins them)."""
    data = xml.encode("utf-8")
    c = _compressor()
    # zlib-ng's CRC-32: the same checksum, a tenth of zlib's time
    return Bloc(feuille, f.sha256, f.rel, rows, len(data), _crc32(data), c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))


def lignes_bloc(f: FileSummary) -> Bloc:
    """`f`'s block of `Lignes`."""
    return _deflated(LIGNES, f, len(f.lines), lignes_xml(f))


def anomalies_bloc(f: FileSummary) -> Bloc:
    """`f`'s block of `Anomalies`: its own findings (its CON findings, which the batch decides, are
    written before it by the writer)."""
    own = own_anomalies(f)
    return _deflated(ANOMALIES, f, len(own), anomalies_xml(own))


def parts():
    """A maker of the parts the writer makes itself (the CON findings, a few rows each), joined between
    blocks. One compressor for all, each part ended by `Z_FULL_FLUSH`: byte-aligned, and never
    referring to the parts before it (which are not before it in the sheet): a compressor per part
    cost more than the rest of `Anomalies`. zlib-ng's level 1: its full flush costs a fraction of
    zlib's (a thousand parts: ≈ 15 ms less of the writing's CPU, on the run's critical path)."""
    c = zlib_ng.compressobj(1, zlib_ng.DEFLATED, -15)

    def part(xml: str) -> tuple[int, int, bytes]:
        data = xml.encode("utf-8")
        return len(data), _crc32(data), c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    return part


def fits(b: Bloc | None, feuille: str, f: FileSummary) -> bool:
    """Whether `b` is `f`'s block of `feuille` (the same content, shown at the same place, as many rows)."""
    return (b is not None and b.feuille == feuille and b.sha256 == f.sha256 and b.rel == f.rel
            and b.rows == (len(f.lines) if feuille == LIGNES else len(f.findings)))


def made_by_workers(f: FileSummary) -> list[Bloc]:
    """The blocks a worker makes right after `f`'s summary."""
    out = []
    if f.lisible and f.lines:
        out.append(lignes_bloc(f))
    if f.findings:
        out.append(anomalies_bloc(f))
    return out
