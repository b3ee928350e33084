"""Raw cell values → typed values, never raising.

A reader hands over what the cell holds (str, int, float, bool, date, datetime, None, or an
`ExcelError`); these functions turn it into the typed value the model wants, or report *why*
they could not (`Problem`), keeping enough for a rule to write a precise French message with a
suggestion (the parsed number of "12 000 €", the closest list value…).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from acv_xl.contract.layout import AXES, AXES_VARIANTES, Kind

CENT = Decimal("0.01")
# A spreadsheet's largest number: an amount past it (a crafted workbook, or amounts near it added
# up) would be « inf » in a written cell (a file Excel must repair) and « Infinity » in a JSON
EXCEL_MAX = Decimal("9.99999999999999E+307")
# The most characters a cell holds (Excel counts them in UTF-16 units: an emoji is two): STR-10 for a
# workbook's own texts, and what every writer cuts a text to (past it, Excel repairs the file, or the
# add-in's whole write is refused)
EXCEL_CELL_CHARS = 32_767


EXCEL_CELL_HALF = EXCEL_CELL_CHARS // 2  # no text of at most so many characters is too long, whatever they are


def excel_text(text: str, room: int = EXCEL_CELL_CHARS, mark: str = "") -> str:
    """`text` cut to `room` characters as Excel counts them (`excel_length`), never between the two halves
    of an emoji, ending with `mark` when cut (« … » for a message; none, as XlsxWriter cuts, for a
    value): cut at 32 767 characters, 20 000 emoji (40 000 to Excel) were written whole, and Excel
    repaired the file. What every writer cuts a text to. Half an emoji already there (Excel cut a
    pasted text between the two, and the button reads it so) is kept as one unit, never an error."""
    if len(text) <= room // 2:  # nearly always: short enough whatever its characters
        return text
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) <= 2 * room:
        return text
    return units[:2 * (room - len(mark))].decode("utf-16-le", "ignore") + mark


def excel_length(text: str) -> int:
    """The length of `text` as Excel counts it, in UTF-16 units: a character past U+FFFF (an emoji)
    is two. `len` counted 20 000 emoji as 20 000, within a cell's 32 767, where Excel sees 40 000.
    Half an emoji (a lone surrogate: Excel cut a pasted text between the two, and the button reads it
    so) is one unit, as Excel counts it; the strict UTF-16 codec refused it, and the rule failed."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384  # Excel's grid: A1 to XFD1048576
EXCEL_ERRORS = ("#REF!", "#DIV/0!", "#N/A", "#VALUE!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA",
                # Excel 365's newer errors (linked data types, IMAGE, Python in Excel…): the add-in sends
                # them as their text, which the button took for a typed text (« Validé » with #BLOCKED!
                # in a comment); a saved file holds them as #VALUE!
                "#BLOCKED!", "#BUSY!", "#CONNECT!", "#EXTERNAL!", "#FIELD!", "#PYTHON!", "#TIMEOUT!", "#UNKNOWN!")


class ExcelError(str):
    """An Excel error value (`#REF!`…) read from a cell."""


class NoCachedValue(str):
    """A formula cell saved without a computed value (written by a library, never recalculated)."""


@dataclass(frozen=True)
class Problem:
    kind: str  # "erreur_excel" | "formule_sans_valeur" | "texte_nombre" | "pas_nombre" | "pas_date" | "pas_annee" | "hors_liste" | "pas_axe"
    raw: Any
    suggestion: Any = None


@dataclass(frozen=True)
class Parsed:
    value: Any = None
    problem: Problem | None = None


def is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not isinstance(raw, (ExcelError, NoCachedValue)) and raw.strip() == "")


def to_cents(value: Decimal | float | int) -> Decimal:
    d = value if type(value) is Decimal else Decimal(str(value))
    if d.is_finite() and d.adjusted() > 20:
        # enough digits for any magnitude (1e26 or a 300-digit text would overflow the default 28)
        return d.quantize(CENT, rounding=ROUND_HALF_UP, context=Context(prec=d.adjusted() + 4))
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


_NUM_TEXT = re.compile(r"^[+-]?[\d\s\u00a0\u202f.,']+$")


