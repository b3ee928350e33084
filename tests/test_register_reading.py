"""A warm run's reading phase: the summaries read back from the register (format 2; the tagged form
of earlier versions is refused: its files are read again), the few changed files read by as few
workers as pay.

The hard constraint: every `FileSummary` of a warm run equals a cold run's, field by field and type
by type. The legacy form is written here independently of the code under test (as acv-xl wrote it
before format 2), so that a register holding that form is proved to give the cold summaries.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import gc
import json
import shutil
import sqlite3
import typing
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from acv_xl import __version__
from acv_xl.checks.rules.consolidation import ACTION_FIELDS, FINDING_FIELDS, LINE_FIELDS, FileSummary
from acv_xl.contract.model import LigneFinancement
from acv_xl.history import register as R
from acv_xl.history.register_key import analysis_seal, block_key
from acv_xl.outputs import consolidation as C
from acv_xl.outputs.examples import example_conventions
from acv_xl.outputs.template import build_workbook
from _register_copies import utf16_copy
from cpu_time import cpu_seconds, growth


@pytest.fixture
def examples(shipped_examples):
    return shipped_examples


def _folder(tmp_path: Path, examples) -> Path:
    folder = tmp_path / "62"
    folder.mkdir()
    for p in examples:
        shutil.copy2(p, folder / p.name)
    return folder


def _recorded(tmp_path: Path, examples) -> tuple[Path, Path]:
    """The examples in a folder, consolidated once into a new register: (folder, register)."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "premier.xlsx", jobs=1, cache=r, record=r)
    return folder, reg


def _exactly(s: FileSummary) -> list:
    """Every field with its value's type, down into the tuples and the totals (`==` alone would
    take Decimal("1.0") for Decimal("1.00"), True for 1)."""
    return [(f.name, repr(getattr(s, f.name))) for f in dataclasses.fields(s)]


def _tagged(s: FileSummary) -> str:
    """The summary as acv-xl stored it before format 2: JSON, Decimals and dates tagged."""
    def enc(o):
        if isinstance(o, Decimal):
            return {"\x00d": str(o)}
        if isinstance(o, datetime):
            return {"\x00dt": o.isoformat()}
        if isinstance(o, date):
            return {"\x00date": o.isoformat()}
        raise TypeError(type(o))

    d = {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.name not in ("path", "rel", "size", "mtime")}
    d["totaux"] = vars(s.totaux) if s.totaux is not None else None
    return json.dumps(d, default=enc, ensure_ascii=False, separators=(",", ":"))


def _richest(examples) -> FileSummary:
    s = max((C.summarize(str(p), "b.xlsx") for p in examples), key=lambda x: len(x.findings))
    assert s.lines and s.findings and s.actions and s.totaux is not None and s.date_convention is not None
    return s


# ------------------------------------------------------------------ the stored form
def test_the_stored_form_holds_every_field_with_its_type(examples):
    s = _richest(examples)
    text = R.dump_summary(s)
    assert text.startswith('{"format":2,') and "\x00" not in text
    stored = json.loads(text)  # plain JSON any SQLite tool reads: amounts as exact decimal text
    assert stored["totaux"]["cout_total"] == str(s.totaux.cout_total)
    assert stored["lines"][0][LINE_FIELDS.index("montant")] == str(s.lines[0][LINE_FIELDS.index("montant")])
    back = R.load_summary(text, path=s.path, rel=s.rel)
    back.size, back.mtime = s.size, s.mtime
    assert _exactly(back) == _exactly(s)


