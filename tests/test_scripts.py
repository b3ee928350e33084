"""The Valider and Générer l'annexe scripts on xlwings' remote engine (what xlwings Server runs).

Each payload is built from a real example workbook the way the Office.js add-in builds it
(`xlwings_payload.payload_from_xlsx`), and the assertions read the actions the script sends back
to Excel. The findings must be the command line's: same codes, same sheets, same cells.
"""

from __future__ import annotations

import copy
import json
import sys
from datetime import date, datetime, time
from pathlib import Path
from types import SimpleNamespace

import pytest

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acv_xl.contract import layout
from acv_xl.checks.findings import Gravite
from acv_xl.contract.values import fmt_number
from acv_xl.reading.source import parse_a1, parse_range
from acv_xl.checks.validate import validate_file
from udfs import scripts
from xlwings_payload import payload_from_xlsx, remote_book

ROOT = Path(__file__).resolve().parents[1]
EXEMPLES = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))
CASES = EXEMPLES or [ROOT / "workbooks" / "exemples" / "aucun-exemple.xlsx"]
TODAY = date(2026, 11, 26)


def _faulty():
    from acv_xl.outputs.examples import FAUTES_ATTENDUES

    return [ROOT / "workbooks" / "exemples" / name for name in sorted(FAUTES_ATTENDUES)]


def _clean():
    from acv_xl.outputs.examples import FAUTES_ATTENDUES

    return [p for p in CASES if p.name not in FAUTES_ATTENDUES]


def _run(path: Path, payload: dict | None = None):
    payload = payload or payload_from_xlsx(path, include=scripts.INCLUDE)
    book = remote_book(payload)
    report = scripts.run_valider(book, today=TODAY)
    return payload, report, book.json()["actions"]


def _index(payload: dict, sheet: str) -> int:
    return [s["name"] for s in payload["sheets"]].index(sheet)


def _table(payload: dict, name: str) -> tuple[int, str]:
    for i, s in enumerate(payload["sheets"]):
        for t in s["tables"]:
            if t["name"] == name:
                return i, t["range_address"]
    raise KeyError(name)


def _column(payload: dict, table, field: str) -> tuple[list, int, int]:
    """The sheet values holding `table`, its header's row index and `field`'s column index in them."""
    i, ref = _table(payload, table.name)
    r1, c1, _, _ = parse_range(ref)
    values = payload["sheets"][i]["values"]
    return values, r1 - 1, c1 - 1 + values[r1 - 1][c1 - 1:].index(table.header(field))


def _named(payload: dict, name: str) -> tuple[int, int, int]:
    for n in payload["names"]:
        if n["name"] == name:
            r, c = parse_a1(n["address"])
            return n["sheet_index"], r - 1, c - 1
    raise KeyError(name)


def _written(actions: list[dict], where: tuple[int, int, int]):
    """The last value written to one cell (sheet index, 0-based row, 0-based column)."""
    out = None
    for a in actions:
        if a["func"] == "setValues" and (a["sheet_position"], a["start_row"], a["start_column"]) == where:
            out = a["values"]
    return out


def _fills(actions: list[dict]) -> dict[tuple[int, int, int], str | None]:
    out = {}
    for a in actions:
        if a["func"] == "setRangeColor":
            out[(a["sheet_position"], a["start_row"], a["start_column"])] = a["args"][0]
    return out


def _expected_fills(payload: dict, findings) -> dict[tuple[int, int, int], str]:
    out: dict[tuple[int, int, int], str] = {}
    rank = {Gravite.ERREUR: 0, Gravite.AVERTISSEMENT: 1}
    worst: dict[tuple[int, int, int], Gravite] = {}
    for f in findings:
        if f.cellule and f.gravite in rank:
            r1, c1, _, _ = parse_range(f.cellule)
            k = (_index(payload, f.feuille), r1 - 1, c1 - 1)
            if k not in worst or rank[f.gravite] < rank[worst[k]]:
                worst[k] = f.gravite
    for k, g in worst.items():
        out[k] = scripts.FILLS[g]
    return out


def _strip(v):
    return v[1:] if isinstance(v, str) and v.startswith("'") else v


# --------------------------------------------------------------------------- Valider
def test_examples_are_shipped():
    assert len(EXEMPLES) >= 3 and _faulty(), "workbooks/exemples/ doit contenir les classeurs d'exemple"


WITH_TEMPLATE = CASES + [ROOT / "workbooks" / "modele_acv.xlsx"]  # the empty template: many findings


@pytest.mark.parametrize("path", WITH_TEMPLATE, ids=[p.name for p in WITH_TEMPLATE])
def test_valider_finds_what_the_cli_finds_on_the_same_cells(path):
    cli = validate_file(path)
    payload, report, actions = _run(path)
    key = lambda f: (f.code, f.gravite, f.feuille, f.cellule, f.action, f.message)  # noqa: E731
    assert [key(f) for f in report.findings] == [key(f) for f in cli.findings]
    assert report.empreinte == cli.empreinte  # the same data, whichever reader

    # Contrôles: one row per finding, under the header of T_Controles
    sheet_i, ref = _table(payload, layout.T_CONTROLES.name)
    r1, c1, _, _ = parse_range(ref)
    rows = _written(actions, (sheet_i, r1, c1 - 1))  # row r1 (0-based) is the first data row
    headers = list(layout.T_CONTROLES.headers)
    if not cli.findings:
        assert rows is None
    else:
        assert [[_strip(v) for v in r] for r in rows] == [
            [f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion][: len(headers)]
            for f in cli.findings]
    # faulty cells filled, by severity, nothing else
    assert {k: v for k, v in _fills(actions).items() if v is not None} == _expected_fills(payload, cli.findings)
    # status cells
    assert _written(actions, _named(payload, "acv_statut")) == [[
        scripts.STATUT_VALIDE if cli.valide else scripts.STATUT_ERREURS]]
    assert _written(actions, _named(payload, "acv_date_validation")) == [[TODAY.isoformat()]]
    empreinte = _written(actions, _named(payload, "acv_empreinte"))
    if cli.valide:
        assert _strip(empreinte[0][0]) == cli.empreinte
    else:
        assert empreinte == [[""]]
    # and Contrôles comes to the front
    assert {"func": "activateSheet", "args": [_index(payload, layout.Sheet.CONTROLES)]}.items() <= \
        [a for a in actions if a["func"] == "activateSheet"][-1].items()


def test_every_planted_mistake_is_highlighted():
    from acv_xl.outputs.examples import FAUTES_ATTENDUES

    for path in _faulty():
        payload, report, actions = _run(path)
        assert not report.valide
        fills = _fills(actions)
        for code, sheet, cell in FAUTES_ATTENDUES[path.name]:
            assert any(f.code == code and f.feuille == sheet and f.cellule == cell for f in report.findings), \
                (path.name, code, cell)
            r, c = parse_a1(cell.split(":")[0])
            assert fills.get((_index(payload, sheet), r - 1, c - 1)) in scripts.FILLS.values(), (path.name, cell)


def _with_previous_controles(payload: dict, rows: list[list]) -> dict:
    """The payload of a workbook whose T_Controles holds `rows` (a previous run's findings)."""
    p = copy.deepcopy(payload)
    i, ref = _table(p, layout.T_CONTROLES.name)
    r1, c1, _, c2 = parse_range(ref)
    sheet = p["sheets"][i]
    values = sheet["values"]
    need_rows = r1 + len(rows)
    width = max(len(values[0]) if values else 0, c2)
    for v in values:
        v.extend([""] * (width - len(v)))
    while len(values) < need_rows:
        values.append([""] * width)
    for k, r in enumerate(rows):
        values[r1 + k][c1 - 1:c1 - 1 + len(r)] = r
    from openpyxl.utils import get_column_letter

    sheet["used_range_address"] = f"A1:{get_column_letter(width)}{need_rows}"
    for t in sheet["tables"]:
        if t["name"] == layout.T_CONTROLES.name:
            last = f"{get_column_letter(c2)}{r1 + len(rows)}"
            t["range_address"] = f"{get_column_letter(c1)}{r1}:{last}"
            t["data_body_range_address"] = f"{get_column_letter(c1)}{r1 + 1}:{last}"
    return p


def test_second_run_clears_the_previous_highlights_and_shrinks_the_table():
    clean = _clean()
    assert clean, "il faut au moins un exemple sans erreur"
    path = clean[0]
    base = payload_from_xlsx(path, include=scripts.INCLUDE)
    fin = layout.Sheet.FINANCEMENT
    stale = [
        ["Erreur", "FIN-03", fin, "F4", "1.1", "Montant saisi comme du texte.", ""],
        ["Avertissement", "FIN-13", fin, "I5", "1.1", "Référence manquante.", ""],
        ["Information", "FIN-16", fin, "F6", "1.1", "Part non acquise.", ""],  # never filled: left alone
    ] + [["Erreur", "FIN-05", fin, f"F{r}", "1.1", "…", ""] for r in range(7, 27)]
    payload = _with_previous_controles(base, stale)
    cli = validate_file(path)
    _, report, actions = _run(path, payload)
    fills = _fills(actions)
    fin_i = _index(payload, fin)
    now = _expected_fills(payload, cli.findings)
    for cell in ["F4", "I5"] + [f"F{r}" for r in range(7, 27)]:
        r, c = parse_a1(cell)
        k = (fin_i, r - 1, c - 1)
        assert fills.get(k, "absent") == now.get(k), cell  # cleared (None) unless faulty again
    r, c = parse_a1("F6")
    assert (fin_i, r - 1, c - 1) not in fills
    # the 23 stale rows beyond the new findings are emptied, and the table is resized
    i, ref = _table(payload, layout.T_CONTROLES.name)
    r1, c1, r2, c2 = parse_range(ref)
    n = len(cli.findings)
    cleared = [a for a in actions if a["func"] == "rangeClearContents" and a["sheet_position"] == i]
    assert cleared and cleared[-1]["start_row"] == r1 + n and cleared[-1]["start_row"] + cleared[-1]["row_count"] == r2
    resized = [a for a in actions if a["func"] == "resizeTable"]
    assert resized and resized[-1]["args"][1].replace("$", "").endswith(f"{r1 + max(n, 1)}")


def test_text_that_excel_would_convert_is_protected():
    assert scripts.as_text("1.2") == "'1.2"
    assert scripts.as_text("=SOMME(A1)") == "'=SOMME(A1)"
    assert scripts.as_text("-12,00 €") == "'-12,00 €"
    assert scripts.as_text("M7") == "M7"
    assert scripts.as_text("Le montant est vide.") == "Le montant est vide."


def test_a_failure_becomes_a_french_message_box(monkeypatch):
    path = CASES[0]
    book = remote_book(payload_from_xlsx(path, include=scripts.INCLUDE))

    def boom(book, today=None):
        raise RuntimeError("panne")

    monkeypatch.setattr(scripts, "run_valider", boom)
    scripts.valider(book)  # the no-op decorator off the server: the plain entry point
    alerts = [a for a in book.json()["actions"] if a["func"] == "alert"]
    assert alerts and alerts[0]["args"][0].startswith("Validation impossible : erreur inattendue")
    assert "(détail technique pour l'assistance : RuntimeError : panne)" in alerts[0]["args"][0]


def _without_controles_table(payload: dict) -> dict:
    """The payload of a workbook whose T_Controles was converted to a plain range (or renamed)."""
    payload = copy.deepcopy(payload)
    for sheet in payload["sheets"]:
        sheet["tables"] = [t for t in sheet["tables"] if t["name"] != layout.T_CONTROLES.name]
    return payload


@pytest.mark.parametrize("path", _faulty()[:1] + _clean()[:1], ids=lambda p: p.stem)
def test_findings_with_nowhere_to_go_are_said_in_a_message_box(path):
    """Without T_Controles the findings cannot be listed: the user is told so, with the verdict,
    rather than left with « Erreurs à corriger » on Accueil and an empty Contrôles sheet."""
    payload = _without_controles_table(payload_from_xlsx(path, include=scripts.INCLUDE))
    _, report, actions = _run(path, payload)
    alerts = [a["args"][0] for a in actions if a["func"] == "alert"]
    if report.findings:
        assert len(alerts) == 1 and "« T_Controles »" in alerts[0] and "n'ont pas pu y être listés" in alerts[0]
        assert f"erreur{'s' if report.resume['erreurs'] > 1 else ''} bloque" in alerts[0]
    else:  # nothing to list: « Validé » on Accueil says it all
        assert alerts == []
    # with the table, no message box: the list is in Contrôles
    _, _, actions = _run(path)
    assert not [a for a in actions if a["func"] == "alert"]


# --------------------------------------------------------------------------- annex on the web
def test_generer_annexe_writes_the_plan_into_a_new_sheet_with_the_cli_totals():
    path = _clean()[0]
    cli = validate_file(path)
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    book = remote_book(payload)
    assert scripts.run_generer_annexe(book) == scripts.ANNEXE_WEB
    actions = book.json()["actions"]
    added = [a for a in actions if a["func"] == "addSheet"]
    assert added and added[0]["args"][1] == scripts.ANNEXE_WEB
    new_i = added[0]["args"][0]
    block = [a for a in actions if a["func"] == "setValues" and a["sheet_position"] == new_i][-1]["values"]
    total_row = next(r for r in block if r[0] == "Total")
    t = cli.totaux
    assert total_row[-3:] == [float(t.financement_total), float(t.cout_total), float(t.ecart)]
    header = next(r for r in block if r[0] == layout.T_ACTIONS.header("numero"))
    for j, h in enumerate(header[2:-3], start=2):
        code = h.rsplit("(", 1)[1].rstrip(")")
        assert total_row[j] == float(t.par_financeur[code])
    assert "PROJET" not in block[1][0] and cli.empreinte in block[1][0]


def test_the_web_annex_says_the_workbook_s_validation_as_the_desktop_annex_does(tmp_path):
    """The web annex of a workbook without error said « Données validées — empreinte : … » — of an avenant
    being drawn up in a workbook modified since its validation, with a fingerprint other than the one its
    Accueil keeps, and of a workbook never validated. It now says what the desktop annex's cover says:
    a workbook without error, the état of its validation, the fingerprint of the data read and, when it
    differs, the one recorded at validation."""
    import openpyxl

    from acv_xl.cli import main
    from acv_xl.outputs.annex import SANS_ERREUR, build_annex

    def second_line(path: Path) -> str:
        book = remote_book(payload_from_xlsx(path, include=scripts.INCLUDE))
        assert scripts.run_generer_annexe(book) == scripts.ANNEXE_WEB
        actions = book.json()["actions"]
        new_i = next(a for a in actions if a["func"] == "addSheet")["args"][0]
        return [a for a in actions if a["func"] == "setValues" and a["sheet_position"] == new_i][-1]["values"][1][0]

    path = _clean()[0]
    never = second_line(path)
    assert never == (f"{SANS_ERREUR} — état de la validation : Non validé — "
                     f"empreinte des données lues : {validate_file(path).empreinte}"), never
    # one sentence for both annexes: the cover of the desktop one says it too
    cover = openpyxl.load_workbook(build_annex(validate_file(path), tmp_path / "annexe.xlsx")).worksheets[0]
    assert f"{SANS_ERREUR}." in [c.value for row in cover.iter_rows() for c in row]
    assert main(["valider", str(path), "--annoter", str(signed := tmp_path / "valide.xlsx")]) == 0
    assert "état de la validation : Validé — empreinte des données lues" in second_line(signed)
    wb = openpyxl.load_workbook(signed)  # the avenant: a new label, still no error
    nc = layout.NAMED_BY_NAME["acv_libelle"]
    wb[nc.sheet][nc.cell].value = "Convention — avenant n° 1"
    wb.save(edited := tmp_path / "avenant.xlsx")
    report = validate_file(edited)
    assert report.valide and report.empreinte != report.empreinte_stockee
    line = second_line(edited)
    assert "Données validées" not in line and "état de la validation : Modifié depuis la validation" in line
    assert line.endswith(f"empreinte des données lues : {report.empreinte} — empreinte enregistrée lors de la "
                         f"validation : {report.empreinte_stockee}"), line


def test_generer_annexe_keeps_a_title_or_a_name_that_excel_would_read_as_a_formula_as_text():
    """The web annex wrote the actions' titles and the financeurs' names as they are: Excel reads
    a written « - Réhabilitation de la halle » (a list pasted from a document) or « =… » as a
    formula — a wrong value, or a call refused by Excel — as `as_text` prevents for every other
    text the scripts write."""
    path = _clean()[0]
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    values, top, col = _column(payload, layout.T_ACTIONS, "intitule")
    titles = ["- Réhabilitation de la halle", "=1+1", "+ de commerces en centre-ville"]
    for k, title in enumerate(titles):
        values[top + 1 + k][col] = title
    f_values, f_top, name_col = _column(payload, layout.T_FINANCEURS, "nom")
    f_values[f_top + 1][name_col] = "=Département"
    book = remote_book(payload)
    assert scripts.run_generer_annexe(book) == scripts.ANNEXE_WEB
    actions = book.json()["actions"]
    new_i = next(a for a in actions if a["func"] == "addSheet")["args"][0]
    block = [a for a in actions if a["func"] == "setValues" and a["sheet_position"] == new_i][-1]["values"]
    written = [v for row in block for v in row if isinstance(v, str)]
    for title in titles:
        assert "'" + title in written and title not in written, title
    formulas = [v for v in written if v and v[0] in "=+-@"]
    assert not formulas, formulas


def test_the_web_annex_of_a_draft_adds_up_as_the_desktop_annex_does():
    """A draft whose plan has a line of no fiche-action (« 9.9 ») and a line of no financeur: the web annex
    left the first out of its rows and the second out of its columns — its rows, its columns and its axes no
    longer added up to its « Total » (901 777 € for the État, 901 000 € in its rows) — and listed « 2.10 »
    before « 2.2 ». It now has the desktop annex's rows, column and order (`annex.annex_data`)."""
    from conventions import build, clean_raw

    from acv_xl.checks.validate import validate_convention
    from acv_xl.outputs.annex import ORPHELINES

    raw = clean_raw()
    raw["T_Actions"] += [dict(raw["T_Actions"][1], numero=n, intitule=f"Action {n}") for n in ("2.10", "2.2")]
    raw["T_Financements"] += [dict(raw["T_Financements"][4], numero="2.10", montant=1000),
                              dict(raw["T_Financements"][4], numero="9.9", montant=777),
                              dict(raw["T_Financements"][4], financeur=None, montant=5)]
    report = validate_convention(build(raw))
    assert not report.valide
    block = scripts.annex_rows(report, brouillon=True)
    top = next(i for i, r in enumerate(block) if r[0] == layout.T_ACTIONS.header("numero"))
    bottom = next(i for i, r in enumerate(block) if r[0] == "Total")
    body, total = block[top + 1:bottom], block[bottom]
    assert [r[0] for r in body] == ["'1.1", "'2.1", "'2.2", "'2.10", "'9.9"]
    assert body[-1][1] == ORPHELINES and block[top][-4] == "Financeur non renseigné"
    for j in range(2, len(total) - 2):  # each financeur, and the financing total
        assert sum(r[j] for r in body) == pytest.approx(total[j]), block[top][j]
    assert total[-3] == float(report.totaux.financement_total)
    axes = block[bottom + 3: next(i for i in range(bottom + 3, len(block)) if block[i][0] == "")]
    assert axes[-1][0] == "Axe non renseigné" and sum(r[1] for r in axes) == pytest.approx(total[-3])


class _DesktopBook:
    """A remote book seen as a saved desktop workbook (engine `excel`, a path on disk): the
    desktop branch of Générer l'annexe without Windows. Everything else is the remote book."""

    def __init__(self, book, fullname: Path):
        self._book, self.fullname, self.opened = book, str(fullname), []
        outer = self

        class _Books:
            def open(self, path):
                outer.opened.append(path)

        class _Engine:
            name = "excel"

        class _App:
            engine = _Engine()
            books = _Books()

            def alert(self, prompt, title=None, **kw):
                outer.opened.append(("alert", prompt))

        self.app = _App()

    def __getattr__(self, name):
        return getattr(self._book, name)


@pytest.mark.parametrize("protected, unlocked, formatting, stopped", [
    ({layout.Sheet.CONTROLES}, False, False, layout.Sheet.CONTROLES),
    ({layout.Sheet.ACCUEIL}, False, False, layout.Sheet.ACCUEIL),
    # its status cells unlocked; a sheet coloured only, its protection allowing the formatting of cells
    ({layout.Sheet.ACCUEIL, layout.Sheet.FINANCEMENT}, True, True, None),
    # a sheet coloured only, its protection refusing it: the colours, set last, refused after everything was written
    ({layout.Sheet.FINANCEMENT}, True, False, layout.Sheet.FINANCEMENT),
    ({layout.Sheet.ACTIONS}, False, False, None),  # protected, but nothing to colour there (information only)
])
def test_valider_on_the_desktop_stops_on_a_protected_sheet_it_writes_into_before_any_write(tmp_path, protected,
                                                                                           unlocked, formatting,
                                                                                           stopped):
    """Contrôles protected, on the desktop: the first write refused by Excel (COM), « Validation impossible : erreur
    inattendue (détail technique … com_error …) », what came before written. Asked of Excel first: the sheet named,
    what to do said, nothing written. The Accueil protected with its status cells left unlocked takes the status,
    and a sheet only coloured stops only when its protection refuses the formatting of cells (its colours were
    skipped in silence, those of the previous run left on cells since corrected)."""
    from types import SimpleNamespace

    path = _faulty()[0]
    remote = remote_book(payload_from_xlsx(path, include=scripts.INCLUDE))
    book = _DesktopBook(remote, tmp_path / path.name)

    class _Range:  # the remote range, with the COM `Locked` of Windows' Excel
        def __init__(self, rng, locked):
            object.__setattr__(self, "_rng", rng)
            object.__setattr__(self, "api", SimpleNamespace(Locked=locked))

        def __getattr__(self, name):
            return getattr(self._rng, name)

        def __setattr__(self, name, value):
            setattr(self._rng, name, value)

    class _Sheet:  # the remote sheet, with the COM `ProtectContents`
        def __init__(self, sh):
            self._sh = sh
            self.api = SimpleNamespace(ProtectContents=sh.name in protected,
                                       Protection=SimpleNamespace(AllowFormattingCells=formatting))

        def __getattr__(self, name):
            return getattr(self._sh, name)

        def range(self, *args):
            return _Range(self._sh.range(*args), not unlocked)

    book.sheets = [_Sheet(sh) for sh in remote.sheets]
    scripts._guarded(book, scripts.run_valider, "Validation")
    actions = remote.json()["actions"]
    if stopped is None:
        assert book.opened == [] and any(a["func"] == "setValues" for a in actions)
        return
    (kind, message), = book.opened
    assert kind == "alert" and actions == []
    assert message.startswith(f"Validation impossible : la feuille « {stopped} » est protégée, et ")
    assert message.endswith("Déprotégez-la (onglet Révision > Ôter la protection de la feuille)"
                            + (", ou protégez-la de nouveau en autorisant la mise en forme des cellules (case « Format "
                               "de cellule »)" if stopped == layout.Sheet.FINANCEMENT else "")
                            + ", puis cliquez de nouveau sur « Valider ». Rien n'a été modifié dans le classeur.")


