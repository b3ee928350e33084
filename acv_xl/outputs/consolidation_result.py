"""The result of a consolidation: what the batch computed and every writer reads.

Its own module so that the batch (`consolidation`) and the writers (`consolidation_workbook`, the
JSON summary) both import it, and neither imports the other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path

from acv_xl.checks.findings import ORDER, Gravite
from acv_xl.checks.rules.consolidation import FileSummary, Verdict
from acv_xl.checks.totals import ZERO, Totaux, combine
from acv_xl.contract.values import fmt_euros


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
    extracts: list[Path] = field(default_factory=list)  # one workbook per financeur (`--par-financeur`)

    @cached_property
    def counted(self) -> list[FileSummary]:
        """The counted workbooks, by convention id (then path): the order of every sheet but `Fichiers`."""
        return sorted((f for f, v in zip(self.files, self.verdicts) if v.compte),
                      key=lambda f: (f.acv_id is None, f.acv_id or "", f.rel))

    @cached_property
    def totaux(self) -> Totaux:
        return combine(f.totaux for f in self.counted)

    @cached_property
    def acquis(self) -> Decimal:
        return sum((f.acquis for f in self.counted), ZERO)

    @cached_property
    def anomalies(self) -> list[Anomalie]:
        """Every finding of every file (CON first), file by file, errors first."""
        out: list[Anomalie] = []
        for f, v in zip(self.files, self.verdicts):
            out.extend(Anomalie(f.rel, f.acv_id, x.code, x.gravite, x.feuille, x.cellule, x.action, x.message,
                                x.suggestion) for x in v.findings)
            own = [Anomalie(f.rel, f.acv_id, c, _GRAVITE[g], fe, ce, a, m, s) for c, g, fe, ce, a, m, s in f.findings]
            out.extend(sorted(own, key=lambda x: ORDER[x.gravite]))  # stable: the validator's order within a gravity
        return out

    def counts(self, f: FileSummary) -> tuple[int, int]:
        """(errors, warnings) of a file: its own findings plus its CON findings."""
        v = self._verdict_of[f.rel]
        return (f.nb_erreurs + sum(x.gravite is Gravite.ERREUR for x in v.findings),
                f.nb_avertissements + sum(x.gravite is Gravite.AVERTISSEMENT for x in v.findings))

    @cached_property
    def _verdict_of(self) -> dict[str, Verdict]:
        return {f.rel: v for f, v in zip(self.files, self.verdicts)}

    def count(self, gravite: Gravite, counted_only: bool = False) -> int:
        return sum(a.gravite is gravite for a in self.anomalies_of(counted_only))

    def anomalies_of(self, counted_only: bool) -> list[Anomalie]:
        if not counted_only:
            return self.anomalies
        keep = {f.rel for f in self.counted}
        return [a for a in self.anomalies if a.rel in keep]

    @property
    def exit_code(self) -> int:
        """0: every counted workbook is valid; 1: errors in a counted workbook, or CON errors."""
        con_errors = any(fd.gravite is Gravite.ERREUR for v in self.verdicts for fd in v.findings)
        counted_errors = any(f.nb_erreurs for f in self.counted)
        return 1 if con_errors or counted_errors else 0

    def summary_line(self) -> str:
        n, c = len(self.files), len(self.counted)
        motifs = defaultdict(int)
        for v in self.verdicts:
            if not v.compte:
                motifs[v.motif] += 1
        non = ""
        if motifs:
            detail = ", ".join(f"{k} : {v}" for k, v in sorted(motifs.items()))
            non = f", {n - c} fichier{'s' if n - c > 1 else ''} non compté{'s' if n - c > 1 else ''} ({detail})"
        e, a = self.count(Gravite.ERREUR), self.count(Gravite.AVERTISSEMENT)
        return (
            f"{n} fichier{'s' if n > 1 else ''} lu{'s' if n > 1 else ''}, {c} convention{'s' if c > 1 else ''} "
            f"comptée{'s' if c > 1 else ''}{non} ; {e} erreur{'s' if e > 1 else ''}, "
            f"{a} avertissement{'s' if a > 1 else ''} ; financement total {fmt_euros(self.totaux.financement_total)}"
            + (f" → {self.out}" if self.out else "")
        )
