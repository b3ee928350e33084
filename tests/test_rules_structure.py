"""STR rules, the registry, and the « reported once, at the right cell » contract for value problems."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from acv_xl.contract import layout
from acv_xl.checks.findings import Gravite
from acv_xl.contract.layout import Kind
from acv_xl.contract.model import MissingHeader
from acv_xl.checks.rules import REGISTRY, rule, run_rules
from acv_xl.contract.values import ExcelError, NoCachedValue

from conventions import build, cell_of, clean, clean_raw, findings

E, A, I = Gravite.ERREUR, Gravite.AVERTISSEMENT, Gravite.INFORMATION
DOCS = Path(__file__).resolve().parents[1] / "docs" / "regles.md"


def test_clean_convention_has_no_finding():
    assert run_rules(clean()) == []


def test_every_catalogue_code_is_registered_except_file_and_consolidation_codes():
    text = DOCS.read_text(encoding="utf-8")
    catalogue = set(re.findall(r"^\| `([A-Z]{3}-\d\d)`", text, flags=re.M))
    assert len(catalogue) > 50
    # the engine's own codes (internal failure, unreadable, unsupported format) are not rules
    expected = {c for c in catalogue if not c.startswith("CON-") and c not in ("STR-00", "STR-01", "STR-02")}
    assert expected <= set(REGISTRY)


def test_every_rule_has_french_title_and_legal_source():
    for r in REGISTRY.values():
        assert r.titre and r.source, r.code
        assert r.func.__doc__ is None or r.func.__doc__.strip()
    assert REGISTRY["FIN-06"].source == "CGCT art. L1111-10 III"
    assert REGISTRY["FIN-07"].source == "CGCT art. R2334-27"
    # décret 2018-514 governs only the State subsidies it names; otherwise the general 100 % rule
    assert REGISTRY["FIN-09"].source.startswith("décret n° 2018-514 art. 10")


def test_a_code_cannot_be_registered_twice():
    with pytest.raises(ValueError):
        rule("FIN-05", E, "doublon", "x")(lambda conv: [])


def test_a_crashing_rule_becomes_str00_and_others_still_run(monkeypatch):
    def boom(conv):
        raise ZeroDivisionError("x")

    monkeypatch.setitem(REGISTRY, "ZZZ-99", REGISTRY["FIN-05"].__class__("ZZZ-99", E, "Règle de test", "x", boom))
    raw = clean_raw()
    raw["T_Financements"][0]["montant"] = 199_999
    out = run_rules(build(raw))
    assert [f.code for f in out if f.code == "STR-00"] == ["STR-00"]
    crash = next(f for f in out if f.code == "STR-00")
    assert crash.gravite is E and "ZZZ-99" in crash.message and "Règle de test" in crash.message
    assert any(f.code == "FIN-05" for f in out)


def test_findings_are_sorted_by_sheet_order_then_row_then_code():
    raw = clean_raw()
    raw["T_Financements"][4]["montant"] = "abc"  # Plan de financement
    raw["T_Actions"][1]["intitule"] = None  # Fiches-actions row 5
    raw["T_Actions"][0]["date_fin"] = date(2020, 1, 1)  # Fiches-actions row 4, ACT-06
    raw["names"]["acv_id"] = "X"  # Projet
    out = run_rules(build(raw))
    sheets = [layout.SHEETS.index(f.feuille) for f in out]
    assert sheets == sorted(sheets)
    on_actions = [(int(re.sub(r"\D", "", f.cellule)), f.code) for f in out if f.feuille == layout.Sheet.ACTIONS]
    assert on_actions == sorted(on_actions)
    assert [f.code for f in out][:1] == ["PRJ-03"]


# --------------------------------------------------------------------------- STR-03 / STR-04
def test_str03_missing_sheet_reported_once_and_its_tables_not_again():
    conv = clean()
    conv.structure.missing_sheets.append(layout.Sheet.GOUVERNANCE)
    conv.structure.missing_tables.append("T_Gouvernance")
    conv.gouvernance = []
    out = run_rules(conv)
    assert [f.code for f in out] == ["STR-03"]
    assert "Gouvernance" in out[0].message and out[0].gravite is E


def test_str04_missing_table_skips_rules_that_need_it():
    conv = clean()
    conv.structure.missing_tables.append("T_Financements")
    conv.financements = []
    out = run_rules(conv)
    # no « action sans financement » (ACT-08) for every action: the table was not found, not empty
    assert [f.code for f in out] == ["STR-04"]
    assert out[0].feuille == layout.Sheet.FINANCEMENT and "T_Financements" in out[0].message


def test_str04_renamed_header_names_expected_header_and_points_at_it():
    conv = clean()
    for a in conv.actions:  # the reader found no such column
        a.raw.pop("cout_total")
        a.cout_total = None
    conv.structure.missing_headers.append(MissingHeader(
        table="T_Actions", header="Coût total (€)", sheet=layout.Sheet.ACTIONS, cell="M3", found_as="Coût total"))
    out = run_rules(conv)
    assert [(f.code, f.cellule) for f in out] == [("STR-04", "M3")]
    assert "« Coût total (€) »" in out[0].message and "« Coût total »" in out[0].suggestion


@pytest.mark.parametrize("found", ["Coût\u00a0total (€)", "Coût total\u202f(€)", "Coût  total (€)",
                                   "Coût total\u200b (€)"])
def test_str04_a_header_that_only_looks_the_same_says_so(found):
    """A header holding a non-breaking space (pasted from a web page or a PDF) was told « Renommez
    l'en-tête « Coût total (€) » en « Coût total (€) » » — two texts the officer sees as one."""
    conv = clean()
    for a in conv.actions:
        a.raw.pop("cout_total")
        a.cout_total = None
    conv.structure.missing_headers.append(MissingHeader(
        table="T_Actions", header="Coût total (€)", sheet=layout.Sheet.ACTIONS, cell="M3", found_as=found))
    (f,) = run_rules(conv)
    assert (f.code, f.cellule) == ("STR-04", "M3")
    assert f.message.endswith(" ne s'en distingue que par des espaces en trop." if "  " in found else
                              " ne s'en distingue que par une espace insécable ou un caractère invisible.")
    assert f.suggestion.startswith("Effacez l'en-tête et retapez-le") and "« Coût total (€) »" in f.suggestion


