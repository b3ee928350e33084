"""`acv-xl historique`: the département across comités, read from its register.

Per consolidation, each financeur's total by statut; each convention's financing total, validation
status and findings; between consecutive consolidations, what moved. The pivots are pandas over
the register's tables (imported here only: other commands never pay for pandas).

Choices:
- Only the counted files of each consolidation are the département's state (as in its workbook).
- A financeur code outside the reference list is grouped under « code inconnu », as in `consolider`.
- Lines are matched as `comparer` matches them (evolution.md): by N° action + Financeur +
  Dispositif + Nature + Année, rows sharing a key paired identical ones first, then (after every
  pairing at an equal amount, below) in order; conventions by `acv_id`
  (spaces and case aside). Two consolidations that read the same content of a convention (the
  same analysis in the register) have nothing to compare: only the changed conventions are.
- A movement is one row per changed column (statut, montant — « (illisible) » when the amount no
  longer parses, « (auparavant : illisible) » when it parses again), a line added or removed (« (montant
  illisible) » when its amount does not parse, as either row of the kinds of two rows below), a
  financeur code corrected or mistyped (two rows: the old code's amount out, the new one's in), a
  convention added or removed — or no longer counted, its workbook still in the folder (found by
  its identifier, or by its path when the new version is unreadable), with why, and likewise a
  convention counted again (« désormais comptée », with why it was not), a line re-dated (« Année
  modifiée », two rows like a financeur code corrected), a line given to another action (an action
  split in two, a line moved: « Action modifiée »; likewise « Dispositif modifié », « Nature
  modifiée »; at an equal amount; every pairing at an equal amount first; last, a line given to
  another action at another amount when its financeur, dispositif, nature, année and statut
  single it out among the lines removed and added). Only the amount's
  row has an écart (never counted twice). A code corrected is found by action, dispositif, nature
  and année; among several candidates, lines of equal amounts are paired first. « Engagement
  obtenu » marks the lines that reach `Acquis`, `Engagé` or `Versé` (a new line already so, or one
  passing from another statut).
"""

from __future__ import annotations

import math
import re
import sqlite3
import sys
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any

from acv_xl.checks.rules.consolidation import CODE_INCONNU, financeur_groupe, norm_departement, norm_id
from acv_xl.checks.validate import ETAT_JAMAIS
from acv_xl.contract import layout
from acv_xl.contract.values import fmt_euros, fmt_number, fold
from acv_xl.history.register import (LIGNES_COLUMNS, Register, damaged_error, empty_error, sqlite_why,
                                     stored_actions, stored_line_rows)
from acv_xl.outputs.atomic import atomic_write
from acv_xl.outputs.consolidation_files import UsageError, departement_option
from acv_xl.outputs.consolidation_result import date_of_label, label_shown
from acv_xl.outputs.consolidation_workbook import NON_VENTILE, SANS_ID
from acv_xl.outputs.json_text import indented
from acv_xl.outputs.output_guard import HISTORIQUE, mark_json
from acv_xl.outputs.terminal import file_text
from acv_xl.reading.errors import shown_file

# Kinds of movement (the « Mouvement » column).
CONVENTION_AJOUTEE = "Convention ajoutée"
CONVENTION_RETIREE = "Convention retirée"
# its workbook still there but not counted: « Convention non comptée (illisible) », never « retirée »
CONVENTION_NON_COMPTEE = "Convention non comptée"
# and back: « Convention désormais comptée (auparavant : illisible) », never « ajoutée »
CONVENTION_DESORMAIS_COMPTEE = "Convention désormais comptée"
LIGNE_AJOUTEE = "Nouvelle ligne"
LIGNE_RETIREE = "Ligne retirée"
STATUT_MODIFIE = "Statut modifié"
FINANCEUR_MODIFIE = "Financeur modifié"  # a code corrected (« FEDER » → « UE »): two rows, the old code's and the new's
MONTANT_MODIFIE = "Montant modifié"
# an amount that no longer parses (« six cent mille », a cell emptied), or parses again: said, as the
# consolidated workbook says « montant illisible » — not an amount deleted or set to zero
ILLISIBLE_APRES = " (illisible)"
ILLISIBLE_AVANT = " (auparavant : illisible)"
# a line added or removed as such (not a line of nothing), or either state of a line re-dated, given
# another code, action… (« Année modifiée (montant illisible) »: not an amount lost in the move)
MONTANT_ILLISIBLE = " (montant illisible)"
ANNEE_MODIFIEE = "Année modifiée"  # a line re-dated (2024 → 2025): two rows, the old year's and the new's
# a line given to another action (an action split in two, a line re-assigned): two rows, the old action's and the new's
ACTION_MODIFIEE = "Action modifiée"
# an action (all its fiches) set « Abandonnée », or no longer: its lines move nothing by themselves (they
# stay counted until refused, ACT-13), so a row of its own, without amount — as the avenant's annex says it
ACTION_ABANDONNEE = "Action abandonnée"
ACTION_REPRISE = "Action reprise (n'est plus abandonnée)"
# a commune added to or removed from a convention by an avenant (its « Projet » sheet): no amount, named
COMMUNE_AJOUTEE = "Commune ajoutée"
COMMUNE_RETIREE = "Commune retirée"
DISPOSITIF_MODIFIE = "Dispositif modifié"  # another dispositif (what FIN-21 asks), likewise
NATURE_MODIFIEE = "Nature modifiée"  # another nature, likewise
PERIMETRE_MODIFIE = "Changement de périmètre"  # the column flagging a pair of differing scopes

_MEME_CLE = ""  # a line of the same key whose statut or amount changed: its own rows, of those columns
_CONVENTION_KINDS = (CONVENTION_AJOUTEE, CONVENTION_RETIREE, CONVENTION_NON_COMPTEE, CONVENTION_DESORMAIS_COMPTEE)

ANCIENS_ETATS = {"jamais validé": ETAT_JAMAIS}  # the état's older spelling in a register

_KEY = ("numero", "financeur", "dispositif", "nature", "annee")


@dataclass
class Mouvement:
    avant: int  # consolidation ids
    apres: int
    acv_id: str
    libelle: str | None
    type: str
    numero: str | None = None
    intitule: str | None = None
    financeur: str | None = None
    dispositif: str | None = None
    nature: str | None = None
    annee: int | None = None
    statut_avant: str | None = None
    statut_apres: str | None = None
    montant_avant: float | None = None
    montant_apres: float | None = None
    engagement: bool = False
    # whether the line counts in the totals before / after (a « Refusé » line, or one whose amount
    # did not parse, does not): the écart is what the movement moves in them
    compte_avant: bool = True
    compte_apres: bool = True
    analyse: int | None = None  # a convention's movement: the analysis of its workbook (its lines by financeur)

    @property
    def de_convention(self) -> bool:
        """A whole convention's movement (added, removed, counted or not), not a line's: a line may
        have neither N° action nor financeur code, and still count (under « non ventilé »)."""
        return self.type.startswith(_CONVENTION_KINDS)

    @property
    def ecart(self) -> float | None:
        """What the movement moves in the totals. A statut's row shows the amounts as context only (a
        line whose amount changed too has its own « Montant modifié » row, and the Écart column added
        up counts that change once) — unless the statut makes the line count or stop counting
        (« Refusé »): then it carries the whole change, and the amount's row none. A line leaving the
        totals as its amount became unreadable (« Sollicité » → « Acquis » the same day) leaves them by
        its « Montant modifié (illisible) » row, not by its statut's."""
        avant = (self.montant_avant or 0.0) if self.compte_avant else 0.0
        apres = (self.montant_apres or 0.0) if self.compte_apres else 0.0
        refuse = layout.STATUT_REFUSE
        bascule = self.compte_avant != self.compte_apres and (self.statut_avant == refuse) != (self.statut_apres == refuse)
        if self.type == STATUT_MODIFIE and not bascule:
            return None
        if self.type.startswith(MONTANT_MODIFIE) and bascule:
            return None
        if self.montant_avant is None and self.montant_apres is None and not bascule:
            return None
        if not (self.compte_avant and self.montant_avant is not None) and not (
                self.compte_apres and self.montant_apres is not None):
            return None  # a line counted on neither side (refused): no total moves
        return round(apres - avant, 2)


