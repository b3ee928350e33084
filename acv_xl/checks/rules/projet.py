"""PRJ — identity of the convention (named cells of `Projet`, table `T_Communes`)."""

from __future__ import annotations

from datetime import date
from typing import Iterable

from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.model import Convention
from acv_xl.contract.values import fmt_date

from . import (
    RE_ACV_ID,
    RE_DEPARTEMENT,
    RE_SIREN,
    RE_SPACE,
    SRC_CONTRAT,
    SRC_GUIDE,
    STRUCTURE_KINDS,
    A,
    E,
    at,
    at_named,
    at_table,
    blank,
    describe_problem,
    is_insee,
    meant_acv_id,
    named_problems,
    prefix,
    q,
    required_findings,
    rows,
    rule,
)

T = layout.T_COMMUNES


def _named_problem(conv: Convention, name: str):
    nv = conv.names.get(name)
    return nv.problem if nv is not None else None


@rule("PRJ-01", E, "Cellule obligatoire du projet vide", SRC_GUIDE)
def cellule_vide(conv: Convention) -> Iterable[Finding]:
    """Required named cells that are really empty. The version is STR-05's; a missing defined name
    is STR-04's; a cell holding an unreadable value is reported by the rule of that value."""
    for nc in layout.NAMED_CELLS:
        if not nc.required or nc.name == "acv_version_modele" or nc.name in conv.structure.missing_names:
            continue
        if conv.value(nc.name) is None and _named_problem(conv, nc.name) is None:
            yield at_named(conv, nc.name, "PRJ-01", E, f"La cellule {q(nc.label)} est vide ; cette information est obligatoire.",
                           _default_hint(conv, nc.name))


def _default_hint(conv: Convention, name: str) -> str:
    if name == "acv_date_fin_deploiement" and conv.programme in layout.PROGRAMMES:
        return f"Pour {conv.programme}, la fin de déploiement est le {fmt_date(layout.PROGRAMMES[conv.programme][1])}."
    if name == "acv_programme":
        return "Choisissez « ACV 1 » (2018-2022) ou « ACV 2 » (2023-2026)."
    if name == "acv_id":
        return "Identifiant de la liste nationale : ACV suivi de trois chiffres, par exemple ACV012."
    return ""


def _dept_prefix(dept: str) -> str:
    return dept if len(dept) == 3 else dept[:2]


@rule("PRJ-02", E, "Communes de la convention absentes ou mal codées", SRC_GUIDE, needs=("T_Communes",))
def communes(conv: Convention) -> Iterable[Finding]:
    """No commune, a malformed `Code INSEE` (5 characters, `2A`/`2B` allowed), a code outside
    `acv_departement` (a binôme spans one département), an empty `Commune` name, a code on two rows
    (the second one is reported).
    A code typed as a number that lost its leading zero (1053) is suggested back as 01053."""
    lignes = rows(conv, T)
    if not lignes:
        yield at_table(conv, T, "PRJ-02", E,
                       "Aucune commune n'est renseignée dans le tableau des communes de la convention.",
                       "Saisissez la ville centre (code INSEE, nom, rôle « Ville centre ») et, pour un binôme, la commune associée.")
        return
    dept = conv.departement
    dept = str(dept).strip().upper() if dept else None
    first: dict[str, int] = {}  # each well-formed code → the row it first appears on
    for ligne in lignes:
        if has_structure_problem(ligne, "code_insee"):
            continue
        code = ligne.code_insee
        if blank(ligne, "code_insee"):
            yield at(ligne, "code_insee", "PRJ-02", E, f"{prefix(ligne)} : le code INSEE de la commune est vide.",
                     "Saisissez le code INSEE à 5 caractères (ex. 62041 pour Arras).")
            continue
        code = str(code).strip().upper()
        if is_insee(code) and first.setdefault(code, ligne.row) != ligne.row:
            # one commune twice: a binôme's second commune typed with the first one's code, or a row
            # copied (PRJ-07 names the commune then missing, if the list knows the convention)
            yield at(ligne, "code_insee", "PRJ-02", E,
                     f"{prefix(ligne)} : la commune de code INSEE {code} figure déjà à la ligne {first[code]} du "
                     "tableau des communes.",
                     "Supprimez la ligne en double, ou corrigez le code INSEE : chaque commune de la convention "
                     "a sa ligne et son code.")
            continue
        if not is_insee(code):
            sugg = ""
            if code.isdigit() and len(code) == 4:
                sugg = f"Saisissez {q(code.zfill(5))} comme texte (le zéro initial a été perdu)."
            elif is_insee(packed := RE_SPACE.sub("", code)):  # « 62 498 »: a number's thousands separator
                sugg = f"Saisissez {q(packed)}, sans espace."
            yield at(ligne, "code_insee", "PRJ-02", E,
                     f"{prefix(ligne)} : le code INSEE {q(ligne.code_insee)} est mal formé (5 caractères attendus, "
                     "chiffres ou 2A/2B pour la Corse).", sugg or "Saisissez le code INSEE à 5 caractères (ex. 62041).")
        elif dept and RE_DEPARTEMENT.fullmatch(dept) and not code.startswith(_dept_prefix(dept)):
            yield at(ligne, "code_insee", "PRJ-02", E,
                     f"{prefix(ligne)} : la commune de code INSEE {code} n'est pas dans le département {dept} "
                     "de la convention.",
                     f"Vérifiez le code INSEE ou la cellule {q(layout.NAMED_BY_NAME['acv_departement'].label)} "
                     "de la feuille Projet.")
    yield from required_findings(conv, T, ("commune",), "PRJ-02", E)


