"""The ACV workbook (the contract of classeur.md), written with XlsxWriter from `layout`.

`build_workbook(path)` writes the empty template; with a `Convention` it writes that convention's
rows (the raw values when known, so a faulty example can keep "12 000 €" as text in an amount
cell). Every sheet, table, header, list and named cell comes from `layout`; the `Synthèse` sheet
holds native formulas only, so the workbook is useful without any add-in.

Two things learned the hard way:
- LibreOffice trusts the cached value of a formula written by a "Microsoft Excel" file; XlsxWriter
  caches 0 unless told otherwise. Formulas are written with an empty cached value, which makes
  LibreOffice (and Excel, through fullCalcOnLoad) compute them on opening.
- XlsxWriter names shapes `TextBox N`; the xlwings buttons are bound by shape name, so the drawing
  XML is rewritten after XlsxWriter has closed (`_rename_shapes`).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from acv_xl.contract import layout
from acv_xl.contract.layout import Kind, Sheet, Table
from acv_xl.contract.model import Convention, Dispositif, Financeur, Ligne, build_row
from acv_xl.contract.values import ExcelError, NoCachedValue
from acv_xl.outputs import page_layout
from acv_xl.outputs.formats import FMT_DATE, FMT_EUROS, FMT_INTEGER, FMT_NUMBER, write_value
from acv_xl.outputs.atomic import atomic_write_bytes
from acv_xl.reading.source import a1, col_letter, parse_a1

# Fixed so that the same data always gives the same bytes (the shipped workbooks are compared).
CREATED = datetime(2026, 1, 1, 0, 0, 0)
AMOUNT_FORMAT = FMT_EUROS
DATE_FORMAT = FMT_DATE
# Rows below a header row that carry the drop-downs (rows a user adds keep their lists), and the
# rows of a code column offered by a reference drop-down.
VALIDATION_ROWS = 300
# Number columns that count people or things (whole numbers); the others are measures.
COUNT_COLUMNS = frozenset({"population"})

SHEET_TITLES: dict[str, tuple[str, str]] = {
    Sheet.PROJET: ("Identité de la convention", "Renseignez les cellules jaunes, puis les communes de la convention."),
    Sheet.DIAGNOSTIC: ("Diagnostic sur les cinq axes", "Éléments de diagnostic existants et études complémentaires, pour chaque axe."),
    Sheet.PERIMETRES: ("Périmètres", "Le périmètre d'étude (au moins l'EPCI) contient le périmètre ORT (au moins le centre-ville), qui contient les secteurs prioritaires. Dans « Périmètre parent », indiquez le code du périmètre qui le contient."),
    Sheet.ACTIONS: ("Fiches-actions", "Une ligne par action. Le coût total doit être égal à la somme de son plan de financement (hors lignes refusées)."),
    Sheet.INDICATEURS: ("Indicateurs (dispositif d'évaluation)", "Au moins un indicateur par action, avec sa valeur cible."),
    Sheet.FINANCEMENT: ("Plan de financement", "Une ligne par action, financeur, dispositif et année. Les lignes « Refusé » ne comptent dans aucun total."),
    Sheet.FINANCEURS: ("Financeurs de référence", "Ne renommez pas les codes existants ; ajoutez vos propres financeurs en bas des tableaux."),
    Sheet.GOUVERNANCE: ("Gouvernance", "Le comité de projet réunit les élus, le directeur de projet, l'État et les partenaires financeurs."),
    Sheet.CONTROLES: ("Contrôles", "Rempli par le bouton « Valider » : une ligne par anomalie, avec la feuille et la cellule à corriger."),
}

HOW_TO = (
    "Mode d'emploi",
    "1. Projet : identité de la convention (cellules jaunes) et communes.",
    "2. Diagnostic : les éléments existants et les études complémentaires, sur les cinq axes.",
    "3. Périmètres : le périmètre d'étude, le périmètre ORT et les secteurs prioritaires, emboîtés.",
    "4. Fiches-actions, puis Indicateurs : une ligne par action et ses indicateurs.",
    "5. Plan de financement : une ligne par action, financeur, dispositif et année (codes de la feuille Financeurs).",
    "6. Gouvernance : le comité de projet et l'équipe de projet.",
    "« Valider » contrôle tout le classeur, remplit la feuille Contrôles, surligne les cellules à corriger "
    "et met à jour le statut ci-dessous.",
    "« Générer l'annexe » produit l'annexe de la convention (fiches-actions et plan de financement).",
    "Les lignes de financement au statut « Refusé » ne sont comptées dans aucun total.",
    "Sans complément Excel, le classeur reste utilisable : la feuille Synthèse est calculée par des formules d'Excel.",
)
ACCUEIL_HOW_TO_ROW = 4  # first line of the how-to (1-based)
ACCUEIL_STATUS_TITLE_ROW = 20
ACCUEIL_WIDTHS = {"A": 3, "B": 34, "C": 40, "D": 4, "E": 30}


# --------------------------------------------------------------------------- Synthèse layout
@dataclass(frozen=True)
class SyntheseLayout:
    """Where the Synthèse formulas are (A1, column B holds the amounts), for the UDFs and tests."""

    cout_total: str
    financement_total: str
    ecart: str
    par_financeur: dict[str, str]  # code → cell
    financeur_autres: str
    financeur_total: str
    par_axe: dict[int, str]
    axe_autres: str
    axe_total: str
    par_annee: dict[int, str]
    annee_autres: str
    annee_total: str
    par_statut: dict[str, str]  # every statut but Refusé
    statut_autres: str
    statut_total: str
    refuse: str


SYNTHESE_YEARS = tuple(range(layout.PROGRAMMES["ACV 1"][0], layout.PROGRAMMES["ACV 2"][1].year + 1))


def synthese_layout() -> SyntheseLayout:
    """Rows of the Synthèse sheet: overview at 5–7, then one block per breakdown."""
    row = 10  # first data row of the financeur block (header at 9)
    fin = {f.code: f"B{row + i}" for i, f in enumerate(layout.FINANCEURS)}
    row += len(fin)
    fin_autres, fin_total = f"B{row}", f"B{row + 1}"
    row += 4  # blank, header
    axe = {n: f"B{row + i}" for i, n in enumerate(layout.AXES)}
    row += len(axe)
    axe_autres, axe_total = f"B{row}", f"B{row + 1}"
    row += 4
    annee = {y: f"B{row + i}" for i, y in enumerate(SYNTHESE_YEARS)}
    row += len(annee)
    annee_autres, annee_total = f"B{row}", f"B{row + 1}"
    row += 4
    statuts = [s for s in layout.L.STATUT if s != layout.STATUT_REFUSE]
    statut = {s: f"B{row + i}" for i, s in enumerate(statuts)}
    row += len(statut)
    statut_autres, statut_total = f"B{row}", f"B{row + 1}"
    refuse = f"B{row + 3}"
    return SyntheseLayout("B5", "B6", "B7", fin, fin_autres, fin_total, axe, axe_autres, axe_total,
                          annee, annee_autres, annee_total, statut, statut_autres, statut_total, refuse)


# --------------------------------------------------------------------------- helpers
def quote_sheet(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def abs_ref(sheet: str, cell: str) -> str:
    row, col = parse_a1(cell)
    return f"{quote_sheet(sheet)}!${col_letter(col)}${row}"


def col_ref(table: Table, attr: str) -> str:
    """Structured reference to a column, e.g. `T_Financements[Montant (€)]` (', [, ], # escaped with ')."""
    header = re.sub(r"(['\[\]#])", r"'\1", table.header(attr))
    return f"{table.name}[{header}]"


def reference_financeurs() -> list[Financeur]:
    """The reference list of funders (`layout.FINANCEURS`) as model rows, at their template cells."""
    return placed_rows(Financeur, [
        {"code": f.code, "nom": f.nom, "categorie": f.categorie, "cibles": f.cibles, "modalites": f.modalites}
        for f in layout.FINANCEURS
    ])


def reference_dispositifs() -> list[Dispositif]:
    return placed_rows(Dispositif, [
        {"financeur": f.code, "dispositif": d.nom, "nature": d.nature,
         "dotation_r2334_27": layout.L.OUI_NON[0] if d.r2334_27 else layout.L.OUI_NON[1]}
        for f in layout.FINANCEURS for d in f.dispositifs
    ])


def placed_rows(cls: type[Ligne], raws: list[dict[str, Any]]) -> list:
    """Model rows carrying the cells where `build_workbook` writes them (data row i of the table)."""
    table = cls.TABLE
    hr, hc = parse_a1(table.anchor)
    out = []
    for i, raw in enumerate(raws):
        r = hr + 1 + i
        cells = {c.attr: a1(r, hc + j) for j, c in enumerate(table.columns) if c.attr in raw}
        out.append(build_row(cls, raw, cells, sheet=table.sheet, row=r))
    return out


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook):
        f = wb.add_format
        self.title = f({"bold": True, "font_size": 16, "font_color": "#1F4E79"})
        self.subtitle = f({"italic": True, "font_color": "#595959"})
        self.h2 = f({"bold": True, "font_size": 12, "font_color": "#1F4E79"})
        # table cells: top-aligned, so that a row made tall by a wrapped text reads as one line
        top = {"valign": "top"}
        self.text = f({**top, "num_format": "@"})
        self.text_wrap = f({**top, "num_format": "@", "text_wrap": True})
        self.general = f(top)
        self.amount = f({**top, "num_format": AMOUNT_FORMAT})
        self.date = f({**top, "num_format": DATE_FORMAT})
        self.year = f({**top, "num_format": "0"})
        self.integer = f({**top, "num_format": FMT_INTEGER})
        self.number = f({**top, "num_format": FMT_NUMBER})
        self.label = f({"bold": True, "text_wrap": True, "valign": "vcenter"})
        # table headers are styled by the table style in Excel; explicit for LibreOffice and printing
        self.header = f({"bold": True, "font_color": "white", "bg_color": "#1F4E79", "text_wrap": True,
                         "valign": "top", "border": 1, "border_color": "#BFBFBF"})
        self.input_text = f({"num_format": "@", "bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF"})
        self.input_date = f({"num_format": DATE_FORMAT, "bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF",
                             "align": "left"})
        self.status = f({"bg_color": "#EDEDED", "border": 1, "border_color": "#BFBFBF"})
        self.status_date = f({"num_format": DATE_FORMAT, "bg_color": "#EDEDED", "border": 1,
                              "border_color": "#BFBFBF", "align": "left"})
        self.wrap = f({"text_wrap": True, "valign": "top"})
        self.demo = f({"bold": True, "font_color": "#C00000"})
        self.s_head = f({"bold": True, "bg_color": "#1F4E79", "font_color": "white", "border": 1})
        self.s_label = f({"border": 1})
        self.s_amount = f({"num_format": AMOUNT_FORMAT, "border": 1})
        self.s_total_label = f({"bold": True, "border": 1, "bg_color": "#DDEBF7"})
        self.s_total = f({"bold": True, "num_format": AMOUNT_FORMAT, "border": 1, "bg_color": "#DDEBF7"})
        self.s_apart_label = f({"italic": True, "border": 1, "font_color": "#7F7F7F"})
        self.s_apart = f({"italic": True, "num_format": AMOUNT_FORMAT, "border": 1, "font_color": "#7F7F7F"})

    def column(self, kind: Kind, attr: str = ""):
        if kind is Kind.NUMBER:  # thousands separated: a count as a whole number, a measure with decimals
            return self.integer if attr in COUNT_COLUMNS else self.number
        return {
            Kind.AMOUNT: self.amount, Kind.DATE: self.date, Kind.YEAR: self.year, Kind.AXE: self.general,
        }.get(kind, self.text_wrap if kind is Kind.TEXT else self.text)


def _write_raw(ws, row: int, col: int, value: Any, fmt) -> None:
    """`write_value`, keeping an Excel error or a formula saved without its value as they were read
    (`acv-xl migrer` carries them: the new workbook then gives the same STR-06/STR-07)."""
    if isinstance(value, ExcelError):
        ws.write_formula(row, col, str(value), fmt, str(value))
    elif isinstance(value, NoCachedValue):
        ws.write_formula(row, col, str(value), fmt, "")
    else:
        write_value(ws, row, col, value, fmt)


def _cell_value(line: Ligne, attr: str) -> Any:
    if attr in line.raw:
        return line.raw[attr]
    return getattr(line, attr, None)


# --------------------------------------------------------------------------- tables
def _table_rows(table: Table, conv: Convention | None) -> list[Ligne] | None:
    if table.name == layout.T_FINANCEURS.name:
        return (conv.financeurs if conv and conv.financeurs else None) or reference_financeurs()
    if table.name == layout.T_DISPOSITIFS.name:
        return (conv.dispositifs if conv and conv.dispositifs else None) or reference_dispositifs()
    if conv is None or table.name == layout.T_CONTROLES.name:
        return None
    return conv.rows(table.name) or None


def _write_table(ws, fm: _Formats, table: Table, rows: list[Ligne] | None) -> None:
    hr, hc = parse_a1(table.anchor)
    r0, c0 = hr - 1, hc - 1  # 0-based for XlsxWriter
    n = len(rows) if rows else table.min_rows
    ws.add_table(r0, c0, r0 + n, c0 + len(table.columns) - 1, {
        "name": table.name,
        "style": "Table Style Medium 2",
        "columns": [{"header": c.header, "format": fm.column(c.kind, c.attr), "header_format": fm.header}
                    for c in table.columns],
    })
    for j, c in enumerate(table.columns):
        fmt = fm.column(c.kind, c.attr)
        for i in range(n):
            value = _cell_value(rows[i], c.attr) if rows else None
            _write_raw(ws, r0 + 1 + i, c0 + j, value, fmt)
    for i in range(len(rows) if rows else 0):  # rows tall enough for their wrapped text
        height = page_layout.row_height((str(_cell_value(rows[i], c.attr) or ""), page_layout.fit_width(c.width, c.header))
                                        for c in table.columns if c.kind is Kind.TEXT)
        if height > page_layout.LINE_PT + 2:
            ws.set_row(r0 + 1 + i, height)
    last = r0 + max(n, VALIDATION_ROWS)
    for j, c in enumerate(table.columns):
        dv = _validation(table, c)
        if dv:
            ws.data_validation(r0 + 1, c0 + j, last, c0 + j, dv)


# Columns whose values are codes of another table: a drop-down over that table's column (a plain
# range: INDIRECT of a structured reference is not understood by LibreOffice). Funder codes block
# other values (add the funder first); the others only warn, a line may be typed before its action.
REFERENCE_LISTS: dict[tuple[str, str], tuple[Table, str, str, str]] = {
    (layout.T_FINANCEMENTS.name, "financeur"): (
        layout.T_FINANCEURS, "code", "stop",
        "Choisissez un code de la feuille Financeurs (ajoutez-y d'abord un nouveau financeur)."),
    (layout.T_DISPOSITIFS.name, "financeur"): (
        layout.T_FINANCEURS, "code", "warning", "Ce code n'est pas dans le tableau des financeurs."),
    (layout.T_FINANCEMENTS.name, "numero"): (
        layout.T_ACTIONS, "numero", "warning", "Ce numéro d'action n'existe pas dans la feuille Fiches-actions."),
    (layout.T_INDICATEURS.name, "numero"): (
        layout.T_ACTIONS, "numero", "warning", "Ce numéro d'action n'existe pas dans la feuille Fiches-actions."),
    (layout.T_ACTIONS.name, "perimetre"): (
        layout.T_PERIMETRES, "code", "warning", "Ce code n'existe pas dans la feuille Périmètres."),
    (layout.T_PERIMETRES.name, "parent"): (
        layout.T_PERIMETRES, "code", "warning", "Ce code n'existe pas dans la feuille Périmètres."),
}
# Typed cells: a warning when what is typed is not a number / a year / a date ("12 000 €" as text).
_TYPED: dict[Kind, tuple[dict, str]] = {
    Kind.AMOUNT: ({"validate": "decimal", "criteria": ">=", "value": 0},
                  "Saisissez un montant en euros, sous forme de nombre (ex. 12000 ou 12000,50), sans texte."),
    Kind.NUMBER: ({"validate": "decimal", "criteria": ">=", "value": 0}, "Saisissez un nombre positif, sans texte."),
    Kind.YEAR: ({"validate": "integer", "criteria": "between", "minimum": 2000, "maximum": 2100},
                "Saisissez une année sur quatre chiffres (ex. 2025)."),
    Kind.DATE: ({"validate": "date", "criteria": "between", "minimum": datetime(2000, 1, 1),
                 "maximum": datetime(2100, 12, 31)}, "Saisissez une date (jj/mm/aaaa)."),
}


def reference_range(table: Table, attr: str) -> str:
    """`'Sheet'!$A$4:$A$303`: the cells of a column of `table`, with room for rows users add."""
    hr, hc = parse_a1(table.anchor)
    col = col_letter(hc + table.position(attr))
    return f"{quote_sheet(table.sheet)}!${col}${hr + 1}:${col}${hr + VALIDATION_ROWS}"


def _title(text: str) -> str:
    """A dialog title within Excel's 32 characters, cut between words (« Date de signature de la… »)."""
    if len(text) <= 32:
        return text
    return text[:31].rsplit(" ", 1)[0].rstrip(" (") + "…"


