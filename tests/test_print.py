"""Every workbook acv-xl writes, printed by LibreOffice and measured on the PDF (`pdftotext -bbox`):
type readable without a magnifier, headers whole and clear of the first data row.

The workbooks: the template, a filled example, its annotated copy (with findings), the annex, the
consolidation of the examples, the écarts of two states of a convention, one financeur's extract
and the history of the register. One LibreOffice run converts them all (the annex and the écarts
have no Excel tables: their headers are checked by their own tests).
"""

from __future__ import annotations

import html
import re
import statistics
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import get_column_letter, range_boundaries

from acceptance_support import EXEMPLES, acv, edited_copy, table_of

from acv_xl.outputs import libreoffice, page_layout

MIN_MEDIAN_WORD_PT = 7.0  # ≈ 8 pt type: what a comité reads without a magnifier

_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def _pages(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [[(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in _WORD.findall(page)]
            for page in re.findall(r"<page[^>]*>(.*?)</page>", out, flags=re.S)]


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("impression")
    faulty = EXEMPLES / "saint-omer.xlsx"
    clean = EXEMPLES / "arras.xlsx"
    steps = [
        ("modele", ("modele", d / "modele.xlsx")),
        ("exemple", None),
        ("annote", ("valider", faulty, "--annoter", d / "annote.xlsx")),
        ("annexe", ("annexe", clean, "-o", d / "annexe.xlsx", "--brouillon")),
        ("consolidation", ("consolider", EXEMPLES, "-o", d / "consolidation.xlsx", "--jobs", "1")),
    ]
    (d / "exemple.xlsx").write_bytes(clean.read_bytes())
    for name, args in steps:
        if args:
            out = acv(*args)
            assert out.returncode in (0, 1) and (d / f"{name}.xlsx").exists(), (name, out.stderr)
    # the outputs of the time dimension: écarts between two states, one financeur's extract, the history
    later = d / "apres.xlsx"
    edited_copy(clean, later, _raise_first_amount)
    assert acv("comparer", clean, later, "-o", d / "ecarts.xlsx").returncode == 1
    reg = d / "registre.sqlite"
    assert acv("consolider", EXEMPLES, "-o", d / "c1.xlsx", "--registre", reg, "--par-financeur", d / "extraits",
               "--jobs", "1").returncode in (0, 1)
    (d / "extrait.xlsx").write_bytes((d / "extraits" / "financeur_ETAT.xlsx").read_bytes())
    assert acv("historique", reg, "-o", d / "historique.xlsx").returncode == 0
    steps += [("ecarts", None), ("extrait", None), ("historique", None)]
    books = [d / f"{name}.xlsx" for name, _ in steps]
    pdfs = libreoffice.convert(books, "pdf", d / "pdf")
    return {b.stem: (b, p) for b, p in zip(books, pdfs)}


def _raise_first_amount(wb):
    ws, table = table_of(wb, "T_Financements")
    c1, r1, c2, _ = range_boundaries(table.ref)
    col = [ws.cell(r1, c).value for c in range(c1, c2 + 1)].index("Montant (€)")
    ws.cell(r1 + 1, c1 + col).value += 1000


ALL = ["modele", "exemple", "annote", "annexe", "consolidation", "ecarts", "extrait", "historique"]


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", ALL)
def test_no_page_prints_smaller_than_8_pt(printed, name):
    _, pdf = printed[name]
    pages = _pages(pdf)
    assert pages
    small = []
    for n, words in enumerate(pages, 1):
        heights = [y2 - y1 for _, y1, _, y2, _ in words]
        if heights and statistics.median(heights) < MIN_MEDIAN_WORD_PT:
            small.append((n, round(statistics.median(heights), 1), " ".join(w for *_, w in words[:8])))
    assert not small, f"{name} : pages imprimées trop petit {small}"


def _footer(words) -> str:
    """The text of the page's last line (its footer), left to right."""
    bottom = max(y1 for _, y1, _, _, _ in words)
    return " ".join(w for *_, w in sorted((x for x in words if x[1] >= bottom - 3), key=lambda x: x[0]))


def _sheet_pages(pages, sheet: str):
    """The pages of a sheet: their footer starts with its name (page_layout.sheet_footer)."""
    for words in pages:
        if words and _footer(words).startswith((f"{sheet} — ", f"{sheet} Page ")):
            yield words


def _tables(xlsx: Path):
    """(sheet, headers, first data value of the first column or None) of every table."""
    wb = openpyxl.load_workbook(xlsx)
    for ws in wb.worksheets:
        for t in ws.tables.values():
            c1, r1, c2, r2 = range_boundaries(t.ref)
            headers = [str(ws.cell(r1, c).value) for c in range(c1, c2 + 1)]
            first = ws.cell(r1 + 1, c1).value if r2 > r1 else None
            yield ws.title, headers, (None if first in (None, "") else str(first))


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", ["modele", "exemple", "annote", "consolidation", "extrait", "historique"])
def test_every_header_prints_whole_above_the_first_data_row(printed, name):
    xlsx, pdf = printed[name]
    pages = _pages(pdf)
    problems = []
    for sheet, headers, first in _tables(xlsx):
        above: set[str] = set()  # words printed above the first data row, on every page of the sheet
        found_pages = 0
        for words in _sheet_pages(pages, sheet):
            found_pages += 1
            # the first data row: the first-column value nearest below the first column's header
            key = headers[0].split()[0]
            header_top = min((y1 for _, y1, _, _, w in words if w == key), default=0)
            tops = [y1 for _, y1, _, _, w in words
                    if first is not None and w == first.split()[0] and y1 > header_top + 1]
            limit = min(tops, default=float("inf"))
            above |= {w for _, _, _, y2, w in words if y2 <= limit + 0.5}
        if not found_pages:
            problems.append(f"{sheet} : aucune page")
            continue
        for h in headers:
            missing = [w for w in h.split() if w not in above]
            if missing:
                problems.append(f"{sheet} / « {h} » : {missing}")
    assert not problems, f"{name} : en-têtes coupés ou sur la première ligne\n" + "\n".join(problems)


def _printed_lines(ys: list[float]) -> int:
    """The lines of text whose words start at `ys` (a word within 2 pt of the line's first is on it)."""
    lines, last = 0, None
    for y in sorted(ys):
        if last is None or y - last > 2:
            lines += 1
            last = y
    return lines


def _header_lines(xlsx: Path, pdf: Path) -> dict[str, int]:
    """The lines each table's headers print (the most on any page of its sheet), by sheet and first
    header."""
    pages = _pages(pdf)
    out = {}
    for sheet, headers, first in _tables(xlsx):
        if first is None:
            continue
        words_of = {w for h in headers for w in h.split()}
        most = 0
        for words in _sheet_pages(pages, sheet):
            top = min((y1 for _, y1, _, _, w in words if w == headers[0].split()[0]), default=None)
            if top is None:
                continue
            limit = min((y1 for _, y1, _, _, w in words if w == first.split()[0] and y1 > top + 1), default=None)
            if limit is not None:  # the first row's amounts start 2 pt above its texts
                most = max(most, _printed_lines([y1 for _, y1, _, _, w in words
                                                 if top - 1 <= y1 < limit - 3 and w in words_of]))
        out[f"{sheet} / {headers[0]}"] = most
    return out


# Excel prints a column of w characters with 7 w pixels (at 96 dpi) for its text, where LibreOffice holds
# w + 0.2 digits of 7.43 (Calibri 11, unhinted, as printed; measured): a copy of each workbook with its
# columns narrowed so, printed by LibreOffice, shows where Excel's printed lines end
EXCEL_PRINTED, LIBREOFFICE_MORE = 7 / 7.43, 0.2
HEADED = ["exemple", "consolidation", "extrait", "historique"]


@pytest.fixture(scope="module")
def narrowed(printed, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("etroit")
    books = []
    for name in HEADED:
        wb = openpyxl.load_workbook(printed[name][0])
        for ws in wb.worksheets:
            for dim in ws.column_dimensions.values():
                if dim.width:
                    # the 5 pixels of its margins kept
                    dim.width = (dim.width - 5 / 7) * EXCEL_PRINTED - LIBREOFFICE_MORE + 5 / 7
        wb.save(d / f"{name}.xlsx")
        books.append(d / f"{name}.xlsx")
    return dict(zip(HEADED, libreoffice.convert(books, "pdf", d / "pdf")))


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", HEADED)
def test_every_header_row_is_as_tall_as_its_printed_headers(printed, narrowed, name):
    """A header row holds the lines its headers print, in LibreOffice or (narrower) in Excel, and not
    one more: counted in characters, « Actions engagées ou terminées » took four lines where three
    print (and « Identifiant ACV » two where one does), and the rows under the consolidation's headers
    started a blank line lower."""
    xlsx, pdf = printed[name]
    wide, narrow = _header_lines(xlsx, pdf), _header_lines(xlsx, narrowed[name])
    wb = openpyxl.load_workbook(xlsx)
    problems = []
    for ws in wb.worksheets:
        for t in ws.tables.values():
            c1, r1, _, _ = range_boundaries(t.ref)
            key = f"{ws.title} / {ws.cell(r1, c1).value}"
            if not wide.get(key):
                continue
            lines = round(((ws.row_dimensions[r1].height or page_layout.LINE_PT) - 2) / page_layout.LINE_PT)
            if not narrow[key] <= lines <= max(wide[key], narrow[key]):
                problems.append(f"{key} : {lines} lignes, {wide[key]} imprimées ({narrow[key]} dans Excel)")
    assert not problems, f"{name} : rangées d'en-tête plus hautes ou plus basses que leur texte\n" + "\n".join(problems)


# ------------------------------------------------------------------ the layout decisions themselves
@pytest.mark.parametrize("name", ["modele", "annote", "annexe", "consolidation", "ecarts", "extrait", "historique"])
def test_page_headers_and_footers_keep_their_size_on_a_sheet_fitted_to_its_page(printed, name):
    """Excel scales a page's header and footer with a sheet fitted to its page unless told not to
    (`scaleWithDoc`, true by default): the annex's footers — convention, page numbers, date — printed at
    6 to 7 pt where the sheet was fitted to 77 to 93 %. LibreOffice scales them whatever the file says
    (so the PDFs above cannot show it): the file is read here."""
    xlsx, _ = printed[name]
    wb = openpyxl.load_workbook(xlsx)
    for ws in wb.worksheets:
        hf = ws.HeaderFooter
        if any(part.text for item in (hf.oddHeader, hf.oddFooter) for part in (item.left, item.center, item.right)):
            assert hf.scaleWithDoc is False, (name, ws.title)


def test_wrapped_text_lines():
    assert page_layout.text_lines("Date de la demande", 12) == 2
    assert page_layout.text_lines("Montant (€)", 14) == 1
    assert page_layout.text_lines("a\nb", 30) == 2
    assert page_layout.text_lines("x" * 50, 10) >= 5  # a long word is broken across lines


@pytest.mark.libreoffice
def test_a_text_with_carriage_returns_prints_within_its_rows_height(tmp_path):
    """A carriage return alone (a text pasted from another tool) starts a line in print, as a line feed:
    taken for a character of its word, « :\\rvoirie\\réclairage » was one word, and the row, in a column
    of 40, was given two lines of the four its text takes: the last ones were cut."""
    import xlsxwriter

    text = "Travaux prévus :\rvoirie\réclairage public\rmobilier urbain"
    wb = xlsxwriter.Workbook(tmp_path / "cr.xlsx")
    ws = wb.add_worksheet("Feuille")
    ws.set_column(0, 0, 40)
    ws.write_string(0, 0, text, wb.add_format({"text_wrap": True, "valign": "top"}))
    height = page_layout.row_height([(text, 40)])
    ws.set_row(0, height)
    wb.close()
    (pdf,) = libreoffice.convert([tmp_path / "cr.xlsx"], "pdf", tmp_path / "pdf")
    (page,) = _pages(pdf)
    printed = _printed_lines([y0 for _, y0, _, _, w in page if w in text.split()])
    assert printed <= round((height - 2) / page_layout.LINE_PT), (printed, height)
    assert page_layout.text_lines("un\r\ndeux", 20) == 2  # a line break of Windows is one break


def test_row_height_follows_the_longest_cell():
    one = page_layout.row_height([("court", 20)])
    three = page_layout.row_height([("court", 20), ("un texte bien plus long que sa colonne étroite", 12)])
    assert one == page_layout.LINE_PT + 2 and three >= 3 * page_layout.LINE_PT


def test_a_narrow_sheet_fits_one_page_wide_and_a_wide_one_keeps_8_pt():
    narrow = page_layout.plan([10, 40, 20, 16])
    assert narrow.fit_width
    wide = page_layout.plan([10, 40] + [16] * 20, key_columns=(0, 1))
    assert not wide.fit_width and wide.repeat_columns == (0, 1)
    assert wide.scale / 100 * page_layout.BASE_FONT_PT >= page_layout.MIN_PRINTED_PT


def test_the_footer_escapes_ampersands():
    assert page_layout.footer_text("Lens & Liévin") == "Lens && Liévin"
    # bounded, with « … », never between the two `&` of one: a lone `&` is a control character there
    assert page_layout.footer_text("x" * 199 + "& Liévin") == "x" * 199 + "…"
    assert page_layout.footer_text("x" * 198 + "& Liévin") == "x" * 198 + "…"
    assert page_layout.footer_text("x" * 197 + "& Liévin") == "x" * 197 + "&&…"


def test_a_page_header_of_titles_stays_within_excels_255_characters(tmp_path):
    """The titles of a sheet several pages wide print in its page header, which Excel limits to 255
    characters (XlsxWriter writes none past them, silently): a long comité label in the subtitle is cut
    with « … » (the title kept whole), never inside an emoji nor between the two `&` of one; « &G » or
    « &[ » in a name (read by XlsxWriter as an image) leaves the header written."""
    import warnings

    import xlsxwriter

    from acv_xl.contract.values import excel_length

    title = "Lignes de financement de toutes les conventions comptées"
    subtitle = "Consolidation Action Cœur de Ville — département 62 — " + "R&G 🏛 " * 60
    header = page_layout.titles_header(title, subtitle)
    assert excel_length(header) <= page_layout.HEADER_MAX
    assert title in header and header.endswith("…" + page_layout.HEADER_RIGHT)
    body = header[header.index("\n"):-len(page_layout.HEADER_RIGHT)]
    body.encode("utf-16-le")  # strict: half an emoji (a lone surrogate) would raise
    assert all(len(run) % 2 == 0 for run in re.findall("&+", body.split("&8", 1)[1])), body
    long_title = page_layout.titles_header("T" * 400, "sous-titre")
    assert excel_length(long_title) <= page_layout.HEADER_MAX and "sous-titre" in long_title
    wb = xlsxwriter.Workbook(tmp_path / "t.xlsx")
    ws = wb.add_worksheet()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ws.set_header(header)
        ws.set_header(page_layout.titles_header("Comité R&G &[Picture]", subtitle))
    assert ws.header and "R&&\u2060G" in ws.header
    wb.close()


# ------------------------------------------------------------------ notes and charts of the consolidation
@pytest.mark.libreoffice
def test_the_synthese_notes_print_whole_on_a_page(printed):
    """The notes under the Synthèse (how the readiness class is decided) were written in column A and
    ran past the first page's edge: cut there (« d'après les dates d »), their ends mixed into the
    next pages. Each is wrapped across the first page's columns: every word printed, in order."""
    xlsx, pdf = printed["consolidation"]
    ws = openpyxl.load_workbook(xlsx)["Synthèse"]
    notes = [c.value for row in ws.iter_rows(min_row=3) for c in row if isinstance(c.value, str) and len(c.value) > 120]
    assert len(notes) >= 3
    pages = [[w for *_, w in words] for words in _sheet_pages(_pages(pdf), "Synthèse")]
    for note in notes:
        want = note.split()
        assert any(want == words[i:i + len(want)] for words in pages for i in range(len(words))), note


@pytest.mark.libreoffice
def test_the_historique_notes_print_whole(evolution):
    """Under `Mouvements` and `Mouvements par financeur`, the notes (a change of scope between two
    consolidations, what « engagements obtenus » counts) were written in column A, one line each: they
    ran past the page's edge and were cut there (« … et leurs écarts peuvent n'être »). Each is wrapped
    across the first page's columns, as the Synthèse's: every word printed, in order."""
    (pdf,) = libreoffice.convert([evolution], "pdf", evolution.parent / "pdf" / "notes")
    wb = openpyxl.load_workbook(evolution)
    for sheet in ("Mouvements", "Mouvements par financeur"):
        notes = [c.value for row in wb[sheet].iter_rows(min_row=3) for c in row
                 if isinstance(c.value, str) and len(c.value) > 120]
        assert notes, sheet
        pages = [[w for *_, w in words] for words in _sheet_pages(_pages(pdf), sheet)]
        for note in notes:
            want = note.split()
            assert any(want == words[i:i + len(want)] for words in pages for i in range(len(words))), (sheet, note)


@pytest.mark.libreoffice
def test_the_notes_leave_the_key_columns_to_the_pages_across(printed, evolution):
    """The notes under the Synthèse and Mouvements, merged from column A across the first page, lay
    partly in the key columns the sheet repeats on each page across: every such page printed their first
    words again, cut at the key columns' edge (« Phase au comité : initialisation, déploiement ou
    termi »). They start past the key columns: a page across prints none of them."""
    (history,) = libreoffice.convert([evolution], "pdf", evolution.parent / "pdf" / "notes_cles")
    for (xlsx, pdf), sheet, first_other in (((printed["consolidation"]), "Synthèse", "Communes"),
                                            ((evolution, history), "Mouvements", "Libellé")):
        ws = openpyxl.load_workbook(xlsx)[sheet]
        notes = [c.value for row in ws.iter_rows(min_row=3) for c in row
                 if isinstance(c.value, str) and len(c.value) > 120]
        assert notes, sheet
        across = [" ".join(w for *_, w in words) for words in _sheet_pages(_pages(pdf), sheet)
                  if any(w == "Identifiant" for *_, w in words) and first_other not in _header_words(words)]
        assert across, sheet
        for text in across:
            assert not any(" ".join(note.split()[:6]) in text for note in notes), (sheet, text[-300:])


def _charts(xlsx: Path) -> dict[str, list[tuple[int, int, int, float]]]:
    """Sheet → its charts as (first column, first row, last column, pixels into the last column), from
    the drawings' anchors (XlsxWriter anchors a chart to two cells; its size is not written)."""
    import zipfile

    with zipfile.ZipFile(xlsx) as z:
        wb = openpyxl.load_workbook(xlsx)
        out = {}
        for k, ws in enumerate(wb.worksheets, 1):
            rels = z.read(f"xl/worksheets/_rels/sheet{k}.xml.rels").decode() \
                if f"xl/worksheets/_rels/sheet{k}.xml.rels" in z.namelist() else ""
            target = re.search(r'Target="../drawings/(drawing\d+\.xml)"', rels)
            if not target:
                continue
            xml = z.read(f"xl/drawings/{target.group(1)}").decode()
            out[ws.title] = [(int(c), int(r), int(c2), int(off) / 9525) for c, r, c2, off in re.findall(
                r"<xdr:from><xdr:col>(\d+)</xdr:col>.*?<xdr:row>(\d+)</xdr:row>.*?</xdr:from>"
                r"<xdr:to><xdr:col>(\d+)</xdr:col><xdr:colOff>(\d+)</xdr:colOff>", xml, flags=re.S)]
        return out


def test_the_consolidations_charts_stay_within_the_first_pages_columns_and_on_one_page(tmp_path):
    """A chart beside a table several pages wide (Synthèse, Par financeur) was cut at the first page's
    edge and went on in pieces on the next pages; one under the notes was cut across two pages. Each
    now ends within the columns the first page holds, and starts a page when it would not end on its own."""
    from acv_xl.outputs import consolidation_workbook as W

    assert acv("consolider", EXEMPLES, "-o", tmp_path / "c.xlsx", "--jobs", "1").returncode in (0, 1)
    wb = openpyxl.load_workbook(tmp_path / "c.xlsx")
    charts = _charts(tmp_path / "c.xlsx")
    assert {"Synthèse", "Par financeur", "Par axe", "Par année"} <= set(charts)
    for sheet, found in charts.items():
        ws = wb[sheet]
        widths = [ws.column_dimensions[get_column_letter(j)].width for j in range(1, ws.max_column + 1)]
        widths = [w - 0.7109375 if w else 8.43 for w in widths]  # XlsxWriter writes width + 0.71
        scale = ws.page_setup.scale
        p = page_layout.PrintPlan(True, scale is None, int(scale or 100), None)
        room = page_layout.first_page_points(widths, p) / 0.75
        assert found, sheet
        for col, row, last, into in found:
            end = sum(page_layout.column_points(w) for w in widths[:last]) / 0.75 + into  # the chart's right edge
            assert end <= room + 1, (sheet, col, last, into, room)
    breaks = [b.id for b in wb["Synthèse"].row_breaks.brk]
    table_end = max(r for r in range(1, 40) if wb["Synthèse"].cell(r, 1).value == "Total")
    classes_at = next(r for r in range(table_end, table_end + 20) if wb["Synthèse"].cell(r, 1).value == W.H.PREPARATION)
    assert breaks == [classes_at - 1]  # the class table and its chart start the next page


@pytest.mark.libreoffice
def test_the_lignes_total_formula_prints_the_counted_total(printed):
    """`Lignes`' total row is a formula (the counted lines shown by the filter), recalculated on
    loading by LibreOffice: printed, it is the consolidation's financing total, in French."""
    from acv_xl.contract.values import fmt_euros
    from acv_xl.outputs.consolidation_workbook import Feuille

    xlsx, pdf = printed["consolidation"]
    ws = openpyxl.load_workbook(xlsx)[Feuille.LIGNES]
    total_row = next(r for r in range(ws.max_row, 3, -1) if ws.cell(r, 1).value == "Total")
    formula = next(c.value for c in ws[total_row] if isinstance(c.value, str) and c.value.startswith("="))
    assert "SUMPRODUCT" in formula
    synthese = openpyxl.load_workbook(xlsx, data_only=True)["Synthèse"]
    expected = fmt_euros(Decimal(str(next(synthese.cell(r, 10).value for r in range(4, synthese.max_row + 1)
                                          if synthese.cell(r, 1).value == "Total"))))
    printed_text = [" ".join(w for *_, w in words) for words in _sheet_pages(_pages(pdf), Feuille.LIGNES)]
    assert any(expected in text for text in printed_text), expected


def _a_departement(tmp_path, n: int = 88, scale: Decimal = Decimal(1)) -> Path:
    """The consolidation of `n` conventions, each financed by every financeur of the template: each
    sheet's table runs over several pages, its chart under it. Amounts of thousands of euros, times
    `scale`."""
    from acv_xl.checks.rules.consolidation import FileSummary, judge
    from acv_xl.checks.totals import Totaux
    from acv_xl.checks.validate import ETAT_VALIDE
    from acv_xl.contract import layout
    from acv_xl.outputs import consolidation as C
    from acv_xl.outputs import consolidation_workbook as W

    codes = list(layout.FINANCEURS_BY_CODE)
    summaries = []
    for k in range(n):
        par = {c: Decimal(1_000 * (j + 1) + k) * scale for j, c in enumerate(codes)}
        total = sum(par.values(), Decimal(0))
        t = Totaux(cout_total=total, financement_total=total, par_financeur=par, par_axe={"1": total},
                   par_annee={"2026": total}, par_statut={"Acquis": total})
        summaries.append(FileSummary(path=f"/d/c{k}.xlsx", rel=f"c{k}.xlsx", etat=ETAT_VALIDE, acv_id=f"ACV{k:03}",
                                     libelle=f"Commune n° {k}", communes=(f"Commune n° {k}",), totaux=t))
    out = tmp_path / "departement.xlsx"
    W.write_workbook(C.ConsolidationResult(summaries, judge(summaries)), out)
    return out


def _row_heights_pt(ws, last: int) -> list[float]:
    return [ws.row_dimensions[r].height or page_layout.LINE_PT for r in range(1, last + 1)]


def test_a_chart_under_a_table_longer_than_a_page_starts_a_page(tmp_path):
    """Where a table ends on paper was guessed page after page, each page a little shorter than the
    spreadsheet's: under some ninety conventions the guess was a page off, and the charts, « starting a
    page » by the guess, were cut across two pages by LibreOffice. A chart that does not end
    on the first page now starts one, after a page break of its own."""
    out = _a_departement(tmp_path)
    wb = openpyxl.load_workbook(out)
    charts = _charts(out)
    assert {"Par financeur", "Par axe", "Par année"} <= set(charts)
    for sheet in ("Par financeur", "Par axe", "Par année"):
        ws = wb[sheet]
        (col, row, _last, _into), = charts[sheet]
        assert row > 80  # under the table of the conventions, far past the first page
        assert row in [b.id for b in ws.row_breaks.brk], sheet


@pytest.mark.libreoffice
def test_a_chart_under_a_table_longer_than_a_page_prints_whole(tmp_path):
    from acv_xl.contract import layout

    if libreoffice.soffice() is None:
        pytest.fail(libreoffice.INSTALL_HINT)
    out = _a_departement(tmp_path)
    pdf = libreoffice.convert(out, "pdf", tmp_path / "pdf")[0]
    pages = [" ".join(w for *_, w in words) for words in _pages(pdf)]
    for title in ("Financement par financeur (hors refusés)", "Financement par axe (hors refusés)",
                  "Financement par année (hors refusés)"):
        on = [p for p in pages if title in p]  # a chart cut across two pages is drawn, clipped, on both
        assert len(on) == 1, (title, len(on))
    below = next(p for p in pages if "Financement par financeur (hors" in p).split("(hors refusés)", 1)[1]
    assert all(f" {code} " in f" {below} " for code in layout.FINANCEURS_BY_CODE), below[:400]  # every bar


@pytest.mark.libreoffice
def test_a_sheet_several_pages_wide_prints_the_rest_of_its_rows_on_the_next_page(printed):
    """`Lignes` prints two pages wide with its key columns repeated. Down then across (the
    spreadsheets' default), the rest of page 1's lines printed eight pages later, among other such
    pages, with only the key columns to tell whose. Across then down, each page of the rest follows
    the page of the same lines' actions, financeurs and montants, row for row."""
    _, pdf = printed["consolidation"]
    pages = list(_sheet_pages(_pages(pdf), "Lignes"))
    assert len(pages) >= 4
    ids = re.compile(r"ACV\d{3}")
    for first, second in zip(pages[0::2], pages[1::2]):
        words_1, words_2 = {w for *_, w in first}, {w for *_, w in second}
        assert {"Financeur", "Montant"} <= words_1 and "Fichier" in words_2, (sorted(words_1)[:20], sorted(words_2)[:20])

        def column(words):  # the repeated key column, top to bottom, with each value's height on the page
            return [(round(y1), w) for x1, y1, _, _, w in sorted(words, key=lambda x: x[1]) if ids.fullmatch(w)]
        assert column(first) == column(second)


def _header_words(words) -> set[str]:
    """The words of a page's table header: the line under the page's title block, where the
    header's first word (« Identifiant ») is."""
    top = min((y1 for _, y1, _, _, w in words if w == "Identifiant"), default=None)
    assert top is not None, " ".join(w for *_, w in words[:30])
    return {w for _, y1, _, _, w in words if top - 2 <= y1 <= top + 12}


@pytest.mark.libreoffice
def test_each_page_across_of_a_long_table_says_whose_its_rows_are(printed, evolution):
    """`Lignes` (the consolidation's, a financeur's extract's) and `Mouvements` print two pages wide.
    Their continuation page repeated column A alone — « Identifiant ACV », or « Avant » (the comité)
    in `Mouvements` —: its montants, statuts and files did not say which convention, action or
    financeur they were of. The identifying columns come first and print on every page."""
    (history,) = libreoffice.convert([evolution], "pdf", evolution.parent / "pdf")
    cases = [(printed["consolidation"][1], "Lignes", {"Identifiant", "Libellé", "N°", "action"}),
             (printed["extrait"][1], "Lignes", {"Identifiant", "Libellé", "N°", "action"}),
             (history, "Mouvements", {"Identifiant", "N°", "action", "Financeur"}),
             # its page of suggestions said only the file, not which of its findings each suggestion was of
             (printed["consolidation"][1], "Anomalies", {"Fichier", "Identifiant", "Gravité", "Code"})]
    for pdf, sheet, keys in cases:
        pages = list(_sheet_pages(_pages(pdf), sheet))
        assert len(pages) >= 2, (pdf.name, sheet)
        for n, words in enumerate(pages, 1):
            assert keys <= _header_words(words), (pdf.name, sheet, n, sorted(_header_words(words)))


@pytest.mark.libreoffice
def test_the_title_of_a_sheet_several_pages_wide_prints_whole_on_each_page(printed, evolution):
    """`Lignes` (the consolidation's, an extract's), `Anomalies`, `Mouvements` and `Par financeur` repeat
    their key columns on each page across: their title and subtitle, written in A1 and A2 and running
    past those columns, were cut at their edge on every page but the first (« Lignes de financement de
    toutes les conventions », « … — tous départements — gén »); then wrapped over the key columns, they
    stood in a band of up to ten lines above the frozen table on screen, and the examples' consolidation
    printed 33 pages. They print whole in the page header of every page, above the table's header row,
    and rows 1 and 2 stay one line each on screen, out of the print area."""
    (history,) = libreoffice.convert([evolution], "pdf", evolution.parent / "pdf" / "titres")
    cases = [(printed["consolidation"], "Lignes"), (printed["consolidation"], "Par financeur"),
             (printed["consolidation"], "Anomalies"), (printed["extrait"], "Lignes"),
             ((evolution, history), "Mouvements")]
    for (xlsx, pdf), sheet in cases:
        ws = openpyxl.load_workbook(xlsx)[sheet]
        titre, sous_titre = ws["A1"].value, ws["A2"].value
        first, last = range_boundaries(ws.print_area.split("!")[1])[1::2]
        assert first == 3 and last >= ws.max_row, (sheet, ws.print_area)  # from the table's header down
        assert not any(r.min_row <= 2 for r in ws.merged_cells.ranges), sheet  # one line each on screen
        assert all(ws.row_dimensions[r].height is None for r in (1, 2)), sheet
        pages = list(_sheet_pages(_pages(pdf), sheet))
        assert len(pages) >= 2, (pdf.name, sheet)
        for n, words in enumerate(pages, 1):
            header_top = min((y0 for _, y0, _, _, w in words if w == "Identifiant"), default=None)
            if header_top is None:  # a page of a chart or of a table below: the title is there too
                header_top = max(y0 for _, y0, _, _, _ in words)
            above = " ".join(w for _, y0, _, _, w in sorted(words, key=lambda x: (round(x[1]), x[0]))
                             if y0 < header_top - 2)
            assert titre in above and sous_titre in above, (pdf.name, sheet, n, above)


@pytest.mark.libreoffice
def test_a_page_under_a_table_that_fits_on_the_first_prints_no_header_of_that_table(printed, tmp_path):
    """Every sheet of the consolidation repeated its table's header row on each page: under the
    Synthèse of a few conventions, the page of « Préparation » and its chart printed beneath the
    Synthèse's header (« Identifiant ACV, Libellé, Communes… »), which said nothing of them. The
    header is repeated only for a table that runs past its first page."""
    _, pdf = printed["consolidation"]
    ids = re.compile(r"ACV\d{3}")
    below = [{w for *_, w in words} for words in _sheet_pages(_pages(pdf), "Synthèse")]
    below = [words for words in below if "Préparation" in words and not any(ids.fullmatch(w) for w in words)]
    assert below, "la page de la préparation des conventions"
    assert all("Identifiant" not in words for words in below), below
    wb = openpyxl.load_workbook(printed["consolidation"][0])
    assert wb["Lignes"].print_title_rows == "$3:$3"  # a table over several pages: its header on each
    long = openpyxl.load_workbook(_a_departement(tmp_path))  # 88 conventions: the Synthèse over pages
    assert long["Synthèse"].print_title_rows == "$3:$3"


@pytest.mark.parametrize("n", [32, 34])
def test_a_table_said_to_fit_on_its_first_page_fits_there_under_its_titles(tmp_path, n):
    """Whether a table's header row is repeated on each page is decided by whether it fits on the first:
    the title and subtitle of a sheet several pages wide, wrapped over its key columns afterwards, made
    their rows three times as tall, and the `Par financeur` of 32 or 34 conventions, said to fit, no
    longer surely did (its rest would print header-less). Said to fit, it fits with its titles (now in
    the page header, their rows still counted)."""
    from acv_xl.outputs import consolidation_workbook as W

    wb = openpyxl.load_workbook(_a_departement(tmp_path, n))
    for ws in wb:
        if ws.print_title_cols is None or ws.print_title_rows is not None:
            continue  # one page wide (titles not wrapped), or its header repeated anyway
        widths = [ws.column_dimensions[get_column_letter(j)].width for j in range(1, ws.max_column + 1)]
        widths = [w - 0.7109375 if w else 8.43 for w in widths]  # XlsxWriter writes width + 0.71
        scale = ws.page_setup.scale
        p = page_layout.PrintPlan(True, scale is None, int(scale or 100), None)
        page = W._Writer.page_points(type("Sheet", (), {"print_widths": widths}), p)
        (table,) = [t for t in ws.tables.values() if range_boundaries(t.ref)[1] == 3]
        last = range_boundaries(table.ref)[3]
        assert sum(ws.row_dimensions[r].height or page_layout.LINE_PT for r in range(1, last + 1)) <= page, ws.title


def test_amount_columns_of_the_consolidation_are_as_wide_as_their_amounts(tmp_path):
    """Amount columns had fixed widths (15 for a financeur): a financeur's 1 234 567 890,12 € in a
    convention or over the départements printed « ### ». Each is as wide as its widest amount."""
    out = _a_departement(tmp_path, n=3, scale=Decimal("617283.94506"))  # 1 234 567 890,12 € and more
    wb = openpyxl.load_workbook(out)
    narrow = []
    for ws in wb.worksheets:
        widths = {j: dim.width for dim in ws.column_dimensions.values() for j in range(dim.min, dim.max + 1)}
        for row in ws.iter_rows():
            for c in row:
                if "€" in (c.number_format or "") and isinstance(c.value, (int, float)):
                    if widths.get(c.column, 8.43) < page_layout.euros_width([Decimal(str(c.value))]):
                        narrow.append((ws.title, c.coordinate, c.value))
    assert not narrow, narrow[:5]


@pytest.fixture(scope="module")
def evolution(tmp_path_factory) -> Path:
    """The history of two consolidations of the examples, the second with Arras' first amount raised
    and a change of scope (« --departement 62 »): movements in both sheets."""
    tmp_path = tmp_path_factory.mktemp("evolution")
    reg = tmp_path / "registre.sqlite"
    later = tmp_path / "plus_tard"
    later.mkdir()
    for f in EXEMPLES.glob("*.xlsx"):
        (later / f.name).write_bytes(f.read_bytes())
    edited_copy(EXEMPLES / "arras.xlsx", later / "arras.xlsx", _raise_first_amount)
    for folder, more in ((EXEMPLES, ()), (later, ("--departement", "62"))):
        assert acv("consolider", folder, "-o", tmp_path / "c.xlsx", "--registre", reg, "--jobs", "1", "--remplacer",
                   *more).returncode in (0, 1)
    assert acv("historique", reg, "-o", tmp_path / "h.xlsx").returncode == 0
    return tmp_path / "h.xlsx"


def test_the_labels_of_two_consolidations_wrap_in_the_movements(evolution):
    """« Consolidation du 06/12/2026 à 23:50 (n° 1) » in the 24 characters of « Avant », beside a
    filled « Après », printed « Consolidation du 06/12/2026 à »: which comité, lost. The labels (and
    a change of scope) wrap, in rows as tall as they need, in both sheets of movements."""
    wb = openpyxl.load_workbook(evolution)
    for sheet in ("Mouvements", "Mouvements par financeur"):
        ws = wb[sheet]
        widths = {j: dim.width for dim in ws.column_dimensions.values() for j in range(dim.min, dim.max + 1)}
        headers = [c.value for c in ws[3]]
        labels = [headers.index(h) for h in ("Avant", "Après", "Changement de périmètre")]
        rows = [r for r in ws.iter_rows(min_row=4) if str(r[labels[0]].value or "").startswith("Consol")]
        assert rows, sheet
        for r in rows:
            for c in (r[j] for j in labels):
                if c.value:
                    lines = page_layout.text_lines(c.value, widths[c.column])
                    assert c.alignment.wrap_text and lines > 1, (sheet, c.coordinate, c.value)
                    assert (ws.row_dimensions[c.row].height or 15) >= lines * page_layout.LINE_PT, (sheet, c.coordinate)


def test_the_width_of_an_amount_column_is_the_one_its_every_cell_needs():
    """`_widest_euros` looks only at a column's largest and smallest amounts: the same width as every
    cell looked at, blanks, zeros, negatives, texts and short rows included."""
    from acv_xl.outputs.consolidation_workbook import _widest_euros

    cases = [
        [[Decimal("12.50")], [None], [Decimal("0")], [Decimal("-1234567890.12")], [Decimal("99.99")]],
        [[Decimal("1234567890123.45")], [Decimal("5")], [None]],
        [[None], [Decimal("0.00")]],
        [["texte"], [Decimal("123456789012.34")]],  # a text among amounts: each cell looked at
        [[Decimal("7")], []],  # a shorter row
        [],
    ]
    for rows in cases:
        for totals in (None, {0: Decimal("98765432109876.54")}, {0: ("=SUM(A:A)", Decimal("-5"))}):
            total = (totals or {}).get(0)
            total = total[1] if isinstance(total, tuple) else total
            every = page_layout.euros_width([r[0] for r in rows if r] + [total])
            assert _widest_euros(0, rows, totals) == every, (rows, totals)


def test_no_chart_lies_over_the_key_columns_repeated_on_each_page_across(tmp_path):
    """A sheet several pages wide repeats its key columns on each page across; a chart drawn over them
    (anchored at column A) was printed by LibreOffice on the page across too, its left part cut at their
    edge. Every chart starts past them, as the notes do."""
    out = _a_departement(tmp_path)
    wb = openpyxl.load_workbook(out)
    wide = 0
    for sheet, found in _charts(out).items():
        keys = wb[sheet].print_title_cols
        if not keys:
            continue
        wide += 1
        last_key = range_boundaries(keys.replace("$", "").split(":")[1] + "1")[0] - 1  # 0-based
        assert all(col > last_key for col, *_ in found), (sheet, keys, found)
    assert wide, "aucune feuille à graphique sur plusieurs pages de large"


@pytest.mark.libreoffice
def test_the_chart_under_a_wide_history_prints_nothing_over_its_key_columns(tmp_path):
    """The history of eleven comités prints `Par financeur` two pages wide, its financeurs repeated on
    the page across; its chart, under the table and drawn from column A, was printed on that page across
    as well, its left part cut at the key columns' edge. No word of it lies over the key columns, on any
    page (LibreOffice clips what lies past them on the page across)."""
    from acv_xl.cli import main

    reg = tmp_path / "registre.sqlite"
    for k in range(11):
        assert main(["consolider", str(EXEMPLES / "arras.xlsx"), "-o", str(tmp_path / "c.xlsx"), "--registre", str(reg),
                     "--jobs", "1", "--remplacer", "--comite", f"Comité n° {k + 1}"]) in (0, 1)
    assert main(["historique", str(reg), "-o", str(tmp_path / "h.xlsx")]) == 0
    assert openpyxl.load_workbook(tmp_path / "h.xlsx")["Par financeur"].print_title_cols  # two pages wide
    (pdf,) = libreoffice.convert([tmp_path / "h.xlsx"], "pdf", tmp_path / "pdf")
    pages = list(_sheet_pages(_pages(pdf), "Par financeur"))
    assert len(pages) == 2
    charted = 0
    for words in pages:
        header = min(y0 for _, y0, _, _, w in words if w == "Financeur")  # the table's header row
        keys_end = min(x0 for x0, y0, _, _, w in words if w == "Comité" and abs(y0 - header) < 3)  # past the keys
        table_end = max(y1 for _, _, _, y1, w in words if w == "Total")
        footer = max(y0 for _, y0, _, _, _ in words)
        chart = [(x0, w) for x0, y0, _, _, w in words if table_end + 2 < y0 < footer - 3]
        charted += bool(chart)
        assert all(x0 >= keys_end - 3 for x0, _ in chart), (keys_end, sorted(chart)[:5])
    assert charted


@pytest.mark.libreoffice
def test_the_comites_and_libelles_of_the_history_print_whole(tmp_path):
    """`Par convention` wrote the comité (« Consolidation du 06/12/2026 à 23:50 (n° 1) », or a label
    given with --comite) in a column of 30 characters beside the amounts: printed « Consolidation du
    06/12/2026 à 23:50 ( », which comité lost; a longer label was cut in `Consolidations` too. They wrap,
    as in the movements: every word of them prints."""
    from collections import Counter

    from acv_xl.cli import main

    reg = tmp_path / "registre.sqlite"
    for comite in ("Comité régional d'engagement du 12 juin 2026 (Hauts-de-France)", "Comité du 12/06/2026",
                   "Comité du 12/06/2026"):  # the same label twice: each numbered, « (n° 2) »
        assert main(["consolider", str(EXEMPLES / "arras.xlsx"), "-o", str(tmp_path / "c.xlsx"), "--registre", str(reg),
                     "--jobs", "1", "--remplacer", "--comite", comite]) in (0, 1)
    assert main(["historique", str(reg), "-o", str(tmp_path / "h.xlsx")]) == 0
    (pdf,) = libreoffice.convert([tmp_path / "h.xlsx"], "pdf", tmp_path / "pdf")
    wb = openpyxl.load_workbook(tmp_path / "h.xlsx")
    for sheet, headers in (("Consolidations", ("Comité",)), ("Par convention", ("Libellé", "Comité"))):
        ws = wb[sheet]
        columns = [[c.value for c in ws[3]].index(h) for h in headers]
        texts = [str(r[j].value) for r in ws.iter_rows(min_row=4) for j in columns if r[j].value]
        assert any("(n° 3)" in t for t in texts) and any("Hauts-de-France" in t for t in texts), texts
        printed = Counter(w for page in _sheet_pages(_pages(pdf), sheet) for *_, w in page)
        missing = Counter(w for t in texts for w in t.split()) - printed
        assert not missing, (sheet, missing)


@pytest.mark.libreoffice
def test_a_value_taller_than_a_row_prints_whole_in_the_ecarts(tmp_path):
    """A description of some 30 000 characters changed: `comparer -o` wrote it in one cell of the
    « Après » column, a row of 409 points at most, and printed its first 29 lines — the rest of the text
    was on no page. It goes on in the rows below, « Description (suite) », each naming its action:
    every word prints, in order."""
    from acv_xl.cli import main

    words = ("aménagement", "de", "la", "place", "centrale", "rénovation", "commerce", "logement", "quartier")
    text = " ".join(words[(k * 7) % len(words)] + ("." if k % 13 == 12 else "") for k in range(3700))
    assert len(text) > 28_000

    def long_description(wb):
        ws, table = table_of(wb, "T_Actions")
        c1, r1, c2, _ = range_boundaries(table.ref)
        col = [ws.cell(r1, c).value for c in range(c1, c2 + 1)].index("Description")
        ws.cell(r1 + 1, c1 + col).value = text

    later = edited_copy(EXEMPLES / "arras.xlsx", tmp_path / "apres.xlsx", long_description)
    assert main(["comparer", str(EXEMPLES / "arras.xlsx"), str(later), "-o", str(tmp_path / "e.xlsx")]) == 1
    ws = openpyxl.load_workbook(tmp_path / "e.xlsx")["Changements"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5, max_col=9) if r[4].value]
    assert rows[0][4] == "Description" and len(rows) > 1
    assert all(r[:3] == rows[0][:3] and r[4] == "Description (suite)" and r[7:] == rows[0][7:] for r in rows[1:])
    (pdf,) = libreoffice.convert([tmp_path / "e.xlsx"], "pdf", tmp_path / "pdf")
    printed = []
    for page in _sheet_pages(_pages(pdf), "Changements"):
        header = min(y0 for _, y0, _, _, w in page if w == "Après")
        left = min(x0 for x0, y0, _, _, w in page if w == "Après" and abs(y0 - header) < 3)
        right = min(x0 for x0, y0, _, _, w in page if w == "Cellule" and abs(y0 - header) < 3)
        footer = max(y0 for _, y0, _, _, _ in page)
        printed += [w for _, _, w in sorted((y0, x0, w) for x0, y0, _, _, w in page
                                            if left - 3 <= x0 < right - 3 and header + 3 < y0 < footer - 3)]
    assert printed == text.split(), (len(printed), len(text.split()))


@pytest.mark.libreoffice
def test_a_value_in_capitals_prints_whole_in_its_row_of_the_ecarts(tmp_path):
    """The écarts are in Arial 10, whose capitals are a fifth wider than Calibri 11's: measured in
    Calibri, the new intitulé « SÉCURISATION DES SERVICES ET DES ESPACES PUBLICS » got a row of two
    lines in « Après » and printed three, « PUBLICS » cut at the row's foot."""
    from acv_xl.cli import main

    text = "SÉCURISATION DES SERVICES ET DES ESPACES PUBLICS"

    def new_intitule(wb):
        ws, table = table_of(wb, "T_Actions")
        c1, r1, c2, _ = range_boundaries(table.ref)
        col = [ws.cell(r1, c).value for c in range(c1, c2 + 1)].index("Intitulé")
        ws.cell(r1 + 1, c1 + col).value = text

    later = edited_copy(EXEMPLES / "arras.xlsx", tmp_path / "apres.xlsx", new_intitule)
    assert main(["comparer", str(EXEMPLES / "arras.xlsx"), str(later), "-o", str(tmp_path / "e.xlsx")]) == 1
    ws = openpyxl.load_workbook(tmp_path / "e.xlsx")["Changements"]
    (row,) = [r[0].row for r in ws.iter_rows(min_row=5, max_col=9) if r[6].value == text]
    line_pt = page_layout.LINE_PT * 10 / page_layout.BASE_FONT_PT  # a line of its 10 pt type
    lines = round(((ws.row_dimensions[row].height or line_pt + 2) - 2) / line_pt)
    (pdf,) = libreoffice.convert([tmp_path / "e.xlsx"], "pdf", tmp_path / "pdf")
    (page,) = _sheet_pages(_pages(pdf), "Changements")
    header = min(y0 for _, y0, _, _, w in page if w == "Après")
    left = min(x0 for x0, y0, _, _, w in page if w == "Après" and abs(y0 - header) < 3)
    right = min(x0 for x0, y0, _, _, w in page if w == "Cellule" and abs(y0 - header) < 3)
    words = [(y0, w) for x0, y0, _, _, w in page if left - 3 <= x0 < right - 3 and y0 > header + 3 and w in text.split()]
    assert sorted(w for _, w in words) == sorted(text.split())
    assert _printed_lines([y for y, _ in words]) <= lines, f"{lines} lignes pour un texte qui en imprime davantage"


@pytest.mark.libreoffice
def test_every_choice_of_a_list_prints_whole_in_its_column(tmp_path):
    """A list cell is not wrapped: « Avance remboursable » (Nature, 16 wide) printed « Avance
    remboursabl », « Rénovation énergétique scolaire » (Dérogation L1111-10, 22 wide) lost « scolaire »,
    in the template's own list of dispositifs as in a référent's plan. Each list column is as wide as
    its longest choices: written side by side in every table, each of their words prints."""
    from collections import Counter

    from acv_xl.cli import main
    from acv_xl.contract import layout

    assert main(["modele", str(tmp_path / "modele.xlsx")]) == 0
    written = Counter()

    def fill(wb):
        for t in layout.TABLES:
            ws, table = table_of(wb, t.name)
            c1, r1, _, _ = range_boundaries(table.ref)
            for k, col in enumerate(t.columns):
                longest = sorted(col.choices, key=len, reverse=True)[:3] or ["x"]
                for i, value in enumerate(longest):
                    ws.cell(r1 + 1 + i, c1 + k).value = value
                    written.update(value.split() if col.choices else ())

    edited_copy(tmp_path / "modele.xlsx", tmp_path / "listes.xlsx", fill)
    (pdf,) = libreoffice.convert([tmp_path / "listes.xlsx"], "pdf", tmp_path / "pdf")
    printed = Counter(w for page in _pages(pdf) for *_, w in page)
    assert written and not written - printed, written - printed


@pytest.mark.libreoffice
def test_a_nature_of_two_words_prints_whole_in_a_financeurs_extract(tmp_path):
    """The extract's Nature column (14 wide) was not wrapped: « Avance remboursable » printed
    « Avance remboursab », the financeur unable to tell an advance from a subsidy. It wraps, in a row
    of its height."""
    from acv_xl.cli import main

    def advance(wb):
        ws, table = table_of(wb, "T_Financements")
        c1, r1, c2, _ = range_boundaries(table.ref)
        col = [ws.cell(r1, c).value for c in range(c1, c2 + 1)].index("Nature")
        ws.cell(r1 + 1, c1 + col).value = "Avance remboursable"

    (tmp_path / "in").mkdir()
    edited_copy(EXEMPLES / "arras.xlsx", tmp_path / "in" / "arras.xlsx", advance)
    assert main(["consolider", str(tmp_path / "in"), "-o", str(tmp_path / "c.xlsx"), "--jobs", "1",
                 "--par-financeur", str(tmp_path / "ex")]) in (0, 1)
    books = sorted((tmp_path / "ex").glob("*.xlsx"))
    holding = [b for b in books if any(r[10] == "Avance remboursable" for r in
                                       openpyxl.load_workbook(b)["Lignes"].iter_rows(values_only=True))]
    assert len(holding) == 1
    (pdf,) = libreoffice.convert(holding, "pdf", tmp_path / "pdf")
    words = [w for page in _sheet_pages(_pages(pdf), "Lignes") for *_, w in page]
    assert "remboursable" in words, [w for w in words if w.startswith("rembours")]


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", ["modele", "exemple"])
def test_the_dispositifs_print_beside_their_own_financeurs(printed, name):
    """`Financeurs` holds two tables side by side and prints two pages wide, its first column repeated
    on each page: the dispositifs printed beside the financeurs' codes of the same rows, « CDC » left of
    « DETR », « AL » left of « DPV », their own Financeur column left behind on the page before. The
    dispositifs start a page, with their Financeur column, and no other table's column beside them."""
    _, pdf = printed[name]
    pages = list(_sheet_pages(_pages(pdf), "Financeurs"))
    dispositifs = [p for p in pages if "Dispositif" in {w for *_, w in p}]
    assert dispositifs
    for words in dispositifs:
        header = min(y0 for _, y0, _, _, w in words if w == "Dispositif")
        row = sorted((x0, w) for x0, y0, _, _, w in words if abs(y0 - header) < 3)
        assert [w for _, w in row][:2] == ["Financeur", "Dispositif"], row
        assert "Code" not in {w for *_, w in words}, row


@pytest.mark.libreoffice
def test_the_cosignataires_of_the_examples_print_whole(tmp_path):
    """The examples wrote « ETAT;REGION;DEPT;COMMUNE »: no space to wrap at, LibreOffice printed
    « ETAT;REGION;DEPT;COMMU » in the 24-wide column (and the annotated copy of the example with it).
    Written « ETAT ; REGION ; DEPT ; COMMUNE », as ACT-09 suggests, the list wraps: each code prints."""
    from collections import Counter

    book = tmp_path / "lens-lievin.xlsx"
    book.write_bytes((EXEMPLES / "lens-lievin.xlsx").read_bytes())
    ws, table = table_of(openpyxl.load_workbook(book), "T_Actions")
    c1, r1, c2, r2 = range_boundaries(table.ref)
    col = c1 + [ws.cell(r1, c).value for c in range(c1, c2 + 1)].index("Cosignataires")
    lists = [ws.cell(r, col).value for r in range(r1 + 1, r2 + 1) if ws.cell(r, col).value]
    assert any(len(v) > 20 for v in lists), lists  # some longer than the column
    (pdf,) = libreoffice.convert([book], "pdf", tmp_path / "pdf")
    printed = Counter(w for page in _sheet_pages(_pages(pdf), "Fiches-actions") for *_, w in page)
    missing = Counter(w for v in lists for w in v.split()) - printed
    assert not missing, missing
