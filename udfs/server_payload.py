"""The workbook a button's call carries, checked at the server's boundary before xlwings builds a book.

The add-in (xlwings' `getBookData`) always sends the same shape: the book, its defined names, and
per sheet its values (rows of cells: text, number, boolean), its tables and addresses. A forged
request (a sheet that is a number, a table without a name, a cell that is a list, an address « x »)
reached xlwings and the ACV code, which failed on it: « erreur inattendue (TypeError : 'int' object
is not subscriptable) » — Python's English in the message box. Here, only the fields that xlwings'
remote book and `udfs.xw_source` read are checked, with their types; everything else the add-in
sends (pictures, charts, formats…) passes unchecked, as xlwings reads it or not.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Optional, Union

from pydantic import AfterValidator, model_validator, BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from acv_xl.contract.values import EXCEL_COLUMNS, EXCEL_ROWS
from acv_xl.reading.source import col_index

# one area in A1 style, as Office.js writes it without its sheet (« B1:C24 », « $B$14 », « 1:1 », « A:C »)
_CELL = r"\$?[A-Za-z]{1,3}\$?[0-9]{1,7}"
_ADDRESS = rf"^(?:{_CELL}(?::{_CELL})?|\$?[A-Za-z]{{1,3}}:\$?[A-Za-z]{{1,3}}|\$?[0-9]{{1,7}}:\$?[0-9]{{1,7}})$"
_PART = re.compile(r"([A-Za-z]*)([0-9]*)")


def _in_grid(address: str | None) -> str | None:
    """An address past Excel's grid (« ZZZ9 ») reached xlwings, whose IndexError was the message."""
    for part in (address or "").replace("$", "").split(":"):
        letters, digits = _PART.fullmatch(part).groups()
        if col_index(letters) > EXCEL_COLUMNS or (digits and not 1 <= int(digits) <= EXCEL_ROWS):
            raise ValueError("grid")
    return address


Address = Annotated[StrictStr, Field(pattern=_ADDRESS), AfterValidator(_in_grid)]

_NOT_IN_SHEET_NAMES = re.compile(r"[:\\/?*\[\]]")


def _sheet_name(name: str) -> str:
    """A name Excel gives a sheet (1 to 31 characters, none of : \\ / ? * [ ], no apostrophe at either end):
    a sheet's name is quoted in a sealed message (« Classeur trop grand … de la feuille « … » »), and a forged
    name of any length (« Votre mot de passe a expiré : https://… ») was shown in the box at the
    préfecture's address, to whomever its link was sent."""
    if not 1 <= len(name) <= 31 or _NOT_IN_SHEET_NAMES.search(name) or name[0] == "'" or name[-1] == "'":
        raise ValueError("sheet_name")
    return name


def _book_name(name: str) -> str:
    """A file's name as Excel gives it, quoted too (« Le fichier « … » a un tableau … trop grand »): at most
    255 characters, no « // » (so no « https://… » link; a bare domain still fits, as it does in any name a
    user types). Not « : » itself: Windows refuses it in a file's name, but a Mac file named « 2024/2026 » in
    the Finder is « 2024:2026 » underneath, and which form Excel for Mac gives is unverified."""
    if len(name) > 255 or "//" in name:
        raise ValueError("book_name")
    return name


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


# an integer as JSON allows it, past any float (a 400-digit one): « OverflowError : int too large to
# convert to float » was the button's message; Excel sends numbers as doubles (at most ≈ 1.8e308)
_MAX_INT = 10 ** 308
# and a float past any double (« 1e309 »), which json reads as infinity: its line was dropped silently
Cell = Union[StrictStr, StrictBool, Annotated[StrictInt, Field(ge=-_MAX_INT, le=_MAX_INT)],
             Annotated[StrictFloat, Field(allow_inf_nan=False)], None]


