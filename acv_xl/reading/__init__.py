"""Reading: a workbook file (or, in `udfs/`, an xlwings book) → the contract's model.

- `ooxml`: the zip package and its XML parts, every size limit checked before inflating.
- `zip_guard`: one part inflated never past its declared size, CRC checked; DTDs refused.
- `source`: what a reader hands over (table blocks, named cells); A1 helpers.
- `source_file`: a `.xlsx` file as a `Source` (calamine for values, XML scan for errors/formulas).
- `read`: a `Source` → `Convention` (tables found by name, headers by text).
- `errors`: the one typed error of an unreadable file (→ STR-01 / STR-02); `file_text`, a file's name
  as any output can hold it.

May import: `contract`. Never `checks`, `outputs` or `history`.
"""
