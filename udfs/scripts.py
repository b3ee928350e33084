"""The two buttons of the Accueil sheet: « Valider » and « Générer l'annexe ».

The work is done by plain functions taking an `xw.Book` (`run_valider`, `run_generer_annexe`):
they serve xlwings Server and Lite (the `@xw.script` entry points, whose book is injected), the
desktop add-in (`valider_desktop()` through RunPython) and the tests (`xw.Book(json=payload)`).
`@xw.script` wraps its function on the server, so nothing calls `valider` itself.

The workbook is read through `XwSource` and `acv_xl.reading.read.read_source`, then validated by
`acv_xl.checks.validate.validate_convention`: the same findings, on the same cells, as `acv-xl valider`.
"""

from __future__ import annotations

import re
import sys
from collections import OrderedDict
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import xlwings as xw

from acv_xl.contract import layout
from acv_xl.checks import totals
from acv_xl.checks.findings import ORDER, Finding, Gravite
from acv_xl.contract.values import EXCEL_CELL_CHARS
from acv_xl.outputs.annotate import (controles_columns, controles_missing, left_empty, listing_order, moved_columns,
                                     paired_rows, past_the_grid, rows_alone, within_cap)
from acv_xl.outputs.formats import FILL_AVERTISSEMENT, FILL_ERREUR, FMT_DATE, fit_cell
from acv_xl.reading.source import TableBlock

from .server_alert import PROTECTION_CHECK
from .xw_source import XwSource

__all__ = ["valider", "generer_annexe", "valider_desktop", "generer_annexe_desktop",
           "run_valider", "run_generer_annexe"]

# the colours of `acv-xl valider --annoter`, so either clears what the other marked
FILLS = {Gravite.ERREUR: FILL_ERREUR, Gravite.AVERTISSEMENT: FILL_AVERTISSEMENT}
STATUT_VALIDE, STATUT_ERREURS = layout.L.STATUT_VALIDATION[1], layout.L.STATUT_VALIDATION[2]
TITRE_ALERTE = "Action Cœur de Ville"

# The annex written into the open book on the web (values only).
ANNEXE_WEB = "Annexe – " + layout.Sheet.FINANCEMENT

# The template's sheets the validator reads (plus Contrôles, whose previous content says which
# highlights to clear, and the hidden sheet of the validated data, to list what changed since).
INCLUDE = [s for s in layout.SHEETS if s != layout.Sheet.SYNTHESE] + [layout.SNAPSHOT_SHEET]
# What does not travel to the server: the button's own annex (values it wrote, which « Générer
# l'annexe » clears). Every other sheet does, under whatever name: the command line finds a table or a
# named cell on a renamed sheet (« Plan 2024 »), and with `include=INCLUDE` the add-in sent that sheet
# without its values nor its tables — the whole plan read as missing, its lines checked by no rule and
# its totals 0 €. Synthèse too (180 cells of formulas): a table moved there (cut and pasted beside the
# totals) is read by the command line, and the button said it « introuvable … supprimé, renommé ou
# converti en plage ordinaire » (STR-04), « Erreurs à corriger » where the command line said « Validé ».
EXCLUDE = [ANNEXE_WEB]
WEB_ENGINES = ("remote", "officejs")


# ------------------------------------------------------------------------------- helpers
_REINTERPRETED = re.compile(r"^[\d\s.,/:%€eE+-]+$")


def as_text(value: Any) -> Any:
    """Text that Excel would turn into a number, a date or a formula gets the ' prefix.

    Cell values written through Office.js and COM are parsed like typed input: « 1.2 » (an
    action number) would become a number, or a date in a French Excel.
    """
    if isinstance(value, str) and value and (value[0] in "=+-@" or _REINTERPRETED.match(value)):
        return "'" + value
    return value


def _read(book):
    from acv_xl.reading.read import read_source
    from acv_xl.checks.validate import validate_convention

    src = XwSource(book)
    conv = read_source(src)
    return src, validate_convention(conv, fichier=book.name)


def _sheet(book, name: str):
    for s in book.sheets:
        if s.name == name:
            return s
    return None


def _cells_of(findings: list[Finding]) -> "OrderedDict[tuple[str, str], str]":
    """(sheet, cell) → fill of its worst finding; information gets no fill (nothing to fix)."""
    worst: OrderedDict[tuple[str, str], Gravite] = OrderedDict()
    for f in findings:
        if f.feuille and f.cellule and f.gravite in FILLS:
            k = (f.feuille, f.cellule)
            if k not in worst or ORDER[f.gravite] < ORDER[worst[k]]:
                worst[k] = f.gravite
    return OrderedDict((k, FILLS[g]) for k, g in worst.items())


def _previous_cells(block: TableBlock | None) -> list[tuple[str, str]]:
    """The cells the previous run filled: T_Controles rows of an error or a warning."""
    out: list[tuple[str, str]] = []
    if block is None:
        return out
    idx = controles_columns(block.header)[0]
    if not {"gravite", "feuille", "cellule"} <= set(idx):
        return out
    filled = {g.libelle for g in FILLS}
    for r in block.rows:
        gravite, feuille, cellule = (r[idx[a]] if idx[a] < len(r) else None for a in ("gravite", "feuille", "cellule"))
        if gravite in filled and isinstance(feuille, str) and isinstance(cellule, str) \
                and feuille.strip() and cellule.strip():
            out.append((feuille.strip(), cellule.strip()))
    return out


def _finding_row(f: Finding, idx: dict[str, int], width: int) -> list[Any]:
    values = {
        "gravite": f.gravite.libelle,
        "code": f.code,
        "feuille": f.feuille,
        "cellule": f.cellule,
        "action": f.action,
        "message": f.message,
        "suggestion": f.suggestion,
    }
    row: list[Any] = [""] * width
    for attr, j in idx.items():
        row[j] = as_text(_fits(values[attr]))
    return row


