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


def test_the_demo_writes_every_file_the_readme_promises(tmp_path):
    """`scripts/demo.sh` after its set-up, run with this interpreter in an empty folder: sortie/
    holds the template, the six examples, the validation report and the consolidation with its JSON,
    as « Démarrer » says (the report was once only printed)."""
    import json
    import shlex
    import subprocess
    import sys

    script = (ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    body = [line for line in script.splitlines()
            if not line.startswith(("cd ", "bash scripts/setup.sh"))]  # the venv is this test's
    run = "\n".join(body).replace(".venv/bin/acv-xl", f"{shlex.quote(sys.executable)} -m acv_xl")
    done = subprocess.run(["bash", "-c", run], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`sortie/validation.txt`" in readme
    out = tmp_path / "sortie"
    assert (out / "modele_acv.xlsx").is_file()
    assert len(list((out / "exemples").glob("*.xlsx"))) == 6
    report = (out / "validation.txt").read_text(encoding="utf-8")
    assert report.count("Fichier : sortie/exemples/") == 6 and "Verdict : à corriger" in report
    assert json.loads((out / "consolidation_62.json").read_text(encoding="utf-8"))["departement"] == "62"
    assert (out / "consolidation_62.xlsx").is_file()