def parse_number_text(text: str) -> Decimal | None:
    """Parse a number typed as text the French way: "12 000 €", "1 234,50", "1.234,5", "12000"."""
    s = text.strip().replace("€", "").replace("EUR", "").replace("euros", "").strip()
    if not s or not _NUM_TEXT.match(s):
        return None
    s = re.sub(r"[\s\u00a0\u202f']", "", s)
    if "," in s and "." in s:
        # the last separator is the decimal one
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif "," in s:
        s = s.replace(",", ".") if s.count(",") == 1 else s.replace(",", "")
    elif s.count(".") > 1:
        s = s.replace(".", "")
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def _special(raw: Any) -> Problem | None:
    if isinstance(raw, ExcelError):
        return Problem("erreur_excel", str(raw))
    if isinstance(raw, NoCachedValue):
        return Problem("formule_sans_valeur", str(raw))
    return None


def parse_decimal(raw: Any, cents: bool) -> Parsed:
    if (p := _special(raw)) is not None:
        return Parsed(None, p)
    if is_blank(raw):
        return Parsed(None)
    if isinstance(raw, bool):
        return Parsed(None, Problem("pas_nombre", raw))
    if isinstance(raw, (int, float)):
        if raw - raw != 0:  # inf or nan: what Excel shows as #NUM! (no workbook cell holds one)
            return Parsed(None, Problem("erreur_excel", "#NUM!"))
        d = Decimal(str(raw))
        return Parsed(to_cents(d) if cents else d)
    if isinstance(raw, (date, datetime)):
        return Parsed(None, Problem("pas_nombre", raw))
    text = str(raw)
    d = parse_number_text(text)
    # a number past Excel's largest is none to type instead (32 000 digits typed as text: the suggestion
    # « tapez 1111… » wrote 74 773 characters into Contrôles, past the 32 767 a cell holds)
    if d is not None and d.is_finite() and abs(d) <= EXCEL_MAX:
        return Parsed(None, Problem("texte_nombre", text, to_cents(d) if cents else d))
    return Parsed(None, Problem("pas_nombre", text))


YEAR_MIN, YEAR_MAX = 1900, 2100  # a year typed in a cell (`parse_year`), never a date (`parse_date`)


# Excel's 1900 date system counts a 29/02/1900 that never was (serial 60, kept from Lotus 1-2-3): its
# serials 1 to 59 are 01/01/1900 to 28/02/1900, a day later than counting from 30/12/1899 gives — as
# Excel shows them, and the file reader (calamine, openpyxl) reads a date cell
LEAP_1900 = 60
# Excel's last date, 31/12/9999: no number above it is shown as a date
LAST_DATE_SERIAL = 2958465


def excel_serial_to_date(serial: float) -> date:
    days = float(serial)
    return (datetime(1899, 12, 31 if 1 <= days < LEAP_1900 else 30) + timedelta(days=days)).date()


_DATE_TEXT = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")
_ISO_TEXT = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+Z?)?\s*$")


# Excel's serial number 1 as Office.js dates it, as an ordinal (a datetime of a time zone compares too)
DAY_ONE = date(1899, 12, 31).toordinal()


def parse_date(raw: Any) -> Parsed:
    if (p := _special(raw)) is not None:
        return Parsed(None, p)
    if is_blank(raw):
        return Parsed(None)
    if isinstance(raw, datetime):
        if raw.toordinal() < DAY_ONE:
            # a time alone (a serial number below 1): Office.js and COM give it on 30/12/1899, the file
            # reader as a time — no date either way
            return Parsed(None, Problem("pas_date", raw.time()))
        return Parsed(raw.date())
    if isinstance(raw, date):
        return Parsed(raw)
    if isinstance(raw, (bool, time)):  # a time as the file reader gives it, as the button's above: no date
        return Parsed(None, Problem("pas_date", raw))
    if isinstance(raw, (int, float)):
        # an unformatted date cell: the serial number (1900 system) is still a real date — but not a
        # year typed alone (2018 in a « Standard » cell shows 2018, and would be read 10/07/1905)
        if 1 <= raw < 2958466 and not (YEAR_MIN <= raw <= YEAR_MAX and float(raw).is_integer()):
            return Parsed(excel_serial_to_date(raw))
        return Parsed(None, Problem("pas_date", raw))
    text = str(raw)
    suggestion = None
    if m := _DATE_TEXT.match(text):
        d, mth, y = map(int, m.groups())
        try:
            suggestion = date(y, mth, d)
        except ValueError:
            suggestion = None
    elif m := _ISO_TEXT.match(text):
        y, mth, d = map(int, m.groups())
        try:
            suggestion = date(y, mth, d)
        except ValueError:
            suggestion = None
    return Parsed(None, Problem("pas_date", text, suggestion))


