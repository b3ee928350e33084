"""PRJ-06…PRJ-11, FIN-19 — the workbook against the national list of the programme's communes.

The list is the one the engine passes in (`index(conv).reference`: the shipped ANCT list of
April 2024, or a later one given with `--reference` / `ACV_XL_REFERENCE`); these rules never read
a file. Every message cites the list by its name and date, because the list ages (a commune can
join, EPCIs merge, an ORT gets signed) while the workbook may be right.

Nothing is concluded from a value another rule reports as malformed: no comparison for an
`acv_id` that designates no identifier (PRJ-03, and PRJ-06: it is in the list no more than ACV999;
« acv 14 », a warning only, is judged as ACV014),
a malformed INSEE code (PRJ-02), département or SIREN (PRJ-05); no « commune manquante » while one code of `T_Communes` is unreadable.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import compress
from operator import attrgetter
from typing import Any, Iterable

from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.dispositifs import dotations_nommees, is_r2334_27
from acv_xl.contract.model import Convention
from acv_xl.contract.reference import ConventionRef, Reference, nom_cle, noms_cles
from acv_xl.contract.values import fmt_date, fmt_number, fold

from . import (
    RE_DEPARTEMENT,
    RE_SIREN,
    RE_SPACE,
    SRC_LISTE_NATIONALE,
    A,
    E,
    at,
    at_named,
    at_table,
    index,
    is_insee,
    meant_acv_id,
    prefix,
    q,
    rows,
    rule,
    usable,
)

T = layout.T_COMMUNES

SRC_ORT = "Instruction du 24 mai 2023 (NOR IOML2312173J) ; CCH art. L303-2"
SRC_DETR = "CGCT art. L2334-33"
# DETR: the most populated communes it is open to (CGCT L2334-33 2°), in métropole and outre-mer
DETR_POPULATION_MAX = 20_000
DETR_POPULATION_MAX_OUTRE_MER = 35_000


def _de(nom: str) -> str:
    """« de Calais », « d'Arras », « du Port », « des Abymes »."""
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if nom.startswith(article):
            return contracted + nom[len(article):]
    return ("d'" if fold(nom[:1]) in "aeiouy" else "de ") + nom


def _ref(conv: Convention) -> Reference:
    return index(conv).reference


def _known_id(conv: Convention) -> str | None:
    # a loose spelling (« acv 14 ») is judged as the identifier it designates: only a warning
    # (PRJ-03), it must not let a workbook validate unchecked against the list
    return meant_acv_id(conv.acv_id)


def _convention(conv: Convention) -> ConventionRef | None:
    def build() -> ConventionRef | None:
        acv_id = _known_id(conv)
        return _ref(conv).conventions.get(acv_id) if acv_id else None
    return index(conv).memo("convention_ref", build)  # once per run: four rules ask


def _codes(conv: Convention) -> tuple[list[tuple[object, str]], bool]:
    """([(row, INSEE code)] of the well-formed codes, every non-empty row has one), once per run (four
    rules ask). Shared: read it, never change it."""
    return index(conv).memo("codes_insee", lambda: _find_codes(conv))


def _find_codes(conv: Convention) -> tuple[list[tuple[object, str]], bool]:
    if not usable(conv, T.name):
        return [], False
    out, complete = [], True
    for ligne in rows(conv, T):
        code = str(ligne.code_insee).strip().upper() if ligne.code_insee is not None else ""
        if is_insee(code):
            out.append((ligne, code))
        else:
            complete = False
    return out, complete


def _name(cref: ConventionRef) -> str:
    return f"{cref.id_acv} ({cref.nom})"


def _list_of(cref: ConventionRef) -> str:
    return ", ".join(f"{c.commune} ({c.insee_commune})" for c in cref.communes)