def test_the_stored_form_declares_every_field_of_a_summary_and_of_its_tuples():
    """A field added to FileSummary (or to a line, a finding, an action) must be declared in the
    stored form: else its summaries would be refused (read again every time), never decoded wrong."""
    assert R._Stored.__struct_fields__ == R._STORED
    assert len(typing.get_args(R._Line)) == len(LINE_FIELDS)
    assert len(typing.get_args(R._Finding)) == len(FINDING_FIELDS)
    assert len(typing.get_args(R._Action)) == len(ACTION_FIELDS)
    # the amount and the year of a line keep the model's types
    montant = typing.get_args(R._Line)[LINE_FIELDS.index("montant")]
    assert Decimal in typing.get_args(montant)
    assert int in typing.get_args(typing.get_args(R._Line)[LINE_FIELDS.index("annee")])
    assert typing.get_type_hints(LigneFinancement)["montant"] == Decimal | None
    assert typing.get_type_hints(LigneFinancement)["annee"] == int | None


def test_the_stored_types_are_in_the_rules_version(monkeypatch):
    """A summary's lines are decoded only once in use (`StoredLines`), where one that does not decode
    stops the run: a change to the types they are stored with must make every summary recorded before
    it unused (read again), never taken and then refused."""
    R.rules_version.cache_clear()
    before = R.rules_version("1.0")
    try:
        montant = LINE_FIELDS.index("montant")
        other = typing.get_args(R._Line)[:montant] + (str | None,) + typing.get_args(R._Line)[montant + 1:]
        for name, value in (("_Line", tuple[other]), ("_Action", tuple[str, ...]), ("_Finding", tuple[str, ...])):
            with monkeypatch.context() as m:
                m.setattr(R, name, value)
                R.rules_version.cache_clear()
                assert R.rules_version("1.0") != before, name
    finally:
        R.rules_version.cache_clear()
    assert R.rules_version("1.0") == before


def test_a_summary_of_an_earlier_form_is_refused(examples):
    """The tagged form acv-xl wrote before format 2 is recorded under another rules version, which no
    lookup matches: met all the same (a register edited by hand), it is not used."""
    with pytest.raises(ValueError):
        R.load_summary(_tagged(_richest(examples)))
    with pytest.raises(ValueError):
        R.load_summary(_tagged(_richest(examples)).encode())


@pytest.mark.parametrize("text", [
    '{"format":2,"sha256":"x"}',  # fields missing
    '{"format":2,"lines":3}',
    '{"format":3,"sha256":"x"}',  # a newer form
    '{"format":2,"sha256":' + "[" * 100_000,  # nested past Python's recursion limit
    '{"sha256":' + "[" * 100_000,  # the same, in the form of earlier versions
])
def test_a_damaged_stored_summary_is_refused_never_crashes(examples, text):
    with pytest.raises((ValueError, TypeError, KeyError, AttributeError)):
        R.load_summary(text)


def test_a_summary_whose_values_do_not_have_their_types_is_refused(examples):
    s = _richest(examples)
    d = json.loads(R.dump_summary(s))
    d["lines"][0][LINE_FIELDS.index("montant")] = {"a": 1}  # an amount that is not an amount
    with pytest.raises(ValueError):
        R.load_summary(json.dumps(d, ensure_ascii=False, separators=(",", ":")))
    d = json.loads(R.dump_summary(s))
    d["ajout"] = 1  # a field this version does not know: refused rather than dropped
    with pytest.raises(ValueError):
        R.load_summary(json.dumps(d, ensure_ascii=False, separators=(",", ":")))


# ------------------------------------------------------------------ a warm run = a cold run
def _warm_and_cold(tmp_path, folder, reg, jobs):
    frozen = gc.get_freeze_count()  # Python 3.12 starts with objects of its own there
    with R.Register.open(reg, __version__) as r:
        warm = C.consolidate([folder], tmp_path / "chaud.xlsx", jobs=jobs, cache=r, record=r)
    assert gc.get_freeze_count() == frozen  # the collector as it was
    cold = C.consolidate([folder], tmp_path / "froid.xlsx", jobs=jobs)
    return warm, cold


