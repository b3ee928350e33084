"""The workbook contract as data (docs/classeur.md).

This module is the only place in the code base where a sheet name, table name, header text,
list value or named cell is written. The template builder iterates it, the reader looks headers
up in it, the rules, UDFs, annex and consolidation name columns through it, and the tests check
it against the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum

TEMPLATE_VERSION = "2026.2"
# Versions this tool can read; older ones get STR-05 A (migration), unknown/newer STR-05 E.
KNOWN_VERSIONS = ("2026.1", "2026.2")
# Every version of the template, oldest first, with what it changed. A new version adds its line
# here, its step in `acv_xl.history.migration.STEPS` (from the version before it) and a test
# migrating a workbook of the version before (tests/test_migration.py checks the three agree).
TEMPLATE_VERSIONS: tuple[tuple[str, str], ...] = (
    ("2026.1", "Première version : onze feuilles, dix tableaux, seize cellules nommées, listes de choix, "
               "formules de la Synthèse, boutons « Valider » et « Générer l'annexe »."),
    ("2026.2", "Listes étendues (natures « Avance remboursable », « Recette / cession », « Apport en nature » ; "
               "dérogation « Corse » ; financeurs ADEME, EAU, SNCF et nouveaux dispositifs), feuille masquée "
               "« Données validées », mise en page d'impression (A4 paysage, 8 points au moins)."),
)


class Kind(str, Enum):
    """How a cell is parsed and formatted."""

    TEXT = "text"
    CHOICE = "choice"  # one value of `choices`
    AMOUNT = "amount"  # euros, Decimal to the cent
    NUMBER = "number"  # area, population, indicator values
    YEAR = "year"
    DATE = "date"
    AXE = "axe"  # 1..5, accepts "3", "Axe 3" and the official label


# --------------------------------------------------------------------------- sheets
class Sheet:
    ACCUEIL = "Accueil"
    PROJET = "Projet"
    DIAGNOSTIC = "Diagnostic"
    PERIMETRES = "Périmètres"
    ACTIONS = "Fiches-actions"
    INDICATEURS = "Indicateurs"
    FINANCEMENT = "Plan de financement"
    FINANCEURS = "Financeurs"
    GOUVERNANCE = "Gouvernance"
    SYNTHESE = "Synthèse"
    CONTROLES = "Contrôles"


SHEETS: tuple[str, ...] = (
    Sheet.ACCUEIL,
    Sheet.PROJET,
    Sheet.DIAGNOSTIC,
    Sheet.PERIMETRES,
    Sheet.ACTIONS,
    Sheet.INDICATEURS,
    Sheet.FINANCEMENT,
    Sheet.FINANCEURS,
    Sheet.GOUVERNANCE,
    Sheet.SYNTHESE,
    Sheet.CONTROLES,
)


# --------------------------------------------------------------------------- lists
class L:
    """The contract's lists of allowed values."""

    ROLE_COMMUNE = ("Ville centre", "Commune associée")
    TYPE_DIAGNOSTIC = ("Existant", "Étude complémentaire")
    ETAT_DIAGNOSTIC = ("À lancer", "En cours", "Finalisé")
    TYPE_PERIMETRE = (
        "Étude",
        "ORT",
        "Secteur prioritaire",
        "Quartier de gare",
        "Entrée de ville",
        "Secteur contigu",
    )
    ECHELLE = ("Bassin de vie", "EPCI", "Commune", "Centre-ville", "Quartier")
    TYPE_MO = (
        "Commune",
        "EPCI",
        "Département",
        "Région",
        "Syndicat mixte",
        "État",
        "Établissement public",
        "Bailleur social",
        "SEM / SPL",
        "Privé",
        "Association",
    )
    MATURITE = ("Mature", "En préparation", "Engagée", "En cours", "Terminée", "Abandonnée")
    BASE = ("HT", "TTC")
    DEROGATION = (
        "Aucune",
        "ANRU",
        "Monument protégé",
        "Patrimoine non protégé",
        "Calamité publique",
        "Rénovation énergétique scolaire",
        "Corse",
    )
    NATURE = ("Subvention", "Prêt", "Fonds propres", "Autofinancement", "Portage foncier", "Autre",
              "Avance remboursable", "Recette / cession", "Apport en nature")
    STATUT = ("Prévisionnel", "Sollicité", "Acquis", "Engagé", "Versé", "Refusé")
    CATEGORIE = ("Public", "Privé")
    OUI_NON = ("Oui", "Non")
    INSTANCE = ("Comité de projet", "Équipe de projet", "Comité régional d'engagement")
    COLLEGE = ("Élus", "Directeur de projet", "État", "Partenaire financeur", "Autre")
    GRAVITE = ("Erreur", "Avertissement", "Information")
    PROGRAMME = ("ACV 1", "ACV 2")
    STATUT_VALIDATION = ("Non validé", "Validé", "Erreurs à corriger")


