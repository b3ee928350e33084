"""No command loses a byte of a file that is not its own, and its messages say what happened.

Every overwrite attempt of issue 11 is run as a user runs it (`python -m acv_xl …` in a
subprocess): refused with status 2 and a French message naming the file and the way out, the
file's SHA-256 unchanged and nothing else created; `--remplacer` allows it; acv-xl's own reports
(recognised by the mark in their content) are replaced without it. Then the messages: one
finding for a file that is no convention (STR-11), foreign workbooks not counted by `consolider`,
one behaviour for a missing output folder, « permission refusée » naming the output.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import shutil
import struct
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.utils.cell import range_boundaries
from acceptance_support import EXEMPLES, acv, edited_copy, header_cells, table_of

from acv_xl.outputs import atomic
from acv_xl.outputs.output_guard import Output, check_outputs, derived_kind, is_derived_report

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl on data validations


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden temp files included) → its SHA-256."""
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(proc, *words: str) -> str:
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "Traceback" not in text and "erreur interne" not in text, text
    for w in words:
        assert w in text, (w, text)
    return text


def ok(proc) -> str:
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture()
def folder(tmp_path) -> Path:
    """The shipped examples, as a référent's folder of commune workbooks."""
    d = tmp_path / "dossier"
    shutil.copytree(EXEMPLES, d)
    return d


def _filled(path: Path) -> Path:
    """A commune's workbook the user went on editing (not byte-identical to any example)."""
    def edit(wb):
        ws, t = table_of(wb, "T_Actions")
        row, col = header_cells(ws, t)["Intitulé"]
        ws.cell(row + 1, col).value = "Réhabilitation de la halle — saisie de la commune"
    return edited_copy(path, path, edit)


# =========================================================================== refusals
def test_modele_over_a_filled_workbook_is_refused_unless_remplacer(folder):
    target = _filled(folder / "saint-omer.xlsx")
    before = snapshot(folder)
    text = refused(acv("modele", target), "saint-omer.xlsx", "classeur de convention ACV", "--remplacer")
    assert snapshot(folder) == before
    assert "existe déjà" in text
    ok(acv("modele", target, "--remplacer"))
    assert sha(target) != before["saint-omer.xlsx"]
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_an_output_named_as_a_folder_is_said_to_be_one(folder, tmp_path):
    """`acv-xl modele Classeurs` (the template inside that folder, the user meant): « le fichier de
    sortie (SORTIE) doit avoir l'extension .xlsx : « Classeurs » ». The folder is said, and a file name
    to give; same for -o of annexe and consolider, and for `valider --annoter Classeurs`, which checks
    its copy on its own (it still said « la copie annotée doit avoir l'extension .xlsx »)."""
    classeurs = tmp_path / "Classeurs été"
    classeurs.mkdir()
    for args in (("modele", classeurs), ("annexe", folder / "arras.xlsx", "-o", classeurs),
                 ("consolider", folder, "-o", classeurs), ("valider", folder / "arras.xlsx", "--annoter", classeurs)):
        text = refused(acv(*args), f"est un dossier : « {classeurs} ». Indiquez le fichier à écrire, par exemple "
                                   f"« {classeurs / 'nom.xlsx'} ».")
        assert "extension" not in text, text
    assert list(classeurs.iterdir()) == []


def test_exemples_into_a_folder_of_filled_workbooks_is_refused(folder):
    _filled(folder / "arras.xlsx")
    before = snapshot(folder)
    refused(acv("exemples", folder), "existe déjà", "--remplacer")
    # a folder was named, not a file: « un autre nom de fichier » would be the wrong way out
    refused(acv("exemples", folder), "Choisissez un autre dossier, ou ajoutez --remplacer")
    # and a missing parent is said as typed (relative), never as the machine's absolute path
    proc = acv("exemples", Path("absent") / "ex", cwd=folder)
    refused(proc, "le dossier de sortie n'existe pas : « absent » (pour « ex »)")
    assert str(folder) not in proc.stderr
    assert snapshot(folder) == before
    ok(acv("exemples", folder, "--remplacer"))
    assert sha(folder / "arras.xlsx") == sha(EXEMPLES / "arras.xlsx")


def test_annexe_onto_another_communes_workbook_is_refused(folder):
    before = snapshot(folder)
    refused(acv("annexe", folder / "arras.xlsx", "-o", folder / "bethune-bruay.xlsx"), "bethune-bruay.xlsx", "--remplacer")
    assert snapshot(folder) == before
    refused(acv("annexe", folder / "arras.xlsx", "-o", folder / "arras.xlsx", "--remplacer"), "arras.xlsx")
    assert snapshot(folder) == before
    ok(acv("annexe", folder / "arras.xlsx", "-o", folder / "bethune-bruay.xlsx", "--remplacer"))
    assert derived_kind(folder / "bethune-bruay.xlsx") == "annexe"


