"""Findings: errors as data (code, severity, position, French message, suggestion)."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class Gravite(str, Enum):
    ERREUR = "erreur"
    AVERTISSEMENT = "avertissement"
    INFORMATION = "information"

    @property
    def libelle(self) -> str:
        """The word shown in the workbook's `Gravité` column."""
        return {"erreur": "Erreur", "avertissement": "Avertissement", "information": "Information"}[self.value]


ORDER = {Gravite.ERREUR: 0, Gravite.AVERTISSEMENT: 1, Gravite.INFORMATION: 2}


class Finding(BaseModel):
    model_config = ConfigDict(defer_build=True)

    code: str
    gravite: Gravite
    feuille: str = ""
    cellule: str = ""
    action: str = ""
    message: str
    suggestion: str = ""

    def as_json(self) -> dict:
        return {
            "code": self.code,
            "gravite": self.gravite.value,
            "feuille": self.feuille,
            "cellule": self.cellule,
            "action": self.action,
            "message": self.message,
            "suggestion": self.suggestion,
        }


def count(findings: list[Finding]) -> dict[str, int]:
    return {
        "erreurs": sum(f.gravite is Gravite.ERREUR for f in findings),
        "avertissements": sum(f.gravite is Gravite.AVERTISSEMENT for f in findings),
        "informations": sum(f.gravite is Gravite.INFORMATION for f in findings),
    }


def has_errors(findings: list[Finding]) -> bool:
    return any(f.gravite is Gravite.ERREUR for f in findings)