def test_valider_on_the_desktop_stops_on_a_protected_workbook_structure_when_it_adds_a_sheet(tmp_path):
    """The workbook protected (Révision > Protéger le classeur): the first validation without errors adds the hidden
    sheet of the validated data, which Excel refused after Contrôles and the status were written — « erreur
    inattendue ». Asked of Excel first: what to unprotect said, nothing written. Once that sheet is there (and
    hidden), nothing is added: the protected workbook validates."""
    from types import SimpleNamespace

    path = _clean()[0]
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    remote = remote_book(json.loads(json.dumps(payload)))
    book = _DesktopBook(remote, tmp_path / path.name)
    book.api = SimpleNamespace(ProtectStructure=True)
    scripts._guarded(book, scripts.run_valider, "Validation")
    (kind, message), = book.opened
    assert remote.json()["actions"] == []
    assert message == ("Validation impossible : le classeur est protégé (structure des feuilles), et la validation "
                       f"doit y ajouter la feuille masquée « {layout.SNAPSHOT_SHEET} », où elle garde les données "
                       "validées. Ôtez cette protection (onglet Révision > Protéger le classeur, avec son mot de passe "
                       "s'il en a un), puis cliquez de nouveau sur « Valider ». Rien n'a été modifié dans le classeur.")
    # unprotected, validated: the sheet added, hidden
    first = remote_book(json.loads(json.dumps(payload)))
    assert scripts.run_valider(first).valide
    assert {"addSheet", "setSheetVisibility"} <= {a["func"] for a in first.json()["actions"]}
    # protected again, the sheet there and hidden: nothing of the structure changes, the validation goes through
    payload["sheets"].append(dict(payload["sheets"][-1], name=layout.SNAPSHOT_SHEET, visibility="Hidden", tables=[],
                                  used_range_address=None, values=[[""]]))
    again = _DesktopBook(remote_book(payload), tmp_path / path.name)
    again.api = SimpleNamespace(ProtectStructure=True)
    scripts._guarded(again, scripts.run_valider, "Validation")
    assert again.opened == [] and not {"addSheet", "setSheetVisibility"} & {a["func"] for a in again.json()["actions"]}


class _ComSheet:
    """A remote sheet as Windows' Excel gives it through xlwings' COM: `visible` its XlSheetVisibility as is (-1
    visible, 0 hidden, 2 very hidden — true, as visible), a change of visibility refused in a workbook whose structure
    is protected and the activation of a sheet not visible refused (both « erreur inattendue », COM's error 1004)."""

    def __init__(self, sh, com: int, book_api, protected: bool = False):
        self._sh, self.com, self._book_api, self.set = sh, com, book_api, []
        self.api = SimpleNamespace(ProtectContents=protected, Protection=SimpleNamespace(AllowFormattingCells=False))

    @property
    def visible(self):
        return self.com

    @visible.setter
    def visible(self, value):
        if self._book_api.ProtectStructure:
            raise RuntimeError("(-2147352567, 'Une exception s’est produite.', 1004)")
        self.set.append(value)
        self.com = -1 if value else 0
        self._sh.visible = bool(value)

    def activate(self):
        if self.com != -1:
            raise RuntimeError("(-2147352567, 'Une exception s’est produite.', 1004)")
        self._sh.activate()

    def __getattr__(self, name):
        return getattr(self._sh, name)


def _com_book(tmp_path, snapshot: int, controles: int = -1, structure: bool = False, protected=()):
    """A clean workbook already validated once, on Windows' Excel: its « Données validées » and Contrôles of the COM
    visibility given, the workbook's structure protected or not, the sheets `protected` so."""
    path = _clean()[0]
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    payload["sheets"].append(dict(payload["sheets"][-1], name=layout.SNAPSHOT_SHEET, visibility="Hidden", tables=[],
                                  used_range_address=None, values=[[""]]))
    book = _DesktopBook(remote_book(payload), tmp_path / path.name)
    book.api = SimpleNamespace(ProtectStructure=structure)
    com = {layout.SNAPSHOT_SHEET: snapshot, layout.Sheet.CONTROLES: controles}
    book.sheets = [_ComSheet(sh, com.get(sh.name, -1), book.api, sh.name in protected) for sh in book._book.sheets]
    return book


def _com_sheet(book, name):
    return next(sh for sh in book.sheets if sh.name == name)


def test_valider_on_the_desktop_leaves_a_very_hidden_sheet_of_the_validated_data_as_it_is(tmp_path):
    """« Données validées » very hidden (from the VBA editor): xlwings gives Windows' xlSheetVeryHidden, 2, which is
    true — the sheet was « visible »: in a protected workbook, Valider stopped on « doit masquer la feuille « Données
    validées » », already hidden; unprotected, it was made merely hidden (listed in « Afficher »). Left as it is."""
    for structure in (True, False):
        book = _com_book(tmp_path, snapshot=2, structure=structure)
        scripts._guarded(book, scripts.run_valider, "Validation")
        assert book.opened == [], book.opened
        snapshot = _com_sheet(book, layout.SNAPSHOT_SHEET)
        assert snapshot.com == 2 and snapshot.set == []
        assert any(a["func"] == "setValues" for a in book.json()["actions"])
    # a sheet shown, as before: hidden again, and a protected workbook stops the validation before any write
    book = _com_book(tmp_path, snapshot=-1)
    scripts.run_valider(book)
    assert _com_sheet(book, layout.SNAPSHOT_SHEET).set == [False]
    book = _com_book(tmp_path, snapshot=-1, structure=True)
    scripts._guarded(book, scripts.run_valider, "Validation")
    (kind, message), = book.opened
    assert f"doit masquer la feuille « {layout.SNAPSHOT_SHEET} »" in message and book.json()["actions"] == []


def test_valider_on_the_desktop_shows_a_very_hidden_controles_or_says_why_it_cannot(tmp_path):
    """Contrôles very hidden: seen as visible, it was activated as it stood — COM's error 1004, « Validation
    impossible : erreur inattendue » after everything was written, the findings nowhere to see. Made visible; in a
    protected workbook, which refuses it, the validation stops first and says what to unprotect."""
    book = _com_book(tmp_path, snapshot=0, controles=2)
    scripts._guarded(book, scripts.run_valider, "Validation")
    assert book.opened == [], book.opened
    assert _com_sheet(book, layout.Sheet.CONTROLES).com == -1
    assert any(a["func"] == "activateSheet" for a in book.json()["actions"])
    book = _com_book(tmp_path, snapshot=0, controles=2, structure=True)
    scripts._guarded(book, scripts.run_valider, "Validation")
    (kind, message), = book.opened
    assert message.startswith("Validation impossible : le classeur est protégé (structure des feuilles), et la "
                              f"validation doit afficher la feuille « {layout.Sheet.CONTROLES} », masquée, où elle "
                              "liste ses constats. Ôtez cette protection") and book.json()["actions"] == []


@pytest.mark.parametrize("com", [0, 2])
@pytest.mark.parametrize("structure", [True, False])
def test_valider_on_the_desktop_says_how_to_show_a_protected_sheet_of_the_validated_data(tmp_path, com, structure):
    """« Données validées » hidden and protected: to unprotect it, the user shows it. The message said « Affichez-la
    (clic droit sur un onglet > Afficher) », which a protected workbook refuses (« Afficher » greyed), and which
    lists no very hidden sheet. The workbook's protection said first when it is there; a very hidden sheet shown from
    the VBA editor."""
    book = _com_book(tmp_path, snapshot=com, structure=structure, protected={layout.SNAPSHOT_SHEET})
    scripts._guarded(book, scripts.run_valider, "Validation")
    (kind, message), = book.opened
    assert book.json()["actions"] == []
    assert message.startswith(f"Validation impossible : la feuille masquée « {layout.SNAPSHOT_SHEET} » est protégée, "
                              "et la validation y garde les données validées. ")
    show = ("Affichez-la depuis l'éditeur Visual Basic" if com == 2
            else "Affichez-la (clic droit sur un onglet > Afficher)")
    if structure:
        assert "Ôtez d'abord la protection du classeur (onglet Révision > Protéger le classeur, avec son mot de passe " \
               f"s'il en a un), {show[0].lower()}{show[1:]}" in message
    else:
        assert show in message and "Protéger le classeur" not in message
    assert message.endswith(", déprotégez-la (onglet Révision > Ôter la protection de la feuille), puis cliquez de "
                            "nouveau sur « Valider ». Rien n'a été modifié dans le classeur.")


@pytest.mark.parametrize("com", [-1, 0, 2])
def test_valider_on_the_desktop_says_how_to_show_a_protected_controles_the_user_hid(tmp_path, com):
    """Contrôles hidden (or very hidden) and protected: « Déprotégez-la (onglet Révision > Ôter la protection de la
    feuille) » alone, which Excel does for the active sheet only — a hidden one never is. How to show it said first;
    a visible one, and « Données validées » shown by the user, as before (no « masquée », nothing to show)."""
    book = _com_book(tmp_path, snapshot=-1, controles=com, protected={layout.Sheet.CONTROLES})
    scripts._guarded(book, scripts.run_valider, "Validation")
    (kind, message), = book.opened
    said = f"Validation impossible : la feuille « {layout.Sheet.CONTROLES} » est protégée, et les constats de la " \
           "validation s'y écrivent. "
    show = {-1: "", 0: "Affichez-la (clic droit sur un onglet > Afficher), ",
            2: "Affichez-la depuis l'éditeur Visual Basic d'Excel sur ordinateur (Alt+F11, la feuille choisie, "
               "propriété Visible à « -1 - xlSheetVisible » : très masquée, elle n'est pas dans la liste "
               "« Afficher »), "}[com]
    assert message == said + (f"{show}déprotégez-la" if show else "Déprotégez-la") + " (onglet Révision > Ôter la " \
        "protection de la feuille), puis cliquez de nouveau sur « Valider ». Rien n'a été modifié dans le classeur."
    book = _com_book(tmp_path, snapshot=-1, protected={layout.SNAPSHOT_SHEET})
    scripts._guarded(book, scripts.run_valider, "Validation")
    (kind, message), = book.opened
    assert message.startswith(f"Validation impossible : la feuille « {layout.SNAPSHOT_SHEET} » est protégée, et la "
                              "validation y garde les données validées. Déprotégez-la (onglet Révision"), message


@pytest.mark.parametrize("visibility", ["Hidden", "VeryHidden"])
def test_valider_with_the_add_in_says_how_to_show_a_protected_sheet_of_the_validated_data(visibility):
    """The same message with the add-in, which does not send the workbook's protection: said in case; a sheet very
    hidden (Office.js' « VeryHidden ») is shown from the VBA editor, « Afficher » does not list it. Left very hidden
    by the validation, as a hidden one (xlwings reads both as not visible)."""
    from udfs.server_alert import PROTECTION_CHECK

    payload = payload_from_xlsx(_clean()[0], include=scripts.INCLUDE)
    payload["sheets"].append(dict(payload["sheets"][-1], name=layout.SNAPSHOT_SHEET, visibility=visibility, tables=[],
                                  used_range_address=None, values=[[""]]))
    book = remote_book(payload)
    scripts.run_valider(book)
    actions = book.json()["actions"]
    (check, sheets, _structure), = [a["args"] for a in actions if a["func"] == "runMacro"]
    assert check == PROTECTION_CHECK
    message, = [m for name, m, *_ in sheets if name == layout.SNAPSHOT_SHEET]
    show = ("Affichez-la depuis l'éditeur Visual Basic d'Excel sur ordinateur" if visibility == "VeryHidden"
            else "Affichez-la (clic droit sur un onglet > Afficher)")
    assert f"données validées. {show}" in message
    assert ", après avoir ôté la protection du classeur s'il est protégé (onglet Révision > Protéger le classeur, " \
           "avec son mot de passe s'il en a un), déprotégez-la" in message
    i = _index(payload, layout.SNAPSHOT_SHEET)
    assert not [a for a in actions if a["func"] == "setSheetVisibility" and a["sheet_position"] == i]


def test_valider_in_xlwings_lite_asks_excel_for_no_check_it_cannot_run(monkeypatch):
    """xlwings Lite runs the scripts in the browser (Pyodide) and sends « Office.js » as the add-in does, but its
    task pane is its own, without acv-protection.js: the check of the protected sheets, the answer's first action,
    failed there on every click (« n'a pas pu vérifier les feuilles ») and nothing was ever validated. Not asked
    there, as for VBA's client: the findings written, as before."""
    from udfs.server_alert import PROTECTION_CHECK

    payload = payload_from_xlsx(_faulty()[0], include=scripts.INCLUDE)
    assert payload["client"] == "Office.js"
    server = remote_book(json.loads(json.dumps(payload)))
    scripts.run_valider(server)
    assert server.json()["actions"][0]["args"][0] == PROTECTION_CHECK  # (the add-in of the server: asked)
    monkeypatch.setattr(sys, "platform", "emscripten")
    lite = remote_book(payload)
    scripts.run_valider(lite)
    actions = lite.json()["actions"]
    assert all(a["func"] != "runMacro" for a in actions) and any(a["func"] == "setValues" for a in actions)


def test_generer_annexe_on_the_desktop_writes_a_workbook_next_to_the_open_one(tmp_path):
    import openpyxl

    from acv_xl.outputs.annex import AnnexSheet

    path = _faulty()[0]
    book = _DesktopBook(remote_book(payload_from_xlsx(path, include=scripts.INCLUDE)), tmp_path / path.name)
    out = Path(scripts.run_generer_annexe(book))
    assert out == tmp_path / f"{path.stem}_annexe.xlsx" and book.opened == [str(out)]
    wb = openpyxl.load_workbook(out)
    assert AnnexSheet.FINANCEMENT in wb.sheetnames
    # a workbook with errors gets a draft: « PROJET — non validé » in the document
    from acv_xl.outputs.annex import PROJET_NON_VALIDE

    assert wb.properties.subject == PROJET_NON_VALIDE


def test_generer_annexe_on_the_desktop_replaces_its_annex_but_never_a_workbook_of_that_name(tmp_path):
    import hashlib
    import shutil

    path = _faulty()[0]
    book = _DesktopBook(remote_book(payload_from_xlsx(path, include=scripts.INCLUDE)), tmp_path / path.name)
    out = Path(scripts.run_generer_annexe(book))
    assert Path(scripts.run_generer_annexe(book)) == out  # its own previous annex: replaced
    shutil.copy(path, out)  # a commune's workbook saved under that name
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    book.opened.clear()
    scripts._guarded(book, scripts.run_generer_annexe, "Génération de l'annexe")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    (kind, message), = book.opened
    assert kind == "alert" and out.name in message and "n'est pas remplacé" in message
    assert "Renommez ou déplacez ce fichier" in message and "--remplacer" not in message


def test_generer_annexe_on_the_desktop_never_replaces_another_report_of_that_name(tmp_path):
    """The button replaces its own previous annex only: a consolidation saved under the annex's
    name (« arras_annexe.xlsx ») is kept, as `acv-xl annexe` keeps it."""
    import hashlib
    import shutil

    from acv_xl.outputs.consolidation import consolidate

    path = _faulty()[0]
    book = _DesktopBook(remote_book(payload_from_xlsx(path, include=scripts.INCLUDE)), tmp_path / path.name)
    folder = tmp_path / "dossier"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    out = tmp_path / f"{path.stem}_annexe.xlsx"
    consolidate([folder], out, jobs=1)
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    scripts._guarded(book, scripts.run_generer_annexe, "Génération de l'annexe")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    (kind, message), = book.opened
    assert kind == "alert" and "c'est un classeur consolidé (acv-xl consolider) : il n'est pas remplacé" in message


def test_generer_annexe_on_an_unsaved_desktop_workbook_says_so_in_french():
    path = CASES[0]
    book = _DesktopBook(remote_book(payload_from_xlsx(path, include=scripts.INCLUDE)), Path("Classeur1"))
    scripts._guarded(book, scripts.run_generer_annexe, "Génération de l'annexe")
    assert book.opened == [("alert", "Génération de l'annexe impossible : enregistrez d'abord le classeur "
                                     "sur ce PC (l'annexe est écrite à côté).")]


def test_valider_on_a_workbook_without_the_controles_table_still_reports_and_writes_the_status():
    path = _clean()[0]
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    i, _ = _table(payload, layout.T_CONTROLES.name)
    payload["sheets"][i]["tables"] = []  # a user deleted the table
    _, report, actions = _run(path, payload)
    assert not [a for a in actions if a["func"] in ("resizeTable", "rangeClearContents")]
    assert _written(actions, _named(payload, "acv_statut")) == [[
        scripts.STATUT_VALIDE if report.valide else scripts.STATUT_ERREURS]]


def test_valider_compares_with_the_national_list_like_the_cli():
    """The button checks the identity against the shipped list (ANCT, avril 2024), as `acv-xl valider`."""
    path = ROOT / "workbooks" / "exemples" / "arras.xlsx"
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    sheet_i, row, col = _named(payload, "acv_id")
    payload = copy.deepcopy(payload)
    payload["sheets"][sheet_i]["values"][row][col] = "ACV113"  # Lens - Liévin's id on Arras's workbook
    _, report, actions = _run(path, payload)
    codes = [(f.code, f.cellule) for f in report.findings if f.code.startswith("PRJ-0")]
    assert ("PRJ-06", "A21") in codes and ("PRJ-07", "A21") in codes and not report.valide
    prj06 = next(f for f in report.findings if f.code == "PRJ-06")
    assert "liste nationale ACV (ANCT, avril 2024)" in prj06.message


_AFTER_WARM_UP = """
import json, sys
import xlwings_payload
from udfs import scripts, warm
book = xlwings_payload.remote_book(xlwings_payload.payload_from_xlsx(sys.argv[1], include=scripts.INCLUDE))
warm.warm_up()
before = set(sys.modules)
scripts.run_valider(book)
print(json.dumps({"imported": sorted(set(sys.modules) - before)}))
"""


def test_after_the_servers_warm_up_a_first_valider_imports_nothing():
    """`acv-xl serveur` calls `udfs.warm.warm_up` at start: then the first « Valider » of the process imports
    no module on demand (nor loads the national list: `acv_xl.contract.reference` is imported with it),
    whatever the workbook (here one the warm-up did not see: not one with mistakes)."""
    import json
    import os
    import subprocess
    import sys

    from acv_xl.outputs.examples import FAUTES_ATTENDUES

    book = next(p for p in EXEMPLES if p.name not in FAUTES_ATTENDUES)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    out = subprocess.run([sys.executable, "-c", _AFTER_WARM_UP, str(book)], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out)["imported"] == []


def _stretch(payload: dict, name: str, last: str) -> None:
    """The table `name` made to end at `last` (« J1048576 »), as Excel sends a table the user
    stretched down to the sheet's last row: the values sent stay the used range."""
    i, ref = _table(payload, name)
    for t in payload["sheets"][i]["tables"]:
        if t["name"] == name:
            start = ref.split(":")[0]
            t["range_address"] = f"{start}:{last}"
            r1, c1, r2, c2 = parse_range(t["range_address"])
            t["row_count"], t["column_count"] = r2 - r1 + 1, c2 - c1 + 1


