"""Any `Source` → `Convention`: tables by name, columns by header text, every value with its cell.

The reader never judges: a missing sheet, table, header or named cell goes to
`Convention.structure`, a value that does not parse stays in the row's `problems`; the rules
turn both into findings. Only a file that cannot be opened at all raises (`UnreadableWorkbook`,
from `FileSource`).
"""

from __future__ import annotations

import difflib
from itertools import chain, repeat
from operator import is_, is_not, itemgetter
from pathlib import Path
from typing import Any

from acv_xl.contract import layout
from acv_xl.contract.model import (
    ROW_MODELS,
    Cells,
    Convention,
    MissingHeader,
    StrayCell,
    build_named,
    copy_rows,
    empty,
    row_maker,
    rows_of,
)
from acv_xl.contract.values import fold
from acv_xl.reading import collector, totals_row
from acv_xl.reading.source import Source, TableBlock, a1, col_letter


def header_texts(header) -> list[str]:
    """A header row's cells as texts, the spaces around them aside ("" for an empty cell)."""
    return [h.strip() if isinstance(h, str) else "" if h is None else str(h) for h in header]


def exact_columns(texts: list[str], table: layout.Table) -> dict[str, int]:
    """attr → position in `texts` (`header_texts`) of each column of `table` headed there exactly as the template
    heads it: how the reader, the functions and both writers of T_Controles first find a table's columns."""
    return {col.attr: texts.index(col.header) for col in table.columns if col.header in texts}


def renamed_header(expected: str, candidates: list[str]) -> str | None:
    """The header the user most likely renamed `expected` into (accents, case, spaces, a typo)."""
    target = fold(expected)
    for h in candidates:
        if fold(h) == target:
            return h
    folded = {fold(h): h for h in candidates if h.strip()}
    close = difflib.get_close_matches(target, list(folded), n=1, cutoff=0.8)
    return folded[close[0]] if close else None


# (table, header row) → (the table's columns, attr → index), for a header holding every column of
# the table (the common case: a consolidation meets the template's header row file after file); the
# columns kept and compared by identity, so that another definition of a table of the same name
# (an older template's) never takes its mapping; bounded
_COMPLETE_HEADERS: dict[tuple[str, tuple, tuple], tuple[tuple, dict[str, int]]] = {}


_HEADER_KEPT_CHARS = 4 * 1024  # the template's longest header row: ≈ 220 characters


def _header_kept(header: tuple) -> bool:
    """Whether a header row may be kept as a key between workbooks (`_COMPLETE_HEADERS`, `_PLACES`): a
    user's own column may be headed by a pasted text of 32,767 characters, which `acv-xl serveur`
    would keep for months, 256 header rows at a time."""
    return sum(map(len, filter(_IS_STR, header))) <= _HEADER_KEPT_CHARS


def _map_columns(table: layout.Table, block: TableBlock, conv: Convention) -> dict[str, int]:
    """attr → index in the block's header; records the missing (or renamed) headers."""
    header = tuple(block.header)
    key = (table.name, header, tuple(map(type, header)))  # by type too: 1 == 1.0 == True, "1" ≠ "1.0"
    known = _COMPLETE_HEADERS.get(key)
    if known is not None and known[0] is table.columns:
        return dict(known[1])  # the caller's own copy
    found = header_texts(block.header)
    index = exact_columns(found, table)
    if len(index) == len(table.columns):  # nothing missing, nothing to record
        if not _header_kept(header):
            return index
        if len(_COMPLETE_HEADERS) >= 256:
            _COMPLETE_HEADERS.clear()
        _COMPLETE_HEADERS[key] = (table.columns, dict(index))
        return index
    used = set(index.values())
    spare = [h for i, h in enumerate(found) if i not in used]
    missing: list[tuple[int, layout.Column, str | None]] = []
    for k, col in enumerate(table.columns):
        if col.attr in index:
            continue
        renamed = renamed_header(col.header, spare)
        if renamed is not None:
            spare.remove(renamed)
        missing.append((k, col, renamed))
    unknown = [h for h in spare if h.strip()]
    for k, col, renamed in missing:
        cell = a1(block.first_row, block.first_col)
        in_place = None
        if renamed is not None:
            # point at the renamed header itself: that is the cell to fix
            cell = a1(block.first_row, block.first_col + found.index(renamed))
        else:
            # an unknown header where the template puts this column, or the only unknown header
            # when only this column is missing: most likely this column, renamed beyond recognition
            if k < len(found) and found[k] in unknown:
                in_place = found[k]
            elif len(unknown) == 1 and sum(r is None for _, _, r in missing) == 1:
                in_place = unknown[0]
            if in_place is not None:
                unknown.remove(in_place)
                cell = a1(block.first_row, block.first_col + found.index(in_place))
        conv.structure.missing_headers.append(
            MissingHeader(table=table.name, header=col.header, sheet=block.sheet, cell=cell, found_as=renamed,
                          in_place=in_place)
        )
    return index


