"""PER rules: the three nested perimeters."""

from __future__ import annotations

import pytest

from acv_xl.checks.findings import Gravite

from conventions import cell_of, run

E, A = Gravite.ERREUR, Gravite.AVERTISSEMENT


def only(out):
    return [(f.code, f.gravite, f.feuille, f.cellule) for f in out]


def per(code, typ, parent, nom="Secteur", echelle="Quartier", superficie=10, population=100):
    return {"code": code, "type": typ, "nom": nom, "parent": parent, "echelle": echelle, "communes": "62041",
            "superficie": superficie, "population": population, "date_validation": None}


def test_per01_no_ort():
    def m(r):
        r["T_Perimetres"][1]["type"] = "Secteur contigu"
        r["T_Perimetres"][1]["parent"] = None
    out = run(m, "PER-01")
    assert only(out) == [("PER-01", E, "Périmètres", "B4")]
    assert "ORT" in out[0].message


def test_per01_two_etudes_flags_the_second():
    out = run(lambda r: r["T_Perimetres"].append(per("E2", "Étude", None, echelle="EPCI", superficie=50000,
                                                     population=200000)), "PER-01")
    assert only(out) == [("PER-01", E, "Périmètres", cell_of("T_Perimetres", 3, "type"))]
    assert "ligne 4" in out[0].message


def test_per01_acv2_sectors_pass():
    def m(r):
        r["T_Perimetres"].append(per("S2", "Quartier de gare", "O1"))
        r["T_Perimetres"].append(per("S3", "Entrée de ville", "O1"))
        r["T_Perimetres"].append(per("S4", "Secteur contigu", "O1"))
    assert run(m) == []


def test_per02_ort_parent_not_etude():
    out = run(lambda r: r["T_Perimetres"][1].update(parent="S1"))
    assert ("PER-02", E, "Périmètres", "D5") in only(out)
    assert "« E1 »" in next(f for f in out if f.cellule == "D5").suggestion


def test_per02_sector_parent_is_etude_not_ort():
    out = run(lambda r: r["T_Perimetres"][2].update(parent="E1"), "PER-02")
    assert only(out) == [("PER-02", E, "Périmètres", "D6")]


def test_per02_unknown_parent_and_missing_parent():
    def m(r):
        r["T_Perimetres"][2]["parent"] = "O9"
        r["T_Perimetres"].append(per("S2", "Secteur prioritaire", None))
    out = run(m, "PER-02")
    assert only(out) == [("PER-02", E, "Périmètres", "D6"), ("PER-02", E, "Périmètres", "D7")]
    assert "« O9 »" in out[0].message and "non renseigné" in out[1].message


def test_per02_etude_with_parent_and_self_parent():
    out = run(lambda r: r["T_Perimetres"][0].update(parent="E1"), "PER-02")
    assert only(out) == [("PER-02", E, "Périmètres", "D4")]
    assert "son propre parent" in out[0].message
    assert out[0].suggestion == "Videz la cellule « Périmètre parent » du périmètre d'étude."
    # a sector its own parent is told what to write instead: it said nothing (« → » alone)
    out = run(lambda r: r["T_Perimetres"][2].update(parent=r["T_Perimetres"][2]["code"]), "PER-02")
    assert "son propre parent" in out[0].message
    assert out[0].suggestion == "Indiquez le code du périmètre plus large qui le contient."


def test_per02_cycle_between_lines_of_unknown_type():
    def m(r):
        r["T_Perimetres"].append(per("X1", None, "X2"))
        r["T_Perimetres"].append(per("X2", None, "X1"))
    out = run(m, "PER-02")
    assert len(out) == 2 and all("boucle" in f.message for f in out)


@pytest.mark.parametrize("attr", ["superficie", "population"])
def test_per03_child_larger_than_parent(attr):
    out = run(lambda r: r["T_Perimetres"][2].update({attr: r["T_Perimetres"][1][attr] + 1}))
    assert only(out) == [("PER-03", E, "Périmètres", cell_of("T_Perimetres", 2, attr))]


@pytest.mark.parametrize("attr", ["superficie", "population"])
def test_per03_child_equal_to_parent_passes(attr):
    assert run(lambda r: r["T_Perimetres"][2].update({attr: r["T_Perimetres"][1][attr]})) == []


def test_per04_no_priority_sector():
    out = run(lambda r: r["T_Perimetres"][2].update(type="Quartier de gare"))
    assert only(out) == [("PER-04", A, "Périmètres", "B4")]


@pytest.mark.parametrize("echelle,bad", [("Commune", True), ("Centre-ville", True), ("Quartier", True),
                                         ("EPCI", False), ("Bassin de vie", False)])
def test_per05_etude_smaller_than_epci(echelle, bad):
    out = run(lambda r: r["T_Perimetres"][0].update(echelle=echelle))
    assert only(out) == ([("PER-05", A, "Périmètres", "E4")] if bad else [])


def test_per06_duplicate_code():
    out = run(lambda r: r["T_Perimetres"].append(per("S1", "Secteur contigu", "O1")), "PER-06")
    assert only(out) == [("PER-06", E, "Périmètres", "A7")]
    assert "ligne 6" in out[0].message


def test_per07_empty_required():
    out = run(lambda r: r["T_Perimetres"][2].update(nom=None))
    assert only(out) == [("PER-07", E, "Périmètres", "C6")]
