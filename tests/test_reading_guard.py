"""The reader's guard, piece by piece (in process; the whole commands run in `test_hostile.py`)."""

from __future__ import annotations

import io
import re
import struct
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from _hostile_files import (
    FIN_PART,
    SST_PART,
    _parts,
    _rewrite,
    _set_first_funder,
    custom_property_bomb,
    lying_crc,
    lying_size,
)
from _read_workbooks import build, default_names, table_from_layout

from acv_xl.checks.rules import run_rules
from acv_xl.contract import layout
from acv_xl.contract.model import ROW_MODELS
from acv_xl.outputs.terminal import literal, markup_literal
from acv_xl.reading import source_file, zip_guard
from acv_xl.reading.errors import UnreadableWorkbook
from acv_xl.reading.ooxml import Package
from acv_xl.reading.read import read_file
from acv_xl.reading.source_file import _NEAR_BOUND, _scan_sheet

FIN = layout.T_FINANCEMENTS


def _good(tmp_path: Path) -> Path:
    rows = [{"numero": "1.1", "financeur": "ETAT", "nature": "Subvention", "annee": 2024, "montant": 1000.0,
             "statut": "Acquis", "commentaire": "une ligne"}]
    return build(tmp_path / "bon.xlsx", [table_from_layout(t, rows if t is FIN else []) for t in layout.TABLES],
                 default_names())


# ------------------------------------------------------------------ zip_guard.inflate
def _one_part_zip(data: bytes, *, size: int | None = None, crc: int | None = None, stored=False) -> tuple[bytes, zipfile.ZipInfo]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
        z.writestr("p.xml", data)
    raw = buf.getvalue()
    info = zipfile.ZipFile(io.BytesIO(raw)).getinfo("p.xml")
    if size is not None:
        info.file_size = size
    if crc is not None:
        info.CRC = crc
    return raw, info


@pytest.mark.parametrize("stored", [False, True])
def test_inflate_gives_the_part_from_memory_or_from_a_file(stored):
    data = b"<x>" + b"donnees " * 5000 + b"</x>"
    raw, info = _one_part_zip(data, stored=stored)
    assert zip_guard.inflate(info, raw) == data
    assert zip_guard.inflate(info, fh=io.BytesIO(raw)) == data


@pytest.mark.parametrize("change, reason", [
    ({"size": 100}, "au-delà de la taille"),  # the data go on past the declared size
    ({"size": 10**6}, "n'a pas la taille"),  # the data end short
    ({"crc": 12345}, "somme de contrôle"),
])
@pytest.mark.parametrize("source", ["memory", "file"])
def test_inflate_refuses_a_part_that_disagrees_with_the_directory(change, reason, source):
    raw, info = _one_part_zip(b"<x>" + b"a" * 50_000 + b"</x>", **change)
    with pytest.raises(zip_guard.PartRefused, match=reason):
        zip_guard.inflate(info, raw) if source == "memory" else zip_guard.inflate(info, fh=io.BytesIO(raw))


def test_a_small_part_met_again_is_not_inflated_again_but_still_checked():
    """The template's small parts, the same bytes in every workbook, are inflated once; the same
    compressed bytes declared with another size or CRC, or cut short, are still refused."""
    data = b"<x>" + b"relation " * 200 + b"</x>"
    raw, info = _one_part_zip(data)
    first = zip_guard.inflate(info, raw, memo=True)
    assert first == data and zip_guard.inflate(info, bytes(bytearray(raw)), memo=True) is first
    assert zip_guard.inflate(info, raw) is not first  # a sheet's data: inflated every time
    for change, reason in (({"crc": 12345}, "somme de contrôle"), ({"size": 100}, "au-delà de la taille")):
        _raw, lying = _one_part_zip(data, **change)
        with pytest.raises(zip_guard.PartRefused, match=reason):
            zip_guard.inflate(lying, raw, memo=True)
    with pytest.raises(zip_guard.PartRefused, match="tronqué"):
        zip_guard.inflate(info, raw[:info.header_offset + 30 + len("p.xml") + info.compress_size - 1], memo=True)


def test_inflate_never_produces_more_than_one_byte_past_the_declared_size():
    """2 GiB of zeros behind a 1 KB declared size: refused with a few KB allocated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    comp = block * 2048 + b"\x03\x00"
    info = zipfile.ZipInfo("p.xml")
    info.compress_type, info.file_size, info.compress_size, info.CRC = zipfile.ZIP_DEFLATED, 1024, len(comp), 0
    info.header_offset = 0
    raw = b"PK\x03\x04" + bytes(22) + (5).to_bytes(2, "little") + bytes(2) + b"p.xml" + comp
    tracemalloc.start()
    try:
        for kwargs in ({"data": raw}, {"fh": io.BytesIO(raw)}):
            with pytest.raises(zip_guard.PartRefused, match="au-delà"):
                zip_guard.inflate(info, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(comp) + (4 << 20), f"{peak / 2**20:.0f} Mo"


def test_inflate_refuses_what_excel_never_writes():
    raw, info = _one_part_zip(b"<x/>")
    info.compress_type = zipfile.ZIP_BZIP2
    with pytest.raises(zip_guard.PartRefused, match="compression"):
        zip_guard.inflate(info, raw)
    raw, info = _one_part_zip(b"<x/>")
    info.flag_bits |= 0x1
    with pytest.raises(zip_guard.PartRefused, match="chiffré"):
        zip_guard.inflate(info, raw)


def test_repack_stores_the_checked_parts_and_copies_the_others(tmp_path):
    """calamine is handed the parts already inflated and checked, stored: the same package part for
    part, parsed without being inflated again; the parts never inflated are copied compressed."""
    good = _good(tmp_path)
    raw = good.read_bytes()
    infos = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    checked = {i.header_offset: zip_guard.inflate(i, raw) for i in infos if i.filename.startswith("xl/worksheets/")}
    assert checked
    out = zipfile.ZipFile(io.BytesIO(zip_guard.repack(infos, raw, checked)))
    assert [i.filename for i in out.infolist()] == [i.filename for i in infos]
    for old, new in zip(infos, out.infolist()):
        assert out.read(new) == zipfile.ZipFile(io.BytesIO(raw)).read(old)
        stored = old.header_offset in checked
        assert new.compress_type == (zipfile.ZIP_STORED if stored else old.compress_type)
        assert new.compress_size == (old.file_size if stored else old.compress_size)
    # a local header that does not name its part: the package is handed on as it is
    first = infos[0]
    broken = raw[:first.header_offset + 30] + b"X" + raw[first.header_offset + 31:]
    assert zip_guard.repack(infos, broken, {}) is None


def test_calamine_reads_the_parts_checked_by_the_guard(tmp_path, monkeypatch):
    """The sheets the reader asks for are inflated once, by the guard, and handed to calamine stored."""
    good = _good(tmp_path)
    seen = []
    real = zip_guard.repack
    monkeypatch.setattr(zip_guard, "repack", lambda *args: seen.append(real(*args))
                        or seen[-1])
    conv = read_file(good)
    assert conv.rows(FIN.name)[0].financeur == "ETAT"
    (package,) = seen
    z = zipfile.ZipFile(io.BytesIO(package))
    stored = {i.filename for i in z.infolist() if i.compress_type == zipfile.ZIP_STORED}
    assert {FIN_PART, SST_PART, "xl/workbook.xml"} <= stored


def test_calamine_is_handed_only_the_parts_it_opens(tmp_path, monkeypatch):
    """Theme, drawings, tables, properties… are left out of the package handed to calamine (it never
    opens them), not a part it reads by name nor a sheet, wherever the workbook puts it."""
    good = _good(tmp_path)
    names = set(zipfile.ZipFile(good).namelist())
    assert {"xl/theme/theme1.xml", "docProps/core.xml"} <= names and any(n.startswith("xl/tables/") for n in names)
    seen = []
    real = zip_guard.repack
    monkeypatch.setattr(zip_guard, "repack", lambda *args: seen.append(real(*args))
                        or seen[-1])
    read_file(good)
    (package,) = seen
    handed = set(zipfile.ZipFile(io.BytesIO(package)).namelist())
    assert handed == {n for n in names if not n.startswith(("xl/theme/", "xl/tables/", "docProps/", "xl/worksheets/_rels/"))}
    assert {"[Content_Types].xml", "_rels/.rels", "xl/_rels/workbook.xml.rels", SST_PART, FIN_PART} <= handed
    # a sheet the workbook keeps in a folder calamine is never handed otherwise is handed all the same
    assert source_file._not_for_calamine("xl/drawings/drawing1.xml")
    assert not source_file._not_for_calamine("xl/tables/sharedStrings.xml")
    assert not source_file._not_for_calamine("xl/worksheets/sheet1.xml")
    moved = tmp_path / "deplace.xlsx"
    sheet = FIN_PART.rsplit("/", 1)[1]
    renamed = {FIN_PART: "xl/drawings/plan.xml", f"xl/worksheets/_rels/{sheet}.rels": "xl/drawings/_rels/plan.xml.rels"}
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(moved, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(f"worksheets/{sheet}".encode(), b"drawings/plan.xml")
            out.writestr(renamed.get(info.filename, info.filename), data)
    assert read_file(moved).rows(FIN.name)[0].financeur == "ETAT"
    assert "xl/drawings/plan.xml" in zipfile.ZipFile(io.BytesIO(seen[-1])).namelist()


_SHIPPED = sorted((Path(__file__).resolve().parents[1] / "workbooks" / "exemples").glob("*.xlsx"))


@pytest.mark.parametrize("shipped", _SHIPPED, ids=lambda p: p.name)
def test_the_shortcuts_read_the_shipped_examples_as_the_plain_way(shipped, monkeypatch):
    """The central directory read by `zip_guard.directory` and calamine handed only the parts it opens
    give the same convention, value for value, as zipfile's directory and the whole package."""
    fast = read_file(shipped).model_dump()
    monkeypatch.setattr(zip_guard, "directory", lambda data: None)
    monkeypatch.setattr(source_file, "_NOT_FOR_CALAMINE", ())
    handed = []
    real = zip_guard.repack
    monkeypatch.setattr(zip_guard, "repack", lambda infos, *args: handed.append(len(infos))
                        or real(infos, *args))
    assert read_file(shipped).model_dump() == fast
    assert handed == [len(zipfile.ZipFile(shipped).infolist())]  # the plain way indeed


