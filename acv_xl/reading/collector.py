"""The cyclic garbage collector paused while many objects without reference cycles are built (a
workbook's rows, a consolidation's summaries and sheets), then back as it was — whichever threads
pause it at once.

The Excel server reads several workbooks at once, each read pausing the collector. Each pause
checking and restoring `gc.isenabled()` on its own left the collector disabled for good when two
overlapped (one found it disabled by the other, which then enabled it, before disabling it in turn:
leaving, it restored « disabled »), and a server whose collector never runs keeps every reference
cycle for months. Here the first pause to begin disables it and the last to end enables it again,
if it was enabled before the first; the count is kept under a lock.
"""

from __future__ import annotations

import gc
import os
import threading
from contextlib import contextmanager

_LOCK = threading.Lock()
_pauses = 0  # pauses under way, in every thread
_enable_after = False  # the collector was enabled when the first of them began


def _new_lock() -> None:
    """In a forked process (a consolidation's workers): the lock anew, as the thread that held it at the
    fork, counting its pause, is not in this process to release it (each worker's pause waited for ever)."""
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX: processes are forked there only
    os.register_at_fork(after_in_child=_new_lock)


@contextmanager
def paused(settle: bool = False):
    """No cyclic collection inside the block (in this thread and any other meanwhile).

    `settle`: when the last pause ends, what was built meanwhile is moved as it is to the oldest
    generation before the collector is enabled again (`gc.freeze` then `gc.unfreeze`: two list
    splices), so that the young generation's collection, due at once after thousands of allocations,
    does not walk it all (≈ 3 ms after a 5,000-line plan, on every « Valider »); a cycle among those
    objects is still found by the next full collection. Not when objects are frozen already (a
    consolidation's forked worker inherits its parent's modules frozen, so that its collections
    never touch their shared pages): those stay frozen."""
    global _pauses, _enable_after
    with _LOCK:
        if _pauses == 0:
            _enable_after = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _LOCK:
            _pauses -= 1
            if _pauses == 0 and _enable_after:
                if settle and gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()
