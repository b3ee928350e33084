"""FIN rules: the plan de financement, with the legal boundaries (to the cent)."""

from __future__ import annotations

from datetime import date

import pytest

from acv_xl.checks.findings import Gravite
from acv_xl.contract.values import ExcelError

from conventions import build, cell_of, clean_raw, run

E, A, I = Gravite.ERREUR, Gravite.AVERTISSEMENT, Gravite.INFORMATION
# line indexes of clean_raw()["T_Financements"]
AUTO_11, DETR_11, REGION_11, AUTO_21, DETR_21, DSIL_21, CDC_21 = range(7)


def only(out):
    return [(f.code, f.gravite, f.feuille, f.cellule, f.action) for f in out]


def lines(r):
    return r["T_Financements"]


def fin_cell(i, attr):
    return cell_of("T_Financements", i, attr)


# --------------------------------------------------------------------------- FIN-01..04
def test_fin01_unknown_action():
    out = run(lambda r: lines(r)[DETR_11].update(numero="1.2"), "FIN-01")
    assert only(out) == [("FIN-01", E, "Plan de financement", fin_cell(DETR_11, "numero"), "1.2")]


def test_fin01_empty_action():
    out = run(lambda r: lines(r)[DETR_11].update(numero=None), "FIN-01")
    assert only(out) == [("FIN-01", E, "Plan de financement", "A5", "")]


def test_fin02_unknown_financeur_with_closest_code():
    out = run(lambda r: lines(r)[DETR_11].update(financeur="Etat"), "FIN-02")
    assert only(out) == [("FIN-02", E, "Plan de financement", "B5", "1.1")] and "« ETAT »" in out[0].suggestion


@pytest.mark.parametrize("typed, owner, dispositif", [("FEDER", "UE", "FEDER"), ("feder", "UE", "FEDER")])
def test_fin02_a_dispositif_typed_as_the_financeur_names_its_financeur(typed, owner, dispositif):
    """« FEDER » is no financeur: the UE's dispositif (feuille Dispositifs) — the suggestion says so."""
    out = run(lambda r: lines(r)[DETR_11].update(financeur=typed), "FIN-02")
    assert only(out) == [("FIN-02", E, "Plan de financement", "B5", "1.1")]
    assert out[0].suggestion == (f"« {typed} » est un dispositif de « {owner} » (feuille Dispositifs) : choisissez "
                                 f"« {owner} » comme financeur et « {dispositif} » comme dispositif.")


def test_fin02_an_unknown_code_that_names_nothing_asks_for_the_list():
    out = run(lambda r: lines(r)[DETR_11].update(financeur="ZZQW"), "FIN-02")
    assert out[0].suggestion == "Choisissez un code de la liste, ou ajoutez ce financeur à la feuille Financeurs."


def test_fin02_user_added_financeur_is_known():
    def m(r):
        r["T_Financeurs"].append({"code": "FONDATION", "nom": "Fondation du patrimoine", "categorie": "Privé",
                                  "cibles": None, "modalites": None, "contact": None})
        lines(r)[REGION_11].update(financeur="FONDATION", dispositif="Mécénat")
        r["T_Actions"][0]["cosignataires"] = "ETAT;FONDATION"
    assert run(m, "FIN-02") == []


@pytest.mark.parametrize("value,bad", [(None, True), (0, True), (-5, True), ("500 000 €", True), (0.01, False)])
def test_fin03_amount(value, bad):
    out = run(lambda r: lines(r)[DETR_11].update(montant=value), "FIN-03")
    assert only(out) == ([("FIN-03", E, "Plan de financement", "F5", "1.1")] if bad else [])


def test_fin04_nature_statut_year_and_programme_years():
    out = run(lambda r: lines(r)[DETR_11].update(nature=None, statut=None, annee="2024 ?"), "FIN-04")
    assert [f.cellule for f in out] == ["D5", "E5", "G5"] and all(f.gravite is E for f in out)
    out = run(lambda r: lines(r)[DETR_11].update(annee=2027), "FIN-04")
    assert only(out) == [("FIN-04", A, "Plan de financement", "E5", "1.1")]
    assert run(lambda r: lines(r)[DETR_11].update(annee=2026), "FIN-04") == []
    assert run(lambda r: lines(r)[DETR_11].update(annee=2023), "FIN-04") == []
    assert [f.gravite for f in run(lambda r: lines(r)[DETR_11].update(annee=2022), "FIN-04")] == [A]


def test_fin04_year_typed_as_text():
    out = run(lambda r: lines(r)[DETR_11].update(annee="2024"), "FIN-04")
    assert only(out) == [("FIN-04", E, "Plan de financement", "E5", "1.1")] and "2024" in out[0].suggestion


# --------------------------------------------------------------------------- FIN-05
def test_fin05_balanced_to_the_cent_passes_and_one_cent_off_fails():
    def m(r, delta):
        lines(r)[AUTO_11]["montant"] = 200_000 + delta
        r["T_Actions"][0]["cout_total"] = 1_000_000.01
        r["T_Actions"][0]["depense_subventionnable"] = 1_000_000.01
    assert run(lambda r: m(r, 0.01)) == []
    out = run(lambda r: m(r, 0))
    assert only(out) == [("FIN-05", E, "Fiches-actions", "M4", "1.1")]
    assert out[0].message == ("Plan de financement déséquilibré pour l'action 1.1 : coût total 1 000 000,01 €, "
                              "financements 1 000 000,00 € ; il manque 0,01 € de financements.")
    assert "0,01 €" in out[0].suggestion


def test_fin05_float_amounts_do_not_drift():
    def m(r):  # 0.1 + 0.2 ≠ 0.3 in binary floats; in cents it is
        r["T_Actions"][1].update(cout_total=0.3, depense_subventionnable=None)
        r["T_Financements"] = [lf for lf in lines(r) if lf["numero"] != "2.1"]
        r["T_Financements"].append(dict(clean_raw()["T_Financements"][AUTO_21], montant=0.1))
        r["T_Financements"].append(dict(clean_raw()["T_Financements"][AUTO_21], montant=0.2, annee=2025))
        r["T_Actions"][1]["cosignataires"] = None
    assert run(m, "FIN-05") == []


def test_fin05_refused_lines_do_not_count():
    def m(r):
        lines(r).append(dict(lines(r)[DETR_11], dispositif="DSIL", montant=250_000, statut="Refusé", reference_decision=None))
    assert run(m) == []


def test_fin05_over_financed():
    out = run(lambda r: lines(r)[REGION_11].update(montant=350_000), "FIN-05")
    assert len(out) == 1 and "les financements dépassent le coût de 50 000,00 €" in out[0].message and "Réduisez" in out[0].suggestion


def test_fin05_not_judged_with_an_unreadable_amount():
    assert [f.code for f in run(lambda r: lines(r)[REGION_11].update(montant="trois cent mille"))] == ["FIN-03"]


