"""PER — the three nested perimeters (`T_Perimetres`): Étude ⊃ ORT ⊃ sectors."""

from __future__ import annotations

from typing import Iterable

from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.model import Convention, Perimetre
from acv_xl.contract.values import fmt_number, places

from . import (
    SRC_GUIDE,
    SRC_INSTRUCTION_2023,
    A,
    E,
    at,
    at_table,
    index,
    prefix,
    problem_findings,
    q,
    required_findings,
    rows,
    rule,
)

T = layout.T_PERIMETRES
ETUDE, ORT, PRIORITAIRE = layout.PERIMETRE_ETUDE, layout.PERIMETRE_ORT, layout.PERIMETRE_PRIORITAIRE


def _code(p: Perimetre) -> str | None:
    return p.code.strip() if p.code else None


def _codes(conv: Convention) -> tuple[list[str | None], dict[str, Perimetre]]:
    """(`_code` of each non-empty row, in row order; the first row of each code), once per run
    (PER-02, PER-03). Shared: read them, never change them."""
    def build():
        lignes = rows(conv, T)
        codes = list(map(_code, lignes))
        by_code: dict[str, Perimetre] = {}
        for p, c in zip(lignes, codes):
            if c and c not in by_code:
                by_code[c] = p
        return codes, by_code
    return index(conv).memo("perimetres_by_code", build)


@rule("PER-01", E, "Pas exactement un périmètre d'étude et un périmètre ORT", SRC_GUIDE, needs=("T_Perimetres",))
def etude_et_ort(conv: Convention) -> Iterable[Finding]:
    """None: one finding on the table (not while a `Type` is unreadable: it may be the missing
    one); several: one on each extra line's `Type`."""
    lignes = rows(conv, T)
    unknown_type = any("type" in p.problems for p in index(conv).with_problems(T))
    for typ, what in ((ETUDE, "périmètre d'étude (« Étude »)"), (ORT, "périmètre d'intervention (« ORT »)")):
        found = [p for p in lignes if p.type == typ]
        if not found and not unknown_type:
            yield at_table(conv, T, "PER-01", E, f"Aucun {what} n'est défini ; il en faut exactement un.",
                           f"Ajoutez une ligne de type {q(typ)}.", attr="type")
        for p in found[1:]:
            yield at(p, "type", "PER-01", E,
                     f"{prefix(p)} : {len(found)} périmètres de type {q(typ)} sont définis ; il en faut exactement un "
                     f"(le premier est à la ligne {found[0].row}).",
                     f"Ne gardez qu'un seul périmètre de type {q(typ)} : changez le type des autres (par exemple "
                     f"{q(PRIORITAIRE)}) ou supprimez-les.")


@rule("PER-02", E, "Emboîtement des périmètres rompu", SRC_GUIDE, needs=("T_Perimetres.parent",))
def emboitement(conv: Convention) -> Iterable[Finding]:
    """At most one finding per line, in this order: parent of itself; unknown parent; the Étude has a
    parent; the ORT's parent is not an Étude; a sector without parent or whose parent is not an
    ORT; then any remaining cycle (only possible when types are invalid). A `Quartier de gare` or
    `Entrée de ville` whose parent is the Étude (outside the ORT) is a warning, not an error: the
    instruction of 24 May 2023 asks them to coincide with the ORT « si possible »."""
    lignes = rows(conv, T)
    codes, by_code = _codes(conv)
    etudes = [c for p, c in zip(lignes, codes) if p.type == ETUDE and c]
    orts = [c for p, c in zip(lignes, codes) if p.type == ORT and c]
    flagged: set[int] = set()

    def bad(p, msg, sugg=""):
        flagged.add(id(p))
        return at(p, "parent", "PER-02", E, f"{prefix(p)} : {msg}", sugg)

    for p, code in zip(lignes, codes):
        parent = (p.parent or "").strip() or None
        if p.type is None and parent is None:
            continue
        name = q(p.nom or code or "")
        if parent is not None and parent == code:
            yield bad(p, f"le périmètre {name} est déclaré comme son propre parent.",
                      "Videz la cellule « Périmètre parent » du périmètre d'étude." if p.type == ETUDE
                      else "Indiquez le code du périmètre plus large qui le contient.")
        elif parent is not None and parent not in by_code:
            yield bad(p, f"le périmètre parent {q(parent)} de {name} n'existe pas dans le tableau.",
                      "Indiquez le code d'un périmètre du tableau.")
        elif p.type == ETUDE and parent is not None:
            yield bad(p, f"le périmètre d'étude {name} est le plus large : il ne doit pas avoir de parent "
                         f"(indiqué : {q(parent)}).", "Videz la cellule « Périmètre parent » du périmètre d'étude.")
        elif p.type == ORT and parent not in etudes:
            yield bad(p, f"le périmètre ORT {name} doit avoir pour parent le périmètre d'étude"
                         + (f" (indiqué : {q(parent)})." if parent else " (non renseigné)."),
                      f"Indiquez {q(etudes[0])}." if len(etudes) == 1 else "")
        elif p.type in layout.PERIMETRES_SI_POSSIBLE_ORT and parent in etudes:
            flagged.add(id(p))
            yield at(p, "parent", "PER-02", A,
                     f"{prefix(p)} : le périmètre {q(p.type)} {name} est hors du périmètre ORT (son parent est le "
                     f"périmètre d'étude), alors qu'il doit coïncider « si possible » avec l'ORT ({SRC_INSTRUCTION_2023}).",
                     "Étendez l'ORT à ce périmètre par avenant si c'est possible, ou justifiez-le au comité de projet.")
        elif p.type in layout.L.TYPE_PERIMETRE and p.type not in (ETUDE, ORT) and parent not in orts:
            yield bad(p, f"le secteur {name} doit avoir pour parent le périmètre ORT"
                         + (f" (indiqué : {q(parent)})." if parent else " (non renseigné)."),
                      f"Indiquez {q(orts[0])}." if len(orts) == 1 else "")
    # cycles through lines not yet reported
    for p in lignes:
        seen, ids, cur = [], set(), p
        while cur is not None and id(cur) not in ids:
            seen.append(cur)
            ids.add(id(cur))
            parent = (cur.parent or "").strip()
            cur = by_code.get(parent) if parent else None
        if cur is not None and cur is p and id(p) not in flagged:
            cycle = ", ".join(_code(s) or "?" for s in seen) + f", puis de nouveau {_code(p)}"
            yield bad(p, f"les périmètres parents forment une boucle ({cycle}).",
                      "Chaque périmètre doit être contenu dans un périmètre plus large, jusqu'au périmètre d'étude.")


