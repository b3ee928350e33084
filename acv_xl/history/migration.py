"""`acv-xl migrer ANCIEN.xlsx -o NOUVEAU.xlsx`: the current template (buttons, lists, formulas,
formats) filled with every value of a workbook of an earlier template version, or of a damaged one.

The old workbook is read through `old_workbook.MigrationSource` (tables and named cells found by
name, else by content); the lines typed right below a table (STR-09) are carried into it, column
by column. Then the workbook's version is brought to the current one step by step (`STEPS`, one
per version of `layout.TEMPLATE_VERSIONS`), and the template is written with these values
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
from acv_xl.contract.values import EXCEL_COLUMNS, EXCEL_ROWS, fmt_date, fmt_number, fold
from acv_xl.outputs.atomic import atomic_write
from acv_xl.outputs.template import build_workbook
from acv_xl.reading.errors import UnreadableWorkbook
from acv_xl.history.old_workbook import USER_TABLES, MigrationSource, UnusableWorkbook, q
from acv_xl.reading.read import column_index, read_source
from acv_xl.reading.source import a1, parse_a1
from acv_xl.reading.source_file import FileSource

_COMPUTED_SHEETS = (layout.Sheet.SYNTHESE, layout.Sheet.CONTROLES)  # formulas, or rewritten by Valider
_MENTION_CELL = (3, 2)  # Accueil!B3: the red mention of a demonstration workbook (template._write_accueil)

# Template version → the step that brings a convention of that version to the next one, e.g. a list
# value renamed or a column split. `layout.TEMPLATE_VERSIONS` lists the versions; a new version
# adds its step here (from the version before it) and a test (tests/test_migration.py).
STEPS: dict[str, Callable[[Convention], None]] = {}


def _from_2026_1(conv: Convention) -> None:
    """2026.1 → 2026.2: the lists only grew and no column moved; every value stays as it is (the
    new drop-downs, reference financeurs and print layout come with the template written)."""


STEPS["2026.1"] = _from_2026_1


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
    totals_rows: set[tuple[str, str, int]] = field(default_factory=set)  # those typed into its totals row
    missing_tables: list[str] = field(default_factory=list)
    uncarried: list[Uncarried] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # versions stepped from
    snapshot: list[str] | None = None  # the validated data (hidden sheet), carried as it was

    @property
    def exit_code(self) -> int:
        return 1 if self.uncarried else 0


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
                             for _r, _c, v in fs.occupied(s, 1, EXCEL_ROWS, 1, EXCEL_COLUMNS) if isinstance(v, str))
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
            if cells[0].totals_row:
                mig.totals_rows.add((name, cells[0].sheet, row))


def _account_for_every_cell(ms: MigrationSource, mig: Migration, covered: set) -> None:
    """Every non-empty cell of the old workbook is carried, the template's own, or reported."""
    texts = template_texts()
    sheets_of = {ms.sheet_of(s): s for s in layout.SHEETS if ms.sheet_of(s) is not None}
    for name, block in ms.blocks.items():
        table = layout.TABLES_BY_NAME[name]
        mapped = set(column_index(table, block).values())
        cells = ms.cells.get(block.sheet, {})
        # the block's cells that hold something, in row order: not each of its positions — a table
        # stretched to row 1 048 576 (whole columns formatted as a table) has 10 million of them,
        # 9 s and 1,5 GB for 36 lines
        inside = sorted(rc for rc in cells if block.first_row <= rc[0] <= block.last_row
                        and block.first_col <= rc[1] <= block.last_col)
        for r, c in inside:
            j = c - block.first_col
            if (block.sheet, r, c) in covered:
                continue
            covered.add((block.sheet, r, c))
            v = cells[(r, c)]
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
                        missing_tables=[t.name for t in USER_TABLES if t.name not in ms.blocks])
        covered: set[tuple[str, int, int]] = set()
        if layout.SNAPSHOT_SHEET in ms.cells:  # « what changed since the validation » survives the migration
            cells = ms.cells[layout.SNAPSHOT_SHEET]
            mig.snapshot = [str(v) for (_r, c), v in sorted(cells.items()) if c == 1 and v is not None]
            covered.update((layout.SNAPSHOT_SHEET, r, c) for r, c in cells)
        _carry_stray_lines(ms, conv, mig, covered)
        _account_for_every_cell(ms, mig, covered)
    conv.stray_cells = []
    _upgrade(conv, mig.version, mig)
    return mig


