"""Every sum of the product, computed once (rules, report, UDFs, annex and consolidation use these).

Pure functions over model objects. Amounts are `Decimal` to the cent; `Refusé` lines count in no
total; lines whose amount did not parse count nowhere (the rules report them).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from itertools import chain
from operator import attrgetter
from typing import Any, Iterable

from acv_xl.contract import dispositifs, layout, reference
from acv_xl.contract.values import MEMO_TEXT_MAX
from acv_xl.contract.model import (
    Convention,
    Dispositif,
    FicheAction,
    Financeur,
    LigneFinancement,
)

ZERO = Decimal("0.00")

# The default context's 28 digits add up to the cent, over a million lines, amounts below 10^18 €
EXACT_IN_DEFAULT = Decimal(10) ** 18


def _wide(values: list[Decimal]) -> Context | None:
    """A context adding up or subtracting `values` exactly, or None when the default one does."""
    biggest = max(map(abs, values), default=ZERO)
    return None if biggest < EXACT_IN_DEFAULT else Context(prec=_digits(biggest, len(values)))


def _digits(biggest: Decimal, count: int) -> int:
    """The precision that adds up `count` amounts of at most `biggest` to the cent: its digits, the
    carries, the cents and one more — never fewer than the default 28, which everything else computed
    in that context (a ratio, a figure shown) relies on: 23 digits for 10^18 € made `fmt_number` of a
    25-digit population stop on InvalidOperation (STR-00, PER-07 not run)."""
    return max(28, biggest.adjusted() + len(str(count)) + 4)


def add_up(values: Iterable[Decimal]) -> Decimal:
    """`sum(values)`, exact to the cent however large (see `exact_context`)."""
    values = list(values)
    context = _wide(values)
    if context is None:
        return sum(values, ZERO)
    with localcontext(context):
        return sum(values, ZERO)


def difference(a: Decimal, b: Decimal) -> Decimal:
    """`a - b`, exact to the cent however large: 10^26 € + 0,51 € minus 20 865 500,50 € lost its
    cents in the default 28 digits."""
    if -EXACT_IN_DEFAULT < a < EXACT_IN_DEFAULT and -EXACT_IN_DEFAULT < b < EXACT_IN_DEFAULT:
        return a - b  # every real amount: asked per convention and per breakdown while writing
    context = _wide([a, b])
    return a - b if context is None else context.subtract(a, b)


def exact_context(conv: Convention) -> Context | None:
    """A decimal context in which every sum and difference of `conv`'s amounts is exact to the cent,
    or None when the default one is (every real convention). Past 28 digits a sum was rounded:
    10^26 € of cost against 8 × 10^25 € + 0,01 € + 2 × 10^25 € of financing passed FIN-05 as
    balanced, and the report said « financements : …500,60 € · écart : -0,10 € » for ,51 and -0,01."""
    amounts = chain(map(attrgetter("montant"), conv.financements), map(attrgetter("cout_total"), conv.actions),
                    map(attrgetter("depense_subventionnable"), conv.actions),
                    map(attrgetter("cout_estime"), conv.diagnostic))
    biggest = max(map(abs, filter(None, amounts)), default=ZERO)
    if biggest < EXACT_IN_DEFAULT:
        return None
    count = len(conv.financements) + 2 * len(conv.actions) + len(conv.diagnostic)
    return Context(prec=_digits(biggest, count))


def counted(lines: Iterable[LigneFinancement], statuts: Iterable[str] | None = None) -> list[LigneFinancement]:
    """Lines that count: a parsed amount, not `Refusé`, and (optionally) one of `statuts`."""
    refuse = layout.STATUT_REFUSE  # `LigneFinancement.compte`, inlined: called per action per rule
    if not statuts:
        return [lf for lf in lines if lf.montant is not None and lf.statut != refuse]
    wanted = set(statuts)
    return [lf for lf in lines if lf.montant is not None and lf.statut != refuse and lf.statut in wanted]


_counted = counted  # for the functions whose parameter of that name hides it


def total(lines: Iterable[LigneFinancement]) -> Decimal:
    return sum((lf.montant for lf in counted(lines)), ZERO)


def by_key(lines: Iterable[LigneFinancement], key) -> dict[str, Decimal]:
    lines = counted(lines)
    return _sum_by(map(key, lines), [lf.montant for lf in lines])


_PLAIN_KEYS = frozenset((str, int, type(None)))


def _sum_by(keys: Iterable, montants: list[Decimal]) -> dict[str, Decimal]:
    """Σ of the amounts by key (as a string, sorted), empty keys left out: `by_key`'s sum."""
    keys = list(keys)
    # by the key as it is first (no test, no conversion per line: a 5,000-line plan, five sums per
    # validation), each key's amounts added in line order; then named by its string. Only when two
    # keys read the same (2024 and « 2024 ») are the lines summed by string, in line order, as then
    # their amounts interleave.
    raw: dict = {}
    get = raw.get
    try:
        for k, m in zip(keys, montants):
            raw[k] = get(k, ZERO) + m
    except TypeError:  # an unhashable key (no model gives one): the general way below
        raw = None
    # keys of exact types str and int only: two such keys are equal only when their strings are
    # (1, 1.0 and True would be one key here but three strings)
    if raw is not None and set(map(type, raw)) <= _PLAIN_KEYS:
        raw.pop(None, None)
        raw.pop("", None)
        named = {str(k): v for k, v in raw.items()}
        if len(named) == len(raw):
            return dict(sorted(named.items()))
    out: dict[str, Decimal] = {}
    for k, m in zip(keys, montants):
        if k is not None and k != "":
            k = str(k)
            out[k] = out.get(k, ZERO) + m
    return dict(sorted(out.items()))