@pytest.mark.parametrize("change", ["none", "comment", "prefix", "extra", "zip64 extra", "unicode path extra",
                                    "backslash", "truncated"])
def test_a_plain_directory_is_read_as_zipfile_reads_it(tmp_path, change):
    """`zip_guard.directory` gives zipfile's entries for a plain package, and leaves any other to zipfile."""
    raw = _good(tmp_path).read_bytes()
    if change != "none":
        with zipfile.ZipFile(io.BytesIO(raw)) as src:
            parts = [(i.filename, src.read(i)) for i in src.infolist()]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for n, data in parts:
                info = zipfile.ZipInfo(n.replace("/", "\\") if change == "backslash" and n == SST_PART else n)
                info.compress_type = zipfile.ZIP_DEFLATED
                if change == "extra":
                    info.extra = struct.pack("<HH", 0x5455, 5) + b"\x01abcd"  # a timestamp, as zip tools write
                if change == "zip64 extra":
                    info.extra = struct.pack("<HHQ", 1, 8, 0)
                if change == "unicode path extra" and n == SST_PART:
                    # Info-ZIP's Unicode path (version, CRC of the name, the name): zipfile renames the
                    # part by it from Python 3.12, so it is left to zipfile
                    other = "xl/chaînes.xml".encode()
                    info.extra = struct.pack("<HHBI", 0x7075, 5 + len(other), 1, zlib.crc32(n.encode())) + other
                out.writestr(info, data)
            if change == "comment":
                out.comment = b"un commentaire"
        raw = buf.getvalue()
        raw = b"avant" + raw if change == "prefix" else raw[:-30] + raw[-22:] if change == "truncated" else raw
    found = zip_guard.directory(raw)
    if change in ("none", "extra"):
        expected = zipfile.ZipFile(io.BytesIO(raw)).infolist()
        assert found is not None
        assert found.infolist() == [tuple(getattr(i, f) for f in zip_guard.Entry._fields) for i in expected]
        assert found.namelist() == [i.filename for i in expected]
        assert found.getinfo(SST_PART).file_size == zipfile.ZipFile(io.BytesIO(raw)).getinfo(SST_PART).file_size
        with pytest.raises(KeyError):
            found.getinfo("absente.xml")
    else:
        assert found is None


def test_past_the_repack_budget_calamine_reads_the_package_as_it_is(tmp_path, monkeypatch):
    """A workbook whose parts inflate past `_REPACK_MAX` keeps no second copy of them: calamine is
    handed the file's own bytes, and reads the same values."""
    good = _good(tmp_path)
    monkeypatch.setattr(source_file, "_REPACK_MAX", 2000)
    called = []
    monkeypatch.setattr(zip_guard, "repack", lambda *a: called.append(a))
    with source_file.FileSource(good) as src:
        assert src._checked is None  # the structure parts alone are past it: nothing more is kept
        assert src.table(FIN.name).rows[0][1] == "ETAT"
        assert not called


def test_structure_parts_are_parsed_once_per_content_and_a_malformed_one_always_refused(tmp_path):
    """The template's relationships and tables, the same in every workbook of a département, are
    parsed once; a damaged one is refused every time it is met, never remembered as good."""
    part = b'<Relationships xmlns="p"><Relationship Id="rId1" Type="t" Target="x.xml"/></Relationships>'
    assert source_file._start_tags(part) == (
        ("Relationships", {}), ("Relationship", {"Id": "rId1", "Type": "t", "Target": "x.xml"}))
    first = source_file._relationships("xl/worksheets", part)
    assert first == [("rId1", "t", "xl/worksheets/x.xml")]
    assert source_file._relationships("xl/worksheets", bytes(bytearray(part))) is first  # another file, the same bytes
    table = (b'<table xmlns="m" name="T" displayName="T" ref="A1:B3"><tableColumns count="2">'
             b'<tableColumn id="1" name="a"/><tableColumn id="2" name="b"/></tableColumns></table>')
    entry = source_file._table_entry(table)
    assert entry == ("T", "T", "A1:B3", 1, 0, ("a", "b"))
    assert source_file._table_entry(bytes(bytearray(table))) is entry
    for _ in range(2):
        with pytest.raises(source_file.expat.ExpatError):
            source_file._relationships("xl/worksheets", part[:-3])
        with pytest.raises(source_file.expat.ExpatError):
            source_file._table_entry(table[:-3])
    good = _good(tmp_path)
    broken = _rewrite(good, tmp_path / "casse.xlsx", {"xl/tables/table1.xml": b"<table"})
    for _ in range(2):
        assert read_file(good).rows(FIN.name)[0].financeur == "ETAT"
        with pytest.raises(UnreadableWorkbook, match="description de ses tableaux"):
            read_file(broken)


