"""Edit an .xlsx/.xlsm package in place of its parts, leaving every other part byte for byte.

openpyxl rewrites the whole workbook and drops what it does not model (DrawingML shapes, hence the
Valider/Annexe buttons, charts, cached formula values, x14 extensions), so the annotated copy is
written by changing only the few XML parts that must change. `xml.etree` is used for parsing, but
not for writing: it renames namespace prefixes and drops declarations that `mc:Ignorable` still
names, which Excel reports as a corrupt file. `XmlPart.to_bytes` writes the tree back with the
part's original prefixes, all declared on the root.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from acv_xl.contract.values import EXCEL_ROWS
from acv_xl.reading import zip_guard

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
NS_XML = "http://www.w3.org/XML/1998/namespace"

REL_WORKSHEET = NS_R + "/worksheet"
REL_TABLE = NS_R + "/table"
REL_COMMENTS = NS_R + "/comments"
REL_VML = NS_R + "/vmlDrawing"
REL_STYLES = NS_R + "/styles"
REL_CALC_CHAIN = NS_R + "/calcChain"

CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def q(tag: str, ns: str = NS_MAIN) -> str:
    """Clark notation: q("c") → "{main}c"."""
    return f"{{{ns}}}{tag}"


# Children of <worksheet>, in the order the schema imposes (Excel rejects another order).
WORKSHEET_ORDER = [q(t) for t in (
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr",
    "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState", "dataConsolidate",
    "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting", "dataValidations",
    "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks", "colBreaks",
    "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
    "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems",
    "tableParts", "extLst",
)]
STYLESHEET_ORDER = [q(t) for t in (
    "numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
    "tableStyles", "colors", "extLst",
)]
FONT_ORDER = [q(t) for t in (
    "b", "i", "strike", "condense", "extend", "outline", "shadow", "u", "vertAlign", "sz", "color",
    "name", "family", "charset", "scheme",
)]

# Characters XML 1.0 cannot carry at all (a cell may hold them; a part may not).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    return _XML_INVALID.sub("", value)


def insert_ordered(parent: ET.Element, child: ET.Element, order: list[str]) -> ET.Element:
    """Insert `child` where the schema order wants it (after every sibling that must precede it)."""
    rank = order.index(child.tag)
    pos = 0
    for i, sibling in enumerate(list(parent)):
        if sibling.tag in order and order.index(sibling.tag) <= rank:
            pos = i + 1
    parent.insert(pos, child)
    return child


def find_or_insert(parent: ET.Element, tag: str, order: list[str]) -> ET.Element:
    found = parent.find(tag)
    if found is not None:
        return found
    return insert_ordered(parent, ET.Element(tag), order)


# ----------------------------------------------------------------------------- XML parts
class XmlPart:
    """A parsed XML part that remembers the namespace prefixes it was written with."""

    def __init__(self, data: bytes):
        if zip_guard.has_dtd(data):
            raise ValueError("DTD refusée")  # no entity expansion (billion laughs, external entities)
        # every declaration, used or not (mc:Ignorable names prefixes nothing else may use):
        # (prefix, uri) in document order, the first binding of a prefix wins
        self.decls: list[tuple[str, str]] = []
        seen: set[str] = set()
        it = ET.iterparse(io.BytesIO(data), events=("start-ns",))
        for _event, (prefix, uri) in it:
            if prefix not in seen:
                seen.add(prefix)
                self.decls.append((prefix, uri))
        self.root: ET.Element = it.root  # type: ignore[attr-defined]

    @classmethod
    def new(cls, root: ET.Element, decls: list[tuple[str, str]]) -> XmlPart:
        part = cls.__new__(cls)
        part.root = root
        part.decls = list(decls)
        return part

    def to_bytes(self) -> bytes:
        prefix_of: dict[str, str] = {}
        for prefix, uri in self.decls:
            prefix_of.setdefault(uri, prefix)
        decls = list(self.decls)
        used_prefixes = {p for p, _ in decls}

        def prefix_for(uri: str, attribute: bool) -> str:
            if uri == NS_XML:
                return "xml"
            p = prefix_of.get(uri)
            if p is not None and not (attribute and p == ""):
                return p
            if attribute:  # an attribute cannot use the default namespace: find or make a prefix
                for dp, du in decls:
                    if du == uri and dp:
                        return dp
            known = _KNOWN_PREFIXES.get(uri)
            if known and known not in used_prefixes:
                used_prefixes.add(known)
                decls.append((known, uri))
                prefix_of.setdefault(uri, known)
                return known
            n = 0
            while f"ns{n}" in used_prefixes:
                n += 1
            p = f"ns{n}"
            used_prefixes.add(p)
            decls.append((p, uri))
            if uri not in prefix_of:
                prefix_of[uri] = p
            return p

        names: dict[tuple[str, bool], str] = {}

        def name(clark: str, attribute: bool = False) -> str:
            key = (clark, attribute)
            if key in names:
                return names[key]
            if clark[0] != "{":
                names[key] = clark
                return clark
            uri, local = clark[1:].split("}", 1)
            p = prefix_for(uri, attribute)
            names[key] = f"{p}:{local}" if p else local
            return names[key]

        # first pass: make sure every namespace in use has a prefix before the root is written
        for el in self.root.iter():
            name(el.tag)
            for a in el.attrib:
                name(a, attribute=True)

        out: list[str] = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n']

        def write(el: ET.Element, is_root: bool) -> None:
            tag = name(el.tag)
            out.append("<" + tag)
            if is_root:
                for p, uri in decls:
                    out.append(f' xmlns:{p}="{_esc_attr(uri)}"' if p else f' xmlns="{_esc_attr(uri)}"')
            for a, v in el.attrib.items():
                out.append(f' {name(a, True)}="{_esc_attr(v)}"')
            if len(el) == 0 and not el.text:
                out.append("/>")
            else:
                out.append(">")
                if el.text:
                    out.append(_esc_text(el.text))
                for child in el:
                    write(child, False)
                out.append(f"</{tag}>")
            if el.tail and not is_root:
                out.append(_esc_text(el.tail))

        write(self.root, True)
        return "".join(out).encode("utf-8")


_KNOWN_PREFIXES = {NS_R: "r"}


def _esc_text(s: str) -> str:
    return xml_text(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _esc_attr(s: str) -> str:
    return (_esc_text(s).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;"))


# ----------------------------------------------------------------------------- package
@dataclass
class Package:
    """The parts of a zip package; parts read as XML are written back only if marked dirty."""

    parts: dict[str, bytes]
    infos: dict[str, zipfile.ZipInfo]
    _xml: dict[str, XmlPart] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, path) -> Package:
        """Every part, through the reader's guard (`source_file.read_parts`: sizes, CRC, nothing
        inflated past its declared size); raises `UnreadableWorkbook`."""
        from acv_xl.reading.source_file import read_parts

        read = read_parts(path)
        return cls({n: d for n, (_i, d) in read.items()}, {n: i for n, (i, _d) in read.items()})

    def has(self, name: str) -> bool:
        return name in self.parts or name in self._xml

    def xml(self, name: str) -> XmlPart:
        if name not in self._xml:
            self._xml[name] = XmlPart(self.parts[name])
        return self._xml[name]

    def set_xml(self, name: str, part: XmlPart) -> None:
        self._xml[name] = part
        self.parts.setdefault(name, b"")
        self._dirty.add(name)

    def touch(self, name: str) -> None:
        self._dirty.add(name)

    def write_bytes(self, name: str, data: bytes) -> None:
        self._xml.pop(name, None)
        self._dirty.discard(name)
        self.parts[name] = data

    def remove(self, name: str) -> None:
        self.parts.pop(name, None)
        self.infos.pop(name, None)
        self._xml.pop(name, None)
        self._dirty.discard(name)

    def save(self, out) -> None:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            names = list(self.parts)
            # [Content_Types].xml first, as Office writes it (some readers expect it)
            names.sort(key=lambda n: n != "[Content_Types].xml")
            for n in names:
                data = self._xml[n].to_bytes() if n in self._dirty else self.parts[n]
                old = self.infos.get(n)
                info = zipfile.ZipInfo(n, date_time=old.date_time if old else (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = old.external_attr if old else 0o600 << 16
                z.writestr(info, data)

    # -- relationships
    @staticmethod
    def rels_name(part: str) -> str:
        d, f = posixpath.split(part)
        return posixpath.join(d, "_rels", f + ".rels")

    def rels(self, part: str) -> XmlPart:
        name = self.rels_name(part)
        if not self.has(name):
            self.set_xml(name, XmlPart.new(ET.Element(q("Relationships", NS_PKG_REL)), [("", NS_PKG_REL)]))
        return self.xml(name)

    def relationships(self, part: str) -> list[tuple[str, str, str]]:
        """(Id, Type, resolved part name) of a part's internal relationships."""
        if not self.has(self.rels_name(part)):
            return []
        out = []
        for r in self.rels(part).root:
            if r.get("TargetMode") == "External":
                continue
            out.append((r.get("Id", ""), r.get("Type", ""), self.resolve(part, r.get("Target", ""))))
        return out

    @staticmethod
    def resolve(part: str, target: str) -> str:
        if target.startswith("/"):
            return target[1:]
        return posixpath.normpath(posixpath.join(posixpath.dirname(part), target))

    def add_rel(self, part: str, rel_type: str, target_part: str) -> str:
        rels = self.rels(part)
        ids = {r.get("Id") for r in rels.root}
        n = 1
        while f"rId{n}" in ids:
            n += 1
        rid = f"rId{n}"
        target = posixpath.relpath(target_part, posixpath.dirname(part))
        ET.SubElement(rels.root, q("Relationship", NS_PKG_REL), {"Id": rid, "Type": rel_type, "Target": target})
        self.touch(self.rels_name(part))
        return rid

    def remove_rel(self, part: str, rid: str) -> None:
        rels = self.rels(part)
        for r in list(rels.root):
            if r.get("Id") == rid:
                rels.root.remove(r)
        self.touch(self.rels_name(part))

    # -- content types
    def add_override(self, part: str, content_type: str) -> None:
        ct = self.xml("[Content_Types].xml")
        for o in ct.root.findall(q("Override", NS_CT)):
            if o.get("PartName") == "/" + part:
                return
        ET.SubElement(ct.root, q("Override", NS_CT), {"PartName": "/" + part, "ContentType": content_type})
        self.touch("[Content_Types].xml")

    def remove_override(self, part: str) -> None:
        ct = self.xml("[Content_Types].xml")
        for o in ct.root.findall(q("Override", NS_CT)):
            if o.get("PartName") == "/" + part:
                ct.root.remove(o)
        self.touch("[Content_Types].xml")

    def add_default(self, extension: str, content_type: str) -> None:
        ct = self.xml("[Content_Types].xml")
        for d in ct.root.findall(q("Default", NS_CT)):
            if d.get("Extension", "").lower() == extension.lower():
                return
        # Defaults come before Overrides in Office's own files
        el = ET.Element(q("Default", NS_CT), {"Extension": extension, "ContentType": content_type})
        pos = sum(1 for c in ct.root if c.tag == q("Default", NS_CT))
        ct.root.insert(pos, el)
        self.touch("[Content_Types].xml")

    def free_name(self, pattern: str) -> str:
        """First unused part name of `pattern` ("xl/comments{}.xml")."""
        n = 1
        while self.has(pattern.format(n)):
            n += 1
        return pattern.format(n)


