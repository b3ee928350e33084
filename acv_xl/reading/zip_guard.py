"""One zip part inflated under guard: never past its declared size, its CRC checked, nothing re-read.

A zip's central directory states each part's size and CRC; a crafted file may state the real ones
and carry data that inflate to gigabytes (or end short). `zipfile.read` would inflate up to 2 GiB
in one call before noticing, so every part of a workbook is inflated here instead: at most one
byte past the declared size is ever produced, and any disagreement (too long, too short, CRC,
an encrypted or exotically compressed part, a local header that names another part) refuses the
part with `PartRefused` — the caller turns it into STR-01, never into a second, unguarded read.
Excel, LibreOffice and every library write parts stored or deflated: nothing else is accepted.

`repack` hands the parts inflated here on to calamine stored (it parses the very bytes checked,
without inflating them again); a small part of the template met again with the same compressed
bytes, size and CRC is given again without being inflated (`inflate(…, memo=True)`).
"""

from __future__ import annotations

import struct
import zipfile
from typing import BinaryIO, NamedTuple

# zlib-ng: the same inflate and CRC-32, the same verdicts on bad data, about twice as fast (a batch
# inflates some 100 KB of sheets per workbook: ≈ 0.3 ms with zlib, 0.17 ms here)
from zlib_ng import zlib_ng

_LOCAL_HEADER = struct.Struct("<4s2xH18xHH")  # signature, flags, name/extra lengths
# encrypted (bit 0), compressed patch (5), strong encryption (6)
_NOT_PLAIN = 0x1 | 0x20 | 0x40
_CHUNK = 1 << 20


# The small parts of the template (relationships, tables, workbook, styles) are the same bytes in
# most workbooks of a département: inflated and checked once, then given again (bounded memory:
# at most `_MEMO_ENTRIES` × (`_MEMO_COMPRESSED` + `_MEMO_INFLATED`) bytes).
_MEMO_COMPRESSED = 8 * 1024
_MEMO_INFLATED = 16 * 1024
_MEMO_ENTRIES = 256
_INFLATED: dict[tuple[bytes, int, int, int], bytes] = {}


class Entry(NamedTuple):
    """A part as the zip's central directory describes it: what the reader uses of a
    `zipfile.ZipInfo`, under the same names."""

    filename: str
    orig_filename: str
    flag_bits: int
    compress_type: int
    CRC: int
    compress_size: int
    file_size: int
    header_offset: int


class Directory:
    """The parts of a package in memory as `directory` read them: what the reader asks of a
    `zipfile.ZipFile` (`infolist`, `namelist`, `getinfo`, `close`)."""

    def __init__(self, entries: list[Entry]) -> None:
        self._entries = entries
        self._by_name = {e.filename: e for e in entries}  # the last of a repeated name, as zipfile

    def infolist(self) -> list[Entry]:
        return self._entries

    def namelist(self) -> list[str]:
        return [e.filename for e in self._entries]

    def getinfo(self, name: str) -> Entry:
        return self._by_name[name]  # KeyError for a missing part, as zipfile

    def close(self) -> None:
        pass


_END_RECORD = struct.Struct("<4s4H2IH")
_CENTRAL_RECORD = struct.Struct("<4s2xH2H4x3I3H8xI")  # signature, version needed, flags, method, CRC, sizes…
_MAX_EXTRACT_VERSION = 63  # zipfile's


def directory(data: bytes) -> Directory | None:
    """The central directory of a package in memory, read here when it is plain — no archive
    comment, no zip64 record, nothing before the archive, no entry comment, no zip64 or Unicode
    path extra field, a file name without NUL or backslash: every workbook Excel, LibreOffice or a library writes —
    else None, and `zipfile` reads it (with its own verdicts on a damaged one). The same entries
    as zipfile's, twice as fast (a batch opens 1,000 packages of some 40 parts)."""
    n = len(data)
    if n < 42 or data[n - 22: n - 18] != b"PK\x05\x06" or data[n - 2:] != b"\0\0" \
            or data[n - 42: n - 38] == b"PK\x06\x07":
        return None
    size_cd, offset_cd = _END_RECORD.unpack_from(data, n - 22)[5:7]
    pos = end = n - 22
    pos -= size_cd
    if pos != offset_cd or pos < 0:
        return None
    entries = []
    unpack = _CENTRAL_RECORD.unpack_from
    new = tuple.__new__
    while pos < end:
        if pos + 46 > end:
            return None
        sig, version, flags, method, crc, csize, size, name_len, extra_len, comment_len, offset = unpack(data, pos)
        if sig != b"PK\x01\x02" or version > _MAX_EXTRACT_VERSION or comment_len:
            return None
        start = pos + 46 + name_len
        pos = start + extra_len
        if pos > end:
            return None
        if extra_len and not _plain_extra(data[start: pos]):
            return None
        try:
            raw = data[start - name_len: start]
            # an ASCII name reads the same in both encodings: UTF-8's decoder is the fast one
            name = raw.decode("utf-8" if flags & 0x800 or raw.isascii() else "cp437")
        except UnicodeDecodeError:
            return None
        if "\x00" in name or "\\" in name:
            return None  # zipfile cuts the name at a NUL, and turns a backslash into "/" on Windows
        entries.append(new(Entry, (name, name, flags, method, crc, csize, size, offset)))
    return Directory(entries) if pos == end else None


