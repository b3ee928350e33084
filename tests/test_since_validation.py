"""What changed since the last validation: the validated data kept in a hidden sheet by
`valider --annoter` and by the Valider button, read back to list the changes when the fingerprint
says « modifié depuis la validation » (text report, JSON `depuis_validation`, `Contrôles`).

The snapshot changes neither the fingerprint nor the findings; the fingerprint stays the judge.
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acv_xl.checks.comparison import compare
from acv_xl.checks.fingerprint import fingerprint
from acv_xl.checks.validate import (
    ETAT_MODIFIE,
    ETAT_VALIDE,
    SNAPSHOT_ABSENT,
    validate_file,
)
from acv_xl.cli import main
from acv_xl.contract import layout
from acv_xl.contract.model import LigneFinancement, build_row
from acv_xl.contract.values import ExcelError, NoCachedValue, fmt_euros
from acv_xl.outputs import libreoffice
from acv_xl.outputs.examples import FAUTES_ATTENDUES, example_conventions
from acv_xl.outputs.template import build_workbook
from acv_xl.reading import snapshot
from acv_xl.reading.read import read_file
from udfs import scripts
from xlwings_payload import payload_from_xlsx, remote_book

F = layout.T_FINANCEMENTS
CLEAN = sorted(k for k in example_conventions() if k not in FAUTES_ATTENDUES)


def _json(capsys, *args) -> tuple[int, dict]:
    capsys.readouterr()  # what earlier commands printed
    code = main([str(a) for a in args] + ["--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def _validated(tmp_path: Path, name: str = "arras.xlsx") -> Path:
    src = tmp_path / f"source-{name}"
    build_workbook(src, example_conventions()[name])
    out = tmp_path / f"valide-{name}"
    assert main(["valider", str(src), "--annoter", str(out)]) == 0
    return out


def _edit(path: Path, out: Path) -> tuple[float, str]:
    """Raise the first financing line by 25 000 € and change the convention's label (openpyxl)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.Sheet.FINANCEMENT]
    cell = ws["F4"]
    old = cell.value
    cell.value = old + 25_000
    wb[layout.Sheet.PROJET]["B5"].value = "Arras — avenant n° 1"
    wb.save(out)
    return old, "F4"


def _workbook_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("xl/workbook.xml").decode("utf-8")


# ------------------------------------------------------------------------------ the snapshot itself
@pytest.mark.parametrize("name", sorted(example_conventions()))
def test_snapshot_reads_back_the_validated_convention(name):
    conv = example_conventions()[name]
    cells = snapshot.encode(conv, fingerprint(conv))
    assert cells[0] == snapshot.TITLE and all(len(c) <= 32_767 for c in cells)
    assert all(c.startswith(snapshot.PREFIX) for c in cells[1:])
    back, empreinte = snapshot.decode(cells)
    assert empreinte == fingerprint(conv) == fingerprint(back)
    assert compare(conv, back).changes == []


def test_a_damaged_snapshot_is_said_so():
    conv = example_conventions()["arras.xlsx"]
    cells = snapshot.encode(conv, fingerprint(conv))
    assert snapshot.decode([snapshot.TITLE]) is None
    with pytest.raises(snapshot.SnapshotError):
        snapshot.decode(cells[:1] + [cells[1][:-10]])


def test_a_snapshot_inflating_past_its_bound_is_refused_without_inflating_it():
    import base64
    import resource
    import zlib

    deflater, chunk = zlib.compressobj(9), b" " * (1 << 20)
    packed = b"".join(deflater.compress(chunk) for _ in range(1024)) + deflater.flush()  # 1 GiB inflated
    bomb = base64.b64encode(packed).decode("ascii")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(snapshot.SnapshotError):
        snapshot.decode([snapshot.TITLE, snapshot.PREFIX + bomb])
    # at most the bound was inflated (ru_maxrss in KiB), never the gigabyte
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 3 * snapshot.MAX_INFLATED // 1024


