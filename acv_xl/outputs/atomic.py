"""Write an output file atomically: to a hidden temp file next to it, then rename.

An interrupted or failed run never leaves half a file (or overwrites a good one with half of a
new one): the temp file is removed on any failure, Ctrl-C included. The result gets the
permissions any new file of the user gets (the umask), not the private 0600 of a temp file, so
colleagues can open it on a shared folder.

What may be written where is decided before, by `acv_xl.outputs.output_guard.check_outputs`.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Callable

from acv_xl.contract.system_errors import os_error_text


class OutputError(OSError):
    """An output could not be written. Its text is French and names the output the user asked
    for, never the temp file (« permission refusée : impossible d'écrire … »)."""

    def __init__(self, out: Path, exc: OSError):
        self.out = Path(out)
        if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            why = ("permission refusée : impossible d'écrire {out} (le fichier est-il ouvert dans Excel ? "
                   "avez-vous le droit d'écrire dans ce dossier ?)")
        elif exc.errno == errno.ENOSPC:
            why = "impossible d'écrire {out} : le disque est plein."
        else:  # the system's reason in French, never its English `strerror`
            why = "impossible d'écrire {out} ({detail})."
        super().__init__(exc.errno, why.format(out=self.out, detail=os_error_text(exc)), str(self.out))

    def __str__(self) -> str:
        return self.strerror


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(out: Path, write: Callable[[Path], None], mode_of: Path | None = None) -> Path:
    """Call `write(tmp)` on a temp path in `out`'s folder, then rename it to `out`.

    `mode_of`: a file whose permissions the output takes (a copy keeps its original's), its owner
    always allowed to write it.
    A system error while writing (permission, full disk) is raised as `OutputError`."""
    import shutil

    out = Path(out)
    try:
        tmp = _temp(out)
    except OSError as exc:
        raise OutputError(out, exc) from None
    try:
        write(Path(tmp))
        if mode_of is not None:
            shutil.copymode(mode_of, tmp)
            # but writable by its owner: a copy of a read-only original (a file on a read-only share,
            # Windows's « Lecture seule ») is a workbook the user goes on filling, and replaces later
            os.chmod(tmp, stat.S_IMODE(os.stat(tmp).st_mode) | stat.S_IWUSR)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OutputError):
            raise
        if (system := _system_error(exc)) is not None:
            raise OutputError(out, system) from None
        raise
    return out


def _temp(out: Path) -> str:
    """A new empty hidden file next to `out` (its path): where `atomic_write` writes."""
    import tempfile  # here: the command line imports this module at start-up for `OutputError`

    # « . », 8 random characters and « .tmp » added: a long name is cut so that the temp file's name
    # is no longer than the output's (a name the system accepts, under Windows' 260-character paths too)
    name = out.name if len(out.name) < 28 else out.name[:len(out.name) - 14]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    return tmp


def cannot_write(out: Path) -> OSError | None:
    """Why `atomic_write(out)` could not create its temp file (the system's error), or None: the
    file is created as it will be, then removed at once. The system's own answer, where
    `os.access` guesses from permission bits: wrong under Windows (a folder is always « writable »
    to it), on network shares that decide themselves, with ACLs, or for root."""
    try:
        tmp = _temp(Path(out))
    except OSError as exc:
        return exc
    try:
        os.unlink(tmp)
    except OSError:
        pass
    return None


def _system_error(exc: BaseException) -> OSError | None:
    """The system's error behind a failed write: the exception itself, or the one XlsxWriter wraps
    in its `FileCreateError` (a full disk while it writes the zip), which is no `OSError`."""
    if isinstance(exc, OSError):
        return exc
    if type(exc).__name__ == "FileCreateError" and exc.args and isinstance(exc.args[0], OSError):
        return exc.args[0]
    return None


def atomic_write_bytes(out: Path, data: bytes) -> Path:
    """`atomic_write` of bytes already built."""
    return atomic_write(out, lambda tmp: tmp.write_bytes(data))
