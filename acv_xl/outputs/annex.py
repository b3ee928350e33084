"""The annex of a convention (or, with the state before, of its avenant): a print-ready workbook
(and its PDF) made from a validated convention.

Today référents retype it by hand for the comité régional d'engagement; here it is generated so
that the PDF can go into the comité's file untouched. Every number is a value (no formula: the
PDF, LibreOffice, Excel and a phone viewer all show the same figures) and comes from
`acv_xl.checks.totals`; this module only lays them out.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import xlsxwriter

from acv_xl.checks import totals
from acv_xl.checks.findings import Gravite, has_errors
from acv_xl.checks.validate import ETAT_LIBELLE
from acv_xl.contract import layout
from acv_xl.contract.layout import Sheet
from acv_xl.contract.model import Convention, FicheAction, LigneFinancement, Perimetre
from acv_xl.contract.values import fmt_euros, ratio_for_cell
from acv_xl.outputs import page_layout
from acv_xl.outputs.comparison_report import champ_text
from acv_xl.outputs.atomic import atomic_write
from acv_xl.outputs.excel_range import beyond_excel  # noqa: F401 — also for the callers of the annex
from acv_xl.outputs.terminal import console as terminal_console, file_text, literal
from acv_xl.reading.errors import shown_file
from acv_xl.reading.source import parse_a1
from acv_xl.outputs.formats import (
    FMT_DATE,
    FMT_EUROS,
    FMT_EUROS_ECART,
    FMT_INTEGER,
    FMT_NUMBER,
    FMT_PERCENT,
    FMT_YEAR,
    merge_text,
    write_text,
    write_value,
)
from acv_xl.outputs.output_guard import ANNEXE, Output, check_outputs, mark_xlsxwriter, pdf_keywords, same_file

# Without the state before (`--depuis`), nothing says the plan is an avenant's: the convention's annex
TITRE = "Annexe à la convention Action Cœur de Ville"
TITRE_AVENANT = "Annexe à l'avenant de la convention Action Cœur de Ville"
# The minimums of the MO's share (article L1111-10, FIN-06): its cells never shown on their wrong side
SEUILS_MO = (Decimal("0.1"), Decimal("0.2"))
FONT_PT = 10  # the annex's type (Arial); its print scale keeps it at 8 pt or more
PROJET_NON_VALIDE = "PROJET — non validé"
# what an annex of a workbook without error says of it, on the cover and in the web annex of the button
# (`udfs.scripts.annex_rows`): not « validé », which its Accueil may not say (never validated, modified since)
SANS_ERREUR = "Annexe générée à partir d'un classeur sans erreur"


class AnnexSheet:
    """Sheet names of the annex (the ones shared with the workbook come from `layout.Sheet`)."""

    COVER = "Page de garde"
    MODIFICATIONS = "Modifications de l'avenant"  # 31 characters at most: the title says it whole
    PERIMETRES = Sheet.PERIMETRES
    ACTIONS = Sheet.ACTIONS
    FINANCEMENT = Sheet.FINANCEMENT
    AXE_ANNEE = "Par axe et par année"
    PART_MO = "Part du maître d'ouvrage"
    ACTION_PREFIX = "Action "


NUM_FORMATS = {"euros": FMT_EUROS, "ecart": FMT_EUROS_ECART, "percent": FMT_PERCENT, "date": FMT_DATE, "number": FMT_NUMBER,
               "integer": FMT_INTEGER, "year": FMT_YEAR}

UNKNOWN = "?"  # key of lines without action, axe, année or financeur (only in a draft)
# and the rows of those lines (the web annex of the button writes them too: `udfs.scripts.annex_rows`)
ORPHELINES = "Financements sans fiche-action correspondante"
AXE_NON_RENSEIGNE = "Axe non renseigné"
ANNEE_NON_RENSEIGNEE = "Année non renseignée"

_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")


# ============================================================================ small helpers
def _natural(numero: str | None) -> tuple:
    """'1.10' after '1.2': compare the numbers inside an action number."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", numero or "") if p)


def _count(n: int, word: str) -> str:
    """« 0 erreur », « 1 erreur », « 2 erreurs »: French agrees below 2, never « erreur(s) »."""
    return f"{n} {word if n < 2 else word + 's'}"


def _shortened(text: str, most: int) -> str:
    """`text`, or its first words within `most` characters and « … »: a footer cut mid-word read
    « Convention … de la co », and cut after `&` was doubled, it ended on a lone control character."""
    if len(text) <= most:
        return text
    cut = text[:most - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:-—") + "…"


def _hf(text: str) -> str:
    """User text inside a header/footer: `&` is a control character there."""
    return (text or "").replace("&", "&&")


_RESERVED_SHEET = "historique"  # Excel keeps « Historique » for its change history


def _cut(text: str, units: int) -> str:
    """`text` cut to `units` UTF-16 code units, as Excel counts (a character beyond U+FFFF is two)."""
    while len(text.encode("utf-16-le")) > 2 * units:
        text = text[:-1]
    return text


def _sheet_title(numero: str | None, index: int, used: set[str]) -> str:
    """A valid, unused sheet title for an action, whatever its number: at most 31 characters (UTF-16 units), none of
    `[]:*?/\\` nor a control character, no `'` at either end (stripped after the cut, which may
    expose one), never « Historique », unique (case-insensitive, as Excel compares); `used` gains it."""
    base = _cut(_INVALID_SHEET_CHARS.sub("-", f"{AnnexSheet.ACTION_PREFIX}{numero or index}").strip("'")[:31],
                31).rstrip("'")
    if not base or base.lower() == _RESERVED_SHEET:
        base = f"{AnnexSheet.ACTION_PREFIX}{index}"
    name, n = base, 2
    while name.lower() in used or name.lower() == _RESERVED_SHEET:
        suffix = f" ({n})"
        name, n = _cut(base, 31 - len(suffix)).rstrip("'") + suffix, n + 1
    used.add(name.lower())
    return name


def amount_width(amounts: Iterable[Any]) -> float:
    """The column width (Excel's characters) that shows the widest of `amounts` in euros, bold, with
    its sign: 19 999 999 999,99 € in a column of 16 printed « ##### » in the plan's totals."""
    widest = max((abs(a) for a in amounts if isinstance(a, (Decimal, int, float)) and not isinstance(a, bool)),
                 default=Decimal(0))
    return page_layout.arial_width_for(fmt_euros(-Decimal(widest)), FONT_PT, bold=True)


class _Formats:
    """The few cell styles of the annex, created once per workbook."""

    def __init__(self, wb: xlsxwriter.Workbook):
        base = {"font_name": "Arial", "font_size": FONT_PT, "valign": "top"}
        self._wb = wb
        self._base = base
        self._cache: dict[tuple, Any] = {}
        self.banner = wb.add_format({**base, "bold": True, "font_size": 14, "font_color": "#C00000",
                                     "bg_color": "#FDE9E7", "border": 2, "border_color": "#C00000",
                                     "align": "center", "valign": "vcenter"})
        self.title = wb.add_format({**base, "bold": True, "font_size": 16, "font_color": "#1F3864"})
        self.title_wrapped = wb.add_format({**base, "bold": True, "font_size": 16, "font_color": "#1F3864",
                                            "text_wrap": True})
        self.subtitle = wb.add_format({**base, "bold": True, "font_size": 12, "font_color": "#1F3864"})
        self.subtitle_wrapped = wb.add_format({**base, "bold": True, "font_size": 12, "font_color": "#1F3864",
                                               "text_wrap": True})
        self.section = wb.add_format({**base, "bold": True, "font_size": 11, "font_color": "#FFFFFF",
                                      "bg_color": "#1F3864", "text_wrap": True})
        self.note = wb.add_format({**base, "italic": True, "font_color": "#595959", "text_wrap": True})
        self.header = wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "border": 1,
                                     "text_wrap": True, "valign": "vcenter", "align": "center"})
        self.label = wb.add_format({**base, "bold": True, "bg_color": "#F2F2F2", "border": 1, "text_wrap": True})
        self.red = wb.add_format({**base, "bold": True, "font_color": "#C00000", "text_wrap": True})
        self.sign_label = wb.add_format({**base, "bold": True, "text_wrap": True})
        self.sign_box = wb.add_format({**base, "border": 1, "border_color": "#7F7F7F"})

    def cell(self, kind: str = "text", bold: bool = False, grey: bool = False, indent: int = 0,
             fill: bool = False, left: bool = False) -> Any:
        """A bordered data cell: kind is text, euros, percent, date, number, integer or year.

        Numbers align right in tables; `left` for a field value (cover, fiche) read like its label.
        """
        key = (kind, bold, grey, indent, fill, left)
        if key not in self._cache:
            props: dict[str, Any] = {**self._base, "border": 1, "text_wrap": kind == "text"}
            props["num_format"] = NUM_FORMATS.get(kind, "@")
            if kind != "text":
                props["align"] = "left" if left else "right" if kind != "date" else "center"
            if bold:
                props["bold"] = True
            if fill:
                props["bg_color"] = "#EDEDED"
            if grey:
                props.update({"font_color": "#8C8C8C", "italic": True})
            if indent:
                props.update({"indent": indent, "align": "left"})  # Excel and LibreOffice indent left-aligned text only
            self._cache[key] = self._wb.add_format(props)
        return self._cache[key]


def _numkind(value: Any, kind: str | None) -> str | None:
    """Whole numbers (a population, a count) without decimals."""
    if kind == "number" and isinstance(value, (Decimal, int, float)) and value == int(value):
        return "integer"
    return kind


def _shown(line, attr: str) -> Any:
    """The typed value, or what was typed when it did not parse (a draft shows the user's text)."""
    value = getattr(line, attr, None)
    if value is None:
        raw = line.raw.get(attr)
        if raw is not None and str(raw).strip():
            return str(raw)
    return value


def _kind(col: layout.Column) -> str:
    return {layout.Kind.AMOUNT: "euros", layout.Kind.DATE: "date", layout.Kind.NUMBER: "number",
            layout.Kind.YEAR: "year"}.get(col.kind, "text")


# ============================================================================ the data, prepared once
def annex_data(report, brouillon: bool = False) -> "_Data":
    """What the annex shows, prepared: for the one the button writes into the open book on the web, which
    must add up as this one does (its lines of no fiche-action, of no financeur, in their own row)."""
    return _Data(report, brouillon)


