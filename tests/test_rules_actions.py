"""ACT rules: the fiches-actions."""

from __future__ import annotations

from datetime import date

import pytest

from acv_xl.checks.findings import Gravite
from acv_xl.contract import layout

from conventions import cell_of, run

E, A, I = Gravite.ERREUR, Gravite.AVERTISSEMENT, Gravite.INFORMATION


def only(out):
    return [(f.code, f.gravite, f.feuille, f.cellule, f.action) for f in out]


def act(i, **kw):
    return lambda r: r["T_Actions"][i].update(kw)


def test_act01_duplicate_number():
    def m(r):
        r["T_Actions"].append(dict(r["T_Actions"][1]))
    out = run(m, "ACT-01")
    assert only(out) == [("ACT-01", E, "Fiches-actions", "A6", "2.1")]
    assert "ligne 5" in out[0].message


def test_act01_empty_number():
    out = run(act(1, numero=None), "ACT-01")
    assert only(out) == [("ACT-01", E, "Fiches-actions", "A5", "")]


def _fiche_210(r):
    """A fiche « 2.10 » beside « 2.1 », typed as texts, as the template's cells are formatted."""
    r["T_Actions"].append(dict(r["T_Actions"][1], numero="2.10", intitule="Autre action"))


def test_act14_a_number_excel_cut_from_another_number_is_named_at_its_cell():
    """« 2.10 » typed in a plan line's cell not formatted as text: Excel stores 2.1, read « 2.1 » — the line
    counted for the action 2.1, silently, when the action 2.10 exists."""
    def m(r):
        _fiche_210(r)
        i = next(i for i, lf in enumerate(r["T_Financements"]) if lf["numero"] == "2.1")
        r["T_Financements"][i]["numero"] = 2.1
    out = run(m, "ACT-14")
    assert [(f.code, f.gravite, f.feuille) for f in out] == [("ACT-14", E, "Plan de financement")]
    assert "le nombre 2,1, lu « 2.1 »" in out[0].message and "« 2.10 »" in out[0].message
    assert "tapez '2.10" in out[0].suggestion


def test_act14_a_fiche_number_cut_too():
    def m(r):
        _fiche_210(r)
        r["T_Actions"][-1]["numero"] = 2.1  # the fiche typed 2.10 in a cell not formatted as text
        i = next(i for i, lf in enumerate(r["T_Financements"]) if lf["numero"] == "2.1")
        r["T_Financements"].append(dict(r["T_Financements"][i], numero="2.10"))
    out = run(m, "ACT-14")
    assert only(out) == [("ACT-14", E, "Fiches-actions", "A6", "2.1")]
    assert "cette fiche porte le numéro 2.1" in out[0].message


def test_act14_a_fiche_held_as_a_number_beside_the_other_fiche_is_its_own_number():
    """Fiches 2.1 (held as the number 2.1) and « 2.10 »: two fiches, the 2.1 is no other — it was told « cette
    fiche porte le numéro 2.1, peut-être à tort », an error blocking the validation of a right fiche. The
    plan's lines held as 2.1, which may be either action's, are still said, each."""
    def m(r):
        _fiche_210(r)
        for t in ("T_Actions", "T_Financements"):
            for x in r[t]:
                if x["numero"] == "2.1":
                    x["numero"] = 2.1
    out = run(m, "ACT-14")
    assert only(out) == [("ACT-14", E, "Plan de financement", f"A{row}", "2.1") for row in (7, 8, 9, 10)]


def test_act14_numbers_alone_of_their_value_read_as_excel_shows_them():
    """1.1 held as a number everywhere, and no « 1.10 » in the workbook: no doubt, nothing to say."""
    def m(r):
        _fiche_210(r)
        for t in ("T_Actions", "T_Indicateurs", "T_Financements"):
            for x in r[t]:
                if x["numero"] == "1.1":
                    x["numero"] = 1.1
    assert run(m, "ACT-14") == []