def test_valider_annoter_onto_another_file_is_refused(folder, tmp_path):
    before = snapshot(folder)
    refused(acv("valider", folder / "calais.xlsx", "--annoter", folder / "bethune-bruay.xlsx"), "bethune-bruay.xlsx", "--remplacer")
    assert snapshot(folder) == before
    # an annotated copy is a convention too: the user may have gone on editing it
    copy = tmp_path / "copie.xlsx"
    ok(acv("valider", folder / "calais.xlsx", "--annoter", copy))
    kept = sha(copy)
    refused(acv("valider", folder / "calais.xlsx", "--annoter", copy), "copie.xlsx", "--remplacer")
    assert sha(copy) == kept
    ok(acv("valider", folder / "calais.xlsx", "--annoter", copy, "--remplacer"))


def test_consolider_onto_a_workbook_of_the_folder_is_refused_even_with_remplacer(folder, tmp_path):
    before = snapshot(folder)
    for extra in ((), ("--remplacer",)):
        refused(acv("consolider", folder, "-o", folder / "arras.xlsx", *extra),
                "arras.xlsx", "aussi un fichier lu")
        assert snapshot(folder) == before
    # the same file under another name: a hard link (same inode), a path through a symbolic link
    other = tmp_path / "ailleurs"
    other.mkdir()
    os.link(folder / "calais.xlsx", other / "lien.xlsx")
    (other / "raccourci").symlink_to(folder, target_is_directory=True)
    for out in (other / "lien.xlsx", other / "raccourci" / "lens-lievin.xlsx"):
        refused(acv("consolider", folder, "-o", out, "--remplacer"), "aussi un fichier lu")
    assert snapshot(folder) == before and sorted(p.name for p in other.iterdir()) == ["lien.xlsx", "raccourci"]


def test_consolider_looks_up_each_file_found_once_when_an_output_exists(folder, tmp_path, monkeypatch):
    """An output already there (the previous run's consolidation, in every run after the first): the
    files found were each `stat`ed twice before any was read — for the output under another name, then
    again by the guard (≈ 4 ms of 1,000 files, on the path of every run). Once now, still refused when
    one is the output (a hard link)."""
    from acv_xl.outputs import consolidation as C

    out = tmp_path / "c.xlsx"
    C.consolidate([folder], out, jobs=1)  # the previous run's output
    found = {str(p) for p in folder.rglob("*.xlsx")}
    seen: list[str] = []
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if os.fspath(path) in found:
            seen.append(os.fspath(path))
        return real_stat(path, *args, **kwargs)

    class Guarded(Exception):
        pass

    def stop(*args, **kwargs):  # the guard passed: nothing read, nothing written
        raise Guarded

    monkeypatch.setattr(C, "_summaries", stop)
    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(Guarded):
        C.consolidate([folder], out, jobs=1)
    assert seen and max(seen.count(f) for f in found) == 1, sorted(seen)
    monkeypatch.setattr(os, "stat", real_stat)
    os.link(folder / "calais.xlsx", tmp_path / "lien.xlsx")
    with pytest.raises(C.UsageError, match="aussi un fichier lu"):
        C.consolidate([folder], tmp_path / "lien.xlsx", replace=True, jobs=1)


def test_consolider_par_financeur_looks_up_no_file_found_again_for_its_extracts(folder, tmp_path, monkeypatch):
    """The previous run's consolidation and extracts there (every run after the first): the files found,
    looked up once for the consolidation's output, were resolved and looked up again, one by one, for the
    extracts (≈ 4 ms of 1,000 files). Not now; an extract that is a file read (a hard link) still refused."""
    from acv_xl.outputs import consolidation as C
    from acv_xl.outputs import consolidation_extracts as E

    out, extraits = tmp_path / "c.xlsx", tmp_path / "extraits"
    C.consolidate([folder], out, jobs=1, par_financeur=extraits)  # the previous run's outputs
    assert sorted(extraits.glob("financeur_*.xlsx"))
    found = {str(p) for p in folder.rglob("*.xlsx")}
    seen: list[str] = []
    real_check, real_stat, real_lstat = E.check_outputs, os.stat, os.lstat

    def counted(real):
        def look(path, *args, **kwargs):
            if os.fspath(path) in found:
                seen.append(os.fspath(path))
            return real(path, *args, **kwargs)
        return look

    def check(*args, **kwargs):  # the extracts' check: what it looks up of the files found
        monkeypatch.setattr(os, "stat", counted(real_stat))
        monkeypatch.setattr(os, "lstat", counted(real_lstat))
        try:
            return real_check(*args, **kwargs)
        finally:
            monkeypatch.setattr(os, "stat", real_stat)
            monkeypatch.setattr(os, "lstat", real_lstat)

    monkeypatch.setattr(E, "check_outputs", check)
    C.consolidate([folder], out, jobs=1, par_financeur=extraits)
    assert not seen, sorted(seen)
    etat = extraits / "financeur_ETAT.xlsx"
    etat.unlink()
    os.link(folder / "calais.xlsx", etat)
    with pytest.raises(C.UsageError, match="aussi un fichier lu"):
        C.consolidate([folder], out, replace=True, jobs=1, par_financeur=extraits)


