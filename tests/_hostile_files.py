"""Crafted hostile workbooks, built by the tests from a good one (each a few hundred kilobytes at most).

Each factory takes a good ACV workbook and a folder and returns the path of a hostile copy:
entity expansion (billion laughs), an external entity (XXE), a decompression bomb, zip headers
that lie (right size and CRC, data that inflate to 2 GiB), a `<dimension>` that understates the
sheet with a value in XFD1048576, one shared string of 1 MiB referenced by 2,000 cells, 100,000
zip entries, escape sequences and Rich markup in cells, a text of 32,768 characters, a plan
de financement of 200,000 lines, shared strings announcing 10^11 of them,
and a cell past Excel's last column.

The big inflated sizes cost nothing to build: a deflate block of zeros ended by a full flush
resets the compressor, so the same compressed bytes repeated inflate to that many times the data.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

from _read_workbooks import sheet_part

from acv_xl.contract import layout

FIN_PART = sheet_part(layout.Sheet.FINANCEMENT)
ACT_PART = sheet_part(layout.Sheet.ACTIONS)
SST_PART = "xl/sharedStrings.xml"
ESC_TEXT = "ETAT\x1b[2J\x1b[31m[bold red]rouge[/bold red][link=file:///etc/passwd]lien[/link]\x07"
LONG_TEXT_LEN = 32_768
_MIB = 1 << 20


def _parts(good: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(good) as z:
        return [(i, z.read(i)) for i in z.infolist()]


def _rewrite(good: Path, out: Path, edits: dict[str, object]) -> Path:
    """A copy of `good` with some parts replaced (bytes, or a function of the old bytes)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in _parts(good):
            edit = edits.get(info.filename)
            if edit is not None:
                data = edit(data) if callable(edit) else edit
            z.writestr(info.filename, data)
    return out


# ------------------------------------------------------------------ raw zip with chosen headers
def _zero_blocks(n_mib: int) -> bytes:
    """Raw deflate data (not final) inflating to `n_mib` MiB of zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(_MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * n_mib


def _deflate_prefix(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)


_FINAL_EMPTY_BLOCK = b"\x03\x00"  # a final, empty, fixed-Huffman deflate block


def _raw_zip(out: Path, entries: list[tuple[str, bytes, int, int]]) -> Path:
    """A zip whose headers say what we want: entries (name, deflated bytes, crc, declared size)."""
    buf = io.BytesIO()
    central = []
    for name, comp, crc, size in entries:
        raw = name.encode()
        off = buf.tell()
        buf.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(comp), size, len(raw), 0))
        buf.write(raw + comp)
        central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(comp),
                                   size, len(raw), 0, 0, 0, 0, 0, off) + raw)
    cd_off = buf.tell()
    cd = b"".join(central)
    buf.write(cd)
    n = len(entries)
    if n > 0xFFFF:  # the count no longer fits: a zip64 end record and its locator first
        z64 = buf.tell()
        buf.write(struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(cd), cd_off))
        buf.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, z64, 1))
        n = 0xFFFF
    buf.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(cd), cd_off, 0))
    out.write_bytes(buf.getvalue())
    return out


def _lying(good: Path, out: Path, part: str, body: bytes) -> Path:
    """`part`'s headers keep its real size and CRC; its data are `body` (raw deflate)."""
    entries = []
    for info, data in _parts(good):
        comp = body if info.filename == part else zlib.compress(data, 6)[2:-4]
        entries.append((info.filename, comp, zlib.crc32(data), len(data)))
    return _raw_zip(out, entries)


# ------------------------------------------------------------------ the factories
def billion_laughs(good: Path, d: Path) -> Path:
    """Nested entities in the shared strings, the DTD after a 5 KB comment (past any prefix check)."""
    ents = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))

    def edit(sst: bytes) -> bytes:
        body = sst.split(b"?>", 1)[1] if sst.startswith(b"<?xml") else sst
        body = re.sub(rb"(<si><t[^>]*>)[^<]*(</t></si>)", rb"\1&lol9;\2", body, count=1)
        return (b'<?xml version="1.0" encoding="UTF-8"?>\n<!--' + b" " * 5000 + b"-->"
                + f"<!DOCTYPE sst [{ents}]>".encode() + body)
    return _rewrite(good, d / "rires.xlsx", {SST_PART: edit})


