"""PRJ rules: identity of the convention."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from acv_xl.checks.findings import Gravite

from conventions import cell_of, run

E, A = Gravite.ERREUR, Gravite.AVERTISSEMENT


def only(out):
    return [(f.code, f.gravite, f.feuille, f.cellule) for f in out]


# PRJ-01
def test_prj01_required_named_cell_empty():
    out = run(lambda r: r["names"].update(acv_directeur_projet=None))
    assert only(out) == [("PRJ-01", E, "Projet", "B9")]
    assert "Directeur de projet" in out[0].message


def test_prj01_blank_text_counts_as_empty_and_optional_cells_may_be_empty():
    assert only(run(lambda r: r["names"].update(acv_epci="   "))) == [("PRJ-01", E, "Projet", "B7")]
    assert run(lambda r: r["names"].update(acv_referent_etat=None, acv_siren_epci=None,
                                            acv_date_fin_initialisation=None, acv_date_comite=None)) == []


def test_prj01_missing_fin_deploiement_suggests_programme_end():
    out = run(lambda r: r["names"].update(acv_date_fin_deploiement=None))
    assert only(out) == [("PRJ-01", E, "Projet", "B13")]
    assert "31/12/2026" in out[0].suggestion


# PRJ-02
def test_prj02_no_commune():
    out = run(lambda r: r.update(T_Communes=[]))
    assert only(out) == [("PRJ-02", E, "Projet", "A21")]


@pytest.mark.parametrize("code,ok", [("62041", True), ("2A004", False), ("6204", False), ("620410", False),
                                     ("62O41", False), ("59350", False)])
def test_prj02_insee_code_form_and_departement(code, ok):
    out = run(lambda r: r["T_Communes"][0].update(code_insee=code), "PRJ-02")
    assert (out == []) is ok
    if not ok:
        assert out[0].cellule == "A21"


def test_prj02_corsican_code_in_corsica_passes():
    def m(r):  # Ajaccio, as the national list gives it
        r["names"].update(acv_departement="2A", acv_id="ACV004", acv_libelle="Ajaccio", acv_siren_epci="242010056")
        r["T_Communes"][0].update(code_insee="2A004", commune="Ajaccio")
    assert run(m) == []


def test_prj02_code_typed_as_number_lost_its_leading_zero():
    def m(r):
        r["names"]["acv_departement"] = "01"
        r["T_Communes"][0]["code_insee"] = 1053
    out = run(m, "PRJ-02")
    assert len(out) == 1 and "01053" in out[0].suggestion


def test_prj02_commune_name_empty():
    out = run(lambda r: r["T_Communes"][0].update(commune=None))
    assert only(out) == [("PRJ-02", E, "Projet", "B21")]


def test_prj02_binome_two_communes_same_departement():
    def m(r):  # Lens - Liévin, as the national list gives it
        r["names"].update(acv_id="ACV113", acv_libelle="Lens - Liévin", acv_siren_epci="246200364")
        r["T_Communes"][:] = [{"code_insee": "62498", "commune": "Lens", "role": "Ville centre"},
                              {"code_insee": "62510", "commune": "Liévin", "role": "Commune associée"}]
    assert run(m) == []


# PRJ-03
@pytest.mark.parametrize("value,sugg", [("ACV12", "ACV012"), ("acv 7", "ACV007"), ("ACV-0012", None), ("Arras", None)])
def test_prj03_malformed_id(value, sugg):
    # (« ACV12 » designates ACV012, whose communes are not Arras: the national list's rules say so too)
    out = run(lambda r: r["names"].update(acv_id=value), "PRJ-03")
    assert only(out) == [("PRJ-03", A, "Projet", "B4")]
    if sugg:
        assert sugg in out[0].suggestion


def test_prj03_boundary_acv999_is_well_formed():
    out = run(lambda r: r["names"].update(acv_id="ACV999"))
    assert [f.code for f in out] == ["PRJ-06"]  # well formed, but not in the national list


# PRJ-04
def test_prj04_initialisation_before_convention():
    out = run(lambda r: r["names"].update(acv_date_fin_initialisation=date(2023, 6, 14)))
    assert only(out) == [("PRJ-04", E, "Projet", "B12")]
    assert "14/06/2023" in out[0].message and "15/06/2023" in out[0].message


def test_prj04_a_year_typed_as_the_convention_date_is_not_a_date():
    """2018 in a « Standard » cell was read as 10/07/1905, and a convention signed then validated."""
    out = run(lambda r: r["names"].update(acv_date_convention=2018.0))
    assert only(out) == [("PRJ-04", E, "Projet", "B11")]
    assert "n'est pas une date : « 2018 »" in out[0].message
    assert out[0].suggestion == "Une année seule n'est pas une date : saisissez la date complète au format jj/mm/aaaa."


@pytest.mark.parametrize("typed, shown", [(-1e308, "-1E+308"), (1.5e20, "1,5E+20"), (2e11, "200000000000")])
def test_prj04_a_huge_number_is_shown_as_excel_shows_it(typed, shown):
    """« -1E+308 » typed in a date cell (Excel shows ####, its formula bar -1E+308) was said « n'est pas une
    date : « -1000000000000000010979063629… » », three hundred digits the user never typed; past the 15
    digits Excel keeps, the number is shown as Excel shows it."""
    out = run(lambda r: r["names"].update(acv_date_convention=typed))
    assert only(out) == [("PRJ-04", E, "Projet", "B11")]
    assert f"n'est pas une date : « {shown} »" in out[0].message, out[0].message


def test_prj04_a_number_out_of_the_dates_is_not_called_a_year():
    """-3 or 3 000 000 in a date cell is no date, but no year either: the suggestion must not say so."""
    for raw in (-3.0, 0.0, 3_000_000.0):
        out = run(lambda r: r["names"].update(acv_date_convention=raw))
        assert only(out) == [("PRJ-04", E, "Projet", "B11")]
        assert out[0].suggestion == "Saisissez une date valide au format jj/mm/aaaa."


def test_prj04_equal_dates_pass():
    assert run(lambda r: r["names"].update(acv_date_fin_initialisation=date(2023, 6, 15))) == []


def test_prj04_deployment_before_initialisation():
    out = run(lambda r: r["names"].update(acv_date_fin_deploiement=date(2024, 6, 29)), "PRJ-04")
    assert only(out) == [("PRJ-04", E, "Projet", "B13")]


def test_prj04_deployment_before_convention_without_initialisation():
    out = run(lambda r: r["names"].update(acv_date_fin_initialisation=None, acv_date_fin_deploiement=date(2023, 1, 1)), "PRJ-04")
    assert only(out) == [("PRJ-04", E, "Projet", "B13")]


def test_prj04_deployment_after_programme_end_is_a_warning():
    out = run(lambda r: r["names"].update(acv_date_fin_deploiement=date(2027, 1, 1)), "PRJ-04")
    assert only(out) == [("PRJ-04", A, "Projet", "B13")]
    assert "31/12/2026" in out[0].message


def test_prj04_acv1_end_of_2022():
    def m(r):
        r["names"].update(acv_programme="ACV 1", acv_date_convention=date(2018, 9, 1),
                          acv_date_fin_initialisation=date(2019, 6, 30), acv_date_fin_deploiement=date(2022, 12, 31))
    assert run(m, "PRJ-04") == []
    def m2(r):
        m(r)
        r["names"]["acv_date_fin_deploiement"] = date(2023, 1, 1)
    assert only(run(m2, "PRJ-04")) == [("PRJ-04", A, "Projet", "B13")]


def test_prj04_date_as_text_suggests_the_date():
    out = run(lambda r: r["names"].update(acv_date_convention="15/06/2023"))
    assert only(out) == [("PRJ-04", E, "Projet", "B11")]
    assert "15/06/2023" in out[0].suggestion


# PRJ-05
@pytest.mark.parametrize("name,value,cell", [("acv_departement", "Pas-de-Calais", "B6"), ("acv_siren_epci", "20003357", "B8"),
                                             ("acv_programme", "ACV 3", "B3")])
def test_prj05_malformed_identity_values(name, value, cell):
    out = run(lambda r: r["names"].update({name: value}))
    assert only(out) == [("PRJ-05", E, "Projet", cell)]


@pytest.mark.parametrize("dept", ["62", "2B", "974", 62])
def test_prj05_valid_departement_codes(dept):
    def m(r):
        r["names"]["acv_departement"] = dept
        r["T_Communes"][0]["code_insee"] = {"2B": "2B033", "974": "97411"}.get(str(dept), "62041")
    # (the convention's identity against the national list is PRJ-06…PRJ-08's)
    assert [f for f in run(m) if f.code in ("PRJ-02", "PRJ-05")] == []


def test_prj05_siren_with_spaces_passes():
    assert run(lambda r: r["names"].update(acv_siren_epci="200 033 579")) == []


def test_prj05_role_empty():
    out = run(lambda r: r["T_Communes"][0].update(role=None))
    assert only(out) == [("PRJ-05", E, "Projet", cell_of("T_Communes", 0, "role"))]


def test_prj05_suggests_the_departement_of_the_communes():
    """« 1 » typed as text for a convention of the Ain was told « par exemple 62 »."""
    def ain(r):
        r["names"]["acv_departement"] = "1"
        r["T_Communes"][0]["code_insee"] = "01053"
    (f,) = run(ain, "PRJ-05")
    assert f.suggestion == "Saisissez « 01 », le département des communes de la convention."
    (f,) = run(lambda r: r["names"].update(acv_departement="Pas-de-Calais"), "PRJ-05")
    assert f.suggestion == "Saisissez « 62 », le département des communes de la convention."

    def two(r):  # communes of two départements (PRJ-02's): no guess
        r["names"]["acv_departement"] = "Nord"
        r["T_Communes"].append({"code_insee": "59350", "commune": "Lille", "role": "Commune associée"})
    assert run(two, "PRJ-05")[0].suggestion == "Saisissez le code du département, par exemple 62."


def test_prj02_insee_with_a_thousands_space_is_given_back_packed():
    (f,) = run(lambda r: r["T_Communes"][0].update(code_insee="62 041"), "PRJ-02")
    assert f.suggestion == "Saisissez « 62041 », sans espace."


@pytest.mark.parametrize("code", ["62041", " 62041 "])
def test_prj02_one_commune_twice_is_an_error_on_the_second_row(code):
    """Arras typed twice (a binôme's second commune given the first one's code): the table is not the
    convention's communes; the second row is named, with the row of the first."""
    def m(r):
        r["T_Communes"].append({"code_insee": code, "commune": "Arras", "role": "Commune associée"})
    out = run(m, "PRJ-02")
    assert only(out) == [("PRJ-02", E, "Projet", "A22")]
    assert out[0].message == ("Ligne 22 : la commune de code INSEE 62041 figure déjà à la ligne 21 du tableau des "
                              "communes.")


@pytest.mark.parametrize("comite, warned", [(date(2023, 6, 14), True), (date(2023, 6, 15), False), (None, False)])
def test_prj04_next_comite_before_the_signature_warns(comite, warned):
    """The convention signed on 15/06/2023: a comité the day before (a year mistyped, mostly) is said; the same day
    passes. The plan's lapse and progress are judged at that date."""
    out = run(lambda r: r["names"].update(acv_date_comite=comite), "PRJ-04")
    assert only(out) == ([("PRJ-04", A, "Projet", "B14")] if warned else [])
    if warned:
        assert out[0].message.startswith("Le prochain comité d'engagement (14/06/2023) précède la signature de la "
                                          "convention-cadre (15/06/2023)")


def test_prj04_zero_in_a_date_cell_is_said_zero_not_midnight():
    """0 in a date cell — most often a formula naming an empty cell (« =B30 »), which Excel shows
    00/01/1900 — comes as midnight from every reader: it was « une heure seule (« 00:00 ») », a time
    the user never typed."""
    from datetime import datetime, time

    for raw in (time(0), datetime(1899, 12, 30)):  # the file reader, COM
        out = run(lambda r: r["names"].update(acv_date_convention=raw))
        assert only(out) == [("PRJ-04", E, "Projet", "B11")]
        assert out[0].message == ("« Date de signature de la convention-cadre » n'est pas une date : zéro ou un nombre "
                                  "négatif, qu'Excel affiche « 00/01/1900 » ou « ### » au format date.")


def test_prj04_a_negative_number_in_a_date_cell_is_not_said_a_time_of_day(tmp_path):
    """« -100 » in a date cell (a difference of two dates typed there, Excel showing ####): every reader
    gives its time alone, its sign lost (calamine a `time`, COM and Office.js a date-time before
    30/12/1899), and PRJ-04 said « n'est pas une date : « 00:00:00 » », a midnight the user never typed —
    « -0,0001 » was « 23:59:51.360000 ». No reader can tell a time typed from a negative number: the
    message names both, the time as Excel shows it, for the file reader and the button alike."""
    from datetime import datetime, time

    import openpyxl

    from acv_xl.checks.validate import validate_file
    from acv_xl.contract import layout

    path = tmp_path / "negatif.xlsx"
    wb = openpyxl.load_workbook(Path(__file__).resolve().parents[1] / "workbooks" / "exemples" / "calais.xlsx")
    ws = wb[layout.Sheet.PROJET]
    ws["B11"].value, ws["B12"].value = -100, -0.0001  # their date format kept
    wb.save(path)
    said = {f.cellule: f.message for f in validate_file(path).findings if f.code == "PRJ-04"}
    assert said["B11"] == ("« Date de signature de la convention-cadre » n'est pas une date : zéro ou un nombre "
                           "négatif, qu'Excel affiche « 00/01/1900 » ou « ### » au format date.")
    assert said["B12"] == ("« Fin de la phase d'initialisation » n'est pas une date : une heure seule (« 23:59:51 ») ou "
                           "un nombre négatif, qu'Excel affiche « ### » au format date.")
    # the button's reading (COM: a date-time before 30/12/1899; a time typed: « 12:30 ») says the same
    out = run(lambda r: r["names"].update(acv_date_convention=datetime(1899, 9, 21)))
    assert only(out) == [("PRJ-04", E, "Projet", "B11")] and out[0].message == said["B11"]
    out = run(lambda r: r["names"].update(acv_date_convention=time(12, 30)))
    assert "n'est pas une date : une heure seule (« 12:30 ») ou un nombre négatif" in out[0].message