def _carried(value: Any) -> Any:
    """A cell of the user's own column of T_Controles, to be written back elsewhere as it was: a time alone
    (« 12:30 », read as a `time`) as Excel holds it, a fraction of a day its cell's format shows — xlwings
    cannot send a `time`, and the whole response failed."""
    if value is None:
        return ""
    if isinstance(value, time):
        return (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86400
    return as_text(_fits(value))


def _shown_as(value: Any) -> str | None:
    """The number format a note of the user's column needs where it moves to, for a time or a date (a
    number for Excel, shown by its cell's format), else None: its format stays in the cell it left — a
    time « 12:30 » showed « 0,520833333 » beside its finding, and the next run read that number (the
    annotated copy moves the cell, its format with it). Set only where the cell held no note of that
    kind: one there (a date staying beside its finding, a column of dates) keeps the user's format
    (« 12 mars 2026 »)."""
    if isinstance(value, time):
        return "hh:mm:ss" if value.second or value.microsecond else "hh:mm"
    if isinstance(value, datetime) and value.time() != time():
        return FMT_DATE + " hh:mm"
    return FMT_DATE if isinstance(value, date) else None


def _format_moved(value: Any, before: Any) -> str | None:
    """The number format to set where the note `value` lands, on a cell that held `before` (None: a row new to
    the table): `_shown_as`, set only where that cell held no note of its kind; « General » for a number where a
    date or a time stood — the format left there showed a 3 as « 03/01/1900 », and the next run read it as that
    date; else None, the cell's format kept."""
    fmt, had = _shown_as(value), _shown_as(before)
    if fmt == had:
        return None
    if fmt is None and had is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return "General"
    return fmt


def _format_carried(sh, first_row: int, c1: int, shown: dict[int, list[str | None]]) -> None:
    """The formats of `_format_moved` set on the notes moved (`shown`: column offset → format of each row from
    `first_row`), one write per run of rows of the same format."""
    for j, formats in shown.items():
        start = 0
        for i in range(1, len(formats) + 1):
            if i == len(formats) or formats[i] != formats[start]:
                if formats[start] is not None:
                    sh.range((first_row + start, c1 + j), (first_row + i - 1, c1 + j)).number_format = formats[start]
                start = i


def _fits(text: Any) -> Any:
    """`text` cut to what a cell holds (`fit_cell`), room left for the apostrophe `as_text` may add:
    Excel refuses the whole write of Contrôles for one cell past it — no finding listed at all."""
    return fit_cell(text, EXCEL_CELL_CHARS - 1) if isinstance(text, str) else text


# ------------------------------------------------------------------------------- Valider
def write_controles(book, src: XwSource, findings: list[Finding]) -> bool:
    """Fill T_Controles with the findings, clear the rows left from the previous run, resize it.
    False when the table is not there (sheet deleted, table renamed or converted to a range):
    nowhere to write them, and no finding says so (T_Controles is not read as data)."""
    block = src.table(layout.T_CONTROLES.name)
    if block is None:
        return False
    idx = controles_columns(block.header)[0]
    if not idx:  # not one of its columns: rows of empty cells, the findings nowhere (the caller says why)
        return False
    sh = _sheet(book, block.sheet)
    r1, c1 = block.first_row, block.first_col
    ncols = len(block.header)
    c2 = c1 + ncols - 1
    old_n = len(block.rows)
    # the user's own columns (« Suite donnée »…): what they wrote beside a finding follows it; a row they typed
    # in the table, of no finding (`rows_alone`), is written whole, under the finding it followed (`listing_order`)
    theirs = [j for j in range(ncols) if j not in idx.values()]
    width = lambda r: r + [None] * (ncols - len(r))  # noqa: E731 — a row the payload sent shorter
    padded = [width(row) for row in block.rows]
    previous = [({a: row[j] for a, j in idx.items()}, [row[j] for j in theirs]) for row in padded]
    alone = rows_alone(previous, lambda kept: not all(map(left_empty, kept)))
    n = len(findings) + len(alone)  # the rows written
    table = src.xw_table(layout.T_CONTROLES.name)
    # (its totals row said by the table: a table stretched down to the sheet's last row is read up to its
    # values, the rows below them in no way a totals row — every validation that added a finding refused)
    shows_totals = table is not None and _shows_totals(table)
    if problem := past_the_grid(block.sheet, r1 + 1, 1 if shows_totals else 0, block.last_row,
                                src.last_used_row(block.sheet, block.last_row, c1, c2), len(findings), len(alone)):
        # the table resized past Excel's last row, or what is below pushed off it: refused by Excel
        raise ValidationImpossible(problem)
    moves = max(n, 1) != max(old_n, 1)
    if not moves:
        table = None
    totals = moves and shows_totals
    # what the user typed below the table (notes for the comité…) moves down as the table grows, as
    # Excel moves it when a line is added to a table: the findings were written over it. Also when the
    # rows look empty but the sheet is used below the table: a formula showing nothing (="") comes as ""
    # from the add-in, and was written over
    new_end = r1 + max(n, 1) + (1 if totals else 0)
    # merged cells below (known on the desktop only): the findings were written into them, half of each
    # hidden, and Excel refuses to insert cells through one wider than the table (« Validation impossible :
    # erreur inattendue », nothing listed); moved down even empty, as the annotated copy moves them
    merged = src.merged_boxes(block.sheet, block.last_row + 1, c1, c2) if new_end > block.last_row else []
    if new_end > block.last_row and (any(m[0] <= new_end for m in merged)
                                     or src.may_be_occupied(block.sheet, block.last_row + 1, new_end, c1, c2)):
        # over the columns of a table or merged range below that reaches past T_Controles' (`moved_columns`):
        # Excel refuses to insert cells through either, and the whole Valider stopped there; the merged
        # ranges of the columns so added asked for in turn (one lower may meet them only, not T_Controles')
        tables, lo, hi = src.table_boxes(block.sheet, block.name), c1, c2
        while (wider := moved_columns(block.last_row + 1, c1, c2, tables + merged)) != (lo, hi):
            lo, hi = wider
            merged += src.merged_boxes(block.sheet, block.last_row + 1, lo, hi)  # those known kept: it only widens
        sh.range((block.last_row + 1, lo), (new_end, hi)).insert(shift="down", copy_origin="format_from_left_or_above")
    if totals:
        # a totals row (a user's count of the findings): the findings were written over it and the table
        # resized so that its last finding became the totals row; turned off meanwhile (Excel keeps its
        # functions in the table's definition), its old row cleared, then shown again below the findings
        # — as `acv-xl valider --annoter` moves it
        table.show_totals = False
        sh.range((block.end_row, c1), (block.end_row, c2)).clear_contents()
    if n:
        rows = [_finding_row(f, idx, ncols) for f in findings] + [[_carried(v) for v in padded[k]] for k in alone]
        paired = paired_rows(previous, findings) if theirs or alone else [None] * len(findings)
        at = listing_order(previous, paired, alone)  # each row's place: one typed under a finding stays under it
        # column → format of each row: of the user's columns, and of every column of a row they typed (a date
        # typed in « Gravité » showed « 46368 » where it moved)
        shown: dict[int, list[str | None]] = {j: [None] * n for j in (range(ncols) if alone else theirs)}
        if theirs:
            for i, (row, n_was) in enumerate(zip(rows, paired)):
                for j in theirs if n_was is not None else ():
                    v = padded[n_was][j]
                    row[j] = _carried(v)
                    shown[j][at[i]] = _format_moved(v, padded[at[i]][j] if at[i] < old_n else None)
        for i, k in enumerate(alone, start=len(findings)):
            for j, v in enumerate(padded[k]):
                shown[j][at[i]] = _format_moved(v, padded[at[i]][j] if at[i] < old_n else None)
        placed: list[list[Any]] = [[]] * n
        for i, row in enumerate(rows):
            placed[at[i]] = row
        sh.range((r1 + 1, c1), (r1 + n, c2)).value = placed
        if shown:
            _format_carried(sh, r1 + 1, c1, shown)
    if old_n > n or n == 0:
        first_stale = r1 + 1 + n
        sh.range((first_stale, c1), (r1 + max(old_n, 1), c2)).clear_contents()
    if table is not None:
        # from the table's own top: with its header row turned off, `r1` is the row above it, and
        # Excel refuses to move a table's top (Office.js `resize`)
        top = r1 + 1 if table.show_headers is False else r1
        table.resize(sh.range((top, c1), (r1 + max(n, 1), c2)))
    if totals:
        table.show_totals = True
    return True


def _shows_totals(table) -> bool:
    try:
        return table.show_totals is True
    except Exception:  # noqa: BLE001 — an engine that does not say: none, as the reader takes it
        return False


def not_listed(report, block: TableBlock | None = None) -> str:
    """The message box of a validation whose findings had nowhere to go: the verdict at least, and
    where to read them — « Erreurs à corriger » on Accueil with an empty Contrôles says nothing. `block`:
    T_Controles when it was found, but none of its columns."""
    from acv_xl.outputs.report import verdict

    said = verdict(report, validated=True)[0]  # the button has just written « Validé » when it has no error
    if block is not None:
        gap = controles_missing(controles_columns(block.header)[1], block.sheet)
        return (f"Validation faite, {gap}. Verdict : {said} Pour lire les constats, lancez "
                "« acv-xl valider » sur le fichier.")
    return (f"Le tableau « {layout.T_CONTROLES.name} » de la feuille « {layout.Sheet.CONTROLES} » est introuvable "
            "(feuille supprimée, tableau renommé ou converti en plage ordinaire) : les constats de la validation "
            f"n'ont pas pu y être listés. Verdict : {said} Pour les lire, lancez « acv-xl valider » "
            "sur le fichier ; pour rétablir le tableau, « acv-xl migrer » recopie le classeur dans le modèle.")


def _colour_plan(book, findings: list[Finding],
                 before: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], "OrderedDict[tuple[str, str], str]"]:
    """What `highlight` will do: the cells of the previous run to clear (`before`, where nothing is left to fix) and
    the cells to fill, on the sheets the workbook has — also what `check_protection` looks at before any write."""
    now = _cells_of(findings)
    sheets = {s.name for s in book.sheets}
    clear = [(feuille, cellule) for feuille, cellule in before if (feuille, cellule) not in now and feuille in sheets]
    return clear, OrderedDict((k, fill) for k, fill in now.items() if k[0] in sheets)


