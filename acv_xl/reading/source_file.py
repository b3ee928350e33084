"""`FileSource`: the fast `source.Source` of an .xlsx/.xlsm file (the département batch reads 1,000).

How a file is read
- The file's first bytes decide what it is, not its extension: a CFB container (`D0 CF 11 E0`)
  is an .xls or a password-protected workbook (its directory holds `EncryptionInfo` and
  `EncryptedPackage`), a zip may be an .xlsx/.xlsm, an .xlsb (`xl/workbook.bin`) or an .ods
  (`mimetype`), anything else (CSV, HTML, PDF, random bytes) is refused. Every refusal is an
  `errors.UnreadableWorkbook` (STR-01 unreadable, STR-02 unsupported format) with a French message
  naming what the file is (in the words of `contract.file_kinds`, which also name a file given as
  the list of communes) and what to do.
- Before any part is inflated, the zip's central directory is checked against these limits
  (a decompression bomb is refused without inflating anything):
    * at most `MAX_PARTS` (10,000) parts;
    * no part larger than `MAX_PART_BYTES` (200 MB) once uncompressed;
    * all parts together at most `MAX_TOTAL_BYTES` (500 MB) uncompressed;
    * a part above `RATIO_MIN_BYTES` (5 MB) may not inflate more than `MAX_RATIO` (100) times its
      compressed size (real worksheets compress 10 to 30 times).
  Parts are then inflated never past their declared size, and their CRC checked, so a part
  lying about its size is refused too (`zip_guard.inflate`; nothing is ever re-read by
  `zipfile`, which would inflate up to 2 GiB in one call). A file up to `_IN_MEMORY_MAX` (64 MB)
  is read once into memory, its parts inflated there and calamine handed the very bytes that were
  checked: the parts it parses (workbook, relationships, shared strings, styles, and the sheets
  holding a table or a defined name, inflated before it opens the package) stored uncompressed
  (`zip_guard.repack`), so that it spends no time inflating them again, and none of the parts it
  never opens (theme, drawings, tables, properties…: `_NOT_FOR_CALAMINE`); each sheet among them
  arranged so that calamine parses its cells once, not twice (`calamine_sheet`: the same elements
  before the same cells, without what follows them, which it parsed only to look for merged cells;
  a part where that could change its verdict is handed as it is); a bigger file is read
  part by part from the disk, under the same guard. The central directory of a plain package in
  memory is read by `zip_guard.directory` (zipfile's entries, twice as fast), any other by zipfile;
  parts are inflated and their CRC computed by zlib-ng (the same verdicts as zlib, twice as fast).
- Each worksheet holding one of our tables or named cells is read once: its XML is inflated and
  scanned, then python-calamine gives the cell values (numbers, text, booleans, dates as
  `date`/`datetime`; a cell of a duration format, « [h]:mm », as a date-formatted one reads, not the
  `timedelta` calamine and openpyxl give: `_durations_read`, only for a workbook whose styles hold
  one). calamine builds the whole grid from A1 to the last value: one value typed
  in XFD1048576 would make it allocate 17 billion cells (it needed 4 GB for A1 + ZZ200000). So a
  sheet whose grid would exceed `MAX_GRID_CELLS` (3 million) cells — its extent taken from its
  cells, never from its `<dimension>` — is read through openpyxl's streaming reader instead, only
  the rows and columns of our tables and named cells.
- calamine turns Excel error cells (`t="e"`) and formulas saved without a cached value into "".
  The sheet XML is scanned for those cells, only when its `<sheetData>` holds an error or a
  formula at all, and they become `values.ExcelError("#REF!")` / `values.NoCachedValue("=…")`
  at their address.
  A workbook flagged `fullCalcOnLoad` was written by a library (XlsxWriter, openpyxl) and never
  recalculated: its formula results are placeholders (XlsxWriter writes 0), so every formula
  cell of such a file is a `NoCachedValue` too.
- Workbook-level defined names and the table parts (`xl/tables/tableN.xml`: name, ref, header
  names) are read from their small XML parts (ElementTree for the workbook, expat's start
  events for the relationship and table parts); table names are looked up case-insensitively.
  A table's rows are sliced from its sheet's grid, not asked of calamine's table API
  (`load_tables=True`): that API parses the sheet again for each table, and the grid is needed
  anyway (the cells around each table, the named cells, the extent) — measured on 1,000
  workbooks, tables plus grids cost 2.2 ms a file against 1.3 ms for the grids alone; its table
  metadata saves no parsing either, lacking the header and totals row counts.
- openpyxl is used for nothing else: calamine read every valid file of the tests (XlsxWriter,
  openpyxl and LibreOffice outputs), 5 times faster (`benchmarks/bench_read.py`).

Hostile files (every limit checked before the work it protects; `tests/test_hostile.py`):
- a part is never inflated past the size the zip's directory declares, and a size or CRC that does
  not match refuses the file (`zip_guard`); calamine opens the zip itself, but only after every part
  it parses (workbook, relationships, the sheet, shared strings, styles) has been inflated and
  checked here, so a part with more data than declared never reaches it (a sheet arranged by
  `calamine_sheet` is made of those checked bytes);
- a DTD in a part (in its prolog, after comments of any length) refuses the file (entity
  expansion, external entities);
- the `<dimension>` a sheet states is never trusted: `_scan_sheet` bounds the grid from the cells
  themselves — when every row and cell carries its `r` first (every writer does), the search for
  formulas it always ran finds any reference past ZZ999 too; past it, a sheet whose cells all carry
  their whole reference, without formula nor error cell, is bounded by the largest reference of a
  cell holding something, found in one search (`_plain_extent`); otherwise every cell is visited;
- calamine copies a shared string into each cell citing it: the text materialised per workbook is
  capped at `MAX_TEXT_CHARS` (references × the longest string — a bound on it found in a few
  searches, the strings measured when it is not enough (`_longest_shared_string`: the gaps between
  two `</si>`, never between two "si>", which a text may hold; a part where a `</si>` may not end a
  string for calamine — CDATA, a comment, a `<` in an attribute value — is parsed, `_plain_sst`) —
  counted exactly only when that bound is exceeded);
- a number in a date-formatted cell at -1.07e11 or below makes calamine panic (a `PanicException`, which
  `except Exception` lets through): a sheet holding one is read through openpyxl, the cell given its
  number (`_far_negatives`: a memchr on « - » a sheet); a panic not foreseen is said as a sheet calamine
  cannot read (`_panicked`). A duration past 999 999 999 days (python-calamine's OverflowError) sends its
  sheet there too; on that path a number past what a date holds keeps its number, not openpyxl's
  « #VALUE! » (`_undatable_numbers`).
"""

from __future__ import annotations

import errno
import io
import math
import posixpath
import re
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from html import unescape
from itertools import compress
from operator import itemgetter
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

from acv_xl.contract import file_kinds
from acv_xl.contract.system_errors import os_error_text
from acv_xl.contract.values import EXCEL_ERRORS, LAST_DATE_SERIAL, LEAP_1900, ExcelError, NoCachedValue, fmt_number, officejs_date
from acv_xl.reading import calamine_sheet, zip_guard
from acv_xl.reading.errors import SAVE_AS_XLSX, UnreadableWorkbook, file_text, shown_file
from acv_xl.reading.source import (
    MAX_GRID_CELLS,
    MAX_TABLE_CELLS,
    TableBlock,
    a1,
    col_index,
    filled_extent,
    named_width,
    parse_range,
    split_sheet_ref,
    table_lines,
    table_too_large,
    takes_over,
)

MAX_PARTS = 10_000
MAX_PART_BYTES = 200 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
MAX_RATIO = 100
RATIO_MIN_BYTES = 5 * 1024 * 1024
# characters of shared strings materialised per workbook (calamine copies one into each cell citing it)
MAX_TEXT_CHARS = 32 * 2**20
# "1e999" in a crafted file reads as infinity: Excel's own verdict for such a number is #NUM!
_NUM_ERROR = ExcelError("#NUM!")
_INFINITIES = (math.inf, -math.inf)
_SMALL_PART = 16 * 1024 * 1024  # rels, workbook.xml, tables: anything bigger is not a workbook we made
_IN_MEMORY_MAX = 64 * 1024 * 1024  # a bigger file is read part by part from the disk, by zipfile
# parts handed to calamine inflated (`zip_guard.repack`) at most: past that, the memory of a second
# copy is not worth the time (a workbook of ours: 0.2 MB)
_REPACK_MAX = 16 * 1024 * 1024

_CFB_MAGIC = file_kinds.CFB_MAGIC
_ZIP_MAGICS = file_kinds.ZIP_MAGICS

_REL_OFFICE_DOCUMENT = "/officeDocument"
_REL_WORKSHEET = "/worksheet"
_REL_TABLE = "/table"
_REL_SHARED_STRINGS = "/sharedStrings"
_REL_STYLES = "/styles"

SUGG_CHECK_PATH = "Vérifiez le chemin et le nom du fichier."
SUGG_RESAVE = ("Ouvrez le fichier dans Excel : s'il s'ouvre, enregistrez-le de nouveau au format .xlsx ; "
               "sinon, demandez une nouvelle copie à son auteur.")


def _unreadable(path: Path, what: str, suggestion: str = SUGG_RESAVE) -> UnreadableWorkbook:
    # a name not in UTF-8 (Latin-1 from a Windows zip) escaped: no workbook, JSON or SQLite holds its raw bytes;
    # and shown as the consolidation's sheets show it beside the message (`shown_file`)
    return UnreadableWorkbook("STR-01", f"Le fichier « {shown_file(file_text(path.name))} » {what}", suggestion)


def _unsupported(path: Path, what: str, suggestion: str = SAVE_AS_XLSX) -> UnreadableWorkbook:
    return UnreadableWorkbook("STR-02", f"Le fichier « {shown_file(file_text(path.name))} » {what}", suggestion)


def _system_refusal(path: Path, exc: OSError) -> UnreadableWorkbook:
    """A read the system refused (a share gone, too many open files…): its reason in French; an
    error without one (a seek before the start of a truncated zip) is the file's damage."""
    if exc.errno in (None, errno.EINVAL):
        return _unreadable(path, "est endommagé ou incomplet (archive tronquée ou corrompue).")
    return _unreadable(path, f"ne peut pas être lu : {os_error_text(exc)}.",
                       "Vérifiez que le fichier est accessible (droits de lecture, support ou partage réseau "
                       "connecté, fichier fermé dans les autres programmes), puis relancez.")


# ----------------------------------------------------------------------- sniffing
def _refuse_cfb(path: Path, f, size: int) -> UnreadableWorkbook:
    # what the file is: the words of `contract.file_kinds`, shared with the list of communes
    try:
        kind = file_kinds.cfb_kind(file_kinds.cfb_entry_names(f, size))
    except (ValueError, struct.error, OSError):
        return _unreadable(path, f"est {file_kinds.OLD_OFFICE_DAMAGED}.")
    if kind == file_kinds.PROTECTED:
        return _unsupported(
            path,
            f"est {kind} : il ne peut pas être lu sans le mot de passe.",
            # the way out is removing the password, not « Enregistrer sous » (the copy stays encrypted)
            "Ouvrez-le dans Excel avec son mot de passe, retirez la protection (Fichier › Informations › "
            "Protéger le classeur › Chiffrer avec mot de passe : effacez le mot de passe), puis enregistrez-le.",
        )
    if kind == file_kinds.XLS:
        return _unsupported(path, f"est {kind}, qui n'est pas pris en charge.")
    return _unreadable(path, f"est {kind}.", "Utilisez le classeur ACV, au format .xlsx.")


