"""ACT — the fiches-actions (`T_Actions`)."""

from __future__ import annotations

import re
from itertools import repeat
from operator import attrgetter, ne

from typing import Iterable

from acv_xl.checks import totals
from acv_xl.checks.findings import Finding
from acv_xl.contract import dispositifs, layout, reference
from acv_xl.contract.model import Convention, FicheAction, split_codes
from acv_xl.contract.values import closest, fmt_date, fmt_number, joined, memo_text

from . import (
    SRC_CONTRAT,
    SRC_GUIDE,
    SRC_L1111_10,
    A,
    E,
    I,
    at,
    blank,
    index,
    money,
    prefix,
    problem_findings,
    q,
    required_findings,
    rows,
    rule,
    show_raw,
)
from .financement import _governed_by_2018_514

T = layout.T_ACTIONS
ABANDONNEE = layout.MATURITE_ABANDONNEE
_STATUT = attrgetter("statut")


def actions(conv: Convention) -> list[FicheAction]:
    return rows(conv, T)


@rule("ACT-01", E, "N° d'action vide ou en double", SRC_GUIDE, needs=("T_Actions",))
def numero(conv: Convention) -> Iterable[Finding]:
    """Empty number; every occurrence after the first of a number, naming the first line. When the
    number has financing lines, the suggestion says that they are no fiche's until the numbers differ:
    FIN-05 to FIN-09 and ACT-13 do not judge a plan they cannot attribute (an abandoned copy beside a
    live one would otherwise leave the officer thinking its lines were checked)."""
    first: dict[str, FicheAction] = {}
    acts = actions(conv)
    for a in acts:
        if blank(a, "numero"):
            yield at(a, "numero", "ACT-01", E, f"Ligne {a.row} : l'action {q(a.intitule or '')} n'a pas de numéro.",
                     "Numérotez l'action sous la forme axe.rang, par exemple 1.3 pour la troisième action de l'axe 1.")
        elif a.numero:
            if a.numero in first:
                lines = index(conv).lines_of(a.numero)
                one = len(lines) == 1
                yield at(a, "numero", "ACT-01", E,
                         f"Action {a.numero} : ce numéro est déjà utilisé à la ligne {first[a.numero].row} "
                         f"({q(first[a.numero].intitule or '')}).",
                         "Donnez à chaque action un numéro unique." if not lines else
                         f"Donnez à chaque action un numéro unique et reportez-le sur ses lignes de la feuille "
                         f"{lines[0].sheet} : tant que plusieurs actions portent le numéro {a.numero}, "
                         f"{'la' if one else 'les'} {_lignes(lines)}, qui le {'porte' if one else 'portent'}, "
                         f"ne {'peut' if one else 'peuvent'} être attribuée{'' if one else 's'} à aucune d'elles, "
                         "et ni l'équilibre ni les plafonds de leur plan ne sont contrôlés.")
            else:
                first[a.numero] = a


@rule("ACT-02", E, "Champ obligatoire de l'action vide", SRC_GUIDE, needs=("T_Actions",))
def obligatoires(conv: Convention) -> Iterable[Finding]:
    """`Intitulé`, `Axe`, `Maître d'ouvrage`, `Type de maître d'ouvrage`, `Base`, `Coût total (€)`
    really empty (an unreadable value is reported by its own rule, not as « vide »)."""
    yield from required_findings(
        conv, T, ("intitule", "axe", "maitre_ouvrage", "type_mo", "base", "cout_total"), "ACT-02", E)


@rule("ACT-03", E, "Axe de l'action invalide", SRC_GUIDE, needs=("T_Actions",))
def axe(conv: Convention) -> Iterable[Finding]:
    yield from problem_findings(conv, T, ("axe",), "ACT-03", E)


@rule("ACT-04", E, "Périmètre de l'action inconnu", SRC_GUIDE, needs=("T_Actions.perimetre", "T_Perimetres"))
def perimetre(conv: Convention) -> Iterable[Finding]:
    """A filled `Périmètre` that is not a `Code` of `T_Perimetres` (empty is allowed). Not judged
    while no perimeter is defined at all: PER-01 reports that, and flagging every action's
    reference against an empty list would only repeat it."""
    # each code once, in the table's order: a code typed twice (PER-06) is not two choices
    codes = tuple(dict.fromkeys(p.code.strip() for p in rows(conv, layout.T_PERIMETRES) if p.code))
    if not codes:
        return
    for a in actions(conv):
        if a.perimetre and a.perimetre.strip() not in codes:
            c = closest(a.perimetre, codes)
            yield at(a, "perimetre", "ACT-04", E,
                     f"{prefix(a)} : le périmètre {q(a.perimetre)} n'est pas un code de la feuille Périmètres.",
                     f"Indiquez {q(c)}." if c else "Indiquez l'un des codes : " + ", ".join(codes) + ".")


