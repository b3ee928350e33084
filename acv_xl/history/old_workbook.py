"""The old workbook of `acv-xl migrer` as a `Source`: what the template holds, found by name, else
by content.

- each table of the contract by its name; failing that by its headers: first among the workbook's
  other tables (a table renamed), then in the cells of every sheet (a table turned into a plain
  range, a sheet copied as values) — the run of consecutive cells holding most of the table's
  headers, the data down to the first blank row; a header spelled otherwise is read as the
  template's (`reading.read.renamed_header`), so that its column is carried;
- each named cell by its defined name; failing that by its label, which the template writes in
  the cell to its left;
- every non-empty cell of every sheet is kept (`cells`), for the migration to account for each.
"""

from __future__ import annotations

from typing import Any

from acv_xl.contract import layout
from acv_xl.contract.values import EXCEL_COLUMNS, EXCEL_ROWS, fold
from acv_xl.reading.read import column_index, renamed_header
from acv_xl.reading.source import TableBlock, a1
from acv_xl.reading.source_file import MAX_GRID_CELLS, FileSource

# Share of a table's headers a candidate must hold (over the larger of the two header counts): a
# row of T_Financements holds 3 of the 4 headers of T_Dispositifs, but among 10 cells.
_MATCH = 0.5
USER_TABLES = tuple(t for t in layout.TABLES if t.user_filled)


class UnusableWorkbook(Exception):
    """Nothing of the contract was found, or the workbook cannot be looked at cell by cell (exit 2)."""


def q(text: str) -> str:
    return f"« {text} »"


def _score(table: layout.Table, headers: list[Any]) -> float:
    found = {fold(h) for h in headers if isinstance(h, str) and h.strip()}
    if not found:
        return 0.0
    matched = sum(fold(h) in found for h in table.headers)
    return matched / max(len(table.headers), len(found))


