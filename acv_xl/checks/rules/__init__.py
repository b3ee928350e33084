"""The validation rules (docs/regles.md): a registry, shared helpers, `run_rules`.

Each rule is a small pure function `(conv) -> Iterable[Finding]` in its family module, registered
with `@rule(code, gravite, titre, source, needs=...)`. Adding a rule touches one file.

`needs` names what a rule reads: `"T_Financements"` (the table exists and none of its required
headers is missing) or `"T_Actions.cosignataires"` (that column exists too). When the reader
reports a missing sheet, table or header (STR-03/STR-04), the rules that need it are skipped
rather than reporting every row as empty; so are they by a caller that holds part of a workbook
(`codes_within`: ACV_CONTROLE). `optional` names the other tables a rule reads, whose absence it
bears as an empty table (FIN-23 without `T_Communes` knows the communes by no name; the lists'
facts shared by several rules read `T_Financeurs` and `T_Dispositifs` together): not needed, but
declared, so that every table a rule reads is said (`tests/test_rules_shared.py` checks it).

Decisions where the catalogue leaves a case open (each rule's docstring gives its own):
- Value problems recorded by the reader (`ligne.problems[attr]`) are reported exactly once, at
  their cell, with the action number: an Excel error value by STR-06, a formula without a computed
  value by STR-07, any other problem by the rule of the family that owns the column (table below).
- An unknown value is not guessed. The other rules neither call it « vide » nor compute a sum or a
  ratio with it, and a conclusion it could change is not drawn: no « axe 3 sans diagnostic »
  (DIA-01) while an axe is unreadable, no FIN-05…FIN-09 on a plan holding an unreadable amount,
  status, nature or financeur, or on an action number used twice, etc.
- An `Abandonnée` action has left the plan: it needs no financing (ACT-08), no indicator (ACT-10),
  no positive cost (ACT-05), and FIN-05…FIN-09, FIN-14, FIN-16, FIN-19, FIN-22, FIN-24, FIN-26, ACT-07 and ACT-11
  do not judge it.
- The reference date for « after the end of initialisation » (DIA-04) is the date of the next
  comité d'engagement (`acv_date_comite`) when it is filled, the dossier being judged for that
  comité; otherwise today.
- Added codes (the catalogue allows new codes, never reuses one):
  STR-00 E « contrôle interne en échec » (a rule, the totals or the fingerprint crashed: the dossier
  was not fully checked, so it cannot be « Validé »); STR-07 E formula without a computed value
  (the value is unknown, every total would be false: an error, not an information); STR-08 A merged
  cells inside a table; STR-09 E a value typed right below a table or in the column to its right
  (in no table, so in no total); PRJ-05 E identity value of the wrong form (programme, rôle, département,
  SIREN); DIA-05 E invalid or missing value in `T_Diagnostic`; PER-07 E invalid or missing value
  in `T_Perimetres`; ACT-12 E value outside its list in `T_Actions`; FIN-17 E `Date de la demande`
  not a date; FIN-18 E the reference list of funders (`T_Financeurs`, `T_Dispositifs`) incomplete
  or invalid; IND-03 A invalid value in `T_Indicateurs`; GOU-02 A invalid or missing value in
  `T_Gouvernance`; FIN-20 A État subsidy of no recognised dispositif (outside the R2334-27 caps);
  FIN-21 A dispositif not listed for its financeur; FIN-22 A another public body's autofinancement
  on a public MO's action (a public participation, L1111-10); FIN-23 E fonds de concours outside
  an EPCI and its communes, or above the beneficiary's own share (A: a syndicat d'énergie and its members,
  a port's syndicat mixte and its members, L5212-26, L5722-10); FIN-24 A State subsidy exposed to
  lapse (R2334-28, décret 2018-514); FIN-25 A FRLA above the operation's deficit; FIN-26 A a line naming
  two État dotations, or one and another État aid (« DETR/DSIL », « DSIL/FNADT »: to be split); ACT-13 E an
  abandoned action's lines still counted (I when only « Versé » lines are left: the écart they make,
  and whether what another body gave is to be recovered). PRJ-06…PRJ-11 and FIN-19 compare the workbook with the national
  list of the programme's communes (`liste_nationale.py`; the list is `Index.reference`, passed
  in by the engine). A missing defined name is reported as STR-04 (structure, like a header).
- Dispositifs are recognised by meaning (`acv_xl.contract.dispositifs.famille`), the one place
  that decides which family a dispositif belongs to.

| problem kind                    | T_Actions | T_Financements        | T_Diagnostic | T_Perimetres | T_Indicateurs | elsewhere |
|---------------------------------|-----------|-----------------------|--------------|--------------|---------------|-----------|
| texte_nombre, pas_nombre, pas_annee | ACT-05 | FIN-03 (année: FIN-04) | DIA-05      | PER-07       | IND-03        |           |
| pas_date                        | ACT-06    | FIN-17                | DIA-05       | PER-07       |               | PRJ-04 (named dates) |
| hors_liste                      | ACT-12    | FIN-04                | DIA-05       | PER-07       |               | PRJ-05 (programme, rôle), FIN-18, GOU-02 |
| pas_axe                         | ACT-03    |                       | DIA-02       |              |               |           |
| erreur_excel / formule_sans_valeur | STR-06 / STR-07 everywhere (status cells excluded) |
"""

from __future__ import annotations

import math
import re
import unicodedata
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, time
from itertools import chain, compress, groupby, repeat
from operator import attrgetter, is_, itemgetter, not_
from typing import Any, Callable, Iterable

