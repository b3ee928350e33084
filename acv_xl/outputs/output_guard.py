"""What a command may write: never onto its inputs, never two outputs to one file, never over a
file that is not a report of the very kind it writes unless the user says `--remplacer`.

A commune's workbook (the template, filled or not, or an annotated copy the user went on editing)
is never lost by a mistyped output name. acv-xl's derived reports carry a mark in their content
(`acv_xl.reading.provenance`) and may be replaced by a report of their own kind: re-running
`consolider` or `annexe` is normal. A command writing a convention workbook (`modele`,
`exemples`, `valider --annoter`, `migrer`) replaces no report: typed over a référent's
consolidation or annex, it is refused like over any other file.

API, for every command that writes (call it before any work, then write through
`acv_xl.outputs.atomic.atomic_write`):

    from acv_xl.outputs.output_guard import CONSOLIDATION, Output, check_outputs

    problem = check_outputs(
        inputs=[fichier_a, fichier_b],                       # every file read (a folder's workbooks too)
        outputs=[Output(sortie, (".xlsx",), "-o", CONSOLIDATION),  # extension(s) accepted, option named
                 Output(resume, (".json",), "--json", CONSOLIDATION)],  # in messages, what is written
        replace=args.remplacer,                              # the command's `--remplacer`
    )
    if problem:
        return _fail(problem)                                # French, names the file and the way out; exit 2

Each `Output` says what it writes (`kind`): a kind of report of `provenance.KINDS`, or
`CONVENTION_WORKBOOK` (the default, also for a plain path): a workbook holding a convention,
which replaces no file without `replace`, acv-xl's reports included.

A derived report marks itself with `mark_xlsxwriter(wb, kind)`, `mark_openpyxl(wb, kind)` or
`mark_json(data, kind)`, `kind` one of `provenance.KINDS` (CONSOLIDATION, ANNEXE, EXTRAIT,
COMPARAISON, HISTORIQUE, all re-exported here); a workbook printed to PDF also gets
`pdf_keywords(kind)` as its « keywords » property. A workbook holding a convention is never
marked. `is_derived_report(path)` / `derived_kind(path)` read the mark (bounded reads only).
Where no `--remplacer` exists (an Excel button), pass `way_out=` the sentence to show instead.
A failure while writing is an `atomic.OutputError`, whose text names the output.

The checks, in order (the first failing one is returned):
1. each output has an accepted extension (`--json` .json, a workbook .xlsx) and, under Windows, a
   name Windows gives to a file (`windows_name_problem`: no device name, no refused character);
2. no two outputs are one file (their names compared without case nor Unicode normalisation, as
   Windows and macOS do);
3. each output's folder exists (one behaviour everywhere: it is never created) and is not the
   output itself;
4. no output is one of the inputs: same resolved path (NFC and NFD spellings alike), or same file
   (inode and device: a hard link, another spelling of the path) — even with `replace`;
5. an existing output is replaced only with `replace`, or when it is a derived report of the
   output's own `kind` (never when the output is a `CONVENTION_WORKBOOK`);
6. each output's folder is writable: the temp file the write will use is created and removed
   (`atomic.cannot_write`), so that the system answers, not `os.access`'s guess.
"""

from __future__ import annotations

import enum
import errno
import os
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from acv_xl.contract import layout
from acv_xl.contract.system_errors import os_error_text, resolved
from acv_xl.outputs.atomic import cannot_write
from acv_xl.reading import provenance
from acv_xl.reading.provenance import (  # noqa: F401 — the kinds, re-exported for the writers
    ANNEXE,
    COMPARAISON,
    CONSOLIDATION,
    EXTRAIT,
    HISTORIQUE,
    mark,
    produced_by,
)

REMPLACER = "--remplacer"


class Written(enum.Enum):
    """What an output holds when it is no report of `provenance.KINDS`."""

    # a workbook holding a convention (template, examples, annotated copy, migrated workbook):
    # never marked, and it replaces no file without `--remplacer` — a report of acv-xl neither
    CONVENTION_WORKBOOK = "classeur de convention"


CONVENTION_WORKBOOK = Written.CONVENTION_WORKBOOK

_PDF_KEYWORDS = re.compile(rb"/Keywords\s*(<[0-9A-Fa-f\s]*>|\((?:[^()\\]|\\.)*\))")
# LibreOffice writes « acv-xl annexe » as the keyword list « acv-xl, annexe »
_PDF_MARK = re.compile(re.escape(provenance.PREFIX.strip()) + r"[\s,]+([a-z]+)")