def _refuse_other(path: Path, head: bytes) -> UnreadableWorkbook:
    """The file is neither a zip nor a CFB: say what it looks like."""
    if path.name.startswith("~$"):  # Excel's owner file beside a workbook it has open (a user name, 165 bytes)
        return _unreadable(path, "est le fichier de verrouillage qu'Excel garde à côté d'un classeur ouvert, pas un "
                                 "classeur (ni un classeur endommagé).",
                           f"Indiquez le classeur lui-même, dont le nom se termine de la même façon (« …{path.name[2:]} »).")
    kind = file_kinds.text_kind(head)
    if kind == file_kinds.PDF:
        return _unreadable(path, f"est {kind}, pas un classeur Excel.", "Utilisez le classeur ACV, au format .xlsx.")
    if kind == file_kinds.XML_2003:
        return _unsupported(path, f"est {kind}, qui n'est pas pris en charge.")
    if kind == file_kinds.SQLITE:  # « fichier endommagé ? » would send a référent to restore a backup
        return _unreadable(path, f"est {kind}, pas un classeur Excel.",
                           "Indiquez le classeur .xlsx de la convention ; un registre se lit avec « acv-xl historique ».")
    if kind == file_kinds.HTML:
        return _unreadable(path, f"est {kind} renommée, pas un classeur Excel.", SAVE_AS_XLSX)
    sample = head[:4096]
    text = None
    # Excel's « Texte Unicode » export is UTF-16 with a byte order mark
    encodings = ("utf-16",) if sample.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8", "cp1252")
    for enc in encodings:
        try:
            text = sample[: len(sample) - len(sample) % 2].decode(enc) if enc == "utf-16" else sample.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if text is not None and "\x00" not in text and all(c.isprintable() or c in "\r\n\t\ufeff" for c in text[:-4]):
        if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):  # JSON has commas: never « CSV »
            from acv_xl.reading.provenance import describe, produced_by

            kind = produced_by(path)
            what = describe(kind, path) if kind else "un fichier de données JSON"
            return _unreadable(path, f"est {what}, pas un classeur Excel.",
                               "Indiquez le classeur .xlsx de la convention (celui que la commune remplit).")
        if any(sep in text for sep in (";", ",", "\t")):
            return _unreadable(
                path, "est un fichier texte (CSV) et non un classeur Excel : il ne contient ni feuilles ni tableaux.",
                "Ouvrez-le dans Excel, recopiez les données dans le modèle ACV (acv-xl modele) et enregistrez au format .xlsx.",
            )
        return _unreadable(path, "est un fichier texte, pas un classeur Excel.", "Utilisez le classeur ACV, au format .xlsx.")
    return _unreadable(path, "n'est pas un classeur Excel : son contenu n'est pas reconnu (fichier endommagé ?).")


def _open_zip(path: Path, light: bool = False, data: bytes | None = None) -> tuple[zipfile.ZipFile | zip_guard.Directory, bytes | None]:
    """Open the file after checking what it is; raises UnreadableWorkbook for everything else.

    Returns the zip and, unless the file is larger than `_IN_MEMORY_MAX`, its bytes: the parts are
    then inflated from memory (`FileSource._inflate`) and calamine reads the very bytes checked.
    `light`: a plain package in memory comes as a `zip_guard.Directory` (its entries hold only what
    the reader uses of a `ZipInfo`), read twice as fast as by `zipfile`.
    `data`: the file's whole content, read already by the caller (a consolidation hashes each file
    first): a zip of at most `_IN_MEMORY_MAX` bytes is then taken as it is — not looked up, opened
    and read a second time — and anything else is judged from the disk as below."""
    if data is not None and data.startswith(_ZIP_MAGICS) and len(data) <= _IN_MEMORY_MAX:
        try:
            return (light and zip_guard.directory(data)) or zipfile.ZipFile(io.BytesIO(data)), data
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError):
            raise _unreadable(path, "est endommagé ou incomplet (archive tronquée ou corrompue).") from None
    try:
        try:  # one stat; any other refusal (a name too long, a link loop…) is said below, in French
            st = path.stat()
        except FileNotFoundError:
            import glob

            # a pattern no shell expanded (cmd, PowerShell): `valider` expands it itself, and kept it as
            # typed because nothing matched; other commands take one workbook and never expand it.
            # A wildcard (* or ?) makes it one: brackets alone are a name's (« Arras [v2].xlsx » missing
            # was said a pattern, with « Arras 2.xlsx », another convention, to give instead)
            if glob.has_magic(str(path)) and any(c in str(path) for c in "*?"):
                matches = sorted(glob.glob(str(path)))
                if not matches:
                    raise UnreadableWorkbook("STR-01", f"Aucun fichier ne correspond au motif « {file_text(path)} ».",
                                             "Vérifiez le dossier et le motif, par exemple « *.xlsx ».") from None
                raise UnreadableWorkbook("STR-01", f"« {file_text(path)} » est un motif, pas le nom d'un fichier.",
                                         f"Indiquez le classeur lui-même, par exemple « {file_text(matches[0])} ».") from None
            if path.is_symlink():  # there, in its folder's listing (`ls`, a Unix shell's `*`): its target is not
                raise UnreadableWorkbook("STR-01", f"Le fichier « {shown_file(file_text(path))} » est un lien symbolique dont la "
                                         "cible est introuvable (un dossier déplacé, un partage non connecté ?).",
                                         "Vérifiez le lien, ou indiquez le classeur lui-même.") from None
            raise UnreadableWorkbook("STR-01", f"Le fichier « {shown_file(file_text(path))} » est introuvable.", SUGG_CHECK_PATH) from None
        if S_ISDIR(st.st_mode):
            # `valider Classeurs` typed for the workbooks in it: say how to name them (a pattern, which
            # valider expands itself) rather than « vérifiez le chemin », which is right. Said of valider:
            # `annexe` and `migrer`, which take one workbook, refuse the pattern
            raise UnreadableWorkbook("STR-01", f"« {file_text(path)} » est un dossier, pas un fichier.",
                                     "Indiquez un classeur (.xlsx ou .xlsm) ; pour vérifier tous les classeurs d'un "
                                     f"dossier, « acv-xl valider » accepte un motif : « {file_text(path / '*.xlsx')} ».")
        if not S_ISREG(st.st_mode):  # a pipe or a device: never opened (a pipe would wait), and not « vide »
            raise _unreadable(path, "n'est pas un fichier ordinaire (périphérique ou tube nommé) : ce n'est pas "
                              "un classeur.", SUGG_CHECK_PATH)
        size = st.st_size
        if size == 0:
            raise _unreadable(path, "est vide (0 octet).", "Enregistrez de nouveau le classeur depuis Excel ou demandez une nouvelle copie.")
        data = None
        with path.open("rb") as f:
            head = f.read(4096)
            if head.startswith(_CFB_MAGIC):
                raise _refuse_cfb(path, f, size)
            if head.startswith(_ZIP_MAGICS) and size <= _IN_MEMORY_MAX:
                f.seek(0)
                data = f.read()
        if not head.startswith(_ZIP_MAGICS):
            raise _refuse_other(path, head)
        if data is not None:
            return (light and zip_guard.directory(data)) or zipfile.ZipFile(io.BytesIO(data)), data
        return zipfile.ZipFile(path), None
    except UnreadableWorkbook:
        raise
    except PermissionError:
        raise _unreadable(path, "ne peut pas être ouvert : accès refusé.", "Vérifiez les droits d'accès au fichier.") from None
    except OSError as exc:
        raise _system_refusal(path, exc) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError):
        raise _unreadable(path, "est endommagé ou incomplet (archive tronquée ou corrompue).") from None


def _check_sizes(path: Path, zf: zipfile.ZipFile | zip_guard.Directory) -> int:
    """Refuse a decompression bomb from the central directory alone (nothing inflated). Returns the
    size of the largest part once inflated (`FileSource.longest_text`)."""
    infos = zf.infolist()
    if len(infos) > MAX_PARTS:
        raise _unreadable(path, f"contient {len(infos)} éléments internes, bien plus qu'un classeur (au plus {MAX_PARTS}).")
    total = largest = 0
    names = set()
    for info in infos:
        # a part twice (two versions of one sheet: no writer makes that, Excel repairs it): calamine,
        # zipfile and Excel need not read the same one — refused, as damaged. Part names are compared
        # without case, as the package format compares them
        name = info.filename.lower()
        if name in names:
            raise _unreadable(path, f"est endommagé : l'élément interne « {info.filename} » y figure deux fois, "
                                    "et rien ne dit laquelle de ses deux versions lire.")
        names.add(name)
        size = info.file_size
        total += size
        if size > largest:
            largest = size
        if size > MAX_PART_BYTES:
            raise _unreadable(
                path, f"contient un élément interne de {size // 2**20} Mo une fois décompressé "
                f"(« {info.filename} », limite {MAX_PART_BYTES // 2**20} Mo) : il n'est pas lu par sécurité.")
        if size > RATIO_MIN_BYTES and size > MAX_RATIO * max(info.compress_size, 1):
            raise _unreadable(
                path, f"contient un élément interne anormalement compressible (« {info.filename} », "
                f"{size // max(info.compress_size, 1)} fois sa taille compressée) : il n'est pas lu par sécurité.")
    if total > MAX_TOTAL_BYTES:
        raise _unreadable(
            path, f"ferait {total // 2**20} Mo une fois décompressé (limite {MAX_TOTAL_BYTES // 2**20} Mo) : "
            "il n'est pas lu par sécurité.")
    return largest


def read_parts(path: str | Path, names: set[str] | None = None,
               limit: int = MAX_PART_BYTES) -> dict[str, tuple[zipfile.ZipInfo, bytes]]:
    """Parts of a zip file (all, or those of `names`) under the reader's guard: the file sniffed,
    the central directory checked (`_check_sizes`), each part inflated never past its declared size
    with its CRC checked, none above `limit`. For every other reader of a workbook's parts (the
    annotated copy, the consolidation's own mark), so that none inflates what `valider` refuses.
    Raises `UnreadableWorkbook` (STR-01/02)."""
    path = Path(path)
    zf, data = _open_zip(path)
    fh = None
    try:
        _check_sizes(path, zf)
        out: dict[str, tuple[zipfile.ZipInfo, bytes]] = {}
        for info in zf.infolist():
            if names is not None and info.filename not in names:
                continue
            if info.file_size > limit:
                raise _unreadable(path, f"contient un élément interne trop grand (« {info.filename} », "
                                  f"{info.file_size // 2**20} Mo) : il n'est pas lu par sécurité.")
            if data is None and fh is None:
                fh = path.open("rb")
            try:
                out[info.filename] = info, zip_guard.inflate(info, data, fh)
            except zip_guard.PartRefused as exc:
                raise _unreadable(path, f"est endommagé : son élément interne « {info.filename} » {exc}.") from None
        return out
    except OSError as exc:
        raise _system_refusal(path, exc) from None
    finally:
        if fh is not None:
            fh.close()
        zf.close()


# ----------------------------------------------------------------------- small XML helpers
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _rid(el: ET.Element) -> str | None:
    """The r:id attribute, whatever the relationships namespace (transitional or strict)."""
    for k, v in el.attrib.items():
        if k.startswith("{") and _local(k) == "id":
            return v
    return None