def has_structure_problem(ligne, attr) -> bool:
    p = ligne.problems.get(attr)
    return p is not None and p.kind in STRUCTURE_KINDS



@rule("PRJ-03", A, "Identifiant de convention mal formé", SRC_GUIDE)
def identifiant(conv: Convention) -> Iterable[Finding]:
    """`acv_id` must be `ACV` + 3 digits; « acv 12 » is suggested as ACV012."""
    v = conv.acv_id
    if v is None:
        return  # PRJ-01
    s = str(v).strip()
    if RE_ACV_ID.fullmatch(s):
        return
    meant = meant_acv_id(s)
    sugg = f"Saisissez {q(meant)}." if meant else "Saisissez ACV suivi de trois chiffres, par exemple ACV012."
    yield at_named(conv, "acv_id", "PRJ-03", A,
                   f"L'identifiant de la convention {q(s)} n'a pas la forme attendue (ACV suivi de trois chiffres).", sugg)


_DATES = (("acv_date_convention", "la signature de la convention"),
          ("acv_date_fin_initialisation", "la fin de la phase d'initialisation"),
          ("acv_date_fin_deploiement", "la fin de la phase de déploiement"))


@rule("PRJ-04", E, "Dates de la convention incohérentes", SRC_GUIDE)
def dates(conv: Convention) -> Iterable[Finding]:
    """E: a named date cell that is not a date; convention ≤ fin d'initialisation ≤ fin de
    déploiement (equal dates pass; each pair of filled dates is compared, the finding points at the
    later date of the pair). A: fin de déploiement after the programme's end; the next comité before
    the convention's signature (a year mistyped, mostly: the plan is judged at that date)."""
    for nc, nv in named_problems(conv):
        p = nv.problem
        if nc.kind is layout.Kind.DATE and nc.user_filled and p.kind not in STRUCTURE_KINDS:
            msg, sugg = describe_problem(nc.label, nc.kind, p)
            yield at_named(conv, nc.name, "PRJ-04", E, msg, sugg)
    vals = [(n, lbl, conv.value(n)) for n, lbl in _DATES]
    vals = [(n, lbl, d) for n, lbl, d in vals if isinstance(d, date)]
    for (n1, l1, d1), (n2, l2, d2) in zip(vals, vals[1:]):
        if d2 < d1:
            yield at_named(conv, n2, "PRJ-04", E,
                           f"Dates dans le désordre : {l2} ({fmt_date(d2)}) précède {l1} ({fmt_date(d1)}).",
                           f"Corrigez l'une des deux dates : {l2} doit être au plus tôt le {fmt_date(d1)}.")
    signee, comite = conv.value("acv_date_convention"), conv.value("acv_date_comite")
    if isinstance(signee, date) and isinstance(comite, date) and comite < signee:
        # a typo in a year, mostly (2016 for 2026); FIN-24 and DIA-04 judge the plan at this date
        yield at_named(conv, "acv_date_comite", "PRJ-04", A,
                       f"Le prochain comité d'engagement ({fmt_date(comite)}) précède la signature de la "
                       f"convention-cadre ({fmt_date(signee)}) ; c'est à sa date que sont jugés la caducité des "
                       "subventions de l'État et l'avancement du diagnostic.",
                       "Vérifiez les deux dates : la date du comité est celle du prochain comité qui examinera le "
                       "classeur.")
    fin = conv.value("acv_date_fin_deploiement")
    prog = conv.programme
    if isinstance(fin, date) and prog in layout.PROGRAMMES:
        end = layout.PROGRAMMES[prog][1]
        if fin > end:
            yield at_named(conv, "acv_date_fin_deploiement", "PRJ-04", A,
                           f"La fin de déploiement ({fmt_date(fin)}) dépasse la fin du programme {prog} ({fmt_date(end)}).",
                           f"Ramenez la fin de déploiement au {fmt_date(end)}, ou joignez l'accord de prolongation.")