def external_entity(good: Path, d: Path) -> Path:
    """An external entity (XXE) naming a system file, used in a cell of the plan de financement."""
    def edit(xml: bytes) -> bytes:
        body = xml.split(b"?>", 1)[1]
        head = b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        return head + body.replace(b"</sheetData>", b'<row r="900"><c r="A900" t="inlineStr"><is><t>&xxe;</t>'
                                   b"</is></c></row></sheetData>", 1)
    return _rewrite(good, d / "entite_externe.xlsx", {FIN_PART: edit})


def zip_bomb(good: Path, d: Path) -> Path:
    """The plan de financement sheet honestly declared as 1 GiB of zeros (1 MB on disk)."""
    n = 1024
    crc = 0
    zeros = bytes(_MIB)
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    entries = []
    for info, data in _parts(good):
        if info.filename == FIN_PART:
            entries.append((info.filename, _zero_blocks(n) + _FINAL_EMPTY_BLOCK, crc, n * _MIB))
        else:
            entries.append((info.filename, zlib.compress(data, 6)[2:-4], zlib.crc32(data), len(data)))
    return _raw_zip(d / "bombe.xlsx", entries)


def lying_crc(good: Path, d: Path) -> Path:
    """The sheet's headers state its real size and CRC; its data inflate to 2 GiB of zeros."""
    return _lying(good, d / "entete_menteur_crc.xlsx", FIN_PART, _zero_blocks(2048) + _FINAL_EMPTY_BLOCK)


def lying_size(good: Path, d: Path) -> Path:
    """The shared strings' headers state their real size and CRC, and their data start with the real
    bytes (the CRC of the declared size matches) then go on for 2 GiB."""
    sst = dict((i.filename, b) for i, b in _parts(good))[SST_PART]
    return _lying(good, d / "entete_menteur_taille.xlsx", SST_PART,
                  _deflate_prefix(sst) + _zero_blocks(2048) + _FINAL_EMPTY_BLOCK)


def understated_dimension(good: Path, d: Path) -> Path:
    """The plan de financement keeps its small `<dimension>` and gains one value in XFD1048576."""
    def edit(xml: bytes) -> bytes:
        assert b"<dimension" in xml
        return xml.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>', 1)
    return _rewrite(good, d / "dimension_sous_estimee.xlsx", {FIN_PART: edit})


def amplified_strings(good: Path, d: Path) -> Path:
    """One shared string of 1 MiB, referenced by 2,000 cells of the plan de financement (column Z)."""
    parts = dict((i.filename, b) for i, b in _parts(good))
    sst = parts[SST_PART]
    count = len(re.findall(rb"<si>", sst))
    sst = re.sub(rb'count="\d+" uniqueCount="\d+"', f'count="{count + 2000}" uniqueCount="{count + 1}"'.encode(), sst)
    sst = sst.replace(b"</sst>", b"<si><t>" + b"A" * _MIB + b"</t></si></sst>")
    rows = b"".join(f'<row r="{r}"><c r="Z{r}" t="s"><v>{count}</v></c></row>'.encode() for r in range(200, 2200))

    def edit(xml: bytes) -> bytes:
        xml = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:Z2199"/>', xml)
        return xml.replace(b"</sheetData>", rows + b"</sheetData>", 1)
    return _rewrite(good, d / "chaines_amplifiees.xlsx", {SST_PART: sst, FIN_PART: edit})


def custom_property_bomb(good: Path, d: Path) -> Path:
    """`docProps/custom.xml` (where a consolidation marks itself) declared as 3 GiB, 3 MB on disk."""
    n = 3072
    entries = [(i.filename, zlib.compress(b, 6)[2:-4], zlib.crc32(b), len(b)) for i, b in _parts(good)]
    entries.append(("docProps/custom.xml", _zero_blocks(n) + _FINAL_EMPTY_BLOCK, 0, n * _MIB))
    return _raw_zip(d / "propriete_geante.xlsx", entries)


def many_entries(good: Path, d: Path) -> Path:
    """100,000 empty zip entries beside the workbook's parts."""
    entries = [(i.filename, zlib.compress(b, 6)[2:-4], zlib.crc32(b), len(b)) for i, b in _parts(good)]
    empty = zlib.compress(b"", 6)[2:-4]
    entries += [(f"xl/media/vide{k}.bin", empty, 0, 0) for k in range(100_000)]
    return _raw_zip(d / "cent_mille_entrees.xlsx", entries)


