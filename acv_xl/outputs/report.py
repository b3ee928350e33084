"""The validation report: JSON (interfaces.md) and text for a terminal or a log.

Writers never compute business numbers: totals come from `totals.Totaux`, counts from
`findings.count`.
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # rich is imported only to print text: `--format json` starts faster without it
    from rich.console import Console

from acv_xl.checks.findings import Finding, Gravite
from acv_xl.checks.validate import ETAT_VALIDE, Report
from acv_xl.contract import layout
from acv_xl.outputs.formats import fit_cell
from acv_xl.outputs.terminal import file_text, literal
from acv_xl.reading.errors import shown_file

_ORDER = {s: i for i, s in enumerate(layout.SHEETS)}


def to_json(report: Report) -> dict:
    """The JSON object of interfaces.md, plus `etat`, `empreinte_stockee` and, in `totaux`,
    `financement_total`, `ecart` and `par_action`. An unreadable file has `totaux` null."""
    conv = report.convention
    return {
        "fichier": file_text(report.fichier),  # a name not in UTF-8 escaped, as comparer's and consolider's JSON
        "acv_id": conv.acv_id if conv else None,
        "version_modele": _text(conv.value("acv_version_modele")) if conv else None,
        "valide": report.valide,
        "empreinte": report.empreinte,
        "empreinte_stockee": report.empreinte_stockee,
        "etat": report.etat,
        "resume": report.resume,
        "constats": [f.as_json() for f in report.findings],
        "totaux": report.totaux.as_json() if report.totaux is not None else None,
        **_since_json(report),
    }


def _since_json(report: Report) -> dict:
    """`depuis_validation`: the changes since the validation (evolution.md), when the workbook is
    « modifié depuis la validation » and kept its validated data; else null, with the reason."""
    if report.depuis_validation is None and report.depuis_validation_motif is None:
        return {"depuis_validation": None}
    from acv_xl.outputs.comparison_report import since_json

    out = {"depuis_validation": since_json(report)}
    if report.depuis_validation_motif:
        out["depuis_validation_motif"] = report.depuis_validation_motif
    return out


def _text(v) -> str | None:
    return None if v is None else str(v)


# ----------------------------------------------------------------------------- text
_STYLE = {Gravite.ERREUR: "bold red", Gravite.AVERTISSEMENT: "yellow", Gravite.INFORMATION: "cyan"}
_TAG = {Gravite.ERREUR: "ERREUR", Gravite.AVERTISSEMENT: "AVERT.", Gravite.INFORMATION: "INFO"}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n <= 1 else many}"


def _not_a_convention(report: Report) -> bool:
    """An annex, a consolidation, another workbook (STR-11): read, but not a convention's workbook."""
    return report.convention is None and [f.code for f in report.findings] == ["STR-11"]


def verdict(report: Report, validated: bool = False) -> tuple[str, str]:
    """(one-line verdict, style). Lower-case: it follows « Verdict : » (one colon per line).
    `validated`: said of the workbook this run has just validated when it has no error (the button)."""
    r = report.resume
    if report.convention is None:
        if _not_a_convention(report):
            return "ce n'est pas un classeur de convention ACV, rien n'a été vérifié.", "bold red"
        return "fichier illisible, rien n'a pu être vérifié.", "bold red"
    if r["erreurs"]:
        return (f"à corriger, {_plural(r['erreurs'], 'erreur bloque', 'erreurs bloquent')} la validation.",
                "bold red")
    tail = f" ({_plural(r['avertissements'], 'avertissement', 'avertissements')} à examiner)" if r["avertissements"] else ""
    # « peut être validé » under « État : validé », or from the button that has just validated, sent the
    # user to validate it again
    if validated or report.etat == ETAT_VALIDE:
        return f"aucune erreur, le classeur est validé{tail}.", "bold green"
    return f"aucune erreur, le classeur peut être validé{tail}.", "bold green"


