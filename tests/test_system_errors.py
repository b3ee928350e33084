"""No message shows the system's English (« Permission denied », « Is a directory », « No such
file or directory »): every place an OSError reaches the user says its reason in French
(`acv_xl.contract.system_errors.os_error_text`).

The errors are real where the system gives them to root too (the tests run as root, so `chmod`
proves nothing): a path through a file (ENOTDIR), a name too long (ENAMETOOLONG), a symbolic link
that loops (ELOOP), a folder where a file is expected (EISDIR), a missing file (ENOENT); the others
(EACCES, EIO, EMFILE…) are raised by a monkeypatched `open` or write, as the system raises them.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from acceptance_support import EXEMPLES, acv

from acv_xl.contract.system_errors import os_error_text

ENGLISH = ("Permission denied", "Is a directory", "No such file", "Not a directory", "too long",
           "Too many", "Input/output", "No space", "Read-only", "Errno", "Traceback")

FRENCH = {
    errno.EACCES: "accès refusé",
    errno.EPERM: "accès refusé",
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EROFS: "support en lecture seule",
    errno.EMFILE: "trop de fichiers ouverts à la fois par acv-xl",
    errno.ENAMETOOLONG: "nom de fichier ou chemin trop long",
    errno.ELOOP: "trop de liens symboliques dans le chemin, ou une boucle",
    errno.EBUSY: "fichier ou support occupé par un autre programme",
    errno.EIO: "erreur de lecture ou d'écriture sur le support, endommagé ou déconnecté",
}


def english_free(text: str) -> str:
    for word in ENGLISH:
        assert word not in text, (word, text)
    return text


@pytest.mark.parametrize("number", sorted(FRENCH), ids=[errno.errorcode[n] for n in sorted(FRENCH)])
def test_each_error_a_user_can_meet_has_its_french_text(number):
    exc = OSError(number, os.strerror(number), "classeur.xlsx")
    assert os_error_text(exc) == FRENCH[number]
    assert "(" not in os_error_text(exc)  # callers put it between brackets


def test_any_other_error_is_named_by_its_number_in_french():
    assert os_error_text(OSError(errno.ECHILD, os.strerror(errno.ECHILD))) == "erreur du système ECHILD, n° 10"
    assert os_error_text(OSError(99999, "mystery")) == "erreur du système n° 99999"
    assert os_error_text(OSError("sans numéro")) == "erreur du système OSError, sans numéro"
    shared = PermissionError(errno.EACCES, "The process cannot access the file")
    shared.winerror = 32  # Windows: the file is open in Excel
    assert "ouvert dans un autre programme" in os_error_text(shared)


# ---------------------------------------------------------------------------- real errors, end to end
@pytest.fixture()
def odd_paths(tmp_path) -> dict[str, Path]:
    (tmp_path / "fichier.xlsx").write_bytes(b"x")
    loop = tmp_path / "boucle.xlsx"
    loop.symlink_to(loop.name)
    return {"ENOTDIR": tmp_path / "fichier.xlsx" / "dedans.xlsx",
            "ENAMETOOLONG": tmp_path / ("a" * 300 + ".xlsx"),
            "ELOOP": loop}


@pytest.mark.parametrize("name", ["ENOTDIR", "ENAMETOOLONG", "ELOOP"])
def test_valider_says_why_the_system_refused_the_file(odd_paths, name):
    proc = acv("valider", odd_paths[name], "--format", "json")
    assert proc.returncode == 2, proc.stderr
    (finding,) = json.loads(proc.stdout)["constats"]
    assert finding["code"] == "STR-01"
    assert f"ne peut pas être lu : {FRENCH[getattr(errno, name)]}." in english_free(finding["message"])


@pytest.mark.parametrize("name", ["ENOTDIR", "ELOOP"])
def test_a_list_of_communes_the_system_refuses_is_said_in_french(odd_paths, name):
    proc = acv("reference", "--reference", odd_paths[name].with_suffix(".csv") if name == "ENOTDIR"
               else odd_paths[name])
    assert proc.returncode == 2
    assert "le fichier de référence « " in proc.stderr and "» est inaccessible (" in english_free(proc.stderr)
    assert FRENCH[getattr(errno, name)] in proc.stderr


def test_consolider_says_in_french_why_a_file_could_not_be_opened(tmp_path, monkeypatch):
    """CON-03 read « fichier inaccessible : Permission denied », as an internal error to report:
    the file is now illisible (STR-01) with the reason in French, the others consolidated."""
    from acv_xl.checks.rules.consolidation import judge
    from acv_xl.outputs import consolidation, consolidation_files

    folder = tmp_path / "dossier"
    shutil.copytree(EXEMPLES, folder)
    (folder / "boucle.xlsx").symlink_to("boucle.xlsx")  # a real ELOOP, and a folder where a file is expected
    summaries = {p.name: consolidation.summarize(str(p), p.name) for p in (folder / "boucle.xlsx", folder)}
    real_open = open
    for number in (errno.EACCES, errno.EIO, errno.EMFILE):
        def refused(path, *args, number=number, **kwargs):
            if str(path).endswith("arras.xlsx"):
                raise OSError(number, os.strerror(number), str(path))
            return real_open(path, *args, **kwargs)

        # the file is opened to be hashed (consolidation_files) and, when that fails, again to be named
        monkeypatch.setattr(consolidation, "open", refused, raising=False)
        monkeypatch.setattr(consolidation_files, "open", refused, raising=False)
        summaries[errno.errorcode[number]] = consolidation.summarize(str(folder / "arras.xlsx"), "arras.xlsx")
    reasons = {"boucle.xlsx": errno.ELOOP, folder.name: errno.EISDIR,
               "EACCES": errno.EACCES, "EIO": errno.EIO, "EMFILE": errno.EMFILE}
    for key, s in summaries.items():
        (verdict,) = judge([s])
        assert not verdict.compte and [f.code for f in verdict.findings] == ["CON-03"], key
        message = english_free(verdict.findings[0].message)
        assert "Fichier illisible (STR-01)" in message and "Erreur interne" not in message, message
        assert f"ne peut pas être lu : {FRENCH[reasons[key]]}." in message, message


def test_a_batch_with_a_looping_link_is_consolidated_never_an_internal_error(tmp_path):
    folder = tmp_path / "dossier"
    shutil.copytree(EXEMPLES, folder)
    (folder / "boucle.xlsx").symlink_to("boucle.xlsx")
    proc = acv("consolider", folder, "-o", tmp_path / "c.xlsx", "--json", tmp_path / "c.json")
    assert proc.returncode == 1 and "erreur interne" not in english_free(proc.stdout + proc.stderr)
    assert "illisible : 1" in proc.stderr + proc.stdout


def test_an_output_the_system_refuses_names_the_file_and_the_reason_in_french(tmp_path, monkeypatch, capsys):
    from acv_xl import cli

    def broken(self, *a, **k):
        raise OSError(errno.EIO, "Input/output error", str(self))

    monkeypatch.setattr(Path, "write_bytes", broken)
    assert cli.main(["modele", str(tmp_path / "m.xlsx")]) == 2
    err = english_free(capsys.readouterr().err)
    assert f"impossible d'écrire {tmp_path / 'm.xlsx'} ({FRENCH[errno.EIO]})." in err


def test_a_system_error_out_of_a_command_is_said_in_french(monkeypatch, capsys):
    """Any OSError a command lets through: the file and the reason, never « erreur interne » with
    the system's English."""
    from acv_xl import cli

    for exc in (FileNotFoundError(errno.ENOENT, "No such file or directory"),
                OSError(errno.EIO, "Input/output error", "registre.sqlite")):
        def boom(args, exc=exc):
            raise exc

        monkeypatch.setattr(cli, "cmd_modele", boom)
        monkeypatch.delenv("ACV_XL_DEBUG", raising=False)
        assert cli.main(["modele", "m.xlsx"]) == 2
        err = english_free(capsys.readouterr().err)
        assert err.startswith("acv-xl : fichier inaccessible") and os_error_text(exc) in err, err
        assert "erreur interne" not in err
        assert ("registre.sqlite" in err) == (exc.filename is not None)


