"""The changes between two states of a convention, as French text and as JSON (evolution.md).

Used by `acv-xl comparer` and by the validation report (« modifié depuis la validation »). Every
change and every écart comes from `acv_xl.checks.comparison`; this module only words them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from itertools import groupby
from typing import Any, Iterable

from acv_xl.checks.comparison import AJOUT, MODIFICATION, SUPPRESSION, Change, Comparison, Ecart
from acv_xl.contract import layout
from acv_xl.contract.layout import Kind
from acv_xl.contract.values import fmt_date, fmt_euros, fmt_number, to_cents
from acv_xl.outputs.formats import fit_cell

_SHEET_ORDER = {s: i for i, s in enumerate(layout.SHEETS)}
TYPE_LABELS = {AJOUT: "Ajout", SUPPRESSION: "Suppression", MODIFICATION: "Modification"}
EMPTY = "(vide)"
# In the description of every workbook of écarts: `comparer -o` replaces only a file carrying it.
WORKBOOK_MARK = "acv-xl comparer"
GROUP_LABELS = {"par_financeur": "Financeur", "par_axe": "Axe", "par_annee": "Année", "par_statut": "Statut"}
GROUP_TITLES = {"par_financeur": "Par financeur", "par_axe": "Par axe", "par_annee": "Par année",
                "par_statut": "Par statut"}
# the financing a breakdown could not place (`Comparison.non_ventile`), said in each breakdown
NON_VENTILE_LABELS = {"par_financeur": "Financements sans financeur reconnu",
                      "par_axe": "Financements sans axe (action inconnue ou sans axe)",
                      "par_annee": "Financements sans année valide",
                      "par_statut": "Financements sans statut valide"}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n <= 1 else many}"


def kind_of(change: Change, champ: str | None = None) -> Kind:
    """The kind of the column a value of `change` sits in (text when unknown)."""
    champ = champ if champ is not None else change.champ
    if change.table is None:
        nc = layout.NAMED_BY_NAME.get(change.cle.get(layout.NAMED_CELL_KEY, ""))
        return nc.kind if nc else Kind.TEXT
    table = layout.TABLES_BY_NAME.get(change.table)
    if table is not None:
        for c in table.columns:
            if c.header == champ:
                return c.kind
    return Kind.TEXT


# How much of a text value the terminal shows (`fmt_value`'s `room`): a comment of 20 000 emoji
# changed was quoted whole, twice, 80 kB in one line; JSON and the workbook of écarts keep it whole.
TERMINAL_VALUE_CHARS = 200
CUT_NOTE = ("Les valeurs longues sont abrégées (« … ») ; « --format json » et le classeur des écarts "
            "(« -o ») les donnent entières.")
SINCE_CUT_NOTE = "Les valeurs longues sont abrégées (« … ») ; « --format json » les donne entières."


def fmt_value(value: Any, kind: Kind = Kind.TEXT, room: int | None = None) -> str:
    """A value of a change in French: amounts in euros, dates dd/mm/yyyy, « (vide) » for nothing; a text
    cut to `room` characters with « … » (`fit_cell`) when given."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, (date, datetime)):
        return fmt_date(value)
    if isinstance(value, (Decimal, float, int)):
        if kind is Kind.AMOUNT:
            return fmt_euros(value)
        if kind in (Kind.YEAR, Kind.AXE) and (isinstance(value, float) and value.is_integer() or isinstance(
                value, Decimal) and value.is_finite() and value == value.to_integral_value()):
            value = int(value)  # read as a float (a year typed out of range, 3021.0): « 3021 »
        if kind is Kind.AXE:
            return f"Axe {value}"
        if isinstance(value, int):  # a year too (never « 2 026 »)
            return str(value)
        if kind is Kind.YEAR:
            return str(value).replace(".", ",")  # « 2021,5 »: a year's digits never grouped
        # as many decimals as the value has (up to 6): rounded to 2, 0,3541 → 0,3549 read « 0,35 → 0,35 »
        d = Decimal(str(value))
        if not d.is_finite():
            return fmt_number(d)
        # with the digits the value needs (as `fmt_number`): 28 by default, and a crafted 1E+25
        # target overflowed them (« erreur interne inattendue (InvalidOperation) »)
        ctx = Context(prec=max(28, d.adjusted() + 8))
        d = d.quantize(Decimal("0.000001"), ROUND_HALF_UP, ctx).normalize(ctx)
        return fmt_number(d, max(0, -d.as_tuple().exponent))
    text = str(value) if room is None else fit_cell(str(value), room)
    return f"« {text} »" if kind in (Kind.TEXT, Kind.CHOICE) else text


def fmt_ecart(value: Decimal) -> str:
    """`+1 000,00 €` / `-1 000,00 €` / `0,00 €`, as `FMT_EUROS_ECART` shows it in a cell."""
    return ("+" if to_cents(value) > 0 else "") + fmt_euros(value)


