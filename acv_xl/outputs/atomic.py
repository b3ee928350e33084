"""Write an output file atomically: to a hidden temp file next to it, then rename.

An interrupted or failed run never leaves half a file (or overwrites a good one with half of a
new one). The result gets the permissions any new file of the user gets (the umask), not the
private 0600 of a temp file, so colleagues can open it on a shared folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(out: Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temp path in `out`'s folder, then rename it to `out`."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return out
