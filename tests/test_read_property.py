"""Property: whatever a user types in the tables, `read_file` does not crash and gives it back raw."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from _read_workbooks import Err, Formula, build, default_names, table_from_layout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acv_xl.contract import layout
from acv_xl.reading.read import read_file
from acv_xl.reading.source import a1, parse_a1
from acv_xl.contract.values import EXCEL_ERRORS, ExcelError, NoCachedValue, is_blank

FIN = layout.T_FINANCEMENTS

# XML 1.0 cannot hold most control characters, nor surrogates; "\r" is normalised to "\n" by any
# XML parser (XlsxWriter does not escape it). Everything else a keyboard can produce is allowed.
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\ufffe\uffff",
                       min_codepoint=0x09).filter(lambda c: c in "\t\n" or ord(c) >= 0x20)
text = st.one_of(
    st.text(_chars, max_size=40),
    st.sampled_from(["=1+1", "+33 6 12", "-", "@SOMME(A1)", "#REF!", "#N/A", "VRAI", "TRUE", "12 000 €", "1,5",
                     "31/12/2026", "  espaces  ", "Liévin – « Cœur »", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀", "_x000D_", "ACV001"]),
    # long texts (Excel holds 32,767 UTF-16 units; 10,000 characters stay below whatever they are)
    st.builds(lambda s, n: (s * n)[:10000], st.text(_chars, min_size=1, max_size=4), st.integers(2000, 5000)),
)
number = st.one_of(st.integers(-(10**15), 10**15),
                   # below the largest double, which 16 written digits would round up to infinity
                   st.floats(min_value=-1e307, max_value=1e307, allow_nan=False, width=64),
                   st.decimals(min_value=-10**9, max_value=10**9, places=2).map(float))
value = st.one_of(
    st.none(), text, number, st.booleans(),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.sampled_from(EXCEL_ERRORS[:7]).map(Err),
    st.sampled_from(["=A1+1", "=SOMME(F4:F9)", '="a"&"b"']).map(lambda f: Formula(f, "")),
)
rows = st.lists(st.lists(value, min_size=len(FIN.columns), max_size=len(FIN.columns)), min_size=1, max_size=4)


def _same(got, want) -> bool:
    if isinstance(want, Err):
        return isinstance(got, ExcelError) and got == want.code
    if isinstance(want, Formula):
        return isinstance(got, NoCachedValue) and got == want.formula
    if want is None or want == "":
        return got is None  # an empty string is an empty cell
    if isinstance(want, bool):
        return got is want
    if isinstance(want, (int, float)):
        # XlsxWriter writes 16 significant digits (Excel keeps 15)
        return isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(got, want, rel_tol=1e-15)
    if isinstance(want, date):
        return type(got) is date and got == want
    if want in EXCEL_ERRORS:  # an error's text is that error for every reader (the add-in sends both alike)
        return isinstance(got, ExcelError) and got == want
    return isinstance(got, str) and not isinstance(got, (ExcelError, NoCachedValue)) and got == want


def _blank(v) -> bool:
    return not isinstance(v, (Err, Formula)) and is_blank(v)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rows, anchor_row=st.integers(3, 40), anchor_col=st.integers(1, 20), libelle=value)
def test_any_cell_values_come_back_raw(data, anchor_row, anchor_col, libelle):
    anchor = a1(anchor_row, anchor_col)
    spec = table_from_layout(FIN, anchor=anchor)
    spec.rows = data
    names = default_names()
    names["acv_libelle"] = (layout.Sheet.PROJET, "B5", libelle)
    tables = [spec] + [table_from_layout(t) for t in layout.TABLES if t is not FIN]
    with TemporaryDirectory() as d:
        conv = read_file(build(Path(d) / "p.xlsx", tables, names))

    expected = [(i, r) for i, r in enumerate(data) if not all(_blank(v) for v in r)]
    assert len(conv.financements) == len(expected)
    hr, hc = parse_a1(anchor)
    for line, (i, row) in zip(conv.financements, expected):
        assert line.row == hr + 1 + i
        for j, col in enumerate(FIN.columns):
            assert line.cell(col.attr) == a1(hr + 1 + i, hc + j)
            assert _same(line.raw[col.attr], row[j]), (col.attr, line.raw[col.attr], row[j])
    assert _same(conv.names["acv_libelle"].raw, libelle)