@rule("PRJ-05", E, "Valeur d'identité mal formée", SRC_CONTRAT)
def valeurs(conv: Convention) -> Iterable[Finding]:
    """Added code: `acv_programme` outside its list, `acv_departement` not a département code
    (2 digits, 2A/2B, 97x), `acv_siren_epci` not 9 digits, a `Rôle` of `T_Communes` outside its list."""
    nv = conv.names.get("acv_programme")
    if nv is not None and nv.problem is not None and nv.problem.kind not in STRUCTURE_KINDS:
        msg, sugg = describe_problem("Programme", layout.Kind.CHOICE, nv.problem, layout.L.PROGRAMME)
        yield at_named(conv, "acv_programme", "PRJ-05", E, msg, sugg)
    dept = conv.departement
    if dept is not None and not RE_DEPARTEMENT.fullmatch(str(dept).strip().upper()):
        of_communes = _departement_des_communes(conv)
        yield at_named(conv, "acv_departement", "PRJ-05", E,
                       f"Le code du département {q(dept)} est mal formé (2 chiffres, 2A, 2B ou 97x attendus).",
                       f"Saisissez {q(of_communes)}, le département des communes de la convention." if of_communes
                       else "Saisissez le code du département, par exemple 62.")
    siren = conv.value("acv_siren_epci")
    if siren is not None and not RE_SIREN.fullmatch(RE_SPACE.sub("", str(siren))):
        yield at_named(conv, "acv_siren_epci", "PRJ-05", E,
                       f"Le SIREN de l'EPCI {q(siren)} est mal formé (9 chiffres attendus).",
                       "Saisissez les 9 chiffres du SIREN de l'EPCI (annuaire des entreprises).")
    if not _table_ok(conv):
        return
    from . import problem_findings

    yield from problem_findings(conv, T, ("role",), "PRJ-05", E)
    yield from required_findings(conv, T, ("role",), "PRJ-05", E)


def _departement_des_communes(conv: Convention) -> str | None:
    """The département every well-formed `Code INSEE` of `T_Communes` lies in (97x for overseas, else its
    first two characters), or None: « 1 » typed as text for the Ain is « 01 », not « par exemple 62 »."""
    found = set()
    for ligne in rows(conv, T):
        code = str(ligne.code_insee or "").strip().upper()
        if is_insee(code):
            found.add(code[:3] if code.startswith("97") else code[:2])
    return found.pop() if len(found) == 1 else None


def _table_ok(conv: Convention) -> bool:
    from . import usable

    return usable(conv, T.name)
