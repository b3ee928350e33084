"""`consolider … --par-financeur DOSSIER`: one workbook per financeur present (`financeur_ETAT.xlsx` …).

What the Banque des Territoires, Action Logement or the Anah ask the référent before a comité:
every counted line of that financeur across the département's counted conventions, with the
action's context (convention, intitulé, maître d'ouvrage, maturité, cost), and its totals per
convention, année and statut. Codes outside the reference list share one extract, « code inconnu »
(CON-05), as they share one column of the consolidation.

Each extract carries the consolidated workbook's custom property: a later `consolider` over a
folder holding it lists it as ignored, never reads it as a convention. And its département
(`provenance.extract_departement`): a run replaces or removes only the extracts of its own
département — `--departement 59` over the 62's extracts is refused, never their silent loss.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
from collections import defaultdict
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, Sequence

from acv_xl.checks.rules.consolidation import CODE_INCONNU, financeur_groupe, norm_departement
from acv_xl.checks.totals import ZERO
from acv_xl.contract import layout
from acv_xl.contract.system_errors import resolved
from acv_xl.outputs import page_layout
from acv_xl.outputs.atomic import OutputError, atomic_write
from acv_xl.outputs.consolidation_result import ConsolidationResult
from acv_xl.outputs.consolidation_workbook import LIGNES_KEYS, SANS_ID, H, _financeur_order, _Writer, gc_paused, write_packed
from acv_xl.outputs.output_guard import EXTRAIT, REMPLACER, Output, check_outputs, mark_xlsxwriter
from acv_xl.reading.provenance import DEPARTEMENT_PROPERTY, TOUS, extract_departement


FEUILLE_LIGNES = "Lignes"
FEUILLE_TOTAUX = "Totaux"
TABLE_LIGNES = "T_LignesFinanceur"
TABLE_PAR_CONVENTION = "T_ParConvention"
TABLE_PAR_ANNEE = "T_ParAnnee"
TABLE_PAR_STATUT = "T_ParStatut"
H_MO = layout.T_ACTIONS.header("maitre_ouvrage")
H_MATURITE = layout.T_ACTIONS.header("maturite")


def file_name(groupe: str) -> str:
    return "financeur_" + re.sub(r"[^0-9A-Za-z_-]+", "_", groupe).strip("_") + ".xlsx"


def _targets(groups, folder: Path) -> list[tuple[str, Path]]:
    """(financeur group, file) of every extract (`groups`: those of `extract_lines`), in the
    consolidated workbook's order."""
    order = _financeur_order(g for g in groups if g != CODE_INCONNU) + ([CODE_INCONNU] if CODE_INCONNU in groups else [])
    return [(g, folder / file_name(g)) for g in order]


def extract_paths(groups, folder: Path) -> list[Path]:
    """The file of every extract `write_extracts` writes (`groups`: those of `extract_lines`)."""
    return [target for _, target in _targets(groups, folder)]


def extracts_problem(result: ConsolidationResult, folder: Path, inputs: Sequence[Path], replace: bool,
                     others: Sequence[Output] = (), groups: dict[str, list[list[Any]]] | None = None,
                     input_ids: dict[Any, tuple[int, int] | None] | None = None) -> str | None:
    """Why the extracts may not be written (French), or None: the rules of every output
    (`output_guard`): never a workbook read, never over a file that is not an acv-xl report unless
    `--remplacer`, never one of the command's `others` outputs (`-o financeur_ETAT.xlsx` in that
    folder: the consolidation, written first, replaced by an extract). A folder that does not exist
    yet holds nothing to lose: it is created. `groups`: `extract_lines(result)`, if made already.
    `inputs`: the files found, resolved (`consolider`'s walk); `input_ids`: their (device, inode) if
    looked up already (`output_guard.check_outputs`): each was resolved and looked up a second time."""
    if not folder.is_dir():
        return None
    outputs = [*others, *(Output(target, (".xlsx",), "--par-financeur", EXTRAIT)
                          for _, target in _targets(extract_lines(result) if groups is None else groups, folder))]
    if problem := check_outputs(inputs, outputs, replace=replace, resolved=True, input_ids=input_ids):
        return problem if replace else replace_would_also(problem, inputs, outputs, result.departement, folder,
                                                          input_ids)
    return None if replace else other_departement_problem(result, folder)