def test_a_warm_runs_summaries_equal_a_cold_runs_field_by_field(tmp_path, examples, monkeypatch):
    """Two files changed since the register saw them: one worker reads them while this process
    decodes the others from the register; every summary is the cold run's, type for type."""
    folder = _folder(tmp_path, examples)
    reg = tmp_path / "registre.sqlite"
    with R.Register.open(reg, __version__) as r:
        C.consolidate([folder], tmp_path / "premier.xlsx", jobs=2, cache=r, record=r)
    changed = sorted(folder.iterdir())[:2]
    convs = example_conventions()
    for p in changed:  # a new version of two conventions
        conv = convs[p.name].model_copy(deep=True)
        conv.set_value("acv_libelle", f"{conv.value('acv_libelle')} (nouvelle version)")
        build_workbook(p, conv)
    pools, forked = [], []
    real = concurrent.futures.ProcessPoolExecutor  # imported by `summarize_all` when it makes a pool
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", lambda max_workers, **kw:
                        pools.append(max_workers) or real(max_workers, **kw))
    real_start = C.start_readers
    monkeypatch.setattr(C, "start_readers", lambda func, chunks, workers:
                        forked.append(workers) or real_start(func, chunks, workers))
    warm, cold = _warm_and_cold(tmp_path, folder, reg, jobs=2)
    # one worker per 8 files at least (C.FILES_PER_WORKER), `jobs` a maximum: one process a run,
    # forked without a pool
    assert forked == [1, 1] and pools == []
    assert warm.reused == {p.name for p in folder.iterdir()} - {p.name for p in changed}
    assert [_exactly(f) for f in warm.files] == [_exactly(f) for f in cold.files]


def test_a_register_holding_the_earlier_form_gives_the_cold_summaries(tmp_path, examples):
    """Summaries in the tagged form of earlier versions, under this rules version (edited by hand):
    every file is read again, and the run gives the cold summaries."""
    folder, reg = _recorded(tmp_path, examples)
    con = sqlite3.connect(reg)
    rows = con.execute("SELECT id, resume FROM analyses").fetchall()
    with con:
        con.executemany("UPDATE analyses SET resume = ? WHERE id = ?",
                        [(_tagged(R.load_summary(text)), aid) for aid, text in rows])
    con.close()
    warm, cold = _warm_and_cold(tmp_path, folder, reg, jobs=2)
    assert warm.reused == set()  # all read again
    assert [_exactly(f) for f in warm.files] == [_exactly(f) for f in cold.files]


# ------------------------------------------------------------------ workers


def _sealed_as_this_users(con, aid: int, crafted: str) -> None:
    """`crafted` stored as analysis `aid`'s summary, sealed with this user's key (so that what is tested
    is the decoding, not the seal: a register whose key leaked, say)."""
    sha, version, until = con.execute("SELECT sha256, version_regles, valable_jusqu_au FROM analyses WHERE id = ?",
                                      (aid,)).fetchone()
    with con:
        con.execute("UPDATE analyses SET resume = ?, controle = ? WHERE id = ?",
                    (crafted, analysis_seal(block_key(), sha, version, until, crafted.encode()), aid))


def _stored_then_read_again(tmp_path: Path, examples, folder: Path, reg: Path, con, aid: int, crafted: str) -> None:
    """`crafted` stored as analysis `aid`'s summary, sealed with this user's key: the warm run reads that
    file again and gives the cold run's summaries."""
    _sealed_as_this_users(con, aid, crafted)
    con.close()
    warm, cold = _warm_and_cold(tmp_path, folder, reg, jobs=1)
    assert len(warm.reused) == len(examples) - 1  # the crafted one read again
    assert [_exactly(f) for f in warm.files] == [_exactly(f) for f in cold.files]