# ----------------------------------------------------------------------------- workbook
def _a1(row: int, col: int) -> str:
    s = ""
    c = col
    while c:
        c, r = divmod(c - 1, 26)
        s = chr(65 + r) + s
    return f"{s}{row}"


_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def parse_cell(ref: str) -> tuple[int, int]:
    m = _CELL_REF.match(ref.strip())
    if not m:
        raise ValueError(ref)
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def parse_ref(ref: str) -> tuple[int, int, int, int]:
    """'A3:G9' → (3, 1, 9, 7)."""
    a, _, b = ref.partition(":")
    r1, c1 = parse_cell(a)
    r2, c2 = parse_cell(b or a)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def shifted(ref: str, by: int) -> str:
    """A cell or range reference `by` rows lower; a range reaching the grid's last row still ends there
    (`_last_row`)."""
    r1, c1, r2, c2 = parse_ref(ref)
    return _a1(r1 + by, c1) if ":" not in ref else f"{_a1(r1 + by, c1)}:{_a1(_last_row(r2, by), c2)}"


def _last_row(row: int, by: int) -> int:
    """The last row of a range moved `by` rows lower, as Excel moves it: never past the grid's last row
    (a list or a formula on « G8:G1048576 », a selection Ctrl+Maj+Bas makes, became « G8:G1048578 », a
    reference Excel cannot read: it repaired the copy, dropping them)."""
    return min(row + by, EXCEL_ROWS)