# Semantic subsets used by rules and totals (values of the lists above).
STATUT_REFUSE = "Refusé"
STATUT_VERSE = "Versé"
STATUTS_ACQUIS = ("Acquis", "Engagé", "Versé")
MO_PUBLICS_L1111_10 = ("Commune", "EPCI", "Département", "Région", "Syndicat mixte")
NATURE_SUBVENTION = "Subvention"
NATURE_AUTOFINANCEMENT = "Autofinancement"
NATURE_AUTRE = "Autre"
NATURES_PART_PROPRE = ("Autofinancement", "Prêt", "Fonds propres")  # before the MO's code decides: see below
# How each nature counts for CGCT L1111-10 (`totals.part_mo`; docs/regles.md gives the table):
# repaid by the maître d'ouvrage, whoever lends: its own share
NATURES_REMBOURSEES = ("Prêt", "Avance remboursable")
# its own money only when the financeur IS the maître d'ouvrage; another public body's is a public participation
NATURES_APPORT = ("Autofinancement", "Fonds propres", "Apport en nature")
# the operation's own revenue (a sale price, a receipt), kept by the maître d'ouvrage whoever pays it
NATURES_RECETTE = ("Recette / cession",)
# L1111-10 dérogations (values of L.DEROGATION)
DEROGATION_AUCUNE = "Aucune"
DEROGATION_ANRU = "ANRU"
DEROGATIONS_PREFET = ("Monument protégé", "Patrimoine non protégé", "Calamité publique")
DEROGATION_SCOLAIRE = "Rénovation énergétique scolaire"
DEROGATION_CORSE = "Corse"
# L1111-10 III: the collectivités of these territories are exempt (codes of `acv_departement`)
DEPARTEMENTS_OUTRE_MER = ("971", "972", "973", "974", "975", "976", "977", "978")
DEPARTEMENTS_CORSE = ("2A", "2B")
# The financeur code that IS a maître d'ouvrage of this type (its autofinancement is its own share)
CODE_DU_MO: dict[str, str] = {"Commune": "COMMUNE", "EPCI": "EPCI", "Département": "DEPT", "Région": "REGION"}
PERIMETRES_SI_POSSIBLE_ORT = ("Quartier de gare", "Entrée de ville")  # PER-02: instruction of 24 May 2023
MATURITES_SIGNEES = ("Engagée", "En cours", "Terminée")
MATURITE_ABANDONNEE = "Abandonnée"
MATURITE_MATURE = "Mature"
DIAGNOSTIC_ETUDE = "Étude complémentaire"
DIAGNOSTIC_FINALISE = "Finalisé"
PERIMETRE_ETUDE = "Étude"
PERIMETRE_ORT = "ORT"
PERIMETRE_PRIORITAIRE = "Secteur prioritaire"
ECHELLES_SOUS_EPCI = ("Commune", "Centre-ville", "Quartier")
INSTANCE_COMITE_PROJET = "Comité de projet"


# --------------------------------------------------------------------------- axes
AXES: dict[int, str] = {
    1: "De la réhabilitation à la restructuration : vers une offre attractive de l'habitat en centre-ville",
    2: "Favoriser un développement économique et commercial équilibré",
    3: "Développer l'accessibilité, la mobilité et les connexions",
    4: "Mettre en valeur les formes urbaines, l'espace public et le patrimoine",
    5: "Fournir l'accès aux équipements et services publics",
}
# Other official wordings accepted for an axe (the seed uses the longer label of axe 5).
AXES_VARIANTES: dict[int, tuple[str, ...]] = {
    5: ("Fournir l'accès aux équipements, aux services publics, à l'offre culturelle et de loisirs",),
}
AXE_CHOICES: tuple[str, ...] = tuple(f"Axe {n}" for n in AXES)
# The Synthèse's line for the lines whose action's axe its formulas do not recognise (they compare the
# axe with « Axe n » and with the number n, as Excel compares: without case) — ACT-15 names it
SYNTHESE_AXE_AUTRES = "Axe non reconnu ou action inconnue"
SYNTHESE_FINANCEUR_AUTRES = "Autres codes ou code non renseigné"
SYNTHESE_STATUT_AUTRES = "Statut non renseigné ou hors liste"

