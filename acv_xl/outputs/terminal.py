"""User text on a terminal shown literally: never a control sequence, never Rich markup.

A cell, a sheet or a file name may hold an escape sequence (`ESC[2J` clears the screen, others
retitle the window or forge a hyperlink) or text that Rich would read as markup (`[bold]`,
`[link=…]`). Every output that reaches a terminal passes user text through `literal` (the
control characters replaced by visible symbols) or, where the text is printed with markup on,
`markup_literal` (the brackets escaped as well).
"""

from __future__ import annotations

import re

from acv_xl.reading.errors import BIDI_CONTROLS
from acv_xl.reading.errors import file_text  # noqa: F401 — defined there: the reader's messages name files too

# C0 controls, DEL and C1 controls: none may reach a terminal raw. Nor Unicode's bidirectional
# controls (marks, embeddings, overrides, isolates): a U+202E typed in a cell turned the rest of the
# message round on a terminal that reorders (« Ville », U+202E, « elbat » shown « Villetable »): a name
# disguised. `cli` refuses a comité label holding one (recorded, it is printed in every workbook)
CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}]")


def _visible(m: re.Match) -> str:
    c = ord(m.group(0))
    if c < 0x20:
        return chr(0x2400 + c)  # ␛ for ESC, ␊ for a line feed, ␇ for the bell…
    if c == 0x7F:
        return "\u2421"  # ␡
    if c <= 0x9F:
        return f"\\x{c:02x}"  # C1 controls have no symbol: their code, written out
    return f"\\u{c:04x}"  # nor the bidirectional ones


def literal(text: object) -> str:
    """`text` with every control character replaced by a visible symbol (ESC → ␛)."""
    s = str(text)
    return CONTROL.sub(_visible, s) if CONTROL.search(s) else s


def markup_literal(text: object) -> str:
    """`literal(text)` with Rich markup escaped too, for a console that interprets markup."""
    from rich.markup import escape

    return escape(literal(text))


def console(stderr: bool = False):
    """A rich console for a command's text (stdout, or stderr). Rich ends the program itself when its
    reader went away (`acv-xl comparer … | head -1`): `SystemExit(1)` — « des changements » of
    `comparer`, « des erreurs » of `annexe`, whatever the result, past the command line's handling of
    a closed pipe. Here it is the `BrokenPipeError` every other write raises, ended as such (status
    141, `cli._run`). rich imported here only: a batch run without a terminal spares it."""
    import errno
    import os

    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more written to a reader gone
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    return _Console(stderr=stderr, highlight=False)
