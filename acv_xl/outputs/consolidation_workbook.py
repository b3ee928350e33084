"""The consolidated workbook of `acv-xl consolider`: its contract (sheets, tables, headers) and its
writer (XlsxWriter), plus the JSON summary. Pure output: every number comes from the
`ConsolidationResult` that the batch (`consolidation`) computed.

- Text read from workbooks is always written as text (shared strings, `t="s"`; inline strings in
  `Lignes` and `Anomalies`, see below), never through a formula parser; the workbook is also
  created with `strings_to_formulas: False`: a commune named `=HYPERLINK(…)` stays text.
- `Lignes` and `Anomalies` are made of one block of rows per workbook (`consolidation_blocks`):
  sheet XML without row numbers, with inline strings and the fixed styles of `XF`, deflated on its
  own by the worker that read the workbook (or kept by the register); the writer joins them
  (`_Packer.add_packed`), a workbook's CON findings between its blocks.
- The tables are real Excel tables, so XlsxWriter's `constant_memory` mode (incompatible with
  tables) is not used; 1 000 workbooks × 30 lines stay well within memory. XlsxWriter writes the
  titles, headers, total rows, formats, chart and print setup; the tables' data rows are built as
  sheet XML in one pass and spliced in as it writes each sheet (`_sheet_class`): cell by cell
  through XlsxWriter they cost more than reading the files. Each table's rows are compressed in a
  thread by parts of `PART_ROWS` rows as they are built, and joined to their sheet's zip entry
  with each part's CRC-32 and length (`_Packer`).
- Total rows are `SUBTOTAL` formulas over plain ranges with their value cached: every reader sees
  the totals without recalculating, and LibreOffice (which misreads some structured references in
  total rows) computes the same.
"""

from __future__ import annotations

import re
import threading
import zlib
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import cache, partial
from itertools import accumulate, islice, repeat
from operator import is_not, itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator
from zipfile import ZipFile, ZipInfo

from acv_xl.checks.rules.consolidation import CODE_INCONNU, LINE_FIELDS, financeur_groupe
from acv_xl.checks.totals import ZERO
from acv_xl.checks.validate import ETAT_LIBELLE, ETAT_VALIDE
from acv_xl.contract import layout
from acv_xl.contract.values import EXCEL_CELL_HALF, excel_text, ratio_for_cell
from acv_xl.reading import collector
from acv_xl.reading.errors import shown_file
from acv_xl.outputs.atomic import atomic_write
from acv_xl.outputs.consolidation_result import (
    AVANCEE,
    EN_COURS,
    MOINS_PRETE,
    PHASE_DEPLOIEMENT,
    PHASE_INITIALISATION,
    PHASE_TERMINEE,
    SEUIL_AVANCEE,
    SEUIL_MOINS_PRETE,
    ConsolidationResult,
    date_of_label,
)
from acv_xl.outputs import page_layout
from acv_xl.outputs.formats import FMT_EUROS, FMT_EUROS_ENTIERS, FMT_INTEGER, FMT_PERCENT
from acv_xl.outputs.formats import looks_rich as _looks_rich  # such text goes inline
from acv_xl.outputs.output_guard import CONSOLIDATION, mark, mark_json, mark_xlsxwriter

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

    # the convention's identifier (named cell `acv_id`, « Identifiant de la convention » in the
    # template): in French for the référents who read these sheets; JSON keeps `acv_id`
    ACV_ID = "Identifiant ACV"
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
    MANQUE = "Manque de financement (€)"
    EXCEDENT = "Excédent de financement (€)"
    PHASE = "Phase au comité"
    PART_ACTIONS = "Actions engagées ou terminées"
    PREPARATION = "Préparation"
    NB_CONVENTIONS = "Conventions"
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


STATUT_LIBELLE = ETAT_LIBELLE  # one vocabulary: the template's « Validé », « Non validé »…
OUI, NON = "Oui", "Non"
MARQUE = mark(CONSOLIDATION)  # value of the custom property `acv_xl` of the consolidated workbook
MOTIF_CONSOLIDATION = "produit par acv-xl, non compté"  # any report of acv-xl left in the folder
MOTIF_ETRANGER = "pas un classeur ACV, non compté"  # a workbook with nothing of the template (STR-11)
MOTIF_PAS_CLASSEUR = "pas un classeur Excel, non compté"  # notes.txt among the files a Unix shell's `*` names
SANS_ID = "(sans identifiant)"
NON_VENTILE = "non ventilé"  # the row of « Totaux par financeur » for the lines without a financeur code



def _grouped(par_financeur: dict[str, Decimal]) -> dict[str, Decimal]:
    """Amounts by financeur, the codes outside the reference list added under « code inconnu »."""
    if layout.FINANCEURS_BY_CODE.keys() >= par_financeur.keys():  # the usual case: each its own
        return {k: ZERO + v for k, v in par_financeur.items()}
    out: dict[str, Decimal] = {}
    for code, v in par_financeur.items():
        k = financeur_groupe(code)
        out[k] = out.get(k, ZERO) + v
    return out


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
POURCENT = FMT_PERCENT  # French, whatever the reader's locale, like the amounts beside it
SEUILS_ACTIONS = (SEUIL_AVANCEE[0], SEUIL_MOINS_PRETE[0])  # what each share's class is judged against
SEUILS_ACQUIS = (SEUIL_AVANCEE[1], SEUIL_MOINS_PRETE[1])


_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _unique_headers(headers: list[str]) -> list[str]:
    """Excel table headers must be unique (case-insensitive) and non-empty: « ETAT », « etat (2) ».

    A header is written by XlsxWriter as a shared string: one that reads `<r>…</r>` (a funder's code
    typed so in a workbook) would be taken for raw rich-text XML and break the file, so it is quoted."""
    seen: set[str] = set()
    out = []
    for h in headers:
        # a control character is no XML (the header is also the table's column name, an attribute that
        # XlsxWriter does not escape): a comité label holding one made historique's workbook unreadable
        h = " ".join(_HEADER_CONTROL.sub(" ", str(h or "")).split())[:250] or "(vide)"
        if _looks_rich(h):
            h = f"« {h} »"
        cand, k = h, 2
        while cand.casefold() in seen:
            cand, k = f"{h} ({k})", k + 1
        seen.add(cand.casefold())
        out.append(cand)
    return out


# The one escaping of a cell's text written inline, by the blocks of `Lignes` and `Anomalies`
# (`consolidation_blocks`) and by this writer for a rich-text look-alike: a second one here wrote
# U+FFFE raw (no longer XML: Excel repaired the file) and lost a carriage return.
# XlsxWriter's escaping of a shared string (`SharedStrings._write_si`, XlsxWriter 3.2–3.3), which a
# test compares with it: a literal `_xHHHH_` protected, control characters as `_xHHHH_`, the two
# non-characters too, then `&<>`; `xml:space` when the text starts or ends with whitespace.
_LITERAL = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
# What needs escaping: one of these characters, or a `_x` (found apart: an alternation in one expression
# was tried at every character, three times the time of a character class; each workbook's messages
# are new texts, escaped once each)
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]").search


def inline_text(text: str) -> str:
    """`t="inlineStr"` and the cell's `<is>`: the text (cut to what a cell holds, `excel_text`) as XlsxWriter would
    write it in its shared strings."""
    if len(text) > EXCEL_CELL_HALF:
        text = excel_text(text)
    if _SPECIAL(text) is not None or "_x" in text:
        text = _LITERAL.sub(r"_x005F\1", text)
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
        text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # XlsxWriter's `^\s|\s$`: `\s` is what `str.isspace` says, and a `\s` before a final newline ends
    # with one; its first and last characters looked at rather than every one
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f' t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _excel_serial(value: date) -> float:
    """A date or datetime as Excel's day number (1900 system, every date after 1 March 1900)."""
    if isinstance(value, datetime):
        delta = value.replace(tzinfo=None) - datetime(1899, 12, 30)
        return delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000
    return float((value - date(1899, 12, 30)).days)


def _rows_xml_cells(rows: list[list[Any]], first_row: int, styles: list[int], row_styles: list[list[int]] | None,
                    sst, heights: list[float | None] | None = None) -> str:
    """`_rows_xml` cell by cell: the reference it is tested against, and its way for rows it does not
    take column by column (cells of other types, rows of unequal lengths).

    The `<row>` elements of a table's data rows (`first_row`: 0-based row of the first one).

    The cells XlsxWriter would write, without its per-cell bookkeeping: text as shared strings
    through the workbook's own table (XlsxWriter escapes them when it writes it), never a formula;
    numbers; dates as day numbers; booleans as « Oui »/« Non »; empty cells left out."""
    from xlsxwriter.utility import xl_col_to_name

    width = max((len(r) for r in rows), default=0)
    starts = [f'<c r="{xl_col_to_name(j)}' for j in range(width)]  # then the row number

    def mids(xfs: list[int]) -> list[str]:  # closes the reference, then the style if any
        return [f'" s="{x}"' if x else '"' for x in xfs]

    col_mids = mids(styles)
    per_row: dict[int, list[str]] = {}  # row style lists are shared between rows: computed once each
    index = sst._get_shared_string_index  # what XlsxWriter's `write_string` does for each cell
    tails: dict[str, str] = {}  # acv_id, libellé, file… repeat on every line of a convention
    repeats = 0
    out = []
    for i, row in enumerate(rows):
        r = str(first_row + 1 + i)
        if row_styles is None:
            md = col_mids
        else:
            xfs = row_styles[i]
            md = per_row.get(id(xfs))
            if md is None:
                md = per_row[id(xfs)] = mids(xfs)
        h = heights[i] if heights else None
        cells = [f'<row r="{r}" ht="{h}" customHeight="1">' if h else f'<row r="{r}">']
        for j, v in enumerate(row):
            if v is None:
                continue
            t = type(v)
            if t is str:
                tail = tails.get(v)
                if tail is not None:  # the usual case: a text already written
                    repeats += 1
                    cells.append(f"{starts[j]}{r}{md[j]}{tail}")
                    continue
            elif t is int:  # then amounts and years, before the rarer types' checks
                cells.append(f"{starts[j]}{r}{md[j]}><v>{v}</v></c>")  # a year stays 2024
                continue
            elif t is Decimal or t is float:
                cells.append(f"{starts[j]}{r}{md[j]}><v>{float(v)!r}</v></c>")
                continue
            if t is bool:
                v, t = (OUI if v else NON), str
            elif t is not str and isinstance(v, str):  # a str subclass (an enum): its text
                v, t = str(v), str
            if t is str:
                if not v:
                    continue
                tail = tails.get(v)
                if tail is not None:
                    repeats += 1
                else:
                    text = v if len(v) <= EXCEL_CELL_HALF else excel_text(v)  # what a cell holds
                    if _looks_rich(text):  # rare: not cached, so that the use count stays right
                        tail = inline_text(text)
                    else:
                        tail = tails[v] = f' t="s"><v>{index(text)}</v></c>'
                cells.append(f"{starts[j]}{r}{md[j]}{tail}")
            elif t is int:
                cells.append(f"{starts[j]}{r}{md[j]}><v>{v}</v></c>")  # a year stays 2024
            elif t is float or t is Decimal or isinstance(v, (int, float, Decimal)):
                cells.append(f"{starts[j]}{r}{md[j]}><v>{float(v)!r}</v></c>")
            elif isinstance(v, date):
                cells.append(f"{starts[j]}{r}{md[j]}><v>{_excel_serial(v)!r}</v></c>")
            else:  # not expected: shown as text rather than lost
                cells.append(f"{starts[j]}{r}{md[j]}{inline_text(str(v))}")
        cells.append("</row>")
        out.append("".join(cells))
    sst.count += repeats  # XlsxWriter counts every use of a shared string
    return "".join(out)