def test_consolider_json_onto_a_workbook_or_onto_the_workbook_output_is_refused(folder, tmp_path):
    before = snapshot(folder)
    refused(acv("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", folder / "calais.xlsx"),
            "--json", "extension .json")
    refused(acv("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", tmp_path / "c.xlsx"), "--json")
    assert snapshot(folder) == before and not (tmp_path / "c.xlsx").exists()
    # a JSON file that is not ours
    theirs = tmp_path / "budget.json"
    theirs.write_text('{"budget": 1}', encoding="utf-8")
    refused(acv("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", theirs), "budget.json", "--remplacer")
    assert theirs.read_text(encoding="utf-8") == '{"budget": 1}' and not (tmp_path / "c.xlsx").exists()


def test_two_outputs_to_one_file_are_refused_by_the_guard(tmp_path):
    """`-o` and `--json` cannot name one path through the CLI (their extensions differ); the
    guard refuses it for every command that will have two outputs (same path, or a hard link)."""
    a = tmp_path / "a.xlsx"
    problem = check_outputs([], [Output(a, (".xlsx",), "-o"), Output(tmp_path / "." / "a.xlsx", (".xlsx",), "--autre")])
    assert problem and "-o et --autre désignent le même fichier" in problem
    a.write_bytes(b"x")
    os.link(a, tmp_path / "b.xlsx")
    assert "même fichier" in check_outputs([], [a, tmp_path / "b.xlsx"], replace=True)


def test_missing_output_folder_one_message_for_every_command(folder, tmp_path):
    absent = tmp_path / "absent"
    src = folder / "arras.xlsx"
    for args in (
        ("modele", absent / "m.xlsx"),
        ("exemples", absent / "ex"),
        ("valider", src, "--annoter", absent / "a.xlsx"),
        ("annexe", src, "-o", absent / "a.xlsx"),
        ("consolider", folder, "-o", absent / "c.xlsx"),
        ("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", absent / "c.json"),
    ):
        refused(acv(*args), "le dossier de sortie n'existe pas", str(absent))
        assert not absent.exists() and not (tmp_path / "c.xlsx").exists()



def test_an_output_folder_that_is_a_file_is_said_to_be_one(folder, tmp_path):
    """`-o Classeurs/arras.xlsx/recap.xlsx` (a file's name typed where a folder is meant) was told « le dossier
    de sortie n'existe pas : « Classeurs/arras.xlsx » », of a workbook the user sees in the folder."""
    src = folder / "arras.xlsx"
    before = snapshot(folder)
    for args, written in (
        (("consolider", folder, "-o", src / "c.xlsx"), "c.xlsx"),
        (("consolider", folder, "-o", src / "sous" / "c.xlsx"), "sous/c.xlsx"),
        (("annexe", src, "-o", src / "a.xlsx"), "a.xlsx"),
        (("valider", src, "--annoter", src / "a.xlsx"), "a.xlsx"),
        (("modele", src / "m.xlsx"), "m.xlsx"),
    ):
        text = refused(acv(*args), f"« {src} » est un fichier, pas un dossier (pour « {written} »)")
        assert "n'existe pas" not in text, text
    assert snapshot(folder) == before


def test_a_register_or_an_extracts_folder_under_a_file_is_said_so(folder, tmp_path):
    """`--registre Classeurs/arras.xlsx/r.sqlite`, `--par-financeur Classeurs/arras.xlsx/extraits`: « le dossier
    du registre n'existe pas », « le dossier parent de --par-financeur n'existe pas », of a workbook."""
    src = folder / "arras.xlsx"
    before = snapshot(folder)
    out = tmp_path / "c.xlsx"
    text = refused(acv("consolider", folder, "-o", out, "--registre", src / "r.sqlite"),
                   f"« {src} » est un fichier, pas un dossier (pour le registre « {src / 'r.sqlite'} »)")
    assert "n'existe pas" not in text, text
    text = refused(acv("consolider", folder, "-o", out, "--par-financeur", src / "extraits"),
                   f"« {src} » est un fichier, pas un dossier (pour --par-financeur « {src / 'extraits'} »)")
    assert "n'existe pas" not in text, text
    assert snapshot(folder) == before and not out.exists()

# =========================================================================== our own reports
def test_rerunning_consolider_and_annexe_over_their_own_output_needs_no_remplacer(folder):
    out, js = folder / "consolidation.xlsx", folder / "consolidation.json"
    first = ok(acv("consolider", folder, "-o", out, "--json", js))
    assert is_derived_report(out) and is_derived_report(js)
    assert json.loads(js.read_text(encoding="utf-8"))["acv_xl"] == "acv-xl consolidation"
    again = ok(acv("consolider", folder, "-o", out, "--json", js))
    assert "6 fichiers lus, 6 conventions comptées" in first and "6 fichiers lus, 6 conventions comptées" in again
    ok(acv("annexe", folder / "arras.xlsx"))
    ok(acv("annexe", folder / "arras.xlsx"))  # folder/arras_annexe.xlsx replaced
    assert derived_kind(folder / "arras_annexe.xlsx") == "annexe"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_a_convention_workbook_is_never_taken_for_a_report(folder):
    for p in folder.glob("*.xlsx"):
        assert derived_kind(p) is None
    assert derived_kind(folder / "absent.xlsx") is None