def column_index(table: layout.Table, block: TableBlock) -> dict[str, int]:
    """attr → index in the block's header, as the reader maps them (renamed headers included)."""
    return _map_columns(table, block, empty(Convention))


def _blank_values(values: tuple) -> bool:
    for v in values:
        if v is not None and not (v.__class__ is str and not v.strip()):
            return False
    return True


_LETTERS: dict[int, str] = {}  # column number → letters: the same few columns, file after file


def _letter(col: int) -> str:
    letters = _LETTERS.get(col)
    if letters is None:
        letters = _LETTERS[col] = col_letter(col)  # at most Excel's 16,384 columns
    return letters


# (columns, their letters) → (attr → letters, row number → its `Cells`): a table's rows sit at the
# same place file after file, and a `Cells` is read-only (its letters never change), so the rows of
# every workbook share them rather than making one object per row per file; bounded (a long table,
# a big plan read once by « Valider », makes its own)
_CELLS: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[dict[str, str], dict[int, Cells]]] = {}
_CELLS_MAX_ROWS = 20_000  # rows remembered in all (then start again)
_CELLS_LONG = 1_000  # rows of a table beyond which its `Cells` are not remembered
_cells_rows = 0


def _cells(attrs: tuple[str, ...], letters: tuple[str, ...], numbers: list[int]) -> list[Cells]:
    """`[Cells(dict(zip(attrs, letters)), n) for n in numbers]`, each made once per place."""
    global _cells_rows
    if len(numbers) > _CELLS_LONG:
        return list(map(Cells, repeat(dict(zip(attrs, letters))), numbers))
    if _cells_rows > _CELLS_MAX_ROWS or len(_CELLS) >= 256:  # full: start again
        _CELLS.clear()
        _cells_rows = 0
    key = (attrs, letters)
    got = _CELLS.get(key)
    if got is None:
        got = _CELLS[key] = (dict(zip(attrs, letters)), {})
    by_letters, by_row = got
    cells = list(map(by_row.get, numbers))
    if any(map(is_, cells, repeat(None))):  # rows not met yet at this place (by identity: no `==` per Cells)
        if any(map(is_not, cells, repeat(None))):
            for i, c in enumerate(cells):
                if c is None:
                    cells[i] = by_row.setdefault(numbers[i], Cells(by_letters, numbers[i]))
        else:  # a place met for the first time: every row made at once, in C
            cells = list(map(Cells, repeat(by_letters), numbers))
            by_row.update(zip(numbers, cells))
        _cells_rows += len(numbers)  # an upper bound of the rows added
    return cells


# The lists a workbook copies from the template (`T_Financeurs`, `T_Dispositifs`: 66 of a small
# convention's 140 rows): the same rows at the same place in most workbooks of a département, so
# their rows are built once and copied for the next workbooks that hold exactly the same values
# (`copy_rows`: each copy with its own dicts, as if built). Only for rows of texts and blanks, whose
# equality is identity of content (1 == 1.0 == True would not be); bounded.
_LISTS = frozenset((layout.T_FINANCEURS.name, layout.T_DISPOSITIFS.name))
_LIST_ROWS: dict[tuple, tuple[list[tuple], list]] = {}
_LIST_MAX = 32
_LIST_MAX_ROWS = 1_000
_LIST_MAX_CHARS = 64 * 1024  # the template's lists: ≈ 3,400 characters; a pasted text is not kept for months
_TEXT_OR_BLANK = frozenset((str, type(None)))