# Programme periods: (first year, end of deployment)
PROGRAMMES: dict[str, tuple[int, date]] = {
    "ACV 1": (2018, date(2022, 12, 31)),
    "ACV 2": (2023, date(2026, 12, 31)),
}


# --------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Column:
    header: str
    attr: str  # attribute name in the model
    kind: Kind = Kind.TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    width: float = 16
    note: str = ""  # input message shown by the template


@dataclass(frozen=True)
class Table:
    name: str
    sheet: str
    columns: tuple[Column, ...]
    anchor: str = "A3"  # top-left cell of the header row in the template
    user_filled: bool = True  # part of the fingerprint
    min_rows: int = 1  # empty data rows in the blank template

    def column(self, attr: str) -> Column:
        for c in self.columns:
            if c.attr == attr:
                return c
        raise KeyError(attr)

    def header(self, attr: str) -> str:
        return self.column(attr).header

    def position(self, attr: str) -> int:
        """The column's place in the table, 0 for the first (its letter: the anchor's column + this)."""
        return self.columns.index(self.column(attr))

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns)


def _c(header, attr, kind=Kind.TEXT, required=False, choices=(), width=16, note=""):
    return Column(header, attr, kind, required, tuple(choices), width, note)


T_COMMUNES = Table(
    "T_Communes",
    Sheet.PROJET,
    (
        _c("Code INSEE", "code_insee", required=True, width=14, note="5 caractères, ex. 62041"),
        _c("Commune", "commune", required=True, width=28),
        _c("Rôle", "role", Kind.CHOICE, True, L.ROLE_COMMUNE, 20),
    ),
    anchor="A20",
)

T_DIAGNOSTIC = Table(
    "T_Diagnostic",
    Sheet.DIAGNOSTIC,
    (
        _c("Axe", "axe", Kind.AXE, True, AXE_CHOICES, 10),
        _c("Élément de diagnostic", "element", required=True, width=36),
        _c("Source", "source", width=24),
        _c("Date", "date_source", Kind.DATE, width=12),
        _c("Constat", "constat", width=40),
        _c("Type", "type", Kind.CHOICE, True, L.TYPE_DIAGNOSTIC, 20),
        _c("Coût estimé (€ HT)", "cout_estime", Kind.AMOUNT, width=18),
        _c("Financeur pressenti", "financeur_pressenti", width=18),
        _c("État", "etat", Kind.CHOICE, False, L.ETAT_DIAGNOSTIC, 12),
    ),
)

T_PERIMETRES = Table(
    "T_Perimetres",
    Sheet.PERIMETRES,
    (
        _c("Code", "code", required=True, width=10),
        _c("Type", "type", Kind.CHOICE, True, L.TYPE_PERIMETRE, 20),
        _c("Nom", "nom", required=True, width=32),
        _c("Périmètre parent", "parent", width=16, note="Code du périmètre qui le contient"),
        _c("Échelle", "echelle", Kind.CHOICE, False, L.ECHELLE, 16),
        _c("Communes (INSEE)", "communes", width=20, note="Codes INSEE séparés par « ; », ex. 62041 ; 62498"),
        _c("Superficie (ha)", "superficie", Kind.NUMBER, width=14),
        _c("Population", "population", Kind.NUMBER, width=12),
        _c("Date de validation", "date_validation", Kind.DATE, width=14),
    ),
)