from acv_xl.checks import totals
from acv_xl.checks.findings import Finding, Gravite
from acv_xl.contract import dispositifs, layout
from acv_xl.contract import reference as reference_list
from acv_xl.contract.layout import Kind, Table
from acv_xl.contract.model import ROW_MODELS, Convention, Ligne
from acv_xl.contract.reference import Reference
from acv_xl.contract.values import (MEMO_TEXT_MAX, YEAR_MAX, YEAR_MIN, Problem, exact, fmt_date, fmt_euros, fmt_number, fmt_typed, is_blank,
                                    memo_text, places)
from acv_xl.reading.source import a1, parse_a1, parse_range

E = Gravite.ERREUR
A = Gravite.AVERTISSEMENT
I = Gravite.INFORMATION  # noqa: E741

# Legal and programme bases, written once.
SRC_GUIDE = "Guide du programme ACV"
SRC_CONTRAT = "Contrat du classeur ACV"
SRC_L1111_10 = "CGCT art. L1111-10 III"
SRC_R2334_27 = "CGCT art. R2334-27"
SRC_DECRET_2018_514 = "décret n° 2018-514 art. 10"
SRC_AIDES_100 = "décret n° 2018-514 art. 10 (subventions de l'État qu'il régit), sinon règle générale"
SRC_COMMENCEMENT = "CGCT art. R2334-24 ; décret n° 2018-514"
SRC_CADUCITE = "CGCT art. R2334-28 ; décret n° 2018-514"
SRC_FONDS_CONCOURS = "CGCT art. L5214-16 V, L5215-26, L5216-5 VI"
SRC_FONDS_CONCOURS_SYNDICAT = "CGCT art. L5212-26 et L5711-1"
SRC_FONDS_CONCOURS_PORT = "CGCT art. L5722-10"
SRC_FRLA = "Fonds de restructuration des locaux d'activité (ANCT), règlement du fonds"
SRC_INSTRUCTION_2023 = "Instruction du 24 mai 2023 (NOR IOML2312173J)"
SRC_LISTE_NATIONALE = "Liste nationale des communes ACV (ANCT)"


@dataclass(frozen=True)
class Rule:
    code: str
    gravite: Gravite  # nominal severity (a few rules also emit a lower one, see their docstring)
    titre: str
    source: str
    func: Callable[[Convention], Iterable[Finding]]
    needs: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # tables read when there, whose absence (an empty list) the rule bears


REGISTRY: dict[str, Rule] = {}


def rule(code: str, gravite: Gravite, titre: str, source: str, needs: Iterable[str] = (),
         optional: Iterable[str] = ()):
    """Register a rule function under its stable code."""

    def deco(func):
        if code in REGISTRY:
            raise ValueError(f"code de règle en double : {code}")
        REGISTRY[code] = Rule(code, gravite, titre, source, func, tuple(needs), tuple(optional))
        return func

    return deco


# ----------------------------------------------------------------------------- structure
def _table_unusable(conv: Convention, table: Table, attr: str | None = None) -> bool:
    st = conv.structure
    if table.sheet in st.missing_sheets or table.name in st.missing_tables:
        return True
    missing = {mh.header for mh in st.missing_headers if mh.table == table.name}
    if any(c.required and c.header in missing for c in table.columns):
        return True
    return attr is not None and table.header(attr) in missing


def usable(conv: Convention, need: str) -> bool:
    st = conv.structure  # nothing missing (the common case): every need is usable, nothing to look up
    if not (st.missing_sheets or st.missing_tables or st.missing_headers):
        return True
    name, _, attr = need.partition(".")
    return not _table_unusable(conv, layout.TABLES_BY_NAME[name], attr or None)


def _structure_complete(conv: Convention) -> bool:
    """No sheet, table or header missing: every need is usable (the common case, decided once)."""
    st = conv.structure
    return not (st.missing_sheets or st.missing_tables or st.missing_headers)


# ----------------------------------------------------------------------------- per-run index
class lazy:
    """A property computed on first use, then kept on the instance: `functools.cached_property`
    without the lock Python 3.11 takes on every first use (an index serves one run, one thread)."""

    def __init__(self, func: Callable[[Any], Any]):
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)  # found there from now on, before this
        return value


KEPT_MAX_CHARS = 64 * 1024  # characters of text a key kept between runs may hold (the template's lists: ≈ 3,400)


def kept_size(values: Iterable[Any]) -> bool:
    """Whether `values` hold at most `KEPT_MAX_CHARS` characters of text, so that what is worked out of
    them may be kept between runs: `acv-xl serveur` keeps its memos for months, and a list may hold a
    pasted text of 32,767 characters per cell."""
    return sum(map(len, filter(_IS_STR, values))) <= KEPT_MAX_CHARS


def _by_action(lines) -> dict[str | None, list]:
    """Financing lines by action number. A plan lists an action's lines together, mostly: its runs
    of one number grouped in C, each run added to the number's list (its lines stay in row order,
    the numbers in order of first line)."""
    out: dict[str | None, list] = {}
    for numero, run in groupby(lines, _NUMERO):
        group = out.get(numero)
        if group is None:
            out[numero] = list(run)
        else:
            group.extend(run)
    return out


