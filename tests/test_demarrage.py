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
    assert proc.stderr.decode("utf-8") == f"acv-xl : chemin introuvable : {tmp_path / 'absent'}\n"


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
    # one line, whole; the teardown skipped (no thread of the batch was left running)
    assert proc.stderr.decode("utf-8").startswith("Consolidation : ") and proc.stderr.decode("utf-8").count("\n") == 1
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
    assert _imported_by("valider", a, "--format", "json", cwd=tmp_path) == set()
    assert _imported_by("comparer", a, a, "--format", "json", cwd=tmp_path) == set()
    assert _imported_by("modele", str(tmp_path / "modele.xlsx"), cwd=tmp_path) == {"xlsxwriter"}
    assert _imported_by("reference", cwd=tmp_path) == set()
    # LibreOffice (a subprocess) with --pdf only
    assert "subprocess" not in _imported_by("annexe", a, "-o", str(tmp_path / "annexe.xlsx"), "--brouillon",
                                            cwd=tmp_path)
    assert "rich" in _imported_by("comparer", a, a, cwd=tmp_path)  # the text report does use it


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
