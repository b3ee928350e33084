"""A référent's and a comité's use of the programme over time, on two versions of a shipped example
edited as communes edit them in Excel: lines added, amounts changed, statuts moving from
« Sollicité » to « Acquis », an action split in two, a financeur code corrected, rows re-sorted, a
line moved from one action to another, an action rescheduled and given to another maître
d'ouvrage. Every total avant / après / écart is computed here from the cells, independently of
acv-xl; then `comparer`, `annexe --depuis` and `historique` must say the same, miss nothing, and
list the changes by action."""

from __future__ import annotations

import datetime
import json
import re
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter, range_boundaries

from acv_xl.cli import main
from acv_xl.contract import layout
from acv_xl.outputs.annex import AnnexSheet
from acv_xl.outputs.examples import write_examples

F, A = layout.T_FINANCEMENTS, layout.T_ACTIONS
NAME = "boulogne-sur-mer.xlsx"


# ------------------------------------------------------------------ editing as in Excel
def _table(ws, name):
    rows = [[c.value for c in r] for r in ws[ws.tables[name].ref]]
    return rows[0], rows[1:]


def _write_table(ws, name, header, rows):
    t = ws.tables[name]
    c0, r0, c1, r1 = range_boundaries(t.ref)
    for i in range(max(len(rows), r1 - r0)):
        for j in range(len(header)):
            ws.cell(r0 + 1 + i, c0 + j).value = rows[i][j] if i < len(rows) else None
    t.ref = f"{get_column_letter(c0)}{r0}:{get_column_letter(c1)}{r0 + len(rows)}"  # the table grows, as in Excel
    if t.autoFilter is not None:
        t.autoFilter.ref = t.ref


def _avenant(src: Path, dst: Path) -> None:
    wb = openpyxl.load_workbook(src)
    ws = wb[F.sheet]
    h, rows = _table(ws, F.name)
    c = {attr: h.index(F.header(attr)) for attr in ("numero", "financeur", "dispositif", "annee", "montant", "statut")}

    def find(numero, financeur, dispositif, annee):
        return next(r for r in rows if (r[c["numero"]], r[c["financeur"]], r[c["dispositif"]], r[c["annee"]])
                    == (numero, financeur, dispositif, annee))

    find("3.1", "FEDER", "FEDER", 2026)[c["financeur"]] = "UE"  # the code CON-05 asks to correct
    drac = find("5.1", "ETAT", "DRAC", 2025)
    drac[c["statut"]], drac[c["montant"]] = "Acquis", 550_000  # granted, a little less
    find("5.1", "DEPT", "Aide aux projets des territoires", 2026)[c["statut"]] = "Acquis"
    find("5.1", "ETAT", "DSIL", 2026)[c["statut"]] = layout.STATUT_REFUSE  # refused: counts no more
    find("2.1", "ETAT", "DSIL", 2024)[c["montant"]] = 480_000
    # 2.2 split in two: its REGION grant and CDC loan now the new action 2.3's
    find("2.2", "REGION", "Redynamisation des centres-villes", 2024)[c["numero"]] = "2.3"
    find("2.2", "CDC", "PRU ACV", 2024)[c["numero"]] = "2.3"
    find("4.1", "CDC", "PRU ACV", 2025)[c["numero"]] = "3.1"  # a line moved to another action
    blank = [None] * len(h)
    for numero, financeur, dispositif, annee, montant in (("5.1", "REGION", "Aménagement du territoire", 2026, 200_000),
                                                          ("1.1", "ANAH", "OPAH-RU", 2026, 100_000)):
        new = list(blank)
        for attr, v in (("numero", numero), ("financeur", financeur), ("dispositif", dispositif), ("annee", annee),
                        ("montant", montant), ("statut", "Sollicité")):
            new[c[attr]] = v
        new[h.index(F.header("nature"))] = "Subvention"
        rows.append(new)
    rows.sort(key=lambda r: (str(r[c["financeur"]]), str(r[c["numero"]]), r[c["annee"]]))  # re-sorted by financeur
    _write_table(ws, F.name, h, rows)

    wa = wb[A.sheet]
    ha, acts = _table(wa, A.name)
    cost, sub = ha.index(A.header("cout_total")), ha.index(A.header("depense_subventionnable"))
    act = {a[0]: a for a in acts}
    a23 = list(act["2.2"])
    a23[0], a23[1] = "2.3", "Portage des cellules commerciales par la foncière"
    a23[cost] = a23[sub] = 1_040_000
    act["2.2"][cost] = act["2.2"][sub] = 1_560_000
    act["2.2"][ha.index(A.header("date_fin"))] = datetime.datetime(2027, 6, 30)  # rescheduled
    acts.insert(acts.index(act["2.2"]) + 1, a23)
    for numero, delta in (("3.1", 318_000), ("4.1", -318_000)):  # the moved line's cost follows it
        act[numero][cost] += delta
        act[numero][sub] += delta
    act["4.1"][ha.index(A.header("maitre_ouvrage"))] = "Communauté d'agglomération du Boulonnais"
    _write_table(wa, A.name, ha, acts)
    wb.save(dst)