class Index:
    """What several rules look up, computed once per `run_rules` call (a workbook of 500 actions and
    5 000 financing lines must validate in a few tens of milliseconds for the Excel button)."""

    def __init__(self, conv: Convention, reference: Reference | None = None, longest_text: int | None = None):
        self.conv = conv
        self._reference = reference
        # a bound above the length of every text of `conv`, when its reader knows one (STR-10), else None
        self.longest_text = longest_text
        self._rows: dict[str, list] = {}
        self._with_problems: dict[str, list] = {}
        self._memo: dict[Any, Any] = {}

    def rows(self, table: Table) -> list:
        r = self._rows.get(table.name)
        if r is None:
            # `not x.is_empty()`, a filled first cell deciding at once (the common case: no call);
            # the first cells fetched in C
            first = table.columns[0].attr
            lignes = getattr(self.conv, ROW_MODELS[table.name][1])
            try:
                firsts = list(map(dict.get, map(_RAW, lignes), repeat(first)))
            except TypeError:  # a row built in code with another mapping as `raw`
                firsts = [x.raw.get(first) for x in lignes]
            if not any(map(is_, firsts, repeat(None))) and all(map(str.strip, filter(_IS_STR, firsts))):
                r = list(lignes)  # every first cell filled (a table as the reader gives it): each row kept, in C
            else:
                r = [x for x, v in zip(lignes, firsts)
                     if (v is not None and (not isinstance(v, str) or v.strip())) or not x.is_empty()]
            self._rows[table.name] = r
        return r

    def with_problems(self, table: Table) -> list:
        """The non-empty rows holding a value problem, in row order (most rows hold none)."""
        r = self._with_problems.get(table.name)
        if r is None:
            lignes = self._rows.get(table.name)
            if lignes is None:  # not needed yet: when no row at all holds a problem (most tables), none of them
                lignes = getattr(self.conv, ROW_MODELS[table.name][1])
                if any(map(_PROBLEMS, lignes)):
                    lignes = self.rows(table)
            r = self._with_problems[table.name] = list(compress(lignes, map(_PROBLEMS, lignes)))
        return r

    @lazy
    def counted_lines(self) -> list:
        """`totals.counted` of the non-empty financing lines, once per run (several rules walk them).
        Shared: read it, never change it."""
        return totals.counted(self.rows(layout.T_FINANCEMENTS))

    # What the FIN rules read of each financing line, worked out once per run rather than by each rule
    # (a plan names a few dispositifs on many lines): its family, and the counted lines per action.
    @lazy
    def familles(self) -> dict[str | None, str | None]:
        """`dispositifs.famille(lf.dispositif)` of every non-empty line: `index.familles[lf.dispositif]`
        (each distinct name decided once). Shared: read it, never change it."""
        global _FAMILLES
        names = set(map(_DISPOSITIF, self.rows(layout.T_FINANCEMENTS)))
        known = _FAMILLES  # this run's reference: another thread may start a new one meanwhile
        missing = names.difference(known)  # mostly none: a département's plans name the same dispositifs
        if missing:
            if len(missing) > _FAMILLES_MAX or any(n.__class__ is str and len(n) > MEMO_TEXT_MAX for n in missing):
                return {nom: dispositifs.famille(nom) for nom in names}  # a pasted text is not kept: this run's own
            if len(known) + len(missing) > _FAMILLES_MAX:
                known = _FAMILLES = {}  # forgotten all at once (a run holding the old one keeps it)
                missing = names
            for nom in missing:
                known[nom] = dispositifs.famille(nom)
        return known

    @lazy
    def counted_familles(self) -> list[str | None]:
        """The family of each of `counted_lines`, in their order (looked up in C)."""
        return list(map(self.familles.__getitem__, map(_DISPOSITIF, self.counted_lines)))

    @lazy
    def _counted_by_action(self) -> dict[str | None, list]:
        return _by_action(self.counted_lines)

    def counted_of(self, numero: str | None) -> list:
        """`totals.counted(index.lines_of(numero))`, from the run's counted lines: an action's counted
        lines in row order. Shared: read it, never change it."""
        return self._counted_by_action.get(numero, [])

    def memo(self, key: Any, build: Callable[[], Any]) -> Any:
        value = self._memo.get(key, _MISSING)  # one lookup: asked ≈ 30 times a run, built ≈ 6 times
        if value is _MISSING:
            value = self._memo[key] = build()
        return value

    # What depends on the workbook's lists of financeurs and dispositifs alone (`T_Financeurs`,
    # `T_Dispositifs`: the template's lists in most workbooks of a département) is worked out once for
    # every run that meets the same lists, rather than by each run (several walks of 66 rows) and by
    # each rule: `shared(key, build)`, where `build` reads nothing but the values `lists_key` holds.
    @lazy
    def lists_key(self) -> tuple[tuple, tuple]:
        """The values of the lists that the shared facts are worked out of: (code, nom, categorie) of
        every row of `T_Financeurs`, (financeur, dispositif, nature, dotation_r2334_27) of every row
        of `T_Dispositifs`, in row order (the first row of a code or pair decides)."""
        return tuple(map(_TF_VALUES, self.conv.financeurs)), tuple(map(_TD_VALUES, self.conv.dispositifs))

    @lazy
    def _lists_facts(self) -> dict[Any, Any]:
        key = self.lists_key
        try:
            facts = _LISTS_FACTS.get(key)
        except TypeError:  # an unhashable value (no reader gives one): this run's own facts
            return {}
        if facts is None:
            if not kept_size(chain.from_iterable(chain.from_iterable(key))):
                return {}  # lists holding a pasted text: this run's own facts, not kept for months
            if len(_LISTS_FACTS) >= _LISTS_FACTS_MAX:
                _LISTS_FACTS.clear()
            facts = _LISTS_FACTS[key] = {}
        return facts

    def shared(self, key: Any, build: Callable[[], Any]) -> Any:
        """`memo` for a fact of the lists alone, kept for the next runs that meet the same lists.
        `build` must read only the values of `lists_key`; what it returns is shared: read it, never
        change it (a dict of answers it may fill, bounded by its user)."""
        facts = self._lists_facts
        value = facts.get(key, _MISSING)
        if value is _MISSING:
            value = facts[key] = build()
        return value

    @lazy
    def _dispositif_values(self) -> tuple[dict[tuple, tuple], dict[tuple, tuple]]:
        def build() -> tuple[dict[tuple, tuple], dict[tuple, tuple]]:
            listed = self.lists_key[1]  # the first row of a pair decides (walked backwards in C)
            by_pair = dict(zip(map(_PAIR_OF_VALUES, reversed(listed)), reversed(listed)))
            by_meaning: dict[tuple, tuple] = {}
            for values in listed:
                if values[1]:
                    by_meaning.setdefault((values[0], dispositifs.normalise(values[1])), values)
            return by_pair, by_meaning
        return self.shared("dispositif_values", build)

    def dispositif_values(self, financeur: str | None, nom: str | None) -> tuple | None:
        """(financeur, dispositif, nature, dotation_r2334_27) of `dispositif(financeur, nom)`'s row, or
        None: the same row found, from lookups shared by the runs that meet the same lists."""
        by_pair, by_meaning = self._dispositif_values
        d = by_pair.get((financeur, nom))
        if d is None and nom:
            d = by_meaning.get((financeur, dispositifs.normalise(nom)))
        return d

    # The lookups below are asked once per line or per action: plain dicts, built on first use.
    @lazy
    def _lines_by_action(self) -> dict[str | None, list]:
        return _by_action(self.rows(layout.T_FINANCEMENTS))

    def lines_of(self, numero: str | None) -> list:
        """Non-empty financing lines of an action, in row order."""
        return self._lines_by_action.get(numero, [])

    @lazy
    def _action_by_numero(self) -> dict[str | None, Any]:
        out: dict[str | None, Any] = {}
        for a in self.rows(layout.T_ACTIONS):
            out.setdefault(a.numero, a)
        return out

    def action(self, numero: str | None):
        """The first action of that number (a duplicate is ACT-01's)."""
        return self._action_by_numero.get(numero) if numero else None

    @lazy
    def _financeur_by_code(self) -> dict[str | None, Any]:
        out: dict[str | None, Any] = {}
        for f in self.conv.financeurs:  # every row, as `Convention.financeur` finds them
            out.setdefault(f.code, f)
        return out

    def financeur(self, code: str | None):
        """`Convention.financeur`, for one run: the first row of that code."""
        return self._financeur_by_code.get(code)

    @lazy
    def financeur_codes(self) -> tuple[str, ...]:
        """The codes of the non-empty rows of `T_Financeurs`, in row order (FIN-02, ACT-09)."""
        return tuple(filter(None, map(_CODE, self.rows(layout.T_FINANCEURS))))  # in C

    @lazy
    def _dispositif_by_pair(self) -> dict[tuple, Any]:
        # every row, as `Convention.dispositif` finds them: the first row of a pair decides (walked
        # backwards in C, the first row is the last one written); only looked up, never walked
        rows = self.conv.dispositifs
        return dict(zip(map(_PAIR, reversed(rows)), reversed(rows)))

    @lazy
    def _dispositif_by_meaning(self) -> dict[tuple, Any]:
        out: dict[tuple, Any] = {}
        for d in self.conv.dispositifs:
            if d.dispositif:
                out.setdefault((d.financeur, dispositifs.normalise(d.dispositif)), d)
        return out

    def dispositif(self, financeur: str | None, nom: str | None):
        """`Convention.dispositif`, for one run: no check that the list changed, one lookup per line;
        a name written otherwise (case, accents, punctuation: « dsil ») finds its row too."""
        d = self._dispositif_by_pair.get((financeur, nom))
        if d is None and nom:
            d = self._dispositif_by_meaning.get((financeur, dispositifs.normalise(nom)))
        return d

    @property
    def reference(self) -> Reference:
        """The national list the run compares the workbook with: the one the engine passed in, else
        the list in use (`reference.current()`: `ACV_XL_REFERENCE` or the shipped one, cached)."""
        if self._reference is None:
            self._reference = reference_list.current()
        return self._reference

    @lazy
    def categories(self) -> totals.Categories:
        """`totals.categorie(conv.financeurs, code)` in O(1): `index.categories.get(code)`; the workbook's
        subsidies (`subventions`) for L1111-10."""
        return self.shared("categories", lambda: totals.Categories(self.conv.financeurs, self.conv.dispositifs))

    @property
    def fctva(self) -> Memo:
        """`fctva_named(financeur, dispositif)` of a line, by its pair (`index.fctva[pair]`, from C too):
        FIN-10 reports such a line; ACT-09, FIN-20 and FIN-21 leave it to FIN-10. The same few pairs
        in every workbook: decided once for the runs that follow (`Memo`)."""
        return _FCTVA_PAIRS

    @lazy
    def mo_codes(self) -> totals.MOCodes:
        """`totals.codes_du_mo(action, conv.financeurs)` for every action: `index.mo_codes(action)`."""
        return self.shared("mo_codes", lambda: totals.MOCodes(self.conv.financeurs))  # code, nom, categorie

    @lazy
    def dotations(self) -> totals.DotationsR2334:
        """`totals.is_dotation_r2334_27(lf, conv.dispositifs)` for every line: `index.dotations(lf)`."""
        # financeur, dispositif, dotation_r2334_27 of each row
        return self.shared("dotations", lambda: totals.DotationsR2334(self.conv.dispositifs))