class Table(_Open):
    name: StrictStr
    range_address: Address
    header_row_range_address: Optional[Address] = None
    data_body_range_address: Optional[Address] = None
    total_row_range_address: Optional[Address] = None
    show_headers: StrictBool = True
    show_totals: StrictBool = False


class Sheet(_Open):
    name: Annotated[StrictStr, AfterValidator(_sheet_name)]
    values: list[list[Cell]]
    tables: list[Table] = []
    used_range_address: Optional[Address] = None


class Name(_Open):
    name: StrictStr
    refers_to: Optional[StrictStr] = None  # never sent by VBA's RunRemotePython (its sheet and address are)
    sheet_index: Optional[StrictInt] = None
    address: Optional[StrictStr] = None
    scope_sheet_name: Optional[StrictStr] = None
    scope_sheet_index: Optional[StrictInt] = None
    book_scope: StrictBool

    @model_validator(mode="after")
    def _scoped(self):
        # a sheet's own name comes with its sheet (the add-in and VBA always send it): without it,
        # xlwings' TypeError in English was the message
        if not self.book_scope and self.scope_sheet_name is None:
            raise ValueError("scope_sheet")
        return self


class BookInfo(_Open):
    name: Annotated[StrictStr, AfterValidator(_book_name)]
    active_sheet_index: StrictInt = Field(ge=0)
    selection: Optional[StrictStr] = None


class Payload(_Open):
    client: StrictStr
    version: StrictStr
    book: BookInfo
    names: list[Name]
    sheets: list[Sheet] = Field(min_length=1)


_WHAT = {
    "missing": "absent",
    "string_type": "texte attendu",
    "int_type": "nombre entier attendu",
    "bool_type": "vrai ou faux attendu",
    "list_type": "liste attendue",
    "dict_type": "objet attendu",
    "model_type": "objet attendu",
    "model_attributes_type": "objet attendu",
    "string_pattern_mismatch": "adresse de plage attendue (ex. « B2:D40 »)",
    "value_error": "adresse hors de la grille d'Excel (au plus XFD1048576)",
    "greater_than_equal": "nombre positif ou nul attendu",
    "too_short": "au moins un élément attendu",
    "scope_sheet": "feuille du nom attendue (« scope_sheet_name ») pour un nom propre à une feuille",
    "sheet_name": "nom de feuille impossible dans Excel (1 à 31 caractères, sans : \\ / ? * [ ] ni apostrophe au "
                  "début ou à la fin)",
    "book_name": "nom de fichier impossible (au plus 255 caractères, sans « // »)",
}


def _where(loc: tuple) -> str:
    """`sheets[0].tables[1].name` — a cell's union members (« str », « int »…) left out."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("str", "bool", "int", "float", "none") or "[" in part:
            break
        else:
            text += f".{part}" if text else part
    return text


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    # a cell of the wrong type fails every member of the union: one error, said once
    first = errors[0]
    loc = first["loc"]
    where = _where(loc)
    if "values" in loc:
        after = loc[loc.index("values") + 1:]
        if len(after) >= 2 and isinstance(after[0], int) and isinstance(after[1], int):
            if any(e["loc"][:len(loc) - len(after) + 2] == loc[:len(loc) - len(after) + 2]
                   and e["type"] in ("less_than_equal", "greater_than_equal", "finite_number") for e in errors):
                return f"{where} : nombre hors des limites d'Excel"
            return f"{where} : une cellule doit être un texte, un nombre, un booléen ou vide"
    kind = first["type"]
    if kind == "value_error":  # ours (« Value error, sheet_name »), or the grid's
        kind = next((k for k in ("scope_sheet", "sheet_name", "book_name") if first["msg"].endswith(k)), kind)
    return f"{where} : {_WHAT.get(kind, 'valeur invalide')}"


def check_book(data: dict[str, Any]) -> str | None:
    """None when `data` has the add-in's shape, else where and what, in French."""
    try:
        Payload.model_validate(data)
    except ValidationError as exc:
        return _first_error(exc)
    return None
