"""The national list of the programme's communes (ANCT), shipped as data, or a later list given by
the user: `--reference FICHIER.csv`, or the environment variable `ACV_XL_REFERENCE`.

Checked on load (columns, `ACV` + 3 digits ids, INSEE codes in their département, SIREN, dates — ISO,
or as a spreadsheet saves them —, one name and date per convention): a bad file raises
`ReferenceInvalide`, whose message is French
and whose `anomalies` give each problem's line and column (the command line exits with status 2).
Loaded once per file and version of it (cached). The rules never read it: the engine passes it in
(`acv_xl.checks.validate.validate_convention(conv, reference=…)`, the rules' shared index).
"""

from __future__ import annotations

import csv
import errno
import io
import os
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from acv_xl.contract import file_kinds
from acv_xl.contract.system_errors import os_error_text
from acv_xl.contract.values import fold, memo_text

DATA = Path(__file__).with_name("data")
SHIPPED = DATA / "communes_acv.csv"
ENV_VAR = "ACV_XL_REFERENCE"

# How findings and `acv-xl reference` name the shipped list, and the date it describes.
SHIPPED_LIBELLE = "liste nationale ACV (ANCT, avril 2024)"
SHIPPED_DATE = "avril 2024"
SOURCES = (
    "Cartographie du programme Action Cœur de Ville de l'ANCT (communes, identifiants, populations et "
    "SIREN des EPCI mis à jour en avril 2024 ; noms et dates de signature des conventions de 2023)",
    "Liste nationale des opérations de revitalisation de territoire signées, ministère chargé du "
    "logement (2023)",
    "Données publiques sous Licence Ouverte / Etalab",
)

COLUMNS = ("id_acv", "convention", "date_signature_convention", "insee_commune", "commune", "population",
           "departement", "region", "siren_epci", "ort", "date_ort")
ORT_SIGNEE = "Signée"
_MAX_BYTES = 5_000_000  # a list of a few hundred communes; anything far larger is not one

# What to do with a file given as the list that is a workbook or a document (`file_kinds.kind_of`)
# (a sentence each, after « … pas un fichier .csv. »: one colon per sentence, none here)
_EXCEL_CSV = ("Enregistrez-le au format CSV depuis Excel (Fichier › Enregistrer sous…, type « CSV UTF-8 "
              "(délimité par des virgules) »).")
_SAVE_AS_CSV = {
    **dict.fromkeys((file_kinds.XLSX, file_kinds.XLSB, file_kinds.XLS, file_kinds.XML_2003), _EXCEL_CSV),
    file_kinds.PROTECTED: "Ouvrez-le dans Excel avec son mot de passe, puis enregistrez-le au format CSV (Fichier › "
                          "Enregistrer sous…, type « CSV UTF-8 (délimité par des virgules) »).",
    file_kinds.ODS: "Enregistrez-le au format CSV depuis LibreOffice Calc (Fichier › Enregistrer sous…, type "
                    "« Texte CSV (.csv) », jeu de caractères « Unicode (UTF-8) »).",
}
_CSV_ONLY = ("Indiquez la liste des communes au format .csv (UTF-8), ou enregistrez-la depuis un tableur au "
             "format « CSV UTF-8 ».")


class ReferenceInvalide(Exception):
    """A reference list that cannot be used; `str()` is the French message for the user."""

    def __init__(self, message: str, anomalies: list[Anomalie] | None = None):
        self.message = message  # without the anomalies' lines: what a caller rewording it takes
        self.anomalies = anomalies or []
        detail = "".join(f"\n  - {a}" for a in self.anomalies[:10])
        more = len(self.anomalies) - 10
        if more > 0:
            detail += f"\n  - … et {more} autre{'s' if more > 1 else ''} anomalie{'s' if more > 1 else ''}"
        super().__init__(message + detail)


def after_colon(message: str) -> str:
    """A message as it reads after « … : » (« le fichier… », lower case); never a path that starts it."""
    if message.startswith("Le "):
        return message[:1].lower() + message[1:]
    return message


