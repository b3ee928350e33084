"""What the machine lets `acv-xl serveur` use, checked against `--processus` before anything starts.

Each process is a whole server: ≈ 130 Mo once warmed up, plus the requests it computes at once
(their bodies weigh together at most `--max-corps`, and a computation takes about 40 times its
body: `server_calls.Calls._admit`), and its threads (`--fils`, plus 3 of its own: measured). A
service unit caps the memory and the threads of all its processes together (`MemoryMax=4G`,
`TasksMax=256` in deploy/acv-xl-serveur.service), a container too (`--memory`, `--pids-limit`):
past them, the system killed a process in the middle of the communes' calls, or a call failed for
want of a thread (« Erreur interne »). Those caps are read from the process's control
group (cgroup v2, or v1), the tightest along its path.
"""

from __future__ import annotations

import os
from pathlib import Path

from acv_xl.contract.values import fmt_number

PROCESS_MEMORY = 130 * 1024 * 1024  # bytes: a warmed-up server process (measured)
MEMORY_PER_BODY_BYTE = 40  # a computation's memory over its request's size
OWN_THREADS = 3  # a process's threads beside its pool: the event loop's, the logs'… (measured)
_UNLIMITED = 1 << 60  # cgroup v1 says « no limit » with a number near 2⁶³


def usable_cores() -> int:
    """The cores this process may run on (a container or `taskset` may give fewer than the machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # Windows, macOS
        return os.cpu_count() or 1


def max_processes() -> int:
    """`--processus` at most: two per core. Past one per core they only share the cores (the rules
    compute, they do not wait), each with its own memory; two let the service file's
    `--processus 2` start on a one-core machine."""
    return 2 * usable_cores()


def cgroup_limit(v2_file: str, v1_controller: str, v1_file: str, proc: Path = Path("/proc/self/cgroup"),
                 root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The tightest value of a control group file along this process's path, None if unlimited or
    unknown (no cgroup: Windows, macOS, a system without them)."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    places = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "" and path:
            places.append((root, path, v2_file))
        elif v1_controller in controllers.split(","):
            places.append((root / v1_controller, path, v1_file))
    found = []
    for base, path, name in places:
        folder = Path(path.strip() or "/")
        for level in (folder, *folder.parents):
            try:
                raw = (base / level.relative_to("/") / name).read_text().strip()
            except (OSError, ValueError):
                continue
            if raw.isdigit() and int(raw) < _UNLIMITED:
                found.append(int(raw))
    return min(found) if found else None


def _go(size: float) -> str:
    return fmt_number(size / (1 << 30), 1).removesuffix(",0") + " Go"


def processes_refusal(workers: int, threads: int, max_body: int, memory_limit: int | None,
                      task_limit: int | None) -> str | None:
    """Why `workers` processes of `threads` threads cannot run here, in French, or None."""
    if workers > max_processes():
        cores = usable_cores()
        return (f"--processus {workers} : au plus {max_processes()} sur cette machine (deux par cœur, "
                f"{cores} cœur{'s' if cores > 1 else ''} ici). Au-delà, les processus se partagent les "
                "cœurs sans servir plus vite et chacun occupe sa propre mémoire ; un par cœur suffit.")
    if workers == 1:  # the least there is: its own requests are bounded by --max-corps alone
        return None
    each = PROCESS_MEMORY + MEMORY_PER_BODY_BYTE * max_body
    if memory_limit is not None and workers * each > memory_limit:
        return (f"--processus {workers} : jusqu'à {_go(workers * each)} de mémoire en pleine charge "
                f"({_go(each)} par processus : environ 0,13 Go, plus 40 fois --max-corps pour les calculs "
                f"en cours), au-delà des {_go(memory_limit)} permis à ce service (MemoryMax du service, "
                "ou limite du conteneur). Réduisez --processus ou --max-corps, ou relevez la limite.")
    tasks = workers * (threads + OWN_THREADS) + 2  # + uvicorn's supervisor and its helper
    if task_limit is not None and tasks > task_limit:
        return (f"--processus {workers} avec {threads} fils de calcul chacun : environ {tasks} fils "
                f"d'exécution, au-delà des {task_limit} permis à ce service (TasksMax du service, ou "
                "--pids-limit du conteneur). Réduisez --processus ou --fils, ou relevez la limite.")
    return None


def limits() -> tuple[int | None, int | None]:
    """(memory in bytes, tasks) this process's control group allows, None where unlimited."""
    return (cgroup_limit("memory.max", "memory", "memory.limit_in_bytes"),
            cgroup_limit("pids.max", "pids", "pids.max"))