# extra fields zipfile reads: zip64 sizes, and (from Python 3.12) Info-ZIP's Unicode path, which
# renames the part (7-Zip and Info-ZIP write it for a name outside ASCII)
_READ_BY_ZIPFILE = (0x0001, 0x7075)


def _plain_extra(extra: bytes) -> bool:
    """An entry's extra field, well formed and without a field zipfile reads (`_READ_BY_ZIPFILE`)."""
    while len(extra) >= 4:
        tag, length = struct.unpack_from("<HH", extra)
        if tag in _READ_BY_ZIPFILE or length + 4 > len(extra):
            return False
        extra = extra[length + 4:]
    return not extra


class PartRefused(ValueError):
    """A part that does not inflate to what the zip's directory says: the French reason."""


def _data_start(info: zipfile.ZipInfo | Entry, data: bytes | None, fh: BinaryIO | None) -> int:
    """Where the part's compressed data begin, after its local header (which must name it)."""
    off = info.header_offset
    if data is not None:
        header = bytes(data[off: off + 30])
    else:
        fh.seek(off)
        header = fh.read(30)
    try:
        sig, flags, name_len, extra_len = _LOCAL_HEADER.unpack(header)
    except struct.error:
        raise PartRefused("est tronqué") from None
    name = data[off + 30: off + 30 + name_len] if data is not None else fh.read(name_len)
    try:
        name = bytes(name)
        name = name.decode("utf-8" if flags & 0x800 or name.isascii() else "cp437")
    except UnicodeDecodeError:
        name = None
    if sig != b"PK\x03\x04" or name != info.orig_filename:
        raise PartRefused("ne se trouve pas là où l'archive l'annonce")
    return off + 30 + name_len + extra_len


def inflate(info: zipfile.ZipInfo | Entry, data: bytes | None = None, fh: BinaryIO | None = None,
            memo: bool = False) -> bytes:
    """The bytes of the part `info`, from the whole file in memory (`data`) or an open file (`fh`).
    `memo`: a part of the template (relationships, tables, workbook, styles), kept to be given again
    to the next workbook holding the same bytes (never a sheet's data: they differ from file to file)."""
    if info.flag_bits & _NOT_PLAIN:
        raise PartRefused("est chiffré")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise PartRefused("utilise une méthode de compression qu'Excel n'emploie pas")
    start = _data_start(info, data, fh)
    size, left = info.file_size, info.compress_size
    key = None
    if memo and data is not None and left <= _MEMO_COMPRESSED and size <= _MEMO_INFLATED:
        # the same compressed bytes, size and CRC always inflate to the same checked bytes
        raw = bytes(data[start: start + left])
        if len(raw) == left:  # (a truncated part is refused below)
            key = (raw, size, info.CRC, info.compress_type)
            out = _INFLATED.get(key)
            if out is not None:
                return out

    def chunks():
        nonlocal left
        if data is not None:
            view = memoryview(data)[start: start + left]
            if len(view) < left:
                raise PartRefused("est tronqué")
            yield view
            return
        fh.seek(start)
        while left > 0:
            block = fh.read(min(_CHUNK, left))
            if not block:
                raise PartRefused("est tronqué")
            left -= len(block)
            yield block

    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != size:
            raise PartRefused("n'a pas la taille que l'archive annonce")
        out = b"".join(bytes(c) for c in chunks())
    elif data is not None:  # the whole file in memory (nearly always): one call, one byte past the size
        view = memoryview(data)[start: start + left]
        if len(view) < left:
            raise PartRefused("est tronqué")
        try:
            out = zlib_ng.decompressobj(-15).decompress(view, size + 1)
        except zlib_ng.error:
            raise PartRefused("a des données compressées invalides") from None
        if len(out) > size:
            raise PartRefused("se décompresse au-delà de la taille que l'archive annonce")
    else:
        d = zlib_ng.decompressobj(-15)
        pieces, got = [], 0
        try:
            for block in chunks():
                buf = block
                while buf and not d.eof:
                    piece = d.decompress(buf, size - got + 1)  # one byte past the size says "too long"
                    got += len(piece)
                    if got > size:
                        raise PartRefused("se décompresse au-delà de la taille que l'archive annonce")
                    pieces.append(piece)
                    buf = d.unconsumed_tail
                if d.eof:
                    break
        except zlib_ng.error:
            raise PartRefused("a des données compressées invalides") from None
        out = b"".join(pieces)
    if len(out) != size:
        raise PartRefused("n'a pas la taille que l'archive annonce")
    if zlib_ng.crc32(out) != info.CRC:
        raise PartRefused("ne correspond pas à sa somme de contrôle (CRC)")
    if key is not None:
        if len(_INFLATED) >= _MEMO_ENTRIES:
            _INFLATED.clear()
        _INFLATED[key] = out
    return out


