"""`acv-xl comparer AVANT.xlsx APRES.xlsx [--format texte|json] [-o ECARTS.xlsx]`.

Reads both workbooks, refuses two different conventions, then prints the changes (grouped by sheet
then action, then the totals that moved) or their JSON, and writes the workbook of the écarts.
Exit status: 0 no change, 1 changes, 2 unusable input or two different conventions.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from acv_xl.checks.comparison import Comparison, compare
from acv_xl.checks.validate import ETAT_JAMAIS, ETAT_MODIFIE, ETAT_VALIDE
from acv_xl.contract import layout
from acv_xl.contract.model import Convention
from acv_xl.contract.values import fmt_date
from acv_xl.outputs import comparison_report as cr
from acv_xl.outputs.formats import fit_cell
from acv_xl.outputs.terminal import file_text, literal
from acv_xl.reading.errors import shown_file


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


def order_warning(comp: Comparison, avant: Path | str, ia: dict, ca: Convention, apres: Path | str, ib: dict,
                  usage: str) -> str:
    """French warning when the state given as before looks the later one (two files named in the wrong
    order: every change would read backwards, an amount raised as lowered), or "" (also when nothing
    changed: nothing reads backwards). Sure when the data after are the very data validated in the file
    before, modified since; only likely when the file before was validated after the other: a workbook
    validated again without change (the button clicked on the signed copy) takes that day's date, and
    is the earlier state all the same. `ia`, `ib`: `side_info` of each; `usage`: the command, its files
    in order."""
    if not comp.changes:
        return ""
    na, nb = file_text(Path(avant).name), file_text(Path(apres).name)
    na, nb = (na, nb) if na != nb else (file_text(avant), file_text(apres))
    # as every output shows a name (text, workbook of écarts, annex): « avenant.xlsx (espace finale) »
    na, nb = shown_file(na), shown_file(nb)
    stored = ca.value("acv_empreinte")
    stored = str(stored).strip().lower() if stored not in (None, "") else None
    da, db = ia["date_validation"], ib["date_validation"]
    check = f"Vérifiez l'ordre : {usage}."
    if ia["etat"] == ETAT_MODIFIE and stored == ib["empreinte"]:
        when = f" du {fmt_date(date.fromisoformat(da))}" if da else ""
        return (f"Attention : « {na} », donné pour l'état d'avant, est plus récent que « {nb} » (les données "
                f"de « {nb} » sont celles que « {na} » avait à sa validation{when}, et « {na} » a été modifié "
                f"depuis) ; les modifications sont alors lues à l'envers. {check}")
    if (da and db and da > db and ia["etat"] in (ETAT_VALIDE, ETAT_MODIFIE)
            and ib["etat"] in (ETAT_VALIDE, ETAT_MODIFIE)):
        return (f"Attention : « {na} », donné pour l'état d'avant, a été validé après « {nb} » (le "
                f"{fmt_date(date.fromisoformat(da))}, « {nb} » le {fmt_date(date.fromisoformat(db))}) : s'il est "
                f"l'état le plus récent, les modifications sont lues à l'envers ; s'il a seulement été validé de "
                f"nouveau, sans modification, l'ordre est le bon. {check}")
    return ""


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
    from acv_xl.outputs.output_guard import same_file

    if same_file(avant, apres):  # « Aucun changement » of a file with itself, status 0: a name typed twice
        return fail(f"comparaison impossible : AVANT et APRES désignent le même fichier (« {avant.name} ») ; "
                    "indiquez deux états de la convention, par exemple la copie validée et le classeur modifié.")
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
    from acv_xl.outputs.excel_range import beyond_excel

    # else « Infinity » in the JSON (no JSON) and XlsxWriter's TypeError for -o
    if problem := beyond_excel(cb, ca, comp):
        return fail(f"comparaison impossible : {problem}")
    ia, ib = side_info(avant, ca), side_info(apres, cb)
    # values typed just outside a table are in no table compared: said, never « mêmes données »
    warnings = [w for w in (stray_warning(avant, ca), stray_warning(apres, cb)) if w]
    # two files named in the wrong order: said first, in the text and in the workbook of écarts
    order = order_warning(comp, avant, ia, ca, apres, ib, "acv-xl comparer AVANT.xlsx APRES.xlsx")
    strays_moved = stray_key(ca) != stray_key(cb)
    # one list, in one order, for the text, the JSON and the workbook of écarts: a script reading the
    # JSON is told the files were named backwards as the officer reading the text is
    avertissements = [order] * bool(order) + warnings
    if out is not None:
        from acv_xl.outputs.comparison_workbook import build

        build(comp, Path(out), ia, ib, names=cr.financeur_names(ca, cb), warnings=avertissements)
    if fmt == "json":
        data = cr.to_json(comp, ia, ib)
        data["hors_tableaux"] = {"avant": strays_json(ca), "apres": strays_json(cb)}
        data["avertissements"] = avertissements
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        render_text(comp, ia, ib, console, cb, avertissements, strays_moved, bool(warnings))
        if out is not None:
            console.print(f"Classeur des écarts écrit : {literal(out)}", markup=False, highlight=False, soft_wrap=True)
    return 1 if comp.changed or strays_moved else 0


def stray_key(conv: Convention) -> list:
    """What was typed outside the tables, by table, side, header and value (not by address, as
    the fingerprint): equal on both sides when only moved."""
    from acv_xl.checks.fingerprint import canonical

    return sorted(json.dumps([sc.table, sc.right, sc.header, canonical(sc.value)], ensure_ascii=False, default=str)
                  for sc in conv.stray_cells)


def strays_json(conv: Convention) -> list[dict]:
    from acv_xl.checks.comparison import json_value

    return [{"feuille": sc.sheet, "cellule": sc.cell, "tableau": sc.table, "valeur": json_value(sc.value)}
            for sc in conv.stray_cells]


def stray_warning(path: Path, conv: Convention) -> str:
    """French warning naming the values of `conv` typed just outside a table (STR-09), or ""."""
    if not conv.stray_cells:
        return ""
    where: dict[str, list[str]] = {}  # sheet → « ligne 40 » (a line typed below) or « cellule K5 »
    for sc in conv.stray_cells:
        places = where.setdefault(sc.sheet, [])
        place = f"cellule {sc.cell}" if sc.right else f"ligne de total {sc.row}" if sc.totals_row else f"ligne {sc.row}"
        if place not in places:
            places.append(place)
    n = len(conv.stray_cells)
    places = " ; ".join(f"feuille « {sheet} », {', '.join(p[:8])}{'…' if len(p) > 8 else ''}"
                        for sheet, p in where.items())
    if n == 1:
        what, note = "1 valeur saisie", ("elle n'est dans aucun tableau comparé ni dans aucun total ; « acv-xl "
                                         "migrer » la range dans son tableau")
    else:
        what, note = f"{n} valeurs saisies", ("elles ne sont dans aucun tableau comparé ni dans aucun total ; "
                                              "« acv-xl migrer » les range dans leur tableau")
    return f"Attention : « {path.name} » a {what} juste hors d'un tableau (constat STR-09 : {places}) : {note}."


def render_text(comp: Comparison, ia: dict, ib: dict, console, conv: Convention, avertissements: list[str] = (),
                strays_moved: bool = False, strays: bool = False) -> None:
    """`avertissements`: those of the JSON, in its order; `strays`: values are typed outside the tables."""
    from rich.text import Text

    plain = not console.is_terminal

    def p(text: str, style: str = "") -> None:  # workbook text shown as typed: never a terminal control
        console.print(Text(literal(text), style=style if not plain else ""), soft_wrap=plain)

    room = cr.TERMINAL_VALUE_CHARS
    ident = " — ".join(fit_cell(str(x), room) for x in (conv.acv_id, conv.libelle) if x)
    p(f"Comparaison de la convention {ident}", "bold")
    for label, info in (("Avant", ia), ("Après", ib)):
        etat = info["etat"]
        if info["date_validation"] and etat != ETAT_JAMAIS:
            from datetime import date as _date

            etat += f", validation du {fmt_date(_date.fromisoformat(info['date_validation']))}"
        p(f"{label} : {shown_file(info['fichier'])} ({etat})")  # « calais.xlsx (espace finale) », as every output
    for w in avertissements:
        p(w, "bold red")
    if not comp.changes:
        p("")
        if strays_moved:
            p("Aucun changement dans les tableaux ni les cellules nommées, mais les valeurs saisies hors des "
              "tableaux diffèrent d'un classeur à l'autre (voir ci-dessus).", "bold red")
        elif strays:
            p("Aucun changement dans les tableaux ni les cellules nommées ; les valeurs saisies hors des tableaux "
              "sont les mêmes dans les deux classeurs, mais aucun total ne les compte (voir ci-dessus).", "bold")
        else:
            p("Aucun changement : les deux classeurs portent les mêmes données.", "bold green")
        return
    p(cr.counts_text(comp.changes) + ".")
    lines = cr.change_lines(comp.changes, room=room)
    for style, line in lines:
        if style == "bold underline":
            p("")
        p(line, style)
    if lines != cr.change_lines(comp.changes):  # a value was cut: where to read it whole
        p("")
        p(cr.CUT_NOTE)
    moved = cr.totals_lines(comp, "  ", cr.financeur_names(conv))
    p("")
    if moved:
        p("Totaux qui ont changé (hors financements refusés)", "bold underline")
        for _s, line in moved:
            p(line)
    else:
        p("Aucun total n'a changé.", "bold")
