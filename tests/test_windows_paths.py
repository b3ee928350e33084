"""Windows and macOS semantics of the paths a command writes, simulated on Linux.

The finance officers run acv-xl under Windows (and some under macOS): disks that ignore the case of
names, device names (« CON », « NUL », « COM1 ») that are no files, characters Windows refuses. The
kernel of the test machine has no case-folding file system (no `CONFIG_UNICODE`: an ext4 `-O
casefold` image or a tmpfs `casefold` mount is refused; no vfat): a hard link stands for a second
spelling of one file, and the Windows checks are switched on by `output_guard._WINDOWS`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import unicodedata
from pathlib import Path

import pytest
from acceptance_support import EXEMPLES

from acv_xl.checks.rules.consolidation import CODE_INCONNU
from acv_xl.cli import main
from acv_xl.contract import layout
from acv_xl.outputs import output_guard
from acv_xl.outputs.annex import default_output
from acv_xl.outputs.consolidation_extracts import file_name, remove_stale_extracts
from acv_xl.outputs.examples import example_conventions
from acv_xl.outputs.output_guard import CONSOLIDATION, Output, check_outputs, windows_name_problem
from acv_xl.reading.provenance import EXTRAIT, produced_by

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["CON.xlsx", "con.xlsx", "NUL.json", "aux.json", "COM1.xlsx", "lpt9.xlsx",
                                  "Con .xlsx", "PRN", "COM\u00b9.xlsx", "CONOUT$.json"])
def test_device_names_are_refused_under_windows(name):
    why = windows_name_problem(name)
    assert why is not None and "réserve à un périphérique" in why and f"« {name} »" in why


@pytest.mark.parametrize("name, shown", [("a:b.xlsx", "« : »"), ("synthèse?.xlsx", "« ? »"),
                                         ('x"y.json', '« " »'), ("a|b<c>.xlsx", "« < » « > » « | »"),
                                         ("tab\there.xlsx", "(caractère de contrôle)")])
def test_characters_windows_refuses(name, shown):
    why = windows_name_problem(name)
    assert why is not None and why.endswith(f"un nom de fichier : {shown}.")


@pytest.mark.parametrize("name", ["console.xlsx", "CONSOLIDATION.xlsx", "com10.xlsx", "nul_2026.xlsx",
                                  "Convention Arras.xlsx", "annexe Béthune-Bruay (2026).xlsx", "COM1x.json"])
def test_ordinary_names_pass(name):
    assert windows_name_problem(name) is None


def test_a_device_name_as_output_is_refused_under_windows_before_anything(tmp_path, monkeypatch):
    """`-o CON.xlsx` under Windows: step 5 read « CON.xlsx » to see whether it is a report — the
    console, waiting for a keyboard — or, with --remplacer, the rename failed after the whole work."""
    monkeypatch.setattr(output_guard, "_WINDOWS", True)
    for name, exts, option in (("CON.xlsx", (".xlsx",), "-o"), ("aux.json", (".json",), "--json"),
                               ("a:b.xlsx", (".xlsx",), "-o")):
        why = check_outputs([], [Output(tmp_path / name, exts, option, CONSOLIDATION)], replace=True)
        assert why is not None and why.startswith(f"le fichier de sortie ({option}) ne peut pas être écrit : "), why
        assert why.endswith("Choisissez un autre nom de fichier.")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(output_guard, "_WINDOWS", False)  # a file like any other under Linux and macOS
    assert check_outputs([], [Output(tmp_path / "CON.xlsx", (".xlsx",), "-o", CONSOLIDATION)]) is None


def test_a_device_name_as_register_is_refused_under_windows(tmp_path, monkeypatch, capsys):
    """`--registre aux.sqlite` under Windows: SQLite would open the device (« AUX »), as `-o CON.xlsx`
    read the console; refused before any work, like the outputs."""
    from acv_xl.cli import main

    folder = tmp_path / "dossier"
    folder.mkdir()
    monkeypatch.setattr(output_guard, "_WINDOWS", True)
    assert main(["consolider", str(folder), "-o", str(tmp_path / "c.xlsx"), "--registre", str(tmp_path / "aux.sqlite")]) == 2
    assert "le registre ne peut pas être ouvert : « aux.sqlite » est un nom que Windows réserve à un périphérique" \
        in capsys.readouterr().err
    (tmp_path / "CON.sqlite").touch()  # Windows says a device exists, whatever its extension
    assert main(["historique", str(tmp_path / "CON.sqlite"), "-o", str(tmp_path / "e.xlsx")]) == 2
    assert "Windows réserve à un périphérique (CON)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CON.sqlite", "dossier"]


def test_names_the_product_builds_are_windows_file_names():
    """The extracts' names (from financeur codes), the examples', the annexes beside a workbook as
    `annexe` names them without -o (the convention's, the avenant's, and their PDFs): valid under
    Windows, and distinct once case is ignored (one folder on a Windows disk)."""
    built = [file_name(f.code) for f in layout.FINANCEURS] + [file_name(CODE_INCONNU)]
    built += list(example_conventions())
    annexes = [default_output(Path(n), avenant) for n in example_conventions() for avenant in (False, True)]
    built += [p.name for a in annexes for p in (a, a.with_suffix(".pdf"))]
    assert [n for n in built if windows_name_problem(n) is not None] == []
    assert len({n.casefold() for n in built}) == len(built)


def test_two_outputs_differing_by_case_are_one_file(tmp_path):
    """Neither exists yet, so no inode tells: under Windows or macOS the second replaces the first."""
    why = check_outputs([], [Output(tmp_path / "Rapport.xlsx", (".xlsx",), "-o", CONSOLIDATION),
                             Output(tmp_path / "rapport.XLSX", (".xlsx",), "--autre", CONSOLIDATION)])
    assert why is not None and "-o et --autre désignent le même fichier" in why


def test_two_outputs_differing_by_unicode_normalisation_are_one_file(tmp_path):
    """« Récap » typed (NFC) and « Récap » as macOS's Finder and terminal give it (NFD, « e » + « ◌́ »):
    one file on macOS, where the second replaced the first — and, on Linux, two names that look alike."""
    nfc, nfd = (unicodedata.normalize(form, "Récap.xlsx") for form in ("NFC", "NFD"))
    assert nfc != nfd
    why = check_outputs([], [Output(tmp_path / nfc, (".xlsx",), "-o", CONSOLIDATION),
                             Output(tmp_path / nfd.upper(), (".xlsx",), "--autre", CONSOLIDATION)])
    assert why is not None and "-o et --autre désignent le même fichier" in why


def test_an_output_that_is_the_input_under_another_normalisation_is_refused(tmp_path):
    """`valider « Récap Arras.xlsx » --annoter` the same name typed on macOS (NFD): the commune's
    workbook itself there; on Linux a second file that looks like it. Refused even with --remplacer,
    with a folder's walk (consolider) as with a file named."""
    nfc, nfd = (unicodedata.normalize(form, "Récap Arras.xlsx") for form in ("NFC", "NFD"))
    src = tmp_path / nfc
    shutil.copy(EXEMPLES / "arras.xlsx", src)
    before = _sha(src)
    for command in (["valider", str(src), "--annoter", str(tmp_path / nfd), "--remplacer"],
                    ["annexe", str(src), "-o", str(tmp_path / nfd), "--remplacer"],
                    ["migrer", str(src), "-o", str(tmp_path / nfd), "--remplacer"],
                    ["consolider", str(tmp_path), "-o", str(tmp_path / nfd), "--remplacer", "--jobs", "1"]):
        assert main(command) == 2, command
    assert _sha(src) == before and [p.name for p in tmp_path.iterdir()] == [nfc]