# The structure parts of the workbooks of a département are mostly the template's, byte for byte
# (relationships, tables not resized, workbook.xml): what is parsed from them is a pure function of
# their bytes, kept here for the next file (parts up to `_MEMO_PART` bytes, `_MEMO_SIZE` of them; a
# malformed part raises every time). Callers never modify what they are given. A parsed part weighs
# far more than its bytes (16 KB of `<a/>` are 4,000 elements, ≈ 0.5 MB parsed): each memo also
# holds at most `_MEMO_ITEMS` elements in all (the template's parts: 2 to 43 each), so that a server
# fed hostile parts for months keeps a few megabytes, not 256 × 0.5 MB.
_MEMO_PART = 16 * 1024
_MEMO_SIZE = 256
_MEMO_ITEMS = 4096


class _Memo:
    """key → parsed part, bounded in entries and in elements held (emptied when full). Safe in the
    server's threads: each step is one dict operation; a count slightly off after two requests
    storing at once only empties the memo earlier or later."""

    def __init__(self) -> None:
        self.found: dict[Any, Any] = {}
        self.items = 0

    def get(self, key: Any) -> Any:
        return self.found.get(key)

    def put(self, key: Any, data: bytes, found: Any, items: int) -> None:
        if len(data) > _MEMO_PART or items > _MEMO_ITEMS:
            return
        if len(self.found) >= _MEMO_SIZE or self.items + items > _MEMO_ITEMS:
            self.found.clear()
            self.items = 0
        self.found[key] = found
        self.items += items


def _memoized(items):
    """`parse(data)` memoised by its bytes (`_Memo`); `items(found)`: the elements it holds."""
    def decorate(parse):
        memo = _Memo()

        def cached(data: bytes):
            found = memo.get(data)
            if found is None:
                found = parse(data)
                memo.put(data, data, found, items(found))
            return found

        cached.__doc__ = parse.__doc__
        cached.memo = memo
        return cached
    return decorate


def _start_tags(data: bytes) -> tuple[tuple[str, dict[str, str]], ...]:
    """(local name, attributes) of every element of a small XML part, in document order.

    Relationship and table parts (some twenty a workbook) carry everything in attributes: expat's
    start events are all they need, at two thirds of the cost of an ElementTree. Namespaces are
    resolved, so any prefix works (a namespaced attribute is keyed "uri}name"); a malformed part
    raises `expat.ExpatError`. Not memoised itself: its two callers are, by the part's bytes
    (`_table_entry`, `_relationships`), and keep only what they take of it."""
    out: list[tuple[str, dict[str, str]]] = []
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = lambda name, attrs: out.append((name.rpartition("}")[2], attrs))
    parser.Parse(data, True)
    return tuple(out)


@_memoized(lambda entry: 1 + len(entry[5]) if entry else 1)
def _table_entry(data: bytes) -> tuple[str, str, str, int, int, tuple[str, ...]] | bool:
    """(display name, name, ref, header rows, totals rows, column names) of a table part, False
    when its range is unusable; a malformed part raises (`expat.ExpatError`, `ValueError`)."""
    tags = _start_tags(data)
    t = tags[0][1]  # the root <table>
    display = t.get("displayName") or t.get("name") or ""
    columns = tuple(_ooxml_unescape(a.get("name", "")) for tag, a in tags if tag == "tableColumn")
    ref = t.get("ref", "")
    try:
        parse_range(ref)
    except ValueError:
        return False
    return (display, t.get("name") or "", ref, int(t.get("headerRowCount", "1") or 1),
            int(t.get("totalsRowCount", "0") or 0), columns)


@_memoized(lambda entries: 1 + len(entries[1]) + len(entries[2]))
def _workbook_entries(data: bytes) -> tuple[str, tuple, tuple, bool, bool]:
    """What the reader takes from workbook.xml: the root's local name, the sheets (name, r:id) and
    the defined names (name, localSheetId, reference) in document order, whether it is flagged
    `fullCalcOnLoad` and whether it counts its dates from 1904; a malformed part raises `ET.ParseError`."""
    root = ET.fromstring(data)
    sheets, defined, full_calc, date1904 = [], [], False, False
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "sheet":
            sheets.append((el.get("name", ""), _rid(el)))
        elif tag == "definedName":
            defined.append((el.get("name", ""), el.get("localSheetId"), (el.text or "").strip()))
        elif tag == "calcPr":
            full_calc = el.get("fullCalcOnLoad") in ("1", "true")
        elif tag == "workbookPr":
            date1904 = el.get("date1904") in ("1", "true")
    return _local(root.tag), tuple(sheets), tuple(defined), full_calc, date1904


@lru_cache(maxsize=1024)
def _rels_name(part: str) -> tuple[str, str]:
    """(folder, relationships part) of a part: ("xl", "xl/_rels/workbook.xml.rels")."""
    folder, base = posixpath.split(part)
    return folder, posixpath.join(folder, "_rels", base + ".rels")


_RELATIONSHIPS = _Memo()  # (folder, bytes) → relationships


def _relationships(folder: str, data: bytes) -> list[tuple[str, str, str]]:
    """(Id, Type, resolved target) of the internal relationships of a part of `folder`, parsed once
    per content and folder (as `_start_tags`); a malformed part raises `expat.ExpatError`."""
    found = _RELATIONSHIPS.get((folder, data))
    if found is None:
        found = [(rel.get("Id", ""), rel.get("Type", ""), _resolve(folder, rel.get("Target", "")))
                 for tag, rel in _start_tags(data)
                 if tag == "Relationship" and rel.get("TargetMode") != "External"]
        _RELATIONSHIPS.put((folder, data), data, found, 1 + len(found))
    return found


@lru_cache(maxsize=1024)
def _resolve(folder: str, target: str) -> str:
    """A relationship's target as a part name: "../tables/table1.xml" from "xl/worksheets"."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(folder, target))


_XLSX_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _raw_shared_strings(sst: bytes) -> list[str]:
    """The shared strings as openpyxl reads them (`reader.strings.read_string_table`), escapes left as
    written: without its `replace('x005F_', '')`, which loses the escaped underscore."""
    from openpyxl.cell.text import Text
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    tag = f"{{{SHEET_MAIN_NS}}}si"
    out = []
    for _, node in iterparse(io.BytesIO(sst)):
        if node.tag == tag:
            out.append(Text.from_tree(node).content)
            node.clear()
    return out


def _ooxml_unescape(s: str) -> str:
    """`_x000a_` → newline, as Excel escapes control characters in names and strings."""
    if "_x" not in s:
        return s  # nearly always: no regex call
    return _XLSX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s)


@dataclass
class _TableInfo:
    name: str
    sheet: str
    ref: str
    header_rows: int
    totals_rows: int
    columns: list[str]


@dataclass
class _Sheet:
    name: str
    part: str | None
    grid: list[list[Any]] | None = None
    overrides: dict[tuple[int, int], Any] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    sparse: bool = False  # grid too large for calamine: regions are read through openpyxl
    extent: tuple[int, int] = (0, 0)  # last row and column holding something
    officejs_texts: bool = False  # may hold a text the add-in cannot tell from a date or an error (`_officejs_dates`)


# ----------------------------------------------------------------------- sheet XML scanning
_NS = rb"(?:[A-Za-z_][\w.\-]*:)?"
_ROW_OR_CELL = re.compile(rb"<" + _NS + rb"(row|c)\b([^>]*?)(/?)>")
_CELL_END = re.compile(rb"</" + _NS + rb"c>")
_ATTR_R = re.compile(rb"""\br\s*=\s*["']\$?([A-Za-z]*)\$?(\d*)["']""")
_ATTR_T = re.compile(rb"""\bt\s*=\s*["']([^"']*)["']""")
_HAS_ERROR = re.compile(rb"""\bt\s*=\s*["']e["']""")
_FORMULA = re.compile(rb"<" + _NS + rb"f\b[^>]*?(?:/>|>(.*?)</" + _NS + rb"f>)", re.S)
_VALUE = re.compile(rb"<" + _NS + rb"v\b[^>]*?(?:/>|>(.*?)</" + _NS + rb"v>)", re.S)
_MERGE = re.compile(rb"<" + _NS + rb"""mergeCell\b[^>]*?\bref\s*=\s*["']([^"']+)["']""")


# `_ROW_OR_CELL` (the same spans: up to the tag's first ">", a "/" before it closing the tag)
# reading the tag's reference when it is its first attribute, written ` r="…"` (every writer):
# `_ATTR_R` is searched in the tag only otherwise. Greedy, twice as fast as a lazy `[^>]*?(/?)>`.
_ROW_OR_CELL_R = re.compile(rb"<" + _NS + rb'(row|c)\b(?:(?= r="\$?([A-Za-z]*)\$?(\d*)")|)([^>]*)>')


class _OffGrid(ValueError):
    """A cell reference with more than three letters (« AAAAAAAAAAAAAAAAAAAA1 »): no column of Excel's
    grid, and calamine sized its grid from it (56 GB asked: the process ended on SIGABRT)."""


def _iter_cells(xml: bytes, with_inner: bool):
    """(row, col, attrs, inner) of every cell, positions tracked as Excel does when `r` is omitted."""
    row, col = 0, 0
    columns: dict[bytes, int] = {}
    for m in _ROW_OR_CELL_R.finditer(xml):
        kind, letters, digits, attrs = m.groups()
        closed = attrs[-1:] == b"/"
        if closed:
            attrs = attrs[:-1]
        if letters is None:
            r = _ATTR_R.search(attrs)
            letters, digits = (r.group(1), r.group(2)) if r else (b"", b"")
        if kind == b"row":
            row = int(digits) if digits else row + 1
            col = 0
            continue
        if letters:
            if len(letters) > 3:
                raise _OffGrid((letters + digits).decode("ascii"))
            col = columns.get(letters) or columns.setdefault(letters, col_index(letters.decode()))
            if digits:
                row = int(digits)
        else:
            col += 1
        inner = None
        if not closed and with_inner:
            end = _CELL_END.search(xml, m.end())
            inner = xml[m.end(): end.start()] if end else b""
        yield row, col, attrs, closed, inner


def _sheet_data_span(xml: bytes) -> tuple[int, int]:
    """(start, end) of the `<sheetData>` element's content (the whole part when it has none)."""
    lo = xml.find(b"sheetData")
    return (0, len(xml)) if lo < 0 else (lo + 9, xml.rfind(b"sheetData"))


# Every writer (Excel, LibreOffice, XlsxWriter, openpyxl) writes `r` first on every row and cell.
# When all of them do, a reference with a three-letter column or a four-digit row is the only way
# past ZZ999, so one search bounds calamine's grid (≤ 999 × 702 cells) without visiting the cells.
# That search also looks for the formulas `_special_cell` reads: a sheet with neither — nearly
# every sheet — costs one pass. It stops at a `<c` or `<row` not followed by a near reference, at a
# formula, or at a `<!` (CDATA, where a tag could hide); a second, cheap one (its first character,
# a colon, is rare) at a prefixed row or cell (`<x:c`, which calamine reads too). Then every cell is
# visited, which gives the exact extent at the same time.
_SUSPECT = re.compile(rb'<(?:c(?! r="[A-Za-z]{1,2}\d{1,3}")|row(?! r="\d{1,3}")|f[\s>/]|!)')
_PREFIXED_CELL = re.compile(rb':(?:c|row)[\s/>]')
_NEAR_BOUND = (999, 702)


# A sheet past ZZ999 (a plan of more than 999 lines) with neither formula nor error cell, every
# row and cell tag unprefixed and every cell carrying its whole reference first (`r="AB1234"`, as
# every writer does): its extent is the largest reference of a cell that is not empty, found by one
# regex in C — where visiting each cell in Python took 70 ms for a plan of 20,000 cells. Any other
# sheet is visited cell by cell (`_iter_cells`), which gives the same extent.
# a formula or a row or cell tag with a prefix, anywhere (as `_iter_cells` and `_FORMULA` see them)
_PREFIXED_OR_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:(?:row|c|f)|f)\b")
# the spans of `_ROW_OR_CELL` (unprefixed: up to the tag's first ">"): a row ("r"); a cell, its
# letters and row when it carries its whole reference first, and the character before its ">"
# (a "/": an empty cell `<c …/>`). One attempt per tag, greedy: twice as fast as a lazy `[^>]*?`.
_CELL_REFS = re.compile(rb'<(?:(r)ow\b[^>]*>|c\b(?: r="([A-Za-z]{1,3})(\d+)")?(?:[^>]*([^>]))?>)')


