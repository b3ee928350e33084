"""The reading processes forked without a pool (`consolidation_worker`): one process's results in
order, several sharing the chunks, an exception raised where the batch runs, a death that only loses
its chunk, nothing left running."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from acv_xl.outputs import consolidation as C
from acv_xl.outputs import consolidation_worker as W
from acv_xl.outputs.examples import write_examples

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork: Linux only (a pool elsewhere)")


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> list[Path]:
    return write_examples(tmp_path_factory.mktemp("exemples"))


def _gone(pid: int) -> bool:
    """Reaped: no such process any more (a zombie would still answer)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _started(func, chunks) -> tuple[W.Forked, int]:
    one = W.start(func, chunks)
    assert one is not None and len(one.pids) == 1
    return one, one.pids[0]


def _outs(forked) -> list:
    """The results as they come, checked to be numbered in order (one process)."""
    got = list(forked.results())
    assert [k for k, _ in got] == list(range(len(got)))
    return [out for _, out in got]


def test_results_come_in_order_and_decimals_keep_their_digits():
    amounts = ["1.10", "-0.00", "5E+3", "32068317676.50"]
    one, pid = _started(lambda chunk: [(x, Decimal(x)) for x in chunk], [amounts[:2], amounts[2:3], amounts[3:]])
    got = _outs(one)
    one.close()
    assert [[x for x, _ in chunk] for chunk in got] == [amounts[:2], amounts[2:3], amounts[3:]]
    assert [str(d) for chunk in got for _, d in chunk] == amounts  # pickled whole: digits and sign kept
    assert _gone(pid)


def test_an_exception_of_the_reading_process_is_raised_here():
    def func(chunk):
        if chunk == [2]:
            raise ImportError("installation incomplète")
        return chunk

    one, pid = _started(func, [[1], [2], [3]])
    got = []
    with pytest.raises(ImportError, match="installation incomplète"):
        for _k, out in one.results():
            got.append(out)
    one.close()
    assert got == [[1]] and _gone(pid)


def test_a_process_that_dies_only_stops_the_results():
    def func(chunk):
        if chunk == [2]:
            os._exit(3)  # as a segfault in a native reader would
        return chunk

    one, pid = _started(func, [[1], [2], [3]])
    assert _outs(one) == [[1]]
    one.close()
    assert _gone(pid)


def test_several_processes_share_the_chunks_each_taken_once():
    """Each chunk read once, by whichever process is free (the pipe of chunk numbers), every result
    sent back, the processes reaped."""
    chunks = [[i] * (1 + i % 3) for i in range(40)]
    forked = W.start(lambda chunk: (os.getpid(), [x * 2 for x in chunk]), chunks, 2)
    assert forked is not None and len(forked.pids) == 2
    pids = forked.pids
    got = list(forked.results())
    forked.close()
    assert sorted(k for k, _ in got) == list(range(40))  # each once
    assert all(out == [x * 2 for x in chunks[k]] for k, (_, out) in got)
    assert {pid for _, (pid, _) in got} <= set(pids) and all(_gone(p) for p in pids)


def test_among_several_processes_one_that_dies_loses_only_its_chunk():
    def func(chunk):
        if chunk == [2]:
            os._exit(3)  # as a segfault in a native reader would
        time.sleep(0.01)
        return chunk

    forked = W.start(func, [[i] for i in range(8)], 2)
    pids = forked.pids
    got = sorted(forked.results())
    forked.close()
    assert got == [(k, [k]) for k in range(8) if k != 2] and all(_gone(p) for p in pids)


def test_among_several_processes_an_exception_is_raised_here_and_all_are_stopped():
    def func(chunk):
        if chunk == [3]:
            raise ImportError("installation incomplète")
        time.sleep(0.05)
        return chunk

    forked = W.start(func, [[i] for i in range(50)], 2)
    pids = forked.pids
    with pytest.raises(ImportError, match="installation incomplète"):
        list(forked.results())
    forked.close()
    assert all(_gone(p) for p in pids)


