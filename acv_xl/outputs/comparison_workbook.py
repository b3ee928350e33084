"""The workbook of `acv-xl comparer … -o ECARTS.xlsx`: the changes, one row each coloured by type
with both cells, and the totals avant / après / écart with a chart of the écarts per financeur.

Every value comes from `acv_xl.checks.comparison`; this module only lays them out (XlsxWriter,
French number formats of `formats`), written atomically.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter

from acv_xl.checks.comparison import AJOUT, MODIFICATION, SUPPRESSION, Comparison
from acv_xl.contract.layout import Kind
from acv_xl.outputs import page_layout
from acv_xl.outputs.atomic import atomic_write
from acv_xl.outputs.output_guard import COMPARAISON, mark_xlsxwriter
from acv_xl.reading.errors import shown_file
from acv_xl.outputs.comparison_report import (
    GROUP_LABELS,
    GROUP_TITLES,
    NON_VENTILE_LABELS,
    TYPE_LABELS,
    WORKBOOK_MARK,
    champ_text,
    fmt_value,
    group_label,
    key_text,
    kind_of,
    reading_order,
)
from acv_xl.outputs.formats import (
    FMT_DATE,
    FMT_EUROS,
    FMT_EUROS_ECART,
    FMT_EUROS_ENTIERS,
    FMT_NUMBER,
    merge_text,
    write_value,
)


class Feuille:
    CHANGEMENTS = "Changements"
    TOTAUX = "Totaux"


# ajout green, suppression red, modification amber: the colours of a tracked-changes document
COLOURS = {AJOUT: "#E2EFDA", SUPPRESSION: "#FCE4E4", MODIFICATION: "#FFF2CC"}
AUTHOR = "acv-xl"

# a number (surface, indicator) with its own decimals, up to 6: two values that differ never read alike
FMT_NUMBER_FIN = FMT_NUMBER + "####"

CHANGE_HEADERS = ("Type", "Feuille", "N° action", "Ligne (clé)", "Champ", "Avant", "Après",
                  "Cellule avant", "Cellule après")
# one page wide with its 10 pt type printed at 8 pt or more (`page_layout.plan`): 176 characters at most
CHANGE_WIDTHS = (14, 20, 10, 34, 24, 26, 26, 11, 11)
FONT_PT = 10  # Arial (`base`), its rows measured in it (`page_layout.row_height`)


def _cell_value(value: Any, kind: Kind, row_text) -> tuple[Any, str]:
    """(value to write, format kind): a whole row added/removed is summarised as text."""
    if isinstance(value, dict):
        return row_text(value), "text"
    if isinstance(value, (Decimal, float, int)) and not isinstance(value, bool):
        return value, "euros" if kind is Kind.AMOUNT else "number" if kind is Kind.NUMBER else "integer"
    if isinstance(value, date):
        return value, "date"
    return value, "text"


# the most lines of 10 pt text a row holds (`page_layout.row_height`: 409 pt at most)
MAX_LINES = page_layout.max_lines(FONT_PT)


def _rows_of(cells: list[tuple[Any, str]], champ: str | None) -> list[list[Any]]:
    """The values of one change's rows: one, or where a text is taller than a row (in the 26-wide
    Avant or Après, a description of some 650 characters, printed cut after its 29th line) its
    pieces on the rows below, each saying
    whose it is (type, sheet, action, key when it fits one row, cells) and « Champ (suite) »."""
    rows = page_layout.split_rows([v if k == "text" else None for v, k in cells],
                                  lambda t, j: page_layout.arial_lines(t, CHANGE_WIDTHS[j], FONT_PT), MAX_LINES)
    for j, (v, k) in enumerate(cells):
        if k != "text":  # an amount, a date: on the first row
            rows[0][j] = v
    key_whole = all(r[3] is None for r in rows[1:])
    for r in rows[1:]:
        for j in (0, 1, 2, 7, 8) + ((3,) if key_whole else ()):
            r[j] = cells[j][0]
        r[4] = f"{champ} (suite)" if champ else "(suite)"
    return rows


def _room_for_labels(values: list) -> dict:
    """The value axis' bounds with room beyond the longest bars for their labels: a negative bar's
    label, outside its end, was printed over the financeurs' names (« Commune » under « -1 313 568 € »)."""
    lo, hi = min([0, *values]), max([0, *values])
    span = float(hi - lo)
    # the bounds reach 2.5 spans at most: past a float's range (écarts near Excel's largest number),
    # the spreadsheet picks its own, never « erreur interne inattendue (OverflowError) »
    if not span or not math.isfinite(3 * span):
        return {}
    step = 10 ** math.floor(math.log10(span))  # bounds on a round figure, as a spreadsheet would pick
    out = {}
    if lo < 0:
        out["min"] = math.floor((float(lo) - 0.5 * span) / step) * step
    if hi > 0:
        out["max"] = math.ceil((float(hi) + 0.5 * span) / step) * step
    return out


