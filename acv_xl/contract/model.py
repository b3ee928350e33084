"""The convention as typed data, every value remembering where it came from.

Each table row is a `Ligne`: its typed fields (None when empty or unparsable), plus for every
column the A1 cell it was read from (`cells`), the raw value (`raw`) and, when the raw value
could not be parsed, the `Problem` (`problems`). Reading never fails on a bad value: the rules
report the problems with their cells.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterator, Mapping
from copy import deepcopy
from dataclasses import asdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cached_property, partial
from itertools import repeat
from operator import attrgetter, itemgetter, setitem
from typing import Any, Callable, ClassVar, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field

from acv_xl.contract import layout
from acv_xl.contract.layout import AXES, Kind, Table
from acv_xl.contract.values import AXE_EXACT, CENT, DAY_ONE, Problem, parse, to_cents


class Cells(Mapping):
    """attr → A1 address of one row read from a table, each address made when asked: a 5,000-line
    plan has 50,000 of them, and a run asks for the few its findings point at. A read-only mapping
    equal to the dict it stands for; `letters` (attr → column letters) is shared by the table's rows."""

    __slots__ = ("letters", "row")

    def __init__(self, letters: dict[str, str], row: int):
        self.letters = letters
        self.row = row

    def __getitem__(self, attr: str) -> str:
        return self.letters[attr] + str(self.row)

    def get(self, attr: str, default=None):
        letter = self.letters.get(attr)
        return default if letter is None else letter + str(self.row)

    def __contains__(self, attr: object) -> bool:
        return attr in self.letters

    def __iter__(self) -> Iterator[str]:
        return iter(self.letters)

    def __len__(self) -> int:
        return len(self.letters)

    def __repr__(self) -> str:
        return repr(dict(self))


class _New:
    """A mutable field's default: a new one for each row (`factory()`)."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Any]):
        self.factory = factory


class Ligne:
    """One row of a table. A plain class, not a pydantic model: every value comes typed from the
    reader (`row_maker`, `build_row`, which parse them) and pydantic never validated a row, but its
    `BaseModel.__getattr__` sent each attribute read of a row — ≈ 5,400 per workbook in the rules,
    totals and summary — through Python's slow path (`slot_tp_getattr_hook`), which also kept Python
    from specialising those reads. The fields are the class's annotations (`FIELDS`, base first, in
    declaration order; field → default); every row holds each of them in its `__dict__`, in that
    order. `model_copy`, `model_dump`, equality and `repr` behave as pydantic's did, and setting a
    name that is no field is refused; a Convention's `model_dump` keeps its rows as they are (equal
    when their fields are), and its JSON forms (`model_dump(mode="json")`, `model_dump_json`,
    `model_json_schema`) are not offered: no interface promises them, the JSON of `valider` and
    `comparer` is the one written down (docs/interfaces.md, docs/evolution.md)."""

    FIELDS: ClassVar[dict[str, Any]] = {}  # field → its default (`_New`: a new one per row)
    TABLE: ClassVar[Table | None] = None  # set on subclasses

    sheet: str = ""
    row: int = 0  # Excel row number of the line (1-based)
    # attr → A1 address: a dict for a row built in code, `Cells` for a row read from a table
    cells: Mapping[str, str] = _New(dict)
    raw: dict[str, Any] = _New(dict)  # attr → value as read
    problems: dict[str, Problem] = _New(dict)  # attr → why it did not parse

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls.FIELDS = _declared_fields(cls)

    def __init__(self, **values: Any):
        """A row built in code: the fields given, the others at their default (not validated)."""
        unknown = values.keys() - self.FIELDS.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        self.__dict__.update({name: values[name] if name in values else
                              default.factory() if default.__class__ is _New else default
                              for name, default in self.FIELDS.items()})

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, as a pydantic model

    def __setattr__(self, name: str, value: Any) -> None:
        """A field set, as on a pydantic model; a name that is no field (`row.montnat = 1`, a typo)
        refused, not kept aside where no rule reads it. Only `row.x = …` comes here: the reader
        fills each row's `__dict__` whole, and no read of an attribute passes by this method."""
        if name not in self.FIELDS:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        self.__dict__[name] = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"

    def model_copy(self, update: dict[str, Any] | None = None, deep: bool = False) -> Ligne:
        """A copy (its `__dict__` copied, deeply when `deep`), with the fields of `update` replaced."""
        fields = deepcopy(self.__dict__) if deep else self.__dict__.copy()
        if update:
            fields.update(update)
        m = _new(self.__class__)
        _SET_ROW_DICT(m, fields)
        return m

    def model_dump(self, exclude: Collection[str] = ()) -> dict[str, Any]:
        """The fields but `exclude` as a dict, as pydantic dumped a row: its cells a dict, its problems dicts."""
        out = {**self.__dict__, "cells": dict(self.cells), "raw": dict(self.raw),
               "problems": {k: asdict(p) for k, p in self.problems.items()}}
        for name in exclude:
            out.pop(name, None)
        return out

    def cell(self, attr: str) -> str:
        """A1 address of a column of this line ("" when unknown, e.g. a model built in code)."""
        return self.cells.get(attr, "")

    def is_empty(self) -> bool:
        # a plain loop that stops at the first value: several consumers ask, per row, per run
        for v in self.raw.values():
            if v is not None and not (isinstance(v, str) and not v.strip()):
                return False
        return True