def test_a_table_stretched_to_the_last_row_is_read_without_padding_a_million_rows():
    import tracemalloc

    path = _clean()[0]
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    _, before, _ = _run(path, copy.deepcopy(payload))
    _stretch(payload, layout.T_FINANCEMENTS.name, "J1048576")
    _stretch(payload, layout.T_ACTIONS.name, "Z1048576")  # (to XFD: 17 billion cells, all the memory)
    tracemalloc.start()
    try:
        _, after, actions = _run(path, payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 60 * 2**20, peak
    assert [(f.code, f.feuille, f.cellule) for f in after.findings] == \
        [(f.code, f.feuille, f.cellule) for f in before.findings]
    assert after.valide and not [a for a in actions if a["func"] == "alert"]


def test_a_table_too_large_even_cut_to_its_values_is_refused_in_french():
    """Stretched to XFD over 20 000 lines each holding something: refused by the lines that hold something
    up to the sheet's last column, in the words of the command line (`source.table_too_large`)."""
    from openpyxl.utils import get_column_letter

    path = _clean()[0]
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    i, _ = _table(payload, layout.T_ACTIONS.name)
    values = payload["sheets"][i]["values"]
    width = max(map(len, values))
    values += [["x"] for _ in range(20_003 - len(values))]  # lines filled, 1 column each
    lines = sum(1 for r in values[3:] if any(v != "" for v in r))  # under the header, on row 3
    payload["sheets"][i]["used_range_address"] = f"A1:{get_column_letter(width)}20003"
    _stretch(payload, layout.T_ACTIONS.name, "XFD20003")
    book = remote_book(payload)
    scripts.valider(book)
    alerts = [a["args"][0] for a in book.json()["actions"] if a["func"] == "alert"]
    assert lines * width > 200_000
    assert alerts == [f"Validation impossible : le fichier « {path.name} » a un tableau « {layout.T_ACTIONS.name} » "
                      f"(A3:XFD20003) trop grand pour être lu : {fmt_number(lines)} lignes remplies de {width} colonnes, "
                      f"{fmt_number(lines * width)} cellules (au plus 200 000 par tableau ; une convention en compte "
                      "quelques centaines). Redimensionnez le tableau à ses seules lignes de la convention (Création "
                      "de tableau > Redimensionner le tableau) et déplacez les autres données dans un autre classeur, "
                      "puis enregistrez le classeur et relancez la validation."], alerts


def test_generer_annexe_with_amounts_past_excels_largest_number_says_so_in_french():
    """Two amounts of 9E+307 € add up to a float infinity (the total of the financements): the web annex wrote
    « Infinity » (no JSON, the call failed), the desktop one stopped on XlsxWriter's TypeError. The
    button now says why in a French message box and writes nothing."""
    path = _clean()[0]
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    values, top, col = _column(payload, layout.T_FINANCEMENTS, "montant")
    for k in (1, 2):
        values[top + k][col] = 9e307
    book = remote_book(payload)
    scripts.generer_annexe(book)
    actions = book.json()["actions"]
    assert not [a for a in actions if a["func"] == "addSheet"]
    alerts = [a["args"][0] for a in actions if a["func"] == "alert"]
    assert len(alerts) == 1 and alerts[0].startswith("Génération de l'annexe impossible : des montants du plan")
    assert "9,99 × 10^307" in alerts[0]


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_valider_shows_a_controles_sheet_the_user_hid(tmp_path, state):
    """Contrôles hidden by the user (Format › Masquer, or very hidden by a macro): the button activated it
    anyway, which Excel refuses for a hidden sheet — on the desktop, « Validation impossible : erreur
    inattendue » after everything was written, the findings nowhere to see. It is made visible first."""
    import openpyxl

    path = tmp_path / "controles-masquee.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    wb[layout.Sheet.CONTROLES].sheet_state = state
    wb.save(path)
    payload, _report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    i = _index(payload, layout.Sheet.CONTROLES)
    mine = [(a["func"], a["args"]) for a in actions
            if a["func"] in ("setSheetVisibility", "activateSheet") and a["sheet_position"] == i]
    assert mine == [("setSheetVisibility", ["Visible"]), ("activateSheet", [i])], mine
    # a visible Contrôles is only shown
    _payload, _report, actions = _run(_faulty()[0], payload_from_xlsx(_faulty()[0], exclude=scripts.EXCLUDE))
    assert not [a for a in actions if a["func"] == "setSheetVisibility" and a["sheet_position"] == i]


def test_valider_shows_the_findings_on_a_renamed_controles_sheet(tmp_path):
    """Contrôles renamed « Contrôles 2026 »: its table is found and filled, but the button looked for the sheet
    « Contrôles » to show, found none, and left the user on Accueil — the click seemed to do nothing."""
    import openpyxl

    path = tmp_path / "controles-renommee.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    wb[layout.Sheet.CONTROLES].title = "Contrôles 2026"
    wb.save(path)
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    i = _index(payload, "Contrôles 2026")
    assert [f for f in report.findings if f.code == "STR-03"]  # (said, as by the command line)
    assert [a["args"] for a in actions if a["func"] == "activateSheet"] == [[i]]


def test_generer_annexe_shows_its_sheet_when_the_user_hid_it(tmp_path):
    """The web annex sheet hidden by the user, then « Générer l'annexe » clicked again: it was refilled
    and activated while hidden (refused by Excel). It is made visible first."""
    import openpyxl

    path = tmp_path / "annexe-masquee.xlsx"
    wb = openpyxl.load_workbook(_clean()[0])
    wb.create_sheet(scripts.ANNEXE_WEB).sheet_state = "hidden"
    wb.save(path)
    payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
    book = remote_book(payload)
    assert scripts.run_generer_annexe(book) == scripts.ANNEXE_WEB
    i = _index(payload, scripts.ANNEXE_WEB)
    mine = [(a["func"], a["args"]) for a in book.json()["actions"]
            if a["func"] in ("setSheetVisibility", "activateSheet") and a["sheet_position"] == i]
    assert mine == [("setSheetVisibility", ["Visible"]), ("activateSheet", [i])], mine


def test_a_message_box_goes_to_the_click_it_answers_not_to_another_request_s(tmp_path):
    """The server runs the clicks of several communes at once, each workbook opened in xlwings' one app: a message
    box (`book.app.alert`) was appended to the last workbook that app opened — another commune's answer, who saw
    a message about a workbook not theirs, while the one who clicked saw none. Each message goes to its own book."""
    import openpyxl

    path = tmp_path / "budget.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Budget 2025"
    wb.active.append(["Poste", "Montant"])
    wb.save(path)
    budget = remote_book(payload_from_xlsx(path, exclude=scripts.EXCLUDE))  # a click of one commune…
    other = remote_book(payload_from_xlsx(_clean()[0], exclude=scripts.EXCLUDE))  # …another's, opened meanwhile
    scripts.valider(budget)
    assert [a["func"] for a in budget.json()["actions"]] == ["alert"]
    assert other.json()["actions"] == []
    scripts._guarded(other, lambda book: (_ for _ in ()).throw(scripts.ValidationImpossible("déplacez-le.")),
                     "Validation")
    assert [a["args"] for a in other.json()["actions"]] \
        == [["Validation impossible : déplacez-le.", scripts.TITRE_ALERTE, "ok", "", ""]]
    assert [a["func"] for a in budget.json()["actions"]] == ["alert"]


def test_a_workbook_of_another_program_is_said_so_and_left_untouched(tmp_path):
    """The add-in's pane offers « Valider » in any open workbook: on a budget of the commune, the button
    said « le tableau « T_Controles » … introuvable (feuille supprimée…) », « à corriger, 1 erreur », and
    advised « acv-xl migrer »; « Générer l'annexe » added an empty annex to it. The command line says
    what it is (STR-11, status 2): so do both buttons, and write nothing."""
    import openpyxl

    path = tmp_path / "budget.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Budget 2025"
    wb.active.append(["Poste", "Montant"])
    wb.active.append(["Voirie", 120000])
    wb.save(path)
    cli = validate_file(path)
    assert [f.code for f in cli.findings] == ["STR-11"] and cli.exit_code == 2
    for script, what in ((scripts.valider, ""), (scripts.generer_annexe, "Génération de l'annexe impossible : c")):
        book = remote_book(payload_from_xlsx(path, exclude=scripts.EXCLUDE))
        script(book)
        actions = book.json()["actions"]
        assert [a["func"] for a in actions] == ["alert"], actions
        said = actions[0]["args"][0]
        assert said.startswith(what or "Ce classeur n'est pas un classeur de convention ACV")
        assert "Rien n'y a été vérifié ni écrit." in said and "T_Controles" not in said


def test_an_annex_of_acv_xl_opened_in_excel_is_left_untouched(tmp_path):
    """The annex the desktop button opens (or `acv-xl annexe`'s) has sheets of the template's names but
    none of its tables: the command line knows it by its mark (STR-11), which the add-in does not send;
    the button coloured its cells A3 (« tableau introuvable ») and advised « acv-xl migrer »."""
    from acv_xl.outputs.annex import build_annex

    out = tmp_path / "arras_annexe.xlsx"
    build_annex(validate_file(_clean()[0]), out)
    assert [f.code for f in validate_file(out).findings] == ["STR-11"]
    book = remote_book(payload_from_xlsx(out, exclude=scripts.EXCLUDE))
    scripts.valider(book)
    actions = book.json()["actions"]
    assert [a["func"] for a in actions] == ["alert"], actions
    assert actions[0]["args"][0].startswith("Ce classeur ne contient aucun des tableaux ni aucune des cellules nommées")


def test_a_row_of_controles_never_holds_more_than_a_cell_does():
    """A change since the validation of a 20 000-character comment to another gives a 40 000-character
    message: Excel refuses the whole write of Contrôles for one cell past 32 767 characters (no finding
    listed). Cut with « … », the apostrophe that keeps a text a text counted."""
    from acv_xl.checks.findings import Finding, Gravite
    from udfs.tables import header_index

    f = Finding(code="", gravite=Gravite.INFORMATION, feuille="Plan de financement", cellule="J4",
                message="Modifié depuis la validation du 26/11/2026 — « " + "A" * 20_000 + " » → « " + "B" * 20_000 + " »",
                suggestion="1" * 40_000)
    header = list(layout.T_CONTROLES.headers)
    row = scripts._finding_row(f, header_index(header, layout.T_CONTROLES), len(header))
    assert max(map(len, row)) <= 32_767
    message = row[header.index(layout.T_CONTROLES.header("message"))]
    assert message.startswith("Modifié depuis la validation du 26/11/2026 — « AAA") and message.endswith("…")
    short = Finding(code="FIN-03", gravite=Gravite.ERREUR, message="court", suggestion="-1")
    assert scripts._finding_row(short, header_index(header, layout.T_CONTROLES), len(header))[:2] == ["Erreur", "FIN-03"]


def test_a_row_of_controles_counts_what_a_cell_holds_as_excel_does():
    """Excel and Office.js count a cell's 32 767 characters in UTF-16 units, an emoji two: a comment of
    16 000 emoji (32 000 units, a cell Excel holds) changed since the validation gave a message of
    32 000 characters but 64 000 units, never cut — Excel refuses the whole write of Contrôles."""
    from acv_xl.checks.findings import Finding, Gravite
    from udfs.tables import header_index

    f = Finding(code="", gravite=Gravite.INFORMATION, feuille="Plan de financement", cellule="J4",
                message="Modifié depuis la validation du 26/11/2026 — « " + "😀" * 16_000 + " » → « " + "😃" * 16_000 + " »",
                suggestion="")
    header = list(layout.T_CONTROLES.headers)
    row = scripts._finding_row(f, header_index(header, layout.T_CONTROLES), len(header))
    message = row[header.index(layout.T_CONTROLES.header("message"))]
    assert len(message.encode("utf-16-le")) // 2 <= 32_766 and message.endswith("😃…")  # room for an apostrophe
    assert "\ufffd" not in message


@pytest.mark.parametrize("old_lines", [1, 6], ids=["plus-de-constats", "moins-de-constats"])
def test_a_totals_row_of_controles_moves_below_the_findings(tmp_path, old_lines):
    """Contrôles with its totals row ticked (a count of the findings): the button wrote the findings over
    it and resized the table so that its last finding became the totals row (the row the next click does
    not read: that cell's colour never cleared). It is turned off meanwhile and shown again below them,
    as `--annoter` moves it."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    path = tmp_path / "controles-total.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _r2 = range_boundaries(t.ref)
    for k in range(old_lines):
        ws.cell(r1 + 1 + k, c1).value, ws.cell(r1 + 1 + k, c1 + 1).value = "Information", f"X-{k}"
    t.ref = f"{ws.cell(r1, c1).coordinate}:{ws.cell(r1 + old_lines + 1, c2).coordinate}"
    t.totalsRowCount = 1
    ws.cell(r1 + old_lines + 1, c1).value = "Total"
    wb.save(path)
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    n = len(report.findings)
    assert n not in (old_lines, 0)
    i = _index(payload, layout.Sheet.CONTROLES)
    mine = [(a["func"], a["args"], a["start_row"]) for a in actions if a["sheet_position"] == i
            and a["func"] in ("showTotalsTable", "resizeTable", "rangeClearContents")]
    totals_row = r1 + old_lines + 1
    assert mine[0] == ("showTotalsTable", [0, False], None)
    assert ("rangeClearContents", [None], totals_row - 1) in mine  # its old row (0-based)
    assert ("resizeTable", [0, f"$A${r1}:$G${r1 + n}"], None) in mine  # the findings only, then…
    assert mine[-1] == ("showTotalsTable", [0, True], None)  # …the totals row below them


def _annotated(path, out, r1: int, r2: int):
    """`path` validated and annotated into `out` (`--annoter`): its report, the rows T_Controles (rows
    r1..r2) grew by — some, or the test shows nothing — and the copy's Contrôles sheet."""
    import openpyxl

    from acv_xl.outputs.annotate import annotate

    report = validate_file(path)
    annotate(path, out, report, today=TODAY)
    grown = r1 + len(report.findings) - r2
    assert grown > 0
    return report, grown, openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]


def _notes_below_controles(path, totals: bool, merged: bool = False) -> tuple[int, int, int, int]:
    """A faulty workbook saved at `path` with notes typed below T_Controles (with a totals row, the
    note merged over three cells): the table's bounds (first column, first row, last column, last row)."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, r2 = range_boundaries(t.ref)
    if totals:
        t.ref = f"{ws.cell(r1, c1).coordinate}:{ws.cell(r2 + 1, c2).coordinate}"
        t.totalsRowCount = 1
        ws.cell(r2 + 1, c1).value = "Total"
        r2 += 1
    ws.cell(r2 + 2, c1).value = "Note du comité : revoir l'action 2.1"
    if merged:
        ws.merge_cells(start_row=r2 + 2, start_column=c1, end_row=r2 + 2, end_column=c1 + 2)
    ws.cell(r2 + 3, c2).value = "à voir"
    wb.save(path)
    return c1, r1, c2, r2


@pytest.mark.parametrize("totals", [False, True], ids=["sans-total", "avec-total"])
def test_notes_typed_below_controles_move_down_as_the_findings_grow(tmp_path, totals):
    """Notes a user typed a row below T_Controles (for the comité): the button wrote its findings over
    them — rows it never read back, lost. The cells below the table are now moved down first (Excel's
    own insertion, formats and all), as Excel moves them when a line is added to a table; nothing is
    moved when nothing is there."""
    import openpyxl

    path = tmp_path / "controles-notes.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals)
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    n = len(report.findings)
    assert n > 2
    i = _index(payload, layout.Sheet.CONTROLES)
    mine = [a for a in actions if a["sheet_position"] == i]
    inserts = [(a["start_row"] + 1, a["start_column"] + 1, a["row_count"], a["column_count"], a["args"])
               for a in mine if a["func"] == "rangeInsert"]
    grown = r1 + n + (1 if totals else 0) - r2  # the rows the table takes below its old end
    assert inserts == [(r2 + 1, c1, grown, c2 - c1 + 1, ["down", "format_from_left_or_above"])]
    first_write = next(k for k, a in enumerate(mine) if a["func"] == "setValues")
    assert mine.index(next(a for a in mine if a["func"] == "rangeInsert")) < first_write  # moved, then written

    # nothing below: nothing moved
    wb = openpyxl.load_workbook(path)
    wb[layout.Sheet.CONTROLES].cell(r2 + 2, c1).value = wb[layout.Sheet.CONTROLES].cell(r2 + 3, c2).value = None
    wb.save(path)
    _, _, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    assert not [a for a in actions if a["func"] == "rangeInsert"]


@pytest.mark.parametrize("far", [False, True], ids=["sous-le-tableau", "plus-bas"])
def test_a_formula_showing_nothing_below_controles_is_moved_down_never_written_over(tmp_path, far):
    """A formula typed below T_Controles that shows nothing yet (`=SI(A1="";"";…)`): the add-in sends
    values only, "" as for an empty cell, and the button wrote its findings over it — the formula lost.
    The sheet's used range reaches it (Excel counts a formula cell there): what is below the table now
    moves down as the table grows, also when a visible note lies further down than the findings reach
    (the formula may be among the rows they take)."""
    import openpyxl

    path = tmp_path / "controles-formule.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    from openpyxl.utils.cell import range_boundaries

    c1, r1, c2, r2 = range_boundaries(t.ref)
    ws.cell(r2 + 1, c1).value = '=IF(A1="","",A1)'
    if far:
        ws.cell(r2 + 500, c2).value = "Note du comité"
    wb.save(path)
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE, formula_cells=True))
    n = len(report.findings)
    assert r1 + n > r2 + 1  # the findings reach the formula's row
    i = _index(payload, layout.Sheet.CONTROLES)
    assert payload["sheets"][i]["values"][r2][c1 - 1] == ""  # what the add-in sends of it
    mine = [a for a in actions if a["sheet_position"] == i]
    inserts = [(a["start_row"] + 1, a["start_column"] + 1, a["row_count"], a["column_count"])
               for a in mine if a["func"] == "rangeInsert"]
    assert inserts == [(r2 + 1, c1, r1 + n - r2, c2 - c1 + 1)]
    first_write = next(k for k, a in enumerate(mine) if a["func"] == "setValues")
    assert mine.index(next(a for a in mine if a["func"] == "rangeInsert")) < first_write


def test_on_the_desktop_the_formulas_below_controles_are_read_to_tell_one_showing_nothing():
    """On the desktop (COM) the button reads the formulas of the rows the findings will take: a formula
    showing nothing is something there, an empty cell nothing — no move for a sheet merely used further
    down, as the add-in's values cannot tell."""
    from types import SimpleNamespace

    from udfs.xw_source import XwSource

    def source(formulas):
        src = XwSource(None)
        src._values = {"Contrôles": [[None] * 7 for _ in range(40)]}  # used down to row 40, all showing nothing
        src.sheet = lambda _name: SimpleNamespace(range=lambda _a, _b: SimpleNamespace(formula=formulas))
        return src

    assert source((("", "", ""), ("", '=IF(A1="","",A1)', ""))).may_be_occupied("Contrôles", 5, 6, 1, 3)
    assert not source((("", "", ""), ("", "", ""))).may_be_occupied("Contrôles", 5, 6, 1, 3)
    assert not source('').may_be_occupied("Contrôles", 5, 5, 1, 1)  # one cell: its formula alone


def test_what_the_button_pushes_down_is_what_lies_in_the_columns_of_controles():
    """How far the button's insertion pushes what is below T_Controles (checked against Excel's last row):
    the last row showing something in its columns. The add-in's used range ends lower for anything
    anywhere on the sheet (a value typed far right on the last row), which refused every validation that
    added a finding — the insertion does not move those cells."""
    from udfs.xw_source import XwSource

    src = XwSource(None)
    src._sent = True
    rows = [[None] * 10 for _ in range(40)]
    rows[39][9] = "hors du tableau"
    src._values = {"Contrôles": rows}
    assert src.last_used_row("Contrôles", 4, 1, 7) == 4
    rows[29][1] = "Note du comité"
    assert src.last_used_row("Contrôles", 4, 1, 7) == 30


@pytest.mark.parametrize("totals", [False, True], ids=["sans-total", "avec-total"])
def test_notes_typed_below_controles_move_down_in_the_annotated_copy_as_the_button_moves_them(tmp_path, totals):
    """The same notes below T_Controles, `acv-xl valider --annoter`: the copy cleared every row the
    findings took, the notes with them — gone from the copy, where the button moves them down. They are
    moved down as far as the button moves them, their merged cells and formats with them."""
    import openpyxl

    from acv_xl.checks.validate import validate_file
    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals, merged=True)
    report = validate_file(path)
    annotate(path, out, report, today=TODAY)
    n = len(report.findings)
    grown = r1 + n + (1 if totals else 0) - r2  # as far as the button moves them
    assert n > 2 and grown > 0
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert ws.cell(r2 + 2 + grown, c1).value == "Note du comité : revoir l'action 2.1"
    assert ws.cell(r2 + 3 + grown, c2).value == "à voir"
    assert f"{ws.cell(r2 + 2 + grown, c1).coordinate}:{ws.cell(r2 + 2 + grown, c1 + 2).coordinate}" in \
        {str(m) for m in ws.merged_cells.ranges}
    assert ws.tables[layout.T_CONTROLES.name].ref == \
        f"{ws.cell(r1, c1).coordinate}:{ws.cell(r1 + n + (1 if totals else 0), c2).coordinate}"
    assert [ws.cell(r1 + 1 + k, c1 + 1).value for k in range(n)] == [f.code for f in report.findings]


def test_the_colours_come_last_so_a_protected_sheet_never_loses_the_findings():
    """A data sheet the user protected refuses the colours (Office.js), and Excel then stops what
    follows in the batch: the button coloured first, so Contrôles, the status and the validated data
    were never written, the user left with an English error. Colours now come after everything else,
    after the change of sheet that ends a batch; on the desktop a refused colour is skipped."""
    path = _faulty()[0]
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    funcs = [a["func"] for a in actions]
    assert "setRangeColor" in funcs
    first_colour = funcs.index("setRangeColor")
    assert first_colour > funcs.index("activateSheet") and first_colour > funcs.index("setValues")
    assert set(funcs[first_colour:]) == {"setRangeColor"}

    from types import SimpleNamespace

    class Protected:
        name = next(f.feuille for f in report.findings if f.feuille and f.cellule and f.gravite in scripts.FILLS)
        asked = 0

        def range(self, _cell):
            Protected.asked += 1
            raise RuntimeError("la feuille est protégée")  # what COM raises at once

    scripts.highlight(SimpleNamespace(sheets=[Protected()]), None, report.findings, before=[])
    assert Protected.asked


def test_a_client_sending_no_sheet_visibility_still_gets_controles_shown():
    """A payload without « visibility » (an older add-in): asking whether Contrôles is hidden raised
    KeyError — « Validation impossible : erreur inattendue » after everything was written."""
    path = _faulty()[0]
    payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
    for sheet in payload["sheets"]:
        del sheet["visibility"]
    book = remote_book(payload)
    scripts.valider(book)
    funcs = [a["func"] for a in book.json()["actions"]]
    assert "activateSheet" in funcs and "alert" not in funcs


def test_the_formats_and_lists_of_notes_below_controles_move_with_them_in_the_annotated_copy(tmp_path):
    """A note below T_Controles with its conditional format (red when it says « revoir ») and a drop-down
    list: the button moves them down with it (Excel's own insertion); `acv-xl valider --annoter` moved the
    note but left its format and its list where it was — over the findings' rows of the copy, colouring
    and constraining them, and its formulas kept their text — pointing at the rows it left. They now move
    with the note, and every formula of the sheet that names a moved cell follows it, as in Excel; a format
    reaching outside the moved cells stays, as written."""
    import openpyxl
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    note, beside = ws.cell(r2 + 2, c1).coordinate, ws.cell(r2 + 2, c2 + 2).coordinate
    # the template's own (the Gravité column's list and colours…): the table's, above the moved rows
    template_formats = {str(cf.sqref): [r.formula for r in cf.rules] for cf in ws.conditional_formatting}
    template_lists = [str(d.sqref) for d in ws.data_validations.dataValidation]
    red = PatternFill(start_color="FFFF0000", end_color="FFFF0000", fill_type="solid")
    ws.conditional_formatting.add(f"{note} {beside}", FormulaRule(formula=[f'ISNUMBER(SEARCH("revoir",{note}))'], fill=red))
    ws.conditional_formatting.add(note, FormulaRule(formula=["TRUE"], fill=red))
    dv = DataValidation(type="list", formula1='"à voir,vu"')
    dv.add(ws.cell(r2 + 3, c2).coordinate)
    ws.add_data_validation(dv)
    ws.cell(r2 + 3, c1).value = f'=LEN({note})&" caractères, "&Accueil!{note}'  # a note of the notes
    ws[beside] = f"=${note[0]}${note[1:]}"  # beside the table, not moved: it still names the note
    wb.save(path)
    report, grown, ws = _annotated(path, out, r1, r2)
    moved = ws.cell(r2 + 2 + grown, c1).coordinate
    assert ws[moved].value == "Note du comité : revoir l'action 2.1"
    assert ws.cell(r2 + 3 + grown, c1).value == f'=LEN({moved})&" caractères, "&Accueil!{note}'  # another sheet's: kept
    assert ws[beside].value == f"=${moved[0]}${moved[1:]}"
    # the range wholly among the moved cells goes with them; one reaching outside the table's columns stays
    formats = {str(cf.sqref): [r.formula for r in cf.rules] for cf in ws.conditional_formatting}
    assert formats == {**template_formats, f"{note} {beside}": [[f'ISNUMBER(SEARCH("revoir",{note}))']],
                       moved: [["TRUE"]]}
    assert [str(d.sqref) for d in ws.data_validations.dataValidation] == \
        [*template_lists, ws.cell(r2 + 3 + grown, c2).coordinate]


