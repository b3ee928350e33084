"""Excel functions (udfs/functions.py): the arguments as Office.js and desktop xlwings pass them,
French error texts, and equality with the command line's JSON totals on every shipped example."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acv_xl.contract import layout
from acv_xl.checks.rules import codes_within
from xlwings_payload import payload_from_xlsx, remote_book, table_values
from udfs import functions as F
from udfs.tables import as_2d

ROOT = Path(__file__).resolve().parents[1]
EXEMPLES = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))
# never an empty parameter set (a silent skip): a missing folder fails on a missing file
CASES = EXEMPLES or [ROOT / "workbooks" / "exemples" / "aucun-exemple.xlsx"]

T = layout.T_FINANCEMENTS
A = layout.T_ACTIONS
PLAN_HEADER = [T.header(a) for a in ("numero", "financeur", "dispositif", "nature", "annee", "montant", "statut")]


def _plan(*lines):
    return [PLAN_HEADER] + [list(line) for line in lines]


PLAN = _plan(
    ("1.1", "ETAT", "DSIL", "Subvention", 2024, 1000.5, "Acquis"),
    ("1.1", "COMMUNE", "Autofinancement", "Autofinancement", 2025, 500, "Prévisionnel"),
    ("1.2", "ETAT", "DETR", "Subvention", 2025, 250.25, "Engagé"),
    ("1.2", "ETAT", "DETR", "Subvention", 2025, 700, "Refusé"),  # counts nowhere
    ("1.2", "REGION", "", "Subvention", 2025, "12 000 €", "Acquis"),  # text: counts nowhere
    ("", "", "", "", "", "", ""),  # an empty template row
)
ACTIONS = [
    [A.header(a) for a in ("numero", "intitule", "axe", "type_mo", "cout_total")],
    ["1.1", "Réhabilitation", "Axe 1", "Commune", 2000],
    ["1.2", "Halles", 2, "Commune", 250.25],
]
FINANCEURS = [["Code", "Nom du financeur", "Catégorie"], ["ETAT", "État", "Public"],
              ["COMMUNE", "Commune", "Public"], ["REGION", "Région", "Public"]]


# --------------------------------------------------------------------------- small cases
def test_total_financeur_excludes_refused_and_text_amounts():
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT") == pytest.approx(1250.75)
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "REGION") == 0.0
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", "Acquis") == pytest.approx(1000.5)
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", "Acquis;Engagé;Versé") == pytest.approx(1250.75)
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", None, 2025) == pytest.approx(250.25)
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", "", 2025.0) == pytest.approx(250.25)


def test_a_range_of_several_codes_for_one_is_refused_never_summed_as_its_first():
    """`ACV_TOTAL_FINANCEUR(T_Financements[#Tout]; A2:A3)` over « ETAT » and « REGION », as the web passes a
    range (a row, a column) or the desktop a 2-D list: the État's total came back alone, as if it were the
    total of both; an action number or a year likewise. Said now; a range of one filled cell (the others
    empty) is that cell."""
    for codes in (["ETAT", "REGION"], [["ETAT"], ["REGION"]], (("ETAT", "REGION"),)):
        said = F.ACV_TOTAL_FINANCEUR(PLAN, codes)
        assert isinstance(said, str) and said.startswith("#ACV: une plage de 2 cellules remplies est passée là où")
    assert F.ACV_TOTAL_ACTION(PLAN, [["1.1"], ["1.2"]]).startswith("#ACV: une plage de 2 cellules")
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", None, [[2024, 2025]]).startswith("#ACV: une plage de 2 cellules")
    assert F.ACV_TOTAL_FINANCEUR(PLAN, [["", "ETAT", None]]) == pytest.approx(1250.75)
    assert F.ACV_TOTAL_ACTION(PLAN, [["1.2"], [""]]) == F.ACV_TOTAL_ACTION(PLAN, "1.2")


@pytest.mark.parametrize("totals", [
    ("Total", "", "", "", "", 2450.75, ""),  # « Total » and the Somme of the amounts
    ("Total", 4, 4, 4, 2025, 2450.75, 4),  # and a Nombre under each text column, the Max of the years
    ("", "ETAT", "", "", "", 1950.75, ""),  # a filter on ETAT: its label, the Somme it shows
    ("Sous-total", "", "", "", "", 612.6875, ""),  # the Moyenne of the 4 amounts
], ids=["somme", "nombres", "filtre", "moyenne"])
def test_a_totals_row_in_the_argument_is_not_summed_as_a_line(totals):
    """`T_Financements[#Tout]` of a table whose totals row is shown ends with that row: its Somme was
    summed as one more line (ACV_SYNTHESE by année counted the plan twice, by financeur showed a
    financeur « 5 »; a filter's label « ETAT » doubled the État's total)."""
    plan = _plan(*PLAN[1:-1])
    plan = [plan[0]] + [r for r in plan[1:] if r[5] != "12 000 €"]  # amounts only: 1000,5 500 250,25 700
    with_totals = plan + [list(totals)]
    for args in (("ETAT",), ("COMMUNE", None, 2025)):
        assert F.ACV_TOTAL_FINANCEUR(with_totals, *args) == F.ACV_TOTAL_FINANCEUR(plan, *args)
    assert F.ACV_TOTAL_ACTION(with_totals, "1.1") == F.ACV_TOTAL_ACTION(plan, "1.1")
    for par in ("financeur", "annee", "statut"):
        assert F.ACV_SYNTHESE(with_totals, par) == F.ACV_SYNTHESE(plan, par)


def test_a_totals_row_is_told_alike_when_empty_cells_arrive_as_jsnull(monkeypatch):
    """xlwings Lite hands an empty cell over as JsNull: counted as filled, a Nombre under a column with an
    empty cell (« Dispositif » of an autofinancement) was no totals function's, and the totals row was
    summed as a line (its « Total » an action of 1 750,75 €)."""
    from udfs import cells, tables

    monkeypatch.setattr(tables, "JSNULL_ARRIVES", True)
    for empty in (None, cells.JsNull):
        e = (lambda: None) if empty is None else empty
        plan = _plan(("1.1", "ETAT", "DSIL", "Subvention", 2024, 1000.5, "Acquis"),
                     ("1.2", "COMMUNE", e(), "Autofinancement", 2025, 500, "Prévisionnel"),
                     ("1.3", "REGION", e(), "Prêt", 2026, 250.25, "Engagé"))
        totals = ["Total", e(), 1, e(), e(), 1750.75, e()]  # a Nombre under « Dispositif », the Somme
        assert F.ACV_TOTAL_ACTION(plan + [totals], "Total") == 0.0, empty


def test_a_line_typed_into_the_totals_row_is_still_a_line_for_the_functions():
    """Nothing but the values tells the totals row from a last line: a line (its texts) stays a line."""
    plan = _plan(*PLAN[1:-1])
    line = ("1.2", "ETAT", "DETR", "Subvention", 2025, 1000, "Acquis")
    assert F.ACV_TOTAL_FINANCEUR(plan + [list(line)], "ETAT") == pytest.approx(2250.75)


def test_total_financeur_takes_a_code_typed_in_another_case_as_excel_does():
    """« Etat » summed 0,00 € (SOMME.SI.ENS, and the Synthèse, match ETAT whatever the case)."""
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "Etat") == F.ACV_TOTAL_FINANCEUR(PLAN, "etat") == pytest.approx(1250.75)
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ANRU") == 0.0  # in no line: 0, as before
    # the plan's codes are remembered per plan: another plan, spelt otherwise, is looked at anew
    other = _plan(("1.1", "Etat", "DSIL", "Subvention", 2024, 10, "Acquis"), ("1.2", "ANRU", "", "Subvention", 2025, 5, "Acquis"))
    assert F.ACV_TOTAL_FINANCEUR(other, "ETAT") == pytest.approx(10) and F.ACV_TOTAL_FINANCEUR(other, "anru") == 5
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "Etat") == pytest.approx(1250.75) and F.ACV_TOTAL_FINANCEUR(PLAN, "anru") == 0.0


def test_a_statut_argument_typed_in_another_case_is_the_listed_one():
    """« acquis » as the statuts argument: a Statut cell typed so reads « Acquis » (for Valider and the
    functions), and SOMME.SI.ENS compares without case, but the argument was refused (« statut
    « acquis » inconnu »)."""
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", "acquis") == F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", "Acquis") == \
        pytest.approx(1000.5)
    assert F.ACV_TOTAL_ACTION(PLAN, "1.1", "prévisionnel;ACQUIS") == pytest.approx(1500.5)
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", "Engage").startswith("#ACV: statut « Engage » inconnu")


def test_total_action_and_ecart():
    assert F.ACV_TOTAL_ACTION(PLAN, "1.1") == pytest.approx(1500.5)
    assert F.ACV_TOTAL_ACTION(PLAN, 1.1) == pytest.approx(1500.5)  # the number typed in a cell
    assert F.ACV_TOTAL_ACTION(PLAN, "1.1", "Prévisionnel") == pytest.approx(500)
    assert F.ACV_ECART(ACTIONS, PLAN, "1.1") == pytest.approx(499.5)
    assert F.ACV_ECART(ACTIONS, PLAN, "1.2") == 0.0


def test_part_mo_is_own_share_over_own_share_plus_public_subsidies():
    # action 1.1: 500 autofinancement, 1000.50 public subsidy
    assert F.ACV_PART_MO(ACTIONS, PLAN, FINANCEURS, "1.1") == pytest.approx(500 / 1500.5, abs=1e-6)
    assert F.ACV_PART_MO(ACTIONS, PLAN, FINANCEURS, "1.2") == pytest.approx(0.0)


def test_synthese_spills_a_french_header_and_one_row_per_key():
    out = F.ACV_SYNTHESE(PLAN)
    assert out[0] == [T.header("financeur"), T.header("montant")]
    assert dict(map(tuple, out[1:])) == {"COMMUNE": 500.0, "ETAT": 1250.75}
    by_axe = F.ACV_SYNTHESE(PLAN, "axe", ACTIONS)
    assert by_axe[0][0] == A.header("axe")
    assert dict(map(tuple, by_axe[1:])) == {"Axe 1": 1500.5, "Axe 2": 250.25}
    assert dict(map(tuple, F.ACV_SYNTHESE(PLAN, "année")[1:])) == {2024: 1000.5, 2025: 750.25}
    assert dict(map(tuple, F.ACV_SYNTHESE(PLAN, "statut")[1:])) == {"Acquis": 1000.5, "Engagé": 250.25,
                                                                   "Prévisionnel": 500.0}


# --------------------------------------------------------------------------- argument shapes
def test_office_js_shapes_are_normalised():
    assert as_2d("x") == [["x"]]
    assert as_2d(["a", "b"]) == [["a", "b"]]  # a one-row range of statuts arrives flat
    assert [list(r) for r in as_2d((("a",), ("b",)))] == [["a"], ["b"]]
    # an empty table keeps one empty line in Excel: zero, not an error
    assert F.ACV_TOTAL_FINANCEUR([PLAN_HEADER, [""] * len(PLAN_HEADER)], "ETAT") == 0.0
    assert F.ACV_TOTAL_FINANCEUR(tuple(tuple(r) for r in PLAN), "ETAT") == 1250.75  # desktop tuples


@pytest.mark.parametrize("plan, expected", [
    (PLAN_HEADER, "#ACV: plage à une dimension reçue"),  # a flat list: never a table
    ([PLAN_HEADER], "#ACV: une seule ligne reçue"),  # the header alone: no Excel table is that
    ("Montant (€)", "#ACV: une seule cellule reçue"),
    ([PLAN_HEADER, PLAN[1][:3], PLAN[2]], "#ACV: plage irrégulière : la ligne 2 a 3 cellule(s), l'en-tête 7"),
    ([PLAN_HEADER, PLAN[1], "1.1"], "#ACV: plage à une dimension reçue"),
])
def test_one_dimensional_or_ragged_tables_give_a_message_never_a_silent_zero(plan, expected):
    for got in (F.ACV_TOTAL_FINANCEUR(plan, "ETAT"), F.ACV_TOTAL_ACTION(plan, "1.1"),
                F.ACV_SYNTHESE(plan), F.ACV_ECART(ACTIONS, plan, "1.1")):
        assert isinstance(got, str) and got.startswith(expected), got


def test_a_desktop_range_argument_is_read_like_the_office_js_list():
    """Desktop xlwings may hand over a Range (the remote engine's Range has the same API)."""
    path = CASES[0]
    book = remote_book(payload_from_xlsx(path))
    rng = next(t.range for s in book.sheets for t in s.tables if t.name == T.name)
    as_range = F.ACV_SYNTHESE(rng)
    as_list = F.ACV_SYNTHESE(table_values(path, T.name))
    assert as_range == as_list and len(as_list) > 1


def test_dates_as_iso_strings_serials_or_datetimes_read_the_same():
    """Office.js sends ISO strings (scripts) or serials (functions), desktop sends datetimes."""
    from udfs.tables import rows
    from acv_xl.contract.model import FicheAction

    header = [A.header("numero"), A.header("date_debut")]
    forms = ["2024-03-01T00:00:00.000Z", 45352, datetime(2024, 3, 1)]
    got = [rows([header, ["1.1", f]], FicheAction, ("numero",))[0].date_debut for f in forms]
    assert got[0] == got[1] == got[2] and got[0].isoformat() == "2024-03-01"


@pytest.mark.parametrize("call, expected", [
    (lambda: F.ACV_TOTAL_FINANCEUR([PLAN_HEADER[:2]] + [["1.1", "ETAT"]], "ETAT"),
     f"#ACV: colonne « {T.header('montant')} » introuvable dans la plage"),
    (lambda: F.ACV_TOTAL_FINANCEUR(None, "ETAT"), "#ACV: plage vide"),
    # the table without its header row — `T_Financements` for `T_Financements[#Tout]`, the commonest slip,
    # or a table whose header row is turned off: its lines only (it was « colonne introuvable », then
    # « si la ligne d'en-tête du tableau est masquée, affichez-la » to a user whose header row shows)
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN[1:], "ETAT"),
     "#ACV: la première ligne de la plage ne porte aucun nom de colonne de T_Financements : passez le tableau "
     "avec sa ligne d'en-tête, T_Financements[#Tout] ; si cette ligne est masquée, affichez-la"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, ""), "#ACV: code du financeur vide"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", "Acquis;Payé"), "#ACV: statut « Payé » inconnu"),
    # the ETAT's 700 € refused summed 0,00 € when asked for: « nothing refused », where no total counts them
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", "refusé"),
     "#ACV: les lignes « Refusé » ne comptent dans aucun total, comme pour « Valider » ; leur montant : "
     "=SOMME.SI.ENS(T_Financements[Montant (€)];T_Financements[Statut];\"Refusé\")"),
    (lambda: F.ACV_TOTAL_ACTION(PLAN, "1.2", [["Engagé", "Refusé"]]), "#ACV: les lignes « Refusé » ne comptent"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", None, "vingt"), "#ACV: année « vingt » invalide"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", None, 2025.5), "#ACV: année « 2025,5 » invalide"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", None, "2025,5"), "#ACV: année « 2025,5 » invalide"),
    (lambda: F.ACV_ECART(ACTIONS, PLAN, "9.9"), "#ACV: action « 9.9 » introuvable dans T_Actions"),
    (lambda: F.ACV_SYNTHESE(PLAN, "commune"), "#ACV: regroupement « commune » inconnu"),
    (lambda: F.ACV_SYNTHESE(PLAN, "axe"), "#ACV: la synthèse par axe demande aussi le tableau des actions"),
    (lambda: F.ACV_PART_MO(ACTIONS, _plan(("1.1", "COMMUNE", "", "Fonds propres", 2025, 10, "Acquis")),
                           [["Code", "Catégorie"], ["COMMUNE", "Public"]], "1.1"),
     None),  # the commune MO's own fonds propres are its own share: ratio 1, no error
    (lambda: F.ACV_PART_MO(ACTIONS, _plan(("1.1", "PRIVE", "", "Fonds propres", 2025, 10, "Acquis")),
                           [["Code", "Catégorie"], ["PRIVE", "Privé"]], "1.1"),
     "#ACV: l'action « 1.1 » n'a ni part propre ni subvention publique : ratio non défini."),  # a private's: not the MO's
])
def test_bad_arguments_give_a_french_text_in_the_cell(call, expected):
    got = call()
    if expected is None:
        assert got == 1.0
    else:
        assert isinstance(got, str) and got.startswith(expected), got


