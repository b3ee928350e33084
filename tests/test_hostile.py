"""Hostile files contained: the crafted corpus (`_hostile_files`) through every command, as a user runs them.

Each crafted workbook goes through `valider`, `valider --annoter`, `annexe --brouillon` and
`consolider` (beside good workbooks) in a subprocess (`python -m acv_xl`) limited to 1 GiB of
address space (RLIMIT_AS): the status is 1 or 2 with a French finding, no traceback, no abort (a
Rust allocation failure would end the process on SIGABRT, status -6/134), the peak memory measured
(`ru_maxrss` of the child's own `rusage`, from `os.wait4`: the same figure `RUSAGE_CHILDREN`
accumulates, for this process alone) under 1 GiB and the time under 60 s; the consolidation loses
nothing of the other files; no escape character reaches the output.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from _hostile_files import (
    ESC_TEXT,
    FACTORIES,
    FIN_PART,
    SST_PART,
)

from acv_xl.outputs.examples import FAUTES_ATTENDUES, write_examples

MEMORY_CEILING = 1 << 30
TIME_CEILING = 60.0
BASE = "arras.xlsx"  # a clean example: the hostile files are made from it, the batch holds the others

# what each file is expected to give: (status of `valider`, code in its report); the readable ones
# stay readable (their hostile content is shown or reported), the others are refused as STR-01
EXPECTED = {
    "billion_laughs": (2, "STR-01"),
    "external_entity": (2, "STR-01"),
    "zip_bomb": (2, "STR-01"),
    "lying_crc": (2, "STR-01"),
    "lying_size": (2, "STR-01"),
    "understated_dimension": (0, None),  # the far value is read region by region: a plain workbook
    "amplified_strings": (2, "STR-01"),
    "custom_property_bomb": (2, "STR-01"),
    "many_entries": (2, "STR-01"),
    "escape_sequences": (1, "FIN-02"),
    "long_text": (1, "STR-10"),
    "plan_of_200000_lines": (2, "STR-01"),  # refused before its lines become models and findings
    "announced_strings": (2, "STR-01"),
    "off_grid_reference": (2, "STR-01"),
}
assert set(EXPECTED) == {f.__name__ for f in FACTORIES}


@dataclass
class Run:
    status: int
    out: str
    err: str
    raw: bytes
    seconds: float
    peak: int  # bytes

    @property
    def text(self) -> str:
        return self.out + self.err


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING, MEMORY_CEILING))


def _run(*args: str) -> Run:
    """`python -m acv_xl ARGS` under the memory ceiling; its own peak memory from `os.wait4`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "acv_xl", *args], stdout=out, stderr=err,
                                preexec_fn=_limits, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        killer = threading.Timer(TIME_CEILING * 2, proc.kill)  # a hung run fails, it never blocks the suite
        killer.start()
        try:
            _pid, wstatus, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(wstatus)  # reaped here: Popen must not wait again
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        o, e = out.read(), err.read()
    return Run(proc.returncode, o.decode("utf-8", "replace"), e.decode("utf-8", "replace"), o + e, seconds,
               usage.ru_maxrss * 1024)


def _contained(run: Run, what: str) -> None:
    assert run.status in (0, 1, 2), f"{what}: statut {run.status}\n{run.text[-2000:]}"
    assert "Traceback" not in run.text and "panicked" not in run.text and "memory allocation" not in run.text, \
        f"{what}\n{run.text[-2000:]}"
    assert "erreur interne" not in run.text, f"{what}\n{run.text[-2000:]}"
    assert b"\x1b" not in run.raw, f"{what}: un caractère d'échappement a atteint la sortie"
    assert run.peak <= MEMORY_CEILING, f"{what}: {run.peak / 2**20:.0f} Mo"
    assert run.seconds <= TIME_CEILING, f"{what}: {run.seconds:.1f} s"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostiles")
    examples = write_examples(root / "exemples")
    good = root / "exemples" / BASE
    assert BASE not in FAUTES_ATTENDUES and good in examples
    batch = root / "bons"
    batch.mkdir()
    for p in examples:
        if p.name != BASE:
            shutil.copy(p, batch / p.name)
    hostile = root / "hostiles"
    hostile.mkdir()
    files = {f.__name__: f(good, hostile) for f in FACTORIES}
    for p in files.values():
        assert p.stat().st_size < 16 * 2**20  # small files: the damage is in what they claim to hold
    return {"root": root, "good": good, "batch": batch, "files": files,
            "good_names": sorted(p.name for p in batch.iterdir())}