def highlight(book, src: XwSource, findings: list[Finding],
              before: list[tuple[str, str]] | None = None) -> None:
    """Clear the previous run's fills where nothing is left to fix, then fill the cells to fix.

    Only the cells listed in the previous T_Controles are cleared (`before`: read before Contrôles is
    rewritten), so a user's own fills elsewhere stay; a cleared cell gets no fill (what it had before
    the first run is not known)."""
    if before is None:
        before = _previous_cells(src.table(layout.T_CONTROLES.name))
    clear, fill = _colour_plan(book, findings, before)
    sheets = {s.name: s for s in book.sheets}
    for (feuille, cellule) in clear:
        try:
            sheets[feuille].range(cellule).color = None
        except Exception:  # a user-edited Cellule that is no address: nothing to clear
            pass
    for (feuille, cellule), colour in fill.items():
        try:
            sheets[feuille].range(cellule).color = colour
        except Exception:  # an Excel that refuses it all the same (the desktop says so at once): the finding is listed
            pass


def _write_named(book, src: XwSource, name: str, value: Any) -> None:
    found = src.named(name)
    if found is None:  # a missing named cell is itself a finding (STR/PRJ)
        return
    sheet_name, cell, _ = found
    sh = _sheet(book, sheet_name)
    if sh is not None:
        sh.range(cell).value = value


