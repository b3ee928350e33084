"""The annotated copy (`acv-xl valider --annoter SORTIE.xlsx`).

A copy of the workbook where the `Contrôles` table lists the findings (with a link to each cell
to fix), the faulty cells are filled (light red: error, light orange: warning) and carry a note
with the message, and the status cells (`acv_statut`, `acv_date_validation`, `acv_empreinte`)
are written. The input file is only read.

The copy is made by editing the few OOXML parts that change (`ooxml`), never by an openpyxl
round trip: that would drop the Valider/Annexe buttons (DrawingML shapes), charts, cached formula
values and x14 extensions. Every other part is copied byte for byte, `vbaProject.bin` included.

What a previous run wrote is recognised and removed first, leaving the user's own formatting and
notes alone: fills of exactly the `FILLS` colours (the xlwings button uses the same ones); notes
whose author is `COMMENT_AUTHOR` or whose text
starts like ours (« Erreur FIN-05 : », LibreOffice saves notes without author). A cleared cell gets
no fill (its fill before the first highlight is not known any more). A cell that already has a
note of the user's keeps it and gets no note of ours (Excel allows one per cell); it is still filled.

`acv_empreinte` is written only when the validation has no error (spec: « Written when the
validation has no error »); with errors it is **emptied**: the three status cells describe the
last validation, and a fingerprint beside « Erreurs à corriger » would vouch for data that did
not pass. A workbook broken after a clean validation is then reported as never validated (CON-02
either way), and its errors are listed.
"""

from __future__ import annotations

import itertools
import os
import re
import zipfile
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar
from xml.etree import ElementTree as ET

from acv_xl.checks.findings import ORDER, Finding, Gravite, has_errors
from acv_xl.contract import layout
from acv_xl.contract.system_errors import resolved
from acv_xl.contract.values import EXCEL_COLUMNS, EXCEL_ERRORS, EXCEL_ROWS, ExcelError, fmt_number, fold, joined
from acv_xl.outputs import page_layout
from acv_xl.outputs.atomic import atomic_write
from acv_xl.outputs.formats import FILL_AVERTISSEMENT, FILL_ERREUR, FMT_DATE, fit_cell
from acv_xl.outputs.output_guard import extension_refused, folder_missing, folder_named
from acv_xl.reading.errors import UnreadableWorkbook
from acv_xl.reading.ooxml import (
    CT_COMMENTS,
    CT_WORKSHEET,
    CT_VML,
    NS_MAIN,
    NS_R,
    NS_XML,
    REL_COMMENTS,
    REL_TABLE,
    REL_VML,
    REL_WORKSHEET,
    Package,
    Styles,
    Workbook,
    Worksheet,
    XmlPart,
    parse_cell,
    parse_ref,
    q,
    quote_sheet,
    shared_strings,
    shifted,
    xml_text,
)
from acv_xl.reading.read import exact_columns, header_texts
from acv_xl.reading.source import a1 as _a1

COMMENT_AUTHOR = "acv-xl"
# The same colours as the xlwings Valider button (formats.FILL_*), off Excel's palette so that a
# user's own fills are never taken for ours and cleared.
FILLS: dict[Gravite, str] = {
    Gravite.ERREUR: "FF" + FILL_ERREUR.lstrip("#"),
    Gravite.AVERTISSEMENT: "FF" + FILL_AVERTISSEMENT.lstrip("#"),
}
DATE_FORMAT = FMT_DATE
STATUT_VALIDE = layout.L.STATUT_VALIDATION[1]  # « Validé »
STATUT_ERREURS = layout.L.STATUT_VALIDATION[2]  # « Erreurs à corriger »
MAX_CELLS_PER_FINDING = 200  # a finding on a range fills its cells, up to this many
# findings listed in Contrôles and marked in the sheets, at most (the worst first): each costs ≈ 25 KB
# of XML tree — a plan of 50 000 lines (100 000 findings) took 2,9 GB — and no one reads further
MAX_ANNOTATED = 10_000

_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_EPOCH_1904 = date(1904, 1, 1)


class _ReportLike(Protocol):
    findings: list[Finding]
    empreinte: str | None


def _since_rows(report) -> list[Finding]:
    """The changes since the last validation, as information rows of `Contrôles` (none when the
    workbook was not « modifié depuis la validation » or its validated data were not kept)."""
    comp = getattr(report, "depuis_validation", None)
    if comp is None:
        return []
    from acv_xl.outputs.comparison_report import controle_rows

    conv = getattr(report, "convention", None)
    # the copy is validated when the report is: its Accueil then shows today's validation
    return controle_rows(comp, conv.value("acv_date_validation") if conv is not None else None,
                         revalidated=bool(report.valide))


def _worst_first(findings: list[Finding]) -> list[Finding]:
    """The findings as they are when all are annotated, else errors first (the order kept within each)."""
    return findings if len(findings) <= MAX_ANNOTATED else sorted(findings, key=lambda f: ORDER[f.gravite])


def left_out(report) -> int:
    """How many findings (and changes since the validation) the copy neither lists nor marks."""
    count = len(report.findings) + len(_since_rows(report))
    return count - (MAX_ANNOTATED - 1) if count > MAX_ANNOTATED else 0


def within_cap(rows: list[Finding], here: str = "dans cette copie") -> list[Finding]:
    """The rows of Contrôles: all of them, or the `MAX_ANNOTATED` - 1 worst and a last row saying how
    many more there are and where they are listed. `here`: where they are not (the annotated copy, or
    the workbook the « Valider » button writes into)."""
    if len(rows) <= MAX_ANNOTATED:
        return rows
    kept = _worst_first(rows)[: MAX_ANNOTATED - 1]
    rest = len(rows) - len(kept)
    return kept + [Finding(
        code="", gravite=Gravite.INFORMATION,
        message=f"… et {fmt_number(rest)} autres constats, ni listés ni surlignés {here}, qui en montre "
                f"au plus {fmt_number(MAX_ANNOTATED - 1)}, les erreurs d'abord : le rapport de « acv-xl valider » "
                "les donne tous.",
        suggestion="Corrigez d'abord les constats listés, puis validez de nouveau.")]


def _snapshot_cells(report) -> list[str] | None:
    """What the hidden sheet of validated data holds after this validation: the data when it
    validates (no error), nothing otherwise (the fingerprint is emptied too, see the module doc)."""
    conv = getattr(report, "convention", None)
    if conv is None or has_errors(report.findings) or not report.empreinte:
        return None
    from acv_xl.reading.snapshot import encode

    return encode(conv, report.empreinte)


class AnnotationError(ValueError):
    """The copy cannot be written as asked; the message is French, for users."""


def check_output(src: Path, out: Path) -> str | None:
    """Why `out` cannot receive the annotated copy of `src` (French), or None when it can."""
    src, out = Path(src), Path(out)
    same = resolved(src) == resolved(out)
    if not same and out.exists() and src.exists():
        same = os.path.samefile(src, out)
    if same:
        return (f"la copie annotée ne peut pas remplacer le classeur d'origine ({src.name}) : "
                "indiquez un autre nom de fichier après --annoter.")
    if out.suffix.lower() not in (".xlsx", ".xlsm"):
        if out.is_dir():
            return folder_named("la copie annotée", out, ".xlsx")
        return extension_refused("la copie annotée", ".xlsx (ou .xlsm pour un classeur à macros)", out,
                                 (".xlsx", ".xlsm"))
    if not out.parent.is_dir():
        return folder_missing(out)
    # the workbook's own extension, spaces after it aside (« macros.xlsm  », unzipped on Linux, which
    # `valider` reads): its suffix « .xlsm  » made it no macro workbook, its copy an .xlsx Excel refuses
    kind = Path(src.name.rstrip()).suffix.lower()
    if (kind == ".xlsm") != (out.suffix.lower() == ".xlsm"):
        # Excel refuses a file whose extension does not match its content (macros or not)
        wanted = kind if kind in (".xlsx", ".xlsm") else ".xlsx"
        return (f"la copie annotée de {src.name} doit garder l'extension {wanted} "
                f"(Excel refuserait d'ouvrir {out.name}).")
    return None


def annotate(src: Path, out: Path, report: _ReportLike, today: date | None = None) -> str | None:
    """Write the annotated copy of `src` to `out` (see the module doc); `src` is never modified.
    None when its findings are listed; else what their listing lacks, in French, for the caller to say
    (no finding does, T_Controles is not read as data): T_Controles missing, or columns of it."""
    src, out = Path(src), Path(out)
    problem = check_output(src, out)
    if problem:
        raise AnnotationError(problem)
    try:
        try:
            pkg = Package.open(src)
        except UnreadableWorkbook as exc:  # the reader's guard: the same words as `valider`
            raise AnnotationError("la copie annotée n'a pas pu être écrite : "
                                  + exc.message[:1].lower() + exc.message[1:]) from None
        book = _Book(pkg)
        book.clear_highlights()
        rows = report.findings + _since_rows(report)
        kept = within_cap(rows)
        listed = book.list_findings(kept)
        # the findings listed, and those only: the last row says the others are neither listed nor marked
        own = {id(f) for f in report.findings}
        book.mark_cells([f for f in kept if id(f) in own])
        book.write_status(report, today or date.today())
        book.write_snapshot(_snapshot_cells(report))
        book.finish()
    except (zipfile.BadZipFile, ET.ParseError, KeyError, IndexError, StopIteration, ValueError) as exc:
        if isinstance(exc, AnnotationError):
            raise
        # the validator reads leniently; a part this writer must rewrite may still be damaged
        raise AnnotationError(f"la copie annotée n'a pas pu être écrite : une partie du classeur {src.name} "
                              f"est illisible ou endommagée ({type(exc).__name__}).") from exc
    _write_atomically(pkg, src, out)
    if not rows:
        return None
    if not listed and book.controles_missing is None:
        return (f"sans la liste des constats : le tableau « {layout.T_CONTROLES.name} » de la feuille "
                f"« {layout.Sheet.CONTROLES} » est introuvable")
    return controles_missing(book.controles_missing, book.controles_sheet) if book.controles_missing else None