def test_a_list_and_a_formula_down_to_the_last_row_under_controles_still_end_there_in_the_annotated_copy(tmp_path):
    """A drop-down list put on a note's column down to the grid's end (Ctrl+Maj+Bas, then « Validation des
    données ») and a formula counting it: moved below the grown T_Controles, they ended at row 1 048 579 —
    past Excel's 1 048 576 rows, a copy Excel « répare » by dropping them. As in Excel, they now start
    lower and still end at the last row."""
    import zipfile

    import openpyxl
    from openpyxl.worksheet.datavalidation import DataValidation

    from acv_xl.contract.values import EXCEL_ROWS

    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    col = ws.cell(1, c2).column_letter
    dv = DataValidation(type="list", formula1='"à voir,vu"')
    dv.add(f"{col}{r2 + 2}:{col}{EXCEL_ROWS}")
    ws.add_data_validation(dv)
    ws.cell(r2 + 3, c1).value = f"=COUNTA({col}{r2 + 2}:{col}{EXCEL_ROWS})"
    wb.save(path)
    report, grown, ws = _annotated(path, out, r1, r2)
    moved = f"{col}{r2 + 2 + grown}:{col}{EXCEL_ROWS}"
    assert ws.cell(r2 + 3 + grown, c1).value == f"=COUNTA({moved})"
    assert moved in [str(d.sqref) for d in ws.data_validations.dataValidation]
    with zipfile.ZipFile(out) as z:  # no reference past the grid anywhere in the copy
        assert not any(str(EXCEL_ROWS + grown).encode() in z.read(n) for n in z.namelist())


def test_a_range_from_controles_down_to_the_notes_grows_with_them_in_the_annotated_copy(tmp_path):
    """A count typed below T_Controles over the findings and the rows under them (`=NB.SI(A4:A40;"Erreur")`,
    in a note and beside the table): the button's insertion (Excel's) grows such a range, its last cell
    moved with the notes; `--annoter` left it as written — it counted rows the copy had shifted, and
    missed the notes moved out of it. It now grows too; a range reaching other columns stays, as in Excel."""
    import openpyxl

    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    col, wide_end = ws.cell(1, c1).column_letter, ws.cell(1, c2 + 1).column_letter
    span = f"{col}{r1 + 1}:${col}${r2 + 40}"
    ws.cell(r2 + 4, c1).value = f'=COUNTIF({span},"Erreur")'
    ws.cell(r2 + 4, c2 + 2).value = f'=COUNTIF({span},"Erreur")+COUNTA(A{r1 + 1}:{wide_end}{r2 + 40})'
    wb.save(path)
    report, grown, ws = _annotated(path, out, r1, r2)
    longer = f"{col}{r1 + 1}:${col}${r2 + 40 + grown}"
    assert ws.cell(r2 + 4 + grown, c1).value == f'=COUNTIF({longer},"Erreur")'
    assert ws.cell(r2 + 4, c2 + 2).value == f'=COUNTIF({longer},"Erreur")+COUNTA(A{r1 + 1}:{wide_end}{r2 + 40})'


def _as_filled(path, ref: str) -> None:
    """The formulas typed cell by cell over `ref` of Contrôles (openpyxl writes each its own) saved as Excel
    saves a range filled down or right: one shared formula, its text on its first cell only."""
    import re
    import shutil
    import zipfile

    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries

    part = f"xl/worksheets/sheet{openpyxl.load_workbook(path).sheetnames.index(layout.Sheet.CONTROLES) + 1}.xml"
    k1, r1, k2, r2 = range_boundaries(ref)
    cells = {f"{get_column_letter(k)}{r}" for r in range(r1, r2 + 1) for k in range(k1, k2 + 1)}
    first = f"{get_column_letter(k1)}{r1}"
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}

    def share(m: re.Match) -> bytes:
        at = m[1].decode()
        if at not in cells:
            return m[0]
        if at == first:
            return f'<c r="{at}"><f t="shared" ref="{ref}" si="0">'.encode() + m[2] + b"</f>"
        return f'<c r="{at}"><f t="shared" si="0"/>'.encode()

    parts[part] = re.sub(rb'<c r="([A-Z]+\d+)"><f>(.*?)</f>', share, parts[part])
    assert parts[part].count(b't="shared"') == len(cells)
    shutil.move(path, path.with_name("avant.xlsx"))
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)


def test_a_column_filled_down_beside_controles_into_the_notes_follows_them_in_the_annotated_copy(tmp_path):
    """A helper column beside T_Controles filled down from its first finding into the rows below
    (`=SI(A4="Erreur";1;0)` … : Excel keeps one shared formula, its text on the first cell only):
    `--annoter` followed that text alone, which names no moved cell, and every other cell, derived from it,
    still named the rows the copy had shifted — the notes' cells read as findings. Each cell now names what
    Excel's insertion would: those below the table the moved cells, those beside the findings their own."""
    import openpyxl

    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    col, last = ws.cell(1, c2 + 2).column_letter, r2 + 10
    for r in range(r1 + 1, last + 1):
        ws[f"{col}{r}"] = f'=IF(A{r}="Erreur",1,0)'
    wb.save(path)
    _as_filled(path, f"{col}{r1 + 1}:{col}{last}")
    report, grown, ws = _annotated(path, out, r1, r2)
    assert [ws[f"{col}{r}"].value for r in range(r1 + 1, last + 1)] == \
        [f'=IF(A{r if r <= r2 else r + grown}="Erreur",1,0)' for r in range(r1 + 1, last + 1)]


def test_a_row_filled_right_across_the_last_column_of_controles_below_it_keeps_its_references(tmp_path):
    """A row of formulas below T_Controles filled right from its columns into the next (`=F7*2` … `=J7*2`
    over the amounts of the row under it: one shared formula): `--annoter` moved its cells in the table's
    columns and derived the texts of those it left from the first cell's new place — `=H5*2` two rows too
    high, over a cell the move had not touched. Each cell now names what Excel's insertion leaves it: the
    moved ones the moved row, the others their own."""
    import openpyxl

    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    row, cols = r2 + 5, [ws.cell(1, k).column_letter for k in range(c2 - 1, c2 + 4)]
    for k, col in enumerate(cols):
        ws[f"{col}{row}"], ws[f"{col}{row + 1}"] = f"={col}{row + 1}*2", k + 1
    wb.save(path)
    _as_filled(path, f"{cols[0]}{row}:{cols[-1]}{row}")
    report, grown, ws = _annotated(path, out, r1, r2)
    moved = {col: c1 <= k <= c2 for k, col in enumerate(cols, start=c2 - 1)}
    assert [ws[f"{col}{row + grown if moved[col] else row}"].value for col in cols] == \
        [f"={col}{row + 1 + grown if moved[col] else row + 1}*2" for col in cols]
    assert [ws[f"{col}{row + 1 + grown if moved[col] else row + 1}"].value for col in cols] == [1, 2, 3, 4, 5]


def test_a_list_beside_controles_whose_choices_are_typed_below_it_still_offers_them_in_the_annotated_copy(tmp_path):
    """Choices typed below T_Controles (« à voir », « vu ») as the source of a drop-down list in a column
    beside the table: the choices move down with the notes, the list stays (it is not among the moved
    cells) — its source kept its text, and the list of the annotated copy offered the findings' texts
    written where the choices were. As in Excel, the source now follows the choices."""
    import openpyxl
    from openpyxl.worksheet.datavalidation import DataValidation


    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    col = ws.cell(1, c1).column_letter
    ws.cell(r2 + 4, c1).value, ws.cell(r2 + 5, c1).value = "à voir", "vu"
    dv = DataValidation(type="list", formula1=f"${col}${r2 + 4}:${col}${r2 + 5}")
    beside = ws.cell(r1 + 1, c2 + 2).coordinate
    dv.add(beside)
    ws.add_data_validation(dv)
    wb.save(path)
    report, grown, ws = _annotated(path, out, r1, r2)
    assert [ws.cell(r2 + 4 + grown, c1).value, ws.cell(r2 + 5 + grown, c1).value] == ["à voir", "vu"]
    lists = {str(d.sqref): d.formula1 for d in ws.data_validations.dataValidation}
    assert lists[beside] == f"${col}${r2 + 4 + grown}:${col}${r2 + 5 + grown}"


def test_a_table_of_notes_below_controles_moves_with_them_in_the_annotated_copy(tmp_path):
    """A table of the user's below T_Controles (« T_Notes »: a subject, an opinion): the button's insertion
    moves it down as T_Controles grows; `acv-xl valider --annoter` moved its cells but left its definition on
    the rows they left — over the findings, its header row no longer its columns' names: a table Excel
    « répare » by deleting it. Its range now goes with its cells."""
    import openpyxl
    from openpyxl.worksheet.filters import AutoFilter, SortCondition, SortState
    from openpyxl.worksheet.table import Table


    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    top = r2 + 4
    for r, values in enumerate((("Sujet", "Avis"), ("Action 2.1", "à revoir"), ("Action 3.1", "vu")), start=top):
        for k, v in enumerate(values):
            ws.cell(r, c1 + k).value = v
    ref = f"{ws.cell(top, c1).coordinate}:{ws.cell(top + 2, c1 + 1).coordinate}"
    notes = Table(displayName="T_Notes", ref=ref)
    notes._initialise_columns()
    notes.autoFilter = AutoFilter(ref=ref)
    notes.autoFilter.sortState = SortState(ref=ref.replace(ws.cell(top, c1).coordinate, ws.cell(top + 1, c1).coordinate),
                                           sortCondition=[SortCondition(ref=f"{ws.cell(top + 1, c1 + 1).coordinate}:"
                                                                            f"{ws.cell(top + 2, c1 + 1).coordinate}")])
    ws.add_table(notes)
    wb.save(path)
    report, grown, ws = _annotated(path, out, r1, r2)
    moved = f"{ws.cell(top + grown, c1).coordinate}:{ws.cell(top + 2 + grown, c1 + 1).coordinate}"
    notes = ws.tables["T_Notes"]
    assert notes.ref == notes.autoFilter.ref == moved
    assert notes.autoFilter.sortState.ref == f"{ws.cell(top + 1 + grown, c1).coordinate}:" \
                                             f"{ws.cell(top + 2 + grown, c1 + 1).coordinate}"
    assert [c.ref for c in notes.autoFilter.sortState.sortCondition] == \
        [f"{ws.cell(top + 1 + grown, c1 + 1).coordinate}:{ws.cell(top + 2 + grown, c1 + 1).coordinate}"]
    assert [[ws.cell(r, c1 + k).value for k in range(2)] for r in range(top + grown, top + 3 + grown)] == \
        [["Sujet", "Avis"], ["Action 2.1", "à revoir"], ["Action 3.1", "vu"]]


def _wide_notes_below_controles(path) -> tuple[int, int, int, int, int]:
    """Notes below T_Controles (`_notes_below_controles`) and a table of the user's under them wider than
    T_Controles (from its last column to two beyond), a merged title over its last column and the next:
    the table's bounds and the first row of the wide table."""
    import openpyxl
    from openpyxl.worksheet.table import Table

    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    top = r2 + 5
    ws.cell(top - 1, c2).value = "Suivi"
    ws.merge_cells(start_row=top - 1, start_column=c2, end_row=top - 1, end_column=c2 + 1)
    for r, values in enumerate((("Sujet", "Avis", "Qui"), ("Action 2.1", "à revoir", "DGS")), start=top):
        for k, v in enumerate(values):
            ws.cell(r, c2 + k).value = v
    notes = Table(displayName="T_Suivi", ref=f"{ws.cell(top, c2).coordinate}:{ws.cell(top + 1, c2 + 2).coordinate}")
    notes._initialise_columns()
    ws.add_table(notes)
    wb.save(path)
    return c1, r1, c2, r2, top


def test_a_table_wider_than_controles_below_it_moves_whole_in_the_annotated_copy(tmp_path):
    """A table of the user's below T_Controles reaching past its last column (T_Suivi over G:I), under a
    title merged over G:H: `--annoter` moved the cells of T_Controles' columns only — the table cut in two,
    its definition left where its header row now held findings (a table Excel « répare » by deleting
    it), the title's merge over a finding. The cells move down over the columns of every table and merged
    range they would cut, the table and the merge with them, as one insertion over those columns would."""


    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2, top = _wide_notes_below_controles(path)
    report, grown, ws = _annotated(path, out, r1, r2)
    assert ws.tables["T_Suivi"].ref == f"{ws.cell(top + grown, c2).coordinate}:{ws.cell(top + 1 + grown, c2 + 2).coordinate}"
    assert [[ws.cell(r, c2 + k).value for k in range(3)] for r in (top + grown, top + 1 + grown)] == \
        [["Sujet", "Avis", "Qui"], ["Action 2.1", "à revoir", "DGS"]]
    assert ws.cell(top - 1 + grown, c2).value == "Suivi"
    assert f"{ws.cell(top - 1 + grown, c2).coordinate}:{ws.cell(top - 1 + grown, c2 + 1).coordinate}" in \
        {str(m) for m in ws.merged_cells.ranges}
    assert [ws.cell(r1 + 1 + k, c1 + 1).value for k in range(len(report.findings))] == [f.code for f in report.findings]


def test_an_empty_merged_range_below_controles_moves_down_never_over_the_findings_in_the_annotated_copy(tmp_path):
    """Cells merged below T_Controles into a box for the comité's remarks, nothing typed yet: nothing
    there to move, the annotated copy wrote its findings under the merge — each finding's row shown as one
    merged cell, its code, sheet and cell hidden. The merge now goes down as the table grows, as a note
    does."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries


    path, out = tmp_path / "controles-cadre.xlsx", tmp_path / "annotee.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    c1, r1, c2, r2 = range_boundaries(ws.tables[layout.T_CONTROLES.name].ref)
    ws.merge_cells(start_row=r2 + 1, start_column=c1, end_row=r2 + 3, end_column=c2)
    wb.save(path)
    report, grown, ws = _annotated(path, out, r1, r2)
    assert {str(m) for m in ws.merged_cells.ranges} == \
        {f"{ws.cell(r2 + 1 + grown, c1).coordinate}:{ws.cell(r2 + 3 + grown, c2).coordinate}"}
    assert [ws.cell(r1 + 1 + k, c1 + 1).value for k in range(len(report.findings))] == [f.code for f in report.findings]


def test_the_button_inserts_over_the_columns_of_a_table_wider_than_controles_below_it(tmp_path):
    """The same table below T_Controles reaching past its last column: the button inserted cells over
    T_Controles' columns only, through the table — which Excel refuses (« cette opération tente de
    décaler des cellules d'un tableau »), the whole Valider stopped there. The insertion now spans the
    table's columns too, as the annotated copy moves them."""
    path = tmp_path / "controles-notes.xlsx"
    c1, r1, c2, r2, top = _wide_notes_below_controles(path)
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    i = _index(payload, layout.Sheet.CONTROLES)
    inserts = [(a["start_row"] + 1, a["start_column"] + 1, a["row_count"], a["column_count"])
               for a in actions if a["sheet_position"] == i and a["func"] == "rangeInsert"]
    assert inserts == [(r2 + 1, c1, r1 + len(report.findings) - r2, c2 + 2 - c1 + 1)]


def test_a_chart_below_controles_moves_down_with_the_notes_in_the_annotated_copy(tmp_path):
    """A chart the user put below T_Controles, among the notes: `--annoter` moved the notes down and left
    the chart where it was — over the findings written there, hiding them. It now goes down with the
    cells it is anchored on, as an inserted row moves it in Excel; one anchored beside the table's columns
    stays, and the drawing part is otherwise copied as it was."""
    import re
    import zipfile

    import openpyxl
    from openpyxl.chart import BarChart, Reference

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    for place in (ws.cell(r2 + 4, c1).coordinate, ws.cell(r2 + 2, c2 + 3).coordinate):
        chart = BarChart()
        chart.add_data(Reference(ws, min_col=c1, min_row=r1, max_row=r2))
        ws.add_chart(chart, place)
    wb.save(path)
    report = validate_file(path)
    annotate(path, out, report, today=TODAY)
    grown = r1 + len(report.findings) - r2
    assert grown > 0

    def anchors(book):
        with zipfile.ZipFile(book) as z:
            xml = b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/drawings/drawing"))
        return [[int(x) for x in re.findall(rb"<(?:xdr:)?row>(\d+)</", a)] + [int(re.search(rb"<(?:xdr:)?col>(\d+)</", a)[1])]
                for a in re.findall(rb"<(?:xdr:)?(?:one|two)CellAnchor.*?</(?:xdr:)?(?:one|two)CellAnchor>", xml, re.S)]

    before, after = anchors(path), anchors(out)
    assert sorted(before) != sorted(after) and len(after) == 2
    for (*rows, col), (*moved, same_col) in zip(before, after):
        assert col == same_col
        assert moved == ([r + grown for r in rows] if col == c1 - 1 else rows)


def _controles_at_the_grid_end(path, header_row: int):
    """A faulty workbook whose T_Controles was cut and pasted down to `header_row` (one line)."""
    import openpyxl

    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    from openpyxl.utils.cell import range_boundaries

    c1, r1, c2, _r2 = range_boundaries(t.ref)
    for c in range(c1, c2 + 1):
        ws.cell(header_row, c).value, ws.cell(r1, c).value = ws.cell(r1, c).value, None
    t.ref = t.autoFilter.ref = f"{ws.cell(header_row, c1).coordinate}:{ws.cell(header_row + 1, c2).coordinate}"
    wb.save(path)


def test_controles_too_near_the_grids_end_for_its_findings_is_said_never_written_past_it(tmp_path):
    """T_Controles pasted near the last row of the sheet (header on row 1 048 574): the annotated copy
    listed its findings down to row 1 048 577 — a table past Excel's grid, a copy Excel « répare »; the
    button resized the table there, which Excel refuses (Validation stopped with an English error). Both
    now say why, and where to move it; no copy is written, nothing written into the workbook."""
    from acv_xl.contract.values import EXCEL_ROWS
    from acv_xl.outputs.annotate import AnnotationError, annotate

    path, out = tmp_path / "controles-en-bas.xlsx", tmp_path / "annotee.xlsx"
    _controles_at_the_grid_end(path, EXCEL_ROWS - 2)
    report = validate_file(path)
    assert len(report.findings) > 2
    with pytest.raises(AnnotationError, match=r"trop près de la dernière ligne de la feuille « Contrôles » "
                                              r"\(ligne 1 048 576\) pour y lister \d+ constats : déplacez-le plus haut"):
        annotate(path, out, report, today=TODAY)
    assert not out.exists()

    # the button, on the same table (the add-in's payload of a sheet used down to its last row is too
    # large to build here): refused before anything is written, said in a message box
    from types import SimpleNamespace

    from acv_xl.reading.source import TableBlock

    block = TableBlock(layout.T_CONTROLES.name, layout.Sheet.CONTROLES, EXCEL_ROWS - 2, 1,
                       list(layout.T_CONTROLES.headers), [[None] * len(layout.T_CONTROLES.headers)])
    src = SimpleNamespace(table=lambda _name: block, xw_table=lambda _name: None,
                          last_used_row=lambda _s, after, _c1, _c2: after)
    said: list[str] = []
    book = SimpleNamespace(sheets=[], app=SimpleNamespace(alert=lambda message, title: said.append(message)))
    scripts._guarded(book, lambda b: scripts.write_controles(b, src, report.findings), "Validation")
    assert said and said[0].startswith("Validation impossible : le tableau « T_Controles » est trop près de la "
                                       "dernière ligne de la feuille « Contrôles »")

    _controles_at_the_grid_end(path, EXCEL_ROWS - len(report.findings))  # room for them all: written
    annotate(path, out, validate_file(path), today=TODAY)
    assert out.exists()


def test_controles_too_near_the_grids_end_counts_apart_the_rows_typed_in_it(tmp_path):
    """T_Controles near the last row of the sheet, a note typed on its one line (kept under the findings): the
    message counted that line among the findings, « pour y lister 4 constats » for 3, on the button and in
    `--annoter`. It now says the findings and the line kept apart."""
    import openpyxl
    from types import SimpleNamespace

    from acv_xl.contract.values import EXCEL_ROWS
    from acv_xl.outputs.annotate import AnnotationError, annotate
    from acv_xl.reading.source import TableBlock

    path, out = tmp_path / "controles-en-bas-note.xlsx", tmp_path / "annotee.xlsx"
    _controles_at_the_grid_end(path, EXCEL_ROWS - 3)
    wb = openpyxl.load_workbook(path)
    message = 1 + [c.header for c in layout.T_CONTROLES.columns].index("Message")
    wb[layout.Sheet.CONTROLES].cell(EXCEL_ROWS - 2, message).value = "Note du comité : revoir l'action 2.1"
    wb.save(path)
    report = validate_file(path)
    n = len(report.findings)
    assert n == 3  # room for two rows only
    said = (r"trop près de la dernière ligne de la feuille « Contrôles » \(ligne 1 048 576\) pour y lister 3 constats "
            r"et garder la ligne que vous y avez saisie : déplacez-le plus haut")
    with pytest.raises(AnnotationError, match=said):
        annotate(path, out, report, today=TODAY)
    assert not out.exists()

    typed = [None] * len(layout.T_CONTROLES.headers)
    typed[message - 1] = "Note du comité : revoir l'action 2.1"
    block = TableBlock(layout.T_CONTROLES.name, layout.Sheet.CONTROLES, EXCEL_ROWS - 3, 1,
                       list(layout.T_CONTROLES.headers), [typed])
    src = SimpleNamespace(table=lambda _name: block, xw_table=lambda _name: None,
                          last_used_row=lambda _s, after, _c1, _c2: after)
    with pytest.raises(scripts.ValidationImpossible, match=said):
        scripts.write_controles(SimpleNamespace(sheets=[]), src, report.findings)
    # with what is typed under the table too, the three said in one sentence
    below = SimpleNamespace(table=lambda _name: block, xw_table=lambda _name: None,
                            last_used_row=lambda _s, after, _c1, _c2: after + 1)
    with pytest.raises(scripts.ValidationImpossible, match="pour y lister 3 constats, garder la ligne que vous y avez "
                                                           "saisie et décaler ce qui est saisi dessous : déplacez-le"):
        scripts.write_controles(SimpleNamespace(sheets=[]), below, report.findings)