class _Data:
    """What the sheets show, every number from `totals`."""

    def __init__(self, report, brouillon: bool, avenant: bool = False):
        conv: Convention = report.convention
        self.report = report
        self.titre = TITRE_AVENANT if avenant else TITRE
        self.conv = conv
        self.brouillon = brouillon
        self.generated = date.today()
        self.t: totals.Totaux = report.totaux if getattr(report, "totaux", None) is not None else totals.compute(conv)
        self.lines: list[LigneFinancement] = conv.financements
        self._line_at: dict[tuple, LigneFinancement] | None = None  # (row, action) → line, see changed_line
        self.actions: list[FicheAction] = sorted(
            conv.actions, key=lambda a: (a.axe if a.axe is not None else 99, _natural(a.numero)))
        self.axe_of = {a.numero: a.axe for a in conv.actions if a.numero}
        known = {a.numero for a in conv.actions if a.numero}

        def action_key(lf):  # lines of an unknown action still show (and add up) in a draft
            return lf.numero if lf.numero in known else (lf.numero or UNKNOWN)

        def axe_key(lf):
            axe = self.axe_of.get(lf.numero)
            return axe if axe is not None else UNKNOWN

        def fin_key(lf):
            return lf.financeur or UNKNOWN

        self.par_action = totals.by_key(self.lines, action_key)
        self.par_financeur = totals.by_key(self.lines, fin_key)
        self.par_axe = totals.by_key(self.lines, axe_key)
        self.par_annee = totals.by_key(self.lines, lambda lf: lf.annee if lf.annee is not None else UNKNOWN)
        self.grand_total = totals.total(self.lines)
        self.m_action = totals.matrix(self.lines, action_key, fin_key)
        self.m_axe = totals.matrix(self.lines, axe_key, fin_key)
        self.m_annee = totals.matrix(self.lines, lambda lf: lf.annee if lf.annee is not None else UNKNOWN, fin_key)
        self.cout_par_axe = totals.cout_par_axe(conv.actions)
        self.financeurs = self._funder_order()
        self.orphans = sorted((k for k in self.par_action if k not in known), key=_natural)
        amounts = [self.grand_total, self.t.cout_total, self.t.ecart, *self.par_action.values(),
                   *self.par_financeur.values(), *(a.cout_total for a in conv.actions),
                   *(totals.ecart(a, self.lines) for a in conv.actions), *(lf.montant for lf in self.lines)]
        self.amount_width = amount_width(amounts)

    def width(self, base: float) -> float:
        """An amount column's width: `base`, or wider when the convention's widest amount needs it."""
        return max(base, self.amount_width)

    def changed_action(self, c) -> FicheAction | None:
        """The action a modification of `T_Actions` was found on, after the avenant: the row of its
        cell, not the first action of its number — two actions sharing a number (ACT-01, a row
        copied to split an action) each keep their own intitulé, cost and maturité."""
        if c.cellule_apres:
            row = parse_a1(c.cellule_apres)[0]
            for a in self.conv.actions:
                if a.row == row and a.numero == c.action:
                    return a
        return self.conv.action(c.action)

    def changed_line(self, c) -> LigneFinancement | None:
        """The financing line a modification of `T_Financements` was found on, after the avenant (the
        row of its cell), None when no line of that action is there."""
        if not c.cellule_apres:
            return None
        if self._line_at is None:
            # built once: a scan of every line per change made an avenant of 3 000 changed lines
            # 9 million comparisons; the first line of a row wins, as the scan's did
            self._line_at = {}
            for lf in self.lines:
                self._line_at.setdefault((lf.row, lf.numero), lf)
        return self._line_at.get((parse_a1(c.cellule_apres)[0], c.action))

    def _funder_order(self) -> list[str]:
        """The funders used, in the workbook's `Financeurs` order, then the reference order."""
        used = set(self.par_financeur)
        order = [f.code for f in self.conv.financeurs if f.code] + [f.code for f in layout.FINANCEURS]
        out: list[str] = []
        for code in order + sorted(used):
            if code in used and code not in out and code != UNKNOWN:
                out.append(code)
        if UNKNOWN in used:
            out.append(UNKNOWN)
        return out

    # -- labels
    def funder_name(self, code: str | None) -> str:
        if not code or code == UNKNOWN:
            return "Financeur non renseigné"
        f = self.conv.financeur(code)
        if f is not None and f.nom:
            return f.nom
        ref = layout.FINANCEURS_BY_CODE.get(code)
        return ref.nom if ref else code

    def perimetre_label(self, code: str | None) -> str | None:
        if not code:
            return None
        for p in self.conv.perimetres:
            if p.code == code:
                return f"{code} — {p.nom}" if p.nom else code
        return code

    @property
    def libelle(self) -> str:
        return self.conv.libelle or self.conv.acv_id or Path(self.report.fichier or "").stem or "Convention"


# ============================================================================ page setup
def _setup(ws, d: _Data, fmts: _Formats, last_col: int, widths: Iterable[float] = (),
           key_columns: tuple[int, int] | None = None) -> int:
    """A4 landscape, one page wide while its 10 pt type prints at 8 pt or more (otherwise several
    pages wide with `key_columns` repeated), header and footer; the draft banner. Returns the next
    free row.

    In headers, `&8` sets the font size: user text never follows it directly (a label starting with
    a digit would be read as part of the size).
    """
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.75)
    widths = list(widths)
    banner_last = last_col
    if widths:
        p = page_layout.plan(widths, key_columns, margin_in=0.5, font_pt=FONT_PT)
        page_layout.apply_width(ws, p)
        if p.repeat_columns and sum(widths[p.repeat_columns[0]:p.repeat_columns[1] + 1]) >= 30:
            # several pages wide: the banner over the key columns, repeated on each page (across the
            # whole width, it was centred on no page and cut at the first one's edge)
            banner_last = p.repeat_columns[1]
    else:
        ws.fit_to_pages(1, 0)
    ws.hide_gridlines(2)
    ws.center_horizontally()
    label = _hf(_shortened(d.libelle, 60))
    # bounded as the name: a header or footer past Excel's 255 characters is dropped whole, the draft's
    # « PROJET — non validé » and the page numbers with it
    acv_id = _hf(_shortened(d.conv.acv_id or "", 30))
    header = f"&L&8{_hf(d.titre)}"
    if d.brouillon:
        header += f'&C&"-,Bold"&14&KC00000{PROJET_NON_VALIDE}'
    header += f"&R&8Convention {acv_id}"
    ws.set_header(header)
    ws.set_footer(f"&L&8Convention {label}{' (' + acv_id + ')' if acv_id else ''}&C&8Page &P / &N"
                  f"&R&8{page_layout.generated_on(d.generated)}", page_layout.UNSCALED)
    # several pages wide: the title, subtitle and notes over the key columns, wrapped there — across
    # the whole width they were cut at the key columns' edge on every page but the first (« Plan de
    # financement : actions × fina »)
    ws.print_last = banner_last if banner_last < last_col else None
    ws.print_width = widths[:banner_last + 1] if ws.print_last is not None else None
    ws.title_width = widths[:last_col + 1]  # what a title merged across the sheet wraps in (`_title`)
    row = 0
    if d.brouillon:
        if banner_last > 0:
            ws.merge_range(0, 0, 0, banner_last, PROJET_NON_VALIDE, fmts.banner)
        else:
            ws.write_string(0, 0, PROJET_NON_VALIDE, fmts.banner)
        ws.set_row(0, 24)
        row = 1
    if d.brouillon:
        ws.repeat_rows(0)  # the banner on every page (sheets with a table header widen this)
    return row


def _title(ws, row: int, text: str, fmts: _Formats, last_col: int, sub: str | None = None) -> int:
    if getattr(ws, "print_last", None) is not None:  # several pages wide (`_setup`)
        width_pt = sum(page_layout.column_points(w) for w in ws.print_width)
        _over_keys(ws, row, text, fmts.title_wrapped)
        lines = page_layout.arial_lines_in(text, width_pt, 16, bold=True)
        ws.set_row(row, 24 if lines == 1 else min(page_layout.MAX_ROW_PT, 21 * lines + 3))
        if sub:
            _over_keys(ws, row + 1, sub, fmts.subtitle_wrapped)
            lines = page_layout.arial_lines_in(sub, width_pt, 12, bold=True)
            ws.set_row(row + 1, min(page_layout.MAX_ROW_PT, 16 * lines + 2))
        return row + (3 if sub else 2)
    # the convention's name (user text) wraps in rows of its height: unwrapped, a long name ran past
    # the sheet's last column, and LibreOffice shrank the whole page to fit it in (3 pt type)
    width_pt = sum(page_layout.column_points(w) for w in getattr(ws, "title_width", None) or ()) or None
    merge_text(ws, row, 0, row, last_col, text, fmts.title_wrapped if width_pt else fmts.title)
    lines = page_layout.arial_lines_in(text, width_pt, 16, bold=True) if width_pt else 1
    ws.set_row(row, 24 if lines == 1 else min(page_layout.MAX_ROW_PT, 21 * lines + 3))
    row += 1
    if sub:
        merge_text(ws, row, 0, row, last_col, sub, fmts.subtitle_wrapped if width_pt else fmts.subtitle)
        lines = page_layout.arial_lines_in(sub, width_pt, 12, bold=True) if width_pt else 1
        if lines > 1:
            ws.set_row(row, min(page_layout.MAX_ROW_PT, 16 * lines + 2))
        row += 1
    return row + 1


def _over_keys(ws, row: int, text: str, fmt) -> None:
    """User text over the key columns repeated on each page (one of them: a cell, not a merge)."""
    if ws.print_last > 0:
        merge_text(ws, row, 0, row, ws.print_last, text, fmt)
    else:
        write_text(ws, row, 0, text, fmt)


def _note(ws, row: int, text: str, fmts: _Formats, last_col: int) -> None:
    """A note under a table, wrapped in a row of its height: across the sheet, or over the key columns
    when the sheet is several pages wide (`_title`). At the default height, the definition under
    « Part du maître d'ouvrage » printed two of its three lines: « …n'entrent pas dans le calcul. » lost."""
    if getattr(ws, "print_last", None) is None:
        ws.merge_range(row, 0, row, last_col, text, fmts.note)
        points = sum(page_layout.column_points(w) for w in ws.title_width[:last_col + 1])
        _set_lines(ws, row, page_layout.arial_lines_in(text, points, FONT_PT))
        return
    _over_keys(ws, row, text, fmts.note)
    _set_lines(ws, row, _lines_needed(text, sum(ws.print_width)))


def _section(ws, row: int, text: str, fmts: _Formats, last_col: int) -> int:
    merge_text(ws, row, 0, row, last_col, text, fmts.section)
    return row + 1


def _headers(ws, row: int, headers: Iterable[str], fmts: _Formats, widths: Iterable[float] = ()) -> int:
    for c, h in enumerate(headers):
        ws.write_string(row, c, h, fmts.header)
    _fit_row(ws, row, list(headers), list(widths), bold=True)
    return row + 1


def _fit_row(ws, row: int, values: list[Any], widths: list[float], bold: bool = False) -> None:
    """Give a row of wrapped text the height it needs (LibreOffice keeps the stored height)."""
    lines = 1
    for value, width in zip(values, widths):
        if isinstance(value, str):
            lines = max(lines, _lines_needed(value, width, bold))
    _set_lines(ws, row, lines)