def _sum_where(lines: Iterable[LigneFinancement], attr: str, key, statuts, annee: int | None = None) -> Decimal:
    """Counted amounts of the lines whose `attr` is `key`: one pass, the cheap test first (an
    Excel function sums a 5,000-line plan on every recalculation)."""
    wanted = set(statuts) if statuts else None
    out = ZERO
    for lf in lines:
        if (getattr(lf, attr) == key and lf.montant is not None and lf.statut != layout.STATUT_REFUSE
                and (wanted is None or lf.statut in wanted) and (annee is None or lf.annee == annee)):
            out += lf.montant
    return out


def total_financeur(lines: Iterable[LigneFinancement], code: str, statuts: Iterable[str] | None = None,
                    annee: int | None = None) -> Decimal:
    return _sum_where(lines, "financeur", code, statuts, annee)


def total_action(lines: Iterable[LigneFinancement], numero: str, statuts: Iterable[str] | None = None) -> Decimal:
    return _sum_where(lines, "numero", numero, statuts)


def lines_of(lines: Iterable[LigneFinancement], numero: str | None) -> list[LigneFinancement]:
    return [lf for lf in lines if lf.numero == numero]


def ecart(action: FicheAction, lines: Iterable[LigneFinancement]) -> Decimal | None:
    """Cost minus financing of an action (None when its cost is not a number)."""
    if action.cout_total is None:
        return None
    return action.cout_total - total_action(lines, action.numero)


# ------------------------------------------------------------------ L1111-10 and R2334-27 bases
def categorie(financeurs: Iterable[Financeur], code: str | None) -> str | None:
    if code in layout.CATEGORIES_FIXES:
        return layout.CATEGORIES_FIXES[code]
    for f in financeurs:
        if f.code == code:
            return f.categorie
    ref = layout.FINANCEURS_BY_CODE.get(code or "")
    return ref.categorie if ref else None


# Answers a lookup keeps (roles of a line, codes of a MO, dotations by pair): shared by the runs
# that meet the same lists (`_shared`), i.e. for months in a server, where every workbook brings new
# maîtres d'ouvrage and dispositifs — bounded, forgotten all at once when full (still right after).
_ANSWERS_MAX = 4_096


def _remember(answers: dict, key: tuple, value: Any) -> Any:
    # a key holding a pasted text (a maître d'ouvrage, a financeur or a dispositif of 32,767
    # characters) is not kept: 4,096 of them would stay for months
    if any(v.__class__ is str and len(v) > MEMO_TEXT_MAX for v in key):
        return value
    if len(answers) >= _ANSWERS_MAX:
        answers.clear()
    answers[key] = value
    return value


class Categories:
    """`categorie(financeurs, code)` for many codes, in O(1) — a 5,000-line plan asks once per line:
    `Categories(financeurs).get(code)`. The workbook's rows over the reference list, the first row
    of a code deciding, as there (no reference code is empty, so `code or ""` finds none); a reference
    code's own category, but AUTRE's, whatever the row says (`layout.CATEGORIES_FIXES`). With the
    workbook's `T_Dispositifs` rows, `subventions` holds its subsidies besides the reference list's
    (`role_l1111_10`)."""

    def __init__(self, financeurs: Iterable[Financeur], dispositifs_classeur: Iterable[Dispositif] = ()):
        first: dict[str | None, str | None] = {}
        for f in financeurs:
            first.setdefault(f.code, f.categorie)
        merged = {code: ref.categorie for code, ref in layout.FINANCEURS_BY_CODE.items()}
        merged.update(first)
        merged.update(layout.CATEGORIES_FIXES)  # « REGION » typed « Privé » left the L1111-10 base: FIN-18
        self.get = merged.get  # a dict's own lookup: no Python call per line
        # `role_l1111_10` by (MO codes, nature, financeur, dispositif), which decide it with these
        # categories (`part_mo`: a 5,000-line plan asks once per line, for a few dozen distinct keys)
        self.roles: dict[tuple, str] = {}
        self.subventions = subventions_l1111_10(dispositifs_classeur)

    def __call__(self, code: str | None) -> str | None:
        return self.get(code)


def is_public_subsidy(lf: LigneFinancement, financeurs: Iterable[Financeur] | Categories) -> bool:
    if lf.nature != layout.NATURE_SUBVENTION:
        return False
    cat = financeurs.get(lf.financeur) if isinstance(financeurs, Categories) else categorie(financeurs, lf.financeur)
    return cat == "Public"


def is_own_share(lf: LigneFinancement) -> bool:
    """The natures that can be the MO's own share (which lines are really its own: `role_l1111_10`)."""
    return lf.nature in layout.NATURES_PART_PROPRE


