"""The annex as a comité secretary prints it: shipped examples and odd but legal conventions (long
intitulés, a reference without spaces, huge amounts, a long cover), printed by LibreOffice and read
back word by word with `pdftotext -bbox`: no word printed over another, none cut, none below 8 pt.

One LibreOffice run prints them all (module fixture); the tests that need no PDF read the workbook.
"""

from __future__ import annotations

import html
import re
import statistics
import subprocess
from pathlib import Path

import openpyxl
import pytest

from acv_xl.checks.validate import validate_convention
from acv_xl.contract.model import (Commune, FicheAction, Financeur, LigneFinancement, Perimetre, build_named,
                                   build_row)
from acv_xl.outputs import annex, libreoffice, page_layout
from acv_xl.outputs.annex import AnnexSheet
from acv_xl.outputs.examples import example_conventions
from acv_xl.contract.values import fmt_euros

_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')

Word = tuple[float, float, float, float, str]


def _pages(pdf: Path) -> list[list[Word]]:
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [[(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in _WORD.findall(page)]
            for page in re.findall(r"<page[^>]*>(.*?)</page>", out, flags=re.S)]


def _overprinted(words: list[Word]) -> list[tuple[str, str]]:
    """Pairs of words printed over each other: boxes crossing by more than a third of a 10 pt line
    (the lines of one wrapped 16 pt title touch, by design of their boxes, less than that)."""
    found = []
    ordered = sorted(words)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b[0] >= a[2] - 0.5:
                break
            if min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 3.5:
                found.append((a[4], b[4]))
    return found


def _unbroken(text: str) -> str:
    """`text` without spaces nor hyphens: a word broken across lines, as printed, reads whole (a
    PDF reader may drop the hyphen a line ends on)."""
    return "".join(text.split()).replace("-", "")


def _annex_of(conv, folder: Path, name: str) -> Path:
    return annex.build_annex(validate_convention(conv, fichier=f"{name}.xlsx"), folder / f"{name}.xlsx",
                             brouillon=True)


def lens():
    """The shipped example whose intitulés fill their column to a word (« … place Gambetta à Liévin »)."""
    return example_conventions()["lens-lievin.xlsx"]


URL = "https://www.cohesion-territoires.gouv.fr/" + "programme-action-coeur-de-ville/" * 150 + "fin.pdf"


def with_a_url_for_description():
    """Lens - Liévin, the description of its first action a reference of 4 800 characters, no space."""
    conv = lens()
    first = conv.actions[0].numero
    return conv.model_copy(update={"actions": [build_row(FicheAction, {**a.raw, "description": URL})
                                               if a.numero == first else a for a in conv.actions]})


LONG_INTITULE = ("Réhabilitation énergétique et requalification complète de l'îlot « Saint-Géry – Méaulens » : "
                 "démolition partielle, création de 48 logements et cœur d'îlot végétalisé ouvert au public ; ") * 3


WORKS = "".join(f"Tranche {n} : voirie, réseaux et éclairage public de la rue n° {n}. " for n in range(1, 121))


def with_a_long_intitule_and_a_url():
    """Lens - Liévin, its first action's intitulé of seven lines in the fiche's title, its description
    the reference without spaces then a list of works: three pages of fiche."""
    conv = lens()
    first = conv.actions[0].numero
    return conv.model_copy(update={"actions": [
        build_row(FicheAction, {**a.raw, "intitule": LONG_INTITULE, "description": f"{URL}\n{WORKS}"})
        if a.numero == first else a for a in conv.actions]})


LONG_NAME = ("Convention-cadre pluriannuelle Action Cœur de Ville de la communauté d'agglomération de Lens - Liévin "
             "et des communes de Lens, Liévin, Avion, Harnes, Sallaumines, Noyelles-sous-Lens, Loos-en-Gohelle, "
             "Grenay, Méricourt, Billy-Montigny et Fouquières-lès-Lens")


def with_a_long_cover():
    """Lens - Liévin and 59 more communes, under a name of three lines."""
    conv = lens()
    names = dict(conv.names)
    names["acv_libelle"] = build_named("acv_libelle", LONG_NAME)
    communes = list(conv.communes) + [
        build_row(Commune, {"code_insee": f"62{n:03d}", "commune": f"Commune associée n° {n} de l'agglomération de Lens",
                            "role": "Commune associée"}) for n in range(600, 659)]
    return conv.model_copy(update={"names": names, "communes": communes})


def with_huge_amounts():
    """Lens - Liévin, every financing line 1 234 567 890,12 €: totals of eleven and twelve digits."""
    conv = lens()
    return conv.model_copy(update={"financements": [build_row(LigneFinancement, {**lf.raw, "montant": 1234567890.12})
                                                    for lf in conv.financements]})


TALL_INTITULE = LONG_INTITULE * 4  # some 2 300 characters: taller than a row (409 pt) in every list
MANY_COMMUNES = ";".join(f"62{n:03d}" for n in range(1, 241))  # a périmètre d'étude of 240 communes, no space


def with_texts_taller_than_a_row():
    """Lens - Liévin, its first action's intitulé of some 2 300 characters, its first périmètre's
    communes 240 INSEE codes: taller than a row in the lists of actions and périmètres, the plan
    and the maître d'ouvrage's part."""
    conv = lens()
    first, perimetre = conv.actions[0].numero, conv.perimetres[0]
    return conv.model_copy(update={
        "actions": [build_row(FicheAction, {**a.raw, "intitule": TALL_INTITULE}) if a.numero == first else a
                    for a in conv.actions],
        "perimetres": [build_row(Perimetre, {**p.raw, "communes": MANY_COMMUNES}) if p is perimetre else p
                       for p in conv.perimetres]})


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("annexes")
    return {"lens": _annex_of(lens(), folder, "lens"), "url": _annex_of(with_a_url_for_description(), folder, "url"),
            "cover": _annex_of(with_a_long_cover(), folder, "cover"),
            "huge": _annex_of(with_huge_amounts(), folder, "huge"),
            "title": _annex_of(with_a_long_intitule_and_a_url(), folder, "title"),
            "tall": _annex_of(with_texts_taller_than_a_row(), folder, "tall")}


@pytest.fixture(scope="module")
def printed(built) -> dict[str, list[list[Word]]]:
    names = list(built)
    pdfs = libreoffice.convert([built[n] for n in names], "pdf", built[names[0]].parent / "pdf")
    return {n: _pages(p) for n, p in zip(names, pdfs)}


def _row_of(ws, text: str) -> int:
    return next(c.row for r in ws.iter_rows() for c in r if c.value == text)


def test_an_intitule_that_fills_its_column_gets_a_second_line(built):
    """Counted as characters (1,2 of Arial 10 per unit of width), « Réaménagement de la place Gambetta à
    Liévin » was one line in the plan's 36-wide column: LibreOffice wraps it, and « Liévin » printed
    over the next action's intitulé. Measured with Arial's own widths, its row has two lines."""
    ws = openpyxl.load_workbook(built["lens"])[AnnexSheet.FINANCEMENT]
    row = _row_of(ws, "Réaménagement de la place Gambetta à Liévin")
    assert (ws.row_dimensions[row].height or 0) >= 2 * annex.LINE_PT


@pytest.mark.libreoffice
def test_no_word_of_a_shipped_example_prints_over_another(printed):
    for n, words in enumerate(printed["lens"], 1):
        assert not _overprinted(words), (n, _overprinted(words)[:5])


@pytest.mark.libreoffice
def test_a_word_taller_than_a_row_goes_on_in_the_rows_below_and_prints_whole(built, printed):
    """A reference without spaces of 4 800 characters takes more lines than a row holds (409 pt):
    it was left whole in one row, cut on paper after its 31st line, its end running over the page's
    footer. It is cut into pieces of a row each, « Description (suite) », every character printed."""
    ws = openpyxl.load_workbook(built["url"])[f"{AnnexSheet.ACTION_PREFIX}{lens().actions[0].numero}"]
    label = "Description"
    rows = [r[0].row for r in ws.iter_rows() if r[0].value in (label, f"{label} (suite)")]
    assert len(rows) >= 2 and "".join(ws.cell(r, 2).value for r in rows) == URL
    assert all(annex._lines_needed(ws.cell(r, 2).value, 128) <= annex.MAX_LINES for r in rows)
    text = "".join(" ".join(w[4] for w in words) for words in printed["url"])
    assert _unbroken(URL) in _unbroken(text).replace(f"{label}(suite)", "")
    for n, words in enumerate(printed["url"], 1):
        assert not _overprinted(words), (n, _overprinted(words)[:3])


@pytest.mark.libreoffice
def test_a_text_taller_than_a_row_in_a_list_sheet_goes_on_in_the_rows_below(built, printed):
    """The list sheets gave a row at most 409 pt (Excel's tallest): an intitulé, a périmètre's
    communes taller than that were printed cut after their 31st line. Each goes on in the rows
    below, its other cells on the first; every piece holds in its row, and prints whole."""
    wb = openpyxl.load_workbook(built["tall"])
    cases = [(AnnexSheet.ACTIONS, TALL_INTITULE), (AnnexSheet.FINANCEMENT, TALL_INTITULE),
             (AnnexSheet.PART_MO, TALL_INTITULE), (AnnexSheet.PERIMETRES, MANY_COMMUNES)]
    for sheet, text in cases:
        ws = wb[sheet]
        start = next(c for r in ws.iter_rows() for c in r
                     if isinstance(c.value, str) and len(c.value) > 200 and _unbroken(text).startswith(_unbroken(c.value)))
        column = start.column
        cells, held = [], ""
        for c in ws[openpyxl.utils.get_column_letter(column)][start.row - 1:]:  # the pieces, one under another
            if not isinstance(c.value, str) or not _unbroken(text).startswith(_unbroken(held + c.value)):
                break
            cells.append(c)
            held += c.value
        assert len(cells) >= 2, (sheet, len(cells))
        assert _unbroken("".join(c.value for c in cells)) == _unbroken(text), sheet
        width = ws.column_dimensions[openpyxl.utils.get_column_letter(column)].width
        for c in cells:  # each piece within its row, the row as tall as it needs
            lines = annex._lines_needed(c.value, width - 0.71)  # openpyxl reads XlsxWriter's padded width
            assert lines <= annex.MAX_LINES and ws.row_dimensions[c.row].height >= annex.LINE_PT * lines - 1, \
                (sheet, c.coordinate, lines)
    for n, words in enumerate(printed["tall"], 1):
        assert not _overprinted(words), (n, _overprinted(words)[:3])


@pytest.mark.libreoffice
def test_a_long_cover_flows_onto_a_second_page_at_a_readable_size(built, printed):
    """The cover was fitted to one page whatever its length: 61 communes and a name of three lines
    printed it at 3 pt. It stays on one page only while its type is 8 pt or more; the name wraps
    (unwrapped, it ran past the last column and LibreOffice shrank the list of actions to 3 pt)."""
    ws = openpyxl.load_workbook(built["cover"])[AnnexSheet.COVER]
    assert ws.page_setup.fitToHeight == 0
    assert ws.cell(_row_of(ws, LONG_NAME), 1).alignment.wrap_text
    pages = printed["cover"]
    small = [(n, statistics.median(w[3] - w[1] for w in words)) for n, words in enumerate(pages, 1)
             if statistics.median(w[3] - w[1] for w in words) < 7.0]
    assert not small, small
    cover = [n for n, words in enumerate(pages, 1) if any(w[4] == "associée" for w in words)]
    assert len(cover) >= 2, cover  # the communes, on more than one page
    for n, words in enumerate(pages, 1):
        assert not _overprinted(words), (n, _overprinted(words)[:3])


@pytest.mark.libreoffice
def test_amounts_of_twelve_digits_print_whole_never_as_hashes(printed):
    """Lines of 1 234 567 890,12 € add up to totals of twelve digits: in the plan's columns of 16
    they printed « ### » — the comité's total unreadable. Amount columns are as wide as the
    convention's widest amount."""
    from acv_xl.contract.values import fmt_euros
    from acv_xl.checks import totals

    words = [w[4] for page in printed["huge"] for w in page]
    assert not [w for w in words if "#" in w]
    grand = totals.total(with_huge_amounts().financements)
    text = " ".join(words)
    assert " ".join(fmt_euros(grand).split()) in " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.mark.libreoffice
def test_a_long_text_under_a_long_repeated_title_prints_whole(printed):
    """The fiche's title heads each of its pages: an intitulé of seven lines took a third of each,
    and a description's rows of 31 lines no longer fitted under it — LibreOffice cut their ends
    (570 characters of the reference lost). Its rows are as tall as the page holds under what it
    repeats, and the title at most five lines: every character printed, in order."""
    text = " ".join(" ".join(w[4] for w in words) for words in printed["title"])
    assert _unbroken(URL) in _unbroken(text).replace("Description(suite)", "")
    assert [int(n) for n in re.findall(r"Tranche\s+(\d+)\s+:", text)] == list(range(1, 121))
    for n, words in enumerate(printed["title"], 1):
        assert not _overprinted(words), (n, _overprinted(words)[:3])


@pytest.mark.libreoffice
def test_each_page_of_a_fiche_says_whose_it_is(built, printed):
    """The fiche's title heads each of its pages; an intitulé of seven lines made it a third of each
    page (and, no longer repeated, pages of a description said no action). Past five lines the
    title is the action's number alone, on every page; the intitulé stays whole in its field."""
    numero = lens().actions[0].numero
    ws = openpyxl.load_workbook(built["title"])[f"{AnnexSheet.ACTION_PREFIX}{numero}"]
    assert ws.print_title_rows and ws.cell(2, 1).value == f"Fiche-action n° {numero}"
    assert any(c.value == LONG_INTITULE.strip() for r in ws.iter_rows() for c in r)
    pages = [words for words in printed["title"] if any(w[4] in ("Tranche", "programme-action") or
                                                        w[4].startswith("programme-action") for w in words)]
    assert len(pages) >= 3
    for words in pages:
        top = " ".join(w[4] for w in sorted(words, key=lambda w: (round(w[1]), w[0])) if w[1] < 90)
        assert f"Fiche-action n° {numero}" in top, top


def test_a_cosignatory_named_in_full_gets_the_lines_of_its_name(tmp_path):
    """The signature block's first row held two lines of name, then « Date et signature : »: a
    financeur named in full in `Financeurs` (four lines in the block) lost its end and the words
    telling where to sign. The row has the lines its longest name needs."""
    conv = lens()
    first = conv.actions[0]
    code = first.cosignataires_codes[0]
    name = ("Établissement public foncier de Hauts-de-France, agissant pour le compte de la communauté "
            "d'agglomération de Lens - Liévin au titre de la convention opérationnelle n° 2019-042")
    financeurs = [build_row(Financeur, {**f.raw, "nom": name}) if f.code == code else f for f in conv.financeurs]
    out = _annex_of(conv.model_copy(update={"financeurs": financeurs}), tmp_path, "a")
    ws = openpyxl.load_workbook(out)[f"{AnnexSheet.ACTION_PREFIX}{first.numero}"]
    row = _row_of(ws, f"{name}\nDate et signature :")
    block = sum(page_layout.column_points(w) for w in annex.ACTION_WIDTHS[:2])  # the first block's two columns
    lines = page_layout.arial_lines_in(f"{name}\nDate et signature :", block, 10, bold=True)
    assert lines > 3 and ws.row_dimensions[row].height >= lines * annex.LINE_PT


def test_a_long_convention_name_is_shortened_between_words_in_the_footer(tmp_path):
    """The footer names the convention in 60 characters: cut there, a long name read « … de la co »,
    and a `&` doubled before the cut (Excel's control character) could be left alone at the end."""
    conv = with_a_long_cover()
    names = dict(conv.names)
    names["acv_libelle"] = build_named("acv_libelle", "Lens & Liévin : " + "x" * 41 + " & et la suite")
    for libelle, shown in ((LONG_NAME, "Convention Convention-cadre pluriannuelle Action Cœur de Ville de la…"),
                           (names["acv_libelle"].value, "Convention Lens && Liévin : " + "x" * 41 + "…")):
        names["acv_libelle"] = build_named("acv_libelle", libelle)
        out = _annex_of(conv.model_copy(update={"names": names}), tmp_path, "a")
        footer = openpyxl.load_workbook(out)[AnnexSheet.COVER].oddFooter.left.text
        assert footer.startswith(shown + " (ACV113)"), footer


def test_a_draft_with_a_long_identifier_keeps_its_page_header_and_footer(tmp_path, recwarn):
    """An identifier typed at length (a draft: ACV-01 reports it) made the header and footer longer
    than Excel's 255 characters: XlsxWriter dropped both, with an English warning — the draft's
    « PROJET — non validé » and the page numbers gone from every page."""
    conv = lens()
    names = dict(conv.names)
    names["acv_id"] = build_named("acv_id", "ACV113 " + "x" * 300)
    ws = openpyxl.load_workbook(_annex_of(conv.model_copy(update={"names": names}), tmp_path, "a"))[AnnexSheet.COVER]
    assert annex.PROJET_NON_VALIDE in ws.oddHeader.center.text and "Page &P / &N" in ws.oddFooter.center.text
    assert not [w for w in recwarn if "255" in str(w.message)]


def test_the_avenants_amounts_get_columns_as_wide_as_they_need(tmp_path):
    """« Modifications de l'avenant » had columns of 18 for its amounts whatever they were: totals
    before and after of hundreds of billions printed « ### » there."""
    from acv_xl.checks.comparison import compare

    conv = lens()
    before = conv.model_copy(update={"financements": [build_row(LigneFinancement, {**lf.raw, "montant": 98765432101.5})
                                                      for lf in conv.financements]})
    after = before.model_copy(update={"financements": before.financements[1:]})
    report = validate_convention(after, fichier="apres.xlsx")
    out = annex.build_annex(report, tmp_path / "a.xlsx", brouillon=True, depuis=compare(before, after),
                            reference="avant.xlsx")
    ws = openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS]
    total = totals_of(before)
    needed = page_layout.arial_width_for(fmt_euros(total), 10, bold=True)
    widths = {j: dim.width for dim in ws.column_dimensions.values() for j in range(dim.min, dim.max + 1)}
    assert total > 10 ** 12 and all(widths[j] >= needed for j in (5, 6, 7))  # Avant, Après, Écart


def totals_of(conv):
    from acv_xl.checks import totals

    return totals.total(conv.financements)


@pytest.mark.libreoffice
def test_every_note_under_a_table_prints_whole(built, printed):
    """A note merged across a sheet kept the default height of one line: the definition under « Part du
    maître d'ouvrage » (three lines) printed without « n'entrent pas dans le calcul. », which lines
    the share leaves out. Each note (the italic texts) has the lines it needs: every word prints."""
    wb = openpyxl.load_workbook(built["lens"])
    notes = {c.value for ws in wb.worksheets for r in ws.iter_rows() for c in r
             if isinstance(c.value, str) and c.font.i}
    assert any("n'entrent pas dans le calcul." in n for n in notes), notes
    text = _unbroken(" ".join(" ".join(w[4] for w in words) for words in printed["lens"]))
    assert not [n for n in notes if _unbroken(n) not in text]
