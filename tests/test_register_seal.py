"""The register's summaries are sealed with the user's key (`analyses.controle`, schema 3).

A register may come from elsewhere (a colleague's, a backup, a shared folder anyone writes): a summary
edited with any SQLite tool, one sealed under another key, or one not sealed at all (schema 2) is never
reused — its workbook is read again and the consolidated workbook is a cold run's; a sealed one is."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from acv_xl import __version__
from acv_xl.checks.rules.consolidation import LINE_FIELDS
from acv_xl.cli import main
from acv_xl.history import register as R
from acv_xl.history import register_key as K
from acv_xl.outputs import consolidation as C
from acv_xl.outputs.examples import example_conventions
from acv_xl.outputs.template import build_workbook

from test_register_reading import _folder  # the same folder of the shipped examples


def _cells(path: Path) -> dict:
    """Every cell of every sheet (the subtitle with the generation time left out)."""
    wb = openpyxl.load_workbook(path)
    return {(ws.title, c.coordinate): c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.value is not None and not (c.row == 2 and c.column == 1)}


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The names of the workbooks read from now on (the batch's validator, in process with `jobs=1`)."""
    calls: list[str] = []
    real = C._validate
    monkeypatch.setattr(C, "_validate", lambda p, data=None: calls.append(Path(p).name) or real(p, data))
    return calls


def _warm(tmp_path: Path, folder: Path, reg: Path, reads: list[str], name: str) -> tuple[list[str], dict]:
    """A run with the register: the workbooks it read, and its workbook's cells."""
    reads.clear()
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / name, jobs=1, cache=r, record=r)
    return sorted(reads), _cells(tmp_path / name)


def _cold(tmp_path: Path, folder: Path, name: str = "froid.xlsx") -> dict:
    C.consolidate([folder], tmp_path / name, jobs=1)
    return _cells(tmp_path / name)


def _recorded(tmp_path, shipped_examples, reads) -> tuple[Path, Path, dict]:
    folder = _folder(tmp_path, shipped_examples)
    reg = tmp_path / "registre.sqlite"
    read, _ = _warm(tmp_path, folder, reg, reads, "premier.xlsx")
    assert read == sorted(p.name for p in shipped_examples)  # a new register: every workbook read
    return folder, reg, _cold(tmp_path, folder)


def _analysis_with(reg: Path, field: str) -> tuple[int, str, str]:
    """(id, sha256, summary) of the first analysis whose summary has a line, or a finding (`field`)."""
    con = sqlite3.connect(reg)
    try:
        return con.execute(f"SELECT id, sha256, resume FROM analyses WHERE resume LIKE '%\"{field}\":[[%' "
                           "ORDER BY id LIMIT 1").fetchone()
    finally:
        con.close()


def _name(reg: Path, sha: str) -> str:
    con = sqlite3.connect(reg)
    try:
        return Path(con.execute("SELECT chemin FROM fichiers WHERE sha256 = ? LIMIT 1", (sha,)).fetchone()[0]).name
    finally:
        con.close()


def _edit_line(resume: str, field: str, value) -> str:
    d = json.loads(resume)
    d["lines"][0][LINE_FIELDS.index(field)] = value
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


# ------------------------------------------------------------------ the seal itself
def test_the_seal_covers_the_content_the_rules_the_last_day_and_every_byte_of_the_summary():
    key, other = bytes(32), bytes([1]) * 32
    base = ("a" * 64, "1.0+regles", "2026-12-31", b'{"format":2}')
    seal = K.analysis_seal(key, *base)
    assert 0 <= seal < 2 ** 63 and seal == K.analysis_seal(key, *base)
    variants = [("b" * 64, *base[1:]), (base[0], "1.1+regles", *base[2:]), (*base[:2], "2027-01-01", base[3]),
                (*base[:2], None, base[3]), (*base[:2], "", base[3]), (*base[:3], b'{"format":2} ')]
    seals = {K.analysis_seal(key, *v) for v in variants} | {K.analysis_seal(other, *base), seal}
    assert len(seals) == len(variants) + 2  # each change, and another key, gives another seal
    assert K.analysis_seal(key, *base[:2], None, base[3]) != K.analysis_seal(key, *base[:2], "", base[3])


