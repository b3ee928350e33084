"""Excel arguments (2-D lists, header row included) → model rows, through `model.build_row`.

The UDFs receive tables as `T_Financements[#Tout]`: Office.js sends a 2-D list (dates as ISO
strings or as serial numbers, empty cells as "" or None), desktop xlwings sends what its
converter gives (datetimes, None). Both are normalised here so that every value goes through the
same parsing as the file reader (`values.parse`), and columns are found by header text from
`layout`, never by position. No xlwings import: this module is plain Python.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import date, datetime
from typing import Any, Sequence

from acv_xl.contract import layout
from acv_xl.contract import model
from acv_xl.contract.layout import Table
from acv_xl.contract.values import EXCEL_ERRORS, ExcelError, fmt_date, fmt_typed, is_blank, officejs_date, parse_choice
from acv_xl.reading.read import exact_columns, header_texts, renamed_header
from acv_xl.reading.source import TableBlock
from acv_xl.reading.totals_row import typed_cells

from .cells import JSNULL_ARRIVES, OFFICEJS_SPECIAL, JsNull, com_error, officejs_cell

PREFIX = "#ACV: "


class UdfError(Exception):
    """Bad input to an Excel function: `str(exc)` is the French text shown in the cell."""

    def __init__(self, message: str):
        super().__init__(PREFIX + message)


def as_2d(value: Any) -> list[list[Any]]:
    """Normalise a small argument (statuts, a code) to a 2-D list; tables go through `table_2d`.

    Office.js turns a one-row range into a flat list and a one-cell range into a scalar;
    desktop ranges may arrive as tuples. A flat list is a row here.
    """
    if value is None:
        return []
    if hasattr(value, "options") and hasattr(value, "address"):  # an xlwings Range (desktop)
        value = value.options(ndim=2).value
    if not isinstance(value, (list, tuple)):
        return [[value]]
    if not value:
        return []
    if not isinstance(value[0], (list, tuple)):
        return [list(value)]
    return value  # rows are only indexed: no copy (a 5 000-line plan arrives on every call)


def table_2d(value: Any, table: Table) -> list[list[Any]]:
    """A table argument as a rectangular 2-D list of at least two rows (header and one line), or a
    French `UdfError`. Excel always passes a table with `[#Tout]` that way (a table keeps one
    line even when empty): a flat list, a single row or rows of unequal length come from a wrong
    range or a forged request, and would otherwise sum to a silent 0."""
    whole = f"{table.name}[#Tout]"
    if value is None:
        raise UdfError(f"plage vide : sélectionnez le tableau {table.name} avec sa ligne d'en-tête ({whole}).")
    if hasattr(value, "options") and hasattr(value, "address"):  # an xlwings Range (desktop)
        value = value.options(ndim=2).value
    if not isinstance(value, (list, tuple)) or not value:
        raise UdfError(f"une seule cellule reçue : sélectionnez le tableau {table.name} avec sa ligne "
                       f"d'en-tête ({whole}).")
    if not {r.__class__ for r in value} <= {list, tuple}:
        raise UdfError(f"plage à une dimension reçue : sélectionnez le tableau {table.name} entier, "
                       f"ligne d'en-tête comprise ({whole}).")
    if len(value) < 2:
        raise UdfError(f"une seule ligne reçue : sélectionnez le tableau {table.name} entier, ligne "
                       f"d'en-tête et lignes de données ({whole}).")
    width = len(value[0])
    if len(set(map(len, value))) > 1:
        i, r = next((i, r) for i, r in enumerate(value) if len(r) != width)
        raise UdfError(f"plage irrégulière : la ligne {i + 1} a {len(r)} cellule(s), l'en-tête "
                       f"{width} ; sélectionnez le tableau {table.name} entier ({whole}).")
    return value if value.__class__ is list else list(value)


def _clean(raw: Any) -> Any:
    """One cell as the file reader would hand it over: errors typed, ISO dates as dates. On
    xlwings Server a table argument arrives as sent (`cells.OfficeJsTable`): its cell is first
    cleaned as xlwings would have (`officejs_cell`)."""
    if raw.__class__ in OFFICEJS_SPECIAL:
        raw = officejs_cell(raw)
    if raw.__class__ is int and raw < 0:  # on the desktop, an error cell xlwings does not name (#SPILL!…): its code
        return com_error(raw)
    if isinstance(raw, str):
        if raw in EXCEL_ERRORS:
            return ExcelError(raw)
        if raw == "":
            return None
        # only a date as the add-in writes one (`values.officejs_date`), as every reader reads it: a text
        # typed like a date-time otherwise (« 2023-11-01T00:00:00Z ») is a text for the file reader
        # (FIN-17), and ACV_CONTROLE answered « OK »
        if ":" in raw and (day := officejs_date(raw)) is not None:
            return day
        return raw
    return raw


def header_index(header: Sequence[Any], table: Table) -> dict[str, int]:
    """attr → column position, by header text (spaces around it aside), as the command line reads a
    table: a header typed in another case or without its accents (« MONTANT (€) ») is no column of ours
    there (STR-04, its amounts not read, « renommez l'en-tête »), and the functions summed it all the same."""
    return exact_columns(header_texts(header), table)


# Parsed tables by content. Excel calls the functions of a sheet one by one, each with the same
# T_Financements[#Tout]: the rows are parsed once, later calls only sum (a 5 000-line plan: about
# 50 ms to parse, 1 ms to sum). An entry is found by (model, parsed columns, number of rows), then
# its copy of the argument is compared with the argument itself, exactly: no hash collision can
# mix two tables, and one C-level list comparison costs less than building and hashing a key.
# The rows are shared, so callers only read them.
_CACHE: "OrderedDict[tuple, tuple[list, list[model.Ligne]]]" = OrderedDict()
CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()  # the server's threads reorder and evict entries (one step at a time)


class _Exact:
    """A number of the cached copy that equals only a value of its own type: Python holds 1, 1.0
    and True (0, -0.0 and False) equal, the parser does not (TRUE in `Montant (€)` is no amount)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __eq__(self, other: Any) -> bool:
        return other.__class__ is self.value.__class__ and other == self.value

    __hash__ = None  # type: ignore[assignment]


_AMBIGUOUS = (bool, int, float)  # the types whose 0 and 1 equal one another


def _snapshot(data: Sequence[Any]) -> list:
    """A copy of the 2-D argument that a caller mutating its own lists cannot change, its 0s and 1s
    (and booleans) compared by type too (`_Exact`)."""
    return [[_Exact(v) if v.__class__ in _AMBIGUOUS and (v == 0 or v == 1) else v for v in r]
            if isinstance(r, list) else r for r in data]


def _ends_with_totals_row(data: list[list[Any]], table: Table) -> bool:
    """Whether the last row of a `[#Tout]` argument is the table's totals row (Création de tableau ›
    Ligne de total): Excel sends it with the lines, and its « Total » and Somme were summed as one more
    line (a plan counted twice in ACV_SYNTHESE by année, a financeur « 7 » from a Nombre). Nothing but its
    label and what the totals functions give of the lines above (`totals_row.typed_cells`, as the
    Valider button and the command line tell it); a line typed there is taken as a line, as before."""
    if len(data) < 3:  # a header and a line at least above a totals row
        return False
    last = len(data)
    cells = [(last, j, v) for j, v in enumerate(map(_clean, data[-1]), start=1) if not is_blank(v)]
    if not cells:
        return False
    header = ["" if h is None else str(h) for h in data[0]]
    body = data[1:-1]
    if JSNULL_ARRIVES:
        # xlwings Lite's empty cell is empty for the totals functions too: counted by Nombre, it made the
        # totals row a line wherever a column has an empty cell (the default Nombre under « Statut »)
        body = [[None if v.__class__ is JsNull else v for v in r] for r in body]
    block = TableBlock(table.name, table.sheet, 1, 1, header, body, end_row=last)
    return not typed_cells(block, cells)


def rows(value: Any, cls: type[model.Ligne], needed: Sequence[str] = (),
         only: Sequence[str] | None = None) -> list[model.Ligne]:
    """Rows of one table argument, parsed into `cls` (empty rows skipped, as the reader does).

    `needed` lists the attributes whose column must be present; a missing one is reported in
    French, naming the header the function looked for. `only` restricts the parsing to these
    attributes (the others stay None), for the functions that sum a few columns.
    """
    table = cls.TABLE
    data = table_2d(value, table)
    index = header_index(data[0], table)
    for attr in needed:
        if attr not in index:
            if (other := _other_table(data[0], table, len(index))) is not None:
                # two arguments swapped (T_Financeurs where T_Financements goes): said as such, not as a
                # hidden header row nor as one column missing
                raise UdfError(f"la plage reçue est le tableau {other.name}, pas {table.name} : à cette place, "
                               f"la fonction attend {table.name}[#Tout] (vérifiez l'ordre des arguments).")
            spare = [h for j, h in enumerate(header_texts(data[0])) if j not in index.values()]
            if (renamed := renamed_header(table.header(attr), spare)) is not None:
                # the command line's STR-04 and its advice, rather than a total of a column it does not read
                raise UdfError(f"colonne « {table.header(attr)} » introuvable dans {table.name} ; une colonne "
                               f"« {renamed} » lui ressemble : renommez l'en-tête « {renamed} » en "
                               f"« {table.header(attr)} ».")
            if not index:
                # not one column's name on the first row: the table passed without its header row (the
                # commonest slip: `T_Financements` for `T_Financements[#Tout]`), or a table whose header
                # row is turned off — nothing tells its columns apart, nor should be guessed
                raise UdfError(f"la première ligne de la plage ne porte aucun nom de colonne de {table.name} : "
                               f"passez le tableau avec sa ligne d'en-tête, {table.name}[#Tout] ; si cette "
                               "ligne est masquée, affichez-la (onglet Création de tableau, case « Ligne "
                               "d'en-tête »).")
            raise UdfError(f"colonne « {table.header(attr)} » introuvable dans la plage "
                           f"(sélectionnez {table.name}[#Tout], ligne d'en-tête comprise).")
    if only is not None:
        index = {a: j for a, j in index.items() if a in only}
    key = (cls.__name__, tuple(sorted(index.items())), len(data))
    entry = _CACHE.get(key)
    if entry is not None:
        try:
            same = entry[0] == (data if data.__class__ is list else list(data))
        except Exception:  # noqa: BLE001 — a value whose comparison fails: parse again
            same = False
        if same:
            with _CACHE_LOCK:
                if key in _CACHE:  # (another request may have evicted it meanwhile)
                    _CACHE.move_to_end(key)
            return entry[1]
    out: list[model.Ligne] = []
    build = model.row_builder(cls, index)  # every raw below holds exactly the columns of `index`
    for i, r in enumerate(data[1:-1] if _ends_with_totals_row(data, table) else data[1:], start=1):
        raw = {attr: _clean(r[j]) for attr, j in index.items()}  # rectangular (table_2d)
        if all(is_blank(v) for v in raw.values()):
            continue
        out.append(build(raw, {}, table.sheet, i))
    snapshot = _snapshot(data)
    with _CACHE_LOCK:
        _CACHE[key] = (snapshot, out)
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


def _other_table(header: Sequence[Any], table: Table, found: int) -> Table | None:
    """The contract's other table whose every column heads the range (more of them than of `table`'s),
    or None."""
    for other in layout.TABLES:
        if other is not table and len(other.columns) > found:
            if len(header_index(header, other)) == len(other.columns):
                return other
    return None


def first_cell(value: Any) -> Any:
    """A scalar argument as it is, or the one cell of a range passed for one (None when empty); a range
    of several filled cells is refused: its first alone was taken (a code, an action number, a year),
    `ACV_TOTAL_FINANCEUR(…; A2:A3)` over « ETAT » and « FEDER » the État's total, said as both."""
    if isinstance(value, (list, tuple)):
        filled = [v for r in as_2d(value) for v in (r if isinstance(r, (list, tuple)) else [r])
                  if not is_blank(officejs_cell(v) if v.__class__ in OFFICEJS_SPECIAL else v)]
        if len(filled) > 1:
            raise UdfError(f"une plage de {len(filled)} cellules remplies est passée là où la fonction attend une "
                           "seule valeur (un code de financeur, un numéro d'action, une année…) : passez une seule "
                           "cellule ; pour plusieurs, additionnez un appel de la fonction par valeur.")
        return filled[0] if filled else None
    return value


