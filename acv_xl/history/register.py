"""The register of a département: every `consolider --registre` run, in one SQLite file.

Python's own `sqlite3`, no server: any SQLite tool opens the file (docs/registre.md describes the
tables and gives queries). What it is for:
- the département's history across comités (`acv-xl historique` reads it);
- a cache: a file whose SHA-256 and rules version are recorded is not read again, its
  `FileSummary` comes back from the register (the consolidated workbook is the same as a cold run's),
  if that summary is sealed with this user's key (`controle`, `register_key.analysis_seal`): the register
  may come from elsewhere, and a summary edited with any SQLite tool must never pass for a workbook's.

Choices:
- What a file's content gives (its summary, lines and findings) is an « analyse », stored once per
  content and rules version; a consolidation records its files, conventions and CON findings and
  points at the analyses. A warm run thus inserts a few thousand small rows, never rewrites the file.
- The summary itself is kept as JSON, each field in its own type (format 2, below), decoded by
  msgspec against the declared types: read back exactly and fast, and never `pickle` (a register
  received from elsewhere must not run code, nor crash the process: a summary that does not fit
  its types is not used, the file is read again). A summary in any other form (the tagged JSON
  acv-xl wrote before format 2) is not used either: it was recorded under another rules version,
  which no lookup matches (`rules_version` digests the code that made it).
- One rule looks at « today » when a workbook has no comité date (DIA-04, the end of the
  initialisation phase): an analysis made before that end is reused until that day only
  (`valid_until`).
- One transaction per run (`BEGIN IMMEDIATE`: a second run waits, up to `ATTENTE` seconds, then
  stops with a French message); SQLite's rollback journal (not WAL, which a network share does not
  support): a run killed at any moment leaves the register as it was.
- A register written by a newer acv-xl is refused; a file that is not an acv-xl register, or is
  damaged, is reported (exit 2) and never recreated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from zlib_ng.zlib_ng import crc32  # zlib's CRC-32, a tenth of its time (8 MB of summaries a warm run)

from acv_xl.contract import file_kinds, layout, values
from acv_xl.contract.system_errors import os_error_text, resolved
from acv_xl.checks.rules.consolidation import ACTION_FIELDS, LINE_FIELDS, FileSummary
from acv_xl.checks.findings import Gravite
from acv_xl.checks.totals import Totaux
from acv_xl.outputs import output_guard
from acv_xl.outputs.consolidation import MOTIF_PAS_CLASSEUR, UsageError
from acv_xl.outputs.consolidation_result import ConsolidationResult, label_shown
from acv_xl.outputs.terminal import file_text
from acv_xl.history.register_key import analysis_seal, block_key, seal

if TYPE_CHECKING:  # the list's module (pydantic models) is imported only where a list is read
    from acv_xl.contract.reference import Reference

SCHEMA_VERSION = 3
APPLICATION_ID = 0x41435658  # « ACVX »: `PRAGMA application_id`, what tells our register from another SQLite file
ATTENTE = 30.0  # seconds a run waits for another one to finish recording
_SQLITE_HEADER = b"SQLite format 3\x00"
_MAX_ID = 2**63 - 1  # SQLite's largest integer, and so rowid

# Schema, by version: the statements that bring a register from version n-1 to n.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE consolidations (
            id INTEGER PRIMARY KEY,
            date TEXT NOT NULL,
            comite TEXT,
            departement TEXT,
            version_acv_xl TEXT NOT NULL,
            version_regles TEXT NOT NULL,
            sans_erreurs INTEGER NOT NULL DEFAULT 0,
            sortie TEXT,
            fichiers INTEGER NOT NULL,
            conventions_comptees INTEGER NOT NULL,
            financement_total REAL NOT NULL
        )""",
        """CREATE TABLE analyses (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL,
            version_regles TEXT NOT NULL,
            jour TEXT NOT NULL,
            valable_jusqu_au TEXT,
            acv_id TEXT,
            libelle TEXT,
            etat TEXT NOT NULL,
            resume TEXT NOT NULL
        )""",
        "CREATE INDEX analyses_contenu ON analyses (sha256, version_regles)",
        """CREATE TABLE lignes (
            analyse_id INTEGER NOT NULL REFERENCES analyses (id),
            rang INTEGER NOT NULL,
            numero TEXT, intitule TEXT, axe INTEGER, financeur TEXT, dispositif TEXT, nature TEXT,
            annee INTEGER, montant REAL, statut TEXT, compte INTEGER NOT NULL, motif TEXT,
            feuille TEXT, cellule TEXT,
            PRIMARY KEY (analyse_id, rang)
        )""",
        """CREATE TABLE constats (
            analyse_id INTEGER NOT NULL REFERENCES analyses (id),
            rang INTEGER NOT NULL,
            code TEXT NOT NULL, gravite TEXT NOT NULL, feuille TEXT, cellule TEXT, action TEXT,
            message TEXT, suggestion TEXT,
            PRIMARY KEY (analyse_id, rang)
        )""",
        """CREATE TABLE fichiers (
            id INTEGER PRIMARY KEY,
            consolidation_id INTEGER NOT NULL REFERENCES consolidations (id),
            chemin TEXT NOT NULL,
            taille INTEGER,
            modifie_le TEXT,
            sha256 TEXT,
            analyse_id INTEGER REFERENCES analyses (id),
            relu INTEGER NOT NULL,
            etat TEXT NOT NULL,
            acv_id TEXT,
            compte INTEGER NOT NULL,
            motif TEXT
        )""",
        "CREATE INDEX fichiers_consolidation ON fichiers (consolidation_id)",
        """CREATE TABLE conventions (
            consolidation_id INTEGER NOT NULL REFERENCES consolidations (id),
            fichier_id INTEGER NOT NULL REFERENCES fichiers (id),
            acv_id TEXT,
            libelle TEXT,
            communes TEXT,
            etat TEXT NOT NULL,
            compte INTEGER NOT NULL,
            cout_total REAL,
            financement_total REAL,
            ecart REAL,
            acquis REAL,
            erreurs INTEGER NOT NULL,
            avertissements INTEGER NOT NULL,
            informations INTEGER NOT NULL
        )""",
        "CREATE INDEX conventions_consolidation ON conventions (consolidation_id)",
        """CREATE TABLE constats_consolidation (
            consolidation_id INTEGER NOT NULL REFERENCES consolidations (id),
            fichier_id INTEGER NOT NULL REFERENCES fichiers (id),
            code TEXT NOT NULL, gravite TEXT NOT NULL, feuille TEXT, cellule TEXT, message TEXT, suggestion TEXT
        )""",
        # the counted lines of each consolidation: the lines of its counted files' analyses
        """CREATE VIEW lignes_comptees AS
            SELECT f.consolidation_id, f.id AS fichier_id, f.chemin, f.acv_id, l.*
            FROM fichiers f JOIN lignes l ON l.analyse_id = f.analyse_id
            WHERE f.compte = 1 AND l.compte = 1""",
    ),
    # each workbook's rows of the consolidated `Lignes` and `Anomalies` sheets, ready to join
    # (`consolidation_blocks`): per analysis, place shown (the file's path is in its cells) and sheet
    2: (
        """CREATE TABLE blocs (
            analyse_id INTEGER NOT NULL REFERENCES analyses (id),
            chemin TEXT NOT NULL,
            feuille TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            lignes INTEGER NOT NULL,
            longueur INTEGER NOT NULL,
            crc32 INTEGER NOT NULL,
            controle INTEGER NOT NULL,
            deflate BLOB NOT NULL,
            PRIMARY KEY (analyse_id, chemin, feuille)
        )""",
    ),
    # each analysis sealed with its user's key (`register_key.analysis_seal`): a summary is reused only
    # if its seal matches, never one edited since by any SQLite tool nor one recorded under another key
    3: (
        "ALTER TABLE analyses ADD COLUMN controle INTEGER",
    ),
}
# What a register must hold to be read (a table missing: damaged, or not ours).
TABLES = ("consolidations", "analyses", "lignes", "constats", "fichiers", "conventions", "constats_consolidation",
          "blocs")


# the tables whose rows acv-xl numbers by their `id` (SQLite's rowid: INTEGER PRIMARY KEY)
_NUMBERED = ("consolidations", "analyses", "fichiers")

# the tables added after the first schema, by the version that added them (a register of an earlier
# schema, only read, has not got them)
_TABLES_SINCE = {"blocs": 2}
# (and a column: `analyses.controle`, 3 — read only by a consolidation, which migrates the register first)



class RegisterError(UsageError):
    """The register cannot be used (damaged, newer, busy…): a French message, exit status 2."""


