"""How every sheet acv-xl writes looks on paper and on screen: page set-up decided from the
sheet's columns, and row heights computed from wrapped text.

One module for every writer (template, annex, consolidation, extracts, comparisons, the annotated
copy), so that a comité receives pages of one standard:
- A4 landscape, narrow margins, header rows repeated, page numbers and the sheet's name and
  convention in the footer;
- fitted to one page wide only while the type stays at 8 pt or more; beyond that the sheet prints
  on several pages wide at that scale, with its key columns (N° action, intitulé) repeated on the
  left of each page;
- wrapped text with explicit row heights: LibreOffice and Excel both honour an explicit height,
  where a default height cuts a wrapped header (« Date de la ») and lets its second line overprint
  the first data row.

The widths are Excel's (characters of the default font, Calibri 11); text is measured with its
font's own widths (Calibri, Arial in the annex), leaning towards one line too many rather than one
too few (a cut word is worse than a blank line).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Sequence

from acv_xl.contract.values import excel_length, excel_text, fmt_date

BASE_FONT_PT = 11.0  # the workbooks' default font (Calibri 11, Carlito in LibreOffice)
MIN_PRINTED_PT = 8.0  # the smallest type a comité should have to read
LINE_PT = 15.0  # one line of 11 pt text in a row (Excel's default row height)
MAX_ROW_PT = 409.0  # Excel's tallest row: a taller one is refused by Excel, clamped by LibreOffice
A4_LONG_PT, A4_SHORT_PT = 841.9, 595.3
MARGIN_IN = 0.4  # left and right; top and bottom leave room for the footer
MARGIN_TOP_IN, MARGIN_BOTTOM_IN = 0.5, 0.6
# the page header and footer at their own 8 pt, never scaled with a sheet fitted to its page: Excel scales them
# by default (« Mettre à l'échelle avec le document ») and printed the convention, the page numbers and the date
# of a sheet fitted to 77 % at 6 pt. LibreOffice scales them whatever the file says (measured)
UNSCALED = {"scale_with_doc": False}
# the top margin under a page header of two lines (`titles_header`: 10 pt and 8 pt), Excel's header
# starting 0.3 in from the top
TITLES_TOP_IN, TITLES_HEADER_IN = 0.6, 0.2


def column_points(width: float) -> float:
    """The printed width of a column of `width` characters (XlsxWriter's conversion to pixels,
    then 96 px = 72 pt)."""
    pixels = int(width * 12 + 0.5) if width < 1 else int(width * 7 + 0.5) + 5
    return pixels * 0.75


def text_lines(text: str, width: float, bold: bool = False) -> int:
    """Lines that `text` takes in the workbooks' Calibri 11 (bold: a header), wrapped in a column of
    `width` characters (Excel's widths, as XlsxWriter sets them): a greedy wrap between words,
    measured with the font's own widths (`CALIBRI_ROOM`); explicit line breaks kept, a word longer
    than the column broken across lines."""
    return _text_lines(str(text), width, bold)


# Measured once per (text, width): the same findings, headers and words come back on thousands of
# rows (the Anomalies of a département). Bounded, for a long-running server.
@lru_cache(maxsize=8192)
def _text_lines(text: str, width: float, bold: bool) -> int:
    return _wrapped_lines(text, _calibri_room(width), "calibri-bold" if bold else "calibri")


# The room (in Calibri's digits, 0.507 em) a column of w characters gives its text: LibreOffice holds w
# digits (measured on its PDFs, Carlito 11); Excel holds 7 w pixels at 96 dpi (its width's 5 more are
# the cell's margins), w digits on screen (hinted, 7 px) but 0.94 w printed (unhinted, 7.43 px) — the
# least. Counted 0.9 w: a line too many where Excel's printed line is within 4 % of full, never one
# too few. Counted in characters (a capital 1.1, a lowercase letter 1), the estimate put a line too
# many under most headers (« Actions engagées ou terminées »: four lines where three print) and too
# few under wide capitals (« MMMM »).
CALIBRI_ROOM = 0.9
_CALIBRI_DIGIT_EM = 0.507


def _calibri_room(width: float) -> float:
    """The room (ems of Calibri 11) of a column of `width` characters."""
    return max(1.0, CALIBRI_ROOM * width) * _CALIBRI_DIGIT_EM


def one_line_chars(width: float) -> int:
    """The length up to which any text without a line break takes one line in a column of `width`
    characters, whatever its characters (the widest counted 1.3 em, `_em_width`): longer ones are
    measured."""
    return int(_calibri_room(width) / (_UNKNOWN_CALIBRI_EM / 1000))


@lru_cache(maxsize=16384)
def _chars(word: str) -> float:
    # wide capitals and « m/w » take more room than the digit Excel's width is measured in
    return sum(1.25 if c in "MWmw@%" else 1.1 if c.isupper() else 1.0 for c in word)


# Advance widths of Arial and Arial Bold (and of Liberation Sans, LibreOffice's metric-compatible
# font), in thousandths of an em, for the characters 32 to 126 — the annex's type. Other characters
# are measured as their unaccented letter (« é » as « e »), or as a whole em (« — », « œ »): wide.
_ARIAL = tuple(int(w) for w in (
    "278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556 556 556 "
    "278 278 584 584 584 556 1015 667 667 722 722 667 611 778 722 278 500 667 556 833 722 778 667 778 722 667 "
    "611 722 667 944 667 667 611 278 278 278 469 556 333 556 556 500 556 556 278 556 556 222 222 500 222 833 "
    "556 556 556 556 333 500 278 556 500 722 500 500 500 334 260 334 584").split())
_ARIAL_BOLD = tuple(int(w) for w in (
    "278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556 556 556 "
    "333 333 584 584 584 611 975 722 722 722 722 667 611 778 722 278 556 722 611 833 722 778 667 778 722 667 "
    "611 722 667 944 667 667 611 333 278 333 584 556 333 556 611 556 611 556 333 611 611 278 278 556 278 889 "
    "611 611 611 611 389 556 333 611 556 778 556 556 500 389 280 389 584").split())
_ARIAL_OTHER = {"«": 556, "»": 556, "€": 556, "–": 556, "’": 278, "‘": 278, "“": 500, "”": 500, "×": 584, "°": 400,
                "\u00a0": 278, "\u202f": 278}
CELL_PADDING_PT = 3.0  # the room a cell leaves on its left and right, together, in LibreOffice and Excel


# Advance widths of Calibri and Calibri Bold (read from Carlito's files, LibreOffice's metric-compatible
# font), in thousandths of an em, for the characters 32 to 126 — the workbooks' type.
_CALIBRI = tuple(int(w) for w in (
    "226 326 401 498 507 715 682 221 303 303 498 498 250 306 252 386 507 507 507 507 507 507 507 507 507 507 "
    "268 268 498 498 498 463 894 579 544 533 615 488 459 631 623 252 319 520 420 855 646 662 517 673 543 459 "
    "487 642 567 890 519 487 468 307 386 307 498 498 291 479 525 423 525 498 305 471 525 229 239 455 229 799 "
    "525 527 525 525 349 391 335 525 452 715 433 453 395 314 460 314 498").split())
_CALIBRI_BOLD = tuple(int(w) for w in (
    "226 326 438 498 507 729 705 233 312 312 498 498 258 306 267 430 507 507 507 507 507 507 507 507 507 507 "
    "276 276 498 498 498 463 898 606 561 529 630 488 459 637 631 267 331 547 423 874 659 676 532 686 563 473 "
    "495 653 591 906 551 520 478 325 430 325 498 498 300 494 537 418 537 503 316 474 537 246 255 480 246 813 "
    "537 538 537 537 355 399 347 537 473 745 459 474 397 344 475 344 498").split())
_CALIBRI_OTHER = {"«": 539, "»": 539, "€": 507, "–": 498, "—": 905, "’": 258, "‘": 258, "“": 435, "”": 435, "×": 498,
                  "°": 342, "\u00a0": 507, "\u202f": 226, "…": 711, "œ": 850, "Œ": 874, "æ": 775, "Æ": 874, "•": 498}
# a character neither in the tables nor an accented letter of them: a whole em in Arial (« — », « œ »); in
# Calibri, whose workbooks receive any text, 1.3 em — as wide as an emoji of the fallback fonts
_UNKNOWN_CALIBRI_EM = 1300
_FONTS = {"arial": (_ARIAL, _ARIAL_OTHER, 1000), "arial-bold": (_ARIAL_BOLD, _ARIAL_OTHER, 1000),
          "calibri": (_CALIBRI, _CALIBRI_OTHER, _UNKNOWN_CALIBRI_EM),
          "calibri-bold": (_CALIBRI_BOLD, _CALIBRI_OTHER, _UNKNOWN_CALIBRI_EM)}


@lru_cache(maxsize=16384)
def _em_width(word: str, font: str) -> float:
    """The width of `word` in `font` (a key of `_FONTS`), in ems."""
    table, other, unknown = _FONTS[font]
    total = 0
    for c in word:
        code = ord(c)
        if 32 <= code < 127:
            total += table[code - 32]
        elif c in other:
            total += other[c]
        else:
            base = ord(unicodedata.normalize("NFD", c)[0])
            total += table[base - 32] if 32 <= base < 127 else unknown
    return total / 1000


def _arial_width(word: str, bold: bool = False) -> float:
    """The width of `word` in Arial (Bold), in ems."""
    return _em_width(word, "arial-bold" if bold else "arial")


def _wrapped_lines(text: str, room: float, font: str) -> int:
    """Lines that `text` takes in `font` in a cell `room` ems wide: a greedy wrap between words, each
    line break kept, a word longer than the room broken wherever the line is full."""
    space = _FONTS[font][0][0] / 1000
    if "\r" in text:  # a carriage return alone breaks the line in print too (one of Windows: with its \n)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = 0
    for paragraph in text.split("\n"):
        used, count = 0.0, 1
        for word in filter(None, paragraph.split(" ")):  # never at a no-break space (« 1 234 € »)
            size = _em_width(word, font)
            if size > room:  # broken wherever the line is full
                full = math.ceil(size / room)
                count += (1 if used else 0) + full - 1
                used = size - (full - 1) * room
                continue
            needed = size if used == 0 else used + space + size
            if needed <= room:
                used = needed
            else:
                count, used = count + 1, size
        lines += count
    return max(1, lines)


def arial_lines(text: str, width: float, font_pt: float, bold: bool = False) -> int:
    """Lines that `text` takes in `font_pt` Arial, wrapped in a column of `width` characters (Excel's
    widths): a greedy wrap between words, measured with the font's own widths — counted as
    characters, 43 letters of Arial 10 were « one line » in a column that holds 36, and the second
    line printed over the next row. A word longer than the column is broken across lines."""
    return arial_lines_in(text, column_points(width), font_pt, bold)


def arial_lines_in(text: str, points: float, font_pt: float, bold: bool = False) -> int:
    """`arial_lines` in a cell `points` wide (a merged range: the sum of its columns' points)."""
    room = max(1.0, (points - CELL_PADDING_PT) / font_pt)
    return _wrapped_lines(str(text), room, "arial-bold" if bold else "arial")


def arial_width_for(text: str, font_pt: float, bold: bool = False) -> float:
    """The column width (Excel's characters) that shows `text` on one line in `font_pt` Arial: a
    number wider than its column prints « ##### »."""
    points = _arial_width(str(text), bold) * font_pt + CELL_PADDING_PT + 2  # a little room
    return math.ceil((points / 0.75 - 5) / 7 * 10) / 10


# Pixels (at 96 dpi) of the characters of an amount in the workbooks' Calibri 11 as LibreOffice draws
# it (Carlito, unhinted): a digit and « € » 7.43, a space 3.3, a comma 3.4, a sign 4.5 (« + » 7.43)
_AMOUNT_PX = {" ": 3.3, ",": 3.4, ".": 3.4, "-": 4.5, "−": 4.5}


def euros_width(amounts: Iterable) -> float:
    """The column width (Excel's characters) that shows each of `amounts` in euros in Calibri 11,
    or 0 without any: a column narrower prints « ### » (a financeur's 1 234 567 890,12 € over the
    départements, in a column of 15)."""
    from decimal import Decimal

    from acv_xl.contract.values import fmt_euros

    numbers = [a for a in amounts if isinstance(a, (Decimal, int, float)) and not isinstance(a, bool)]
    if not numbers:
        return 0.0
    texts = (fmt_euros(max(numbers)), fmt_euros(min(numbers)))  # the widest, positive or negative
    px = max(sum(_AMOUNT_PX.get(c, 7.43) for c in t) for t in texts)
    return math.ceil((px + 6 - 5) / 7 * 10) / 10  # a column of w characters is 7 w + 5 pixels


def fit_width(width: float, header: str, bold: bool = True) -> float:
    """`width`, widened where the header's longest word would not fit (a word is never broken:
    it would be cut on paper)."""
    longest = max((_chars(w) for w in str(header).split()), default=0)
    return max(width, math.ceil(longest * (1.08 if bold else 1.0) + 1.5))


def row_height(cells: Iterable[tuple[str, float]], bold: bool = False, arial_pt: float | None = None) -> float:
    """The height (points) of a row whose wrapped cells are (text, column width) pairs, at most
    `MAX_ROW_PT` (a text taller than that is cut: a writer that must print it whole splits it): cells
    in the workbooks' Calibri 11, or in `arial_pt` Arial (the écarts), measured in their own font —
    Arial's capitals are a fifth wider than Calibri's, and a row counted in Calibri cut their last line."""
    font_pt = arial_pt or BASE_FONT_PT
    lines = max(((arial_lines(t, w, arial_pt, bold) if arial_pt else text_lines(t, w, bold))
                 for t, w in cells if t not in (None, "")), default=1)
    return min(MAX_ROW_PT, round(lines * LINE_PT * font_pt / BASE_FONT_PT + 2, 1))


def max_lines(font_pt: float = BASE_FONT_PT) -> int:
    """The most lines of `font_pt` text a row holds within `MAX_ROW_PT` (`row_height`)."""
    return int((MAX_ROW_PT - 2) // (LINE_PT * font_pt / BASE_FONT_PT))


@dataclass(frozen=True)
class PrintPlan:
    """How a sheet prints: `fit_width` (one page wide, scaled by the spreadsheet), or `scale` (%)
    with `repeat_columns` on each page."""

    landscape: bool
    fit_width: bool
    scale: int
    repeat_columns: tuple[int, int] | None


def printable_width(landscape: bool = True, margin_in: float = MARGIN_IN) -> float:
    """The width (points) an A4 page prints in, between its left and right margins."""
    return (A4_LONG_PT if landscape else A4_SHORT_PT) - 2 * margin_in * 72


def one_page_scale(widths: Sequence[float], landscape: bool = True, margin_in: float = MARGIN_IN) -> float:
    """The scale (at most 1) at which columns of `widths` print one page wide."""
    total = sum(column_points(w) for w in widths) or 1.0
    return min(1.0, printable_width(landscape, margin_in) / total)


def plan(widths: Sequence[float], key_columns: tuple[int, int] | None = None, landscape: bool = True,
         margin_in: float = MARGIN_IN, font_pt: float = BASE_FONT_PT) -> PrintPlan:
    """Decide from the columns' widths: one page wide while the type stays ≥ 8 pt, otherwise
    several pages wide at the scale that keeps 8 pt, with the key columns repeated."""
    needed = one_page_scale(widths, landscape, margin_in)
    floor = MIN_PRINTED_PT / font_pt
    if needed >= floor:
        return PrintPlan(landscape, True, 100, None)
    return PrintPlan(landscape, False, math.ceil(floor * 100), key_columns)


# What must stay on the first page (a chart, a note) is kept within this share of it: LibreOffice
# without the Calibri-compatible font (Carlito) draws the columns in a wider one, a third wider.
FIRST_PAGE_SAFETY = 0.7


def first_page_columns(widths: Sequence[float], p: PrintPlan, margin_in: float = MARGIN_IN) -> int:
    """How many of the first columns print whole on the first page (at least one); all of them when
    the sheet prints one page wide."""
    if p.fit_width:
        return len(widths)
    room = printable_width(p.landscape, margin_in) / (p.scale / 100) * FIRST_PAGE_SAFETY
    used, n = 0.0, 0
    for w in widths:
        used += column_points(w)
        if used > room:
            break
        n += 1
    return max(n, 1)


def first_page_points(widths: Sequence[float], p: PrintPlan, margin_in: float = MARGIN_IN) -> float:
    """The width (points of the sheet, before scaling) of the columns its first printed page holds
    whole: a page ends at its last whole column, and what lies past it goes to the next page. A
    sheet printed one page wide holds the page's width, or its columns' when they are wider (the
    spreadsheet then scales them down to the page)."""
    held = sum(column_points(w) for w in widths[:first_page_columns(widths, p, margin_in)])
    if p.fit_width:
        return max(held, printable_width(p.landscape, margin_in))
    return held


def apply_width(ws, p: PrintPlan) -> None:
    """One page wide, or the plan's scale with its key columns repeated on every page, printed across
    then down: the columns that do not fit print on the page right after their rows' first columns
    (down then across, the spreadsheets' default, put the montants of `Lignes` eight pages after
    their actions and financeurs, with only the key columns to match them by)."""
    if p.fit_width:
        ws.fit_to_pages(1, 0)
    else:
        ws.set_print_scale(p.scale)
        ws.print_across()
        if p.repeat_columns:
            ws.repeat_columns(*p.repeat_columns)


def setup(ws, widths: Sequence[float], *, footer: str, header_rows: tuple[int, int] | None = None,
          key_columns: tuple[int, int] | None = None, landscape: bool = True, footer_right: str = "",
          font_pt: float = BASE_FONT_PT) -> PrintPlan:
    """Apply the print layout to an XlsxWriter worksheet (0-based rows and columns).

    `font_pt`: the size of the sheet's type, so that it prints at 8 pt or more.
    `footer` names the sheet and the convention (left of the footer); page « n / N » is centred;
    `footer_right` (`generated_on`: « Générée le 06/12/2026 ») is written out, never Excel's &D field, which
    LibreOffice prints in its own locale (12/06 for 6 December).
    """
    p = plan(widths, key_columns, landscape, font_pt=font_pt)
    ws.set_paper(9)  # A4
    if p.landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(left=MARGIN_IN, right=MARGIN_IN, top=MARGIN_TOP_IN, bottom=MARGIN_BOTTOM_IN)
    apply_width(ws, p)
    if header_rows is not None:
        ws.repeat_rows(*header_rows)
    right = f"&R&8{footer_text(footer_right)}" if footer_right else ""
    ws.set_footer(f"&L&8{footer_text(footer)}&C&8Page &P / &N{right}", UNSCALED)
    return p


def footer_text(text: str) -> str:
    """Text for an Excel header/footer (`header_text`), within 200 characters: the footer's three
    parts stay within Excel's 255."""
    return header_text(text, 200)


def sheet_footer(sheet: str, convention: str | None = None) -> str:
    return f"{sheet} — {convention}" if convention else sheet


def generated_on(when, masculine: bool = False) -> str:
    """The right of an output's footer (`setup`'s `footer_right`): « Générée le 07/12/2026 » (the annex,
    the consolidation, the écarts' comparaison, the évolution) or « Généré le » (an extract), one
    wording in every output — it read « Générée le », « générée le », « généré le », or nothing."""
    return f"Généré{'' if masculine else 'e'} le {fmt_date(when)}"


# Excel refuses a page header of more than 255 characters (UTF-16 units; XlsxWriter then writes none)
HEADER_MAX = 255
_TITLE_CODES, _SUBTITLE_CODES = '&L&"-,Bold"&10', '\n&"-,Regular"&8'
HEADER_RIGHT = "&R&8Action Cœur de Ville"


def header_text(text: str, room: int) -> str:
    """`text` for a page header or footer within `room` characters once its `&` are doubled (one `&`
    starts a code there), cut with « … » (`values.excel_text`, never inside an emoji nor between the
    two `&` of one). A doubled `&` before `G` or `[` gets a word joiner: XlsxWriter reads « &G » and
    « &[Picture] » as an image wherever they are, and drops a header whose images it does not find."""
    keep = room
    while True:
        cut = excel_text(text, keep, "…") if keep > 0 else ""
        out = cut.replace("&", "&&").replace("&&G", "&&\u2060G").replace("&&[", "&&\u2060[")
        if excel_length(out) <= room:
            return out
        keep -= excel_length(out) - room


def titles_header(title: str, subtitle: str) -> str:
    """A page header holding a sheet's title (bold) over its subtitle (small), on the left, and
    « Action Cœur de Ville » on the right, within Excel's 255 characters: the subtitle is cut first
    (« … »), then the title, their whole text staying in the sheet's first two rows."""
    room = HEADER_MAX - len(_TITLE_CODES) - len(_SUBTITLE_CODES) - excel_length(HEADER_RIGHT)
    title = header_text(title, room - min(len(subtitle), 60))  # the subtitle keeps 60 at least
    subtitle = header_text(subtitle, room - excel_length(title))
    return f"{_TITLE_CODES}{title}{_SUBTITLE_CODES if subtitle else ''}{subtitle}{HEADER_RIGHT}"


def chunks(text: str, lines_of: Callable[[str], int], most: int) -> list[str]:
    """`text` as pieces of at most `most` lines each (`lines_of(piece)`: the lines a piece takes in
    its cell), cut at line breaks, else between words, else inside a word longer than a row (a URL):
    a text taller than a row (409 pt) continues on the rows below, printed whole where one row cut it."""
    if lines_of(text) <= most:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for paragraph in text.split("\n"):
        parts = [paragraph]
        if lines_of(paragraph) > most:  # one paragraph longer than a row: cut between words
            parts = []
            words = [piece for word in paragraph.split(" ") for piece in _word_pieces(word, lines_of, most)]
            start = 0
            while start < len(words):  # the most words from `start` that fit, by halving
                fits, over = start + 1, len(words) + 1
                while over - fits > 1:
                    mid = (fits + over) // 2
                    if lines_of(" ".join(words[start:mid])) <= most:
                        fits = mid
                    else:
                        over = mid
                parts.append(" ".join(words[start:fits]))
                start = fits
        for part in parts:
            n = lines_of(part)
            if current and used + n > most:
                pieces.append("\n".join(current))
                current, used = [], 0
            current.append(part)
            used += n
    pieces.append("\n".join(current))
    return pieces


def _word_pieces(word: str, lines_of: Callable[[str], int], most: int) -> list[str]:
    """`word`, or where it alone is taller than a row (a URL, a reference without spaces), its
    pieces of the most characters a row holds: one such word was printed cut after 31 lines."""
    pieces = []
    while lines_of(word) > most:
        fits, over = 1, len(word)  # the most characters that fit, by halving
        while over - fits > 1:
            mid = (fits + over) // 2
            fits, over = (mid, over) if lines_of(word[:mid]) <= most else (fits, mid)
        pieces.append(word[:fits])
        word = word[fits:]
    return pieces + [word]


def split_rows(values: Sequence[Any], lines_of: Callable[[str, int], int], most: int) -> list[list[Any]]:
    """`values` (one row's cells) as the rows they need: each text taller than a row cut into pieces
    (`chunks`; `lines_of(text, j)`: its lines in column j), the rows below holding the rest, the
    other cells on the first row only (None below)."""
    pieces = [chunks(v, lambda t, j=j: lines_of(t, j), most) if isinstance(v, str) else [v]
              for j, v in enumerate(values)]
    return [[p[k] if k < len(p) else None for p in pieces] for k in range(max(map(len, pieces)))]
