"""Validation of one convention or one file: findings, totals, fingerprint, state, exit status.

`validate_file` never raises for a bad file: an unreadable or unsupported file becomes one
STR-01/STR-02 finding (exit status 2), a file that is no convention (a report of acv-xl, another
workbook) one STR-11 finding (exit status 2); an unexpected failure of the reader is reported as STR-01
too (the file could not be read, whatever the reason); a rule that crashes becomes STR-00
(see `acv_xl.checks.rules.run_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import localcontext
from pathlib import Path
from typing import Any, Callable

from acv_xl.checks import findings as fnd
from acv_xl.checks import totals
from acv_xl.checks.findings import Finding, Gravite
from acv_xl.contract import layout
from acv_xl.contract.model import Convention
from acv_xl.contract.reference import Reference
from acv_xl.reading.errors import UnreadableWorkbook

ETAT_VALIDE = "validé"
ETAT_MODIFIE = "modifié depuis la validation"
# « non validé », the template's own word (`acv_statut`): no validation without error is recorded
# (never validated, or « Erreurs à corriger ») — « jamais » would be untrue after a failed one
ETAT_JAMAIS = "non validé"
ETAT_ILLISIBLE = "illisible"
STATUT_VALIDE = layout.L.STATUT_VALIDATION[1]  # "Validé"
# The état as a cell or a line shows it (consolidation, historique, annex): the template's words
ETAT_LIBELLE = {
    ETAT_VALIDE: STATUT_VALIDE,
    ETAT_MODIFIE: "Modifié depuis la validation",
    ETAT_JAMAIS: layout.L.STATUT_VALIDATION[0],  # « Non validé »
    ETAT_ILLISIBLE: "Illisible",
}


@dataclass
class Report:
    fichier: str
    convention: Convention | None
    findings: list[Finding] = field(default_factory=list)
    totaux: totals.Totaux | None = None
    empreinte: str | None = None  # fingerprint of the data read
    empreinte_stockee: str | None = None  # `acv_empreinte` found in the workbook
    etat: str = ETAT_JAMAIS
    # « modifié depuis la validation »: the changes since, from the data kept at validation
    # (`since_validation`), or why they cannot be listed
    depuis_validation: Any = None  # comparison.Comparison
    depuis_validation_motif: str | None = None

    @property
    def valide(self) -> bool:
        return not fnd.has_errors(self.findings)

    @property
    def exit_code(self) -> int:
        if self.convention is None or self.etat == ETAT_ILLISIBLE:
            return 2
        return 0 if self.valide else 1

    @property
    def resume(self) -> dict[str, int]:
        return fnd.count(self.findings)


def etat_of(conv: Convention, empreinte: str) -> tuple[str, str | None]:
    """(état, stored fingerprint): `validé` only when the stored fingerprint matches the data and
    the status says `Validé`; `modifié depuis la validation` whenever a stored fingerprint differs.
    (`validate_convention` then takes `validé` back from a workbook that has an error now.)"""
    stored = conv.value("acv_empreinte")
    stored = str(stored).strip() if stored not in (None, "") else None
    if stored is None:
        return ETAT_JAMAIS, None
    if stored.lower() != empreinte:
        return ETAT_MODIFIE, stored
    if conv.value("acv_statut") == STATUT_VALIDE:
        return ETAT_VALIDE, stored
    return ETAT_JAMAIS, stored


def _internal_failure(what: str, exc: Exception) -> Finding:
    return Finding(code="STR-00", gravite=Gravite.ERREUR,
                   message=f"Contrôle interne en échec : {what} (détail technique pour "
                           f"l'assistance : {type(exc).__name__}).",
                   suggestion="Signalez l'anomalie à l'équipe acv-xl en joignant le classeur.")


def validate_convention(conv: Convention, fichier: str = "", reference: Reference | None = None,
                        longest_text: int | None = None) -> Report:
    """Rules, totals, fingerprint and état of a convention already read. Never raises on bad data:
    a crash of a rule, of the totals or of the fingerprint becomes a STR-00 error (the dossier was
    not fully checked, so it cannot be « Validé »).
    `reference`: the national list of the programme's communes; default: the list in use
    (`acv_xl.contract.reference.current()`, which raises `ReferenceInvalide` when the file named by
    `ACV_XL_REFERENCE` is unusable: a misuse, not a bad workbook).
    `longest_text`: a bound above the length of every text of `conv` as it is (`read_file_bounded`), or None."""
    report = _validate(conv, fichier, reference, longest_text)
    if report.totaux is None or not totals.beyond_default(report.totaux):
        return report
    context = totals.exact_context(conv)
    if context is None:
        return report
    with localcontext(context):  # past it, once more with the digits every sum needs (`exact_context`)
        return _validate(conv, fichier, reference, longest_text)


def _validate(conv: Convention, fichier: str, reference: Reference | None, longest_text: int | None) -> Report:
    from acv_xl.contract.reference import current
    from acv_xl.checks.fingerprint import fingerprint
    from acv_xl.checks.rules import Index, run_rules, sort_key

    # the non-empty rows, found once for the rules and the fingerprint
    index = Index(conv, reference if reference is not None else current(), longest_text)
    found: list[Finding] = run_rules(conv, shared=index)
    n_sorted = len(found)  # run_rules returns them sorted: to sort again only if more come
    try:
        empreinte: str | None = fingerprint(conv, index.rows)
        etat, stored = etat_of(conv, empreinte)
    except Exception as exc:  # noqa: BLE001
        found.append(_internal_failure("l'empreinte des données n'a pas pu être calculée", exc))
        empreinte, etat, stored = None, ETAT_JAMAIS, None
    try:
        tot: totals.Totaux | None = totals.compute(conv)
    except Exception as exc:  # noqa: BLE001
        found.append(_internal_failure("les totaux n'ont pas pu être calculés", exc))
        tot = None
    if etat == ETAT_VALIDE and fnd.has_errors(found):
        # the data validated, but the workbook no longer passes (a sheet deleted, which no fingerprint
        # covers; a date now past): « validé » above « 1 erreur bloque la validation » — « Valider » writes
        # « Erreurs à corriger » and empties the fingerprint on such a workbook, so it is « non validé »
        etat = ETAT_JAMAIS
    return Report(
        fichier=fichier or conv.fichier or "",
        convention=conv,
        findings=found if len(found) == n_sorted else sorted(found, key=sort_key),
        totaux=tot,
        empreinte=empreinte,
        empreinte_stockee=stored,
        etat=etat,
    )


# Both causes said: nothing in the workbook tells a validation by a version that kept no data from
# a hidden sheet deleted since (by hand, or by a program that drops hidden sheets)
# (the cause, then the remedy of `valider`; `annexe --depuis-validation` gives its own remedy)
SNAPSHOT_ABSENT_CAUSE = ("les données de la dernière validation ne sont pas conservées dans ce classeur (feuille "
                         "masquée « {sheet} » supprimée, ou classeur validé par une version d'acv-xl qui ne les "
                         "gardait pas)").format(sheet=layout.SNAPSHOT_SHEET)
SNAPSHOT_DAMAGED_CAUSE = ("les données de la dernière validation conservées dans le classeur (feuille masquée "
                          "« {sheet} ») sont endommagées ou ne correspondent pas à son empreinte").format(
                              sheet=layout.SNAPSHOT_SHEET)
SNAPSHOT_ABSENT = f"{SNAPSHOT_ABSENT_CAUSE} : comparez-le à une copie validée avec « acv-xl comparer »."
SNAPSHOT_DAMAGED = f"{SNAPSHOT_DAMAGED_CAUSE} : comparez-le à une copie validée avec « acv-xl comparer »."


def validated_data(report: Report, snapshot_cells: Callable[[], list | None]) -> tuple[Convention | None, str]:
    """(the convention as it was validated, kept in the workbook's hidden sheet, "") or (None, the French
    cause, without remedy: `SNAPSHOT_ABSENT_CAUSE`, `SNAPSHOT_DAMAGED_CAUSE`). Trusted only when its own
    fingerprint is the one stored at validation (Accueil): a hidden sheet edited since is never taken for
    the validated data. `snapshot_cells()` gives the sheet's column A (None: no sheet)."""
    from acv_xl.checks.fingerprint import fingerprint
    from acv_xl.reading.snapshot import SnapshotError, decode

    try:
        got = decode(snapshot_cells() or [])
    except SnapshotError:
        return None, SNAPSHOT_DAMAGED_CAUSE
    if got is None:
        return None, SNAPSHOT_ABSENT_CAUSE
    validated, _ = got
    if fingerprint(validated) != (report.empreinte_stockee or "").strip().lower():
        return None, SNAPSHOT_DAMAGED_CAUSE
    return validated, ""