def _validation(table: Table, c: layout.Column) -> dict | None:
    title = _title(c.header)
    ref = REFERENCE_LISTS.get((table.name, c.attr))
    if c.choices:
        dv = {"validate": "list", "source": list(c.choices)}
        if c.kind is Kind.AXE:
            # « 3 » or the official label are accepted too: warn, do not block
            dv.update(error_type="warning", error_title="Axe",
                      error_message="Choisissez un axe de la liste (Axe 1 à Axe 5).")
        else:
            dv.update(error_type="stop", error_title=title,
                      error_message=f"Choisissez une valeur de la liste « {c.header} ».")
    elif ref is not None:
        src, attr, error_type, message = ref
        dv = {"validate": "list", "source": "=" + reference_range(src, attr), "error_type": error_type,
              "error_title": title, "error_message": message}
    elif c.kind in _TYPED:
        typed, message = _TYPED[c.kind]
        dv = {**typed, "error_type": "warning", "error_title": title, "error_message": message}
    elif c.note:
        dv = {"validate": "any"}
    else:
        return None
    if c.note:
        dv.update(input_title=title, input_message=c.note[:255])
    return dv


# --------------------------------------------------------------------------- sheets
def _named_value(nc: layout.NamedCell, conv: Convention | None) -> Any:
    if conv is not None and nc.name in conv.names:
        nv = conv.names[nc.name]
        return nv.raw if nv.raw is not None else nv.value
    if nc.name == "acv_version_modele":
        return layout.TEMPLATE_VERSION
    if nc.name == "acv_statut":
        return layout.L.STATUT_VALIDATION[0]
    return None