def _local_tag(tag: str) -> str:
    return tag.rpartition("}")[2]


_REF_PARTS = re.compile(r"^(\$?)([A-Za-z]{1,3})(\$?)(\d+)(?::(\$?)([A-Za-z]{1,3})(\$?)(\d+))?$")


class _MovedArea:
    """Rows `first_row` down of columns c1..c2 of a sheet, moved `by` rows lower (`Worksheet.move_down`):
    which references lie wholly among them, and a formula's text with those references moved, as Excel
    rewrites them (absolute or relative: a reference names its cell; the others stay as written)."""

    def __init__(self, first_row: int, c1: int, c2: int, by: int, sheet_name: str | None):
        self.first_row, self.c1, self.c2, self.by = first_row, c1, c2, by
        self.sheet = sheet_name.lower() if sheet_name else None

    def holds(self, ref: str) -> bool:
        try:
            r1, k1, _r2, k2 = parse_ref(ref.replace("$", ""))
        except ValueError:
            return False
        return r1 >= self.first_row and self.c1 <= k1 and k2 <= self.c2

    def meets(self, ref: str) -> bool:
        """Whether `ref` holds one moved cell at least (an unreadable one is said to: left as written)."""
        try:
            _r1, k1, r2, k2 = parse_ref(ref.replace("$", ""))
        except ValueError:
            return True
        return r2 >= self.first_row and k1 <= self.c2 and k2 >= self.c1

    def follow(self, formula: str) -> str:
        if not any(ch.isdigit() for ch in formula):  # no cell reference (TRUE, a list « à voir,vu »)
            return formula
        from openpyxl.formula.tokenizer import Tokenizer  # its own parser: texts and names left alone

        try:
            tokens = Tokenizer(formula if formula.startswith("=") else "=" + formula)
        except Exception:  # noqa: BLE001 — a formula it cannot parse: left as written, as before
            return formula
        changed = False
        for t in tokens.items:
            if t.type == "OPERAND" and t.subtype == "RANGE" and (moved := self._moved(t.value)) is not None:
                t.value, changed = moved, True
        if not changed:
            return formula
        text = "".join(t.value for t in tokens.items)
        return ("=" + text) if formula.startswith("=") else text

    def _moved(self, operand: str) -> str | None:
        prefix, bang, ref = operand.rpartition("!")
        if bang:
            name = prefix[1:-1].replace("''", "'") if prefix.startswith("'") and prefix.endswith("'") else prefix
            if self.sheet is None or name.lower() != self.sheet:
                return None
        m = _REF_PARTS.match(ref)
        if m is None:
            return None
        d1, col1, d2, row1, d3, col2, d4, row2 = m.groups()
        if self.holds(ref):
            out = f"{d1}{col1}{d2}{int(row1) + self.by}"
        elif col2 is not None and self._ends_among(ref):
            out = f"{d1}{col1}{d2}{row1}"  # its first cell stays, its last moves: it grows, as in Excel
        else:
            return None
        if col2 is not None:
            out += f":{d3}{col2}{d4}{_last_row(int(row2), self.by)}"
        return prefix + bang + out

    def _ends_among(self, ref: str) -> bool:
        """Whether a range starts above the moved rows and ends among them, in their columns
        (`=NB.SI(A4:A100;…)` over the table and the notes below it): Excel's insertion grows it."""
        r1, k1, r2, k2 = parse_ref(ref.replace("$", ""))
        return r1 < self.first_row <= r2 and self.c1 <= k1 and k2 <= self.c2


def quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


class Workbook:
    """The workbook part of a package: its sheets (name → part) and its defined names."""

    def __init__(self, pkg: Package):
        self.pkg = pkg
        root_rels = pkg.rels("")  # _rels/.rels
        self.part = next(
            pkg.resolve("", r.get("Target", "")) for r in root_rels.root
            if r.get("Type", "").endswith("/officeDocument")
        )
        self.xml = pkg.xml(self.part)
        rel_target = {rid: target for rid, _t, target in pkg.relationships(self.part)}
        self.sheets: dict[str, str] = {}
        for s in self.xml.root.iter(q("sheet")):
            target = rel_target.get(s.get(q("id", NS_R), ""))
            if target and pkg.has(target):
                self.sheets[s.get("name", "")] = target
        pr = self.xml.root.find(q("workbookPr"))
        self.date1904 = pr is not None and pr.get("date1904") in ("1", "true")
        self.styles_part = next((t for _i, ty, t in pkg.relationships(self.part) if ty == REL_STYLES), None)

    def defined_name(self, name: str) -> str | None:
        """The formula of a workbook-level defined name (case-insensitive, as Excel), or None."""
        for d in self.xml.root.iter(q("definedName")):
            if d.get("localSheetId") is None and d.get("name", "").lower() == name.lower():
                return (d.text or "").strip()
        return None

    def sheet_part(self, sheet: str) -> str | None:
        if sheet in self.sheets:
            return self.sheets[sheet]
        for n, p in self.sheets.items():  # Excel compares sheet names case-insensitively
            if n.lower() == sheet.lower():
                return p
        return None

    def sheet_name(self, part: str) -> str:
        return next(n for n, p in self.sheets.items() if p == part)

    def drop_calc_chain(self) -> None:
        """Excel rebuilds the calculation chain; a stale one (a formula cell overwritten) is an error."""
        for rid, ty, target in self.pkg.relationships(self.part):
            if ty == REL_CALC_CHAIN:
                self.pkg.remove_rel(self.part, rid)
                self.pkg.remove(target)
                self.pkg.remove_override(target)


