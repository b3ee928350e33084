"""acv-xl: la boîte à outils Excel du programme Action Cœur de Ville.

The core package: layout (the contract), model, reader, rules, totals and writers. It never
imports xlwings (see `udfs/` for the Excel side).
"""

__version__ = "2026.1.0"
