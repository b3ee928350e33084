"""How `acv-xl` starts and ends: what a command imports, how it ends (`cli._exit_now`), how many
worker processes a batch starts.

The program ends without Python's teardown once the command has returned; these tests run it as
a user does (a new process) and check what that must never cost: the exit status, every byte
written to stdout and stderr, every output complete, the register committed, the `atexit`
functions run, a thread still running waited for. The batch's outputs must not depend on how many
workers read the files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from acv_xl.cli import main
from acv_xl.outputs import consolidation as C
from acv_xl.outputs.examples import write_examples


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> list[Path]:
    return write_examples(tmp_path_factory.mktemp("exemples"))


def _program(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`code` then `acv-xl ARGS…` as its console script runs it (`acv_xl.cli:run`), in a new process."""
    script = textwrap.dedent(code) + "\nfrom acv_xl.cli import run\nrun()\n"
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, cwd=cwd, timeout=300)


def test_the_program_skips_the_teardown_but_keeps_status_and_output(examples, capsys):
    """A long JSON report piped to a file arrives whole, with the status of the same command run
    in-process; an object left alive is never finalised (the teardown is skipped: the time saved)."""
    files = [str(p) for p in examples]
    proc = _program("""
        import sys
        class Left:
            def __del__(self):
                sys.stderr.write("démontage\\n")
        left = Left()
    """, "valider", "--format", "json", *files)
    status = main(["valider", "--format", "json", *files])
    assert proc.returncode == status == 1  # the examples hold errors
    assert json.loads(proc.stdout.decode("utf-8")) == json.loads(capsys.readouterr().out)
    assert b"d\xc3\xa9montage" not in proc.stderr


def test_a_script_calling_main_goes_on_after_it_and_keeps_its_files(tmp_path, examples):
    """`main()` called by a script (the command line's arguments, no `argv` given) returns its
    status: the script goes on, and a file it holds open keeps what it wrote. The fast exit ended
    such a script inside `main`, and the file's buffered text was lost."""
    kept = tmp_path / "journal.txt"
    script = textwrap.dedent(f"""
        import sys
        journal = open({str(kept)!r}, "w", encoding="utf-8")
        journal.write("avant la validation\\n")
        from acv_xl.cli import main
        status = main()
        print("après", status)
    """)
    proc = subprocess.run([sys.executable, "-c", script, "valider", str(examples[0]), "--format", "json"],
                          capture_output=True, timeout=300)
    assert proc.returncode == 0
    assert proc.stdout.decode("utf-8").rstrip().rsplit("\n", 1)[-1] == f"après {main(['valider', str(examples[0])])}"
    assert kept.read_text(encoding="utf-8") == "avant la validation\n"


def test_atexit_functions_run_and_a_usage_error_keeps_its_status(tmp_path):
    proc = _program("""
        import atexit, sys
        atexit.register(lambda: sys.stdout.write("atexit\\n"))
    """, "consolider", str(tmp_path / "absent"), "-o", str(tmp_path / "conso.xlsx"))
    assert proc.returncode == 2
    assert proc.stdout.decode() == "atexit\n"
    assert proc.stderr.decode("utf-8") == (f"acv-xl : « {tmp_path / 'absent'} » est introuvable (ni dossier ni fichier de ce nom). "
                                             "Vérifiez le chemin.\n")


def test_a_thread_still_running_is_waited_for(tmp_path, examples):
    """Python's own exit waits for a thread that is not a daemon: so does the program's."""
    mark = tmp_path / "fil.txt"
    proc = _program(f"""
        import threading, time
        from pathlib import Path
        def late():
            time.sleep(0.5)
            Path({str(mark)!r}).write_text("fini")
        threading.Thread(target=late).start()
    """, "valider", str(examples[0]), "--format", "json")
    assert proc.returncode in (0, 1)
    assert mark.read_text() == "fini"


