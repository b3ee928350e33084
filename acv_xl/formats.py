"""Excel number formats, highlight colours and the typed cell writer shared by every writer
(template, annex, consolidation, annotated copy, the Valider button)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

# [$-40C] is the French locale: the amount shows `1 234 567,89 €` in Excel and LibreOffice
# whatever the machine's own locale (without it, an English LibreOffice prints 1,234,567.89 €).
FMT_EUROS = '[$-40C]#,##0.00 "€"'
FMT_EUROS_ENTIERS = '[$-40C]#,##0 "€"'
FMT_INTEGER = "[$-40C]#,##0"
FMT_NUMBER = "[$-40C]#,##0.0#"
FMT_PERCENT = "[$-40C]0.0 %"
FMT_DATE = "dd/mm/yyyy"
FMT_YEAR = "0"

# Highlights of faulty cells (RGB hex). Distinct from Excel's preset « Insatisfaisant » fill
# (#FFC7CE) so that clearing a previous run never removes a user's own colouring.
FILL_ERREUR = "#FFC8CE"
FILL_AVERTISSEMENT = "#FFE0B3"


def write_value(ws, row: int, col: int, value: Any, fmt=None) -> None:
    """Write one cell (XlsxWriter) as its Python type says. Text is always written as text, never
    turned into a formula or a number: a commune named `=HYPERLINK(…)` stays a string."""
    if value is None or (isinstance(value, str) and value == ""):
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float, Decimal)):
        ws.write_number(row, col, float(value), fmt)
    elif isinstance(value, datetime):
        ws.write_datetime(row, col, value, fmt)
    elif isinstance(value, date):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)
