"""PRJ-06…PRJ-11 and FIN-19: the workbook against the national list of the programme's communes.

The clean convention of `conventions.py` is Arras (ACV014) as the list gives it. The list is passed
to the rules (`run_rules(conv, reference=…)`): a test list with one value changed puts a rule on
its boundary (20 000 inhabitants exactly) without touching a file.
"""

from __future__ import annotations

import csv
from datetime import date
import io
from pathlib import Path

import pytest

from acv_xl.checks.findings import Gravite
from acv_xl.checks.rules import run_rules
from acv_xl.checks.validate import validate_convention, validate_file
from acv_xl.contract import reference
from acv_xl.contract.reference import Reference

from conventions import build, cell_of, clean_raw, line_index, run

E, A = Gravite.ERREUR, Gravite.AVERTISSEMENT


def only(out):
    return [(f.code, f.gravite, f.feuille, f.cellule) for f in out]


def with_list(**changes: dict[str, str]) -> Reference:
    """The shipped list with some values changed: {insee: {column: value}}."""
    rows = list(csv.DictReader(io.StringIO(reference.SHIPPED.read_text(encoding="utf-8"))))
    for r in rows:
        r.update(changes.get(r["insee_commune"], {}))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(reference.COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return reference.parse(out.getvalue(), Path("essai.csv"), "liste d'essai", "01/01/2025")


def findings(raw, code, ref: Reference | None = None):
    return [f for f in run_rules(build(raw), reference=ref) if f.code == code]


def lens_lievin(r, communes=(("62498", "Lens", "Ville centre"), ("62510", "Liévin", "Commune associée"))):
    r["names"].update(acv_id="ACV113", acv_libelle="Lens - Liévin", acv_siren_epci="246200364")
    r["T_Communes"][:] = [{"code_insee": c, "commune": n, "role": role} for c, n, role in communes]


def test_the_clean_convention_is_arras_as_the_national_list_gives_it():
    assert run(lambda r: None) == []
    assert validate_convention(build(clean_raw())).findings == []


# PRJ-06
def test_prj06_unknown_id_suggests_the_convention_of_the_communes():
    out = run(lambda r: r["names"].update(acv_id="ACV901"))
    assert only(out) == [("PRJ-06", E, "Projet", "B4")]
    assert "« ACV901 » ne figure pas dans la liste nationale ACV (ANCT, avril 2024)" in out[0].message
    assert "230 conventions" in out[0].message
    assert "ACV014 (Arras)" in out[0].suggestion and "« ACV014 »" in out[0].suggestion


def test_prj06_unknown_id_and_communes_of_no_convention():
    def m(r):
        r["names"]["acv_id"] = "ACV998"
        r["T_Communes"][0].update(code_insee="62001", commune="Ablain-Saint-Nazaire")
    out = run(m, "PRJ-06")
    assert only(out) == [("PRJ-06", E, "Projet", "B4")] and "option --reference" in out[0].suggestion


def test_prj06_a_commune_of_another_convention():
    out = run(lambda r: r["T_Communes"].append({"code_insee": "62193", "commune": "Calais", "role": "Commune associée"}))
    assert only(out) == [("PRJ-06", E, "Projet", cell_of("T_Communes", 1, "code_insee"))]
    assert "La commune 62193 (Calais) ne fait pas partie de la convention ACV014 (Arras)" in out[0].message
    assert "Arras (62041)" in out[0].message
    assert "ACV043 (Calais)" in out[0].suggestion


def test_prj06_another_conventions_id_on_these_communes():
    # ACV031 is Béthune - Bruay: Arras is not one of its communes, both of its communes are missing, and
    # the label « Arras » names a commune of another convention
    out = run(lambda r: r["names"].update(acv_id="ACV031"))
    assert [(f.code, f.gravite) for f in out if f.code != "PRJ-08"] == [("PRJ-10", A), ("PRJ-06", E), ("PRJ-07", E),
                                                                        ("PRJ-07", E)]


def test_prj06_a_commune_outside_the_programme():
    out = run(lambda r: r["T_Communes"].append({"code_insee": "62001", "commune": "Ablain", "role": "Commune associée"}),
              "PRJ-06")
    assert len(out) == 1 and "d'aucune commune du programme" in out[0].suggestion


def test_prj06_not_judged_on_a_malformed_id_or_code():
    assert [f.code for f in run(lambda r: r["names"].update(acv_id="ACV14"))] == ["PRJ-03"]
    out = run(lambda r: r["T_Communes"].append({"code_insee": "6219", "commune": "Calais", "role": "Commune associée"}))
    assert [f.code for f in out] == ["PRJ-02"]


@pytest.mark.parametrize("typed", ["acv014", "ACV 14", "acv-014", " ACV0014 "])
def test_prj06_a_loosely_typed_id_is_judged_as_the_id_it_designates(typed):
    """« acv 14 » is only a warning (PRJ-03): the list's checks still run on ACV014, so that a
    mistyped identifier cannot let a workbook of another town's communes validate unchecked."""
    assert [f.code for f in run(lambda r: r["names"].update(acv_id=typed))] == ["PRJ-03"]

    def lille(r):
        r["names"]["acv_id"] = typed
        r["T_Communes"][0].update(code_insee="59350", commune="Lille")
    out = run(lille)
    assert [f.code for f in out if f.gravite is E] == ["PRJ-02", "PRJ-06", "PRJ-07"]  # PRJ-02: not in the 62
    assert "La commune 59350 (Lille) ne fait pas partie de la convention ACV014 (Arras)" in \
        next(f.message for f in out if f.code == "PRJ-06")
    assert [f.code for f in run(lambda r: r["names"].update(acv_id="acv 901"), "PRJ-06")] == ["PRJ-06"]


def test_prj06_an_id_that_designates_no_convention_is_not_in_the_list_either():
    """« Arras » in acv_id is no more in the list than ACV999: an error, not only PRJ-03's warning."""
    out = run(lambda r: r["names"].update(acv_id="Arras"))
    assert only(out) == [("PRJ-03", A, "Projet", "B4"), ("PRJ-06", E, "Projet", "B4")]
    prj06 = out[1]
    assert "L'identifiant « Arras » ne figure pas dans la liste nationale ACV" in prj06.message
    assert "saisissez « ACV014 »" in prj06.suggestion


# PRJ-07
# PRJ-10
@pytest.mark.parametrize("code, typed", [
    ("62041", "Arras"), ("62041", "ARRAS"), ("62041", "  arras "), ("62041", "Ville d'Arras"),
    ("62765", "St-Omer"), ("62765", "ST OMER"), ("62765", "Saint Omer"), ("62765", "saint-omer"),
    ("43157", "Puy-en-Velay (Le)"), ("43157", "Le Puy en Velay"), ("43157", "Puy-en-Velay"),
    ("72154", "Flèche (La)"), ("72154", "LA FLECHE"), ("62510", "Liévin"), ("62510", "Lievin"),
    ("62498", "Lens - Liévin"), ("62510", "Lens - Liévin"), ("62510", "Lens – Liévin"), ("62510", "Lens/Liévin"),
    ("62178", "Béthune - Bruay-la-Buissière"), ("62178", "Bruay la Buissière"), ("62041", "Commune d'Arras"),
    ("72154", "Ville de La Flèche"), ("85191", "Commune de La Roche-sur-Yon"), ("97101", "Ville des Abymes"),
    ("43157", "Ville du Puy-en-Velay"),
    ("62041", "Arras (62)"), ("2A004", "Ajaccio (2A)"), ("62765", "Saint-Omer (62500)"), ("72154", "Flèche (La) (72)"),
])
def test_prj10_spellings_of_the_list_name_pass(code, typed):
    c = reference.shipped().par_insee[code]
    assert reference.same_commune(typed, c)


@pytest.mark.parametrize("code, typed", [("62041", "Saint-Arras"), ("62041", "Arras-en-Artois"),
                                         ("62765", "Omer"), ("62178", "Bruay"), ("62498", "Lensois")])
def test_prj10_a_name_holding_the_list_name_is_not_it(code, typed):
    assert not reference.same_commune(typed, reference.shipped().par_insee[code])


def test_prj10_every_name_of_the_list_is_its_own():
    ref = reference.shipped()
    for c in ref.communes:
        assert reference.same_commune(c.commune, c) and c in ref.par_nom[reference.nom_cle(c.commune)]


def test_prj10_another_commune_of_the_list_beside_the_code_is_an_error():
    """ACV014 / 62041 named « Béthune »: the code or the name is wrong; the message names both communes."""
    out = findings(_with_name(clean_raw(), 0, "Béthune"), "PRJ-10")
    assert only(out) == [("PRJ-10", E, "Projet", cell_of("T_Communes", 0, "commune"))]
    assert out[0].message == ("Ligne 21 : le code INSEE 62041 est celui d'Arras selon la liste nationale ACV (ANCT, "
                              "avril 2024), pas de Béthune, dont le code est 62119.")
    assert out[0].suggestion == "Corrigez le nom de la commune (« Arras ») ou son code INSEE (62119 pour Béthune)."


@pytest.mark.parametrize("typed", ["Ville de Béthune", "Commune de Béthune", "BETHUNE", "Béthune (62)"])
def test_prj10_another_commune_of_the_list_after_ville_de_is_an_error_too(typed):
    """« Ville de Béthune » beside Arras's code was a warning (« s'appelle « Arras », pas « Ville de
    Béthune » »), « Béthune » an error: the name is read one way, whether it is the row's or another's."""
    out = findings(_with_name(clean_raw(), 0, typed), "PRJ-10")
    assert only(out) == [("PRJ-10", E, "Projet", cell_of("T_Communes", 0, "commune"))]
    assert "pas de Béthune, dont le code est 62119" in out[0].message


def test_prj10_a_binome_with_its_names_swapped_is_an_error_on_both_rows():
    raw = clean_raw()
    lens_lievin(raw, (("62498", "Liévin", "Ville centre"), ("62510", "Lens", "Commune associée")))
    assert [f.gravite for f in findings(raw, "PRJ-10")] == [E, E]
    raw = clean_raw()
    lens_lievin(raw, (("62498", "Lens - Liévin", "Ville centre"), ("62510", "LIEVIN", "Commune associée")))
    assert findings(raw, "PRJ-10") == []


def test_prj10_a_name_the_list_does_not_know_is_a_warning_that_names_the_list():
    out = findings(_with_name(clean_raw(), 0, "Aras"), "PRJ-10")
    assert only(out) == [("PRJ-10", A, "Projet", cell_of("T_Communes", 0, "commune"))]
    assert out[0].message == ("Ligne 21 : la commune de code INSEE 62041 s'appelle « Arras » selon la liste "
                              "nationale ACV (ANCT, avril 2024), pas « Aras ».")
    assert "depuis avril 2024" in out[0].suggestion


@pytest.mark.parametrize("acv_id, siren, dept, code, typed, mo", [
    ("ACV085", "200059228", "91", "91228", "Évry", "Ville d'Évry"),
    ("ACV230", "249740077", "974", "97414", "Saint-Louis-de-la-Réunion", "Ville de Saint-Louis-de-la-Réunion"),
])
def test_prj10_fin19_the_name_the_list_gives_the_convention_of_a_commune_alone(acv_id, siren, dept, code, typed, mo):
    """« Évry » on the row of Évry-Courcouronnes (its name before 2019, and the list's for the convention)
    was told it is not the commune's name; and « Ville d'Évry » was no commune, so a DETR of its 66 177
    inhabitants went without FIN-19."""
    def m(r):
        r["names"].update(acv_id=acv_id, acv_libelle=typed, acv_departement=dept, acv_siren_epci=siren)
        r["T_Communes"][:] = [{"code_insee": code, "commune": typed, "role": "Ville centre"}]
        r["T_Actions"][0]["maitre_ouvrage"] = mo
        detr_for_arras(r)
    out = run(m)
    assert [f.code for f in out if f.code in ("PRJ-10", "FIN-19")] == ["FIN-19"]
    # the name of another convention's commune beside Arras's code is one of the list's: an error
    out = findings(_with_name(clean_raw(), 0, "Évry"), "PRJ-10")
    assert only(out) == [("PRJ-10", E, "Projet", cell_of("T_Communes", 0, "commune"))]
    assert "pas d'Évry-Courcouronnes, dont le code est 91228" in out[0].message


def test_prj10_a_renamed_commune_passes_with_a_list_that_knows_its_name():
    ref = with_list(**{"62041": {"commune": "Arras-en-Artois"}})
    assert findings(_with_name(clean_raw(), 0, "Arras-en-Artois"), "PRJ-10", ref) == []


@pytest.mark.parametrize("libelle, warned", [
    ("Béthune", True), ("Action Cœur de Ville de Béthune", True), ("Arras", False), ("Ville d'Arras", False),
    ("Cœur de ville", False), ("Arras - Béthune", False), ("Saint-Omer", True), ("Béthune - Bruay", True),
    ("Redonner du sens au centre-ville", False), ("Cœur de ville d'Arras", False),
])
def test_prj10_a_label_naming_another_commune_of_the_list_warns(libelle, warned):
    out = findings(_with_libelle(clean_raw(), libelle), "PRJ-10")
    assert only(out) == ([("PRJ-10", A, "Projet", "B5")] if warned else [])
    if libelle == "Béthune":
        assert out[0].message == ("Le libellé de la convention « Béthune » nomme Béthune, de la convention ACV031 "
                                  "(Béthune - Bruay-la-Buissière), et aucune commune de la convention ACV014 (Arras) "
                                  "selon la liste nationale ACV (ANCT, avril 2024).")
        assert out[0].suggestion == "Saisissez « Arras », ou corrigez l'identifiant de la convention."


def _with_libelle(raw, libelle):
    raw["names"]["acv_libelle"] = libelle
    return raw


def _with_name(raw, i, name):
    raw["T_Communes"][i]["commune"] = name
    return raw


def test_prj07_binome_with_both_communes_passes():
    assert run(lens_lievin) == []


def test_prj07_binome_missing_one_commune():
    out = run(lambda r: lens_lievin(r, (("62498", "Lens", "Ville centre"),)))
    assert only(out) == [("PRJ-07", E, "Projet", cell_of("T_Communes", 0, "code_insee"))]
    assert "ACV113 (Lens - Liévin) réunit 2 communes" in out[0].message
    assert "Liévin (62510) manque" in out[0].message and "« Commune associée »" in out[0].suggestion


def test_prj07_suggests_the_ville_centre_when_the_table_has_none():
    """Liévin alone as « Commune associée »: Lens was suggested as another « Commune associée », and the
    convention would have had no ville centre."""
    out = run(lambda r: lens_lievin(r, (("62510", "Liévin", "Commune associée"),)))
    assert [f.suggestion for f in out] == ["Ajoutez la ligne 62498 « Lens », rôle « Ville centre »."]


def test_prj07_not_judged_while_a_code_is_unreadable_or_the_table_empty():
    out = run(lambda r: lens_lievin(r, (("62498", "Lens", "Ville centre"), ("6251", "Liévin", "Commune associée"))))
    assert [f.code for f in out] == ["PRJ-02"]
    assert [f.code for f in run(lambda r: r.update(T_Communes=[]))] == ["PRJ-02"]


# PRJ-08
def test_prj08_siren_differs_gives_the_lists_date():
    out = run(lambda r: r["names"].update(acv_siren_epci="200033578"))
    assert only(out) == [("PRJ-08", A, "Projet", "B8")]
    assert "200033579" in out[0].message and "la liste date d'avril 2024" in out[0].message


def test_prj08_siren_written_with_spaces_is_the_same():
    assert run(lambda r: r["names"].update(acv_siren_epci="200 033 579")) == []


def test_prj08_a_later_list_where_the_epci_merged_gives_its_own_date():
    ref = with_list(**{"62041": {"siren_epci": "200099999"}})
    out = findings(clean_raw(), "PRJ-08", ref)
    assert only(out) == [("PRJ-08", A, "Projet", "B8")]
    assert "liste d'essai" in out[0].message and "la liste date du 01/01/2025" in out[0].message


def test_prj08_departement_differs():
    out = run(lambda r: r["names"].update(acv_departement="59"), "PRJ-08")
    assert only(out) == [("PRJ-08", A, "Projet", "B6")] and "62" in out[0].message


# PRJ-09
def creusot(r):
    """Le Creusot (ACV109): its ORT is « Non signée » in the list."""
    r["names"].update(acv_id="ACV109", acv_libelle="Le Creusot", acv_departement="71", acv_siren_epci="247100290")
    r["T_Communes"][:] = [{"code_insee": "71153", "commune": "Le Creusot", "role": "Ville centre"}]
    for p in r["T_Perimetres"]:
        p["communes"] = "71153"


def test_prj11_a_convention_dated_before_the_list_s_signature():
    """Arras's convention-cadre typed 12/06/2017 (the list: 12/06/2018): a year mistyped, by which ACT-07
    and FIN-24 judge the plan, passed unsaid — no date of the workbook was compared with the list's."""
    raw = clean_raw()
    raw["names"]["acv_date_convention"] = date(2017, 6, 12)
    out = findings(raw, "PRJ-11")
    assert only(out) == [("PRJ-11", A, "Projet", "B11")]
    assert out[0].message == ("La convention-cadre est datée du 12/06/2017, mais la liste nationale ACV (ANCT, avril "
                              "2024) donne la convention ACV014 (Arras) signée le 12/06/2018 : ni elle ni un avenant ne "
                              "sont signés avant cette date.")
    # the list's own date passes; a later one too: an avenant's (the ACV 2 extension), as the clean one's 2023
    raw["names"]["acv_date_convention"] = date(2018, 6, 12)
    assert findings(raw, "PRJ-11") == []
    assert findings(clean_raw(), "PRJ-11") == []
    # the parties sign on different days: the first signature, weeks before the list's (the last), passes
    raw["names"]["acv_date_convention"] = date(2018, 4, 20)
    assert findings(raw, "PRJ-11") == []
    raw["names"]["acv_date_convention"] = date(2018, 4, 10)
    assert len(findings(raw, "PRJ-11")) == 1
    # a list without the date, an id the list does not know: nothing to compare
    raw["names"]["acv_date_convention"] = date(2017, 6, 12)
    assert findings(raw, "PRJ-11", with_list(**{"62041": {"date_signature_convention": ""}})) == []
    raw["names"]["acv_id"] = "ACV999"
    assert findings(raw, "PRJ-11") == []


def test_prj11_the_shipped_examples_are_dated_as_the_list_or_after():
    for f in sorted(Path(__file__).resolve().parents[1].joinpath("workbooks", "exemples").glob("*.xlsx")):
        assert [x for x in validate_file(f).findings if x.code == "PRJ-11"] == [], f.name


def test_prj09_acv2_without_a_signed_ort():
    out = run(creusot)
    assert only(out) == [("PRJ-09", A, "Périmètres", cell_of("T_Perimetres", 1, "type"))]
    assert "pour Le Creusot (non signée)" in out[0].message and "24 mai 2023" in out[0].message


def test_prj09_acv1_is_not_judged():
    def m(r):
        creusot(r)
        r["names"].update(acv_programme="ACV 1", acv_date_convention=None)
    assert run(m, "PRJ-09") == []


def test_prj09_ort_unknown_in_the_list_and_signed_in_a_later_one():
    assert "non renseignée" in findings(_creusot(), "PRJ-09", with_list(**{"71153": {"ort": "", "date_ort": ""}}))[0].message
    assert findings(_creusot(), "PRJ-09", with_list(**{"71153": {"ort": "Signée", "date_ort": "2025-01-10"}})) == []


def _creusot():
    raw = clean_raw()
    creusot(raw)
    return raw


def test_prj09_without_ort_perimeter_lands_on_the_table_and_per01_reports_the_missing_perimeter():
    def m(r):
        creusot(r)
        r["T_Perimetres"][1]["type"] = "Secteur contigu"
    out = run(m)
    assert ("PRJ-09", A, "Périmètres", cell_of("T_Perimetres", 0, "type")) in only(out)
    assert "PER-01" in [f.code for f in out]


# FIN-19
def detr_for_arras(r, dispositif="DETR"):
    r["T_Financements"][line_index(r, "1.1", "ETAT")]["dispositif"] = dispositif


@pytest.mark.parametrize("population,warned", [("20000", False), ("20001", True), ("42600", True), ("19999", False)])
def test_fin19_boundary_20000_inhabitants(population, warned):
    raw = clean_raw()
    detr_for_arras(raw)
    out = findings(raw, "FIN-19", with_list(**{"62041": {"population": population}}))
    i = line_index(raw, "1.1", "ETAT")
    assert only(out) == ([("FIN-19", A, "Plan de financement", cell_of("T_Financements", i, "dispositif"))] if warned else [])


def test_fin19_message_explains_the_rule_and_the_exceptions():
    out = run(detr_for_arras, "FIN-19")
    assert len(out) == 1 and out[0].action == "1.1"
    m, s = out[0].message, out[0].suggestion
    assert "commune d'Arras, qui compte 42 600 habitants selon la liste nationale ACV (ANCT, avril 2024)" in m
    assert "20 000 habitants au plus en métropole" in m and "L2334-33" in m
    assert "arrêtée par le préfet" in s and "commune nouvelle" in s and "DSIL" in s


def test_fin19_outre_mer_threshold_is_35000():
    def reunion(r):  # Saint-Louis de La Réunion (ACV230)
        r["names"].update(acv_id="ACV230", acv_libelle="Saint-Louis", acv_departement="974", acv_siren_epci="249740077")
        r["T_Communes"][:] = [{"code_insee": "97414", "commune": "Saint-Louis", "role": "Ville centre"}]
        r["T_Actions"][0]["maitre_ouvrage"] = "Ville de Saint-Louis"
        detr_for_arras(r)
    raw = clean_raw()
    reunion(raw)
    assert findings(raw, "FIN-19", with_list(**{"97414": {"population": "35000"}})) == []
    out = findings(raw, "FIN-19", with_list(**{"97414": {"population": "35001"}}))
    assert len(out) == 1 and "35 000 habitants au plus outre-mer" in out[0].message


@pytest.mark.parametrize("dispositif", ["DETR 2025", "detr", "Dotation DETR"])
def test_fin19_variants_of_the_name_count(dispositif):
    assert len(run(lambda r: detr_for_arras(r, dispositif), "FIN-19")) == 1


@pytest.mark.parametrize("dispositif,warned", [("DETR/DSIL", True), ("DSIL ou DETR", True), ("DSIL (ex-DETR)", False),
                                                ("DSIL", False), ("DETR (au lieu de la DSIL)", True)])
def test_fin19_a_line_naming_the_detr_with_another_dotation_is_judged(dispositif, warned):
    """« DETR/DSIL » on Arras's 1.1 (42 600 inhabitants) was read as a DSIL: the DETR it may hold escaped the population
    threshold in silence. The line names the DETR: FIN-19 judges it, as FIN-26 asks to split it."""
    assert len(run(lambda r: detr_for_arras(r, dispositif), "FIN-19")) == warned


@pytest.mark.parametrize("dispositif", ["DSIL (commune non éligible à la DETR)", "DSIL (demande DETR refusée)",
                                        "DSIL au lieu de la DETR", "DSIL sans DETR", "DSIL - DETR refusée",
                                        # the refusal said in a sentence
                                        "DSIL, la DETR ayant été refusée", "DSIL (la DETR n'ayant pas été retenue)",
                                        "DSIL, DETR pas obtenue", "DSIL / DETR rejetée en 2024",
                                        # its year between
                                        "DSIL 2024 (DETR 2023 refusée)", "DSIL 2025, DETR 2024 non retenue"])
def test_fin19_a_dsil_whose_note_names_the_detr_is_no_detr(dispositif):
    """Arras (42 600 inhabitants) writes why its line is a DSIL: « DSIL (commune non éligible à la DETR) ». Any DETR
    named beside a DSIL was read as a line mixing the two: FIN-19 warned of a DETR above the population threshold on
    the very line that says the commune gets none, and FIN-26 asked to split it. Two dotations are mixed only when the
    line names them together (« DETR/DSIL », « DSIL ou DETR »)."""
    assert run(lambda r: detr_for_arras(r, dispositif), "FIN-19") == []
    assert run(lambda r: detr_for_arras(r, dispositif), "FIN-26") == []


def test_fin19_not_for_a_refused_line_an_epci_or_an_unnamed_commune():
    def refused(r):
        detr_for_arras(r)
        r["T_Financements"][line_index(r, "1.1", "ETAT")]["statut"] = "Refusé"
    assert run(refused, "FIN-19") == []
    # 2.1 has a DETR line already: its maître d'ouvrage is the EPCI (the rule is about communes)
    assert run(lambda r: None, "FIN-19") == []

    def other_commune(r):
        detr_for_arras(r)
        r["T_Actions"][0]["maitre_ouvrage"] = "Commune de Sainte-Catherine"
    assert run(other_commune, "FIN-19") == []

    def abandoned(r):  # left the plan: « sollicitez la DSIL » for it made no sense
        detr_for_arras(r)
        r["T_Actions"][0]["maturite"] = "Abandonnée"
    assert run(abandoned, "FIN-19") == []


def test_fin19_in_a_binome_the_commune_named_by_the_maitre_d_ouvrage():
    def m(r, mo):
        lens_lievin(r)
        r["T_Actions"][0]["maitre_ouvrage"] = mo
        detr_for_arras(r)
    lens = with_list(**{"62498": {"population": "20000"}})  # Lens at the threshold, Liévin above it
    assert findings(_raw(m, "Ville de Lens"), "FIN-19", lens) == []
    out = findings(_raw(m, "Ville de Liévin"), "FIN-19", lens)
    assert len(out) == 1 and "Liévin" in out[0].message


def _raw(mutate, *args):
    raw = clean_raw()
    mutate(raw, *args)
    return raw


def test_the_rules_use_the_list_passed_in_not_a_file(monkeypatch):
    """A list given to the engine is the one compared with, even when the environment names another."""
    monkeypatch.setenv(reference.ENV_VAR, "/nonexistent/liste.csv")
    ref = with_list()
    assert validate_convention(build(clean_raw()), reference=ref).findings == []
    without_arras = reference.parse(
        "\n".join(line for line in reference.SHIPPED.read_text(encoding="utf-8").splitlines()
                  if not line.startswith("ACV014,")),
        Path("x.csv"), "liste sans Arras", "01/01/2025")
    out = validate_convention(build(clean_raw()), reference=without_arras).findings
    assert [f.code for f in out] == ["PRJ-06"] and "liste sans Arras" in out[0].message


def test_fin19_not_for_a_regions_fund_named_like_the_detr():
    """« Fonds régional d'équipement des territoires ruraux » paid by the Région is no DETR: the État's
    population threshold is not its own."""
    def regional(r, financeur):
        detr_for_arras(r, "Fonds régional d'équipement des territoires ruraux")
        r["T_Financements"][line_index(r, "1.1", "ETAT")]["financeur"] = financeur
    assert run(lambda r: regional(r, "REGION"), "FIN-19") == []
    assert len(run(lambda r: regional(r, "ETAT"), "FIN-19")) == 1


@pytest.mark.parametrize("mo", ["Ville de Saint-Quentin", "Ville de St-Quentin", "VILLE DE ST QUENTIN"])
def test_fin19_the_maitre_d_ouvrage_is_recognised_as_prj10_reads_names(mo):
    """Saint-Quentin (52 958 inhabitants): « St-Quentin » in the maître d'ouvrage escaped the threshold."""
    def m(r):
        r["names"].update(acv_id="ACV186", acv_libelle="Saint-Quentin", acv_departement="02",
                          acv_siren_epci="200071892")
        r["T_Communes"][:] = [{"code_insee": "02691", "commune": "Saint-Quentin", "role": "Ville centre"}]
        r["T_Actions"][0]["maitre_ouvrage"] = mo
        detr_for_arras(r)
    out = run(m, "FIN-19")
    assert len(out) == 1 and "commune de Saint-Quentin, qui compte 52 958 habitants" in out[0].message


def _mojibake(s: str) -> bool:
    """UTF-8 read as cp1252 (« Ã‰pernay »): encoded back, it decodes as other UTF-8 text."""
    try:
        return s.encode("cp1252").decode("utf-8") != s
    except UnicodeError:
        return False


def test_the_shipped_list_names_its_conventions_in_readable_french():
    """« La convention ACV081 (Ã‰pernay) » was printed by PRJ-06, PRJ-07 and PRJ-10: five names were
    UTF-8 read as cp1252, and ACV115 was « Les Mureaux â€“ Melan-en-Yvelines »."""
    ref = reference.shipped()
    assert not [c.convention for c in ref.communes if _mojibake(c.convention) or _mojibake(c.commune)]
    assert ref.conventions["ACV081"].nom == "Épernay"
    assert ref.conventions["ACV115"].nom == "Les Mureaux – Meulan-en-Yvelines"
    assert not findings(_with_libelle(clean_raw(), "Évreux"), "PRJ-06")
    out = findings(_with_libelle(clean_raw(), "Évreux"), "PRJ-10")
    assert "de la convention ACV084 (Évreux)" in out[0].message