@rule("PRJ-06", E, "Identifiant absent de la liste nationale ou communes d'une autre convention", SRC_LISTE_NATIONALE)
def identifiant_national(conv: Convention) -> Iterable[Finding]:
    """`acv_id` absent from the national list (whatever its form); or a commune of `T_Communes` that is
    not one of that convention's communes in the list (the suggestion names the convention it
    belongs to, when it is in the programme)."""
    acv_id = _known_id(conv)
    typed = str(conv.acv_id).strip() if conv.acv_id is not None else ""
    if acv_id is None and not typed:
        return  # PRJ-01
    ref = _ref(conv)
    # an identifier that designates none (« Arras »: PRJ-03, a warning) is in the list no more than ACV999
    cref = ref.conventions.get(acv_id) if acv_id else None
    codes, _ = _codes(conv)
    if cref is None:
        owners = list(dict.fromkeys(ref.par_insee[c].id_acv for _, c in codes if c in ref.par_insee))
        if len(owners) == 1:
            o = ref.conventions[owners[0]]
            sugg = f"Les communes du classeur relèvent de la convention {_name(o)} : saisissez {q(o.id_acv)}."
        else:
            sugg = (f"Vérifiez l'identifiant auprès du référent départemental ; une convention plus récente que la "
                    f"liste (datée {ref.datee}) s'emploie avec une liste à jour (option --reference).")
        yield at_named(conv, "acv_id", "PRJ-06", E,
                       f"L'identifiant {q(acv_id or typed)} ne figure pas dans la {ref.libelle}, qui compte "
                       f"{len(ref.conventions)} conventions.", sugg)
        return
    for ligne, code in codes:
        if code in cref.insee:
            continue
        other = ref.par_insee.get(code)
        if other is not None:
            sugg = (f"{other.commune} relève de la convention {_name(ref.conventions[other.id_acv])} : corrigez "
                    "l'identifiant de la convention ou la commune.")
        else:
            sugg = "Ce code n'est celui d'aucune commune du programme : vérifiez-le (code officiel géographique)."
        nom = f" ({ligne.commune})" if ligne.commune else ""
        yield at(ligne, "code_insee", "PRJ-06", E,
                 f"La commune {code}{nom} ne fait pas partie de la convention {_name(cref)} selon la "
                 f"{ref.libelle}, qui lui rattache : {_list_of(cref)}.", sugg)


@rule("PRJ-10", E, "Nom de commune différent de celui de la liste nationale", SRC_LISTE_NATIONALE,
      needs=("T_Communes",))
def nom_commune(conv: Convention) -> Iterable[Finding]:
    """The `Commune` of a row whose well-formed code the national list knows is not that commune's
    name, compared by `reference.nom_cle` (case, accents, hyphens, « St », an article written after),
    after « Ville de » or as one name of the binôme's (« Lens - Liévin » on either row:
    `reference.same_commune`), or as the list names the convention of that commune alone (« Évry »
    for Évry-Courcouronnes: `Reference.noms_usuels`). An error when the name is that of another
    commune of the list (« Béthune » beside Arras's code: the code or the name is wrong, and the annex would print one for
    the other); a warning otherwise (a misspelling, or a commune renamed since the list's date). A
    warning too when `acv_libelle` names another commune of the list and none of the convention's
    (`_libelle`)."""
    ref = _ref(conv)
    codes, _ = _codes(conv)
    for ligne, code in codes:
        c = ref.par_insee.get(code)
        typed = ligne.commune
        if c is None or typed is None or not str(typed).strip() or ref.designe(str(typed), c):
            continue
        typed = str(typed).strip()
        # read as the own name is: « Ville de Béthune » names Béthune as « Béthune » does
        autres = [o for n in noms_cles(typed) for o in ref.par_nom.get(n, ()) if o.insee_commune != code]
        if autres:
            o = autres[0]
            yield at(ligne, "commune", "PRJ-10", E,
                     f"{prefix(ligne)} : le code INSEE {code} est celui {_de(c.commune)} selon la {ref.libelle}, "
                     f"pas {_de(o.commune)}, dont le code est {o.insee_commune}.",
                     f"Corrigez le nom de la commune ({q(c.commune)}) ou son code INSEE ({o.insee_commune} pour "
                     f"{o.commune}).")
        else:
            yield at(ligne, "commune", "PRJ-10", A,
                     f"{prefix(ligne)} : la commune de code INSEE {code} s'appelle {q(c.commune)} selon la "
                     f"{ref.libelle}, pas {q(typed)}.",
                     f"Saisissez {q(c.commune)}, ou vérifiez le code INSEE ; si la commune a changé de nom depuis "
                     f"{ref.depuis}, la liste est à mettre à jour (option --reference).")
    yield from _libelle(conv, ref)