def _named(path: str | Path, env: bool = False) -> str:
    """How messages name a list: as the user typed it, between « », and where it was given when that
    is not the command line (« « liste.csv » (variable d'environnement ACV_XL_REFERENCE) »)."""
    return f"« {path} »" + (f" (variable d'environnement {ENV_VAR})" if env else "")


@dataclass(frozen=True)
class Anomalie:
    """One problem of the file, frictionless style: where (line of the file, column) and what."""

    ligne: int
    colonne: str
    message: str

    def __str__(self) -> str:
        where = f"ligne {self.ligne}" + (f", colonne « {self.colonne} »" if self.colonne else "")
        return f"{where} : {self.message}"  # the message itself holds no colon (`_anomalies`)


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
# The list opened in a French Excel (or LibreOffice) and saved as CSV, as the messages suggest: its
# dates come back as the cells show them, 28/09/2018, and the codes of départements 01 to 09 as
# numbers, their leading zero gone (01 → 1, 01053 → 1053)
_FR_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")


class CommuneRef(BaseModel):
    """One row of the list (the boundary: every value checked here)."""

    # built on first use: the shipped list is trusted (a test validates it whole), so a command
    # that only reads it never pays for building the schema
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True, extra="forbid", defer_build=True)

    id_acv: str = Field(pattern=r"^ACV\d{3}$")
    convention: str = Field(min_length=1)
    date_signature_convention: date | None
    insee_commune: str = Field(pattern=r"^(\d{5}|2[AB]\d{3})$")
    commune: str = Field(min_length=1)
    population: int = Field(ge=0)
    departement: str = Field(pattern=r"^(\d{2}|2[AB]|97\d)$")
    region: str = Field(min_length=1)
    siren_epci: str = Field(pattern=r"^\d{9}$")
    ort: Literal["Signée", "Non signée", ""]
    date_ort: date | None

    @field_validator("date_signature_convention", "date_ort", mode="before")
    @classmethod
    def _iso(cls, v):
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        if isinstance(v, str) and (m := _FR_DATE.match(v.strip())):
            return f"{m.group(3)}-{m.group(2)}-{m.group(1)}"
        if not (isinstance(v, str) and re.fullmatch(_ISO_DATE, v.strip())):
            raise ValueError("date attendue au format AAAA-MM-JJ ou JJ/MM/AAAA")
        return v.strip()

    @model_validator(mode="before")
    @classmethod
    def _leading_zero(cls, row):
        """A département 1 to 9 and its communes' codes without their leading zero (a spreadsheet took
        them for numbers): given it back — only together, so a code mistyped elsewhere stays said."""
        if isinstance(row, dict):
            d, insee = (str(row.get("departement") or "").strip(), str(row.get("insee_commune") or "").strip())
            if re.fullmatch(r"0?[1-9]", d) and re.fullmatch(r"\d{4}", insee) and insee[0] == d[-1]:
                row = {**row, "departement": "0" + d[-1], "insee_commune": "0" + insee}
        return row

    @field_validator("population", mode="before")
    @classmethod
    def _whole(cls, v):
        if isinstance(v, str) and not v.strip().isdigit():
            raise ValueError("nombre entier d'habitants attendu")
        return v

    @model_validator(mode="after")
    def _in_departement(self):
        d = self.departement
        if not self.insee_commune.startswith(d if len(d) == 3 else d[:2]):
            raise ValueError(f"le code INSEE {self.insee_commune} n'est pas dans le département {d}")
        return self

    @property
    def ort_signee(self) -> bool:
        return self.ort == ORT_SIGNEE


@dataclass(frozen=True)
class ConventionRef:
    id_acv: str
    nom: str
    date_signature: date | None
    communes: tuple[CommuneRef, ...]

    @property
    def insee(self) -> tuple[str, ...]:
        return tuple(c.insee_commune for c in self.communes)


_NOT_WORD = re.compile(r"[^a-z0-9]+")
_ARTICLE_AFTER = re.compile(r"(.+?)\s*\((le|la|les|l')\)")  # « Flèche (La) », as the COG once wrote it
# « Arras (62) », « Ajaccio (2A) », « Arras (62000) »: the département or the postal code after the name
_CODE_AFTER = re.compile(r"\s*\((?:\d{2,5}|2[ab]\d{0,3})\)$")
_ARTICLES = frozenset(("le", "la", "les", "l"))
_ABBREVIATED = {"st": "saint", "ste": "sainte"}


