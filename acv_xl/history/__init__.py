"""History: the time dimension of the programme (comparisons of two states of a convention, the
register of a département's consolidations, its evolution across comités, migrations of old
workbooks).

May import: `contract`, `reading`, `checks`, `outputs`. Only `cli` and `udfs/` import it.
"""