@dataclass
class Evolution:
    consolidations: Any  # DataFrame: id, date, comite, departement, fichiers, conventions_comptees, financement_total, libelle
    par_financeur_statut: Any  # DataFrame: consolidation_id, financeur, statut, total
    par_convention: Any  # DataFrame: consolidation_id, acv_id, libelle, financement_total, etat, erreurs, avertissements, informations
    mouvements: list[Mouvement] = field(default_factory=list)
    # the analyses whose lines, edited in the register with an SQLite tool, were taken from their sealed summary
    lignes_reprises: list[str] = field(default_factory=list)
    departement: str | None = None  # the runs of this département only (`historique --departement`)
    # analysis → financeur (as grouped) → its counted lines' total: a convention added or removed, by financeur
    par_analyse: dict[int, dict[str, float]] = field(default_factory=dict)
    toutes: int = 0  # how many runs the register holds (more than shown under `departement`)
    # the départements of the conventions counted by the runs shown without `--departement`, as `consolider`
    # titled them (`_departements_lus`)
    departements_lus: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [int(i) for i in self.consolidations["id"]]

    def labels(self) -> dict[int, str]:
        return dict(zip(self.ids, self.consolidations["libelle"]))

    @cached_property
    def perimetres(self) -> dict[int, tuple[str | None, bool]]:
        """consolidation → its scope: (département of `--departement` or None, `--sans-erreurs`)."""
        return {int(i): (d if isinstance(d, str) and d else None, bool(se))
                for i, d, se in self.consolidations[["id", "departement", "sans_erreurs"]].itertuples(index=False)}

    def changement_perimetre(self, avant: int, apres: int) -> str:
        """What differs between the scopes of two consolidations, in French ("" when nothing): their
        conventions « ajoutées » or « retirées » may then only be the filter's doing."""
        (da, sa), (db, sb) = self.perimetres[avant], self.perimetres[apres]
        parts = []
        if da != db:
            parts.append(f"département : {da or 'tous'} → {db or 'tous'}")
        if sa != sb:
            parts.append(f"sans erreurs seulement : {'Oui' if sa else 'Non'} → {'Oui' if sb else 'Non'}")
        return " ; ".join(parts)

    def paires_hors_perimetre(self) -> list[tuple[int, int]]:
        """The consecutive consolidations whose scopes differ."""
        return [(a, b) for a, b in zip(self.ids, self.ids[1:]) if self.changement_perimetre(a, b)]

    @cached_property
    def hors_ordre(self) -> dict[int, int]:
        """consolidation → the one recorded before it whose comité is of a later date (the latest such
        date, and of two runs of that comité the later, as `consolider` names it): a comité recorded late
        (« Comité du 12/06/2026 » after « Comité du 19/06/2026 »). Only
        labels holding a date are placed; the series stays in recording order — each run recorded the
        workbooks as they were that day, not as they were at its comité. Among scopes (`--departement`)
        that meet, as `consolider` says it: in a région's register, the 62's comité of 18/06 recorded after
        the 59's of 19/06 is none, after the région's of 19/06 (every département) one."""

        out: dict[int, int] = {}
        latest: dict[str | None, tuple] = {}  # scope → (date, consolidation) of its latest comité so far
        for i, comite in zip(self.ids, self.consolidations["comite"]):
            d = date_of_label(comite if isinstance(comite, str) else None)
            if d is None:
                continue
            scope = self.perimetres[i][0]
            # the latest comité of a scope meeting this one: the same, or every département on either side
            met = [v for s, v in latest.items() if scope is None or s is None or s == scope]
            if met and d < max(met)[0]:
                out[i] = max(met)[1]
            if scope not in latest or (d, i) >= latest[scope]:
                latest[scope] = (d, i)
        return out

    def hors_ordre_texte(self) -> str:
        """The comités recorded out of the order of their dates, in French ("" when none)."""
        if not self.hors_ordre:
            return ""
        labels = self.labels()

        def nomme(i: int) -> str:  # a label already numbered (two runs for one comité) is not numbered twice
            return f"« {labels[i]} »" + ("" if labels[i].endswith(f"(n° {i})") else f" (n° {i})")

        cas = [f"{nomme(i)} après {nomme(j)}" for i, j in self.hors_ordre.items()]
        return (f"comité{'s' if len(cas) > 1 else ''} enregistré{'s' if len(cas) > 1 else ''} après un comité "
                f"d'une date postérieure : {' ; '.join(cas)}. Les consolidations sont comparées dans l'ordre où "
                "elles ont été enregistrées (chacune a lu les classeurs tels qu'ils étaient ce jour-là), non dans "
                "l'ordre des dates des comités")

    def financeurs(self) -> list[str]:
        """The financeurs present, reference order, then « code inconnu »."""
        present = set(self.par_financeur_statut["financeur"].tolist())  # (one C call, not one per row)
        ordre = [f.code for f in layout.FINANCEURS if f.code in present]
        return ordre + [g for g in (CODE_INCONNU, NON_VENTILE) if g in present]

    def totaux_financeurs(self) -> dict[str, dict[int, float]]:
        """financeur → consolidation → total (0 where absent), to the cent. Made once (`_totaux`): the
        workbook's sheets, the JSON and `finite` each read it — not to be modified."""
        return self._totaux

    @cached_property
    def _totaux(self) -> dict[str, dict[int, float]]:
        df = self.par_financeur_statut
        sums = df.groupby(["financeur", "consolidation_id"])["total"].sum() if len(df) else {}
        return {f: {c: round(float(sums.get((f, c), 0.0)), 2) for c in self.ids} for f in self.financeurs()}

    def statuts_financeurs(self) -> dict[str, dict[int, dict[str, float]]]:
        """financeur → consolidation → statut → total, to the cent; made once, as `totaux_financeurs`."""
        return self._statuts

    @cached_property
    def _statuts(self) -> dict[str, dict[int, dict[str, float]]]:
        out: dict[str, dict[int, dict[str, float]]] = {f: {c: {} for c in self.ids} for f in self.financeurs()}
        for c, f, s, t in self.par_financeur_statut[["consolidation_id", "financeur", "statut", "total"]].itertuples(
                index=False):
            out[f][int(c)][s] = round(float(t), 2)
        return out


def _numbered(comites: list, dates: list, ids: list[int]) -> list[str]:
    """Each run's label as the sheets show it: two runs for one comité (a correction) each keep their
    number — one comité by its label, or by the date it names (« Comité du 15 mars 2026 » and « Comité du
    15/03/2026 »: each its label, never merged). Counted once: a register fed by a scheduled task holds
    thousands of runs, and counting each label among all (`list.count`) took seconds of their square."""
    labels = [_label(c, d) for c, d in zip(comites, dates)]
    keys = [date_of_label(lab) or lab if isinstance(c, str) and c.strip() else lab for lab, c in zip(labels, comites)]
    seen = Counter(keys)
    # a label cut to be shown (recorded before `--comite` was bounded) is numbered too when another is cut
    # alike: two labels differing past the cut (their dates, at the end) read as one comité
    shown = [label_shown(lab) for lab in labels]
    alike = Counter(shown)
    return [s if seen[k] == 1 and alike[s] == 1 else f"{s} (n° {i})" for s, k, i in zip(shown, keys, ids)]


def _groupe(code: str | None) -> str:
    """A financeur code as the évolution shows it: a reference code, « code inconnu », or « non
    ventilé » for a line without one."""
    return NON_VENTILE if code in (None, "") else financeur_groupe(code)


def _label(comite: str | None, date_iso: str) -> str:
    if isinstance(comite, str) and comite.strip():  # pandas reads a NULL as NaN
        return comite.strip()
    d = date_iso[:16]
    return f"Consolidation du {d[8:10]}/{d[5:7]}/{d[0:4]}" + (f" à {d[11:16]}" if d[11:16] else "")


# The columns summed, counted or compared as numbers: SQLite keeps whatever a hand or a tool writes
# in a column declared REAL or INTEGER (« abc » in a total stopped historique with « erreur interne »)
_NUMBERS = {
    "consolidations": ("sans_erreurs", "fichiers", "conventions_comptees", "financement_total"),
    "lignes": ("montant", "compte"),
    "fichiers": ("compte",),
    "conventions": ("financement_total", "erreurs", "avertissements", "informations", "compte"),
}


def _check_numbers(con: sqlite3.Connection, where: str) -> None:
    for table, cols in _NUMBERS.items():
        for col in cols:
            if con.execute(f"SELECT 1 FROM {table} WHERE typeof({col}) NOT IN ('integer', 'real', 'null') "
                           "LIMIT 1").fetchone():
                raise damaged_error(where, f"la colonne « {col} » de la table « {table} » contient autre chose "
                                    "qu'un nombre")


def _check_run_texts(con: sqlite3.Connection, where: str) -> None:
    """Each consolidation's comité and département as text, or none: bytes written there by another tool (a
    BLOB) left the run out of `--departement` without a word, showed it « tous » without it, and its
    comité as an unnamed « Consolidation du … »."""
    for col in ("comite", "departement"):
        if (row := con.execute(f"SELECT id FROM consolidations WHERE typeof({col}) NOT IN ('text', 'null') "
                               "ORDER BY id LIMIT 1").fetchone()) is not None:
            raise damaged_error(where, f"la colonne « {col} » de la table « consolidations » contient autre chose "
                                f"qu'un texte pour la consolidation n° {row[0]} : elle a été modifiée avec un autre "
                                "outil, l'historique ne peut plus s'y fier")


def _check_dates(con: sqlite3.Connection, where: str) -> None:
    """Each consolidation's date as acv-xl writes it (ISO): one typed by hand in another form (« pas
    une date », « 12/06/2026 ») stopped historique with « erreur interne », one before 1900 was written
    as a negative date, which Excel shows « ##### »."""
    for cid, d in con.execute("SELECT id, date FROM consolidations ORDER BY id"):
        try:
            when = datetime.fromisoformat(d)
        except (TypeError, ValueError):
            raise damaged_error(where, "la colonne « date » de la table « consolidations » contient autre chose "
                                "qu'une date au format ISO (2026-06-12T10:00:00)") from None
        if when.year < 1900:  # a year mistyped (1026): a cell of « ##### » in Excel, which has no date before 1900
            raise damaged_error(where, f"la colonne « date » de la table « consolidations » date la consolidation "
                                f"n° {cid} du {when:%d/%m}/{when.year:04d}, avant 1900, qu'un tableur ne sait pas "
                                "représenter")


_KEPT = "consolidation_id IN (SELECT id FROM consolidations)"


def _file(chemin: object) -> str:
    """A file the register recorded (`fichiers.chemin`, kept as it is), named as the consolidation's
    sheets and messages named it (`shown_file`): « arras.xlsx (espace finale) »."""
    return shown_file(file_text(chemin))


