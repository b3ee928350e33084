"""Checks: a convention read → its findings, totals, fingerprint and validation state.

- `rules/`: one module per family of the catalogue (docs/regles.md), a registry of pure rules.
- `totals`: every sum of the product, computed once (rules, reports, UDFs, annex, consolidation).
- `fingerprint`: the reader-independent fingerprint of a convention's data.
- `findings`: a finding as data (code, gravité, sheet, cell, action, message, suggestion).
- `validate`: the engine shared by every entry point (`validate_file`, `validate_convention`).

May import: `contract`, `reading`. Never `outputs` or `history`.
"""
