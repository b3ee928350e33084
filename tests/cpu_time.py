"""Time bounds that a shared, noisy machine cannot break.

- CPU seconds of the calling thread (`time.thread_time`): neither the machine's other programs nor
  this process's other threads count, where wall time and `process_time` count one or the other.
- The least of a few rounds: a machine only ever adds time.
- The garbage collector held off while measuring: a full collection walks every object of the test
  process — hundreds of thousands in a whole suite run — so it charges the call that happens to
  trigger it with a cost that is the suite's, not the code's (a linear pairing once read 14 × for
  5 × its tranches in a whole run, 6 × alone).
- For « no quadratic scan », growth against a smaller run measured alongside, in interleaved rounds:
  a quadratic scan changes the ratio; a slower machine — the CI once counted 4,4 s of CPU for a
  validation taking 0,25 s alone — changes both runs alike."""

from __future__ import annotations

import gc
import math
import time
from typing import Any, Callable


def cpu_seconds(fn: Callable[[], Any], rounds: int = 1) -> float:
    """The least CPU time of this thread over `rounds` calls of `fn`."""
    best = math.inf
    enabled = gc.isenabled()
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            start = time.thread_time()
            fn()
            best = min(best, time.thread_time() - start)
        finally:
            if enabled:
                gc.enable()
    return best


def growth(small: Callable[[], Any], big: Callable[[], Any], rounds: int = 3) -> float:
    """CPU time of `big` ÷ that of `small`, each the least of `rounds` interleaved calls."""
    s = b = math.inf
    for _ in range(rounds):
        s = min(s, cpu_seconds(small))
        b = min(b, cpu_seconds(big))
    return b / max(s, 1e-6)