def _check_links(con: sqlite3.Connection, where: str) -> None:
    """Each counted convention of a consolidation is one of its counted files, whose analysis is in the
    register — and each counted file one of its counted conventions. acv-xl writes them so together; a
    row deleted or uncounted by hand in one table (a file, its analysis, a convention) left the
    financeurs' totals short of the consolidation's without a word, or the lines of an analysis with
    nothing to check them against."""
    edited = "a été modifiée avec un autre outil, l'historique ne peut plus s'y fier"
    row = con.execute(
        "SELECT c.consolidation_id, c.acv_id, c.libelle, f.id, f.chemin, f.compte, f.consolidation_id, f.analyse_id, "
        "a.id FROM conventions c LEFT JOIN fichiers f ON f.id = c.fichier_id LEFT JOIN analyses a ON a.id = f.analyse_id "
        f"WHERE c.compte = 1 AND c.{_KEPT} AND (f.id IS NULL OR f.compte IS NOT 1 OR f.consolidation_id IS NOT "
        "c.consolidation_id OR f.analyse_id IS NULL OR a.id IS NULL OR a.sha256 IS NOT f.sha256) "
        "ORDER BY c.consolidation_id, c.fichier_id LIMIT 1").fetchone()
    if row is not None:
        cid, acv_id, libelle, fid, chemin, compte, fcid, aid, found = row
        if fid is None:
            acv = file_text(acv_id) if isinstance(acv_id, str) and acv_id.strip() else "sans identifiant"
            lib = f" (« {file_text(libelle)} »)" if isinstance(libelle, str) and libelle.strip() else ""
            raise damaged_error(where, f"la table « fichiers » ne contient plus le fichier de la convention {acv}{lib} "
                                f"que la consolidation n° {cid} a comptée : elle {edited}")
        name = f"« {_file(chemin)} »"
        if compte != 1 or fcid != cid:
            raise damaged_error(where, f"la table « conventions » compte {name} dans la consolidation n° {cid}, la "
                                "table « fichiers » non : l'une ou l'autre a été modifiée avec un autre outil, "
                                "l'historique ne peut plus s'y fier")
        if aid is None:
            raise damaged_error(where, f"la table « fichiers » ne relie plus le fichier {name}, compté par la "
                                f"consolidation n° {cid}, à l'analyse de son contenu : elle {edited}")
        if found is None:
            raise damaged_error(where, f"la table « analyses » ne contient plus l'analyse n° {aid} du fichier {name}, "
                                f"compté par la consolidation n° {cid} : elle {edited}")
        # (each analysis is of one content: the file's, by its SHA-256)
        raise damaged_error(where, f"la table « fichiers » relie le fichier {name}, compté par la consolidation "
                            f"n° {cid}, à l'analyse n° {aid}, d'un autre contenu : l'une ou l'autre table a été "
                            "modifiée avec un autre outil, l'historique ne peut plus s'y fier")
    # (of the same consolidation: checked above; the list built once, never a search per file)
    row = con.execute(
        f"SELECT consolidation_id, chemin FROM fichiers WHERE compte = 1 AND {_KEPT} AND id NOT IN (SELECT "
        "fichier_id FROM conventions WHERE compte = 1) ORDER BY consolidation_id, id LIMIT 1").fetchone()
    if row is not None:
        raise damaged_error(where, f"la table « fichiers » compte « {_file(row[1])} » dans la consolidation "
                            f"n° {row[0]}, la table « conventions » non : l'une ou l'autre a été modifiée avec un "
                            "autre outil, l'historique ne peut plus s'y fier")


def _check_lines(con: sqlite3.Connection, where: str) -> tuple[list[str], dict[int, list[tuple]]]:
    """The financing lines of every analysis counted, as its summary holds them: the table `lignes`
    is what historique adds up, the summary what `consolider` counted and reuses. A line edited with
    an SQLite tool (an amount, a statut, a line deleted) changed the évolution's totals without a
    word — the consolidated workbooks, from the summaries, still said otherwise. When the summary is
    sealed with this user's key (what a workbook said, as `consolider` reuses it), its lines are
    taken instead, for this run only (a temporary `lignes` in front of the register's, which stays
    as it is), and said (the French notices returned): one edited row no longer stops the whole
    history until a backup is restored. Not sealed so (another user's register), the register is
    refused. A summary whose lines match, but which its seal no longer covers (edited with its lines, or
    an action's maturité alone), is said too. A summary of an earlier form, which `consolider` no longer
    reuses, is not compared. Returned with the notices: the lines read of each analysis whose lines are
    taken as the table holds them (`LIGNES_COLUMNS`), which `_lines` then need not read again."""
    from acv_xl.history.register_key import analysis_seal, block_key, key_path

    restored: dict[int, list[tuple]] = {}
    read: dict[int, list[tuple]] = {}  # analysis → its lines as the table holds them (not restored)
    sealed_here: set[int] = set()  # the analyses whose summary this user's key seals
    unsealed: list[int] = []  # and those whose summary, though it matches its lines, it does not
    key: bytes | None | bool = False  # this user's key, once read
    unchecked: list[int] = []  # the analyses whose summary no longer reads: their lines taken unchecked
    uncompared: list[int] = []  # and those of a summary of an earlier form: their lines taken as they are too
    # a register of schema 1 or 2, read as it is (never migrated by historique), has no seals
    sealed = any(col[1] == "controle" for col in con.execute("PRAGMA table_info(analyses)"))
    aids = [a for a, in con.execute(f"SELECT DISTINCT analyse_id FROM fichiers WHERE compte = 1 AND {_KEPT} "
                                    "AND analyse_id IS NOT NULL ORDER BY analyse_id")]
    for i in range(0, len(aids), 500):  # SQLite's limit on bound parameters
        chunk = aids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        expected: dict[int, list[tuple]] = {}
        sealing: dict[int, tuple] = {}  # what its seal covers, checked only for an analysis whose lines differ
        for aid, resume, sha, regles, until, check in con.execute(
                f"SELECT id, resume, sha256, version_regles, valable_jusqu_au, {'controle' if sealed else 'NULL'} "
                f"FROM analyses WHERE id IN ({marks})",
                chunk):
            try:
                expected[aid] = stored_line_rows(resume)
                sealing[aid] = (sha, regles, until, check, resume)
            except (ValueError, TypeError, KeyError, AttributeError):
                # no summary to compare with, the lines as they are: an earlier form (a JSON object, never
                # sealed: the seals came after format 2) — or one edited by hand, said (lines edited with it
                # passed unchecked, without a word; `consolider` reads the file again, and so ignores it)
                if not (check is None and isinstance(resume, str) and resume.startswith("{")
                        and not resume.startswith('{"format":2,')):
                    unchecked.append(aid)
                uncompared.append(aid)
                continue
        found: dict[int, list[tuple]] = defaultdict(list)
        for aid, *row in con.execute(f"SELECT analyse_id, {LIGNES_COLUMNS} FROM lignes WHERE analyse_id IN ({marks}) "
                                     "ORDER BY analyse_id, rang", chunk):
            found[aid].append(tuple(row))
        for aid, rows in expected.items():
            sha, regles, until, check, resume = sealing[aid]
            if key is False:  # read once; never created by historique (on a poste without one, nothing to check)
                key = key_path() is not None and key_path().is_file() and block_key() or None
            # (a last day rewritten as bytes is not as sealed: the seal covers a text, as `lookup_all` reads it)
            good = key is not None and type(check) is int and (until is None or type(until) is str) and analysis_seal(
                key, sha, regles, until, resume.encode("utf-8") if isinstance(resume, str) else resume) == check
            if good:
                sealed_here.add(aid)
            if found.get(aid, []) != rows:
                if not good:
                    raise damaged_error(where, f"{_lignes_said(con, [aid])}, l'historique ne peut plus s'y fier")
                restored[aid] = rows
            elif not good and key is not None:
                # lines and summary alike, yet the summary is not as sealed here: both edited together, an
                # action's maturité in the summary alone (« Action abandonnée », which no table cross-checks),
                # or its seal cleared — or recorded on another poste, or never sealed (before the seals,
                # without a key): which, its seal alone cannot tell (below)
                unsealed.append(aid)
        for aid in chunk:
            if aid not in restored:
                read[aid] = found.get(aid, [])
    if unsealed:
        unsealed = _edited_here(con, unsealed, sealed_here)
    _check_texts(con, where, uncompared)
    # one notice for each kind, however many analyses (a whole table edited by one UPDATE: one a file, a
    # paragraph each, hundreds of them)
    notices = []
    if unchecked:
        notices.append(f"{_resumes_said(con, unchecked)} ; l'historique reprend les lignes de financement de la table "
                       "« lignes » sans pouvoir les vérifier. Restaurez une sauvegarde du registre si elles ont pu être "
                       "modifiées aussi")
    if unsealed:
        notices.append(_unsealed_said(con, unsealed))
    if restored:
        notices.append(f"{_lignes_said(con, list(restored))} ; l'historique reprend les lignes lues dans "
                       f"{'le classeur' if len(restored) == 1 else 'les classeurs'}, gardées scellées dans le registre "
                       "(comme « acv-xl consolider »), sans modifier le registre. Pour changer un montant, corrigez le "
                       "classeur puis consolidez de nouveau")
    if restored:
        con.execute("CREATE TEMP TABLE lignes AS SELECT * FROM main.lignes WHERE analyse_id NOT IN "
                    f"({','.join(map(str, restored))})")
        con.executemany(f"INSERT INTO temp.lignes (analyse_id, {LIGNES_COLUMNS}) VALUES "
                        f"({','.join('?' * (1 + len(LIGNES_COLUMNS.split(','))))})",
                        [(aid, *row) for aid, rows in restored.items() for row in rows])
    return notices, read


# The text columns of `lignes` historique shows or groups by (a line's key, its statut): SQLite keeps
# whatever a tool writes there, a BLOB too — shown « b'ANAH' » in Mouvements, and a statut so stopped
# the JSON with « erreur interne ». Checked only in the lines taken as they are: the others equal their
# summary's, all text.
_TEXTS = ("numero", "intitule", "financeur", "dispositif", "nature", "statut")


def _check_texts(con: sqlite3.Connection, where: str, aids: list[int]) -> None:
    for i in range(0, len(aids), 500):  # SQLite's limit on bound parameters
        chunk = aids[i:i + 500]
        row = con.execute(f"SELECT {', '.join(f'typeof({c})' for c in _TEXTS)} FROM lignes WHERE analyse_id IN "
                          f"({','.join('?' * len(chunk))}) AND ("
                          + " OR ".join(f"typeof({c}) NOT IN ('text', 'null')" for c in _TEXTS) + ") LIMIT 1",
                          chunk).fetchone()
        if row is not None:
            col = next(c for c, kind in zip(_TEXTS, row) if kind not in ("text", "null"))
            raise damaged_error(where, f"la colonne « {col} » de la table « lignes » contient autre chose qu'un texte")


_NAMED = 3  # analyses named in a notice; the others counted