@rule("ACT-05", E, "Montant de l'action invalide", SRC_GUIDE, needs=("T_Actions",))
def montants(conv: Convention) -> Iterable[Finding]:
    """`Coût total (€)` / `Dépense subventionnable (€ HT)` not a number (text numbers with the parsed
    value as suggestion) or ≤ 0. An `Abandonnée` action may keep a zero cost (it leaves the plan)."""
    yield from problem_findings(conv, T, ("cout_total", "depense_subventionnable"), "ACT-05", E)
    for a in actions(conv):
        if a.maturite == ABANDONNEE:
            continue
        for attr in ("cout_total", "depense_subventionnable"):
            v = getattr(a, attr)
            if v is not None and v <= 0:
                yield at(a, attr, "ACT-05", E,
                         f"{prefix(a)} : {q(T.header(attr))} vaut {money(v)} ; un montant strictement positif est attendu.",
                         "Saisissez le montant en euros." if attr == "cout_total"
                         else "Saisissez la dépense subventionnable, ou videz la cellule si l'action n'en a pas.")


@rule("ACT-06", E, "Dates de l'action invalides", SRC_GUIDE, needs=("T_Actions",))
def dates(conv: Convention) -> Iterable[Finding]:
    """A date cell that is not a date; `Date de début` after `Date de fin` (same day passes),
    reported on `Date de fin`."""
    yield from problem_findings(conv, T, ("date_debut", "date_fin", "date_signature"), "ACT-06", E)
    for a in actions(conv):
        if a.date_debut and a.date_fin and a.date_debut > a.date_fin:
            yield at(a, "date_fin", "ACT-06", E,
                     f"{prefix(a)} : la date de fin ({fmt_date(a.date_fin)}) précède la date de début ({fmt_date(a.date_debut)}).",
                     "Corrigez l'une des deux dates.")


@rule("ACT-07", A, "Calendrier de l'action hors de la convention", SRC_GUIDE, needs=("T_Actions",))
def calendrier(conv: Convention) -> Iterable[Finding]:
    """Ends after `acv_date_fin_deploiement`; starts before `acv_date_convention` while not
    `Mature`. `Abandonnée` actions are not checked (they leave the plan)."""
    fin_dep = conv.value("acv_date_fin_deploiement")
    debut_conv = conv.value("acv_date_convention")
    for a in actions(conv):
        if a.maturite == ABANDONNEE:
            continue
        if a.date_fin and fin_dep and a.date_fin > fin_dep:
            yield at(a, "date_fin", "ACT-07", A,
                     f"{prefix(a)} : l'action se termine le {fmt_date(a.date_fin)}, après la fin de la phase de "
                     f"déploiement ({fmt_date(fin_dep)}).", "Revoyez le calendrier de l'action ou justifiez-en le dépassement.")
        if a.date_debut and debut_conv and a.date_debut < debut_conv and a.maturite != layout.MATURITE_MATURE:
            yield at(a, "date_debut", "ACT-07", A,
                     f"{prefix(a)} : l'action commence le {fmt_date(a.date_debut)}, avant la signature de la convention "
                     f"({fmt_date(debut_conv)}), alors que sa maturité n'est pas « Mature ».",
                     "Vérifiez la date de début, ou indiquez la maturité « Mature » si l'action était prête à la signature.")


@rule("ACT-08", E, "Action sans plan de financement", SRC_GUIDE, needs=("T_Actions", "T_Financements"))
def sans_financement(conv: Convention) -> Iterable[Finding]:
    """An action that is not `Abandonnée` with no financing line other than `Refusé` ones
    (a plan made only of refusals finances nothing). FIN-05 then stays silent on it. Not judged
    while a financing line has an unreadable `N° action` or `Statut`."""
    ix = index(conv)
    if any("numero" in lf.problems or "statut" in lf.problems for lf in ix.with_problems(layout.T_FINANCEMENTS)):
        return
    lines_of, refuse = ix.lines_of, layout.STATUT_REFUSE
    for a in actions(conv):
        if a.maturite == ABANDONNEE or not a.numero or "maturite" in a.problems:
            continue
        lines = lines_of(a.numero)  # non-empty lines only
        if not any(map(ne, map(_STATUT, lines), repeat(refuse))):  # `any(lf.compte …)`, in C
            what = ("toutes ses lignes du plan de financement sont refusées" if lines
                    else "le plan de financement ne contient aucune ligne pour cette action")
            yield at(a, "numero", "ACT-08", E,
                     f"{prefix(a)} : {what}.",
                     f"Saisissez le plan de financement de l'action {a.numero} (feuille Plan de financement), "
                     "ou indiquez sa maturité « Abandonnée ».")


@rule("ACT-09", A, "Cosignataires ou date de signature manquants", SRC_GUIDE,
      needs=("T_Actions.cosignataires", "T_Actions.date_signature", "T_Financements", "T_Financeurs"))