@pytest.mark.parametrize("amount", ["NaN", "-Infinity", "sNaN", "1E+999999999", "1E-999999999"])
def test_an_amount_no_workbook_holds_makes_the_summary_unusable(tmp_path, examples, amount):
    """A register may come from a colleague: an amount that is not finite, or past any float a cell
    holds (whose French formatting would write a billion digits), is not a summary: the file is read
    again and the run gives the cold results, without crashing or hanging."""
    folder, reg = _recorded(tmp_path, examples)
    con = sqlite3.connect(reg)
    aid, text = con.execute("SELECT id, resume FROM analyses WHERE resume LIKE '%\"lines\":[[%' LIMIT 1").fetchone()
    d = json.loads(text)
    d["lines"][0][LINE_FIELDS.index("montant")] = amount
    d["acquis"] = amount
    crafted = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    with pytest.raises(ValueError):
        R.load_summary(crafted)
    _stored_then_read_again(tmp_path, examples, folder, reg, con, aid, crafted)


def test_a_warm_run_decodes_no_line_of_the_summaries_it_takes(tmp_path, examples):
    """The lines of a summary the register gives stay as stored (`StoredLines`) until used: a warm run
    counts them, takes the blocks of `Lignes` kept beside them and the grand total; decoding them was
    half of its lookup. CON-05 (an unknown financeur code) decodes only the lines holding the code it
    looks for, never all of them (half of the CON rules of a warm run), and points at the same line."""
    folder, reg = _recorded(tmp_path, examples)
    with R.Register.open(reg, __version__) as r:
        warm = C.consolidate([folder], tmp_path / "chaud.xlsx", jobs=1, cache=r, record=r)
    taken = [f for f in warm.files if f.rel in warm.reused and f.lines]
    pointed = {f.rel for f, v in zip(warm.files, warm.verdicts) if any(x.code == "CON-05" for x in v.findings)}
    assert len(taken) == len(examples) and 0 < len(pointed) < len(taken)
    assert all(type(f.lines) is R.StoredLines for f in taken)
    assert [f.rel for f in taken if f.lines._lines is not None] == []
    # CON-05 the cold run's, at the same line
    cold_run = C.consolidate([folder], tmp_path / "froid.xlsx", jobs=1)
    con05 = lambda run: sorted((f.rel, x.model_dump_json()) for f, v in zip(run.files, run.verdicts)  # noqa: E731
                               for x in v.findings if x.code == "CON-05")
    assert con05(warm) == con05(cold_run) and {rel for rel, _ in con05(warm)} == pointed
    # as many as stored, the same once decoded (a cold run's)
    cold = {f.rel: f for f in cold_run.files}
    assert all(len(f.lines) == len(cold[f.rel].lines) and f.lines == cold[f.rel].lines
               and tuple(f.lines) == cold[f.rel].lines for f in taken)


def _pasted_codes(examples, n: int):
    """The richest example's summary with 2n counted lines: n of a known code, then n unknown codes (a
    plan whose financeur column holds a paste of texts); (summary, lines, codes, field indexes)."""
    s = _richest(examples)
    fin, counted = LINE_FIELDS.index("financeur"), LINE_FIELDS.index("compte")
    codes = [f"Financeur libre n° {k}" for k in range(n)]
    line = list(s.lines[0])
    lines = []
    for code in ["ETAT"] * n + codes:  # a known code on every line before the first unknown one
        line[fin], line[counted] = code, True
        lines.append(tuple(line))
    totaux = dataclasses.replace(s.totaux, par_financeur={"ETAT": Decimal(1), **{c: Decimal(1) for c in codes}})
    return dataclasses.replace(s, lines=tuple(lines), totaux=totaux), lines, codes, fin, counted