def test_an_unexpected_failure_is_still_a_french_text(monkeypatch):
    from acv_xl.checks import totals

    def boom(*a, **k):
        raise ZeroDivisionError

    monkeypatch.setattr(totals, "total_financeur", boom)
    got = F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT")
    assert got.startswith("#ACV: erreur inattendue") and "Traceback" not in got


def test_controle_ok_and_first_error_of_the_action():
    from acv_xl.checks.findings import Gravite
    from acv_xl.contract.model import Convention
    from acv_xl.checks.rules import run_rules
    from udfs.tables import rows
    from acv_xl.contract.model import FicheAction, Financeur, LigneFinancement

    full_actions = [[c.header for c in A.columns],
                    ["1.1", "Réhabilitation", "Axe 1", "", "", "Ville", "Commune", "", "Mature",
                     "2024-01-01T00:00:00.000Z", "2025-12-31T00:00:00.000Z", "HT", 1500.5, 1500.5, "Aucune",
                     "ETAT;COMMUNE", ""],
                    ["1.2", "Halles", 2, "", "", "Ville", "Commune", "", "Mature",
                     "", "", "HT", 999, 999, "Aucune", "ETAT", ""]]
    got_11 = F.ACV_CONTROLE(full_actions, PLAN, FINANCEURS, "1.1")
    got_12 = F.ACV_CONTROLE(full_actions, PLAN, FINANCEURS, "1.2")
    # the oracle: the rules themselves on the same rows
    conv = Convention(actions=rows(full_actions, FicheAction), financements=rows(PLAN, LigneFinancement),
                      financeurs=rows(FINANCEURS, Financeur), dispositifs=F.reference_dispositifs())
    errors = {}
    for f in run_rules(conv):
        if f.gravite is Gravite.ERREUR and f.action:
            errors.setdefault(f.action, f.message)
    assert "1.2" in errors  # 999 of cost against 250.25 of counted financing: FIN-05 at least
    assert got_12 == errors["1.2"]
    assert got_11 == errors.get("1.1", "OK")


