"""One workbook's rows of the consolidated `Lignes` sheet as a block of sheet XML that does not
depend on where it lands, deflated on its own: made by the worker that read the workbook (or
taken from the register), and only joined by the process that writes the consolidation.

What makes a block position-free (ECMA-376 §18.3.1.73 and §18.3.1.4 make `r` optional: the next
row, the next column):
- no `r` on its rows and cells; XlsxWriter's rows around it (header, total row) keep theirs, so
  the rows after a block are anchored again. A blank cell before a filled one is `<c/>` (its
  column stays right), blanks at a row's end are left out;
- inline strings, escaped as XlsxWriter escapes a shared string: no index into the workbook's
  shared strings;
- the styles' xf indexes fixed at every consolidated workbook's creation (`XF`).
Each block is a raw deflate stream ended by `Z_SYNC_FLUSH` (`_deflate`): the blocks of the counted
workbooks, joined, are the sheet's rows (`_PackedZip` joins them, CRCs by `crc32_combine`).
"""

from __future__ import annotations

import re
import zlib
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from acv_xl.checks.rules.consolidation import LINE_FIELDS, FileSummary
from acv_xl.outputs.consolidation_workbook import (
    NON,
    OUI,
    SANS_ID,
    XF,
    _compressor,
    _excel_serial,
    lignes_columns,
)
from acv_xl.outputs.formats import looks_rich


class Bloc(NamedTuple):
    """A workbook's rows of `Lignes`: whose (`sha256`, `rel`: the file shown in its cells), how many,
    and their XML's length and CRC-32 with its deflate stream."""

    sha256: str
    rel: str
    rows: int
    length: int
    crc: int
    data: bytes
    kept: bool = False  # taken from the register (which need not store it again)


# XlsxWriter's escaping of a shared string (`SharedStrings._write_si`, XlsxWriter 3.2–3.3), which a
# test compares with it: a literal `_xHHHH_` protected, control characters as `_xHHHH_`, the two
# non-characters too, then `&<>`; `xml:space` when the text starts or ends with whitespace.
_LITERAL = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_PLAIN = re.compile(r"[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|_x").search
_SPACE = re.compile(r"^\s|\s$").search
MAX_TEXT = 32767  # characters in a cell (Excel's limit; XlsxWriter truncates as much)


def inline_text(text: str) -> str:
    """`t="inlineStr"` and the cell's `<is>`: the text (truncated to `MAX_TEXT`) as XlsxWriter would
    write it in its shared strings."""
    text = text[:MAX_TEXT]
    if _PLAIN(text):
        text = _LITERAL.sub(r"_x005F\1", text)
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
        text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if _SPACE(text) else ""
    return f' t="inlineStr"><is><t{space}>{text}</t></is></c>'


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
        return f"{start}><v>{float(v)!r}</v></c>"
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
        x = self[key] = _cell(key[1], self.start)
        return x


def _starts(formats: list[str | None], row_format: str | None) -> list[str]:
    """Each column's `<c` and style for a row of `row_format` (as `_Writer.table` gives them)."""
    xfs = [XF.get(f or row_format, 0) if (f or row_format) else 0 for f in formats]
    return [f'<c s="{x}"' if x else "<c" for x in xfs]


_COMPTE = LINE_FIELDS.index("compte")
_TRAILING = re.compile(r"(?:<c/>)+</row>")
_MEMO_LIMIT = 50_000  # cells remembered per column and style (a long-lived process stays small)


class _Lignes:
    """The `Lignes` block builder of a process: its cells remembered across workbooks."""

    def __init__(self) -> None:
        formats = [f for _h, _w, f in lignes_columns()]
        self.width = len(formats)
        self.counted = [_Cells(s) for s in _starts(formats, None)]
        self.other = [_Cells(s) for s in _starts(formats, "non")]  # a line not counted: greyed

    def xml(self, f: FileSummary) -> str:
        head = (f.acv_id or SANS_ID, f.libelle, " ; ".join(f.communes), f.rel)
        rows = []
        for line in f.lines:
            memo = self.counted if line[_COMPTE] else self.other
            cells = [m[(type(v), v)] for m, v in zip(memo, head + tuple(line))]
            if len(line) + 4 > self.width:  # not expected: cells past the table's columns, unstyled
                cells += [_cell(v, "<c") for v in line[self.width - 4:]]
            rows.append("<row>" + "".join(cells) + "</row>")
        if len(self.counted[5]) > _MEMO_LIMIT:
            for m in self.counted + self.other:
                m.clear()
        xml = "".join(rows)
        return _TRAILING.sub("</row>", xml) if "<c/></row>" in xml else xml


_BUILDER: list[_Lignes] = []


def lignes_xml(f: FileSummary) -> str:
    """The rows of `f`'s financing lines in `Lignes` (the convention's columns, then `LINE_FIELDS`)."""
    if not _BUILDER:
        _BUILDER.append(_Lignes())
    return _BUILDER[0].xml(f)


def lignes_bloc(f: FileSummary) -> Bloc:
    """`f`'s block of `Lignes`, deflated on its own (a stream ended on a byte boundary, without a final
    block: blocks so made join into one stream, as `_PackedZip` joins them)."""
    xml = lignes_xml(f).encode("utf-8")
    c = _compressor()
    return Bloc(f.sha256, f.rel, len(f.lines), len(xml), zlib.crc32(xml), c.compress(xml) + c.flush(zlib.Z_SYNC_FLUSH))


def fits(b: Bloc | None, f: FileSummary) -> bool:
    """Whether `b` is `f`'s block (the same content, shown at the same place, as many lines)."""
    return b is not None and b.sha256 == f.sha256 and b.rel == f.rel and b.rows == len(f.lines)