def test_the_structure_parts_of_a_second_workbook_are_not_parsed_again(tmp_path, monkeypatch):
    """`_start_tags` kept a memo of its own under callers that memoise by the same bytes
    (`_relationships`, `_table_entry`): removed. What it saved is saved by them: a workbook with the
    parts of one read before (a commune's copy of the template) parses none of them again."""
    import shutil

    good = _good(tmp_path)
    copy = tmp_path / "copie.xlsx"
    shutil.copy(good, copy)
    parsed = []
    start_tags = source_file._start_tags
    monkeypatch.setattr(source_file, "_start_tags", lambda data: parsed.append(data) or start_tags(data))
    for memo in (source_file._table_entry.memo, source_file._RELATIONSHIPS):
        memo.found.clear()
    first = read_file(good)
    assert parsed  # the relationships and tables of the first one are parsed
    parsed.clear()
    second = read_file(copy)
    assert parsed == []
    assert second.rows(FIN.name)[0].financeur == first.rows(FIN.name)[0].financeur == "ETAT"
    assert not hasattr(start_tags, "memo")


def test_has_dtd_walks_the_prolog():
    assert zip_guard.has_dtd(b'<?xml version="1.0"?><!--' + b" " * 9000 + b'--><!DOCTYPE x [<!ENTITY a "b">]><x/>')
    assert zip_guard.has_dtd('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16"))
    assert not zip_guard.has_dtd(b'<?xml version="1.0"?>\n<x><t>&lt;!DOCTYPE</t></x>')
    assert not zip_guard.has_dtd(b"")
    # a template part's verdict is kept for the next workbook: the same verdict, each time
    bad, good = b'<?xml version="1.0"?><!DOCTYPE x><x/>', b'<?xml version="1.0"?><x/>'
    for _ in range(2):
        assert zip_guard.has_dtd(bad, memo=True) and not zip_guard.has_dtd(good, memo=True)
    assert zip_guard._DTD_VERDICTS[bad] is True and zip_guard._DTD_VERDICTS[good] is False


# ------------------------------------------------------------------ the whole reader
def test_lying_headers_are_refused_without_inflating(tmp_path):
    good = _good(tmp_path)
    from test_bad_files import _refused_with_bounded_memory  # STR-01, bounded memory and time

    for factory, where in ((lying_crc, "la feuille « Plan de financement »"), (lying_size, SST_PART)):
        _refused_with_bounded_memory(factory(good, tmp_path), where)
        with pytest.raises(UnreadableWorkbook, match="au-delà"):
            read_file(factory(good, tmp_path))


def test_the_annotated_copy_and_the_consolidation_mark_read_through_the_same_guard(tmp_path):
    from acv_xl.outputs.consolidation import _is_consolidation

    good = _good(tmp_path)
    assert set(Package.open(good).parts) == set(zipfile.ZipFile(good).namelist())
    with pytest.raises(UnreadableWorkbook, match="au-delà"):
        Package.open(lying_crc(good, tmp_path))
    bomb = custom_property_bomb(good, tmp_path)
    t0 = time.thread_time()
    tracemalloc.start()
    try:
        assert _is_consolidation(str(bomb)) is False
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20 and time.thread_time() - t0 < 2


def test_the_shared_text_budget(tmp_path, monkeypatch):
    """The text a workbook makes the reader materialise is capped: a normal file is far below it."""
    good = _good(tmp_path)
    read_file(good)
    monkeypatch.setattr(source_file, "MAX_TEXT_CHARS", 20)
    with pytest.raises(UnreadableWorkbook, match="millions de caractères|caractères de texte"):
        read_file(good)


def test_the_shared_text_cost_counts_each_reference():
    sst = b"<sst><si><t>abc</t></si><si><t>" + b"x" * 1000 + b"</t></si></sst>"
    xml = b"<sheetData>" + b'<c r="A1" t="s"><v>1</v></c>' * 3 + b'<c r="A2" t="s"><v>0</v></c></sheetData>'
    cost = source_file._shared_text_cost(xml, sst)
    assert 3000 <= cost <= 3 * len(b"<si><t>" + b"x" * 1000 + b"</t></si>") + 100
    # however the attribute is written (spaces, quotes, order, a prefix)
    odd = (b'<sheetData><c t = \'s\' r="A1"><v>1</v></c><x:c r="B1" t="s"><x:v> 1 </x:v></x:c>'
           b'<c r="C1" t="s"><f>A1</f><v>1</v></c></sheetData>')
    assert source_file._shared_text_cost(odd, sst) == 3 * len(b"<si><t>" + b"x" * 1000 + b"</t></si>")



def test_the_longest_shared_string_is_bounded_from_above_in_a_few_searches():
    """The quick bound (every window of `_SI_WINDOW` bytes holds a tag) is never below the longest
    string; with a string longer than a window, the strings are measured."""
    w = source_file._SI_WINDOW
    for lengths in ([], [0], [3, 5], [w - 40] * 3, [200] * 300, [2 * w - 40, 5], [2 * w] * 2, [10 * w, 3]):
        sst = b"<sst>" + b"".join(b"<si><t>" + b"x" * n + b"</t></si>" for n in lengths) + b"</sst>"
        exact = max(map(len, sst.split(b"</si>")), default=0)
        bound, is_exact = source_file._longest_shared_string(sst)
        assert bound >= exact and (bound == exact or not is_exact)
        if max(lengths, default=0) > 2 * w:
            assert (bound, is_exact) == (exact, True)
    assert source_file._longest_shared_string(b"<si>" + b"x" * 5000, exact=True) == (5004, True)


def test_the_shared_text_cost_ends_a_string_where_calamine_does():
    """`</si >` ends a string for calamine: the next string is the one cited, not a short one after it."""
    sst = b"<sst><si><t>a</t></si ><si><t>" + b"x" * 5000 + b"</t></si><si><t>b</t></si></sst>"
    xml = b'<sheetData><c r="A1" t="s"><v>1</v></c></sheetData>'
    assert source_file._shared_text_cost(xml, sst) >= 5000


def test_a_long_part_name_is_not_kept_between_runs(tmp_path):
    """The names of the parts calamine is not handed are memoised for the next workbooks, but not a
    name of 60,000 bytes (a zip allows it): 1,024 of them would stay in `acv-xl serveur` for months."""
    good = _good(tmp_path)
    long_named = tmp_path / "nom_long.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(long_named, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            z.writestr(info.filename, zin.read(info))
        z.writestr("docProps/" + "a" * 60_000 + ".xml", b"<x/>")
    read_file(good)
    kept = source_file._left_out.cache_info().currsize
    assert read_file(long_named).fichier
    assert source_file._left_out.cache_info().currsize == kept


# A long shared string cut, for a search, into short gaps by what is no end of a string for calamine:
# "si>" in its text (a `>` needs no escape there), `</si>` in CDATA, a comment, a processing
# instruction or an attribute value (calamine accepts a `<` there), or strings nested in it (calamine
# reads on to the first `</si>`). Each makes `_BOMB_CHARS` characters per cell, where the gaps say
# 1,000 at most.
_BOMB_CHARS = 200_000
_CUT_STRINGS = {
    "si> dans le texte": b"<si><t>" + (b"x" * 997 + b"si>") * (_BOMB_CHARS // 1000) + b"</t></si>",
    "CDATA": b"<si><t><![CDATA[" + (b"x" * 995 + b"</si>") * (_BOMB_CHARS // 1000) + b"]]></t></si>",
    "commentaires": b"<si>" + (b"<t>" + b"x" * 980 + b"</t><!--</si>-->") * (_BOMB_CHARS // 1000) + b"</si>",
    "attributs": b"<si>" + (b'<r><rPr a="</si>"/><t>' + b"x" * 980 + b"</t></r>") * (_BOMB_CHARS // 1000) + b"</si>",
    "attributs avec >": b"<si>" + (b'<r><rPr a="></si><"/><t>' + b"x" * 980 + b"</t></r>") * (_BOMB_CHARS // 1000) + b"</si>",
    "imbriquées": b"<si>" + (b"<t>" + b"x" * 980 + b"</t><si>") * (_BOMB_CHARS // 1000) + b"</si>",
}


_PLAIN_OR_NOT = {
    b'<?xml version="1.0"?><sst a="1"><si><t xml:space="preserve"> a </t></si><si><r><rPr><sz val="11"/></rPr>'
    b"<t>b si> c ? !</t></r></si></sst>": True,
    b'\xef\xbb\xbf<?xml version="1.0"?><sst><si><t>a</t></si></sst>': True,
    b'<sst><si><r><rPr><x v="a?b"/><y v="l\'a"/></rPr><t>l\'action "x"</t></r></si></sst>': True,
    b"<sst><si><t><![CDATA[a</si>b]]></t></si></sst>": False,
    b"<sst><si><t>a</t><!-- </si> --><t>b</t></si></sst>": False,
    b"<?xml version='1.0'?><sst><si><t>a</t><?x </si> ?><t>b</t></si></sst>": False,
    b"<?x </si> ?><sst><si><t>a</t></si></sst>": False,
    b'<sst><si><r><rPr a="</si>"/><t>b</t></r></si></sst>': False,
    b'<sst><si><r><rPr a="></si><"/><t>b</t></r></si></sst>': False,
    b'<sst><si><r><rPr a="1" b="></si><"/><t>b</t></r></si></sst>': False,
    b"<sst><si><r><rPr </si>/><t>b</t></r></si></sst>": False,
    b'<sst><si><r><rPr a="x/><t>b</t></r></si></sst>': False,
}


@pytest.mark.parametrize("sst", sorted(_PLAIN_OR_NOT))
def test_a_shared_strings_part_is_plain_only_when_every_end_of_string_is_one(sst):
    """Where a `</si>` may not end a string for calamine (CDATA, a comment, a processing instruction,
    a `<` in a tag or in a quoted value), the strings are not measured between them."""
    assert source_file._plain_sst(sst) is _PLAIN_OR_NOT[sst]


@pytest.mark.parametrize("cut", sorted(_CUT_STRINGS))
def test_a_long_shared_string_cut_into_short_gaps_is_counted_whole(tmp_path, monkeypatch, cut):
    """calamine reads the whole string into every cell citing it (checked here on the string itself):
    the budget counts it whole, and refuses the workbook; the same cells citing a short string pass."""
    good = _good(tmp_path)
    parts = {i.filename: z for i, z in _parts(good)}
    sst = parts[SST_PART]
    count = len(re.findall(rb"<si>", sst))
    cells = b"".join(f'<row r="{r}"><c r="Z{r}" t="s"><v>{count}</v></c></row>'.encode() for r in range(200, 400))

    def workbook(string: bytes, name: str) -> Path:
        return _rewrite(good, tmp_path / name, {SST_PART: sst.replace(b"</sst>", string + b"</sst>"),
                                                FIN_PART: lambda xml: xml.replace(b"</sheetData>", cells + b"</sheetData>", 1)})
    bomb = workbook(_CUT_STRINGS[cut], "coupee.xlsx")
    monkeypatch.setattr(source_file, "MAX_TEXT_CHARS", 100 * _BOMB_CHARS)  # 200 cells of the string: twice that
    wb = CalamineWorkbook.from_filelike(io.BytesIO(bomb.read_bytes()))  # calamine's own reading of the cell
    value = wb.get_sheet_by_name(layout.Sheet.FINANCEMENT).to_python(skip_empty_area=False)[199][25]
    assert len(value) >= 0.97 * _BOMB_CHARS
    with pytest.raises(UnreadableWorkbook, match="caractères de texte"):
        read_file(bomb)
    read_file(workbook(b"<si><t>" + b"x" * 1000 + b"</t></si>", "courte.xlsx"))


@pytest.mark.parametrize("sizes", [[30, 30, 30], [60, 60], [90], [60, 30, 30, 30], [200]])
def test_the_text_budget_counts_as_if_the_longest_string_had_been_measured(tmp_path, monkeypatch, sizes):
    """The sheets counted at the quick bound are counted again at the measured length once the bound
    is not enough: the budget — and its verdict — are those of the exact length from the start."""
    good = _good(tmp_path)
    with source_file.FileSource(good) as src:
        src._check_side_parts()
        assert not src._sst_exact  # the quick bound, for a workbook of ours
        tight = max(map(len, src._sst.split(b"</si>")))
        loose = src._sst_max
        assert loose > 3 * tight
        # a budget of 100 sheets' worth of one cell at the bound: `sizes` in such units
        unit = 20 * 10
        monkeypatch.setattr(source_file, "MAX_TEXT_CHARS", 100 * 10 * loose)
        used, cells, refused = 0, 0, False  # the budget counted with the exact length from the start
        sheet = src._sheets[0]
        for n in sizes:
            xml = b" " * (unit * n)  # no cell: counted exactly, it costs nothing
            cost = len(xml) // 20 * tight
            if used + cost > source_file.MAX_TEXT_CHARS:
                cost = 0
            used += cost
            cells += len(xml) // 20
            try:
                src._check_text(sheet, xml)
            except UnreadableWorkbook:
                refused = True
                break
            # at the bound, every cell so far at the bound; measured, the very same count
            assert src._text_used == (used if src._sst_exact else cells * loose)
        assert refused == (used > source_file.MAX_TEXT_CHARS)
        assert src._sst_exact == (sum(sizes) > 100)


# ------------------------------------------------------------------ the sheet's real extent
_HEAD = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:B2"/><sheetData>'


@pytest.mark.parametrize("cells, extent", [
    (b'<row r="1"><c r="A1"><v>1</v></c><c r="B2"><v>1</v></c></row>', _NEAR_BOUND),  # a bound: no visit
    (b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
     (1048576, 16384)),
    (b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row><row r="1"><c r="A1"><v>1</v></c></row>',
     (1048576, 16384)),  # out of order
    (b'<row r="5">' + b"<c><v>1</v></c>" * 800 + b"</row>", (5, 800)),  # cells without `r`
    (b'<row r="2"><c s="1" r="ZZZ2"><v>1</v></c></row>', (2, 18278)),  # `r` not first
    (b'<x:row xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="3"><x:c r="AAA3"><x:v>1'
     b"</x:v></x:c></x:row>", (3, 703)),  # prefixed
    (b'<row r="7"><c r="A7" t="inlineStr"><is><t><![CDATA[x]]></t></is></c><c r="AB70000"><v>1</v></c></row>',
     (70000, 28)),
])
def test_the_extent_comes_from_the_cells_never_from_the_dimension(cells, extent):
    got, _special = _scan_sheet(_HEAD + cells + b"</sheetData></worksheet>", False)
    assert got == extent


def test_a_near_bound_covers_every_cell_it_did_not_visit():
    """When the one search finds nothing, the bound (999 × 702) holds every reference written."""
    cells = b"".join(f'<row r="{r}"><c r="ZZ{r}"><v>1</v></c></row>'.encode() for r in range(1, 1000))
    assert _scan_sheet(_HEAD + cells + b"</sheetData></worksheet>", False)[0] == _NEAR_BOUND
    assert _NEAR_BOUND == (999, 702)


def _visited(xml: bytes) -> tuple[int, int]:
    """The extent as the cell-by-cell visit finds it."""
    last = (0, 0)
    for row, col, _attrs, closed, _inner in source_file._iter_cells(xml, with_inner=False):
        if not closed:
            last = (max(last[0], row), max(last[1], col))
    return last


_PLAN = b"".join(f'<row r="{r}"><c r="A{r}" t="s"><v>1</v></c><c r="J{r}"><v>{r}.5</v></c>'
                 f'<c r="K{r}" s="3"/></row>'.encode() for r in range(1, 2004))


@pytest.mark.parametrize("change, plain", [
    (lambda x: x, True),  # a plan of 2,003 lines: past the bound, every cell plain
    (lambda x: x.replace(b'<c r="K2003" s="3"/>', b'<c r="K2003" s="3"></c>'), True),  # empty, not closed
    (lambda x: x.replace(b'<c r="J7">', b'<c r="j7" s="1">'), True),
    (lambda x: x.replace(b'<c r="J7">', b"<c>"), False),  # its place depends on the cells before
    (lambda x: x.replace(b'<c r="J7">', b'<c s="1" r="J7">'), False),
    (lambda x: x.replace(b'<c r="J7">', b'<c r="$J$7">'), False),
    (lambda x: x.replace(b'<c r="J9">', b'<x:c r="J9">').replace(b"</c></row><row r=\"10\"", b"</x:c></row><row r=\"10\""),
     False),
    (lambda x: x.replace(b"<v>8.5</v>", b"<f>J7+1</f>"), False),  # a formula without its value: cell by cell
    (lambda x: x.replace(b'<c r="J8">', b'<c r="J8" t="e">'), False),  # an error cell
])
def test_a_sheet_past_the_bound_is_bounded_by_its_references_in_one_pass(change, plain):
    """Past ZZ999 (a plan of more than 999 lines), a sheet whose cells all carry their reference,
    without formula nor error, is bounded by one search of its references; the extent is the one
    the cell-by-cell visit finds, whichever way it is found."""
    xml = change(_HEAD + _PLAN + b"</sheetData></worksheet>")
    # (the error cells of `<sheetData>` are searched by `_scan_sheet` first)
    has_error = b't="e"' in xml
    assert (not has_error and source_file._plain_extent(xml, *source_file._sheet_data_span(xml)) is not None) == plain
    extent, special = _scan_sheet(xml, False)
    assert extent == _visited(xml) != _NEAR_BOUND
    assert bool(special) == (b"<f>" in xml or b't="e"' in xml)


# ------------------------------------------------------------------ STR-10 and the terminal
def test_str10_a_text_longer_than_a_cell_holds(tmp_path):
    """XlsxWriter (like Excel) cuts a text at 32,767 characters: the cell is written into the XML."""
    good = _good(tmp_path)
    cell = f"B{int(FIN.anchor[1:]) + 1}"
    for n, expected in ((32_767, []), (32_768, [(FIN.sheet, cell, "1.1")])):
        p = _rewrite(good, tmp_path / f"long{n}.xlsx", {FIN_PART: lambda xml: _set_first_funder(xml, b"x" * n)})
        conv = read_file(p)
        assert len(conv.financements[0].raw["financeur"]) == n
        found = [f for f in run_rules(conv, ["STR-10"]) if f.code == "STR-10"]
        assert [(f.feuille, f.cellule, f.action) for f in found] == expected
    assert "32 768" in found[0].message.replace("\u202f", " ").replace("\u00a0", " ")
    assert len(found[0].message) < 300


def test_str10_counts_characters_as_excel_does_an_emoji_is_two(tmp_path):
    """Excel's 32,767 are UTF-16 units: 20,000 emoji are 40,000 to Excel, which cuts or refuses them,
    yet `len` said 20,000 and `valider` passed them (the consolidation then cut them in `Lignes`).
    At the boundary as Excel counts: 16,383 emoji and one letter pass, 16,384 emoji do not."""
    good = _good(tmp_path)
    cell = f"B{int(FIN.anchor[1:]) + 1}"
    emoji = "\U0001F600"
    for n, text in (("ok", emoji * 16_383 + "x"), ("limite", emoji * 16_384), ("long", emoji * 20_000)):
        p = _rewrite(good, tmp_path / f"{n}.xlsx", {FIN_PART: lambda xml, t=text: _set_first_funder(xml, t.encode())})
        conv = read_file(p)
        assert conv.financements[0].raw["financeur"] == text
        found = [f for f in run_rules(conv, ["STR-10"]) if f.code == "STR-10"]
        assert [(f.feuille, f.cellule) for f in found] == ([] if n == "ok" else [(FIN.sheet, cell)]), n
    message = found[0].message.replace("\u202f", " ").replace("\u00a0", " ")
    assert "texte de 40 000 caractères (Excel compte deux caractères pour un emoji" in message, message


def test_str10_counts_half_an_emoji_as_excel_does_one_unit(tmp_path):
    """The button reads what Excel holds, and Excel, cutting a pasted text at 32,767 units, may cut an
    emoji in two: 16,383 emoji and the first half of one (Office.js and COM give it as a lone
    surrogate). STR-10 counted it by encoding the text in UTF-16, which refuses a lone surrogate:
    « erreur interne » in place of a validation. Counted as Excel counts, one unit: within a cell."""
    conv = read_file(_good(tmp_path))
    emoji = "\U0001F600"
    for text, too_long in ((emoji * 16_383 + "\ud83d", False), (emoji * 16_383 + "\ud83d" + "x", True)):
        conv.financements[0].raw["financeur"] = text
        found = [f for f in run_rules(conv, ["STR-10"]) if f.code in ("STR-10", "STR-00")]  # STR-00: the rule failed
        assert [(f.code, f.cellule) for f in found] == ([("STR-10", f"B{int(FIN.anchor[1:]) + 1}")] if too_long else []), \
            [f.message[:120] for f in found]
    assert "texte de 32 768 caractères" in found[0].message.replace("\u202f", " ").replace("\u00a0", " ")


def _texts(conv) -> list[str]:
    """Every text a convention holds as read: named cells, table rows, cells outside the tables."""
    values = [nv.raw for nv in conv.names.values()] + [sc.value for sc in conv.stray_cells]
    values += [v for name in ROW_MODELS for row in conv.rows(name) for v in row.raw.values()]
    return [v for v in values if isinstance(v, str)]


def test_str10_judges_alike_with_the_readers_bound_on_text_length(tmp_path):
    """`validate_file` hands the rules the reader's bound on every text's length (the largest part
    of the package): below a cell's 32,767 characters STR-10 walks nothing, above it walks as before,
    and the findings are the same either way, at the boundary and on the shipped examples."""
    from acv_xl.contract.values import EXCEL_CELL_CHARS
    from acv_xl.checks.validate import validate_convention, validate_file
    from acv_xl.reading.read import read_file_bounded

    good = _good(tmp_path)
    files = [_rewrite(good, tmp_path / f"long{n}.xlsx", {FIN_PART: lambda xml, n=n: _set_first_funder(xml, b"x" * n)})
             for n in (32_767, 32_768)]
    files += sorted((Path(__file__).parents[1] / "workbooks").rglob("*.xlsx"))
    for p in files:
        conv, bound = read_file_bounded(p)
        assert max(map(len, _texts(conv)), default=0) <= bound  # a bound indeed
        if p.parent.name == "exemples":
            assert bound <= EXCEL_CELL_CHARS  # the walk spared
        walked = validate_convention(read_file(p), str(p))  # no bound: every value looked at
        assert validate_file(p).findings == walked.findings
    assert [f.code for f in validate_file(files[1]).findings].count("STR-10") == 1


def test_occupied_is_the_regions_filled_cells():
    """`FileSource.occupied` (its shortcuts in C: past the grid, one empty column) gives the filled cells
    of `_region`, on every sheet of an example, for boxes within, across and past each sheet's grid."""
    from acv_xl.reading.source_file import FileSource

    path = Path(__file__).parents[1] / "workbooks" / "exemples" / "arras.xlsx"
    with FileSource(path) as source:
        for name in source.sheet_names():
            sheet = source._sheet(name)
            source._load(sheet)
            rows, cols = len(sheet.grid), max(map(len, sheet.grid), default=0)
            boxes = [(1, rows, c, c) for c in range(1, cols + 3)] + [(r, r, 1, cols + 2) for r in range(1, rows + 3)]
            boxes += [(2, rows + 4, 1, cols), (rows, rows + 2, cols, cols + 1), (1, 1, 1, 1)]
            found = 0
            for r1, r2, c1, c2 in boxes:
                expected = [(r, c, v) for r, line in zip(range(r1, r2 + 1), source._region(sheet, r1, r2, c1, c2))
                            for c, v in enumerate(line, c1) if v is not None and not (isinstance(v, str) and not v.strip())]
                assert source.occupied(name, r1, r2, c1, c2) == expected, (name, r1, r2, c1, c2)
                found += len(expected)
            assert found or not rows  # the boxes hold filled cells: the shortcuts are not all there is


def test_literal_shows_control_characters_and_markup_as_typed():
    assert literal("a\x1b[2Jb\x07\n\x7f\x9b") == "a␛[2Jb␇␊␡\\x9b"
    assert literal("Sans contrôle « é » [gras]") == "Sans contrôle « é » [gras]"
    assert markup_literal("[bold red]x[/bold red]\x1b") == "\\[bold red]x\\[/bold red]␛"
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, highlight=False, width=200)
    console.print(markup_literal("[bold red]x[/bold red] [link=file:///etc/passwd]lien[/link]\x1b[2J"))
    out = console.file.getvalue()
    assert "\x1b[2J" not in out and "\x1b]8;" not in out  # neither the clear screen nor a hyperlink
    shown = re.sub(r"\x1b\[[0-9;]*m", "", out)  # the console's own colours aside
    assert "[bold red]x[/bold red] [link=file:///etc/passwd]lien[/link]␛[2J" in shown


def test_parsed_parts_remembered_for_the_next_file_stay_a_few_megabytes():
    """The memos of parsed structure parts (relationships, tables, workbook.xml) live as long as
    `acv-xl serveur`: a hostile part of 16 KB (the size kept) parsed weighs ≈ 0.5 MB (4,000 empty
    elements), so 256 of them must not be kept, only a bounded number of elements in all; what is
    parsed is the same, remembered or not."""
    import tracemalloc

    from acv_xl.reading import source_file as sf

    parts = [b"<r>" + b"<Relationship/>" * 1080 + b'<b i="%d"/></r>' % i for i in range(270)]
    books = [b"<workbook><sheets>" + b"<sheet/>" * 1800 + b"<sheet name=\"%d\"/></sheets></workbook>" % i for i in range(270)]
    assert max(map(len, parts + books)) <= sf._MEMO_PART
    expected = sf._relationships("xl", parts[0]), sf._workbook_entries(books[0])
    tracemalloc.start()
    try:
        for part, book in zip(parts, books):
            sf._relationships("xl", part)
            sf._workbook_entries(book)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    assert (sf._relationships("xl", parts[0]), sf._workbook_entries(books[0])) == expected
    template = b'<r><Relationship Id="rId1" Type="t" Target="sheet1.xml"/></r>'
    assert sf._relationships("xl", template) is sf._relationships("xl", template)  # a template's part: remembered


# ------------------------------------------------------------------ zip_guard.directory against zipfile
def _central_entries(raw: bytes) -> tuple[int, list[int]]:
    """The end record's offset and each central entry's, as written (the test's own walk)."""
    end = raw.rfind(b"PK\x05\x06")
    size, offset = struct.unpack_from("<II", raw, end + 12)
    pos, entries = offset, []
    while pos < offset + size:
        entries.append(pos)
        pos += 46 + sum(struct.unpack_from("<HHH", raw, pos + 28))
    return end, entries


def _hostile_variants(raw: bytes) -> dict[str, bytes]:
    """The package with one field of one part's records crafted: central and local headers that
    lie, disagree, overlap, name a part with « .. », NUL, backslash or a name already taken…"""
    end, entries = _central_entries(raw)
    out = {}

    def patched(at: int, fmt: str, value) -> bytes:
        b = bytearray(raw)
        struct.pack_into(fmt, b, at, value)
        return bytes(b)

    def named(i: int, name: bytes, local: bool) -> bytes:
        b = bytearray(raw)
        at, n = entries[i], struct.unpack_from("<H", raw, entries[i] + 28)[0]
        b[at + 46: at + 46 + n] = name
        if local:
            lh = struct.unpack_from("<I", raw, at + 42)[0]
            b[lh + 30: lh + 30 + n] = name
        return bytes(b)

    names = [raw[e + 46: e + 46 + struct.unpack_from("<H", raw, e + 28)[0]] for e in entries]
    for i, at in enumerate(entries):
        lh = struct.unpack_from("<I", raw, at + 42)[0]
        size = struct.unpack_from("<I", raw, at + 24)[0]
        for what, off, fmt, value in (
                ("descripteur", 8, "<H", 0x8), ("utf8", 8, "<H", 0x800), ("chiffré", 8, "<H", 0x1),
                ("méthode", 10, "<H", 9), ("crc", 16, "<I", 0), ("compressé 0", 20, "<I", 0),
                ("compressé zip64", 20, "<I", 0xFFFFFFFF), ("taille 0", 24, "<I", 0), ("taille +1", 24, "<I", size + 1),
                ("taille zip64", 24, "<I", 0xFFFFFFFF), ("position 0", 42, "<I", 0), ("position +1", 42, "<I", lh + 1),
                ("position zip64", 42, "<I", 0xFFFFFFFF), ("version", 6, "<H", 64), ("disque", 34, "<H", 3),
                ("longueur extra", 30, "<H", 0xFFFF)):
            out[f"{i} {what}"] = patched(at + off, fmt, value)
        for what, off, fmt, value in (("signature", 0, "<I", 0), ("descripteur", 6, "<H", 0x8),
                                      ("méthode", 8, "<H", 0), ("taille", 22, "<I", 7), ("extra", 28, "<H", 0xFFFF)):
            out[f"{i} local {what}"] = patched(lh + off, fmt, value)
        nm = names[i]
        for what, new in (("..", b"../" + nm[3:]), ("NUL", nm[:-1] + b"\0"), ("antislash", nm.replace(b"/", b"\\")),
                          ("majuscules", nm.upper()), ("octet haut", nm[:-1] + b"\xe9")):
            out[f"{i} nom {what}"] = named(i, new, True)
            out[f"{i} nom central {what}"] = named(i, new, False)
        for j, other in enumerate(names):
            if j != i and len(other) == len(nm):
                out[f"{i} nom de {j}"] = named(i, other, True)
                out[f"{i} position de {j}"] = patched(at + 42, "<I", struct.unpack_from("<I", raw, entries[j] + 42)[0])
                break
    for cut in (1, 22, 23, 46, 1000):
        out[f"tronqué {cut}"] = raw[:-cut]
        out[f"répertoire tronqué {cut}"] = raw[:end - cut] + raw[end:]
    out["zip64 annoncé"] = raw[:end] + b"PK\x06\x07" + bytes(16) + raw[end:]
    out["fin : nombre 0"] = patched(end + 8, "<H", 0)
    out["fin : disque"] = patched(end + 4, "<H", 1)
    out["fin : position 0"] = patched(end + 16, "<I", 0)
    return out


def test_the_light_directory_gives_zipfiles_entries_on_hostile_packages(tmp_path):
    """On every crafted variant, `zip_guard.directory` either leaves the package to zipfile (None)
    or gives exactly zipfile's entries; where zipfile refuses the package, it never accepts it."""
    raw = _good(tmp_path).read_bytes()
    variants = _hostile_variants(raw)
    assert len(variants) > 300
    light = 0
    for what, data in variants.items():
        try:
            expected = [tuple(getattr(i, f) for f in zip_guard.Entry._fields)
                        for i in zipfile.ZipFile(io.BytesIO(data)).infolist()]
        except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError, OSError):
            expected = None
        found = zip_guard.directory(data)
        if found is not None:
            light += 1
            assert found.infolist() == expected, what
    assert light > len(variants) // 2  # most variants go the light way, so the comparison means something


@pytest.mark.parametrize("part", [0, 1, 2, 3, -3, -2, -1])
def test_a_hostile_package_gets_the_same_verdict_through_either_directory(tmp_path, part, monkeypatch):
    """The whole reader on the same crafted variants of one part, through the light directory then
    through zipfile's: the same convention, or the same French refusal (STR-01/STR-02), never an
    exception of another kind."""
    raw = _good(tmp_path).read_bytes()
    part = part % len(_central_entries(raw)[1])
    variants = {k: v for k, v in _hostile_variants(raw).items() if k.split(" ")[0] in (str(part), "tronqué",
                                                                                         "répertoire", "zip64", "fin")}
    path = tmp_path / "classeur.xlsx"
    real = zip_guard.directory

    def verdict(data, directory):
        path.write_bytes(data)
        monkeypatch.setattr(zip_guard, "directory", directory)
        zip_guard._INFLATED.clear()
        zip_guard._DTD_VERDICTS.clear()
        try:
            return "lu", read_file(path).model_dump()
        except UnreadableWorkbook as exc:
            assert exc.code in ("STR-01", "STR-02") and str(exc).startswith("Le fichier"), str(exc)
            return "refusé", exc.code, str(exc)

    for what, data in variants.items():
        assert verdict(data, real) == verdict(data, lambda d: None), what


def test_zlib_ng_gives_zlibs_verdicts_on_damaged_streams(tmp_path):
    """`zip_guard.inflate` trusts zlib-ng as it trusted zlib: on streams with flipped bits, cut
    short, with bytes inserted or zeroed, or followed by garbage, both give the same bytes, the same
    end of stream and unconsumed data, or both refuse (and the same CRC-32)."""
    import random

    from zlib_ng import zlib_ng

    def inflated(mod, data, size):
        try:
            d = mod.decompressobj(-15)
            return d.decompress(data, size + 1), d.eof, d.unconsumed_tail, d.unused_data
        except mod.error:
            return "refusé"

    rng = random.Random(14)
    with zipfile.ZipFile(_good(tmp_path)) as z:
        parts = [z.read(i) for i in z.infolist()][:6]
    refused = 0
    for part in parts:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        stream = c.compress(part) + c.flush()
        assert zlib_ng.crc32(part) == zlib.crc32(part)
        for _ in range(150):
            b = bytearray(stream)
            kind = rng.choice(["bits", "cut", "insert", "zero", "garbage"])
            i = rng.randrange(len(b))
            if kind == "bits":
                b[i] ^= 1 << rng.randrange(8)
            elif kind == "cut":
                del b[i:]
            elif kind == "insert":
                b[i:i] = rng.randbytes(5)
            elif kind == "zero":
                b[i:i + 8] = bytes(8)
            else:
                b += rng.randbytes(9)
            for size in (len(part) - 1, len(part), len(part) + 10):
                verdict = inflated(zlib, bytes(b), size)
                refused += verdict == "refusé"
                assert inflated(zlib_ng, bytes(b), size) == verdict
                assert inflated(zlib_ng, memoryview(bytes(b)), size) == verdict  # as `inflate` hands it
    assert refused > 100  # damaged streams indeed


# ------------------------------------------------------------------ the content read once (consolidation)
def test_a_workbook_given_as_bytes_reads_as_from_the_disk_without_opening_it_again(tmp_path, monkeypatch):
    """`FileSource(path, data)`: the bytes a consolidation hashed are the ones read, and the file is
    not opened a second time; the same convention as read from the disk."""
    path = _good(tmp_path)
    data = path.read_bytes()
    from_disk = read_file(path).model_dump()
    opened = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(self) or real_open(self, *a, **k))
    from acv_xl.reading.read import read_file_bounded
    conv, _bound = read_file_bounded(path, data)
    assert conv.model_dump() == from_disk and opened == []


@pytest.mark.parametrize("content", [b"", b"a;b;c\n1;2;3\n", b"PK\x03\x04 tronque", b"\xd0\xcf\x11\xe0" + bytes(600)])
def test_bytes_given_that_are_no_plain_zip_get_the_verdict_the_disk_gives(tmp_path, content):
    """Empty, a CSV, a truncated zip, an old .xls (CFB): given as bytes, the same refusal, word for word,
    as when the reader opens the file itself."""
    path = tmp_path / "classeur.xlsx"
    path.write_bytes(content)
    verdicts = []
    for data in (None, content):
        with pytest.raises(UnreadableWorkbook) as exc:
            source_file.FileSource(path, data)
        verdicts.append((exc.value.code, exc.value.message, exc.value.suggestion))
    assert verdicts[0] == verdicts[1]


def test_a_consolidation_reads_each_workbook_from_the_disk_once(tmp_path, monkeypatch):
    """`summarize` hands the reader the bytes it hashed (`identify_kept`): one read of the file, and the
    summary is the same as when the reader reads the file itself."""
    from acv_xl.outputs import consolidation as C

    path = _good(tmp_path)
    handed = []
    real = source_file.FileSource.__init__

    def init(self, p, data=None):
        handed.append(data)
        real(self, p, data)

    monkeypatch.setattr(source_file.FileSource, "__init__", init)
    once = C.summarize(str(path), path.name)
    assert handed == [path.read_bytes()]
    monkeypatch.setattr(C, "identify_kept", lambda p: (*C._identify(p), None))
    twice = C.summarize(str(path), path.name)
    assert handed[1] is None and vars(once) == vars(twice)


def test_a_table_stretched_over_the_whole_sheet_is_read_by_its_filled_lines(tmp_path):
    """T_Financements stretched to XFD1048576 (the whole sheet formatted as a table): the limit on a
    table's cells counted every column up to the sheet's bound and refused the file; it counts the
    lines that hold something, and the plan reads as before. A plan of 20 001 real lines is refused."""
    good = _good(tmp_path)
    table = next(i.filename for i, b in _parts(good) if i.filename.startswith("xl/tables/")
                 and f'displayName="{FIN.name}"'.encode() in b)

    def stretch(xml: bytes) -> bytes:
        return re.sub(rb'(ref="[A-Z]+\d+:)[A-Z]+\d+"', rb'\1XFD1048576"', xml)
    wide = _rewrite(good, tmp_path / "etire.xlsx", {table: stretch})
    assert [(lf.numero, lf.montant) for lf in read_file(wide).financements] == \
        [(lf.numero, lf.montant) for lf in read_file(good).financements]

    top = int(FIN.anchor[1:]) + 100
    rows = b"".join(f'<row r="{r}"><c r="A{r}"><v>1</v></c><c r="B{r}"><v>2</v></c></row>'.encode()
                    for r in range(top, top + 20_001))
    many = _rewrite(good, tmp_path / "long.xlsx", {table: stretch, FIN_PART: lambda x: x.replace(
        b"</sheetData>", rows + b"</sheetData>", 1)})
    with pytest.raises(UnreadableWorkbook, match="lignes remplies"):
        read_file(many)


def _stretched_to_xfd(tmp_path, row_xml: str, edit=lambda xml: xml):
    """A good workbook whose T_Financements is stretched to XFD1048576, `row_xml` added at the end of its
    sheet (`edit`: what else is done to the sheet's XML first)."""
    good = _good(tmp_path)
    table = next(i.filename for i, b in _parts(good) if i.filename.startswith("xl/tables/")
                 and f'displayName="{FIN.name}"'.encode() in b)
    return _rewrite(good, tmp_path / "etire.xlsx", {
        table: lambda x: re.sub(rb'(ref="[A-Z]+\d+:)[A-Z]+\d+"', rb'\1XFD1048576"', x),
        FIN_PART: lambda x: edit(x).replace(b"</sheetData>", f"{row_xml}</sheetData>".encode(), 1)})


def test_a_table_stretched_to_column_xfd_is_read_without_padding_its_empty_columns(tmp_path, monkeypatch):
    """T_Financements stretched to XFD1048576 and a line typed 400 rows below the plan: accepted by its
    lines that hold something, but each of its lines was padded to 16 384 cells — 6,5 million here, a
    billion (all the memory, « MemoryError ») for a line at A60000. Read up to the sheet's last column."""
    far = int(FIN.anchor[1:]) + 400
    wide = _stretched_to_xfd(tmp_path, f'<row r="{far}"><c r="A{far}" t="inlineStr"><is><t>9.9</t></is></c></row>')
    read_cells = []
    region = source_file.FileSource._region

    def counted(self, sheet, r1, r2, c1, c2):
        out = region(self, sheet, r1, r2, c1, c2)
        read_cells.append(sum(map(len, out)))
        return out
    monkeypatch.setattr(source_file.FileSource, "_region", counted)
    conv = read_file(wide)
    assert [(lf.row, lf.numero) for lf in conv.financements][-1] == (far, "9.9")
    assert conv.financements[0].montant == 1000 and conv.financements[0].financeur == "ETAT"
    assert max(read_cells) < 100_000


def test_a_table_excel_resized_to_xfd_names_its_columns_and_is_read_by_its_data(tmp_path):
    """Excel resizing T_Financements to XFD1048576 writes a header for each of its 16 384 columns
    (« Colonne11 »…) in the header row: the sheet's last column was then XFD, every line counted
    16 384 cells wide, and a plan with a line at A60000 (or a plan of 30 lines and one at A400) was
    refused (STR-01) by the command line. Its lines are read as wide as their data, its header whole;
    a value typed in XFD below still makes the table too large."""
    from acv_xl.reading.source import col_letter

    header_row = int(FIN.anchor[1:])

    def named_columns(xml: bytes) -> bytes:  # as Excel writes a table it resized: every column named
        cells = "".join(f'<c r="{col_letter(c)}{header_row}" t="inlineStr"><is><t>Colonne{c}</t></is></c>'
                        for c in range(len(FIN.columns) + 1, 16_385)).encode()
        row = re.search(rb'<row r="%d"[^>]*>.*?</row>' % header_row, xml, re.S)
        return xml[:row.start()] + row.group(0)[:-len(b"</row>")] + cells + b"</row>" + xml[row.end():]

    def line(r: int, numero: str) -> str:
        return (f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{numero}</t></is></c><c r="B{r}" t="inlineStr">'
                f'<is><t>ETAT</t></is></c><c r="F{r}"><v>10</v></c></row>')

    for far, plan in ((60_000, 0), (400, 30)):
        rows = "".join(line(r, "1.1") for r in range(header_row + 2, header_row + 2 + plan)) + line(far, "9.9")
        wide = _stretched_to_xfd(tmp_path, rows, named_columns)
        conv = read_file(wide)
        assert [(lf.row, lf.numero, lf.montant) for lf in conv.financements][-1] == (far, "9.9", 10), far
        assert len(conv.financements) == plan + 2 and conv.financements[0].financeur == "ETAT"
    far = header_row + 400
    wide = _stretched_to_xfd(tmp_path, f'<row r="{far}"><c r="A{far}"><v>1</v></c><c r="XFD{far}"><v>2</v></c></row>',
                             named_columns)
    with pytest.raises(UnreadableWorkbook, match="lignes de 16 384 colonnes"):
        read_file(wide)


def test_a_table_refused_by_all_its_lines_does_not_call_them_filled(tmp_path):
    """T_Financements stretched to XFD1048576 and a value in XFD, 400 rows below: the sheet is read region
    by region (too large a grid for calamine), where the lines that hold something are not told apart —
    refused by all its lines, and the message said « 397 lignes remplies » of a table holding two."""
    far = int(FIN.anchor[1:]) + 400
    wide = _stretched_to_xfd(tmp_path, f'<row r="{far}"><c r="A{far}"><v>1</v></c><c r="XFD{far}"><v>2</v></c></row>')
    with pytest.raises(UnreadableWorkbook) as refused:
        read_file(wide)
    assert "lignes de 16 384 colonnes" in refused.value.message and "remplies" not in refused.value.message


def _as_shared_string(good: Path, out: Path, text: bytes) -> Path:
    """`good` with the first financeur a shared string of `text` (as Excel writes every text)."""
    sst = dict((i.filename, b) for i, b in _parts(good))[SST_PART]
    index = len(re.findall(rb"<si>", sst))
    sst = re.sub(rb'uniqueCount="\d+"', f'uniqueCount="{index + 1}"'.encode(), sst)
    sst = sst.replace(b"</sst>", b'<si><t xml:space="preserve">' + text + b"</t></si></sst>", 1)

    def shared(xml: bytes) -> bytes:
        marked = _set_first_funder(xml, b"\x00MARK\x00")
        return re.sub(rb't="inlineStr"><is><t xml:space="preserve">\x00MARK\x00</t></is>',
                      f't="s"><v>{index}</v>'.encode(), marked, count=1)
    return _rewrite(good, out, {SST_PART: sst, FIN_PART: shared})


@pytest.mark.parametrize("shared", [False, True], ids=["texte-en-ligne", "chaine-partagee"])
def test_a_text_escaped_by_excel_reads_alike_on_a_sheet_too_large_for_a_grid(tmp_path, shared):
    """Excel writes a carriage return in a text as `_x000D_` (a text pasted with Windows line ends) and a
    typed « _x0041_ » as `_x005F_x0041_`. A sheet too large for a grid (a value in XFD1048576) is read
    through openpyxl, which left both escapes as written: the financeur « ETAT_x000D_ » instead of
    « ETAT\\r », another text than calamine's and the button's for the same cell (another fingerprint:
    « modifié depuis la validation »). In a shared string — where Excel puts every text — openpyxl drops
    « x005F_ » itself: decoded again, the typed « _x0041_ » read « A »."""
    text = b"ETAT_x000D_\n_x005F_x0041_"
    plain = (_as_shared_string(_good(tmp_path), tmp_path / "echappe.xlsx", text) if shared else
             _rewrite(_good(tmp_path), tmp_path / "echappe.xlsx", {FIN_PART: lambda xml: _set_first_funder(xml, text)}))
    far = _rewrite(plain, tmp_path / "echappe-xfd.xlsx", {FIN_PART: lambda xml: xml.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>', 1)})
    assert read_file(plain).financements[0].financeur == "ETAT\r\n_x0041_"
    assert read_file(far).financements[0].financeur == "ETAT\r\n_x0041_"