def test_str04_missing_optional_header_only_skips_rules_reading_it():
    conv = clean()
    for a in conv.actions:
        a.raw.pop("cosignataires")
        a.cosignataires = None
    conv.structure.missing_headers.append(MissingHeader(table="T_Actions", header="Cosignataires",
                                                        sheet=layout.Sheet.ACTIONS, cell="A3"))
    raw_bad = conv.actions[0]
    raw_bad.cout_total = raw_bad.cout_total + 1  # FIN-05 still runs
    out = run_rules(conv)
    assert sorted(f.code for f in out) == ["FIN-05", "STR-04"]


def test_str04_missing_defined_name():
    conv = clean()
    conv.structure.missing_names.append("acv_epci")
    del conv.names["acv_epci"]
    out = run_rules(conv)
    assert [(f.code, f.feuille) for f in out] == [("STR-04", layout.Sheet.PROJET)]
    assert "acv_epci" in out[0].message


# --------------------------------------------------------------------------- STR-05
@pytest.mark.parametrize("version,gravite", [("2027.1", E), ("9999", E), ("v2", E), (None, E)])
def test_str05_unknown_newer_or_empty_version_is_an_error(version, gravite):
    raw = clean_raw()
    raw["names"]["acv_version_modele"] = version
    out = run_rules(build(raw))
    assert [(f.code, f.gravite, f.feuille, f.cellule) for f in out] == [("STR-05", gravite, "Accueil", "C21")]


def test_str05_current_version_typed_as_number_passes():
    raw = clean_raw()
    raw["names"]["acv_version_modele"] = float(layout.TEMPLATE_VERSION)
    assert run_rules(build(raw)) == []


def test_str05_older_known_version_is_a_warning(monkeypatch):
    monkeypatch.setattr(layout, "KNOWN_VERSIONS", ("2025.2", layout.TEMPLATE_VERSION))
    raw = clean_raw()
    raw["names"]["acv_version_modele"] = "2025.2"
    out = run_rules(build(raw))
    assert [(f.code, f.gravite) for f in out] == [("STR-05", A)]
    assert layout.TEMPLATE_VERSION in out[0].suggestion