def write_status(book, src: XwSource, report, today: date | None = None) -> None:
    """acv_statut, acv_date_validation, and acv_empreinte (emptied when there are errors, so
    that a fingerprint in the workbook always means « these data were validated »)."""
    _write_named(book, src, "acv_statut", STATUT_VALIDE if report.valide else STATUT_ERREURS)
    _write_named(book, src, "acv_date_validation", today or date.today())
    _write_named(book, src, "acv_empreinte", as_text(report.empreinte or "") if report.valide else "")


def check_protection(book, src: XwSource, controles: TableBlock | None, coloured: list[str] = (),
                     structure: str | None = None) -> None:
    """Before any write, the sheets « Valider » writes into (`_written_sheets`) looked at, the first one protected
    stopping it with its message, then the workbook's structure when the validation adds, hides or shows a sheet
    (`structure`: what it does, `_structure_change`): Excel refused the first write into one — on the web with its own
    English text (« The cell or chart you're trying to change is protected… »), on the desktop as « erreur
    inattendue » — what came before written. `coloured`: the sheets whose cells the colours go to or leave
    (`_colour_plan`). How Excel is asked: `stop_if_protected`."""
    stop_if_protected(book, _written_sheets(book, src, controles, coloured),
                      _structure_message(structure, "la validation", VALIDER) if structure else None,
                      "Validation", ValidationImpossible)


def stop_if_protected(book, sheets: list[tuple[str, str, list[str], bool]], structure: str | None, what: str,
                      refused: type[Exception]) -> None:
    """`sheets` (name, message, cells that may be left unlocked, colours only: `_written_sheets`) looked at before any
    write of a button, the first one protected stopping it with its message (`refused` raised on the desktop, said
    after « `what` impossible : » on the web), then the workbook's structure when `structure` (its message) is given.
    With the add-in (xlwings Server, Office.js), which does not say which sheets are protected, the button's first
    action has Excel look (`acvFeuillesProtegees`, static/js/acv-protection.js), its messages sealed for the message
    box by `server_alert.seal_actions`; on the desktop (Windows' COM), asked here. Not for VBA's client nor xlwings
    Lite, which have no such callback: as before."""
    engine = getattr(getattr(getattr(book, "app", None), "engine", None), "name", None)
    if engine == "excel":
        for name, message, cells, colours in sheets:
            try:
                sh = _sheet(book, name)
                stops = bool(sh.api.ProtectContents) and (
                    not sh.api.Protection.AllowFormattingCells if colours
                    else not cells or any(sh.range(c).api.Locked is not False for c in cells))
            except Exception:  # noqa: BLE001 — an Excel that does not say (macOS): the writes tell, as before
                stops = False
            if stops:
                raise refused(message)
        if structure is not None and _structure_locked(book):
            raise refused(structure)
        return
    try:
        # (xlwings Lite, in the browser — emscripten, the server refusing xlwings' Wasm mode — says « Office.js » too,
        # but its task pane is not ours: the callback missing, every click stopped on « n'a pas pu vérifier »)
        office_js = engine == "remote" and book.api.get("client") == "Office.js" and sys.platform != "emscripten"
    except Exception:  # noqa: BLE001 — a book that does not say: as before
        office_js = False
    if office_js and (sheets or structure):
        # [sheet, message, cells, colours], then the workbook's message (None: its structure is not looked at)
        _act(book, "runMacro", [PROTECTION_CHECK, [[name, f"{what} impossible : {message}", cells, colours]
                                                   for name, message, cells, colours in sheets],
                                f"{what} impossible : {structure}" if structure else None])


def _act(book, func: str, args: list) -> None:
    """An action appended to the answer of `book` itself (remote engine). xlwings' `book.app.macro(…)` and
    `book.app.alert(…)` append theirs to the last book their app opened: on the server, whose requests share one app
    from their threads, another request's — a click on « Valider » was answered with another commune's check or
    message box."""
    book.impl.append_json_action(func=func, args=args)


VALIDER, GENERER_ANNEXE = (layout.BUTTONS_BY_SCRIPT[b].caption for b in ("valider", "generer_annexe"))


def _again(button: str) -> str:
    return f"puis cliquez de nouveau sur « {button} ». Rien n'a été modifié dans le classeur."


_AGAIN = _again(VALIDER)
_UNPROTECT = "(onglet Révision > Ôter la protection de la feuille)"