# ------------------------------------------------------------------ the rules' version
@cache
def rules_version(version: str) -> str:
    """acv-xl's version and a digest of the code that turns a file into its summary (contract,
    reading, checks and the batch's `summarize`): any change to it, even without a new version
    number, makes the register read every file again."""
    from acv_xl.outputs import consolidation as batch

    root = Path(__file__).resolve().parents[1]
    files = sorted(p for d in ("contract", "reading", "checks") for p in (root / d).rglob("*.py"))
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    # of the batch, only what builds a summary (its other changes leave the summaries as they are)
    sources: dict[str, list[bytes]] = {}
    from acv_xl.outputs import consolidation_files as files_

    for fn in (batch.summarize, batch._fill, batch._identify, files_._identity, batch._is_consolidation, batch._text,
               batch._date, batch._filled):
        code = fn.__code__
        if code.co_filename not in sources:
            sources[code.co_filename] = Path(code.co_filename).read_bytes().splitlines(keepends=True)
        first, last = _line_span(code)
        h.update(b"".join(sources[code.co_filename][first - 1:last]))
    # and the fields `_fill` takes of each action and line, named outside it (their order is the summary's)
    h.update(repr((batch._ACTION_ATTRS, batch._LINE_ATTRS)).encode())
    # and the types a stored summary is decoded with: a summary stored under other ones is never taken
    # (its lines, decoded only once in use — `StoredLines` —, would stop the run rather than be read again)
    h.update(repr((_Stored.__annotations__, _Line, _Finding, _Action)).encode())
    # the blocks of `Lignes` and `Anomalies` kept beside each analysis: what builds them, and the
    # vocabulary, styles and row heights they hold (a change there must not reuse stale blocks)
    from acv_xl.outputs import consolidation_blocks as blocks
    from acv_xl.outputs import consolidation_result as result
    from acv_xl.outputs import consolidation_workbook as workbook
    from acv_xl.outputs import page_layout

    for fn in (blocks.inline_text, values.excel_text, blocks._cell, blocks._starts, blocks._Cells.__missing__,
               blocks._ValueCells.__missing__, blocks._Table.__init__, blocks._Table.xml, blocks._Table.xml_of_columns,
               blocks._Table._column, blocks._Table._plain_value, blocks._Table._row_by_row, blocks._without_trailing_blanks,
               blocks._builder, blocks.lignes_xml, blocks.anomalies_rows, blocks.anomalies_xml, blocks._long_widths,
               blocks._height, blocks._Heights.__missing__, blocks._lignes_long, blocks._lignes_heights, blocks._deflated,
               blocks.lignes_bloc, blocks.anomalies_bloc, result.own_anomalies,
               workbook.lignes_columns, workbook.anomalies_columns, workbook._excel_serial, page_layout.fit_width,
               page_layout.row_height, page_layout.text_lines, page_layout._text_lines, page_layout._chars,
               page_layout._calibri_room, page_layout._wrapped_lines, page_layout._em_width,
               page_layout.column_points, page_layout.one_line_chars):
        code = getattr(fn, "__wrapped__", fn).__code__  # a cached function: its own code
        if code.co_filename not in sources:
            sources[code.co_filename] = Path(code.co_filename).read_bytes().splitlines(keepends=True)
        first, last = _line_span(code)
        h.update(b"".join(sources[code.co_filename][first - 1:last]))
    h.update(repr((workbook._LITERAL.pattern, workbook._CONTROL.pattern, workbook._SPECIAL.__self__.pattern, values.EXCEL_CELL_CHARS,
                   blocks._COMPTE, blocks.XF, workbook.FORMATS, blocks.SANS_ID, blocks.OUI, blocks.NON,
                   workbook.lignes_columns(), workbook.anomalies_columns(), [g.libelle for g in Gravite],
                   page_layout.BASE_FONT_PT, page_layout.LINE_PT, page_layout.MAX_ROW_PT, page_layout.CALIBRI_ROOM,
                   page_layout._CALIBRI_DIGIT_EM, page_layout._UNKNOWN_CALIBRI_EM, page_layout._FONTS)).encode())
    # the national list shipped with the package: the rules compare each workbook with it (PRJ-06…);
    # its path, not its module (pydantic models: a warm run that reads no workbook never imports it)
    h.update((root / "contract" / "data" / "communes_acv.csv").read_bytes())
    return f"{version}+{h.hexdigest()[:12]}"


def _line_span(code) -> tuple[int, int]:
    """The lines of a function in its file: its first (`def`, or its first decorator) to the last
    holding code, its nested functions' and comprehensions' included. `inspect.getsource` without
    its tokenizer (≈ 3 ms of every run with a register), blank and comment lines after the last
    statement left out (they change nothing)."""
    last = code.co_firstlineno
    stack = [code]
    while stack:
        c = stack.pop()
        last = max([last, *(line for _, _, line in c.co_lines() if line is not None)])
        stack.extend(k for k in c.co_consts if isinstance(k, type(code)))
    return code.co_firstlineno, last


def list_suffix(liste: Reference | None) -> str:
    """What a list of communes given by the user (`--reference`, `ACV_XL_REFERENCE`) adds to the rules'
    version: a digest of its content and of how the findings cite it (its name, its date). Summaries
    judged with another list (another convention, a commune in another département, another name in a
    message) are then never reused; the shipped list (None) adds nothing."""
    if liste is None or liste.livree:
        return ""
    h = hashlib.sha256(f"{liste.libelle}\n{liste.date}\n".encode())
    try:
        h.update(Path(liste.chemin).read_bytes())
    except OSError:  # gone since it was checked: nothing recorded with it may be reused
        return "+liste-illisible"
    return f"+liste-{h.hexdigest()[:12]}"


# ------------------------------------------------------------------ a summary as JSON, and back
# The stored form (format 2): the summary's fields as a JSON object, `"format": 2` first, each value
# in its own JSON type — amounts as exact decimal text ("310000.00"), dates as ISO text — read back
# by a decoder that knows every field's type (msgspec), so that no Python function runs per value:
# a warm run decodes 990 summaries, 30 000 lines, in half the time of the tagged form it replaced. A
# value that does not have its declared type makes the summary unusable: the file is read again.
_S = str | None
# LINE_FIELDS: numero, intitule, axe, financeur, dispositif, nature, annee (a year, or the text
# typed when it is not one), montant, statut, compte, motif, feuille, cellule
_Line = tuple[_S, _S, int | None, _S, _S, _S, int | str | None, Decimal | None, _S, bool, _S, _S, _S]
# FINDING_FIELDS: a gravity the consolidation knows (another stopped it: « erreur interne »)
_Finding = tuple[_S, Literal[tuple(g.value for g in Gravite)], _S, _S, _S, _S, _S]
_Action = tuple[_S, _S, int | None, _S, _S, Decimal | None]  # ACTION_FIELDS


class _Stored(msgspec.Struct, tag_field="format", tag=2, forbid_unknown_fields=True):
    """A `FileSummary` as stored, less where the file lies and when it was touched (`_PER_RUN`)."""

    sha256: str
    etat: str
    acv_id: _S
    libelle: _S
    departement: _S
    epci: _S
    programme: _S
    version_modele: _S
    date_validation: date | None
    empreinte: _S
    empreinte_stockee: _S
    communes: tuple[str, ...]
    nb_actions: int
    totaux: Totaux | None
    acquis: Decimal
    lines: tuple[msgspec.Raw, ...]  # each line as stored, decoded when first used (`StoredLines`)
    findings: tuple[_Finding, ...]
    cells: dict[str, tuple[str, str]]
    actions: tuple[_Action, ...]
    financeur_col: str
    date_convention: date | None
    date_fin_initialisation: date | None
    date_fin_deploiement: date | None
    date_comite: date | None
    crash: str
    ignore: str


_PER_RUN = ("path", "rel", "size", "mtime")  # where the file lies and when it was touched: this run's
# every other field is stored: one added to FileSummary but not to `_Stored` makes its summaries
# unusable (`forbid_unknown_fields`), never silently lost (tests/test_register_reading.py checks it)
_STORED = tuple(fl.name for fl in dataclasses.fields(FileSummary) if fl.name not in _PER_RUN)
_FORMAT_2 = '{"format":2,'
_FORMAT_2_UTF8 = _FORMAT_2.encode()
_encoder = msgspec.json.Encoder()


@cache
def _decoder() -> msgspec.json.Decoder:
    return msgspec.json.Decoder(_Stored)  # the types resolved once, when a summary is first read


def dump_summary(f: FileSummary) -> str:
    d = {"format": 2}
    for name in _STORED:
        d[name] = getattr(f, name)
    if isinstance(f.lines, StoredLines):  # a summary the register gave: its lines as they were stored
        d["lines"] = f.lines.raw
    return _encoder.encode(d).decode()  # TEXT in SQLite (a BLOB would not be JSON to its tools)


def load_summary(text: str | bytes, path: str = "", rel: str = "", where: str | None = None) -> FileSummary:
    """The summary stored as `text` (or its UTF-8 bytes, msgspec's own input). Raises ValueError or
    TypeError when it cannot be used (edited by hand, damaged, of another form): the file is then
    read again.

    `where`: the register's name, for a summary `lookup_all` takes as sealed by this user. Its lines
    are then decoded only when first used (`StoredLines`): a warm run needs them only to count them
    (the blocks of `Lignes` are kept beside the summary), and decoding them was half of its lookup.
    Without it, they are decoded and checked here."""
    if not text.startswith(_FORMAT_2 if isinstance(text, str) else _FORMAT_2_UTF8):
        raise ValueError("résumé d'une autre forme que le format 2")
    fields = msgspec.structs.asdict(_decoder().decode(text))
    lines = StoredLines(fields["lines"], where or "")
    fields["lines"] = lines if where is not None else lines.decoded()
    summary = FileSummary(path=path, rel=rel, **fields)
    _check_amounts(summary)
    return summary


# No cell holds more characters than `EXCEL_CELL_CHARS`, so no amount read from a workbook has more
# digits: an amount past it (or not finite: NaN, Infinity) comes from a crafted or damaged register,
# and would stop the run (a NaN compared) or hang it (« 1E+999999999 » written out in French, digit
# by digit).
_IS_DECIMAL = Decimal.__instancecheck__  # `isinstance(v, Decimal)`, called from C


def _check_amounts(f: FileSummary) -> None:
    """Every amount of a decoded summary is one a workbook can hold (ValueError otherwise), but its
    lines' (checked as they are decoded: `StoredLines`). In C loops (`map`): 990 summaries of a warm
    run hold ≈ 40 000 amounts besides their lines."""
    amounts = [f.acquis, *(a[_COUT] for a in f.actions)]
    if f.totaux is not None:
        t = f.totaux
        amounts += [t.cout_total, t.financement_total]
        for d in (t.par_financeur, t.par_axe, t.par_annee, t.par_statut, t.par_action):
            amounts += d.values()
    _check_decimals(amounts)


def _check_decimals(amounts: list) -> None:
    amounts = list(filter(_IS_DECIMAL, amounts))
    if amounts and (not all(map(Decimal.is_finite, amounts))  # (the exponents of finite amounts only, below)
                    or max(map(Decimal.adjusted, amounts)) > values.EXCEL_CELL_CHARS
                    or min(map(Decimal.adjusted, amounts)) < -values.EXCEL_CELL_CHARS):
        raise ValueError("montant invalide dans le résumé")