def _plain_extent(xml: bytes, lo: int, hi: int) -> tuple[int, int] | None:
    """(last row, last column) of the cells holding something when every cell is plain (see above),
    else None. `lo`, `hi`: the span of `<sheetData>`, already searched for error cells."""
    if _HAS_ERROR.search(xml, 0, lo) or _HAS_ERROR.search(xml, hi) or _PREFIXED_OR_FORMULA.search(xml):
        return None
    found = _CELL_REFS.findall(xml)
    if not found:
        return 0, 0
    rows, letters, numbers, last = zip(*found)  # column by column, in C
    if letters.count(b"") != rows.count(b"r"):
        return None  # a cell without its whole reference: its place depends on the cells before
    filled = list(map(b"/".__ne__, last))  # not an empty `<c …/>` (a formatted blank)
    columns = set(compress(letters, filled))
    columns.discard(b"")
    return (max(map(int, filter(None, compress(numbers, filled))), default=0),
            max((col_index(c.decode()) for c in columns), default=0))


def _scan_sheet(xml: bytes, full_calc_on_load: bool,
                span: tuple[int, int] | None = None) -> tuple[tuple[int, int], dict[tuple[int, int], Any]]:
    """(extent, special cells) of a sheet's XML: (last row, last column) of the cells holding
    something, or a bound above them — the size of calamine's grid, taken from the cells, never
    from the `<dimension>` a file states (a crafted one understates it, and calamine aborts the
    process building 17 billion cells) — and its error cells and formulas without a value (`_special_cell`).
    `span`: `_sheet_data_span(xml)`, when known."""
    lo, hi = span or _sheet_data_span(xml)
    # an error type needs an "e" quoted: fast searches first, as most sheets have none (and no
    # apostrophe at all, found by memchr: the search for 'e' is then spared); `rfind` for the
    # quoted "e", absent from nearly every sheet: a third faster than `find`
    has_error = (xml.find(b"e", lo, hi) >= 0
                 and (xml.rfind(b'"e"', lo, hi) >= 0
                      or (xml.find(b"'", lo, hi) >= 0 and xml.rfind(b"'e'", lo, hi) >= 0))
                 and _HAS_ERROR.search(xml, lo, hi) is not None)
    if not has_error and _SUSPECT.search(xml, lo, hi) is None and _PREFIXED_CELL.search(xml, lo, hi) is None:
        return _NEAR_BOUND, {}
    if not has_error and (extent := _plain_extent(xml, lo, hi)) is not None:
        return extent, {}
    last_row = last_col = 0
    found: dict[tuple[int, int], Any] = {}
    for row, col, attrs, closed, inner in _iter_cells(xml, with_inner=True):
        if closed:  # an empty `<c r=".." s="1"/>` is a formatted blank: calamine skips it
            continue
        last_row, last_col = max(last_row, row), max(last_col, col)
        # an error type needs an "e", a formula an "f": `_special_cell` is asked only then
        if inner and (b"f" in inner or b"e" in attrs):
            special = _special_cell(attrs, inner, full_calc_on_load)
            if special is not None:
                found[(row, col)] = special
    return (last_row, last_col), found


# calamine turns a number in a date-formatted cell into a date, and panics (chrono: « TimeDelta::milliseconds
# out of bounds ») on one past what a 64-bit count of milliseconds holds, -1.07e11 days and below: a
# `PanicException`, which no `except Exception` catches — one such number typed in a date cell (« -1E+308 »)
# ended `valider` on a traceback and a whole `consolider` (« erreur interne », no report). Such a sheet is
# read through openpyxl, those cells given their number, as the button reads them.
_FAR_NEGATIVE = -1e11
_NEGATIVE_VALUE = re.compile(rb"<" + _NS + rb"v>(\s*-[^<]*)<")
# what follows the « - » of a number at `_FAR_NEGATIVE` or below, as any writer spells it: twelve digits at
# least, or an exponent, or an infinity (« -200000000000 », « -1E+308 », « -inf »). An ordinary negative
# number (« -5 », « -1234,5 ») or a subtraction in a formula (« F4-G4 ») is none
_FAR_NEGATIVE_TEXT = re.compile(rb"-(?:[0-9]{12}|[0-9.]*[eEiI])")


def _far_negatives(xml: bytes, span: tuple[int, int] | None = None) -> dict[tuple[int, int], Any]:
    """When a number cell of a sheet is below `_FAR_NEGATIVE`, its numbers openpyxl would not give
    (`_undatable_numbers`, those cells among them), else none. Nearly every sheet has no « - » in its
    cells, found by memchr; from the first one, the text of such a number is searched (`_FAR_NEGATIVE_TEXT`,
    a few µs a sheet), the values only when it is found — a search of every « <v>- » cost a sheet holding
    one negative number more than `_scan_sheet` — and the cells visited only when a value is that low.
    `span`: `_sheet_data_span(xml)`, when known."""
    lo, hi = span or _sheet_data_span(xml)
    at = xml.find(b"-", lo, hi)
    if at < 0 or _FAR_NEGATIVE_TEXT.search(xml, at, hi) is None \
            or not any(_below(m.group(1)) for m in _NEGATIVE_VALUE.finditer(xml, lo, hi)):
        return {}
    return _undatable_numbers(xml)


# The serial numbers a date holds for openpyxl (01/01/0001 to 31/12/9999): it reads a number past them in
# a date cell (« 1E+10 » typed in a date or « [h]:mm » cell) as the text « #VALUE! », where calamine and
# the button give the number
_DATE_SERIALS = (-693593, LAST_DATE_SERIAL + 1)


def _undatable_numbers(xml: bytes) -> dict[tuple[int, int], Any]:
    """The number cells of a sheet outside `_DATE_SERIALS` (#NUM! for a non-finite one, as `_clean`), by
    position: for a sheet read through openpyxl after calamine could not (`_far_negatives`, a duration
    past what python-calamine holds), those cells given their number. Every cell visited: never on the
    path of a sheet calamine reads."""
    found: dict[tuple[int, int], Any] = {}
    for row, col, attrs, closed, inner in _iter_cells(xml, with_inner=True):
        if closed or not inner:
            continue
        t = _ATTR_T.search(attrs)
        v = _VALUE.search(inner) if t is None or t.group(1) == b"n" else None  # a number (a text is no date)
        if v and v.group(1):
            try:
                number = float(v.group(1))
            except ValueError:
                continue
            if not _DATE_SERIALS[0] <= number < _DATE_SERIALS[1]:  # NaN too
                found[(row, col)] = number if math.isfinite(number) else _NUM_ERROR
    return found


def _below(text: bytes) -> bool:
    try:
        return float(text) <= _FAR_NEGATIVE
    except ValueError:
        return False


_SI_WINDOW = 1024
_STRING_END = b"</si>"


def _longest_shared_string(sst: bytes, exact: bool = False) -> tuple[int, bool]:
    """(characters of the longest shared string or a bound above them, whether exact), for the text budget.

    calamine ends a string at the first `</si>` after its start (a `<si>` inside it included), so each
    string lies within a gap between two `</si>` of a plain part (`_plain_sst`: each of them an end tag
    for calamine's tokenizer): the bytes of the gap bound its length in characters from above (UTF-8,
    entities and markup are never shorter than the text). Not between two "si>": a text may hold
    "si>" (a `>` needs no escape there), which would cut a long string into short gaps. Measuring every
    gap makes an object of each string (≈ 0.05 ms a workbook); when every window of `_SI_WINDOW` bytes
    holds an end — nearly always, a few searches — no gap reaches twice that, which is bound enough
    (`FileSource._check_text` measures them only when it is not). A part that is not plain is parsed
    (`_parsed_longest`)."""
    if not _plain_sst(sst):
        return _parsed_longest(sst), True
    n, w = len(sst), _SI_WINDOW
    if not exact and all(sst.find(_STRING_END, p, p + w + 5) >= 0 for p in range(0, n - w + 1, w)):
        return min(2 * w, n), False
    return max(map(len, sst.split(_STRING_END)), default=0), True


# What could hide a `</si>` from calamine's tokenizer, or show it one that ends nothing: a comment,
# CDATA, a processing instruction or a DTD (`<!`, `<?` past the declaration), and a `<` inside a tag
# — before its `>`, or in a quoted attribute value, which calamine accepts and reads past a `>`:
# `_NOT_PLAIN` finds a tag holding a second `<`, a quote left open before its `>`, or a quoted
# value holding `<` or `>` (possessive: each tag scanned once). First on the part's skeleton (its
# `<>"'!?` alone, made in C: a few thousand bytes), where a plain tag is `<` and pairs of quotes up to
# its `>`; anything else there (a `?` or `!` in a value, say) is looked at in the part itself.
_NOT_PLAIN = re.compile(rb"""<(?:[^<>"']++|"[^<>"]*+"|'[^<>']*+')*+[<"']""")
_NOT_SKELETON = bytes(b for b in range(256) if b not in b"<>\"'!?")
_NOT_PLAIN_SKELETON = re.compile(rb"""<(?:""|'')*+[^>]""")
_DECLARATION_SKELETON = re.compile(rb"""<\?(?:""|'')*+\?>""")


def _plain_sst(sst: bytes) -> bool:
    """Whether every `<` of the shared strings part `sst` opens a tag that ends at the next `>`, every
    `</si>` then being an end tag for calamine (what every writer produces; ≈ 30 µs a workbook)."""
    skeleton = sst.translate(None, _NOT_SKELETON)
    declaration = _DECLARATION_SKELETON.match(skeleton)
    if _NOT_PLAIN_SKELETON.search(skeleton, declaration.end() if declaration else 0) is None:
        return True
    decl = sst.find(b"<?")
    if sst.find(b"<!") >= 0 or (decl >= 0 and (decl > 3 or sst.find(b"<?", decl + 2) >= 0)):
        return False
    return _NOT_PLAIN.search(sst) is None


def _parsed_longest(sst: bytes) -> int:
    """Characters of the longest shared string of a part that is not plain (CDATA, comments…), parsed
    as XML: all the text of each outermost `<si>` (calamine reads a part of it at most). A part the
    parser refuses (calamine may not): its whole length, a bound of any string in it."""
    longest = current = depth = 0

    def start(name: str, _attrs) -> None:
        nonlocal depth, current
        if name.rpartition(":")[2] == "si":
            current = current if depth else 0
            depth += 1

    def end(name: str) -> None:
        nonlocal depth, longest
        if name.rpartition(":")[2] == "si" and depth:
            depth -= 1
            longest = max(longest, current) if not depth else longest

    def text(data: str) -> None:
        nonlocal current
        if depth:
            current += len(data)

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    try:
        parser.Parse(sst, True)
    except (expat.ExpatError, ValueError):
        return len(sst)
    return longest


