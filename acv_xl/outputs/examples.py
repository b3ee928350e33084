"""Demonstration conventions of the Pas-de-Calais, built in code, and their workbooks.

The identity of each convention is real, taken from the national list shipped with the package
(`acv_xl.contract.reference.shipped()`): national id, name, communes and INSEE codes, signature
date of the convention-cadre, département, SIREN of the EPCI. Béthune - Bruay-la-Buissière and
Lens - Liévin are binômes: one convention each. The people, the amounts and the decisions are
fictitious (the workbooks say so on their Accueil sheet). Every financing line uses a dispositif
that existed in its year (`layout.DISPOSITIFS_CREATION`); fonds de concours only go from the EPCI
to one of its communes. Three conventions are clean (no error, no warning); three carry deliberate
typical mistakes, listed in `FAUTES_ATTENDUES` so that the validation tests can check they are
caught exactly.

Every plan de financement is built so that it balances to the cent: the maître d'ouvrage's own
line takes the remainder (`RESTE`); the other lines are shares of the dépense subventionnable that
respect CGCT L1111-10 (own share ≥ 20 %), R2334-27 (DETR/DSIL each ≥ 20 %, together ≤ 80 %) and
décret 2018-514 (public subsidies ≤ 100 %). Rows are built with `model.build_row`, so each keeps
its raw values and the cell the template writes it to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from acv_xl.contract import layout
from acv_xl.contract import reference as national_list
from acv_xl.contract.model import (
    Commune,
    Convention,
    ElementDiagnostic,
    FicheAction,
    Indicateur,
    LigneFinancement,
    MembreGouvernance,
    Perimetre,
    build_named,
)
from acv_xl.contract.values import parse_number_text
from acv_xl.outputs.template import (
    build_workbook,
    placed_rows,
    reference_dispositifs,
    reference_financeurs,
)

MENTION = ("Classeur de démonstration : l'identifiant, les communes, la date de signature et le SIREN de "
           f"l'EPCI sont ceux de la {national_list.SHIPPED_LIBELLE} ; les montants, les décisions et les "
           "personnes sont fictifs.")

CENT = Decimal("0.01")
RESTE = "reste"  # the MO's own line: cost minus the other (non-refused) lines

# --------------------------------------------------------------------------- the faulty examples
# file name → [(code, sheet, cell)]: the finding each deliberate mistake must give, at the cell the
# rules report it on (FIN-05 on the action's cost cell, FIN-06 on its « Dérogation L1111-10 » cell,
# FIN-07 on its « Dépense subventionnable » cell). Every other example must give no error at all.
FAUTES_ATTENDUES: dict[str, list[tuple[str, str, str]]] = {
    "boulogne-sur-mer.xlsx": [
        # action 3.1: « FEDER » typed instead of the code UE
        ("FIN-02", layout.Sheet.FINANCEMENT, "B19"),
        # action 4.1: « 318 000 € » typed as text in an amount cell (the plan balances with the parsed value)
        ("FIN-03", layout.Sheet.FINANCEMENT, "F23"),
    ],
    "calais.xlsx": [
        # action 3.1: the DSIL line typed 300 000 € instead of 250 000 €: over-financed by 50 000 €
        ("FIN-05", layout.Sheet.ACTIONS, "M7"),
        # action 4.1: the commune brings 15 % of own share + public subsidies (< 20 %)
        ("FIN-06", layout.Sheet.ACTIONS, "O8"),
    ],
    "saint-omer.xlsx": [
        # action 4.1: DSIL + DETR = 82,5 % of the dépense subventionnable (> 80 %)
        ("FIN-07", layout.Sheet.ACTIONS, "N8"),
        # « Commerce » typed in the Axe column of the diagnostic instead of « Axe 2 »
        ("DIA-02", layout.Sheet.DIAGNOSTIC, "A7"),
    ],
}


# --------------------------------------------------------------------------- small data DSL
@dataclass
class Fin:
    """One financing line; `part` is a share of the dépense subventionnable, or `montant` is given."""

    financeur: str
    dispositif: str
    part: float | None = None
    montant: Any = None  # a number, RESTE, or a raw value (text) for a faulty example
    annee: int | None = None  # default: the action's first year
    statut: str | None = None  # default: from the action's maturity
    nature: str | None = None  # default: the dispositif's nature in the reference list
    commentaire: str | None = None


@dataclass
class Act:
    numero: str
    intitule: str
    axe: int
    perimetre: str
    mo: str
    type_mo: str
    description: str
    maturite: str
    debut: date
    fin: date
    cout: Decimal | int | float
    plan: list[Fin]
    indicateurs: list[tuple[str, str, float, float]]  # (indicateur, unité, initiale, cible)
    dep: Decimal | int | float | None = None  # dépense subventionnable (€ HT); default: the cost
    base: str = "HT"
    derogation: str = "Aucune"
    transversal: str | None = None


@dataclass
class Ville:
    fichier: str
    programme: str
    acv_id: str  # the national id: name, communes, signature date and SIREN come from the list
    epci: str
    directeur: str
    referent: str
    fin_init: date
    comite: date | None
    epci_ha: int
    epci_pop: int
    ort: tuple[str, int, int]  # (name, ha, population)
    # (code, type, name, ha, population[, INSEE of its commune: default the ville centre])
    secteurs: list[tuple]
    diagnostic: list[tuple[Any, str, str, str, str, Decimal | None, str | None]]
    actions: list[Act]
    elus: list[tuple[str, str, str]]  # (organisme, nom, fonction)
    equipe: list[tuple[str, str, str]] = field(default_factory=list)
    # deliberate typos applied after the balanced plan is built: (N° action, dispositif, montant typed)
    retouches: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def ref(self) -> national_list.ConventionRef:
        return national_list.shipped().conventions[self.acv_id]

    @property
    def libelle(self) -> str:
        return self.ref.nom

    @property
    def communes(self) -> list[tuple[str, str]]:
        """(INSEE, commune), ville centre first (the list's order)."""
        return [(c.insee_commune, c.commune) for c in self.ref.communes]

    @property
    def convention(self) -> date:
        d = self.ref.date_signature
        assert d is not None, self.acv_id  # every example's convention has its date in the list
        return d


def _de(nom: str) -> str:
    """« de Béthune », « d'Arras »: French elision before a vowel."""
    return ("d'" if nom[:1] in "AEIOUÉÈÊ" else "de ") + nom


def _d(x) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


def _num(d: Decimal) -> int | float:
    """A cell value: an int when whole euros, else a float with its cents."""
    return int(d) if d == d.to_integral_value() else float(d)


_NATURE = {(f.code, d.nom): d.nature for f in layout.FINANCEURS for d in f.dispositifs}
_REF_WORDS = {
    "ETAT": "Arrêté préfectoral", "CDC": "Convention Banque des Territoires", "AL": "Convention Action Logement",
    "ANAH": "Décision Anah", "ANRU": "Convention ANRU", "EPF": "Convention opérationnelle EPF",
    "REGION": "Délibération CP Région", "DEPT": "Délibération CP Département",
    "EPCI": "Délibération du conseil communautaire", "COMMUNE": "Délibération du conseil municipal",
    "UE": "Arrêté d'attribution FEDER", "PRIVE": "Décision du conseil d'administration",
}


# the usual status of a financing line for the maturity of its action
_STATUT_PAR_MATURITE = {"Terminée": "Versé", "En cours": "Engagé", "Engagée": "Acquis",
                        "En préparation": "Sollicité", "Mature": "Prévisionnel"}


def _plan(a: Act, cout: Decimal, dep: Decimal) -> list[tuple[Fin, int, str, Any]]:
    """(line, année, statut, montant) of an action; the `RESTE` lines share what balances the plan."""
    rows = []
    for f in a.plan:
        if f.montant is None and f.part is not None:
            montant: Any = _d(dep * Decimal(str(f.part)))
        else:
            montant = f.montant if isinstance(f.montant, str) else _d(f.montant)
        rows.append([f, f.annee or a.debut.year, f.statut or _STATUT_PAR_MATURITE[a.maturite], montant])

    def meant(m) -> Decimal:  # a text amount of a faulty example counts for what it says
        if m == RESTE:
            return Decimal(0)
        return parse_number_text(m) if isinstance(m, str) else m

    rest = [r for r in rows if r[3] == RESTE]
    reste = cout - sum((meant(r[3]) for r in rows if r[2] != layout.STATUT_REFUSE), Decimal(0))
    share = _d(reste / len(rest)) if rest else Decimal(0)
    for i, r in enumerate(rest):
        r[3] = share if i < len(rest) - 1 else reste - share * (len(rest) - 1)
    return [tuple(r) for r in rows]


def _build(v: Ville) -> Convention:
    names = {
        "acv_version_modele": layout.TEMPLATE_VERSION,
        "acv_statut": layout.L.STATUT_VALIDATION[0],
        "acv_programme": v.programme,
        "acv_id": v.acv_id,
        "acv_libelle": v.libelle,
        "acv_departement": v.ref.communes[0].departement,
        "acv_epci": v.epci,
        "acv_siren_epci": v.ref.communes[0].siren_epci,
        "acv_directeur_projet": v.directeur,
        "acv_referent_etat": v.referent,
        "acv_date_convention": v.convention,
        "acv_date_fin_initialisation": v.fin_init,
        "acv_date_fin_deploiement": layout.PROGRAMMES[v.programme][1],
        "acv_date_comite": v.comite,
    }
    conv = Convention(fichier=v.fichier)
    conv.names = {n: build_named(n, raw) for n, raw in names.items() if raw is not None}

    conv.communes = placed_rows(Commune, [
        {"code_insee": insee, "commune": nom, "role": layout.L.ROLE_COMMUNE[0 if i == 0 else 1]}
        for i, (insee, nom) in enumerate(v.communes)
    ])
    conv.diagnostic = placed_rows(ElementDiagnostic, [
        {"axe": f"Axe {axe}" if isinstance(axe, int) else axe, "element": el, "source": src,
         "date_source": v.convention - timedelta(days=200 + 37 * i), "constat": constat, "type": typ,
         "cout_estime": None if cout is None else _num(_d(cout)), "financeur_pressenti": fin,
         "etat": "Finalisé"}
        for i, (axe, el, src, constat, typ, cout, fin) in enumerate(v.diagnostic)
    ])
    insee = ";".join(c for c, _ in v.communes)
    valid = v.convention + timedelta(days=90)
    perims = [
        {"code": "ETU", "type": "Étude", "nom": f"Territoire de la {v.epci}", "parent": None, "echelle": "EPCI",
         "communes": insee, "superficie": v.epci_ha, "population": v.epci_pop, "date_validation": v.convention},
        {"code": "ORT", "type": "ORT", "nom": v.ort[0], "parent": "ETU", "echelle": "Centre-ville",
         "communes": insee, "superficie": v.ort[1], "population": v.ort[2], "date_validation": valid},
    ]
    for code, typ, nom, ha, pop, *commune in v.secteurs:
        perims.append({"code": code, "type": typ, "nom": nom, "parent": "ORT", "echelle": "Quartier",
                       "communes": commune[0] if commune else v.communes[0][0], "superficie": ha, "population": pop,
                       "date_validation": valid})
    conv.perimetres = placed_rows(Perimetre, perims)

    actions, lignes, indicateurs, partenaires = [], [], [], []
    seq = 0
    for a in v.actions:
        cout, dep = _d(a.cout), _d(a.dep if a.dep is not None else a.cout)
        codes = []
        for f, annee, statut, montant in _plan(a, cout, dep):
            seq += 1
            if f.financeur not in codes:
                codes.append(f.financeur)
            # the MO's own money is not requested from anyone; the rest was asked for before the works
            own = f.montant == RESTE and f.financeur in ("COMMUNE", "EPCI", "PRIVE")
            demande = None if own else max(
                min(a.debut - timedelta(days=75), date(annee - 1, 11, 15)), v.convention - timedelta(days=60))
            ref = None
            if statut in layout.STATUTS_ACQUIS:
                ref = f"{_REF_WORDS.get(f.financeur, 'Décision')} n° {annee}-{seq:03d}"
            lignes.append({
                "numero": a.numero, "financeur": f.financeur, "dispositif": f.dispositif,
                "nature": f.nature or _NATURE.get((f.financeur, f.dispositif), "Subvention"),
                "annee": annee, "montant": montant if isinstance(montant, str) else _num(montant),
                "statut": statut, "date_demande": demande, "reference_decision": ref,
                "commentaire": f.commentaire,
            })
        partenaires += [c for c in codes if c not in partenaires]
        signee = a.maturite in layout.MATURITES_SIGNEES
        actions.append({
            "numero": a.numero, "intitule": a.intitule, "axe": f"Axe {a.axe}", "axe_transversal": a.transversal,
            "perimetre": a.perimetre, "maitre_ouvrage": a.mo, "type_mo": a.type_mo, "description": a.description,
            "maturite": a.maturite, "date_debut": a.debut, "date_fin": a.fin, "base": a.base,
            "cout_total": _num(cout), "depense_subventionnable": _num(dep), "derogation": a.derogation,
            # spaced as a user types them: LibreOffice wraps at a space, never at « ; » (« ETAT;REGION;DEPT;COMMU »)
            "cosignataires": " ; ".join(codes),
            "date_signature": max(v.convention, a.debut - timedelta(days=30)) if signee else None,
        })
        for ind, unite, init, cible in a.indicateurs:
            indicateurs.append({"numero": a.numero, "indicateur": ind, "unite": unite, "valeur_initiale": init,
                                "valeur_cible": cible, "annee_cible": a.fin.year})
    conv.actions = placed_rows(FicheAction, actions)
    conv.financements = placed_rows(LigneFinancement, lignes)
    conv.indicateurs = placed_rows(Indicateur, indicateurs)
    conv.financeurs = reference_financeurs()
    conv.dispositifs = reference_dispositifs()

    gouv = [{"instance": "Comité de projet", "organisme": org, "nom": nom, "fonction": fn, "college": "Élus"}
            for org, nom, fn in v.elus]
    gouv.append({"instance": "Comité de projet", "organisme": f"Ville {_de(v.communes[0][1])}", "nom": v.directeur,
                 "fonction": "Directeur de projet Action Cœur de Ville", "college": "Directeur de projet"})
    gouv.append({"instance": "Comité de projet", "organisme": "Préfecture du Pas-de-Calais", "nom": v.referent,
                 "fonction": "Référent départemental Action Cœur de Ville", "college": "État"})
    for code in partenaires:
        if code in layout.PARTENAIRES_NATIONAUX or code in ("REGION", "DEPT", "EPF"):
            gouv.append({"instance": "Comité de projet", "organisme": layout.FINANCEURS_BY_CODE[code].nom,
                         "nom": None, "fonction": "Représentant du partenaire financeur",
                         "college": "Partenaire financeur"})
    for org, nom, fn in v.equipe:
        gouv.append({"instance": "Équipe de projet", "organisme": org, "nom": nom, "fonction": fn, "college": "Autre"})
    gouv.append({"instance": "Comité régional d'engagement", "organisme": "Préfecture de la région Hauts-de-France",
                 "nom": None, "fonction": "Secrétariat général pour les affaires régionales", "college": "État"})
    conv.gouvernance = placed_rows(MembreGouvernance, gouv)
    return conv


# --------------------------------------------------------------------------- action catalogue
def _opah(num, ville, epci, debut, fin, cout, maturite, years, perim="ORT"):
    return Act(num, f"OPAH-RU du centre-ville {_de(ville)}", 1, perim, epci, "EPCI",
               "Animation de l'opération programmée d'amélioration de l'habitat - renouvellement urbain et aides "
               "aux travaux des propriétaires (vacance, dégradation, précarité énergétique).",
               maturite, debut, fin, cout,
               [Fin("ANAH", "OPAH-RU", 0.25, annee=years[0]), Fin("ANAH", "OPAH-RU", 0.25, annee=years[1]),
                Fin("EPCI", "Autofinancement", montant=RESTE, annee=years[0]),
                Fin("EPCI", "Autofinancement", montant=RESTE, annee=years[1])],
               [("Logements privés réhabilités", "logements", 0, 140), ("Logements vacants remis sur le marché", "logements", 0, 45)])


def _bailleur(num, adresse, bailleur, debut, fin, cout, maturite):
    return Act(num, f"Réhabilitation de l'immeuble {adresse}", 1, "SP1", bailleur, "Bailleur social",
               "Acquisition-amélioration d'un immeuble vacant du centre-ville : logements locatifs "
               "conventionnés, étiquette énergétique C après travaux.",
               maturite, debut, fin, cout,
               [Fin("AL", "Prêt", 0.40), Fin("AL", "Subvention", 0.20), Fin("CDC", "Prêt Projet Urbain", 0.25),
                Fin("PRIVE", "Apport privé", montant=RESTE, commentaire="Fonds propres du bailleur")],
               [("Logements produits", "logements", 0, 18)])


def _epf(num, site, ville, debut, fin, cout, maturite, axe=1, perim="SP1"):
    return Act(num, f"Recyclage foncier de {site}", axe, perim, f"Ville {_de(ville)}", "Commune",
               "Portage foncier par l'EPF Hauts-de-France d'un îlot dégradé en vue de sa reconversion.",
               maturite, debut, fin, cout,
               [Fin("EPF", "Portage foncier", 0.70),
                Fin("COMMUNE", "Autofinancement", montant=RESTE)],
               [("Surface de foncier maîtrisée", "m²", 0, 4200)])


def _rue(num, rue, ville, debut, fin, cout, maturite, years, refus=False, perim="SP1"):
    plan = [Fin("ETAT", "DSIL", 0.30), Fin("REGION", "Redynamisation des centres-villes", 0.20),
            Fin("DEPT", "Aide aux projets des territoires", 0.10),
            Fin("COMMUNE", "Autofinancement", montant=RESTE, annee=years[0]),
            Fin("COMMUNE", "Autofinancement", montant=RESTE, annee=years[1])]
    if refus:
        plan.insert(3, Fin("UE", "FEDER", 0.15, statut=layout.STATUT_REFUSE,
                           commentaire="Dossier non retenu par le comité de programmation"))
    return Act(num, f"Requalification {rue}", 2, perim, f"Ville {_de(ville)}", "Commune",
               "Reprise des trottoirs et de la chaussée, mobilier urbain, signalétique commerciale et "
               "végétalisation de l'artère commerçante.",
               maturite, debut, fin, cout, plan,
               [("Taux de vacance commerciale", "%", 14.5, 9), ("Surface d'espace public requalifiée", "m²", 0, 6800)])


def _fonciere(num, ville, sem, debut, fin, cout, maturite):
    # FRLA: from 2021 only; the Région rather than a fonds de concours, which goes from an EPCI to
    # one of its communes, never to a SEM
    return Act(num, f"Foncière de redynamisation commerciale {_de(ville)}", 2, "SP1", sem, "SEM / SPL",
               "Acquisition, remise en état et commercialisation de cellules commerciales vacantes de l'hyper-centre.",
               maturite, debut, fin, cout,
               [Fin("CDC", "Investissement", 0.40), Fin("ETAT", "FRLA", 0.20),
                Fin("REGION", "Redynamisation des centres-villes", 0.10), Fin("CDC", "PRU ACV", montant=RESTE)],
               [("Cellules commerciales remises sur le marché", "cellules", 0, 12)])


def _pem(num, gare, epci, debut, fin, cout, maturite, years, perim="ORT"):
    return Act(num, f"Pôle d'échanges multimodal de la {gare}", 3, perim, epci, "EPCI",
               "Parvis, gare routière, stationnement vélos sécurisé, cheminements piétons vers le centre-ville.",
               maturite, debut, fin, cout,
               [Fin("ETAT", "DSIL", 0.25), Fin("REGION", "Aménagement du territoire", 0.25, annee=years[1]),
                Fin("UE", "FEDER", 0.20, annee=years[1]),
                Fin("EPCI", "Autofinancement", montant=RESTE, annee=years[0]),
                Fin("EPCI", "Autofinancement", montant=RESTE, annee=years[1])],
               [("Fréquentation du pôle d'échanges", "voyageurs par jour", 5200, 6500)],
               transversal="Transition écologique")


def _velo(num, ville, debut, fin, cout, maturite):
    # Fonds vert: from 2023 only (ACV 2)
    return Act(num, f"Itinéraires cyclables vers le centre {_de(ville)}", 3, "ORT", f"Ville {_de(ville)}", "Commune",
               "Pistes cyclables séparées entre les quartiers et l'hyper-centre, arceaux et abris vélos.",
               maturite, debut, fin, cout,
               [Fin("ETAT", "Fonds vert", 0.40), Fin("COMMUNE", "Autofinancement", montant=RESTE)],
               [("Linéaire cyclable aménagé", "km", 0, 6.5)], transversal="Transition écologique")


def _place(num, place, ville, debut, fin, cout, maturite, years, perim="SP1"):
    return Act(num, f"Réaménagement {place}", 4, perim, f"Ville {_de(ville)}", "Commune",
               "Requalification de l'espace public, désimperméabilisation, plantations et éclairage.",
               maturite, debut, fin, cout,
               [Fin("ETAT", "DSIL", 0.25), Fin("REGION", "Aménagement du territoire", 0.15),
                Fin("UE", "FEDER", 0.20, annee=years[1]), Fin("CDC", "PRU ACV", 0.15, annee=years[1]),
                Fin("COMMUNE", "Autofinancement", montant=RESTE, annee=years[1])],
               [("Surface désimperméabilisée", "m²", 0, 3500)], transversal="Adaptation au changement climatique")


def _patrimoine(num, monument, ville, debut, fin, cout, maturite, years):
    return Act(num, f"Restauration {monument}", 4, "ORT", f"Ville {_de(ville)}", "Commune",
               "Restauration du clos et du couvert d'un monument protégé du centre-ville et mise en lumière.",
               maturite, debut, fin, cout,
               [Fin("ETAT", "DRAC", 0.40), Fin("REGION", "Aménagement du territoire", 0.15, annee=years[1]),
                Fin("DEPT", "Aide aux projets des territoires", 0.10, annee=years[1]),
                Fin("COMMUNE", "Autofinancement", montant=RESTE, annee=years[0]),
                Fin("COMMUNE", "Autofinancement", montant=RESTE, annee=years[1])],
               [("Visiteurs annuels", "visiteurs", 18000, 26000)])


def _mediatheque(num, nom, mo, type_mo, debut, fin, cout, maturite, years):
    cout = _d(cout)
    return Act(num, f"Médiathèque {nom}", 5, "ORT", mo, type_mo,
               "Transformation d'un bâtiment du centre-ville en médiathèque et tiers-lieu culturel.",
               maturite, debut, fin, cout,
               [Fin("ETAT", "DRAC", 0.25), Fin("ETAT", "DSIL", 0.22, annee=years[1]),
                Fin("DEPT", "Aide aux projets des territoires", 0.10, annee=years[1]),
                Fin("EPCI" if type_mo == "EPCI" else "COMMUNE", "Autofinancement", montant=RESTE, annee=years[1])],
               [("Inscrits à la médiathèque", "inscrits", 3100, 4800)],
               dep=_d(cout / Decimal("1.2")), base="TTC")


def _etude(num, objet, ville, debut, fin, cout, maturite, axe=5, perim="ORT"):
    return Act(num, f"Étude {objet}", axe, perim, f"Ville {_de(ville)}", "Commune",
               "Étude pré-opérationnelle confiée à un bureau d'études ; ses conclusions alimentent l'avenant.",
               maturite, debut, fin, cout,
               [Fin("CDC", "Ingénierie", 0.50), Fin("COMMUNE", "Autofinancement", montant=RESTE)],
               [("Étude remise et présentée en comité de projet", "étude", 0, 1)])


def _diag(ville: str, etude_cout: tuple[int, int], pressentis=("CDC", "ANAH")):
    return [
        (1, "Habitat ancien dégradé et vacance", "Programme local de l'habitat", f"Vacance de 12 % des logements du centre {_de(ville)}", "Existant", None, None),
        (1, "Étude pré-opérationnelle OPAH-RU", "Cahier des charges de l'EPCI", "Repérage immeuble par immeuble à conduire", "Étude complémentaire", etude_cout[0], pressentis[1]),
        (2, "Stratégie commerciale du centre-ville", "Étude de la CCI Hauts-de-France", "Vacance commerciale de 14 % ; évasion vers la périphérie", "Existant", None, None),
        (3, "Mobilités et stationnement", "Plan de mobilité de l'agglomération", "Gare peu reliée au centre ; stationnement saturé le samedi", "Existant", None, None),
        (4, "Patrimoine et espaces publics", "Diagnostic patrimonial (UDAP)", "Espaces publics minéraux et vieillissants", "Existant", None, None),
        (4, "Plan guide des espaces publics", "Cahier des charges de la ville", "Hiérarchiser les places et les parcours", "Étude complémentaire", etude_cout[1], pressentis[0]),
        (5, "Équipements et services publics", "Schéma des services au public", "Équipements culturels dispersés et peu accessibles", "Existant", None, None),
    ]


def _villes() -> list[Ville]:
    D = date
    out: list[Ville] = []

    # ---------------------------------------------------------------- Arras (ACV 1, clean)
    y = (2019, 2020)
    out.append(Ville(
        "arras.xlsx", "ACV 1", "ACV014", "Communauté urbaine d'Arras",
        "Claire Dumont", "Jean-Marc Lefort", D(2019, 12, 31), None, 23000, 108000,
        ("Centre-ville d'Arras", 410, 21500),
        [("SP1", "Secteur prioritaire", "Places et quartier Ronville", 72, 6100)],
        _diag("Arras", (60000, 45000)),
        [
            _opah("1.1", "Arras", "Communauté urbaine d'Arras", D(2019, 1, 7), D(2022, 6, 30), 1_240_000, "Terminée", (2019, 2021)),
            _bailleur("1.2", "du 12 rue Ronville", "Pas-de-Calais habitat", D(2019, 9, 2), D(2021, 12, 17), 2_150_000, "Terminée"),
            _rue("2.1", "de la rue Ronville", "Arras", D(2019, 3, 4), D(2020, 11, 27), 1_860_000, "Terminée", y),
            _fonciere("2.2", "Arras", "SEM Territoires Soixante-Deux", D(2021, 4, 6), D(2022, 11, 30), 3_400_000, "Terminée"),
            _pem("3.1", "gare d'Arras", "Communauté urbaine d'Arras", D(2020, 4, 6), D(2022, 10, 28), 4_780_000, "Terminée", (2020, 2021)),
            _place("4.1", "de la place de la Vacquerie", "Arras", D(2019, 10, 7), D(2021, 6, 30), 2_350_000, "Terminée", (2019, 2020)),
            _patrimoine("4.2", "des façades de la place des Héros", "Arras", D(2021, 3, 1), D(2022, 12, 16), 1_125_500.50, "Terminée", (2021, 2022)),
            _mediatheque("5.1", "Verlaine", "Ville d'Arras", "Commune", D(2020, 9, 1), D(2022, 12, 9), 3_960_000, "Terminée", (2020, 2021)),
        ],
        [("Ville d'Arras", "Hélène Carpentier", "Maire"), ("Communauté urbaine d'Arras", "Bernard Leclercq", "Président")],
        [("Ville d'Arras", "Sophie Bernard", "Cheffe de projet habitat"), ("Communauté urbaine d'Arras", "Nicolas Fontaine", "Chargé de mission commerce")],
    ))

    # ---------------------------------------------------------------- Béthune - Bruay-la-Buissière (ACV 2, binôme, clean)
    epci = "Communauté d'agglomération de Béthune-Bruay, Artois-Lys Romane"
    bb = Ville(
        "bethune-bruay.xlsx", "ACV 2", "ACV031", epci, "Thomas Vasseur", "Isabelle Morel",
        D(2020, 3, 31), D(2026, 12, 10), 64700, 277000,
        ("Centres-villes de Béthune et de Bruay-la-Buissière", 550, 22600),
        [("SP1", "Secteur prioritaire", "Grand'Place de Béthune et rues commerçantes", 48, 3900, "62119"),
         ("SP2", "Secteur prioritaire", "Mail commercial et rue Henri Cadot à Bruay-la-Buissière", 36, 2600, "62178"),
         ("EV1", "Entrée de ville", "Entrée de ville sud de Bruay-la-Buissière", 28, 900, "62178")],
        _diag("Béthune et de Bruay-la-Buissière", (60000, 42000)),
        [
            _opah("1.1", "Béthune et de Bruay-la-Buissière", epci, D(2024, 2, 5), D(2026, 12, 18), 1_380_000, "En cours", (2024, 2025)),
            _bailleur("1.2", "de la rue Henri Cadot à Bruay-la-Buissière", "Maisons & Cités", D(2024, 6, 3), D(2026, 9, 30), 1_680_000, "En cours"),
            _epf("1.3", "l'îlot Saint-Pry", "Béthune", D(2024, 9, 2), D(2026, 6, 30), 860_000, "Engagée"),
            _rue("2.1", "de la rue Henri Cadot et du mail commercial", "Bruay-la-Buissière", D(2024, 3, 4), D(2025, 12, 19), 1_250_000, "En cours", (2024, 2025), refus=True, perim="SP2"),
            _rue("2.2", "de la rue d'Arras", "Béthune", D(2024, 4, 1), D(2025, 12, 19), 1_420_000, "En cours", (2024, 2025)),
            _velo("3.1", "Béthune", D(2025, 3, 3), D(2026, 10, 30), 690_000, "Engagée"),
            _place("4.1", "de la Grand'Place", "Béthune", D(2024, 5, 6), D(2026, 6, 30), 2_640_000, "En cours", (2024, 2025)),
            _epf("4.2", "la friche de l'entrée de ville sud", "Bruay-la-Buissière", D(2025, 4, 1), D(2026, 12, 18), 620_000, "Engagée", axe=4, perim="EV1"),
            _etude("5.1", "de reconversion de l'ancien hôtel des postes de Bruay-la-Buissière", "Bruay-la-Buissière", D(2026, 2, 2), D(2026, 11, 27), 72_000, "En préparation"),
        ],
        [("Ville de Béthune", "Pierre Delattre", "Maire"), ("Ville de Bruay-la-Buissière", "Louis Dufour", "Maire"),
         ("Communauté d'agglomération de Béthune-Bruay, Artois-Lys Romane", "Annie Caron", "Présidente")],
        [("Ville de Béthune", "Julie Wattez", "Chargée de mission Action Cœur de Ville"),
         ("Ville de Bruay-la-Buissière", "Manon Lecomte", "Cheffe de projet commerce")],
    )
    bb.actions[0].intitule = "OPAH-RU des centres-villes de Béthune et de Bruay-la-Buissière"
    bb.actions[1].perimetre = "SP2"  # the immeuble is in Bruay-la-Buissière
    # the agglomération's fonds de concours to one of its communes (CGCT L5216-5 VI: at most the
    # commune's share hors subventions, here autofinancement and loan, 30 % of the cost)
    bb.actions[6].plan.insert(-1, Fin("EPCI", "Fonds de concours", 0.10, annee=2025))
    out.append(bb)

    # ---------------------------------------------------------------- Boulogne-sur-Mer (ACV 2, faulty)
    bo = Ville(
        "boulogne-sur-mer.xlsx", "ACV 2", "ACV034", "Communauté d'agglomération du Boulonnais", "Élodie Marchand", "François Lemaire",
        D(2024, 12, 20), D(2026, 12, 10), 20400, 113000, ("Centre-ville de Boulogne-sur-Mer", 380, 17200),
        [("SP1", "Secteur prioritaire", "Grande Rue et rue Thiers", 41, 3800),
         ("QG", "Quartier de gare", "Quartier de la gare de Boulogne-Ville", 55, 4100)],
        _diag("Boulogne-sur-Mer", (65000, 42000)),
        [
            _opah("1.1", "Boulogne-sur-Mer", "Communauté d'agglomération du Boulonnais", D(2024, 4, 1), D(2026, 12, 18), 1_050_000, "En cours", (2024, 2025)),
            _rue("2.1", "de la Grande Rue", "Boulogne-sur-Mer", D(2024, 5, 6), D(2026, 3, 31), 1_540_000, "En cours", (2024, 2025)),
            _fonciere("2.2", "Boulogne-sur-Mer", "SEM Boulogne Développement", D(2024, 9, 2), D(2026, 12, 18), 2_600_000, "Engagée"),
            _pem("3.1", "gare de Boulogne-Ville", "Communauté d'agglomération du Boulonnais", D(2025, 1, 6), D(2026, 12, 18), 3_900_000, "Engagée", (2025, 2026), perim="QG"),
            _place("4.1", "de la place Dalton", "Boulogne-sur-Mer", D(2024, 10, 7), D(2026, 7, 31), 2_120_000, "En cours", (2024, 2025)),
            _mediatheque("5.1", "des Annonciades", "Ville de Boulogne-sur-Mer", "Commune", D(2025, 5, 5), D(2026, 12, 18), 2_760_000, "En préparation", (2025, 2026)),
        ],
        [("Ville de Boulogne-sur-Mer", "Marc Devigne", "Maire"), ("Communauté d'agglomération du Boulonnais", "Chantal Leroy", "Présidente")],
        [("Ville de Boulogne-sur-Mer", "Hugo Maillard", "Chargé de mission habitat")],
    )
    # FIN-02: the FEDER line of 3.1 typed with the dispositif's name instead of the code UE
    feder = next(f for f in bo.actions[3].plan if f.financeur == "UE")
    feder.financeur, feder.nature = "FEDER", "Subvention"
    # FIN-03: the Région line of 4.1 (15 % of 2 120 000 € = 318 000 €)… as text, with a typo'd amount
    reg = next(f for f in bo.actions[4].plan if f.financeur == "REGION")
    reg.part, reg.montant = None, "318 000 €"
    out.append(bo)

    # ---------------------------------------------------------------- Calais (ACV 2, faulty)
    ca = Ville(
        "calais.xlsx", "ACV 2", "ACV043", "Communauté d'agglomération Grand Calais Terres et Mers", "Antoine Roussel", "Nathalie Lemoine",
        D(2024, 10, 31), D(2026, 12, 10), 28300, 104000, ("Centre-ville de Calais", 520, 24500),
        [("SP1", "Secteur prioritaire", "Boulevard Jacquard et rue Royale", 63, 5200),
         ("QG", "Quartier de gare", "Quartier de la gare de Calais-Ville", 47, 3300)],
        _diag("Calais", (70000, 48000)),
        [
            _opah("1.1", "Calais", "Communauté d'agglomération Grand Calais Terres et Mers", D(2024, 3, 4), D(2026, 12, 18), 1_380_000, "En cours", (2024, 2025)),
            _bailleur("1.2", "du 40 boulevard Jacquard", "Habitat du Littoral", D(2024, 9, 2), D(2026, 10, 30), 2_460_000, "Engagée"),
            _rue("2.1", "du boulevard Jacquard", "Calais", D(2024, 4, 1), D(2025, 12, 19), 2_240_000, "En cours", (2024, 2025), refus=True),
            _pem("3.1", "gare de Calais-Ville", "Communauté d'agglomération Grand Calais Terres et Mers", D(2025, 2, 3), D(2026, 12, 18), 1_000_000, "Engagée", (2025, 2026), perim="QG"),
            Act("4.1", "Réaménagement de la place d'Armes", 4, "SP1", "Ville de Calais", "Commune",
                "Requalification de la place, désimperméabilisation et éclairage.", "Engagée",
                D(2025, 3, 3), D(2026, 11, 27), 900_000,
                [Fin("ETAT", "DSIL", 0.30), Fin("REGION", "Aménagement du territoire", 0.30),
                 Fin("DEPT", "Aide aux projets des territoires", montant=225_000),
                 Fin("COMMUNE", "Autofinancement", montant=RESTE)],
                [("Surface désimperméabilisée", "m²", 0, 2800)]),
            _etude("5.1", "de programmation d'une maison de services au public", "Calais", D(2024, 6, 3), D(2025, 3, 28), 96_000, "Terminée"),
        ],
        [("Ville de Calais", "Sandrine Baheu", "Maire"), ("Communauté d'agglomération Grand Calais Terres et Mers", "Olivier Masset", "Président")],
        [("Ville de Calais", "Laura Petit", "Cheffe de projet Action Cœur de Ville adjointe")],
    )
    # FIN-05: DSIL of 3.1 typed 300 000 € instead of 250 000 € (25 % of 1 000 000 €)
    ca.retouches.append(("3.1", "DSIL", 300_000))
    out.append(ca)

    # ---------------------------------------------------------------- Lens - Liévin (ACV 1, binôme, clean)
    le = Ville(
        "lens-lievin.xlsx", "ACV 1", "ACV113", "Communauté d'agglomération de Lens-Liévin", "Sébastien Lambert", "Catherine Dubois",
        D(2020, 6, 30), None, 24000, 242000, ("Centres-villes de Lens et de Liévin", 610, 29000),
        [("SP1", "Secteur prioritaire", "Centre de Lens, de la gare à la place Jean Jaurès", 70, 6400, "62498"),
         ("SP2", "Secteur prioritaire", "Centre de Liévin, place Gambetta", 52, 4300, "62510")],
        _diag("Lens et de Liévin", (80000, 50000)),
        [
            _opah("1.1", "Lens et de Liévin", "Communauté d'agglomération de Lens-Liévin", D(2019, 1, 7), D(2022, 12, 16), 1_620_000, "Terminée", (2019, 2021)),
            _bailleur("1.2", "de la rue de la Gare à Lens", "Pas-de-Calais habitat", D(2019, 10, 1), D(2022, 3, 31), 1_940_000, "Terminée"),
            _epf("1.3", "l'îlot de la rue Jean Jaurès à Liévin", "Liévin", D(2019, 5, 6), D(2022, 6, 30), 740_000, "Terminée", perim="SP2"),
            _rue("2.1", "de la rue de Paris à Lens", "Lens", D(2019, 4, 1), D(2020, 12, 18), 1_310_000, "Terminée", (2019, 2020)),
            _fonciere("2.2", "Lens-Liévin", "SEM Territoires Soixante-Deux", D(2021, 4, 6), D(2022, 12, 16), 2_900_000, "Terminée"),
            _pem("3.1", "gare de Lens", "Communauté d'agglomération de Lens-Liévin", D(2019, 9, 2), D(2022, 6, 30), 5_200_000, "Terminée", (2019, 2020)),
            _place("4.1", "de la place Gambetta à Liévin", "Liévin", D(2020, 3, 2), D(2022, 6, 30), 2_480_000, "Terminée", (2020, 2021), perim="SP2"),
            _mediatheque("5.1", "de Liévin", "Ville de Liévin", "Commune", D(2020, 9, 7), D(2022, 12, 16), 3_300_000, "Terminée", (2020, 2021)),
            _etude("5.2", "de programmation d'une maison des services au public", "Lens", D(2019, 2, 4), D(2019, 11, 29), 68_000, "Terminée"),
        ],
        [("Ville de Lens", "Rémi Duhamel", "Maire"), ("Ville de Liévin", "Brigitte Lenoir", "Maire"),
         ("Communauté d'agglomération de Lens-Liévin", "Gérard Pruvost", "Président")],
        [("Communauté d'agglomération de Lens-Liévin", "Camille Roger", "Chargée de mission habitat")],
    )
    le.actions[0].intitule = "OPAH-RU des centres-villes de Lens et de Liévin"
    out.append(le)

    # ---------------------------------------------------------------- Saint-Omer (ACV 2, faulty)
    so = Ville(
        "saint-omer.xlsx", "ACV 2", "ACV184", "Communauté d'agglomération du Pays de Saint-Omer", "Mathilde Verhaeghe", "Paul Deschamps",
        D(2025, 3, 31), D(2026, 12, 10), 54300, 105000, ("Centre-ville de Saint-Omer", 240, 9600),
        [("SP1", "Secteur prioritaire", "Place Foch et rues commerçantes", 30, 2100),
         ("QG", "Quartier de gare", "Quartier de la gare de Saint-Omer", 34, 1500)],
        _diag("Saint-Omer", (45000, 35000)),
        [
            _opah("1.1", "Saint-Omer", "Communauté d'agglomération du Pays de Saint-Omer", D(2024, 5, 6), D(2026, 12, 18), 890_000, "En cours", (2024, 2025)),
            _epf("1.2", "l'îlot de la rue de Dunkerque", "Saint-Omer", D(2024, 9, 2), D(2026, 9, 30), 560_000, "Engagée"),
            _fonciere("2.1", "Saint-Omer", "SPL Pays de Saint-Omer Aménagement", D(2024, 10, 7), D(2026, 12, 18), 1_800_000, "Engagée"),
            _velo("3.1", "Saint-Omer", D(2025, 3, 3), D(2026, 10, 30), 460_000, "Engagée"),
            # DETR: Saint-Omer (14 661 inhabitants in the national list) is under the 20 000 of L2334-33
            Act("4.1", "Requalification de la place Foch", 4, "SP1", "Ville de Saint-Omer", "Commune",
                "Requalification de la place Foch et de ses abords ; seule la voirie est subventionnable.",
                "En préparation", D(2025, 9, 1), D(2026, 12, 18), 600_000,
                [Fin("ETAT", "DSIL", montant=200_000), Fin("ETAT", "DETR", montant=130_000),
                 Fin("COMMUNE", "Autofinancement", montant=RESTE)],
                [("Surface d'espace public requalifiée", "m²", 0, 5200)], dep=400_000),
            _patrimoine("4.2", "des abords de la cathédrale Notre-Dame", "Saint-Omer", D(2024, 6, 3), D(2026, 6, 30), 1_150_000, "En cours", (2024, 2025)),
            _mediatheque("5.1", "de la Barbe d'Or", "Ville de Saint-Omer", "Commune", D(2025, 2, 3), D(2026, 12, 18), 2_040_000, "Engagée", (2025, 2026)),
        ],
        [("Ville de Saint-Omer", "Vincent Maes", "Maire"), ("Communauté d'agglomération du Pays de Saint-Omer", "Christine Vandamme", "Présidente")],
        [("Ville de Saint-Omer", "Arnaud Delpierre", "Chargé de mission patrimoine")],
    )
    # DIA-02: « Commerce » typed instead of « Axe 2 » (the other axe 2 element remains)
    so.diagnostic.insert(3, ("Commerce", "Marché hebdomadaire et halles", "Étude de la CCI Hauts-de-France",
                             "Marché de plein air en perte de fréquentation", "Existant", None, None))
    out.append(so)
    return out


def _conventions() -> dict[str, Convention]:
    out: dict[str, Convention] = {}
    for v in _villes():
        conv = _build(v)
        for numero, dispositif, montant in v.retouches:
            _retype(conv, numero, dispositif, montant)
        out[v.fichier] = conv
    return out


def _retype(conv: Convention, numero: str, dispositif: str, montant) -> None:
    for i, lf in enumerate(conv.financements):
        if lf.numero == numero and lf.dispositif == dispositif:
            raw = {**lf.raw, "montant": montant}
            conv.financements[i] = lf.model_copy(update={"raw": raw, "montant": _d(montant)})
            return
    raise KeyError((numero, dispositif))


def example_conventions() -> dict[str, Convention]:
    """File name → demonstration convention (fresh objects on each call)."""
    return _conventions()


def write_examples(folder: Path | str, conventions: dict[str, Convention] | None = None) -> list[Path]:
    """Write every example workbook (or `conventions`, from `example_conventions`) into `folder`
    (created when missing); returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, conv in (conventions if conventions is not None else example_conventions()).items():
        path = folder / name
        build_workbook(path, conv, mention=MENTION)
        paths.append(path)
    return paths