def _write_named_cells(wb, sheets: dict, fm: _Formats, conv: Convention | None) -> None:
    for nc in layout.NAMED_CELLS:
        ws = sheets[nc.sheet]
        row, col = parse_a1(nc.cell)
        ws.write_string(row - 1, col - 2, nc.label, fm.label)
        if nc.user_filled and nc.name != "acv_version_modele":
            fmt = fm.input_date if nc.kind is Kind.DATE else fm.input_text
        else:
            fmt = fm.status_date if nc.kind is Kind.DATE else fm.status
        _write_raw(ws, row - 1, col - 1, _named_value(nc, conv), fmt)
        if nc.choices:
            ws.data_validation(row - 1, col - 1, row - 1, col - 1, {
                "validate": "list", "source": list(nc.choices), "error_type": "stop",
                "error_title": _title(nc.label), "error_message": "Choisissez une valeur de la liste."})
        elif nc.kind in _TYPED and nc.user_filled:
            typed, message = _TYPED[nc.kind]
            ws.data_validation(row - 1, col - 1, row - 1, col - 1, {
                **typed, "error_type": "warning", "error_title": _title(nc.label), "error_message": message})
        wb.define_name(nc.name, "=" + abs_ref(nc.sheet, nc.cell))


def _write_accueil(ws, fm: _Formats, mention: str | None) -> None:
    for letter, width in ACCUEIL_WIDTHS.items():
        ws.set_column(f"{letter}:{letter}", width)
    ws.write_string(0, 1, "Action Cœur de Ville — classeur de la convention", fm.title)
    ws.write_string(1, 1, "Programme national Action Cœur de Ville (ACV) : fiches-actions et plan de financement "
                          "de la convention", fm.subtitle)
    if mention:
        ws.write_string(2, 1, mention, fm.demo)
    ws.write_string(ACCUEIL_HOW_TO_ROW - 1, 1, HOW_TO[0], fm.h2)
    for i, line in enumerate(HOW_TO[1:]):
        ws.write_string(ACCUEIL_HOW_TO_ROW + i, 1, line)
    for b in layout.BUTTONS:
        if b.sheet != Sheet.ACCUEIL:
            continue
        row, col = parse_a1(b.cell)
        ws.set_row(row - 1, 36)
        width_px = int(ACCUEIL_WIDTHS.get(col_letter(col), 8.43) * 7 + 5)  # XlsxWriter's width → pixels
        ws.insert_textbox(row - 1, col - 1, b.caption, {
            "width": width_px, "height": 48,
            "url": f"internal:{quote_sheet(b.sheet)}!{b.cell}",
            "tip": f"Lance « {b.caption} » (complément xlwings)",
            "font": {"bold": True, "size": 12, "color": "white"},
            "fill": {"color": "#1F4E79"},
            "line": {"color": "#1F4E79"},
            "align": {"vertical": "middle", "horizontal": "center"},
            "object_position": 3,
        })
    ws.write_string(ACCUEIL_STATUS_TITLE_ROW - 1, 1, "État de la validation", fm.h2)


