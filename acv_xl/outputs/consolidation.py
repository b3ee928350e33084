"""`acv-xl consolider`: every workbook of a département in one consolidated workbook.

Flow: find the files (recursively) → (with a `SummaryCache`, the register: the summaries of the
files whose content it knows, the others read) → read and validate each in worker processes with the same
engine as `valider` (`acv_xl.checks.validate.validate_file`), each worker returning a compact, picklable
`FileSummary` → the CON rules over the batch (`rules.consolidation.judge`) → one workbook written
with XlsxWriter to a temp file in the output folder, then renamed (an interrupted run leaves no
half file) → optionally a JSON summary.

Choices:
- `Refusé` lines are listed in `Lignes` with « Compté » = « Non » (and lines whose amount did not
  parse); they are in no total, as in `acv_xl.checks.totals`.
- Only counted workbooks feed `Synthèse`, the matrices and `Lignes`; every file appears in
  `Fichiers` (with « Compté » and « Motif ») and every finding in `Anomalies`.
- Totals are the per-workbook `totals.compute` results, added together here (Decimal, to the cent).
- The workbook and the JSON summary are written by `consolidation_workbook`.
- A report of acv-xl left in the folder or named among the inputs (a previous consolidation, an
  annex, its PDF, a `--json` summary: `dossier/*` names them all) is recognised by the mark in its
  content and listed as « produit par acv-xl, non compté » — as a file of ours, not refused: the
  other files are consolidated, as for any file that is no convention —, never read as a
  convention; a workbook with nothing of the template (STR-11) as « pas un classeur ACV, non
  compté », and among several files one with neither a workbook's name nor content (`_not_workbooks`)
  as « pas un classeur Excel, non compté ». None adds a finding: they are not conventions.
- What may be written is decided by `output_guard.check_outputs` before anything is read: never
  one of the workbooks found, never a file that is not a report of ours without `--remplacer`.
- `--departement` matching no convention, or a folder holding no convention at all (only reports
  of ours and other workbooks), is a usage error (exit 2): nothing is written.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import chain, repeat
from operator import attrgetter, is_, itemgetter
from datetime import date, datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any, Callable, Iterable, Protocol, Sequence

from acv_xl.checks.rules.consolidation import (
    ACTION_FIELDS, LINE_FIELDS, TEMPLATE_FINANCEUR_COL, FileSummary, judge, norm_departement, reader_reason,
)
from acv_xl.checks.totals import ZERO, Totaux, combine  # noqa: F401 — combine re-exported for callers
from acv_xl.checks.rules.structure import CODE_ETRANGER
from acv_xl.checks.validate import ETAT_ILLISIBLE
from acv_xl.contract import file_kinds, layout
from acv_xl.contract.system_errors import resolved
from acv_xl.contract.values import EXCEL_MAX, EXCEL_ROWS, fmt_number, joined
from acv_xl.outputs.atomic import OutputError
from acv_xl.outputs.consolidation_extracts import ExtractsBusy, ExtractsOfAnother, way_out
from acv_xl.outputs.terminal import console as terminal_console, file_text, literal
from acv_xl.outputs.consolidation_files import (  # noqa: F401 — re-exported for callers
    EXTENSIONS,
    EXTENSIONS_REFUSEES,
    READ_IN_ITS_PLACE,
    Interrupted,
    Prefetch,
    UsageError,
    departement_option,
    _hidden,
    _identify,
    identify_kept,
    discover,
    workbook_name,
)
from acv_xl.outputs.consolidation_worker import start as start_readers
from acv_xl.outputs.consolidation_result import Anomalie, ConsolidationResult, said_with_why  # noqa: F401 — re-exported
from acv_xl.outputs.consolidation_workbook import (  # noqa: F401 — the workbook's names, re-exported for callers
    FEUILLES,
    MARQUE,
    MOTIF_CONSOLIDATION,
    MOTIF_ETRANGER,
    MOTIF_PAS_CLASSEUR,
    NON,
    OUI,
    SANS_ID,
    STATUT_LIBELLE,
    TABLES,
    Feuille,
    H,
    _atomic,
    gc_paused,
    to_json,
    write_workbook,
)
from acv_xl.outputs import program_end
from acv_xl.outputs.output_guard import (CONSOLIDATION, Output, check_outputs, derived_kind, file_above,
                                         folder_cannot_be_made, folder_like_a_file, is_derived_report)
from acv_xl.reading import collector
from acv_xl.reading.errors import shown_file


# ------------------------------------------------------------------ discovery (`consolidation_files`)
def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _rel(path: Path, base: Path) -> str:
    """The file as shown (sheets, JSON, register, summary): `file_text`, whose escapes keep two
    names that are not UTF-8 apart (the batch tells files apart by this text)."""
    text, root = str(path), str(base)
    # a file under an absolute folder, as found (POSIX names): the same text in C, where
    # `relative_to` makes paths (≈ 3 µs a file); « / » and « // » as roots are left to it
    if os.sep == "/" and root[:1] == "/" and root.strip("/") and text.startswith(root + "/"):
        return file_text(text[len(root) + 1:])
    try:
        rel = path.relative_to(base).as_posix()
    except ValueError:
        rel = text
    return file_text(rel)


# ------------------------------------------------------------------ worker side
# the national list a chunk of files is checked against, looked up once for the chunk
# (`_summarize_chunk`), not once a file (its path resolved and stat'ed: ≈ 25 µs); None: each looks
_CHUNK_REFERENCE: ContextVar[Any] = ContextVar("acv_consolidation_reference", default=None)


def _validate(path: Path, data: bytes | None = None):
    """The same engine as `valider` (imported here so that workers forked from the parent reuse it).
    `data`: the bytes `summarize` hashed (`identify_kept`), read rather than the disk a second time."""
    from acv_xl.checks.validate import validate_file

    return validate_file(path, _CHUNK_REFERENCE.get(), data=data)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    return s or None


def _is_consolidation(path: str) -> bool:
    """A report written by acv-xl (a previous consolidation saved in the folder, an annex, a `--json`
    summary, a PDF annex named among the inputs…): marked in its content, so that it is listed but
    never read as a convention. The mark is read within a few kilobytes, whatever the file claims
    (`output_guard.derived_kind`)."""
    return derived_kind(path) is not None


def summarize(path: str, rel: str) -> FileSummary:
    """Read, validate and boil down one workbook. Never raises: a crash is reported in the summary."""
    s = FileSummary(path=path, rel=rel)
    try:
        s.size, s.mtime, s.sha256, maybe_marked, data = identify_kept(path)  # the bytes hashed are the ones read
    except OSError as exc:  # STR-01 with the reason in French (CON-03 « illisible »), not an internal error
        from acv_xl.checks.validate import inaccessible

        _fill(s, inaccessible(path, exc))
        return s
    if maybe_marked and _is_consolidation(path):  # a workbook opened again only when it may be marked
        s.ignore = MOTIF_CONSOLIDATION
        return s
    try:
        report = _validate(Path(path), data)
        if [f.code for f in report.findings] == [CODE_ETRANGER]:  # nothing of the template: not a convention
            s.ignore = MOTIF_ETRANGER
            return s
        _fill(s, report)
    except ImportError:
        raise  # a broken installation is not a bad file: stop rather than call every file unreadable
    except Exception as exc:  # one file's crash never stops the batch: reported as CON-03
        s.etat, s.totaux, s.lines = ETAT_ILLISIBLE, None, ()
        s.crash = file_text(f"{type(exc).__name__} : {exc}")[:300]  # may quote a path not in UTF-8
    return s


def _date(v: Any) -> date | None:
    return v.date() if isinstance(v, datetime) else v if isinstance(v, date) else None


_TEMPLATE_CELLS = {n.name: (n.sheet, n.cell) for n in layout.NAMED_CELLS}


# What `_fill` reads of each non-empty financing line, in one C call per line
_LINE_ATTRS = attrgetter("numero", "financeur", "dispositif", "nature", "annee", "montant", "statut", "sheet",
                         "raw", "cells")
_ACTION_ATTRS = attrgetter("numero", "intitule", "axe", "maitre_ouvrage", "maturite", "cout_total")  # ACTION_FIELDS
_RAW = attrgetter("raw")
_IS_STR = str.__instancecheck__  # `isinstance(v, str)`, called from C


def _filled(lignes: list, first: str) -> list:
    """`[x for x in lignes if not x.is_empty()]`: every row at once when each has its first cell filled
    (a table as the reader gives it), found in C; else row by row."""
    try:
        firsts = list(map(dict.get, map(_RAW, lignes), repeat(first)))
    except TypeError:  # a row built in code with another mapping as `raw`
        return [x for x in lignes if not x.is_empty()]
    if not any(map(is_, firsts, repeat(None))) and all(map(str.strip, filter(_IS_STR, firsts))):
        return list(lignes)
    return [x for x in lignes if not x.is_empty()]


def _fill(s: FileSummary, report) -> None:
    from acv_xl.checks import totals

    s.findings = tuple(
        (f.code, f.gravite._value_, f.feuille, f.cellule, f.action, f.message, f.suggestion)  # `_value_`: `.value`
        for f in report.findings  # without the enum's property lookup
    )
    s.etat = report.etat
    s.empreinte, s.empreinte_stockee = report.empreinte, report.empreinte_stockee
    conv = report.convention
    if conv is None or report.etat == ETAT_ILLISIBLE:
        s.etat = ETAT_ILLISIBLE
        return
    names = conv.names
    value = {name: nv.value for name, nv in names.items() if nv}.get  # `conv.value`, one dict for the file
    s.acv_id = _text(value("acv_id"))
    s.libelle = _text(value("acv_libelle"))
    s.departement = _text(value("acv_departement"))
    s.epci = _text(value("acv_epci"))
    s.programme = _text(value("acv_programme"))
    s.version_modele = _text(value("acv_version_modele"))
    s.date_validation = _date(value("acv_date_validation"))
    s.date_convention = _date(value("acv_date_convention"))
    s.date_fin_initialisation = _date(value("acv_date_fin_initialisation"))
    s.date_fin_deploiement = _date(value("acv_date_fin_deploiement"))
    s.date_comite = _date(value("acv_date_comite"))
    # only the named cells found away from the template's place (`FileSummary.cell` knows the rest)
    s.cells = {name: (nv.sheet, nv.cell) for name, nv in names.items()
               if nv.cell and _TEMPLATE_CELLS.get(name) != (nv.sheet, nv.cell)}
    s.communes = tuple(c.commune for c in conv.communes if c.commune)
    filled = _filled(conv.actions, "numero")  # once (each `is_empty` walks a row)
    s.nb_actions = len(filled)
    s.totaux = report.totaux if report.totaux is not None else totals.compute(conv)
    counted_lines = totals.counted(conv.financements)  # what counts: `totals` alone says it
    counted = set(map(id, counted_lines))
    actions = {a.numero: a for a in conv.actions if a.numero}
    s.actions = tuple(map(_ACTION_ATTRS, filled))
    rows = _filled(conv.financements, "numero")
    if rows:  # one table, one Financeur column: kept only when away from the template's
        col = rows[0].cells.get("financeur", "").rstrip("0123456789")  # `lf.cell("financeur")`
        s.financeur_col = col if col != TEMPLATE_FINANCEUR_COL else ""
    action, refuse = actions.get, layout.STATUT_REFUSE
    s.lines = tuple([
        (numero or _text(raw.get("numero")),
         a.intitule if (a := action(numero)) is not None else None,
         a.axe if a is not None else None,
         financeur or _text(raw.get("financeur")),
         dispositif,
         nature or _text(raw.get("nature")),
         annee if annee is not None else _text(raw.get("annee")),
         montant,
         statut or _text(raw.get("statut")),
         (compte := id(lf) in counted),
         "" if compte else ("refusé" if statut == refuse else "montant illisible"),
         sheet,
         cells.get("montant", ""))  # `lf.cell("montant")`
        for lf, (numero, financeur, dispositif, nature, annee, montant, statut, sheet, raw, cells)
        in zip(rows, map(_LINE_ATTRS, rows))])
    s.acquis = totals.total(totals.counted(counted_lines, layout.STATUTS_ACQUIS))  # counted already: a filter


def _decimals_pickled_directly() -> None:
    """In a worker process, the summaries go back pickled by multiprocessing (`ForkingPickler`), each
    Decimal (≈ 75 a convention: amounts, totals) reduced by `Decimal.__reduce__` — what pickle ends up
    calling anyway, here found at once in the pickler's table rather than through `__reduce_ex__`'s
    lookups: a third less pickling time, the same bytes' meaning. Only where multiprocessing is loaded
    (a worker of the pool): reading in this process needs no pickling."""
    global _decimals_registered
    reduction = sys.modules.get("multiprocessing.reduction")
    if reduction is not None and not _decimals_registered:
        from decimal import Decimal

        reduction.ForkingPickler.register(Decimal, Decimal.__reduce__)
        _decimals_registered = True


_decimals_registered = False


def _summarize_chunk(chunk: list[tuple[str, str]]) -> list[FileSummary]:
    # Reading a file makes no reference cycles: the collector is paused for the chunk (≈ 5 % of
    # the reading time) and runs, if due, between chunks.
    from acv_xl.contract.reference import current

    _decimals_pickled_directly()

    try:
        reference = current()
    except Exception:  # noqa: BLE001 — unusable: each file says so, as before
        reference = None
    token = _CHUNK_REFERENCE.set(reference)
    try:
        with gc_paused():
            return [summarize(p, r) for p, r in chunk]
    finally:
        _CHUNK_REFERENCE.reset(token)


def _summarize_chunk_with_blocs(chunk: list[tuple[str, str]]) -> tuple[list[FileSummary], list[Any]]:
    """`_summarize_chunk`, and each workbook's blocks of `Lignes` and `Anomalies` made right after its
    summary (`consolidation_blocks`: in the workers, in parallel)."""
    from acv_xl.outputs.consolidation_blocks import made_by_workers

    def blocs(s: FileSummary) -> list[Any]:
        try:
            return made_by_workers(s)
        except Exception:  # noqa: BLE001 — made again when the workbook is written, which reports the error
            return []

    summaries = _summarize_chunk(chunk)
    with gc_paused():
        return summaries, list(map(blocs, summaries))


def _kept_blocs(summaries: list[FileSummary], made: list[Any], blocs: dict[tuple[str, str], Any]) -> list[FileSummary]:
    """The summaries of a chunk, their blocks put in `blocs` by (sheet, rel)."""
    for s, bs in zip(summaries, made):
        for b in bs:
            blocs[b.feuille, s.rel] = b
    return summaries


def _task(blocs: dict | None) -> Callable[[list[tuple[str, str]]], Any]:
    """What a reading process runs on a chunk: its summaries, and their blocks when `blocs` is given."""
    return _summarize_chunk if blocs is None else _summarize_chunk_with_blocs


def _take(chunk: list[int], out: Any, results: dict[int, FileSummary], blocs: dict | None) -> None:
    """A chunk's result (`_task`'s) put in `results` by index, and its blocks in `blocs`."""
    for i, s in zip(chunk, out if blocs is None else _kept_blocs(*out, blocs)):
        results[i] = s


def _chunk_results(chunk: list[tuple[str, str]], blocs: dict[tuple[str, str], Any] | None) -> list[FileSummary]:
    """A chunk read in this process, with its blocks when `blocs` is given."""
    out = _task(blocs)(chunk)
    return out if blocs is None else _kept_blocs(*out, blocs)


def _crashed(path: str, rel: str, why: str) -> FileSummary:
    s = FileSummary(path=path, rel=rel, crash=why)
    try:
        st = os.stat(path)
        s.size, s.mtime = st.st_size, st.st_mtime
        with open(path, "rb") as fh:
            s.sha256 = hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        pass
    return s


def _fork():
    """On Linux, workers forked from this process (the modules already imported, frozen for the
    collector): Python 3.14 makes « forkserver » the default, ≈ 200 ms more for the first workers.
    Elsewhere (Windows, macOS), the platform's default."""
    if sys.platform.startswith("linux"):
        import multiprocessing

        return multiprocessing.get_context("fork")
    return None


