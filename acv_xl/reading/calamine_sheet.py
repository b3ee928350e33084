"""A worksheet's XML as handed to calamine, arranged so that it parses the cells once, not twice.

python-calamine's `get_sheet_by_name` reads a sheet twice: its cells (calamine's cell reader: the
elements before `<sheetData>`, then the cells up to `</sheetData>`), then the whole part again from
its top, looking for merged cells (`<mergeCells>`, which comes after `<sheetData>`) — merged cells
the reader never asks of calamine (`source_file` finds them itself). That second pass over every
cell is a third of calamine's time on a sheet (0.23 ms of 0.70 on a workbook of ours).

`arranged(xml)` gives calamine the same part with an empty `<mergeCells></mergeCells>` right after
the root's start tag, where that search stops at once, the root closed before `<sheetData>` rather
than after it, and without what followed `</sheetData>` (validations, page setup, drawing, tables…),
which calamine only ever parsed in that second pass, taking nothing from it:
`<?xml…?><worksheet…><mergeCells></mergeCells>…</worksheet><sheetData>…</sheetData>`.

The same values and the same verdicts: the cell reader meets the same elements before the same
cells (it passes over a `<mergeCells>` and an end tag), and a part is arranged only when the second
pass could have objected to nothing past the cells — else `arranged` returns None and the part is
handed as it is:
- no merged cell anywhere (calamine parses their references: a bad one refuses the sheet);
- one `<sheetData>`…`</sheetData>`, unprefixed, under an unprefixed root `<worksheet>` opened after
  at most the XML declaration, and closed by the part's last tag;
- between the root's start tag and `<sheetData>`, and between `</sheetData>` and `</worksheet>`,
  plain XML (`_PIECE`): text and tags only — no comment, CDATA, processing instruction nor `<` or
  `>` in an attribute value — every element closed in the same stretch, never one more: calamine's
  tokenizer finds nothing to object to there; no `<dimension>` after the cells (the cell reader
  takes one met before them); at most `_PLAIN_MAX` bytes each.
calamine refuses a tag closing when nothing is open. A `<sheetData>` closing one element more than
it opens used to close the root, then be refused at `</worksheet>`: with the root closed before it,
its own `</sheetData>` is refused instead. One difference is left, knowingly: a `<sheetData>` that at
some point has closed two elements more than it opened, and opens as many again before its end, was
read and is now refused. No writer produces either; telling it would cost counting every tag.
The verdicts on the stretches around the cells are kept (the template's are the same in most
workbooks of a département): a workbook of ours costs a few searches a sheet.
"""

from __future__ import annotations

import re

_MARK = b"<mergeCells></mergeCells>"
_PLAIN_MAX = 64 * 1024
_NAME = rb"[A-Za-z_][\w.:\-]*"
# plain XML, a tag at a time: the text before it, then an end tag (group 1) without anything after
# its name, or a start tag whose attribute values hold neither "<" nor ">" (group 2: empty, `<a/>`);
# each step anchored and its alternatives disjoint, so that nothing is ever backtracked
_PIECE = re.compile(rb"[^<]*<(?:(/)" + _NAME + rb"|" + _NAME
                    + rb"""(?:\s(?:[^<>"'/]|/(?!>)|"[^<>"]*"|'[^<>']*')*)?(/)?)>""")


class _Stretch:
    """What a stretch of the part around the cells may hold, and the verdicts already given on it
    (the stretches of the template's sheets are the same in most workbooks of a département):
    bounded, at most `_MEMO_BYTES` of stretches kept (emptied when full)."""

    def __init__(self, lead: bytes, absent: tuple[bytes, ...]) -> None:
        self.lead = re.compile(lead)  # what it begins with
        self.absent = absent  # names that may not occur after that
        self.verdicts: dict[bytes, int] = {}
        self.held = 0  # bytes of the stretches kept

    def keep(self, stretch: bytes, verdict: int) -> None:
        if self.held + len(stretch) > _MEMO_BYTES:
            self.verdicts.clear()
            self.held = 0
        self.verdicts[stretch] = verdict
        self.held += len(stretch)


_MEMO_BYTES = 2 * 2**20
# before `<sheetData>`: the prolog and the root's start tag as every writer puts them, then plain XML
# (a `<dimension>` there is read by calamine in both arrangements)
_HEAD = _Stretch(rb"(?:<\?xml[^<>]*\?>)?\s*<worksheet(?:\s[^<>]*)?(?<!/)>", (b"sheetData", b"worksheet"))
# after `</sheetData>`, up to `</worksheet>`: plain XML
_TAIL = _Stretch(b"", (b"sheetData", b"worksheet", b"dimension"))


def arranged(xml: bytes, merged: bool) -> bytes | None:
    """The sheet part `xml` arranged for calamine (see the module), or None to hand it as it is.
    `merged`: whether "mergeCell" occurs in the part (its caller searches it anyway)."""
    if merged:
        return None
    start = xml.find(b"<sheetData>")
    end = xml.rfind(b"</sheetData>")
    close = xml.rfind(b"</worksheet>")
    # (`rfind`: faster than `find` over the cells, where the name is absent)
    if not 0 <= start < end < close or xml.rfind(b"sheetData", start + 10, end + 1) >= 0 \
            or not xml[close + 12:].isspace() and close + 12 < len(xml):
        return None
    at = _plain_balanced(xml[:start], _HEAD)  # (bytes: a memoryview is hashed ten times slower)
    if at < 0 or _plain_balanced(xml[end + 12: close], _TAIL) < 0:
        return None
    view = memoryview(xml)
    return b"".join((view[:at], _MARK, view[at:start], b"</worksheet>", view[start: end + 12]))


def _plain_balanced(stretch: bytes, kind: _Stretch) -> int:
    """Where what `kind.lead` matches at the start of `stretch` ends, when the rest is plain XML
    (`_PIECE` after `_PIECE`) closing every element it opens, never one more, none of `kind.absent`
    in it; else -1."""
    if len(stretch) > _PLAIN_MAX:
        return -1
    found = kind.verdicts.get(stretch)
    if found is None:
        found = _check(stretch, kind)
        kind.keep(stretch, found)
    return found


def _check(stretch: bytes, kind: _Stretch) -> int:
    first = kind.lead.match(stretch)
    if first is None or any(stretch.find(name, first.end()) >= 0 for name in kind.absent):
        return -1
    depth, pos, match = 0, first.end(), _PIECE.match
    while (m := match(stretch, pos)) is not None:
        pos = m.end()
        end, empty = m.groups()
        if end:
            depth -= 1
            if depth < 0:
                return -1
        elif not empty:
            depth += 1
    return first.end() if depth == 0 and stretch.find(b"<", pos) < 0 else -1  # what is left: text only