def _write_synthese(ws, fm: _Formats) -> None:
    sl = synthese_layout()
    fin, act = layout.T_FINANCEMENTS, layout.T_ACTIONS
    montant, statut = col_ref(fin, "montant"), col_ref(fin, "statut")
    compte = f'{statut},"<>{layout.STATUT_REFUSE}"'
    total = f"SUMIFS({montant},{compte})"
    ws.set_column("A:A", 46)
    ws.set_column("B:B", 20)
    ws.set_column("C:C", 90)
    ws.write_string(0, 0, "Synthèse du plan de financement", fm.title)
    ws.write_string(1, 0, "Calculée par des formules d'Excel (sans complément). Les lignes « Refusé » ne sont "
                          "comptées dans aucun total ; le coût exclut les actions abandonnées.", fm.subtitle)

    def formula(cell: str, text: str, fmt) -> None:
        r, c = parse_a1(cell)
        ws.write_formula(r - 1, c - 1, "=" + text, fmt, "")  # empty cache: computed on opening

    def block(header_row: int, head: tuple[str, str, str]) -> None:
        for j, h in enumerate(head):
            ws.write_string(header_row - 1, j, h, fm.s_head)

    def label(cell: str, text: str, fmt=None, note: str = "") -> None:
        r, _ = parse_a1(cell)
        ws.write_string(r - 1, 0, text, fmt or fm.s_label)
        ws.write_string(r - 1, 2, note, fmt or fm.s_label)

    block(4, ("Vue d'ensemble", "Montant (€)", ""))
    label(sl.cout_total, "Coût total des actions (hors abandonnées)")
    formula(sl.cout_total, f'SUMIFS({col_ref(act, "cout_total")},{col_ref(act, "maturite")},'
                           f'"<>{layout.MATURITE_ABANDONNEE}")', fm.s_amount)
    label(sl.financement_total, "Financement total (hors refusés)")
    formula(sl.financement_total, total, fm.s_amount)
    label(sl.ecart, "Écart (coût − financement)", fm.s_total_label)
    formula(sl.ecart, f"{sl.cout_total}-{sl.financement_total}", fm.s_total)

    def breakdown(cells: dict, head: str, criteria, names, autres: str, autres_label: str, tot: str,
                  key_label=str) -> None:
        first = min(parse_a1(c)[0] for c in cells.values())
        block(first - 1, (head, "Montant (€)", "Libellé"))
        for key, cell in cells.items():
            label(cell, key_label(key), note=names(key))
            formula(cell, criteria(key), fm.s_amount)
        label(autres, autres_label, note="")
        top, bottom = min(cells.values(), key=lambda c: parse_a1(c)[0]), max(cells.values(), key=lambda c: parse_a1(c)[0])
        formula(autres, f"{sl.financement_total}-SUM({top}:{bottom})", fm.s_amount)
        label(tot, "Total", fm.s_total_label)
        formula(tot, f"SUM({top}:{autres})", fm.s_total)

    fcode = col_ref(fin, "financeur")
    breakdown(sl.par_financeur, "Financeur",
              lambda code: f'SUMIFS({montant},{fcode},"{code}",{compte})',
              lambda code: layout.FINANCEURS_BY_CODE[code].nom,
              sl.financeur_autres, layout.SYNTHESE_FINANCEUR_AUTRES, sl.financeur_total)

    def axe_formula(n: int) -> str:
        # the axe is on the action: sum each action's lines, weighted by "its axe is n"
        per_action = (f'SUMIFS({montant},{col_ref(fin, "numero")},{col_ref(act, "numero")},{compte})')
        axe = col_ref(act, "axe")
        return f'SUMPRODUCT({per_action}*(({axe}="Axe {n}")+({axe}={n})))'

    breakdown(sl.par_axe, "Axe", axe_formula, lambda n: layout.AXES[n],
              sl.axe_autres, layout.SYNTHESE_AXE_AUTRES, sl.axe_total,
              key_label=lambda n: layout.AXE_CHOICES[n - 1])
    annee = col_ref(fin, "annee")
    breakdown(sl.par_annee, "Année", lambda y: f"SUMIFS({montant},{annee},{y},{compte})", lambda y: "",
              sl.annee_autres, "Autres années ou année non renseignée", sl.annee_total)
    breakdown(sl.par_statut, "Statut", lambda s: f'SUMIFS({montant},{statut},"{s}")', lambda s: "",
              sl.statut_autres, layout.SYNTHESE_STATUT_AUTRES, sl.statut_total)
    label(sl.refuse, f"{layout.STATUT_REFUSE} (non compté)", fm.s_apart_label,
          note="Montant des lignes refusées, exclu de tous les totaux")
    formula(sl.refuse, f'SUMIFS({montant},{statut},"{layout.STATUT_REFUSE}")', fm.s_apart)