@pytest.mark.parametrize("typed", ["2", f"Axe 2 — {layout.AXES[2]}", layout.AXES[2], "Axe 2 ", "Axe  2"])
def test_act15_an_axe_the_synthese_formulas_do_not_recognise_is_said_at_its_cell(typed):
    """« 2 » typed as a text, « Axe 2 — <label> », the label alone, a space too many: « Valider » reads axe 2 and
    counts the action's money there; the Synthèse's formulas (« Axe 2 », or the number 2) put it under
    « Axe non reconnu ou action inconnue » — the workbook, as Excel shows it, had another total by axe."""
    out = run(act(1, axe=typed), "ACT-15")
    assert only(out) == [("ACT-15", A, "Fiches-actions", "C5", "2.1")]
    assert f"contient « {typed} », que « Valider » et l'annexe lisent comme l'axe 2" in out[0].message
    assert "« Axe non reconnu ou action inconnue »" in out[0].message
    assert out[0].suggestion == "Choisissez « Axe 2 » dans la liste déroulante."
    assert run(act(1, axe=typed), "ACT-03") == []  # read as axe 2 all the same: no error


@pytest.mark.parametrize("typed", ["Axe 2", "axe 2", "AXE 2", 2, 2.0])
def test_act15_the_drop_downs_value_or_the_number_is_what_the_synthese_counts(typed):
    assert run(act(1, axe=typed), "ACT-15") == []


def test_act01_numbers_that_look_alike_are_distinct():
    def m(r):
        r["T_Actions"].append(dict(r["T_Actions"][1], numero="2.10"))
    assert run(m, "ACT-01") == []


@pytest.mark.parametrize("attr", ["intitule", "axe", "maitre_ouvrage", "type_mo", "base", "cout_total"])
def test_act02_required_field_empty(attr):
    out = run(act(0, **{attr: None}), "ACT-02")
    assert only(out) == [("ACT-02", E, "Fiches-actions", cell_of("T_Actions", 0, attr), "1.1")]


def test_act02_optional_fields_may_be_empty():
    assert run(act(0, axe_transversal=None, description=None, perimetre=None, derogation=None), "ACT-02") == []


def test_act03_invalid_axe():
    out = run(act(1, axe="Commerce"))
    assert only(out) == [("ACT-03", E, "Fiches-actions", "C5", "2.1")]


def test_act04_unknown_perimeter_with_closest_code():
    out = run(act(0, perimetre="s1"))
    assert only(out) == [("ACT-04", E, "Fiches-actions", "E4", "1.1")]
    assert "« S1 »" in out[0].suggestion


@pytest.mark.parametrize("value,bad", [(0, True), (-1, True), (0.01, False)])
def test_act05_cost_must_be_positive(value, bad):
    def m(r):
        r["T_Actions"][0].update(cout_total=value, depense_subventionnable=None)
    out = run(m, "ACT-05")
    assert only(out) == ([("ACT-05", E, "Fiches-actions", "M4", "1.1")] if bad else [])


def test_act05_text_number_suggests_parsed_value_and_abandoned_zero_cost_passes():
    out = run(act(0, cout_total="1 000 000,00 €"), "ACT-05")
    assert only(out) == [("ACT-05", E, "Fiches-actions", "M4", "1.1")] and "1 000 000,00 €" in out[0].suggestion
    assert run(act(0, cout_total=0, maturite="Abandonnée"), "ACT-05") == []


def test_act06_start_after_end_and_same_day_passes():
    out = run(act(0, date_debut=date(2026, 7, 1)), "ACT-06")
    assert only(out) == [("ACT-06", E, "Fiches-actions", "K4", "1.1")]
    assert run(act(0, date_debut=date(2026, 6, 30)), "ACT-06") == []


def test_act07_ends_after_deployment():
    out = run(act(0, date_fin=date(2027, 1, 1)))
    assert only(out) == [("ACT-07", A, "Fiches-actions", "K4", "1.1")]
    assert run(act(0, date_fin=date(2026, 12, 31))) == []


def test_act07_starts_before_convention_unless_mature():
    out = run(act(0, date_debut=date(2023, 6, 14)))
    assert only(out) == [("ACT-07", A, "Fiches-actions", "J4", "1.1")]
    assert run(act(0, date_debut=date(2023, 6, 15))) == []
    assert run(act(0, date_debut=date(2023, 1, 1), maturite="Mature")) == []


def test_act08_action_without_financing():
    def m(r):
        r["T_Financements"] = [lf for lf in r["T_Financements"] if lf["numero"] != "2.1"]
    out = run(m)
    assert only(out) == [("ACT-08", E, "Fiches-actions", "A5", "2.1")]