# ------------------------------------------------------------------------------ valider --annoter
def test_annoter_keeps_the_validated_data_in_a_hidden_sheet_without_changing_fingerprint_or_findings(tmp_path):
    src = tmp_path / "arras.xlsx"
    build_workbook(src, example_conventions()["arras.xlsx"])
    out = tmp_path / "valide.xlsx"
    assert main(["valider", str(src), "--annoter", str(out)]) == 0
    assert re.search(r'<sheet name="' + layout.SNAPSHOT_SHEET + r'" sheetId="\d+" state="hidden"', _workbook_xml(out))
    before, after = validate_file(src), validate_file(out)
    assert after.empreinte == before.empreinte
    assert [(f.code, f.cellule) for f in after.findings] == [(f.code, f.cellule) for f in before.findings]
    assert after.etat == ETAT_VALIDE and after.depuis_validation is None
    # the buttons' drawing is untouched
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        drawings = [n for n in a.namelist() if n.startswith("xl/drawings/")]
        assert drawings and all(a.read(n) == b.read(n) for n in drawings)
    # validated again: still one snapshot sheet
    again = tmp_path / "valide2.xlsx"
    assert main(["valider", str(out), "--annoter", str(again)]) == 0
    assert _workbook_xml(again).count(f'name="{layout.SNAPSHOT_SHEET}"') == 1


def test_valider_lists_what_changed_since_the_validation(tmp_path, capsys):
    validated = _validated(tmp_path)
    edited = tmp_path / "modifie.xlsx"
    old, cell = _edit(validated, edited)
    code, data = _json(capsys, "valider", edited)
    assert data["etat"] == ETAT_MODIFIE
    got = {(c["type"], c["champ"], c["cellule_apres"]) for c in data["depuis_validation"]}
    assert got == {("modification", F.header("montant"), cell),
                   ("modification", layout.NAMED_BY_NAME["acv_libelle"].label, "B5")}
    amount = next(c for c in data["depuis_validation"] if c["champ"] == F.header("montant"))
    assert amount["avant"] == old and amount["apres"] == old + 25_000
    capsys.readouterr()
    main(["valider", str(edited)])
    text = capsys.readouterr().out
    assert "Modifié depuis la validation du " in text and "2 changements" in text
    # a dash after the date: one colon, the count's own, not « … du 02/03/2026 : 2 changements : … »
    assert re.search(r"Modifié depuis la validation du \d\d/\d\d/\d{4} — 2 changements : ", text), text
    assert "Montant (€) : " in text and "« Arras » → « Arras — avenant n° 1 »" in text

    # the annotated copy lists them in Contrôles, as information rows pointing at the cells
    annotated = tmp_path / "annote.xlsx"
    main(["valider", str(edited), "--annoter", str(annotated)])
    capsys.readouterr()
    ws = openpyxl.load_workbook(annotated)[layout.Sheet.CONTROLES]
    rows = [r for r in ws.iter_rows(values_only=True) if r[0] == "Information" and r[5]
            and str(r[5]).startswith("Modifié depuis la validation")]
    assert {(r[2], r[3]) for r in rows} == {(layout.Sheet.FINANCEMENT, cell), (layout.Sheet.PROJET, "B5")}
    assert all(re.match(r"Modifié depuis la validation du \d\d/\d\d/\d{4} — (Modification|Libellé)", r[5])
               for r in rows), [r[5] for r in rows]


def test_a_long_label_changed_since_the_validation_is_cut_in_the_text_never_in_the_json(tmp_path, capsys):
    """`comparer` cuts a long text changed to 200 characters in the terminal; `valider`, listing the same
    changes since the validation, quoted a libellé of 20 000 characters whole, in the « Convention »
    line and twice more in one line of its change. Cut alike, a note says where to read it whole."""
    validated = _validated(tmp_path)
    edited = tmp_path / "modifie.xlsx"
    wb = openpyxl.load_workbook(validated)
    long_label = "Arras " + "🏛" * 10_000
    wb[layout.Sheet.PROJET]["B5"].value = long_label
    wb.save(edited)
    capsys.readouterr()
    main(["valider", str(edited)])
    text = capsys.readouterr().out
    assert "Modifié depuis la validation" in text and "« Arras » → « Arras " + "🏛" * 50 in text, text[:2000]
    assert max(map(len, text.splitlines())) < 600 and "\ufffd" not in text
    assert "🏛…" in text and "« --format json » les donne entières" in text
    _code, data = _json(capsys, "valider", edited)
    assert [c["apres"] for c in data["depuis_validation"]] == [long_label]