def _key_columns(table: Table) -> tuple[int, int]:
    """The columns repeated at the left of each printed page: N° action and intitulé where the
    table has them, else its first column (0-based, as XlsxWriter counts)."""
    _, hc = parse_a1(table.anchor)
    keys = [j for j, c in enumerate(table.columns) if c.attr in ("numero", "intitule")] or [0]
    return hc - 1 + min(keys), hc - 1 + max(keys)


def _sheet_widths(ws_widths: dict[int, float], last_col: int) -> list[float]:
    return [ws_widths.get(j, DEFAULT_WIDTH) for j in range(last_col + 1)]


DEFAULT_WIDTH = 8.43  # Excel's default column width (characters)


def _convention_label(conv: Convention) -> str | None:
    libelle, acv_id = conv.libelle, conv.acv_id
    if libelle and acv_id:
        return f"Convention {libelle} ({acv_id})"
    return f"Convention {libelle or acv_id}" if (libelle or acv_id) else None


# --------------------------------------------------------------------------- entry point
def build_workbook(path: Path | str, conv: Convention | None = None, mention: str | None = None,
                   snapshot: list[str] | None = None) -> None:
    """Write the ACV workbook to `path` (the empty template, or `conv`'s data).

    `mention` is shown in red on Accueil (e.g. that a demonstration workbook is fictitious).
    """
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({
        "title": "Classeur Action Cœur de Ville",
        "subject": "Convention Action Cœur de Ville",
        "author": "acv-xl",
        "company": "Préfecture du Pas-de-Calais",
        "comments": f"Modèle {layout.TEMPLATE_VERSION}",
        "created": CREATED,
    })
    fm = _Formats(wb)
    sheets = {name: wb.add_worksheet(name) for name in layout.SHEETS}

    tables_by_sheet: dict[str, list[Table]] = {}
    for t in layout.TABLES:
        tables_by_sheet.setdefault(t.sheet, []).append(t)

    convention = None if conv is None else _convention_label(conv)
    for name, ws in sheets.items():
        title = SHEET_TITLES.get(name)
        if title:
            ws.write_string(0, 0, title[0], fm.title)
            ws.write_string(1, 0, title[1], fm.subtitle)
        widths: dict[int, float] = {}
        header_row = None
        keys = None
        # a table beside another (the dispositifs right of the financeurs): where the sheet prints
        # several pages wide, it starts a page, and no column is repeated — the financeurs' codes,
        # repeated at its left, read as the financeurs of the dispositifs on their rows (« CDC » « DETR »)
        beside = [parse_a1(t.anchor)[1] - 1 for t in tables_by_sheet.get(name, []) if parse_a1(t.anchor)[1] > 1]
        for t in tables_by_sheet.get(name, []):
            hr, hc = parse_a1(t.anchor)
            for j, c in enumerate(t.columns):
                widths[hc - 1 + j] = page_layout.fit_width(c.width, c.header)
                ws.set_column(hc - 1 + j, hc - 1 + j, widths[hc - 1 + j])
            # the header row tall enough for its wrapped headers (a default height cuts them)
            ws.set_row(hr - 1, page_layout.row_height(((c.header, widths[hc - 1 + j])
                                                       for j, c in enumerate(t.columns)), bold=True))
            _write_table(ws, fm, t, _table_rows(t, conv))
            if header_row is None or hr < header_row:
                header_row, keys = hr, _key_columns(t)
        if name == Sheet.PROJET:
            ws.set_column("A:A", 44)
            ws.set_column("B:B", 36)
            widths.update({0: 44, 1: 36})
            ws.write_string(parse_a1(layout.T_COMMUNES.anchor)[0] - 2, 0, "Communes de la convention", fm.h2)
            header_row = keys = None  # the identity block comes first: nothing to repeat
        elif name == Sheet.ACCUEIL:
            _write_accueil(ws, fm, mention)
            widths.update({parse_a1(f"{k}1")[1] - 1: w for k, w in ACCUEIL_WIDTHS.items()})
            ws.activate()
        elif name == Sheet.SYNTHESE:
            _write_synthese(ws, fm)
            widths.update({0: 46, 1: 20, 2: 90})
        elif header_row is not None:
            ws.freeze_panes(header_row, (keys[1] + 1) if keys and name == Sheet.ACTIONS else 0)
        p = page_layout.setup(ws, _sheet_widths(widths, max(widths, default=0)),
                              footer=page_layout.sheet_footer(name, convention),
                              header_rows=None if header_row is None else (header_row - 1, header_row - 1),
                              key_columns=None if beside else keys)
        if beside and not p.fit_width:
            ws.set_v_pagebreaks(beside)
    _write_named_cells(wb, sheets, fm, conv)
    if snapshot:  # the validated data of a migrated workbook, in its hidden sheet (`reading.snapshot`)
        hidden = wb.add_worksheet(layout.SNAPSHOT_SHEET)
        for i, text in enumerate(snapshot):
            hidden.write_string(i, 0, text)
        hidden.hide()
    wb.close()
    data = _rename_shapes(buf.getvalue(), {b.caption: b.shape for b in layout.BUTTONS})
    atomic_write_bytes(Path(path), data)


