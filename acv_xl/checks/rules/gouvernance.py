"""GOU — governance (`T_Gouvernance`)."""

from __future__ import annotations

import re
from functools import lru_cache
from operator import attrgetter
from typing import Iterable

from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.model import Convention
from acv_xl.contract.values import MEMO_TEXT_MAX, fold, memo_text

from . import (
    SRC_GUIDE,
    A,
    at_table,
    index,
    problem_findings,
    q,
    required_findings,
    rows,
    rule,
)

T = layout.T_GOUVERNANCE
_FINANCEUR = attrgetter("financeur")


@memo_text(4096)
def _fold(text: str) -> str:
    """`fold`, memoised: the same organismes and partner names come back in every workbook."""
    return fold(text)


def _aliases(conv: Convention, code: str) -> tuple[str, ...]:
    """Ways an organisme names a partner: its code, its name, each part of « Name (Other name) ».
    A name typed very long (a paste) is not memoised: `acv-xl serveur` keeps its memos for months."""
    f = index(conv).financeur(code)  # `conv.financeur(code)`, from the run's lookup
    nom = f.nom if f else None
    if isinstance(nom, str) and len(nom) > MEMO_TEXT_MAX:
        return _aliases_of.__wrapped__(code, nom)
    return _aliases_of(code, nom)


@lru_cache(maxsize=1024)
def _aliases_of(code: str, nom_classeur: str | None) -> tuple[str, ...]:
    """`_aliases` from the code and the workbook's name for it (the same in most workbooks: memoised)."""
    names = [code]
    ref = layout.FINANCEURS_BY_CODE.get(code)
    for nom in (ref.nom if ref else None, nom_classeur):
        if nom:
            names.append(nom)
            names.extend(p for p in re.split(r"[()]", nom) if p.strip())
    return tuple(_fold(n).strip() for n in names if n and n.strip())


def _named(organismes: str, aliases: tuple[str, ...]) -> bool:
    """Whether one of the aliases stands as a whole word in the folded `organismes` (as the regex
    `(?<![a-z0-9])(?:alias|…)(?![a-z0-9])` would find it): each alias looked for with `str.find`, its
    neighbours then looked at — a few C searches, where the regex tried every alternative at every
    position of the text; nothing kept between runs."""
    return any(_whole_word(organismes, a) for a in aliases)


def _word_char(c: str) -> bool:
    return "a" <= c <= "z" or "0" <= c <= "9"


def _whole_word(text: str, word: str) -> bool:
    """`word` in `text`, not preceded nor followed by a letter or digit (the regex's lookarounds)."""
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if (start == 0 or not _word_char(text[start - 1])) and (end == len(text) or not _word_char(text[end])):
            return True
        start = text.find(word, start + 1)
    return False


@rule("GOU-01", A, "Comité de projet incomplet", SRC_GUIDE, needs=("T_Gouvernance",),
      optional=("T_Financements", "T_Financeurs"))
def comite_de_projet(conv: Convention) -> Iterable[Finding]:
    """The comité de projet lacks an élu, the directeur de projet, the État, or a representative of a
    national partner financing the plan (`CDC`, `AL`, `ANAH`, `ANRU`, lines not refused), or of the
    EPF when it funds (a signatory of the convention that carries land for it). A partner
    is recognised by its code or name in `Organisme` (« Banque des Territoires » is CDC), whatever
    the member's collège. One finding per missing member, on the table's `Instance` column. Not
    judged while a line has an unreadable `Instance` or `Collège`."""
    lignes = rows(conv, T)
    if any("instance" in m.problems or "college" in m.problems for m in index(conv).with_problems(T)):
        return  # an unreadable line may be the missing member (GOU-02 / STR-06 report it)
    comite = [m for m in lignes if m.instance == layout.INSTANCE_COMITE_PROJET]
    colleges = {m.college for m in comite}
    for college, what in (("Élus", "aucun élu"), ("Directeur de projet", "pas le directeur de projet"),
                          ("État", "aucun représentant de l'État")):
        if college not in colleges:
            yield at_table(conv, T, "GOU-01", A, f"Le comité de projet ne compte {what} (collège « {college} »).",
                           f"Ajoutez une ligne « Comité de projet » du collège « {college} ».", attr="instance")
    # the partners among the counted lines' financeurs, in order of first line
    financeurs = [f for f in dict.fromkeys(map(_FINANCEUR, index(conv).counted_lines))
                  if f in layout.PARTENAIRES_DU_COMITE]
    # one text, one search per partner: a folded organisme holds no line break, so an alias found in
    # the text is found in one organisme, whole word (a line break is no letter or digit)
    organismes = "\n".join(_fold(m.organisme) for m in comite if m.organisme)
    for code in financeurs:
        if not _named(organismes, _aliases(conv, code)):
            ref = layout.FINANCEURS_BY_CODE.get(code)
            nom = ref.nom if ref else code
            yield at_table(conv, T, "GOU-01", A,
                           f"Le partenaire {code} finance des actions du plan de financement mais n'a pas de "
                           f"représentant au comité de projet (organisme attendu : {q(nom)}).",
                           f"Ajoutez une ligne « Comité de projet », organisme « {nom} », collège « Partenaire financeur ».",
                           attr="instance")


@rule("GOU-02", A, "Valeur invalide dans la gouvernance", SRC_GUIDE, needs=("T_Gouvernance",))
def valeurs(conv: Convention) -> Iterable[Finding]:
    """Added code: `Instance`/`Collège` outside their list; `Instance`, `Organisme`, `Collège` empty."""
    yield from problem_findings(conv, T, ("instance", "college"), "GOU-02", A)
    yield from required_findings(conv, T, ("instance", "organisme", "college"), "GOU-02", A)
