"""The annotated copy: findings listed, faulty cells marked, status written, nothing else lost.

The fixture is a small workbook written here with XlsxWriter (independent of the template
module), with what an annotated copy must keep: a button shape with an internal link, tables,
a drop-down, a formula, defined names, a date format. The real template and a faulty example are
checked further down.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
import xlsxwriter

from acv_xl.outputs.formats import FILL_ERREUR
from acv_xl.contract import layout
from acv_xl.outputs.annotate import COMMENT_AUTHOR, FILLS, STATUT_ERREURS, STATUT_VALIDE, AnnotationError, annotate, check_output
from acv_xl.checks.findings import Finding, Gravite
from acv_xl.contract.layout import Sheet
from cpu_time import growth

TODAY = date(2026, 3, 14)
FIN = layout.T_FINANCEMENTS
CTL = layout.T_CONTROLES


# ----------------------------------------------------------------------------- fixture
def _build_fixture(path: Path, vba: bytes | None = None, excel_run: bool = False) -> None:
    """`excel_run`: as left by the Valider button in Excel (cells in its fill, listed in Contrôles),
    plus a user's own cell in Excel's « Insatisfaisant » red, close to ours but not ours."""
    wb = xlsxwriter.Workbook(str(path))
    if vba is not None:
        # XlsxWriter takes the VBA project from a file
        vba_file = path.with_suffix(".bin")
        vba_file.write_bytes(vba)
        wb.add_vba_project(str(vba_file))
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    money = wb.add_format({"num_format": "#,##0.00 €"})
    wrap = wb.add_format({"text_wrap": True})
    sheets = {name: wb.add_worksheet(name) for name in (Sheet.ACCUEIL, Sheet.ACTIONS, Sheet.FINANCEMENT, Sheet.CONTROLES)}

    acc = sheets[Sheet.ACCUEIL]
    acc.write("A1", "Action Cœur de Ville")
    btn = layout.BUTTONS_BY_SCRIPT["valider"]
    r, c = _rc(btn.cell)
    acc.insert_textbox(r, c, btn.caption, {"url": f"internal:{btn.sheet}!{btn.cell}", "width": 120, "height": 30})
    for name in ("acv_version_modele", "acv_statut", "acv_date_validation", "acv_empreinte"):
        nc = layout.NAMED_BY_NAME[name]
        ws = sheets[nc.sheet]
        r, c = _rc(nc.cell)
        ws.write(r, c - 1, nc.label)
        if name == "acv_version_modele":
            ws.write(r, c, layout.TEMPLATE_VERSION)
        elif name == "acv_statut":
            ws.write(r, c, "Non validé")
        elif name == "acv_empreinte":
            ws.write(r, c, "ancienne-empreinte")
        elif name == "acv_date_validation":
            ws.write_blank(r, c, None, date_fmt)
        wb.define_name(name, f"='{nc.sheet}'!${nc.cell[0]}${nc.cell[1:]}")

    fin = sheets[Sheet.FINANCEMENT]
    rows = [
        ["1.1", "ETAT", "DETR", "Subvention", 2024, 120000, "Acquis", None, "ARR-2024-01", ""],
        ["1.1", "COMMUNE", "Autofinancement", "Autofinancement", 2024, "30 000 €", "Prévisionnel", None, "", ""],
        ["1.2", "XYZ", "Autre", "Subvention", 2025, 50000, "Sollicité", None, "", ""],
    ]
    fin.add_table(2, 0, 2 + len(rows) + 1, len(FIN.columns) - 1, {
        "name": FIN.name, "columns": [{"header": h} for h in FIN.headers],
        "data": rows + [["", "", "", "", None, None, "", None, "", ""]]})
    fin.set_column(5, 5, 16, money)
    if excel_run:
        bad = wb.add_format({"num_format": "#,##0.00 €", "bg_color": FILL_ERREUR})
        fin.write_string("F5", "30 000 €", bad)
        fin.write_string("K4", "à revoir", wb.add_format({"bg_color": "#FFC7CE"}))
    nature = FIN.headers.index("Nature")
    fin.data_validation(3, nature, 40, nature, {"validate": "list", "source": list(layout.L.NATURE)})
    fin.write_formula("L3", f"=SUM({FIN.name}[{FIN.header('montant')}])", money, 170000)

    act = sheets[Sheet.ACTIONS]
    act.write_row(2, 0, ["N° action", "Intitulé", "Coût total (€)"])
    act.write_row(3, 0, ["1.1", "Halles", 150000])
    act.write_row(4, 0, ["1.2", "Parvis", 50000])
    act.write_comment("B4", "Note de l'utilisatrice", {"author": "Claire"})

    ctl = sheets[Sheet.CONTROLES]
    ctl.write("A1", "Contrôles")
    previous = [["Erreur", "FIN-03", Sheet.FINANCEMENT, "F5", "1.1", "Montant en texte.", ""]] if excel_run else []
    ctl.add_table(2, 0, 2 + max(len(previous), 1), len(CTL.columns) - 1, {
        "name": CTL.name, "columns": [{"header": h} for h in CTL.headers], "style": "Table Style Light 9",
        **({"data": previous} if previous else {})})
    ctl.set_column(5, 5, 60, wrap)
    wb.close()


def _rc(cell: str) -> tuple[int, int]:
    m = re.fullmatch(r"([A-Z]+)(\d+)", cell)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _finding(code, g, feuille="", cellule="", action="", message="", suggestion=""):
    return Finding(code=code, gravite=g, feuille=feuille, cellule=cellule, action=action,
                   message=message or f"Message de {code}", suggestion=suggestion)


def _report(findings, empreinte="e" * 64):
    """The fields of `validate.Report` that annotate reads."""
    return SimpleNamespace(findings=findings, empreinte=empreinte)


FINDINGS = [
    _finding("FIN-03", Gravite.ERREUR, Sheet.FINANCEMENT, "F5", "1.1",
             "Le montant « 30 000 € » est du texte, pas un nombre.", "30 000,00 €"),
    _finding("FIN-02", Gravite.ERREUR, Sheet.FINANCEMENT, "B6", "1.2", "Le financeur « XYZ » est inconnu."),
    _finding("FIN-05", Gravite.ERREUR, Sheet.ACTIONS, "C4", "1.1", "Plan déséquilibré."),
    _finding("FIN-13", Gravite.AVERTISSEMENT, Sheet.FINANCEMENT, "I6", "1.2", "Sans référence de décision."),
    _finding("FIN-16", Gravite.INFORMATION, Sheet.ACTIONS, "A5", "1.2", "100 % non acquis."),
    _finding("ACT-10", Gravite.AVERTISSEMENT, Sheet.ACTIONS, "B4", "1.1", "Aucun indicateur."),
    _finding("PRJ-03", Gravite.AVERTISSEMENT, "", "", "", "Identifiant mal formé."),
]


@pytest.fixture()
def fixture_xlsx(tmp_path) -> Path:
    p = tmp_path / "classeur.xlsx"
    _build_fixture(p)
    return p


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _fill(cell) -> str | None:
    if cell.fill is None or cell.fill.fill_type != "solid":
        return None
    return (cell.fill.fgColor.rgb or "").upper()


def _controles_rows(path: Path) -> list[tuple]:
    wb = openpyxl.load_workbook(path)
    ws = wb[Sheet.CONTROLES]
    ref = ws.tables[CTL.name].ref
    return [tuple(c.value for c in row) for row in ws[ref]]


# ----------------------------------------------------------------------------- tests
def test_findings_listed_in_controles(fixture_xlsx, tmp_path):
    out = tmp_path / "annote.xlsx"
    annotate(fixture_xlsx, out, _report(FINDINGS), today=TODAY)

    rows = _controles_rows(out)
    assert rows[0] == CTL.headers
    assert len(rows) == 1 + len(FINDINGS)  # the table's ref covers exactly the findings
    for row, f in zip(rows[1:], FINDINGS):
        expected = (f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion)
        assert tuple(v or "" for v in row) == expected

    wb = openpyxl.load_workbook(out)
    ws = wb[Sheet.CONTROLES]
    links = {c.coordinate: c.hyperlink.location for row in ws.iter_rows() for c in row if c.hyperlink}
    col = CTL.headers.index("Cellule") + 1
    assert links == {
        ws.cell(4 + i, col).coordinate: f"'{f.feuille}'!{f.cellule}"
        for i, f in enumerate(FINDINGS) if f.cellule
    }
    # the Message column keeps the template's wrap format
    assert ws.cell(4, CTL.headers.index("Message") + 1).alignment.wrap_text


def test_controles_read_by_calamine(fixture_xlsx, tmp_path):
    from python_calamine import CalamineWorkbook

    out = tmp_path / "annote.xlsx"
    annotate(fixture_xlsx, out, _report(FINDINGS), today=TODAY)
    wb = CalamineWorkbook.from_path(str(out), load_tables=True)
    table = wb.get_table_by_name(CTL.name)
    assert list(table.columns) == list(CTL.headers)
    data = table.to_python()
    assert [r[1] for r in data] == [f.code for f in FINDINGS]
    assert [r[5] for r in data] == [f.message for f in FINDINGS]


def test_faulty_cells_filled_and_noted(fixture_xlsx, tmp_path):
    out = tmp_path / "annote.xlsx"
    annotate(fixture_xlsx, out, _report(FINDINGS), today=TODAY)
    wb = openpyxl.load_workbook(out)
    fin, act = wb[Sheet.FINANCEMENT], wb[Sheet.ACTIONS]

    assert _fill(fin["F5"]) == FILLS[Gravite.ERREUR]
    assert _fill(fin["B6"]) == FILLS[Gravite.ERREUR]
    assert _fill(act["C4"]) == FILLS[Gravite.ERREUR]
    assert _fill(fin["I6"]) == FILLS[Gravite.AVERTISSEMENT]
    assert _fill(act["A5"]) is None  # information: a note only
    assert _fill(fin["F4"]) is None and _fill(fin["B5"]) is None

    assert fin["F5"].comment.author == COMMENT_AUTHOR
    assert "FIN-03" in fin["F5"].comment.text and "Suggestion : 30 000,00 €" in fin["F5"].comment.text
    assert "FIN-05" in act["C4"].comment.text
    assert "FIN-16" in act["A5"].comment.text
    # the amount column's number format survives on the highlighted cell
    assert fin["F5"].number_format == "#,##0.00 €"
    # a user's note is never replaced: the cell is filled, the note stays hers
    assert act["B4"].comment.author == "Claire" and act["B4"].comment.text == "Note de l'utilisatrice"
    assert _fill(act["B4"]) == FILLS[Gravite.AVERTISSEMENT]
    # the values themselves are untouched
    assert fin["F5"].value == "30 000 €" and fin["E4"].value == 2024


def test_second_run_clears_previous_annotations(fixture_xlsx, tmp_path):
    first = tmp_path / "annote1.xlsx"
    annotate(fixture_xlsx, first, _report(FINDINGS), today=TODAY)
    second = tmp_path / "annote2.xlsx"
    remaining = [FINDINGS[1]]  # only the unknown financeur is left
    annotate(first, second, _report(remaining), today=TODAY)

    wb = openpyxl.load_workbook(second)
    fin, act = wb[Sheet.FINANCEMENT], wb[Sheet.ACTIONS]
    assert _fill(fin["B6"]) == FILLS[Gravite.ERREUR] and fin["B6"].comment.author == COMMENT_AUTHOR
    for cell in (fin["F5"], fin["I6"], act["C4"], act["A5"]):
        assert _fill(cell) is None, cell.coordinate
        assert cell.comment is None, cell.coordinate
    assert fin["F5"].number_format == "#,##0.00 €"  # only our fill went away
    assert act["B4"].comment.text == "Note de l'utilisatrice"

    rows = _controles_rows(second)
    assert len(rows) == 2 and rows[1][1] == "FIN-02"
    ws = wb[Sheet.CONTROLES]
    assert [c.coordinate for row in ws.iter_rows() for c in row if c.hyperlink] == ["D4"]
    assert all(ws.cell(r, c).value is None for r in range(5, 12) for c in range(1, 8))

    # a clean third run: no note left anywhere, one empty data row, statut Validé
    third = tmp_path / "annote3.xlsx"
    annotate(second, third, _report([]), today=TODAY)
    with zipfile.ZipFile(third) as z:
        names = z.namelist()
        comments = [n for n in names if re.fullmatch(r"xl/comments\d+\.xml", n)]
        # only the user's note remains, in its own part
        assert len(comments) == 1 and COMMENT_AUTHOR not in _comment_authors_in_use(z.read(comments[0]))
    assert _controles_rows(third)[1:] == [(None,) * len(CTL.columns)]
    wb = openpyxl.load_workbook(third)
    assert wb[Sheet.FINANCEMENT]["B6"].comment is None and _fill(wb[Sheet.FINANCEMENT]["B6"]) is None


def _comment_authors_in_use(xml: bytes) -> set[str]:
    authors = re.findall(rb"<author>([^<]*)</author>", xml)
    used = {int(i) for i in re.findall(rb'authorId="(\d+)"', xml)}
    return {authors[i].decode() for i in used}


def test_status_cells(fixture_xlsx, tmp_path):
    out = tmp_path / "erreurs.xlsx"
    annotate(fixture_xlsx, out, _report(FINDINGS), today=TODAY)
    acc = openpyxl.load_workbook(out)[Sheet.ACCUEIL]
    cell = lambda name: acc[layout.NAMED_BY_NAME[name].cell]  # noqa: E731
    assert cell("acv_statut").value == STATUT_ERREURS == "Erreurs à corriger"
    assert cell("acv_date_validation").value == datetime(2026, 3, 14)
    assert cell("acv_date_validation").is_date
    assert cell("acv_empreinte").value is None  # documented choice: emptied when there are errors

    ok = tmp_path / "valide.xlsx"
    warnings_only = [f for f in FINDINGS if f.gravite is not Gravite.ERREUR]
    annotate(fixture_xlsx, ok, _report(warnings_only, empreinte="ab12" * 16), today=TODAY)
    acc = openpyxl.load_workbook(ok)[Sheet.ACCUEIL]
    assert cell("acv_statut").value == STATUT_VALIDE == "Validé"
    assert cell("acv_empreinte").value == "ab12" * 16
    assert cell("acv_date_validation").number_format.lower() == "dd/mm/yyyy"


def test_shapes_and_everything_else_kept(fixture_xlsx, tmp_path):
    out = tmp_path / "annote.xlsx"
    annotate(fixture_xlsx, out, _report(FINDINGS), today=TODAY)
    btn = layout.BUTTONS_BY_SCRIPT["valider"]

    with zipfile.ZipFile(fixture_xlsx) as z:
        original = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(out) as z:
        copy = {n: z.read(n) for n in z.namelist()}
    # the drawing with the button, its hyperlink relationship, and the link from the Accueil sheet
    drawings = [n for n in copy if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n)]
    assert drawings and all(copy[n] == original[n] for n in drawings)
    assert any(b"<xdr:sp" in copy[n] and b"hlinkClick" in copy[n] for n in drawings)
    rels = [copy[n] for n in copy if n.startswith("xl/drawings/_rels/drawing")]
    assert any(f'/hyperlink" Target="#{btn.sheet}!{btn.cell}"'.encode() in r for r in rels)
    sheet1_rels = copy["xl/worksheets/_rels/sheet1.xml.rels"].decode()
    assert "/drawing" in sheet1_rels and "../drawings/drawing1.xml" in sheet1_rels
    assert re.search(rb"<drawing r:id=\"rId\d+\"/>", copy["xl/worksheets/sheet1.xml"])

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [Sheet.ACCUEIL, Sheet.ACTIONS, Sheet.FINANCEMENT, Sheet.CONTROLES]
    fin = wb[Sheet.FINANCEMENT]
    assert fin.tables[FIN.name].ref == "A3:J7"
    assert [(str(dv.sqref), dv.formula1) for dv in fin.data_validations.dataValidation] == \
        [("D4:D41", '"' + ",".join(layout.L.NATURE) + '"')]
    assert fin["L3"].value == f"=SUM({FIN.name}[{FIN.header('montant')}])"
    assert set(wb.defined_names) >= {"acv_statut", "acv_date_validation", "acv_empreinte", "acv_version_modele"}
    # the cached value of the formula is kept (openpyxl would drop it)
    assert re.search(rb"<f>SUM\(T_Financements\[Montant \(\xe2\x82\xac\)\]\)</f><v>170000</v>", copy["xl/worksheets/sheet3.xml"])
    # the parts that had nothing to change are byte for byte the same
    for n in ("xl/workbook.xml", "xl/tables/table1.xml", "xl/theme/theme1.xml", "docProps/core.xml"):
        assert copy[n] == original[n], n


def test_input_never_modified(fixture_xlsx, tmp_path):
    before = _sha(fixture_xlsx)
    mtime = fixture_xlsx.stat().st_mtime_ns
    annotate(fixture_xlsx, tmp_path / "annote.xlsx", _report(FINDINGS), today=TODAY)
    assert _sha(fixture_xlsx) == before and fixture_xlsx.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annote.xlsx", "classeur.xlsx"]  # no temp file left


@pytest.mark.skipif(os.name != "posix", reason="droits de fichier POSIX")
def test_copy_of_a_read_only_workbook_is_writable_by_its_owner(fixture_xlsx, tmp_path):
    """The copy keeps its original's permissions (a private file stays private), but not its
    « lecture seule »: the annotated copy is the workbook the user goes on filling, and replaces."""
    fixture_xlsx.chmod(0o440)
    try:
        out = tmp_path / "annote.xlsx"
        annotate(fixture_xlsx, out, _report(FINDINGS), today=TODAY)
        assert stat.S_IMODE(out.stat().st_mode) == 0o640
        annotate(fixture_xlsx, out, _report(FINDINGS), today=TODAY)  # replaced again
    finally:
        fixture_xlsx.chmod(0o644)


def test_refuses_to_overwrite_input(fixture_xlsx, tmp_path):
    before = _sha(fixture_xlsx)
    with pytest.raises(AnnotationError, match="ne peut pas remplacer le classeur d'origine"):
        annotate(fixture_xlsx, fixture_xlsx, _report(FINDINGS))
    same_via_dots = tmp_path / "sub" / ".." / fixture_xlsx.name
    (tmp_path / "sub").mkdir()
    assert check_output(fixture_xlsx, same_via_dots) is not None
    assert "extension" in check_output(fixture_xlsx, tmp_path / "copie.xlsm")
    assert "extension" in check_output(fixture_xlsx, tmp_path / "copie.csv")
    assert check_output(fixture_xlsx, tmp_path / "copie.xlsx") is None
    assert _sha(fixture_xlsx) == before


def test_xlsm_keeps_vba_project(tmp_path):
    src = tmp_path / "macros.xlsm"
    vba = b"\xd0\xcf\x11\xe0" + bytes(range(256)) * 4  # the bytes only need to survive the copy
    _build_fixture(src, vba=vba)
    out = tmp_path / "annote.xlsm"
    annotate(src, out, _report(FINDINGS), today=TODAY)
    with zipfile.ZipFile(src) as z:
        original = z.read("xl/vbaProject.bin")
        ct_src = z.read("[Content_Types].xml")
    with zipfile.ZipFile(out) as z:
        assert z.read("xl/vbaProject.bin") == original
        assert b"macroEnabled" in z.read("[Content_Types].xml") and b"macroEnabled" in ct_src
    assert openpyxl.load_workbook(out, keep_vba=True)[Sheet.ACCUEIL]["C22"].value == STATUT_ERREURS


def test_a_macro_workbook_whose_name_ends_with_a_space_keeps_xlsm(tmp_path):
    """« macros.xlsm  » (a space after the extension, kept by an unzip on Linux): `valider` reads it, and
    its copy was judged by the suffix « .xlsm  », no macro workbook's — `--annoter copie.xlsm` refused
    (« doit garder l'extension .xlsx »), `--annoter copie.xlsx` written, macros and all, a file Excel
    refuses to open. The name is judged as the batch judges it, spaces after it aside."""
    src = tmp_path / "macros.xlsm "
    _build_fixture(src, vba=b"\xd0\xcf\x11\xe0" + bytes(16))
    assert check_output(src, tmp_path / "copie.xlsm") is None
    assert check_output(src, tmp_path / "copie.xlsx") == (
        "la copie annotée de macros.xlsm  doit garder l'extension .xlsm (Excel refuserait d'ouvrir copie.xlsx).")


@pytest.mark.libreoffice
def test_opens_in_libreoffice(fixture_xlsx, tmp_path):
    from pypdf import PdfReader

    from acv_xl.outputs.libreoffice import convert

    first = tmp_path / "annote1.xlsx"
    annotate(fixture_xlsx, first, _report(FINDINGS), today=TODAY)
    out = tmp_path / "annote.xlsx"
    annotate(first, out, _report(FINDINGS[:3]), today=TODAY)  # a re-annotated copy too
    pdf = convert(out, "pdf", tmp_path / "pdf")[0]
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "FIN-05" in text and "Erreurs à corriger" in text
    # and through LibreOffice's xlsx import, the table and the data still read back
    back = convert(out, "xlsx", tmp_path / "lo")[0]
    assert [r[1] for r in _controles_rows(back)[1:]] == ["FIN-03", "FIN-02", "FIN-05"]

    # a copy saved by LibreOffice (notes without author, its own XML) is annotated again cleanly
    again = tmp_path / "encore.xlsx"
    annotate(back, again, _report([FINDINGS[1]]), today=TODAY)
    wb = openpyxl.load_workbook(again)
    fin, act = wb[Sheet.FINANCEMENT], wb[Sheet.ACTIONS]
    assert fin["F5"].comment is None and _fill(fin["F5"]) is None and act["C4"].comment is None
    assert "FIN-02" in fin["B6"].comment.text and _fill(fin["B6"]) == FILLS[Gravite.ERREUR]
    assert act["B4"].comment.text.strip() == "Note de l'utilisatrice"
    assert [r[1] for r in _controles_rows(again)[1:]] == ["FIN-02"]
    convert(again, "pdf", tmp_path / "pdf2")


def test_clears_the_excel_buttons_fills_and_keeps_the_users_own(tmp_path):
    src = tmp_path / "valide_dans_excel.xlsx"
    _build_fixture(src, excel_run=True)
    before = openpyxl.load_workbook(src)[Sheet.FINANCEMENT]
    assert _fill(before["F5"]) == FILLS[Gravite.ERREUR] and _fill(before["K4"]) == "FFFFC7CE"
    out = tmp_path / "annote.xlsx"
    annotate(src, out, _report([FINDINGS[1]]), today=TODAY)
    fin = openpyxl.load_workbook(out)[Sheet.FINANCEMENT]
    assert _fill(fin["F5"]) is None and fin["F5"].number_format == "#,##0.00 €"
    assert _fill(fin["K4"]) == "FFFFC7CE"  # the user's own red stays
    assert _fill(fin["B6"]) == FILLS[Gravite.ERREUR]
    assert [r[1] for r in _controles_rows(out)[1:]] == ["FIN-02"]


# ----------------------------------------------------------------------------- the real template
def test_real_template_keeps_buttons_and_data(tmp_path):
    from acv_xl.reading.read import read_file
    from acv_xl.outputs.template import build_workbook

    src = tmp_path / "modele.xlsx"
    build_workbook(src)
    act = layout.T_ACTIONS
    r, c = _rc(act.anchor)
    cost_cell = f"{chr(65 + c + act.headers.index(act.header('cout_total')))}{r + 2}"
    findings = [
        _finding("ACT-02", Gravite.ERREUR, Sheet.ACTIONS, cost_cell, "", "Coût total manquant."),
        _finding("PRJ-01", Gravite.ERREUR, Sheet.PROJET, layout.NAMED_BY_NAME["acv_id"].cell, "", "Identifiant vide."),
    ]
    before = _sha(src)
    out = tmp_path / "annote.xlsx"
    annotate(src, out, _report(findings), today=TODAY)
    assert _sha(src) == before

    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        drawing = next(n for n in names if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n))
        xml = z.read(drawing).decode()
        for b in layout.BUTTONS:
            assert f'name="{b.shape}"' in xml
        drels = z.read(drawing.replace("drawings/", "drawings/_rels/") + ".rels").decode()
        for b in layout.BUTTONS:  # each button's internal link (xlwings binds the shape to it)
            assert re.search(rf'/hyperlink" Target="#\'?{b.sheet}\'?!{b.cell}"', drels), b.shape
        wb_xml = z.read("xl/workbook.xml").decode()
        wb_rels = z.read("xl/_rels/workbook.xml.rels").decode()
        rid = re.search(rf'<sheet name="{Sheet.ACCUEIL}" sheetId="\d+" r:id="(rId\d+)"', wb_xml).group(1)
        sheet_part = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"', wb_rels).group(1)
        srels = z.read(f"xl/worksheets/_rels/{Path(sheet_part).name}.rels").decode()
        assert f"../drawings/{Path(drawing).name}" in srels

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == list(layout.SHEETS)
    assert _fill(wb[Sheet.ACTIONS][cost_cell]) == FILLS[Gravite.ERREUR]
    assert wb[Sheet.PROJET][layout.NAMED_BY_NAME["acv_id"].cell].comment.author == COMMENT_AUTHOR
    for t in layout.TABLES:
        assert t.name in wb[t.sheet].tables
    assert sum(len(ws.data_validations.dataValidation) for ws in wb) == \
        sum(len(ws.data_validations.dataValidation) for ws in openpyxl.load_workbook(src))
    assert wb[Sheet.ACCUEIL][layout.NAMED_BY_NAME["acv_statut"].cell].value == STATUT_ERREURS

    # the data read back are the same (the status cells are not data)
    a, b = read_file(src), read_file(out)
    user_names = [n.name for n in layout.NAMED_CELLS if n.user_filled]
    assert {n: a.value(n) for n in user_names} == {n: b.value(n) for n in user_names}
    for table in ("T_Financeurs", "T_Dispositifs", "T_Actions"):
        assert [x.raw for x in a.rows(table)] == [x.raw for x in b.rows(table)]


# ----------------------------------------------------------------------------- XML writing
def test_xml_part_keeps_prefixes_and_ignorable_declarations():
    from acv_xl.reading.ooxml import XmlPart, q

    src = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
           b'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac xr" '
           b'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" '
           b'xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision" xr:uid="{1}">'
           b'<sheetData><row r="1" x14ac:dyDescent="0.25"><c r="A1" t="inlineStr"><is><t xml:space="preserve"> a &amp; b </t></is></c></row></sheetData>'
           b'</worksheet>')
    part = XmlPart(src)
    part.root.find(q("sheetData")).append(part.root.find(q("sheetData"))[0].__copy__())
    out = part.to_bytes().decode()
    for decl in ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 'xmlns:r=', 'xmlns:mc=',
                 'xmlns:x14ac=', 'xmlns:xr=', 'mc:Ignorable="x14ac xr"', 'xr:uid="{1}"', 'x14ac:dyDescent="0.25"',
                 '<t xml:space="preserve"> a &amp; b </t>', "<worksheet "):
        assert decl in out, decl
    assert "ns0" not in out
    assert XmlPart(out.encode()).to_bytes().decode() == out  # stable


def test_cli_refuses_to_overwrite_input(fixture_xlsx):
    before = _sha(fixture_xlsx)
    proc = subprocess.run([sys.executable, "-m", "acv_xl", "valider", str(fixture_xlsx), "--annoter", str(fixture_xlsx)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "ne peut pas remplacer le classeur d'origine" in proc.stderr and "Traceback" not in proc.stderr
    assert _sha(fixture_xlsx) == before


# ----------------------------------------------------------------------------- real examples, CLI
@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> dict[str, Path]:
    from acv_xl.outputs.examples import write_examples

    folder = tmp_path_factory.mktemp("exemples")
    return {p.name: p for p in write_examples(folder)}


def _first(examples, faulty: bool):
    from acv_xl.checks.validate import validate_file

    for p in sorted(examples.values()):
        r = validate_file(p)
        if (not r.valide) == faulty and (not faulty or any(f.feuille and f.cellule for f in r.findings)):
            return p, r
    raise AssertionError(f"aucun exemple {'fautif' if faulty else 'sans erreur'} parmi {sorted(examples)}")


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acv_xl", *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_annotates_a_faulty_example(examples, tmp_path):
    from acv_xl.checks.validate import validate_file

    src, report = _first(examples, faulty=True)
    before = _sha(src)
    out = tmp_path / "annote.xlsx"
    proc = _cli("valider", src, "--annoter", out)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and f"Copie annotée écrite : {out}" in proc.stdout
    assert _sha(src) == before

    rows = _controles_rows(out)[1:]
    assert [(r[0], r[1], r[2] or "", r[3] or "") for r in rows] == \
        [(f.gravite.libelle, f.code, f.feuille, f.cellule) for f in report.findings]
    wb = openpyxl.load_workbook(out)
    worst: dict[tuple[str, str], Gravite] = {}
    for f in report.findings:
        if f.feuille and f.cellule:
            assert f.code in wb[f.feuille][f.cellule].comment.text
            k = (f.feuille, f.cellule)
            worst[k] = min(worst.get(k, f.gravite), f.gravite, key=list(Gravite).index)
    assert Gravite.ERREUR in worst.values()
    for (feuille, cellule), g in worst.items():
        assert _fill(wb[feuille][cellule]) == FILLS.get(g), (feuille, cellule)  # information: no fill
    assert wb[Sheet.ACCUEIL][layout.NAMED_BY_NAME["acv_statut"].cell].value == STATUT_ERREURS
    with zipfile.ZipFile(out) as z:
        assert any(b'name="btnValider"' in z.read(n) for n in z.namelist() if n.startswith("xl/drawings/drawing"))

    # the annotated copy holds the same data: same findings, same fingerprint
    again = validate_file(out)
    assert again.empreinte == report.empreinte
    assert [f.as_json() for f in again.findings] == [f.as_json() for f in report.findings]


def _controles_renamed(src: Path, dst: Path) -> Path:
    """A copy whose T_Controles was renamed by the user (Création de tableau › Nom du tableau)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.startswith("xl/tables/") and b'name="T_Controles"' in data:
                data = data.replace(b'"T_Controles"', b'"Tableau9"')
            zout.writestr(info, data)
    return dst


def test_cli_says_when_the_findings_could_not_be_listed(examples, tmp_path):
    """Without T_Controles the copy lists no finding, and no finding says why (T_Controles is not read
    as data): the command says it, on stdout with the text report, on stderr beside the JSON."""
    src, report = _first(examples, faulty=True)
    src = _controles_renamed(src, tmp_path / "sans-controles.xlsx")
    note = "sans la liste des constats : le tableau « T_Controles » de la feuille « Contrôles » est introuvable"
    proc = _cli("valider", src, "--annoter", tmp_path / "texte.xlsx")
    assert proc.returncode == 1 and note in proc.stdout and "Traceback" not in proc.stderr
    proc = _cli("valider", src, "--annoter", tmp_path / "json.xlsx", "--format", "json")
    assert proc.returncode == 1 and note in proc.stderr
    assert _mark_cells_kept(tmp_path / "json.xlsx", report)
    clean, _ = _first(examples, faulty=False)  # nothing to list: nothing to say
    proc = _cli("valider", _controles_renamed(clean, tmp_path / "propre.xlsx"), "--annoter", tmp_path / "p.xlsx")
    assert proc.returncode == 0 and "sans la liste" not in proc.stdout + proc.stderr


def _mark_cells_kept(out: Path, report) -> bool:
    """The rest of the copy is still annotated: the faulty cells are filled."""
    wb = openpyxl.load_workbook(out)
    cells = [(f.feuille, f.cellule) for f in report.findings if f.gravite is Gravite.ERREUR and f.feuille and f.cellule]
    return bool(cells) and all(_fill(wb[s][c]) == FILLS[Gravite.ERREUR] for s, c in cells)


def test_cli_annotated_clean_example_reads_as_validated(examples, tmp_path):
    from acv_xl.checks.validate import ETAT_VALIDE, validate_file

    src, report = _first(examples, faulty=False)
    out = tmp_path / "annote.xlsx"
    proc = _cli("valider", src, "--annoter", out, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    acc = openpyxl.load_workbook(out)[Sheet.ACCUEIL]
    assert acc[layout.NAMED_BY_NAME["acv_statut"].cell].value == STATUT_VALIDE
    assert acc[layout.NAMED_BY_NAME["acv_empreinte"].cell].value == report.empreinte
    assert acc[layout.NAMED_BY_NAME["acv_date_validation"].cell].value.date() == date.today()
    after = validate_file(out)
    assert after.etat == ETAT_VALIDE and after.empreinte == report.empreinte and after.valide


def test_finding_on_a_huge_range_is_bounded(fixture_xlsx, tmp_path):
    from acv_xl.outputs.annotate import MAX_CELLS_PER_FINDING

    out = tmp_path / "annote.xlsx"
    f = _finding("STR-06", Gravite.ERREUR, Sheet.FINANCEMENT, "M1:M1048576", "", "Valeur d'erreur Excel.")
    annotate(fixture_xlsx, out, _report([f]), today=TODAY)
    fin = openpyxl.load_workbook(out)[Sheet.FINANCEMENT]
    assert _fill(fin["M1"]) == FILLS[Gravite.ERREUR] and "STR-06" in fin["M1"].comment.text
    assert _fill(fin[f"M{MAX_CELLS_PER_FINDING}"]) == FILLS[Gravite.ERREUR]
    assert _fill(fin[f"M{MAX_CELLS_PER_FINDING + 1}"]) is None


def test_missing_output_folder_is_a_french_message(fixture_xlsx, tmp_path):
    assert "n'existe pas" in check_output(fixture_xlsx, tmp_path / "absent" / "annote.xlsx")


def test_repeated_runs_do_not_pile_up_styles(fixture_xlsx, tmp_path):
    def counts(p: Path) -> tuple[int, int, int]:
        xml = zipfile.ZipFile(p).read("xl/styles.xml").decode()
        return tuple(int(re.search(rf'<{tag} count="(\d+)"', xml).group(1)) for tag in ("cellXfs", "fills", "fonts"))

    paths = [fixture_xlsx]
    for i in range(3):
        paths.append(tmp_path / f"run{i}.xlsx")
        annotate(paths[-2], paths[-1], _report(FINDINGS), today=TODAY)
    assert counts(paths[2]) == counts(paths[3])
    assert _controles_rows(paths[3]) == _controles_rows(paths[1])


def test_totals_row_of_controles_follows_the_table(tmp_path):
    src = tmp_path / "totaux.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet(Sheet.CONTROLES)
    cols = [{"header": h} for h in CTL.headers]
    cols[1]["total_function"] = "count"
    cols[0]["total_string"] = "Total"
    ws.add_table(2, 0, 4, len(CTL.columns) - 1, {"name": CTL.name, "columns": cols, "total_row": True})
    wb.close()
    out = tmp_path / "annote.xlsx"
    annotate(src, out, _report(FINDINGS[:3]), today=TODAY)
    ws = openpyxl.load_workbook(out)[Sheet.CONTROLES]
    table = ws.tables[CTL.name]
    assert table.ref == "A3:G7" and table.totalsRowCount == 1
    assert ws["A7"].value == "Total" and "SUBTOTAL" in str(ws["B7"].value) and ws["B6"].value == "FIN-05"
    assert ws["A5"].value == "Erreur" and ws["B5"].value == "FIN-02"


@pytest.mark.parametrize("content", [b"", b"pas un classeur", "zip"])
def test_damaged_input_is_a_french_error(tmp_path, content):
    src = tmp_path / "abime.xlsx"
    if content == "zip":
        with zipfile.ZipFile(src, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("_rels/.rels", "<Relationships")  # truncated XML
    else:
        src.write_bytes(content)
    # the file is opened by the reader's guard, which says what it is (empty, not a workbook…)
    with pytest.raises(AnnotationError, match="n'a pas pu être écrite.*(endommagé|vide|pas un classeur)"):
        annotate(src, tmp_path / "annote.xlsx", _report(FINDINGS))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abime.xlsx"]


def test_rows_and_cells_are_appended_in_order_without_rescanning_the_sheet(tmp_path):
    """Each new row of the Contrôles list scanned and re-sorted every row of the sheet: a copy of a
    plan of 50 000 lines (100 000 findings) ran for hours. Appending is now linear; rows and cells
    created out of order still land in order (Excel repairs a sheet whose rows are not)."""
    import xml.etree.ElementTree as ET

    from acv_xl.reading.ooxml import Package, Worksheet, q

    path = tmp_path / "m.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("F")
    ws.write(0, 0, "titre")
    ws.write(9, 3, "d10")
    wb.close()
    sheets = []

    def appended(last: int) -> None:
        sheet = Worksheet(Package.open(path), "xl/worksheets/sheet1.xml")
        for r in range(11, last + 1):
            for c in (1, 2, 3):
                sheet.set_text(r, c, f"{r}-{c}")
        sheets.append(sheet)

    ratio = growth(lambda: appended(8_010), lambda: appended(40_010), rounds=2)
    assert ratio < 12, f"5 fois les lignes : {ratio:.1f} fois le temps (des heures avant)"
    sheet = sheets[-1]
    sheet.set_text(5, 2, "avant")  # between two rows
    sheet.set_text(10, 1, "gauche")  # before a row's first cell
    sheet.set_text(10, 7, "droite")
    rows = sheet.data.findall(q("row"))
    numbers = [int(r.get("r")) for r in rows]
    assert numbers == sorted(numbers) and numbers[:4] == [1, 5, 10, 11] and len(numbers) == 40_003
    assert [c.get("r") for c in rows[2].findall(q("c"))] == ["A10", "D10", "G10"]
    assert [c.get("r") for c in rows[-1].findall(q("c"))] == ["A40010", "B40010", "C40010"]
    assert ET.tostring(rows[-1]).count(b"40010-3") == 1


def test_a_copy_with_too_many_findings_shows_the_worst_and_says_how_many_are_left(fixture_xlsx, tmp_path):
    """A plan of 50 000 lines gave 100 000 findings: the copy listed and noted them all, 2,9 GB of
    XML trees (≈ 25 KB each). It now shows at most `MAX_ANNOTATED` - 1, errors first, and a last
    row that says how many more the report of `valider` lists."""
    from acv_xl.outputs.annotate import MAX_ANNOTATED, left_out

    warnings = [_finding("FIN-13", Gravite.AVERTISSEMENT, Sheet.FINANCEMENT, f"I{6 + i % 30}", "1.2",
                         f"Sans référence {i}.") for i in range(MAX_ANNOTATED + 2_000)]
    errors = [_finding("FIN-02", Gravite.ERREUR, Sheet.FINANCEMENT, f"B{6 + i}", "1.2", f"Inconnu {i}.")
              for i in range(3)]
    report = _report(warnings + errors)
    out = tmp_path / "annote.xlsx"
    annotate(fixture_xlsx, out, report, today=TODAY)
    rows = _controles_rows(out)[1:]
    assert len(rows) == MAX_ANNOTATED
    assert [r[1] for r in rows[:3]] == ["FIN-02"] * 3 and rows[3][5] == "Sans référence 0."  # errors first
    assert rows[-2][5] == f"Sans référence {MAX_ANNOTATED - 5}."
    left = len(warnings) + len(errors) - (MAX_ANNOTATED - 1)
    assert left_out(report) == left == 2_004
    assert rows[-1][0] == "Information" and rows[-1][5].startswith("… et 2 004 autres constats, ni listés ni surlignés")


def test_a_copy_past_the_cap_marks_exactly_the_findings_it_lists(fixture_xlsx, tmp_path, monkeypatch):
    """Its last row says the findings left out are « ni listés ni surlignés »: the cells marked were
    the worst `MAX_ANNOTATED` findings, one more than the list's `MAX_ANNOTATED` - 1 — one finding
    highlighted and noted in its cell, though said to be neither."""
    from openpyxl import load_workbook

    from acv_xl.outputs import annotate as annotate_module

    monkeypatch.setattr(annotate_module, "MAX_ANNOTATED", 4)
    findings = [_finding("FIN-13", Gravite.AVERTISSEMENT, Sheet.FINANCEMENT, f"I{6 + i}", "1.2", f"Sans référence {i}.")
                for i in range(5)]
    out = tmp_path / "annote.xlsx"
    annotate(fixture_xlsx, out, _report(findings), today=TODAY)
    rows = _controles_rows(out)[1:]
    assert [r[5] for r in rows[:3]] == [f"Sans référence {i}." for i in range(3)]
    assert rows[-1][5].startswith("… et 2 autres constats, ni listés ni surlignés")
    fin = load_workbook(out)[Sheet.FINANCEMENT]
    marked = [f"I{6 + i}" for i in range(5) if fin[f"I{6 + i}"].comment is not None or _fill(fin[f"I{6 + i}"])]
    assert marked == ["I6", "I7", "I8"]


def test_an_object_anchored_among_the_moved_cells_goes_down_in_excels_own_drawing_form():
    """Excel writes its drawings with the « xdr: » prefix (openpyxl, in the chart test of
    test_scripts, without): an anchor whose top-left cell is among the moved cells goes down, both its
    ends; one fixed on the page (editAs="absolute") or anchored beside stays."""
    from acv_xl.outputs.annotate import _ANCHOR, _lower_anchor

    def anchor(edit: str, col: int, row: int) -> bytes:
        return (f'<xdr:twoCellAnchor editAs="{edit}"><xdr:from><xdr:col>{col}</xdr:col><xdr:colOff>0</xdr:colOff>'
                f'<xdr:row>{row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>{col + 4}</xdr:col>'
                f'<xdr:colOff>0</xdr:colOff><xdr:row>{row + 10}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>'
                '<xdr:pic/><xdr:clientData/></xdr:twoCellAnchor>').encode()

    drawing = b"<xdr:wsDr>" + anchor("oneCell", 1, 9) + anchor("absolute", 1, 9) + anchor("twoCell", 8, 9) + b"</xdr:wsDr>"
    lowered = _ANCHOR.sub(lambda m: _lower_anchor(m, 5, 1, 7, 3), drawing)  # rows 5 down of A:G, 3 lower
    assert lowered == b"<xdr:wsDr>" + anchor("oneCell", 1, 12) + anchor("absolute", 1, 9) + anchor("twoCell", 8, 9) \
        + b"</xdr:wsDr>"


def test_a_chart_sheet_holding_the_name_of_the_validated_data_or_of_a_status_cell_is_never_written_into(tmp_path):
    """A chart sheet (« Insérer une feuille graphique ») named « Données validées », and `acv_statut`
    pointed at a chart sheet: the annotated copy wrote the validated data and the status as cells into
    the chart sheet's part — a part Excel « répare ». Only worksheets get cells: the chart sheets are
    copied as they were, the other sheets annotated as usual."""
    from openpyxl.chart import BarChart, Reference

    from acv_xl.checks.validate import validate_file

    src = Path(__file__).resolve().parents[1] / "workbooks" / "exemples" / "arras.xlsx"
    path, out = tmp_path / "graphiques.xlsx", tmp_path / "annotee.xlsx"
    wb = openpyxl.load_workbook(src)
    plan = wb[Sheet.FINANCEMENT]
    for title in (layout.SNAPSHOT_SHEET, "Graphique"):
        chart = BarChart()
        chart.add_data(Reference(plan, min_col=6, min_row=5, max_row=12))
        wb.create_chartsheet(title).add_chart(chart)
    wb.defined_names["acv_statut"].attr_text = "Graphique!$A$1"
    wb.save(path)
    report = validate_file(path)
    assert report.valide  # the data are kept… had the sheet been a worksheet
    annotate(path, out, report, today=date(2026, 11, 26))
    with zipfile.ZipFile(path) as before, zipfile.ZipFile(out) as after:
        charts = [n for n in before.namelist() if n.startswith("xl/chartsheets/sheet")]
        assert len(charts) == 2
        assert all(after.read(n) == before.read(n) for n in charts)
        assert b"<sheetData" not in b"".join(after.read(n) for n in charts)
    assert openpyxl.load_workbook(out)[Sheet.CONTROLES].tables[layout.T_CONTROLES.name] is not None


def test_status_names_scoped_to_their_sheet_and_its_copy_are_written_where_the_reader_reads_them(tmp_path):
    """The status cells named on « Accueil » only (their scope changed in the Name Manager), on that sheet
    and on a copy standing before it: the readers take the template's sheet's (`source.takes_over`) and
    the button writes « Validé » there, but the annotated copy looked for workbook-level names only and
    wrote nothing — « Non validé » and no fingerprint in the copy of a valid workbook."""
    from openpyxl.workbook.defined_name import DefinedName

    from acv_xl.checks.validate import validate_file
    from acv_xl.outputs.template import build_workbook
    from conventions import clean

    src = tmp_path / "portees.xlsx"
    build_workbook(src, clean())
    wb = openpyxl.load_workbook(src)
    acc = wb[Sheet.ACCUEIL]
    copy = wb.copy_worksheet(acc)
    copy.title = "Accueil (2)"
    wb.move_sheet(copy, wb.index(acc) - wb.index(copy))
    names = ("acv_statut", "acv_date_validation", "acv_empreinte")
    for name in names:
        dn = wb.defined_names[name]
        del wb.defined_names[name]
        for ws in (copy, acc):
            ws.defined_names[name] = DefinedName(name, attr_text=f"'{ws.title}'!${layout.NAMED_BY_NAME[name].cell[0]}"
                                                 f"${layout.NAMED_BY_NAME[name].cell[1:]}")
    wb.save(src)
    report = validate_file(src)
    assert report.valide and report.convention.names["acv_statut"].sheet == Sheet.ACCUEIL, report.findings
    out = tmp_path / "annote.xlsx"
    annotate(src, out, report, today=TODAY)
    written = openpyxl.load_workbook(out)
    cell = lambda ws, name: ws[layout.NAMED_BY_NAME[name].cell].value  # noqa: E731
    assert cell(written[Sheet.ACCUEIL], "acv_statut") == STATUT_VALIDE
    assert cell(written[Sheet.ACCUEIL], "acv_empreinte") == report.empreinte
    assert cell(written["Accueil (2)"], "acv_statut") != STATUT_VALIDE  # the user's copy, left alone


@pytest.mark.parametrize("saved, carried", [
    ("<f>2*3</f><v/>", None),  # no value saved (a program that computes none writes an empty one)
    ('<f>""</f><v></v>', None),
    ("<f>2*3</f><v>6</v>", "<v>6</v>"),
    ('<f>"a"&amp;"b"</f><v>ab</v>', '<is><t>ab</t></is>'),
], ids=["vide", "vide-texte", "nombre", "texte"])
def test_a_formula_note_of_controles_is_carried_as_the_value_it_shows_or_not_at_all(saved, carried):
    """A formula of the user's column of T_Controles goes to its finding's new row as the value it shows; one
    that shows nothing, or whose file saved no value, carries nothing: it was copied with an empty <v/>, no
    number, into a cell of no type (a number's)."""
    from xml.etree import ElementTree as ET

    from acv_xl.outputs.annotate import _as_value
    from acv_xl.reading.ooxml import NS_MAIN

    kind = ' t="str"' if "&amp;" in saved or '""' in saved else ""
    cell = ET.fromstring(f'<c xmlns="{NS_MAIN}" r="H4" s="3"{kind}>{saved}</c>')
    out = _as_value(cell)
    if carried is None:
        assert out is None
    else:
        text = re.sub(r"(</?)\w+:", r"\1", re.sub(r' xmlns:\w+="[^"]*"', "", ET.tostring(out).decode()))
        assert "<f>" not in text and text.endswith(f">{carried}</c>") and 's="3"' in text
