"""IND rules: the evaluation plan."""

from __future__ import annotations

from acv_xl.checks.findings import Gravite

from conventions import run

E, A = Gravite.ERREUR, Gravite.AVERTISSEMENT


def only(out):
    return [(f.code, f.gravite, f.feuille, f.cellule, f.action) for f in out]


def test_ind01_unknown_action_with_closest_suggestion():
    out = run(lambda r: r["T_Indicateurs"].append(dict(r["T_Indicateurs"][0], numero="1.10")))
    assert only(out) == [("IND-01", E, "Indicateurs", "A6", "1.10")]
    assert "« 1.1 »" in out[0].suggestion


def test_ind01_empty_action():
    out = run(lambda r: r["T_Indicateurs"][1].update(numero=None), "IND-01")
    assert only(out) == [("IND-01", E, "Indicateurs", "A5", "")]


def test_ind02_no_target_value_or_year():
    out = run(lambda r: r["T_Indicateurs"][0].update(valeur_cible=None, annee_cible=None))
    assert only(out) == [("IND-02", A, "Indicateurs", "E4", "1.1"), ("IND-02", A, "Indicateurs", "F4", "1.1")]


def test_ind02_target_year_outside_programme_and_boundaries():
    assert only(run(lambda r: r["T_Indicateurs"][0].update(annee_cible=2027))) == [("IND-02", A, "Indicateurs", "F4", "1.1")]
    assert only(run(lambda r: r["T_Indicateurs"][0].update(annee_cible=2022))) == [("IND-02", A, "Indicateurs", "F4", "1.1")]
    assert run(lambda r: r["T_Indicateurs"][0].update(annee_cible=2023)) == []
    assert run(lambda r: r["T_Indicateurs"][0].update(valeur_cible=0)) == []  # a target of 0 is a target


def test_ind03_empty_indicator_name():
    out = run(lambda r: r["T_Indicateurs"][0].update(indicateur=None))
    assert only(out) == [("IND-03", A, "Indicateurs", "B4", "1.1")]
