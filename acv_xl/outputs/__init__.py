"""Outputs: everything acv-xl writes or prints, from the checks' results. Never computes a
business number itself (those come from `checks.totals`).

- `template`, `examples`: the blank workbook and the fictitious Pas-de-Calais examples.
- `report`: the text and JSON reports of `valider`.
- `annotate`: the annotated copy (Contrôles sheet, highlighted cells), written at the OOXML level.
- `annex`: the annex of the convention or avenant (xlsx, PDF through `libreoffice`).
- `consolidation` (the batch), `consolidation_result` (what it computed),
  `consolidation_workbook` (the consolidated workbook and JSON summary).
- `formats`, `page_layout`, `atomic`, `libreoffice`: number formats and styles, how each sheet
  prints (A4 landscape, ≥ 8 pt, key columns repeated, wrapped text with computed row heights),
  atomic writes, the headless spreadsheet used to print.
- `terminal`: user text shown literally on a terminal (control characters, Rich markup).

May import: `contract`, `reading`, `checks`. Never `history`.
"""
