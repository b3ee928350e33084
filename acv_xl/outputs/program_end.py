"""What a command's results may leave to the end of the program.

The program `acv-xl` ends without Python's teardown (`cli._exit_now`): the system takes its memory
back at once. A consolidation's result (a thousand summaries, their lines, findings and blocks:
hundreds of thousands of objects) would still be freed object by object when the command's function
returns (≈ 7 ms of a warm run of 1,000 workbooks, for nothing). `keep` hands it to the end of the program instead
— only when the program is about to end so (`ending_soon`, said by the command line): a script or
a server calling the same functions frees its results as usual.
"""

from __future__ import annotations

from typing import Any

_kept: list[Any] = []
_ending_soon = False


def ending_soon(yes: bool = True) -> None:
    """Said by the command line when the command it runs is followed by the program's end."""
    global _ending_soon
    _ending_soon = yes
    if not yes:
        _kept.clear()


def keep(obj: Any) -> None:
    """`obj` freed with the program, not when its last name goes (only when the program ends next)."""
    if _ending_soon:
        _kept.append(obj)
