"""acv-xl: la boîte à outils Excel du programme Action Cœur de Ville.

The package follows the flow of the data, one sub-package per step; a lower step never imports
a higher one (`tests/test_architecture.py` reads the imports to make sure):

    contract/  layout (the contract as data), values, model
    reading/   file → model (ooxml, source, source_file, read)
    checks/    model → findings, totals, fingerprint (rules/, totals, fingerprint, validate)
    outputs/   reports, annotated copy, annex, template, examples, consolidation
    history/   the time dimension (comparisons, register, history, migration)
    cli.py     one thin command per job; `udfs/` is the Excel side (xlwings), also thin

It never imports xlwings (see `udfs/`). The entry points for scripts are re-exported here:
`validate_file`, `validate_convention`, `read_file` (imported lazily: `import acv_xl` stays cheap).
"""

__version__ = "2026.2.0"

_ENTRY_POINTS = {
    "validate_file": "acv_xl.checks.validate",
    "validate_convention": "acv_xl.checks.validate",
    "read_file": "acv_xl.reading.read",
}

__all__ = ["__version__", *_ENTRY_POINTS]


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        import importlib

        return getattr(importlib.import_module(_ENTRY_POINTS[name]), name)
    raise AttributeError(f"module 'acv_xl' has no attribute {name!r}")
