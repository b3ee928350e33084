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


def test_setup_says_in_french_what_a_fresh_debian_lacks(tmp_path):
    """Python too old, or no python3-venv (a fresh Debian/Ubuntu): `scripts/setup.sh` stops with
    status 2 and the fix in French, and leaves no half-made .venv that the next run would trust."""
    import os
    import shutil
    import subprocess
    import sys

    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    fake = tmp_path / "python-sans-venv"
    # answers the version check as this interpreter does, fails like Debian's python3 without venv
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "venv" ]; then mkdir -p "$3/bin"; '
                    f'echo "The virtual environment was not created successfully because ensurepip is not '
                    f'available." >&2; exit 1; fi\nexec {sys.executable} "$@"\n')
    fake.chmod(0o755)
    done = subprocess.run(["bash", "scripts/setup.sh"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHON": str(fake)}, timeout=60)
    assert done.returncode == 2 and "installez le paquet python3-venv" in done.stderr, done.stderr
    assert "ensurepip" not in done.stderr and not (tmp_path / ".venv").exists()
    done = subprocess.run(["bash", "scripts/setup.sh"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHON": str(tmp_path / "absent")}, timeout=60)
    assert done.returncode == 2 and "acv-xl demande Python 3.11 ou plus récent" in done.stderr


def test_the_python_the_set_up_asks_for_is_the_package_s():
    """One minimum everywhere: the package's, the set-up's check and its message, the README's."""
    major, minor = re.search(r'requires-python = ">=(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text()).groups()
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert f"sys.version_info < ({major}, {minor})" in setup and f"Python {major}.{minor} ou plus récent" in setup
    assert f"Python ≥ {major}.{minor})" in (ROOT / "README.md").read_text(encoding="utf-8")


def _shown_commands() -> list[tuple[str, str]]:
    """Every `acv-xl …` the README and docs/ show (code spans, and lines of code blocks), with its file."""
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        spans = re.findall(r"`(acv-xl [^`]+)`", text)
        blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
        spans += [m for b in blocks for m in re.findall(r"^\s*(acv-xl \S.*?)(?:\s{2,}\S.*)?$", b, flags=re.M)]
        out += [(path.name, s) for s in spans]
    return out


def _as_typed(usage: str) -> list[str]:
    """A synopsis as a user would type it: optional parts kept, the first of each choice
    (`texte|json` → `texte`, `[ACVxxx|INSEE]` → `ACVxxx`), `FICHIER…` once, a number for `N`."""
    import shlex

    s = usage.replace("\\|", "|").replace("…", "").replace("[", " ").replace("]", " ")
    numbers = {"N": "2", "MO": "20", "S": "60"}
    return [numbers.get(t, t).split("|")[0] for t in shlex.split(s)]


def test_every_command_the_docs_show_is_one_the_cli_takes():
    """Each `acv-xl …` of the README and docs/ names a command and options that exist, spelt in full
    (argparse would take an abbreviation, a reader copying it another version would not); a complete
    one — a file or folder named — parses as shown. A renamed or removed option fails here."""
    import argparse
    import contextlib
    import io

    from acv_xl.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    shown = _shown_commands()
    assert len(shown) > 30
    for where, usage in shown:
        tokens = _as_typed(usage)[1:]
        if tokens[0].startswith("-"):
            assert tokens[0] in parser._option_string_actions, (where, usage)
            continue
        assert tokens[0] in sub.choices, (where, usage)
        command = sub.choices[tokens[0]]
        positionals, rest = [], iter(tokens[1:])
        for t in rest:
            if t.startswith("-"):
                assert t in command._option_string_actions, (where, usage, t)
                if command._option_string_actions[t].nargs != 0:
                    next(rest, None)  # its value
            else:
                positionals.append(t)
        # a complete command (a mention such as « `acv-xl valider --annoter` » in a sentence is not)
        if positionals or tokens[0] in ("serveur", "reference"):
            with contextlib.redirect_stderr(io.StringIO()) as err:
                try:
                    parser.parse_args(tokens)
                except SystemExit:
                    raise AssertionError((where, usage, err.getvalue())) from None


def test_no_page_states_a_rule_count_the_registry_does_not_have():
    """A count of rules written in prose rots as rules are added (the README said « 72 règles »
    while the registry held 76): any « N règles » the docs state must be the registry's count."""
    stated = [(path.name, int(m.group(1))) for path in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
              for m in re.finditer(r"(\d+)\s+(?:règles|contrôles)\b", path.read_text(encoding="utf-8"))]
    assert [s for s in stated if s[1] != len(REGISTRY)] == []


def test_the_national_list_section_names_every_rule_that_compares_with_it():
    """« `PRJ-06` à `PRJ-10` et `FIN-19` comparent le classeur à la liste nationale » stayed as PRJ-11 joined
    them: each rule of `liste_nationale.py` is named there, alone or within a range « `PRJ-06` à `PRJ-11` »."""
    text = (ROOT / "docs" / "regles.md").read_text(encoding="utf-8")
    section = text.split("## Liste nationale des communes", 1)[1].split("\n## ", 1)[0]
    first = section.strip().split("\n\n", 1)[0]
    named = set(re.findall(r"`([A-Z]{3}-\d\d)`", first))
    for prefix, lo, hi in re.findall(r"`([A-Z]{3})-(\d\d)` à `[A-Z]{3}-(\d\d)`", first):
        named |= {f"{prefix}-{n:02d}" for n in range(int(lo), int(hi) + 1)}
    compared = {code for code, rule in REGISTRY.items() if rule.func.__module__.endswith(".liste_nationale")}
    assert compared and compared <= named, sorted(compared - named)


def _gravities_in_code() -> dict[str, set[str]]:
    """Each rule code → the gravities the source of `acv_xl` gives it where it builds a finding
    (`Finding(code="CON-03", gravite=Gravite.ERREUR…`, `at_table(conv, T, "GOU-01", A, …`)."""
    names = {"E": "ERREUR", "A": "AVERTISSEMENT", "I": "INFORMATION"}
    found: dict[str, set[str]] = {}
    for path in (ROOT / "acv_xl").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for code, g in re.findall(r'"([A-Z]{3}-\d\d)"\s*,\s*(?:gravite=)?(E|A|I|Gravite\.[A-Z]+)\b', text):
            found.setdefault(code, set()).add(names.get(g, g.removeprefix("Gravite.")))
        # an unreadable file: `validate.unreadable` makes its one finding an error (checked below)
        for code in re.findall(r'(?:unreadable|UnreadableWorkbook|_unreadable)\(\s*[^()"]*?"([A-Z]{3}-\d\d)"', text):
            found.setdefault(code, set()).add("ERREUR")
    return found


def test_the_catalogue_lists_only_what_the_code_emits_with_the_gravities_it_gives():
    """The other direction of the test above: each code of the catalogue's tables is a registered
    rule or one the code emits itself (STR-00 to STR-02, CON-01 to CON-05), with the gravity the
    catalogue gives it; a rule that also emits another gravity is named under « Gravités variables »."""
    from acv_xl.checks.validate import unreadable
    text = (ROOT / "docs" / "regles.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in
            re.finditer(r"^\| `([A-Z]{3}-\d\d)`(?: ✚)? \| (\w+) \|", text, flags=re.M)}
    in_code = _gravities_in_code()
    by_label = {label: g.name for g, label in LABEL.items()}
    for code, label in rows.items():
        if code in REGISTRY:
            continue
        assert code in in_code, f"{code} : dans le catalogue, émis nulle part"
        assert in_code[code] == {by_label[label]}, (code, label, in_code[code])
    assert unreadable("x.xlsx", "STR-02", "…").findings[0].gravite == Gravite.ERREUR
    variable = text.split("## Gravités variables", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^- `([A-Z]{3}-\d\d)`", variable, flags=re.M))
    varying = {code for code, rule in REGISTRY.items() if in_code.get(code, set()) - {rule.gravite.name}}
    assert varying and varying <= listed, sorted(varying - listed)
    assert listed <= varying, sorted(listed - varying)  # a rule listed there whose gravity never varies


def _keys(value, where="") -> set[str]:
    """The keys of a JSON value, level by level (`consolidations[].id`…); a mapping whose keys are data
    (funder codes, conventions, statuses) counts as one key `*`."""
    data_keyed = ("par_financeur", "par_convention", "par_statut")
    if isinstance(value, dict):
        if where.rsplit(".", 1)[-1].rstrip("[]") in data_keyed:
            return {f"{where}.*"} | set().union(*(_keys(v, f"{where}.*") for v in value.values()))
        return {f"{where}.{k}" for k in value} | set().union(*(_keys(v, f"{where}.{k}") for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(_keys(v, f"{where}[]") for v in value))
    return set()


def test_the_history_json_example_has_the_keys_historique_writes(tmp_path, example_folder):
    """docs/evolution.md's example of `historique --json` has the keys of the real file, no more, no less
    (it lacked the mark `acv_xl` that comes first)."""
    import json

    from acv_xl.cli import main

    text = (ROOT / "docs" / "evolution.md").read_text(encoding="utf-8")
    example = json.loads(next(b for b in re.findall(r"```json\n(.*?)```", text, flags=re.S) if '"consolidations"' in b))
    registre = tmp_path / "registre.sqlite"
    for comite in ("Comité du 12/06/2026", "Comité du 19/06/2026"):
        assert main(["consolider", str(example_folder), "-o", str(tmp_path / "c.xlsx"), "--remplacer",
                     "--departement", "62", "--registre", str(registre), "--comite", comite]) in (0, 1)
    assert main(["historique", str(registre), "-o", str(tmp_path / "h.xlsx"), "--json", str(tmp_path / "h.json")]) == 0
    real = json.loads((tmp_path / "h.json").read_text(encoding="utf-8"))
    assert list(real)[0] == list(example)[0] == "acv_xl" and real["acv_xl"] == example["acv_xl"]
    assert _keys(example) == _keys(real)
    # its figures are those of the shipped examples at the first comité
    assert real["par_financeur"]["ETAT"][0] == example["par_financeur"]["ETAT"][0]
    assert real["par_convention"]["ACV113"][0] == example["par_convention"]["ACV113"][0]
    assert {k: v for k, v in real["consolidations"][0].items() if k != "date"} == \
        {k: v for k, v in example["consolidations"][0].items() if k != "date"}


def test_the_docs_name_the_annexes_default_outputs_as_the_code_makes_them():
    """Without -o, the avenant's annex and its PDF are CLASSEUR_annexe_avenant.xlsx and .pdf, the
    convention's CLASSEUR_annexe.xlsx (`annex.default_output`): the README said the avenant's workbook
    « and PDF » were both written under the .xlsx name."""
    from acv_xl.outputs.annex import default_output

    readme = re.sub(r"\s+", " ", (ROOT / "README.md").read_text(encoding="utf-8"))
    evolution = re.sub(r"\s+", " ", (ROOT / "docs" / "evolution.md").read_text(encoding="utf-8"))
    for text, stem in ((readme, "CLASSEUR"), (evolution, "APRES")):
        avenant = default_output(Path(f"{stem}.xlsx"), avenant=True)
        assert f"`{default_output(Path(f'{stem}.xlsx')).name}`" in text, stem
        assert f"`{avenant.name}`" in text and f"`{avenant.with_suffix('.pdf').name}`" in text, stem