class Worksheet:
    """Cells of one worksheet part, created on demand in row/column order."""

    def __init__(self, pkg: Package, part: str):
        self.pkg = pkg
        self.part = part
        self.xml = pkg.xml(part)
        self.root = self.xml.root
        self.data = find_or_insert(self.root, q("sheetData"), WORKSHEET_ORDER)
        self.rows: dict[int, ET.Element] = {}
        self.cells: dict[int, dict[int, ET.Element]] = {}
        self.touched_formula = False
        prev_row = 0
        for row in self.data.findall(q("row")):
            r = int(row.get("r") or prev_row + 1)
            row.set("r", str(r))  # the schema allows omitting r; positions below need it
            prev_row = r
            self.rows[r] = row
            cells: dict[int, ET.Element] = {}
            prev_col = 0
            for c in row.findall(q("c")):
                if c.get("r"):
                    _r, col = parse_cell(c.get("r"))
                else:
                    col = prev_col + 1
                    c.set("r", _a1(r, col))
                prev_col = col
                cells[col] = c
            self.cells[r] = dict(sorted(cells.items()))
        self.rows = dict(sorted(self.rows.items()))  # in row order, as `cell` keeps them

    def touch(self) -> None:
        self.pkg.touch(self.part)

    def iter_cells(self):
        for r, cells in self.cells.items():
            for col, c in cells.items():
                yield r, col, c

    def cell(self, row: int, col: int, create: bool = True) -> ET.Element | None:
        cells = self.cells.get(row)
        if cells is not None and col in cells:
            return cells[col]
        if not create:
            return None
        row_el = self.rows.get(row)
        last_row = next(reversed(self.rows), 0)  # `rows` is kept in row order
        if row_el is None and row > last_row and (self.data[-1] is self.rows[last_row] if last_row else not len(self.data)):
            # a row after the last one (the Contrôles list grows at its end): appended without a scan of
            # the rows — each new row scanned and re-sorted them all, hours for 100 000 findings
            row_el = ET.SubElement(self.data, q("row"), {"r": str(row)})
            self.rows[row] = row_el
            cells = self.cells[row] = {}
        elif row_el is None:
            row_el = ET.Element(q("row"), {"r": str(row)})
            pos = sum(1 for r in self.rows if r < row)
            # sheetData may hold other children (extLst is not allowed, but be exact anyway)
            existing = self.data.findall(q("row"))
            if pos < len(existing):
                self.data.insert(list(self.data).index(existing[pos]), row_el)
            else:
                self.data.append(row_el)
            self.rows[row] = row_el
            self.rows = dict(sorted(self.rows.items()))
            cells = self.cells[row] = {}
        row_el.attrib.pop("spans", None)  # an optimisation hint that would now be wrong
        c = ET.Element(q("c"), {"r": _a1(row, col)})
        # an absent cell shows its row's or column's format: keep showing it once the cell exists
        style = row_el.get("s") if row_el.get("customFormat") in ("1", "true") else self.col_style(col)
        if style and style != "0":
            c.set("s", style)
        last_col = next(reversed(cells), 0)  # `cells` is kept in column order
        if col > last_col and (row_el[-1] is cells[last_col] if last_col else not len(row_el)):
            row_el.append(c)  # after the row's last cell, as nearly always
            cells[col] = c
        else:
            before = [k for k in cells if k < col]
            row_cells = row_el.findall(q("c"))
            if len(before) < len(row_cells):
                row_el.insert(list(row_el).index(row_cells[len(before)]), c)
            else:
                # after the last cell (a row may end with extLst)
                idx = list(row_el).index(row_cells[-1]) + 1 if row_cells else 0
                row_el.insert(idx, c)
            cells[col] = c
            self.cells[row] = dict(sorted(cells.items()))
        self._grow_dimension(row, col)
        self.touch()
        return c

    def col_width(self, col: int, default: float = 8.43) -> float:
        """The column's width in characters (`<cols>`), or the default."""
        cols = self.root.find(q("cols"))
        for c in cols if cols is not None else ():
            if int(c.get("min", "0")) <= col <= int(c.get("max", "0")) and c.get("width"):
                return float(c.get("width"))
        return default

    def set_row_height(self, row: int, points: float | None) -> None:
        """An explicit height (what LibreOffice and Excel honour for wrapped text), or none."""
        self.cell(row, 1, create=False)
        row_el = self.rows.get(row)
        if row_el is None:
            return
        if points is None:
            row_el.attrib.pop("ht", None)
            row_el.attrib.pop("customHeight", None)
        else:
            row_el.set("ht", f"{points:g}")
            row_el.set("customHeight", "1")
        self.touch()

    def col_style(self, col: int) -> str | None:
        cols = self.root.find(q("cols"))
        for c in cols if cols is not None else ():
            if int(c.get("min", "0")) <= col <= int(c.get("max", "0")):
                return c.get("style")
        return None

    def _grow_dimension(self, row: int, col: int) -> None:
        dim = self.root.find(q("dimension"))
        if dim is None:
            return
        try:
            r1, c1, r2, c2 = parse_ref(dim.get("ref", "A1"))
        except ValueError:
            return
        if not self.cells or dim.get("ref") == "A1" and len(self.cells) <= 1:
            r1, c1, r2, c2 = row, col, row, col
        r1, c1, r2, c2 = min(r1, row), min(c1, col), max(r2, row), max(c2, col)
        dim.set("ref", _a1(r1, c1) if (r1, c1) == (r2, c2) else f"{_a1(r1, c1)}:{_a1(r2, c2)}")

    def _clear_content(self, c: ET.Element) -> None:
        for tag in ("f", "v", "is"):
            for child in c.findall(q(tag)):
                if tag == "f":
                    self.touched_formula = True
                c.remove(child)
        c.attrib.pop("t", None)
        c.attrib.pop("cm", None)
        c.attrib.pop("vm", None)

    def clear(self, row: int, col: int) -> None:
        c = self.cell(row, col, create=False)
        if c is not None and (len(c) or c.get("t")):
            self._clear_content(c)
            self.touch()

    def set_text(self, row: int, col: int, text: str) -> ET.Element:
        """A string cell (inline string: no shared-strings bookkeeping; `=…` stays text)."""
        c = self.cell(row, col)
        self._clear_content(c)
        self.touch()
        if text == "":
            return c
        c.set("t", "inlineStr")
        is_ = ET.Element(q("is"))
        t = ET.SubElement(is_, q("t"))
        t.text = xml_text(text)
        if t.text != t.text.strip() or "\n" in t.text:
            t.set(q("space", NS_XML), "preserve")
        c.insert(self._content_pos(c), is_)
        return c

    def set_number(self, row: int, col: int, value: float | int) -> ET.Element:
        c = self.cell(row, col)
        self._clear_content(c)
        self.touch()
        v = ET.Element(q("v"))
        v.text = repr(value) if isinstance(value, float) else str(value)
        c.insert(self._content_pos(c), v)
        return c

    @staticmethod
    def _content_pos(c: ET.Element) -> int:
        # <c> children: f, v, is, extLst — content goes before a trailing extLst
        ext = c.find(q("extLst"))
        return list(c).index(ext) if ext is not None else len(c)

    def text_of(self, row: int, col: int, shared: list[str]) -> str | None:
        c = self.cell(row, col, create=False)
        if c is None:
            return None
        t = c.get("t")
        if t == "inlineStr":
            is_ = c.find(q("is"))
            return "".join(x.text or "" for x in is_.iter(q("t"))) if is_ is not None else ""
        v = c.find(q("v"))
        if v is None or not v.text:  # (an empty <v/>, which some programs write: an empty cell, as Excel reads it)
            return None
        if t == "s":
            return shared[int(v.text)]
        return v.text

    def remove_row_cells(self, row: int, c1: int, c2: int) -> None:
        cells = self.cells.get(row)
        if not cells:
            return
        row_el = self.rows[row]
        for col in [k for k in cells if c1 <= k <= c2]:
            if cells[col].find(q("f")) is not None:
                self.touched_formula = True
            row_el.remove(cells.pop(col))
            self.touch()

    def unshare_leaving(self, r1: int, c1: int, r2: int, c2: int, kept: range = range(0), by: int = 0) -> None:
        """Before the cells of rows r1..r2, columns c1..c2 are removed: a shared formula whose first cell (the
        one holding its text) is among them and others not — a note column of T_Controles filled down past the
        table — has each of its other cells given its own text; they derived it from a cell gone, and Excel
        repaired the file. `kept`: rows among them whose cells are carried `by` rows lower (T_Controles' totals
        row, moved under the findings), whose cells of such a formula, its first one too, get the text the
        formula filled down there gives — that of their old row named a cell of the row they left."""
        firsts: dict[str, tuple[str, str]] = {}  # si → (its text, its cell)
        for r in [r for r in self.cells if r1 <= r <= r2]:  # (held only: r2 may be the grid's last row)
            for col, c in self.cells[r].items():
                f = c.find(q("f"))
                if c1 <= col <= c2 and f is not None and f.get("t") == "shared" and f.text and f.get("ref"):
                    firsts[f.get("si")] = (f.text, _a1(r, col))
        if not firsts:
            return
        for r, cells in self.cells.items():
            for col, c in cells.items():
                f = c.find(q("f"))
                if f is None or f.get("t") != "shared" or f.get("si") not in firsts \
                        or (r1 <= r <= r2 and c1 <= col <= c2 and r not in kept):
                    continue
                text, origin = firsts[f.get("si")]
                try:
                    f.text = _shared_text(text, origin, _a1(r + by if r in kept else r, col))
                except Exception:  # noqa: BLE001 — a formula the translator cannot read: left as written
                    continue
                for attr in ("t", "si", "ref"):
                    f.attrib.pop(attr, None)
                self.touched_formula = True
        self.touch()

    def move_down(self, first_row: int, c1: int, c2: int, by: int, sheet_name: str | None = None) -> None:
        """The cells of columns c1..c2 from `first_row` down moved `by` rows lower, as Excel's « Insérer
        des cellules, décaler vers le bas » moves them: values, formats, formulas, and the merged ranges,
        hyperlinks, conditional formats and data validations that lie wholly among them. The references
        of this sheet's formulas, and of those formats' and validations', to the moved cells follow them
        (`sheet_name`: this sheet's, as other sheets' references to it name it); other sheets' formulas
        are left as written."""
        if by <= 0:
            return
        inside = _MovedArea(first_row, c1, c2, by, sheet_name)
        for r in sorted((r for r in self.cells if r >= first_row), reverse=True):  # the lowest first: no overlap
            for col in [k for k in self.cells[r] if c1 <= k <= c2]:
                old = self.cells[r][col]
                moved = self.cell(r + by, col)
                moved.attrib.clear()
                moved.attrib.update({**old.attrib, "r": _a1(r + by, col)})
                moved[:] = list(old)
                f = old.find(q("f"))
                if f is not None and f.get("ref"):  # a shared or array formula's range goes with it
                    moved.find(q("f")).set("ref", shifted(f.get("ref"), by))
            self.remove_row_cells(r, c1, c2)
        for tag, item in (("mergeCells", "mergeCell"), ("hyperlinks", "hyperlink")):
            for el in self.root.iter(q(item)) if self.root.find(q(tag)) is not None else ():
                try:
                    r1, k1, _r2, k2 = parse_ref(el.get("ref", ""))
                except ValueError:
                    continue
                if r1 >= first_row and c1 <= k1 and k2 <= c2:
                    el.set("ref", shifted(el.get("ref"), by))
        # a conditional format or a list wholly among the moved cells goes with them (it coloured and
        # constrained the rows they left: the findings' of the annotated copy), one wholly outside them
        # stays: the references of their formulas to the moved cells follow them, as Excel rewrites them (a
        # list beside the table whose choices are typed below it offered the findings' texts). One partly
        # among them stays as written: Excel would split it, each part's formulas read from another cell
        for el in list(self.root.iter()):
            if _local_tag(el.tag) not in ("conditionalFormatting", "dataValidation"):
                continue
            holder = el if el.get("sqref") is not None else next(
                (x for x in el if _local_tag(x.tag) == "sqref"), None)
            refs = [] if holder is None else (holder.get("sqref") if holder is el else holder.text or "").split()
            if refs and all(inside.holds(r) for r in refs):
                lower = " ".join(shifted(r, by) for r in refs)
                if holder is el:
                    el.set("sqref", lower)
                else:
                    holder.text = lower
            elif any(inside.meets(r) for r in refs):
                continue
            for f in el.iter():
                if f is not el and _local_tag(f.tag) in ("formula", "formula1", "formula2", "f") and f.text:
                    f.text = inside.follow(f.text)
        done = self._unshare_crossing(inside)
        for cells in self.cells.values():  # this sheet's formulas that point at the moved cells
            for c in cells.values():
                f = c.find(q("f"))
                if f is not None and f.text and f not in done:
                    followed = inside.follow(f.text)
                    if followed != f.text:
                        f.text = followed
                        self.touched_formula = True
        self.touch()

    def _unshare_crossing(self, inside: _MovedArea) -> set[ET.Element]:
        """Shared formulas (a column filled down: the text on its first cell only, the others derived from
        it) whose cells would follow the moved cells unevenly — filled from the findings' rows down into the
        notes', a cell naming a moved cell and another not, or the group itself cut by the move (a row filled
        right across the table's last column) — each get their own text, followed: the first cell's text
        alone follows, and the others named the cells the move had shifted. Their elements."""
        # called once the cells have moved: where each was (what its text, derived from the first cell's
        # where it was, names); every cell of the moved columns that low is a moved one
        def before(r: int, col: int) -> int:
            return r - inside.by if inside.c1 <= col <= inside.c2 and r >= inside.first_row + inside.by else r

        groups: dict[str, list[tuple[str, str, ET.Element]]] = {}
        for r, cells in self.cells.items():
            for col, c in cells.items():
                f = c.find(q("f"))
                if f is not None and f.get("t") == "shared" and f.get("si") is not None:
                    groups.setdefault(f.get("si"), []).append((_a1(before(r, col), col), _a1(r, col), f))
        done: set[ET.Element] = set()
        for members in groups.values():
            master = next(((was, at, f) for was, at, f in members if f.text and f.get("ref")), None)
            if master is None or len(members) < 2:
                continue
            was, at, mf = master
            own = _shared_text
            try:
                texts = {id(f): inside.follow(own(mf.text, was, w)) for w, _at, f in members}
                lead = inside.follow(mf.text)
                cut = len({(w == a) for w, a, _f in members}) > 1  # some cells moved, others not
                even = not cut and all(texts[id(f)] == own(lead, at, a) for _w, a, f in members)
            except Exception:  # noqa: BLE001 — a formula the translator cannot read: left as written
                continue
            if even:
                continue
            for _w, _a, f in members:
                f.text = texts[id(f)]
                for attr in ("t", "si", "ref"):
                    f.attrib.pop(attr, None)
                done.add(f)
            self.touched_formula = True
        return done

    def child(self, tag: str, create: bool = False) -> ET.Element | None:
        el = self.root.find(q(tag))
        if el is None and create:
            el = insert_ordered(self.root, ET.Element(q(tag)), WORKSHEET_ORDER)
            self.touch()
        return el

    def remove_child(self, tag: str) -> None:
        el = self.root.find(q(tag))
        if el is not None:
            self.root.remove(el)
            self.touch()