_FAST_TYPES = frozenset({str, int, float, Decimal, bool, type(None), date, datetime})
_ROW = "\x01"  # stands for the row number in a cell built once per distinct value (never in XML text)


class _Memo(dict):
    """value → its cell's XML, made on first use (`make`); a hit is one C lookup (`map(m.__getitem__, …)`)."""

    __slots__ = ("make",)

    def __init__(self, make) -> None:
        super().__init__({None: "", "": ""})  # empty cells are left out
        self.make = make

    def __missing__(self, v):
        x = self[v] = self.make(v)
        return x


def _cell_maker(start: str, sst_index: dict[str, int]):
    """The XML of one cell of a column (`start`: `<c r="COL` + row mark + end of the reference and
    style) from its value, as `_rows_xml_cells` writes it."""

    def make(v) -> str:
        t = type(v)
        if t is bool:
            v, t = (OUI if v else NON), str
        if t is str:
            at = sst_index.get(v)
            if at is not None:
                return f'{start} t="s"><v>{at}</v></c>'
            # rare: rich-text look-alike (`_rows_xml`), inline so that XlsxWriter never takes it for its XML
            return start + inline_text(v)
        if t is int:
            return f"{start}><v>{v}</v></c>"  # a year stays 2024
        if t is float or t is Decimal:
            return f"{start}><v>{float(v)!r}</v></c>"
        return f"{start}><v>{_excel_serial(v)!r}</v></c>"  # a date (`_FAST_TYPES`)

    return make


_NUMBERS = frozenset({int, float, Decimal, bool})
_AMOUNT_TYPES = frozenset({Decimal, float, type(None)})
_NONE = type(None)


def _rows_xml(rows: list[list[Any]], first_row: int, styles: list[int], row_styles: list[list[int]] | None,
              sst, heights: list[float | None] | None = None) -> str:
    """The `<row>` elements of a table's data rows (`first_row`: 0-based row of the first one), in
    one text (`_rows_xml_parts`)."""
    return "".join(_rows_xml_parts(rows, first_row, styles, row_styles, sst, heights))


# Rows per part of a table's XML: compressed part by part as they are made, so that a long table is
# never one text, nor one block of bytes — each would be new memory for the system to give, where a
# part reuses the previous one's (`Lignes` and `Anomalies` come as blocks: `consolidation_blocks`)
PART_ROWS = 1000


def _rows_xml_parts(rows: list[list[Any]], first_row: int, styles: list[int],
                    row_styles: list[list[int]] | None, sst,
                    heights: list[float | None] | None = None) -> Iterator[str]:
    """The `<row>` elements of a table's data rows (`first_row`: 0-based row of the first one), as
    texts of `PART_ROWS` rows made as they are iterated; the shared strings' indexes are given at
    once (XlsxWriter closes its table before it writes the sheets).

    The cells XlsxWriter would write, without its per-cell bookkeeping: text as shared strings
    through the workbook's own table (XlsxWriter escapes them when it writes it), never a formula;
    numbers; dates as day numbers; booleans as « Oui »/« Non »; empty cells left out.

    Built column by column: each distinct value of a column becomes its cell's XML once, with a mark
    for the row number, and the rows are joined and numbered by C loops (`map`) — a Python step per
    cell cost more than the rest of `Lignes`. The shared strings get their indexes in the order the
    cells are met row by row, as XlsxWriter's `write_string` would give them: the same bytes as
    `_rows_xml_cells` (tested), which still writes the rare tables this way cannot take (cells of
    another type, rows of unequal lengths, a column mixing kinds of numbers that compare equal)."""

    from xlsxwriter.utility import xl_col_to_name

    n = len(rows)
    if not n or len(set(map(len, rows))) != 1:
        return iter([_rows_xml_cells(list(rows), first_row, styles, row_styles, sst, heights)])
    cols = list(zip(*rows))
    kinds = [set(map(type, c)) for c in cols]
    # one distinct value per key in each column's dicts below: 1, 1.0 and True are one key, not one cell
    if not all(k <= _FAST_TYPES and len(k & _NUMBERS) <= 1 + (float in k and Decimal in k) for k in kinds):
        return iter([_rows_xml_cells(list(rows), first_row, styles, row_styles, sst, heights)])
    # An amount's cell is its float's: the columns of amounts looked up by their floats, whose hash is a
    # few instructions, where a Decimal's costs ≈ 1 µs (a modular power; 30 000 cells of a consolidation's
    # Synthèse and matrices). Equal Decimals have equal floats: each cell the same XML as before.
    cols = [[v if v is None else float(v) for v in c] if Decimal in k and k <= _AMOUNT_TYPES else c
            for c, k in zip(cols, kinds)]
    # The shared strings get their indexes in the order their first cells are met row by row: each
    # column's distinct values come in the order of their first rows, found by one scan of it.
    index = sst._get_shared_string_index
    sst_index: dict[str, int] = {}
    firsts = []  # (first row, column, text)
    uses = 0  # XlsxWriter counts every use of a shared string
    for j, (c, k) in enumerate(zip(cols, kinds)):
        if str not in k and bool not in k:
            continue
        at = 0
        for v in dict.fromkeys(c):
            t = type(v)
            if t is str and v:
                at = c.index(v, at)
                firsts.append((at, j, v))
            elif t is bool:
                at = c.index(v, at)
                firsts.append((at, j, OUI if v else NON))
        if k <= {str, _NONE}:
            uses += sum(map(bool, c))  # the texts that are not empty
        elif k <= {bool, _NONE}:
            uses += n - c.count(None)
        else:
            uses += sum(1 for v in c if (type(v) is str and v) or type(v) is bool)
    firsts.sort()  # (row, column) pairs are unique: texts never compared
    inline = set()
    for _, _, v in firsts:
        if v not in sst_index and v not in inline:
            text = v if len(v) <= EXCEL_CELL_HALF else excel_text(v)
            if _looks_rich(text):  # written inline, not a use of the table
                inline.add(v)
            else:
                sst_index[v] = index(text)
    if inline:
        uses -= sum(c.count(v) for c in cols for v in inline)
    sst.count += uses - len(sst_index)

    names = [xl_col_to_name(j) for j in range(len(cols))]
    mid = lambda x: f'" s="{x}"' if x else '"'  # noqa: E731 — closes the reference, then the style if any

    def column(j: int, xf: int, values) -> list[str]:
        return list(map(_Memo(_cell_maker(f'<c r="{names[j]}{_ROW}{mid(xf)}', sst_index)).__getitem__, values))

    pieces = [column(j, xf, c) for j, (xf, c) in enumerate(zip(styles, cols))]
    if row_styles is not None:  # rows of another style (few): their cells made again with it
        others: dict[int, tuple[list[int], list[int]]] = {}
        for i, xfs in enumerate(row_styles):
            if xfs is not styles and xfs != styles:
                others.setdefault(id(xfs), (xfs, []))[1].append(i)
        for xfs, at_rows in others.values():
            for j, (xf, c) in enumerate(zip(xfs, cols)):
                p = pieces[j]
                for i, x in zip(at_rows, column(j, xf, [c[i] for i in at_rows])):
                    p[i] = x
    if heights:
        heads = [f'<row r="{_ROW}" ht="{h}" customHeight="1">' if h else f'<row r="{_ROW}">' for h in heights]
    else:
        heads = repeat(f'<row r="{_ROW}">', n)
    joined = map("".join, zip(heads, *pieces, repeat("</row>", n)))
    numbers = map(str, range(first_row + 1, first_row + 1 + n))
    numbered = map(str.replace, joined, repeat(_ROW, n), numbers)
    return ("".join(islice(numbered, PART_ROWS)) for _ in range(0, n, PART_ROWS))


_ROW_START = re.compile(r'<row r="(\d+)"')


_FORMULAS: dict[tuple[str, bool, bool], str] = {}  # XlsxWriter's `_prepare_formula`, a pure function
# Excel 2007's functions, the only ones our total rows call: XlsxWriter never gives them a prefix,
# not even as « future functions » (`Lignes`' total of the counted lines, a SUMPRODUCT, went through
# its 150 expressions, compiled for it alone: ≈ 5 ms of each consolidation)
_PLAIN_FUNCTIONS = frozenset({"SUBTOTAL", "IFERROR", "SUMPRODUCT", "OFFSET", "ROW"})
_CALLS = re.compile(r"[A-Za-z_][\w.]*(?=\()")  # every name written before a parenthesis


# the widest span of years whose gaps `_years_without_gaps` fills: the programme's years, never a
# column for each year up to a mistyped 1924
YEAR_SPAN = 20