def test_without_kept_data_the_reason_is_given_and_errors_empty_the_snapshot(tmp_path, capsys):
    validated = _validated(tmp_path)
    # an older validation: a fingerprint stored, no hidden sheet
    wb = openpyxl.load_workbook(validated)
    del wb[layout.SNAPSHOT_SHEET]
    wb[layout.Sheet.PROJET]["B5"].value = "Autre libellé"
    old = tmp_path / "ancien.xlsx"
    wb.save(old)
    _code, data = _json(capsys, "valider", old)
    assert data["etat"] == ETAT_MODIFIE and data["depuis_validation"] is None
    assert data["depuis_validation_motif"] == SNAPSHOT_ABSENT
    # the sheet deleted from a workbook validated today is one cause, never only « an older version »
    assert "(feuille masquée « Données validées » supprimée, ou classeur validé par une version" in SNAPSHOT_ABSENT

    # a workbook that no longer validates: fingerprint and kept data emptied together
    wb = openpyxl.load_workbook(validated)
    wb[layout.Sheet.FINANCEMENT]["F4"].value = "beaucoup"
    broken = tmp_path / "casse.xlsx"
    wb.save(broken)
    out = tmp_path / "casse-annote.xlsx"
    assert main(["valider", str(broken), "--annoter", str(out)]) == 1
    capsys.readouterr()
    kept = openpyxl.load_workbook(out)[layout.SNAPSHOT_SHEET]
    assert all(c.value is None for row in kept.iter_rows() for c in row)


# ------------------------------------------------------------------------------ the Valider button
def _actions(book):
    return book.json()["actions"]


def test_button_keeps_the_validated_data_and_lists_the_changes_since(tmp_path):
    src = tmp_path / "arras.xlsx"
    build_workbook(src, example_conventions()["arras.xlsx"])
    book = remote_book(payload_from_xlsx(src, include=scripts.INCLUDE))
    report = scripts.run_valider(book, today=date(2026, 11, 26))
    actions = _actions(book)
    assert any(a["func"] == "addSheet" and a["args"][1] == layout.SNAPSHOT_SHEET for a in actions)
    assert any(a["func"] == "setSheetVisibility" and a["args"] == ["Hidden"] for a in actions)
    written = [a["values"] for a in actions if a["func"] == "setValues"
               and any(isinstance(r[0], str) and r[0].startswith(snapshot.PREFIX) for r in a["values"])]
    assert len(written) == 1
    back, _ = snapshot.decode([r[0] for r in written[0]])
    assert fingerprint(back) == report.empreinte

    # the same data after a change, as the add-in sends it: the button lists the change in Contrôles
    validated = _validated(tmp_path)
    edited = tmp_path / "modifie.xlsx"
    _edit(validated, edited)
    book = remote_book(payload_from_xlsx(edited, include=scripts.INCLUDE))
    report = scripts.run_valider(book, today=date(2026, 11, 26))
    assert report.etat == ETAT_MODIFIE and len(report.depuis_validation.changes) == 2
    texts = [v for a in _actions(book) if a["func"] == "setValues" for row in a["values"] for v in row]
    assert sum(isinstance(v, str) and v.startswith("Modifié depuis la validation du ") for v in texts) == 2


# ------------------------------------------------------------------------------ LibreOffice keeps it
@pytest.mark.libreoffice
def test_libreoffice_round_trip_keeps_the_hidden_sheet_and_its_data(tmp_path, capsys):
    if libreoffice.soffice() is None:
        pytest.fail(libreoffice.INSTALL_HINT)
    validated = _validated(tmp_path)
    saved_dir = tmp_path / "lo"
    saved_dir.mkdir()
    saved = libreoffice.convert(validated, "xlsx", saved_dir)[0]
    assert re.search(r'<sheet name="' + layout.SNAPSHOT_SHEET + r'"[^>]*state="hidden"', _workbook_xml(saved))
    with snapshot_source(saved) as cells:
        back, empreinte = snapshot.decode(cells)
    assert fingerprint(back) == empreinte == fingerprint(read_file(validated))
    # then edited and checked again: the changes since the validation are listed
    edited = tmp_path / "lo-modifie.xlsx"
    wb = openpyxl.load_workbook(saved)
    wb[layout.Sheet.PROJET]["B5"].value = "Arras — avenant n° 2"
    wb.save(edited)
    _code, data = _json(capsys, "valider", edited)
    assert data["etat"] == ETAT_MODIFIE
    assert [(c["champ"], c["apres"]) for c in data["depuis_validation"]] == \
        [(layout.NAMED_BY_NAME["acv_libelle"].label, "Arras — avenant n° 2")]