def cosignataires(conv: Convention) -> Iterable[Finding]:
    """A financeur of the action's plan (lines not `Refusé`, `Autofinancement` excepted: the MO's
    own money needs no cosignature; an unknown financeur is FIN-02's, a FCTVA line FIN-10's)
    missing from `Cosignataires` — one finding per action listing
    them, with the completed list as suggestion; an `Engagée`/`En cours`/`Terminée` action without
    `Date de signature`."""
    ix = index(conv)
    known = set(ix.financeur_codes)
    counted_of = ix.counted_of
    autofinancement, fctva = layout.NATURE_AUTOFINANCEMENT, ix.fctva
    for a in actions(conv):
        if a.maturite == ABANDONNEE or not a.numero:
            continue
        financeurs: dict[str, None] = {}  # those that must cosign, in order of first line
        for lf in counted_of(a.numero):  # `totals.counted(lines_of(a.numero))`, the run's
            f = lf.financeur
            if f in financeurs or lf.nature == autofinancement or f not in known or fctva[f, lf.dispositif]:
                continue
            financeurs[f] = None
        if financeurs:  # parsed only when needed
            codes = _cosignataires(a.cosignataires)
            needed = [f for f in financeurs if f not in codes[1]]
        else:
            needed = ()
        if needed:
            # spaced: a list copied as suggested wraps in its cell (« ETAT;REGION;DEPT;COMMUNE » printed cut)
            full = " ; ".join(list(codes[0]) + needed)
            yield at(a, "cosignataires", "ACT-09", A,
                     f"{prefix(a)} : {joined(needed)} finance{'nt' if len(needed) > 1 else ''} l'action mais "
                     f"n'{'en sont' if len(needed) > 1 else 'en est'} pas cosignataire{'s' if len(needed) > 1 else ''}.",
                     f"Indiquez dans « Cosignataires » : {full}")
        if a.maturite in layout.MATURITES_SIGNEES and blank(a, "date_signature"):
            yield at(a, "date_signature", "ACT-09", A,
                     f"{prefix(a)} : la maturité de l'action est {q(a.maturite)} mais sa date de signature n'est "
                     "pas renseignée.",
                     "Saisissez la date de signature de la fiche-action.")


@memo_text(4096)
def _cosignataires(text: str | None) -> tuple[tuple[str, ...], frozenset[str]]:
    """`FicheAction.cosignataires_codes` of a `Cosignataires` cell, and the same as a set: the same
    few lists come back on every action of every workbook (memoised)."""
    codes = tuple(split_codes(text))
    return codes, frozenset(codes)


@rule("ACT-10", A, "Action sans indicateur d'évaluation", SRC_GUIDE, needs=("T_Actions", "T_Indicateurs"))
def sans_indicateur(conv: Convention) -> Iterable[Finding]:
    """No line of `T_Indicateurs` for an action that is not `Abandonnée` (not judged while an
    indicator's `N° action` is unreadable)."""
    if any("numero" in i.problems for i in index(conv).with_problems(layout.T_INDICATEURS)):
        return
    suivies = {i.numero for i in rows(conv, layout.T_INDICATEURS) if i.numero}
    for a in actions(conv):
        if a.numero and a.maturite != ABANDONNEE and "maturite" not in a.problems and a.numero not in suivies:
            yield at(a, "numero", "ACT-10", A,
                     f"{prefix(a)} : aucun indicateur d'évaluation n'est défini pour cette action.",
                     f"Ajoutez au moins un indicateur pour l'action {a.numero} (feuille Indicateurs).")


@rule("ACT-11", A, "Dépense subventionnable supérieure au coût HT", SRC_GUIDE,
      needs=("T_Actions.depense_subventionnable",))
def depense_superieure(conv: Convention) -> Iterable[Finding]:
    """The dépense (HT) above the cost. Of a TTC base too: the HT cost is below the TTC one, so a dépense above the
    TTC cost is above the HT cost as well (one below it is not judged: the HT cost is not in the workbook) — silent
    there, it let FIN-09 judge public aid against a dépense no operation of that cost can have. An `Abandonnée`
    action is not judged: it has left the plan, and its cost may be 0 (ACT-05), which made this rule ask
    to bring its dépense « à 0,00 € au plus »."""
    for a in actions(conv):
        if a.base in ("HT", "TTC") and a.maturite != ABANDONNEE and a.cout_total is not None \
                and a.depense_subventionnable is not None and a.depense_subventionnable > a.cout_total:
            if a.base == "HT":
                message, plafond = f"total HT ({money(a.cout_total)})", f"{money(a.cout_total)} au plus (le coût total HT)"
            else:
                message = f"total TTC ({money(a.cout_total)}), et donc le coût hors taxes de l'action, jamais plus élevé"
                plafond = "au coût hors taxes de l'action au plus (la colonne est hors taxes)"
            yield at(a, "depense_subventionnable", "ACT-11", A,
                     f"{prefix(a)} : la dépense subventionnable ({money(a.depense_subventionnable)}) dépasse le coût "
                     f"{message}.",
                     f"Ramenez la dépense subventionnable {'à ' if a.base == 'HT' else ''}{plafond}, "
                     "ou corrigez le coût total.")


@rule("ACT-12", E, "Valeur hors liste dans la fiche-action", SRC_CONTRAT, needs=("T_Actions",))
def hors_liste(conv: Convention) -> Iterable[Finding]:
    """Added code: `Type de maître d'ouvrage`, `Maturité`, `Base`, `Dérogation L1111-10` outside
    their lists (the closest list value as suggestion). FIN-06 depends on them."""
    yield from problem_findings(conv, T, ("type_mo", "maturite", "base", "derogation"), "ACT-12", E)


