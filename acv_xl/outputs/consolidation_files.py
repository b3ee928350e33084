"""The files of a consolidation: which workbooks a folder holds (`discover`) and what each holds
(`_identify`: size, date, SHA-256), and both done ahead by another process (`prefetch`).

Apart from `consolidation` so that they import nothing heavy: `acv-xl consolider` forks a process
that runs them while its own process imports the rest (pydantic, the rules, the writer: ≈ 0.13 s).
With a register, the SHA-256 of every file says which ones to read again; the process that
consolidates then takes the list and the digests found (`Prefetch.result`), computed by the same
functions on the same files, instead of walking and hashing the folder itself (≈ 0.08 s of 1,000
files); without one, the list alone (≈ 0.025 s of 1,000 files, before any worker could start).
Where it cannot be done (not Linux, another thread running, the process failed), the
consolidation walks and hashes as before.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import signal
import sys
import threading
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Callable, Iterable, Sequence

from acv_xl.contract.system_errors import os_error_text, resolved
from acv_xl.reading.errors import file_text, shown_file

EXTENSIONS = (".xlsx", ".xlsm")
# Formats a commune may send by mistake: listed as unreadable (STR-02) rather than silently ignored.
EXTENSIONS_REFUSEES = (".xls", ".xlsb", ".ods")
# Files a walk does not read but names, by their name alone (a workbook's extension inside it, an
# archive), or by their first bytes when they have no extension at all (rare: one `open` each):
# workbooks may be missing there (`discover`'s `passed_over`).
# (the last one: « rapport.xls.xlsx.bak » is the backup of « rapport.xls.xlsx », not of « rapport.xls »)
_WORKBOOK_INSIDE = re.compile(r".*(\.(?:xlsx|xlsm|xlsb|xls|ods))(?=[.~])", re.IGNORECASE | re.DOTALL)
_ARCHIVES = (".zip", ".7z", ".rar")
# another kind of document after a workbook's name: a workbook printed or exported (« calais.xlsx.pdf »),
# a detached signature or checksum, never a workbook to save again as one (an enveloped signature,
# « .p7m », holds the workbook: said; so does a mail, below)
_OTHER_DOCUMENTS = (".pdf", ".txt", ".csv", ".json", ".doc", ".docx", ".odt", ".rtf", ".png", ".jpg", ".jpeg",
                    ".p7s", ".sig", ".sha256", ".md5", ".log")
_UNFINISHED = (".part", ".crdownload", ".download", ".partial", ".tmp")
# a mail saved under its subject, which Excel's « Envoyer une copie » makes the workbook's name, the
# workbook attached: « calais.xlsx.msg » (Outlook), « .eml »
_MAILS = (".msg", ".eml")


def workbook_name(name: str) -> bool:
    """Whether a file's name is a workbook's (`EXTENSIONS`, `EXTENSIONS_REFUSEES`), spaces after it
    aside: « calais.xlsx  » (unzipped on Linux from an archive made elsewhere) was neither read nor
    said; Excel and the reader take it as the workbook it is."""
    return name.rstrip().lower().endswith(EXTENSIONS + EXTENSIONS_REFUSEES)


# ------------------------------------------------------------------ discovery
class UsageError(Exception):
    """Bad arguments or nothing to consolidate: a French message, exit status 2."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C once some outputs of the run are written: a Ctrl-C still (status 130, every handler of
    one applies), its message saying what the folder now holds and what is missing."""


def departement_option(typed: object) -> str | None:
    """`--departement` as typed → the code every output writes (« 062 » is 62, « 2a » is 2A), None when
    not given or blank; a code of no département refused in French (`consolider` and `historique` alike)."""
    from acv_xl.checks.rules.consolidation import norm_departement

    code = str(typed).strip().upper() if typed is not None and str(typed).strip() else None
    if code is not None and not re.fullmatch(r"\d{2,3}|2[AB]", code):
        raise UsageError(f"code de département invalide : « {str(typed).strip()} » (attendu : 62, 2A, 974…).")
    return norm_departement(code) if code is not None else None


def _hidden(name: str, path: str | None = None) -> bool:
    """Dot files, Excel lock files (`~$…`), and on Windows files with the « hidden » attribute."""
    if name.startswith(".") or name.startswith("~$"):
        return True
    if path is not None and os.name == "nt":
        try:
            return bool(os.stat(path).st_file_attributes & 2)  # FILE_ATTRIBUTE_HIDDEN
        except (OSError, AttributeError):
            return False
    return False


def walked_takes(path: str) -> bool:
    """Whether a folder walk (`discover`) takes this entry: a folder, or a file with a workbook's name
    (`EXTENSIONS`, `EXTENSIONS_REFUSEES`), neither hidden nor Excel's lock file."""
    name = os.path.basename(path.rstrip("/" + os.sep))
    # a link leading nowhere too (a commune's folder moved): `discover` says it, as a walk does
    return not _hidden(name, path) and (os.path.isdir(path) or workbook_name(name)
                                        or (os.path.islink(path) and not os.path.exists(path)))