def _libelle(conv: Convention, ref: Reference) -> Iterable[Finding]:
    """PRJ-10 on `acv_libelle` (a warning): it is the name of a commune of the list, or of a binôme
    (`reference.noms_cles`: « Béthune », « Ville de Béthune », « Action Cœur de Ville de Béthune »), and
    none of the convention's (ACV014 is Arras). Any other label (« Cœur de ville », « Redonner du sens
    au centre », which does not name Sens) is the user's to choose."""
    cref = _convention(conv)
    libelle = conv.value("acv_libelle")
    if cref is None or not isinstance(libelle, str) or not libelle.strip():
        return
    noms = noms_cles(libelle)
    if any(nom_cle(c.commune) in noms for c in cref.communes):
        return
    named = [c for n in noms for c in ref.par_nom.get(n, ()) if c.id_acv != cref.id_acv]
    if named:
        o = named[0]
        yield at_named(conv, "acv_libelle", "PRJ-10", A,
                       f"Le libellé de la convention {q(libelle.strip())} nomme {o.commune}, de la convention "
                       f"{_name(ref.conventions[o.id_acv])}, et aucune commune de la convention {_name(cref)} selon la "
                       f"{ref.libelle}.",
                       f"Saisissez {q(cref.nom)}, ou corrigez l'identifiant de la convention.")



@rule("PRJ-07", E, "Commune de la convention absente du classeur", SRC_LISTE_NATIONALE, needs=("T_Communes",))
def commune_manquante(conv: Convention) -> Iterable[Finding]:
    """A commune the national list gives to the convention (one of a binôme, usually) is missing
    from `T_Communes`. Not judged while the table is empty (PRJ-02) or holds an unreadable code."""
    cref = _convention(conv)
    codes, complete = _codes(conv)
    if cref is None or not codes or not complete:
        return
    present = {c for _, c in codes}
    ref = _ref(conv)
    # the role to give: « Commune associée » beside a ville centre; « Ville centre » when the table has
    # none (Liévin typed alone as « Commune associée »: Lens was suggested as another one)
    centre, associee = layout.L.ROLE_COMMUNE
    has_centre = any(ligne.role == centre for ligne in rows(conv, T))
    for c in cref.communes:
        if c.insee_commune in present:
            continue
        binome = f"réunit {len(cref.communes)} communes" if len(cref.communes) > 1 else "porte sur une commune"
        role = associee if has_centre and len(cref.communes) > 1 else centre
        has_centre = True  # the first one missing is the centre; the others join it
        yield at_table(conv, T, "PRJ-07", E,
                       f"La convention {_name(cref)} {binome} selon la {ref.libelle} : {c.commune} "
                       f"({c.insee_commune}) manque au tableau des communes.",
                       f"Ajoutez la ligne {c.insee_commune} {q(c.commune)}, rôle {q(role)}.",
                       attr="code_insee")


@rule("PRJ-08", A, "Département ou SIREN de l'EPCI différent de la liste nationale", SRC_LISTE_NATIONALE)
def departement_epci(conv: Convention) -> Iterable[Finding]:
    """`acv_departement` or `acv_siren_epci` (well formed) differs from the list's for the
    convention's communes. A warning: EPCIs merge and the list has a date, which the message gives."""
    cref = _convention(conv)
    if cref is None:
        return
    ref = _ref(conv)
    dept = str(conv.departement).strip().upper() if conv.departement is not None else ""
    depts = {c.departement for c in cref.communes}
    if RE_DEPARTEMENT.fullmatch(dept) and dept not in depts:
        yield at_named(conv, "acv_departement", "PRJ-08", A,
                       f"Le département {dept} n'est pas celui de la convention {_name(cref)} selon la "
                       f"{ref.libelle} : {', '.join(sorted(depts))}.",
                       "Corrigez le code du département, ou l'identifiant de la convention.")
    siren = RE_SPACE.sub("", str(conv.value("acv_siren_epci") or ""))
    sirens = list(dict.fromkeys(c.siren_epci for c in cref.communes))
    if RE_SIREN.fullmatch(siren) and siren not in sirens:
        yield at_named(conv, "acv_siren_epci", "PRJ-08", A,
                       f"Le SIREN de l'EPCI {siren} n'est pas celui que la {ref.libelle} donne pour "
                       f"{_list_of(cref)} : {' ou '.join(sirens)}. Les EPCI fusionnent : la liste date "
                       f"{ref.datee}.",
                       "Vérifiez le SIREN actuel de l'EPCI (annuaire des entreprises, BANATIC) : s'il diffère de celui "
                       "du classeur, corrigez le classeur ; si c'est la liste qui a vieilli (fusion postérieure à sa "
                       "date), donnez une liste à jour (option --reference).")