def _list_key(table: layout.Table, attrs: tuple[str, ...], letters: tuple[str, ...], sheet: str,
              numbers: list[int], got: list[tuple]) -> tuple | None:
    """`_LIST_ROWS`'s key of a list table's rows (its place and columns), or None when not kept."""
    if table.name not in _LISTS or len(got) > _LIST_MAX_ROWS:
        return None
    return (table.name, attrs, letters, sheet, tuple(numbers))


def _texts_or_blanks(got: list[tuple], bounded: bool) -> bool:
    """Whether the rows hold only texts and blanks (exact types: an Excel error is a `str` too), and
    when `bounded`, at most `_LIST_MAX_CHARS` characters in all."""
    values = list(chain.from_iterable(got))
    return set(map(type, values)) <= _TEXT_OR_BLANK and (
        not bounded or sum(map(len, filter(None, values))) <= _LIST_MAX_CHARS)


# (table, first column, header) → (the table's columns, what reading its rows needs: `_table_plan`), for
# a header holding every column of the table, at that place (the common case: a consolidation meets the
# template's tables file after file); the columns kept and compared by identity, as `_COMPLETE_HEADERS`;
# bounded
_PLACES: dict[tuple, tuple[tuple, tuple]] = {}
_FIRST = itemgetter(0)
_IS_STR = str.__instancecheck__  # `isinstance(v, str)`, called from C


def _table_plan(table: layout.Table, block: TableBlock, conv: Convention, key: tuple) -> tuple:
    """(model, Convention attribute, attrs, their letters, the header's width used, each row's values
    getter, the columns' indexes, the row maker) of a table as found; the missing headers recorded."""
    cls, attr_name = ROW_MODELS[table.name]
    columns = _map_columns(table, block, conv)
    attrs = tuple(columns)
    js = tuple(columns.values())
    width = max(js, default=-1) + 1
    # each row's values of our columns in one C call (`itemgetter` of one index gives no tuple)
    get = itemgetter(*js) if len(js) > 1 else (lambda v, j=width - 1: (v[j],))
    plan = (cls, attr_name, attrs, tuple(map(_letter, map(block.first_col.__add__, js))), width, get, js,
            row_maker(cls, attrs))
    if len(columns) == len(table.columns) and _header_kept(key[2]):  # nothing missing, nothing recorded
        if len(_PLACES) >= 256:
            _PLACES.clear()
        _PLACES[key] = (table.columns, plan)
    return plan