def test_fin03_an_amount_past_the_cent_is_said_and_counted_to_the_cent():
    """Three financeurs sharing 1 240 000 € by « =1240000/3 »: each line is counted 413 333,33 € and
    FIN-05 finds a cent missing where Excel's own sums find none — FIN-03 says why, on each line."""
    out = run(lambda r: lines(r)[DETR_11].update(montant=1240000 / 3), "FIN-03")
    assert only(out) == [("FIN-03", A, "Plan de financement", fin_cell(DETR_11, "montant"), "1.1")]
    assert "413 333,333333333 €" in out[0].message and "compté 413 333,33 €" in out[0].message
    assert "=ARRONDI(" in out[0].suggestion


@pytest.mark.parametrize("amount", [12345.67, 0.1 * 3, 1234567.89 + 0.0000000001, 250000.0, 1e20])
def test_fin03_cents_and_a_formula_s_binary_noise_are_not_past_the_cent(amount):
    assert run(lambda r: lines(r)[DETR_11].update(montant=amount), "FIN-03") == []


# --------------------------------------------------------------------------- FIN-06 (CGCT L1111-10)
def _own(r, auto, region):
    lines(r)[AUTO_11]["montant"] = auto
    lines(r)[REGION_11]["montant"] = region


def test_fin06_an_amount_past_28_digits_is_judged_not_a_crash():
    """A crafted 1E+30 € subsidy: FIN-06 says how much to transfer, where the cents of a 31-digit
    amount overflowed the default precision and the rule crashed (STR-00, « pas vérifié »)."""
    out = run(lambda r: _own(r, 200_000, 1e30))
    assert "STR-00" not in [f.code for f in out]
    assert [(f.code, f.action) for f in out if f.code == "FIN-06"] == [("FIN-06", "1.1")]


def test_fin06_exactly_20_percent_passes_and_19_99_fails():
    assert run(lambda r: _own(r, 200_000, 300_000), "FIN-06") == []
    out = run(lambda r: _own(r, 199_900, 300_100))
    assert only(out) == [("FIN-06", E, "Fiches-actions", "O4", "1.1")]
    assert "19,99 %" in out[0].message and "199 900,00 €" in out[0].message and "CGCT art. L1111-10 III" in out[0].message
    # balanced fix: move 100 € from subsidies to own share (200 000 = 20 % of 1 000 000)
    assert "100,00 €" in out[0].suggestion and "200 000,00 €" in out[0].suggestion


def test_fin06_private_money_is_outside_the_base():
    def m(r):  # 150 000 own, 600 000 public subsidies (20 %), 250 000 private patronage outside
        _own(r, 150_000, 100_000)
        lines(r).append(dict(lines(r)[REGION_11], financeur="PRIVE", dispositif="Mécénat", montant=250_000))
        r["T_Actions"][0]["cosignataires"] = "ETAT;REGION;PRIVE"
    assert run(m) == []


def test_fin06_loans_carried_by_the_mo_are_own_share():
    # 2.1: autofinancement 80 000 + CDC loan 20 000 = 100 000 against 400 000 of subsidies: exactly 20 %
    assert run(lambda r: None, "FIN-06") == []
    out = run(lambda r: lines(r)[CDC_21].update(nature="Subvention", dispositif="Ingénierie"), "FIN-06")
    assert only(out) == [("FIN-06", E, "Fiches-actions", "O5", "2.1")]
    # the message names every kind of own share `role_l1111_10` counts (it named three of six: a
    # finance officer with an avance or a recette read it left out)
    assert ("sa part propre (son autofinancement, ses fonds propres et apports, ses lignes de nature « Autre », "
            "ses emprunts et avances remboursables, les recettes de l'opération) est de") in out[0].message


def test_fin06_refused_subsidy_not_counted():
    def m(r):
        _own(r, 199_900, 300_100)
        lines(r).append(dict(lines(r)[REGION_11], statut="Refusé", montant=5_000, reference_decision=None))
    assert [f.code for f in run(m)] == ["FIN-06"]


@pytest.mark.parametrize("type_mo", ["Bailleur social", "SEM / SPL", "Privé", "Établissement public"])
def test_fin06_not_for_other_mo_types(type_mo):
    assert run(lambda r: (_own(r, 100_000, 400_000), r["T_Actions"][0].update(type_mo=type_mo)), "FIN-06") == []


_SYNDICAT = {"code": "SMA", "nom": "Syndicat mixte de l'Artois", "categorie": "Public", "cibles": None,
            "modalites": None, "contact": None}


@pytest.mark.parametrize("type_mo,code", [("Commune", "COMMUNE"), ("EPCI", "EPCI"), ("Département", "DEPT"),
                                          ("Région", "REGION"), ("Syndicat mixte", "SMA")])
def test_fin06_applies_to_every_public_mo_type(type_mo, code):
    def m(r, own):
        _own(r, own, 500_000 - own)
        r["T_Financeurs"].append(dict(_SYNDICAT))
        # the own share is the MO's own line (its code); the other subsidy comes from a third body
        r["T_Actions"][0].update(type_mo=type_mo, maitre_ouvrage="Syndicat mixte de l'Artois" if code == "SMA" else "MO",
                                 cosignataires="ETAT;UE;" + code)
        lines(r)[AUTO_11]["financeur"] = code
        lines(r)[REGION_11].update(financeur="UE", dispositif="FEDER")
    assert run(lambda r: m(r, 200_000), "FIN-06") == []
    assert len(run(lambda r: m(r, 199_999.99), "FIN-06")) == 1


@pytest.mark.parametrize("financeur,dispositif,nom,said", [
    ("AUTRE", "NPNRU", None, False), ("ETAT", "Subvention ANRU", None, False), ("ETAT", "NPNRU", None, False),
    ("AGENCE", "Convention du quartier", "Agence nationale pour la rénovation urbaine", False),
    ("AGENCE", "Aide au quartier", "Agence d'urbanisme", True),
    # what a collectivité or another body of the list pays is not the ANRU's, whatever its name
    ("REGION", "NPNRU", None, True), ("EPCI", "Participation NPNRU", None, True),
    ("AUTRE", "Fonds régional de rénovation urbaine", None, True), ("AUTRE", "Autre", None, True),
    # another fund for the urban renewal: the État's DSIL, the Union's FEDER, not the ANRU's money
    ("ETAT", "DSIL rénovation urbaine", None, True), ("AUTRE", "FEDER NPNRU", None, True),
])
def test_fin06_the_anru_derogation_judged_by_what_pays_the_anru_s_money(financeur, dispositif, nom, said):
    """The ANRU's 400 000 filed under « AUTRE » with the dispositif « NPNRU » (or under the État, or a financeur
    the user added at the agency's name): FIN-06 said « l'ANRU ne finance pas l'action dans le plan de
    financement » — it did, under another code. Its money is read by what names it; a collectivité's line
    never is it."""
    def m(r):
        _own(r, 100_000, 400_000)
        r["T_Actions"][0].update(derogation="ANRU")
        lines(r)[REGION_11].update(financeur=financeur, dispositif=dispositif)
        if nom:
            r["T_Financeurs"].append(dict(_SYNDICAT, code=financeur, nom=nom))
    out = run(m, "FIN-06")
    assert [(f.code, f.gravite) for f in out] == ([("FIN-06", A)] if said else [])
    if said:
        assert "l'ANRU ne finance pas l'action" in out[0].message