def test_a_system_error_naming_no_file_is_not_said_a_file_inaccessible(monkeypatch, capsys):
    """An OSError that names no file and is no file's fault (the reading processes could not be
    started: too many processes, no memory): the system's reason in French, never « fichier
    inaccessible » (the user would look for a file)."""
    from acv_xl import cli

    for exc in (BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable"),
                OSError(errno.ENOMEM, "Cannot allocate memory")):
        def boom(args, exc=exc):
            raise exc

        monkeypatch.setattr(cli, "cmd_modele", boom)
        monkeypatch.delenv("ACV_XL_DEBUG", raising=False)
        assert cli.main(["modele", "m.xlsx"]) == 2
        err = english_free(capsys.readouterr().err)
        assert err == f"acv-xl : le système a refusé l'opération ({os_error_text(exc)}).\n", err


def test_the_register_and_the_token_file_say_why_in_french(tmp_path, monkeypatch):
    from acv_xl.history.register import Register, RegisterError
    from udfs.server_config import ConfigError, Tokens

    reg = tmp_path / "registre.sqlite"
    reg.write_bytes(b"")
    real_open = open

    def denied(path, *a, **k):
        if str(path) == str(reg):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(RegisterError) as err:
        Register.open(reg, "test")
    assert "illisible : accès refusé." in english_free(str(err.value))
    monkeypatch.undo()
    tokens = tmp_path / "jetons"
    tokens.mkdir()  # a folder where the file is expected: a real EISDIR
    with pytest.raises(ConfigError) as err:
        Tokens(path=tokens)
    assert f"({FRENCH[errno.EISDIR]})" in english_free(str(err.value))