def _edited_said(con: sqlite3.Connection, aids: list[int], table: str, one: tuple[str, str],
                 many: tuple[str, str]) -> str:
    """`table` edited for these analyses, naming the files of the first ones; `one`, `many`: what it no longer
    holds and the participle that agrees with it, for one analysis and for several (« le résumé », « lu »)."""
    if len(aids) == 1:
        chemin, cid = _first_file(con, aids[0])
        what, read = one
        return (f"la table « {table} » ne contient plus {what} que la consolidation n° {cid} a {read} dans "
                f"« {_file(chemin)} », analyse n° {aids[0]} : elle a été modifiée avec un autre outil")
    what, read = many
    return (f"la table « {table} » ne contient plus {what} que les consolidations ont {read} pour {len(aids)} "
            f"analyses ({_some(con, aids)}) : elle a été modifiée avec un autre outil")


_LIGNES = ("les lignes de financement", "lues")


def _lignes_said(con: sqlite3.Connection, aids: list[int]) -> str:
    """The table `lignes` edited for these analyses."""
    return _edited_said(con, aids, "lignes", _LIGNES, _LIGNES)


def _resumes_said(con: sqlite3.Connection, aids: list[int]) -> str:
    """The summaries of these analyses made unreadable in `analyses`."""
    return _edited_said(con, aids, "analyses", ("le résumé", "lu"), ("les résumés", "lus"))


def _edited_here(con: sqlite3.Connection, aids: list[int], sealed_here: set[int]) -> list[int]:
    """Of these analyses, whose summary this user's key does not seal, those of a consolidation recorded with
    it. A consolidation reuses only the summaries its user's key seals and seals those it records: all of
    its summaries are sealed by one key, or none. One of them that this key seals, and the consolidation
    was recorded here: its other summaries not sealed so were edited since. None, and it was recorded on
    another poste (a colleague sharing the register, the poste before this one) or without a key (before
    the seals): nothing tells an edit apart, and a notice at every historique that nothing silences would
    be a false alarm — unsaid, as on a poste without a key."""
    if not sealed_here:
        return []
    here: set[int] = set()  # the consolidations recorded with this key
    runs: dict[int, list[int]] = defaultdict(list)  # analysis → the consolidations that counted it
    for cid, aid in con.execute(f"SELECT DISTINCT consolidation_id, analyse_id FROM fichiers WHERE compte = 1 AND "
                                f"{_KEPT} AND analyse_id IS NOT NULL"):
        if aid in sealed_here:
            here.add(cid)
        runs[aid].append(cid)
    return [aid for aid in aids if any(cid in here for cid in runs[aid])]


def _unsealed_said(con: sqlite3.Connection, aids: list[int]) -> str:
    """The summaries of these analyses, recorded on this poste, no longer as it sealed them, though their lines
    match them."""
    if len(aids) == 1:
        chemin, cid = _first_file(con, aids[0])
        which = (f"le résumé que la consolidation n° {cid} a lu dans « {_file(chemin)} », analyse n° {aids[0]}, "
                 "n'est plus celui que ce poste a scellé")
        ses, classeurs = "ses", "ce classeur"
    else:
        which = (f"les résumés de {fmt_number(len(aids))} analyses ({_some(con, aids)}) ne sont plus ceux que ce poste "
                 "a scellés")
        ses, classeurs = "leurs", "ces classeurs"
    return (f"{which} : la table « analyses » a été modifiée avec un autre outil. L'historique reprend {ses} lignes "
            f"de financement et la maturité de {ses} actions (actions abandonnées ou reprises) sans pouvoir les "
            f"vérifier. Restaurez une sauvegarde du registre ; « acv-xl consolider » relit {classeurs}")


def _some(con: sqlite3.Connection, aids: list[int]) -> str:
    """« a.xlsx », consolidation n° 1, analyse n° 1 ; … ; et N autres."""
    named = []
    for aid in aids[:_NAMED]:
        chemin, cid = _first_file(con, aid)
        named.append(f"« {_file(chemin)} », consolidation n° {cid}, analyse n° {aid}")
    rest = len(aids) - len(named)
    return " ; ".join(named) + (f" ; et {fmt_number(rest)} autre{'s' if rest > 1 else ''}" if rest else "")


def _first_file(con: sqlite3.Connection, aid: int) -> tuple[str, int]:
    """(path, consolidation) of the first counted file of analysis `aid`: the one a message names."""
    return con.execute(f"SELECT chemin, consolidation_id FROM fichiers WHERE analyse_id = ? AND {_KEPT} "
                       "ORDER BY consolidation_id LIMIT 1", (aid,)).fetchone()


def _near(a: float, b: float) -> bool:
    """Two totals equal to the cent (a sum of floats against the float of an exact sum: a relative
    margin for the largest). An infinite one is left to `finite`, which refuses it in its own words."""
    import math

    return not (math.isfinite(a) and math.isfinite(b)) or abs(a - b) <= max(0.005, 1e-12 * abs(b))


def _check_totals(con: sqlite3.Connection, where: str) -> None:
    """Each counted convention's financing total as its counted lines add up, each consolidation's as
    its counted conventions do: the two tables `historique` shows beside the lines (Par convention,
    Consolidations). One edited with an SQLite tool (a total « corrected » by hand) was shown without
    a word, the financeurs' totals beside it adding up to another amount."""
    # each analysis's lines added up once (an analysis is counted at every comité its file is unchanged)
    for chemin, cid, total, lignes in con.execute(
            "WITH s AS (SELECT analyse_id, SUM(montant) AS t FROM lignes WHERE compte = 1 GROUP BY analyse_id) "
            "SELECT f.chemin, f.consolidation_id, c.financement_total, COALESCE(s.t, 0) FROM conventions c JOIN "
            "fichiers f ON f.id = c.fichier_id LEFT JOIN s ON s.analyse_id = f.analyse_id "
            f"WHERE c.compte = 1 AND f.analyse_id IS NOT NULL AND c.{_KEPT} ORDER BY f.consolidation_id, f.id"):
        if total is None:  # emptied by hand: its consolidation's total then seemed the one edited
            raise damaged_error(where, f"la table « conventions » ne donne plus de financement total à "
                                f"« {_file(chemin)} », consolidation n° {cid}, quand ses lignes comptées en font "
                                f"{fmt_euros(lignes)} : elle a été modifiée avec un autre outil, l'historique ne peut "
                                "plus s'y fier")
        if not _near(float(lignes), float(total)):
            raise damaged_error(where, f"la table « conventions » donne à « {_file(chemin)} », consolidation "
                                f"n° {cid}, un financement total de {fmt_euros(total)} quand ses lignes comptées en font "
                                f"{fmt_euros(lignes)} : elle a été modifiée avec un autre outil, l'historique ne peut "
                                "plus s'y fier")
    _check_finding_counts(con, where)
    # and the counts it shows beside (Consolidations), each table read once
    for cid, total, conventions, comptees, n_comptees, fichiers, n_fichiers in con.execute(
            "WITH c AS (SELECT consolidation_id, SUM(financement_total) AS t, COUNT(*) AS n FROM conventions "
            "WHERE compte = 1 GROUP BY consolidation_id), f AS (SELECT consolidation_id, COUNT(*) AS n FROM fichiers "
            "GROUP BY consolidation_id) SELECT k.id, k.financement_total, COALESCE(c.t, 0), k.conventions_comptees, "
            "COALESCE(c.n, 0), k.fichiers, COALESCE(f.n, 0) FROM consolidations k LEFT JOIN c ON c.consolidation_id = "
            "k.id LEFT JOIN f ON f.consolidation_id = k.id ORDER BY k.id"):
        if total is not None and not _near(float(conventions), float(total)):
            raise damaged_error(where, f"la table « consolidations » donne à la consolidation n° {cid} un financement "
                                f"total de {fmt_euros(total)} quand ses conventions comptées en font "
                                f"{fmt_euros(conventions)} : elle a été modifiée avec un autre outil, l'historique ne "
                                "peut plus s'y fier")
        for one, many, stated, table, found in (
                ("convention comptée", "conventions comptées", comptees, "conventions", n_comptees),
                ("fichier vu", "fichiers vus", fichiers, "fichiers", n_fichiers)):
            if stated is not None and stated != found:
                said = one if abs(stated) < 2 else many  # « 1 convention comptée » (typed by hand: any number)
                raise damaged_error(where, f"la table « consolidations » dit "
                                    f"{fmt_number(stated, 0 if float(stated).is_integer() else 2)} {said} pour la "
                                    f"consolidation n° {cid} quand la table « {table} » en compte {fmt_number(found)} : elle "
                                    "a été modifiée avec un autre outil, l'historique ne peut plus s'y fier")


_GRAVITES = (("erreurs", "erreur", "erreurs"), ("avertissements", "avertissement", "avertissements"),
             ("informations", "information", "informations"))


def _check_finding_counts(con: sqlite3.Connection, where: str) -> None:
    """Each counted convention's errors, warnings and informations as its findings count them: its
    workbook's (`constats`, of its analysis) and the consolidation's about it (`constats_consolidation`),
    as `consolider` counted them (a readable workbook has no CON-03 repeating its own). A count edited
    with an SQLite tool (« 0 » errors typed over 2) was shown in Par convention without a word."""
    sums = ", ".join(f"SUM(gravite = '{g}') AS {col}" for col, g, _ in _GRAVITES)
    # (stated, found) of each gravity, compared in SQLite: the first that differs, no row made in Python
    pairs = [(f"c.{col}", f"COALESCE(k.{col}, 0) + COALESCE(x.{col}, 0)") for col, _, _ in _GRAVITES]
    row = con.execute(
        f"WITH k AS (SELECT analyse_id, {sums} FROM constats GROUP BY analyse_id), "
        f"x AS (SELECT fichier_id, {sums} FROM constats_consolidation GROUP BY fichier_id) "
        f"SELECT f.chemin, f.consolidation_id, {', '.join(f'{a}, {b}' for a, b in pairs)} "
        "FROM conventions c JOIN fichiers f ON f.id = c.fichier_id LEFT JOIN k ON k.analyse_id = f.analyse_id "
        f"LEFT JOIN x ON x.fichier_id = f.id WHERE c.compte = 1 AND c.{_KEPT} AND "
        f"({' OR '.join(f'{a} IS NOT {b}' for a, b in pairs)}) ORDER BY f.consolidation_id, f.id LIMIT 1").fetchone()
    if row is None:
        return
    chemin, cid, *counts = row
    for (_, one, many), stated, n in zip(_GRAVITES, counts[::2], counts[1::2]):
        if stated == n:
            continue
        # (a number or nothing, `_check_numbers`: empty in a table made again by a tool, CREATE TABLE … AS
        # keeping no NOT NULL; infinite typed as 9e999)
        if stated is None:
            said = f"ne donne plus de nombre d'{many} à « {_file(chemin)} », consolidation n° {cid},"
        else:
            shown = (f"un nombre d'{many} infini" if math.isinf(stated) else  # « 0 erreur », « 1,50 erreur »
                     f"{fmt_number(stated, 0 if float(stated).is_integer() else 2)} {one if abs(stated) < 2 else many}")
            said = f"donne à « {_file(chemin)} », consolidation n° {cid}, {shown}"
        raise damaged_error(where, f"la table « conventions » {said} quand les tables « constats » et "
                            f"« constats_consolidation » lui en comptent {fmt_number(n)} : l'une d'elles a été "
                            "modifiée avec un autre outil, l'historique ne peut plus s'y fier")