def _inline(text: str) -> bytes:
    """`text` as OOXML escapes it in a cell (control characters as `_xHHHH_`)."""
    esc = "".join(f"_x{ord(ch):04X}_" if ord(ch) < 32 and ch not in "\t\n" else ch for ch in text)
    return esc.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def _set_first_funder(xml: bytes, text: bytes) -> bytes:
    """The financeur cell (column B) of the first financing line becomes an inline string."""
    r = int(layout.T_FINANCEMENTS.anchor[1:]) + 1
    col = layout.T_FINANCEMENTS.anchor[0]
    col = chr(ord(col) + [c.attr for c in layout.T_FINANCEMENTS.columns].index("financeur"))
    pat = re.compile(rb'<c r="' + f"{col}{r}".encode() + rb'"([^>]*?)(?:/>|>.*?</c>)', re.S)
    assert pat.search(xml), "financeur cell not found"

    def repl(m):
        attrs = re.sub(rb'\s*t="[^"]*"', b"", m.group(1))
        return f'<c r="{col}{r}"'.encode() + attrs + b' t="inlineStr"><is><t xml:space="preserve">' + text + b"</t></is></c>"
    return pat.sub(repl, xml, count=1)


def escape_sequences(good: Path, d: Path) -> Path:
    """A financeur typed with ESC[2J, colours, Rich markup and a bell: shown literally, never run."""
    return _rewrite(good, d / "sequences_echappement.xlsx",
                    {FIN_PART: lambda xml: _set_first_funder(xml, _inline(ESC_TEXT))})


def long_text(good: Path, d: Path) -> Path:
    """A cell of 32,768 characters, one more than Excel holds."""
    return _rewrite(good, d / "texte_trop_long.xlsx",
                    {FIN_PART: lambda xml: _set_first_funder(xml, b"x" * LONG_TEXT_LEN)})


def plan_of_200000_lines(good: Path, d: Path) -> Path:
    """The plan de financement's table stretched to 200,000 lines of the same financing (a 4 MB file,
    2 million cells): read whole, it took 1,2 GB and 25 s."""
    parts = dict((i.filename, b) for i, b in _parts(good))
    table = next(n for n, b in parts.items() if n.startswith("xl/tables/")
                 and f'displayName="{layout.T_FINANCEMENTS.name}"'.encode() in b)
    top = int(layout.T_FINANCEMENTS.anchor[1:]) + 1
    first, last = top + 100, top + 100 + 200_000
    rows = b"".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>1.1</t></is></c><c r="B{r}" t="inlineStr">'
                    f'<is><t>ANAH</t></is></c><c r="E{r}"><v>2021</v></c><c r="F{r}"><v>1</v></c></row>'.encode()
                    for r in range(first, last))

    def edit_sheet(xml: bytes) -> bytes:
        return xml.replace(b"</sheetData>", rows + b"</sheetData>", 1)

    def edit_table(xml: bytes) -> bytes:
        return re.sub(rb'(ref="[A-Z]+\d+:[A-Z]+)\d+"', lambda m: m.group(1) + str(last).encode() + b'"', xml)
    return _rewrite(good, d / "plan_200000_lignes.xlsx", {FIN_PART: edit_sheet, table: edit_table})


def announced_strings(good: Path, d: Path) -> Path:
    """The shared strings announce 99,999,999,999 strings (`uniqueCount`) in a 40 KB file: calamine
    reserved room for them (2,4 TB) before reading one, and the process ended on SIGABRT."""
    def edit(sst: bytes) -> bytes:
        assert re.search(rb'uniqueCount="\d+"', sst)
        return re.sub(rb'uniqueCount="\d+"', b'uniqueCount="99999999999"', sst, count=1)
    return _rewrite(good, d / "textes_annonces.xlsx", {SST_PART: edit})


def off_grid_reference(good: Path, d: Path) -> Path:
    """A cell of the plan de financement at « AAAAAAAAAAAAAAAAAAAA40 »: no column of Excel's, and
    calamine sized its grid from it (56 GB asked: the process ended on SIGABRT)."""
    def edit(xml: bytes) -> bytes:
        return xml.replace(b"</sheetData>", b'<row r="40"><c r="AAAAAAAAAAAAAAAAAAAA40"><v>1</v></c></row></sheetData>', 1)
    return _rewrite(good, d / "hors_grille.xlsx", {FIN_PART: edit})


FACTORIES = [billion_laughs, external_entity, zip_bomb, lying_crc, lying_size, understated_dimension,
             amplified_strings, custom_property_bomb, many_entries, escape_sequences, long_text, plan_of_200000_lines,
             announced_strings, off_grid_reference]