def _read_table(table: layout.Table, block: TableBlock, conv: Convention) -> None:
    header = tuple(block.header)
    key = (table.name, block.first_col, header, tuple(map(type, header)))  # by type too: 1 == 1.0 == True
    known = _PLACES.get(key)
    plan = known[1] if known is not None and known[0] is table.columns else _table_plan(table, block, conv, key)
    cls, attr_name, attrs, letters, width, get, js, make = plan
    rows = block.rows if attrs else []  # no column of ours: no data (every row blank)
    # each row's values of our columns, the rows shorter than the header padded with None
    if min(map(len, rows), default=width) >= width:
        got = list(map(get, rows))
    else:
        got = [get(v) if len(v) >= width else tuple(v[j] if j < len(v) else None for j in js) for v in rows]
    # an empty line inside a table is not an error (the template ships some); only our columns
    # count, as a user's own column may hold a formula filled down every row. A filled first
    # column decides at once (the common case: every row's, looked at in C); else the whole row is looked at.
    firsts = list(map(_FIRST, got))
    if not any(map(is_, firsts, repeat(None))) and all(map(str.strip, filter(_IS_STR, firsts))):
        numbers = list(range(block.first_row + 1, block.first_row + 1 + len(got)))
    else:
        n = len(attrs)
        keep = [i for i, t in enumerate(got)
                if ((v := t[0]) is not None and (v.__class__ is not str or v.strip()))
                or (t.count(None) != n and not _blank_values(t))]
        if len(keep) < len(got):
            got = [got[i] for i in keep]
        numbers = [block.first_row + 1 + i for i in keep]
    # the A1 addresses, made when asked (`Cells`): the column letters are the table's
    cells = _cells(attrs, letters, numbers)
    key = _list_key(table, attrs, letters, block.sheet, numbers, got)
    known = _LIST_ROWS.get(key) if key is not None else None
    # the same rows as kept (texts and blanks only): equal values are then the same values — but an
    # Excel error equals its text, hence the types looked at too
    if known is not None and known[0] == got and _texts_or_blanks(got, bounded=False):
        lignes = copy_rows(cls, known[1])
    else:
        # one call per row: its raw dict, typed values, problems and instance (`row_maker`)
        lignes = rows_of(cls, make, got, numbers, cells, block.sheet)
        if key is not None and _texts_or_blanks(got, bounded=True):
            if len(_LIST_ROWS) >= _LIST_MAX:
                _LIST_ROWS.clear()
            _LIST_ROWS[key] = (got, copy_rows(cls, lignes))  # a copy of its own, never handed out
    conv.__dict__[attr_name] = lignes  # as pydantic's `setattr` of a field, without its lookups
    conv.__pydantic_fields_set__.add(attr_name)
    conv.structure.table_refs[table.name] = (block.sheet, block.ref)
    for rng in block.merged:
        conv.structure.merged_in_tables.append((table.name, block.sheet, rng))


def _collector_paused():
    """Reading builds thousands of objects (a 5,000-line plan: 6,000 rows, each with its dicts)
    and no reference cycle: the cyclic garbage collector, triggered every 700 allocations, would
    only walk the caller's whole heap again and again for nothing (about 40 % of the reading time
    in the Excel server, which holds the workbook's JSON). Paused meanwhile, then back as it was,
    without walking what was built (`collector.paused(settle=True)`)."""
    return collector.paused(settle=True)


collector_paused = _collector_paused  # for a caller building as much right after (the Valider script)


def read_source(source: Source) -> Convention:
    """Read every table and named cell of the contract from `source` (never raises on bad data)."""
    with _collector_paused():
        return _read_source(source)


# Rows read at a time below a table, looking for the first blank one (a stray line is rarely
# more than a few rows; a pasted block of 200 lines takes a few reads).
_BELOW_CHUNK = 16
# Rows looked at past that blank row for whole lines of data (`_detached_lines`): a line typed
# after a blank row is not far; a crafted sheet of a million rows is not read to its end.
_DETACHED_ROWS = 2_000


def _detached_lines(source: Source, b: TableBlock, first: int, elsewhere) -> list[tuple[int, int, Any]]:
    """The cells of the lines below `first` (a blank row under the table) that fill every required
    column of the table: lines of data typed apart from it, counted nowhere. A note or a personal
    total (a label and an amount) fills one or two of them, and stays allowed there."""
    rows: dict[int, list] = {}
    for x in source.occupied(b.sheet, first + 1, first + _DETACHED_ROWS, b.first_col, b.last_col):
        if not elsewhere(b, x[0], x[1]):
            rows.setdefault(x[0], []).append(x)
    if not rows:  # nothing further below (nearly always): no header looked at
        return []
    return _lines_of_data(b, rows)


def _lines_of_data(b: TableBlock, rows: dict[int, list]) -> list[tuple[int, int, Any]]:
    """The cells of the rows (row → its cells) that fill every required column of the table: lines of
    data, where a note or a total (a label and an amount) fills one or two of them."""
    table = layout.TABLES_BY_NAME.get(b.name)
    folded = [fold(h) if isinstance(h, str) else "" for h in b.header]
    required = [folded.index(fold(c.header)) for c in table.columns
                if c.required and fold(c.header) in folded] if table is not None else []
    if len(required) < 2 or len(required) < sum(c.required for c in table.columns):
        return []  # a required column missing is STR-04's: no line can be told from a note
    out = []
    for cells in rows.values():
        filled = {c - b.first_col for _r, c, _v in cells}
        # more than a label and its value: under a table of two required columns (T_Indicateurs), a
        # note (« Source : » | « INSEE ») fills both, and is what the blank row keeps apart
        if filled.issuperset(required) and len(filled) > 2:
            out += cells
    return out