T_ACTIONS = Table(
    "T_Actions",
    Sheet.ACTIONS,
    (
        _c("N° action", "numero", required=True, width=10, note="Ex. 1.2 (axe.rang)"),
        _c("Intitulé", "intitule", required=True, width=40),
        _c("Axe", "axe", Kind.AXE, True, AXE_CHOICES, 10),
        _c("Axe transversal", "axe_transversal", width=18),
        _c("Périmètre", "perimetre", width=12, note="Code d'un périmètre de la feuille Périmètres"),
        _c("Maître d'ouvrage", "maitre_ouvrage", required=True, width=26),
        _c("Type de maître d'ouvrage", "type_mo", Kind.CHOICE, True, L.TYPE_MO, 20),
        _c("Description", "description", width=40),
        _c("Maturité", "maturite", Kind.CHOICE, False, L.MATURITE, 16),
        _c("Date de début", "date_debut", Kind.DATE, width=13),
        _c("Date de fin", "date_fin", Kind.DATE, width=13),
        _c("Base", "base", Kind.CHOICE, True, L.BASE, 8),
        _c("Coût total (€)", "cout_total", Kind.AMOUNT, True, width=18),
        _c("Dépense subventionnable (€ HT)", "depense_subventionnable", Kind.AMOUNT, width=20),
        _c("Dérogation L1111-10", "derogation", Kind.CHOICE, False, L.DEROGATION, 30),
        _c("Cosignataires", "cosignataires", width=24,
           note="Codes des financeurs séparés par « ; », ex. ETAT ; REGION"),
        _c("Date de signature", "date_signature", Kind.DATE, width=14),
    ),
)

T_INDICATEURS = Table(
    "T_Indicateurs",
    Sheet.INDICATEURS,
    (
        _c("N° action", "numero", required=True, width=10),
        _c("Indicateur", "indicateur", required=True, width=40),
        _c("Unité", "unite", width=14),
        _c("Valeur initiale", "valeur_initiale", Kind.NUMBER, width=14),
        _c("Valeur cible", "valeur_cible", Kind.NUMBER, width=14),
        _c("Année cible", "annee_cible", Kind.YEAR, width=12),
    ),
)

T_FINANCEMENTS = Table(
    "T_Financements",
    Sheet.FINANCEMENT,
    (
        _c("N° action", "numero", required=True, width=10),
        _c("Financeur", "financeur", Kind.CHOICE, True, width=12, note="Code de la feuille Financeurs"),
        _c("Dispositif", "dispositif", width=22),
        _c("Nature", "nature", Kind.CHOICE, True, L.NATURE, 19),
        _c("Année", "annee", Kind.YEAR, True, width=9),
        _c("Montant (€)", "montant", Kind.AMOUNT, True, width=18),
        _c("Statut", "statut", Kind.CHOICE, True, L.STATUT, 14),
        _c("Date de la demande", "date_demande", Kind.DATE, width=14),
        _c("Référence de la décision", "reference_decision", width=22),
        _c("Commentaire", "commentaire", width=30),
    ),
)

T_FINANCEURS = Table(
    "T_Financeurs",
    Sheet.FINANCEURS,
    (
        _c("Code", "code", required=True, width=12),
        _c("Nom du financeur", "nom", required=True, width=36),
        _c("Catégorie", "categorie", Kind.CHOICE, True, L.CATEGORIE, 12),
        _c("Cible(s) des financements possibles", "cibles", width=36),
        _c("Modalités de mobilisation", "modalites", width=36),
        _c("Contact", "contact", width=24),
    ),
)

T_DISPOSITIFS = Table(
    "T_Dispositifs",
    Sheet.FINANCEURS,
    (
        _c("Financeur", "financeur", required=True, width=12),
        _c("Dispositif", "dispositif", required=True, width=30),
        _c("Nature", "nature", Kind.CHOICE, True, L.NATURE, 19),
        _c("Dotation R2334-27", "dotation_r2334_27", Kind.CHOICE, True, L.OUI_NON, 18),
    ),
    anchor="I3",
)

T_GOUVERNANCE = Table(
    "T_Gouvernance",
    Sheet.GOUVERNANCE,
    (
        _c("Instance", "instance", Kind.CHOICE, True, L.INSTANCE, 26),
        _c("Organisme", "organisme", required=True, width=30),
        _c("Nom", "nom", width=24),
        _c("Fonction", "fonction", width=28),
        _c("Collège", "college", Kind.CHOICE, True, L.COLLEGE, 20),
        _c("Courriel", "courriel", width=30),
    ),
)

T_CONTROLES = Table(
    "T_Controles",
    Sheet.CONTROLES,
    (
        _c("Gravité", "gravite", Kind.CHOICE, False, L.GRAVITE, 14),
        _c("Code", "code", width=10),
        _c("Feuille", "feuille", width=20),
        _c("Cellule", "cellule", width=10),
        _c("N° action", "action", width=10),
        _c("Message", "message", width=80),
        _c("Suggestion", "suggestion", width=40),
    ),
    user_filled=False,
)

