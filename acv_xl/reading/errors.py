"""The one typed error for files that cannot be read as an ACV workbook (→ STR-01 / STR-02), and
how any message or output names a file (`file_text`)."""

from __future__ import annotations

import re

# Unicode's bidirectional controls (marks, embeddings, overrides, isolates): shown as their code
# wherever a person reads a name (`shown_file`, `terminal.literal`), never obeyed
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


class UnreadableWorkbook(Exception):
    """`code` is STR-01 (unreadable: empty, not a zip, corrupt, truncated, too large) or STR-02
    (unsupported format: .xls, .xlsb, .ods, password-protected). `message` is French, for users."""

    def __init__(self, code: str, message: str, suggestion: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestion = suggestion


def shown_file(text: str) -> str:
    """A file's name (`file_text`) as a reader sees it: the spaces ending it said, never left
    invisible. « calais.xlsx␣ » (unzipped on Linux) is read as the workbook it is, and a cell or a
    message showed it as « calais.xlsx », the name nobody could find under Windows: « calais.xlsx
    (espace finale) », as `-o` refuses such a name. The name itself (the JSON's `fichier`, the
    register) keeps them: a script opens the file by it, a run recognises it by it.
    A bidirectional control in it is shown as its code (« \\u202e »): obeyed, a cell showed the rest
    of the name reversed (« arras », U+202E, « xslx.snel.xlsx » read « arrasxslx.lens.xslx »): a name
    the folder does not hold, disguised as another commune's."""
    if _BIDI.search(text) is not None:
        text = _BIDI.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
    if not text[-1:].isspace():
        return text
    kept = text.rstrip()
    n = len(text) - len(kept)
    if text.endswith(" " * n):
        said = "espace finale" if n == 1 else f"{n} espaces finales"
    else:  # a tab, a no-break space…
        said = "caractère invisible final" if n == 1 else f"{n} caractères invisibles finaux"
    return f"{kept} ({said})"


SAVE_AS_XLSX = "Ouvrez le fichier dans Excel et faites « Enregistrer sous… Classeur Excel (.xlsx) »."


def file_text(name: object) -> str:
    """A file name or path as text any output can hold (a sheet, JSON, SQLite, a terminal). A
    name that is not UTF-8 (a zip made on Windows, a share mounted in Latin-1) reaches Python with
    its undecodable bytes as surrogates, which no encoder writes: they are shown escaped
    (`caf\\xe9.xlsx`), so two such names stay apart. A name stored as bytes (a register's path
    rewritten by an SQLite tool) is shown as its text, never as « b'arras.xlsx' »."""
    if isinstance(name, (bytes, bytearray)):
        return bytes(name).decode("utf-8", "backslashreplace")
    return str(name).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