def _write_atomically(pkg: Package, src: Path, out: Path) -> None:
    # a temp file next to `out`, renamed at the end: a crash never leaves half a workbook
    atomic_write(out, pkg.save, mode_of=src)


# ----------------------------------------------------------------------------- the workbook
def _severity_rank(g: Gravite) -> int:
    return ORDER[g]


@dataclass
class _Target:
    """What goes on one faulty cell."""

    findings: list[Finding] = field(default_factory=list)
    cells: list[tuple[int, int]] = field(default_factory=list)  # filled cells (a range: several)
    note_cell: tuple[int, int] = (0, 0)


class _Book:
    def __init__(self, pkg: Package):
        self.pkg = pkg
        self.controles_missing: list[str] | None = None  # T_Controles' headers not found (None: no table)
        self.controles_sheet = layout.Sheet.CONTROLES  # the sheet T_Controles was found on, whatever its name
        self.wb = Workbook(pkg)
        if not self.wb.xml.root.tag.startswith("{" + NS_MAIN + "}"):
            # Strict Open XML: other namespaces everywhere; not worth a second code path
            raise AnnotationError("ce classeur est au format « Strict Open XML » : enregistrez-le au format "
                                  "« Classeur Excel (.xlsx) » puis relancez l'annotation.")
        if not self.wb.styles_part or not pkg.has(self.wb.styles_part):
            raise AnnotationError("le classeur n'a pas de feuille de styles : impossible d'en faire une copie annotée.")
        self.styles = Styles(pkg, self.wb.styles_part)
        self._sheets: dict[str, Worksheet] = {}
        # the parts of worksheets: a chart sheet (or a macro sheet) has no cells to write — a status, a
        # fill or the validated data written into one made a part Excel « répare »
        self.worksheets = {t for _i, ty, t in pkg.relationships(self.wb.part) if ty == REL_WORKSHEET}
        self.fill_ids: dict[Gravite, int] = {}  # created when first needed
        self.notes_to_add: dict[str, dict[tuple[int, int], str]] = defaultdict(dict)  # part → cell → text

    def sheet(self, part: str) -> Worksheet:
        if part not in self._sheets:
            self._sheets[part] = Worksheet(self.pkg, part)
        return self._sheets[part]

    # -- previous run
    def clear_highlights(self) -> None:
        our_rgbs = set(FILLS.values())
        ours = {i for i in range(self.styles.xf_count)
                if self.styles.fill_rgb(_int(self.styles.xf(i).get("fillId"))) in our_rgbs}
        if not ours:
            return
        for part in self.wb.sheets.values():
            if part not in self.worksheets:
                continue
            styles_used = {int(s) for s in re.findall(rb'\bs="(\d+)"', self.pkg.parts[part])}
            if not styles_used & ours:
                continue  # leave the part untouched (not even re-serialised)
            ws = self.sheet(part)
            for _r, _c, cell in ws.iter_cells():
                s = _int(cell.get("s"))
                if s in ours:
                    cell.set("s", str(self.styles.derive(s, fillId="0", applyFill=None)))
                    ws.touch()

    # -- Contrôles
    def _controles_table(self) -> tuple[str, str, XmlPart] | None:
        """(sheet part, table part, table XML) of T_Controles, found by name as Excel does."""
        wanted = layout.T_CONTROLES.name.lower()
        for part in self.wb.sheets.values():
            for _rid, ty, target in self.pkg.relationships(part):
                if ty != REL_TABLE or not self.pkg.has(target):
                    continue
                t = self.pkg.xml(target)
                if wanted in (t.root.get("name", "").lower(), t.root.get("displayName", "").lower()):
                    return part, target, t
        return None

    def list_findings(self, findings: list[Finding]) -> bool:
        found = self._controles_table()
        if found is None:
            return False  # the rest is still annotated; the caller tells the user
        part, table_part, table = found
        ws = self.sheet(part)
        r1, c1, r2, c2 = parse_ref(table.root.get("ref", "A1"))
        header_rows = 0 if table.root.get("headerRowCount") == "0" else 1
        totals_rows = _int(table.root.get("totalsRowCount"))
        first_data = r1 + header_rows
        old_last = r2 - totals_rows
        names = [tc.get("name", "") for tc in table.root.iter(q("tableColumn"))]
        found, self.controles_missing = controles_columns(names)
        self.controles_sheet = self.wb.sheet_name(part)
        if not found:
            return False  # rows of nothing but empty cells: the copy lists none, and the caller says why
        col_of = {attr: c1 + j for attr, j in found.items()}

        # formats of the first data row, reused on every row written (the template's wrap, widths…)
        style_of = {}
        for col in range(c1, c2 + 1):
            cell = ws.cell(first_data, col, create=False)
            style_of[col] = cell.get("s") if cell is not None else ws.col_style(col)
        # the user's own columns (« Suite donnée »…), their cells carried with the finding they stood beside;
        # a formula as the value it shows (`_as_value`), as the button writes it. The rows are paired even with
        # no column of the user's: an Excel comment on a finding's own cells (« à voir avec la DDT » on its
        # message) follows it too, and a row the user typed in the table (`rows_alone`) goes under them
        theirs = [c1 + j for j in range(len(names)) if j not in found.values()]
        # (and a row of no finding with a comment on its cells is one the user wrote on: a finding's row cleared with
        # Suppr, which leaves its comments — deleted with the row; the button, which reads none, leaves it on its cell)
        on_rows = {r for r, c in _SheetNotes(self.pkg, ws, []).cells() if first_data <= r <= old_last and c1 <= c <= c2}
        commented = bool(on_rows)

        def own(r: int, c: int) -> bool:  # a finding's own cells, but « Cellule », whose link is ours, written anew
            return first_data <= r <= old_last and c1 <= c <= c2 and c != col_of.get("cellule")

        # a link of the user's there (the message to the file of the case) goes with its finding, as a comment does
        linked = any(own(r, c) for _h, (r, c) in self._cell_links(ws))
        shared = shared_strings(self.pkg, self.wb)

        def cells_of(row: int, cols: Iterable[int]) -> dict[int, ET.Element]:
            return {col: kept for col in cols if (cell := ws.cell(row, col, create=False)) is not None and len(cell)
                    and (kept := _as_value(cell)) is not None}

        # (the rows the sheet holds only: a table stretched down to row 1 048 576 read a million empty rows here,
        # 500 MB — none of them a finding's nor a row typed)
        held = sorted(on_rows | {r for r, cells in ws.cells.items() if first_data <= r <= old_last
                                 and any(c1 <= col <= c2 for col in cells)})
        previous = [({a: _own_value(ws, row, col, shared) for a, col in col_of.items()}, (row, cells_of(row, theirs)))
                    for row in held]
        typed_rows = rows_alone(previous, lambda saved: saved[0] in on_rows
                                or not all(_says_nothing(c, shared) for c in saved[1].values()))
        alone = [(held[k], cells_of(held[k], range(c1, c2 + 1))) for k in typed_rows]  # written whole, in the table
        # their heights too (a note on three lines the user made its row tall for): reset with the rows it left
        tall = [el.get("ht") if (el := ws.rows.get(row)) is not None and el.get("customHeight") in ("1", "true")
                else None for row, _cells in alone]
        count = len(findings) + len(alone)
        last_used = max((r for r, cells in ws.cells.items() if r > r2 and any(
            c1 <= col <= c2 and len(cell) for col, cell in cells.items())), default=r2)
        if problem := past_the_grid(self.wb.sheet_name(part), first_data, totals_rows, r2, last_used, len(findings),
                                    len(alone)):
            raise AnnotationError(f"la copie annotée n'a pas pu être écrite : {problem}")
        new_last = first_data + max(count, 1) - 1
        # what the user typed below the table (notes for the comité…) moves down as the table grows, as the
        # button moves it (`udfs.scripts.write_controles`) and Excel when a line is added: it was deleted
        new_end = new_last + totals_rows
        # (a merged range there too, even empty: the findings were written under it, half of each hidden)
        blocks = self._blocks_below(ws, part, table_part, r2 + 1) if new_end > r2 else []
        # (a chart put under the table too, on empty cells: the findings were written under it, hidden; and an
        # Excel comment on an empty cell, shown beside a finding — two on one cell once a note's came there)
        if new_end > r2 and (any(c1 <= col <= c2 and len(cell) for r in range(r2 + 1, new_end + 1)
                                 for col, cell in ws.cells.get(r, {}).items())
                             or any(br1 <= new_end and bc1 <= c2 and bc2 >= c1 for br1, bc1, _br2, bc2 in blocks)
                             or self._drawn_on(part, r2 + 1, new_end, c1, c2)
                             or any(r2 < r <= new_end and c1 <= c <= c2
                                    for r, c in _SheetNotes(self.pkg, ws, []).cells())):
            lo, hi = moved_columns(r2 + 1, c1, c2, blocks)
            ws.move_down(r2 + 1, lo, hi, new_end - r2,
                         next((n for n, sp in self.wb.sheets.items() if sp == part), None))
            self._move_tables(part, table_part, r2 + 1, lo, hi, new_end - r2)
            _SheetNotes(self.pkg, ws, []).move_down(r2 + 1, lo, hi, new_end - r2)
            self._move_drawings(part, r2 + 1, lo, hi, new_end - r2)
        # a totals row (the template has none, a user may add one) moves under the new last row; a formula it
        # shares with the rows cleared (a note column filled down through it) given its own text first
        ws.unshare_leaving(first_data, c1, max(old_last, new_last) + totals_rows, c2,
                           kept=range(old_last + 1, old_last + 1 + totals_rows), by=new_last - old_last)
        totals = [{col: _copy_el(cell) for col in range(c1, c2 + 1)
                   if (cell := ws.cell(old_last + 1 + k, col, create=False)) is not None}
                  for k in range(totals_rows)]
        pairs = paired_rows(previous, findings) if theirs or commented or linked or alone else [None] * len(findings)
        carried = [None if n is None else previous[n][1] for n in pairs] + alone
        at = listing_order(previous, pairs, typed_rows)  # each row's place: one typed under a finding stays under it
        # old row → new: of the totals row (its cells moved under the findings below), and of each note kept
        went = {old_last + 1 + k: new_last + 1 + k for k in range(totals_rows)}
        went.update({saved[0]: first_data + at[i] for i, saved in enumerate(carried) if saved})

        typed = {row for row, _cells in alone}

        def follows(r: int, c: int) -> bool:  # a cell of the totals row, a note of the user's columns, a row typed
            return (c1 <= c <= c2 and (old_last < r <= old_last + totals_rows or r in typed)) \
                or (first_data <= r <= old_last and c in theirs)

        # their hyperlinks and notes (comments) go too: a link deleted, a note left on its old row, shown beside
        # another finding (or, a note's coming there, two on one cell, which Excel repairs) — or beside none, its
        # finding gone
        links = [(h, went[r]) for h, (r, c) in self._cell_links(ws) if (follows(r, c) or own(r, c)) and r in went]
        if commented or totals_rows:  # (not our hyperlinks on Cellule: they are written anew)
            _SheetNotes(self.pkg, ws, []).relocate(
                lambda r, c: (r, c) if not (follows(r, c) or (first_data <= r <= old_last and c1 <= c <= c2))
                else (went[r], c) if r in went else None)
        # (here and below, the rows the sheet holds only: the table's range may run down to row 1 048 576)
        for row in _held(ws.cells, first_data, max(old_last, new_last) + totals_rows):
            ws.remove_row_cells(row, c1, c2)
        self._remove_hyperlinks(ws, first_data, c1, max(old_last, new_last) + totals_rows, c2)
        if links:
            kept_links = ws.child("hyperlinks", create=True)
            for h, row in links:
                moved = _copy_el(h)
                moved.set("ref", _a1(row, parse_cell(h.get("ref"))[1]))
                kept_links.append(moved)
            ws.touch()

        link_style: dict[str | None, str] = {}
        for i, f in enumerate(findings):
            row = first_data + at[i]
            values = {
                "gravite": f.gravite.libelle, "code": f.code, "feuille": f.feuille, "cellule": f.cellule,
                "action": f.action, "message": f.message, "suggestion": f.suggestion,
            }
            for attr, col in col_of.items():
                cell = ws.set_text(row, col, fit_cell(str(values[attr] or "")))
                if style_of.get(col):
                    cell.set("s", style_of[col])
            # every column of the row exists, so the table's banding and borders show on it
            for col in range(c1, c2 + 1):
                cell = ws.cell(row, col)
                if style_of.get(col) and not cell.get("s"):
                    cell.set("s", style_of[col])
            if "cellule" in col_of and f.feuille and f.cellule and self.wb.sheet_part(f.feuille):
                col = col_of["cellule"]
                target = f.cellule.split(":")[0].replace("$", "")
                self._add_hyperlink(ws, row, col, f"{quote_sheet(self.wb.sheet_name(self.wb.sheet_part(f.feuille)))}!{target}",
                                    f"{f.feuille}!{f.cellule}")
                base = style_of.get(col)
                if base not in link_style:
                    xf = self.styles.xf(_int(base))
                    font = self.styles.link_font(_int(xf.get("fontId")))
                    link_style[base] = str(self.styles.derive(_int(base), fontId=str(font), applyFont="1"))
                ws.cell(row, col).set("s", link_style[base])

        for row in (first_data + at[i] for i in range(len(findings), count)):  # a note alone: its row banded too
            for col in range(c1, c2 + 1):
                if style_of.get(col):
                    ws.cell(row, col).set("s", style_of[col])
        for i, saved in enumerate(carried):
            for col, el in (saved[1] if saved else {}).items():
                cell = ws.cell(first_data + at[i], col)
                cell.attrib.clear()
                cell.attrib.update({**el.attrib, "r": _a1(first_data + at[i], col)})
                cell[:] = list(el)

        # rows tall enough for their wrapped message and suggestion (a default height cuts them)
        widths = {col: ws.col_width(col) for col in col_of.values()}
        for i, f in enumerate(findings):
            height = page_layout.row_height((str(getattr(f, attr) or ""), widths[col_of[attr]])
                                            for attr in ("message", "suggestion") if attr in col_of)
            ws.set_row_height(first_data + at[i], height if height > page_layout.LINE_PT + 2 else None)
        for i in range(len(findings), count):  # rows typed: their own heights, not those a previous run set there
            height = tall[i - len(findings)]
            ws.set_row_height(first_data + at[i], float(height) if height is not None
                              and re.fullmatch(r"\d+(\.\d+)?", height.strip()) else None)
        for row in _held(ws.rows, first_data + count, old_last):  # rows a previous run made tall, left empty
            ws.set_row_height(row, None)

        for k, cells in enumerate(totals):
            for col, saved in cells.items():
                cell = ws.cell(new_last + 1 + k, col)
                cell.attrib.clear()
                cell.attrib.update({**saved.attrib, "r": _a1(new_last + 1 + k, col)})
                cell[:] = list(saved)
        new_ref = f"{_a1(r1, c1)}:{_a1(new_last + totals_rows, c2)}"
        table.root.set("ref", new_ref)
        af = table.root.find(q("autoFilter"))
        if af is not None:
            af.set("ref", f"{_a1(r1, c1)}:{_a1(new_last, c2)}")
            # a filter the user had on (« Erreur » only): its rows hidden stay so where other findings now stand, an
            # error hidden under a filter that says errors are shown; lifted, every row shown (what it showed is no
            # longer there to show). A column's button the user hid is no filter: kept hidden
            for column in af.findall(q("filterColumn")):
                column[:] = []
                if column.get("hiddenButton") not in ("1", "true") and column.get("showButton") not in ("0", "false"):
                    af.remove(column)
        # and a sort the user had on (« Gravité » Z→A): the rows are in the findings' order now, not the one its
        # arrow shows, and its range, the old rows', reached past the table once it shrank
        for holder in (table.root, af):
            for sort in holder.findall(q("sortState")) if holder is not None else ():
                holder.remove(sort)
        for row in _held(ws.rows, first_data, max(old_last, new_last)):
            if ws.rows[row].attrib.pop("hidden", None) is not None:
                ws.touch()
        self._filter_mode_off(ws, part)
        self.pkg.touch(table_part)
        ws.touch()
        return True

    def _filter_mode_off(self, ws: Worksheet, part: str) -> None:
        """The sheet's flag « a filter hides rows here » (`<sheetPr filterMode="1">`, Excel's FilterMode) dropped once
        T_Controles' filter is lifted and no other is left on the sheet: kept, it said so of a sheet whose every row
        is shown — LibreOffice ignores it, but Excel trusts it (« Effacer » the filter, a macro's ShowAllData). Kept
        while a filter of another table or of the sheet still has a criterion, or a row outside T_Controles is
        hidden (an advanced filter leaves no criterion in the sheet, only its hidden rows)."""
        pr = ws.child("sheetPr")
        if pr is None or pr.get("filterMode") not in ("1", "true"):
            return
        filters = [ws.child("autoFilter")] + [self.pkg.xml(target).root.find(q("autoFilter"))
                                              for _rid, ty, target in self.pkg.relationships(part)
                                              if ty == REL_TABLE and self.pkg.has(target)]
        if any(len(column) for af in filters if af is not None for column in af.findall(q("filterColumn"))) \
                or any(el.get("hidden") in ("1", "true") for el in ws.rows.values()):
            return
        del pr.attrib["filterMode"]
        ws.touch()

    def _move_drawings(self, part: str, first_row: int, c1: int, c2: int, by: int) -> None:
        """The pictures, charts and shapes anchored on the moved cells go down with them, as an inserted row
        moves an object that moves with its cells: left where they were, they covered the findings written
        there. Edited as text, as the notes' VML: the drawing part is otherwise copied byte for byte."""
        for _rid, ty, target in self.pkg.relationships(part):
            if ty != REL_DRAWING or not self.pkg.has(target):
                continue
            data = self.pkg.parts[target]
            lowered = _ANCHOR.sub(lambda m: _lower_anchor(m, first_row, c1, c2, by), data)
            if lowered != data:
                self.pkg.write_bytes(target, lowered)

    def _drawn_on(self, part: str, r1: int, r2: int, c1: int, c2: int) -> bool:
        """Whether a picture, chart or shape of the sheet is anchored on a cell of rows r1..r2, columns c1..c2
        (one `_move_drawings` moves down with them)."""
        for _rid, ty, target in self.pkg.relationships(part):
            if ty == REL_DRAWING and self.pkg.has(target):
                for m in _ANCHOR.finditer(self.pkg.parts[target]):
                    if (at := _anchor_cell(m)) is not None and r1 <= at[0] <= r2 and c1 <= at[1] <= c2:
                        return True
        return False

    def _blocks_below(self, ws: Worksheet, part: str, controles: str, first_row: int) -> list[tuple[int, int, int, int]]:
        """The user's tables and merged ranges of the sheet from `first_row` down (`moved_columns`)."""
        refs = [t.root.get("ref", "") for _rid, ty, target in self.pkg.relationships(part)
                if ty == REL_TABLE and target != controles and self.pkg.has(target)
                for t in (self.pkg.xml(target),)]
        refs += [m.get("ref", "") for m in ws.root.iter(q("mergeCell"))]
        out = []
        for ref in refs:
            try:
                box = parse_ref(ref)
            except ValueError:
                continue
            if box[2] >= first_row:
                out.append(box)
        return out

    def _move_tables(self, part: str, controles: str, first_row: int, c1: int, c2: int, by: int) -> None:
        """The user's tables wholly among the cells `Worksheet.move_down` moved (a table of notes below
        T_Controles) go with them, as Excel's insertion moves them (the button's): their definition named
        the rows the cells left — over the findings, a header row no longer its columns' names, a table
        Excel « répare » by deleting it when the annotated copy is opened."""
        for _rid, ty, target in self.pkg.relationships(part):
            if ty != REL_TABLE or target == controles or not self.pkg.has(target):
                continue
            t = self.pkg.xml(target)
            try:
                tr1, tc1, _tr2, tc2 = parse_ref(t.root.get("ref", ""))
            except ValueError:
                continue
            if tr1 < first_row or tc1 < c1 or tc2 > c2:
                continue
            for el in t.root.iter():  # the table's range, its filter's, its sort's and their conditions'
                if el.get("ref"):
                    el.set("ref", shifted(el.get("ref"), by))
            self.pkg.touch(target)

    @staticmethod
    def _remove_hyperlinks(ws: Worksheet, r1: int, c1: int, r2: int, c2: int) -> None:
        links = ws.child("hyperlinks")
        if links is None:
            return
        for h in list(links):
            try:
                hr1, hc1, hr2, hc2 = parse_ref(h.get("ref", ""))
            except ValueError:
                continue
            if r1 <= hr1 and hr2 <= r2 and c1 <= hc1 and hc2 <= c2:
                links.remove(h)
        if len(links) == 0:
            ws.remove_child("hyperlinks")
        ws.touch()

    @staticmethod
    def _cell_links(ws: Worksheet) -> list[tuple[ET.Element, tuple[int, int]]]:
        """The sheet's hyperlinks on one cell each, with that cell."""
        links = ws.child("hyperlinks")
        out = []
        for h in links if links is not None else ():
            try:
                r1, c1, r2, c2 = parse_ref(h.get("ref", ""))
            except ValueError:
                continue
            if (r1, c1) == (r2, c2):
                out.append((h, (r1, c1)))
        return out

    @staticmethod
    def _add_hyperlink(ws: Worksheet, row: int, col: int, location: str, display: str) -> None:
        links = ws.child("hyperlinks", create=True)
        ET.SubElement(links, q("hyperlink"), {"ref": _a1(row, col), "location": location, "display": display})
        ws.touch()

    # -- faulty cells
    def mark_cells(self, findings: list[Finding]) -> None:
        targets: dict[tuple[str, str], _Target] = {}
        for f in findings:
            if not f.feuille or not f.cellule or f.feuille == layout.Sheet.CONTROLES:
                continue
            part = self.wb.sheet_part(f.feuille)
            if part is None or part not in self.worksheets:
                continue
            try:
                r1, c1, r2, c2 = parse_ref(f.cellule)
            except ValueError:
                continue
            key = (part, f"{_a1(r1, c1)}:{_a1(r2, c2)}")
            t = targets.get(key)
            if t is None:
                cells = _cells(r1, c1, r2, c2)
                t = targets[key] = _Target(cells=cells, note_cell=(r1, c1))
            t.findings.append(f)

        # the worst finding of a cell gives its colour, whichever range it came from
        worst: dict[tuple[str, int, int], Gravite] = {}
        for (part, _ref), t in targets.items():
            g = min((f.gravite for f in t.findings), key=_severity_rank)
            for r, c in t.cells:
                k = (part, r, c)
                if k not in worst or _severity_rank(g) < _severity_rank(worst[k]):
                    worst[k] = g
        for (part, r, c), g in worst.items():
            if g not in FILLS:
                continue  # information: a note, no fill (nothing to fix)
            if g not in self.fill_ids:
                self.fill_ids[g] = self.styles.solid_fill(FILLS[g])
            ws = self.sheet(part)
            cell = ws.cell(r, c)
            s = _int(cell.get("s"))
            cell.set("s", str(self.styles.derive(s, fillId=str(self.fill_ids[g]), applyFill="1")))
            ws.touch()

        for (part, _ref), t in targets.items():
            lines = []
            for f in sorted(t.findings, key=lambda f: _severity_rank(f.gravite)):
                lines.append(f"{f.gravite.libelle} {f.code} : {f.message}")
                if f.suggestion:
                    lines.append(f"Suggestion : {f.suggestion}")
            existing = self.notes_to_add[part].get(t.note_cell)
            text = "\n".join(lines)
            self.notes_to_add[part][t.note_cell] = f"{existing}\n{text}" if existing else text

    # -- status cells
    def _named_cell(self, name: str, report: _ReportLike | None = None) -> tuple[Worksheet, int, int] | None:
        # where the reader found it (`report.convention`): a name scoped to its sheet, or to Projet and to
        # its copy (`source.takes_over`), as the button writes it — the workbook-level name alone left
        # « Non validé » and no fingerprint in the copy of a validated workbook
        named = getattr(getattr(report, "convention", None), "names", {}).get(name)
        if named is not None and named.sheet and named.cell:
            sheet, addr = named.sheet, named.cell
        else:
            formula = self.wb.defined_name(name)
            if not formula or "!" not in formula:
                return None
            sheet, _, addr = formula.lstrip("=").rpartition("!")
            if sheet.startswith("'") and sheet.endswith("'"):
                sheet = sheet[1:-1].replace("''", "'")
        part = self.wb.sheet_part(sheet)
        if part is None or part not in self.worksheets:
            return None
        try:
            r, c, _r2, _c2 = parse_ref(addr.replace("$", ""))
        except ValueError:
            return None  # #REF! or a formula: nothing sensible to write
        return self.sheet(part), r, c

    def write_status(self, report: _ReportLike, today: date) -> None:
        errors = has_errors(report.findings)
        if (loc := self._named_cell("acv_statut", report)) is not None:
            ws, r, c = loc
            ws.set_text(r, c, STATUT_ERREURS if errors else STATUT_VALIDE)
        if (loc := self._named_cell("acv_date_validation", report)) is not None:
            ws, r, c = loc
            epoch = _EXCEL_EPOCH_1904 if self.wb.date1904 else _EXCEL_EPOCH
            cell = ws.set_number(r, c, (today - epoch).days)
            xf = self.styles.xf(_int(cell.get("s")))
            if not self.styles.is_date_format(_int(xf.get("numFmtId"))):
                fmt = self.styles.num_fmt(DATE_FORMAT)
                cell.set("s", str(self.styles.derive(_int(cell.get("s")), numFmtId=str(fmt), applyNumberFormat="1")))
        if (loc := self._named_cell("acv_empreinte", report)) is not None:
            ws, r, c = loc
            ws.set_text(r, c, "" if errors else (report.empreinte or ""))

    # -- the validated data (hidden sheet, `reading.snapshot`)
    def write_snapshot(self, cells: list[str] | None) -> None:
        """Keep the validated data in the hidden sheet, or empty it when nothing was validated."""
        part = self.wb.sheet_part(layout.SNAPSHOT_SHEET)
        if part is not None and part not in self.worksheets:
            return  # a chart sheet of that name: nowhere to keep them (another sheet of its name is refused)
        if part is None:
            if not cells:
                return
            part = self._add_hidden_sheet(layout.SNAPSHOT_SHEET)
        else:
            for el in self.wb.xml.root.iter(q("sheet")):  # hidden again if a user showed it
                if self.wb.sheets.get(el.get("name", "")) == part:
                    el.set("state", "hidden")
                    self.pkg.touch(self.wb.part)
        ws = self.sheet(part)
        for row in list(ws.rows):
            ws.remove_row_cells(row, 1, EXCEL_COLUMNS)
        for i, text in enumerate(cells or [], start=1):
            ws.set_text(i, 1, text)
        ws.touch()

    def _add_hidden_sheet(self, name: str) -> str:
        part = self.pkg.free_name("xl/worksheets/sheet{}.xml")
        root = ET.Element(q("worksheet"))
        ET.SubElement(root, q("dimension"), {"ref": "A1"})
        ET.SubElement(root, q("sheetData"))
        ET.SubElement(root, q("pageMargins"), {"left": "0.7", "right": "0.7", "top": "0.75", "bottom": "0.75",
                                               "header": "0.3", "footer": "0.3"})
        self.pkg.set_xml(part, XmlPart.new(root, [("", NS_MAIN)]))
        self.pkg.add_override(part, CT_WORKSHEET)
        rid = self.pkg.add_rel(self.wb.part, REL_WORKSHEET, part)
        sheets = self.wb.xml.root.find(q("sheets"))
        ids = [_int(el.get("sheetId")) for el in sheets]
        # last, hidden: the tab order, the active tab and sheet-scoped names keep their indexes
        ET.SubElement(sheets, q("sheet"), {"name": name, "sheetId": str(max(ids, default=0) + 1),
                                           "state": "hidden", q("id", NS_R): rid})
        self.pkg.touch(self.wb.part)
        self.wb.sheets[name] = part
        self.worksheets.add(part)
        return part

    # -- notes and the end
    def finish(self) -> None:
        parts_with_notes = set(self.notes_to_add)
        for part in self.wb.sheets.values():
            if any(ty == REL_COMMENTS for _i, ty, _t in self.pkg.relationships(part)):
                parts_with_notes.add(part)
        for part in self.wb.sheets.values():  # workbook order: stable part numbering
            if part in parts_with_notes:
                _SheetNotes(self.pkg, self.sheet(part), self._vml_ids()).update(self.notes_to_add.get(part, {}))
        if any(ws.touched_formula for ws in self._sheets.values()):
            self.wb.drop_calc_chain()

    def _vml_ids(self) -> list[int]:
        ids = []
        for name, data in self.pkg.parts.items():
            if name.endswith(".vml"):
                ids += [int(x) for x in re.findall(rb"_x0000_s(\d+)", data)]
        return ids