def test_a_sealed_summary_is_reused_and_only_the_changed_workbook_is_read(tmp_path, shipped_examples, reads):
    folder, reg, cold = _recorded(tmp_path, shipped_examples, reads)
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM analyses WHERE typeof(controle) = 'integer'").fetchone()[0] \
        == len(shipped_examples)
    con.close()
    assert _warm(tmp_path, folder, reg, reads, "chaud.xlsx") == ([], cold)
    changed = shipped_examples[0].name
    conv = example_conventions()[changed].model_copy(deep=True)
    conv.set_value("acv_libelle", "Nouvelle version")
    build_workbook(folder / changed, conv)
    read, cells = _warm(tmp_path, folder, reg, reads, "chaud2.xlsx")
    assert read == [changed] and cells == _cold(tmp_path, folder, "froid2.xlsx")


# ------------------------------------------------------------------ edited, copied, unsealed: read again
@pytest.mark.parametrize("edit", ["montant", "statut", "constats", "valable_jusqu_au"])
def test_a_summary_edited_in_the_register_is_never_reused(tmp_path, shipped_examples, reads, edit):
    folder, reg, cold = _recorded(tmp_path, shipped_examples, reads)
    aid, sha, resume = _analysis_with(reg, "findings" if edit == "constats" else "lines")
    con = sqlite3.connect(reg)
    with con:
        if edit == "valable_jusqu_au":  # a summary that held for a day made to hold for ever
            con.execute("UPDATE analyses SET valable_jusqu_au = '2999-12-31' WHERE id = ?", (aid,))
        else:
            if edit == "constats":  # its errors gone: the convention would pass « sans erreurs »
                edited = json.dumps(dict(json.loads(resume), findings=[]), ensure_ascii=False, separators=(",", ":"))
            else:
                edited = _edit_line(resume, edit, "9876543.21" if edit == "montant" else "Refusé")
            assert edited != resume and R.load_summary(edited)  # a summary that would decode
            con.execute("UPDATE analyses SET resume = ? WHERE id = ?", (edited, aid))
    con.close()
    with R.Register.open(reg, __version__) as r:
        # `known` still names it (cheap, no seal checked), `lookup_all` does not give it: the batch reads it
        assert sha in r.known([sha]) and r.lookup_all([sha]) == {}
    read, cells = _warm(tmp_path, folder, reg, reads, "chaud.xlsx")
    assert read == [_name(reg, sha)] and cells == cold
    # read again, it is recorded sealed: the next run reads nothing
    assert _warm(tmp_path, folder, reg, reads, "chaud2.xlsx") == ([], cold)


def test_a_register_sealed_under_another_key_is_read_again_then_both_users_stay_warm(
        tmp_path, shipped_examples, reads, monkeypatch):
    """A register copied from a colleague (seals made with another key) reuses no summary; two users
    sharing one register each record their own analyses, and neither makes the other read again."""
    names = sorted(p.name for p in shipped_examples)
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle-a"))
    folder, reg, cold = _recorded(tmp_path, shipped_examples, reads)
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle-b"))  # another user: every workbook read
    assert _warm(tmp_path, folder, reg, reads, "b.xlsx") == (names, cold)
    for user in ("a", "b", "a", "b"):  # then each is warm, in turn
        monkeypatch.setenv(K.KEY_ENV, str(tmp_path / f"cle-{user}"))
        assert _warm(tmp_path, folder, reg, reads, f"{user}.xlsx") == ([], cold), user
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM analyses").fetchone()[0] == 2 * len(names)  # one each, once
    # the workbooks read again for the other user kept their blocks too (made by the readers)
    assert con.execute("SELECT COUNT(*) FROM analyses a WHERE NOT EXISTS "
                       "(SELECT 1 FROM blocs b WHERE b.analyse_id = a.id)").fetchone()[0] == 0
    con.close()