# --------------------------------------------------------------------------- STR-06 / STR-07 and problem ownership
def test_str06_excel_error_in_a_table_cell():
    raw = clean_raw()
    raw["T_Financements"][1]["montant"] = ExcelError("#REF!")
    out = run_rules(build(raw))
    f = [x for x in out if x.code == "STR-06"]
    assert len(f) == 1 and f[0].cellule == cell_of("T_Financements", 1, "montant") and f[0].action == "1.1"
    assert "#REF!" in f[0].message
    # the action cannot be judged on a sum with an unknown amount: no FIN-05 noise, no « vide »
    assert [x.code for x in out] == ["STR-06"]


def test_str06_excel_error_in_a_named_cell_but_not_in_status_cells():
    raw = clean_raw()
    raw["names"]["acv_libelle"] = ExcelError("#N/A")
    raw["names"]["acv_statut"] = ExcelError("#N/A")
    out = run_rules(build(raw))
    assert [(f.code, f.cellule) for f in out] == [("STR-06", "B5")]


def test_str07_formula_without_value():
    raw = clean_raw()
    raw["T_Actions"][0]["cout_total"] = NoCachedValue("=SUM(X1:X3)")
    out = run_rules(build(raw))
    assert [(f.code, f.gravite, f.cellule) for f in out] == [("STR-07", E, cell_of("T_Actions", 0, "cout_total"))]


# For every table column: a value of the wrong kind is reported exactly once, by the family's code,
# at its cell. (table, index, attr, bad raw value, expected code)
OWNERSHIP = [
    ("T_Actions", 0, "axe", "Axe 9", "ACT-03"),
    ("T_Actions", 0, "cout_total", "1 000 000 €", "ACT-05"),
    ("T_Actions", 0, "depense_subventionnable", "beaucoup", "ACT-05"),
    ("T_Actions", 0, "date_debut", "32/01/2024", "ACT-06"),
    ("T_Actions", 0, "date_fin", "bientôt", "ACT-06"),
    ("T_Actions", 0, "date_signature", "hier", "ACT-06"),
    ("T_Actions", 0, "type_mo", "Communes", "ACT-12"),
    ("T_Actions", 0, "maturite", "mature!", "ACT-12"),
    ("T_Actions", 0, "base", "H.T.", "ACT-12"),
    ("T_Actions", 0, "derogation", "aucun", "ACT-12"),
    ("T_Financements", 1, "montant", "500 000 €", "FIN-03"),
    ("T_Financements", 1, "nature", "subvention!", "FIN-04"),
    ("T_Financements", 1, "statut", "Obtenu", "FIN-04"),
    ("T_Financements", 1, "annee", "24", "FIN-04"),
    ("T_Financements", 1, "date_demande", "novembre", "FIN-17"),
    ("T_Diagnostic", 0, "axe", "Axe 0", "DIA-02"),
    ("T_Diagnostic", 0, "type", "Existante", "DIA-05"),
    ("T_Diagnostic", 0, "etat", "Fini", "DIA-05"),
    ("T_Diagnostic", 0, "date_source", "2023", "DIA-05"),
    ("T_Diagnostic", 0, "cout_estime", "10 k€", "DIA-05"),
    ("T_Perimetres", 2, "type", "Secteur", "PER-07"),
    ("T_Perimetres", 2, "echelle", "Ville", "PER-07"),
    ("T_Perimetres", 2, "superficie", "60 ha", "PER-07"),
    ("T_Perimetres", 2, "population", "4 000 hab.", "PER-07"),
    ("T_Perimetres", 2, "date_validation", "juin", "PER-07"),
    ("T_Indicateurs", 0, "valeur_initiale", "zéro", "IND-03"),
    ("T_Indicateurs", 0, "valeur_cible", "40 logements", "IND-03"),
    ("T_Indicateurs", 0, "annee_cible", "fin 2026", "IND-03"),
    ("T_Communes", 0, "role", "Centre", "PRJ-05"),
    ("T_Financeurs", 0, "categorie", "Publique", "FIN-18"),
    ("T_Dispositifs", 0, "nature", "Subventions", "FIN-18"),
    ("T_Dispositifs", 0, "dotation_r2334_27", "Peut-être", "FIN-18"),
    ("T_Gouvernance", 0, "instance", "Comité", "GOU-02"),
    ("T_Gouvernance", 0, "college", "Élu", "GOU-02"),
]