@dataclass(frozen=True)
class Output:
    """One file a command will write: its path, the extensions it may have, how the user named
    it (« -o », « --json », « --annoter », « SORTIE »): the messages use that name."""

    path: Path
    extensions: tuple[str, ...] = (".xlsx",)
    option: str = field(default="")
    # the kind of report written (`provenance.KINDS`): only a report of that kind is replaced
    # without `--remplacer` (an historique typed over the consolidation of a comité is refused);
    # CONVENTION_WORKBOOK replaces none (`modele` typed over a référent's consolidation is refused)
    kind: str | Written = CONVENTION_WORKBOOK

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not isinstance(self.kind, Written) and self.kind not in provenance.KINDS:
            raise ValueError(f"unknown kind of output: {self.kind!r}")

    @property
    def label(self) -> str:
        return f"le fichier de sortie ({self.option})" if self.option else "le fichier de sortie"


# ----------------------------------------------------------------------------- marks
def mark_xlsxwriter(wb: Any, kind: str) -> None:
    """Mark an XlsxWriter workbook as a derived report of `kind` (before `close`)."""
    wb.set_custom_property(provenance.PROPERTY, mark(kind))


def mark_openpyxl(wb: Any, kind: str) -> None:
    """Mark an openpyxl workbook as a derived report of `kind` (before `save`)."""
    from openpyxl.packaging.custom import StringProperty

    wb.custom_doc_props.append(StringProperty(name=provenance.PROPERTY, value=mark(kind)))


def mark_json(data: dict, kind: str) -> dict:
    """`data` with the mark as its first key (read from the first bytes of the file)."""
    return {provenance.PROPERTY: mark(kind), **data}


def pdf_keywords(kind: str) -> str:
    """The PDF « Keywords » entry that marks a derived PDF (LibreOffice copies a workbook's
    keywords property there: set it on the workbook the PDF is printed from)."""
    return mark(kind)


def _pdf_produced_by(path: Path) -> str | None:
    """A PDF's mark, looked for in its first and last 64 KiB (the document information dictionary,
    written uncompressed by LibreOffice) — never the whole file."""
    try:
        with path.open("rb") as f:
            head = f.read(65536)
            if not head.startswith(b"%PDF"):
                return None
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            tail = f.read(65536)
    except OSError:
        return None
    for chunk in (head, tail):
        for raw in _PDF_KEYWORDS.findall(chunk):
            if raw.startswith(b"<"):  # a hex string, UTF-16 with its byte-order mark
                try:
                    data = bytes.fromhex(raw[1:-1].decode("ascii"))
                except ValueError:
                    continue
            else:
                data = raw[1:-1]
            text = data[2:].decode("utf-16-be", "replace") if data.startswith(b"\xfe\xff") \
                else data.decode("latin-1")
            if m := _PDF_MARK.match(text.strip()):
                return m.group(1)
    return None


def derived_kind(path: str | Path) -> str | None:
    """The kind of acv-xl report `path` is, from its content (workbook, JSON or PDF), else None."""
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        return _pdf_produced_by(path)
    return produced_by(path)


def is_derived_report(path: str | Path) -> bool:
    """True when `path` is a report acv-xl derived from conventions (it may be replaced)."""
    return derived_kind(path) is not None


# ----------------------------------------------------------------------------- what a file is
def _holds_template_sheets(path: Path) -> bool:
    """Whether a zip's workbook part names one of the template's sheets (read within 1 MiB)."""
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("xl/workbook.xml")
            if info.file_size > 1 << 20:
                return False
            with z.open(info) as f:
                text = f.read(1 << 20).decode("utf-8", "replace")
    except (KeyError, OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
            zipfile.LargeZipFile, zlib.error):
        return False
    names = set(re.findall(r"<(?:\w+:)?sheet\b[^>]*\bname=\"([^\"]*)\"", text))
    from html import unescape

    return bool({unescape(n) for n in names} & (set(layout.SHEETS) - {layout.Sheet.SYNTHESE}))


def _what(path: Path) -> str:
    """What an existing file that is not ours is, for the refusal message."""
    if path.suffix.lower() in (".xlsx", ".xlsm") and _holds_template_sheets(path):
        return "un classeur de convention ACV"
    return "un fichier qui n'a pas été produit par acv-xl"