# ============================================================================ sheets
def _cover(wb, d: _Data, fmts: _Formats) -> None:
    ws = wb.add_worksheet(AnnexSheet.COVER)
    last = 3
    for j, w in enumerate(COVER_WIDTHS):
        ws.set_column(j, j, w)
    row = _setup(ws, d, fmts, last, COVER_WIDTHS)
    row = _title(ws, row, d.titre, fmts, last, d.libelle)
    conv = d.conv
    nc = layout.NAMED_BY_NAME

    def field(label: str, value: Any, kind: str = "text", fmt=None) -> None:
        nonlocal row
        fmt = fmt or fmts.cell(kind, left=True)
        # a text taller than a row goes on in the rows below, « (suite) »
        for k, piece in enumerate(_chunks(value, 90) if isinstance(value, str) else [value]):
            text = label if k == 0 else f"{label} (suite)"
            ws.write_string(row, 0, text, fmts.label)
            ws.merge_range(row, 1, row, last, None, fmt)
            write_value(ws, row, 1, piece, fmt)
            # a label or value on two lines gets their height (« Coût total des actions (hors actions
            # abandonnées) » printed its second line over the next field)
            _set_lines(ws, row, max(_lines_needed(text, 42, bold=True),
                                    _lines_needed(piece, 90) if isinstance(piece, str) else 1))
            row += 1

    def named(name: str, kind: str = "text") -> None:
        nv = conv.names.get(name)
        value = nv.value if nv and nv.value is not None else (str(nv.raw) if nv and nv.raw not in (None, "") else None)
        # the template's typing hint (« (ACV + 3 chiffres) », « (code) ») has no place in a signed annex
        field(nc[name].label.split(" (")[0], value, kind if nv and nv.value is not None else "text")

    row = _section(ws, row, "Identité de la convention", fmts, last)
    for name in ("acv_id", "acv_libelle", "acv_programme", "acv_departement", "acv_epci", "acv_siren_epci",
                 "acv_directeur_projet", "acv_referent_etat", "acv_version_modele"):
        named(name)
    row += 1
    row = _section(ws, row, "Communes", fmts, last)
    headers = [layout.T_COMMUNES.header(a) for a in ("code_insee", "commune", "role")]
    row = _headers(ws, row, headers, fmts, (42, 30, 30))
    for c in conv.communes:
        values = [_shown(c, attr) for attr in ("code_insee", "commune", "role")]
        for j, value in enumerate(values):
            write_value(ws, row, j, value, fmts.cell())
        _fit_row(ws, row, values, list(COVER_WIDTHS))  # a long name wraps: its second line overprinted the next
        row += 1
    if not conv.communes:
        ws.merge_range(row, 0, row, last, "Aucune commune renseignée.", fmts.note)
        row += 1
    row += 1
    row = _section(ws, row, "Calendrier", fmts, last)
    for name in ("acv_date_convention", "acv_date_fin_initialisation", "acv_date_fin_deploiement", "acv_date_comite"):
        named(name, "date")
    row += 1
    row = _section(ws, row, "Synthèse financière (hors financements refusés)", fmts, last)
    field("Nombre de fiches-actions", len(conv.actions), "integer")
    amount = fmts.cell("euros", bold=True, left=True)
    field("Coût total des actions (hors actions abandonnées)", d.t.cout_total, fmt=amount)
    field("Total des financements", d.grand_total, fmt=amount)
    field("Écart (coût − financements)", d.t.ecart, fmt=amount)
    row += 1
    row = _section(ws, row, "Validation du classeur source", fmts, last)
    rep = d.report
    counts = {g: sum(f.gravite is g for f in rep.findings) for g in Gravite}
    # as every other output shows it: « lens.xlsx (espace finale) », a bidi control by its code
    field("Classeur source", shown_file(file_text(Path(rep.fichier).name)) if rep.fichier else None)
    field("État de la validation", ETAT_LIBELLE.get(rep.etat, rep.etat))
    field("Contrôles", f"{_count(counts[Gravite.ERREUR], 'erreur')}, "
                       f"{_count(counts[Gravite.AVERTISSEMENT], 'avertissement')}, "
                       f"{_count(counts[Gravite.INFORMATION], 'information')}")
    field("Empreinte des données lues", rep.empreinte)
    field("Empreinte enregistrée lors de la validation", rep.empreinte_stockee or "aucune (classeur non validé)")
    field("Date de génération de l'annexe", d.generated, "date")
    if d.brouillon:
        why = (f"le classeur comporte {_count(counts[Gravite.ERREUR], 'erreur')} à corriger"
               if counts[Gravite.ERREUR] else "généré comme document de travail")
        field("Statut du document", f"{PROJET_NON_VALIDE} : {why} ; à ne pas présenter au comité régional "
                                    "d'engagement.", fmt=fmts.red)
    else:
        field("Statut du document", f"{SANS_ERREUR}.")
    # One page while its type stays at 8 pt or more on it, as a fiche: many communes, a long name or
    # a long field shrank it to one page at 3 pt; it flows onto a second page instead.
    if _sheet_height_pt(ws, row) * page_layout.MIN_PRINTED_PT / FONT_PT <= _PRINTABLE_HEIGHT_PT:
        ws.fit_to_pages(1, 1)


COVER_WIDTHS = (42, 30, 30, 30)  # the cover's label column, then three merged for the values


def _new_sheet(wb, name: str, widths, d: _Data, fmts: _Formats, title: str, subtitle: str,
               last: int | None = None, key_columns: tuple[int, int] | None = (0, 0)):
    """A sheet with its column widths, page setup and title block: (worksheet, next row, last column)."""
    ws = wb.add_worksheet(name)
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    last = len(widths) - 1 if last is None else last
    row = _setup(ws, d, fmts, last, widths, key_columns)
    return ws, _title(ws, row, title, fmts, last, subtitle), last


def _perimetres(wb, d: _Data, fmts: _Formats) -> None:
    t = layout.T_PERIMETRES
    attrs = ("nom", "code", "type", "echelle", "communes", "superficie", "population")
    widths = (46, 10, 20, 16, 24, 14, 14)
    ws, row, last = _new_sheet(wb, AnnexSheet.PERIMETRES, widths, d, fmts, AnnexSheet.PERIMETRES,
                               "Périmètre d'étude, puis périmètre ORT, puis secteurs prioritaires : chacun est compris "
                               "dans le précédent")
    header_row = row
    row = _headers(ws, row, [t.header(a) for a in attrs], fmts, widths)
    ws.repeat_rows(0, header_row)

    perims = [p for p in d.conv.perimetres if not p.is_empty()]
    codes = {p.code for p in perims if p.code}
    children: dict[str | None, list[Perimetre]] = {}
    for p in perims:
        parent = p.parent if p.parent in codes and p.parent != p.code else None
        children.setdefault(parent, []).append(p)
    seen: set[int] = set()

    def walk(parent: str | None, depth: int) -> None:
        nonlocal row
        for p in children.get(parent, []):
            if id(p) in seen:
                continue
            seen.add(id(p))
            values = [_shown(p, attr) for attr in attrs]
            cell_fmts = [fmts.cell(_numkind(value, {"superficie": "number", "population": "number"}.get(attr, "text"))
                                   if not isinstance(value, str) else "text", bold=depth == 0,
                                   indent=min(depth * 2, 12) if attr == "nom" else 0)
                         for attr, value in zip(attrs, values)]
            row = _list_row(ws, row, values, [w - 2 * depth if k == 0 else w for k, w in enumerate(widths)],
                            cell_fmts.__getitem__)
            if p.code:
                walk(p.code, depth + 1)

    walk(None, 0)
    for p in perims:  # a cycle of parents (a draft): still list them, unindented
        if id(p) not in seen:
            seen.add(id(p))
            for j, attr in enumerate(attrs):
                write_value(ws, row, j, _shown(p, attr), fmts.cell("text"))
            row += 1
    if not perims:
        ws.merge_range(row, 0, row, last, "Aucun périmètre renseigné.", fmts.note)


def _actions_list(wb, d: _Data, fmts: _Formats) -> None:
    t = layout.T_ACTIONS
    attrs = ("numero", "intitule", "maitre_ouvrage", "maturite", "date_debut", "date_fin", "cout_total")
    widths = (10, 52, 30, 16, 13, 13, d.width(18))
    ws, row, last = _new_sheet(wb, AnnexSheet.ACTIONS, widths, d, fmts, "Liste des fiches-actions par axe", d.libelle)
    header_row = row
    row = _headers(ws, row, [t.header(a) for a in attrs], fmts, widths)
    ws.repeat_rows(0, header_row)

    axes = sorted({a.axe for a in d.actions if a.axe is not None}) + (
        [None] if any(a.axe is None for a in d.actions) else [])
    abandoned = False
    for axe in axes:
        label = layout.axe_label(axe) if axe is not None else AXE_NON_RENSEIGNE
        row = _section(ws, row, label, fmts, last)
        for a in (a for a in d.actions if a.axe == axe):
            grey = a.maturite == layout.MATURITE_ABANDONNEE
            abandoned |= grey
            values = [_shown(a, attr) for attr in attrs]
            cell_fmts = [fmts.cell(_kind(t.column(attr)) if not isinstance(value, str) else "text", grey=grey)
                         for attr, value in zip(attrs, values)]
            row = _list_row(ws, row, values, widths, cell_fmts.__getitem__)
        ws.merge_range(row, 0, row, last - 1, f"Sous-total {label.split(' —')[0]}", fmts.cell("text", bold=True, fill=True))
        write_value(ws, row, last, d.cout_par_axe.get(str(axe) if axe is not None else "", totals.ZERO),
             fmts.cell("euros", bold=True, fill=True))
        row += 2
    ws.merge_range(row, 0, row, last - 1, "Coût total des actions", fmts.cell("text", bold=True, fill=True))
    write_value(ws, row, last, d.t.cout_total, fmts.cell("euros", bold=True, fill=True))
    row += 1
    if abandoned:
        ws.merge_range(row + 1, 0, row + 1, last, "Les actions abandonnées (en gris) ne sont comptées dans "
                       "aucun total.", fmts.note)
    if not d.actions:
        ws.merge_range(row + 1, 0, row + 1, last, "Aucune fiche-action renseignée.", fmts.note)