def codes_du_mo(action: FicheAction, financeurs: Iterable[Financeur] | MOCodes = ()) -> frozenset[str]:
    """The financeur codes that ARE the action's maître d'ouvrage: the code of its type (`COMMUNE` for a
    commune, `EPCI` for an EPCI, `DEPT`, `REGION`) and any financeur of the workbook whose code or name
    is the MO's name, read as a commune's is (`_cles`: a syndicat mixte adds itself to the list of
    financeurs; a binôme, its second commune)."""
    if isinstance(financeurs, MOCodes):
        return financeurs(action)
    return MOCodes(financeurs)(action)


def _cles(nom: str) -> set[str]:
    """The keys a name of a maître d'ouvrage or of a financeur is compared by: normalised
    (`dispositifs.normalise`) and read as a commune's name is (`reference.nom_collectivite`: « Commune de Liévin » is « Ville de
    Liévin », « Mairie de St-Omer » the financeur « Saint-Omer »). An empty key (« - ») names nobody."""
    return {k for k in (dispositifs.normalise(nom), reference.nom_collectivite(nom)) if k}


# The names (`reference.mots`) of the public persons (L1111-10 III: « personnes publiques ») a maître d'ouvrage
# without a code of its own (a syndicat mixte, an établissement public) surely is not: a collectivité, the État;
# `PERSONNE_PUBLIQUE` is these, and the syndicats and établissements publics it may be (FIN-18)
_COLLECTIVITE = (r"^(?:(?:le|la|l) )?(?:departement|conseil (?:departemental|general|regional)|region|collectivite "
                 r"(?:europeenne|territoriale)|communaute (?:de communes|d agglomeration|urbaine)|metropole (?:de|du|d|des|"
                 r"europeenne)|(?:ville|commune|mairie|cne|municipalite) (?:de|d|du|des)|prefecture|etat|ministere|agence de l eau")
COLLECTIVITE = re.compile(_COLLECTIVITE + r")(?: |$)")
PERSONNE_PUBLIQUE = re.compile(_COLLECTIVITE + r"|syndicat (?:mixte|intercommunal)|etablissement public)(?: |$)")
# Of those, the names (`reference.mots`) that say a commune (« Ville de … », « Cne de … », « Municipalité de … ») or an
# EPCI (« Communauté urbaine d'Arras », « Métropole européenne de Lille »): FIN-23 and ACT-13 go by them
NOM_DE_COMMUNE = re.compile(r"(?:ville|commune|mairie|cne|municipalite) (?:de|d|du|des) ")
NOM_D_EPCI = re.compile(r"(?:(?:le|la|l) )?(?:communaute (?:de communes|d agglomeration|urbaine)|metropole)(?: |$)")
# ... and an EPCI by the short names a plan writes it with (« CU d'Arras », « CA du Pays de Saint-Omer », « CC du Ternois »,
# « Agglo du Boulonnais », « Arras Agglomération »), which FIN-23 reads too (a « CA de … » may be a Crédit Agricole bank:
# FIN-23 asks the financeur not to be « Privé »). Not a body of the agglomeration or of the EPCI (« Office de tourisme
# de l'agglomération », « SPL de l'Agglo », « Régie Arras Agglo »), whose money is no fonds de concours
NOM_COURT_D_EPCI = re.compile(r"^(?:(?:la|le|l) )?(?:(?:cu|ca|cc|cda|cdc|comcom|com com|communaute d agglo) (?:de|du|des|d) "
                              r"|agglo )|^(?!(?:office|syndicat|regie|spl|spla|sem|agence|association|societe|mission|"
                              r"maison|etablissement|epic|sivom|sivu)(?: |$))(?:.*(?<!\bde l)(?<!\bd) )?(?:agglo|agglomeration)$")


def nomme_comme_un_epci(f: Financeur, mots: str) -> bool:
    """Whether a financeur added to the list, not « Privé », bears an EPCI's short name (`NOM_COURT_D_EPCI`; `mots`:
    its name's `reference.mots`)."""
    return f.categorie != "Privé" and NOM_COURT_D_EPCI.search(mots) is not None


# ... or the État (« Préfecture du Pas-de-Calais », « État - SGAR Hauts-de-France », « Ministère de la Culture »): FIN-20
NOM_DE_L_ETAT = re.compile(r"(?:(?:le|la|l) )?(?:etat|prefecture|sous prefecture|prefet|ministere|sgar)(?: |$)")


class SansCode(frozenset):
    """`codes_du_mo` of a maître d'ouvrage no code identifies (a syndicat mixte not in the list): empty, every
    financeur added to the workbook's list taken for it (`_is_mo`) but those of `autres`, which name another
    public person (« CD62 », « Département du Pas-de-Calais »: its « Autofinancement » was the syndicat's own)."""

    autres: frozenset[str] = frozenset()