# ------------------------------------------------------------------ totals, independently
def _totals(path: Path) -> dict:
    wb = openpyxl.load_workbook(path)
    h, rows = _table(wb[F.sheet], F.name)
    ha, acts = _table(wb[A.sheet], A.name)
    cost, mat = ha.index(A.header("cout_total")), ha.index(A.header("maturite"))
    axe = {a[0]: re.sub(r"\D", "", str(a[ha.index(A.header("axe"))])) for a in acts}
    out: dict = {"cout_total": sum(Decimal(str(a[cost])) for a in acts
                                   if isinstance(a[cost], (int, float)) and a[mat] != "Abandonnée"),
                 "financement_total": Decimal(0)}
    for g in ("par_financeur", "par_axe", "par_annee", "par_statut"):
        out[g] = defaultdict(Decimal)
    col = {attr: h.index(F.header(attr)) for attr in ("numero", "financeur", "annee", "montant", "statut")}
    for r in rows:
        m = r[col["montant"]]
        if not isinstance(m, (int, float)) or r[col["statut"]] == layout.STATUT_REFUSE:
            continue  # a text amount (« 318 000 € » in this example) counts nowhere
        m = Decimal(str(m))
        out["financement_total"] += m
        for g, key in (("par_financeur", r[col["financeur"]]), ("par_axe", axe[r[col["numero"]]]),
                       ("par_annee", r[col["annee"]]), ("par_statut", r[col["statut"]])):
            out[g][str(key)] += m
    return out


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("avenant")
    paths = write_examples(root / "exemples")
    avant = root / "exemples" / NAME
    apres = root / "avenant.xlsx"
    _avenant(avant, apres)
    assert [p.name for p in paths].count(NAME) == 1
    return root, avant, apres


def _natural(n) -> tuple:
    return tuple(int(p) for p in str(n).split("."))