def named_takes(path: str | Path) -> bool:
    """Whether `discover` takes a path named rather than refuse it « introuvable »: a folder, a file,
    or a link whatever its target. Read as `discover` reads it, a `Path`: « 62/arras/ » is « 62/arras »,
    a broken link still (the system, through the link, finds nothing there)."""
    p = Path(path)
    return p.exists() or p.is_symlink()


def discover(paths: Sequence[Path], exclude: Iterable[Path] = (),
             shown: dict[Path, Path] | None = None,
             skipped: list[tuple[Path, str]] | None = None,
             passed_over: list[tuple[Path, str]] | None = None) -> tuple[list[Path], Path]:
    """The workbooks to consolidate (sorted, each once) and the base folder their paths are shown from.

    Folders are walked recursively; Excel lock files (`~$…`) and hidden files/folders are skipped.
    A file named explicitly is taken whatever its extension (the validator says why it is refused;
    among others, one that is no workbook is listed apart: `consolidation._not_workbooks`), but the
    backup or download of a workbook, left out as a walk leaves it and said in `passed_over`
    (`_named_passed_over`).
    A symbolic link to a folder (communes' folders kept elsewhere and linked into the département's)
    is followed once its real folders are walked, unless what it leads to is walked already (its
    workbooks are found then) or holds the link itself (a loop). `shown`, when given, receives
    the name in the folder of each file found through a symbolic link (the folder as walked, its
    own name kept): a file is shown and read under that name, never under its link's target — a
    path elsewhere on the machine, or a name absent from the folder. `skipped`, when given,
    receives each folder (as shown) that could not be walked, with why in French: a looping link,
    a link whose target is missing, a folder that cannot be listed — workbooks may be missing there;
    such a link named (a Unix shell's `62/*` names each entry) is said the same, never a refusal, and
    so is a link to a folder holding it named with its folder (named alone, it is walked as asked).
    `passed_over`, when given, receives each file of a walked folder left unread that may be a
    workbook (as shown), with what it looks like in French (`_passed_over`): `calais.xlsx.part`,
    `conventions.zip`, a workbook without extension — unless its workbook is beside it.
    """
    excluded = {resolved(p) for p in exclude}
    found: dict[Path, Path] = {}
    roots: list[Path] = []
    walked: set[Path] = set()
    links: list[tuple[Path, Path]] = []  # (as shown, as found): followed after every real folder
    lost: list[tuple[Path, str]] = []
    unread: list[tuple[Path, str]] = []
    holding: list[tuple[Path, Path, Path]] = []  # links named to a folder holding them: (link, its folder, target)
    asked: list[tuple[Path, str, str]] = []  # backups named (`_named_passed_over`): (path, its workbook, why)
    # (folder as typed, name as `_beside` compares it) of each path named: a backup named with its workbook
    named = {(_folder_key(a), os.path.basename(a).rstrip().lower())
             for a in map(os.path.abspath, paths)} if len(paths) > 1 else set()
    for p in paths:
        p = Path(p)
        if not p.exists():
            if p.is_symlink():  # listed in its folder, which a Unix shell's `*` names entry by entry: as a walk
                # has it (`consolider 62/*` was refused whole, « ne l'indiquez pas », where `consolider 62`
                # said it and went on) — a workbook's name read, « illisible »; any other not walked, said
                folder = resolved(p.parent)
                roots.append(folder)
                if workbook_name(p.name):
                    _found(found, folder / p.name)
                else:
                    lost.append((folder / p.name, _unfollowed(p)))
                continue
            raise UsageError(f"« {p} » est introuvable (ni dossier ni fichier de ce nom). Vérifiez le chemin.")
        if p.is_dir():
            root = p.resolve()
            if p.is_symlink() and (folder := resolved(p.parent)).is_relative_to(root):
                # a link to a folder holding it (« 62/haut » → « .. »), which `62/*` names: walked, the whole
                # tree above was read, other départements' workbooks counted, where a walk of 62 says it —
                # decided once every name is seen (its folder consolidated too, or the link named alone)
                holding.append((p, folder, root))
                continue
            roots.append(root)
            _walk(root, root, found, walked, links, lost, unread)
        elif (why := _named_passed_over(p, named)) is not None:
            folder = resolved(p.parent)
            roots.append(folder)
            asked.append((folder / p.name, *why))
        else:
            roots.append(p.resolve().parent)
            _found(found, resolved(p.parent) / p.name)
    for p, folder, root in holding:
        # its folder walked, or another of its entries named (`62/*`)
        if folder in walked or any(Path(q) != p and resolved(Path(q).parent) == folder for q in paths):
            roots.append(folder)
            lost.append((folder / p.name, _HOLDING))
        else:
            roots.append(root)
            _walk(root, root, found, walked, links, lost, unread)
    for link_shown, link in links:  # the list grows while a followed link holds links
        target = resolved(link)
        if target in walked:
            continue  # walked already, through its own path or another link: its workbooks are found
        if link.parent.is_relative_to(target):  # `link.parent`: a real folder, resolved already
            lost.append((link_shown, _HOLDING))
            continue
        _walk(target, link_shown, found, walked, links, lost, unread)
    listed: dict[Path, frozenset[str]] = {}  # each folder listed once: zsh's `62/**/*` names its backups by hundreds
    for path, workbook, why in asked:
        # its workbook read from its folder walked (`consolider 62 62/calais.xlsx.bak`): said as when named
        if not why.endswith(READ_IN_ITS_PLACE) and path.parent in walked:
            if path.parent not in listed:
                listed[path.parent] = folder_names(str(path.parent))
            if _beside(workbook, listed[path.parent]):
                why = _read_in_its_place(why, workbook, "dans le dossier parcouru")
        unread.append((path, why))
    files = sorted((f for f in found if f not in excluded), key=lambda f: str(found[f]).lower())
    if shown is not None:
        shown.update((f, found[f]) for f in files if found[f] != f)
    if skipped is not None:  # each once: a broken link named and walked (`consolider 62 62/lien`) is one
        skipped.extend(sorted(dict(lost).items(), key=lambda x: str(x[0]).lower()))
    if passed_over is not None:  # each once: one named in a folder walked (`consolider 62 62/lens.xlsx.part`)
        passed_over.extend(sorted(dict(unread).items(), key=lambda x: str(x[0]).lower()))
    return files, _common_folder(roots)