def _written_sheets(book, src: XwSource, controles: TableBlock | None,
                    coloured: list[str] = ()) -> list[tuple[str, str, list[str], bool]]:
    """The sheets « Valider » writes into, each with what to say when it is protected, the cells written there that
    may be left unlocked (none: Excel refuses any write there — a table resized, rows inserted, a column of data),
    and whether only colours go there (`coloured`): those are set last (`_run_valider`), and a protection that
    allows the formatting of cells takes them. A data sheet protected (« Plan de financement ») refused them after
    everything else was written — on the web with the add-in's generic message, the previous run's colours left on
    cells since corrected: stopped before, as the others (the user has to unprotect it to correct those cells
    anyway). A sheet of no cell to colour or to clear stops nothing."""
    sheets: list[tuple[str, str, list[str], bool]] = []
    if controles is not None:
        sheets.append((controles.sheet, f"la feuille « {controles.sheet} » est protégée, et les constats de la "
                                        f"validation s'y écrivent. {_unprotect_it(book, controles.sheet)} {_UNPROTECT}, "
                                        f"{_AGAIN}", [], False))
    status = [found for name in ("acv_statut", "acv_date_validation", "acv_empreinte")
              if (found := src.named(name)) is not None]
    for sheet in dict.fromkeys(on for on, _cell, _ in status):
        if controles is None or sheet != controles.sheet:
            sheets.append((sheet, f"la feuille « {sheet} » est protégée, et la validation y écrit son statut. "
                                  f"{_unprotect_it(book, sheet)} {_UNPROTECT}, {_AGAIN}",
                           [cell for on, cell, _ in status if on == sheet], False))
    hidden = layout.SNAPSHOT_SHEET
    if (sh := _sheet(book, hidden)) is not None and all(name != hidden for name, *_ in sheets):
        sheets.append((hidden, f"la feuille{' masquée' if _visibility(sh) != VISIBLE else ''} « {hidden} » est "
                               f"protégée, et la validation y garde les données validées. {_unprotect_it(book, hidden)} "
                               f"{_UNPROTECT}, {_AGAIN}", [], False))
    whole = {name for name, _message, cells, _ in sheets if not cells}  # any protection stops them already
    for sheet in dict.fromkeys(coloured):
        if sheet not in whole:
            sheets.append((sheet, f"la feuille « {sheet} » est protégée, et la validation y colore les cellules à "
                                  "corriger (et retire la couleur de celles qui ne le sont plus). "
                                  f"{_unprotect_it(book, sheet)} {_UNPROTECT}, ou protégez-la de nouveau en autorisant la mise en forme des "
                                  f"cellules (case « Format de cellule »), {_AGAIN}", [], True))
    return sheets


def _unprotect_it(book, name: str) -> str:
    """« Déprotégez-la », how to show it first when the sheet is hidden: Excel unprotects the active sheet only, and a
    hidden sheet cannot be the active one — « Déprotégez-la » alone, for a Contrôles the user had hidden, led
    nowhere."""
    sh = _sheet(book, name)
    if sh is not None and _visibility(sh) in (HIDDEN, VERY_HIDDEN):
        return f"{_show_advice(book, sh)}, déprotégez-la"
    return "Déprotégez-la"


def _show_advice(book, sheet) -> str:
    """How the user shows `sheet`, hidden, to unprotect it (a hidden sheet cannot be the active one). « Afficher »
    lists no very hidden sheet (the VBA editor shows it), and a protected workbook refuses both — « Affichez-la
    (clic droit sur un onglet > Afficher) » alone, the workbook protected, led nowhere. The workbook's protection
    said when Excel says it (`_structure_locked`), else in case."""
    how = ("Affichez-la depuis l'éditeur Visual Basic d'Excel sur ordinateur (Alt+F11, la feuille choisie, propriété "
           "Visible à « -1 - xlSheetVisible » : très masquée, elle n'est pas dans la liste « Afficher »)"
           if _visibility(sheet) == VERY_HIDDEN else "Affichez-la (clic droit sur un onglet > Afficher)")
    locked = _structure_locked(book)
    if locked is None:
        return f"{how}, après avoir ôté la protection du classeur s'il est protégé ({_UNPROTECT_BOOK})"
    return f"Ôtez d'abord la protection du classeur ({_UNPROTECT_BOOK}), {how[0].lower()}{how[1:]}" if locked else how


_UNPROTECT_BOOK = "onglet Révision > Protéger le classeur, avec son mot de passe s'il en a un"


def _structure_locked(book) -> bool | None:
    """Whether the workbook's structure is protected, as Windows' Excel says it (COM); None elsewhere (the add-in
    does not send it) or when Excel does not say."""
    if getattr(getattr(getattr(book, "app", None), "engine", None), "name", None) != "excel":
        return None
    try:
        return bool(book.api.ProtectStructure)
    except Exception:  # noqa: BLE001 — an Excel that does not say (macOS)
        return None


def _structure_change(book, report, controles_sheet: str | None) -> str | None:
    """What the validation does to the workbook's structure (adds, hides or shows a sheet), which a workbook
    protected (Révision > Protéger le classeur) refuses, in French; None when nothing. The first validation without
    errors adds the hidden sheet of the validated data: refused after Contrôles and the status were written."""
    hidden = _sheet(book, layout.SNAPSHOT_SHEET)
    if hidden is None:
        if report.valide and report.empreinte:
            return f"y ajouter la feuille masquée « {layout.SNAPSHOT_SHEET} », où elle garde les données validées"
    elif _visibility(hidden) == VISIBLE:
        return f"masquer la feuille « {layout.SNAPSHOT_SHEET} », où elle garde les données validées"
    ctrl = _sheet(book, controles_sheet) if controles_sheet else None
    if ctrl is not None and _visibility(ctrl) in (HIDDEN, VERY_HIDDEN):
        return f"afficher la feuille « {controles_sheet} », masquée, où elle liste ses constats"
    return None


def _structure_message(change: str, who: str, button: str) -> str:
    return (f"le classeur est protégé (structure des feuilles), et {who} doit {change}. Ôtez cette protection "
            f"({_UNPROTECT_BOOK}), {_again(button)}")


VISIBLE, HIDDEN, VERY_HIDDEN = "Visible", "Hidden", "VeryHidden"  # Office.js' names of a sheet's visibility
# Windows' COM gives xlwings its XlSheetVisibility as is: xlSheetVeryHidden (2, a sheet hidden from the VBA editor,
# absent from « Afficher ») is true, as xlSheetVisible (-1) — a very hidden sheet was « visible », to hide and to show
# as it stood
_COM_VISIBILITY = {-1: VISIBLE, 0: HIDDEN, 2: VERY_HIDDEN}