REL_DRAWING = NS_R + "/drawing"
# a DrawingML anchor: (prefix, kind, attributes, body); objects are never nested in one another's anchor
_ANCHOR = re.compile(rb"<([\w.-]+:)?(twoCellAnchor|oneCellAnchor)\b([^>]*)>(.*?)</\1?\2\s*>", re.S)


def _anchor_cell(m: re.Match) -> tuple[int, int] | None:
    """(row, column) of an anchor's top-left cell, 1-based (0-based in the drawing), or None for an object
    fixed on the page (editAs="absolute": Excel moves it with no cell)."""
    prefix, body = re.escape(m.group(1) or b""), m.group(4)
    start = re.search(rb"<%sfrom>(.*?)</%sfrom>" % (prefix, prefix), body, re.S)
    if start is None or re.search(rb'\beditAs\s*=\s*["\']absolute', m.group(3)):
        return None
    col = re.search(rb"<%scol>\s*(\d+)\s*</%scol>" % (prefix, prefix), start.group(1))
    row = re.search(rb"<%srow>\s*(\d+)\s*</%srow>" % (prefix, prefix), start.group(1))
    return (int(row.group(1)) + 1, int(col.group(1)) + 1) if col and row else None


def _lower_anchor(m: re.Match, first_row: int, c1: int, c2: int, by: int) -> bytes:
    """One anchor `by` rows lower when its top-left cell is among the moved ones."""
    at = _anchor_cell(m)
    if at is None or not (at[0] >= first_row and c1 <= at[1] <= c2):
        return m.group(0)
    prefix, body = re.escape(m.group(1) or b""), m.group(4)
    lower = re.compile(rb"(<%s(from|to)>.*?<%srow>)\s*(\d+)\s*(</%srow>)" % (prefix, prefix, prefix), re.S)
    body = lower.sub(lambda r: r.group(1) + str(min(int(r.group(3)) + by, EXCEL_ROWS - 1)).encode() + r.group(4), body)
    return m.group(0)[:m.start(4) - m.start(0)] + body + m.group(0)[m.end(4) - m.start(0):]


