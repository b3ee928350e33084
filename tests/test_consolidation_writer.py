"""The consolidated workbook's own writing paths give the bytes of the ways they replace.

`_rows_xml` builds a table's rows column by column; `_rows_xml_cells` (cell by cell, the way it
replaced) is the reference: same XML, same shared strings in the same order, same use count."""

from __future__ import annotations

import enum
import random
from datetime import date, datetime
from decimal import Decimal

import pytest
from xlsxwriter.sharedstrings import SharedStringTable

from acv_xl.outputs import consolidation_workbook as W


class Libelle(str, enum.Enum):  # a str subclass whose str() is not its value
    A = "Acquis"


def _both(rows, styles, row_styles=None, heights=None, first_row=3, seed_texts=()):
    """The column way's part and table state, then the cell way's."""
    out = []
    for fn in (W._rows_xml, W._rows_xml_cells):
        sst = SharedStringTable()
        for t in seed_texts:  # texts other sheets already wrote
            sst._get_shared_string_index(t)
        xml = fn(rows, first_row, styles, row_styles, sst, heights)
        out.append((xml, dict(sst.string_table), list(sst.string_table), sst.count, sst.unique_count))
    return out


LONG = "x" * 40000


def _random_rows(rng: random.Random, n: int, width: int) -> list[tuple]:
    texts = ["Arras", "", "Oui", "Non", "<r>brut</r>", "a<b>&c", "ctrl\x01", "_x0041_", "é€😀", LONG, LONG + "y",
             "Béthune", "=1+1"]
    kinds = [
        lambda: rng.choice(texts),
        lambda: rng.choice(texts + [None]),
        lambda: rng.choice([True, False]),
        lambda: rng.choice([True, False, None, "Oui", "peut-être"]),
        lambda: rng.choice([2024, 2025, None, 0, -3]),
        lambda: rng.choice([Decimal("1.10"), Decimal("1.1"), Decimal("0"), 2.5, None, Decimal("-1234567.89")]),
        lambda: rng.choice([date(2026, 3, 2), datetime(2026, 3, 4, 10, 20, 30), None]),
        lambda: rng.choice(texts + [1, 2.5, Decimal("3"), date(2025, 1, 1)]),
    ]
    cols = [rng.choice(kinds) for _ in range(width)]
    return [tuple(c() for c in cols) for _ in range(n)]


@pytest.mark.parametrize("seed", range(40))
def test_rows_column_by_column_are_the_cells_written_one_by_one(seed):
    rng = random.Random(seed)
    width = rng.randint(1, 9)
    rows = _random_rows(rng, rng.randint(1, 60), width)
    styles = [rng.choice([0, 0, 3, 7]) for _ in range(width)]
    other = [rng.choice([0, 5, 11]) for _ in range(width)]
    row_styles = rng.choice([None, [rng.choice([styles, other, list(styles)]) for _ in rows]])
    heights = rng.choice([None, [rng.choice([None, 30.0, 45.5]) for _ in rows]])
    fast, slow = _both(rows, styles, row_styles, heights, first_row=rng.randint(0, 2000),
                       seed_texts=rng.sample(["Arras", "Total", "Oui", "zzz"], 2))
    assert fast == slow


def test_most_random_tables_take_the_column_way(monkeypatch):
    """The comparison above is worth something only if the column way is the one taken."""
    taken = []
    real = W._rows_xml_cells
    monkeypatch.setattr(W, "_rows_xml_cells", lambda *a: taken.append(1) or real(*a))
    for seed in range(40):
        rng = random.Random(seed)
        width = rng.randint(1, 9)
        W._rows_xml(_random_rows(rng, rng.randint(1, 60), width), 3, [0] * width, None, SharedStringTable())
    assert len(taken) < 20


@pytest.mark.parametrize("rows", [
    [("a", 1), ("b", Decimal("1"))],  # 1 and 1.0 in one column: cells by cell
    [("a", True), ("b", 1)],  # True and 1
    [("a", Libelle.A), ("Acquis", "b")],  # a str subclass
    [("a", b"x"), ("b", "c")],  # a type never expected
    [("a", "b"), ("c",)],  # unequal lengths
    [],
])
def test_the_tables_it_cannot_take_column_by_column_are_the_same_too(rows):
    fast, slow = _both(rows, [0, 4])
    assert fast == slow


@pytest.mark.parametrize("texts", [
    ["Arras", "Béthune", "é€😀", "", "=1+1", "« guillemets »", 'a "q" b'],  # all plain: the one-pass way
    ["Arras", " espace", "espace ", "ligne\n", "\u00a0insécable", "fin\u2003"],  # no markup, spaces around
    ["Arras", " espace", "espace ", "ligne\n", "\tt", "\u00a0insécable", "a<b>&c", "<r>brut</r>",
     "<r><t>x</t></r>", "ctrl\x01\x1f.", "_x0041_ lit", "a_", "xb", "\ufffe\uffff", "retour\r\nchariot",
     "fin\n", "x" * 40000],
])
def test_shared_strings_are_xlsxwriters_own_part(texts):
    """The shared strings part written in one pass is XlsxWriter's, byte for byte."""
    from io import StringIO

    from xlsxwriter.sharedstrings import SharedStrings

    parts = []
    for cls in (W._shared_strings_class(), SharedStrings):
        table = SharedStringTable()
        for t in texts + texts[:2]:
            table._get_shared_string_index(t)
        table._sort_string_data()
        sst = cls()
        sst.string_table = table
        sst._set_filehandle(StringIO())
        sst._assemble_xml_file()
        parts.append(sst.fh.getvalue())
    assert parts[0] == parts[1]
    assert parts[0].count("<si>") == len(texts)


