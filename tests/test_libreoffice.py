"""The workbooks in a real spreadsheet: LibreOffice headless opens the template and every example,
recalculates the Synthèse formulas, and the values equal `totals.compute` to the cent; nothing
evaluates to an error; printing to PDF works.

LibreOffice is a requirement of the test suite (scripts/tests.sh installs it): when `soffice` is
missing these tests fail with the install hint, they are never skipped.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from acv_xl.contract import layout
from acv_xl.outputs import libreoffice
from acv_xl.checks import totals
from acv_xl.outputs.examples import example_conventions, write_examples
from acv_xl.outputs.template import SYNTHESE_YEARS, build_workbook, synthese_layout
from acv_xl.contract.values import EXCEL_ERRORS

pytestmark = pytest.mark.libreoffice


def _require_soffice() -> None:
    if libreoffice.soffice() is None:
        pytest.fail(libreoffice.INSTALL_HINT)


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("classeurs")
    paths = write_examples(folder)
    build_workbook(folder / "modele_acv.xlsx")
    return {p.name: p for p in [*paths, folder / "modele_acv.xlsx"]}


@pytest.fixture(scope="module")
def recalculated(workbooks, tmp_path_factory) -> dict[str, Path]:
    _require_soffice()
    out = tmp_path_factory.mktemp("recalcul")
    # one soffice process for all files: starting it is the slow part
    done = libreoffice.convert(list(workbooks.values()), "xlsx", out)
    return {p.name: p for p in done}


def _cents(value) -> Decimal:
    assert isinstance(value, (int, float)) and not isinstance(value, bool), value
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_synthese_equals_the_totals_of_the_core(recalculated):
    sl = synthese_layout()
    convs = example_conventions()
    assert set(convs) <= set(recalculated)
    for name, conv in convs.items():
        ws = openpyxl.load_workbook(recalculated[name], data_only=True)[layout.Sheet.SYNTHESE]
        t = totals.compute(conv)
        got = lambda cell: _cents(ws[cell].value)  # noqa: E731
        assert got(sl.cout_total) == t.cout_total, name
        assert got(sl.financement_total) == t.financement_total, name
        assert got(sl.ecart) == t.ecart, name
        zero = Decimal("0.00")
        for code, cell in sl.par_financeur.items():
            assert got(cell) == t.par_financeur.get(code, zero), (name, code)
        others = sum((v for k, v in t.par_financeur.items() if k not in sl.par_financeur), zero)
        assert got(sl.financeur_autres) == others, name
        for n, cell in sl.par_axe.items():
            assert got(cell) == t.par_axe.get(str(n), zero), (name, n)
        for y, cell in sl.par_annee.items():
            assert got(cell) == t.par_annee.get(str(y), zero), (name, y)
        assert got(sl.annee_autres) == t.financement_total - sum(
            (t.par_annee.get(str(y), zero) for y in SYNTHESE_YEARS), zero), name
        for s, cell in sl.par_statut.items():
            assert got(cell) == t.par_statut.get(s, zero), (name, s)
        refused = sum((lf.montant for lf in conv.financements
                       if lf.statut == layout.STATUT_REFUSE and lf.montant is not None), zero)
        assert got(sl.refuse) == refused, name
        for total_cell in (sl.financeur_total, sl.axe_total, sl.annee_total, sl.statut_total):
            assert got(total_cell) == t.financement_total, (name, total_cell)


def test_faulty_examples_show_in_the_synthese(recalculated):
    sl = synthese_layout()
    ws = openpyxl.load_workbook(recalculated["calais.xlsx"], data_only=True)[layout.Sheet.SYNTHESE]
    assert _cents(ws[sl.ecart].value) == Decimal("-50000.00")  # the over-financed plan
    ws = openpyxl.load_workbook(recalculated["boulogne-sur-mer.xlsx"], data_only=True)[layout.Sheet.SYNTHESE]
    assert _cents(ws[sl.financeur_autres].value) > 0  # the unknown code « FEDER »


def test_blank_template_recalculates_to_zero(recalculated):
    sl = synthese_layout()
    ws = openpyxl.load_workbook(recalculated["modele_acv.xlsx"], data_only=True)[layout.Sheet.SYNTHESE]
    for cell in (sl.cout_total, sl.financement_total, sl.ecart, *sl.par_financeur.values(), *sl.par_axe.values()):
        assert _cents(ws[cell].value) == 0, cell


def test_no_error_value_anywhere(recalculated):
    for name, path in recalculated.items():
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb:
            for row in ws.iter_rows():
                for c in row:
                    assert not (isinstance(c.value, str) and c.value.strip() in EXCEL_ERRORS), \
                        (name, ws.title, c.coordinate, c.value)


def test_recalculated_workbook_keeps_tables_and_buttons(recalculated):
    import zipfile

    wb = openpyxl.load_workbook(recalculated["arras.xlsx"])
    assert {t.name for ws in wb for t in ws.tables.values()} == {t.name for t in layout.TABLES}
    with zipfile.ZipFile(recalculated["arras.xlsx"]) as z:
        drawings = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/drawings/drawing"))
    assert 'name="btnValider"' in drawings and 'name="btnAnnexe"' in drawings


def test_pdf_export(workbooks, tmp_path):
    _require_soffice()
    from pypdf import PdfReader

    pdfs = libreoffice.convert(list(workbooks.values()), "pdf", tmp_path)
    assert len(pdfs) == len(workbooks)
    for pdf in pdfs:
        reader = PdfReader(pdf)
        assert len(reader.pages) >= len(layout.SHEETS), pdf.name  # every sheet prints
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "arras.pdf").pages)
    assert "Synthèse du plan de financement" in text and "Action Cœur de Ville" in text


def test_annexe_pdf_into_a_folder_whose_name_libreoffice_reads_as_a_url(tmp_path):
    """LibreOffice reads --outdir as a URL: `annexe --pdf` into a folder « Comité #3 ; 2026 » (the PDF is
    printed into a hidden folder beside it) said « PDF non produit … Error: no export filter » with
    status 2, and into « Dossier %41 » LibreOffice wrote into another folder it created, « Dossier A ».
    The PDF is now written where asked, and nothing else appears."""
    _require_soffice()
    from acv_xl.cli import main

    for name in ("Comité #3 ; 2026 ?", "Dossier %41"):
        folder = tmp_path / name
        folder.mkdir()
        build_workbook(folder / "lens.xlsx", example_conventions()["lens-lievin.xlsx"])
        assert main(["annexe", str(folder / "lens.xlsx"), "--pdf"]) == 0, name
        assert sorted(p.name for p in folder.iterdir()) == ["lens.xlsx", "lens_annexe.pdf", "lens_annexe.xlsx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Comité #3 ; 2026 ?", "Dossier %41"]


def test_formulas_are_recalculated_on_loading_whatever_value_the_file_holds(tmp_path):
    """A file that says Excel wrote it (XlsxWriter's, openpyxl's) keeps its cached values in
    LibreOffice unless told otherwise: a total without its value printed 0, a stale one its old
    value. The conversion recalculates every formula (print and recalculation alike)."""
    _require_soffice()
    import subprocess

    import xlsxwriter

    wb = xlsxwriter.Workbook(str(tmp_path / "totaux.xlsx"))
    ws = wb.add_worksheet("Totaux")
    ws.write_number(0, 0, 123456)
    ws.write_number(1, 0, 1000)
    ws.write_formula(2, 0, "=SUM(A1:A2)", None, 999)  # a stale cached value
    ws.write_formula(3, 0, "=A1*2")  # no value (XlsxWriter caches 0)
    wb.close()
    pdf, xlsx = (libreoffice.convert(tmp_path / "totaux.xlsx", fmt, tmp_path / fmt)[0] for fmt in ("pdf", "xlsx"))
    words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split()
    assert words == ["123456", "1000", "124456", "246912"]
    ws = openpyxl.load_workbook(xlsx, data_only=True)["Totaux"]
    assert (ws["A3"].value, ws["A4"].value) == (124456, 246912)


def _converting_into(folder: Path) -> list[str]:
    """The LibreOffice processes still converting into `folder` (other conversions of the machine aside)."""
    import subprocess

    # `-ww`: the arguments whole, never cut at the terminal's width (pytest's COLUMNS), which hid every process
    ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if "soffice" in line and f"--outdir {folder}" in line]


def test_a_conversion_that_takes_too_long_is_stopped_whole_with_a_french_message(workbooks, tmp_path):
    """`soffice` is a script that starts `soffice.bin`: on the time limit only the script was killed,
    and `soffice.bin` went on converting (on a machine already too slow), writing its PDF after the
    error had been reported. Every process of the conversion is stopped; the message says what to do."""
    import time

    _require_soffice()
    with pytest.raises(libreoffice.ConversionFailed) as exc:
        libreoffice.convert(workbooks["arras.xlsx"], "pdf", tmp_path, timeout=1.5)
    time.sleep(3)
    assert not _converting_into(tmp_path), _converting_into(tmp_path)
    assert not (tmp_path / "arras.pdf").exists()
    message = str(exc.value)
    assert "n'a pas terminé la conversion en 2 s" in message and "enregistrez-le en PDF" in message, message


def test_ctrl_c_during_a_conversion_stops_libreoffice_too(workbooks, tmp_path, monkeypatch):
    """LibreOffice runs in its own session (so that it is stopped whole): a Ctrl-C reached Python
    alone, and `soffice.bin` went on converting in the background after « interrompu. », writing its
    PDF later. Every process of the conversion is stopped then too."""
    import subprocess
    import time

    _require_soffice()
    real = subprocess.Popen.communicate
    started = []

    def interrupted(self, *args, **kwargs):
        if not started:  # the user's Ctrl-C, once LibreOffice is converting
            started.append(True)
            deadline = time.monotonic() + 30
            while not _converting_into(tmp_path) and time.monotonic() < deadline:
                time.sleep(0.1)
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        libreoffice.convert(workbooks["arras.xlsx"], "pdf", tmp_path, timeout=120)
    assert not _converting_into(tmp_path), _converting_into(tmp_path)  # at once: not left to end its work
    time.sleep(3)
    assert not (tmp_path / "arras.pdf").exists()


def test_the_time_limit_grows_with_the_files_to_convert(tmp_path):
    """A fixed 3 minutes gave up on a big annex (hundreds of fiches) on a slow machine."""
    small, big = tmp_path / "petit.xlsx", tmp_path / "grand.xlsx"
    small.write_bytes(b"x" * 10_000)
    big.write_bytes(b"x" * 1_000_000)
    assert libreoffice.time_limit([small]) >= 180
    assert libreoffice.time_limit([big]) >= libreoffice.time_limit([small]) + 500
    assert libreoffice._duration(780) == "13 min" and libreoffice._duration(95) == "95 s"


def test_act15_names_the_actions_whose_money_the_synthese_puts_under_no_axe(tmp_path):
    """Axes typed otherwise than the drop-down's « Axe n » (its label, « Axe 1 — <label> », « 1 » as a text):
    « Valider » read them silently, and the recalculated Synthèse put their money under « Axe non reconnu »
    (axe 1 at 0,00 € where the report said 5 250 000,00 €). ACT-15 names exactly those actions, and both
    readers (the command line, the button) name them alike."""
    import xlwings_payload  # noqa: F401 — sets XLWINGS_LICENSE_KEY before xlwings is imported
    from openpyxl.utils.cell import range_boundaries

    from acv_xl.checks.validate import validate_file
    from udfs import scripts
    from xlwings_payload import payload_from_xlsx, remote_book

    _require_soffice()
    src = Path(__file__).resolve().parents[1] / "workbooks" / "exemples" / "arras.xlsx"
    path = tmp_path / "axes.xlsx"
    wb = openpyxl.load_workbook(src)
    a = layout.T_ACTIONS
    ws = next(w for w in wb.worksheets if a.name in w.tables)
    c1, r1, _c2, _r2 = range_boundaries(ws.tables[a.name].ref)
    col = c1 + list(a.headers).index(a.header("axe"))
    ws.cell(r1 + 1, col).value = f"Axe 1 — {layout.AXES[1]}"
    ws.cell(r1 + 2, col).value = layout.AXES[1]
    ws.cell(r1 + 3, col).value = "axe 2"  # the drop-down's value in another case: Excel's « = » matches it
    ws.cell(r1 + 4, col).value = "2"
    wb.save(path)
    report = validate_file(path)
    named = {f.action for f in report.findings if f.code == "ACT-15"}
    assert named == {ws.cell(r1 + k, c1).value for k in (1, 2, 4)}
    button = scripts.run_valider(remote_book(payload_from_xlsx(path, exclude=scripts.EXCLUDE)))
    assert [f.message for f in button.findings if f.code == "ACT-15"] == \
        [f.message for f in report.findings if f.code == "ACT-15"]

    done = libreoffice.convert([path], "xlsx", tmp_path / "recalcul")
    syn = openpyxl.load_workbook(done[0], data_only=True)[layout.Sheet.SYNTHESE]
    sl = synthese_layout()
    t = totals.compute(report.convention)
    missed = sum((t.par_action.get(n, Decimal(0)) for n in named), Decimal("0.00"))
    assert missed > 0
    assert _cents(syn[sl.axe_autres].value) == missed
    by_axe = {k: v for k, v in t.par_axe.items()}
    for act in report.convention.actions:
        if act.numero in named:
            by_axe[str(act.axe)] -= t.par_action.get(act.numero, Decimal(0))
    for n, cell in sl.par_axe.items():
        assert _cents(syn[cell].value) == by_axe.get(str(n), Decimal("0.00")), n


def test_str13_names_the_lines_the_synthese_counts_elsewhere_for_a_space(tmp_path):
    """« ETAT  » and « Versé  » pasted with a space: the report counts the lines for ETAT and « Versé », the
    recalculated Synthèse elsewhere (its État total lower by their amount). STR-13 names exactly those
    lines, the button as the command line."""
    import xlwings_payload  # noqa: F401 — sets XLWINGS_LICENSE_KEY before xlwings is imported
    from openpyxl.utils.cell import range_boundaries

    from acv_xl.checks.validate import validate_file
    from udfs import scripts
    from xlwings_payload import payload_from_xlsx, remote_book

    _require_soffice()
    src = Path(__file__).resolve().parents[1] / "workbooks" / "exemples" / "arras.xlsx"
    path = tmp_path / "espaces.xlsx"
    wb = openpyxl.load_workbook(src)
    f = layout.T_FINANCEMENTS
    ws = next(w for w in wb.worksheets if f.name in w.tables)
    c1, r1, _c2, r2 = range_boundaries(ws.tables[f.name].ref)
    fin, st, mt = (c1 + list(f.headers).index(f.header(a)) for a in ("financeur", "statut", "montant"))
    etat = next(r for r in range(r1 + 1, r2 + 1) if ws.cell(r, fin).value == "ETAT")
    ws.cell(etat, fin).value = "ETAT "
    ws.cell(r1 + 1, st).value = ws.cell(r1 + 1, st).value + " "
    wb.save(path)
    report = validate_file(path)
    named = [f for f in report.findings if f.code == "STR-13"]
    assert sorted(x.cellule for x in named) == sorted([ws.cell(etat, fin).coordinate, ws.cell(r1 + 1, st).coordinate])
    button = scripts.run_valider(remote_book(payload_from_xlsx(path, exclude=scripts.EXCLUDE)))
    assert [x.message for x in button.findings if x.code == "STR-13"] == [x.message for x in named]

    done = libreoffice.convert([path], "xlsx", tmp_path / "recalcul")
    syn = openpyxl.load_workbook(done[0], data_only=True)[layout.Sheet.SYNTHESE]
    sl = synthese_layout()
    t = report.totaux
    amount = lambda r: Decimal(str(ws.cell(r, mt).value)).quantize(Decimal("0.01"))  # noqa: E731
    assert _cents(syn[sl.par_financeur["ETAT"]].value) == t.par_financeur["ETAT"] - amount(etat)
    statut = ws.cell(r1 + 1, st).value.strip()
    assert _cents(syn[sl.par_statut[statut]].value) == t.par_statut[statut] - amount(r1 + 1)
    assert _cents(syn[sl.financement_total].value) == t.financement_total  # the total, not the breakdowns


def test_a_failed_conversion_is_said_in_french_without_libreoffice_s_english(tmp_path):
    """LibreOffice's own output (« Error: source file could not be loaded », « Warning: failed to
    launch javaldx… ») was quoted to the finance officer after « PDF non produit : ». The message
    names the file it could not open and what to do, in French only."""
    _require_soffice()
    bad = tmp_path / "annexe abîmée.xlsx"
    bad.write_bytes(b"pas un classeur")
    with pytest.raises(libreoffice.ConversionFailed) as exc:
        libreoffice.convert(bad, "pdf", tmp_path / "pdf")
    message = str(exc.value)
    assert message.startswith("LibreOffice n'a pas pu ouvrir « annexe abîmée.xlsx », la conversion a échoué."), message
    assert "enregistrez-le en PDF" in message
    assert not any(word in message.lower() for word in ("error", "warning", "source file", "java")), message


def test_str13_says_nothing_of_a_numero_the_synthese_finds_typed_alike(tmp_path):
    """« 2.1  » pasted on the action and on each of its lines, and « ETAT  » on a refused line: the recalculated
    Synthèse counts the action's lines in axe 2 (it looks the N° up as typed) and leaves the refused line out
    of every total — nothing to say, where STR-13 said of each that it was counted elsewhere."""
    from openpyxl.utils.cell import range_boundaries

    from acv_xl.checks.validate import validate_file

    _require_soffice()
    src = Path(__file__).resolve().parents[1] / "workbooks" / "exemples" / "arras.xlsx"
    path = tmp_path / "numeros.xlsx"
    wb = openpyxl.load_workbook(src)

    def table(t, *attrs):
        ws = next(w for w in wb.worksheets if t.name in w.tables)
        c1, r1, _c2, r2 = range_boundaries(ws.tables[t.name].ref)
        return ws, range(r1 + 1, r2 + 1), [c1 + list(t.headers).index(t.header(a)) for a in attrs]

    ws, lignes, (numero,) = table(layout.T_ACTIONS, "numero")
    for r in lignes:
        if ws.cell(r, numero).value == "2.1":
            ws.cell(r, numero).value = "2.1 "
    ws, lignes, (numero, financeur, statut) = table(layout.T_FINANCEMENTS, "numero", "financeur", "statut")
    typed = [r for r in lignes if ws.cell(r, numero).value == "2.1"]
    for r in typed:
        ws.cell(r, numero).value = "2.1 "
    refused = next(r for r in lignes if ws.cell(r, financeur).value == "ETAT" and r not in typed)
    ws.cell(refused, financeur).value = "ETAT "
    ws.cell(refused, statut).value = layout.STATUT_REFUSE
    wb.save(path)
    assert len(typed) > 1
    report = validate_file(path)
    assert [f for f in report.findings if f.code == "STR-13"] == []

    done = libreoffice.convert([path], "xlsx", tmp_path / "recalcul")
    syn = openpyxl.load_workbook(done[0], data_only=True)[layout.Sheet.SYNTHESE]
    sl = synthese_layout()
    t = report.totaux
    assert _cents(syn[sl.axe_autres].value) == 0 and _cents(syn[sl.financeur_autres].value) == 0
    assert _cents(syn[sl.par_axe[2]].value) == t.par_axe["2"]
    assert _cents(syn[sl.par_financeur["ETAT"]].value) == t.par_financeur["ETAT"]


def test_a_failed_conversion_gives_libreoffice_s_last_words_for_the_support(tmp_path, monkeypatch):
    """A conversion that stopped with a code (a full disk, a broken installation) said « LibreOffice
    s'est arrêté avec le code 1 » and nothing else: what LibreOffice wrote was kept nowhere, and no one
    could tell why. Its last three lines are quoted, its usual noise left out, each line cut."""
    fake = tmp_path / "soffice"
    lines = ["Warning: failed to launch javaldx - java may not function correctly", "premiere ligne",
             "Error: a", "Error: b", "Error: " + "x" * 1000]
    fake.write_text("#!/bin/sh\n" + "".join(f"echo '{ln}' >&2\n" for ln in lines) + "exit 77\n")
    fake.chmod(0o755)
    monkeypatch.setattr(libreoffice, "soffice", lambda: str(fake))
    src = tmp_path / "annexe.xlsx"
    src.write_bytes(b"x")
    with pytest.raises(libreoffice.ConversionFailed) as exc:
        libreoffice.convert(src, "pdf", tmp_path / "pdf")
    message = str(exc.value)
    assert message.startswith("LibreOffice s'est arrêté avec le code 77, la conversion a échoué."), message
    assert message.endswith(f"Message de LibreOffice, pour l'assistance : « Error: a / Error: b / Error: "
                            f"{'x' * (libreoffice.OWN_LINE_CHARS - 8)}… »."), message
    assert "javaldx" not in message and "premiere" not in message