class Memo(dict):
    """`fn` memoised across runs, by its arguments' tuple (texts or None): `memo[args]`, looked up from
    C, each distinct tuple decided once — for a pure function of the names a plan repeats in every
    workbook of a département (financeurs, dispositifs, natures). Bounded: at most `maxsize` tuples
    (forgotten all at once), none holding a text longer than `MEMO_TEXT_MAX` (a pasted text is decided
    every time, never kept for a server's life)."""

    __slots__ = ("fn", "maxsize")

    def __init__(self, fn: Callable[..., Any], maxsize: int = 4096) -> None:
        super().__init__()
        self.fn, self.maxsize = fn, maxsize

    def __missing__(self, args: tuple) -> Any:
        value = self.fn(*args)
        if all(a is None or (a.__class__ is str and len(a) <= MEMO_TEXT_MAX) for a in args):
            if len(self) >= self.maxsize:
                self.clear()
            self[args] = value
        return value


_FCTVA = tuple(m.upper() for m in layout.FCTVA_MARKERS)


@memo_text(4096)  # the same few financeurs and dispositifs, in every workbook of a département
def names_fctva(text: str | None) -> bool:
    """A Financeur or Dispositif cell naming the FCTVA (not `Commentaire`, where « hors FCTVA » is usual)."""
    return bool(text) and any(m in text.upper() for m in _FCTVA)