def past_the_grid(sheet: str, first_data: int, totals_rows: int, end_row: int, last_used: int, count: int,
                  typed: int = 0) -> str | None:
    """Why T_Controles cannot list `count` findings and keep the `typed` rows the user typed in it
    (`rows_alone`) under them (French), or None: its rows from `first_data` (and its totals row, and what
    lies below it down to `last_used`, pushed down as it grows) would pass Excel's last row — a table Excel
    « répare » in the copy, a resize it refuses in the button."""
    below = max(last_used - end_row, 0)
    if first_data + max(count + typed, 1) - 1 + totals_rows + below <= EXCEL_ROWS:
        return None
    # (those rows said apart: counted among the findings, 3 findings and 2 notes were « 5 constats »)
    todo = [f"lister {fmt_number(count)} constat{'s' if count > 1 else ''}"]
    if typed:
        todo.append("garder la ligne que vous y avez saisie" if typed == 1 else
                    f"garder les {fmt_number(typed)} lignes que vous y avez saisies")
    if below:
        todo.append("décaler ce qui est saisi dessous")
    said = joined(todo)
    return (f"le tableau « {layout.T_CONTROLES.name} » est trop près de la dernière ligne de la feuille "
            f"« {sheet} » (ligne {fmt_number(EXCEL_ROWS)}) pour y {said} : déplacez-le plus haut (couper, coller), "
            "puis relancez.")