def test_act08_refused_lines_only_and_abandoned_actions():
    def m(r):
        for lf in r["T_Financements"]:
            if lf["numero"] == "2.1":
                lf["statut"] = "Refusé"
    out = run(m)
    assert only(out) == [("ACT-08", E, "Fiches-actions", "A5", "2.1")] and "refusées" in out[0].message

    def m2(r):
        r["T_Financements"] = [lf for lf in r["T_Financements"] if lf["numero"] != "2.1"]
        r["T_Actions"][1]["maturite"] = "Abandonnée"
    assert run(m2) == []


def test_act09_financeur_not_cosignatory_with_completed_list():
    out = run(act(0, cosignataires="ETAT"))
    assert only(out) == [("ACT-09", A, "Fiches-actions", "P4", "1.1")]
    # spaced, the list wraps in its cell (« ETAT;REGION;DEPT;COMMUNE » printed cut), and typed as suggested it is read
    assert "REGION" in out[0].message and out[0].suggestion.endswith(" : ETAT ; REGION")
    assert run(act(0, cosignataires=out[0].suggestion.split(" : ")[-1]), "ACT-09") == []


def test_act09_autofinancement_and_refused_lines_need_no_cosignature():
    def m(r):
        r["T_Financements"][2]["statut"] = "Refusé"  # REGION refused
        r["T_Financements"][1]["montant"] = 800_000
        r["T_Actions"][0]["cosignataires"] = "ETAT"
    assert run(m) == []


def test_act09_engaged_action_without_signature_date():
    out = run(act(0, maturite="Engagée"))
    assert only(out) == [("ACT-09", A, "Fiches-actions", "Q4", "1.1")]
    assert run(act(0, maturite="Engagée", date_signature=date(2024, 1, 10))) == []


def test_act10_action_without_indicator():
    out = run(lambda r: r["T_Indicateurs"].pop(1))
    assert only(out) == [("ACT-10", A, "Fiches-actions", "A5", "2.1")]


def test_act11_subsidised_expense_above_ht_cost():
    out = run(act(0, depense_subventionnable=1_000_000.01), "ACT-11")
    assert only(out) == [("ACT-11", A, "Fiches-actions", "N4", "1.1")]
    # of a TTC cost: its HT cost is less, so the dépense exceeds it too (silent, FIN-09 judged the aid against it)
    (f,) = run(act(0, depense_subventionnable=1_000_000.01, base="TTC"), "ACT-11")
    assert f.message == ("Action 1.1 : la dépense subventionnable (1 000 000,01 €) dépasse le coût total TTC "
                         "(1 000 000,00 €), et donc le coût hors taxes de l'action, jamais plus élevé.")
    assert f.suggestion == ("Ramenez la dépense subventionnable au coût hors taxes de l'action au plus (la colonne est "
                            "hors taxes), ou corrigez le coût total.")
    assert run(act(0, depense_subventionnable=1_000_000, base="TTC"), "ACT-11") == []  # below: the HT cost is unknown


def test_act12_value_outside_list_with_closest():
    out = run(act(0, type_mo="Comune"))
    assert only(out) == [("ACT-12", E, "Fiches-actions", "G4", "1.1")] and "« Commune »" in out[0].suggestion


def test_act09_ignores_unknown_financeurs_and_fctva_lines():
    def m(r):
        r["T_Financements"][2].update(financeur="FCTVA", dispositif="FCTVA")
        r["T_Actions"][0]["cosignataires"] = "ETAT"
    assert run(m, "ACT-09") == []


def test_act05_zero_cost_is_not_also_an_unbalanced_plan():
    out = run(act(0, cout_total=0, depense_subventionnable=None))
    assert [f.code for f in out] == ["ACT-05"]


def test_act04_not_repeated_when_no_perimeter_is_defined():
    out = run(lambda r: r.update(T_Perimetres=[]))
    assert "ACT-04" not in {f.code for f in out} and "PER-01" in {f.code for f in out}
    out = run(act(0, perimetre="S9"), "ACT-04")
    assert "Indiquez l'un des codes : E1, O1, S1." == out[0].suggestion


def test_act04_names_each_code_once():
    """A code typed twice in Périmètres (PER-06) was offered twice: « ETU, ORT, ORT »."""
    def m(r):
        r["T_Perimetres"].append(dict(r["T_Perimetres"][1]))
        r["T_Actions"][0]["perimetre"] = "S9"
    out = run(m, "ACT-04")
    assert out[0].suggestion == "Indiquez l'un des codes : E1, O1, S1."