def load(reg: Register, departement: str | None = None) -> Evolution:
    """The evolution held by an open register, read in one snapshot: a consolidation committed by
    another run while historique read (a colleague's, a scheduled task's) came into some of its reads
    and not others — « erreur interne (KeyError) », or totals checked without it. That run's commit
    waits for the end of the reading (at most 30 s, `register.ATTENTE`).
    `departement` (as `--departement` is typed): only the runs recorded with that département — a
    région's register holds each département's runs, whose series mixed read every convention of one
    « retirée » and of the other « ajoutée » at each turn; UsageError when the code is none, or when no
    run of the register has it (the whole register is checked all the same)."""
    departement = departement_option(departement)
    con = reg.con
    reg.begin_snapshot()
    try:
        return _load(reg, departement)
    finally:
        if con.in_transaction:
            con.execute("ROLLBACK")  # only read: nothing to keep (the temporary `lignes` is this connection's)


def _load(reg: Register, departement: str | None = None) -> Evolution:
    import pandas as pd

    con = reg.con
    _check_numbers(con, f"« {reg.path} »")
    _check_dates(con, f"« {reg.path} »")
    _check_run_texts(con, f"« {reg.path} »")
    _check_links(con, f"« {reg.path} »")
    # (the table `lignes` read from here on: as the summaries say)
    reprises, lues = _check_lines(con, f"« {reg.path} »")
    _check_totals(con, f"« {reg.path} »")
    cons = pd.read_sql_query(
        "SELECT id, date, comite, departement, sans_erreurs, fichiers, conventions_comptees, financement_total "
        "FROM consolidations ORDER BY id", con)
    # a register written before `--departement 062` was recorded as 62 holds both spellings
    cons["departement"] = [norm_departement(d) if isinstance(d, str) and d else d for d in cons["departement"]]
    total = len(cons)
    if departement is not None:
        # (a mask, not a list: an empty list would select no column of a register without run, KeyError)
        cons = cons.loc[cons["departement"].eq(departement)].reset_index(drop=True)
        if total and not len(cons):
            raise UsageError(_no_run_of(reg, departement))
    cons["libelle"] = _numbered(list(cons["comite"]), list(cons["date"]), [int(i) for i in cons["id"]])
    # each analysis summed once by (financeur, statut), then added up per consolidation over its
    # counted files: a pivot of pandas (≈ 20 × 1,000 files × 20 sums without a Python loop)
    par_analyse = pd.read_sql_query(
        "SELECT analyse_id, financeur, statut, SUM(montant) AS total FROM lignes WHERE compte = 1 "
        "GROUP BY analyse_id, financeur, statut", con)
    # a line without financeur is under « non ventilé » (as in the consolidated workbook): the
    # financeurs' totals then add up to each consolidation's financement total
    pa = par_analyse.assign(financeur=par_analyse["financeur"].fillna(""))
    groupes = {f: _groupe(f) for f in pa["financeur"].unique()}
    pa = pa.assign(financeur=pa["financeur"].map(groupes), statut=pa["statut"].fillna("(sans statut)"))
    # the rows of consolidations still in the register only: one deleted by hand with an SQLite tool
    # (a trial run removed) leaves its files and conventions, which stopped historique (KeyError)
    comptes = pd.read_sql_query(f"SELECT consolidation_id, analyse_id FROM fichiers WHERE compte = 1 AND {_KEPT}", con)
    fs = comptes.merge(pa, on="analyse_id").groupby(["consolidation_id", "financeur", "statut"],
                                                     as_index=False)["total"].sum()
    shown = set(cons["id"])  # (every run, or those of `departement`)
    fs = fs[fs["consolidation_id"].isin(shown)].reset_index(drop=True)
    conv = pd.read_sql_query(
        "SELECT consolidation_id, acv_id, libelle, financement_total, etat, erreurs, avertissements, informations "
        f"FROM conventions WHERE compte = 1 AND {_KEPT} ORDER BY consolidation_id, acv_id", con)
    # a NULL read by pandas is NaN (pandas 3's text columns keep no None), which is « truthy »: a
    # convention without identifier or libellé was written NaN — a « nan » cell Excel must repair in
    # Par convention, a « NaN » key in the JSON
    for col in ("acv_id", "libelle", "etat"):
        conv[col] = pd.Series([v if isinstance(v, str) else None for v in conv[col].tolist()], index=conv.index,
                              dtype=object)
    # registers written before the template's word was used everywhere say « jamais validé »
    conv["etat"] = conv["etat"].replace(ANCIENS_ETATS)
    conv = conv[conv["consolidation_id"].isin(shown)].reset_index(drop=True)
    ev = Evolution(cons, fs, conv, lignes_reprises=reprises, departement=departement, toutes=total,
                   departements_lus=_departements_lus(con) if departement is None else [])
    ev.mouvements = _mouvements(con, ev, lues)
    # the financeurs of the conventions added or removed only (`mouvements_par_financeur`)
    entrees = {m.analyse for m in ev.mouvements if m.de_convention and m.analyse is not None}
    for aid, f, t in pa[pa["analyse_id"].isin(entrees)].groupby(["analyse_id", "financeur"], as_index=False)["total"] \
            .sum().itertuples(index=False):
        ev.par_analyse.setdefault(int(aid), {})[f] = float(t)
    return ev


# A summary's département as it is written (`dump_summary`: the sixth key of its object, before any list):
# the first `,"departement":` is that key, a raw « " » never standing inside a JSON string. Its value only
# is cut out, never the whole summary decoded again (`_check_lines` has read them all already).
_DEPARTEMENT_KEY = ',"departement":'
_DEPARTEMENT_VALUE = re.compile(r'"([^"\\]{1,8})"')


def _departements_lus(con: sqlite3.Connection) -> list[str]:
    """The départements of the conventions counted by the runs recorded without `--departement`, sorted:
    the register keeps each run's filter, not each convention's département, and a 62's register
    consolidated without the option read « tous départements » in every subtitle of its évolution, as a
    national report, and named the Département's financeurs without their département — where each
    consolidated workbook said « département 62 » (`ConsolidationResult.perimetre`). Only codes of a
    département are kept (a summary of an earlier form, or edited, names none or something else)."""
    found = set()
    for (cut,) in con.execute(
            f"SELECT DISTINCT substr(resume, instr(resume, '{_DEPARTEMENT_KEY}') + {len(_DEPARTEMENT_KEY)}, 10) "
            "FROM analyses WHERE typeof(resume) = 'text' AND instr(resume, ?) > 0 AND id IN (SELECT analyse_id FROM "
            f"fichiers WHERE compte = 1 AND {_KEPT} AND consolidation_id IN (SELECT id FROM consolidations WHERE "
            "departement IS NULL OR trim(departement) = ''))", (_DEPARTEMENT_KEY,)):
        if isinstance(cut, str) and (m := _DEPARTEMENT_VALUE.match(cut)):
            code = norm_departement(m.group(1))
            if re.fullmatch(r"\d{2,3}|2[AB]", code):
                found.add(code)
    return sorted(found)


def _no_run_of(reg: Register, departement: str) -> str:
    """Why `historique --departement` has nothing to show, in French: the départements the register's
    runs were recorded with, so that a mistyped code is seen at once."""
    recorded = {norm_departement(d) if isinstance(d, str) and d.strip() else "" for (d,) in
                reg.con.execute("SELECT departement FROM consolidations")}
    parts = [f"département {d}" for d in sorted(recorded - {""})]
    if "" in recorded:
        parts.append("sans --departement (tous les départements)")
    return (f"le registre « {reg.path} » n'a aucune consolidation du département {departement} (ses consolidations : "
            f"{', '.join(parts)}) : rien n'est écrit. Vérifiez le code donné à --departement ; une consolidation "
            "sans --departement n'est montrée que par « acv-xl historique » sans --departement.")


# a file's identifier as acv-xl writes it, text, or none: bytes written there by a tool (a BLOB) stopped
# historique on « erreur interne (TypeError) »; read as none, as `Par convention` reads the convention's
_ACV_ID = "CASE WHEN typeof(f.acv_id) = 'text' THEN f.acv_id END"