# a string as calamine reads it: from its start tag to the first end tag after it (`</si >` one too)
_SI = re.compile(rb"<(?:[\w.\-]+:)?si\b.*?</(?:[\w.\-]+:)?si\s*>|<(?:[\w.\-]+:)?si\b[^>]*/>", re.S)


def _shared_text_cost(xml: bytes, sst: bytes) -> int:
    """Characters of shared strings the sheet's cells materialise (each string counted by its bytes,
    never fewer): the exact count, every cell visited, when the quick bound is not enough. Each
    string of a part that is not plain (`_plain_sst`) is counted at the longest (`_parsed_longest`):
    its strings could not be told apart by a search."""
    lengths: list[int] | None = [len(m.group(0)) for m in _SI.finditer(sst)] if _plain_sst(sst) else None
    longest = _parsed_longest(sst) if lengths is None else 0
    cost = 0
    for _row, _col, attrs, closed, inner in _iter_cells(xml, with_inner=True):
        t = _ATTR_T.search(attrs) if not closed and inner else None
        if t is None or t.group(1) != b"s":
            continue
        v = _VALUE.search(inner)
        if v and v.group(1) and v.group(1).strip().isdigit():
            if lengths is None:
                cost += longest
                continue
            i = int(v.group(1))
            cost += lengths[i] if i < len(lengths) else 0
    return cost


_SST_TAG = re.compile(rb"<(?:[\w.-]+:)?sst\b[^>]*>")
_UNIQUE_COUNT = re.compile(rb"\suniqueCount\s*=\s*[\"'](\d+)[\"']")


def _check_unique_count(path: Path, sst: bytes) -> None:
    """calamine reserves room for the `uniqueCount` the shared strings announce before reading one
    (24 bytes each): « 99999999999 » in a 40 KB file asked 2,4 TB and ended the process (abort, no
    message, a batch's worker lost). No writer announces more strings than the part can hold (each
    `<si/>` takes 5 bytes at least): a count past that is a damaged or crafted file."""
    pos = 0
    while True:  # the root's start tag, after the prolog (declaration, comments of any length, a BOM)
        pos = sst.find(b"<", pos)
        if pos < 0 or sst[pos + 1: pos + 2] not in (b"?", b"!"):
            break
        end = sst.find(b"-->" if sst.startswith(b"<!--", pos) else b">", pos + 2)
        pos = -1 if end < 0 else end + 1
        if pos < 0:
            break
    tag = _SST_TAG.match(sst, pos) if pos >= 0 else None
    found = _UNIQUE_COUNT.search(tag.group(0)) if tag else None
    if found and int(found.group(1)) > len(sst) // 5 + 1:
        raise _unreadable(path, f"est endommagé : sa liste de textes partagés annonce {fmt_number(int(found.group(1)))} "
                                "textes, bien plus qu'elle n'en contient.")


def _special_cell(attrs: bytes, inner: bytes, full_calc_on_load: bool) -> Any:
    """An error cell or a formula without a usable cached value (calamine reads both as ""), else None."""
    t = _ATTR_T.search(attrs)
    ctype = t.group(1) if t else b"n"
    v = _VALUE.search(inner)
    vtext = unescape(v.group(1).decode("utf-8", "replace")) if v and v.group(1) else ""
    if ctype == b"e":
        return ExcelError(vtext or "#N/A")
    f = _FORMULA.search(inner)
    if f is None:
        return None
    formula = "=" + unescape((f.group(1) or b"").decode("utf-8", "replace"))
    no_value = v is None or (vtext == "" and ctype not in (b"str", b"inlineStr"))
    return NoCachedValue(formula) if no_value or full_calc_on_load else None


# What calamine opens of a package, for the workbook and the sheets it is asked: the package's
# relationships, then in the workbook's folder `workbook.xml`, its relationships, the shared strings
# and the styles (by these names), and the sheets. Left out of the package `repack` hands it, the
# parts of these folders that none of that is (document properties, theme, drawings, tables, sheet
# relationships, printer settings, images, custom XML): half the entries of a workbook of ours, which
# it then neither lists nor which we copy (≈ 40 µs a file).
_NOT_FOR_CALAMINE = ("docprops/", "xl/theme/", "xl/drawings/", "xl/tables/", "xl/worksheets/_rels/",
                     "xl/printersettings/", "xl/media/", "customxml/")
_CALAMINE_NAMES = ("sharedstrings.xml", "styles.xml", "workbook.xml", "workbook.xml.rels")


def _not_for_calamine(name: str) -> bool:
    # a part's name may hold 65,535 bytes: only those of ordinary length are kept (`acv-xl serveur` runs for months)
    return _left_out(name, _NOT_FOR_CALAMINE) if len(name) <= _NAME_KEPT_MAX else _left_out.__wrapped__(name, _NOT_FOR_CALAMINE)


_NAME_KEPT_MAX = 256


@lru_cache(maxsize=1024)  # the template's part names, met again in every workbook
def _left_out(name: str, folders: tuple[str, ...]) -> bool:
    low = name.lower()
    return low.startswith(folders) and not low.endswith(_CALAMINE_NAMES)


# What may put markup or an escape between a text's last digit and its « Z », or write the « Z » or
# the « # » of an error text otherwise — as Excel and calamine read it, the same text: a comment or
# CDATA (`<!--`, `<![CDATA[`), a character reference (`&#90;`), Excel's own escape of a « Z », a « # » or a digit
# (`_x005A_`; not `_x000D_`, which Excel writes for every carriage return in a text), a rich text whose
# last run is the « Z » alone (`…000</t></r><r><t>Z</t>`). And a text, or a value, that starts with
# « # » (`>#`: an error cell's value, or a text typed like one). Any of them, rare, and the part's texts
# are looked at. Grouped by first byte, each group searched in one walk (`_has`).
_HIDDEN_Z = ((b"!", (b"!--", b"![CDATA[")), (b"&", (b"&#",)), (b"_", (b"_x005A_", b"_x005a_", b"_x0023_", b"_x003")))


def _may_hold_officejs_date(data: bytes) -> bool:
    """Whether a part may hold a text in the form the Office.js add-in gives every date
    (« 2024-03-01T00:00:00.000Z », `values.officejs_date`): a digit then « Z » ending a text or a value,
    or what may hide one, or an error's text (`_HIDDEN_Z`). Nearly no workbook has one: a search for « Z » (memchr: 0,05 ms
    for 2 MB) and a few more, and the grid is left as calamine reads it. Never a search that begins
    with « < » or « > »: memchr stops at every tag (looking for « <! », « >Z</ » and « ># » so cost
    ≈ 0,45 ms a workbook); the comment or CDATA by its « !-- » or « ![CDATA[ », the « Z » or « # »
    by itself, what comes before it checked."""
    at, seen = data.find(b"Z"), 0
    while at >= 0:
        if data[at + 1: at + 3] == b"</" and (data[at - 1: at].isdigit() or data[at - 1: at] == b">"):
            return True
        seen += 1
        if seen > 64:  # a part full of « Z » (the cells of column Z): « Z</ » searched instead
            at = data.find(b"Z</", at + 1)
            while at >= 0:
                if data[at - 1: at].isdigit() or data[at - 1: at] == b">":
                    return True
                at = data.find(b"Z</", at + 3)
            break
        at = data.find(b"Z", at + 1)
    at, seen = data.find(b"#"), 0  # a text or a value starting with « # »
    while at >= 0:
        if data[at - 1: at] == b">":
            return True
        seen += 1
        if seen > 64:  # (structured references in formulas: « T_Actions[#Totaux] »)
            if data.find(b">#", at) >= 0:
                return True
            break
        at = data.find(b"#", at + 1)
    return any(_has(data, first, needles) for first, needles in _HIDDEN_Z)


def _has(data: bytes, first: bytes, needles: tuple[bytes, ...]) -> bool:
    """Whether one of `needles`, which all start with the byte `first`, is in data: by memchr on that
    byte, which these needles rarely meet (`bytes.find` of a few bytes walks every byte of the part, ≈ 1 ns
    a byte, twenty times memchr's pace; 0,3 ms a workbook for `_HIDDEN_Z`), one walk for the needles
    that share it (`startswith` of a tuple). Past 64 of that byte, `bytes.find`."""
    at, seen = data.find(first), 0
    while at >= 0:
        if data.startswith(needles, at):
            return True
        seen += 1
        if seen > 64:
            return any(data.find(needle, at + 1) >= 0 for needle in needles)
        at = data.find(first, at + 1)
    return False


def _officejs_dates(rows: list[list[Any]]) -> list[list[Any]]:
    """`rows` with each text in the add-in's date form read as that date, as a date cell reads (a date at
    midnight, else a date-time; a time alone as its time), and each error's text (« #BUSY! » typed, which
    Excel keeps as a text; « '#N/A ») as that error: the button receives a date or an error cell and
    such a text as the same string, and reads both as the date or the error — so does the file reader,
    else their verdicts and fingerprints differed (FIN-17 or « Validé » here, « Validé » or STR-06 there)."""
    out = []
    for line in rows:
        if any(v.__class__ is str and (len(v) == 24 and officejs_date(v) is not None or v in _ERROR_OF)
               for v in line):
            line = [_officejs_cell(v) if v.__class__ is str else v for v in line]
        out.append(line)
    return out


_ERROR_OF = {e: ExcelError(e) for e in EXCEL_ERRORS}


# A duration format (« [h]:mm », built-in 46 « [h]:mm:ss »): calamine and openpyxl read its cell as a
# timedelta, which no rule reads — a date typed in such a cell was « n'est pas une date : « 43263 days,
# 0:00:00 » », in English, where the button gets the date-time Excel gives any time-formatted cell. The
# styles are searched once a workbook (the template's hold no « [h] »), the grids visited only when one is
# there. The verdict is kept by the styles' bytes: the template's, the same bytes object given again for
# most workbooks (`zip_guard.inflate(…, memo=True)`, its hash kept with it), are searched once a process
# (the searches cost 46 000 instructions, a tenth of a per cent of reading a workbook)
_DURATION_FORMAT = re.compile(rb"\[[hHmMsS]+\]")
_DURATION_VERDICTS: dict[bytes, bool] = {}


def _holds_duration_format(styles: bytes) -> bool:
    if len(styles) > zip_guard._MEMO_INFLATED:  # a part zip_guard does not keep either: searched each time
        return _searched_durations(styles)
    found = _DURATION_VERDICTS.get(styles)
    if found is None:
        if len(_DURATION_VERDICTS) >= 64:  # bounded, as zip_guard's memos
            _DURATION_VERDICTS.clear()
        found = _DURATION_VERDICTS[styles] = _searched_durations(styles)
    return found


def _searched_durations(styles: bytes) -> bool:
    return _DURATION_FORMAT.search(styles) is not None or styles.find(b'numFmtId="46"') >= 0


_DAY = timedelta(days=1)


def _duration_cell(value: timedelta) -> Any:
    """A duration cell's value as a date-formatted cell reads: a date (at midnight), a date-time, a time
    alone below one day (`values.time_alone`), a negative one or one past 31/12/9999 its serial number."""
    serial = value / _DAY
    if serial < 1:
        return (datetime.min + value).time() if serial >= 0 else serial
    try:  # serials 1 to 59 a day later, as Excel counts them (`values.excel_serial_to_date`)
        when = datetime(1899, 12, 31 if serial < LEAP_1900 else 30) + value
    except OverflowError:
        return serial
    return when.date() if when.time() == time(0) else when


