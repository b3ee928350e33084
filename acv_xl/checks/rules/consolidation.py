"""CON rules: checks across the workbooks of one consolidation (regles.md, family CON).

They run over compact per-file summaries (`FileSummary`, built by `acv_xl.outputs.consolidation` in the
worker processes), never over the workbooks themselves, so they are pure functions: same
summaries in, same verdicts out. Each file gets a `Verdict`: counted or not, why, and its CON
findings.

Choices (documented in the consolidated workbook's `Fichiers` sheet through the « Motif » column):
- CON-03 unreadable files (and files whose reading or checking crashed) are not counted.
- CON-04 files of another département are not counted (their money is not the département's);
  the finding stays an avertissement, as regles.md says.
- CON-01 duplicates are resolved among the remaining files: the kept workbook is the one whose
  data still match its validation, then the most recently validated, then the most recently
  modified file (then the path, so that the choice never depends on reading order).
- A binôme (Lens + Liévin) is one workbook with one `acv_id`: one convention, counted once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any, Sequence

from acv_xl.checks.findings import Finding, Gravite
# the package, this module's parent, loaded first (`q` and `meant_acv_id` defined before its rule families)
from acv_xl.checks.rules import meant_acv_id, q
from acv_xl.checks.totals import Totaux, add_up
from acv_xl.checks.validate import (  # `Report.etat`, defined once
    ETAT_ILLISIBLE,
    ETAT_MODIFIE,
    ETAT_VALIDE,
)
from acv_xl.contract import layout
from acv_xl.contract.values import fmt_date, fmt_euros, fmt_number
from acv_xl.reading.errors import shown_file
from acv_xl.reading.source import col_letter, parse_a1

# Fields of one financing line in `FileSummary.lines` (tuples keep the worker → parent traffic small).
LINE_FIELDS = (
    "numero", "intitule", "axe", "financeur", "dispositif", "nature", "annee", "montant", "statut",
    "compte", "motif", "feuille", "cellule",
)
# Fields of one finding in `FileSummary.findings`.
FINDING_FIELDS = ("code", "gravite", "feuille", "cellule", "action", "message", "suggestion")
# Fields of one action in `FileSummary.actions` (the context of a line in a financeur's extract,
# and the readiness of the convention).
ACTION_FIELDS = ("numero", "intitule", "axe", "maitre_ouvrage", "maturite", "cout_total")
# The Financeur column's letters where the template puts it (`FileSummary.financeur_col` otherwise).
TEMPLATE_FINANCEUR_COL = col_letter(parse_a1(layout.T_FINANCEMENTS.anchor)[1]
                                    + layout.T_FINANCEMENTS.position("financeur"))


# A finding's gravity in `FileSummary.findings` (its enum's value), counted in C: the Synthèse, its
# total row and the register ask each file's counts (a generator and two enum lookups per finding)
_GRAVITE_OF = itemgetter(1)
_ERREUR, _AVERTISSEMENT = Gravite.ERREUR.value, Gravite.AVERTISSEMENT.value


@dataclass
class FileSummary:
    """What the consolidation keeps of one workbook: identity, lines, findings, totals, provenance.

    Plain data only (str, int, Decimal, date, tuples, the `Totaux` dataclass): cheap to pickle.
    """

    path: str  # absolute
    rel: str  # relative to the consolidated folder, as shown to users
    size: int = 0
    sha256: str = ""
    mtime: float = 0.0
    etat: str = ETAT_ILLISIBLE
    acv_id: str | None = None
    libelle: str | None = None
    departement: str | None = None
    epci: str | None = None
    programme: str | None = None
    version_modele: str | None = None
    date_validation: date | None = None
    empreinte: str | None = None
    empreinte_stockee: str | None = None
    communes: tuple[str, ...] = ()
    nb_actions: int = 0
    totaux: Totaux | None = None
    acquis: Decimal = Decimal("0.00")  # counted lines that are Acquis / Engagé / Versé
    lines: tuple[tuple[Any, ...], ...] = ()  # LINE_FIELDS
    findings: tuple[tuple[str, ...], ...] = ()  # FINDING_FIELDS
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)  # moved named cells → (sheet, A1)
    actions: tuple[tuple[Any, ...], ...] = ()  # ACTION_FIELDS
    # the Financeur column's letters in this file's Financements table, only when away from the
    # template's (a line keeps its amount cell alone; a summary stored without it: the template's)
    financeur_col: str = ""
    # the convention's calendar (readiness): signature, end of initialisation, end of deployment, next comité
    date_convention: date | None = None
    date_fin_initialisation: date | None = None
    date_fin_deploiement: date | None = None
    date_comite: date | None = None
    crash: str = ""  # unexpected exception while reading/checking (reported, never raised)
    ignore: str = ""  # why the file is not a convention at all (a consolidated workbook left in the folder)

    @property
    def lisible(self) -> bool:
        return self.etat != ETAT_ILLISIBLE and self.totaux is not None

    @property
    def nb_erreurs(self) -> int:
        return list(map(_GRAVITE_OF, self.findings)).count(_ERREUR)

    @property
    def nb_avertissements(self) -> int:
        return list(map(_GRAVITE_OF, self.findings)).count(_AVERTISSEMENT)

    def cell(self, name: str) -> tuple[str, str]:
        if name in self.cells:
            return self.cells[name]
        nc = layout.NAMED_BY_NAME[name]
        return nc.sheet, nc.cell

    def financeur_cell(self, montant_cell: str) -> str:
        """The Financeur cell of the line whose amount cell is given (same row)."""
        try:
            row = parse_a1(montant_cell)[0]
        except ValueError:  # no cell kept (a line built in code)
            return ""
        return f"{self.financeur_col or TEMPLATE_FINANCEUR_COL}{row}"


@dataclass
class Verdict:
    compte: bool
    motif: str = ""  # why not counted (French, shown in `Fichiers`)
    findings: list[Finding] = field(default_factory=list)  # CON findings of this file


# ------------------------------------------------------------------ helpers
def norm_id(acv_id: str | None) -> str:
    """`acv_id` as compared across files: « acv 001 », « acv 14 », « ACV-014 » and « ACV014 » are the same
    convention (the identifier the rules compare with the national list, `meant_acv_id`: « acv 14 » was
    « ACV14 » here, and Arras was counted twice); another text, spaces and case aside."""
    return meant_acv_id(acv_id) or "".join((acv_id or "").split()).upper()


def norm_departement(code: str | None) -> str:
    """« 62 », « 062 » and 62 are the same département; « 2A » stays « 2A »."""
    s = "".join(str(code or "").split()).upper()
    if s.isdigit():
        s = s.lstrip("0").zfill(2)
    return s


def _finding(f: FileSummary, code: str, gravite: Gravite, name: str, message: str, suggestion: str = "") -> Finding:
    sheet, cell = f.cell(name) if name else ("", "")
    return Finding(code=code, gravite=gravite, feuille=sheet, cellule=cell, message=message, suggestion=suggestion)


# ------------------------------------------------------------------ the rules, one file at a time
def con02_validation(f: FileSummary) -> Finding | None:
    """CON-02 A: never validated, or modified since validation."""
    if not f.lisible or f.etat == ETAT_VALIDE:
        return None
    if f.etat == ETAT_MODIFIE:
        quand = f" le {fmt_date(f.date_validation)}" if f.date_validation else ""
        return _finding(
            f, "CON-02", Gravite.AVERTISSEMENT, "acv_empreinte",
            f"Les données ont été modifiées depuis leur validation{quand} : l'empreinte enregistrée lors de la "
            "validation ne correspond plus aux données du classeur.",
            "Faites valider de nouveau le classeur (bouton « Valider ») avant le comité.",
        )
    return _finding(
        f, "CON-02", Gravite.AVERTISSEMENT, "acv_statut",
        "Ce classeur n'est pas validé : aucune validation sans erreur n'y est enregistrée (statut « Non validé » "
        "ou « Erreurs à corriger »).",
        "Faites valider le classeur par la commune (bouton « Valider ») avant le comité.",
    )


def reader_reason(f: FileSummary) -> tuple[str, ...] | None:
    """The reader's own finding (STR-01/02, FINDING_FIELDS) saying why `f` could not be read, if any."""
    return next((fd for fd in f.findings if fd[0] in ("STR-01", "STR-02")), None)


