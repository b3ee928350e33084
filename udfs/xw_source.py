"""`acv_xl.reading.source.Source` over an open `xw.Book` (desktop COM, xlwings Server's remote book, Lite).

`acv_xl.reading.read.read_source` turns it into the same `Convention` as a file read, so the Valider
button reports the same findings, on the same cells, as `acv-xl valider`. Values are read once
per sheet, as one rectangle from A1 (one COM call on the desktop; on the server the payload
already holds them), then sliced per table and named cell.
"""

from __future__ import annotations

from typing import Any

from acv_xl.reading.source import (MAX_GRID_CELLS, MAX_TABLE_CELLS, TableBlock, a1, filled_extent, named_width,
                                   parse_range, split_sheet_ref, table_lines, table_too_large, takes_over)

from .cells import com_rows, remote_rows


def _payload_values(sheet) -> list[list[Any]] | None:
    """The values the add-in sent for this sheet (remote engine: a rectangle from A1), or None on
    an engine that reads Excel itself. Read here rather than through `range.value`, whose
    per-cell conversion is a third of the Valider script's time (`udfs.cells`)."""
    api = getattr(sheet.impl, "api", None)
    values = api.get("values") if isinstance(api, dict) else None
    if not isinstance(values, list) or (values and not isinstance(values[0], list)):
        return None
    return values


def _merged_areas(rng) -> list[str]:
    """The merged ranges of a range (« B5:B7 »: a table's, or the cells below T_Controles), on the desktop
    (COM): one call when there is none, the common case (Excel refuses to merge cells in a table; a file
    written by another program may hold some: STR-08, as the file reader finds them). The add-in's
    payload says nothing of merges: on the server, none is found."""
    try:
        if rng.merge_cells is False:
            return []
        r1, c1, r2, c2 = parse_range(rng.address.replace("$", ""))
        found: dict[str, tuple[int, int]] = {}
        for col in range(c1, c2 + 1):
            _merged_in_column(rng.sheet, col, r1, r2, found)
    except Exception:  # noqa: BLE001 — an engine that cannot tell: as the payload, none
        return []
    return sorted(found, key=found.__getitem__)


def _merged_in_column(sheet, col: int, top: int, bottom: int, found: dict[str, tuple[int, int]]) -> None:
    """Adds to `found` the merged ranges meeting rows top..bottom of column `col`, asked of Excel by halves:
    a part holding none is one call (MergeCells False), a merged cell gives its whole range at once. Each
    cell of a column holding a merge was asked in turn — two COM calls a cell down to the sheet's last used
    row, some 200 000 for one merge on a sheet of 100 000 rows; now a few dozen a merge."""
    todo = [(top, bottom)]
    while todo:
        a, b = todo.pop()
        merged = sheet.range((a, col), (b, col)).merge_cells
        if merged is False:
            continue
        if merged is True or a == b:  # its first cell merged: its whole range, then the rows below it
            area = sheet.range((a, col), (a, col)).merge_area.address.replace("$", "")
            box = parse_range(area)
            found.setdefault(area, box[:2])
            if max(box[2], a) < b:
                todo.append((max(box[2], a) + 1, b))
            continue
        mid = (a + b) // 2  # a mix (MergeCells None): each half asked
        todo += [(mid + 1, b), (a, mid)]


def _column_names(table, width: int) -> list[str]:
    """The names Excel keeps for a table's columns ("" where the engine does not say)."""
    try:
        names = [str(c.name) for c in table.columns]
    except Exception:  # noqa: BLE001 — an add-in that sends no column names
        names = []
    return (names + [""] * width)[:width]


def _hidden_header(table, width: int) -> list[str] | None:
    """The names of a table's columns when its header row is turned off, else None."""
    try:
        if table.show_headers is not False:
            return None
    except Exception:  # noqa: BLE001 — an engine that does not say: its first row is the header
        return None
    return _column_names(table, width)


def _shows(v: Any) -> bool:
    """Whether a cell's value shows something (`XwSource.occupied`'s test: blanks and spaces do not)."""
    return v is not None and not (isinstance(v, str) and not v.strip())