class snapshot_source:  # noqa: N801 — a context manager read like a function
    def __init__(self, path: Path):
        from acv_xl.reading.source_file import FileSource

        self.source = FileSource(path)

    def __enter__(self):
        return snapshot.read_cells(self.source)

    def __exit__(self, *exc):
        self.source.close()


def test_rows_only_resorted_since_the_validation_say_nothing_changed(tmp_path, capsys):
    validated = _validated(tmp_path)
    wb = openpyxl.load_workbook(validated)
    ws = wb[layout.Sheet.FINANCEMENT]
    first, second = [[c.value for c in ws[r]] for r in (4, 5)]
    for j, v in enumerate(second, start=1):  # two lines swapped: other data for the fingerprint…
        ws.cell(4, j).value = v
    for j, v in enumerate(first, start=1):
        ws.cell(5, j).value = v
    resorted = tmp_path / "trie.xlsx"
    wb.save(resorted)
    _code, data = _json(capsys, "valider", resorted)
    assert data["etat"] == ETAT_MODIFIE and data["depuis_validation"] == []  # …but no change
    capsys.readouterr()
    main(["valider", str(resorted)])
    assert "aucune donnée n'a changé" in capsys.readouterr().out


def test_an_edited_hidden_sheet_is_said_damaged_never_trusted(tmp_path, capsys):
    validated = _validated(tmp_path)
    wb = openpyxl.load_workbook(validated)
    wb[layout.Sheet.PROJET]["B5"].value = "Autre libellé"
    kept = wb[layout.SNAPSHOT_SHEET]
    kept["A2"].value = kept["A2"].value[:-8] + "AAAAAAAA"  # someone typed in the hidden sheet
    tampered = tmp_path / "altere.xlsx"
    wb.save(tampered)
    _code, data = _json(capsys, "valider", tampered)
    assert data["etat"] == ETAT_MODIFIE and data["depuis_validation"] is None
    assert "endommagées" in data["depuis_validation_motif"]


@pytest.mark.parametrize("number, literal", [
    (float("nan"), None), (Decimal("Infinity"), None), (float("nan"), "NaN"),
    # a bare « 1e999 », read as an infinity by `json.loads`; numbers finite but past a float's range
    (float("inf"), "1e999"), (Decimal("1E+400"), None), (10 ** 400, None)],
    ids=["float", "decimal", "json", "json-1e999", "decimal-1e400", "int-10**400"])
def test_kept_data_holding_a_number_no_cell_holds_are_said_damaged(tmp_path, capsys, number, literal):
    """The reader reads a NaN, an infinity or a number past a float's range as #NUM!: one in the kept data
    is damage or forgery, even with the Accueil's fingerprint rewritten to match them. Said « endommagées »
    like any other damage; taken for validated data, it stopped `valider` on « erreur interne inattendue
    (ValueError : nombre non fini à afficher : nan) », wrote « NaN » into its JSON (no longer JSON), and
    made `annexe --depuis-validation` fail (TypeError) instead of writing or refusing. A bare « 1e999 »
    (which `json.loads` reads as an infinity) or a Decimal 1E+400 did the same; 10**400 was listed as a
    montant of 400 digits."""
    _said_damaged(tmp_path, capsys, _kept_montant(tmp_path, number, literal))


def _kept_montant(tmp_path: Path, value, literal: str | None, edit=None) -> Path:
    """A validated workbook whose kept data hold `value` as the first financing line's montant — written
    by the encoder, or as the JSON `literal` when given, or by the encoder then changed by `edit(data)` —
    with the Accueil's fingerprint rewritten to match them (a forger's work: the fingerprint is no secret)."""
    import base64
    import zlib

    validated = _validated(tmp_path)
    conv = read_file(validated)
    lines = list(conv.financements)
    lines[0] = build_row(LigneFinancement, {**lines[0].raw, "montant": value}, lines[0].cells, lines[0].sheet,
                         lines[0].row)
    kept = conv.model_copy(update={"financements": lines})
    cells = snapshot.encode(kept, fingerprint(kept))
    if edit:
        data = snapshot.data(kept, fingerprint(kept))
        edit(data)
        text = base64.b64encode(zlib.compress(json.dumps(data).encode("utf-8"))).decode("ascii")
        cells = [snapshot.TITLE, snapshot.PREFIX + text]
    if literal:  # a bare literal in the JSON (`json.dumps` writes NaN for a float NaN), not the encoder's {"x": …}
        data = snapshot.data(conv, fingerprint(kept))
        data["tableaux"]["T_Financements"]["lignes"][0][1 + data["tableaux"]["T_Financements"]["colonnes"].index(
            "montant")] = "@montant@"
        text = json.dumps(data).replace('"@montant@"', literal)
        assert literal in text
        text = base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")
        cells = [snapshot.TITLE, snapshot.PREFIX + text]
    wb = openpyxl.load_workbook(validated)
    sheet = wb[layout.SNAPSHOT_SHEET]
    for row in sheet.iter_rows():
        for c in row:
            c.value = None
    for i, text in enumerate(cells, start=1):
        sheet.cell(i, 1).value = text
    nc = layout.NAMED_BY_NAME["acv_empreinte"]
    wb[nc.sheet][nc.cell].value = fingerprint(kept)
    wb.save(tampered := tmp_path / "forge.xlsx")
    return tampered