# ----------------------------------------------------------------------------- the check
def folder_missing(out: str | Path) -> str:
    """The one message for an output whose folder does not exist (acv-xl never creates it) — or is no
    folder: `-o Classeurs/arras.xlsx/recap.xlsx` was told « le dossier de sortie n'existe pas : «
    Classeurs/arras.xlsx » », of a workbook the user sees there. The nearest existing path above the
    output says which (a broken link leads to nothing: « n'existe pas »)."""
    out = Path(out)
    if (above := file_above(out)) is not None:
        return (f"« {above} » est un fichier, pas un dossier (pour « {out.relative_to(above)} »). "
                "Choisissez un autre dossier.")
    return (f"le dossier de sortie n'existe pas : « {out.parent} » (pour « {out.name} »). "
            "Créez-le d'abord, ou choisissez un autre dossier.")


def file_above(path: str | Path) -> Path | None:
    """The nearest existing path above `path` when it is no folder (a workbook, a device): why `path`'s
    folder cannot be, said by name rather than « n'existe pas »; else None."""
    path = Path(path)
    above = next((p for p in (path.parent, *path.parent.parents) if os.path.lexists(p)), None)
    return above if above is not None and above.exists() and not above.is_dir() else None


# The extensions of the documents acv-xl reads or writes and of those kept beside them, another program's
# files: a register may not take one (that program would try to open it), and an output folder to be
# created under one of them, or a register's, is a file's name typed where a folder is expected
DOCUMENT_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".xltx", ".xltm", ".ods", ".csv", ".json",
                                 ".pdf", ".txt"})
_FILE_EXTENSIONS = DOCUMENT_EXTENSIONS | {".sqlite"}


def folder_like_a_file(what: str, folder: str | Path) -> str | None:
    """Why an output folder that acv-xl would create is refused — its name ends as a file's (« x.xlsx »:
    the folder made was named like a workbook), or with spaces — or None. `what`: « le dossier des exemples »… A folder
    of that name that exists is the user's own: taken."""
    folder = Path(folder)
    suffix = folder.suffix
    if folder.exists() or folder.is_symlink():
        return None
    if folder.name != folder.name.rstrip():
        # « extraits␣ » pasted: a folder no one sees the name of, which Windows (a share) cannot open
        return (f"« {folder.name.rstrip()} », nom donné pour {what}, finit par {_trailing_spaces(folder.name)} "
                "(ou créez d'abord ce dossier, s'il doit porter ce nom).")
    if suffix.lower() not in _FILE_EXTENSIONS:
        return None
    return (f"« {folder} » porte l'extension d'un fichier ({suffix}) là où {what} est attendu : indiquez un nom "
            f"de dossier, par exemple « {folder.with_suffix('')} » (ou créez d'abord ce dossier, s'il doit porter "
            "ce nom).")


def folder_cannot_be_made(what: str, folder: str | Path) -> str | None:
    """Why an output folder that acv-xl would create cannot be made where it is named, or None (it
    exists: its files are probed as outputs). Asked before any work, as every output is: the system
    answers, not a guess. Else the refusal came after the reading, or the workbook written — « fichier
    inaccessible » of a folder. The probe is the call that will make it (`mkdir`), undone at once, never
    a file created beside it: a drive's root under Windows (C:\\) or a share may let a user create
    folders and not files, or files and not folders."""
    folder = Path(folder)
    if folder.exists() or folder.is_symlink():
        return None
    try:
        os.mkdir(folder)
    except FileExistsError:  # made meanwhile: its files are probed as outputs
        return None
    except OSError as exc:
        if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return (f"permission refusée : impossible de créer {what} « {folder} » : vous ne pouvez pas écrire dans "
                    "le dossier qui doit le contenir. Choisissez un autre dossier.")
        return f"impossible de créer {what} « {folder} » ({os_error_text(exc)})."
    try:
        os.rmdir(folder)  # « rien n'est écrit » stays true of a run refused later
    except OSError:
        pass
    return None


def folder_named(label: str, path: Path, extension: str) -> str:
    """The one message for an output named as an existing folder (`acv-xl modele Classeurs`, the file
    inside it meant), which was told of an extension: the folder, and a file name to give."""
    return (f"{label} est un dossier : « {path} ». Indiquez le fichier à écrire, par exemple "
            f"« {path / ('nom' + extension)} ».")