def test_a_convention_workbook_never_replaces_a_report_without_remplacer(folder, tmp_path):
    """`modele`, `exemples`, `valider --annoter` and `migrer` write convention workbooks: typed over
    a référent's consolidation or annex they replaced it silently (any report could be replaced).
    They are refused like over any other file, and replace it with `--remplacer`."""
    out = tmp_path / "rapports"
    out.mkdir()
    conso, annexe = out / "arras.xlsx", out / "annexe.xlsx"  # « arras.xlsx »: a name `exemples` writes
    ok(acv("consolider", folder, "-o", conso))
    ok(acv("annexe", folder / "arras.xlsx", "-o", annexe))
    assert (derived_kind(conso), derived_kind(annexe)) == ("consolidation", "annexe")
    src = folder / "calais.xlsx"
    attempts = [(("modele", conso), "un classeur consolidé"),
                (("exemples", out), "un classeur consolidé"),
                (("valider", src, "--annoter", conso), "un classeur consolidé"),
                (("migrer", src, "-o", annexe), "l'annexe d'une convention"),
                (("modele", annexe), "l'annexe d'une convention")]
    before = snapshot(out)
    for args, what in attempts:
        refused(acv(*args), "existe déjà", what, "il n'est pas remplacé", "--remplacer")
        assert snapshot(out) == before, args
    for args, _ in attempts:
        ok(acv(*args, "--remplacer"))
    assert derived_kind(conso) is None and derived_kind(annexe) is None


@pytest.mark.parametrize("kind", ["consolidation", "annexe", "extrait", "comparaison", "historique"])
def test_the_guard_replaces_a_report_only_for_a_report_of_its_kind(tmp_path, kind):
    from acv_xl.outputs.output_guard import CONVENTION_WORKBOOK, mark_xlsxwriter

    path = tmp_path / "rapport.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Lignes")
    mark_xlsxwriter(wb, kind)
    wb.close()
    assert check_outputs([], [Output(path, (".xlsx",), "-o", kind)]) is None
    for other in ["consolidation", "annexe", "extrait", "comparaison", "historique", CONVENTION_WORKBOOK]:
        if other != kind:
            assert "n'est pas remplacé" in check_outputs([], [Output(path, (".xlsx",), "-o", other)]), other
            assert check_outputs([], [Output(path, (".xlsx",), "-o", other)], replace=True) is None
    assert "n'est pas remplacé" in check_outputs([], [path])  # a plain path: a convention workbook
    with pytest.raises(ValueError):  # no silent « any report » any more: say what is written
        Output(path, (".xlsx",), "-o", "")


def test_the_help_of_remplacer_says_what_each_command_replaces_without_it():
    """`--remplacer`'s help says what the guard decides: a command writing a convention workbook
    replaces no existing file without it, not even a report of acv-xl (never « a file that is not a
    report », which would promise the report replaced); a command writing a report replaces one
    of its own kind only."""
    import argparse

    from acv_xl.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices

    def help_of(command: str) -> str:
        return next(a.help for a in commands[command]._actions if "--remplacer" in a.option_strings)

    for command in ("modele", "exemples", "valider"):  # CONVENTION_WORKBOOK
        assert "aucun fichier existant n'est remplacé, pas même un rapport produit par acv-xl" in help_of(command)
    for command in ("annexe", "comparer", "consolider", "historique"):  # a report of their own kind
        assert "pas un rapport de même sorte produit par acv-xl" in help_of(command), command


def _lying_custom_part(path: Path, real_size: int) -> Path:
    """A zip whose docProps/custom.xml says 400 bytes in its headers but inflates to `real_size`."""
    body = (b'<Properties><property name="acv_xl"><vt:lpwstr>acv-xl consolidation</vt:lpwstr></property>'
            + b" " * real_size + b"</Properties>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docProps/custom.xml", body)
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 400)  # uncompressed size, local header
    struct.pack_into("<I", data, central + 24, 400)  # uncompressed size, central directory
    path.write_bytes(bytes(data))
    return path