def _departement_of(result: ConsolidationResult) -> str:
    """What a run's extracts record as their département: `--departement`'s code, else `TOUS`."""
    return result.departement or TOUS


def _said(departement: str | None) -> str:
    if departement == TOUS:
        return "d'une consolidation de tous les départements (sans --departement)"
    return f"du département {departement}" if departement else "dont le département ne se lit pas"


class ExtractsOfAnother(Exception):
    """Another département's extracts found in the folder once this run holds it (`extracts_lock`):
    written by another run since this one checked (it held the folder while this one waited for it).
    The message says so; this run's workbook is written, its extracts are not."""


def other_departement_problem(result: ConsolidationResult, folder: Path, waited: bool = False) -> str | None:
    """Why this run may not replace nor remove the extracts found in `folder` (French), or None: some
    are of another département than this run's. The 59's run over the folder of the 62's extracts
    replaced every financeur the two share and removed the others as « d'une consolidation
    précédente » — the 62's extracts lost with one line said. An extract of the same département is
    a previous comité's: replaced, as before. A run without `--departement` (a région's) and a
    département's are two: neither replaces the other's. An extract whose département cannot be read
    (its properties removed by hand) is kept too: nothing says it is this run's.
    `waited`: asked again under the lock (another run wrote them meanwhile): the sentence is then the
    error that `consolidation._written_before` completes with what is written and the way out."""
    mine = _departement_of(result)
    if not (found := _of_others(mine, folder)):
        return None
    n = sum(map(len, found.values()))
    parts = _parts(found)
    them = "les" if n > 1 else "le"
    run = "de tous les départements (sans --departement)" if mine == TOUS else f"du département {mine}"
    where = (f"une autre consolidation a écrit dans le dossier --par-financeur « {folder} », depuis le début de "
             "celle-ci," if waited else f"le dossier --par-financeur « {folder} » contient")
    said = f"{where} {' et '.join(parts)} : cette consolidation {run} ne {them} remplace ni ne {them} supprime"
    return said + "." if waited else f"{said}, et rien n'est écrit. {way_out(result, folder, n)}."


def _of_others(mine: str, folder: Path) -> dict[str | None, list[str]]:
    """The extracts in `folder` of another département than `mine` (`_departement_of`), by theirs
    (None: not read), each by its name."""
    found: dict[str | None, list[str]] = defaultdict(list)
    if not folder.is_dir():
        return found
    from acv_xl.reading.provenance import produced_by

    named = _extract_names()
    for p in sorted(folder.glob("financeur_*.xlsx")):
        if p.name not in named or not p.is_file() or produced_by(p) != EXTRAIT:
            continue
        theirs = extract_departement(p)
        if theirs is None or norm_departement(theirs) != norm_departement(mine):
            found[None if theirs is None else theirs if theirs == TOUS else norm_departement(theirs)].append(p.name)
    return found


def _parts(found: dict[str | None, list[str]]) -> list[str]:
    """« 12 extraits par financeur du département 62 (financeur_AL.xlsx, … et 7 autres) », per département."""
    parts = []
    for d, names in found.items():
        shown = ", ".join(names[:5]) + (f" et {len(names) - 5} autre{'s' if len(names) > 6 else ''}"
                                        if len(names) > 5 else "")
        parts.append(f"{len(names)} extrait{'s' if len(names) > 1 else ''} par financeur {_said(d)} ({shown})")
    return parts