# Windows's device names (`ntpath.isreserved` of Python 3.13): « CON.xlsx » is the console, not a file
_WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
                             | {f"{d}{n}" for d in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"})
_WINDOWS_REFUSED = frozenset('<>:"|?*') | frozenset(map(chr, range(32)))
_WINDOWS = os.name == "nt"


def extension_refused(label: str, wanted: str, path: Path, extensions: Sequence[str], whole: bool = False) -> str:
    """« `label` doit avoir l'extension `wanted` », naming `path` (its name, or all of it if `whole`); or,
    when spaces after a right extension are what is refused (« c6.xlsx  », typed or pasted), saying so:
    quoted as it is, the name looked right and the refusal wrong."""
    name = path.name
    if name != name.rstrip() and Path(name.rstrip()).suffix.lower() in extensions:
        return (f"{label} doit avoir l'extension {wanted}, sans rien après : le nom « {name.rstrip()} » finit par "
                f"{_trailing_spaces(name)}.")
    return f"{label} doit avoir l'extension {wanted} : « {path if whole else name} »"


def _trailing_spaces(name: str) -> str:
    """« une espace ; retirez-la » or « des espaces ; retirez-les »: what ends `name`, and what to do. A tab
    or a no-break space (a cell copied from a sheet) is no space to remove: « un caractère invisible », as
    `shown_file` says it in the sheets."""
    end = name[len(name.rstrip()):]
    if end.strip(" "):
        return ("un caractère invisible (tabulation, espace insécable…) ; retirez-le" if len(end) == 1 else
                "des caractères invisibles (tabulation, espace insécable…) ; retirez-les")
    return "une espace ; retirez-la" if len(end) == 1 else "des espaces ; retirez-les"


def windows_only_problem(name: str) -> str | None:
    """`windows_name_problem` where the program runs under Windows, else None (a file like any other)."""
    return windows_name_problem(name) if _WINDOWS else None


def windows_name_problem(name: str) -> str | None:
    """Why Windows would not give `name` (one file name, no folder) to a file, in French, or None.

    A device name with any extension (« CON.xlsx », « nul.json », « COM1.xlsx »): opened to read
    what it holds, the console waits for a keyboard; renamed onto, it is refused after the whole
    work. A character Windows refuses (« : » names a hidden stream of another file)."""
    if refused := sorted(set(name) & _WINDOWS_REFUSED):
        shown = " ".join(f"« {c} »" if c.isprintable() else "(caractère de contrôle)" for c in refused)
        return f"le nom « {name} » contient un caractère que Windows refuse dans un nom de fichier : {shown}."
    if name.partition(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        return (f"« {name} » est un nom que Windows réserve à un périphérique "
                f"({name.partition('.')[0].rstrip(' ').upper()}), pas à un fichier.")
    return None


def _key(path: Path) -> str:
    return os.path.normcase(str(resolved(path)))


def _nfc(name: str) -> str:
    """`name` as macOS compares names: « é » typed (NFC) and « e » + « ◌́ » (NFD, as the Finder and
    the terminal of macOS give it) are one file there, two files on Linux that look alike."""
    return unicodedata.normalize("NFC", name)


def _one_file_key(path: Path) -> str:
    """What two outputs' names must differ by to be two files under Windows and macOS: more than case
    and Unicode normalisation (canonical caseless matching)."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", _key(path)).casefold())


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _os_inode(path: str | Path) -> tuple[int, int] | None:
    """`_inode`, without making a `Path` of a name."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the name, as `Path.stat` raises it too
        return None
    return st.st_dev, st.st_ino


def same_file(a: str | Path, b: str | Path) -> bool:
    """`a` and `b` name one file: the same path (resolved, normalised as `check_outputs` compares an
    output with an input), or a link to it."""
    a, b = Path(a), Path(b)
    return _nfc(_key(a)) == _nfc(_key(b)) or (_inode(a) is not None and _inode(a) == _inode(b))


WAY_OUT = f"Choisissez un autre nom de fichier, ou ajoutez {REMPLACER} pour l'écraser."


def check_outputs(inputs: Iterable[str | Path], outputs: Sequence[Output | str | Path],
                  replace: bool = False, way_out: str = WAY_OUT, resolved: bool = False,
                  input_ids: dict[Any, tuple[int, int] | None] | None = None) -> str | None:
    """Why the command may not write `outputs` (a French sentence naming the file and the way
    out; the command exits with status 2 and writes nothing), or None when it may.

    `inputs`: every file the command reads (folders are not expanded here: pass the files found).
    `outputs`: `Output`s, or plain paths for a convention workbook (.xlsx). `replace`: the user's
    `--remplacer`.
    `way_out`: what to do about an existing file that is not ours, where there is no
    `--remplacer` to give (an Excel button). `resolved`: the inputs are already absolute and
    resolved (the files a folder walk found): not resolved again, one by one. `input_ids`: the inputs'
    (device, inode) the caller has just looked up (None for a file it could not), by input: not looked up
    a second time (`consolider` needs them first, and a second `stat` of 1,000 files costs ≈ 4 ms).
    """
    outs = [o if isinstance(o, Output) else Output(Path(o)) for o in outputs]
    for o in outs:
        # a folder first: `acv-xl modele Classeurs` meant the template inside it, and was told of an
        # extension (« doit avoir l'extension .xlsx : « Classeurs » »)
        if o.path.suffix.lower() not in o.extensions and o.path.is_dir():
            return folder_named(o.label, o.path, o.extensions[0])
        if o.path.suffix.lower() not in o.extensions:
            wanted = " ou ".join(o.extensions)
            return extension_refused(o.label, wanted, o.path, o.extensions, whole=True)
        if (why := windows_only_problem(o.path.name)) is not None:
            return f"{o.label} ne peut pas être écrit : {why} Choisissez un autre nom de fichier."
    for i, a in enumerate(outs):
        for b in outs[i + 1:]:
            # case and normalisation folded: « -o Rapport.xlsx » and an output « rapport.xlsx », or « Récap »
            # typed and « Récap » of macOS (NFD), are one file under Windows or macOS, and neither exists
            # yet to tell by its inode (the second would replace the first)
            if _one_file_key(a.path) == _one_file_key(b.path) \
                    or (_inode(a.path) is not None and _inode(a.path) == _inode(b.path)):
                return (f"{a.option or 'une sortie'} et {b.option or 'une autre sortie'} désignent le même fichier "
                        f"({a.path}) : choisissez deux noms différents.")
    for o in outs:
        folder = o.path.parent
        if not folder.is_dir():
            return folder_missing(o.path)
        if o.path.is_dir():
            return f"{o.label} est un dossier : {o.path}. Indiquez un nom de fichier."
    # each input's name and file once for all outputs (a consolidation reads 1,000 files: one
    # `stat` each, not one per output that exists), the file only if an output exists
    inputs = list(inputs)
    # normalised: an input « Récap.xlsx » (NFC) is the output « Récap.xlsx » typed on macOS (NFD) —
    # on Linux, a second file that looks like the first
    keys = {_nfc(os.path.normcase(os.fspath(p)) if resolved else _key(Path(p))) for p in inputs}
    inodes: set | None = None
    for o in outs:
        ino = _inode(o.path)
        if ino is not None and inodes is None:
            inodes = set(map(_os_inode, inputs)) if input_ids is None else \
                {input_ids[p] if p in input_ids else _os_inode(p) for p in inputs}
        if _nfc(_key(o.path)) in keys or (ino is not None and ino in inodes):
            return (f"{o.label} « {o.path} » est aussi un fichier lu par cette commande : il n'est pas "
                    "remplacé. Choisissez un autre nom de fichier.")
    for o in outs:
        if (o.path.exists() or o.path.is_symlink()) and not replace:
            kind = derived_kind(o.path)
            if kind is None:
                return f"« {o.path} » existe déjà et c'est {_what(o.path)} : il n'est pas remplacé. {way_out}"
            if kind != o.kind:  # another kind of report, or any report under a convention workbook
                return (f"« {o.path} » existe déjà et c'est {provenance.describe(kind, o.path)} : il n'est pas remplacé. "
                        f"{way_out}")
    for o in outs:  # the temp file the write will use, created and removed: the system's answer, not a guess
        if (exc := cannot_write(o.path)) is not None:
            if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
                return f"permission refusée : impossible d'écrire dans le dossier {o.path.parent} (pour {o.path.name})."
            return f"impossible d'écrire dans le dossier {o.path.parent} (pour {o.path.name}, {os_error_text(exc)})."
    return None