class MOCodes:
    """`codes_du_mo(action, financeurs)` for many actions (500 actions × 20 financeurs, two names
    normalised each, per rule that asks): the financeurs' codes by normalised code and name, worked
    out once, and the answer kept per (type, name) of maître d'ouvrage. `collectivites`: the codes added
    to the list whose name is a collectivité's or the État's (`COLLECTIVITE`), or an EPCI's short name not « Privé »
    (`nomme_comme_un_epci`: the category is read too), surely no syndicat (FIN-23)."""

    def __init__(self, financeurs: Iterable[Financeur]):
        self._by_name: dict[str, set[str]] = {}
        autres = set()
        for f in financeurs:
            if f.code:
                for cle in _cles(str(f.code)) | (_cles(str(f.nom)) if f.nom else set()):
                    self._by_name.setdefault(cle, set()).add(f.code)
                if f.nom and f.code not in layout.FINANCEURS_BY_CODE and (
                        COLLECTIVITE.match(mots := reference.mots(str(f.nom))) or nomme_comme_un_epci(f, mots)):
                    autres.add(f.code)
        self._sans_code = SansCode()
        self._sans_code.autres = self.collectivites = frozenset(autres)
        self._known: dict[tuple, frozenset[str]] = {}

    def __call__(self, action: FicheAction) -> frozenset[str]:
        key = (action.type_mo, action.maitre_ouvrage)
        codes = self._known.get(key)
        if codes is None:
            found = set()
            if action.type_mo in layout.CODE_DU_MO:
                found.add(layout.CODE_DU_MO[action.type_mo])
            if action.maitre_ouvrage:
                for cle in _cles(str(action.maitre_ouvrage)):
                    found.update(self._by_name.get(cle, ()))
            codes = _remember(self._known, key, frozenset(found) if found else self._sans_code)
        return codes


# The roles of a line in CGCT L1111-10 III (`role_l1111_10`)
PROPRE = "propre"  # the maître d'ouvrage's own share
SUBVENTION_PUBLIQUE = "subvention publique"
PARTICIPATION_PUBLIQUE = "participation publique"  # another public body's autofinancement, fonds propres, apport, « Autre »
HORS_BASE = "hors base"  # private money, portage, other natures: outside the base


@dataclass(frozen=True)
class Subventions:
    """The dispositifs a list gives as subsidies of their financeur, by (financeur, normalised name) and
    (financeur, family): a line's dispositif is one of them when its name is, or its family (« FEDER
    2021-2027 » is the UE's FEDER), as FIN-21 reads names (`dispositifs.listed`)."""
    noms: frozenset[tuple[str | None, str]]
    familles: frozenset[tuple[str | None, str]]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str | None, str]]) -> Subventions:
        pairs = [(code, nom) for code, nom in pairs if nom]
        return cls(frozenset((code, dispositifs.normalise(nom)) for code, nom in pairs),
                   frozenset((code, fam) for code, nom in pairs if (fam := dispositifs.famille(nom)) is not None))

    def __contains__(self, line: tuple[str | None, str | None]) -> bool:
        financeur, dispositif = line
        return bool(dispositif) and ((financeur, dispositifs.normalise(dispositif)) in self.noms
                                     or (financeur, dispositifs.famille(dispositif)) in self.familles)


# The reference list's subsidies: what another nature typed for them does not change (`role_l1111_10`)
_SUBVENTIONS_DE_REFERENCE = Subventions.of((f.code, d.nom) for f in layout.FINANCEURS for d in f.dispositifs
                                           if d.nature == layout.NATURE_SUBVENTION)


# The names (normalised) of the reference list's public bodies' subsidies, whoever they are filed under; not
# « Ingénierie » (the Banque des Territoires'), a word any private body's plan may use. The names, not their
# families: a private sponsor's « Mécénat monuments historiques » is of the DRAC's family, Action Logement's
# « Subvention PLAI » of the aides à la pierre's, and neither is public money
_NOMS_SUBVENTIONS_PUBLIQUES = frozenset(dispositifs.normalise(d.nom) for f in layout.FINANCEURS for d in f.dispositifs
                                        if d.nature == layout.NATURE_SUBVENTION and d.nom != "Ingénierie"
                                        and layout.CATEGORIES_FIXES.get(f.code) == "Public")


def _programmes_d_un_autre() -> dict[str, str]:
    """Of those, the names of a programme of one body, to that body's code (the Région's « Redynamisation des
    centres-villes », the Département's « Aide aux projets des territoires »): filed as a « Subvention » under
    the maître d'ouvrage's own code, its money is still that body's (`role_l1111_10`). Not the Anah's
    (« OPAH-RU », « Chef de projet ACV »: operations a commune funds with its own money too, under those names),
    nor a name two bodies give (« Fonds de concours »)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for f in layout.FINANCEURS:
        for d in f.dispositifs:
            if (nom := dispositifs.normalise(d.nom)) in _NOMS_SUBVENTIONS_PUBLIQUES and f.code != "ANAH":
                owners[nom].add(f.code)
    return {nom: code for nom, (code, *autres) in owners.items() if not autres}


PROGRAMMES_D_UN_AUTRE = _programmes_d_un_autre()


def subventions_l1111_10(dispositifs_classeur: Iterable[Dispositif]) -> Subventions:
    """The subsidies of the reference list and of the workbook's (its `T_Dispositifs` rows of nature
    `Subvention`, a Région's fund the user added)."""
    added = Subventions.of((d.financeur, d.dispositif) for d in dispositifs_classeur
                           if d.nature == layout.NATURE_SUBVENTION)
    if not added.noms:
        return _SUBVENTIONS_DE_REFERENCE
    return Subventions(_SUBVENTIONS_DE_REFERENCE.noms | added.noms, _SUBVENTIONS_DE_REFERENCE.familles | added.familles)


