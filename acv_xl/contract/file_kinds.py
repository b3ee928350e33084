"""What a file is, read from its content (never from its name), in the words users read.

One description of file kinds for every place that expects one kind and must say what it got
instead: the reader (`reading.source_file`, a workbook expected) and the list of communes
(`contract.reference`, a CSV expected). A list saved from LibreOffice is « un classeur OpenDocument
(.ods, LibreOffice) » in both, never « un classeur Excel ». It sits in the lowest layer so that
both may use it; it reads nothing itself beyond the bytes or the file object it is given.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File Binary (OLE2): .xls, .doc, an encrypted .xlsx
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_FREESECT = 0xFFFFFFFA  # CFB sector numbers at or above this are markers (end of chain, free…)

# What a file is, as a French noun phrase (« le fichier … est <kind> »).
XLSX = "un classeur Excel (.xlsx)"
XLSB = "un classeur binaire Excel (.xlsb)"
XLS = "un classeur au format .xls (Excel 97-2003)"
PROTECTED = "un classeur protégé par un mot de passe"
OLD_OFFICE = "un document Office à l'ancien format qui n'est pas un classeur Excel (Word, PowerPoint…)"
OLD_OFFICE_DAMAGED = "un fichier Office à l'ancien format (.xls ?) endommagé ou tronqué"
ODS = "un classeur OpenDocument (.ods, LibreOffice)"
ODF = "un document OpenDocument qui n'est pas un classeur (texte, présentation…)"
DOCX = "un document Word"
PPTX = "une présentation PowerPoint"
ZIP = "une archive zip qui ne contient pas de classeur Excel"
# a commune's convention sent zipped, a platform's export of the conventions: the workbooks are in it
ZIP_OF_WORKBOOKS = "une archive zip qui contient des classeurs Excel"
ZIP_DAMAGED = "une archive zip endommagée ou incomplète"
PDF = "un document PDF"
XML_2003 = "un classeur au format « Feuille de calcul XML 2003 »"
HTML = "une page web (HTML)"
# a SQLite database: most likely a département's register (`consolider --registre`), never « endommagé »
SQLITE = "une base de données SQLite (le registre d'un département, s'il vient d'acv-xl)"


def cfb_entry_names(f, size: int) -> set[str]:
    """Names of the streams and storages of a CFB (OLE2) file, reading only its directory.
    Raises ValueError (or struct.error, OSError) for a damaged or truncated one."""
    f.seek(0)
    hdr = f.read(512)
    if len(hdr) < 512:
        raise ValueError("entête CFB tronquée")
    shift = struct.unpack_from("<H", hdr, 30)[0]
    if shift not in (9, 12):
        raise ValueError("taille de secteur CFB invalide")
    ssz = 1 << shift
    n_sectors = size // ssz + 1  # bounds every chain walk below
    n_fat, first_dir = struct.unpack_from("<II", hdr, 44)
    first_difat, n_difat = struct.unpack_from("<II", hdr, 68)

    def sector(n: int) -> bytes:
        if n >= n_sectors:
            raise ValueError("secteur hors du fichier")
        f.seek((n + 1) * ssz)
        data = f.read(ssz)
        if len(data) < ssz:
            raise ValueError("secteur tronqué")
        return data

    fat_sectors = [s for s in struct.unpack_from("<109I", hdr, 76) if s < _FREESECT]
    sec, seen = first_difat, 0
    while sec < _FREESECT and seen < min(n_difat, n_sectors, 10_000):
        entries = struct.unpack(f"<{ssz // 4}I", sector(sec))
        fat_sectors += [s for s in entries[:-1] if s < _FREESECT]
        sec, seen = entries[-1], seen + 1
    fat_sectors = fat_sectors[:n_fat]
    per_sector = ssz // 4

    def next_sector(n: int) -> int:
        """FAT entry of sector n, reading only the FAT sector that holds it."""
        k, i = divmod(n, per_sector)
        if k >= len(fat_sectors):
            return _FREESECT
        return struct.unpack_from("<I", sector(fat_sectors[k]), i * 4)[0]

    names: set[str] = set()
    sec, visited = first_dir, set()
    while sec < _FREESECT and sec not in visited and len(visited) < n_sectors:
        visited.add(sec)
        data = sector(sec)
        for off in range(0, ssz, 128):
            name_len = struct.unpack_from("<H", data, off + 64)[0]
            if 2 <= name_len <= 64 and data[off + 66] in (1, 2, 5):  # storage, stream, root
                names.add(data[off: off + name_len - 2].decode("utf-16-le", "replace"))
        sec = next_sector(sec)
    return names


def cfb_kind(names: set[str]) -> str:
    """What a CFB file is, from the names of its streams (`cfb_entry_names`)."""
    if "EncryptedPackage" in names or "EncryptionInfo" in names:  # an .xlsx saved with a password
        return PROTECTED
    if "Workbook" in names or "Book" in names:
        return XLS
    return OLD_OFFICE


def text_kind(head: bytes) -> str | None:
    """What a file that is neither a zip nor a CFB is when its first bytes say it (PDF, XML
    spreadsheet 2003, HTML, SQLite), else None."""
    if head.startswith(b"SQLite format 3\x00"):
        return SQLITE
    low = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if low.startswith(b"%pdf"):
        return PDF
    if b"urn:schemas-microsoft-com:office:spreadsheet" in low:
        return XML_2003
    if low.startswith((b"<!doctype html", b"<html")) or b"<table" in low[:1024]:
        return HTML
    return None


def zip_kind(names: list[str], mimetype: bytes | None) -> str:
    """What a zip is, from its part names and its `mimetype` part (OpenDocument), when present."""
    if mimetype is not None:
        return ODS if mimetype.strip().startswith(b"application/vnd.oasis.opendocument.spreadsheet") else ODF
    lower = [n.lower() for n in names]
    if "xl/workbook.bin" in lower:
        return XLSB
    if any(n.startswith("xl/") for n in lower):
        return XLSX
    if any(n.startswith("word/") for n in lower):
        return DOCX
    if any(n.startswith("ppt/") for n in lower):
        return PPTX
    return ZIP_OF_WORKBOOKS if holds_workbooks(names) else ZIP


def holds_workbooks(names: list[str]) -> bool:
    """Whether a zip that is no workbook itself holds workbooks (its part names, `zip_kind`)."""
    return any(n.lower().endswith((".xlsx", ".xlsm")) for n in names)


def kind_of(data: bytes) -> str | None:
    """What a file whose whole content is `data` is, when it is none of the texts a list may be
    (a workbook, a PDF, a web page…); None for a text file (CSV or other)."""
    return _kind(io.BytesIO(data), data[:4096], len(data))


def kind_of_file(path: str | os.PathLike) -> str | None:
    """`kind_of` for a file on disk, reading only what it needs: its first bytes, a zip's central
    directory or a CFB's directory. Raises OSError when the file cannot be read."""
    with open(path, "rb") as f:
        head = f.read(4096)
        return _kind(f, head, os.fstat(f.fileno()).st_size)


def _kind(f, head: bytes, size: int) -> str | None:
    if head.startswith(CFB_MAGIC):
        try:
            return cfb_kind(cfb_entry_names(f, size))
        except (ValueError, struct.error, OSError):
            return OLD_OFFICE_DAMAGED
    if head.startswith(ZIP_MAGICS):
        try:
            with zipfile.ZipFile(f) as z:
                names = z.namelist()
                info = z.getinfo("mimetype") if "mimetype" in names else None
                mimetype = z.open(info).read(1024) if info is not None and info.file_size <= 1024 else None
                if info is not None and mimetype is None:
                    mimetype = b""  # an OpenDocument whose mimetype is not one: not a spreadsheet
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, NotImplementedError,
                RuntimeError, zlib.error):
            return ZIP_DAMAGED
        return zip_kind(names, mimetype)
    return text_kind(head)
