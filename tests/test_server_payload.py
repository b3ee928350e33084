"""The workbook of a button's call, checked at the server's boundary (udfs/server_payload.py): the
add-in's payloads pass, forged ones get a precise French 400, never Python's English."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

import xlwings_payload
from _server_program import clean_env
from udfs import scripts
from udfs.server_payload import check_book

ROOT = Path(__file__).resolve().parents[1]
EXEMPLES = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))


@pytest.mark.parametrize("path", EXEMPLES, ids=lambda p: p.name)
def test_the_add_in_s_payloads_pass(path):
    for kw in ({"include": scripts.INCLUDE}, {}):
        assert check_book(xlwings_payload.payload_from_xlsx(path, **kw)) is None


def _payload() -> tuple[dict, int]:
    p = xlwings_payload.payload_from_xlsx(EXEMPLES[0], include=scripts.INCLUDE)
    return p, next(i for i, s in enumerate(p["sheets"]) if s.get("tables"))


def _forged() -> list[tuple[str, dict]]:
    base, ti = _payload()
    out = []

    def forge(where, change):
        d = copy.deepcopy(base)
        change(d)
        out.append((where, d))

    forge("book : objet attendu", lambda d: d.update(book=1))
    forge("names[0] : objet attendu", lambda d: d["names"].__setitem__(0, "x"))
    forge("names[0].name : texte attendu", lambda d: d["names"][0].update(name=None))
    forge("names[0].book_scope : absent", lambda d: d["names"][0].pop("book_scope"))
    # a sheet's own name without its sheet: xlwings' « TypeError : expected string or bytes-like object »
    forge("names[0] : feuille du nom attendue (« scope_sheet_name ») pour un nom propre à une feuille",
          lambda d: d["names"][0].update(book_scope=False))
    # an integer past any float, which JSON allows and Excel never sends: « OverflowError » in English
    forge("sheets[0].values[0][1] : nombre hors des limites d'Excel",
          lambda d: d["sheets"][0]["values"][0].__setitem__(1, 10 ** 400))
    forge("sheets[0] : objet attendu", lambda d: d["sheets"].__setitem__(0, None))
    forge("sheets[0].values : liste attendue", lambda d: d["sheets"][0].update(values=7))
    forge("sheets[0].values[0][1] : une cellule doit être un texte, un nombre, un booléen ou vide",
          lambda d: d["sheets"][0]["values"][0].__setitem__(1, {"a": 1}))
    forge(f"sheets[{ti}].tables[0].name : texte attendu", lambda d: d["sheets"][ti]["tables"][0].update(name=[]))
    forge(f"sheets[{ti}].tables[0].range_address : adresse de plage attendue (ex. « B2:D40 »)",
          lambda d: d["sheets"][ti]["tables"][0].update(range_address="x"))
    forge(f"sheets[{ti}].tables[0].range_address : adresse hors de la grille d'Excel (au plus XFD1048576)",
          lambda d: d["sheets"][ti]["tables"][0].update(range_address="ZZZ1:ZZZ9"))
    forge("sheets[0].used_range_address : texte attendu", lambda d: d["sheets"][0].update(used_range_address=3))
    # names quoted in sealed messages (« … de la feuille « … » », « Le fichier « … » … »): a token holder made the
    # box at the préfecture's address show a sentence and a link of their choosing
    sheet = (r"sheets[0].name : nom de feuille impossible dans Excel (1 à 31 caractères, sans : \ / ? * [ ] ni "
             "apostrophe au début ou à la fin)")
    # (« 'Projet' » was told « 1 à 31 caractères, sans : \ / ? * [ ] », which it is: its fault left unsaid)
    for name in ("Votre mot de passe a expiré : https://acv.example/connexion", "x" * 32, "", "a/b", "'Projet'",
                 "Projet'"):
        forge(sheet, lambda d, name=name: d["sheets"][0].update(name=name))
    forge("book.name : nom de fichier impossible (au plus 255 caractères, sans « // »)",
          lambda d: d["book"].update(name="Mot de passe expiré : https://acv.example.xlsx"))
    forge("book.name : nom de fichier impossible (au plus 255 caractères, sans « // »)",
          lambda d: d["book"].update(name="x" * 256))
    return out


def test_forged_payloads_are_told_where_in_french():
    for where, payload in _forged():
        assert check_book(payload) == where


_CALLS = r"""
import json, os, sys
os.environ["XLWINGS_ON_SERVER"] = "true"
from udfs.server import configure_environment
configure_environment()
from udfs import server_calls
from udfs.server_config import ServerConfig
out = []
for payload in json.load(sys.stdin):
    for name in ("valider", "generer_annexe"):
        try:
            answer = server_calls.call_script(name, json.dumps(payload).encode(), None, ServerConfig(), {})
            out.append([200, [a["args"][0] for a in answer["actions"] if a["func"] == "alert"]])
        except server_calls.Refused as exc:
            out.append([exc.status, str(exc)])
print(json.dumps(out))
"""


def test_a_forged_workbook_gets_a_french_400_never_python_s_english():
    """« Validation impossible : erreur inattendue (… TypeError : 'int' object is not subscriptable) »
    for requests the add-in never sends: the server's own answer, in French, says where."""
    forged = _forged()
    done = subprocess.run([sys.executable, "-c", _CALLS], input=json.dumps([p for _, p in forged]), env=clean_env(),
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    expected = [[400, f"Requête illisible : classeur incomplet ou mal formé ({where})."]
                for where, _ in forged for _name in ("valider", "generer_annexe")]
    assert answers == expected


def test_vba_s_payload_passes():
    """RunRemotePython (xlwings' Remote.bas), which docs/excel.md and the server's start offer over
    HTTP, sends a name's sheet and address, never its `refers_to` (xlwings' remote book rebuilds it),
    its tables' addresses with « $ », no used range: the template's named cells made every call a 400."""
    p, _ = _payload()
    p["client"] = "VBA"
    assert p["names"]
    for name in p["names"]:
        name.pop("refers_to")
        name.pop("type", None)
    for sheet in p["sheets"]:
        sheet.pop("used_range_address", None)
        for t in sheet.get("tables") or ():
            t["range_address"] = "$" + t["range_address"].replace(":", ":$").replace("$$", "$")
    assert check_book(p) is None


def test_any_name_excel_gives_a_sheet_or_a_file_passes():
    p, _ = _payload()
    p["sheets"][0]["name"] = "Plan d'été 2024 (copie) — n°2 ✓"[:31]
    p["book"]["name"] = "Convention ACV d'Arras — version #3 (été 2026) [final].xlsx"
    assert check_book(p) is None
    p["book"]["name"] = "Plan 2024:2026.xlsx"  # « 2024/2026 » in a Mac's Finder, as the file system holds it
    assert check_book(p) is None


def test_a_number_past_any_double_is_refused_not_read_as_infinity():
    """« 1e309 » in a cell, which Python's json reads as infinity (Excel never sends it): the line of that
    amount was dropped without a word."""
    p, _ = _payload()
    p["sheets"][0]["values"][0][1] = 1.5
    text = json.dumps(p)
    assert text.count("1.5") >= 1
    for big in ("1e309", "-1e309", "1" + "0" * 400 + ".0"):
        forged = json.loads(text.replace("1.5", big, 1))
        assert check_book(forged) == "sheets[0].values[0][1] : nombre hors des limites d'Excel", big