_HOLDING = "lien symbolique vers un dossier qui le contient, non suivi pour éviter une boucle"


def _named_passed_over(path: Path, named: set[tuple[str, str]]) -> tuple[str, str] | None:
    """(the workbook it stands for, why it is left unread as a walk leaves it, in French) of a file
    named; None for a file read as asked.
    The backup, download, mail or shortcut of a workbook (« calais.xlsx.bak », `_passed_over`) is never read: a Unix shell's `62/*` names « lens.xlsx.BAK » as a walk finds it, and
    reading it counted a convention `consolider 62` lists « non lu » — the totals depended on the shell.
    A backup is an older state, a download an unfinished one: the walk's choice, whose message says how
    to have it consolidated (saved as a workbook) — named with its folder too, as zsh's `62/**/*` names
    every folder and file under 62. Named with its workbook (`named`: (folder, name) of
    every path named, as `_beside` compares names), it is said so: typed by hand
    (`consolider 62/calais.xlsx 62/calais.xlsx.bak`), it was left out without a word. Only a
    name made of a workbook's and more: a file without extension, told by its content, may be another
    convention (« arras », damaged, is « illisible »), and is read."""
    if workbook_name(path.name) or _WORKBOOK_INSIDE.match(path.name) is None:
        return None
    why = _passed_over(path.name, str(path), path.is_file)
    if why is None:  # another document (« calais.xlsx.pdf »): read, listed « pas un classeur Excel »
        return None
    workbook, text = why
    if (_folder_key(os.path.abspath(path)), workbook.rstrip().lower()) in named:
        text = _read_in_its_place(text, workbook, "indiqué aussi")
    return workbook, text


