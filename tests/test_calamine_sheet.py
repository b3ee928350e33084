"""The sheets handed to calamine arranged so that it parses their cells once (`calamine_sheet`):
the same values, the same verdicts, and the part handed as it is whenever that is not certain."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from _hostile_files import FIN_PART, _rewrite
from python_calamine import CalamineWorkbook

from acv_xl.checks.validate import validate_file
from acv_xl.reading import calamine_sheet, source_file
from acv_xl.reading.calamine_sheet import arranged
from acv_xl.reading.errors import UnreadableWorkbook
from acv_xl.reading.read import read_file

_SHIPPED = sorted((Path(__file__).resolve().parents[1] / "workbooks" / "exemples").glob("*.xlsx"))
_SHEETS = "xl/worksheets/sheet"


def _arrange(xml: bytes) -> bytes | None:
    return arranged(xml, xml.rfind(b"mergeCell") >= 0)


def _repacked(path: Path, change) -> bytes:
    """The package `path` with each sheet's XML replaced by `change(xml)` (when not None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.startswith(_SHEETS):
                data = change(data) or data
            z.writestr(info.filename, data)
    return out.getvalue()


def _calamine_values(package: bytes) -> dict[str, object]:
    wb = CalamineWorkbook.from_filelike(io.BytesIO(package))
    out = {}
    for name in wb.sheet_names:
        try:
            out[name] = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:  # noqa: BLE001 - the verdict is what is compared
            out[name] = type(exc).__name__
    return out


@pytest.mark.parametrize("shipped", _SHIPPED, ids=lambda p: p.name)
def test_calamine_reads_an_arranged_sheet_as_the_part_itself(shipped):
    """Every sheet of the shipped examples is arranged, and calamine gives the same cells, sheet by sheet."""
    with zipfile.ZipFile(shipped) as z:
        sheets = [z.read(n) for n in z.namelist() if n.startswith(_SHEETS)]
    assert sheets and all(_arrange(xml) is not None for xml in sheets)
    plain = _calamine_values(shipped.read_bytes())
    assert _calamine_values(_repacked(shipped, _arrange)) == plain
    assert all(isinstance(v, list) for v in plain.values())


@pytest.mark.parametrize("shipped", _SHIPPED, ids=lambda p: p.name)
def test_a_workbook_reads_and_validates_the_same_with_its_sheets_arranged_or_not(shipped, monkeypatch):
    """The whole reading (every value, cell and finding) is the same as with the parts handed as they are."""
    conv = read_file(shipped).model_dump()
    report = validate_file(shipped)
    handed = []
    real = calamine_sheet.arranged
    monkeypatch.setattr(calamine_sheet, "arranged", lambda xml, merged: handed.append(real(xml, merged)) and None)
    assert read_file(shipped).model_dump() == conv
    assert any(handed)  # it would have been arranged
    plain = validate_file(shipped)
    assert [f.model_dump() for f in plain.findings] == [f.model_dump() for f in report.findings]
    assert (plain.etat, plain.totaux) == (report.etat, report.totaux)


def _template_sheet() -> bytes:
    with zipfile.ZipFile(_SHIPPED[0]) as z:
        return z.read(FIN_PART)


def _tail(extra: bytes):
    return lambda xml: xml.replace(b"</sheetData>", b"</sheetData>" + extra, 1)


# each change leaves the part as it is: arranging it could change what calamine says of it
_NOT_ARRANGED = {
    "merged cells": _tail(b'<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>'),
    "a comment after the cells": _tail(b"<!-- x -->"),
    "CDATA after the cells": _tail(b"<x><![CDATA[<y>]]></x>"),
    "an element left open": _tail(b"<extLst>"),
    "an element closed twice": _tail(b"<a></a></a>"),
    "a dimension after the cells": _tail(b'<dimension ref="A1:XFD1048576"/>'),
    "a second sheetData": _tail(b"<sheetData></sheetData>"),
    "a '>' in an attribute": _tail(b'<a b="1>2"/>'),
    "an end tag with a space": _tail(b"<a></a >"),
    "a prefixed root": lambda xml: xml.replace(b"<worksheet ", b"<x:worksheet xmlns:x=\"u\" ", 1).replace(
        b"</worksheet>", b"</x:worksheet>"),
    "something after the root": lambda xml: xml + b"<a/>",
    "a comment before the root": lambda xml: xml.replace(b"<worksheet ", b"<!-- x --><worksheet ", 1),
    "a self-closed root": lambda xml: xml.replace(b"<worksheet ", b"<worksheet/><worksheet ", 1),
    "an element left open before the cells": lambda xml: xml.replace(b"<sheetData>", b"<a><sheetData>", 1),
    "a prefixed sheetData": lambda xml: xml.replace(b"<sheetData>", b"<x:sheetData>", 1).replace(
        b"</sheetData>", b"</x:sheetData>", 1),
    "sheetData inside the cells": lambda xml: xml.replace(b"</row>", b"</row></sheetData><sheetData>", 1),
}


