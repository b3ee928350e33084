"""DIA — the diagnostic on the five axes (`T_Diagnostic`)."""

from __future__ import annotations

from datetime import date
from typing import Iterable

from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.model import Convention
from acv_xl.contract.values import fmt_date

from . import (
    SRC_GUIDE,
    A,
    E,
    at,
    at_table,
    blank,
    prefix,
    problem_findings,
    q,
    reference_date,
    required_findings,
    rows,
    rule,
)

T = layout.T_DIAGNOSTIC


@rule("DIA-01", E, "Axe sans élément de diagnostic", SRC_GUIDE, needs=("T_Diagnostic",))
def axe_sans_diagnostic(conv: Convention) -> Iterable[Finding]:
    """One finding per axe (1..5) with no line, pointing at the table's first `Axe` cell. Not
    judged while a line has an unreadable or empty axe (DIA-02): it may be the missing one."""
    lignes = rows(conv, T)
    if any(d.axe is None for d in lignes):
        return
    present = {d.axe for d in lignes}
    for n, label in layout.AXES.items():
        if n not in present:
            yield at_table(conv, T, "DIA-01", E,
                           f"Le diagnostic ne contient aucun élément pour l'axe {n} ({q(label)}).",
                           f"Ajoutez au moins une ligne « Axe {n} » (élément existant ou étude complémentaire).",
                           attr="axe")


@rule("DIA-02", E, "Axe du diagnostic invalide", SRC_GUIDE, needs=("T_Diagnostic",))
def axe_invalide(conv: Convention) -> Iterable[Finding]:
    """`Axe` empty or not one of the five (3, « Axe 3 » and the official label are accepted by the reader)."""
    yield from problem_findings(conv, T, ("axe",), "DIA-02", E)
    for d in rows(conv, T):
        if blank(d, "axe"):
            yield at(d, "axe", "DIA-02", E, f"{prefix(d)} : l'axe de l'élément de diagnostic n'est pas renseigné.",
                     "Choisissez « Axe 1 » à « Axe 5 » dans la liste déroulante.")


@rule("DIA-03", A, "Étude complémentaire sans coût ou sans financeur pressenti", SRC_GUIDE,
      needs=("T_Diagnostic.cout_estime", "T_Diagnostic.financeur_pressenti"))
def etude_incomplete(conv: Convention) -> Iterable[Finding]:
    """One finding per missing cell (a cost that is not a number is DIA-05's, not « vide »)."""
    for d in rows(conv, T):
        if d.type != layout.DIAGNOSTIC_ETUDE:
            continue
        if blank(d, "cout_estime"):
            yield at(d, "cout_estime", "DIA-03", A,
                     f"{prefix(d)} : l'étude complémentaire {q(d.element or '')} n'a pas de coût estimé.",
                     "Saisissez le coût estimé de l'étude en euros HT.")
        if blank(d, "financeur_pressenti"):
            yield at(d, "financeur_pressenti", "DIA-03", A,
                     f"{prefix(d)} : l'étude complémentaire {q(d.element or '')} n'a pas de financeur pressenti.",
                     "Indiquez le financeur pressenti (par exemple CDC pour l'ingénierie de la Banque des Territoires).")


@rule("DIA-04", A, "Diagnostic non finalisé après la phase d'initialisation", SRC_GUIDE,
      needs=("T_Diagnostic.etat",))
def non_finalise(conv: Convention) -> Iterable[Finding]:
    """When the reference date (the next comité when filled, else today) is after
    `acv_date_fin_initialisation`, every element whose `État` is not `Finalisé` (empty included)."""
    fin = conv.value("acv_date_fin_initialisation")
    if not isinstance(fin, date):
        return
    ref = reference_date(conv)
    if ref <= fin:
        return
    for d in rows(conv, T):
        if d.etat != layout.DIAGNOSTIC_FINALISE and "etat" not in d.problems:
            etat = q(d.etat) if d.etat else "non renseigné"
            yield at(d, "etat", "DIA-04", A,
                     f"{prefix(d)} : la phase d'initialisation est close depuis le {fmt_date(fin)} mais l'élément "
                     f"{q(d.element or '')} n'est pas finalisé (état : {etat}).",
                     "Finalisez l'élément (état « Finalisé ») ou expliquez-en le report au comité de projet.")


@rule("DIA-05", E, "Valeur invalide dans le diagnostic", SRC_GUIDE, needs=("T_Diagnostic",))
def valeurs(conv: Convention) -> Iterable[Finding]:
    """Added code: `Type`/`État` outside their list, `Date` not a date, `Coût estimé` not a number,
    `Élément de diagnostic` or `Type` empty."""
    yield from problem_findings(conv, T, ("date_source", "type", "cout_estime", "etat"), "DIA-05", E)
    yield from required_findings(conv, T, ("element", "type"), "DIA-05", E)