def _years_without_gaps(keys: list[str]) -> list[str]:
    """The columns of `Par année`: the years financed, and those between them with nothing planned.
    A year without financing had no column: its chart's line joined 2022 to 2024 as the next points,
    on paper a trend through a year when nothing is planned, and the table hid that year."""
    years = [int(k) for k in keys if len(k) == 4 and k.isdigit()]
    if len(years) < 2 or max(years) - min(years) >= YEAR_SPAN:
        return keys
    return sorted(set(keys) | {str(y) for y in range(min(years), max(years) + 1)})


def _worth_a_chart(values) -> bool:
    """Whether a chart of `values` shows anything: of values all 0 (no convention counted, no
    financing), it printed an empty frame over an axis « 1 € 1 € » on a page of its own."""
    return any(values)


class _NoCells(dict):
    """XlsxWriter's per-cell map of table cells, kept empty (see `_sheet_class`)."""

    def __setitem__(self, key, value) -> None:
        pass


@cache
def _sheet_class():
    """XlsxWriter's worksheet, plus the tables' data rows as ready-made sheet XML.

    XlsxWriter stores every cell as an object and writes it back one by one: for the 30 000 lines
    of a département that costs more than reading the files. The tables' data rows are therefore
    built here in one pass (`_rows_xml`, same cells, same styles, the workbook's shared strings)
    and spliced into the sheet XML when XlsxWriter writes it — one zip, written once.

    It leans on XlsxWriter internals (`_write_sheet_data`, `fh`, `_check_dimensions`, the shared
    string table, `Format._get_xf_index`), as of XlsxWriter 3.2–3.3: `test_lignes_texts_round_trip_exactly`
    and the batch tests fail if a new version changes them."""
    from io import StringIO

    from xlsxwriter.worksheet import Worksheet

    class Sheet(Worksheet):
        def __init__(self) -> None:
            super().__init__()
            self.blocks: list[tuple[int, int, str]] = []  # (first, last 1-based data row, rows XML)
            # XlsxWriter checks every cell of a new table against the previous tables and merged
            # ranges, one dict lookup per cell (a fifth of the writing for 36 000 lines): the check
            # is made here per rectangle instead (`add_table`), and no merged range is used.
            self.table_cells = _NoCells()
            self.table_ranges: list[tuple[int, int, int, int]] = []
            self.packer: _Packer | None = None  # set by `write_workbook`: rows compressed ahead
            # `_Writer.titles_in_header`: the print area from this row (0-based) down to the last row
            # written, of a table or of a chart (`chart_bottom`), known when the workbook is closed
            self.print_from: int | None = None
            self.chart_bottom = 0

        @property
        def print_area_range(self):  # read by XlsxWriter when it closes the workbook
            if self.print_from is None:
                return self.set_print_area
            last_row = max(self.dim_rowmax or 0, self.chart_bottom, *(r2 for _r1, _c1, r2, _c2 in self.table_ranges))
            last_col = max(self.dim_colmax or 0, *(c2 for _r1, _c1, _r2, c2 in self.table_ranges))
            return self._convert_name_area(self.print_from, 0, last_row, last_col)

        @print_area_range.setter
        def print_area_range(self, area) -> None:
            self.set_print_area = area

        def _prepare_formula(self, formula, expand_future_functions=False):
            # XlsxWriter runs some 30 regular expressions over each formula (compiling them in each
            # process), 150 for a total row's (`expand_future_functions`): ours call only functions
            # it never prefixes, either way, and are otherwise prepared once each
            if set(_CALLS.findall(formula)) <= _PLAIN_FUNCTIONS:
                if formula.startswith("{"):  # what XlsxWriter strips
                    formula = formula[1:]
                if formula.startswith("="):
                    formula = formula[1:]
                if formula.endswith("}"):
                    formula = formula[:-1]
                return formula
            key = (formula, expand_future_functions, self.use_future_functions)
            done = _FORMULAS.get(key)
            if done is None:
                if len(_FORMULAS) > 10_000:  # a long-lived process (the server): kept small
                    _FORMULAS.clear()
                done = _FORMULAS[key] = super()._prepare_formula(formula, expand_future_functions)
            return done

        def add_table(self, first_row, first_col, last_row, last_col, options=None):
            from xlsxwriter.utility import xl_range

            for r1, c1, r2, c2 in self.table_ranges:
                if first_row <= r2 and r1 <= last_row and first_col <= c2 and c1 <= last_col:
                    raise ValueError(f"tableaux superposés dans la feuille {self.name}")  # a bug of ours
            self.table_ranges.append((first_row, first_col, last_row, last_col))
            options = options or {}
            total = bool(options.get("total_row"))
            short = first_row + 1 + total  # header, one data row, the total row
            if last_row <= short or "data" in options or options.get("header_row") is False:
                return super().add_table(first_row, first_col, last_row, last_col, options)
            # Declared with one data row (XlsxWriter's per-cell loop over 3 rows), then given its
            # real extent: the ranges it records, and its total row moved to the last row.
            status = super().add_table(first_row, first_col, short, last_col, options)
            if status:
                return status
            t = self.tables[-1]
            t["range"] = xl_range(first_row, first_col, last_row, last_col)
            t["a_range"] = xl_range(first_row, first_col, last_row - total, last_col)
            if t.get("autofilter"):
                t["autofilter"] = t["a_range"]
            if total and short in self.table:
                self.table[last_row] = self.table.pop(short)
            self._check_dimensions(last_row, last_col)
            return 0

        def add_rows(self, first_row: int, rows: list[list[Any]], styles: list[int],
                     row_styles: list[list[int]] | None, heights: list[float | None] | None = None) -> None:
            # Built now, not when the sheet is written: XlsxWriter closes its shared string table
            # before it writes the sheets.
            if not rows:
                return
            parts = _rows_xml_parts(rows, first_row, styles, row_styles, self.str_table, heights)
            # compressed from now on, part by part; a marker stands in the sheet's XML
            xml = self.packer.add(parts) if self.packer is not None else "".join(parts)
            self.blocks.append((first_row + 1, first_row + len(rows), xml))
            # the sheet's <dimension> covers the data (readers size the sheet from it)
            width = max(map(len, rows))
            self._check_dimensions(first_row + len(rows) - 1, width - 1)

        def add_packed(self, first_row: int, rows: int, width: int, parts: list[tuple[int, int, bytes]]) -> None:
            """`rows` data rows from `first_row` (0-based), `width` columns, given as deflated parts
            of position-free XML (`consolidation_blocks`), joined in their order."""
            if not rows:
                return
            if self.packer is not None:
                xml = self.packer.add_packed(parts)
            else:  # a workbook written without a packer: the same rows, inflated
                inflate = zlib.decompressobj(-15)
                xml = "".join(inflate.decompress(data).decode("utf-8") for _n, _crc, data in parts)
            self.blocks.append((first_row + 1, first_row + rows, xml))
            self._check_dimensions(first_row + rows - 1, width - 1)

        def _held_rows(self) -> list[int]:
            """The rows XlsxWriter writes itself (titles, headers, total rows…: cells, heights or
            comments), in order: the tables' data rows are ours, not in its cell map."""
            lo, hi = self.dim_rowmin, self.dim_rowmax
            held = {r for r, cells in self.table.items() if cells}.union(self.row_info, self.comments)
            return sorted(r for r in held if lo <= r <= hi)

        def _calculate_spans(self) -> None:
            # XlsxWriter's, over its own rows only: it walks every row of the sheet's extent (the
            # 36 000 of `Lignes`), each lookup of an empty one adding it to its cell map
            spans: dict[int, tuple[int, int]] = {}
            lo, hi = self.dim_colmin, self.dim_colmax
            for r in self._held_rows():
                cols = [c for source in (self.table.get(r, ()), self.comments.get(r, ())) for c in source
                        if lo <= c <= hi]
                if cols:
                    a, b = min(cols), max(cols)
                    k = r // 16
                    if k in spans:
                        a, b = min(a, spans[k][0]), max(b, spans[k][1])
                    spans[k] = (a, b)
            self.row_spans = {k: f"{a + 1}:{b + 1}" for k, (a, b) in spans.items()}

        def _write_rows(self) -> None:
            # XlsxWriter's (3.2–3.3), over its own rows only (see `_calculate_spans`)
            self._calculate_spans()
            for row_num in self._held_rows():
                span = self.row_spans.get(row_num // 16)
                cells = self.table.get(row_num)
                if cells:
                    if row_num not in self.row_info:
                        self._write_row(row_num, span)
                    else:
                        self._write_row(row_num, span, self.row_info[row_num])
                    for col_num in range(self.dim_colmin, self.dim_colmax + 1):
                        if col_num in cells:
                            self._write_cell(row_num, col_num, cells[col_num])
                    self._xml_end_tag("row")
                else:  # a row with comments or attributes only
                    self._write_empty_row(row_num, span, self.row_info.get(row_num))

        def _write_sheet_data(self) -> None:
            if not self.blocks:
                return super()._write_sheet_data()
            fh, self.fh = self.fh, StringIO()
            try:
                super()._write_sheet_data()  # titles, headers, total rows: a few rows
                xml = self.fh.getvalue()
            finally:
                self.fh = fh
            starts = [(int(m.group(1)), m.start()) for m in _ROW_START.finditer(xml)]
            at = 0
            for first, last, rows in sorted(self.blocks, key=lambda b: b[0]):
                # before XlsxWriter's first row below the block (its total row), else at the end
                cut = next((pos for n, pos in starts if n > last), xml.index("</sheetData>"))
                fh.write(xml[at:cut])
                fh.write(rows)
                at = cut
            fh.write(xml[at:])

    return Sheet


# The consolidation's cell formats, created in this order by every consolidated workbook.
FORMATS: dict[str, dict[str, Any]] = {
    "titre": {"bold": True, "font_size": 14},
    "sous_titre": {"italic": True, "font_color": "#595959"},
    "texte": {"valign": "top"},
    "texte_long": {"valign": "top", "text_wrap": True},  # wrapped; rows sized to it
    # numbers top-aligned too: beside a wrapped name they read on its first line, not under it
    "euros": {"num_format": EUROS, "valign": "top"},
    "entier": {"num_format": ENTIER, "valign": "top"},
    "date": {"num_format": DATE, "valign": "top"},
    "date_heure": {"num_format": DATE_HEURE, "valign": "top"},
    "pourcent": {"num_format": POURCENT, "valign": "top"},
    "euros_gras": {"num_format": EUROS, "bold": True, "valign": "top"},
    "erreur": {"font_color": "#9C0006", "bg_color": "#FFC7CE"},
    "avertissement": {"font_color": "#9C5700", "bg_color": "#FFEB9C"},
    # a line not counted (`Lignes`): its texts greyed, still wrapped as the column's
    "non": {"font_color": "#7F7F7F", "italic": True, "valign": "top", "text_wrap": True},
    # explicit, so that the header row stands out also where table styles are not drawn (print, LibreOffice)
    "entete": {"bold": True, "text_wrap": True, "valign": "top", "font_color": "#FFFFFF",
               "bg_color": "#1F4E79", "border": 1},
    "note": {"italic": True, "font_color": "#595959", "valign": "top", "text_wrap": True},  # under a table
}
_DXF_ONLY = ("erreur", "avertissement")  # conditional formats' (dxf): no cell style of their own
# Each cell format's xf index, fixed at the workbook's creation (0 is XlsxWriter's default style).
XF: dict[str, int] = {name: k for k, name in enumerate((n for n in FORMATS if n not in _DXF_ONLY), start=1)}


_NOT_NONE = partial(is_not, None)


def _widest_euros(j: int, rows, totals: dict[int, Any] | None) -> float:
    """The width column `j`'s amounts need: its rows' and its total's (`page_layout.euros_width`)."""
    total = (totals or {}).get(j)
    total = total[1] if isinstance(total, tuple) else total
    # only the largest and the smallest amount can be the widest: found in C (the blanks left out),
    # rather than each of the ≈ 30 000 cells of a consolidation's amount columns looked at in Python
    # on the way to the saved workbook
    try:
        amounts = list(filter(_NOT_NONE, map(itemgetter(j), rows)))
        ends = [max(amounts), min(amounts)] if amounts else []
    except (TypeError, IndexError):  # a text among the amounts, a shorter row: each cell looked at
        ends = [r[j] for r in rows if j < len(r)]
    return page_layout.euros_width(ends + [total])


def lignes_columns() -> list[tuple[str, float, str | None]]:
    """`Lignes`' columns: header, width, format (a `FORMATS` name or None)."""
    tf = layout.T_FINANCEMENTS
    # Every text wraps, in rows sized to it (`consolidation_blocks`): an intitulé, a libellé longer
    # than its column was cut on paper by the filled cell beside it. The Feuille column fits the
    # template's « Plan de financement » on one line (it is on every row).
    # The convention, then the line, then where it comes from: `LIGNES_KEYS` columns (convention,
    # action) frozen and printed on each page across, the first page holding the line's financeur,
    # montant and statut. The communes and file came before the action: only the identifier could
    # be repeated, and the montants' page did not say which action they were of.
    long = "texte_long"
    return [
        (H.ACV_ID, 12, long), (H.LIBELLE, 24, long),
        (tf.header("numero"), 10, long), (H.INTITULE, 36, long), (H.AXE, 6, long),
        (tf.header("financeur"), 12, long), (tf.header("dispositif"), 22, long), (tf.header("nature"), 16, long),
        (tf.header("annee"), 8, long), (tf.header("montant"), 16, "euros"), (tf.header("statut"), 13, long),
        (H.COMPTE, 8, long), (H.MOTIF, 18, long), (H.FEUILLE, 21, long), (H.CELLULE_MONTANT, 10, long),
        (H.COMMUNES, 26, long), (H.FICHIER, 28, long),
    ]


LIGNES_KEYS = 3  # `Lignes`' columns that say whose a line is: identifier, libellé, N° action


def anomalies_columns() -> list[tuple[str, float, str | None]]:
    """`Anomalies`' columns: header, width, format (a `FORMATS` name or None)."""
    return [
        (H.FICHIER, 28, None), (H.ACV_ID, 12, None), (H.GRAVITE, 14, None), (H.CODE, 9, None),
        (H.FEUILLE, 18, None), (H.CELLULE, 9, None), (H.ACTION, 9, None), (H.MESSAGE, 80, "texte_long"),
        (H.SUGGESTION, 50, "texte_long"),
    ]


def _col(j: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(j)


def lignes_total(cols: list[tuple[str, float, str | None]], n: int, total: Decimal) -> dict[int, tuple[str, Decimal]]:
    """The total row of `Lignes` (its `n` rows at row 4): the counted lines only, as the cached value
    and the Synthèse (a SUBTOTAL of the whole column added the refused lines once Excel recalculated
    the workbook), and of the rows a filter shows (each row's SUBTOTAL: hidden rows add nothing), as
    a table's total row does."""
    headers = [c[0] for c in cols]
    m, k = headers.index(layout.T_FINANCEMENTS.header("montant")), headers.index(H.COMPTE)
    first, end = 4, 3 + max(n, 1)  # the data rows of the table written at row 3 (1-based)
    amounts, counted = f"{_col(m)}{first}:{_col(m)}{end}", f"{_col(k)}{first}:{_col(k)}{end}"
    return {m: (f"=SUMPRODUCT(SUBTOTAL(109,OFFSET({_col(m)}{first},ROW({amounts})-ROW({_col(m)}{first}),0)),"
                f'--({counted}="{OUI}"))', total)}


def _runs_past(heights: Iterable[float], room: float, before: float = 0.0, after: float = 0.0) -> bool:
    """Whether `before`, the rows of `heights` (points, none negative) and `after` run past `room`:
    the same sums and test as on all the rows, stopped at the first row that runs past — a page
    holds some forty rows, a Synthèse or `Fichiers` one per file (thousands of heights looked up).
    The same verdict as `sum` because the heights are whole pixels (0,75 pt) or whole points: every
    sum exact, where Python 3.12's `sum` of inexact floats compensates roundings a running sum keeps."""
    return any(before + used + after > room for used in accumulate(heights))


class _Writer:
    def __init__(self, wb, result: ConsolidationResult, packer: _Packer | None = None):
        self.wb = wb
        self.r = result
        self.packer = packer
        # in `FORMATS`' order, each given its xf index now: the blocks of rows made without this
        # workbook (`consolidation_blocks`) name them by these indexes (`XF`)
        self.fmt = {name: wb.add_format(props) for name, props in FORMATS.items()}
        if any(self.fmt[name]._get_xf_index() != xf for name, xf in XF.items()):
            # another XlsxWriter numbering its styles otherwise: every block's cell would wear the wrong
            # one (amounts without their € format) — never such a file
            raise RuntimeError("les styles du classeur consolidé n'ont pas les numéros attendus : la version "
                               "d'XlsxWriter installée n'est pas celle qu'acv-xl connaît")

    def sheet(self, name: str, titre: str, landscape: bool = True):
        ws = self.wb.add_worksheet(name, worksheet_class=_sheet_class())
        ws.packer = self.packer
        d = self.r.perimetre
        if self.r.comite:
            d += f" — {' '.join(self.r.comite.split())}"
        if self.r.sans_erreurs:
            d += " — conventions sans erreur seulement"
        self.titles(ws, titre, f"Consolidation Action Cœur de Ville — {d} — générée le "
                               f"{self.r.genere_le.strftime('%d/%m/%Y à %H:%M')}")
        ws.set_header(f"&L&\"-,Bold\"{page_layout.footer_text(name)}&RAction Cœur de Ville")
        ws.landscape = landscape  # the print layout is decided in `table`, from the columns
        return ws

    def titles(self, ws, titre: str, sous_titre: str) -> None:
        """The sheet's title (A1) and subtitle (A2), kept for `titles_in_header`."""
        ws.write_string(0, 0, titre, self.fmt["titre"])
        ws.write_string(1, 0, sous_titre, self.fmt["sous_titre"])
        ws.titles = (titre, sous_titre)

    def titles_in_header(self, ws, keys: tuple[int, int] | None) -> None:
        """A sheet printed several pages wide repeats its key columns on each page, and its title and
        subtitle, running past them from A1 and A2, were cut at their edge on every page but the first
        (« Lignes de financement de toutes les conventions », « … — tous départements — gén »); wrapped
        over the key columns, they made a band of five lines above the frozen table on screen, and pages
        more. They print in the page header of every page (`page_layout.titles_header`), and the print
        area starts at the table's header row: on screen rows 1 and 2 stay one line each."""
        titles = getattr(ws, "titles", None)
        if keys is None or titles is None:
            return
        # never scaled down with the sheet (its subtitle would print at 6 pt), and a top margin that
        # holds its two lines: at the usual one, the subtitle printed over the table's header row
        ws.set_header(page_layout.titles_header(*titles), {**page_layout.UNSCALED, "margin": page_layout.TITLES_HEADER_IN})
        ws.set_margins(left=page_layout.MARGIN_IN, right=page_layout.MARGIN_IN, top=page_layout.TITLES_TOP_IN,
                       bottom=page_layout.MARGIN_BOTTOM_IN)
        ws.print_from = 2  # the print area: from the table's header row down (`_sheet_class`)

    def footer_label(self, ws) -> str:
        """Left of each printed page's footer: the sheet and what the workbook is."""
        d = self.r.perimetre
        return f"{ws.name} — consolidation, {d}"

    def footer_date(self) -> str:
        return page_layout.generated_on(self.r.genere_le)  # la consolidation

    def table(self, ws, name: str, columns: list[tuple[str, float, str | None]], rows: list[list[Any]],
              totals: dict[int, Any] | None = None, first_row: int = 2, freeze_cols: int = 0,
              row_formats: list[str | None] | None = None,
              packed: list[tuple[int, int, bytes]] | None = None) -> tuple[int, int]:
        """A real Excel table at `first_row` (0-based): headers, data, an optional total row whose
        values are computed here (formulas written by XlsxWriter have no cached value).

        `totals`: column index → amount (a SUBTOTAL over the column) or (formula, value).
        `row_formats`: per data row, a format for its cells of text (no column format, or a text
        one), or None.
        `packed`: the data rows as deflated blocks (`consolidation_blocks`); `rows` then only counts them."""
        from xlsxwriter.utility import xl_col_to_name

        headers = _unique_headers([c[0] for c in columns])
        columns = [(h, page_layout.fit_width(w, h), f) for h, w, f in columns]
        if not hasattr(ws, "table_widths"):
            ws.table_widths = {}
        # amounts: as wide as the widest (its rows, its total) — fixed at 15, a financeur's
        # 1 234 567 890,12 € printed « ### » (the rows of `Lignes`, packed, are bounded by its total)
        columns = [(h, max(w, _widest_euros(j, rows if packed is None else (), totals)), f)
                   if f in ("euros", "euros_gras") else (h, w, f) for j, (h, w, f) in enumerate(columns)]
        data = rows or [[None] * len(columns)]  # Excel tables need one data row
        long = [(j, c[1]) for j, c in enumerate(columns) if c[2] == "texte_long"]
        # beside a wrapped column, every cell top-aligned: a tall row then reads as one line
        col_fmt = [self.fmt[c[2] or "texte"] if c[2] or long else None for c in columns]
        # The data rows, as sheet XML (`_sheet_class`); the styles as XlsxWriter's xf indexes.
        xf = lambda fm: fm._get_xf_index() if fm is not None else 0  # noqa: E731
        styles = [xf(cf) for cf in col_fmt]
        row_styles = None
        if row_formats:
            texts = (None, self.fmt["texte"], self.fmt["texte_long"])
            per_format = {f: [xf(self.fmt[f] if cf in texts else cf) for cf in col_fmt]
                          for f in set(filter(None, row_formats))}
            row_styles = [per_format[f] if f else styles for f in row_formats]
        heights = None
        if long and packed is None:  # rows tall enough for their wrapped text (a default height cuts it)
            # measured once per distinct text: the same findings repeat across a département
            measured: dict[Any, float | None] = {}
            heights = []
            cells = itemgetter(*(j for j, _w in long))  # a value, or a tuple of them
            for row in rows:
                key = cells(row)
                h = measured.get(key, 0)
                if h == 0:
                    # text only: a number is never wrapped (a spreadsheet shows ### instead)
                    texts = [v if isinstance(v, str) else "" for v in (key if len(long) > 1 else (key,))]
                    h = page_layout.row_height(zip(texts, (w for _j, w in long)))
                    h = measured[key] = h if h > page_layout.LINE_PT + 2 else None
                heights.append(h)
        if heights:  # where the rows end on paper (`keep_together`)
            ws.row_points = {**getattr(ws, "row_points", {}),
                             **{first_row + 1 + i: h for i, h in enumerate(heights) if h}}
        if packed is not None:
            ws.add_packed(first_row + 1, len(rows), len(columns), packed)
        else:
            ws.add_rows(first_row + 1, rows, styles, row_styles, heights)
        last = first_row + len(data) + (1 if totals is not None else 0)
        cols = []
        ws.set_row(first_row, page_layout.row_height(zip(headers, (c[1] for c in columns)), bold=True))
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
            # never narrower than a table above set it (a matrix's amounts over its totals' shares)
            width = ws.table_widths[j] = max(width, getattr(ws, "table_widths", {}).get(j, 0))
            ws.set_column(j, j, width)
        ws.add_table(first_row, 0, last, len(columns) - 1, {
            "name": name, "columns": cols, "total_row": totals is not None,
            "style": "Table Style Medium 2",
        })
        if first_row == 2:
            ws.freeze_panes(first_row + 1, freeze_cols)
        if not getattr(ws, "print_decided", False):  # the sheet's first table decides how it prints
            ws.print_decided = True
            ws.print_widths = [c[1] for c in columns]
            plan = page_layout.plan(ws.print_widths, (0, max(0, freeze_cols - 1)), getattr(ws, "landscape", True))
            # The header row repeated on every page only when the table runs past the first: under a
            # table that fits on it, a chart or another table pushed to the next page printed beneath
            # this table's header, which said nothing of them (« Identifiant ACV, Libellé… » over the
            # Synthèse's « Préparation »). A table of blocks, its rows' heights unknown here, keeps it.
            repeat = first_row == 2 and (packed is not None or not self.within_first_page(ws, plan, last))
            ws.print_plan = page_layout.setup(ws, ws.print_widths, footer=self.footer_label(ws),
                              header_rows=(first_row, first_row) if repeat else None,
                              key_columns=(0, max(0, freeze_cols - 1)),
                              landscape=getattr(ws, "landscape", True), footer_right=self.footer_date())
            self.titles_in_header(ws, plan.repeat_columns)  # after `setup`: its own margins
        return first_row, last

    @staticmethod
    def page_points(ws, p: page_layout.PrintPlan) -> float:
        """The height (points of the sheet, before scaling) a printed page surely holds: A4 between
        its margins, a margin more (LibreOffice's rows of their own height may be taller than
        Excel's 15 pt), at the plan's scale."""
        paper = page_layout.A4_SHORT_PT if p.landscape else page_layout.A4_LONG_PT
        page = (paper - (page_layout.MARGIN_TOP_IN + page_layout.MARGIN_BOTTOM_IN) * 72) * 0.85
        if p.fit_width:  # scaled by the spreadsheet to the page's width, never above 100 %
            return page / page_layout.one_page_scale(ws.print_widths, p.landscape)
        return page / (p.scale / 100)

    @staticmethod
    def row_height(ws, r: int) -> float:
        """Row `r`'s height (points) as written so far: measured for its wrapped text, set, or Excel's default."""
        points = getattr(ws, "row_points", {})
        if r in points:
            return points[r]
        info = ws.row_info
        return info[r].height * 0.75 if r in info and info[r].height is not None else page_layout.LINE_PT

    def within_first_page(self, ws, p: page_layout.PrintPlan, last: int) -> bool:
        """Whether the rows down to `last` (0-based) surely print on the sheet's first page."""
        return not _runs_past(map(partial(self.row_height, ws), range(last + 1)), self.page_points(ws, p))

    def first_page_chart(self, ws, chart, width: int, height: int, beside: tuple[int, int], below: int,
                         keep_from: int | None = None) -> None:
        """`chart` at `beside` (row, column) when it ends there within the sheet's first printed page,
        else at row `below`, as wide as that page allows: placed past the page's edge, a
        chart was cut there and went on, in pieces, on the next pages. Never cut across two pages
        either: with the rows from `keep_from` (the table it shows), on one page (`keep_together`). Never
        over the key columns a sheet repeats on each page across (`past_keys`): LibreOffice drew its left
        part again, cut at their edge, on the page across."""
        room = page_layout.first_page_points(ws.print_widths, ws.print_plan) / 0.75  # pixels
        first = self.past_keys(ws)
        row, col = beside[0], max(beside[1], first)
        before = sum(page_layout.column_points(w) for w in ws.print_widths[:col]) / 0.75
        if before + width > room:
            row, col = below, first
            before = sum(page_layout.column_points(w) for w in ws.print_widths[:col]) / 0.75
        chart.set_size({"width": int(min(width, room - before)), "height": height})
        # a little below its row's top: at a page break, a chart starting on the row's very edge was
        # drawn (clipped) at the foot of the page before as well
        ws.insert_chart(row, col, chart, {"y_offset": 4})
        bottom, covered = row, 0.0  # its last row, for the print area (`_sheet_class`)
        while covered < 3 + height * 0.75:
            covered += self.row_height(ws, bottom)
            bottom += 1
        ws.chart_bottom = max(ws.chart_bottom, bottom)
        start = row if keep_from is None else keep_from
        self.keep_together(ws, start, (row - start) * page_layout.LINE_PT + height * 0.75)

    def keep_together(self, ws, row: int, height_pt: float) -> None:
        """A page break before `row` unless the block of `height_pt` starting there surely ends on the
        page where it starts (a chart was cut across two pages): the rows' heights added up from the
        last page start known (the top, or a break), with a margin (LibreOffice's rows of its own
        height may be taller than Excel's 15 pt)."""
        page = self.page_points(ws, ws.print_plan)
        height = partial(self.row_height, ws)
        # Counted from where a page is known to start (the sheet's top, or a page break set), never from
        # pages guessed further down: each guessed page a little shorter than the spreadsheet's, the guess
        # drifted a page off under a table of a hundred conventions, and a chart « starting a page » by
        # it was cut across two. A block that does not surely end on that page starts the next one.
        start = max((b for b in ws.hbreaks if b <= row), default=0)
        repeated = height(2) if ws.repeat_row_range and start else 0.0
        if row > start and _runs_past(map(height, range(start, row)), page, repeated, height_pt):
            ws.set_h_pagebreaks(sorted({*ws.hbreaks, row}))

    @staticmethod
    def past_keys(ws) -> int:
        """The first column of the first printed page past the key columns the sheet repeats on each page
        across (0 when it repeats none, or they fill that page): what lies over them prints again, cut at
        their edge, on each page across — a note's first words (« Phase au comité : initialisation,
        déploiement ou termi »), the left of a chart (LibreOffice)."""
        keys = ws.print_plan.repeat_columns
        n = page_layout.first_page_columns(ws.print_widths, ws.print_plan)
        return keys[1] + 1 if keys and keys[1] + 1 < n else 0

    def first_page_notes(self, ws, row: int, notes: list[str]) -> int:
        """Notes under a table, each wrapped across the columns of the first printed page, in a row tall
        enough: written in column A alone, they ran past the page's edge and were cut. Past the key columns
        of a sheet that repeats them on each page across (`past_keys`). The next free row."""
        n = page_layout.first_page_columns(ws.print_widths, ws.print_plan)
        first = self.past_keys(ws)
        width = sum(ws.print_widths[first:n])
        fmt = self.fmt["note"]
        for k, text in enumerate(notes):
            if n - first > 1:
                ws.merge_range(row + k, first, row + k, n - 1, "", fmt)
            ws.write_string(row + k, first, text, fmt)
            ws.set_row(row + k, page_layout.row_height([(text, width)]))
        return row + len(notes)

    # -- sheets
    def synthese(self) -> None:
        r = self.r
        ws = self.sheet(Feuille.SYNTHESE, "Synthèse par convention")
        cols = [
            # names wrap (one row per convention): « Communauté d'agglomération de Béthune-Bruay, Artois-Lys
            # Romane » was cut at the EPCI column's edge on paper
            (H.ACV_ID, 12, None), (H.LIBELLE, 28, "texte_long"), (H.COMMUNES, 30, "texte_long"),
            (H.EPCI, 30, "texte_long"), (H.DEPARTEMENT, 12, None), (H.PROGRAMME, 10, None),
            (H.FICHIER, 30, "texte_long"), (H.NB_ACTIONS, 9, "entier"),
            (H.COUT, 18, "euros"), (H.FINANCEMENT, 18, "euros"), (H.ECART, 16, "euros"), (H.MANQUE, 16, "euros"),
            (H.EXCEDENT, 16, "euros"), (H.ACQUIS, 20, "euros"),
            (H.PART_ACQUISE, 10, "pourcent"), (H.STATUT, 26, None), (H.ERREURS, 9, "entier"),
            (H.AVERTISSEMENTS, 13, "entier"), (H.PHASE, 15, None), (H.PART_ACTIONS, 12, "pourcent"),
            (H.PREPARATION, 13, None),
        ]
        rows = []
        classes: dict[str, int] = {AVANCEE: 0, EN_COURS: 0, MOINS_PRETE: 0}
        for f in r.counted:
            t = f.totaux
            p = r.preparation(f)
            classes[p.classe] += 1
            ecart = t.ecart  # (a property: computed once a row)
            rows.append([
                f.acv_id or SANS_ID, f.libelle, " ; ".join(f.communes), f.epci, f.departement, f.programme,
                shown_file(f.rel),
                f.nb_actions, t.cout_total, t.financement_total, ecart, max(ecart, ZERO), max(-ecart, ZERO),
                # the shares beside their class: never shown on the wrong side of its thresholds
                f.acquis, ratio_for_cell(f.acquis / t.financement_total if t.financement_total else None, SEUILS_ACQUIS),
                STATUT_LIBELLE.get(f.etat, f.etat), *r.counts(f), p.phase, ratio_for_cell(p.part_actions, SEUILS_ACTIONS),
                p.classe,
            ])
        g = r.totaux
        last_row = 3 + max(len(rows), 1) + 1  # the total row, 1-based
        # The gap's total is shown as what is missing and what is in excess, never netted (318 000 €
        # missing and 50 000 € in excess are not « 268 000 € »): the net column has no total.
        # (The amounts from the result, as the JSON's, exact to the cent past 10^26 €; the counts added up
        # from the rows just made.)
        totals = {7: sum(map(itemgetter(7), rows)), 8: g.cout_total, 9: g.financement_total, 11: r.manque,
                  12: r.excedent, 13: r.acquis, 16: sum(map(itemgetter(16), rows)), 17: sum(map(itemgetter(17), rows)),
                  14: (f'=IFERROR(N{last_row}/J{last_row},"")',
                       float(r.acquis / g.financement_total) if g.financement_total else "")}
        _, last = self.table(ws, TABLES[Feuille.SYNTHESE], cols, rows, totals, freeze_cols=2)
        ws.conditional_format(3, 16, last - 1, 16, {"type": "cell", "criteria": ">", "value": 0,
                                                     "format": self.fmt["erreur"]})
        ws.conditional_format(3, 15, last - 1, 15, {"type": "formula", "criteria": f'=$P4<>"{STATUT_LIBELLE[ETAT_VALIDE]}"',
                                                     "format": self.fmt["avertissement"]})
        ws.conditional_format(3, 20, last - 1, 20, {"type": "cell", "criteria": "==", "value": f'"{MOINS_PRETE}"',
                                                     "format": self.fmt["avertissement"]})
        # how the class is decided, under the table (printed with it), and the count per class
        top = last + 2
        ref = date_of_label(r.comite)
        quand = (f"au {ref.strftime('%d/%m/%Y')} (date du comité « {r.comite} »)" if ref else
                 "à la date du prochain comité de chaque convention, à défaut à la date de la consolidation")
        pa, pq = SEUIL_AVANCEE
        ma, mq = SEUIL_MOINS_PRETE
        notes = [
            f"{H.PHASE} : {PHASE_INITIALISATION}, {PHASE_DEPLOIEMENT} ou {PHASE_TERMINEE}, {quand}, d'après les dates "
            "de fin d'initialisation et de fin de déploiement de la convention.",
            f"{H.PART_ACTIONS} : actions « Engagée », « En cours » ou « Terminée » parmi les actions non abandonnées ; "
            f"{H.PART_ACQUISE.lower()} : financement « Acquis », « Engagé » ou « Versé » sur le financement total.",
            f"Préparation « {AVANCEE} » : au moins {pa:.0%} des actions engagées ou terminées et au moins {pq:.0%} du "
            f"financement acquis ; « {MOINS_PRETE} » : moins de {ma:.0%} des actions et moins de {mq:.0%} du "
            f"financement ; « {EN_COURS} » : les autres.".replace("%", " %"),
            f"{H.MANQUE} et {H.EXCEDENT} : l'écart de chaque convention, totalisés séparément (un excédent ne "
            "compense pas un manque).",
        ]
        # the count per class as plain cells, not a table: the sheet's one table stays `T_Synthese`
        start = self.first_page_notes(ws, top, notes) + 1
        ws.write_string(start, 0, H.PREPARATION, self.fmt["entete"])
        ws.write_string(start, 1, H.NB_CONVENTIONS, self.fmt["entete"])
        for k, (c, n) in enumerate(classes.items(), start=1):
            ws.write_string(start + k, 0, c)
            ws.write_number(start + k, 1, n, self.fmt["entier"])
        t0 = start
        if not _worth_a_chart(classes.values()):  # no convention counted
            return
        chart = self.wb.add_chart({"type": "column"})
        chart.add_series({"name": "Conventions",
                          "categories": [Feuille.SYNTHESE, start + 1, 0, start + 3, 0],
                          "values": [Feuille.SYNTHESE, start + 1, 1, start + 3, 1],
                          "data_labels": {"value": True}, "fill": {"color": "#1F4E79"}})
        chart.set_title({"name": "Préparation des conventions"})
        chart.set_legend({"none": True})
        self.first_page_chart(ws, chart, 480, 288, beside=(t0, 3), below=t0 + len(classes) + 2, keep_from=t0)

    def _matrix(self, feuille: str, titre: str, keys: list[str], labels: list[str], get, total_of,
                extra_total: bool):
        """Conventions × keys, with a total column (the convention's financement total) and a total row."""
        r = self.r
        ws = self.sheet(feuille, titre)
        cols = [(H.ACV_ID, 12, None), (H.LIBELLE, 28, None)] + [(lab, 15, "euros") for lab in labels]
        if extra_total:
            cols.append((H.NON_VENTILE, 15, "euros"))
        cols.append((H.TOTAL, 18, "euros"))
        rows = []
        for f in r.counted:
            amounts = get(f)  # once per convention: it may build a dict (the financeurs, grouped)
            vals = list(map(amounts.get, keys))
            row = [f.acv_id or SANS_ID, f.libelle] + vals
            if extra_total:  # (the absent keys and the zeros add nothing)
                reste = f.totaux.financement_total - sum(filter(None, vals), ZERO)
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
        # a code outside the reference list never gets a column or a bar of its own (CON-05)
        grouped = _grouped(g.par_financeur)
        codes = _financeur_order(c for c in grouped if c != CODE_INCONNU) + \
            ([CODE_INCONNU] if CODE_INCONNU in grouped else [])
        ws, first, last = self._matrix(Feuille.PAR_FINANCEUR, "Financement par financeur et par convention", codes,
                                       codes, lambda f: _grouped(f.totaux.par_financeur), lambda t: grouped, True)
        # The funders' totals as a small table (the chart's data: plain values, cached for any reader).
        top = last + 3
        ws.write_string(top - 1, 0, "Totaux par financeur", self.fmt["titre"])
        rows = []
        for c in codes:
            v = grouped.get(c, ZERO)
            nom = layout.nom_financeur(c, r.departements) or "Codes absents de la liste de référence (CON-05)"
            rows.append([c, nom, v, (v / g.financement_total) if g.financement_total else None])
        # the lines without a financeur code: without them, the rows added up (the total row once
        # Excel recalculates it, and the shares) fell short of the financement total
        if reste := g.non_ventile["par_financeur"]:
            rows.append([NON_VENTILE, "Lignes sans code de financeur", reste,
                         (reste / g.financement_total) if g.financement_total else None])
        # the name wraps: « Banque des Territoires (Caisse des Dépôts) » was cut at the column's edge on paper
        cols = [(H.FINANCEUR, 10, None), (H.NOM_FINANCEUR, 28, "texte_long"), (H.TOTAL, 18, "euros"),
                (H.PART, 10, "pourcent")]
        # widths of the matrix columns win: do not let this table shrink them
        start, end = self.table(ws, TABLE_TOTAUX_FINANCEURS, [(h, max(w, 15) if j >= 2 else w, f)
                                                               for j, (h, w, f) in enumerate(cols)],
                                rows, {2: g.financement_total}, first_row=top)
        if _worth_a_chart(row[2] for row in rows):
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
            self.first_page_chart(ws, chart, 720, max(300, 28 * n + 80), beside=(top, 5), below=end + 2)

    def par_axe(self) -> None:
        keys = [str(n) for n in layout.AXES]
        ws, first, last = self._matrix(Feuille.PAR_AXE, "Financement par axe et par convention", keys,
                                       [f"Axe {k}" for k in keys], lambda f: f.totaux.par_axe, lambda t: t.par_axe,
                                       True)
        if _worth_a_chart(self.r.totaux.par_axe.get(k) for k in keys):
            self._total_row_chart(ws, Feuille.PAR_AXE, first, last, len(keys), "column",
                                  "Financement par axe (hors refusés)")

    def par_annee(self) -> None:
        g = self.r.totaux
        keys = _years_without_gaps(sorted(g.par_annee))
        ws, first, last = self._matrix(Feuille.PAR_ANNEE, "Financement par année et par convention", keys, keys,
                                       lambda f: f.totaux.par_annee, lambda t: t.par_annee, True)
        if _worth_a_chart(g.par_annee.get(k) for k in keys):
            self._total_row_chart(ws, Feuille.PAR_ANNEE, first, last, len(keys), "line",
                                  "Financement par année (hors refusés)")

    def _total_row_chart(self, ws, feuille: str, first: int, last: int, n: int, kind: str, titre: str) -> None:
        """A chart of a matrix's total row (its key columns, from the third), under the table."""
        chart = self.wb.add_chart({"type": kind})
        series = {"name": titre, "categories": [feuille, first, 2, first, 1 + n],
                  "values": [feuille, last, 2, last, 1 + n],
                  "data_labels": {"value": True, "num_format": FMT_EUROS_ENTIERS}}
        series.update({"marker": {"type": "circle"}} if kind == "line" else {"fill": {"color": "#1F4E79"}})
        chart.add_series(series)
        chart.set_title({"name": titre})
        chart.set_legend({"none": True})
        chart.set_y_axis({"num_format": FMT_EUROS_ENTIERS, "major_gridlines": {"visible": True}})
        self.first_page_chart(ws, chart, 720, 320, beside=(last + 2, 1), below=last + 2)

    def lignes(self) -> None:
        ws = self.sheet(Feuille.LIGNES, "Lignes de financement de toutes les conventions comptées")
        cols = lignes_columns()
        # each counted workbook's rows as its block (made by the worker that read it, or kept by the
        # register; made here otherwise): this process joins them
        from acv_xl.outputs.consolidation_blocks import LIGNES, fits, lignes_bloc

        r = self.r
        packed = []
        n = 0
        for f in r.counted:
            if not f.lines:
                continue
            b = r.blocs.get((LIGNES, f.rel))
            if not fits(b, LIGNES, f):
                b = r.blocs[LIGNES, f.rel] = lignes_bloc(f)
            packed.append((b.length, b.crc, b.data))
            n += len(f.lines)
        # only counted lines add up: the total row is the counted sum, the grand total (`totals`'), which
        # a warm run knows without decoding the lines the register kept (`register.StoredLines`)
        self.table(ws, TABLES[Feuille.LIGNES], cols, range(n), lignes_total(cols, n, r.totaux.financement_total),
                   freeze_cols=LIGNES_KEYS, packed=packed)

    def anomalies(self) -> None:
        ws = self.sheet(Feuille.ANOMALIES, "Anomalies de tous les fichiers (contrôles du classeur et CON)")
        # file by file, its CON findings (the batch's: made here) then its own (its block, as in `Lignes`)
        from acv_xl.outputs.consolidation_blocks import ANOMALIES, anomalies_bloc, anomalies_xml, fits, parts

        r = self.r
        # the CON findings' rows of all files made at once, then cut file by file
        con = [r.anomalies_con(f, v) if v.findings else [] for f, v in zip(r.files, r.verdicts)]
        rows = anomalies_xml([a for file_con in con for a in file_con]).split("</row>")
        # deflated here, not by the packer's thread: a thousand parts of a few rows cost more to hand
        # over (≈ 35 ms of waiting, a warm run) than to deflate
        apart = parts()
        packed = []
        n = at = 0
        for f, file_con in zip(r.files, con):
            if file_con:
                k = len(file_con)
                packed.append(apart("</row>".join(rows[at:at + k]) + "</row>"))
                at += k
                n += k
            if f.findings:
                b = r.blocs.get((ANOMALIES, f.rel))
                if not fits(b, ANOMALIES, f):
                    b = r.blocs[ANOMALIES, f.rel] = anomalies_bloc(f)
                packed.append((b.length, b.crc, b.data))
                n += len(f.findings)
        # the finding's file, convention, gravité and code frozen and printed on each page across: after the
        # file alone, the page of the suggestions did not say which of its findings each was of
        _, last = self.table(ws, TABLES[Feuille.ANOMALIES], anomalies_columns(), range(n), freeze_cols=4, packed=packed)
        for lib, fmt in (("Erreur", "erreur"), ("Avertissement", "avertissement")):
            ws.conditional_format(3, 2, last, 2, {"type": "cell", "criteria": "==", "value": f'"{lib}"',
                                                  "format": self.fmt[fmt]})

    def fichiers(self) -> None:
        ws = self.sheet(Feuille.FICHIERS, "Fichiers trouvés")  # not « lus »: with the register most are not read again
        cols = [
            (H.CHEMIN, 40, None), (H.TAILLE, 13, "entier"), (H.SHA256, 66, None), (H.VERSION, 10, None),
            (H.DATE_VALIDATION, 12, "date"), (H.STATUT, 26, None), (H.ACV_ID, 12, None), (H.DEPARTEMENT, 12, None),
            (H.COMPTE, 8, None), (H.MOTIF, 18, None), (H.ERREURS, 9, "entier"), (H.AVERTISSEMENTS, 13, "entier"),
            (H.MODIFIE_LE, 16, "date_heure"),
        ]
        rows = []
        for f, v in zip(self.r.files, self.r.verdicts):
            mtime = datetime.fromtimestamp(f.mtime).replace(microsecond=0) if f.mtime else None
            rows.append([shown_file(f.rel), f.size, f.sha256, f.version_modele, f.date_validation,
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
            "author": "acv-xl", "comments": self.r.summary_line(with_out=False),
        })
        mark_xlsxwriter(self.wb, CONSOLIDATION)


_atomic = atomic_write  # the consolidation's outputs are written like every other output


@contextmanager
def gc_paused():
    """No cyclic garbage collection inside the block (restored after, as it was).

    For work that allocates hundreds of thousands of objects and keeps most of them (rows, cells,
    summaries) without making reference cycles: the collector would walk them again and again
    for nothing (a tenth of the writing time). Reference counting still frees everything; a
    collection after the block catches any cycle (an exception's traceback). Shared with the
    reader's pauses (`acv_xl.reading.collector`): back as it was whichever pauses overlap."""
    with collector.paused():
        yield


# ------------------------------------------------------------------ packaging: rows compressed ahead
_MARK = "\x00rows{}\x00"  # where a block of rows goes in its sheet's XML (XML text never holds U+0000)
_MARKS = re.compile(rb"(\x00rows\d+\x00)")
_PACKERS: dict[str, _Packer] = {}  # workbook file → its packer, while XlsxWriter closes it
_PATCH = threading.Lock()
_patched = [0, None]  # workbooks being closed, XlsxWriter's own ZipFile and SharedStrings, zipfile's crc32


# zlib-ng's level 2: the rows' 17 MB of XML deflated in 60 % of the time zlib's level 1 took, into a
# file a little smaller; any deflate stream unzips to the same bytes
_LEVEL = 2


def _compressor():
    from zlib_ng import zlib_ng

    return zlib_ng.compressobj(_LEVEL, zlib_ng.DEFLATED, -15)


def _deflate(data: bytes, c=None) -> bytes:
    """A raw deflate stream ended on a byte boundary without a final block: streams so made join
    into one valid stream (as pigz does), the last one ended by `flush()`. `c`: the compressor of
    the stream it goes on with (the previous part of the same rows, just before it in the entry)."""
    c = c or _compressor()
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)


def _pack(data: bytes, c=None) -> tuple[int, int, bytes]:
    """A part of a table's rows as its zip entry needs it: the length and CRC-32 of its bytes, and
    their deflate stream (`_deflate`)."""
    from zlib_ng import zlib_ng

    return len(data), zlib_ng.crc32(data), _deflate(data, c)


class _Deflating:
    """A part of a table's rows queued for the packer's thread (`_pack` there); `result()` waits for it,
    and raises what it raised."""

    __slots__ = ("_done", "_value", "_error")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()  # released once the thread has deflated it (or skipped it)
        self._value: tuple[int, int, bytes] | None = None
        self._error: BaseException | None = None

    def run(self, data: bytes, c, skip: bool = False) -> None:
        try:
            if skip:
                raise RuntimeError("partie abandonnée : le classeur n'a pas été écrit")
            self._value = _pack(data, c)
        except BaseException as exc:  # noqa: BLE001 — handed to the thread that waits for it
            self._error = exc
        finally:
            self._done.release()

    def result(self) -> tuple[int, int, bytes]:
        with self._done:
            pass
        if self._error is not None:
            raise self._error
        return self._value


class _Packer:
    """The tables' data rows of one workbook, deflated in a thread part by part as they are built
    (zlib and zlib-ng work without the GIL) and joined to their sheet's zip entry when XlsxWriter closes the
    workbook (`_PackedZip`): a table's rows are compressed while they and the other sheets are
    written, and never copied into one text with XlsxWriter's part of the sheet; the blocks of `Lignes`
    and `Anomalies` come already deflated (`add_packed`). zlib-ng's level 2
    for the sheets with such rows, zlib's level 1 for the other parts (a few KB): a third of the
    compression time of the default level, a file a little larger, the same bytes once unzipped."""

    def __init__(self) -> None:
        self.blocks: dict[bytes, list[Any]] = {}  # marker → its parts' (length, CRC-32, deflate), or `_Deflating`s
        self.joined = 0  # blocks put in their sheet's entry: all of them, or the file is not written
        self._tasks: Any = None  # (part, its bytes, its stream's compressor), in order; None: the end
        self._thread: threading.Thread | None = None
        self._closing = False

    def add(self, parts: Iterable[str]) -> str:
        """A table's rows, given as parts of its XML (each compressed as soon as it comes: the
        next one is made meanwhile), and the marker that stands for them in their sheet's XML."""
        if self._thread is None:
            # one thread and a queue rather than a `ThreadPoolExecutor`, whose import (`concurrent.futures`,
            # `logging`, `traceback`…) cost each consolidation ≈ 5 ms for one worker thread
            from queue import SimpleQueue

            self._tasks = SimpleQueue()
            self._thread = threading.Thread(target=self._deflate_all, name="acv-xl-zlib", daemon=True)
            self._thread.start()
        marker = _MARK.format(len(self.blocks))
        c = _compressor()  # one stream for the block: its parts are deflated in order, by one thread
        parts_of = self.blocks[marker.encode()] = []
        for xml in parts:
            part = _Deflating()
            self._tasks.put((part, xml.encode("utf-8"), c))
            parts_of.append(part)
        return marker

    def _deflate_all(self) -> None:
        while (task := self._tasks.get()) is not None:
            part, data, c = task
            part.run(data, c, skip=self._closing)

    def add_packed(self, parts: Iterable[Any]) -> str:
        """Rows already deflated (`_pack`: length, CRC-32, a stream ended on a byte boundary; the blocks,
        and `consolidation_blocks.parts`' rows between them), joined in this order: the marker that
        stands for them in their sheet's XML."""
        marker = _MARK.format(len(self.blocks))
        self.blocks[marker.encode()] = list(parts)
        return marker

    def close(self) -> None:
        """The thread ended: the parts still queued (the workbook failed before they were joined) are
        skipped, not deflated."""
        if self._thread is not None:
            self._closing = True
            self._tasks.put(None)
            self._thread.join()

    @contextmanager
    def closing(self, path: str):
        """While XlsxWriter closes the workbook `path`: its zip is a `_PackedZip` (XlsxWriter names
        its `ZipFile` at module level; any other workbook closed meanwhile gets a plain one), its
        shared strings written by `_shared_strings_class` (the same bytes, whatever the workbook)."""
        import zipfile

        import xlsxwriter.packager as xp
        import xlsxwriter.workbook as xw
        from zlib_ng import zlib_ng

        with _PATCH:
            _PACKERS[path] = self
            if _patched[0] == 0:
                _patched[1] = xw.ZipFile, xp.SharedStrings, zipfile.crc32
                xw.ZipFile = _PackedZip
                xp.SharedStrings = _shared_strings_class()  # the same part, for any workbook
                zipfile.crc32 = zlib_ng.crc32  # the same checksum, a quarter of the time over 17 MB
            _patched[0] += 1
        try:
            yield
        finally:
            with _PATCH:
                del _PACKERS[path]
                _patched[0] -= 1
                if _patched[0] == 0:
                    xw.ZipFile, xp.SharedStrings, zipfile.crc32 = _patched[1]


# What makes XlsxWriter write a shared string otherwise than `<si><t>text</t></si>`: a control
# character or a literal `_xHHHH_` (escaped), a non-character, markup (escaped, or its rich-text
# XML), leading or trailing whitespace (`xml:space`). Tested here more cheaply, never less often:
# the characters `inline_text` escapes, as XlsxWriter does.
_SST_CHARS = _SPECIAL


def _sst_plain(texts: list[str]) -> list[bool]:
    """Per string: True if XlsxWriter writes it as it is (a whole table checked at once first)."""
    whole = "".join(texts)
    if _SST_CHARS(whole) or "_x" in whole:
        return [not (_SST_CHARS(t) or "_x" in t or t[:1].isspace() or t[-1:].isspace()) for t in texts]
    return [not (t[:1].isspace() or t[-1:].isspace()) for t in texts]


@cache
def _shared_strings_class():
    """XlsxWriter's shared strings part, written in one pass: its writer escapes each of the
    thousands of strings with several regular expressions and writes it with a call of its own.
    A string `_sst_plain` says plain is written as is; any other by XlsxWriter's own code."""
    from io import StringIO

    from xlsxwriter.sharedstrings import SharedStrings

    class FastSharedStrings(SharedStrings):
        def _write_sst_strings(self) -> None:
            def own(string: str) -> str:  # the rare string: as XlsxWriter writes it
                fh, self.fh = self.fh, StringIO()
                try:
                    self._write_si(string)
                    return self.fh.getvalue()
                finally:
                    self.fh = fh

            texts = self.string_table.string_array
            self.fh.write("".join([f"<si><t>{t}</t></si>" if plain else own(t)
                                   for t, plain in zip(texts, _sst_plain(texts))]))

    return FastSharedStrings


class _Stitched:
    """Stands for zipfile's compressor of one entry: text written is deflated here, and `cut` ends
    its stream on a byte boundary before a block of rows deflated in the thread (`_Packer`)."""

    def __init__(self) -> None:
        self.c = _compressor()
        self.fresh = True  # nothing given to `c` yet

    def compress(self, data) -> bytes:
        self.fresh = False
        return self.c.compress(data)

    def cut(self) -> bytes:
        if self.fresh:
            return b""
        head = self.c.flush(zlib.Z_SYNC_FLUSH)
        self.c, self.fresh = _compressor(), True
        return head

    def flush(self) -> bytes:
        return self.c.flush()


_ENTRY_STATE = ("_compressor", "_crc", "_file_size", "_compress_size", "_fileobj")  # zipfile's, Python 3.6–3.13


def _write_deflated(dest, parts: list[tuple[int, int, bytes]], crc32_combine) -> None:
    """Parts of a table's rows already deflated (`_pack`: length, CRC-32, deflate), one after the other,
    into the zip entry `dest` (zipfile's entry writer, its compressor a `_Stitched`, cut once before
    them): their CRC-32 combined with the entry's (`crc32_combine`: zlib-ng's, looked up once per
    entry), their sizes added, their bytes given to the file in one call (`writelines`), not two
    calls each: a block of `Lignes` holds a thousand parts, one per workbook."""
    head = dest._compressor.cut()
    crc, length, size = dest._crc, 0, len(head)
    for n, part_crc, deflated in parts:
        crc = crc32_combine(crc, part_crc, n)
        length += n
        size += len(deflated)
    dest._fileobj.writelines([head, *map(itemgetter(2), parts)])
    dest._compress_size += size
    dest._file_size += length
    dest._crc = crc


class _PackedZip(ZipFile):
    """XlsxWriter's zip for a workbook with a `_Packer`: level 1, and the marked sheets written as
    their text and their blocks of rows. Any other workbook: a plain `ZipFile`."""

    def __init__(self, file, *args, **kwargs) -> None:
        super().__init__(file, *args, **kwargs)
        self.packer = _PACKERS.get(file) if isinstance(file, str) else None

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        packer = self.packer
        if packer is None or not isinstance(zinfo_or_arcname, ZipInfo) or not isinstance(data, bytes):
            return super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)
        if b"\x00" not in data:
            return super().writestr(zinfo_or_arcname, data, compress_type, 1)
        pieces: list[Any] = _MARKS.split(data)
        packer.joined += len(pieces) // 2
        for k in range(1, len(pieces), 2):  # a block: its parts' (length, CRC-32, deflate)
            pieces[k] = [p if type(p) is tuple else p.result() for p in packer.blocks[pieces[k]]]
        zinfo = zinfo_or_arcname
        # zipfile decides from it whether Zip64 is needed
        zinfo.file_size = sum(len(p) if k % 2 == 0 else sum(part[0] for part in p) for k, p in enumerate(pieces))
        from zlib_ng import zlib_ng

        with self.open(zinfo, "w") as dest:
            stitched = all(hasattr(dest, a) for a in _ENTRY_STATE)
            if stitched:
                dest._compressor = _Stitched()
            for k, piece in enumerate(pieces):
                if k % 2 == 0:
                    dest.write(piece)
                elif stitched:
                    _write_deflated(dest, piece, zlib_ng.crc32_combine)
                else:  # another zipfile: the block inflated and compressed by it, the same bytes
                    inflate = zlib.decompressobj(-15)
                    for part in piece:
                        dest.write(inflate.decompress(part[2]))


