"""FIN — the plan de financement (`T_Financements`, with `T_Financeurs` and `T_Dispositifs`).

Every sum and ratio comes from `acv_xl.checks.totals` (Decimal to the cent; `Refusé` lines count in no
total). Percent comparisons are made on cross products (`part × 100 < seuil × base`), never on a
rounded ratio: exactly 20 % or exactly 80 % pass, 19,99 % fails.

An action whose plan holds a line with an unreadable or empty amount (reported by FIN-03), or
whose cost is unreadable (ACT-05), is not judged by FIN-05 to FIN-09: its sums would be false.
An `Abandonnée` action has left the plan: FIN-05 to FIN-09 and FIN-16 do not judge it.

A dispositif is recognised by meaning, never by spelling: `acv_xl.contract.dispositifs.famille`
decides, for every rule here and for the totals, whether a line is a DETR, a DSIL, a fonds de
concours, a subsidy of décret 2018-514… The maître d'ouvrage's own share is its own:
`totals.role_l1111_10` says how each line counts for L1111-10 (docs/regles.md has the table).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from functools import lru_cache
from itertools import chain, compress, repeat
from operator import and_, attrgetter, eq, is_, is_not, itemgetter
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from acv_xl.checks import totals
from acv_xl.checks.findings import Finding
from acv_xl.contract import dispositifs, layout, reference
from acv_xl.contract.dispositifs import famille
from acv_xl.contract.model import Commune, Convention, FicheAction, LigneFinancement
from acv_xl.contract.values import MEMO_TEXT_MAX, closest, fmt_date, fmt_number, fmt_percent, fold

from . import (
    convention_years,
    SRC_AIDES_100,
    SRC_CADUCITE,
    SRC_COMMENCEMENT,
    SRC_CONTRAT,
    SRC_DECRET_2018_514,
    SRC_FONDS_CONCOURS,
    SRC_FONDS_CONCOURS_PORT,
    SRC_FONDS_CONCOURS_SYNDICAT,
    SRC_FRLA,
    SRC_GUIDE,
    SRC_L1111_10,
    SRC_R2334_27,
    A,
    E,
    I,
    Index,
    Memo,
    action_reference,
    at,
    blank,
    index,
    kept_size,
    lazy,
    money,
    names_fctva,
    prefix,
    problem_findings,
    q,
    reference_date,
    required_findings,
    rows,
    rule,
    unknown,
    usable,
)

T = layout.T_FINANCEMENTS
CENT = Decimal("0.01")


def lignes(conv: Convention) -> list[LigneFinancement]:
    return rows(conv, T)


def plan(conv: Convention, a: FicheAction) -> list[LigneFinancement]:
    return index(conv).lines_of(a.numero)


_LINE_KEYS = frozenset(("numero", "financeur", "dispositif", "nature", "montant", "statut"))


class Judged:
    """An action whose plan FIN-05 to FIN-09 and FIN-16 judge, and what several of them compute on
    it, each at most once per run."""

    def __init__(self, conv: Convention, action: FicheAction, counted: list[LigneFinancement]):
        self.conv, self.action, self.counted = conv, action, counted

    @lazy
    def lines(self) -> list[LigneFinancement]:
        """The action's non-empty lines, in row order."""
        return plan(self.conv, self.action)

    @lazy
    def total(self) -> Decimal:
        """The counted financing of the action (`totals.total_action`: every line is the action's);
        `totals.total` of lines counted already, without filtering them again."""
        return sum([lf.montant for lf in self.counted], totals.ZERO)

    @lazy
    def part_mo(self) -> totals.PartMO:
        """L1111-10 shares, the MO known: only its own autofinancement is its own share (the counted
        lines given: `part_mo` counts the same ones)."""
        ix = index(self.conv)
        return totals.part_mo(self.counted, ix.categories, self.action, ix.mo_codes, counted=True)

    @lazy
    def familles(self) -> list[str | None]:
        """`famille(lf.dispositif)` of each counted line, in their order (FIN-06, 08, 23, 25 ask): the
        run's families, looked up in C."""
        return list(map(index(self.conv).familles.__getitem__, map(_DISPOSITIF, self.counted)))

    @lazy
    def categories_known(self) -> bool:
        """Whether every counted subsidy, autofinancement, fonds propres or apport line has a financeur of
        known category (Public/Privé): an unknown financeur (FIN-02) could be public, or the MO itself,
        so the L1111-10 and 2018-514 ratios would be guesses."""
        return self.action.numero not in _categories_unknown(self.conv)

    @lazy
    def dotations(self) -> Decimal:
        """The counted R2334-27 dotations of the action."""
        return index(self.conv).dotations.total(self.counted)  # `totals.dotations_r2334_27` of counted lines


def _categories_unknown(conv: Convention) -> set[str | None]:
    """The numbers of the actions holding a counted subsidy, autofinancement, fonds propres or apport
    line whose financeur has no known category: one pass over the run's counted lines (a judged
    action's counted lines are exactly those of its number)."""
    def build() -> set[str | None]:
        categorie = index(conv).categories.get
        known, subvention, apport = layout.L.CATEGORIE, layout.NATURE_SUBVENTION, layout.NATURES_APPORT
        return {lf.numero for lf in index(conv).counted_lines
                if (lf.nature == subvention or lf.nature in apport) and categorie(lf.financeur) not in known}
    return index(conv).memo("categories_unknown", build)


def _numeros_with(conv: Convention, familles: frozenset[str]) -> set[str | None]:
    """The numbers of the actions holding a counted line of one of `familles` (few, mostly none):
    one pass in C over the run's counted lines, once per run. Shared: read it, never change it."""
    def build() -> set[str | None]:
        ix = index(conv)
        return set(map(_NUMERO, compress(ix.counted_lines, map(familles.__contains__, ix.counted_familles))))
    return index(conv).memo(("numeros", familles), build)


_FONDS_CONCOURS = frozenset((layout.FAMILLE_FONDS_CONCOURS,))
_FRLA = frozenset(("FRLA",))
_R2334_27 = frozenset(layout.FAMILLES_R2334_27)
_NUMERO, _MONTANT = attrgetter("numero"), attrgetter("montant")


def _numeros_anru(conv: Convention) -> set[str | None]:
    """The numbers of the actions the ANRU finances (a counted line that pays its money,
    `dispositifs.is_anru`: « NPNRU » filed under `AUTRE` too): few, once per run, asked only when an
    action has the dérogation « ANRU »."""
    def build() -> set[str | None]:
        noms = {f.code: f.nom for f in conv.financeurs if f.code and f.nom and f.code not in layout.FINANCEURS_BY_CODE}
        return {lf.numero for lf in index(conv).counted_lines
                if dispositifs.is_anru(lf.dispositif, lf.financeur, noms.get(lf.financeur))}
    return index(conv).memo("numeros_anru", build)


def judged_actions(conv: Convention) -> list[Judged]:
    return index(conv).memo("judged_actions", lambda: _judged_actions(conv))


def _judged_actions(conv: Convention) -> list[Judged]:
    """Actions whose plan can be judged: numbered (and not twice), not abandoned, cost readable and > 0, at least one
    counted line (ACT-08 reports the others), every non-refused line with a readable amount, no
    line with an unreadable financeur, dispositif, nature or statut."""
    ix = index(conv)
    actions = rows(conv, layout.T_ACTIONS)
    numeros = list(map(_NUMERO, actions))
    # a duplicated number (ACT-01): whose are the lines? not guessed (most plans number each action once)
    twice = () if len(set(numeros)) == len(numeros) else {n for n, k in Counter(numeros).items() if k > 1}
    # the numbers whose plan holds a counted line without a readable amount, or a line with an
    # unreadable status, nature or financeur (every sum would be a guess): the lines without an
    # amount and those with a problem (few, mostly none) found in C
    refuse = layout.STATUT_REFUSE  # `lf.compte`, inlined
    lines = lignes(conv)
    unsure = {lf.numero for lf in compress(lines, map(is_, map(_MONTANT, lines), repeat(None))) if lf.statut != refuse}
    unsure.update(lf.numero for lf in ix.with_problems(T) if not _LINE_KEYS.isdisjoint(lf.problems))
    counted_of = ix._counted_by_action.get  # `ix.counted_of`: `totals.counted(plan(conv, a))`, shared
    abandonnee = layout.MATURITE_ABANDONNEE
    out = []
    for a, numero in zip(actions, numeros):
        # an unreadable maturity may be « Abandonnée »; no cost: ACT-02/ACT-05
        if (not numero or numero in twice or numero in unsure or a.maturite == abandonnee
                or "maturite" in a.problems or a.cout_total is None or a.cout_total <= 0):
            continue
        counted = counted_of(numero)
        if counted:  # else no counted line: ACT-08
            out.append(Judged(conv, a, counted))
    return out


def _pct(ratio: Decimal, seuil: int) -> str:
    """The ratio judged against `seuil` % (`values.fmt_percent`'s rule): « 9,999 % » under a 10 %
    minimum, never « 10,0 % » in a message saying it is too low."""
    return fmt_percent(ratio, (Decimal(seuil) / 100,))


def _ceil(d: Decimal) -> Decimal:
    # the digits any magnitude needs (`values.to_cents`): 28 made a crafted 1E+30 amount a crash (STR-00)
    return d.quantize(CENT, rounding=ROUND_CEILING, context=Context(prec=max(28, d.adjusted() + 4)))


def _floor(d: Decimal) -> Decimal:
    # as `_ceil`, to the cent below
    return d.quantize(CENT, rounding=ROUND_FLOOR, context=Context(prec=max(28, d.adjusted() + 4)))


# ----------------------------------------------------------------------------- line checks
@rule("FIN-01", E, "N° d'action du financement inconnu", SRC_GUIDE, needs=("T_Financements", "T_Actions"))
def action_inconnue(conv: Convention) -> Iterable[Finding]:
    yield from action_reference(conv, lignes(conv), "FIN-01", lambda lf: (
        f"Ligne {lf.row} : le numéro d'action de la ligne de financement est vide.",
        "Indiquez le numéro de l'action financée (feuille Fiches-actions)."))


@rule("FIN-02", E, "Financeur inconnu", SRC_GUIDE, needs=("T_Financements", "T_Financeurs"), optional=("T_Dispositifs",))
def financeur_inconnu(conv: Convention) -> Iterable[Finding]:
    codes = index(conv).financeur_codes
    known = set(codes)
    for lf in unknown(lignes(conv), "financeur", known):  # a known code (most lines): nothing to say
        if lf.financeur is None and blank(lf, "financeur"):  # the test inlined first: a call per line
            yield at(lf, "financeur", "FIN-02", E, f"{prefix(lf)} : le financeur n'est pas renseigné.",
                     "Choisissez le code du financeur dans la liste (feuille Financeurs).")
        elif lf.financeur and lf.financeur not in known:
            c = _closest(lf.financeur, codes)
            owner = None if c else _owner_of_dispositif(conv, lf.financeur)
            yield at(lf, "financeur", "FIN-02", E,
                     f"{prefix(lf)} : {q(lf.financeur)} n'est pas un code de financeur de la feuille Financeurs.",
                     f"Choisissez {q(c)}." if c else
                     f"{q(lf.financeur)} est un dispositif de {q(owner[0])} (feuille Dispositifs) : choisissez "
                     f"{q(owner[0])} comme financeur et {q(owner[1])} comme dispositif." if owner else
                     "Choisissez un code de la liste, ou ajoutez ce financeur à la feuille Financeurs.")


def _owner_of_dispositif(conv: Convention, typed: str) -> tuple[str, str] | None:
    """(financeur, dispositif) of the workbook's Dispositifs list that `typed` names — « FEDER » typed
    as a financeur is the UE's dispositif — or None. Only for an unknown code (rare): a plain walk."""
    if not isinstance(typed, str):
        return None
    pairs = tuple((d.financeur, d.dispositif) for d in rows(conv, layout.T_DISPOSITIFS)
                  if d.financeur and isinstance(d.dispositif, str))
    if len(typed) <= MEMO_TEXT_MAX and kept_size(chain.from_iterable(pairs)):  # a pasted text is not kept
        return _owner_in(typed, pairs)
    return _owner_in.__wrapped__(typed, pairs)