def _matrix_block(ws, row: int, d: _Data, fmts: _Formats, widths: list[float], first_headers: list[str],
                  rows: list[tuple[str, list]],
                  matrix: dict[str, dict[str, Decimal]], row_totals: dict[str, Decimal],
                  extra_headers: list[str] = (), extra: dict[str, list] | None = None,
                  total_extra: list | None = None, shares_row: bool = False) -> int:
    """One cross table: `rows` (key, first cells) × the funders, a total per row and per funder.

    `extra` adds columns after the total: key → [(value, kind)], `total_extra` their total row.
    """
    n_first = len(first_headers)
    fin = d.financeurs
    headers = first_headers + [f"{d.funder_name(c)}\n({c})" if c != UNKNOWN else d.funder_name(c) for c in fin] + \
        ["Total des financements"] + list(extra_headers)
    row = _headers(ws, row, headers, fmts, widths)
    for key, first in rows:
        end = _list_row(ws, row, first, widths[:n_first], lambda _j: fmts.cell("text"))
        for r in range(row + 1, end):  # a row continued below: its amounts' cells framed, empty
            for j in range(n_first, n_first + len(fin) + 1 + len(extra_headers)):
                ws.write_blank(r, j, None, fmts.cell("euros"))
        for k, code in enumerate(fin):
            amount = matrix.get(key, {}).get(code)
            write_value(ws, row, n_first + k, amount, fmts.cell("euros"))
        write_value(ws, row, n_first + len(fin), row_totals.get(key, totals.ZERO), fmts.cell("euros", bold=True))
        for k, (v, kind) in enumerate((extra or {}).get(key, [])):
            write_value(ws, row, n_first + len(fin) + 1 + k, v, fmts.cell(kind))
        row = end
    ws.merge_range(row, 0, row, n_first - 1, "Total", fmts.cell("text", bold=True, fill=True)) if n_first > 1 else \
        ws.write_string(row, 0, "Total", fmts.cell("text", bold=True, fill=True))
    for k, code in enumerate(fin):
        write_value(ws, row, n_first + k, d.par_financeur.get(code, totals.ZERO), fmts.cell("euros", bold=True, fill=True))
    write_value(ws, row, n_first + len(fin), d.grand_total, fmts.cell("euros", bold=True, fill=True))
    for k, (v, kind) in enumerate(total_extra or []):
        write_value(ws, row, n_first + len(fin) + 1 + k, v, fmts.cell(kind, bold=True, fill=True))
    row += 1
    if shares_row:
        label = "Part de chaque financeur"
        if n_first > 1:
            ws.merge_range(row, 0, row, n_first - 1, label, fmts.cell("text", bold=True))
        else:
            ws.write_string(row, 0, label, fmts.cell("text", bold=True))
        share = totals.shares(d.par_financeur, d.grand_total)
        for k, code in enumerate(fin):
            write_value(ws, row, n_first + k, share.get(code), fmts.cell("percent", bold=True))
        write_value(ws, row, n_first + len(fin), Decimal(1) if d.grand_total else None, fmts.cell("percent", bold=True))
        row += 1
    return row


def _plan(wb, d: _Data, fmts: _Formats) -> None:
    nfin = len(d.financeurs)
    widths = [9, 36] + [d.width(16)] * (nfin + 1)
    ws, row, last = _new_sheet(wb, AnnexSheet.FINANCEMENT, widths, d, fmts, "Plan de financement : actions × financeurs",
                               f"{d.libelle} — montants en euros, hors financements refusés", last=2 + nfin,
                               key_columns=(0, 1))
    ws.repeat_rows(0, row)
    rows = [(a.numero, [a.numero, _shown(a, "intitule")]) for a in d.actions if a.numero]
    rows += [(k, [k if k != UNKNOWN else "", ORPHELINES]) for k in d.orphans]
    # Cost and gap stay on the fiches and the cover: the matrix is already as wide as a page allows.
    t = layout.T_ACTIONS
    row = _matrix_block(ws, row, d, fmts, widths, [t.header("numero"), t.header("intitule")], rows, d.m_action,
                        d.par_action, shares_row=True)
    notes = ["Les lignes au statut « Refusé » ne sont comptées dans aucun total."]
    _note(ws, row + 1, " ".join(notes), fmts, last)


def _axe_annee(wb, d: _Data, fmts: _Formats) -> None:
    nfin = len(d.financeurs)
    widths = [48] + [d.width(16)] * (nfin + 1) + [12]
    ws, row, last = _new_sheet(wb, AnnexSheet.AXE_ANNEE, widths, d, fmts, "Plan de financement par axe et par année",
                               f"{d.libelle} — montants en euros, hors financements refusés", last=2 + nfin)
    ws.repeat_rows(0, row - 1)

    whole = Decimal(1) if d.grand_total else None
    row = _section(ws, row, "Par axe", fmts, last)
    axes = sorted(k for k in d.par_axe if k != UNKNOWN) + ([UNKNOWN] if UNKNOWN in d.par_axe else [])
    rows = [(k, [layout.axe_label(int(k)) if k != UNKNOWN else AXE_NON_RENSEIGNE]) for k in axes]
    share = totals.shares(d.par_axe, d.grand_total)
    row = _matrix_block(ws, row, d, fmts, widths, [layout.T_ACTIONS.header("axe")], rows, d.m_axe, d.par_axe,
                        ["Part du total"], {k: [(share[k], "percent")] for k in axes}, [(whole, "percent")])
    row += 1
    row = _section(ws, row, "Par année", fmts, last)
    annees = sorted(k for k in d.par_annee if k != UNKNOWN) + ([UNKNOWN] if UNKNOWN in d.par_annee else [])
    rows = [(k, [k if k != UNKNOWN else ANNEE_NON_RENSEIGNEE]) for k in annees]
    share = totals.shares(d.par_annee, d.grand_total)
    row = _matrix_block(ws, row, d, fmts, widths, [layout.T_FINANCEMENTS.header("annee")], rows, d.m_annee,
                        d.par_annee,
                        ["Part du total"], {k: [(share[k], "percent")] for k in annees}, [(whole, "percent")])


def _part_mo(wb, d: _Data, fmts: _Formats) -> None:
    t = layout.T_ACTIONS
    headers = [t.header("numero"), t.header("intitule"), t.header("maitre_ouvrage"), t.header("type_mo"),
               "Part propre du maître d'ouvrage (€)", "Financements publics (€)", "Part du maître d'ouvrage"]
    widths = (9, 44, 28, 20, d.width(18), d.width(18), 16)
    ws, row, last = _new_sheet(wb, AnnexSheet.PART_MO, widths, d, fmts, "Part du maître d'ouvrage par action",
                               "Part propre rapportée à la somme part propre + financements publics (article L1111-10 du CGCT)")
    header_row = row
    row = _headers(ws, row, headers, fmts, widths)
    ws.repeat_rows(0, header_row)
    for a in d.actions:
        p = totals.part_mo(totals.lines_of(d.lines, a.numero), d.conv.financeurs, a,
                            dispositifs_classeur=d.conv.dispositifs)
        values = [a.numero, _shown(a, "intitule"), _shown(a, "maitre_ouvrage"), _shown(a, "type_mo"),
                  p.propre, p.financements_publics, ratio_for_cell(p.ratio, SEUILS_MO)]
        cell_fmts = [fmts.cell("text")] * 4 + [fmts.cell("euros")] * 2 + [fmts.cell("percent", bold=True)]
        row = _list_row(ws, row, values, widths, cell_fmts.__getitem__)
    _note(ws, row + 1,
          "Part propre : autofinancement, fonds propres et apports du maître d'ouvrage lui-même, ses "
          "emprunts et avances remboursables (quel que soit le prêteur) et les recettes de l'opération. "
          "Financements publics : subventions des financeurs publics et autofinancement d'autres personnes "
          "publiques. Les autres lignes (subventions privées, portage foncier…) et les lignes refusées "
          "n'entrent pas dans le calcul.", fmts, last)


# The fiche in two columns of label/value pairs (landscape page); long texts take the full width.
FICHE_ROWS: tuple[tuple[str, ...], ...] = (
    ("intitule",),
    ("axe",),
    ("numero", "axe_transversal"),
    ("maitre_ouvrage", "type_mo"),
    ("perimetre", "maturite"),
    ("date_debut", "date_fin"),
    ("base", "cout_total"),
    ("depense_subventionnable", "derogation"),
    ("cosignataires", "date_signature"),
    ("description",),
)
ACTION_WIDTHS = (24, 16, 16, 16, 24, 16, 16, 16)  # A..H; a fiche fits one page in most cases
AMOUNT_COLUMN = 6  # the fiche's amounts: its lines' montants, its totals
SIGNATURES_PER_ROW = 4