_STATUT = LINE_FIELDS.index("statut")
_MONTANT = LINE_FIELDS.index("montant")
_COUT = ACTION_FIELDS.index("cout_total")


def valid_until(f: FileSummary, today: date) -> str | None:
    """The last day a summary made `today` stays true (ISO date), None for ever.

    Two rules look at the day when a workbook names no comité date (they judge at the next
    comité's date, else at today's): DIA-04 (the diagnostic after the end of the initialisation
    phase) and FIN-24 (the lapse of a granted État subsidy). A summary made on or before the end of
    the initialisation holds until it; one with a granted line (`Acquis`, `Engagé`, `Versé`, which
    FIN-24 may judge) holds for the day it was made: the file is read again the next time."""
    if f.date_comite is not None:
        return None
    horizons = []
    fin = f.date_fin_initialisation
    if fin is not None and today <= fin:
        horizons.append(fin)
    if any(line[_STATUT] in layout.STATUTS_ACQUIS for line in f.lines):
        horizons.append(today)
    return min(horizons).isoformat() if horizons else None


# ------------------------------------------------------------------ the register
def _fl(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


LIGNES_COLUMNS = "rang, numero, intitule, axe, financeur, dispositif, nature, annee, montant, statut, compte, motif, " \
    "feuille, cellule"


def line_rows(f: FileSummary) -> list[tuple]:
    """The rows of `lignes` (its `LIGNES_COLUMNS`) for a summary's lines, as they are written and as
    SQLite gives them back: `historique` checks the table against the summary with them."""
    return _rows_of_lines(f.lines)


def _rows_of_lines(lines) -> list[tuple]:
    return [(k, n, i, ax, fi, d, na, an if isinstance(an, int) else None, _fl(m), st, int(c), mo or None, fe, ce)
            for k, (n, i, ax, fi, d, na, an, m, st, c, mo, fe, ce) in enumerate(lines)]


class _StoredLines(msgspec.Struct, tag_field="format", tag=2):
    """A stored summary's lines alone: the rest of it skipped by msgspec, never built."""

    lines: tuple[_Line, ...]


@cache
def _lines_decoder() -> msgspec.json.Decoder:
    return msgspec.json.Decoder(_StoredLines)


@cache
def _line_list_decoder() -> msgspec.json.Decoder:
    return msgspec.json.Decoder(tuple[_Line, ...])


# The texts `StoredLines.first` looks for in the lines as stored, at most: each line is searched for
# each of them in Python, and past a few that costs more than decoding every line (in C, once) — a
# plan whose financeur column holds thousands of texts took lines × texts searches (0.8 s of CPU for
# 2,000 codes on 4,000 lines, which decode in 6 ms).
_SEARCHED_AS_STORED = 8


class StoredLines(Sequence):
    """The lines of a summary the register gave (`FileSummary.lines`), as stored: counted at once,
    decoded and checked (types and amounts, as `load_summary` checks the rest) when first used —
    `CON-05` on an unknown financeur code, the extracts by financeur. A summary is taken only when
    sealed by this user (`lookup_all`), so a line that does not decode means a register crafted with
    this user's key: said as a damaged register (`RegisterError`), never a crash."""

    __slots__ = ("raw", "_where", "_lines")

    def __init__(self, raw: tuple[msgspec.Raw, ...], where: str):
        self.raw = raw
        self._where = where
        self._lines: tuple | None = None

    def decoded(self) -> tuple:
        if self._lines is None:
            self._lines = self._decode(self.raw)
        return self._lines

    def _decode(self, raw: Sequence) -> tuple:
        """The lines stored as `raw`, decoded and checked; one that does not decode: a damaged register."""
        try:
            lines = _line_list_decoder().decode(b"[" + b",".join(raw) + b"]")
            _check_decimals([line[_MONTANT] for line in lines])
        except (ValueError, TypeError) as exc:
            if not self._where:
                raise
            raise damaged_error(self._where, "le résumé enregistré d'un classeur ne se relit pas : le registre "
                                             "a-t-il été modifié avec un autre outil ?") from exc
        return lines

    def first(self, column: int, values, counted: int) -> tuple | None:
        """`next(line for line in self if line[counted] and line[column] in values)`, the text `values` looked
        for in the lines as stored and only the lines holding one decoded (and checked): CON-05 names the
        first counted line of an unknown financeur code, and decoding every line of its summaries was half
        of the CON rules of a warm run (167 summaries of the 1,000 of issue #14). More than a few texts
        (`_SEARCHED_AS_STORED`): every line decoded, as before."""
        wanted = set(values)  # a line's text looked up, not compared with each of thousands
        if self._lines is None and len(wanted) <= _SEARCHED_AS_STORED and all(isinstance(v, str) for v in wanted):
            marks = [_encoder.encode(v) for v in wanted]  # as a stored line holds them (`dump_summary`)
            for raw in self.raw:
                text = bytes(raw)
                if any(m in text for m in marks):
                    (line,) = self._decode((text,))
                    if line[counted] and line[column] in wanted:
                        return line
        # decoded already, many texts, or none found as stored (another writing of the text?): every line
        return next((line for line in self.decoded() if line[counted] and line[column] in wanted), None)

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, i):
        return self.decoded()[i]

    def __iter__(self):
        return iter(self.decoded())

    def __eq__(self, other) -> bool:
        return self.decoded() == (other.decoded() if isinstance(other, StoredLines) else other)

    __hash__ = None  # as a list's: compared by value

    def __repr__(self) -> str:
        return repr(self.decoded())

    def __reduce__(self):  # pickled as the tuple it stands for
        return tuple, (self.decoded(),)


def stored_line_rows(text: str | bytes) -> list[tuple]:
    """`line_rows` of the summary stored as `text`, its lines alone decoded: `historique` checks the
    lines of every analysis counted (a whole summary decoded and checked for each took a quarter of its
    time). ValueError when they cannot be read (another form, damaged)."""
    return _rows_of_lines(_lines_decoder().decode(text).lines)


class _StoredActions(msgspec.Struct, tag_field="format", tag=2):
    """A stored summary's actions alone: the rest of it skipped by msgspec, never built."""

    actions: tuple[_Action, ...]


@cache
def _actions_decoder() -> msgspec.json.Decoder:
    return msgspec.json.Decoder(_StoredActions)


def stored_actions(text: str | bytes) -> list[tuple]:
    """The actions (`ACTION_FIELDS`) of the summary stored as `text`, its actions alone decoded
    (`historique`: an action abandoned between two comités). ValueError when they cannot be read
    (another form, damaged)."""
    return list(_actions_decoder().decode(text).actions)