def since_validation(report: Report, snapshot_cells: Callable[[], list | None]) -> Report:
    """When the fingerprint says « modifié depuis la validation », list what changed since, from
    the data kept at validation (hidden sheet, `reading.snapshot`). The fingerprint stays the judge
    of « modified »: the snapshot only explains it, and is trusted only when its own fingerprint is
    the one stored at validation. `snapshot_cells()` gives the sheet's column A (None: no sheet)."""
    if report.etat != ETAT_MODIFIE or report.convention is None:
        return report
    from acv_xl.checks.comparison import compare

    validated, cause = validated_data(report, snapshot_cells)
    if validated is None:
        report.depuis_validation_motif = SNAPSHOT_ABSENT if cause == SNAPSHOT_ABSENT_CAUSE else SNAPSHOT_DAMAGED
        return report
    report.depuis_validation = compare(validated, report.convention, totaux_apres=report.totaux)
    return report


def file_snapshot_cells(path: Path) -> list | None:
    """Column A of a workbook file's hidden sheet of validated data (None: no such sheet); a sheet that
    cannot be read is given as damaged (`validated_data` says so), never raised."""
    try:
        return _file_snapshot(path)
    except Exception:  # noqa: BLE001 — the file was read a moment ago; its hidden sheet is damaged
        from acv_xl.reading.snapshot import PREFIX

        return [PREFIX + "!"]  # read as « damaged »