class XwSource:
    def __init__(self, book):
        self.book = book
        self._values: dict[str, list[list[Any]]] = {}
        self._tables: dict[str, tuple[str, Any]] | None = None  # lower name → (sheet, xw table)
        self._names: dict[str, Any] | None = None  # lower name → xw name
        self._sent = False  # values read from the add-in's payload (which says nothing of merges)

    # -------------------------------------------------------------- raw access
    def sheet(self, name: str):
        for s in self.book.sheets:
            if s.name == name:
                return s
        return None

    def values(self, sheet_name: str) -> list[list[Any]]:
        """The sheet's values from A1 to its last used cell (read once, then cached)."""
        if sheet_name not in self._values:
            sh = self.sheet(sheet_name)
            data: list[list[Any]] = []
            if sh is not None:
                last = sh.used_range.last_cell
                payload = _payload_values(sh)
                if payload is not None:  # xlwings Server / Lite: the request's values, one pass
                    self._sent = True
                    # the used range's size read once (each is an xlwings property call)
                    data = remote_rows(payload, last.row, last.column)
                else:  # desktop (COM): one call for the whole rectangle
                    rng = sh.range((1, 1), (last.row, last.column))
                    data = com_rows(rng.options(ndim=2, err_to_str=True).value or [])
            self._values[sheet_name] = data
        return self._values[sheet_name]

    def value_at(self, sheet_name: str, row: int, col: int) -> Any:
        data = self.values(sheet_name)
        if row - 1 < len(data) and col - 1 < len(data[row - 1]):
            return data[row - 1][col - 1]
        return None

    def _extent(self, sheet_name: str) -> tuple[int, int]:
        """(last row, last column) of the sheet's cells holding a value: the file reader's extent, which
        skips a formatted blank (`source_file._scan_sheet`). One pass over every cell: only for a table too
        large by its range on a sheet past the grid limit."""
        rows = cols = 0
        for i, line in enumerate(self.values(sheet_name), 1):
            used = [j for j, v in enumerate(line) if v is not None and v != ""]
            if used:
                rows, cols = i, max(cols, used[-1] + 1)
        return rows, cols

    def column_values(self, sheet_name: str, col: int, max_rows: int = 1000) -> list[Any]:
        """Raw values of one column of a sheet (the hidden snapshot sheet: `snapshot.read_cells`)."""
        return [row[col - 1] if col - 1 < len(row) else None for row in self.values(sheet_name)[:max_rows]]

    def _index_tables(self) -> dict[str, tuple[str, Any]]:
        if self._tables is None:
            self._tables = {}
            for s in self.book.sheets:
                try:
                    tables = list(s.tables)
                except Exception:  # a sheet the client did not send (excluded): no tables
                    tables = []
                for t in tables:
                    self._tables.setdefault(t.name.lower(), (s.name, t))
        return self._tables

    def xw_table(self, name: str):
        """The xlwings table object of that name (to resize it), or None."""
        found = self._index_tables().get(name.lower())
        return found[1] if found else None

    # -------------------------------------------------------------- Source protocol
    def sheet_names(self) -> list[str]:
        return [s.name for s in self.book.sheets]

    def table(self, name: str) -> TableBlock | None:
        found = self._index_tables().get(name.lower())
        if found is None:
            return None
        sheet_name, t = found
        rng = t.range
        if rng is None:
            return None
        r1, c1, r2, c2 = parse_range(rng.address)
        try:
            has_totals = bool(t.show_totals)
        except Exception:
            has_totals = False
        # a header row turned off (Création de tableau › Ligne d'en-tête): the table's range starts at
        # its first line, and its headers are the names Excel keeps for its columns — as the file
        # reader reads a table of headerRowCount="0"; the first line was taken for the header
        names = _hidden_header(t, c2 - c1 + 1)
        ref = f"{a1(r1, c1)}:{a1(r2, c2)}"  # the table's own range, as Excel shows it
        if names is not None:
            r1 -= 1
        last_data = r2 - 1 if has_totals else r2
        data = self.values(sheet_name)
        width = pad = c2 - c1 + 1
        if (last_data - r1 + 1) * width > MAX_TABLE_CELLS:
            # a table stretched down to row 1,048,576 (or across to XFD): its rows past the sheet's
            # values are empty (padding them took 400 MB for A3:J1048576 and all the memory for
            # A3:XFD1048576, from a request of 40 kB), and so are its columns past the sheet's last one;
            # judged by the lines that hold something, as the file reader judges them (`table_too_large`)
            # (the lines as wide as their data or the headers the user gave: a table Excel resized to XFD
            # names its 16 384 columns in its header row, « Colonne11 »…, which made each line as wide)
            last_data = max(min(last_data, len(data)), r1)
            filled, end = filled_extent(data[max(r1, 0):last_data], c1 - 1, c2)
            head = names if names is not None else data[r1 - 1][c1 - 1:c2] if 1 <= r1 <= len(data) else []
            end = max(end, c1 - 1 + named_width(head))
            # the sheet as the file reader measures it, from A1 to its last value: Excel's used range reaches a
            # formatted blank too (a format left far below), and judged 400 000 empty lines the command line reads
            rows, cols = len(data), max(map(len, data), default=0)
            if rows * cols > MAX_GRID_CELLS:  # else the filled lines, whatever the extent: no pass over the sheet
                rows, cols = self._extent(sheet_name)
            lines, counted = table_lines(rows * cols, max(min(last_data, rows), r1) - r1, filled, max(end - c1 + 1, 1))
            problem = table_too_large(self.book.name, t.name, ref, lines, max(end - c1 + 1, 1), counted)
            if problem is not None:
                raise problem
            pad = max(min(width, end - c1 + 1), 1)  # its lines padded up to their values only

        # slices of the sheet's rectangle (one comprehension: 5 000 rows), padded past its edge
        lo, hi = c1 - 1, c2
        last = max(last_data, r1)  # the header row, at least
        block = [r[lo:hi] for r in data[max(r1, 1) - 1:last]]
        if r1 < 1:  # a table on row 1 with its header row off: no row above it
            block.insert(0, [])
        block += [[] for _ in range(last - r1 + 1 - len(block))]
        if min(map(len, block)) < pad:  # (in C)
            block = [r + [None] * (pad - len(r)) if len(r) < pad else r for r in block]
        header, body = block[0] + [None] * (width - len(block[0])), block[1:]
        if names is not None:
            header = names
        elif any(h is None or (h.__class__ is str and not h.strip()) for h in header):
            # a blank header cell (a file written by another program): the column's name, as the file
            # reader takes it from the table's definition
            header = [h if h is not None and (h.__class__ is not str or h.strip()) else n
                      for h, n in zip(header, _column_names(t, width))]
        merged = [] if self._sent else _merged_areas(rng)
        return TableBlock(
            name=t.name,
            sheet=sheet_name,
            first_row=r1,
            first_col=c1,
            header=["" if h is None else str(h) for h in header],
            rows=body,
            merged=merged,
            end_row=r2,
        )

    def occupied(self, sheet_name: str, r1: int, r2: int, c1: int, c2: int) -> list[tuple[int, int, Any]]:
        """`Source.occupied`, sliced from the sheet's rectangle already read for its tables."""
        data = self.values(sheet_name)
        out = []
        # the sheet's rectangle is often no wider than the table: nothing to its right, no row to look at
        if max(map(len, data[max(r1, 1) - 1:max(r2, 0)]), default=0) < c1:
            return out
        for r in range(max(r1, 1), min(r2, len(data)) + 1):
            line = data[r - 1]
            for c in range(max(c1, 1), min(c2, len(line)) + 1):
                v = line[c - 1]
                if _shows(v):
                    out.append((r, c, v))
        return out

    def table_boxes(self, sheet_name: str, but: str) -> list[tuple[int, int, int, int]]:
        """(first row, first column, last row, last column) of the sheet's tables other than `but`."""
        sh = self.sheet(sheet_name)
        out: list[tuple[int, int, int, int]] = []
        try:
            tables = list(sh.tables) if sh is not None else []
        except Exception:  # noqa: BLE001 — a sheet the client did not send: none known
            return out
        for t in tables:
            try:
                if t.name.lower() != but.lower() and t.range is not None:
                    out.append(parse_range(t.range.address))
            except Exception:  # noqa: BLE001 — a table the engine cannot place: left aside
                continue
        return out

    def merged_boxes(self, sheet_name: str, first_row: int, c1: int, c2: int) -> list[tuple[int, int, int, int]]:
        """(first row, first column, last row, last column) of the merged ranges meeting columns c1..c2 from
        `first_row` down to the sheet's last used row, on the desktop (COM, `_merged_areas`: one call when
        there is none); none from the add-in, whose payload says nothing of merges."""
        last = len(self.values(sheet_name))
        sh = self.sheet(sheet_name)
        if self._sent or sh is None or last < first_row:
            return []
        try:
            rng = sh.range((first_row, c1), (last, c2))
        except Exception:  # noqa: BLE001 — an engine that cannot say: none known, as from the add-in
            return []
        return [parse_range(area) for area in _merged_areas(rng)]

    def last_used_row(self, sheet_name: str, after: int, c1: int, c2: int) -> int:
        """The last row below `after` showing something in columns c1..c2, else `after` (what an insertion
        there pushes down; a formula showing nothing on the sheet's last rows is not seen)."""
        data = self.values(sheet_name)
        return max((r for r, _c, _v in self.occupied(sheet_name, after + 1, len(data), c1, c2)), default=after)

    def may_be_occupied(self, sheet_name: str, r1: int, r2: int, c1: int, c2: int) -> bool:
        """Whether rows r1..r2 of columns c1..c2 may hold something a write would destroy: a value the
        sheet shows (`occupied`), or a formula that shows nothing (`=""`, `=SI(A1="";"";…)`), whose value
        is "" as an empty cell's. The add-in sends values only (formulas are read on demand in xlwings
        Lite alone): such a formula is told from an empty cell only by the sheet's used range, whose
        values Excel sends up to its last cell holding a value or a formula. So rows from r1 down may
        hold one when the used range ends past the last row showing anything (an invisible cell ends
        it), or when these columns show something further down (notes below the table, which move
        with it). Not when the used range ends on what other columns show: a helper column beside the
        table (`=SI(A4="Erreur";1;0)`, 0 or 1 down to row 33) had the table's columns pushed down under
        it at each growth, its formulas then pointing below the findings. On the desktop (COM) the
        formulas themselves are read."""
        if self.occupied(sheet_name, r1, r2, c1, c2):
            return True
        if self._sent:
            rows = self.values(sheet_name)
            if len(rows) < r1:
                return False
            last_shown = next((i for i in range(len(rows), 0, -1) if any(map(_shows, rows[i - 1]))), 0)
            return last_shown < len(rows) or any(_shows(v) for row in rows[r1 - 1:] for v in row[c1 - 1:c2])
        sh = self.sheet(sheet_name)
        try:
            formulas = sh.range((r1, c1), (r2, c2)).formula
        except Exception:  # noqa: BLE001 — an engine that cannot say: a formula may be there
            return True
        stack = [formulas]
        while stack:
            f = stack.pop()
            if isinstance(f, (list, tuple)):
                stack.extend(f)
            elif isinstance(f, str) and f.startswith("="):
                return True
        return False

    def named(self, name: str) -> tuple[str, str, Any] | None:
        if self._names is None:  # listed once: each pass over `book.names` rebuilds every name
            self._names = {}
            own = []
            for n in self.book.names:
                if "!" in n.name:  # a sheet's own name, « Projet!acv_libelle » (its scope changed in the Name Manager)
                    own.append(n)
                else:
                    self._names.setdefault(n.name.lower(), n)
            # after the workbook's, as the file reader takes them: the button said « introuvable » (STR-04) of a
            # cell the command line read, and its fingerprint differed (« modifié depuis la validation »)
            workbook_level = set(self._names)
            for n in own:
                key = n.name.rpartition("!")[2].lower()
                kept = self._names.setdefault(key, n)
                if kept is not n and key not in workbook_level and takes_over(key, kept.refers_to or "", n.refers_to or ""):
                    self._names[key] = n  # on two sheets: the template's sheet's, as the file reader takes it
        n = self._names.get(name.lower())
        if n is not None:
            try:
                rng = n.refers_to_range
                sheet_name = rng.sheet.name
                row, col = rng.row, rng.column
            except Exception:  # a name that refers to #REF! or to a constant
                try:
                    sheet_name, addr = split_sheet_ref(n.refers_to or "")
                    r1, c1, _, _ = parse_range(addr)
                    row, col = r1, c1
                except Exception:
                    return None
                if self.sheet(sheet_name) is None:
                    return None  # on a sheet the workbook has not (the file reader's « absent » too)
            return sheet_name, a1(row, col), self.value_at(sheet_name, row, col)
        return None
