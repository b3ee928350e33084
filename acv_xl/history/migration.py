"""`acv-xl migrer ANCIEN.xlsx -o NOUVEAU.xlsx`: the current template (buttons, lists, formulas,
formats) filled with every value of a workbook of an earlier template version, or of a damaged one.

How the old workbook is read (`MigrationSource`, a `Source` over the file reader):
- each table of the contract by its name; failing that by its headers: first among the workbook's
  other tables (a table renamed), then in the cells of every sheet (a table turned into a plain
  range, a sheet renamed or copied as values) — the row whose run of consecutive cells holds most
  of the table's headers, the data down to the first blank row;
- each named cell by its defined name; failing that by its label, which the template writes in
  the cell to its left;
- the lines typed right below a table (STR-09) are carried into it, column by column.
Then the workbook's version is brought to the current one step by step (`STEPS`, one per version
of `layout.TEMPLATE_VERSIONS`), and the template is written with these values
(`template.build_workbook`): the drop-downs, formulas and buttons are the current template's.

Every other non-empty cell is accounted for: the template's own texts (titles, labels, headers)
and the computed sheets (Synthèse, Contrôles, rewritten by « Valider ») are not user values; the
rest — a column the template does not have, a value right of a table, a note outside the tables,
a sheet the template does not have — cannot be carried and is reported with its old sheet and
cell (`Migration.uncarried`, exit status 1). A formula is carried as its computed value.
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from acv_xl.contract import layout
from acv_xl.contract.model import ROW_MODELS, Convention, build_named, build_row
from acv_xl.contract.values import fmt_date, fmt_number, fold
from acv_xl.outputs.atomic import atomic_write
from acv_xl.outputs.template import build_workbook
from acv_xl.reading.errors import UnreadableWorkbook
from acv_xl.reading.read import column_index, read_source, renamed_header
from acv_xl.reading.source import TableBlock, a1, parse_a1
from acv_xl.reading.source_file import MAX_GRID_CELLS, FileSource

_LAST_ROW, _LAST_COL = 1_048_576, 16_384
# Share of a table's headers a candidate must hold (over the larger of the two header counts): a
# row of T_Financements holds 3 of the 4 headers of T_Dispositifs, but among 10 cells.
_MATCH = 0.5
_USER_TABLES = tuple(t for t in layout.TABLES if t.user_filled)
_COMPUTED_SHEETS = (layout.Sheet.SYNTHESE, layout.Sheet.CONTROLES)  # formulas, or rewritten by Valider
_MENTION_CELL = (3, 2)  # Accueil!B3: the red mention of a demonstration workbook (template._write_accueil)

# Template version → the step that brings a convention of that version to the next one, e.g. a list
# value renamed or a column split. `layout.TEMPLATE_VERSIONS` lists the versions; a new version
# adds its step here (from the version before it) and a test (tests/test_migration.py).
STEPS: dict[str, Callable[[Convention], None]] = {}


class UnusableWorkbook(Exception):
    """Nothing of the contract was found: not a workbook to migrate (exit status 2)."""


@dataclass
class Uncarried:
    sheet: str
    cell: str
    value: Any
    reason: str


@dataclass
class Migration:
    source: str
    version: str | None  # the old workbook's template version, as typed
    conv: Convention
    mention: str | None = None
    found_elsewhere: list[str] = field(default_factory=list)  # tables found by their headers (French)
    carried_lines: list[tuple[str, str, int]] = field(default_factory=list)  # (table, old sheet, old row)
    missing_tables: list[str] = field(default_factory=list)
    uncarried: list[Uncarried] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # versions stepped from

    @property
    def exit_code(self) -> int:
        return 1 if self.uncarried else 0


def q(text: str) -> str:
    return f"« {text} »"


# ----------------------------------------------------------------------------- the old workbook
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
            name: {(r, c): v for r, c, v in fs.occupied(name, 1, _LAST_ROW, 1, _LAST_COL)}
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
        for t in _USER_TABLES:
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
        for t in _USER_TABLES:
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


# ----------------------------------------------------------------------------- the template's texts
@lru_cache(maxsize=1)
def template_texts() -> frozenset[str]:
    """Every text the blank template writes (titles, how-to, labels, headers, reference lists),
    folded: such a text in an old workbook is the template's, not a user value."""
    fd, tmp = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        build_workbook(tmp)
        with FileSource(tmp) as fs:
            return frozenset(fold(v) for s in fs.sheet_names()
                             for _r, _c, v in fs.occupied(s, 1, _LAST_ROW, 1, _LAST_COL) if isinstance(v, str))
    finally:
        os.unlink(tmp)