@rule("ACT-13", E, "Action abandonnée dont des financements restent comptés", SRC_GUIDE,
      needs=("T_Actions", "T_Financements"))
def abandonnee_financee(conv: Convention) -> Iterable[Finding]:
    """An `Abandonnée` action whose plan still holds counted lines (a parsed amount, not `Refusé`)
    other than `Versé`: one finding per action, on the first such line's `Statut`, naming every
    such line, their sum and statuts. The action has left the plan (its cost counts no more) but
    `Prévisionnel`, `Sollicité`, `Acquis` and `Engagé` money still counts in the financing totals,
    the `Synthèse` and the département's consolidation: a commitment no longer to be spent, read as
    obtained, and an écart the officer is told nothing of. An error, as the plan's totals are false
    until the lines are `Refusé` or removed (the guide: the financial plan is the convention's, and
    the comité d'engagement engages the financing on it).

    `Versé` lines are not errors: that money was paid before the abandonment and is a fact of the
    plan, so they stay counted. But money another financeur paid for an operation that will not be
    carried out may have to be repaid (the préfet demands the reversement of a DETR or DSIL whose
    operation is not carried out, CGCT art. R2334-31; the État of its other investment subsidies,
    décret n° 2018-514 art. 14; the other financeurs by their own conventions), and the référent
    must know it: the error's message says so when it flags other lines. An action whose only
    remaining lines are `Versé` gets an Information: they explain the report's écart (financing
    counted, no cost beside it: « aucune erreur » beside « écart : -744 000,00 € » said nothing), and
    among them those another body gave (`_given`: a subsidy, another public body's participation)
    are named with whom to ask whether they are to be repaid. A line with an unreadable `Statut`
    (FIN-04) is not judged.

    A number used twice (ACT-01): when every fiche-action of that number is `Abandonnée`, the
    lines are an abandoned action's whichever fiche they were meant for, and are judged once for
    the number (the suggestion names each fiche's maturité); when one of them is not abandoned,
    whose lines they are is not guessed (ACT-01 says that the plan is not checked until the
    numbers differ)."""
    acts = actions(conv)
    abandoned = [a for a in acts if a.maturite == ABANDONNEE and a.numero]
    if not abandoned:  # most plans: nothing more to look at
        return
    live = {a.numero for a in acts if a.maturite != ABANDONNEE}  # an unreadable maturity is not « Abandonnée »
    fiches: dict[str, list[FicheAction]] = {}  # the abandoned fiches of each number, in row order
    for a in abandoned:
        if a.numero not in live:
            fiches.setdefault(a.numero, []).append(a)
    ix = index(conv)
    verse = layout.STATUT_VERSE
    for numero, same in fiches.items():
        a = same[0]
        counted = [lf for lf in ix.counted_of(numero) if "statut" not in lf.problems]
        released = [lf for lf in counted if lf.statut != verse]
        paid = [lf for lf in counted if lf.statut == verse]
        received = _given(ix, a, paid)
        if not released:
            if paid:
                yield _paid_information(a, same, paid, received)
            continue
        first, n = released[0], len(released)
        statuts = ", ".join(q(s) if s else "statut vide" for s in dict.fromkeys(lf.statut for lf in released))
        message = (f"{prefix(a)} : {_who(a, same)}, mais {'la' if n == 1 else 'les'} "
                   f"{_lignes(released)} de la feuille {first.sheet} ({statuts}) "
                   f"{'reste comptée' if n == 1 else 'restent comptées'} dans les financements pour "
                   f"{money(totals.add_up(lf.montant for lf in released))}, alors que le coût de l'action "
                   "n'est plus compté.")
        if paid:
            message += (f" {'La' if len(paid) == 1 else 'Les'} {_lignes(paid)} « Versé » "
                        f"({money(totals.add_up(lf.montant for lf in paid))}) "
                        f"{'reste comptée' if len(paid) == 1 else 'restent comptées'} : cet argent a déjà été payé"
                        + (f" ; demandez à {_financeurs(received)[0]} s'il doit être reversé, l'opération n'étant "
                           "pas réalisée." if received else "."))
        cells = _cells(released, "statut")
        maturites = _cells(same, "maturite")
        yield at(first, "statut", "ACT-13", E, message,
                 (f"Passez cette ligne au statut « Refusé » (cellule {cells}) ou supprimez-la"
                  if n == 1 else
                  f"Passez ces lignes au statut « Refusé » (cellules {cells}) ou supprimez-les")
                 + (f" ; si l'action n'est pas abandonnée, corrigez sa maturité (cellule {maturites})."
                    if len(same) == 1 else
                    f" ; si l'une de ces actions n'est pas abandonnée, donnez-lui un autre numéro, reportez-le "
                    f"sur ses lignes et corrigez sa maturité (cellules {maturites})."),
                 action=numero)