_SHAPE = re.compile(r"<xdr:sp\b.*?</xdr:sp>", re.S)


def _escape(text: str, apos: bool = False) -> str:
    """XML text as `xml.sax.saxutils.escape` writes it (&, <, >; with `apos`, ' too), without
    importing `xml.sax`, which imports urllib.request, http.client, ssl and email: ≈ 15 ms of every
    command that writes the template."""
    text = text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    return text.replace("'", "&apos;") if apos else text


def _rename_shapes(xlsx: bytes, by_caption: dict[str, str]) -> bytes:
    """Rename XlsxWriter's `TextBox N` shapes to the button names (found by their caption).

    Entries are copied with their ZipInfo (fixed 1980 timestamps), so the output stays deterministic.
    """
    renamed: set[str] = set()

    def fix(m: re.Match) -> str:
        sp = m.group(0)
        for caption, shape in by_caption.items():
            if f"<a:t>{_escape(caption)}</a:t>" in sp or f"<a:t>{_escape(caption, apos=True)}</a:t>" in sp:
                renamed.add(shape)
                return re.sub(r'name="TextBox \d+"', f'name="{shape}"', sp, count=1)
        return sp

    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if re.fullmatch(r"xl/drawings/drawing\d+\.xml", info.filename):
                data = _SHAPE.sub(fix, data.decode("utf-8")).encode("utf-8")
            dst.writestr(info, data)
    missing = set(by_caption.values()) - renamed
    if missing:  # a programming error (XlsxWriter changed its XML), not a user one
        raise RuntimeError(f"shapes not found for renaming: {sorted(missing)}")
    return out.getvalue()