@pytest.mark.parametrize("change", sorted(_NOT_ARRANGED))
def test_a_part_not_plain_around_its_cells_is_handed_as_it_is(change):
    xml = _template_sheet()
    assert _arrange(xml) is not None
    changed = _NOT_ARRANGED[change](xml)
    assert changed != xml
    assert _arrange(changed) is None


def test_plain_xml_around_the_cells_is_arranged():
    """Text, attributes in either quotes, empty and nested elements, prefixes: plain, arranged."""
    xml = _tail(b"""<a x='1' y="2"><b:c/>text &amp; more<d  e = "f/g" /></a>\n""")(_template_sheet())
    out = _arrange(xml)
    assert out is not None and b"<b:c/>" not in out and out.endswith(b"</worksheet><sheetData>" + xml.split(
        b"<sheetData>")[1].split(b"</sheetData>")[0] + b"</sheetData>")
    assert out.count(b"<mergeCells></mergeCells>") == 1


def test_a_sheet_calamine_refuses_past_its_cells_is_still_refused(tmp_path):
    """An element closed once too often after the cells: calamine refused the sheet in its second
    pass; the part is not arranged, so it still does, and the reader says the sheet is unreadable."""
    good = _SHIPPED[0]
    bad = _rewrite(good, tmp_path / "fermeture.xlsx", {FIN_PART: _tail(b"<a></a></b></c>")})
    with zipfile.ZipFile(bad) as z:
        assert _arrange(z.read(FIN_PART)) is None
    values = _calamine_values(bad.read_bytes())
    assert sum(not isinstance(v, list) for v in values.values()) == 1  # calamine itself refuses it
    with pytest.raises(UnreadableWorkbook, match="illisible"):
        with source_file.FileSource(bad) as src:
            for name in src.sheet_names():
                src.extent(name)


def test_a_sheet_arranged_is_refused_for_what_calamine_refuses_in_its_cells(tmp_path):
    """The cells are parsed as before: a damaged one (an unclosed tag) still refuses the sheet."""
    bad = _rewrite(_SHIPPED[0], tmp_path / "cellule.xlsx",
                   {FIN_PART: lambda xml: xml.replace(b"<v>", b"<v", 1)})
    plain = _calamine_values(bad.read_bytes())
    with zipfile.ZipFile(bad) as z:
        changed = _arrange(z.read(FIN_PART))
    assert changed is not None
    assert sum(not isinstance(v, list) for v in plain.values()) == 1  # calamine refuses it as it is
    assert _calamine_values(_repacked(bad, _arrange)) == plain


def test_the_verdicts_kept_are_bounded_and_a_long_stretch_is_not_examined(monkeypatch):
    """A server fed parts for months keeps at most `_MEMO_BYTES` of stretches; a stretch past
    `_PLAIN_MAX` is handed as it is without being examined."""
    monkeypatch.setattr(calamine_sheet, "_MEMO_BYTES", 20_000)
    xml = _template_sheet()
    for k in range(40):
        assert _arrange(_tail(b"<a n='%d'>%s</a>" % (k, b"x" * 1000))(xml)) is not None
        assert calamine_sheet._TAIL.held <= 20_000
    long = _tail(b"<a>" + b"x" * calamine_sheet._PLAIN_MAX + b"</a>")(xml)
    monkeypatch.setattr(calamine_sheet, "_check", lambda *a: pytest.fail("examined"))
    assert _arrange(long) is None


@pytest.mark.parametrize("change", [
    b"</x></sheetData>",  # one end tag too many: the root closed by </sheetData>, refused at </worksheet>
    b"</x></y></sheetData>",  # two: refused at </sheetData>
    b"<x></sheetData>",  # an element left open: read
    b"<x><y></sheetData>",
    b"</x><y></sheetData>",  # closed once too often then opened again: read
])
def test_tags_unbalanced_among_the_cells_get_the_same_verdict(change):
    """calamine refuses an end tag when nothing is open: the arrangement keeps its verdicts on
    cells closing or opening elements of their own."""
    package = _repacked(_SHIPPED[0], lambda xml: xml.replace(b"</sheetData>", change, 1))
    plain = _calamine_values(package)
    assert _calamine_values(_repacked(io.BytesIO(package), _arrange)) == plain
