"""The key that seals the register's blocks and summaries: a secret of this user on this machine.

Each analysis's summary is sealed too (`analysis_seal`): one edited since, sealed under another key or
not at all is never reused, its workbook is read again; a run without a usable key reuses none.

The blocks (`consolidation_blocks`) are sheet XML joined as they are to the consolidated workbook,
for speed never read again. A register is a file that may come from elsewhere (a predecessor's, a
backup, a share): one made to carry a formula in a block (`WEBSERVICE(…)` sending the sheet's
values away when the workbook is opened) would be joined too. So each block is sealed with a key
the register does not hold: a keyed BLAKE2b of the block and of what it stands for (the summary it
was made from, the file's content and path, the sheet, its counts). A block whose seal does not
match — another machine's, another user's, forged, damaged — is made again from its summary, which
is always checked; a run without a usable key reuses and keeps no block (slower, the same workbook).

The key: `ACV_XL_CLE_REGISTRE` (a file), else `cle-registre` in acv-xl's folder of the user's
settings (`%APPDATA%\\acv-xl` under Windows, `~/Library/Application Support/acv-xl` under macOS,
`$XDG_CONFIG_HOME/acv-xl` or `~/.config/acv-xl` elsewhere), created at the first need, readable by
its owner only.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path

KEY_ENV = "ACV_XL_CLE_REGISTRE"
KEY_NAME = "cle-registre"
_KEY_BYTES = 32

_cached: dict[str, bytes | None] = {}  # key file → its key (read once a process)


def key_path() -> Path | None:
    """Where the key is kept (None: no folder of the user's settings can be named)."""
    given = os.environ.get(KEY_ENV, "").strip()
    if given:
        return Path(given)
    try:
        if os.name == "nt":
            base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
        elif sys.platform == "darwin":
            base = Path.home() / "Library" / "Application Support"
        else:
            base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    except (RuntimeError, KeyError):  # no home directory (a service account without one)
        return None
    return base / "acv-xl" / KEY_NAME


def block_key() -> bytes | None:
    """This user's key, created when missing; None when it cannot be read nor made (a read-only home,
    a damaged key file: left as it is) — the blocks are then neither reused nor kept."""
    path = key_path()
    if path is None:
        return None
    where = str(path)
    if where not in _cached:
        _cached[where] = _read(path) or _create(path) or _read(path)  # made meanwhile by another run
    return _cached[where]


def key_problem() -> str | None:
    """Why this user has no usable key (French), or None. Without one, no summary is reused: every
    workbook is read at every consolidation, slower with the same result — said, since `consolider
    --registre` promises not to read unchanged workbooks again."""
    if block_key() is not None:
        return None
    suite = ("chaque classeur est relu à chaque consolidation (même résultat, plus lentement) et les analyses "
             "enregistrées ne sont pas scellées.")
    path = key_path()
    if path is None:
        return (f"aucun dossier de réglages n'est connu pour garder la clé du registre : {suite} Indiquez un "
                f"fichier de clé par la variable d'environnement {KEY_ENV}.")
    if path.exists() or path.is_symlink():
        return (f"la clé du registre « {path} » est illisible ou abîmée (laissée telle quelle) : {suite} "
                "Supprimez-la pour qu'une nouvelle clé soit créée (chaque classeur sera alors relu une fois).")
    return (f"la clé du registre ne peut pas être créée (« {path} ») : {suite} Indiquez par la variable "
            f"d'environnement {KEY_ENV} un fichier dans un dossier où vous pouvez écrire.")


def _read(path: Path) -> bytes | None:
    """The key of a key file, None if there is none to read. Only a regular file, and only its first
    bytes: `ACV_XL_CLE_REGISTRE` naming a named pipe waited for ever, and one naming the register itself
    (a variable mistaken for `--registre`) read it whole to find no key."""
    try:
        if not path.is_file():
            return None
        with open(path, "rb") as fh:
            text = fh.read(4 * _KEY_BYTES).decode("ascii")  # (the key in hex, a newline: a bit more than twice)
        key = bytes.fromhex(text.strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return key if len(key) == _KEY_BYTES else None


def _create(path: Path) -> bytes | None:
    """A new key, written only where no file is (never replacing one: another run's, or a damaged one
    the user may want to look at)."""
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
    except OSError:  # a full disk: the half-written file is ours, not left to block every run after
        try:
            os.unlink(path)
        except OSError:
            pass
        return None
    return key


def seal(key: bytes, resume_crc: int, feuille: str, sha256: str, rel: str, rows: int, length: int, crc: int,
         data: bytes) -> int:
    """The seal of a block: 63 bits of a keyed BLAKE2b (SQLite's INTEGER), over the block's deflate stream
    and what it stands for."""
    h = hashlib.blake2b(key=key, digest_size=8)
    h.update(f"{resume_crc}\x00{feuille}\x00{sha256}\x00{rel}\x00{rows}\x00{length}\x00{crc}\x00"
             .encode("utf-8", "surrogatepass"))
    h.update(data)
    return int.from_bytes(h.digest(), "big") >> 1


def analysis_seal(key: bytes, sha256: str, version_regles: str, valable_jusqu_au: str | None, resume: bytes) -> int:
    """The seal of an analysis (`analyses.controle`): 63 bits of a keyed BLAKE2b over what its reuse
    depends on — the content, the rules, the last day it holds and the summary's UTF-8 bytes as stored.
    A summary edited since, or recorded under another key, does not match: its file is read again."""
    h = hashlib.blake2b(key=key, digest_size=8, person=b"acv-xl analyse")  # never equal to a block's seal
    h.update(f"{sha256}\x00{version_regles}\x00{'' if valable_jusqu_au is None else '=' + valable_jusqu_au}\x00"
             .encode("utf-8", "surrogatepass"))
    h.update(resume)
    return int.from_bytes(h.digest(), "big") >> 1
