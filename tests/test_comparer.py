"""`acv-xl comparer` on real workbooks: exit status, text grouped by sheet then action, JSON of
evolution.md whose totals' écarts are the difference of the two `valider --format json` totals,
the workbook of écarts (coloured rows, totals sheet, chart), and the refusals (two conventions,
an unreadable file, an output that is an input or a user's file)."""

from __future__ import annotations

import datetime
import json
import random
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from acv_xl.cli import main
from acv_xl.contract import layout
from acv_xl.contract.model import FicheAction, LigneFinancement, build_row
from acv_xl.contract.values import fmt_euros
from acv_xl.outputs.comparison_workbook import COLOURS, Feuille
from acv_xl.outputs.examples import example_conventions
from acv_xl.outputs.template import build_workbook

F = layout.T_FINANCEMENTS


@pytest.fixture(scope="module")
def base():
    convs = example_conventions()
    return convs["arras.xlsx"]


def _write(conv, path: Path) -> Path:
    build_workbook(path, conv)
    return path


def _run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _shuffled(conv, seed: int):
    rnd = random.Random(seed)
    update = {}
    for name in layout.COMPARISON_KEYS:
        attr = {"T_Communes": "communes", "T_Diagnostic": "diagnostic", "T_Perimetres": "perimetres",
                "T_Actions": "actions", "T_Indicateurs": "indicateurs", "T_Financements": "financements",
                "T_Financeurs": "financeurs", "T_Dispositifs": "dispositifs", "T_Gouvernance": "gouvernance"}[name]
        rows = list(getattr(conv, attr))
        rnd.shuffle(rows)
        update[attr] = rows
    return conv.model_copy(update=update)


def _edited(conv):
    """An avenant: one amount raised, one status changed, one line removed, one line and one action added."""
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in conv.financements]
    lines[0] = build_row(LigneFinancement, {**lines[0].raw, "montant": float(lines[0].montant) + 50_000})
    lines[1] = build_row(LigneFinancement, {**lines[1].raw, "statut": "Engagé"})
    removed = lines.pop(2)
    a0 = conv.actions[0]
    new_action = build_row(FicheAction, {**a0.raw, "numero": "5.99", "axe": "Axe 5", "cout_total": 80_000.0,
                                         "intitule": "Étude de programmation de la halle"})
    lines.append(build_row(LigneFinancement, {**conv.financements[0].raw, "numero": "5.99", "financeur": "ETAT",
                                              "dispositif": "DSIL", "nature": "Subvention", "annee": 2026,
                                              "montant": 64_000.0, "statut": "Sollicité"}))
    return conv.model_copy(update={"financements": lines, "actions": list(conv.actions) + [new_action]}), removed