def replace_would_also(problem: str, inputs: Sequence[Path], outputs: Sequence[Output], departement: str | None,
                       folder: Path, input_ids: dict[Any, tuple[int, int] | None] | None = None) -> str:
    """`problem`, the refusal of `outputs` without `--remplacer` (`check_outputs`), and, when that option
    would lift it, the other département's extracts in `folder` it would replace too (`replaced_too`):
    said of the refusal of `-o` or `--json` (`consolidation.consolidate`) and of an extract's alike."""
    if check_outputs(inputs, outputs, replace=True, resolved=True, input_ids=input_ids) is None \
            and (also := replaced_too(departement, folder)):
        return f"{problem} {also}"
    return problem


def replaced_too(departement: str | None, folder: Path) -> str | None:
    """What `--remplacer`, asked for another output (`-o`, `--json`), would replace too in the
    `--par-financeur` folder (French), or None: another département's extracts, which the refusal of
    that output alone left unsaid — `--remplacer` added to overwrite it then replaced and removed
    them without a word. `departement`: the run's `--departement` (its code as every output writes it)."""
    if not (found := _of_others(departement or TOUS, folder)):
        return None
    return (f"Attention : --remplacer remplacerait ou supprimerait aussi, dans le dossier --par-financeur "
            f"« {folder} », {' et '.join(_parts(found))} ; pour les garder, écrivez les extraits de cette consolidation dans un "
            "autre dossier.")


def way_out(result: ConsolidationResult, folder: Path, n: int = 2, again: bool = False) -> str:
    """What to do of another département's extracts in `folder` (`n` of them): a folder per département,
    or `--remplacer`. `again`: said of a run whose workbook is written (« relancez-la … »)."""
    mine = _departement_of(result)
    whose = "ces extraits" if n > 1 else "cet extrait"
    if again:
        apart = (f"un dossier d'extraits à elle (par exemple --par-financeur « {folder / mine} »)" if mine != TOUS
                 else "un autre dossier d'extraits")
        return f"relancez-la avec {apart}, ou avec {REMPLACER} pour remplacer {whose}"
    apart = (f"par exemple --par-financeur « {folder / mine} »" if mine != TOUS
             else "un autre pour cette consolidation")
    return (f"Écrivez les extraits de chaque département dans son propre dossier ({apart}), ou ajoutez "
            f"{REMPLACER} pour remplacer {whose} par ceux de cette consolidation")


def extract_lines(result: ConsolidationResult) -> dict[str, list[list[Any]]]:
    """financeur (or « code inconnu ») → its counted lines as extract rows (the `Lignes` columns).
    A line with no financeur belongs to no extract: the consolidation shows it as « non ventilé »."""
    out: dict[str, list[list[Any]]] = defaultdict(list)
    groupes: dict[str, str] = {}  # financeur code → its extract, asked once per code
    for f in result.counted:
        actions = {a[0]: a for a in f.actions if a[0]}
        communes = " ; ".join(f.communes)
        for (numero, intitule, axe, financeur, dispositif, nature, annee, montant, statut, compte, _motif,
             _feuille, _cellule) in f.lines:
            if not compte or not financeur:  # a line with no financeur is in no one's extract (« non ventilé »)
                continue
            a = actions.get(numero)
            groupe = groupes.get(financeur)
            if groupe is None:
                groupe = groupes[financeur] = financeur_groupe(financeur)
            out[groupe].append([
                f.acv_id or SANS_ID, f.libelle, numero, intitule, axe,
                a[3] if a else None, a[4] if a else None, a[5] if a else None,
                financeur, dispositif, nature, annee, montant, statut, communes,
            ])
    return out


_ANNEE, _MONTANT, _STATUT = 11, 12, 13  # in an extract's row (`extract_lines`)