# How the Office.js add-in sends every date cell: JavaScript's `toISOString`, « 2024-03-01T00:00:00.000Z »
# (milliseconds, « Z »). A text typed or pasted in exactly that form reaches the server as the same
# string: nothing tells them apart there, so every reader takes that text for the date it stands for
# (`officejs_date`: the file reader, Excel desktop, the button) — else the button said « Validé » where
# the command line said FIN-17, and their fingerprints differed for the same text in a comment.
_OFFICEJS_DATE_TEXT = re.compile(
    r"[0-9]{4}-(?:1[0-2]|0[1-9])-(?:3[01]|0[1-9]|[12][0-9])T(?:2[0-3]|[01][0-9]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z")


def officejs_date(text: str) -> datetime | time | None:
    """The date-time a text in the add-in's date form stands for (a time alone, dated 30/12/1899 by
    Office.js, as its time), else None (any other text, or no real day: « 2023-02-30T… »)."""
    if len(text) != 24 or _OFFICEJS_DATE_TEXT.fullmatch(text) is None:
        return None
    try:
        value = datetime.fromisoformat(text[:-1])  # as xlwings: the « Z » cut, Excel has no time zones
    except ValueError:
        return None
    if _OFFICEJS_DAY_ONE <= value < _OFFICEJS_LEAP:
        # the add-in dates a serial number from 30/12/1899 without Excel's 29/02/1900: a cell showing
        # 01/01/1900 (serial 1) comes as « 1899-12-31T… », a day early up to 28/02/1900 (serial 59) —
        # where the file reader reads the date Excel shows (fingerprints and messages differed)
        value += timedelta(days=1)
    return time_alone(value)


_OFFICEJS_DAY_ONE = datetime(1899, 12, 31)  # serial 1 as the add-in dates it
_OFFICEJS_LEAP = datetime(1899, 12, 30) + timedelta(days=LEAP_1900)  # serial 60: 28/02/1900 for every reader


def time_alone(value: datetime) -> datetime | time:
    """`value`, or its time when it is a time alone (a serial number below 1), which the add-in and COM
    date 30/12/1899 and the file reader reads as a time: every reader gives that time."""
    return value.time() if value.toordinal() < DAY_ONE else value


def parse_iso_date(raw: Any) -> Any:
    """Office.js sends dates as ISO strings: turn them back into dates (for the xlwings source)."""
    if isinstance(raw, str) and (m := _ISO_TEXT.match(raw)) and "T" in raw:
        y, mth, d = map(int, m.groups())
        try:
            day = date(y, mth, d)
        except ValueError:  # no such day (« 2024-02-30T… » typed as text): the text, as typed
            return raw
        if day.toordinal() < DAY_ONE:  # a time alone, dated 30/12/1899: the time, as the file reader reads it
            try:
                return time.fromisoformat(raw.split("T", 1)[1][:8])
            except ValueError:
                return raw
        return day
    return raw


def parse_year(raw: Any) -> Parsed:
    if (p := _special(raw)) is not None:
        return Parsed(None, p)
    if is_blank(raw):
        return Parsed(None)
    if isinstance(raw, bool) or isinstance(raw, (date, datetime)):
        return Parsed(None, Problem("pas_annee", raw))
    if isinstance(raw, (int, float)):
        if float(raw).is_integer() and YEAR_MIN <= raw <= YEAR_MAX:
            return Parsed(int(raw))
        return Parsed(None, Problem("pas_annee", raw))
    text = str(raw).strip()
    if re.fullmatch(r"\d{4}", text) and YEAR_MIN <= int(text) <= YEAR_MAX:
        return Parsed(None, Problem("texte_nombre", text, int(text)))
    return Parsed(None, Problem("pas_annee", text))


MEMO_TEXT_MAX = 256  # characters of the longest text a memo of texts keeps (see `memo_text`)


def memo_text(maxsize: int):
    """`lru_cache(maxsize)` for a function of one text, keeping only texts up to `MEMO_TEXT_MAX`
    characters: names and list values come back on every line and in every workbook, a long text
    (a comment pasted into a list column, up to 32,767 characters) seldom does, and `acv-xl serveur`
    keeps its memos for months: 8,192 such texts and their results would hold ≈ 0.7 GB."""
    def decorate(fn):
        cached = lru_cache(maxsize=maxsize)(fn)

        def call(text):
            return cached(text) if text.__class__ is not str or len(text) <= MEMO_TEXT_MAX else fn(text)

        call.__doc__, call.__name__, call.__wrapped__ = fn.__doc__, fn.__name__, fn
        call.cache_clear, call.cache_info = cached.cache_clear, cached.cache_info
        return call
    return decorate


