"""History: the time dimension of the programme across runs — the register of a département's
consolidations (`register`), its evolution across comités (`historique`, `historique_workbook`),
the migration of old or damaged workbooks (`old_workbook`, `migration`). The comparison of two
states of a convention is pure and rendered by outputs: it lives in `checks/comparison`.

May import: `contract`, `reading`, `checks`, `outputs`. Only `cli` and `udfs/` import it.
"""