def write(mig: Migration, out: Path | str) -> Path:
    return atomic_write(Path(out), lambda tmp: build_workbook(tmp, mig.conv, mig.mention, snapshot=mig.snapshot))


def check_output(src: Path, out: Path, replace: bool) -> str | None:
    """Why `out` may not be written (None when it may): the rules of every output
    (`outputs.output_guard`: never the input, never over an existing file — a report of acv-xl
    included: the migrated workbook is a convention — unless `--remplacer`, an existing folder,
    the .xlsx extension)."""
    from acv_xl.outputs.output_guard import CONVENTION_WORKBOOK, Output, check_outputs

    return check_outputs([src], [Output(out, (".xlsx",), "-o", CONVENTION_WORKBOOK)], replace=replace)


# ----------------------------------------------------------------------------- what the user reads
def shown(value: Any) -> str:
    """A cell value as a French reader reads it, control characters made visible."""
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, (int, float)):
        return fmt_number(value, 0 if float(value).is_integer() else 2)
    if hasattr(value, "year") and hasattr(value, "day"):
        return fmt_date(value)
    text = visible(str(value))
    return text if len(text) <= 60 else text[:59] + "…"


def visible(text: str) -> str:
    """Control characters (an escape sequence typed in a cell) shown as `\\x1b`, never sent raw."""
    return "".join(ch if unicodedata.category(ch) not in ("Cc", "Cf") else f"\\x{ord(ch):02x}" for ch in text)


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
        lines.append(f"Lignes saisies hors d'un tableau, intégrées au tableau : {len(mig.carried_lines)}")
        for table, sheet, row in mig.carried_lines:
            where = " (sa ligne de total)" if (table, sheet, row) in mig.totals_rows else ""
            lines.append(f"  {q(table)} : ligne {row} de la feuille {q(sheet)}{where}")
    if mig.uncarried:
        lines.append(f"Valeurs non reprises : {len(mig.uncarried)} (à recopier à la main si elles comptent)")
        for u in mig.uncarried:
            lines.append(f"  Feuille {q(u.sheet)}, {u.cell} : {q(shown(u.value))} — {u.reason}")
    else:
        lines.append("Toutes les valeurs ont été reprises.")
    return [visible(line) for line in lines]


def run_migrer(src: Path, out: Path, replace: bool = False) -> int:
    """The `acv-xl migrer` command: 0 all carried, 1 some values not carried, 2 unusable input."""
    import sys

    if problem := check_output(src, out, replace):
        print(f"acv-xl : {problem}", file=sys.stderr)
        return 2
    from acv_xl.reading.provenance import describe, produced_by

    if kind := produced_by(src):  # a consolidation, an annex…: tables of acv-xl's, not a convention
        print(f"acv-xl : « {src.name} » est {describe(kind, src)}, pas le classeur d'une convention : rien à migrer.",
              file=sys.stderr)
        return 2
    try:
        mig = migrate(src)
    except UnreadableWorkbook as exc:
        # « acv-xl : le fichier… », lower case after the colon as every other message of the command
        print(f"acv-xl : {exc.message[:1].lower()}{exc.message[1:]} {exc.suggestion}".rstrip(), file=sys.stderr)
        return 2
    except UnusableWorkbook as exc:
        print(f"acv-xl : {exc}", file=sys.stderr)
        return 2
    write(mig, out)
    print("\n".join(summary(mig, out)))
    return mig.exit_code