def _mouvements(con, ev: Evolution, lues: dict[int, list[tuple]]) -> list[Mouvement]:
    """`lues`: the lines `_check_lines` read, by analysis."""
    rows = con.execute(
        f"SELECT f.consolidation_id, {_ACV_ID}, f.analyse_id, c.libelle, c.financement_total, f.chemin, c.communes "
        "FROM fichiers f JOIN conventions c ON c.fichier_id = f.id WHERE f.compte = 1").fetchall()
    # consolidation → norm id → (acv_id, analysis, libellé, total, path, communes as recorded): its
    # `_signature` made only for the few conventions added or removed, not for each of every run
    state: dict[int, dict[str, tuple]] = defaultdict(dict)
    communes_of: dict[int, Any] = {}  # analysis → its convention's communes, as recorded
    for cid, acv_id, aid, lib, total, chemin, communes in rows:
        # a workbook without identifier by its path, as below: by its analysis, one amount changed in it
        # read « Convention retirée » and « Convention ajoutée » for the whole of its financing
        state[cid][norm_id(acv_id) or f"\x00{chemin}"] = (acv_id, aid, lib, total, chemin, communes)
        communes_of[aid] = communes
    # the files a consolidation saw but did not count, by convention, with why; by path only when
    # the file has no identifier (an unreadable new version: its path is the previous one's) — a
    # file that now holds another convention says nothing of the one it held before
    non_comptes: dict[int, dict[str, str]] = defaultdict(dict)
    for cid, acv_id, chemin, motif in con.execute(
            f"SELECT consolidation_id, {_ACV_ID}, chemin, motif FROM fichiers f WHERE compte = 0 AND motif IS NOT NULL"):
        non_comptes[cid].setdefault(norm_id(acv_id) or f"\x00{chemin}", motif)
    out: list[Mouvement] = []
    ids = ev.ids
    pairs: list[tuple[int, int, str, tuple, tuple]] = []
    for avant, apres in zip(ids, ids[1:]):
        a, b = state.get(avant, {}), state.get(apres, {})
        added, removed = b.keys() - a.keys(), a.keys() - b.keys()
        # a workbook without identifier moved or renamed, its content unchanged (the same analysis): the
        # same convention, no movement — followed by its path alone, it read « retirée » and « ajoutée »
        gone = {}
        for k in sorted(removed):
            if k.startswith("\x00") and a[k][1] is not None:
                gone.setdefault(a[k][1], k)
        for k in sorted(added):
            if k.startswith("\x00") and (old := gone.pop(b[k][1], None)) is not None:
                added, removed = added - {k}, removed - {old}
        # a workbook whose identifier was filled in (or erased) under the same path: the same
        # convention, its lines compared — followed by its identifier on one side and its path on the
        # other, a commune typing its missing « ACV0xx » read « retirée » and « ajoutée » for its whole
        # financing
        by_path = {a[k][4]: k for k in sorted(removed) if a[k][4] is not None}
        for k in sorted(added):
            old = by_path.get(b[k][4])
            if old is not None and old in removed and old.startswith("\x00") != k.startswith("\x00"):
                added, removed = added - {k}, removed - {old}
                if a[old][1] != b[k][1]:
                    pairs.append((avant, apres, k, a[old], b[k]))
        # and renamed or moved as well: neither its path nor its content (the identifier typed changed
        # it) links the two sides, its libellé and communes do — when one workbook only on each side has
        # them, never a guess among several
        olds, news = defaultdict(list), defaultdict(list)
        for k in removed:
            if (sig := _signature(a[k][2], a[k][5])) is not None:
                olds[sig].append(k)
        for k in added:
            if (sig := _signature(b[k][2], b[k][5])) is not None:
                news[sig].append(k)
        for sig, ks in olds.items():
            if len(ks) == 1 and len(news.get(sig, ())) == 1 and ks[0].startswith("\x00") != news[sig][0].startswith("\x00"):
                old, k = ks[0], news[sig][0]
                added, removed = added - {k}, removed - {old}
                if a[old][1] != b[k][1]:
                    pairs.append((avant, apres, k, a[old], b[k]))
        for k in sorted(added):
            acv, _, lib, total, chemin, _ = b[k]
            motif = non_comptes[avant].get(k) or non_comptes[avant].get(f"\x00{chemin}")
            kind = (f"{CONVENTION_DESORMAIS_COMPTEE} (auparavant : {motif.removesuffix(', non compté')})" if motif
                    else CONVENTION_AJOUTEE)
            out.append(Mouvement(avant, apres, acv or SANS_ID, lib, kind, montant_apres=total, analyse=b[k][1]))
        for k in sorted(removed):
            acv, _, lib, total, chemin, _ = a[k]
            motif = non_comptes[apres].get(k) or non_comptes[apres].get(f"\x00{chemin}")
            kind = (f"{CONVENTION_NON_COMPTEE} ({motif.removesuffix(', non compté')})" if motif
                    else CONVENTION_RETIREE)
            out.append(Mouvement(avant, apres, acv or SANS_ID, lib, kind, montant_avant=total, analyse=a[k][1]))
        for k in sorted(a.keys() & b.keys()):
            if a[k][1] != b[k][1]:  # another content: compare the lines
                pairs.append((avant, apres, k, a[k], b[k]))
    needed = {x[3][1] for x in pairs} | {x[4][1] for x in pairs}
    lines = _lines(con, needed, lues)
    abandons = _abandons(con, needed)
    for avant, apres, _k, pa, pb in pairs:
        out.extend(_abandoned(avant, apres, pb[0] or pa[0] or SANS_ID, pb[2] or pa[2], abandons.get(pa[1]),
                              abandons.get(pb[1])))
        out.extend(_communes_moved(avant, apres, pb[0] or pa[0] or SANS_ID, pb[2] or pa[2],
                                   communes_of.get(pa[1]), communes_of.get(pb[1])))
        out.extend(_compare(avant, apres, pb[0] or pa[0] or SANS_ID, pb[2] or pa[2], lines.get(pa[1], []),
                            lines.get(pb[1], [])))
    # comité after comité, as the sheet is read and printed (stable: within a pair, the conventions
    # added or removed first, then each convention's lines)
    out.sort(key=lambda m: (m.avant, m.apres))
    return out


def _abandons(con, analyses: set[int]) -> dict[int, dict[str, tuple[bool, str | None]]]:
    """analysis → N° action → (all its fiches « Abandonnée », its intitulé), from the summaries: the
    table `lignes` holds no maturité. A summary that does not read (an earlier form, damaged: said by
    `_check_lines`) gives none, and its actions no movement."""
    out: dict[int, dict[str, tuple[bool, str | None]]] = {}
    ids = sorted(a for a in analyses if a is not None)
    # as bytes, the UTF-8 msgspec reads: not decoded into a text to be encoded back (`_check_lines`, which
    # read each of them as a text before, has refused any that is no UTF-8) — as a text in a register
    # keeping its text as UTF-16 (made so by hand), whose bytes msgspec would not read: no action abandoned
    utf8 = con.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
    resume_read = "CAST(resume AS BLOB)" if utf8 else "resume"
    for i in range(0, len(ids), 500):  # SQLite's limit on bound parameters
        chunk = ids[i:i + 500]
        for aid, resume in con.execute(f"SELECT id, {resume_read} FROM analyses WHERE id IN "
                                       f"({','.join('?' * len(chunk))})", chunk):
            try:
                actions = stored_actions(resume)
            except (ValueError, TypeError):
                continue
            per: dict[str, tuple[bool, str | None]] = {}
            for numero, intitule, _axe, _mo, maturite, _cout in actions:
                if not numero:
                    continue
                gone, named = per.get(numero, (True, None))
                per[numero] = (gone and maturite == layout.MATURITE_ABANDONNEE, named or intitule)
            out[aid] = per
    return out


def _abandoned(avant: int, apres: int, acv_id: str, libelle: str | None, old: dict | None,
               new: dict | None) -> list[Mouvement]:
    """The actions of one convention set « Abandonnée » (every fiche of the number) between two
    consolidations, or no longer: an action added or removed at once is not one."""
    if old is None or new is None:
        return []
    # (in the order of the fiches-actions, as the workbook shows them)
    return [Mouvement(avant, apres, acv_id, libelle, ACTION_ABANDONNEE if new[n][0] else ACTION_REPRISE,
                      numero=n, intitule=new[n][1] or old[n][1])
            for n in new if n in old and old[n][0] != new[n][0]]


def _communes_moved(avant: int, apres: int, acv_id: str, libelle: str | None, old: Any, new: Any) -> list[Mouvement]:
    """The communes an avenant added to a convention or removed from it (« Commune ajoutée : Béthune »), named
    as typed after (before, for one removed); the same commune retyped (case, spaces, accents: « BETHUNE », a
    name put right between two comités, its code INSEE the same) is none."""
    if not (isinstance(old, str) and isinstance(new, str)):
        return []

    def named(communes: str) -> dict[str, str]:
        return {fold(c): " ".join(c.split()) for c in communes.split(";") if c.strip()}

    a, b = named(old), named(new)
    return ([Mouvement(avant, apres, acv_id, libelle, f"{COMMUNE_AJOUTEE} : {b[k]}") for k in b if k not in a]
            + [Mouvement(avant, apres, acv_id, libelle, f"{COMMUNE_RETIREE} : {a[k]}") for k in a if k not in b])


def _signature(libelle: Any, communes: Any) -> tuple[str, frozenset[str]] | None:
    """What tells a convention apart when neither its identifier nor its path can: its libellé and
    its communes, as typed apart from case and spaces (None when either is missing)."""
    if not (isinstance(libelle, str) and isinstance(communes, str)):
        return None
    names = frozenset(" ".join(c.split()).casefold() for c in communes.split(";")) - {""}
    lib = " ".join(libelle.split()).casefold()
    return (lib, names) if lib and names else None


# the columns of `_lines` (a line's key, its amount, statut, intitulé and `compte`), in a row of `LIGNES_COLUMNS`
_SHOWN = itemgetter(*(LIGNES_COLUMNS.replace(" ", "").split(",").index(c) for c in
                      ("numero", "financeur", "dispositif", "nature", "annee", "montant", "statut", "intitule", "compte")))


def _lines(con, analyses: set[int], lues: dict[int, list[tuple]]) -> dict[int, list[tuple]]:
    """The lines of these analyses, in order: taken from those `_check_lines` read (`lues`), the others
    (restored from their summary: the temporary `lignes`) read from the table."""
    out: dict[int, list[tuple]] = defaultdict(list)
    ids = []
    for aid in sorted(a for a in analyses if a is not None):
        if aid in lues:
            out[aid] = list(map(_SHOWN, lues[aid]))
        else:
            ids.append(aid)
    for i in range(0, len(ids), 500):  # SQLite's limit on bound parameters
        chunk = ids[i:i + 500]
        for row in con.execute(
                f"SELECT analyse_id, numero, financeur, dispositif, nature, annee, montant, statut, intitule, compte "
                f"FROM lignes WHERE analyse_id IN ({','.join('?' * len(chunk))}) ORDER BY analyse_id, rang", chunk):
            out[row[0]].append(row[1:])
    return out