def _abandon(*statuts):
    """Action 2.1 abandoned, its four lines (rows 7 to 10) at `statuts`."""
    def m(r):
        r["T_Actions"][1]["maturite"] = "Abandonnée"
        lines = [lf for lf in r["T_Financements"] if lf["numero"] == "2.1"]
        for lf, s in zip(lines, statuts):
            lf["statut"] = s
    return m


def test_act13_abandoned_action_with_lines_still_counted():
    out = run(_abandon("Refusé", "Sollicité", "Engagé", "Refusé"), "ACT-13")
    assert only(out) == [("ACT-13", E, "Plan de financement", "G8", "2.1")]
    assert out[0].message == (
        "Action 2.1 : l'action est « Abandonnée », mais les lignes 8 et 9 de la feuille Plan de financement "
        "(« Sollicité », « Engagé ») restent comptées dans les financements pour 400 000,00 €, alors que le coût "
        "de l'action n'est plus compté.")
    assert out[0].suggestion == ("Passez ces lignes au statut « Refusé » (cellules G8 et G9) ou supprimez-les ; "
                                 "si l'action n'est pas abandonnée, corrigez sa maturité (cellule I5).")


@pytest.mark.parametrize("statut", ["Prévisionnel", "Sollicité", "Acquis", "Engagé"])
def test_act13_each_statut_to_release(statut):
    out = run(_abandon("Refusé", "Refusé", "Refusé", statut), "ACT-13")
    assert only(out) == [("ACT-13", E, "Plan de financement", "G10", "2.1")]
    assert f"mais la ligne 10 de la feuille Plan de financement (« {statut} ») reste comptée" in out[0].message
    assert "pour 20 000,00 €" in out[0].message and "(cellule G10) ou supprimez-la" in out[0].suggestion


def test_act13_paid_money_stays_and_is_said():
    out = run(_abandon("Versé", "Acquis", "Refusé", "Refusé"), "ACT-13")
    assert only(out) == [("ACT-13", E, "Plan de financement", "G8", "2.1")]
    assert out[0].message.endswith("pour 100 000,00 €, alors que le coût de l'action n'est plus compté. "
                                   "La ligne 7 « Versé » (80 000,00 €) reste comptée : cet argent a déjà été payé.")


def test_act13_says_when_paid_money_may_have_to_be_repaid():
    """Another body's money « Versé » beside lines to release: the error says whom to ask."""
    out = run(_abandon("Refusé", "Versé", "Acquis", "Refusé"), "ACT-13")
    assert only(out) == [("ACT-13", E, "Plan de financement", "G9", "2.1")]
    assert out[0].message.endswith(
        "La ligne 8 « Versé » (100 000,00 €) reste comptée : cet argent a déjà été payé ; demandez à son financeur "
        "(ETAT) s'il doit être reversé, l'opération n'étant pas réalisée.")


def test_act13_information_when_only_paid_lines_remain():
    """All « Versé »: no error (the money was paid), but the référent must know whether the État's DETR
    and DSIL, paid for an operation that will not be carried out, are to be recovered; the EPCI's own
    money (line 7, the MO's) and the CDC's loan (line 10, repaid anyway) are nobody's to ask back."""
    out = run(_abandon("Versé", "Versé", "Versé", "Versé"), "ACT-13")
    assert only(out) == [("ACT-13", I, "Plan de financement", "G8", "2.1")]
    assert out[0].message == (
        "Action 2.1 : l'action est « Abandonnée », mais les lignes 7 à 10 de la feuille Plan de financement, "
        "« Versé » (500 000,00 €), restent comptées dans les financements alors que le coût de l'action ne l'est "
        "plus : cet argent a été payé avant l'abandon. Les lignes 8 et 9 (ETAT : 400 000,00 €) ont été données par "
        "d'autres que le maître d'ouvrage pour une opération qui ne sera pas réalisée.")
    assert out[0].suggestion == (
        "Demandez à son financeur (ETAT) s'il en exige le reversement (l'État demande le reversement "
        "total ou partiel d'une subvention dont l'opération n'est pas réalisée : CGCT art. R2334-31 pour la DETR "
        "et la DSIL) ; si la somme est reversée, passez ces lignes au statut « Refusé » (cellules G8 et G9).")