TABLES: tuple[Table, ...] = (
    T_COMMUNES,
    T_DIAGNOSTIC,
    T_PERIMETRES,
    T_ACTIONS,
    T_INDICATEURS,
    T_FINANCEMENTS,
    T_FINANCEURS,
    T_DISPOSITIFS,
    T_GOUVERNANCE,
    T_CONTROLES,
)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


# --------------------------------------------------------------------------- named cells
@dataclass(frozen=True)
class NamedCell:
    name: str
    label: str
    sheet: str
    cell: str  # absolute A1 without $ (the builder adds them)
    kind: Kind = Kind.TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    user_filled: bool = True  # False: written by Valider, left out of the fingerprint


def _n(name, label, sheet, cell, kind=Kind.TEXT, required=False, choices=(), user_filled=True):
    return NamedCell(name, label, sheet, cell, kind, required, tuple(choices), user_filled)


NAMED_CELLS: tuple[NamedCell, ...] = (
    _n("acv_version_modele", "Version du modèle", Sheet.ACCUEIL, "C21", required=True),
    _n("acv_statut", "Statut de validation", Sheet.ACCUEIL, "C22", Kind.CHOICE, choices=L.STATUT_VALIDATION, user_filled=False),
    _n("acv_date_validation", "Date de validation", Sheet.ACCUEIL, "C23", Kind.DATE, user_filled=False),
    _n("acv_empreinte", "Empreinte des données validées", Sheet.ACCUEIL, "C24", user_filled=False),
    _n("acv_programme", "Programme", Sheet.PROJET, "B3", Kind.CHOICE, True, L.PROGRAMME),
    _n("acv_id", "Identifiant de la convention (ACV + 3 chiffres)", Sheet.PROJET, "B4", required=True),
    _n("acv_libelle", "Libellé de la convention", Sheet.PROJET, "B5", required=True),
    _n("acv_departement", "Département (code)", Sheet.PROJET, "B6", required=True),
    _n("acv_epci", "EPCI", Sheet.PROJET, "B7", required=True),
    _n("acv_siren_epci", "SIREN de l'EPCI", Sheet.PROJET, "B8"),
    _n("acv_directeur_projet", "Directeur de projet", Sheet.PROJET, "B9", required=True),
    _n("acv_referent_etat", "Référent de l'État", Sheet.PROJET, "B10"),
    _n("acv_date_convention", "Date de signature de la convention-cadre", Sheet.PROJET, "B11", Kind.DATE, True),
    _n("acv_date_fin_initialisation", "Fin de la phase d'initialisation", Sheet.PROJET, "B12", Kind.DATE),
    _n("acv_date_fin_deploiement", "Fin de la phase de déploiement", Sheet.PROJET, "B13", Kind.DATE, True),
    _n("acv_date_comite", "Date du prochain comité d'engagement", Sheet.PROJET, "B14", Kind.DATE),
)
NAMED_BY_NAME: dict[str, NamedCell] = {n.name: n for n in NAMED_CELLS}


# --------------------------------------------------------------------------- reference funders
@dataclass(frozen=True)
class Dispositif:
    nom: str
    nature: str
    r2334_27: bool = False


@dataclass(frozen=True)
class FinanceurRef:
    code: str
    nom: str
    categorie: str
    cibles: str
    modalites: str
    dispositifs: tuple[Dispositif, ...] = field(default_factory=tuple)


def _d(nom, nature="Subvention", r=False):
    return Dispositif(nom, nature, r)