class Register:
    """An open register: `lookup` for the batch (the `SummaryCache` of `outputs.consolidation`), and
    `begin` (its `Recorder`: inserts while the workbook is written, committed once every output is) or
    `record` (the same at once)."""

    def __init__(self, path: Path, con: sqlite3.Connection, version: str, liste: Reference | None = None):
        self.path = path
        self.con = con
        self.version = version  # acv-xl's (given by the command line: this layer does not import the package's top)
        # `liste`: the list of communes the files are judged with (None: the shipped one)
        self.version_regles = rules_version(version) + list_suffix(liste)
        self.today = date.today().isoformat()
        self._known: dict[str, int] = {}  # sha256 → analysis id, for the files this run took from here
        # analysis id → CRC-32 of its summary as stored: each block is checked against the summary it
        # was made from (`controle`), never reused beside a summary edited since
        self._resume_crc: dict[int, int] = {}
        # what the command says after the run (`record`): a consolidation sharing no convention with
        # the previous one of its scope (another département's register given by mistake), a comité
        # dated before one already recorded
        self.notices: list[str] = []
        self._pending: PendingRecord | None = None  # the run `begin` started, until `finish` or `abandon`
        self._closed = False
        # the id of the consolidation committed, even when a Ctrl-C came just after: the command then
        # says it is recorded, never « interrompu » alone (the user would record it twice)
        self.recorded: int | None = None
        # whether this open made the register (no file there, or an empty one): said after the run, a
        # path mistyped or a register moved would otherwise start a new history without a word
        self.created = False
        self._new_file = False  # whether the file did not exist before this open: removed by `close` if nothing was recorded
        self.first = False  # whether the run recorded is the register's first (made empty by a run that failed)

    # -- opening
    @classmethod
    def open(cls, path: Path, version: str, create: bool = True, liste: Reference | None = None) -> Register:
        path = Path(path)
        where = f"« {path} »"
        if (why := output_guard.windows_only_problem(path.name)) is not None:  # `--registre aux.sqlite`: the device
            raise RegisterError(f"le registre ne peut pas être ouvert : {why} Choisissez un autre nom de fichier.")
        if path.is_dir():
            raise RegisterError(f"le registre {where} est un dossier : indiquez un fichier .sqlite.")
        if path.exists() and not path.is_file():  # a named pipe: reading its first bytes waited for ever
            raise RegisterError(f"le registre {where} n'est pas un fichier ordinaire (périphérique ou tube nommé) : "
                                "indiquez le fichier .sqlite du registre.")
        if path.exists():
            try:
                with open(path, "rb") as fh:
                    head = fh.read(len(_SQLITE_HEADER))
            except OSError as exc:
                raise RegisterError(f"registre {where} illisible : {os_error_text(exc)}.") from None
            # an empty file is an empty database for SQLite: nothing in it to lose (a run killed as
            # it created the register leaves one)
            if head.startswith(file_kinds.ZIP_MAGICS + (file_kinds.CFB_MAGIC,)):  # a workbook given for the
                try:                                                              # register (the consolidated one…)
                    kind = file_kinds.kind_of_file(path)
                except OSError as exc:
                    raise RegisterError(f"registre {where} illisible : {os_error_text(exc)}.") from None
                raise RegisterError(f"le fichier {where} est {kind}, pas un registre : indiquez le registre "
                                    "(fichier .sqlite) donné à « acv-xl consolider … --registre REGISTRE.sqlite » ; "
                                    "ce fichier n'a pas été modifié.")
            if head and head != _SQLITE_HEADER:
                raise damaged_error(where, "ce n'est pas un fichier SQLite")
            # a consolidation to record, into a file (or a folder, for SQLite's journal) it cannot
            # write: said now, before the whole folder is read for nothing
            if create and not (os.access(path, os.W_OK) and os.access(resolved(path).parent, os.W_OK)):
                raise readonly_error(where)
        elif not create:
            raise RegisterError(f"registre introuvable : {where}.")
        elif path.suffix.lower() in output_guard.DOCUMENT_EXTENSIONS:  # `--registre evolution.xlsx`: an SQLite file Excel cannot open
            raise RegisterError(f"le registre {where} aurait l'extension {path.suffix} d'un autre format : donnez-lui "
                                f"l'extension .sqlite (par exemple « {path.stem}.sqlite »). Rien n'est écrit.")
        elif not resolved(path).parent.is_dir():
            if (above := output_guard.file_above(path)) is not None:
                raise RegisterError(f"« {above} » est un fichier, pas un dossier (pour le registre {where}). "
                                    "Choisissez un autre dossier.")
            raise RegisterError(f"le dossier du registre n'existe pas : « {path.parent} » (pour « {path.name} »). "
                                "Créez-le d'abord, ou choisissez un autre dossier.")  # as `-o` and `--json` say it
        elif not os.access(resolved(path).parent, os.W_OK | os.X_OK):
            raise RegisterError(f"impossible de créer le registre {where} : vous ne pouvez pas écrire dans le dossier "
                                f"{path.parent}. Choisissez un dossier où vous pouvez écrire.")
        new_file = not path.exists()
        try:
            con = sqlite3.connect(str(path), timeout=ATTENTE, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:  # SQLite's words, in French
            if not path.exists():
                raise RegisterError(f"impossible de créer le registre {where} ({sqlite_why(exc)}) : vérifiez que vous "
                                    f"pouvez écrire dans le dossier {path.parent}, ou choisissez un autre "
                                    "dossier.") from None
            raise RegisterError(f"impossible d'ouvrir le registre {where} ({sqlite_why(exc)}) : vérifiez que vous "
                                "pouvez le lire et l'écrire.") from None
        reg = None
        try:
            con.execute(f"PRAGMA busy_timeout = {int(ATTENTE * 1000)}")
            reg = cls(path, con, version, liste)
            reg._check_or_create(where, migrate=create)
            reg._new_file = new_file and reg.created
        except (KeyboardInterrupt, SystemExit):  # a Ctrl-C as the register is made: no schema alone left behind
            # only the register this run made (`created`, known under the lock): another run may have made
            # it between this one's look and its opening, and be reading its workbooks
            ours = new_file and (reg is None or reg.created)
            if reg is not None and not reg._closed:
                reg._new_file = ours
                reg.close(remove_unused=True)  # (under its lock: another run may have recorded into it since)
            else:
                con.close()
            if ours:
                _remove_if_empty(path)  # (interrupted before its first commit: the empty file SQLite made)
            raise
        except RegisterError:
            con.close()
            raise
        except sqlite3.OperationalError as exc:
            con.close()
            if _locked(exc):
                raise _busy(where) from None
            if new_file and sqlite_why(exc) in (_READONLY, _FULL):  # the empty file SQLite made to create it
                _remove_if_empty(path)
            if sqlite_why(exc) == _READONLY:  # creating or migrating it on a medium that refuses writes
                raise readonly_error(where) from None
            if sqlite_why(exc) == _FULL:
                raise full_error(where) from None
            raise damaged_error(where, sqlite_why(exc)) from None
        except sqlite3.DatabaseError as exc:
            con.close()
            raise damaged_error(where, sqlite_why(exc)) from None
        return reg

    def _check_or_create(self, where: str, migrate: bool = True) -> None:
        """`migrate` False (a register only read, by `historique`): one of an earlier schema is read as
        it is, never written (it may be on a read-only medium); its own tables must be there."""
        con = self.con
        # one snapshot: another run creating the register meanwhile is seen whole or not at all (read
        # one statement at a time, its tables could come without its id: « pas un registre acv-xl »)
        def snapshot():
            con.execute("BEGIN")
            try:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                app = con.execute("PRAGMA application_id").fetchone()[0]
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                trigger = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' LIMIT 1").fetchone()
                keys = {t: [(c[1], c[2].upper()) for c in con.execute(f"PRAGMA table_info({t})") if c[5]]
                        for t in _NUMBERED if t in tables}
                journal = con.execute("PRAGMA journal_mode").fetchone()[0]
            finally:
                if con.in_transaction:  # (only read: a COMMIT that never waits)
                    con.execute("COMMIT")
            return version, app, tables, trigger, keys, journal

        version, app, tables, trigger, keys, journal = patiently(con, snapshot)
        if version < 0:  # PRAGMA user_version set by hand: no migration leads from there (« erreur interne »)
            raise damaged_error(where, f"numéro de version du schéma invalide : {version}")
        if version > SCHEMA_VERSION:
            raise RegisterError(
                f"le registre {where} a été écrit par une version plus récente d'acv-xl (schéma {version}, "
                f"cette version connaît le schéma {SCHEMA_VERSION}) : mettez acv-xl à jour ; le registre n'a "
                "pas été modifié.")
        if version == 0 and not tables and app in (0, APPLICATION_ID):
            if not migrate:  # only read (historique): an empty file stays one, and is said empty
                raise empty_error(where)
            self._migrate(where)  # (`created`: a new register, or an empty file, unless another run made it)
            return
        if app != APPLICATION_ID:
            raise damaged_error(where, "c'est une base SQLite qui n'est pas un registre acv-xl")
        # a trigger runs its SQL on each of our writes: a register from someone else may hold one that
        # never ends (a recursive query), or rewrites what is recorded; acv-xl never writes any
        if trigger:
            raise damaged_error(where, "il contient des déclencheurs SQL, qu'acv-xl n'écrit jamais ; "
                                "par sécurité, il n'est pas utilisé")
        # a table made again by another tool (CREATE TABLE … AS SELECT) keeps its rows, not its key: the
        # next run's consolidation was recorded without a number (« n° None »), its files under another
        renumbered = [t for t, key in keys.items() if key != [("id", "INTEGER")]]
        if renumbered:
            raise damaged_error(where, f"structure inattendue : la table « {renumbered[0]} » a été recréée avec un "
                                "autre outil, sa colonne « id » n'en est plus la clé")
        expected = TABLES
        if version < SCHEMA_VERSION and migrate:
            self._migrate(where)
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        elif version < SCHEMA_VERSION:
            expected = tuple(t for t in TABLES if t not in _TABLES_SINCE or _TABLES_SINCE[t] <= version)
        missing = [t for t in expected if t not in tables]
        if missing:
            raise damaged_error(where, f"table{'s' if len(missing) > 1 else ''} absente{'s' if len(missing) > 1 else ''} : "
                                  + ", ".join(missing))
        if migrate and journal == "wal":
            self._rollback_journal()

    def _rollback_journal(self) -> None:
        """The register back in SQLite's rollback journal when another tool left it in WAL mode (kept in
        the file): WAL is not safe on a network share, a copy without its « -wal » file loses the last
        consolidations, and on a read-only medium SQLite cannot open it at all (`historique`). Switched
        only when no other program has it open (SQLite refuses otherwise: it stays so for this run).
        Refused for any other cause (a disk I/O error on the share), it stays so too: the switch is a care,
        never a reason to stop the run — said « inutilisable », « restaurez une sauvegarde », the user lost
        the comités recorded since; a register really unusable is said by the reads and writes that follow.
        A full disk or a medium refusing writes is said at once (`open`), as it was: no consolidation can be
        recorded there, and the whole folder would be read for nothing."""
        con = self.con
        con.execute("PRAGMA busy_timeout = 0")  # never waited for: SQLite's wait cannot be interrupted
        try:
            con.execute("PRAGMA journal_mode = DELETE").fetchone()
        except sqlite3.OperationalError as exc:
            if sqlite_why(exc) in (_READONLY, _FULL):
                raise
        finally:
            con.execute(f"PRAGMA busy_timeout = {int(ATTENTE * 1000)}")

    def _migrate(self, where: str) -> int:
        """Bring the schema to `SCHEMA_VERSION`, in one transaction (a concurrent run waits, then
        finds it done); the version found under the lock (0: this run made the register)."""
        con = self.con
        patiently(con, lambda: con.execute("BEGIN IMMEDIATE"))
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]  # again, under the lock
            # this run makes it: known before the commit, so that a Ctrl-C landing just after it still
            # removes the register made for nothing (`open`)
            self.created = version == 0
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[v]:
                    con.execute(statement)
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            try:  # (refused while historique reads: tried again, as a whole)
                patiently(con, lambda: con.execute("COMMIT"))
            except sqlite3.OperationalError as exc:
                if _locked(exc):  # (its own lock held: others read)
                    raise _busy(where, read=True) from None
                raise
        except BaseException:
            _roll_back(con)
            raise
        return version

    def close(self, remove_unused: bool = False) -> None:
        """The connection closed; a run begun (`begin`) and neither finished nor abandoned is abandoned
        first (nothing recorded): closed under its thread still inserting, SQLite crashed the process.

        `remove_unused`: a register this open made (no file there before) and that holds no
        consolidation is removed (`consolider` that recorded nothing: « rien n'est écrit » is true)."""
        if self._pending is not None:
            self._pending.abandon()
        if self._closed:
            return
        unused = remove_unused and self._new_file and self.recorded is None and self._remove_if_unused()
        self.con.close()
        self._closed = True
        if unused and os.name == "nt":  # (an open file cannot be removed there: now, unless another program has it)
            try:
                resolved(self.path).unlink()
            except OSError:  # opened meanwhile by another run: an empty register stays
                pass

    def _remove_if_unused(self) -> bool:
        """Whether the register holds no consolidation, seen under the lock: another run that opened it
        since this one made it may have recorded one. Removed under that lock (on Windows, where an open
        file cannot be removed, by `close`): once the lock let go, the other run's commit could land in
        it just before its removal, « enregistrée » said and lost; one holding it open is refused by
        SQLite when it records (`moved_error`)."""
        try:
            self.con.execute("PRAGMA busy_timeout = 0")  # another run holding it is recording: kept at once
            self.con.execute("BEGIN IMMEDIATE")
            try:
                if self.con.execute("SELECT EXISTS (SELECT 1 FROM consolidations)").fetchone()[0]:
                    return False
                if os.name != "nt":  # (the file SQLite made: a link given as the path is the user's)
                    resolved(self.path).unlink()
                return True
            finally:
                self.con.execute("ROLLBACK")
        except (sqlite3.Error, OSError):  # busy, damaged since, not removable: kept as it is
            return False

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the cache
    def _check_open(self) -> None:
        """A register used after `close`: said in French (SQLite's « Cannot operate on a closed
        database » read as a damaged register, and a record begun then waited for ever)."""
        if self._closed:
            raise RegisterError(f"le registre « {self.path} » est fermé (close) : ouvrez-le de nouveau "
                                "(Register.open) pour le lire ou y enregistrer une consolidation.")

    def begin_snapshot(self) -> None:
        """A read transaction begun on the register (`historique`): its lock taken by short waits, so
        that a Ctrl-C stops the wait for a consolidation committing; busy past `ATTENTE`: `RegisterError`."""
        self._check_open()
        try:
            patiently(self.con, lambda: read_snapshot(self.con))
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                raise _busy(f"« {self.path} »") from None
            raise

    @contextmanager
    def _reading(self):
        """SQLite's errors while reading, as the register's French messages. The reads in one snapshot,
        its lock taken by short waits (`patiently`: a Ctrl-C stops the wait for another run committing)."""
        self._check_open()
        con = self.con
        own = False
        try:
            if not con.in_transaction:  # (a lookup never runs beside a record's thread: its transaction is its own)
                patiently(con, lambda: read_snapshot(con))
                own = True
            yield
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                raise _busy(f"« {self.path} »") from None
            raise damaged_error(f"« {self.path} »", sqlite_why(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise damaged_error(f"« {self.path} »", sqlite_why(exc)) from None
        finally:
            if own and con.in_transaction:
                try:
                    con.execute("COMMIT")  # only read: a COMMIT that never waits
                except sqlite3.Error:
                    pass

    @property
    def empty(self) -> bool:
        """No summary this run may reuse: none sealed and made with these rules (a new register, acv-xl
        updated, a register of schema 2), or no key to check a seal with. Nothing to look up."""
        if block_key() is None:
            return True
        with self._reading():
            return self.con.execute("SELECT 1 FROM analyses WHERE version_regles = ? AND controle IS NOT NULL LIMIT 1",
                                    (self.version_regles,)).fetchone() is None

    def known(self, sha256s) -> set[str]:
        """Which of these contents have a sealed summary usable today with these rules. Cheap: the seal
        itself is checked by `lookup_all`, and a file said known that it does not return is read."""
        wanted = sorted(set(sha256s))
        out: set[str] = set()
        if block_key() is None:  # no seal can be checked: every file is read
            return out
        with self._reading():
            for i in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
                chunk = wanted[i:i + 500]
                out.update(r[0] for r in self.con.execute(
                    "SELECT DISTINCT sha256 FROM analyses WHERE version_regles = ? AND controle IS NOT NULL AND "
                    f"(valable_jusqu_au IS NULL OR valable_jusqu_au >= ?) AND sha256 IN ({','.join('?' * len(chunk))})",
                    (self.version_regles, self.today, *chunk)))
        return out

    def lookup_all(self, sha256s) -> dict[str, FileSummary]:
        """The summaries recorded for these contents with these rules (still true today), by SHA-256
        (one query per 500). Each content's latest analysis whose seal matches this user's key is taken
        (two users sharing a register each find their own); one edited since, sealed under another key
        or not at all, or unreadable, is left out: its file is read again."""
        wanted = sorted(set(sha256s))
        if (key := block_key()) is None or not wanted:  # no key: no summary can be trusted
            return {}
        # The summaries as their UTF-8 bytes (a tenth of the decoding: no text made, then encoded again
        # for msgspec; and the very bytes the seal covers), not in SQLite's order of ids (it would sort
        # them, summaries and all). What this changes nowhere: a value that is not text is not used (as
        # before: not a `str`), and one that is not UTF-8 still makes the register damaged (`_not_utf8`),
        # found as the ordered query found it.
        utf8 = self._utf8()
        resume = "CASE typeof(resume) WHEN 'text' THEN CAST(resume AS BLOB) END" if utf8 else "resume"
        kind = bytes if utf8 else str
        candidates: dict[str, list[tuple[int, int, Any, Any, Any]]] = {}  # sha256 → (chunk, id, until, seal, summary)
        with self._reading():
            for i in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
                chunk = wanted[i:i + 500]
                for sha, aid, until, check, value in self.con.execute(
                        f"SELECT sha256, id, valable_jusqu_au, controle, {resume} FROM analyses "
                        "WHERE version_regles = ? AND controle IS NOT NULL AND (valable_jusqu_au IS NULL OR valable_jusqu_au >= ?) "
                        f"AND sha256 IN ({','.join('?' * len(chunk))})",
                        (self.version_regles, self.today, *chunk)):
                    candidates.setdefault(sha, []).append((i, aid, until, check, value))
        out: dict[str, FileSummary] = {}
        known: dict[str, int] = {}
        where = f"« {self.path} »"  # named by a summary whose lines would not decode (`StoredLines`)
        unchecked: list[tuple[int, int, bytes]] = []  # (chunk, id, bytes) that msgspec did not decode
        for sha, rows in candidates.items():
            if len(rows) > 1:
                rows.sort(key=lambda r: r[1], reverse=True)  # the latest recorded first
            for i, aid, until, check, value in rows:
                if sha not in out and type(value) is kind and type(check) is int \
                        and (until is None or type(until) is str):
                    try:
                        data = value if utf8 else value.encode("utf-8")
                        if analysis_seal(key, sha, self.version_regles, until, data) == check:
                            out[sha] = load_summary(value, where=where)
                            self._resume_crc[aid] = crc32(data)
                            known[sha] = aid
                            continue
                    except (ValueError, TypeError, KeyError, AttributeError):
                        pass  # sealed yet unreadable (written by another acv-xl of these rules?): read again
                if utf8 and type(value) is bytes:
                    unchecked.append((i, aid, value))
        if unchecked:
            self._not_utf8(unchecked)
        self._known.update(known)
        return out

    def _utf8(self) -> bool:
        """Whether the register keeps its text as UTF-8 (SQLite's default; UTF-16 if made so by hand)."""
        with self._reading():
            return self.con.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"

    def _not_utf8(self, unchecked: list[tuple[int, int, bytes]]) -> None:
        """Raise, as reading it as text does, for the first summary (in the order of the chunks, then of
        the ids) that is not UTF-8 (a summary msgspec decoded is UTF-8: it checks every string)."""
        for _chunk, aid, value in sorted(unchecked, key=lambda u: u[:2]):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                with self._reading():  # SQLite's own error, and so the register's message
                    self.con.execute("SELECT resume FROM analyses WHERE id = ?", (aid,)).fetchall()

    def lookup_blocs(self, files: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """The blocks kept for these (SHA-256, rel) whose summaries `lookup_all` just gave, by (sheet,
        rel) (`consolidation_blocks.Bloc`). One that does not match its key or its check (damaged,
        edited by hand, made from a summary edited since) is left out: it is made again from the summary."""
        from acv_xl.outputs.consolidation_blocks import Bloc

        wanted = {(self._known[sha], rel): sha for sha, rel in files if sha in self._known}
        ids = sorted({aid for aid, _rel in wanted})
        out: dict[tuple[str, str], Any] = {}
        if (key := block_key()) is None:  # no key: no block is trusted (nor kept, `_insert`)
            return out
        with self._reading():
            for i in range(0, len(ids), 500):  # SQLite's limit on bound parameters
                chunk = ids[i:i + 500]
                for aid, rel, feuille, sha, rows, length, crc, check, data in self.con.execute(
                        "SELECT analyse_id, chemin, feuille, sha256, lignes, longueur, crc32, controle, "
                        f"CAST(deflate AS BLOB) FROM blocs WHERE analyse_id IN ({','.join('?' * len(chunk))})", chunk):
                    if wanted.get((aid, rel)) != sha or type(feuille) is not str or type(data) is not bytes \
                            or not all(type(x) is int for x in (rows, length, crc, check)) \
                            or aid not in self._resume_crc \
                            or seal(key, self._resume_crc[aid], feuille, sha, rel, rows, length, crc, data) != check:
                        continue
                    out[feuille, rel] = Bloc(feuille, sha, rel, rows, length, crc, data, kept=True)
        return out

    def lookup(self, sha256: str) -> FileSummary | None:
        """The summary recorded for this content with these rules (still true today), or None."""
        return self.lookup_all([sha256]).get(sha256)

    # -- recording a run
    def record(self, result: ConsolidationResult) -> int:
        """Record the run in one transaction; its id. Nothing is written if anything fails."""
        return self.begin(result).finish()

    def begin(self, result: ConsolidationResult) -> PendingRecord:
        """The run's recording started in its transaction, in a thread: `consolider` writes the
        consolidated workbook meanwhile, then `finish` commits — or `abandon` leaves the register as
        it was, when an output could not be written. SQLite inserts without Python's lock, so that the
        two share the machine's cores (≈ 0,3 s of inserts for 1 000 files read, ≈ 0,4 s of writing)."""
        self._check_open()
        if self._pending is not None:  # one connection, one transaction: never two threads inserting on it
            raise RegisterError(f"le registre « {self.path} » enregistre déjà une consolidation : terminez-la "
                                "(finish) ou abandonnez-la (abandon) avant d'en commencer une autre.")
        self._pending = PendingRecord(self, result)
        return self._pending

    def _unrelated(self, r: ConsolidationResult) -> str | None:
        """A warning when none of this run's conventions (its readable workbooks, counted or not: a
        `--sans-erreurs` run counting others is no sign) was among the previous consolidation's of the
        same scope (`--departement`), or of the latest one when none has this scope — nor among the latest
        of every département's (no `--departement`: a région's register, then each département from its
        own folder) —, while both had some: the register of another département, given by mistake (a share
        where each référent keeps « registre.sqlite »).
        Recorded all the same (a département may also renew every convention), but said: `historique`
        will show every convention of the one « retirée » and every one of the other « ajoutée »."""
        from acv_xl.checks.rules.consolidation import norm_id  # (the import block is another's to edit)

        now = {norm_id(f.acv_id) for f in r.files if f.lisible and not f.ignore} - {""}
        # none of this scope (the 59's `--departement 59` given the 62's register): the latest of any scope
        scope = r.departement or ""
        prev = self.con.execute("SELECT id, comite, COALESCE(departement, '') FROM consolidations "
                                "ORDER BY COALESCE(departement, '') = ? DESC, id DESC LIMIT 1", (scope,)).fetchone()
        if not now or prev is None:
            return None

        def read_by(cid: int) -> set[str]:
            return {norm_id(a) for (a,) in self.con.execute(
                "SELECT acv_id FROM conventions WHERE consolidation_id = ?", (cid,)) if isinstance(a, str)} - {""}

        before = read_by(prev[0])
        if not before or before & now:
            return None
        if prev[2] != scope:  # none of this scope: a consolidation of every département covers it too
            every = self.con.execute("SELECT id FROM consolidations WHERE COALESCE(departement, '') = '' "
                                     "ORDER BY id DESC LIMIT 1").fetchone()
            if every is not None and read_by(every[0]) & now:
                return None

        def some(ids: set[str]) -> str:
            first = sorted(ids)[:3]
            return ", ".join(first) + (", …" if len(ids) > 3 else "")

        comite = f", « {label_shown(prev[1].strip())} »" if isinstance(prev[1], str) and prev[1].strip() else ""
        if prev[2] == scope:
            return (f"aucune des conventions lues ({some(now)}) ne figurait dans la consolidation précédente du "
                    f"registre « {self.path} » (n° {prev[0]}{comite} : {some(before)}). Vérifiez qu'il s'agit du "
                    "registre de ce département : la consolidation y est enregistrée, et « acv-xl historique » y "
                    "montrera les unes retirées et les autres ajoutées.")
        # the first run of its scope: another département's register, or a région's where this département
        # comes for the first time — both named, so that the référent of a région knows there is nothing to do
        autre = f"département {prev[2]}" if prev[2] else "tous les départements"
        ici = f"du département {scope}" if scope else "sans --departement"
        # (a run of every département has no series of its own: historique shows it among the others)
        montre = f" (« acv-xl historique --departement {scope} » montrera cette série)" if scope else ""
        return (f"aucune des conventions lues ({some(now)}) ne figurait dans la dernière consolidation du registre "
                f"« {self.path} » (n° {prev[0]}, {autre}{comite} : {some(before)}), qui n'en a encore aucune "
                f"{ici}. S'il s'agit du registre d'une région, rien à faire{montre} ; sinon, "
                "vérifiez qu'il s'agit du registre de ce département : la consolidation y est enregistrée, et "
                "« acv-xl historique » y montrera les unes retirées et les autres ajoutées.")

    def _earlier(self, r: ConsolidationResult) -> str | None:
        """A warning when this run's comité (the date of its `--comite` label) comes before one already
        recorded: a comité forgotten then run, or a mistyped date. Recorded all the same (the register
        keeps the order of the runs, each having read the workbooks as they were that day), but said
        while the référent can still check the label: `historique` compares in that order. Among the runs
        whose scope (`--departement`) meets its own only — the same département, or every département on
        either side: in a région's register, the 62's comité of 18/06 run after the 59's of 19/06 is no
        comité recorded late, but one after the région's comité of 19/06, which counted the 62, is."""
        from acv_xl.outputs.consolidation_result import date_of_label

        d = date_of_label(r.comite)
        if d is None:
            return None
        later = None  # (date, id, label) of the latest comité recorded
        scope = r.departement or ""
        for cid, comite in self.con.execute("SELECT id, comite FROM consolidations WHERE comite IS NOT NULL AND "
                                            "(COALESCE(departement, '') IN (?, '') OR ? = '')", (scope, scope)):
            other = date_of_label(comite) if isinstance(comite, str) else None
            if other is not None and other > d and (later is None or (other, cid) > later[:2]):
                later = (other, cid, label_shown(comite.strip()))
        if later is None:
            return None
        return (f"le comité « {r.comite.strip()} » est antérieur au comité « {later[2]} » (n° {later[1]}), déjà "
                f"enregistré dans le registre « {self.path} » : la consolidation y est enregistrée après lui, et "
                "« acv-xl historique » les comparera dans cet ordre, celui des consolidations (chacune a lu les "
                "classeurs tels qu'ils étaient ce jour-là). Vérifiez la date du libellé --comite.")

    def _again(self, r: ConsolidationResult) -> str | None:
        """A warning when this run's comité label is already recorded: a correction, or the command
        recalled from the terminal's history for the next comité. Recorded all the same, but said while
        the label can be checked: `historique` shows each run of one label, numbered. Among the runs of
        its scope (`--departement`) only: in a région's register, the 59's comité of 19/06 run after the
        62's of the same day is no mistake, and the recalled command has the same scope."""
        label = r.comite.strip() if r.comite else ""
        if not label:
            return None
        runs = [(cid, comite.strip()) for cid, comite in self.con.execute(
            "SELECT id, comite FROM consolidations WHERE COALESCE(departement, '') = ? ORDER BY id",
            (r.departement or "",)) if isinstance(comite, str)]
        ids = [cid for cid, comite in runs if comite == label]
        if not ids:
            return self._same_date(label, runs)
        # (the run's own number: SQLite gives the next row one more than the largest, in this transaction)
        nouveau = self.con.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM consolidations").fetchone()[0]
        montre = "montrera l'une et l'autre" if len(ids) == 1 else "les montrera toutes"
        # the latest three, and how many: a comité consolidated every day while its workbooks come in
        # (or by a scheduled task) made a message of every number, growing at each run
        numeros = ", ".join(f"n° {i}" for i in ids[-3:])
        if len(ids) > 3:
            numeros = f"{values.fmt_number(len(ids))} consolidations, dont les dernières : {numeros}"
        return (f"le comité « {label} » est déjà enregistré dans le registre « {self.path} » "
                f"({numeros}) : cette consolidation y est enregistrée à sa suite (n° {nouveau}), "
                f"et « acv-xl historique » {montre}, "
                "numérotées. S'il s'agit d'une correction, rien à faire ; sinon, vérifiez le libellé --comite.")

    def _same_date(self, label: str, runs: list[tuple[int, str]]) -> str | None:
        """A warning when another label of this scope's runs names the same date (« Comité du 15 mars 2026 »
        and « Comité du 15/03/2026 », « comité du 15/03/2026 »): the same comité typed another way, which
        `historique` would show as two comités — never merged (two comités may also meet on one day), but
        numbered there as two runs of one date, and said here while the label can be checked (the command
        recalled for the next comité, its label retyped with the old date). The latest such run is named, and
        when there are several, their numbers: historique numbers them all."""
        from acv_xl.outputs.consolidation_result import date_of_label

        d = date_of_label(label)
        if d is None:
            return None
        same = [(cid, comite) for cid, comite in runs if date_of_label(comite) == d]
        if not same:
            return None
        cid, comite = same[-1]
        if len(same) == 1:
            deja, montre = "", "numérotera l'une et l'autre, chacune sous son libellé, comme deux consolidations"
        else:  # historique numbers every run of that date, not two: their numbers said (the latest three, as `_again`)
            numeros = ", ".join(f"n° {i}" for i, _ in same[-3:])
            if len(same) > 3:
                numeros = f"{values.fmt_number(len(same))}, dont les dernières : {numeros}"
            deja = f" (consolidations de cette date déjà enregistrées : {numeros})"
            montre = "les numérotera toutes, chacune sous son libellé, comme des consolidations"
        return (f"le comité « {label} » porte la date du comité « {label_shown(comite)} » (n° {cid}), déjà enregistré dans le "
                f"registre « {self.path} » sous ce libellé{deja} : cette consolidation y est enregistrée à sa suite, "
                f"et « acv-xl historique » {montre} d'un même jour. S'il s'agit d'une correction de ce comité, ou d'un "
                "autre comité ce jour-là, rien à faire ; sinon, vérifiez la date du libellé --comite.")

    def _insert(self, r: ConsolidationResult, blocs: dict[tuple[str, str], Any]) -> tuple[int, dict[str, int]]:
        """The run's rows, and those of `blocs` (of `r.blocs`: the blocks made before its workbook was written)."""
        con = self.con
        cur = con.execute(
            "INSERT INTO consolidations (date, comite, departement, version_acv_xl, version_regles, sans_erreurs, "
            "sortie, fichiers, conventions_comptees, financement_total) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (r.genere_le.isoformat(timespec="seconds"), r.comite, r.departement, self.version, self.version_regles,
             int(r.sans_erreurs), file_text(r.out) if r.out else None, len(r.files), len(r.counted),
             float(r.totaux.financement_total)))
        cid = cur.lastrowid
        analyses = dict(self._known)  # this run's new analyses join them, one per content
        # The files' ids given here (as SQLite would: one more than the largest, in this exclusive
        # transaction), so that each table's rows go in by one `executemany`, not one query per file.
        fid = con.execute("SELECT COALESCE(MAX(id), 0) FROM fichiers").fetchone()[0]
        if fid > _MAX_ID - len(r.files):  # (renumbered by another tool: Python's OverflowError, « erreur interne »)
            raise damaged_error(f"« {self.path} »", "la table « fichiers » numérote déjà ses lignes jusqu'au plus grand "
                                "numéro possible : elle a été modifiée avec un autre outil", written=True)
        key = block_key()  # this user's key (`register_key`), found once: its path is made anew at each call
        fichiers, conventions, constats = [], [], []
        for f, v in zip(r.files, r.verdicts):
            # a file left out among others (`consolidation._not_workbooks`) is so for this run, not for its
            # content: kept, its bytes named alone, or as « x.xlsx », would be « ignoré » for good, where they
            # are « illisible ». Never kept, it is read again; nor does its row point at an analysis of those
            # bytes made another time, « illisible » beside its état « ignoré »
            if f.ignore == MOTIF_PAS_CLASSEUR:
                aid = None
            elif (aid := analyses.get(f.sha256) if f.sha256 else None) is None and f.sha256 and not f.crash:
                aid = analyses[f.sha256] = self._insert_analysis(f, key)
            mtime = datetime.fromtimestamp(f.mtime).isoformat(timespec="seconds") if f.mtime else None
            fid += 1
            fichiers.append((fid, cid, f.rel, f.size, mtime, f.sha256 or None, aid, int(f.rel not in r.reused),
                             "ignoré" if f.ignore else f.etat, f.acv_id, int(v.compte), v.motif or None))
            if f.lisible:
                t = f.totaux
                e, a = r.counts(f)
                infos = sum(x[1] == "information" for x in f.findings) \
                    + sum(x.gravite.value == "information" for x in v.findings)
                conventions.append((cid, fid, f.acv_id, f.libelle, " ; ".join(f.communes), f.etat, int(v.compte),
                                    float(t.cout_total), float(t.financement_total), float(t.ecart), float(f.acquis),
                                    e, a, infos))
            constats.extend((cid, fid, x.code, x.gravite.value, x.feuille, x.cellule, x.message, x.suggestion)
                            for x in v.findings)
        con.executemany(
            "INSERT INTO fichiers (id, consolidation_id, chemin, taille, modifie_le, sha256, analyse_id, relu, etat, "
            "acv_id, compte, motif) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", fichiers)
        con.executemany(
            "INSERT INTO conventions (consolidation_id, fichier_id, acv_id, libelle, communes, etat, compte, "
            "cout_total, financement_total, ecart, acquis, erreurs, avertissements, informations) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", conventions)
        con.executemany(
            "INSERT INTO constats_consolidation (consolidation_id, fichier_id, code, gravite, feuille, cellule, "
            "message, suggestion) VALUES (?,?,?,?,?,?,?,?)", constats)
        self._insert_blocs(r, analyses, blocs, key)
        return cid, analyses

    def _insert_blocs(self, r: ConsolidationResult, analyses: dict[str, int], blocs: dict[tuple[str, str], Any],
                      key: bytes | None) -> None:
        """The blocks of `blocs` this run made (those it took from the register are there already),
        sealed with this user's key `key` (`register_key`): none kept without one."""
        if key is None or not blocs:
            return
        by_rel = {f.rel: f for f in r.files}
        self.con.executemany(
            "INSERT OR REPLACE INTO blocs (analyse_id, chemin, feuille, sha256, lignes, longueur, crc32, controle, "
            "deflate) VALUES (?,?,?,?,?,?,?,?,?)",
            [(aid, rel, b.feuille, b.sha256, b.rows, b.length, b.crc,
              seal(key, self._resume_crc[aid], b.feuille, b.sha256, rel, b.rows, b.length, b.crc, b.data), b.data)
             for (_feuille, rel), b in blocs.items()
             if not b.kept and (f := by_rel.get(rel)) is not None and f.sha256 == b.sha256
             and (aid := analyses.get(b.sha256)) in self._resume_crc])

    def _insert_analysis(self, f: FileSummary, key: bytes | None) -> int:
        con = self.con
        resume = dump_summary(f)
        data = resume.encode("utf-8")
        until = valid_until(f, date.fromisoformat(self.today))
        # sealed with this user's key (none without one: never reused then, `lookup_all`)
        check = None if key is None else analysis_seal(key, f.sha256, self.version_regles, until, data)
        aid = con.execute(
            "INSERT INTO analyses (sha256, version_regles, jour, valable_jusqu_au, acv_id, libelle, etat, resume, "
            "controle) VALUES (?,?,?,?,?,?,?,?,?)",
            (f.sha256, self.version_regles, self.today, until, f.acv_id, f.libelle,
             "ignoré" if f.ignore else f.etat, resume, check)).lastrowid
        self._resume_crc[aid] = crc32(data)
        con.executemany(
            f"INSERT INTO lignes (analyse_id, {LIGNES_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(aid, *row) for row in line_rows(f)])
        con.executemany(
            "INSERT INTO constats (analyse_id, rang, code, gravite, feuille, cellule, action, message, suggestion) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [(aid, k, *x) for k, x in enumerate(f.findings)])
        return aid


class PendingRecord:
    """A run being recorded (`Register.begin`): its rows inserted by a thread in a transaction
    `finish` commits and `abandon` undoes. Until one of them, the register is locked for other runs
    (`BEGIN IMMEDIATE`) and its connection belongs to the thread."""

    def __init__(self, register: Register, result: ConsolidationResult):
        self._register, self._result = register, result
        # the blocks the readers made: the workbook's writing makes those still missing (`finish` records them)
        self._blocs = dict(result.blocs)
        self._begun = False
        self._done: tuple[int, dict[str, int], list[str]] | None = None
        self._error: BaseException | None = None
        self._stop = threading.Event()  # `abandon`, a Ctrl-C: the inserts stopped at their next step
        self._ended = threading.Event()  # the thread no longer uses the connection
        self._deadline: float | None = None  # how long to wait for another run recording: set by `finish`
        self._first = False  # no consolidation in the register before this one
        self._thread = threading.Thread(target=self._run, name="acv-xl-registre", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        reg, con = self._register, self._register.con
        try:
            # SQLite asks every 10 000 steps of a statement whether to go on: stopped, it fails « interrupted »
            con.set_progress_handler(self._stop.is_set, 10_000)
            try:
                self._begin_immediate(con)
            except sqlite3.OperationalError as exc:
                where = f"« {reg.path} »"
                raise (_busy(where, written=True) if _locked(exc) else damaged_error(where, sqlite_why(exc))) from None
            self._begun = True
            # the inserts never wait: a reader holding the register (historique, an SQLite tool) made SQLite
            # wait for it at each page overflowing its cache, up to `ATTENTE` each time, a Ctrl-C landing only
            # at the end of it; the pages stay in memory, and the commit alone waits (`finish`, by short tries)
            con.execute("PRAGMA busy_timeout = 0")
            self._first = con.execute("SELECT NOT EXISTS (SELECT 1 FROM consolidations)").fetchone()[0] == 1
            notices = [n for n in (reg._unrelated(self._result), reg._again(self._result), reg._earlier(self._result))
                       if n]
            cid, analyses = reg._insert(self._result, self._blocs)
            self._done = (cid, analyses, notices)
        except BaseException as exc:  # noqa: BLE001 — raised by `finish`, in the thread that waits for it
            self._error = exc
        finally:
            try:
                con.set_progress_handler(None, 0)
            except sqlite3.Error:  # (closed under it: `finish` says why; the thread ends all the same)
                pass
            self._ended.set()

    def _begin_immediate(self, con: sqlite3.Connection) -> None:
        """`BEGIN IMMEDIATE`, waiting for another run recording by short waits: SQLite's own wait
        (`busy_timeout`) cannot be stopped, and `abandon` (a full disk, a Ctrl-C) would wait for it, up
        to 30 s. Up to `ATTENTE` once this run's outputs are written (`finish`), never counted from
        `begin`: the other run may hold the register while this one writes its own workbook and extracts
        (a minute for a large département), and this run then gave up unrecorded, though the register
        was free by the time it needed it."""
        con.execute("PRAGMA busy_timeout = 100")
        try:
            while True:
                try:
                    con.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    deadline = self._deadline
                    if not _locked(exc) or self._stop.is_set() or (deadline is not None
                                                                    and time.monotonic() >= deadline):
                        raise
        finally:
            con.execute(f"PRAGMA busy_timeout = {int(ATTENTE * 1000)}")

    def _wait(self) -> None:
        """Until the thread has ended: its connection is never used by two threads at once, nor closed
        under it (SQLite would crash the process). A Ctrl-C meanwhile stops the inserts, and is raised
        once the thread has ended."""
        interrupted: BaseException | None = None
        while True:
            try:  # (an event, not `join`: Python 3.11 takes a thread whose `join` was interrupted for ended)
                self._ended.wait()
                break
            except BaseException as exc:  # noqa: BLE001 — raised below, once the thread is done
                interrupted = interrupted or exc
                self._stop.set()
        if interrupted is not None:
            raise interrupted

    def finish(self) -> int:
        """The transaction committed once the inserts are done; the consolidation's id. Nothing is
        kept if anything failed (`RegisterError`, French) or was interrupted."""
        reg, con = self._register, self._register.con
        reg._check_open()  # closed since `begin` (the run abandoned by `close`): said so, never a damaged register
        where = f"« {reg.path} »"
        self._deadline = time.monotonic() + ATTENTE  # the outputs written: from now on, the wait is this run's
        committing = False
        try:
            self._wait()
            if self._error is not None:
                raise self._error
            assert self._done is not None
            reg._insert_blocs(self._result, self._done[1], {k: b for k, b in self._result.blocs.items()
                                                             if self._blocs.get(k) is not b}, block_key())
            committing = True
            patiently(con, lambda: con.execute("COMMIT"))  # (refused while others read: tried again, as a whole)
            return self._committed()  # said at once: a Ctrl-C from here on finds it recorded
        except BaseException as exc:
            # a Ctrl-C is raised between two Python steps, never inside SQLite's COMMIT: with no
            # transaction left after it, the COMMIT went through — recorded, and said so (`recorded`)
            if committing and not isinstance(exc, sqlite3.Error) and not con.in_transaction:
                self._committed()
                raise
            if self._begun:
                _roll_back(con)
            if isinstance(exc, sqlite3.OperationalError) and _locked(exc):  # (its own lock held: others read)
                raise _busy(where, written=True, read=self._begun) from None
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_READONLY_DBMOVED:
                raise moved_error(where) from None
            if isinstance(exc, sqlite3.DatabaseError):
                why = sqlite_why(exc)
                raise (readonly_error(where, written=True) if why == _READONLY else
                       full_error(where, written=True) if why == _FULL else
                       damaged_error(where, why, written=True)) from None
            raise
        finally:
            self._release()

    def _committed(self) -> int:
        reg = self._register
        cid, analyses, reg.notices = self._done
        reg._known.update(analyses)  # committed: a next record in this process reuses them
        reg.recorded, reg.first = cid, self._first
        return cid

    def abandon(self) -> None:
        """The inserts stopped, then undone: the register as it was (an output could not be written)."""
        self._stop.set()
        try:
            self._wait()
        finally:
            if self._begun:
                _roll_back(self._register.con)
            self._release()

    def _release(self) -> None:
        """The register free for another `begin`, and closed without abandoning this record (done)."""
        if self._register._pending is self:
            self._register._pending = None
            try:  # (the inserts' wait of none: `_run`)
                self._register.con.execute(f"PRAGMA busy_timeout = {int(ATTENTE * 1000)}")
            except sqlite3.Error:
                pass


def _remove_if_empty(path: Path) -> None:
    """The file removed if it holds nothing (SQLite makes it empty, and writes it only at its first
    commit): a register this run could not create is not left behind as an empty file."""
    try:
        if path.stat().st_size == 0:
            resolved(path).unlink()  # (the file SQLite made, where a link given as the path points)
    except OSError:
        pass


def _roll_back(con: sqlite3.Connection) -> None:
    """The transaction undone, on disk too. SQLite undoes itself a write that failed for want of room
    (its ROLLBACK then fails: nothing to undo), but leaves its journal « hot » and the file
    half-written until the next access: a read plays the journal back now, so that the register on
    disk is as it was (one copied elsewhere without its journal is then whole)."""
    for sql in ("ROLLBACK", "SELECT COUNT(*) FROM sqlite_master"):
        try:
            con.execute(sql).fetchone()
        except sqlite3.Error:
            pass


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def read_snapshot(con: sqlite3.Connection) -> None:
    """A read transaction begun, its lock held: none left when another run's commit refuses it
    (`patiently` tries again)."""
    con.execute("BEGIN")
    try:
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone()
    except BaseException:
        con.execute("ROLLBACK")
        raise


def patiently(con: sqlite3.Connection, step, deadline: float | None = None):
    """`step()` (statements that take a lock, and leave none held when they fail), retried by short
    waits while another run holds the register, until `deadline` (`ATTENTE` from now by default).
    SQLite's own wait (`busy_timeout`) sleeps in C: a Ctrl-C meanwhile was raised only once it ended,
    up to 30 s later; between two short waits it is raised at once."""
    end = time.monotonic() + ATTENTE if deadline is None else deadline
    con.execute("PRAGMA busy_timeout = 100")
    try:
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or time.monotonic() >= end:
                    raise
    finally:
        con.execute(f"PRAGMA busy_timeout = {int(ATTENTE * 1000)}")


def _busy(where: str, written: bool = False, read: bool = False) -> RegisterError:
    """`read`: this run holds the register to record (or to migrate it), and others reading it refuse its
    commit — not another consolidation (SQLite names no one, but the lock refused says which kind of program)."""
    if read:  # (`written` False: the commit refused is the migration's, as the register is opened)
        said = ("la consolidation ne peut pas y être enregistrée pendant cette lecture. Le classeur consolidé est "
                "écrit, mais cette consolidation n'est pas enregistrée : relancez-la") if written else \
            ("il ne peut pas être mis à jour pour cette version d'acv-xl pendant cette lecture. Relancez la "
             "consolidation")
        return RegisterError(
            f"le registre {where} est lu par un autre programme depuis plus de {int(ATTENTE)} s (« acv-xl "
            f"historique » sur un grand registre, ou un outil SQLite qui le garde ouvert sur une requête) : {said} "
            "quand cette lecture sera terminée (fermez l'outil SQLite).")
    # a writer may be another run recording, or an SQLite tool with changes not yet written (DB Browser for
    # SQLite holds its lock until they are): SQLite names neither, so both are said
    suite = (" Le classeur consolidé est écrit, mais cette consolidation n'est pas enregistrée : relancez-la "
             "ensuite.") if written else " Relancez ensuite."
    return RegisterError(f"le registre {where} est occupé par une autre consolidation depuis plus de "
                         f"{int(ATTENTE)} s, ou par un outil SQLite qui le modifie : attendez la fin de cette "
                         "consolidation, ou enregistrez ou annulez les modifications en cours dans l'outil SQLite "
                         f"et fermez-le.{suite}")


_SQLITE_WHY = {  # SQLite's own words, in French
    "file is not a database": "ce n'est pas une base SQLite valide",
    "database disk image is malformed": "fichier endommagé ou tronqué",
    "unable to open database file": "impossible d'ouvrir le fichier",
    "attempt to write a readonly database": "fichier en lecture seule",
    "disk I/O error": "erreur de lecture ou d'écriture sur le disque",
    "database or disk is full": "disque plein",
    # a text column written by another tool in another encoding
    "Could not decode to UTF-8": "texte illisible (autre encodage que l'UTF-8), écrit par un autre outil",
}


_READONLY = _SQLITE_WHY["attempt to write a readonly database"]
_FULL = _SQLITE_WHY["database or disk is full"]


def sqlite_why(exc: sqlite3.Error) -> str:
    text = str(exc)
    for english, french in _SQLITE_WHY.items():
        if english in text:
            return french
    if text.startswith("no such table"):
        return "table absente : " + text.split(":", 1)[-1].strip()
    # (a schema number lowered by hand: the migration finds its tables or columns there already)
    if text.startswith(("no such column", "table ", "duplicate column name")):
        return "structure inattendue"
    if text.startswith("cannot store ") and " column " in text:  # a table made STRICT again by another tool
        column = text.rsplit(" column ", 1)[1].strip()
        return (f"structure inattendue : la colonne {column} refuse le type de ce qu'acv-xl y enregistre, la "
                "table a-t-elle été recréée avec un autre outil ?")
    if " constraint failed" in text:  # rows deleted or edited with another tool: SQLite's English, said in French
        kind, _, where = text.partition(" constraint failed")
        where = where.lstrip(": ").strip()
        return (f"données incohérentes : contrainte {kind.strip()} non respectée" + (f" sur {where}" if where else "")
                + ", le registre a-t-il été modifié avec un autre outil ?")
    return f"erreur SQLite : {text}"


_NOT_RECORDED = " Le classeur consolidé est écrit, mais cette consolidation n'est pas enregistrée."


def damaged_error(where: str, why: str, written: bool = False) -> RegisterError:
    return RegisterError(f"le registre {where} est inutilisable ({why}) : il n'a été ni modifié ni recréé. "
                         "Vérifiez le chemin, ou restaurez une sauvegarde du registre."
                         + (_NOT_RECORDED if written else ""))


def empty_error(where: str) -> RegisterError:
    """A register that holds no consolidation yet (an empty file, or one created by a run that
    recorded nothing): nothing to read."""
    return RegisterError(f"le registre {where} ne contient encore aucune consolidation "
                         "(« acv-xl consolider … --registre » l'alimente).")


def full_error(where: str, written: bool = False) -> RegisterError:
    """No room left to record (the disk or the share, or a quota): the register is as it was (SQLite
    rolled the run back). Nothing is damaged: restoring a backup would lose the comités since."""
    return RegisterError(f"plus de place sur le disque du registre {where} : la consolidation n'a pas pu y être "
                         "enregistrée et le registre n'a pas été modifié. Libérez de la place (ou copiez le registre "
                         "sur un disque qui en a), puis relancez la consolidation."
                         + (" Le classeur consolidé est écrit." if written else ""))


def moved_error(where: str) -> RegisterError:
    """The register removed, renamed or moved while this run had it open (SQLite then refuses to write
    it): not read-only — the consolidation that made it, run at the same time, recorded nothing and
    removed it (`Register.close`), or another program moved it."""
    return RegisterError(f"le registre {where} a été supprimé ou déplacé pendant la consolidation (par la "
                         "consolidation qui l'avait créé, lancée en même temps et qui n'a rien enregistré, ou par un "
                         "autre programme). Le classeur consolidé est écrit, mais cette consolidation n'est pas "
                         "enregistrée : relancez-la.")


def readonly_error(where: str, written: bool = False) -> RegisterError:
    """A register that can be read but not written (a copy from a CD or a colleague's share, a file
    marked read-only): nothing is damaged, and no backup is needed."""
    return RegisterError(f"le registre {where} est en lecture seule : la consolidation ne peut pas y être "
                         "enregistrée (SQLite doit pouvoir écrire le fichier et, dans son dossier, son journal). "
                         "Retirez l'attribut « Lecture seule » du fichier, ou copiez-le dans un dossier où vous "
                         "pouvez écrire, puis relancez ; le registre n'a pas été modifié."
                         + (_NOT_RECORDED if written else ""))