def _durations_read(rows: list[list[Any]]) -> list[list[Any]]:
    """`rows`, each duration (timedelta) as `_duration_cell` reads it."""
    return [[_duration_cell(v) if v.__class__ is timedelta else v for v in line]
            if any(v.__class__ is timedelta for v in line) else line for line in rows]


def _officejs_cell(text: str) -> Any:
    error = _ERROR_OF.get(text)
    if error is not None:
        return error
    value = officejs_date(text) if len(text) == 24 else None
    if value is None:
        return text
    return value.date() if isinstance(value, datetime) and value.time() == time(0) else value


def _panicked(exc: BaseException) -> bool:
    """Whether calamine panicked: pyo3 raises a `PanicException`, a BaseException (not importable) that an
    `except Exception` lets through — up to the user as a traceback, or out of a batch's worker, which it
    stopped. One not foreseen (`_far_negatives`) is then said as any sheet calamine cannot read."""
    return exc.__class__.__name__ == "PanicException"


def _clean(v: Any) -> Any:
    """A calamine value as the reader gives it: "" (empty cell) → None, a non-finite number → #NUM!."""
    if v == "":
        return None
    return _NUM_ERROR if v.__class__ is float and (v != v or v in _INFINITIES) else v


# ----------------------------------------------------------------------- the source
class FileSource:
    """`source.Source` over an .xlsx/.xlsm file. Raises `UnreadableWorkbook` on anything else.

    Use as a context manager (or call `close()`): the zip and calamine hold the file open.
    """

    def __init__(self, path: str | Path, data: bytes | None = None):
        """`data`: the file's content, when the caller has read it already (`_open_zip`)."""
        self.path = Path(path)
        self._zip, self._data = _open_zip(self.path, light=True, data=data)
        self._cal = None
        self._cal_file = None
        self._opx = None
        self._opx_file = None
        self._tables: dict[str, _TableInfo] | None = None
        self._sst: bytes | None = None
        self._sst_iso: bool | None = None  # whether they may hold a text in the add-in's date form
        self._durations = False  # whether the styles hold a duration format (`_DURATION_FORMAT`)
        self._sst_max: int | None = None  # bytes of the longest shared string (None: not read yet)
        self._sst_exact = True  # whether `_sst_max` is the exact length, not a bound (`_longest_shared_string`)
        self._bound_cells = 0  # cells counted at `_sst_max` each while it is a bound
        self._text_used = 0  # characters of shared strings the sheets read so far materialise
        # parts inflated and checked before calamine opens the package (by local header's offset):
        # handed to it stored (`zip_guard.repack`), so that it parses them without inflating them again
        # (None: none kept — a file read from the disk, calamine already open, or past `_REPACK_MAX`)
        self._checked: dict[int, bytes] | None = {} if self._data is not None else None
        self._checked_bytes = 0
        self._prefetched: dict[str, bytes] = {}  # sheets inflated for calamine, not yet scanned
        self._merges: dict[str, bool] = {}  # sheet part → whether "mergeCell" occurs in it
        try:
            self._largest_part = _check_sizes(self.path, self._zip)
            self._names_map = {n.lower(): n for n in self._zip.namelist()}
            self._read_structure()
        except UnreadableWorkbook:
            self.close()
            raise
        except (zipfile.BadZipFile, ET.ParseError, expat.ExpatError, EOFError, OSError, ValueError, KeyError,
                NotImplementedError, RuntimeError, UnicodeDecodeError):
            self.close()
            raise _unreadable(self.path, "est endommagé : sa structure interne est illisible.") from None

    # -- lifecycle
    def close(self) -> None:
        if self._cal is not None:
            try:
                self._cal.close()
            except Exception:  # noqa: BLE001 - closing must never fail the caller
                pass
            self._cal = None
        if self._opx is not None:
            self._opx.close()
            self._opx = None
        for fh in (self._cal_file, self._opx_file):
            if fh is not None:
                fh.close()
        self._cal_file = self._opx_file = None
        self._zip.close()
        self._data = self._checked = None
        self._prefetched = {}

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- zip parts
    def _part(self, name: str) -> str | None:
        # nearly every name asked is already in lower case, without "/" first (a key as it is)
        return self._names_map.get(name) or self._names_map.get(name.lower().lstrip("/"))

    def _read(self, name: str, limit: int | None = None, what: str | None = None, memo: bool = False) -> bytes:
        """A part's bytes under guard (`_inflate`), refused with a DTD; `what` names it for the user
        (« la feuille « Projet » »), else its name in the zip."""
        real = self._part(name)
        if real is None:
            raise KeyError(name)
        info = self._zip.getinfo(real)
        if limit is not None and info.file_size > limit:
            raise ValueError(f"{name} trop grand")
        return self._no_dtd(self._inflate(info, what, memo), name, what, memo)

    def _no_dtd(self, data: bytes, name: str, what: str | None, memo: bool = False) -> bytes:
        # no entity expansion in a workbook part: a DTD may follow a comment of any length, so the
        # whole prolog is walked (`zip_guard.has_dtd`)
        if zip_guard.has_dtd(data, memo):
            raise _unreadable(self.path, f"contient une déclaration de type de document (DTD) dans "
                              f"{what or '« ' + name + ' »'}, "
                              "qu'Excel n'écrit jamais : il n'est pas lu par sécurité.")
        return data

    def _inflate(self, info: zipfile.ZipInfo | zip_guard.Entry, what: str | None = None, memo: bool = False) -> bytes:
        """The part's bytes, never inflated past its declared size, CRC checked (`zip_guard`): a part
        that disagrees with the zip's directory is refused (STR-01), never read again in full."""
        try:
            if self._data is not None:
                data = zip_guard.inflate(info, self._data, memo=memo)
                if self._checked is not None:
                    self._checked_bytes += len(data)
                    if self._checked_bytes > _REPACK_MAX:  # calamine then reads the package as it is
                        self._checked = None
                    else:
                        self._checked[info.header_offset] = data
                return data
            with self.path.open("rb") as fh:  # a file above _IN_MEMORY_MAX: read from the disk
                return zip_guard.inflate(info, fh=fh)
        except zip_guard.PartRefused as exc:
            what = what or f"son élément interne « {info.filename} »"
            raise _unreadable(self.path, f"est endommagé : {what} {exc}.") from None

    def _not_a_workbook(self) -> UnreadableWorkbook:
        """A zip that is no workbook: workbooks zipped (a convention sent so) are said to be in it."""
        if file_kinds.holds_workbooks(list(self._names_map.values())):
            return _unreadable(self.path, f"est {file_kinds.ZIP_OF_WORKBOOKS}, pas un classeur.",
                               "Extrayez les classeurs de l'archive (clic droit › Extraire tout…), puis indiquez-les, "
                               "ou le dossier où ils sont extraits.")
        return _unreadable(self.path, f"est {file_kinds.ZIP}.", "Utilisez le classeur ACV, au format .xlsx.")

    def _rels(self, part: str) -> list[tuple[str, str, str]]:
        """(Id, Type, resolved target) of a part's relationships ([] when it has none)."""
        folder, rels_name = _rels_name(part)
        if self._part(rels_name) is None:
            return []
        return _relationships(folder, self._read(rels_name, _SMALL_PART, memo=True))

    def _read_structure(self) -> None:
        path = self.path
        if self._part("mimetype") is not None:
            mime = self._read("mimetype", 1024).strip()
            if mime.startswith(b"application/vnd.oasis.opendocument"):
                kind = file_kinds.zip_kind([], mime)
                if kind == file_kinds.ODS:
                    raise _unsupported(
                        path, f"est {kind}, qui n'est pas pris en charge.",
                        "Ouvrez le fichier dans LibreOffice et faites « Enregistrer sous… », "
                        "type « Excel 2007-365 (.xlsx) ».",
                    )
                raise _unreadable(path, f"est {kind}.", "Utilisez le classeur ACV, au format .xlsx.")
        wb_part = None
        if self._part("_rels/.rels") is not None:
            for _id, typ, target in self._rels(""):
                if typ.endswith(_REL_OFFICE_DOCUMENT):
                    wb_part = target
                    break
        if wb_part is None and self._part("xl/workbook.xml") is not None:
            wb_part = "xl/workbook.xml"
        if (wb_part and wb_part.lower().endswith(".bin")) or self._part("xl/workbook.bin") is not None:
            raise _unsupported(path, f"est {file_kinds.XLSB}, qui n'est pas pris en charge.")
        if wb_part and wb_part.lower().startswith(("word/", "ppt/")):
            what = file_kinds.DOCX if wb_part.lower().startswith("word/") else file_kinds.PPTX
            raise _unreadable(path, f"est {what}, pas un classeur Excel.", "Utilisez le classeur ACV, au format .xlsx.")
        if wb_part is None or self._part(wb_part) is None:
            raise self._not_a_workbook()
        self._wb_part = self._part(wb_part)
        # date1904: calamine reads the dates as Excel shows them; said to the user (STR-12), as the add-in does not
        root_tag, sheets, defined, self.full_calc_on_load, self.date1904 = _workbook_entries(
            self._read(self._wb_part, _SMALL_PART, memo=True))
        if root_tag != "workbook":
            raise self._not_a_workbook()
        rels = {rid: (typ, target) for rid, typ, target in self._rels(self._wb_part)}
        self._sheets: list[_Sheet] = []
        for name, rid in sheets:
            typ, target = rels.get(rid or "", ("", None))
            part = self._part(target) if target and typ.endswith(_REL_WORKSHEET) else None
            self._sheets.append(_Sheet(name, part))
        if not self._sheets:
            raise _unreadable(path, "ne contient aucune feuille de calcul.")
        # `_sheet`'s lookups: the first sheet of a name, as a walk through the list would find it
        self._by_name: dict[str, _Sheet] = {}
        self._by_lower_name: dict[str, _Sheet] = {}
        for sheet in self._sheets:
            self._by_name.setdefault(sheet.name, sheet)
            self._by_lower_name.setdefault(sheet.name.lower(), sheet)
        # workbook-level names first; a sheet-level one only when no workbook-level one exists
        self._defined: dict[str, str] = {}
        workbook_level = set()
        for name, local, ref in sorted(defined, key=lambda d: d[1] is not None):
            key = name.lower()
            if key not in self._defined:
                self._defined[key] = ref
                if local is None:
                    workbook_level.add(key)
            elif local is not None and key not in workbook_level and takes_over(key, self._defined[key], ref):
                self._defined[key] = ref  # on two sheets: the template's sheet's
        self._side_targets = [(typ, target) for typ, target in rels.values()
                              if typ.endswith((_REL_SHARED_STRINGS, _REL_STYLES))]

    # -- Source protocol
    def sheet_names(self) -> list[str]:
        return [s.name for s in self._sheets]

    def named(self, name: str) -> tuple[str, str, Any] | None:
        ref = self._defined.get(name.lower())
        if not ref or "!" not in ref or "#REF!" in ref.upper():
            return None  # a deleted target, a constant or a formula is not a cell
        sheet_name, addr = split_sheet_ref(ref)
        try:
            r1, c1, _r2, _c2 = parse_range(addr)
        except ValueError:
            return None
        sheet = self._sheet(sheet_name)
        if sheet is None:
            return None
        return sheet.name, a1(r1, c1), self._value(sheet, r1, c1)

    def table_names(self) -> list[str]:
        """The names of every table of the workbook, ours or not (`acv-xl migrer` looks for a
        renamed one by its headers)."""
        return sorted({info.name for info in self._table_index().values()})

    def table(self, name: str) -> TableBlock | None:
        info = self._table_index().get(name.lower())
        if info is None:
            return None
        sheet = self._sheet(info.sheet)
        r1, c1, r2, c2 = parse_range(info.ref)
        header_row = r1 if info.header_rows else r1 - 1
        last_data = max(r2 - info.totals_rows, header_row)
        read_to = header_to = c2  # the last column read (of the header row)
        if (last_data - header_row + 1) * (c2 - c1 + 1) > MAX_TABLE_CELLS:
            # a table stretched down to row 1,048,576: its rows past the sheet's last value are empty
            self._load(sheet)
            last_data = max(min(last_data, sheet.extent[0]), header_row)
            # its columns past the sheet's last one hold nothing: counted, read and padded up to it only
            # (A3:XFD1048576 with a line at A60000 padded 60 000 lines to 16 384 cells, a billion, all the
            # memory); its lines are then shorter than its header, as the button gives them. The extent
            # may be a bound (ZZ, `_NEAR_BOUND`: 400 lines counted 702 columns each, refused where the
            # button read them): calamine's grid has the exact width
            last_col = sheet.extent[1] if sheet.sparse or sheet.overrides else max(map(len, sheet.grid), default=0)
            read_to = header_to = max(min(c2, last_col), c1)
            width = read_to - c1 + 1
            lines, counted = last_data - header_row, True
            if lines * width > MAX_TABLE_CELLS:
                # the extent may be a bound (`_NEAR_BOUND`) or a note far below: the lines that hold
                # something are what the reader turns into models and findings, as wide as their data or
                # the headers the user gave — a table Excel resized to XFD names each of its columns
                # (« Colonne11 »…) in its header row, which made every line 16 384 cells wide. Counted
                # in the grid when there is one of plain values, else in the sheet's XML (read region by
                # region: the grid would be too large)
                grid = not sheet.sparse and bool(sheet.grid) and not sheet.overrides
                filled, end = (filled_extent(sheet.grid[header_row: last_data], max(c1, 1) - 1, read_to) if grid
                               else self._filled_extent(sheet, header_row + 1, last_data, max(c1, 1), read_to))
                head = self._region(sheet, header_row, header_row, c1, read_to)[0] if info.header_rows else info.columns
                read_to = max(min(read_to, max(end, c1 - 1 + named_width(head))), c1)
                width = read_to - c1 + 1
                lines, counted = table_lines(sheet.extent[0] * sheet.extent[1], lines, filled, width)
            if (problem := table_too_large(self.path.name, info.name, info.ref, lines, width, counted)) is not None:
                raise problem
        cells = self._region(sheet, header_row, last_data, c1, read_to)
        if header_to > read_to and info.header_rows:  # its lines narrowed to their data, its header kept whole
            cells[0] = head
        header = []
        for j, text in enumerate((cells[0] + [None] * (c2 - header_to)) if info.header_rows else [None] * (c2 - c1 + 1)):
            if not isinstance(text, str) or not text.strip():
                text = info.columns[j] if j < len(info.columns) else ""
            header.append(text)
        rows = cells[1:]
        merged = []
        for ref in sheet.merged:
            try:
                m1, mc1, m2, mc2 = parse_range(ref)
            except ValueError:
                continue
            if m1 <= r2 and m2 >= r1 and mc1 <= c2 and mc2 >= c1:
                merged.append(ref)
        return TableBlock(info.name, sheet.name, header_row, c1, header, rows, merged, end_row=r2)

    def longest_text(self) -> int:
        """A bound above the length of every text this source gives (a cell's value, a formula): each is
        read from one part of the package — its sheet, the shared strings — as its part's size allows
        (checked when inflated: `zip_guard.inflate`), where a character takes one byte at least (an
        entity, an `_x000D_` escape, UTF-16 more); an error's text is a few characters. STR-10 needs no
        walk over every value when no part could hold a text longer than a cell's (the common case)."""
        return self._largest_part

    def extent(self, sheet_name: str) -> tuple[int, int]:
        """(last row, last column) holding something on that sheet ((0, 0) for none)."""
        sheet = self._sheet(sheet_name)
        if sheet is None:
            return 0, 0
        self._load(sheet)
        return sheet.extent

    def occupied(self, sheet_name: str, r1: int, r2: int, c1: int, c2: int) -> list[tuple[int, int, Any]]:
        """`source.Source.occupied`: from the grid already loaded for the tables, clipped to the
        sheet's extent (nothing past it is read: a template's margins cost nothing)."""
        sheet = self._sheet(sheet_name)
        if sheet is None:
            return []
        self._load(sheet)
        r1, c1 = max(r1, 1), max(c1, 1)
        r2, c2 = min(r2, sheet.extent[0]), min(c2, sheet.extent[1])
        if r1 > r2 or c1 > c2:
            return []
        out = []
        if not sheet.sparse and not sheet.overrides:
            # nearly always: the grid's own values, no row built (stray_cells asks some twenty
            # times a file, mostly about blank rows); the same filter as below, after `_clean`
            grid = sheet.grid
            lines = grid[r1 - 1: r2]
            if not lines or max(map(len, lines)) < c1:
                return out  # past the grid's last row or column (the rows below and the column right of
                # most tables: the grid ends with them), told in C
            if c1 == c2:
                # one column within the grid (between two tables): its cells fetched in C, and nothing
                # more done when all are empty
                try:
                    column = list(map(itemgetter(c1 - 1), lines))
                except IndexError:  # a row shorter than the others (none from calamine): row by row
                    column = None
                if column is not None and column.count("") == len(column):
                    return out
            for r in range(r1, min(r2, len(grid)) + 1):
                line = grid[r - 1][c1 - 1: c2]
                if line.count("") == len(line):
                    continue  # a blank row (nearly every one asked), told in C
                for c, v in enumerate(line, c1):
                    if v == "" or v is None:
                        continue
                    v = _clean(v)
                    if not (v.__class__ is str and not v.strip()):
                        out.append((r, c, v))
            return out
        for r, line in zip(range(r1, r2 + 1), self._region(sheet, r1, r2, c1, c2)):
            for c, v in enumerate(line, c1):
                if v is not None and not (v.__class__ is str and not v.strip()):
                    out.append((r, c, v))
        return out

    def column_values(self, sheet_name: str, col: int, max_rows: int = 1000) -> list[Any]:
        """Raw values of one column of a sheet, down to its last filled row (at most `max_rows`):
        how the hidden snapshot sheet is read (`snapshot.read_cells`)."""
        sheet = self._sheet(sheet_name)
        if sheet is None:
            return []
        self._load(sheet)
        last = min(sheet.extent[0], max_rows)
        return [line[0] for line in self._region(sheet, 1, last, col, col)] if last else []

    # -- internals
    def _sheet(self, name: str) -> _Sheet | None:
        found = self._by_name.get(name)
        if found is None:  # Excel sheet names are case-insensitive
            found = self._by_lower_name.get(name.lower())
        return found

    def _table_index(self) -> dict[str, _TableInfo]:
        if self._tables is not None:
            return self._tables
        index: dict[str, _TableInfo] = {}
        try:
            for sheet in self._sheets:
                if sheet.part is None:
                    continue
                for _id, typ, target in self._rels(sheet.part):
                    if not typ.endswith(_REL_TABLE) or self._part(target) is None:
                        continue
                    entry = _table_entry(self._read(target, _SMALL_PART, memo=True))
                    if not entry:
                        continue  # a table without a usable range is as good as missing
                    display, name, ref, header_rows, totals_rows, columns = entry
                    info = _TableInfo(display, sheet.name, ref, header_rows, totals_rows, list(columns))
                    for key in {display.lower(), name.lower()} - {""}:
                        index.setdefault(key, info)
        except (zipfile.BadZipFile, expat.ExpatError, EOFError, OSError, ValueError, KeyError, NotImplementedError,
                RuntimeError, UnicodeDecodeError):
            raise _unreadable(self.path, "est endommagé : la description de ses tableaux est illisible.") from None
        self._tables = index
        return index

    def _calamine(self):
        if self._cal is None:
            from python_calamine import CalamineWorkbook

            self._check_side_parts()
            try:
                # from a file object, calamine decides the format by content, not by extension;
                # the bytes in memory are the ones checked above (and spare reopening the file)
                if self._data is not None:
                    self._prefetch_sheets()
                    checked, self._checked = self._checked, None
                    repacked = zip_guard.repack(self._for_calamine(), self._data, checked,
                                                self._arranged(checked)) if checked else None
                    self._cal_file = io.BytesIO(repacked or self._data)
                else:
                    self._cal_file = self.path.open("rb")
                self._cal = CalamineWorkbook.from_filelike(self._cal_file)
            except Exception:  # noqa: BLE001 - calamine raises its own error types; the message is ours
                raise _unreadable(self.path, "est endommagé : ses données ne peuvent pas être lues.") from None
        return self._cal

    def _for_calamine(self) -> list[zipfile.ZipInfo | zip_guard.Entry]:
        """The parts of the package handed to calamine: all but those it never opens (`_NOT_FOR_CALAMINE`),
        unless the workbook names one as a sheet."""
        sheets = {s.part for s in self._sheets}
        return [info for info in self._zip.infolist()
                if info.filename in sheets or not _not_for_calamine(info.filename)]

    def _arranged(self, checked: dict[int, bytes]) -> dict[int, bytes]:
        """The sheets among the parts `checked` (by offset) arranged so that calamine parses their
        cells once (`calamine_sheet.arranged`; a sheet it cannot arrange is handed as it is)."""
        out = {}
        for sheet in self._sheets:
            if sheet.part is None:
                continue
            offset = self._zip.getinfo(sheet.part).header_offset
            xml = checked.get(offset)
            if xml is not None and offset not in out:
                found = calamine_sheet.arranged(xml, self._merged_cells(sheet.part, xml))
                if found is not None:
                    out[offset] = found
        return out

    def _merged_cells(self, part: str, xml: bytes) -> bool:
        """Whether "mergeCell" occurs in a sheet's XML, searched once for `_arranged` and `_load`
        (`rfind`: twice as fast as `in` when it is absent, as nearly always)."""
        found = self._merges.get(part)
        if found is None:
            found = self._merges[part] = xml.rfind(b"mergeCell") >= 0
        return found

    def _prefetch_sheets(self) -> None:
        """Inflate, before calamine opens the package, the sheets the reader will ask of it: those
        holding a table or a defined name, within `_REPACK_MAX`. A sheet refused here is simply left
        out (`_load` refuses it, with the same message, when it is read — if it is)."""
        if self._checked is None:
            return
        budget = _REPACK_MAX - self._checked_bytes
        wanted = {info.sheet.lower() for info in (self._tables or {}).values()}
        for ref in self._defined.values():
            if "!" in ref:
                wanted.add(split_sheet_ref(ref)[0].lower())
        for sheet in self._sheets:
            if sheet.part is None or sheet.grid is not None or sheet.name.lower() not in wanted \
                    or sheet.part in self._prefetched:
                continue
            info = self._zip.getinfo(sheet.part)
            if info.header_offset in self._checked or info.file_size > budget:
                continue
            budget -= info.file_size
            try:
                self._prefetched[sheet.part] = self._inflate(info)
            except UnreadableWorkbook:
                pass
            if self._checked is None:
                return

    def _check_side_parts(self) -> None:
        """Shared strings and styles, which calamine (or openpyxl) parses itself: inflated here first,
        under the same guard as every part (size, CRC, no DTD), and the longest shared string noted
        for the text budget (`_check_text`)."""
        if self._sst_max is not None:
            return
        self._sst_max = 0
        for typ, target in self._side_targets:
            if self._part(target) is None:
                continue
            # the styles are the template's; the shared strings hold each workbook's own text
            data = self._read(target, MAX_PART_BYTES, memo=typ.endswith(_REL_STYLES))
            if typ.endswith(_REL_STYLES):
                self._durations = _holds_duration_format(data)
            elif typ.endswith(_REL_SHARED_STRINGS):
                _check_unique_count(self.path, data)
                self._sst = data
                self._sst_max, self._sst_exact = _longest_shared_string(data)

    def _check_text(self, sheet: _Sheet, xml: bytes) -> None:
        """Cap the text a reader will materialise: calamine copies a shared string into every cell
        that references it, so 2,000 references to a 1 MiB string make 4 GB from a 50 KB file."""
        self._check_side_parts()
        # bounds first, nearly always far below the budget: a cell citing a shared string takes
        # at least 20 bytes of XML (`<c r="A1" t="s"><v>0</v></c>`), each cites the longest at most
        cells = len(xml) // 20
        cost = cells * self._sst_max
        if self._text_used + cost > MAX_TEXT_CHARS and not self._sst_exact:
            # the quick bound is not enough: the longest string measured, and the sheets counted so
            # far (all at the bound) counted again with it — as if it had been measured at first
            self._sst_max, self._sst_exact = _longest_shared_string(self._sst or b"", exact=True)
            self._text_used = self._bound_cells * self._sst_max
            cost = cells * self._sst_max
        if self._text_used + cost > MAX_TEXT_CHARS:
            cost = _shared_text_cost(xml, self._sst or b"")
        elif not self._sst_exact:
            self._bound_cells += cells
        self._text_used += cost
        if self._text_used > MAX_TEXT_CHARS:
            raise _unreadable(
                self.path, f"ferait lire plus de {MAX_TEXT_CHARS // 2**20} millions de caractères de texte "
                f"(la feuille « {sheet.name} » répète un même long texte dans de nombreuses cellules) : "
                "il n'est pas lu par sécurité.")

    def _load(self, sheet: _Sheet) -> None:
        if sheet.grid is not None:
            return
        sheet.grid = []
        if sheet.part is None:
            return  # a chart sheet or a dangling reference: no cells
        what = f"la feuille « {sheet.name} »"
        try:
            xml = self._prefetched.pop(sheet.part, None)
            xml = self._read(sheet.part, what=what) if xml is None else self._no_dtd(xml, sheet.part, what)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, NotImplementedError, RuntimeError):
            raise _unreadable(self.path, f"est endommagé : la feuille « {sheet.name} » est illisible.") from None
        try:
            # the span of `<sheetData>` searched once (its `rfind` walks the parts after the cells): most
            # of what `_far_negatives` would cost a sheet
            span = _sheet_data_span(xml)
            (last_row, last_col), sheet.overrides = _scan_sheet(xml, self.full_calc_on_load, span)
            sheet.extent = (last_row, last_col)
            if self._merged_cells(sheet.part, xml):
                sheet.merged = [m.group(1).decode("ascii", "replace") for m in _MERGE.finditer(xml)]
            self._check_text(sheet, xml)
        except _OffGrid as exc:
            ref = str(exc) if len(str(exc)) <= 40 else str(exc)[:40] + "…"
            raise _unreadable(self.path, f"est endommagé : la feuille « {sheet.name} » a une cellule hors de la "
                                         f"grille d'Excel (« {ref} » ; la dernière colonne est XFD).") from None
        sheet.officejs_texts = self._sst_officejs() or _may_hold_officejs_date(xml)
        far = _far_negatives(xml, span)
        del xml
        if last_row * last_col > MAX_GRID_CELLS or far:
            # calamine would allocate the whole grid, or panic on a number: read the regions we need only
            for cell, number in far.items():
                sheet.overrides.setdefault(cell, number)
            sheet.sparse = True
            self._check_side_parts()  # openpyxl parses the shared strings itself: guarded first
            return
        try:
            sheet.grid = self._calamine().get_sheet_by_name(sheet.name).to_python(skip_empty_area=False)
            if sheet.officejs_texts:
                sheet.grid = _officejs_dates(sheet.grid)
            if self._durations:
                sheet.grid = _durations_read(sheet.grid)
        except UnreadableWorkbook:
            raise
        except BaseException as exc:  # noqa: BLE001 - see _calamine; a panic of calamine's (`_panicked`) too
            if not isinstance(exc, Exception) and not _panicked(exc):
                raise
            if isinstance(exc, OverflowError) or any(v.__class__ is ExcelError for v in sheet.overrides.values()):
                # an error calamine does not know (#SPILL!, #CALC!, #BLOCKED!… written as such): the whole
                # file was « endommagé », where the button reads the error (STR-06); read through openpyxl,
                # the error cells as `_scan_sheet` found them. So is a number past 999 999 999 days in a
                # duration cell (« [h]:mm »), which python-calamine cannot make a timedelta: its number
                # kept (`_undatable_numbers`), not openpyxl's « #VALUE! »
                if isinstance(exc, OverflowError):
                    for cell, number in _undatable_numbers(self._read(sheet.part, what=what)).items():
                        sheet.overrides.setdefault(cell, number)
                sheet.grid, sheet.sparse = [], True
                self._check_side_parts()
                return
            raise _unreadable(self.path, f"est endommagé : la feuille « {sheet.name} » est illisible.") from None

    def _filled_extent(self, sheet: _Sheet, r1: int, r2: int, c1: int, c2: int) -> tuple[int, int]:
        """`source.filled_extent` of rows r1..r2 × columns c1..c2 (1-based) from the sheet's XML: for a
        sheet too large for a grid, only when a table would be refused by all its lines. A cell that is
        not a formatted blank holds something (a value, or an empty text at worst: counted, never more
        read than the limit allows)."""
        xml = self._read(sheet.part, what=f"la feuille « {sheet.name} »")
        rows, end = set(), c1 - 1
        for row, col, _attrs, closed, _inner in _iter_cells(xml, with_inner=False):
            if not closed and r1 <= row <= r2 and c1 <= col <= c2:
                rows.add(row)
                end = max(end, col)
        return len(rows), end

    def _openpyxl_rows(self, sheet: _Sheet, r1: int, r2: int, c1: int, c2: int) -> list[list[Any]]:
        """Rows r1..r2, columns c1..c2 through openpyxl's streaming reader, which stops after r2 and
        keeps only the asked columns: the fallback for a sheet whose grid is too large for calamine."""
        try:
            if self._opx is None:
                import openpyxl

                self._opx_file = self.path.open("rb")  # a file object: openpyxl does not judge the extension
                self._opx = openpyxl.load_workbook(self._opx_file, read_only=True, data_only=True)
                if self._sst and b"x005F_" in self._sst:  # nearly never: no second parse
                    # openpyxl drops « x005F_ » from a shared string (Excel's « _x005F_x0041_ » for a typed
                    # « _x0041_ »), which the decoding below would turn into « A »: its strings as written,
                    # decoded once, as calamine does (one list, shared by every sheet of the workbook)
                    self._opx[sheet.name]._shared_strings[:] = _raw_shared_strings(self._sst)
            ws = self._opx[sheet.name]
            with warnings.catch_warnings():  # « Cell B11 is marked as a date but… »: a number `_far_negatives` gives
                warnings.simplefilter("ignore")
                rows = [list(r) for r in ws.iter_rows(min_row=r1, max_row=r2, min_col=c1, max_col=c2, values_only=True)]
        except Exception:  # noqa: BLE001 - openpyxl raises many types; the message is ours
            raise _unreadable(self.path, f"est endommagé : la feuille « {sheet.name} » est illisible.") from None
        for line in rows:
            for j, v in enumerate(line):
                if isinstance(v, datetime) and v.time() == time(0):
                    line[j] = v.date()  # calamine gives a date for a date cell: same raw value either way
                elif v.__class__ is timedelta:
                    line[j] = _duration_cell(v)  # as calamine's grid (`_durations_read`)
                elif v.__class__ is str and "_x" in v:
                    # openpyxl leaves Excel's escapes as written (« _x000D_ » for a carriage return):
                    # calamine and Excel decode them
                    line[j] = _ooxml_unescape(v)
        return _officejs_dates(rows) if sheet.officejs_texts else rows

    def _sst_officejs(self) -> bool:
        """Whether the shared strings may hold a text in the add-in's date form (searched once)."""
        if self._sst_iso is None:
            self._sst_iso = _may_hold_officejs_date(self._sst or b"")
        return self._sst_iso

    def _region(self, sheet: _Sheet | None, r1: int, r2: int, c1: int, c2: int) -> list[list[Any]]:
        """Raw values of rows r1..r2 × columns c1..c2 (1-based); None for an empty cell."""
        width = c2 - c1 + 1
        if sheet is None or r2 < 1 or c2 < 1 or r1 > r2:
            return [[None] * max(width, 0) for _ in range(max(r2 - r1 + 1, 0))]
        self._load(sheet)
        if not sheet.sparse and not sheet.overrides and r1 >= 1 and c1 >= 1:
            # nearly always (a table of our workbooks): slices of the grid, cleaned, padded
            out = []
            for line in sheet.grid[r1 - 1: r2]:
                vals = [None if v == "" else _NUM_ERROR if v.__class__ is float and (v != v or v in _INFINITIES)
                        else v for v in line[c1 - 1: c2]]  # `_clean` inlined, as below
                if len(vals) < width:
                    vals += [None] * (width - len(vals))
                out.append(vals)
            out += [[None] * width for _ in range(r2 - r1 + 1 - len(out))]
            return out
        if sheet.sparse:
            lines = self._openpyxl_rows(sheet, max(r1, 1), r2, max(c1, 1), c2)
            lines = [[None] * (max(c1, 1) - c1) + line for line in lines]
            lines = [[None] * width for _ in range(max(r1, 1) - r1)] + lines
        else:
            grid = sheet.grid
            lines = [grid[r - 1][max(c1, 1) - 1: c2] if 1 <= r <= len(grid) else [] for r in range(r1, r2 + 1)]
            if c1 < 1:
                lines = [[None] * (1 - c1) + line for line in lines]
        out = []
        for r, line in zip(range(r1, r2 + 1), lines + [[]] * (r2 - r1 + 1 - len(lines))):
            vals = [None if v == "" else _NUM_ERROR if v.__class__ is float and (v != v or v in _INFINITIES) else v
                    for v in line[:width]]  # `_clean` inlined: the loop over every cell of every table
            vals += [None] * (width - len(vals))
            if sheet.overrides:
                for c in range(c1, c2 + 1):
                    special = sheet.overrides.get((r, c))
                    if special is not None:
                        vals[c - c1] = special
            out.append(vals)
        return out

    def _value(self, sheet: _Sheet | None, row: int, col: int) -> Any:
        """`_region` of one cell, without building its rows (16 named cells a file)."""
        if sheet is None or row < 1 or col < 1:
            return None
        self._load(sheet)
        if sheet.sparse:
            return self._region(sheet, row, row, col, col)[0][0]
        special = sheet.overrides.get((row, col))
        if special is not None:
            return special
        grid = sheet.grid
        line = grid[row - 1] if row <= len(grid) else ()
        return _clean(line[col - 1]) if col <= len(line) else None