def test_the_excel_button_says_a_system_error_in_french():
    from udfs import scripts

    class Book:
        def __init__(self):
            self.said = []
            self.app = self

        def alert(self, message, title=None):
            self.said.append(message)

    book = Book()

    def job(_book):
        raise OSError(errno.EROFS, "Read-only file system", "arras_annexe.xlsx")

    scripts._guarded(book, job, "Génération de l'annexe")
    assert book.said == ["Génération de l'annexe impossible : support en lecture seule (arras_annexe.xlsx)."]


@pytest.mark.parametrize("command", [
    ("modele", "{loop}"),
    ("valider", "{arras}", "--annoter", "{loop}"),
    ("migrer", "{arras}", "-o", "{loop}"),
    ("annexe", "{lens}", "--depuis", "{loop}", "-o", "{out}"),
    ("consolider", "{folder}", "-o", "{out}", "--registre", "{loop}"),
], ids=["modele", "annoter", "migrer", "annexe-depuis", "registre"])
def test_a_looping_link_named_as_output_or_input_is_refused_in_french_never_an_internal_error(tmp_path, command):
    """`Path.resolve()` raises RuntimeError on a looping link (Python before 3.13): the output
    guard, `--annoter`, `--registre` and the annex's inputs said « erreur interne (RuntimeError :
    Symlink loop…) » in English; now a refusal (status 2) naming the file, nothing written."""
    folder = tmp_path / "dossier"
    shutil.copytree(EXEMPLES, folder)
    loop = tmp_path / "boucle.xlsx"
    loop.symlink_to(loop.name)
    names = {"loop": loop, "arras": folder / "arras.xlsx", "lens": folder / "lens-lievin.xlsx",
             "folder": folder, "out": tmp_path / "sortie.xlsx"}
    proc = acv(*(part.format(**names) for part in command))
    text = english_free(proc.stdout + proc.stderr)
    assert proc.returncode == 2 and "erreur interne" not in text and "boucle.xlsx" in text, text
    assert loop.is_symlink() and not (tmp_path / "sortie.xlsx").exists()


@pytest.mark.parametrize("winerror", [362, 388, 389, 395, 404, 426])  # 404: OneDrive stopped meanwhile, 426: download timed out
def test_a_onedrive_file_not_downloaded_is_said_so(winerror):
    """Windows cannot fetch a OneDrive file « disponible en ligne uniquement » (OneDrive stopped,
    offline): Python raises EINVAL, which read « nom de fichier ou opération invalide »."""
    exc = OSError(errno.EINVAL, "The cloud sync provider failed", "Convention Arras.xlsx")
    exc.winerror = winerror
    text = os_error_text(exc)
    assert text.startswith("fichier OneDrive ou SharePoint non téléchargé sur ce PC") and "(" not in text


@pytest.mark.parametrize("winerror, words", [(64, "partage réseau déconnecté"), (59, "partage réseau interrompue")])
def test_a_share_gone_under_windows_is_said_so(winerror, words):
    exc = OSError(errno.EINVAL, "The specified network name is no longer available", r"\\serveur\partage\a.xlsx")
    exc.winerror = winerror
    assert words in os_error_text(exc)