# the end of why a file named is not read when its workbook, named too, is: nothing to save for it
READ_IN_ITS_PLACE = "est lu à sa place"


def _read_in_its_place(why: str, workbook: str, where: str) -> str:
    """`why` (`_passed_over`) of a file whose `workbook` is read in its place: what it is, without
    the remedy that may follow it — « message électronique, non ouvert : enregistrez-en le classeur
    joint ; son classeur …, indiqué aussi, est lu à sa place » told to save a workbook already read."""
    return f"{why.partition(' : ')[0]} ; son classeur « {shown_file(file_text(workbook))} », {where}, {READ_IN_ITS_PLACE}"


def _folder_key(path: str) -> str:
    """The folder of an absolute path as `_named_passed_over` compares it: in any case under Windows
    (« C:\\ACV\\62 » typed for one file, « c:\\acv\\62 » for its backup: one folder)."""
    folder = os.path.dirname(path)
    return folder.lower() if _WINDOWS else folder


def _common_folder(roots: Sequence[Path]) -> Path:
    """The folder the files are shown from: the one holding every root; under Windows, none holds
    folders of two drives (« C:\\ACV\\62 » and a share « \\\\serveur\\partage\\59 »: `commonpath`
    raises ValueError) — « . » then, of which no file is part: each is shown by its full path."""
    if not roots:
        return Path.cwd()
    try:
        return Path(os.path.commonpath([str(r) for r in roots]))
    except ValueError:
        return Path()


def _walk(top: Path, top_shown: Path, found: dict[Path, Path], walked: set[Path],
          links: list[tuple[Path, Path]], lost: list[tuple[Path, str]],
          unread: list[tuple[Path, str]]) -> None:
    """Every folder under `top` (resolved), shown under `top_shown`, without entering a link: the
    files found into `found`, each folder walked into `walked`, each link to a folder into
    `links`, each folder not listed and each broken link into `lost`, each file left that may be
    a workbook into `unread`."""
    todo = [(top, top_shown)]
    while todo:
        real, shown = todo.pop()
        if real in walked:  # named too (`consolider 62 62/sous`): its files and its « non lus » found once
            continue
        walked.add(real)
        try:
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            lost.append((shown, f"dossier illisible, {os_error_text(exc)}"))
            continue
        folders = []
        maybe: list[tuple[str, str, str]] = []  # (name, its workbook's name, why) of files not read
        for e in entries:
            name = e.name
            link = False
            unreachable: OSError | None = None
            try:
                # a Windows junction is a link too: followed as one, never walked into blindly (a loop)
                link = e.is_symlink() or _is_junction(e)
                if not link and e.is_dir(follow_symlinks=False):
                    if not _hidden(name):
                        folders.append((real / name, shown / name))
                    continue
                to_folder = link and e.is_dir()
            except OSError as exc:  # a link that loops, or whose target is refused or on a share gone
                to_folder, unreachable = False, exc
            if unreachable is not None and link and not _hidden(name) \
                    and not workbook_name(name):
                # maybe a folder: workbooks may be missing (a workbook's name is listed, read, « illisible »)
                lost.append((shown / name, _unfollowed(e.path, unreachable)))
            elif to_folder:
                if not _hidden(name):
                    links.append((shown / name, real / name))
            elif workbook_name(name):  # a link too: listed, read through it
                if not _hidden(name, e.path):
                    # a plain file of a resolved folder is its own resolved path: no `realpath` walk
                    # of every component (≈ 15 µs a file)
                    _found(found, shown / name, None if link else real / name)
            elif link and not _hidden(name) and not os.path.exists(e.path):
                # a folder moved, a share not mounted: workbooks may be missing
                lost.append((shown / name, _unfollowed(e.path)))
            elif (why := _passed_over(name, e.path, e.is_file)) is not None:
                maybe.append((name, *why))
        if maybe:  # a backup or a download beside its workbook is that workbook's: nothing to say
            beside = frozenset(e.name.rstrip().lower() for e in entries)  # « calais.xlsx␣ » read: its backup's too
            unread.extend((shown / name, why) for name, workbook, why in maybe
                          if not _beside(workbook, beside) and not _hidden(name, os.path.join(real, name)))
        todo.extend(reversed(folders))


