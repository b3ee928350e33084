"""DIA rules: the diagnostic on the five axes."""

from __future__ import annotations

from datetime import date

import pytest

from acv_xl.checks.findings import Gravite

from conventions import cell_of, run

E, A = Gravite.ERREUR, Gravite.AVERTISSEMENT


def only(out):
    return [(f.code, f.gravite, f.feuille, f.cellule) for f in out]


def test_dia01_axe_without_element():
    out = run(lambda r: r["T_Diagnostic"].pop(2))  # axe 3
    assert only(out) == [("DIA-01", E, "Diagnostic", "A4")]
    assert "axe 3" in out[0].message and "accessibilité" in out[0].message


def test_dia01_one_element_per_axe_in_any_wording_passes():
    def m(r):
        r["T_Diagnostic"][0]["axe"] = 1
        r["T_Diagnostic"][1]["axe"] = "2"
        r["T_Diagnostic"][2]["axe"] = "Développer l'accessibilité, la mobilité et les connexions"
        r["T_Diagnostic"][4]["axe"] = "Fournir l'accès aux équipements, aux services publics, à l'offre culturelle et de loisirs"
    assert run(m) == []


def test_dia01_each_missing_axe_reported():
    out = run(lambda r: r.update(T_Diagnostic=r["T_Diagnostic"][:2]))
    assert [f.message.split("axe ")[1][0] for f in out] == ["3", "4", "5"]


@pytest.mark.parametrize("value", ["Axe 6", "Habitat", 0])
def test_dia02_invalid_axe(value):
    out = run(lambda r: r["T_Diagnostic"][0].update(axe=value))
    assert only(out) == [("DIA-02", E, "Diagnostic", "A4")]


def test_dia02_empty_axe():
    out = run(lambda r: r["T_Diagnostic"][3].update(axe=None))
    assert only(out) == [("DIA-02", E, "Diagnostic", "A7")]


def _etude(r, **kw):
    row = {"axe": "Axe 2", "element": "Étude commerce", "source": None, "date_source": None, "constat": None,
           "type": "Étude complémentaire", "cout_estime": 30_000, "financeur_pressenti": "CDC", "etat": "Finalisé"}
    row.update(kw)
    r["T_Diagnostic"].append(row)


def test_dia03_complete_study_passes():
    assert run(_etude) == []


def test_dia03_study_without_cost_or_financeur():
    out = run(lambda r: _etude(r, cout_estime=None, financeur_pressenti=None))
    assert only(out) == [("DIA-03", A, "Diagnostic", cell_of("T_Diagnostic", 5, "cout_estime")),
                         ("DIA-03", A, "Diagnostic", cell_of("T_Diagnostic", 5, "financeur_pressenti"))]


def test_dia03_existing_element_needs_no_cost():
    assert run(lambda r: r["T_Diagnostic"][0].update(cout_estime=None, financeur_pressenti=None)) == []


def test_dia04_after_initialisation_element_not_finalised():
    def m(r):
        r["names"]["acv_date_comite"] = date(2024, 7, 1)
        r["T_Diagnostic"][1]["etat"] = "En cours"
        r["T_Diagnostic"][2]["etat"] = None
    out = run(m)
    assert only(out) == [("DIA-04", A, "Diagnostic", "I5"), ("DIA-04", A, "Diagnostic", "I6")]
    assert "30/06/2024" in out[0].message


def test_dia04_on_the_last_day_of_initialisation_passes():
    def m(r):
        r["names"]["acv_date_comite"] = date(2024, 6, 30)
        r["T_Diagnostic"][1]["etat"] = "En cours"
    assert run(m) == []


def test_dia04_reference_is_today_without_comite(monkeypatch):
    import acv_xl.checks.rules as rules

    def m(r):
        r["names"]["acv_date_comite"] = None
        r["T_Diagnostic"][1]["etat"] = "À lancer"
    monkeypatch.setattr(rules, "today", lambda: date(2024, 6, 1))
    assert run(m) == []
    monkeypatch.setattr(rules, "today", lambda: date(2025, 1, 1))
    assert only(run(m)) == [("DIA-04", A, "Diagnostic", "I5")]


def test_dia05_empty_required_values():
    out = run(lambda r: r["T_Diagnostic"][0].update(element=None, type=None))
    assert only(out) == [("DIA-05", E, "Diagnostic", "B4"), ("DIA-05", E, "Diagnostic", "F4")]