# ------------------------------------------------------------------ the corpus is what it says
def test_the_crafted_files_are_hostile_as_described(corpus):
    files = corpus["files"]
    with zipfile.ZipFile(files["zip_bomb"]) as z:
        assert z.getinfo(FIN_PART).file_size == 2**30
    with zipfile.ZipFile(files["custom_property_bomb"]) as z:
        assert z.getinfo("docProps/custom.xml").file_size == 3 * 2**30
    with zipfile.ZipFile(corpus["good"]) as g:
        for name, part in (("lying_crc", FIN_PART), ("lying_size", SST_PART)):
            real = g.read(part)
            with zipfile.ZipFile(files[name]) as z:
                info = z.getinfo(part)
                assert (info.file_size, info.CRC) == (len(real), zlib.crc32(real))  # the headers tell the truth…
                raw = files[name].read_bytes()
                start = info.header_offset + 30 + len(part)
                d = zlib.decompressobj(-15)
                first = d.decompress(raw[start: start + info.compress_size], 64 * 2**20)
                assert len(first) == 64 * 2**20  # …and the data go on far past it (2 GiB)
                assert (first[: len(real)] == real) == (name == "lying_size")
    with zipfile.ZipFile(files["understated_dimension"]) as z:
        xml = z.read(FIN_PART)
        assert b"XFD1048576" in xml and b'<dimension ref="A1:' in xml and b'<dimension ref="A1:XFD' not in xml
    with zipfile.ZipFile(files["amplified_strings"]) as z:
        assert z.read(FIN_PART).count(b't="s"><v>') >= 2000 and len(z.read(SST_PART)) > 2**20
    assert len(zipfile.ZipFile(files["many_entries"]).infolist()) > 100_000
    with zipfile.ZipFile(files["billion_laughs"]) as z:
        sst = z.read(SST_PART)
        assert sst.find(b"<!DOCTYPE") > 4096 and b"&lol9;" in sst
    with zipfile.ZipFile(files["external_entity"]) as z:
        assert b'SYSTEM "file:///etc/passwd"' in z.read(FIN_PART)


# ------------------------------------------------------------------ every command, every file
NAMES = list(EXPECTED)


@pytest.mark.parametrize("name", NAMES)
def test_valider(corpus, name):
    path = corpus["files"][name]
    status, code = EXPECTED[name]
    run = _run("valider", str(path))
    _contained(run, f"valider {path.name}")
    assert run.status == status, run.text[-2000:]
    if code:
        assert code in run.out and f"Fichier : {path}" in run.out
    if status == 2:
        assert f"Le fichier « {path.name} »" in run.out and "illisible" in run.out
    before = path.read_bytes()
    run = _run("valider", "--format", "json", str(path))
    _contained(run, f"valider --format json {path.name}")
    report = json.loads(run.out)
    assert run.status == status and (code is None or code in {c["code"] for c in report["constats"]})
    for c in report["constats"]:
        assert c["message"] and c["gravite"] in ("erreur", "avertissement", "information")
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", NAMES)
def test_valider_annoter(corpus, name, tmp_path):
    path = corpus["files"][name]
    status, code = EXPECTED[name]
    out = tmp_path / "annote.xlsx"
    run = _run("valider", str(path), "--annoter", str(out))
    _contained(run, f"valider --annoter {path.name}")
    assert run.status == status, run.text[-2000:]
    if status == 2:  # refused, with the reason the report gives (the file named), no copy written
        assert "la copie annotée n'a pas été écrite" in run.text and f"« {path.name} »" in run.text
        assert not out.exists()
    else:
        assert out.exists() and "Copie annotée écrite" in run.out
        if code:
            assert code in run.out


