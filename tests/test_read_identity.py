"""The reader's fast paths (`model.row_maker`, the lists copied between workbooks, the places worked
out once) give exactly the model the reference path gives — `build_row` row by row, each value parsed
by `values.parse` — on the shipped examples, the template and a workbook of odd values read one after
the other; and a consolidation worker's summaries reach the parent as they left, field by field and
type by type (`_decimals_pickled_directly`)."""

from __future__ import annotations

import dataclasses
import pickle
import random
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from _read_workbooks import Err, Formula, build, default_names, table_from_layout
from pydantic import BaseModel

from acv_xl.contract import layout
from acv_xl.contract.model import ROW_MODELS, Cells, Convention, Ligne, build_row, empty
from acv_xl.reading.read import _map_columns, read_file
from acv_xl.reading.source import col_letter
from acv_xl.reading.source_file import FileSource

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx")) + [ROOT / "workbooks" / "modele_acv.xlsx"]
_ODD = [None, "", "  ", " texte ", 0, -0.0, 1.5, 2.675, 0.125, 1e16, 1e25, 123456789012.5, 2024, 2024.0, 1899, True,
        date(2024, 3, 1), datetime(2024, 3, 1), datetime(2024, 3, 1, 13, 45), Err("#REF!"), Formula("=1+1", ""),
        "12 000 €", "Axe 3", "3", 3.0, "Acquis", "acquis ", "Refusé", "2024", "31/12/2024", "x" * 300, -1234.56]


def typed(x):
    """`x` as comparable data with every type spelled out (a Decimal's exponent, a float's sign)."""
    t = type(x)
    if t in (list, tuple):
        return [t.__name__, [typed(v) for v in x]]
    if t is dict:
        return ["dict", [[typed(k), typed(v)] for k, v in x.items()]]
    if t is Cells:
        return ["Cells", [[k, x[k]] for k in x]]
    if isinstance(x, BaseModel):
        return [t.__name__, typed(vars(x)), sorted(x.__pydantic_fields_set__)]
    if isinstance(x, Ligne):
        return [t.__name__, typed(vars(x))]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return [t.__name__, [[f.name, typed(getattr(x, f.name))] for f in dataclasses.fields(x)]]
    return [t.__name__, repr(x)]


def _odd_workbook(path: Path, seed: int) -> Path:
    rnd = random.Random(seed)
    tables = []
    for t in layout.TABLES:
        if t is layout.T_CONTROLES:
            continue
        rows = [{c.attr: rnd.choice(list(c.choices) + [None]) if c.choices and rnd.random() < 0.5 else rnd.choice(_ODD)
                 for c in t.columns} for _ in range(rnd.choice([0, 1, 5, 20]))]
        tables.append(table_from_layout(t, rows))
    return build(path, tables, default_names())


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("odd")
    # the examples twice: their lists are then copied from the first reading
    return SHIPPED + [_odd_workbook(d / f"odd{k}.xlsx", k) for k in range(3)] + SHIPPED


def _reference_rows(path: Path) -> dict[str, list]:
    """Each table's rows as `build_row` makes them from the source's blocks, row by row."""
    out = {}
    with FileSource(path) as source:
        for table in layout.TABLES:
            if table.name not in ROW_MODELS or (block := source.table(table.name)) is None:
                continue
            cls = ROW_MODELS[table.name][0]
            columns = _map_columns(table, block, empty(Convention))
            rows = []
            for i, values in enumerate(block.rows):
                raw = {a: (values[j] if j < len(values) else None) for a, j in columns.items()}
                if all(v is None or (v.__class__ is str and not v.strip()) for v in raw.values()):
                    continue  # a blank row is no row
                n = block.first_row + 1 + i
                cells = {a: f"{col_letter(block.first_col + j)}{n}" for a, j in columns.items()}
                rows.append(build_row(cls, raw, cells, block.sheet, n))
            out[table.name] = rows
    return out


def test_the_reader_gives_the_reference_rows_value_for_value(workbooks):
    for path in workbooks:
        conv = read_file(path)
        for name, want in _reference_rows(path).items():
            got = conv.rows(name)
            # `Cells` stands for the dict of addresses `build_row` keeps: compared as dicts
            assert [typed({**vars(r), "cells": dict(r.cells)}) for r in got] == \
                [typed({**vars(r), "cells": dict(r.cells)}) for r in want], (path.name, name)
            assert [list(vars(r)) for r in got] == [list(vars(r)) for r in want]  # the fields, in one order


def test_a_summary_reaches_the_parent_as_it_left(workbooks):
    from multiprocessing.reduction import ForkingPickler

    from acv_xl.outputs import consolidation

    consolidation._decimals_pickled_directly()
    summaries = consolidation._summarize_chunk([(str(p), p.name) for p in workbooks[:8]])
    assert any(s.lines for s in summaries)  # amounts (Decimals) among them
    back = pickle.loads(ForkingPickler.dumps(summaries))
    assert [typed(s) for s in back] == [typed(s) for s in summaries]
    assert all(type(m) is Decimal for s in back for m in (s.acquis, *(line[7] for line in s.lines)) if m is not None)