def _keyed(old: list[tuple], new: list[tuple]) -> tuple[dict, dict]:
    """Each line under its key (action, financeur, dispositif, nature, année) and a rank within it.
    Within a key, identical lines share a key and rank (two tranches of one year re-sorted are no
    change: paired in order, an « Acquis » and a « Sollicité » tranche swapped read as two statuts
    changed and a commitment obtained); every other line gets a rank of its own, left for `_compare`
    to pair — at an equal amount first, then in order."""
    groups: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    for side, lines in enumerate((old, new)):
        for i, ln in enumerate(lines):
            groups[tuple(ln[:5])][side].append(i)
    rank_a: dict[int, int] = {}
    rank_b: dict[int, int] = {}
    for la, lb in groups.values():
        same: dict[tuple, deque] = defaultdict(deque)  # a new line's content (the intitulé aside) → its lines, in order
        for j in lb:
            same[new[j][:7]].append(j)
        rank = 0
        for i in la:  # identical lines first, each with the first identical one left (a dict: thousands
            # of tranches of one key in a crafted workbook stay linear)
            if q := same.get(old[i][:7]):
                rank_a[i] = rank_b[q.popleft()] = rank
                rank += 1
        for i in la:
            if i not in rank_a:
                rank_a[i] = rank
                rank += 1
        for j in lb:
            if j not in rank_b:
                rank_b[j] = rank
                rank += 1
    return ({tuple(ln[:5]) + (rank_a[i],): ln for i, ln in enumerate(old)},
            {tuple(ln[:5]) + (rank_b[i],): ln for i, ln in enumerate(new)})


def _compare(avant: int, apres: int, acv_id: str, libelle: str | None, old: list[tuple], new: list[tuple]) -> list[Mouvement]:
    """The lines of two states of one convention, paired by key (in order within a key)."""
    a, b = _keyed(old, new)
    acquis = set(layout.STATUTS_ACQUIS)
    out = []

    def counts(ln) -> bool:
        """Whether the line counts in the totals (the register's `compte`: a refused line, or one whose
        amount did not parse, does not), so that a movement's écart is what it moves in them."""
        return bool(ln[8])

    def mv(kind, ln, **kw):
        numero, financeur, dispositif, nature, annee = ln[:5]
        return Mouvement(avant, apres, acv_id, libelle, kind, numero=numero, intitule=ln[7], financeur=financeur,
                         dispositif=dispositif, nature=nature, annee=annee, **kw)

    # A line whose key changed is removed under its old key and added under the new one; it is one
    # line changed — never a new line, nor a commitment obtained when it was already « Acquis »,
    # « Engagé » or « Versé » — when its other fields tell it:
    # - a financeur code corrected (what CON-05 asks: « FEDER » → « UE ») or mistyped (« UE » →
    #   « UEE »): paired by action, dispositif, nature and année, one of the two codes outside the
    #   reference list (one funder replaced by another, AL → CDC, stays a line removed and a line
    #   added) — « Financeur modifié »;
    # - a line re-dated (a payment postponed, a plan re-scheduled): paired by action, financeur,
    #   dispositif and nature — « Année modifiée »;
    # - a line given to another action (an action split in two: 2.2's loan now 2.3's; a line moved)
    #   or another dispositif or nature (what FIN-21 asks: « Mobilités » → « Aménagement du
    #   territoire »): paired by the rest of its key — « Action modifiée », « Dispositif modifié »,
    #   « Nature modifiée » — at an equal amount (nothing else says the decision is the same); an
    #   action's line at another amount only when its statut and the rest single it out (below).
    # Every pairing at an equal amount comes first (a line corrected or renumbered keeps its amount),
    # then, for the same key (its statut and amount as they are) and for a code or a year only, the
    # others in order: a split action's loan is never taken for its former action's new tranche of
    # the next year, nor for the other tranche of its key whose amount changed (« Acquis » →
    # « Sollicité », and the loan under its new action a commitment obtained).
    def inconnu(code) -> bool:
        return financeur_groupe(code or "") == CODE_INCONNU

    passes = (  # kind, the fields that must agree (indices in the key)
        (_MEME_CLE, (0, 1, 2, 3, 4)),
        (FINANCEUR_MODIFIE, (0, 2, 3, 4)),  # and one of the two codes outside the list (`inconnu`)
        (ANNEE_MODIFIEE, (0, 1, 2, 3)),
        (ACTION_MODIFIEE, (1, 2, 3, 4)),
        (DISPOSITIF_MODIFIE, (0, 1, 3, 4)),
        (NATURE_MODIFIEE, (0, 1, 2, 4)),
    )
    added = [k for k in b if k not in a]
    removed = [k for k in a if k not in b]
    autre: dict[tuple, tuple[str, tuple]] = {}  # added key → (kind, removed key)
    taken: set[tuple] = set()  # removed keys paired

    def first(queue: deque | None) -> tuple | None:
        """The first removed line of `queue` not paired yet (a line paired through another queue
        is dropped from this one as it comes up: thousands of lines stay linear)."""
        while queue and queue[0] in taken:
            queue.popleft()
        return queue.popleft() if queue else None

    for equal_amounts in (True, False):
        for kind, fields in passes:
            if not equal_amounts and kind not in (_MEME_CLE, FINANCEUR_MODIFIE, ANNEE_MODIFIEE):
                continue
            # the removed lines by the fields that must agree (and their amount, in the first round), in
            # order; for a financeur code, also those whose code is outside the list: a known code
            # corrected into another known one is one funder replaced by another, never paired
            gone: dict[tuple, deque] = defaultdict(deque)
            gone_inconnu: dict[tuple, deque] = defaultdict(deque)
            for k in removed:
                if k not in taken:
                    key = tuple(a[k][i] for i in fields) + ((a[k][5],) if equal_amounts else ())
                    gone[key].append(k)
                    if kind == FINANCEUR_MODIFIE and inconnu(a[k][1]):
                        gone_inconnu[key].append(k)
            for k in added:
                if k in autre:
                    continue
                nb = b[k]
                key = tuple(nb[i] for i in fields) + ((nb[5],) if equal_amounts else ())
                known = kind == FINANCEUR_MODIFIE and not inconnu(nb[1])
                old = first((gone_inconnu if known else gone).get(key))
                if old is not None:
                    taken.add(old)
                    autre[k] = (kind, old)
    # Last, a line given to another action at another amount (a split action's loan shared out
    # anew, a line moved and revised): paired only when its financeur, dispositif, nature, année
    # and statut tell it alone — one line of them removed, one added, under different actions.
    # Read as a line removed and a line added, an « Acquis » loan moved and revised was a new
    # commitment obtained, which no one obtained; its two rows say the amounts, and a line whose
    # statut changed too (« Sollicité » → « Acquis ») stays removed and added, its commitment obtained.
    signature = (1, 2, 3, 4, 6)
    gone_by: dict[tuple, list] = defaultdict(list)
    come_by: dict[tuple, list] = defaultdict(list)
    for k in removed:
        if k not in taken:
            gone_by[tuple(a[k][i] for i in signature)].append(k)
    for k in added:
        if k not in autre:
            come_by[tuple(b[k][i] for i in signature)].append(k)
    for sig, come in come_by.items():
        gone = gone_by.get(sig, ())
        if len(come) == 1 and len(gone) == 1 and a[gone[0]][0] != b[come[0]][0]:
            taken.add(gone[0])
            autre[come[0]] = (ACTION_MODIFIEE, gone[0])
    for k in b:
        nb = b[k]
        # one line re-dated, given another financeur code or another action: its two states, one
        # movement of that kind
        kind, old = autre.get(k, (None, None))
        if kind is not None and kind != _MEME_CLE:
            na = a[old]
            # each row one state of the line, as a line removed and one added: its amount said unreadable
            out.append(mv(kind + (MONTANT_ILLISIBLE if na[5] is None else ""), na, statut_avant=na[6],
                          statut_apres=nb[6], montant_avant=na[5], compte_avant=counts(na)))
            out.append(mv(kind + (MONTANT_ILLISIBLE if nb[5] is None else ""), nb, statut_avant=na[6],
                          statut_apres=nb[6], montant_apres=nb[5], compte_apres=counts(nb),
                          engagement=nb[6] in acquis and na[6] not in acquis))
            continue
        if kind is None and k not in a:
            out.append(mv(LIGNE_AJOUTEE + (MONTANT_ILLISIBLE if nb[5] is None else ""), nb, statut_apres=nb[6],
                          montant_apres=nb[5], compte_apres=counts(nb),
                          engagement=nb[6] in acquis))
            continue
        na = a[old] if kind == _MEME_CLE else a[k]
        if na[6] != nb[6]:
            out.append(mv(STATUT_MODIFIE, nb, statut_avant=na[6], statut_apres=nb[6], montant_avant=na[5],
                          compte_avant=counts(na), compte_apres=counts(nb),
                          montant_apres=nb[5], engagement=nb[6] in acquis and na[6] not in acquis))
        if na[5] != nb[5]:
            kind = MONTANT_MODIFIE + (ILLISIBLE_APRES if nb[5] is None else ILLISIBLE_AVANT if na[5] is None else "")
            out.append(mv(kind, nb, statut_avant=na[6], statut_apres=nb[6], montant_avant=na[5],
                          compte_avant=counts(na), compte_apres=counts(nb),
                          montant_apres=nb[5]))
    for k in a:
        if k not in b and k not in taken:
            na = a[k]
            out.append(mv(LIGNE_RETIREE + (MONTANT_ILLISIBLE if na[5] is None else ""), na, statut_avant=na[6],
                          montant_avant=na[5], compte_avant=counts(na)))
    return out