def _groups(items: list[Finding]) -> Iterable[tuple[str, list[Finding]]]:
    def sheet_key(f: Finding):
        return (_ORDER.get(f.feuille, -1 if not f.feuille else len(_ORDER)), f.feuille)

    ordered = sorted(items, key=sheet_key)  # stable: keeps the rules' row order inside a sheet
    for (_, sheet), group in groupby(ordered, key=sheet_key):
        yield sheet, list(group)


def _action_key(f: Finding):
    return (f.action == "", _numero_key(f.action))


def _numero_key(n: str):
    parts = []
    for p in n.split("."):
        parts.append((0, int(p), "") if p.isdigit() else (1, 0, p))
    return parts


def render_text(reports: list[Report], console: Console) -> None:
    """Per file: header (file, convention, état), counts per severity, findings grouped by sheet
    then action (code, cell, message, suggestion), one-line verdict. Plain text when not a terminal.
    Text from the workbook is printed as `rich.text.Text` (never read as markup) and through
    `terminal.literal` (no escape sequence reaches the terminal)."""
    from rich.text import Text

    plain = not console.is_terminal
    p = _printer(console, plain)
    for k, report in enumerate(reports):
        if k:
            p(Text(""))
        _render_one(report, console, plain, p)
    if len(reports) > 1:
        n_err = sum(1 for r in reports if r.exit_code == 1)
        n_other = sum(1 for r in reports if _not_a_convention(r))
        n_ill = sum(1 for r in reports if r.exit_code == 2) - n_other
        other = f", {_plural(n_other, 'autre classeur', 'autres classeurs')} (pas une convention)" if n_other else ""
        p(Text(""))
        p(Text(f"{_plural(len(reports), 'fichier vérifié', 'fichiers vérifiés')} : "
                           f"{_plural(n_err, 'avec erreurs', 'avec erreurs')}, "
                           f"{_plural(n_ill, 'illisible', 'illisibles')}{other}.", style="bold"))


def _printer(console: Console, plain: bool):
    """How a line of the report is printed. Plain text (a log, a pipe, a file) is written as it is:
    Rich spent ≈ 0,3 ms on each line it would print unchanged, 2 minutes for a crafted plan of
    200 000 lines (400 000 findings); a terminal gets Rich's colours (no hard wraps in logs)."""
    if plain and not console.record:
        write = console.file.write
        return lambda t: write(t.plain + "\n")
    return lambda t: console.print(t, soft_wrap=plain)


def _arrow(console: Console) -> str:
    """→ where the output encoding has it (a Windows log file in cp1252 has not)."""
    try:
        "→".encode(console.encoding or "ascii")
        return "→"
    except (UnicodeEncodeError, LookupError):
        return "->"


def _safe(console: Console):
    """A function making user text printable: shown literally (control characters as visible
    symbols, `terminal.literal`) and in the output encoding (« ? » for what it lacks)."""
    enc = console.encoding or "utf-8"
    if "utf" in enc.lower():
        return literal
    return lambda t: literal(t).encode(enc, "replace").decode(enc)


# the sheets of the tables the totals add up (`totals.compute`): T_Actions and T_Financements
_TOTALS_SHEETS = frozenset((layout.T_ACTIONS.sheet, layout.T_FINANCEMENTS.sheet))


def _structure_incomplete(report: Report) -> bool:
    """A missing sheet, table or column of what the totals add up: they are computed from what could
    be read. A missing Synthèse, Accueil or Contrôles (STR-03 too) leaves them whole."""
    conv = report.convention
    if conv is not None and _TOTALS_SHEETS & set(conv.structure.missing_sheets):
        return True
    return any(f.code == "STR-04" and f.feuille in _TOTALS_SHEETS for f in report.findings)


