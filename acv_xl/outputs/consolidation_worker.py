"""Reading processes forked without a pool: what `summarize_all` forks to read the files.

A pool (`concurrent.futures.ProcessPoolExecutor`) costs, before its processes read anything,
≈ 7 ms to import (`concurrent.futures.process`, `multiprocessing`) and ≈ 4 ms to start (queues, a
thread that feeds them, one that collects the results), then, in this process, a thread that wakes
for each result and hands it to the main one (≈ 45 ms of this process's time for 1,000 files in
two processes, taken from the readers on a machine whose cores they fill). Here: the numbers of
the chunks are written once into a pipe every process reads from — each takes the next chunk not
yet taken (a read of one 4-byte record from a pipe is whole on Linux: the pipe is locked for the
read), as a pool's queue would give it —, each process forked with `os.fork` sends each chunk's
result, pickled, through its own pipe as soon as it is done, and this process reads them as they
come (`select.poll`), once its own work is done. Where that is not safe (not Linux, another thread
running: a fork copies the locks it holds) or the fork fails, `start` returns None and the caller
makes its pool.

A process killed (out of memory, a native crash) stops sending: the chunks it had taken have no
result, and the caller reads their files again one by one. This process killed: the reading
processes find no chunk left or no one to send to, and end.
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import select
from decimal import Decimal
from typing import Any, Callable, Iterator, Sequence

from acv_xl.outputs.consolidation_files import ForkedChild, fork_with_pipe

# The room of each process's pipe for results not yet read (this process decodes the register
# meanwhile): the 10 summaries of a warm run fit in Linux's default 64 KiB only just, a process that
# must wait to write is a process that reads no further. Beyond this room it waits, and goes on once read.
PIPE_ROOM = 1 << 20
_RECORD = 4  # bytes of a chunk's number in the pipe of chunks
_TASKS_ROOM = 1 << 16  # what a pipe holds on Linux without asking: the numbers are all written before the fork
_HEADER = 8  # bytes of a result's length before it


class Forked:
    """Reading processes and the pipes they answer through: the result of each chunk as it comes,
    then the processes reaped."""

    def __init__(self, children: list[ForkedChild]):
        self.children = children

    @property
    def pids(self) -> list[int]:
        return [c._pid for c in self.children if c._pid is not None]

    def results(self) -> Iterator[tuple[int, Any]]:
        """(number of the chunk, its result) as the processes send them (one process: in order).
        They stop early for a process that died (killed, out of memory, a native crash): the chunks
        it had taken have none. An exception raised by the function (an `ImportError`, Ctrl-C in
        that process) is raised here."""
        open_ = {c._fd: c for c in self.children if c._fd is not None}
        buffers = {fd: bytearray() for fd in open_}
        poll = select.poll()
        for fd in open_:
            poll.register(fd, select.POLLIN)
        while open_:
            for fd, _event in poll.poll():
                if fd not in open_:
                    continue
                try:
                    data = os.read(fd, PIPE_ROOM)
                except InterruptedError:
                    continue
                except OSError:
                    data = b""
                buf = buffers[fd]
                if data:
                    buf += data
                    while len(buf) >= _HEADER and len(buf) >= _HEADER + (n := int.from_bytes(buf[:_HEADER], "little")):
                        kind, k, value = pickle.loads(memoryview(buf)[_HEADER:_HEADER + n])
                        del buf[:_HEADER + n]
                        if kind == "erreur":
                            raise value
                        yield k, value
                    continue
                # the end of this process's answers (done, or gone in the middle of a result: it has none)
                poll.unregister(fd)
                child = open_.pop(fd)
                os.close(fd)
                child._fd = None
                child._wait()

    def close(self) -> None:
        """Each process stopped if still running (its answers no longer wanted: Ctrl-C, an error) and reaped."""
        for c in self.children:
            c.close()


def _pickled(out: Any) -> bytes:
    """A result with its length before it. Decimals (≈ 75 a summary) reduced by `Decimal.__reduce__`
    found at once in the table, as the pool's pickler does (`consolidation._decimals_pickled_directly`):
    what pickle calls anyway."""
    f = io.BytesIO()
    f.write(bytes(_HEADER))
    p = pickle.Pickler(f, protocol=pickle.HIGHEST_PROTOCOL)
    p.dispatch_table = {**copyreg.dispatch_table, Decimal: Decimal.__reduce__}
    p.dump(out)
    data = f.getbuffer()
    data[:_HEADER] = (len(data) - _HEADER).to_bytes(_HEADER, "little")
    return bytes(data)


def _read_chunks(tasks: int, w: int, func: Callable[[Any], Any], chunks: Sequence[Any]) -> None:
    """A reading process: the next chunk not taken, its result sent, until no chunk is left."""
    with os.fdopen(w, "wb", buffering=0) as pipe:
        while len(got := os.read(tasks, _RECORD)) == _RECORD:
            k = int.from_bytes(got, "little")
            try:
                out = ("ok", k, func(chunks[k]))
            except BaseException as exc:  # noqa: BLE001 — raised in the main process, as a pool does
                out = ("erreur", k, exc)
            data = memoryview(_pickled(out))
            while data:  # a pipe takes what room it has, the rest once read
                data = data[pipe.write(data):]
            if out[0] == "erreur":
                break


def start(func: Callable[[Any], Any], chunks: Sequence[Any], workers: int = 1) -> Forked | None:
    """`workers` processes forked to run `func(chunk)` for the chunks, each taking the next one not
    yet taken; None where that is not safe (not Linux, another thread running) or not possible (no
    process left to the user, more chunks than the pipe of numbers holds at once): make a pool."""
    if len(chunks) * _RECORD > _TASKS_ROOM:
        return None
    try:
        tasks, feed = os.pipe()
    except OSError:
        return None
    # every chunk's number, written before any process reads, and its write end closed here before
    # the fork, so that a process finds the end once all are taken. Written without waiting: a pipe
    # holds 64 KiB only within the user's allowance of pipe memory (past it Linux gives one page; a
    # Windows pipe holds 4 KiB) and no one would ever read to make room — then a pool does the work
    numbers = b"".join(k.to_bytes(_RECORD, "little") for k in range(len(chunks)))
    try:
        os.set_blocking(feed, False)
        written = os.write(feed, numbers)
    except (OSError, AttributeError):  # no room at all, or no `set_blocking` (Windows before 3.12)
        written = -1
    finally:
        os.close(feed)
    if written != len(numbers):
        os.close(tasks)
        return None
    children: list[ForkedChild] = []
    try:
        for _ in range(max(1, workers)):
            if (forked := fork_with_pipe(PIPE_ROOM)) is None:
                break
            pid, r, w = forked
            if pid == 0:  # a reading process: its results into its pipe, then gone without Python's exit
                status = 1
                try:
                    os.close(r)
                    for c in children:  # the other processes' answers are not its own to hold open
                        os.close(c._fd)
                    _read_chunks(tasks, w, func, chunks)
                    status = 0
                except BaseException:  # noqa: BLE001 — the main process gone, an exception that does not pickle
                    pass
                finally:
                    os._exit(status)
            os.close(w)
            children.append(ForkedChild(pid, r))
    finally:
        os.close(tasks)
    return Forked(children) if children else None