def test_without_a_usable_key_no_summary_is_reused(tmp_path, shipped_examples, reads, monkeypatch):
    names = sorted(p.name for p in shipped_examples)
    folder, reg, cold = _recorded(tmp_path, shipped_examples, reads)
    (tmp_path / "fichier").write_text("")
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "fichier" / "cle"))  # a key that cannot be made
    with R.Register.open(reg, __version__) as r:
        shas = [s for (s,) in r.con.execute("SELECT sha256 FROM analyses")]
        assert r.empty and r.known(shas) == set() and r.lookup_all(shas) == {}
    for out in ("c.xlsx", "c2.xlsx"):
        assert _warm(tmp_path, folder, reg, reads, out) == (names, cold)
    con = sqlite3.connect(reg)
    assert con.execute("SELECT COUNT(*) FROM analyses WHERE controle IS NULL").fetchone()[0] == 2 * len(names)
    con.close()


# ------------------------------------------------------------------ schema 2 → 3
def _as_schema_2(reg: Path) -> None:
    """The register as acv-xl wrote it before the seals: no `controle`, `user_version` 2."""
    con = sqlite3.connect(reg)
    con.execute("ALTER TABLE analyses DROP COLUMN controle")
    con.execute("PRAGMA user_version = 2")
    con.close()


def test_a_register_of_schema_2_is_migrated_and_its_unsealed_summaries_read_once_again(
        tmp_path, shipped_examples, reads):
    names = sorted(p.name for p in shipped_examples)
    folder, reg, cold = _recorded(tmp_path, shipped_examples, reads)
    _as_schema_2(reg)
    assert _warm(tmp_path, folder, reg, reads, "a.xlsx") == (names, cold)  # read once again
    con = sqlite3.connect(reg)
    assert con.execute("PRAGMA user_version").fetchone()[0] == R.SCHEMA_VERSION == 3
    assert [r[1] for r in con.execute("PRAGMA table_info(analyses)")][-1] == "controle"
    # the old analyses stay (the history points at them), unsealed; the new ones are sealed
    assert sorted(con.execute("SELECT controle IS NULL, COUNT(*) FROM analyses GROUP BY 1")) == \
        [(0, len(names)), (1, len(names))]
    con.close()
    assert _warm(tmp_path, folder, reg, reads, "b.xlsx") == ([], cold)  # then warm


def test_a_register_of_schema_2_only_read_by_historique_is_left_as_it_was(tmp_path, shipped_examples, reads):
    folder, reg, _cold_cells = _recorded(tmp_path, shipped_examples, reads)
    _as_schema_2(reg)
    before = reg.read_bytes()
    assert main(["historique", str(reg), "-o", str(tmp_path / "e.xlsx")]) == 0
    assert reg.read_bytes() == before and (tmp_path / "e.xlsx").exists()


def test_a_register_of_a_newer_schema_is_still_refused(tmp_path, shipped_examples, reads, capsys):
    folder, reg, _cold_cells = _recorded(tmp_path, shipped_examples, reads)
    con = sqlite3.connect(reg)
    con.execute(f"PRAGMA user_version = {R.SCHEMA_VERSION + 1}")
    con.close()
    before = reg.read_bytes()
    assert main(["consolider", str(folder), "-o", str(tmp_path / "x.xlsx"), "--registre", str(reg)]) == 2
    assert "version plus récente d'acv-xl (schéma 4" in capsys.readouterr().err and reg.read_bytes() == before