class _ExtractWriter(_Writer):
    def __init__(self, wb, result: ConsolidationResult, groupe: str, rows: list[list[Any]], packer=None):
        super().__init__(wb, result, packer)
        self.groupe = groupe
        self.rows = rows
        nom = layout.nom_financeur(groupe, result.departements)
        self.nom = f"{nom} ({groupe})" if nom else "codes de financeur absents de la liste de référence"

    def sheet(self, name: str, titre: str, landscape: bool = True):
        ws = super().sheet(name, titre, landscape)
        ws.set_header(f"&L&\"-,Bold\"{name} — {self.groupe}&RAction Cœur de Ville")
        return ws

    def footer_label(self, ws) -> str:
        return f"{ws.name} — extrait {self.groupe}"

    def footer_date(self) -> str:
        return page_layout.generated_on(self.r.genere_le, masculine=True)  # l'extrait

    def lignes(self) -> None:
        ws = self.sheet(FEUILLE_LIGNES, f"Lignes de financement — {self.nom}")
        tf = layout.T_FINANCEMENTS
        # the names wrap, in rows sized to them: the document a financeur receives printed them cut
        # at their column's edge (an intitulé, a maître d'ouvrage over the maturité beside it)
        long = "texte_long"
        # the convention and the action first, frozen and printed on each page across (`LIGNES_KEYS`):
        # after the identifier alone, the montants' page did not say which action they were of
        cols = [(H.ACV_ID, 12, None), (H.LIBELLE, 22, long), (tf.header("numero"), 9, None),
                (H.INTITULE, 32, long), (H.AXE, 6, None), (H_MO, 22, long), (H_MATURITE, 13, None),
                (H.COUT, 16, "euros"), (tf.header("financeur"), 11, None), (tf.header("dispositif"), 20, long),
                (tf.header("nature"), 14, long), (tf.header("annee"), 8, None), (tf.header("montant"), 16, "euros"),
                (tf.header("statut"), 12, None), (H.COMMUNES, 22, long)]
        total = sum(map(itemgetter(_MONTANT), self.rows), ZERO)
        self.table(ws, TABLE_LIGNES, cols, self.rows, {_MONTANT: total}, freeze_cols=LIGNES_KEYS)

    def totaux(self) -> None:
        ws = self.sheet(FEUILLE_TOTAUX, f"Totaux — {self.nom}", landscape=False)
        total = sum(map(itemgetter(_MONTANT), self.rows), ZERO)
        par_conv: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
        par_annee: dict[str, Decimal] = defaultdict(lambda: ZERO)
        par_statut: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for r in self.rows:
            par_conv[(r[0], r[1])] += r[_MONTANT]
            par_annee[str(r[_ANNEE]) if r[_ANNEE] is not None else "(sans année)"] += r[_MONTANT]
            par_statut[r[_STATUT] or "(sans statut)"] += r[_MONTANT]
        part = lambda v: (v / total) if total else None  # noqa: E731
        row = 2
        statuts = list(layout.L.STATUT)
        tables = [
            ("Par convention", TABLE_PAR_CONVENTION, [(H.ACV_ID, 12, None), (H.LIBELLE, 30, "texte_long")],
             [[k[0], k[1], v, part(v)] for k, v in par_conv.items()]),
            ("Par année", TABLE_PAR_ANNEE, [(layout.T_FINANCEMENTS.header("annee"), 12, None)],
             [[k, v, part(v)] for k, v in sorted(par_annee.items())]),
            ("Par statut", TABLE_PAR_STATUT, [(layout.T_FINANCEMENTS.header("statut"), 12, None)],
             [[k, v, part(v)] for k, v in sorted(par_statut.items(),
                                                 key=lambda kv: (statuts.index(kv[0]) if kv[0] in statuts else 99))]),
        ]
        # The three tables share the sheet's columns and each sets their widths: every one gets the
        # widest of each column, so that none narrows another's (the libellés, sized for 30
        # characters, were printed in the 18 of the next table's totals, over the line below)
        cols_of = [head + [(H.TOTAL, 18, "euros"), (H.PART, 10, "pourcent")] for _t, _n, head, _i in tables]
        widest: dict[int, float] = {}
        for cols in cols_of:
            for j, (_h, w, _f) in enumerate(cols):
                widest[j] = max(widest.get(j, 0), w)
        for (titre, name, head, items), cols in zip(tables, cols_of):
            if row > 2:
                ws.write_string(row - 1, 0, titre, self.fmt["titre"])
            else:
                ws.write_string(0, 0, f"Totaux — {self.nom} — {titre.lower()}", self.fmt["titre"])
            cols = [(h, widest[j], f) for j, (h, _w, f) in enumerate(cols)]
            n = len(head)
            _, last = self.table(ws, name, cols, items, {n: total}, first_row=row)
            row = last + 3

    def write(self) -> None:
        self.lignes()
        self.totaux()
        d = f"département {self.r.departement}" if self.r.departement else "consolidation"
        self.wb.set_properties({"title": f"Extrait par financeur — {self.nom}", "subject": d, "author": "acv-xl"})
        mark_xlsxwriter(self.wb, EXTRAIT)  # a derived report: replaced by the next run, never counted
        # its département, read by the next run (`other_departement_problem`) rather than the subject's words
        self.wb.set_custom_property(DEPARTEMENT_PROPERTY, _departement_of(self.r))