def _who(a: FicheAction, same: list[FicheAction]) -> str:
    """What makes ACT-13's lines an abandoned action's: its maturité, or every fiche of its number's."""
    return ("l'action est « Abandonnée »" if len(same) == 1 else
            f"toutes les fiches-actions de ce numéro ({_lignes(same)} de la feuille {a.sheet}) ont la "
            "maturité « Abandonnée »")


def _given(ix, a: FicheAction, paid: list) -> list:
    """The `paid` lines another body gave the MO, which it may ask back: a subsidy or an « Autre » not the
    MO's own, or another public body's « autofinancement » (a participation, L1111-10). Not the MO's own money, nor a
    loan (repaid under its contract anyway), a recette, a portage, fonds propres (an investment in the
    operation, the Banque des Territoires' in a SEM's foncière: not a grant) or an apport en nature."""
    if not paid:
        return []
    mo, categorie_of, subventions = ix.mo_codes(a), ix.categories.get, ix.categories.subventions
    # a commune's operation typed « Association » (ACT-16's case, not said on an abandoned action): the
    # commune's own autofinancement is no gift to ask back — the type its name says is the MO's
    if a.maitre_ouvrage and (kind := _kind_known_or_named(ix.conv, str(a.maitre_ouvrage))) and kind != a.type_mo:
        mo = (mo - {layout.CODE_DU_MO.get(a.type_mo)}) | {layout.CODE_DU_MO[kind]}
    autofinancement = layout.NATURE_AUTOFINANCEMENT
    # a subsidy, or another body's money of another kind (« Autre »: the Région's 300 000 so typed was told
    # « argent du maître d'ouvrage, prêt, fonds propres ou apport »)
    donnees = (layout.NATURE_SUBVENTION, layout.NATURE_AUTRE)
    out = []
    for lf in paid:
        if lf.nature != autofinancement and lf.nature not in donnees:
            continue
        role = totals.role_l1111_10(lf, mo, categorie_of, subventions)
        if role == totals.PARTICIPATION_PUBLIQUE or (lf.nature in donnees and role != totals.PROPRE):
            out.append(lf)
    return out


# A name that says its kind itself: what `_given` goes by when the workbook's communes and EPCI are not known
# (ACV_CONTROLE is given four tables), so that the cell says what « Valider » says of « Ville d'Arras »


def _kind_known_or_named(conv: Convention, mo: str) -> str | None:
    """The kind of the maître d'ouvrage `mo` by the workbook's communes and EPCI (`_mo_kinds`), else by its name
    (`_kind_named`) where the workbook does not say: any kind with neither known, an EPCI's without `acv_epci` —
    ACV_CONTROLE given T_Communes but never the named cells took « Communauté urbaine d'Arras » for another body."""
    kinds = _mo_kinds(conv)
    if not kinds:
        return _kind_named(mo)
    kind = _kind_of(kinds, mo)
    if kind is None and not isinstance(conv.value("acv_epci"), str) and _kind_named(mo) == "EPCI":
        return "EPCI"
    return kind


def _kind_named(mo: str) -> str | None:
    """« Commune » for « Ville de … » (not its CCAS, `_OWN_BODY`), « EPCI » for « Communauté … », else None."""
    mots = reference.mots(mo)
    if totals.NOM_DE_COMMUNE.match(mots):
        return None if _OWN_BODY.search(mo) else "Commune"
    return "EPCI" if totals.NOM_D_EPCI.match(mots) else None


def _financeurs(lines: list) -> tuple[str, bool]:
    """(« son financeur (ETAT) » or « ses financeurs (ETAT et REGION) », whether several): who paid `lines`."""
    codes = [str(c) for c in dict.fromkeys(lf.financeur for lf in lines if lf.financeur)]
    if len(codes) <= 1:
        return (f"son financeur ({codes[0]})" if codes else "son financeur"), False
    return f"ses financeurs ({joined(codes)})", True