def nom_cle(nom: str) -> str:
    """A commune's name as compared with the list's: case, accents, hyphens and apostrophes folded,
    a département or postal code after it dropped (« Arras (62) »),
    « St »/« Ste » written out, the article put back first (« Flèche (La) ») then dropped
    (« Puy-en-Velay » is Le Puy-en-Velay): « ST-LÔ » and « Saint Lô » are « saint lo »."""
    return _sans_article(mots(nom))


@memo_text(4096)  # the communes', the maîtres d'ouvrage's names: the same in run after run (ACT-16, FIN-22, PRJ-10)
def mots(nom: str) -> str:
    """`nom_cle` keeping the article the name begins with (« La Flèche » → « la fleche »): a text's words
    in which a commune's name is looked for, article and all (`article`)."""
    f = fold(nom).replace("œ", "oe").replace("æ", "ae")  # « Cœur de ville »: no accent to fold, a ligature
    f = _CODE_AFTER.sub("", f)
    if m := _ARTICLE_AFTER.fullmatch(f):
        f = f"{m[2]} {m[1]}"
    return " ".join(_ABBREVIATED.get(w, w) for w in _NOT_WORD.sub(" ", f).split())


def _sans_article(cle: str) -> str:
    """A name's key without the article it begins with (« la fleche » is « fleche »), a name of one
    word kept whole."""
    article, _, rest = cle.partition(" ")
    return rest if rest and article in _ARTICLES else cle


# a binôme's name: « Lens - Liévin », « Lens – Liévin », « Lens / Liévin », « Lens et Liévin » (a hyphen
# without spaces is a name's own: Bruay-la-Buissière)
_BINOME = re.compile(r"\s+-\s+|\s*[–—/]\s*|\s+et\s+")
# « Cne d'Arras », « Municipalité d'Arras »: the commune too, by the abbreviation of its administration's letters
_VILLE_DE = re.compile(r"^(?:(?:(?:action )?coeur de ville|acv|ville|commune|mairie)(?: de| d| du| des)?"
                       r"|(?:cne|municipalite)(?: de| d| du| des)) ")


def noms_cles(typed: str) -> list[str]:
    """The names a commune's or a convention's name gives (`nom_cle`), without « Ville de » or « Action
    Cœur de Ville de » before them: one, or a binôme's two (« Lens - Liévin »). The article after
    « Ville de » goes as well: « Ville de La Flèche » is La Flèche."""
    return [nom_collectivite(part) for part in _BINOME.split(fold(typed))]


@memo_text(4096)  # as `mots`: the same names in every workbook of a consolidation
def nom_collectivite(typed: str) -> str:
    """One body's name as `noms_cles` reads each of a binôme's, whole: « Commune de Liévin », « Ville de
    Liévin » and « Mairie de Liévin » are « lievin » (a maître d'ouvrage and the financeur that is it)."""
    return _sans_article(_VILLE_DE.sub("", nom_cle(typed)))


def article(nom: str) -> str | None:
    """The article a commune's name begins with, which `nom_cle` drops: « le » for « Le Portel », « la »
    for « Flèche (La) », « l » for « L'Isle-Adam »; None for « Arras »."""
    article, _, rest = mots(nom).partition(" ")
    return article if rest and article in _ARTICLES else None


def same_commune(typed: str, c: CommuneRef) -> bool:
    """Whether a name typed for the commune `c` is its name (`noms_cles`), or one of the names of a
    binôme's (« Lens - Liévin » on the row of Lens or of Liévin); « Saint-Arras » is not Arras."""
    return nom_cle(c.commune) in noms_cles(typed)