def test_act13_information_cites_the_text_of_the_subsidy_paid():
    def fnadt(r):
        _abandon("Refusé", "Versé", "Refusé", "Refusé")(r)
        r["T_Financements"][4].update(dispositif="FNADT")  # row 8
    (f,) = run(fnadt, "ACT-13")
    assert f.gravite is I and f.suggestion == (
        "Demandez à son financeur (ETAT) s'il en exige le reversement (l'État demande le reversement total ou "
        "partiel d'une subvention dont l'opération n'est pas réalisée : décret n° 2018-514 art. 14 pour les "
        "subventions de l'État qu'il régit) ; si la somme est reversée, passez la ligne au statut « Refusé » "
        "(cellule G8).")
    def region(r):  # the Région's subsidy, and the EPCI's own money: no État text, the Région alone named
        _abandon("Versé", "Refusé", "Refusé", "Versé")(r)
        r["T_Financements"][6].update(financeur="REGION", dispositif="Aménagement du territoire", nature="Subvention")
    (f,) = run(region, "ACT-13")
    assert f.gravite is I and f.suggestion == (
        "Demandez à son financeur (REGION) s'il en exige le reversement ; si la somme est reversée, passez la ligne "
        "au statut « Refusé » (cellule G10).")

    def participation(r):  # another public body's « autofinancement » is a participation it may ask back
        region(r)
        r["T_Actions"][1].update(maitre_ouvrage="Ville d'Arras", type_mo="Commune")
    (f,) = run(participation, "ACT-13")
    assert f.cellule == "G7" and "Les lignes 7 et 10 (EPCI, REGION : 100 000,00 €) ont été données" in f.message


def test_act13_information_cites_the_etat_s_texts_for_the_etat_s_money_only():
    """A Département's « monuments historiques » subsidy or its « fonds de soutien à l'investissement local »
    share a family's words with the DRAC and the DSIL: they were told « l'État demande le reversement […] :
    décret n° 2018-514 art. 14 » or « CGCT art. R2334-31 », texts that govern the État's money only."""
    def dept(dispositif):
        def m(r):
            _abandon("Refusé", "Refusé", "Refusé", "Versé")(r)
            r["T_Financements"][6].update(financeur="DEPT", dispositif=dispositif, nature="Subvention")
        return m
    for dispositif in ("Restauration des monuments historiques", "Fonds de soutien à l'investissement local"):
        (f,) = run(dept(dispositif), "ACT-13")
        assert f.gravite is I and f.suggestion == (
            "Demandez à son financeur (DEPT) s'il en exige le reversement ; si la somme est reversée, passez la "
            "ligne au statut « Refusé » (cellule G10).")

    def with_the_etat_s_drac(r):  # beside it, the État's DRAC: its text, for it
        dept("Restauration des monuments historiques")(r)
        r["T_Financements"][4].update(statut="Versé", dispositif="DRAC")  # row 8, ETAT
    (f,) = run(with_the_etat_s_drac, "ACT-13")
    assert "décret n° 2018-514 art. 14 pour les subventions de l'État qu'il régit" in f.suggestion
    assert "R2334-31" not in f.suggestion


def test_act13_information_explains_the_ecart_when_nothing_is_to_be_recovered():
    """The EPCI's own money (the MO's) and the CDC's loan (repaid anyway) « Versé »: nothing to ask back,
    but the report shows an écart of their amount beside « aucune erreur », which the finding explains."""
    out = run(_abandon("Versé", "Refusé", "Refusé", "Versé"), "ACT-13")
    assert only(out) == [("ACT-13", I, "Plan de financement", "G7", "2.1")]
    assert out[0].message == (
        "Action 2.1 : l'action est « Abandonnée », mais les lignes 7 et 10 de la feuille Plan de financement, "
        "« Versé » (100 000,00 €), restent comptées dans les financements alors que le coût de l'action ne l'est "
        "plus : cet argent a été payé avant l'abandon.")
    assert out[0].suggestion == (
        "Ces lignes ne sont pas des subventions à reverser (argent du maître d'ouvrage, prêt, fonds propres ou "
        "apport) : elles expliquent l'écart entre le coût total et les financements ; si l'action n'est pas "
        "abandonnée, corrigez sa maturité (cellule I5).")
    (f,) = run(_abandon("Refusé", "Refusé", "Refusé", "Versé"), "ACT-13")
    assert f.suggestion.startswith("Cette ligne n'est pas une subvention à reverser (") and "elle explique" in f.suggestion


