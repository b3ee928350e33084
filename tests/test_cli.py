"""The command line as a user meets it: French help, usage errors, output encodings."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from acv_xl.cli import build_parser
from acv_xl.outputs.examples import example_conventions
from acv_xl.outputs.template import build_workbook

COMMANDS = ("modele", "exemples", "valider", "annexe", "comparer", "consolider", "historique", "migrer", "serveur",
            "reference")


def acv(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "acv_xl", *args], capture_output=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_every_command_of_the_spec_is_there():
    sub = next(a for a in build_parser()._actions if a.dest == "commande")
    assert tuple(sub.choices) == COMMANDS


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_is_french(cmd):
    out = acv(cmd, "--help")
    text = out.stdout.decode()
    assert out.returncode == 0
    assert "usage : acv-xl" in text and "affiche cette aide et quitte" in text
    assert "show this help" not in text and "positional arguments" not in text


def test_modele_is_called_vierge_as_in_the_messages_and_the_readme():
    """One word for the blank template: « vierge », as STR-03's « modèle vierge (acv-xl modele) »."""
    assert "écrit le modèle de classeur vierge" in acv("--help").stdout.decode()
    assert "modèle de classeur ACV vierge" in acv("modele", "--help").stdout.decode()


def test_usage_error_is_french_with_status_2():
    out = acv("valider")
    assert out.returncode == 2
    assert "arguments obligatoires manquants" in out.stderr.decode()
    out = acv("valider", "x.xlsx", "--format", "xml")
    assert out.returncode == 2 and "choix invalide" in out.stderr.decode()


def test_usage_errors_quote_in_french_and_never_name_a_python_type():
    """« pdf », not 'pdf'; a mistyped command gets the one it resembles; a bad port is said in words,
    never « valeur invalide pour int »."""
    out = acv("valider", "x.xlsx", "--format", "pdf")
    err = out.stderr.decode()
    assert out.returncode == 2 and "choix invalide : « pdf » (choisir parmi « texte », « json »)" in err
    assert "'" not in err.splitlines()[-1]
    out = acv("valide", "x.xlsx")
    assert out.returncode == 2 and "« valide »" in out.stderr.decode()
    assert "vouliez-vous dire « valider » ?" in out.stderr.decode()
    out = acv("serveur", "--port", "huit")
    err = out.stderr.decode()
    assert out.returncode == 2 and "un numéro de port entre 1 et 65535 est attendu, pas « huit »" in err
    assert "int" not in err.splitlines()[-1]


def test_json_report_is_utf8_even_on_a_legacy_console_encoding(tmp_path):
    """A file name outside cp1252 (a ⊃ and an emoji) in a JSON report redirected to a file on a
    Windows-like encoding: the report is written, in UTF-8, not an encoding error."""
    name, conv = next(iter(example_conventions().items()))
    path = tmp_path / f"cœur ⊃ ville 🏛 {name}"
    build_workbook(path, conv)
    out = acv("valider", str(path), "--format", "json", env={"PYTHONIOENCODING": "cp1252"})
    assert out.returncode in (0, 1), out.stderr.decode()
    report = json.loads(out.stdout.decode("utf-8"))
    assert report["fichier"] == str(path) and report["acv_id"] == conv.acv_id


def test_python_m_and_script_entry_point_agree(tmp_path):
    out = tmp_path / "m.xlsx"
    r = acv("modele", str(out))
    assert r.returncode == 0 and out.exists()
    assert "Modèle écrit" in r.stdout.decode()


def test_bad_number_of_jobs_is_french(tmp_path):
    for value, words in (("abc", "un nombre entier est attendu"), ("0", "au moins 1 processus")):
        out = acv("consolider", str(tmp_path), "-o", str(tmp_path / "o.xlsx"), "--jobs", value)
        assert out.returncode == 2 and words in out.stderr.decode()
        assert "invalid" not in out.stderr.decode()


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`acv-xl valider … | head -1`: no « erreur interne » when the reader goes away, and not the
    status 0 (« aucune erreur ») of a report cut short — three of the examples have errors."""
    root = Path(__file__).resolve().parents[1]
    # more output than a pipe buffers (64 KiB), so that writing goes on after the reader left: each
    # example 30 times, under 30 names (a file named twice is validated once)
    files = []
    for i in range(30):
        for p in sorted((root / "workbooks" / "exemples").glob("*.xlsx")):
            (link := tmp_path / f"{i}_{p.name}").symlink_to(p)
            files.append(str(link))
    proc = subprocess.Popen([sys.executable, "-m", "acv_xl", "valider", "--format", "json", *files],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    # stopped before its end: the shell's status for a closed pipe, never 0 (« aucune erreur »)
    assert proc.wait(timeout=120) == 141
    assert "erreur interne" not in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["comparer", "arras.xlsx", "copie.xlsx"], ["annexe", "arras.xlsx", "-o", "a.xlsx"]])
def test_a_closed_pipe_ends_every_command_as_a_closed_pipe(tmp_path, command):
    """What rich prints (`comparer`, `annexe`) to a reader gone away ended with rich's own
    `SystemExit(1)`: « des changements » of two identical workbooks, an annex written said failed.
    Every command ends a closed pipe alike: status 141, nothing on stderr."""
    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "workbooks" / "exemples" / "arras.xlsx", tmp_path / "arras.xlsx")
    shutil.copy(root / "workbooks" / "exemples" / "arras.xlsx", tmp_path / "copie.xlsx")
    read, write = os.pipe()
    os.close(read)  # the reader gone before the first line
    try:
        proc = subprocess.run([sys.executable, "-m", "acv_xl", *command], stdout=write, stderr=subprocess.PIPE,
                              cwd=tmp_path, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 141 and proc.stderr == b"", proc.stderr.decode()


def test_an_empty_licence_key_is_taken_as_unset(monkeypatch):
    """`XLWINGS_LICENSE_KEY=` (empty, as a unit file may leave it) means the default, noncommercial."""
    from udfs.server import configure_environment

    monkeypatch.setattr(os, "environ", dict(os.environ))  # it sets server-mode variables: never for the suite
    for value in ("", "  "):
        monkeypatch.setenv("XLWINGS_LICENSE_KEY", value)
        configure_environment()
        assert os.environ["XLWINGS_LICENSE_KEY"] == "noncommercial"
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", "une-autre-cle")
    configure_environment()
    assert os.environ["XLWINGS_LICENSE_KEY"] == "une-autre-cle"  # a key given is never replaced


def test_a_bad_xlwings_licence_key_is_said_in_french():
    """XLWINGS_LICENSE_KEY wrong stops the server with what to do, in French, status 2 — not
    xlwings' English « Couldn't find an xlwings license key » as an internal error."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    out = acv("serveur", "--port", port, env={"XLWINGS_LICENSE_KEY": "pas-une-cle"})
    err = out.stderr.decode()
    assert out.returncode == 2, err
    assert "XLWINGS_LICENSE_KEY=noncommercial" in err and "erreur interne" not in err and "license key" not in err


