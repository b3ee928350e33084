"""validate_convention / validate_file: findings, totals, fingerprint, état, exit status."""

from __future__ import annotations

import sys
import types

import pytest

from acv_xl.reading.errors import SAVE_AS_XLSX, UnreadableWorkbook
from acv_xl.checks.fingerprint import fingerprint
from acv_xl.checks.findings import Gravite
from acv_xl.checks.validate import Report, validate_convention, validate_file

from conventions import build, clean, clean_raw
from cpu_time import growth


def test_clean_convention_report():
    conv = clean()
    r = validate_convention(conv, "arras.xlsx")
    assert isinstance(r, Report)
    assert (r.fichier, r.valide, r.exit_code, r.findings) == ("arras.xlsx", True, 0, [])
    assert r.empreinte == fingerprint(conv) and r.empreinte_stockee is None and r.etat == "non validé"
    assert r.totaux is not None and r.totaux.ecart == 0


def test_errors_give_exit_1_and_warnings_alone_give_0():
    raw = clean_raw()
    raw["T_Financements"][0]["montant"] = 1
    r = validate_convention(build(raw))
    assert not r.valide and r.exit_code == 1
    raw = clean_raw()
    raw["names"]["acv_id"] = "ACV14"  # Arras, mistyped: PRJ-03 only
    r = validate_convention(build(raw))
    assert r.valide and r.exit_code == 0 and [f.gravite for f in r.findings] == [Gravite.AVERTISSEMENT]


def _stored(statut, empreinte):
    raw = clean_raw()
    conv = build(raw)
    fp = fingerprint(conv)
    raw["names"].update(acv_statut=statut, acv_empreinte=fp if empreinte == "same" else empreinte)
    return build(raw)


def test_etat_valide_when_stored_fingerprint_matches_and_status_validated():
    r = validate_convention(_stored("Validé", "same"))
    assert r.etat == "validé" and r.empreinte_stockee == r.empreinte


def test_etat_modifie_when_stored_fingerprint_differs():
    r = validate_convention(_stored("Validé", "0" * 64))
    assert r.etat == "modifié depuis la validation" and r.empreinte_stockee == "0" * 64


def test_etat_jamais_valide_when_status_is_not_validated():
    assert validate_convention(_stored("Erreurs à corriger", "same")).etat == "non validé"
    assert validate_convention(_stored("Validé", None)).etat == "non validé"


def test_a_change_after_validation_is_detected():
    raw = clean_raw()
    raw["names"].update(acv_statut="Validé", acv_empreinte=fingerprint(build(raw)))
    raw["T_Financements"][0]["montant"] = 200_001
    assert validate_convention(build(raw)).etat == "modifié depuis la validation"


@pytest.fixture
def fake_reader(monkeypatch):
    """Stand-in for acv_xl.reading.read (written by another engineer) to test validate_file's error handling."""
    mod = types.ModuleType("acv_xl.reading.read")
    # `validate_file` reads through `read_file_bounded`: the test's `read_file`, with no bound on texts
    mod.read_file_bounded = lambda path, data=None: (mod.read_file(path), None)
    monkeypatch.setitem(sys.modules, "acv_xl.reading.read", mod)
    return mod


def test_validate_file_unreadable_becomes_a_finding(fake_reader, tmp_path):
    def read_file(path):
        raise UnreadableWorkbook("STR-02", "Format non pris en charge : classeur Excel 97-2003 (.xls).", SAVE_AS_XLSX)
    fake_reader.read_file = read_file
    r = validate_file(tmp_path / "vieux.xls")
    assert r.convention is None and r.etat == "illisible" and r.exit_code == 2 and not r.valide
    assert [(f.code, f.gravite, f.cellule) for f in r.findings] == [("STR-02", Gravite.ERREUR, "")]
    assert r.findings[0].suggestion == SAVE_AS_XLSX


def test_validate_file_unexpected_reader_crash_is_str01(fake_reader, tmp_path):
    def read_file(path):
        raise KeyError("xl/workbook.xml")
    fake_reader.read_file = read_file
    r = validate_file(tmp_path / "abime.xlsx")
    assert r.exit_code == 2 and [f.code for f in r.findings] == ["STR-01"] and "endommagé" in r.findings[0].message


def test_validate_file_missing_file_is_str01_without_raising(fake_reader, tmp_path):
    def read_file(path):
        return open(path, "rb")
    fake_reader.read_file = read_file
    r = validate_file(tmp_path / "absent.xlsx")
    assert r.exit_code == 2 and r.findings[0].code == "STR-01" and "introuvable" in r.findings[0].message


def test_validate_file_reads_and_validates(fake_reader, tmp_path):
    fake_reader.read_file = lambda path: clean()
    r = validate_file(tmp_path / "arras.xlsx")
    assert r.exit_code == 0 and r.fichier == str(tmp_path / "arras.xlsx") and r.empreinte == fingerprint(clean())