@pytest.mark.parametrize("type_mo", ["Association", "Privé", "EPCI"])
def test_act13_reads_the_mo_s_type_from_its_name_when_they_contradict(type_mo):
    """The commune's abandoned operation, its type typed « Association » (ACT-16's case, which an abandoned
    action is not told): the commune's own « Autofinancement » « Versé » was named among the money « données
    par d'autres que le maître d'ouvrage », and the référent told to ask COMMUNE whether it wants it back."""
    def m(r):
        r["T_Actions"][0].update(maturite="Abandonnée", type_mo=type_mo)
        for lf in r["T_Financements"][:3]:
            lf["statut"] = "Versé"
    (f,) = run(m, "ACT-13")
    assert f.cellule == "G5" and "Les lignes 5 et 6 (ETAT, REGION : 800 000,00 €) ont été données" in f.message
    assert f.suggestion.startswith("Demandez à ses financeurs (ETAT et REGION) s'ils")
    # the name of no body of the convention: its type is its word (another body's autofinancement, asked)
    def autre(r):
        m(r)
        r["T_Actions"][0].update(maitre_ouvrage="CCAS d'Arras")
    (f,) = run(autre, "ACT-13")
    assert "Les lignes 4 à 6 (COMMUNE, ETAT, REGION : 1 000 000,00 €) ont été données" in f.message


def test_act13_another_body_s_autre_paid_is_money_given():
    """The Région's 300 000 « Versé » of nature « Autre » on an abandoned action: the Information said « Cette
    ligne n'est pas une subvention à reverser (argent du maître d'ouvrage, prêt, fonds propres ou apport) » —
    none of these. Another body's money, it is named with whom to ask; the MO's own « Autre » is not."""
    def m(r, financeur="REGION"):
        r["T_Actions"][0]["maturite"] = "Abandonnée"
        r["T_Financements"][0]["statut"] = r["T_Financements"][1]["statut"] = "Refusé"
        r["T_Financements"][2].update(financeur=financeur, nature="Autre", dispositif="Autre", statut="Versé")
    (f,) = run(m, "ACT-13")
    assert "La ligne 6 (REGION : 300 000,00 €) a été donnée par d'autres que le maître d'ouvrage" in f.message
    assert f.suggestion.startswith("Demandez à son financeur (REGION) s'il en exige le reversement")
    (f,) = run(lambda r: m(r, "COMMUNE"), "ACT-13")
    assert f.suggestion.startswith("Cette ligne n'est pas une subvention à reverser")


def test_act13_silent_when_released_or_not_abandoned():
    assert run(_abandon("Refusé", "Refusé", "Refusé", "Refusé"), "ACT-13") == []
    assert run(lambda r: None, "ACT-13") == []  # « En préparation »: its lines are its plan

    def removed(r):
        _abandon()(r)
        r["T_Financements"] = [lf for lf in r["T_Financements"] if lf["numero"] != "2.1"]
    assert run(removed, "ACT-13") == []


def test_act13_not_judged_on_a_number_shared_with_a_live_action_or_an_unreadable_statut():
    """A live fiche 2.1 beside the abandoned one: whose lines are they? not guessed; ACT-01 says it."""
    def twice(r):
        _abandon()(r)
        r["T_Actions"].append(dict(r["T_Actions"][1], maturite="En cours"))
    assert run(twice, "ACT-13") == []

    def unreadable(r):
        _abandon("Refusé", "Refusé", "Refusé", "obtenu")(r)
    assert run(unreadable, "ACT-13") == []


def test_act13_judged_when_every_fiche_of_a_duplicated_number_is_abandoned():
    """Two fiches « 2.1 », both abandoned: the lines are an abandoned action's whichever fiche they were
    meant for; the plan showed 400 000 € counted beside ACT-01 alone."""
    def twice(r):
        _abandon("Refusé", "Sollicité", "Engagé", "Refusé")(r)
        r["T_Actions"].append(dict(r["T_Actions"][1], intitule="Halles couvertes"))
    out = run(twice, "ACT-13")
    assert only(out) == [("ACT-13", E, "Plan de financement", "G8", "2.1")]
    assert out[0].message.startswith(
        "Action 2.1 : toutes les fiches-actions de ce numéro (lignes 5 et 6 de la feuille Fiches-actions) ont la "
        "maturité « Abandonnée », mais les lignes 8 et 9 de la feuille Plan de financement (« Sollicité », "
        "« Engagé ») restent comptées dans les financements pour 400 000,00 €")
    assert out[0].suggestion.endswith("; si l'une de ces actions n'est pas abandonnée, donnez-lui un autre numéro, "
                                      "reportez-le sur ses lignes et corrigez sa maturité (cellules I5 et I6).")


