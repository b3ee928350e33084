"""The consolidated workbook of `acv-xl consolider`: its contract (sheets, tables, headers) and its
writer (XlsxWriter), plus the JSON summary. Pure output: every number comes from the
`ConsolidationResult` that `consolidate` computed.

- Text read from workbooks is always written as text (`write_string`, inline strings) and the
  workbook is created with `strings_to_formulas: False`: a commune named `=HYPERLINK(…)` stays text.
- The tables are real Excel tables, so XlsxWriter's `constant_memory` mode (incompatible with
  tables) is not used; 1 000 workbooks × 30 lines stay well within memory. The two big tables
  (`Lignes`, `Anomalies`) get their data rows as sheet XML after XlsxWriter has written the rest
  (`_inject_rows`): cell by cell through XlsxWriter they cost more than reading the files.
- Total rows are `SUBTOTAL` formulas over plain ranges with their value cached: every reader sees
  the totals without recalculating, and LibreOffice (which misreads some structured references in
  total rows) computes the same.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from . import layout
from .atomic import atomic_write
from .formats import FMT_EUROS, FMT_EUROS_ENTIERS, FMT_INTEGER
from .totals import ZERO
from .validate import ETAT_ILLISIBLE, ETAT_JAMAIS, ETAT_MODIFIE, ETAT_VALIDE

if TYPE_CHECKING:
    from .consolidate import ConsolidationResult


# ------------------------------------------------------------------ the consolidated workbook's contract
# (interfaces.md, « Consolidation of a département »): its sheet names, table names and headers.
# The commune workbook's headers reused here come from `layout`.


class Feuille:
    SYNTHESE = "Synthèse"
    PAR_FINANCEUR = "Par financeur"
    PAR_AXE = "Par axe"
    PAR_ANNEE = "Par année"
    LIGNES = "Lignes"
    ANOMALIES = "Anomalies"
    FICHIERS = "Fichiers"


FEUILLES = (Feuille.SYNTHESE, Feuille.PAR_FINANCEUR, Feuille.PAR_AXE, Feuille.PAR_ANNEE,
            Feuille.LIGNES, Feuille.ANOMALIES, Feuille.FICHIERS)

TABLES = {
    Feuille.SYNTHESE: "T_Synthese",
    Feuille.PAR_FINANCEUR: "T_ParFinanceur",
    Feuille.PAR_AXE: "T_ParAxe",
    Feuille.PAR_ANNEE: "T_ParAnnee",
    Feuille.LIGNES: "T_Lignes",
    Feuille.ANOMALIES: "T_Anomalies",
    Feuille.FICHIERS: "T_Fichiers",
}
TABLE_TOTAUX_FINANCEURS = "T_TotauxFinanceurs"


class H:
    """Column headers of the consolidated workbook."""

    ACV_ID = "acv_id"
    LIBELLE = "Libellé"
    COMMUNES = "Communes"
    EPCI = "EPCI"
    DEPARTEMENT = "Département"
    PROGRAMME = "Programme"
    FICHIER = "Fichier"
    NB_ACTIONS = "Actions"
    COUT = layout.T_ACTIONS.header("cout_total")
    FINANCEMENT = "Financement total (€)"
    ECART = "Écart (€)"
    ACQUIS = "Dont acquis, engagé ou versé (€)"
    PART_ACQUISE = "Part acquise"
    STATUT = "Statut"
    ERREURS = "Erreurs"
    AVERTISSEMENTS = "Avertissements"
    TOTAL = "Total (€)"
    NON_VENTILE = "Non ventilé (€)"
    FINANCEUR = "Financeur"
    NOM_FINANCEUR = layout.T_FINANCEURS.header("nom")
    PART = "Part"
    INTITULE = "Intitulé de l'action"
    AXE = "Axe"
    COMPTE = "Compté"
    MOTIF = "Motif"
    CELLULE_MONTANT = "Cellule du montant"
    GRAVITE = "Gravité"
    CODE = "Code"
    FEUILLE = "Feuille"
    CELLULE = "Cellule"
    ACTION = "N° action"
    MESSAGE = "Message"
    SUGGESTION = "Suggestion"
    CHEMIN = "Chemin"
    TAILLE = "Taille (octets)"
    SHA256 = "SHA-256"
    VERSION = "Version du modèle"
    DATE_VALIDATION = layout.NAMED_BY_NAME["acv_date_validation"].label
    MODIFIE_LE = "Modifié le"


STATUT_LIBELLE = {
    ETAT_VALIDE: "Validé",
    ETAT_MODIFIE: "Modifié depuis la validation",
    ETAT_JAMAIS: "Jamais validé",
    ETAT_ILLISIBLE: "Illisible",
}
OUI, NON = "Oui", "Non"
MARQUE = "acv-xl consolidation"  # value of the custom property `acv_xl` of the consolidated workbook
MOTIF_CONSOLIDATION = "classeur consolidé (ignoré)"
SANS_ID = "(sans identifiant)"



def _financeur_order(codes: Iterable[str]) -> list[str]:
    """The reference funders in their order, then the others alphabetically."""
    ref = [f.code for f in layout.FINANCEURS]
    codes = set(codes)
    return [c for c in ref if c in codes] + sorted(c for c in codes if c not in ref)


# ------------------------------------------------------------------ the workbook
EUROS = FMT_EUROS
ENTIER = FMT_INTEGER
DATE = "dd/mm/yyyy"
DATE_HEURE = "dd/mm/yyyy hh:mm"
POURCENT = "0.0 %"


def _unique_headers(headers: list[str]) -> list[str]:
    """Excel table headers must be unique (case-insensitive) and non-empty: « ETAT », « etat (2) »."""
    seen: set[str] = set()
    out = []
    for h in headers:
        h = " ".join(str(h or "").split())[:250] or "(vide)"
        cand, k = h, 2
        while cand.casefold() in seen:
            cand, k = f"{h} ({k})", k + 1
        seen.add(cand.casefold())
        out.append(cand)
    return out


@dataclass
class _Bulk:
    """Data rows of a big table, written as XML into the finished file (see `_inject_rows`)."""

    sheet_index: int  # XlsxWriter's 0-based worksheet index: the part is xl/worksheets/sheet{index+1}.xml
    first_row: int  # 0-based row of the first data row
    rows: list[list[Any]]
    row_styles: list[list[int]] | None  # per row, per column: xf index (None: `styles` for every row)
    styles: list[int]


_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]|_x[0-9A-Fa-f]{4}_")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|_x[0-9A-Fa-f]{4}_")


def _xml_text(text: str) -> str:
    """Cell text as XML: markup escaped, control characters as `_xHHHH_` (as XlsxWriter does), and
    a literal `_xHHHH_` protected by `_x005F` so that Excel does not decode it."""
    if len(text) > 32767:
        text = text[:32767]
    if not _SPECIAL.search(text):
        return text  # the usual case: one scan
    text = text.translate(_XML_ESCAPES)
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_" if len(m.group()) == 1 else "_x005F" + m.group(), text)


def _rows_xml(b: _Bulk) -> str:
    from xlsxwriter.utility import xl_col_to_name

    letters = [xl_col_to_name(j) for j in range(max((len(r) for r in b.rows), default=0))]
    texts: dict[str, str] = {}  # acv_id, libellé, file… repeat on every line of a convention
    out = []
    for i, row in enumerate(b.rows):
        r = b.first_row + 1 + i
        styles = b.row_styles[i] if b.row_styles else b.styles
        cells = []
        for j, v in enumerate(row):
            if v is None or v == "":
                continue
            s = f' s="{styles[j]}"' if styles[j] else ""
            if isinstance(v, bool):
                v = OUI if v else NON
            if isinstance(v, str):
                x = texts.get(v)
                if x is None:
                    x = texts[v] = _xml_text(v)
                cells.append(f'<c r="{letters[j]}{r}"{s} t="inlineStr"><is><t xml:space="preserve">{x}</t></is></c>')
            elif isinstance(v, (int, float, Decimal)):
                num = str(v) if isinstance(v, int) else repr(float(v))  # a year stays 2024, not 2024.0
                cells.append(f'<c r="{letters[j]}{r}"{s}><v>{num}</v></c>')
            else:  # not expected (bulk tables hold text and numbers): shown as text rather than lost
                cells.append(f'<c r="{letters[j]}{r}"{s} t="inlineStr"><is><t xml:space="preserve">'
                             f'{_xml_text(str(v))}</t></is></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    return "".join(out)


def _inject_rows(path: Path, bulks: list[_Bulk]) -> None:
    """Put the bulk rows into the sheets XlsxWriter wrote (their header and total rows are there).

    Five times faster than cell-by-cell XlsxWriter for the `Lignes` sheet (the largest: one row per
    financing line of the département), with the same cells: text as inline strings (never a
    formula), numbers, the same styles."""
    if not bulks:
        return
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    by_part = {f"xl/worksheets/sheet{b.sheet_index + 1}.xml": b for b in bulks}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            b = by_part.get(info.filename)
            if b is not None and b.rows:
                xml = data.decode("utf-8")
                after = f'<row r="{b.first_row + 1 + len(b.rows)}"'  # the total row, or the sheet's end
                at = xml.find(after)
                if at < 0:
                    at = xml.index("</sheetData>")
                data = (xml[:at] + _rows_xml(b) + xml[at:]).encode("utf-8")
                z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
            else:
                z.writestr(info, data)


class _Writer:
    def __init__(self, wb, result: ConsolidationResult):
        self.wb = wb
        self.r = result
        self.bulk: list[_Bulk] = []
        f = wb.add_format
        self.fmt = {
            "titre": f({"bold": True, "font_size": 14}),
            "sous_titre": f({"italic": True, "font_color": "#595959"}),
            "texte": f({"valign": "top"}),
            "euros": f({"num_format": EUROS}),
            "entier": f({"num_format": ENTIER}),
            "date": f({"num_format": DATE}),
            "date_heure": f({"num_format": DATE_HEURE}),
            "pourcent": f({"num_format": POURCENT}),
            "euros_gras": f({"num_format": EUROS, "bold": True}),
            "erreur": f({"font_color": "#9C0006", "bg_color": "#FFC7CE"}),
            "avertissement": f({"font_color": "#9C5700", "bg_color": "#FFEB9C"}),
            "non": f({"font_color": "#7F7F7F", "italic": True}),
            # explicit, so that the header row stands out also where table styles are not drawn (print, LibreOffice)
            "entete": f({"bold": True, "text_wrap": True, "valign": "top", "font_color": "#FFFFFF",
                         "bg_color": "#1F4E79", "border": 1}),
        }

    # -- cells: the only place values are written; text always as text
    def put(self, ws, row: int, col: int, value: Any, cf=None) -> None:
        """One cell of the smaller tables (the big ones go through `_inject_rows`). XlsxWriter's
        undecorated `_write_*` (what its public methods call after parsing "A1" arguments) cost half."""
        if value is None or value == "":
            return  # an empty cell: nothing to store (the table gives it its look)
        if isinstance(value, str):
            getattr(ws, "_write_string", ws.write_string)(row, col, value, cf)
        elif isinstance(value, bool):
            getattr(ws, "_write_string", ws.write_string)(row, col, OUI if value else NON, cf)
        elif isinstance(value, (int, float, Decimal)):
            getattr(ws, "_write_number", ws.write_number)(row, col, float(value), cf)
        elif isinstance(value, (date, datetime)):
            dt = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
            ws.write_datetime(row, col, dt, cf or self.fmt["date"])
        else:
            getattr(ws, "_write_string", ws.write_string)(row, col, str(value), cf)

    def sheet(self, name: str, titre: str, landscape: bool = True):
        ws = self.wb.add_worksheet(name)
        ws.write_string(0, 0, titre, self.fmt["titre"])
        d = f"département {self.r.departement}" if self.r.departement else "tous départements"
        ws.write_string(1, 0, f"Consolidation Action Cœur de Ville — {d} — générée le "
                              f"{self.r.genere_le.strftime('%d/%m/%Y à %H:%M')}", self.fmt["sous_titre"])
        if landscape:
            ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(2)
        ws.set_header(f"&L&\"-,Bold\"{name}&RAction Cœur de Ville")
        ws.set_footer("&LConsolidation acv-xl&CPage &P sur &N&R&D")
        return ws

    def table(self, ws, name: str, columns: list[tuple[str, float, str | None]], rows: list[list[Any]],
              totals: dict[int, Any] | None = None, first_row: int = 2, freeze_cols: int = 0,
              row_formats: list[str | None] | None = None, bulk: bool = False) -> tuple[int, int]:
        """A real Excel table at `first_row` (0-based): headers, data, an optional total row whose
        values are computed here (formulas written by XlsxWriter have no cached value).

        `totals`: column index → amount (a SUBTOTAL over the column) or (formula, value)."""
        from xlsxwriter.utility import xl_col_to_name

        headers = _unique_headers([c[0] for c in columns])
        data = rows or [[None] * len(columns)]  # Excel tables need one data row
        col_fmt = [self.fmt[c[2]] if c[2] else None for c in columns]
        if bulk:
            # Tens of thousands of rows: written as sheet XML after XlsxWriter is done (`_inject_rows`).
            xf = lambda fm: fm._get_xf_index() if fm is not None else 0  # noqa: E731
            styles = [xf(cf) for cf in col_fmt]
            per_row = {}
            if row_formats:
                for fmt_name in set(filter(None, row_formats)):  # not `name`: that is the table's
                    rf = self.fmt[fmt_name]
                    per_row[fmt_name] = [xf(cf or rf) for cf in col_fmt]
            self.bulk.append(_Bulk(ws.index, first_row + 1, rows,
                                   [per_row[f] if f else styles for f in row_formats] if row_formats else None,
                                   styles))
        put = self.put
        for i, row in enumerate([] if bulk else data):
            fmts = col_fmt
            if row_formats and row_formats[i]:
                rf = self.fmt[row_formats[i]]
                fmts = [cf or rf for cf in col_fmt]
            r = first_row + 1 + i
            for j, v in enumerate(row):
                put(ws, r, j, v, fmts[j])
        last = first_row + len(data) + (1 if totals is not None else 0)
        cols = []
        ws.set_row(first_row, 30)
        for j, (h, (_, width, fmt)) in enumerate(zip(headers, columns)):
            c: dict[str, Any] = {"header": h, "header_format": self.fmt["entete"]}
            if fmt:
                c["format"] = self.fmt[fmt]
            if totals is not None:
                if j == 0:
                    c["total_string"] = "Total"
                elif j in totals:
                    # A plain range, not a structured reference: LibreOffice misreads some
                    # `[Header (€)]` references in total rows (#N/A); every spreadsheet reads this.
                    v = totals[j]
                    col = xl_col_to_name(j)
                    formula, value = v if isinstance(v, tuple) else (
                        f"=SUBTOTAL(109,{col}{first_row + 2}:{col}{first_row + 1 + len(data)})", v)
                    c["total_function"] = formula
                    c["total_value"] = value if isinstance(value, str) else float(value)
            cols.append(c)
            ws.set_column(j, j, width)
        ws.add_table(first_row, 0, last, len(columns) - 1, {
            "name": name, "columns": cols, "total_row": totals is not None,
            "style": "Table Style Medium 2",
        })
        if first_row == 2:
            ws.freeze_panes(first_row + 1, freeze_cols)
        return first_row, last

    # -- sheets
    def synthese(self) -> None:
        r = self.r
        ws = self.sheet(Feuille.SYNTHESE, "Synthèse par convention")
        cols = [
            (H.ACV_ID, 10, None), (H.LIBELLE, 28, None), (H.COMMUNES, 30, None), (H.EPCI, 30, None),
            (H.DEPARTEMENT, 12, None), (H.PROGRAMME, 10, None), (H.FICHIER, 30, None), (H.NB_ACTIONS, 9, "entier"),
            (H.COUT, 18, "euros"), (H.FINANCEMENT, 18, "euros"), (H.ECART, 16, "euros"), (H.ACQUIS, 20, "euros"),
            (H.PART_ACQUISE, 10, "pourcent"), (H.STATUT, 26, None), (H.ERREURS, 9, "entier"),
            (H.AVERTISSEMENTS, 13, "entier"),
        ]
        rows = []
        for f in r.counted:
            t = f.totaux
            rows.append([
                f.acv_id or SANS_ID, f.libelle, " ; ".join(f.communes), f.epci, f.departement, f.programme, f.rel,
                f.nb_actions, t.cout_total, t.financement_total, t.ecart, f.acquis,
                (f.acquis / t.financement_total) if t.financement_total else None,
                STATUT_LIBELLE.get(f.etat, f.etat), *r.counts(f),
            ])
        g = r.totaux
        last_row = 3 + max(len(rows), 1) + 1  # the total row, 1-based
        totals = {7: sum(f.nb_actions for f in r.counted), 8: g.cout_total, 9: g.financement_total, 10: g.ecart,
                  11: r.acquis, 14: sum(r.counts(f)[0] for f in r.counted),
                  15: sum(r.counts(f)[1] for f in r.counted),
                  12: (f'=IFERROR(L{last_row}/J{last_row},"")',
                       float(r.acquis / g.financement_total) if g.financement_total else "")}
        _, last = self.table(ws, TABLES[Feuille.SYNTHESE], cols, rows, totals, freeze_cols=2)
        ws.conditional_format(3, 14, last - 1, 14, {"type": "cell", "criteria": ">", "value": 0,
                                                     "format": self.fmt["erreur"]})
        ws.conditional_format(3, 13, last - 1, 13, {"type": "formula", "criteria": f'=$N4<>"{STATUT_LIBELLE[ETAT_VALIDE]}"',
                                                     "format": self.fmt["avertissement"]})

    def _matrix(self, feuille: str, titre: str, keys: list[str], labels: list[str], get, total_of,
                extra_total: bool):
        """Conventions × keys, with a total column (the convention's financement total) and a total row."""
        r = self.r
        ws = self.sheet(feuille, titre)
        cols = [(H.ACV_ID, 10, None), (H.LIBELLE, 28, None)] + [(lab, 15, "euros") for lab in labels]
        if extra_total:
            cols.append((H.NON_VENTILE, 15, "euros"))
        cols.append((H.TOTAL, 18, "euros"))
        rows = []
        for f in r.counted:
            vals = [get(f).get(k) for k in keys]
            row = [f.acv_id or SANS_ID, f.libelle] + vals
            if extra_total:
                reste = f.totaux.financement_total - sum((get(f).get(k, ZERO) for k in keys), ZERO)
                row.append(reste if reste else None)
            row.append(f.totaux.financement_total)
            rows.append(row)
        g = r.totaux
        totals = {2 + j: total_of(g).get(k, ZERO) for j, k in enumerate(keys)}
        if extra_total:
            totals[2 + len(keys)] = g.financement_total - sum(totals.values(), ZERO)
        totals[len(cols) - 1] = g.financement_total
        first, last = self.table(ws, TABLES[feuille], cols, rows, totals, freeze_cols=2)
        return ws, first, last

    def par_financeur(self) -> None:
        r = self.r
        g = r.totaux
        codes = _financeur_order(g.par_financeur)
        ws, first, last = self._matrix(Feuille.PAR_FINANCEUR, "Financement par financeur et par convention", codes,
                                       codes, lambda f: f.totaux.par_financeur, lambda t: t.par_financeur, True)
        # The funders' totals as a small table (the chart's data: plain values, cached for any reader).
        top = last + 3
        ws.write_string(top - 1, 0, "Totaux par financeur", self.fmt["titre"])
        rows = []
        for c in codes:
            ref = layout.FINANCEURS_BY_CODE.get(c)
            v = g.par_financeur.get(c, ZERO)
            rows.append([c, ref.nom if ref else None, v, (v / g.financement_total) if g.financement_total else None])
        cols = [(H.FINANCEUR, 10, None), (H.NOM_FINANCEUR, 28, None), (H.TOTAL, 18, "euros"), (H.PART, 10, "pourcent")]
        # widths of the matrix columns win: do not let this table shrink them
        start, end = self.table(ws, TABLE_TOTAUX_FINANCEURS, [(h, max(w, 15) if j >= 2 else w, f)
                                                               for j, (h, w, f) in enumerate(cols)],
                                rows, {2: g.financement_total}, first_row=top)
        if rows:
            chart = self.wb.add_chart({"type": "bar"})
            n = len(rows)
            chart.add_series({
                "name": "Financement total",
                "categories": [Feuille.PAR_FINANCEUR, start + 1, 0, start + n, 0],
                "values": [Feuille.PAR_FINANCEUR, start + 1, 2, start + n, 2],
                "data_labels": {"value": True, "num_format": FMT_EUROS_ENTIERS},
                "fill": {"color": "#1F4E79"},
            })
            chart.set_title({"name": "Financement par financeur (hors refusés)"})
            chart.set_legend({"none": True})
            chart.set_x_axis({"num_format": FMT_EUROS_ENTIERS, "major_gridlines": {"visible": True}})
            chart.set_y_axis({"reverse": True})
            chart.set_size({"width": 720, "height": max(300, 28 * n + 80)})
            ws.insert_chart(top, 5, chart)

    def par_axe(self) -> None:
        keys = [str(n) for n in layout.AXES]
        self._matrix(Feuille.PAR_AXE, "Financement par axe et par convention", keys, [f"Axe {k}" for k in keys],
                     lambda f: f.totaux.par_axe, lambda t: t.par_axe, True)

    def par_annee(self) -> None:
        g = self.r.totaux
        keys = sorted(g.par_annee)
        self._matrix(Feuille.PAR_ANNEE, "Financement par année et par convention", keys, keys,
                     lambda f: f.totaux.par_annee, lambda t: t.par_annee, True)

    def lignes(self) -> None:
        ws = self.sheet(Feuille.LIGNES, "Lignes de financement de toutes les conventions comptées")
        tf = layout.T_FINANCEMENTS
        cols = [
            (H.ACV_ID, 10, None), (H.LIBELLE, 24, None), (H.COMMUNES, 26, None), (H.FICHIER, 28, None),
            (tf.header("numero"), 10, None), (H.INTITULE, 36, None), (H.AXE, 6, None),
            (tf.header("financeur"), 12, None), (tf.header("dispositif"), 22, None), (tf.header("nature"), 16, None),
            (tf.header("annee"), 8, None), (tf.header("montant"), 16, "euros"), (tf.header("statut"), 13, None),
            (H.COMPTE, 8, None), (H.MOTIF, 18, None), (H.FEUILLE, 18, None), (H.CELLULE_MONTANT, 10, None),
        ]
        rows, fmts = [], []
        total = ZERO
        for f in self.r.counted:
            communes = " ; ".join(f.communes)
            for (numero, intitule, axe, financeur, dispositif, nature, annee, montant, statut, compte, motif,
                 feuille, cellule) in f.lines:
                rows.append([f.acv_id or SANS_ID, f.libelle, communes, f.rel, numero, intitule, axe, financeur,
                             dispositif, nature, annee, montant, statut, compte, motif, feuille, cellule])
                fmts.append(None if compte else "non")
                if compte:
                    total += montant
        # Only counted lines add up: the total row is the counted sum (equal to the grand total).
        self.table(ws, TABLES[Feuille.LIGNES], cols, rows, {11: total}, freeze_cols=0, row_formats=fmts, bulk=True)

    def anomalies(self) -> None:
        ws = self.sheet(Feuille.ANOMALIES, "Anomalies de tous les fichiers (contrôles du classeur et CON)")
        cols = [
            (H.FICHIER, 28, None), (H.ACV_ID, 10, None), (H.GRAVITE, 14, None), (H.CODE, 9, None),
            (H.FEUILLE, 18, None), (H.CELLULE, 9, None), (H.ACTION, 9, None), (H.MESSAGE, 80, None),
            (H.SUGGESTION, 50, None),
        ]
        rows = [[a.rel, a.acv_id, a.finding.gravite.libelle, a.finding.code, a.finding.feuille, a.finding.cellule,
                 a.finding.action, a.finding.message, a.finding.suggestion] for a in self.r.anomalies]
        _, last = self.table(ws, TABLES[Feuille.ANOMALIES], cols, rows, freeze_cols=0, bulk=True)
        for lib, fmt in (("Erreur", "erreur"), ("Avertissement", "avertissement")):
            ws.conditional_format(3, 2, last, 2, {"type": "cell", "criteria": "==", "value": f'"{lib}"',
                                                  "format": self.fmt[fmt]})

    def fichiers(self) -> None:
        ws = self.sheet(Feuille.FICHIERS, "Fichiers lus")
        cols = [
            (H.CHEMIN, 40, None), (H.TAILLE, 13, "entier"), (H.SHA256, 66, None), (H.VERSION, 10, None),
            (H.DATE_VALIDATION, 12, "date"), (H.STATUT, 26, None), (H.ACV_ID, 10, None), (H.DEPARTEMENT, 12, None),
            (H.COMPTE, 8, None), (H.MOTIF, 18, None), (H.ERREURS, 9, "entier"), (H.AVERTISSEMENTS, 13, "entier"),
            (H.MODIFIE_LE, 16, "date_heure"),
        ]
        rows = []
        for f, v in zip(self.r.files, self.r.verdicts):
            mtime = datetime.fromtimestamp(f.mtime).replace(microsecond=0) if f.mtime else None
            rows.append([f.rel, f.size, f.sha256, f.version_modele, f.date_validation,
                         "Ignoré" if f.ignore else STATUT_LIBELLE.get(f.etat, f.etat), f.acv_id, f.departement,
                         v.compte, v.motif,
                         *self.r.counts(f), mtime])
        self.table(ws, TABLES[Feuille.FICHIERS], cols, rows, freeze_cols=1)

    def write(self) -> None:
        self.synthese()
        self.par_financeur()
        self.par_axe()
        self.par_annee()
        self.lignes()
        self.anomalies()
        self.fichiers()
        self.wb.set_properties({
            "title": "Consolidation Action Cœur de Ville",
            "subject": f"Département {self.r.departement}" if self.r.departement else "Consolidation",
            "author": "acv-xl", "comments": self.r.summary_line(),
        })
        self.wb.set_custom_property("acv_xl", MARQUE)


_atomic = atomic_write  # the consolidation's outputs are written like every other output


def write_workbook(result: ConsolidationResult, out: Path) -> None:
    import xlsxwriter

    def _write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), {
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            "default_date_format": DATE, "in_memory": True,
        })
        writer = _Writer(wb, result)
        try:
            writer.write()
        finally:
            wb.close()
        _inject_rows(tmp, writer.bulk)

    _atomic(out, _write)