def _file_snapshot(path: Path) -> list | None:
    from acv_xl.reading.snapshot import read_cells
    from acv_xl.reading.source_file import FileSource

    with FileSource(path) as source:
        return read_cells(source)


def unreadable(fichier: str, code: str, message: str, suggestion: str = "") -> Report:
    return Report(fichier=fichier, convention=None,
                  findings=[Finding(code=code, gravite=Gravite.ERREUR, message=message, suggestion=suggestion)],
                  etat=ETAT_ILLISIBLE)


def inaccessible(fichier: str, exc: OSError) -> Report:
    """The report of a file the system would not let us read (STR-01): its reason in French, never
    the system's English (« Permission denied », « Input/output error »)."""
    from acv_xl.contract.system_errors import os_error_text
    from acv_xl.reading.errors import file_text, shown_file

    return unreadable(fichier, "STR-01",
                      f"Le fichier « {shown_file(file_text(Path(fichier).name))} » ne peut pas être lu : {os_error_text(exc)}.",
                      "Vérifiez que le fichier est accessible (droits de lecture, support ou partage réseau "
                      "connecté, fichier fermé dans les autres programmes), puis relancez.")


def validate_file(path: Path | str, reference: Reference | None = None, depuis_validation: bool = False,
                  data: bytes | None = None) -> Report:
    """Read and validate one workbook; never raises for a bad file (STR-01/02, exit status 2).
    `reference`: as for `validate_convention`. `depuis_validation`: when « modifié depuis la
    validation », also list what changed since (`since_validation`; `valider` asks, a consolidation
    of a whole département does not). `data`: the file's content, when the caller has read it
    already (`read_file_bounded`)."""
    fichier = str(path)
    path = Path(path)
    try:
        from acv_xl.reading.read import read_file_bounded

        conv, longest_text = read_file_bounded(path, data)
    except UnreadableWorkbook as exc:
        return unreadable(fichier, exc.code, exc.message, exc.suggestion)
    except FileNotFoundError:
        return unreadable(fichier, "STR-01", f"Fichier introuvable : {fichier}.",
                          "Vérifiez le chemin et le nom du fichier.")
    except IsADirectoryError:
        return unreadable(fichier, "STR-01", f"{fichier} est un dossier, pas un classeur.",
                          "Indiquez un fichier .xlsx.")
    except PermissionError:
        return unreadable(fichier, "STR-01", f"Accès refusé au fichier {fichier}.",
                          "Vérifiez les droits de lecture, ou fermez le fichier s'il est ouvert par un autre utilisateur.")
    except OSError as exc:  # a disk or share gone, too many open files, a name too long…
        return inaccessible(fichier, exc)
    except ImportError:
        raise  # a broken installation is not a bad file
    except Exception as exc:  # noqa: BLE001 — a reader crash on a damaged file is still « illisible »
        return unreadable(fichier, "STR-01",
                          f"Le fichier n'a pas pu être lu : il est probablement endommagé (détail technique pour "
                          f"l'assistance : {type(exc).__name__}).",
                          "Ouvrez le fichier dans Excel et enregistrez-le à nouveau au format .xlsx, ou repartez d'une copie saine.")
    report = validate_convention(conv, fichier, reference, longest_text)
    for f in report.findings:
        if f.code == "STR-11":  # not a convention (an annex, a consolidation, another workbook): only that
            return unreadable(fichier, f.code, f.message, f.suggestion)
    if depuis_validation and report.etat == ETAT_MODIFIE:  # read again only then: the validated data
        since_validation(report, lambda: file_snapshot_cells(path))
    return report
