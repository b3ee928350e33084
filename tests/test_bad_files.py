"""Every unreadable or foreign file gives `UnreadableWorkbook` (STR-01/STR-02), fast, with bounded memory."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import time
import tracemalloc
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import olefile
from msoffcrypto.format.ooxml import OOXMLFile
import pytest
from _read_workbooks import Err, Formula, build, default_names, rewrite_part, sheet_part, table_from_layout

from acv_xl.contract import layout
from acv_xl.reading import source_file
from acv_xl.reading.errors import SAVE_AS_XLSX, UnreadableWorkbook
from acv_xl.reading.read import read_file
from acv_xl.contract.values import ExcelError, NoCachedValue

FIN = layout.T_FINANCEMENTS
SHEET_PART = sheet_part(FIN.sheet)  # as XlsxWriter numbers them


# --------------------------------------------------------------------------- file factories
def _valid(path: Path) -> Path:
    rows = [{"numero": "1.1", "financeur": "ETAT", "nature": "Subvention", "annee": 2024, "montant": 1000.0,
             "statut": "Acquis"}]
    tables = [table_from_layout(t, rows if t is FIN else []) for t in layout.TABLES]
    return build(path, tables, default_names())


def _cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal compound file (CFB v3, 512-byte sectors): a FAT sector, a directory sector, then
    each stream in whole sectors (streams ≥ 4096 bytes, so no mini stream is needed)."""
    ssz, end, free, fatsect = 512, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    names = list(streams)
    assert len(names) <= 3 and all(len(d) >= 4096 for d in streams.values())
    fat = [fatsect, end]  # sector 0: the FAT; sector 1: the directory
    starts, data = [], b""
    for name in names:
        body = streams[name] + b"\0" * (-len(streams[name]) % ssz)
        n = len(body) // ssz
        starts.append(len(fat))
        fat += [len(fat) + i + 1 for i in range(n - 1)] + [end]
        data += body
    assert len(fat) <= ssz // 4
    fat += [free] * (ssz // 4 - len(fat))

    def entry(name: str, typ: int, child: int, right: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBB3I", len(raw), typ, 1, free, right, child)
                + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<IQ", start, size))

    entries = [entry("Root Entry", 5, 1 if names else free, free, end, 0)]
    for k, name in enumerate(names):
        right = k + 2 if k + 1 < len(names) else free
        entries.append(entry(name, 2, free, right, starts[k], len(streams[name])))
    directory = b"".join(entries).ljust(ssz, b"\0")
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
              + struct.pack("<I", 0) + struct.pack("<108I", *[free] * 108))
    assert len(header) == 512
    return header + struct.pack(f"<{ssz // 4}I", *fat) + directory + data


def _zip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def make_empty(d: Path) -> Path:
    (p := d / "vide.xlsx").write_bytes(b"")
    return p


def make_random(d: Path) -> Path:
    import random

    (p := d / "aleatoire.xlsx").write_bytes(random.Random(7).randbytes(50_000))
    return p


def make_truncated(d: Path) -> Path:
    data = _valid(d / "entier.xlsx").read_bytes()
    (p := d / "tronque.xlsx").write_bytes(data[: len(data) // 2])
    return p


def make_truncated_end(d: Path) -> Path:
    data = _valid(d / "entier2.xlsx").read_bytes()
    (p := d / "fin_coupee.xlsx").write_bytes(data[:-30])  # the end of the central directory is gone
    return p


def make_csv(d: Path) -> Path:
    (p := d / "export.xlsx").write_text("N° action;Financeur;Montant (€)\n1.1;ETAT;12000\n", encoding="utf-8")
    return p


def make_unicode_text(d: Path) -> Path:
    (p := d / "texte_unicode.xlsx").write_bytes("N° action\tMontant (€)\r\n1.1\t12000\r\n".encode("utf-16"))
    return p


def make_html(d: Path) -> Path:
    (p := d / "page.xlsx").write_text("<html><body><table><tr><td>1</td></tr></table></body></html>")
    return p


def make_pdf(d: Path) -> Path:
    (p := d / "annexe.xlsx").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    return p


def make_plain_zip(d: Path) -> Path:
    return _zip(d / "archive.xlsx", {"lisezmoi.txt": b"bonjour", "donnees/a.csv": b"a;b\n"})


def make_docx(d: Path) -> Path:
    rels = (b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'officeDocument" Target="word/document.xml"/></Relationships>')
    return _zip(d / "note.xlsx", {"[Content_Types].xml": b"<Types/>", "_rels/.rels": rels,
                                  "word/document.xml": b"<w:document/>"})


def make_xls(d: Path) -> Path:
    (p := d / "ancien.xls").write_bytes(_cfb({"Workbook": b"\x09\x08" + bytes(4094), "\x05SummaryInformation": bytes(4096)}))
    return p


def make_xls_renamed(d: Path) -> Path:
    (p := d / "ancien_renomme.xlsx").write_bytes(_cfb({"Workbook": bytes(8192)}))
    return p


def make_protected(d: Path) -> Path:
    plain = _valid(d / "clair.xlsx")
    out = io.BytesIO()
    with plain.open("rb") as f:
        OOXMLFile(f).encrypt("secret", out)
    (p := d / "protege.xlsx").write_bytes(out.getvalue())
    return p


def make_xlsb(d: Path) -> Path:
    rels = (b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'officeDocument" Target="xl/workbook.bin"/></Relationships>')
    return _zip(d / "binaire.xlsb", {"[Content_Types].xml": b"<Types/>", "_rels/.rels": rels,
                                     "xl/workbook.bin": b"\x83\x01\x00", "xl/worksheets/sheet1.bin": b"\x81\x01"})


def make_ods(d: Path) -> Path:
    p = d / "libre.ods"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
    return p


def make_xml2003(d: Path) -> Path:
    (p := d / "xml2003.xlsx").write_text('<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
                                         '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>')
    return p


def make_broken_sheet(d: Path) -> Path:
    p = _valid(d / "feuille_cassee.xlsx")
    part = sheet_part(FIN.sheet)
    rewrite_part(p, part, lambda x: x[: len(x) // 2])  # the sheet's XML stops mid-element
    return p


def make_broken_workbook_xml(d: Path) -> Path:
    p = _valid(d / "structure_cassee.xlsx")
    rewrite_part(p, "xl/workbook.xml", lambda x: b"<workbook><sheets><sheet name=")
    return p


def make_missing(d: Path) -> Path:
    return d / "inexistant.xlsx"


def make_broken_link(d: Path) -> Path:
    """A symbolic link whose target is gone (a commune's folder moved, a share not mounted): `ls` lists
    it, so « introuvable » sent the user looking for a typo."""
    (p := d / "lien.xlsx").symlink_to(d / "ailleurs" / "arras.xlsx")
    return p


def make_folder(d: Path) -> Path:
    (p := d / "dossier.xlsx").mkdir()
    return p


def make_fifo(d: Path) -> Path:
    """A named pipe given as a workbook: refused before it is opened (opening it would wait for a
    writer forever), and not called « vide (0 octet) » — a device or a pipe has no size."""
    os.mkfifo(p := d / "tube.xlsx")
    return p


SUGG_PASSWORD = ("Ouvrez-le dans Excel avec son mot de passe, retirez la protection (Fichier › Informations › "
                 "Protéger le classeur › Chiffrer avec mot de passe : effacez le mot de passe), puis enregistrez-le.")
SUGG_ODS = "Ouvrez le fichier dans LibreOffice et faites « Enregistrer sous… », type « Excel 2007-365 (.xlsx) »."

CORPUS = [
    # (factory, code, words the French message must contain)
    (make_empty, "STR-01", "vide"),
    (make_random, "STR-01", "pas un classeur Excel"),
    (make_truncated, "STR-01", "endommagé"),
    (make_truncated_end, "STR-01", "endommagé"),
    (make_csv, "STR-01", "CSV"),
    (make_unicode_text, "STR-01", "CSV"),
    (make_html, "STR-01", "HTML"),
    (make_pdf, "STR-01", "PDF"),
    (make_plain_zip, "STR-01", "ne contient pas de classeur Excel"),
    (make_docx, "STR-01", "document Word"),
    (make_xls, "STR-02", "format .xls"),
    (make_xls_renamed, "STR-02", "format .xls"),
    (make_protected, "STR-02", "protégé par un mot de passe"),
    (make_xlsb, "STR-02", ".xlsb"),
    (make_ods, "STR-02", ".ods"),
    (make_xml2003, "STR-02", "XML 2003"),
    (make_broken_sheet, "STR-01", "endommagé"),
    (make_broken_workbook_xml, "STR-01", "endommagé"),
    (make_missing, "STR-01", "introuvable"),
    (make_broken_link, "STR-01", "est un lien symbolique dont la cible est introuvable"),
    (make_folder, "STR-01", "dossier"),
    (make_fifo, "STR-01", "pas un fichier ordinaire"),
]


@pytest.mark.parametrize("factory,code,words", CORPUS, ids=[f[0].__name__[5:] for f in CORPUS])
def test_bad_file_is_refused_with_a_typed_french_error(tmp_path, factory, code, words):
    path = factory(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    t0 = time.thread_time()
    with pytest.raises(UnreadableWorkbook) as exc:
        read_file(path)
    elapsed = time.thread_time() - t0
    err = exc.value
    assert err.code == code
    assert words in err.message
    assert path.name in err.message or str(path) in err.message
    assert err.suggestion
    if code == "STR-02":  # the way out suits the format: no « Enregistrer sous » for a password
        assert err.suggestion == {"protected": SUGG_PASSWORD, "ods": SUGG_ODS}.get(factory.__name__[5:], SAVE_AS_XLSX)
    assert elapsed < 2.0
    if before is not None:
        assert path.read_bytes() == before  # never altered


def test_the_cfb_factory_makes_real_compound_files(tmp_path):
    """The .xls stand-in is a valid CFB for an independent reader (olefile), and the encrypted
    workbook holds the streams Office writes."""
    assert sorted(olefile.OleFileIO(str(make_xls(tmp_path))).listdir()) == [["\x05SummaryInformation"], ["Workbook"]]
    ole = olefile.OleFileIO(str(make_protected(tmp_path)))
    assert ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage")


def test_decided_by_content_not_extension(tmp_path):
    good = _valid(tmp_path / "bon.xlsx")
    for name in ("bon.xlsm", "bon.xls", "bon"):
        shutil.copy(good, tmp_path / name)
        conv = read_file(tmp_path / name)
        assert conv.financements[0].montant == 1000
    # and a protected workbook named .xls is still said to be protected, not an .xls
    prot = make_protected(tmp_path)
    shutil.copy(prot, tmp_path / "protege.xls")
    with pytest.raises(UnreadableWorkbook, match="mot de passe"):
        read_file(tmp_path / "protege.xls")


# --------------------------------------------------------------------------- size limits
@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """An .xlsx whose sheet inflates to 1 GiB of zeros (4.6 MB on disk)."""
    p = tmp_path_factory.mktemp("bomb") / "bombe.xlsx"
    good = _valid(tmp_path_factory.mktemp("src") / "v.xlsx")
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for info in zin.infolist():
            if info.filename != SHEET_PART:
                z.writestr(info, zin.read(info.filename))
        with z.open(SHEET_PART, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(1024):
                f.write(chunk)
    return p


def _refused_with_bounded_memory(path: Path, words: str) -> None:
    tracemalloc.start()
    t0 = time.thread_time()
    try:
        with pytest.raises(UnreadableWorkbook) as exc:
            read_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exc.value.code == "STR-01"
    assert words in exc.value.message
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} Mo alloués"
    assert time.thread_time() - t0 < 2.0


def test_decompression_bomb_is_refused_without_inflating(bomb):
    assert zipfile.ZipFile(bomb).getinfo(SHEET_PART).file_size == 2**30
    _refused_with_bounded_memory(bomb, "1024 Mo une fois décompressé")


def test_highly_compressible_part_under_the_size_limit_is_refused(tmp_path):
    p = tmp_path / "ratio.xlsx"
    good = _valid(tmp_path / "v.xlsx")
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            z.writestr(info, zin.read(info.filename))
        z.writestr("xl/media/image1.png", bytes(60 * 2**20))  # 60 MB of zeros: ~1000:1
    _refused_with_bounded_memory(p, "anormalement compressible")


@pytest.mark.parametrize("second", ["same", "other case"])
def test_a_part_held_twice_is_refused_whichever_is_read(tmp_path, second):
    """Two entries of one sheet's part, the second with other amounts: zipfile reads the last, another
    reader may read the first — the workbook was read with the second version's amounts, silently.
    Refused as damaged (STR-01), for every reader (the part names compared without case, as the package
    format compares them)."""
    import warnings

    good = _valid(tmp_path / "v.xlsx")
    p = tmp_path / "double.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        for info in zin.infolist():
            z.writestr(info, zin.read(info.filename))
        name = SHEET_PART if second == "same" else SHEET_PART.replace("sheet", "Sheet")
        z.writestr(name, zipfile.ZipFile(good).read(SHEET_PART))
    for read in (read_file, source_file.read_parts):
        with pytest.raises(UnreadableWorkbook) as exc:
            read(p)
        assert exc.value.code == "STR-01" and "y figure deux fois" in exc.value.message


def test_total_size_and_part_count_limits(tmp_path, monkeypatch):
    good = _valid(tmp_path / "v.xlsx")
    total = sum(i.file_size for i in zipfile.ZipFile(good).infolist())
    n = len(zipfile.ZipFile(good).infolist())
    read_file(good)  # within the real limits
    monkeypatch.setattr(source_file, "MAX_TOTAL_BYTES", total - 1)
    with pytest.raises(UnreadableWorkbook, match="une fois décompressé"):
        read_file(good)
    monkeypatch.setattr(source_file, "MAX_TOTAL_BYTES", total)
    read_file(good)
    monkeypatch.setattr(source_file, "MAX_PARTS", n - 1)
    with pytest.raises(UnreadableWorkbook, match="éléments internes"):
        read_file(good)


def _read_with_bounded_memory(path: Path):
    """Read with Python's memory traced (≈ 1 s of CPU here); the time bound catches what Rust
    allocates unseen (calamine's grid of 17 billion cells: minutes, or the machine's memory)."""
    tracemalloc.start()
    t0 = time.thread_time()
    try:
        conv = read_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} Mo alloués"
    assert time.thread_time() - t0 < 10
    return conv


def test_a_value_far_away_is_read_without_a_huge_grid(tmp_path):
    """One value in XFD1048576 would make calamine allocate 17 billion cells: that sheet is read
    region by region instead (openpyxl's streaming reader), and the file is still read."""
    rows = [{"numero": "1.1", "financeur": "ETAT", "nature": "Subvention", "annee": 2024, "montant": Err("#REF!"),
             "statut": "Acquis", "date_demande": date(2024, 5, 2)},
            {"numero": "1.2", "financeur": "CDC", "montant": "12 000 €", "annee": Formula("=2000+24", "")}]
    tables = [table_from_layout(t, rows if t is FIN else []) for t in layout.TABLES]
    p = build(tmp_path / "loin.xlsx", tables, default_names(),
              extra_cells=[(FIN.sheet, "XFD1048576", "oups"), (layout.Sheet.PROJET, "ZZ900000", 1)])
    for attempt in ("with the writer's <dimension>", "without it: the cells themselves are scanned"):
        conv = _read_with_bounded_memory(p)
        a, b = conv.financements
        assert a.raw["montant"] == ExcelError("#REF!") and a.cell("montant") == "F4"
        assert a.raw["date_demande"] == date(2024, 5, 2) and type(a.raw["date_demande"]) is date
        assert a.annee == 2024 and a.statut == "Acquis"
        assert b.problems["montant"].suggestion == Decimal("12000.00")
        assert b.raw["annee"] == NoCachedValue("=2000+24")
        assert conv.acv_id == "ACV123" and conv.value("acv_date_convention") == date(2023, 6, 15)
        for part in (SHEET_PART, sheet_part(layout.Sheet.PROJET)):
            rewrite_part(p, part, lambda x: re.sub(rb"<dimension[^>]*/>", b"", x))
            assert b"<dimension" not in zipfile.ZipFile(p).read(part)


def test_a_table_stretched_to_the_last_row_is_read(tmp_path):
    """A table resized down to row 1,048,576 (whole column selected) holds a few real rows."""
    rows = [{"numero": "1.1", "financeur": "ETAT", "montant": 10.0}, {"numero": "1.2", "financeur": "CDC"}]
    p = build(tmp_path / "etire.xlsx", [table_from_layout(t, rows if t is FIN else []) for t in layout.TABLES],
              default_names())
    part = f"xl/tables/table{[t.name for t in layout.TABLES].index(FIN.name) + 1}.xml"
    rewrite_part(p, part, lambda x: x.replace(b'"A3:J5"', b'"A3:J1048576"'))
    assert zipfile.ZipFile(p).read(part).count(b"A3:J1048576") == 2  # the table and its filter
    conv = _read_with_bounded_memory(p)
    assert [(f.numero, f.row, f.cell("montant")) for f in conv.financements] == [("1.1", 4, "F4"), ("1.2", 5, "F5")]


@pytest.mark.libreoffice
def test_a_real_xls_and_ods_written_by_libreoffice(tmp_path):
    """The sniffing holds on files written by an office suite, not only on the test's own stand-ins."""
    from acv_xl.outputs.libreoffice import convert

    good = _valid(tmp_path / "classeur.xlsx")
    xls, ods = convert([good], "xls", tmp_path / "xls") + convert([good], "ods", tmp_path / "ods")
    assert xls.read_bytes()[:4] == b"\xd0\xcf\x11\xe0"
    for path, words in ((xls, "format .xls"), (ods, ".ods")):
        renamed = path.with_suffix(".xlsx")
        shutil.copy(path, renamed)
        for p in (path, renamed):
            with pytest.raises(UnreadableWorkbook) as exc:
                read_file(p)
            assert exc.value.code == "STR-02" and words in exc.value.message