def test_a_workbook_and_its_shuffled_copy_have_no_change(base, tmp_path, capsys):
    a = _write(base, tmp_path / "avant.xlsx")
    b = _write(_shuffled(base, 7), tmp_path / "apres.xlsx")
    copy = tmp_path / "copie.xlsx"
    copy.write_bytes(a.read_bytes())
    code, out, _ = _run(capsys, "comparer", a, copy)
    assert code == 0 and "Aucun changement" in out
    code, out, _ = _run(capsys, "comparer", a, b, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["changements"] == []
    assert data["avant"]["acv_id"] == data["apres"]["acv_id"] == base.acv_id
    assert data["avant"]["empreinte"] != data["apres"]["empreinte"]  # rows in another order: other data…
    assert all(e["ecart"] == 0 for g in ("par_financeur", "par_axe", "par_annee", "par_statut")
               for e in data["totaux"][g].values())  # …but no change, and no total moved


def test_edits_are_exactly_those_changes_and_the_ecarts_are_valider_differences(base, tmp_path, capsys):
    after, removed = _edited(base)
    a = _write(base, tmp_path / "avant.xlsx")
    b = _write(_shuffled(after, 3), tmp_path / "apres.xlsx")
    code, out, _ = _run(capsys, "comparer", a, b, "--format", "json")
    assert code == 1
    data = json.loads(out)
    got = sorted((c["type"], c["table"], c["champ"] or "", c["action"]) for c in data["changements"])
    l0, l1 = base.financements[0], base.financements[1]
    assert got == sorted([
        ("modification", F.name, F.header("montant"), l0.numero),
        ("modification", F.name, F.header("statut"), l1.numero),
        ("suppression", F.name, "", removed.numero),
        ("ajout", F.name, "", "5.99"),
        ("ajout", layout.T_ACTIONS.name, "", "5.99"),
    ])
    amount = next(c for c in data["changements"] if c["champ"] == F.header("montant"))
    assert amount["apres"] - amount["avant"] == 50_000
    assert amount["cellule_avant"].startswith("F") and amount["cellule_apres"].startswith("F")
    assert set(amount) == {"type", "table", "feuille", "cle", "action", "champ", "avant", "apres",
                           "cellule_avant", "cellule_apres", "montant"}

    totals = []
    for path in (a, b):
        _code, out_v, _ = _run(capsys, "valider", path, "--format", "json")
        totals.append(json.loads(out_v)["totaux"])
    ta, tb = totals
    t = data["totaux"]
    assert t["cout_total"] == {"avant": ta["cout_total"], "apres": tb["cout_total"],
                               "ecart": float(Decimal(str(tb["cout_total"])) - Decimal(str(ta["cout_total"])))}
    for g in ("par_financeur", "par_axe", "par_annee", "par_statut"):
        assert set(t[g]) == set(ta[g]) | set(tb[g])
        for k, e in t[g].items():
            before, after_v = Decimal(str(ta[g].get(k, 0))), Decimal(str(tb[g].get(k, 0)))
            assert (Decimal(str(e["avant"])), Decimal(str(e["apres"])), Decimal(str(e["ecart"]))) == \
                (before, after_v, after_v - before), (g, k)


def test_text_is_grouped_by_sheet_then_action_then_totals(base, tmp_path, capsys):
    after, _ = _edited(base)
    a, b = _write(base, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    code, out, _ = _run(capsys, "comparer", a, b)
    assert code == 1
    lines = out.splitlines()
    i_actions = lines.index(f"Feuille {layout.Sheet.ACTIONS}")
    i_plan = lines.index(f"Feuille {layout.Sheet.FINANCEMENT}")
    i_totals = next(i for i, line in enumerate(lines) if line.startswith("Totaux qui ont changé"))
    assert i_actions < i_plan < i_totals  # the workbook's sheet order, totals last
    assert "  Action 5.99" in lines[i_plan:]
    assert any("Montant (€) : " in line and " € → " in line for line in lines)
    # the financeur's code and its name, as the workbook's Financeurs sheet says it
    etat = f"Financeur ETAT — {next(f.nom for f in after.financeurs if f.code == 'ETAT')} :"
    assert any(line.strip().startswith(etat) and "(écart : +" in line for line in lines[i_totals:]), lines[i_totals:]
    assert "5 changements : 2 ajouts, 1 suppression, 2 modifications." in out


def test_workbook_of_ecarts(base, tmp_path, capsys):
    after, _ = _edited(base)
    a, b = _write(base, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    code, _out, _ = _run(capsys, "comparer", a, b, "-o", out)
    assert code == 1 and out.exists()
    wb = openpyxl.load_workbook(out)
    ws = wb[Feuille.CHANGEMENTS]
    rows = [r for r in ws.iter_rows(min_row=5, values_only=False) if r[0].value in ("Ajout", "Suppression", "Modification")]
    assert len(rows) >= 5
    fills = {r[0].value: r[0].fill.fgColor.rgb[-6:] for r in rows[:5]}
    assert fills == {"Ajout": COLOURS["ajout"][1:], "Suppression": COLOURS["suppression"][1:],
                     "Modification": COLOURS["modification"][1:]}
    amount = next(r for r in rows if r[4].value == F.header("montant"))
    assert amount[5].number_format.endswith('"€"') and amount[6].value - amount[5].value == 50_000
    assert amount[7].value and amount[8].value  # both cells
    wt = wb[Feuille.TOTAUX]
    labels = [r[0].value for r in wt.iter_rows(values_only=False)]
    name = next(f.nom for f in after.financeurs if f.code == "ETAT")
    etat = next(r for r in wt.iter_rows() if r[0].value == f"Financeur ETAT — {name}")
    assert etat[3].value == etat[2].value - etat[1].value and etat[3].value != 0
    assert "Par financeur" in labels and "Par axe" in labels and "Par année" in labels
    assert len(wt._charts) == 1
    # written again over its own output: allowed; over a user's workbook or an input: refused
    assert _run(capsys, "comparer", a, b, "-o", out)[0] == 1
    code, _o, err = _run(capsys, "comparer", a, b, "-o", b)
    assert code == 2 and "aussi un fichier lu par cette commande" in err
    user = tmp_path / "mon_classeur.xlsx"
    shutil.copy(a, user)
    before = user.read_bytes()
    code, _o, err = _run(capsys, "comparer", a, b, "-o", user)
    assert code == 2 and "--remplacer" in err and user.read_bytes() == before


def test_a_workbook_compared_with_itself_is_a_mistake_said(base, tmp_path, capsys):
    """`comparer arras.xlsx arras.xlsx` (or ./arras.xlsx, or a link to it) said « Aucun changement :
    les deux classeurs portent les mêmes données », status 0, of one file: the name typed twice, where
    the user meant the copy signed. Status 2 and the mistake said, as `annexe --depuis` says it."""
    a = _write(base, tmp_path / "arras.xlsx")
    link = tmp_path / "lien.xlsx"
    link.symlink_to(a)
    for other in (a, tmp_path / "." / "arras.xlsx", link):
        code, out, err = _run(capsys, "comparer", a, other)
        assert code == 2 and out == "", (other, out)
        assert "AVANT et APRES désignent le même fichier (« arras.xlsx »)" in err, err


def test_two_conventions_or_an_unreadable_file_is_status_2(base, tmp_path, capsys):
    convs = example_conventions()
    a = _write(base, tmp_path / "arras.xlsx")
    other = _write(convs["bethune-bruay.xlsx"], tmp_path / "bethune-bruay.xlsx")
    code, out, err = _run(capsys, "comparer", a, other)
    assert code == 2 and "pas sur la même convention" in err and out == ""
    bad = tmp_path / "abime.xlsx"
    bad.write_bytes(b"ceci n'est pas un classeur")
    code, _out, err = _run(capsys, "comparer", a, bad)
    assert code == 2 and "comparaison impossible" in err and "Traceback" not in err
    code, _out, err = _run(capsys, "comparer", a, tmp_path / "absent.xlsx")
    assert code == 2 and "introuvable" in err


def test_a_workbook_off_the_template_says_what_is_missing_in_the_users_words(base, tmp_path, capsys):
    """A deleted sheet is named as a sheet (not also its two tables), a renamed table as a table."""
    a = _write(base, tmp_path / "arras.xlsx")
    wb = openpyxl.load_workbook(a)
    del wb["Financeurs"]
    wb.save(tmp_path / "sans_financeurs.xlsx")
    code, _out, err = _run(capsys, "comparer", a, tmp_path / "sans_financeurs.xlsx")
    assert code == 2 and "« sans_financeurs.xlsx » ne suit pas le modèle ACV (manque : feuille « Financeurs ») ;" in err
    wb = openpyxl.load_workbook(a)
    ws = wb["Plan de financement"]
    table = ws.tables["T_Financements"]
    del ws.tables["T_Financements"]
    table.name = table.displayName = "Tableau1"
    ws.add_table(table)
    wb.save(tmp_path / "renomme.xlsx")
    code, _out, err = _run(capsys, "comparer", a, tmp_path / "renomme.xlsx")
    assert code == 2 and "(manque : tableau « T_Financements »)" in err


def test_a_workbook_without_identifier_is_said_empty_not_another_convention(base, tmp_path, capsys):
    """Two blank templates are not « deux conventions différentes »: the message names the empty cell."""
    a = _write(base, tmp_path / "arras.xlsx")
    blank = tmp_path / "vierge.xlsx"
    build_workbook(blank)
    code, _out, err = _run(capsys, "comparer", a, blank)
    assert code == 2 and "l'identifiant de la convention (feuille Projet, cellule B4) est vide dans « vierge.xlsx »" in err
    assert "pas sur la même convention" not in err


def test_a_file_name_not_in_utf8_is_compared_and_annexed(base, tmp_path, capsys):
    """« caf\\xe9.xlsx » in Latin-1 (a zip made on Windows): the comparison's workbook and JSON
    and the annex name it with its byte escaped, instead of « erreur interne inattendue »
    (UnicodeEncodeError) when the workbook is written."""
    import os

    odd = _write(base, tmp_path / os.fsdecode(b"caf\xe9.xlsx"))
    other = _write(base, tmp_path / "arras.xlsx")
    code, out, err = _run(capsys, "comparer", odd, other, "-o", tmp_path / "e.xlsx")
    assert code == 0 and "interne" not in err, err
    ws = openpyxl.load_workbook(tmp_path / "e.xlsx").worksheets[0]
    assert any("caf\\xe9.xlsx" in str(c.value) for row in ws.iter_rows() for c in row if c.value)
    code, out, err = _run(capsys, "comparer", odd, other, "--format", "json")
    assert json.loads(out)["avant"]["fichier"].endswith("caf\\xe9.xlsx")
    code, out, err = _run(capsys, "annexe", odd, "-o", tmp_path / "annexe.xlsx")
    assert code == 0 and "interne" not in err, err
    ws = openpyxl.load_workbook(tmp_path / "annexe.xlsx").worksheets[0]
    assert any(c.value == "caf\\xe9.xlsx" for row in ws.iter_rows() for c in row)


def _with_line_below_the_plan(src: Path, dst: Path) -> Path:
    from openpyxl.utils.cell import range_boundaries

    wb = openpyxl.load_workbook(src)
    ws = next(w for w in wb.worksheets if F.name in w.tables)
    c1, _r1, _c2, r2 = range_boundaries(ws.tables[F.name].ref)
    for j, v in enumerate(["2.2", "ETAT", "DETR", "Subvention", 2027, 500_000, "Sollicité"]):
        ws.cell(r2 + 1, c1 + j).value = v
    wb.save(dst)
    return dst


def test_a_line_typed_below_the_plan_is_never_the_same_data(base, tmp_path, capsys):
    """A line typed just below the plan is in no table compared (STR-09): comparer says so and
    never answers « les mêmes données » with status 0 when it is only on one side."""
    a = _write(base, tmp_path / "avant.xlsx")
    b = _with_line_below_the_plan(a, tmp_path / "apres.xlsx")
    code, out, _ = _run(capsys, "comparer", a, b, "-o", tmp_path / "ecarts.xlsx")
    assert code == 1
    assert "mêmes données" not in out and "STR-09" in out and "« apres.xlsx » a 7 valeurs saisies" in out
    assert "feuille « Plan de financement », ligne" in out
    # listed and compared as values outside the tables (status 1), never said « not compared »
    assert "elles ne sont dans aucun tableau comparé ni dans aucun total" in " ".join(out.split())
    ws = openpyxl.load_workbook(tmp_path / "ecarts.xlsx")[Feuille.CHANGEMENTS]
    texts = [str(v) for r in ws.iter_rows(values_only=True) for v in r if v]
    assert any("STR-09" in t for t in texts) and "Aucun changement entre les deux classeurs." not in texts
    code, out, _ = _run(capsys, "comparer", a, b, "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["changements"] == [] and data["hors_tableaux"]["avant"] == []
    assert {"feuille": "Plan de financement", "tableau": F.name, "valeur": 500_000} .items() <= \
        next(s for s in data["hors_tableaux"]["apres"] if s["valeur"] == 500_000).items()
    # the same line below the plan on both sides (a copy): no change, said without « mêmes données »
    b2, a2 = tmp_path / "apres-copie.xlsx", tmp_path / "avant-copie.xlsx"
    b2.write_bytes(b.read_bytes())
    a2.write_bytes(a.read_bytes())
    code, out, _ = _run(capsys, "comparer", b, b2)
    assert code == 0 and "mêmes données" not in out and "sont les mêmes dans les deux classeurs, mais aucun total ne les compte" in out
    code, out, _ = _run(capsys, "comparer", a, a2, "--format", "json")
    assert code == 0 and json.loads(out)["hors_tableaux"] == {"avant": [], "apres": []}


def test_the_changes_print_one_page_wide_at_8_pt_or_more(base, tmp_path, capsys):
    """The changes' sheet is fitted to one page wide: its 10 pt type, at that scale, stays ≥ 8 pt
    (the columns were planned for 11 pt type: fitted, they printed at about 7.6 pt)."""
    from acv_xl.outputs import page_layout

    a = _write(base, tmp_path / "avant.xlsx")
    b = _write(_edited(base)[0], tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    assert _run(capsys, "comparer", a, b, "-o", out)[0] == 1
    ws = openpyxl.load_workbook(out)[Feuille.CHANGEMENTS]
    assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
    # Excel's widths (XlsxWriter adds its 0.71 of padding), a <col> element standing for several columns
    widths = [d.width - 0.7109375 for d in ws.column_dimensions.values() for _ in range(d.min, d.max + 1)]
    assert len(widths) == ws.max_column
    printable = page_layout.A4_LONG_PT - 2 * ws.page_margins.left * 72
    scale = min(1.0, printable / sum(page_layout.column_points(w) for w in widths))
    font = ws.cell(5, 1).font.sz
    assert font * scale >= page_layout.MIN_PRINTED_PT, (font, scale)


def test_a_changed_number_never_reads_the_same_before_and_after(base, tmp_path, capsys):
    """An indicator's target 0,3541 → 0,3549 was said « 0,35 → 0,35 » (two decimals): a change
    that reads as none. Numbers keep their own decimals (up to 6), in the text and the workbook."""
    from acv_xl.contract.model import Indicateur

    inds = [build_row(Indicateur, dict(i.raw)) for i in base.indicateurs]
    before = base.model_copy(update={"indicateurs": [build_row(Indicateur, {**inds[0].raw, "valeur_cible": 0.3541})]
                                     + inds[1:]})
    after = base.model_copy(update={"indicateurs": [build_row(Indicateur, {**inds[0].raw, "valeur_cible": 0.3549})]
                                    + inds[1:]})
    a, b = _write(before, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    code, text, _ = _run(capsys, "comparer", a, b, "-o", out)
    assert code == 1 and "Valeur cible : 0,3541 → 0,3549" in text
    ws = openpyxl.load_workbook(out)[Feuille.CHANGEMENTS]
    row = next(r for r in ws.iter_rows(min_row=5) if r[4].value == "Valeur cible")
    assert [row[5].value, row[6].value] == [0.3541, 0.3549]
    assert row[5].number_format.endswith("0.0#####")  # both shown with their four decimals


def test_each_breakdown_of_the_ecarts_adds_up_to_the_total(base, tmp_path, capsys):
    """A line the breakdown by statut cannot place (« Rejeté » typed, not in the list: FIN-04) still
    counts in the total: its amount was in no « Totaux qui ont changé » line, so the écarts by statut
    did not add up to the total's. It is now said as « Financements sans statut valide »."""
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in base.financements]
    lines[0] = build_row(LigneFinancement, {**lines[0].raw, "statut": "Rejeté"})  # (« refusé » is the list's « Refusé »)
    lines[1] = build_row(LigneFinancement, {**lines[1].raw, "financeur": None})
    a = _write(base, tmp_path / "avant.xlsx")
    b = _write(base.model_copy(update={"financements": lines}), tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    code, text, _ = _run(capsys, "comparer", a, b, "-o", out)
    montant = fmt_euros(base.financements[0].montant)
    assert code == 1 and f"Financements sans statut valide : 0,00 € → {montant}" in text
    assert "Financements sans financeur reconnu : 0,00 € → " in text
    code, text, _ = _run(capsys, "comparer", a, b, "--format", "json")
    t = json.loads(text)["totaux"]
    for g in ("par_financeur", "par_axe", "par_annee", "par_statut"):
        for side in ("avant", "apres", "ecart"):
            placed = sum(e[side] for e in t[g].values()) + t["non_ventile"][g][side]
            assert round(placed, 2) == round(t["financement_total"][side], 2), (g, side)
    labels = [r[0] for r in openpyxl.load_workbook(out)[Feuille.TOTAUX].iter_rows(values_only=True)]
    assert "Financements sans statut valide" in labels and "Financements sans financeur reconnu" in labels
    annexe = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(annexe), "--brouillon"]) == 0
    from acv_xl.outputs.annex import AnnexSheet

    texts = [r[0] for r in openpyxl.load_workbook(annexe)[AnnexSheet.MODIFICATIONS].iter_rows(values_only=True)]
    assert "Financements sans financeur reconnu" in texts


def test_the_ecarts_chart_prints_whole_with_room_for_its_labels(base, tmp_path, capsys):
    """Beside the tables, the chart made the Totaux sheet print a quarter smaller and the label of a
    negative bar printed over the financeurs' names; under a repeated header row it printed cut
    across a page break. It is under the tables, on a page of its own, with room beyond its bars."""
    import re
    import zipfile

    after, _ = _edited(base)
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in after.financements]
    lines[0] = build_row(LigneFinancement, {**lines[0].raw, "montant": float(lines[0].montant) - 900_000})
    after = after.model_copy(update={"financements": lines})
    a, b = _write(base, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    assert _run(capsys, "comparer", a, b, "-o", out)[0] == 1
    data = json.loads(_run(capsys, "comparer", a, b, "--format", "json")[1])
    ecarts = [e["ecart"] for e in data["totaux"]["par_financeur"].values()]
    wb = openpyxl.load_workbook(out)
    wt = wb[Feuille.TOTAUX]
    assert wt.print_title_rows is None
    anchor = wt._charts[0].anchor._from
    last_row = max(r[0].row for r in wt.iter_rows() if r[0].value)  # 1-based
    assert anchor.col == 0 and anchor.row >= last_row  # 0-based: below every table
    breaks = [b.id for b in wt.row_breaks.brk]
    assert breaks and max(breaks) <= anchor.row  # a page break before it
    with zipfile.ZipFile(out) as z:
        chart = next(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart"))
    axis = re.search(r"<c:valAx>.*?</c:valAx>", chart, re.S).group(0)
    low = float(re.search(r'<c:min val="([^"]+)"', axis).group(1))
    span = max(ecarts + [0]) - min(ecarts + [0])
    assert min(ecarts) < 0 and low <= min(ecarts) - 0.4 * span


def test_no_chart_of_ecarts_when_no_financeur_changed(base, tmp_path, capsys):
    """Only an action's intitulé changed: every financeur's écart is 0 €, and the Totaux sheet printed a
    page of its own holding a chart of no bar over an axis « 0 € 1 € 1 € ». No chart, no page break:
    the écarts of 0,00 € are in the table."""
    actions = [build_row(FicheAction, dict(a.raw)) for a in base.actions]
    actions[0] = build_row(FicheAction, {**actions[0].raw, "intitule": "Requalification de la place des Héros"})
    after = base.model_copy(update={"actions": actions})
    a, b = _write(base, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    assert _run(capsys, "comparer", a, b, "-o", out)[0] == 1
    wt = openpyxl.load_workbook(out)[Feuille.TOTAUX]
    assert any(str(r[0].value).startswith("Financeur ETAT") and r[3].value == 0 for r in wt.iter_rows())
    assert not wt._charts and not wt.row_breaks.brk


def _ecarts_raised(base, tmp_path, capsys, raised: dict[int, float]) -> Path:
    """`comparer -o` of the base and of a copy whose lines `raised` (index → euros) are raised: the écarts'
    workbook."""
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in base.financements]
    for k, euros in raised.items():
        lines[k] = build_row(LigneFinancement, {**lines[k].raw, "montant": float(lines[k].montant) + euros})
    a, b = _write(base, tmp_path / "avant.xlsx"), _write(base.model_copy(update={"financements": lines}),
                                                         tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    assert _run(capsys, "comparer", a, b, "-o", out)[0] == 1
    return out


def _chart_xml(out: Path) -> str:
    import zipfile

    with zipfile.ZipFile(out) as z:
        return next(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart"))


def test_an_ecart_of_cents_is_not_rounded_away_in_the_chart(base, tmp_path, capsys):
    """A line raised by 0,40 €: the chart's label and axis were in whole euros, the bar labelled « 0 € »
    over an axis « 0 € 0 € 1 € 1 € ». Below 10 €, the chart says the cents, as the table beside it."""
    import re

    chart = _chart_xml(_ecarts_raised(base, tmp_path, capsys, {0: 0.4}))
    labels = re.search(r"<c:dLbls>.*?</c:dLbls>", chart, re.S).group(0)
    axis = re.search(r"<c:valAx>.*?</c:valAx>", chart, re.S).group(0)
    for part in (labels, axis):
        assert "#,##0.00" in re.search(r'<c:numFmt formatCode="([^"]+)"', part).group(1), part


def test_a_huge_number_changed_is_said_not_an_internal_error(base, tmp_path, capsys):
    """The number's six decimals were computed with 28 digits: a crafted target of 1E+25 (31 digits
    with them) stopped comparer with « erreur interne inattendue (InvalidOperation) »."""
    from acv_xl.contract.model import Indicateur

    inds = [build_row(Indicateur, dict(i.raw)) for i in base.indicateurs]
    after = base.model_copy(update={"indicateurs": [build_row(Indicateur, {**inds[0].raw, "valeur_cible": 1e25})]
                                    + inds[1:]})
    a, b = _write(base, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    code, text, err = _run(capsys, "comparer", a, b)
    assert code == 1 and "→ 10 000 000 000 000 000 000 000 000" in text, err
    assert "erreur interne" not in err


def test_ecarts_near_excels_largest_number_still_write_the_workbook(base, tmp_path, capsys):
    """A line of 9E+307 € moved from one financeur to another: écarts of -9E+307 and +9E+307, whose
    span is past a float's range — the chart's bounds made comparer -o stop with « erreur interne
    inattendue (OverflowError) »; the chart keeps the spreadsheet's own bounds then."""
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in base.financements]
    other = next(lf.financeur for lf in lines if lf.financeur != lines[0].financeur)
    before = base.model_copy(update={"financements": [build_row(LigneFinancement, {**lines[0].raw, "montant": 9e307})]
                                     + lines[1:]})
    after = base.model_copy(update={"financements": [build_row(LigneFinancement, {**lines[0].raw, "montant": 9e307,
                                                                                   "financeur": other})] + lines[1:]})
    a, b = _write(before, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    code, _, err = _run(capsys, "comparer", a, b, "-o", out)
    assert code == 1 and "erreur interne" not in err, err
    assert openpyxl.load_workbook(out)[Feuille.TOTAUX]._charts


def test_amounts_past_excels_largest_number_are_refused_in_french(base, tmp_path, capsys):
    """Two lines of 9E+307 € add up past a float: the JSON said « Infinity » (no JSON) and -o stopped
    with « erreur interne inattendue (TypeError : NAN/INF not supported…) »: status 2, said why."""
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in base.financements]
    huge = base.model_copy(update={"financements": [build_row(LigneFinancement, {**lf.raw, "montant": 9e307})
                                                    for lf in lines[:2]] + lines[2:]})
    a, b = _write(base, tmp_path / "avant.xlsx"), _write(huge, tmp_path / "apres.xlsx")
    out = tmp_path / "ecarts.xlsx"
    for args in (("-o", out), ("--format", "json")):
        code, text, err = _run(capsys, "comparer", a, b, *args)
        assert code == 2 and text == "" and "erreur interne" not in err, err
        assert "comparaison impossible : des montants du plan" in " ".join(err.split())
    assert not out.exists()


def test_a_year_typed_out_of_range_reads_as_typed_never_as_a_python_float(base, tmp_path, capsys):
    """A year typed 3021 (FIN-04) is read as the number 3021.0: the changes said « Subvention ·
    3021.0 », an English decimal in a French report; a year 2021,5 said « 2021.5 »."""
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in base.financements]
    after = base.model_copy(update={"financements": [
        build_row(LigneFinancement, {**lines[0].raw, "annee": 3021.0}),
        build_row(LigneFinancement, {**lines[1].raw, "annee": 2021.5})] + lines[2:]})
    a, b = _write(base, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    code, text, _ = _run(capsys, "comparer", a, b)
    added = [line for line in text.splitlines() if "Ligne ajoutée" in line]
    assert code == 1 and len(added) == 2, text
    assert any(" · 3021 (" in line for line in added) and any(" · 2021,5 (" in line for line in added), added
    assert "3021.0" not in text and "2021.5" not in text


def test_a_long_value_changed_is_cut_in_the_text_never_in_the_json(base, tmp_path, capsys):
    """A title of 16 000 emoji changed was quoted whole, before and after, in one terminal line of
    128 kB; it is cut with « … » (never between an emoji's two halves), a note says where to read it
    whole, and the JSON keeps it whole."""
    long_before, long_after = "🏛" * 16_000, "🏛" * 15_999 + "🌳"  # 32 000 units: a full cell
    acts = list(base.actions)
    before = base.model_copy(update={"actions": [build_row(FicheAction, {**acts[0].raw, "intitule": long_before})]
                                     + acts[1:]})
    after = base.model_copy(update={"actions": [build_row(FicheAction, {**acts[0].raw, "intitule": long_after})]
                                    + acts[1:]})
    a, b = _write(before, tmp_path / "avant.xlsx"), _write(after, tmp_path / "apres.xlsx")
    code, text, err = _run(capsys, "comparer", a, b)
    assert code == 1, err
    line = next(t for t in text.splitlines() if "Intitulé" in t)
    assert len(line) < 600, len(line)
    assert "🏛" * 50 + "…" in line and "\ufffd" not in line
    assert "entières" in text and len(text) < 5_000, len(text)
    code, out, err = _run(capsys, "comparer", a, b, "--format", "json")
    changed = [c for c in json.loads(out)["changements"] if c.get("champ") == "Intitulé"]
    assert [(c["avant"], c["apres"]) for c in changed] == [(long_before, long_after)]


def test_the_ecarts_say_when_they_were_made_in_their_footer(base, tmp_path, capsys):
    """Every other output prints its date right of its footer; a printed comparison said nothing of
    when it was made (two printouts of the écarts, before and after a correction, read alike)."""
    from datetime import date

    from acv_xl.contract.values import fmt_date

    out = _ecarts_raised(base, tmp_path, capsys, {0: 1000})
    for ws in openpyxl.load_workbook(out).worksheets:
        assert ws.oddFooter.right.text == f"Générée le {fmt_date(date.today())}", ws.title


def test_an_ecart_of_cents_beside_one_of_thousands_keeps_its_cents(base, tmp_path, capsys):
    """A line raised by 0,40 € and another financeur's by 1 000 €: the labels were in whole euros (the
    largest écart is over 10 €), the 0,40 € bar labelled « 0 € », no change, where the table beside it
    says 0,40 €. A bar under 10 € has its cents; the axis, spanning 1 000 €, stays in whole euros."""
    import re

    fin = base.financements
    other = next(k for k, lf in enumerate(fin) if lf.financeur != fin[0].financeur)
    chart = _chart_xml(_ecarts_raised(base, tmp_path, capsys, {0: 0.4, other: 1000}))
    fmt = lambda part: re.search(r'<c:numFmt formatCode="([^"]+)"', part).group(1)  # noqa: E731
    assert "#,##0.00" in fmt(re.search(r"<c:dLbls>.*?</c:dLbls>", chart, re.S).group(0))
    assert "#,##0.00" not in fmt(re.search(r"<c:valAx>.*?</c:valAx>", chart, re.S).group(0))


def _avenant_of(signed: Path, out: Path) -> Path:
    """The validated copy's avenant: its first financing line and the cost of its action raised by
    25 000 € (still balanced, so that it can be validated in its turn)."""
    wb = openpyxl.load_workbook(signed)
    for sheet, cell in ((layout.Sheet.FINANCEMENT, "F4"), (layout.Sheet.ACTIONS, "M4")):
        wb[sheet][cell].value += 25_000
    wb.save(out)
    return out


def test_two_states_named_in_the_wrong_order_are_said_read_backwards(tmp_path, capsys):
    """`comparer avenant.xlsx signee.xlsx`, the working copy named first: every change read backwards
    (the amount raised « lowered »), status 1, not a word. The data after are the very data validated
    in the file before, modified since: said first, in the text and in the workbook of écarts. The
    same when the file before was validated after the other (a year later); never in the right order."""
    from test_since_validation import _validated

    signed = _validated(tmp_path)
    working = _avenant_of(signed, tmp_path / "avenant.xlsx")
    said = f"Attention : « {working.name} », donné pour l'état d'avant, est plus récent que « {signed.name} »"
    code, out, _ = _run(capsys, "comparer", working, signed, "-o", tmp_path / "ecarts.xlsx")
    assert code == 1 and said in out and "sont celles que" in out and "AVANT.xlsx APRES.xlsx" in out, out
    texts = [str(v) for ws in openpyxl.load_workbook(tmp_path / "ecarts.xlsx") for r in ws.iter_rows(values_only=True)
             for v in r if v is not None]
    assert any(t.startswith(said) for t in texts)
    code, out, _ = _run(capsys, "comparer", signed, working)
    assert code == 1 and "Attention" not in out

    # the avenant validated in its turn, the convention's copy a year earlier
    avenant = tmp_path / "avenant-valide.xlsx"
    assert main(["valider", str(working), "--annoter", str(avenant)]) == 0
    wb = openpyxl.load_workbook(signed)
    wb[layout.Sheet.ACCUEIL][layout.NAMED_BY_NAME["acv_date_validation"].cell].value = datetime.datetime(2025, 12, 5)
    wb.save(signed)
    capsys.readouterr()
    code, out, _ = _run(capsys, "comparer", avenant, signed)
    assert (f"« {avenant.name} », donné pour l'état d'avant, a été validé après « {signed.name} » (le "
            f"{date.today():%d/%m/%Y}, « {signed.name} » le 05/12/2025)") in out, out
    code, out, _ = _run(capsys, "comparer", signed, avenant)
    assert "(validé, validation du 05/12/2025)" in out and "Attention" not in out, out


def test_a_signed_copy_validated_again_without_change_is_not_said_the_later_state(tmp_path, capsys):
    """The signed convention (validated 05/12/2025), its avenant validated on 01/06/2026, then the
    signed copy opened and validated again, unchanged (the button clicked to read its Contrôles): its
    date is today's. `comparer signee.xlsx avenant.xlsx`, in the right order, was told « signee.xlsx …
    est plus récent que avenant.xlsx … les modifications sont alors lues à l'envers »; two copies of
    the same data read « lues à l'envers » too, next to « Aucun changement ». A later validation date
    may be such a validation again: the warning says it only makes the order doubtful, and nothing is
    said where nothing changed."""
    from test_since_validation import _validated

    def dated(path: Path, day: datetime.datetime) -> Path:
        wb = openpyxl.load_workbook(path)
        wb[layout.Sheet.ACCUEIL][layout.NAMED_BY_NAME["acv_date_validation"].cell].value = day
        wb.save(path)
        return path

    signed = dated(_validated(tmp_path), datetime.datetime(2025, 12, 5))
    avenant = tmp_path / "avenant-valide.xlsx"
    assert main(["valider", str(_avenant_of(signed, tmp_path / "avenant.xlsx")), "--annoter", str(avenant)]) == 0
    dated(avenant, datetime.datetime(2026, 6, 1))
    again = tmp_path / "signee-revalidee.xlsx"
    assert main(["valider", str(signed), "--annoter", str(again)]) == 0
    capsys.readouterr()
    code, out, _ = _run(capsys, "comparer", again, avenant)
    text = " ".join(out.split())
    assert code == 1 and "est plus récent" not in text, out
    assert (f"« {again.name} », donné pour l'état d'avant, a été validé après « {avenant.name} » (le "
            f"{date.today():%d/%m/%Y}, « {avenant.name} » le 01/06/2026) : s'il est l'état le plus récent, les "
            "modifications sont lues à l'envers ; s'il a seulement été validé de nouveau, sans modification, "
            "l'ordre est le bon.") in text, out
    # the same data validated on two days: no change, so nothing reads backwards
    code, out, _ = _run(capsys, "comparer", again, signed)
    assert code == 0 and "Attention" not in out and "mêmes données" in out, out
    out_annex = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(signed), "--depuis", str(again), "-o", str(out_annex)]) == 0
    err = capsys.readouterr().err
    assert "lues à l'envers" not in err and "mêmes données" in err, err


def test_the_wrong_order_warning_is_in_the_json_as_in_the_text(tmp_path, capsys):
    """`comparer avenant.xlsx signee.xlsx --format json`: the text opened on « Attention : … est plus
    récent que … », the JSON said nothing, and a script read every change backwards. The key
    `avertissements` is always there, with the text's warnings in its order and words."""
    from test_since_validation import _validated

    signed = _validated(tmp_path)
    working = _avenant_of(signed, tmp_path / "avenant.xlsx")
    code, out, _ = _run(capsys, "comparer", working, signed)
    text = out.splitlines()
    code_json, out_json, _ = _run(capsys, "comparer", working, signed, "--format", "json")
    warnings = json.loads(out_json)["avertissements"]
    assert code == code_json == 1 and len(warnings) == 1, out_json
    assert warnings[0].startswith(f"Attention : « {working.name} », donné pour l'état d'avant, est plus récent")
    assert warnings == [line for line in text if line.startswith("Attention")], out
    code, out, _ = _run(capsys, "comparer", signed, working, "--format", "json")
    assert code == 1 and json.loads(out)["avertissements"] == []


def test_the_amount_a_statut_change_moves_is_null_when_it_is_not_a_number():
    """docs/evolution.md: `montant` of a statut change is the line's amount after, or, passed to « Refusé »,
    the amount it counted for before; null when that amount is not a number (unreadable, empty, an error
    value), the change then said « Statut » alone."""
    from acv_xl.checks.comparison import Change, status_amount
    from acv_xl.contract.values import ExcelError
    from acv_xl.outputs.comparison_report import champ_text

    assert status_amount("Acquis", Decimal(100), Decimal(120)) == Decimal(120)
    assert status_amount(layout.STATUT_REFUSE, Decimal(100), Decimal(120)) == Decimal(100)
    assert status_amount("Acquis", Decimal(100), "beaucoup") is None
    assert status_amount(layout.STATUT_REFUSE, ExcelError("#REF!"), Decimal(120)) is None
    assert status_amount("Acquis", None, None) is None
    def change(montant):
        return Change("modification", "T_Financements", "Plan de financement", {}, "1.1", "Statut", "Sollicité",
                      "Acquis", montant=montant)
    assert champ_text(change(None)) == "Statut"
    assert champ_text(change(Decimal("120000"))) == "Statut (ligne de 120 000,00 €)"


def test_a_name_ending_with_a_space_is_shown_with_it_said(base, tmp_path, capsys):
    """« arras.xlsx␣ » (unzipped on Linux) was shown « Avant : …/arras.xlsx  » in the text and in the
    workbook of écarts: the space invisible, a name nobody finds under Windows. Said, as every other
    output says it (`shown_file`); the JSON's `fichier` keeps the name, which a script opens."""
    a = _write(base, tmp_path / "arras.xlsx ")
    b = _write(_shuffled(base, 5), tmp_path / "apres.xlsx")
    code, out, _ = _run(capsys, "comparer", a, b, "-o", tmp_path / "ecarts.xlsx")
    assert code == 0 and f"Avant : {a.parent / 'arras.xlsx'} (espace finale) (non validé)" in out, out
    line = openpyxl.load_workbook(tmp_path / "ecarts.xlsx").worksheets[0]["A2"].value
    assert line == f"Avant : {a.parent / 'arras.xlsx'} (espace finale) — après : {b}"
    code, out, _ = _run(capsys, "comparer", a, b, "--format", "json")
    assert json.loads(out)["avant"]["fichier"] == str(a)


def test_the_wrong_order_warning_says_the_space_ending_a_name(tmp_path, capsys):
    """« avenant.xlsx␣ » named first: « Attention : « avenant.xlsx  », donné pour l'état d'avant… » —
    the space invisible in the text, the workbook of écarts and the annex, a name nobody finds under
    Windows. Said (`shown_file`), as the « Avant : » line says it."""
    from test_since_validation import _validated

    signed = _validated(tmp_path)
    working = _avenant_of(signed, tmp_path / "avenant.xlsx ")
    code, out, _ = _run(capsys, "comparer", working, signed, "-o", tmp_path / "ecarts.xlsx")
    said = f"Attention : « avenant.xlsx (espace finale) », donné pour l'état d'avant, est plus récent que « {signed.name} »"
    assert code == 1 and said in out, out
    texts = [str(v) for ws in openpyxl.load_workbook(tmp_path / "ecarts.xlsx") for r in ws.iter_rows(values_only=True)
             for v in r if v is not None]
    assert any(t.startswith(said) for t in texts)