def test_consolider_outputs_are_whole_and_the_register_committed(tmp_path, examples):
    out, data, register = tmp_path / "conso.xlsx", tmp_path / "conso.json", tmp_path / "registre.sqlite"
    proc = _program("""
        import sys
        class Left:
            def __del__(self):
                sys.stderr.write("démontage\\n")
        left = Left()
    """, "consolider", str(examples[0].parent), "-o", str(out), "--json", str(data),
                    "--registre", str(register), "--jobs", "2")
    assert proc.returncode == 1, proc.stderr.decode("utf-8")
    # whole lines: the summary, then the register said created (its first consolidation); the teardown
    # skipped (no thread of the batch was left running)
    lines = proc.stderr.decode("utf-8").split("\n")
    assert len(lines) == 3 and lines[0].startswith("Consolidation : ") and lines[2] == ""
    assert lines[1].startswith(f"acv-xl : registre « {register} » créé : cette consolidation ")
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None and "xl/worksheets/sheet1.xml" in z.namelist()
    assert json.loads(data.read_text(encoding="utf-8"))
    with sqlite3.connect(register) as db:
        assert db.execute("select count(*) from consolidations").fetchone() == (1,)
        assert db.execute("select count(*) from fichiers").fetchone() == (len(examples),)
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left beside the outputs


# ------------------------------------------------------------------ what a command imports
HEAVY = ("rich", "xml.sax", "http.client", "concurrent.futures", "pandas", "openpyxl", "xlsxwriter", "subprocess")