def role_l1111_10(lf: LigneFinancement, mo: frozenset[str] | None, categorie_of,
                  subventions: Subventions = _SUBVENTIONS_DE_REFERENCE) -> str:
    """How a line counts for L1111-10 III, the MO being the financeur codes `mo` (None: unknown MO,
    every autofinancement, fonds propres or apport counts as its own, as before the MO was known).

    Loans and avances remboursables are the MO's (it repays them, whoever lends); a recette or cession
    is the operation's revenue, kept by the MO; autofinancement, fonds propres and apports en nature
    are the MO's only when the financeur is the MO — another public body's are a public participation,
    a private one's are outside the base; « Autre » alike (L1111-10 III counts every financing public
    persons bring); a subsidy is public or private by its financeur's category.
    When no code identifies the MO (a syndicat mixte not in the list), a financeur added to the
    workbook's list is taken for it: the reference bodies (COMMUNE, EPCI…) are surely others.
    Another body's subsidy under the MO's own code (its programme, the FEDER) is a public subsidy whatever
    nature is typed, and so is a name saying another payer unless typed a loan, a recette or a portage, which are
    what they are whoever lends (`_d_un_autre`, `_de_l_union`).
    A subsidy of the État (a DETR, DSIL…, a subsidy of décret 2018-514) is a public subsidy whatever
    nature is typed: a DSIL entered as a « Prêt » or a « Recette / cession » is not the MO's money.
    Nor is such a subsidy, or the FEDER, typed as a « Subvention » of the MO's own code; nor is it
    outside the base under a private financeur's code (« PRIVE / DSIL »). Nor is another financeur's
    dispositif that the reference list, or the workbook's (`subventions`: `Categories.subventions`, by
    name or family), gives as a subsidy, typed as a loan, a revenue, « Autre » or « Portage foncier » (a Région's « Redynamisation des centres-villes » typed « Autre » was outside
    the base)."""
    nature = lf.nature
    if nature != layout.NATURE_SUBVENTION and (dispositifs.is_r2334_27(lf.dispositif, lf.financeur)
                                               or dispositifs.is_decret_2018_514(lf.dispositif, lf.financeur)):
        return SUBVENTION_PUBLIQUE
    if mo and lf.financeur in mo and (_de_l_union(lf)
                                      or _d_un_autre(lf, subventions, mo, categorie_of(lf.financeur))):
        # another body's subsidy under the MO's own code is that body's money whatever nature is typed: « COMMUNE /
        # Subvention Région » or « COMMUNE / FEDER » typed « Autofinancement » made the Région's or the Union's money
        # the commune's own share, and FIN-06 passed on it (typed « Subvention », it did not)
        return SUBVENTION_PUBLIQUE
    if (nature not in layout.NATURES_APPORT and nature != layout.NATURE_SUBVENTION and not (mo and lf.financeur in mo)
            and (lf.financeur, lf.dispositif) in subventions):
        return SUBVENTION_PUBLIQUE if categorie_of(lf.financeur) == "Public" else HORS_BASE
    if nature in layout.NATURES_REMBOURSEES or nature in layout.NATURES_RECETTE:
        return PROPRE
    if nature in layout.NATURES_APPORT:
        if mo is None or _is_mo(lf.financeur, mo):
            return PROPRE
        return PARTICIPATION_PUBLIQUE if categorie_of(lf.financeur) == "Public" else HORS_BASE
    if nature == layout.NATURE_AUTRE:
        # « financements apportés par des personnes publiques » (L1111-10 III): a public body's money of
        # another kind is one (a loan, an advance, a sale or a portage have their own natures); the MO's, its own
        if mo is not None and _is_mo(lf.financeur, mo):
            return PROPRE
        return PARTICIPATION_PUBLIQUE if categorie_of(lf.financeur) == "Public" else HORS_BASE
    if nature == layout.NATURE_SUBVENTION:
        # the État's or the Union's subsidy is public money whoever is typed as paying it: a DSIL or the
        # FEDER filed under COMMUNE (under REGION for the Région that manages it), or under PRIVE
        # — not the payer's own money beside it (« Contrepartie FEDER », « Autofinancement hors FEDER »), as a DSIL's
        if (_de_l_union(lf) or dispositifs.is_r2334_27(lf.dispositif, lf.financeur)
                or dispositifs.is_decret_2018_514(lf.dispositif, lf.financeur)):
            return SUBVENTION_PUBLIQUE
        if mo and lf.financeur in mo:
            # the MO « subsidising » itself is its own money; not another body's programme its list does not give
            # it (« COMMUNE / Redynamisation des centres-villes »: the Région's subsidy under the wrong code), which
            # the test above the natures' returned
            return PROPRE
        if categorie_of(lf.financeur) == "Public":
            return SUBVENTION_PUBLIQUE
        # a public body's subsidy of the reference list filed under a private code (« PRIVE / Redynamisation des
        # centres-villes », « PRIVE / Fonds vert ») left the base and the 100 % cap, with FIN-21's warning
        # only; not a name the private financeur's own list gives it
        if (lf.dispositif and (lf.financeur, lf.dispositif) not in subventions
                and dispositifs.normalise(lf.dispositif) in _NOMS_SUBVENTIONS_PUBLIQUES):
            return SUBVENTION_PUBLIQUE
        return HORS_BASE
    return HORS_BASE