def _totals_row_lines(source: Source, b: TableBlock) -> list[tuple[int, int, Any]]:
    """The cells of a line, whole or partial, typed into the table's totals row (Création de tableau ›
    Ligne de total, or typed over it): no reader takes that row as a line, so no total counts it. The
    row's own label and totals functions' results stay allowed (`totals_row.typed_cells`)."""
    first = b.first_row + len(b.rows) + 1  # the row after the last line read
    if b.end_row < first:  # no totals row (nearly always)
        return []
    cells = source.occupied(b.sheet, first, b.end_row, b.first_col, b.last_col)
    return totals_row.typed_cells(b, cells) if cells else []


def _without_header_copies(b: TableBlock, cells: list[tuple[int, int, Any]]) -> list[tuple[int, int, Any]]:
    """`cells` but the rows that only repeat the table's headers (a second table typed by hand below it,
    with the same headers): no value there, and its lines below are reported on their own."""
    if not cells:
        return cells
    header = [fold(h) if isinstance(h, str) else "" for h in b.header]
    rows: dict[int, bool] = {}
    for r, c, v in cells:
        j = c - b.first_col
        same = isinstance(v, str) and 0 <= j < len(header) and fold(v) == header[j]
        rows[r] = rows.get(r, True) and same
    return [x for x in cells if not rows[x[0]]]


def stray_cells(source: Source, blocks: list[TableBlock]) -> list[StrayCell]:
    """What was typed right outside each user table's lines (`StrayCell`): a line of data in its totals
    row (`_totals_row_lines`), the rows directly below it, within its columns, down to the first blank
    row, the whole lines of data further below (`_detached_lines`), and the column directly to its
    right, from the header row to the table's last row. Cells inside another table are not stray."""
    occupied = getattr(source, "occupied", None)
    if occupied is None:
        return []
    boxes = [(b.sheet, b.first_row, b.first_col, b.last_row, b.last_col) for b in blocks]

    def elsewhere(block: TableBlock, r: int, c: int) -> bool:
        return any(s == block.sheet and r1 <= r <= r2 and c1 <= c <= c2 for s, r1, c1, r2, c2 in boxes)

    out: list[StrayCell] = []
    for b, (sheet, first_row, c1, last_row, c2) in zip(blocks, boxes):
        found = []
        top = last_row + 1
        size = 1  # the row right below first: blank under nearly every table, then nothing more is read
        while True:
            cells = [x for x in occupied(sheet, top, top + size - 1, c1, c2) if not elsewhere(b, x[0], x[1])]
            if not cells:  # blank (nearly always): nothing below
                blank = top
                break
            rows = {r for r, _c, _v in cells}
            gap = next((r for r in range(top, top + size) if r not in rows), None)
            found += [x for x in cells if gap is None or x[0] < gap]
            if gap is not None:
                blank = gap
                break
            top += size
            size = _BELOW_CHUNK
        found = _without_header_copies(b, found)
        apart = _without_header_copies(b, _detached_lines(source, b, blank, elsewhere))
        for r, c, v in _totals_row_lines(source, b):
            j = c - c1
            header = b.header[j] if j < len(b.header) and isinstance(b.header[j], str) else ""
            out.append(StrayCell(table=b.name, sheet=sheet, cell=a1(r, c), row=r, col=c, value=v, header=header,
                                 totals_row=True))
        for (r, c, v), detached in chain(zip(found, repeat(False)), zip(apart, repeat(True))):
            j = c - c1
            header = b.header[j] if j < len(b.header) and isinstance(b.header[j], str) else ""
            out.append(StrayCell(table=b.name, sheet=sheet, cell=a1(r, c), row=r, col=c, value=v, header=header,
                                 detached=detached))
        for r, c, v in occupied(sheet, first_row, last_row, c2 + 1, c2 + 1):
            if not elsewhere(b, r, c):
                out.append(StrayCell(table=b.name, sheet=sheet, cell=a1(r, c), row=r, col=c, value=v, right=True))
    return out