def _paid_information(a: FicheAction, same: list[FicheAction], paid: list, received: list) -> Finding:
    """ACT-13's Information: an abandoned action whose remaining lines are all `Versé`. They explain the
    report's écart (financing counted, the cost not), and the référent must know whether what another
    body gave (`received`) is to be recovered. The texts are cited for the subsidies they govern only."""
    n = len(paid)
    message = (f"{prefix(a)} : {_who(a, same)}, mais {'la' if n == 1 else 'les'} {_lignes(paid)} de la feuille "
               f"{paid[0].sheet}, « Versé » ({money(totals.add_up(lf.montant for lf in paid))}), "
               f"{'reste comptée' if n == 1 else 'restent comptées'} dans les financements alors que le coût de "
               "l'action ne l'est plus : cet argent a été payé avant l'abandon.")
    if not received:
        maturites = _cells(same, "maturite")
        return at(paid[0], "statut", "ACT-13", I, message,
                  ("Cette ligne n'est pas une subvention à reverser" if n == 1 else
                   "Ces lignes ne sont pas des subventions à reverser")
                  + " (argent du maître d'ouvrage, prêt, fonds propres ou apport) : "
                  + ("elle explique" if n == 1 else "elles expliquent")
                  + " l'écart entre le coût total et les financements ; si l'action n'est pas abandonnée, corrigez "
                  f"sa maturité ({'cellule' if len(same) == 1 else 'cellules'} {maturites}).",
                  action=a.numero)
    first, k = received[0], len(received)
    # the État's texts for the État's money only: a Département's « monuments historiques » or a Région's
    # « fonds friches » is no DRAC nor Fonds vert of décret 2018-514 (a code added to the list may be the
    # État's: not contradicted, as `_parties_fonds_de_concours` does)
    etat = [lf for lf in received if lf.financeur == layout.CODE_ETAT or lf.financeur not in layout.FINANCEURS_BY_CODE]
    textes = []
    if {dispositifs.famille(lf.dispositif) for lf in etat} & {layout.FAMILLE_DETR, layout.FAMILLE_DSIL}:
        textes.append("CGCT art. R2334-31 pour la DETR et la DSIL")
    if any(map(_governed_by_2018_514, etat)):
        textes.append("décret n° 2018-514 art. 14 pour les autres subventions de l'État" if textes
                      else "décret n° 2018-514 art. 14 pour les subventions de l'État qu'il régit")
    financeurs, several = _financeurs(received)
    payers = ", ".join(dict.fromkeys(str(lf.financeur) for lf in received if lf.financeur))
    message += (f" {'La' if k == 1 else 'Les'} {_lignes(received)} ({payers + ' : ' if payers else ''}"
                f"{money(totals.add_up(lf.montant for lf in received))}) {'a' if k == 1 else 'ont'} été "
                f"donnée{'' if k == 1 else 's'} par d'autres que le maître d'ouvrage pour une opération qui ne "
                "sera pas réalisée.")
    cells = _cells(received, "statut")
    return at(first, "statut", "ACT-13", I, message,
              f"Demandez à {financeurs} s'{'ils en exigent' if several else 'il en exige'} le reversement"
              + (f" (l'État demande le reversement total ou partiel d'une subvention dont l'opération n'est pas "
                 f"réalisée : {' ; '.join(textes)})" if textes else "")
              + f" ; si la somme est reversée, passez {'la ligne' if k == 1 else 'ces lignes'} au statut "
              f"« Refusé » ({'cellule' if k == 1 else 'cellules'} {cells}).",
              action=a.numero)


def _lignes(lines: list) -> str:
    """« ligne 31 », « lignes 31, 32 et 35 », « lignes 12 à 4011 » (`_spans`)."""
    return ("ligne " if len(lines) == 1 else "lignes ") + _spans([lf.row for lf in lines])


def _cells(lines: list, attr: str) -> str:
    """« G31 », « G31, G32 et G35 », « G12 à G4011 »: the `attr` cells of `lines`, all of one table (so of
    one column; a list of every cell, thousands long, was what `_spans` keeps within a cell)."""
    column = lines[0].cell(attr).rstrip("0123456789")
    return _spans([lf.row for lf in lines], column)


SPANS_SHOWN = 30  # runs of rows a message names before « et N autres »: 4 000 lines made 27 000 characters


def _spans(rows: list[int], column: str = "") -> str:
    """Rows in order, three or more consecutive ones as « 12 à 15 », at most `SPANS_SHOWN` runs then
    « et N autres » (a cell holds 32 767 characters, and a list of thousands is read by no one)."""
    runs: list[list[int]] = []
    for r in rows:
        if runs and r == runs[-1][-1] + 1:
            runs[-1].append(r)
        else:
            runs.append([r])
    parts, shown = [], 0
    for run in runs[:SPANS_SHOWN]:
        if len(run) >= 3:
            parts.append(f"{column}{run[0]} à {column}{run[-1]}")
        else:
            parts.extend(f"{column}{r}" for r in run)
        shown += len(run)
    if shown < len(rows):
        return ", ".join(parts) + f" et {fmt_number(len(rows) - shown)} autres"
    return joined(parts)


_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)+")  # « 2.10 », « 1.2.3 »: a number as the plan writes it


@rule("ACT-15", A, "Axe écrit autrement que dans la liste : la feuille Synthèse ne le compte dans aucun axe",
      SRC_CONTRAT, needs=("T_Actions",))
def axe_hors_synthese(conv: Convention) -> Iterable[Finding]:
    """An axe the reader recognises but the Synthèse's formulas do not: they compare it with « Axe n » and
    with the number n (without case, as Excel compares), where the reader also takes « 3 » typed as a text,
    « Axe 3 — <its label> », the label alone or an older wording. « Valider », the annex and the
    consolidation count the action's money in its axe; the Synthèse sheet, calculated by Excel, put it
    under « Axe non reconnu… », without a word — two totals by axe for one workbook."""
    for a in actions(conv):
        n, v = a.axe, a.raw.get("axe")
        if n is None or v.__class__ in (int, float) or (v.__class__ is str and v.lower() == f"axe {n}"):
            continue  # the drop-down's value or the number: both read alike (an odd number is ACT-03's)
        yield at(a, "axe", "ACT-15", A,
                 f"{prefix(a)} : {q(T.header('axe'))} contient {q(show_raw(v))}, que « Valider » et l'annexe lisent "
                 f"comme l'axe {n}, mais que les formules de la feuille Synthèse ne reconnaissent pas : elles "
                 f"comptent ses financements sur la ligne {q(layout.SYNTHESE_AXE_AUTRES)}, pas dans l'axe {n}.",
                 f"Choisissez {q(layout.AXE_CHOICES[n - 1])} dans la liste déroulante.")