def _unfollowed(path: str | Path, exc: OSError | None = None) -> str:
    """Why a symbolic link that leads to no folder nor file was not walked, in French: its target
    missing, or the system's error when following it (`exc`, asked of the system when not given)."""
    if exc is None:
        try:
            os.stat(path)
        except FileNotFoundError:
            pass
        except OSError as err:  # it loops, a component is a file, a share refused
            exc = err
    if exc is None:  # (a folder moved, a share not mounted)
        return "lien symbolique dont la cible est introuvable"
    return f"lien symbolique qui n'a pas pu être suivi, {os_error_text(exc)}"


def not_taken_why(path: str, names_in: Callable[[str], frozenset[str]] | None = None) -> str | None:
    """What a file a walk would not take may be (`_passed_over`), in French, for a pattern's match
    (`consolider "62/*"` typed in cmd, which acv-xl expands as a walk takes a folder's entries); None
    for any other, a hidden one, or one whose own workbook is beside it, as in a walk (`_beside`).
    `names_in`: a folder's names in lower case (`names_in`, which the caller may keep per folder)."""
    name = os.path.basename(path)
    if _hidden(name, path) or (why := _passed_over(name, path, lambda: os.path.isfile(path))) is None:
        return None
    workbook, text = why
    return None if _beside(workbook, (names_in or folder_names)(os.path.dirname(path) or ".")) else text


def folder_names(folder: str) -> frozenset[str]:
    """The names of a folder's entries, in lower case and without the spaces a workbook's name may end
    with (`workbook_name`), as `_beside` compares them (none for a folder that cannot be listed)."""
    try:
        return frozenset(n.rstrip().lower() for n in os.listdir(folder))
    except OSError:
        return frozenset()


def _beside(workbook: str, names: frozenset[str]) -> bool:
    """Whether the workbook a backup or a download stands for (« calais.xlsx » for « calais.xlsx.bak »)
    is among a folder's `names` (lower case, trailing spaces stripped): in any case, as Windows finds it
    — `Calais.xlsx` beside `calais.xlsx.bak` was that backup's workbook to a walk, and not to a pattern,
    on Linux; and « calais.xlsx␣ », read as the workbook it is (`workbook_name`), left its backup
    « non lu » as if the workbook were missing."""
    return bool(workbook) and workbook.lower() in names


def _passed_over(name: str, path: str, is_file: Callable[[], bool]) -> tuple[str, str] | None:
    """(the workbook's name it stands for, what it looks like, in French) of a file a walk does not
    read that may be a workbook; None for any other (a PDF, notes.txt). By its name, but for a file
    without extension, whose first bytes say whether it is a zip — a workbook is one. `is_file`:
    whether `path` is a regular file (a walk's entry knows it without a system call). Its kind is read
    from its name without the spaces that may end it, as a workbook's (`workbook_name`): « calais.xlsx.part␣ »
    (unzipped on Linux from an archive made elsewhere) is a download, « calais.xlsx.pdf␣ » a document."""
    low = name.rstrip().lower()
    if low.endswith(_ARCHIVES):
        return "", "archive, non ouverte : extrayez-en les classeurs"
    if (inside := _WORKBOOK_INSIDE.match(name)) is not None:
        workbook, rest = name[:inside.end()], name[inside.end():]
        if low.endswith(_OTHER_DOCUMENTS):
            return None
        if low.endswith(_UNFINISHED):
            return workbook, "fichier en cours de téléchargement ou de copie ?"
        if low.endswith(".lnk"):
            return workbook, "raccourci Windows, non suivi : remplacez-le par le classeur lui-même"
        if low.endswith(_MAILS):
            return workbook, "message électronique, non ouvert : enregistrez-en le classeur joint"
        # (as the name is shown; the spaces ending it, said with the name — « boul.xlsx.bak (espace finale) » —,
        # left out here: « « .bak␣ » ajouté » showed them invisible)
        return workbook, f"« {file_text(rest.rstrip() or rest)} » ajouté après « {inside.group(1)} »"
    if "." in name.lstrip(".") or name.startswith(("~$", ".")):
        return None
    try:  # a regular file only: opening a named pipe waits for a writer forever
        if not is_file():
            return None
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return None
    except OSError:
        return None
    return name + ".xlsx", "classeur sans extension .xlsx ?"