SIGNATURE_WINDOW = timedelta(days=62)  # the parties' signatures of one convention, at most (PRJ-11)


@rule("PRJ-11", A, "Convention signée avant la date que donne la liste nationale", SRC_LISTE_NATIONALE)
def date_convention(conv: Convention) -> Iterable[Finding]:
    """Added code. `acv_date_convention` (a date) precedes the signature the list gives the convention.
    The list gives the first convention-cadre's date; a workbook may carry a later one (an avenant's, the
    ACV 2 extension's), so only an earlier date is said — no convention, nor its avenant, is signed
    before the convention itself: a year mistyped, mostly, by which ACT-07 and FIN-24 judge the plan. Not
    within `SIGNATURE_WINDOW` before it: the parties sign on different days, and a workbook may carry the
    first signature where the list gives the last."""
    cref = _convention(conv)
    signee = conv.value("acv_date_convention")
    if cref is None or cref.date_signature is None or signee.__class__ is not date \
            or signee >= cref.date_signature - SIGNATURE_WINDOW:
        return
    ref = _ref(conv)
    yield at_named(conv, "acv_date_convention", "PRJ-11", A,
                   f"La convention-cadre est datée du {fmt_date(signee)}, mais la {ref.libelle} donne la "
                   f"convention {_name(cref)} signée le {fmt_date(cref.date_signature)} : ni elle ni un avenant "
                   "ne sont signés avant cette date.",
                   f"Corrigez la date (une année mal saisie, le plus souvent) : la date de la liste "
                   f"({fmt_date(cref.date_signature)}) ou celle, postérieure, d'un avenant ; si la liste se trompe, "
                   "donnez une liste à jour (option --reference).")


@rule("PRJ-09", A, "Convention ACV 2 sans ORT signée selon la liste nationale", SRC_ORT)
def ort_signee(conv: Convention) -> Iterable[Finding]:
    """ACV 2: a commune of the convention (in the workbook and in the list) whose ORT the list does
    not give as signed (« Non signée » or unknown). The 2023 instruction asks every ACV town for an
    homologated ORT before its convention ends. A workbook without an ORT perimeter is PER-01's (an
    error, already)."""
    if conv.programme != "ACV 2":
        return
    cref = _convention(conv)
    if cref is None:
        return
    ref = _ref(conv)
    codes, _ = _codes(conv)
    present = {c for _, c in codes}
    for c in cref.communes:
        if c.insee_commune not in present or c.ort_signee:
            continue
        etat = "non signée" if c.ort else "non renseignée"
        yield _at_ort(conv, "PRJ-09", A,
                      f"La {ref.libelle} ne mentionne pas d'opération de revitalisation de territoire (ORT) signée "
                      f"pour {c.commune} ({etat}). En ACV 2, chaque ville doit disposer d'une ORT signée avant "
                      "l'échéance de sa convention (instruction du 24 mai 2023).",
                      f"Joignez la convention d'ORT signée, ou son calendrier de signature ; si elle a été signée "
                      f"depuis {ref.depuis}, la liste est à mettre à jour (option --reference).")


def _at_ort(conv: Convention, code, gravite, message, suggestion) -> Finding:
    """On the ORT perimeter's type cell when there is one, else on the perimeters table."""
    if usable(conv, layout.T_PERIMETRES.name):
        for p in rows(conv, layout.T_PERIMETRES):
            if p.type == layout.PERIMETRE_ORT:
                return at(p, "type", code, gravite, message, suggestion, action="")
        return at_table(conv, layout.T_PERIMETRES, code, gravite, message, suggestion, attr="type")
    return at_named(conv, "acv_id", code, gravite, message, suggestion)