def con03_illisible(f: FileSummary) -> Finding | None:
    """CON-03 E: the file could not be read (STR-01/02), or its reading/checking crashed."""
    if f.lisible:
        return None
    if f.crash:
        return Finding(
            code="CON-03", gravite=Gravite.ERREUR,
            message=f"Erreur interne pendant la lecture ou le contrôle de ce fichier ({f.crash}) : "
                    "il n'est pas compté ; les autres fichiers sont consolidés.",
            suggestion="Signalez cette erreur à l'équipe acv-xl en joignant le fichier.",
        )
    detail = reader_reason(f)
    message = "Fichier illisible : il n'est pas compté ; les autres fichiers sont consolidés."
    if detail:  # the reader's own sentence, then what it means for the batch (no nested brackets)
        said = detail[5].rstrip(".")
        message = f"Fichier illisible ({detail[0]}) : {said[:1].lower()}{said[1:]}. Il n'est pas compté ; " \
                  "les autres fichiers sont consolidés."
    return Finding(code="CON-03", gravite=Gravite.ERREUR, message=message,
                   suggestion=detail[6] if detail and detail[6] else "Demandez à la commune un classeur .xlsx lisible.")


def con04_departement(f: FileSummary, departement: str | None) -> Finding | None:
    """CON-04 A: `acv_departement` differs from the département being consolidated."""
    if not departement or not f.lisible:
        return None
    if norm_departement(f.departement) == norm_departement(departement):
        return None
    trouve = f"« {f.departement} »" if f.departement else "vide"
    return _finding(
        f, "CON-04", Gravite.AVERTISSEMENT, "acv_departement",
        f"Le département du classeur ({trouve}) n'est pas le département consolidé ({departement}) : "
        "le classeur n'est pas compté.",
        f"Vérifiez le code du département dans la feuille Projet du classeur, ou retirez ce fichier du dossier "
        f"du département {departement}.",
    )