@pytest.mark.parametrize("name", ["financeur_ETAT.xlsx", "Financeur_etat.xlsx"])
def test_consolidation_named_as_an_extract_is_refused(tmp_path, capsys, name):
    """`consolider -o out/financeur_ETAT.xlsx --par-financeur out`: the consolidation was written,
    then replaced by the État's extract — announced « → out/financeur_ETAT.xlsx » all the same (under
    Windows and macOS with any case of the name)."""
    out = tmp_path / "out"
    out.mkdir()
    assert main(["consolider", str(EXEMPLES), "-o", str(out / name), "--par-financeur", str(out),
                 "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "-o et --par-financeur désignent le même fichier" in err, err
    assert list(out.iterdir()) == []


def test_an_extract_just_written_is_not_removed_as_stale(tmp_path):
    """On a disk that ignores case, the folder lists the extract just written under the case of the
    file it replaced (« financeur_etat.xlsx »): removed as a stale extract, the État's was lost. A
    hard link stands for that second spelling of one file."""
    out = tmp_path / "out"
    out.mkdir()
    assert main(["consolider", str(EXEMPLES), "-o", str(tmp_path / "c.xlsx"), "--par-financeur", str(out),
                 "--jobs", "1"]) in (0, 1)
    etat = out / "financeur_ETAT.xlsx"
    assert produced_by(etat) == EXTRAIT
    os.link(etat, out / "financeur_etat.xlsx")  # the same file, as a case-insensitive disk lists it
    written = sorted(out.glob("financeur_*.xlsx"))
    written.remove(out / "financeur_etat.xlsx")
    stale = out / "financeur_SNCF.xlsx"  # a previous run's extract, of a financeur gone: removed
    shutil.copy(etat, stale)
    removed, left = remove_stale_extracts(out, written)
    assert (removed, left) == ([stale], [])
    assert (out / "financeur_etat.xlsx").exists() and etat.exists()


def test_an_output_that_is_the_input_under_another_case_is_refused(tmp_path):
    """`valider arras.xlsx --annoter ARRAS.xlsx` on a disk that ignores case: one file, told by its
    inode (a hard link here), refused even with --remplacer; the workbook unchanged."""
    src = tmp_path / "arras.xlsx"
    shutil.copy(EXEMPLES / "arras.xlsx", src)
    os.link(src, tmp_path / "ARRAS.xlsx")
    before = _sha(src)
    for command in (["valider", str(src), "--annoter", str(tmp_path / "ARRAS.xlsx"), "--remplacer"],
                    ["annexe", str(src), "-o", str(tmp_path / "ARRAS.xlsx"), "--remplacer"],
                    ["migrer", str(src), "-o", str(tmp_path / "ARRAS.xlsx"), "--remplacer"],
                    ["comparer", str(EXEMPLES / "arras.xlsx"), str(src), "-o", str(tmp_path / "ARRAS.xlsx"),
                     "--remplacer"],
                    ["consolider", str(tmp_path), "-o", str(tmp_path / "ARRAS.xlsx"), "--remplacer", "--jobs", "1"]):
        assert main(command) == 2, command
    assert _sha(src) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ARRAS.xlsx", "arras.xlsx"]


def test_consolidation_run_again_under_another_case_replaces_its_report(tmp_path, capsys):
    """README: « relancer consolider remplace le rapport précédent sans option ». On a macOS disk,
    `-o dossier/consolidation.xlsx` is the « Consolidation.xlsx » found in the folder, a path
    `resolve` does not respell: it was refused as « un fichier lu par cette commande ». A hard link
    outside the folder stands for that second spelling; a commune's workbook so linked stays refused."""
    folder = tmp_path / "dossier"
    shutil.copytree(EXEMPLES, folder)
    assert main(["consolider", str(folder), "-o", str(folder / "Consolidation.xlsx"), "--jobs", "1"]) in (0, 1)
    os.link(folder / "Consolidation.xlsx", tmp_path / "consolidation.xlsx")
    capsys.readouterr()
    assert main(["consolider", str(folder), "-o", str(tmp_path / "consolidation.xlsx"), "--jobs", "1"]) in (0, 1)
    assert "6 fichiers lus" in capsys.readouterr().err  # the summary goes to stderr
    os.link(folder / "arras.xlsx", tmp_path / "ARRAS.xlsx")
    before = _sha(folder / "arras.xlsx")
    assert main(["consolider", str(folder), "-o", str(tmp_path / "ARRAS.xlsx"), "--remplacer", "--jobs", "1"]) == 2
    assert "est aussi un fichier lu par cette commande" in capsys.readouterr().err
    assert _sha(folder / "arras.xlsx") == before


@pytest.mark.parametrize("alias", ["arras.xlsx.", "arras.xlsx ", "ARRAS~1.XLS", "arras.xlsx::$DATA", "arras.xlsx:x"])
def test_windows_aliases_of_a_workbook_are_refused_by_their_extension(tmp_path, alias):
    """Windows opens « arras.xlsx. », « arras.xlsx  », its short name « ARRAS~1.XLS » or its data
    stream « arras.xlsx::$DATA » as arras.xlsx itself: none has the extension .xlsx, so none is
    written over the commune's workbook, under any system."""
    src = tmp_path / "arras.xlsx"
    shutil.copy(EXEMPLES / "arras.xlsx", src)
    why = check_outputs([src], [Output(tmp_path / alias, (".xlsx",), "-o", CONSOLIDATION)], replace=True)
    assert why is not None and "doit avoir l'extension .xlsx" in why


def test_a_copy_of_an_extract_is_never_removed(tmp_path, capsys):
    """Windows's Explorer names a copy « financeur_ETAT - Copie.xlsx », macOS's Finder « financeur_ETAT
    copie.xlsx »: a copy the référent annotated for the financeur carries the extract's mark, and the
    next consolidation removed it as « un extrait d'une consolidation précédente »."""
    out = tmp_path / "out"
    out.mkdir()
    args = ["consolider", str(EXEMPLES), "-o", str(tmp_path / "c.xlsx"), "--par-financeur", str(out), "--jobs", "1"]
    assert main(args) in (0, 1)
    copies = [out / "financeur_ETAT - Copie.xlsx", out / "financeur_ETAT copie.xlsx", out / "financeur_ETAT (2).xlsx"]
    for c in copies:
        shutil.copy(out / "financeur_ETAT.xlsx", c)
    stale = out / "financeur_SNCF.xlsx"  # the extract of a financeur absent from this run: removed
    shutil.copy(out / "financeur_ETAT.xlsx", stale)
    capsys.readouterr()
    assert main(args) in (0, 1)
    assert all(c.exists() for c in copies) and not stale.exists()
    assert "supprimé (financeur absent de celle-ci) : financeur_SNCF.xlsx (" in capsys.readouterr().err


def test_folders_of_two_drives_are_consolidated(tmp_path, monkeypatch, capsys):
    """`consolider C:\\ACV\\62 \\\\serveur\\partage\\59`: no folder holds both, and Windows's
    `commonpath` raises ValueError (« Paths don't have the same drive »), simulated here — the
    consolidation stopped on « erreur interne ». Each file is then shown by its full path."""
    import ntpath

    for name in ("arras.xlsx", "calais.xlsx"):
        (tmp_path / name[:-5]).mkdir()
        shutil.copy(EXEMPLES / name, tmp_path / name[:-5] / name)
    with pytest.raises(ValueError):  # what Windows says of two drives
        ntpath.commonpath([r"C:\ACV\62", r"\\serveur\partage\59"])

    def two_drives(paths):
        raise ValueError("Paths don't have the same drive")

    monkeypatch.setattr(os.path, "commonpath", two_drives)
    out = tmp_path / "c.json"
    status = main(["consolider", str(tmp_path / "arras"), str(tmp_path / "calais"), "-o", str(tmp_path / "c.xlsx"),
                   "--json", str(out), "--jobs", "1"])
    err = capsys.readouterr().err
    assert status in (0, 1) and "2 conventions comptées" in err, err
    import json

    shown = sorted(c["fichier"] for c in json.loads(out.read_text(encoding="utf-8"))["conventions"])
    assert shown == [str(tmp_path / "arras" / "arras.xlsx"), str(tmp_path / "calais" / "calais.xlsx")]


def test_a_windows_folder_is_walked_as_explorer_shows_it(tmp_path):
    """What a commune's folder on Windows or OneDrive holds beside its workbooks: Excel's lock file
    (« ~$… »), Explorer's « desktop.ini » and « Thumbs.db », a Mac's « ._… » and « __MACOSX » of an
    archive, an upper-case extension. Only the workbooks are taken — checked, nothing to change."""
    from acv_xl.outputs.consolidation_files import discover

    shutil.copy(EXEMPLES / "arras.xlsx", tmp_path / "arras.xlsx")
    shutil.copy(EXEMPLES / "calais.xlsx", tmp_path / "CALAIS.XLSX")
    for junk in ("~$arras.xlsx", "desktop.ini", "Thumbs.db", "._arras.xlsx", "~$CALAIS.XLSX"):
        (tmp_path / junk).write_bytes(b"\x00" * 162)
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "._calais.xlsx").write_bytes(b"\x00" * 162)
    files, base = discover([tmp_path])
    assert [f.name for f in files] == ["arras.xlsx", "CALAIS.XLSX"] and base == tmp_path.resolve()


def test_a_backup_named_with_its_workbook_under_another_case_of_its_folder_is_said_so(tmp_path, monkeypatch):
    """Under Windows « C:\\ACV\\62\\calais.xlsx » and « c:\\acv\\62\\calais.xlsx.bak » are one folder's: the
    backup was compared with its workbook's folder as typed, case and all, and said a backup whose
    workbook is missing. Two folders differing by case stand for the two spellings."""
    from acv_xl.outputs import consolidation_files as F

    for folder in ("ACV", "acv"):
        (tmp_path / folder).mkdir()
    (tmp_path / "ACV" / "calais.xlsx").write_bytes(b"")
    (tmp_path / "acv" / "calais.xlsx.bak").write_bytes(b"")
    named = [tmp_path / "ACV" / "calais.xlsx", tmp_path / "acv" / "calais.xlsx.bak"]
    for windows, said in ((True, True), (False, False)):  # under Linux, two folders
        monkeypatch.setattr(F, "_WINDOWS", windows)
        passed_over: list = []
        files, _ = F.discover(named, passed_over=passed_over)
        assert [f.name for f in files] == ["calais.xlsx"]
        ((path, why),) = passed_over
        assert path.name == "calais.xlsx.bak" and ("indiqué aussi, est lu à sa place" in why) == said, why