def test_reading_the_mark_never_inflates_a_lying_part(tmp_path):
    bomb = _lying_custom_part(tmp_path / "bombe.xlsx", 64 * 2**20)
    tracemalloc.start()
    try:
        derived_kind(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak  # 64 MiB of text behind the header, never materialised


# =========================================================================== atomic writing
def test_a_failed_write_leaves_no_temp_file_and_keeps_the_previous_file(tmp_path):
    out = tmp_path / "o.xlsx"
    out.write_bytes(b"avant")

    def boom(tmp: Path) -> None:
        tmp.write_bytes(b"moitie")
        raise RuntimeError("panne")

    with pytest.raises(RuntimeError):
        atomic.atomic_write(out, boom)
    assert [p.name for p in tmp_path.iterdir()] == ["o.xlsx"] and out.read_bytes() == b"avant"


def test_a_long_output_name_the_system_accepts_is_written(tmp_path):
    """The temp file was named « .<name>.<8 characters>.tmp »: an output named with 242 to 255
    characters (or a Windows path near its 260) was refused, « nom de fichier ou chemin trop long »,
    though the system takes that name. The temp file's name is never longer than the output's."""
    out = tmp_path / ("c" * 250 + ".xlsx")
    assert check_outputs([], [out]) is None
    atomic.atomic_write(out, lambda tmp: tmp.write_bytes(b"ok"))
    assert [p.name for p in tmp_path.iterdir()] == [out.name] and out.read_bytes() == b"ok"


def test_the_template_is_written_atomically(tmp_path, monkeypatch):
    from acv_xl.outputs import template

    def broken(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", broken)
    with pytest.raises(atomic.OutputError, match="le disque est plein"):
        template.build_workbook(tmp_path / "m.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_permission_refused_names_the_output_never_the_temp_file(tmp_path, monkeypatch, capsys):
    """A folder the user may not write to, or a file Excel holds open (Windows): the rename fails
    with the temp file's name in the system's error; the user reads the output's name."""
    from acv_xl import cli

    real = os.replace

    def denied(src, dst):
        if str(src).endswith(".tmp"):
            raise PermissionError(errno.EACCES, "Permission denied", str(src), None, str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", denied)
    assert cli.main(["modele", str(tmp_path / "m.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "permission refusée" in err and "m.xlsx" in err and ".tmp" not in err
    assert list(tmp_path.iterdir()) == []


def _creation_refused(monkeypatch, where: Path, error: int) -> None:
    """The system refuses to create a file in `where` (root may write anywhere: the answer is
    given here by the call that creates the temp file, as it would be for a user)."""
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*a, dir=None, **k):
        if dir is not None and Path(dir) == where:
            raise OSError(error, os.strerror(error), str(where / ".c.xlsx.x1.tmp"))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def test_an_unwritable_folder_is_refused_before_any_work(folder, tmp_path, monkeypatch, capsys):
    """What the system says of a folder the user may not write to: asked by creating the temp file
    the write will use, and said before anything is read. `os.access` said yes (as it always does
    of a folder under Windows, and for ACLs or shares deciding themselves): the refusal came
    only after every workbook was read."""
    from acv_xl import cli
    from acv_xl.outputs import consolidation

    ro = tmp_path / "lecture_seule"
    ro.mkdir()
    monkeypatch.setattr(os, "access", lambda p, mode, **k: True)
    _creation_refused(monkeypatch, ro, errno.EACCES)
    monkeypatch.setattr(consolidation, "summarize_all", lambda *a, **k: pytest.fail("read before refusing"))
    assert cli.main(["consolider", str(folder), "-o", str(ro / "c.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err == f"acv-xl : permission refusée : impossible d'écrire dans le dossier {ro} (pour c.xlsx).\n"
    assert list(ro.iterdir()) == []
    _creation_refused(monkeypatch, ro, errno.EROFS)
    assert cli.main(["consolider", str(folder), "-o", str(ro / "c.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err == f"acv-xl : impossible d'écrire dans le dossier {ro} (pour c.xlsx, support en lecture seule).\n"


def test_a_folder_to_create_where_one_cannot_write_is_refused_before_any_work(folder, tmp_path, monkeypatch, capsys):
    """`exemples` and `consolider --par-financeur` create the folder named: in a folder the user may
    not write to, `exemples` said « fichier inaccessible : …/ex (accès refusé) » of a folder, with
    nothing to do, and `consolider` read every workbook and wrote the consolidated one before
    refusing the extracts — the README promises the refusal before the work. The system is asked
    first, as for every output; nothing is read, nothing written."""
    from acv_xl import cli
    from acv_xl.outputs import consolidation

    ro = tmp_path / "lecture_seule"
    ro.mkdir()
    _creation_refused(monkeypatch, ro, errno.EACCES)
    real_mkdir = os.mkdir

    def mkdir(path, *a, **k):  # nor a folder (root may write anywhere)
        if Path(path).parent == ro:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_mkdir(path, *a, **k)

    monkeypatch.setattr(os, "mkdir", mkdir)
    assert cli.main(["exemples", str(ro / "ex")]) == 2
    assert capsys.readouterr().err == (
        f"acv-xl : permission refusée : impossible de créer le dossier des exemples « {ro / 'ex'} » : vous ne "
        "pouvez pas écrire dans le dossier qui doit le contenir. Choisissez un autre dossier.\n")
    monkeypatch.setattr(consolidation, "summarize_all", lambda *a, **k: pytest.fail("read before refusing"))
    out = tmp_path / "c.xlsx"
    assert cli.main(["consolider", str(folder), "-o", str(out), "--par-financeur", str(ro / "extraits")]) == 2
    assert capsys.readouterr().err == (
        f"acv-xl : permission refusée : impossible de créer le dossier de --par-financeur « {ro / 'extraits'} » : "
        "vous ne pouvez pas écrire dans le dossier qui doit le contenir. Choisissez un autre dossier.\n")
    assert list(ro.iterdir()) == [] and not out.exists()


def test_a_folder_to_create_where_files_cannot_be_is_not_refused(folder, tmp_path, monkeypatch, capsys):
    """A drive's root under Windows (C:\\), or a share, lets a user create folders there, not files:
    `consolider --par-financeur C:\\Extraits` was refused « permission refusée », the probe being a file
    created beside the folder. The probe is the folder's own creation, undone at once."""
    from acv_xl import cli

    root = tmp_path / "racine"
    root.mkdir()
    _creation_refused(monkeypatch, root, errno.EACCES)  # files only
    out = tmp_path / "c.xlsx"
    assert cli.main(["consolider", str(folder), "-o", str(out), "--par-financeur", str(root / "extraits"),
                     "--jobs", "1"]) in (0, 1), capsys.readouterr().err
    assert (root / "extraits" / "financeur_ETAT.xlsx").is_file() and out.is_file()


def test_a_folder_os_access_calls_read_only_but_the_system_lets_write_is_written(folder, tmp_path, monkeypatch):
    """A network share whose permission bits say « read only » while the server lets the user
    write: `os.access` refused the output; the system is asked instead, and the probe leaves
    nothing behind."""
    from acv_xl import cli
    from acv_xl.outputs.output_guard import CONSOLIDATION

    out = tmp_path / "partage"
    out.mkdir()
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False)
    assert check_outputs([], [Output(out / "c.xlsx", (".xlsx",), "-o", CONSOLIDATION)]) is None
    assert list(out.iterdir()) == []
    assert cli.main(["consolider", str(folder), "-o", str(out / "c.xlsx")]) in (0, 1)
    assert [p.name for p in out.iterdir()] == ["c.xlsx"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write in a read-only folder")
def test_a_read_only_folder_is_refused_before_any_work(tmp_path, folder):
    ro = tmp_path / "lecture_seule"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        refused(acv("consolider", folder, "-o", ro / "c.xlsx"), "permission refusée", str(ro))
    finally:
        ro.chmod(0o755)


# =========================================================================== what a file is
def _plain_sheet(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Feuil1"
    for r in range(1, 30):
        ws.append([f"ligne {r}", r * 1.5, r % 3 == 0])
    wb.save(path)
    return path


def _random_tables(path: Path, seed: int) -> Path:
    """A workbook like python-calamine's test files: sheets, tables and names that are not ours."""
    rnd = random.Random(seed)
    wb = xlsxwriter.Workbook(str(path))
    for s in range(rnd.randint(1, 3)):
        ws = wb.add_worksheet(f"Données {s + 1}")
        cols = rnd.randint(2, 5)
        rows = [[rnd.choice([rnd.randint(0, 10**6), f"texte {rnd.random():.3f}", None]) for _ in range(cols)]
                for _ in range(rnd.randint(1, 20))]
        ws.add_table(0, 0, len(rows), cols - 1, {"name": f"Tableau{s}_{seed}", "data": rows,
                                                  "columns": [{"header": f"Col {c}"} for c in range(cols)]})
        wb.define_name(f"nom_{s}", f"='Données {s + 1}'!$A$1")
    wb.close()
    return path


def _synthese_only(path: Path) -> Path:
    """A workbook with a « Synthèse » sheet (a word many workbooks use) and nothing else of ours."""
    wb = openpyxl.Workbook()
    wb.active.title = "Synthèse"
    wb.active["A1"] = "Totaux"
    wb.save(path)
    return path


def test_valider_says_in_one_finding_what_a_file_that_is_no_convention_is(folder, tmp_path):
    ok(acv("annexe", folder / "arras.xlsx", "-o", tmp_path / "annexe.xlsx"))
    ok(acv("consolider", folder, "-o", tmp_path / "conso.xlsx"))
    cases = {
        tmp_path / "annexe.xlsx": "l'annexe d'une convention ou d'un avenant",
        tmp_path / "conso.xlsx": "un classeur consolidé",
        _plain_sheet(tmp_path / "feuille.xlsx"): "n'est pas un classeur de convention ACV",
        _random_tables(tmp_path / "tables.xlsx", 1): "n'est pas un classeur de convention ACV",
        _synthese_only(tmp_path / "synthese.xlsx"): "n'est pas un classeur de convention ACV",
    }
    for path, words in cases.items():
        proc = acv("valider", path, "--format", "json")
        assert proc.returncode == 2, proc.stderr
        report = json.loads(proc.stdout)
        assert [c["code"] for c in report["constats"]] == ["STR-11"], (path.name, report["constats"])
        assert words in report["constats"][0]["message"]
        text = acv("valider", path).stdout
        assert "STR-03" not in text and text.count("[ERREUR]") == 1, text
        assert "ce n'est pas un classeur de convention ACV" in text


def test_consolider_lists_reports_and_foreign_workbooks_without_counting_them(folder, tmp_path):
    alone = ok(acv("consolider", folder, "-o", tmp_path / "seul.xlsx"))
    assert "6 conventions comptées" in alone
    ok(acv("annexe", folder / "arras.xlsx"))  # arras_annexe.xlsx in the folder
    ok(acv("consolider", folder, "-o", folder / "semaine_1.xlsx"))
    foreign = [_plain_sheet(folder / "notes.xlsx"), _synthese_only(folder / "recap.xlsx")]
    sub = folder / "calamine"
    sub.mkdir()
    foreign += [_random_tables(sub / f"test_{i}.xlsx", i) for i in range(6)]
    out = tmp_path / "c.xlsx"
    text = ok(acv("consolider", folder, "-o", out, "--json", tmp_path / "c.json"))
    assert "16 fichiers lus, 6 conventions comptées" in text, text
    wb = openpyxl.load_workbook(out, read_only=True)
    rows = [r for r in wb["Fichiers"].values if any(v is not None for v in r)]
    k = next(i for i, r in enumerate(rows) if "Motif" in r)
    head, rows = rows[k], rows[k + 1:]
    motif = {r[0]: r[head.index("Motif")] for r in rows}
    compte = {r[0]: r[head.index("Compté")] for r in rows}
    assert motif["arras_annexe.xlsx"] == motif["semaine_1.xlsx"] == "produit par acv-xl, non compté"
    for p in foreign:
        rel = p.relative_to(folder).as_posix()
        assert motif[rel] == "pas un classeur ACV, non compté" and compte[rel] == "Non"
    anomalies = {r[0] for r in wb["Anomalies"].values}
    assert not anomalies & ({"arras_annexe.xlsx", "semaine_1.xlsx"} | {p.relative_to(folder).as_posix() for p in foreign})
    data = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert data["conventions_comptees"] == 6
    assert "non comptés (pas un classeur ACV : 8, produit par acv-xl : 2)" in text, text
    # a folder of such files only: nothing to consolidate
    refused(acv("consolider", sub, "-o", tmp_path / "vide.xlsx"), "aucun classeur de convention ACV parmi les 6")
    assert not (tmp_path / "vide.xlsx").exists()


def test_one_file_that_is_no_convention_is_said_in_correct_french(folder, tmp_path):
    """`consolider rapport.xlsx` (the previous consolidation named by mistake) or a folder holding one
    workbook that is no convention read « aucun classeur de convention ACV parmi les 1 fichier trouvé »,
    and `consolider arras.xlsx --departement 59` « aucune convention du département 59 parmi les 1 fichier
    trouvé »: the one file is named, with what it is."""
    text = refused(acv("consolider", folder / "arras.xlsx", "-o", tmp_path / "x.xlsx", "--departement", "59"))
    assert "le seul fichier trouvé, « arras.xlsx », est une convention du département 62, pas du 59 : rien n'est " \
           "écrit. Vérifiez le code donné à --departement et le fichier." in text, text
    ok(acv("consolider", folder, "-o", tmp_path / "semaine_1.xlsx"))
    text = refused(acv("consolider", tmp_path / "semaine_1.xlsx", "-o", tmp_path / "semaine_2.xlsx"))
    assert "le seul fichier trouvé, « semaine_1.xlsx », est un rapport produit par acv-xl, pas un classeur de " \
           "convention ACV : rien n'est écrit." in text and "parmi les 1" not in text, text
    sub = tmp_path / "autre"
    sub.mkdir()
    _plain_sheet(sub / "notes.xlsx")
    text = refused(acv("consolider", sub, "-o", tmp_path / "vide.xlsx"))
    assert "le seul fichier trouvé, « notes.xlsx », n'est pas un classeur de convention ACV : rien n'est écrit." \
        in text, text
    assert not any((tmp_path / name).exists() for name in ("x.xlsx", "semaine_2.xlsx", "vide.xlsx"))


def test_departement_matching_no_convention_is_status_2_and_nothing_written(folder, tmp_path):
    out, js = tmp_path / "c.xlsx", tmp_path / "c.json"
    refused(acv("consolider", folder, "-o", out, "--json", js, "--departement", "59"),
            "aucune convention du département 59", "départements trouvés : 62")
    assert not out.exists() and not js.exists() and list(tmp_path.iterdir()) == [folder]


def test_a_year_typed_19_reads_19_and_a_renamed_header_points_at_its_cell(folder, tmp_path):
    def edit(wb):
        ws, t = table_of(wb, "T_Financements")
        heads = header_cells(ws, t)
        r, c = heads["Année"]
        ws.cell(r + 1, c).value = 19
        ws.cell(r + 2, c).value = 2019.5
    year = edited_copy(folder / "arras.xlsx", tmp_path / "annee.xlsx", edit)
    found = json.loads(acv("valider", year, "--format", "json").stdout)["constats"]
    messages = [f["message"] for f in found if f["code"] == "FIN-04"]
    assert any("« 19 »" in m for m in messages) and any("« 2019,5 »" in m for m in messages), messages
    assert not any("19.0" in m or "2019.5" in m for m in messages)

    cell = {}

    def rename(wb):
        ws, t = table_of(wb, "T_Financements")
        r, c = header_cells(ws, t)["Montant (€)"]
        ws.cell(r, c).value = "Subvention"
        t.tableColumns[c - range_boundaries(t.ref)[0]].name = "Subvention"
        cell["ref"] = ws.cell(r, c).coordinate
    renamed = edited_copy(folder / "arras.xlsx", tmp_path / "entete.xlsx", rename)
    found = json.loads(acv("valider", renamed, "--format", "json").stdout)["constats"]
    str04 = [f for f in found if f["code"] == "STR-04"]
    assert len(str04) == 1 and str04[0]["cellule"] == cell["ref"], str04
    assert "« Subvention »" in str04[0]["message"]


@pytest.mark.libreoffice
def test_annexe_pdf_replaces_its_own_pdf_but_not_a_users(folder):
    src = folder / "arras.xlsx"
    ok(acv("annexe", src, "--pdf"))
    pdf = folder / "arras_annexe.pdf"
    assert derived_kind(pdf) == "annexe"
    ok(acv("annexe", src, "--pdf"))
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    pdf.write_bytes(b"%PDF-1.4 le compte rendu du conseil municipal")
    before = snapshot(folder)
    refused(acv("annexe", src, "--pdf"), "arras_annexe.pdf", "--remplacer")
    assert snapshot(folder) == before


def test_ctrl_c_is_documented_with_its_status():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "Ctrl-C" in readme and "`130`" in readme and "--remplacer" in readme


def test_a_json_report_is_said_to_be_one_never_a_classeur(tmp_path):
    """A consolidation's `--json` summary named as another output, or given to `comparer`/`migrer`,
    was « un classeur consolidé (acv-xl consolider) »: it is « le résumé JSON d'une consolidation »
    (and a `historique --json`, « l'évolution d'un département en JSON »); the workbooks keep their words."""
    from acv_xl.outputs.output_guard import mark_xlsxwriter
    from acv_xl.reading.provenance import describe, mark

    resume, evolution, classeur = tmp_path / "resume.json", tmp_path / "evolution.json", tmp_path / "c.xlsx"
    resume.write_text(json.dumps({"acv_xl": mark("consolidation"), "conventions": []}), encoding="utf-8")
    evolution.write_text(json.dumps({"acv_xl": mark("historique")}), encoding="utf-8")
    wb = xlsxwriter.Workbook(str(classeur))
    wb.add_worksheet("Lignes")
    mark_xlsxwriter(wb, "consolidation")
    wb.close()
    said = check_outputs([], [Output(resume, (".json",), "--json", "historique")])
    assert "c'est le résumé JSON d'une consolidation (acv-xl consolider --json) :" in said and "classeur" not in said
    said = check_outputs([], [Output(evolution, (".json",), "--json", "consolidation")])
    assert "c'est l'évolution d'un département en JSON (acv-xl historique --json) :" in said, said
    assert describe("consolidation", classeur) == describe("consolidation") == "un classeur consolidé (acv-xl consolider)"
    for args in (("comparer", resume, EXEMPLES / "arras.xlsx"), ("migrer", resume, "-o", tmp_path / "m.xlsx")):
        proc = acv(*args)
        assert proc.returncode == 2 and "« resume.json » est le résumé JSON d'une consolidation" in proc.stderr, proc.stderr


def test_a_refused_extension_quotes_the_name(tmp_path):
    """« doit avoir l'extension .xlsx : m.xlsm » ran the name into the sentence."""
    from acv_xl.outputs.output_guard import check_outputs

    assert check_outputs([], [tmp_path / "m.xlsm"]).endswith(f"doit avoir l'extension .xlsx : « {tmp_path / 'm.xlsm'} »")


def test_an_output_name_ending_with_spaces_says_the_spaces(tmp_path):
    """`consolider 62 -o "c6.xlsx "` (a space typed or pasted after the name) was refused « doit avoir
    l'extension .xlsx : « c6.xlsx  » »: the space cannot be seen, and the refusal looked wrong. The
    command line and `--annoter` now say the space, and still write nothing."""
    proc = acv("consolider", EXEMPLES, "-o", tmp_path / "c6.xlsx ")
    assert proc.returncode == 2, proc.stderr
    assert ("le fichier de sortie (-o) doit avoir l'extension .xlsx, sans rien après : le nom « c6.xlsx » "
            "finit par une espace ; retirez-la.") in proc.stderr, proc.stderr
    proc = acv("valider", EXEMPLES / "arras.xlsx", "--annoter", tmp_path / "copie.xlsx  ")
    assert proc.returncode == 2, proc.stderr
    assert "sans rien après : le nom « copie.xlsx » finit par des espaces ; retirez-les." in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []
    # another extension is quoted as it is
    assert check_outputs([], [tmp_path / "c6.xls "]).endswith(f"doit avoir l'extension .xlsx : « {tmp_path / 'c6.xls '} »")


def test_a_name_ending_with_a_tab_is_not_said_to_end_with_a_space(tmp_path):
    """`-o "c.xlsx<Tab>"` or `exemples "ex<Tab>"` (a cell copied from a sheet brings its tab) was refused
    « finit par une espace ; retirez-la »: there is no space to remove, and none to see. Said as the
    consolidation's sheets say such an end: « un caractère invisible »."""
    from acv_xl.outputs.output_guard import check_outputs, folder_like_a_file

    assert check_outputs([], [tmp_path / "c.xlsx\t"]).endswith(
        "le nom « c.xlsx » finit par un caractère invisible (tabulation, espace insécable…) ; retirez-le.")
    assert folder_like_a_file("le dossier des exemples", tmp_path / "ex \t").startswith(
        "« ex », nom donné pour le dossier des exemples, finit par des caractères invisibles (tabulation, espace "
        "insécable…) ; retirez-les (")
    # spaces alone are spaces
    assert folder_like_a_file("le dossier des exemples", tmp_path / "ex ").startswith(
        "« ex », nom donné pour le dossier des exemples, finit par une espace ; retirez-la (")