def _said_damaged(tmp_path: Path, capsys, tampered: Path) -> None:
    """`valider` (text and JSON) and `annexe --depuis-validation` say the kept data damaged, never list them."""
    capsys.readouterr()
    assert main(["valider", str(tampered)]) == 0  # its data validate: the kept ones only explained them
    assert "endommagées" in capsys.readouterr().out
    _code, data = _json(capsys, "valider", tampered)  # JSON, NaN refused by the parser
    assert data["etat"] == ETAT_MODIFIE and data["depuis_validation"] is None
    assert "endommagées" in data["depuis_validation_motif"]
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(tampered), "--depuis-validation", "--brouillon", "-o", str(out)]) == 2
    assert "endommagées" in capsys.readouterr().err and not out.exists()


# (the value the forged kept data decode to, as JSON): what no reader gives for a cell
NO_CELL_HOLDS = {
    "liste": ([1, 2], "[1, 2]"),
    "date-an-1": (datetime(1, 1, 1), '{"t": "0001-01-01T00:00:00"}'),
    "jour-an-1": (date(1, 1, 1), '{"d": "0001-01-01"}'),
    "veille-du-calendrier": (date(1899, 12, 29), '{"d": "1899-12-29"}'),
    "date-a-fuseau": (datetime(2026, 1, 1, tzinfo=timezone.utc), '{"t": "2026-01-01T00:00:00+00:00"}'),
    "heure-a-fuseau": (time(10, tzinfo=timezone.utc), '{"h": "10:00:00+00:00"}'),
    "erreur-vide": (ExcelError(""), '{"e": ""}'),
    "erreur-liste": (ExcelError("[1]"), '{"e": [1]}'),
    "formule-sans-egal": (NoCachedValue("abc"), '{"f": "abc"}'),
    "formule-nombre": (NoCachedValue("5"), '{"f": 5}'),
}


@pytest.mark.parametrize("value, literal", NO_CELL_HOLDS.values(), ids=NO_CELL_HOLDS.keys())
def test_kept_data_holding_a_value_no_cell_holds_are_said_damaged(tmp_path, capsys, value, literal):
    """No reader gives a list, a day before Excel's first (30/12/1899, its serial 0), a date or time of a
    time zone, an error without its text or a formula without its « = »: one in the kept data is damage or
    forgery, even with the Accueil's fingerprint rewritten to match. Taken for validated data, `valider`
    listed « Montant (€) : [1, 2] → 310 000,00 € » or « 01/01/1 → 310 000,00 € », its JSON and the annex
    of the changes since the same."""
    with pytest.raises(snapshot.SnapshotError):
        snapshot.decode(_cells_holding(literal))
    _said_damaged(tmp_path, capsys, _kept_montant(tmp_path, value, literal))