def _declared_fields(cls: type) -> dict[str, Any]:
    """Field → default of a row class: its bases' fields, then the ones it annotates (not a ClassVar)."""
    fields = dict(getattr(super(cls, cls), "FIELDS", {}))
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if not _is_class_var(annotation):
            fields[name] = getattr(cls, name)
    return fields


def _is_class_var(annotation: Any) -> bool:
    """`ClassVar[…]` however written: a text (`from __future__ import annotations`: « ClassVar[…] » or
    « typing.ClassVar[…] ») or the object itself (a class declared without that import)."""
    if isinstance(annotation, str):
        return annotation.partition("[")[0].strip().rpartition(".")[2] == "ClassVar"
    return annotation is ClassVar or get_origin(annotation) is ClassVar


Ligne.FIELDS = _declared_fields(Ligne)
_SET_ROW_DICT = Ligne.__dict__["__dict__"].__set__  # a row's `__dict__` set without the attribute lookup


class Commune(Ligne):
    code_insee: str | None = None
    commune: str | None = None
    role: str | None = None


class ElementDiagnostic(Ligne):
    axe: int | None = None
    element: str | None = None
    source: str | None = None
    date_source: date | None = None
    constat: str | None = None
    type: str | None = None
    cout_estime: Decimal | None = None
    financeur_pressenti: str | None = None
    etat: str | None = None


class Perimetre(Ligne):
    code: str | None = None
    type: str | None = None
    nom: str | None = None
    parent: str | None = None
    echelle: str | None = None
    communes: str | None = None
    superficie: Decimal | None = None
    population: Decimal | None = None
    date_validation: date | None = None


class FicheAction(Ligne):
    numero: str | None = None
    intitule: str | None = None
    axe: int | None = None
    axe_transversal: str | None = None
    perimetre: str | None = None
    maitre_ouvrage: str | None = None
    type_mo: str | None = None
    description: str | None = None
    maturite: str | None = None
    date_debut: date | None = None
    date_fin: date | None = None
    base: str | None = None
    cout_total: Decimal | None = None
    depense_subventionnable: Decimal | None = None
    derogation: str | None = None
    cosignataires: str | None = None
    date_signature: date | None = None

    @property
    def cosignataires_codes(self) -> list[str]:
        return split_codes(self.cosignataires)


def split_codes(text: str | None) -> list[str]:
    """The codes of a list cell (`Cosignataires`), separated by « ; » or « , »."""
    return [c.strip() for c in (text or "").replace(",", ";").split(";") if c.strip()]


class Indicateur(Ligne):
    numero: str | None = None
    indicateur: str | None = None
    unite: str | None = None
    valeur_initiale: Decimal | None = None
    valeur_cible: Decimal | None = None
    annee_cible: int | None = None