def key_text(change: Change, room: int | None = None) -> str:
    """The key of a changed row, e.g. « ETAT · DSIL · Subvention · 2024 » (the action is said apart);
    each part cut to `room` (`fmt_value`)."""
    if change.table is None:
        return ""
    parts = []
    for header, v in change.cle.items():
        if header == layout.T_ACTIONS.header("numero") and change.action is not None:
            continue
        if v is None:
            continue
        kind = kind_of(change, header)
        if kind is Kind.AXE:
            parts.append(fmt_value(v, kind) if isinstance(v, (float, Decimal)) else f"Axe {v}")
        elif isinstance(v, (date, float, Decimal)):  # « 3021 », « 2021,5 », never « 3021.0 »
            parts.append(fmt_value(v, kind))
        else:
            parts.append(str(v) if room is None else fit_cell(str(v), room))
    return " · ".join(parts)


def _row_summary(change: Change, row: dict[str, Any], room: int | None = None) -> str:
    """What an added or removed row holds, briefly: the amounts and the status, or its title."""
    shown = []
    for header, v in row.items():
        if header in change.cle:
            continue
        kind = kind_of(change, header)
        if kind is Kind.AMOUNT or header in (layout.T_FINANCEMENTS.header("statut"),
                                             layout.T_ACTIONS.header("intitule")):
            shown.append(f"{header} : {fmt_value(v, kind, room)}")
    return ", ".join(shown)


def champ_text(change: Change, sep: str = " ") -> str:
    """The changed column as every output names it: a financing line's statut with the amount its change
    moves (`Change.montant`), « Statut (ligne de 120 000,00 €) » — `sep` before the parenthesis and
    before the amount: line breaks put the amount on its own line of a narrow cell (the annex's), where a
    wrap at its spaces cut it in two (« (ligne de 345 000,00 » then « €) »)."""
    if change.montant is None:
        return change.champ or ""
    return f"{change.champ}{sep}(ligne de{sep}{fmt_euros(change.montant)})"


def describe(change: Change, room: int | None = None) -> str:
    """One change in one line (without its action, said by the group above it); its texts cut to `room`
    (`fmt_value`), for a terminal."""
    if change.table is None:
        return (f"{change.champ} ({change.cellule_apres or change.cellule_avant}) : "
                f"{fmt_value(change.avant, kind_of(change), room)} → {fmt_value(change.apres, kind_of(change), room)}")
    key = key_text(change, room)
    if change.type == MODIFICATION:
        where = change.cellule_avant if change.cellule_avant == change.cellule_apres else \
            f"{change.cellule_avant} → {change.cellule_apres}"
        what = f"{key} — " if key else ""
        kind = kind_of(change)
        return f"Modification {where} : {what}{champ_text(change)} : {fmt_value(change.avant, kind, room)} → " \
               f"{fmt_value(change.apres, kind, room)}"
    row = change.apres if change.type == AJOUT else change.avant
    cell = change.cellule_apres if change.type == AJOUT else change.cellule_avant
    summary = _row_summary(change, row or {}, room)
    # a removed row's cells are those it had before (in the workbook before, at the validation): there,
    # the workbook now holds another row
    where = cell if change.type == AJOUT else f"(auparavant {cell})" if cell else ""
    label = "Ligne ajoutée" if change.type == AJOUT else "Ligne supprimée"
    return f"{label} {where}".rstrip() + (f" : {key}" if key else "") + (f" ({summary})" if summary else "")


def _sheet_key(c: Change):
    return _SHEET_ORDER.get(c.feuille, len(_SHEET_ORDER)), c.feuille


def _action_key(c: Change):
    n = c.action or ""
    return (c.action is None, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in n.split(".")))


def reading_order(changes: Iterable[Change]) -> list[Change]:
    """The changes by sheet (workbook order), then by action, as the text groups them (stable: the
    comparison's order within an action)."""
    return sorted(changes, key=lambda c: (_sheet_key(c), _action_key(c)))


def change_lines(changes: Iterable[Change], indent: str = "", room: int | None = None) -> list[tuple[str, str]]:
    """(style, text) lines: grouped by sheet (workbook order), then by action; texts cut to `room`
    (`describe`)."""
    out: list[tuple[str, str]] = []
    ordered = sorted(changes, key=_sheet_key)  # stable: keeps the comparison's order inside a sheet
    for (_, sheet), group in groupby(ordered, key=_sheet_key):
        out.append(("bold underline", f"{indent}Feuille {sheet}"))
        for action, items in groupby(sorted(group, key=_action_key), key=lambda c: c.action):
            sub = indent + "  "
            if action:
                out.append(("bold", f"{sub}Action {action if room is None else fit_cell(action, room)}"))
                sub += "  "
            for c in items:
                out.append(("", f"{sub}{describe(c, room)}"))
    return out


def ecart_text(label: str, e: Ecart) -> str:
    return f"{label} : {fmt_euros(e.avant)} → {fmt_euros(e.apres)} (écart : {fmt_ecart(e.ecart)})"