def test_controles_stretched_down_to_the_grids_end_still_lists_its_findings():
    """T_Controles stretched down to row 1 048 576 (its columns selected whole, « Redimensionner le tableau »):
    read up to its values, the rows under them were counted as its totals row, and every validation that
    added a finding was refused as « trop près de la dernière ligne de la feuille » — the table starting
    on row 3. The findings are listed and the table resized to them, as before that check."""
    path = _faulty()[0]
    payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
    _i, ref = _table(payload, layout.T_CONTROLES.name)
    _stretch(payload, layout.T_CONTROLES.name, "G1048576")
    payload, report, actions = _run(path, payload)
    r1, n = parse_range(ref)[0], len(report.findings)
    assert n > 2
    assert not [a for a in actions if a["func"] == "alert"]
    assert [a["args"] for a in actions if a["func"] == "resizeTable"] == [[0, f"$A${r1}:$G${r1 + n}"]]


def test_controles_stretched_down_to_the_grids_end_is_read_by_its_rows_held_in_the_annotated_copy(tmp_path, monkeypatch):
    """T_Controles stretched down to row 1 048 576: `--annoter` read every one of its rows, a million empty ones,
    to pair the notes and find the rows typed in it — 500 MB and ten times the time of the whole copy. Only the
    rows the sheet holds are read (a count of cells read, not a time: the same on any machine)."""
    import openpyxl

    from acv_xl.outputs.annotate import annotate
    from acv_xl.reading.ooxml import Worksheet

    path, out = tmp_path / "controles-etire.xlsx", tmp_path / "annotee.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    t = wb[layout.Sheet.CONTROLES].tables[layout.T_CONTROLES.name]
    t.ref = t.autoFilter.ref = f"{t.ref.split(':')[0]}:G1048576"
    wb.save(path)
    report = validate_file(path)
    read = [0]
    text_of = Worksheet.text_of

    def counted(self, row, col, shared):
        read[0] += 1
        return text_of(self, row, col, shared)

    monkeypatch.setattr(Worksheet, "text_of", counted)
    annotate(path, out, report, today=TODAY)
    assert read[0] < 10_000
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    r1 = int(t.ref.split(":")[0][1:])
    assert ws.tables[layout.T_CONTROLES.name].ref == f"A{r1}:G{r1 + len(report.findings)}"


def test_controles_stretched_down_to_the_grids_end_costs_the_annotated_copy_no_more_than_its_rows_held(tmp_path):
    """T_Controles stretched down to row 1 048 576, a filter on it: `--annoter` read only the rows the sheet holds,
    but then went down every row of the table's old range to clear its cells, to unshare their formulas, to reset
    the heights a previous run set and to show the rows the filter hid — four loops of a million rows. The work is
    counted (lines run in the writer and in the OOXML layer, not a time: the same on any machine), against the same
    table stretched only a little: a few lines more, not millions."""
    import sys

    import openpyxl

    from acv_xl.outputs import annotate as writer
    from acv_xl.reading import ooxml

    counted = {writer.__file__, ooxml.__file__}

    def lines_run(end: int) -> int:
        path, out = tmp_path / f"controles-{end}.xlsx", tmp_path / f"annotee-{end}.xlsx"
        wb = openpyxl.load_workbook(_faulty()[0])
        t = wb[layout.Sheet.CONTROLES].tables[layout.T_CONTROLES.name]
        t.ref = t.autoFilter.ref = f"{t.ref.split(':')[0]}:G{end}"
        t.autoFilter.add_filter_column(0, ["Erreur"])
        wb.save(path)
        report = validate_file(path)
        n = [0]

        def trace(frame, event, _arg):
            if frame.f_code.co_filename not in counted:
                return None
            n[0] += event == "line"
            return trace

        before = sys.gettrace()
        sys.settrace(trace)
        try:
            writer.annotate(path, out, report, today=TODAY)
        finally:
            sys.settrace(before)
        return n[0]

    assert lines_run(1_048_576) < lines_run(60) + 1_000


def _drawn_as_excel_draws(path: Path, anchor) -> None:
    """The drawing of the notes of `path` as Excel writes it: openpyxl's prefixes (ns0…) made Excel's (o, v, x),
    and an anchor to each note, `anchor(row, column)` (0-based, as the drawing counts)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    for n in [n for n in parts if n.endswith(".vml")]:
        text = parts[n].decode()
        for ns, prefix in (("ns0", "o"), ("ns1", "v"), ("ns2", "x")):
            text = text.replace(f"xmlns:{ns}=", f"xmlns:{prefix}=").replace(f"{ns}:", f"{prefix}:")
        parts[n] = re.sub(r"<x:SizeWithCells />(.*?<x:Row>(\d+)</x:Row><x:Column>(\d+)</x:Column>)",
                          lambda m: f"<x:SizeWithCells /><x:Anchor>\n {anchor(int(m[2]), int(m[3]))}</x:Anchor>{m[1]}",
                          text, flags=re.S).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)


def test_a_users_note_on_a_line_below_controles_moves_with_it_in_the_annotated_copy(tmp_path):
    """An Excel note (« à voir avec le maire ») on a line typed below T_Controles: the button's insertion
    moves it with its cell; `acv-xl valider --annoter` moved the line but left the note on its old cell —
    a finding's now, the note shown over it. The note and its drawing's anchor now go with the line."""
    import re
    import zipfile

    import openpyxl
    from openpyxl.comments import Comment


    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    r = r2 + 2
    assert ws.cell(r, c1).value == "Note du comité : revoir l'action 2.1"
    ws.cell(r, c1).comment = Comment("à voir avec le maire", "Moi")
    wb.save(path)
    _drawn_as_excel_draws(path, lambda _row, _col: f"{c1}, 15, {r - 2}, 10, {c1 + 2}, 15, {r + 3}, 4")
    report, grown, ws = _annotated(path, out, r1, r2)
    noted = [(x.row, x.column, x.value) for row in ws.iter_rows() for x in row
             if x.comment is not None and x.comment.text == "à voir avec le maire"]
    assert noted == [(r + grown, c1, "Note du comité : revoir l'action 2.1")]
    with zipfile.ZipFile(out) as z:  # the drawing Excel shows the note with: on the moved cell too
        vml = [z.read(n).decode() for n in z.namelist() if n.endswith(".vml")]
    ours = [v for v in vml if "<x:Column>" + str(c1 - 1) + "<" in v and f"{c1 + 2}, 15, " in v]
    assert len(ours) == 1
    assert re.findall(r"<x:Row>(\d+)</x:Row>", ours[0]) == [str(r - 1 + grown)]
    assert re.findall(r"<x:Anchor>([^<]*)</x:Anchor>", ours[0]) == \
        [f"{c1}, 15, {r - 2 + grown}, 10, {c1 + 2}, 15, {r + 3 + grown}, 4"]


def test_a_threaded_comment_on_a_line_below_controles_moves_with_it_in_the_annotated_copy(tmp_path):
    """A comment of Excel 365 (« Nouveau commentaire »: a threaded comment, with its legacy note for older
    versions) on a line typed below T_Controles moves with the line, both parts of it: one moved without
    the other named two cells, for one comment."""
    import zipfile

    import openpyxl
    from openpyxl.comments import Comment

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-notes.xlsx", tmp_path / "annotee.xlsx"
    c1, r1, c2, r2 = _notes_below_controles(path, totals=False)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    r = r2 + 2
    cell = ws.cell(r, c1).coordinate
    ws[cell].comment = Comment("[Threaded comment] à voir avec le maire", "tc={1}")
    wb.save(path)
    threaded = "xl/threadedComments/threadedComment1.xml"
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    rels = next(n for n, data in parts.items() if n.endswith(".rels") and b"comment1.xml" in data)
    parts[rels] = parts[rels].replace(b"</Relationships>", b'<Relationship Id="rIdTC1" Type="http://schemas.microsoft'
                                      b'.com/office/2017/10/relationships/threadedComment" Target="/' + threaded.encode()
                                      + b'"/></Relationships>')
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/' + threaded.encode() + b'" ContentType="application/vnd.ms-excel.'
        b'threadedcomments+xml"/></Types>')
    parts[threaded] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<ThreadedComments xmlns="http://schemas.microsoft.com/'
        'office/spreadsheetml/2018/threadedcomments" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<threadedComment ref="{cell}" dT="2026-11-20T10:00:00.00" personId="{{1}}" id="{{2}}">'
        "<text>à voir avec le maire</text></threadedComment></ThreadedComments>").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)
    report = validate_file(path)
    annotate(path, out, report, today=TODAY)
    grown = r1 + len(report.findings) - r2
    assert grown > 0
    moved = ws.cell(r + grown, c1).coordinate
    with zipfile.ZipFile(out) as z:
        assert f'ref="{moved}"'.encode() in z.read(threaded) and f'ref="{cell}"'.encode() not in z.read(threaded)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [x.coordinate for row in ws.iter_rows() for x in row
            if x.comment is not None and "à voir avec le maire" in x.comment.text] == [moved]


def test_a_helper_column_beside_controles_is_not_pushed_under_by_the_button(tmp_path):
    """A column beside T_Controles that counts its findings (`=SI(A4="Erreur";1;0)` filled down, 0 or
    1 shown down to row 33): the sheet's used range ends on what it shows, not on something invisible
    in the table's columns. The button pushed the table's columns down under it at each growth, its
    formulas then pointing below the findings; what `--annoter` never did."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    path = tmp_path / "controles-aide.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    c1, r1, c2, r2 = range_boundaries(ws.tables[layout.T_CONTROLES.name].ref)
    for r in range(r1 + 1, 34):
        ws.cell(r, c2 + 2).value = 0  # what the helper shows
    wb.save(path)
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    assert r1 + len(report.findings) > r2  # the table grows
    i = _index(payload, layout.Sheet.CONTROLES)
    assert not [a for a in actions if a["sheet_position"] == i and a["func"] == "rangeInsert"]


def _controles_headers(path, out, headers: dict[str, str]):
    """The faulty example saved at `out` with T_Controles' headers retyped (`headers`: old → new)."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    for c in range(c1, c2 + 1):
        if (new := headers.get(ws.cell(r1, c).value)) is not None:
            ws.cell(r1, c).value = t.tableColumns[c - c1].name = new
    wb.save(out)
    return c1, r1


def test_a_header_of_controles_retyped_or_renamed_is_found_or_said_by_the_button_and_the_command(tmp_path, capsys):
    """A header of T_Controles typed otherwise (« gravite ») is its column, as for the data tables; one
    renamed past recognition (« Message » → « Constat ») is said, the findings listed without it. Both
    columns were left empty in every finding without a word — every header renamed, empty rows only."""
    import openpyxl

    from acv_xl.cli import main

    path = tmp_path / "controles-entetes.xlsx"
    c1, r1 = _controles_headers(_faulty()[0], path, {"Gravité": "gravite", "Message": "Constat"})
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    i = _index(payload, layout.Sheet.CONTROLES)
    written = _written(actions, (i, r1, c1 - 1))
    first = report.findings[0]
    assert written[0][0] == first.gravite.libelle and written[0][5] == ""  # « Constat »: not ours, not written
    alerts = [a["args"][0] for a in actions if a["func"] == "alert"]
    assert alerts == ["Validation faite ; le tableau « T_Controles » de la feuille « Contrôles » n'a plus de colonne "
                      "« Message », dont l'en-tête a été renommé ou la colonne supprimée : les constats y sont listés "
                      "sans elle ; rétablissez-la, avec son en-tête exact, puis relancez."]

    out = tmp_path / "annotee.xlsx"
    main(["valider", str(path), "--annoter", str(out)])
    said = capsys.readouterr().out
    assert "n'a plus de colonne « Message », dont l'en-tête a été renommé" in said
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert ws.cell(r1 + 1, c1).value == first.gravite.libelle and ws.cell(r1 + 1, c1 + 5).value is None


def test_a_users_column_close_to_a_deleted_header_of_controles_is_never_written_over(tmp_path):
    """« N° action » deleted, the user's own column « Action » (their notes): the nearest-header match took
    it for « N° action », and the button and `--annoter` wrote action numbers over what the user typed.
    A header is now ours only when it has our header's letters (« n° ACTION »); « Action » stays theirs,
    its notes beside their findings, and « N° action » is said missing."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    from acv_xl.outputs.annotate import annotate

    path, before = tmp_path / "controles-action.xlsx", tmp_path / "controles-avant.xlsx"
    _controles_with_notes(_faulty()[0], before)  # a previous run's findings
    c1, r1 = _controles_headers(before, path, {"N° action": "Action"})
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    _, _, _, r2 = range_boundaries(ws.tables[layout.T_CONTROLES.name].ref)
    for r in range(r1 + 1, r2 + 1):
        ws.cell(r, c1 + 4).value = f"à voir {r}"
    wb.save(path)
    typed = {f"à voir {r}" for r in range(r1 + 1, r2 + 1)}
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
    assert written and all(row[4] in typed | {"", None} for row in written)
    assert any(row[4] in typed for row in written)
    assert any("n'a plus de colonne « N° action »" in a["args"][0] for a in actions if a["func"] == "alert")

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    kept = [ws.cell(r, c1 + 4).value for r in range(r1 + 1, r1 + len(report.findings) + 1)]
    assert all(v in typed | {None} for v in kept) and any(v in typed for v in kept)


def test_a_controles_with_none_of_its_headers_lists_nothing_and_says_why(tmp_path, capsys):
    """Every header of T_Controles renamed: the button wrote rows of empty cells, `--annoter` too, and
    neither said a word — the user saw an empty list beside « Erreurs à corriger »."""
    from acv_xl.cli import main

    path = tmp_path / "controles-sans-entetes.xlsx"
    _controles_headers(_faulty()[0], path, {c.header: f"Colonne {k}" for k, c in enumerate(layout.T_CONTROLES.columns)})
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    i = _index(payload, layout.Sheet.CONTROLES)
    assert not [a for a in actions
                if a["sheet_position"] == i and a["func"] in ("setValues", "resizeTable", "rangeInsert")]
    alerts = [a["args"][0] for a in actions if a["func"] == "alert"]
    assert len(alerts) == 1 and alerts[0].startswith(
        "Validation faite, sans la liste des constats : le tableau « T_Controles » de la feuille « Contrôles » n'a "
        "plus aucune de ses colonnes (« Gravité », « Code », ")
    assert "erreurs bloquent la validation" in alerts[0]

    out = tmp_path / "annotee.xlsx"
    main(["valider", str(path), "--annoter", str(out)])
    assert "(sans la liste des constats : le tableau « T_Controles » de la feuille « Contrôles » n'a plus aucune" \
        in capsys.readouterr().out