def test_more_chunks_than_the_pipe_of_numbers_holds_is_left_to_a_pool():
    assert W.start(lambda chunk: chunk, [[1]] * (W._TASKS_ROOM // W._RECORD + 1), 2) is None


def test_results_larger_than_the_pipe_wait_to_be_read():
    """Written while this process does something else (it decodes the register): the process waits
    for room, and everything arrives once read."""
    big = "x" * (3 * W.PIPE_ROOM)
    one, pid = _started(lambda chunk: [big] * len(chunk), [[1], [2, 3]])
    time.sleep(0.2)
    assert _outs(one) == [[big], [big, big]]
    one.close()
    assert _gone(pid)


def test_closed_before_the_end_the_process_is_stopped_and_reaped():
    one, pid = _started(lambda chunk: time.sleep(60), [[1]])
    t = time.monotonic()
    one.close()
    assert time.monotonic() - t < 5 and _gone(pid)


def test_not_forked_while_another_thread_runs():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert W.start(lambda chunk: chunk, [[1]]) is None
    finally:
        stop.set()
        other.join()


def test_ctrl_c_while_the_batch_decodes_stops_the_reading_process(examples, monkeypatch):
    """Ctrl-C in this process while the reading process reads: raised, the process stopped and
    reaped, the collector as it was."""
    pids = []
    real = C.start_readers

    def start(func, chunks, workers):
        one = real(func, chunks, workers)
        pids.extend(one.pids)
        return one

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(C, "start_readers", start)
    items = [(str(p), p.name) for p in examples]
    frozen = gc.get_freeze_count()  # Python 3.12 starts with objects of its own there
    with pytest.raises(KeyboardInterrupt):
        C.summarize_all(items, jobs=2, meanwhile=interrupted)
    assert len(pids) == 1 and _gone(pids[0])
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_one_process_or_a_pool_the_same_summaries(examples, monkeypatch):
    """The files read by the forked process and by a pool (where it cannot fork): the same summaries."""
    items = [(str(p), p.name) for p in examples]
    forked = C.summarize_all(items, jobs=2)
    monkeypatch.setattr(C, "start_readers", lambda func, chunks, workers: None)
    pooled = C.summarize_all(items, jobs=2)
    assert forked == pooled and [s.rel for s in forked] == [r for _, r in items]


def _ended(pid: int) -> bool:
    """No such process, or a zombie (ended, waiting for whoever adopted it to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def _all_end_when_killed(script: str) -> None:
    """Run `script` (it prints the pids of its reading processes, then waits), kill -9 it: each of
    them ends by itself within seconds."""
    import signal
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and not any(_ended(p) for p in workers)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while not all(_ended(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in workers if not _ended(p)]
    for p in left:  # never left running by the test itself
        os.kill(p, signal.SIGKILL)
    assert left == []


def test_the_pools_processes_end_when_the_consolidation_is_killed():
    """kill -9 of `consolider` (the task manager, a closed session) left its pool's processes waiting
    for work forever, each holding the other's end of the task queue: they now end by themselves."""
    _all_end_when_killed(
        "import time\nfrom acv_xl.outputs import consolidation as C\n"
        "pool = C._pool(2)\nfor _ in range(2): pool.submit(time.sleep, 120)\n"
        "time.sleep(0.5)\nprint(' '.join(map(str, pool._processes)), flush=True)\ntime.sleep(120)\n")


def test_the_reading_processes_end_when_the_consolidation_is_killed():
    """kill -9 of `consolider`: its reading processes forked without a pool find no one to send their
    next result to (or no chunk left) and end — none is left in memory."""
    _all_end_when_killed(
        "import time\nfrom acv_xl.outputs import consolidation_worker as W\n"
        "f = W.start(lambda chunk: time.sleep(0.2) or chunk, [[i] for i in range(500)], 2)\n"
        "print(' '.join(map(str, f.pids)), flush=True)\ntime.sleep(120)\n")


def test_a_pipe_of_numbers_smaller_than_asked_is_left_to_a_pool_not_waited_on(monkeypatch):
    """A pipe holds 64 KiB only within the user's allowance of pipe memory (past it Linux gives one
    page; a Windows pipe holds 4 KiB): the numbers written before any reader exists must never wait
    for room — that wait had no end, the consolidation hung before reading a file."""
    import fcntl
    import signal

    real_pipe = os.pipe

    def small_pipe():
        r, w = real_pipe()
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
        return r, w

    monkeypatch.setattr(W.os, "pipe", small_pipe)

    def hung(_sig, _frame):
        raise TimeoutError("start() waits for room in the pipe of chunk numbers")

    before = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        started = W.start(lambda c: c, list(range(2000)), workers=2)  # 8,000 bytes of numbers
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
    assert started is None  # made a pool by the caller