CODE_INCONNU = "code inconnu"  # the column, bar and extract of every financeur code outside the reference list


def financeur_groupe(code: str) -> str:
    """A financeur code as the consolidation shows it: a reference code, or « code inconnu »."""
    return code if code in layout.FINANCEURS_BY_CODE else CODE_INCONNU


_CODES_SAID = 5  # the unknown financeur codes CON-05 names (the others counted)


def con05_financeur_inconnu(f: FileSummary) -> Finding | None:
    """CON-05 A: a counted line's financeur code is not in the reference list of funders: its amount
    is grouped under « code inconnu » in the consolidation (never a column or a bar of its own)."""
    if not f.lisible or f.totaux is None:
        return None
    codes = [c for c in f.totaux.par_financeur if c not in layout.FINANCEURS_BY_CODE]
    if not codes:
        return None
    # the first counted line of one of them; a summary the register gave keeps its lines as stored
    # (`history.register.StoredLines`), whose `first` decodes only the lines that may be it
    find = getattr(f.lines, "first", None)
    unknown = set(codes)  # (a pasted column: thousands of codes, each line looked up, never compared with each)
    first = find(3, codes, 9) if find is not None else next((ln for ln in f.lines if ln[9] and ln[3] in unknown), None)
    montant = add_up(f.totaux.par_financeur[c] for c in codes)  # exact past 10^18 €, as `combine`
    # each code quoted as the rules quote a value (`q`: a pasted paragraph stays a line), and a few of
    # them: a plan whose financeur column holds hundreds of texts made a message of all of them
    autres = len(codes) - _CODES_SAID
    liste = ", ".join(map(q, codes[:_CODES_SAID])) + (
        f" et {fmt_number(autres)} autre{'s' if autres > 1 else ''}" if autres > 0 else "")
    pluriel = len(codes) > 1
    return Finding(
        code="CON-05", gravite=Gravite.AVERTISSEMENT,
        feuille=first[11] or "" if first else "", cellule=f.financeur_cell(first[12] or "") if first else "",
        action=str(first[0] or "") if first else "",
        message=f"Code{'s' if pluriel else ''} de financeur absent{'s' if pluriel else ''} de la liste de "
                f"référence : {liste} ({fmt_euros(montant)}) : le montant est regroupé sous « {CODE_INCONNU} » "
                "dans la consolidation.",
        suggestion="Employez le code de référence du financeur (feuille Financeurs), ou signalez ce financeur au "
                   "référent départemental.",
    )


