"""Property: whatever a user types in any cell, the rules never crash (no STR-00), every finding
names a registered code, a sheet of the workbook and a real cell, and the reports render."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from acv_xl.contract import layout
from acv_xl.contract.model import ROW_MODELS
from acv_xl.outputs.report import render_text, to_json
from acv_xl.checks.rules import REGISTRY
from acv_xl.checks.validate import validate_convention
from acv_xl.contract.values import ExcelError, NoCachedValue

from conventions import build, clean_raw

CELLS = [("names", None, n.name) for n in layout.NAMED_CELLS] + [
    (name, i, c.attr) for name in ROW_MODELS for c in layout.TABLES_BY_NAME[name].columns for i in range(2)]

values = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", " ", "0", "-1", "1 000 €", "12,5", "Axe 3", "ETAT", "DETR", "Refusé", "Oui", "S1", "1.1",
                     "2.1", "Commune", "ANRU", "31/02/2024", "2024", "FCTVA", "E1", "O1", "Étude", "ORT"]),
    st.sampled_from([0, 0.0, -0.01, 0.001, 1e15, 2022, 2027, 1, 5, 6]),
    st.integers(min_value=-10**6, max_value=10**9),
    st.floats(min_value=-1e9, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)),
    st.booleans(),
    st.sampled_from([ExcelError("#REF!"), ExcelError("#N/A"), NoCachedValue("=A1")]),
)


def changed(changes) -> dict:
    """The clean convention's raw data with `changes` ((table, index, attr), value) applied."""
    raw = clean_raw()
    for (table, index, attr), value in changes:
        if table == "names":
            raw["names"][attr] = value
        elif index < len(raw[table]):
            raw[table][index][attr] = value
    return raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(CELLS), values), min_size=1, max_size=8))
@example([(("T_Actions", 0, "depense_subventionnable"), 0)])  # found by hypothesis: a division by zero
@example([(("T_Actions", 1, "cout_total"), 0), (("T_Actions", 1, "depense_subventionnable"), 0)])
@example([(("names", None, "acv_version_modele"), "None")])  # found by hypothesis: the typed word quoted back
def test_rules_never_crash_and_findings_are_well_formed(changes):
    raw = changed(changes)
    report = validate_convention(build(raw), "x.xlsx")
    for f in report.findings:
        assert f.code != "STR-00", f.message
        assert f.code in REGISTRY
        assert f.feuille in layout.SHEETS
        assert re.fullmatch(r"[A-Z]{1,3}\d+", f.cellule), f
        assert f.message.strip()
        # Python's None never reaches a message — unless the user typed the word (quoted back)
        assert "None" not in f.message or any("None" in str(v) for _, v in changes), f.message
    json.dumps(to_json(report), ensure_ascii=False)
    render_text([report], Console(file=io.StringIO(), width=100))


HEADERS = [(name, c.attr) for name in ROW_MODELS for c in layout.TABLES_BY_NAME[name].columns]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(HEADERS), max_size=4), st.lists(st.sampled_from(list(ROW_MODELS)), max_size=2),
       st.lists(st.sampled_from([n.name for n in layout.NAMED_CELLS]), max_size=3),
       st.lists(st.tuples(st.sampled_from(CELLS), values), max_size=4))
def test_rules_never_crash_on_a_damaged_structure(headers, tables, names, changes):
    from acv_xl.contract.model import MissingHeader

    raw = changed(changes)
    for table, attr in headers:
        for row in raw[table]:
            row.pop(attr, None)
    for name in names:
        raw["names"].pop(name, None)
    conv = build(raw)
    for table, attr in headers:
        t = layout.TABLES_BY_NAME[table]
        conv.structure.missing_headers.append(MissingHeader(table=table, header=t.header(attr), sheet=t.sheet, cell="A3"))
    for table in tables:
        conv.structure.missing_tables.append(table)
        setattr(conv, ROW_MODELS[table][1], [])
    conv.structure.missing_names.extend(names)
    report = validate_convention(conv, "x.xlsx")
    assert not [f for f in report.findings if f.code == "STR-00"]
    json.dumps(to_json(report), ensure_ascii=False)


blankish = st.sampled_from([None, "", " ", "\t ", ExcelError(" "), NoCachedValue(""), NoCachedValue("  "), " x", 0, False,
                            ExcelError("#REF!"), "a" * 40_000, " " * 40_000, "b" * 20_000, "1.1", "1.2", " 1.1 "])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=st.sampled_from(sorted(ROW_MODELS)), data=st.data())
