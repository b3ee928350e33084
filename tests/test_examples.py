"""The demonstration conventions of the Pas-de-Calais: deterministic, complete, balanced, and
faulty exactly where `FAUTES_ATTENDUES` says."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from acv_xl.contract import layout
from acv_xl.checks import totals
from acv_xl.contract import reference
from acv_xl.outputs.examples import FAUTES_ATTENDUES, MENTION, example_conventions, write_examples
from acv_xl.checks.findings import Gravite

FILES = ["arras.xlsx", "bethune-bruay.xlsx", "boulogne-sur-mer.xlsx", "calais.xlsx", "lens-lievin.xlsx",
         "saint-omer.xlsx"]
# file → (national id, INSEE codes): the conventions of the Pas-de-Calais in the national list
NATIONAL = {"arras.xlsx": ("ACV014", {"62041"}), "bethune-bruay.xlsx": ("ACV031", {"62119", "62178"}),
            "boulogne-sur-mer.xlsx": ("ACV034", {"62160"}), "calais.xlsx": ("ACV043", {"62193"}),
            "lens-lievin.xlsx": ("ACV113", {"62498", "62510"}), "saint-omer.xlsx": ("ACV184", {"62765"})}
ZERO = Decimal("0.00")


@pytest.fixture(scope="module")
def convs():
    return example_conventions()


def _clean(convs):
    return {n: c for n, c in convs.items() if n not in FAUTES_ATTENDUES}


def test_the_six_conventions_of_the_pas_de_calais_under_their_national_ids(convs):
    assert sorted(convs) == sorted(FILES)
    ids = [c.acv_id for c in convs.values()]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"ACV\d{3}", i) for i in ids)
    ref = reference.shipped()
    assert sorted(NATIONAL.values(), key=str) == sorted(
        ((k, set(c.insee)) for k, c in ref.conventions.items() if c.communes[0].departement == "62"), key=str)
    for name, conv in convs.items():
        acv_id, insee = NATIONAL[name]
        assert conv.acv_id == acv_id and {c.code_insee for c in conv.communes} == insee, name
        cref = ref.conventions[acv_id]
        # the identity is the list's: name, communes, signature date, département, SIREN of the EPCI
        assert conv.libelle == cref.nom and [c.commune for c in conv.communes] == [c.commune for c in cref.communes]
        assert conv.value("acv_date_convention") == cref.date_signature, name
        assert conv.departement == "62" and conv.value("acv_siren_epci") == cref.communes[0].siren_epci, name
        assert conv.programme in layout.PROGRAMMES
        # perimeters live in the convention's communes, and no centre holds more people than they do
        ort = next(p for p in conv.perimetres if p.type == "ORT")
        assert ort.population <= sum(c.population for c in cref.communes), name
        assert all(set(p.communes.split(";")) <= insee for p in conv.perimetres), name
    assert {c.programme for c in convs.values()} == {"ACV 1", "ACV 2"}
    assert len(FAUTES_ATTENDUES) == 3 and set(FAUTES_ATTENDUES) <= set(FILES)


@pytest.mark.parametrize("name,communes", [("lens-lievin.xlsx", ("Lens", "Liévin")),
                                           ("bethune-bruay.xlsx", ("Béthune", "Bruay-la-Buissière"))])
def test_binomes_are_one_convention_each(convs, name, communes):
    conv = convs[name]
    assert conv.libelle == " - ".join(communes)
    assert [(c.commune, c.role) for c in conv.communes] == [(communes[0], "Ville centre"), (communes[1], "Commune associée")]
    # each commune has its own sector and its own actions
    by_code = {p.code: p for p in conv.perimetres}
    insee = {c.commune: c.code_insee for c in conv.communes}
    for commune in communes:
        assert any(p.communes == insee[commune] for p in conv.perimetres if p.type == "Secteur prioritaire"), commune
        assert any(commune in a.maitre_ouvrage and by_code[a.perimetre].communes in (insee[commune], by_code["ORT"].communes)
                   for a in conv.actions), commune


def test_the_workbooks_say_what_is_real_and_what_is_fictitious():
    assert "liste nationale ACV (ANCT, avril 2024)" in MENTION and "montants" in MENTION and "fictifs" in MENTION


def test_no_line_uses_a_dispositif_before_it_existed(convs):
    """`layout.DISPOSITIFS_CREATION` is the one table of creation years (Fonds vert 2023, FRLA 2021…)."""
    seen = set()
    for name, conv in convs.items():
        for lf in conv.financements:
            first = layout.DISPOSITIFS_CREATION.get(lf.dispositif)
            if first is not None:
                seen.add(lf.dispositif)
                assert lf.annee >= first, (name, lf.numero, lf.dispositif, lf.annee)
    assert {"Fonds vert", "FRLA", "DSIL", "DETR", "PRU ACV"} <= seen  # the table is really exercised


def test_the_creation_table_catches_an_anachronism(convs):
    lf = next(x for x in convs["arras.xlsx"].financements if x.dispositif == "FRLA")
    assert lf.annee == 2021 and layout.DISPOSITIFS_CREATION["FRLA"] == 2021  # Arras's foncière: 2021, not before
    assert all(x.annee < layout.DISPOSITIFS_CREATION["Fonds vert"] for x in convs["arras.xlsx"].financements)
    assert not any(x.dispositif == "Fonds vert" for c in convs.values() if c.programme == "ACV 1" for x in c.financements)


def test_fonds_de_concours_only_from_the_epci_to_one_of_its_communes(convs):
    ref = reference.shipped()
    found = 0
    for name, conv in convs.items():
        communes = [c.commune for c in conv.communes]
        for lf in conv.financements:
            if "concours" in (lf.dispositif or "").lower():
                found += 1
                a = conv.action(lf.numero)
                assert lf.financeur == "EPCI" and a.type_mo == "Commune", (name, lf.numero)
                assert any(c in a.maitre_ouvrage for c in communes), (name, lf.numero)
        assert {ref.par_insee[c.code_insee].siren_epci for c in conv.communes} == {conv.value("acv_siren_epci")}
    assert found >= 1  # Béthune's Grand'Place (the foncières, SEMs, are funded by the Région instead)


def test_diagnostic_and_actions_cover_the_five_axes(convs):
    for name, conv in convs.items():
        assert {d.axe for d in conv.diagnostic if d.axe} == set(layout.AXES), name
        assert {a.axe for a in conv.actions} == set(layout.AXES), name
        assert 6 <= len(conv.actions) <= 10, name
        etudes = [d for d in conv.diagnostic if d.type == layout.DIAGNOSTIC_ETUDE]
        assert etudes and all(d.cout_estime and d.financeur_pressenti for d in etudes), name
        # every action is evaluated
        assert {i.numero for i in conv.indicateurs} == {a.numero for a in conv.actions}, name


def test_three_nested_perimeters(convs):
    for name, conv in convs.items():
        by_code = {p.code: p for p in conv.perimetres}
        etude = [p for p in conv.perimetres if p.type == "Étude"]
        ort = [p for p in conv.perimetres if p.type == "ORT"]
        assert len(etude) == 1 and len(ort) == 1, name
        assert etude[0].echelle in ("EPCI", "Bassin de vie") and ort[0].parent == etude[0].code
        sectors = [p for p in conv.perimetres if p.type not in ("Étude", "ORT")]
        assert any(p.type == "Secteur prioritaire" for p in sectors), name
        if conv.programme == "ACV 2":
            assert any(p.type in ("Quartier de gare", "Entrée de ville") for p in sectors), name
        for p in conv.perimetres:
            if p.parent:
                parent = by_code[p.parent]
                assert p.superficie < parent.superficie and p.population < parent.population, (name, p.code)
        assert {a.perimetre for a in conv.actions} <= set(by_code), name


def test_clean_plans_balance_to_the_cent(convs):
    for name, conv in _clean(convs).items():
        for a in conv.actions:
            assert totals.ecart(a, conv.financements) == ZERO, (name, a.numero)
        t = totals.compute(conv)
        assert t.ecart == ZERO and t.cout_total > 0, name


def test_refused_lines_exist_and_are_left_out(convs):
    refused = [(n, lf) for n, c in _clean(convs).items() for lf in c.financements if lf.statut == "Refusé"]
    assert refused
    for name, lf in refused:
        conv = convs[name]
        action = conv.action(lf.numero)
        # the plan balances without the refused line, so it would not balance with it
        assert totals.ecart(action, conv.financements) == ZERO
        assert sum((x.montant for x in conv.financements if x.numero == lf.numero), ZERO) > action.cout_total


def test_clean_plans_respect_the_public_finance_rules(convs):
    """Checked here with `totals` directly, independently of the rules module."""
    for name, conv in _clean(convs).items():
        years = layout.programme_years(conv.programme)
        for a in conv.actions:
            lines = totals.lines_of(conv.financements, a.numero)
            counted = totals.counted(lines)
            if a.type_mo in layout.MO_PUBLICS_L1111_10 and a.derogation in (None, "Aucune"):
                part = totals.part_mo(lines, conv.financeurs)
                assert part.ratio is None or part.ratio >= Decimal("0.2"), (name, a.numero, part)
            dep = a.depense_subventionnable
            dot = totals.dotations_r2334_27(lines, conv.dispositifs)
            assert dot <= dep * Decimal("0.8"), (name, a.numero)
            for lf in counted:
                if lf.dispositif in layout.DISPOSITIFS_DETR_DSIL:
                    assert lf.montant >= dep * Decimal("0.2"), (name, a.numero)
                assert lf.annee in years, (name, a.numero)
                if lf.statut in layout.STATUTS_ACQUIS:
                    assert lf.reference_decision, (name, a.numero)
                if lf.financeur == "AL":
                    assert a.type_mo not in ("Commune", "EPCI"), (name, a.numero)
                if lf.financeur == "ANAH":
                    assert a.axe == 1, (name, a.numero)
                d = conv.dispositif(lf.financeur, lf.dispositif)
                assert d is not None and d.nature == lf.nature, (name, a.numero, lf.dispositif)
            publiques = sum((lf.montant for lf in counted if totals.is_public_subsidy(lf, conv.financeurs)), ZERO)
            assert publiques <= dep, (name, a.numero)
            assert set(a.cosignataires_codes) >= {lf.financeur for lf in lines}, (name, a.numero)
            assert a.date_debut <= a.date_fin <= conv.value("acv_date_fin_deploiement")
            assert a.date_debut >= conv.value("acv_date_convention")
            if a.maturite in layout.MATURITES_SIGNEES:
                assert a.date_signature is not None, (name, a.numero)


def test_planted_mistakes_are_where_the_list_says(convs):
    b = convs["boulogne-sur-mer.xlsx"]
    by_cell = {lf.cell("financeur"): lf for lf in b.financements} | {lf.cell("montant"): lf for lf in b.financements}
    assert by_cell["B19"].financeur == "FEDER" and b.financeur("FEDER") is None
    text = by_cell["F23"]
    assert text.montant is None and text.problems["montant"].kind == "texte_nombre"
    assert isinstance(text.raw["montant"], str) and "€" in text.raw["montant"]
    c = convs["calais.xlsx"]
    a31 = next(a for a in c.actions if a.cell("cout_total") == "M7")
    assert totals.ecart(a31, c.financements) == Decimal("-50000.00")
    a41 = next(a for a in c.actions if a.cell("derogation") == "O8")
    assert totals.part_mo(totals.lines_of(c.financements, a41.numero), c.financeurs).ratio < Decimal("0.2")
    s = convs["saint-omer.xlsx"]
    s41 = next(a for a in s.actions if a.cell("depense_subventionnable") == "N8")
    lines = totals.lines_of(s.financements, s41.numero)
    assert totals.dotations_r2334_27(lines, s.dispositifs) > s41.depense_subventionnable * Decimal("0.8")
    bad_axe = next(d for d in s.diagnostic if d.cell("axe") == "A7")
    assert bad_axe.axe is None and "axe" in bad_axe.problems


def test_rules_find_exactly_the_planted_errors(convs):
    from acv_xl.checks.rules import run_rules

    for name, conv in convs.items():
        findings = run_rules(conv)
        errors = sorted((f.code, f.feuille, f.cellule) for f in findings if f.gravite is Gravite.ERREUR)
        assert errors == sorted(FAUTES_ATTENDUES.get(name, [])), name
        warnings = [(f.code, f.cellule) for f in findings if f.gravite is Gravite.AVERTISSEMENT]
        assert warnings == [], (name, warnings)


def test_written_workbooks_read_back_to_the_same_totals(tmp_path, convs):
    from acv_xl.checks.fingerprint import fingerprint
    from acv_xl.reading.read import read_file

    for path in write_examples(tmp_path):
        back = read_file(path)
        assert totals.compute(back) == totals.compute(convs[path.name]), path.name
        # the data written is exactly the data built: same fingerprint from the file and from memory
        assert fingerprint(back) == fingerprint(convs[path.name]), path.name
        assert len(back.financements) == len(convs[path.name].financements)


def test_deterministic(tmp_path):
    a = write_examples(tmp_path / "a")
    b = write_examples(tmp_path / "b")
    assert [p.name for p in a] == [p.name for p in b] == FILES
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    assert {n: c.model_dump() for n, c in example_conventions().items()} == \
        {n: c.model_dump() for n, c in example_conventions().items()}