_WINDOWS = os.name == "nt"
_REPARSE_POINT = 0x400  # `stat.FILE_ATTRIBUTE_REPARSE_POINT`
_MOUNT_POINT = 0xA0000003  # `stat.IO_REPARSE_TAG_MOUNT_POINT`: a junction


def _is_junction(entry: os.DirEntry) -> bool:
    """A Windows junction: Python 3.12 and later say it; before, a folder that is a reparse point (its
    attributes come with the listing: no system call). Walked as a plain folder, its files would be
    kept under the junction's path, unresolved: the same workbook reached twice (two junctions, or
    a junction and the folder itself) would be counted twice."""
    is_junction = getattr(entry, "is_junction", None)
    if is_junction is not None:
        return bool(is_junction())
    if not _WINDOWS:
        return False
    try:
        st = entry.stat(follow_symlinks=False)
        # a mount point's tag, as 3.12 tells (a OneDrive folder is a reparse point of another tag)
        return bool(getattr(st, "st_file_attributes", 0) & _REPARSE_POINT) \
            and getattr(st, "st_reparse_tag", _MOUNT_POINT) == _MOUNT_POINT and entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _found(found: dict[Path, Path], path: Path, key: Path | None = None) -> None:
    """`path` found, once whatever the links leading to it: by its resolved path (`key`, when the
    caller knows it), with its name — the file's own rather than a link's when both are found."""
    if key is None:
        key = resolved(path)  # a link that loops stays as it is: read, it is « illisible » (ELOOP, in French)
    if key not in found or (found[key] != key and path == key):
        found[key] = path


_CUSTOM_PART = b"docProps/custom.xml"


def _identify(path: str) -> tuple[int, float, str, bool]:
    """Size, modification time, SHA-256 of a file, and whether it may carry acv-xl's mark: a zip
    holding a custom-property part, or a file that is no zip at all (a `--json` summary, a PDF
    annex: `output_guard.derived_kind` reads their mark). A workbook without that part is never
    opened again to look for it."""
    return _identity(path, keep=False)[:4]


# the content of a file up to this size is kept by `identify_kept` for its reader, which holds a file
# up to that size in memory anyway (`source_file._IN_MEMORY_MAX`)
_KEPT_MAX = 64 * 1024 * 1024


def identify_kept(path: str) -> tuple[int, float, str, bool, bytes | None]:
    """`_identify`, and the bytes it hashed (None above `_KEPT_MAX`): the file is then read once, not
    once to be hashed and again to be read as a workbook (`summarize`)."""
    return _identity(path, keep=True)


def _identity(path: str, keep: bool) -> tuple[int, float, str, bool, bytes | None]:
    st = os.stat(path)
    # a named pipe « tube.xlsx » in the folder: opening it waited for a writer forever (a device: endless);
    # the reader says what it is (a folder fails to open at once, its reason said as for any file)
    if not S_ISREG(st.st_mode) and not S_ISDIR(st.st_mode):
        return st.st_size, st.st_mtime, "", False, None
    with open(path, "rb") as fh:
        if keep and st.st_size <= _KEPT_MAX:
            data = fh.read()
            return (st.st_size, st.st_mtime, hashlib.sha256(data).hexdigest(),
                    _CUSTOM_PART in data or data[:2] != b"PK", data)
        h = hashlib.sha256()
        custom, tail, first = False, b"", None
        for block in iter(lambda: fh.read(1 << 20), b""):
            if first is None:
                first = block[:2]
            h.update(block)
            # a zip stores its part names as they are: without this one, no custom property
            custom = custom or _CUSTOM_PART in tail + block[:len(_CUSTOM_PART)] or _CUSTOM_PART in block
            tail = block[-len(_CUSTOM_PART):]
    return st.st_size, st.st_mtime, h.hexdigest(), custom or first != b"PK", None