@pytest.mark.parametrize("table,index,attr,bad,code", OWNERSHIP)
def test_each_value_problem_is_reported_once_by_its_family_at_its_cell(table, index, attr, bad, code):
    raw = clean_raw()
    raw[table][index][attr] = bad
    conv = build(raw)
    row = conv.rows(table)[index]
    assert attr in row.problems  # the parser did flag it
    cell = cell_of(table, index, attr)
    out = run_rules(conv)
    at_cell = [f for f in out if f.cellule == cell and f.feuille == layout.TABLES_BY_NAME[table].sheet]
    assert [f.code for f in at_cell] == [code]
    assert at_cell[0].gravite is REGISTRY[code].gravite
    if table in ("T_Actions", "T_Financements", "T_Indicateurs"):
        assert at_cell[0].action == raw[table][index]["numero"]
    # and nothing else: no rule calls it « vide » nor draws a conclusion from the unknown value
    assert [f.code for f in out] == [code]


@pytest.mark.parametrize("table,index,attr", [(t, i, a) for t, i, a, _, _ in OWNERSHIP])
def test_each_excel_error_is_str06_only_at_its_cell(table, index, attr):
    raw = clean_raw()
    raw[table][index][attr] = ExcelError("#VALUE!")
    out = run_rules(build(raw))
    cell = cell_of(table, index, attr)
    assert [(f.code, f.cellule) for f in out] == [("STR-06", cell)]


def test_text_number_suggestion_carries_the_parsed_value():
    raw = clean_raw()
    raw["T_Financements"][1]["montant"] = "500 000 €"
    f = findings(build(raw), "FIN-03")[0]
    assert "500 000,00 €" in f.suggestion and "« 500 000 € »" in f.message


def test_hors_liste_suggestion_is_the_closest_list_value():
    raw = clean_raw()
    raw["T_Financements"][1]["statut"] = "Aquis"
    f = findings(build(raw), "FIN-04")[0]
    assert "« Acquis »" in f.suggestion


@pytest.mark.parametrize("table,index,attr", [
    ("T_Financements", 1, "statut"), ("T_Financements", 1, "nature"), ("T_Actions", 0, "base"),
    ("T_Actions", 0, "maturite"), ("T_Actions", 0, "type_mo"), ("T_Gouvernance", 0, "instance"),
])
@pytest.mark.parametrize("case", [str.lower, str.swapcase])
def test_a_list_value_typed_in_another_case_is_the_listed_value(table, index, attr, case):
    """Excel's list validation ignores case: « acquis » is accepted without a word, so it is « Acquis »
    for every rule and total — no FIN-04 for a workbook Excel found right."""
    raw = clean_raw()
    value = raw[table][index][attr]
    assert case(value) != value
    raw[table][index][attr] = case(value)
    conv = build(raw)
    ligne = getattr(conv, {"T_Financements": "financements", "T_Actions": "actions",
                           "T_Gouvernance": "gouvernance"}[table])[index]
    assert getattr(ligne, attr) == value and attr not in ligne.problems
    assert run_rules(conv) == run_rules(build(clean_raw()))


def test_a_list_value_that_only_looks_right_says_so():
    """« En cours » pasted with a non-breaking space: Excel's list refuses it, and so does the reader, but
    « contient « En cours », qui n'est pas une valeur de la liste » named two texts the officer sees as one."""
    raw = clean_raw()
    raw["T_Financements"][1]["statut"] = "Acquis\u200b"
    f = findings(build(raw), "FIN-04")[0]
    assert "ne se distingue de la valeur de la liste « Acquis » que par une espace insécable" in f.message
    assert f.suggestion == "Choisissez « Acquis » dans la liste déroulante."


def test_a_list_value_with_a_doubled_space_is_not_said_to_hold_an_invisible_one():
    """« En  cours » (two ordinary spaces) was said to differ « par une espace insécable ou un caractère
    invisible »: the officer looked for what is not there."""
    raw = clean_raw()
    raw["T_Actions"][0]["maturite"] = "En  cours"
    f = [f for f in run_rules(build(raw)) if "« En  cours »" in f.message][0]
    assert f.message.endswith("ne se distingue de la valeur de la liste « En cours » que par des espaces en trop "
                              "(texte collé).")


def test_a_list_value_without_its_accent_is_still_refused():
    raw = clean_raw()
    raw["T_Financements"][1]["statut"] = "engage"  # Excel refuses it too: accents are not ignored
    f = findings(build(raw), "FIN-04")[0]
    assert "« Engagé »" in f.suggestion


