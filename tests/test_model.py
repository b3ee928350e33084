"""The model: its lookups (`Convention.action`, `.financeur`, `.dispositif`: indexed, first row
wins) and its rows (typed by `build_row` exactly as `values.parse` types each value)."""

from __future__ import annotations

import copy
import pickle
from datetime import date, datetime
from typing import ClassVar

import pytest
from pydantic import BaseModel
from hypothesis import given, settings
from hypothesis import strategies as st

from acv_xl.contract import layout
from acv_xl.contract.model import (ROW_MODELS, Cells, Convention, Dispositif, FicheAction, Financeur, LigneFinancement,
                           NamedValue, Structure, build_row, empty, row_maker, rows_of)
from acv_xl.contract.values import AXE_EXACT, EXCEL_ERRORS, ExcelError, NoCachedValue, parse


def rows_builder(cls, attrs):
    """The reader's way for rows given as dicts: `build(raws, cells, sheet, rows)` (`row_maker`, `rows_of`)."""
    attrs = tuple(attrs)

    def build(raws, cells, sheet, rows):
        values = [tuple(raw[a] for a in attrs) for raw in raws]
        return rows_of(cls, row_maker(cls, attrs), values, rows, cells, sheet)

    return build


def _dispositif(financeur, nom, nature=None):
    return build_row(Dispositif, {"financeur": financeur, "dispositif": nom, "nature": nature})


def _scan(rows, match):
    """What the lookups returned when they walked the list: the first matching row."""
    return next((r for r in rows if match(r)), None)


def test_lookups_give_the_first_matching_row_as_a_scan_would():
    conv = Convention(
        actions=[build_row(FicheAction, {"numero": n, "intitule": f"{n} {i}"}) for i, n in enumerate(["1.1", "1.2", "1.1"])],
        financeurs=[build_row(Financeur, {"code": c, "nom": f"{c} {i}"}) for i, c in enumerate(["ETAT", "CDC", "ETAT"])],
        dispositifs=[_dispositif("ETAT", "DSIL", "Subvention"), _dispositif("ETAT", "DETR"),
                     _dispositif("ETAT", "DSIL", "Prêt"), _dispositif(None, None)],
    )
    for numero in ("1.1", "1.2", "9.9", None):
        assert conv.action(numero) is _scan(conv.actions, lambda a: a.numero == numero)
    for code in ("ETAT", "CDC", "REGION", None):
        assert conv.financeur(code) is _scan(conv.financeurs, lambda f: f.code == code)
    for pair in (("ETAT", "DSIL"), ("ETAT", "DETR"), ("CDC", "DSIL"), (None, None), ("ETAT", None)):
        assert conv.dispositif(*pair) is _scan(conv.dispositifs, lambda d: (d.financeur, d.dispositif) == pair)
    assert conv.dispositif("ETAT", "DSIL").nature == "Subvention"
    assert conv.dispositif(None, None) is conv.dispositifs[3]


def test_lookups_follow_a_replaced_or_grown_list():
    conv = Convention(dispositifs=[_dispositif("ETAT", "DSIL")])
    assert conv.dispositif("CDC", "Prêt") is None
    conv.dispositifs.append(_dispositif("CDC", "Prêt"))  # grown in place
    assert conv.dispositif("CDC", "Prêt") is conv.dispositifs[1]
    conv.dispositifs = [_dispositif("REGION", "FRAT")]  # replaced
    assert conv.dispositif("ETAT", "DSIL") is None
    assert conv.dispositif("REGION", "FRAT") is conv.dispositifs[0]
    conv.financeurs = [build_row(Financeur, {"code": "ETAT"})]
    assert conv.financeur("ETAT") is conv.financeurs[0]
    conv.actions = conv.actions + [build_row(FicheAction, {"numero": "2.1"})]
    assert conv.action("2.1") is conv.actions[0]


