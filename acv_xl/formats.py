"""Excel number formats and highlight colours shared by every writer (template, annex,
consolidation, annotated copy, the Valider button)."""

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