def financeur_names(*convs) -> dict[str, str]:
    """Code → name of each financeur, as the workbooks' own Financeurs sheet says it (the later
    workbook wins): a référent reads « DEPT — Département du Pas-de-Calais », not a code alone."""
    names: dict[str, str] = {}
    for conv in convs:
        for f in getattr(conv, "financeurs", None) or ():
            if f.code and f.nom and str(f.nom).strip() and str(f.nom).strip() != str(f.code).strip():
                names[str(f.code).strip()] = str(f.nom).strip()
    return names


def group_label(group: str, key: str, names: dict[str, str] | None = None) -> str:
    if group == "par_axe" and key.isdigit() and int(key) in layout.AXES:
        return f"Axe {key}"
    if group == "par_financeur" and names and key in names:
        return f"{GROUP_LABELS[group]} {key} — {names[key]}"
    return f"{GROUP_LABELS[group]} {key}"


def totals_lines(comp: Comparison, indent: str = "", names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The totals that moved: coût total, financements, then each key of each breakdown (`names`:
    `financeur_names`, for the financeurs' lines)."""
    out = []
    if comp.cout_total.ecart:
        out.append(("", indent + ecart_text("Coût total des actions", comp.cout_total)))
    if comp.financement_total.ecart:
        out.append(("", indent + ecart_text("Total des financements", comp.financement_total)))
    for g in GROUP_LABELS:
        for k, e in comp.moved(g).items():
            out.append(("", indent + ecart_text(group_label(g, k, names), e)))
        e = comp.non_ventile.get(g)
        if e is not None and e.ecart:  # else the breakdown would not add up to the total's écart
            out.append(("", indent + ecart_text(NON_VENTILE_LABELS[g], e)))
    return out


def counts_text(changes: list[Change]) -> str:
    n = {t: sum(c.type == t for c in changes) for t in TYPE_LABELS}
    return (f"{_plural(len(changes), 'changement', 'changements')} : {_plural(n[AJOUT], 'ajout', 'ajouts')}, "
            f"{_plural(n[SUPPRESSION], 'suppression', 'suppressions')}, "
            f"{_plural(n[MODIFICATION], 'modification', 'modifications')}")


def to_json(comp: Comparison, avant: dict, apres: dict) -> dict:
    """`{"avant": {…}, "apres": {…}, "changements": […], "totaux": {…}}` (evolution.md)."""
    return {"avant": avant, "apres": apres, "changements": [c.as_json() for c in comp.changes],
            "totaux": comp.totaux_json()}


# ------------------------------------------------------------------------------ since the validation
def since_title(date_validation: Any, revalidated: bool = False) -> str:
    """`revalidated`: said in a workbook this run validates anew (an annotated copy, the « Valider »
    button), whose Accueil then shows today's validation: the changes are since the one before."""
    if revalidated:
        return ("Modifié depuis la validation précédente"
                + (f" ({fmt_date(date_validation)})" if isinstance(date_validation, date) else ""))
    when = f" du {fmt_date(date_validation)}" if isinstance(date_validation, date) else ""
    return f"Modifié depuis la validation{when}"


_NOTHING_CHANGED = ("aucune donnée n'a changé : des lignes ont seulement été déplacées ou triées, une valeur a "
                    "été saisie autrement (par exemple un montant tapé comme du texte) ou juste hors d'un tableau "
                    "(constat STR-09)")
NOTHING_CHANGED = f"{_NOTHING_CHANGED} ; validez de nouveau pour enregistrer ce nouvel état"
# in a workbook this run validates, the new state is recorded already: « validez de nouveau » sent
# the user to click again for nothing
NOTHING_CHANGED_REVALIDATED = f"{_NOTHING_CHANGED} ; cette validation enregistre ce nouvel état"


def controle_rows(comp: Comparison, date_validation: Any = None, revalidated: bool = False) -> list:
    """The changes since the validation as rows of the `Contrôles` table (gravité « Information »,
    no rule code: they explain the état, they are not findings), each pointing at its cell now.
    `revalidated`: the workbook they are written into is validated by this run (`since_title`)."""
    from acv_xl.checks.findings import Finding, Gravite

    title = since_title(date_validation, revalidated)
    if not comp.changes:
        said = NOTHING_CHANGED_REVALIDATED if revalidated else NOTHING_CHANGED
        return [Finding(code="", gravite=Gravite.INFORMATION, message=f"{title} — {said}.")]
    rows = []
    for c in sorted(comp.changes, key=lambda c: (_sheet_key(c), _action_key(c))):
        cell = "" if c.type == SUPPRESSION else c.cellule_apres
        rows.append(Finding(code="", gravite=Gravite.INFORMATION, feuille=c.feuille, cellule=cell,
                            action=c.action or "", message=f"{title} — {describe(c)}"))  # describe has its colons
    return rows


def since_json(report) -> list | None:
    """The `depuis_validation` key of the validation report: the changes (evolution.md form)."""
    comp = getattr(report, "depuis_validation", None)
    return [c.as_json() for c in comp.changes] if comp is not None else None