def test_a_register_of_another_user_is_read_with_its_progress_and_blocks_from_the_readers(
        tmp_path, shipped_examples, reads, monkeypatch):
    """The workbooks a register knew but could not vouch for (another user's seals) are read after
    the others: the progress goes on to the last file, and their blocks are made as they are read,
    none left to the writing of the workbook."""
    from acv_xl.outputs import consolidation_blocks as B

    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle-a"))
    folder, reg, cold = _recorded(tmp_path, shipped_examples, reads)
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle-b"))
    seen: list[tuple[int, int]] = []
    made_when_written = []
    real = B.lignes_bloc
    monkeypatch.setattr(B, "lignes_bloc", lambda s, *a, **k: made_when_written.append(s.rel) or real(s, *a, **k))
    monkeypatch.setattr(C, "_summarize_chunk_with_blocs", _with_real_blocks(C._summarize_chunk_with_blocs, real))
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "b.xlsx", jobs=1, cache=r, record=r,
                      progress=lambda done, total: seen.append((done, total)))
    n = len(shipped_examples)
    assert made_when_written == []
    assert seen and seen[-1] == (n, n) and _cells(tmp_path / "b.xlsx") == cold


def _with_real_blocks(chunk_reader, real_lignes_bloc):
    """The readers' own block making, left unobserved (`lignes_bloc` restored for them)."""
    from acv_xl.outputs import consolidation_blocks as B

    def read(chunk):
        observed = B.lignes_bloc
        B.lignes_bloc = real_lignes_bloc
        try:
            return chunk_reader(chunk)
        finally:
            B.lignes_bloc = observed
    return read


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_a_key_file_that_is_a_named_pipe_is_said_unusable_never_waited_on(tmp_path, shipped_examples):
    """`ACV_XL_CLE_REGISTRE` naming a named pipe: reading the key waited for ever, `consolider --registre`
    hung before reading a workbook. The key is unusable, said as a damaged one, and the run goes on (every
    workbook read). Run as a process: without the fix the test stops on its timeout, never the suite."""
    folder = _folder(tmp_path, shipped_examples)
    os.mkfifo(tube := tmp_path / "cle")
    run = subprocess.run([sys.executable, "-m", "acv_xl", "consolider", str(folder), "-o", str(tmp_path / "c.xlsx"),
                          "--registre", str(tmp_path / "r.sqlite"), "--jobs", "1"], capture_output=True, timeout=120,
                         env={**os.environ, K.KEY_ENV: str(tube), "PYTHONIOENCODING": "utf-8"})
    err = run.stderr.decode("utf-8")
    assert run.returncode in (0, 1), err
    assert f"la clé du registre « {tube} » est illisible ou abîmée (laissée telle quelle)" in err, err
    assert (tmp_path / "c.xlsx").is_file()


def test_consolider_says_why_every_workbook_is_read_without_a_usable_key(tmp_path, shipped_examples, monkeypatch,
                                                                         capsys):
    """Without a usable key (a settings folder one cannot write, a key file damaged) every workbook is
    read at every consolidation — `--registre` promises not to read unchanged ones: the référent saw
    « 6 fichiers lus » comité after comité, three times slower on a real département, with no word why."""
    folder = _folder(tmp_path, shipped_examples)
    reg = tmp_path / "registre.sqlite"
    (tmp_path / "fichier").write_text("")
    args = ["consolider", str(folder), "-o", str(tmp_path / "c.xlsx"), "--registre", str(reg), "--jobs", "1",
            "--remplacer"]
    for key, said in ((tmp_path / "fichier" / "cle", "la clé du registre ne peut pas être créée"),
                      (tmp_path / "abimee", "est illisible ou abîmée (laissée telle quelle)")):
        if key.name == "abimee":
            key.write_text("pas une clé")
        monkeypatch.setenv(K.KEY_ENV, str(key))
        capsys.readouterr()
        assert main(args) in (0, 1)
        err = capsys.readouterr().err
        assert said in err and "chaque classeur est relu à chaque consolidation" in err, err
        assert f"{len(shipped_examples)} fichiers lus" in err
    monkeypatch.setenv(K.KEY_ENV, str(tmp_path / "cle"))  # a usable key: not a word
    for _ in range(2):
        assert main(args) in (0, 1)
        assert "clé du registre" not in capsys.readouterr().err
    assert (tmp_path / "abimee").read_text() == "pas une clé"