def _large(copies: int):
    """`copies` × (2 actions, 7 lines), then a copy of those lines per year, amounts unchanged."""
    raw = clean_raw()
    actions, lines, inds = [], [], []
    for k in range(copies):
        for j, a in enumerate(raw["T_Actions"]):
            actions.append(dict(a, numero=f"{j + 1}.{k + 1}"))
            inds.append(dict(raw["T_Indicateurs"][j], numero=f"{j + 1}.{k + 1}"))
        for lf in raw["T_Financements"]:
            lines.append(dict(lf, numero=f"{lf['numero'].split('.')[0]}.{k + 1}"))
    first = len(lines)
    for y in (2025, 2026):
        lines += [dict(lf, annee=y) for lf in lines[:first]]
    for a in actions:
        a["cout_total"] *= 3
        a["depense_subventionnable"] *= 3
    raw.update(T_Actions=actions, T_Financements=lines, T_Indicateurs=inds)
    return build(raw)


def test_a_large_convention_validates_in_linear_time():
    """500 actions and 5 250 financing lines: the rules index what they look up (no quadratic scan),
    so five times the plan costs about five times the CPU (the quadratic version: tens of seconds,
    25 times). Compared with the fifth measured alongside, never with a fixed bound: the CI, on a
    shared machine, once counted 4,4 s of CPU for the 0,25 s this takes alone."""
    small, big = _large(50), _large(250)
    assert len(big.financements) == 5250 and len(small.financements) == 1050
    reports = []
    ratio = growth(lambda: validate_convention(small), lambda: reports.append(validate_convention(big)))
    assert ratio < 12, f"5 fois le plan : {ratio:.1f} fois le temps"
    assert reports[0].findings == []


def test_a_crash_in_totals_or_fingerprint_becomes_str00(monkeypatch):
    import acv_xl.checks.fingerprint as F
    from acv_xl.checks import totals

    def boom(conv):
        raise ArithmeticError("x")

    monkeypatch.setattr(totals, "compute", boom)
    monkeypatch.setattr(F, "fingerprint", boom)
    r = validate_convention(clean())
    assert [f.code for f in r.findings] == ["STR-00", "STR-00"] and r.exit_code == 1
    assert r.totaux is None and r.empreinte is None and r.etat == "non validé"
    from acv_xl.outputs.report import to_json
    assert to_json(r)["totaux"] is None


def test_amounts_past_28_digits_add_up_to_the_cent():
    """10^26 € of cost against 8 × 10^25 € + 0,01 € + 2 × 10^25 € of financing: the default context's
    28 digits rounded the 0,01 € away — FIN-05 said the plan balanced, FIN-07 the dotations at exactly
    80 %, and the totals were off by cents. Every sum is exact to the cent now (`totals.exact_context`)."""
    from decimal import Decimal

    from acv_xl.checks.validate import validate_convention
    from conventions import build, clean_raw

    raw = clean_raw()
    i = next(i for i, a in enumerate(raw["T_Actions"]) if a["numero"] == "2.1")
    raw["T_Actions"][i].update(cout_total=1e26, depense_subventionnable=1e26)
    plan = [lf for lf in raw["T_Financements"] if lf["numero"] != "2.1" or lf["financeur"] != "CDC"]
    for lf in plan:
        if lf["numero"] == "2.1":
            lf["montant"] = {"EPCI": 2e25, "ETAT": 8e25 if lf["dispositif"] == "DSIL" else 0.01}[lf["financeur"]]
    raw["T_Financements"] = plan
    report = validate_convention(build(raw))
    codes = {(f.code, f.action) for f in report.findings}
    assert {("FIN-05", "2.1"), ("FIN-07", "2.1")} <= codes
    fin05 = next(f for f in report.findings if f.code == "FIN-05")
    assert "les financements dépassent le coût de 0,01 €" in fin05.message
    assert report.totaux.financement_total - report.totaux.cout_total == Decimal("0.01")
    assert report.totaux.ecart == Decimal("-0.01")
    # each breakdown adds up to the total: the JSON said 0,01 € « non ventilé » everywhere
    assert set(report.totaux.non_ventile.values()) == {Decimal(0)}
    # comparer: the écarts against the plan before, exact too (« sans financeur reconnu : 0,10 € »)
    from acv_xl.checks.comparison import compare

    comp = compare(build(clean_raw()), build(raw))
    # 10^26 € + 0,01 € + the 1 000 000 € of action 1.1, against the 1 500 000 € before
    assert comp.financement_total.ecart == Decimal("99999999999999999999500000.01")
    assert set(e.ecart for e in comp.non_ventile.values()) == {Decimal(0)}


def test_a_convention_checked_again_for_its_huge_amounts_keeps_28_digits_for_the_rest():
    """Past 10^18 €, the convention is checked once more with the digits its sums need
    (`totals.exact_context`) — never fewer than the default 28: with 23 for an action of 10^18 €,
    the figure of a population typed as a 25-digit text could not be shown, and PER-07 stopped on
    InvalidOperation (STR-00, « ce point du dossier n'a pas été vérifié »)."""
    from acv_xl.checks.validate import validate_convention
    from conventions import build, clean_raw

    def findings(amount):
        raw = clean_raw()
        child = next(p for p in raw["T_Perimetres"] if p.get("parent"))
        child["population"] = "1234567890123456789012345"
        action = next(a for a in raw["T_Actions"] if a["numero"] == "2.1")
        action.update(cout_total=amount, depense_subventionnable=amount)
        return [(f.code, f.cellule, f.message) for f in validate_convention(build(raw)).findings if f.code.startswith(("STR", "PER"))]

    huge = findings(1e18)
    assert not any(code == "STR-00" for code, _, _ in huge)
    assert [f for f in huge if f[0] == "PER-07"] == [f for f in findings(1e6) if f[0] == "PER-07"] != []