@dataclass(frozen=True)
class Reference:
    """The list in use: its rows, looked up by convention id and by INSEE code."""

    libelle: str  # how findings cite it, e.g. « liste nationale ACV (ANCT, avril 2024) »
    date: str  # the date it describes: « avril 2024 », or the file's date for a list given by the user
    chemin: Path
    communes: tuple[CommuneRef, ...]
    conventions: dict[str, ConventionRef] = field(repr=False)
    par_insee: dict[str, CommuneRef] = field(repr=False)

    @property
    def datee(self) -> str:
        """« d'avril 2024 », « du 12/03/2025 »: after « la liste date »."""
        if self.date[:1].isdigit():
            return f"du {self.date}"
        return ("d'" if self.date[:1] in "aeiouAEIOU" else "de ") + self.date

    @property
    def depuis(self) -> str:
        """« avril 2024 », « le 12/03/2025 »: after « depuis »."""
        return f"le {self.date}" if self.date[:1].isdigit() else self.date

    @cached_property
    def par_nom(self) -> dict[str, tuple[CommuneRef, ...]]:
        """The communes of the list by `nom_cle` of their name (two communes may share one), and by their
        usual name (`nom_usuel`), built once."""
        out: dict[str, tuple[CommuneRef, ...]] = {}
        for c in self.communes:
            k = nom_cle(c.commune)
            out[k] = out.get(k, ()) + (c,)
        for insee, k in self.noms_usuels.items():
            out[k] = out.get(k, ()) + (self.par_insee[insee],)
        return out

    @cached_property
    def noms_usuels(self) -> dict[str, str]:
        """INSEE code → key (`nom_collectivite`) of the name the list gives the convention of that commune
        alone, when it is not the commune's: « Évry » for Évry-Courcouronnes (its name before the 2019
        merger), « Saint-Louis-de-la-Réunion » for Saint-Louis — names a user types, and the list's own.
        Not a binôme's (« Lens - Liévin » names two), nor a name another commune of the list bears."""
        communes = {nom_cle(c.commune) for c in self.communes}
        out = {}
        for cref in self.conventions.values():
            if len(cref.communes) == 1:
                k = nom_collectivite(cref.nom)
                if k and k not in communes:
                    out[cref.communes[0].insee_commune] = k
        return out

    def designe(self, typed: str, c: CommuneRef) -> bool:
        """Whether a name typed for `c` is its name (`same_commune`) or its usual name (`noms_usuels`)."""
        return same_commune(typed, c) or (
            (usuel := self.noms_usuels.get(c.insee_commune)) is not None and usuel in noms_cles(typed))

    @property
    def livree(self) -> bool:
        """The list shipped with the package (not one given by the user)."""
        return self.chemin == SHIPPED


_FIELD_FR = {
    "string_pattern_mismatch": "valeur mal formée",
    "missing": "valeur manquante",
    "string_too_short": "valeur vide",
    "literal_error": "« Signée », « Non signée » ou vide attendu",
    "int_parsing": "nombre entier d'habitants attendu",
    "greater_than_equal": "nombre positif attendu",
    "date_from_datetime_parsing": "date invalide",
    "date_parsing": "date invalide",
}
_EXPECTED = {
    "id_acv": "ACV suivi de trois chiffres attendu",
    "insee_commune": "code INSEE à 5 caractères attendu, commençant par 2A ou 2B en Corse",
    "departement": "code de département à 2 chiffres, 2A, 2B ou 97x attendu",
    "siren_epci": "SIREN à 9 chiffres attendu",
}


def _anomalies(exc: ValidationError, ligne: int, row: dict[str, str]) -> list[Anomalie]:
    out = []
    for e in exc.errors():
        col = str(e["loc"][0]) if e["loc"] else "insee_commune"  # the one check across columns
        if e["type"] in ("value_error", "assertion_error"):
            msg = str(e.get("ctx", {}).get("error", e["msg"]))
        elif e["type"] == "string_pattern_mismatch" and col in _EXPECTED:
            msg = _EXPECTED[col]
        else:
            msg = _FIELD_FR.get(e["type"], "valeur invalide")
        raw = row.get(col) if e["loc"] else None  # the check across columns names its values itself
        if raw not in (None, ""):  # after « ligne 2, colonne « id_acv » : »: no second colon
            msg = f"{msg} (valeur lue « {raw} »)"
        out.append(Anomalie(ligne, col, msg))
    return out


