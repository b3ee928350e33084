"""The fingerprint of the data read (acv_empreinte)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from acv_xl import layout
from acv_xl.fingerprint import canonical, fingerprint
from acv_xl.layout import Kind
from acv_xl.model import ROW_MODELS
from acv_xl.values import ExcelError

from conventions import build, clean_raw


def fp(mutate=None, row_offset=0):
    raw = clean_raw()
    if mutate:
        mutate(raw)
    return fingerprint(build(raw, row_offset=row_offset))


BASE = fp()


def test_same_data_same_fingerprint_and_it_is_sha256_hex():
    assert fp() == BASE
    assert len(BASE) == 64 and int(BASE, 16) >= 0


def test_moving_the_tables_keeps_the_fingerprint():
    assert fp(row_offset=7) == BASE


def test_status_cells_do_not_count():
    def m(r):
        r["names"].update(acv_statut="Validé", acv_date_validation=date(2024, 5, 1), acv_empreinte="abc")
    assert fp(m) == BASE


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, date):
        return date(value.year, value.month, 1 if value.day != 1 else 2)
    if value is None:
        return "x"
    return value + "x"


CASES = [("names", None, n.name) for n in layout.NAMED_CELLS if n.user_filled] + [
    (name, 0, c.attr) for name in ROW_MODELS for c in layout.TABLES_BY_NAME[name].columns]


@pytest.mark.parametrize("table,index,attr", CASES)
def test_any_value_change_changes_the_fingerprint(table, index, attr):
    def m(r):
        if table == "names":
            r["names"][attr] = _changed(r["names"].get(attr))
        else:
            r[table][index][attr] = _changed(r[table][index].get(attr))
    assert fp(m) != BASE


def test_row_order_counts_and_blank_rows_do_not():
    assert fp(lambda r: r["T_Actions"].reverse()) != BASE
    blank = {c.attr: None for c in layout.T_FINANCEMENTS.columns}
    assert fp(lambda r: r["T_Financements"].append(blank)) == BASE
    assert fp(lambda r: r["T_Financements"].append({**blank, "numero": ""})) == BASE


def test_reader_variants_of_the_same_cell_agree():
    # a number read as int, float or Decimal
    assert fp(lambda r: r["T_Actions"][0].update(cout_total=1_000_000.0)) == BASE
    assert fp(lambda r: r["T_Actions"][0].update(cout_total=Decimal("1000000.00"))) == BASE
    # a date read as date, datetime at midnight, Excel serial number, Office.js ISO string
    d = clean_raw()["T_Actions"][0]["date_debut"]
    assert fp(lambda r: r["T_Actions"][0].update(date_debut=datetime(d.year, d.month, d.day))) == BASE
    serial = (d - date(1899, 12, 30)).days
    assert fp(lambda r: r["T_Actions"][0].update(date_debut=float(serial))) == BASE
    assert fp(lambda r: r["T_Actions"][0].update(date_debut=d.isoformat() + "T00:00:00.000Z")) == BASE
    # an empty cell read as None or ""
    assert fp(lambda r: r["T_Actions"][0].update(description=None)) == fp(lambda r: r["T_Actions"][0].update(description=""))


def test_distinct_values_never_collide():
    kinds = [canonical(v) for v in (None, "", 0, "0", False, ExcelError("#N/A"), "#N/A", 12, "12", date(2024, 1, 1),
                                    "2024-01-01")]
    assert kinds[0] == kinds[1] is None  # blank is blank, whichever reader
    rest = [repr(k) for k in kinds[2:]]
    assert len(set(rest)) == len(rest)
    assert canonical(12) == canonical(12.0) == canonical(Decimal("12.00"))
    assert canonical(0.1) == ["num", "0.1"] and canonical(1e21) == ["num", "1000000000000000000000"]
    assert canonical(45000, Kind.DATE) == canonical(date(2023, 3, 15), Kind.DATE)
    assert canonical(45000) != canonical(date(2023, 3, 15))  # outside a date column a number stays a number


def test_text_number_differs_from_number():
    assert fp(lambda r: r["T_Actions"][0].update(cout_total="1000000")) != BASE


def test_date_with_time_agrees_across_serial_and_datetime_to_the_second():
    dt = datetime(2024, 3, 5, 14, 30, 15)
    serial = (dt - datetime(1899, 12, 30)).total_seconds() / 86400
    assert canonical(serial, Kind.DATE) == canonical(dt, Kind.DATE) == ["datetime", "2024-03-05T14:30:15"]
    assert canonical(datetime(2024, 3, 5, 14, 30, 15, 999_000), Kind.DATE) == ["datetime", "2024-03-05T14:30:16"]
    assert canonical(datetime(2024, 3, 5, 23, 59, 59, 700_000)) == ["date", "2024-03-06"]


def test_fast_serialisation_is_the_reference_json_on_every_example():
    """`canonical_json` writes the JSON text directly (speed); it must be byte for byte the plain
    `json.dumps` of `canonical_data`, the readable reference form of the fingerprint."""
    import json

    from acv_xl.examples import example_conventions
    from acv_xl.fingerprint import canonical_data, canonical_json

    convs = list(example_conventions().values()) + [build(clean_raw())]
    for conv in convs:
        reference = json.dumps(canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert canonical_json(conv) == reference