def test_con05_on_a_summary_of_thousands_of_unknown_codes_costs_what_decoding_its_lines_does(examples):
    """A plan whose financeur column holds thousands of texts (a paste): CON-05 of a warm run searched
    each stored line for each of its unknown codes, in Python — lines × codes, 2.9 s of CPU for the
    4,000 codes on 8,000 lines here, which decode in 8 ms. Past a few codes every line is decoded, once:
    no more than that decoding (CPU time of this thread, least of 3 rounds: the bound 20× what it costs,
    the old search ≈ 350×), and the line named is still the cold run's."""
    n = 4_000
    s, lines, codes, fin, counted = _pasted_codes(examples, n)
    text = R.dump_summary(s)
    R.load_summary(text, where="registre").lines.decoded()  # the decoders built
    found = []
    decoding = cpu_seconds(lambda: R.load_summary(text, where="registre").lines.decoded(), rounds=3)
    spent = cpu_seconds(lambda: found.append(R.load_summary(text, where="registre").lines.first(fin, codes, counted)),
                        rounds=3)
    assert found[0] == lines[n] == next(ln for ln in lines if ln[counted] and ln[fin] in codes)
    assert spent < 20 * decoding, (spent, decoding)


def test_con05_of_a_cold_run_looks_each_line_up_among_thousands_of_unknown_codes(examples):
    """The same paste read cold: CON-05 compared each line's code with each unknown code (a list),
    lines × codes. Ten times the paste now costs about ten times, never a hundred (interleaved rounds,
    against the tenth: a machine's speed changes both alike)."""
    from acv_xl.checks.rules.consolidation import con05_financeur_inconnu

    small, big = _pasted_codes(examples, 400)[0], _pasted_codes(examples, 4_000)[0]
    found = []
    ratio = growth(lambda: con05_financeur_inconnu(small), lambda: found.append(con05_financeur_inconnu(big)))
    assert ratio < 30, f"10 fois les codes : {ratio:.0f} fois le temps"
    assert found[0].code == "CON-05" and "Financeur libre n° 0" in found[0].message and "3 995 autres" in found[0].message


@pytest.mark.parametrize("codes", [1, R._SEARCHED_AS_STORED + 1])
def test_a_stored_line_con05_decodes_and_cannot_read_is_a_damaged_register(examples, codes):
    """CON-05 of a warm run decodes the stored lines where an unknown code appears (every line past a
    few codes): one of them whose amount is no amount (a register crafted with this user's key) is said
    as a damaged register, in French, never a crash nor a line named anyway."""
    s = _richest(examples)
    fin, counted, montant = (LINE_FIELDS.index(c) for c in ("financeur", "compte", "montant"))
    unknown = [f"Financeur libre « {k} »" for k in range(codes)]
    line = list(s.lines[0])
    lines = []
    for code in ["ETAT", *unknown, "ETAT"]:
        line[fin], line[counted] = code, True
        lines.append(tuple(line))
    d = json.loads(R.dump_summary(dataclasses.replace(s, lines=tuple(lines))))
    d["lines"][1][montant] = "NaN"  # the line CON-05 names
    stored = R.load_summary(json.dumps(d, ensure_ascii=False, separators=(",", ":")), where="« registre.sqlite »").lines
    with pytest.raises(R.RegisterError, match="^le registre « registre.sqlite » est inutilisable \\(le résumé "
                                              "enregistré d'un classeur ne se relit pas"):
        stored.first(fin, unknown, counted)