def text_arg(value: Any) -> str | None:
    """A scalar text argument (a cell or a literal): None when empty; 1.0 → "1"."""
    value = first_cell(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):  # as a French Excel shows it, never Python's « True »
        return "VRAI" if value else "FAUX"
    if isinstance(value, (date, datetime)):  # a date cell on the desktop: as Excel shows it, not « 2025-01-01 00:00:00 »
        return fmt_date(value)
    if isinstance(value, float) and value.is_integer():  # 1E+308 quoted as Excel shows it, not in 309 digits
        return fmt_typed(value)
    return str(value).strip()


_T = layout.T_FINANCEMENTS
_REFUSE_NOT_COUNTED = (
    f"les lignes « {layout.STATUT_REFUSE} » ne comptent dans aucun total, comme pour « Valider » ; leur montant : "
    f"=SOMME.SI.ENS({_T.name}[{_T.header('montant')}];{_T.name}[{_T.header('statut')}];\"{layout.STATUT_REFUSE}\") "
    f"(feuille Synthèse, ligne « {layout.STATUT_REFUSE} (non compté) »).")


def statuts_arg(value: Any) -> list[str] | None:
    """`"Acquis;Engagé;Versé"` (or a range of statuts) → the list, checked against the contract."""
    items: list[str] = []
    for r in as_2d(value):
        for v in r:
            if isinstance(n := first_cell(v), float) and math.isfinite(n):
                # one number, quoted as Excel shows it (« 2,5 », « 1E+308 »), never cut at its decimal comma
                items.append(fmt_typed(n))
            elif t := text_arg(v):
                items.extend(s.strip() for s in t.replace(",", ";").split(";") if s.strip())
    if not items:
        return None
    out = []
    for s in items:
        # in the plan's case (« acquis » is « Acquis », as a Statut cell reads it and SOMME.SI.ENS compares)
        listed = parse_choice(s, layout.L.STATUT).value
        if listed is None:
            raise UdfError(f"statut « {s} » inconnu (valeurs possibles : {', '.join(layout.L.STATUT)}).")
        if listed == layout.STATUT_REFUSE:
            # no total counts them: asked for, they summed 0,00 € — « nothing refused », without a word
            raise UdfError(_REFUSE_NOT_COUNTED)
        out.append(listed)
    return out


def year_arg(value: Any) -> int | None:
    t = text_arg(value)
    if t is None:
        return None
    # a number from a cell is shown as Excel shows it in French (2025,5), a text as typed
    bad = UdfError(f"année « {t.replace('.', ',') if isinstance(value, float) else t} » invalide "
                   "(attendu : un nombre à 4 chiffres, ex. 2025).")
    try:
        f = float(t.replace(",", "."))
    except ValueError:
        raise bad from None
    if not f.is_integer() or not 1900 <= f <= 2100:  # 2025,5 is no year: truncated, it summed 2025
        raise bad
    return int(f)
