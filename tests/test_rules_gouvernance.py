"""GOU rules: governance."""

from __future__ import annotations

import pytest

from acv_xl.checks.findings import Gravite

from conventions import run

A = Gravite.AVERTISSEMENT


@pytest.mark.parametrize("index,word", [(0, "élu"), (1, "directeur de projet"), (2, "État")])
def test_gou01_missing_college(index, word):
    out = run(lambda r: r["T_Gouvernance"].pop(index))
    assert [(f.code, f.gravite, f.feuille, f.cellule) for f in out] == [("GOU-01", A, "Gouvernance", "A4")]
    assert word in out[0].message


def test_gou01_member_of_another_instance_does_not_count():
    out = run(lambda r: r["T_Gouvernance"][0].update(instance="Équipe de projet"))
    assert [f.code for f in out] == ["GOU-01"]


def test_gou01_national_partner_of_the_plan_must_sit():
    out = run(lambda r: r["T_Gouvernance"].pop(3))  # Banque des Territoires
    assert [f.code for f in out] == ["GOU-01"] and "CDC" in out[0].message and "Banque des Territoires" in out[0].message


@pytest.mark.parametrize("organisme", ["CDC", "Caisse des Dépôts", "Banque des territoires Hauts-de-France"])
def test_gou01_partner_recognised_by_code_or_name(organisme):
    assert run(lambda r: r["T_Gouvernance"][3].update(organisme=organisme)) == []


def test_gou01_partner_whose_lines_are_all_refused_need_not_sit():
    def m(r):
        r["T_Gouvernance"].pop(3)
        for lf in r["T_Financements"]:
            if lf["financeur"] == "CDC":
                lf["statut"] = "Refusé"
                lf["reference_decision"] = None
        r["T_Financements"].append(dict(r["T_Financements"][4], financeur="EPCI", dispositif="Autofinancement",
                                        nature="Autofinancement", montant=20_000))
    assert run(m, "GOU-01") == []


def test_gou01_anah_in_plan():
    def m(r):
        r["T_Financements"][2].update(financeur="ANAH", dispositif="OPAH-RU")
        r["T_Actions"][0]["cosignataires"] = "ETAT;ANAH"
    out = run(m)
    assert [f.code for f in out] == ["GOU-01"] and "Anah" in out[0].message
    m2 = lambda r: (m(r), r["T_Gouvernance"].append(dict(r["T_Gouvernance"][3], organisme="Anah (délégation locale)")))
    assert run(m2) == []


def test_gou02_empty_organisme():
    out = run(lambda r: r["T_Gouvernance"][1].update(organisme=None))
    assert [(f.code, f.cellule) for f in out] == [("GOU-02", "B5")]


@pytest.mark.parametrize("text, word", [
    ("banque des territoires", "banque des territoires"), ("la cdc\nanah", "cdc"), ("cdcx", "cdc"),
    ("xcdc", "cdc"), ("cdc2", "cdc"), ("2cdc", "cdc"), ("a-cdc-b", "cdc"), ("cdc cdcx", "cdcx"),
    ("xcdcx cdc", "cdc"), ("", "cdc"), ("anah (deleg)", "anah"), ("é cdc é", "cdc"), ("cdccdc", "cdc"),
])
def test_gou01_whole_word_search_is_the_regex_search(text, word):
    """The search of a partner's name as a whole word finds what the regex of a whole word finds,
    for one name and among several (`_named`)."""
    import re

    from acv_xl.checks.rules import gouvernance as g

    def regex(aliases):
        return re.compile(rf"(?<![a-z0-9])(?:{'|'.join(map(re.escape, aliases))})(?![a-z0-9])")

    assert g._whole_word(text, word) == bool(regex((word,)).search(text))
    for aliases in ((word, "zz"), ("zz", word), (word + "x", word), ("x" + word, word[1:] or "q")):
        assert g._named(text, aliases) == bool(regex(aliases).search(text))


def test_gou01_a_partner_name_typed_very_long_is_judged_and_never_memoised():
    """A name pasted into the Financeurs sheet (thousands of characters) is judged as any name, and
    no memo keeps it: `acv-xl serveur` runs for months."""
    from acv_xl.checks.rules import gouvernance as g

    long_name = "Banque des Territoires " + "très " * 2_000 + "(Caisse des Dépôts)"

    def m(r, organisme):
        cdc = next(f for f in r["T_Financeurs"] if f["code"] == "CDC")
        cdc["nom"] = long_name
        r["T_Gouvernance"][3].update(organisme=organisme)

    before = g._aliases_of.cache_info().currsize
    assert run(lambda r: m(r, "Caisse des Dépôts"), "GOU-01") == []  # a part of the name, whole word
    out = run(lambda r: m(r, "Mairie"), "GOU-01")
    assert [f.code for f in out] == ["GOU-01"] and "CDC" in out[0].message
    assert g._aliases_of.cache_info().currsize == before