def write_packed(tmp: Path, options: dict, fill) -> None:
    """An XlsxWriter workbook at `tmp` whose tables' rows are compressed ahead (`_Packer`): `fill`
    is given the workbook and the packer, and writes its sheets (a `_Writer`'s)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(tmp), {**options, "in_memory": True})
    packer = _Packer()
    try:
        fill(wb, packer)
    finally:
        try:
            with packer.closing(str(tmp)):
                wb.close()
        finally:
            packer.close()
    if packer.joined != len(packer.blocks):
        # XlsxWriter no longer zips through the `ZipFile` we replace: its sheets would hold our
        # markers instead of their rows — never such a file (the temp file is removed)
        raise RuntimeError("les lignes des tableaux n'ont pas été jointes à leurs feuilles : la version "
                           "d'XlsxWriter installée n'est pas celle qu'acv-xl connaît")


def write_workbook(result: ConsolidationResult, out: Path) -> None:
    @gc_paused()
    def _write(tmp: Path) -> None:
        write_packed(tmp, {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
                           "default_date_format": DATE},
                     lambda wb, packer: _Writer(wb, result, packer).write())

    _atomic(out, _write)


def _f(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _preparation_json(result: ConsolidationResult, f) -> dict:
    p = result.preparation(f)
    return {"date_reference": result.date_reference(f).isoformat(), "phase": p.phase,
            # four places, as the Synthèse's cells: never on the other side of the class's threshold
            "part_actions_engagees": _ratio(ratio_for_cell(p.part_actions, SEUILS_ACTIONS)),
            "part_acquise": _ratio(ratio_for_cell(p.part_acquise, SEUILS_ACQUIS)), "classe": p.classe}


def _ratio(d: Decimal | None) -> float | None:
    return None if d is None else round(float(d), 4)


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
            "preparation": _preparation_json(result, f) if f.lisible else None,
        })
    return mark_json({
        "departement": result.departement,
        "comite": result.comite,
        "sans_erreurs": result.sans_erreurs,
        "genere_le": result.genere_le.isoformat(timespec="seconds"),
        "fichiers": len(result.files),
        "conventions_comptees": len(result.counted),
        "totaux": {
            "cout_total": _f(g.cout_total),
            "financement_total": _f(g.financement_total),
            "ecart": _f(g.ecart),
            # the gap of each counted convention, shortfalls and excesses added separately
            "manque": _f(result.manque),
            "excedent": _f(result.excedent),
            "acquis": _f(result.acquis),
            "par_financeur": {k: _f(v) for k, v in g.par_financeur.items()},
            "par_axe": {k: _f(v) for k, v in sorted(g.par_axe.items())},
            "par_annee": {k: _f(v) for k, v in sorted(g.par_annee.items())},
            "par_statut": {k: _f(v) for k, v in g.par_statut.items()},
            "non_ventile": {k: _f(v) for k, v in g.non_ventile.items()},  # what each par_… could not place
        },
        "conventions": conventions,
        # what the terminal's « Attention » lines say, for a script: workbooks may be missing there
        "dossiers_non_parcourus": [{"dossier": shown, "motif": why} for shown, why in result.folders_not_walked],
        "fichiers_non_lus": [{"fichier": shown, "motif": why} for shown, why in result.files_not_read],
    }, CONSOLIDATION)


