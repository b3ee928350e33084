"""Conventions built in memory for the rule tests: a clean minimal one, from raw dicts, that a test
tweaks one value at a time.

`clean_raw()` returns plain data (named cells and one list of raw dicts per table); `build(raw)`
turns it into a `Convention` through `model.build_row` / `build_named`, giving every value the A1
address it would have in the template (table anchors of `layout`, one row per line). Its identity
is Arras's in the national list (ACV014). The clean convention sits on several boundaries on purpose: action 1.1 has exactly 20 % own share
(CGCT L1111-10), action 2.1 exactly 80 % of State dotations (R2334-27) and exactly 20 % DETR.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from acv_xl.contract import layout
from acv_xl.checks.findings import Finding
from acv_xl.contract.model import ROW_MODELS, Convention, build_named, build_row
from acv_xl.checks.rules import run_rules
from acv_xl.reading.source import a1, parse_a1


def clean_raw() -> dict[str, Any]:
    names = {
        "acv_version_modele": layout.TEMPLATE_VERSION,
        "acv_statut": "Non validé",
        "acv_date_validation": None,
        "acv_empreinte": None,
        "acv_programme": "ACV 2",
        "acv_id": "ACV014",  # Arras in the national list (its SIREN, département and ORT too)
        "acv_libelle": "Arras",
        "acv_departement": "62",
        "acv_epci": "Communauté urbaine d'Arras",
        "acv_siren_epci": "200033579",
        "acv_directeur_projet": "Marie Durand",
        "acv_referent_etat": "Paul Martin",
        "acv_date_convention": date(2023, 6, 15),
        "acv_date_fin_initialisation": date(2024, 6, 30),
        "acv_date_fin_deploiement": date(2026, 12, 31),
        "acv_date_comite": date(2024, 3, 1),
    }
    communes = [{"code_insee": "62041", "commune": "Arras", "role": "Ville centre"}]
    diagnostic = [
        {"axe": f"Axe {n}", "element": f"Élément de l'axe {n}", "source": "Étude Cerema", "date_source": date(2023, 1, 10),
         "constat": "Constat", "type": "Existant", "cout_estime": None, "financeur_pressenti": None, "etat": "Finalisé"}
        for n in range(1, 6)
    ]
    perimetres = [
        {"code": "E1", "type": "Étude", "nom": "Communauté urbaine d'Arras", "parent": None, "echelle": "EPCI",
         "communes": "62041", "superficie": 33000, "population": 108000, "date_validation": date(2023, 6, 15)},
        {"code": "O1", "type": "ORT", "nom": "Centre-ville d'Arras", "parent": "E1", "echelle": "Centre-ville",
         "communes": "62041", "superficie": 400, "population": 20000, "date_validation": date(2023, 6, 15)},
        {"code": "S1", "type": "Secteur prioritaire", "nom": "Quartier de la gare", "parent": "O1", "echelle": "Quartier",
         "communes": "62041", "superficie": 60, "population": 4000, "date_validation": date(2023, 6, 15)},
    ]
    actions = [
        {"numero": "1.1", "intitule": "Réhabilitation d'îlots dégradés", "axe": "Axe 1", "axe_transversal": None,
         "perimetre": "S1", "maitre_ouvrage": "Ville d'Arras", "type_mo": "Commune", "description": "Îlots",
         "maturite": "En préparation", "date_debut": date(2024, 1, 15), "date_fin": date(2026, 6, 30), "base": "HT",
         "cout_total": 1_000_000, "depense_subventionnable": 1_000_000, "derogation": "Aucune",
         "cosignataires": "ETAT;REGION", "date_signature": None},
        {"numero": "2.1", "intitule": "Halle commerciale", "axe": "Axe 2", "axe_transversal": None,
         "perimetre": "O1", "maitre_ouvrage": "CU d'Arras", "type_mo": "EPCI", "description": "Halle",
         "maturite": "En préparation", "date_debut": date(2024, 3, 1), "date_fin": date(2025, 12, 31), "base": "HT",
         "cout_total": 500_000, "depense_subventionnable": 500_000, "derogation": "Aucune",
         "cosignataires": "ETAT;CDC", "date_signature": None},
    ]
    indicateurs = [
        {"numero": "1.1", "indicateur": "Logements réhabilités", "unite": "logements", "valeur_initiale": 0,
         "valeur_cible": 40, "annee_cible": 2026},
        {"numero": "2.1", "indicateur": "Cellules commerciales occupées", "unite": "cellules", "valeur_initiale": 2,
         "valeur_cible": 12, "annee_cible": 2026},
    ]

    def line(numero, financeur, dispositif, nature, montant, annee=2024, statut="Acquis", ref="Arrêté 2024-01"):
        return {"numero": numero, "financeur": financeur, "dispositif": dispositif, "nature": nature, "annee": annee,
                "montant": montant, "statut": statut, "date_demande": date(2023, 11, 1),
                "reference_decision": ref, "commentaire": None}

    financements = [
        # 1.1: own share 200 000 / (200 000 + 800 000 public subsidies) = exactly 20 %
        line("1.1", "COMMUNE", "Autofinancement", "Autofinancement", 200_000),
        # DSIL: Arras (42 600 inhabitants) is above the DETR's 20 000 (FIN-19)
        line("1.1", "ETAT", "DSIL", "Subvention", 500_000),
        line("1.1", "REGION", "Redynamisation des centres-villes", "Subvention", 300_000),
        # 2.1: DETR 100 000 (exactly 20 %) + DSIL 300 000 = exactly 80 % of 500 000
        line("2.1", "EPCI", "Autofinancement", "Autofinancement", 80_000),
        line("2.1", "ETAT", "DETR", "Subvention", 100_000),
        line("2.1", "ETAT", "DSIL", "Subvention", 300_000),
        line("2.1", "CDC", "PRU ACV", "Prêt", 20_000),
    ]
    financeurs = [
        {"code": f.code, "nom": f.nom, "categorie": f.categorie, "cibles": f.cibles, "modalites": f.modalites,
         "contact": None} for f in layout.FINANCEURS
    ]
    dispositifs = [
        {"financeur": f.code, "dispositif": d.nom, "nature": d.nature, "dotation_r2334_27": "Oui" if d.r2334_27 else "Non"}
        for f in layout.FINANCEURS for d in f.dispositifs
    ]
    gouvernance = [
        {"instance": "Comité de projet", "organisme": "Ville d'Arras", "nom": "Le maire", "fonction": "Maire",
         "college": "Élus", "courriel": None},
        {"instance": "Comité de projet", "organisme": "Ville d'Arras", "nom": "Marie Durand",
         "fonction": "Directrice de projet", "college": "Directeur de projet", "courriel": None},
        {"instance": "Comité de projet", "organisme": "Préfecture du Pas-de-Calais", "nom": "Paul Martin",
         "fonction": "Sous-préfet", "college": "État", "courriel": None},
        {"instance": "Comité de projet", "organisme": "Banque des Territoires", "nom": "Anne Leroy",
         "fonction": "Directrice régionale", "college": "Partenaire financeur", "courriel": None},
    ]
    return {
        "names": names,
        "T_Communes": communes,
        "T_Diagnostic": diagnostic,
        "T_Perimetres": perimetres,
        "T_Actions": actions,
        "T_Indicateurs": indicateurs,
        "T_Financements": financements,
        "T_Financeurs": financeurs,
        "T_Dispositifs": dispositifs,
        "T_Gouvernance": gouvernance,
    }


def cell_of(table_name: str, index: int, attr: str, row_offset: int = 0) -> str:
    """The A1 address of line `index` (0-based), column `attr`, in the template layout."""
    table = layout.TABLES_BY_NAME[table_name]
    r0, c0 = parse_a1(table.anchor)
    j = [c.attr for c in table.columns].index(attr)
    return a1(r0 + 1 + index + row_offset, c0 + j)


def build(raw: dict[str, Any], row_offset: int = 0) -> Convention:
    """A Convention from `clean_raw()`-shaped data; `row_offset` shifts every table down (moved tables)."""
    raw = copy.deepcopy(raw)
    conv = Convention(fichier="test.xlsx")
    for name, value in raw["names"].items():
        conv.names[name] = build_named(name, value)
    for table_name, (cls, attr) in ROW_MODELS.items():
        table = layout.TABLES_BY_NAME[table_name]
        r0, c0 = parse_a1(table.anchor)
        lines = []
        for i, values in enumerate(raw.get(table_name, [])):
            cells = {c.attr: cell_of(table_name, i, c.attr, row_offset) for c in table.columns}
            lines.append(build_row(cls, values, cells=cells, sheet=table.sheet, row=r0 + 1 + i + row_offset))
        setattr(conv, attr, lines)
        last = r0 + row_offset + max(len(lines), 1)
        conv.structure.table_refs[table_name] = (
            table.sheet, f"{a1(r0 + row_offset, c0)}:{a1(last, c0 + len(table.columns) - 1)}")
    return conv


def clean() -> Convention:
    return build(clean_raw())


def with_change(table: str, index: int, attr: str, value: Any) -> Convention:
    raw = clean_raw()
    if table == "names":
        raw["names"][attr] = value
    else:
        raw[table][index][attr] = value
    return build(raw)


def findings(conv: Convention, code: str | None = None) -> list[Finding]:
    out = run_rules(conv)
    return [f for f in out if code is None or f.code == code]


def codes(conv: Convention) -> list[str]:
    return [f.code for f in run_rules(conv)]


def line_index(raw: dict, numero: str, financeur: str, dispositif: str | None = None) -> int:
    for i, lf in enumerate(raw["T_Financements"]):
        if lf["numero"] == numero and lf["financeur"] == financeur and (dispositif is None or lf["dispositif"] == dispositif):
            return i
    raise KeyError((numero, financeur, dispositif))


def run(mutate, code=None):
    """Findings (of `code`, or all) of the clean convention after `mutate(raw)` changed it."""
    raw = clean_raw()
    mutate(raw)
    return findings(build(raw), code)