FINANCEURS: tuple[FinanceurRef, ...] = (
    FinanceurRef(
        "ETAT", "État (préfecture, DDTM, DRAC)", "Public",
        "Communes et EPCI ; opérations d'investissement",
        "Dossier de demande auprès de la préfecture (appel à projets annuel DETR/DSIL)",
        (_d("DSIL", r=True), _d("DETR", r=True), _d("DPV", r=True), _d("DSID", r=True),
         _d("FNADT"), _d("Fonds vert"), _d("FRLA"), _d("DRAC"),
         _d("Fonds friches"), _d("DGD bibliothèques"), _d("Fonds mobilités actives"),
         _d("PLUS / PLAI (aides à la pierre)")),
    ),
    FinanceurRef(
        "CDC", "Banque des Territoires (Caisse des Dépôts)", "Public",
        "Collectivités, SEM, bailleurs, foncières",
        "Demande auprès de la direction régionale de la Banque des Territoires",
        (_d("Ingénierie"), _d("PRU ACV", "Prêt"), _d("Prêt Projet Urbain", "Prêt"),
         _d("Investissement", "Fonds propres"), _d("Prêt PLUS / PLAI", "Prêt")),
    ),
    FinanceurRef(
        "AL", "Action Logement", "Privé",
        "Bailleurs sociaux et investisseurs privés (immeubles du centre-ville)",
        "Convention immobilière avec la ville et l'EPCI",
        (_d("Prêt", "Prêt"), _d("Subvention")),
    ),
    FinanceurRef(
        "ANAH", "Agence nationale de l'habitat (Anah)", "Public",
        "Propriétaires, copropriétés, collectivités (ingénierie)",
        "Délégation locale de l'Anah (DDTM)",
        (_d("OPAH-RU"), _d("RHI-THIRORI"), _d("ORI"), _d("Aides aux propriétaires"),
         _d("Chef de projet ACV"), _d("VIR / DIIF")),
    ),
    FinanceurRef(
        "ANRU", "Agence nationale pour la rénovation urbaine (ANRU)", "Public",
        "Quartiers du NPNRU", "Convention NPNRU",
        (_d("NPNRU"),),
    ),
    FinanceurRef(
        "EPF", "EPF Hauts-de-France", "Public",
        "Collectivités (foncier, friches)", "Convention opérationnelle avec l'EPF",
        (_d("Portage foncier", "Portage foncier"), _d("Minoration foncière")),
    ),
    FinanceurRef(
        "REGION", "Région Hauts-de-France", "Public",
        "Communes et EPCI", "Dossier auprès des services régionaux",
        (_d("Aménagement du territoire"), _d("Redynamisation des centres-villes"),
         _d("Avance remboursable", "Avance remboursable")),
    ),
    FinanceurRef(
        "DEPT", "Département du Pas-de-Calais", "Public",
        "Communes et EPCI", "Dossier auprès des services départementaux",
        (_d("Aide aux projets des territoires"),),
    ),
    FinanceurRef(
        "EPCI", "EPCI (intercommunalité)", "Public",
        "Communes membres", "Délibération du conseil communautaire",
        (_d("Fonds de concours"), _d("Autofinancement", "Autofinancement"), _d("Emprunt", "Prêt"),
         _d("Apport en nature", "Apport en nature")),
    ),
    FinanceurRef(
        "COMMUNE", "Commune", "Public",
        "Ses propres opérations", "Inscription au budget communal",
        (_d("Autofinancement", "Autofinancement"), _d("Emprunt", "Prêt"), _d("Fonds de concours"),
         _d("Recette / cession", "Recette / cession"), _d("Apport en nature", "Apport en nature")),
    ),
    FinanceurRef(
        "UE", "Union européenne (FEDER)", "Public",
        "Projets éligibles au programme opérationnel régional",
        "Dossier auprès de l'autorité de gestion (Région)",
        (_d("FEDER"), _d("Interreg (coopération territoriale européenne)")),
    ),
    FinanceurRef(
        "PRIVE", "Investisseurs privés", "Privé",
        "Opérations privées", "Apport du porteur privé",
        (_d("Apport privé", "Fonds propres"), _d("Mécénat")),
    ),
    FinanceurRef("AUTRE", "Autre financeur", "Public", "", "", (_d("Autre", "Autre"),)),
    # added by acv-xl after the contract's list (kept first, in its order)
    FinanceurRef(
        "ADEME", "Agence de la transition écologique (ADEME)", "Public",
        "Collectivités, entreprises (chaleur renouvelable, friches, économie circulaire)",
        "Appels à projets et aides de la direction régionale de l'ADEME",
        (_d("Fonds chaleur"), _d("Aide de l'ADEME")),
    ),
    FinanceurRef(
        "EAU", "Agence de l'eau Artois-Picardie", "Public",
        "Collectivités (eau, assainissement, désimperméabilisation)", "Dossier auprès de l'agence de l'eau",
        (_d("Aide de l'agence de l'eau"),),
    ),
    # a société anonyme (capital public, droit privé): not a « personne publique » of L1111-10
    FinanceurRef(
        "SNCF", "SNCF Gares & Connexions", "Privé",
        "Quartiers de gare (parvis, pôles d'échanges)", "Convention de financement avec SNCF Gares & Connexions",
        (_d("Participation SNCF Gares & Connexions"),),
    ),
)
FINANCEURS_BY_CODE: dict[str, FinanceurRef] = {f.code: f for f in FINANCEURS}
# The reference funders a version of the template added (`TEMPLATE_VERSIONS`): the Synthèse of a workbook
# of an older version has no row for them, and counts them on its « Autres codes… » line
FINANCEURS_AJOUTES: dict[str, tuple[str, ...]] = {"2026.2": ("ADEME", "EAU", "SNCF")}