def _orphan_guard(parent: int) -> None:
    """Initializer of each pool process: one whose parent is killed (kill -9, the task manager, a
    closed session) would otherwise wait for work forever — its forked siblings keep the task
    queue's pipe open, so it never sees its end — and stay in memory until the machine restarts.
    A thread sees the parent gone (the process adopted by another) and ends it within a second."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="acv-xl-parent", daemon=True).start()


def _pool(workers: int):
    """A pool of `workers` reading processes, each ended if this process dies (`_orphan_guard`)."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=_fork(), initializer=_orphan_guard,
                               initargs=(os.getpid(),))


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _chunks(n: int, jobs: int) -> list[list[int]]:
    """Indexes 0…n-1 in chunks of up to 16 files (little IPC per file), shrinking towards the end
    so that no process is left with a long chunk while the others have finished (guided scheduling)."""
    chunks = []
    i = 0
    while i < n:
        size = max(1, min(16, (n - i) // (jobs * 4)))
        chunks.append(list(range(i, min(i + size, n))))
        i += size
    return chunks


# A worker costs ≈ 20 ms of CPU to fork, start and end whatever it reads, then ≈ 6 ms a file: for
# the 10 files of a warm run (read while this process decodes the register's ≈ 1,000 others, which
# takes longer), a second worker costs ≈ 25 ms of CPU and saves no time. From 8 files a worker;
# below, one reads them all — still in its own process, so that a file that kills it is reported
# alone.
FILES_PER_WORKER = 8


def _workers(n: int, jobs: int) -> int:
    return max(1, min(jobs, n // FILES_PER_WORKER))


def _prepare_workers(workers: int) -> None:
    """What every worker would otherwise do on its first file, done once here before the fork and
    inherited: the schema of `Finding` (≈ 7 ms with pydantic's plugin loader; this process needs it
    too for the CON findings) and, for several workers, the reading modules (≈ 10 ms each) and the
    national list (≈ 4 ms). A single worker (the few files a register did not know) imports and reads
    them itself, `read` and `fingerprint` included: this process, decoding the register meanwhile,
    never uses them, and importing them before the fork (≈ 4 ms) delayed it by as much without
    sparing the worker anything (forked that much later)."""
    from acv_xl.checks.findings import Finding

    Finding.model_rebuild()  # a no-op once built
    if workers > 1:
        from acv_xl.checks import fingerprint  # noqa: F401
        from acv_xl.contract.reference import current
        from acv_xl.reading import read  # noqa: F401
        from acv_xl.reading import source_file  # noqa: F401

        try:
            current()  # the national list, read once here rather than once a worker (kept by `load`)
        except Exception:  # noqa: BLE001 — unusable: each worker's files say so (`_summarize_chunk`)
            pass


@contextmanager
def _kept_whole(freeze: bool = True):
    """No collection while this process decodes the register's summaries and receives the
    workers' (hundreds of thousands of objects, all kept, no cycle among them), then all it holds
    frozen — given back, when `summarize_all` ends, to the oldest generation, which only a full
    collection walks. Otherwise each collection would walk them again: the first one after the
    decoding walked them all (≈ 60 ms of a warm run), and a cold run's collections walked its
    growing results ≈ 170 times (≈ 40 ms). `freeze` False: collections paused only (`_may_freeze`).
    Paused as the reader pauses it (`collector.paused`, counted under a lock): checking and restoring
    `gc.isenabled()` here on its own, a read of another thread ending meanwhile left it disabled."""
    with collector.paused():
        try:
            yield
        finally:
            if freeze:
                gc.freeze()


def _may_freeze() -> bool:
    """Whether this run may freeze what it holds: not when a caller froze objects of its own (a server
    forking its workers after start-up, a library caller), as `gc.unfreeze` would give back theirs too."""
    return gc.get_freeze_count() == 0


def _prepare_writing() -> None:
    """While the workers read, this process would only wait: it imports XlsxWriter meanwhile
    (≈ 15 ms), which writing the consolidated workbook needs next."""
    import xlsxwriter  # noqa: F401


def summarize_all(items: list[tuple[str, str]], jobs: int | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  meanwhile: Callable[[], None] | None = None,
                  blocs: dict[tuple[str, str], Any] | None = None) -> list[FileSummary]:
    """`summarize` every (path, rel) in worker processes; results in the order given.

    `meanwhile`: work for this process while the workers read (called once, before any result).
    `blocs`: given, each workbook's blocks of `Lignes` and `Anomalies` are made by its worker and put
    there, by (sheet, rel).
    `jobs` is a maximum: one worker per `FILES_PER_WORKER` files (see there).

    A worker process that dies (not an exception: those are caught in `summarize`) breaks the pool:
    the files it left unfinished are retried one by one, each in its own process, so that only the
    culprit is reported.
    """
    jobs = jobs or _default_jobs()
    n = len(items)
    done = 0
    results: dict[int, FileSummary] = {}

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress:
            progress(done, n)

    freeze = _may_freeze()
    if jobs <= 1 or n <= 1:
        if meanwhile is not None:
            try:
                with _kept_whole(freeze):
                    meanwhile()
            finally:
                if freeze:
                    gc.unfreeze()
        out: list[FileSummary] = []
        for i in range(0, n, 16):  # by chunks, as the workers do: the collector runs in between
            out.extend(_chunk_results(items[i:i + 16], blocs))
            tick(len(out) - done)
        return out

    workers = _workers(n, jobs)
    _prepare_workers(workers)
    chunks = _chunks(n, workers)
    retry: list[int] = []
    # Workers are forked before any progress-bar thread exists. What this process holds then (the
    # modules, mostly) is frozen for their time: the workers' collections never walk it, nor copy
    # the memory pages they share with this process.
    if freeze:
        gc.freeze()
    try:
        # processes forked without a pool (`consolidation_worker`), where they can be
        forked = start_readers(_task(blocs), [[items[i] for i in c] for c in chunks], workers)
        if forked is not None:
            try:
                with _kept_whole(freeze):  # forked by now: they do not inherit a paused collector
                    if meanwhile is not None:
                        meanwhile()
                    _prepare_writing()
                    done_chunks: set[int] = set()
                    for k, out in forked.results():
                        _take(chunks[k], out, results, blocs)
                        tick(len(chunks[k]))
                        done_chunks.add(k)
                    # a process died (killed, out of memory, native crash): the files of the chunks it had
                    retry.extend(i for k, c in enumerate(chunks) if k not in done_chunks for i in c)
            finally:
                forked.close()  # Ctrl-C or a broken installation: stopped, not waited for
        else:
            retry = _summarize_pooled(items, chunks, workers, results, tick, meanwhile, freeze, blocs)
    finally:
        if freeze:
            gc.unfreeze()
    if retry:  # imported only then (a pool: ≈ 7 ms)
        from concurrent.futures.process import BrokenProcessPool
    # Rare: one process per file, so that only the file that kills its process is reported.
    for i in sorted(retry):
        p, r = items[i]
        try:
            with _pool(1) as solo:
                results[i] = solo.submit(summarize, p, r).result()
        except BrokenProcessPool:
            results[i] = _crashed(p, r, "le processus de lecture s'est arrêté brutalement")
        tick(1)
    return [results[i] for i in range(n)]


def _summarize_pooled(items: list[tuple[str, str]], chunks: list[list[int]], workers: int,
                      results: dict[int, FileSummary], tick: Callable[[int], None],
                      meanwhile: Callable[[], None] | None, freeze: bool,
                      blocs: dict[tuple[str, str], Any] | None = None) -> list[int]:
    """`summarize_all`'s chunks read by a pool of `workers` processes (forked at the first submit);
    the indexes of the files a dead worker left, to read again one by one. `blocs`: as `summarize_all`'s."""
    # imported (only when there is a pool: a run that reads nothing, or reads in one process, never pays them)
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    retry: list[int] = []
    pool = _pool(min(workers, len(chunks)))
    try:
        futures = {pool.submit(_task(blocs), [items[i] for i in c]): c for c in chunks}
        with _kept_whole(freeze):  # every worker is forked by now: none inherits a paused collector
            if meanwhile is not None:
                meanwhile()
            _prepare_writing()
            for fut in as_completed(futures):
                c = futures[fut]
                try:
                    _take(c, fut.result(), results, blocs)
                    tick(len(c))
                except BrokenProcessPool:  # a worker died (killed, out of memory, native crash)
                    retry.extend(c)
    except BaseException:
        # Ctrl-C or a broken installation: do not wait for the queued files.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return retry


# ------------------------------------------------------------------ what a previous run already read
class SummaryCache(Protocol):
    """Summaries of files already read, by content (the register of `acv_xl.history` is one).

    `empty`: it holds nothing usable (a new register, new rules): every file is read, none is
    hashed beforehand; `known` tells which of these SHA-256 it holds (cheap); `lookup_all` returns
    the `FileSummary` recorded for each SHA-256 it can (read with the same rules), by SHA-256: the
    others are read. It may also have `lookup_blocs((sha256, rel), …)`: the blocks of `Lignes` and
    `Anomalies` it keeps for the summaries `lookup_all` just gave, by (sheet, rel)
    (`consolidation_blocks`); without it, they are made when the workbook is written. Defined here
    so that the batch takes it as a parameter and never imports the layer that implements it."""

    @property
    def empty(self) -> bool: ...

    def known(self, sha256s: Iterable[str]) -> set[str]: ...

    def lookup_all(self, sha256s: Iterable[str]) -> dict[str, FileSummary]: ...


# What a file's content may be when it is a workbook that cannot be read: a zip holding a workbook's parts,
# a damaged zip or old Office file (a convention half downloaded), or a format refused as such; or when it
# holds workbooks (a convention sent zipped, never extracted)
_MAYBE_WORKBOOK = frozenset({file_kinds.XLSX, file_kinds.XLSB, file_kinds.XLS, file_kinds.PROTECTED, file_kinds.ODS,
                             file_kinds.XML_2003, file_kinds.ZIP_DAMAGED, file_kinds.OLD_OFFICE_DAMAGED,
                             file_kinds.ZIP_OF_WORKBOOKS})


def _not_workbooks(summaries: list[FileSummary]) -> None:
    """Among several files, one that neither bears a workbook's name nor reads as a workbook is listed
    « pas un classeur Excel, non compté », as `consolider .` and `consolider *` typed in cmd leave it out
    of the walk: a Unix shell hands `*` over as every name of the folder, and notes.txt, a PDF, a Word
    letter beside the workbooks were each an unreadable convention (CON-03, an error of the département,
    status 1) — the same command giving another consolidation under macOS. Named alone, a file is the
    user's choice: it keeps its refusal, which says what it is (« un fichier texte (CSV) »…). A workbook
    under another name (« arras.docx ») is read as one, and a workbook's name that does not read stays
    « illisible »: a commune's convention. So does a file whose content may be a workbook's (`_MAYBE_WORKBOOK`:
    « calais.xlsx.part » half downloaded, « arras » sent without its extension and damaged): its name alone
    left it out, uncounted and unsaid. Its content is looked at only then: a few files, their first bytes.
    Excel's lock file (« ~$vieux.xlsx », left behind) bears no workbook's name, as for the walk."""
    if len(summaries) < 2:
        return
    for s in summaries:
        if s.etat == ETAT_ILLISIBLE and not s.ignore and not s.crash and len(s.findings) == 1 \
                and s.findings[0][0] == "STR-01" \
                and (not workbook_name(s.path) or os.path.basename(s.path).startswith("~$")) \
                and not _maybe_workbook(s.path):
            s.ignore, s.findings = MOTIF_PAS_CLASSEUR, ()


def _maybe_workbook(path: str) -> bool:
    try:
        if not S_ISREG(os.stat(path).st_mode):  # a pipe or a device, refused unopened: opened, a pipe would wait
            return False
        return file_kinds.kind_of_file(path) in _MAYBE_WORKBOOK
    except OSError:  # gone, or refused now: nothing says it is no workbook
        return True


def _summaries(items: list[tuple[str, str]], cache: SummaryCache | None, jobs: int | None,
               progress: Callable[[int, int], None] | None,
               identities: dict[str, tuple | None] | None = None,
               blocs: dict[tuple[str, str], Any] | None = None) -> tuple[list[FileSummary], set[str]]:
    """Every file's summary, from `cache` when it knows the file's content, else read; and the
    relative paths of the files taken from the cache. The changed files are handed to the
    workers first, and the known ones decoded while they read. `identities`: `_identify` of the
    files already computed (`consolidation_files.prefetch`), by path. `blocs`: filled with the blocks
    the workers made and those the cache holds for the files it knows (`lookup_blocs`)."""
    if cache is None or cache.empty:
        return summarize_all(items, jobs=jobs, progress=progress, blocs=blocs), set()
    n = len(items)
    ids: dict[int, tuple[int, float, str]] = {}
    identities = identities or {}
    for i, (path, _rel) in enumerate(items):
        try:
            size, mtime, sha, _custom = identities.get(path) or _identify(path)
        except OSError:
            continue  # read below: the worker reports it as it would without a cache
        ids[i] = (size, mtime, sha)
    held = cache.known({sha for _, _, sha in ids.values()})
    found: dict[int, FileSummary] = {}
    found_by_sha: dict[str, FileSummary] = {}

    @gc_paused()  # hundreds of thousands of values, no reference cycle
    def decode() -> None:
        summaries = cache.lookup_all(held)  # one query, not one per file
        for i, (size, mtime, sha) in ids.items():
            # the content is the one recorded; where it lies and when it was touched are this run's
            path, rel = items[i]
            if (first := found_by_sha.get(sha)) is not None:  # the same content in two places: a summary each
                found[i] = dataclasses.replace(first, path=path, rel=rel, size=size, mtime=mtime)
            elif (known := summaries.get(sha)) is not None:  # just decoded, this file's alone: completed in place
                known.path, known.rel, known.size, known.mtime = path, rel, size, mtime
                found[i] = found_by_sha[sha] = known
        if progress:
            progress(len(found), n)
        lookup_blocs = getattr(cache, "lookup_blocs", None)
        if blocs is not None and lookup_blocs is not None:
            blocs.update(lookup_blocs([(f.sha256, f.rel) for f in found.values()]))

    todo = [i for i in range(n) if i not in ids or ids[i][2] not in held]
    # `summarize_all` keeps what `decode` makes out of the collector's walks (`_kept_whole`)
    read = summarize_all([items[i] for i in todo], jobs=jobs, meanwhile=decode, blocs=blocs,
                         progress=(lambda d, _t: progress(len(found) + d, n)) if progress else None)
    results = dict(zip(todo, read))
    # held but not usable after all (a summary edited by hand, or sealed by another user): read as
    # well, their blocks made by the readers and the progress going on, as for the files read first
    late = [i for i in range(n) if i not in found and i not in results]
    if late:
        before = len(found) + len(todo)
        results.update(zip(late, summarize_all(
            [items[i] for i in late], jobs=jobs, blocs=blocs,
            progress=(lambda d, _t: progress(before + d, n)) if progress else None)))
    results.update(found)
    return [results[i] for i in range(n)], {items[i][1] for i in found}


class PendingRecord(Protocol):
    """A run being recorded while its outputs are written (`Recorder.begin`)."""

    def finish(self) -> Any: ...

    def abandon(self) -> None: ...


class Recorder(Protocol):
    """What records a run once its outputs are written (the register of `acv_xl.history`): `begin`
    starts recording (in a thread, its transaction left open) before the workbook is written, then
    the run calls `finish` once every output is written, or `abandon` if one could not be."""

    def begin(self, result: ConsolidationResult) -> PendingRecord: ...


# ------------------------------------------------------------------ entry points
_GIVE_CONVENTIONS = "Indiquez les classeurs des conventions ou leur dossier."


def _not_a_convention(s: FileSummary) -> str:
    """What a file left out of the count (`s.ignore`) is, said of the one file found."""
    return ("est un rapport produit par acv-xl, pas" if s.ignore == MOTIF_CONSOLIDATION else "n'est pas") \
        + " un classeur de convention ACV"


def _named(paths: Sequence[Path]) -> tuple[str, str]:
    """What the user named, to check (« le dossier », « les fichiers »…), and its participle's ending:
    `consolider *.xlsx` names files, never « le dossier »."""
    folders = sum(1 for p in paths if Path(p).is_dir())
    if folders == len(paths):
        return ("le dossier", "") if folders == 1 else ("les dossiers", "s")
    if not folders:
        return ("le fichier", "") if len(paths) == 1 else ("les fichiers", "s")
    return "les fichiers et dossiers", "s"


def _one_unreadable(only: FileSummary) -> str:
    """The one file found, unreadable: why, in the reader's words (as CON-03 says it without --departement)."""
    name = shown_file(only.rel)
    if only.crash:
        return (f"la lecture du seul fichier trouvé, « {name} », a échoué sur une erreur interne ({only.crash}) : "
                "rien n'est écrit. Signalez cette erreur à l'équipe acv-xl en joignant le fichier.")
    detail = reader_reason(only)
    if detail is None:
        return (f"le seul fichier trouvé, « {name} », est illisible : rien n'est écrit. « acv-xl valider » "
                "appliqué à ce fichier dit pourquoi.")
    said = detail[5].rstrip(".")
    return (f"le seul fichier trouvé, « {name} », est illisible ({detail[0]}) : {said[:1].lower()}{said[1:]}. "
            f"Rien n'est écrit. {detail[6] or 'Demandez à la commune un classeur .xlsx lisible.'}")


def _no_convention_of(departement: str, summaries: list[FileSummary], paths: Sequence[Path]) -> str:
    found = sorted({norm_departement(s.departement) for s in summaries if s.lisible and s.departement})
    unreadable = sum(1 for s in summaries if not s.ignore and not s.lisible)
    readable = [s for s in summaries if s.lisible and not s.ignore]
    # « aucun département renseigné » only of conventions read: of files none could read, nothing is known
    detail = [f"départements trouvés : {', '.join(found)}"] if found else ["aucun département renseigné"] if readable \
        else []
    if unreadable:
        detail.append(f"{unreadable} fichier{'s' if unreadable > 1 else ''} illisible{'s' if unreadable > 1 else ''}")
    if len(summaries) == 1:  # « parmi les 1 fichier trouvé »: said of the one file
        (only,) = summaries
        if not only.lisible:
            return _one_unreadable(only)
        if not found:  # the code may be right: the workbook is what to complete
            sheet, cell = only.cell("acv_departement")
            return (f"le seul fichier trouvé, « {shown_file(only.rel)} », n'a pas de département renseigné : rien "
                    "n'est écrit. "
                    f"Renseignez le département du classeur (cellule « {layout.NAMED_BY_NAME['acv_departement'].label} »,"
                    f" en {cell} de la feuille « {sheet} »), puis relancez.")
        return (f"le seul fichier trouvé, « {shown_file(only.rel)} », est une convention du département "
                f"{found[0]}, pas du {departement} : rien n'est écrit. Vérifiez le code donné à --departement et le fichier.")
    if found:
        then = f"Vérifiez le code donné à --departement et {_named(paths)[0]}."
    elif readable:  # the code may be right: the workbooks are what to complete
        whose = f"du classeur « {shown_file(readable[0].rel)} »" if len(readable) == 1 else "des classeurs"
        then = (f"Renseignez le département {whose} (cellule « {layout.NAMED_BY_NAME['acv_departement'].label} » "
                f"de la feuille « {layout.NAMED_BY_NAME['acv_departement'].sheet} »), puis relancez.")
    else:  # none read: without --departement, the consolidation says why of each (CON-03)
        then = ("Consolidez sans --departement : le classeur consolidé dit pourquoi "
                + ("le fichier illisible ne peut être lu." if unreadable == 1 else
                   "les fichiers illisibles ne peuvent être lus."))
    # « trouvés »: with the register, most were not read again
    return (f"aucune convention du département {departement} parmi les {len(summaries)} fichiers trouvés "
            f"({' ; '.join(detail)}) : rien n'est écrit. {then}")


def consolidate(paths: Sequence[Path], out: Path, departement: str | None = None, json_path: Path | None = None,
                jobs: int | None = None, progress: Callable[[int, int], None] | None = None,
                replace: bool = False, cache: SummaryCache | None = None, comite: str | None = None,
                sans_erreurs: bool = False, par_financeur: Path | None = None,
                record: Recorder | Callable[[ConsolidationResult], Any] | None = None,
                prefetched: Prefetch | None = None,
                not_taken: Sequence[tuple[Path, str]] = ()) -> ConsolidationResult:
    """Consolidate the workbooks found under `paths` into `out` (and `json_path`).

    `replace`: the user's `--remplacer`; `cache`: summaries of files already read (the register);
    `comite`: the comité's label (its date, if it holds one, is the readiness date); `sans_erreurs`:
    count only the workbooks with no error; `par_financeur`: a folder for one extract per financeur;
    `record`: records the run, committed once every output is written: a `Recorder` (the register:
    its inserts run while the workbook is written), or a function called with the result then;
    `prefetched`: the files and their SHA-256 found ahead (`consolidation_files.prefetch`);
    `not_taken`: files a pattern matched and left that may be workbooks, with what they look like
    (`consolidation_files.not_taken_why`), said with those a walk leaves.

    Raises `UsageError` (French message) for bad arguments, an output the guard refuses
    (`output_guard.check_outputs`), when no workbook is found, or when `departement` matches no
    convention (nothing is written then).
    """
    t0 = time.perf_counter()
    out = Path(out)
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs doit être un nombre entier supérieur ou égal à 1.")
    departement = departement_option(departement)  # « 062 » is 62 everywhere: titles, financeur names, the register
    if par_financeur is not None and (problem := extracts_folder_problem(par_financeur)):
        raise UsageError(problem)
    phases: dict[str, float] = {}

    def lap(name: str, since: list[float] = [t0]) -> None:  # noqa: B006 — a local stopwatch
        now = time.perf_counter()
        phases[name] = now - since[0]
        since[0] = now

    ahead = prefetched.result(paths) if prefetched is not None else None
    shown: dict[Path, Path] = {}
    skipped: list[tuple[Path, str]] = []
    passed_over: list[tuple[Path, str]] = []
    files, base = (ahead[0], ahead[1]) if ahead is not None else discover(paths, shown=shown, skipped=skipped,
                                                                          passed_over=passed_over)
    if ahead is not None:
        shown, skipped, passed_over = ahead[3], prefetched.skipped, prefetched.passed_over
    # a folder named by the user itself that could not be listed is the base: its path, not « . »
    not_walked = [(_rel(folder, base) if folder != base else file_text(str(folder)), why) for folder, why in skipped]
    outputs = [Output(out, (".xlsx",), "-o", CONSOLIDATION)] + (
        [Output(Path(json_path), (".json",), "--json", CONSOLIDATION)] if json_path else [])
    # a previous report of ours among the files found is replaced, never read; anything else found is an input
    written = {resolved(o.path) for o in outputs}
    # and by what it is: on a disk that ignores case (macOS, a Windows share mounted) `-o consolidation.xlsx`
    # is the « Consolidation.xlsx » found, whose path `resolve` does not respell (refused as a file read)
    ids = {(st.st_dev, st.st_ino) for o in outputs if (st := _stat(o.path)) is not None}
    input_ids = None  # each file's (device, inode), looked up once: here and by `check_outputs`
    if ids:
        input_ids = {f: (st.st_dev, st.st_ino) if (st := _stat(f)) is not None else None for f in files}
        written |= {f for f, i in input_ids.items() if i in ids}
    if par_financeur is not None:  # the previous run's extracts in that folder: replaced, never read
        from acv_xl.outputs.consolidation_extracts import own_extracts

        written |= own_extracts(Path(par_financeur), files)
    # (a file matched by a pattern and found in a folder walked too: said once)
    maybe = dict([*((resolved(Path(p).parent) / Path(p).name, why) for p, why in not_taken), *passed_over])
    if maybe:  # one read all the same — named too (`consolider 62 62/calais`), or a link's target — is no « non lu »,
        # nor an output of this run (`--json 62/recap.xlsx.json`, there from the previous one)
        read = written.union(files)  # (`written`: this run's outputs, resolved, among others)
        maybe = {path: why for path, why in maybe.items() if resolved(path) not in read}
    not_read = [(_rel(path, base), why) for path, why in sorted(maybe.items(), key=lambda x: str(x[0]).lower())]
    mine = {f for f in files if f in written and is_derived_report(f)}
    inputs = [f for f in files if f not in mine]
    if problem := check_outputs(inputs, outputs, replace=replace, resolved=True, input_ids=input_ids):
        if par_financeur is not None and not replace:
            # a refusal --remplacer lifts: what else it would replace is said now, not after it is given
            from acv_xl.outputs.consolidation_extracts import replace_would_also

            problem = replace_would_also(problem, inputs, outputs, departement, Path(par_financeur), input_ids)
        raise UsageError(problem)
    files = [f for f in files if f not in written]
    if not files:
        where = ", ".join(f"« {p} »" for p in paths)
        raise UsageError(f"aucun classeur .xlsx ou .xlsm trouvé dans {where}"
                         + (f" ; non parcouru{'s' if len(not_walked) > 1 else ''} : "
                            f"{', '.join(said_with_why(not_walked))}" if not_walked else "")
                         + (f" ; non lu{'s' if len(not_read) > 1 else ''} : {_first(said_with_why(not_read))}" if not_read else "")
                         # a backup named alone, the only copy: how to have it consolidated, as `_not_read` says
                         # (unless a reason says its own: an archive « extrayez-en les classeurs »)
                         + "." + (_save_advice(len(not_read), _to_save(not_read))
                                  if not any(" : " in why for _, why in not_read) else ""))
    items = [(str(shown.get(f, f)), _rel(shown.get(f, f), base)) for f in files]
    lap("recherche")
    blocs: dict[tuple[str, str], Any] = {}
    summaries, reused = _summaries(items, cache, jobs, progress, ahead[2] if ahead is not None else None, blocs)
    _not_workbooks(summaries)
    lap("lecture et contrôle")
    verdicts = judge(summaries, departement, sans_erreurs=sans_erreurs)
    if all(s.ignore for s in summaries):  # only reports of ours, other workbooks and files: nothing to consolidate,
        # whatever the --departement (never « aucun département renseigné », a code to check)
        if len(summaries) == 1:  # « parmi les 1 fichier trouvé »: said of the one file, with what it is
            (only,) = summaries
            raise UsageError(f"le seul fichier trouvé, « {shown_file(only.rel)} », {_not_a_convention(only)} : "
                             f"rien n'est écrit. {_GIVE_CONVENTIONS}")
        named, ending = _named(paths)
        raise UsageError(f"aucun classeur de convention ACV parmi les {len(summaries)} fichiers trouvés (rapports "
                         f"d'acv-xl, autres classeurs ou fichiers) : rien n'est écrit. Vérifiez {named} "
                         f"indiqué{ending}.")
    # none of the département's: a mistyped code. Some, none counted (each with errors under --sans-erreurs):
    # consolidated as without --departement, never « aucune convention du département 62 (trouvés : 62) »
    if departement is not None and not any(v.compte for v in verdicts) \
            and not any(s.lisible and norm_departement(s.departement) == norm_departement(departement)
                        for s in summaries):
        raise UsageError(_no_convention_of(departement, summaries, paths))
    result = ConsolidationResult(summaries, verdicts, departement=departement, out=out, json_path=json_path,
                                 base=base, phases=phases, comite=comite, sans_erreurs=sans_erreurs,
                                 reused=reused, folders_not_walked=not_walked, files_not_read=not_read,
                                 blocs=blocs)
    lap("règles CON")
    if (problem := _beyond_excel(result) or _beyond_rows(result)) is not None:
        raise UsageError(problem)
    groups = None
    if par_financeur is not None:  # refused before anything is written, like every other output
        from acv_xl.outputs.consolidation_extracts import extract_lines, extracts_problem

        # every counted line, before anything is written: those the register kept are decoded here
        # (`register.StoredLines`), where one that does not decode stops the run with nothing written
        groups = extract_lines(result)
        # the files found (resolved) and their (device, inode) if looked up already: not looked up again
        if problem := extracts_problem(result, Path(par_financeur), files, replace, outputs, groups,
                                       input_ids=input_ids):
            raise UsageError(problem)
    pending = None
    written: list[str] = []
    begun = False  # the extracts: some of them replaced, or not one (the folder keeps the last run's)
    # each output's file before this run writes it: on a Ctrl-C, the one the system put in place is
    # said written, though the run had not yet noted it (between the rename and the next line)
    before = {p: _file_id(p) for p in (out, json_path) if p is not None}
    try:
        if record is not None and hasattr(record, "begin"):  # (in the `try`: never a thread left to itself)
            pending = record.begin(result)
        write_workbook(result, out)
        lap("écriture du classeur")
        written.append("le classeur consolidé")
        if json_path is not None:
            data = json.dumps(to_json(result), ensure_ascii=False, indent=2)
            _atomic(Path(json_path), lambda tmp: tmp.write_text(data, encoding="utf-8"))
            written.append("son résumé JSON")
            lap("écriture du JSON")
        if par_financeur is not None:
            from acv_xl.outputs.consolidation_extracts import (
                extract_paths,
                extracts_lock,
                other_departement_problem,
                remove_stale_extracts,
                write_extracts,
            )

            with extracts_lock(Path(par_financeur)):  # never two runs' extracts mixed in one folder
                # asked again: another département's run may have written there while this one waited
                if not replace and (problem := other_departement_problem(result, Path(par_financeur), waited=True)):
                    raise ExtractsOfAnother(problem)
                before.update((p, _file_id(p)) for p in extract_paths(groups, Path(par_financeur)))
                begun = True
                result.extracts = write_extracts(result, Path(par_financeur), groups)
                result.extracts_removed, result.extracts_left = remove_stale_extracts(Path(par_financeur),
                                                                                      result.extracts)
            lap("extraits par financeur")
    except BaseException as exc:
        if pending is not None:  # an output missing: the register as it was
            pending.abandon()
        if isinstance(exc, ExtractsBusy):  # another run's extracts in that folder: this one's not written
            raise UsageError(_written_before(str(exc), written, False, record is not None, "attendez la fin de "
                                             "l'autre consolidation, puis relancez celle-ci")) from None
        if isinstance(exc, ExtractsOfAnother):  # written there since the check: this run's not written
            raise UsageError(_written_before(str(exc), written, False, record is not None,
                                             way_out(result, Path(par_financeur), again=True))) from None
        if type(exc) is KeyboardInterrupt:
            extracts, stale = _in_place(written, before, out, json_path, par_financeur, begun)
            if written:  # « interrompu. » alone: the workbook written taken for the whole run, the extracts
                # half of this comité's and half of the last one's
                raise Interrupted(_written_before("interrompu.", written, extracts, record is not None,
                                                  "relancez la consolidation", json=json_path is not None,
                                                  stale=stale)) from None
        if written and isinstance(exc, OutputError):  # a full disk after the workbook: what is written, and what is not, said
            raise UsageError(_written_before(str(exc), written, (None if par_financeur is None else begun),
                                             record is not None)) from None  # (the error names the JSON it was)
        raise
    if par_financeur is not None:
        written.append("les extraits par financeur")
    try:
        if pending is not None:
            pending.finish()  # (the inserts' thread waited for: the longest wait of a run once its files are written)
        elif record is not None:
            record(result)
    except KeyboardInterrupt:  # nothing recorded (else the command line says it recorded): the files are written
        raise Interrupted(_written_before("interrompu.", written, None, True, "relancez la consolidation")) from None
    if record is not None:
        lap("registre")
    result.duree = time.perf_counter() - t0
    return result


def _file_id(path: Path) -> tuple[int, int, int] | None:
    """What tells a file from the one an atomic write puts in its place (a new inode, a new time)."""
    st = _stat(path)
    return None if st is None else (st.st_dev, st.st_ino, st.st_mtime_ns)


def _in_place(written: list[str], before: dict[Path, tuple[int, int, int] | None], out: Path,
              json_path: Path | None, par_financeur: Path | None, begun: bool) -> tuple[bool | None, list[Path]]:
    """On a Ctrl-C while the outputs are written: `written` completed with those the system put in
    place since `before` (`_file_id` of each before the run), which the run had not noted yet — a
    Ctrl-C between a rename and the next line said a file in place « pas écrit ». Returns the
    extracts' state for `_written_before` (None when all are written, or none asked; else whether
    their writing had begun) and the previous run's extracts still there once all of this run's are
    (a Ctrl-C as they were removed said this run's « incomplets »: those left are named)."""
    def replaced(path: Path) -> bool:
        return (now := _file_id(path)) is not None and now != before.get(path)

    for path, what in ((out, "le classeur consolidé"), (json_path, "son résumé JSON")):
        if path is not None and what not in written and replaced(path):
            written.append(what)
    if par_financeur is None:
        return None, []
    targets = [p for p in before if p not in (out, json_path)]
    if not begun or not all(map(replaced, targets)):
        return begun, []
    from acv_xl.outputs.consolidation_extracts import stale_extracts

    written.append("les extraits par financeur")
    return None, stale_extracts(Path(par_financeur), targets)


def _written_before(error: str, written: list[str], extracts: bool | None, record: bool,
                    remedy: str = "corrigez la cause, puis relancez la consolidation", json: bool = False,
                    stale: Sequence[Path] = ()) -> str:
    """An output that failed after the consolidated workbook was written: the error, then what the
    folder now holds (« rien n'est écrit » would be false) and what is missing. `extracts`: None when
    none were asked, else whether their writing had begun. `remedy`: what the user does next (another
    run holding the extracts' folder has no cause to correct, only an end to wait for). `stale`: the
    previous run's extracts this one had yet to remove."""
    done = joined(written)
    done = done[:1].upper() + done[1:] + (" sont écrits" if len(written) > 1 else " est écrit")
    # `json`: asked for (a Ctrl-C as it is written left the last comité's, if any, under its name)
    missing = (["son résumé JSON n'est pas écrit"] if json and "son résumé JSON" not in written else []) + \
        ([] if extracts is None else ["les extraits par financeur sont incomplets"] if extracts else
         ["les extraits par financeur ne sont pas écrits"]) + \
        ([_left_said(stale)] if stale else []) + \
        (["la consolidation n'est pas enregistrée dans le registre"] if record else [])
    suite = f" ; {joined(missing)}" if missing else ""
    return f"{error} {done}{suite} : {remedy}."


_ROWS_MAX = EXCEL_ROWS - 4  # under the title, the subtitle and the header, above the total row


def _beyond_rows(result: ConsolidationResult) -> str | None:
    """Why the run cannot be written (more lines or findings than a sheet has rows), in French; None
    when it can. Past 1 048 576 rows the lines were written beyond Excel's grid — a workbook Excel
    must repair, dropping them — and the run said nothing; a consolidation cut there would no longer
    add up, so nothing is written."""
    lignes = sum(len(f.lines) for f in result.counted)
    anomalies = sum(len(f.findings) for f in result.files) + sum(len(v.findings) for v in result.verdicts)
    for n, feuille, quoi in ((lignes, Feuille.LIGNES, "lignes de financement"), (anomalies, Feuille.ANOMALIES,
                                                                                 "constats")):
        if n > _ROWS_MAX:
            return (f"les {fmt_number(n)} {quoi} des classeurs dépassent les {fmt_number(EXCEL_ROWS)} lignes d'une "
                    f"feuille Excel (feuille {feuille}) : rien n'est écrit. Consolidez le dossier en plusieurs fois "
                    "(par département avec --departement, ou par sous-dossier).")
    return None


def _beyond_excel(result: ConsolidationResult) -> str | None:
    """Why the run cannot be written (amounts no spreadsheet holds), in French; None when it can."""
    low, high = -EXCEL_MAX, EXCEL_MAX

    def beyond(values) -> bool:  # an infinite Decimal is outside the range too; None is no amount
        try:
            return not all(low <= v <= high for v in values if v is not None)
        except ArithmeticError:  # a NaN is compared with nothing
            return True

    def amounts(t: Totaux) -> list:
        return [t.cout_total, t.financement_total, t.ecart, *t.par_financeur.values(), *t.par_axe.values(),
                *t.par_annee.values(), *t.par_statut.values(), *t.par_action.values()]

    montant, cout = itemgetter(LINE_FIELDS.index("montant")), itemgetter(ACTION_FIELDS.index("cout_total"))

    def of(f: FileSummary) -> Iterable:
        return chain(amounts(f.totaux), (f.acquis,), map(montant, f.lines), map(cout, f.actions))

    # A summary the register gave passed this test in the run that recorded it (a run that fails it
    # records nothing, and the register gives only summaries sealed by this user): the files read now.
    read = [f for f in result.files if f.totaux is not None and f.rel not in result.reused]
    # every amount at once, compared in C (≈ 70,000 for 1,000 workbooks: half the time of a test each);
    # the workbooks to name are looked for only when one is out of range
    every = list(filter(None, chain.from_iterable(map(of, read))))  # None: no amount; 0: in range
    try:
        inside = not every or (low <= min(every) and max(every) <= high)
    except ArithmeticError:  # a NaN is compared with nothing
        inside = False
    files = [] if inside else [f.rel for f in read if beyond(list(of(f)))]
    if not files and not beyond(amounts(result.totaux)):
        return None
    if not files:
        return ("les montants des classeurs, additionnés, dépassent le plus grand nombre qu'un tableur représente "
                "(9,99 × 10^307) : rien n'est écrit. Corrigez les montants démesurés (feuilles Plan de financement "
                "et Fiches-actions), puis relancez.")
    named = ", ".join(f"« {shown_file(r)} »" for r in files[:5]) + (" …" if len(files) > 5 else "")
    return (f"montants démesurés dans {named}, au-delà du plus grand nombre qu'un tableur représente "
            "(9,99 × 10^307) : rien n'est écrit. Corrigez ces montants ou retirez ces classeurs du dossier, puis "
            "relancez.")


def _wants_rich(stream) -> bool:
    """A terminal, or rich's own switches to force one (as rich decides)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty or bool(os.environ.get("FORCE_COLOR")) or os.environ.get("TTY_COMPATIBLE") == "1"


def _removed(paths: list[Path]) -> str:
    s = "s" if len(paths) > 1 else ""
    return (f"{len(paths)} extrait{s} d'une consolidation précédente supprimé{s} (financeur absent de "
            f"celle-ci) : {', '.join(p.name for p in paths)}")


def _not_walked(folders: list[str]) -> str:
    s = "s" if len(folders) > 1 else ""
    return f"Attention, {fmt_number(len(folders))} dossier{s} non parcouru{s} où des classeurs peuvent manquer : {', '.join(folders)}."


def _first(names: list[str], shown: int = 5) -> str:
    """The first names of a list that may be long (a folder of a thousand backups), and how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" et {fmt_number(more)} autre{'s' if more > 1 else ''}" if more > 0 else "")


def _not_read(files: list[str], to_save: int | None = None) -> str:
    """The files not read, and what to do to have them consolidated: for `to_save` of them (all when
    None) — never for a backup whose workbook, named too, is read in its place (`consolider 62/*`
    names « calais.xlsx.bak » with « calais.xlsx »): saving it as a workbook would count it twice."""
    advice = _save_advice(len(files), len(files) if to_save is None else to_save)
    if len(files) == 1:
        return f"Attention, 1 fichier non lu qui peut être un classeur : {files[0]}.{advice}"
    return (f"Attention, {fmt_number(len(files))} fichiers non lus qui peuvent être des classeurs : "
            f"{_first(files)}.{advice}")


def _to_save(not_read: Sequence[tuple[Any, str]]) -> int:
    """How many of the files not read ((file, why)) to save as a workbook to have them consolidated:
    not a backup whose workbook, named too, is read in its place."""
    return sum(not why.endswith(READ_IN_ITS_PLACE) for _, why in not_read)


def _save_advice(files: int, to_save: int) -> str:
    """What to do to have `to_save` of `files` files not read consolidated (`_not_read`), a sentence."""
    if to_save == 0:
        return ""
    if to_save < files:
        return (" Pour consolider ceux dont le classeur n'est pas lu, enregistrez chacun dans le dossier en classeur "
                ".xlsx ou .xlsm.")
    if files == 1:
        return " Pour le consolider, enregistrez-le dans le dossier en classeur .xlsx ou .xlsm."
    return " Pour les consolider, enregistrez chacun dans le dossier en classeur .xlsx ou .xlsm."


def _left_said(paths: Sequence[Path]) -> str:
    """The previous run's extracts still in their folder, said in a sentence (« un extrait … reste … (« … ») »)."""
    names = ", ".join(f"« {p.name} »" for p in paths)
    if len(paths) > 1:
        return (f"{fmt_number(len(paths))} extraits d'une consolidation précédente (financeur absent de celle-ci) "
                f"restent dans le dossier des extraits ({names})")
    return f"un extrait d'une consolidation précédente (financeur absent de celle-ci) reste dans le dossier des extraits ({names})"


def _left(paths: list[Path]) -> str:
    if len(paths) > 1:
        return (f"{fmt_number(len(paths))} extraits d'une consolidation précédente (financeur absent de celle-ci) n'ont pas pu "
                f"être supprimés (ouverts dans Excel ?) : {', '.join(p.name for p in paths)} ; supprimez-les")
    return (f"un extrait d'une consolidation précédente (financeur absent de celle-ci) n'a pas pu être supprimé "
            f"(ouvert dans Excel ?) : {paths[0].name} ; supprimez-le")


def extracts_folder_problem(par_financeur: str | Path) -> str | None:
    """Why `--par-financeur` cannot be the folder of the extracts (a French sentence), or None."""
    folder = Path(par_financeur)
    # a broken or looping link too (exists() is False): mkdir would fail once the workbook is written
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        return f"--par-financeur attend un dossier : « {folder} » n'en est pas un. Choisissez un autre nom de dossier."
    if not resolved(folder).parent.is_dir():
        if (above := file_above(folder)) is not None:
            return (f"« {above} » est un fichier, pas un dossier (pour --par-financeur « {folder} »). "
                    "Choisissez un autre dossier.")
        return (f"le dossier parent de --par-financeur n'existe pas : « {folder.parent} ». Créez-le d'abord, ou "
                "choisissez un autre dossier.")
    return (folder_like_a_file("le dossier de --par-financeur", folder)
            or folder_cannot_be_made("le dossier de --par-financeur", folder))  # before the reading, not once written


def run_consolider(paths: Sequence[Path], out: Path, departement: str | None = None, json_path: Path | None = None,
                   jobs: int | None = None, console=None, replace: bool = False, **options) -> int:
    """The `acv-xl consolider` command: progress bar on a terminal, one French summary line, exit status.

    `console`: a rich console (default: one on stderr when it is a terminal, else plain `print`,
    which spares a batch run the import of rich)."""
    if console is None and _wants_rich(sys.stderr):
        console = terminal_console(stderr=True)
    # paths and messages may hold control characters: shown literally (`terminal.literal`)
    say = (lambda text: console.print(literal(text), markup=False, soft_wrap=True)) if console is not None \
        else (lambda text: print(literal(text), file=sys.stderr, flush=True))
    bar = None
    progress = None
    if console is not None and console.is_terminal:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        bar = Progress(TextColumn("Lecture et contrôle des classeurs"), BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn(), console=console, transient=True)
        task = None

        def progress(done: int, total: int) -> None:
            nonlocal task
            if task is None:
                bar.start()  # started at the first result, after the worker processes are forked
                task = bar.add_task("", total=total)
            bar.update(task, completed=done)

    try:
        result = consolidate(paths, out, departement=departement, json_path=json_path, jobs=jobs, progress=progress,
                             replace=replace, **options)  # cache, comite, sans_erreurs, par_financeur, record
    except (UsageError, OutputError) as exc:
        say(f"acv-xl : {exc}")
        return 2
    except PermissionError as exc:
        say(f"acv-xl : permission refusée : {exc.filename or out} (le fichier est peut-être ouvert "
            "dans Excel ; fermez-le et relancez).")
        return 2
    finally:
        if bar is not None:
            bar.stop()
    program_end.keep(result)  # freed with the program, when it ends next (the command line)
    duree = f"{result.duree:.1f}".replace(".", ",")
    if result.not_walked:
        say(_not_walked(result.not_walked))
    if result.not_read:
        say(_not_read(result.not_read, _to_save(result.files_not_read)))
    say(f"Consolidation : {result.summary_line(with_reused=True)}" + (f" ; résumé JSON : {json_path}" if json_path else "")
        + (f" ; {len(result.extracts)} extrait{'s' if len(result.extracts) > 1 else ''} par financeur dans "
           f"{options['par_financeur']}" if result.extracts else "")
        + (f" ; {_removed(result.extracts_removed)}" if result.extracts_removed else "")
        + (f" ; {_left(result.extracts_left)}" if result.extracts_left else "")
        + (" ; enregistrée dans le registre" if options.get("record") else "")
        + f" ({duree} s).")
    return result.exit_code
