"""The user documentation stays true to the code."""

import re
from pathlib import Path

from acv_xl.checks.findings import Gravite
from acv_xl.checks.rules import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
LABEL = {Gravite.ERREUR: "Erreur", Gravite.AVERTISSEMENT: "Avertissement", Gravite.INFORMATION: "Information"}


def test_every_rule_is_in_the_catalogue_with_its_severity_and_title():
    text = (ROOT / "docs" / "regles.md").read_text(encoding="utf-8")
    rows = {m.group(1): (m.group(2), m.group(3)) for m in
            re.finditer(r"^\| `([A-Z]{3}-\d\d)`(?: ✚)? \| (\w+) \| ([^|]+) \|", text, flags=re.M)}
    for code, rule in REGISTRY.items():
        assert code in rows, code
        assert rows[code] == (LABEL[rule.gravite], rule.titre.strip()), code
    for code in ("STR-00", "STR-01", "STR-02", "CON-01", "CON-02", "CON-03", "CON-04", "CON-05"):
        assert code in rows, code


def test_readme_names_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for cmd in ("modele", "exemples", "valider", "annexe", "comparer", "consolider", "historique", "migrer", "serveur",
                "reference"):
        assert f"acv-xl {cmd}" in readme, cmd
    assert "XLWINGS_LICENSE_KEY=noncommercial" in readme
