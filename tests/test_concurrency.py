"""`acv-xl serveur` runs its calls in a pool of threads sharing one process: the memories kept from
one workbook to the next (the fingerprint's written values, the reader's parsed template parts and
row makers, the guard's inflated parts, the date texts of the requests, the functions' parsed
tables) and the collector paused while reading are shared by requests validating different
workbooks and functions summing their plans at once. Each must get what it gets alone: same
findings, fingerprint, état and totals, same actions written into its workbook, same sums.

The memories are emptied first and bounded very low here, so that requests fill and empty them
under each other's feet, and threads switch every few microseconds."""

from __future__ import annotations

import gc
import json
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import openpyxl

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acv_xl.checks import fingerprint
from acv_xl.checks.validate import validate_file
from acv_xl.contract import layout
from acv_xl.contract import model
from acv_xl.reading import source_file, zip_guard
from udfs import cells, scripts, tables
from udfs import functions
from xlwings_payload import payload_from_xlsx, remote_book, table_values

ROOT = Path(__file__).resolve().parents[1]
EXEMPLES = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))
TODAY = date(2026, 11, 26)


def _variant(path: Path, out: Path, k: int) -> Path:
    """The example re-saved by openpyxl (other bytes for every part) with one amount changed."""
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if layout.T_FINANCEMENTS.name in ws.tables:
            first = ws[ws.tables[layout.T_FINANCEMENTS.name].ref.split(":")[0]]
            cell = ws.cell(first.row + 1, first.column + [c.attr for c in layout.T_FINANCEMENTS.columns].index("montant"))
            cell.value = (cell.value or 0) + 1000 * (k + 1)
    wb.save(out)
    return out


def _of_file(path: Path):
    r = validate_file(path)
    return ([f.as_json() for f in r.findings], r.empreinte, r.etat, repr(r.totaux), r.exit_code)


def _of_valider(payload_text: str):
    book = remote_book(json.loads(payload_text))  # each request parses its own JSON, as the server does
    report = scripts.run_valider(book, today=TODAY)
    return [f.as_json() for f in report.findings], report.empreinte, book.json()["actions"]


def _of_udf(plan_text: str):
    plan = json.loads(plan_text)  # a fresh list per call, as Office.js passes it
    return [functions.ACV_TOTAL_FINANCEUR(plan, code) for code in ("ETAT", "REGION", "CDC", "COMMUNE")]


def _forget_everything() -> None:
    fingerprint._TEXTS.clear()
    fingerprint._DATE_TEXTS.clear()
    zip_guard._INFLATED.clear()
    for memo in (source_file._table_entry.memo,
                 source_file._workbook_entries.memo, source_file._RELATIONSHIPS):
        memo.found.clear()
    model._ROW_MAKERS.clear()
    tables._CACHE.clear()
    cells._DATES.clear()


def test_requests_validating_different_workbooks_at_once_each_get_their_own_result(tmp_path, monkeypatch):
    assert len(EXEMPLES) >= 6  # the shipped examples (never a silent skip)
    files = list(EXEMPLES) + [_variant(p, tmp_path / f"variante-{k}.xlsx", k) for k, p in enumerate(EXEMPLES[:3])]
    payloads = {p.name: json.dumps(payload_from_xlsx(p, include=scripts.INCLUDE)) for p in files[:6]}
    tasks = [(("fichier", p.name), _of_file, p) for p in files]
    tasks += [(("valider", name), _of_valider, text) for name, text in payloads.items()]
    tasks += [(("udf", p.name), _of_udf, json.dumps(table_values(p, layout.T_FINANCEMENTS.name), default=str))
              for p in files]
    alone = {key: fn(arg) for key, fn, arg in tasks}  # one after the other: the reference
    assert len({json.dumps(v[0]) for v in alone.values()}) > 3  # different workbooks, different findings

    # tiny memories: emptied again and again while other requests read them
    monkeypatch.setattr(fingerprint, "_MAX_TEXTS", 40)
    monkeypatch.setattr(source_file, "_MEMO_SIZE", 3)
    monkeypatch.setattr(source_file, "_MEMO_ITEMS", 30)
    monkeypatch.setattr(zip_guard, "_MEMO_ENTRIES", 3)
    monkeypatch.setattr(cells, "_MAX_DATES", 5)
    monkeypatch.setattr(tables, "CACHE_SIZE", 2)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for round_ in range(3):
            _forget_everything()
            batch = tasks * 2
            random.Random(round_).shuffle(batch)
            with ThreadPoolExecutor(max_workers=6) as pool:
                futures = [(key, pool.submit(fn, arg)) for key, fn, arg in batch]
                for key, fut in futures:
                    assert fut.result() == alone[key], (round_, key)
    finally:
        sys.setswitchinterval(switch)
    assert gc.isenabled()  # the readers' pauses of the collector, overlapping, leave it as it was