@memo_text(8192)  # the same names (dispositifs, maîtres d'ouvrage, lists) come back on every line
def fold(text: str) -> str:
    """Lower case, no accents, single spaces, typographic apostrophes folded: for lenient matching. The
    ligatures too, which no decomposition splits: « Programme Cœur de ville » listed is « Programme Coeur de
    ville » typed on a keyboard (the line's dispositif was « non listé »)."""
    t = unicodedata.normalize("NFKD", text.replace("’", "'").replace("\u00a0", " "))
    t = "".join(c for c in t if not unicodedata.combining(c))
    return " ".join(t.lower().translate(_LIGATURES).split())


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})


def closest(value: str, choices: tuple[str, ...]) -> str | None:
    """The list value that `value` was surely meant to be (same letters but case/accents/spaces)."""
    f = fold(value)
    for c in choices:
        if fold(c) == f:
            return c
    import difflib

    m = difflib.get_close_matches(f, [fold(c) for c in choices], n=1, cutoff=0.75)
    if m:
        return next(c for c in choices if fold(c) == m[0])
    return None


@lru_cache(maxsize=64)  # the contract's few lists
def _by_case(choices: tuple[str, ...]) -> dict[str, str]:
    """Each list value by its lower case; a lower case two values share (none in the contract) is left out."""
    lowered = [c.lower() for c in choices]
    return {low: c for low, c in zip(lowered, choices) if lowered.count(low) == 1}


def _whole(raw: float) -> str:
    """A whole number typed in a text cell, as the user sees it: 62 (not « 62.0 »); past Excel's 15 digits
    « 1E+300 », never the float's 301 digits (an action or a département « 100000000000000005250… »)."""
    return str(int(raw)) if abs(raw) < 1e15 else fmt_typed(raw)


def parse_choice(raw: Any, choices: tuple[str, ...]) -> Parsed:
    if (p := _special(raw)) is not None:
        return Parsed(None, p)
    if is_blank(raw):
        return Parsed(None)
    text = str(raw).strip() if not isinstance(raw, float) or not raw.is_integer() else _whole(raw)
    if not choices or text in choices:
        return Parsed(text)
    # Excel's (and LibreOffice's) list validation ignores case: « acquis » typed in a Statut cell is
    # accepted without a word, so it is the list's « Acquis » — for every rule and total (an error here
    # blocked a workbook Excel found right). Accents are not ignored by Excel: « Engage » stays refused.
    same = _by_case(choices).get(text.lower())
    if same is not None:
        return Parsed(same)
    return Parsed(None, Problem("hors_liste", text, closest(text, choices)))


_AXE_FOLDED: dict[str, int] = {}
for _n, _label in AXES.items():
    _AXE_FOLDED[fold(_label)] = _n
    for _v in AXES_VARIANTES.get(_n, ()):
        _AXE_FOLDED[fold(_v)] = _n


# The spellings a reader meets most (the drop-down's « Axe 3 », the number, the labels), for the
# reader's fast path; anything else goes through `parse_axe`, which accepts more.
AXE_EXACT: dict[str, int] = {}
for _n, _label in AXES.items():
    for _s in (str(_n), f"Axe {_n}", _label, f"Axe {_n} — {_label}", *AXES_VARIANTES.get(_n, ())):
        AXE_EXACT[_s] = _n


def parse_axe(raw: Any) -> Parsed:
    """Axe 1..5 from `3`, `"3"`, `"Axe 3"`, `"Axe 3 — label"` or the official label."""
    if (p := _special(raw)) is not None:
        return Parsed(None, p)
    if is_blank(raw):
        return Parsed(None)
    if isinstance(raw, bool):
        return Parsed(None, Problem("pas_axe", raw))
    if isinstance(raw, (int, float)):
        if float(raw).is_integer() and int(raw) in AXES:
            return Parsed(int(raw))
        return Parsed(None, Problem("pas_axe", raw))
    text = str(raw).strip()
    f = fold(text)
    if m := re.fullmatch(r"(?:axe\s*)?(\d)(?:\s*[-—–:.]\s*(.*))?", f):
        n = int(m.group(1))
        if n in AXES and (not m.group(2) or m.group(2) in _AXE_FOLDED and _AXE_FOLDED[m.group(2)] == n):
            return Parsed(n)
        return Parsed(None, Problem("pas_axe", text))
    if f in _AXE_FOLDED:
        return Parsed(_AXE_FOLDED[f])
    return Parsed(None, Problem("pas_axe", text))