def test_fin06_derogations():
    low = lambda d: (lambda r: (_own(r, 100_000, 400_000), r["T_Actions"][0].update(derogation=d)))  # 10 %
    # the ANRU's operation (art. 9 of loi 2003-710): no minimum when the ANRU finances it
    anru = lambda r: (low("ANRU")(r), lines(r)[REGION_11].update(financeur="ANRU", dispositif="NPNRU"))
    assert run(anru, "FIN-06") == []
    # the dropdown alone, the ANRU paying nothing, silenced the error: now a warning to check it
    out = run(low("ANRU"), "FIN-06")
    assert only(out) == [("FIN-06", A, "Fiches-actions", "O4", "1.1")]
    assert "l'ANRU ne finance pas l'action" in out[0].message and "10,0 %" in out[0].message
    assert "convention de renouvellement urbain (NPNRU)" in out[0].suggestion
    assert run(lambda r: (_own(r, 200_000, 300_000), r["T_Actions"][0].update(derogation="ANRU")), "FIN-06") == []
    # school energy renovation: 10 % only on the préfet's decision: between 10 % and 20 % a warning asking for it
    out = run(low("Rénovation énergétique scolaire"), "FIN-06")  # exactly 10 %
    assert [f.gravite for f in out] == [A] and "arrêté" in out[0].message and "10 %" in out[0].message
    assert run(lambda r: (_own(r, 200_000, 300_000), r["T_Actions"][0].update(derogation="Rénovation énergétique scolaire")),
               "FIN-06") == []
    out = run(lambda r: (_own(r, 99_990, 400_010), r["T_Actions"][0].update(derogation="Rénovation énergétique scolaire")), "FIN-06")
    assert [f.gravite for f in out] == [E] and "le minimum est de 20 %" in out[0].message
    assert "sous 10 %" in out[0].message
    # the suggestion follows the dérogation: 10 € short of the 10 % the préfet may set, not only the 20 %
    assert out[0].suggestion == ("Remplacez au moins 10,00 € de financements publics par de l'autofinancement du "
                                 "maître d'ouvrage (part propre d'au moins 100 000,00 €, les 10 % que le préfet peut "
                                 "fixer par arrêté ; 200 000,00 € sans arrêté).")
    out = run(low("Rénovation énergétique scolaire"), "FIN-06")
    assert out[0].suggestion.startswith("Indiquez la référence de l'arrêté du préfet fixant le minimum à 10 % ; "
                                        "à défaut, remplacez au moins 100 000,00 €")
    for d in ("Monument protégé", "Patrimoine non protégé", "Calamité publique"):
        out = run(low(d), "FIN-06")
        assert [f.gravite for f in out] == [A] and "préfet" in out[0].message
        # a warning whose decision is the préfet's: not « choisissez-la dans la colonne », already chosen
        assert out[0].suggestion.startswith("Joignez la décision du préfet accordant la dérogation ; à défaut, "
                                            "remplacez au moins 100 000,00 €")


# --------------------------------------------------------------------------- FIN-07 / FIN-08 (CGCT R2334-27)
def test_fin07_exactly_80_percent_passes_and_one_cent_less_base_fails():
    assert run(lambda r: None, "FIN-07") == []  # 2.1: DETR 100 000 + DSIL 300 000 = 80 % of 500 000
    out = run(lambda r: r["T_Actions"][1].update(depense_subventionnable=499_999.99))
    assert only(out) == [("FIN-07", E, "Fiches-actions", "N5", "2.1")]
    assert "400 000,00 €" in out[0].message and "CGCT art. R2334-27" in out[0].message


def test_fin07_only_dispositifs_marked_r2334_27_count():
    def m(r, mark):
        lines(r)[REGION_11].update(financeur="ETAT", dispositif="FNADT")
        r["T_Actions"][0]["cosignataires"] = "ETAT"
        r["T_Actions"][0]["depense_subventionnable"] = 999_999.99
        for d in r["T_Dispositifs"]:
            if d["dispositif"] == "FNADT":
                d["dotation_r2334_27"] = mark
    assert run(lambda r: m(r, "Non"), "FIN-07") == []
    assert [f.cellule for f in run(lambda r: m(r, "Oui"), "FIN-07")] == ["N4"]


def test_fin07_refused_dotation_ignored():
    def m(r):
        lines(r).append(dict(lines(r)[DSIL_21], dispositif="DSID", montant=50_000, statut="Refusé", reference_decision=None))
    assert run(m) == []


def test_fin07_dotation_without_subsidised_expense():
    out = run(lambda r: r["T_Actions"][1].update(depense_subventionnable=None))
    assert only(out) == [("FIN-07", E, "Fiches-actions", "N5", "2.1")] and "n'est pas renseignée" in out[0].message


def test_fin08_detr_below_20_percent():
    def m(r):
        lines(r)[DETR_21]["montant"] = 99_999.99
        lines(r)[AUTO_21]["montant"] = 80_000.01
    out = run(m)
    assert only(out) == [("FIN-08", A, "Plan de financement", fin_cell(DETR_21, "montant"), "2.1")]
    assert "20 %" in out[0].message and "100 000,00 €" in out[0].suggestion


def test_fin08_a_dotation_spread_over_several_years_is_summed():
    def m(r, second):
        lines(r)[DETR_21]["montant"] = 60_000
        lines(r).append(dict(lines(r)[DETR_21], annee=2025, montant=second))
        lines(r)[AUTO_21]["montant"] = 80_000 + 40_000 - second
    assert run(lambda r: m(r, 40_000)) == []  # 60 000 + 40 000 = 20 %
    out = run(lambda r: m(r, 39_999.99), "FIN-08")
    assert only(out) == [("FIN-08", A, "Plan de financement", fin_cell(DETR_21, "montant"), "2.1")]
    assert "2 lignes" in out[0].message


def test_fin08_unless_the_80_percent_cap_forces_it():
    def m(r):
        lines(r)[DETR_21]["montant"] = 80_000
        lines(r)[DSIL_21]["montant"] = 320_000
    assert run(m) == []


