"""`acv-xl consolider`: CON rules, discovery, the consolidated workbook, safety, the command line.

The batch fixture is the shipped examples (written by `acv_xl.outputs.examples.write_examples`) plus a
duplicate in a sub-folder, an unreadable file, a workbook of another département, a workbook whose
texts look like formulas, an Excel lock file and a hidden file. Expected values are computed
independently: the validator run on each file, and pandas over the written `Lignes` sheet.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from acv_xl.outputs import consolidation as C
from acv_xl.outputs import consolidation_workbook as W
from acv_xl.contract import layout
from acv_xl.outputs.consolidation import Feuille, H
from acv_xl.checks.findings import Gravite
from acv_xl.checks.rules.consolidation import FileSummary, judge, norm_departement
from acv_xl.checks.validate import ETAT_ILLISIBLE, ETAT_JAMAIS, ETAT_MODIFIE, ETAT_VALIDE
from acv_xl.checks.totals import Totaux

ROOT = Path(__file__).resolve().parents[1]
ACV_XL = [sys.executable, "-m", "acv_xl"]
EVIL = '=HYPERLINK("http://exemple.invalid/x","cliquez")'
EVIL_LIB = "+SUM(1,2)"


# ------------------------------------------------------------------ CON rules over summaries (pure)
def _t(amount: str) -> Totaux:
    d = Decimal(amount)
    return Totaux(cout_total=d, financement_total=d, par_financeur={"ETAT": d}, par_axe={"1": d},
                  par_annee={"2025": d}, par_statut={"Acquis": d})


def _s(rel, acv_id="ACV001", etat=ETAT_VALIDE, dep="62", dv=None, mtime=0.0, amount="100.00", **kw) -> FileSummary:
    return FileSummary(path="/d/" + rel, rel=rel, etat=etat, acv_id=acv_id, departement=dep, date_validation=dv,
                       mtime=mtime, totaux=None if etat == ETAT_ILLISIBLE else _t(amount), **kw)


def test_con05_quotes_unknown_codes_as_the_rules_quote_a_value():
    """A plan whose financeur column holds pasted paragraphs (5 000 characters each, a hundred of
    them): CON-05 quoted every one whole, a message of half a million characters in Anomalies (cut
    there at a cell's 32 767). It quotes each as the rules do (200 characters and « … ») and names
    five, the others counted."""
    from acv_xl.checks.rules import QUOTED_MAX
    from acv_xl.checks.rules.consolidation import con05_financeur_inconnu

    codes = [f"{i:03d} " + "x" * 5_000 for i in range(100)]
    t = Totaux(financement_total=Decimal(100), par_financeur={c: Decimal(1) for c in codes})
    f = FileSummary(path="/d/a.xlsx", rel="a.xlsx", etat=ETAT_VALIDE, acv_id="ACV001", totaux=t)
    message = con05_financeur_inconnu(f).message
    assert len(message) < 6 * (QUOTED_MAX + 10) + 200, len(message)
    assert message.count("…") == 5 and " et 95 autres (100,00" in message.replace("\u202f", " ").replace("\xa0", " ")
    assert message.startswith("Codes de financeur absents de la liste de référence : « 000 xxx")


@pytest.mark.parametrize("n, rest", [(6, " et 1 autre ("), (1_005, " et 1 000 autres (")])
def test_con05_counts_the_codes_it_does_not_name_in_french(n, rest):
    """Six unknown codes made « « 000 », …, « 004 » et 1 autres » and 1 005 « et 1000 autres »: one
    other is singular, and the count is written as every number of the messages is (`fmt_number`)."""
    from acv_xl.checks.rules.consolidation import con05_financeur_inconnu

    t = Totaux(financement_total=Decimal(n), par_financeur={f"{i:03d}": Decimal(1) for i in range(n)})
    f = FileSummary(path="/d/a.xlsx", rel="a.xlsx", etat=ETAT_VALIDE, acv_id="ACV001", totaux=t)
    message = con05_financeur_inconnu(f).message.replace("\u202f", " ").replace("\xa0", " ")
    assert "« 003 », « 004 »" + rest in message and "« 005 »" not in message, message


def test_con01_keeps_the_most_recently_validated():
    files = [_s("a.xlsx", dv=date(2026, 1, 5), mtime=10), _s("b.xlsx", dv=date(2026, 3, 1), mtime=1),
             _s("c.xlsx", acv_id="acv 001", dv=None, etat=ETAT_JAMAIS, mtime=99)]
    v = judge(files)
    assert [x.compte for x in v] == [False, True, False]
    assert [x.motif for x in v] == ["doublon", "", "doublon"]
    con01 = [f for f in v[0].findings if f.code == "CON-01"]
    assert con01 and con01[0].gravite is Gravite.ERREUR and "b.xlsx" in con01[0].message
    assert con01[0].cellule == "B4" and con01[0].feuille == "Projet"


def test_con01_an_identifier_written_loosely_is_the_same_convention():
    """« acv 14 » is ACV014 for the rules (PRJ-03 suggests it, the national list is read so); the
    consolidation counted Arras twice."""
    for loose in ("acv 14", "ACV-014", "acv14", " ACV 014 "):
        v = judge([_s("a.xlsx", acv_id="ACV014", dv=date(2026, 1, 5)), _s("b.xlsx", acv_id=loose, etat=ETAT_JAMAIS)])
        assert [x.compte for x in v] == [True, False], loose
        assert [f.code for f in v[1].findings] == ["CON-01", "CON-02"], loose


def test_con01_unvalidated_copies_fall_back_to_modification_time_and_validated_data_wins():
    v = judge([_s("old.xlsx", etat=ETAT_JAMAIS, mtime=1), _s("new.xlsx", etat=ETAT_JAMAIS, mtime=2)])
    assert [x.compte for x in v] == [False, True]
    # Validated later but modified since: the copy whose data still match its validation wins.
    v = judge([_s("m.xlsx", etat=ETAT_MODIFIE, dv=date(2026, 5, 1)), _s("v.xlsx", dv=date(2026, 2, 1))])
    assert [x.compte for x in v] == [False, True]


def test_con01_a_validation_that_found_errors_is_no_validation():
    """`valider calais.xlsx --annoter calais_annote.xlsx` in the folder: the copy, « non validé » (its errors
    listed), bears the date of that validation. CON-01 kept it by that date over the commune's workbook
    corrected since and not validated yet — stale figures counted — and said it « validé le 07/12/2026
    puis modifié », of a workbook never validated. Among « non validé » copies the most recently modified
    is kept, as the rule says, and no validation is claimed."""
    copy = _s("calais_annote.xlsx", etat=ETAT_JAMAIS, dv=date(2026, 12, 7), mtime=1)
    v = judge([copy, _s("calais.xlsx", etat=ETAT_JAMAIS, mtime=2)])
    assert [x.compte for x in v] == [False, True]
    assert "« calais.xlsx » (le plus récemment modifié)" in next(f.message for f in v[0].findings if f.code == "CON-01")
    v = judge([dataclasses.replace(copy, mtime=3), _s("calais.xlsx", etat=ETAT_JAMAIS, mtime=2)])
    assert [x.compte for x in v] == [True, False]
    message = next(f.message for f in v[1].findings if f.code == "CON-01")
    assert "« calais_annote.xlsx » (le plus récemment modifié)" in message and "validé" not in message
    # a workbook validated, then modified, still outranks by its validation date
    v = judge([_s("m.xlsx", etat=ETAT_MODIFIE, dv=date(2026, 5, 1), mtime=1), _s("n.xlsx", etat=ETAT_JAMAIS, mtime=2)])
    assert [x.compte for x in v] == [True, False]
    assert "(validé le 01/05/2026 puis modifié)" in next(f.message for f in v[1].findings if f.code == "CON-01")


def test_con01_copies_of_one_date_are_never_said_the_most_recently_modified():
    """Two versions of a convention sent in one zip (same date of modification): the one kept by its
    name was said « le plus récemment modifié » — the user then removed the other, maybe the right one."""
    v = judge([_s("arras.xlsx", etat=ETAT_JAMAIS, mtime=5), _s("arras-v2.xlsx", etat=ETAT_JAMAIS, mtime=5)])
    assert [x.compte for x in v] == [True, False]
    message = next(f.message for f in v[1].findings if f.code == "CON-01")
    assert "« arras.xlsx » (retenu d'après son nom : les copies ont la même date de modification)" in message
    assert "plus récemment" not in message
    v = judge([_s("arras.xlsx", etat=ETAT_JAMAIS, mtime=4), _s("arras-v2.xlsx", etat=ETAT_JAMAIS, mtime=5)])
    assert "« arras-v2.xlsx » (le plus récemment modifié)" in next(f.message for f in v[0].findings)


def test_con01_an_older_third_copy_is_not_told_of_a_tie():
    """Two copies of one date and an older third: the older one was told « retenu d'après son nom : les copies
    ont la même date de modification », false of it (the kept copy is more recent than it)."""
    v = judge([_s("arras.xlsx", etat=ETAT_JAMAIS, mtime=5), _s("arras-v2.xlsx", etat=ETAT_JAMAIS, mtime=5),
               _s("arras-old.xlsx", etat=ETAT_JAMAIS, mtime=1)])
    assert [x.compte for x in v] == [True, False, False]
    assert "« arras.xlsx » (retenu d'après son nom" in next(f.message for f in v[1].findings if f.code == "CON-01")
    assert "« arras.xlsx » (le plus récemment modifié)" in next(f.message for f in v[2].findings if f.code == "CON-01")


def test_con02_con03_con04():
    files = [
        _s("ok.xlsx", acv_id="ACV001"),
        _s("jamais.xlsx", acv_id="ACV002", etat=ETAT_JAMAIS),
        _s("modif.xlsx", acv_id="ACV003", etat=ETAT_MODIFIE, dv=date(2026, 2, 1)),
        _s("casse.xlsx", acv_id=None, etat=ETAT_ILLISIBLE,
           findings=(("STR-01", "erreur", "", "", "", "Le fichier n'est pas un classeur.", "Renvoyez-le."),)),
        _s("nord.xlsx", acv_id="ACV004", dep="59"),
        _s("zero.xlsx", acv_id="ACV005", dep="062"),
    ]
    v = judge(files, departement="62")
    codes = [[f.code for f in x.findings] for x in v]
    assert codes == [[], ["CON-02"], ["CON-02"], ["CON-03"], ["CON-04"], []]
    assert [x.compte for x in v] == [True, True, True, False, False, True]
    assert "01/02/2026" in v[2].findings[0].message
    assert v[3].findings[0].gravite is Gravite.ERREUR and "STR-01" in v[3].findings[0].message
    assert v[3].findings[0].suggestion == "Renvoyez-le."
    assert v[4].findings[0].gravite is Gravite.AVERTISSEMENT and v[4].findings[0].cellule == "B6"
    # Without --departement nobody is foreign.
    assert all(x.compte for x in judge(files[:3] + files[4:]))


def test_con03_reports_a_crash_and_departement_normalisation():
    crashed = FileSummary(path="/d/x.xlsx", rel="x.xlsx", crash="KeyError : 'montant'")
    (v,) = judge([crashed])
    assert not v.compte and v.findings[0].code == "CON-03" and "Erreur interne" in v.findings[0].message
    assert norm_departement("062") == norm_departement(62) == "62"
    assert norm_departement(" 2a ") == "2A" and norm_departement("62") != norm_departement("59")


def test_foreign_duplicate_does_not_hide_the_local_convention():
    # Same acv_id in another département: CON-04 excludes it before duplicates are looked for.
    v = judge([_s("a.xlsx", dep="59", dv=date(2026, 6, 1)), _s("b.xlsx", dep="62", dv=date(2026, 1, 1))], "62")
    assert [x.compte for x in v] == [False, True]
    assert [f.code for f in v[1].findings] == []


def test_combine_adds_each_total():
    g = C.combine([_t("100.10"), _t("0.20"), Totaux()])
    assert g.financement_total == Decimal("100.30") and g.par_financeur == {"ETAT": Decimal("100.30")}


# ------------------------------------------------------------------ discovery
def test_table_headers_unique_non_empty_and_never_raw_xml():
    assert W._unique_headers(["ETAT", "etat", " a  b ", None, "<r>X</r>"]) == [
        "ETAT", "etat (2)", "a b", "(vide)", "« <r>X</r> »"]


def test_chunks_cover_every_file_once_and_shrink_at_the_end():
    for n, jobs in ((1, 2), (7, 2), (1000, 2), (1000, 8), (33, 1)):
        chunks = C._chunks(n, jobs)
        assert [i for c in chunks for i in c] == list(range(n))
        assert all(1 <= len(c) <= 16 for c in chunks)
        assert all(len(c) == 1 for c in chunks[-jobs:])  # nobody is left alone with a long chunk
    assert len(C._chunks(1000, 2)[0]) == 16


def test_discover_recursive_skips_lock_hidden_and_output(tmp_path):
    (tmp_path / "sub" / "2025").mkdir(parents=True)
    (tmp_path / ".cache").mkdir()
    for p in ("a.xlsx", "sub/b.XLSM", "sub/2025/c.xlsx", "~$a.xlsx", ".d.xlsx", ".cache/e.xlsx", "notes.txt",
              "vieux.xls", "out.xlsx"):
        (tmp_path / p).write_bytes(b"x")
    files, base = C.discover([tmp_path], exclude=[tmp_path / "out.xlsx"])
    assert base == tmp_path.resolve()
    assert [C._rel(f, base) for f in files] == ["a.xlsx", "sub/2025/c.xlsx", "sub/b.XLSM", "vieux.xls"]
    # the same file given twice (folder and file) is read once
    files2, _ = C.discover([tmp_path / "sub", tmp_path / "sub" / "b.XLSM"])
    assert len(files2) == 2
    with pytest.raises(C.UsageError, match="introuvable"):
        C.discover([tmp_path / "nope"])


def test_a_broken_link_named_is_said_as_a_walk_says_it_and_the_rest_consolidated(tmp_path, batch, capsys):
    """`consolider 62/*` in a Unix shell names each entry of the folder, a broken link among them (a
    commune's folder moved, a share not mounted) or one that loops: the whole run was refused, « ne
    l'indiquez pas » — which a `*` cannot do —, where `consolider 62` said it and consolidated the
    rest. Named, it is said as the walk says it (a workbook's name read, « illisible »), the rest
    consolidated, and recorded in the register as any run."""
    from acv_xl import cli

    folder = tmp_path / "62"
    folder.mkdir()
    shutil.copy(sorted(batch["examples"])[0], folder / "arras.xlsx")
    (folder / "casse").symlink_to(tmp_path / "absent")
    (folder / "boucle").symlink_to("boucle")
    (folder / "mort.xlsx").symlink_to("absent.xlsx")
    skipped: list = []
    named = sorted(folder.iterdir())  # as the shell expands `62/*`
    shown: dict = {}
    files, base = C.discover(named, skipped=skipped, shown=shown)
    walked: list = []
    assert (files, base) == C.discover([folder], skipped=walked)
    assert [shown.get(f, f).name for f in files] == ["arras.xlsx", "mort.xlsx"]
    assert [(p.name, why) for p, why in skipped] == [(p.name, why) for p, why in walked] == [
        ("boucle", "lien symbolique qui n'a pas pu être suivi, trop de liens symboliques dans le chemin, ou une boucle"),
        ("casse", "lien symbolique dont la cible est introuvable")]
    capsys.readouterr()
    register = tmp_path / "registre.sqlite"
    assert cli.main(["consolider", *map(str, named), "-o", str(tmp_path / "c.xlsx"), "--registre", str(register),
                     "--jobs", "1"]) == 1  # mort.xlsx illisible (CON-03)
    err = capsys.readouterr().err
    assert ("Attention, 2 dossiers non parcourus où des classeurs peuvent manquer : « boucle » (lien symbolique qui "
            "n'a pas pu être suivi, trop de liens symboliques dans le chemin, ou une boucle), « casse » (lien "
            "symbolique dont la cible est introuvable).") in err
    assert "enregistrée dans le registre" in err and "ne l'indiquez pas" not in err
    # named and walked too (`consolider 62 62/casse`): said once
    again: list = []
    C.discover([folder, folder / "casse", folder / "casse"], skipped=again)
    assert again == walked
    # the pattern typed in cmd (expanded by acv-xl as a walk takes a folder's entries) hands them over too
    assert sorted(cli._walked_matches([str(folder / "*")])[0]) == list(map(str, named))
    # alone, nothing to consolidate: said as for a folder holding only that link
    with pytest.raises(C.UsageError) as refused:
        C.consolidate([folder / "casse"], tmp_path / "o.xlsx", jobs=1)
    assert str(refused.value) == (f"aucun classeur .xlsx ou .xlsm trouvé dans « {folder / 'casse'} » ; non parcouru : "
                                  "« casse » (lien symbolique dont la cible est introuvable).")


def test_a_link_to_a_folder_holding_it_named_by_a_star_is_not_walked_as_for_the_folder(tmp_path, batch):
    """62 holds « haut », a link to the folder above (`ln -s .. haut`, or to the share's root): `consolider
    62` says it « non parcouru » (a loop), but `consolider 62/*` named it and walked the whole tree
    above — the other départements' workbooks read and counted in the comité's figures. Named with
    the rest of its folder, it is said as the walk says it; named alone, it is walked as asked."""
    examples = sorted(batch["examples"])
    folder = tmp_path / "62"
    folder.mkdir()
    (tmp_path / "59").mkdir()
    shutil.copy(examples[0], folder / "calais.xlsx")
    shutil.copy(examples[1], tmp_path / "59" / "lille.xlsx")
    (folder / "haut").symlink_to("..")
    walked: list = []
    files, base = C.discover([folder], skipped=walked)
    assert [f.name for f in files] == ["calais.xlsx"]
    for named in (sorted(folder.iterdir()), [folder, folder / "haut"]):  # `62/*`, `62 62/haut`
        skipped: list = []
        assert C.discover(named, skipped=skipped) == (files, base)
        assert skipped == walked == [(folder / "haut", "lien symbolique vers un dossier qui le contient, non suivi "
                                                       "pour éviter une boucle")]
    for alone in (folder / "haut", str(folder / "haut")):  # as the command line hands it over too
        assert sorted(f.name for f in C.discover([alone])[0]) == ["calais.xlsx", "lille.xlsx"]


def test_a_name_typed_with_a_slash_after_it_is_recorded_as_discover_reads_it(tmp_path, batch, capsys):
    """`consolider 62/arras/ 62/calais.xlsx --registre …`, « arras » a broken link (the commune's folder
    moved) typed as the folder it was: the run consolidated calais.xlsx and said « arras » not walked,
    but the register was never opened — the comité consolidated and not recorded, without a word. The
    register asked whether the names exist as the system reads « arras/ » (through the link), the walk
    as a path (« 62/arras »); a workbook typed « 62/calais.xlsx/ » was the same. Both read them alike."""
    from acv_xl import cli

    folder = tmp_path / "62"
    folder.mkdir()
    shutil.copy(sorted(batch["examples"])[0], folder / "calais.xlsx")
    (folder / "arras").symlink_to(tmp_path / "absent")
    for i, named in enumerate(([f"{folder / 'arras'}/", str(folder / "calais.xlsx")], [f"{folder / 'calais.xlsx'}/"])):
        register = tmp_path / f"registre{i}.sqlite"
        capsys.readouterr()
        assert cli.main(["consolider", *named, "-o", str(tmp_path / f"c{i}.xlsx"), "--registre", str(register),
                         "--jobs", "1"]) == 0
        assert "enregistrée dans le registre" in capsys.readouterr().err
        assert register.exists()


# ------------------------------------------------------------------ the batch
def _write_variant(conv, path: Path, **named) -> None:
    from acv_xl.outputs.template import build_workbook

    conv = conv.model_copy(deep=True)
    for k, v in named.items():
        conv.set_value(k, v)
    build_workbook(path, conv)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from acv_xl.outputs.examples import example_conventions, write_examples
    from acv_xl.contract.model import Commune, build_row

    root = tmp_path_factory.mktemp("departement")
    folder = root / "62"
    (folder / "Arrageois" / "2025").mkdir(parents=True)
    examples = write_examples(folder)
    assert len(examples) >= 2
    mtimes = {p: p.stat().st_mtime for p in examples}
    convs = example_conventions()
    first = sorted(examples)[0]
    # The same convention, validated, in a sub-folder and older on disk: being validated, it is the
    # one kept (CON-01); the never-validated original in the top folder is the duplicate.
    from acv_xl.checks.fingerprint import fingerprint

    validated = convs[first.name].model_copy(deep=True)
    validated.set_value("acv_statut", "Validé")
    validated.set_value("acv_date_validation", date(2026, 3, 2))
    validated.set_value("acv_empreinte", fingerprint(validated))
    kept = folder / "Arrageois" / "2025" / ("valide_" + first.name)
    _write_variant(validated, kept)
    os.utime(kept, (first.stat().st_mtime - 86400, first.stat().st_mtime - 86400))
    dup = first
    # an unreadable file, a lock file, a hidden file
    (folder / "Arrageois" / "illisible.xlsx").write_bytes(b"PK\x03\x04 ceci n'est pas un classeur")
    (folder / "ancien.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))  # old Excel format
    (folder / ("~$" + first.name)).write_bytes(b"lock")
    (folder / ".cache.xlsx").write_bytes(b"hidden")
    base = next(iter(convs.values()))
    # another département
    _write_variant(base, folder / "nord.xlsx", acv_id="ACV998", acv_departement="59", acv_libelle="Maubeuge")
    # texts that look like formulas
    evil = base.model_copy(deep=True)
    evil.communes = [build_row(Commune, {"code_insee": c.raw.get("code_insee"), "commune": EVIL,
                                         "role": c.raw.get("role")}) for c in evil.communes]
    _write_variant(evil, folder / "Arrageois" / "injection.xlsx", acv_id="ACV997", acv_libelle=EVIL_LIB)
    out = root / "consolidation.xlsx"
    js = root / "resume.json"
    result = C.consolidate([folder], out, departement="62", json_path=js, jobs=2)
    return {"folder": folder, "kept": kept, "dup": dup, "out": out, "json": js, "result": result,
            "examples": examples, "mtimes": mtimes}


def _sheet(out: Path, name: str) -> pd.DataFrame:
    """A sheet's table (header on row 3), without the total row."""
    df = pd.read_excel(out, sheet_name=name, header=2, engine="openpyxl", dtype=object)
    first = df.columns[0]
    # the table ends at its total row, or at the first empty row (notes and charts may follow)
    end = df.index[df[first].isna() | (df[first] == "Total")]
    return (df.iloc[:end[0]] if len(end) else df).reset_index(drop=True)


def test_every_file_listed_once_in_fichiers(batch):
    df = _sheet(batch["out"], Feuille.FICHIERS)
    expected, base = C.discover([batch["folder"]])
    assert sorted(df[H.CHEMIN]) == sorted(C._rel(f, base) for f in expected)
    assert not any(str(p).startswith(("~$", ".")) or "/~$" in str(p) for p in df[H.CHEMIN])
    row = df.set_index(H.CHEMIN)
    assert row.loc["Arrageois/illisible.xlsx", H.STATUT] == "Illisible"
    assert row.loc["Arrageois/illisible.xlsx", H.COMPTE] == "Non"
    assert row.loc["nord.xlsx", H.MOTIF] == "autre département"
    assert row.loc["ancien.xls", H.STATUT] == "Illisible" and row.loc["ancien.xls", H.MOTIF] == "illisible"
    dup_rel = batch["dup"].relative_to(batch["folder"]).as_posix()
    kept_rel = batch["kept"].relative_to(batch["folder"]).as_posix()
    assert row.loc[dup_rel, H.MOTIF] == "doublon" and row.loc[dup_rel, H.STATUT] == "Non validé"
    assert row.loc[kept_rel, H.COMPTE] == "Oui" and row.loc[kept_rel, H.STATUT] == "Validé"
    assert pd.Timestamp(row.loc[kept_rel, H.DATE_VALIDATION]).date() == date(2026, 3, 2)
    import hashlib

    assert row.loc[kept_rel, H.SHA256] == hashlib.sha256(batch["kept"].read_bytes()).hexdigest()
    assert int(row.loc[kept_rel, H.TAILLE]) == batch["kept"].stat().st_size
    assert row.loc[kept_rel, H.VERSION] == layout.TEMPLATE_VERSION


def test_anomalies_hold_every_finding_and_the_con_ones(batch):
    from acv_xl.checks.validate import validate_file

    df = _sheet(batch["out"], Feuille.ANOMALIES)
    folder = batch["folder"]
    by_file = {rel: Counter(g[H.CODE]) for rel, g in df.groupby(H.FICHIER)}
    for rel in _sheet(batch["out"], Feuille.FICHIERS)[H.CHEMIN]:
        own = Counter(f.code for f in validate_file(folder / rel).findings)
        got = by_file.get(rel, Counter())
        assert Counter({k: v for k, v in got.items() if not k.startswith("CON-")}) == own, rel
    dup_rel = batch["dup"].relative_to(folder).as_posix()
    assert by_file[dup_rel]["CON-01"] == 1
    kept_rel = batch["kept"].relative_to(folder).as_posix()
    assert by_file.get(kept_rel, Counter())["CON-01"] == 0 and by_file.get(kept_rel, Counter())["CON-02"] == 0
    assert by_file[dup_rel]["CON-02"] == 1
    assert by_file["Arrageois/illisible.xlsx"]["CON-03"] == 1
    assert by_file["nord.xlsx"]["CON-04"] == 1
    assert by_file["ancien.xls"]["CON-03"] == 1 and by_file["ancien.xls"]["STR-01"] + by_file["ancien.xls"]["STR-02"] == 1
    con = df[df[H.CODE].str.startswith("CON-")]
    assert set(con[H.GRAVITE]) <= {"Erreur", "Avertissement"}


def test_lignes_totals_equal_the_per_file_totals_and_the_duplicate_counts_once(batch):
    lignes = _sheet(batch["out"], Feuille.LIGNES)
    data = json.loads(batch["json"].read_text(encoding="utf-8"))
    counted = [c for c in data["conventions"] if c["compte"]]
    ids = [c["acv_id"] for c in counted]
    assert len(ids) == len(set(ids))  # one convention, one count
    dup_rel = batch["dup"].relative_to(batch["folder"]).as_posix()
    assert dup_rel not in set(lignes[H.FICHIER]) and "nord.xlsx" not in set(lignes[H.FICHIER])
    assert set(lignes[H.FICHIER]) <= {c["fichier"] for c in counted}

    ok = lignes[lignes[H.COMPTE] == "Oui"]
    cents = lambda x: int(round(float(x) * 100))  # noqa: E731
    by_fin = ok.groupby("Financeur")["Montant (€)"].apply(lambda s: sum(cents(v) for v in s)).to_dict()
    expected: Counter = Counter()
    for c in counted:
        for k, v in c["totaux"]["par_financeur"].items():
            expected[k] += cents(v)
    assert by_fin == dict(expected)
    grand = sum(cents(c["totaux"]["financement_total"]) for c in counted)
    assert sum(cents(v) for v in ok["Montant (€)"]) == grand == cents(data["totaux"]["financement_total"])
    # refused lines are listed but not counted
    refuses = lignes[lignes["Statut"] == "Refusé"]
    assert (refuses[H.COMPTE] == "Non").all()

    synth = _sheet(batch["out"], Feuille.SYNTHESE)
    assert sorted(synth[H.ACV_ID]) == sorted(ids)
    assert sum(cents(v) for v in synth[H.FINANCEMENT]) == grand
    assert sum(batch["result"].counted[i].totaux.financement_total for i in range(len(counted))) \
        == Decimal(grand) / 100


def test_total_rows_hold_the_totals_before_any_recalculation(batch):
    wb = openpyxl.load_workbook(batch["out"])
    ws = wb[Feuille.PAR_FINANCEUR]
    tab = ws.tables[C.TABLES[Feuille.PAR_FINANCEUR]]
    assert tab.totalsRowCount == 1
    data = json.loads(batch["json"].read_text(encoding="utf-8"))
    # the cached values of the total row (what any reader sees without recalculating)
    vals = pd.read_excel(batch["out"], sheet_name=Feuille.PAR_FINANCEUR, header=2, engine="calamine")
    total_row = vals[vals[H.ACV_ID] == "Total"].iloc[0]
    # codes outside the reference list share the « code inconnu » column (CON-05)
    grouped: Counter = Counter()
    for code, v in data["totaux"]["par_financeur"].items():
        grouped[code if code in layout.FINANCEURS_BY_CODE else "code inconnu"] += round(v * 100)
    assert set(vals.columns[2:-2]) == set(grouped)
    for code, cents in grouped.items():
        assert round(float(total_row[code]) * 100) == cents
    assert round(float(total_row[H.TOTAL]), 2) == round(data["totaux"]["financement_total"], 2)


def _recalculated(ws, formula: str) -> float:
    """What Excel computes for a total row's formula (fullCalcOnLoad: it recalculates on opening),
    for the two forms the consolidation writes; anything else fails the test."""
    from openpyxl.utils import range_boundaries

    def cells(ref):
        c1, r1, c2, r2 = range_boundaries(ref)
        return [ws.cell(r, c).value for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]

    if m := re.fullmatch(r"=SUBTOTAL\(109,([A-Z]+\d+:[A-Z]+\d+)\)", formula):
        return sum(v for v in cells(m[1]) if isinstance(v, (int, float)))
    # each row's SUBTOTAL (a row hidden by a filter adds nothing; none is hidden here) where a column says so
    if m := re.fullmatch(r'=SUMPRODUCT\(SUBTOTAL\(109,OFFSET\(([A-Z]+)(\d+),ROW\(\1\2:\1(\d+)\)-ROW\(\1\2\),0\)\),'
                         r'--\(([A-Z]+)\2:\4\3="([^"]*)"\)\)', formula):
        col, first, last, key, wanted = m[1], m[2], m[3], m[4], m[5]
        return sum(v for v, k in zip(cells(f"{col}{first}:{col}{last}"), cells(f"{key}{first}:{key}{last}"))
                   if isinstance(v, (int, float)) and k == wanted)
    raise AssertionError(f"formule inattendue : {formula}")


def test_total_rows_recalculated_by_excel_give_their_cached_totals(tmp_path):
    """A refused line, and a line without a financeur code: once Excel recalculated the workbook,
    the `Lignes` total added the refused amounts (a SUBTOTAL of the whole column) and the table of
    totals by financeur fell short of the financement total (no row for the lines without a code)."""
    from acv_xl.outputs.examples import write_examples

    folder = tmp_path / "62"
    folder.mkdir()
    path = sorted(write_examples(folder))[0]
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.T_FINANCEMENTS.sheet]
    ref = ws.tables[layout.T_FINANCEMENTS.name].ref
    headers = [c.value for c in ws[ref][0]]
    first = ws[ref][1]
    first[headers.index(layout.T_FINANCEMENTS.header("financeur"))].value = None
    ws[ref][2][headers.index(layout.T_FINANCEMENTS.header("statut"))].value = layout.STATUT_REFUSE
    wb.save(path)
    out = tmp_path / "c.xlsx"
    result = C.consolidate([folder], out, jobs=1)
    g = result.totaux
    assert g.non_ventile["par_financeur"] > 0  # the case is there
    formulas, values = openpyxl.load_workbook(out), openpyxl.load_workbook(out, data_only=True)
    checked = []
    for ws in formulas.worksheets:
        for table in ws.tables.values():
            if not table.totalsRowCount:
                continue
            row = ws[table.ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")]
            for c in row:
                if isinstance(c.value, str) and c.value.startswith(("=SUBTOTAL", "=SUMPRODUCT")):
                    cached = values[ws.title][c.coordinate].value
                    assert _recalculated(values[ws.title], c.value) == pytest.approx(cached, abs=0.005), \
                        (ws.title, c.coordinate, c.value)
                    checked.append((ws.title, c.value))
    end = 3 + len(_sheet(out, Feuille.LIGNES))
    assert (Feuille.LIGNES, f'=SUMPRODUCT(SUBTOTAL(109,OFFSET(J4,ROW(J4:J{end})-ROW(J4),0)),--(L4:L{end}="Oui"))') \
        in checked
    totaux = [v for t, v in checked if t == Feuille.PAR_FINANCEUR]
    assert len(totaux) > 2
    assert values[Feuille.LIGNES][f"J{4 + len(_sheet(out, Feuille.LIGNES))}"].value == \
        pytest.approx(float(g.financement_total))


def test_amounts_no_spreadsheet_holds_are_refused_before_anything_is_written(tmp_path, capsys):
    """Two amounts near Excel's largest number (9,99 × 10^307), in one workbook or in two: their sum
    became « inf » in the consolidated workbook's cells (a file Excel must repair, that openpyxl
    cannot open) and « Infinity » in a JSON no parser accepts, with status 1."""
    from acv_xl.cli import main
    from acv_xl.outputs.examples import write_examples

    def amount(path: Path, row: int, value: float) -> None:
        wb = openpyxl.load_workbook(path)
        ws = wb[layout.T_FINANCEMENTS.sheet]
        rows = ws[ws.tables[layout.T_FINANCEMENTS.name].ref]
        rows[1 + row][[c.value for c in rows[0]].index(layout.T_FINANCEMENTS.header("montant"))].value = value
        wb.save(path)

    folder = tmp_path / "62"
    folder.mkdir()
    paths = sorted(write_examples(folder))
    amount(paths[0], 0, 9e307)
    amount(paths[1], 0, 9e307)  # each workbook's own total holds in a cell; the département's does not
    out, js = tmp_path / "c.xlsx", tmp_path / "c.json"
    assert main(["consolider", str(folder), "-o", str(out), "--json", str(js), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "dépassent le plus grand nombre qu'un tableur représente" in err and "rien n'est écrit" in err
    assert not out.exists() and not js.exists()
    amount(paths[1], 0, 1000.0)
    amount(paths[0], 1, 9e307)  # now in one workbook only: it is named
    assert main(["consolider", str(folder), "-o", str(out), "--json", str(js), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"montants démesurés dans « {paths[0].name} »" in err and not out.exists()
    amount(paths[0], 0, 1000.0)
    amount(paths[0], 1, 1000.0)
    assert main(["consolider", str(folder), "-o", str(out), "--json", str(js), "--jobs", "1"]) in (0, 1)
    # with a register: the workbooks it knows passed the test when recorded; one read again is tested
    reg = tmp_path / "registre.sqlite"
    assert main(["consolider", str(folder), "-o", str(out), "--registre", str(reg), "--jobs", "1"]) in (0, 1)
    amount(paths[2], 0, 9e307)
    amount(paths[2], 1, 9e307)
    assert main(["consolider", str(folder), "-o", str(tmp_path / "c2.xlsx"), "--registre", str(reg),
                 "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"montants démesurés dans « {paths[2].name} »" in err and not (tmp_path / "c2.xlsx").exists()
    json.loads(js.read_text(encoding="utf-8"), parse_constant=lambda c: pytest.fail(c))
    openpyxl.load_workbook(out)


def test_text_from_workbooks_stays_text(batch):
    wb = openpyxl.load_workbook(batch["out"])
    found = 0
    for name in (Feuille.SYNTHESE, Feuille.LIGNES):
        for row in wb[name].iter_rows():
            for cell in row:
                if cell.value in (EVIL, EVIL_LIB) or (isinstance(cell.value, str) and EVIL in cell.value):
                    assert cell.data_type == "s", (name, cell.coordinate)
                    found += 1
    assert found >= 2
    # and no formula anywhere but the tables' total rows
    with zipfile.ZipFile(batch["out"]) as z:
        for n in z.namelist():
            if n.startswith("xl/worksheets/sheet"):
                formulas = re.findall(r"<f>(.*?)</f>", z.read(n).decode("utf-8"))
                assert all(f.startswith(("SUBTOTAL(109,", "IFERROR(")) or re.fullmatch(
                    r'SUMPRODUCT\(SUBTOTAL\(109,OFFSET\(J4,ROW\(J4:J(\d+)\)-ROW\(J4\),0\)\),--\(L4:L\1="Oui"\)\)', f)
                    for f in formulas), (n, formulas[:3])


def test_the_input_was_not_altered_and_output_opens_in_libreoffice(batch, tmp_path):
    from acv_xl.outputs.libreoffice import convert

    (recalc,) = convert([batch["out"]], "xlsx", tmp_path)
    wb = openpyxl.load_workbook(recalc, data_only=True)
    assert [s for s in wb.sheetnames] == list(C.FEUILLES)
    # LibreOffice recalculated every total row: each must equal the value we cached when writing
    ours = openpyxl.load_workbook(batch["out"], data_only=True)
    checked = 0
    for name in C.FEUILLES:
        for tname, ref in ours[name].tables.items():
            last = ref.split(":")[1]
            row = int("".join(ch for ch in last if ch.isdigit()))
            if not ours[name].tables[tname].totalsRowCount:
                continue
            mine = [c.value for c in ours[name][row]]
            theirs = [c.value for c in wb[name][row]]
            for a, b in zip(mine, theirs):
                if isinstance(a, (int, float)):
                    assert isinstance(b, (int, float)) and round(a, 2) == round(b, 2), (name, tname, mine, theirs)
                    checked += 1
    assert checked >= 10
    # `Lignes`' and `Anomalies`' rows (no `r` attributes, inline strings: `consolidation_blocks`) are
    # read by LibreOffice where they are, as they are, and their tables still cover them
    from python_calamine import CalamineWorkbook

    for feuille in (Feuille.LIGNES, Feuille.ANOMALIES):
        def rows(path):
            return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(feuille).to_python()

        assert rows(recalc) == rows(batch["out"]) and len(rows(recalc)) > 10, feuille
        assert [t.ref for t in wb[feuille].tables.values()] == [t.ref for t in ours[feuille].tables.values()]
    # the rows' heights kept (LibreOffice rounds them to its pixels)
    heights = {r: d.height for r, d in ours[Feuille.ANOMALIES].row_dimensions.items() if d.height and r > 3}
    assert heights and all(abs(wb[Feuille.ANOMALIES].row_dimensions[r].height - h) <= 1 for r, h in heights.items())
    df = pd.read_excel(recalc, sheet_name=Feuille.SYNTHESE, header=2, engine="openpyxl")
    total = df[df[H.ACV_ID] == "Total"].iloc[0][H.FINANCEMENT]
    data = json.loads(batch["json"].read_text(encoding="utf-8"))
    assert round(float(total), 2) == round(data["totaux"]["financement_total"], 2)
    # the inputs were read, never written
    for p in batch["examples"]:
        assert p.stat().st_mtime == batch["mtimes"][p]


def test_result_exit_code_and_summary(batch):
    r = batch["result"]
    assert r.exit_code == 1  # unreadable files and the duplicate are errors
    line = r.summary_line()
    assert f"{len(r.files)} fichiers lus" in line and "doublon : 1" in line and "illisible : 2" in line
    assert line.endswith(f" → {batch['out']}")


def test_counts_past_a_thousand_are_grouped_as_french_writes_them(batch):
    """A département's thousand workbooks: « 1000 fichiers lus, … 4735 erreurs » and « Attention, 1234
    fichiers non lus » — every other number acv-xl prints is grouped by thousands (« 1 234 »)."""
    from acv_xl.contract.values import fmt_number
    from acv_xl.outputs.consolidation_result import ConsolidationResult

    r = batch["result"]
    times = 1000 // len(r.files) + 1
    big = ConsolidationResult(r.files * times, r.verdicts * times)
    n = len(big.files)
    line = big.summary_line(with_out=False)
    assert n >= 1000 and line.startswith(f"{fmt_number(n)} fichiers lus, ") and " " in fmt_number(n)
    assert not re.search(r"\d{4}", line.split("financement total")[0]), line
    said = C._not_read([f"calais-{k}.xlsx.part" for k in range(1234)])
    assert said.startswith("Attention, 1 234 fichiers non lus") and "et 1 229 autres" in said, said
    assert said.endswith(" Pour les consolider, enregistrez chacun dans le dossier en classeur .xlsx ou .xlsm.")
    some = C._not_read(["« a.xlsx.bak » (…)", "« b.xlsx.part » (…)"], 1)
    assert some.endswith(" Pour consolider ceux dont le classeur n'est pas lu, enregistrez chacun dans le dossier "
                         "en classeur .xlsx ou .xlsm."), some


def test_findings_counted_as_anomalies_lists_them_without_making_its_rows(batch):
    """`count` (the summary line, the workbook's properties) counts the findings `Anomalies` lists — a
    STR-01/02 that its file's CON-03 repeats once —, of every file or of the counted ones, without
    making those rows (an object per finding: ≈ 8 ms of a consolidation of 1 000 workbooks); and they
    are the numbers the workbook shows: the sums of `Fichiers`' columns, of every file."""
    from acv_xl.outputs.consolidation_result import ConsolidationResult, _echoed

    r = batch["result"]
    fresh = ConsolidationResult(r.files, r.verdicts)
    shown = (Gravite.ERREUR, Gravite.AVERTISSEMENT)  # the summary line's
    counts = {(g, only): fresh.count(g, only) for g in shown for only in (False, True)}
    assert "anomalies" not in fresh.__dict__  # (a cached property: computed, it would be there)
    echoed = {f.rel: _echoed(f, v) for f, v in zip(fresh.files, fresh.verdicts)}
    counted = {f.rel for f in fresh.counted}
    assert any(echoed.values()) and counted != {f.rel for f in fresh.files}  # both cases are in the batch
    for (g, only), n in counts.items():
        assert n == sum(a.gravite is g and a.code not in echoed[a.rel] for a in fresh.anomalies
                        if not only or a.rel in counted), (g, only)
    assert counts[Gravite.ERREUR, False] > counts[Gravite.ERREUR, True] > 0
    fichiers = _sheet(batch["out"], Feuille.FICHIERS)
    assert [counts[g, False] for g in shown] == [fichiers[H.ERREURS].sum(), fichiers[H.AVERTISSEMENTS].sum()]


def test_the_workbook_properties_never_carry_the_path_it_was_written_to(batch):
    """The summary in the file's properties says what was consolidated, not where the user keeps it
    (a folder often named after a person): the path is for the terminal only."""
    with zipfile.ZipFile(batch["out"]) as z:
        core = z.read("docProps/core.xml").decode("utf-8")
    assert "fichiers lus" in core and "financement total" in core
    assert str(batch["out"].parent) not in core and "→" not in core


# ------------------------------------------------------------------ safety
def _small_folder(tmp_path, batch, n=3) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sorted(batch["examples"])[:n]:
        shutil.copy2(p, folder / p.name)
    return folder


def test_the_garbage_collector_is_left_as_it_was(batch, tmp_path):
    """Reading and writing pause the collector and freeze the modules for the pool: a program that
    calls `consolidate` (the Excel server) gets its collector back as it was, in every case."""
    import gc

    folder = _small_folder(tmp_path, batch, n=2)
    assert gc.isenabled()
    # as it was: Python 3.12 starts with objects of its own in the permanent generation (375 in 3.12.1)
    frozen = gc.get_freeze_count()
    for jobs in (1, 2):
        C.consolidate([folder], tmp_path / f"o{jobs}.xlsx", jobs=jobs)
        assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        C.consolidate([folder], tmp_path / "o3.xlsx", jobs=2)
        assert not gc.isenabled() and gc.get_freeze_count() == frozen
    finally:
        gc.enable()


def test_the_consolidation_s_pause_and_a_reader_s_never_leave_the_collector_disabled(monkeypatch):
    """A program reading workbooks in one thread (each read pausing the collector) while another
    consolidates: the consolidation's pause (`_kept_whole`) beginning as a read ends. Checking
    `gc.isenabled()` then disabling on its own, it found the collector disabled by the read, which
    enabled it before `_kept_whole` disabled it: leaving, it restored « disabled », for good."""
    import gc

    from acv_xl.reading import collector

    assert gc.isenabled()
    read = collector.paused(settle=True)
    read.__enter__()
    real_disable = gc.disable
    armed = [True]

    def disable() -> None:  # the read's pause ends just before the consolidation's takes hold
        if armed[0] and not gc.isenabled():
            armed[0] = False
            read.__exit__(None, None, None)
        real_disable()

    monkeypatch.setattr(gc, "disable", disable)
    with C._kept_whole(False):
        pass
    if armed[0]:  # not met between the two: the read ends now
        armed[0] = False
        read.__exit__(None, None, None)
    monkeypatch.setattr(gc, "disable", real_disable)
    try:
        assert gc.isenabled()
    finally:
        gc.enable()


def test_a_crashing_check_is_reported_and_the_batch_goes_on(batch, tmp_path, monkeypatch):
    folder = _small_folder(tmp_path, batch)
    victim = sorted(folder.iterdir())[0].name
    real = C._validate

    def flaky(path, data=None):
        if path.name == victim:
            raise ZeroDivisionError("règle en panne")
        return real(path, data)

    monkeypatch.setattr(C, "_validate", flaky)  # workers are forked: they see it
    r = C.consolidate([folder], tmp_path / "o.xlsx", jobs=2)
    by = {f.rel: v for f, v in zip(r.files, r.verdicts)}
    assert not by[victim].compte and "ZeroDivisionError" in by[victim].findings[0].message
    assert sum(v.compte for v in r.verdicts) == len(r.files) - 1
    assert (tmp_path / "o.xlsx").exists()


def test_a_worker_that_dies_only_loses_its_file(batch, tmp_path, monkeypatch):
    folder = _small_folder(tmp_path, batch)
    victim = sorted(folder.iterdir())[1].name
    real = C._validate

    def fatal(path, data=None):
        if path.name == victim:
            os._exit(3)  # as a segfault in a native reader would
        return real(path, data)

    monkeypatch.setattr(C, "_validate", fatal)
    r = C.consolidate([folder], tmp_path / "o.xlsx", jobs=2)
    by = {f.rel: v for f, v in zip(r.files, r.verdicts)}
    assert [name for name, v in by.items() if not v.compte] == [victim]
    assert by[victim].findings[0].code == "CON-03"


def test_an_interrupted_write_leaves_no_file_and_keeps_the_previous_one(batch, tmp_path, monkeypatch):
    folder = _small_folder(tmp_path, batch, n=2)
    out = tmp_path / "o.xlsx"

    def boom(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(W._Writer, "fichiers", boom)
    with pytest.raises(KeyboardInterrupt):
        C.consolidate([folder], out, jobs=1)
    assert list(tmp_path.glob("*o.xlsx*")) == []
    out.write_bytes(b"previous")  # not a report of acv-xl: replaced only when the user says so
    with pytest.raises(KeyboardInterrupt):
        C.consolidate([folder], out, jobs=1, replace=True)
    assert out.read_bytes() == b"previous" and [p.name for p in tmp_path.glob("*o.xlsx*")] == ["o.xlsx"]


def test_a_killed_process_leaves_no_partial_output(batch, tmp_path):
    folder = _small_folder(tmp_path, batch, n=2)
    out = tmp_path / "o.xlsx"
    # Killed (SIGKILL: nothing runs after it) while XlsxWriter writes the zip.
    script = textwrap.dedent(f"""
        import os, signal, zipfile
        from pathlib import Path
        from acv_xl.outputs import consolidation as C
        def killing(real):
            def wrapper(self, *a, **k):
                real(self, *a, **k)
                if len(self.filelist) > 5:
                    os.kill(os.getpid(), signal.SIGKILL)
            return wrapper
        zipfile.ZipFile.write = killing(zipfile.ZipFile.write)
        zipfile.ZipFile.writestr = killing(zipfile.ZipFile.writestr)
        C.consolidate([Path({str(folder)!r})], Path({str(out)!r}), jobs=1)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert not out.exists()


def _no_compressing_thread() -> bool:
    import threading

    return not any(t.name.startswith("acv-xl-zlib") for t in threading.enumerate())


@pytest.mark.parametrize("where", ["thread", "zip"])
def test_a_full_disk_while_writing_the_consolidation_is_said_in_french(batch, tmp_path, monkeypatch, capsys, where):
    """A full disk in the thread compressing the rows, or while XlsxWriter writes the zip (which
    wraps the system's error in its own `FileCreateError`): the French sentence of every output,
    no temp file left, no thread left running."""
    import errno

    from acv_xl import cli

    folder = _small_folder(tmp_path, batch, n=2)
    out = tmp_path / "o.xlsx"

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "thread":
        monkeypatch.setattr(W, "_deflate", full)
    else:
        monkeypatch.setattr(zipfile.ZipFile, "writestr", full)
    assert cli.main(["consolider", str(folder), "-o", str(out), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"impossible d'écrire {out} : le disque est plein." in err and "interne" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    assert _no_compressing_thread()


def test_rows_never_left_as_markers_if_xlsxwriter_zips_otherwise(batch, tmp_path, monkeypatch):
    """If XlsxWriter ever stops zipping through the `ZipFile` its module names, the sheets would
    hold the markers instead of their rows: the run stops, and no such file is left."""
    from contextlib import nullcontext

    folder = _small_folder(tmp_path, batch, n=2)
    monkeypatch.setattr(W._Packer, "closing", lambda self, path: nullcontext())
    with pytest.raises(RuntimeError, match="XlsxWriter"):
        C.consolidate([folder], tmp_path / "o.xlsx", jobs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    assert _no_compressing_thread()


def _plain_entry_writers(monkeypatch) -> None:
    """zipfile's entry writers without their internals (`_compressor`, …): only `write` and `with`."""
    real_open = W._PackedZip.open

    class _Plain:
        def __init__(self, dest):
            self.dest = dest

        def write(self, data):
            return self.dest.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.dest.__exit__(*exc)

    monkeypatch.setattr(W._PackedZip, "open", lambda self, *a, **k: _Plain(real_open(self, *a, **k)))


def test_rows_compressed_ahead_without_zipfile_internals_give_the_same_sheets(batch, tmp_path, monkeypatch):
    """If zipfile's entry writer ever loses its `_compressor`, the marked sheets are compressed by
    zipfile itself: the same sheets once unzipped, no marker left in them."""
    folder = _small_folder(tmp_path, batch, n=3)
    C.consolidate([folder], tmp_path / "a.xlsx", jobs=1)
    _plain_entry_writers(monkeypatch)
    C.consolidate([folder], tmp_path / "b.xlsx", jobs=1)
    with zipfile.ZipFile(tmp_path / "a.xlsx") as za, zipfile.ZipFile(tmp_path / "b.xlsx") as zb:
        assert za.testzip() is None and zb.testzip() is None
        sheets = [n for n in za.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and sheets == [n for n in zb.namelist() if n.startswith("xl/worksheets/sheet")]
        for n in sheets:
            a = za.read(n)
            assert a == zb.read(n) and b"\x00" not in a and b"<row " in a, n
    assert _no_compressing_thread()


@pytest.mark.parametrize("internals", [True, False])
def test_rows_deflated_part_by_part_give_the_same_sheets(batch, tmp_path, monkeypatch, internals, frozen_clock):
    """Each table's rows built and deflated by parts (`PART_ROWS`), each part's CRC-32 and length
    joined to its sheet's entry, give the sheets of rows deflated in one part — with zipfile's
    entry writer as it is, and without its internals (each block inflated and compressed by it)."""
    folder = _small_folder(tmp_path, batch, n=4)
    C.consolidate([folder], tmp_path / "a.xlsx", jobs=1)
    monkeypatch.setattr(W, "PART_ROWS", 2)  # every table of more than 2 rows in several parts
    packed: list[int] = []  # the bytes of each part deflated
    real_pack = W._pack
    monkeypatch.setattr(W, "_pack", lambda data, c=None: packed.append(len(data)) or real_pack(data, c))
    if not internals:
        _plain_entry_writers(monkeypatch)
    C.consolidate([folder], tmp_path / "b.xlsx", jobs=1)
    # the tables of one row per convention came in several parts (`Lignes` and `Anomalies` come as
    # blocks, one per workbook: `consolidation_blocks`)
    assert len(packed) > len(W.TABLES)
    with zipfile.ZipFile(tmp_path / "a.xlsx") as za, zipfile.ZipFile(tmp_path / "b.xlsx") as zb:
        assert za.testzip() is None and zb.testzip() is None
        assert za.namelist() == zb.namelist()
        for n in za.namelist():
            assert za.read(n) == zb.read(n), n
        assert [i.file_size for i in za.infolist()] == [i.file_size for i in zb.infolist()]
    assert _no_compressing_thread()


def test_a_file_name_not_in_utf8_is_consolidated_and_validated(batch, tmp_path):
    """A name made on Windows (« caf\\xe9.xlsx » in Latin-1, from a zip or a share): consolidated,
    recorded and validated like any other, its undecodable byte shown « \\xe9 » in the sheets,
    the JSON and the register (two such names stay apart), « ? » in a redirected report — never
    « erreur interne inattendue »."""
    folder = _small_folder(tmp_path, batch, n=1)
    odd = folder / os.fsdecode(b"caf\xe9.xlsx")
    shutil.copy2(sorted(batch["examples"])[1], odd)
    shutil.copy2(sorted(batch["examples"])[2], folder / os.fsdecode(b"caf\xe8.xlsx"))
    out, js, reg = tmp_path / "o.xlsx", tmp_path / "o.json", tmp_path / "r.sqlite"
    proc = subprocess.run([*ACV_XL, "consolider", str(folder), "-o", str(out), "--json", str(js), "--registre",
                           str(reg), "--jobs", "1"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode in (0, 1) and "interne" not in proc.stderr, proc.stderr
    shown = {"caf\\xe9.xlsx", "caf\\xe8.xlsx"}
    assert shown <= {c["fichier"] for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]}
    files = pd.read_excel(out, sheet_name=Feuille.FICHIERS, header=2, engine="openpyxl")
    assert shown <= set(files[H.CHEMIN])
    with sqlite3.connect(reg) as con:
        assert shown <= {c for c, in con.execute("SELECT chemin FROM fichiers")}
    proc = subprocess.run([*ACV_XL, "valider", str(odd)], capture_output=True, cwd=ROOT, timeout=300)
    assert proc.returncode in (0, 1) and b"interne" not in proc.stderr, proc.stderr
    assert b"caf?.xlsx" in proc.stdout


# ------------------------------------------------------------------ command line
def test_empty_folder_clear_message_and_status_2(tmp_path):
    (tmp_path / "vide").mkdir()
    (tmp_path / "vide" / "lisez-moi.txt").write_text("rien")
    proc = subprocess.run([*ACV_XL, "consolider", str(tmp_path / "vide"), "-o", str(tmp_path / "o.xlsx")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "aucun classeur .xlsx ou .xlsm trouvé" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.xlsx").exists()


def test_cli_usage_errors(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"not read")
    for args, msg in (
        (["consolider", str(tmp_path / "a.xlsx"), "-o", str(tmp_path / "a.xlsx")], "aussi un fichier lu"),
        (["consolider", str(tmp_path / "absent"), "-o", str(tmp_path / "o.xlsx")], "introuvable"),
        (["consolider", str(tmp_path), "-o", str(tmp_path / "o.csv")], "extension .xlsx"),
        (["consolider", str(tmp_path)], "obligatoires"),
        (["consolider", str(tmp_path), "-o", str(tmp_path / "o.xlsx"), "--departement", "Pas-de-Calais"],
         "code de département invalide : « Pas-de-Calais »"),  # as typed, not upper-cased
        (["consolider", str(tmp_path), "-o", str(tmp_path / "o.xlsx"), "--jobs", "0"], "--jobs"),
        (["consolider", str(tmp_path), "-o", str(tmp_path / "absent" / "o.xlsx")], "dossier de sortie"),
        (["consolider", str(tmp_path), "-o", str(tmp_path / "o.xlsx"), "--json", str(tmp_path / "absent" / "r.json")],
         "dossier de sortie n'existe pas"),
    ):
        proc = subprocess.run([*ACV_XL, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 2, (args, proc.stderr)
        assert msg in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "a.xlsx").read_bytes() == b"not read"


def test_cli_end_to_end(batch, tmp_path):
    out, js = tmp_path / "dep62.xlsx", tmp_path / "dep62.json"
    proc = subprocess.run([*ACV_XL, "consolider", str(batch["folder"]), "-o", str(out), "--departement", "62",
                           "--json", str(js), "--jobs", "2"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Consolidation : ") and "Traceback" not in proc.stderr
    assert "\x1b[" not in proc.stderr  # no progress bar when not on a terminal
    a = json.loads(js.read_text(encoding="utf-8"))
    b = json.loads(batch["json"].read_text(encoding="utf-8"))
    assert a["totaux"] == b["totaux"] and len(a["conventions"]) == len(b["conventions"])
    assert _sheet(out, Feuille.LIGNES).shape == _sheet(batch["out"], Feuille.LIGNES).shape


def test_progress_bar_on_a_terminal_and_summary(batch, tmp_path):
    import io

    from rich.console import Console

    folder = _small_folder(tmp_path, batch, n=3)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, highlight=False)
    rc = C.run_consolider([folder], tmp_path / "o.xlsx", jobs=2, console=console)
    text = buf.getvalue()
    assert "Lecture et contrôle des classeurs" in text and "3/3" in text
    assert "Consolidation : 3 fichiers lus, 3 conventions comptées" in text
    r = C.consolidate([folder], tmp_path / "o2.xlsx", jobs=1)
    assert rc == r.exit_code


def test_a_previous_consolidation_in_the_folder_is_listed_not_read(batch, tmp_path):
    folder = _small_folder(tmp_path, batch, n=2)
    first = C.consolidate([folder], folder / "consolidation_semaine_1.xlsx", jobs=1)
    assert len(first.files) == 2
    again = C.consolidate([folder], tmp_path / "semaine_2.xlsx", jobs=1)
    by = {f.rel: v for f, v in zip(again.files, again.verdicts)}
    assert len(by) == 3
    v = by["consolidation_semaine_1.xlsx"]
    assert not v.compte and v.motif == C.MOTIF_CONSOLIDATION and v.findings == []
    assert again.exit_code == first.exit_code
    assert again.totaux.financement_total == first.totaux.financement_total


def test_a_binome_is_one_convention_counted_once(batch):
    from acv_xl.reading.read import read_file

    data = json.loads(batch["json"].read_text(encoding="utf-8"))
    binomes = [c for c in data["conventions"] if c["compte"] and len(c["communes"]) >= 2]
    assert binomes, "the examples must hold a binôme (e.g. Lens - Liévin)"
    synth, lignes = _sheet(batch["out"], Feuille.SYNTHESE), _sheet(batch["out"], Feuille.LIGNES)
    for b in binomes:
        rows = synth[synth[H.ACV_ID] == b["acv_id"]]
        assert len(rows) == 1
        assert rows.iloc[0][H.COMMUNES] == " ; ".join(b["communes"])
        conv = read_file(batch["folder"] / b["fichier"])
        expected = [lf for lf in conv.financements if not lf.is_empty()]
        mine = lignes[lignes[H.ACV_ID] == b["acv_id"]]
        assert len(mine) == len(expected)
        assert set(mine[H.COMMUNES]) == {" ; ".join(b["communes"])}


def test_lignes_texts_round_trip_exactly(tmp_path):
    """The tables' rows are written as sheet XML: markup, control characters, a literal `_x0041_`,
    spaces, formulas-looking text, rich-text look-alikes and emoji read back as they were, as text;
    numbers, years and dates as numbers with their formats."""
    from python_calamine import CalamineWorkbook

    # `<r>…</r>` is what XlsxWriter's shared strings take for raw rich-text XML: it must stay text too
    weird = ["a<b>&c \"q\" 'x'", "ctrl\x01\x1f.", "_x0041_ lit", "  espaces  ", "=1+1", "@SOMME(A1)",
             "ligne\nsuivante", "é€😀", "<r>brut & net</r>", "<r><t>x</t></r>", "retour\r\nchariot"]
    t = Totaux(financement_total=Decimal("1.00"), par_financeur={"X": Decimal("1.00")})
    lines = tuple((w, w, 1, w, w, w, 2025, Decimal("1.00") if i == 0 else Decimal("0.50"), "Acquis", i == 0,
                   "", "Plan de financement", "F4") for i, w in enumerate(weird))
    f = FileSummary(path="/x", rel="x.xlsx", etat=ETAT_VALIDE, acv_id="ACV001", totaux=t, lines=lines,
                    libelle="<r>Arras</r>", date_validation=date(2026, 3, 2),
                    mtime=datetime(2026, 3, 4, 10, 20, 30).timestamp())
    r = C.ConsolidationResult([f], judge([f]))
    out = tmp_path / "w.xlsx"
    C.write_workbook(r, out)
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name(Feuille.LIGNES).to_python()
    header = rows[2]
    body = rows[3:3 + len(weird)]
    col = header.index(layout.T_FINANCEMENTS.header("numero"))
    assert [row[col] for row in body] == weird
    assert [row[header.index(layout.T_FINANCEMENTS.header("montant"))] for row in body] == [1.0] + [0.5] * 10
    assert [row[header.index(H.COMPTE)] for row in body] == ["Oui"] + ["Non"] * 10
    assert [row[header.index(layout.T_FINANCEMENTS.header("annee"))] for row in body] == [2025] * 11
    assert rows[3 + len(weird)][0] == "Total"
    wb = openpyxl.load_workbook(out)
    synth = wb[Feuille.SYNTHESE]
    assert synth.cell(row=4, column=2).value == "<r>Arras</r>" and synth.cell(row=4, column=2).data_type == "s"
    fichiers = wb[Feuille.FICHIERS]
    heads = [c.value for c in fichiers[3]]
    d = fichiers.cell(row=4, column=heads.index(H.DATE_VALIDATION) + 1)
    m = fichiers.cell(row=4, column=heads.index(H.MODIFIE_LE) + 1)
    assert (d.value, d.number_format) == (datetime(2026, 3, 2), W.DATE)
    assert (m.value, m.number_format) == (datetime(2026, 3, 4, 10, 20, 30), W.DATE_HEURE)
    ws = wb[Feuille.LIGNES]
    assert all(ws.cell(row=4 + i, column=col + 1).data_type == "s" for i in range(len(weird)))
    assert ws.cell(row=4, column=col + 1).font.i is False and ws.cell(row=5, column=col + 1).font.i is True


def test_a_rich_text_look_alike_with_a_non_character_is_written_as_xml(tmp_path):
    """The writer escaped a rich-text look-alike (`<r>…</r>`, written inline) its own way, apart from
    the blocks' `inline_text`: U+FFFE went into the sheet raw, which is not XML (Excel repaired the
    workbook, openpyxl refused it), and a carriage return came back as a line feed. One escaping now."""
    from python_calamine import CalamineWorkbook

    libelle = "<r>Arras\ufffe retour\r\nchariot</r>"
    t = Totaux(financement_total=Decimal("1.00"), par_financeur={"X": Decimal("1.00")})
    line = ("1.1", "ETAT", 1, "DSIL", "Subvention", "x", 2025, Decimal("1.00"), "Acquis", True, "",
            "Plan de financement", "F4")
    f = FileSummary(path="/x", rel="x.xlsx", etat=ETAT_VALIDE, acv_id="ACV001", totaux=t, lines=(line,),
                    libelle=libelle, date_validation=date(2026, 3, 2), mtime=datetime(2026, 3, 4).timestamp())
    out = tmp_path / "w.xlsx"
    C.write_workbook(C.ConsolidationResult([f], judge([f])), out)
    synth = openpyxl.load_workbook(out)[Feuille.SYNTHESE]
    assert synth.cell(row=4, column=2).data_type == "s"
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name(Feuille.SYNTHESE).to_python()
    assert rows[3][1] in (libelle, libelle.replace("\ufffe", "_xFFFE_"))  # calamine leaves XlsxWriter's `_xHHHH_`


def test_territorial_funders_are_named_without_the_pas_de_calais_outside_it():
    """The template's reference list is the Pas-de-Calais's: a report on another département (or
    on several) names the Région, the Département and the EPF without a territory."""
    from acv_xl.contract import layout

    assert layout.nom_financeur("DEPT", {"62"}) == "Département du Pas-de-Calais"
    assert layout.nom_financeur("DEPT", {"59"}) == "Département"
    assert layout.nom_financeur("REGION", {"59", "62"}) == "Région"
    assert layout.nom_financeur("ETAT", {"59"}) == layout.FINANCEURS_BY_CODE["ETAT"].nom
    assert layout.nom_financeur("XYZ", {"62"}) is None


def test_an_unreadable_file_counts_one_error_not_two(batch):
    """CON-03 repeats the reader's STR-01/02 (both are listed): the totals count it once."""
    out = batch["out"]
    files = _sheet(out, Feuille.FICHIERS)
    row = files[files[H.CHEMIN] == "Arrageois/illisible.xlsx"].iloc[0]
    assert int(row[H.ERREURS]) == 1


def test_a_named_pipe_in_the_folder_is_listed_unreadable_not_waited_for(tmp_path):
    """A named pipe « tube.xlsx » in a commune's folder (planted on a share): `consolider` opened it to
    hash it and waited for a writer forever — with or without a register. It is now listed as
    `valider` says it (« pas un fichier ordinaire »), not counted, and the others are consolidated.
    Run as a process: without the check, the test stops on its timeout instead of hanging the suite."""
    from acv_xl.outputs.examples import example_conventions
    from acv_xl.outputs.template import build_workbook

    folder = tmp_path / "62"
    folder.mkdir()
    build_workbook(folder / "arras.xlsx", example_conventions()["arras.xlsx"])
    os.mkfifo(folder / "tube.xlsx")
    for extra in ([], ["--registre", str(tmp_path / "r.sqlite")]):
        out = tmp_path / "c.xlsx"
        run = subprocess.run([sys.executable, "-m", "acv_xl", "consolider", str(folder), "-o", str(out), "--remplacer",
                              *extra], capture_output=True, timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        assert run.returncode == 1, run.stderr.decode("utf-8")  # the pipe's error (CON-03)
        files = _sheet(out, Feuille.FICHIERS)
        row = files[files[H.CHEMIN] == "tube.xlsx"].iloc[0]
        assert row[H.COMPTE] == "Non" and int(row[H.ERREURS]) == 1
        anomalies = _sheet(out, Feuille.ANOMALIES)
        said = anomalies[anomalies[H.FICHIER] == "tube.xlsx"][H.MESSAGE]
        assert any("n'est pas un fichier ordinaire (périphérique ou tube nommé)" in m for m in said)
        assert (files[H.CHEMIN] == "arras.xlsx").any()


def test_a_named_pipe_among_the_files_named_is_not_waited_for(tmp_path):
    """Among a shell's `*`, a named pipe « tube » (no workbook's name): the reader refuses it without
    opening it, but what its content is was then read to tell a damaged workbook from notes — and the
    consolidation waited for a writer forever. It is listed « pas un classeur Excel », never opened.
    Run as a process: without the check, the test stops on its timeout instead of hanging the suite."""
    from acv_xl.outputs.examples import example_conventions
    from acv_xl.outputs.template import build_workbook

    build_workbook(tmp_path / "arras.xlsx", example_conventions()["arras.xlsx"])
    os.mkfifo(tmp_path / "tube")
    js = tmp_path / "c.json"
    run = subprocess.run([*ACV_XL, "consolider", str(tmp_path / "arras.xlsx"), str(tmp_path / "tube"), "-o",
                          str(tmp_path / "c.xlsx"), "--json", str(js)], capture_output=True, timeout=120,
                         env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert run.returncode == 0, run.stderr.decode("utf-8")
    by = {c["fichier"]: c for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]}
    assert by["tube"]["motif"] == "pas un classeur Excel, non compté" and by["arras.xlsx"]["compte"], by


def test_every_amount_chart_says_refused_lines_are_out(batch):
    """The three charts of amounts carry the same « (hors refusés) » (the axe one once lacked it)."""
    with zipfile.ZipFile(batch["out"]) as z:
        titles = sorted(t for n in z.namelist() if n.startswith("xl/charts/chart")
                        for t in re.findall(r"<a:t>([^<]*)</a:t>", z.read(n).decode("utf-8")))
    amounts = [t for t in titles if t.startswith("Financement")]
    assert len(amounts) == 3 and all(t.endswith(" (hors refusés)") for t in amounts), titles


def test_xlsxwriters_own_rows_written_over_its_rows_only_give_its_sheets(batch, tmp_path, monkeypatch):
    """Titles, headers and total rows are written by XlsxWriter over the rows it holds, not over
    every row of the sheet's extent (`_write_rows`): the same sheets as its own walk gives."""
    from xlsxwriter.worksheet import Worksheet

    folder = _small_folder(tmp_path, batch, n=3)
    C.consolidate([folder], tmp_path / "a.xlsx", jobs=1)
    cls = W._sheet_class()
    monkeypatch.setattr(cls, "_write_rows", Worksheet._write_rows)
    monkeypatch.setattr(cls, "_calculate_spans", Worksheet._calculate_spans)
    C.consolidate([folder], tmp_path / "b.xlsx", jobs=1)
    with zipfile.ZipFile(tmp_path / "a.xlsx") as za, zipfile.ZipFile(tmp_path / "b.xlsx") as zb:
        sheets = [n for n in za.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) >= 6 and sheets == [n for n in zb.namelist() if n.startswith("xl/worksheets/sheet")]
        for n in sheets:
            assert za.read(n) == zb.read(n), n


def test_a_file_found_through_a_symbolic_link_is_shown_by_its_name_in_the_folder(tmp_path, batch):
    """A link in the consolidated folder was shown under its target: a path elsewhere on the
    machine (« /srv/…/calais.xlsx » in `Fichiers`), or, for a broken link, a name the référent
    cannot find in the folder (« absent.xlsx » for « casse.xlsx »). Its name in the folder now,
    the same with the files found ahead (`--registre`), and a file reached twice is read once."""
    from acv_xl.cli import main

    folder, elsewhere = tmp_path / "62", tmp_path / "ailleurs"
    folder.mkdir()
    elsewhere.mkdir()
    first, second = sorted(p for p in batch["folder"].glob("*.xlsx") if not p.name.startswith("."))[:2]
    shutil.copy(first, folder / first.name)
    shutil.copy(second, elsewhere / "original.xlsx")
    (folder / "lien.xlsx").symlink_to(elsewhere / "original.xlsx")
    (folder / "casse.xlsx").symlink_to("absent.xlsx")
    (folder / "a_meme.xlsx").symlink_to(first.name)  # the same file as first: once, under its own name
    expected = sorted(["casse.xlsx", "lien.xlsx", first.name])
    r = C.consolidate([folder], tmp_path / "o.xlsx", jobs=1)
    assert [f.rel for f in r.files] == expected
    (casse,) = [v for f, v in zip(r.files, r.verdicts) if f.rel == "casse.xlsx"]
    assert not casse.compte and "« casse.xlsx »" in casse.findings[0].message
    assert "absent" not in casse.findings[0].message
    for _ in range(2):  # recorded, then taken from the register with the files found ahead
        assert main(["consolider", str(folder), "-o", str(tmp_path / "r.xlsx"), "--json", str(tmp_path / "r.json"),
                     "--registre", str(tmp_path / "r.sqlite")]) == 1
        shown = [f["fichier"] for f in json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["conventions"]]
        assert sorted(shown) == expected, shown


@pytest.mark.parametrize("link", ["absent", "loop"])
def test_par_financeur_naming_a_broken_link_is_refused_before_anything_is_written(tmp_path, batch, link):
    """`--par-financeur` naming a broken or looping link (exists() is False) passed the checks: the
    consolidated workbook was written, then the command stopped with status 2 on « fichier
    inaccessible : … (le fichier existe déjà) ». It is refused first, like a file: nothing written."""
    folder = _small_folder(tmp_path, batch)
    extracts = tmp_path / "extraits"
    extracts.symlink_to("ailleurs" if link == "absent" else extracts.name)
    out = tmp_path / "o.xlsx"
    with pytest.raises(C.UsageError) as refused:
        C.consolidate([folder], out, jobs=1, par_financeur=extracts)
    # the name between « », as every message names a file (it ran into the sentence: « … : extraits »)
    assert str(refused.value) == f"--par-financeur attend un dossier : « {extracts} » n'en est pas un. Choisissez " \
                                 "un autre nom de dossier."
    assert not out.exists() and extracts.is_symlink()
    with pytest.raises(C.UsageError) as refused:
        C.consolidate([folder], out, jobs=1, par_financeur=tmp_path / "absent" / "extraits")
    assert str(refused.value) == f"le dossier parent de --par-financeur n'existe pas : « {tmp_path / 'absent'} ». " \
                                 "Créez-le d'abord, ou choisissez un autre dossier."


def test_reports_of_ours_named_as_inputs_are_listed_not_read(tmp_path, batch):
    """`acv-xl consolider dossier resume.json` (or `dossier/*`, which names every file of the
    folder) listed the JSON summary of a previous run, and the PDF of an annex, as « illisible »
    (CON-03, an error counted against the département): they are reports of acv-xl, listed
    « produit par acv-xl, non compté » like a previous consolidation workbook, with no finding.
    A workbook of another format keeps its precise message (OpenDocument)."""
    from acv_xl.cli import main
    from acv_xl.outputs.output_guard import ANNEXE, pdf_keywords

    folder = _small_folder(tmp_path, batch, n=2)
    resume = tmp_path / "resume.json"
    assert main(["consolider", str(folder), "-o", str(tmp_path / "a.xlsx"), "--json", str(resume)]) in (0, 1)
    annexe = tmp_path / "annexe.pdf"  # as LibreOffice writes it: the mark among the document's keywords
    annexe.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Title (Annexe) /Keywords (" + pdf_keywords(ANNEXE).encode()
                       + b") >>\nendobj\ntrailer\n<< /Info 1 0 R >>\n%%EOF\n")
    csv = tmp_path / "communes.csv"
    csv.write_text("commune;montant\nArras;12\n", encoding="utf-8")
    ods = tmp_path / "calais.ods"
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    js = tmp_path / "b.json"
    assert main(["consolider", str(folder), str(resume), str(annexe), str(csv), str(ods),
                 "-o", str(tmp_path / "b.xlsx"), "--json", str(js)]) == 1
    by = {c["fichier"]: c for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]}
    for name in ("resume.json", "annexe.pdf"):
        assert by[name]["motif"] == C.MOTIF_CONSOLIDATION and by[name]["constats_consolidation"] == [], by[name]
    (ods_msg,) = [f["message"] for f in by["calais.ods"]["constats_consolidation"]]
    assert "« calais.ods » est un classeur OpenDocument (.ods, LibreOffice)" in ods_msg
    # a JSON that is not ours is still a file that is no workbook
    other = tmp_path / "autre.json"
    other.write_text('{"commune": "Arras"}', encoding="utf-8")
    s = C.summarize(str(other), "autre.json")
    assert not s.ignore and s.etat == ETAT_ILLISIBLE


def test_files_that_are_no_workbook_among_a_shells_star_are_listed_not_unreadable(tmp_path, batch):
    """`consolider *` under a Unix shell (macOS, Linux, Git Bash) names every file of the folder: the
    référent's notes.txt, a PDF, a Word letter were each « illisible » (CON-03, an error of the
    département, status 1), where `consolider .` and the same `*` typed in cmd leave them out. Among
    several files, one neither named nor read as a workbook is listed « pas un classeur Excel, non
    compté », with no finding; a workbook's name that does not read stays « illisible », and a file
    named alone keeps its refusal, which says what it is."""
    from acv_xl.cli import main

    folder = _small_folder(tmp_path, batch, n=2)
    (folder / "notes.txt").write_text("relancer Calais\n", encoding="utf-8")
    (folder / "convention.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    with zipfile.ZipFile(folder / "lettre.docx", "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    (folder / "abime.xlsx").write_bytes(b"PK\x03\x04 tronque")
    walked = main(["consolider", str(folder), "-o", str(tmp_path / "a.xlsx"), "--json", str(tmp_path / "a.json")])
    star = sorted(str(p) for p in folder.iterdir())  # what the shell hands over
    js = tmp_path / "b.json"
    assert main(["consolider", *star, "-o", str(tmp_path / "b.xlsx"), "--json", str(js)]) == walked
    by = {c["fichier"]: c for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]}
    for name in ("notes.txt", "convention.pdf", "lettre.docx"):
        assert (by[name]["etat"], by[name]["motif"], by[name]["constats_consolidation"]) == \
            ("ignoré", "pas un classeur Excel, non compté", []), by[name]
    assert by["abime.xlsx"]["motif"] == "illisible"
    assert [f["code"] for f in by["abime.xlsx"]["constats_consolidation"]] == ["CON-03"]
    alone = tmp_path / "c.json"
    main(["consolider", str(folder / "notes.txt"), "-o", str(tmp_path / "c.xlsx"), "--json", str(alone)])
    (notes,) = json.loads(alone.read_text(encoding="utf-8"))["conventions"]
    assert notes["motif"] == "illisible" and "est un fichier texte" in notes["constats_consolidation"][0]["message"]


def test_a_damaged_workbook_under_another_name_among_others_stays_unreadable(tmp_path, batch):
    """Among a shell's `*`, a file was left out « pas un classeur Excel » for its name alone: a
    convention half downloaded (« calais.xlsx.part », a truncated zip) or one sent without its
    extension whose sheet is damaged (« arras ») went uncounted with no finding — the département's
    verdict without its error, a convention missing unsaid. Its content may be a workbook's: it
    stays « illisible » (CON-03), as a workbook's name that does not read; a text is still left out.
    A download is listed « non lu » (in download ?), as the walk of the folder lists it."""
    from acv_xl.cli import main

    folder = _small_folder(tmp_path, batch, n=2)
    whole = sorted(folder.iterdir())[0].read_bytes()
    (folder / "calais.xlsx.part").write_bytes(whole[:3000])
    with zipfile.ZipFile(folder / "arras", "w") as z:  # the parts of a workbook, its workbook part damaged
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook><sheets")
    (folder / "notes.txt").write_text("relancer Calais\n", encoding="utf-8")
    js = tmp_path / "c.json"
    main(["consolider", *map(str, sorted(folder.iterdir())), "-o", str(tmp_path / "c.xlsx"), "--json", str(js)])
    summary = json.loads(js.read_text(encoding="utf-8"))
    by = {c["fichier"]: c for c in summary["conventions"]}
    assert (by["arras"]["etat"], by["arras"]["motif"]) == ("illisible", "illisible"), by["arras"]
    assert [f["code"] for f in by["arras"]["constats_consolidation"]] == ["CON-03"], by["arras"]
    assert by["notes.txt"]["motif"] == "pas un classeur Excel, non compté"
    assert "calais.xlsx.part" not in by
    assert summary["fichiers_non_lus"] == [{"fichier": "calais.xlsx.part",
                                            "motif": "fichier en cours de téléchargement ou de copie ?"}]


def test_a_stale_excel_lock_file_among_a_shells_star_is_left_out_as_by_the_walk(tmp_path, batch):
    """Excel's lock file « ~$vieux.xlsx » left behind (Excel stopped, the workbook since renamed): a
    Unix shell's `*` names it with no workbook it stands for, and it was « illisible » (CON-03, an error
    of the département, status 1) where `consolider .` and `*` typed in cmd skip it (status 0). Among
    other files it is « pas un classeur Excel, non compté », the status the folder's."""
    from acv_xl.cli import main

    folder = _small_folder(tmp_path, batch, n=2)
    (folder / "~$vieux.xlsx").write_bytes(b"\x05Jean " + b"\x00" * 160)
    walked = main(["consolider", str(folder), "-o", str(tmp_path / "a.xlsx")])
    js = tmp_path / "b.json"
    assert main(["consolider", *map(str, sorted(folder.iterdir())), "-o", str(tmp_path / "b.xlsx"),
                 "--json", str(js)]) == walked == 0
    by = {c["fichier"]: c for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]}
    assert (by["~$vieux.xlsx"]["motif"], by["~$vieux.xlsx"]["constats_consolidation"]) == \
        ("pas un classeur Excel, non compté", [])


def test_a_zip_of_workbooks_among_others_stays_unreadable_and_says_to_extract_them(tmp_path, batch):
    """A commune's convention sent zipped (or a platform's export of the conventions), saved in the
    folder without being extracted: among a shell's `*` it was left out « pas un classeur Excel, non
    compté », status 0, the conventions in it uncounted with no word — and named, it was « une archive
    zip qui ne contient pas de classeur Excel », which it does. It is « illisible » (CON-03), saying it
    holds workbooks, to be extracted; a zip of other files is still left out."""
    from acv_xl.cli import main

    folder = _small_folder(tmp_path, batch, n=2)
    with zipfile.ZipFile(folder / "conventions.zip", "w") as z:
        z.write(sorted(folder.iterdir())[0], "envoi/calais.XLSX")
    with zipfile.ZipFile(folder / "photos.zip", "w") as z:
        z.writestr("visite.txt", "façade")
    js = tmp_path / "c.json"
    assert main(["consolider", *map(str, sorted(folder.iterdir())), "-o", str(tmp_path / "c.xlsx"),
                 "--json", str(js)]) == 1
    by = {c["fichier"]: c for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]}
    assert by["photos.zip"]["motif"] == "pas un classeur Excel, non compté"
    (con03,) = by["conventions.zip"]["constats_consolidation"]
    said = "« conventions.zip » est une archive zip qui contient des classeurs Excel, pas un classeur"
    assert con03["code"] == "CON-03" and said in con03["message"] and "ne contient pas" not in con03["message"], con03
    assert "Extrayez" in con03["suggestion"], con03


def test_files_none_a_convention_with_a_departement_are_said_so_not_a_mistyped_code(tmp_path, capsys):
    """`consolider * --departement 62` in a folder holding no workbook (notes, a PDF: each « pas un
    classeur Excel ») read « aucune convention du département 62 parmi les 2 fichiers trouvés (aucun
    département renseigné) … Vérifiez le code donné à --departement »: conventions without a
    département, a code to check, where there is no convention at all — as said without --departement."""
    from acv_xl.cli import main

    (tmp_path / "notes.txt").write_text("relancer Calais\n", encoding="utf-8")
    (tmp_path / "convention.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    names = [str(tmp_path / "notes.txt"), str(tmp_path / "convention.pdf")]
    for extra in ([], ["--departement", "62"]):
        assert main(["consolider", *names, "-o", str(tmp_path / "c.xlsx"), *extra]) == 2
        err = capsys.readouterr().err
        assert "aucun classeur de convention ACV parmi les 2 fichiers trouvés" in err, err
        assert "--departement" not in err and not (tmp_path / "c.xlsx").exists()


def test_a_file_left_out_for_its_name_is_not_kept_so_in_the_register(tmp_path, batch):
    """The register keeps a file's summary by its content: notes.txt left out among a shell's `*`
    (« pas un classeur Excel ») was kept so, and given again when named alone — « ignoré », where the
    same bytes read afresh are « illisible » with what they are — or under a workbook's name. That
    verdict is the run's, not the content's: never kept, the file is read again."""
    from acv_xl.cli import main

    folder = _small_folder(tmp_path, batch, n=2)
    notes = folder / "notes.txt"
    notes.write_text("relancer Calais\n", encoding="utf-8")
    registre = str(tmp_path / "registre.sqlite")

    def run(*names: Path) -> dict:
        js = tmp_path / "c.json"
        main(["consolider", *map(str, names), "-o", str(tmp_path / "c.xlsx"), "--json", str(js),
              "--registre", registre, "--remplacer"])
        return {c["fichier"]: c for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]}

    for _ in range(2):  # the second time with the workbooks' summaries kept
        assert run(*sorted(folder.iterdir()))["notes.txt"]["motif"] == "pas un classeur Excel, non compté"
    alone = run(notes)["notes.txt"]
    assert alone["motif"] == "illisible" and "est un fichier texte" in alone["constats_consolidation"][0]["message"]
    assert run(*sorted(folder.iterdir()))["notes.txt"]["motif"] == "pas un classeur Excel, non compté"
    shutil.copy(notes, folder / "convention.xlsx")  # the same bytes under a workbook's name
    assert run(*sorted(folder.iterdir()))["convention.xlsx"]["motif"] == "illisible"


def test_a_file_left_out_among_others_has_no_analysis_in_its_register_row(tmp_path, batch):
    """docs/registre.md: `analyse_id` is empty for a file « pas un classeur Excel » among others. It was
    so only while its bytes had never been analysed: named alone once (or under a workbook's name), its
    row of a later `*` pointed at that analysis, « illisible », beside its own état « ignoré » — a join
    of `fichiers` and `analyses` said it unreadable, and the same run's row differed with the past."""
    from acv_xl.cli import main

    folder = _small_folder(tmp_path, batch, n=2)
    notes = folder / "notes.txt"
    notes.write_text("relancer Calais\n", encoding="utf-8")
    registre = tmp_path / "registre.sqlite"
    for names in ([notes], sorted(folder.iterdir())):
        main(["consolider", *map(str, names), "-o", str(tmp_path / "c.xlsx"), "--registre", str(registre),
              "--remplacer"])
    con = sqlite3.connect(registre)
    try:
        rows = con.execute("SELECT f.etat, f.analyse_id IS NULL, a.etat FROM fichiers f LEFT JOIN analyses a "
                           "ON a.id = f.analyse_id WHERE f.chemin = 'notes.txt' ORDER BY f.id").fetchall()
    finally:
        con.close()
    assert rows == [("illisible", 0, "illisible"), ("ignoré", 1, None)], rows


def test_a_linked_commune_folder_is_walked_and_a_folder_not_walked_is_said(tmp_path, batch, monkeypatch, capsys):
    """Discovery did not follow a symbolic link to a folder (to avoid loops): a référent whose
    communes' folders are links into the département's saw their workbooks missing with no word.
    A link to a folder is now followed, once, its workbooks shown under the link's name; a link
    that loops, a broken one, a folder that cannot be listed are said on the terminal (workbooks
    may be missing there), and a link to a folder walked already adds nothing."""
    from acv_xl.outputs import consolidation_files as F

    examples = sorted(batch["examples"])
    folder, communes = tmp_path / "62", tmp_path / "communes"
    for name in ("arras", "calais", "ferme"):
        (communes / name).mkdir(parents=True)
    shutil.copy(examples[0], communes / "arras" / "a.xlsx")
    shutil.copy(examples[1], communes / "calais" / "c.xlsx")
    shutil.copy(examples[2], communes / "ferme" / "f.xlsx")
    folder.mkdir()
    shutil.copy(examples[3], folder / "direct.xlsx")
    (folder / "arras").symlink_to(communes / "arras")
    (folder / "calais").symlink_to(communes / "calais")
    (folder / "ferme").symlink_to(communes / "ferme")
    (folder / "calais_bis").symlink_to(communes / "calais")  # the same folder twice: read once
    (folder / "ici").symlink_to(".")  # the folder itself: walked already, nothing to say
    (folder / "parent").symlink_to("..")  # holds the folder: a loop
    (folder / "boulogne").symlink_to(communes / "absent")  # a share not mounted
    scandir = os.scandir

    def refused(path):
        if Path(path).name == "ferme":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(F.os, "scandir", refused)
    r = C.consolidate([folder], tmp_path / "o.xlsx", jobs=1)
    assert [f.rel for f in r.files] == ["arras/a.xlsx", "calais/c.xlsx", "direct.xlsx"]
    assert all(v.compte for v in r.verdicts)
    assert r.not_walked == [
        "« boulogne » (lien symbolique dont la cible est introuvable)",
        "« ferme » (dossier illisible, accès refusé)",
        "« parent » (lien symbolique vers un dossier qui le contient, non suivi pour éviter une boucle)"]
    capsys.readouterr()
    assert C.run_consolider([folder], tmp_path / "o2.xlsx", jobs=1) == r.exit_code
    err = capsys.readouterr().err
    assert ("Attention, 3 dossiers non parcourus où des classeurs peuvent manquer : « boulogne » (lien symbolique "
            "dont la cible est introuvable), « ferme » (dossier illisible, accès refusé), « parent » (lien symbolique vers "
            "un dossier qui le contient, non suivi pour éviter une boucle).\n") in err
    assert "Consolidation : 3 fichiers lus, 3 conventions comptées" in err
    monkeypatch.setattr(F.os, "scandir", scandir)
    # without anything amiss, no word
    for link in ("parent", "boulogne", "ferme"):
        (folder / link).unlink()
    assert C.consolidate([folder], tmp_path / "o3.xlsx", jobs=1).not_walked == []
    # nothing found, and a folder not walked: the refusal says where workbooks may be
    empty = tmp_path / "vide"
    empty.mkdir()
    (empty / "boulogne").symlink_to(communes / "absent")
    with pytest.raises(C.UsageError) as refused:
        C.consolidate([empty], tmp_path / "o5.xlsx", jobs=1)
    assert str(refused.value) == (f"aucun classeur .xlsx ou .xlsm trouvé dans « {empty} » ; non parcouru : "
                                  "« boulogne » (lien symbolique dont la cible est introuvable).")
    capsys.readouterr()
    C.run_consolider([folder], tmp_path / "o4.xlsx", jobs=1)
    assert "Attention" not in capsys.readouterr().err


def test_a_file_of_the_folder_that_may_be_a_workbook_is_said_not_read(tmp_path, batch, capsys):
    """A référent who received « calais.xlsx.part », « conventions.zip » or a workbook saved without
    extension in the folder saw the consolidation pass over it without a word: a convention missing
    from the comité's figures. Each is said on the terminal (and in the refusal when nothing else is
    found), by its name alone — only a file without extension has its first bytes read; a backup
    beside its workbook, a PDF, notes, a named pipe are not."""
    from acv_xl.outputs import consolidation_files as F

    examples = sorted(batch["examples"])
    folder = tmp_path / "62"
    (folder / "sous").mkdir(parents=True)
    shutil.copy(examples[0], folder / "arras.xlsx")
    shutil.copy(examples[0], folder / "arras.xlsx.bak")  # its workbook beside it: nothing to say
    shutil.copy(examples[1], folder / "calais")  # a workbook saved without extension
    shutil.copy(examples[2], folder / "sous" / "lens.XLSX.part")
    shutil.copy(examples[3], folder / "boulogne.xlsm~")
    with zipfile.ZipFile(folder / "conventions.zip", "w") as z:
        z.write(examples[4], "saint-omer.xlsx")
    (folder / "lettre.xlsx.lnk").write_bytes(b"L\0\0\0")
    (folder / "notes").write_text("relancer Calais\n", encoding="utf-8")  # no extension, no zip
    (folder / "rapport.pdf").write_bytes(b"%PDF-1.4")
    (folder / ".ancien.zip").write_bytes(b"")  # hidden
    os.mkfifo(folder / "tube")  # never opened: it would wait for a writer
    r = C.consolidate([folder], tmp_path / "o.xlsx", jobs=1)
    assert [f.rel for f in r.files] == ["arras.xlsx"]
    assert r.not_read == [
        "« boulogne.xlsm~ » (« ~ » ajouté après « .xlsm »)",
        "« calais » (classeur sans extension .xlsx ?)",
        "« conventions.zip » (archive, non ouverte : extrayez-en les classeurs)",
        "« lettre.xlsx.lnk » (raccourci Windows, non suivi : remplacez-le par le classeur lui-même)",
        "« sous/lens.XLSX.part » (fichier en cours de téléchargement ou de copie ?)"]
    # found ahead by another process (`consolider --registre`): the same
    ahead = F.prefetch([folder])
    try:
        assert C.consolidate([folder], tmp_path / "o1.xlsx", jobs=1, prefetched=ahead).not_read == r.not_read
    finally:
        ahead.close()
    capsys.readouterr()
    assert C.run_consolider([folder], tmp_path / "o2.xlsx", jobs=1) == r.exit_code
    err = capsys.readouterr().err
    assert ("Attention, 5 fichiers non lus qui peuvent être des classeurs : « boulogne.xlsm~ » (« ~ » ajouté après "
            "« .xlsm »), « calais » (classeur sans extension .xlsx ?), « conventions.zip » (archive, non ouverte : "
            "extrayez-en les classeurs), « lettre.xlsx.lnk » (raccourci Windows, non suivi : remplacez-le par le "
            "classeur lui-même), « sous/lens.XLSX.part » (fichier en cours de téléchargement ou de copie ?). Pour les "
            "consolider, enregistrez chacun dans le dossier en classeur .xlsx ou .xlsm.\n") in err
    # nothing else found: the refusal says what may be a workbook
    alone = tmp_path / "recu"
    alone.mkdir()
    shutil.move(folder / "conventions.zip", alone / "conventions.zip")
    with pytest.raises(C.UsageError) as refused:
        C.consolidate([alone], tmp_path / "o3.xlsx", jobs=1)
    assert str(refused.value) == (f"aucun classeur .xlsx ou .xlsm trouvé dans « {alone} » ; non lu : "
                                  "« conventions.zip » (archive, non ouverte : extrayez-en les classeurs).")
    # one: said of one
    for name in ("boulogne.xlsm~", "lettre.xlsx.lnk", "sous/lens.XLSX.part"):
        (folder / name).unlink()
    capsys.readouterr()
    C.run_consolider([folder], tmp_path / "o5.xlsx", jobs=1)
    assert ("Attention, 1 fichier non lu qui peut être un classeur : « calais » (classeur sans extension .xlsx ?). "
            "Pour le consolider, enregistrez-le dans le dossier en classeur .xlsx ou .xlsm.\n") in capsys.readouterr().err
    # nothing of the kind: no word
    (folder / "calais").unlink()
    capsys.readouterr()
    C.run_consolider([folder], tmp_path / "o4.xlsx", jobs=1)
    assert "Attention" not in capsys.readouterr().err


def test_the_json_summary_lists_the_folders_not_walked_and_the_files_not_read(tmp_path, batch, capsys):
    """A référent scripting the run read the `--json` summary: the folders not walked and the files
    left unread that may be workbooks were said on the terminal only, a convention missing from the
    figures with nothing in the JSON to tell it. Each is listed there, as shown, with why; the
    workbook and the register are as before (none of them is a file read)."""
    examples = sorted(batch["examples"])
    folder = tmp_path / "62"
    (folder / "sous").mkdir(parents=True)
    shutil.copy(examples[0], folder / "arras.xlsx")
    shutil.copy(examples[1], folder / "sous" / "calais.xlsx.part")
    (folder / "boulogne").symlink_to(tmp_path / "absent")
    summary = tmp_path / "recap.json"
    C.run_consolider([folder], tmp_path / "recap.xlsx", json_path=summary, jobs=1)
    data = json.loads(summary.read_text(encoding="utf-8"))
    assert data["dossiers_non_parcourus"] == [
        {"dossier": "boulogne", "motif": "lien symbolique dont la cible est introuvable"}]
    assert data["fichiers_non_lus"] == [
        {"fichier": "sous/calais.xlsx.part", "motif": "fichier en cours de téléchargement ou de copie ?"}]
    assert [c["fichier"] for c in data["conventions"]] == ["arras.xlsx"] and data["fichiers"] == 1
    # the terminal says the same
    err = capsys.readouterr().err
    assert "« boulogne » (lien symbolique dont la cible est introuvable)" in err
    assert "« sous/calais.xlsx.part » (fichier en cours de téléchargement ou de copie ?)" in err
    # nothing amiss: the keys are there, empty (a script reads them without testing for them)
    (folder / "boulogne").unlink()
    (folder / "sous" / "calais.xlsx.part").unlink()
    C.run_consolider([folder], tmp_path / "recap.xlsx", json_path=summary, jobs=1)
    data = json.loads(summary.read_text(encoding="utf-8"))
    assert data["dossiers_non_parcourus"] == data["fichiers_non_lus"] == []


def test_a_file_read_all_the_same_is_never_said_not_read(tmp_path, batch):
    """`consolider 62 62/calais` (a workbook saved without extension, named to be read), or a link
    « lien.xlsx » of the folder to « boulogne » beside it: each is read and counted, and the line said
    « 2 fichiers non lus » of them — a référent would look for conventions that are there. A download
    « lens.xlsx.part » named too is not read, as no backup or download named is (zsh's `62/**/*` names
    each folder with its files): said once."""
    from acv_xl.outputs.consolidation_files import not_taken_why

    examples = sorted(batch["examples"])
    folder = tmp_path / "62"
    folder.mkdir()
    shutil.copy(examples[0], folder / "arras.xlsx")
    shutil.copy(examples[1], folder / "calais")
    shutil.copy(examples[2], folder / "boulogne")
    (folder / "lien.xlsx").symlink_to("boulogne")
    shutil.copy(examples[3], folder / "lens.xlsx.part")
    shutil.copy(examples[4], folder / "saint-omer")  # neither named nor linked: not read, said
    part = str(folder / "lens.xlsx.part")
    r = C.consolidate([folder, folder / "calais", folder / "lens.xlsx.part"], tmp_path / "o.xlsx", jobs=1,
                      not_taken=[(part, not_taken_why(part))])
    assert sorted(f.rel for f in r.files) == ["arras.xlsx", "calais", "lien.xlsx"]
    assert r.not_read == ["« lens.xlsx.part » (fichier en cours de téléchargement ou de copie ?)",
                          "« saint-omer » (classeur sans extension .xlsx ?)"]


def test_the_json_summary_of_the_run_is_never_said_not_read(tmp_path, batch, capsys):
    """`consolider 62 -o recap.xlsx --json 62/recap.xlsx.json`, run again: the summary the previous run
    wrote in the folder was said « fichier non lu qui peut être un classeur » (« .json » ajouté après
    « .xlsx »), the référent told to save acv-xl's own output as a workbook."""
    examples = sorted(batch["examples"])
    folder = tmp_path / "62"
    folder.mkdir()
    shutil.copy(examples[0], folder / "arras.xlsx")
    summary = folder / "recap.xlsx.json"
    for _ in range(2):
        capsys.readouterr()
        C.run_consolider([folder], tmp_path / "recap.xlsx", json_path=summary, replace=True, jobs=1)
        assert "Attention" not in capsys.readouterr().err
    assert summary.exists()
    # not this run's: a JSON file all the same, no workbook (`test_another_document_after_a_workbooks_name…`)
    assert C.consolidate([folder], tmp_path / "autre.xlsx", jobs=1).not_read == []


def test_another_document_after_a_workbooks_name_is_no_workbook_and_a_backup_is_of_the_last_name(tmp_path):
    """« calais.xlsx.pdf » (the workbook printed), « calais.xlsx.p7s » (its signature) without the
    workbook beside them were said « fichiers non lus qui peuvent être des classeurs », the référent
    told to save a PDF « en classeur .xlsx ». And « rapport.xls.xlsx.bak » was taken for the backup
    of « rapport.xls » (« .xlsx.bak » ajouté après « .xls »): « rapport.xls.xlsx » beside it did not
    silence it, absent it was misnamed. The last workbook's extension is the one."""
    from acv_xl.outputs.consolidation_files import discover

    for name in ("calais.xlsx.pdf", "calais.xlsx.p7s", "recap.XLSX.json", "lens.xlsx.p7m", "rapport.xls.xlsx.bak",
                 "arras.xls.xlsx", "arras.xls.xlsx.old"):
        (tmp_path / name).write_bytes(b"")
    passed_over: list = []
    files, _ = discover([tmp_path], passed_over=passed_over)
    assert [f.name for f in files] == ["arras.xls.xlsx"]  # its backup beside it: nothing to say
    assert [(p.name, why) for p, why in passed_over] == [
        ("lens.xlsx.p7m", "« .p7m » ajouté après « .xlsx »"),  # an enveloped signature holds the workbook
        ("rapport.xls.xlsx.bak", "« .bak » ajouté après « .xlsx »")]


def test_a_mail_named_after_a_workbook_holds_it_and_is_said_not_read(tmp_path):
    """Excel's « Envoyer une copie » titles the mail with the workbook's name, and Outlook saves it as
    « calais.xlsx.msg » (a mail saved elsewhere, « .eml »): the workbook is attached, as in an enveloped
    signature (« .p7m »). Taken for another kind of document, like a PDF, it was left unsaid — the
    commune's convention missing from the figures without a word. It is said, with what to do."""
    from acv_xl.outputs.consolidation_files import discover

    for name in ("calais.xlsx.msg", "lens.XLSM.eml", "arras.xlsx", "arras.xlsx.msg"):
        (tmp_path / name).write_bytes(b"")
    passed_over: list = []
    files, _ = discover([tmp_path], passed_over=passed_over)
    assert [f.name for f in files] == ["arras.xlsx"]  # its own mail beside it: nothing to say
    assert [(p.name, why) for p, why in passed_over] == [
        ("calais.xlsx.msg", "message électronique, non ouvert : enregistrez-en le classeur joint"),
        ("lens.XLSM.eml", "message électronique, non ouvert : enregistrez-en le classeur joint")]


def test_a_workbook_whose_name_ends_with_a_space_is_read(tmp_path, batch):
    """« calais.xlsx  » (a space after the extension, kept by an unzip on Linux of an archive made
    elsewhere): Excel and `valider` read it, and `consolider 62` neither read nor said it — a
    convention missing from the comité's figures without a word. It is read as the workbook it is,
    in a walk as among several names (`62/*`), and not said « pas un classeur Excel »."""
    from acv_xl import cli

    folder = tmp_path / "62"
    folder.mkdir()
    examples = sorted(batch["examples"])
    shutil.copy(examples[0], folder / "arras.xlsx")
    shutil.copy(examples[1], folder / "calais.xlsx ")
    (folder / "lens.xlsm\t").write_bytes(b"")  # a workbook's name, damaged: illisible, a commune's
    for named in ([folder], sorted(folder.iterdir())):
        r = C.consolidate(named, tmp_path / "o.xlsx", jobs=1, replace=True)
        assert [f.rel for f in r.files] == ["arras.xlsx", "calais.xlsx ", "lens.xlsm\t"]
        assert [v.compte for v in r.verdicts] == [True, True, False] and not r.files[2].ignore
        assert r.not_read == []
    assert sorted(cli._walked_matches([str(folder / "*")])[0]) == sorted(map(str, folder.iterdir()))


def test_the_walk_opens_no_file_but_one_without_extension(tmp_path, monkeypatch):
    """The files that may be workbooks are told by their names: a walk of a département's workbooks,
    annexes, downloads and archives opens none of them — only a file without extension, whose first
    bytes say whether it is a zip. Counted, not timed (`consolider` on 1 000 workbooks is benchmarked)."""
    from acv_xl.outputs import consolidation_files as F

    for i in range(40):
        (tmp_path / f"c{i // 10}").mkdir(exist_ok=True)
        for name in (f"commune{i}.xlsx", f"annexe{i}.pdf", f"lens{i}.xlsx.part", f"envoi{i}.zip", f"~$commune{i}.xlsx"):
            (tmp_path / f"c{i // 10}" / name).write_bytes(b"PK\x03\x04")
    (tmp_path / "calais").write_bytes(b"PK\x03\x04")
    opened = []
    monkeypatch.setattr(F, "open", lambda path, *a, **k: opened.append(path) or open(path, *a, **k), raising=False)
    passed_over: list = []
    files, _ = F.discover([tmp_path], passed_over=passed_over)
    assert len(files) == 40 and len(passed_over) == 81
    assert opened == [str(tmp_path / "calais")]


def test_a_file_not_read_whose_name_is_not_utf8_is_said_as_its_name_is_shown(tmp_path):
    """« calais.xlsx.\\xe9 » (a name made under Windows in Latin-1): the line said « « .? » ajouté
    après « .xlsx » » beside « calais.xlsx.\\xe9 », its byte lost where the name keeps it escaped."""
    from acv_xl.outputs.consolidation_files import discover

    (tmp_path / os.fsdecode(b"calais.xlsx.\xe9")).write_bytes(b"")
    passed_over: list = []
    discover([tmp_path], passed_over=passed_over)
    assert [why for _, why in passed_over] == ["« .\\xe9 » ajouté après « .xlsx »"]


def test_a_junction_before_python_312_is_followed_as_a_link(tmp_path, monkeypatch):
    """Windows before Python 3.12: a junction (`mklink /J`) lists as a plain folder (no
    `is_junction`, `is_symlink` False), a reparse point. Walked as a folder, its workbooks were kept
    under the junction's path, unresolved: the commune's folder reached through two junctions was
    counted twice. It is followed as a link: resolved, walked once."""
    from acv_xl.outputs import consolidation_files as F

    communes, folder = tmp_path / "communes" / "arras", tmp_path / "62"
    communes.mkdir(parents=True)
    (communes / "a.xlsx").write_bytes(b"")
    folder.mkdir()
    (folder / "arras").symlink_to(communes)
    (folder / "arras_bis").symlink_to(communes)
    scandir = os.scandir

    class Junction:  # what Python 3.11 under Windows lists for a junction
        def __init__(self, entry):
            self._e, self.name, self.path = entry, entry.name, entry.path

        def is_symlink(self):
            return False

        def is_dir(self, follow_symlinks=True):
            return True

        def is_file(self, follow_symlinks=True):
            return False

        def stat(self, follow_symlinks=True):
            class St:
                st_file_attributes = 0x410  # a folder, a reparse point
                st_reparse_tag = 0xA0000003  # a mount point
            return St()

    class Listing:
        def __init__(self, path):
            self._it = scandir(path)

        def __enter__(self):
            return [Junction(e) if e.is_symlink() else e for e in self._it]

        def __exit__(self, *exc):
            self._it.close()

    monkeypatch.setattr(F.os, "scandir", Listing)
    monkeypatch.setattr(F, "_WINDOWS", True)
    files, _ = F.discover([folder])
    assert files == [(communes / "a.xlsx").resolve()]
    cloud = Junction(next(e for e in scandir(folder) if e.name == "arras"))
    cloud.stat = lambda follow_symlinks=True: type("St", (), {"st_file_attributes": 0x410,
                                                              "st_reparse_tag": 0x9000601A})()
    assert not F._is_junction(cloud)  # a OneDrive folder: a reparse point, a plain folder


def test_the_folder_named_that_cannot_be_listed_is_named_by_its_path(tmp_path, monkeypatch):
    """The folder given itself refused (a share the user may not list): the refusal said
    « non parcouru : « . » », a name no user typed nor sees; it says the folder's path."""
    from acv_xl.outputs import consolidation_files as F

    folder = tmp_path / "62"
    folder.mkdir()
    scandir = os.scandir

    def refused(path):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(F.os, "scandir", refused)
    with pytest.raises(C.UsageError) as refusal:
        C.consolidate([folder], tmp_path / "o.xlsx", jobs=1)
    assert str(refusal.value) == (f"aucun classeur .xlsx ou .xlsm trouvé dans « {folder} » ; non parcouru : "
                                  f"« {folder.resolve()} » (dossier illisible, accès refusé).")


def test_a_link_that_cannot_be_followed_is_said_too(tmp_path):
    """A link that loops on itself or with another, or whose target cannot be examined (a share gone,
    a folder refused: the system's error, not « introuvable »), was dropped without a word while a
    broken one was said: the folder it may lead to, with its workbooks, missing silently."""
    from acv_xl.outputs.consolidation_files import discover

    folder = tmp_path / "62"
    folder.mkdir()
    (folder / "a.xlsx").write_bytes(b"")
    (tmp_path / "fichier").write_bytes(b"")
    (folder / "boucle").symlink_to("boucle")
    (folder / "p1").symlink_to("p2")
    (folder / "p2").symlink_to("p1")
    (folder / "sous_un_fichier").symlink_to(tmp_path / "fichier" / "dossier")
    (folder / "b.xlsx").symlink_to("b.xlsx")  # a workbook's name: listed, read, « illisible », as before
    skipped: list = []
    files, _ = discover([folder], skipped=skipped)
    assert [f.name for f in files] == ["a.xlsx", "b.xlsx"]
    loop = "lien symbolique qui n'a pas pu être suivi, trop de liens symboliques dans le chemin, ou une boucle"
    assert [(p.name, why) for p, why in skipped] == [
        ("boucle", loop), ("p1", loop), ("p2", loop),
        ("sous_un_fichier", "lien symbolique qui n'a pas pu être suivi, un élément du chemin n'est pas un dossier")]


def test_synthese_names_wrap_and_its_numbers_read_on_their_first_line(batch):
    """An EPCI such as « Communauté d'agglomération de Béthune-Bruay, Artois-Lys Romane » was cut at
    its column's edge on paper: the names of the Synthèse wrap, in rows tall enough, and the numbers
    beside them are top-aligned (on the name's first line, not under its last)."""
    from acv_xl.outputs.page_layout import LINE_PT

    ws = openpyxl.load_workbook(batch["out"])[Feuille.SYNTHESE]
    heads = [c.value for c in ws[3]]
    epci, cout = heads.index(H.EPCI) + 1, heads.index(H.COUT) + 1
    longest = max(range(4, ws.max_row), key=lambda r: len(str(ws.cell(r, epci).value or "")))
    name = ws.cell(longest, epci)
    assert len(name.value) > ws.column_dimensions[name.column_letter].width  # it does not fit on one line
    assert name.alignment.wrap_text and ws.row_dimensions[longest].height >= 2 * LINE_PT
    assert ws.cell(longest, cout).alignment.vertical == "top"


def test_funders_names_under_the_matrix_wrap(batch):
    """« Banque des Territoires (Caisse des Dépôts) » was cut at its column's edge in the table of
    totals under the matrix of « Par financeur »: the names wrap, in rows tall enough."""
    from openpyxl.utils.cell import range_boundaries

    from acv_xl.outputs.page_layout import LINE_PT, text_lines

    ws = openpyxl.load_workbook(batch["out"])[Feuille.PAR_FINANCEUR]
    c1, r1, _c2, r2 = range_boundaries(ws.tables[W.TABLE_TOTAUX_FINANCEURS].ref)
    width = ws.column_dimensions[ws.cell(r1, c1 + 1).column_letter].width
    long = [r for r in range(r1 + 1, r2) if text_lines(ws.cell(r, c1 + 1).value, width) > 1]
    assert long  # « Banque des Territoires (Caisse des Dépôts) »
    for r in long:
        assert ws.cell(r, c1 + 1).alignment.wrap_text and ws.row_dimensions[r].height >= 2 * LINE_PT


def test_a_consolidation_past_the_rows_of_a_sheet_is_refused_nothing_written(example_folder, tmp_path, capsys,
                                                                              monkeypatch):
    """More financing lines (or findings) than a sheet has rows — 1 048 576, a thousand workbooks of
    plans as long as reading allows: `Lignes` was written past Excel's grid, a workbook Excel must
    repair by dropping them, and the run said nothing. Refused, nothing written; here with sheets of
    a few rows."""
    from acv_xl.cli import main

    out = tmp_path / "c.xlsx"
    assert main(["consolider", str(example_folder), "-o", str(out), "--jobs", "1"]) in (0, 1)
    lignes = len(pd.read_excel(out, sheet_name="Lignes", header=2, engine="openpyxl", dtype=object)
                 .dropna(subset=["Identifiant ACV"]).query("`Identifiant ACV` != 'Total'"))
    out.unlink()
    capsys.readouterr()
    monkeypatch.setattr(C, "_ROWS_MAX", lignes - 1)
    assert main(["consolider", str(example_folder), "-o", str(out), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"acv-xl : les {C.fmt_number(lignes)} lignes de financement des classeurs dépassent les " \
           "1 048 576 lignes d'une feuille Excel (feuille Lignes) : rien n'est écrit. Consolidez le dossier en " \
           "plusieurs fois (par département avec --departement, ou par sous-dossier)." in err, err
    assert not out.exists()
    monkeypatch.setattr(C, "_ROWS_MAX", lignes)
    assert main(["consolider", str(example_folder), "-o", str(out), "--jobs", "1"]) in (0, 1)


def test_no_chart_of_nothing_when_no_convention_is_counted(tmp_path):
    """A folder whose one workbook is unreadable: no convention counted, every total 0 €. The Synthèse
    and Par axe sheets still drew their charts — three bars of 0, five of 0 € over an axis « 1 € 1 € »,
    a frame printed on a page of its own. No chart is written without a value to show; with one, the
    four are (the shipped examples)."""
    from acv_xl.cli import main

    exemples = Path(__file__).resolve().parents[1] / "workbooks" / "exemples"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "faux.xlsx").write_bytes(b"PK\x03\x04 ceci n'est pas un classeur")
    assert main(["consolider", str(tmp_path / "in"), "-o", str(tmp_path / "vide.xlsx"), "--jobs", "1"]) == 1
    assert main(["consolider", str(exemples), "-o", str(tmp_path / "c.xlsx"), "--jobs", "1"]) in (0, 1)
    for name, count in (("vide.xlsx", 0), ("c.xlsx", 4)):
        with zipfile.ZipFile(tmp_path / name) as z:
            assert len([n for n in z.namelist() if n.startswith("xl/charts/chart")]) == count, name


def test_every_output_dates_its_footer_in_one_wording(tmp_path):
    """The footers read « Générée le » (annexe), « générée le » (consolidation, évolution), « généré le »
    (extrait): one wording, capitalised as « Page » beside it, agreeing with what each output is."""
    from acv_xl.cli import main
    from acv_xl.contract.values import fmt_date

    exemples = Path(__file__).resolve().parents[1] / "workbooks" / "exemples"
    reg = tmp_path / "registre.sqlite"
    assert main(["consolider", str(exemples), "-o", str(tmp_path / "c.xlsx"), "--jobs", "1", "--registre", str(reg),
                 "--par-financeur", str(tmp_path / "ex")]) in (0, 1)
    assert main(["historique", str(reg), "-o", str(tmp_path / "h.xlsx")]) == 0
    assert main(["annexe", str(exemples / "arras.xlsx"), "-o", str(tmp_path / "a.xlsx")]) == 0
    today = fmt_date(date.today())
    books = {"c.xlsx": "Générée", "h.xlsx": "Générée", "a.xlsx": "Générée", "ex/financeur_ETAT.xlsx": "Généré"}
    for name, word in books.items():
        for ws in openpyxl.load_workbook(tmp_path / name).worksheets:
            assert (ws.oddFooter.right.text or "").endswith(f"{word} le {today}"), (name, ws.title, ws.oddFooter.right.text)


def test_files_named_are_what_a_refusal_asks_to_check_not_a_folder(tmp_path, capsys):
    """`consolider notes.txt convention.pdf` (files, no folder) was refused with « Vérifiez le dossier
    indiqué », and two conventions of the 62 named with `--departement 59` with « Vérifiez le code donné
    à --departement et le dossier »: no folder was given; the files are what to check."""
    from acv_xl.cli import main

    exemples = Path(__file__).resolve().parents[1] / "workbooks" / "exemples"
    (tmp_path / "notes.txt").write_text("relancer Calais\n", encoding="utf-8")
    (tmp_path / "convention.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    out = str(tmp_path / "c.xlsx")
    assert main(["consolider", str(tmp_path / "notes.txt"), str(tmp_path / "convention.pdf"), "-o", out]) == 2
    err = capsys.readouterr().err
    assert "rien n'est écrit. Vérifiez les fichiers indiqués." in err and "dossier" not in err, err
    folder = tmp_path / "autres"
    folder.mkdir()
    for name in ("notes.xlsx", "budget.xlsx"):  # workbooks, none a convention
        openpyxl.Workbook().save(folder / name)
    assert main(["consolider", str(folder), "-o", out]) == 2
    assert "rien n'est écrit. Vérifiez le dossier indiqué." in capsys.readouterr().err
    both = [str(exemples / "arras.xlsx"), str(exemples / "calais.xlsx")]
    assert main(["consolider", *both, "-o", out, "--departement", "59"]) == 2
    err = capsys.readouterr().err
    assert "Vérifiez le code donné à --departement et les fichiers." in err and "dossier" not in err, err
    assert main(["consolider", *both, str(folder), "-o", out, "--departement", "59"]) == 2
    assert "Vérifiez le code donné à --departement et les fichiers et dossiers." in capsys.readouterr().err
    assert not (tmp_path / "c.xlsx").exists()


def test_one_file_refused_for_a_departement_says_what_to_do_with_it(tmp_path, capsys):
    """`consolider sans_departement.xlsx --departement 59` asked to check the code given and the file,
    where the workbook's département is what to fill in; `consolider casse.xlsx --departement 59` sent
    the user to « acv-xl valider » for a reason already known (the reader's STR-01), which `consolider`
    without --departement gives (CON-03): both now say it."""
    from acv_xl.cli import main

    exemples = Path(__file__).resolve().parents[1] / "workbooks" / "exemples"
    wb = openpyxl.load_workbook(exemples / "arras.xlsx")
    sheet, cell = layout.NAMED_BY_NAME["acv_departement"].sheet, layout.NAMED_BY_NAME["acv_departement"].cell
    wb[sheet][cell].value = None
    wb.save(tmp_path / "sans_departement.xlsx")
    out = str(tmp_path / "c.xlsx")
    assert main(["consolider", str(tmp_path / "sans_departement.xlsx"), "-o", out, "--departement", "59"]) == 2
    err = capsys.readouterr().err
    assert "« sans_departement.xlsx », n'a pas de département renseigné : rien n'est écrit. Renseignez le " \
           f"département du classeur (cellule « Département (code) », en {cell} de la feuille « {sheet} »), " \
           "puis relancez." in err and "--departement" not in err, err
    (tmp_path / "casse.xlsx").write_bytes(b"PK\x03\x04tronque")
    assert main(["consolider", str(tmp_path / "casse.xlsx"), "-o", out, "--departement", "59"]) == 2
    err = capsys.readouterr().err
    assert "le seul fichier trouvé, « casse.xlsx », est illisible (STR-01) : le fichier « casse.xlsx » est " \
           "endommagé ou incomplet (archive tronquée ou corrompue). Rien n'est écrit. Ouvrez le fichier dans " \
           "Excel" in err and "acv-xl valider" not in err, err
    assert not (tmp_path / "c.xlsx").exists()


def test_files_refused_for_a_departement_say_what_to_do_with_them(tmp_path, capsys):
    """Conventions none of which has a département, run with `--departement 59`, were refused with « aucun
    département renseigné … Vérifiez le code donné à --departement »: the départements are what to fill in.
    Files none of which could be read were said « aucun département renseigné » too, of what nobody read."""
    from acv_xl.cli import main

    exemples = Path(__file__).resolve().parents[1] / "workbooks" / "exemples"
    nc = layout.NAMED_BY_NAME["acv_departement"]
    for name in ("arras.xlsx", "calais.xlsx"):
        wb = openpyxl.load_workbook(exemples / name)
        wb[nc.sheet][nc.cell].value = None
        wb.save(tmp_path / name)
    for name in ("casse.xlsx", "vide.xlsx"):
        (tmp_path / name).write_bytes(b"PK\x03\x04tronque")
    out = str(tmp_path / "c.xlsx")

    def refusal(*names):
        assert main(["consolider", *(str(tmp_path / n) for n in names), "-o", out, "--departement", "59"]) == 2
        return capsys.readouterr().err

    err = refusal("arras.xlsx", "calais.xlsx")
    assert "(aucun département renseigné) : rien n'est écrit. Renseignez le département des classeurs (cellule " \
           f"« Département (code) » de la feuille « {nc.sheet} »), puis relancez." in err and "Vérifiez" not in err, err
    err = refusal("arras.xlsx", "casse.xlsx")
    assert "(aucun département renseigné ; 1 fichier illisible) : rien n'est écrit. Renseignez le département du " \
           "classeur « arras.xlsx »" in err, err
    err = refusal("casse.xlsx", "vide.xlsx")
    assert "parmi les 2 fichiers trouvés (2 fichiers illisibles) : rien n'est écrit. Consolidez sans --departement : " \
           "le classeur consolidé dit pourquoi les fichiers illisibles ne peuvent être lus." in err, err
    assert "département renseigné" not in err and not (tmp_path / "c.xlsx").exists()


def test_synthese_and_json_gap_and_acquired_totals_are_exact_past_10_26(tmp_path):
    """A convention of 100 000 000 000 000 030 534 533 120,01 € not financed: its shortfall and its
    acquired amount, added up in the default 28 digits, lost their cent, and the rounding that was left
    fell on the other side of a float's half-way: the Synthèse's total row and the JSON said
    100 000 000 000 000 013 354 663 936 € (17 179 869 184 € less) beside a row, and a cost total, of
    …030 534 533 120. Added up as every other total (`totals.add_up`): the row's amount, exactly."""
    big = Decimal("100000000000000030534533120.01")  # a float's exact integer (…120), and a cent
    t = Totaux(cout_total=big, financement_total=Decimal("0.00"))
    f = FileSummary(path="/d/a.xlsx", rel="a.xlsx", etat=ETAT_VALIDE, acv_id="ACV001", totaux=t, acquis=big)
    result = C.ConsolidationResult([f], judge([f]))
    out = tmp_path / "c.xlsx"
    W.write_workbook(result, out)
    ws = openpyxl.load_workbook(out, data_only=True)[Feuille.SYNTHESE]
    headers = [c.value for c in ws[3]]
    row, total = [c.value for c in ws[4]], [c.value for c in ws[5]]
    assert total[0] == "Total"
    for h in (H.MANQUE, H.ACQUIS):
        j = headers.index(h)
        assert total[j] == row[j] == float(big), h
    assert total[headers.index(H.COUT)] == float(big)
    data = W.to_json(result)["totaux"]
    assert data["manque"] == data["acquis"] == data["cout_total"] == float(big)


def test_titles_and_footers_name_the_one_departement_of_a_folder_consolidated_without_filter(tmp_path):
    """A folder holding the 62's conventions alone, consolidated without `--departement` (the référent's
    usual run), printed « tous départements » under every title and in every footer, and so did each
    financeur's extract: read as a national report. They name the départements of the counted
    conventions; « tous départements » is left for a report that counts none."""
    from acv_xl.outputs.examples import example_conventions, write_examples

    folder = tmp_path / "62"
    write_examples(folder)
    out, extraits = tmp_path / "c.xlsx", tmp_path / "extraits"
    C.consolidate([folder], out, jobs=1, par_financeur=extraits)
    paths = [out, *sorted(extraits.glob("*.xlsx"))]
    assert len(paths) > 2
    for path in paths:
        for ws in openpyxl.load_workbook(path):
            assert "— département 62 —" in ws["A2"].value, (path.name, ws.title, ws["A2"].value)
            assert "tous départements" not in (ws.oddFooter.left.text or ""), (path.name, ws.title)
    # a convention of the 59 beside them: both named, never one
    base = next(iter(example_conventions().values()))
    _write_variant(base, folder / "nord.xlsx", acv_id="ACV998", acv_departement="59", acv_libelle="Maubeuge")
    out2 = tmp_path / "c2.xlsx"
    C.consolidate([folder], out2, jobs=1)
    ws = openpyxl.load_workbook(out2)[Feuille.SYNTHESE]
    assert "— départements 59, 62 —" in ws["A2"].value, ws["A2"].value
    assert ws.oddFooter.left.text.endswith("consolidation, départements 59, 62"), ws.oddFooter.left.text


def test_par_annee_shows_the_years_without_financing_between_the_first_and_the_last(tmp_path):
    """The shipped examples plan nothing in 2023: `Par année` had no 2023 column, and the line of its
    chart went from 2022 straight to 2024 as if they were consecutive years — a trend drawn through a
    year with nothing planned. That year now has its column, empty, its total 0,00 €, a point at 0."""
    from acv_xl.outputs.examples import write_examples

    folder = tmp_path / "62"
    write_examples(folder)
    out = tmp_path / "c.xlsx"
    result = C.consolidate([folder], out, jobs=1)
    financed = sorted(result.totaux.par_annee)
    assert "2023" not in financed and "2022" in financed and "2024" in financed  # the case at hand
    ws = openpyxl.load_workbook(out, data_only=True)[Feuille.PAR_ANNEE]  # the totals as computed
    header = [c.value for c in ws[3]]
    years = header[2:header.index(H.NON_VENTILE)]
    assert years == [str(y) for y in range(int(financed[0]), int(financed[-1]) + 1)], years
    total = next(row for row in ws.iter_rows(min_row=4) if row[0].value == "Total")
    assert total[header.index("2023")].value == 0
    # a mistyped year far from the others never makes a column of each year between them
    assert W._years_without_gaps(["1924", "2024"]) == ["1924", "2024"]
    assert W._years_without_gaps(["2024", "2026", "à définir"]) == ["2024", "2025", "2026", "à définir"]


def test_a_backup_beside_a_workbook_whose_name_ends_with_a_space_is_that_workbooks(tmp_path):
    """« calais.xlsx␣ » (unzipped on Linux) is read as the workbook it is; « calais.xlsx.bak » beside it
    was still said « fichier non lu qui peut être un classeur », as if the commune's workbook were
    missing — by a walk and by a pattern alike. It is that workbook's backup: nothing to say."""
    from acv_xl import cli
    from acv_xl.outputs.consolidation_files import discover

    for name in ("calais.xlsx ", "calais.xlsx.bak", "lens.XLSM  ", "lens.xlsm.part", "arras.xlsx.bak"):
        (tmp_path / name).write_bytes(b"")
    passed_over: list = []
    files, _ = discover([tmp_path], passed_over=passed_over)
    assert [f.name for f in files] == ["calais.xlsx ", "lens.XLSM  "]
    assert [p.name for p, _ in passed_over] == ["arras.xlsx.bak"]
    assert [p.name for p, _ in cli._walked_matches([str(tmp_path / "*")])[2]] == ["arras.xlsx.bak"]


def test_a_file_not_read_whose_name_ends_with_a_space_is_said_as_without_it(tmp_path):
    """« calais.xlsx.part␣ » (unzipped on Linux from an archive made elsewhere) was said « « .part␣ »
    ajouté après « .xlsx » », never a download; « envoi.zip␣ » was not said at all, and
    « lens.xlsx.pdf␣ », a document, was said a file that may be a workbook. Their kind is read
    without the space, as a workbook's name is (`workbook_name`)."""
    from acv_xl.outputs.consolidation_files import discover

    for name in ("calais.xlsx.part ", "envoi.zip ", "lens.xlsx.pdf ", "arras.xlsm.lnk\t"):
        (tmp_path / name).write_bytes(b"")
    passed_over: list = []
    discover([tmp_path], passed_over=passed_over)
    assert [(p.name, why) for p, why in passed_over] == [
        ("arras.xlsm.lnk\t", "raccourci Windows, non suivi : remplacez-le par le classeur lui-même"),
        ("calais.xlsx.part ", "fichier en cours de téléchargement ou de copie ?"),
        ("envoi.zip ", "archive, non ouverte : extrayez-en les classeurs")]


def test_a_backup_a_unix_shells_star_names_with_its_workbook_is_left_out_as_by_the_walk(tmp_path, batch, capsys):
    """`consolider 62/*` in a Unix shell names « arras.xlsx.bak » (a whole copy of the workbook) with
    « arras.xlsx »: read, it was the same convention twice (CON-01, an error of the département, two
    more errors in `Anomalies`), and « arras.xlsx.msg » a file « pas un classeur Excel », where
    `consolider 62` leaves both unsaid as the workbook's. Left out the same; named, each is listed
    « non lu » with why — typed by hand, `consolider 62/arras.xlsx 62/arras.xlsx.bak` left the backup
    out without a word."""
    from acv_xl.cli import main

    folder = _small_folder(tmp_path, batch, n=2)
    first = sorted(folder.iterdir())[0]
    shutil.copy2(first, folder / (first.name + ".bak"))
    (folder / (first.name + ".msg")).write_bytes(b"\xd0\xcf\x11\xe0 courriel")

    def conventions(named: list[str], out: str) -> tuple[int, list[str], list]:
        status = main(["consolider", *named, "-o", str(tmp_path / f"{out}.xlsx"), "--json", str(tmp_path / f"{out}.json")])
        summary = json.loads((tmp_path / f"{out}.json").read_text(encoding="utf-8"))
        return status, [c["fichier"] for c in summary["conventions"]], summary["fichiers_non_lus"]

    walked = conventions([str(folder)], "a")
    capsys.readouterr()
    named = conventions(sorted(str(p) for p in folder.iterdir()), "b")  # what the shell hands over
    # saved as a workbook, as the line said to, the backup would be the same convention twice
    (said,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Attention, 2 fichiers non lus")]
    assert said.endswith("est lu à sa place).") and "Pour les consolider" not in said, said
    assert named[:2] == walked[:2] and walked[2] == []
    assert sorted(walked[1]) == sorted(p.name for p in folder.iterdir() if p.suffix == ".xlsx")
    beside = f" ; son classeur « {first.name} », indiqué aussi, est lu à sa place"
    assert named[2] == [{"fichier": first.name + ".bak", "motif": "« .bak » ajouté après « .xlsx »" + beside},
                        {"fichier": first.name + ".msg",
                         "motif": "message électronique, non ouvert" + beside}]


def test_a_backup_named_with_the_folder_holding_its_workbook_says_that_workbook_read(tmp_path):
    """`consolider 62 62/calais.xlsx.bak`: the backup named is listed « non lu », but its reason left
    out that « calais.xlsx », read from the folder walked, stands for it — and the line told to save it
    as a workbook, the same convention then counted twice. Said as when its workbook is named."""
    from acv_xl.outputs.consolidation_files import READ_IN_ITS_PLACE, discover

    for name in ("calais.xlsx", "calais.xlsx.bak", "lens.xlsx.part", "arras.xlsx", "arras.xlsx.lnk"):
        (tmp_path / name).write_bytes(b"")
    passed_over: list = []
    discover([tmp_path, tmp_path / "calais.xlsx.bak", tmp_path / "lens.xlsx.part", tmp_path / "arras.xlsx.lnk"],
             passed_over=passed_over)
    assert [(p.name, why) for p, why in passed_over] == [
        # never « remplacez-le par le classeur lui-même »: that workbook is read already
        ("arras.xlsx.lnk", f"raccourci Windows, non suivi ; son classeur « arras.xlsx », dans le dossier parcouru, "
                           f"{READ_IN_ITS_PLACE}"),
        ("calais.xlsx.bak", f"« .bak » ajouté après « .xlsx » ; son classeur « calais.xlsx », dans le dossier "
                            f"parcouru, {READ_IN_ITS_PLACE}"),
        ("lens.xlsx.part", "fichier en cours de téléchargement ou de copie ?")]


def test_a_lone_backup_a_unix_shells_star_names_is_not_read_as_by_the_walk(tmp_path, batch):
    """« lens.xlsx.BAK » without « lens.xlsx » beside it: `consolider 62` lists it « non lu » (a
    backup is an older state of a workbook; the message says to save it as one to have it counted),
    but a Unix shell's `62/*` named it and it was read, its convention counted: the département's
    totals depended on how the folder was named. Named, alone or with others, it is listed the same."""
    from acv_xl.cli import main

    folder = _small_folder(tmp_path, batch, n=2)
    lone = sorted(folder.iterdir())[0]
    lone.rename(folder / (lone.stem + ".xlsx.BAK"))

    def run(named: list[str], out: str) -> tuple[list[str], list, float]:
        assert main(["consolider", *named, "-o", str(tmp_path / f"{out}.xlsx"), "--json", str(tmp_path / f"{out}.json")]) in (0, 1)
        summary = json.loads((tmp_path / f"{out}.json").read_text(encoding="utf-8"))
        return [c["fichier"] for c in summary["conventions"]], summary["fichiers_non_lus"], summary["totaux"]

    walked = run([str(folder)], "a")
    assert walked[0] == [p.name for p in folder.iterdir() if p.suffix == ".xlsx"]
    assert [f["fichier"] for f in walked[1]] == [lone.stem + ".xlsx.BAK"]
    assert run(sorted(str(p) for p in folder.iterdir()), "b") == walked  # what the shell hands over
    # `62 62/*`, as zsh's `62/**/*` names a subfolder and its files (bash's with globstar): a folder walked, its files named
    assert run([str(folder), *sorted(str(p) for p in folder.iterdir())], "c") == walked


def test_a_name_ending_with_a_space_is_shown_with_it_said_and_kept_as_it_is_for_scripts(tmp_path, batch):
    """« calais.xlsx␣ » (unzipped on Linux) was shown « calais.xlsx » in `Synthèse`, `Lignes`,
    `Anomalies`, `Fichiers` and CON-01's message: a name nobody finds, under Windows none has. What
    the référent reads says the space; the JSON's `fichier` keeps the name, which a script opens."""
    folder = tmp_path / "62"
    folder.mkdir()
    kept = folder / "calais.xlsx "
    shutil.copy(sorted(batch["examples"])[1], kept)
    shutil.copy(kept, folder / "copie.xlsx")
    os.utime(folder / "copie.xlsx", (1_600_000_000, 1_600_000_000))  # older: « calais.xlsx␣ » is kept
    (folder / "lens.xlsm\t").write_bytes(b"")
    out, js = tmp_path / "o.xlsx", tmp_path / "o.json"
    r = C.consolidate([folder], out, json_path=js, jobs=1)
    assert [f.rel for f in r.files] == ["calais.xlsx ", "copie.xlsx", "lens.xlsm\t"]
    shown = "calais.xlsx (espace finale)"
    assert list(_sheet(out, Feuille.FICHIERS)[H.CHEMIN]) == [shown, "copie.xlsx", "lens.xlsm (caractère invisible final)"]
    assert set(_sheet(out, Feuille.SYNTHESE)[H.FICHIER]) == set(_sheet(out, Feuille.LIGNES)[H.FICHIER]) == {shown}
    anomalies = _sheet(out, Feuille.ANOMALIES)
    assert shown in set(anomalies[H.FICHIER]) and "calais.xlsx " not in set(anomalies[H.FICHIER])
    (con01,) = anomalies[anomalies[H.CODE] == "CON-01"][H.MESSAGE]
    assert f"figure aussi dans « {shown} »" in con01
    assert [c["fichier"] for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]] == \
        ["calais.xlsx ", "copie.xlsx", "lens.xlsm\t"]


def test_a_folder_named_inside_another_named_is_walked_once(tmp_path, monkeypatch):
    """`consolider 62 62/sous` (or `62/sous 62`) walked `sous` twice: its workbooks found once, but each
    file left unread there listed twice by the walk, and the folder listed twice. Each once."""
    from acv_xl.outputs import consolidation_files as F

    (tmp_path / "sous" / "bas").mkdir(parents=True)
    for name in ("arras.xlsx", "sous/lens.xlsx", "sous/envoi.zip", "sous/bas/calais.xlsx.part"):
        (tmp_path / name).write_bytes(b"")
    listed = []
    scandir = os.scandir
    monkeypatch.setattr(F.os, "scandir", lambda path: listed.append(path) or scandir(path))
    for named in ([tmp_path, tmp_path / "sous"], [tmp_path / "sous", tmp_path]):
        listed.clear()
        passed_over: list = []
        files, _ = F.discover(named, passed_over=passed_over)
        assert [f.name for f in files] == ["arras.xlsx", "lens.xlsx"]
        assert sorted(p.name for p, _ in passed_over) == ["calais.xlsx.part", "envoi.zip"]
        assert sorted(map(str, listed)) == sorted(map(str, [tmp_path, tmp_path / "sous", tmp_path / "sous" / "bas"]))


def test_a_bidirectional_control_in_a_file_name_is_shown_in_the_sheets_as_on_the_terminal(tmp_path, batch):
    """A file name holding U+202E (right-to-left override) was written as it is in `Fichiers`,
    `Synthèse`, `Lignes` and `Anomalies`: Excel showed the rest of the name reversed, a name the
    folder does not hold (the terminal shows it « \\u202e » already). Shown as its code; the JSON keeps
    the name, which a script opens."""
    folder = tmp_path / "62"
    folder.mkdir()
    name = "arras\u202exslx.snel.xlsx"
    shutil.copy(sorted(batch["examples"])[0], folder / name)
    out, js = tmp_path / "o.xlsx", tmp_path / "o.json"
    C.consolidate([folder], out, json_path=js, jobs=1)
    shown = "arras\\u202exslx.snel.xlsx"
    assert list(_sheet(out, Feuille.FICHIERS)[H.CHEMIN]) == [shown]
    for sheet in (Feuille.SYNTHESE, Feuille.LIGNES, Feuille.ANOMALIES):
        assert set(_sheet(out, sheet)[H.FICHIER]) == {shown}, sheet
    assert [c["fichier"] for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]] == [name]


def test_the_readers_message_names_a_file_as_the_sheets_show_it(tmp_path, batch):
    """An empty « vide.xlsx␣ » and an empty « lens », U+202E, « xslx.xlsx »: the `Fichier` column showed
    « vide.xlsx (espace finale) » and « lens\\u202exslx.xlsx », but the message beside it, the reader's
    (STR-01, and CON-03 quoting it), still named them raw — the space invisible, and the override
    turning the rest of the message round in Excel, the very name the column had defused. The
    message names each file as the column does."""
    folder = tmp_path / "62"
    folder.mkdir()
    shutil.copy(sorted(batch["examples"])[0], folder / "arras.xlsx")
    (folder / "vide.xlsx ").write_bytes(b"")
    (folder / "lens\u202exslx.xlsx").write_bytes(b"")
    out = tmp_path / "o.xlsx"
    C.consolidate([folder], out, jobs=1)
    anomalies = _sheet(out, Feuille.ANOMALIES)
    for shown in ("vide.xlsx (espace finale)", "lens\\u202exslx.xlsx"):
        messages = list(anomalies[anomalies[H.FICHIER] == shown][H.MESSAGE])
        assert len(messages) == 2 and all(f"« {shown} » est vide (0 octet)" in m for m in messages), messages
    assert not any("\u202e" in m or "« vide.xlsx  »" in m for m in anomalies[H.MESSAGE])


def test_the_attention_lines_name_a_file_left_unread_as_the_sheets_show_names(tmp_path, batch, capsys):
    """« calais␣ », a workbook without extension unzipped on Linux with its name's space, was said
    « Attention, 1 fichier non lu … : « calais  » » — the space one more blank before the guillemet,
    where every sheet and message now says « calais (espace finale) »; and the refusal when nothing
    else is found named it the same. Said as elsewhere; the JSON's `fichier` keeps the name, which a
    script opens."""
    folder = tmp_path / "62"
    folder.mkdir()
    shutil.copy(sorted(batch["examples"])[0], folder / "arras.xlsx")
    shutil.copy(folder / "arras.xlsx", folder / "calais ")
    js = tmp_path / "o.json"
    capsys.readouterr()
    C.run_consolider([folder], tmp_path / "o.xlsx", json_path=js, jobs=1)
    assert ("Attention, 1 fichier non lu qui peut être un classeur : « calais (espace finale) » (classeur sans "
            "extension .xlsx ?).") in capsys.readouterr().err
    assert json.loads(js.read_text(encoding="utf-8"))["fichiers_non_lus"] == [
        {"fichier": "calais ", "motif": "classeur sans extension .xlsx ?"}]
    (folder / "arras.xlsx").unlink()
    with pytest.raises(C.UsageError) as refused:
        C.consolidate([folder], tmp_path / "o2.xlsx", jobs=1)
    assert str(refused.value).endswith("non lu : « calais (espace finale) » (classeur sans extension .xlsx ?). "
                                       "Pour le consolider, enregistrez-le dans le dossier en classeur .xlsx ou .xlsm.")
    # a pattern typed in cmd, which acv-xl expands, matching it alone: its refusal names it the same
    from acv_xl import cli

    assert "qui ne désigne que « calais (espace finale) » (classeur sans extension .xlsx ?)." in \
        cli._walked_matches([str(folder / "cal*")])[1]


def test_lone_backup_named_refusal_says_how_to_consolidate_it(tmp_path, batch):
    """`consolider 62/calais.xlsx.bak`, the only copy named on purpose: it is no longer read, and the
    refusal (status 2) said only « non lu : … (« .bak » ajouté après « .xlsx ») » — never how to have
    it counted, as the warning of a run with other workbooks says. An archive keeps its own remedy."""
    folder = tmp_path / "62"
    folder.mkdir()
    shutil.copy(sorted(batch["examples"])[0], folder / "calais.xlsx.bak")
    with pytest.raises(C.UsageError) as refused:
        C.consolidate([folder / "calais.xlsx.bak"], tmp_path / "o.xlsx", jobs=1)
    assert str(refused.value).endswith("non lu : « calais.xlsx.bak » (« .bak » ajouté après « .xlsx »). Pour le "
                                       "consolider, enregistrez-le dans le dossier en classeur .xlsx ou .xlsm.")
    (folder / "calais.xlsx.bak").rename(folder / "conventions.zip")
    with pytest.raises(C.UsageError) as refused:
        C.consolidate([folder], tmp_path / "o.xlsx", jobs=1)
    assert str(refused.value).endswith("(archive, non ouverte : extrayez-en les classeurs).")
    assert not (tmp_path / "o.xlsx").exists()


def test_backups_named_with_their_folder_walked_list_that_folder_once(tmp_path, monkeypatch):
    """zsh's `62/**/*` names the folder 62 and every file in it: each backup named looked for its
    workbook by listing the whole folder again — n backups, n listings of n files, quadratic on a
    département's folder. Listed once (a count, never a time)."""
    from acv_xl.outputs import consolidation_files as F

    for i in range(30):
        (tmp_path / f"c{i}.xlsx").write_bytes(b"")
        (tmp_path / f"c{i}.xlsx.bak").write_bytes(b"")
    calls = []
    listing = F.folder_names
    monkeypatch.setattr(F, "folder_names", lambda folder: calls.append(folder) or listing(folder))
    passed_over: list = []
    F.discover([tmp_path, *sorted(tmp_path.glob("*.bak"))], passed_over=passed_over)
    assert len(passed_over) == 30 and all(why.endswith(F.READ_IN_ITS_PLACE) for _, why in passed_over)
    assert len(calls) <= 1, len(calls)


def test_a_backup_whose_name_ends_with_a_space_says_its_extension_without_it(tmp_path):
    """« boul.xlsx.bak␣ »: listed « « boul.xlsx.bak (espace finale) » (« .bak␣ » ajouté après
    « .xlsx ») », the space said with the name and then shown invisible in the reason."""
    from acv_xl.outputs.consolidation_files import discover

    (tmp_path / "boul.xlsx.bak ").write_bytes(b"")
    passed_over: list = []
    discover([tmp_path], passed_over=passed_over)
    assert [(p.name, why) for p, why in passed_over] == [("boul.xlsx.bak ", "« .bak » ajouté après « .xlsx »")]
