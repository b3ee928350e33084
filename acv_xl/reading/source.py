"""The small interface every reader goes through: tables by name, named cells, cell addresses.

A `Source` is implemented for files (`source_file.FileSource`: zip + calamine, openpyxl where
needed) and for an open Excel book (`udfs.xw_source.XwSource`, through xlwings). `read.read_source`
turns any source into a `Convention`, so the same workbook gives the same model whichever way it
was read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Protocol, Sequence

from acv_xl.contract import layout
from acv_xl.contract.values import EXCEL_COLUMNS, EXCEL_ROWS, fmt_number
from acv_xl.reading.errors import UnreadableWorkbook, file_text, shown_file

# Cells of one table read, its lines that hold something times its columns up to the sheet's last one
# (a convention's tables hold a few hundred lines): each line becomes a model and its findings, ≈ 6 KB
# a line — a plan of 200 000 lines (2 million cells, a 4 MB file) took 1,2 GB and 25 s of CPU; 20 000
# lines of 10 columns ≈ 0,17 GB, their annotated copy ≈ 0,6 GB. One limit for every reader: the button
# accepted a table the command line refused (3 million cells of its range), and refused one it read.
MAX_TABLE_CELLS = 200_000
# Cells of a sheet's grid (from A1 to its last value) read at once; a sheet past it is read region by region
# (`source_file`), where the lines of a table that hold something are not told apart: such a table is judged
# by all its lines down to the sheet's last value (`table_lines`)
MAX_GRID_CELLS = 3_000_000


@dataclass
class TableBlock:
    """An Excel table (ListObject) as found: its header texts and its data rows, raw values.

    `first_row`/`first_col` are the 1-based sheet coordinates of the header row's first cell, so
    data row i, column j sits at (first_row + 1 + i, first_col + j).
    """

    name: str
    sheet: str
    first_row: int
    first_col: int
    header: list[str]
    rows: list[list[Any]]
    merged: list[str] = field(default_factory=list)  # merged ranges inside the table ("B5:C5")
    end_row: int = 0  # last row of the table's range, its totals row included (0: the last data row)

    @property
    def last_row(self) -> int:
        return max(self.end_row, self.first_row + len(self.rows))

    @property
    def last_col(self) -> int:
        return self.first_col + max(len(self.header), 1) - 1

    @property
    def ref(self) -> str:
        last_row = self.first_row + len(self.rows)
        last_col = self.first_col + max(len(self.header), 1) - 1
        return f"{a1(self.first_row, self.first_col)}:{a1(last_row, last_col)}"


class Source(Protocol):
    def sheet_names(self) -> list[str]: ...

    def table(self, name: str) -> TableBlock | None:
        """The table of that name (case-insensitive, as Excel treats table names), or None."""

    def named(self, name: str) -> tuple[str, str, Any] | None:
        """(sheet, A1 cell, raw value) of a workbook-level defined name, or None."""

    def occupied(self, sheet: str, r1: int, r2: int, c1: int, c2: int) -> list[tuple[int, int, Any]]:
        """(row, column, raw value) of the non-empty cells of rows r1..r2 × columns c1..c2 of a
        sheet, row by row: what was typed outside the tables (STR-09)."""


def filled_extent(lines: Iterable[Sequence[Any]], lo: int, hi: int) -> tuple[int, int]:
    """(how many of `lines` hold something in their cells lo..hi - 1 (0-based, as a slice), the
    0-based end of the last such cell, lo when none)."""
    count, end = 0, lo
    for line in lines:
        used = [j for j, v in enumerate(line[lo:hi], lo) if v is not None and v != ""]
        if used:
            count, end = count + 1, max(end, used[-1] + 1)
    return count, end


# The name Excel gives a column it adds to a table (« Colonne11 », « Column11 » in English), by each of
# the 16 384 columns of a table resized to XFD: a header that names nothing the user typed
_EXCEL_COLUMN_NAME = re.compile(r"(?:Colonne|Column) ?\d+", re.I).fullmatch


def named_width(header: Sequence[Any]) -> int:
    """How many of a table's header cells reach its last one that is not blank nor a name Excel gave."""
    for j in range(len(header), 0, -1):
        v = header[j - 1]
        if v is not None and v != "" and not (v.__class__ is str and _EXCEL_COLUMN_NAME(v.strip())):
            return j
    return 0