def fctva_named(financeur: str | None, dispositif: str | None) -> bool:
    """A line whose Financeur or Dispositif names the FCTVA (FIN-10)."""
    return names_fctva(financeur) or names_fctva(dispositif)


_FCTVA_PAIRS = Memo(fctva_named)  # `Index.fctva`


_NUMERO = attrgetter("numero")
_CODE = attrgetter("code")
# `Index.familles`: the family of each dispositif name met lately (a few dozen names, the same in every
# plan of a département); bounded, forgotten all at once when full
_FAMILLES: dict[Any, str | None] = {}
_FAMILLES_MAX = 4_096
_TF_VALUES = attrgetter("code", "nom", "categorie")
_TD_VALUES = attrgetter("financeur", "dispositif", "nature", "dotation_r2334_27")
_PAIR_OF_VALUES = itemgetter(0, 1)
# `Index.shared`: the facts of each content of the lists met lately (most workbooks of a département
# hold the template's lists); bounded, forgotten all at once when full
_LISTS_FACTS: dict[tuple, dict[Any, Any]] = {}
_LISTS_FACTS_MAX = 64
_DISPOSITIF = attrgetter("dispositif")
_PAIR = attrgetter("financeur", "dispositif")
_RAW = attrgetter("raw")
_PROBLEMS = attrgetter("problems")
_IS_STR = str.__instancecheck__  # `isinstance(v, str)`, called from C
_INDEX: ContextVar[Index | None] = ContextVar("acv_rules_index", default=None)
_MISSING = object()  # `Index.memo`: no value yet (None may be one)


def index(conv: Convention) -> Index:
    """The index of the running `run_rules` call (thread- and task-safe), or a fresh one."""
    cur = _INDEX.get()
    return cur if cur is not None and cur.conv is conv else Index(conv)


# ----------------------------------------------------------------------------- sorting
_SHEET_ORDER = {s: i for i, s in enumerate(layout.SHEETS)}


def _cell_key(cell: str) -> tuple[int, int]:
    try:
        return parse_a1(cell)
    except ValueError:
        return (0, 0)


def sort_key(f: Finding):
    row, col = _cell_key(f.cellule) if f.cellule else (0, 0)
    # ties keep the order the rules emitted them in (sorted() is stable): axe 1 before axe 2…
    return (_SHEET_ORDER.get(f.feuille, -1 if not f.feuille else len(_SHEET_ORDER)), row, f.code, col)


def codes_within(tables: Iterable[str]) -> list[str]:
    """Codes of the rules that read only these tables: for a caller that holds part of a workbook
    (an Excel function given `T_Actions` and `T_Financements`), so that a table it did not pass is
    not taken for an empty one. Use: `run_rules(conv, codes=codes_within({...}))`."""
    given = set(tables)
    return [r.code for r in REGISTRY.values() if r.needs and {n.partition(".")[0] for n in r.needs} <= given]


def run_rules(conv: Convention, codes: Iterable[str] | None = None, shared: Index | None = None,
              reference: Reference | None = None) -> list[Finding]:
    """Every registered rule (or only `codes`), sorted by sheet order, row, code.

    A rule that raises does not stop the others: it becomes one STR-00 error (« contrôle interne
    en échec ») naming the rule, because a dossier that was not fully checked cannot be validated.
    `shared`: an `Index(conv)` the caller keeps for its own use afterwards (its non-empty rows).
    `reference`: the national list to compare with (default: the list in use, see `Index.reference`);
    a `shared` index carries its own.
    """
    wanted = set(codes) if codes is not None else None
    out: list[Finding] = []
    if shared is not None and shared.conv is not conv:
        raise ValueError("index d'une autre convention")
    token = _INDEX.set(shared if shared is not None else Index(conv, reference))
    try:
        _run(conv, wanted, out)
    finally:
        _INDEX.reset(token)
    return sorted(out, key=sort_key)


def _run(conv: Convention, wanted: set[str] | None, out: list[Finding]) -> None:
    ok: dict[str, bool] = {}  # `usable` per need, once per run (about 80 rules share 20 needs)
    complete = _structure_complete(conv)  # then every need is usable: nothing to look up
    for r in REGISTRY.values():
        if wanted is not None and r.code not in wanted:
            continue
        if not complete and not all(ok[n] if n in ok else ok.setdefault(n, usable(conv, n)) for n in r.needs):
            continue
        try:
            out.extend(r.func(conv))
        except Exception as exc:  # noqa: BLE001 — a bug in one rule must not hide the others
            out.append(Finding(
                code="STR-00", gravite=E,
                message=f"Contrôle interne en échec : la vérification {r.code} (« {r.titre} ») n'a pas pu "
                        f"s'exécuter (détail technique pour l'assistance : {type(exc).__name__}). Ce point du dossier "
                        "n'a pas été vérifié.",
                suggestion="Signalez l'anomalie à l'équipe acv-xl en joignant le classeur.",
            ))


# ----------------------------------------------------------------------------- reading helpers
def rows(conv: Convention, table: Table) -> list[Ligne]:
    """The non-empty data rows of a table (blank template rows are not data)."""
    # `index(conv).rows(table)` with the running index's rows found here: asked ≈ 60 times a run,
    # built once per table
    cur = _INDEX.get()
    if cur is not None and cur.conv is conv:
        r = cur._rows.get(table.name)
        return r if r is not None else cur.rows(table)
    return Index(conv).rows(table)


