"""The contract: what an ACV workbook is, as data, and the typed values read from it.

- `layout`: the only place where a sheet, table, header, list value, named cell or button name is
  written; everything else iterates it.
- `values`: how one cell's raw value becomes a typed value (or a problem), French formatting, and
  Excel's limits (its largest number, the characters a cell holds, its grid).
- `model`: a convention as typed data (a pydantic model; its tables' rows plain objects, typed by the
  reader), each value keeping its sheet, cell and raw text.
- `reference`: the national list of the programme's communes (ANCT), shipped in `data/` or given
  by the user, checked on load; the rules compare the workbook with it (PRJ-06…PRJ-11, FIN-19).
- `pydantic_plugins`: pydantic without its plugin search (the program's start-up, `cli.main`).

May import: the standard library and pydantic only. Everything else imports this layer.
"""
