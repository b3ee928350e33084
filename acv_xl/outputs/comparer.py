"""`acv-xl comparer AVANT.xlsx APRES.xlsx [--format texte|json] [-o ECARTS.xlsx]`.

Reads both workbooks, refuses two different conventions, then prints the changes (grouped by sheet
then action, then the totals that moved) or their JSON, and writes the workbook of the écarts.
Exit status: 0 no change, 1 changes, 2 unusable input or two different conventions.
"""

from __future__ import annotations

import json
from pathlib import Path

from acv_xl.checks.comparison import Comparison, compare
from acv_xl.checks.validate import ETAT_JAMAIS
from acv_xl.contract import layout
from acv_xl.contract.model import Convention
from acv_xl.contract.values import fmt_date
from acv_xl.outputs import comparison_report as cr
from acv_xl.outputs.terminal import file_text, literal


class Unusable(Exception):
    """A French message: the comparison cannot be made (exit status 2)."""


def read_for_comparison(path: Path) -> Convention:
    """The convention of a workbook to compare; `Unusable` (French) when it cannot be."""
    from acv_xl.reading.errors import UnreadableWorkbook
    from acv_xl.reading.read import read_file

    from acv_xl.reading.provenance import describe, produced_by

    if kind := produced_by(path):  # an annex, a consolidation…: acv-xl's tables, not a convention
        raise Unusable(f"« {path.name} » est {describe(kind, path)}, pas le classeur d'une convention.")
    try:
        conv = read_file(path)
    except UnreadableWorkbook as exc:  # its message names the file already
        message = exc.message[:1].lower() + exc.message[1:]
        raise Unusable(message if path.name in exc.message else f"« {path.name} » : {message}") from exc
    except FileNotFoundError:
        raise Unusable(f"fichier introuvable : {path}") from None
    except OSError as exc:  # the system's reason, in French
        from acv_xl.contract.system_errors import os_error_text

        raise Unusable(f"fichier illisible : {path} ({os_error_text(exc)})") from None
    s = conv.structure
    # what is missing, said as the user sees it: a sheet, a table (not one of a missing sheet), a column
    sheets = set(s.missing_sheets)
    missing = ([f"feuille « {n} »" for n in s.missing_sheets]
               + [f"tableau « {n} »" for n in s.missing_tables
                  if n not in layout.TABLES_BY_NAME or layout.TABLES_BY_NAME[n].sheet not in sheets]
               + [f"colonne « {h.header} »" for h in s.missing_headers])
    if missing:
        raise Unusable(f"« {path.name} » ne suit pas le modèle ACV (manque : {', '.join(missing[:5])}"
                       f"{'…' if len(missing) > 5 else ''}) ; lancez « acv-xl valider » sur ce fichier.")
    return conv


def side_info(path: Path | str, conv: Convention) -> dict:
    """{fichier, acv_id, empreinte, date_validation, etat} of one side (evolution.md)."""
    from acv_xl.checks.fingerprint import fingerprint
    from acv_xl.checks.validate import etat_of

    empreinte = fingerprint(conv)
    etat, _ = etat_of(conv, empreinte)
    d = conv.value("acv_date_validation")
    return {"fichier": file_text(path), "acv_id": conv.acv_id, "empreinte": empreinte,
            "date_validation": d.isoformat() if d is not None else None, "etat": etat}


def output_problem(out: Path, inputs: list[Path], replace: bool = False) -> str | None:
    """Why `out` may not be written (French), or None: the rules of every output
    (`output_guard`: never an input, never over a file that is not an acv-xl report unless
    `--remplacer`; a previous workbook of écarts is replaced)."""
    from acv_xl.outputs.output_guard import COMPARAISON, Output, check_outputs

    # only a previous workbook of écarts is replaced without --remplacer, never a consolidation
    return check_outputs(inputs, [Output(out, (".xlsx",), "-o", COMPARAISON)], replace=replace)


def run_comparer(avant: Path, apres: Path, fmt: str = "texte", out: Path | None = None, console=None,
                 replace: bool = False) -> int:
    import sys

    avant, apres = Path(avant), Path(apres)

    def fail(message: str) -> int:
        print(f"acv-xl : {literal(message)}", file=sys.stderr)
        return 2

    if out is not None and (problem := output_problem(Path(out), [avant, apres], replace)):
        return fail(problem)
    try:
        ca, cb = read_for_comparison(avant), read_for_comparison(apres)
    except Unusable as exc:
        return fail(f"comparaison impossible : {exc}")
    empty = [p.name for p, c in ((avant, ca), (apres, cb)) if not c.acv_id or not str(c.acv_id).strip()]
    if empty:  # not « deux conventions différentes »: one has no identifier to compare
        where = layout.NAMED_BY_NAME["acv_id"]
        return fail(f"comparaison impossible : l'identifiant de la convention (feuille {where.sheet}, cellule "
                    f"{where.cell}) est vide dans {' et '.join(f'« {n} »' for n in empty)} ; comparer rapproche "
                    "deux états d'une même convention, reconnue à son identifiant.")
    if str(ca.acv_id).strip() != str(cb.acv_id).strip():
        return fail(f"comparaison impossible : les deux classeurs ne portent pas sur la même convention "
                    f"({avant.name} : {ca.acv_id or 'identifiant absent'}, "
                    f"{apres.name} : {cb.acv_id or 'identifiant absent'}).")
    comp = compare(ca, cb)
    ia, ib = side_info(avant, ca), side_info(apres, cb)
    if out is not None:
        from acv_xl.outputs.comparison_workbook import build

        build(comp, Path(out), ia, ib, names=cr.financeur_names(ca, cb))
    if fmt == "json":
        print(json.dumps(cr.to_json(comp, ia, ib), ensure_ascii=False, indent=2))
    else:
        render_text(comp, ia, ib, console, cb)
        if out is not None:
            console.print(f"Classeur des écarts écrit : {literal(out)}", markup=False, highlight=False, soft_wrap=True)
    return 1 if comp.changed else 0


def render_text(comp: Comparison, ia: dict, ib: dict, console, conv: Convention) -> None:
    from rich.text import Text

    plain = not console.is_terminal

    def p(text: str, style: str = "") -> None:  # workbook text shown as typed: never a terminal control
        console.print(Text(literal(text), style=style if not plain else ""), soft_wrap=plain)

    ident = " — ".join(str(x) for x in (conv.acv_id, conv.libelle) if x)
    p(f"Comparaison de la convention {ident}", "bold")
    for label, info in (("Avant", ia), ("Après", ib)):
        etat = info["etat"]
        if info["date_validation"] and etat != ETAT_JAMAIS:
            from datetime import date as _date

            etat += f", validation du {fmt_date(_date.fromisoformat(info['date_validation']))}"
        p(f"{label} : {info['fichier']} ({etat})")
    if not comp.changes:
        p("")
        p("Aucun changement : les deux classeurs portent les mêmes données.", "bold green")
        return
    p(cr.counts_text(comp.changes) + ".")
    for style, line in cr.change_lines(comp.changes):
        if style == "bold underline":
            p("")
        p(line, style)
    moved = cr.totals_lines(comp, "  ", cr.financeur_names(conv))
    p("")
    if moved:
        p("Totaux qui ont changé (hors financements refusés)", "bold underline")
        for _s, line in moved:
            p(line)
    else:
        p("Aucun total n'a changé.", "bold")