def blank(ligne: Ligne, attr: str) -> bool:
    """Really empty: no value and no unparsable content (a bad value is not an empty one)."""
    return getattr(ligne, attr, None) is None and attr not in ligne.problems and is_blank(ligne.raw.get(attr))


def named_problems(conv: Convention) -> list[tuple[layout.NamedCell, Any]]:
    """(named cell, `conv.names` value) of the named cells of the layout whose value did not parse, in
    the layout's order: few, mostly none, found once per run (STR-06, STR-07, PRJ-04 ask)."""
    def build() -> list[tuple[layout.NamedCell, Any]]:
        get = conv.names.get
        return [(nc, nv) for nc in layout.NAMED_CELLS if (nv := get(nc.name)) is not None and nv.problem is not None]
    return index(conv).memo("named_problems", build)


def has_problem(ligne: Ligne, attr: str) -> bool:
    return attr in ligne.problems


def today() -> date:
    return date.today()


def reference_date(conv: Convention) -> date:
    def build() -> date:
        comite = conv.value("acv_date_comite")
        return comite if isinstance(comite, date) else today()
    return index(conv).memo("reference_date", build)  # once per run (DIA-04, FIN-24)


def convention_years(conv: Convention) -> tuple[range, str] | None:
    """(the years a financing line or an indicator's target may fall in, the period said in French with
    its years), None when the programme is unknown (FIN-04, IND-02). Its programme's years; for a
    convention prolonged by avenant — its deployment ending after its programme's end, which PRJ-04
    says once, asking for the prolongation agreement — up to that end, within the last programme's
    (ACV 1 conventions were prolonged to 2026): each line of the prolongation is not said out of it
    again. A prolongation past the last programme's end is counted up to that end, and said so: « prolongé
    jusqu'au 31/12/2026 » of a convention prolonged to 2028 was untrue.
    A convention signed before its programme began (an ACV 1 convention continued in ACV 2 by avenant,
    its programme switched) counts its years from its signature (from 2018 at the earliest): the lines
    of 2019 to 2022 its plan keeps are its own history, not years to check (35 FIN-04, 11 IND-02 on Lens)."""
    years = layout.programme_years(conv.programme)
    if years is None:
        return None
    period = f"du programme {conv.programme}"
    signed = conv.value("acv_date_convention")
    start = max(signed.year, min(first for first, _end in layout.PROGRAMMES.values())) if isinstance(
        signed, date) else years[0]
    if start < years[0]:
        years = range(start, years[-1] + 1)
        return years, f"{period}, pour une convention signée le {fmt_date(signed)} ({years[0]} à {years[-1]})"
    fin = conv.value("acv_date_fin_deploiement")
    name, (_first, last) = max(layout.PROGRAMMES.items(), key=lambda p: p[1][1])
    if isinstance(fin, date) and fin.year > years[-1] and years[-1] < last.year:
        years = range(years[0], min(fin, last).year + 1)
        if fin <= last:
            return years, f"{period} prolongé jusqu'au {fmt_date(fin)} ({years[0]} à {years[-1]})"
        return years, (f"{period} prolongé, de {years[0]} à {years[-1]} : la fin de déploiement saisie, le "
                       f"{fmt_date(fin)}, dépasse celle du programme {name}, le {fmt_date(last)} (PRJ-04)")
    return years, f"{period} ({years[0]} à {years[-1]})"


def table_cell(conv: Convention, table: Table, attr: str | None = None) -> tuple[str, str]:
    """(sheet, A1) of the table's first data cell (of column `attr` when given) for table-level findings."""
    ref = conv.structure.table_refs.get(table.name)
    sheet = table.sheet
    if ref:
        sheet, rng = ref
        r1, c1, _, _ = parse_range(rng)
    else:
        r1, c1 = parse_a1(table.anchor)
    col = c1 + (table.position(attr) if attr else 0)
    return sheet, a1(r1 + 1, col)


def action_of(ligne: Ligne) -> str:
    return str(getattr(ligne, "numero", None) or "") if ligne.TABLE in (
        layout.T_ACTIONS, layout.T_FINANCEMENTS, layout.T_INDICATEURS) else ""


def at(ligne: Ligne, attr: str, code: str, gravite: Gravite, message: str, suggestion: str = "",
       action: str | None = None) -> Finding:
    """A finding on one cell of a table row."""
    return Finding(code=code, gravite=gravite, feuille=ligne.sheet, cellule=ligne.cell(attr),
                   action=action_of(ligne) if action is None else action, message=message,
                   suggestion=suggestion)


def at_named(conv: Convention, name: str, code: str, gravite: Gravite, message: str,
             suggestion: str = "") -> Finding:
    nc = layout.NAMED_BY_NAME[name]
    nv = conv.names.get(name)
    return Finding(code=code, gravite=gravite, feuille=(nv.sheet if nv and nv.sheet else nc.sheet),
                   cellule=(nv.cell if nv and nv.cell else nc.cell), message=message, suggestion=suggestion)


def at_table(conv: Convention, table: Table, code: str, gravite: Gravite, message: str,
             suggestion: str = "", attr: str | None = None, action: str = "") -> Finding:
    sheet, cell = table_cell(conv, table, attr)
    return Finding(code=code, gravite=gravite, feuille=sheet, cellule=cell, action=action,
                   message=message, suggestion=suggestion)


# ----------------------------------------------------------------------------- wording
QUOTED_MAX = 200  # characters of a quoted value: a message stays a line, even for a 32,768-character cell


def q(text: Any) -> str:
    """« text » (French quotes), a very long text cut with « … » (STR-10 reports the length)."""
    text = str(text)
    if len(text) > QUOTED_MAX:
        text = text[:QUOTED_MAX] + "…"
    return f"« {text} »"