# The columns whose drop-down lists another table's codes (the template's validation lists:
# `Financeurs!A`, `Périmètres!A`): (the rows' Convention attribute, their column, the listed rows', theirs)
_LISTED_CODES = (("financements", "financeur", "financeurs", "code"),
                 ("dispositifs", "financeur", "financeurs", "code"),
                 ("actions", "perimetre", "perimetres", "code"),
                 ("perimetres", "parent", "perimetres", "code"))


def codes_as_listed(conv: Convention, shared: bool = False) -> None:
    """A code typed in another case than its list's (« etat » for « ETAT »), which Excel's drop-down
    accepts without a word, read as the listed code: every rule and total then sees « ETAT » (FIN-02
    and ACT-04 refused a workbook Excel found right, and its line was a financeur of its own). A case
    two codes of the list share is left as typed. A set lookup per row; nearly always nothing more.
    `shared`: the rows are others' too (the Excel functions' parsed tables, kept between calls): a row
    changed is a copy, in a new list."""
    fields = conv.__dict__
    for rows_attr, attr, listed_attr, code_attr in _LISTED_CODES:
        lignes, listed = fields.get(rows_attr), fields.get(listed_attr)
        if not lignes or not listed:
            continue
        codes = {x.__dict__[code_attr] for x in listed}
        odd = [i for i, x in enumerate(lignes) if (v := x.__dict__[attr]) is not None and v not in codes]
        if not odd:
            continue
        by_case: dict[str, list[str]] = {}
        for c in codes:
            if c.__class__ is str:
                by_case.setdefault(c.lower(), []).append(c)
        if shared:
            lignes = fields[rows_attr] = list(lignes)
        for i in odd:
            x = lignes[i]
            same = by_case.get(x.__dict__[attr].lower())
            if same is not None and len(same) == 1:
                if shared:
                    x = lignes[i] = x.model_copy()
                x.__dict__[attr] = same[0]


def _read_source(source: Source) -> Convention:
    conv = empty(Convention)
    present = set(source.sheet_names())
    conv.structure.missing_sheets = [s for s in layout.SHEETS if s not in present]
    blocks = []
    for table in layout.TABLES:
        if table is layout.T_CONTROLES:
            continue  # written by Valider, never read as data
        block = source.table(table.name)
        if block is None:
            conv.structure.missing_tables.append(table.name)
            continue
        _read_table(table, block, conv)
        block.name = table.name  # the contract's spelling (found case-insensitively)
        blocks.append(block)
    codes_as_listed(conv)
    conv.stray_cells = stray_cells(source, blocks)
    for nc in layout.NAMED_CELLS:
        found = source.named(nc.name)
        if found is None:
            conv.structure.missing_names.append(nc.name)
            continue
        sheet, cell, raw = found
        conv.names[nc.name] = build_named(nc.name, raw, sheet, cell)
    return conv


def read_file(path: str | Path) -> Convention:
    """Read an .xlsx/.xlsm workbook; raises `errors.UnreadableWorkbook` (STR-01/STR-02) when it cannot."""
    return read_file_bounded(path)[0]


def read_file_bounded(path: str | Path, data: bytes | None = None) -> tuple[Convention, int]:
    """`read_file`, and a bound above the length of every text read (`FileSource.longest_text`): true of
    the convention as read, for a caller that checks it before changing anything (`validate_file`).
    `data`: the file's content, when the caller has read it already (`FileSource`)."""
    from acv_xl.reading.source_file import FileSource

    # paused until the source is gone too: the collector, run again, then finds only the
    # convention's objects, not the sheets' grids it would walk for nothing (3 times less work)
    with _collector_paused():
        with FileSource(path, data) as source:
            conv = read_source(source)
            longest = source.longest_text()
            conv.structure.date1904 = source.date1904
        del source
    conv.fichier = str(path)
    if not conv.structure.table_refs and not conv.names:  # nothing of the template: what is it? (STR-11)
        from acv_xl.reading.provenance import produced_by

        conv.structure.derived_report = produced_by(path)
    return conv, longest