def _de_l_union(lf: LigneFinancement) -> bool:
    """Whether the line is the Union's fund (FEDER, Interreg), not its payer's own money beside it (« Contrepartie
    FEDER »)."""
    return dispositifs.famille(lf.dispositif) in _FAMILLES_UE and not dispositifs.names_own_money(lf.dispositif)


# The natures that make a line the MO's own share, or put it out of the base, whoever its name says lends, buys or
# carries: « Région - avance remboursable » is the Région's loan, which the MO repays, under REGION as under its own code
NATURES_WHOEVER_PAYS = layout.NATURES_REMBOURSEES + layout.NATURES_RECETTE + ("Portage foncier",)


def _d_un_autre(lf: LigneFinancement, subventions: Subventions, mo: frozenset[str], categorie: str | None) -> bool:
    """Whether the line's dispositif is another public body's programme its financeur's list does not give it
    (« Redynamisation des centres-villes », the Région's), or names another payer than the MO (`mo`, its codes:
    « Autofinancement communauté urbaine » under a code added for the EPCI MO is its own) (« Subvention Région »;
    the financeur's `categorie` decides whether « CA de … » may be the EPCI; a MO typed EPCI may be the Métropole de
    Lyon, which holds an EPCI's powers, under a code added for it) and is of a nature that name decides (not a loan, a
    recette or a portage: `NATURES_WHOEVER_PAYS`)."""
    return bool(lf.dispositif) and (lf.financeur, lf.dispositif) not in subventions and (
        dispositifs.normalise(lf.dispositif) in PROGRAMMES_D_UN_AUTRE
        or (lf.nature not in NATURES_WHOEVER_PAYS
            and dispositifs.names_another_payer(lf.dispositif, lf.financeur, categorie)
            and dispositifs.payer_named(lf.dispositif, lf.financeur, categorie)
            not in (mo | {dispositifs.PAYEUR_SANS_CODE} if "EPCI" in mo else mo)))


def _is_mo(financeur: str | None, mo: frozenset[str]) -> bool:
    """Whether the financeur is the MO: one of its codes, or, when no code identifies it (a syndicat mixte
    not in the list), a financeur added to the workbook's list (`role_l1111_10`) not named as another public
    person (`SansCode.autres`)."""
    return financeur in mo or (not mo and financeur not in layout.FINANCEURS_BY_CODE
                               and financeur not in getattr(mo, "autres", ()))


_FAMILLES_UE = frozenset(("FEDER", layout.FAMILLE_INTERREG))  # the Union's funds: no maître d'ouvrage's own money


@dataclass(frozen=True)
class PartMO:
    propre: Decimal  # own share of the MO
    subventions_publiques: Decimal
    ratio: Decimal | None  # propre / (propre + public financing), None when both are 0
    participations_publiques: Decimal = ZERO  # other public bodies' autofinancement, fonds propres, apports

    @property
    def financements_publics(self) -> Decimal:
        """Public financing other than the MO's own: the rest of the L1111-10 base."""
        return self.subventions_publiques + self.participations_publiques


def part_mo(action_lines: Iterable[LigneFinancement], financeurs: Iterable[Financeur] | Categories,
            action: FicheAction | None = None, workbook_financeurs: Iterable[Financeur] | MOCodes = (),
            counted: bool = False, dispositifs_classeur: Iterable[Dispositif] = ()) -> PartMO:
    """CGCT L1111-10 III: own share against own share + public financing (private money is outside).
    With the `action`, only the MO's own autofinancement is its own share (`role_l1111_10`);
    `workbook_financeurs` (the rows of `T_Financeurs`, or their `MOCodes`) let a MO be found by its name.
    `counted`: the lines given are `counted(...)` already (not filtered again). `dispositifs_classeur`
    (the rows of `T_Dispositifs`, with `financeurs` given as rows) add the workbook's subsidies."""
    if isinstance(financeurs, Categories):
        categories = financeurs
    else:
        financeurs = list(financeurs)
        categories = Categories(financeurs, dispositifs_classeur)
        workbook_financeurs = workbook_financeurs or financeurs
    categorie_of, roles, subventions = categories.get, categories.roles, categories.subventions
    mo = codes_du_mo(action, workbook_financeurs) if action is not None else None
    propre = publiques = participations = ZERO
    for lf in (action_lines if counted else _counted(action_lines)):
        role = roles.get(key := (mo, lf.nature, lf.financeur, lf.dispositif))
        if role is None:
            role = _remember(roles, key, role_l1111_10(lf, mo, categorie_of, subventions))
        if role == PROPRE:
            propre += lf.montant
        elif role == SUBVENTION_PUBLIQUE:
            publiques += lf.montant
        elif role == PARTICIPATION_PUBLIQUE:
            participations += lf.montant
    base = propre + publiques + participations
    return PartMO(propre, publiques, (propre / base) if base else None, participations)