def test_act01_says_the_lines_of_a_duplicated_number_are_not_checked():
    def m(r):
        r["T_Actions"].append(dict(r["T_Actions"][1], maturite="Abandonnée"))
    (f,) = run(m, "ACT-01")
    assert f.suggestion == (
        "Donnez à chaque action un numéro unique et reportez-le sur ses lignes de la feuille Plan de financement : "
        "tant que plusieurs actions portent le numéro 2.1, les lignes 7 à 10, qui le portent, ne peuvent "
        "être attribuées à aucune d'elles, et ni l'équilibre ni les plafonds de leur plan ne sont contrôlés.")

    def without_lines(r):
        m(r)
        r["T_Financements"] = [lf for lf in r["T_Financements"] if lf["numero"] != "2.1"]
    assert run(without_lines, "ACT-01")[0].suggestion == "Donnez à chaque action un numéro unique."


def test_act11_leaves_an_abandoned_action_alone():
    """Abandoned with its cost set to 0 (ACT-05 allows it): « Ramenez la dépense subventionnable à 0,00 € »."""
    def m(r):
        _abandon("Refusé", "Refusé", "Refusé", "Refusé")(r)
        r["T_Actions"][1]["cout_total"] = 0
    assert run(m) == []
    # not abandoned: judged, its dotations too on the cost of 1 € the dépense exceeds (FIN-07)
    assert [f.code for f in run(act(1, cout_total=1))] == ["ACT-11", "FIN-05", "FIN-07"]


def test_act13_names_thousands_of_lines_in_runs_and_stays_within_a_cell():
    """An abandoned action of 4 000 lines: 23 000 characters of line numbers, 27 000 of cells (Excel's cell
    holds 32 767: 6 000 lines would not fit); runs now read « lignes 7 à 4006 », scattered rows end
    « et N autres »."""
    def many(r, step):
        _abandon()(r)
        base = [lf for lf in r["T_Financements"] if lf["numero"] == "2.1"][1]
        others = [lf for lf in r["T_Financements"] if lf["numero"] != "2.1"]
        r["T_Financements"] = others[:3]
        for i in range(4_000):
            r["T_Financements"].append(dict(base, montant=10))
            if step == 2:
                r["T_Financements"].append(dict(others[0]))  # a line of 1.1 between each
    (f,) = run(lambda r: many(r, 1), "ACT-13")
    assert "mais les lignes 7 à 4006 de la feuille Plan de financement (« Acquis ») restent comptées" in f.message
    assert f.suggestion.startswith("Passez ces lignes au statut « Refusé » (cellules G7 à G4006) ou supprimez-les")
    (f,) = run(lambda r: many(r, 2), "ACT-13")
    assert "mais les lignes 7, 9, 11, " in f.message and ", 65 et 3 970 autres de la feuille" in f.message
    assert len(f.message) < 1_000 and len(f.suggestion) < 1_000