def test_kinds_of_named_cells_are_covered():
    # named dates are PRJ-04, the programme PRJ-05: each once
    raw = clean_raw()
    raw["names"]["acv_date_comite"] = "bientôt"
    raw["names"]["acv_programme"] = "ACV2"
    out = run_rules(build(raw))
    assert sorted((f.code, f.cellule) for f in out) == [("PRJ-04", "B14"), ("PRJ-05", "B3")]
    assert "« ACV 2 »" in next(f for f in out if f.code == "PRJ-05").suggestion
    assert Kind.DATE is layout.NAMED_BY_NAME["acv_date_comite"].kind


HEADERS = [(name, c.attr) for name in ("T_Communes", "T_Diagnostic", "T_Perimetres", "T_Actions", "T_Indicateurs",
                                       "T_Financements", "T_Financeurs", "T_Dispositifs", "T_Gouvernance")
           for c in layout.TABLES_BY_NAME[name].columns]


@pytest.mark.parametrize("table,attr", HEADERS)
def test_a_missing_header_gives_str04_and_no_noise(table, attr):
    """Whatever column is missing, the rules that read it are skipped: no line is called « vide »."""
    raw = clean_raw()
    raw["T_Actions"][0]["derogation"] = "ANRU"  # rules reading optional columns have something to say
    raw["T_Financements"][2].update(financeur="ANRU", dispositif="NPNRU")
    raw["T_Actions"][0]["cosignataires"] = "ETAT;ANRU"
    raw["T_Gouvernance"].append(dict(raw["T_Gouvernance"][3], organisme="ANRU"))
    raw["T_Financements"][0]["montant"] = 100_000  # 10 %: fine only with the ANRU derogation
    raw["T_Financements"][2]["montant"] = 400_000
    assert run_rules(build(raw)) == []
    for row in raw[table]:
        row.pop(attr, None)
    conv = build(raw)
    for r in conv.rows(table):
        r.cells.pop(attr, None)
    t = layout.TABLES_BY_NAME[table]
    conv.structure.missing_headers.append(MissingHeader(table=table, header=t.header(attr), sheet=t.sheet, cell="A3"))
    assert [f.code for f in run_rules(conv)] == ["STR-04"]


def test_str08_merged_cells_in_a_table():
    conv = clean()
    conv.structure.merged_in_tables.append(("T_Actions", layout.Sheet.ACTIONS, "B4:B5"))
    out = run_rules(conv)
    assert [(f.code, f.gravite, f.feuille, f.cellule) for f in out] == [("STR-08", A, "Fiches-actions", "B4")]
    assert "les autres lignes sont lues comme vides" in out[0].message


@pytest.mark.parametrize("rng, others, each", [
    ("I12:J12", "les autres cellules de la ligne", "dans chaque colonne"),
    ("B4:C5", "les autres cellules", "dans chaque cellule"),
])
def test_str08_says_which_cells_a_merge_empties(rng, others, each):
    """I12:J12 merged (Référence and Commentaire of one line) said « les autres lignes sont lues comme
    vides » and « saisissez la valeur sur chaque ligne »: no other line is concerned."""
    conv = clean()
    conv.structure.merged_in_tables.append(("T_Financements", layout.Sheet.FINANCEMENT, rng))
    (f,) = [f for f in run_rules(conv) if f.code == "STR-08"]
    assert f"seule la première contient une valeur, {others} sont lues comme vides." in f.message
    assert f.suggestion == f"Annulez la fusion et saisissez la valeur {each} concernée."


def test_codes_within_lets_a_partial_caller_skip_rules_needing_other_tables():
    from acv_xl.contract.model import Convention
    from acv_xl.checks.rules import codes_within

    conv = clean()
    partial = Convention(actions=conv.actions, financements=conv.financements, financeurs=conv.financeurs,
                         dispositifs=conv.dispositifs)
    codes = codes_within({"T_Actions", "T_Financements", "T_Financeurs", "T_Dispositifs"})
    assert {"FIN-05", "FIN-06", "FIN-07", "ACT-08"} <= set(codes)
    assert "ACT-04" not in codes and "ACT-10" not in codes and "PRJ-01" not in codes
    assert run_rules(partial, codes=codes) == []
    # what a partial caller must avoid: a table it did not pass taken for an empty one
    assert any(f.code == "ACT-10" and f.action == "1.1" for f in run_rules(partial))