def is_dotation_r2334_27(lf: LigneFinancement, dispositifs_classeur: Iterable[Dispositif]) -> bool:
    """A DETR, DSIL, DPV or DSID however written, paid by the État (`dispositifs.is_r2334_27`: a
    Département's « fonds de soutien à l'investissement local » is not one), or a dispositif the
    workbook's list marks `Dotation R2334-27` = `Oui` for the line's financeur."""
    return DotationsR2334(dispositifs_classeur)(lf)


class DotationsR2334:
    """`is_dotation_r2334_27(lf, dispositifs)` for many lines: the list walked once (the first entry
    of a (financeur, dispositif) pair decides), then each line in O(1)."""

    def __init__(self, dispositifs_classeur: Iterable[Dispositif]):
        self._oui: dict[tuple, bool] = {}
        self._known: dict[tuple, bool] = {}
        for d in dispositifs_classeur:  # keyed by meaning: « Fonds XYZ » marked Oui is « fonds xyz » too
            self._oui.setdefault((d.financeur, dispositifs.normalise(d.dispositif or "")), d.dotation_r2334_27 == "Oui")

    def total(self, counted_lines: Iterable[LigneFinancement]) -> Decimal:
        """`dotations_r2334_27` of lines already counted: each line's answer looked up inline."""
        known, out = self._known, []
        for lf in counted_lines:
            is_dotation = known.get((lf.financeur, lf.dispositif))
            if is_dotation is None:
                is_dotation = self(lf)
            if is_dotation:
                out.append(lf.montant)
        return sum(out, ZERO)

    def __call__(self, lf: LigneFinancement) -> bool:
        key = (lf.financeur, lf.dispositif)  # a few pairs, asked for every line of every action
        known = self._known.get(key)
        if known is None:
            known = _remember(self._known, key, dispositifs.is_r2334_27(lf.dispositif, lf.financeur) or self._oui.get(
                (lf.financeur, dispositifs.normalise(lf.dispositif or "")), False))
        return known


# One `Categories`, `MOCodes` or `DotationsR2334` per content of the workbook's lists, shared by
# every run that meets it: the workbooks of a département mostly hold the template's lists, and each
# of these lookups keeps, beside the lists, the answers it worked out (roles of a line, codes of a MO,
# dotations by pair) — answers that depend only on the key they are stored under and on the lists,
# so a run that meets the same lists again finds them ready. Keyed by exactly the values each class
# reads of each row (in order: the first row of a code or pair decides); bounded.
_SHARED: dict[tuple, Any] = {}
_SHARED_MAX = 64
_CATEGORIE_KEY = attrgetter("code", "categorie")
_MO_KEY = attrgetter("code", "nom", "categorie")  # the category too: « CA du … » « Privé » is no EPCI (`nomme_comme_un_epci`)
_DOTATION_KEY = attrgetter("financeur", "dispositif", "dotation_r2334_27")


def _shared(cls: type, key_of, rows: Iterable) -> Any:
    rows = list(rows)
    try:
        key = (cls, tuple(map(key_of, rows)))
        got = _SHARED.get(key)
    except TypeError:  # an unhashable value (no reader gives one): this run's own
        return cls(rows)
    if got is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        got = _SHARED[key] = cls(rows)
    return got


def shared_categories(financeurs: Iterable[Financeur]) -> Categories:
    """`Categories(financeurs)`, shared by the runs that meet the same codes and categories."""
    return _shared(Categories, _CATEGORIE_KEY, financeurs)


def shared_mo_codes(financeurs: Iterable[Financeur]) -> MOCodes:
    """`MOCodes(financeurs)`, shared by the runs that meet the same codes, names and categories."""
    return _shared(MOCodes, _MO_KEY, financeurs)


def shared_dotations(dispositifs_classeur: Iterable[Dispositif]) -> DotationsR2334:
    """`DotationsR2334(dispositifs)`, shared by the runs that meet the same list."""
    return _shared(DotationsR2334, _DOTATION_KEY, dispositifs_classeur)


def dotations_r2334_27(action_lines: Iterable[LigneFinancement],
                       dispositifs_classeur: Iterable[Dispositif] | DotationsR2334) -> Decimal:
    is_dotation = (dispositifs_classeur if isinstance(dispositifs_classeur, DotationsR2334)
                   else DotationsR2334(dispositifs_classeur))
    return sum((lf.montant for lf in counted(action_lines) if is_dotation(lf)), ZERO)


