"""The result of a consolidation: what the batch computed and every writer reads.

Its own module so that the batch (`consolidation`) and the writers (`consolidation_workbook`, the
JSON summary) both import it, and neither imports the other.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any

from acv_xl.checks.findings import ORDER, Gravite
from acv_xl.checks.rules.consolidation import FileSummary, Verdict, norm_departement
from acv_xl.checks.totals import ZERO, Totaux, add_up, combine
from acv_xl.contract import layout
from acv_xl.contract.values import fmt_euros, fmt_number, fold
from acv_xl.reading.errors import shown_file


@dataclass
class Anomalie:
    """One row of `Anomalies`: a file and one of its findings (plain fields: no model to rebuild)."""

    rel: str
    acv_id: str | None
    code: str
    gravite: Gravite
    feuille: str
    cellule: str
    action: str
    message: str
    suggestion: str


_GRAVITE = {g.value: g for g in Gravite}
_UNREADABLE = ("STR-01", "STR-02")
_COUNTED = (Gravite.ERREUR, Gravite.AVERTISSEMENT)  # the order of `counts`


def _echoed(f: FileSummary, v: Verdict) -> tuple[str, ...]:
    """The file's own codes that its CON-03 already says (its message and suggestion are the
    reader's): both are listed in Anomalies, counted once, as CON-03."""
    return _UNREADABLE if any(x.code == "CON-03" for x in v.findings) else ()


def own_anomalies(f: FileSummary) -> list[Anomalie]:
    """A file's own findings as rows of `Anomalies`, errors first (stable: the validator's order within
    a gravity)."""
    own = [Anomalie(f.rel, f.acv_id, c, _GRAVITE[g], fe, ce, a, m, s) for c, g, fe, ce, a, m, s in f.findings]
    return sorted(own, key=lambda x: ORDER[x.gravite])


# ------------------------------------------------------------------ readiness of a convention (Synthèse)
PHASE_INITIALISATION, PHASE_DEPLOIEMENT, PHASE_TERMINEE = "initialisation", "déploiement", "terminée"
PHASE_INCONNUE = "dates manquantes"
AVANCEE, EN_COURS, MOINS_PRETE = "avancée", "en cours", "moins prête"
# (share of actions engaged or finished, share of financing acquired): both at least the first pair
# → « avancée »; both below the second → « moins prête »; otherwise « en cours ».
SEUIL_AVANCEE = (Decimal("0.50"), Decimal("0.50"))
SEUIL_MOINS_PRETE = (Decimal("0.25"), Decimal("0.25"))


@dataclass(frozen=True)
class Preparation:
    phase: str
    part_actions: Decimal | None  # actions engaged or finished / actions not abandoned
    part_acquise: Decimal | None  # Acquis + Engagé + Versé / financing total
    classe: str


_MOIS = {m: i for i, m in enumerate(("janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout",
                                      "septembre", "octobre", "novembre", "decembre"), start=1)}