# ------------------------------------------------------------------ across files
def _validated_on(f: FileSummary) -> date | None:
    """The date a workbook was validated: none for one « non validé » — its date is that of a validation
    that found errors (« Erreurs à corriger », or a copy written by `valider --annoter`), which validated
    nothing."""
    return f.date_validation if f.etat in (ETAT_VALIDE, ETAT_MODIFIE) else None


def _rank(f: FileSummary) -> tuple:
    # a copy annotated with its errors then left in the folder outranked, by that date, the commune's
    # workbook corrected since and not yet validated: stale figures counted
    return (f.etat == ETAT_VALIDE, _validated_on(f) or date.min, f.mtime, f.rel)


def con01_doublons(files: Sequence[FileSummary], eligible: Sequence[int]) -> dict[int, Finding]:
    """CON-01 E: several workbooks for one `acv_id` → a finding for each one not kept (index → finding)."""
    groups: dict[str, list[int]] = {}
    for i in eligible:
        key = norm_id(files[i].acv_id)
        if key:
            groups.setdefault(key, []).append(i)
    out: dict[int, Finding] = {}
    for key, idx in groups.items():
        if len(idx) < 2:
            continue
        kept = max(idx, key=lambda i: _rank(files[i]))
        k = files[kept]
        for i in idx:
            if i == kept:
                continue
            # a copy of the same date of modification (a zip's files, a folder copied keeping dates): kept by
            # name only, never « le plus récemment modifié », which would send the user to the wrong copy; an
            # older third copy is told the truth about itself, not « les copies ont la même date »
            tie = _rank(files[i])[:3] == _rank(k)[:3]
            pourquoi = (
                f"validé le {fmt_date(k.date_validation)}" if _validated_on(k) and k.etat == ETAT_VALIDE
                else f"validé le {fmt_date(k.date_validation)} puis modifié" if _validated_on(k)
                else "retenu d'après son nom : les copies ont la même date de modification" if tie
                else "le plus récemment modifié"
            )
            out[i] = _finding(
                files[i], "CON-01", Gravite.ERREUR, "acv_id",
                f"Doublon : la convention {files[i].acv_id} figure aussi dans « {shown_file(k.rel)} » ({pourquoi}), "
                "qui est le classeur retenu ; le présent fichier n'est pas compté.",
                "Retirez l'ancienne version du dossier, ou, s'il s'agit d'une autre convention, corrigez "
                "l'identifiant de la convention (feuille Projet).",
            )
    return out


MOTIF_ERREURS = "classeur avec erreurs"  # not counted under `--sans-erreurs`


def judge(files: Sequence[FileSummary], departement: str | None = None, sans_erreurs: bool = False) -> list[Verdict]:
    """Every CON rule over the batch: one verdict per file, in the order given.

    `sans_erreurs`: a workbook with an error finding of its own is not counted (« classeur avec
    erreurs »), before the duplicates are resolved (the kept copy is then one with no error)."""
    verdicts = [Verdict(compte=True) for _ in files]
    eligible: list[int] = []
    for i, f in enumerate(files):
        v = verdicts[i]
        if f.ignore:
            v.compte, v.motif = False, f.ignore
            continue
        if (fd := con03_illisible(f)) is not None:
            v.compte, v.motif = False, "illisible"
            v.findings.append(fd)
            continue
        if (fd := con04_departement(f, departement)) is not None:
            v.compte, v.motif = False, "autre département"
            v.findings.append(fd)
        elif sans_erreurs and f.nb_erreurs:
            v.compte, v.motif = False, MOTIF_ERREURS
        else:
            eligible.append(i)
        if (fd := con02_validation(f)) is not None:
            v.findings.append(fd)
    for i, fd in con01_doublons(files, eligible).items():
        verdicts[i].compte, verdicts[i].motif = False, "doublon"
        verdicts[i].findings.insert(0, fd)
    for f, v in zip(files, verdicts):
        if v.compte and (fd := con05_financeur_inconnu(f)) is not None:
            v.findings.append(fd)
    return verdicts