# ------------------------------------------------------------------ the report's totals
@dataclass
class Totaux:
    cout_total: Decimal = ZERO
    financement_total: Decimal = ZERO
    par_financeur: dict[str, Decimal] = field(default_factory=dict)
    par_axe: dict[str, Decimal] = field(default_factory=dict)
    par_annee: dict[str, Decimal] = field(default_factory=dict)
    par_statut: dict[str, Decimal] = field(default_factory=dict)
    par_action: dict[str, Decimal] = field(default_factory=dict)

    @property
    def ecart(self) -> Decimal:
        return difference(self.cout_total, self.financement_total)

    @property
    def non_ventile(self) -> dict[str, Decimal]:
        """Per breakdown, the counted financing it could not place (a line with no financeur, no
        year, no statut, or of no known action): what makes each `par_…` add up to the total."""
        return {name: difference(self.financement_total, add_up(getattr(self, name).values()))
                for name in ("par_financeur", "par_axe", "par_annee", "par_statut")}

    def as_json(self) -> dict:
        f = lambda d: {k: float(v) for k, v in d.items()}  # noqa: E731 — JSON numbers, already to the cent
        return {
            "non_ventile": f(self.non_ventile),
            "cout_total": float(self.cout_total),
            "financement_total": float(self.financement_total),
            "ecart": float(self.ecart),
            "par_financeur": f(self.par_financeur),
            "par_axe": f(self.par_axe),
            "par_annee": f(self.par_annee),
            "par_statut": f(self.par_statut),
            "par_action": f(self.par_action),
        }


def compute(conv: Convention) -> Totaux:
    """Totals of a convention. `cout_total` sums the actions that are not `Abandonnée`."""
    axe_of = {a.numero: a.axe for a in conv.actions if a.numero}
    # the total and the five `by_key` sums with the lines filtered once (the same additions in the
    # same order, so the same Decimals): a 5,000-line plan is summed on every validation
    lines = counted(conv.financements)
    montants = list(map(_MONTANT, lines))  # each key and amount fetched in C
    numeros = list(map(_NUMERO, lines))
    return Totaux(
        cout_total=sum(
            (a.cout_total for a in conv.actions
             if a.cout_total is not None and a.maturite != layout.MATURITE_ABANDONNEE),
            ZERO,
        ),
        financement_total=sum(montants, ZERO),
        par_financeur=_sum_by(list(map(_FINANCEUR, lines)), montants),
        par_axe=_sum_by(list(map(axe_of.get, numeros)), montants),
        par_annee=_sum_by(list(map(_ANNEE, lines)), montants),
        par_statut=_sum_by(list(map(_STATUT, lines)), montants),
        par_action=_sum_by(numeros, montants),
    )


_MONTANT, _NUMERO, _FINANCEUR, _ANNEE, _STATUT = map(attrgetter, ("montant", "numero", "financeur", "annee", "statut"))


# ------------------------------------------------------------------ cross tables (annex, consolidation)
def beyond_default(t: Totaux) -> bool:
    """Whether the sums behind `t` may have been rounded by the default 28 digits: every sum of a
    plan of positive amounts is at most its totals (negative amounts, which could hide larger ones,
    are errors of their own)."""
    return max(abs(t.cout_total), abs(t.financement_total)) >= EXACT_IN_DEFAULT


def compute_exact(conv: Convention) -> Totaux:
    """`compute`, exact to the cent however large the amounts (once more, in `exact_context`, past
    10^18 €; nothing more for a real convention)."""
    t = compute(conv)
    if not beyond_default(t) or (context := exact_context(conv)) is None:
        return t
    with localcontext(context):
        return compute(conv)


def matrix(lines: Iterable[LigneFinancement], row_key, col_key) -> dict[str, dict[str, Decimal]]:
    """Counted amounts by (row, column), e.g. actions × financeurs: {row: {col: amount}}.

    Keys are strings; lines whose row or column key is empty are left out (as in `by_key`).
    """
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for lf in counted(lines):
        r, c = row_key(lf), col_key(lf)
        if r is None or r == "" or c is None or c == "":
            continue
        out[str(r)][str(c)] += lf.montant
    return {r: dict(cols) for r, cols in out.items()}


def shares(amounts: dict[str, Decimal], whole: Decimal) -> dict[str, Decimal | None]:
    """Each amount's share of `whole` (a ratio, not rounded; None when `whole` is 0)."""
    return {k: (v / whole if whole else None) for k, v in amounts.items()}


def cout_par_axe(actions: Iterable[FicheAction]) -> dict[str, Decimal]:
    """Cost of the actions by axe, leaving out `Abandonnée` ones (as `compute().cout_total` does).

    Actions without a (valid) axe are under the key "" so that the parts add up to the total.
    """
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for a in actions:
        if a.cout_total is not None and a.maturite != layout.MATURITE_ABANDONNEE:
            out[str(a.axe) if a.axe is not None else ""] += a.cout_total
    return dict(sorted(out.items()))


# ------------------------------------------------------------------ several conventions
def _add(into: dict[str, Decimal], other: dict[str, Decimal]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, ZERO) + v


def combine(items: Iterable[Totaux]) -> Totaux:
    """The totals of several conventions: each field added up (par_action is per convention: left
    empty), exact to the cent however large (`_wide`: a département past 10^18 €)."""
    items = list(items)
    context = _wide([*(t.cout_total for t in items), *(t.financement_total for t in items)])
    if context is None:
        return _combine(items)
    with localcontext(context):
        return _combine(items)


def _combine(items: list[Totaux]) -> Totaux:
    out = Totaux()
    for t in items:
        out.cout_total += t.cout_total
        out.financement_total += t.financement_total
        _add(out.par_financeur, t.par_financeur)
        _add(out.par_axe, t.par_axe)
        _add(out.par_annee, t.par_annee)
        _add(out.par_statut, t.par_statut)
    return out
