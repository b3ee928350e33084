"""IND — the evaluation plan (`T_Indicateurs`)."""

from __future__ import annotations

from typing import Iterable

from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.model import Convention

from . import (
    convention_years,
    SRC_GUIDE,
    A,
    E,
    action_reference,
    at,
    blank,
    prefix,
    problem_findings,
    q,
    required_findings,
    rows,
    rule,
)

T = layout.T_INDICATEURS


@rule("IND-01", E, "Indicateur rattaché à une action inconnue", SRC_GUIDE, needs=("T_Indicateurs", "T_Actions"))
def action_inconnue(conv: Convention) -> Iterable[Finding]:
    yield from action_reference(conv, rows(conv, T), "IND-01", lambda i: (
        f"Ligne {i.row} : l'indicateur {q(i.indicateur or '')} n'est rattaché à aucune action.",
        "Indiquez le numéro de l'action évaluée."))


@rule("IND-02", A, "Indicateur sans cible ou cible hors programme", SRC_GUIDE,
      needs=("T_Indicateurs.valeur_cible", "T_Indicateurs.annee_cible"))
def cible(conv: Convention) -> Iterable[Finding]:
    """`Valeur cible` empty; `Année cible` empty or outside the programme's years (when the
    programme is known). Unreadable values are IND-03's."""
    years, said = convention_years(conv) or (None, "")
    for i in rows(conv, T):
        if blank(i, "valeur_cible"):
            yield at(i, "valeur_cible", "IND-02", A, f"{prefix(i)} : l'indicateur {q(i.indicateur or '')} n'a pas de valeur cible.",
                     "Saisissez la valeur visée à l'année cible.")
        if blank(i, "annee_cible"):
            yield at(i, "annee_cible", "IND-02", A, f"{prefix(i)} : l'indicateur {q(i.indicateur or '')} n'a pas d'année cible.",
                     f"Saisissez une année de {years[0]} à {years[-1]}." if years else "Saisissez l'année cible.")
        elif i.annee_cible is not None and years is not None and i.annee_cible not in years:
            yield at(i, "annee_cible", "IND-02", A,
                     f"{prefix(i)} : l'année cible {i.annee_cible} est hors de la période {said}.",
                     f"Choisissez une année de {years[0]} à {years[-1]}.")


@rule("IND-03", A, "Valeur invalide dans les indicateurs", SRC_GUIDE, needs=("T_Indicateurs",))
def valeurs(conv: Convention) -> Iterable[Finding]:
    """Added code: values not numbers, `Année cible` not a year, `Indicateur` empty. An
    avertissement like IND-02: the evaluation plan does not block the financing decision."""
    yield from problem_findings(conv, T, ("valeur_initiale", "valeur_cible", "annee_cible"), "IND-03", A)
    yield from required_findings(conv, T, ("indicateur",), "IND-03", A)