# --------------------------------------------------------------------------- FIN-09 (décret 2018-514)
def test_fin09_public_subsidies_above_100_percent():
    out = run(lambda r: r["T_Actions"][0].update(depense_subventionnable=799_999.99))
    assert only(out) == [("FIN-09", E, "Fiches-actions", "N4", "1.1")]
    assert "0,01 €" in out[0].message
    # DETR + Région: no subsidy of décret 2018-514 in the plan, so it is not cited: the general rule
    assert "2018-514" not in out[0].message and "ne peut financer plus que la dépense" in out[0].message
    assert run(lambda r: r["T_Actions"][0].update(depense_subventionnable=800_000)) == []


@pytest.mark.parametrize("dispositif", ["Fonds vert", "FNADT", "DRAC", "FRLA", "Fonds friches"])
def test_fin09_cites_decret_2018_514_where_a_subsidy_it_governs_is_present(dispositif):
    def m(r):
        lines(r)[REGION_11].update(financeur="ETAT", dispositif=dispositif)
        r["T_Actions"][0].update(depense_subventionnable=799_999.99, cosignataires="ETAT")
    out = run(m, "FIN-09")
    assert [f.cellule for f in out] == ["N4"] and "décret n° 2018-514 art. 10" in out[0].message


def test_fin09_another_public_body_autofinancement_is_public_aid():
    def m(r, dep):  # 1.1 (commune): the EPCI's « autofinancement » is public money: 1 000 000 of aid
        lines(r)[AUTO_11]["financeur"] = "EPCI"
        r["T_Actions"][0].update(depense_subventionnable=dep, cosignataires="ETAT;REGION;EPCI")
    assert run(lambda r: m(r, 1_000_000), "FIN-09") == []
    assert [f.cellule for f in run(lambda r: m(r, 999_999.99), "FIN-09")] == ["N4"]


# --------------------------------------------------------------------------- warnings on lines
def test_fin10_fctva_line():
    out = run(lambda r: lines(r)[AUTO_11].update(dispositif="FCTVA"), "FIN-10")
    assert only(out) == [("FIN-10", A, "Plan de financement", "C4", "1.1")]
    assert run(lambda r: lines(r)[AUTO_11].update(commentaire="Montants hors FCTVA"), "FIN-10") == []


_PRET = "si c'est bien un prêt, que le maître d'ouvrage rembourse"


@pytest.mark.parametrize("financeur,nature,dispositif,effet,reconnu,juste", [
    ("ETAT", "Prêt", None, "est comptée comme la part propre du maître d'ouvrage", "DSIL 2024", _PRET),
    ("ETAT", "Recette / cession", "Aide de l'État", "est comptée comme la part propre du maître d'ouvrage", "DSIL",
     "si c'est bien une recette de l'opération (le prix d'une vente)"),
    ("ETAT", "Portage foncier", None, "sort de la base de la participation minimale et du plafond des aides publiques",
     "FNADT", "sinon"),  # neither a loan nor a sale: « si c'est bien un prêt ou le prix d'une vente » said it wrong
    ("DEPT", "Avance remboursable", None, "est comptée comme la part propre du maître d'ouvrage",
     "Aide aux projets des territoires", "si c'est bien une avance, que le maître d'ouvrage rembourse"),
    ("UE", "Prêt", "Fonds européen", "est comptée comme la part propre du maître d'ouvrage", "FEDER 2021-2027", _PRET),
])
def test_fin11_a_subsidy_only_funder_typed_as_a_loan_or_a_recette(financeur, nature, dispositif, effet, reconnu, juste):
    """1.1: the Région's 300 000 become the État's, typed « Prêt » without a dispositif: counted as the commune's
    own share (a loan it repays), the plan passed FIN-06 at 50 % of own share with nothing said."""
    def m(r):
        lines(r)[REGION_11].update(financeur=financeur, dispositif=dispositif, nature=nature)
    out = run(m, "FIN-11")
    assert only(out) == [("FIN-11", A, "Plan de financement", "D6", "1.1")]
    assert out[0].message == (f"Action 1.1, ligne 6 : aucun dispositif du financeur « {financeur} » n'a la nature "
                              f"« {nature} » dans la feuille Financeurs ; de cette nature, la ligne {effet} (CGCT art. "
                              "L1111-10 III).")
    assert out[0].suggestion.endswith(f"dispositif ; {juste}, la ligne est juste.")
    # its subsidy typed so is counted as one (FIN-11 says it with its dispositif's nature, or not at all)
    out = run(lambda r: lines(r)[REGION_11].update(financeur=financeur, dispositif=reconnu, nature=nature), "FIN-11")
    assert [f.message for f in out if "aucun dispositif" in f.message] == []
    # a workbook listing a loan of that funder: its word
    def listed(r):
        m(r)
        r["T_Dispositifs"].append({"financeur": financeur, "dispositif": "Avance", "nature": nature,
                                   "dotation_r2334_27": "Non"})
    assert run(listed, "FIN-11") == []
    # the Région lends (its « Avance remboursable »), the commune repays: not said
    assert run(lambda r: lines(r)[REGION_11].update(dispositif=None, nature="Prêt"), "FIN-11") == []


def test_fin11_names_the_financeur_in_french():
    """« … du dispositif « Autre » de AUTRE (« Autre ») », « de EPCI », « de ETAT »: no French (FIN-21 said
    « du financeur « EPF » » already)."""
    (f,) = run(lambda r: lines(r)[REGION_11].update(financeur="AUTRE", dispositif="Autre"), "FIN-11")
    assert f.message == ("Action 1.1, ligne 6 : la nature « Subvention » diffère de celle du dispositif « Autre » du "
                         "financeur « AUTRE » (« Autre ») dans la feuille Financeurs.")


def test_fin11_names_the_nearest_subsidy_fin21_no_longer_names():
    """« DEPT / Aide aux projet des territoire » typed « Prêt »: FIN-11 alone speaks (FIN-21 is silent, one finding
    for one thing), and asked for « son dispositif » without the name FIN-21 gave — the Département's « Aide aux
    projets des territoires », one letter away. It names it now; a name close to none adds nothing."""
    def m(r, dispositif):
        lines(r)[REGION_11].update(financeur="DEPT", dispositif=dispositif, nature="Prêt")
    out = [f for f in run(lambda r: m(r, "Aide aux projet des territoire")) if f.code in ("FIN-11", "FIN-21")]
    assert only(out) == [("FIN-11", A, "Plan de financement", "D6", "1.1")]
    assert out[0].suggestion == ("Si c'est une aide du financeur « DEPT », choisissez la nature « Subvention » et son "
                                 "dispositif (le plus proche du nom saisi : « Aide aux projets des territoires ») ; si "
                                 "c'est bien un prêt, que le maître d'ouvrage rembourse, la ligne est juste.")
    (f,) = run(lambda r: m(r, "Prêt à taux zéro"), "FIN-11")
    assert "le plus proche" not in f.suggestion


