"""The JSON and text reports."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pandas as pd
import pytest
from rich.console import Console

from acv_xl.contract import layout
from acv_xl.checks.findings import Finding, Gravite
from acv_xl.outputs.report import render_text, to_json
from acv_xl.checks.validate import unreadable, validate_convention

from conventions import build, clean_raw
from cpu_time import cpu_seconds


def varied_raw():
    """Several years, statuses, a refused line, an abandoned action, cents that floats get wrong."""
    raw = clean_raw()
    fin = raw["T_Financements"]
    fin[1].update(annee=2025, statut="Sollicité", reference_decision=None)
    fin[2].update(montant=299_999.9)
    fin.append(dict(fin[2], montant=0.1, annee=2026, statut="Prévisionnel"))
    fin.append(dict(fin[5], dispositif="DSID", montant=123_456.78, statut="Refusé", reference_decision=None))
    fin[6].update(montant=10_000.33)
    fin[3].update(montant=89_999.67)
    raw["T_Actions"].append(dict(raw["T_Actions"][1], numero="3.1", axe="Axe 3", maturite="Abandonnée",
                                 cout_total=42_000))
    return raw


def independent_totals(raw) -> dict:
    """Totals straight from the raw lines with pandas (no acv_xl code involved)."""
    df = pd.DataFrame(raw["T_Financements"])
    df = df[df["statut"] != "Refusé"].copy()
    df["cents"] = df["montant"].map(lambda v: int((Decimal(str(v)) * 100).to_integral_value()))
    axes = {a["numero"]: a["axe"].split()[-1] for a in raw["T_Actions"]}
    df["axe"] = df["numero"].map(axes)
    group = lambda col: {str(k): v / 100 for k, v in df.groupby(col)["cents"].sum().items()}  # noqa: E731
    cost = sum(int(Decimal(str(a["cout_total"])) * 100) for a in raw["T_Actions"] if a["maturite"] != "Abandonnée")
    return {"cout_total": cost / 100, "par_financeur": group("financeur"), "par_axe": group("axe"),
            "par_annee": group("annee"), "par_statut": group("statut"), "financement_total": df["cents"].sum() / 100}


def test_json_shape_is_the_interface():
    raw = varied_raw()
    data = to_json(validate_convention(build(raw), "arras.xlsx"))
    for key in ("fichier", "acv_id", "version_modele", "valide", "empreinte", "resume", "constats", "totaux"):
        assert key in data
    assert data["fichier"] == "arras.xlsx" and data["acv_id"] == "ACV014" and data["version_modele"] == layout.TEMPLATE_VERSION
    assert set(data["resume"]) == {"erreurs", "avertissements", "informations"}
    assert data["constats"], "the varied convention has findings"
    for c in data["constats"]:
        assert set(c) == {"code", "gravite", "feuille", "cellule", "action", "message", "suggestion"}
        assert c["gravite"] in ("erreur", "avertissement", "information")
    for key in ("cout_total", "par_financeur", "par_axe", "par_annee", "par_statut"):
        assert key in data["totaux"]
    assert data["resume"]["erreurs"] == sum(c["gravite"] == "erreur" for c in data["constats"])
    assert data["valide"] is (data["resume"]["erreurs"] == 0)
    json.dumps(data, ensure_ascii=False)  # serialisable as is


def test_json_totals_equal_an_independent_computation():
    raw = varied_raw()
    tot = to_json(validate_convention(build(raw)))["totaux"]
    exp = independent_totals(raw)
    assert tot["cout_total"] == exp["cout_total"]
    assert tot["financement_total"] == exp["financement_total"]
    for key in ("par_financeur", "par_axe", "par_annee", "par_statut"):
        assert tot[key] == exp[key], key
    assert "Refusé" not in tot["par_statut"]
    assert tot["par_annee"]["2026"] == 0.1


def test_json_of_an_unreadable_file():
    data = to_json(unreadable("x.xls", "STR-02", "Format non pris en charge.", "Enregistrer sous…"))
    assert data["valide"] is False and data["totaux"] is None and data["acv_id"] is None and data["etat"] == "illisible"
    assert data["resume"] == {"erreurs": 1, "avertissements": 0, "informations": 0}
    assert data["constats"][0]["code"] == "STR-02" and data["constats"][0]["cellule"] == ""


def _text(reports, terminal=False) -> str:
    buf = io.StringIO()
    render_text(reports, Console(file=buf, force_terminal=terminal, width=100, highlight=False))
    return buf.getvalue()


def test_text_report_lists_findings_grouped_with_cells_and_suggestions():
    raw = varied_raw()
    raw["T_Actions"][0]["cout_total"] = "1 000 000 €"
    raw["names"]["acv_id"] = "ACV1"
    raw["T_Financements"][0]["reference_decision"] = None
    report = validate_convention(build(raw), "arras.xlsx")
    out = _text([report])
    assert "Fichier : arras.xlsx" in out and "État : non validé" in out and "Convention : ACV1 — Arras" in out
    errors = report.resume["erreurs"]
    assert f"{errors} erreur" in out
    assert out.index("Feuille Projet") < out.index("Feuille Fiches-actions") < out.index("Feuille Plan de financement")
    assert "Action 1.1" in out and "ACT-05 M4" in out and "→ Remplacez le texte par le montant 1 000 000,00 € : tapez 1000000" in out
    assert "PRJ-03 B4" in out and "FIN-13 I4" in out
    assert out.rstrip().splitlines()[-1].startswith("Verdict : à corriger, ")
    assert "\x1b[" not in out  # plain when not a terminal
    assert "\x1b[" in _text([report], terminal=True)


def test_text_report_keeps_brackets_of_user_text():
    r = unreadable("a.xlsx", "STR-01", "Texte [bold]entre crochets[/bold] [ETAT]", "")
    out = _text([r])
    assert "[bold]entre crochets[/bold] [ETAT]" in out and "Verdict : fichier illisible, rien n'a pu être vérifié." in out


def test_text_report_several_files_and_clean_verdict():
    ok = validate_convention(build(clean_raw()), "arras.xlsx")
    bad = unreadable("b.xls", "STR-02", "Format non pris en charge.", "")
    out = _text([ok, bad])
    assert "Verdict : aucune erreur, le classeur peut être validé." in out
    assert "2 fichiers vérifiés" in out and "1 illisible" in out


def test_a_workbook_that_is_no_convention_is_not_said_illisible_in_the_text(tmp_path):
    """An annex or a consolidation (STR-11) was read: the text says what it is, the tally counts it
    apart from the unreadable files; the JSON keeps its fixed word « illisible »."""
    from acv_xl.checks.validate import validate_file
    from acv_xl.outputs.template import build_workbook

    import xlsxwriter

    other = tmp_path / "budget.xlsx"
    wb = xlsxwriter.Workbook(other)
    wb.add_worksheet("Budget").write("A1", "Budget 2025")
    wb.close()
    conv = tmp_path / "c.xlsx"
    build_workbook(conv, build(clean_raw()))
    reports = [validate_file(other), validate_file(conv), unreadable("b.xls", "STR-02", "Format non pris en charge.", "")]
    assert [f.code for f in reports[0].findings] == ["STR-11"]
    out = _text(reports)
    assert "État : pas un classeur de convention" in out and out.count("État : illisible") == 1
    assert "3 fichiers vérifiés : 0 avec erreurs, 1 illisible, 1 autre classeur (pas une convention)." in out
    assert to_json(reports[0])["etat"] == "illisible"


def test_finding_without_action_or_cell_is_rendered():
    r = unreadable("a.xlsx", "STR-01", "Fichier vide.", "Choisir un autre fichier.")
    r.findings.append(Finding(code="STR-03", gravite=Gravite.ERREUR, message="Feuille absente."))
    out = _text([r])
    assert "STR-01 — Fichier vide." in out and "→ Choisir un autre fichier." in out


def test_text_report_orders_actions_numerically_within_a_sheet():
    r = unreadable("a.xlsx", "STR-01", "x", "")
    r.findings = [Finding(code="FIN-13", gravite=Gravite.AVERTISSEMENT, feuille=layout.Sheet.FINANCEMENT, cellule=f"I{i}",
                          action=n, message=f"ligne {n}") for i, n in ((4, "2.10"), (5, "2.9"), (6, "10.1"), (7, ""))]
    out = _text([r])
    pos = [out.index(f"Action {n}\n") for n in ("2.9", "2.10", "10.1")]
    assert pos == sorted(pos) and out.index("Action 10.1\n") < out.index("— ligne \n")


def test_text_report_in_a_legacy_encoding_does_not_crash():
    raw = varied_raw()
    raw["T_Financements"][0]["reference_decision"] = None
    raw["T_Actions"][0]["intitule"] = "Îlot ≥ 2 000 m² ✓"
    raw["T_Actions"].append(dict(raw["T_Actions"][0]))  # ACT-01 quotes the title
    report = validate_convention(build(raw), "arras.xlsx")
    buf = io.BytesIO()
    stream = io.TextIOWrapper(buf, encoding="cp1252")
    render_text([report], Console(file=stream, width=100))
    stream.flush()
    text = buf.getvalue().decode("cp1252")
    assert "-> Indiquez la référence" in text and "€" in text and "Îlot ? 2 000 m² ?" in text


def test_text_report_says_totals_are_partial_when_structure_is_missing():
    raw = clean_raw()
    report = validate_convention(build(raw))
    report.findings.append(Finding(code="STR-04", gravite=Gravite.ERREUR, feuille=layout.Sheet.FINANCEMENT,
                                   cellule="F3", message="La colonne « Montant (€) » est introuvable."))
    out = io.StringIO()
    render_text([report], Console(file=out, width=200))
    assert "Totaux partiels" in out.getvalue()
    clean = io.StringIO()
    render_text([validate_convention(build(clean_raw()))], Console(file=clean, width=200))
    assert "Totaux partiels" not in clean.getvalue()


@pytest.mark.parametrize("sheet,partial", [(layout.Sheet.SYNTHESE, False), (layout.Sheet.CONTROLES, False),
                                           (layout.Sheet.FINANCEMENT, True), (layout.Sheet.ACTIONS, True)])
def test_totals_are_partial_only_when_what_they_add_up_is_missing(sheet, partial):
    """A deleted Synthèse (formulas only) is STR-03, but the totals read from the plan are whole."""
    conv = build(clean_raw())
    conv.structure.missing_sheets.append(sheet)
    report = validate_convention(conv)
    assert any(f.code == "STR-03" for f in report.findings)
    out = io.StringIO()
    render_text([report], Console(file=out, width=200))
    assert ("Totaux partiels" in out.getvalue()) is partial


def _rich_text(reports) -> str:
    """The report as Rich itself printed it, line by line (before the plain writer)."""
    from acv_xl.outputs import report as report_module

    buf = io.StringIO()
    console = Console(file=buf, width=100, highlight=False)
    original = getattr(report_module, "_printer", None)
    report_module._printer = lambda c, plain: (lambda t: c.print(t, soft_wrap=plain))
    try:
        render_text(reports, console)
    finally:
        report_module._printer = original
    return buf.getvalue()


def test_a_plain_report_is_rich_s_text_written_at_once_even_for_400_000_findings():
    """A crafted plan of 200 000 lines (a 4 MB file) gave 400 000 findings, and Rich spent ≈ 0,3 ms
    on each line of the plain report: 2 minutes of printing in a log. Written as it is now, the same
    characters as Rich's (user text with control characters, tabs, brackets, several files)."""
    raw = varied_raw()
    raw["names"]["acv_libelle"] = "Arras\t[bold]x[/bold] \x1b[2J « été »"
    raw["T_Financements"][0]["reference_decision"] = None
    reports = [validate_convention(build(raw), "a\tb [red].xlsx"), validate_convention(build(clean_raw()), "b.xlsx"),
               unreadable("x.xls", "STR-02", "Format non pris en charge.", "Enregistrer sous…")]
    assert _text(reports) == _rich_text(reports)
    many = validate_convention(build(raw), "arras.xlsx")
    f = many.findings[0]
    many.findings[:] = [Finding(code=f.code, gravite=f.gravite, feuille=f.feuille, cellule=f"F{i}", action=f.action,
                                message=f"{f.message} {i}", suggestion=f.suggestion) for i in range(300)]
    assert _text([many]) == _rich_text([many])
    many.findings[:] = many.findings * 10
    # against Rich on the same 3 000 findings, never a fixed bound (the shared CI machine stretches CPU time)
    speedup = cpu_seconds(lambda: _rich_text([many]), rounds=2) / cpu_seconds(lambda: _text([many]), rounds=2)
    assert speedup > 2, f"{speedup:.1f} fois plus rapide que Rich"  # (Rich itself: 1)
    assert _text([many]).count("\n") > 3_000


