"""FIN — the plan de financement (`T_Financements`, with `T_Financeurs` and `T_Dispositifs`).

Every sum and ratio comes from `acv_xl.checks.totals` (Decimal to the cent; `Refusé` lines count in no
total). Percent comparisons are made on cross products (`part × 100 < seuil × base`), never on a
rounded ratio: exactly 20 % or exactly 80 % pass, 19,99 % fails.

An action whose plan holds a line with an unreadable or empty amount (reported by FIN-03), or
whose cost is unreadable (ACT-05), is not judged by FIN-05 to FIN-09: its sums would be false.
An `Abandonnée` action has left the plan: FIN-05 to FIN-09 and FIN-16 do not judge it.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_CEILING, Decimal
from typing import Iterable

from acv_xl.checks import totals
from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.model import Convention, FicheAction, LigneFinancement
from acv_xl.contract.values import closest, fmt_date, fmt_percent

from . import (
    SRC_CONTRAT,
    SRC_DECRET_2018_514,
    SRC_GUIDE,
    SRC_L1111_10,
    SRC_R2334_27,
    A,
    E,
    I,
    action_reference,
    at,
    blank,
    index,
    lazy,
    money,
    prefix,
    problem_findings,
    q,
    required_findings,
    rows,
    rule,
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

    def __init__(self, conv: Convention, action: FicheAction, lines: list[LigneFinancement],
                 counted: list[LigneFinancement]):
        self.conv, self.action, self.lines, self.counted = conv, action, lines, counted

    @lazy
    def total(self) -> Decimal:
        """The counted financing of the action (`totals.total_action`: every line is the action's)."""
        return totals.total(self.counted)

    @lazy
    def part_mo(self) -> totals.PartMO:
        return totals.part_mo(self.lines, index(self.conv).categories)

    @lazy
    def categories_known(self) -> bool:
        """Whether every counted subsidy line has a financeur of known category (Public/Privé): an
        unknown financeur (FIN-02) could be public, so the L1111-10 and 2018-514 ratios would be guesses."""
        categorie = index(self.conv).categories.get
        return all(categorie(lf.financeur) in layout.L.CATEGORIE
                   for lf in self.counted if lf.nature == layout.NATURE_SUBVENTION)

    @lazy
    def dotations(self) -> Decimal:
        """The counted R2334-27 dotations of the action."""
        is_dotation = index(self.conv).memo("r2334", lambda: totals.DotationsR2334(self.conv.dispositifs))
        return totals.dotations_r2334_27(self.counted, is_dotation)


def judged_actions(conv: Convention) -> list[Judged]:
    return index(conv).memo("judged_actions", lambda: list(_judged_actions(conv)))


def _judged_actions(conv: Convention) -> Iterable[Judged]:
    """Actions whose plan can be judged: numbered (and not twice), not abandoned, cost readable and > 0, at least one
    counted line (ACT-08 reports the others), every non-refused line with a readable amount, no
    line with an unreadable financeur, dispositif, nature or statut."""
    actions = rows(conv, layout.T_ACTIONS)
    counts = Counter(a.numero for a in actions)
    # the numbers whose plan holds a counted line without a readable amount, or a line with an
    # unreadable status, nature or financeur (every sum would be a guess): one pass over the lines
    unsure = {lf.numero for lf in lignes(conv)
              if (lf.compte and lf.montant is None) or (lf.problems and not _LINE_KEYS.isdisjoint(lf.problems))}
    for a in actions:
        if not a.numero or a.maturite == layout.MATURITE_ABANDONNEE or "maturite" in a.problems:
            continue  # an unreadable maturity may be « Abandonnée »
        if counts[a.numero] > 1:
            continue  # a duplicated number (ACT-01): whose are the lines? not guessed
        lines = plan(conv, a)
        if a.cout_total is None or a.cout_total <= 0:
            continue  # no cost: ACT-02/ACT-05
        counted = totals.counted(lines)
        if not counted:
            continue  # no counted line: ACT-08
        if a.numero in unsure:
            continue
        yield Judged(conv, a, lines, counted)


def _pct(ratio: Decimal, seuil: int) -> str:
    """The ratio with 2 decimals, or more when 2 would show the threshold itself: « 9,999 % » under a
    10 % minimum, never « 10,00 % » in a message saying it is too low."""
    for decimals in (2, 3, 4):
        shown = fmt_percent(ratio, decimals)
        if Decimal(ratio * 100).quantize(Decimal(1).scaleb(-decimals)) != seuil:
            break
    return shown


def _ceil(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_CEILING)


# ----------------------------------------------------------------------------- line checks
@rule("FIN-01", E, "N° d'action du financement inconnu", SRC_GUIDE, needs=("T_Financements", "T_Actions"))
def action_inconnue(conv: Convention) -> Iterable[Finding]:
    yield from action_reference(conv, lignes(conv), "FIN-01", lambda lf: (
        f"Ligne {lf.row} : le numéro d'action de la ligne de financement est vide.",
        "Indiquez le numéro de l'action financée (feuille Fiches-actions)."))


@rule("FIN-02", E, "Financeur inconnu", SRC_GUIDE, needs=("T_Financements", "T_Financeurs"))
def financeur_inconnu(conv: Convention) -> Iterable[Finding]:
    codes = tuple(f.code for f in rows(conv, layout.T_FINANCEURS) if f.code)
    known = set(codes)
    for lf in lignes(conv):
        if lf.financeur is None and blank(lf, "financeur"):  # the test inlined first: a call per line
            yield at(lf, "financeur", "FIN-02", E, f"{prefix(lf)} : le financeur n'est pas renseigné.",
                     "Choisissez le code du financeur dans la liste (feuille Financeurs).")
        elif lf.financeur and lf.financeur not in known:
            c = closest(lf.financeur, codes)
            yield at(lf, "financeur", "FIN-02", E,
                     f"{prefix(lf)} : {q(lf.financeur)} n'est pas un code de financeur de la feuille Financeurs.",
                     f"Choisissez {q(c)}." if c else "Choisissez un code de la liste, ou ajoutez ce financeur à la feuille Financeurs.")


@rule("FIN-03", E, "Montant du financement invalide", SRC_GUIDE, needs=("T_Financements",))
def montant(conv: Convention) -> Iterable[Finding]:
    """Empty, not a number (text numbers with the parsed value as suggestion) or ≤ 0 — refused
    lines included: the amount requested is part of the record."""
    yield from problem_findings(conv, T, ("montant",), "FIN-03", E)
    yield from required_findings(conv, T, ("montant",), "FIN-03", E)
    for lf in lignes(conv):
        if lf.montant is not None and lf.montant <= 0:
            yield at(lf, "montant", "FIN-03", E,
                     f"{prefix(lf)} : le montant ({money(lf.montant)}) doit être strictement positif.",
                     "Saisissez le montant apporté, ou supprimez la ligne.")


@rule("FIN-04", E, "Nature, statut ou année invalide", SRC_GUIDE, needs=("T_Financements",))
def nature_statut_annee(conv: Convention) -> Iterable[Finding]:
    """E: `Nature`/`Statut` empty or outside their list, `Année` empty or not a year.
    A: `Année` outside the programme's years (ACV 1: 2018-2022, ACV 2: 2023-2026)."""
    yield from problem_findings(conv, T, ("nature", "statut", "annee"), "FIN-04", E)
    yield from required_findings(conv, T, ("nature", "statut", "annee"), "FIN-04", E)
    years = layout.programme_years(conv.programme)
    if years is None:
        return
    for lf in lignes(conv):
        if lf.annee is not None and lf.annee not in years:
            yield at(lf, "annee", "FIN-04", A,
                     f"{prefix(lf)} : l'année {lf.annee} est hors de la période du programme {conv.programme} "
                     f"({years[0]} à {years[-1]}).", "Vérifiez l'année de la participation.")


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


_DEROG_PREFET = ("Monument protégé", "Patrimoine non protégé", "Calamité publique")
_DEROG_SCOLAIRE = "Rénovation énergétique scolaire"


@rule("FIN-06", E, "Participation minimale du maître d'ouvrage non atteinte", SRC_L1111_10,
      needs=("T_Financements", "T_Actions.derogation", "T_Financeurs"))
def participation_mo(conv: Convention) -> Iterable[Finding]:
    """For a MO `Commune`/`EPCI`/`Département`/`Région`/`Syndicat mixte`: own share (autofinancement,
    loans, fonds propres) < 20 % of (own share + public subsidies). `ANRU`: no minimum; `Rénovation
    énergétique scolaire`: 10 %; `Monument protégé`, `Patrimoine non protégé`, `Calamité publique`:
    A (the préfet may grant the derogation). Reported on the action's `Dérogation L1111-10` cell,
    where a derogation is declared. Nothing to judge when the plan has neither own share nor
    public subsidy; an unreadable MO type or derogation (ACT-12), or a subsidy of an unknown
    financeur (FIN-02), is not guessed."""
    for j in judged_actions(conv):
        a = j.action
        if a.type_mo not in layout.MO_PUBLICS_L1111_10 or "derogation" in a.problems:
            continue
        derog = a.derogation or "Aucune"
        if derog == "ANRU":
            continue
        seuil = Decimal(10 if derog == _DEROG_SCOLAIRE else 20)
        grav = A if derog in _DEROG_PREFET else E
        if not j.categories_known:
            continue
        pm = j.part_mo
        if pm.ratio is None:
            continue
        base = pm.propre + pm.subventions_publiques
        if pm.propre * 100 >= seuil * base:
            continue
        # the fix that keeps the plan balanced: swap subsidies for own share, same total
        transfert = _ceil(seuil * base / 100 - pm.propre)
        cadre = f" (dérogation {q(derog)})" if derog != "Aucune" else ""
        msg = (f"Participation minimale du maître d'ouvrage non atteinte pour l'action {a.numero}{cadre} : sa part "
               f"propre (autofinancement, prêts et fonds propres) est de {money(pm.propre)}, soit "
               f"{_pct(pm.ratio, seuil)} de {money(base)} (part propre + subventions publiques) ; le minimum est "
               f"de {seuil} % ({SRC_L1111_10}).")
        if grav is A:
            msg += " Le préfet peut accorder la dérogation : joignez sa décision."
        yield at(a, "derogation", "FIN-06", grav, msg,
                 f"Remplacez au moins {money(transfert)} de subventions publiques par de l'autofinancement "
                 f"(part propre d'au moins {money(pm.propre + transfert)}) ; si l'opération relève d'une dérogation, "
                 f"choisissez-la dans la colonne {q(layout.T_ACTIONS.header('derogation'))}.",
                 action=a.numero)


@rule("FIN-07", E, "Dotations de l'État au-delà de 80 % de la dépense subventionnable", SRC_R2334_27,
      needs=("T_Financements", "T_Actions.depense_subventionnable", "T_Dispositifs"))
def plafond_80(conv: Convention) -> Iterable[Finding]:
    """Σ lines of dispositifs marked `Dotation R2334-27` = `Oui` > 80 % of `Dépense subventionnable
    (€ HT)` (exactly 80 % passes). An action that mobilises such a dotation with an empty dépense
    subventionnable cannot be checked: that is an error too, on the same cell."""
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
        elif dot * 100 > 80 * dep:
            plafond = dep * Decimal("0.8")
            yield at(a, "depense_subventionnable", "FIN-07", E,
                     f"Les dotations de l'État (DETR, DSIL, DPV, DSID) de l'action {a.numero} atteignent {money(dot)}, "
                     f"soit {_pct(dot / dep, 80)} de la dépense subventionnable ({money(dep)}) ; le maximum est "
                     f"80 %, soit {money(plafond)} ({SRC_R2334_27}).",
                     f"Réduisez ces dotations de {money(_ceil(dot - plafond))} au moins.", action=a.numero)


@rule("FIN-08", A, "DETR ou DSIL inférieure à 20 % de la dépense subventionnable", SRC_R2334_27,
      needs=("T_Financements", "T_Actions.depense_subventionnable", "T_Dispositifs"))
def plancher_20(conv: Convention) -> Iterable[Finding]:
    """A DETR or DSIL of an action < 20 % of the dépense subventionnable. The subsidy is one decision
    that the plan may spread over several years: the action's counted lines of the same financeur and
    dispositif are summed, and the finding points at the first of them. Not reported when the 80 %
    cap forces it: when the other R2334-27 dotations leave less than 20 % below the cap, a smaller
    amount is the only lawful one."""
    for j in judged_actions(conv):
        a = j.action
        dep = a.depense_subventionnable
        if dep is None or dep <= 0:
            continue
        groups: dict[tuple, list[LigneFinancement]] = {}
        for lf in j.counted:
            if lf.dispositif in layout.DISPOSITIFS_DETR_DSIL:
                groups.setdefault((lf.financeur, lf.dispositif), []).append(lf)
        if not groups:
            continue
        dot = j.dotations
        for (_, dispositif), group in groups.items():
            montant = totals.total(group)
            if montant <= 0 or montant * 100 >= 20 * dep:
                continue  # ≤ 0 is FIN-03's
            autres = dot - montant if totals.is_dotation_r2334_27(group[0], conv.dispositifs) else dot
            if (autres + dep * Decimal("0.2")) * 100 > 80 * dep:
                continue  # the cap forces it
            years = f" (sur {len(group)} lignes)" if len(group) > 1 else ""
            yield at(group[0], "montant", "FIN-08", A,
                     f"{prefix(group[0])} : la {dispositif} de l'action ({money(montant)}{years}) représente "
                     f"{_pct(montant / dep, 20)} de la dépense subventionnable ({money(dep)}) ; le taux minimal "
                     f"est de 20 %, soit {money(dep * Decimal('0.2'))} ({SRC_R2334_27}).",
                     f"Portez la {dispositif} à {money(_ceil(dep * Decimal('0.2')))} au moins, ou justifiez le taux.")


@rule("FIN-09", E, "Aides publiques au-delà de 100 % de la dépense subventionnable", SRC_DECRET_2018_514,
      needs=("T_Financements", "T_Actions.depense_subventionnable", "T_Financeurs"))
def plafond_100(conv: Convention) -> Iterable[Finding]:
    """Public subsidies (Public financeur, nature Subvention, not refused) > the dépense
    subventionnable (exactly 100 % passes). Not judged when the dépense is empty (not required
    unless a State dotation is mobilised, FIN-07) or a subsidy's financeur is unknown (FIN-02)."""
    for j in judged_actions(conv):
        a = j.action
        dep = a.depense_subventionnable
        if dep is None or dep <= 0:
            continue  # not required / ACT-05
        if not j.categories_known:
            continue
        subs = j.part_mo.subventions_publiques
        if subs > dep:
            yield at(a, "depense_subventionnable", "FIN-09", E,
                     f"Les subventions publiques de l'action {a.numero} ({money(subs)}) dépassent la dépense "
                     f"subventionnable ({money(dep)}) de {money(subs - dep)} ({SRC_DECRET_2018_514}).",
                     f"Réduisez les subventions publiques de {money(subs - dep)}, ou corrigez la dépense subventionnable.",
                     action=a.numero)


# ----------------------------------------------------------------------------- line warnings
@rule("FIN-10", A, "Ligne FCTVA dans le plan de financement", SRC_GUIDE, needs=("T_Financements",))
def fctva(conv: Convention) -> Iterable[Finding]:
    """`FCTVA` in `Financeur` or `Dispositif` (not in `Commentaire`, where « hors FCTVA » is usual)."""
    marked: dict[str, bool] = {}  # per distinct value: a few codes and dispositifs, many lines
    for lf in lignes(conv):
        for attr in ("dispositif", "financeur"):
            v = getattr(lf, attr)
            if not v:
                continue
            m = marked.get(v)
            if m is None:
                m = marked[v] = any(p in v.upper() for p in _FCTVA)
            if m:
                yield at(lf, attr, "FIN-10", A,
                         f"{prefix(lf)} : le FCTVA n'est pas une ressource du plan de financement (c'est un "
                         "remboursement de TVA, versé après la dépense).",
                         "Supprimez la ligne et reportez le montant sur l'autofinancement du maître d'ouvrage.")
                break


_FCTVA = tuple(m.upper() for m in layout.FCTVA_MARKERS)


@rule("FIN-11", A, "Nature différente de celle du dispositif", SRC_GUIDE, needs=("T_Financements", "T_Dispositifs"))
def nature_dispositif(conv: Convention) -> Iterable[Finding]:
    dispositif = index(conv).dispositif
    for lf in lignes(conv):
        d = dispositif(lf.financeur, lf.dispositif)
        if d is not None and d.nature and lf.nature and d.nature != lf.nature:
            yield at(lf, "nature", "FIN-11", A,
                     f"{prefix(lf)} : la nature {q(lf.nature)} diffère de celle du dispositif {q(lf.dispositif)} de "
                     f"{lf.financeur} ({q(d.nature)}) dans la feuille Financeurs.", f"Choisissez {q(d.nature)}.")


@rule("FIN-12", A, "Ligne de financement en double", SRC_GUIDE, needs=("T_Financements",))
def doublon(conv: Convention) -> Iterable[Finding]:
    """Same action, financeur, dispositif, année and montant; refused lines are left out (they count
    nowhere, so cannot double-count); every occurrence after the first names the first row."""
    first: dict[tuple, LigneFinancement] = {}
    for lf in lignes(conv):
        if not lf.compte or lf.montant is None:
            continue
        key = (lf.numero, lf.financeur, lf.dispositif, lf.annee, lf.montant)
        if key in first:
            yield at(lf, "montant", "FIN-12", A,
                     f"{prefix(lf)} : cette ligne ({lf.financeur} {lf.dispositif or ''} {lf.annee or ''}, "
                     f"{money(lf.montant)}) répète la ligne {first[key].row}.",
                     "Supprimez le doublon, ou précisez ce qui distingue les deux participations.")
        else:
            first[key] = lf


@rule("FIN-13", A, "Financement acquis sans référence de décision", SRC_GUIDE,
      needs=("T_Financements.reference_decision",))
def sans_reference(conv: Convention) -> Iterable[Finding]:
    for lf in lignes(conv):
        if lf.statut in layout.STATUTS_ACQUIS and blank(lf, "reference_decision"):
            yield at(lf, "reference_decision", "FIN-13", A,
                     f"{prefix(lf)} : le financement {lf.financeur or ''} est au statut {q(lf.statut)} sans référence "
                     "de décision.",
                     "Indiquez la référence de l'arrêté, de la délibération ou de la convention attributive.")


@rule("FIN-14", A, "DETR/DSIL sollicitée après le début de l'action", SRC_R2334_27,
      needs=("T_Financements.date_demande", "T_Actions"))
def commencement(conv: Convention) -> Iterable[Finding]:
    """A DETR/DSIL line `Sollicité` whose action's `Date de début` precedes `Date de la demande`:
    an operation started before the request is in principle ineligible."""
    action = index(conv).action
    for lf in lignes(conv):
        if lf.dispositif not in layout.DISPOSITIFS_DETR_DSIL or lf.statut != "Sollicité" or lf.date_demande is None:
            continue
        a = action(lf.numero)
        if a is not None and a.date_debut is not None and a.date_debut < lf.date_demande:
            yield at(lf, "date_demande", "FIN-14", A,
                     f"{prefix(lf)} : la {lf.dispositif} a été sollicitée le {fmt_date(lf.date_demande)}, après le début "
                     f"de l'action ({fmt_date(a.date_debut)}) ; une opération commencée avant la demande n'est en "
                     "principe pas éligible.", "Vérifiez les dates, ou joignez l'autorisation de commencement anticipé.")


@rule("FIN-15", A, "Financeur incompatible avec le maître d'ouvrage ou l'axe", SRC_GUIDE,
      needs=("T_Financements", "T_Actions.derogation"))
def incompatibilite(conv: Convention) -> Iterable[Finding]:
    """Counted lines only: `AL` for a MO `Commune`/`EPCI`; `ANAH` on an action whose axe is not 1;
    `ANRU` when the action's derogation is not `ANRU` (empty counts as `Aucune`)."""
    action = index(conv).action
    for lf in totals.counted(lignes(conv)):
        a = action(lf.numero)
        if a is None:
            continue
        if lf.financeur == "AL" and a.type_mo in ("Commune", "EPCI"):
            msg = (f"Action Logement finance les bailleurs et investisseurs, pas un maître d'ouvrage "
                   f"{q(a.type_mo)} ({a.maitre_ouvrage or ''}).")
            sugg = "Vérifiez le financeur ou le maître d'ouvrage de l'action."
        elif lf.financeur == "ANAH" and a.axe is not None and a.axe != 1:
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
    for j in judged_actions(conv):
        a, tot = j.action, j.total
        acq = totals.total_action(j.lines, a.numero, layout.STATUTS_ACQUIS)
        reste = tot - acq
        if reste > 0 and tot > 0:
            yield at(a, "numero", "FIN-16", I,
                     f"Action {a.numero} : {money(reste)} sur {money(tot)} de financements ({fmt_percent(reste / tot)}) "
                     "ne sont pas encore acquis, engagés ou versés (statut « Prévisionnel » ou « Sollicité »).",
                     action=a.numero)


@rule("FIN-17", E, "Date de la demande invalide", SRC_CONTRAT, needs=("T_Financements",))
def date_demande(conv: Convention) -> Iterable[Finding]:
    """Added code: `Date de la demande` is not a date."""
    yield from problem_findings(conv, T, ("date_demande",), "FIN-17", E)


@rule("FIN-18", E, "Liste des financeurs incomplète ou invalide", SRC_CONTRAT, needs=("T_Financeurs",))
def referentiel(conv: Convention) -> Iterable[Finding]:
    """Added code: in `T_Financeurs`, `Code`/`Nom`/`Catégorie` empty, `Catégorie` outside its list, a
    duplicated `Code`; in `T_Dispositifs`, required values empty or outside their lists, a
    `Financeur` that is not a code of `T_Financeurs`. The ratios of FIN-06/07/09 rely on this list."""
    TF, TD = layout.T_FINANCEURS, layout.T_DISPOSITIFS
    yield from problem_findings(conv, TF, ("categorie",), "FIN-18", E)
    yield from required_findings(conv, TF, ("code", "nom", "categorie"), "FIN-18", E)
    first: dict[str, int] = {}
    for f in rows(conv, TF):
        if f.code and f.code in first:
            yield at(f, "code", "FIN-18", E, f"Ligne {f.row} : le code de financeur {q(f.code)} est déjà utilisé à la ligne {first[f.code]}.",
                     "Donnez à chaque financeur un code unique.")
        elif f.code:
            first[f.code] = f.row
    if not usable(conv, TD.name):
        return
    yield from problem_findings(conv, TD, ("nature", "dotation_r2334_27"), "FIN-18", E)
    yield from required_findings(conv, TD, ("financeur", "dispositif", "nature", "dotation_r2334_27"), "FIN-18", E)
    for d in rows(conv, TD):
        if d.financeur and d.financeur not in first:
            yield at(d, "financeur", "FIN-18", E,
                     f"Ligne {d.row} : le dispositif {q(d.dispositif or '')} est rattaché au financeur {q(d.financeur)}, "
                     "absent de la liste des financeurs.", "Indiquez le code d'un financeur de la liste.")