# --------------------------------------------------------------------------- STR-11
def _nothing_of_the_template(present: tuple[str, ...] = ()):
    from acv_xl.contract.model import Convention, empty

    conv = empty(Convention)
    conv.structure.missing_sheets = [s for s in layout.SHEETS if s not in present]
    conv.structure.missing_tables = [t.name for t in layout.TABLES if t is not layout.T_CONTROLES]
    conv.structure.missing_names = [n.name for n in layout.NAMED_CELLS]
    return conv


def test_str11_one_finding_for_a_workbook_with_nothing_of_the_template():
    out = run_rules(_nothing_of_the_template())
    assert [f.code for f in out] == ["STR-11"] and out[0].gravite is E
    assert "n'est pas un classeur de convention ACV" in out[0].message
    # a « Synthèse » alone (a consolidation's first sheet, a common word) is not enough to be ours
    assert [f.code for f in run_rules(_nothing_of_the_template((layout.Sheet.SYNTHESE,)))] == ["STR-11"]


def test_str11_boundary_one_template_sheet_makes_it_a_damaged_convention():
    codes = [f.code for f in run_rules(_nothing_of_the_template((layout.Sheet.PROJET,)))]
    assert "STR-11" not in codes and "STR-03" in codes


def test_str11_names_a_report_of_acv_xl_by_its_mark_even_with_template_sheet_names():
    conv = _nothing_of_the_template((layout.Sheet.PERIMETRES, layout.Sheet.ACTIONS))  # an annex shares them
    conv.structure.derived_report = "annexe"
    out = run_rules(conv)
    assert [f.code for f in out] == ["STR-11"] and "l'annexe d'une convention ou d'un avenant" in out[0].message


# --------------------------------------------------------------------------- STR-12
def test_a_workbook_counting_its_dates_from_1904_is_read_as_excel_shows_it_and_said(tmp_path):
    """Excel's « Utiliser le calendrier depuis 1904 »: the command line reads the dates Excel shows, but
    the add-in hands the button each of them 4 years and 1 day early, and nothing in its request says
    why — the button's date findings and fingerprint differed from the command line's without a word.
    The command line says it (STR-12, an avertissement); the same workbook counted from 1900 has none."""
    import openpyxl
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    from acv_xl.checks.validate import validate_file

    source = Path(__file__).resolve().parents[1] / "workbooks" / "exemples" / "arras.xlsx"
    wb = openpyxl.load_workbook(source)
    wb.epoch = CALENDAR_MAC_1904  # the same dates, written as serial numbers counted from 1904
    path = tmp_path / "calendrier-1904.xlsx"
    wb.save(path)
    before, after = validate_file(source), validate_file(path)
    assert [(f.code, f.gravite) for f in after.findings if f.code == "STR-12"] == [("STR-12", Gravite.AVERTISSEMENT)]
    assert "4 ans et 1 jour plus tôt" in next(f.message for f in after.findings if f.code == "STR-12")
    assert not [f for f in before.findings if f.code == "STR-12"]
    assert after.empreinte == before.empreinte  # the dates Excel shows, read alike
    dated = [a.date_demande for a in after.convention.financements if getattr(a, "date_demande", None)]
    assert dated and dated == [a.date_demande for a in before.convention.financements if getattr(a, "date_demande", None)]


def _str13(table: str, i: int, **values):
    raw = clean_raw()
    raw[table][i].update(values)
    return [(f.gravite, f.feuille, f.cellule, f.action, f.message, f.suggestion)
            for f in findings(build(raw), "STR-13")]


@pytest.mark.parametrize("table, attr, typed, read, effect", [
    ("T_Financements", "financeur", "ETAT ", "ETAT", "ses financements vont sur la ligne « Autres codes ou code non renseigné »"),
    ("T_Financements", "statut", " Acquis", "Acquis", "ses financements vont sur la ligne « Statut non renseigné ou hors liste »"),
    ("T_Financements", "statut", "Refusé ", "Refusé", "la Synthèse compte cette ligne refusée dans le financement total"),
    ("T_Financements", "numero", "1.1 ", "1.1", "ses financements ne sont comptés dans aucun axe"),
    ("T_Actions", "numero", " 2.1", "2.1", "les financements de l'action ne sont comptés dans aucun axe"),
    ("T_Actions", "maturite", "Abandonnée ", "Abandonnée", "la Synthèse compte le coût de cette action abandonnée"),
])
def test_str13_a_value_with_a_space_the_synthese_does_not_match_is_said_at_its_cell(table, attr, typed, read, effect):
    """« ETAT  » pasted in the plan: the reader reads ETAT (the report's État total whole), the Synthèse's
    SOMME.SI.ENS, comparing the exact text, counted the line under « Autres codes » — the État's total the
    workbook shows lower than the report's, without a word."""
    i = 1 if table == "T_Actions" else 0
    got = _str13(table, i, **{attr: typed})
    assert len(got) == 1, got
    gravite, feuille, cellule, _action, message, suggestion = got[0]
    assert gravite is A and cellule == cell_of(table, i, attr)
    where = "au début" if typed[0] == " " else "à la fin"
    assert f"contient « {typed} », avec une espace {where} : « Valider » et l'annexe le lisent « {read} »" in message
    assert effect in message
    assert suggestion == f"Retapez « {read} » sans espace" + (
        " (ou choisissez-le dans la liste déroulante)." if attr != "numero" else ".")  # no list of N°