def write_extracts(result: ConsolidationResult, folder: Path,
                   groups: dict[str, list[list[Any]]] | None = None) -> list[Path]:
    """One workbook per financeur present in the counted lines; the paths written. `groups`:
    `extract_lines(result)`, if made already."""
    if groups is None:
        groups = extract_lines(result)
    targets = _targets(groups, folder)
    folder.mkdir(exist_ok=True)
    written = []
    for g, target in targets:
        @gc_paused()
        def _write(tmp: Path, g=g) -> None:
            # written as the consolidated workbook is: its tables' rows compressed ahead
            write_packed(tmp, {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
                         lambda wb, packer: _ExtractWriter(wb, result, g, groups[g], packer).write())

        atomic_write(target, _write)
        written.append(target)
    return written


VERROU = ".acv-xl-extraits.verrou"  # in the extracts' folder while a run writes them (then removed)
ATTENTE = 30.0  # seconds a run waits for another one to finish writing its extracts


class ExtractsBusy(Exception):
    """Another run has been writing its extracts in the folder for longer than `ATTENTE`."""


_HELD = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, errno.EDEADLK}  # another process holds the lock


def _try_lock(fd: int) -> bool | None:
    """An exclusive lock on the open file `fd`, without waiting; released by the system when the
    process ends, however it ends (a run killed leaves no lock behind). False when another process
    holds it; None when the file system has no locks (some network shares): the extracts are then
    written unguarded, as they were before — never refused for want of a lock."""
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return False if exc.errno in _HELD else None
    return True