# Zip records written by `repack` (no zip64: a package read in memory is far below 4 GiB)
_LOCAL = struct.Struct("<4s5H3I2H")  # signature, version, flags, method, time, date, CRC, sizes, name/extra lengths
_CENTRAL = struct.Struct("<4s6H3I5H2I")
_END = struct.Struct("<4s4H2IH")
_DOS_1980 = (0, 0x21)  # time, date: 1 January 1980 (no reader looks at it)
_UTF8_NAME = 0x800
_DESCRIPTOR = 0x8  # sizes and CRC after the data: written in the header here


def repack(infos: list[zipfile.ZipInfo] | list[Entry], data: bytes, inflated: dict[int, bytes],
           arranged: dict[int, bytes] | None = None) -> bytes | None:
    """The package `data` again, every part of `inflated` (by its local header's offset: bytes
    inflated and checked by `inflate`) stored as is, uncompressed, and every other part copied as
    it was compressed; None when a part's local header does not name it (the package is then
    handed on unchanged). `arranged`: parts (by offset, as `inflated`) stored in another arrangement
    of their checked bytes (a sheet arranged for calamine, `calamine_sheet`), with their own size and CRC.

    What calamine parses is then the very bytes checked here, and it spends no time inflating them
    a second time (≈ a quarter of its reading time on a workbook of ours)."""
    local: list[bytes | memoryview] = []
    central: list[bytes] = []
    pos = 0
    view = memoryview(data)
    for info in infos:
        try:
            name = info.orig_filename.encode("utf-8")
        except UnicodeEncodeError:
            return None
        body = inflated.get(info.header_offset)
        crc, size = info.CRC, info.file_size
        if arranged and info.header_offset in arranged:
            body = arranged[info.header_offset]
            crc, size = zlib_ng.crc32(body), len(body)
        if body is not None:
            flags, method, csize = _UTF8_NAME, zipfile.ZIP_STORED, len(body)
        else:
            try:
                start = _data_start(info, data, None)
            except PartRefused:
                return None
            csize = info.compress_size
            body = view[start: start + csize]
            if len(body) < csize:
                return None
            flags, method = (info.flag_bits & ~_DESCRIPTOR) | _UTF8_NAME, info.compress_type
        if max(csize, size, pos) >= 0xFFFFFFFF:
            return None
        fields = (20, flags, method, *_DOS_1980, crc, csize, size, len(name))
        local += (_LOCAL.pack(b"PK\x03\x04", *fields, 0), name, body)
        central += (_CENTRAL.pack(b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, pos), name)
        pos += _LOCAL.size + len(name) + csize
    directory = b"".join(central)
    end = _END.pack(b"PK\x05\x06", 0, 0, len(infos), len(infos), len(directory), pos, 0)
    return b"".join([*local, directory, end])


_UTF16_DTD = tuple(m.encode(enc) for m in ("<!DOCTYPE", "<!ENTITY") for enc in ("utf-16-le", "utf-16-be"))


# the verdicts on the small parts of the template, given again by `inflate(…, memo=True)` (the same
# bytes object: its hash is kept with it), bounded as `_INFLATED`
_DTD_VERDICTS: dict[bytes, bool] = {}


def has_dtd(data: bytes, memo: bool = False) -> bool:
    """Whether an XML part declares a document type (entities: billion laughs, external entities).

    A DTD can only stand in the prolog, before the root element: the prolog is walked (processing
    instructions and comments of any length skipped), never the whole part. A part in UTF-16
    (never written by Excel) is searched whole for the declarations in that encoding.
    `memo`: a small part of the template, its verdict kept for the next workbook."""
    if memo and len(data) <= _MEMO_INFLATED:
        found = _DTD_VERDICTS.get(data)
        if found is None:
            if len(_DTD_VERDICTS) >= _MEMO_ENTRIES:
                _DTD_VERDICTS.clear()
            found = _DTD_VERDICTS[data] = _has_dtd(data)
        return found
    return _has_dtd(data)


def _has_dtd(data: bytes) -> bool:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        return any(m in data for m in _UTF16_DTD)
    pos = 0
    while True:
        i = data.find(b"<", pos)
        if i < 0:
            return False
        nxt = data[i + 1: i + 2]
        if nxt == b"?":
            end, skip = data.find(b"?>", i + 2), 2
        elif data.startswith(b"<!--", i):
            end, skip = data.find(b"-->", i + 4), 3
        else:
            return nxt == b"!"  # a declaration (<!DOCTYPE…) before the root, or the root itself
        if end < 0:
            return False
        pos = end + skip
