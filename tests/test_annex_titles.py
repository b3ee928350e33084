"""The annex's action sheet titles are valid Excel sheet names for every action number."""

from __future__ import annotations

import re

import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from acv_xl.outputs.annex import AnnexSheet, _sheet_title

_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
_FIXED = {n.lower() for n in (AnnexSheet.COVER, AnnexSheet.PERIMETRES, AnnexSheet.ACTIONS, AnnexSheet.FINANCEMENT,
                              AnnexSheet.AXE_ANNEE, AnnexSheet.PART_MO)}


def _valid(title: str) -> bool:
    return (0 < len(title.encode("utf-16-le")) // 2 <= 31 and not _FORBIDDEN.search(title) and not title.startswith("'")
            and not title.endswith("'") and title.lower() != "historique")


def test_a_31_character_title_ending_in_a_quote():
    """The case that crashed `acv-xl annexe` (InvalidWorksheetName): the cut exposed a final `'`."""
    numero = "x" * (31 - len(AnnexSheet.ACTION_PREFIX) - 1) + "'" + "suite"
    title = _sheet_title(numero, 1, set())
    assert _valid(title) and len(title) <= 31, title


numbers = st.one_of(st.none(), st.text(max_size=60),
                    st.text(alphabet="'[]:*?/\\ .-xX0123456789", max_size=45),
                    st.sampled_from(["Historique", "historique", "1.1", "1.1'", "'", "''''"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(numbers, max_size=25))
def test_every_action_number_gives_a_valid_unique_title(numeros):
    used = set(_FIXED)
    titles = [_sheet_title(n, i, used) for i, n in enumerate(numeros, start=1)]
    for t in titles:
        assert _valid(t), repr(t)
    lowered = [t.lower() for t in titles]
    assert len(set(lowered)) == len(lowered) and not set(lowered) & _FIXED
    # and the writer itself (its own checks of Excel's rules) takes them all
    wb = xlsxwriter.Workbook("ignored.xlsx", {"in_memory": True})
    for t in titles:
        wb.add_worksheet(t)