def synthese_financeurs(version: object) -> tuple[str, ...]:
    """The codes the Synthèse of a workbook of `version` has a row for: the current template's when the
    version is not one of `KNOWN_VERSIONS` (STR-05 says so)."""
    if version not in KNOWN_VERSIONS:
        return tuple(FINANCEURS_BY_CODE)
    later = {c for v, codes in FINANCEURS_AJOUTES.items() if KNOWN_VERSIONS.index(v) > KNOWN_VERSIONS.index(version)
             for c in codes}
    return tuple(c for c in FINANCEURS_BY_CODE if c not in later)
# The category of each reference funder but AUTRE (whose category the user gives the funder he files
# there): the État or the Région is public whatever the Financeurs sheet says — the L1111-10 base and the
# 100 % cap of public aid read it (FIN-18 warns of a changed one)
CATEGORIES_FIXES: dict[str, str] = {f.code: f.categorie for f in FINANCEURS if f.code != "AUTRE"}
# The reference list of funders is the Pas-de-Calais's (the template's); outside it, the territorial
# funders are named without a territory (a département 59 report must not say « Pas-de-Calais »).
DEPARTEMENT_DE_LA_LISTE = "62"
NOMS_HORS_DEPARTEMENT = {"REGION": "Région", "DEPT": "Département", "EPF": "Établissement public foncier (EPF)"}


def nom_financeur(code: str, departements: "set[str] | frozenset[str]") -> str | None:
    """The name of a reference funder in a report covering `departements` (codes), or None."""
    ref = FINANCEURS_BY_CODE.get(code)
    if ref is None:
        return None
    if code in NOMS_HORS_DEPARTEMENT and set(departements) != {DEPARTEMENT_DE_LA_LISTE}:
        return NOMS_HORS_DEPARTEMENT[code]
    return ref.nom


PARTENAIRES_NATIONAUX = ("CDC", "AL", "ANAH", "ANRU")
PARTENAIRES_DU_COMITE = PARTENAIRES_NATIONAUX + ("EPF",)  # GOU-01: each one that funds the plan
DISPOSITIFS_DETR_DSIL = ("DETR", "DSIL")
CODE_ETAT = "ETAT"  # FIN-20: the État's subsidies are all recognised, or reported

