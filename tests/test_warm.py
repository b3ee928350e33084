"""The server's warm-up (`udfs.warm`): its in-memory source reads an example as the reader reads a workbook."""

from __future__ import annotations

import pytest

from acv_xl.checks.validate import validate_convention
from acv_xl.outputs.examples import example_conventions
from acv_xl.reading.read import read_source
from udfs import warm


def _seen(report):
    return [(f.code, f.gravite, f.feuille, f.cellule, f.action, f.message, f.suggestion) for f in report.findings]


@pytest.mark.parametrize("name", sorted(example_conventions()))
def test_an_example_read_through_the_warm_up_source_is_the_example(name):
    """What `warm_up` validates is the example itself: same findings (cells included), fingerprint and
    totals as the example built in memory, so the warm-up runs the rules on a real convention."""
    conv = example_conventions()[name]
    read = read_source(warm.ConventionSource(conv))
    want, got = validate_convention(conv, fichier=name), validate_convention(read, fichier=name)
    assert _seen(got) == _seen(want)
    assert got.empreinte == want.empreinte and got.totaux == want.totaux
    assert not read.structure.missing_tables and not read.structure.missing_headers


def test_the_warm_up_never_raises_even_on_an_unusable_national_list(monkeypatch, tmp_path):
    bad = tmp_path / "liste.csv"
    bad.write_text("pas une liste\n", encoding="utf-8")
    monkeypatch.setenv("ACV_XL_REFERENCE", str(bad))
    warm.warm_up()  # reported at the click, as before: never at start