@pytest.mark.parametrize("dispositif", ["Avance remboursable", "Avance", "Prêt à taux zéro"])
def test_fin11_alone_on_a_subsidy_only_funder_s_loan_named_by_no_family(dispositif):
    """« DEPT / Avance remboursable »: FIN-11 said no dispositif of the Département has this nature and asked
    for its subsidy's dispositif, and FIN-21 said again, on the next cell, that « Avance remboursable » was
    not in its list — two findings for one thing. A name of another's fund keeps FIN-21's word (whose it is)."""
    def m(r):
        lines(r)[REGION_11].update(financeur="DEPT", dispositif=dispositif, nature="Avance remboursable")
    out = [f for f in run(m) if f.code in ("FIN-11", "FIN-21")]
    assert only(out) == [("FIN-11", A, "Plan de financement", "D6", "1.1")]
    # a dispositif no longer a subsidy only funder's loan: FIN-21 as before
    out = run(lambda r: lines(r)[REGION_11].update(financeur="DEPT", dispositif=dispositif, nature="Subvention"),
              "FIN-21")
    assert only(out) == [("FIN-21", A, "Plan de financement", "C6", "1.1")]
    # the FEDER under DEPT, typed so: FIN-21 names the Union's fund, FIN-11 the nature
    out = [f for f in run(lambda r: lines(r)[REGION_11].update(financeur="DEPT", dispositif="FEDER",
                                                              nature="Avance remboursable"))
           if f.code in ("FIN-11", "FIN-21")]
    assert [f.code for f in out] == ["FIN-11", "FIN-21"] and "du financeur « UE »" in out[1].message


def test_fin06_names_the_mo_s_own_autre_in_its_share():
    """The commune's 50 000 typed « Autre » under COMMUNE are its own share now: FIN-06 counted them in
    « sa part propre (son autofinancement, ses fonds propres et apports, ses emprunts et avances
    remboursables, les recettes de l'opération) est de 150 000,00 € » — a list without them, where the
    finance officer found 100 000 of autofinancement only."""
    def m(r):
        _own(r, 100_000, 350_000)
        lines(r).append(dict(lines(r)[AUTO_11], dispositif="Participation", nature="Autre", montant=50_000))
        lines(r)[REGION_11]["montant"] = 300_000
    out = run(m, "FIN-06")
    assert [(f.code, f.gravite) for f in out] == [("FIN-06", E)]
    assert ("sa part propre (son autofinancement, ses fonds propres et apports, ses lignes de nature « Autre », "
            "ses emprunts et avances remboursables, les recettes de l'opération) est de 150 000,00 €") in out[0].message


@pytest.mark.parametrize("nature", ["Autofinancement", "Autre"])
def test_l1111_10_a_syndicat_s_own_autre_under_its_added_code_is_its_own(nature):
    """A syndicat mixte whose name matches no financeur (« Syndicat mixte du Pays d'Artois », its code SMA
    named « SM Artois »): its 50 000 typed « Autofinancement » under SMA were its own share, but typed
    « Autre », another public body's participation — 150 000 of 1 000 000, FIN-06's error at 15,0 %, where
    its 200 000 are exactly 20 %. An « Autre » is the MO's when an autofinancement would be."""
    def m(r):
        r["T_Financeurs"].append(dict(_SYNDICAT, nom="SM Artois"))
        r["T_Actions"][0].update(type_mo="Syndicat mixte", maitre_ouvrage="Syndicat mixte du Pays d'Artois")
        lines(r)[AUTO_11].update(financeur="SMA", montant=150_000)
        lines(r)[REGION_11].update(financeur="SMA", dispositif="Participation du syndicat", nature=nature,
                                   montant=50_000)
        lines(r).append(dict(lines(r)[REGION_11], financeur="REGION", dispositif="Redynamisation des centres-villes",
                             nature="Subvention", montant=300_000))
    assert run(m, "FIN-06") == []


@pytest.mark.parametrize("nom,own", [
    ("SM Artois", True), ("Syndicat mixte de l'Artois (SMA)", True),
    ("Département du Pas-de-Calais", False), ("Conseil régional Hauts-de-France", False),
    ("Ville de Liévin", False), ("Communauté d'agglomération de Lens-Liévin", False),
])
def test_l1111_10_a_collectivite_added_to_the_list_is_not_the_syndicat(nom, own):
    """A syndicat mixte whose name matches no financeur: every financeur added to the list was taken for it, so
    the Département added as « CD62 » with its 200 000 typed « Autofinancement » became the syndicat's own share
    — 20 % of 1 000 000 where the syndicat brings nothing, FIN-06 and FIN-22 silent. An added financeur named as
    a collectivité (or the État) is another public person: its money is a public participation."""
    def m(r):
        r["T_Financeurs"].append(dict(_SYNDICAT, code="X", nom=nom))
        r["T_Actions"][0].update(type_mo="Syndicat mixte", maitre_ouvrage="Syndicat mixte du Pays d'Artois")
        lines(r)[AUTO_11].update(financeur="X", dispositif="Participation")
    out = [f.code for f in run(m) if f.code in ("FIN-06", "FIN-22")]
    assert out == ([] if own else ["FIN-06", "FIN-22"])


@pytest.mark.parametrize("nature", ["Autre", "Autofinancement"])
def test_fin06_says_what_another_public_body_s_participation_is(nature):
    """The Région's 350 000 typed « Autre », now in the L1111-10 base as a public participation: FIN-06 said
    « dont 350 000,00 € d'autofinancement, de fonds propres ou d'apports d'autres personnes publiques » — the
    line is none of these. It names every nature so counted."""
    def m(r):
        _own(r, 150_000, 350_000)
        lines(r)[REGION_11].update(financeur="REGION", dispositif="Participation", nature=nature)
    out = run(m, "FIN-06")
    assert [(f.code, f.gravite) for f in out] == [("FIN-06", E)]
    assert ("dont 350 000,00 € apportés par d'autres personnes publiques autrement qu'en subvention "
            "(autofinancement, fonds propres, apport en nature ou nature « Autre »)") in out[0].message