def _shared_text(text: str, origin: str, where: str) -> str:
    """The text of the cell `where` of a shared formula whose first cell `origin` holds `text`."""
    from openpyxl.formula.translate import Translator

    return text if where == origin else Translator("=" + text, origin).translate_formula(where)[1:]


def shared_strings(pkg: Package, wb: Workbook) -> list[str]:
    target = next((t for _i, ty, t in pkg.relationships(wb.part) if ty.endswith("/sharedStrings")), None)
    if not target or not pkg.has(target):
        return []
    out = []
    for si in pkg.xml(target).root.findall(q("si")):
        out.append("".join(t.text or "" for t in si.iter(q("t")) if _not_phonetic(si, t)))
    return out


def _not_phonetic(si: ET.Element, t: ET.Element) -> bool:
    for rph in si.findall(q("rPh")):
        if t in list(rph.iter()):
            return False
    return True


# ----------------------------------------------------------------------------- styles
_BUILTIN_DATE_FORMATS = set(range(14, 23)) | set(range(45, 48))


class Styles:
    """styles.xml: fills, fonts, number formats and cell formats (xf), derived without duplicates."""

    def __init__(self, pkg: Package, part: str):
        self.pkg = pkg
        self.part = part
        self.root = pkg.xml(part).root
        self.cell_xfs = find_or_insert(self.root, q("cellXfs"), STYLESHEET_ORDER)
        if len(self.cell_xfs) == 0:  # a cell's missing `s` means xf 0: it must exist
            ET.SubElement(self.cell_xfs, q("xf"), {"numFmtId": "0", "fontId": "0", "fillId": "0",
                                                     "borderId": "0", "xfId": "0"})
        self.fills = find_or_insert(self.root, q("fills"), STYLESHEET_ORDER)
        self.fonts = find_or_insert(self.root, q("fonts"), STYLESHEET_ORDER)
        self._derived: dict[tuple, int] = {}

    def _changed(self) -> None:
        for el in (self.cell_xfs, self.fills, self.fonts, self.root.find(q("numFmts"))):
            if el is not None:
                el.set("count", str(len(el)))
        self.pkg.touch(self.part)

    def xf(self, index: int) -> ET.Element:
        xfs = list(self.cell_xfs)
        return xfs[index] if 0 <= index < len(xfs) else xfs[0]

    @property
    def xf_count(self) -> int:
        return len(self.cell_xfs)

    # -- fills
    def fill_rgb(self, fill_id: int) -> str | None:
        """ARGB of a solid fill (upper case), else None."""
        fills = list(self.fills)
        if not 0 <= fill_id < len(fills):
            return None
        pf = fills[fill_id].find(q("patternFill"))
        if pf is None or pf.get("patternType") != "solid":
            return None
        fg = pf.find(q("fgColor"))
        return fg.get("rgb", "").upper() if fg is not None and fg.get("rgb") else None

    def solid_fill(self, argb: str) -> int:
        for i in range(len(self.fills)):
            if self.fill_rgb(i) == argb.upper():
                return i
        fill = ET.SubElement(self.fills, q("fill"))
        pf = ET.SubElement(fill, q("patternFill"), {"patternType": "solid"})
        ET.SubElement(pf, q("fgColor"), {"rgb": argb.upper()})
        ET.SubElement(pf, q("bgColor"), {"indexed": "64"})
        self._changed()
        return len(self.fills) - 1

    # -- fonts
    def link_font(self, font_id: int) -> int:
        """A copy of a font, underlined and in the hyperlink blue."""
        fonts = list(self.fonts)
        base = fonts[font_id] if 0 <= font_id < len(fonts) else (fonts[0] if fonts else ET.Element(q("font")))
        font = ET.Element(q("font"))
        for child in base:
            if child.tag not in (q("u"), q("color")):
                font.append(_copy(child))
        insert_ordered(font, ET.Element(q("u")), FONT_ORDER)
        insert_ordered(font, ET.Element(q("color"), {"rgb": "FF0563C1"}), FONT_ORDER)
        key = _canon(font)
        for i, f in enumerate(fonts):
            if _canon(f) == key:
                return i
        self.fonts.append(font)
        self._changed()
        return len(self.fonts) - 1

    # -- number formats
    def is_date_format(self, num_fmt_id: int) -> bool:
        if num_fmt_id in _BUILTIN_DATE_FORMATS:
            return True
        nf = self.root.find(q("numFmts"))
        for f in nf if nf is not None else ():
            if f.get("numFmtId") == str(num_fmt_id):
                code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", f.get("formatCode", "")).lower()
                return "d" in code or "y" in code
        return False

    def num_fmt(self, code: str) -> int:
        nf = self.root.find(q("numFmts"))
        if nf is None:
            nf = insert_ordered(self.root, ET.Element(q("numFmts")), STYLESHEET_ORDER)
        ids = [int(f.get("numFmtId", "0")) for f in nf]
        for f in nf:
            if f.get("formatCode") == code:
                return int(f.get("numFmtId"))
        new_id = max([163, *ids]) + 1
        ET.SubElement(nf, q("numFmt"), {"numFmtId": str(new_id), "formatCode": code})
        self._changed()
        return new_id

    # -- cell formats
    def derive(self, index: int, **attrs: str | None) -> int:
        """Index of a cell format equal to xf `index` with some attributes changed (None: removed)."""
        key = (index, tuple(sorted(attrs.items())))
        if key in self._derived:
            return self._derived[key]
        xf = _copy(self.xf(index))
        for k, v in attrs.items():
            if v is None:
                xf.attrib.pop(k, None)
            else:
                xf.set(k, v)
        canon = _canon(xf)
        found = next((i for i, x in enumerate(self.cell_xfs) if _canon(x) == canon), None)
        if found is None:
            self.cell_xfs.append(xf)
            self._changed()
            found = len(self.cell_xfs) - 1
        self._derived[key] = found
        return found


def _copy(el: ET.Element) -> ET.Element:
    new = ET.Element(el.tag, dict(el.attrib))
    new.text, new.tail = el.text, None
    for child in el:
        c = _copy(child)
        c.tail = None
        new.append(c)
    return new


def _canon(el: ET.Element) -> tuple:
    return (el.tag, tuple(sorted(el.attrib.items())), (el.text or "").strip(), tuple(_canon(c) for c in el))
