"""The project stands alone: a clone with nothing beside it has every text its tests read.

The contract (docs/classeur.md, docs/interfaces.md, docs/regles.md) is the project's own; no file
may reach outside the checkout (a sibling folder of specs, a parent of the repository).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = {".py", ".md", ".toml", ".sh", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".json", ".html", ".js", ""}
# two parents or more up from a file one folder down is outside the checkout
SIBLING = ".." + "/shared"  # spelled in two pieces: this file names it without referring to it
OUTSIDE = re.compile(re.escape(SIBLING) + r"|parents\[(?:[2-9]|\d\d)\]")


def _files() -> list[Path]:
    skip = {".git", ".venv", "__pycache__", ".hypothesis", "node_modules", "build", "dist", "sortie"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
            and not any(part.endswith(".egg-info") for part in p.relative_to(ROOT).parts)
            and p.suffix in TEXT and p.stat().st_size < 2_000_000]


def test_no_file_reaches_outside_the_checkout():
    found = []
    for p in _files():
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_contract_texts_the_tests_read_are_in_docs():
    for name, title in (("classeur.md", "## Tableaux et leurs en-têtes"),
                        ("interfaces.md", "## Ligne de commande : `acv-xl`"),
                        ("regles.md", "## Gravités variables")):
        assert title in (ROOT / "docs" / name).read_text(encoding="utf-8"), name


def test_the_pattern_catches_what_it_must():
    assert OUTSIDE.search("SPEC = Path(__file__).resolve().parents[" + "2]")
    assert OUTSIDE.search(f"voir {SIBLING}/spec/regles.md")
    assert not OUTSIDE.search("ROOT = Path(__file__).resolve().parents[1]")
