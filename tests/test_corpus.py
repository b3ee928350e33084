"""The bad and odd files corpus, through the command line as a user would run it.

Every file — unreadable, foreign, or an ACV workbook with a typical defect — goes through
`acv-xl valider --format json` in one process with a memory ceiling: each gives its expected code,
the statuses are right, nothing prints a traceback, and the whole corpus takes seconds.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _read_workbooks import Err, Formula, build, rewrite_part, sheet_part, table_from_layout
from test_bad_files import CORPUS as UNREADABLE

from acv_xl.contract import layout
from acv_xl.outputs.examples import FAUTES_ATTENDUES, example_conventions
from acv_xl.outputs.template import reference_dispositifs, reference_financeurs

FIN, ACT, IND, GOU = layout.T_FINANCEMENTS, layout.T_ACTIONS, layout.T_INDICATEURS, layout.T_GOUVERNANCE
MEMORY_CEILING = 2 << 30  # bytes of address space for the whole run


def _clean():
    name = next(n for n in example_conventions() if n not in FAUTES_ATTENDUES)
    return example_conventions()[name]


def _tables(conv) -> dict[str, list[dict]]:
    out = {}
    for t in layout.TABLES:
        if t is layout.T_CONTROLES:
            continue
        rows = conv.rows(t.name)
        if not rows and t is layout.T_FINANCEURS:
            rows = reference_financeurs()
        if not rows and t is layout.T_DISPOSITIFS:
            rows = reference_dispositifs()
        out[t.name] = [dict(r.raw) for r in rows]
    return out


def _names(conv) -> dict:
    return {nc.name: (nc.sheet, nc.cell, conv.names[nc.name].raw if nc.name in conv.names else None)
            for nc in layout.NAMED_CELLS}


def _write(path: Path, tables: dict[str, list[dict]], names: dict, *, headers: dict | None = None,
           anchors: dict | None = None, sheets=layout.SHEETS, merges=(), skip=()) -> Path:
    specs = [table_from_layout(layout.TABLES_BY_NAME[n], rows, headers=(headers or {}).get(n),
                               anchor=(anchors or {}).get(n))
             for n, rows in tables.items() if n not in skip and layout.TABLES_BY_NAME[n].sheet in sheets]
    return build(path, specs, {k: v for k, v in names.items() if v[0] in sheets}, sheets=sheets, merges=merges)


def _first_fin_row(tables) -> int:
    """Sheet row of the first financing line as `build` writes it (header at the layout anchor)."""
    return int(FIN.anchor[1:]) + 1


def odd_files(d: Path) -> list[tuple[Path, set[str], int]]:
    """ACV workbooks with one typical defect each: (path, codes that must be reported, status)."""
    conv = _clean()
    base_t, base_n = _tables(conv), _names(conv)
    out = []

    def case(name: str, codes: set[str], status: int, mutate=None, **kw):
        t = {k: [dict(r) for r in v] for k, v in base_t.items()}
        n = dict(base_n)
        if mutate:
            mutate(t, n)
        out.append((_write(d / f"{name}.xlsx", t, n, **kw), codes, status))

    case("propre", set(), 0)
    case("feuille_manquante", {"STR-03"}, 1, sheets=[s for s in layout.SHEETS if s != IND.sheet])
    case("entete_renomme", {"STR-04"}, 1,
         headers={FIN.name: [("Montant" if h == FIN.header("montant") else h) for h in FIN.headers]})
    case("tableau_deplace", set(), 0, anchors={FIN.name: "D12", ACT.name: "C8"})
    case("colonnes_inserees", set(), 0,
         headers={FIN.name: ["Note interne", *FIN.headers[:3], "Visa", *FIN.headers[3:]]})
    case("tableau_absent", {"STR-04"}, 1, skip={GOU.name})
    # XlsxWriter, like Excel, refuses to merge inside a table; files from other tools have them
    case("cellules_fusionnees", {"STR-08"}, 0, merges=[(FIN.sheet, "Z90:AA90")])
    r = _first_fin_row(base_t)
    rewrite_part(out[-1][0], sheet_part(FIN.sheet),
                 lambda x: x.replace(b'<mergeCells count="1"><mergeCell ref="Z90:AA90"/>',
                                     f'<mergeCells count="2"><mergeCell ref="I{r}:J{r}"/><mergeCell ref="Z90:AA90"/>'.encode()))

    def empty_rows(t, n):
        t[FIN.name][2:2] = [{}, {}]
    case("lignes_vides", set(), 0, empty_rows)

    def ref_error(t, n):
        t[FIN.name][0]["montant"] = Err("#REF!")
    case("erreur_ref", {"STR-06"}, 1, ref_error)

    def no_cache(t, n):
        t[FIN.name][0]["montant"] = Formula("=1000+1000", "")
    case("formule_sans_valeur", {"STR-07"}, 1, no_cache)

    def date_text(t, n):
        t[ACT.name][0]["date_debut"] = "15/03/2024"
    case("date_en_texte", {"ACT-06"}, 1, date_text)

    def comma_text(t, n):
        t[FIN.name][0]["montant"] = "1 234,50"
    case("virgule_en_texte", {"FIN-03"}, 1, comma_text)

    def negative(t, n):
        t[FIN.name][0]["montant"] = -5000.0
    case("montant_negatif", {"FIN-03"}, 1, negative)

    def duplicate(t, n):
        t[ACT.name][1]["numero"] = t[ACT.name][0]["numero"]
    case("numero_en_double", {"ACT-01"}, 1, duplicate)

    def unknown_funder(t, n):
        t[FIN.name][0]["financeur"] = "FEDER"
    case("financeur_inconnu", {"FIN-02"}, 1, unknown_funder)

    def year_text(t, n):
        t[FIN.name][0]["annee"] = "deux mille vingt-quatre"
    case("annee_en_texte", {"FIN-04"}, 1, year_text)

    def bad_axe(t, n):
        t[ACT.name][0]["axe"] = "Commerce"
    case("axe_invalide", {"ACT-03"}, 1, bad_axe)

    def newer(t, n):
        sheet, cell, _ = n["acv_version_modele"]
        n["acv_version_modele"] = (sheet, cell, "2099.1")
    case("version_future", {"STR-05"}, 1, newer)

    def big_plan(t, n):
        first = t[FIN.name][0]
        t[FIN.name] += [{**first, "montant": 1.0 + i / 100, "annee": 2024 + i % 3} for i in range(5000)]
    case("plan_5000_lignes", {"FIN-05"}, 1, big_plan)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    files = [(f(d), {code}, 2) for f, code, _ in UNREADABLE] + odd_files(d)
    assert len(files) >= 30
    return files


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING, MEMORY_CEILING))


def _valider(*paths: Path):
    return subprocess.run([sys.executable, "-m", "acv_xl", "valider", "--format", "json", *map(str, paths)],
                          capture_output=True, text=True, timeout=300, preexec_fn=_limit_memory,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def _status(report: dict) -> int:
    if any(c["code"] in ("STR-01", "STR-02") for c in report["constats"]):
        return 2
    return 0 if report["valide"] else 1


def test_whole_corpus_in_one_run(corpus):
    t0 = time.perf_counter()
    proc = _valider(*(p for p, _, _ in corpus))
    elapsed = time.perf_counter() - t0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.returncode == 2  # the worst status wins: unreadable files are in the corpus
    reports = json.loads(proc.stdout)
    assert [r["fichier"] for r in reports] == [str(p) for p, _, _ in corpus]
    for (path, codes, status), report in zip(corpus, reports):
        found = {c["code"] for c in report["constats"]}
        assert codes <= found, (path.name, found)
        assert _status(report) == status, (path.name, report["constats"][:3])
        if status == 2:
            assert found == codes  # an unreadable file: that one finding and nothing else
        for c in report["constats"]:
            assert c["message"] and c["gravite"] in ("erreur", "avertissement", "information")
            if c["feuille"]:
                assert c["feuille"] in layout.SHEETS and c["cellule"], (path.name, c)
    assert elapsed < 60, f"corpus validated in {elapsed:.1f} s"


@pytest.mark.parametrize("name, status", [("propre", 0), ("erreur_ref", 1), ("vide", 2)])
def test_exit_status_file_by_file(corpus, name, status):
    path = next(p for p, _, _ in corpus if p.stem == name)
    proc = _valider(path)
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