def test_the_verdict_of_a_validated_workbook_says_it_is_validated(tmp_path, capsys):
    """`valider copie-validee.xlsx`: « État : validé » then « Verdict : aucune erreur, le classeur peut
    être validé. », as if it had still to be. A validated workbook's verdict says it is; one modified
    since its validation may be validated again, as one never validated."""
    from acv_xl.cli import main
    from acv_xl.outputs.examples import example_conventions
    from acv_xl.outputs.template import build_workbook

    src, copy = tmp_path / "arras.xlsx", tmp_path / "valide.xlsx"
    build_workbook(src, example_conventions()["arras.xlsx"])
    assert main(["valider", str(src), "--annoter", str(copy)]) == 0
    assert "Verdict : aucune erreur, le classeur peut être validé." in capsys.readouterr().out
    assert main(["valider", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "État : validé\n" in out and "Verdict : aucune erreur, le classeur est validé." in out, out


def test_the_report_names_its_file_as_its_message_does(tmp_path):
    """`valider "vide.xlsx "` (a name unzipped on Linux with its space): the reader's message says
    « vide.xlsx (espace finale) », as the consolidation's sheets do, but the report's title above it
    said « Fichier : vide.xlsx », the space invisible at the line's end — the name nobody finds.
    The title names it the same; the JSON's `fichier` keeps the name, which a script opens."""
    from acv_xl.checks.validate import validate_file

    path = tmp_path / "vide.xlsx "
    path.write_bytes(b"")
    report = validate_file(path)
    out = _text([report])
    assert f"Fichier : {tmp_path}/vide.xlsx (espace finale)\n" in out, out
    assert "Le fichier « vide.xlsx (espace finale) » est vide" in out
    assert to_json(report)["fichier"] == str(path)
