"""One reading process without a pool: what `summarize_all` forks when one process reads (fewer than
16 files: a warm run's changed files, a small département).

A pool (`concurrent.futures.ProcessPoolExecutor`) costs, before its process reads anything,
≈ 7 ms to import (`concurrent.futures.process`, `multiprocessing`) and ≈ 4 ms to start (queues, a
thread that feeds them, one that collects the results), on the path to the first file read as
well as the main process's. Here: `os.fork`, the chunks read in order, each chunk's result sent
back pickled as soon as it is done through a pipe, read by the main process once its own work is
done (≈ 2 ms in all). Where that is not safe (not Linux, another thread running: a fork copies
the locks it holds) or the fork fails, `start` returns None and the caller makes its pool.
"""

from __future__ import annotations

import copyreg
import os
import pickle
from decimal import Decimal
from typing import Any, Callable, Iterator, Sequence

from acv_xl.outputs.consolidation_files import ForkedChild, fork_with_pipe

# The pipe's room for results not yet read (the main process decodes the register meanwhile): the
# 10 summaries of a warm run fit in Linux's default 64 KiB only just, a process that must wait to
# write is a process that reads no further. Beyond this room it waits, and goes on once read.
PIPE_ROOM = 1 << 20


class Forked(ForkedChild):
    """A forked reading process: its results, chunk after chunk, then the process reaped."""

    def results(self) -> Iterator[Any]:
        """The result of each chunk, in order, as the process sends them; they stop early when the
        process died (killed, out of memory, a native crash): the chunks left have no result. An
        exception raised by the function (an `ImportError`, Ctrl-C in that process) is raised here."""
        assert self._fd is not None
        with os.fdopen(self._fd, "rb") as pipe:
            self._fd = None
            while True:
                try:
                    kind, value = pickle.load(pipe)
                except Exception:  # noqa: BLE001 — gone, or gone in the middle of a result: what follows has none
                    break
                if kind == "erreur":
                    raise value
                yield value
        self._wait()


def _pickler(pipe) -> pickle.Pickler:
    """Decimals (≈ 75 a summary) reduced by `Decimal.__reduce__` found at once in the table, as the
    pool's pickler does (`consolidation._decimals_pickled_directly`): what pickle calls anyway."""
    p = pickle.Pickler(pipe, protocol=pickle.HIGHEST_PROTOCOL)
    p.dispatch_table = {**copyreg.dispatch_table, Decimal: Decimal.__reduce__}
    return p


def start(func: Callable[[Any], Any], chunks: Sequence[Any]) -> Forked | None:
    """A process forked to run `func(chunk)` for each chunk in order; None where that is not safe (not
    Linux, another thread running) or not possible (no process left to the user): make a pool."""
    if (forked := fork_with_pipe(PIPE_ROOM)) is None:
        return None
    pid, r, w = forked
    if pid == 0:  # the reading process: each result into the pipe, then gone without Python's exit
        status = 1
        try:
            os.close(r)
            with os.fdopen(w, "wb") as pipe:
                pickler = _pickler(pipe)
                for chunk in chunks:
                    try:
                        out = ("ok", func(chunk))
                    except BaseException as exc:  # noqa: BLE001 — raised in the main process, as a pool does
                        out = ("erreur", exc)
                    pickler.dump(out)
                    pickler.clear_memo()  # each result whole on its own (read one at a time)
                    pipe.flush()
                    if out[0] == "erreur":
                        break
            status = 0
        except BaseException:  # noqa: BLE001 — the main process gone, an exception that does not pickle
            pass
        finally:
            os._exit(status)
    os.close(w)
    return Forked(pid, r)