# ----------------------------------------------------------------------------- the migration
def _carry_stray_lines(ms: MigrationSource, conv: Convention, mig: Migration, covered: set) -> None:
    """Lines typed right below a table go into it; a value right of a table cannot be carried."""
    below: dict[tuple[str, int], list] = {}
    for sc in conv.stray_cells:
        if sc.right:
            mig.uncarried.append(Uncarried(sc.sheet, sc.cell, sc.value,
                                           f"à droite du tableau {q(sc.table)}, hors de ses colonnes"))
        else:
            below.setdefault((sc.table, sc.row), []).append(sc)
        covered.add((sc.sheet, sc.row, sc.col))
    for (name, row), cells in below.items():
        table = layout.TABLES_BY_NAME[name]
        block = ms.blocks[name]
        by_j = {j: attr for attr, j in column_index(table, block).items()}
        raw: dict[str, Any] = {}
        where: dict[str, str] = {}
        for sc in cells:
            attr = by_j.get(sc.col - block.first_col)
            if attr is None:
                header = block.header[sc.col - block.first_col] if sc.col - block.first_col < len(block.header) else ""
                mig.uncarried.append(Uncarried(sc.sheet, sc.cell, sc.value,
                                               f"sous la colonne {q(str(header))} du tableau {q(name)}, absente du modèle"))
                continue
            raw[attr], where[attr] = sc.value, sc.cell
        if raw:
            cls, attr_name = ROW_MODELS[name]
            for attr in column_index(table, block):
                raw.setdefault(attr, None)
            getattr(conv, attr_name).append(build_row(cls, raw, where, sheet=cells[0].sheet, row=row))
            mig.carried_lines.append((name, cells[0].sheet, row))


def _account_for_every_cell(ms: MigrationSource, mig: Migration, covered: set) -> None:
    """Every non-empty cell of the old workbook is carried, the template's own, or reported."""
    texts = template_texts()
    sheets_of = {ms.sheet_of(s): s for s in layout.SHEETS if ms.sheet_of(s) is not None}
    for name, block in ms.blocks.items():
        table = layout.TABLES_BY_NAME[name]
        mapped = set(column_index(table, block).values())
        for r in range(block.first_row, block.last_row + 1):
            for j in range(block.last_col - block.first_col + 1):
                c = block.first_col + j
                if (block.sheet, r, c) in covered:
                    continue
                covered.add((block.sheet, r, c))
                v = ms.cells.get(block.sheet, {}).get((r, c))
                if v is None or (j in mapped and r <= block.first_row + len(block.rows)):
                    continue
                header = block.header[j] if j < len(block.header) else ""
                why = (f"colonne {q(str(header))} du tableau {q(name)}, absente du modèle" if j not in mapped
                       else f"ligne de total du tableau {q(name)} (le modèle calcule ses totaux dans la Synthèse)")
                mig.uncarried.append(Uncarried(block.sheet, a1(r, c), v, why))
    for sheet, cell in ms.named_cells.values():
        r, c = parse_a1(cell)
        covered.add((sheet, r, c))
    accueil = ms.sheet_of(layout.Sheet.ACCUEIL)
    for sheet, cells in ms.cells.items():
        role = sheets_of.get(sheet)
        if role in _COMPUTED_SHEETS:
            continue
        for (r, c), v in sorted(cells.items()):
            if (sheet, r, c) in covered or (isinstance(v, str) and fold(v) in texts):
                continue
            if sheet == accueil and (r, c) == _MENTION_CELL and isinstance(v, str):
                mig.mention = v
                continue
            why = ("hors des tableaux et des cellules du modèle" if role is not None
                   else f"la feuille {q(sheet)} n'a pas d'équivalent dans le modèle")
            mig.uncarried.append(Uncarried(sheet, a1(r, c), v, why))


def _upgrade(conv: Convention, version: str | None, mig: Migration) -> None:
    versions = [v for v, _ in layout.TEMPLATE_VERSIONS]
    if version in versions:
        for v in versions[versions.index(version):-1]:
            STEPS[v](conv)
            mig.steps.append(v)
    nv = conv.names.get("acv_version_modele")
    conv.names["acv_version_modele"] = build_named(
        "acv_version_modele", layout.TEMPLATE_VERSION, *((nv.sheet, nv.cell) if nv else ()))