def _f(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def to_json(result: ConsolidationResult) -> dict:
    """Per-convention totals and statuses, for other tools."""
    g = result.totaux
    conventions = []
    for f, v in zip(result.files, result.verdicts):
        e, a = result.counts(f)
        conventions.append({
            "fichier": f.rel,
            "sha256": f.sha256,
            "acv_id": f.acv_id,
            "libelle": f.libelle,
            "communes": list(f.communes),
            "epci": f.epci,
            "departement": f.departement,
            "version_modele": f.version_modele,
            "etat": "ignoré" if f.ignore else f.etat,
            "date_validation": f.date_validation.isoformat() if f.date_validation else None,
            "empreinte": f.empreinte,
            "compte": v.compte,
            "motif": v.motif,
            "valide": f.lisible and f.nb_erreurs == 0,
            "resume": {"erreurs": e, "avertissements": a},
            "constats_consolidation": [x.as_json() for x in v.findings],
            "acquis": _f(f.acquis) if f.lisible else None,
            "totaux": f.totaux.as_json() if f.totaux is not None else None,
        })
    return {
        "departement": result.departement,
        "genere_le": result.genere_le.isoformat(timespec="seconds"),
        "fichiers": len(result.files),
        "conventions_comptees": len(result.counted),
        "totaux": {
            "cout_total": _f(g.cout_total),
            "financement_total": _f(g.financement_total),
            "ecart": _f(g.ecart),
            "acquis": _f(result.acquis),
            "par_financeur": {k: _f(v) for k, v in g.par_financeur.items()},
            "par_axe": {k: _f(v) for k, v in sorted(g.par_axe.items())},
            "par_annee": {k: _f(v) for k, v in sorted(g.par_annee.items())},
            "par_statut": {k: _f(v) for k, v in g.par_statut.items()},
        },
        "conventions": conventions,
    }