@rule("PER-03", E, "Périmètre plus grand que son parent", SRC_GUIDE, needs=("T_Perimetres.parent",))
def plus_grand(conv: Convention) -> Iterable[Finding]:
    """`Superficie (ha)` or `Population` of a child strictly greater than its parent's (equal passes)."""
    lignes = rows(conv, T)
    _, by_code = _codes(conv)
    for p in lignes:
        parent = by_code.get((p.parent or "").strip())
        if parent is None or parent is p:
            continue
        for attr, what, unit in (("superficie", "superficie", " ha"), ("population", "population", " habitants")):
            v, pv = getattr(p, attr), getattr(parent, attr)
            if v is not None and pv is not None and v > pv:
                yield at(p, attr, "PER-03", E,
                         f"{prefix(p)} : la {what} de {q(p.nom or _code(p))} ({fmt_number(v, _dec(v))}{unit}) dépasse celle "
                         f"de son périmètre parent {q(parent.nom or _code(parent))} ({fmt_number(pv, _dec(pv))}{unit}).",
                         "Vérifiez les deux valeurs : un périmètre est contenu dans son parent.")


def _dec(v) -> int:
    return places(v)


@rule("PER-04", A, "Aucun secteur prioritaire", SRC_GUIDE, needs=("T_Perimetres",))
def sans_prioritaire(conv: Convention) -> Iterable[Finding]:
    """Not judged while a `Type` is unreadable (PER-07): it may be the secteur prioritaire."""
    lignes = rows(conv, T)
    if not any(p.type == PRIORITAIRE for p in lignes) and not any("type" in p.problems for p in index(conv).with_problems(T)):
        yield at_table(conv, T, "PER-04", A, "Aucun secteur prioritaire n'est défini dans le périmètre ORT.",
                       f"Ajoutez une ligne de type {q(PRIORITAIRE)} dont le parent est le périmètre ORT.", attr="type")


@rule("PER-05", A, "Périmètre d'étude plus petit que l'EPCI", SRC_GUIDE, needs=("T_Perimetres.echelle",))
def etude_trop_petite(conv: Convention) -> Iterable[Finding]:
    for p in rows(conv, T):
        if p.type == ETUDE and p.echelle in layout.ECHELLES_SOUS_EPCI:
            yield at(p, "echelle", "PER-05", A,
                     f"{prefix(p)} : le périmètre d'étude {q(p.nom or _code(p))} est à l'échelle {q(p.echelle)} ; il doit "
                     "couvrir au moins l'EPCI (le bassin de vie).", "Choisissez l'échelle « EPCI » ou « Bassin de vie ».")


@rule("PER-06", E, "Code de périmètre en double", SRC_GUIDE, needs=("T_Perimetres",))
def code_double(conv: Convention) -> Iterable[Finding]:
    """Every occurrence after the first, naming the first line."""
    first: dict[str, Perimetre] = {}
    for p in rows(conv, T):
        c = _code(p)
        if not c:
            continue
        if c in first:
            yield at(p, "code", "PER-06", E,
                     f"{prefix(p)} : le code de périmètre {q(c)} est déjà utilisé à la ligne {first[c].row}.",
                     "Donnez à chaque périmètre un code unique.")
        else:
            first[c] = p


@rule("PER-07", E, "Valeur invalide dans les périmètres", SRC_GUIDE, needs=("T_Perimetres",))
def valeurs(conv: Convention) -> Iterable[Finding]:
    """Added code: `Type`/`Échelle` outside their list, `Superficie`/`Population` not numbers,
    `Date de validation` not a date; `Code`, `Type`, `Nom` empty."""
    yield from problem_findings(conv, T, ("type", "echelle", "superficie", "population", "date_validation"), "PER-07", E)
    yield from required_findings(conv, T, ("code", "type", "nom"), "PER-07", E)