class LigneFinancement(Ligne):
    numero: str | None = None
    financeur: str | None = None
    dispositif: str | None = None
    nature: str | None = None
    annee: int | None = None
    montant: Decimal | None = None
    statut: str | None = None
    date_demande: date | None = None
    reference_decision: str | None = None
    commentaire: str | None = None

    @property
    def compte(self) -> bool:
        """Counts in totals: every line but the refused ones."""
        return self.statut != layout.STATUT_REFUSE


class Financeur(Ligne):
    code: str | None = None
    nom: str | None = None
    categorie: str | None = None
    cibles: str | None = None
    modalites: str | None = None
    contact: str | None = None


class Dispositif(Ligne):
    financeur: str | None = None
    dispositif: str | None = None
    nature: str | None = None
    dotation_r2334_27: str | None = None


class MembreGouvernance(Ligne):
    instance: str | None = None
    organisme: str | None = None
    nom: str | None = None
    fonction: str | None = None
    college: str | None = None
    courriel: str | None = None


Commune.TABLE = layout.T_COMMUNES
ElementDiagnostic.TABLE = layout.T_DIAGNOSTIC
Perimetre.TABLE = layout.T_PERIMETRES
FicheAction.TABLE = layout.T_ACTIONS
Indicateur.TABLE = layout.T_INDICATEURS
LigneFinancement.TABLE = layout.T_FINANCEMENTS
Financeur.TABLE = layout.T_FINANCEURS
Dispositif.TABLE = layout.T_DISPOSITIFS
MembreGouvernance.TABLE = layout.T_GOUVERNANCE

# table name → (model class, Convention attribute)
ROW_MODELS: dict[str, tuple[type[Ligne], str]] = {
    "T_Communes": (Commune, "communes"),
    "T_Diagnostic": (ElementDiagnostic, "diagnostic"),
    "T_Perimetres": (Perimetre, "perimetres"),
    "T_Actions": (FicheAction, "actions"),
    "T_Indicateurs": (Indicateur, "indicateurs"),
    "T_Financements": (LigneFinancement, "financements"),
    "T_Financeurs": (Financeur, "financeurs"),
    "T_Dispositifs": (Dispositif, "dispositifs"),
    "T_Gouvernance": (MembreGouvernance, "gouvernance"),
}


