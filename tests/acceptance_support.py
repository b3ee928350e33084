"""Helpers of the acceptance tests: the contract text, the CLI as a user runs it, user-like edits.

Nothing here imports the product's internals: the spec is read as text, the CLI is a subprocess,
workbooks are opened with openpyxl/zipfile like any other tool would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXEMPLES = ROOT / "workbooks" / "exemples"


def spec(name: str) -> str:
    """The contract text, as the project's docs write it (docs/classeur.md, interfaces.md, regles.md)."""
    return (DOCS / name).read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """The body of the `## title` section (up to the next `## `)."""
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def acv(*args, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "XLWINGS_LICENSE_KEY": "noncommercial"}
    return subprocess.run([sys.executable, "-m", "acv_xl", *map(str, args)], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, env=env, timeout=timeout)


def valider_json(*files) -> list[dict]:
    out = acv("valider", *files, "--format", "json")
    assert out.returncode in (0, 1, 2), out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    data = json.loads(out.stdout)
    return data if isinstance(data, list) else [data]


# --------------------------------------------------------------------------- the spec as data
def spec_tables(classeur: str) -> dict[str, list[tuple[str, list[str]]]]:
    """`T_…` → [(header, [list values])] from « Tables and their headers »."""
    body = section(classeur, "Tableaux et leurs en-têtes")
    out = {}
    for block in re.split(r"\n(?=`T_)", body.strip()):
        block = " ".join(block.split())
        m = re.match(r"`(T_\w+)` — (.*)", block)
        if not m:
            continue
        cols = []
        for item in m.group(2).split(" · "):
            header = re.match(r"`([^`]+)`", item).group(1)
            rest = item.split("`", 2)[2]
            choices = re.findall(r"`([^`]+)`", rest) if rest.strip().startswith("(`") else []
            cols.append((header, choices))
        out[m.group(1)] = cols
    return out


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def spec_funders(classeur: str) -> dict[str, dict]:
    """`CODE` → {name, categorie, dispositifs: [(name, nature|None, r2334)]} from the reference list."""
    body = " ".join(section(classeur, "Liste de référence des financeurs livrée avec le modèle").split())
    out = {}
    pos = 0
    for m in re.finditer(r"`([A-Z]+)`", body):
        if m.start() < pos:
            continue
        code, i = m.group(1), m.end()
        entry = {"name": None, "categorie": None, "dispositifs": []}
        out[code] = entry
        if body[i:i + 2] != " (":
            continue
        depth, j = 0, i + 1
        while True:  # the balanced parenthesis after the code
            depth += (body[j] == "(") - (body[j] == ")")
            j += 1
            if depth == 0:
                break
        pos = j
        inner = body[i + 2:j - 1]
        head, _, instruments = inner.partition(":")
        head_parts = [p.strip() for p in head.split(",")]
        entry["categorie"] = head_parts[-1]
        entry["name"] = ", ".join(head_parts[:-1]) or None
        marked = "— dotations R2334-27 —" in instruments
        r2334 = marked
        for item in split_top(instruments):
            if "— dotations R2334-27 —" in item:
                item = item.replace("— dotations R2334-27 —", "").strip()
                entry["dispositifs"].append((item, None, True))
                r2334 = False  # the items after the marker are not R2334-27 dotations
                continue
            nm = re.match(r"(.*?)\s*\(([^()]*)\)$", item)
            name, nature = (nm.group(1), nm.group(2)) if nm else (item, None)
            entry["dispositifs"].append((name, nature, r2334))
    return out


LETTRE = {"Erreur": "E", "Avertissement": "A", "Information": "I"}


def catalogue(regles: str) -> dict[str, str]:
    """code → severity letter (`E`, `A`, `I`) of the catalogue's tables in docs/regles.md."""
    return {code: LETTRE[g] for code, g in re.findall(r"^\| `([A-Z]{3}-\d\d)`(?: ✚)? \| (\w+) \|", regles,
                                                     flags=re.M)}


def allowed_severities(regles: str) -> dict[str, set[str]]:
    """code → the severities it may take: its own, and for those of « Gravités variables » E and A, and I
    when their line says « information »."""
    lines = re.findall(r"^- `([A-Z]{3}-\d\d)` :(.*)", section(regles, "Gravités variables"), flags=re.M)
    variable = {code: {"E", "A"} | ({"I"} if "information" in text else set()) for code, text in lines}
    return {code: (variable[code] | {sev} if code in variable else {sev}) for code, sev in catalogue(regles).items()}


GRAVITE_LETTRE = {"erreur": "E", "avertissement": "A", "information": "I"}


# --------------------------------------------------------------------------- user-like edits
def table_of(wb, name: str):
    for ws in wb.worksheets:
        if name in ws.tables:
            return ws, ws.tables[name]
    raise KeyError(name)


def header_cells(ws, table) -> dict[str, tuple[int, int]]:
    """header text → (row, column) of the header cell."""
    from openpyxl.utils.cell import range_boundaries

    c1, r1, c2, _ = range_boundaries(table.ref)
    return {ws.cell(r1, c).value: (r1, c) for c in range(c1, c2 + 1)}


def table_records(ws, table) -> list[dict]:
    from openpyxl.utils.cell import range_boundaries

    c1, r1, c2, r2 = range_boundaries(table.ref)
    rows = list(ws.iter_rows(min_row=r1, max_row=r2, min_col=c1, max_col=c2))
    heads = [c.value for c in rows[0]]
    return [{h: c for h, c in zip(heads, row)} for row in rows[1:]]


def named_cell(wb, name: str):
    dn = wb.defined_names[name]
    (sheet, ref), = list(dn.destinations)
    return wb[sheet][ref.replace("$", "")]


def edited_copy(src: Path, dst: Path, edit) -> Path:
    """A copy of `src` changed by `edit(wb)` through openpyxl, as another tool would."""
    wb = openpyxl.load_workbook(src)
    edit(wb)
    wb.save(dst)
    return dst