def moved_columns(first_row: int, c1: int, c2: int, blocks: list[tuple[int, int, int, int]]) -> tuple[int, int]:
    """The columns to move down from `first_row` so that the cells of T_Controles' columns c1..c2 move
    without cutting through a table or a merged range (r1, c1, r2, c2) below the table: a table of notes
    wider than T_Controles was split, its cells beside left where they were (its header row then held
    findings: a table Excel « répare »), and Excel refuses to insert cells through one (the button's
    insertion, and the whole Valider with it). Widened to every such block, and to those it then meets."""
    lo, hi = c1, c2
    grown = True
    while grown:
        grown = False
        for r1, k1, r2, k2 in blocks:
            if r2 >= first_row and k1 <= hi and k2 >= lo and (k1 < lo or k2 > hi):
                lo, hi, grown = min(lo, k1), max(hi, k2), True
    return lo, hi


def controles_columns(header: list) -> tuple[dict[str, int], list[str]]:
    """attr → position in T_Controles' header row of each of its columns, by its text, or typed otherwise
    (« gravite », « N° ACTION » : the same letters, case, accents and spaces aside), no header taken
    twice; and the headers found nowhere. A column not found was left empty in every finding, without a
    word: « Message » renamed « Constat » listed the findings without their message, and every header
    renamed listed empty rows. A header merely close to ours (« Action », « Messages ») is not taken for
    it, as the reader's nearest-header match would: it may be the user's own column, whose notes follow
    their findings (`kept_beside`), and writing ours there would replace what they typed."""
    texts = header_texts(header)
    found = exact_columns(texts, layout.T_CONTROLES)  # as the reader finds a table's columns, then folded
    folded = [fold(h) for h in texts]
    for col in layout.T_CONTROLES.columns:
        if col.attr not in found:
            target = fold(col.header)
            at = next((j for j, h in enumerate(folded) if h == target and j not in found.values()), None)
            if at is not None:
                found[col.attr] = at
    return found, [col.header for col in layout.T_CONTROLES.columns if col.attr not in found]


_T = TypeVar("_T")
_KEY = ("code", "feuille", "cellule", "action")  # what makes a finding the same from one run to the next


