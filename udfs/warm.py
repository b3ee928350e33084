"""What a server process does once at start, so that the first « Valider » costs what the next ones cost.

The first click of a fresh process would otherwise import the modules the script imports on demand,
load the national list of communes, build the findings' pydantic schemas and the reader's row
makers, and run every rule for the first time: about 40 ms more on a 5,000-line plan. `warm_up`
does all of it on a shipped example, in memory, read through the reader as a workbook is
(`ConventionSource`). Nothing of any user's workbook: the shared code, schemas and lists only (what
the example leaves in the fingerprint's memo is mostly the template's lists, which every workbook
shares). `acv-xl serveur` calls it at start (`udfs.server_app`).
"""

from __future__ import annotations

from typing import Any

from acv_xl.contract import layout
from acv_xl.contract.model import ROW_MODELS, Convention
from acv_xl.reading.source import TableBlock, parse_a1


class ConventionSource:
    """`acv_xl.reading.source.Source` over a convention in memory, as the template would hold it:
    its tables' raw values at the template's places, its named cells (blank where it has none),
    nothing outside the tables."""

    def __init__(self, conv: Convention):
        self.conv = conv

    def sheet_names(self) -> list[str]:
        return list(layout.SHEETS)

    def table(self, name: str) -> TableBlock | None:
        table = next((t for t in layout.TABLES if t.name.lower() == name.lower()), None)
        if table is None or table.name not in ROW_MODELS:
            return None
        row, col = parse_a1(table.anchor)
        return TableBlock(name=table.name, sheet=table.sheet, first_row=row, first_col=col,
                          header=list(table.headers),
                          rows=[[r.raw.get(c.attr) for c in table.columns] for r in self.conv.rows(table.name)])

    def named(self, name: str) -> tuple[str, str, Any] | None:
        nv = self.conv.names.get(name)
        if nv is not None:
            return nv.sheet, nv.cell, nv.raw
        nc = layout.NAMED_BY_NAME.get(name)  # a name the convention leaves blank: its empty template cell
        return None if nc is None else (nc.sheet, nc.cell, None)


def warm_up() -> None:
    """Import, load, build and run once what the first « Valider » would (see the module); never
    raises (a list named by `ACV_XL_REFERENCE` that is unusable is reported at the click, as before)."""
    import acv_xl.checks.validate  # noqa: F401
    import acv_xl.outputs.annex  # noqa: F401
    import acv_xl.outputs.comparison_report  # noqa: F401
    import acv_xl.outputs.template  # noqa: F401
    import acv_xl.reading.snapshot  # noqa: F401
    from acv_xl.checks.validate import validate_convention
    from acv_xl.outputs.examples import FAUTES_ATTENDUES, example_conventions
    from acv_xl.reading.read import read_source

    try:
        # an example with mistakes: findings made, so their code paths and schemas too
        name = sorted(FAUTES_ATTENDUES)[0]
        validate_convention(read_source(ConventionSource(example_conventions()[name])), fichier=name)
    except Exception:  # noqa: BLE001 — a colder first click, nothing worse
        pass