def _open_lock(path: Path) -> int:
    """The lock file, opened to be locked. Another user's (a colleague's run on a shared folder, still
    writing or killed before it could remove the file) may be readable only: a lock needs no more, and
    this run then waits for that run or takes the lock it left — it said it could not write the folder."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        try:
            return os.open(path, os.O_RDONLY)
        except OSError:
            pass
        raise


@contextlib.contextmanager
def extracts_lock(folder: Path, wait: float | None = None):
    """Held while a run writes its extracts in `folder` and removes the stale ones: two runs at once
    (two colleagues, a scheduled task) each replaced the extracts one file after the other, and the
    folder was left with some of one run's extracts and some of the other's — two comités mixed,
    nothing to tell them apart but each file's subtitle. The second run waits for the first; past
    `ATTENTE` seconds, `ExtractsBusy`. The lock file is removed after (left only when another run
    has it open at that moment, to be removed by the last)."""
    path = folder / VERROU
    limit = time.monotonic() + (ATTENTE if wait is None else wait)
    while True:
        try:
            folder.mkdir(exist_ok=True)
            fd = _open_lock(path)
        except OSError as exc:  # a folder where one cannot write: said as any output is, of the folder
            raise OutputError(folder, exc) from None  # given (the lock file is none of the user's business)
        locked = _try_lock(fd)
        if locked is None:
            break
        if locked:
            try:  # the file removed by the run that held it before: lock the one now at that name
                if os.name == "nt" or os.path.samestat(os.fstat(fd), os.stat(path)):
                    break
            except FileNotFoundError:
                pass
        os.close(fd)
        if time.monotonic() >= limit:
            raise ExtractsBusy(f"un autre « acv-xl consolider » écrit ses extraits par financeur dans "
                               f"« {folder} » depuis plus de {ATTENTE:.0f} s : cette consolidation n'y écrit pas les "
                               "siens, pour que le dossier ne mêle pas les extraits de deux consolidations.")
        time.sleep(0.2)
    try:
        yield
    finally:
        if os.name != "nt":  # unlocked by `close`; on Windows, the file can only go once closed
            with contextlib.suppress(OSError):
                os.unlink(path)
        elif locked:  # Windows frees a lock left at `close` « in a time that depends on the system »: now
            import msvcrt

            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)
        if os.name == "nt":
            with contextlib.suppress(OSError):  # another run has it open: it removes it
                os.unlink(path)


def _extract_names() -> set[str]:
    """The names an extract is given (`file_name` of a reference code or « code inconnu »)."""
    return {file_name(f.code) for f in layout.FINANCEURS} | {file_name(CODE_INCONNU)}


def own_extracts(folder: Path, files: Sequence[Path]) -> set[Path]:
    """The files found (resolved) that are this folder's extracts of a previous run: named as an
    extract is and carrying acv-xl's extract mark. This run replaces or removes them, as it replaces
    its previous consolidated workbook (`-o`): never read nor refused as « un fichier lu » (a folder of
    extracts kept inside the département's folder stopped every consolidation after the first)."""
    from acv_xl.reading.provenance import EXTRAIT, produced_by

    where = resolved(folder)
    named = _extract_names()
    return {f for f in files if f.parent == where and f.name in named and produced_by(f) == EXTRAIT}


def remove_stale_extracts(folder: Path, written: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The extracts a previous run left in `folder` for a financeur absent from this one (a code
    corrected since, a financeur gone): removed, as a new consolidation replaces the previous one —
    left there, they would pass for this comité's. Only files named as an extract is
    (`financeur_ETAT.xlsx`: `file_name` of a reference code or « code inconnu ») that carry acv-xl's
    extract mark; never another file — a copy the user made of an extract (« financeur_ETAT -
    Copie.xlsx » of Windows's Explorer, « financeur_ETAT copie.xlsx » of macOS's Finder) carries the
    mark too, and may hold the notes added for the financeur. Returns (removed, left): one that cannot be removed
    (open in Excel on Windows) is left and named, the run already written goes on (register)."""
    removed, left = [], []
    for p in stale_extracts(folder, written):
        try:
            p.unlink()
        except OSError:
            left.append(p)
        else:
            removed.append(p)
    return removed, left


def stale_extracts(folder: Path, written: Sequence[Path]) -> list[Path]:
    """The extracts of a previous run in `folder` for a financeur absent from this one, which wrote
    `written` (`remove_stale_extracts`)."""
    from acv_xl.reading.provenance import EXTRAIT, produced_by

    keep = {p.name for p in written}
    named = _extract_names()
    # exactly as named: on a disk that ignores case, « financeur_etat.xlsx » listed (the case of
    # a file it replaced) may be the État's extract just written
    return [p for p in sorted(folder.glob("financeur_*.xlsx"))
            if p.name in named and p.name not in keep and p.is_file() and produced_by(p) == EXTRAIT]