def _cells_holding(literal: str) -> list[str]:
    """The snapshot cells of the example « arras » whose first montant is the JSON `literal`."""
    import base64
    import zlib

    data = snapshot.data(example_conventions()["arras.xlsx"], None)
    table = data["tableaux"]["T_Financements"]
    table["lignes"][0][1 + table["colonnes"].index("montant")] = "@montant@"
    text = json.dumps(data).replace('"@montant@"', literal)
    return [snapshot.TITLE, snapshot.PREFIX + base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")]


def _financing(data: dict) -> dict:
    return data["tableaux"]["T_Financements"]


def _named(data: dict) -> list:
    return data["noms"]["acv_libelle"]


# where the kept data say a value was, forged into what no reader gives (the fingerprint covers values only)
NO_WORKBOOK_HAS = {
    "numero-de-ligne-liste": lambda d: _financing(d)["lignes"][0].__setitem__(0, [4]),
    "numero-de-ligne-texte": lambda d: _financing(d)["lignes"][0].__setitem__(0, "4"),
    "numero-de-ligne-hors-grille": lambda d: _financing(d)["lignes"][0].__setitem__(0, 1_048_577),
    "numero-de-ligne-negatif": lambda d: _financing(d)["lignes"][0].__setitem__(0, -4),
    "colonne-liste": lambda d: _financing(d)["lettres"].__setitem__(_financing(d)["colonnes"].index("montant"), ["F"]),
    "colonne-chiffres": lambda d: _financing(d)["lettres"].__setitem__(_financing(d)["colonnes"].index("montant"), "F1"),
    "colonne-hors-grille": lambda d: _financing(d)["lettres"].__setitem__(_financing(d)["colonnes"].index("montant"),
                                                                          "XFE"),
    "feuille-nombre": lambda d: _financing(d).__setitem__("feuille", 12),
    "nom-feuille-liste": lambda d: _named(d).__setitem__(0, ["Projet"]),
    "nom-cellule-dict": lambda d: _named(d).__setitem__(1, {"a": 1}),
    "nom-cellule-hors-grille": lambda d: _named(d).__setitem__(1, "B0"),
}


@pytest.mark.parametrize("edit", NO_WORKBOOK_HAS.values(), ids=NO_WORKBOOK_HAS.keys())
def test_kept_data_placing_a_value_where_no_workbook_has_a_cell_are_said_damaged(tmp_path, capsys, edit):
    """The kept data say each value's sheet and cell, which `valider`, its JSON and the annex list with
    the change: a row number or a column forged into a list, a text or off Excel's grid was listed as
    « Modification F[4] → F4 » or « ['F']4 → F4 », a sheet of a number as the sheet « 12 ». No reader gives
    them: damage or forgery, even with the Accueil's fingerprint rewritten to match."""
    _said_damaged(tmp_path, capsys, _kept_montant(tmp_path, 5.0, None, edit))


@pytest.mark.parametrize("value", [
    "abc", "", True, 0, 1.5, -2, 1e300, None, ExcelError("#N/A"), ExcelError("#GETTING_DATA"), NoCachedValue("=A1+1"),
    date(1899, 12, 30), datetime(1899, 12, 30, 12), date(1900, 1, 1), datetime(2026, 3, 1, 8, 30), date(9999, 12, 31),
    time(0), time(23, 59, 59, 999000), Decimal("1234.56")], ids=repr)
def test_every_value_a_reader_gives_reads_back_from_the_kept_data(value):
    """What the readers give for a cell (COM and Office.js date a time alone 30/12/1899) comes back as it
    was kept: the refusals above take nothing a workbook holds for damage."""
    conv = example_conventions()["arras.xlsx"]
    lines = list(conv.financements)
    lines[0] = build_row(LigneFinancement, {**lines[0].raw, "montant": value})
    kept = conv.model_copy(update={"financements": lines})
    back, _ = snapshot.decode(snapshot.encode(kept, None))
    got = back.financements[0].raw.get("montant")
    assert got == value and got.__class__ is value.__class__


def test_a_long_comment_changed_since_the_validation_fits_its_cell_in_both_controles(tmp_path):
    """A 20 000-character comment replaced by another since the validation: the « Modifié depuis… » row
    holds both (40 000 characters), past the 32 767 a cell holds — a copy Excel must repair (`--annoter`),
    a write Excel refuses whole (the button). Cut with « … » in both."""
    src = tmp_path / "source.xlsx"
    build_workbook(src, example_conventions()["arras.xlsx"])
    wb = openpyxl.load_workbook(src)
    wb[layout.Sheet.FINANCEMENT]["J4"].value = "A" * 20_000
    wb.save(src)
    validated = tmp_path / "valide.xlsx"
    assert main(["valider", str(src), "--annoter", str(validated)]) == 0
    wb = openpyxl.load_workbook(validated)
    wb[layout.Sheet.FINANCEMENT]["J4"].value = "B" * 20_000
    wb.save(src)
    out = tmp_path / "annote.xlsx"
    assert main(["valider", str(src), "--annoter", str(out)]) == 0
    ws = openpyxl.load_workbook(out)[layout.Sheet.CONTROLES]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    since = [t for t in texts if t.startswith("Modifié depuis la validation précédente (")]  # the copy validates
    assert len(since) == 1 and len(since[0]) <= 32_767 and since[0].endswith("…")
    book = remote_book(payload_from_xlsx(src, exclude=scripts.EXCLUDE))
    scripts.run_valider(book, today=date(2026, 11, 26))
    written = [v for a in _actions(book) if a["func"] == "setValues" for r in a["values"] for v in r]
    assert any(isinstance(v, str) and v.startswith("Modifié depuis") for v in written)
    assert max(len(v) for v in written if isinstance(v, str)) <= 32_767


def test_changes_written_into_a_workbook_validated_anew_are_said_since_the_previous_validation(tmp_path, capsys):
    """The avenant validated (`--annoter`, or the button in the workbook itself): its Accueil read
    « Validé », today, and its Contrôles « Modifié depuis la validation du <today> — … » for each of
    the avenant's changes, as if it were modified since the validation it has just been given. Said
    « depuis la validation précédente (…) » there; a copy that does not validate (an error) still
    reads « modifié depuis la validation du … », which it is."""
    from test_comparer import _avenant_of

    validated = _validated(tmp_path)
    avenant = _avenant_of(validated, tmp_path / "avenant.xlsx")
    when = f"{date.today():%d/%m/%Y}"
    copy = tmp_path / "avenant-valide.xlsx"
    assert main(["valider", str(avenant), "--annoter", str(copy)]) == 0
    capsys.readouterr()
    wb = openpyxl.load_workbook(copy)
    assert wb[layout.Sheet.ACCUEIL][layout.NAMED_BY_NAME["acv_statut"].cell].value == "Validé"
    since = [r[5] for r in wb[layout.Sheet.CONTROLES].iter_rows(values_only=True) if r[0] == "Information"]
    assert len(since) == 2 and all(m.startswith(f"Modifié depuis la validation précédente ({when}) — ")
                                   for m in since), since

    # the button, in the workbook itself: the same words when it validates
    book = remote_book(payload_from_xlsx(avenant, include=scripts.INCLUDE))
    report = scripts.run_valider(book, today=date(2026, 11, 26))
    assert report.valide and len(report.depuis_validation.changes) == 2
    texts = [v for a in _actions(book) if a["func"] == "setValues" for row in a["values"] for v in row]
    assert sum(isinstance(v, str) and v.startswith(f"Modifié depuis la validation précédente ({when}) — ")
               for v in texts) == 2

    # not validated (an error): modified since its validation, as said
    broken = tmp_path / "casse.xlsx"
    wb = openpyxl.load_workbook(avenant)
    wb[layout.Sheet.FINANCEMENT]["F4"].value += 1
    wb.save(broken)
    out = tmp_path / "casse-annote.xlsx"
    assert main(["valider", str(broken), "--annoter", str(out)]) == 1
    rows = [r[5] for r in openpyxl.load_workbook(out)[layout.Sheet.CONTROLES].iter_rows(values_only=True)
            if r[0] == "Information"]
    assert rows and all(m.startswith(f"Modifié depuis la validation du {when} — ") for m in rows), rows


def test_lines_only_sorted_in_a_workbook_validated_anew_are_not_sent_to_be_validated_again(tmp_path, capsys):
    """Two financing lines swapped in a validated workbook, then validated (`--annoter`, or the button
    in the workbook itself): its Accueil read « Validé », today, and its Contrôles « … aucune donnée
    n'a changé … ; validez de nouveau pour enregistrer ce nouvel état », the very thing just done.
    There the row says this validation records it; the text report, which validates nothing, still
    sends the user to validate."""
    from acv_xl.outputs.comparison_report import NOTHING_CHANGED, NOTHING_CHANGED_REVALIDATED

    validated = _validated(tmp_path)
    wb = openpyxl.load_workbook(validated)
    ws = wb[layout.Sheet.FINANCEMENT]
    for col in range(1, ws.max_column + 1):
        ws.cell(4, col).value, ws.cell(5, col).value = ws.cell(5, col).value, ws.cell(4, col).value
    sorted_ = tmp_path / "trie.xlsx"
    wb.save(sorted_)
    copy = tmp_path / "trie-valide.xlsx"
    assert main(["valider", str(sorted_), "--annoter", str(copy)]) == 0
    assert NOTHING_CHANGED in " ".join(capsys.readouterr().out.split())
    wb = openpyxl.load_workbook(copy)
    assert wb[layout.Sheet.ACCUEIL][layout.NAMED_BY_NAME["acv_statut"].cell].value == "Validé"
    since = [r[5] for r in wb[layout.Sheet.CONTROLES].iter_rows(values_only=True) if r[0] == "Information"]
    assert since == [f"Modifié depuis la validation précédente ({date.today():%d/%m/%Y}) — "
                     f"{NOTHING_CHANGED_REVALIDATED}."], since
    assert "validez de nouveau" not in since[0]

    book = remote_book(payload_from_xlsx(sorted_, include=scripts.INCLUDE))
    assert scripts.run_valider(book, today=date(2026, 11, 26)).valide
    texts = [v for a in _actions(book) if a["func"] == "setValues" for row in a["values"] for v in row]
    assert any(isinstance(v, str) and v.endswith(f"— {NOTHING_CHANGED_REVALIDATED}.") for v in texts)
    assert not any(isinstance(v, str) and "validez de nouveau" in v for v in texts)


def test_a_statut_changed_says_the_amount_of_its_line_wherever_the_change_is_shown(tmp_path, capsys):
    """A line passed from « Sollicité » to « Acquis » read « Statut : « Sollicité » → « Acquis » » in
    `valider`'s text, its JSON, `Contrôles` and every output of `comparer`: only the annex said how
    much. A comité reads the amount obtained wherever the change is shown, worded in one place; a
    line passed to « Refusé » says the amount it counted for before (out of the totals now)."""
    validated = _validated(tmp_path, "bethune-bruay.xlsx")
    wb = openpyxl.load_workbook(validated)
    ws = wb[layout.Sheet.FINANCEMENT]
    headers = [c.value for c in ws[3]]
    statut, montant = headers.index(F.header("statut")), headers.index(F.header("montant"))
    rows = [r for r in ws.iter_rows(min_row=4) if r[statut].value == "Sollicité"]
    acquired, refused = rows[0], rows[1]
    acquired[statut].value = "Acquis"
    refused[statut].value, refused[montant].value = "Refusé", refused[montant].value + 1_000
    amounts = {acquired[statut].coordinate: acquired[montant].value,
               refused[statut].coordinate: refused[montant].value - 1_000}
    edited = tmp_path / "avenant.xlsx"
    wb.save(edited)
    said = {cell: f"Statut (ligne de {fmt_euros(a)}) : " for cell, a in amounts.items()}

    code, data = _json(capsys, "valider", edited)
    got = {c["cellule_apres"]: c["montant"] for c in data["depuis_validation"] if c["champ"] == F.header("statut")}
    assert got == amounts and all(c["montant"] is None for c in data["depuis_validation"]
                                  if c["champ"] != F.header("statut")), data["depuis_validation"]
    capsys.readouterr()
    main(["valider", str(edited)])
    text = capsys.readouterr().out
    assert all(s + "« Sollicité » → " in text for s in said.values()), text
    annotated = tmp_path / "annote.xlsx"
    main(["valider", str(edited), "--annoter", str(annotated)])
    controles = {r[3]: r[5] for r in openpyxl.load_workbook(annotated)[layout.Sheet.CONTROLES].iter_rows(
        values_only=True) if r[0] == "Information" and r[3] in said}
    assert set(controles) == set(said) and all(said[c] in t for c, t in controles.items()), controles

    capsys.readouterr()
    code, out_text = main(["comparer", str(validated), str(edited), "-o", str(tmp_path / "ecarts.xlsx")]), \
        capsys.readouterr().out
    assert code == 1 and all(s in out_text for s in said.values()), out_text
    code, data = _json(capsys, "comparer", validated, edited)
    assert {c["cellule_apres"]: c["montant"] for c in data["changements"] if c["montant"] is not None} == amounts
    champs = {r[8]: r[4] for r in openpyxl.load_workbook(tmp_path / "ecarts.xlsx")["Changements"]
              .iter_rows(values_only=True) if r[4] and str(r[4]).startswith("Statut")}
    assert champs == {cell: s[:-3] for cell, s in said.items()}, champs
