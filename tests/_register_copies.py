"""Copies of a register as another SQLite tool would remake it, for the tests of its reading."""
from __future__ import annotations

import sqlite3
from pathlib import Path


def utf16_copy(reg: Path, to: Path) -> Path:
    """A copy of the register keeping its text as UTF-16 (SQLite's other encoding, a register remade with a
    tool), the same content."""
    old, new = sqlite3.connect(reg), sqlite3.connect(to)
    new.execute("PRAGMA encoding = 'UTF-16le'")
    new.executescript(";\n".join(old.iterdump()))
    for pragma in ("user_version", "application_id"):
        new.execute(f"PRAGMA {pragma} = {old.execute(f'PRAGMA {pragma}').fetchone()[0]}")
    new.commit()
    assert new.execute("PRAGMA encoding").fetchone()[0] == "UTF-16le"
    old.close()
    new.close()
    return to