def _controles_with_notes(path, out):
    """The faulty example saved at `out` as after a previous run whose findings came in another order,
    one since fixed, and a column « Suite donnée » the user added to T_Controles with a note beside
    each: (the findings of `path`, the notes by finding, the table's first column and header row)."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries
    from openpyxl.worksheet.table import TableColumn

    findings = validate_file(path).findings
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    fixed = ["Erreur", "FIN-05", "Fiches-actions", "M99", "9.9", "Corrigé depuis.", ""]
    rows = [[f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion]
            for f in reversed(findings)] + [fixed]
    notes = {f.cellule: f"Vu avec le maire le {k + 1}/12 ({f.code})" for k, f in enumerate(findings)}
    for i, row in enumerate(rows, start=r1 + 1):
        for j, v in enumerate(row):
            ws.cell(i, c1 + j).value = v
        ws.cell(i, c2 + 1).value = notes.get(row[3], "Plus rien à faire")
    # a note may be a date or a time (« rappeler à 12:30 »), which Excel keeps as numbers
    ws.cell(r1 + 1, c2 + 1).value = notes[rows[0][3]] = datetime(2026, 3, 12)
    ws.cell(r1 + 2, c2 + 1).value = notes[rows[1][3]] = time(12, 30)
    ws.cell(r1 + 2, c2 + 1).number_format = "hh:mm"
    ws.cell(r1, c2 + 1).value = "Suite donnée"
    t.tableColumns.append(TableColumn(id=c2 - c1 + 2, name="Suite donnée"))
    t.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2 + 1)}{r1 + len(rows)}"
    t.autoFilter.ref = t.ref
    wb.save(out)
    return findings, notes, c1, r1, c2 + 1


def _notes_follow_their_findings(path: Path, out: Path, notes: dict, c1: int, r1: int, mine: int) -> None:
    """The button, then `--annoter` into `out`, write each note of the user's column `mine` beside its
    finding (`notes`: by the finding's cell), as xlwings sends a date and a time."""
    import openpyxl

    from acv_xl.outputs.annotate import annotate

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
    sent = {datetime(2026, 3, 12): "2026-03-12", time(12, 30): 0.5 + 0.5 / 24}  # as xlwings sends them
    assert [(row[3], row[mine - c1]) for row in written] \
        == [(f.cellule, sent.get(notes[f.cellule], notes[f.cellule])) for f in report.findings]
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [(ws.cell(r, c1 + 3).value, ws.cell(r, mine).value) for r in range(r1 + 1, r1 + len(report.findings) + 1)] \
        == [(f.cellule, notes[f.cellule]) for f in report.findings]


def test_a_users_own_column_of_controles_keeps_each_note_beside_its_finding(tmp_path):
    """A column the user added to T_Controles (« Suite donnée ») was emptied at each run, by the button and
    by `--annoter`: what they noted beside a finding now follows it to its new row; the note of a finding
    gone goes with it."""
    import openpyxl

    from acv_xl.outputs.annotate import annotate

    path = tmp_path / "controles-suite.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    assert len(findings) > 1  # their order changes
    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    i = _index(payload, layout.Sheet.CONTROLES)
    written = _written(actions, (i, r1, c1 - 1))
    json.dumps(actions)  # what the server answers the add-in (a `time` in it failed the whole response)
    sent = {datetime(2026, 3, 12): "2026-03-12", time(12, 30): 0.5 + 0.5 / 24}  # as xlwings sends them
    assert [(row[3], row[mine - c1]) for row in written] \
        == [(f.cellule, sent.get(notes[f.cellule], notes[f.cellule])) for f in report.findings]
    cleared = [a for a in actions if a["sheet_position"] == i and a["func"] == "rangeClearContents"]
    assert [(a["start_row"] + 1, a["column_count"]) for a in cleared] == [(r1 + len(findings) + 1, mine - c1 + 1)]

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [(ws.cell(r, c1 + 3).value, ws.cell(r, mine).value) for r in range(r1 + 1, r1 + len(findings) + 2)] \
        == [(f.cellule, notes[f.cellule]) for f in report.findings] + [(None, None)]


def test_a_note_typed_on_a_row_of_its_own_in_controles_is_kept_under_the_findings(tmp_path):
    """A note typed in the user's column just under the last finding (« Réunion du 12/12 : tout revu ») — Excel
    adds that row to T_Controles, its other cells empty: the button and `--annoter` rewrote the table's rows
    with the findings and cleared the rest, the note with them, without a word. A row of the table that
    was no finding's keeps what the user wrote there, under the findings, in the table."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter

    from acv_xl.outputs.annotate import annotate

    path = tmp_path / "controles-note-seule.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    alone = r1 + len(findings) + 2  # under the last row (a finding since fixed)
    ws.cell(alone, mine).value = "Réunion du 12/12 : tout revu"
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(mine)}{alone}"
    wb.save(path)

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    n = len(report.findings)
    written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
    sent = {datetime(2026, 3, 12): "2026-03-12", time(12, 30): 0.5 + 0.5 / 24}  # as xlwings sends them
    assert [(row[3], row[mine - c1]) for row in written] \
        == [(f.cellule, sent.get(notes[f.cellule], notes[f.cellule])) for f in report.findings] \
        + [("", "Réunion du 12/12 : tout revu")]
    resized = [a["args"] for a in actions if a["func"] == "resizeTable"]
    assert resized == [[0, f"$A${r1}:${get_column_letter(mine)}${r1 + n + 1}"]]

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [(ws.cell(r, c1 + 3).value, ws.cell(r, mine).value) for r in range(r1 + 1, r1 + n + 3)] \
        == [(f.cellule, notes[f.cellule]) for f in report.findings] + [(None, "Réunion du 12/12 : tout revu"),
                                                                       (None, None)]
    assert ws.tables[layout.T_CONTROLES.name].ref == f"{get_column_letter(c1)}{r1}:{get_column_letter(mine)}{r1 + n + 1}"


def test_a_row_typed_in_controles_keeps_its_height_under_the_findings_in_the_annotated_copy(tmp_path):
    """A note on three lines typed on a row of its own in T_Controles, its row made tall for it: `--annoter` moved
    the note under the findings and reset the heights of the rows under them, the note cut to its first line.
    Its height now goes with it; the row it left (a finding's now) gets the finding's height."""
    import openpyxl
    from openpyxl.styles import Alignment

    from acv_xl.outputs.annotate import annotate

    path = tmp_path / "controles-note-haute.xlsx"
    findings, _notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    # the note typed over the first row (the last finding's, listed again), three lines tall
    alone = r1 + 1
    for c in range(c1, mine + 1):
        ws.cell(alone, c).value = None
    ws.cell(alone, mine).value = "Comité du 12/12 :\nrevoir l'action 2.1\net la 3.1"
    ws.cell(alone, mine).alignment = Alignment(wrap_text=True)
    ws.row_dimensions[alone].height = 45
    wb.save(path)

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    n = len(findings)
    assert ws.cell(r1 + n + 1, mine).value.startswith("Comité du 12/12")
    assert ws.row_dimensions[r1 + n + 1].height == 45
    assert ws.row_dimensions[r1 + 1].height != 45  # the finding's, for its own message


def test_a_row_typed_under_a_finding_of_controles_stays_under_it(tmp_path):
    """« → relancé la Région le 3/12 » typed on a row inserted just under an error of T_Controles: the button and
    `--annoter` put every row typed under all the findings, that one far from its error once the findings came in
    another order. It now stays under its finding wherever it goes; one under a finding gone goes under them all."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries

    from acv_xl.outputs.annotate import annotate

    path = tmp_path / "controles-sous-un-constat.xlsx"
    findings = validate_file(_faulty()[0]).findings
    assert len(findings) > 2
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    listed = lambda f: [f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion]  # noqa: E731
    under, gone = "→ relancé la Région le 3/12", "→ classé sans suite"
    rows = [*map(listed, reversed(findings)), [under] + [None] * 6,  # under the first finding, listed last
            ["Erreur", "FIN-05", "Fiches-actions", "M99", "9.9", "Corrigé depuis.", ""], [gone] + [None] * 6]
    for i, row in enumerate(rows, start=r1 + 1):
        for j, v in enumerate(row):
            ws.cell(i, c1 + j).value = v
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1 + len(rows)}"
    wb.save(path)
    expected = [findings[0].code, under, *(f.code for f in findings[1:]), gone]  # the first listed first now

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
    assert [row[1] or row[0] for row in written] == expected

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [ws.cell(r, c1 + 1).value or ws.cell(r, c1).value for r in range(r1 + 1, r1 + len(expected) + 1)] \
        == expected

    # a row typed under the last finding is the whole table's note (« Note du comité : tout revu »): under them all,
    # even when that finding is now listed first
    from acv_xl.outputs.annotate import listing_order, paired_rows

    ours = lambda f: dict(zip(("gravite", "code", "feuille", "cellule", "action", "message", "suggestion"),  # noqa: E731
                              listed(f)))
    previous = [(ours(findings[1]), None), (ours(findings[0]), None), ({"gravite": "Note du comité : tout revu"}, None)]
    paired = paired_rows(previous, findings[:2])
    assert paired == [1, 0] and listing_order(previous, paired, [2]) == [0, 1, 2]


def test_a_note_typed_in_the_columns_of_controles_under_the_findings_is_kept_there(tmp_path):
    """No column of their own: the user typed « Note du comité : revoir l'action 2.1 » in the first column just
    under the last finding, Excel adding the row to T_Controles. The button and `--annoter` wrote the findings
    over it or cleared it. A row with no gravité nor code of ours was no finding's: it is kept whole under the
    findings; the findings' rows and the template's empty row are not."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries

    from acv_xl.outputs.annotate import annotate
    from acv_xl.outputs.formats import FMT_DATE

    path = tmp_path / "controles-note-du-comite.xlsx"
    findings = validate_file(_faulty()[0]).findings
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    rows = [[f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion] for f in findings[1:]]
    typed = ["Note du comité : revoir l'action 2.1", None, None, None, datetime(2026, 12, 12), "Le 12/12", None]
    for i, row in enumerate([*rows, typed], start=r1 + 1):
        for j, v in enumerate(row):
            ws.cell(i, c1 + j).value = v
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1 + len(rows) + 1}"
    ws.cell(r1 + len(rows) + 1, c1).hyperlink = "https://example.org/comite-12-12"  # the minutes, in the copy
    wb.save(path)

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    n = len(report.findings)
    written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
    assert [row[:2] for row in written] == [[f.gravite.libelle, f.code] for f in report.findings] + [[typed[0], ""]]
    assert written[-1][5] == typed[5]
    formats = {(a["start_row"] + 1, a["start_column"] + 1): a["args"][0] for a in actions
               if a["sheet_position"] == _index(payload, layout.Sheet.CONTROLES) and a["func"] == "setNumberFormat"}
    assert formats == {(r1 + n + 1, c1 + 4): FMT_DATE}  # the date typed in « N° action », shown as one
    assert [a["args"] for a in actions if a["func"] == "resizeTable"] \
        == [[0, f"$A${r1}:${get_column_letter(c2)}${r1 + n + 1}"]]

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [(ws.cell(r, c1).value, ws.cell(r, c1 + 1).value, ws.cell(r, c1 + 5).value)
            for r in range(r1 + 1, r1 + n + 3)] \
        == [(f.gravite.libelle, f.code, f.message) for f in report.findings] + [(typed[0], None, typed[5]),
                                                                               (None, None, None)]
    assert [(c.row, c.hyperlink.target) for row in ws.iter_rows(min_col=c1, max_col=c1) for c in row if c.hyperlink] \
        == [(r1 + n + 1, "https://example.org/comite-12-12")]


def test_the_note_of_a_finding_whose_row_moved_follows_it(tmp_path):
    """A row inserted in the plan above two faulty lines: their findings are the same, on B20 and F24 where the
    previous run listed them on B19 and F23 (« ligne 19 » now « ligne 20 »), and the notes beside them were
    dropped by the button and by `--annoter`. They now follow them; one of another column stays behind."""
    import re

    import openpyxl

    source = next(p for p in _faulty() if {"B19", "F23"} <= {f.cellule for f in validate_file(p).findings})
    path = tmp_path / "controles-ligne-inseree.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(source, path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    for r in range(r1 + 1, r1 + len(findings) + 1):  # as listed before the row was inserted: a row higher
        cell, message = ws.cell(r, c1 + 3), ws.cell(r, c1 + 5)
        if m := re.fullmatch(r"([A-Z]+)(\d+)", cell.value or ""):
            if cell.value in ("B19", "F23"):
                before = int(m[2]) - 1
                cell.value, message.value = f"{m[1]}{before}", message.value.replace(f"ligne {m[2]}", f"ligne {before}")
                assert str(before + 1) not in message.value
    wb.save(path)
    _notes_follow_their_findings(path, tmp_path / "annotee.xlsx", notes, c1, r1, mine)

    # the same finding on a cell of another column, or whose message changed elsewhere too: not taken for it
    from acv_xl.outputs.annotate import kept_beside

    f = next(f for f in findings if f.cellule == "B19")
    old = {"code": f.code, "feuille": f.feuille, "action": f.action}
    assert kept_beside([({**old, "cellule": "C18", "message": f.message.replace("19", "18")}, "note")], [f]) == [None]
    assert kept_beside([({**old, "cellule": "B18", "message": f.message.replace("19", "18") + "!"}, "note")], [f]) \
        == [None]
    assert kept_beside([({**old, "cellule": "B18", "message": f.message.replace("19", "18")}, "note")], [f]) == ["note"]
    # lines faulty alike, all a row lower: told apart by their cells alone, the note of one goes to no other
    alike = [f.model_copy(update={"cellule": f"B{r}", "message": f"Ligne {r} : montant vide."}) for r in range(5, 9)]
    previous = [({**old, "cellule": g.cellule, "message": g.message}, g.cellule) for g in alike[:3]]
    assert kept_beside(previous, alike[1:]) == ["B6", "B7", None]


def test_the_note_of_a_finding_whose_row_moved_follows_it_when_an_amount_in_it_starts_with_that_row():
    """« Montant (€) » of line 19 holding the text « 19 000 € »: its finding (« ligne 19 : … (« 19 000 € ») »), moved
    with its row to line 20 by a row inserted above, lost its note (on the button and in `--annoter`, which share
    this pairing): the « 19 » of the amount was taken for the row number and blanked in the old message only. Only
    the row number is blanked; the « 19 » of an amount, or of a decimal (« 19,5 »), is not."""
    from acv_xl.outputs.annotate import kept_beside

    source = next(p for p in _faulty() if "F23" in {f.cellule for f in validate_file(p).findings})
    g = next(x for x in validate_file(source).findings if x.cellule == "F23")
    assert "ligne 23 :" in g.message and "« 318 000 € »" in g.message

    def at(row: int, amount: str):
        return g.model_copy(update={"cellule": f"F{row}", "message": g.message.replace("ligne 23", f"ligne {row}")
                                    .replace("318 000 €", amount)})

    def listed(x) -> dict:
        return {a: getattr(x, a) for a in ("code", "feuille", "action", "cellule", "message")}

    for amount in ("19 000 €", "19\u202f000 €", "19,5 €"):
        assert kept_beside([(listed(at(19, amount)), "Relancé le 3/12")], [at(20, amount)]) == ["Relancé le 3/12"]
    # the amount itself changed meanwhile: another finding, its note not taken
    assert kept_beside([(listed(at(19, "19 000 €")), "Relancé le 3/12")], [at(20, "20 000 €")]) == [None]


def test_the_note_of_a_finding_moved_with_its_row_follows_it_when_a_date_or_a_text_in_it_reads_as_that_row(tmp_path):
    """FIN-14 of line 27, « sollicitée le 27/11/2024 », moved to line 28 by a row inserted above: the « 27 » of its
    date was taken for the row number and blanked in the old message only, and its note was dropped (the button and
    `--annoter` share this pairing); so was that of « Montant (€) » holding the text « 23 » on line 23. Only the
    number the message names as its row (« ligne 27 ») is blanked."""
    import openpyxl

    from acv_xl.outputs.annotate import kept_beside

    path = tmp_path / "fin14.xlsx"
    wb = openpyxl.load_workbook(next(p for p in _faulty() if "F23" in {f.cellule for f in validate_file(p).findings}))
    wb[layout.Sheet.ACTIONS]["J9"] = datetime(2024, 1, 8)  # action 5.1 begun before its requests
    wb[layout.Sheet.FINANCEMENT]["H27"] = datetime(2024, 11, 27)
    wb[layout.Sheet.FINANCEMENT]["F23"] = "23"
    wb.save(path)
    found = {f.cellule: f for f in validate_file(path).findings}
    assert "ligne 27 :" in found["H27"].message and "le 27/11/2024" in found["H27"].message
    assert "ligne 23 :" in found["F23"].message and "« 23 »" in found["F23"].message

    def listed(x) -> dict:
        return {a: getattr(x, a) for a in ("code", "feuille", "action", "cellule", "message")}

    for g in (found["H27"], found["F23"]):
        row = int(g.cellule[1:])
        below = g.model_copy(update={"cellule": f"{g.cellule[0]}{row + 1}",
                                     "message": g.message.replace(f"ligne {row} :", f"ligne {row + 1} :")})
        assert kept_beside([(listed(g), "Relancé le 3/12")], [below]) == ["Relancé le 3/12"]


def test_the_note_of_a_finding_fixed_goes_to_no_new_one_of_its_kind_on_another_line():
    """« FEDER » corrected on line 18 of the plan and typed again on a new line 19 of the same action: the previous
    run listed its finding on B18, this one on B19, the same message but for the row, and F23, below them, stayed
    on F23 — no row was inserted. The note of the line fixed (« Vu, accepté ») went beside the new line's error,
    taken for the same finding moved a row lower (on the button and in `--annoter`, which share this pairing).
    It now goes with the finding gone; when F23 moved too (F22 before), the row did move, and both notes follow."""
    from acv_xl.outputs.annotate import kept_beside

    source = next(p for p in _faulty() if {"B19", "F23"} <= {f.cellule for f in validate_file(p).findings})
    findings = validate_file(source).findings
    f, g = (next(x for x in findings if x.cellule == c) for c in ("B19", "F23"))
    assert "ligne 19" in f.message and "ligne 23" in g.message

    def listed(x, row: int) -> dict:
        column, was = x.cellule.rstrip("0123456789"), x.cellule[len(x.cellule.rstrip("0123456789")):]
        return {"code": x.code, "feuille": x.feuille, "action": x.action, "cellule": f"{column}{row}",
                "message": x.message.replace(f"ligne {was}", f"ligne {row}")}

    others = [(({"code": x.code, "feuille": x.feuille, "action": x.action, "cellule": x.cellule, "message": x.message}),
               x.cellule) for x in findings if x not in (f, g)]
    fixed = [(listed(f, 18), "Vu, accepté"), (listed(g, 23), "Relancé le 3/12"), *others]
    assert kept_beside(fixed, [f, g]) == [None, "Relancé le 3/12"]
    moved = [(listed(f, 18), "Vu, accepté"), (listed(g, 22), "Relancé le 3/12"), *others]
    assert kept_beside(moved, [f, g]) == ["Vu, accepté", "Relancé le 3/12"]
    # a finding that stayed above it, or lines faulty alike that stayed below (told apart by their cells alone,
    # they say nothing of a row moved), keep the note from following no more than before
    above = [(listed(f, 18), "Vu, accepté"), (listed(g, 16), "Relancé le 3/12")]
    assert kept_beside(above, [f, g.model_copy(update=listed(g, 16))]) == ["Vu, accepté", "Relancé le 3/12"]
    alike = [g.model_copy(update=listed(g, r)) for r in (30, 31)]
    assert kept_beside([(listed(f, 18), "Vu, accepté"), *((listed(a, a_row), a_row) for a, a_row in
                                                          zip(alike, (30, 31)))], [f, *alike]) \
        == ["Vu, accepté", 30, 31]


def test_a_line_of_another_value_inserted_above_takes_not_the_note_of_the_finding_it_moved_down():
    """A line of action 3.1 with another code outside the list (« FSE ») inserted in the plan above B19 (« FEDER »):
    its finding is on B19, same code and action, and took the note of B19's previous finding (« Vu avec le
    porteur ») as the same finding whose message changed, though that one, moved with its row, is now on B20
    (on the button and in `--annoter`, which share this pairing). The note now follows « FEDER » to B20; when
    F23, below, stayed on F23 (no row inserted: the code on B19 corrected into another, still outside the list,
    and « FEDER » typed again on a new line), it stays on B19."""
    from acv_xl.outputs.annotate import kept_beside

    source = next(p for p in _faulty() if {"B19", "F23"} <= {f.cellule for f in validate_file(p).findings})
    findings = validate_file(source).findings
    f, g = (next(x for x in findings if x.cellule == c) for c in ("B19", "F23"))
    assert "« FEDER »" in f.message and f.code == "FIN-02"

    def at(x, row: int, **update):
        column, was = x.cellule.rstrip("0123456789"), x.cellule[len(x.cellule.rstrip("0123456789")):]
        return x.model_copy(update={"cellule": f"{column}{row}",
                                    "message": x.message.replace(f"ligne {was}", f"ligne {row}"), **update})

    def listed(x) -> dict:
        return {a: getattr(x, a) for a in ("code", "feuille", "action", "cellule", "message")}

    fse = f.model_copy(update={"message": f.message.replace("FEDER", "FSE")})
    previous = [(listed(f), "Vu avec le porteur"), (listed(at(g, 22)), "Relancé le 3/12")]
    assert kept_beside(previous, [fse, at(f, 20), g]) == [None, "Vu avec le porteur", "Relancé le 3/12"]
    assert kept_beside(previous[:1], [fse, at(f, 20)]) == [None, "Vu avec le porteur"]  # nothing else on the sheet
    previous[1] = (listed(g), "Relancé le 3/12")
    assert kept_beside(previous, [fse, at(f, 20), g]) == ["Vu avec le porteur", None, "Relancé le 3/12"]


def _reversed_findings_and_one_gone():
    """The faulty example's T_Controles listing its findings in reverse order, then one finding since fixed
    (« FIN-05 » on M99): (findings, workbook, Contrôles, first column, header row, rows written)."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    findings = validate_file(_faulty()[0]).findings
    assert len(findings) > 2
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    c1, r1, _c2, _ = range_boundaries(ws.tables[layout.T_CONTROLES.name].ref)
    rows = [[f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion]
            for f in reversed(findings)] + [["Erreur", "FIN-05", "Fiches-actions", "M99", "9.9", "Corrigé depuis.", ""]]
    for i, row in enumerate(rows, start=r1 + 1):
        for j, v in enumerate(row):
            ws.cell(i, c1 + j).value = v
    ws.tables[layout.T_CONTROLES.name].ref = ws.tables[layout.T_CONTROLES.name].autoFilter.ref \
        = f"{ws.cell(r1, c1).coordinate}:{ws.cell(r1 + len(rows), c1 + 6).coordinate}"
    return findings, wb, ws, c1, r1, rows


def test_a_comment_on_a_finding_of_controles_follows_it_in_the_annotated_copy(tmp_path):
    """An Excel comment the user put on a finding's own cells of T_Controles (its message: « à voir avec la DDT »),
    with no column of their own: `--annoter` rewrote the rows in their new order and left the comment on its old
    row, shown beside another finding; that of a finding gone stayed too. The comment now goes with its finding,
    the drawing Excel shows with it; the other goes with the finding gone."""
    import re
    import zipfile

    import openpyxl
    from openpyxl.comments import Comment

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-commentaires.xlsx", tmp_path / "annotee.xlsx"
    findings, wb, ws, c1, r1, rows = _reversed_findings_and_one_gone()
    message = c1 + 5
    ws.cell(r1 + len(findings), message).comment = Comment("À voir avec la DDT", "Agent")  # findings[0]'s
    ws.cell(r1 + len(rows), c1 + 1).comment = Comment("Classé", "Agent")  # the finding gone
    wb.save(path)
    box = lambda row, col: f"{col + 1}, 15, {row - 1}, 10, {col + 3}, 15, {row + 4}, 4"  # noqa: E731
    _drawn_as_excel_draws(path, box)

    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    commented = [(r, c, ws.cell(r, c).comment.text) for r in range(r1 + 1, r1 + len(rows) + 1)
                 for c in range(c1, c1 + 7) if ws.cell(r, c).comment]
    assert ws.cell(r1 + 1, c1 + 3).value == findings[0].cellule
    assert commented == [(r1 + 1, message, "À voir avec la DDT")]
    with zipfile.ZipFile(out) as z:  # the note Excel shows (its drawing) is on the new row too
        vml = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".vml"))
    shown = re.findall(r"<x:Anchor>([^<]*)</x:Anchor>.*?<x:Row>(\d+)</x:Row>\s*<x:Column>(\d+)</x:Column>", vml, re.S)
    drawn = {box(r - 1, c - 1): (r, c) for r in range(r1 + 1, r1 + len(rows) + 1) for c in range(c1, c1 + 7)}
    assert [(drawn[a.strip()], (int(r) + 1, int(c) + 1)) for a, r, c in shown if a.strip() in drawn] \
        == [((r1 + 1, message), (r1 + 1, message))]


def test_the_link_and_the_comment_on_a_note_follow_it_in_the_annotated_copy(tmp_path):
    """A note of the user's column of T_Controles with a hyperlink (to the file of the case) and an Excel comment
    on it: `--annoter` moved the note to its finding's new row, deleted the link and left the comment on the old
    row, shown beside another finding. Both now go with the note; those of a note whose finding is gone go too."""
    import re
    import zipfile

    import openpyxl
    from openpyxl.comments import Comment

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-liens.xlsx", tmp_path / "annotee.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    last, gone = ws.cell(r1 + len(findings), mine), ws.cell(r1 + len(findings) + 1, mine)  # the first finding's note
    assert (ws.cell(last.row, c1 + 3).value, gone.value) == (findings[0].cellule, "Plus rien à faire")
    last.hyperlink, last.comment = "https://example.org/dossier-1", Comment("Pièce demandée au porteur", "Agent")
    gone.hyperlink, gone.comment = "https://example.org/dossier-2", Comment("Classé", "Agent")
    wb.save(path)
    box = lambda row, col: f"{col + 1}, 15, {row - 1}, 10, {col + 3}, 15, {row + 4}, 4"  # noqa: E731
    _drawn_as_excel_draws(path, box)

    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    rows = range(r1 + 1, r1 + len(findings) + 2)
    assert [(ws.cell(r, c1 + 3).value, ws.cell(r, mine).hyperlink and ws.cell(r, mine).hyperlink.target,
             ws.cell(r, mine).comment and ws.cell(r, mine).comment.text) for r in rows] \
        == [(findings[0].cellule, "https://example.org/dossier-1", "Pièce demandée au porteur")] \
        + [(f.cellule, None, None) for f in findings[1:]] + [(None, None, None)]
    with zipfile.ZipFile(out) as z:  # the note Excel shows (its drawing) is on the new row too (other sheets' aside)
        vml = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".vml"))
    shown = re.findall(r"<x:Anchor>([^<]*)</x:Anchor>.*?<x:Row>(\d+)</x:Row>\s*<x:Column>(\d+)</x:Column>", vml, re.S)
    assert [(a.strip(), int(r) + 1) for a, r, c in shown if int(c) + 1 == mine] == [(box(r1, mine - 1), r1 + 1)]


def test_a_link_on_a_finding_of_controles_follows_it_in_the_annotated_copy(tmp_path):
    """A hyperlink the user put on a finding's own cells of T_Controles (its message, to the file of the case), with
    no column of their own: `--annoter` deleted it, though a comment there follows its finding. It now goes with
    its finding to its new row; that of a finding gone goes with it; « Cellule » keeps the link to the cell."""
    import openpyxl

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-lien-message.xlsx", tmp_path / "annotee.xlsx"
    findings, wb, ws, c1, r1, rows = _reversed_findings_and_one_gone()
    message = c1 + 5
    ws.cell(r1 + len(findings), message).hyperlink = "https://example.org/dossier-1"  # findings[0]'s
    ws.cell(r1 + len(rows), message).hyperlink = "https://example.org/dossier-2"  # the finding gone's
    wb.save(path)

    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [(ws.cell(r, c1 + 3).value, ws.cell(r, message).hyperlink and ws.cell(r, message).hyperlink.target)
            for r in range(r1 + 1, r1 + len(rows) + 1)] \
        == [(findings[0].cellule, "https://example.org/dossier-1")] + [(f.cellule, None) for f in findings[1:]] \
        + [(None, None)]
    assert all(ws.cell(r, c1 + 3).hyperlink.location.endswith(f"!{f.cellule}")
               for r, f in enumerate(findings, start=r1 + 1))


def test_a_comment_on_an_empty_row_of_controles_is_kept_under_the_findings_in_the_annotated_copy(tmp_path):
    """A finding's row of T_Controles cleared with Suppr keeps its Excel comment (« Vu avec la DDT ») on a row
    now empty: `--annoter` deleted it with the rows it rewrote (the button, which reads no comment, leaves it on its
    cell). That row is one the user wrote on: kept under the findings, in the table, with its comment."""
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.utils.cell import get_column_letter, range_boundaries

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-ligne-videe.xlsx", tmp_path / "annotee.xlsx"
    findings = validate_file(_faulty()[0]).findings
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    rows = [[f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion]
            for f in findings] + [[None] * 7]  # the last one cleared, its comment left
    for i, row in enumerate(rows, start=r1 + 1):
        for j, v in enumerate(row):
            ws.cell(i, c1 + j).value = v
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1 + len(rows)}"
    message = c1 + 5
    ws.cell(r1 + 1, message).comment = Comment("À voir avec la DDT", "Agent")  # findings[0]'s, which stays
    ws.cell(r1 + len(rows), message).comment = Comment("Vu avec la DDT", "Agent")
    wb.save(path)

    annotate(path, out, validate_file(path), today=TODAY)
    _one_comment_a_cell(out)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    n = len(findings)
    assert [(ws.cell(r, c1 + 1).value, ws.cell(r, message).comment and ws.cell(r, message).comment.text)
            for r in range(r1 + 1, r1 + n + 3)] \
        == [(findings[0].code, "À voir avec la DDT")] + [(f.code, None) for f in findings[1:]] \
        + [(None, "Vu avec la DDT"), (None, None)]
    assert ws.tables[layout.T_CONTROLES.name].ref == f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1 + n + 1}"