_MOIS |= {"janv": 1, "fevr": 2, "fev": 2, "avr": 4, "juil": 7, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
# Each searched in the folded label (`fold`: lower case, no accents, single spaces), never inside a longer
# run of figures joined by the date's own separator (« 112/06/2027 », « 12/06/2027/3 », « 1.12.06.2027 » are
# no dates), but after or before another separator: « CE n°3-12/06/2027 », a comité's number then its date.
# Never after a version's « v » or « version »: « v1.2.2027 » is a version, not the 1st of February. Day first, as in
# French: « 06/12/2027 » is the 6th of December, never an American June 12 (« 06/13/2027 » is a date that
# does not exist); year first only with four figures (« 2027-06-12 », a file name's ISO date), year, month,
# day, the one order that starts with a year. A two-figure year is of the 2000s: the programme started in 2018.
_NOT_AFTER_FIGURES, _NOT_BEFORE_FIGURES = r"(?<!\d)(?<!\d[./-])", r"(?!\d)(?![./-]\d)"
# (A version is numbered with dots or dashes, never slashes: « version 12/06/2027 » is a date, as it was read.
# Nor day first with a day and a month of two figures and a year of four, the date as a préfecture writes it:
# « CE v 12.06.2027 », « version 01-02-2027 » are dates; « v1.2.2027 », « v 12.06.27 », « v2027.06.12 » versions.)
_NOT_A_VERSION = (r"(?<!\d)(?:(?=\d+/|\d\d\.\d\d\.\d{4}(?!\d)|\d\d-\d\d-\d{4}(?!\d))|"
                  + "".join(rf"(?<!\b{v})" for v in ("v", "v ", r"v\.", r"v\. ", "version", "version ")) + ")")
_DAY_FIRST = re.compile(_NOT_A_VERSION + r"(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?!\d)(?!\2\d)")
_YEAR_FIRST = re.compile(_NOT_A_VERSION + r"(\d{4})([./-])(\d{1,2})\2(\d{1,2})(?!\d)(?!\2\d)")
# The month named in the pattern itself, not checked after: a number before the date (« n°2 du 12 mars 2027 »)
# matched as « 2 du 12 », a day, no month and a year, and hid the date that follows it. A year of two figures
# only where nothing follows it but punctuation: « 12 juin 14h30 », « 12 juin 25 conventions » hold no year.
# Its parts joined by a space, a dash or nothing, as a file's name writes it (« CE_12juin2027 », « 12-juin-2027 »):
# « 12juin2027 » was said « un jour sans année ».
_DATE_IN_WORDS = re.compile(r"(?<!\d)(\d{1,2})(?: ?er)?[ -]?(" + "|".join(sorted(_MOIS, key=len, reverse=True))
                            + r")(?![a-z])\.?[ -]?(\d{4}(?!\d)|\d{2}(?![\d:]|\s*[a-z0-9]))")
# A comité's label is a name (« Comité d'engagement du 12/06/2027 », 34 characters), printed whole in every warning
# that names it and on every sheet of the consolidated and évolution workbooks: a longer one (a paste gone wrong,
# a file's content) is refused before any work, never cut — a label cut could no longer tell two comités apart.
# 150 hold the longest a préfecture writes (body, place, number, date, « reporté au … »).
COMITE_MAX_CHARS = 150


def label_shown(text: str) -> str:
    """A recorded comité's label as a message or a sheet shows it: whole, or cut with « … » past what
    `--comite` takes — a register written before the limit, or edited with an SQLite tool, printed its
    10 000 characters in every warning and over pages of historique's sheets."""
    return text if len(text) <= COMITE_MAX_CHARS else text[:COMITE_MAX_CHARS - 1] + "…"
# The forms read, as the warnings name them when a label holds no date.
FORMES_LUES = ("« 12/06/2027 », « 12.06.2027 », « 12-06-2027 » ou « 12/06/27 » (jour, mois, année), "
               "« 2027-06-12 » (année, mois, jour), « 12 juin 2027 » ou « 1er juin 2027 »")
# A part of a date, searched in the label as typed (a word is a month when folded: « Décembre », « JUIN »), its
# parts joined as a whole date's may be (« CE_juin2027 », « 12-juin »)
_MONTH_AND_YEAR = re.compile(r"([^\W\d_]+)\.?[\s-]*(\d{4})(?!\d)")
_DAY_AND_MONTH = re.compile(r"(?<!\d)(\d{1,2})(?:\s?er)?[\s-]*([^\W\d_]+)")
_DAY_AND_MONTH_IN_FIGURES = re.compile(_NOT_AFTER_FIGURES + r"(\d{1,2})[./](\d{1,2})" + _NOT_BEFORE_FIGURES)
_MONTH_AND_YEAR_IN_FIGURES = re.compile(_NOT_AFTER_FIGURES + r"(?:(\d{1,2})[./-](\d{4})|(\d{4})[./-](\d{1,2}))"
                                        + _NOT_BEFORE_FIGURES)


def _first_in_figures(pattern: re.Pattern, folded: str) -> re.Match | None:
    """The first date in figures of `pattern` in the folded label that does not go on a run of figures joined
    by its own separator (« 1.12.06.2027 »), as a comité's number joined by another one does (« n°3-12/06/2027 »)."""
    for m in pattern.finditer(folded):
        s = m.start()
        if s < 2 or folded[s - 1] != m.group(2) or not folded[s - 2].isdigit():
            return m
    return None


def _date_in_label(text: str | None) -> tuple[str, date | None] | None:
    """The first date a comité's label names, as typed, and the date it is (None when no calendar holds
    it: « 31/02/2026 », « 2027-13-01 »); None when the label names none."""
    folded = fold(text or "")
    found = []
    for m in (_first_in_figures(_DAY_FIRST, folded), _first_in_figures(_YEAR_FIRST, folded)):
        if m is not None:
            if len(m.group(1)) == 4:
                year, month, day = int(m.group(1)), int(m.group(3)), int(m.group(4))
            else:
                day, month, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
                year += 2000 if len(m.group(4)) == 2 else 0
            found.append((m.start(), m.group(0), day, month, year))
    if (w := _DATE_IN_WORDS.search(folded)) is not None:  # (« 12 juin 2027 »; « 12 exemplaires 2027 » is none)
        # as typed, accents kept (fold keeps a date's figures: the first of them in the label), its parts
        # joined as the pattern joins them (« 30-Févr-2027 », « 31Juin2027 »)
        typed = re.search(r"(?<!\d)" + re.escape(w.group(1)) + r"(?:\s?er)?[\s-]*\S+?\.?[\s-]*" + w.group(3)
                          + r"(?!\d)", text or "")
        year = int(w.group(3)) + (2000 if len(w.group(3)) == 2 else 0)  # « 12 juin 27 »
        found.append((w.start(), typed.group(0) if typed else w.group(0), int(w.group(1)), _MOIS[w.group(2)], year))
    if not found:
        return None
    _, typed, day, month, year = min(found)
    try:
        return typed, date(year, month, day)
    except ValueError:
        return typed, None


def date_of_label(text: str | None) -> date | None:
    """The date a comité's label holds (« Comité du 12/06/2026 », « CE 2026-06-12 », « Comité du 12 juin
    2026 »), if any: never guessed from a part of one (« juin 2026 », « 12/06 »)."""
    found = _date_in_label(text)
    return found[1] if found else None


def impossible_date_in_label(text: str | None) -> str | None:
    """The date as typed in a comité's label when it is one no calendar holds (« 31/02/2026 »,
    « 31 juin 2026 », « 2027-13-01 »): `date_of_label` finds none, and the user must be told why."""
    found = _date_in_label(text)
    return found[0] if found and found[1] is None else None


def far_comite_date(day: date, today: date) -> str | None:
    """Why a comité's date read in its label is none an ACV comité meets on, in French, or None: before the
    programme's first year (« 12/06/2006 » for 2026), or more than two years ahead (« 12/06/2062 »), a
    comité being planned months ahead — a year mistyped, each phase measured at it (every convention
    « terminée »), and in the register every later comité said earlier than it."""
    first = min(year for year, _ in layout.PROGRAMMES.values())
    if day.year < first:
        return f"antérieure au début du programme Action Cœur de Ville ({first})"
    # two calendar years (731 days let the day after pass when no 29 February lies between)
    ahead = today.replace(year=today.year + 2, day=28) if (today.month, today.day) == (2, 29) \
        else today.replace(year=today.year + 2)
    if day > ahead:
        return "à plus de deux ans de la date du jour"
    return None


def partial_date_in_label(text: str | None) -> tuple[str, str] | None:
    """A part of a date in a comité's label that holds none, as typed, and what it lacks: « juin 2027 »
    (« 06/2027 », « 2027-06 » too), a month without a day; « 12 juin » or « 12/06 », a day without a
    year — never completed (the 1st? the current year?), but said, so that the référent writes it whole."""
    if _date_in_label(text) is not None:
        return None
    for m in _MONTH_AND_YEAR.finditer(text or ""):
        if fold(m.group(1)) in _MOIS:
            return m.group(0), "un mois sans jour"
    for m in _MONTH_AND_YEAR_IN_FIGURES.finditer(text or ""):  # « 06/2027 », « 2027-06 »
        if 1 <= int(m.group(1) or m.group(4)) <= 12:
            return m.group(0), "un mois sans jour"
    for m in _DAY_AND_MONTH.finditer(text or ""):
        if fold(m.group(2)) in _MOIS and 1 <= int(m.group(1)) <= 31:
            return m.group(0), "un jour sans année"
    for m in _DAY_AND_MONTH_IN_FIGURES.finditer(text or ""):
        if 1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12:
            return m.group(0), "un jour sans année"
    return None


_MATURITE = itemgetter(4)  # an action's maturité (`ACTION_FIELDS`)


def preparation(f: FileSummary, ref: date) -> Preparation:
    """Phase at `ref` from the convention's dates, shares of actions engaged and financing acquired, class."""
    if f.date_fin_initialisation and ref <= f.date_fin_initialisation:
        phase = PHASE_INITIALISATION
    elif f.date_fin_deploiement and ref <= f.date_fin_deploiement:
        phase = PHASE_DEPLOIEMENT
    elif f.date_fin_deploiement:
        phase = PHASE_TERMINEE
    else:
        phase = PHASE_INCONNUE
    maturites = list(map(_MATURITE, f.actions))  # counted in C: a Synthèse asks for every convention
    vivantes = len(maturites) - maturites.count(layout.MATURITE_ABANDONNEE)
    engagees = sum(map(maturites.count, layout.MATURITES_SIGNEES))
    part_actions = Decimal(engagees) / Decimal(vivantes) if vivantes else None
    fin = f.totaux.financement_total if f.totaux is not None else ZERO
    part_acquise = f.acquis / fin if fin else None
    pa, pq = part_actions or ZERO, part_acquise or ZERO
    if pa >= SEUIL_AVANCEE[0] and pq >= SEUIL_AVANCEE[1]:
        classe = AVANCEE
    elif pa < SEUIL_MOINS_PRETE[0] and pq < SEUIL_MOINS_PRETE[1]:
        classe = MOINS_PRETE
    else:
        classe = EN_COURS
    return Preparation(phase, part_actions, part_acquise, classe)


def said_with_why(items: list[tuple[str, str]]) -> list[str]:
    """Folders or files as shown, each with why, as the terminal says them (« « arras » (lien…) »): named
    as the sheets name them (`shown_file`), the JSON keeping the name itself."""
    return [f"« {shown_file(shown)} » ({why})" for shown, why in items]


def departements_said(deps: list[str]) -> str:
    """The départements a title names (`deps` sorted): one, up to three, or how many — the consolidation's
    and the history's titles alike."""
    if not deps:
        return "tous départements"
    if len(deps) == 1:
        return f"département {deps[0]}"
    return f"départements {', '.join(deps)}" if len(deps) <= 3 else f"{len(deps)} départements"


@dataclass
class ConsolidationResult:
    files: list[FileSummary]
    verdicts: list[Verdict]
    departement: str | None = None
    out: Path | None = None
    json_path: Path | None = None
    base: Path | None = None
    genere_le: datetime = field(default_factory=datetime.now)
    duree: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step (benchmark, diagnosis)
    comite: str | None = None  # the comité's label (`--comite`)
    sans_erreurs: bool = False  # only the workbooks with no error are counted (`--sans-erreurs`)
    reused: set[str] = field(default_factory=set)  # files (rel) whose summary came from the register
    # each workbook's rows of `Lignes` and `Anomalies`, by (sheet, rel) (`consolidation_blocks.Bloc`:
    # made by the workers or kept by the register)
    blocs: dict[tuple[str, str], Any] = field(default_factory=dict)
    extracts: list[Path] = field(default_factory=list)  # one workbook per financeur (`--par-financeur`)
    extracts_removed: list[Path] = field(default_factory=list)  # a previous run's, for a financeur absent now
    extracts_left: list[Path] = field(default_factory=list)  # the same, that could not be removed
    # folders `discover` could not walk, as shown, with why (« arras », « lien symbolique dont la cible… »)
    folders_not_walked: list[tuple[str, str]] = field(default_factory=list)
    # files of a walked folder left unread that may be workbooks, as shown, with what they look like
    # (« calais.xlsx.part », « fichier en cours de téléchargement ou de copie ? »)
    files_not_read: list[tuple[str, str]] = field(default_factory=list)

    @property
    def not_walked(self) -> list[str]:
        """`folders_not_walked` as the terminal says them (« « arras » (lien symbolique…) »)."""
        return said_with_why(self.folders_not_walked)

    @property
    def not_read(self) -> list[str]:
        """`files_not_read` as the terminal says them (« « calais.xlsx.part » (fichier en cours…) »)."""
        return said_with_why(self.files_not_read)

    @cached_property
    def counted(self) -> list[FileSummary]:
        """The counted workbooks, by convention id (then path): the order of every sheet but `Fichiers`."""
        return sorted((f for f, v in zip(self.files, self.verdicts) if v.compte),
                      key=lambda f: (f.acv_id is None, f.acv_id or "", f.rel))

    @cached_property
    def totaux(self) -> Totaux:
        return combine(f.totaux for f in self.counted)

    def date_reference(self, f: FileSummary) -> date:
        """The readiness date: the comité's (from `--comite`), else the convention's next comité, else today."""
        return self._date_comite or f.date_comite or self.genere_le.date()

    @cached_property
    def _date_comite(self) -> date | None:
        return date_of_label(self.comite)  # once, not once per convention

    def preparation(self, f: FileSummary) -> Preparation:
        return preparation(f, self.date_reference(f))

    @cached_property
    def departements(self) -> frozenset[str]:
        """The départements the report covers (`--departement`, else those of the counted conventions)."""
        if self.departement:
            return frozenset({self.departement})
        return frozenset(norm_departement(f.departement) for f in self.counted if f.departement)

    @cached_property
    def perimetre(self) -> str:
        """The départements the titles and footers name: without `--departement`, those of the counted
        conventions — « tous départements » over a folder of the 62 alone read as a national report."""
        return departements_said(sorted(self.departements))

    @cached_property
    def acquis(self) -> Decimal:
        return add_up(f.acquis for f in self.counted)  # exact past 10^26 €, as `totaux`

    @cached_property
    def manque(self) -> Decimal:
        """What the counted conventions lack, never netted with what others have in excess (318 000 €
        missing and 50 000 € in excess are not « 268 000 € »): the Synthèse's total and the JSON's."""
        return add_up(max(f.totaux.ecart, ZERO) for f in self.counted)

    @cached_property
    def excedent(self) -> Decimal:
        """What the counted conventions have in excess (see `manque`)."""
        return add_up(max(-f.totaux.ecart, ZERO) for f in self.counted)

    @cached_property
    def anomalies(self) -> list[Anomalie]:
        """Every finding of every file (CON first), file by file, errors first."""
        out: list[Anomalie] = []
        for f, v in zip(self.files, self.verdicts):
            out.extend(self.anomalies_con(f, v))
            out.extend(own_anomalies(f))
        return out

    @staticmethod
    def anomalies_con(f: FileSummary, v: Verdict) -> list[Anomalie]:
        """A file's CON findings as rows of `Anomalies` (before its own)."""
        return [Anomalie(f.rel, f.acv_id, x.code, x.gravite, x.feuille, x.cellule, x.action, x.message, x.suggestion)
                for x in v.findings]

    def counts(self, f: FileSummary) -> tuple[int, int]:
        """(errors, warnings) of a file: its own findings plus its CON findings."""
        c = self._counts.get(f.rel)
        if c is None:  # once per file: Synthèse, its total row, Fichiers and the register ask again
            v = self._verdict_of[f.rel]
            said = _echoed(f, v)  # STR-01/02 said by CON-03: once (asked once, not per finding)
            echoed = sum(1 for fd in f.findings if fd[0] in said) if said else 0
            c = self._counts[f.rel] = (f.nb_erreurs - echoed + sum(x.gravite is Gravite.ERREUR for x in v.findings),
                                       f.nb_avertissements + sum(x.gravite is Gravite.AVERTISSEMENT for x in v.findings))
        return c

    @cached_property
    def _counts(self) -> dict[str, tuple[int, int]]:
        return {}

    @cached_property
    def _verdict_of(self) -> dict[str, Verdict]:
        return {f.rel: v for f, v in zip(self.files, self.verdicts)}

    def count(self, gravite: Gravite, counted_only: bool = False) -> int:
        """Errors or warnings of every file (of the counted ones: `counted_only`), as `counts` gives
        them to `Fichiers` and the Synthèse — a STR-01/02 that its file's CON-03 repeats counts once
        (as CON-03): one rule, and each file's counts made once for all of them."""
        i = _COUNTED.index(gravite)
        return sum(self.counts(f)[i] for f in (self.counted if counted_only else self.files))

    @property
    def exit_code(self) -> int:
        """0: every counted workbook is valid; 1: errors in a counted workbook, or CON errors."""
        con_errors = any(fd.gravite is Gravite.ERREUR for v in self.verdicts for fd in v.findings)
        counted_errors = any(f.nb_erreurs for f in self.counted)
        return 1 if con_errors or counted_errors else 0

    def summary_line(self, with_out: bool = True, with_reused: bool = False) -> str:
        """The one-line summary; `with_out=False` in the workbook's own properties, which must not carry
        the path it was written to (a user's folder, their name in it); `with_reused`: on the terminal,
        how many files came from the register (« lus » would be untrue of them; the workbook stays
        the same, warm or cold)."""
        n, c = len(self.files), len(self.counted)
        motifs = defaultdict(int)
        for v in self.verdicts:
            if not v.compte:
                motifs[v.motif] += 1
        non = ""
        if motifs:
            detail = ", ".join(f"{k.removesuffix(', non compté')} : {fmt_number(v)}" for k, v in sorted(motifs.items()))
            non = f", {fmt_number(n - c)} fichier{'s' if n - c > 1 else ''} non compté{'s' if n - c > 1 else ''} ({detail})"
        e, a = self.count(Gravite.ERREUR), self.count(Gravite.AVERTISSEMENT)
        # with --sans-erreurs, status 0 beside « 6 erreurs » reads as a contradiction unless the line
        # says where they are: in the workbooks set aside, which the run did not count
        apart = e - self.count(Gravite.ERREUR, counted_only=True) if self.sans_erreurs else 0
        dont = f" (dont {fmt_number(apart)} dans les fichiers non comptés)" if apart else ""
        r = len(self.reused) if with_reused else 0
        repris = f"inchangé{'s' if r > 1 else ''} repris du registre"
        fichiers = (f"{fmt_number(n)} fichier{'s' if n > 1 else ''} lu{'s' if n > 1 else ''}" if not r
                    else f"{fmt_number(n)} fichier{'s' if n > 1 else ''} {repris}" if r == n
                    else f"{fmt_number(n)} fichiers ({fmt_number(n - r)} lu{'s' if n - r > 1 else ''}, {fmt_number(r)} {repris})")
        return (
            f"{fichiers}, {fmt_number(c)} convention{'s' if c > 1 else ''} "
            f"comptée{'s' if c > 1 else ''}{non} ; {fmt_number(e)} erreur{'s' if e > 1 else ''}{dont}, "
            f"{fmt_number(a)} avertissement{'s' if a > 1 else ''} ; financement total {fmt_euros(self.totaux.financement_total)}"
            + (f" → {self.out}" if self.out and with_out else "")
        )