class MigrationSource:
    """The old workbook as a `Source`: tables and named cells found by name, else by content."""

    def __init__(self, fs: FileSource):
        self.fs = fs
        for name in fs.sheet_names():
            rows, cols = fs.extent(name)
            if rows * cols > MAX_GRID_CELLS:  # every cell is looked at: not one typed in XFD1048576
                raise UnusableWorkbook(
                    f"La feuille « {name} » de « {fs.path.name} » s'étend jusqu'à la cellule {a1(rows, cols)} : "
                    "trop grande pour être recopiée cellule par cellule. Effacez les lignes et colonnes "
                    "inutilisées au-delà des données (Ctrl+Fin montre la dernière cellule), enregistrez, puis "
                    "relancez.")
        self.cells: dict[str, dict[tuple[int, int], Any]] = {
            name: {(r, c): v for r, c, v in fs.occupied(name, 1, EXCEL_ROWS, 1, EXCEL_COLUMNS)}
            for name in fs.sheet_names()}
        self.blocks: dict[str, TableBlock] = {}
        self.found_elsewhere: list[str] = []
        self.named_cells: dict[str, tuple[str, str]] = {}  # name → (old sheet, cell) where found
        self._labels: dict[str, list[tuple[str, int, int]]] | None = None  # folded text → cells
        self._locate_tables()
        for name, block in self.blocks.items():
            self._restore_headers(layout.TABLES_BY_NAME[name], block)

    # -- Source protocol
    def sheet_names(self) -> list[str]:
        return self.fs.sheet_names()

    def table(self, name: str) -> TableBlock | None:
        return self.blocks.get(name)

    def named(self, name: str) -> tuple[str, str, Any] | None:
        found = self.fs.named(name)
        if found is None:
            found = self._by_label(layout.NAMED_BY_NAME[name])
        if found is not None:
            self.named_cells[name] = (found[0], found[1])
        return found

    def occupied(self, sheet: str, r1: int, r2: int, c1: int, c2: int) -> list[tuple[int, int, Any]]:
        return self.fs.occupied(sheet, r1, r2, c1, c2)

    def _restore_headers(self, table: layout.Table, block: TableBlock) -> None:
        """A header spelled otherwise (an older template, a typo) is read as the template's, so
        that its column is carried: the reader would only report it (STR-04)."""
        found = [h.strip() if isinstance(h, str) else ("" if h is None else str(h)) for h in block.header]
        exact = column_index(table, block)
        spare = [h for i, h in enumerate(found) if i not in exact.values() and h]
        for col in table.columns:
            if col.attr in exact:
                continue
            old = renamed_header(col.header, spare)
            if old is not None:
                spare.remove(old)
                found[found.index(old)] = col.header
                self.found_elsewhere.append(f"{q(table.name)} : la colonne {q(old)} est reprise sous l'en-tête "
                                            f"{q(col.header)}")
        block.header = found

    # -- where the template's sheets went
    def sheet_of(self, layout_sheet: str) -> str | None:
        """The old sheet playing that sheet's part: same name, or where its tables or cells were found."""
        if layout_sheet in self.cells:
            return layout_sheet
        for t in USER_TABLES:
            if t.sheet == layout_sheet and t.name in self.blocks:
                return self.blocks[t.name].sheet
        for nc in layout.NAMED_CELLS:
            if nc.sheet == layout_sheet and nc.name in self.named_cells:
                return self.named_cells[nc.name][0]
        return None

    # -- finding by content
    def _locate_tables(self) -> None:
        missing = []
        used: set[str] = set()
        for t in USER_TABLES:
            b = self.fs.table(t.name)
            if b is not None:  # by its name, as the reader finds it (renamed headers mapped there)
                self.blocks[t.name] = b
                used.add(b.name.lower())
            else:
                missing.append(t)
        if not missing:
            return
        candidates = []  # (score, table, block, how)
        for name in self.fs.table_names():
            if name.lower() in used:
                continue
            b = self.fs.table(name)
            for t in missing:
                s = _score(t, b.header) if b is not None else 0
                if s >= _MATCH:
                    candidates.append((s, t, b, f"dans le tableau {q(b.name)} de la feuille {q(b.sheet)}"))
        taken = self._assign(candidates, missing)
        missing = [t for t in missing if t.name not in self.blocks]
        if not missing:
            return
        candidates = []
        for sheet, cells in self.cells.items():
            for r, c1, c2, headers in _runs(cells):
                if any(self._inside(sheet, r, c) for c in range(c1, c2 + 1)):
                    continue
                for t in missing:
                    s = _score(t, headers)
                    if s >= _MATCH:
                        block = _block_below(t.name, sheet, r, c1, c2, cells)
                        candidates.append((s, t, block, f"en {a1(r, c1)} de la feuille {q(sheet)}, hors de tout tableau"))
        self._assign(candidates, missing, taken)

    def _assign(self, candidates, missing, taken=None) -> set:
        taken = set() if taken is None else taken
        for s, t, b, how in sorted(candidates, key=lambda x: -x[0]):
            key = (b.sheet, b.first_row, b.first_col)
            if t.name in self.blocks or key in taken:
                continue
            taken.add(key)
            self.blocks[t.name] = b
            self.found_elsewhere.append(f"{q(t.name)} retrouvé par ses en-têtes {how}")
        return taken

    def _inside(self, sheet: str, r: int, c: int) -> bool:
        return any(b.sheet == sheet and b.first_row <= r <= b.last_row and b.first_col <= c <= b.last_col
                   for b in self.blocks.values())

    def _by_label(self, nc: layout.NamedCell) -> tuple[str, str, Any] | None:
        """The cell right of the named cell's label (the template writes it in the cell to its left),
        on the sheet playing the named cell's sheet first."""
        if self._labels is None:
            self._labels = {}
            for sheet, cells in self.cells.items():
                for (r, c), v in sorted(cells.items()):
                    if isinstance(v, str):
                        self._labels.setdefault(fold(v), []).append((sheet, r, c))
        places = self._labels.get(fold(nc.label), [])
        home = self.sheet_of(nc.sheet)
        for sheet, r, c in sorted(places, key=lambda p: p[0] != home):
            return sheet, a1(r, c + 1), self.cells[sheet].get((r, c + 1))
        return None


def _runs(cells: dict[tuple[int, int], Any]):
    """(row, first col, last col, values) of every run of consecutive non-empty text cells of a sheet."""
    by_row: dict[int, list[int]] = {}
    for r, c in cells:
        if isinstance(cells[(r, c)], str):
            by_row.setdefault(r, []).append(c)
    for r, cols in sorted(by_row.items()):
        cols.sort()
        start = prev = cols[0]
        for c in cols[1:] + [None]:
            if c is not None and c == prev + 1:
                prev = c
                continue
            if prev > start:  # a header row has at least two cells
                yield r, start, prev, [cells[(r, x)] for x in range(start, prev + 1)]
            if c is not None:
                start = prev = c


def _block_below(name: str, sheet: str, r: int, c1: int, c2: int, cells: dict) -> TableBlock:
    """A table found in plain cells: its header run at row r, its data down to the first blank row."""
    rows = []
    rr = r + 1
    while True:
        line = [cells.get((rr, c)) for c in range(c1, c2 + 1)]
        if all(v is None for v in line):
            break
        rows.append(line)
        rr += 1
    header = [str(cells.get((r, c), "") or "") for c in range(c1, c2 + 1)]
    return TableBlock(name, sheet, r, c1, header, rows, end_row=r + len(rows))