LINE_PT = 13  # a line of the annex's 10 pt type, in a row
MAX_LINES = int(page_layout.MAX_ROW_PT // LINE_PT)  # the most lines one row holds (Excel: 409 pt a row)


def _lines_needed(text: str, width: float, bold: bool = False) -> int:
    """Lines of wrapped text LibreOffice will need (it does not grow rows on opening an xlsx) in a
    column of `width` (Excel's widths), measured in the annex's 10 pt Arial, each line break
    starting a line (a description of ten short paragraphs was given one line, and printed cut)."""
    return page_layout.arial_lines(text, width, FONT_PT, bold)


def _set_lines(ws, row: int, lines: int) -> None:
    """A row `lines` tall, at most `MAX_LINES`: a taller text is split over rows (`_chunks`)."""
    if lines > 1:
        ws.set_row(row, LINE_PT * min(lines, MAX_LINES))


def _chunks(text: str, width: float, most: int = MAX_LINES) -> list[str]:
    """`text` as pieces of at most `most` lines (`MAX_LINES`) in a column of `width`
    (`page_layout.chunks`): a description longer than a row (409 pt, some 4,000 characters across a
    fiche) continues on the next rows, printed whole where one row cut it."""
    return page_layout.chunks(text, lambda t: _lines_needed(t, width), most)


def _action_sheet(wb, d: _Data, fmts: _Formats, a: FicheAction, name: str) -> None:
    ws = wb.add_worksheet(name)
    for j, w in enumerate(ACTION_WIDTHS):
        ws.set_column(j, j, d.width(w) if j == AMOUNT_COLUMN else w)  # wider only: rows measured on ACTION_WIDTHS
    last = len(ACTION_WIDTHS) - 1
    row = _setup(ws, d, fmts, last)
    title = f"Fiche-action n° {a.numero or '—'} — {_shown(a, 'intitule') or ''}".rstrip(" —")
    # a long intitulé wraps (it was cut mid-word at the page's edge): its lines measured in its font
    width_pt = sum(page_layout.column_points(w) for w in ACTION_WIDTHS)
    lines = page_layout.arial_lines_in(title, width_pt, 16, bold=True)
    if lines > 5:
        # the title heads each page of the fiche, so that a page of it says whose it is: past five
        # lines it took a third of each page, its number alone does (the intitulé is the first field)
        title = f"Fiche-action n° {a.numero or '—'}"
        lines = 1
    merge_text(ws, row, 0, row, last, title, fmts.title_wrapped)
    title_pt = 24 if lines == 1 else 21 * lines + 3
    ws.set_row(row, title_pt)
    ws.repeat_rows(0, row)
    repeated = title_pt + (24 if d.brouillon else 0)  # and the draft banner
    # a long text's rows as tall as a page holds under what it repeats: rows of 31 lines under a
    # repeated title of seven lines were taller than the rest of the page, and LibreOffice cut their end
    most = max(1, min(MAX_LINES, int((_PRINTABLE_HEIGHT_PT - repeated) // LINE_PT) - 2))
    row += 2

    # -- the fiche: every field of the table
    row = _section(ws, row, "Fiche-action", fmts, last)
    t = layout.T_ACTIONS
    placed = {attr for r in FICHE_ROWS for attr in r}
    fiche_rows = list(FICHE_ROWS) + [(c.attr,) for c in t.columns if c.attr not in placed]

    def value_of(attr: str) -> tuple[Any, str]:
        col = t.column(attr)
        value, kind = _shown(a, attr), _kind(col)
        if attr == "axe" and a.axe is not None:
            value = layout.axe_label(a.axe)
        elif attr == "perimetre" and a.perimetre:
            value = d.perimetre_label(a.perimetre)
        elif attr == "cosignataires" and a.cosignataires_codes:
            value = " ; ".join(d.funder_name(c) for c in a.cosignataires_codes)
        return value, ("text" if isinstance(value, str) or value is None else kind)

    for attrs in fiche_rows:
        spans = [(0, 1, last)] if len(attrs) == 1 else [(0, 1, 3), (4, 5, last)]
        # a text taller than a row (a long description) goes on in the rows below, « (suite) »
        fields = []
        for attr, (lc, v0, v1) in zip(attrs, spans):
            value, kind = value_of(attr)
            width = sum(ACTION_WIDTHS[v0:v1 + 1])
            fields.append((attr, lc, v0, v1, kind, _chunks(value, width, most) if isinstance(value, str) else [value],
                           width))
        for k in range(max(len(f[5]) for f in fields)):
            height = 1
            for attr, lc, v0, v1, kind, pieces, width in fields:
                label = t.header(attr) if k == 0 else f"{t.header(attr)} (suite)" if k < len(pieces) else ""
                height = max(height, _lines_needed(label, ACTION_WIDTHS[lc], bold=True))
                ws.write_string(row, lc, label, fmts.label)
                fmt = fmts.cell(kind, left=True)
                ws.merge_range(row, v0, row, v1, None, fmt)
                value = pieces[k] if k < len(pieces) else None
                write_value(ws, row, v0, value, fmt)
                if isinstance(value, str):
                    height = max(height, _lines_needed(value, width))
            _set_lines(ws, row, height)
            row += 1
    row += 1

    # -- indicators
    row = _section(ws, row, "Indicateurs d'évaluation", fmts, last)
    ti = layout.T_INDICATEURS
    icols = (("indicateur", 0, 2), ("unite", 3, 3), ("valeur_initiale", 4, 4), ("valeur_cible", 5, 5),
             ("annee_cible", 6, 6))
    inds = [i for i in d.conv.indicateurs if a.numero and i.numero == a.numero]
    if inds:
        row = _table_row(ws, row, [(ti.header(x), c0, c1, None) for x, c0, c1 in icols], fmts, header=True)
        for ind in inds:
            row = _table_row(ws, row, [(_shown(ind, x), c0, c1, _kind(ti.column(x))) for x, c0, c1 in icols], fmts)
    else:
        ws.merge_range(row, 0, row, last, "Aucun indicateur renseigné pour cette action.", fmts.note)
        row += 1
    row += 1

    # -- its financing lines (refused ones greyed, counted nowhere)
    row = _section(ws, row, "Plan de financement de l'action", fmts, last)
    tf = layout.T_FINANCEMENTS
    fcols = (("financeur", 0, 1), ("dispositif", 2, 3), ("nature", 4, 4), ("annee", 5, 5), ("montant", 6, 6),
             ("statut", 7, 7))
    lines = totals.lines_of(d.lines, a.numero) if a.numero else []
    if lines:
        row = _table_row(ws, row, [(tf.header(x), c0, c1, None) for x, c0, c1 in fcols], fmts, header=True)
        for lf in lines:
            cells = []
            for x, c0, c1 in fcols:
                value = _shown(lf, x)
                if x == "financeur" and lf.financeur:
                    value = d.funder_name(lf.financeur)
                cells.append((value, c0, c1, _kind(tf.column(x))))
            row = _table_row(ws, row, cells, fmts, grey=not lf.compte)
    else:
        ws.merge_range(row, 0, row, last, "Aucune ligne de financement pour cette action.", fmts.note)
        row += 1
    p = totals.part_mo(lines, d.conv.financeurs, a, dispositifs_classeur=d.conv.dispositifs)
    summary = [
        ("Total des financements (hors refusés)", totals.total_action(d.lines, a.numero) if a.numero else totals.ZERO, "euros"),
        (t.header("cout_total"), a.cout_total, "euros"),
        ("Écart (coût − financements)", totals.ecart(a, d.lines), "euros"),
        ("Part du maître d'ouvrage (article L1111-10 du CGCT)", ratio_for_cell(p.ratio, SEUILS_MO), "percent"),
    ]
    for label, value, kind in summary:
        ws.merge_range(row, 0, row, 5, label, fmts.cell("text", bold=True, fill=True))
        write_value(ws, row, 6, value, fmts.cell(kind, bold=True, fill=True))
        ws.write_blank(row, 7, None, fmts.cell("text", fill=True))
        row += 1
    if any(not lf.compte for lf in lines):
        ws.merge_range(row, 0, row, last, "En gris : les financements refusés, qui ne sont comptés dans aucun total.", fmts.note)
        row += 1
    row += 1

    # -- signatures: a block per cosignatory, side by side
    row = _section(ws, row, "Signatures des cosignataires", fmts, last)
    codes = a.cosignataires_codes
    if not codes:
        ws.merge_range(row, 0, row, last, "Aucun cosignataire renseigné pour cette action.", fmts.note)
        row += 1
    else:
        row += 1
        span = len(ACTION_WIDTHS) // SIGNATURES_PER_ROW
        for i in range(0, len(codes), SIGNATURES_PER_ROW):
            lines = 3  # two lines of name, then « Date et signature : »
            for k, code in enumerate(codes[i:i + SIGNATURES_PER_ROW]):
                c0, c1 = k * span, k * span + span - 1
                # no « Pour Commune » (a name without its article): the name, then what to write
                label = f"{d.funder_name(code)}\nDate et signature :"
                ws.merge_range(row, c0, row, c1, label, fmts.sign_label)
                ws.merge_range(row + 1, c0, row + 4, c1, None, fmts.sign_box)
                # a longer name (a financeur named in full in `Financeurs`) gets its lines: at two,
                # its third line and « Date et signature : » were cut
                lines = max(lines, _lines_needed(label, sum(ACTION_WIDTHS[c0:c1 + 1]), bold=True))
            ws.set_row(row, 42 if lines <= 3 else min(page_layout.MAX_ROW_PT, LINE_PT * lines + 3))
            row += 6
    # One page per fiche whenever its type stays at 8 pt or more on it (`page_layout`'s standard);
    # longer ones flow onto a second page. Judged on the rows' heights, not their count: a long
    # description is one row of twenty lines (counted as one, it shrank a fiche to 7 pt).
    if _sheet_height_pt(ws, row) * page_layout.MIN_PRINTED_PT / FONT_PT <= _PRINTABLE_HEIGHT_PT:
        ws.fit_to_pages(1, 1)


_PRINTABLE_HEIGHT_PT = page_layout.A4_SHORT_PT - 2 * 0.75 * 72  # landscape, the annex's margins (`_setup`)


_AUTO_ROW_PT = 12.75  # a row of 10 pt Arial without a height of its own: Excel and LibreOffice fit it to that


def _sheet_height_pt(ws, rows: int) -> float:
    """The printed height of a sheet's first `rows` rows, in points (XlsxWriter keeps set rows in pixels)."""
    info = ws.row_info
    return sum((info[r].height * 0.75 if r in info else _AUTO_ROW_PT) for r in range(rows))


def _table_row(ws, row: int, cells: list[tuple[Any, int, int, str | None]], fmts: _Formats,
               header: bool = False, grey: bool = False) -> int:
    """One row of a small table whose cells may span several columns: (value, first, last, kind)."""
    height = 1
    for value, c0, c1, kind in cells:
        if header:
            fmt = fmts.header
        else:
            kind = "text" if isinstance(value, str) or value is None else _numkind(value, kind)
            fmt = fmts.cell(kind or "text", grey=grey)
        if c1 > c0:
            ws.merge_range(row, c0, row, c1, None, fmt)
        write_value(ws, row, c0, value, fmt)
        if isinstance(value, str):
            height = max(height, _lines_needed(value, sum(ACTION_WIDTHS[c0:c1 + 1])))
    _set_lines(ws, row, height)
    return row + 1


# ============================================================================ the avenant's changes
MODIFICATIONS_TITLE = "Modifications apportées par l'avenant"


def _span_headers(ws, row: int, spans: list[tuple[str, int, int]], fmts: _Formats) -> int:
    """A header row whose titles may span several columns: (text, first, last)."""
    for text, c0, c1 in spans:
        if c1 > c0:
            ws.merge_range(row, c0, row, c1, text, fmts.header)
        else:
            ws.write_string(row, c0, text, fmts.header)
    return row + 1


class _Pages:
    """Page breaks of a sheet holding several lists, each list's header written again at the top of
    each page it runs onto: a spreadsheet repeats only one range of rows per sheet (its print
    titles), so a long list of actions or of other changes printed its later pages without their
    columns' names. A list whose title, header and first row do not fit on the rest of a page starts
    on the next one. Heights are estimated on the high side (a row of default height as one line
    of `LINE_PT`, pages 5 % shorter than they are), so that a page never runs over onto one the
    spreadsheet would add without the header."""

    SAFETY = 0.95

    def __init__(self, ws, widths: Iterable[float], brouillon: bool):
        self.ws = ws
        scale = page_layout.one_page_scale(widths, margin_in=0.5)  # printed one page wide (`_setup`'s margins)
        self.capacity = _PRINTABLE_HEIGHT_PT / scale * self.SAFETY
        self.banner = 24 if brouillon else 0  # the draft banner, repeated at the top of each following page
        self.top = 0  # the first row of the current page
        self.breaks: list[int] = []
        self.section = 0
        self.header = None
        self.placed = 0

    def _height(self, r: int) -> float:
        size = self.ws.row_sizes.get(r)  # XlsxWriter's record of `set_row`, in pixels
        return size[0] * 0.75 if size and size[0] is not None else LINE_PT

    def start(self, section: int, header) -> None:
        """A list begins: its title at row `section`; `header(row)` writes its header, returns the next row."""
        self.section, self.header, self.placed = section, header, 0

    def place(self, row: int, values: list[Any] = (), widths: list[float] = ()) -> int:
        """The row where the list's next row is written (after a page break and the header written
        again when it would not fit on this page)."""
        needed = self._height_of(values, widths)
        used = sum(self._height(r) for r in range(self.top, row)) + (self.banner if self.top else 0)
        if used + needed > self.capacity and row > self.top:
            if self.placed == 0 and self.section > self.top:
                self._break(self.section)  # the title and header go with the first row
            elif self.placed and self.header is not None:
                self._break(row)
                row = self.header(row)
        self.placed += 1
        return row

    @staticmethod
    def _height_of(values: list[Any], widths: list[float]) -> float:
        lines = max((_lines_needed(v, w) for v, w in zip(values, widths) if isinstance(v, str)), default=1)
        return LINE_PT * min(lines, MAX_LINES)  # as `_fit_row` sets it

    def _break(self, row: int) -> None:
        self.breaks.append(row)
        self.top = row

    def apply(self) -> None:
        if self.breaks:
            self.ws.set_h_pagebreaks(self.breaks)


def _modifications(wb, d: _Data, fmts: _Formats, comp, reference: str) -> None:
    """« Modifications apportées par l'avenant »: financing per financeur avant / après / écart,
    the actions added, removed or whose cost changed, each financing line that changed. Every
    number comes from `checks.comparison` (itself from `totals`)."""
    from acv_xl.checks.comparison import AJOUT, MODIFICATION, SUPPRESSION

    # the amounts before, after and their écart, as wide as the widest of both states needs
    gaps = [*comp.groups.get("par_financeur", {}).values(), comp.financement_total, comp.cout_total]
    money = max(18.0, amount_width(v for e in gaps if e is not None for v in (e.avant, e.apres, e.ecart)))
    widths = (12, 40, 16, 16, money, money, money, money)
    ws, row, last = _new_sheet(wb, AnnexSheet.MODIFICATIONS, widths, d, fmts, MODIFICATIONS_TITLE,
                               f"Par rapport {reference} — montants en euros, hors financements refusés")
    # each list's header on each page it runs onto (`_Pages`); the page header carries the title
    pages = _Pages(ws, widths, d.brouillon)
    labels = {AJOUT: "Ajoutée", SUPPRESSION: "Supprimée", MODIFICATION: "Modifiée"}

    # -- per financeur
    section = row
    row = _section(ws, row, "Financements par financeur", fmts, last)

    def funders_header(r: int) -> int:
        return _span_headers(ws, r, [("Code", 0, 0), ("Financeur", 1, 3), ("Avant", 4, 4), ("Après", 5, 5),
                                     ("Écart", 6, 6)], fmts)
    row = funders_header(row)
    pages.start(section, funders_header)
    for code, e in comp.groups.get("par_financeur", {}).items():
        row = pages.place(row)
        ws.write_string(row, 0, code, fmts.cell())
        ws.merge_range(row, 1, row, 3, None, fmts.cell())
        write_value(ws, row, 1, d.funder_name(code), fmts.cell())
        for j, v in enumerate((e.avant, e.apres, e.ecart), start=4):
            write_value(ws, row, j, v, fmts.cell("ecart" if j == 6 else "euros", bold=j == 6 and e.ecart != 0))
        row += 1
    e = comp.non_ventile.get("par_financeur")
    if e is not None and (e.avant or e.apres):  # lines of no known financeur: the rows add up to the total
        row = pages.place(row)
        ws.merge_range(row, 0, row, 3, "Financements sans financeur reconnu", fmts.cell())
        for j, v in enumerate((e.avant, e.apres, e.ecart), start=4):
            write_value(ws, row, j, v, fmts.cell("ecart" if j == 6 else "euros", bold=j == 6 and e.ecart != 0))
        row += 1
    for label, e in (("Total des financements", comp.financement_total), ("Coût total des actions", comp.cout_total)):
        row = pages.place(row)
        ws.merge_range(row, 0, row, 3, label, fmts.cell("text", bold=True, fill=True))
        for j, v in enumerate((e.avant, e.apres, e.ecart), start=4):
            write_value(ws, row, j, v, fmts.cell("ecart" if j == 6 else "euros", bold=True, fill=True))
        row += 1
    row += 1

    # -- actions added, removed, abandoned or whose cost changed: each row's écart is what it moves
    # in « Coût total des actions » (which leaves abandoned actions out), so that the rows add up to it
    A = layout.T_ACTIONS
    cost, maturite = A.header("cout_total"), A.header("maturite")
    abandoned = layout.MATURITE_ABANDONNEE
    by_action: dict[Any, dict[str, Any]] = {}  # by action row: two actions may share a number (ACT-01)
    for c in comp.changes:
        if c.table == A.name and c.type == MODIFICATION and c.champ in (cost, maturite):
            by_action.setdefault((c.action, c.cellule_apres and parse_a1(c.cellule_apres)[0]), {})[c.champ] = c

    def counted(value: Any, state: Any) -> Any:
        return None if state == abandoned else value

    rows_out = []  # (numero, intitulé, label, cost before, cost after, écart counted)
    for c in comp.changes:
        if c.table != A.name:
            continue
        if c.type == SUPPRESSION:
            was = c.avant or {}
            rows_out.append((c.action, was.get(A.header("intitule")), labels[c.type], was.get(cost), None,
                             counted(was.get(cost), was.get(maturite)), None))
            continue
        now = d.changed_action(c) if c.type == MODIFICATION else d.conv.action(c.action)
        intitule = now.intitule if now is not None else None
        if c.type == AJOUT:
            new_row = c.apres or {}
            # its own intitulé: an action split by copying its row, the copy not yet renumbered, shares
            # its number with the first (ACT-01), whose intitulé `action()` finds
            intitule = new_row.get(A.header("intitule"), intitule)
            rows_out.append((c.action, intitule, labels[c.type], None, new_row.get(cost), None,
                             counted(new_row.get(cost), new_row.get(maturite))))
            continue
        mods = by_action.get((c.action, c.cellule_apres and parse_a1(c.cellule_apres)[0]), {})
        if c.champ not in mods or mods.get(c.champ) is not c:
            continue
        cost_after = now.cout_total if now is not None else None
        cost_before = mods[cost].avant if cost in mods else cost_after
        state_after = now.maturite if now is not None else None
        state_before = mods[maturite].avant if maturite in mods else state_after
        if c.champ == maturite:
            if abandoned not in (c.avant, c.apres):
                continue  # another maturity: no amount moves
            label = "Abandonnée" if c.apres == abandoned else "Reprise (n'est plus abandonnée)"
        elif maturite in mods and abandoned in (mods[maturite].avant, mods[maturite].apres):
            continue  # said, with its cost before and after, by its abandonment row
        else:
            label = "Coût modifié"
        rows_out.append((c.action, intitule, label, cost_before, cost_after,
                         counted(cost_before, state_before), counted(cost_after, state_after)))
    # by action (stable), as `comparer` groups them: an action split in two reads 2.2 then 2.3
    rows_out.sort(key=lambda r: _natural(r[0]))
    section = row
    row = _section(ws, row, "Actions ajoutées, supprimées, abandonnées ou dont le coût a changé", fmts, last)
    if rows_out:
        def actions_header(r: int) -> int:
            return _span_headers(ws, r, [(A.header("numero"), 0, 0), (A.header("intitule"), 1, 2),
                                         ("Changement", 3, 3), ("Coût avant", 4, 4), ("Coût après", 5, 5),
                                         ("Écart", 6, 6)], fmts)
        row = actions_header(row)
        pages.start(section, actions_header)
        for numero, intitule, label, before_cost, after_cost, counted_before, counted_after in rows_out:
            row = pages.place(row, [None, intitule, None, label], [12, 56, 0, 16])
            write_value(ws, row, 0, numero, fmts.cell())
            ws.merge_range(row, 1, row, 2, None, fmts.cell())
            write_value(ws, row, 1, intitule, fmts.cell())
            write_value(ws, row, 3, label, fmts.cell())
            for j, v in ((4, before_cost), (5, after_cost)):
                write_value(ws, row, j, v, fmts.cell("euros"))
            numbers = all(v is None or isinstance(v, Decimal) for v in (counted_before, counted_after))
            gap = (counted_after or totals.ZERO) - (counted_before or totals.ZERO) if numbers else None
            write_value(ws, row, 6, gap, fmts.cell("ecart", bold=True))
            _fit_row(ws, row, [None, intitule, None, label], [12, 56, 0, 16])
            row += 1
    else:
        ws.merge_range(row, 0, row, last, "Aucune action ajoutée, supprimée ni abandonnée ; aucun coût modifié.",
                       fmts.note)
        row += 1
    row += 1
    row = _other_action_changes(ws, row, last, d, fmts, comp, pages)
    row = _convention_changes(ws, row, last, fmts, comp, pages)

    # -- each financing line that changed
    F = layout.T_FINANCEMENTS
    # by action (stable: within one, the comparison's order), as `comparer` groups them: a line moved
    # from one action to another, or to the new half of a split action, reads next to its action's others
    lines = sorted((c for c in comp.changes if c.table == F.name), key=lambda c: _natural(c.action))
    section = row
    row = _section(ws, row, "Lignes de financement modifiées", fmts, last)
    if lines:
        keys = ("numero", "financeur", "dispositif", "nature", "annee")

        def lines_header(r: int) -> int:
            return _headers(ws, r, [F.header(k) for k in keys] + ["Changement", "Avant", "Après"], fmts, widths)
        row = lines_header(row)
        pages.start(section, lines_header)
        montant = F.header("montant")
        for c in lines:
            if c.type == MODIFICATION:
                # a statut changed says the amount it moves, as `comparer` and `valider` say it: a line
                # passed to or from « Refusé » moves its whole amount (on its own line: never cut in two,
                # the column being as wide as the widest amount above)
                what = champ_text(c, "\n")
                before, after = c.avant, c.apres
                # a refused line's amount changed moves nothing in the totals above
                line = d.changed_line(c)
                if line is not None and c.champ == montant and not line.compte:
                    what += "\n(ligne refusée, hors totaux)"
            else:
                what = f"Ligne {labels[c.type].lower()}"
                before = c.avant.get(montant) if isinstance(c.avant, dict) else None
                after = c.apres.get(montant) if isinstance(c.apres, dict) else None
                # its statut, as `comparer` says it: a line added « Sollicité » is no commitment obtained
                content = c.apres if c.type == AJOUT else c.avant
                statut = content.get(F.header("statut")) if isinstance(content, dict) else None
                if statut:
                    what += f" ({statut})"
            kind = "euros" if c.type != MODIFICATION or c.champ == montant else \
                "date" if isinstance(before or after, date) else "text"
            # a commentaire taller than a row goes on in the rows below, « (suite) »
            for n, (avant, apres) in enumerate(_split_rows([before, after], widths[6])):
                shown = [c.cle.get(F.header(k)) for k in keys] + [what if n == 0 else f"{what} (suite)", avant, apres]
                row = pages.place(row, shown, list(widths))
                for j, k in enumerate(keys):
                    write_value(ws, row, j, c.cle.get(F.header(k)), fmts.cell("year" if k == "annee" else "text"))
                write_value(ws, row, 5, shown[5], fmts.cell())
                write_value(ws, row, 6, avant, fmts.cell(kind if not isinstance(avant, str) else "text"))
                write_value(ws, row, 7, apres, fmts.cell(kind if not isinstance(apres, str) else "text"))
                # a wrapped dispositif or commentaire would otherwise overprint the next line
                _fit_row(ws, row, shown, list(widths))
                row += 1
    else:
        ws.merge_range(row, 0, row, last, "Aucune ligne de financement modifiée.", fmts.note)
        row += 1
    pages.apply()


def _change_value(v: Any, kind) -> tuple[Any, str]:
    """A value before or after a change, as a cell: (value, kind of cell) — a date as a date, an
    amount in euros, « (vide) » for nothing (as `comparer` says it)."""
    from acv_xl.outputs.comparison_report import EMPTY

    if v is None or v == "":
        return EMPTY, "text"
    if kind is layout.Kind.DATE and isinstance(v, date):
        return v, "date"
    if kind is layout.Kind.AMOUNT and isinstance(v, (Decimal, int, float)) and not isinstance(v, bool):
        return v, "euros"
    if kind is layout.Kind.AXE and isinstance(v, int):
        return f"Axe {v}", "text"
    if isinstance(v, bool):
        return ("VRAI" if v else "FAUX"), "text"
    if isinstance(v, (Decimal, int, float)):
        return v, "year" if kind is layout.Kind.YEAR else _numkind(v, "number")
    return str(v), "text"


def _convention_changes(ws, row: int, last: int, fmts: _Formats, comp, pages: _Pages) -> int:
    """Every other change of the convention — its dates (an avenant extending the deployment phase),
    its communes, périmètres, indicateurs, gouvernance, financeurs' lists… — one row per changed
    value, or per row added or removed, as `comparer` lists them."""
    from acv_xl.checks.comparison import AJOUT, MODIFICATION
    from acv_xl.outputs.comparison_report import fmt_value, key_text, kind_of

    shown = {layout.T_ACTIONS.name, layout.T_FINANCEMENTS.name}  # said by the lists around this one
    # the template's version is the workbook's, not the convention's: a convention drawn up in 2026.1
    # and its avenant in 2026.2 (`acv-xl migrer`) is no modification the avenant brings (`comparer` says it)
    tool = {layout.NAMED_CELL_KEY: "acv_version_modele"}
    changes = [c for c in comp.changes if c.table not in shown and not (c.table is None and c.cle == tool)]
    section = row
    row = _section(ws, row, "Autres modifications de la convention (dates, communes, périmètres, indicateurs…)",
                   fmts, last)
    if not changes:
        ws.merge_range(row, 0, row, last, "Aucune autre modification de la convention.", fmts.note)
        return row + 2
    order = {s: i for i, s in enumerate(layout.SHEETS)}

    def header(r: int) -> int:
        return _span_headers(ws, r, [("Feuille", 0, 0), ("Élément", 1, 1), ("Donnée modifiée", 2, 3),
                                     ("Avant", 4, 5), ("Après", 6, 7)], fmts)
    row = header(row)
    pages.start(section, header)
    numero = layout.T_ACTIONS.header("numero")
    for c in sorted(changes, key=lambda c: order.get(c.feuille, len(order))):  # stable: the comparison's order
        element = key_text(c) or None
        if c.action is not None:
            element = f"{numero} {c.action}" + (f" · {element}" if element else "")
        if c.type == MODIFICATION:
            what = c.champ
            values = [_change_value(v, kind_of(c)) for v in (c.avant, c.apres)]
        else:
            what = "Ligne ajoutée" if c.type == AJOUT else "Ligne supprimée"
            content = c.apres if c.type == AJOUT else c.avant
            text = " ; ".join(f"{h} : {fmt_value(v, kind_of(c, h))}" for h, v in (content or {}).items()
                              if h not in c.cle)
            values = [(None, "text"), (text or None, "text")] if c.type == AJOUT else [(text or None, "text"), (None, "text")]
        row = _change_rows(ws, row, pages, fmts, lambda k: (c.feuille, element), what, values)
    return row + 1


def _other_action_changes(ws, row: int, last: int, d: _Data, fmts: _Formats, comp, pages: _Pages) -> int:
    """The actions' other changes — dates, maître d'ouvrage, intitulé, maturité, description… —
    one row per changed column, as `comparer` lists them: a comité examining an avenant must see an
    action rescheduled or given to another maître d'ouvrage, though no amount moves. The cost and an
    abandonment are said by the list above, with their écart."""
    from acv_xl.checks.comparison import MODIFICATION

    A = layout.T_ACTIONS
    cost, maturite = A.header("cout_total"), A.header("maturite")
    abandoned = layout.MATURITE_ABANDONNEE
    kinds = {c.header: c.kind for c in A.columns}
    changes = [c for c in comp.changes if c.table == A.name and c.type == MODIFICATION and c.champ != cost
               and not (c.champ == maturite and abandoned in (c.avant, c.apres))]
    section = row
    row = _section(ws, row, "Autres modifications des actions (dates, maître d'ouvrage, intitulé…)", fmts, last)
    if not changes:
        ws.merge_range(row, 0, row, last, "Aucune autre modification des actions.", fmts.note)
        return row + 2

    def header(r: int) -> int:
        # the data's name wider than in the list above: « Dépense subventionnable (€ HT) » fits on two lines
        return _span_headers(ws, r, [(A.header("numero"), 0, 0), (A.header("intitule"), 1, 1),
                                     ("Donnée modifiée", 2, 3), ("Avant", 4, 5), ("Après", 6, 7)], fmts)
    row = header(row)
    pages.start(section, header)
    for c in sorted(changes, key=lambda c: _natural(c.action)):  # stable: the columns' order within an action
        now = d.changed_action(c)
        intitule = now.intitule if now is not None and now.intitule else c.avant if c.champ == A.header("intitule") \
            else None
        kind = kinds.get(c.champ)
        values = [_change_value(v, kind) for v in (c.avant, c.apres)]
        # a text taller than a row (a description) goes on in the rows below, « (suite) », each row
        # naming its action
        row = _change_rows(ws, row, pages, fmts, lambda k: (c.action, intitule if k == 0 else None), c.champ, values)
    return row + 1


_CHANGE_WIDTHS = [12, 40, 32, 36, 36]  # a change's columns: two of its own, the data changed, avant, après


def _change_rows(ws, row: int, pages: _Pages, fmts: _Formats, head, what: str, values: list[tuple[Any, str]]) -> int:
    """One change of « Autres modifications »: its two first cells (`head(k)`, k the row's rank), the
    data changed (`what`, « (suite) » on the rows below) and its « Avant » / « Après » (`values`:
    (value, kind) each), split over rows where a text is taller than one (`_split_rows`). The next row."""
    for k, (avant, apres) in enumerate(_split_rows([v for v, _k in values], 36)):
        label = what if k == 0 else f"{what} (suite)"
        first, second = head(k)
        shown = [first, second, label, avant, apres]
        row = pages.place(row, shown, _CHANGE_WIDTHS)
        write_value(ws, row, 0, first, fmts.cell())
        write_value(ws, row, 1, second, fmts.cell())
        for v, kind, c0 in ((label, "text", 2), (avant, values[0][1], 4), (apres, values[1][1], 6)):
            ws.merge_range(row, c0, row, c0 + 1, None, fmts.cell(kind))
            write_value(ws, row, c0, v, fmts.cell(kind))
        _fit_row(ws, row, shown, _CHANGE_WIDTHS)
        row += 1
    return row


def _split_rows(values: list[Any], widths: float | Sequence[float]) -> list[list[Any]]:
    """`values` (in columns of `widths`, or all of one width) as the rows they need: a text taller
    than a row (409 pt) cut into pieces (`_chunks`), the rows below holding the rest; the other
    cells on the first row only."""
    if not isinstance(widths, Sequence):
        widths = [widths] * len(values)
    return page_layout.split_rows(values, lambda t, j: _lines_needed(t, widths[j]), MAX_LINES)


def _list_row(ws, row: int, values: list[Any], widths: Sequence[float], fmt_of) -> int:
    """One row of a list sheet (its `values` in columns of `widths`, each cell in `fmt_of(j)`), on
    as many rows as its texts need: an intitulé, a périmètre's communes taller than a row (409 pt)
    were cut on paper after their 31st line. The next row."""
    for piece in _split_rows(values, widths):
        for j, v in enumerate(piece):
            write_value(ws, row, j, v, fmt_of(j))
        _fit_row(ws, row, piece, list(widths))
        row += 1
    return row


# ============================================================================ public API
def build_annex(report, out: Path, brouillon: bool = False, depuis=None, reference: str = "") -> Path:
    """Write the annex workbook of `report.convention` to `out` (xlsx); returns `out`.

    A convention with errors always gets the draft marking, whoever calls (CLI, Excel button): an
    unmarked annex must mean a workbook without errors. Written to a temporary file first, so a
    failure never leaves half an annex behind. `depuis` (a `comparison.Comparison` from the
    convention before the avenant) adds, after the cover, the avenant's changes; `reference` says what
    that state is, after « Par rapport » (« au classeur « avant.xlsx » », « aux données validées le … »).
    """
    if report.convention is None:
        raise ValueError("no convention to build an annex from")
    brouillon = brouillon or has_errors(report.findings)
    out = Path(out)
    d = _Data(report, brouillon, avenant=depuis is not None)

    def write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_numbers": False,
                                            "strings_to_urls": False})
        wb.set_properties({
            "title": f"{d.titre} — {d.libelle}",
            "subject": PROJET_NON_VALIDE if brouillon else d.titre,
            "author": "acv-xl",
            "comments": f"Empreinte des données : {report.empreinte or ''}",
            "keywords": pdf_keywords(ANNEXE),  # the mark of the PDF LibreOffice prints from it
        })
        mark_xlsxwriter(wb, ANNEXE)  # a derived report: `annexe` may replace it, `valider` says what it is
        fmts = _Formats(wb)
        _cover(wb, d, fmts)
        if depuis is not None:
            _modifications(wb, d, fmts, depuis, reference)
        _perimetres(wb, d, fmts)
        _actions_list(wb, d, fmts)
        _plan(wb, d, fmts)
        _axe_annee(wb, d, fmts)
        _part_mo(wb, d, fmts)
        used = {n.lower() for n in (AnnexSheet.COVER, AnnexSheet.MODIFICATIONS, AnnexSheet.PERIMETRES, AnnexSheet.ACTIONS,
                                    AnnexSheet.FINANCEMENT, AnnexSheet.AXE_ANNEE, AnnexSheet.PART_MO)}
        for i, a in enumerate(d.actions, start=1):
            _action_sheet(wb, d, fmts, a, _sheet_title(a.numero, i, used))
        wb.close()

    return atomic_write(out, write)


def _write_pdf(xlsx: Path, pdf: Path) -> Path:
    """The PDF of `xlsx`, printed by LibreOffice into a hidden folder beside it, then renamed:
    like every output, never half written, never another file's name."""
    from acv_xl.outputs import libreoffice

    def write(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(prefix=".acv-xl-pdf-", dir=pdf.parent) as folder:
            os.replace(libreoffice.convert(xlsx, "pdf", Path(folder))[0], tmp)

    return atomic_write(pdf, write)


def _since_validation(path: Path, report) -> tuple[str, Any, str]:
    """(why not, "" when possible; the changes since the validation kept in the workbook; what they are
    compared with, after « Par rapport ») for `annexe --depuis-validation`. Refused: a workbook never
    validated, one without its validated data or whose data do not match the fingerprint stored at
    validation (edited since: never taken for the state the comité approved), one whose validated data
    are another convention's (as `--depuis`), and one whose data are unchanged since its validation
    (« Valider » clicked on the avenant replaced the data kept: an annex would list nothing)."""
    from acv_xl.checks.comparison import compare
    from acv_xl.checks.validate import ETAT_MODIFIE, file_snapshot_cells, validated_data
    from acv_xl.contract.values import fmt_date

    remedy = ("indiquez l'état de la convention avant l'avenant avec --depuis AVANT.xlsx (par exemple la copie "
              "validée à la signature de la convention ou du dernier avenant).")
    name = path.name
    if not report.empreinte_stockee:
        # « Erreurs à corriger »: a validation that found errors records no data (and clears those kept)
        failed = report.convention.value("acv_statut") == layout.L.STATUT_VALIDATION[2]
        why = (" : sa dernière validation a trouvé des erreurs, et une validation avec erreurs ne garde aucune "
               "donnée validée" if failed else " n'a jamais été validé sans erreur (bouton « Valider » ou « acv-xl "
               "valider --annoter ») et ne garde donc aucune donnée validée")
        return f"« {name} »{why} à laquelle le comparer ; {remedy}", None, ""
    validated, cause = validated_data(report, lambda: file_snapshot_cells(path))
    if validated is None:
        return f"{cause} ; {remedy}", None, ""
    # as --depuis: a workbook taken from another convention's validated one keeps that convention's data
    was, now = (validated.acv_id or "").strip(), (report.convention.acv_id or "").strip()
    if was != now or not was:
        return (f"les données validées que garde « {name} » portent sur une autre convention "
                f"({was or 'identifiant absent'} au lieu de {now or 'identifiant absent'}) ; {remedy}"), None, ""
    day = report.convention.value("acv_date_validation")
    day = fmt_date(day) if isinstance(day, date) else ""
    # unchanged since: « validé », or validated data that have an error today (a deadline passed)
    unchanged = f"n'a pas été modifié depuis sa validation{f' du {day}' * bool(day)}"
    if report.etat == ETAT_MODIFIE:
        comp = compare(validated, report.convention, totaux_apres=report.totaux)
        if comp.changed:
            return "", comp, (f"aux données validées{f' le {day}' * bool(day)}, conservées dans "
                              f"« {shown_file(file_text(name))} » (leur "
                              "empreinte est celle enregistrée lors de la validation, en page de garde)")
        # « modifié » by its fingerprint only (lines sorted, a value typed otherwise): its data are still
        # those validated, and the annex would list nothing, as above
        unchanged = (f"a les données de sa validation{f' du {day}' * bool(day)} (des lignes y ont seulement été "
                     "déplacées ou triées, ou une valeur saisie autrement)")
    # a copy `valider --annoter` wrote is validated too: its original still keeps the data before
    return (f"« {name} » {unchanged} : les données qu'il garde sont les siennes, et l'annexe ne présenterait "
            "aucune modification. Une validation (bouton « Valider », ou « acv-xl valider --annoter » dans la "
            "copie qu'il écrit) remplace les données gardées par celles du classeur : l'annexe de l'avenant se "
            "génère avant de valider l'avenant — pour une copie annotée, sur le classeur d'origine —, ou bien "
            f"{remedy}"), None, ""


def default_output(path: Path, avenant: bool = False) -> Path:
    """Where an annex of the workbook `path` is written without -o: beside it, the avenant's under a name of
    its own. One name for both made the convention's annex (the button « Générer l'annexe », or `annexe`
    without --depuis) replace the avenant's as « a previous annex », in silence — one that `--depuis-validation`
    cannot write again once « Valider » has replaced the data kept."""
    return path.with_name(f"{path.stem}_annexe{'_avenant' * avenant}.xlsx")


def run_annexe(path: Path, out: Path | None, pdf: bool, brouillon: bool, console, depuis: Path | None = None,
               replace: bool = False, err_console=None, depuis_validation: bool = False) -> int:
    """`acv-xl annexe`: validate, refuse a convention with errors (unless draft), write xlsx (+ PDF).

    `depuis`: the workbook before the avenant, whose changes open the annex (same convention).
    `depuis_validation`: that state is the one the workbook itself keeps from its last validation
    (`validate.validated_data`: its hidden sheet, trusted only when its fingerprint is the one stored).
    `replace`: `--remplacer`, to write over an existing file that is not a previous annex.
    `err_console`: where a status-2 refusal is said (stderr by default, as every other command)."""
    from acv_xl.checks.validate import validate_file

    def say(text: str, style: str | None = None, out=console) -> None:  # names and findings shown literally
        out.print(literal(text), style=style, markup=False, highlight=False, soft_wrap=True)

    def refuse(text: str, style: str | None = "red") -> None:
        nonlocal err_console
        if err_console is None:
            err_console = terminal_console(stderr=True)
        say(text, style, err_console)

    def unusable(report) -> int:
        refuse(f"Impossible de générer l'annexe : le fichier « {path.name or path} » n'est pas un classeur ACV lisible.")
        for f in report.findings:  # a line each (`literal` would show a line break inside one as « ␊ »)
            refuse(f"  {f.code} : {f.message}" + (f" {f.suggestion}" if f.suggestion else ""), None)
        return 2

    path = Path(path)
    if not path.name:  # « . » or « / »: a folder, with no name to give an annex beside it (with_name raised)
        return unusable(validate_file(path))
    out = Path(out) if out else default_output(path, avenant=depuis is not None or depuis_validation)
    # only a previous annex is replaced without --remplacer, never a consolidation named alike
    outputs = [Output(out, (".xlsx",), "-o", ANNEXE)] + (
        [Output(out.with_suffix(".pdf"), (".pdf",), "--pdf", ANNEXE)] if pdf else [])
    if problem := check_outputs([path] + ([Path(depuis)] if depuis else []), outputs, replace=replace):
        if out.suffix.lower() == ".pdf":  # « -o annexe.pdf »: the user wants the PDF, say how
            problem += (f" ; pour le PDF, ajoutez --pdf : il est écrit à côté de l'annexe "
                        f"({out.with_suffix('.xlsx').name} et {out.name}).")
        refuse(f"Impossible de générer l'annexe : {problem}")
        return 2

    if depuis is not None and same_file(path, depuis):  # an avenant's annex whose every list says « aucune »
        refuse(f"Impossible de générer l'annexe : --depuis désigne le classeur lui-même (« {Path(depuis).name} ») ; "
               "indiquez le classeur de la convention avant l'avenant (par exemple la copie validée à la signature "
               "de la convention ou du dernier avenant).")
        return 2
    report = validate_file(path)
    if report.convention is None:
        return unusable(report)
    # the workbook before the avenant is read before the findings are: an unusable one (missing, another
    # convention) is status 2 at once, never after the user has corrected every error (status 1)
    comp = None
    # (in the annex: the name as every output shows it, `shown_file`)
    reference = f"au classeur « {shown_file(file_text(Path(depuis).name))} »" if depuis is not None else ""
    if depuis_validation:
        problem, comp, reference = _since_validation(path, report)
        if problem:
            refuse(f"Impossible de générer l'annexe de l'avenant : {problem}")
            return 2
        order = ""
    elif depuis is not None:
        from acv_xl.checks.comparison import compare
        from acv_xl.outputs.comparer import Unusable, order_warning, read_for_comparison, side_info

        try:
            before = read_for_comparison(Path(depuis))
        except Unusable as exc:
            refuse(f"Impossible de générer l'annexe : {exc}")
            return 2
        if (before.acv_id or "").strip() != (report.convention.acv_id or "").strip() or not before.acv_id:
            refuse(f"Impossible de générer l'annexe : « {Path(depuis).name} » porte sur une autre convention "
                   f"({before.acv_id or 'identifiant absent'} au lieu de "
                   f"{report.convention.acv_id or 'identifiant absent'}).")
            return 2
        comp = compare(before, report.convention, totaux_apres=report.totaux)
        order = order_warning(comp, depuis, side_info(depuis, before), before, path,
                              side_info(path, report.convention), "acv-xl annexe APRES.xlsx --depuis AVANT.xlsx")
    errors = [f for f in report.findings if f.gravite is Gravite.ERREUR]
    if errors and not brouillon:
        say(f"Annexe non générée : le classeur « {path.name} » comporte {_count(len(errors), 'erreur')} à corriger.",
            "red")
        for f in errors:
            where = (f"feuille {f.feuille}, cellule {f.cellule}" if f.cellule
                     else f"feuille {f.feuille}" if f.feuille else "classeur")
            action = f" (action {f.action})" if f.action else ""
            say(f"  {f.code}  {where}{action} : {f.message}")
        say("Corrigez-les puis relancez, ou ajoutez --brouillon pour un document de travail marqué "
            f"« {PROJET_NON_VALIDE} ».")
        return 1

    if problem := beyond_excel(report.convention, before if depuis is not None else None, comp):
        refuse(f"Impossible de générer l'annexe : {problem}")
        return 2
    build_annex(report, out, brouillon=brouillon, depuis=comp, reference=reference)
    say(f"Annexe écrite : {out}")
    if comp is not None and order:  # the avenant's changes read backwards
        refuse(order, "yellow")
    if depuis is not None and not comp.changed:  # a wrong --depuis (today's copy), or an avenant on the text alone
        # by their names, or as given when these are one (« arras.xlsx » et « arras.xlsx »: today's copy
        # kept under its name in another folder, picked for the signed one)
        avant, apres = (Path(depuis).name, path.name) if Path(depuis).name != path.name else (depuis, path)
        refuse(f"Attention : « {avant} » et « {apres} » ont les mêmes données ; l'annexe de "
               "l'avenant ne présente aucune modification du classeur. Si l'avenant modifie les actions ou leur "
               "financement, --depuis doit désigner le classeur d'avant l'avenant (par exemple la copie validée à "
               "la signature de la convention ou du dernier avenant).", "yellow")
    if brouillon:
        say(f"Document de travail : chaque page porte « {PROJET_NON_VALIDE} ».")
    if pdf:
        from acv_xl.outputs import libreoffice  # with --pdf only

        try:
            written = [_write_pdf(out, out.with_suffix(".pdf"))]
        except libreoffice.LibreOfficeMissing as exc:
            refuse(f"PDF non produit : {exc}")
            return 2
        except libreoffice.ConversionFailed as exc:
            refuse(f"PDF non produit : {exc}")
            return 2
        say(f"PDF écrit : {written[0]}")
    return 0
