"""`reading.totals_row`: what a table's totals row holds that no totals function of its lines gives
(STR-09), on blocks as both readers build them (the file's, the button's payload)."""

from __future__ import annotations

from acv_xl.contract import layout
from acv_xl.reading.source import TableBlock
from acv_xl.reading.totals_row import typed_cells

FIN = layout.T_FINANCEMENTS
J = {h: j for j, h in enumerate(FIN.headers)}


def _block(amounts: list) -> TableBlock:
    rows = []
    for i, amount in enumerate(amounts):
        row = [None] * len(FIN.headers)
        row[J["N° action"]], row[J["Financeur"]], row[J["Montant (€)"]] = "1.1", ["ETAT", "REGION"][i % 2], amount
        rows.append(row)
    return TableBlock(FIN.name, FIN.sheet, 3, 1, list(FIN.headers), rows, end_row=4 + len(rows))


def _cells(block: TableBlock, values: dict) -> list:
    r = block.end_row
    return [(r, 1 + J[h], v) for h, v in values.items()]


def test_a_sum_past_1e308_makes_no_typed_amount_a_total():
    """The lines' Somme overflows to infinity: within « a billionth of it » every number was a total,
    so a montant typed in the totals row was taken for one."""
    block = _block([1e308, 1e308, 5.0])
    cells = _cells(block, {"Montant (€)": 750000.0})
    assert typed_cells(block, cells) == cells


def test_a_value_no_function_gives_is_typed():
    """TRUE, or an integer past a float's range (a crafted payload), is no totals function's result."""
    block = _block([100.0, 200.0])
    for v in (True, 10 ** 400):
        cells = _cells(block, {"Montant (€)": v})
        assert typed_cells(block, cells) == cells


def test_the_rows_own_values_are_not_typed():
    block = _block([100.0, 200.0, 300.0, 400.0])
    # « Total », Somme; a filter on REGION: its Somme, its Nombre; Moyenne; an error of a function
    for values in ({"N° action": "Total", "Montant (€)": 1000.0}, {"Financeur": 2, "Montant (€)": 600.0},
                   {"Montant (€)": 250.0}, {"N° action": "TOTAL GÉNÉRAL", "Année": 0}):
        assert typed_cells(block, _cells(block, values)) == []


def test_a_value_no_filter_offers_is_no_group():
    """An Office data type (a dict) in a function's argument: the groups skip its column, no TypeError."""
    block = _block([100.0, 200.0, 300.0])
    for row in block.rows:
        row[J["Dispositif"]] = {"type": "Entity", "text": "DSIL"}
    cells = _cells(block, {"Montant (€)": 750000.0})
    assert typed_cells(block, cells) == cells
    assert typed_cells(block, _cells(block, {"Financeur": "ETAT", "Montant (€)": 400.0})) == []  # ETAT's Somme


def test_ecartype_and_var_are_the_rows_own_though_computed_last():
    """Écartype and Var are computed only for a number no other function gives (`_spread`: exact
    fractions, the costliest results); they still leave the row's own values out of STR-09."""
    import statistics

    amounts = [100.0, 200.0, 300.0, 450.0]
    block = _block(amounts)
    for value in (statistics.stdev(amounts), statistics.variance(amounts)):
        assert typed_cells(block, _cells(block, {"N° action": "Total", "Montant (€)": value})) == []
    cells = _cells(block, {"Montant (€)": statistics.stdev(amounts) + 1})
    assert typed_cells(block, cells) == cells


def test_a_count_under_the_date_column_shown_as_a_date_is_the_rows_own_in_both_readers():
    """Nombre under « Date de la demande » keeps the column's date format: 16 lines show 16/01/1900. The
    file gives that date (as Excel shows it, a day after the serial counted from 30/12/1899: Excel's
    29/02/1900), the add-in and COM give 15/01/1900: STR-09 in the command line for Excel's own Nombre
    (« à corriger »), « Validé » with the button."""
    from datetime import date, datetime

    block = _block([100.0 * (i + 1) for i in range(16)])
    for row in block.rows:
        row[J["Date de la demande"]] = date(2024, 3, 1)
    for shown in (date(1900, 1, 16), datetime(1900, 1, 15)):  # the file's, the add-in's / COM's
        assert typed_cells(block, _cells(block, {"N° action": "Total", "Date de la demande": shown})) == []
    cells = _cells(block, {"Date de la demande": date(1900, 1, 18)})  # no count of these lines
    assert typed_cells(block, cells) == cells
    cells = _cells(block, {"Date de la demande": date(2024, 3, 2)})  # a date typed there
    assert typed_cells(block, cells) == cells