def prefix(ligne: Ligne) -> str:
    """How a message names its line: the action when there is one, else the row."""
    n = action_of(ligne)
    if n:
        return f"Action {n}" if ligne.TABLE is layout.T_ACTIONS else f"Action {n}, ligne {ligne.row}"
    return f"Ligne {ligne.row}" if ligne.row else "Ligne"


def show_raw(raw: Any) -> str:
    """A value as the user typed it: 19 (not « 19.0 », how a spreadsheet stores every number),
    2019,5 with a French decimal comma, VRAI/FAUX as Excel shows them in French."""
    if isinstance(raw, (date,)):
        return fmt_date(raw)
    if isinstance(raw, bool):
        return "VRAI" if raw else "FAUX"
    if isinstance(raw, float) and math.isfinite(raw):
        return fmt_typed(raw)
    return str(raw)


def looks_the_same(found: str, expected: str) -> str | None:
    """How `found` differs from `expected` when it shows as it — other spaces (non-breaking, narrow,
    several in a row) or invisible characters (zero-width, a soft hyphen), a text pasted from a web
    page or a PDF — after « ne s'en distingue que par »; None when it differs otherwise, or not."""
    seen = "".join(" " if unicodedata.category(c) == "Zs" else "" if unicodedata.category(c) == "Cf" else c
                   for c in found)
    if found == expected or " ".join(seen.split()) != expected:
        return None
    if not any(c != " " and unicodedata.category(c) in ("Zs", "Cf") for c in found):
        return "des espaces en trop"  # « En  cours »: nothing invisible, a space doubled
    return "une espace insécable ou un caractère invisible"


def _a_year(raw) -> bool:
    """A number that `parse_date` refuses because it is a year typed alone, not an out-of-range serial."""
    return (isinstance(raw, (int, float)) and not isinstance(raw, bool) and YEAR_MIN <= raw <= YEAR_MAX
            and float(raw).is_integer())


def describe_problem(header: str, kind: Kind, p: Problem, choices: tuple[str, ...] = ()) -> tuple[str, str]:
    """(message tail, suggestion) for a value the reader could not parse."""
    h = q(header)
    if p.kind == "texte_nombre":
        if kind is Kind.AMOUNT:
            typed = format(exact(p.suggestion), "f").replace(".", ",")
            s = (f"Remplacez le texte par le montant {fmt_euros(p.suggestion)} : tapez {typed} (sans espace ni "
                 "symbole €), la cellule l'affiche en euros.")
        elif kind is Kind.YEAR:
            s = f"Saisissez l'année {p.suggestion} comme un nombre."
        else:
            s = f"Saisissez {fmt_number(p.suggestion, places(p.suggestion))} comme un nombre, sans texte."
        return f"{h} contient du texte ({q(p.raw)}) au lieu d'un nombre.", s
    if p.kind == "pas_nombre":
        what = "un montant en euros" if kind is Kind.AMOUNT else "un nombre"
        return f"{h} n'est pas un nombre : {q(show_raw(p.raw))}.", f"Saisissez {what}."
    if p.kind == "pas_annee":
        # a date in a year cell (a format changed, a date pasted): the year it holds is the one meant
        sugg = (f"Saisissez l'année {p.raw.year} seule, comme un nombre." if isinstance(p.raw, date)
                else "Saisissez une année sur quatre chiffres, par exemple 2025.")
        return f"{h} n'est pas une année : {q(show_raw(p.raw))}.", sugg
    if p.kind == "pas_date":
        if p.suggestion:
            s = f"Saisissez la date {fmt_date(p.suggestion)} comme une vraie date (cellule au format date)."
        elif _a_year(p.raw):  # 2018: a year (`parse_date`); 0, -3 or 3 000 000 are no year
            s = "Une année seule n'est pas une date : saisissez la date complète au format jj/mm/aaaa."
        else:
            s = "Saisissez une date valide au format jj/mm/aaaa."
        if isinstance(p.raw, time):
            # a serial number below 1: a time typed, or a negative number, whose sign no reader keeps (calamine,
            # COM and Office.js give its time alone: « -100 » was « 00:00:00 », « -0,0001 » « 23:59:51.360000 »);
            # midnight is also 0, a formula's result where the cell it names is empty (« =B30 »)
            if p.raw == time(0):
                return (f"{h} n'est pas une date : zéro ou un nombre négatif, qu'Excel affiche « 00/01/1900 » ou "
                        "« ### » au format date."), s
            shown = p.raw.strftime("%H:%M:%S" if p.raw.second else "%H:%M")
            return (f"{h} n'est pas une date : une heure seule ({q(shown)}) ou un nombre négatif, qu'Excel affiche "
                    "« ### » au format date."), s
        return f"{h} n'est pas une date : {q(show_raw(p.raw))}.", s
    if p.kind == "hors_liste":
        if p.suggestion and isinstance(p.raw, str) and (how := looks_the_same(p.raw, p.suggestion)):
            # « contient « En cours », qui n'est pas une valeur de la liste » named two texts seen as one
            return (f"{h} contient {q(p.raw)}, qui ne se distingue de la valeur de la liste {q(p.suggestion)} que par "
                    f"{how} (texte collé).",
                    f"Choisissez {q(p.suggestion)} dans la liste déroulante.")
        if p.suggestion:
            s = f"Choisissez {q(p.suggestion)} dans la liste déroulante."
        else:
            s = "Choisissez une valeur de la liste déroulante : " + ", ".join(choices) + "." if choices else ""
        return f"{h} contient {q(show_raw(p.raw))}, qui n'est pas une valeur de la liste.", s
    if p.kind == "pas_axe":
        return (f"{h} doit désigner l'un des cinq axes du programme ; {q(show_raw(p.raw))} n'en est pas un.",
                "Choisissez « Axe 1 » à « Axe 5 » dans la liste déroulante.")
    if p.kind == "erreur_excel":
        return (f"{h} contient l'erreur Excel {p.raw}.",
                "Corrigez la formule qui produit cette erreur, ou saisissez la valeur directement.")
    if p.kind == "formule_sans_valeur":
        return (f"{h} contient une formule dont le résultat n'a jamais été calculé (fichier produit par "
                "un programme et jamais recalculé) : sa valeur est inconnue.",
                "Ouvrez le classeur dans Excel ou LibreOffice, laissez-le recalculer, puis enregistrez-le.")
    return f"{h} contient une valeur illisible : {q(show_raw(p.raw))}.", ""