def _key_text(v: Any) -> str:
    """A cell of T_Controles as text, as written (« 3.1 »), whatever Excel made of it (a number 12.0)."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return "" if v is None else str(v).strip()


def kept_beside(previous: list[tuple[dict[str, Any], _T]], findings: list[Finding]) -> list[_T | None]:
    """What the user wrote in their own columns beside each finding (`paired_rows`), None for a finding new since."""
    return [None if n is None else previous[n][1] for n in paired_rows(previous, findings)]


def paired_rows(previous: list[tuple[dict[str, Any], _T]], findings: list[Finding]) -> list[int | None]:
    """The old row of T_Controles of each finding (an index in `previous`), whose notes follow it (`kept_beside`):
    what the user wrote in their own columns of T_Controles (« Suite donnée »…) beside each finding is carried from
    the row the same finding held: same code, sheet, cell and action, and the same message
    first — two findings may share the rest (two columns of a table deleted: two STR-04 on its first
    cell), and the note of the one gone went beside the other; then one whose cell moved with its row
    (`_moved_key`); then one whose message changed (an amount in it), in their order. None for a
    finding new since. `previous`: each old row's cells of
    ours (attr → value) and what the user's columns held. Both writers rewrote the whole row: the notes
    were lost at each run. A column of the key the table no longer has, or empty on every old row of a
    finding (put back as the message of a column missing advises), is left out of it: its old rows, empty
    there, matched no finding (« N° action » deleted: every note beside an action's finding was emptied);
    with none of them, only the message tells a finding."""
    found = previous[0][0] if previous else {}  # the columns found, the same on every row
    # a row the user typed (`rows_alone`) is beside no finding, not even one of no key, and decides nothing of
    # the key: a date typed in « N° action » put back empty made it part of the key, and every note was lost
    listing = [not _no_finding(ours) for ours, _theirs in previous]
    key = [a for a in _KEY if a in found
           and any(_key_text(ours.get(a)) for (ours, _theirs), listed in zip(previous, listing) if listed)]
    said = key + ["message"] * ("message" in found)
    same: dict[tuple, deque[int]] = defaultdict(deque)
    alike: dict[tuple, deque[int]] = defaultdict(deque)
    for n, (ours, _theirs) in enumerate(previous):
        if not listing[n]:
            continue
        same[tuple(_key_text(ours.get(a)) for a in said)].append(n)
        alike[tuple(_key_text(ours.get(a)) for a in key)].append(n)
    row: list[int | None] = [None] * len(findings)
    taken: set[int] = set()
    for i, f in enumerate(findings):
        if said and (queue := same.get(tuple(_key_text(getattr(f, a)) for a in said))):
            row[i] = n = queue.popleft()
            taken.add(n)
    if "cellule" in key and "message" in found:
        # a finding whose cell moved with its row (a row inserted above it: B19 became B20, « ligne 19 » in its
        # message « ligne 20 »): the same in every other way, its note was dropped. Only where its message, that
        # row number aside, tells it from every other finding and old row: lines faulty alike (« Montant (€) »
        # vide, ligne 5, 6, 7…) are told apart by their cells alone, and the note of one would go to another
        rest = [a for a in key if a != "cellule"]
        was = [(tuple(_key_text(ours.get(a)) for a in rest),
                _moved_key(ours.get("cellule"), ours.get("message")) if listed else None)
               for (ours, _theirs), listed in zip(previous, listing)]
        now = [(tuple(_key_text(getattr(f, a)) for a in rest), _moved_key(f.cellule, f.message)) for f in findings]
        once_was, once_now = _once(was), _once(now)
        # and only below the last row of its sheet where such a finding, told from every other, stayed on its
        # cell: no row was inserted or deleted above that one, so none above this finding either — « FEDER »
        # corrected on line 19 and typed again on a new line 20, F23 unchanged below: two lines, and the note
        # of the one fixed (« vu, accepté ») went beside the other's error
        still: dict[str, int] = defaultdict(int)  # sheet → that row
        for i, n in enumerate(row):
            if n is not None and was[n] == now[i] and now[i] in once_now and now[i] in once_was:
                sheet = _key_text(previous[n][0].get("feuille"))
                still[sheet] = max(still[sheet], _row_of(findings[i].cellule))
        by_key = {k: n for n, k in enumerate(was) if n not in taken and k in once_was}
        for i, k in enumerate(now):
            if row[i] is None and k in once_now and (n := by_key.get(k)) is not None \
                    and min(_row_of(previous[n][0].get("cellule")), _row_of(findings[i].cellule)) \
                    > still[_key_text(previous[n][0].get("feuille"))]:
                row[i] = n
                taken.add(n)
    # last, a message changed on the same cell: a line of the same code and action but another value, inserted
    # above B19, is found on B19 too, and took the note of B19's finding, moved with its row to B20
    for i, f in enumerate(findings):
        if row[i] is None and key and (queue := alike.get(tuple(_key_text(getattr(f, a)) for a in key))):
            while queue and queue[0] in taken:
                queue.popleft()
            if queue:
                row[i] = n = queue.popleft()
                taken.add(n)
    return row


_GRAVITES = {g.libelle for g in Gravite}


def _no_finding(ours: dict[str, Any]) -> bool:
    """An old row of T_Controles that listed no finding: no gravité of ours and no code (a row the user typed
    in the table: « Note du comité » in its first column), or, without a column « Gravité », nothing in
    any of ours (`_blank`)."""
    if "gravite" in ours:
        return _key_text(ours["gravite"]) not in _GRAVITES and _blank(ours.get("code"))
    return all(_blank(v) for v in ours.values())


_NOTHING = re.compile(r"^[\s\-\u2013\u2014]*$")  # a dash, or a few: the « - » a formula shows for nothing


def _blank(value: Any) -> bool:
    """A cell of one of T_Controles' own columns that says nothing: empty, a dash or an error value alone, a number 0
    or FALSE, as in the user's columns (`left_empty`). « - » typed in « Code », or #N/A or 0 shown there by a formula,
    made a row of no finding a finding's, paired with none and cleared, the user's note beside it lost; in
    « Message », a row typed, kept under the findings at every run. The text « 0 » counts, as in `left_empty`: the
    copy reads a number or a boolean as its type (`_own_value`), as the button receives it."""
    if isinstance(value, bool):
        return value is False
    if isinstance(value, (int, float)):
        return value == 0
    text = _key_text(value)
    return text in EXCEL_ERRORS or _NOTHING.match(text) is not None


def left_empty(value: Any) -> bool:
    """A user's cell of T_Controles that says nothing: empty, an unchecked box (FALSE, the state Excel gives every
    new row of a column of checkboxes), a zero or a dash (« - », what a formula of the column shows on a row with
    no finding: =SI([@Code]="";"-";…), a count of 0), an error value (#N/A, #VALEUR!…: a lookup of the row's
    empty code, =RECHERCHEV([@Code];…), which no one types for a note) — the template's empty row was kept under
    the findings, run after run, as if typed. The button sees the values only, so a formula is told by what it
    shows; and an error's text (« '#N/A ») as the error, which the add-in sends alike."""
    if isinstance(value, ExcelError) or isinstance(value, str) and value in EXCEL_ERRORS:
        return True
    if isinstance(value, bool):
        return value is False
    if isinstance(value, (int, float)):
        return value == 0
    return value is None or isinstance(value, str) and _NOTHING.match(value) is not None


def rows_alone(previous: list[tuple[dict[str, Any], _T]], holds: Callable[[_T], bool]) -> list[int]:
    """The old rows of T_Controles that were no finding's but hold something the user wrote (`previous` as for
    `kept_beside`; `holds`: whether a row's cells of theirs hold anything), in their order: a note typed just
    under the last finding, in their own column or in one of ours (« Note du comité : revoir l'action 2.1 »),
    which Excel adds to the table. Both writers rewrote the table's rows with the findings and cleared the
    rest, that note with them; such a row is now written whole in the table (`listing_order`)."""
    return [n for n, (ours, theirs) in enumerate(previous)
            if _no_finding(ours) and (not all(_blank(v) for v in ours.values()) or holds(theirs))]


def listing_order(previous: list[tuple[dict[str, Any], _T]], paired: list[int | None], alone: list[int]) -> list[int]:
    """Where each row written goes, from the table's first row: the findings (`paired`: their old rows,
    `paired_rows`), then the rows the user typed (`alone`: their old rows, `rows_alone`), in that order. A row typed
    between two findings' (« → relancé la Région le 3/12 », under an error) stays under the one above it wherever
    it goes; the others (under a finding gone, above every finding, or under the last one: the whole table's note)
    go under them all. They all went there: a note typed under an error ended under the last warning."""
    after: dict[int, list[int]] = defaultdict(list)  # the old row of a finding → the rows typed under it, in order
    loose: list[int] = []
    listed, typed = {n for n in paired if n is not None}, {n: k for k, n in enumerate(alone)}
    last = max((m for m, (ours, _theirs) in enumerate(previous) if not _no_finding(ours)), default=-1)
    above = None  # the last finding's row above (past other rows typed or left empty)
    for m, (ours, _theirs) in enumerate(previous):
        if m in typed:
            # (one under the last finding is the table's own note, « Note du comité : tout revu »: under them all)
            (after[above] if above in listed and m < last else loose).append(typed[m])
        elif not _no_finding(ours):
            above = m
    order: list[int] = [0] * (len(paired) + len(alone))
    at = 0
    for i, n in enumerate(paired):
        order[i], at = at, at + 1
        for k in after.pop(n, ()) if n is not None else ():  # (popped: each row typed placed once)
            order[len(paired) + k], at = at, at + 1
    for k in loose:
        order[len(paired) + k], at = at, at + 1
    return order


_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def _moved_key(cell: Any, message: Any) -> tuple[str, ...] | None:
    """A finding as it stays when its row moves: its cell's column, and its message with that row's number
    blanked where the message names the row (`_ROW_SAID`)."""
    m = _CELL.match(_key_text(cell))
    if m is None:
        return None
    parts = re.split(r"(\d+)", _key_text(message))
    return (m[1].upper(), *("" if k % 2 and p == m[2] and _ROW_SAID.search(parts[k - 1]) else p
                            for k, p in enumerate(parts)))