# ------------------------------------------------------------------ ahead, in another process
class ForkedChild:
    """A process this one forked, and the pipe it answers through (`Prefetch`, and the reading process
    of `consolidation_worker`)."""

    def __init__(self, pid: int, fd: int):
        self._pid: int | None = pid
        self._fd: int | None = fd

    def close(self) -> None:
        """The process stopped if still running (its answer no longer wanted: the command stopped
        before, a usage error, a register refused, Ctrl-C) and reaped."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._wait()

    def _wait(self) -> None:
        if self._pid is not None:
            try:
                os.waitpid(self._pid, 0)
            except ChildProcessError:
                pass
            self._pid = None


class Prefetch(ForkedChild):
    """`discover(paths)` and `_identify` of each file found, computed by a forked process."""

    def __init__(self, paths: Sequence[Path], pid: int, fd: int):
        super().__init__(pid, fd)
        self.paths = [Path(p) for p in paths]
        self._result: tuple | None = None
        self.skipped: list[tuple[Path, str]] = []  # `discover`'s, once `result` has given the rest
        self.passed_over: list[tuple[Path, str]] = []  # the same

    def result(self, paths: Sequence[Path]) -> tuple[list[Path], Path, dict[str, tuple | None],
                                                   dict[Path, Path]] | None:
        """(files, base, identity by path shown — None where the file could not be read, the names
        shown of `discover`; its folders not walked are then in `skipped`, its files left unread in
        `passed_over`), or None: not for these
        paths, or the process failed (the caller then walks and hashes itself)."""
        if self._fd is not None:
            try:
                with os.fdopen(self._fd, "rb") as pipe:
                    self._fd = None
                    data = pipe.read()
                got = pickle.loads(data) if data else None
                if got is not None:
                    self._result = _paths(*got[:4])
                    self.skipped = [(Path(p), why) for p, why in got[4]]
                    self.passed_over = [(Path(p), why) for p, why in got[5]]
            except Exception:  # noqa: BLE001 — anything amiss: done again by the caller
                self._result = None
            self._wait()
        if self._result is None or [Path(p) for p in paths] != self.paths:
            return None
        return self._result



def _paths(files: list[str], base: str, ids: dict[str, tuple | None], shown: dict[str, str]) -> tuple:
    """What the forked process sent, its names made paths again (`discover`'s result)."""
    return [Path(f) for f in files], Path(base), ids, {Path(k): Path(v) for k, v in shown.items()}


def fork_with_pipe(room: int | None = None) -> tuple[int, int, int] | None:
    """A process forked with a pipe to answer through: (pid — 0 in the forked process —, read end,
    write end); None where that is not safe (not Linux: no fork, or not cheap; another thread
    running: a fork copies the locks it holds) or not possible (no pipe, no process left to the
    user): the caller then does the work itself. `room`: the pipe's size asked for (the system's
    default above its limit)."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    try:
        r, w = os.pipe()
    except OSError:
        return None
    if room:
        try:
            import fcntl

            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, room)
        except (ImportError, AttributeError, OSError):
            pass
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    return pid, r, w


def prefetch(paths: Sequence[Path], identify: bool = True) -> Prefetch | None:
    """Start `discover(paths)` and, with `identify`, the identity of every file found (a register
    that may know them) in a forked process; None where it cannot be (`fork_with_pipe`): the
    consolidation does it itself."""
    if (forked := fork_with_pipe()) is None:
        return None
    pid, r, w = forked
    if pid == 0:  # the forked process: its result into the pipe, then gone without Python's exit
        status = 1
        try:
            os.close(r)
            shown: dict[Path, Path] = {}
            skipped: list[tuple[Path, str]] = []
            passed_over: list[tuple[Path, str]] = []
            files, base = discover(paths, shown=shown, skipped=skipped, passed_over=passed_over)
            ids: dict[str, tuple | None] = {}
            for f in files if identify else ():
                name = str(shown.get(f, f))
                try:
                    ids[name] = _identify(name)
                except OSError:
                    ids[name] = None
            # names, not paths: a path is pickled as its parts, each joined again on arrival (≈ 3.5 µs a
            # file, where making it of its name takes ≈ 2 µs)
            sent = ([str(f) for f in files], str(base), ids, {str(k): str(v) for k, v in shown.items()},
                    [(str(p), why) for p, why in skipped], [(str(p), why) for p, why in passed_over])
            with os.fdopen(w, "wb") as pipe:
                pipe.write(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL))
            status = 0
        except BaseException:  # noqa: BLE001 — a missing path, Ctrl-C, a reader gone: nothing sent
            pass
        finally:
            os._exit(status)
    os.close(w)
    return Prefetch(paths, pid, r)