def _read_text(path: Path, named: str | None = None) -> str:
    """The text of the list at `path`; `named`: how messages name it (`_named`)."""
    named = named or _named(path)
    try:
        st = path.stat()
        if not S_ISREG(st.st_mode) and not S_ISDIR(st.st_mode):
            # a named pipe waited for a writer forever, /dev/zero filled the memory (its size is 0)
            raise ReferenceInvalide(f"Le fichier de référence {named} n'est pas un fichier ordinaire (périphérique "
                                    "ou tube nommé) : indiquez le fichier .csv de la liste des communes.")
        size = st.st_size
        if size > _MAX_BYTES:
            raise ReferenceInvalide(f"Le fichier de référence {named} est trop volumineux pour une liste de communes "
                                    f"({size // 1_000_000} Mo).")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReferenceInvalide(f"Le fichier de référence {named} est introuvable.") from None
    except IsADirectoryError:
        raise ReferenceInvalide(f"Le fichier de référence {named} est un dossier : indiquez le fichier .csv de la "
                                "liste des communes.") from None
    except OSError as exc:  # access refused, a disk or share gone, too many open files…: the reason in French
        raise ReferenceInvalide(f"Le fichier de référence {named} est illisible ({os_error_text(exc)}).") from None
    if kind := file_kinds.kind_of(data):  # the list saved as a workbook (Excel, LibreOffice), a PDF…
        raise ReferenceInvalide(f"Le fichier de référence {named} est {kind}, pas un fichier .csv. "
                                + _SAVE_AS_CSV.get(kind, _CSV_ONLY))
    for enc in ("utf-8-sig", "cp1252"):  # a list saved by Excel under Windows is often cp1252
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ReferenceInvalide(f"Le fichier de référence {named} n'est pas un texte lisible (UTF-8 attendu).")


def _trusted_row(values: dict[str, str]) -> CommuneRef:
    """A row of the shipped list, typed without validation (its validation is a test's job).

    Filled as `CommuneRef.model_construct(**typed)` fills it — same `__dict__` (in the fields'
    order, which is `COLUMNS`'), every field set — without its walk of the fields' aliases and
    defaults for each of the list's rows (a third of reading the list, which every command does)."""
    typed: dict = dict(values)
    for k in ("date_signature_convention", "date_ort"):
        typed[k] = date.fromisoformat(values[k]) if values[k] else None
    typed["population"] = int(values["population"])
    m = object.__new__(CommuneRef)
    object.__setattr__(m, "__dict__", typed)
    object.__setattr__(m, "__pydantic_fields_set__", set(COLUMNS))
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m