def test_a_filter_on_controles_hides_no_finding_of_the_annotated_copy(tmp_path):
    """T_Controles filtered on « Erreur » by the user, the information hidden: `--annoter` wrote the new findings on
    the same rows, an error on the row the filter had hidden — hidden under a filter saying every error is shown.
    The copy lifts the filter and shows every row of the table; a column's filter button the user hid stays hidden
    (it was shown again, with the filter lifted)."""
    import openpyxl
    from openpyxl.worksheet.filters import FilterColumn
    from openpyxl.utils.cell import get_column_letter, range_boundaries

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-filtre.xlsx", tmp_path / "annotee.xlsx"
    findings = validate_file(_faulty()[0]).findings
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    rows = [[f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion]
            for f in reversed(findings)]
    for i, row in enumerate(rows, start=r1 + 1):
        for j, v in enumerate(row):
            ws.cell(i, c1 + j).value = v
        ws.row_dimensions[i].hidden = row[0] != "Erreur"
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1 + len(rows)}"
    t.autoFilter.add_filter_column(0, ["Erreur"])
    # and the button of « Suggestion » hidden (no filter: a choice of the user's, kept)
    t.autoFilter.filterColumn.append(FilterColumn(colId=6, hiddenButton=True))
    wb.save(path)
    assert any(ws.row_dimensions[r].hidden for r in range(r1 + 1, r1 + len(rows) + 1))
    assert [f.gravite for f in findings] != [f.gravite for f in reversed(findings)]  # an error where one was hidden

    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    assert [ws.cell(r, c1 + 3).value for r in range(r1 + 1, r1 + len(findings) + 1)] == [f.cellule for f in findings]
    assert [r for r in range(r1 + 1, r1 + len(findings) + 1) if ws.row_dimensions[r].hidden] == []
    assert [(c.colId, c.hiddenButton, c.filters) for c in t.autoFilter.filterColumn] == [(6, True, None)]


@pytest.mark.parametrize("other_filter", [None, "table", "hidden row"])
def test_the_sheet_of_controles_is_no_longer_said_filtered_once_its_filter_is_lifted(tmp_path, other_filter):
    """T_Controles filtered on « Erreur »: Excel marks its sheet `<sheetPr filterMode="1">` (« a filter hides rows
    here », Excel's FilterMode). `--annoter` lifted the filter and showed every row, but left the flag: a sheet said
    filtered with no filter on it (LibreOffice ignores the flag, and shows every row either way; Excel trusts it).
    Dropped once no filter is left on the sheet; kept while another table of the sheet is still filtered, or a row
    above the table is hidden (an advanced filter's, which leaves no criterion in the sheet)."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries
    from openpyxl.worksheet.table import Table

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-filtre.xlsx", tmp_path / "annotee.xlsx"
    findings = validate_file(_faulty()[0]).findings
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    for i, f in enumerate(findings, start=r1 + 1):
        ws.cell(i, c1).value, ws.cell(i, c1 + 1).value = f.gravite.libelle, f.code
        ws.row_dimensions[i].hidden = f.gravite.libelle != "Erreur"
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1 + len(findings)}"
    t.autoFilter.add_filter_column(0, ["Erreur"])
    if other_filter == "table":  # a table of the user's beside it, filtered on « Oui » (its rows not hidden: beside the list)
        k = c2 + 3
        for r, (a, b) in enumerate([("Sujet", "Fait"), ("Relance", "Oui"), ("Comité", "Non")], start=r1):
            ws.cell(r, k).value, ws.cell(r, k + 1).value = a, b
        notes = Table(displayName="T_Suivi", ref=f"{get_column_letter(k)}{r1}:{get_column_letter(k + 1)}{r1 + 2}")
        ws.add_table(notes)
        notes._initialise_columns()
        notes.autoFilter.add_filter_column(1, ["Oui"])
    elif other_filter == "hidden row":
        ws.row_dimensions[r1 - 1].hidden = True
    ws.sheet_properties.filterMode = True
    wb.save(path)
    assert any(ws.row_dimensions[r].hidden for r in range(r1 + 1, r1 + len(findings) + 1))

    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert bool(ws.sheet_properties.filterMode) is (other_filter is not None)
    if other_filter == "table":  # the user's filter, not T_Controles', left as it was
        assert [c.filters.filter for c in ws.tables["T_Suivi"].autoFilter.filterColumn] == [["Oui"]]
    assert [r for r in range(r1 + 1, r1 + len(findings) + 1) if ws.row_dimensions[r].hidden] == []


def test_a_sort_on_controles_is_lifted_in_the_annotated_copy(tmp_path):
    """T_Controles sorted by the user on « Gravité » (Z→A), seven rows: `--annoter` listed the three findings in
    their own order under the sort's arrow, and left its range on the seven rows of old, past the table's end
    once it shrank to three. The sort is lifted with the filter."""
    import zipfile

    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries
    from openpyxl.worksheet.filters import SortCondition, SortState

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-trie.xlsx", tmp_path / "annotee.xlsx"
    findings = validate_file(_faulty()[0]).findings
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    old = r1 + len(findings) + 4
    for i, f in enumerate(reversed(findings), start=r1 + 1):
        ws.cell(i, c1).value, ws.cell(i, c1 + 1).value = f.gravite.libelle, f.code
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{old}"
    body = f"{get_column_letter(c1)}{r1 + 1}:{get_column_letter(c2)}{old}"
    t.autoFilter.sortState = SortState(ref=body, sortCondition=[
        SortCondition(ref=f"{get_column_letter(c1)}{r1 + 1}:{get_column_letter(c1)}{old}", descending=True)])
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        assert any(b"<sortState" in z.read(n) for n in z.namelist() if n.startswith("xl/tables/"))

    annotate(path, out, validate_file(path), today=TODAY)
    with zipfile.ZipFile(out) as z:
        assert not any(b"sortState" in z.read(n) for n in z.namelist() if n.startswith("xl/tables/"))
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert ws.tables[layout.T_CONTROLES.name].ref == f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1 + len(findings)}"
    assert [ws.cell(r, c1 + 1).value for r in range(r1 + 1, r1 + len(findings) + 1)] == [f.code for f in findings]


def _two_listed_the_last_first(path, findings, c1, r1, mine):
    """T_Controles of `path` as a previous run left it: two findings listed, the last one first, the
    first row's note commented « Pièce demandée au porteur » (it goes to the third row); (wb, sheet)."""
    import openpyxl
    from openpyxl.comments import Comment

    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    kept = [[ws.cell(r, c).value for c in range(c1, mine + 1)] for r in (r1 + 1, r1 + 2)]
    assert kept[0][3] == findings[-1].cellule and len(findings) == 3
    for r in range(r1 + 1, r1 + len(findings) + 2):
        for c in range(c1, mine + 1):
            ws.cell(r, c).value = kept[r - r1 - 1][c - c1] if r <= r1 + 2 else None
    ws.cell(r1 + 1, mine).comment = Comment("Pièce demandée au porteur", "Agent")
    return wb, ws


def _one_comment_a_cell(path) -> None:
    """No cell of `path` holds two comments (a file Excel repairs, deleting them)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        refs = [re.findall(r'<comment ref="([A-Z]+[0-9]+)"', z.read(n).decode()) for n in z.namelist()
                if re.fullmatch(r"xl/comments/?\w*\.xml", n)]
    assert all(len(set(r)) == len(r) for r in refs)


def test_an_excel_comment_on_an_empty_cell_below_controles_moves_down_as_the_table_grows(tmp_path):
    """An Excel comment on an empty cell just below T_Controles, in the user's column: the table grown by
    `--annoter` over that row left it there, shown beside a finding — and when the note of another finding, its
    own comment with it, came to that row, the cell held two comments: a file Excel repairs, deleting them. It now
    moves down with the cells below, as a chart there does and Excel's insertion moves it."""
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.utils.cell import get_column_letter

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-commentaire-dessous.xlsx", tmp_path / "annotee.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb, ws = _two_listed_the_last_first(path, findings, c1, r1, mine)
    ws.cell(r1 + 3, mine).comment = Comment("À revoir au comité", "Agent")
    t = ws.tables[layout.T_CONTROLES.name]
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(mine)}{r1 + 2}"
    wb.save(path)

    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [ws.cell(r, c1 + 3).value for r in range(r1 + 1, r1 + 4)] == [f.cellule for f in findings]
    assert {(r, ws.cell(r, mine).comment.text) for r in range(r1 + 1, r1 + 6) if ws.cell(r, mine).comment} \
        == {(r1 + 3, "Pièce demandée au porteur"), (r1 + 4, "À revoir au comité")}
    _one_comment_a_cell(out)


def test_the_comment_and_the_link_of_controles_totals_row_go_with_it_in_the_annotated_copy(tmp_path):
    """A totals row the user added to T_Controles, a comment and a link on its cell of their column: `--annoter`
    moved the totals row under the findings, but left its comment on the old row — beside a finding, and when
    the note of another finding came there with its own comment, two on one cell, a file Excel repairs — and
    deleted its link. Both now go with the row."""
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.utils.cell import get_column_letter

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-total.xlsx", tmp_path / "annotee.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb, ws = _two_listed_the_last_first(path, findings, c1, r1, mine)
    total = ws.cell(r1 + 3, mine)
    ws.cell(r1 + 3, c1).value, total.value = "Total", 2
    total.comment, total.hyperlink = Comment("Compte des suites", "Agent"), "https://example.org/suivi"
    t = ws.tables[layout.T_CONTROLES.name]
    t.ref, t.totalsRowCount = f"{get_column_letter(c1)}{r1}:{get_column_letter(mine)}{r1 + 3}", 1
    t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(mine)}{r1 + 2}"
    wb.save(path)

    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [ws.cell(r, c1 + 3).value for r in range(r1 + 1, r1 + 4)] == [f.cellule for f in findings]
    assert (ws.cell(r1 + 4, c1).value, ws.cell(r1 + 4, mine).value) == ("Total", 2)
    assert {(r, ws.cell(r, mine).comment.text) for r in range(r1 + 1, r1 + 6) if ws.cell(r, mine).comment} \
        == {(r1 + 3, "Pièce demandée au porteur"), (r1 + 4, "Compte des suites")}
    assert [r for r in range(r1 + 1, r1 + 6) if ws.cell(r, mine).hyperlink] == [r1 + 4]
    _one_comment_a_cell(out)


def test_a_note_column_filled_down_past_controles_keeps_its_formulas_below_in_the_annotated_copy(tmp_path):
    """The user's column of T_Controles filled down past the table (`=SI(A4="Erreur";"à traiter";"")` … :
    Excel keeps one shared formula, its text on its first cell only): `--annoter` cleared the table's rows,
    that first cell with them, and the cells below still derived their formula from it — a file Excel
    repairs. They now hold their own formula."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter

    path, out = tmp_path / "controles-colonne-recopiee.xlsx", tmp_path / "annotee.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    end = r1 + len(findings) + 1  # the table's last row (a finding since fixed), then five rows below it
    for r in range(r1 + 1, end + 6):
        ws.cell(r, mine).value, ws.cell(r, mine).number_format = f'=IF(A{r}="Erreur","à traiter","")', "General"
    wb.save(path)
    column = get_column_letter(mine)
    _as_filled(path, f"{column}{r1 + 1}:{column}{end + 5}")

    ws = _annotated_without_shared_formulas(path, out)
    assert [ws.cell(r, mine).value for r in range(end + 1, end + 6)] \
        == [f'=IF(A{r}="Erreur","à traiter","")' for r in range(end + 1, end + 6)]


def _annotated_without_shared_formulas(path, out):
    """`--annoter`'s copy of `path` at `out`, its Contrôles sheet holding no shared formula (each cell its own
    text: a shared one whose first cell was cleared is a file Excel repairs): that sheet, read by openpyxl."""
    import re
    import zipfile

    import openpyxl

    from acv_xl.outputs.annotate import annotate

    annotate(path, out, validate_file(path), today=TODAY)
    wb = openpyxl.load_workbook(out)
    part = f"xl/worksheets/sheet{wb.sheetnames.index(layout.Sheet.CONTROLES) + 1}.xml"
    with zipfile.ZipFile(out) as z:
        assert not re.search(r'<f t="shared"', z.read(part).decode())
    return wb[layout.Sheet.CONTROLES]


def test_a_note_column_filled_down_into_controles_totals_row_keeps_its_formula_there_in_the_annotated_copy(tmp_path):
    """The user's column of T_Controles filled down through its totals row (Excel keeps one shared formula, its
    text on its first cell only, a finding's): `--annoter` moved the totals row under the findings as it was,
    its cell still deriving its formula from that first cell, cleared — a file Excel repairs. It now holds its
    own formula, as the cells below the table do."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter

    path, out = tmp_path / "controles-total-recopie.xlsx", tmp_path / "annotee.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    total = r1 + len(findings) + 2  # below the last row (a finding since fixed)
    t.ref = f"{ws.cell(r1, c1).coordinate}:{ws.cell(total, mine).coordinate}"
    t.totalsRowCount = 1
    ws.cell(total, c1).value = "Total"
    for r in range(r1 + 1, total + 3):
        ws.cell(r, mine).value, ws.cell(r, mine).number_format = f'=IF(A{r}="Erreur","à traiter","")', "General"
    wb.save(path)
    column = get_column_letter(mine)
    _as_filled(path, f"{column}{r1 + 1}:{column}{total + 2}")

    ws = _annotated_without_shared_formulas(path, out)
    now = r1 + len(findings) + 1
    # the formula filled down there, as Excel moves the row: on its old row's cell it read the row below the table
    assert (ws.cell(now, c1).value, ws.cell(now, mine).value) == ("Total", f'=IF(A{now}="Erreur","à traiter","")')
    assert [ws.cell(r, mine).value for r in (total + 1, total + 2)] \
        == [f'=IF(A{r}="Erreur","à traiter","")' for r in (total + 1, total + 2)]


def test_a_time_or_a_date_noted_beside_a_finding_is_shown_as_one_where_it_moves(tmp_path):
    """A time noted beside a finding (« 12:30 », formatted hh:mm) moved by the button to the row of its
    finding kept its value, not its cell's format: « 0,520833333 » — and the next run read that number. The
    button now formats the cell it lands in as a time (a date as a date), as `--annoter` moves the cell
    whole."""
    import openpyxl

    from acv_xl.outputs.annotate import annotate

    path = tmp_path / "controles-heure.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    # the time on the first row, beside the finding the run lists last: it moves down, onto a cell of no format
    (first, second), last = (ws.cell(r1 + k, mine) for k in (1, 2)), r1 + len(findings)
    first.value, second.value = second.value, first.value
    first.number_format, second.number_format = "hh:mm", "dd/mm/yyyy"
    assert ws.cell(last, mine).number_format == "General"
    wb.save(path)

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    i = _index(payload, layout.Sheet.CONTROLES)
    assert [row[mine - c1] for row in _written(actions, (i, r1, c1 - 1))][-1] == 0.5 + 0.5 / 24
    formats = {(a["start_row"] + 1, a["start_column"] + 1): a["args"][0] for a in actions
               if a["sheet_position"] == i and a["func"] == "setNumberFormat"}
    assert formats == {(last, mine): "hh:mm"}  # the date, beside the same finding, keeps its format

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert (ws.cell(last, mine).value, ws.cell(last, mine).number_format) == (time(12, 30), "hh:mm")


def test_a_number_noted_beside_a_finding_is_not_shown_as_a_date_where_one_stood(tmp_path):
    """A number noted beside a finding (« 3 » relances) moved by the button onto the row where a date stood kept
    that row's date format: « 03/01/1900 » — and the next run read it as that date, carried on as one, the
    user's 3 gone for good. The button now shows it as a number there, as `--annoter`, which moves the cell
    whole, keeps it."""
    import openpyxl

    from acv_xl.outputs.annotate import annotate

    path = tmp_path / "controles-nombre.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    # the date on the first row, beside the last finding; the number beside the first, which lands there
    last = r1 + len(findings)
    assert ws.cell(r1 + 1, mine).is_date and ws.cell(last, mine).number_format == "General"
    ws.cell(last, mine).value = 3
    wb.save(path)

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    i = _index(payload, layout.Sheet.CONTROLES)
    assert [f.cellule for f in report.findings] == [f.cellule for f in findings]
    assert [row[mine - c1] for row in _written(actions, (i, r1, c1 - 1))][0] == 3
    formats = {(a["start_row"] + 1, a["start_column"] + 1): a["args"][0] for a in actions
               if a["sheet_position"] == i and a["func"] == "setNumberFormat"}
    assert formats == {(r1 + 1, mine): "General", (last, mine): "dd/mm/yyyy"}  # the time stays on its row

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert (ws.cell(r1 + 1, mine).value, ws.cell(r1 + 1, mine).is_date) == (3, False)


def test_a_formula_noted_beside_a_finding_moves_as_its_value_with_the_button_and_in_the_annotated_copy(tmp_path):
    """A note of the user's column of T_Controles that is a formula (« ="Relancé le "&… ») moved with its finding
    as the value it showed on the button (which receives values only), and was left empty by `--annoter`: the
    note lost in the copy. Both now carry its value, a text as a number."""
    import re
    import zipfile

    import openpyxl

    from acv_xl.outputs.annotate import annotate

    path, formulas = tmp_path / "controles-formule.xlsx", tmp_path / "formules.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], formulas)
    wb = openpyxl.load_workbook(formulas)
    ws = wb[layout.Sheet.CONTROLES]
    first, second = ws.cell(r1 + 1, mine), ws.cell(r1 + 2, mine)  # beside the last finding and the one before
    first.value, second.value = '="Relancé le "&"3/12"', "=1+2"
    first.number_format = second.number_format = "General"
    wb.save(formulas)
    # the values Excel saves with its formulas (openpyxl writes none)
    cached = {first.coordinate: (' t="str"', "Relancé le 3/12"), second.coordinate: ("", "3")}

    def saved(m):
        kind, value = cached[m[1].decode()]
        return b'<c r="%s"%s%s><f>%s</f><v>%s</v>' % (m[1], m[2], kind.encode(), m[3], value.encode())

    with zipfile.ZipFile(formulas) as z, zipfile.ZipFile(path, "w") as out:
        part = f"xl/worksheets/sheet{wb.sheetnames.index(layout.Sheet.CONTROLES) + 1}.xml"
        for name in z.namelist():
            data = z.read(name)
            if name == part:
                data, n = re.subn(rb'<c r="(%s|%s)"([^>]*)><f>(.*?)</f><v\s*/?>(?:</v>)?'
                                  % (first.coordinate.encode(), second.coordinate.encode()), saved, data)
                assert n == 2
            out.writestr(name, data)
    notes[findings[-1].cellule], notes[findings[-2].cellule] = "Relancé le 3/12", 3
    landed = {f.cellule: r for r, f in enumerate(findings, start=r1 + 1)}

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    assert [f.cellule for f in report.findings] == [f.cellule for f in findings]
    written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
    assert [row[mine - c1] for row in written] == [notes[f.cellule] for f in findings]

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert {c: ws.cell(r, mine).value for c, r in landed.items()} == {f.cellule: notes[f.cellule] for f in findings}


@pytest.mark.parametrize("below", [2, 400], ids=["sous-le-tableau", "plus-bas"])
def test_a_chart_alone_below_controles_moves_down_in_the_annotated_copy(tmp_path, below):
    """A chart put just below T_Controles over empty cells (the findings counted by gravité): nothing typed
    there, so `--annoter` moved nothing and wrote the findings under the chart, hidden. It now moves down as
    when notes lie there; one lower than the findings reach moves nothing."""
    import re
    import zipfile

    import openpyxl
    from openpyxl.chart import PieChart, Reference
    from openpyxl.utils.cell import range_boundaries

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-graphique.xlsx", tmp_path / "annotee.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    c1, r1, c2, r2 = range_boundaries(ws.tables[layout.T_CONTROLES.name].ref)
    chart = PieChart()
    chart.add_data(Reference(ws, min_col=c1, min_row=r1, max_row=r2))
    ws.add_chart(chart, ws.cell(r2 + below, c1).coordinate)
    wb.save(path)
    report = validate_file(path)
    annotate(path, out, report, today=TODAY)
    grown = r1 + len(report.findings) - r2
    assert 2 <= grown < 400  # the findings reach the row just below the table, not 400 rows below

    def top(book):
        with zipfile.ZipFile(book) as z:
            xml = b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/drawings/drawing"))
        return int(re.search(rb"<(?:xdr:)?from>.*?<(?:xdr:)?row>(\d+)</", xml, re.S)[1]) + 1

    assert top(path) == r2 + below
    assert top(out) == r2 + below + (grown if below <= grown else 0)


def test_the_button_moves_down_a_merged_range_below_controles_that_the_desktop_reports(tmp_path):
    """An empty merged range just below T_Controles reaching past its last column (a title merged for notes
    to come), as the desktop reads it (`XwSource.merged_boxes`): the button wrote its findings into it, half
    of each hidden, and with a note typed there inserted cells through it, which Excel refuses (« Validation
    impossible : erreur inattendue », nothing listed). It now inserts cells over the merged range's columns
    too, as the annotated copy moves it."""
    from openpyxl.utils.cell import range_boundaries

    payload = payload_from_xlsx(_faulty()[0], exclude=scripts.EXCLUDE)
    book = remote_book(payload)
    src, report = scripts._read(book)
    c1, r1, c2, r2 = range_boundaries(_table(payload, layout.T_CONTROLES.name)[1])
    assert r1 + len(report.findings) > r2 + 1  # the findings reach the merged range's row
    src.merged_boxes = lambda _sheet, first, lo, hi: [(r2 + 2, c2 - 1, r2 + 2, c2 + 2)] if first == r2 + 1 else []
    scripts.write_controles(book, src, report.findings)
    i = _index(payload, layout.Sheet.CONTROLES)
    inserts = [(a["start_row"] + 1, a["start_column"] + 1, a["row_count"], a["column_count"])
               for a in book.json()["actions"] if a["sheet_position"] == i and a["func"] == "rangeInsert"]
    assert inserts == [(r2 + 1, c1, r1 + len(report.findings) - r2, c2 + 2 - c1 + 1)]