def table_lines(sheet_cells: int, lines: int, filled: int, width: int) -> tuple[int, bool]:
    """(the lines a table too large by its range is judged by, whether they are its filled ones only) for a
    table of `lines` lines down to its sheet's last value, `filled` of them holding something, `width`
    columns, on a sheet of `sheet_cells` cells from A1 to its last value. Past `MAX_GRID_CELLS` on both,
    all its lines: the command line cannot read its filled lines alone, and reading them all would pad
    each to the width (6,5 million cells for a value typed in XFD 400 rows below the plan, a billion
    60 000 rows below) — one verdict from every reader, the button read what the command line refused."""
    if sheet_cells > MAX_GRID_CELLS and lines * width > MAX_GRID_CELLS:
        return lines, False
    return filled, True


def table_too_large(fichier: str, name: str, ref: str, lines: int, width: int,
                    filled: bool = True) -> UnreadableWorkbook | None:
    """The STR-01 refusal of a table of `lines` filled lines of `width` columns (up to the sheet's last
    one holding something) past `MAX_TABLE_CELLS`, else None — the same words from every reader.
    `filled` False: `lines` are all its lines up to the sheet's last (not told apart), said so."""
    if lines * width <= MAX_TABLE_CELLS:
        return None
    return UnreadableWorkbook(
        "STR-01", f"Le fichier « {shown_file(file_text(fichier))} » a un tableau « {name} » ({ref}) trop grand pour être lu : "
        f"{fmt_number(lines)} lignes{' remplies' if filled else ''} de {fmt_number(width)} colonnes, "
        f"{fmt_number(lines * width)} "
        f"cellules (au plus {fmt_number(MAX_TABLE_CELLS)} par tableau ; une convention en compte quelques centaines).",
        "Redimensionnez le tableau à ses seules lignes de la convention (Création de tableau > Redimensionner "
        "le tableau) et déplacez les autres données dans un autre classeur, puis enregistrez le classeur et "
        "relancez la validation.")


def takes_over(name: str, kept_ref: str, other_ref: str) -> bool:
    """Whether a sheet-level name referring to `other_ref` is read instead of the one kept, to `kept_ref`,
    both of that `name` with no workbook-level one (« Projet » copied, each copy's cell named on its own
    sheet): Excel has no single value for it, and the one on the sheet the template puts the cell on is
    the convention's, wherever the copy stands — the first in the file's order was read, the copy's
    when it stood first, and the button wrote « Validé » there."""
    expected = layout.NAMED_BY_NAME.get(name.lower())
    if expected is None:
        return False
    sheet = expected.sheet.lower()
    return split_sheet_ref(other_ref)[0].lower() == sheet != split_sheet_ref(kept_ref)[0].lower()


# ----------------------------------------------------------------------- A1 helpers
# Pure functions of a few thousand distinct arguments (columns, table and name references), called
# per table, per named cell and per finding for every file of a batch: cached.
@lru_cache(maxsize=1024)
def col_letter(col: int) -> str:
    s = ""
    while col:
        col, r = divmod(col - 1, 26)
        s = chr(65 + r) + s
    return s


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def a1(row: int, col: int) -> str:
    return f"{col_letter(col)}{row}"


_A1 = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


@lru_cache(maxsize=8192)
def parse_a1(ref: str) -> tuple[int, int]:
    """'$B$12' → (12, 2); a reference off Excel's grid (row 0, past XFD1048576), which Excel drops from
    a file it repairs, is none: a table or a name of a crafted file « A0:J9 » read the rows above it."""
    m = _A1.match(ref.strip())
    if not m:
        raise ValueError(ref)
    row, col = int(m.group(2)), col_index(m.group(1))
    if not (1 <= row <= EXCEL_ROWS and col <= EXCEL_COLUMNS):
        raise ValueError(ref)
    return row, col


@lru_cache(maxsize=8192)
def parse_range(ref: str) -> tuple[int, int, int, int]:
    """'A3:F20' → (3, 1, 20, 6); a single cell gives a 1×1 range."""
    parts = ref.split(":")
    r1, c1 = parse_a1(parts[0])
    r2, c2 = parse_a1(parts[-1])
    return r1, c1, r2, c2


@lru_cache(maxsize=1024)
def split_sheet_ref(ref: str) -> tuple[str, str]:
    """"'Plan de financement'!$B$3" → ('Plan de financement', 'B3')."""
    sheet, _, addr = ref.lstrip("=").rpartition("!")
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, addr.replace("$", "")