@pytest.mark.parametrize("financeur,categorie,own", [
    ("ETAT", None, False), ("REGION", None, False), ("AUTRE", "Public", False), ("AUTRE", "Privé", None),
    ("COMMUNE", None, True),
])
def test_l1111_10_a_public_body_s_autre_is_a_financing_it_brings(financeur, categorie, own):
    """L1111-10 III: the minimum is 20 % of « financements apportés par des personnes publiques ». The Région's
    300 000 typed « Autre » (or the État's, or the public « AUTRE » financeur's own line, whose reference
    dispositif « Autre » has that nature) left the base: the commune's 150 000 beside the DSIL's 500 000 and
    these 350 000 passed at 23,1 % of a base of 650 000, not 15,0 % of 1 000 000. Another body's is a public
    participation, the MO's its own, a private body's outside the base; FIN-11 no longer says « Autre »
    leaves the base."""
    def m(r):
        _own(r, 150_000, 350_000)
        lines(r)[REGION_11].update(financeur=financeur, dispositif="Autre", nature="Autre")
        if categorie:
            next(f for f in r["T_Financeurs"] if f["code"] == "AUTRE")["categorie"] = categorie
    out = [f for f in run(m) if f.code in ("FIN-06", "FIN-11")]
    if own is False:
        assert [(f.code, f.gravite) for f in out] == [("FIN-06", E)] and "15,0 %" in out[0].message
    else:  # the MO's own (500 000 of 1 000 000), or outside the base (150 000 of 650 000)
        assert out == []


def test_fin11_nature_differs_from_dispositif():
    out = run(lambda r: lines(r)[CDC_21].update(nature="Subvention"), "FIN-11")
    assert only(out) == [("FIN-11", A, "Plan de financement", "D10", "2.1")] and "« Prêt »" in out[0].suggestion


def test_fin12_duplicate_line_but_not_refused_copy():
    out = run(lambda r: lines(r).append(dict(lines(r)[DETR_11])), "FIN-12")
    assert only(out) == [("FIN-12", A, "Plan de financement", "F11", "1.1")] and "ligne 5" in out[0].message
    assert run(lambda r: lines(r).append(dict(lines(r)[DETR_11], statut="Refusé")), "FIN-12") == []
    assert run(lambda r: lines(r).append(dict(lines(r)[DETR_11], annee=2025)), "FIN-12") == []


@pytest.mark.parametrize("statut,bad", [("Acquis", True), ("Engagé", True), ("Versé", True), ("Sollicité", False)])
def test_fin13_acquired_without_decision_reference(statut, bad):
    out = run(lambda r: lines(r)[DETR_11].update(statut=statut, reference_decision=None), "FIN-13")
    assert only(out) == ([("FIN-13", A, "Plan de financement", "I5", "1.1")] if bad else [])


def test_fin14_detr_requested_after_start():
    def m(r, d):
        lines(r)[DETR_11].update(statut="Sollicité", date_demande=d, reference_decision=None)
    out = run(lambda r: m(r, date(2024, 1, 16)), "FIN-14")
    assert only(out) == [("FIN-14", A, "Plan de financement", "H5", "1.1")]
    assert run(lambda r: m(r, date(2024, 1, 15)), "FIN-14") == []


def test_fin15_mismatches():
    out = run(lambda r: lines(r)[REGION_11].update(financeur="AL", dispositif="Subvention"), "FIN-15")
    assert only(out) == [("FIN-15", A, "Plan de financement", "B6", "1.1")]
    out = run(lambda r: lines(r)[DSIL_21].update(financeur="ANAH", dispositif="ORI"), "FIN-15")
    assert only(out) == [("FIN-15", A, "Plan de financement", "B9", "2.1")]
    assert run(lambda r: lines(r)[REGION_11].update(financeur="ANAH", dispositif="ORI"), "FIN-15") == []  # axe 1
    out = run(lambda r: lines(r)[REGION_11].update(financeur="ANRU", dispositif="NPNRU"), "FIN-15")
    assert len(out) == 1
    assert run(lambda r: (lines(r)[REGION_11].update(financeur="ANRU", dispositif="NPNRU"),
                          r["T_Actions"][0].update(derogation="ANRU")), "FIN-15") == []


def test_fin16_share_not_yet_acquired():
    out = run(lambda r: lines(r)[REGION_11].update(statut="Prévisionnel", reference_decision=None))
    assert only(out) == [("FIN-16", I, "Fiches-actions", "A4", "1.1")]
    assert "300 000,00 €" in out[0].message and "30,0 %" in out[0].message


def test_fin17_request_date_not_a_date():
    out = run(lambda r: lines(r)[DETR_11].update(date_demande="01/13/2023"))
    assert only(out) == [("FIN-17", E, "Plan de financement", "H5", "1.1")]


def test_fin18_reference_list():
    out = run(lambda r: r["T_Financeurs"].append(dict(r["T_Financeurs"][0])))
    assert [(f.code, f.feuille) for f in out] == [("FIN-18", "Financeurs")] and "déjà utilisé" in out[0].message
    out = run(lambda r: r["T_Dispositifs"].append({"financeur": "XYZ", "dispositif": "Truc", "nature": "Subvention",
                                                   "dotation_r2334_27": "Non"}))
    assert [f.code for f in out] == ["FIN-18"] and "« XYZ »" in out[0].message


def test_fin18_a_reference_funder_made_private_stays_public_for_l1111_10():
    """« REGION » typed « Privé » in the Financeurs sheet took the Région's 350 000 out of the L1111-10 base:
    the commune's 150 000 (15 %) passed as 23 %, with nothing said."""
    def m(r, code="REGION", categorie="Privé"):
        _own(r, 150_000, 350_000)
        next(f for f in r["T_Financeurs"] if f["code"] == code)["categorie"] = categorie
    out = run(m)
    assert [(f.code, f.gravite) for f in out] == [("FIN-06", E), ("FIN-18", A)]
    assert "15,0 %" in out[0].message
    assert out[1].message.endswith("la catégorie « Privé » du classeur n'est pas retenue par les contrôles (participation "
                                   "minimale du maître d'ouvrage, CGCT art. L1111-10 III, et plafond des aides publiques).")
    assert out[1].suggestion.startswith("Remettez la catégorie « Public » ;")
    # AUTRE's category is the user's: the funder filed there may be private
    assert run(lambda r: m(r, "AUTRE"), "FIN-18") == []