def _mo_commune(conv: Convention, mo: str, codes: list[tuple[object, str]]):
    """The commune of `T_Communes` the maître d'ouvrage's name designates (« Ville de Lens »), or None
    when it names none or several of them: a name is not guessed."""
    ref = _ref(conv)
    found = []
    words = f" {nom_cle(mo)} "  # « Ville de St-Quentin », « Ville du Puy-en-Velay »: as PRJ-10 compares names
    for _, code in codes:
        c = ref.par_insee.get(code)
        usuel = ref.noms_usuels.get(code) if c is not None else None  # « Ville d'Évry » is Évry-Courcouronnes
        if c is not None and (f" {nom_cle(c.commune)} " in words or (usuel is not None and f" {usuel} " in words)):
            found.append(c)
    return found[0] if len(found) == 1 else None


_R2334_27 = frozenset(layout.FAMILLES_R2334_27)


@rule("FIN-19", A, "DETR pour une commune au-delà du seuil de population", SRC_DETR,
      needs=("T_Financements", "T_Actions", "T_Communes"))
def detr_population(conv: Convention) -> Iterable[Finding]:
    """A DETR line (not refused; or a line naming it with another dotation, « DETR/DSIL ») of an action whose maître
    d'ouvrage is a commune of the convention
    above 20 000 inhabitants (35 000 outre-mer) in the national list: DETR is open to communes up to
    that population (CGCT L2334-33; exactly 20 000 passes). A warning: the préfet's list of eligible
    collectivités (population DGF, communes nouvelles for three years) decides. The commune is
    recognised by its name in the `Maître d'ouvrage` cell; an EPCI maître d'ouvrage is not judged, nor an
    `Abandonnée` action (it has left the plan: no subsidy is to be sought for it)."""
    codes, _ = _codes(conv)
    if not codes:
        return
    ix = index(conv)
    ref = ix.reference
    communes_of: dict[str, Any] = {}
    lines = rows(conv, layout.T_FINANCEMENTS)  # the R2334-27 ones (the run's families), found in C
    r2334 = map(_R2334_27.__contains__, map(ix.familles.__getitem__, map(attrgetter("dispositif"), lines)))
    for lf in compress(lines, r2334):
        # a DETR, or a line naming it with another dotation (« DETR/DSIL », read as a DSIL: FIN-26)
        if ix.familles[lf.dispositif] != layout.FAMILLE_DETR and layout.FAMILLE_DETR not in dotations_nommees(lf.dispositif):
            continue
        if lf.statut == layout.STATUT_REFUSE or not is_r2334_27(lf.dispositif, lf.financeur):
            continue  # refused, or a body's own fund « d'équipement des territoires ruraux »
        action = ix.action(lf.numero)
        if (action is None or action.type_mo != "Commune" or not action.maitre_ouvrage
                or action.maturite == layout.MATURITE_ABANDONNEE):  # left the plan: « sollicitez la DSIL » for it?
            continue
        mo = str(action.maitre_ouvrage)
        if mo not in communes_of:  # one look-up per maître d'ouvrage, not per line
            communes_of[mo] = _mo_commune(conv, mo, codes)
        c = communes_of[mo]
        if c is None:
            continue
        outre_mer = len(c.departement) == 3
        seuil = DETR_POPULATION_MAX_OUTRE_MER if outre_mer else DETR_POPULATION_MAX
        if c.population <= seuil:
            continue
        where = "outre-mer" if outre_mer else "en métropole"
        yield at(lf, "dispositif", "FIN-19", A,
                 f"{prefix(lf)} : DETR pour une opération de la commune {_de(c.commune)}, qui compte "
                 f"{fmt_number(c.population)} habitants selon la {ref.libelle}. La DETR n'est ouverte qu'aux communes "
                 f"de {fmt_number(seuil)} habitants au plus {where}, les plus peuplées d'entre elles sous condition de "
                 "potentiel financier (CGCT art. L2334-33).",
                 "Vérifiez que la commune figure sur la liste des collectivités éligibles arrêtée par le préfet pour "
                 "l'année : elle retient la population DGF au 1er janvier de l'année précédente, et une commune nouvelle "
                 "reste éligible trois ans après sa création. Sinon, sollicitez la DSIL, ou faites porter l'opération "
                 "par un EPCI éligible à la DETR.")
