"""The layout module against the contract text itself (docs/classeur.md).

The spec is parsed independently of the layout code: table names, header texts, list values,
named cells and sheet order must match it exactly (accents, apostrophes, spaces).
"""

import re
from pathlib import Path

import pytest

from acceptance_support import spec, spec_tables

from acv_xl.contract import layout


@pytest.fixture(scope="module")
def spec_text() -> str:
    return spec("classeur.md")


def test_sheets_in_order(spec_text):
    section = spec_text.split("## Feuilles, dans l'ordre", 1)[1].split("\n## ", 1)[0]
    sheets = re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)
    assert tuple(sheets) == layout.SHEETS


def test_tables_headers_and_lists(spec_text):
    tables = spec_tables(spec_text)
    assert set(tables) == {t.name for t in layout.TABLES}
    for table in layout.TABLES:
        spec_cols = tables[table.name]
        assert [h for h, _ in spec_cols] == list(table.headers), table.name
        for (header, choices), col in zip(spec_cols, table.columns):
            if choices:
                assert tuple(choices) == col.choices, (table.name, header)


def test_tables_on_their_sheets(spec_text):
    section = spec_text.split("## Feuilles, dans l'ordre", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        m = re.match(r"^\| `([^`]+)` \| (.*)\|$", line)
        if m:
            for tname in re.findall(r"`(T_\w+)`", m.group(2)):
                assert layout.TABLES_BY_NAME[tname].sheet == m.group(1)


def test_named_cells(spec_text):
    section = spec_text.split("## Cellules nommées", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(acv_\w+)` \| .* \| (oui|non|—) \|$", section, flags=re.M)
    assert [n for n, _ in rows] and {n for n, _ in rows} == set(layout.NAMED_BY_NAME)
    for name, req in rows:
        nc = layout.NAMED_BY_NAME[name]
        assert nc.required == (req == "oui"), name
        assert nc.user_filled == (req != "—"), name


def test_reference_funders(spec_text):
    section = spec_text.split("## Liste de référence des financeurs", 1)[1].split("\n## ", 1)[0]
    codes = re.findall(r"`([A-Z]+)` \(", section) + re.findall(r"`(PRIVE|AUTRE)`", section)
    assert set(codes) <= set(layout.FINANCEURS_BY_CODE)
    etat = layout.FINANCEURS_BY_CODE["ETAT"]
    r2334 = {d.nom for d in etat.dispositifs if d.r2334_27}
    assert r2334 == {"DSIL", "DETR", "DPV", "DSID"}
    assert {d.nature for d in layout.FINANCEURS_BY_CODE["CDC"].dispositifs} == {"Subvention", "Prêt", "Fonds propres"}
    for f in layout.FINANCEURS:
        assert f.categorie in layout.L.CATEGORIE
        for d in f.dispositifs:
            assert d.nature in layout.L.NATURE


def test_axes_official_labels():
    assert layout.AXES[1].startswith("De la réhabilitation à la restructuration")
    assert len(layout.AXES) == 5


def test_no_header_written_twice_in_code():
    """No header text of a table appears as a string literal outside layout.py."""
    root = Path(__file__).resolve().parents[1]
    sources = [p for d in ("acv_xl", "udfs") for p in (root / d).rglob("*.py") if p.name != "layout.py"]
    distinctive = {c.header for t in layout.TABLES for c in t.columns if len(c.header) > 12}
    offenders = []
    for p in sources:
        text = p.read_text(encoding="utf-8")
        for h in distinctive:
            if f'"{h}"' in text or f"'{h}'" in text:
                offenders.append((p.name, h))
    assert not offenders, offenders



def test_a_columns_position_gives_its_header_cell_in_the_template():
    """`Table.position`, the one computation of where a column sits (the template's data validation,
    a table-level finding's cell, CON-05's template column): each header is found there in the
    shipped template."""
    import openpyxl

    from acv_xl.checks.rules.consolidation import TEMPLATE_FINANCEUR_COL
    from acv_xl.reading.source import col_letter, parse_a1

    wb = openpyxl.load_workbook(Path(__file__).parents[1] / "workbooks" / "modele_acv.xlsx")
    for table in layout.TABLES:
        row, col = parse_a1(table.anchor)
        for c in table.columns:
            assert wb[table.sheet].cell(row, col + table.position(c.attr)).value == c.header, (table.name, c.attr)
    row, col = parse_a1(layout.T_FINANCEMENTS.anchor)
    assert wb[layout.T_FINANCEMENTS.sheet][f"{TEMPLATE_FINANCEUR_COL}{row}"].value == \
        layout.T_FINANCEMENTS.header("financeur")