def _print_setup(ws, header_row: int | None, widths, acv_id: str | None, generated: date) -> None:
    """The product's print layout (`page_layout`): A4 landscape, ≥ 8 pt, the header row on every
    page (None: each table has its own), the sheet and convention in the footer, and its date (a
    printed comparison told neither when it was made, as every other output does)."""
    page_layout.setup(ws, widths, footer=page_layout.sheet_footer(ws.name, f"convention {acv_id}" if acv_id else None),
                      header_rows=(header_row, header_row) if header_row is not None else None, key_columns=(0, 0),
                      font_pt=FONT_PT, footer_right=page_layout.generated_on(generated))


def build(comp: Comparison, out: Path, avant: dict, apres: dict, names: dict[str, str] | None = None,
          warnings: list[str] = ()) -> Path:
    """Write the comparison workbook to `out` (atomically); returns `out`. `names`: the financeurs'
    names by code (`comparison_report.financeur_names`); `warnings`: what was not compared (values
    typed outside the tables), above the changes."""

    today = date.today()

    def write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_numbers": False,
                                            "strings_to_urls": False})
        wb.set_properties({"title": f"Comparaison de la convention {apres.get('acv_id') or ''}".strip(),
                           "author": AUTHOR, "comments": f"Écarts entre deux classeurs, écrit par {WORKBOOK_MARK}"})
        mark_xlsxwriter(wb, COMPARAISON)  # a derived report: re-running comparer may replace it
        base = {"font_name": "Arial", "font_size": FONT_PT, "valign": "top"}
        fmt: dict[tuple, Any] = {}

        def f(kind: str = "text", fill: str | None = None, bold: bool = False):
            key = (kind, fill, bold)
            if key not in fmt:
                props = {**base, "border": 1, "text_wrap": kind == "text"}
                props["num_format"] = {"euros": FMT_EUROS, "ecart": FMT_EUROS_ECART, "date": FMT_DATE, "number": FMT_NUMBER_FIN,
                                       "integer": "0"}.get(kind, "@")
                if fill:
                    props["bg_color"] = fill
                if bold:
                    props["bold"] = True
                fmt[key] = wb.add_format(props)
            return fmt[key]

        title = wb.add_format({**base, "bold": True, "font_size": 14, "font_color": "#1F3864"})
        note = wb.add_format({**base, "italic": True, "font_color": "#595959"})
        header = wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True})

        # -- the changes
        ws = wb.add_worksheet(Feuille.CHANGEMENTS)
        for j, w in enumerate(CHANGE_WIDTHS):
            ws.set_column(j, j, w)
        merge_text(ws, 0, 0, 0, len(CHANGE_HEADERS) - 1,
                   f"Changements de la convention {apres.get('acv_id') or ''}".strip(), title)
        ws.set_row(0, 21)  # its 14 pt type, clear of the line below
        merge_text(ws, 1, 0, 1, len(CHANGE_HEADERS) - 1,
                   # the names as every output shows them: « calais.xlsx (espace finale) », a bidi control by its code
                   f"Avant : {shown_file(avant.get('fichier') or '')} — après : {shown_file(apres.get('fichier') or '')}",
                   note)
        hr = 3
        if warnings:  # in the blank row above the headers, in red: what the changes do not include
            text = "\n".join(warnings)
            merge_text(ws, 2, 0, 2, len(CHANGE_HEADERS) - 1, text,
                       wb.add_format({**base, "bold": True, "font_color": "#C00000", "text_wrap": True}))
            ws.set_row(2, page_layout.row_height([(text, sum(CHANGE_WIDTHS))], bold=True, arial_pt=FONT_PT))
        for j, h in enumerate(CHANGE_HEADERS):
            ws.write_string(hr, j, h, header)
        ws.set_row(hr, page_layout.row_height(zip(CHANGE_HEADERS, CHANGE_WIDTHS), bold=True, arial_pt=FONT_PT))
        row = hr + 1
        # by sheet and action, as the text report: an action split in two reads 2.2's lines then 2.3's
        for c in reading_order(comp.changes):
            fill = COLOURS[c.type]
            kind = kind_of(c)

            def row_text(values: dict, c=c) -> str:  # a whole row, its values in French
                return " ; ".join(f"{h} : {fmt_value(v, kind_of(c, h))}" for h, v in values.items()
                                  if h not in c.cle)  # the key has its own column

            cells = [(TYPE_LABELS[c.type], "text"), (c.feuille, "text"), (c.action, "text"),
                     (key_text(c) or (c.cle.get("nom") if c.table is None else ""), "text"), (champ_text(c), "text")]
            cells += [_cell_value(c.avant, kind, row_text), _cell_value(c.apres, kind, row_text)]
            cells += [(c.cellule_avant, "text"), (c.cellule_apres, "text")]
            kinds = [k for _v, k in cells]
            for values in _rows_of(cells, c.champ):
                for j, (v, k) in enumerate(zip(values, kinds)):
                    write_value(ws, row, j, v, f(k, fill))
                # wrapped text gets the height it needs (LibreOffice keeps the stored height)
                height = page_layout.row_height(((v, CHANGE_WIDTHS[j]) for j, (v, k) in enumerate(zip(values, kinds))
                                                 if k == "text" and isinstance(v, str) and v), arial_pt=FONT_PT)
                if height > page_layout.LINE_PT + 2:
                    ws.set_row(row, height)
                row += 1
        if not comp.changes:
            nothing = ("Aucun changement dans les tableaux ni les cellules nommées." if warnings
                       else "Aucun changement entre les deux classeurs.")
            merge_text(ws, row, 0, row, len(CHANGE_HEADERS) - 1, nothing, note)
        else:
            ws.autofilter(hr, 0, row - 1, len(CHANGE_HEADERS) - 1)
        ws.freeze_panes(hr + 1, 0)
        _print_setup(ws, hr, CHANGE_WIDTHS, apres.get("acv_id"), today)
        legend = row + 1
        for k, (t, colour) in enumerate(COLOURS.items()):
            ws.write_string(legend + k, 0, TYPE_LABELS[t], f("text", colour))

        # -- the totals
        wt = wb.add_worksheet(Feuille.TOTAUX)
        wt.set_column(0, 0, 52)  # « Financeur CDC — Banque des Territoires (Caisse des Dépôts) » on one line
        wt.set_column(1, 3, 18)
        merge_text(wt, 0, 0, 0, 3, "Totaux avant / après (hors financements refusés)", title)
        wt.set_row(0, 21)
        row = 2
        for j, h in enumerate(("", "Avant", "Après", "Écart")):
            wt.write_string(row, j, h, header)
        row += 1
        for label, e in (("Coût total des actions", comp.cout_total),
                         ("Total des financements", comp.financement_total)):
            wt.write_string(row, 0, label, f("text", bold=True))
            for j, v in enumerate((e.avant, e.apres, e.ecart), start=1):
                write_value(wt, row, j, v, f("ecart" if j == 3 else "euros", bold=True))
            row += 1
        fin_rows = None
        for g in GROUP_LABELS:
            row += 1
            wt.write_string(row, 0, GROUP_TITLES[g], header)
            for j, h in enumerate(("Avant", "Après", "Écart"), start=1):
                wt.write_string(row, j, h, header)
            row += 1
            first = row
            for k, e in comp.groups.get(g, {}).items():
                fill = "#FFF2CC" if e.ecart else None
                wt.write_string(row, 0, group_label(g, k, names), f("text", fill))
                for j, v in enumerate((e.avant, e.apres, e.ecart), start=1):
                    write_value(wt, row, j, v, f("ecart" if j == 3 else "euros", fill))
                row += 1
            if g == "par_financeur" and row > first:
                fin_rows = (first, row - 1)
            e = comp.non_ventile.get(g)
            if e is not None and (e.avant or e.apres):  # what the breakdown could not place: it adds up
                fill = "#FFF2CC" if e.ecart else None
                wt.write_string(row, 0, NON_VENTILE_LABELS[g], f("text", fill))
                for j, v in enumerate((e.avant, e.apres, e.ecart), start=1):
                    write_value(wt, row, j, v, f("ecart" if j == 3 else "euros", fill))
                row += 1
        # no row repeated: each breakdown has its own header, and a repeated one printed over the chart
        _print_setup(wt, None, (52, 18, 18, 18), apres.get("acv_id"), today)
        # a chart of bars of 0 € (only texts or dates changed) printed a page of an empty axis « 0 € 1 € 1 € »
        ecarts = [e.ecart for e in comp.groups.get("par_financeur", {}).values()]
        if fin_rows and any(ecarts):
            # whole euros read well for écarts of thousands; below 10 € they round the écart away: a
            # line raised by 0,40 € was a bar labelled « 0 € » over an axis « 0 € 0 € 1 € 1 € ». The
            # labels say the cents when one bar is under 10 € (beside a bar of 1 000 €, its « 0 € » read
            # as no change), the axis when all are
            sizes = [abs(e) for e in ecarts if e]
            labels, axis = (FMT_EUROS if size < 10 else FMT_EUROS_ENTIERS for size in (min(sizes), max(sizes)))
            chart = wb.add_chart({"type": "bar"})
            chart.add_series({
                "name": "Écart (après − avant)",
                "categories": [Feuille.TOTAUX, fin_rows[0], 0, fin_rows[1], 0],
                "values": [Feuille.TOTAUX, fin_rows[0], 3, fin_rows[1], 3],
                "data_labels": {"value": True, "num_format": labels},
                "fill": {"color": "#1F4E79"},
                "invert_if_negative": False,
            })
            chart.set_title({"name": "Écart des financements par financeur"})
            chart.set_legend({"none": True})
            chart.set_x_axis({"num_format": axis, "major_gridlines": {"visible": True}, **_room_for_labels(ecarts)})
            chart.set_y_axis({"reverse": True, "label_position": "low"})  # names left of negative bars
            n = fin_rows[1] - fin_rows[0] + 1
            # under the tables, as wide as they are: beside them, it made the sheet print a quarter
            # smaller and left its bars a narrow strip beside the financeurs' long names
            chart.set_size({"width": 760, "height": max(300, 28 * n + 80)})
            wt.insert_chart(row + 2, 0, chart)
            wt.set_h_pagebreaks([row + 1])  # on a page of its own: across a page break it printed cut in two
        wb.close()

    return atomic_write(Path(out), write)