class NamedValue(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    name: str
    sheet: str = ""
    cell: str = ""
    raw: Any = None
    value: Any = None
    problem: Problem | None = None


class MissingHeader(BaseModel):
    model_config = ConfigDict(defer_build=True)

    table: str
    header: str
    sheet: str = ""
    cell: str = ""  # the cell to point at: the renamed header, else the header row's first cell
    found_as: str | None = None  # a header that looks like it (renamed)
    in_place: str | None = None  # else an unknown header standing where this column should be


class StrayCell(BaseModel):
    """A value typed just outside a user table's lines: in the rows directly below it (within its
    columns, down to the first blank row), on a whole line of data further below, in its totals row
    (whole or partial), or in the column directly to its right. Neither Excel (for a
    pasted line) nor LibreOffice adds such a line to the table, so no total counts it (STR-09);
    `acv-xl migrer` carries it into the table."""

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    table: str
    sheet: str
    cell: str
    row: int
    col: int
    value: Any = None
    header: str = ""  # the table's header above it ("" in the column to its right)
    right: bool = False  # in the column to the right of the table (else below it)
    # below it past a blank row, on a line that fills every required column of the table: a line of
    # data (a note or a personal total, kept apart by that blank row, fills none of them)
    detached: bool = False
    # in the table's totals row, a value that is neither the row's label nor what a totals function
    # gives of the lines: a line of data typed there, whole or partial (`reading.totals_row`)
    totals_row: bool = False


class Structure(BaseModel):
    """What the reader could not find (STR-03, STR-04) and where it found the tables."""

    model_config = ConfigDict(defer_build=True)

    missing_sheets: list[str] = Field(default_factory=list)
    missing_tables: list[str] = Field(default_factory=list)
    missing_headers: list[MissingHeader] = Field(default_factory=list)
    missing_names: list[str] = Field(default_factory=list)
    table_refs: dict[str, tuple[str, str]] = Field(default_factory=dict)  # table → (sheet, "A3:F20")
    merged_in_tables: list[tuple[str, str, str]] = Field(default_factory=list)  # (table, sheet, range)
    # the kind of acv-xl report the file is (« consolidation », « annexe »…), from its content mark;
    # looked for only when nothing of the template was found (STR-11)
    derived_report: str | None = None
    # the workbook counts its dates from 1904 (an Excel option): known to the file reader only (STR-12)
    date1904: bool = False


class Convention(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    fichier: str | None = None
    names: dict[str, NamedValue] = Field(default_factory=dict)
    communes: list[Commune] = Field(default_factory=list)
    diagnostic: list[ElementDiagnostic] = Field(default_factory=list)
    perimetres: list[Perimetre] = Field(default_factory=list)
    actions: list[FicheAction] = Field(default_factory=list)
    indicateurs: list[Indicateur] = Field(default_factory=list)
    financements: list[LigneFinancement] = Field(default_factory=list)
    financeurs: list[Financeur] = Field(default_factory=list)
    dispositifs: list[Dispositif] = Field(default_factory=list)
    gouvernance: list[MembreGouvernance] = Field(default_factory=list)
    structure: Structure = Field(default_factory=lambda: empty(Structure))
    stray_cells: list[StrayCell] = Field(default_factory=list)  # typed outside a table (STR-09)

    # -- named cells
    def value(self, name: str) -> Any:
        nv = self.names.get(name)
        return nv.value if nv else None

    def set_value(self, name: str, value: Any) -> None:
        nc = layout.NAMED_BY_NAME[name]
        nv = self.names.get(name) or NamedValue(name=name, sheet=nc.sheet, cell=nc.cell)
        self.names[name] = nv.model_copy(update={"value": value, "raw": value, "problem": None})

    @property
    def acv_id(self) -> str | None:
        return self.value("acv_id")

    @property
    def programme(self) -> str | None:
        return self.value("acv_programme")

    @property
    def libelle(self) -> str | None:
        return self.value("acv_libelle")

    @property
    def departement(self) -> str | None:
        return self.value("acv_departement")

    # -- lookups
    def rows(self, table_name: str) -> list[Ligne]:
        return getattr(self, ROW_MODELS[table_name][1])

    def action(self, numero: str | None) -> FicheAction | None:
        """The first action of that number (None when there is none)."""
        return self._index("actions").get(numero)

    def financeur(self, code: str | None) -> Financeur | None:
        """The first financeur of that code."""
        return self._index("financeurs").get(code)

    def dispositif(self, financeur: str | None, nom: str | None) -> Dispositif | None:
        """The first dispositif of that (financeur, dispositif) pair."""
        return self._index("dispositifs").get((financeur, nom))

    # The rules look up an action, a financeur or a dispositif for every financing line: a scan
    # each time is O(lines × rows) on a 5,000-line plan. Each list is indexed on first use, first
    # row first (as the scan found it), and indexed again once the list is replaced or its length
    # changes; a row edited in place after a lookup (its code changed) is not seen.
    _INDEX_KEYS: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "actions": lambda a: a.numero,
        "financeurs": lambda f: f.code,
        "dispositifs": lambda d: (d.financeur, d.dispositif),
    }

    @cached_property
    def _indexes(self) -> dict[str, tuple[list, int, dict]]:
        # a cached_property lives in the instance's __dict__, outside the fields: not dumped,
        # not compared (two equal conventions stay equal whether they were searched or not)
        return {}

    def _index(self, name: str) -> dict:
        rows = getattr(self, name)
        entry = self._indexes.get(name)
        if entry is None or entry[0] is not rows or entry[1] != len(rows):
            key, index = self._INDEX_KEYS[name], {}
            for r in rows:
                index.setdefault(key(r), r)
            entry = self._indexes[name] = (rows, len(rows), index)
        return entry[2]


# The Python type each column kind parses to (`values.parse`): `build_row` hands the model
# values of exactly these types, so the model is filled without a second validation pass.
_KIND_TYPES: dict[Kind, type] = {
    Kind.TEXT: str, Kind.CHOICE: str, Kind.AXE: int, Kind.YEAR: int,
    Kind.AMOUNT: Decimal, Kind.NUMBER: Decimal, Kind.DATE: date,
}


def _plan(cls: type[Ligne]) -> tuple[tuple[str, Kind, tuple[str, ...], frozenset[str]], ...]:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = get_type_hints(cls)
        for c in cls.TABLE.columns:  # the contract between `values.parse` and the field types
            expected = _KIND_TYPES[c.kind] | None
            if hints[c.attr] != expected:
                raise TypeError(f"{cls.__name__}.{c.attr}: {hints[c.attr]} ≠ {expected}")
        # its blank first: a thread finding the plan (the server's) finds the blank too
        _BLANKS[cls] = dict.fromkeys(cls.FIELDS)  # every field, in declaration order
        plan = _PLANS[cls] = tuple((c.attr, c.kind, c.choices, frozenset(c.choices)) for c in cls.TABLE.columns)
    return plan


# Enum members as plain names: `Kind.TEXT` costs ~65 ns a lookup on Python 3.11, several per cell
_TEXT, _CHOICE, _AXE, _AMOUNT, _NUMBER, _YEAR, _DATE = (
    Kind.TEXT, Kind.CHOICE, Kind.AXE, Kind.AMOUNT, Kind.NUMBER, Kind.YEAR, Kind.DATE)
_PLANS: dict[type, tuple] = {}
_BLANKS: dict[type, dict[str, Any]] = {}
_new = object.__new__
_set = object.__setattr__
# BaseModel's slots, set without the attribute lookup (`build_named`)
_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (BaseModel.__dict__[name].__set__ for name in (
    "__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))
_drain = deque(maxlen=0).extend  # runs an iterator to its end, keeping nothing

def empty(cls: type[BaseModel]) -> BaseModel:
    """`cls()` — every field at its default — without pydantic's validation, so that a command that
    only reads never builds the models' schemas (`defer_build`). Not `model_construct`, which
    inspects each default factory's signature at every call (≈ 0.1 ms for a Convention)."""
    m = _new(cls)
    _set(m, "__dict__", {name: f.default_factory() if f.default_factory is not None else f.default
                         for name, f in cls.__pydantic_fields__.items()})
    _set(m, "__pydantic_fields_set__", set())
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def build_row(cls: type[Ligne], raw: dict[str, Any], cells: dict[str, str] | None = None,
              sheet: str = "", row: int = 0) -> Ligne:
    """Parse the raw values of one table row (attr → raw) into its model, keeping the problems."""
    plan = _PLANS.get(cls) or _plan(cls)
    present = tuple(p for p in plan if p[0] in raw)
    return _build_row(cls, present, dict(raw), dict(cells) if cells else {}, sheet, row)


def row_builder(cls: type[Ligne], attrs) -> Callable[[dict[str, Any], dict[str, str], str, int], Ligne]:
    """`build_row` for many rows holding the same columns `attrs` (a table read by the reader),
    the per-row bookkeeping done once; the returned function takes ownership of `raw` and `cells`."""
    plan = _PLANS.get(cls) or _plan(cls)
    present = tuple(p for p in plan if p[0] in attrs)
    return partial(_build_row, cls, present)


def _build_row(cls: type[Ligne], plan: tuple, raw: dict[str, Any], cells: dict[str, str], sheet: str, row: int) -> Ligne:
    """The row of `cls` from `raw`, whose columns are exactly those of `plan`.

    The common cases (text, a listed value, a number in an amount, number, year or axe column, a date
    cell) are decided inline: a 5,000-line plan is 60,000 cells, and this loop is most of reading it.
    Everything else goes through `values.parse`, which gives the same results.

    Every typed value comes out of this parsing with exactly its field's type (`_KIND_TYPES`,
    checked once per class): the instance is filled with its `__dict__` (the same as `cls(**fields)`
    gives), its fields in declaration order.
    """
    typed = _BLANKS[cls].copy()
    problems: dict[str, Problem] = {}
    for attr, kind, choices, allowed in plan:
        v = raw[attr]
        if v is None:
            continue
        t = v.__class__  # exact types: ExcelError/NoCachedValue (str) and bool (int) take the slow path
        if t is str:
            if kind is _TEXT or (kind is _CHOICE and (not choices or v in allowed)):
                typed[attr] = v.strip() or None
                continue
            if kind is _AXE and v in AXE_EXACT:
                typed[attr] = AXE_EXACT[v]
                continue
        elif (t is float or t is int) and v - v == 0:  # finite (inf - inf and nan - nan are nan)
            if kind is _AMOUNT:
                typed[attr] = to_cents(v)
                continue
            if kind is _NUMBER:
                typed[attr] = Decimal(str(v))
                continue
            if kind is _YEAR and 1900 <= v <= 2100 and v == int(v):
                typed[attr] = int(v)
                continue
            if kind is _AXE and v in AXES:  # 3.0 == 3: a whole number of a known axe
                typed[attr] = int(v)
                continue
        elif kind is _DATE:
            if t is date:
                typed[attr] = v
                continue
            if t is datetime and (v.year > 1899 or v.toordinal() >= DAY_ONE):  # (else a time alone: `parse_date`)
                typed[attr] = v.date()
                continue
        p = parse(v, kind, choices)
        typed[attr] = p.value
        if p.problem is not None:
            problems[attr] = p.problem
    typed["sheet"] = sheet or cls.TABLE.sheet
    typed["row"] = row
    typed["cells"] = cells
    typed["raw"] = raw
    typed["problems"] = problems
    m = _new(cls)
    _SET_ROW_DICT(m, typed)
    return m


def _cell(v: Any, kind: Kind, choices: tuple[str, ...], allowed: frozenset[str]) -> tuple[Any, Problem | None]:
    """One value of `_build_row`'s loop (not None): (typed value, problem), the same decisions in the
    same order. A row maker's cells its inline cases leave come here (`_slow`)."""
    t = v.__class__
    if t is str:
        if kind is _TEXT or (kind is _CHOICE and (not choices or v in allowed)):
            return v.strip() or None, None
        if kind is _AXE and v in AXE_EXACT:
            return AXE_EXACT[v], None
    elif (t is float or t is int) and v - v == 0:
        if kind is _AMOUNT:
            return to_cents(v), None
        if kind is _NUMBER:
            return Decimal(str(v)), None
        if kind is _YEAR and 1900 <= v <= 2100 and v == int(v):
            return int(v), None
        if kind is _AXE and v in AXES:
            return int(v), None
    elif kind is _DATE:
        if t is date:
            return v, None
        if t is datetime and (v.year > 1899 or v.toordinal() >= DAY_ONE):
            return v.date(), None
    p = parse(v, kind, choices)
    return p.value, p.problem


# `d.quantize(cent, rounding=ROUND_HALF_UP)` in the default context's precision, without the keyword
# argument's cost (a 5,000-line plan rounds 5,000 amounts)
_CENTS = Context(prec=28, rounding=ROUND_HALF_UP).quantize

# The inline case of each column kind in a row maker (`_row_maker`): `{v}` the raw value, `{w}` a
# spare local, `{a}` the lookup of the column's listed values (listed value → its typed value, else
# its second argument), `{c}` the column's plan; every other non-empty value goes to `_slow`, which
# `_cell` decides (the same decisions in the same order as `_build_row`). `slow` doubles as the
# « not found » of a lookup: never a value.
_INLINE: dict[Kind, str] = {
    _TEXT: "None if {v} is None else ({v}.strip() or None) if {v}.__class__ is str else slow(problems, {v}, {c})",
    # a listed value: the list's own text (equal, so shared by every row that holds it)
    _CHOICE: "None if {v} is None else ({w} if ({w} := {a}({v}, slow)) is not slow else slow(problems, {v}, {c})) "
             "if {v}.__class__ is str else slow(problems, {v}, {c})",
    # `to_cents`, inlined below 1e20 (its wider context is for more than 20 digits): an int is exact as it
    # is; a float's text is its repr (as `str` writes it), already to the cent when it ends with two
    # decimals (1234.56: nothing to round, the same Decimal), and with one (1860000.0, 12.5) once a zero
    # is written after it (the same digits and exponent as the rounding gives)
    _AMOUNT: "None if {v} is None else cents(dec({v}), cent) if {v}.__class__ is int and -1e20 < {v} < 1e20 "
             "else (dec({w}) if ({w} := repr({v}))[-3] == '.' else dec({w} + '0') if {w}[-2] == '.' "
             "else cents(dec({w}), cent)) if {v}.__class__ is float and -1e20 < {v} < 1e20 "
             "else slow(problems, {v}, {c})",
    _DATE: "{v} if {v} is None or {v}.__class__ is date else {v}.date() if {v}.__class__ is datetime "
           "and ({v}.year > 1899 or {v}.toordinal() >= day_one) else slow(problems, {v}, {c})",
    _NUMBER: "None if {v} is None else dec(str({v})) if ({v}.__class__ is float or {v}.__class__ is int) "
             "and {v} - {v} == 0 else slow(problems, {v}, {c})",
    _YEAR: "None if {v} is None else int({v}) if ({v}.__class__ is float or {v}.__class__ is int) "
           "and 1900 <= {v} <= 2100 and {v} == int({v}) else slow(problems, {v}, {c})",
    _AXE: "None if {v} is None else ({w} if ({w} := axes({v}, slow)) is not slow else slow(problems, {v}, {c})) "
          "if {v}.__class__ is str else slow(problems, {v}, {c})",
}


def _slow(problems: dict[str, Problem], v: Any, column: tuple[str, Kind, tuple[str, ...], frozenset[str]]) -> Any:
    """The typed value of a cell the inline cases leave (`_cell`), its problem recorded under its column."""
    attr, kind, choices, allowed = column
    value, problem = _cell(v, kind, choices, allowed)
    if problem is not None:
        problems[attr] = problem
    return value


_ROW_MAKERS: dict[tuple, Callable[[tuple, int, Mapping[str, str], str], dict[str, Any]]] = {}


def row_maker(cls: type[Ligne], attrs: tuple[str, ...]) -> Callable[[tuple, int, Mapping[str, str], str], dict[str, Any]]:
    """`make(values, row, cells, sheet)`: the `__dict__` of the row of `cls` whose raw values are `values`
    (a tuple, in the order of `attrs`), as `build_row(cls, dict(zip(attrs, values)), cells, sheet, row)`
    fills it — key order, `raw`, `problems` (in column order) included; `rows_of` makes the instances.
    Made once per (model, columns): a consolidation reads the same nine tables with the same columns
    file after file. Keeps no state between calls, so one serves every thread."""
    key = (cls, attrs)
    make = _ROW_MAKERS.get(key)
    if make is None:
        if len(_ROW_MAKERS) >= 256:  # a workbook's columns (some missing) make new tuples: bounded
            _ROW_MAKERS.clear()
        make = _ROW_MAKERS[key] = _row_maker(cls, attrs)
    return make


def _row_maker(cls: type[Ligne], attrs: tuple[str, ...]) -> Callable[[tuple, int, Mapping[str, str], str], dict[str, Any]]:
    """One Python function per row for the whole row — its raw dict, each value typed by its kind's
    inline case (`_INLINE`), its `problems`, its `__dict__` — written here as source for these
    columns: a small convention's 140 rows of 9 tables, and a 5,000-line plan's 60,000 cells, pass
    through one call per row rather than a loop per column and per cell."""
    plan = _PLANS.get(cls) or _plan(cls)
    position = {a: i for i, a in enumerate(attrs)}  # a repeated attribute: its last value, as `dict(zip())`
    present = tuple(p for p in plan if p[0] in position)  # the typed columns, in the model's order
    ns: dict[str, Any] = {"cents": _CENTS, "dec": Decimal, "cent": CENT, "date": date, "datetime": datetime,
                          "day_one": DAY_ONE,
                          "axes": AXE_EXACT.get, "slow": _slow}
    args = [f"v{i}" for i in range(len(attrs))]
    body = ["def make(t, row, cells, sheet):",
            f"    {', '.join(args)}{',' if len(args) == 1 else ''} = t" if args else "    pass",
            "    problems = {}"]
    values = {"sheet": "sheet", "row": "row", "cells": "cells", "raw": "raw", "problems": "problems"}
    for k, column in enumerate(present):  # in column order: so are the problems
        attr, kind, choices, _ = column
        ns[f"a{k}"], ns[f"c{k}"] = {c: c.strip() or None for c in choices}.get, column
        inline = _INLINE[kind if kind is not _CHOICE or choices else _TEXT]
        body.append(f"    x{k} = " + inline.format(v=f"v{position[attr]}", w=f"w{k}", a=f"a{k}", c=f"c{k}"))
        values[attr] = f"x{k}"
    body.append("    raw = {" + ", ".join(f"{a!r}: v{i}" for a, i in position.items()) + "}")
    body.append("    return {" + ", ".join(f"{f!r}: {values.get(f, 'None')}" for f in _BLANKS[cls]) + "}")
    exec("\n".join(body), ns)  # noqa: S102 — source made here, of the models' field names (repr) and fixed cases
    return ns["make"]


def rows_of(cls: type[Ligne], make, values: list[tuple], rows: list[int], cells: list[Mapping[str, str]],
            sheet: str) -> list[Ligne]:
    """The instances of a table's rows, each `__dict__` made by `make` (`row_maker`), slot by slot in C
    loops (no Python call per row)."""
    dicts = list(map(make, values, rows, cells, repeat(sheet or cls.TABLE.sheet)))
    out = list(map(_new, repeat(cls, len(dicts))))
    _drain(map(_SET_ROW_DICT, out, dicts))
    return out


_DICT = attrgetter("__dict__")
_GET_RAW, _GET_PROBLEMS = itemgetter("raw"), itemgetter("problems")


def copy_rows(cls: type[Ligne], lignes: list[Ligne]) -> list[Ligne]:
    """New rows of `cls` equal to `lignes` (rows as `rows_of` makes them), each with its own
    `__dict__`, `raw` and `problems` — what a caller may change on a row — and the
    read-only rest shared (typed values, the `Cells`). In C loops: no Python step per row."""
    dicts = list(map(dict.copy, map(_DICT, lignes)))
    _drain(map(setitem, dicts, repeat("raw"), map(dict.copy, map(_GET_RAW, dicts))))
    _drain(map(setitem, dicts, repeat("problems"), map(dict.copy, map(_GET_PROBLEMS, dicts))))
    out = list(map(_new, repeat(cls, len(dicts))))
    _drain(map(_SET_ROW_DICT, out, dicts))
    return out


def build_named(name: str, raw: Any, sheet: str = "", cell: str = "") -> NamedValue:
    nc = layout.NAMED_BY_NAME[name]
    # `parse(raw, nc.kind, nc.choices)`, the common cases decided inline as for a table's cells
    # (`_cell`: the same decisions in the same order); an empty cell is no value and no problem
    value, problem = _cell(raw, nc.kind, nc.choices, _NAMED_ALLOWED[name]) if raw is not None else (None, None)
    # (past Excel's 15 digits, the text cell's reading: « 1E+300 », as Excel shows it, not its 301 digits)
    if name == "acv_departement" and isinstance(raw, (int, float)) and not isinstance(raw, bool) and abs(raw) < 1e15:
        value = f"{int(raw):02d}"  # 62 typed as a number is still the département "62"
        problem = None
    # built without pydantic's validation, as the rows are: every field is typed above already, and
    # the models' schemas are then never built by a command that only reads (`defer_build`). Filled
    # as `NamedValue.model_construct(name=…, …, problem=…)` fills it, slot by slot (a third of the
    # time: its keyword handling, ≈ 2 µs a name, twenty names a file)
    m = _new(NamedValue)
    _SET_DICT(m, {"name": name, "sheet": sheet or nc.sheet, "cell": cell or nc.cell, "raw": raw, "value": value,
                  "problem": problem})
    _SET_FIELDS_SET(m, set(_NAMED_FIELDS))
    _SET_EXTRA(m, None)
    _SET_PRIVATE(m, None)
    return m


_NAMED_FIELDS = frozenset(("name", "sheet", "cell", "raw", "value", "problem"))
_NAMED_ALLOWED = {nc.name: frozenset(nc.choices) for nc in layout.NAMED_CELLS}