@pytest.mark.parametrize("montant", [{"a": 1}, "NaN", "1E+999999999"])
def test_a_kept_line_that_does_not_decode_stops_the_extracts_before_anything_is_written(tmp_path, examples, capsys,
                                                                                          montant):
    """A line is decoded when first used: the extracts by financeur use them all, and decode them
    before anything is written. One that does not decode (a summary crafted and sealed with this
    user's key) is said as a damaged register, in French, exit 2: no workbook, no extract, the
    register untouched — never a crash midway."""
    from acv_xl.cli import main

    folder, reg = _recorded(tmp_path, examples)
    con = sqlite3.connect(reg)
    aid, text = con.execute("SELECT id, resume FROM analyses WHERE resume LIKE '%\"lines\":[[%' LIMIT 1").fetchone()
    d = json.loads(text)
    d["lines"][0][LINE_FIELDS.index("montant")] = montant
    crafted = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    _sealed_as_this_users(con, aid, crafted)
    con.close()
    before = reg.read_bytes()
    out, extraits = tmp_path / "conso.xlsx", tmp_path / "extraits"
    capsys.readouterr()
    status = main(["consolider", str(folder), "-o", str(out), "--registre", str(reg), "--par-financeur",
                   str(extraits), "--jobs", "1"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert f"le registre « {reg} » est inutilisable (le résumé enregistré d'un classeur ne se relit pas" in err
    assert not out.exists() and not extraits.exists() and reg.read_bytes() == before


@pytest.mark.parametrize("gravite", ["bidon", None])
def test_a_finding_of_an_unknown_gravity_makes_the_summary_unusable(tmp_path, examples, gravite):
    """A finding whose gravity is none of « erreur », « avertissement », « information » (a crafted
    register) stopped consolider with « erreur interne »: the file is read again."""
    folder, reg = _recorded(tmp_path, examples)
    con = sqlite3.connect(reg)
    aid, text = con.execute("SELECT id, resume FROM analyses WHERE resume LIKE '%\"findings\":[[%' LIMIT 1").fetchone()
    d = json.loads(text)
    d["findings"][0][FINDING_FIELDS.index("gravite")] = gravite
    crafted = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    with pytest.raises(ValueError):
        R.load_summary(crafted)
    with con:
        con.execute("UPDATE analyses SET resume = ? WHERE id = ?", (crafted, aid))
    con.close()
    warm, cold = _warm_and_cold(tmp_path, folder, reg, jobs=1)
    assert len(warm.reused) == len(examples) - 1
    assert [_exactly(f) for f in warm.files] == [_exactly(f) for f in cold.files]
    assert warm.anomalies == cold.anomalies


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_callers_frozen_objects_stay_frozen(tmp_path, examples, jobs):
    """A caller that froze its own objects (a server forking its workers after start-up, so that
    their collections never copy its pages) finds them frozen after a consolidation: the run's
    `gc.unfreeze` gave back every frozen object, the caller's too."""
    folder, reg = _recorded(tmp_path, examples)
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        assert before > 0
        # (a frozen object may still be freed: the count only stays about the same)
        with R.Register.open(reg, __version__) as r:  # warm: the summaries decoded meanwhile
            C.consolidate([folder], tmp_path / "chaud.xlsx", jobs=jobs, cache=r, record=r)
        assert before * 0.9 < gc.get_freeze_count() <= before
        C.consolidate([folder], tmp_path / "froid.xlsx", jobs=jobs)  # cold: the workers' summaries received
        assert before * 0.9 < gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()


def test_a_register_holding_a_trigger_is_refused_untouched(tmp_path, examples):
    """A register from a colleague may hold a trigger, whose SQL would run on each of our writes:
    one that never ends (a recursive query) hung the consolidation as it recorded. acv-xl writes
    none: such a register is refused in French, left as it was."""
    folder, reg = _recorded(tmp_path, examples)
    con = sqlite3.connect(reg)
    with con:
        con.execute("""CREATE TRIGGER sans_fin AFTER INSERT ON consolidations BEGIN
                           SELECT count(*) FROM (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)
                                                 SELECT x FROM n);
                       END""")
    con.close()
    before = reg.read_bytes()
    for create in (True, False):  # consolider, historique
        with pytest.raises(R.RegisterError, match=r"inutilisable \(il contient des déclencheurs SQL"):
            R.Register.open(reg, __version__, create=create)
    assert reg.read_bytes() == before


@pytest.mark.parametrize("table, column", [("conventions", "financement_total"), ("lignes", "montant"),
                                           ("consolidations", "fichiers")])
def test_historique_refuses_a_register_whose_numbers_are_text(tmp_path, examples, capsys, table, column):
    """SQLite keeps a text written by hand (or by a colleague's tool) in a column declared REAL: a
    total « abc » stopped historique with « erreur interne » (or was summed as nothing); the register
    is said unusable, in French, and no evolution written."""
    from acv_xl.cli import main

    folder, reg = _recorded(tmp_path, examples)
    con = sqlite3.connect(reg)
    with con:
        con.execute(f"UPDATE {table} SET {column} = 'abc' WHERE rowid = (SELECT MIN(rowid) FROM {table})")
    con.close()
    assert main(["historique", str(reg), "-o", str(tmp_path / "evolution.xlsx")]) == 2
    err = capsys.readouterr().err
    assert f"inutilisable (la colonne « {column} » de la table « {table} » contient autre chose qu'un nombre)" in err
    assert not (tmp_path / "evolution.xlsx").exists()


# ------------------------------------------------------------------ the summaries as SQLite keeps them
# `lookup_all` reads them as their UTF-8 bytes (msgspec's own input): the same as reading them as text.
@pytest.mark.parametrize("value", ["blob", "integer"])
def test_a_summary_that_is_not_text_in_the_register_makes_the_file_be_read_again(tmp_path, examples, value):
    folder, reg = _recorded(tmp_path, examples)
    con = sqlite3.connect(reg)
    aid = con.execute("SELECT MIN(id) FROM analyses").fetchone()[0]
    with con:
        con.execute("UPDATE analyses SET resume = " + ("CAST(resume AS BLOB)" if value == "blob" else "42")
                    + " WHERE id = ?", (aid,))
    con.close()
    warm, cold = _warm_and_cold(tmp_path, folder, reg, jobs=1)
    assert len(warm.reused) == len(examples) - 1
    assert [_exactly(f) for f in warm.files] == [_exactly(f) for f in cold.files]


def test_a_summary_that_is_not_utf8_makes_the_register_damaged_as_sqlite_says(tmp_path, examples):
    """Text that is not UTF-8 (written by another tool): the register is reported damaged, with
    SQLite's words for the first such summary in the order of the ids, never the file read again."""
    folder, reg = _recorded(tmp_path, examples)
    con = sqlite3.connect(reg)
    ids = [r[0] for r in con.execute("SELECT id FROM analyses ORDER BY id")]
    with con:  # two summaries broken: the first in the order of the ids is the one reported
        for aid, cut in ((ids[2], "ACV"), (ids[1], "format")):
            con.execute(f"UPDATE analyses SET resume = CAST(replace(CAST(resume AS BLOB), CAST('{cut}' AS BLOB), "
                        "X'ff') AS TEXT) WHERE id = ?", (aid,))
    with pytest.raises(sqlite3.OperationalError) as exc:  # what reading them as text raises
        con.execute("SELECT resume FROM analyses WHERE version_regles = ? ORDER BY id",
                    (R.rules_version(__version__),)).fetchall()
    con.close()
    expected = str(R.damaged_error(f"« {reg} »", R.sqlite_why(exc.value)))
    with R.Register.open(reg, __version__) as r:
        shas = [s for (s,) in r.con.execute("SELECT sha256 FROM analyses")]
        with pytest.raises(R.RegisterError) as raised:
            r.lookup_all(shas)
    assert str(raised.value) == expected
    assert "texte illisible (autre encodage que l'UTF-8)" in expected and "decode" not in expected  # French


def test_a_register_keeping_its_text_as_utf16_gives_the_cold_summaries(tmp_path, examples):
    folder, reg = _recorded(tmp_path, examples)
    utf16 = utf16_copy(reg, tmp_path / "utf16.sqlite")
    warm, cold = _warm_and_cold(tmp_path, folder, utf16, jobs=1)
    assert warm.reused == {p.name for p in folder.iterdir()}  # none read again
    assert [_exactly(f) for f in warm.files] == [_exactly(f) for f in cold.files]