@lru_cache(maxsize=256)
def _owner_in(typed: str, pairs: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
    """The first of the (financeur, dispositif) `pairs` whose dispositif `typed` names: a walk of
    the list comparing names by meaning (≈ 35 µs for the template's 50 dispositifs), memoised — the
    same mistake comes back in the workbooks of a département, which hold the same list."""
    for financeur, dispositif in pairs:
        if dispositifs.same(typed, dispositif):
            return financeur, dispositif
    return None


def _closest(value: str, choices: tuple[str, ...]) -> str | None:
    """`values.closest`, memoised for values and lists of ordinary length (a comparison of spellings with
    each choice: ≈ 35 µs for the 16 codes of financeurs, for a mistake that comes back file after file).
    Each of the 1,024 answers keeps its list of codes: at most `_CLOSEST_KEPT_CHARS` characters (the
    template's ≈ 100), not the 64 KiB a list of the lists' facts may hold (64 MiB in all)."""
    if value.__class__ is str and len(value) <= MEMO_TEXT_MAX and sum(map(len, choices)) <= _CLOSEST_KEPT_CHARS:
        return _closest_memo(value, choices)
    return closest(value, choices)


_closest_memo = lru_cache(maxsize=1024)(closest)
_CLOSEST_KEPT_CHARS = 4 * 1024


@rule("FIN-03", E, "Montant du financement invalide", SRC_GUIDE, needs=("T_Financements",))
def montant(conv: Convention) -> Iterable[Finding]:
    """Empty, not a number (text numbers with the parsed value as suggestion) or ≤ 0 — refused
    lines included: the amount requested is part of the record.
    A: an amount that is not to the cent (« =1240000/3 »): it is counted rounded to the cent, as
    every amount is, so the lines may add up a cent away from what Excel's own sums show."""
    yield from problem_findings(conv, T, ("montant",), "FIN-03", E)
    yield from required_findings(conv, T, ("montant",), "FIN-03", E)
    for lf in lignes(conv):
        if lf.montant is not None and lf.montant <= 0:
            yield at(lf, "montant", "FIN-03", E,
                     f"{prefix(lf)} : le montant ({money(lf.montant)}) doit être strictement positif.",
                     "Saisissez le montant apporté, ou supprimez la ligne.")
        elif lf.montant is not None and (typed := _past_the_cent(lf.raw.get("montant"))) is not None:
            yield at(lf, "montant", "FIN-03", A,
                     f"{prefix(lf)} : le montant ({fmt_number(typed, -typed.as_tuple().exponent)} €) n'est pas "
                     f"arrondi au centime ; il est compté {money(lf.montant)}, si bien que les totaux du "
                     "contrôle peuvent différer d'un centime de ceux que calcule Excel.",
                     "Arrondissez-le au centime, par exemple =ARRONDI(1240000/3;2), et ajustez une des lignes "
                     "pour que leur somme soit celle attendue.")


def _past_the_cent(raw: Any) -> Decimal | None:
    """The number as Excel shows it at most (15 significant digits) when it has more than two
    decimals; None otherwise, for a text (FIN-03's other cases) and for a formula's binary noise
    (0,1 + 0,2 is 0,3 to Excel). Whole and cent amounts, nearly all, answer without a Decimal."""
    if type(raw) is not float or raw.is_integer() or raw != raw or raw in (_INF, -_INF):
        return None
    cents = raw * 100
    if abs(cents - round(cents)) <= max(1e-9, 1e-13 * abs(cents)):  # a few hundred ulps: noise, not a fraction
        return None
    shown = Decimal(format(raw, ".15g"))
    return shown if shown.as_tuple().exponent < -2 else None


_INF = float("inf")


@rule("FIN-04", E, "Nature, statut ou année invalide", SRC_GUIDE, needs=("T_Financements",))
def nature_statut_annee(conv: Convention) -> Iterable[Finding]:
    """E: `Nature`/`Statut` empty or outside their list, `Année` empty or not a year.
    A: `Année` outside the programme's years (ACV 1: 2018-2022, ACV 2: 2023-2026)."""
    yield from problem_findings(conv, T, ("nature", "statut", "annee"), "FIN-04", E)
    yield from required_findings(conv, T, ("nature", "statut", "annee"), "FIN-04", E)
    period = convention_years(conv)
    if period is None:
        return
    years, said = period
    for lf in unknown(lignes(conv), "annee", years):  # a year of the programme (most lines): nothing to say
        if lf.annee is not None and lf.annee not in years:
            yield at(lf, "annee", "FIN-04", A,
                     f"{prefix(lf)} : l'année {lf.annee} est hors de la période {said}.",
                     "Vérifiez l'année de la participation.")


# ----------------------------------------------------------------------------- action balance and ratios
@rule("FIN-05", E, "Plan de financement déséquilibré", SRC_GUIDE, needs=("T_Financements", "T_Actions"))
def desequilibre(conv: Convention) -> Iterable[Finding]:
    """Σ counted `Montant (€)` ≠ `Coût total (€)` to the cent, on the action's cost cell."""
    for j in judged_actions(conv):
        a, fin = j.action, j.total
        ecart = a.cout_total - fin  # `totals.ecart`, the cost being a number here
        if ecart == 0:
            continue
        sugg = (f"Complétez le financement de {money(ecart)} ou corrigez le coût total." if ecart > 0
                else f"Réduisez les financements de {money(-ecart)} ou corrigez le coût total.")
        # the gap in words, not a signed « écart -50 000,00 € » the reader has to decode
        gap = (f"il manque {money(ecart)} de financements" if ecart > 0
               else f"les financements dépassent le coût de {money(-ecart)}")
        yield at(a, "cout_total", "FIN-05", E,
                 f"Plan de financement déséquilibré pour l'action {a.numero} : coût total {money(a.cout_total)}, "
                 f"financements {money(fin)} ; {gap}.", sugg, action=a.numero)


def _departement(conv: Convention) -> str:
    """The convention's département as PRJ-05 and PRJ-08 read it: « 2a » is Corse's 2A (they pass it),
    and FIN-06 must not then say the « Corse » dérogation is not Corse's."""
    return str(conv.value("acv_departement") or "").strip().upper()


def _exempt_l1111_10(conv: Convention, j: Judged, outre_mer: bool | None = None) -> bool:
    """L1111-10 III does not apply: the collectivités of Guadeloupe, Guyane, La Réunion, Martinique,
    Mayotte, Saint-Barthélemy, Saint-Martin and Saint-Pierre-et-Miquelon (the convention's
    département), or an operation the FEDER finances under a programme of coopération territoriale
    européenne (`_numeros_interreg`). `outre_mer`: the first, when the caller knows it."""
    if outre_mer is None:
        outre_mer = _departement(conv) in layout.DEPARTEMENTS_OUTRE_MER
    if outre_mer:
        return True
    return j.action.numero in _numeros_interreg(conv)


def _numeros_interreg(conv: Convention) -> set[str | None]:
    """The numbers of the actions the Union's Interreg money finances (L1111-10 III exempts them): a counted
    line of the family, given (nature `Subvention` or `Autre`), not named as its payer's own money. The
    commune's « Contrepartie Interreg » or « Autofinancement (hors Interreg) » exempted its own plan, with no
    Interreg money in it. Few lines, once per run."""
    def build() -> set[str | None]:
        donnees = (layout.NATURE_SUBVENTION, layout.NATURE_AUTRE)
        return {lf.numero for lf in compress(index(conv).counted_lines,
                                             map(eq, index(conv).counted_familles, repeat(layout.FAMILLE_INTERREG)))
                if lf.nature in donnees and not dispositifs.names_own_money(lf.dispositif)}
    return index(conv).memo("numeros_interreg", build)


@rule("FIN-06", E, "Participation minimale du maître d'ouvrage non atteinte", SRC_L1111_10,
      needs=("T_Financements", "T_Actions.derogation", "T_Financeurs"), optional=("T_Dispositifs",))
def participation_mo(conv: Convention) -> Iterable[Finding]:
    """For a MO `Commune`/`EPCI`/`Département`/`Région`/`Syndicat mixte`: own share < 20 % of (own share
    + public financing). The own share is the MO's own: its autofinancement, fonds propres and apports
    (financeur = the MO: `COMMUNE` for a commune, `EPCI` for an EPCI…, `totals.codes_du_mo`), every
    loan or avance remboursable (the MO repays it) and the operation's recettes; another public
    body's « autofinancement » is a public participation (FIN-22 says so on its line).
    Dérogations as L1111-10 III writes them: `ANRU` (art. 9 of loi 2003-710), outre-mer and FEDER
    coopération territoriale européenne: no minimum; `Corse` in 2A/2B (water, sanitation, waste,
    fire, communal roads of the communes and EPCI of Corse): 10 %; `Rénovation
    énergétique scolaire`: 10 % only on the préfet's decision (10 % to 20 %: A asking for the arrêté,
    below 10 %: E); `Monument protégé`, `Patrimoine non protégé`, `Calamité publique`: A (the préfet
    may grant the derogation). Exactly the minimum passes. Reported on the action's `Dérogation
    L1111-10` cell. An unreadable MO type or derogation (ACT-12), or a subsidy of an unknown
    financeur (FIN-02), is not guessed."""
    dept = _departement(conv)
    outre_mer = dept in layout.DEPARTEMENTS_OUTRE_MER  # the same for every action
    for j in judged_actions(conv):
        a = j.action
        if a.type_mo not in layout.MO_PUBLICS_L1111_10 or "derogation" in a.problems:
            continue
        derog = a.derogation or layout.DEROGATION_AUCUNE
        # the ANRU's operation (art. 9 of loi 2003-710) has no minimum; chosen for a plan where the ANRU
        # pays nothing, the dropdown alone silenced the error: checked, said as a warning below
        anru = derog == layout.DEROGATION_ANRU
        if ((anru and a.numero in _numeros_anru(conv)) or _exempt_l1111_10(conv, j, outre_mer)
                or not j.categories_known):
            continue
        pm = j.part_mo
        if pm.ratio is None:
            continue
        base = pm.propre + pm.financements_publics
        if pm.propre * 100 >= 20 * base:
            continue
        if anru:
            yield at(a, "derogation", "FIN-06", A,
                     f"Action {a.numero} : la dérogation {q(derog)} dispense de participation minimale les opérations "
                     f"du programme de renouvellement urbain (article 9 de la loi n° 2003-710), mais l'ANRU ne finance "
                     f"pas l'action dans le plan de financement ; sans elle, la part propre du maître d'ouvrage, "
                     f"{_pct(pm.ratio, 20)} de {money(base)}, est sous le minimum de 20 % ({SRC_L1111_10}).",
                     "Vérifiez que l'opération figure dans la convention de renouvellement urbain (NPNRU) signée avec "
                     "l'ANRU et ajoutez sa participation au plan ; sinon choisissez la dérogation « Aucune » ou celle "
                     "dont relève l'opération.", action=a.numero)
            continue
        corse = derog == layout.DEROGATION_CORSE and dept in layout.DEPARTEMENTS_CORSE
        dix = pm.propre * 100 >= 10 * base
        if corse and dix:
            # the law's own 10 %, for some domains only: what to check, not a silent pass
            yield at(a, "derogation", "FIN-06", A,
                     f"Action {a.numero} : la part propre du maître d'ouvrage est de {_pct(pm.ratio, 20)} ; le minimum "
                     f"de 10 % de la dérogation {q(derog)} ne vaut que pour les projets des communes de Corse et de leurs "
                     f"EPCI à fiscalité propre en matière d'eau, d'assainissement, de déchets, de protection contre "
                     f"l'incendie et de voirie communale ({SRC_L1111_10}).",
                     "Vérifiez que l'opération relève de l'un de ces domaines ; sinon le minimum est de 20 %.",
                     action=a.numero)
            continue
        seuil = Decimal(10 if corse else 20)
        scolaire_possible = derog == layout.DEROGATION_SCOLAIRE and dix
        grav = A if derog in layout.DEROGATIONS_PREFET or scolaire_possible else E
        transfert = _ceil(seuil * base / 100 - pm.propre)
        cadre = f" (dérogation {q(derog)})" if derog != layout.DEROGATION_AUCUNE else ""
        autres = ""
        if pm.participations_publiques:
            # what `totals.role_l1111_10` counts so: another public body's money of any nature but a subsidy
            autres = (f", dont {money(pm.participations_publiques)} apportés par d'autres personnes publiques "
                      "autrement qu'en subvention (autofinancement, fonds propres, apport en nature ou nature "
                      "« Autre »), qui ne sont pas la part du maître d'ouvrage")
        autre = _public_par_sa_categorie(conv, j)
        msg = (f"Participation minimale du maître d'ouvrage non atteinte pour l'action {a.numero}{cadre} : sa part "
               "propre (son autofinancement, ses fonds propres et apports, ses lignes de nature « Autre », ses emprunts "
               f"et avances remboursables, les recettes de l'opération) est de {money(pm.propre)}, soit "
               f"{_pct(pm.ratio, seuil)} de {money(base)} (part propre + financements publics{autres}) ; le minimum "
               f"est de {seuil} % ({SRC_L1111_10}).")
        if autre:
            # AUTRE's category is the user's, « Public » in the template: say what it brings into the base
            msg += (f" Les financements publics comptent {money(autre)} du financeur « AUTRE », public d'après sa "
                    "catégorie dans la feuille Financeurs : s'il est une personne privée (un mécène, une entreprise), "
                    "indiquez la catégorie « Privé ».")
        if scolaire_possible:
            msg += (" Pour la rénovation énergétique des bâtiments scolaires, le préfet peut fixer ce minimum à 10 % : "
                    "indiquez la référence de son arrêté (colonne Commentaire du plan de financement).")
        elif grav is A:
            msg += " Le préfet peut accorder la dérogation : joignez sa décision."
        elif derog == layout.DEROGATION_SCOLAIRE:
            msg += " Même sur décision du préfet, le minimum ne descend pas sous 10 % pour la rénovation énergétique scolaire."
        elif derog == layout.DEROGATION_CORSE and not corse:  # in 2A/2B, its 10 % is the minimum said above
            msg += f" La dérogation {q(derog)} ne vaut que pour les collectivités de Corse (département 2A ou 2B)."
        remplacez = (f"remplacez au moins {money(transfert)} de financements publics par de l'autofinancement du "
                     f"maître d'ouvrage (part propre d'au moins {money(pm.propre + transfert)})")
        # the suggestion follows the message: the préfet's decision first where he may grant one; the 10 % he
        # may set for school energy renovation below it; « choisissez-la » only when no dérogation is chosen
        if scolaire_possible:
            sugg = f"Indiquez la référence de l'arrêté du préfet fixant le minimum à 10 % ; à défaut, {remplacez}."
        elif grav is A:
            sugg = f"Joignez la décision du préfet accordant la dérogation ; à défaut, {remplacez}."
        elif derog == layout.DEROGATION_SCOLAIRE:
            dix_pour_cent = _ceil(base / 10 - pm.propre)
            sugg = (f"Remplacez au moins {money(dix_pour_cent)} de financements publics par de l'autofinancement du "
                    f"maître d'ouvrage (part propre d'au moins {money(pm.propre + dix_pour_cent)}, les 10 % que le "
                    f"préfet peut fixer par arrêté ; {money(pm.propre + transfert)} sans arrêté).")
        elif derog == layout.DEROGATION_AUCUNE:
            sugg = (f"R{remplacez[1:]} ; si l'opération relève d'une dérogation, choisissez-la dans la colonne "
                    f"{q(layout.T_ACTIONS.header('derogation'))}.")
        else:
            sugg = f"R{remplacez[1:]}."
        yield at(a, "derogation", "FIN-06", grav, msg, sugg, action=a.numero)


def _public_par_sa_categorie(conv: Convention, j: Judged) -> Decimal:
    """What the action's `AUTRE` lines bring into the L1111-10 base because `AUTRE`'s category, the user's own
    (« Public » in the template), is « Public »: the lines counted there that a « Privé » category would leave
    outside (not its « DSIL », public whoever pays it). Asked only of a plan FIN-06 fails."""
    categories = index(conv).categories
    if categories.get(_AUTRE) != "Public":
        return totals.ZERO
    mo = index(conv).mo_codes(j.action)
    prive = {_AUTRE: "Privé"}.get
    dans_la_base = (totals.SUBVENTION_PUBLIQUE, totals.PARTICIPATION_PUBLIQUE)
    return totals.total([lf for lf in j.counted if lf.financeur == _AUTRE
                         and totals.role_l1111_10(lf, mo, categories.get, categories.subventions) in dans_la_base
                         and totals.role_l1111_10(lf, mo, prive, categories.subventions) == totals.HORS_BASE])


_AUTRE = "AUTRE"


@rule("FIN-07", E, "Dotations de l'État au-delà de 80 % de la dépense subventionnable", SRC_R2334_27,
      needs=("T_Financements.dispositif", "T_Actions.depense_subventionnable", "T_Dispositifs"),
      optional=("T_Financeurs",))
def plafond_80(conv: Convention) -> Iterable[Finding]:
    """Σ of the DETR, DSIL, DPV and DSID lines, recognised by meaning whatever their spelling
    (« DSIL exceptionnelle », « DETR 2025 », `contract.dispositifs.famille`) and paid by the État
    (`dispositifs.is_r2334_27`: not a Département's « fonds de soutien à l'investissement local »), or
    marked `Dotation R2334-27` = `Oui` in the workbook's list, > 80 % of `Dépense subventionnable
    (€ HT)` (exactly 80 % passes), or of the cost when the dépense exceeds it (ACT-11 only warns of
    that: a dépense inflated above the cost must not make room under the cap). An action that
    mobilises such a dotation with an empty dépense subventionnable cannot be checked: that is an
    error too, on the same cell."""
    for j in judged_actions(conv):
        a, dot = j.action, j.dotations
        if dot == 0 or "depense_subventionnable" in a.problems:
            continue
        dep = a.depense_subventionnable
        if dep is not None and dep <= 0:
            continue  # ACT-05
        if dep is None:
            yield at(a, "depense_subventionnable", "FIN-07", E,
                     f"L'action {a.numero} mobilise {money(dot)} de dotations de l'État (DETR, DSIL, DPV, DSID) "
                     "mais sa dépense subventionnable n'est pas renseignée : le plafond de 80 % ne peut pas être vérifié.",
                     "Saisissez la dépense subventionnable HT de l'action.", action=a.numero)
        elif dot * 100 > 80 * min(dep, a.cout_total):
            # a dépense above the cost (ACT-11, a warning) is no base: the dotations fund the operation's cost
            base = min(dep, a.cout_total)
            plafond = base * Decimal("0.8")
            is_dotation = index(conv).dotations
            names = list(dict.fromkeys(lf.dispositif for lf in j.counted if is_dotation(lf)))
            noms = ("dispositif " if len(names) == 1 else "dispositifs ") + ", ".join(map(q, names))
            de = _de_la_base(dep, base)
            yield at(a, "depense_subventionnable", "FIN-07", E,
                     f"Les dotations de l'État (DETR, DSIL, DPV, DSID) de l'action {a.numero} ({noms}) atteignent "
                     f"{money(dot)}, soit {_pct(dot / base, 80)} {de} ; le maximum est de 80 %, soit {money(plafond)} "
                     f"({SRC_R2334_27}).",
                     f"Réduisez ces dotations de {money(_ceil(dot - plafond))} au moins"
                     + ("." if base == dep else ", et ramenez la dépense subventionnable au coût total au plus."
                        if a.base != "TTC" else ", et ramenez la dépense subventionnable au coût hors taxes de l'action "
                        "au plus (la colonne est hors taxes)."),
                     action=a.numero)


@rule("FIN-08", A, "DETR, DSIL, DPV ou DSID inférieure à 20 % de la dépense subventionnable", SRC_R2334_27,
      needs=("T_Financements.dispositif", "T_Actions.depense_subventionnable", "T_Dispositifs"),
      optional=("T_Financeurs",))
def plancher_20(conv: Convention) -> Iterable[Finding]:
    """A DETR, DSIL, DPV or DSID of an action (recognised by meaning: « DSIL exceptionnelle » is a
    DSIL) < 20 % of the dépense subventionnable (R2334-27; RM n° 4800 for DPV and DSID). The subsidy
    is one decision that the plan may spread over several years and spellings: the action's counted
    lines of one dotation are summed, and the finding points at the first of them. Not reported when
    the 80 % cap forces it: when the other dotations leave less than 20 % below the cap, a smaller
    amount is the only lawful one. Nor the dotations a line names together (« DETR/DSIL », FIN-26): what each
    receives is not known. As FIN-07, of the cost when the dépense typed exceeds it; not of a TTC cost (the
    HT dépense ACT-11 asks for, the floor's base, is below it and unknown): not judged until it is corrected."""
    with_r2334 = _numeros_with(conv, _R2334_27)
    for j in judged_actions(conv):
        a = j.action
        dep = a.depense_subventionnable
        if dep is None or dep <= 0 or a.numero not in with_r2334:  # no such line: no group below
            continue
        if a.base == "TTC" and dep > a.cout_total:
            # the floor is 20 % of the HT dépense, which ACT-11 asks to bring to the HT cost, below the TTC one:
            # unknown, 20 % of the TTC cost overstates it (FIN-07's cap on it stays sure, the HT cost no higher)
            continue
        groups: dict[str, list[LigneFinancement]] = {}
        is_dotation = index(conv).dotations  # the État's: not a Département's fund of the same name
        melees: set[str] = set()  # the dotations a line mixing them names (« DETR/DSIL »): FIN-26's
        for lf, fam in zip(j.counted, j.familles):
            if fam in layout.FAMILLES_R2334_27 and is_dotation(lf):
                groups.setdefault(fam, []).append(lf)
                if len(noms := dispositifs.dotations_nommees(lf.dispositif)) > 1:
                    melees.update(noms)
        if not groups:
            continue
        dot = j.dotations
        base = min(dep, a.cout_total)  # as FIN-07: a dépense above the cost is no base
        for fam, group in groups.items():
            if fam in melees:
                continue  # its amount is not known (FIN-26 asks to split the line): no floor said on a guess
            montant = totals.total(group)
            if montant <= 0 or montant * 100 >= 20 * base:
                continue  # ≤ 0 is FIN-03's
            if (dot - montant + base * Decimal("0.2")) * 100 > 80 * base:
                continue  # the cap forces it
            years = f" sur {len(group)} lignes" if len(group) > 1 else ""  # « (286 000,00 € (sur 2 lignes)) » read badly
            yield at(group[0], "montant", "FIN-08", A,
                     f"{prefix(group[0])} : la {fam} de l'action ({money(montant)}{years}) représente "
                     f"{_pct(montant / base, 20)} {_de_la_base(dep, base)} ; le taux minimal "
                     f"est de 20 %, soit {money(base * Decimal('0.2'))} ({SRC_R2334_27}).",
                     f"Portez la {fam} à {money(_ceil(base * Decimal('0.2')))} au moins, ou justifiez le taux.")


@rule("FIN-26", A, "Ligne de financement mêlant plusieurs dotations ou aides de l'État", SRC_R2334_27,
      needs=("T_Financements.dispositif",))
def dotations_melees(conv: Convention) -> Iterable[Finding]:
    """Added code. A counted line of the État's DETR, DSIL, DPV or DSID whose dispositif names two or more of them
    (« DETR/DSIL », « DSIL ou DETR »: `dispositifs.dotations_nommees`), which `famille` reads as the first, or one of
    them joined to another aid of the État (« DSIL/FNADT », « DETR ou Fonds vert »): each is a decision of its own,
    a dotation with its own floor (R2334-27). The line is counted whole in the 80 % cap (FIN-07), the same whichever
    dotation it is, the other aid with it (the safe side, said); the floors of the dotations it names are not
    judged (FIN-08).
    Not on an `Abandonnée` action's line: it has left the plan (ACT-13 asks to release it)."""
    ix = index(conv)
    action = ix.action
    counted = ix.counted_lines  # the lines of a R2334-27 family (a few), found in C
    for lf in compress(counted, map(_R2334_27.__contains__, ix.counted_familles)):
        noms = dispositifs.dotations_nommees(lf.dispositif)
        if len(noms) < 2 or not dispositifs.is_r2334_27(lf.dispositif, lf.financeur):
            continue
        a = action(lf.numero)
        if a is not None and a.maturite == layout.MATURITE_ABANDONNEE:
            continue
        nombre = ("deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix")[len(noms) - 2]
        les = ", ".join(map(_nom_d_aide, noms[:-1])) + f" et {_nom_d_aide(noms[-1])}"
        autres = [n for n in noms if n not in _R2334_27]
        if not autres:
            yield at(lf, "dispositif", "FIN-26", A,
                     f"{prefix(lf)} : le dispositif {q(lf.dispositif)} nomme {nombre} dotations de l'État, {les}, sur "
                     "une seule ligne ; chacune est une décision distincte, avec son propre taux minimal de 20 % de la "
                     f"dépense subventionnable ({SRC_R2334_27}). La ligne est comptée en entier dans le plafond de 80 % "
                     "des dotations, mais le taux minimal de chacune n'est pas vérifié.",
                     "Scindez la ligne : une ligne par dotation, avec le montant attribué à chacune et la référence de "
                     "sa décision.")
            continue
        # a dotation and another aid of the État (« DSIL/FNADT »): the aid is no dotation of the 80 % cap, which the
        # line is counted in whole (the safe side) until it is split
        dotations = [n for n in noms if n in _R2334_27]
        taux = ("a son" if len(dotations) == 1 else "ont chacune leur") + " propre taux minimal"
        n_en_est = "ne sont pas de ces dotations" if len(autres) > 1 else "n'est pas l'une d'elles"
        yield at(lf, "dispositif", "FIN-26", A,
                 f"{prefix(lf)} : le dispositif {q(lf.dispositif)} nomme {nombre} aides de l'État, {les}, sur une "
                 f"seule ligne ; chacune est une décision distincte, et {' et '.join(map(_nom_d_aide, dotations))} "
                 f"{taux} de 20 % de la dépense subventionnable ({SRC_R2334_27}). La ligne est comptée en entier dans "
                 f"le plafond de 80 % des dotations, alors que {' et '.join(map(_nom_d_aide, autres))} {n_en_est}, et "
                 f"le taux minimal de {' et de '.join(map(_nom_d_aide, dotations))} n'est pas vérifié.",
                 "Scindez la ligne : une ligne par aide, avec le montant attribué à chacune et la référence de sa "
                 "décision.")


# How FIN-26 names an aid of the État in a sentence: « la DSIL », « le FNADT », « la subvention de la DRAC »
_NOMS_D_AIDES = {"DRAC": "la subvention de la DRAC"}


def _nom_d_aide(fam: str) -> str:
    if fam in _NOMS_D_AIDES:
        return _NOMS_D_AIDES[fam]
    return f"la {fam}" if fam in _R2334_27 else f"le {fam}"


def _de_la_base(dep: Decimal, base: Decimal) -> str:
    """How FIN-07 and FIN-08 name the base of their percentages, after « soit 80,1 % »: the dépense
    subventionnable, or the cost when the dépense typed exceeds it."""
    if base == dep:
        return f"de la dépense subventionnable ({money(dep)})"
    return (f"du coût total de l'action ({money(base)}), que la dépense subventionnable saisie ({money(dep)}) "
            "ne peut dépasser")


def _governed_by_2018_514(lf: LigneFinancement) -> bool:
    """A State investment subsidy of décret n° 2018-514: a dispositif it governs (Fonds vert, FNADT,
    DRAC, FRLA…), or an État subsidy of no known regime (the décret is the general one)."""
    return _governed(lf.dispositif, lf.financeur, lf.nature)


def _governed(dispositif: str | None, financeur: str | None, nature: str | None) -> bool:
    if dispositifs.is_decret_2018_514(dispositif, financeur):
        return True
    return financeur == layout.CODE_ETAT and nature == layout.NATURE_SUBVENTION and famille(dispositif) is None


@rule("FIN-09", E, "Aides publiques au-delà de 100 % de la dépense subventionnable", SRC_AIDES_100,
      needs=("T_Financements", "T_Actions.depense_subventionnable", "T_Financeurs"), optional=("T_Dispositifs",))
def plafond_100(conv: Convention) -> Iterable[Finding]:
    """Public aid (Public financeur, nature Subvention, not refused; other public bodies' autofinancement,
    fonds propres, apports and « Autre » too, whoever the MO: a Région's « Autre » to a SEM's operation is
    public money for it as much as its subsidy) > the dépense subventionnable (exactly 100 % passes). The message cites décret n° 2018-514 art. 10 only when the plan holds a subsidy
    that décret governs (Fonds vert, FNADT, DRAC, FRLA…, `_governed_by_2018_514`); otherwise it is
    the general rule that public aid never exceeds the expense it funds. Not judged when the
    dépense is empty (not required unless a State dotation is mobilised, FIN-07) or a subsidy's
    financeur is unknown (FIN-02)."""
    for j in judged_actions(conv):
        a = j.action
        dep = a.depense_subventionnable
        if dep is None or dep <= 0:
            continue  # not required / ACT-05
        if not j.categories_known:
            continue
        aides = j.part_mo.financements_publics
        if aides <= dep:
            continue
        if any(_governed_by_2018_514(lf) for lf in j.counted):
            cadre = f" ({SRC_DECRET_2018_514}, pour les subventions de l'État qu'il régit)"
        else:
            cadre = " : une aide publique ne peut financer plus que la dépense qu'elle subventionne"
        yield at(a, "depense_subventionnable", "FIN-09", E,
                 f"Les aides publiques de l'action {a.numero} ({money(aides)}) dépassent la dépense "
                 f"subventionnable ({money(dep)}) de {money(aides - dep)}{cadre}.",
                 f"Réduisez les aides publiques de {money(aides - dep)}, ou corrigez la dépense subventionnable.",
                 action=a.numero)


# ----------------------------------------------------------------------------- line warnings
@rule("FIN-10", A, "Ligne FCTVA dans le plan de financement", SRC_GUIDE, needs=("T_Financements",))
def fctva(conv: Convention) -> Iterable[Finding]:
    """`FCTVA` in `Financeur` or `Dispositif` (not in `Commentaire`, where « hors FCTVA » is usual)."""
    lines = lignes(conv)  # those that name the FCTVA (rare; one answer per distinct pair, asked in C)
    for lf in compress(lines, map(index(conv).fctva.__getitem__, map(_PAIR, lines))):
        for attr in ("dispositif", "financeur"):
            if names_fctva(getattr(lf, attr)):
                yield at(lf, attr, "FIN-10", A,
                         f"{prefix(lf)} : le FCTVA n'est pas une ressource du plan de financement (c'est un "
                         "remboursement de TVA, versé après la dépense).",
                         "Supprimez la ligne et reportez le montant sur l'autofinancement du maître d'ouvrage.")
                break



# the financeurs' categories and the action's maître d'ouvrage too: a public body's aid typed « Recette / cession »
# is said, the MO's own recette under its code is not
@rule("FIN-11", A, "Nature différente de celle du dispositif", SRC_GUIDE,
      needs=("T_Financements", "T_Dispositifs", "T_Financeurs", "T_Actions"))
def nature_dispositif(conv: Convention) -> Iterable[Finding]:
    lines = lignes(conv)
    keys = _triples(conv)[0]
    listed = _natures_dites(conv)
    natures = list(map(listed.__getitem__, keys))
    for lf, nature in compress(zip(lines, natures), map(is_not, natures, repeat(None))):
        if nature is _AIDE_SEULEMENT:
            if _du_maitre_d_ouvrage(conv, lf):
                continue  # its own « Recette / cession », its own loan: its own share, no aid typed so (FIN-21 speaks)
            effet = ("est comptée comme la part propre du maître d'ouvrage" if lf.nature in _NATURES_PROPRES
                     else "sort de la base de la participation minimale et du plafond des aides publiques")
            # FIN-21 is silent on this line (one finding for one thing): its nearest listed name is said here
            proche = _proche(conv, lf)
            yield at(lf, "nature", "FIN-11", A,
                     f"{prefix(lf)} : aucun dispositif du financeur {q(lf.financeur)} n'a la nature {q(lf.nature)} dans "
                     f"la feuille Financeurs ; de cette nature, la ligne {effet} ({SRC_L1111_10}).",
                     f"Si c'est une aide du financeur {q(lf.financeur)}, choisissez la nature « Subvention » et son "
                     "dispositif" + (f" (le plus proche du nom saisi : {q(proche)})" if proche else "")
                     + f" ; {_SI_JUSTE.get(lf.nature, 'sinon')}, la ligne est juste.")
            continue
        yield at(lf, "nature", "FIN-11", A,
                 f"{prefix(lf)} : la nature {q(lf.nature)} diffère de celle du dispositif {q(lf.dispositif)} "
                 f"du financeur {q(lf.financeur)} ({q(nature)}) dans la feuille Financeurs.", f"Choisissez {q(nature)}.")


def _du_maitre_d_ouvrage(conv: Convention, lf: LigneFinancement) -> bool:
    """Whether the line is filed under a code of its action's maître d'ouvrage (« EPCI / Cession de lots » on the
    EPCI's operation): none of FIN-11's « no dispositif of this nature », which is about another body's aid."""
    ix = index(conv)
    a = ix.action(lf.numero)
    return a is not None and lf.financeur in ix.mo_codes(a)


def _proche(conv: Convention, lf: LigneFinancement) -> str | None:
    """The listed dispositif of the line's financeur nearest in spelling to its unlisted one (« Aide aux projet
    des territoire » typed « Prêt » under DEPT), as FIN-21 would have named it; None for an empty one."""
    noms = _listes(conv).get(lf.financeur, ())
    if not lf.dispositif or not noms or dispositifs.listed(lf.dispositif, noms) is not None:
        return None
    return dispositifs.nearest(lf.dispositif, noms)


def _natures_dites(conv: Convention) -> dict[tuple, Any]:
    """FIN-11's answer for each distinct (financeur, dispositif, nature) of the plan: the nature of the
    triple's dispositif when they differ, `_AIDE_SEULEMENT`, or None. What is said of a line depends on
    these and on the lists only: decided once per distinct triple for the runs that meet the same lists
    (FIN-21 asks it too, to say a line once)."""
    ix = index(conv)
    distinct = _triples(conv)[1]
    natures_publiques = _natures_des_financeurs_publics(ix)

    def decide(key: tuple) -> Any:
        financeur, nom, nature = key
        d = ix.dispositif_values(financeur, nom)  # `index.dispositif`'s row's values
        if (d is None and nature in _NATURES_HORS_AIDE and nature not in natures_publiques.get(financeur, (nature,))
                and not _encadree(nom, financeur, nature)
                and (financeur, nom) not in ix.categories.subventions  # « DSIL 2024 », « FEDER 2021 » typed « Prêt »
                and not (nom and dispositifs.normalise(nom) in _NOMS_ARGENT_PROPRE)):  # the Département's own « Emprunt »
            return _AIDE_SEULEMENT  # counted as subsidies all the same; the others: a loan, a recette of the État…
        return d[2] if d is not None and d[2] and nature and d[2] != nature else None
    return _decided(ix, "FIN-11", distinct, decide)


def _natures_des_financeurs_publics(ix) -> Mapping[str, frozenset[str]]:
    """The natures of the dispositifs, in the workbook's list and in the reference list, of each public funder of
    the reference list (the État's, the Département's, the Union's: subsidies only; the Région's: subsidies and an
    advance; the EPCI's: no « Recette / cession »): once per lists. A line of a nature none of them has is no
    money that funder gives so (« REGION / Participation Région » typed « Recette / cession » was the maître
    d'ouvrage's own share with FIN-21's word only)."""
    def build() -> Mapping[str, frozenset[str]]:
        natures: dict[str, set[str]] = {}
        for f in layout.FINANCEURS:
            natures[f.code] = {d.nature for d in f.dispositifs}
        for financeur, _, nature, _ in ix.lists_key[1]:
            if financeur in natures:
                natures[financeur].add(nature)
        # a funder that lends one way lends the other (the Région's « Avance remboursable »: a « Prêt » of it is one)
        prets = frozenset(layout.NATURES_REMBOURSEES)
        return MappingProxyType({code: frozenset(n | prets if n & prets else n) for code, n in natures.items()
                                 if layout.CATEGORIES_FIXES.get(code) == "Public"})
    return ix.shared("natures_des_financeurs_publics", build)


_AIDE_SEULEMENT = object()  # FIN-11's answer for a line of a nature none of its financeur's dispositifs has
# the natures by which such a line is counted as no subsidy (L1111-10): the MO's own share (a loan it
# repays, a recette), or outside the base; another body's autofinancement or apport is said by FIN-22, and
# a public body's « Autre » is in the base as its participation (`totals.role_l1111_10`): nothing escapes
_NATURES_PROPRES = layout.NATURES_REMBOURSEES + layout.NATURES_RECETTE
_NATURES_HORS_AIDE = frozenset(totals.NATURES_WHOEVER_PAYS)
# what such a line is when its nature is right (« Portage foncier »: whatever is not an aid)
_SI_JUSTE = {"Prêt": "si c'est bien un prêt, que le maître d'ouvrage rembourse",
             "Avance remboursable": "si c'est bien une avance, que le maître d'ouvrage rembourse",
             "Recette / cession": "si c'est bien une recette de l'opération (le prix d'une vente)"}


def _decided(ix, name: str, distinct: Iterable[tuple], decide) -> dict[tuple, Any]:
    """`{key: decide(key)}` for the distinct keys of the lines ((financeur, dispositif, nature)…), where
    the answer depends on these and on the lists alone: each one decided once for the runs that meet
    the same lists (`Index.shared`), the answers kept bounded."""
    answers = ix.shared(("decided", name), dict)
    out = {}
    for key in distinct:
        got = answers.get(key, _MISSING)
        if got is _MISSING:
            got = decide(key)
            if any(v.__class__ is str and len(v) > MEMO_TEXT_MAX for v in key):
                out[key] = got  # a pasted text is not kept
                continue
            if len(answers) >= _ANSWERS_MAX:
                answers.clear()
            answers[key] = got
        out[key] = got
    return out


_MISSING = object()
_ANSWERS_MAX = 4_096  # answers kept per content of the lists (`_decided`)


_FIN12_KEYS = attrgetter("numero", "financeur", "dispositif", "annee")


@rule("FIN-12", A, "Ligne de financement en double", SRC_GUIDE, needs=("T_Financements",))
def doublon(conv: Convention) -> Iterable[Finding]:
    """Same action, financeur, dispositif, année and montant; refused lines are left out (they count
    nowhere, so cannot double-count); every occurrence after the first names the first row."""
    # the first line of each (action, financeur, dispositif, année, montant): by the first four, then
    # by amount only where they repeat (a Decimal's hash is not cheap, and most lines differ already)
    lines = index(conv).counted_lines
    # most plans repeat no line: the first four keys of every line hashed in C say so at once (no
    # Decimal hashed: the amount is only looked at where these four repeat)
    if len(set(map(_FIN12_KEYS, lines))) == len(lines):
        return
    first: dict[tuple, LigneFinancement | dict] = {}
    for lf in lines:
        key = (lf.numero, lf.financeur, lf.dispositif, lf.annee)
        got = first.get(key)
        if got is None:
            first[key] = lf
            continue
        if got.__class__ is dict:
            by_amount = got
        else:  # the second line of these four: by amount from now on, the first line first
            by_amount = first[key] = {got.montant: got}
        earlier = by_amount.setdefault(lf.montant, lf)
        if earlier is not lf:
            yield at(lf, "montant", "FIN-12", A,
                     f"{prefix(lf)} : cette ligne ({lf.financeur} {lf.dispositif or ''} {lf.annee or ''}, "
                     f"{money(lf.montant)}) répète la ligne {earlier.row}.",
                     "Supprimez le doublon, ou précisez ce qui distingue les deux participations.")


@rule("FIN-13", A, "Financement acquis sans référence de décision", SRC_GUIDE,
      needs=("T_Financements.reference_decision",))
def sans_reference(conv: Convention) -> Iterable[Finding]:
    lines = lignes(conv)  # those without a reference (`blank` asks that first), found in C
    for lf in compress(lines, map(is_, map(attrgetter("reference_decision"), lines), repeat(None))):
        if lf.statut in layout.STATUTS_ACQUIS and blank(lf, "reference_decision"):
            yield at(lf, "reference_decision", "FIN-13", A,
                     f"{prefix(lf)} : le financement {lf.financeur or ''} est au statut {q(lf.statut)} sans référence "
                     "de décision.",
                     "Indiquez la référence de l'arrêté, de la délibération ou de la convention attributive.")


def _subvention_etat_encadree(lf: LigneFinancement) -> bool:
    """A DETR, DSIL, DPV or DSID (R2334-24, R2334-28) or a subsidy of décret n° 2018-514: the
    subsidies whose commencement and lapse rules FIN-14 and FIN-24 apply."""
    return _encadree(lf.dispositif, lf.financeur, lf.nature)


def _encadree(dispositif: str | None, financeur: str | None, nature: str | None) -> bool:
    # what `_subvention_etat_encadree` reads of a line (FIN-24 asks it of every line: `_ENCADREES`)
    return dispositifs.is_r2334_27(dispositif, financeur) or _governed(dispositif, financeur, nature)


_ENCADREES = Memo(_encadree)  # the same few (dispositif, financeur, nature) in every plan


@rule("FIN-14", A, "Subvention de l'État sollicitée après le début de l'action, ou sans date de demande", SRC_COMMENCEMENT,
      needs=("T_Financements.date_demande", "T_Financements.dispositif", "T_Actions"))
def commencement(conv: Convention) -> Iterable[Finding]:
    """A `Sollicité` line of a DETR, DSIL, DPV, DSID (R2334-24) or of a subsidy of décret 2018-514
    (Fonds vert, FNADT, DRAC, FRLA…), whose action's `Date de début` precedes `Date de la demande`:
    an operation that began before its request is in principle ineligible. The same day passes.
    « Commencement » is the first legal act (a works order, a signed contract): studies and land
    purchases are not one, so the message asks to check what the start date is. An `Abandonnée`
    action is not judged: it has left the plan (ACT-13 asks to release its lines), and whether it could
    have received the subsidy no longer matters. Without a request date (an invalid one is FIN-17's), the rule
    cannot be checked: said when the action has begun (`En cours`, `Terminée`, or a start on or before the date
    of the next comité, else today), or leaving the date out silenced it."""
    action = index(conv).action
    lines = lignes(conv)  # the `Sollicité` ones (a few), found in C
    for lf in compress(lines, map(eq, map(_STATUT, lines), repeat("Sollicité"))):
        if not _encadree(lf.dispositif, lf.financeur, lf.nature):
            continue
        a = action(lf.numero)
        if lf.date_demande is None:
            if "date_demande" not in lf.problems and a is not None and _commencee(conv, a):
                nom = lf.dispositif or "subvention de l'État"
                debut = f" (début le {fmt_date(a.date_debut)})" if a.date_debut is not None else ""
                # « au 01/03/2024 », as FIN-24 says it: the start may be after today, before the comité
                yield at(lf, "date_demande", "FIN-14", A,
                         f"{prefix(lf)} : la subvention {q(nom)}, sollicitée, n'a pas de date de demande alors qu'au "
                         f"{fmt_date(reference_date(conv))}, l'action a commencé{debut} : rien ne montre qu'elle a été "
                         f"demandée avant le commencement d'exécution, sans quoi l'opération n'est en principe pas éligible ({SRC_COMMENCEMENT}).",
                         "Saisissez la date de la demande (celle de son accusé de réception) ; si l'action a commencé "
                         "avant, joignez l'autorisation de commencement anticipé.")
            continue
        if (a is not None and a.date_debut is not None and a.date_debut < lf.date_demande
                and a.maturite != layout.MATURITE_ABANDONNEE):
            nom = lf.dispositif or "subvention de l'État"
            yield at(lf, "date_demande", "FIN-14", A,
                     f"{prefix(lf)} : la subvention {q(nom)} a été sollicitée le {fmt_date(lf.date_demande)}, après le "
                     f"début de l'action ({fmt_date(a.date_debut)}) ; une opération dont l'exécution a commencé avant "
                     f"la demande n'est en principe pas éligible ({SRC_COMMENCEMENT}).",
                     "Le commencement est le premier acte juridique (ordre de service, marché ou bon de commande de "
                     "travaux) ; les études et les acquisitions foncières n'en sont pas. Vérifiez ce que date le début "
                     "de l'action, ou joignez l'autorisation de commencement anticipé.")


def _commencee(conv: Convention, a: FicheAction) -> bool:
    """Whether the action, not abandoned, has begun by the date of the next comité (else today), as FIN-24 asks."""
    if a.maturite == layout.MATURITE_ABANDONNEE:
        return False
    return a.maturite in ("En cours", "Terminée") or (a.date_debut is not None and a.date_debut <= reference_date(conv))


_FIN15_FINANCEURS = frozenset(("AL", "ANAH", "ANRU"))


@rule("FIN-15", A, "Financeur incompatible avec le maître d'ouvrage ou l'axe", SRC_GUIDE,
      needs=("T_Financements", "T_Actions.derogation"))
def incompatibilite(conv: Convention) -> Iterable[Finding]:
    """Counted lines only: `AL` for a MO `Commune`/`EPCI`; `ANAH` on an action whose axe is not 1,
    except the Anah-funded chef de projet ACV (the whole programme's, whatever the axe); `ANRU` when
    the action's derogation is not `ANRU` (empty counts as `Aucune`)."""
    action = index(conv).action
    counted = index(conv).counted_lines  # the lines of the only financeurs judged here (few), found in C
    for lf in compress(counted, map(_FIN15_FINANCEURS.__contains__, map(_FINANCEUR, counted))):
        a = action(lf.numero)
        if a is None:
            continue
        if lf.financeur == "AL" and a.type_mo in ("Commune", "EPCI"):
            msg = (f"Action Logement finance les bailleurs et investisseurs, pas un maître d'ouvrage "
                   f"{q(a.type_mo)} ({a.maitre_ouvrage or ''}).")
            sugg = "Vérifiez le financeur ou le maître d'ouvrage de l'action."
        elif (lf.financeur == "ANAH" and a.axe is not None and a.axe != 1
              and index(conv).familles[lf.dispositif] != layout.FAMILLE_ANAH_CHEF_PROJET):
            msg = f"l'Anah finance l'habitat (axe 1) ; l'action relève de l'axe {a.axe}."
            sugg = "Vérifiez le financeur ou l'axe de l'action."
        elif lf.financeur == "ANRU" and (a.derogation or "Aucune") != "ANRU" and "derogation" not in a.problems:
            msg = f"l'ANRU finance une action dont la dérogation L1111-10 n'est pas « ANRU » ({q(a.derogation or 'Aucune')})."
            sugg = "Choisissez la dérogation « ANRU » pour une opération du NPNRU, ou vérifiez le financeur."
        else:
            continue
        yield at(lf, "financeur", "FIN-15", A, f"{prefix(lf)} : {msg}", sugg)


@rule("FIN-16", I, "Part du financement non encore acquise", SRC_GUIDE, needs=("T_Financements", "T_Actions"))
def non_acquis(conv: Convention) -> Iterable[Finding]:
    """Share of the counted financing not yet `Acquis`/`Engagé`/`Versé`, when there is one, on the
    action's number cell."""
    acquis, zero = layout.STATUTS_ACQUIS, totals.ZERO
    for j in judged_actions(conv):
        a, tot = j.action, j.total
        # `totals.total_action(j.lines, a.numero, STATUTS_ACQUIS)`: the same lines, added in the same order
        acq = sum([lf.montant for lf in j.counted if lf.statut in acquis], zero)
        reste = tot - acq
        if reste > 0 and tot > 0:
            yield at(a, "numero", "FIN-16", I,
                     f"Action {a.numero} : {money(reste)} sur {money(tot)} de financements ({fmt_percent(reste / tot, (0, 1))}) "
                     "ne sont pas encore acquis, engagés ou versés (statut « Prévisionnel » ou « Sollicité »).",
                     action=a.numero)


@rule("FIN-17", E, "Date de la demande invalide", SRC_CONTRAT, needs=("T_Financements",))
def date_demande(conv: Convention) -> Iterable[Finding]:
    """Added code: `Date de la demande` is not a date."""
    yield from problem_findings(conv, T, ("date_demande",), "FIN-17", E)


_TF_REQUIRED = attrgetter("code", "nom", "categorie")
_TD_REQUIRED = attrgetter("financeur", "dispositif", "nature", "dotation_r2334_27")
_CODE, _FINANCEUR = attrgetter("code"), attrgetter("financeur")


def _referentiel_sound(conv: Convention) -> bool:
    """Whether FIN-18 has nothing to say, proved in C (the template's lists, in most workbooks): no
    value problem, no empty required value, no code twice, every dispositif's financeur a listed
    code. False when any of these may fail: the rule then looks row by row."""
    ix = index(conv)
    financeurs = rows(conv, layout.T_FINANCEURS)
    # every row of both lists filled and coherent (worked out once for the runs that meet the same
    # lists), no row holding a value problem, and every financeur a non-empty row (so that the codes
    # are those of every row): then so are the non-empty rows looked at below, nothing to say
    tf_ok, td_ok = ix.shared("FIN-18", lambda: _lists_sound(ix.lists_key))
    if tf_ok and len(financeurs) == len(conv.financeurs) and not ix.with_problems(layout.T_FINANCEURS):
        if not usable(conv, layout.T_DISPOSITIFS.name):
            return True
        if td_ok and not any(map(_PROBLEMS, conv.dispositifs)):
            return True
    if (ix.with_problems(layout.T_FINANCEURS) or _has_none(map(_TF_REQUIRED, financeurs))
            or any(_categorie_a_dire(*row) for row in map(_TF_REQUIRED, financeurs))):
        return False
    codes = set(map(_CODE, financeurs))
    if len(codes) != len(financeurs):
        return False  # a code twice (or an empty text among them)
    if not usable(conv, layout.T_DISPOSITIFS.name):
        return True
    listed = rows(conv, layout.T_DISPOSITIFS)
    return not (ix.with_problems(layout.T_DISPOSITIFS) or _has_none(map(_TD_REQUIRED, listed))
                or not set(map(_FINANCEUR, listed)) <= codes)


def _lists_sound(lists_key: tuple[tuple, tuple]) -> tuple[bool, bool]:
    """`_referentiel_sound`'s tests on every row of the lists (`Index.lists_key`, whose values are
    those `_TF_REQUIRED` and `_TD_REQUIRED` read): (the financeurs' required values all filled, no
    code twice; and the dispositifs' too, each financeur a listed code)."""
    tf, td = lists_key
    codes = set(map(_FIRST, tf))
    tf_ok = not _has_none(tf) and len(codes) == len(tf) and not any(_categorie_a_dire(*row) for row in tf)
    return tf_ok, tf_ok and not _has_none(td) and set(map(_FIRST, td)) <= codes


_FIRST = itemgetter(0)
_PROBLEMS = attrgetter("problems")


def _categorie_changee(code: Any, nom: Any = None, categorie: Any = None) -> bool:
    """A reference funder (but AUTRE) given another valid category than the reference's: the rules keep
    the reference's (`layout.CATEGORIES_FIXES`), FIN-18 says so."""
    fixe = layout.CATEGORIES_FIXES.get(code) if code.__class__ is str else None
    return fixe is not None and categorie in layout.L.CATEGORIE and categorie != fixe


def _public_dit_prive(code: Any, nom: Any = None, categorie: Any = None) -> bool:
    """A funder the user describes (AUTRE, an added code) typed « Privé » whose name is a public person's
    (« Département du Pas-de-Calais », « Communauté d'agglomération… »): its subsidies would leave the L1111-10
    base and the 100 % cap of public aid, which only its category decides. FIN-18 says so."""
    return (categorie == "Privé" and nom.__class__ is str and code not in layout.CATEGORIES_FIXES
            and totals.PERSONNE_PUBLIQUE.match(reference.mots(nom)) is not None)


def _categorie_a_dire(code: Any, nom: Any = None, categorie: Any = None) -> bool:
    """What FIN-18 says of a row's category besides its values (`_categorie_changee`, `_public_dit_prive`)."""
    return _categorie_changee(code, nom, categorie) or _public_dit_prive(code, nom, categorie)


def _has_none(values: Iterable[tuple]) -> bool:
    return any(map(is_, chain.from_iterable(values), repeat(None)))


@rule("FIN-18", E, "Liste des financeurs incomplète ou invalide", SRC_CONTRAT, needs=("T_Financeurs",),
      optional=("T_Dispositifs",))
def referentiel(conv: Convention) -> Iterable[Finding]:
    """Added code: in `T_Financeurs`, `Code`/`Nom`/`Catégorie` empty, `Catégorie` outside its list, a
    duplicated `Code`; A: a reference code's category changed (« REGION » typed « Privé », which the
    rules do not follow: `layout.CATEGORIES_FIXES`), or a funder the user describes typed « Privé » under a
    public person's name (`_public_dit_prive`, which the rules do follow: said, not overridden); in
    `T_Dispositifs`, required values empty or
    outside their lists, a `Financeur` that is not a code of `T_Financeurs`. The ratios of FIN-06/07/09 rely on this list."""
    TF, TD = layout.T_FINANCEURS, layout.T_DISPOSITIFS
    if _referentiel_sound(conv):
        return
    yield from problem_findings(conv, TF, ("categorie",), "FIN-18", E)
    yield from required_findings(conv, TF, ("code", "nom", "categorie"), "FIN-18", E)
    first: dict[str, int] = {}
    for f in rows(conv, TF):
        if f.code and f.code in first:
            yield at(f, "code", "FIN-18", E, f"Ligne {f.row} : le code de financeur {q(f.code)} est déjà utilisé à la ligne {first[f.code]}.",
                     "Donnez à chaque financeur un code unique.")
        elif f.code:
            first[f.code] = f.row
            if _categorie_changee(f.code, f.nom, f.categorie):
                ref = layout.CATEGORIES_FIXES[f.code]
                yield at(f, "categorie", "FIN-18", A,
                         f"Ligne {f.row} : le financeur {q(f.code)} est de catégorie {q(ref)} dans la liste de référence ; "
                         f"la catégorie {q(f.categorie)} du classeur n'est pas retenue par les contrôles (participation "
                         f"minimale du maître d'ouvrage, {SRC_L1111_10}, et plafond des aides publiques).",
                         f"Remettez la catégorie {q(ref)} ; pour un autre financeur, ajoutez-le sous son propre code.")
            elif _public_dit_prive(f.code, f.nom, f.categorie):
                yield at(f, "categorie", "FIN-18", A,
                         f"Ligne {f.row} : le financeur {q(f.code)} ({q(f.nom)}) est de catégorie « Privé », mais son nom "
                         "est celui d'une personne publique : de cette catégorie, ses subventions et participations ne sont "
                         f"comptées ni dans la participation minimale du maître d'ouvrage ({SRC_L1111_10}) ni dans le "
                         "plafond des aides publiques, hormis celles qui portent le nom d'une subvention publique de la "
                         "liste de référence (« Fonds vert », « DSIL », « FEDER »…), comptées comme aides publiques.",
                         "Si c'est une personne publique, choisissez la catégorie « Public » ; sinon, écrivez son nom "
                         "exact.")
    if not usable(conv, TD.name):
        return
    yield from problem_findings(conv, TD, ("nature", "dotation_r2334_27"), "FIN-18", E)
    yield from required_findings(conv, TD, ("financeur", "dispositif", "nature", "dotation_r2334_27"), "FIN-18", E)
    for d in unknown(rows(conv, TD), "financeur", first):  # a listed code (every row, mostly): nothing to say
        if d.financeur:
            yield at(d, "financeur", "FIN-18", E,
                     f"Ligne {d.row} : le dispositif {q(d.dispositif or '')} est rattaché au financeur {q(d.financeur)}, "
                     "absent de la liste des financeurs.", "Indiquez le code d'un financeur de la liste.")


# ----------------------------------------------------------------------------- dispositifs by meaning
def _listes(conv: Convention) -> Mapping[str, tuple[str, ...]]:
    """The dispositifs the workbook's list gives each financeur (`T_Dispositifs`), then those of the
    reference list (`layout.FINANCEURS`: a workbook made from an older template lacks the newer
    ones, which are no less listed), once per run. Read-only."""
    return _listes_owners(conv)[0]


# (`_listes`, each family of dispositif → the first financeur listing a dispositif of it, for FIN-21):
# a function of the workbook's (financeur, dispositif) pairs and of the reference list only, so worked
# out once for the runs that meet the same lists (`Index.shared`); read-only mappings.
def _listes_owners(conv: Convention) -> tuple[Mapping[str, tuple[str, ...]], Mapping[str, str]]:
    ix = index(conv)

    def build() -> tuple[Mapping[str, tuple[str, ...]], Mapping[str, str]]:
        out: dict[str, list[str]] = {}
        for financeur, dispositif, _, _ in ix.lists_key[1]:
            if financeur and dispositif:
                out.setdefault(financeur, []).append(dispositif)
        for f in layout.FINANCEURS:
            noms = out.setdefault(f.code, [])
            noms.extend(d.nom for d in f.dispositifs if d.nom not in noms)
        listes = {k: tuple(v) for k, v in out.items()}
        owner: dict[str, str] = {}
        for code, noms in listes.items():
            for n in noms:
                fam = famille(n)
                if fam is not None:
                    owner.setdefault(fam, code)
        return MappingProxyType(listes), MappingProxyType(owner)
    return ix.shared("dispositifs_par_financeur", build)


# The reference list's names of a commune's own money (autofinancement, emprunt, recette, apport: not
# its fonds de concours, a subsidy to its EPCI): any financeur's own money too (FIN-21)
_ARGENT_PROPRE = tuple(d.nom for d in layout.FINANCEURS_BY_CODE["COMMUNE"].dispositifs
                       if d.nature != layout.NATURE_SUBVENTION)
_NOMS_ARGENT_PROPRE = frozenset(map(dispositifs.normalise, _ARGENT_PROPRE))


def _financeurs_etat(conv: Convention) -> frozenset[str | None]:
    """`ETAT`, and the financeurs added to the list under the État's name (« Préfecture du Pas-de-Calais »:
    `totals.NOM_DE_L_ETAT`), whose unrecognised subsidy escaped FIN-20's warning that `ETAT`'s draws. Once per run."""
    def build() -> frozenset[str | None]:
        return frozenset([layout.CODE_ETAT] + [
            f.code for f in conv.financeurs
            if f.code and f.code not in layout.FINANCEURS_BY_CODE and isinstance(f.nom, str)
            and totals.NOM_DE_L_ETAT.match(reference.mots(f.nom))])
    return index(conv).memo("financeurs_etat", build)


def _etat_non_reconnue(conv: Convention, lf: LigneFinancement) -> bool:
    """An État subsidy (of `ETAT` or of a financeur named as the État, `_financeurs_etat`) that no family
    recognises and the workbook's list does not declare, `Dotation R2334-27` = `Oui` (in the caps) or `Non`
    (not a R2334-27 dotation: the user has answered what FIN-20 asks; a DETR, DSIL, DPV or DSID recognised
    by its name stays in the caps whatever it is declared, `totals.DotationsR2334`, and « Non » is no answer for
    a name near theirs, `dispositifs.dotation_proche`: « DISL » so declared left the caps in silence)."""
    if lf.nature != layout.NATURE_SUBVENTION or lf.financeur not in _financeurs_etat(conv):
        return False
    if index(conv).familles[lf.dispositif] is not None:
        return False
    d = index(conv).dispositif_values(lf.financeur, lf.dispositif)  # `index.dispositif`'s row's values
    if d is None or d[3] not in layout.L.OUI_NON:  # its `dotation_r2334_27`, empty or illegible (FIN-18)
        return True
    # « Non » for a name that is a DETR's, DSIL's… typed amiss (« DISL ») would take it out of the caps unsaid
    return d[3] == layout.L.OUI_NON[1] and dispositifs.dotation_proche(lf.dispositif) is not None


@rule("FIN-20", A, "Subvention de l'État non reconnue : hors du plafond des dotations", SRC_R2334_27,
      needs=("T_Financements.dispositif", "T_Financeurs", "T_Dispositifs"))  # who is the État; what the list declares
def etat_non_reconnue(conv: Convention) -> Iterable[Finding]:
    """Added code. A counted État subsidy (`ETAT`, nature Subvention) whose dispositif is empty or
    recognised by no family (`layout.FAMILLES`: DETR, DSIL… by meaning) and not declared in the workbook's
    list (`Dotation R2334-27` = `Oui`, in the caps, or `Non`, the user's answer): the caps of R2334-27 (80 % together, 20 % each) do not count
    it, so it must not pass silently; the message says so and names the closest listed dispositif.
    It still counts in the 100 % cap of public aid (FIN-09)."""
    noms = _listes(conv).get(layout.CODE_ETAT, ())
    ix = index(conv)
    counted = ix.counted_lines
    # `_etat_non_reconnue`'s first test, in C: most lines are no État subsidy
    etat_subvention = frozenset((code, layout.NATURE_SUBVENTION) for code in _financeurs_etat(conv)).__contains__
    fctva = ix.fctva
    for lf in compress(counted, map(etat_subvention, map(_FINANCEUR_NATURE, counted))):
        if not _etat_non_reconnue(conv, lf) or fctva[lf.financeur, lf.dispositif]:
            continue
        # not itself, when the workbook lists it (« S'il s'agit de « Fonds écoles 2024 », choisissez ce dispositif »)
        proche = dispositifs.nearest(lf.dispositif, tuple(n for n in noms if not dispositifs.same(n, lf.dispositif))) \
            if lf.dispositif else None
        nom = q(lf.dispositif) if lf.dispositif else "sans dispositif"
        if lf.financeur != layout.CODE_ETAT:  # added under the État's name: say why it is the État's
            nom += f", versée par {_le_financeur(ix, lf.financeur)}, dont le nom désigne l'État,"
        yield at(lf, "dispositif", "FIN-20", A,
                 f"{prefix(lf)} : la subvention de l'État {nom} n'est pas un dispositif reconnu ; elle n'est pas "
                 f"comptée dans le plafond de 80 % des dotations DETR, DSIL, DPV et DSID ni dans leur plancher de "
                 f"20 % ({SRC_R2334_27}), seulement dans le plafond de 100 % des aides publiques.",
                 (f"S'il s'agit de {q(proche)}, choisissez ce dispositif. " if proche else "")
                 + (_declaree_non(fam) if (d := ix.dispositif_values(lf.financeur, lf.dispositif)) is not None
                    and d[3] == layout.L.OUI_NON[1] and (fam := dispositifs.dotation_proche(lf.dispositif)) else
                    _DECLAREZ_SA_LIGNE if d is not None else
                    "Choisissez un dispositif de l'État de la feuille Financeurs, ou ajoutez-le à la liste des "
                    f"dispositifs avec {_DECLAREZ}" if lf.financeur == layout.CODE_ETAT else
                    f"Choisissez le financeur « {layout.CODE_ETAT} » et l'un de ses dispositifs de la feuille Financeurs, "
                    f"ou ajoutez ce dispositif à la liste du financeur {_dit(ix, lf.financeur)} avec {_DECLAREZ}"))


# FIN-20's suggestion: the two answers the list's column takes, and what each does
_SI_DOTATION = ("si c'est une DETR, une DSIL, une DPV ou une DSID (elle entre alors dans le plafond de 80 % et le "
                "plancher de 20 %), « Non » sinon.")
_DECLAREZ = f"« Dotation R2334-27 » à « Oui » {_SI_DOTATION}"
_DECLAREZ_SA_LIGNE = ("Ce dispositif est dans la liste des dispositifs de la feuille Financeurs sans que sa colonne "
                      f"« Dotation R2334-27 » dise « Oui » ou « Non » : choisissez-y « Oui » {_SI_DOTATION}")


def _declaree_non(fam: str) -> str:
    """FIN-20's suggestion for a dispositif the list says is no R2334-27 dotation though its name is near `fam`'s."""
    return ("La liste des dispositifs de la feuille Financeurs le dit « Non » dans sa colonne « Dotation R2334-27 », "
            f"mais son nom se lit presque comme celui d'une {fam} : si c'en est une, choisissez-y « Oui » (elle entre "
            "alors dans le plafond de 80 % et le plancher de 20 %) ; sinon, renommez-le pour qu'il ne se confonde pas "
            f"avec la {fam}.")


@rule("FIN-21", A, "Dispositif absent de la liste de son financeur", SRC_GUIDE,
      needs=("T_Financements.dispositif", "T_Dispositifs"), optional=("T_Financeurs", "T_Actions"))
def dispositif_hors_liste(conv: Convention) -> Iterable[Finding]:
    """Added code. A line's dispositif that the workbook's list does not give its financeur, once
    names are compared by meaning (case, accents, punctuation, and the family: « DSIL
    exceptionnelle » is the État's DSIL); the reference list's dispositifs count as listed. The
    message names the closest listed dispositif, or the financeur whose dispositif it is; a name of
    the État's dotations that another financeur pays (a Département's « fonds de soutien à
    l'investissement local ») is said to be out of the État's caps (`dispositifs.is_r2334_27`). Not
    judged: an empty dispositif, a financeur with no listed dispositif (added by the user), an
    unknown financeur (FIN-02), an FCTVA line (FIN-10), an unrecognised État subsidy (FIN-20)."""
    ix = index(conv)
    listes, owner = _listes_owners(conv)
    # what is said of a line depends on these three and on the lists only: decided once per distinct
    # triple (its first line standing for it) for the runs that meet the same lists, then the lines
    # with something said found in C
    lines = lignes(conv)
    keys, distinct = _triples(conv)

    natures = _natures_dites(conv)

    def decide(key: tuple) -> tuple[str, str, bool, str | None] | None:
        financeur, dispositif, _ = key
        if not dispositif or not financeur or financeur not in listes:
            return None
        said = _hors_liste(conv, distinct[key], listes, owner)
        # « DEPT / Avance remboursable »: FIN-11 says already that no dispositif of the financeur has this
        # nature and asks for its subsidy's dispositif — one finding for one thing (the third value; FIN-11 is
        # silent on the maître d'ouvrage's own line, so whether it spoke is known per line). Not a name of a
        # family (« FEDER » under « DEPT »): whose fund it is, FIN-21 alone says it
        if said is not None:
            return said[:2] + (natures[key] is _AIDE_SEULEMENT and index(conv).familles[dispositif] is None, said[2])
        return None
    decided = _decided(ix, "FIN-21", distinct, decide)
    saids = list(map(decided.__getitem__, keys))
    for lf, said in compress(zip(lines, saids), saids):
        du_mo = (said[2] or said[3] is not None) and _du_maitre_d_ouvrage(conv, lf)
        if said[2] and not du_mo:
            continue
        yield at(lf, "dispositif", "FIN-21", A, f"{prefix(lf)} : {said[3] if du_mo and said[3] else said[0]}", said[1])


_FINANCEUR, _DISPOSITIF, _NATURE = attrgetter("financeur"), attrgetter("dispositif"), attrgetter("nature")
_PAIR = attrgetter("financeur", "dispositif")
_STATUT, _FINANCEUR_NATURE = attrgetter("statut"), attrgetter("financeur", "nature")
_TRIPLE = attrgetter("financeur", "dispositif", "nature")


def _triples(conv: Convention) -> tuple[list[tuple], dict[tuple, LigneFinancement]]:
    """Each non-empty line's (financeur, dispositif, nature), in row order, and each distinct one with
    its first line: what FIN-11 and FIN-21 judge a line by, made once per run (in C)."""
    def build():
        lines = lignes(conv)
        keys = list(map(_TRIPLE, lines))
        return keys, dict(zip(reversed(keys), reversed(lines)))  # the first line of each wins
    return index(conv).memo("triples", build)


def _hors_liste(conv: Convention, lf: LigneFinancement, listes: Mapping[str, tuple[str, ...]],
                owner: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """FIN-21 on a line whose dispositif and financeur are filled, the financeur listed: (message
    after the line's prefix, suggestion, the message for a line filed under its action's maître d'ouvrage's
    code when it differs), or None when nothing is to be said. Read of the triple and the lists only."""
    du_mo = None
    if index(conv).fctva[lf.financeur, lf.dispositif]:
        return None
    noms = listes[lf.financeur]
    if dispositifs.listed(lf.dispositif, noms) is not None or _etat_non_reconnue(conv, lf):
        return None
    # a body's own money, whichever it is: the Département's own operation funded by its « Autofinancement »
    # was told to choose « Aide aux projets des territoires », a subsidy (FIN-22 says another body's on its line)
    if dispositifs.normalise(lf.dispositif) in _NOMS_ARGENT_PROPRE:
        return None
    fam = index(conv).familles[lf.dispositif]
    autre = owner.get(fam) if fam is not None else None
    if not dispositifs.is_etat(lf.dispositif, lf.financeur):
        # « Fonds de soutien à l'investissement local » of a Département: its own fund, out of the État's
        # rules — said, since the État's DSIL filed under this financeur would escape them the same way
        if fam in _R2334_27:
            etat, de_etat = f"la {fam} de l'État", f"de la {fam} de l'État"
            effet = f"il ne compte pas dans le plafond de 80 % des dotations de l'État ({SRC_R2334_27})"
        else:
            etat, de_etat = f"une subvention de l'État ({fam})", f"d'une subvention de l'État ({fam})"
            effet = "les règles de commencement et de caducité du décret n° 2018-514 ne s'y appliquent pas"
        msg = (f"{q(lf.dispositif)} n'est pas dans la liste des dispositifs du financeur {q(lf.financeur)} ; versé "
               f"par ce financeur, ce n'est pas {etat} : {effet}.")
        sugg = (f"S'il s'agit {de_etat}, choisissez le financeur {q(layout.CODE_ETAT)} ; sinon, ajoutez ce "
                f"dispositif à ceux du financeur {q(lf.financeur)} (feuille Financeurs).")
        if _publique_par_son_nom(conv, lf):
            # « PRIVE / Fonds vert »: FIN-06 and FIN-09 count it as public aid (`totals.role_l1111_10`); « ce n'est
            # pas une subvention de l'État » alone read as « not public », against FIN-06's error on the same plan
            msg = (f"{q(lf.dispositif)} n'est pas dans la liste des dispositifs du financeur {q(lf.financeur)}, "
                   "de catégorie « Privé » ; son nom est celui d'une subvention publique : la ligne est comptée comme une "
                   f"aide publique dans la participation minimale du maître d'ouvrage ({SRC_L1111_10}) et dans le "
                   f"plafond des aides publiques ; mais, versée par ce financeur, ce n'est pas {etat} : {effet}.")
            sugg = (f"S'il s'agit {de_etat}, choisissez le financeur {q(layout.CODE_ETAT)} ; si c'est l'argent propre "
                    f"de ce financeur privé, ajoutez ce dispositif à ceux du financeur {q(lf.financeur)} (feuille "
                    "Financeurs) : la ligne ne sera plus comptée comme une aide publique.")
    elif autre is not None and autre != lf.financeur and lf.financeur == "REGION" and fam == "FEDER":
        # the Région pays the FEDER as its managing authority: not a mistake of payer, a convention of the plan
        msg = (f"{q(lf.dispositif)} n'est pas un dispositif du financeur {q(lf.financeur)} : la Région gère le "
               "FEDER comme autorité de gestion, mais c'est un fonds de l'Union européenne, que le plan de "
               f"financement porte au financeur {q(autre)} (sous {q(lf.financeur)}, les totaux par financeur le "
               "comptent comme une aide de la Région).")
        sugg = f"Choisissez le financeur {q(autre)} et gardez le dispositif."
    elif autre is not None and autre != lf.financeur:
        msg = (f"{q(lf.dispositif)} n'est pas un dispositif du financeur {q(lf.financeur)} ; "
               f"c'est un dispositif ({fam}) du financeur {q(autre)}.")
        sugg = f"Choisissez le financeur {q(autre)}, ou corrigez le dispositif."
    elif (proprietaire := totals.PROGRAMMES_D_UN_AUTRE.get(dispositifs.normalise(lf.dispositif))
          or dispositifs.payer_named(lf.dispositif, lf.financeur, index(conv).categories.get(lf.financeur))
          ) not in (None, lf.financeur):
        # « COMMUNE / Redynamisation des centres-villes »: the Région's programme; a « Subvention » of it is counted
        # as that body's money, in the maître d'ouvrage's own code too (`totals.role_l1111_10`): said, as FIN-06 may fail
        programme = dispositifs.normalise(lf.dispositif) in totals.PROGRAMMES_D_UN_AUTRE
        # public aid whoever the MO: a public financeur's subsidy; a private one's only by a programme's name; of
        # another nature, only on an action of which the financeur is the MO (`totals.role_l1111_10`: « Autofinancement »
        # was its own share), which is known per line (this message is shared by the lines of the triple, and by the
        # runs that meet the same lists): the other message, `du_mo`; not a loan, a recette or a portage named after
        # another payer, which stays what it is
        publique = lf.nature == layout.NATURE_SUBVENTION and (
            programme or index(conv).categories.get(lf.financeur) == "Public")
        sous_le_mo = lf.nature != layout.NATURE_SUBVENTION and (
            programme or lf.nature not in totals.NATURES_WHOEVER_PAYS)
        # the Métropole de Lyon, no EPCI and no code of the list: public aid, said by its name
        sans_code = proprietaire == dispositifs.PAYEUR_SANS_CODE
        debut = (f"{q(lf.dispositif)} n'est pas un dispositif du financeur {q(lf.financeur)} ; "
                 + (f"c'est un dispositif du financeur {q(proprietaire)}" if programme else
                    "son nom dit qu'il est versé par la Métropole de Lyon, une collectivité à statut particulier "
                    "(CGCT art. L3611-1), et non un EPCI" if sans_code else
                    f"son nom dit qu'il est versé par le financeur {q(proprietaire)}"))
        comptee = ((f" : de nature {q(lf.nature)}, la ligne" if lf.nature else " : la ligne")
                   + f" est comptée comme une aide publique, jamais comme la part propre du maître d'ouvrage ({SRC_L1111_10}).")
        msg = debut + (comptee if publique else ".")
        du_mo = debut + comptee if sous_le_mo else None
        choisissez = (f"le financeur {q(proprietaire)}, de catégorie « Public », ou un financeur ajouté pour la "
                      "Métropole de Lyon" if sans_code else f"le financeur {q(proprietaire)}")
        sugg = (f"Choisissez {choisissez} ; si c'est l'argent propre du financeur {q(lf.financeur)}, "
                "choisissez le dispositif et la nature « Autofinancement ».")  # the dispositif alone: FIN-11
    else:
        proche = dispositifs.nearest(lf.dispositif, noms)
        # « du financeur « EPF » », as above: « de EPF », « de EPCI » were no French
        msg = f"{q(lf.dispositif)} n'est pas dans la liste des dispositifs du financeur {q(lf.financeur)}."
        sugg = (f"Choisissez {q(proche)}, ou ajoutez ce dispositif à la feuille Financeurs." if proche else
                f"Choisissez un dispositif du financeur {q(lf.financeur)} ({', '.join(noms)}), ou ajoutez-le à "
                "la feuille Financeurs.")
    return msg, sugg, du_mo


def _publique_par_son_nom(conv: Convention, lf: LigneFinancement) -> bool:
    """A line of a private financeur counted as public aid for its name alone (`totals.role_l1111_10`: a
    public body's subsidy of the reference list filed under a private code). Read of the lists only."""
    categories = index(conv).categories
    return (categories.get(lf.financeur) == "Privé"
            and totals.role_l1111_10(lf, None, categories.get, categories.subventions) == totals.SUBVENTION_PUBLIQUE)


# FIN-22's lines: another body's autofinancement, fonds propres or apport; and, on a binôme's « COMMUNE »
# line naming the other commune, an « Autre » too (the MO's own share since « Autre » is, L1111-10)
_NATURES_FIN22 = frozenset(layout.NATURES_APPORT + (layout.NATURE_AUTRE,))


@rule("FIN-22", A, "Autofinancement d'une autre personne publique que le maître d'ouvrage", SRC_L1111_10,
      needs=("T_Financements", "T_Actions", "T_Financeurs"), optional=("T_Communes", "T_Dispositifs"))
def autofinancement_d_un_autre(conv: Convention) -> Iterable[Finding]:
    """Added code. On an action whose MO is a public one of L1111-10, a counted line of nature
    autofinancement, fonds propres or apport en nature whose financeur is another public body than
    the MO (`totals.role_l1111_10`): it is not the MO's own share but a public participation, and
    FIN-06 counts it so; or a binôme's `COMMUNE` line (« Autre » too) naming the other commune, counted as
    the MO's own share. Said on the line, whether FIN-06 then fails or not; but not on the EPCI's line to a member
    commune's operation (or the commune's to its EPCI's) that FIN-23 warns of, beyond the fonds de concours' cap: its
    message says this too (`_dites_par_fin23`), one finding for one line. Not on an `Abandonnée`
    action's line: FIN-06 does not judge it, so « comptée dans la participation minimale » was false."""
    ix = index(conv)
    action = ix.action
    categories = ix.categories
    categorie_of, roles = categories.get, categories.roles  # the roles FIN-06 worked out (`part_mo`)
    mo_codes = ix.mo_codes
    mo_of: dict[str, frozenset[str]] = {}
    binome: bool | None = None  # two communes in `T_Communes` (`_communes_du_classeur`), when first needed
    counted = ix.counted_lines  # those of nature autofinancement, fonds propres, apport, « Autre »: in C
    for lf in compress(counted, map(_NATURES_FIN22.__contains__, map(_NATURE, counted))):
        a = action(lf.numero)
        if a is None or a.type_mo not in layout.MO_PUBLICS_L1111_10 or a.maturite == layout.MATURITE_ABANDONNEE:
            continue
        mo = mo_of.get(a.numero)
        if mo is None:
            mo = mo_of[a.numero] = mo_codes(a)
        role = (roles.get((mo, lf.nature, lf.financeur, lf.dispositif))
                or totals.role_l1111_10(lf, mo, categorie_of, categories.subventions))
        if role == totals.PROPRE and lf.financeur == "COMMUNE" and a.type_mo == "Commune":
            if binome is None:  # asked once, at the first such line: most conventions have one commune
                binome = len(_communes_du_classeur(conv)) > 1
            autre = _autre_commune_du_binome(conv, a, lf) if binome else None
            if autre is not None:
                yield at(lf, "financeur", "FIN-22", A,
                         f"{prefix(lf)} : la ligne {q(lf.nature)} du financeur « COMMUNE » nomme {autre}, l'autre commune "
                         f"de la convention, alors que le maître d'ouvrage est {q(a.maitre_ouvrage)} : « COMMUNE » est "
                         f"compté comme sa part propre, mais la participation {_de_commune(autre)} est, pour la "
                         f"participation minimale de 20 %, celle d'une autre personne publique ({SRC_L1111_10}).",
                         f"Si c'est l'argent {_de_commune(autre)}, ajoutez un financeur à son nom (feuille Financeurs, "
                         "catégorie « Public ») et choisissez-le sur cette ligne.")
            continue
        if role != totals.PARTICIPATION_PUBLIQUE or lf.nature == layout.NATURE_AUTRE:
            continue  # another body's « Autre » is no money one takes for the MO's own
        if (lf.nature in _NATURES_APPORT_FIN23 and a.type_mo in _VERSEUR_AU_MEMBRE
                and id(lf) in _dites_par_fin23(conv)):
            continue  # the EPCI's « Autofinancement » beyond the fonds de concours' cap: FIN-23 says both
        code_mo = layout.CODE_DU_MO.get(a.type_mo)
        yield at(lf, "financeur", "FIN-22", A,
                 f"{prefix(lf)} : une ligne {q(lf.nature)} apportée par le financeur {q(lf.financeur)}, alors que le maître d'ouvrage est "
                 f"{q(a.maitre_ouvrage or a.type_mo)} ({a.type_mo}) : ce n'est pas sa part propre mais une participation "
                 f"publique, comptée comme telle dans la participation minimale de 20 % ({SRC_L1111_10}).",
                 "Si c'est l'argent du maître d'ouvrage, indiquez son code"
                 + (f" ({q(code_mo)})" if code_mo else "")
                 # a fonds de concours only between an EPCI and its communes, or a syndicat mixte and its members
                 # (FIN-23, which warns of the latter): not offered from an EPF
                 + (" ; si c'est un fonds de concours ou une subvention, choisissez ce dispositif et la nature "
                    "« Subvention »." if _fonds_de_concours_possible(a, lf.financeur, _genres_des_ajoutes(conv)) else
                    " ; si c'est une subvention, choisissez son dispositif et la nature « Subvention »."))


def _autre_commune_du_binome(conv: Convention, a: FicheAction, lf: LigneFinancement) -> str | None:
    """In a binôme, the other commune of the convention (its name as `T_Communes` gives it) that a
    `COMMUNE` line of an action of one commune names in its dispositif or comment, without naming the
    maître d'ouvrage's: « Autofinancement Liévin » on an operation of Lens. None otherwise (most lines:
    one commune in the workbook, or no comment). Read once per (maître d'ouvrage, dispositif, comment)
    of the run: « Autofinancement » comes back on most lines of a binôme's plan."""
    noms = _communes_du_classeur(conv)
    if len(noms) < 2 or not a.maitre_ouvrage or not (lf.dispositif or lf.commentaire):
        return None
    known = index(conv).memo("autre_commune_du_binome", dict)
    key = (a.maitre_ouvrage, lf.dispositif, lf.commentaire)
    if key not in known:
        known[key] = _autre_commune_nommee(noms, *key)
    return known[key]


def _autre_commune_nommee(noms: dict[str, tuple[str, tuple[str, ...]]], maitre_ouvrage: object,
                          *textes: object) -> str | None:
    """`_autre_commune_du_binome` of a maître d'ouvrage and of a line's texts."""
    mo = reference.nom_collectivite(str(maitre_ouvrage))
    if mo not in noms:
        return None
    texte = " ".join(str(t) for t in textes if t)
    mots = f" {reference.mots(texte)} "
    ville = " ville " in mots or " commune " in mots or " mairie " in mots  # most texts: no designation to look for
    if _nomme(mots, noms[mo][1]) or (ville and _designe(mots, noms[mo][2])):
        return None
    # « Ville de liévin », « commune de Bruay »: designated, in any case and by its short name; named alone,
    # with its capital (« lourdes » is a word)
    autres = [nom for cle, (nom, mentions, designations) in noms.items() if cle != mo
              and ((ville and _designe(mots, designations)) or (_nomme(mots, mentions) and _ecrit_comme_un_nom(texte, cle)))]
    return autres[0] if len(autres) == 1 else None


# A street named after a commune (« rue de Lens » in Liévin, « route du Portel »): a place, not the commune
_VOIE = re.compile(r"(?<![a-z0-9])(?:rue|avenue|av|route|rte|boulevard|bd|chemin|place|quai|allee|impasse|faubourg)"
                   r"(?: de| d| du| des)?$")


def _found_but_after(mots: str, needles: tuple[str, ...], before: re.Pattern, reach: int) -> bool:
    """Whether one of `needles` occurs in `mots` other than just after what `before` finds (in the
    `reach` characters before it)."""
    for m in needles:
        i = mots.find(m)
        while i >= 0:
            if not before.search(mots, max(0, i - reach), i):
                return True
            i = mots.find(m, i + 1)
    return False


def _nomme(mots: str, mentions: tuple[str, ...]) -> bool:
    """Whether `mots` (`reference.mots` of a text, space-bound) names a commune by one of its `mentions`
    (`_mentions`) other than as a street's name."""
    return _found_but_after(mots, mentions, _VOIE, 16)


# « centre-ville de Liévin », « cœur de ville de Liévin », « hôtel de ville de Liévin », « rue de la mairie de
# Liévin », « parvis de l'hôtel de ville »: a place or a building (or the programme), not the commune designated
_LIEU_DE_VILLE = re.compile(r"(?<![a-z0-9])(?:centre|coeur de|hotel de|(?:rue|avenue|av|route|rte|boulevard|bd|chemin"
                            r"|place|quai|allee|impasse|faubourg|parvis|square|esplanade|jardin)(?: de| d| du| des)?"
                            r"(?: la| l)?)$")


def _designe(mots: str, designations: tuple[str, ...]) -> bool:
    """Whether `mots` (space-bound) designates a commune as « ville de … », « commune de … », « mairie de … »
    (`_designations`), not as a place (« centre-ville de … », « hôtel de ville de … ») or a street (« rue de la
    mairie de … »: `_LIEU_DE_VILLE`)."""
    return _found_but_after(mots, designations, _LIEU_DE_VILLE, 20)


_MOT = re.compile(r"[^\W_]+")


def _ecrit_comme_un_nom(texte: str, cle: str) -> bool:
    """Whether `texte` writes the commune of key `cle` as a name, with a capital (« Lourdes », « LOURDES »,
    « St-Omer »), not as the word its name also is (« réhabilitations lourdes » on an operation of Tarbes)."""
    premier = cle.split(" ", 1)[0]
    return any(not w.islower() and reference.nom_cle(w) == premier for w in _MOT.findall(texte))


def _communes_du_classeur(conv: Convention) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The communes of `T_Communes` by `reference.nom_collectivite` of their name → (the name, the words
    that name it in a text: `_mentions`, those that designate it: `_designations`), once per run."""
    return index(conv).memo("communes_par_nom", lambda: {
        k: (c.commune.strip(), _mentions(c.commune), _designations(c.commune)) for c in rows(conv, layout.T_COMMUNES)
        if isinstance(c.commune, str) and (k := reference.nom_collectivite(c.commune))})


# How a text names a commune whose name begins with an article: with it, or its contraction (« du Portel »,
# « au Portel », « de La Flèche »); without it, « Autofinancement fléché » would name La Flèche
_FORMES_ARTICLE = {"le": ("le", "du", "au"), "la": ("la",), "les": ("les", "des", "aux"), "l": ("l",)}


def _mentions(nom: str) -> tuple[str, ...]:
    """The words, space-bound, by which a text (`reference.mots`) names the commune `nom`."""
    cle, article = reference.nom_collectivite(nom), reference.article(nom)
    return tuple(f" {a} {cle} " for a in _FORMES_ARTICLE[article]) if article else (f" {cle} ",)


# The words after which a compound name's first words are its usual short name: « Bruay » for
# Bruay-la-Buissière, « Boulogne » for Boulogne-sur-Mer, « Saint-Amand » for Saint-Amand-les-Eaux
_LIAISONS = frozenset(("sur", "sous", "en", "les", "lez", "la", "le", "l", "de", "du", "des", "d", "aux", "au", "et"))


def _designations(nom: str) -> tuple[str, ...]:
    """The words, space-bound, by which a text designates the commune `nom` as « ville de … » (« commune »,
    « mairie »): by its mentions (`_mentions`), or by its short name (`_LIAISONS`) when it has one."""
    formes = [m.strip() for m in _mentions(nom)]
    mots = reference.nom_collectivite(nom).split()
    court = next((mots[:i] for i in range(1, len(mots) - 1) if mots[i] in _LIAISONS), None)
    if court and court != ["saint"] and court != ["sainte"] and len(" ".join(court)) >= 3:
        formes.append(" ".join(court))
    return tuple(f" {v} {d}{f} " for v in ("ville", "commune", "mairie") for f in formes
                 for d in (("",) if f.split(" ", 1)[0] in ("du", "des", "au", "aux") else ("de ", "d ", "")))


def _de_commune(nom: str) -> str:
    """« de Liévin », « d'Arras », « du Portel », « des Abymes »."""
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if nom.startswith(article):
            return contracted + nom[len(article):]
    return ("d'" if fold(nom[:1]) in "aeiouy" else "de ") + nom


def _parties_fonds_de_concours(a: FicheAction, financeur: str | None,
                               genres: Mapping[str, str] = MappingProxyType({})) -> bool:
    """An EPCI à fiscalité propre and one of its member communes, either way. A financeur added by the
    user (not a reference code) may be the EPCI or the commune: not contradicted, unless its name says it is
    another body (`genres`, `_genres_des_ajoutes`): « Ville de Liévin » pays no fonds de concours to a commune,
    the law knowing none between two communes."""
    if financeur is None:
        return True
    if a.type_mo == "Commune":
        return financeur == "EPCI" or (financeur not in layout.FINANCEURS_BY_CODE
                                       and genres.get(financeur, _EPCI) == _EPCI)
    if a.type_mo == "EPCI":
        return financeur == "COMMUNE" or (financeur not in layout.FINANCEURS_BY_CODE
                                          and genres.get(financeur, _COMMUNE) == _COMMUNE)
    return False


_EPCI, _COMMUNE, _AUTRE_COLLECTIVITE = "EPCI", "Commune", "autre"


def _genres_des_ajoutes(conv: Convention) -> Mapping[str, str]:
    """The financeurs added to the list whose name says which body they are (`totals.COLLECTIVITE`), or that name a
    commune of the workbook (« Liévin »): code → `_EPCI`, `_COMMUNE` or `_AUTRE_COLLECTIVITE` (a Département, the
    État…); the others (« FDE62 ») are not in it. Once per run."""
    def build() -> Mapping[str, str]:
        communes = _communes_du_classeur(conv)
        genres = {}
        for f in conv.financeurs:
            if not f.code or f.code in layout.FINANCEURS_BY_CODE or not isinstance(f.nom, str):
                continue
            mots = reference.mots(f.nom)
            if totals.COLLECTIVITE.match(mots):
                genres[f.code] = (_EPCI if totals.NOM_D_EPCI.match(mots) else
                                  _COMMUNE if totals.NOM_DE_COMMUNE.match(mots) else _AUTRE_COLLECTIVITE)
            elif totals.nomme_comme_un_epci(f, mots):
                # « CU d'Arras »: its « Participation » to a commune's operation escaped FIN-23's cap, which
                # « Communauté urbaine d'Arras » drew
                genres[f.code] = _EPCI
            elif reference.nom_collectivite(f.nom) in communes:
                genres[f.code] = _COMMUNE
        return MappingProxyType(genres)
    return index(conv).memo("genres_des_ajoutes", build)


_SYNDICAT_MIXTE = "Syndicat mixte"
_MEMBRES_D_UN_SYNDICAT = frozenset(("COMMUNE", "EPCI"))


def _membre_possible(financeur: str | None) -> bool:
    """Whether the financeur may be a commune or an EPCI member of a syndicat (L5212-26): `COMMUNE`, `EPCI`, or
    a financeur the user added — a binôme's other commune (« LIEVIN », « Ville de Liévin »), as
    `_parties_fonds_de_concours` does not contradict one either."""
    return financeur in _MEMBRES_D_UN_SYNDICAT or financeur not in layout.FINANCEURS_BY_CODE


# A syndicat mixte named after a port (« Syndicat mixte des ports de Boulogne et Calais », « SM portuaire »): maybe
# a syndicat mixte ouvert that runs one, which L5722-10 lets receive its members' fonds de concours (a Région's, a
# Département's too) for its investments, up to what remains its own after its autofinancement and the subsidies —
# no three quarters. Its kind is not in the workbook: its name is what tells it. Not « Port » joined by a hyphen to
# the next word: a commune's name (« Syndicat mixte de Port-Louis », « SIVOM de Port-Vendres »), no port's syndicat;
# a spaced dash is a separator (« Syndicat mixte portuaire - Calais »), never inside a commune's name
_PORT = re.compile(r"(?<![a-z0-9])(?:port|ports|portuaire|portuaires)(?![a-z0-9])(?![-\u2010-\u2015][a-z])")
_MEMBRES_D_UN_SYNDICAT_OUVERT = frozenset(("DEPT", "REGION"))


def _syndicat_portuaire(a: FicheAction) -> bool:
    """Whether the action's MO is a syndicat mixte whose name says a port (`_PORT`)."""
    return (a.type_mo == _SYNDICAT_MIXTE and isinstance(a.maitre_ouvrage, str)
            and _PORT.search(fold(a.maitre_ouvrage)) is not None)


_SI_PORTUAIRE = ("si le maître d'ouvrage est un syndicat mixte ouvert qui aménage, entretient ou exploite un port "
                 f"({SRC_FONDS_CONCOURS_PORT}), écrivez son nom complet dans « Maître d'ouvrage » (« Syndicat mixte du "
                 "port de … »)")


def _fonds_de_concours_possible(a: FicheAction, financeur: str | None, genres: Mapping[str, str]) -> bool:
    """Whether FIN-23 lets the financeur pay the action's MO a fonds de concours, with or without a warning: an
    EPCI and its communes (`_parties_fonds_de_concours`), a member to a syndicat mixte (`_membre_possible`; a
    Région or a Département too to one named after a port, `_syndicat_portuaire`)."""
    return _parties_fonds_de_concours(a, financeur, genres) or (a.type_mo == _SYNDICAT_MIXTE and (
        _membre_possible(financeur) or (financeur in _MEMBRES_D_UN_SYNDICAT_OUVERT and _syndicat_portuaire(a))))


# An EPCI à fiscalité propre may not subsidise its member communes, nor they it, but by a fonds de concours (the
# principle of spécialité: answers to the AN's written questions n° 39431, 11th term, and n° 18933, 12th): its
# « Subvention » to a commune's operation under another name (« Participation CA », « Subvention EPCI ») is one,
# and capped as one
_VERSEUR_AU_MEMBRE = MappingProxyType({"Commune": ("EPCI", _EPCI), "EPCI": ("COMMUNE", _COMMUNE)})
# what an EPCI pays its communes outside any operation (CGI art. 1609 nonies C; the FPIC it shares out, CGCT art.
# L2336-3 and L2336-5), a resource of theirs; and the share of a co-maître d'ouvrage that designated the other to
# lead the operation (code de la commande publique, art. L2422-12), its own spending on its own competence: no
# fonds de concours
_PAS_UN_FONDS_DE_CONCOURS = re.compile(r"(?<![a-z0-9])(?:dsc|dotation(?:s)? de solidarite|attribution(?:s)?(?: de)? "
                                       r"compensation|fpic|perequation|co ?maitrise"
                                       r"|maitrise d ouvrage (?:unique|partagee|conjointe|designee)|mou"
                                       # the word of the law before 2019 (loi MOP, art. 2 II), still the usual one
                                       r"|transfert (?:temporaire )?(?:de )?(?:la )?(?:maitrise d ouvrage|moa))(?![a-z0-9])")


def _numeros_subventions_entre_membres(conv: Convention) -> set[str | None]:
    """The numbers of the actions holding a counted line of `_NATURES_ENTRE_MEMBRES` of no known family from `EPCI`,
    `COMMUNE` or a financeur added under an EPCI's or a commune's name (« Communauté urbaine d'Arras »:
    `_genres_des_ajoutes`): one pass in C over the run's counted lines, once per run. With « Autofinancement » among
    the natures, most actions of a commune holding its own under `COMMUNE`, the action's type then decides
    (`_fonds_de_concours_deguises`, a look at its few lines)."""
    def build() -> set[str | None]:
        ix = index(conv)
        counted = ix.counted_lines
        verseurs = {code for code, genre in _VERSEUR_AU_MEMBRE.values()}
        verseurs.update(code for code, genre in _genres_des_ajoutes(conv).items() if genre in (_EPCI, _COMMUNE))
        paires = frozenset((code, nature) for code in verseurs for nature in _NATURES_ENTRE_MEMBRES)
        hits = map(and_, map(paires.__contains__, map(_FINANCEUR_NATURE, counted)),
                   map(is_, ix.counted_familles, repeat(None)))
        return set(map(_NUMERO, compress(counted, hits)))
    return index(conv).memo("numeros_subventions_entre_membres", build)


# The natures by which an EPCI's money reaches a member commune's operation (or a commune's its EPCI's) outside a
# fonds de concours of that name: a « Subvention », capped as one; an « Autre », which the share of a co-maître
# d'ouvrage is typed with too, only said when it would take the fonds de concours beyond the cap — and so its
# « Autofinancement » or « Fonds propres », its money all the same (typed so, the cap was escaped with FIN-22's word
# alone, which any other public body's autofinancement draws)
_NATURES_HORS_SUBVENTION = (layout.NATURE_AUTRE, "Autofinancement", "Fonds propres")
_NATURES_ENTRE_MEMBRES = (layout.NATURE_SUBVENTION,) + _NATURES_HORS_SUBVENTION


def _fonds_de_concours_deguises(j: Judged, genres: Mapping[str, str],
                                natures: tuple[str, ...] = (layout.NATURE_SUBVENTION,)) -> list[LigneFinancement]:
    """The counted lines of `nature` of the EPCI to a commune's operation, or of the commune to the EPCI's (their
    codes, or a financeur added under their name), of no known family and not a dotation communautaire, the FPIC,
    a co-maître d'ouvrage's share (`_PAS_UN_FONDS_DE_CONCOURS`) nor another payer's (`_d_un_autre_payeur`): of
    nature « Subvention », fonds de concours under another name; of `_NATURES_HORS_SUBVENTION`, maybe one."""
    if j.action.type_mo not in _VERSEUR_AU_MEMBRE:
        return []
    code, genre = _VERSEUR_AU_MEMBRE[j.action.type_mo]
    categorie = index(j.conv).categories.get
    return [lf for lf, fam in zip(j.counted, j.familles)
            if fam is None and (lf.financeur == code or genres.get(lf.financeur) == genre)
            and lf.nature in natures
            and not _PAS_UN_FONDS_DE_CONCOURS.search(reference.mots(str(lf.dispositif or "")))
            and not _d_un_autre_payeur(lf, code, categorie(lf.financeur))]


def _d_un_autre_payeur(lf: LigneFinancement, verseur: str, categorie: str | None) -> bool:
    """Whether the line's dispositif is another body's programme or says another payer (« EPCI / Subvention
    Région »: the Région's money filed under the wrong code, which FIN-21 says; no fonds de concours) than the
    `verseur` whose money it is judged as: a financeur added under the EPCI's name may name it in its dispositif
    (« Autofinancement communauté urbaine »), its own money."""
    return (totals.PROGRAMMES_D_UN_AUTRE.get(dispositifs.normalise(lf.dispositif or "")) not in (None, lf.financeur)
            or (dispositifs.names_another_payer(lf.dispositif, lf.financeur, categorie)
                and dispositifs.payer_named(lf.dispositif, lf.financeur, categorie) != verseur))


def _dit(ix: Index, code: str | None) -> str:
    """« « AJ » (« Ville de Liévin ») »: an added financeur with the name FIN-23 judged it by
    (`_genres_des_ajoutes`), or the user cannot see why it was (not) taken for the EPCI."""
    f = ix.financeur(code) if code not in layout.FINANCEURS_BY_CODE else None
    nom = f.nom.strip() if f is not None and isinstance(f.nom, str) else ""
    return q(code) + (f" ({q(nom)})" if nom and fold(nom) != fold(str(code)) else "")  # never « « X » (« X ») »


def _le_financeur(ix: Index, code: str | None) -> str:
    return f"le financeur {_dit(ix, code)}"


@rule("FIN-23", E, "Fonds de concours hors du cadre légal", SRC_FONDS_CONCOURS,
      needs=("T_Financements.dispositif", "T_Actions", "T_Financeurs"), optional=("T_Communes", "T_Dispositifs"))
def fonds_de_concours(conv: Convention) -> Iterable[Finding]:
    """Added code. A fonds de concours (recognised by meaning) is paid only between an EPCI à
    fiscalité propre and its member communes (`EPCI` to a MO `Commune`, `COMMUNE` to a MO `EPCI`),
    and all the fonds de concours of an operation are at most the share its beneficiary finances
    itself, hors subventions (the MO's own share, `totals.part_mo`; equal passes): CGCT L5214-16 V
    (communautés de communes), L5215-26 (communautés urbaines), L5216-5 VI (communautés
    d'agglomération). The parties are judged on every counted line; the amount on judged plans.
    A: `COMMUNE`, `EPCI` or an added financeur (`_membre_possible`) to a MO `Syndicat mixte` — lawful between
    a syndicat d'énergie and its members, for energy equipment, up to three quarters of the HT cost (L5212-26,
    L5711-1): the domain and the membership are not in the workbook, so what to check is said, not an error;
    and the other way, an added financeur's (« FDE62 ») to a commune or an EPCI beyond its own share, within three
    quarters of the HT cost (`_au_dela_de_la_part_propre`). A: a member's, a Région's or a Département's to a
    syndicat mixte named after a port (`_syndicat_portuaire`), which L5722-10 lets a port's syndicat mixte ouvert
    receive, no three quarters judged. Above three quarters of an HT cost (equal passes), E: unlawful whether the
    syndicat is one d'énergie or none of the law's, the message saying that only a port's may receive more
    (`_trois_quarts`). A: the EPCI's « Autre » to a member commune's operation (or the commune's to its EPCI's)
    that would take the fonds de concours beyond the own share (`_autre_au_dela_de_la_part_propre`)."""
    ix = index(conv)
    action = ix.action
    genres = _genres_des_ajoutes(conv)  # what the added financeurs' names say they are
    # the counted fonds de concours (few lines, mostly none), found in C from the run's families
    for lf in compress(ix.counted_lines, map(eq, ix.counted_familles, repeat(layout.FAMILLE_FONDS_CONCOURS))):
        a = action(lf.numero)
        if a is None or "type_mo" in a.problems or a.type_mo is None or _parties_fonds_de_concours(a, lf.financeur,
                                                                                                  genres):
            continue
        if _fonds_de_concours_possible(a, lf.financeur, genres) and _syndicat_portuaire(a):
            yield at(lf, "financeur", "FIN-23", A,
                     f"{prefix(lf)} : {_le_financeur(ix, lf.financeur)} verse un fonds de concours à "
                     f"{q(a.maitre_ouvrage)}, maître d'ouvrage de type « Syndicat mixte » ; la loi le permet d'un membre "
                     "à un syndicat mixte ouvert qui aménage, entretient ou exploite un port, pour ses investissements, "
                     "au plus pour ce qui reste à sa charge après son autofinancement et les subventions "
                     f"({SRC_FONDS_CONCOURS_PORT}).",
                     "Vérifiez que le syndicat est un syndicat mixte ouvert portuaire dont le financeur est membre ; "
                     "sinon, choisissez le dispositif qui fonde la participation.")
            continue
        if a.type_mo == _SYNDICAT_MIXTE and _membre_possible(lf.financeur):
            # L5212-26 (syndicats mixtes: L5711-1) lets a syndicat d'énergie and its members exchange fonds de
            # concours — the SDE's public lighting of a centre-ville, paid in part by the commune: lawful, and
            # the domain is not in the workbook, so what to check rather than an error blocking « Valider »
            yield at(lf, "financeur", "FIN-23", A,
                     f"{prefix(lf)} : {_le_financeur(ix, lf.financeur)} verse un fonds de concours à "
                     f"{q(a.maitre_ouvrage or a.type_mo)}, maître d'ouvrage de type « Syndicat mixte » ; la loi ne le "
                     "permet, hors d'un EPCI à fiscalité propre et de ses communes, qu'entre un syndicat d'énergie et ses "
                     "communes ou EPCI membres, pour un équipement de distribution d'électricité, de production "
                     "d'énergie renouvelable, de maîtrise de la consommation d'énergie ou de réduction des émissions "
                     f"({SRC_FONDS_CONCOURS_SYNDICAT}), au plus pour les trois quarts du coût hors taxes de l'opération, "
                     "ou d'un membre à un syndicat mixte ouvert qui aménage, entretient ou exploite un port "
                     f"({SRC_FONDS_CONCOURS_PORT}).",
                     "Vérifiez que le syndicat est un syndicat d'énergie dont le financeur est membre et que l'opération "
                     f"relève de ce domaine ; {_SI_PORTUAIRE} ; sinon, choisissez le dispositif qui fonde la "
                     "participation.")
            continue
        yield at(lf, "financeur", "FIN-23", E,
                 f"{prefix(lf)} : un fonds de concours ne se verse qu'entre un EPCI à fiscalité propre et ses communes "
                 f"membres ({SRC_FONDS_CONCOURS}), ou entre un syndicat et ses membres dans les cas que la loi prévoit "
                 f"(syndicat d'énergie, {SRC_FONDS_CONCOURS_SYNDICAT} ; syndicat mixte ouvert portuaire, "
                 f"{SRC_FONDS_CONCOURS_PORT}) ; ici {_le_financeur(ix, lf.financeur)} le verse à "
                 f"{q(a.maitre_ouvrage or a.type_mo)}, maître d'ouvrage de type {q(a.type_mo)}.",
                 "S'il s'agit d'une subvention, choisissez le dispositif qui la fonde ; sinon, corrigez le financeur "
                 "ou le maître d'ouvrage" + (f" ; {_SI_PORTUAIRE}." if a.type_mo == _SYNDICAT_MIXTE else "."))
    with_fdc = _numeros_with(conv, _FONDS_CONCOURS)
    with_subventions = _numeros_subventions_entre_membres(conv)
    for j in judged_actions(conv):
        if j.action.numero not in with_fdc and j.action.numero not in with_subventions:
            continue  # no counted fonds de concours, under its name or another
        if j.action.type_mo == _SYNDICAT_MIXTE:
            if not _syndicat_portuaire(j.action):  # L5722-10: what a balanced plan leaves it (FIN-05), no 3/4
                yield from _trois_quarts(j)
            continue
        fdc, deguises, autres, montant, propre = _entre_membres(j, genres, j.action.numero in with_subventions)
        if fdc and montant > propre:
            # a collectivité by its name or a commune of T_Communes (« Liévin »: `genres`) is surely no syndicat
            yield _au_dela_de_la_part_propre(j, fdc, montant, propre, ix.mo_codes.collectivites.union(genres),
                                             deguises, ix)
        elif autres and montant + (en_autre := totals.total(autres)) > propre:
            yield _autre_au_dela_de_la_part_propre(j, autres, montant, en_autre, propre, ix)


def _entre_membres(j: Judged, genres: Mapping[str, str], entre_membres: bool) -> tuple[
        list[LigneFinancement], list[LigneFinancement], list[LigneFinancement], Decimal, Decimal]:
    """FIN-23 on the judged plan of a commune or an EPCI: (its fonds de concours, those under another name among them,
    the EPCI's or the commune's money of another nature, `_NATURES_HORS_SUBVENTION`, the fonds de concours' sum, the
    maître d'ouvrage's own share). `entre_membres`: the action holds a line of the EPCI or the commune of no family."""
    deguises = _fonds_de_concours_deguises(j, genres) if entre_membres else []
    autres = _fonds_de_concours_deguises(j, genres, _NATURES_HORS_SUBVENTION) if entre_membres else []
    fdc = [lf for lf, fam in zip(j.counted, j.familles) if (fam == layout.FAMILLE_FONDS_CONCOURS
           and _parties_fonds_de_concours(j.action, lf.financeur, genres)) or lf in deguises]  # the others: FIN-23's first loop
    return fdc, deguises, autres, totals.total(fdc), j.part_mo.propre


def _dites_par_fin23(conv: Convention) -> set[int]:
    """The lines (their `id`) of the EPCI's « Autofinancement » or « Fonds propres » to a member commune's operation (or
    the commune's to its EPCI's) of which FIN-23 warns as beyond the fonds de concours' cap
    (`_autre_au_dela_de_la_part_propre`, whose message says what FIN-22's would): FIN-22 is silent on them, one finding
    for one line. Asked by FIN-22 only for such a line (few, mostly none); once per run."""
    def build() -> set[int]:
        if not usable(conv, "T_Financements.dispositif"):
            return set()  # FIN-23 does not run: FIN-22 speaks
        genres = _genres_des_ajoutes(conv)
        with_subventions = _numeros_subventions_entre_membres(conv)
        out: set[int] = set()
        for j in judged_actions(conv):
            if j.action.type_mo not in _VERSEUR_AU_MEMBRE or j.action.numero not in with_subventions:
                continue
            fdc, _, autres, montant, propre = _entre_membres(j, genres, True)
            if autres and not (fdc and montant > propre) and montant + totals.total(autres) > propre:
                out.update(id(lf) for lf in autres if lf.nature in _NATURES_APPORT_FIN23)
        return out
    return index(conv).memo("dites_par_fin23", build)


# the natures of another body's own money FIN-22 speaks of that FIN-23 judges too, on a member's operation
_NATURES_APPORT_FIN23 = frozenset(_NATURES_HORS_SUBVENTION) - {layout.NATURE_AUTRE}


def _autre_au_dela_de_la_part_propre(j: Judged, autres: list[LigneFinancement], montant: Decimal, en_autre: Decimal,
                                     propre: Decimal, ix: Index) -> Finding:
    """FIN-23, a warning, on the « Autre », « Autofinancement » or « Fonds propres » lines of the EPCI to a member
    commune's operation (or of the commune to its EPCI's) that would take the fonds de concours beyond the
    beneficiary's own share: the law lets an EPCI pay a member's operation only by a fonds de concours, capped so,
    or as a co-maître d'ouvrage paying its share of a work of both for its own competence (code de la commande
    publique, art. L2422-12), which these natures are typed for too and the workbook does not tell apart. Typed
    « Subvention », the same line is counted in the cap (an error); typed so, the cap was escaped in silence."""
    a = j.action
    # « la ligne « Autre » de nature « Autre » » named an empty dispositif after the nature
    noms = " et ".join(dict.fromkeys(q(lf.dispositif) if lf.dispositif else "sans dispositif" for lf in autres))
    payeurs = list(dict.fromkeys(_dit(ix, str(lf.financeur)) for lf in autres))
    de = (f"du financeur {payeurs[0]}" if len(payeurs) == 1 else f"des financeurs {' et '.join(payeurs)}")
    les_lignes = f"la ligne {noms}" if len(autres) == 1 else f"les lignes {noms}"
    de_nature = _de_natures(autres)
    verseur = ("un EPCI à fiscalité propre ne finance l'opération d'une commune membre" if a.type_mo == "Commune"
               else "une commune ne finance l'opération de l'EPCI à fiscalité propre dont elle est membre")
    deja = f", avec les fonds de concours de l'action ({money(montant)})," if montant else ""
    # its « Autofinancement » or « Fonds propres »: what FIN-22, silent on these lines, would have said of them too
    apports = [lf for lf in autres if lf.nature in _NATURES_APPORT_FIN23]
    propre_du_mo = sien = ""
    if apports:
        code_mo = layout.CODE_DU_MO.get(a.type_mo)
        # beside an « Autre » line, those it means named by their natures: « cette ligne » was the first, an « Autre »
        une = len(apports) == 1
        if len(apports) == len(autres):
            sujet = f"{_de_natures(apports).replace('de', 'De', 1)}, {'cette ligne' if une else 'ces lignes'}"
        else:
            sujet = f"{'Celle' if une else 'Celles'} {_de_natures(apports)}"
        verbe = "n'est" if une else "ne sont"
        propre_du_mo = (f" {sujet} {verbe} pas la part propre du maître d'ouvrage mais une participation publique, "
                        f"comptée comme telle dans la participation minimale de 20 % ({SRC_L1111_10}).")
        sien = ("Si c'est l'argent du maître d'ouvrage, indiquez son code" + (f" ({q(code_mo)})" if code_mo else "")
                + " ; s")
    return at(autres[0], "montant", "FIN-23", A,
              f"{prefix(autres[0])} : {les_lignes} {de_nature} {de} ({money(en_autre)}) dépasse{'nt' if len(autres) > 1 else ''}{deja} la part que le maître d'ouvrage "
              f"finance lui-même, hors subventions, soit {money(propre)} ; {verseur} que par un fonds de concours, qui "
              f"ne dépasse pas cette part ({SRC_FONDS_CONCOURS}), ou comme co-maître d'ouvrage, pour sa part d'un "
              f"ouvrage relevant de leurs deux compétences (code de la commande publique, art. L2422-12).{propre_du_mo}",
              (sien or "S") + "'il s'agit d'un fonds de concours, choisissez le dispositif « Fonds de concours », et réduisez les "
              f"fonds de concours de l'action de {money(montant + en_autre - propre)} au moins ou augmentez "
              "l'autofinancement du maître d'ouvrage d'autant ; s'il s'agit de la part d'un co-maître d'ouvrage, écrivez-le dans « Dispositif » "
              "(« Participation co-maîtrise d'ouvrage »).")


def _de_natures(lines: list[LigneFinancement]) -> str:
    """« de nature « Autre » », « de natures « Autre » et « Autofinancement » »: the lines' natures, each once."""
    natures = list(dict.fromkeys(str(lf.nature) for lf in lines))
    return (f"de nature {q(natures[0])}" if len(natures) == 1
            else f"de natures {', '.join(map(q, natures[:-1]))} et {q(natures[-1])}")


def fonds_de_concours_sans_communes(ix: Index, numero: str) -> list[str]:
    """For ACV_CONTROLE given no T_Communes: the financeurs added to the list (as `_dit` says them) that finance
    action `numero`, whose name says no body (`_genres_des_ajoutes`) but is a programme commune's (the national list),
    and whose money FIN-23 refuses were they communes of the convention, as T_Communes may say (« Liévin »): a fonds
    de concours to a commune, or to an EPCI beyond its own share, under that name or a subsidy's. FIN-23 itself
    decides, run again on the workbook with those names for communes, only when there are such financeurs (mostly
    none: the action's counted lines are looked at, no more); each alone, so that only those whose name draws the
    error are said (all, when only together they do). A name of a commune of another département than the
    communes the maîtres d'ouvrage of type `Commune` are named after is none of the convention's (« Vienne » in a workbook of
    Châtellerault is the département, not the commune of the Isère)."""
    conv = ix.conv
    added = dict.fromkeys(lf.financeur for lf in ix.counted_of(numero)
                          if lf.financeur is not None and lf.financeur not in layout.FINANCEURS_BY_CODE)
    if not added:
        return []
    genres = ix.memo("genres_des_ajoutes", lambda: _genres_des_ajoutes(conv))
    par_nom = ix.reference.par_nom
    # a commune of the convention is in its département, which a maître d'ouvrage named as a programme commune says
    # (« Ville de Châtellerault »: the Vienne, 86): « Vienne », the département's short name, is not Vienne (38). A
    # commune's only: the Département de la Vienne as maître d'ouvrage typed « Vienne » is no commune of the Isère. A
    # binôme's name (« Lens - Liévin », as the national list names ACV113) split as the list's is: whole, it is none
    departements = {c.departement for a in rows(conv, layout.T_ACTIONS)
                    if a.type_mo == "Commune" and isinstance(a.maitre_ouvrage, str)
                    for nom in reference.noms_cles(a.maitre_ouvrage) for c in par_nom.get(nom, ())}
    noms = {code: f.nom for code in added if code not in genres and (f := ix.financeur(code)) is not None
            and isinstance(f.nom, str) and any(not departements or c.departement in departements
                                               for c in par_nom.get(reference.nom_collectivite(f.nom), ()))}
    if not noms:
        return []
    from . import run_rules  # (the package imports this module)

    def refuse(supposees: Iterable[str]) -> bool:
        communes = [*conv.communes, *(Commune(commune=noms[code], raw={"commune": noms[code]}) for code in supposees)]
        found = run_rules(conv.model_copy(update={"communes": communes}), codes=["FIN-23"], reference=ix.reference)
        return any(f.gravite is E and f.action == numero for f in found)

    if len(noms) == 1:
        return [_dit(ix, code) for code in noms] if refuse(noms) else []
    # those whose name alone draws the error; all of them when only together they do (their sum above a share)
    seuls = [code for code in noms if refuse((code,))]
    return [_dit(ix, code) for code in (seuls or (noms if refuse(noms) else ()))]


def _au_dela_de_la_part_propre(j: Judged, fdc: list[LigneFinancement], montant: Decimal, propre: Decimal,
                               collectivites: frozenset[str], deguises: list[LigneFinancement], ix: Index) -> Finding:
    """FIN-23 on a commune's or an EPCI's plan whose fonds de concours exceed its own share (L5214-16 V…): an error;
    but those of a financeur added to the list, neither named as a collectivité nor a commune of T_Communes
    (`collectivites`; « FDE62 »), may be a syndicat
    d'énergie's, which L5212-26 caps at three quarters of the HT cost instead — a warning, when the EPCI's alone
    stay within the own share and those within three quarters of the cost (`_trois_quarts_du_cout`: of a TTC cost,
    only a sum above them is judged). The syndicat and its domain are not in the workbook: what to check is said."""
    a = j.action
    ajoutes = [lf for lf in fdc if lf.financeur not in layout.FINANCEURS_BY_CODE and lf.financeur not in collectivites]
    syndicat = totals.total(ajoutes)
    plafond, depasse = _trois_quarts_du_cout(a) or (None, "")
    message = (f"les fonds de concours de l'action ({money(montant)}) dépassent la part que son maître d'ouvrage finance "
               f"lui-même, hors subventions, soit {money(propre)} ({SRC_FONDS_CONCOURS})")
    reduire = (f"réduisez les fonds de concours de {money(montant - propre)}, ou augmentez l'autofinancement du maître "
               "d'ouvrage d'autant.")
    if deguises:
        noms = list(dict.fromkeys(q(lf.dispositif or "Subvention") for lf in deguises))
        payeurs = list(dict.fromkeys(_dit(ix, str(lf.financeur)) for lf in deguises))
        dites, de = " et ".join(noms), " et ".join(payeurs)
        entre = ("un EPCI à fiscalité propre ne subventionne ses communes membres" if a.type_mo == "Commune"
                 else "une commune ne subventionne l'EPCI à fiscalité propre dont elle est membre")
        # two names, two lines, two payers: each said in the plural (« y sont comptées les subventions « A » et « B » »)
        message += ((f" ; y est comptée la subvention {dites}" if len(noms) == 1 else
                     f" ; y sont comptées les subventions {dites}")
                    + (f" du financeur {de}" if len(payeurs) == 1 else f" des financeurs {de}")
                    + f" ({money(totals.total(deguises))}) : {entre} que par un fonds de concours")
        reduire = reduire[:-1] + (
            (f" ; si la ligne {dites} n'est pas versée" if len(deguises) == 1 else
             f" ; si les lignes {dites} ne sont pas versées")
            + (" par ce financeur" if len(payeurs) == 1 else " par ces financeurs")
            + (", corrigez son financeur." if len(deguises) == 1 else ", corrigez leur financeur."))
    if ajoutes and montant - syndicat <= propre:
        noms = list(dict.fromkeys(str(lf.financeur) for lf in ajoutes))
        codes = " et ".join(map(q, noms))
        est = "sont des syndicats d'énergie" if len(noms) > 1 else "est un syndicat d'énergie"
        if plafond is None or syndicat <= plafond:
            return at(ajoutes[0], "montant", "FIN-23", A,
                      f"{prefix(ajoutes[0])} : {message} ; c'est permis si {codes} {est} dont le maître "
                      f"d'ouvrage {q(a.maitre_ouvrage or a.type_mo)} est membre, pour un équipement de distribution "
                      "d'électricité, de production d'énergie renouvelable, de maîtrise de la consommation d'énergie ou "
                      "de réduction des émissions, au plus pour les trois quarts du coût hors taxes de l'opération "
                      f"({SRC_FONDS_CONCOURS_SYNDICAT}).",
                      f"Vérifiez que {codes} {est} dont le maître d'ouvrage est membre et que "
                      f"l'opération relève de ce domaine ; sinon, {reduire}")
        message += (f" ; versés par un syndicat d'énergie, ceux de {codes} ({money(syndicat)}) dépasseraient aussi "
                    f"{depasse} ({SRC_FONDS_CONCOURS_SYNDICAT})")
    return at(fdc[0], "montant", "FIN-23", E, f"{prefix(fdc[0])} : {message}.", reduire[0].upper() + reduire[1:])


def _trois_quarts_du_cout(a: FicheAction) -> tuple[Decimal, str] | None:
    """L5212-26's cap on the action (three quarters of its HT cost, to the cent below) and how a message says it
    exceeded; of a TTC cost, three quarters of it (its HT cost is at most its TTC one): a sum above it is above the
    law's for sure, a sum below it is not judged. None without a readable cost or base."""
    if a.cout_total is None or a.base not in ("HT", "TTC"):
        return None
    plafond = _floor(a.cout_total * 3 / 4)
    if a.base == "HT":
        return plafond, f"les trois quarts du coût hors taxes de l'opération, soit {money(plafond)}"
    return plafond, (f"les trois quarts du coût de l'opération toutes taxes comprises, soit {money(plafond)}, et donc "
                     "ceux de son coût hors taxes, jamais plus élevé")


def _trois_quarts(j: Judged) -> Iterable[Finding]:
    """FIN-23 on a syndicat mixte's judged plan, its name no port's (`_syndicat_portuaire`): its members' fonds de
    concours above three quarters of the HT cost (L5212-26) are unlawful whether the syndicat is one d'énergie (its
    cap) or not (no fonds de concours at all), unless it is a port's syndicat mixte ouvert (L5722-10) named
    otherwise: the suggestion says how to tell it. Three quarters of a TTC cost would let more pass than the law:
    there only a sum above them is said, unlawful for sure (`_trois_quarts_du_cout`)."""
    a = j.action
    fdc = [lf for lf, fam in zip(j.counted, j.familles)
           if fam == layout.FAMILLE_FONDS_CONCOURS and _membre_possible(lf.financeur)]
    if not fdc or (cap := _trois_quarts_du_cout(a)) is None:
        return
    # to the cent below: the most the law lets pass (1 000 000,01 € of cost: 750 000,00 €, not 750 000,01 €)
    (plafond, depasse), montant = cap, totals.total(fdc)
    if montant > plafond:
        yield at(fdc[0], "montant", "FIN-23", E,
                 f"{prefix(fdc[0])} : les fonds de concours versés au syndicat mixte {q(a.maitre_ouvrage or a.type_mo)} "
                 f"({money(montant)}) dépassent {depasse} ({SRC_FONDS_CONCOURS_SYNDICAT}) ; seul un syndicat mixte ouvert qui aménage, "
                 f"entretient ou exploite un port peut en recevoir davantage de ses membres ({SRC_FONDS_CONCOURS_PORT}).",
                 f"Réduisez les fonds de concours de {money(montant - plafond)} au moins ; {_SI_PORTUAIRE}.")


def _nom(lf: LigneFinancement) -> str:
    """How FIN-24 names the line's subsidy (only when it has something to say)."""
    return q(lf.dispositif or "subvention de l'État")


def _plus_ans(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


@rule("FIN-24", A, "Subvention de l'État exposée à la caducité", SRC_CADUCITE,
      needs=("T_Financements.dispositif", "T_Actions"))
def caducite(conv: Convention) -> Iterable[Finding]:
    """Added code. A DETR, DSIL, DPV or DSID (R2334-28) or a subsidy of décret 2018-514, granted
    (`Acquis`, `Engagé`, `Versé`), lapses when the operation has not begun within two years of its
    notification, and must be finished within four years of its beginning (the préfet may extend).
    The notification date is not in the workbook: the line's `Année` is taken as the year of the
    decision, so the start is late for sure after 31/12 of `Année` + 2. Judged at the date of the
    next comité (`acv_date_comite`, else today): an action not started by then (maturity neither
    `En cours` nor `Terminée`, start date after it or empty) past that day; a start date planned
    after it; an action begun more than four years before the comité and not `Terminée`; a planned
    end more than four years after the start. One finding per action and dispositif, on its first line."""
    ref = reference_date(conv)
    ix = index(conv)
    action = ix.action
    seen: set[tuple] = set()
    acquis = layout.STATUTS_ACQUIS  # `totals.counted(lignes(conv), STATUTS_ACQUIS)`, from the run's counted lines
    counted = ix.counted_lines
    # the lines granted and of a subsidy these rules govern (`_subvention_etat_encadree`), found in C
    encadrees = map(and_, map(acquis.__contains__, map(_STATUT, counted)),
                    map(_ENCADREES.__getitem__,
                        zip(map(_DISPOSITIF, counted), map(_FINANCEUR, counted), map(_NATURE, counted))))
    fin_max_of: dict[date, date] = {}  # four years after a start date (`_plus_ans`), once per date
    for lf, fam in compress(zip(counted, ix.counted_familles), encadrees):
        if lf.annee is None:
            continue
        key = (lf.numero, fam or lf.dispositif)
        a = action(lf.numero)
        if key in seen or a is None or a.maturite == layout.MATURITE_ABANDONNEE:
            continue
        seen.add(key)
        limite = date(lf.annee + 2, 12, 31)
        commencee = _commencee(conv, a)
        msg = sugg = None
        if a.date_debut is not None and a.date_debut > limite:
            msg = (f"le début de l'action est prévu le {fmt_date(a.date_debut)}, plus de deux ans après l'attribution de "
                   f"la subvention {_nom(lf)} ({lf.annee}) : sans commencement d'exécution le {fmt_date(limite)} au plus tard, "
                   "elle devient caduque")
            sugg = "Vérifiez la date de notification, avancez le début des travaux ou demandez la prorogation au préfet."
        elif not commencee and ref > limite:
            msg = (f"au {fmt_date(ref)}, l'action n'a pas commencé alors que la subvention {_nom(lf)} a été attribuée en "
                   f"{lf.annee} : sans commencement d'exécution dans les deux ans de sa notification, elle est caduque")
            sugg = "Vérifiez la date de notification et celle du premier acte d'exécution ; la subvention est peut-être à redemander."
        elif a.date_debut is not None:
            fin_max = fin_max_of.get(a.date_debut)
            if fin_max is None:
                fin_max = fin_max_of[a.date_debut] = _plus_ans(a.date_debut, 4)
            if a.date_fin is not None and a.date_fin > fin_max:
                msg = (f"la fin de l'action est prévue le {fmt_date(a.date_fin)}, plus de quatre ans après son début "
                       f"({fmt_date(a.date_debut)}) : la subvention {_nom(lf)} doit être soldée avant le {fmt_date(fin_max)}, "
                       "sauf prorogation par le préfet")
                sugg = "Vérifiez le calendrier, ou demandez la prorogation du délai d'achèvement."
            elif ref > fin_max and a.maturite != "Terminée":
                msg = (f"au {fmt_date(ref)}, l'action commencée le {fmt_date(a.date_debut)} n'est pas terminée : le délai "
                       f"de quatre ans pour achever l'opération financée par {_nom(lf)} est dépassé depuis le {fmt_date(fin_max)}")
                sugg = "Demandez la prorogation au préfet, ou passez l'action à « Terminée » si elle l'est."
        if msg:
            yield at(lf, "annee", "FIN-24", A, f"{prefix(lf)} : {msg} ({SRC_CADUCITE}).", sugg)


@rule("FIN-25", A, "FRLA au-delà du déficit de l'opération", SRC_FRLA, needs=("T_Financements.dispositif", "T_Actions"))
def frla_deficit(conv: Convention) -> Iterable[Finding]:
    """Added code. The Fonds de restructuration des locaux d'activité finances the deficit of the
    operation, not its cost: its counted lines on an action are at most the cost minus the
    operation's own revenue (the lines of nature `Recette / cession`); equal passes. A warning: the
    deficit the fund retains is the one of its instruction, which the workbook may not hold whole
    (resale value, rents), so the message says what to check."""
    with_frla = _numeros_with(conv, _FRLA)
    for j in judged_actions(conv):
        if j.action.numero not in with_frla:
            continue  # no counted FRLA line
        frla = [lf for lf, fam in zip(j.counted, j.familles) if fam == "FRLA"]
        if not frla:
            continue
        recettes = totals.total([lf for lf in j.counted if lf.nature in layout.NATURES_RECETTE])
        deficit = j.action.cout_total - recettes
        montant = totals.total(frla)
        if montant > deficit:
            yield at(frla[0], "montant", "FIN-25", A,
                     f"{prefix(frla[0])} : le FRLA ({money(montant)}) dépasse le déficit de l'opération "
                     f"({money(deficit)} : coût total {money(j.action.cout_total)} moins {money(recettes)} de recettes et "
                     f"cessions) ; le fonds finance le déficit de l'opération, pas son coût ({SRC_FRLA}).",
                     "Vérifiez le bilan de l'opération (prix de revente ou loyers attendus) et ramenez le FRLA au "
                     "déficit retenu à l'instruction.")