# --------------------------------------------------------------------------- = the CLI, on every example
def _cli_json(path: Path) -> dict:
    from acv_xl.outputs.report import to_json
    from acv_xl.checks.validate import validate_file

    return to_json(validate_file(path))


def test_examples_are_shipped():
    assert len(EXEMPLES) >= 3, "workbooks/exemples/ doit contenir les classeurs d'exemple"


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_udfs_equal_the_cli_totals(path):
    cli = _cli_json(path)["totaux"]
    plan = table_values(path, T.name)  # T_Financements[#Tout] as Office.js passes it
    actions = table_values(path, A.name)
    for par, key in (("financeur", "par_financeur"), ("annee", "par_annee"), ("statut", "par_statut")):
        got = F.ACV_SYNTHESE(plan, par)
        assert {str(k): v for k, v in got[1:]} == pytest.approx(cli[key]), par
    got = F.ACV_SYNTHESE(plan, "axe", actions)
    assert {k.split()[-1]: v for k, v in got[1:]} == pytest.approx(cli["par_axe"])
    for code, amount in cli["par_financeur"].items():
        assert F.ACV_TOTAL_FINANCEUR(plan, code) == pytest.approx(amount, abs=0.001)
    for numero, amount in cli["par_action"].items():
        assert F.ACV_TOTAL_ACTION(plan, numero) == pytest.approx(amount, abs=0.001)
    assert cli["par_financeur"], "un exemple sans financement ne prouve rien"