@pytest.mark.parametrize("by_env", [False, True])
def test_a_reference_list_s_problems_are_said_once_each_on_their_own_line(tmp_path, monkeypatch, capsys, by_env):
    """A reference list with bad cells: one line per problem (not « ␊ » in one long line), each
    once (the list given by ACV_XL_REFERENCE printed them twice), the sentence in lower case after
    « … : »."""
    from acv_xl.cli import main
    from acv_xl.contract.reference import SHIPPED

    header, first, second = SHIPPED.read_text(encoding="utf-8").splitlines()[:3]
    bad = tmp_path / "liste.csv"
    bad.write_text("\n".join([header, first.replace(first.split(",")[2], "demain", 1),
                              second.replace(second.split(",")[2], "hier", 1)]) + "\n", encoding="utf-8")
    book = tmp_path / "arras.xlsx"
    build_workbook(book, example_conventions()["arras.xlsx"])
    if by_env:
        monkeypatch.setenv("ACV_XL_REFERENCE", str(bad))
        status = main(["valider", str(book)])
    else:
        monkeypatch.delenv("ACV_XL_REFERENCE", raising=False)
        status = main(["valider", str(book), "--reference", str(bad)])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert status == 2 and "␊" not in err, err
    named = f"« {bad} »" + (" (variable d'environnement ACV_XL_REFERENCE)" if by_env else "")
    assert lines[0] == f"acv-xl : le fichier de référence {named} est invalide :", lines[0]
    assert [line for line in lines[1:] if "date attendue" in line] == [
        "  - ligne 2, colonne « date_signature_convention » : date attendue au format AAAA-MM-JJ ou JJ/MM/AAAA "
        "(valeur lue « demain »)",
        "  - ligne 3, colonne « date_signature_convention » : date attendue au format AAAA-MM-JJ ou JJ/MM/AAAA "
        "(valeur lue « hier »)"]


@pytest.mark.parametrize("content, words", [
    (None, "entree.xlsx » est introuvable. Vérifiez le chemin"),
    (b"N\xb0 action;Montant\n1.1;1000\n", "est un fichier texte (CSV)"),
])
def test_annoter_an_unusable_file_says_why(tmp_path, content, words):
    """« impossible d'annoter un fichier illisible » said neither which nor why: the report, the
    only place saying it, is not printed when the command stops there."""
    src = tmp_path / "entree.xlsx"
    if content is not None:
        src.write_bytes(content)
    out = acv("valider", str(src), "--annoter", str(tmp_path / "copie.xlsx"), env={"PYTHONIOENCODING": "utf-8"})
    err = out.stderr.decode("utf-8")
    assert out.returncode == 2 and not (tmp_path / "copie.xlsx").exists()
    assert err.startswith("acv-xl : la copie annotée n'a pas été écrite. ") and words in err


def test_exemples_into_an_empty_name_writes_nothing(tmp_path):
    """An empty DOSSIER (a script's unset variable) is « . » to Path: the examples went where the
    command ran."""
    out = acv("exemples", "", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    assert out.returncode == 2 and list(tmp_path.iterdir()) == []
    assert "le nom du dossier est vide" in out.stderr.decode("utf-8")


@pytest.mark.parametrize("args, what", [
    (["exemples", "Exemples.xlsx"], "le dossier des exemples"),
    (["consolider", "in", "-o", "c.xlsx", "--par-financeur", "Extraits.xlsx", "--registre", "r.sqlite"],
     "le dossier de --par-financeur"),
], ids=["exemples", "par-financeur"])
def test_a_file_name_given_for_a_folder_is_refused_and_nothing_is_created(tmp_path, monkeypatch, capsys, args, what):
    """A workbook's name typed where a folder is expected (`acv-xl exemples Exemples.xlsx`, `--par-financeur
    Extraits.xlsx`) created a folder of that name, the workbooks inside it, and a new register: refused with
    status 2, nothing created. A folder of that name the user made is his own: taken."""
    from acv_xl.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    assert main(args) == 2
    folder = args[-1] if args[0] == "exemples" else args[args.index("--par-financeur") + 1]
    assert capsys.readouterr().err == (
        f"acv-xl : « {folder} » porte l'extension d'un fichier (.xlsx) là où {what} est attendu : indiquez un nom de "
        f"dossier, par exemple « {folder[:-5]} » (ou créez d'abord ce dossier, s'il doit porter ce nom).\n")
    assert [p.name for p in tmp_path.iterdir()] == ["in"]
    if args[0] == "exemples":
        (tmp_path / folder).mkdir()
        assert main(args) == 0 and len(list((tmp_path / folder).glob("*.xlsx"))) == len(example_conventions())


@pytest.mark.parametrize("args, what", [
    (["exemples", "Exemples "], "le dossier des exemples"),
    (["consolider", "in", "-o", "c.xlsx", "--par-financeur", "Extraits  ", "--registre", "r.sqlite"],
     "le dossier de --par-financeur"),
], ids=["exemples", "par-financeur"])
def test_a_folder_to_create_whose_name_ends_with_a_space_is_refused(tmp_path, monkeypatch, capsys, args, what):
    """`--par-financeur "Extraits "` (a name pasted with its space) created « Extraits␣ », said « 10 extraits
    par financeur dans Extraits  » — a folder whose name no one sees and Windows, through a share, cannot
    open —, as `-o "c.xlsx "` is refused. Refused the same, nothing created; one the user made is taken."""
    from acv_xl.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    assert main(args) == 2
    folder = args[1] if args[0] == "exemples" else args[args.index("--par-financeur") + 1]
    spaces = "une espace ; retirez-la" if folder.endswith("s ") else "des espaces ; retirez-les"
    assert capsys.readouterr().err == (f"acv-xl : « {folder.rstrip()} », nom donné pour {what}, finit par {spaces} "
                                       "(ou créez d'abord ce dossier, s'il doit porter ce nom).\n")
    assert [p.name for p in tmp_path.iterdir()] == ["in"]
    if args[0] == "exemples":
        (tmp_path / folder).mkdir()
        assert main(args) == 0 and len(list((tmp_path / folder).glob("*.xlsx"))) == len(example_conventions())


@pytest.mark.parametrize("target", ["ailleurs", "exemples"], ids=["lien-casse", "lien-en-boucle"])
def test_exemples_into_a_broken_link_says_so_before_anything(tmp_path, monkeypatch, capsys, target):
    """`acv-xl exemples exemples` where « exemples » is a link to nothing (a folder moved, a looping link):
    « fichier inaccessible : exemples (le fichier existe déjà) », said once the folder could not be made.
    It is refused first, the link named as such, as `--par-financeur` refuses it."""
    from acv_xl.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "exemples").symlink_to(target)
    assert main(["exemples", "exemples"]) == 2
    assert capsys.readouterr().err == ("acv-xl : « exemples » est un lien symbolique dont la cible est introuvable, "
                                       "pas un dossier : indiquez le dossier où écrire les exemples.\n")
    assert [p.name for p in tmp_path.iterdir()] == ["exemples"] and (tmp_path / "exemples").is_symlink()