def test_comparer_totals_are_those_of_the_cells_and_nothing_moved_is_missed(versions, capsys):
    _root, avant, apres = versions
    assert main(["comparer", str(avant), str(apres), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    ta, tb, got = _totals(avant), _totals(apres), data["totaux"]
    for k in ("cout_total", "financement_total"):
        assert got[k] == {"avant": float(ta[k]), "apres": float(tb[k]), "ecart": float(tb[k] - ta[k])}, k
    for g in ("par_financeur", "par_axe", "par_annee", "par_statut"):
        keys = set(ta[g]) | set(tb[g])
        assert set(got[g]) == keys, g
        for key in keys:
            a, b = ta[g].get(key, Decimal(0)), tb[g].get(key, Decimal(0))
            assert got[g][key] == {"avant": float(a), "apres": float(b), "ecart": float(b - a)}, (g, key)
    # the workbook of écarts says the same
    ecarts = avant.parent.parent / "ecarts.xlsx"
    assert main(["comparer", str(avant), str(apres), "-o", str(ecarts), "--remplacer"]) == 1
    capsys.readouterr()
    wb = openpyxl.load_workbook(ecarts)
    # its changes by sheet, then by action, as the text report groups them
    listed = [(r[1], r[2]) for r in wb["Changements"].iter_rows(min_row=5, values_only=True) if r[1]]
    order = {s: i for i, s in enumerate(layout.SHEETS)}
    assert len(listed) == len(data["changements"])
    assert listed == sorted(listed, key=lambda x: (order[x[0]], _natural(x[1]) if x[1] else ()))
    sheet = {r[0]: r[1:4] for r in wb["Totaux"].iter_rows(values_only=True) if r[0]}
    labels = {"par_financeur": "Financeur", "par_axe": "Axe", "par_annee": "Année", "par_statut": "Statut"}
    for g, word in labels.items():
        rows = {label.split(" — ")[0].removeprefix(f"{word} "): v for label, v in sheet.items()
                if label.startswith(f"{word} ") and v[0] != "Avant"}
        assert set(rows) == set(ta[g]) | set(tb[g]), g
        for key, (a, b, e) in rows.items():
            assert (a, b, e) == (float(ta[g].get(key, 0)), float(tb[g].get(key, 0)),
                                 float(tb[g].get(key, 0) - ta[g].get(key, 0))), (g, key)
    for label, k in (("Coût total des actions", "cout_total"), ("Total des financements", "financement_total")):
        assert sheet[label] == (float(ta[k]), float(tb[k]), float(tb[k] - ta[k])), label
    # re-sorting the rows is no change; each edit is one
    changes = sorted((c["type"], c["table"], c["action"], c["champ"] or "", c["cle"].get(F.header("financeur"), ""))
                     for c in data["changements"])
    ajout, supp, modif = "ajout", "suppression", "modification"
    assert changes == sorted([
        (modif, A.name, "2.2", A.header("date_fin"), ""),
        (modif, A.name, "2.2", A.header("cout_total"), ""), (modif, A.name, "2.2", A.header("depense_subventionnable"), ""),
        (ajout, A.name, "2.3", "", ""),
        (modif, A.name, "3.1", A.header("cout_total"), ""), (modif, A.name, "3.1", A.header("depense_subventionnable"), ""),
        (modif, A.name, "4.1", A.header("cout_total"), ""), (modif, A.name, "4.1", A.header("depense_subventionnable"), ""),
        (modif, A.name, "4.1", A.header("maitre_ouvrage"), ""),
        (ajout, F.name, "1.1", "", "ANAH"), (modif, F.name, "2.1", F.header("montant"), "ETAT"),
        (supp, F.name, "2.2", "", "REGION"), (supp, F.name, "2.2", "", "CDC"),
        (ajout, F.name, "2.3", "", "REGION"), (ajout, F.name, "2.3", "", "CDC"),
        (supp, F.name, "3.1", "", "FEDER"), (ajout, F.name, "3.1", "", "UE"), (ajout, F.name, "3.1", "", "CDC"),
        (supp, F.name, "4.1", "", "CDC"),
        (modif, F.name, "5.1", F.header("montant"), "ETAT"), (modif, F.name, "5.1", F.header("statut"), "ETAT"),
        (modif, F.name, "5.1", F.header("statut"), "DEPT"), (ajout, F.name, "5.1", "", "REGION"),
        (modif, F.name, "5.1", F.header("statut"), "ETAT"),
    ])


def test_the_avenant_annex_adds_up_and_reads_action_by_action(versions, capsys):
    """The annex listed the financing lines in the comparison's order — those changed or removed in
    the order of the workbook before, then the added ones in the order of the workbook after (here
    re-sorted by financeur): 2.3's lines, the new half of a split action, came after 5.1's, far from
    2.2's removed ones. Both lists now read by action, as `comparer` groups them."""
    root, avant, apres = versions
    out = root / "annexe.xlsx"
    assert main(["annexe", str(apres), "--depuis", str(avant), "-o", str(out), "--brouillon", "--remplacer"]) == 0
    rows = list(openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS].iter_rows(values_only=True))
    ta, tb = _totals(avant), _totals(apres)
    title = [r[0] for r in rows]
    cout = rows[title.index("Coût total des actions")]
    fin = rows[title.index("Total des financements")]
    assert (cout[4], cout[5], cout[6]) == (float(ta["cout_total"]), float(tb["cout_total"]), 0)
    assert (fin[4], fin[5], fin[6]) == (float(ta["financement_total"]), float(tb["financement_total"]), -213_000)
    for code in set(ta["par_financeur"]) | set(tb["par_financeur"]):
        r = rows[title.index(code)]
        a, b = ta["par_financeur"].get(code, Decimal(0)), tb["par_financeur"].get(code, Decimal(0))
        assert (r[4], r[5], r[6]) == (float(a), float(b), float(b - a)), code
    # the actions: their écarts add up to the cost's, in the order of their numbers
    actions = [r for r in rows if r[3] in ("Ajoutée", "Supprimée", "Coût modifié", "Abandonnée")]
    assert [(r[0], r[3], r[6]) for r in actions] == [("2.2", "Coût modifié", -1_040_000), ("2.3", "Ajoutée", 1_040_000),
                                                     ("3.1", "Coût modifié", 318_000), ("4.1", "Coût modifié", -318_000)]
    # the other changes of the actions: the rescheduling and the new maître d'ouvrage
    others = {(r[0], r[2]): (r[4], r[6]) for r in rows if r[2] in (A.header("date_fin"), A.header("maitre_ouvrage"))}
    assert others[("2.2", A.header("date_fin"))][1] == datetime.datetime(2027, 6, 30)
    assert others[("4.1", A.header("maitre_ouvrage"))] == ("Ville de Boulogne-sur-Mer",
                                                           "Communauté d'agglomération du Boulonnais")
    # the financing lines: by action; their amounts add up to the financing's écart
    lines = [r for r in rows if r[5] == F.header("montant")
             or str(r[5]).startswith((f"{F.header('statut')}\n", "Ligne ajoutée (", "Ligne supprimée ("))]
    assert [r[5] for r in lines if r[0] == "2.3"] == ["Ligne ajoutée (Acquis)"] * 2  # each with its statut
    assert [_natural(r[0]) for r in lines] == sorted(_natural(r[0]) for r in lines)
    moved = sum((r[7] or 0) - (r[6] or 0) for r in lines if not r[5].startswith(F.header("statut")))
    refused = next(r for r in lines if r[7] == layout.STATUT_REFUSE)
    assert (refused[0], refused[1], refused[2], refused[6]) == ("5.1", "ETAT", "DSIL", "Sollicité")
    assert refused[5] == f"{F.header('statut')}\n(ligne de\n506 000,00 €)"  # what it takes out of the totals, said
    assert moved - 506_000 == fin[6]  # the line refused, 506 000 €, counts no more
    assert len(lines) == 15


def test_historique_of_the_two_comites_counts_only_what_was_obtained(versions):
    """Two consolidations of the département, the avenant between them: the movements add up to the
    change of the total (a line refused included), each financeur's écart is its cells' own, and the
    « engagements obtenus » are the two lines granted (5.1's DRAC and DEPT), never the lines moved to
    another action."""
    root, avant, apres = versions
    d1, d2 = root / "d1", root / "d2"
    shutil.copytree(avant.parent, d1)
    shutil.copytree(avant.parent, d2)
    shutil.copy2(apres, d2 / NAME)
    reg = root / "r.sqlite"
    for k, d in enumerate((d1, d2), start=1):
        assert main(["consolider", str(d), "-o", str(root / f"c{k}.xlsx"), "--registre", str(reg), "--jobs", "1",
                     "--remplacer"]) in (0, 1)
    evo = root / "e.xlsx"
    assert main(["historique", str(reg), "-o", str(evo), "--remplacer"]) == 0
    mv = pd.read_excel(evo, sheet_name="Mouvements", header=2, engine="openpyxl", dtype=object)
    mv = mv[mv["Mouvement"].notna()]
    ta, tb = _totals(avant), _totals(apres)
    assert round(sum(float(e) for e in mv["Écart (€)"].dropna()), 2) == float(tb["financement_total"] - ta["financement_total"])
    pf = pd.read_excel(evo, sheet_name="Mouvements par financeur", header=2, engine="openpyxl", dtype=object)
    pf = pf[pf["Financeur"].notna()].set_index("Financeur")
    inconnu = "code inconnu"
    for code in set(ta["par_financeur"]) | set(tb["par_financeur"]):
        group = code if code in layout.FINANCEURS_BY_CODE else inconnu
        a, b = ta["par_financeur"].get(code, Decimal(0)), tb["par_financeur"].get(code, Decimal(0))
        assert float(pf.loc[group, "Écart (€)"]) == float(b - a), code
    obtenus = {f: float(v) for f, v in pf["Engagements obtenus (€)"].items() if float(v)}
    assert obtenus == {"ETAT": 550_000.0, "DEPT": 230_000.0}
    nouvelles = {f: int(v) for f, v in pf["Nouvelles lignes"].items() if int(v)}
    assert nouvelles == {"ANAH": 1, "REGION": 1}


def _commune_edits(src: Path, dst: Path) -> None:
    """A validated workbook edited afterwards: a grant obtained, an amount lowered, a line moved to
    another action (its cost following it), a line added, the rows re-sorted."""
    wb = openpyxl.load_workbook(src)
    ws = wb[F.sheet]
    h, rows = _table(ws, F.name)
    c = {attr: h.index(F.header(attr)) for attr in ("numero", "financeur", "montant", "statut")}
    sollicite = next(r for r in rows if r[c["statut"]] == "Sollicité")
    sollicite[c["statut"]] = "Acquis"
    lowered = next(r for r in rows if r[c["statut"]] == "Engagé")
    lowered[c["montant"]] -= 26_000
    numeros = sorted({r[c["numero"]] for r in rows}, key=_natural)
    moved = next(r for r in rows if r[c["numero"]] == numeros[-2] and r[c["statut"]] != layout.STATUT_REFUSE)
    moved[c["numero"]] = numeros[-1]
    new = list(rows[0])
    new[c["montant"]], new[c["statut"]] = 10_000, "Sollicité"
    new[h.index(F.header("annee"))] = 2026
    rows.append(new)
    rows.reverse()
    _write_table(ws, F.name, h, rows)
    wa = wb[A.sheet]
    ha, acts = _table(wa, A.name)
    cost = ha.index(A.header("cout_total"))
    for a in acts:
        a[cost] += {numeros[-2]: -moved[c["montant"]], numeros[-1]: moved[c["montant"]]}.get(a[0], 0)
    _write_table(wa, A.name, ha, acts)
    wb.save(dst)


def test_valider_says_what_changed_since_the_validation_with_the_totals_of_the_cells(versions, capsys):
    root, _avant, _apres = versions
    source = next(p for p in (root / "exemples").iterdir() if p.name != NAME and main(["valider", str(p)]) == 0)
    capsys.readouterr()
    valide, modifie = root / "valide.xlsx", root / "modifie.xlsx"
    assert main(["valider", str(source), "--annoter", str(valide), "--remplacer"]) == 0
    _commune_edits(valide, modifie)
    capsys.readouterr()
    main(["valider", str(modifie)])
    text = capsys.readouterr().out
    since = text[text.index("Modifié depuis la validation"):]
    assert "Total des financements" in since and "Statut Acquis" in since
    # a removed line's cells are where it was at the validation: another line is there now
    removed = next(x for x in since.splitlines() if "Ligne supprimée" in x)
    assert re.search(r"Ligne supprimée \(auparavant A\d+:J\d+\) : ", removed), removed
    ta, tb = _totals(valide), _totals(modifie)
    fmt = lambda d: f"{d:,.2f}".replace(",", "\u202f").replace(".", ",").replace("\u202f", " ") + " €"  # noqa: E731
    for k, label in (("financement_total", "Total des financements"), ("cout_total", "Coût total des actions")):
        if ta[k] != tb[k]:
            assert f"{label} : {fmt(ta[k])} → {fmt(tb[k])}" in since.replace("\u202f", " "), label
    for g, word in (("par_statut", "Statut"), ("par_financeur", "Financeur")):
        for key in set(ta[g]) | set(tb[g]):
            a, b = ta[g].get(key, Decimal(0)), tb[g].get(key, Decimal(0))
            line = next((x for x in since.splitlines() if x.strip().startswith(f"{word} {key}")), None)
            assert (line is not None) == (a != b), (g, key)
            if line:
                assert f"{fmt(a)} → {fmt(b)}" in line.replace("\u202f", " "), line
    assert main(["valider", str(modifie), "--format", "json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    report = report["fichiers"][0] if "fichiers" in report else report[0] if isinstance(report, list) else report
    kinds = sorted((c["type"], c["table"] or "") for c in report["depuis_validation"])
    assert kinds.count(("modification", F.name)) == 2 and kinds.count(("ajout", F.name)) == 2
    assert kinds.count(("suppression", F.name)) == 1
