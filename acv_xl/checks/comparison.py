"""Two states of one convention → the list of changes and the totals' écarts (evolution.md).

Defined once, pure: `comparer`, the avenant's annex (`annexe --depuis`) and « modifié depuis la
validation » all call `compare`; the writers (text, JSON, workbook, annex) only render its result.

- Rows are matched by the key of their table (`layout.COMPARISON_KEYS`), never by position:
  moving or re-sorting rows is no change. Rows sharing a key are paired in order, after the rows
  identical in every column have been paired with each other (so that re-sorting two lines of the
  same key, e.g. two DSIL 2025 tranches of one action, is no change either).
- Values are compared as typed values (`1 200 000` typed as text, `1200000` and `1200000.0` are one
  amount), a value that did not parse by what was typed (a date and its text are not equal).
- One `modification` per changed column of a matched row; an unmatched row is one `ajout` or
  one `suppression`. Named cells are matched by name (the status cells written by « Valider »
  are left out: they describe a validation, not the convention).
- Totals come from `totals.compute` (the numbers `valider` prints), never summed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from acv_xl.checks import totals
from acv_xl.contract import layout
from acv_xl.contract.layout import Kind
from acv_xl.contract.model import ROW_MODELS, Convention, Ligne
from acv_xl.contract.values import parse_iso_date
from acv_xl.reading.source import a1, parse_a1

AJOUT = "ajout"
SUPPRESSION = "suppression"
MODIFICATION = "modification"
TYPES = (AJOUT, SUPPRESSION, MODIFICATION)

# The totals compared, in the order of the JSON report (`cout_total` first, then the breakdowns).
TOTAL_GROUPS = ("par_financeur", "par_axe", "par_annee", "par_statut")


@dataclass(frozen=True)
class Change:
    """One change. `champ` is the column header (a named cell's label) of a modification, None for
    a whole row added or removed; then `avant`/`apres` hold the row as {header: value}."""

    type: str
    table: str | None  # None for a named cell
    feuille: str
    cle: dict[str, Any]
    action: str | None
    champ: str | None
    avant: Any
    apres: Any
    cellule_avant: str = ""
    cellule_apres: str = ""
    # a financing line's statut changed: the amount that change moves (`status_amount`), None otherwise —
    # « Sollicité → Acquis » alone does not tell a comité how much was obtained
    montant: Decimal | None = None

    def as_json(self) -> dict:
        return {
            "type": self.type, "table": self.table, "feuille": self.feuille,
            "cle": {k: json_value(v) for k, v in self.cle.items()},
            "action": self.action, "champ": self.champ,
            "avant": json_value(self.avant), "apres": json_value(self.apres),
            "cellule_avant": self.cellule_avant, "cellule_apres": self.cellule_apres,
            "montant": json_value(self.montant),
        }


@dataclass(frozen=True)
class Ecart:
    avant: Decimal
    apres: Decimal

    @property
    def ecart(self) -> Decimal:
        return totals.difference(self.apres, self.avant)

    def as_json(self) -> dict:
        return {"avant": float(self.avant), "apres": float(self.apres), "ecart": float(self.ecart)}


@dataclass
class Comparison:
    changes: list[Change] = field(default_factory=list)
    cout_total: Ecart = field(default_factory=lambda: Ecart(totals.ZERO, totals.ZERO))
    financement_total: Ecart = field(default_factory=lambda: Ecart(totals.ZERO, totals.ZERO))
    groups: dict[str, dict[str, Ecart]] = field(default_factory=dict)  # par_financeur … → key → écart
    # par_financeur … → the counted financing that breakdown could not place (no financeur, no valid
    # year or statut, no known action: `Totaux.non_ventile`), so that each breakdown adds up
    non_ventile: dict[str, Ecart] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def moved(self, group: str) -> dict[str, Ecart]:
        """The keys of a breakdown whose total moved."""
        return {k: e for k, e in self.groups.get(group, {}).items() if e.ecart != 0}

    def totaux_json(self) -> dict:
        out = {"cout_total": self.cout_total.as_json(), "financement_total": self.financement_total.as_json()}
        for g in TOTAL_GROUPS:
            out[g] = {k: e.as_json() for k, e in self.groups.get(g, {}).items()}
        out["non_ventile"] = {g: e.as_json() for g, e in self.non_ventile.items()}
        return out


def json_value(v: Any) -> Any:
    """A value of a change as JSON: amounts as numbers (to the cent), dates as ISO text."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: json_value(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


# ------------------------------------------------------------------------------ values
def _value(row: Ligne, attr: str, kind: Kind) -> Any:
    """The typed value of a cell, or what was typed when it did not parse (None when blank)."""
    v = row.__dict__.get(attr)
    if v is not None:
        return v
    raw = row.raw.get(attr)
    if raw is None:
        return None
    problem = row.problems.get(attr)
    if problem is not None and problem.kind == "texte_nombre" and problem.suggestion is not None:
        return problem.suggestion  # « 1 200 000 » typed as text is the amount 1 200 000
    if raw.__class__ is str:
        raw = raw.strip()
        if not raw:
            return None
        if kind is Kind.DATE:
            raw = parse_iso_date(raw)  # a date cell as Office.js sends it is the date itself
    return raw


# Two values are the same when `==` says so: typed values of one column compare as they should
# (Decimal("1200000.00") == 1200000), and values of different kinds never do (a date is not its
# text, a date is not a datetime, None is nothing else). So whole rows compare as tuples, in C.


def _row_range(row: Ligne, table: layout.Table) -> str:
    """The row's cells as a range (first to last column read): where to look in the workbook."""
    cells = [row.cells[c.attr] for c in table.columns if c.attr in row.cells]
    if not cells:
        return ""
    if len(cells) == 1:
        return cells[0]
    positions = [parse_a1(c) for c in cells]
    r = positions[0][0]
    return f"{a1(r, min(p[1] for p in positions))}:{a1(r, max(p[1] for p in positions))}"


def _key_value(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


# ------------------------------------------------------------------------------ compare
def compare(avant: Convention, apres: Convention, totaux_avant: totals.Totaux | None = None,
            totaux_apres: totals.Totaux | None = None) -> Comparison:
    """The changes from `avant` to `apres` and the écarts of their totals (see the module doc).
    Totals already computed by a validation may be passed, so that they are not computed twice."""
    changes: list[Change] = _named_changes(avant, apres)
    for table in layout.TABLES:
        if table.name in ROW_MODELS and table.user_filled:
            changes += _table_changes(table, avant.rows(table.name), apres.rows(table.name))
    ta = totaux_avant if totaux_avant is not None else totals.compute_exact(avant)
    tb = totaux_apres if totaux_apres is not None else totals.compute_exact(apres)
    groups = {}
    for g in TOTAL_GROUPS:
        da, db = getattr(ta, g), getattr(tb, g)
        keys = sorted(set(da) | set(db), key=_natural)
        groups[g] = {k: Ecart(da.get(k, totals.ZERO), db.get(k, totals.ZERO)) for k in keys}
    nva, nvb = ta.non_ventile, tb.non_ventile
    return Comparison(changes=changes, cout_total=Ecart(ta.cout_total, tb.cout_total),
                      financement_total=Ecart(ta.financement_total, tb.financement_total),
                      groups=groups, non_ventile={g: Ecart(nva[g], nvb[g]) for g in TOTAL_GROUPS})


def _natural(k: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in str(k).split("."))


def _named_changes(avant: Convention, apres: Convention) -> list[Change]:
    out = []
    for nc in layout.NAMED_CELLS:
        if not nc.user_filled:
            continue
        a, b = avant.names.get(nc.name), apres.names.get(nc.name)
        va, vb = _named_value(a, nc.kind), _named_value(b, nc.kind)
        if va == vb:
            continue
        # a named cell always exists: a value typed or erased is a modification of that cell
        out.append(Change(MODIFICATION, None, nc.sheet, {layout.NAMED_CELL_KEY: nc.name}, None,
                          nc.label, va, vb, a.cell if a else "", b.cell if b else ""))
    return out


def _named_value(nv, kind: Kind) -> Any:
    if nv is None:
        return None
    if nv.value is not None:
        return nv.value
    raw = nv.raw
    if isinstance(raw, str):
        raw = raw.strip() or None
        if raw is not None and kind is Kind.DATE:
            raw = parse_iso_date(raw)
    return raw


def _table_changes(table: layout.Table, rows_a: list[Ligne], rows_b: list[Ligne]) -> list[Change]:
    cols = [(c.attr, c.header, c.kind) for c in table.columns]
    key_attrs = layout.COMPARISON_KEYS[table.name]
    kinds = {c.attr: c.kind for c in table.columns}
    has_action = "numero" in kinds

    plan = tuple((attr, kind) for attr, _h, kind in cols)
    key_plan = tuple((attr, kinds[attr]) for attr in key_attrs)

    def prepared(rows: list[Ligne]) -> dict[tuple, list[tuple[Ligne, tuple]]]:
        groups: dict[tuple, list[tuple[Ligne, tuple]]] = {}
        for r in rows:
            if r.is_empty():
                continue
            d, raw = r.__dict__, r.raw  # the typed values; `_value` only for a value that did not parse
            values = tuple([v if (v := d.get(attr)) is not None else None if raw.get(attr) is None
                            else _value(r, attr, kind) for attr, kind in plan])
            key = tuple([_key_value(v if (v := d.get(attr)) is not None else _value(r, attr, kind))
                         for attr, kind in key_plan])
            groups.setdefault(key, []).append((r, values))
        return groups

    ga, gb = prepared(rows_a), prepared(rows_b)
    # a financing line's statut: the amount its change moves is said with it (`status_amount`)
    status = amount = None
    if table is layout.T_FINANCEMENTS:
        attrs = [attr for attr, _h, _k in cols]
        status, amount = attrs.index("statut"), attrs.index("montant")
    out: list[Change] = []
    for key in list(ga) + [k for k in gb if k not in ga]:
        la, lb = ga.get(key, []), gb.get(key, [])
        if len(la) == 1 and len(lb) == 1:
            pairs, only_a, only_b = [(la[0], lb[0])], [], []
        else:
            pairs, only_a, only_b = _pair(la, lb)
        for (ra, va), (rb, vb) in pairs:
            if va == vb:
                continue
            for i, ((attr, header, _k), x, y) in enumerate(zip(cols, va, vb)):
                if x != y:
                    out.append(Change(MODIFICATION, table.name, table.sheet, _cle(table, ra, key_attrs),
                                      ra.numero if has_action else None, header, x, y,
                                      ra.cell(attr), rb.cell(attr),
                                      status_amount(y, va[amount], vb[amount]) if i == status else None))
        for r, v in only_a:
            out.append(Change(SUPPRESSION, table.name, table.sheet, _cle(table, r, key_attrs),
                              r.numero if has_action else None, None, _row_dict(cols, v), None,
                              _row_range(r, table), ""))
        for r, v in only_b:
            out.append(Change(AJOUT, table.name, table.sheet, _cle(table, r, key_attrs),
                              r.numero if has_action else None, None, None, _row_dict(cols, v),
                              "", _row_range(r, table)))
    return out


def status_amount(statut_after: Any, amount_before: Any, amount_after: Any) -> Decimal | None:
    """The amount a financing line's statut change moves: the line's amount after the change, or, passed
    to « Refusé » (out of every total), the amount it counted for before; None when not a number."""
    moved = amount_before if statut_after == layout.STATUT_REFUSE else amount_after
    if isinstance(moved, (int, float)) and not isinstance(moved, bool):
        moved = Decimal(str(moved))
    return moved if isinstance(moved, Decimal) and moved.is_finite() else None


def _pair(la: list, lb: list) -> tuple[list, list, list]:
    """Rows sharing a key: identical rows first, then the others in order; the rest unmatched."""
    pairs = []
    same: dict[tuple, list] = {}
    for item in lb:
        same.setdefault(item[1], []).append(item)
    used: set[int] = set()
    left_a = []
    for item in la:
        twins = same.get(item[1])
        if twins:
            twin = twins.pop(0)
            used.add(id(twin))
            pairs.append((item, twin))
        else:
            left_a.append(item)
    left_b = [item for item in lb if id(item) not in used]
    n = min(len(left_a), len(left_b))
    pairs += list(zip(left_a[:n], left_b[:n]))
    # the pairs in the order of `avant`, so that the changes read in the workbook's order
    order = {id(item): i for i, item in enumerate(la)}
    pairs.sort(key=lambda p: order[id(p[0])])
    return pairs, left_a[n:], left_b[n:]


def _cle(table: layout.Table, row: Ligne, key_attrs: tuple[str, ...]) -> dict[str, Any]:
    return {table.header(attr): _value(row, attr, table.column(attr).kind) for attr in key_attrs}


def _row_dict(cols, values: tuple) -> dict[str, Any]:
    return {header: v for (_attr, header, _k), v in zip(cols, values) if v is not None}
