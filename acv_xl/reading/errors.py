"""The one typed error for files that cannot be read as an ACV workbook (→ STR-01 / STR-02)."""

from __future__ import annotations


class UnreadableWorkbook(Exception):
    """`code` is STR-01 (unreadable: empty, not a zip, corrupt, truncated, too large) or STR-02
    (unsupported format: .xls, .xlsb, .ods, password-protected). `message` is French, for users."""

    def __init__(self, code: str, message: str, suggestion: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestion = suggestion


SAVE_AS_XLSX = "Ouvrez le fichier dans Excel et faites « Enregistrer sous… Classeur Excel (.xlsx) »."
