"""Which of acv-xl's own reports a file is, read from its content (never from its name).

Every report acv-xl derives from conventions (consolidation, annex, extract, comparison, history)
carries a mark: the workbook's custom document property `acv_xl` (docProps/custom.xml) or, for a
JSON file, a first key `"acv_xl"`, whose value is « acv-xl <kind> ». The mark is what lets
`consolider` skip a previous run left in the folder, `valider` say what such a file is (STR-11)
and the output guard replace a report but never a commune's workbook
(`acv_xl.outputs.output_guard`, which writes the mark).

Reading the mark must be safe on any file, hostile ones included: nothing is inflated beyond
`_LIMIT` bytes (a part whose header understates its size is cut there, never read in full, and
one claiming more is not read at all), and nothing else of the file is parsed.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

PROPERTY = "acv_xl"  # name of the custom document property, and first key of a JSON report
PREFIX = "acv-xl "  # a mark is PREFIX + kind

# The kinds of derived reports, and how a user calls each.
CONSOLIDATION = "consolidation"
ANNEXE = "annexe"
EXTRAIT = "extrait"
COMPARAISON = "comparaison"
HISTORIQUE = "historique"
KINDS = {
    CONSOLIDATION: "un classeur consolidé (acv-xl consolider)",
    ANNEXE: "l'annexe d'une convention ou d'un avenant (acv-xl annexe)",
    EXTRAIT: "un extrait par financeur (acv-xl consolider --par-financeur)",
    COMPARAISON: "une comparaison de deux états d'une convention (acv-xl comparer)",
    HISTORIQUE: "l'évolution d'un département (acv-xl historique)",
}

_LIMIT = 64 * 1024  # a custom.xml of ours is about 400 bytes
_CUSTOM_PART = "docProps/custom.xml"
_XML_MARK = re.compile(
    rb"""name\s*=\s*["']""" + PROPERTY.encode() + rb"""["'][^>]*>\s*<(?:\w+:)?lpwstr>\s*"""
    + re.escape(PREFIX.encode()) + rb"""([a-z]+)\s*<""")
_JSON_MARK = re.compile(r'^\s*\{\s*"' + PROPERTY + r'"\s*:\s*"' + re.escape(PREFIX) + r'([a-z]+)"')


def mark(kind: str) -> str:
    """The value written in a report of `kind` (« acv-xl consolidation »)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of report: {kind}")
    return PREFIX + kind


# The reports also written as JSON, said as such: a `--json` file is no « classeur ».
JSON_KINDS = {
    CONSOLIDATION: "le résumé JSON d'une consolidation (acv-xl consolider --json)",
    HISTORIQUE: "l'évolution d'un département en JSON (acv-xl historique --json)",
}


def describe(kind: str, path: str | Path | None = None) -> str:
    """A derived report's kind, in French (« l'annexe d'une convention ou d'un avenant (acv-xl annexe) »);
    with `path`, a JSON report is said to be one (« le résumé JSON d'une consolidation… »)."""
    if path is not None and kind in JSON_KINDS and _is_json(Path(path)):
        return JSON_KINDS[kind]
    return KINDS.get(kind, f"un rapport produit par acv-xl ({kind})")


def _is_json(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
    except OSError:
        return False


def _zip_part(path: Path, name: str) -> bytes | None:
    """Up to `_LIMIT` bytes of one part of a zip file, None when absent, too big or unreadable."""
    try:
        with zipfile.ZipFile(path) as z:
            try:
                info = z.getinfo(name)
            except KeyError:
                return None
            if info.file_size > _LIMIT or info.flag_bits & 0x1:  # too big for a mark, or encrypted
                return None
            with z.open(info) as f:
                return f.read(_LIMIT)  # inflated by pieces: never past _LIMIT, whatever the header says
    except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
            zipfile.LargeZipFile, zlib.error):
        return None


# An extract's département (`consolider --departement`), or `TOUS` for a consolidation without that
# option: a custom property beside the mark. An extract of a version before it says so only in its
# « subject » property (« département 62 », « consolidation »), read instead.
DEPARTEMENT_PROPERTY = "acv_xl_departement"
TOUS = "tous"
_CORE_PART = "docProps/core.xml"
_XML_DEPARTEMENT = re.compile(
    rb"""name\s*=\s*["']""" + DEPARTEMENT_PROPERTY.encode() + rb"""["'][^>]*>\s*<(?:\w+:)?lpwstr>([^<]*)<""")
_XML_SUBJECT = re.compile(rb"<(?:\w+:)?subject>([^<]*)<")
_OLD_SUBJECT = re.compile(r"département\s+(\S+)")


def extract_departement(path: str | Path) -> str | None:
    """The département of an extract by financeur (`consolider --par-financeur`): its code as written
    (« 62 »), `TOUS` for a consolidation without `--departement`, or None when neither property says
    it (removed by hand, or unreadable). Bounded reads of two small parts, as `produced_by`."""
    from html import unescape

    path = Path(path)
    data = _zip_part(path, _CUSTOM_PART)
    if data and (m := _XML_DEPARTEMENT.search(data)):
        value = unescape(m.group(1).decode("utf-8", "replace")).strip()
        return value or None
    data = _zip_part(path, _CORE_PART)
    if not data or not (m := _XML_SUBJECT.search(data)):
        return None
    subject = unescape(m.group(1).decode("utf-8", "replace")).strip()
    if subject == "consolidation":  # what an extract of a run without --departement was given
        return TOUS
    return m.group(1) if (m := _OLD_SUBJECT.fullmatch(subject)) else None


def produced_by(path: str | Path) -> str | None:
    """The kind of acv-xl report `path` is (« consolidation », « annexe »…), or None: a
    convention's workbook, another file, a missing or unreadable one."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head.startswith(b"PK"):
        data = _zip_part(path, _CUSTOM_PART)
        m = _XML_MARK.search(data) if data else None
        return m.group(1).decode() if m else None
    m = _JSON_MARK.match(head.decode("utf-8", "replace"))
    return m.group(1) if m else None
