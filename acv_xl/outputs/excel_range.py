"""Whether a convention's amounts fit in a spreadsheet: the annex, `comparer` and the web button
« Générer l'annexe » ask it before writing (a module of its own: `comparer --format json` writes no
workbook, and imports neither XlsxWriter nor the annex for it)."""

from __future__ import annotations

import sys
from decimal import Decimal

from acv_xl.contract.model import Convention
from acv_xl.contract.values import EXCEL_MAX


def beyond_excel(conv: Convention, before: Convention | None = None, comp=None) -> str | None:
    """Why the annex cannot be written, in French, when amounts of `conv` (and of `before`, the
    convention before the avenant, whose comparison is `comp`), alone or added up, pass a
    spreadsheet's largest number; else None. The annex adds them up (matrix, totals, écarts): two
    amounts of 9E+307 made a float infinity, which XlsxWriter refuses (« erreur interne inattendue
    (TypeError) »). A sum of the annex is at most the sum of its amounts' sizes; an action's écart,
    that of both kinds; the avenant's écarts are those `comp` holds, and its costs' of both states."""
    largest_float = Decimal(sys.float_info.max)

    def size(values) -> Decimal:
        return sum((abs(v) if v.is_finite() else largest_float for v in values if isinstance(v, Decimal)),
                   Decimal(0))

    costs = []
    for c in (conv, *([before] if before is not None else [])):
        fin, cost = size(lf.montant for lf in c.financements), size(a.cout_total for a in c.actions)
        costs.append(cost)
        if fin > EXCEL_MAX or cost > EXCEL_MAX or fin + cost >= largest_float:
            break
    else:
        ecarts = [] if comp is None else [comp.cout_total, comp.financement_total, *comp.non_ventile.values(),
                                          *(e for g in comp.groups.values() for e in g.values())]
        if sum(costs) < largest_float and all(abs(e.ecart) <= EXCEL_MAX for e in ecarts):
            return None
    return ("des montants du plan de financement ou des coûts des actions, seuls ou additionnés, dépassent le "
            "plus grand nombre d'un tableur (9,99 × 10^307) : corrigez ces montants, puis relancez.")