def parse(text: str, chemin: Path, libelle: str, date_libelle: str, trusted: bool = False,
          named: str | None = None) -> Reference:
    """Check and index the text of a list; raises `ReferenceInvalide` with every anomaly found.
    `trusted`: the shipped list, whose rows are typed without pydantic's validation (tested whole);
    `named`: how messages name the file (`_named`, default: `chemin`)."""
    named = named or _named(chemin)
    first = text.split("\n", 1)[0]
    if not text.strip("\ufeff \t\r\n"):  # « sa première ligne («  ») » said nothing of an empty file
        raise ReferenceInvalide(f"Le fichier de référence {named} est vide : aucune ligne, pas même celle des "
                                f"colonnes attendues ({', '.join(COLUMNS)}).")
    delim = ";" if first.count(";") > first.count(",") else ","  # a French Excel writes « ; »
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if len(missing) == len(COLUMNS):  # naming the eleven columns twice would hide what is wrong
        raise ReferenceInvalide(
            f"Le fichier de référence {named} n'est pas une liste des communes ACV : sa première ligne "
            f"(« {first.strip()[:80]} ») ne porte aucune des colonnes attendues ({', '.join(COLUMNS)}).")
    if missing:
        raise ReferenceInvalide(
            f"Le fichier de référence {named} n'a pas les colonnes attendues : "
            f"{', '.join('« ' + c + ' »' for c in missing)} manque{'nt' if len(missing) > 1 else ''}. "
            f"Colonnes attendues : {', '.join(COLUMNS)}.")
    reader.fieldnames = header
    anomalies: list[Anomalie] = []
    communes: list[CommuneRef] = []
    lines: dict[int, int] = {}  # id(row) → its line in the file, for the cross-row anomalies
    for i, row in enumerate(reader, start=2):
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue  # a blank line
        values = {c: (row.get(c) or "").strip() for c in COLUMNS}
        try:
            communes.append(_trusted_row(values) if trusted else CommuneRef(**values))
            lines[id(communes[-1])] = i
        except ValidationError as exc:
            anomalies.extend(_anomalies(exc, i, values))
    conventions: dict[str, ConventionRef] = {}
    par_insee: dict[str, CommuneRef] = {}
    for c in communes:
        if c.insee_commune in par_insee:
            anomalies.append(Anomalie(lines[id(c)], "insee_commune", f"la commune {c.insee_commune} figure deux fois"))
        par_insee[c.insee_commune] = c
        prev = conventions.get(c.id_acv)
        if prev is None:
            conventions[c.id_acv] = ConventionRef(c.id_acv, c.convention, c.date_signature_convention, (c,))
        elif prev.date_signature != c.date_signature_convention:
            anomalies.append(Anomalie(lines[id(c)], "date_signature_convention",
                                      f"les communes de {c.id_acv} n'ont pas la même date de signature"))
        else:
            # the national list names some binômes once per commune (ACV123 Lourdes, Tarbes)
            nom = prev.nom if c.convention in prev.nom.split(" - ") or c.convention == prev.nom \
                else f"{prev.nom} - {c.convention}"
            conventions[c.id_acv] = ConventionRef(c.id_acv, nom, prev.date_signature, prev.communes + (c,))
    if not communes and not anomalies:
        anomalies.append(Anomalie(2, "", "aucune commune"))
    if anomalies:
        raise ReferenceInvalide(f"Le fichier de référence {named} est invalide :", anomalies)
    return Reference(libelle, date_libelle, chemin, tuple(communes), conventions, par_insee)


def _read(p: Path, named: str | None = None) -> Reference:
    text = _read_text(p, named)
    if p == SHIPPED:
        return parse(text, p, SHIPPED_LIBELLE, SHIPPED_DATE, trusted=True)
    when = date.fromtimestamp(p.stat().st_mtime).strftime("%d/%m/%Y")
    return parse(text, p, f"liste de référence « {p.name} »", when, named=named)


@lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int, _size: int) -> Reference:
    # keyed by the resolved path alone: the list given as `--reference liste.csv` in this process and
    # as its absolute path to the workers of `consolider` is read once
    return _read(Path(path))


def load(path: Path | str, env: bool = False) -> Reference:
    """The list in the file (cached while the file is unchanged); raises `ReferenceInvalide`, whose
    message names the file as given (never the absolute path it resolves to) and, with `env`, says
    it came from `ACV_XL_REFERENCE`."""
    named = _named(path, env)
    p = Path(path).expanduser()
    try:
        p = p.resolve()
        st = p.stat()
    except FileNotFoundError:
        raise ReferenceInvalide(f"Le fichier de référence {named} est introuvable.") from None
    except OSError as exc:
        raise ReferenceInvalide(f"Le fichier de référence {named} est inaccessible ({os_error_text(exc)}).") from None
    except RuntimeError:  # a symbolic link that loops, before Python 3.13
        loop = OSError(errno.ELOOP, "")
        raise ReferenceInvalide(f"Le fichier de référence {named} est inaccessible ({os_error_text(loop)}).") from None
    try:
        return _load(str(p), st.st_mtime_ns, st.st_size)
    except ReferenceInvalide:  # refused: read again (no hurry then) for a message naming the file as given
        return _read(p, named)


def shipped() -> Reference:
    """The list shipped with the package."""
    # every workbook validated asks for it: one stat, where `load` resolves the path component by
    # component (1,5 % of the reading of a workbook of ours, for a file that never moves)
    try:
        st = SHIPPED.stat()
    except OSError:
        return load(SHIPPED)  # its message
    try:
        return _load(str(SHIPPED), st.st_mtime_ns, st.st_size)
    except ReferenceInvalide:
        return load(SHIPPED)


def current() -> Reference:
    """The list in use: the file named by `ACV_XL_REFERENCE` when set, else the shipped one."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return load(env, env=True)  # its messages say where the file was named
    return shipped()