def _controles_without(path, out, header: str) -> None:
    """The workbook `path` saved at `out` with the column `header` of T_Controles deleted (cells and table)."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries

    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, r2 = range_boundaries(t.ref)
    k = [tc.name for tc in t.tableColumns].index(header)
    ws.delete_cols(c1 + k)
    del t.tableColumns[k]
    for j, tc in enumerate(t.tableColumns, 1):
        tc.id = j
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2 - 1)}{r2}"
    wb.save(out)


def test_the_notes_of_controles_follow_their_findings_with_a_column_of_the_key_deleted(tmp_path):
    """The user deleted the « N° action » column of T_Controles (said, the findings listed without it) and
    keeps notes in a column of their own: a finding was recognised by its N° action too, which the old rows
    no longer had — every note beside a finding of an action emptied, by the button and by `--annoter`."""
    noted, path = tmp_path / "controles-suite.xlsx", tmp_path / "controles-sans-action.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], noted)
    _controles_without(noted, path, "N° action")
    mine -= 1
    assert any(f.action for f in findings)
    _notes_follow_their_findings(path, tmp_path / "annotee.xlsx", notes, c1, r1, mine)


def test_a_note_stays_beside_its_finding_among_findings_on_the_same_cell(tmp_path):
    """Two columns of T_Financements deleted: two STR-04 on its first cell, the same code, sheet, cell and
    action, a note of the user's beside each in Contrôles. One column put back, the note of the finding
    gone was carried beside the other (the first alike in the old order): now the one of its message."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries
    from openpyxl.worksheet.table import TableColumn

    from acv_xl.outputs.annotate import annotate

    both, path = tmp_path / "sans-deux-colonnes.xlsx", tmp_path / "sans-nature.xlsx"
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = next(ws for ws in wb.worksheets if layout.T_FINANCEMENTS.name in ws.tables)
    t = ws.tables[layout.T_FINANCEMENTS.name]
    c1, r1, c2, r2 = range_boundaries(t.ref)
    for name in ("Nature", "Dispositif"):
        k = [tc.name for tc in t.tableColumns].index(name)
        ws.delete_cols(c1 + k)
        del t.tableColumns[k]
        for j, tc in enumerate(t.tableColumns, 1):
            tc.id = j
        c2 -= 1
        t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}"
        wb.save(path if name == "Nature" else both)
    previous = validate_file(both).findings
    same = [f for f in previous if f.code == "STR-04"]
    assert [f.message for f in same] and len({(f.feuille, f.cellule, f.action) for f in same}) == 1 < len(same)
    notes = {f.message: f"Note {k}" for k, f in enumerate(previous)}

    wb = openpyxl.load_workbook(path)  # as a run on `both` left it, a note beside each finding
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    for i, f in enumerate(previous, start=r1 + 1):
        for j, v in enumerate([f.gravite.libelle, f.code, f.feuille, f.cellule, f.action, f.message, f.suggestion]):
            ws.cell(i, c1 + j).value = v
        ws.cell(i, c2 + 1).value = notes[f.message]
    ws.cell(r1, c2 + 1).value = "Suite donnée"
    t.tableColumns.append(TableColumn(id=c2 - c1 + 2, name="Suite donnée"))
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2 + 1)}{r1 + len(previous)}"
    wb.save(path)

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    assert [f.code for f in report.findings].count("STR-04") == len(same) - 1
    written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
    assert [(row[5], row[-1]) for row in written] == [(f.message, notes.get(f.message, "")) for f in report.findings]

    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    rows = range(r1 + 1, r1 + len(report.findings) + 1)
    assert [(ws.cell(r, c1 + 5).value, ws.cell(r, c2 + 1).value) for r in rows] \
        == [(f.message, notes.get(f.message)) for f in report.findings]


def test_a_column_of_controles_missing_on_a_renamed_sheet_is_said_on_that_sheet(tmp_path, capsys):
    """Contrôles renamed « Contrôles 2026 », a header of T_Controles renamed past recognition: the button and
    the command line said the column missing from « la feuille « Contrôles » », a sheet the workbook has not."""
    import openpyxl

    from acv_xl.cli import main

    path = tmp_path / "controles-2026.xlsx"
    _controles_headers(_faulty()[0], path, {"Message": "Constat"})
    wb = openpyxl.load_workbook(path)
    wb[layout.Sheet.CONTROLES].title = "Contrôles 2026"
    wb.save(path)
    said = "le tableau « T_Controles » de la feuille « Contrôles 2026 » n'a plus de colonne « Message »"
    _payload, _report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    alerts = [a["args"][0] for a in actions if a["func"] == "alert"]
    assert len(alerts) == 1 and said in alerts[0]

    main(["valider", str(path), "--annoter", str(tmp_path / "annotee.xlsx")])
    assert said in capsys.readouterr().out


def test_the_button_moves_down_merged_ranges_met_through_one_another_below_controles(tmp_path):
    """Below T_Controles, on the desktop, a merged range reaching past its last column, and lower a second one
    that meets the first's columns but none of T_Controles': the button inserted cells over the first's
    columns only, through the second — which Excel refuses (« Validation impossible : erreur inattendue »,
    nothing listed). Each merged range met is now asked for in turn, as the annotated copy widens the move."""
    from openpyxl.utils.cell import range_boundaries

    payload = payload_from_xlsx(_faulty()[0], exclude=scripts.EXCLUDE)
    book = remote_book(payload)
    src, report = scripts._read(book)
    c1, r1, c2, r2 = range_boundaries(_table(payload, layout.T_CONTROLES.name)[1])
    assert r1 + len(report.findings) > r2 + 1  # the findings reach the first merged range's row
    areas = [(r2 + 2, c2 - 1, r2 + 2, c2 + 2), (r2 + 5, c2 + 2, r2 + 6, c2 + 4)]
    # what Excel says of a range: the merged areas meeting its columns
    src.merged_boxes = lambda _sheet, first, lo, hi: [a for a in areas if a[0] >= first and a[1] <= hi and a[3] >= lo]
    scripts.write_controles(book, src, report.findings)
    i = _index(payload, layout.Sheet.CONTROLES)
    inserts = [(a["start_row"] + 1, a["start_column"] + 1, a["row_count"], a["column_count"])
               for a in book.json()["actions"] if a["sheet_position"] == i and a["func"] == "rangeInsert"]
    assert inserts == [(r2 + 1, c1, r1 + len(report.findings) - r2, c2 + 4 - c1 + 1)]


def test_the_notes_of_controles_follow_their_findings_once_a_deleted_column_is_put_back(tmp_path):
    """« N° action » deleted from T_Controles then put back, empty, as the message of the button and of
    `--annoter` advises: the old rows' empty actions matched no finding of an action, and every note beside
    one was emptied at the run the user was told to make."""
    import openpyxl

    path = tmp_path / "controles-action-remise.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    j = [c.header for c in layout.T_CONTROLES.columns].index("N° action")
    for r in range(r1 + 1, ws.max_row + 1):
        ws.cell(r, c1 + j).value = None
    wb.save(path)
    assert any(f.action for f in findings)
    _notes_follow_their_findings(path, tmp_path / "annotee.xlsx", notes, c1, r1, mine)


def test_a_row_typed_in_controles_decides_nothing_of_how_the_notes_find_their_findings(tmp_path):
    """« N° action » put back empty in T_Controles, and a row the user typed under the findings with a date in
    that column (« Le 12/12 »): that row, of no finding, made « N° action » part of what tells a finding from
    another, and no old row, empty there, matched a finding of an action — every note beside one was emptied,
    on the button and in `--annoter`. Only the rows that listed a finding now decide it."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter

    from acv_xl.outputs.annotate import annotate

    path = tmp_path / "controles-action-remise-note.xlsx"
    findings, notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    j = [c.header for c in layout.T_CONTROLES.columns].index("N° action")
    typed = r1 + len(findings) + 2  # under the last row (a finding since fixed)
    for r in range(r1 + 1, typed):
        ws.cell(r, c1 + j).value = None
    ws.cell(typed, c1 + j).value, ws.cell(typed, c1 + 5).value = datetime(2026, 12, 12), "Le 12/12"
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(mine)}{typed}"
    wb.save(path)
    assert any(f.action for f in findings)

    payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    n = len(report.findings)
    written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
    sent = {datetime(2026, 3, 12): "2026-03-12", time(12, 30): 0.5 + 0.5 / 24}  # as xlwings sends them
    assert [(row[3], row[mine - c1]) for row in written] \
        == [(f.cellule, sent.get(notes[f.cellule], notes[f.cellule])) for f in report.findings] + [("", "")]
    assert written[n][5] == "Le 12/12"
    out = tmp_path / "annotee.xlsx"
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    assert [(ws.cell(r, c1 + 3).value, ws.cell(r, mine).value) for r in range(r1 + 1, r1 + n + 2)] \
        == [(f.cellule, notes[f.cellule]) for f in report.findings] + [(None, None)]
    assert ws.cell(r1 + n + 1, c1 + 5).value == "Le 12/12"

    # nor is such a row taken for a finding moved with its row: a line « Modifié depuis la validation » whose
    # gravité the user cleared, kept whole under the findings, gave its note to that line's finding too
    from acv_xl.checks.findings import Finding
    from acv_xl.outputs.annotate import kept_beside

    said = "Modifié depuis la validation du 01/12/2026 — Plan de financement, ligne {} : « Montant (€) » modifié"
    moved = Finding(code="", gravite=Gravite.INFORMATION, feuille=layout.Sheet.FINANCEMENT, cellule="F24",
                    action="4.1", message=said.format(24))
    cleared = {"gravite": None, "code": None, "feuille": layout.Sheet.FINANCEMENT, "cellule": "F23", "action": "4.1",
               "message": said.format(23), "suggestion": None}
    assert kept_beside([(cleared, "Vu")], [moved]) == [None]


def _controles_ending_on_an_empty_row(tmp_path: Path, name: str, fill) -> tuple[Path, int, int, int, int]:
    """The faulty example as after a run, a column of the user's added to T_Controles (`_controles_with_notes`), the
    table ending under the findings on the template's empty row, whose cells `fill(ws, c1, r1, empty, mine)` sets:
    (the workbook saved as `name`, the table's first column and header row, the empty row, the user's column)."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter

    path = tmp_path / f"{name}.xlsx"
    findings, _notes, c1, r1, mine = _controles_with_notes(_faulty()[0], path)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.CONTROLES]
    empty = r1 + len(findings) + 2  # under the last row (a finding since fixed): the table's empty row
    fill(ws, c1, r1, empty, mine)
    t = ws.tables[layout.T_CONTROLES.name]
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(mine)}{empty}"
    wb.save(path)
    return path, c1, r1, empty, mine


def _both_keep_under_the_findings(path: Path, c1: int, r1: int, mine: int, kept: list,
                                  payloads: list[dict] | None = None) -> None:
    """The rows the two writers keep under the findings of T_Controles, in the user's column `mine`, are `kept`: the
    button's, for each of `payloads` (what the add-in may send; by default what it sends of `path`), and those of
    the copy of `acv-xl valider --annoter`, its table ending on the last row kept."""
    import openpyxl
    from openpyxl.utils.cell import get_column_letter

    from acv_xl.outputs.annotate import annotate

    for payload in payloads or [payload_from_xlsx(path, exclude=scripts.EXCLUDE)]:
        payload, report, actions = _run(path, payload)
        n = len(report.findings)
        written = _written(actions, (_index(payload, layout.Sheet.CONTROLES), r1, c1 - 1))
        assert [row[mine - c1] for row in written][n:] == kept

    out = path.with_name(f"{path.stem}-annotee.xlsx")
    annotate(path, out, validate_file(path), today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    last = r1 + n + len(kept)
    assert ws.tables[layout.T_CONTROLES.name].ref \
        == f"{get_column_letter(c1)}{r1}:{get_column_letter(mine)}{max(last, r1 + 1)}"
    assert [ws.cell(r, mine).value for r in range(r1 + n + 1, last + 1)] == kept


def test_a_column_of_unchecked_boxes_in_controles_keeps_no_empty_row_under_the_findings(tmp_path):
    """A column of checkboxes « Traité » added to T_Controles: Excel gives every row FALSE, the template's
    empty row under the findings too. Both writers took that row for one the user typed, and kept it under
    the findings run after run. An unchecked box says nothing; a checked one on such a row is kept."""
    for box, kept in ((False, []), (True, [True])):
        def fill(ws, c1, r1, empty, mine, box=box):
            for r in range(r1 + 1, empty):
                ws.cell(r, mine).value = False
            ws.cell(empty, mine).value = box

        path, c1, r1, _empty, mine = _controles_ending_on_an_empty_row(tmp_path, f"controles-cases-{box}", fill)
        _both_keep_under_the_findings(path, c1, r1, mine, kept)


def test_the_button_s_verdict_without_a_list_says_the_workbook_it_validated_is_validated(tmp_path):
    """A workbook without error whose T_Controles lost its headers: the button wrote « Validé » on
    Accueil, then said « Validation faite, sans la liste des constats … Verdict : aucune erreur, le
    classeur peut être validé. », sending the user to click Valider again for nothing."""
    from acv_xl.outputs.examples import example_conventions
    from acv_xl.outputs.template import build_workbook

    src = tmp_path / "bethune.xlsx"
    build_workbook(src, example_conventions()["bethune-bruay.xlsx"])
    path = tmp_path / "controles-sans-entetes.xlsx"
    _controles_headers(src, path, {c.header: f"Colonne {k}" for k, c in enumerate(layout.T_CONTROLES.columns)})
    _payload, report, actions = _run(path, payload_from_xlsx(path, exclude=scripts.EXCLUDE))
    assert report.valide and report.findings
    alerts = [a["args"][0] for a in actions if a["func"] == "alert"]
    assert len(alerts) == 1 and "Verdict : aucune erreur, le classeur est validé." in alerts[0], alerts


@pytest.mark.parametrize("shown", ["-", "—", 0])
def test_a_column_of_controles_showing_a_dash_or_zero_for_nothing_keeps_no_empty_row_under_the_findings(tmp_path,
                                                                                                         shown):
    """A column « Relance » of the user's whose formula shows « - » (or 0) on a row with no finding
    (=SI([@Code]="";"-";…)): the template's empty row under the findings held that « - », taken by both writers for
    a note typed, and kept under the findings run after run. A dash or a zero alone says nothing; a note on such a
    row is kept, by the button and in the copy alike."""
    for typed, kept in ((shown, []), ("À revoir", ["À revoir"])):
        def fill(ws, c1, r1, empty, mine, typed=typed):
            ws.cell(empty, mine).value = typed

        path, c1, r1, _empty, mine = _controles_ending_on_an_empty_row(tmp_path, f"controles-tiret-{len(kept)}", fill)
        _both_keep_under_the_findings(path, c1, r1, mine, kept)


@pytest.mark.parametrize("column, shown", [("code", "-"), ("code", "#N/A"), ("message", "–"), ("feuille", "#REF!"),
                                           ("gravite", "- -"), ("code", 0), ("message", 0.0), ("gravite", False),
                                           ("action", 0)])
def test_a_dash_or_an_error_in_a_column_of_controles_own_says_nothing(tmp_path, column, shown):
    """« - » typed in « Code » (or #N/A shown there by a formula) on a row of no finding: both writers took the row
    for a finding's, paired with none, and cleared it — a note the user wrote beside it in their own column (« À
    revoir ») lost without a word; the same in « Message » or « Feuille », the row was kept under the findings,
    run after run, as if typed. In a column acv-xl writes as in the user's own, a dash or an error alone says
    nothing: the empty row is not kept, a note beside it is, by the button and in the copy alike. So does a number 0
    or FALSE (a formula's count, an unchecked box), which the copy read as the text « 0 »: kept, or a note beside it
    lost, by both."""
    at = [c.attr for c in layout.T_CONTROLES.columns].index(column)
    for note, kept in ((None, []), ("À revoir", ["À revoir"])):
        def fill(ws, c1, r1, empty, mine, note=note):
            ws.cell(empty, c1 + at).value = shown  # (openpyxl writes « #N/A » as the error)
            ws.cell(empty, mine).value = note

        path, c1, r1, _empty, mine = _controles_ending_on_an_empty_row(tmp_path, f"controles-tiret-{len(kept)}", fill)
        _both_keep_under_the_findings(path, c1, r1, mine, kept)


def _with_formula(path: Path, sheet: str, cell: str, formula: str) -> None:
    """`path` with the cell `cell` of `sheet` computed by `formula`, the value it holds kept as the value it showed
    (what Excel saves; openpyxl writes a formula without one)."""
    import re
    import zipfile

    import openpyxl

    part = f"xl/worksheets/sheet{openpyxl.load_workbook(path).sheetnames.index(sheet) + 1}.xml"
    with zipfile.ZipFile(path) as z:
        parts = {i: z.read(i) for i in z.infolist()}
    for info in parts:
        if info.filename == part:
            parts[info], n = re.subn(rb'(<c r="%s"[^>]*>)' % cell.encode(),
                                     lambda m: m.group(1) + b"<f>" + formula.encode() + b"</f>", parts[info])
            assert n == 1
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():
            z.writestr(info, data)


@pytest.mark.parametrize("shown", ["#N/A", "#VALUE!", "#REF!", "'#N/A"])
def test_a_column_of_controles_showing_an_error_for_nothing_keeps_no_empty_row_under_the_findings(tmp_path, shown):
    """A column « Financeur » of the user's looking up each finding's code (=RECHERCHEV([@Code];…)) shows #N/A on the
    table's empty row, whose code is empty: both writers took that error for a note typed, and kept the empty row
    under the findings run after run — the button receiving the error, the copy the value the formula showed. An
    error alone says nothing, as a dash does (no one types #N/A for a note); a note on such a row is kept. So does
    the text « #N/A » (typed '#N/A), which the add-in sends as it sends the error."""
    from openpyxl.utils.cell import get_column_letter

    for typed, kept in ((shown, []), ("À revoir", ["À revoir"])):
        def fill(ws, c1, r1, empty, mine, typed=typed):
            ws.cell(empty, mine).value = typed.lstrip("'")
            if typed.startswith("'"):
                ws.cell(empty, mine).data_type = "s"

        path, c1, r1, empty, mine = _controles_ending_on_an_empty_row(tmp_path, f"controles-erreur-{len(kept)}", fill)
        if not kept and not typed.startswith("'"):
            _with_formula(path, layout.Sheet.CONTROLES, f"{get_column_letter(mine)}{empty}",
                          f"VLOOKUP({get_column_letter(c1 + 1)}{empty},Financeurs!A:B,2,FALSE)")
        payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
        assert [row[mine - 1] for row in payload["sheets"][_index(payload, layout.Sheet.CONTROLES)]["values"]][empty - 1] \
            == typed.lstrip("'")  # the add-in sends the error as its text
        _both_keep_under_the_findings(path, c1, r1, mine, kept, [payload])


@pytest.mark.parametrize("value", [b"<v/>", b"<v> </v>", b"<v>\t \n</v>"])
@pytest.mark.parametrize("kind", ["", ' t="n"', ' t="s"'])
def test_a_cell_of_controles_holding_an_empty_value_keeps_no_empty_row_under_the_findings(tmp_path, kind, value):
    """A cell of the user's column on the table's empty row saved as `<c><v/></c>`, a value element with nothing in
    it (some programs write one for a cell they leave empty): Excel and the add-in read it as an empty cell, and the
    button kept no row for it; the copy read a value there, took the row for a note typed and kept it under the
    findings at every run. Empty for both. So is a value of spaces alone (`<v> </v>`, a number of no digit): the copy
    kept its row, where the button, whatever the add-in sends for it (nothing, or the spaces), kept none."""
    import re
    import zipfile

    import openpyxl
    from openpyxl.utils.cell import get_column_letter

    path, c1, r1, empty, mine = _controles_ending_on_an_empty_row(
        tmp_path, "controles-v-vide", lambda ws, c1, r1, empty, mine: ws.cell(empty, mine, 7))
    part = f"xl/worksheets/sheet{openpyxl.load_workbook(path).sheetnames.index(layout.Sheet.CONTROLES) + 1}.xml"
    with zipfile.ZipFile(path) as z:
        parts = {i: z.read(i) for i in z.infolist()}
    for info in parts:
        if info.filename == part:
            cell = f"{get_column_letter(mine)}{empty}".encode()
            parts[info], n = re.subn(rb'<c r="%s"[^>]*>\s*<v>7</v>\s*</c>' % cell,
                                     b'<c r="%s"%s>%s</c>' % (cell, kind.encode(), value), parts[info])
            assert n == 1
    # (the add-in's payload, its cell set below as the add-in may send it: openpyxl reads no number of spaces)
    payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():
            z.writestr(info, data)

    payloads = []
    for sent in ((None,) if value == b"<v/>" else (None, value[3:-4].decode())):
        payloads.append(copy.deepcopy(payload))
        payloads[-1]["sheets"][_index(payload, layout.Sheet.CONTROLES)]["values"][empty - 1][mine - 1] = sent
    _both_keep_under_the_findings(path, c1, r1, mine, [], payloads)  # no row kept under the findings


@pytest.mark.parametrize("value", [b"<v/>", b"<v>99999</v>"])
def test_a_cell_of_controles_own_columns_holding_an_empty_text_value_is_read_as_empty(tmp_path, value):
    """« Code » of T_Controles' empty row saved as `<c t="s"><v/></c>` (a shared text of no index, written by some
    programs for an empty cell; Excel, the add-in and the validation read an empty cell): `--annoter` stopped on
    « erreur interne inattendue (TypeError : int() argument must be … not 'NoneType') », no copy written. Read as
    empty, the findings listed and the row, which holds nothing, not kept. The index of a text the file has not (a
    damaged file, which Excel repairs) stopped it on « (IndexError : list index out of range) »: the copy is refused
    as for any part damaged, in French."""
    from acv_xl.outputs.annotate import AnnotationError
    import re
    import zipfile

    import openpyxl
    from openpyxl.utils.cell import get_column_letter, range_boundaries

    from acv_xl.outputs.annotate import annotate

    path, out = tmp_path / "controles-code-vide.xlsx", tmp_path / "annotee.xlsx"
    findings = validate_file(_faulty()[0]).findings
    wb = openpyxl.load_workbook(_faulty()[0])
    ws = wb[layout.Sheet.CONTROLES]
    t = ws.tables[layout.T_CONTROLES.name]
    c1, r1, c2, _ = range_boundaries(t.ref)
    for i, f in enumerate(findings, start=r1 + 1):
        ws.cell(i, c1).value, ws.cell(i, c1 + 1).value = f.gravite.libelle, f.code
    empty = r1 + len(findings) + 1
    ws.cell(empty, c1 + 1).value = 7
    t.ref = t.autoFilter.ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{empty}"
    wb.save(path)
    part = f"xl/worksheets/sheet{wb.sheetnames.index(layout.Sheet.CONTROLES) + 1}.xml"
    with zipfile.ZipFile(path) as z:
        parts = {i: z.read(i) for i in z.infolist()}
    for info in parts:
        if info.filename == part:
            cell = f"{get_column_letter(c1 + 1)}{empty}".encode()
            parts[info], n = re.subn(rb'<c r="%s"[^>]*>\s*<v>7</v>\s*</c>' % cell,
                                     b'<c r="%s" t="s">%s</c>' % (cell, value), parts[info])
            assert n == 1
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():
            z.writestr(info, data)
    report = validate_file(path)
    if value != b"<v/>":
        with pytest.raises(AnnotationError, match="n'a pas pu être écrite : une partie du classeur controles-code-vide"
                                                  ".xlsx est illisible ou endommagée"):
            annotate(path, out, report, today=TODAY)
        return
    assert openpyxl.load_workbook(path)[layout.Sheet.CONTROLES].cell(empty, c1 + 1).value is None
    annotate(path, out, report, today=TODAY)
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    n = len(report.findings)
    assert ws.tables[layout.T_CONTROLES.name].ref == f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1 + n}"
    assert [ws.cell(r, c1 + 1).value for r in range(r1 + 1, r1 + n + 1)] == [f.code for f in report.findings]