def test_the_index_keeps_the_rows_a_plain_walk_keeps(table, data):
    """`Index.rows` (the non-empty rows every rule reads, its first cell deciding at once when
    filled) and STR-10 (a quick pass over every raw value first) judge as the plain walks do."""
    from acv_xl.checks.rules import Index
    from acv_xl.checks.rules.structure import texte_trop_long
    from acv_xl.contract.values import EXCEL_CELL_CHARS

    t = layout.TABLES_BY_NAME[table]
    raw = clean_raw()
    attrs = [c.attr for c in t.columns]
    raw[table] = data.draw(st.lists(st.fixed_dictionaries({a: blankish for a in attrs}), max_size=8))
    conv = build(raw)
    lines = conv.rows(table)
    index = Index(conv)
    assert index.rows(t) == [x for x in lines if not x.is_empty()]
    assert index.with_problems(t) == [x for x in lines if not x.is_empty() and x.problems]
    from acv_xl.outputs.consolidation import _filled  # a consolidation's summary walks them too

    assert _filled(lines, attrs[0]) == [x for x in lines if not x.is_empty()]
    if t is layout.T_FINANCEMENTS:  # each action's lines, as one walk over the non-empty lines finds them
        walk: dict = {}
        for lf in index.rows(t):
            walk.setdefault(lf.numero, []).append(lf)
        assert list(walk) == list(index._lines_by_action) and all(index.lines_of(k) == v for k, v in walk.items())
    long_texts = [x.cell(a) for x in lines for a, v in x.raw.items() if isinstance(v, str) and len(v) > EXCEL_CELL_CHARS]
    assert [f.cellule for f in texte_trop_long(conv)] == long_texts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.fixed_dictionaries({
    "numero": st.sampled_from(["1.1", "1.2"]), "financeur": st.sampled_from(["ETAT", "CDC"]),
    "dispositif": st.sampled_from(["DSIL", None]), "annee": st.sampled_from([2024, 2025]),
    "montant": st.sampled_from([100, 100.0, 100.004, 250.5, None, "abc"]),
    "statut": st.sampled_from(["Acquis", "Refusé"])}), max_size=14))
def test_fin12_finds_the_duplicates_a_plain_walk_finds(lines):
    """FIN-12 (by the first four keys, then by amount only where they repeat) names, for each
    repeated line, the same first line as one lookup per line by all five keys."""
    from acv_xl.checks.rules import Index, _INDEX
    from acv_xl.checks.rules.financement import doublon

    raw = clean_raw()
    raw["T_Financements"] = [dict(raw["T_Financements"][0], **ln) for ln in lines]
    conv = build(raw)
    first, want = {}, []
    for lf in conv.financements:
        if lf.statut == "Refusé" or lf.montant is None:
            continue
        earlier = first.setdefault((lf.numero, lf.financeur, lf.dispositif, lf.annee, lf.montant), lf)
        if earlier is not lf:
            want.append((lf.cell("montant"), earlier.row))
    token = _INDEX.set(Index(conv))
    try:
        got = [(f.cellule, int(f.message.rsplit("ligne ", 1)[1].rstrip("."))) for f in doublon(conv)]
    finally:
        _INDEX.reset(token)
    assert got == want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.fixed_dictionaries({
    "numero": st.sampled_from(["1.1", "1.2", "9.9", None]), "financeur": st.sampled_from(["ETAT", "EPCI", "UE"]),
    "dispositif": st.sampled_from(["DSIL", "dsil exceptionnelle", "DETR 2025", "Fonds de concours", "FRLA",
                                   "Interreg", "Subvention", None]),
    "montant": st.sampled_from([100, 250.5, None, "abc"]), "statut": st.sampled_from(["Acquis", "Refusé", "Sollicité"])}),
    max_size=14))
def test_the_runs_line_facts_are_what_each_rule_worked_out(lines):
    """The FIN rules' per-line facts, worked out once per run (`Index.familles`, `counted_familles`,
    `counted_of`), equal what each rule computed on its own: `famille` of each line's dispositif,
    `totals.counted` of each action's lines."""
    from acv_xl.checks import totals
    from acv_xl.checks.rules import Index
    from acv_xl.contract.dispositifs import famille

    raw = clean_raw()
    raw["T_Financements"] = [dict(raw["T_Financements"][0], **ln) for ln in lines]
    index = Index(build(raw))
    rows = index.rows(layout.T_FINANCEMENTS)
    assert all(index.familles[lf.dispositif] == famille(lf.dispositif) for lf in rows)
    assert index.counted_familles == [famille(lf.dispositif) for lf in totals.counted(rows)]
    for numero in {lf.numero for lf in rows} | {"absent"}:
        counted = totals.counted(index.lines_of(numero))
        assert index.counted_of(numero) == counted


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(["ETAT", "CDC", None]), st.sampled_from(["DSIL", "DETR", None])),
                      max_size=8))
def test_the_index_finds_the_dispositif_a_scan_finds(pairs):
    """`Index.dispositif` (built in C) gives, for every pair, the first row of the list, as
    `Convention.dispositif` does (several rows of a pair: the first decides)."""
    from acv_xl.checks.rules import Index

    raw = clean_raw()
    raw["T_Dispositifs"] = [{"financeur": f, "dispositif": d, "nature": "Subvention", "dotation_r2334_27": str(k)}
                            for k, (f, d) in enumerate(pairs)]
    conv = build(raw)
    index = Index(conv)
    for f, d in set(pairs) | {("AUTRE", "X")}:
        assert index.dispositif(f, d) is conv.dispositif(f, d)


def test_rows_and_memo_read_the_running_index():
    """`rows(conv, table)` gives the running index's own list (built once per run, the same object
    each time) and a fresh walk outside a run or for another convention; `Index.memo` builds a
    value once, even a None."""
    from acv_xl.checks.rules import _INDEX, Index, rows

    conv, other = build(clean_raw()), build(clean_raw())
    t = layout.T_FINANCEMENTS
    index = Index(conv)
    token = _INDEX.set(index)
    try:
        first = rows(conv, t)
        assert first is index.rows(t) and rows(conv, t) is first
        assert first == [x for x in conv.financements if not x.is_empty()]
        assert rows(other, t) == [x for x in other.financements if not x.is_empty()]
        assert rows(other, t) is not index.rows(t)
    finally:
        _INDEX.reset(token)
    assert rows(conv, t) is not first and rows(conv, t) == first  # no run: a fresh index
    built: list = []
    assert [index.memo("k", lambda: built.append(1)) for _ in range(3)] == [None] * 3 and built == [1]