def test_valider_expands_a_pattern_as_windows_shells_do_not(tmp_path):
    """`acv-xl valider *.xlsx` typed in cmd or PowerShell arrives as typed: each workbook is validated,
    not « le fichier « *.xlsx » est introuvable »."""
    for name in ("b.xlsx", "a.xlsx"):
        build_workbook(tmp_path / name)
    (tmp_path / "~$a.xlsx").write_bytes(b"\x05Jean " + b"\x00" * 160)  # Excel's lock file, a.xlsx open
    out = acv("valider", "*.xlsx", "--format", "json", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    assert [r["fichier"] for r in json.loads(out.stdout)] == ["a.xlsx", "b.xlsx"]
    out = acv("valider", "*.xlsm", "--format", "json", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    # a pattern matching nothing is said to be one (« le fichier « *.xlsm » est introuvable » named no file)
    ((c,),) = [r["constats"] for r in json.loads(out.stdout)]  # a pattern: a list (`test_the_json_shape…`)
    assert out.returncode == 2 and c["message"] == "Aucun fichier ne correspond au motif « *.xlsm »."


def test_valider_json_names_a_file_not_in_utf8_with_its_byte_escaped(tmp_path):
    """« caf\\xe9.xlsx » and « caf\\xe8.xlsx » in Latin-1 (a share mounted so, a zip made on Windows): `valider
    --format json` named both « caf?.xlsx », the undecodable byte replaced when printed — two reports a
    script could not tell apart, where `comparer` and `consolider` write « caf\\xe9.xlsx » in their JSON."""
    for byte in (b"\xe9", b"\xe8"):
        build_workbook(tmp_path / os.fsdecode(b"caf" + byte + b".xlsx"))
    out = acv("valider", "*.xlsx", "--format", "json", cwd=tmp_path)
    assert out.returncode in (0, 1), out.stderr  # an empty template has errors
    assert [r["fichier"] for r in json.loads(out.stdout.decode("utf-8"))] == ["caf\\xe8.xlsx", "caf\\xe9.xlsx"]


def test_consolider_expands_a_pattern_as_windows_shells_do_not(tmp_path):
    """`acv-xl consolider *.xlsx -o recap.xlsx` typed in cmd or PowerShell arrives as typed: refused,
    « « *.xlsx » est introuvable (ni dossier ni fichier de ce nom) », where `valider *.xlsx` expands it.
    Each workbook is consolidated — run again, the previous recap the pattern now matches is ours,
    replaced and never read —, and a pattern matching nothing is said to be one."""
    for name in ("b.xlsx", "a.xlsx"):
        build_workbook(tmp_path / name)
    env = {"PYTHONIOENCODING": "utf-8"}
    for extra in ((), ("--remplacer",)):
        out = acv("consolider", "*.xlsx", "-o", "recap.xlsx", "--json", "recap.json", "--jobs", "1", *extra,
                  cwd=tmp_path, env=env)
        assert out.returncode in (0, 1), out.stderr.decode("utf-8")
        shown = [c["fichier"] for c in json.loads((tmp_path / "recap.json").read_text(encoding="utf-8"))["conventions"]]
        assert sorted(shown) == ["a.xlsx", "b.xlsx"], shown
    out = acv("consolider", "*.xlsm", "-o", "autre.xlsx", cwd=tmp_path, env=env)
    assert out.returncode == 2 and not (tmp_path / "autre.xlsx").exists()
    assert out.stderr.decode("utf-8") == ("acv-xl : aucun dossier ni fichier ne correspond au motif « *.xlsm ». "
                                          "Vérifiez le chemin.\n")


def test_consolider_a_pattern_matching_the_register_leaves_it_out(tmp_path):
    """`acv-xl consolider * --registre registre.sqlite` with the register beside the workbooks (or `*`
    expanded by a Unix shell): the register, named by the pattern, was read as a workbook — « 1 fichier
    non compté (illisible : 1) », one more error in the comité's report, recorded in the register itself.
    It is acv-xl's, never an input, as a folder walked never takes it."""
    for name in ("b.xlsx", "a.xlsx"):
        build_workbook(tmp_path / name)
    env = {"PYTHONIOENCODING": "utf-8"}
    for extra in ((), ("--remplacer",)):
        out = acv("consolider", "*", "-o", "recap.xlsx", "--json", "recap.json", "--registre", "registre.sqlite",
                  "--jobs", "1", *extra, cwd=tmp_path, env=env)
        assert out.returncode in (0, 1) and (tmp_path / "registre.sqlite").exists(), out.stderr.decode("utf-8")
        assert "illisible" not in out.stdout.decode("utf-8"), out.stdout.decode("utf-8")
        assert json.loads((tmp_path / "recap.json").read_text(encoding="utf-8"))["fichiers"] == 2


def test_consolider_a_pattern_takes_what_the_folder_walk_takes(tmp_path):
    """`acv-xl consolider * -o recap.xlsx` typed in cmd beside the workbooks read every file `*` matched: a
    note, a PDF, a Word letter (a copy of a workbook: « doublon »), each counted « non compté » in the
    comité's report, where `consolider .` leaves them out; a pattern matching Excel's lock file only gave
    a recap of no convention, status 1, where `valider` names the lock file. The pattern's matches are now
    taken as a folder walk takes its entries, and a pattern matching no workbook is refused, naming
    what it matched."""
    for name in ("b.xlsx", "a.xlsx"):
        build_workbook(tmp_path / name)
    (tmp_path / "notes.txt").write_text("à relire", encoding="utf-8")
    (tmp_path / "convention.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "lettre.docx").write_bytes((tmp_path / "a.xlsx").read_bytes())
    env = {"PYTHONIOENCODING": "utf-8"}
    out = acv("consolider", "*", "-o", "recap.xlsx", "--json", "recap.json", "--jobs", "1", cwd=tmp_path, env=env)
    assert out.returncode in (0, 1), out.stderr.decode("utf-8")
    assert json.loads((tmp_path / "recap.json").read_text(encoding="utf-8"))["fichiers"] == 2
    (tmp_path / "verrou").mkdir()
    (tmp_path / "verrou" / "~$a.xlsx").write_bytes(b"\x05Jean " + b"\x00" * 160)
    out = acv("consolider", os.path.join("verrou", "*"), "-o", "autre.xlsx", cwd=tmp_path, env=env)
    assert out.returncode == 2 and not (tmp_path / "autre.xlsx").exists()
    assert out.stderr.decode("utf-8") == (
        f"acv-xl : aucun classeur .xlsx ou .xlsm ne correspond au motif « {os.path.join('verrou', '*')} », qui ne "
        "désigne que « ~$a.xlsx » (le fichier de verrouillage qu'Excel garde à côté d'un classeur ouvert). "
        "Indiquez les classeurs ou leur dossier.\n")
    # beside other files sorted before it, the lock file is still the one explained
    for name in ("a.pdf", "b.docx", "c.csv", "notes.txt"):
        (tmp_path / "verrou" / name).write_bytes(b"x")
    out = acv("consolider", os.path.join("verrou", "*"), "-o", "autre.xlsx", cwd=tmp_path, env=env)
    assert out.returncode == 2 and "« ~$a.xlsx » (le fichier de verrouillage qu'Excel garde à côté d'un classeur " \
        "ouvert), « a.pdf », « b.docx » et 2 autres." in out.stderr.decode("utf-8"), out.stderr.decode("utf-8")


def test_consolider_a_pattern_says_the_files_left_that_may_be_workbooks(tmp_path):
    """`acv-xl consolider "62\\*"` typed in cmd: acv-xl expands the pattern as a walk takes a folder, and
    left « calais » (a workbook saved without extension, which a Unix shell's `*` names and so counts),
    « lens.xlsx.part » or « conventions.zip » out without a word, where `consolider 62` now says them. They
    are said the same way; a pattern matching only such a file names it, with what it looks like."""
    folder = tmp_path / "62"
    folder.mkdir()
    build_workbook(folder / "arras.xlsx")
    (folder / "arras.xlsx.bak").write_bytes((folder / "arras.xlsx").read_bytes())  # its workbook beside it
    (folder / "calais").write_bytes((folder / "arras.xlsx").read_bytes())
    (folder / "lens.xlsx.part").write_bytes(b"PK\x03\x04")
    (folder / "notes.txt").write_text("à relire", encoding="utf-8")
    env = {"PYTHONIOENCODING": "utf-8"}
    said = ("Attention, 2 fichiers non lus qui peuvent être des classeurs : « calais » (classeur sans extension "
            ".xlsx ?), « lens.xlsx.part » (fichier en cours de téléchargement ou de copie ?). Pour les consolider, "
            "enregistrez chacun dans le dossier en classeur .xlsx ou .xlsm.")
    for typed in (os.path.join("62", "*"), "62"):  # the pattern as the folder
        out = acv("consolider", typed, "-o", "recap.xlsx", "--jobs", "1", "--remplacer", cwd=tmp_path, env=env)
        assert out.returncode in (0, 1) and said in out.stderr.decode("utf-8"), out.stderr.decode("utf-8")
    (tmp_path / "recu").mkdir()
    with zipfile.ZipFile(tmp_path / "recu" / "conventions.zip", "w") as z:
        z.write(folder / "arras.xlsx", "arras.xlsx")
    out = acv("consolider", os.path.join("recu", "*"), "-o", "autre.xlsx", cwd=tmp_path, env=env)
    assert out.returncode == 2 and not (tmp_path / "autre.xlsx").exists()
    assert out.stderr.decode("utf-8") == (
        f"acv-xl : aucun classeur .xlsx ou .xlsm ne correspond au motif « {os.path.join('recu', '*')} », qui ne "
        "désigne que « conventions.zip » (archive, non ouverte : extrayez-en les classeurs). Indiquez les classeurs "
        "ou leur dossier.\n")


def test_consolider_a_pattern_refused_shows_a_line_break_in_a_name_as_a_symbol(tmp_path):
    """`consolider "62/*"`, 62 holding only « ca<LF>lais.xlsx.part » (a name from a zip made elsewhere): the
    refusal broke onto a second line at the name, where a folder walk's message shows ␊."""
    folder = tmp_path / "62"
    folder.mkdir()
    (folder / "ca\nlais.xlsx.part").write_bytes(b"PK\x03\x04")
    out = acv("consolider", os.path.join("62", "*"), "-o", "recap.xlsx", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    err = out.stderr.decode("utf-8")
    assert out.returncode == 2 and "« ca␊lais.xlsx.part »" in err and err.count("\n") == 1, err


def test_consolider_a_pattern_looks_at_each_match_once(tmp_path, monkeypatch):
    """`consolider "62\\*"` typed in cmd, 62 holding a département's workbooks: to find the files left
    that may be workbooks, each match was sought in the list of those kept — n²/2 comparisons of
    names, 50 million for 10 000 workbooks. Counted, not timed: each match is compared to no other."""
    import glob

    from acv_xl import cli

    compared = []

    class Name(str):  # a match as `glob` gives it, that counts the comparisons made with it
        def __eq__(self, other):
            compared.append(1)
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    folder = tmp_path / "62"
    folder.mkdir()
    for i in range(300):
        (folder / f"commune{i:03d}.xlsx").write_bytes(b"")
    (folder / "lens.xlsx.part").write_bytes(b"")
    real_glob = glob.glob
    monkeypatch.setattr(glob, "glob", lambda name: [Name(f) for f in real_glob(name)])
    names, problem, not_taken = cli._walked_matches([str(folder / "*")])
    assert problem is None and len(names) == 300
    assert not_taken == [(folder / "lens.xlsx.part", "fichier en cours de téléchargement ou de copie ?")]
    assert len(compared) < 300


def test_a_backup_beside_its_workbook_in_another_case_is_its_workbook_s_for_a_pattern_as_for_a_walk(tmp_path):
    """`Calais.xlsx` beside `calais.xlsx.bak` on Linux: a folder walk knew the backup for that workbook's and
    said nothing; `consolider "62/*"` looked for « calais.xlsx » by its exact name and listed the backup as
    a file not read. One rule for both: the workbook's name in any case, as Windows finds it."""
    from acv_xl import cli
    from acv_xl.outputs import consolidation as C

    folder = tmp_path / "62"
    folder.mkdir()
    build_workbook(folder / "Calais.xlsx")
    (folder / "calais.xlsx.bak").write_bytes((folder / "Calais.xlsx").read_bytes())
    (folder / "lens.xlsx.part").write_bytes(b"PK\x03\x04")
    names, problem, not_taken = cli._walked_matches([str(folder / "*")])
    assert problem is None and names == [str(folder / "Calais.xlsx")]
    assert not_taken == [(folder / "lens.xlsx.part", "fichier en cours de téléchargement ou de copie ?")]
    walked = C.consolidate([folder], tmp_path / "o.xlsx", jobs=1)
    assert walked.not_read == ["« lens.xlsx.part » (fichier en cours de téléchargement ou de copie ?)"]


def test_valider_a_pattern_matching_the_annotated_copy_replaces_nothing(tmp_path):
    """`acv-xl valider *.xlsx --annoter arras.xlsx --remplacer` typed in cmd, beside calais.xlsx: left out of
    the pattern as « the copy about to be written », the commune's own arras.xlsx was replaced by
    calais.xlsx's annotated copy — a file the pattern matched, as a Unix shell would have handed it over
    (« --annoter s'emploie avec un seul fichier »). Refused, nothing replaced, the pattern and the copy
    named; run again beside a previous copy, the same words name the workbook to give instead."""
    for name in ("arras.xlsx", "calais.xlsx"):
        build_workbook(tmp_path / name)
    before = (tmp_path / "arras.xlsx").read_bytes()
    env = {"PYTHONIOENCODING": "utf-8"}
    out = acv("valider", "*.xlsx", "--annoter", "arras.xlsx", "--remplacer", cwd=tmp_path, env=env)
    assert out.returncode == 2 and (tmp_path / "arras.xlsx").read_bytes() == before, out.stdout.decode("utf-8")
    assert out.stderr.decode("utf-8") == (
        "acv-xl : --annoter s'emploie avec un seul fichier : le motif « *.xlsx » désigne aussi « arras.xlsx », où "
        "la copie serait écrite (celle d'une validation précédente ?). Nommez le classeur à annoter "
        "(« calais.xlsx ») au lieu du motif.\n")
    (tmp_path / "calais.xlsx").unlink()
    out = acv("valider", "arras.xlsx", "--annoter", "annote.xlsx", cwd=tmp_path, env=env)
    assert out.returncode in (0, 1) and (tmp_path / "annote.xlsx").exists(), out.stderr.decode("utf-8")
    before = (tmp_path / "annote.xlsx").read_bytes()
    out = acv("valider", "*.xlsx", "--annoter", "annote.xlsx", "--remplacer", cwd=tmp_path, env=env)
    assert out.returncode == 2 and "Nommez le classeur à annoter (« arras.xlsx »)" in out.stderr.decode("utf-8")
    assert (tmp_path / "annote.xlsx").read_bytes() == before
    out = acv("valider", "arras.xlsx", "annote.xlsx", "--annoter", "annote.xlsx", "--remplacer", cwd=tmp_path, env=env)
    assert out.returncode == 2 and out.stderr.decode("utf-8") == "acv-xl : --annoter s'emploie avec un seul fichier.\n"


def test_a_pattern_matching_only_lock_files_names_them_and_the_workbooks_to_give(tmp_path):
    """`valider *.xlsx` typed in cmd where only Excel's lock files match (the workbooks were moved
    while open, or Excel crashed): each lock file is said to be one, with its workbook's name, as
    after a Unix shell — not « le fichier « *.xlsx » est introuvable » beside files that match it."""
    for name in ("~$arras.xlsx", "~$nvention.xlsx"):
        (tmp_path / name).write_bytes(b"\x05Jean " + b"\x00" * 160)
    out = acv("valider", "*.xlsx", "--format", "json", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    reports = json.loads(out.stdout)
    assert out.returncode == 2 and [r["fichier"] for r in reports] == ["~$arras.xlsx", "~$nvention.xlsx"]
    for report, workbook in zip(reports, ("« …arras.xlsx »", "« …nvention.xlsx »")):
        (c,) = report["constats"]
        assert "fichier de verrouillage qu'Excel garde à côté d'un classeur ouvert" in c["message"]
        assert workbook in c["suggestion"] and "introuvable" not in c["message"]


def test_a_lock_file_a_unix_shell_expands_beside_its_workbook_is_left_out(tmp_path):
    """`acv-xl valider *.xlsx` in bash while a.xlsx is open in Excel: the shell hands over ~$a.xlsx too,
    which made the run « illisible », status 2, for a file the user never chose; left out, as when
    acv-xl expands the pattern itself (and as `consolider` does)."""
    build_workbook(tmp_path / "a.xlsx")
    (tmp_path / "~$a.xlsx").write_bytes(b"\x05Jean " + b"\x00" * 160)
    out = acv("valider", "a.xlsx", "~$a.xlsx", "--format", "json", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    (report,) = json.loads(out.stdout)  # one report, not two (in a list: two names were given)
    assert out.returncode != 2 and report["fichier"] == "a.xlsx" and report["etat"] != "illisible"


def test_the_json_shape_follows_the_command_line_never_the_folder(tmp_path):
    """`valider "depot/*.xlsx" --format json` gave a list, and an object the day the folder held one
    workbook: a script reading `.[]` broke on it. The shape follows what was typed: an object for one
    file named, a list for a pattern (whatever it matches) or several names."""
    (tmp_path / "un").mkdir()
    (tmp_path / "deux").mkdir()
    for path in (tmp_path / "un" / "a.xlsx", tmp_path / "deux" / "a.xlsx", tmp_path / "deux" / "b.xlsx"):
        build_workbook(path)
    env = {"PYTHONIOENCODING": "utf-8"}
    un, deux = os.path.join("un", "a.xlsx"), [os.path.join("deux", n) for n in ("a.xlsx", "b.xlsx")]
    for args, files in (((os.path.join("un", "*.xlsx"),), [un]), ((os.path.join("deux", "*.xlsx"),), deux),
                        ((un, un), [un])):
        out = acv("valider", *args, "--format", "json", cwd=tmp_path, env=env)
        assert [r["fichier"] for r in json.loads(out.stdout)] == files, args
    out = acv("valider", un, "--format", "json", cwd=tmp_path, env=env)
    assert json.loads(out.stdout)["fichier"] == un


def test_a_workbook_named_twice_is_validated_once(tmp_path):
    """`valider *.xlsx a.xlsx` or `valider a.xlsx ./a.xlsx`: a.xlsx's report was printed twice and
    counted twice (« 3 fichiers vérifiés » for two), and `valider a.xlsx ./a.xlsx --annoter c.xlsx`
    refused « --annoter s'emploie avec un seul fichier ». Each file is now taken once, first place kept."""
    for name in ("b.xlsx", "a.xlsx"):
        build_workbook(tmp_path / name)
    out = acv("valider", "*.xlsx", "a.xlsx", "./b.xlsx", "--format", "json", cwd=tmp_path,
              env={"PYTHONIOENCODING": "utf-8"})
    assert [r["fichier"] for r in json.loads(out.stdout)] == ["a.xlsx", "b.xlsx"]
    out = acv("valider", "a.xlsx", "./a.xlsx", "--annoter", "c.xlsx", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    assert out.returncode != 2 and (tmp_path / "c.xlsx").exists(), out.stderr.decode("utf-8")


def test_valider_names_excel_s_lock_file_as_such(tmp_path):
    """`valider ~$a.xlsx` typed on purpose: the file Excel keeps beside an open workbook is said to be
    that, with the workbook to give instead — not « contenu non reconnu (fichier endommagé ?) », which
    made the finance officer fear for the workbook itself."""
    (tmp_path / "~$nvention.xlsx").write_bytes(b"\x05Jean " + b"\x00" * 160)  # « convention.xlsx » open
    out = acv("valider", "~$nvention.xlsx", "--format", "json", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    (c,) = json.loads(out.stdout)["constats"]
    assert out.returncode == 2 and c["code"] == "STR-01"
    assert "fichier de verrouillage qu'Excel garde à côté d'un classeur ouvert" in c["message"]
    assert "endommagé ?" not in c["message"] and "« …nvention.xlsx »" in c["suggestion"]


def test_the_help_of_remplacer_promises_only_what_it_does(tmp_path):
    """`--remplacer` said « écrase un fichier de sortie existant, quel qu'il soit »: a user giving the
    workbook itself after --annoter is refused (status 2, the workbook untouched), as every command
    refuses to write over a file it reads, with or without the option; the help says so."""
    import argparse

    from acv_xl.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {name: c._option_string_actions["--remplacer"].help for name, c in sub.choices.items()
             if "--remplacer" in c._option_string_actions}
    assert set(helps) >= {"modele", "exemples", "valider", "annexe", "comparer", "consolider", "historique", "migrer"}
    for name, text in helps.items():
        assert "quel qu'il soit" not in text and ("jamais un fichier lu" in text or "jamais le classeur d'origine" in text), name
    src = tmp_path / "a.xlsx"
    build_workbook(src)
    before = src.read_bytes()
    out = acv("valider", str(src), "--annoter", str(src), "--remplacer", env={"PYTHONIOENCODING": "utf-8"})
    assert out.returncode == 2 and src.read_bytes() == before


@pytest.mark.parametrize("argv, words", [
    (["consolider", "", "-o", "c.xlsx"], "argument DOSSIER|FICHIER : le nom du dossier ou du fichier est vide"),
    (["consolider", "d", "-o", "c.xlsx", "--registre", ""], "argument --registre : le nom du fichier est vide"),
    (["consolider", "d", "-o", "c.xlsx", "--json", ""], "argument --json : le nom du fichier est vide"),
    (["consolider", "d", "-o", "c.xlsx", "--departement", ""], "argument --departement : la valeur est vide"),
    (["consolider", "d", "-o", "c.xlsx", "--par-financeur", " "], "argument --par-financeur : le nom du dossier est vide"),
    (["annexe", "a.xlsx", "--depuis", ""], "argument --depuis : le nom du fichier est vide"),
    (["annexe", "a.xlsx", "-o", ""], "argument -o/--sortie : le nom du fichier est vide"),
    (["valider", "a.xlsx", ""], "argument FICHIER : le nom du fichier est vide"),
    (["valider", "a.xlsx", "--reference", ""], "argument --reference : le nom du fichier est vide"),
    (["exemples", ""], "argument DOSSIER : le nom du dossier est vide"),
])
def test_an_empty_value_is_refused_not_taken_for_no_option(argv, words, capsys):
    """A script's unset variable: `--registre ""` recorded nothing, `--depuis ""` wrote the annex of
    the convention instead of the avenant's, `--departement ""` consolidated every département,
    `-o ""` wrote beside the workbook and `consolider ""` read the folder the command ran in — each
    with status 0. Now status 2 and what is empty, before any work."""
    from acv_xl.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["valider", "a.xlsx", "--annoter", "a1.xlsx", "--annoter", "a2.xlsx"],
     "argument --annoter : indiqué deux fois, avec « a1.xlsx » puis « a2.xlsx »"),
    (["consolider", "d", "-o", "c1.xlsx", "--sortie", "c2.xlsx"],
     "argument -o/--sortie : indiqué deux fois, avec « c1.xlsx » puis « c2.xlsx »"),
    (["consolider", "d", "-o", "c.xlsx", "--departement", "62", "--departement", "59"],
     "argument --departement : indiqué deux fois, avec « 62 » puis « 59 »"),
    (["comparer", "a.xlsx", "b.xlsx", "--format", "json", "--format", "texte"],
     "argument --format : indiqué deux fois, avec « json » puis « texte »"),
])
def test_an_option_given_twice_with_two_values_is_refused(argv, words, capsys):
    """`--annoter a1.xlsx --annoter a2.xlsx` wrote a2.xlsx alone, `-o c1.xlsx --sortie c2.xlsx` c2.xlsx
    alone, `--departement 62 --departement 59` consolidated the 59 — argparse kept the last value
    without a word. Now status 2 and both values said, before any work."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert words + " : une seule valeur est attendue" in capsys.readouterr().err


@pytest.mark.parametrize("argv, usage, words", [
    (["valider", "a.xlsx", "--formt", "json"], "usage : acv-xl valider",
     "acv-xl valider : erreur : option inconnue : « --formt » ; vouliez-vous dire « --format » ?"),
    (["annexe", "a.xlsx", "--brouilon"], "usage : acv-xl annexe",
     "acv-xl annexe : erreur : option inconnue : « --brouilon » ; vouliez-vous dire « --brouillon » ?"),
    (["comparer", "a.xlsx", "b.xlsx", "-x"], "usage : acv-xl comparer",
     "acv-xl comparer : erreur : option inconnue : « -x » (les options de la commande : acv-xl comparer --help)"),
    (["annexe", "a.xlsx", "b.xlsx"], "usage : acv-xl annexe", "acv-xl annexe : erreur : argument en trop : « b.xlsx »"),
])
def test_an_argument_a_command_does_not_know_is_said_by_that_command(argv, usage, words, capsys):
    """`valider a.xlsx --formt json` printed the usage of `acv-xl` itself (« COMMANDE ... ») and
    « arguments non reconnus : --formt json »: nothing of valider's options. The command says it, under
    its own usage, with the option it resembles."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(usage) and err.rstrip().endswith(words), err


@pytest.mark.parametrize("argv, words", [
    (["--versoin"], "option inconnue : « --versoin » ; vouliez-vous dire « --version » ?"),
    (["--format", "json", "valider", "a.xlsx"], "« --format » se place après la commande : acv-xl valider --format …"),
    (["--rempl", "valider", "a.xlsx"], "« --rempl » se place après la commande : acv-xl valider --rempl …"),
    # another command's option: not `--version`, the one it resembles most
    (["--json=r.json", "valider", "a.xlsx"],
     "option inconnue : « --json » (les options d'une commande se placent après elle : acv-xl COMMANDE --help)"),
])
def test_an_option_acv_xl_does_not_know_before_the_command_is_named(argv, words, capsys):
    """`acv-xl --versoin` said « arguments obligatoires manquants : COMMANDE », and `acv-xl --format
    json valider a.xlsx` « arguments non reconnus » of acv-xl's usage: the typo, or the option put
    before its command, never named. It is, with the option it resembles or where options go."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("usage : acv-xl [-h]") and \
        err.rstrip().endswith(f"acv-xl : erreur : {words}"), err
    assert build_parser().parse_args(["valider", "--format", "json", "a.xlsx"]).format == "json"  # after it: its own


@pytest.mark.parametrize("argv, out", [(["--vers"], "acv-xl "), (["--he"], "usage : acv-xl [-h]")])
def test_an_abbreviated_option_before_the_command_is_still_taken(argv, out, capsys):
    """argparse takes `--vers` for `--version` and `--he` for `--help`, as every command takes `--form`
    for `--format`: the check of the options before the command refused them, « option inconnue »."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith(out)


@pytest.mark.parametrize("argv, words", [
    (["valider", "a.xlsx", "--remplacer=oui"], "argument --remplacer : cette option ne prend pas de valeur : « oui » est en trop"),
    (["annexe", "a.xlsx", "--pdf=non"], "argument --pdf : cette option ne prend pas de valeur : « non » est en trop"),
    (["consolider", "d", "-o", "c.xlsx", "--re", "r.csv"],
     "option ambiguë : « --re » peut désigner --reference, --registre, --remplacer ; écrivez-la en entier"),
])
def test_argparse_s_other_refusals_are_in_french(argv, words, capsys):
    """`--remplacer=oui` said « ignored explicit argument 'oui' », `--re` « ambiguous option: --re could
    match --reference, --registre, --remplacer »: argparse's English, to a French user's first typos."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.rstrip().endswith(f"acv-xl {argv[0]} : erreur : {words}"), err


def test_names_given_after_an_option_join_the_command_s_list_of_names(capsys):
    """argparse gives `FICHIER [FICHIER ...]` the names before the first option only: `valider a.xlsx
    --format json b.xlsx` and `consolider Arras -o c.xlsx Calais` were refused, status 2, with
    « argument en trop : « b.xlsx » » — of a command that takes several. The names join the list;
    a command of one name still refuses a second, and an unknown option is said before a name."""
    args = build_parser().parse_args(["valider", "a.xlsx", "--format", "json", "b.xlsx", "--remplacer", "c.xlsx"])
    assert (args.fichiers, args.format, args.remplacer) == (["a.xlsx", "b.xlsx", "c.xlsx"], "json", True)
    args = build_parser().parse_args(["consolider", "Arras", "-o", "c.xlsx", "Calais"])
    assert (args.chemins, args.sortie) == (["Arras", "Calais"], "c.xlsx")
    for argv, words in ((["annexe", "a.xlsx", "-o", "x.xlsx", "b.xlsx"], "argument en trop : « b.xlsx »"),
                        (["valider", "a.xlsx", "--format", "json", "b.xlsx", "--formt"], "option inconnue : « --formt »"),
                        (["valider", "a.xlsx", "--format", "json", ""], "argument FICHIER : le nom du fichier est vide")):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(argv)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.startswith(f"usage : acv-xl {argv[0]}") and words in err, err


def test_an_option_given_twice_with_one_value_is_that_value():
    """A script that repeats its default (`--format json … --format json`) is not refused."""
    args = build_parser().parse_args(["valider", "a.xlsx", "--format", "json", "--format", "json",
                                      "--annoter", "a1.xlsx", "--annoter", "a1.xlsx"])
    assert (args.format, args.annoter, args.fichiers) == ("json", "a1.xlsx", ["a.xlsx"])


@pytest.mark.parametrize("folder", [".", "/"])
def test_annexe_of_a_folder_says_so(tmp_path, folder):
    """`acv-xl annexe .` stopped on « erreur interne inattendue (ValueError : PosixPath('.') has an
    empty name) » while naming the annex beside it; now the folder is said, as `annexe d.xlsx/` was."""
    out = acv("annexe", folder, cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    err = out.stderr.decode("utf-8")
    assert out.returncode == 2 and "erreur interne" not in err
    assert f"« {folder} » est un dossier, pas un fichier." in err and list(tmp_path.iterdir()) == []


def test_valider_of_a_folder_gives_the_pattern_that_names_its_workbooks(tmp_path):
    """`valider Classeurs` (the folder of the workbooks): « vérifiez le chemin et le nom du fichier »
    left the user where they were; the suggestion is the pattern, and that pattern validates them."""
    (tmp_path / "Classeurs").mkdir()
    build_workbook(tmp_path / "Classeurs" / "a.xlsx")
    env = {"PYTHONIOENCODING": "utf-8"}
    out = acv("valider", "Classeurs", "--format", "json", cwd=tmp_path, env=env)
    (c,) = json.loads(out.stdout)["constats"]
    assert out.returncode == 2 and c["message"] == "« Classeurs » est un dossier, pas un fichier."
    pattern = c["suggestion"].split("« ")[-1].split(" »")[0]
    assert pattern == os.path.join("Classeurs", "*.xlsx")
    out = acv("valider", pattern, "--format", "json", cwd=tmp_path, env=env)
    assert [r["fichier"] for r in json.loads(out.stdout)] == [os.path.join("Classeurs", "a.xlsx")]


@pytest.mark.parametrize("command", [("annexe",), ("migrer", "-o", "nouveau.xlsx")])
def test_a_command_taking_one_workbook_given_a_folder_offers_no_pattern_it_refuses(tmp_path, command):
    """`acv-xl annexe Classeurs` (or `migrer`) answered « pour tous les classeurs d'un dossier, un motif :
    « Classeurs/*.xlsx » », valider's way — and given that pattern, the command refused it (« est un motif,
    pas le nom d'un fichier »). The pattern is offered as valider's, the command that takes one."""
    (tmp_path / "Classeurs").mkdir()
    build_workbook(tmp_path / "Classeurs" / "a.xlsx")
    out = acv(*command, "Classeurs", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    err = out.stderr.decode("utf-8")
    assert out.returncode == 2 and "« Classeurs » est un dossier, pas un fichier." in err, err
    assert ("pour vérifier tous les classeurs d'un dossier, « acv-xl valider » accepte un motif : "
            f"« {os.path.join('Classeurs', '*.xlsx')} »") in err, err


def test_a_pattern_given_to_a_command_that_takes_one_workbook_is_said_to_be_one(tmp_path):
    """`acv-xl annexe *.xlsx` in cmd or PowerShell: « le fichier « *.xlsx » est introuvable » beside
    the workbook it matches; annexe takes one workbook and says which to name."""
    build_workbook(tmp_path / "arras.xlsx")
    out = acv("annexe", "*.xlsx", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    err = out.stderr.decode("utf-8")
    assert out.returncode == 2 and "introuvable" not in err
    assert "« *.xlsx » est un motif, pas le nom d'un fichier. Indiquez le classeur lui-même, par exemple « arras.xlsx »." in err


def test_a_missing_workbook_named_with_brackets_is_missing_not_a_pattern(tmp_path):
    """Brackets are part of a file's name (« Arras [v2].xlsx »), not a pattern a user types: missing,
    it is said introuvable — it was « un motif », with « Arras 2.xlsx », another convention that
    « [v2] » happens to match, named as the workbook to give."""
    build_workbook(tmp_path / "Arras 2.xlsx")
    out = acv("annexe", "Arras [v2].xlsx", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    err = out.stderr.decode("utf-8")
    assert out.returncode == 2 and "Le fichier « Arras [v2].xlsx » est introuvable." in err
    assert "motif" not in err and "Arras 2.xlsx" not in err


def test_valider_never_expands_a_missing_name_with_brackets_into_another_workbook(tmp_path):
    """`valider « Arras [v2].xlsx »`, a file not there: said introuvable (status 2) — `valider` took the
    brackets for a pattern and validated « Arras 2.xlsx », another convention, with status 0."""
    build_workbook(tmp_path / "Arras 2.xlsx")
    out = acv("valider", "Arras [v2].xlsx", "--format", "json", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
    report = json.loads(out.stdout)
    assert out.returncode == 2 and report["fichier"] == "Arras [v2].xlsx"
    assert [c["message"] for c in report["constats"]] == ["Le fichier « Arras [v2].xlsx » est introuvable."]


def test_bidirectional_controls_reach_no_terminal_raw(tmp_path, capsys):
    """A U+202E (right-to-left override) in a file's name or a cell turned the rest of the line round on
    a terminal that reorders text (« rapport », U+202E, « xslx.fdp » shown « rapportpdf.xlsx »). They are
    written out, as the control characters are."""
    import shutil

    from acv_xl.cli import main
    from acv_xl.outputs.terminal import literal

    book = tmp_path / "arras\u202exslx.xlsx"
    shutil.copyfile(Path(__file__).parents[1] / "workbooks" / "exemples" / "arras.xlsx", book)
    main(["valider", str(book)])
    out = capsys.readouterr().out
    assert "arras\\u202exslx.xlsx\n" in out and "\u202e" not in out, out
    assert literal("a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069j\u200ek\u200fl\u061cm") == (
        "a\\u202ab\\u202bc\\u202cd\\u202de\\u202ef\\u2066g\\u2067h\\u2068i\\u2069j\\u200ek\\u200fl\\u061cm")
    assert literal("Région « Hauts-de-France »") == "Région « Hauts-de-France »"