@pytest.mark.parametrize("typed", ["MONTANT (€)", "Montant(€)", "montant (€)"])
def test_a_header_typed_otherwise_is_no_column_for_the_functions_as_for_the_command_line(tmp_path, typed):
    """« Montant (€) » retyped « MONTANT (€) »: the command line does not read that column (STR-04,
    « renommez l'en-tête », every total 0,00 €), while ACV_TOTAL_FINANCEUR found it by its folded text
    and summed 5 021 700,20 € for ETAT — two totals of one workbook. The function now says what Valider
    says."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    path = tmp_path / "en-tete.xlsx"
    wb = openpyxl.load_workbook(EXEMPLES[0])
    ws = next(w for w in wb.worksheets if T.name in w.tables)
    t = ws.tables[T.name]
    c1, r1, _c2, _r2 = range_boundaries(t.ref)
    j = list(T.headers).index(T.header("montant"))
    ws.cell(r1, c1 + j).value = t.tableColumns[j].name = typed
    wb.save(path)
    cli = _cli_json(path)
    assert [f["code"] for f in cli["constats"]] == ["STR-04"] and not cli["totaux"]["par_financeur"]
    plan = table_values(path, T.name)
    expected = (f"#ACV: colonne « Montant (€) » introuvable dans {T.name} ; une colonne « {typed} » lui "
                f"ressemble : renommez l'en-tête « {typed} » en « Montant (€) ».")
    assert F.ACV_TOTAL_FINANCEUR(plan, "ETAT") == expected
    assert F.ACV_SYNTHESE(plan, "financeur") == expected


def test_controle_of_a_plan_past_10_18_euros_says_what_valider_says(tmp_path):
    """An amount of 1E+300 € typed in the plan: « Valider » sums it exactly (`validate_convention` checks
    again with the digits the sums need) and ACV_CONTROLE summed in the default 28 digits — the same
    FIN-05, another amount in its message."""
    import re

    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    from acv_xl.checks.validate import validate_file

    path = tmp_path / "enorme.xlsx"
    wb = openpyxl.load_workbook(EXEMPLES[0])
    ws = next(w for w in wb.worksheets if T.name in w.tables)
    c1, r1, _c2, _r2 = range_boundaries(ws.tables[T.name].ref)
    ws.cell(r1 + 1, c1 + list(T.headers).index(T.header("montant"))).value = 1e300
    numero = ws.cell(r1 + 1, c1).value
    wb.save(path)
    report = validate_file(path)
    expected = next(f.message for f in report.findings if f.gravite.value == "erreur" and f.action == numero
                    and f.code == "FIN-05")
    args = [table_values(path, t.name) for t in (A, T, layout.T_FINANCEURS)]
    got = F.ACV_CONTROLE(*args, numero, table_values(path, layout.T_DISPOSITIFS.name))
    assert re.sub(r"ligne \d+", "ligne N", got) == re.sub(r"ligne \d+", "ligne N", expected)


def test_a_financeur_typed_in_another_case_is_the_listed_one_for_the_functions_as_for_valider(tmp_path):
    """Half the ETAT lines of a plan typed « etat » (Excel's drop-down accepts it): « Valider » reads them
    as ETAT (no FIN-02, the État's total whole); ACV_TOTAL_FINANCEUR(plan; "ETAT") summed only the « ETAT »
    lines and (plan; "Etat") 0,00 €, ACV_CONTROLE said FIN-02 and ACV_PART_MO left them out of the
    public subsidies. Every function now reads « etat » as Valider does."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    path = tmp_path / "casse.xlsx"
    wb = openpyxl.load_workbook(EXEMPLES[0])
    ws = next(w for w in wb.worksheets if T.name in w.tables)
    c1, r1, _c2, r2 = range_boundaries(ws.tables[T.name].ref)
    col = c1 + list(T.headers).index(T.header("financeur"))
    etat = [r for r in range(r1 + 1, r2 + 1) if ws.cell(r, col).value == "ETAT"]
    assert len(etat) >= 2
    for r in etat[::2]:
        ws.cell(r, col).value = "etat"
    wb.save(path)
    cli = _cli_json(path)
    assert cli["totaux"] == _cli_json(EXEMPLES[0])["totaux"] and "FIN-02" not in {f["code"] for f in cli["constats"]}
    plan = table_values(path, T.name)
    for code in ("ETAT", "Etat", "etat"):
        assert F.ACV_TOTAL_FINANCEUR(plan, code) == pytest.approx(cli["totaux"]["par_financeur"]["ETAT"], abs=0.001)
    for with_communes in (False, True):
        test_controle_on_every_action_equals_valider(path, with_communes)
    args = [table_values(p, t.name) for p in (path, EXEMPLES[0]) for t in (A, T, layout.T_FINANCEURS)]
    for numero in {ws.cell(r, c1).value for r in etat}:
        assert F.ACV_PART_MO(*args[:3], numero) == F.ACV_PART_MO(*args[3:], numero), numero


def test_controle_wants_every_required_column():
    got = F.ACV_CONTROLE(ACTIONS, PLAN, FINANCEURS, "1.1")  # ACTIONS lacks « Maître d'ouvrage »…
    assert got.startswith("#ACV: colonne « ") and "introuvable" in got


@pytest.mark.parametrize("with_communes", [False, True], ids=["5 arguments", "T_Communes en 6e"])
@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_controle_on_every_action_equals_valider(path, with_communes):
    """ACV_CONTROLE gives, per action, the first error « Valider » reports for it — or « OK » —
    when every action-level finding is decided from the tables it is given (four, or five with
    T_Communes). Excel passes a function the values of a range, not its address: « ligne N » there
    counts the table's lines."""
    from acv_xl.checks.validate import validate_file

    def same(message: str) -> str:
        return re.sub(r"ligne \d+", "ligne N", message)

    report = validate_file(path)
    tables = (A, T, layout.T_FINANCEURS, layout.T_DISPOSITIFS) + ((layout.T_COMMUNES,) if with_communes else ())
    args = [table_values(path, t.name) for t in tables]
    codes_given = set(codes_within({t.name for t in tables}))
    for action in report.convention.actions:
        expected = next((f.message for f in report.findings if f.gravite.value == "erreur"
                         and f.action == action.numero and f.code in codes_given), "OK")
        got = F.ACV_CONTROLE(args[0], args[1], args[2], action.numero, *args[3:])
        assert same(got) == same(expected), action.numero


# --------------------------------------------------------------------------- the parsed-table cache
@pytest.mark.parametrize("before, after", [(True, 1), (1, True), (1.0, False + 1), (False, 0), (0.0, False)])
def test_a_table_equal_in_python_but_read_otherwise_is_parsed_again(before, after):
    """Excel calls the functions with the same table again and again: its parse is kept and found by
    comparing the argument with a copy. Python holds 1, 1.0 and True (0 and False) equal, the reader
    does not (TRUE typed in `Montant (€)` is no amount): a plan whose TRUE became 1 must be summed
    afresh, not as the plan cached before."""
    from udfs import tables

    def plan(montant):
        return _plan(("1.1", "ETAT", "DSIL", "Subvention", 2024, montant, "Acquis"))

    tables._CACHE.clear()
    expected = F.ACV_TOTAL_FINANCEUR(plan(after), "ETAT")
    tables._CACHE.clear()
    F.ACV_TOTAL_FINANCEUR(plan(before), "ETAT")
    assert F.ACV_TOTAL_FINANCEUR(plan(after), "ETAT") == expected
    assert F.ACV_TOTAL_FINANCEUR(plan(after), "ETAT") == expected  # and found again, same answer


def test_a_table_evicted_by_another_request_meanwhile_is_still_answered(monkeypatch):
    """The server's threads share the cache: another request may evict the entry this one just found
    (its ninth table) before this one marks it as recently used; the answer is still given."""
    from collections import OrderedDict

    from udfs import tables

    class EvictedMeanwhile(OrderedDict):
        def get(self, key, default=None):
            found = super().get(key, default)
            self.pop(key, None)
            return found

    monkeypatch.setattr(tables, "_CACHE", EvictedMeanwhile())
    expected = F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT")
    assert F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT") == expected == pytest.approx(1250.75)


def test_a_total_beyond_excels_numbers_is_a_french_message_not_infinity():
    """Two amounts of 9E+307 (Excel's largest numbers are near 1E+308) summed to a float infinity:
    xlwings Server wrote `Infinity`, which is no JSON, and the cell got no value at all."""
    huge = _plan(("1.1", "ETAT", "DSIL", "Subvention", 2025, 9e307, "Acquis"),
                 ("1.1", "ETAT", "DSIL", "Subvention", 2025, 9e307, "Acquis"))
    message = "#ACV: total trop grand pour un nombre d'Excel (au-delà de 10³⁰⁸) : vérifiez les montants du plan."
    assert F.ACV_TOTAL_FINANCEUR(huge, "ETAT") == message
    assert F.ACV_TOTAL_ACTION(huge, "1.1") == message
    assert F.ACV_SYNTHESE(huge) == message


@pytest.mark.parametrize("text", ["2023-11-01T00:00:00Z", "2024-03-01T10:00:00"])
def test_a_text_typed_like_a_date_time_is_no_date_for_acv_controle_as_for_the_command_line(text):
    """A date as the add-in writes one (« …T00:00:00.000Z ») is a date; a text only typed like a
    date-time is a text in the file, FIN-17 for the command line and the Valider button — and was a
    date for ACV_CONTROLE, which answered « OK »."""
    from acv_xl.contract.values import parse_date

    path = CASES[0]
    actions, plan, financeurs, dispositifs = (table_values(path, t.name)
                                              for t in (A, T, layout.T_FINANCEURS, layout.T_DISPOSITIFS))
    j, k = plan[0].index(T.header("date_demande")), plan[0].index(T.header("numero"))
    numero = plan[1][k]
    plan[1][j] = "2023-11-01T00:00:00.000Z"
    assert F.ACV_CONTROLE(actions, plan, financeurs, numero, dispositifs) == "OK"
    plan[1][j] = text
    assert parse_date(text).problem is not None  # the file reader's verdict on that text
    got = F.ACV_CONTROLE(actions, plan, financeurs, numero, dispositifs)
    assert f"« {T.header('date_demande')} » n'est pas une date : « {text} »" in got


DATE_TYPED = "Excel a converti le numéro saisi en date (« 1.2 » devient le 1er février) ; saisissez-le comme texte"


@pytest.mark.parametrize("call, expected", [
    # « 1.2 » typed in a cell of a French Excel becomes 01/02: the desktop passes the date, the web its
    # serial number — both summed 0,00 € without a word (an action « 2026-02-01 00:00:00 » or « 46054 »)
    (lambda: F.ACV_TOTAL_ACTION(PLAN, datetime(2026, 2, 1)),
     f"#ACV: le numéro d'action reçu est une date (01/02/2026) : {DATE_TYPED}"),
    (lambda: F.ACV_TOTAL_ACTION(PLAN, 46054),
     f"#ACV: aucune ligne du plan pour l'action « 46054 » ; si la cellule du numéro affiche une date, {DATE_TYPED}"),
    (lambda: F.ACV_ECART(ACTIONS, PLAN, 46054.0),
     f"#ACV: action « 46054 » introuvable dans T_Actions ; si la cellule du numéro affiche une date, {DATE_TYPED}"),
    (lambda: F.ACV_CONTROLE(ACTIONS, PLAN, FINANCEURS, [[datetime(2026, 2, 1)]]),
     f"#ACV: le numéro d'action reçu est une date (01/02/2026) : {DATE_TYPED}"),
    # booleans and dates said as a French Excel shows them, never Python's « True » nor « 2025-01-01 00:00:00 »
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", None, True), "#ACV: année « VRAI » invalide"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", False), "#ACV: statut « FAUX » inconnu"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", None, datetime(2025, 1, 1)), "#ACV: année « 01/01/2025 » invalide"),
])
def test_an_argument_excel_turned_into_a_date_or_a_boolean_is_said_in_french(call, expected):
    got = call()
    assert isinstance(got, str) and got.startswith(expected), got


@pytest.mark.parametrize("call, expected", [
    # 1E+308 was quoted in its float's 309 digits (« 1000000000000000010979… »), 2.5 with Python's point,
    # and 1234567890123456 cut at its decimal comma into a statut « 1 »: as Excel shows them
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", 1e308), "#ACV: statut « 1E+308 » inconnu (valeurs possibles"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", [["Acquis", -1e20]]), "#ACV: statut « -1E+20 » inconnu"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", 2.5), "#ACV: statut « 2,5 » inconnu"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", 1234567890123456.0),
     "#ACV: statut « 1,23456789012346E+15 » inconnu"),
    (lambda: F.ACV_TOTAL_FINANCEUR(PLAN, "ETAT", None, 1e308), "#ACV: année « 1E+308 » invalide"),
    (lambda: F.ACV_SYNTHESE(PLAN, 1e308), "#ACV: regroupement « 1E+308 » inconnu"),
])
def test_a_number_given_for_a_text_is_quoted_as_excel_shows_it(call, expected):
    got = call()
    assert isinstance(got, str) and got.startswith(expected) and "00000" not in got, got


def test_a_number_past_excel_s_last_date_is_not_said_to_be_one():
    """An action number 1E+308 (or 2 958 466, past 31/12/9999) read « si la cellule du numéro affiche une date,
    Excel a converti le numéro saisi en date »: no cell shows such a number as a date."""
    assert F.ACV_ECART(ACTIONS, PLAN, 2958465.0).startswith(  # 31/12/9999: may be a date cell
        "#ACV: action « 2958465 » introuvable dans T_Actions ; si la cellule du numéro affiche une date")
    for n in (2958466.0, 1e308):
        got = F.ACV_ECART(ACTIONS, PLAN, n)
        assert got == f"#ACV: action « {'2958466' if n < 1e15 else '1E+308'} » introuvable dans T_Actions.", got
        assert F.ACV_TOTAL_ACTION(PLAN, n) == 0.0  # as SOMME.SI, an action without lines sums 0


def test_a_whole_number_that_is_an_action_of_the_plan_is_still_summed():
    plan = _plan(("10000", "ETAT", "DSIL", "Subvention", 2024, 1000, "Acquis"))
    assert F.ACV_TOTAL_ACTION(plan, 10000) == 1000.0
    assert F.ACV_TOTAL_ACTION(PLAN, "9.9") == 0.0  # a text: as SOMME.SI, an action without lines sums 0


def test_a_newer_error_in_a_desktop_argument_is_no_amount():
    """On the desktop, xlwings hands a function's range with #SPILL!, #CALC!… as their COM code (an int):
    ACV_TOTAL_FINANCEUR added -2 146 826 243 € for one such cell. An error counts nowhere, as in the file."""
    spill = -2146828288 + 2045
    plan = _plan(("1.1", "ETAT", "DSIL", "Subvention", 2024, 1000.5, "Acquis"),
                 ("1.1", "ETAT", "DSIL", "Subvention", 2025, spill, "Acquis"))
    assert F.ACV_TOTAL_FINANCEUR(plan, "ETAT") == 1000.5
    assert F.ACV_SYNTHESE(plan, "annee") == [[T.header("annee"), T.header("montant")], [2024, 1000.5]]


@pytest.mark.parametrize("call, got, wanted", [
    (lambda t: F.ACV_PART_MO(t["T_Actions"], t["T_Financeurs"], t["T_Financements"], "1.1"), "T_Financeurs", "T_Financements"),
    (lambda t: F.ACV_ECART(t["T_Financements"], t["T_Actions"], "1.1"), "T_Financements", "T_Actions"),
    (lambda t: F.ACV_TOTAL_FINANCEUR(t["T_Actions"], "ETAT"), "T_Actions", "T_Financements"),
    # the plan holds the three columns the ratio reads of T_Dispositifs: it was taken for the list
    (lambda t: F.ACV_PART_MO(t["T_Actions"], t["T_Financements"], t["T_Financeurs"], "1.1", t["T_Financements"]),
     "T_Financements", "T_Dispositifs"),
])
def test_two_tables_swapped_are_said_so(call, got, wanted):
    """Two table arguments swapped: « la première ligne de la plage ne porte aucun nom de colonne… si la
    ligne d'en-tête du tableau est masquée, affichez-la » or « colonne « Coût total (€) » introuvable »,
    which a user whose header row shows cannot act on. The table received is named."""
    path = CASES[0]
    tables = {name: table_values(path, name) for name in ("T_Actions", "T_Financements", "T_Financeurs")}
    assert call(tables) == (f"#ACV: la plage reçue est le tableau {got}, pas {wanted} : à cette place, la fonction "
                            f"attend {wanted}[#Tout] (vérifiez l'ordre des arguments).")


def _part_mo_of_valider(path: Path) -> dict[str, float | None]:
    """Each action's L1111-10 ratio as FIN-06 (and the annex) count it on the file."""
    from acv_xl.checks import totals
    from acv_xl.reading.read import read_file

    conv = read_file(path)
    return {a.numero: (None if (r := totals.part_mo(totals.lines_of(conv.financements, a.numero), conv.financeurs, a,
                                                     dispositifs_classeur=conv.dispositifs).ratio) is None
                       else float(round(r, 6)))
            for a in conv.actions}


def _set_natures(path: Path, out: Path, natures: dict[str, str]) -> None:
    """`path`'s plan with the lines of each dispositif of `natures` retyped so (every cell else kept)."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    wb = openpyxl.load_workbook(path)
    ws = next(w for w in wb.worksheets if T.name in w.tables)
    c1, r1, _c2, r2 = range_boundaries(ws.tables[T.name].ref)
    dispositif, nature = (c1 + list(T.headers).index(T.header(a)) for a in ("dispositif", "nature"))
    hit = [r for r in range(r1 + 1, r2 + 1) if ws.cell(r, dispositif).value in natures]
    assert hit, natures
    for r in hit:
        ws.cell(r, nature).value = natures[ws.cell(r, dispositif).value]
    wb.save(out)


def test_part_mo_counts_a_dsil_typed_as_a_loan_as_valider_does(tmp_path):
    """A DSIL typed « Prêt » (or « Recette / cession ») is still the État's subsidy for FIN-06; ACV_PART_MO
    did not read the Dispositif column, took the line for the MO's own loan and gave 100 % where
    « Valider » counted the DSIL in the public financing."""
    path = tmp_path / "dsil-pret.xlsx"
    _set_natures(CASES[0], path, {"DSIL": "Prêt"})
    expected = _part_mo_of_valider(path)
    args = [table_values(path, t.name) for t in (A, T, layout.T_FINANCEURS)]
    got = {numero: (None if isinstance(r := F.ACV_PART_MO(*args, numero), str) else r) for numero in expected}
    assert got == pytest.approx(expected)


def test_part_mo_takes_the_workbooks_own_subsidies_as_valider_does(tmp_path):
    """A fund the commune adds to T_Dispositifs as a Région's « Subvention », typed « Portage foncier » in the
    plan (« Autre », a public body's financing, is in the base whatever its dispositif):
    FIN-06 counts it in the public financing; ACV_PART_MO, not given T_Dispositifs, left it out of the
    base (100 % of own share). Its optional 5th argument is that table; the 4-argument call is unchanged."""
    import openpyxl

    fund, typed = "Fonds régional des centres anciens", tmp_path / "renomme.xlsx"
    wb = openpyxl.load_workbook(CASES[0])
    for ws in wb.worksheets:  # the reference fund renamed in the list and in the plan: the workbook's own
        for row in ws.iter_rows():
            for cell in row:
                if cell.value == "Redynamisation des centres-villes":
                    cell.value = fund
    wb.save(typed)
    path = tmp_path / "fonds-autre.xlsx"
    _set_natures(typed, path, {fund: "Portage foncier"})
    expected = _part_mo_of_valider(path)
    args = [table_values(path, t.name) for t in (A, T, layout.T_FINANCEURS, layout.T_DISPOSITIFS)]

    def ratio(r):
        return None if isinstance(r, str) else r

    assert {n: ratio(F.ACV_PART_MO(*args[:3], n, args[3])) for n in expected} == pytest.approx(expected)
    without = {n: ratio(F.ACV_PART_MO(*args[:3], n)) for n in expected}
    assert without != pytest.approx(expected)  # the list is what tells the fund a subsidy
    assert without == {n: ratio(F.ACV_PART_MO(*args[:3], n, None)) for n in expected}


def test_synthese_by_financeur_shows_one_row_per_code_whatever_its_case():
    """« ETAT » and « etat » in one plan were two rows of ACV_SYNTHESE (and « etat » alone a row of its
    own), where « Valider » reads the listed ETAT and the Synthèse sheet's SOMME.SI.ENS sums both: one
    row per financeur, spelt as the reference list spells it, or as the plan first does."""
    plan = _plan(("1.1", "Bpi", "Prêt", "Prêt", 2025, 1, "Acquis"),
                 ("1.1", "etat", "DSIL", "Subvention", 2025, 2, "Acquis"),
                 ("1.2", "BPI", "Prêt", "Prêt", 2025, 4, "Acquis"),
                 ("1.2", "ETAT", "DETR", "Subvention", 2025, 8, "Acquis"),
                 ("1.2", "Région", "", "Subvention", 2025, 16, "Refusé"))
    assert F.ACV_SYNTHESE(plan) == [[T.header("financeur"), T.header("montant")], ["Bpi", 5.0], ["ETAT", 10.0]]
    only_lower = _plan(("1.1", "etat", "DSIL", "Subvention", 2025, 2, "Acquis"))
    assert F.ACV_SYNTHESE(only_lower)[1:] == [["ETAT", 2.0]]
    # the rows are the function's cache's: the plan read again still holds what was typed
    assert F.ACV_TOTAL_FINANCEUR(plan, "etat") == 10.0 and F.ACV_SYNTHESE(plan, "statut")[1:] == [["Acquis", 15.0]]


def test_controle_lets_a_syndicat_d_energie_s_fonds_de_concours_to_its_commune_pass_as_valider_does():
    """« FDE62 / Fonds de concours », 30 % of the commune's operation, its own money 20 %: « Valider » warns
    (CGCT L5212-26), and the cell says « OK » as it does, where both said FIN-23's error; the EPCI's, which the
    commune's own share caps, still is the error the command line reports."""
    actions = [[c.header for c in A.columns],
               ["1.1", "Éclairage public", "Axe 1", "", "", "Ville", "Commune", "", "Mature",
                "2024-01-01T00:00:00.000Z", "2025-12-31T00:00:00.000Z", "HT", 1000, 1000, "Aucune",
                "ETAT;FDE62", ""]]
    plan = _plan(("1.1", "COMMUNE", "Autofinancement", "Autofinancement", 2024, 200, "Acquis"),
                 ("1.1", "ETAT", "DSIL", "Subvention", 2024, 500, "Acquis"),
                 ("1.1", "FDE62", "Fonds de concours", "Subvention", 2024, 300, "Acquis"))
    financeurs = FINANCEURS + [["FDE62", "Fédération départementale d'énergie du Pas-de-Calais", "Public"],
                               ["EPCI", "EPCI", "Public"]]
    assert F.ACV_CONTROLE(actions, plan, financeurs, "1.1") == "OK"
    plan[3][1] = "EPCI"
    got = F.ACV_CONTROLE(actions, plan, financeurs, "1.1")
    assert got.startswith("Action 1.1, ligne 3 : les fonds de concours de l'action (300,00 €) dépassent la part")


def test_controle_says_what_valider_says_of_an_abandoned_action_of_a_mistyped_commune():
    """« Ville d'Arras » typed « Association », abandoned, its own 200 000 € « Versé »: « Valider » knows the commune
    from T_Communes and says the money was paid; ACV_CONTROLE, given four tables, took it for another body's and
    added « demandez à son financeur (COMMUNE) s'il doit être reversé ». The name says the commune alike."""
    from conventions import build, clean_raw
    from xlwings_payload import _js_value
    from acv_xl.checks.rules import run_rules

    raw = clean_raw()
    raw["T_Actions"][0].update(maturite="Abandonnée", type_mo="Association")
    raw["T_Financements"][0]["statut"] = "Versé"
    raw["T_Financements"][1]["statut"] = "Prévisionnel"
    valider = next(f.message for f in run_rules(build(raw)) if f.code == "ACT-13")

    def table(t):
        return [[c.header for c in t.columns]] + [[_js_value(r.get(c.attr)) for c in t.columns] for r in raw[t.name]]
    got = F.ACV_CONTROLE(table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    # the rows are numbered from the table given (the header's row is 1): the rest is Valider's to the letter
    tail = "(200 000,00 €) reste comptée : cet argent a déjà été payé."
    assert valider.endswith(tail) and got.endswith(tail)


def _fonds_de_concours_of_lievin():
    """Arras's action 1.1 (« Ville d'Arras », a commune) with 100 000 € of fonds de concours from a financeur the
    commune added as « LIEVIN », named « Liévin » — the binôme's other commune in T_Communes: the law knows no fonds
    de concours between two communes (FIN-23). The raw workbook and the tables as Excel passes them."""
    from conventions import clean_raw
    from xlwings_payload import _js_value

    raw = clean_raw()
    raw["T_Communes"].append({"code_insee": "62510", "commune": "Liévin", "role": "Commune associée"})
    raw["T_Financeurs"].append({"code": "LIEVIN", "nom": "Liévin", "categorie": "Public", "cibles": None,
                                "modalites": None, "contact": None})
    raw["T_Financements"][2].update(montant=200_000)  # the Région's 300 000 €: 100 000 € of it now Liévin's
    raw["T_Financements"].insert(3, {**raw["T_Financements"][2], "financeur": "LIEVIN",
                                     "dispositif": "Fonds de concours", "montant": 100_000})

    def table(t):
        return [[c.header for c in t.columns]] + [[_js_value(r.get(c.attr)) for c in t.columns] for r in raw[t.name]]
    return raw, table


def test_controle_given_t_communes_refuses_a_fonds_de_concours_from_a_commune_named_bare_as_valider_does():
    """« Valider » knows from T_Communes that « Liévin » is a commune and refuses its fonds de concours to Arras
    (FIN-23); ACV_CONTROLE, never given T_Communes, answered « OK » — a finance officer trusting the cell met the
    error at the comité. Given T_Communes[#Tout] as its 6th argument, the cell says Valider's error."""
    from conventions import build
    from acv_xl.checks.rules import run_rules

    raw, table = _fonds_de_concours_of_lievin()
    valider = [f for f in run_rules(build(raw)) if f.action == "1.1" and f.gravite.value == "erreur"]
    assert [f.code for f in valider] == ["FIN-23"]
    args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1", table(layout.T_DISPOSITIFS))
    got = F.ACV_CONTROLE(*args, table(layout.T_COMMUNES))
    assert re.sub(r"ligne \d+", "ligne N", got) == re.sub(r"ligne \d+", "ligne N", valider[0].message)
    assert "le financeur « LIEVIN » le verse à « Ville d'Arras »" in got
    # without T_Communes the name alone does not say a commune of the convention: not « OK », what to check
    sans = ("À vérifier : aucune erreur pour l'action « 1.1 », mais le financeur « LIEVIN » porte le nom d'une commune "
            "du programme ; si c'est une commune de la convention, « Valider » signale l'erreur FIN-23 (fonds de "
            "concours hors du cadre légal). Passez T_Communes[#Tout] en 6e argument pour le savoir.")
    assert F.ACV_CONTROLE(*args) == F.ACV_CONTROLE(*args[:4]) == sans


def test_controle_without_t_communes_says_ok_of_a_fonds_de_concours_from_a_financeur_named_as_no_commune():
    """The EPCI added under its acronym (« CALL »): no commune of the programme bears that name, FIN-23 lets it pass
    as the EPCI with or without T_Communes — the five-argument form says « OK » as it always did."""
    raw, table = _fonds_de_concours_of_lievin()
    raw["T_Financeurs"][-1]["nom"] = "CALL"
    args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    assert F.ACV_CONTROLE(*args) == F.ACV_CONTROLE(*args, None, table(layout.T_COMMUNES)) == "OK"


def test_controle_given_an_empty_t_communes_knows_no_commune():
    """A T_Communes left empty (its header and one blank line, as Excel passes an empty table) names no
    commune: « Liévin » is none of the convention's, as for « Valider » on that workbook, and no rule of the
    communes (PRJ-02's « aucune commune ») turns into an error of the action."""
    raw, table = _fonds_de_concours_of_lievin()
    args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    empty = [[c.header for c in layout.T_COMMUNES.columns], [None] * len(layout.T_COMMUNES.columns)]
    assert F.ACV_CONTROLE(*args, None, empty) == "OK"  # given, if empty: nothing left to check
    raw["T_Actions"][0]["cout_total"] = 1  # an action error still reported beside an empty communes table
    assert F.ACV_CONTROLE(table(A), *args[1:], None, empty).startswith("Plan de financement déséquilibré pour "
                                                                         "l'action 1.1 : coût total 1,00 €")


def test_controle_names_the_missing_column_of_t_communes_as_of_the_other_tables():
    _, table = _fonds_de_concours_of_lievin()
    communes = [row[1:] for row in table(layout.T_COMMUNES)]  # without « Code INSEE »
    got = F.ACV_CONTROLE(table(A), table(T), table(layout.T_FINANCEURS), "1.1", None, communes)
    assert got == ("#ACV: colonne « Code INSEE » introuvable dans la plage (sélectionnez T_Communes[#Tout], "
                   "ligne d'en-tête comprise).")
    assert F.ACV_CONTROLE(table(A), table(T), table(layout.T_FINANCEURS), "1.1", None, [["Commune"]]).startswith(
        "#ACV: une seule ligne reçue : sélectionnez le tableau T_Communes entier")


def test_controle_given_t_communes_still_knows_an_epci_by_its_name():
    """« Communauté urbaine d'Arras » typed « Association », abandoned, its own 80 000 € « Versé »: « Valider » knows
    the EPCI from `acv_epci` and says the money was paid. Given T_Communes but never the named cells, ACV_CONTROLE
    knew the communes alone, no longer read the EPCI's name, and added « demandez à son financeur (EPCI) s'il doit
    être reversé »; the five-argument form, which goes by names, did not."""
    from conventions import build, clean_raw
    from xlwings_payload import _js_value
    from acv_xl.checks.rules import run_rules

    raw = clean_raw()
    raw["T_Actions"][1].update(maturite="Abandonnée", type_mo="Association", maitre_ouvrage="Communauté urbaine d'Arras")
    for lf in raw["T_Financements"]:
        if lf["numero"] == "2.1":
            lf["statut"] = "Versé" if lf["financeur"] == "EPCI" else "Prévisionnel"
    valider = next(f.message for f in run_rules(build(raw)) if f.code == "ACT-13")

    def table(t):
        return [[c.header for c in t.columns]] + [[_js_value(r.get(c.attr)) for c in t.columns] for r in raw[t.name]]
    args = (table(A), table(T), table(layout.T_FINANCEURS), "2.1", None)
    tail = "La ligne N « Versé » (80 000,00 €) reste comptée : cet argent a déjà été payé."
    for got in (F.ACV_CONTROLE(*args), F.ACV_CONTROLE(*args, table(layout.T_COMMUNES))):
        assert re.sub(r"ligne \d+", "ligne N", got).endswith(tail)
    assert re.sub(r"ligne \d+", "ligne N", valider).endswith(tail)


def test_controle_without_t_communes_does_not_say_ok_of_an_epci_s_fonds_de_concours_above_its_share_from_a_commune():
    """Lens-Liévin: « LIEVIN » (« Liévin ») pays the CA's halle 300 000 € of fonds de concours, above the EPCI's own
    share. « Valider » knows from T_Communes a commune, the error (FIN-23); without T_Communes, FIN-23 warns that it
    may be a syndicat d'énergie's, and the cell said « OK ». Within the share, « OK » both ways."""
    from conventions import build
    from acv_xl.checks.rules import run_rules

    raw, table = _fonds_de_concours_of_lievin()
    del raw["T_Financements"][3]  # 1.1 as it was
    raw["T_Financements"][2].update(montant=300_000)
    dsil_21 = next(lf for lf in raw["T_Financements"] if lf["numero"] == "2.1" and lf["dispositif"] == "DSIL")
    dsil_21.update(financeur="LIEVIN", dispositif="Fonds de concours")
    valider = [f for f in run_rules(build(raw)) if f.action == "2.1" and f.gravite.value == "erreur"]
    assert [f.code for f in valider] == ["FIN-23"]
    args = (table(A), table(T), table(layout.T_FINANCEURS), "2.1")
    assert F.ACV_CONTROLE(*args, None, table(layout.T_COMMUNES)).startswith("Action 2.1, ligne")
    assert F.ACV_CONTROLE(*args) == (
        "À vérifier : aucune erreur pour l'action « 2.1 », mais le financeur « LIEVIN » porte le nom d'une commune du "
        "programme ; si c'est une commune de la convention, « Valider » signale l'erreur FIN-23 (fonds de concours hors "
        "du cadre légal). Passez T_Communes[#Tout] en 6e argument pour le savoir.")
    dsil_21.update(montant=100_000)  # within the EPCI's own share: lawful from a commune member
    next(lf for lf in raw["T_Financements"] if lf["numero"] == "2.1" and lf["dispositif"] == "DETR").update(
        montant=300_000)
    args = (table(A), table(T), table(layout.T_FINANCEURS), "2.1")
    assert F.ACV_CONTROLE(*args) == F.ACV_CONTROLE(*args, None, table(layout.T_COMMUNES)) == "OK"


def test_controle_without_t_communes_does_not_say_ok_of_a_commune_s_subsidy_to_its_epci_above_its_share():
    """« LIEVIN » (« Liévin ») gives the CA's halle a 300 000 € « Subvention » (« Participation de la ville »):
    « Valider », knowing Liévin from T_Communes, counts it as a fonds de concours under another name, above the
    EPCI's own share (FIN-23); the five-argument call did not know the commune and said « OK »."""
    raw, table = _fonds_de_concours_of_lievin()
    del raw["T_Financements"][3]
    raw["T_Financements"][2].update(montant=300_000)
    next(lf for lf in raw["T_Financements"] if lf["numero"] == "2.1" and lf["dispositif"] == "DSIL").update(
        financeur="LIEVIN", dispositif="Participation de la ville")
    args = (table(A), table(T), table(layout.T_FINANCEURS), "2.1")
    assert "y est comptée la subvention « Participation de la ville » du financeur « LIEVIN »" in F.ACV_CONTROLE(
        *args, None, table(layout.T_COMMUNES))
    assert F.ACV_CONTROLE(*args).startswith("À vérifier : aucune erreur pour l'action « 2.1 », mais le financeur "
                                            "« LIEVIN » porte le nom d'une commune du programme")


def test_controle_takes_the_5th_argument_left_empty_for_the_default_as_classic_xlwings_passes_it():
    """docs/excel.md says to leave the 5th place empty to pass T_Communes alone: `…; "1.1"; ; T_Communes[#Tout]`.
    Classic xlwings on the desktop gives that place as one blank cell, [[None]] (only an argument left out at the end
    comes as the default): the cell said « #ACV: une seule ligne reçue : sélectionnez le tableau T_Dispositifs
    entier », not FIN-23's error. The blank is the default, as with xlwings Server; ACV_PART_MO's 5th too."""
    _, table = _fonds_de_concours_of_lievin()
    args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    expected = F.ACV_CONTROLE(*args, None, table(layout.T_COMMUNES))
    assert "le financeur « LIEVIN » le verse à « Ville d'Arras »" in expected
    assert F.ACV_CONTROLE(*args, [[None]], table(layout.T_COMMUNES)) == expected
    assert F.ACV_CONTROLE(*args, table(layout.T_DISPOSITIFS), [[None]]) == F.ACV_CONTROLE(*args) != expected
    assert F.ACV_PART_MO(*args, [[None]]) == F.ACV_PART_MO(*args)


def test_controle_without_t_communes_lists_three_commune_named_financeurs_in_french():
    """Three financeurs added under communes' names pay Arras's 1.1 fonds de concours: the cell listed them « A et B
    et C »; French writes « A, B et C »."""
    raw, table = _fonds_de_concours_of_lievin()
    raw["T_Financements"][2].update(montant=100_000)
    for code, nom in (("LENS", "Lens"), ("BETHUNE", "Béthune")):
        raw["T_Financeurs"].append({**raw["T_Financeurs"][-1], "code": code, "nom": nom})
        raw["T_Financements"].insert(3, {**raw["T_Financements"][3], "financeur": code, "montant": 50_000})
    got = F.ACV_CONTROLE(table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    assert got.startswith("À vérifier : aucune erreur pour l'action « 1.1 », mais les financeurs « BETHUNE », « LENS » "
                          "et « LIEVIN » portent le nom de communes du programme ; si ce sont des communes de la "
                          "convention, « Valider » signale l'erreur FIN-23"), got


def test_controle_without_t_communes_names_only_the_financeur_whose_name_draws_fin23():
    """Arras's 1.1: « LIEVIN » (« Liévin ») pays a fonds de concours, « LENS » (« Lens ») a subsidy, which FIN-23 does
    not count from a commune to a commune. The cell said both « portent le nom de communes », though only Liévin's
    fonds de concours is refused were it a commune of the convention; now it names Liévin alone."""
    raw, table = _fonds_de_concours_of_lievin()
    raw["T_Financeurs"].append({**raw["T_Financeurs"][-1], "code": "LENS", "nom": "Lens"})
    raw["T_Financements"][2].update(montant=150_000)  # the Région's 200 000 €: 50 000 € of it now Lens's
    raw["T_Financements"].insert(3, {**raw["T_Financements"][2], "financeur": "LENS", "dispositif": "Subvention",
                                     "montant": 50_000})
    args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    assert F.ACV_CONTROLE(*args).startswith("À vérifier : aucune erreur pour l'action « 1.1 », mais le financeur "
                                            "« LIEVIN » porte le nom d'une commune du programme ;")


def test_controle_without_t_communes_does_not_take_a_departement_s_short_name_for_a_commune_elsewhere():
    """A financeur added as « Vienne » (the département's short name) pays a fonds de concours to Arras's 1.1: Vienne
    is also a commune of the programme, in the Isère (38), so the cell said « À vérifier » — though no commune of a
    convention of the Pas-de-Calais (62), where its maîtres d'ouvrage are, is in the Isère: « Valider » with
    T_Communes says no error either. Liévin, of the Pas-de-Calais, is still to be checked."""
    raw, table = _fonds_de_concours_of_lievin()
    raw["T_Financeurs"][-1]["nom"] = "Vienne"
    args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    assert F.ACV_CONTROLE(*args) == F.ACV_CONTROLE(*args, None, table(layout.T_COMMUNES)) == "OK"
    raw["T_Financeurs"][-1]["nom"] = "Liévin"
    assert F.ACV_CONTROLE(table(A), table(T), table(layout.T_FINANCEURS), "1.1").startswith("À vérifier")


def test_controle_without_t_communes_reads_the_departement_of_a_binome_named_maitre_d_ouvrage():
    """A commune's maître d'ouvrage named as its binôme is (« Lens - Liévin », as the national list names ACV113) gave
    no département: the whole name is no commune of the list, so every financeur named as a programme commune
    anywhere was kept, « Vienne » (the département; Vienne, 38, the commune) paying a fonds de concours to 1.1 too:
    « À vérifier » where « Valider » given T_Communes says no error. The binôme's name is split as the list's is: its
    communes are of the Pas-de-Calais, and Liévin is still to be checked."""
    raw, table = _fonds_de_concours_of_lievin()
    for mo in ("Lens - Liévin", "Ville de Lens / Liévin", "Lens et Liévin"):
        raw["T_Actions"][0]["maitre_ouvrage"] = mo
        raw["T_Financeurs"][-1]["nom"] = "Vienne"
        args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1")
        assert F.ACV_CONTROLE(*args) == F.ACV_CONTROLE(*args, None, table(layout.T_COMMUNES)) == "OK", mo
        raw["T_Financeurs"][-1]["nom"] = "Liévin"
        assert F.ACV_CONTROLE(table(A), table(T), table(layout.T_FINANCEURS), "1.1").startswith("À vérifier"), mo


def test_controle_without_t_communes_reads_the_departement_from_the_communes_maitres_d_ouvrage_only():
    """The département of the convention's communes was read from every maître d'ouvrage named as a programme commune:
    the Département de la Vienne as the maître d'ouvrage of 2.1, typed « Vienne », put the Isère (38) among them. A
    financeur added as « Vienne » (the département) paying Arras's 1.1 a fonds de concours was then « À vérifier »
    again; and where no commune's maître d'ouvrage is named as one (« Mairie »), the Isère alone left out Liévin, of
    the Pas-de-Calais, whose fonds de concours « Valider » refuses given T_Communes: the cell said « OK »."""
    raw, table = _fonds_de_concours_of_lievin()
    raw["T_Actions"][1].update(maitre_ouvrage="Vienne", type_mo="Département")
    raw["T_Financeurs"][-1]["nom"] = "Vienne"
    args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    assert F.ACV_CONTROLE(*args) == "OK"
    raw["T_Financeurs"][-1]["nom"] = "Liévin"
    raw["T_Actions"][0]["maitre_ouvrage"] = "Mairie"
    args = (table(A), table(T), table(layout.T_FINANCEURS), "1.1")
    assert F.ACV_CONTROLE(*args, None, table(layout.T_COMMUNES)).startswith(
        "Action 1.1, ligne 4 : un fonds de concours ne se verse qu'entre un EPCI à fiscalité propre et ses communes")
    assert F.ACV_CONTROLE(*args).startswith("À vérifier : aucune erreur pour l'action « 1.1 », mais le financeur "
                                            "« LIEVIN » porte le nom d'une commune du programme ;")