@pytest.mark.parametrize("code,nom,said", [
    ("CD62", "Département du Pas-de-Calais", True), ("CALL", "Communauté d'agglomération de Lens-Liévin", True),
    ("CR", "Conseil régional Hauts-de-France", True), ("AUTRE", "Ville de Lens", True), ("PREF", "État", True),
    # private bodies, whatever their name holds
    ("FDP", "Fondation du patrimoine", False), ("MH", "Métropole Habitat", False), ("CA", "Crédit Agricole", False),
    ("CLM", "Commune libre de Montmartre", False), ("EMM", "Communauté Emmaüs", False),
])
def test_fin18_a_public_body_added_as_private(code, nom, said):
    """« CD62 / Département du Pas-de-Calais » added to the list with the category « Privé »: its 350 000 left the
    L1111-10 base, and the commune's 150 000 (15,0 % of the public money) passed FIN-06 as 30,0 %, with nothing
    said — the category of an added funder is the user's alone. Its name says a public person: FIN-18 warns."""
    def m(r, categorie="Privé"):
        if code == "AUTRE":
            next(f for f in r["T_Financeurs"] if f["code"] == "AUTRE").update(nom=nom, categorie=categorie)
        else:
            r["T_Financeurs"].append({"code": code, "nom": nom, "categorie": categorie, "cibles": None,
                                      "modalites": None, "contact": None})
        lines(r)[REGION_11].update(financeur=code, dispositif="Aide", montant=350_000)
        lines(r)[AUTO_11]["montant"] = 150_000
    out = run(m, "FIN-18")
    assert [(f.code, f.gravite, f.feuille) for f in out] == ([("FIN-18", A, "Financeurs")] if said else [])
    if said:
        assert out[0].message.endswith(f"le financeur « {code} » (« {nom} ») est de catégorie « Privé », mais son nom "
                                       "est celui d'une personne publique : de cette catégorie, ses subventions et "
                                       "participations ne sont comptées ni dans la participation minimale du maître "
                                       "d'ouvrage (CGCT art. L1111-10 III) ni dans le plafond des aides publiques, "
                                       "hormis celles qui portent le nom d'une subvention publique de la liste de "
                                       "référence (« Fonds vert », « DSIL », « FEDER »…), comptées comme aides "
                                       "publiques.")
        assert out[0].suggestion == ("Si c'est une personne publique, choisissez la catégorie « Public » ; sinon, "
                                     "écrivez son nom exact.")
    assert run(lambda r: m(r, "Public"), "FIN-18") == []


def test_fin18_what_it_says_of_a_public_body_added_as_private_is_what_fin06_counts():
    """The exception FIN-18 names is real: under « CD62 » typed « Privé », its « Aide » leaves the L1111-10 base,
    its « Fonds vert » stays in it, as a public subsidy."""
    from acv_xl.checks import totals
    from acv_xl.contract.model import LigneFinancement
    categorie = {"CD62": "Privé"}.get
    for dispositif, role in (("Aide", totals.HORS_BASE), ("Fonds vert", totals.SUBVENTION_PUBLIQUE),
                             ("DSIL", totals.SUBVENTION_PUBLIQUE)):
        lf = LigneFinancement(financeur="CD62", dispositif=dispositif, nature="Subvention")
        assert totals.role_l1111_10(lf, frozenset({"COMMUNE"}), categorie) == role, dispositif


def test_fin06_and_fin09_not_guessed_with_an_unknown_financeur():
    def m(r):  # 19,99 % if « Region » were public; it is unknown: FIN-02 only
        _own(r, 199_900, 300_100)
        lines(r)[REGION_11]["financeur"] = "Region HDF"
        r["T_Actions"][0]["depense_subventionnable"] = 700_000  # FIN-09 if it were public
    out = run(m)
    assert [f.code for f in out if f.gravite is E] == ["FIN-02"]


def test_duplicated_action_number_is_not_judged_on_a_merged_plan():
    out = run(lambda r: r["T_Actions"].append(dict(r["T_Actions"][1], cout_total=10, depense_subventionnable=None)))
    assert [f.code for f in out] == ["ACT-01"]


def test_the_dispositif_lists_worked_out_once_are_each_workbook_s_own(monkeypatch):
    """`_listes` is kept per content of the lists across runs (`Index.shared`, `_LISTS_FACTS`): a
    workbook whose list differs by one dispositif gets its own, the same as worked out afresh, and
    the kept mappings cannot be changed by a rule."""
    from acv_xl.checks import rules
    from acv_xl.checks.rules import Index, _INDEX
    from acv_xl.checks.rules import financement as fin

    monkeypatch.setattr(rules, "_LISTS_FACTS", {})
    raw = clean_raw()
    base = build(raw)
    raw["T_Dispositifs"].append(dict(raw["T_Dispositifs"][0], dispositif="Fonds régional XYZ"))
    other = build(raw)

    def listes(conv):
        token = _INDEX.set(Index(conv))
        try:
            return fin._listes_owners(conv)
        finally:
            _INDEX.reset(token)

    first = listes(base)
    assert listes(build(clean_raw())) is first  # the same lists: the same mappings
    mine = listes(other)
    assert mine is not first and "Fonds régional XYZ" in mine[0][raw["T_Dispositifs"][0]["financeur"]]
    assert "Fonds régional XYZ" not in first[0][raw["T_Dispositifs"][0]["financeur"]]
    monkeypatch.setattr(rules, "_LISTS_FACTS", {})
    assert listes(other) == mine and listes(base) == first  # as worked out afresh
    with pytest.raises(TypeError):
        first[0]["X"] = ()


_FIN18_CASES = {
    "modèle": lambda r: None,
    "code en double": lambda r: r["T_Financeurs"].append(dict(r["T_Financeurs"][0])),
    "code vide": lambda r: r["T_Financeurs"][1].update(code="  "),
    "nom vide": lambda r: r["T_Financeurs"][1].update(nom=None),
    "catégorie hors liste": lambda r: r["T_Financeurs"][2].update(categorie="Publique"),
    "catégorie erreur Excel": lambda r: r["T_Financeurs"][2].update(categorie=ExcelError("#N/A")),
    "code nombre": lambda r: r["T_Financeurs"][0].update(code=12.0),
    "financeur absent": lambda r: r["T_Dispositifs"].append({"financeur": "XYZ", "dispositif": "Truc",
                                                             "nature": "Subvention", "dotation_r2334_27": "Non"}),
    "financeur vide": lambda r: r["T_Dispositifs"][0].update(financeur=None),
    "nature hors liste": lambda r: r["T_Dispositifs"][0].update(nature="Don"),
    "dotation vide": lambda r: r["T_Dispositifs"][3].update(dotation_r2334_27=""),
    "listes vides": lambda r: (r["T_Financeurs"].clear(), r["T_Dispositifs"].clear()),
    "catégorie de référence changée": lambda r: r["T_Financeurs"][6].update(categorie="Privé"),
    "personne publique dite privée": lambda r: r["T_Financeurs"].append(
        {"code": "CD62", "nom": "Département du Pas-de-Calais", "categorie": "Privé", "cibles": None,
         "modalites": None, "contact": None}),
}


@pytest.mark.parametrize("case", sorted(_FIN18_CASES))
def test_fin18_says_nothing_only_when_row_by_row_it_would_say_nothing(case, monkeypatch):
    """FIN-18 proves the common case (a sound list) in C before looking row by row: the same
    findings either way, whatever is wrong with the lists."""
    from acv_xl.checks import rules
    from acv_xl.checks.rules import financement

    raw = clean_raw()
    _FIN18_CASES[case](raw)
    conv = build(raw)
    fast = rules.run_rules(conv, codes=["FIN-18"])
    monkeypatch.setattr(financement, "_referentiel_sound", lambda conv: False)
    slow = rules.run_rules(conv, codes=["FIN-18"])
    assert [f.model_dump() for f in fast] == [f.model_dump() for f in slow]
    # silent on a sound list, an empty one, and an Excel error (STR-06's); else the rule speaks
    assert (case in ("modèle", "listes vides", "catégorie erreur Excel")) == (not slow)