def parse_text(raw: Any) -> Parsed:
    if (p := _special(raw)) is not None:
        return Parsed(None, p)
    if is_blank(raw):
        return Parsed(None)
    if isinstance(raw, float) and raw.is_integer():
        return Parsed(_whole(raw))
    if isinstance(raw, datetime):
        return Parsed(raw.date().isoformat())
    if isinstance(raw, date):
        return Parsed(raw.isoformat())
    return Parsed(str(raw).strip())


def parse(raw: Any, kind: Kind, choices: tuple[str, ...] = ()) -> Parsed:
    if kind is Kind.AMOUNT:
        return parse_decimal(raw, cents=True)
    if kind is Kind.NUMBER:
        return parse_decimal(raw, cents=False)
    if kind is Kind.DATE:
        return parse_date(raw)
    if kind is Kind.YEAR:
        return parse_year(raw)
    if kind is Kind.CHOICE:
        return parse_choice(raw, choices)
    if kind is Kind.AXE:
        return parse_axe(raw)
    return parse_text(raw)


# ----------------------------------------------------------------------- French formatting
# A plain space, as the spec writes amounts (`1 234 567,89 €`): it survives every terminal,
# JSON consumer and copy-paste; Excel cells use the number format instead.
THOUSANDS = " "
# The sign of a negative amount or number in text: the hyphen-minus, as Excel and LibreOffice print
# the same value in a cell (number formats), so that a report, the Contrôles sheet, the annex and its
# PDF agree; and a figure copied from a message back into a cell stays a number (with U+2212 « − »,
# typographic but not a number to Excel nor to `parse_number_text`).
MINUS = "-"


def fmt_euros(value: Decimal | float | int | None) -> str:
    """`1 234 567,89 €`: thousands separated by `THOUSANDS` (a plain space), `MINUS` before a
    negative amount (see above)."""
    if value is None:
        return ""
    d = to_cents(_finite(value))
    sign = MINUS if d < 0 else ""
    # copy_abs, not abs(): abs() rounds to the context's 28 digits (« …567 900,00 € » for
    # 123 456 789 012 345 678 901 234 567 890,12 € typed as text)
    ent, dec = f"{d.copy_abs():.2f}".split(".")
    return f"{sign}{_grouped(ent)},{dec} €"


def _finite(value: Decimal | float | int) -> Decimal:
    """`value` as a Decimal; a NaN or an infinity is refused where values are read (`parse_decimal`),
    so one here is a bug, never a figure to print (« NaN », « Infinity »)."""
    d = value if type(value) is Decimal else Decimal(str(value))
    if not d.is_finite():
        raise ValueError(f"nombre non fini à afficher : {value!r}")
    return d


def exact(d: Decimal) -> Decimal:
    """`d` without trailing zeros (12.50 → 12.5, 1200 → 1.2E+3), every digit kept: `normalize()`
    alone rounds to the context's 28."""
    return d.normalize(Context(prec=max(28, len(d.as_tuple().digits))))


def places(d: Decimal) -> int:
    """The decimals `d` has once its trailing zeros dropped (0 for a whole number): shown with
    `fmt_number(d, places(d))`, no digit is lost nor added."""
    exp = exact(d).as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def _digits_for(d: Decimal, decimals: int) -> Context | None:
    """A context exact for `d` rounded to `decimals` places (the default 28 digits would round a
    larger figure, or refuse to quantize it); None, the default context, when it is enough."""
    need = d.adjusted() + decimals + 3
    return None if need <= 28 else Context(prec=need, rounding=ROUND_HALF_UP)


def _grouped(ent: str) -> str:
    groups = []
    while len(ent) > 3:
        groups.insert(0, ent[-3:])
        ent = ent[:-3]
    groups.insert(0, ent)
    return THOUSANDS.join(groups)


def fmt_typed(raw: float) -> str:
    """A number from a cell as a French Excel shows it, not as Python prints a float: 19 (not « 19.0 »),
    2019,5, and past the 15 digits Excel keeps « -1E+308 » — all the digits of the float are 300 the
    user never typed (« -1000000000000000010979063629… »)."""
    if abs(raw) >= 1e15:
        return f"{raw:.15G}".replace(".", ",")
    return str(int(raw)) if raw.is_integer() else repr(raw).replace(".", ",")