@rule("ACT-14", E, "N° d'action devenu un nombre qu'Excel confond avec un autre numéro", SRC_CONTRAT,
      needs=("T_Actions",), optional=("T_Financements", "T_Indicateurs"))
def numero_devenu_nombre(conv: Convention) -> Iterable[Finding]:
    """A fiche-action number held as a number (« 2.10 » typed in a cell not formatted as text, or pasted:
    Excel stores 2.1, the zeros after the point gone), where another number of the workbook is written
    « 2.10 » as a text: the reader can only read « 2.1 », so this line counts for the action 2.1 (or for
    none) when it was meant for 2.10 — or the two fiches merge. Each such cell, on the fiches, the
    indicateurs and the plan, names the text it may have been. A number alone of its value (1.1 typed as
    a number, with no « 1.10 » anywhere) reads as Excel shows it, and is not reported; nor a fiche held as
    2.1 beside a fiche « 2.10 »: two fiches, the 2.1 and the 2.10 (the lines of the plan and the indicators
    held as 2.1, which may be either's, are reported)."""
    tables = [t for t in (T, layout.T_INDICATEURS, layout.T_FINANCEMENTS) if t.name in conv.structure.table_refs
              or t is T]
    lignes = [x for t in tables for x in rows(conv, t)]
    numbers = [x for x in lignes if x.raw.get("numero").__class__ in (int, float)]
    if not numbers:  # nearly always: numbers typed as texts, as the template's cells are formatted
        return
    texts: dict[float, list[str]] = {}
    for x in lignes:
        v = x.raw.get("numero")
        if v.__class__ is str and _DOTTED.fullmatch(s := v.strip()) and s.count(".") == 1:
            same = texts.setdefault(float(s), [])
            if s not in same:
                same.append(s)
    # a fiche is its own number: a fiche held as 2.1 beside a fiche « 2.10 » is the fiche 2.1 (else two fiches
    # 2.10, ACT-01's), only the lines that name one of the two are in doubt
    fiches = {v.strip() for a in lignes if a.TABLE is T and (v := a.raw.get("numero")).__class__ is str}
    for x in numbers:
        v = x.raw["numero"]
        others = [s for s in texts.get(float(v), ()) if s != x.numero and not (x.TABLE is T and s in fiches)]
        if not others:
            continue
        meant = others[0]
        what = (f"cette fiche porte le numéro {x.numero}" if x.TABLE is T
                else f"cette ligne est rattachée à l'action {x.numero}")
        yield at(x, "numero", "ACT-14", E,
                 f"{prefix(x)} : le N° d'action est enregistré comme le nombre {show_raw(v)}, lu « {x.numero} » : "
                 f"Excel efface les zéros à la fin d'un nombre décimal, et {q(meant)} est aussi un numéro du "
                 f"classeur ; {what}, peut-être à tort.",
                 f"Si c'est l'action {meant}, tapez '{meant} (précédé d'une apostrophe) ou mettez la cellule au "
                 f"format Texte avant de taper {meant} ; sinon tapez '{x.numero} de la même façon.")


@rule("ACT-16", A, "Type de maître d'ouvrage contraire à son nom", SRC_L1111_10, needs=("T_Actions", "T_Communes"))
def type_mo_du_nom(conv: Convention) -> Iterable[Finding]:
    """Added code. The maître d'ouvrage's name is a commune of the workbook (`T_Communes`, read as PRJ-10
    reads names: « Ville d'Arras » and « Arras (ville) » are Arras, « Ville » or « La commune » alone the
    convention's commune) or the convention's EPCI (`acv_epci`, or its short name: « CU d'Arras »), and its type is not
    « Commune » / « EPCI »: typed « Établissement public », « Association » or « Privé », a commune's
    operation escaped the minimum share of L1111-10 III (FIN-06) and had its own autofinancement read as
    another body's. A warning: the name is read, not known (a CCAS, « CCAS d'Arras », is not the commune)."""
    kinds = _mo_kinds(conv)
    if not kinds:
        return
    of: dict[str, str | None] = {}  # a few maîtres d'ouvrage, named again action after action: read once each
    for a in actions(conv):
        if a.type_mo is None or "type_mo" in a.problems or a.maturite == ABANDONNEE or not a.maitre_ouvrage:
            continue
        mo = str(a.maitre_ouvrage)
        if mo not in of:
            of[mo] = _kind_of(kinds, mo)
        attendu = of[mo]
        if attendu is None or attendu == a.type_mo:
            continue
        if a.type_mo in layout.MO_PUBLICS_L1111_10:
            effet = (f"l'autofinancement saisi sous le code {q(layout.CODE_DU_MO[attendu])} est compté comme la "
                     "participation d'une autre personne publique, pas comme sa part propre")
        else:
            effet = "sa participation minimale n'est pas vérifiée"
        yield at(a, "type_mo", "ACT-16", A,
                 f"{prefix(a)} : le maître d'ouvrage {q(a.maitre_ouvrage)} est "
                 f"{_ATTENDU[attendu]} de la convention, mais son type "
                 f"est {q(a.type_mo)} : de ce type, {effet} ({SRC_L1111_10}).",
                 f"Choisissez le type {q(attendu)} ; si le maître d'ouvrage est un autre organisme, écrivez son nom.")


