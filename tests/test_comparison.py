"""The change model (`checks.comparison`): rows matched by key, typed values, one change per changed
column, totals' écarts equal to the difference of the two `valider` totals.

The property tests work on the clean in-memory convention of `conventions.py` (fast enough for
hypothesis); `test_comparer.py` runs the same ideas through real workbooks and the command line.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acv_xl.checks.comparison import AJOUT, MODIFICATION, SUPPRESSION, compare
from acv_xl.checks.validate import validate_convention
from acv_xl.contract import layout
from acv_xl.outputs.report import to_json

from conventions import build, clean_raw

F = layout.T_FINANCEMENTS
A = layout.T_ACTIONS


def _valider_totaux(conv) -> dict:
    return to_json(validate_convention(conv, "x.xlsx"))["totaux"]


def _assert_ecarts_are_valider_differences(comp, before, after) -> None:
    ta, tb = _valider_totaux(before), _valider_totaux(after)
    got = comp.totaux_json()
    assert got["cout_total"] == {"avant": ta["cout_total"], "apres": tb["cout_total"],
                                 "ecart": round(tb["cout_total"] - ta["cout_total"], 2)}
    for g in ("par_financeur", "par_axe", "par_annee", "par_statut"):
        keys = set(ta[g]) | set(tb[g])
        assert set(got[g]) == keys
        for k in keys:
            a, b = ta[g].get(k, 0.0), tb[g].get(k, 0.0)
            assert got[g][k]["avant"] == a and got[g][k]["apres"] == b
            assert Decimal(str(got[g][k]["ecart"])) == Decimal(str(b)) - Decimal(str(a)), (g, k)


# ------------------------------------------------------------------------------ examples
def test_identical_conventions_have_no_change():
    raw = clean_raw()
    comp = compare(build(raw), build(copy.deepcopy(raw)))
    assert comp.changes == []
    assert all(e.ecart == 0 for g in comp.groups.values() for e in g.values())


def test_one_amount_is_one_modification_with_both_cells():
    raw = clean_raw()
    after = copy.deepcopy(raw)
    line = after["T_Financements"][0]
    line["montant"] = float(line["montant"]) + 100_000
    # the same line moved to the end: matched by key, not by position
    after["T_Financements"].append(after["T_Financements"].pop(0))
    before_conv, after_conv = build(raw), build(after)
    comp = compare(before_conv, after_conv)
    assert [(c.type, c.table, c.champ) for c in comp.changes] == [(MODIFICATION, F.name, F.header("montant"))]
    c = comp.changes[0]
    assert c.avant == Decimal(str(raw["T_Financements"][0]["montant"])).quantize(Decimal("0.01"))
    assert c.apres - c.avant == 100_000
    assert c.cellule_avant != c.cellule_apres and c.cellule_avant[0] == c.cellule_apres[0] == "F"
    assert c.action == line["numero"]
    assert c.cle == {F.header("numero"): line["numero"], F.header("financeur"): line["financeur"],
                     F.header("dispositif"): line["dispositif"], F.header("nature"): line["nature"],
                     F.header("annee"): int(line["annee"])}
    assert comp.moved("par_financeur") == {line["financeur"]: comp.groups["par_financeur"][line["financeur"]]}
    _assert_ecarts_are_valider_differences(comp, before_conv, after_conv)


def test_values_are_compared_as_typed_values():
    raw = clean_raw()
    after = copy.deepcopy(raw)
    amount = int(raw["T_Financements"][0]["montant"])
    raw["T_Financements"][0]["montant"] = float(amount)
    after["T_Financements"][0]["montant"] = f"{amount:,}".replace(",", " ")  # typed as text: same amount
    assert compare(build(raw), build(after)).changes == []

    after = copy.deepcopy(raw)
    after["T_Actions"][0]["date_debut"] = raw["T_Actions"][0]["date_debut"].strftime("%d/%m/%Y")  # its text
    comp = compare(build(raw), build(after))
    assert [(c.type, c.champ) for c in comp.changes] == [(MODIFICATION, A.header("date_debut"))]
    assert isinstance(comp.changes[0].avant, date) and isinstance(comp.changes[0].apres, str)


def test_lines_sharing_a_key_are_paired_in_order_and_resorting_them_is_no_change():
    raw = clean_raw()
    twin = copy.deepcopy(raw["T_Financements"][0])
    twin["montant"] = 1234.5
    raw["T_Financements"].insert(1, twin)  # two tranches of the same key
    after = copy.deepcopy(raw)
    after["T_Financements"][0], after["T_Financements"][1] = after["T_Financements"][1], after["T_Financements"][0]
    assert compare(build(raw), build(after)).changes == []
    after["T_Financements"][0]["montant"] = 2000  # the first of the pair (in order) changes
    comp = compare(build(raw), build(after))
    assert [(c.type, c.champ, c.avant, c.apres) for c in comp.changes] == \
        [(MODIFICATION, F.header("montant"), Decimal("1234.50"), Decimal("2000.00"))]


def test_named_cells_by_name_and_validation_status_left_out():
    raw = clean_raw()
    after = copy.deepcopy(raw)
    after["names"]["acv_libelle"] = "Arras — avenant n° 1"
    after["names"]["acv_statut"] = "Validé"  # written by Valider: not a change of the convention
    comp = compare(build(raw), build(after))
    assert [(c.type, c.table, c.cle, c.champ) for c in comp.changes] == \
        [(MODIFICATION, None, {"nom": "acv_libelle"}, layout.NAMED_BY_NAME["acv_libelle"].label)]
    assert comp.changes[0].cellule_avant == comp.changes[0].cellule_apres == layout.NAMED_BY_NAME["acv_libelle"].cell


def test_added_and_removed_rows_are_one_change_each_with_their_row():
    raw = clean_raw()
    after = copy.deepcopy(raw)
    gone = after["T_Financements"].pop(2)
    new = dict(copy.deepcopy(raw["T_Financements"][0]), annee=2026, montant=5000, statut="Sollicité")
    after["T_Financements"].append(new)
    comp = compare(build(raw), build(after))
    assert sorted(c.type for c in comp.changes) == [AJOUT, SUPPRESSION]
    added = next(c for c in comp.changes if c.type == AJOUT)
    removed = next(c for c in comp.changes if c.type == SUPPRESSION)
    assert added.apres[F.header("montant")] == Decimal("5000.00") and added.avant is None
    assert added.cellule_apres.count(":") == 1 and added.cellule_avant == ""
    assert removed.cle[F.header("financeur")] == gone["financeur"] and removed.apres is None
    assert removed.cellule_avant and removed.cellule_apres == ""


# ------------------------------------------------------------------------------ properties
def _shuffled(raw: dict, seed: int) -> dict:
    out = copy.deepcopy(raw)
    rnd = random.Random(seed)
    for name in layout.COMPARISON_KEYS:
        if name in out:
            rnd.shuffle(out[name])
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10**6))
def test_a_copy_with_shuffled_rows_has_no_change(seed):
    raw = clean_raw()
    before, after = build(raw), build(_shuffled(raw, seed))
    comp = compare(before, after)
    assert comp.changes == []
    _assert_ecarts_are_valider_differences(comp, before, after)


EDITS = st.lists(st.one_of(
    st.tuples(st.just("montant"), st.integers(0, 30), st.integers(1, 500_000)),
    st.tuples(st.just("statut"), st.integers(0, 30), st.sampled_from(layout.L.STATUT)),
    st.tuples(st.just("ajout_ligne"), st.integers(0, 30), st.integers(2027, 2035)),
    st.tuples(st.just("suppression_ligne"), st.integers(0, 30), st.just(0)),
    st.tuples(st.just("ajout_action"), st.integers(0, 30), st.integers(1, 5)),
), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EDITS, st.integers(min_value=0, max_value=10**6))
def test_random_edits_give_exactly_those_changes(edits, seed):
    raw = clean_raw()
    after = copy.deepcopy(raw)
    lines = after["T_Financements"]
    # each original line remembers what happened to it: (key, index among its key) → final state
    expected: Counter = Counter()
    removed: set[int] = set()
    added_lines: list[dict] = []
    added_actions: list[str] = []
    touched: dict[int, dict] = {}
    for kind, i, value in edits:
        alive = [k for k in range(len(lines)) if k not in removed]
        if kind in ("montant", "statut", "suppression_ligne") and not alive:
            continue
        k = alive[i % len(alive)] if alive else None
        if kind == "montant":
            lines[k]["montant"] = float(Decimal(str(lines[k]["montant"])) + value)
            touched.setdefault(k, {})["montant"] = True
        elif kind == "statut":
            lines[k]["statut"] = value
            touched.setdefault(k, {})["statut"] = True
        elif kind == "suppression_ligne":
            removed.add(k)
        elif kind == "ajout_ligne":
            src = raw["T_Financements"][i % len(raw["T_Financements"])]
            # a year no original line has: a key of its own, so the change is an ajout
            added_lines.append(dict(copy.deepcopy(src), annee=value + 100 * len(added_lines), montant=1000 + i))
        elif kind == "ajout_action":
            numero = f"{value}.{90 + len(added_actions)}"
            action = dict(copy.deepcopy(raw["T_Actions"][0]), numero=numero, axe=f"Axe {value}", cout_total=10_000 + i)
            after["T_Actions"].append(action)
            added_actions.append(numero)
    for k, fields in touched.items():
        if k in removed:
            continue
        for f in fields:
            old, new = raw["T_Financements"][k][f], lines[k][f]
            if (Decimal(str(old)) != Decimal(str(new))) if f == "montant" else old != new:
                expected[(MODIFICATION, F.name, F.header(f), raw["T_Financements"][k]["numero"])] += 1
    for k in removed:
        expected[(SUPPRESSION, F.name, None, raw["T_Financements"][k]["numero"])] += 1
    for line in added_lines:
        expected[(AJOUT, F.name, None, line["numero"])] += 1
    for n in added_actions:
        expected[(AJOUT, A.name, None, n)] += 1
    after["T_Financements"] = [line for k, line in enumerate(lines) if k not in removed] + added_lines
    after = _shuffled(after, seed)

    before_conv, after_conv = build(raw), build(after)
    comp = compare(before_conv, after_conv)
    assert Counter((c.type, c.table, c.champ, c.action) for c in comp.changes) == expected
    _assert_ecarts_are_valider_differences(comp, before_conv, after_conv)


def test_every_compared_table_has_its_key_columns_in_the_contract():
    for name, attrs in layout.COMPARISON_KEYS.items():
        table = layout.TABLES_BY_NAME[name]
        assert all(table.column(a) for a in attrs)
    assert set(layout.COMPARISON_KEYS) == {t.name for t in layout.TABLES if t.user_filled}
    for name in ("T_Financeurs", "T_Dispositifs", "T_Gouvernance"):  # « their first two columns »
        table = layout.TABLES_BY_NAME[name]
        assert layout.COMPARISON_KEYS[name] == tuple(c.attr for c in table.columns[:2])