def _render_since(report: Report, p, safe) -> None:
    """What changed since the last validation (the état says « modifié depuis la validation »)."""
    from rich.text import Text

    comp = report.depuis_validation
    if comp is None and not report.depuis_validation_motif:
        return
    from acv_xl.outputs import comparison_report as cr

    p(Text(""))
    title = cr.since_title(report.convention.value("acv_date_validation") if report.convention else None)
    if comp is None:
        p(Text(safe(f"{title} — {report.depuis_validation_motif}"), style="bold"))
        return
    if not comp.changes:
        p(Text(safe(f"{title} — {cr.NOTHING_CHANGED}."), style="bold"))
        return
    # a dash, not a colon: the count already has its own (« 3 changements : 0 ajout, … »)
    p(Text(safe(f"{title} — {cr.counts_text(comp.changes)}."), style="bold"))
    # texts cut as `comparer` cuts them: a libellé of 20 000 characters changed was quoted whole, in one line
    lines = cr.change_lines(comp.changes, "  ", room=cr.TERMINAL_VALUE_CHARS)
    for style, line in lines:
        p(Text(safe(line), style=style))
    if lines != cr.change_lines(comp.changes, "  "):  # a value was cut: where to read it whole
        p(Text(f"  {cr.SINCE_CUT_NOTE}"))
    moved = cr.totals_lines(comp, "    ", cr.financeur_names(report.convention))
    if moved:
        p(Text("  Totaux qui ont changé depuis la validation", style="bold"))
        for _s, line in moved:
            p(Text(safe(line)))


def _render_one(report: Report, console: Console, plain: bool, p) -> None:
    from rich.text import Text

    conv = report.convention
    arrow = _arrow(console)
    safe = _safe(console)
    title = Text("Fichier : ", style="bold")
    # named as its message names it (the reader's, `shown_file`): « vide.xlsx (espace finale) »
    title.append(safe(shown_file(report.fichier) if report.fichier else "(sans nom)"))
    p(title)
    if conv is not None:
        from acv_xl.outputs.comparison_report import TERMINAL_VALUE_CHARS  # cut as `comparer` cuts it

        ident = " — ".join(fit_cell(str(x), TERMINAL_VALUE_CHARS) for x in (conv.acv_id, conv.libelle) if x) or \
            "(identifiant non renseigné)"
        p(Text(safe(f"Convention : {ident}")))
    # the JSON keeps « illisible » (its vocabulary is fixed); the text says what the file is
    p(Text(f"État : {'pas un classeur de convention' if _not_a_convention(report) else report.etat}"))
    r = report.resume
    counts = Text("Constats : ")
    counts.append(_plural(r["erreurs"], "erreur", "erreurs"), style=_STYLE[Gravite.ERREUR] if r["erreurs"] else "")
    counts.append(", ")
    counts.append(_plural(r["avertissements"], "avertissement", "avertissements"),
                  style=_STYLE[Gravite.AVERTISSEMENT] if r["avertissements"] else "")
    counts.append(", ")
    counts.append(_plural(r["informations"], "information", "informations"))
    p(counts)
    for sheet, items in _groups(report.findings):
        p(Text(""))
        p(Text(safe(f"Feuille {sheet}") if sheet else "Fichier", style="bold underline"))
        items = sorted(items, key=_action_key)
        for action, group in groupby(items, key=lambda f: f.action):
            if action:
                p(Text(safe(f"  Action {action}"), style="bold"))
            indent = "    " if action else "  "
            for f in group:
                line = Text(indent)
                line.append(f"[{_TAG[f.gravite]}]", style=_STYLE[f.gravite])
                line.append(f" {f.code}", style="bold")
                if f.cellule:
                    line.append(safe(f" {f.cellule}"))
                line.append(safe(f" — {f.message}"))
                p(line)
                if f.suggestion:
                    p(Text(safe(f"{indent}    {arrow} {f.suggestion}"), style="dim" if not plain else ""))
    _render_since(report, p, safe)
    if report.totaux is not None and conv is not None:
        from acv_xl.contract.values import fmt_euros

        t = report.totaux
        p(Text(""))
        p(Text(f"Coût total : {fmt_euros(t.cout_total)} · financements : {fmt_euros(t.financement_total)} · "
               f"écart : {fmt_euros(t.ecart)}"))
        if _structure_incomplete(report):
            p(Text("Totaux partiels : une feuille, un tableau ou une colonne manque (voir les constats STR) ; "
                   "ils ne valent qu'une fois la structure rétablie.", style="yellow" if not plain else ""))
    msg, style = verdict(report)
    p(Text(""))
    p(Text(f"Verdict : {msg}", style=style))