# how a message names its row: « Action 3.1, ligne 19 : », « Ligne 7 : » (`checks.rules.prefix`). Any other number
# that reads as the row's is not it, and stays when the row moves: the « 19 » of an amount (« 19 000 € », « 19,5 »),
# of a date (« sollicitée le 19/11/2025 »), a text « 19 » typed for an amount — blanked, it stayed in the new
# message (line 20) but not in the old one, and the note was dropped
_ROW_SAID = re.compile(r"\bligne\s$", re.IGNORECASE)


def _row_of(cell: Any) -> int:
    """The row of a single cell (`_moved_key` found one)."""
    return int(_CELL.match(_key_text(cell))[2])


def _once(keys: list[tuple]) -> set[tuple]:
    """The keys that occur once in `keys`, None-free."""
    seen: dict[tuple, int] = defaultdict(int)
    for k in keys:
        if k[1] is not None:
            seen[k] += 1
    return {k for k, count in seen.items() if count == 1}


def controles_missing(missing: list[str], sheet: str) -> str:
    """What the listing of the findings lacks (French, no capital, no full stop): `missing`, the headers of
    T_Controles that `controles_columns` found nowhere, on `sheet` (a Contrôles renamed « Contrôles 2026 »
    was called « Contrôles », a sheet the workbook has not)."""
    table = f"le tableau « {layout.T_CONTROLES.name} » de la feuille « {sheet} »"
    names = ", ".join(f"« {h} »" for h in missing)
    if len(missing) == len(layout.T_CONTROLES.columns):
        return (f"sans la liste des constats : {table} n'a plus aucune de ses colonnes ({names}), leurs en-têtes "
                "renommés ou effacés ; rétablissez-les, puis relancez")
    if len(missing) == 1:
        return (f"{table} n'a plus de colonne {names}, dont l'en-tête a été renommé ou la colonne supprimée : les "
                "constats y sont listés sans elle ; rétablissez-la, avec son en-tête exact, puis relancez")
    return (f"{table} n'a plus de colonnes {names}, dont les en-têtes ont été renommés ou les colonnes supprimées : "
            "les constats y sont listés sans elles ; rétablissez-les, avec leurs en-têtes exacts, puis relancez")


def _cells(r1: int, c1: int, r2: int, c2: int) -> list[tuple[int, int]]:
    """The cells of a range, at most MAX_CELLS_PER_FINDING (a whole column must not blow up)."""
    gen = ((r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))
    return list(itertools.islice(gen, MAX_CELLS_PER_FINDING))


def _held(rows: dict[int, Any], first: int, last: int) -> list[int]:
    """The rows from `first` to `last` that `rows` (a sheet's rows or cells, by row) holds, in order, as the range
    they replace went (a row added to the sheet comes last in the dict)."""
    return sorted(r for r in rows if first <= r <= last)


def _copy_el(el: ET.Element) -> ET.Element:
    return ET.fromstring(ET.tostring(el))


def _own_value(ws, row: int, col: int, shared: list[str]) -> Any:
    """A cell of T_Controles' own columns as text (`text_of`), but a boolean as one and a number 0 as a number, as the
    button receives them: `_blank` takes those for nothing, not the text « 0 » typed — the copy read all three as
    « 0 », and could not tell them as the button does."""
    text = ws.text_of(row, col, shared)
    cell = ws.cell(row, col, create=False) if text is not None else None
    t = cell.get("t") if cell is not None else "s"
    if t == "b":
        return text.strip() == "1"
    if t in (None, "n"):
        try:
            return 0.0 if float(text) == 0 else text
        except ValueError:
            return text
    return text


def _says_nothing(cell: ET.Element, shared: list[str]) -> bool:
    """A cell of the copy (`_as_value`'s: a formula as the value it showed) that `left_empty` takes for nothing,
    read as the button receives it: a boolean, a number, a text or an error — the two writers keep the same rows."""
    t, v = cell.get("t"), cell.find(q("v"))
    text = (v.text or "") if v is not None else None
    # no value, an empty <v/> (some programs write one): an empty cell for Excel; or spaces alone, no number nor text
    # index (`<v> </v>`): the copy kept it as a note, the button, sent nothing or those spaces, did not
    if not (text or "").strip() and t != "inlineStr":
        return left_empty(None)
    if t == "b":
        return left_empty(text is not None and text.strip() == "1")
    if t in (None, "n"):
        try:
            return left_empty(float(text) if text is not None else None)
        except ValueError:
            return False
    if t == "inlineStr":
        is_ = cell.find(q("is"))
        return left_empty("".join(x.text or "" for x in is_.iter(q("t"))) if is_ is not None else None)
    if t == "s":
        try:
            return left_empty(shared[int(text)])
        except (TypeError, ValueError, IndexError):
            return False
    if t == "e":  # the button receives it as its `ExcelError`
        return left_empty(ExcelError(text or ""))
    return t == "str" and left_empty(text)


def _as_value(cell: ET.Element) -> ET.Element | None:
    """A copy of a note's cell of T_Controles to carry to another row: a formula as the value it showed (its
    references would point elsewhere once moved), as the « Valider » button, which receives values only,
    writes it — it was left empty, the note lost; None for a formula of no value saved, or showing nothing."""
    el = _copy_el(cell)
    f = el.find(q("f"))
    if f is None:
        return el
    el.remove(f)
    for attr in ("cm", "vm"):  # a dynamic array's metadata, of the formula gone
        el.attrib.pop(attr, None)
    v = el.find(q("v"))
    if v is None or not v.text:  # (an empty <v/>: a program that saves no values writes one)
        return None
    if el.get("t") == "str":  # a formula's text: an inline string once no formula holds it
        at = list(el).index(v)
        el.remove(v)
        el.set("t", "inlineStr")
        is_ = ET.Element(q("is"))
        el.insert(at, is_)
        t = ET.SubElement(is_, q("t"))
        t.text = v.text or ""
        if t.text != t.text.strip() or "\n" in t.text:
            t.set(q("space", NS_XML), "preserve")
    return el


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


# ----------------------------------------------------------------------------- notes
_VML_SHAPE = re.compile(r"<v:shape\b(?:(?!<v:shape\b).)*?</v:shape>", re.S)
_VML_NOTE = re.compile(r'ObjectType\s*=\s*"Note"')
_VML_ROW = re.compile(r"<x:Row>\s*(\d+)\s*</x:Row>")
_VML_COL = re.compile(r"<x:Column>\s*(\d+)\s*</x:Column>")
_VML_ANCHOR = re.compile(r"<x:Anchor>([^<]*)</x:Anchor>")
REL_THREADED_COMMENT = "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment"
_VML_SHAPETYPE_202 = re.compile(r'<v:shapetype\b[^>]*\bid="_x0000_t202"')

_VML_HEAD = """<xml xmlns:v="urn:schemas-microsoft-com:vml"
 xmlns:o="urn:schemas-microsoft-com:office:office"
 xmlns:x="urn:schemas-microsoft-com:office:excel">
 <o:shapelayout v:ext="edit">
  <o:idmap v:ext="edit" data="{idmap}"/>
 </o:shapelayout>"""
_VML_SHAPETYPE = """<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202"
  path="m,l,21600r21600,l21600,xe">
  <v:stroke joinstyle="miter"/>
  <v:path gradientshapeok="t" o:connecttype="rect"/>
 </v:shapetype>"""
_VML_NOTE_SHAPE = """<v:shape id="_x0000_s{sid}" type="#_x0000_t202" style='position:absolute;
  margin-left:59.25pt;margin-top:1.5pt;width:240pt;height:80pt;z-index:{z};
  visibility:hidden' fillcolor="#ffffe1" o:insetmode="auto">
  <v:fill color2="#ffffe1"/>
  <v:shadow on="t" color="black" obscured="t"/>
  <v:path o:connecttype="none"/>
  <v:textbox style='mso-direction-alt:auto'>
   <div style='text-align:left'></div>
  </v:textbox>
  <x:ClientData ObjectType="Note">
   <x:MoveWithCells/>
   <x:SizeWithCells/>
   <x:Anchor>
    {c1}, 15, {r1}, 10, {c2}, 15, {r2}, 4</x:Anchor>
   <x:AutoFill>False</x:AutoFill>
   <x:Row>{row}</x:Row>
   <x:Column>{col}</x:Column>
  </x:ClientData>
 </v:shape>"""


# Our notes start « Erreur FIN-05 : … ». Recognised by their text as well as by their author,
# because LibreOffice saves every note with a blank author.
_OUR_NOTE = re.compile(rf"^({'|'.join(g.libelle for g in Gravite)}) [A-Z]{{2,5}}-\d{{2,3}} : ")