def test_an_indexed_convention_stays_equal_dumps_the_same_and_copies():
    a = Convention(dispositifs=[_dispositif("ETAT", "DSIL")])
    b = Convention(dispositifs=[_dispositif("ETAT", "DSIL")])
    assert a.dispositif("ETAT", "DSIL") is not None  # a is indexed, b is not
    assert a == b and a.model_dump() == b.model_dump() and repr(a) == repr(b)
    for twin in (a.model_copy(deep=True), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert twin == a
        assert twin.dispositif("ETAT", "DSIL") is twin.dispositifs[0]
    shallow = a.model_copy(update={"dispositifs": [_dispositif("CDC", "Prêt")]})
    assert shallow.dispositif("ETAT", "DSIL") is None and shallow.dispositif("CDC", "Prêt") is not None
    assert a.dispositif("ETAT", "DSIL") is a.dispositifs[0] and a.dispositif("CDC", "Prêt") is None


def test_cells_of_a_read_row_are_the_dict_of_its_addresses():
    """`Cells` (a read row's addresses, made when asked) behaves as the dict it stands for: same
    lookups, equality both ways, dump, copies; a row holding it equals the same row holding the dict."""
    letters = {"numero": "A", "financeur": "B", "montant": "F"}
    cells = Cells(letters, 12)
    want = {"numero": "A12", "financeur": "B12", "montant": "F12"}
    assert cells == want and want == cells and dict(cells) == want and cells != {**want, "montant": "F13"}
    assert list(cells) == list(want) and list(cells.items()) == list(want.items()) and len(cells) == 3
    assert cells["montant"] == "F12" and cells.get("montant") == "F12" and "numero" in cells
    assert cells.get("statut") is None and cells.get("statut", "") == "" and "statut" not in cells
    with pytest.raises(KeyError):
        cells["statut"]
    assert repr(cells) == repr(want) and want.items() <= cells.items()
    raw = {"numero": "1.1", "financeur": "ETAT", "montant": 1000.0}
    read = build_row(LigneFinancement, raw, sheet="Plan de financement", row=12)
    object.__setattr__(read, "__dict__", {**read.__dict__, "cells": cells})
    coded = build_row(LigneFinancement, raw, cells=want, sheet="Plan de financement", row=12)
    assert read == coded and read.cell("montant") == "F12" and read.cell("statut") == ""
    assert read.model_dump() == coded.model_dump()
    for twin in (copy.deepcopy(read), pickle.loads(pickle.dumps(read)), read.model_copy(deep=True)):
        assert twin == coded and twin.cells == want


@pytest.mark.parametrize("cls", [cls for cls, _ in ROW_MODELS.values()], ids=lambda c: c.__name__)
def test_a_row_is_a_plain_object_read_without_a_getattr_hook(cls):
    """A row's attributes are read as any object's: no `__getattr__` in its class (pydantic's
    `BaseModel` has one, which sends every attribute read through Python's slow path — thousands per
    workbook in the rules). Built in code, every field is at its default, each row its own mutable
    parts; an unknown field is refused; copied, dumped, compared and pickled as a model was."""
    assert not hasattr(cls, "__getattr__") and cls.__getattribute__ is object.__getattribute__
    a, b = cls(), cls(sheet="S", row=4)
    assert list(vars(a)) == list(cls.FIELDS) and a.sheet == "" and a.row == 0 and a.cells == a.raw == a.problems == {}
    assert a.raw is not b.raw and a.cells is not b.cells and a.problems is not b.problems
    assert a != b and a == cls() and a != object() and repr(b).startswith(f"{cls.__name__}(sheet='S', row=4, cells={{}}")
    with pytest.raises(TypeError):
        cls(pas_un_champ=1)
    with pytest.raises(TypeError):
        hash(a)
    c = b.model_copy(update={"row": 5})
    assert c.row == 5 and b.row == 4 and vars(c) is not vars(b) and c.raw is b.raw
    assert b.model_copy(deep=True).raw is not b.raw and b.model_copy(deep=True) == b
    assert pickle.loads(pickle.dumps(b)) == b == copy.deepcopy(b)
    assert b.model_dump() == {**vars(b), "cells": {}, "raw": {}, "problems": {}}
    assert b.model_dump(exclude={"cells", "raw"}) == {k: v for k, v in vars(b).items() if k not in ("cells", "raw")}


@pytest.mark.parametrize("cls", [cls for cls, _ in ROW_MODELS.values()], ids=lambda c: c.__name__)
def test_a_row_refuses_a_field_it_does_not_have_set_later(cls):
    """`row.montnat = 1` (a typo in a script, or a rule) was kept beside the fields, where no rule,
    total or dump reads it, the amount left as it was: pydantic refused it, the plain row did not.
    Refused again; a field set is still set, and a read row (its `__dict__` filled whole) too."""
    a = cls()
    for name in cls.FIELDS:
        setattr(a, name, getattr(a, name))
    a.row = 7
    assert a.row == 7 and list(vars(a)) == list(cls.FIELDS)
    with pytest.raises(AttributeError, match="has no field 'pas_un_champ'"):
        a.pas_un_champ = 1
    assert "pas_un_champ" not in vars(a)


def test_a_row_class_s_class_variables_are_not_fields():
    """A row's fields are its class's annotations but its class variables, however `ClassVar` is
    written: as a text (this module's annotations), qualified or not, or as the object (a class made
    without `from __future__ import annotations`). Counted as fields, every row would hold them."""
    import typing

    from acv_xl.contract.model import Ligne

    class Texts(Ligne):
        a: str | None = None
        K: ClassVar[int] = 1
        Q: typing.ClassVar[int] = 2

    Objects = type("Objects", (Ligne,), {"__annotations__": {"a": str | None, "K": typing.ClassVar[int],
                                                             "B": typing.ClassVar}, "a": None, "K": 1, "B": 2})
    for cls in (Texts, Objects):
        assert list(cls.FIELDS) == [*Ligne.FIELDS, "a"] and list(vars(cls())) == list(cls.FIELDS), cls.__name__


# --------------------------------------------------------------------------- rows
_COLUMNS = [(ROW_MODELS[t.name][0], c) for t in layout.TABLES if t.name in ROW_MODELS for c in t.columns]
_CHOICES = sorted({v for _, c in _COLUMNS for v in c.choices})
_cell = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(_CHOICES + sorted(AXE_EXACT) + ["  ", " Acquis ", "2024", "1 234,5"]),
    st.integers(-10**6, 10**6), st.sampled_from([1899, 1900, 2024, 2100, 2101, 0, 3, 6]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([2024.0, 2024.5, 3.0, 45293.0, 1e26, -0.005]),
    st.booleans(), st.dates(), st.datetimes(),
    st.sampled_from(EXCEL_ERRORS).map(ExcelError), st.just(NoCachedValue("=A1+1")),
)
_FIXED = [None, "", "  ", "texte", " Acquis ", "Acquis", "Axe 3", "3", "2024", "1 234,5", "#REF!", 0, 3, 6, -1, 1899,
          2024, 2101, 0.0, 3.0, 3.5, 2024.0, 2024.5, 45293.0, 1e26, -0.005, float("nan"), True, False,
          date(2024, 2, 29), datetime(2024, 2, 29, 10, 30), datetime(2024, 2, 29), ExcelError("#N/A"),
          NoCachedValue("=A1"), *sorted(AXE_EXACT)[:8], *_CHOICES[:20]]


def _check_row_against_parse(cls, col, raw):
    try:
        want = parse(raw, col.kind, col.choices)
    except Exception as exc:  # noqa: BLE001 - an infinite amount: whatever parse does, so does the row
        with pytest.raises(type(exc)):
            build_row(cls, {col.attr: raw})
        return
    line = build_row(cls, {col.attr: raw})
    got = getattr(line, col.attr)
    if want.value != want.value:  # NaN
        assert got != got
    else:
        assert got == want.value and type(got) is type(want.value), (col.kind, raw)
    assert _problem(line.problems.get(col.attr)) == _problem(want.problem)
    assert line.raw == {col.attr: raw} and list(vars(line)) == list(type(line).FIELDS)


_NAN = object()


def _problem(p):
    """A `Problem` as a tuple whose NaN read compares equal to another: Python 3.13's dataclasses
    compare field by field, where earlier ones compared tuples (whose identity check made the
    same NaN equal)."""
    return None if p is None else (p.kind, _NAN if p.raw != p.raw else p.raw, p.suggestion)


def test_a_row_types_the_usual_values_as_values_parse_does():
    """`build_row` decides the common cases inline, for speed: exactly as `values.parse` would,
    for every column of every table."""
    for cls, col in _COLUMNS:
        for raw in _FIXED:
            _check_row_against_parse(cls, col, raw)


@settings(max_examples=400, deadline=None)
@given(column=st.sampled_from(_COLUMNS), raw=_cell)
def test_a_row_types_any_value_as_values_parse_does(column, raw):
    _check_row_against_parse(*column, raw)


def _same_rows(got, want):
    for g, w in zip(got, want, strict=True):
        assert type(g) is type(w)
        gd, wd = vars(g), vars(w)
        assert list(gd) == list(wd)  # same fields, same order
        for k in wd:
            a, b = gd[k], wd[k]
            if k == "cells":  # `build_row` keeps a dict of them
                assert a == b and dict(a) == dict(b)
            elif k == "problems":
                assert {n: _problem(p) for n, p in a.items()} == {n: _problem(p) for n, p in b.items()}
            elif b != b:  # NaN (a raw value)
                assert a != a
            else:
                assert a == b and type(a) is type(b) and str(a) == str(b), (k, a, b)  # Decimal exponent too


def _read_at_once(table, attrs, raws):
    cls = ROW_MODELS[table.name][0]
    raws = [{a: r[a] for a in attrs} for r in raws]
    numbers = list(range(4, 4 + len(raws)))
    letters = {a: "ABCDEFGHIJKLMNOPQ"[k] for k, a in enumerate(attrs)}
    want = [build_row(cls, r, cells=Cells(letters, n), sheet="S", row=n) for r, n in zip(raws, numbers)]
    got = rows_builder(cls, tuple(attrs))([dict(r) for r in raws], [Cells(letters, n) for n in numbers], "S", numbers)
    _same_rows(got, want)
    # each row its own mutable parts
    assert len({id(vars(g)) for g in got} | {id(g.raw) for g in got} | {id(g.problems) for g in got}) == 3 * len(got)


_ROW_TABLES = [t for t in layout.TABLES if t.name in ROW_MODELS]
# amounts whose rounding to the cent is a tie in their decimal text (half up: 2,68 not 2,67)
_TIES = [2.675, 0.125, 1.005, 12.345, -0.005, -2.675, 1e19 + 0.5, 99999999999999.995, 3, -7, 10**19, 10**20,
         1234.56, -0.01, 0.05, 1234.5, 5.0, -0.0, 1e-05, 1.5e+19, 12345678901234567.0, 0.1 + 0.2]


@pytest.mark.parametrize("table", _ROW_TABLES, ids=lambda t: t.name)
def test_a_table_read_at_once_gives_the_rows_build_row_gives(table):
    """The reader types a whole table with one made function per row (`row_maker`): the same rows, value for value
    (types and exponents included), problems, fields set, as `build_row` row by row."""
    attrs = [c.attr for c in table.columns]
    _read_at_once(table, attrs, [dict.fromkeys(attrs, v) for v in _FIXED + _TIES])


@settings(max_examples=150, deadline=None)
@given(table=st.sampled_from(_ROW_TABLES), data=st.data())
def test_any_table_read_at_once_gives_the_rows_build_row_gives(table, data):
    attrs = data.draw(st.lists(st.sampled_from([c.attr for c in table.columns]), min_size=1, unique=True))
    raws = data.draw(st.lists(st.fixed_dictionaries({a: st.one_of(_cell, st.sampled_from(_FIXED + _TIES))
                                                     for a in attrs}), max_size=6))
    _read_at_once(table, attrs, raws)


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_value_problems_not_crashes(bad):
    """No workbook cell holds inf or NaN (the reader makes them #NUM!), but a caller's list may:
    the row gets a value problem, and the rules judge it without an internal failure (STR-00)."""
    from tests.conventions import with_change
    from acv_xl.checks.rules import run_rules

    for table, attr, code in (("T_Financements", "montant", "STR-06"), ("T_Actions", "cout_total", "STR-06"),
                              ("T_Financements", "annee", "FIN-04")):
        conv = with_change(table, 0, attr, bad)
        row = conv.rows(table)[0]
        assert getattr(row, attr) is None and attr in row.problems
        found = {f.code: f for f in run_rules(conv)}
        assert "STR-00" not in found and found[code].cellule == row.cell(attr)


@pytest.mark.parametrize("cls", [Convention, Structure, NamedValue])
def test_empty_is_the_default_instance_without_validation(cls):
    """`empty(cls)` (the reader's start) equals `cls()` and shares no mutable default between instances."""
    kwargs = {"name": "acv_id"} if cls is NamedValue else {}
    a, b = empty(cls), empty(cls)
    expected = cls(**kwargs)
    if kwargs:
        a.name = b.name = "acv_id"
    assert a == expected and a.model_dump() == expected.model_dump()
    for name, value in vars(a).items():
        if isinstance(value, (list, dict, set, BaseModel)):
            assert value is not vars(b)[name], name


@pytest.mark.parametrize("keys", [(), ("numero",), ("numero", "montant"), ("numero", "montant", "numero"),
                                  ("l'année", 'say "x"', "back\\slash", "é€\n", "", "lambda", "v0", "t", "row")])
def test_a_row_maker_keeps_the_raw_dict_zip_makes(keys):
    """`row_maker` (the reader's rows) writes each row's raw dict as source: the same dict as `dict(zip())`,
    keys in the same order (a repeated key: its last value, at its first place), whatever the keys' text."""
    values = tuple(object() for _ in keys)
    row = rows_of(LigneFinancement, row_maker(LigneFinancement, tuple(keys)), [values], [7], [{}], "S")[0]
    want = dict(zip(keys, values))
    assert row.raw == want and list(row.raw) == list(want) and type(row.raw) is dict
    assert row_maker(LigneFinancement, tuple(keys)) is row_maker(LigneFinancement, tuple(keys))  # made once


def test_a_plan_found_by_another_thread_has_its_blank_row(monkeypatch):
    """A row model's plan is made on first use; in the server's threads another request may find the
    plan the moment it is stored, and build rows at once: the blank row it needs must exist then."""
    from acv_xl.contract import model

    class OtherRequestReadsAtOnce(dict):
        def __setitem__(self, cls, plan):
            super().__setitem__(cls, plan)
            built = rows_builder(cls, ("numero",))([{"numero": "1.1"}], [{"numero": "A4"}], "", [4])
            assert built[0].numero == "1.1"

    monkeypatch.setattr(model, "_PLANS", OtherRequestReadsAtOnce())
    monkeypatch.setattr(model, "_BLANKS", {})
    assert model._plan(FicheAction)


@pytest.mark.parametrize("name, raw", [("acv_id", " ACV001 "), ("acv_departement", 62), ("acv_date_comite", "pas une date"),
                                       ("acv_date_comite", datetime(2026, 3, 5)), ("acv_libelle", None)])
def test_a_named_value_is_built_as_model_construct_builds_it(name, raw):
    """`build_named` fills the model slot by slot: the same instance as pydantic's `model_construct`
    (fields, their order, the fields set), equal, and as pickled or copied."""
    from acv_xl.contract.model import NamedValue, build_named

    built = build_named(name, raw, "Projet", "C7")
    reference = NamedValue.model_construct(**built.__dict__)
    assert built == reference
    assert list(built.__dict__.items()) == list(reference.__dict__.items())
    assert built.model_fields_set == reference.model_fields_set
    assert built.__pydantic_extra__ is None and built.__pydantic_private__ is None
    assert pickle.loads(pickle.dumps(built)) == reference and copy.deepcopy(built) == reference
    assert built.model_dump() == reference.model_dump()


def _check_named_against_parse(nc, raw):
    from acv_xl.contract.model import build_named

    try:
        want = parse(raw, nc.kind, nc.choices)
    except Exception as exc:  # noqa: BLE001 - whatever parse does, so does the named cell
        with pytest.raises(type(exc)):
            build_named(nc.name, raw)
        return
    value, problem = want.value, want.problem
    # a number of Excel's 15 digits (past them, as Excel shows it; inf, NaN: whatever `parse` does)
    if nc.name == "acv_departement" and isinstance(raw, (int, float)) and not isinstance(raw, bool) \
            and abs(raw) < 1e15:
        value, problem = f"{int(raw):02d}", None
    got = build_named(nc.name, raw)
    if value != value:  # NaN
        assert got.value != got.value
    else:
        assert got.value == value and type(got.value) is type(value) and str(got.value) == str(value), (nc.name, raw)
    assert _problem(got.problem) == _problem(problem) and got.raw is raw


def test_a_named_value_types_the_usual_values_as_values_parse_does():
    """`build_named` decides the common cases inline, as a table's cells: exactly as `values.parse`
    would, for every named cell (the département typed as a number excepted, on purpose)."""
    for nc in layout.NAMED_CELLS:
        for raw in _FIXED + _TIES:
            _check_named_against_parse(nc, raw)


@settings(max_examples=300, deadline=None)
@given(nc=st.sampled_from(layout.NAMED_CELLS), raw=_cell)
def test_a_named_value_types_any_value_as_values_parse_does(nc, raw):
    _check_named_against_parse(nc, raw)


@pytest.mark.parametrize("table", _ROW_TABLES, ids=lambda t: t.name)
def test_copied_rows_are_the_rows_each_with_its_own_mutable_parts(table):
    """`copy_rows` (the reader's copies of a list met again): the same rows, value for value, and
    each copy's `__dict__`, `raw` and `problems` its own."""
    from acv_xl.contract.model import copy_rows

    cls = ROW_MODELS[table.name][0]
    attrs = tuple(c.attr for c in table.columns)
    raws = [dict.fromkeys(attrs, v) for v in _FIXED]
    numbers = list(range(4, 4 + len(raws)))
    letters = {a: "ABCDEFGHIJKLMNOPQ"[k] for k, a in enumerate(attrs)}
    built = rows_builder(cls, attrs)([dict(r) for r in raws], [Cells(letters, n) for n in numbers], "S", numbers)
    copies = copy_rows(cls, built)
    _same_rows(copies, built)
    for c, b in zip(copies, built):
        assert c is not b and vars(c) is not vars(b) and c.raw is not b.raw and c.problems is not b.problems
    copies[0].raw[attrs[0]] = "changé"
    copies[0].problems["x"] = None
    assert built[0].raw[attrs[0]] != "changé" and "x" not in built[0].problems