def migrate(src: Path | str) -> Migration:
    """Read `src` into a convention for the current template; raises `UnreadableWorkbook` or
    `UnusableWorkbook` when there is nothing to migrate."""
    src = Path(src)
    with FileSource(src) as fs:
        ms = MigrationSource(fs)
        conv = read_source(ms)
        conv.fichier = str(src)
        if not ms.blocks and not ms.named_cells:
            raise UnusableWorkbook(
                f"Le fichier « {src.name} » ne contient aucun tableau ni aucune cellule du classeur ACV : "
                "rien à reprendre dans le modèle.")
        version = conv.value("acv_version_modele")
        mig = Migration(str(src), None if version is None else str(version).strip(), conv,
                        found_elsewhere=list(ms.found_elsewhere),
                        missing_tables=[t.name for t in _USER_TABLES if t.name not in ms.blocks])
        covered: set[tuple[str, int, int]] = set()
        _carry_stray_lines(ms, conv, mig, covered)
        _account_for_every_cell(ms, mig, covered)
    conv.stray_cells = []
    _upgrade(conv, mig.version, mig)
    return mig


def write(mig: Migration, out: Path | str) -> Path:
    return atomic_write(Path(out), lambda tmp: build_workbook(tmp, mig.conv, mig.mention))


def check_output(src: Path, out: Path, replace: bool) -> str | None:
    """Why `out` may not be written (None when it may). A minimal guard, to be replaced by the
    shared one: never onto the input, never over an existing file unless `--remplacer`."""
    if out.suffix.lower() != ".xlsx":
        return f"le classeur migré doit avoir l'extension .xlsx : {out}"
    if out.is_dir():
        return f"« {out} » est un dossier : indiquez le fichier à écrire."
    if not out.parent.is_dir():
        return f"le dossier « {out.parent} » n'existe pas : créez-le ou choisissez un autre chemin."
    if out.exists():
        try:
            same = out.resolve() == src.resolve() or os.path.samefile(out, src)
        except OSError:
            same = False
        if same:
            return (f"le classeur migré ne peut pas remplacer le classeur d'origine « {src} » : "
                    "indiquez un autre fichier avec -o.")
        if not replace:
            return (f"le fichier « {out} » existe déjà : choisissez un autre nom, ou ajoutez --remplacer "
                    "pour le remplacer.")
    return None


# ----------------------------------------------------------------------------- what the user reads
def shown(value: Any) -> str:
    """A cell value as a French reader reads it, control characters made visible."""
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, (int, float)):
        return fmt_number(value, 0 if float(value).is_integer() else 2)
    if hasattr(value, "year") and hasattr(value, "day"):
        return fmt_date(value)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else f"\\x{ord(ch):02x}" for ch in str(value))
    return text if len(text) <= 60 else text[:59] + "…"


def summary(mig: Migration, out: Path | str) -> list[str]:
    lines = [f"Classeur migré écrit : {out} (modèle {layout.TEMPLATE_VERSION})",
             f"Classeur d'origine : {mig.source} (modèle {mig.version or 'non renseigné'})"]
    if mig.version not in [v for v, _ in layout.TEMPLATE_VERSIONS]:
        lines.append("Version du modèle inconnue de cet outil : le classeur a été repris d'après son contenu "
                     "(tableaux et cellules retrouvés par leurs en-têtes et leurs libellés).")
    for text in mig.found_elsewhere:
        lines.append(f"Tableau {text}.")
    for name in mig.missing_tables:
        lines.append(f"Tableau {q(name)} introuvable : il est repris vide (ou avec la liste de référence).")
    if mig.carried_lines:
        lines.append(f"Lignes saisies sous un tableau, intégrées au tableau : {len(mig.carried_lines)}")
        for table, sheet, row in mig.carried_lines:
            lines.append(f"  {q(table)} : ligne {row} de la feuille {q(sheet)}")
    if mig.uncarried:
        lines.append(f"Valeurs non reprises : {len(mig.uncarried)} (à recopier à la main si elles comptent)")
        for u in mig.uncarried:
            lines.append(f"  Feuille {q(u.sheet)}, {u.cell} : {q(shown(u.value))} — {u.reason}")
    else:
        lines.append("Toutes les valeurs ont été reprises.")
    return lines


def run_migrer(src: Path, out: Path, replace: bool = False) -> int:
    """The `acv-xl migrer` command: 0 all carried, 1 some values not carried, 2 unusable input."""
    import sys

    if problem := check_output(src, out, replace):
        print(f"acv-xl : {problem}", file=sys.stderr)
        return 2
    try:
        mig = migrate(src)
    except UnreadableWorkbook as exc:
        print(f"acv-xl : {exc.message} {exc.suggestion}".rstrip(), file=sys.stderr)
        return 2
    except UnusableWorkbook as exc:
        print(f"acv-xl : {exc}", file=sys.stderr)
        return 2
    write(mig, out)
    print("\n".join(summary(mig, out)))
    return mig.exit_code