_ATTENDU = {"Commune": "une commune", "EPCI": "l'EPCI"}


# « Ville d'Arras - Direction de l'urbanisme », « Mairie d'Arras / services techniques », « Ville d'Arras (service
# urbanisme) »: a service of the commune is the commune; « Ville d'Arras - CCAS » is another body (not said), and so
# are the mission locale (an association), the pôle métropolitain or d'équilibre (a syndicat mixte), Pôle emploi
_SERVICE = re.compile(r"^((?:ville|commune|mairie)\b.*?)\s*(?:\s[-–—/]\s*|/|\()\s*(?:les\s+)?"
                      r"(?:services?|direction|dgs|dst|p[oô]le(?!\s+(?:emploi|m[eé]tropolitain|d['’\s]*[eé]quilibre))"
                      r"|mission(?!\s+locale))\b", re.IGNORECASE)


# bodies of their own a commune's services are often named after (établissements publics: the CCAS, the caisse
# des écoles): « Ville d'Arras (service CCAS) » typed « Établissement public » was told to choose « Commune »
_OWN_BODY = re.compile(r"\b(?:c[ci]as|centre\s+(?:inter)?communal\s+d['’\s]*action\s+sociale"
                       r"|caisse\s+des\s+[eé]coles)\b", re.IGNORECASE)


def _kind_of(kinds: dict[str, str], mo: str) -> str | None:
    """The kind (`_mo_kinds`) of the body a maître d'ouvrage's name designates: its name, or the commune one
    of whose services it names (`_SERVICE`), unless that service is a body of its own (`_OWN_BODY`)."""
    kind = kinds.get(reference.nom_collectivite(mo))
    if kind is None and (m := _SERVICE.match(mo.strip())) and _OWN_BODY.search(mo) is None:
        kind = kinds.get(reference.nom_collectivite(m[1]))
    return kind


def _mo_kinds(conv: Convention) -> dict[str, str]:
    """The names (`reference.nom_collectivite`) of the workbook's communes → « Commune », and of its EPCI →
    « EPCI »; a name both would be (a commune named as its EPCI) is neither. Once per run: ACT-13 asks for
    each abandoned action with paid lines, ACT-16 once."""
    return index(conv).memo("mo_kinds", lambda: _build_mo_kinds(conv))


def _build_mo_kinds(conv: Convention) -> dict[str, str]:
    out: dict[str, str] = {}
    names = [(c.commune, "Commune") for c in rows(conv, layout.T_COMMUNES) if isinstance(c.commune, str)]
    epci = conv.value("acv_epci")
    if isinstance(epci, str):
        names.append((epci, "EPCI"))
    for nom, kind in names:
        if (k := reference.nom_collectivite(nom)):
            out[k] = kind if out.get(k, kind) == kind else ""
            if kind == "Commune":  # « Arras (ville) », « Arras - Mairie »: the commune designated after its name
                for mot in _DESIGNATIONS:
                    out.setdefault(f"{k} {mot}", kind)
            elif (m := _EPCI.match(k)):  # « CU d'Arras », « Agglo de Lens-Liévin »: its usual short names
                for forme in _FORMES_EPCI[m[1]]:
                    for lien in ("", "de ", "du ", "des ", "d "):
                        out.setdefault(f"{forme} {lien}{m[2]}", kind)
    if any(kind == "Commune" for _, kind in names):
        # « Ville », « La commune », « Mairie » alone: the commune of the convention, which every finance officer
        # writes so — typed « Association », its minimum share escaped FIN-06 with nothing said
        for mot in _DESIGNATIONS:
            out.setdefault(mot, "Commune")
    return {k: v for k, v in out.items() if v}


_DESIGNATIONS = ("ville", "commune", "mairie")
# An EPCI's name (`reference.nom_collectivite`): its kind, then its own name; and how a plan shortens the kind
_EPCI = re.compile(r"^(communaute d agglomeration|communaute urbaine|communaute de communes)(?: (?:de|du|des|d))? (.+)$")
_FORMES_EPCI = {"communaute d agglomeration": ("communaute d agglomeration", "ca", "agglo", "agglomeration",
                                               "communaute d agglo"),
                "communaute urbaine": ("communaute urbaine", "cu"),
                "communaute de communes": ("communaute de communes", "cc", "com com", "comcom")}