@pytest.mark.parametrize("name", NAMES)
def test_annexe_brouillon(corpus, name, tmp_path):
    path = corpus["files"][name]
    status, code = EXPECTED[name]
    out = tmp_path / "annexe.xlsx"
    run = _run("annexe", "--brouillon", str(path), "-o", str(out))
    _contained(run, f"annexe --brouillon {path.name}")
    if status == 2:
        assert run.status == 2 and not out.exists()
        assert "n'est pas un classeur ACV lisible" in run.err and "STR-01" in run.err  # a refusal: stderr
        assert "\n  STR-01 : " in run.err and "␊" not in run.err  # each finding on its own line
    else:  # a readable workbook: the draft is written, whatever its errors (that is what --brouillon is for)
        assert run.status == 0 and out.exists() and "PROJET" in run.out, run.text[-2000:]


@pytest.mark.parametrize("name", NAMES)
def test_consolider_loses_nothing_of_the_other_files(corpus, name, tmp_path):
    path = corpus["files"][name]
    status, _code = EXPECTED[name]
    out, js = tmp_path / "conso.xlsx", tmp_path / "conso.json"
    run = _run("consolider", str(corpus["batch"]), str(path), "-o", str(out), "--json", str(js), "--jobs", "2")
    _contained(run, f"consolider {path.name}")
    assert run.status in (1, 2), run.text[-2000:]  # the examples hold errors by design
    summary = json.loads(js.read_text(encoding="utf-8"))
    by_name = {Path(c["fichier"]).name: c for c in summary["conventions"]}
    assert sorted(by_name) == sorted([*corpus["good_names"], path.name])
    for good in corpus["good_names"]:
        assert by_name[good]["compte"], (good, by_name[good]["motif"])
    hostile = by_name[path.name]
    assert hostile["compte"] == (status != 2), hostile
    if status == 2:
        assert hostile["etat"] == "illisible" and hostile["totaux"] is None
    from openpyxl import load_workbook

    wb = load_workbook(out, read_only=True)
    listed = [str(c) for row in wb["Fichiers"].iter_rows(values_only=True) for c in row if c]
    assert any(path.name in c for c in listed)
    assert summary["conventions_comptees"] == len(corpus["good_names"]) + (status != 2)


# ------------------------------------------------------------------ what the readable ones show
def test_escape_sequences_are_shown_literally(corpus, tmp_path):
    path = corpus["files"]["escape_sequences"]
    run = _run("valider", str(path))
    _contained(run, "valider")
    # the text of the cell, every control character as a visible symbol, Rich markup as typed
    shown = ESC_TEXT.replace("\x1b", "␛").replace("\x07", "␇")
    assert shown in run.out, run.out[-2000:]
    assert "[bold red]rouge[/bold red]" in run.out and "[link=file:///etc/passwd]" in run.out


def test_a_text_longer_than_a_cell_holds_is_str10(corpus):
    run = _run("valider", "--format", "json", str(corpus["files"]["long_text"]))
    report = json.loads(run.out)
    found = [c for c in report["constats"] if c["code"] == "STR-10"]
    assert len(found) == 1 and found[0]["feuille"] == "Plan de financement" and found[0]["cellule"] == "B4"
    assert "32 768 caractères" in found[0]["message"].replace("\u202f", " ").replace("\u00a0", " ")
    assert len(found[0]["message"]) < 400  # the text itself is not repeated in full…
    assert all(len(c["message"]) < 1000 for c in report["constats"])  # …nor by the rules quoting it (FIN-02)


def test_a_value_beyond_an_understated_dimension_costs_no_grid(corpus):
    """The sheet says A1:J… but holds XFD1048576: read region by region, the plan intact."""
    run = _run("valider", "--format", "json", str(corpus["files"]["understated_dimension"]))
    good = _run("valider", "--format", "json", str(corpus["good"]))
    a, b = json.loads(run.out), json.loads(good.out)
    assert a["totaux"] == b["totaux"] and a["constats"] == b["constats"]
    assert run.peak < 512 * 2**20