def test_str13_a_numero_typed_alike_on_the_action_and_its_lines_is_counted_in_its_axe():
    """« 1.1  » pasted on the action and on each of its lines: the Synthèse looks the action's N° up in the
    plan as typed, finds its lines and counts them in axe 1 (LibreOffice recalculates it so) — STR-13 said of
    each that its money was counted in no axe."""
    raw = clean_raw()
    raw["T_Actions"][0]["numero"] = "1.1 "
    for lf in raw["T_Financements"]:
        if lf["numero"] == "1.1":
            lf["numero"] = "1.1 "
    assert findings(build(raw), "STR-13") == []
    raw["T_Financements"][0]["numero"] = "1.1"  # one line typed otherwise: the action's N° does not find it
    assert [f.cellule for f in findings(build(raw), "STR-13")] == [cell_of("T_Actions", 0, "numero")]


@pytest.mark.parametrize("statut", ["Refusé", "refusé"])
def test_str13_says_nothing_of_a_refused_line_the_synthese_counts_nowhere(statut):
    """« ETAT  », « 1.1  » on a refused line: every total of the Synthèse leaves it out (« <>Refusé », without
    case), so its code or N° changes none — STR-13 said its money went under « Autres codes » or no axe."""
    assert _str13("T_Financements", 0, statut=statut, financeur="ETAT ", numero="1.1 ") == []
    # « Refusé  » with a space is counted, its code and N° with it
    got = _str13("T_Financements", 0, statut="Refusé ", financeur="ETAT ", numero="1.1 ")
    assert [c for _g, _f, c, *_ in got] == [cell_of("T_Financements", 0, a) for a in ("numero", "financeur", "statut")]


@pytest.mark.parametrize("code", ["ADEME", "EAU", "SNCF"])
def test_str13_reads_the_synthese_of_the_workbook_s_version(code):
    """« ADEME  » on a 2026.1 workbook: its Synthèse has no ADEME row (2026.2 added the three funders), and
    counts « ADEME » under « Autres codes » with or without a space — STR-13 asked to retype it, as if it
    would then be counted on a row the workbook has not. A 2026.2 workbook's Synthèse has one: said."""
    raw = clean_raw()
    raw["T_Financements"][0]["financeur"] = f"{code} "
    assert [f.code for f in findings(build(raw), "STR-13")] == ["STR-13"]
    raw["names"]["acv_version_modele"] = "2026.1"
    assert findings(build(raw), "STR-13") == []
    raw["T_Financements"][0]["financeur"] = "ETAT "  # the État has its row in both
    assert [f.code for f in findings(build(raw), "STR-13")] == ["STR-13"]


def test_str13_says_nothing_of_what_the_synthese_counts_alike():
    """The same values without spaces, in another case (SOMME.SI.ENS ignores it), a maturité other than
    Abandonnée with a space (the Synthèse only excludes Abandonnée): nothing to say."""
    assert _str13("T_Financements", 0, financeur="etat", statut="acquis") == []
    assert _str13("T_Actions", 1, maturite="En préparation ") == []
    raw = clean_raw()  # a code the Synthèse does not list goes under « Autres codes » with or without a space
    raw["T_Financeurs"].append(dict(raw["T_Financeurs"][0], code="BPI", nom="Bpifrance"))
    raw["T_Financements"][0]["financeur"] = "BPI "
    assert findings(build(raw), "STR-13") == []
    assert findings(clean(), "STR-13") == []