@pytest.mark.parametrize("formula", [
    "=SUBTOTAL(109,L4:L36003)", '=IFERROR(N1004/J1004,"")', "{=SUBTOTAL(109,A4:A5)}", "SUBTOTAL(9,B2:B3)",
    "=SORT(A1:A3)", "=SUBTOTAL(109,FILTER(A1:A3,B1:B3))", "=XSUBTOTAL(1)", "=A.SORT(B1)", "=1SORT(A1)",
    '=IFERROR(UNIQUE(A1:A9),"")', "=ZINGLE(A1)", "=_xlfn.XLOOKUP(A1,B1:B2,C1:C2)", "=A1+B1",
    '=SUMPRODUCT(SUBTOTAL(109,OFFSET(J4,ROW(J4:J9)-ROW(J4),0)),--(L4:L9="Oui"))', "=ROWS(A1:A3)",
    "=SUMPRODUCT(SORT(A1:A3))",
])
@pytest.mark.parametrize("future", [False, True])
def test_formulas_prepared_as_xlsxwriter_prepares_them(formula, future):
    from xlsxwriter.worksheet import Worksheet

    sheet = W._sheet_class()()
    sheet.use_future_functions = future
    for expand in (False, True):
        assert sheet._prepare_formula(formula, expand) == Worksheet._prepare_formula(sheet, formula, expand)
        assert sheet._prepare_formula(formula, expand) == Worksheet._prepare_formula(sheet, formula, expand)  # memo


def test_no_formula_of_a_consolidation_goes_through_xlsxwriters_expressions(example_folder, tmp_path, monkeypatch):
    """Every formula of the consolidated workbook calls only functions XlsxWriter never prefixes
    (`_PLAIN_FUNCTIONS`): none pays its 150 regular expressions, compiled in each process (≈ 5 ms).
    `test_formulas_prepared_as_xlsxwriter_prepares_them` checks that these give its own result."""
    from xlsxwriter.worksheet import Worksheet

    from acv_xl.outputs.consolidation import consolidate

    sent: list[str] = []
    original = Worksheet._prepare_formula

    def spy(self, formula, expand_future_functions=False):
        sent.append(formula)
        return original(self, formula, expand_future_functions)

    monkeypatch.setattr(Worksheet, "_prepare_formula", spy)
    # the memo emptied: a formula another test of the process prepared would not reach the spy
    monkeypatch.setattr(W, "_FORMULAS", {})
    consolidate([example_folder], tmp_path / "consolidation.xlsx", jobs=1, par_financeur=tmp_path / "extraits")
    assert sent == []
    assert len(list((tmp_path / "extraits").glob("*.xlsx"))) > 1  # the extracts' total rows too


def test_the_packers_thread_deflates_each_part_in_order_hands_back_its_error_and_ends(monkeypatch):
    """`_Packer.add`: each part deflated by the packer's own thread (its length, CRC-32, and a stream that
    joins the next part's), an error raised where the part is joined, the thread ended by `close`."""
    import zlib

    packer = W._Packer()
    texts = ['<row r="1"><c/></row>' * 50, '<row r="51"><c/></row>']
    parts = packer.blocks[packer.add(iter(texts)).encode()]
    done = [p.result() for p in parts]
    assert [(n, crc) for n, crc, _ in done] == [(len(t), zlib.crc32(t.encode())) for t in texts]
    assert zlib.decompressobj(-15).decompress(b"".join(d for _, _, d in done)) == "".join(texts).encode()

    def broken(data, c=None):
        raise MemoryError("plus de mémoire")

    monkeypatch.setattr(W, "_pack", broken)
    (failed,) = packer.blocks[packer.add(["<row/>"]).encode()]
    with pytest.raises(MemoryError):
        failed.result()
    packer.close()
    assert not packer._thread.is_alive()


@pytest.mark.parametrize("amounts", [
    [Decimal("1.10"), Decimal("1.1"), 1.1, None, Decimal("2.5"), 2.5, Decimal("-1234567.89")],
    # two Decimals apart whose floats are one: one cell's XML, as before
    [Decimal("0.1"), Decimal("0.1000000000000000000001"), None, Decimal("0.1000000000000000000001")],
    [Decimal("0"), Decimal("0.00"), 0.0, None, Decimal("1E+3"), Decimal("1000")],
])
def test_a_column_of_amounts_is_written_as_cell_by_cell(amounts):
    """A column of amounts is looked up by its floats (`_rows_xml_parts`), not its Decimals: the
    same cells as one by one, whatever the amounts' exponents and the floats among them."""
    rows = [(f"c{i % 3}", v, i) for i, v in enumerate(amounts * 3)]
    fast, slow = _both(rows, [0, 4, 0])
    assert fast == slow


@pytest.mark.parametrize("seed", range(30))
def test_rows_run_past_a_page_as_their_whole_sum_does(seed):
    """`_runs_past` stops at the first row past the room: the verdict of the whole sum. The heights are
    the writer's, whole pixels at 0,75 pt (or whole points): every sum exact, the verdict the same to the
    last bit on every Python — Python 3.12's `sum` compensates its roundings, which a running sum of
    0,1 pt rows does not, and this test failed there."""
    rng = random.Random(seed)
    heights = [rng.choice([15.0, 17.0, 32.25, 0.75, 47.25, 22.5, 409.0]) for _ in range(rng.randint(0, 80))]
    before, after = rng.choice([0.0, 17.0, 32.25]), rng.choice([0.0, 0.75, 216.0])
    whole = before + sum(heights) + after
    for room in (whole, whole - 0.75, whole + 0.75, whole - 1e-9, whole + 1e-9, whole / 2, 0.0, 500.0):
        assert W._runs_past(iter(heights), room, before, after) == (bool(heights) and whole > room)