class _SheetNotes:
    """The legacy notes of one sheet: the comments part and its VML drawing (what Excel shows)."""

    def __init__(self, pkg: Package, ws: Worksheet, used_ids: list[int]):
        self.pkg, self.ws = pkg, ws
        self.used_ids = used_ids
        rels = pkg.relationships(ws.part)
        self.comments_rel = next(((i, t) for i, ty, t in rels if ty == REL_COMMENTS and pkg.has(t)), None)
        legacy = ws.child("legacyDrawing")
        rid = legacy.get(q("id", NS_R)) if legacy is not None else None
        self.vml_rel = next(((i, t) for i, ty, t in rels if i == rid and ty == REL_VML and pkg.has(t)), None)

    def update(self, new_notes: dict[tuple[int, int], str]) -> None:
        pkg, ws = self.pkg, self.ws
        if self.comments_rel:
            comments = pkg.xml(self.comments_rel[1])
        else:
            root = ET.Element(q("comments"))
            ET.SubElement(root, q("authors"))
            ET.SubElement(root, q("commentList"))
            comments = XmlPart.new(root, [("", NS_MAIN)])
        authors = comments.root.find(q("authors"))
        clist = comments.root.find(q("commentList"))
        if authors is None:
            authors = ET.Element(q("authors"))
            comments.root.insert(0, authors)
        if clist is None:
            clist = ET.SubElement(comments.root, q("commentList"))
        names = [a.text or "" for a in authors]
        ours = {str(i) for i, n in enumerate(names) if n == COMMENT_AUTHOR}

        removed: set[tuple[int, int]] = set()
        for cm in list(clist):
            text = "".join(t.text or "" for t in cm.iter(q("t")))
            if cm.get("authorId") in ours or _OUR_NOTE.match(text):
                clist.remove(cm)
                removed.add(parse_cell(cm.get("ref", "A1")))
        taken = {parse_cell(cm.get("ref", "A1")) for cm in clist}
        if COMMENT_AUTHOR not in names:
            ET.SubElement(authors, q("author")).text = COMMENT_AUTHOR
            names.append(COMMENT_AUTHOR)
        author_id = str(names.index(COMMENT_AUTHOR))

        added: list[tuple[int, int]] = []
        for (r, c), text in sorted(new_notes.items()):
            if (r, c) in taken:
                continue  # one note per cell in Excel: the user's note stays, the fill still shows
            cm = ET.SubElement(clist, q("comment"), {"ref": _a1(r, c), "authorId": author_id})
            t = ET.SubElement(ET.SubElement(cm, q("text")), q("t"))
            t.text = xml_text(text)
            t.set(q("space", NS_XML), "preserve")
            added.append((r, c))
        if added:  # row-major order, as Excel writes them
            clist[:] = sorted(clist, key=lambda cm: parse_cell(cm.get("ref", "A1")))

        if not removed and not added:
            return
        # the author list may now name only us, with no note: keep it, harmless and reused next run
        vml_text = self._vml_text()
        vml_text = self._vml_remove(vml_text, removed)
        vml_text = self._vml_add(vml_text, added)
        has_comments = len(clist) > 0
        has_shapes = bool(_VML_SHAPE.search(vml_text or ""))

        # comments part
        if has_comments:
            if self.comments_rel:
                pkg.touch(self.comments_rel[1])
            else:
                name = pkg.free_name("xl/comments{}.xml")
                pkg.set_xml(name, comments)
                pkg.add_rel(ws.part, REL_COMMENTS, name)
                pkg.add_override(name, CT_COMMENTS)
        elif self.comments_rel:
            rid, name = self.comments_rel
            pkg.remove_rel(ws.part, rid)
            pkg.remove(name)
            pkg.remove_override(name)

        # VML drawing
        if has_shapes:
            data = vml_text.encode(self._vml_encoding, errors="surrogateescape")
            if self.vml_rel:
                pkg.write_bytes(self.vml_rel[1], data)
            else:
                name = pkg.free_name("xl/drawings/vmlDrawing{}.vml")
                pkg.write_bytes(name, data)
                rid = pkg.add_rel(ws.part, REL_VML, name)
                pkg.add_default("vml", CT_VML)
                legacy = ws.child("legacyDrawing", create=True)
                legacy.set(q("id", NS_R), rid)
        elif self.vml_rel:
            rid, name = self.vml_rel
            pkg.remove_rel(ws.part, rid)
            pkg.remove(name)
            ws.remove_child("legacyDrawing")
        ws.touch()

    def move_down(self, first_row: int, c1: int, c2: int, by: int) -> None:
        """The notes of the cells `Worksheet.move_down` moved go with them, as Excel's insertion (the
        button's) moves them: a note on a line typed below T_Controles stayed on its old cell — now a
        finding's, the note shown over it — its line moved away without it."""
        self.relocate(lambda r, c: (r + by, c) if r >= first_row and c1 <= c <= c2 else (r, c))

    def cells(self) -> set[tuple[int, int]]:
        """The cells holding a note."""
        return {here for *_found, here in self._notes()}

    def _notes(self) -> Iterator[tuple[str, ET.Element, ET.Element, tuple[int, int]]]:
        """(its part, its parent, its element, its cell) of each note, legacy or threaded."""
        for name in [t for _i, ty, t in self.pkg.relationships(self.ws.part)
                     if ty in (REL_COMMENTS, REL_THREADED_COMMENT) and self.pkg.has(t)]:
            for parent in list(self.pkg.xml(name).root.iter()):
                for cm in list(parent):
                    if cm.tag.rpartition("}")[2] in ("comment", "threadedComment"):
                        try:
                            yield name, parent, cm, parse_cell(cm.get("ref", ""))
                        except ValueError:
                            continue

    def relocate(self, to: Callable[[int, int], tuple[int, int] | None]) -> None:
        """Each note (legacy, and the threaded comment of Excel 365 with its legacy note) moved to the cell
        `to` gives for its own, or deleted where it gives None."""
        changed: set[str] = set()
        for name, parent, cm, here in self._notes():
            there = to(*here)
            if there is None:
                parent.remove(cm)
            elif there != here:
                cm.set("ref", _a1(*there))
            if there != here:
                changed.add(name)
        for name in changed:
            self.pkg.touch(name)
        text = self._vml_text()
        if text is None:
            return

        def move(m: re.Match) -> str:
            shape = m.group(0)
            r, c = _VML_ROW.search(shape), _VML_COL.search(shape)
            if not (_VML_NOTE.search(shape) and r and c):
                return shape
            here = (int(r.group(1)) + 1, int(c.group(1)) + 1)
            there = to(*here)
            if there is None:
                return ""
            if there == here:
                return shape
            dr, dc = there[0] - here[0], there[1] - here[1]
            shape = _VML_ROW.sub(f"<x:Row>{there[0] - 1}</x:Row>", shape, count=1)
            shape = _VML_COL.sub(f"<x:Column>{there[1] - 1}</x:Column>", shape, count=1)

            def anchor(a: re.Match) -> str:  # left col, offset, top row, offset, right col, offset, bottom row, offset
                v = [x.strip() for x in a.group(1).split(",")]
                if len(v) != 8 or not all(x.isdigit() for x in v):
                    return a.group(0)
                for k, d in ((0, dc), (2, dr), (4, dc), (6, dr)):
                    v[k] = str(max(int(v[k]) + d, 0))
                return f"<x:Anchor>{', '.join(v)}</x:Anchor>"

            return _VML_ANCHOR.sub(anchor, shape, count=1)

        moved = _VML_SHAPE.sub(move, text)
        if moved != text:
            self.pkg.write_bytes(self.vml_rel[1], moved.encode(self._vml_encoding, errors="surrogateescape"))

    _vml_encoding = "utf-8"

    def _vml_text(self) -> str | None:
        if not self.vml_rel:
            return None
        data = self.pkg.parts[self.vml_rel[1]]
        m = re.match(rb"<\?xml[^>]*encoding=[\"']([\w-]+)", data)
        self._vml_encoding = m.group(1).decode() if m else "utf-8"
        return data.decode(self._vml_encoding, errors="surrogateescape")

    @staticmethod
    def _vml_remove(text: str | None, cells: set[tuple[int, int]]) -> str | None:
        if text is None or not cells:
            return text

        def keep(m: re.Match) -> str:
            shape = m.group(0)
            if not _VML_NOTE.search(shape):
                return shape
            r, c = _VML_ROW.search(shape), _VML_COL.search(shape)
            if r and c and (int(r.group(1)) + 1, int(c.group(1)) + 1) in cells:
                return ""
            return shape

        return _VML_SHAPE.sub(keep, text)

    def _vml_add(self, text: str | None, cells: list[tuple[int, int]]) -> str | None:
        if not cells:
            return text
        start = max(self.used_ids, default=1024) + 1
        if text is None:
            # a block of 1024 shape ids of its own (o:idmap), after every other drawing's
            idmap = max(self.used_ids, default=0) // 1024 + 1
            text = _VML_HEAD.format(idmap=idmap) + _VML_SHAPETYPE + "</xml>"
            start = idmap * 1024 + 1
        elif not _VML_SHAPETYPE_202.search(text):
            text = _insert_before_end(text, _VML_SHAPETYPE)
        shapes = []
        for k, (r, c) in enumerate(cells):
            sid = start + k
            self.used_ids.append(sid)
            r0, c0 = r - 1, c - 1
            shapes.append(_VML_NOTE_SHAPE.format(sid=sid, z=k + 1, row=r0, col=c0, c1=c0 + 1,
                                                 r1=max(r0 - 1, 0), c2=c0 + 5, r2=max(r0 - 1, 0) + 5))
        return _insert_before_end(text, "".join(shapes))


def _insert_before_end(text: str, fragment: str) -> str:
    i = text.rfind("</xml>")
    return text[:i] + fragment + text[i:] if i >= 0 else text + fragment