def _visibility(sheet) -> str | None:
    """`VISIBLE`, `HIDDEN` or `VERY_HIDDEN`, None when the client does not say (no « visibility » sent). xlwings
    Server reads Office.js' « VeryHidden » as False, the remote book's own dict still saying which."""
    try:
        v = sheet.visible
    except Exception:  # noqa: BLE001 — a client that does not say
        return None
    if isinstance(v, bool):
        api = getattr(sheet, "api", None)
        said = api.get("visibility") if isinstance(api, dict) else None
        return said if said in (VISIBLE, HIDDEN, VERY_HIDDEN) else VISIBLE if v else HIDDEN
    return _COM_VISIBILITY.get(v)


def since_rows(src: XwSource, report) -> list[Finding]:
    """« Modifié depuis la validation »: the changes since, from the hidden sheet of the validated
    data, as information rows of Contrôles (`report.depuis_validation` is set on the way)."""
    from acv_xl.checks.validate import since_validation
    from acv_xl.outputs.comparison_report import controle_rows
    from acv_xl.reading.snapshot import read_cells

    since_validation(report, lambda: read_cells(src))
    if report.depuis_validation is None:
        return []
    # the button writes today's validation into the workbook when the report is valid
    return controle_rows(report.depuis_validation, report.convention.value("acv_date_validation"),
                         revalidated=bool(report.valide))


def write_snapshot(book, src: XwSource, report) -> None:
    """Keep the validated data in the hidden sheet (`reading.snapshot`), or empty it when the
    workbook does not validate (its fingerprint is emptied too)."""
    from acv_xl.reading.snapshot import encode

    cells = encode(report.convention, report.empreinte) if report.valide and report.empreinte else []
    name = layout.SNAPSHOT_SHEET
    sh = _sheet(book, name)
    if sh is None:
        if not cells:
            return
        sh = book.sheets.add(name=name, after=book.sheets[len(book.sheets) - 1])
        sh.visible = False
        before = 0
    else:
        if _visibility(sh) == VISIBLE:  # a sheet very hidden stays so (made hidden, refused in a protected workbook)
            sh.visible = False
        before = len(src.column_values(name, 1))
    if cells:
        sh.range((1, 1), (len(cells), 1)).value = [[as_text(c)] for c in cells]
    if before > len(cells):
        sh.range((len(cells) + 1, 1), (before, 1)).clear_contents()


def run_valider(book, today: date | None = None):
    """Validate the open workbook and write the result into it; returns the `Report`."""
    from acv_xl.reading.read import collector_paused

    # as for reading: thousands of objects and no cycle, in a server whose heap holds the request's
    # JSON; the cyclic collector would walk it again and again (≈ 5 % of the script's time)
    with collector_paused():
        return _run_valider(book, today)


def show(sheet) -> None:
    """Show `sheet`, made visible first when the user hid it: Excel refuses to activate a hidden sheet
    (error 1004 on the desktop, after everything was written: « Validation impossible : erreur
    inattendue »), and the button is there to show what it found."""
    if _visibility(sheet) in (HIDDEN, VERY_HIDDEN):  # (one that does not say: as before)
        sheet.visible = True
    sheet.activate()


def foreign(report) -> str | None:
    """The message box for a workbook that is no convention at all (STR-11: a budget, an export, the
    annex the desktop button opened), else None. Nothing is written into it: the button wrote its
    verdict nowhere and said « le tableau « T_Controles » … introuvable … acv-xl migrer » (« Générer
    l'annexe » added an empty annex to it), where the command line says what it is (status 2)."""
    from acv_xl.checks.rules.structure import CODE_ETRANGER

    for f in report.findings:
        if f.code == CODE_ETRANGER:
            return f"{f.message} Rien n'y a été vérifié ni écrit. {f.suggestion}"
    conv = report.convention
    if conv is not None and not conv.structure.table_refs and not conv.names:
        # sheets of the template's names but none of its tables nor named cells: what the command line
        # reads from the file's mark (an annex of acv-xl: STR-11) the add-in does not send; the button
        # coloured the annex's cells A3 (« tableau introuvable ») and advised « acv-xl migrer »
        return ("Ce classeur ne contient aucun des tableaux ni aucune des cellules nommées du modèle ACV : ce "
                "n'est pas le classeur d'une convention (une annexe ou un classeur consolidé produit par acv-xl, "
                "par exemple), ou tous ses tableaux ont été supprimés ou convertis en plages ordinaires. Rien n'y "
                "a été vérifié ni écrit. Lancez « acv-xl valider » sur le fichier : il dit ce qu'il est.")
    return None


