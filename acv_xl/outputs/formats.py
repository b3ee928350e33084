"""Excel number formats, highlight colours and the typed cell writer shared by every writer
(template, annex, consolidation, annotated copy, the Valider button)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from acv_xl.contract.values import EXCEL_CELL_CHARS, excel_text

# [$-40C] is the French locale: the amount shows `1 234 567,89 €` in Excel and LibreOffice
# whatever the machine's own locale (without it, an English LibreOffice prints 1,234,567.89 €).
FMT_EUROS = '[$-40C]#,##0.00 "€"'
FMT_EUROS_ENTIERS = '[$-40C]#,##0 "€"'
# A gap (après − avant): its sign always shown, `+1 000,00 €` / `-1 000,00 €` / `0,00 €`.
FMT_EUROS_ECART = '[$-40C]+#,##0.00 "€";[$-40C]-#,##0.00 "€";[$-40C]0.00 "€"'
FMT_INTEGER = "[$-40C]#,##0"
FMT_NUMBER = "[$-40C]#,##0.0#"
# one or two decimals, as in sentences (`values.fmt_percent`)
FMT_PERCENT = "[$-40C]0.0# %"
FMT_DATE = "dd/mm/yyyy"
FMT_YEAR = "0"

# Highlights of faulty cells (RGB hex). Distinct from Excel's preset « Insatisfaisant » fill
# (#FFC7CE) so that clearing a previous run never removes a user's own colouring.
FILL_ERREUR = "#FFC8CE"
FILL_AVERTISSEMENT = "#FFE0B3"


def fit_cell(text: str, room: int = EXCEL_CELL_CHARS) -> str:
    """`text` cut to what a cell holds, with « … » (`room`: fewer, for a writer that may prefix it):
    a message quoting a long value twice (a 20 000-character comment changed since the validation) is
    longer, and Excel repairs a file holding more, or refuses a whole write of the add-in for it.
    Counted as Excel and JavaScript count, in UTF-16 units (`values.excel_text`)."""
    return excel_text(text, room, "…")


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
        write_text(ws, row, col, str(value), fmt)


def looks_rich(text: str) -> bool:
    """XlsxWriter stores a string that reads `<r>…</r>` as raw rich-text XML (that is how it keeps
    its own rich strings): user text of that shape would corrupt the file."""
    return text.startswith("<r>") and text.endswith("</r>")


def write_text(ws, row: int, col: int, text: str, fmt=None) -> None:
    """`write_string`, safe for any text: one that reads `<r>…</r>` goes through XlsxWriter's rich
    string writer, which escapes it (three plain fragments, its minimum; same text)."""
    if looks_rich(text):
        args = (text[:1], text[1:2], text[2:]) + (() if fmt is None else (fmt,))
        ws.write_rich_string(row, col, *args)
    else:
        ws.write_string(row, col, text, fmt)


def merge_text(ws, first_row: int, first_col: int, last_row: int, last_col: int, text: str, fmt=None) -> None:
    """`merge_range` with user text, as safe as `write_text` (XlsxWriter's documented way: merge
    an empty range, then write the top-left cell)."""
    ws.merge_range(first_row, first_col, last_row, last_col, "", fmt)
    write_text(ws, first_row, first_col, text, fmt)