def joined(items: list[str]) -> str:
    """« A », « A et B », « A, B et C »: a list said in a French sentence."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def fmt_number(value: Decimal | float | int | None, decimals: int = 0) -> str:
    """`12 345,6`: rounded half up (as amounts are), no sign when the shown figure is zero."""
    if value is None:
        return ""
    d = _finite(value)
    d = d.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP, _digits_for(d, decimals))
    ent, _, dec = f"{d.copy_abs():f}".partition(".")
    return (MINUS if d < 0 else "") + _grouped(ent) + ("," + dec if dec else "")


# Percentages, one rule for every output (sentences with `fmt_percent`, cells with `FMT_PERCENT`
# `0.0# %` and `ratio_for_cell`): one or two decimals (« 80,0 % », « 79,5 % », « 79,95 % »); the
# thresholds a rule or a class is judged against are written as the law writes them (« 80 % »).
# A rounded figure never contradicts its verdict: when rounding would put it on a threshold it
# is not on, or on its other side (« 80,0 % » for 79,996 % under an 80 % cap), it keeps the
# decimals that tell them apart (« 79,996 % »).
def _side(a: Decimal, b: Decimal) -> int:
    return (a > b) - (a < b)


def _percent(ratio: Decimal | float) -> Decimal:
    d = _finite(ratio)
    n = len(d.as_tuple().digits)
    return d.scaleb(2) if n <= 28 else d.scaleb(2, Context(prec=n))


def fmt_percent(ratio: Decimal | float | None, seuils: tuple = ()) -> str:
    """`ratio` (0.7995) as « 79,95 % »: one or two decimals, more when fewer would misplace it
    against one of `seuils` (ratios: `(Decimal("0.8"),)` for an 80 % cap) — see above."""
    if ratio is None:
        return ""
    # scaleb(2) is × 100 without the context's rounding; as many decimals as telling `pct` from a
    # threshold takes (at most all of its own, where the shown figure is `pct` itself)
    pct, limits = _percent(ratio), [_percent(s) for s in seuils]
    for decimals in range(2, max(2, -pct.as_tuple().exponent) + 1):
        shown = pct.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP, _digits_for(pct, decimals))
        if all(_side(shown, s) == _side(pct, s) for s in limits):
            break
    if decimals == 2 and shown == shown.quantize(Decimal("0.1"), context=_digits_for(shown, 1)):
        decimals = 1  # « 79,5 % », not « 79,50 % »
    return fmt_number(shown, decimals) + " %"


PERCENT_CELL_PLACES = Decimal("0.0001")  # what `FMT_PERCENT` (`0.0# %`) shows of a ratio
_FAR_FROM_THRESHOLD = 0.0001  # twice what rounding to those places moves a ratio at most


def ratio_for_cell(ratio: Decimal | float | None, seuils: tuple = ()) -> Decimal | float | None:
    """The ratio a percent cell holds, beside a verdict judged against `seuils`: the ratio itself,
    unless the cell's two decimals would misplace it against one of them (0.49996 shown « 50,0 % »
    beside « en cours », judged under 50 %); then the ratio cut to the shown places on its own side
    (0.4999: « 49,99 % »)."""
    if ratio is None:
        return None
    # far from every threshold (nearly always), the shown places cannot cross one: the ratio as it
    # is, without the Decimal rounding below (a Synthèse of 1 000 conventions asks 2 000 times)
    x = float(ratio)
    if abs(x) < 1e15:
        for s in seuils:  # (a loop, not `all` over a generator made for each of those 2 000 cells)
            if not abs(x - float(s)) > _FAR_FROM_THRESHOLD:
                break
        else:
            return ratio
    d = _finite(ratio)
    shown = d.quantize(PERCENT_CELL_PLACES, ROUND_HALF_UP, _digits_for(d, 4))
    for s in seuils:
        s = Decimal(str(s))
        if _side(shown, s) != _side(d, s):
            return d.quantize(PERCENT_CELL_PLACES, ROUND_FLOOR if d < s else ROUND_CEILING, _digits_for(d, 4))
    return ratio


def fmt_date(d: date | datetime | None) -> str:
    if d is None:
        return ""
    return d.strftime("%d/%m/%Y")