def _run_valider(book, today: date | None):
    src, report = _read(book)
    if (other := foreign(report)) is not None:
        _alert(book, other)
        return report
    since = since_rows(src, report)
    controles = src.table(layout.T_CONTROLES.name)
    before = _previous_cells(controles)  # before Contrôles is rewritten
    # the colours last: a sheet protected refuses them, and on the web Excel then stops the writes that follow in
    # the same batch — Contrôles, the status and the validated data are written (and shown: a change of sheet ends
    # a batch) before, never lost for a colour (the sheets they go to are looked at first, `check_protection`, where
    # Excel can say)
    # at most the rows the annotated copy lists, the worst first (`annotate.within_cap`): a plan of 20 000
    # faulty lines wrote its 60 000 findings and as many colours in one request, past what Excel on the web
    # takes, where `acv-xl valider --annoter` lists 9 999 and says how many more
    kept = within_cap(report.findings + since, "dans ce classeur")
    own = {id(f) for f in report.findings}
    coloured = [f for f in kept if id(f) in own]  # the findings listed, those only
    clear, fill = _colour_plan(book, coloured, before)
    check_protection(book, src, controles, [sheet for sheet, _cell in [*clear, *fill]],
                     _structure_change(book, report, controles.sheet if controles is not None
                                       else layout.Sheet.CONTROLES))
    listed = write_controles(book, src, kept)
    write_status(book, src, report, today)
    write_snapshot(book, src, report)
    # the sheet the findings went to, whatever its name (a Contrôles renamed « Contrôles 2026 » stayed
    # hidden behind Accueil: the button seemed to do nothing)
    block = src.table(layout.T_CONTROLES.name) if listed else None
    ctrl = _sheet(book, block.sheet if block is not None else layout.Sheet.CONTROLES)
    if ctrl is not None:
        show(ctrl)
    if not listed and (report.findings or since):
        _alert(book, not_listed(report, controles))
    elif listed and kept and (missing := controles_columns(controles.header)[1]):
        # a column renamed or deleted: the findings listed without it, said rather than left out in silence
        _alert(book, f"Validation faite ; {controles_missing(missing, controles.sheet)}.")
    highlight(book, src, coloured, before)
    return report


# ------------------------------------------------------------------------------- annex
def annex_rows(report, brouillon: bool) -> list[list[Any]]:
    """The web annex as one block of values: the plan matrix actions × financeurs and its totals, by axe
    and by year — the numbers of the desktop annex (`annex.annex_data`): its order of the actions (1.2
    before 1.10), and in a draft its rows of lines of no fiche-action and its column of lines of no
    financeur, without which the rows did not add up to the totals."""
    from acv_xl.outputs.annex import (ANNEE_NON_RENSEIGNEE, AXE_NON_RENSEIGNE, ORPHELINES, PROJET_NON_VALIDE,
                                      SANS_ERREUR, TITRE, UNKNOWN, annex_data)

    d = annex_data(report, brouillon)
    conv, t, funders, zero = d.conv, d.t, d.financeurs, totals.ZERO

    def name(code: str) -> str:
        return as_text(d.funder_name(code) + (f" ({code})" if code != UNKNOWN else ""))

    def amounts(matrix_row: dict) -> list[float]:
        return [float(matrix_row.get(c, zero)) for c in funders]

    A, F = layout.T_ACTIONS, layout.T_FINANCEMENTS
    width = 2 + len(funders) + 3
    pad = lambda r: r + [""] * (width - len(r))  # noqa: E731
    out = [pad([f"{TITRE} — {conv.libelle or conv.acv_id or report.fichier}"])]
    if brouillon:
        out.append(pad([f"{PROJET_NON_VALIDE} : le classeur comporte des erreurs (bouton Valider)."]))
    else:
        # the desktop annex's words (`annex` cover): a workbook without error is not « validé » for it —
        # never validated, or modified since (an avenant in progress), its Accueil says otherwise
        from acv_xl.checks.validate import ETAT_LIBELLE

        said = [f"{SANS_ERREUR} — état de la validation : "
                f"{ETAT_LIBELLE.get(report.etat, report.etat)} — empreinte des données lues : {report.empreinte or ''}"]
        if report.empreinte_stockee and report.empreinte_stockee.strip().lower() != (report.empreinte or ""):
            said.append(f"empreinte enregistrée lors de la validation : {report.empreinte_stockee}")
        out.append(pad([fit_cell(" — ".join(said))]))  # a fingerprint cell typed over may be any length
    out.append(pad(["Montants en euros, hors financements refusés."]))
    out.append(pad([]))
    out.append([A.header("numero"), A.header("intitule")] + [name(c) for c in funders]
               + ["Total des financements", A.header("cout_total"), "Écart (coût − financements)"])
    for a in d.actions:
        if not a.numero:
            continue
        ecart = totals.ecart(a, d.lines)
        out.append([as_text(a.numero), as_text(a.intitule or "")] + amounts(d.m_action.get(a.numero, {}))
                   + [float(d.par_action.get(a.numero, zero)),
                      float(a.cout_total) if a.cout_total is not None else "",
                      float(ecart) if ecart is not None else ""])
    for k in d.orphans:
        out.append([as_text(k) if k != UNKNOWN else "", ORPHELINES] + amounts(d.m_action.get(k, {}))
                   + [float(d.par_action[k]), "", ""])
    out.append(["Total", ""] + amounts(d.par_financeur) + [float(d.grand_total), float(t.cout_total), float(t.ecart)])
    for header, by, label, unknown in ((A.header("axe"), d.par_axe, lambda k: layout.axe_label(int(k)), AXE_NON_RENSEIGNE),
                                       (F.header("annee"), d.par_annee, int, ANNEE_NON_RENSEIGNEE)):
        out.append(pad([]))
        out.append(pad([header, F.header("montant")]))
        out += [pad([label(k), float(by[k])]) for k in sorted(k for k in by if k != UNKNOWN)]
        if UNKNOWN in by:
            out.append(pad([unknown, float(by[UNKNOWN])]))
    return out