def rien_a_comparer(ev: Evolution) -> str:
    """Why there is no movement at all, in French (under an empty table, after the command's line)."""
    if len(ev.ids) < 2 and ev.departement is not None:  # the register may hold many, of other départements
        return (f"Une seule consolidation du département {ev.departement} dans le registre : les évolutions "
                "apparaîtront après la prochaine consolidation enregistrée de ce département (« acv-xl consolider … "
                f"--departement {ev.departement} --registre »).")
    if len(ev.ids) < 2:
        return ("Une seule consolidation dans le registre : les évolutions apparaîtront après la prochaine "
                "consolidation enregistrée (« acv-xl consolider … --registre »).")
    return ("Aucun mouvement : d'une consolidation à la suivante, les conventions comptées sont les mêmes et leurs "
            "lignes de financement n'ont pas changé.")


def mouvements_par_financeur(ev: Evolution) -> list[list[Any]]:
    """Per pair of consecutive consolidations and per financeur: total before, after, the change,
    what the conventions added or removed (counted again, or no longer) bring to it or take from it,
    the commitments obtained (lines reaching Acquis, Engagé or Versé) and the new lines."""
    totaux = ev.totaux_financeurs()
    obtenus: dict[tuple, float] = defaultdict(float)
    nouvelles: dict[tuple, int] = defaultdict(int)
    conventions: dict[tuple, float] = defaultdict(float)
    for m in ev.mouvements:
        if m.de_convention:  # its amount is the convention's total: split by financeur from its lines
            sign = 1.0 if m.type.startswith((CONVENTION_AJOUTEE, CONVENTION_DESORMAIS_COMPTEE)) else -1.0
            for f, t in ev.par_analyse.get(m.analyse, {}).items():
                conventions[(m.avant, m.apres, f)] += sign * t
            continue
        k = (m.avant, m.apres, _groupe(m.financeur))
        if m.engagement:
            obtenus[k] += m.montant_apres or 0.0
        if m.type.startswith(LIGNE_AJOUTEE):
            nouvelles[k] += 1
    rows = []
    for avant, apres in zip(ev.ids, ev.ids[1:]):
        for f in ev.financeurs():
            a, b = totaux[f][avant], totaux[f][apres]
            k = (avant, apres, f)
            rows.append([avant, apres, f, a, b, round(b - a, 2), round(conventions[k], 2), round(obtenus[k], 2),
                         nouvelles[k]])
    return rows


def to_json(ev: Evolution) -> dict:
    """evolution.md's JSON: consolidations, par_financeur, par_convention (under `--departement`, first the
    département and how many runs the register holds)."""
    statuts = ev.statuts_financeurs()
    totaux = ev.totaux_financeurs()
    par_convention: dict[str, list[dict]] = {}
    for cid, acv_id, total, etat in ev.par_convention[["consolidation_id", "acv_id", "financement_total", "etat"]] \
            .itertuples(index=False):
        par_convention.setdefault(acv_id or SANS_ID, []).append(
            {"consolidation": int(cid), "financement_total": round(float(total), 2), "etat": etat})
    perimetres = ev.perimetres
    ids = ev.ids
    # `perimetre_modifie`: the scope differs from the previous consolidation's (its movements then
    # mix the filter's effect with the département's)
    modifie = {b: bool(ev.changement_perimetre(a, b)) for a, b in zip(ids, ids[1:])}
    # `--departement`: said at the top, with the register's count, as the command's line says it — else a
    # program reading the file took one département's series of a région's register for the whole of it
    filtre = ({"departement": ev.departement, "consolidations_du_registre": ev.toutes}
              if ev.departement is not None else {})
    return {
        **filtre,
        "consolidations": [{"id": int(i), "date": d, "comite": c if isinstance(c, str) else None,
                            "departement": perimetres[int(i)][0], "sans_erreurs": perimetres[int(i)][1],
                            "perimetre_modifie": modifie.get(int(i), False),
                            "comite_hors_ordre": int(i) in ev.hors_ordre}
                           for i, d, c in ev.consolidations[["id", "date", "comite"]].itertuples(index=False)],
        "par_financeur": {f: [{"consolidation": c, "total": totaux[f][c], "par_statut": statuts[f][c]}
                              for c in ev.ids] for f in ev.financeurs()},
        "par_convention": par_convention,
    }


def finite(ev: Evolution) -> bool:
    """Every amount the évolution shows is a number a spreadsheet holds: an infinite one (written in a
    register by hand, or the sum of amounts near 10^308) made a workbook Excel must repair (« inf » in
    its cells) and a JSON that is not JSON (« Infinity »)."""
    import math

    values = [*ev.consolidations["financement_total"].tolist(), *ev.par_convention["financement_total"].tolist(),
              *(t for per in ev.totaux_financeurs().values() for t in per.values()),
              *(t for per in ev.statuts_financeurs().values() for c in per.values() for t in c.values()),
              *(x for m in ev.mouvements for x in (m.montant_avant, m.montant_apres, m.ecart) if x is not None)]
    return all(math.isfinite(float(v)) for v in values if v is not None and v == v)


def _one_departement_hint(ev: Evolution) -> str:
    """How to see one département's series, when the runs shown are of several (a région's register, each
    département consolidated from its folder): at each pair one's conventions « retirées », the other's
    « ajoutées »; "" otherwise."""
    deps = sorted({d for d, _ in ev.perimetres.values() if d is not None})
    if ev.departement is not None or len(deps) < 2:
        return ""
    return (f" ; le registre a des consolidations de plusieurs départements ({', '.join(deps)}) : « acv-xl historique "
            f"--departement {deps[0]} » montre celles d'un seul")


def run_historique(registre: Path, out: Path, json_path: Path | None = None, version: str = "",
                   replace: bool = False, departement: str | None = None) -> int:
    """The `acv-xl historique` command: exit status 0, or 2 with a French message. `departement`: the
    runs of that département only (`load`)."""
    from acv_xl.outputs.terminal import literal  # paths and texts shown as they are, no escape sequence

    t0 = time.perf_counter()

    def fail(message: str) -> int:
        print(literal(f"acv-xl : {message}"), file=sys.stderr)
        return 2

    try:  # a code of no département is refused before the register is opened, as `consolider` does
        departement_option(departement)
    except UsageError as exc:
        return fail(str(exc))
    if not registre.exists():
        # the name between « » as in every message (« registre introuvable : mon registre.sqlite. » read
        # as a sentence), never pasted into the command shown: unquoted, a name with a space split it
        return fail(f"registre introuvable : « {registre} ». Le registre est créé par « acv-xl consolider DOSSIER "
                    "-o SORTIE.xlsx --registre REGISTRE.sqlite », comité après comité.")
    from acv_xl.outputs.output_guard import Output, check_outputs

    outputs = [Output(out, (".xlsx",), "-o", HISTORIQUE)] + (
        [Output(json_path, (".json",), "--json", HISTORIQUE)] if json_path else [])
    if problem := check_outputs([registre], outputs, replace=replace):  # never the register, never a user's file
        return fail(problem)
    try:
        with Register.open(registre, version, create=False) as reg:
            ev = load(reg, departement)
    except UsageError as exc:  # (a RegisterError too)
        return fail(str(exc))
    except Exception as exc:  # damage found while reading (pandas wraps SQLite's error)
        cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
        if isinstance(cause, sqlite3.DatabaseError):
            return fail(str(damaged_error(f"« {registre} »", sqlite_why(cause))))
        raise
    if not ev.ids:
        return fail(str(empty_error(f"« {registre} »")))
    if not finite(ev):
        return fail(f"le registre « {registre} » contient des montants qu'un tableur ne peut pas représenter (infinis, "
                    "ou dont la somme dépasse 10^308 €) : rien n'est écrit. Restaurez une sauvegarde du registre s'il a "
                    "été modifié à la main ; sinon, corrigez le classeur aux montants démesurés et refaites ses "
                    "consolidations dans un registre neuf.")
    from acv_xl.history.historique_workbook import write_evolution

    try:
        coupees = write_evolution(ev, out, registre)
        if json_path is not None:
            data = indented(mark_json(to_json(ev), HISTORIQUE))
            atomic_write(json_path, lambda tmp: tmp.write_text(data, encoding="utf-8"))
    except PermissionError as exc:
        return fail(f"impossible d'écrire {exc.filename or out} : le fichier est peut-être ouvert dans Excel ; "
                    "fermez-le et relancez.")
    n = len(ev.ids)
    mixed = len(ev.paires_hors_perimetre())
    if mixed:
        print(f"Attention : {mixed} paire{'s' if mixed > 1 else ''} de consolidations successives "
              f"{'ne portent' if mixed > 1 else 'ne porte'} pas sur le même périmètre (département, « sans erreurs "
              "seulement ») : leurs conventions ajoutées ou retirées peuvent n'être que l'effet de ce changement "
              f"(colonne « {PERIMETRE_MODIFIE} » des feuilles Mouvements et Mouvements par financeur)"
              + _one_departement_hint(ev) + ".", file=sys.stderr)
    for reprise in ev.lignes_reprises:  # a register edited by hand: never in silence
        print(literal(f"Attention : {reprise}."), file=sys.stderr)
    for coupee in coupees:  # past a sheet's last row: never a silent loss
        print(f"Attention : {coupee}.", file=sys.stderr)
    if hors_ordre := ev.hors_ordre_texte():
        print(literal(f"Attention : {hors_ordre} (feuille Consolidations)."), file=sys.stderr)
    duree = f"{time.perf_counter() - t0:.1f}".replace(".", ",")
    # under --departement, the runs left aside are counted: never a series read as the whole register
    portee = (f" du département {ev.departement} (sur {fmt_number(ev.toutes)} du registre)"
              if ev.departement is not None and ev.toutes > n else
              f" du département {ev.departement}" if ev.departement is not None else "")
    print(literal(f"Historique : {n} consolidation{'s' if n > 1 else ''}{portee}, {len(ev.financeurs())} financeur"
                  f"{'s' if len(ev.financeurs()) > 1 else ''}, {len(ev.mouvements)} mouvement"
                  f"{'s' if len(ev.mouvements) > 1 else ''} → {out}" + (f" ; JSON : {json_path}" if json_path else "")
                  + f" ({duree} s)." + (f" {rien_a_comparer(ev)}" if not ev.mouvements else "")), file=sys.stderr)
    return 0