# Families of dispositifs, recognised by meaning (`contract.dispositifs.famille`): a name is folded
# (case, accents, punctuation, spaces, small words such as « de », « l' ») and a family matches when
# one of its phrases, folded alike, appears in it as whole words. First match wins: the order puts
# the precise phrases first.
FAMILLE_DETR, FAMILLE_DSIL, FAMILLE_DPV, FAMILLE_DSID = "DETR", "DSIL", "DPV", "DSID"
FAMILLES_R2334_27 = (FAMILLE_DETR, FAMILLE_DSIL, FAMILLE_DPV, FAMILLE_DSID)  # FIN-07, FIN-08, FIN-14
FAMILLE_FONDS_CONCOURS = "Fonds de concours"
FAMILLE_INTERREG = "Interreg"
FAMILLE_ANAH_CHEF_PROJET = "Chef de projet ACV (Anah)"
FAMILLES_DECRET_2018_514 = ("FNADT", "Fonds vert", "Fonds friches", "FRLA", "DRAC", "Fonds mobilités actives")
FAMILLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # the plural (« aux investissements locaux ») as often as the singular of the texts
    (FAMILLE_DSID, ("dsid", "soutien a l investissement des departements",
                    "soutien a l investissement departemental", "soutien aux investissements des departements")),
    # « DSIPL », « FSIPL », « FSIL »: the fonds de soutien à l'investissement (public) local of 2016, the
    # DSIL since
    (FAMILLE_DSIL, ("dsil", "dsipl", "fsipl", "fsil", "soutien a l investissement local",
                    "soutien a l investissement public local", "soutien aux investissements locaux",
                    "soutien aux investissements publics locaux")),
    (FAMILLE_DETR, ("detr", "equipement des territoires ruraux")),
    (FAMILLE_DPV, ("dpv", "dotation politique de la ville", "dotation de la politique de la ville",
                   "dotation de politique de la ville")),
    ("FNADT", ("fnadt", "fonds national d amenagement et de developpement du territoire")),
    ("Fonds friches", ("fonds friches", "fonds friche", "recyclage des friches", "recyclage foncier")),
    ("Fonds vert", ("fonds vert", "fonds d acceleration de la transition ecologique")),
    ("FRLA", ("frla", "restructuration des locaux d activite")),
    ("DRAC", ("drac", "affaires culturelles", "monuments historiques", "monument historique")),
    ("Fonds mobilités actives", ("mobilites actives", "mobilite active")),
    ("DGD bibliothèques", ("dgd", "bibliotheques publiques")),
    ("PLUS / PLAI", ("plai", "aides a la pierre", "aide a la pierre")),
    (FAMILLE_FONDS_CONCOURS, ("fonds de concours",)),
    (FAMILLE_INTERREG, ("interreg", "cooperation territoriale europeenne")),
    ("FEDER", ("feder", "fonds europeen de developpement regional")),
    (FAMILLE_ANAH_CHEF_PROJET, ("chef de projet",)),
    ("VIR / DIIF", ("vir", "diif", "vente d immeuble a renover", "intervention immobiliere et fonciere")),
)
# First year a dispositif could fund a line (the demonstration workbooks use none before it):
# DETR, loi de finances pour 2011 art. 179; DSIL, loi de finances pour 2016 (fonds de soutien à
# l'investissement public local); DSID, loi de finances pour 2019; PRU ACV, with the programme
# (2018); FRLA, March 2021; Fonds vert, 2023.
DISPOSITIFS_CREATION: dict[str, int] = {
    "DETR": 2011, "DSIL": 2016, "DSID": 2019, "PRU ACV": 2018, "FRLA": 2021, "Fonds vert": 2023,
}
FCTVA_MARKERS = ("FCTVA",)  # FIN-10


def axe_label(n: int) -> str:
    return f"Axe {n} — {AXES[n]}"


def programme_years(programme: str | None) -> range | None:
    if programme not in PROGRAMMES:
        return None
    first, end = PROGRAMMES[programme]
    return range(first, end.year + 1)


# --------------------------------------------------------------------------- buttons
@dataclass(frozen=True)
class Button:
    script: str  # the xlwings script it runs
    shape: str  # shape name in the drawing (xlwings binds `[shape]Sheet!cell`)
    sheet: str
    cell: str  # the cell the shape covers and links to (relative, no $)
    caption: str

    @property
    def binding(self) -> str:
        """The `button=` argument of `@script`."""
        return f"[{self.shape}]{self.sheet}!{self.cell}"


BUTTONS: tuple[Button, ...] = (
    Button("valider", "btnValider", Sheet.ACCUEIL, "B17", "Valider"),
    Button("generer_annexe", "btnAnnexe", Sheet.ACCUEIL, "E17", "Générer l'annexe"),
)
BUTTONS_BY_SCRIPT: dict[str, Button] = {b.script: b for b in BUTTONS}


# --------------------------------------------------------------------------- comparison keys
# How two states of a convention are matched row by row (evolution.md, « What a change is »):
# table → the attributes of its key columns. Rows sharing a key are paired in order.
COMPARISON_KEYS: dict[str, tuple[str, ...]] = {
    T_COMMUNES.name: ("code_insee",),
    T_DIAGNOSTIC.name: ("axe", "element"),
    T_PERIMETRES.name: ("code",),
    T_ACTIONS.name: ("numero",),
    T_INDICATEURS.name: ("numero", "indicateur"),
    T_FINANCEMENTS.name: ("numero", "financeur", "dispositif", "nature", "annee"),
    T_FINANCEURS.name: ("code", "nom"),  # their first two columns
    T_DISPOSITIFS.name: ("financeur", "dispositif"),
    T_GOUVERNANCE.name: ("instance", "organisme"),
}
# The key of a named cell in a change (`cle`): {NAMED_CELL_KEY: "acv_libelle"}.
NAMED_CELL_KEY = "nom"

# The hidden sheet where « Valider » keeps the validated data (to list what changed since). Not in
# SHEETS: a workbook without it is complete, and the reader never takes it for data.
SNAPSHOT_SHEET = "Données validées"