def test_fin09_a_public_body_s_autre_to_a_private_mo_is_public_aid():
    """A SEM's operation: the Région's money typed « Autre » (in the L1111-10 base since this session,
    FIN-11 no longer warning it) and the commune's own money were left out of the 100 % cap of public
    aid, counted for a public MO only — 1 000 000 € of public money over 999 999,99 € of expense, with
    only the DETR counted, passed unsaid."""
    def m(r, dep):
        r["T_Actions"][0].update(type_mo="SEM / SPL", maitre_ouvrage="SEM Territoires", depense_subventionnable=dep)
        lines(r)[REGION_11].update(nature="Autre", dispositif="Participation")
    out = run(lambda r: m(r, 999_999.99), "FIN-09")
    assert [f.cellule for f in out] == ["N4"] and "(1 000 000,00 €)" in out[0].message
    assert run(lambda r: m(r, 1_000_000), "FIN-09") == []


def test_fin04_and_ind02_a_convention_prolonged_by_avenant_counts_its_prolongation_years():
    """An ACV 1 convention prolonged to 31/12/2026 by avenant (the deployment end moved, PRJ-04 asking
    once for the prolongation agreement): every line and target of 2023 to 2026 was also said « hors
    de la période du programme ACV 1 (2018 à 2022) », « Vérifiez l'année » — 40 warnings on a real
    commune's avenant, sending the user to change years that are right. They are in the convention's
    period; a year past the prolongation, or before the programme, still is not, the period said."""
    def prolonged(r, fin=date(2026, 12, 31), year=2025, target=2026):
        r["names"].update(acv_programme="ACV 1", acv_date_fin_deploiement=fin, acv_date_convention=date(2018, 6, 12),
                          acv_date_fin_initialisation=date(2019, 12, 31))
        lines(r)[DETR_11].update(annee=year)
        r["T_Indicateurs"][0].update(annee_cible=target)
    out = [f for f in run(prolonged) if f.code in ("PRJ-04", "FIN-04", "IND-02")]
    assert [f.code for f in out] == ["PRJ-04"], [(f.code, f.message) for f in out]  # said once, on the date
    out = run(lambda r: prolonged(r, year=2027, target=2017))
    said = {f.code: f.message for f in out if f.code in ("FIN-04", "IND-02")}
    assert said["FIN-04"].endswith("l'année 2027 est hors de la période du programme ACV 1 prolongé jusqu'au "
                                   "31/12/2026 (2018 à 2026).")
    assert said["IND-02"].endswith("l'année cible 2017 est hors de la période du programme ACV 1 prolongé "
                                   "jusqu'au 31/12/2026 (2018 à 2026).")
    # prolonged to mid-2024: its years end in 2024; beyond the last programme's end, in 2026
    out = run(lambda r: prolonged(r, fin=date(2024, 6, 30), year=2025, target=2024))
    assert [f.message for f in out if f.code == "FIN-04"][0].endswith("prolongé jusqu'au 30/06/2024 (2018 à 2024).")
    # prolonged to 2028, past ACV 2's end: counted to 2026, and said so (« prolongé jusqu'au 31/12/2026 »
    # was untrue of a convention whose avenant prolongs it to 2028)
    out = run(lambda r: prolonged(r, fin=date(2028, 12, 31), year=2027, target=2027))
    said = {f.code: f.message for f in out if f.code in ("FIN-04", "IND-02")}
    assert len(said) == 2 and not any("jusqu'au 31/12/2026" in m for m in said.values()), said
    assert said["FIN-04"].endswith("l'année 2027 est hors de la période du programme ACV 1 prolongé, de 2018 à 2026 : la "
                            "fin de déploiement saisie, le 31/12/2028, dépasse celle du programme ACV 2, le "
                            "31/12/2026 (PRJ-04).")
    assert run(lambda r: prolonged(r, fin=date(2028, 12, 31), year=2026, target=2026), "FIN-04") == []


def test_fin04_and_ind02_an_acv1_convention_continued_in_acv2_keeps_its_years_since_signature():
    """An ACV 1 convention (signed 2018) continued in ACV 2 by avenant, its programme switched to « ACV 2 »:
    each of its 2019–2022 lines and targets was said « hors de la période du programme ACV 2 (2023 à
    2026) », « Vérifiez l'année » — 35 FIN-04 and 11 IND-02 on Lens, on years that are its history. Its years start at
    its signature; a convention signed in ACV 2 keeps 2023 to 2026, and a year before the signature is
    still said, the period with it."""
    def continued(r, signed=date(2018, 6, 12), year=2020, target=2022):
        r["names"].update(acv_programme="ACV 2", acv_date_fin_deploiement=date(2026, 12, 31),
                          acv_date_convention=signed, acv_date_fin_initialisation=date(2019, 12, 31))
        lines(r)[DETR_11].update(annee=year)
        r["T_Indicateurs"][0].update(annee_cible=target)
    assert [f for f in run(continued) if f.code in ("FIN-04", "IND-02")] == []
    out = run(lambda r: continued(r, year=2017, target=2017))
    said = {f.code: f.message for f in out if f.code in ("FIN-04", "IND-02")}
    assert said["FIN-04"].endswith("l'année 2017 est hors de la période du programme ACV 2, pour une convention "
                                   "signée le 12/06/2018 (2018 à 2026).")
    assert said["IND-02"].endswith("(2018 à 2026).")
    out = run(lambda r: continued(r, signed=date(2023, 9, 1)))
    assert [f.message for f in out if f.code == "FIN-04"][0].endswith(
        "l'année 2020 est hors de la période du programme ACV 2 (2023 à 2026).")


def test_fin04_an_acv2_convention_without_a_readable_signature_keeps_its_programme_s_years():
    """docs/regles.md: the years since the signature only from a signature that is a date; missing or
    typed as a text that is no date, an ACV 2 convention's 2020 line is out of its programme's years
    (PRJ-04 says the date is not one)."""
    for signed in (None, "signée en 2018"):
        def continued(r, signed=signed):
            r["names"].update(acv_programme="ACV 2", acv_date_fin_deploiement=date(2026, 12, 31),
                              acv_date_convention=signed, acv_date_fin_initialisation=date(2023, 12, 31))
            lines(r)[DETR_11].update(annee=2020)
        out = run(continued)
        assert [f.message for f in out if f.code == "FIN-04"][0].endswith(
            "l'année 2020 est hors de la période du programme ACV 2 (2023 à 2026)."), signed