# Problems owned by STR-06 / STR-07, never re-reported by a family rule.
STRUCTURE_KINDS = ("erreur_excel", "formule_sans_valeur")


def problem_findings(conv: Convention, table: Table, attrs: Iterable[str], code: str, gravite: Gravite,
                     kinds: Iterable[str] | None = None) -> Iterable[Finding]:
    """One finding per value problem of `attrs` in `table` (except Excel errors and uncomputed formulas)."""
    wanted = set(kinds) if kinds is not None else None
    attrs = tuple(attrs)
    for ligne in index(conv).with_problems(table):
        for attr in attrs:
            p = ligne.problems.get(attr)
            if p is None or p.kind in STRUCTURE_KINDS or (wanted is not None and p.kind not in wanted):
                continue
            col = table.column(attr)
            msg, sugg = describe_problem(col.header, col.kind, p, col.choices)
            yield at(ligne, attr, code, gravite, f"{prefix(ligne)} : {msg}", sugg)


def required_findings(conv: Convention, table: Table, attrs: Iterable[str], code: str,
                      gravite: Gravite) -> Iterable[Finding]:
    """One finding per really empty required cell of a non-empty row."""
    attrs = tuple(attrs)
    if not attrs:
        return
    # Only the rows holding a None in these columns can have an empty one: found with the cells read
    # in C (attrgetter; each attr is a field of the table's row model). Most required cells are
    # filled, on every row, on every run.
    get = attrgetter(*attrs)
    lignes = rows(conv, table)
    if len(attrs) == 1:
        lignes = [x for x in lignes if get(x) is None]
    else:
        lignes = [x for x, values in zip(lignes, map(get, lignes)) if None in values]
    for ligne in lignes:
        for attr in attrs:
            if getattr(ligne, attr) is None and blank(ligne, attr):
                yield at(ligne, attr, code, gravite,
                         f"{prefix(ligne)} : {q(table.header(attr))} est vide ; ce champ est obligatoire.")


def unknown(lines: Iterable[Ligne], attr: str, known) -> list[Ligne]:
    """The lines whose `attr` is not in `known` (None included), in row order, found in C: a rule
    that has nothing to say of a known value skips most lines at no Python step each."""
    lines = list(lines)
    return list(compress(lines, map(not_, map(known.__contains__, map(attrgetter(attr), lines)))))


def _numeros(actions: list) -> tuple[tuple[str, ...], set[str]]:
    """The actions' numbers (each once, in row order) and the same as a set (FIN-01, IND-01)."""
    numeros = tuple(dict.fromkeys(a.numero for a in actions if a.numero))
    return numeros, set(numeros)


def action_reference(conv: Convention, lines: Iterable[Ligne], code: str, vide) -> Iterable[Finding]:
    """FIN-01, IND-01: each line must name an action of `T_Actions`. `vide(line)` gives the
    (message, suggestion) for a line whose `N° action` is empty; an unknown number gets the
    closest existing one as suggestion."""
    from acv_xl.contract.values import closest

    numeros, known = index(conv).memo("numeros", lambda: _numeros(rows(conv, layout.T_ACTIONS)))
    for line in unknown(lines, "numero", known):  # a known number (most lines) has nothing to say
        if line.numero is None and blank(line, "numero"):  # the test inlined first: a call per line
            yield at(line, "numero", code, Gravite.ERREUR, *vide(line))
        elif line.numero and line.numero not in known:
            c = closest(line.numero, numeros)
            yield at(line, "numero", code, Gravite.ERREUR,
                     f"Ligne {line.row} : l'action {q(line.numero)} n'existe pas dans les fiches-actions.",
                     f"Indiquez {q(c)}." if c else "Indiquez le numéro d'une action de la feuille Fiches-actions.")


def money(d) -> str:
    return fmt_euros(d)


_INSEE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
# département code, SIREN and spaces (PRJ-02, PRJ-05, PRJ-08), compiled once
RE_DEPARTEMENT = re.compile(r"\d{2}|2[AB]|97\d")
RE_SIREN = re.compile(r"\d{9}")
RE_SPACE = re.compile(r"\s")
# `acv_id` as the programme writes it, and as a user may mistype it (« acv 14 », « ACV-014 »)
RE_ACV_ID = re.compile(r"ACV\d{3}")
_ACV_ID_LOOSE = re.compile(r"(?i)acv[\s_-]*0*(\d{1,3})")


def meant_acv_id(value) -> str | None:
    """The identifier an `acv_id` designates: itself when well formed, `ACV` + 3 digits for a loose
    spelling (« acv 14 » → ACV014, the form PRJ-03 suggests), None for anything else."""
    s = str(value).strip() if value is not None else ""
    if RE_ACV_ID.fullmatch(s):
        return s
    m = _ACV_ID_LOOSE.fullmatch(s)
    return "ACV" + m.group(1).zfill(3) if m else None


def is_insee(code: str) -> bool:
    return bool(_INSEE.match(code))


# Register every family (import order is irrelevant: findings are sorted).
from . import (  # noqa: E402,F401
    actions,
    diagnostic,
    financement,
    gouvernance,
    indicateurs,
    liste_nationale,
    perimetres,
    projet,
    structure,
)

__all__ = ["REGISTRY", "Rule", "Index", "rule", "run_rules", "codes_within", "usable", "action_reference", "E", "A", "I"]