@pytest.mark.parametrize("type_mo,mo,attendu", [
    ("Établissement public", "Ville d'Arras", "Commune"), ("Association", "ARRAS", "Commune"),
    ("Privé", "Mairie d'Arras", "Commune"), ("EPCI", "Commune d'Arras", "Commune"),
    ("Syndicat mixte", "Communauté urbaine d'Arras", "EPCI"),
    # one of the commune's services is the commune: « Association » escaped FIN-06 and ACT-16 alike
    ("Association", "Ville d'Arras - Direction de l'urbanisme", "Commune"),
    ("Privé", "Mairie d'Arras / Services techniques", "Commune"), ("Association", "Ville d'Arras (pôle aménagement)", "Commune"),
    ("Association", "Ville d'Arras - Mission Cœur de ville", "Commune"),
    # the commune written as every finance officer writes it: « Ville », « La commune », « Arras (ville) »
    ("Association", "Ville", "Commune"), ("Privé", "La commune", "Commune"), ("Établissement public", "Mairie", "Commune"),
    ("Association", "Arras (ville)", "Commune"), ("Privé", "Arras - Mairie", "Commune"),
    ("Association", "Ville - services techniques", "Commune"),
    # the convention's EPCI (« Communauté urbaine d'Arras ») by its usual short names
    ("Association", "CU d'Arras", "EPCI"), ("Établissement public", "CU Arras", "EPCI"),
    ("Privé", "cu d'arras", "EPCI"),
    # the administration's abbreviation of « commune », and « municipalité »: typed « SEM / SPL », FIN-06 escaped
    ("SEM / SPL", "Cne d'Arras", "Commune"), ("Association", "CNE D'ARRAS", "Commune"),
    ("Privé", "Municipalité d'Arras", "Commune"),
])
def test_act16_a_commune_or_the_epci_typed_as_another_body(type_mo, mo, attendu):
    """« Ville d'Arras » typed « Établissement public »: FIN-06 judged nothing (a commune's minimum share
    of L1111-10 III escaped by the dropdown), with nothing said."""
    out = run(act(0, type_mo=type_mo, maitre_ouvrage=mo), "ACT-16")
    assert only(out) == [("ACT-16", A, "Fiches-actions", cell_of("T_Actions", 0, "type_mo"), "1.1")]
    assert out[0].suggestion.startswith(f"Choisissez le type « {attendu} » ;")
    assert ("sa participation minimale n'est pas vérifiée" in out[0].message) == (type_mo not in ("EPCI", "Syndicat mixte"))


@pytest.mark.parametrize("type_mo,mo", [
    ("Commune", "Ville d'Arras"), ("Établissement public", "CCAS d'Arras"), ("SEM / SPL", "SEM Arras Aménagement"),
    ("EPCI", "Communauté urbaine d'Arras"), ("Bailleur social", "Pas-de-Calais habitat"),
    # another body beside the commune's name, or a service of another body
    ("Établissement public", "Ville d'Arras - CCAS"), ("Établissement public", "CCAS d'Arras - service social"),
    ("Association", "Arras - services techniques"), ("Commune", "Ville d'Arras - Direction de l'urbanisme"),
    # another body named as if it were a service: a mission locale (an association), a pôle métropolitain or
    # d'équilibre territorial (a syndicat mixte), Pôle emploi — « Choisissez le type « Commune » » was wrong
    ("Association", "Ville d'Arras - Mission locale"), ("Syndicat mixte", "Ville d'Arras / Pôle métropolitain de l'Artois"),
    ("Syndicat mixte", "Commune d'Arras - Pôle d'équilibre territorial et rural"),
    ("Établissement public", "Ville d'Arras (Pôle emploi)"),
    # other bodies whose name holds the word
    ("Association", "Maison de la ville"), ("Association", "Villes et pays d'art et d'histoire"),
    ("Commune", "Ville"), ("Établissement public", "Ville - CCAS"),
    # not the convention's EPCI: a communauté d'agglomération's short name, a bank
    ("Association", "CA d'Arras"), ("Privé", "Crédit Agricole d'Arras"), ("EPCI", "CU d'Arras"),
    # a body of its own (an établissement public) named as a service of the commune: the CCAS, the caisse des écoles
    ("Établissement public", "Ville d'Arras (service CCAS)"), ("Établissement public", "Mairie (service CCAS)"),
    ("Établissement public", "Ville d'Arras - service du centre communal d'action sociale"),
    ("Établissement public", "Commune d'Arras / service de la caisse des écoles"),
])
def test_act16_silent_for_a_body_named_otherwise(type_mo, mo):
    assert run(act(0, type_mo=type_mo, maitre_ouvrage=mo), "ACT-16") == []


def test_act13_reads_the_names_of_the_maitres_d_ouvrage_once_per_run(monkeypatch):
    """Two abandoned actions with paid lines, and ACT-16: the communes' and EPCI's names are read once a
    run, not again for each abandoned action (`_mo_kinds` is memoised on the run's index)."""
    from acv_xl.checks.rules import actions as module
    read = []
    real = module.rows

    def counting(conv, table):
        if table == layout.T_COMMUNES:
            read.append(table)
        return real(conv, table)

    monkeypatch.setattr(module, "rows", counting)

    def both(r):
        for a in r["T_Actions"]:
            a["maturite"] = "Abandonnée"
        for lf in r["T_Financements"]:
            lf["statut"] = "Versé"
    out = run(both)
    assert [f.action for f in out if f.code == "ACT-13"] == ["1.1", "2.1"]
    assert len(read) == 1