def run_generer_annexe(book) -> str:
    """Write the annex: new sheet in the open book on the web, a workbook next to it on the desktop.

    A workbook with errors still gets its annex, marked « PROJET — non validé » on every page
    (a button cannot ask for --brouillon). Returns what was written (sheet name or file path).
    """
    _, report = _read(book)
    if (other := foreign(report)) is not None:
        raise AnnexeImpossible(other[:1].lower() + other[1:])
    brouillon = not report.valide
    from acv_xl.outputs.excel_range import beyond_excel

    if report.convention is not None and (problem := beyond_excel(report.convention)):
        raise AnnexeImpossible(problem)  # else « Infinity » in the web sheet, a TypeError on the desktop
    if book.app.engine.name in WEB_ENGINES:
        values = annex_rows(report, brouillon)
        _check_annex_protection(book)
        sh = _sheet(book, ANNEXE_WEB)
        if sh is None:
            sh = book.sheets.add(name=ANNEXE_WEB, after=book.sheets[len(book.sheets) - 1])
        else:
            sh.clear()
        sh.range((1, 1), (len(values), len(values[0]))).value = values
        show(sh)
        return ANNEXE_WEB
    from acv_xl.outputs.annex import build_annex, default_output

    here = Path(book.fullname)
    if not here.is_absolute() or not here.parent.is_dir():  # never saved, or on OneDrive/SharePoint
        raise AnnexeImpossible("enregistrez d'abord le classeur sur ce PC (l'annexe est écrite à côté).")
    out = default_output(here)  # the convention's: never the avenant's, named apart
    from acv_xl.outputs.output_guard import ANNEXE, Output, check_outputs

    # a previous annex is replaced, any other file of that name kept (another report of acv-xl too)
    if problem := check_outputs([here], [Output(out, (".xlsx",), "", ANNEXE)],
                                way_out="Renommez ou déplacez ce fichier, puis relancez."):
        raise AnnexeImpossible(problem)
    build_annex(report, out, brouillon=brouillon)
    book.app.books.open(str(out))
    return str(out)


def _check_annex_protection(book) -> None:
    """Before the web annex is written: its sheet, when there, protected (cleared, then written), and the workbook's
    structure when the sheet is added or shown (`stop_if_protected`). Excel refused the first action, and the add-in
    said « n'a pas pu terminer l'opération dans Excel. Réessayez », which no retry mends."""
    sh = _sheet(book, ANNEXE_WEB)
    sheets = [] if sh is None else [(ANNEXE_WEB, f"la feuille « {ANNEXE_WEB} » est protégée, et l'annexe s'y écrit. "
                                                 f"{_unprotect_it(book, ANNEXE_WEB)} {_UNPROTECT}, "
                                                 f"{_again(GENERER_ANNEXE)}", [], False)]
    change = (f"y ajouter la feuille « {ANNEXE_WEB} », où elle écrit l'annexe" if sh is None
              else f"afficher la feuille « {ANNEXE_WEB} », masquée, où elle écrit l'annexe"
              if _visibility(sh) in (HIDDEN, VERY_HIDDEN)
              else None)
    stop_if_protected(book, sheets, _structure_message(change, "la génération de l'annexe", GENERER_ANNEXE)
                      if change else None, "Génération de l'annexe", AnnexeImpossible)


class AnnexeImpossible(Exception):
    pass


class ValidationImpossible(Exception):
    """Valider cannot write its findings; the message is French, for the user."""


# ------------------------------------------------------------------------------- entry points
def _alert(book, message: str) -> None:
    try:
        if getattr(getattr(book.app, "engine", None), "name", None) == "remote":
            # (xlwings' `book.app.alert` gave it to the last book of its app, on the server another click's: `_act`)
            _act(book, "alert", [message, TITRE_ALERTE, "ok", "", ""])
        else:
            book.app.alert(message, title=TITRE_ALERTE)
    except Exception:  # no dialog available (tests, old client): the message is lost, not the run
        pass


def _guarded(book, job, what: str):
    """Never a Python traceback for the user: a French message box instead."""
    from acv_xl.outputs.atomic import OutputError
    from acv_xl.reading.errors import UnreadableWorkbook

    try:
        return job(book)
    except (AnnexeImpossible, ValidationImpossible, OutputError) as exc:
        # (OutputError: « permission refusée : … » with the file's name)
        _alert(book, f"{what} impossible : {exc}")
    except UnreadableWorkbook as exc:  # what the file reader would refuse too (a table too large)
        _alert(book, f"{what} impossible : {exc.message[:1].lower()}{exc.message[1:]} {exc.suggestion}".rstrip())
    except OSError as exc:  # the system's reason in French, never its English text
        from acv_xl.contract.system_errors import os_error_text
        from acv_xl.reading.errors import file_text

        where = f" ({file_text(exc.filename)})" if exc.filename else ""
        _alert(book, f"{what} impossible : {os_error_text(exc)}{where}.")
    except Exception as exc:
        # the exception's own words are Python's (English): named as what they are, for the support
        _alert(book, f"{what} impossible : erreur inattendue (détail technique pour l'assistance : "
                     f"{type(exc).__name__} : {exc}). "
                     "Vérifiez que le classeur suit le modèle ACV, ou lancez « acv-xl valider » sur le fichier.")
    return None


@xw.script(button=layout.BUTTONS_BY_SCRIPT["valider"].binding, show_taskpane=False, exclude=EXCLUDE)
def valider(book: xw.Book):
    """Valide le classeur : remplit Contrôles, surligne les cellules à corriger, écrit le statut."""
    _guarded(book, run_valider, "Validation")


@xw.script(button=layout.BUTTONS_BY_SCRIPT["generer_annexe"].binding, show_taskpane=False, exclude=EXCLUDE)
def generer_annexe(book: xw.Book):
    """Génère l'annexe de la convention (nouvelle feuille sur le web, nouveau classeur sur le PC)."""
    _guarded(book, run_generer_annexe, "Génération de l'annexe")


def valider_desktop():
    """RunPython "import udfs.scripts; udfs.scripts.valider_desktop()" (desktop xlwings)."""
    book = xw.Book.caller()
    _guarded(book, run_valider, "Validation")


def generer_annexe_desktop():
    """RunPython "import udfs.scripts; udfs.scripts.generer_annexe_desktop()" (desktop xlwings)."""
    book = xw.Book.caller()
    _guarded(book, run_generer_annexe, "Génération de l'annexe")