def _imported_by(*args: str, cwd: Path) -> set[str]:
    code = ("import contextlib, io, sys\nfrom acv_xl.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(sys.argv[1:])\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def test_commands_import_only_what_they_use(tmp_path, examples):
    """A JSON report never imports rich (text only); `modele` writes the template without xml.sax
    (which brings urllib, http.client, ssl, email); the pool's modules only where there is a pool."""
    a = str(examples[0])
    copy = tmp_path / "copie.xlsx"  # comparer refuses a file with itself
    copy.write_bytes(Path(a).read_bytes())
    assert _imported_by("valider", a, "--format", "json", cwd=tmp_path) == set()
    assert _imported_by("comparer", a, str(copy), "--format", "json", cwd=tmp_path) == set()
    assert _imported_by("modele", str(tmp_path / "modele.xlsx"), cwd=tmp_path) == {"xlsxwriter"}
    assert _imported_by("reference", cwd=tmp_path) == set()
    # LibreOffice (a subprocess) with --pdf only
    assert "subprocess" not in _imported_by("annexe", a, "-o", str(tmp_path / "annexe.xlsx"), "--brouillon",
                                            cwd=tmp_path)
    assert "rich" in _imported_by("comparer", a, str(copy), cwd=tmp_path)  # the text report does use it


# what the batch's own process needs when the register knows most files: its workers read the
# others (`consolidation._prepare_workers`: a single worker imports the reader itself), forked
# without a pool (`consolidation_worker`: neither `concurrent.futures.process` nor `multiprocessing`);
# the workbook's rows deflated by a thread of its own, not a `ThreadPoolExecutor` (`concurrent.futures`
# and `logging`, ≈ 5 ms)
WARM_PARENT_NEVER = ("importlib.metadata", "python_calamine", "acv_xl.reading.source_file", "acv_xl.reading.read",
                     "acv_xl.checks.fingerprint", "rich", "pandas", "openpyxl", "xml.sax", "http.client",
                     "concurrent.futures", "logging", "multiprocessing")


def test_a_warm_consolidation_imports_and_reads_only_what_its_own_process_uses(tmp_path, examples):
    """`consolider --registre` where the register knows 4 of the 6 files: the process that decodes
    the register and writes the workbook imports neither the reader (its worker reads the 2 others)
    nor `importlib.metadata` (pydantic's plugin search, `contract.pydantic_plugins`), and never
    reads the national list (the worker checks the files against it)."""
    folder = tmp_path / "62"
    folder.mkdir()
    for p in examples[:4]:
        (folder / p.name).write_bytes(p.read_bytes())
    register = tmp_path / "registre.sqlite"
    assert main(["consolider", str(folder), "-o", str(tmp_path / "c0.xlsx"), "--registre", str(register)]) == 1
    for p in examples[4:]:
        (folder / p.name).write_bytes(p.read_bytes())
    code = ("import contextlib, io, sys\nfrom acv_xl.cli import main\n"
            "with contextlib.redirect_stderr(io.StringIO()) as said:\n    status = main(sys.argv[1:])\n"
            "from acv_xl.contract import reference\n"
            f"print(status, reference._load.cache_info().currsize, ' '.join(m for m in {WARM_PARENT_NEVER!r} "
            "if m in sys.modules))\nprint(said.getvalue())")
    proc = subprocess.run([sys.executable, "-c", code, "consolider", str(folder), "-o", str(tmp_path / "c.xlsx"),
                           "--registre", str(register), "--jobs", "2"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    status, lists, *heavy = proc.stdout.split("\n", 1)[0].split()
    assert (status, lists, heavy) == ("1", "0", [])
    assert "(2 lus, 4 inchangés repris du registre)" in proc.stdout  # the case meant: a worker read 2 files


def test_the_national_list_in_the_workers_is_the_one_checked_by_the_command(tmp_path, examples, monkeypatch, capsys):
    """The list is read by the workers (the shipped one) or checked first by the command (a list of
    the user's, through `--reference` or `ACV_XL_REFERENCE`): a bad list stops the command before any
    file is read, whichever way it is named."""
    from acv_xl.contract.reference import ENV_VAR, SHIPPED

    bad = tmp_path / "liste.csv"
    bad.write_text(SHIPPED.read_text(encoding="utf-8").replace(",62,", ",6X,", 1), encoding="utf-8")
    out = tmp_path / "c.xlsx"
    folder = str(examples[0].parent)
    assert main(["consolider", folder, "-o", str(out), "--reference", str(bad)]) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"acv-xl : le fichier de référence « {bad} » est invalide :") and "« 6X »" in said
    monkeypatch.setenv(ENV_VAR, str(bad))
    assert main(["consolider", folder, "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"acv-xl : le fichier de référence « {bad} » (variable d'environnement "
                                             f"{ENV_VAR}) est invalide :")
    assert not out.exists()
    monkeypatch.delenv(ENV_VAR)
    assert main(["consolider", folder, "-o", str(out), "--jobs", "1"]) == 1 and out.exists()
    assert ENV_VAR not in os.environ  # given back as it was


# ------------------------------------------------------------------ the files found ahead
def _run_code(code: str, *args: str, cwd: Path) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\n")


def test_the_files_found_ahead_are_those_the_consolidation_finds(tmp_path, examples):
    """`prefetch` (another process) finds the same files as `discover` and the same size, date and
    SHA-256 as `_identify`; asked for other paths, or for a path that does not exist, it gives
    nothing (the consolidation then walks the folder itself and says what is wrong)."""
    folder = tmp_path / "62"
    (folder / "sous").mkdir(parents=True)
    for p in examples[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "sous" / examples[3].name).write_bytes(examples[3].read_bytes())
    (folder / "~$arras.xlsx").write_bytes(b"lock")
    (folder / ".cache.xlsx").write_bytes(b"hidden")
    (folder / "ancien.xls").write_bytes(b"refused, listed")
    out = _run_code("""
        import sys
        from pathlib import Path
        from acv_xl.outputs import consolidation_files as F
        folder = Path(sys.argv[1])
        ahead = F.prefetch([folder])
        files, base, ids, shown = ahead.result([folder])
        ahead.close()
        found = {}
        print((files, base) == F.discover([folder], shown=found) and shown == found == {}, len(files))
        print(ids == {str(f): F._identify(str(f)) for f in files})
        other = F.prefetch([folder])
        print(other.result([folder / "sous"]), other._pid)
        other.close()
        missing = F.prefetch([folder / "absent"])
        print(missing.result([folder / "absent"]))
        early = F.prefetch([folder])
        early.close()  # never asked for: stopped, not waited for
        print(early._pid, early._fd)
        listed = F.prefetch([folder], identify=False)  # no register: the files found, none hashed
        print(listed.result([folder])[:3] == (files, base, {}))
        listed.close()
    """, str(folder), cwd=tmp_path)
    assert out[:6] == ["True 5", "True", "None None", "None", "None None", "True"]


def test_the_folders_found_ahead_but_not_walked_are_those_discover_gives(tmp_path, examples):
    """With `--registre`, the files are found by another process (`prefetch`): the folders it
    could not walk (a broken link, a loop) are said all the same, and a linked folder is walked."""
    folder, elsewhere = tmp_path / "62", tmp_path / "communes"
    (elsewhere / "arras").mkdir(parents=True)
    folder.mkdir()
    (elsewhere / "arras" / examples[0].name).write_bytes(examples[0].read_bytes())
    (folder / examples[1].name).write_bytes(examples[1].read_bytes())
    (folder / "arras").symlink_to(elsewhere / "arras")
    (folder / "boulogne").symlink_to(elsewhere / "absent")
    (folder / "parent").symlink_to("..")
    out = _run_code("""
        import sys
        from pathlib import Path
        from acv_xl.outputs import consolidation_files as F
        folder = Path(sys.argv[1])
        ahead = F.prefetch([folder])
        files, base, ids, shown = ahead.result([folder])
        ahead.close()
        found, skipped = {}, []
        print((files, base) == F.discover([folder], shown=found, skipped=skipped) and shown == found, len(files))
        print(ahead.skipped == skipped, [(str(p.relative_to(folder)), why.split(',')[0]) for p, why in skipped])
    """, str(folder), cwd=tmp_path)
    assert out[0] == "True 2"
    assert out[1] == ("True [('boulogne', 'lien symbolique dont la cible est introuvable'), "
                      "('parent', 'lien symbolique vers un dossier qui le contient')]")


def test_a_warm_consolidation_takes_the_files_and_digests_found_ahead(tmp_path, examples):
    """`consolider --registre` with a register: the command's process neither walks the folder nor
    hashes a file (done ahead by `prefetch` while it imports), and its outputs are those of the
    same consolidation without it."""
    folder = tmp_path / "62"
    folder.mkdir()
    for p in examples:
        (folder / p.name).write_bytes(p.read_bytes())
    register = tmp_path / "registre.sqlite"
    assert main(["consolider", str(folder), "-o", str(tmp_path / "c0.xlsx"), "--registre", str(register)]) == 1
    out = _run_code("""
        import contextlib, io, shutil, sys
        from acv_xl.outputs import consolidation as C
        from acv_xl.outputs import consolidation_files as F
        asked = []
        discover, summaries = C.discover, C._summaries
        C.discover = lambda *a, **k: asked.append("discover") or discover(*a, **k)
        C._summaries = lambda *a: asked.append(len(a[4] or {})) or summaries(*a)
        from acv_xl.cli import main
        folder, register, out = sys.argv[1:4]
        with contextlib.redirect_stderr(io.StringIO()):
            shutil.copy(register, out + ".a.sqlite")
            status = main(["consolider", folder, "-o", out + ".a.xlsx", "--json", out + ".a.json",
                           "--registre", out + ".a.sqlite"])
            F.prefetch = lambda paths, **kw: None  # the same, the process finding and hashing itself
            shutil.copy(register, out + ".b.sqlite")
            again = main(["consolider", folder, "-o", out + ".b.xlsx", "--json", out + ".b.json",
                          "--registre", out + ".b.sqlite"])
        print(status, again, asked)
    """, str(folder), str(register), str(tmp_path / "c"), cwd=tmp_path)
    assert out[0] == f"1 1 [{len(examples)}, 'discover', 0]"
    a, b = (json.loads((tmp_path / f"c.{k}.json").read_text(encoding="utf-8")) for k in "ab")
    assert {k: v for k, v in a.items() if k != "genere_le"} == {k: v for k, v in b.items() if k != "genere_le"}
    with zipfile.ZipFile(tmp_path / "c.a.xlsx") as za, zipfile.ZipFile(tmp_path / "c.b.xlsx") as zb:
        sheets = [n for n in za.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and all(za.read(n) == zb.read(n) for n in sheets)
    with sqlite3.connect(tmp_path / "c.a.sqlite") as da, sqlite3.connect(tmp_path / "c.b.sqlite") as db:
        query = "select chemin, taille, modifie_le, sha256, relu, etat, acv_id, compte, motif from fichiers order by id"
        assert da.execute(query).fetchall() == db.execute(query).fetchall()


def test_a_consolidation_without_register_takes_the_files_found_ahead(tmp_path, examples):
    """Without a register too, the command's process does not walk the folder (found ahead while it
    imports) and hashes nothing before reading; its outputs are those of the same run without it."""
    folder = tmp_path / "62"
    folder.mkdir()
    for p in examples:
        (folder / p.name).write_bytes(p.read_bytes())
    out = _run_code("""
        import contextlib, io, sys
        from acv_xl.outputs import consolidation as C
        from acv_xl.outputs import consolidation_files as F
        asked = []
        discover, identify, prefetch = C.discover, C._identify, F.prefetch
        C.discover = lambda *a, **k: asked.append("discover") or discover(*a, **k)
        F.prefetch = lambda paths, identify: asked.append(identify) or prefetch(paths, identify=identify)
        from acv_xl.cli import main
        folder, out = sys.argv[1:3]
        with contextlib.redirect_stderr(io.StringIO()):
            status = main(["consolider", folder, "-o", out + ".a.xlsx", "--json", out + ".a.json"])
            F.prefetch = lambda paths, **kw: None  # the same, the process finding the files itself
            again = main(["consolider", folder, "-o", out + ".b.xlsx", "--json", out + ".b.json"])
        print(status, again, asked)
    """, str(folder), str(tmp_path / "c"), cwd=tmp_path)
    assert out[0] == "1 1 [False, 'discover']"
    a, b = (json.loads((tmp_path / f"c.{k}.json").read_text(encoding="utf-8")) for k in "ab")
    assert {k: v for k, v in a.items() if k != "genere_le"} == {k: v for k, v in b.items() if k != "genere_le"}
    with zipfile.ZipFile(tmp_path / "c.a.xlsx") as za, zipfile.ZipFile(tmp_path / "c.b.xlsx") as zb:
        sheets = [n for n in za.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and all(za.read(n) == zb.read(n) for n in sheets)


# ------------------------------------------------------------------ pydantic's plugin search
def test_pydantic_takes_only_get_plugins_from_its_plugin_loader():
    """`contract.pydantic_plugins` stands in for `pydantic.plugin._loader` with `get_plugins` alone:
    pydantic must ask that module for nothing else (read in pydantic's source: a newer pydantic that
    does fails here, not in a user's command)."""
    import re

    import pydantic

    root = Path(pydantic.__file__).parent
    uses = set()
    for path in root.rglob("*.py"):
        if path.name == "_loader.py" and path.parent.name == "plugin":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"\b_loader\b", line) and not line.lstrip().startswith("#"):
                uses.add((path.relative_to(root).as_posix(), line.strip()))
    assert uses == {("plugin/_schema_validator.py", "from ._loader import get_plugins")}


def _loader_state(code: str, env: dict[str, str]) -> list[str]:
    script = ("import os, sys\nfrom acv_xl.contract import pydantic_plugins\npydantic_plugins.disable()\n"
              + textwrap.dedent(code))
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"} | env
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_a_model_is_built_without_importlib_metadata_and_plugins_stay_disabled():
    state = _loader_state("""
        from pydantic import BaseModel
        class M(BaseModel):
            x: int
        assert M(x="3").x == 3  # a validator built (`create_schema_validator` asked for the plugins)
        from pydantic.plugin._loader import get_plugins
        print(os.environ["PYDANTIC_DISABLE_PLUGINS"], "importlib.metadata" in sys.modules, tuple(get_plugins()))
    """, {})
    assert state == ["__all__", "False", "()"]


def test_a_user_setting_wins_and_plugins_wanted_again_are_pydantic_s_own():
    """A user naming one plugin to disable keeps pydantic's search; plugins wanted again later in the
    process (the variable removed) are looked for by pydantic's own loader, which then stays."""
    assert _loader_state("""
        print(os.environ["PYDANTIC_DISABLE_PLUGINS"], "pydantic.plugin._loader" in sys.modules)
    """, {"PYDANTIC_DISABLE_PLUGINS": "logfire"}) == ["logfire", "False"]
    assert _loader_state("""
        from pydantic.plugin._loader import get_plugins
        del os.environ["PYDANTIC_DISABLE_PLUGINS"]
        plugins = get_plugins()
        loader = sys.modules["pydantic.plugin._loader"]
        print(type(plugins).__name__, hasattr(loader, "entry_points"), "importlib.metadata" in sys.modules)
    """, {}) == ["dict_values", "True", "True"]


def test_template_escapes_as_saxutils_did():
    from xml.sax.saxutils import escape

    from acv_xl.contract import layout
    from acv_xl.outputs.template import _escape

    for text in ["Valider", "l'annexe", "a & b < c > d", "«\u00a0Prêt\u00a0» d'\"État\" &amp;"] + [
            b.caption for b in layout.BUTTONS]:
        assert _escape(text) == escape(text)
        assert _escape(text, apos=True) == escape(text, {"'": "&apos;"})


# ------------------------------------------------------------------ the workers
def test_a_worker_reads_at_least_eight_files():
    assert [C._workers(n, 2) for n in (1, 7, 8, 15, 16, 1000)] == [1, 1, 1, 1, 2, 2]
    assert C._workers(1000, 4) == 4 and C._workers(20, 4) == 2


def test_summaries_are_the_same_whatever_the_number_of_workers(examples, monkeypatch):
    """In this process, one worker, two workers: the same summaries, in the same order."""
    items = [(str(p), p.name) for p in examples] * 3  # 18 files: two workers
    alone = C.summarize_all(items, jobs=1)
    assert C._workers(len(items), 2) == 2
    two = C.summarize_all(items, jobs=2)
    monkeypatch.setattr(C, "FILES_PER_WORKER", 100)
    one = C.summarize_all(items, jobs=2)
    assert alone == two == one
    assert [s.rel for s in two] == [r for _, r in items]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full: a disk always full, Linux only")
def test_a_report_redirected_to_a_full_disk_is_said_in_french(examples):
    """`acv-xl valider … > rapport.json` on a full disk said « erreur interne inattendue (OSError…) »:
    it says the disk is full, with the status of unusable output, and nothing in English."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-c", "from acv_xl.cli import run\nrun()", "valider", str(examples[0]),
                               "--format", "json"], stdout=full, stderr=subprocess.PIPE, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.decode("utf-8") == ("acv-xl : écriture impossible : plus de place sur le disque (ou quota "
                                          "atteint) ; la sortie est incomplète.\n")


def test_a_program_without_standard_output_does_its_work_and_keeps_its_status(tmp_path, examples):
    """Started by `pythonw` (a scheduled task, a shortcut) or with its descriptor closed, the program
    has no stdout (None): `consolider` wrote its workbook, then ended on « erreur interne » (status 2)."""
    folder = tmp_path / "62"
    folder.mkdir()
    for p in examples[:2]:
        (folder / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "conso.xlsx"
    proc = _program("""
        import sys
        sys.stdout = None
    """, "consolider", str(folder), "-o", str(out), "--jobs", "1")
    assert proc.returncode == main(["consolider", str(folder), "-o", str(tmp_path / "c2.xlsx"), "--jobs", "1"])
    assert "erreur interne" not in proc.stderr.decode("utf-8")
    assert zipfile.ZipFile(out).testzip() is None


@pytest.mark.parametrize("base, path", [
    ("/a/b", "/a/b/c.xlsx"), ("/a/b", "/a/b/sous/dossier/c.xlsx"), ("/a", "/ab/c.xlsx"), ("/a/b", "/a/B/c.xlsx"),
    ("/", "/c.xlsx"), ("/", "//x/c.xlsx"), ("//", "//x/c.xlsx"), ("//a", "//a/c.xlsx"), ("/a", "/a/../b/c.xlsx"),
    ("/a", "/a/\udcff\udcfe.xlsx"), ("/a", "/a/x\\y.xlsx"), ("/a", "/a"), ("a", "a/b.xlsx"), (".", "b.xlsx"),
    ("/a", "/b/c.xlsx"),
])
def test_a_file_is_shown_as_relative_to_did(base, path):
    """`_rel` takes the text of the file under its folder without `relative_to`'s paths: the same
    text it gave, on every kind of name and folder."""
    from acv_xl.outputs.terminal import file_text

    p, b = Path(path), Path(base)
    try:
        before = file_text(p.relative_to(b).as_posix())
    except ValueError:
        before = file_text(str(p))
    assert C._rel(p, b) == before


def test_the_files_found_ahead_arrive_as_the_same_paths(tmp_path):
    """The forked process sends names, made paths again here: the same list, folder and names shown
    as `discover` gives, links and names that are not UTF-8 included."""
    from acv_xl.outputs.consolidation_files import discover, prefetch

    folder = tmp_path / "62"
    (folder / "sous").mkdir(parents=True)
    for name in ("a.xlsx", "sous/b.xlsm", "c\udcff.xlsx"):
        (folder / name).write_bytes(b"PK")
    (folder / "lien.xlsx").symlink_to(tmp_path / "ailleurs.xlsx")
    (tmp_path / "ailleurs.xlsx").write_bytes(b"PK")
    ahead = prefetch([folder])
    assert ahead is not None
    try:
        files, base, ids, shown = ahead.result([folder])
    finally:
        ahead.close()
    names: dict = {}
    assert (files, base) == discover([folder], shown=names) and shown == names and shown
    assert all(type(f) is type(folder) for f in files + list(shown) + list(shown.values()) + [base])
    assert set(ids) == {str(shown.get(f, f)) for f in files}


def test_a_result_is_left_to_the_programs_end_only_when_it_ends_next():
    """`program_end.keep`: a consolidation's result freed with the program (which ends without
    teardown) when the command line says it ends next; a caller of the same functions (a script, a
    server) frees it as usual."""
    import weakref

    from acv_xl.outputs import program_end

    class Result:
        pass

    r = Result()
    gone = weakref.ref(r)
    program_end.keep(r)
    del r
    assert gone() is None  # nobody said the program ends: freed at once
    try:
        program_end.ending_soon()
        r = Result()
        kept = weakref.ref(r)
        program_end.keep(r)
        del r
        assert kept() is not None
    finally:
        program_end.ending_soon(False)
    assert kept() is None  # given back when it is said again that the program goes on
